/* bridge/oauth2/access.c — the access token of an upstream login, one
 * refresh at a time per account (see access.h). */
#include "bridge/oauth2/access.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "bridge/base/clock.h"
#include "bridge/base/log.h"
#include "bridge/base/stats.h"
#include "bridge/oauth2/grant.h"

/* Polling the state file while another holds the lease: from the first
 * to the longest wait, doubling. */
#define WAIT_FIRST_MS 20
#define WAIT_MAX_MS   200

static int64_t new_owner(void)
{
	uint64_t v = 0;
	if (RAND_bytes((unsigned char *)&v, sizeof(v)) != 1)
		v = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)&v;
	v &= INT64_MAX;
	return v == 0 ? 1 : (int64_t)v;
}

static void log_refresh(enum base_log_level level, const struct oauth2_grant *g,
    const char *result, int rotated, int64_t expires_in, const char *detail)
{
	struct base_logline l;
	base_logline_start(&l, level, "oauth2-refresh");
	base_logline_str(&l, "account", g->account);
	base_logline_str(&l, "grant", config_word_name(&oauth2_grants, (int)g->grant));
	base_logline_str(&l, "result", result);
	if (rotated >= 0)
		base_logline_u64(&l, "rotated", (uint64_t)rotated);
	if (expires_in >= 0)
		base_logline_u64(&l, "expires_in", (uint64_t)expires_in);
	if (detail != NULL)
		base_logline_str(&l, "detail", detail);
	base_logline_emit(&l);
}

/* The error line an administrator must act on: what is wrong, and the
 * command that mends it (short values: none is cut). */
static void grant_refused(const char *account, const char *what, const char *detail)
{
	char cmd[STATE_ACCOUNT_MAX + 40];
	struct base_logline l;

	snprintf(cmd, sizeof(cmd), "popbridge account oauth2-login %s", account);
	base_logline_start(&l, PB_LOG_ERROR, "oauth2-grant-refused");
	base_logline_str(&l, "account", account);
	base_logline_str(&l, "run", cmd);
	base_logline_str(&l, "msg", what);
	base_logline_str(&l, "detail", detail);
	base_logline_emit(&l);
}

/* Store what the token endpoint gave (the lease holder's part). 0 or -1. */
static int store(struct state_db *db, const struct managed_key *key,
    const struct oauth2_grant *g, int64_t owner, const struct oauth2_tokens *t, int64_t now,
    bool rotated, char *detail, size_t dlen)
{
	unsigned char *ab = malloc(STATE_TOKEN_BLOB_MAX), *rb = malloc(STATE_TOKEN_BLOB_MAX);
	size_t al = 0, rl = 0;
	int rc = -1;
	char err[200];

	if (ab == NULL || rb == NULL) {
		snprintf(detail, dlen, "out of memory");
		goto out;
	}
	if (oauth2_grant_seal_token(key, g->account, false, t->access, ab, &al, err,
	    sizeof(err)) != 0 ||
	    (rotated && oauth2_grant_seal_token(key, g->account, true, t->refresh, rb, &rl, err,
	    sizeof(err)) != 0)) {
		snprintf(detail, dlen, "sealing the new tokens: %s", err);
		goto out;
	}
	int64_t expires = t->expires_in >= 0 ? now + t->expires_in : 0;
	if (state_oauth2_store(db, g->account_id, owner, ab, al, expires, rb, rl, now) !=
	    STATE_OK) {
		snprintf(detail, dlen, "storing the new tokens: %s", state_errmsg(db));
		goto out;
	}
	rc = 0;
out:
	if (ab != NULL)
		OPENSSL_cleanse(ab, STATE_TOKEN_BLOB_MAX);
	if (rb != NULL)
		OPENSSL_cleanse(rb, STATE_TOKEN_BLOB_MAX);
	free(ab);
	free(rb);
	return rc;
}

/* The lease is ours: ask the token endpoint and store the answer. */
static enum oauth2_outcome refresh(struct state_db *db, const struct managed_key *key,
    const struct oauth2_grant *g, int64_t owner, const char *ca_file, unsigned timeout_s,
    struct oauth2_tokens *t, char *detail, size_t dlen)
{
	struct oauth2_client c;
	enum oauth2_outcome r;

	oauth2_grant_client(g, ca_file, timeout_s, &c);
	if (g->grant == OAUTH2_GRANT_CLIENT_CREDENTIALS)
		r = oauth2_token_client_credentials(&c, t);
	else
		r = oauth2_token_refresh(&c, g->refresh, t);
	int64_t now = (int64_t)time(NULL);
	if (r == OAUTH2_OK) {
		bool rotated = t->refresh[0] && strcmp(t->refresh, g->refresh) != 0;
		if (store(db, key, g, owner, t, now, rotated, detail, dlen) != 0) {
			/* a rotated refresh token that could not be kept is lost:
			 * the next refresh may need oauth2-login */
			base_log(PB_LOG_ERROR, "oauth2-refresh", "account %s: %s", g->account, detail);
			(void)state_oauth2_release(db, g->account_id, owner, detail);
			base_stats_oauth2_refresh(BASE_OAUTH2_TEMPORARY);
			return OAUTH2_TEMP;
		}
		base_stats_oauth2_refresh(BASE_OAUTH2_OK);
		log_refresh(PB_LOG_INFO, g, "ok", rotated, t->expires_in, NULL);
		return OAUTH2_OK;
	}
	snprintf(detail, dlen, "%s", t->detail);
	(void)state_oauth2_release(db, g->account_id, owner, t->detail);
	if (r != OAUTH2_PERM) {
		base_stats_oauth2_refresh(BASE_OAUTH2_TEMPORARY);
		log_refresh(PB_LOG_WARN, g, "temporary-failure", -1, -1, t->detail);
		return OAUTH2_TEMP;
	}
	base_stats_oauth2_refresh(BASE_OAUTH2_REFUSED);
	(void)state_account_credential_result(db, g->account_id, false);
	log_refresh(PB_LOG_ERROR, g, "refused", -1, -1, t->detail);
	grant_refused(g->account, t->invalid_grant && g->grant != OAUTH2_GRANT_CLIENT_CREDENTIALS ?
	    "the grant is revoked or expired: authorise it again" :
	    "the token endpoint refuses the client: check its id, secret, scope and tenant, "
	    "then authorise again", t->detail);
	return OAUTH2_PERM;
}

enum oauth2_outcome oauth2_access_token(struct state_db *db, const struct managed_key *key,
    int64_t account_id, const char *account, const char *ca_file, unsigned timeout_s,
    const char *refused, char *token, size_t size, char *detail, size_t detail_len)
{
	struct oauth2_grant *g = malloc(sizeof(*g));
	struct oauth2_tokens *t = malloc(sizeof(*t));
	enum oauth2_outcome r = OAUTH2_TEMP;
	uint64_t deadline = base_clock_ms(NULL) +
	    ((uint64_t)timeout_s + OAUTH2_LEASE_SLACK_S) * 1000u;
	unsigned wait = WAIT_FIRST_MS;
	char err[200];

	token[0] = '\0';
	if (g == NULL || t == NULL) {
		snprintf(detail, detail_len, "out of memory");
		goto out;
	}
	for (;;) {
		int o = oauth2_grant_open(db, key, account_id, account, g, err, sizeof(err));
		if (o != 0) {
			snprintf(detail, detail_len, "OAuth2 grant: %s", err);
			r = o == -2 ? OAUTH2_TEMP : OAUTH2_PERM;
			if (r == OAUTH2_PERM)
				grant_refused(account, "the stored grant cannot be opened", err);
			goto out;
		}
		int64_t now = (int64_t)time(NULL);
		if (g->access[0] && (g->access_expires == 0 ||
		    g->access_expires - now > OAUTH2_REFRESH_MARGIN_S) &&
		    (refused == NULL || strcmp(g->access, refused) != 0))
			break;
		if (g->grant != OAUTH2_GRANT_CLIENT_CREDENTIALS && g->refresh[0] == '\0') {
			snprintf(detail, detail_len, "no refresh token is stored");
			grant_refused(account, "no refresh token is stored", NULL);
			r = OAUTH2_PERM;
			goto out;
		}
		int64_t owner = new_owner();
		int l = state_oauth2_lease(db, account_id, g->generation, owner, now,
		    now + (int64_t)timeout_s + OAUTH2_LEASE_SLACK_S);
		if (l == STATE_OK) {
			r = refresh(db, key, g, owner, ca_file, timeout_s, t, detail, detail_len);
			if (r != OAUTH2_OK)
				goto out;
			if (snprintf(token, size, "%s", t->access) >= (int)size) {
				token[0] = '\0';
				snprintf(detail, detail_len, "access token too long");
				r = OAUTH2_TEMP;
			}
			goto out;
		}
		if (l != STATE_EXISTS) {
			snprintf(detail, detail_len, "state database: %s", state_errmsg(db));
			goto out;
		}
		/* another thread or process is refreshing: wait for its token */
		if (base_clock_ms(NULL) + wait > deadline) {
			snprintf(detail, detail_len, "another refresh of the account's OAuth2 token "
			    "is still running");
			goto out;
		}
		oauth2_grant_clear(g);
		base_sleep_ms(wait);
		wait = wait * 2 > WAIT_MAX_MS ? WAIT_MAX_MS : wait * 2;
	}
	if (snprintf(token, size, "%s", g->access) >= (int)size) {
		token[0] = '\0';
		snprintf(detail, detail_len, "access token too long");
		goto out;
	}
	r = OAUTH2_OK;
out:
	if (g != NULL)
		oauth2_grant_clear(g);
	if (t != NULL)
		oauth2_tokens_clear(t);
	free(g);
	free(t);
	return r;
}

char *oauth2_token_buf_new(void)
{
	return malloc(OAUTH2_TOKEN_MAX + 1);
}

void oauth2_token_buf_free(char *buf)
{
	if (buf != NULL)
		OPENSSL_cleanse(buf, OAUTH2_TOKEN_MAX + 1);
	free(buf);
}
