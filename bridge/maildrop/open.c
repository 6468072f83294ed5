/* bridge/maildrop/open.c — open(): authenticate, lock the device, finish
 * the account's pending commits, sync the folder, build the device's view
 * (SPEC §2, §3, §5). The login itself is bridge/maildrop/login.c, shared
 * with the other front ends. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge/base/log.h"
#include "bridge/maildrop/commit.h"
#include "bridge/maildrop/internal.h"
#include "bridge/maildrop/login.h"
#include "bridge/maildrop/settings.h"
#include "bridge/maildrop/sync.h"

static void set_text(struct pop3_md_reply *reply, const char *text)
{
	maildrop_text(reply->text, sizeof(reply->text), text, NULL);
}

static void set_detail(struct maildrop_conn *conn, const char *detail)
{
	maildrop_text(conn->detail, sizeof(conn->detail), detail, NULL);
}

static enum pop3_md_status temp_failed(struct maildrop_conn *conn, struct pop3_md_reply *reply,
    enum pop3_md_status st, const char *detail)
{
	set_detail(conn, detail);
	maildrop_failure_text(reply->text, sizeof(reply->text), st == POP3_MD_PERM, detail);
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
	set_text(reply, "Mail server unavailable, try again later.");
	return POP3_MD_TEMP;
}

/* The device login's outcome as POP3 says it (bridge/maildrop/login.h). */
static enum pop3_md_status login_reply(struct maildrop_conn *conn, const struct maildrop_login *l,
    enum maildrop_login_status st, struct pop3_md_reply *reply)
{
	set_text(reply, l->text);
	set_detail(conn, l->detail);
	reply->delay_ms = l->delay_ms;
	switch (st) {
	case MAILDROP_LOGIN_OK:   return POP3_MD_OK;
	case MAILDROP_LOGIN_AUTH: return POP3_MD_AUTH;
	case MAILDROP_LOGIN_PERM: return POP3_MD_PERM;
	case MAILDROP_LOGIN_DELAY: return POP3_MD_LOGIN_DELAY;
	default:                  return POP3_MD_TEMP;
	}
}

enum pop3_md_status maildrop_md_open(void *backend, const struct pop3_credentials *cred,
    void **mdp, struct pop3_md_reply *reply)
{
	struct maildrop_conn *conn = backend;
	const struct config_options *opt = conn->opt ? conn->opt : conn->ctx->opt;
	char err[BRIDGE_DETAIL_MAX];
	int64_t now = (int64_t)time(NULL);
	enum pop3_md_status st;
	struct maildrop_login l;

	*mdp = NULL;
	conn->account[0] = conn->device[0] = conn->detail[0] = conn->upstream_tls[0] = '\0';
	conn->identified = false;
	snprintf(conn->tls_version, sizeof(conn->tls_version), "%s",
	    cred->tls_version ? cred->tls_version : "");

	struct maildrop_md *md = calloc(1, sizeof(*md));
	if (md == NULL)
		return temp_failed(conn, reply, POP3_MD_TEMP, "out of memory");
	md->conn = conn;
	md->opt = opt;
	md->up.pool = conn->ctx->pool;  /* a kept connection may serve (SPEC §9) */
	md->up.pool_deadline_ms = conn->login_deadline_ms;
	maildrop_login_init(&l, conn->ctx, opt, "pop3", conn->remote_addr, conn->remote_port,
	    conn->tls_version, conn->login_deadline_ms, &md->up);
	l.check_login_delay = true;
	enum maildrop_login_status ls = maildrop_login_authenticate(&l, cred->user, cred->password);
	md->db = l.db;
	maildrop_text(conn->account, sizeof(conn->account), l.account, NULL);
	snprintf(conn->device, sizeof(conn->device), "%s", l.device);
	if (l.identified)
		conn->identified = true; /* a good password (an early poll's too) */
	if (ls != MAILDROP_LOGIN_OK) {
		st = login_reply(conn, &l, ls, reply);
		goto fail;
	}
	const char *utls = imap_tls_version(md->up.imap);
	snprintf(conn->upstream_tls, sizeof(conn->upstream_tls), "%s", utls ? utls : "");

	/* Only a good login may learn whether the device is busy. */
	if (conn->ctx->devlocks != NULL) {
		enum maildrop_devlock_result lr = maildrop_devlock_acquire(conn->ctx->devlocks,
		    l.account, l.device, &md->lock);
		if (lr == PB_DEVLOCK_IN_USE) {
			set_detail(conn, "device already in a session");
			set_text(reply, "This device is already in a session.");
			st = POP3_MD_IN_USE;
			goto fail;
		}
		if (lr != PB_DEVLOCK_OK) {
			st = temp_failed(conn, reply, POP3_MD_TEMP, "device lock: out of memory");
			goto fail;
		}
	}

	ls = maildrop_login_record(&l, now);
	md->db = l.db;
	if (ls != MAILDROP_LOGIN_OK) {
		st = login_reply(conn, &l, ls, reply);
		goto fail;
	}
	md->account_id = l.account_id;
	md->device_id = l.device_id;
	effective_settings(md, &l.dev);
	const char *account = l.account;

	/* Crash recovery (SPEC §5): the account's unfinished commits first. */
	struct maildrop_commit_env env = {
		.up = &md->up, .db = md->db, .opt = opt, .crash_at = BRIDGE_CRASH_NONE,
		.now = now, .devlocks = conn->ctx->devlocks, .device_id = md->device_id,
	};
	int left = maildrop_commit_replay(&env, md->account_id, err, sizeof(err));
	if (left != 0)
		base_log(PB_LOG_WARN, "journal", "account %s: %d commit(s) still pending: %s",
		    account, left, err);

	/* SMTP submission's Sent copies the account still owes (SPEC §11). */
	if (conn->ctx->owed_copies != NULL)
		conn->ctx->owed_copies(conn->ctx->owed_copies_arg, &md->up, md->db, md->account_id,
		    account, opt);

	struct state_mailbox mb;
	/* The match keys a first sync needs come after the client's last
	 * answer (md_release): the client does not wait for them. */
	st = maildrop_sync_folder_keys_later(&md->up, md->db, md->account_id, md->eff.folder,
	    opt->dele_keyword, now, &mb, &md->keys_due, err, sizeof(err));
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
