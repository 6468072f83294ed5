/* bridge/maildrop/login.c — the device login for every front end
 * (bridge/maildrop/login.h; SPEC §2, §6, §13). */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "bridge/base/clock.h"
#include "bridge/base/log.h"
#include "bridge/base/stats.h"
#include "bridge/base/username.h"
#include "bridge/guard/gate.h"
#include "bridge/guard/throttle.h"
#include "bridge/maildrop/credential.h"
#include "bridge/maildrop/internal.h"
#include "bridge/maildrop/login.h"
#include "bridge/maildrop/settings.h"
#include "bridge/managed/login.h"

#define TEXT_BAD_LOGIN "Invalid user name or password."
#define TEXT_TEMP      "Mail server unavailable, try again later"

static void set_text(struct maildrop_login *l, const char *a, const char *b)
{
	maildrop_text(l->text, sizeof(l->text), a, b);
}

static void set_detail(struct maildrop_login *l, const char *detail)
{
	maildrop_text(l->detail, sizeof(l->detail), detail, NULL);
}

/* A failed login: counted for the slowdown of its address and account
 * (SPEC §6, §13). */
static enum maildrop_login_status auth_failed(struct maildrop_login *l, const char *text,
    const char *detail)
{
	if (l->ctx->throttle != NULL)
		l->delay_ms = guard_throttle_failure(l->ctx->throttle, l->remote_addr, l->account);
	set_text(l, NULL, text);
	set_detail(l, detail);
	return MAILDROP_LOGIN_AUTH;
}

void maildrop_failure_text(char *dst, size_t cap, bool perm, const char *detail)
{
	maildrop_text(dst, cap, perm ? "Mailbox not available: " : TEXT_TEMP ": ", detail);
}

static enum maildrop_login_status temp_failed(struct maildrop_login *l,
    enum maildrop_login_status st, const char *detail)
{
	set_detail(l, detail);
	maildrop_failure_text(l->text, sizeof(l->text), st == MAILDROP_LOGIN_PERM, detail);
	return st;
}

static enum maildrop_login_status from_md(enum pop3_md_status st)
{
	switch (st) {
	case POP3_MD_OK:   return MAILDROP_LOGIN_OK;
	case POP3_MD_AUTH: return MAILDROP_LOGIN_AUTH;
	case POP3_MD_PERM: return MAILDROP_LOGIN_PERM;
	default:           return MAILDROP_LOGIN_TEMP;
	}
}

static enum maildrop_login_status db_failed(struct maildrop_login *l, const char *what)
{
	char d[BRIDGE_DETAIL_MAX], w[64];

	snprintf(w, sizeof(w), "state database: %s: ", what);
	maildrop_text(d, sizeof(d), w, l->db ? state_errmsg(l->db) : "not open");
	/* The log line has the detail; the client learns nothing of the state
	 * file (its path, SQLite's words). */
	set_detail(l, d);
	set_text(l, NULL, TEXT_TEMP ".");
	return MAILDROP_LOGIN_TEMP;
}

static enum maildrop_login_status open_db(struct maildrop_login *l)
{
	char err[BRIDGE_DETAIL_MAX];

	if (l->db != NULL)
		return MAILDROP_LOGIN_OK;
	l->db = state_open(l->opt->state, err, sizeof(err));
	if (l->db == NULL)
		return temp_failed(l, MAILDROP_LOGIN_TEMP, err);
	return MAILDROP_LOGIN_OK;
}

/* LOGIN-DELAY (SPEC §14, RFC 2449), for the front ends that ask for it
 * (POP3): a device that logged in successfully less than its login delay
 * ago is refused — after a good password (never confirmed to a guesser)
 * and before this login is recorded, so an early poll does not push the
 * next one further out. Per device: the account's other devices have their
 * own last login. */
static enum maildrop_login_status login_delay(struct maildrop_login *l,
    const struct state_device *d, int64_t now)
{
	struct maildrop_settings s;

	if (!l->check_login_delay)
		return MAILDROP_LOGIN_OK;
	maildrop_settings_get(l->opt, d->account, d->name, &d->settings, &s);
	int64_t delay = s.eff.login_delay;
	if (delay == 0 || d->pop3_login == 0 || d->pop3_login > now ||
	    now - d->pop3_login >= delay)
		return MAILDROP_LOGIN_OK;
	char detail[BRIDGE_DETAIL_MAX], text[sizeof(l->text)];
	snprintf(detail, sizeof(detail), "login delay: last login %llds ago, login-delay %llds",
	    (long long)(now - d->pop3_login), (long long)delay);
	set_detail(l, detail);
	snprintf(text, sizeof(text), "This device may log in once every %lld seconds.",
	    (long long)delay);
	set_text(l, NULL, text);
	base_stats_login_delay_refused();
	return MAILDROP_LOGIN_DELAY;
}

/* An account exported to another node (SPEC §14, `popbridge account
 * export`): refused after its credentials were checked (only a good login
 * learns it), a temporary failure (route sends the device to the new node
 * once the move is finished), not a failed login. Every front end answers
 * with this text: POP3 "-ERR [SYS/TEMP] account moved". */
static enum maildrop_login_status moved_away(struct maildrop_login *l, int64_t moved)
{
	char detail[BRIDGE_DETAIL_MAX], when[32] = "?";
	struct tm tm;
	time_t t = (time_t)moved;

	if (gmtime_r(&t, &tm) != NULL)
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(detail, sizeof(detail), "account moved to another node (exported %s); "
	    "'popbridge account import' of its file brings it back here", when);
	set_detail(l, detail);
	set_text(l, NULL, MAILDROP_LOGIN_MOVED_TEXT);
	return MAILDROP_LOGIN_TEMP;
}

/* Passthrough: the client's password is the upstream password. */
static enum maildrop_login_status login_passthrough(struct maildrop_login *l,
    const char *password)
{
	char detail[BRIDGE_DETAIL_MAX];
	enum maildrop_login_status st = from_md(maildrop_upstream_login(l->up, l->opt,
	    l->account, password, detail, sizeof(detail)));

	if (st == MAILDROP_LOGIN_AUTH)
		return auth_failed(l, TEXT_BAD_LOGIN, detail);
	if (st != MAILDROP_LOGIN_OK)
		return temp_failed(l, st, detail);
	if (l->cred != NULL) {
		memset(l->cred, 0, sizeof(*l->cred));
		snprintf(l->cred->account, sizeof(l->cred->account), "%s", l->account);
		snprintf(l->cred->user, sizeof(l->cred->user), "%s", l->account);
		snprintf(l->cred->password, sizeof(l->cred->password), "%s", password);
	}
	return MAILDROP_LOGIN_OK;
}

/* Managed: the device password names the device; the stored upstream
 * credentials log in. Their refusal is the administrator's problem. */
static enum maildrop_login_status login_managed(struct maildrop_login *l,
    const char *password, int has_device)
{
	struct managed_login ml;
	char err[BRIDGE_DETAIL_MAX];
	enum maildrop_login_status st;

	if (!l->ctx->has_managed_key)
		return temp_failed(l, MAILDROP_LOGIN_PERM, "managed mode without a key");
	st = open_db(l);
	if (st != MAILDROP_LOGIN_OK)
		return st;
	memset(&ml, 0, sizeof(ml));
	/* At most as many password checks at once as CPUs (SPEC §13): each
	 * costs max(D, 4) scrypt runs of 32 MiB. */
	if (l->ctx->hash_gate != NULL &&
	    guard_gate_enter(l->ctx->hash_gate, l->deadline_ms) != 0)
		return temp_failed(l, MAILDROP_LOGIN_TEMP,
		    "password checks busy until the login deadline");
	int rc = managed_authenticate(l->db, l->ctx->managed_key, l->account, password, &ml,
	    err, sizeof(err));
	if (l->ctx->hash_gate != NULL)
		guard_gate_leave(l->ctx->hash_gate);
	if (rc == MANAGED_AUTH || (rc == MANAGED_OK && has_device &&
	    strcasecmp(l->device, ml.device) != 0)) {
		managed_login_clear(&ml);
		return auth_failed(l, TEXT_BAD_LOGIN,
		    rc == MANAGED_AUTH ? err : "password of another device");
	}
	if (rc != MANAGED_OK) {
		st = ml.error_temporary ? MAILDROP_LOGIN_TEMP : MAILDROP_LOGIN_PERM;
		managed_login_clear(&ml);
		return temp_failed(l, st, err);
	}
	if (ml.moved != 0) {
		int64_t moved = ml.moved;
		managed_login_clear(&ml);
		return moved_away(l, moved);
	}
	l->account_id = ml.account_id;
	l->device_id = ml.device_id;
	snprintf(l->device, sizeof(l->device), "%s", ml.device);
	/* The device is known from its password: an early poll is refused
	 * before any upstream login (record checks again, as for passthrough). */
	struct state_device d;
	if (l->check_login_delay &&
	    state_device_get_by_id(l->db, l->device_id, &d) == STATE_OK &&
	    (st = login_delay(l, &d, (int64_t)time(NULL))) != MAILDROP_LOGIN_OK) {
		managed_login_clear(&ml);
		return st;
	}
	char detail[BRIDGE_DETAIL_MAX];
	struct managed_key key;
	bool oauth2 = ml.oauth2;
	memcpy(key.bytes, l->ctx->managed_key, sizeof(key.bytes));
	st = from_md(maildrop_upstream_login_stored(l->up, l->opt, l->db, &key, ml.account_id,
	    ml.account, ml.upstream_user, oauth2 ? NULL : ml.upstream_password, detail,
	    sizeof(detail)));
	managed_key_clear(&key);
	if (st == MAILDROP_LOGIN_OK && l->cred != NULL) {
		struct maildrop_credential *c = l->cred;
		c->managed = true;
		c->oauth2 = oauth2;
		c->account_id = ml.account_id;
		snprintf(c->account, sizeof(c->account), "%s", ml.account);
		snprintf(c->user, sizeof(c->user), "%s", ml.upstream_user);
		snprintf(c->password, sizeof(c->password), "%s", oauth2 ? "" : ml.upstream_password);
	}
	managed_login_clear(&ml);
	if (oauth2 && st == MAILDROP_LOGIN_PERM) {
		/* logged with the command that mends it (credential.h) */
		maildrop_text(err, sizeof(err), "OAuth2 grant: ", detail);
		set_detail(l, err);
		set_text(l, NULL, "Mailbox not available: the administrator must renew its credentials");
		return MAILDROP_LOGIN_PERM;
	}
	if (st == MAILDROP_LOGIN_AUTH) {
		base_log(PB_LOG_ERROR, "managed-upstream-refused",
		    "upstream refused the stored credentials of account %s (%s); "
		    "set them again with: popbridge account set-password", l->account, detail);
		maildrop_text(err, sizeof(err), "upstream refused the stored credentials: ", detail);
		set_detail(l, err);
		set_text(l, NULL, "Mailbox not available: the administrator must renew its credentials");
		return MAILDROP_LOGIN_PERM;
	}
	if (st != MAILDROP_LOGIN_OK)
		return temp_failed(l, st, detail);
	return MAILDROP_LOGIN_OK;
}

/* Before any credential check: wait out the delay that earlier failures of
 * this address and account earned (SPEC §13), or refuse without a check
 * when the queue is longer than the longest delay. */
static enum maildrop_login_status admit(struct maildrop_login *l)
{
	if (l->ctx->throttle == NULL)
		return MAILDROP_LOGIN_OK;
	unsigned wait = guard_throttle_admit(l->ctx->throttle, l->remote_addr, l->account);
	if (wait > GUARD_THROTTLE_MAX_MS) {
		set_text(l, NULL, TEXT_BAD_LOGIN);
		set_detail(l, "too many failed logins: refused without a check");
		l->delay_ms = GUARD_THROTTLE_MAX_MS;
		return MAILDROP_LOGIN_AUTH;
	}
	uint64_t now = base_clock_ms(NULL);
	if (l->deadline_ms != 0 && now + wait > l->deadline_ms) {
		/* The check would start after the login deadline: none is made
		 * (bridge/guard/throttle.h). The wait runs out the connection's
		 * time, so asking again at once gains nothing. */
		guard_throttle_sleep(l->ctx->throttle,
		    l->deadline_ms > now ? (unsigned)(l->deadline_ms - now) : 0);
		return temp_failed(l, MAILDROP_LOGIN_TEMP,
		    "failed-login delay runs past the login deadline");
	}
	guard_throttle_sleep(l->ctx->throttle, wait);
	return MAILDROP_LOGIN_OK;
}

void maildrop_login_init(struct maildrop_login *l, struct maildrop_ctx *ctx,
    const struct config_options *opt, const char *protocol, const char *remote_addr,
    unsigned remote_port, const char *tls_version, uint64_t deadline_ms,
    struct maildrop_upstream *up)
{
	memset(l, 0, sizeof(*l));
	l->ctx = ctx;
	l->opt = opt ? opt : ctx->opt;
	l->protocol = protocol;
	l->remote_addr = remote_addr;
	l->remote_port = remote_port;
	l->tls_version = tls_version;
	l->deadline_ms = deadline_ms;
	l->up = up;
}

enum maildrop_login_status maildrop_login_authenticate(struct maildrop_login *l,
    const char *user, const char *password)
{
	const struct config_options *opt = l->opt;
	char err[BRIDGE_DETAIL_MAX];
	int has_device = 0;
	enum maildrop_login_status st;

	l->account[0] = l->device[0] = l->text[0] = l->detail[0] = '\0';
	l->identified = false;
	l->delay_ms = 0;
	if (base_username_split(user, opt->device_separator, l->account, l->device,
	    &has_device, err, sizeof(err)) != 0) {
		char text[sizeof(l->text)];
		l->account[0] = l->device[0] = '\0';
		maildrop_text(text, sizeof(text), "Invalid user name: ", err);
		return auth_failed(l, text, err);
	}
	if (opt->auth == PB_AUTH_MANAGED && !has_device)
		l->device[0] = '\0';
	st = admit(l);
	if (st != MAILDROP_LOGIN_OK)
		return st;
	if (opt->upstream_forward_client_ip) {
		l->up->forward_addr = l->remote_addr;
		l->up->forward_port = l->remote_port;
	}
	if (opt->auth == PB_AUTH_MANAGED)
		st = login_managed(l, password, has_device);
	else
		st = login_passthrough(l, password);
	if (st != MAILDROP_LOGIN_OK && st != MAILDROP_LOGIN_DELAY)
		return st;
	/* a good password (an early poll's too) */
	if (l->ctx->throttle != NULL)
		guard_throttle_success(l->ctx->throttle, l->remote_addr, l->account);
	l->identified = true;
	return st;
}

/* Account and device rows (passthrough creates them at the first good
 * login; managed ones exist). */
static enum maildrop_login_status load_device(struct maildrop_login *l, int64_t now)
{
	enum maildrop_login_status st;

	if (l->opt->auth == PB_AUTH_MANAGED) {
		if (state_device_get_by_id(l->db, l->device_id, &l->dev) != STATE_OK)
			return db_failed(l, "device");
		return MAILDROP_LOGIN_OK;
	}
	st = open_db(l);
	if (st != MAILDROP_LOGIN_OK)
		return st;
	struct state_account a;
	struct maildrop_settings s;
	int rc = state_account_ensure(l->db, l->account, now, &a);
	if (rc != STATE_OK)
		return db_failed(l, "account");
	if (a.moved != 0)
		return moved_away(l, a.moved);
	maildrop_settings_get(l->opt, l->account, l->device, NULL, &s);
	rc = state_device_ensure(l->db, a.id, l->device, s.cfg.folder, now,
	    l->opt->max_devices_per_account, &l->dev, NULL);
	if (rc == STATE_LIMIT) {
		/* Good credentials, so not a failed login for the delay. */
		set_detail(l, "max-devices-per-account reached");
		set_text(l, NULL, "Too many devices for this account");
		return MAILDROP_LOGIN_AUTH;
	}
	if (rc != STATE_OK)
		return db_failed(l, "device");
	l->account_id = a.id;
	l->device_id = l->dev.id;
	return MAILDROP_LOGIN_OK;
}

enum maildrop_login_status maildrop_login_record(struct maildrop_login *l, int64_t now)
{
	enum maildrop_login_status st = load_device(l, now);

	if (st != MAILDROP_LOGIN_OK)
		return st;
	if (l->dev.revoked) {
		set_detail(l, "device revoked");
		set_text(l, NULL, "This device has been revoked.");
		return MAILDROP_LOGIN_AUTH;
	}
	st = login_delay(l, &l->dev, now);
	if (st != MAILDROP_LOGIN_OK)
		return st;
	if (state_device_login(l->db, l->device_id, now, l->remote_addr, l->protocol,
	    l->tls_version ? l->tls_version : "") != STATE_OK)
		return db_failed(l, "login record");
	return MAILDROP_LOGIN_OK;
}

enum maildrop_login_status maildrop_device_login(struct maildrop_login *l, const char *user,
    const char *password)
{
	enum maildrop_login_status st = maildrop_login_authenticate(l, user, password);

	if (st != MAILDROP_LOGIN_OK)
		return st;
	return maildrop_login_record(l, (int64_t)time(NULL));
}

void maildrop_login_end(struct maildrop_login *l)
{
	state_close(l->db);
	l->db = NULL;
}
