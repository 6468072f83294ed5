/* bridge/maildrop/login.h — the device login, the same for every front end
 * (POP3, the IMAP front, SMTP submission): who the user name and password
 * say the device is (SPEC §2), the failed-login delay and the bounded
 * password checks (SPEC §6, §13), the upstream IMAP login with the
 * account's credentials, the account and device rows, revocation, and the
 * login record with its protocol. Each front end phrases its own reply from
 * the status and the client-safe text.
 *
 * Contract:
 *  - maildrop_login_init() fills the inputs; `up` is the caller's zeroed
 *    upstream slot, which must stay where it is (its event handler points to
 *    it) and which the caller frees (maildrop_upstream_free) whatever the
 *    outcome.
 *  - maildrop_login_authenticate(): splits the user name (ACCOUNT or
 *    ACCOUNT<sep>DEVICE), waits out the delay earlier failures of this
 *    address and account earned (or refuses without a check when that queue
 *    is full), checks the credentials — passthrough: the upstream login with
 *    the given password; managed: managed_authenticate behind the hash gate
 *    (until the login deadline), then the upstream login with the stored
 *    credentials — and on success resets the delay of the pair. Sets
 *    account (as typed, once the name parsed), device (passthrough: as
 *    named or "default"; managed: the device the password belongs to) and
 *    identified (the credentials were good). Nothing is written to state.
 *  - maildrop_login_record(): the account and device rows (passthrough
 *    creates them, at most --max-devices-per-account devices: beyond it
 *    AUTH "Too many devices for this account", no delay, nothing created),
 *    refuses a revoked device (AUTH, no delay), then records the login
 *    (state_device_login: time, address, protocol, TLS version). Only after
 *    an OK authenticate.
 *  - LOGIN-DELAY (SPEC §14), when check_login_delay is set: a device that
 *    logged in less than its effective login delay ago gets DELAY (good
 *    credentials: identified, the failed-login delay reset; nothing
 *    recorded): managed, from authenticate before the upstream login;
 *    passthrough, from record before the login record.
 *  - An account exported to another node (SPEC §14) is refused after its
 *    credentials were checked (managed: at authenticate, before any upstream
 *    login; passthrough: at record): TEMP with MAILDROP_LOGIN_MOVED_TEXT,
 *    not a failed login, nothing recorded.
 *  - maildrop_device_login(): both.
 *  - Status: OK; AUTH (wait delay_ms, then refuse: the failed-login delay,
 *    already counted); TEMP (try later: upstream or state trouble); PERM (an
 *    administrator must act: the managed account's stored credentials
 *    refused, no key, a folder or limit). text is for the client (printable
 *    ASCII, no secret, nothing of the state file); detail for the log line.
 *    An unknown user and a wrong password give the same text.
 *  - db: the state database the login opened (managed: at authenticate;
 *    passthrough: at record), or NULL; the caller owns it after either call
 *    (maildrop_login_end closes it).
 */
#ifndef BRIDGE_MAILDROP_LOGIN_H
#define BRIDGE_MAILDROP_LOGIN_H

#include <stdbool.h>
#include <stdint.h>

#include "bridge/maildrop/backend.h"
#include "bridge/maildrop/credential.h"
#include "bridge/maildrop/upstream.h"
#include "state/state.h"

enum maildrop_login_status {
	MAILDROP_LOGIN_OK = 0,
	MAILDROP_LOGIN_AUTH,   /* refused: wait delay_ms, then say so */
	MAILDROP_LOGIN_TEMP,   /* trouble: try later */
	MAILDROP_LOGIN_PERM,   /* an administrator must act */
	MAILDROP_LOGIN_DELAY,  /* good password, but logged in again sooner than
	                          the device's login delay (check_login_delay) */
};

#define MAILDROP_LOGIN_TEXT_MAX 160
/* The text of a login refused because the account was moved to another
 * node (SPEC §14): TEMP, after good credentials. */
#define MAILDROP_LOGIN_MOVED_TEXT "account moved"

struct maildrop_login {
	/* inputs (maildrop_login_init) */
	struct maildrop_ctx *ctx;
	const struct config_options *opt;
	const char *protocol;          /* "pop3", "imap", "smtp" */
	const char *remote_addr;       /* numeric */
	unsigned remote_port;          /* 0: not known */
	const char *tls_version;       /* client side; NULL or "": none */
	uint64_t deadline_ms;          /* the login deadline (base_clock_ms); 0: none */
	struct maildrop_upstream *up;  /* the caller's, zeroed */
	bool check_login_delay;        /* refuse a device's early login
	                                  (LOGIN-DELAY, SPEC §14: POP3) */
	struct maildrop_credential *cred;  /* NULL, or filled after a good
	                                  authenticate with the upstream
	                                  credential it used (credential.h: SMTP
	                                  submission logs in elsewhere with it);
	                                  the caller wipes it */

	/* outputs */
	struct state_db *db;
	char account[STATE_ACCOUNT_MAX + 1];
	char device[STATE_DEVICE_MAX + 1];
	bool identified;
	int64_t account_id, device_id;
	struct state_device dev;       /* the device row, after record */
	unsigned delay_ms;
	char text[MAILDROP_LOGIN_TEXT_MAX];
	char detail[BRIDGE_DETAIL_MAX];
};

void maildrop_login_init(struct maildrop_login *l, struct maildrop_ctx *ctx,
    const struct config_options *opt, const char *protocol, const char *remote_addr,
    unsigned remote_port, const char *tls_version, uint64_t deadline_ms,
    struct maildrop_upstream *up);
enum maildrop_login_status maildrop_login_authenticate(struct maildrop_login *l,
    const char *user, const char *password);
enum maildrop_login_status maildrop_login_record(struct maildrop_login *l, int64_t now);
enum maildrop_login_status maildrop_device_login(struct maildrop_login *l, const char *user,
    const char *password);
/* Close the database (the upstream stays the caller's); safe twice. */
void maildrop_login_end(struct maildrop_login *l);

#endif
