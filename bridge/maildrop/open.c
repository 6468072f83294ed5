/* bridge/maildrop/open.c — open(): authenticate, lock the device, finish
 * the account's pending commits, sync the folder, build the device's view
 * (SPEC §2, §3, §5). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#include "bridge/maildrop/commit.h"
#include "bridge/base/log.h"
#include "bridge/maildrop/internal.h"
#include "bridge/managed/login.h"
#include "bridge/maildrop/sync.h"
#include "bridge/maildrop/throttle.h"
#include "bridge/base/username.h"

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

/* A failed login: counted for the address's slowdown (SPEC §6). */
static enum pop3_md_status auth_failed(struct maildrop_conn *conn, struct pop3_md_reply *reply,
    const char *text, const char *detail)
{
	if (conn->ctx->throttle != NULL)
		reply->delay_ms = maildrop_throttle_failure(conn->ctx->throttle, conn->remote_addr);
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

static int word_index(const char *word, const char *(*name)(int), int count)
{
	for (int v = 0; v < count; v++)
		if (strcmp(word, name(v)) == 0)
			return v;
	return -1;
}

static const char *offer_name(int v) { return config_offer_name((enum config_offer)v); }
static const char *seen_name(int v) { return config_seen_on_name((enum config_seen_on)v); }
static const char *dele_name(int v) { return config_dele_name((enum config_dele)v); }

/* Effective settings: the configuration (global + device section), then
 * the overrides stored for the device (popbridge device add/set), which are
 * the most specific source. */
static void effective_settings(struct maildrop_md *md, const struct state_device *d)
{
	const struct state_device_settings *s = &d->settings;
	int v;

	config_options_device(md->opt, d->account, d->name, &md->cfgdev);
	md->def.folder = md->cfgdev.folder;
	md->def.offer = config_offer_name(md->cfgdev.offer);
	md->def.window = md->cfgdev.window;
	md->eff = md->cfgdev;
	if (s->folder[0] && strlen(s->folder) < sizeof(md->eff.folder))
		strcpy(md->eff.folder, s->folder);
	if (s->offer[0] && (v = word_index(s->offer, offer_name, 3)) >= 0)
		md->eff.offer = (enum config_offer)v;
	if (s->window >= 0 && s->window <= UINT32_MAX)
		md->eff.window = (uint32_t)s->window;
	if (s->seen_on[0] && (v = word_index(s->seen_on, seen_name, 3)) >= 0)
		md->eff.seen_on = (enum config_seen_on)v;
	if (s->dele[0] && (v = word_index(s->dele, dele_name, 6)) >= 0)
		md->eff.dele = (enum config_dele)v;
}

static enum pop3_md_status db_failed(struct maildrop_md *md, struct pop3_md_reply *reply,
    const char *what)
{
	char d[BRIDGE_DETAIL_MAX], w[64];

	snprintf(w, sizeof(w), "state database: %s: ", what);
	maildrop_text(d, sizeof(d), w, md->db ? state_errmsg(md->db) : "not open");
	return temp_failed(md->conn, reply, POP3_MD_TEMP, d);
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
	int rc = managed_authenticate(md->db, conn->ctx->managed_key, account,
	    cred->password, &ml, err, sizeof(err));
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
	snprintf(device, BRIDGE_USER_DEVICE_MAX + 1, "%s", ml.device);
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
	struct config_device_settings cfg;
	int rc = state_account_ensure(md->db, account, now, &a);
	if (rc != STATE_OK)
		return db_failed(md, reply, "account");
	config_options_device(md->opt, account, device, &cfg);
	rc = state_device_ensure(md->db, a.id, device, cfg.folder, now, d, NULL);
	if (rc != STATE_OK)
		return db_failed(md, reply, "device");
	md->account_id = a.id;
	md->device_id = d->id;
	return POP3_MD_OK;
}

enum pop3_md_status maildrop_md_open(void *backend, const struct pop3_credentials *cred,
    void **mdp, struct pop3_md_reply *reply)
{
	struct maildrop_conn *conn = backend;
	const struct config_options *opt = conn->opt ? conn->opt : conn->ctx->opt;
	char account[BRIDGE_USER_ACCOUNT_MAX + 1], device[BRIDGE_USER_DEVICE_MAX + 1];
	char err[BRIDGE_DETAIL_MAX];
	int has_device = 0;
	int64_t now = (int64_t)time(NULL);
	enum pop3_md_status st;
	struct state_device d;

	*mdp = NULL;
	conn->account[0] = conn->device[0] = conn->detail[0] = conn->upstream_tls[0] = '\0';
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

	struct maildrop_md *md = calloc(1, sizeof(*md));
	if (md == NULL)
		return temp_failed(conn, reply, POP3_MD_TEMP, "out of memory");
	md->conn = conn;
	md->opt = opt;

	if (opt->auth == PB_AUTH_MANAGED)
		st = login_managed(md, cred, account, device, has_device, reply);
	else
		st = login_passthrough(md, cred, account, reply);
	if (st != POP3_MD_OK)
		goto fail;
	snprintf(conn->device, sizeof(conn->device), "%s", device);
	if (conn->ctx->throttle != NULL)
		maildrop_throttle_success(conn->ctx->throttle, conn->remote_addr);
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
	*mdp = md;
	return POP3_MD_OK;
fail:
	maildrop_md_free(md);
	return st;
}
