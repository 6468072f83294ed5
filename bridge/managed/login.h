/* bridge/managed/login.h — managed-mode login: which device of which account a
 * device password belongs to, and the account's upstream credentials.
 *
 * Contract:
 *  - managed_authenticate() looks up ACCOUNT (an account in managed mode
 *    only), verifies PASSWORD against the scrypt hash of every device of the
 *    account (revoked ones included), and identifies the device as the one
 *    whose hash matches. On success it opens the account's sealed upstream
 *    password with the key and fills *out.
 *  - MANAGED_AUTH: unknown account, an account in passthrough mode, a
 *    password that matches no device, a password of a revoked device, an
 *    empty or over-long password. All of these put the same text in err
 *    (MANAGED_AUTH_TEXT) and cost the same work:
 *      every call runs exactly max(D, MANAGED_VERIFY_FLOOR) scrypt
 *      verifications, where D is the number of devices of the account (0 for
 *      an unknown account); the hashes are all verified (no early exit on a
 *      match), and dummy verifications (managed_password_verify_dummy, same cost as a
 *      default hash) make up the difference to the floor.
 *    So an unknown account costs what an account with up to
 *    MANAGED_VERIFY_FLOOR devices costs, and which device matched (first or
 *    last) is not visible either. An account with more devices than the
 *    floor is slower, which tells an observer only that it has many devices
 *    (the account name is not secret in practice: it is an address). An
 *    account may hold at most MANAGED_DEVICES_MAX devices (device add
 *    refuses more), which bounds the work of one login.
 *  - MANAGED_ERROR: the database failed, the sealed password cannot be
 *    opened (wrong key file, tampered blob), or the account holds more than
 *    MANAGED_DEVICES_MAX devices. err says which, without any secret. The
 *    maildrop answers [SYS/TEMP] when out->error_temporary is 1 (the
 *    database: try later) and [SYS/PERM] when it is 0 (key file, sealed
 *    password, limits: an administrator must act).
 *  - An account whose credential is an OAuth2 grant (SPEC §10) opens no
 *    password: out->oauth2 is 1 and upstream_password empty.
 *  - *out is filled only on MANAGED_OK (error_temporary excepted); on any
 *    other result it holds no secret. The caller cleanses out->upstream_password (OPENSSL_cleanse or
 *    managed_login_clear) once it has logged in upstream.
 *  - The function reads the database (no write: the login record is the
 *    caller's, state_device_login). Thread-safe with one state_db per thread.
 */
#ifndef BRIDGE_MANAGED_LOGIN_H
#define BRIDGE_MANAGED_LOGIN_H

#include <stddef.h>
#include <stdint.h>

#include "bridge/managed/secret.h"
#include "state/state.h"

enum { MANAGED_OK = 0, MANAGED_AUTH = 1, MANAGED_ERROR = 2 };

#define MANAGED_VERIFY_FLOOR  4    /* scrypt runs per login, at least */
#define MANAGED_DEVICES_MAX   32   /* devices per managed account */
#define MANAGED_AUTH_TEXT     "invalid account or password"

struct managed_login {
	int64_t account_id;
	int64_t device_id;
	char device[STATE_DEVICE_MAX + 1];
	char upstream_user[STATE_USER_MAX + 1];
	char upstream_password[SECRET_PLAINTEXT_MAX + 1]; /* NUL-terminated */
	int error_temporary; /* MANAGED_ERROR: 1 = database, 0 = admin must act */
	int oauth2;          /* 1: the account's credential is an OAuth2 grant
	                        (bridge/oauth2/ gets the token; no password here) */
	char account[STATE_ACCOUNT_MAX + 1]; /* its stored spelling (secrets are
	                        sealed for it) */
};

int managed_authenticate(struct state_db *db, const unsigned char key[32],
    const char *account, const char *password, struct managed_login *out,
    char *err, size_t errlen);

/* Wipe the whole struct (the upstream password included). */
void managed_login_clear(struct managed_login *l);

/* The upstream credential stored for the managed account a, opened with key:
 * the one place it is unsealed (a login, import-uidls, the admin commands'
 * key check). user gets a's upstream user (its name when none is stored),
 * password the password as a C string. The blob is sealed for a->name, the
 * account's stored spelling. 0, or -1 with err saying why (no credential
 * stored — an OAuth2 account has none —, the blob does not open: wrong key
 * file or tampered, or it holds no text password), never a secret; on failure user and password hold nothing
 * of it. The caller cleanses password (OPENSSL_cleanse) once used. */
int managed_upstream_unseal(const struct managed_key *key, const struct state_account *a,
    char user[STATE_USER_MAX + 1], char password[SECRET_PLAINTEXT_MAX + 1],
    char *err, size_t errlen);

#endif
