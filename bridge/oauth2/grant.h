/* bridge/oauth2/grant.h — one account's OAuth2 grant as bridge/ uses it:
 * the settings stored with the account and its secrets (client secret,
 * refresh and access token) opened with the key file.
 *
 * Contract:
 *  - The secrets are sealed with the key file (bridge/managed/secret.h,
 *    AES-256-GCM) as labelled secrets of the account, each with its own
 *    label, so none can stand in for another; state/ stores the blobs.
 *  - oauth2_grant_open() reads the grant of account_id (whose stored name is
 *    `account`: the secrets are sealed for it) and opens every secret it
 *    holds: 0; -1 with err when it cannot be opened (no grant stored, a
 *    blob that does not open: wrong key file or altered: an administrator
 *    must act); -2 when the state file failed (try later) — never a secret
 *    in err.
 *  - oauth2_grant_seal() seals g's secrets into a state row (settings
 *    copied), for state_oauth2_account_add / state_oauth2_replace.
 *  - The struct holds secrets: oauth2_grant_clear() cleanses it; it is
 *    large (three tokens): allocate it.
 */
#ifndef BRIDGE_OAUTH2_GRANT_H
#define BRIDGE_OAUTH2_GRANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge/managed/secret.h"
#include "bridge/oauth2/provider.h"
#include "bridge/oauth2/token.h"
#include "state/state.h"

struct oauth2_grant {
	int64_t account_id;
	char account[STATE_ACCOUNT_MAX + 1];      /* the name secrets are sealed for */
	enum oauth2_provider provider;
	enum oauth2_grant_type grant;
	char token_url[STATE_URL_MAX + 1];
	char device_url[STATE_URL_MAX + 1];
	char scope[STATE_SCOPE_MAX + 1];
	char client_id[STATE_CLIENT_ID_MAX + 1];
	char tenant[STATE_TENANT_MAX + 1];
	char client_secret[OAUTH2_TOKEN_MAX + 1]; /* "": a public client */
	char refresh[OAUTH2_TOKEN_MAX + 1];       /* "": none */
	char access[OAUTH2_TOKEN_MAX + 1];        /* "": none */
	int64_t access_expires;                   /* 0: not known */
	int64_t generation;
	char last_error[STATE_OAUTH2_ERROR_MAX + 1];
};

int oauth2_grant_open(struct state_db *db, const struct managed_key *key, int64_t account_id,
    const char *account, struct oauth2_grant *g, char *err, size_t errlen);
int oauth2_grant_seal(const struct managed_key *key, const struct oauth2_grant *g,
    struct state_oauth2 *row, char *err, size_t errlen);
void oauth2_grant_clear(struct oauth2_grant *g);

/* What the requests of token.h need of g (pointers into g). */
void oauth2_grant_client(const struct oauth2_grant *g, const char *ca_file, unsigned timeout_s,
    struct oauth2_client *c);

/* Seal one token of g's account as the access or refresh token (for
 * state_oauth2_store); blob has room for STATE_TOKEN_BLOB_MAX. */
int oauth2_grant_seal_token(const struct managed_key *key, const char *account, bool refresh,
    const char *token, unsigned char *blob, size_t *blob_len, char *err, size_t errlen);

#endif
