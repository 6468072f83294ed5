/* bridge/oauth2/access.h — the access token an upstream login uses (SPEC
 * §10): the stored one while it is good, else a new one from the token
 * endpoint, one refresh at a time per account.
 *
 * Contract of oauth2_access_token():
 *  - The stored access token is used while it has more than
 *    OAUTH2_REFRESH_MARGIN_S seconds left (or no known expiry), and is not
 *    `refused` — the token the upstream just rejected, for the one retry a
 *    login makes after a rejection. Otherwise a new one is asked for: with
 *    the refresh token (device-code and refresh-token grants) or the client
 *    credentials.
 *  - Single flight: whoever needs a new token takes the account's refresh
 *    lease in the state file (state_oauth2_lease), which another thread or
 *    process cannot take while it runs; they wait (polling the state file,
 *    at most timeout_s + OAUTH2_LEASE_SLACK_S seconds in all) and then use
 *    the token the holder stored. So many sessions that find the token
 *    expired at once cause one request to the token endpoint.
 *  - A new refresh token in the answer (rotation) is stored, sealed, with
 *    the access token, before the access token is handed out.
 *  - Outcome: OAUTH2_OK with the token in token[0..size); OAUTH2_TEMP
 *    (endpoint unreachable or failing, the state file busy: try later);
 *    OAUTH2_PERM (an administrator must act: invalid_grant — the refresh
 *    token is revoked or expired —, a client that is refused, a grant that
 *    cannot be opened). detail says why in one line, never a secret.
 *    PERM is also recorded as the account's credential_ok = 0, and logged
 *    at error level naming the account and, for invalid_grant, the command
 *    that mends it (`popbridge account oauth2-login ACCOUNT`); each
 *    refresh is logged (event=oauth2-refresh) without any token.
 */
#ifndef BRIDGE_OAUTH2_ACCESS_H
#define BRIDGE_OAUTH2_ACCESS_H

#include <stddef.h>
#include <stdint.h>

#include "bridge/managed/secret.h"
#include "bridge/oauth2/token.h"
#include "state/state.h"

#define OAUTH2_REFRESH_MARGIN_S 60  /* refresh a token that expires this soon */
#define OAUTH2_LEASE_SLACK_S    5   /* a lease lasts the request's timeout and this */

/* account_id's token; account: its stored name (the secrets are sealed for
 * it). ca_file and timeout_s: as for the upstream (--upstream-ca,
 * --upstream-timeout). */
enum oauth2_outcome oauth2_access_token(struct state_db *db, const struct managed_key *key,
    int64_t account_id, const char *account, const char *ca_file, unsigned timeout_s,
    const char *refused, char *token, size_t size, char *detail, size_t detail_len);

/* A buffer for one access token (OAUTH2_TOKEN_MAX + 1 octets), NULL when
 * out of memory; oauth2_token_buf_free() cleanses it and frees it (NULL:
 * nothing). */
char *oauth2_token_buf_new(void);
void oauth2_token_buf_free(char *buf);

#endif
