/* bridge/maildrop/credential.h — a managed account's upstream login with its
 * stored credential: the password, or an OAuth2 access token (SPEC §10).
 *
 * Contract of maildrop_upstream_login_stored():
 *  - password non-NULL: maildrop_upstream_login() with it.
 *  - password NULL (the credential is an OAuth2 grant): the access token
 *    from bridge/oauth2/ (refreshed when due, one refresh per account at a
 *    time), then AUTHENTICATE OAUTHBEARER or XOAUTH2 (up->oauth2). When the
 *    upstream refuses the token, a new one is asked for once (another
 *    session may have stored it meanwhile) and the login tried again on a
 *    new connection.
 *  - Status: as maildrop_upstream_login() for a password (POP3_MD_AUTH:
 *    the upstream refused it). For a grant POP3_MD_TEMP when the token
 *    endpoint or the upstream is in trouble, POP3_MD_PERM when the grant is
 *    refused (invalid_grant and the like: bridge/oauth2/ logs the command
 *    that mends it), cannot be opened, or the upstream refuses a new token
 *    too (logged here, at error level, naming the account and `popbridge
 *    account oauth2-login`). Never POP3_MD_AUTH for a grant.
 *  - The outcome is recorded as the account's credential_ok: 1 after a
 *    login, 0 when the credential was refused; trouble records nothing.
 *  - detail: one line without secrets, in every failure case.
 *
 * struct maildrop_credential: the upstream credential a device login used
 * (maildrop_login's cred, login.h), for a front end that logs in with it
 * elsewhere too — SMTP submission: the submission server, and the IMAP
 * server again for the Sent copy. maildrop_credential_login() is that IMAP
 * login: passthrough, maildrop_upstream_login() with the device's
 * password; managed, maildrop_upstream_login_stored() (the password, or
 * the grant's token). The holder wipes it (maildrop_credential_clear).
 */
#ifndef BRIDGE_MAILDROP_CREDENTIAL_H
#define BRIDGE_MAILDROP_CREDENTIAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge/maildrop/upstream.h"
#include "bridge/managed/secret.h"
#include "state/state.h"

/* account: the stored spelling of the account's name (its secrets are sealed
 * for it); user: the upstream user name. */
enum pop3_md_status maildrop_upstream_login_stored(struct maildrop_upstream *up,
    const struct config_options *opt, struct state_db *db, const struct managed_key *key,
    int64_t account_id, const char *account, const char *user, const char *password,
    char *detail, size_t detail_len);

struct maildrop_credential {
	bool managed;                          /* a stored credential (managed mode) */
	bool oauth2;                           /* managed: an OAuth2 grant (no password:
	                                          oauth2_access_token gives the token) */
	int64_t account_id;
	char account[STATE_ACCOUNT_MAX + 1];   /* managed: the stored spelling (the
	                                          secrets are sealed for it) */
	char user[STATE_USER_MAX + 1];         /* the upstream user name */
	char password[SECRET_PLAINTEXT_MAX + 1];
};

enum pop3_md_status maildrop_credential_login(struct maildrop_upstream *up,
    const struct config_options *opt, struct state_db *db, const struct managed_key *key,
    const struct maildrop_credential *c, char *detail, size_t detail_len);
void maildrop_credential_clear(struct maildrop_credential *c);

/* The error line when a server refuses a new access token too (event
 * "managed-upstream-refused" for IMAP, "submission-refused" for SMTP):
 * account, run="popbridge account oauth2-login ACCOUNT", msg, upstream_user,
 * detail (no secret in any). */
void maildrop_log_token_refused(const char *event, const char *account, const char *user,
    const char *msg, const char *detail);

#endif
