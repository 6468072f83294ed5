/* bridge/oauth2/grant.c — an account's grant, opened and sealed (see
 * grant.h). */
#include "bridge/oauth2/grant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "bridge/base/errbuf.h"

#define LABEL_CLIENT_SECRET "oauth2-client-secret"
#define LABEL_REFRESH       "oauth2-refresh-token"
#define LABEL_ACCESS        "oauth2-access-token"

void oauth2_grant_clear(struct oauth2_grant *g)
{
	OPENSSL_cleanse(g, sizeof(*g));
}

/* Open blob (may be empty: out "") into out. */
static int open_one(const struct managed_key *key, const char *account, const char *label,
    const unsigned char *blob, size_t len, char *out, char *err, size_t errlen)
{
	size_t n = 0;
	out[0] = '\0';
	if (len == 0)
		return 0;
	if (managed_unseal_labelled(key, account, label, blob, len, (unsigned char *)out,
	    OAUTH2_TOKEN_MAX + 1, &n, err, errlen) != 0)
		return -1;
	if (n > OAUTH2_TOKEN_MAX || memchr(out, '\0', n) != NULL) {
		OPENSSL_cleanse(out, OAUTH2_TOKEN_MAX + 1);
		return base_errf(err, errlen, "the stored %s is not text", label);
	}
	out[n] = '\0';
	return 0;
}

int oauth2_grant_open(struct state_db *db, const struct managed_key *key, int64_t account_id,
    const char *account, struct oauth2_grant *g, char *err, size_t errlen)
{
	struct state_oauth2 *row = malloc(sizeof(*row));
	int rc = -1;

	memset(g, 0, sizeof(*g));
	if (row == NULL)
		return base_errf(err, errlen, "out of memory");
	int s = state_oauth2_get(db, account_id, row);
	if (s != STATE_OK) {
		base_errf(err, errlen, "%s", s == STATE_NOTFOUND ?
		    "no OAuth2 grant is stored for the account" : state_errmsg(db));
		if (s != STATE_NOTFOUND)
			rc = -2;
		goto out;
	}
	int p = config_word_value(&oauth2_providers, row->provider);
	int gr = config_word_value(&oauth2_grants, row->grant);
	if (p < 0 || gr < 0) {
		base_errf(err, errlen, "the stored OAuth2 provider or grant is not known");
		goto out;
	}
	g->account_id = account_id;
	snprintf(g->account, sizeof(g->account), "%s", account);
	g->provider = (enum oauth2_provider)p;
	g->grant = (enum oauth2_grant_type)gr;
	snprintf(g->token_url, sizeof(g->token_url), "%s", row->token_url);
	snprintf(g->device_url, sizeof(g->device_url), "%s", row->device_url);
	snprintf(g->scope, sizeof(g->scope), "%s", row->scope);
	snprintf(g->client_id, sizeof(g->client_id), "%s", row->client_id);
	snprintf(g->tenant, sizeof(g->tenant), "%s", row->tenant);
	snprintf(g->last_error, sizeof(g->last_error), "%s", row->last_error);
	g->access_expires = row->access_expires;
	g->generation = row->generation;
	if (open_one(key, account, LABEL_CLIENT_SECRET, row->client_secret,
	    row->client_secret_len, g->client_secret, err, errlen) != 0 ||
	    open_one(key, account, LABEL_REFRESH, row->refresh, row->refresh_len, g->refresh,
	    err, errlen) != 0 ||
	    open_one(key, account, LABEL_ACCESS, row->access, row->access_len, g->access,
	    err, errlen) != 0) {
		oauth2_grant_clear(g);
		goto out;
	}
	rc = 0;
out:
	OPENSSL_cleanse(row, sizeof(*row));
	free(row);
	return rc;
}

static int seal_one(const struct managed_key *key, const char *account, const char *label,
    const char *plain, unsigned char *blob, size_t *len, char *err, size_t errlen)
{
	*len = 0;
	if (plain[0] == '\0')
		return 0;
	return managed_seal_labelled(key, account, label, (const unsigned char *)plain,
	    strlen(plain), blob, STATE_TOKEN_BLOB_MAX, len, err, errlen);
}

int oauth2_grant_seal_token(const struct managed_key *key, const char *account, bool refresh,
    const char *token, unsigned char *blob, size_t *blob_len, char *err, size_t errlen)
{
	return seal_one(key, account, refresh ? LABEL_REFRESH : LABEL_ACCESS, token, blob,
	    blob_len, err, errlen);
}

int oauth2_grant_seal(const struct managed_key *key, const struct oauth2_grant *g,
    struct state_oauth2 *row, char *err, size_t errlen)
{
	memset(row, 0, sizeof(*row));
	row->account_id = g->account_id;
	snprintf(row->provider, sizeof(row->provider), "%s",
	    config_word_name(&oauth2_providers, (int)g->provider));
	snprintf(row->grant, sizeof(row->grant), "%s",
	    config_word_name(&oauth2_grants, (int)g->grant));
	snprintf(row->token_url, sizeof(row->token_url), "%s", g->token_url);
	snprintf(row->device_url, sizeof(row->device_url), "%s", g->device_url);
	snprintf(row->scope, sizeof(row->scope), "%s", g->scope);
	snprintf(row->client_id, sizeof(row->client_id), "%s", g->client_id);
	snprintf(row->tenant, sizeof(row->tenant), "%s", g->tenant);
	row->access_expires = g->access_expires;
	if (seal_one(key, g->account, LABEL_CLIENT_SECRET, g->client_secret, row->client_secret,
	    &row->client_secret_len, err, errlen) != 0 ||
	    seal_one(key, g->account, LABEL_REFRESH, g->refresh, row->refresh, &row->refresh_len,
	    err, errlen) != 0 ||
	    seal_one(key, g->account, LABEL_ACCESS, g->access, row->access, &row->access_len,
	    err, errlen) != 0) {
		OPENSSL_cleanse(row, sizeof(*row));
		return -1;
	}
	return 0;
}

void oauth2_grant_client(const struct oauth2_grant *g, const char *ca_file, unsigned timeout_s,
    struct oauth2_client *c)
{
	c->token_url = g->token_url;
	c->device_url = g->device_url;
	c->scope = g->scope;
	c->client_id = g->client_id;
	c->client_secret = g->client_secret;
	c->ca_file = ca_file != NULL && ca_file[0] ? ca_file : NULL;
	c->timeout_s = timeout_s;
}
