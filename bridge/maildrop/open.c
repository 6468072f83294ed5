/* bridge/maildrop/open.c — open(): authenticate, lock the device, finish
 * the account's pending commits, sync the folder, build the device's view
 * (SPEC §2, §3, §5). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#include "bridge/base/log.h"
#include "bridge/base/username.h"
#include "bridge/guard/gate.h"
#include "bridge/guard/throttle.h"
#include "bridge/maildrop/commit.h"
#include "bridge/maildrop/internal.h"
#include "bridge/maildrop/settings.h"
#include "bridge/maildrop/sync.h"
#include "bridge/managed/login.h"

#define TEXT_BAD_LOGIN "Invalid user name or password."
#define TEXT_TEMP      "Mail server unavailable, try again later"

static void set_text(struct pop3_md_reply *reply, const char *a, const char *b)
{
	maildrop_text(reply->text, sizeof(reply->text), a, b);
}

static void set_detail(struct maildrop_conn *conn, const char *detail)
{
	maildrop_text(conn->detail, sizeof(conn->detail), detail, NULL);
}

/* A failed login: counted for the slowdown of its address and account
 * (SPEC §6, §13). */
static enum pop3_md_status auth_failed(struct maildrop_conn *conn, struct pop3_md_reply *reply,
    const char *text, const char *detail)
{
	if (conn->ctx->throttle != NULL)
		reply->delay_ms = guard_throttle_failure(conn->ctx->throttle, conn->remote_addr,
		    conn->account);
	set_text(reply, NULL, text);
	set_detail(conn, detail);
	return POP3_MD_AUTH;
}

static enum pop3_md_status temp_failed(struct maildrop_conn *conn, struct pop3_md_reply *reply,
    enum pop3_md_status st, const char *detail)
{
	set_detail(conn, detail);
	if (st == POP3_MD_PERM)
		set_text(reply, "Mailbox not available: ", detail);
	else
		set_text(reply, TEXT_TEMP ": ", detail);
	return st;
}

/* Effective settings (bridge/maildrop/settings.h): the configuration's
 * view of the device, then its stored overrides. */
static void effective_settings(struct maildrop_md *md, const struct state_device *d)
{
	struct maildrop_settings s;

	maildrop_settings_get(md->opt, d->account, d->name, &d->settings, &s);
	md->cfgdev = s.cfg;
	md->eff = s.eff;
	maildrop_settings_view_defaults(&md->cfgdev, &md->def);
}

static enum pop3_md_status db_failed(struct maildrop_md *md, struct pop3_md_reply *reply,
    const char *what)
{
	char d[BRIDGE_DETAIL_MAX], w[64];

	snprintf(w, sizeof(w), "state database: %s: ", what);
	maildrop_text(d, sizeof(d), w, md->db ? state_errmsg(md->db) : "not open");
	/* The log line has the detail; the client learns nothing of the state
	 * file (its path, SQLite's words). */
	set_detail(md->conn, d);
	set_text(reply, NULL, TEXT_TEMP ".");
	return POP3_MD_TEMP;
}

static enum pop3_md_status open_db(struct maildrop_md *md, struct pop3_md_reply *reply)
{
	char err[BRIDGE_DETAIL_MAX];

	md->db = state_open(md->opt->state, err, sizeof(err));
	if (md->db == NULL)
		return temp_failed(md->conn, reply, POP3_MD_TEMP, err);
	return POP3_MD_OK;
}

/* Passthrough: the POP3 password is the upstream password. */
static enum pop3_md_status login_passthrough(struct maildrop_md *md,
    const struct pop3_credentials *cred, const char *account,
    struct pop3_md_reply *reply)
{
	char detail[BRIDGE_DETAIL_MAX];
	enum pop3_md_status st = maildrop_upstream_login(&md->up, md->opt, account,
	    cred->password, detail, sizeof(detail));

	if (st == POP3_MD_AUTH)
		return auth_failed(md->conn, reply, TEXT_BAD_LOGIN, detail);
	if (st != POP3_MD_OK)
		return temp_failed(md->conn, reply, st, detail);
	return POP3_MD_OK;
}

/* Managed: the device password names the device; the stored upstream
 * credentials log in. Their refusal is the administrator's problem. */
static enum pop3_md_status login_managed(struct maildrop_md *md,
    const struct pop3_credentials *cred, const char *account, char *device,
    int has_device, struct pop3_md_reply *reply)
{
	struct maildrop_conn *conn = md->conn;
	struct managed_login ml;
	char err[BRIDGE_DETAIL_MAX];
	enum pop3_md_status st;

	if (!conn->ctx->has_managed_key)
		return temp_failed(conn, reply, POP3_MD_PERM, "managed mode without a key");
	st = open_db(md, reply);
	if (st != POP3_MD_OK)
		return st;
	memset(&ml, 0, sizeof(ml));
	/* At most as many password checks at once as CPUs (SPEC §13): each
	 * costs max(D, 4) scrypt runs of 32 MiB. */
	if (conn->ctx->hash_gate != NULL &&
	    guard_gate_enter(conn->ctx->hash_gate, conn->login_deadline_ms) != 0)
		return temp_failed(conn, reply, POP3_MD_TEMP, "password checks busy until the login deadline");
	int rc = managed_authenticate(md->db, conn->ctx->managed_key, account,
	    cred->password, &ml, err, sizeof(err));
	if (conn->ctx->hash_gate != NULL)
		guard_gate_leave(conn->ctx->hash_gate);
	if (rc == MANAGED_AUTH || (rc == MANAGED_OK && has_device &&
	    strcasecmp(device, ml.device) != 0)) {
		managed_login_clear(&ml);
		return auth_failed(conn, reply, TEXT_BAD_LOGIN,
		    rc == MANAGED_AUTH ? err : "password of another device");
	}
	if (rc != MANAGED_OK) {
		st = ml.error_temporary ? POP3_MD_TEMP : POP3_MD_PERM;
		managed_login_clear(&ml);
		return temp_failed(conn, reply, st, err);
	}
	md->account_id = ml.account_id;
	md->device_id = ml.device_id;
	snprintf(device, STATE_DEVICE_MAX + 1, "%s", ml.device);
	char detail[BRIDGE_DETAIL_MAX];
	st = maildrop_upstream_login(&md->up, md->opt, ml.upstream_user, ml.upstream_password,
	    detail, sizeof(detail));
	managed_login_clear(&ml);
	if (st == POP3_MD_AUTH) {
		base_log(PB_LOG_ERROR, "managed-upstream-refused",
		    "upstream refused the stored credentials of account %s (%s); "
		    "set them again with: popbridge account set-password", account, detail);
		maildrop_text(err, sizeof(err), "upstream refused the stored credentials: ", detail);
		set_detail(conn, err);
		set_text(reply, NULL, "Mailbox not available: the administrator must renew its credentials");
		return POP3_MD_PERM;
	}
	if (st != POP3_MD_OK)
		return temp_failed(conn, reply, st, detail);
	return POP3_MD_OK;
}

/* Account and device rows (passthrough creates them at the first good
 * login; managed ones exist). */
static enum pop3_md_status load_device(struct maildrop_md *md, const char *account,
    const char *device, struct state_device *d, struct pop3_md_reply *reply, int64_t now)
{
	enum pop3_md_status st;

	if (md->opt->auth == PB_AUTH_MANAGED) {
		if (state_device_get_by_id(md->db, md->device_id, d) != STATE_OK)
			return db_failed(md, reply, "device");
		return POP3_MD_OK;
	}
	st = open_db(md, reply);
	if (st != POP3_MD_OK)
		return st;
	struct state_account a;
	struct maildrop_settings s;
	int rc = state_account_ensure(md->db, account, now, &a);
	if (rc != STATE_OK)
		return db_failed(md, reply, "account");
	maildrop_settings_get(md->opt, account, device, NULL, &s);
	rc = state_device_ensure(md->db, a.id, device, s.cfg.folder, now,
	    md->opt->max_devices_per_account, d, NULL);
	if (rc == STATE_LIMIT) {
		/* Good credentials, so not a failed login for the delay. */
		set_detail(md->conn, "max-devices-per-account reached");
		set_text(reply, NULL, "Too many devices for this account");
		return POP3_MD_AUTH;
	}
	if (rc != STATE_OK)
		return db_failed(md, reply, "device");
	md->account_id = a.id;
	md->device_id = d->id;
	return POP3_MD_OK;
}

/* Before any credential check: wait out the delay that earlier failures of
 * this address and account earned (SPEC §13), or refuse without a check
 * when the queue is longer than the longest delay. */
static enum pop3_md_status admit(struct maildrop_conn *conn, struct pop3_md_reply *reply)
{
	if (conn->ctx->throttle == NULL)
		return POP3_MD_OK;
	unsigned wait = guard_throttle_admit(conn->ctx->throttle, conn->remote_addr, conn->account);
	if (wait > GUARD_THROTTLE_MAX_MS) {
		set_text(reply, NULL, TEXT_BAD_LOGIN);
		set_detail(conn, "too many failed logins: refused without a check");
		reply->delay_ms = GUARD_THROTTLE_MAX_MS;
		return POP3_MD_AUTH;
	}
	guard_throttle_sleep(conn->ctx->throttle, wait);
	return POP3_MD_OK;
}

enum pop3_md_status maildrop_md_open(void *backend, const struct pop3_credentials *cred,
    void **mdp, struct pop3_md_reply *reply)
{
	struct maildrop_conn *conn = backend;
	const struct config_options *opt = conn->opt ? conn->opt : conn->ctx->opt;
	char account[STATE_ACCOUNT_MAX + 1], device[STATE_DEVICE_MAX + 1];
	char err[BRIDGE_DETAIL_MAX];
	int has_device = 0;
	int64_t now = (int64_t)time(NULL);
	enum pop3_md_status st;
	struct state_device d;

	*mdp = NULL;
	conn->account[0] = conn->device[0] = conn->detail[0] = conn->upstream_tls[0] = '\0';
	conn->identified = false;
	snprintf(conn->tls_version, sizeof(conn->tls_version), "%s",
	    cred->tls_version ? cred->tls_version : "");
	if (base_username_split(cred->user, opt->device_separator, account, device,
	    &has_device, err, sizeof(err)) != 0) {
		char text[sizeof(reply->text)];
		maildrop_text(text, sizeof(text), "Invalid user name: ", err);
		return auth_failed(conn, reply, text, err);
	}
	maildrop_text(conn->account, sizeof(conn->account), account, NULL);
	if (opt->auth != PB_AUTH_MANAGED || has_device)
		snprintf(conn->device, sizeof(conn->device), "%s", device);
	st = admit(conn, reply);
	if (st != POP3_MD_OK)
		return st;

	struct maildrop_md *md = calloc(1, sizeof(*md));
	if (md == NULL)
		return temp_failed(conn, reply, POP3_MD_TEMP, "out of memory");
	md->conn = conn;
	md->opt = opt;
	if (opt->upstream_forward_client_ip) {
		md->up.forward_addr = conn->remote_addr;
		md->up.forward_port = conn->remote_port;
	}
	md->up.pool = conn->ctx->pool;
	md->up.pool_deadline_ms = conn->login_deadline_ms;

	if (opt->auth == PB_AUTH_MANAGED)
		st = login_managed(md, cred, account, device, has_device, reply);
	else
		st = login_passthrough(md, cred, account, reply);
	if (st != POP3_MD_OK)
		goto fail;
	snprintf(conn->device, sizeof(conn->device), "%s", device);
	if (conn->ctx->throttle != NULL)
		guard_throttle_success(conn->ctx->throttle, conn->remote_addr, conn->account);
	conn->identified = true;
	const char *utls = imap_tls_version(md->up.imap);
	snprintf(conn->upstream_tls, sizeof(conn->upstream_tls), "%s", utls ? utls : "");

	/* Only a good login may learn whether the device is busy. */
	if (conn->ctx->devlocks != NULL) {
		enum maildrop_devlock_result lr = maildrop_devlock_acquire(conn->ctx->devlocks, account,
		    device, &md->lock);
		if (lr == PB_DEVLOCK_IN_USE) {
			set_detail(conn, "device already in a session");
			set_text(reply, NULL, "This device is already in a session.");
			st = POP3_MD_IN_USE;
			goto fail;
		}
		if (lr != PB_DEVLOCK_OK) {
			st = temp_failed(conn, reply, POP3_MD_TEMP, "device lock: out of memory");
			goto fail;
		}
	}

	st = load_device(md, account, device, &d, reply, now);
	if (st != POP3_MD_OK)
		goto fail;
	if (d.revoked) {
		set_detail(conn, "device revoked");
		set_text(reply, NULL, "This device has been revoked.");
		st = POP3_MD_AUTH;
		goto fail;
	}
	effective_settings(md, &d);
	if (state_device_login(md->db, md->device_id, now, conn->remote_addr, "pop3",
	    conn->tls_version) != STATE_OK) {
		st = db_failed(md, reply, "login record");
		goto fail;
	}

	/* Crash recovery (SPEC §5): the account's unfinished commits first. */
	struct maildrop_commit_env env = {
		.up = &md->up, .db = md->db, .opt = opt, .crash_at = BRIDGE_CRASH_NONE,
		.now = now, .devlocks = conn->ctx->devlocks, .device_id = md->device_id,
	};
	int left = maildrop_commit_replay(&env, md->account_id, err, sizeof(err));
	if (left != 0)
		base_log(PB_LOG_WARN, "journal", "account %s: %d commit(s) still pending: %s",
		    account, left, err);

	struct state_mailbox mb;
	st = maildrop_sync_folder(&md->up, md->db, md->account_id, md->eff.folder,
	    opt->dele_keyword, now, &mb, err, sizeof(err));
	if (st != POP3_MD_OK) {
		st = temp_failed(conn, reply, st, err);
		goto fail;
	}
	md->mailbox_id = mb.id;
	if (state_device_enrol(md->db, md->device_id, mb.id, mb.uidvalidity, mb.uidnext,
	    now) != STATE_OK) {
		st = db_failed(md, reply, "enrolment");
		goto fail;
	}
	if (state_view_build(md->db, md->device_id, &md->def, now, &md->view, &md->n) !=
	    STATE_OK) {
		st = db_failed(md, reply, "view");
		goto fail;
	}
	md->retr_now = calloc(md->n ? md->n : 1, sizeof(bool));
	if (md->retr_now == NULL) {
		st = temp_failed(conn, reply, POP3_MD_TEMP, "out of memory");
		goto fail;
	}
	conn->opened = true;
	if (conn->logged_in != NULL)
		conn->logged_in(conn->logged_in_arg);
	*mdp = md;
	return POP3_MD_OK;
fail:
	maildrop_md_free(md);
	return st;
}
