/* bridge/submit/retry.c — see retry.h. */
#include "bridge/submit/retry.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "bridge/base/log.h"
#include "bridge/maildrop/credential.h"
#include "bridge/maildrop/upstream.h"
#include "bridge/managed/login.h"
#include "bridge/managed/secret.h"
#include "bridge/submit/sentcopy.h"

#define STALE_BATCH 256

/* Rows collected by a listing (the callback may not write). */
struct collect {
	struct state_sent *v;
	size_t n, cap;
};

static int collect_row(void *arg, const struct state_sent *s)
{
	struct collect *c = arg;
	if (c->n < c->cap)
		c->v[c->n++] = *s;
	return c->n >= c->cap;
}

void submit_recover(struct submit_ctx *ctx, const struct config_options *opt)
{
	char err[PB_ERR_MAX];
	struct state_db *db = state_open(opt->state, err, sizeof(err));
	unsigned dropped = 0, orphans = 0;

	if (db == NULL) {
		base_log(PB_LOG_WARN, "sent-copy", "recovery: %s", err);
		return;
	}
	struct collect c = { calloc(STALE_BATCH, sizeof(struct state_sent)), 0, STALE_BATCH };
	while (c.v != NULL) {
		c.n = 0;
		if (state_sent_stale(db, collect_row, &c) != STATE_OK || c.n == 0)
			break;
		size_t removed = 0;
		for (size_t i = 0; i < c.n; i++) {
			if (state_sent_remove(db, c.v[i].id) != STATE_OK)
				continue;
			submit_spool_remove(ctx->spool_dir, c.v[i].file);
			removed++;
		}
		dropped += (unsigned)removed;
		if (removed < c.n)
			break;   /* the database refuses: do not loop on it */
	}
	free(c.v);
	if (dropped > 0)
		base_log(PB_LOG_WARN, "sent-copy", "%u message(s) had not been answered by the "
		    "submission server when popbridge stopped: their devices got no 250 and send "
		    "them again, so these Sent copies are dropped", dropped);
	DIR *d = opendir(ctx->spool_dir);
	struct dirent *e;
	while (d != NULL && (e = readdir(d)) != NULL) {
		bool has = true;
		if (e->d_name[0] == '.' || strlen(e->d_name) > STATE_SENT_FILE_MAX)
			continue;
		if (state_sent_has_file(db, e->d_name, &has) == STATE_OK && !has) {
			submit_spool_remove(ctx->spool_dir, e->d_name);
			orphans++;
		}
	}
	if (d != NULL)
		closedir(d);
	if (orphans > 0)
		base_log(PB_LOG_INFO, "sent-copy", "removed %u spool file(s) of transactions that "
		    "never completed", orphans);
	state_close(db);
}

/* One managed account's owed copies, with its stored credential (a
 * password, or an OAuth2 grant's access token). */
static void retry_account(struct submit_ctx *ctx, const struct config_options *opt,
    struct state_db *db, const struct state_account *a, const atomic_bool *stop)
{
	struct maildrop_credential cred;
	char detail[BRIDGE_DETAIL_MAX];
	struct managed_key key;
	struct maildrop_upstream up;
	enum pop3_md_status st = POP3_MD_PERM;

	memset(&cred, 0, sizeof(cred));
	cred.managed = true;
	cred.oauth2 = a->credential == STATE_CRED_OAUTH2;
	cred.account_id = a->id;
	snprintf(cred.account, sizeof(cred.account), "%s", a->name);
	memcpy(key.bytes, ctx->md->managed_key, sizeof(key.bytes));
	memset(&up, 0, sizeof(up));
	if (cred.oauth2)
		snprintf(cred.user, sizeof(cred.user), "%s",
		    a->upstream_user[0] ? a->upstream_user : a->name);
	if (cred.oauth2 || managed_upstream_unseal(&key, a, cred.user, cred.password, detail,
	    sizeof(detail)) == 0)
		st = maildrop_credential_login(&up, opt, db, &key, &cred, detail, sizeof(detail));
	managed_key_clear(&key);
	maildrop_credential_clear(&cred);
	if (st != POP3_MD_OK) {
		base_log(PB_LOG_WARN, "sent-copy", "account %s: IMAP login for the Sent copies: %s",
		    a->name, detail);
	} else {
		const struct submit_copy_env env = {
			.up = &up, .db = db, .opt = opt, .spool_dir = ctx->spool_dir,
			.account = a->name, .now = (int64_t)time(NULL), .locks = ctx->md->devlocks,
			.crash_at = ctx->md->crash_at, .stop = stop,
		};
		submit_copy_account(&env, a->id);
	}
	maildrop_upstream_free(&up);
}

void submit_retry_round(struct submit_ctx *ctx, const struct config_options *opt,
    const atomic_bool *stop)
{
	char err[PB_ERR_MAX];
	int64_t accounts[SUBMIT_RETRY_ACCOUNTS];
	size_t n_acc = 0;

	if (opt->auth != PB_AUTH_MANAGED || !ctx->md->has_managed_key)
		return;
	struct state_db *db = state_open(opt->state, err, sizeof(err));
	if (db == NULL) {
		base_log(PB_LOG_WARN, "sent-copy", "retry: %s", err);
		return;
	}
	struct collect c = { calloc(SUBMIT_RETRY_BATCH, sizeof(struct state_sent)), 0,
		SUBMIT_RETRY_BATCH };
	if (c.v != NULL && state_sent_pending(db, 0, SUBMIT_RETRY_BATCH, collect_row, &c) == STATE_OK) {
		for (size_t i = 0; i < c.n && n_acc < SUBMIT_RETRY_ACCOUNTS; i++) {
			bool seen = false;
			for (size_t j = 0; j < n_acc; j++)
				seen = seen || accounts[j] == c.v[i].account_id;
			if (!seen)
				accounts[n_acc++] = c.v[i].account_id;
		}
	}
	free(c.v);
	for (size_t i = 0; i < n_acc && !atomic_load(stop); i++) {
		struct state_account a;
		if (state_account_get_by_id(db, accounts[i], &a) == STATE_OK &&
		    a.auth == STATE_AUTH_MANAGED)
			retry_account(ctx, opt, db, &a, stop);
		OPENSSL_cleanse(&a, sizeof(a));
	}
	state_close(db);
}
