/* bridge/front/front.h — the IMAP front (SPEC §12): one IMAP client
 * connection of `popbridge serve`, from the greeting to the end of the relay.
 *
 * Contract:
 *  - front_session_run() owns fd (closes it) and runs in the caller's
 *    thread until the session ends. Before login it speaks IMAP itself
 *    (bridge/front/session.c): the greeting with [CAPABILITY ...],
 *    CAPABILITY, NOOP, LOGOUT, STARTTLS, LOGIN, AUTHENTICATE PLAIN (SASL-IR),
 *    ID; LOGINDISABLED and no AUTH=PLAIN while a plaintext login would be
 *    refused (plaintext_auth_allowed false and no TLS yet). Everything before
 *    login is bounded: FRONT_CMD_MAX octets per command, the login deadline
 *    (BYE, then close), max_auth_failures failed logins (the last answered
 *    first), FRONT_BAD_MAX bad commands; input pipelined behind STARTTLS is
 *    discarded.
 *  - A login is the device login of every front end (maildrop_device_login,
 *    protocol "imap"): the same identity rules, failed-login delay (waited
 *    before the NO), revocation and device limit as POP3. Refused:
 *    NO [AUTHENTICATIONFAILED]; upstream or state trouble: NO [UNAVAILABLE];
 *    an administrator must act: NO [CONTACTADMIN]. On success the upstream
 *    connection (logged in with the account's credentials, nothing ENABLEd)
 *    is answered as "TAG OK [CAPABILITY ...]" with the upstream's
 *    capabilities less STARTTLS, LOGINDISABLED and AUTH=, logged_in is
 *    called, and from then on bytes are relayed both ways unchanged
 *    (bridge/front/relay.h) until either side closes, FRONT_IDLE_S pass
 *    without a byte either way, or the device is revoked (checked every
 *    FRONT_REVOKE_CHECK_S).
 *  - st is filled for the one log line (front_session_log). Passwords never
 *    reach it; user, account and device only count once identified.
 */
#ifndef BRIDGE_FRONT_FRONT_H
#define BRIDGE_FRONT_FRONT_H

#include <stdbool.h>
#include <stdint.h>

#include "bridge/maildrop/backend.h"

/* Bad commands before login (unknown, malformed, not allowed, refused for
 * want of TLS) before the connection is closed: as POP3's
 * POP3_MAX_BAD_COMMANDS, counted in all. */
#define FRONT_BAD_MAX 20
/* SPEC §12: after login, 30 minutes without a byte either way end the
 * session (an IDLE client renews within it: RFC 9051 asks for 29 min). */
#define FRONT_IDLE_S (30 * 60)
/* SPEC §12: a revoked device's running IMAP sessions end within a minute. */
#define FRONT_REVOKE_CHECK_S 30
/* A TLS handshake (STARTTLS or implicit), within the login deadline too. */
#define FRONT_TLS_HANDSHAKE_S 60

struct front_config {
	struct maildrop_ctx *ctx;          /* throttle, hash gate, managed key */
	const struct config_options *opt;  /* this session's settings */
	void *tls_ctx;                     /* SSL_CTX * (the caller's); NULL:
	                                      no certificate, no STARTTLS */
	bool implicit_tls;
	bool plaintext_auth_allowed;       /* as POP3 decides it */
	const char *remote_addr;           /* numeric */
	unsigned remote_port;
	uint64_t login_deadline_ms;        /* base_clock_ms() time */
	void (*logged_in)(void *arg);      /* once, when the relay starts */
	void *logged_in_arg;
};

struct front_stats {
	char user[STATE_ACCOUNT_MAX + STATE_DEVICE_MAX + 2]; /* as sent, printable */
	char account[STATE_ACCOUNT_MAX + 1];
	char device[STATE_DEVICE_MAX + 1];
	bool identified;                   /* the credentials were good */
	bool relayed;                      /* the relay started */
	char mech[16];                     /* "LOGIN", "PLAIN", "" */
	char tls_version[BRIDGE_TLSVER_MAX];
	char upstream_tls[BRIDGE_TLSVER_MAX];
	unsigned auth_failures;
	uint64_t bytes_in, bytes_out;      /* from and to the client, all session */
	const char *result;                /* a word (front_session_run sets it) */
	char reason[BRIDGE_DETAIL_MAX];    /* the last failure, or "" */
};

void front_session_run(int fd, const struct front_config *cfg, struct front_stats *st);

/* The one line per session: event=session protocol=imap ... */
void front_session_log(const struct front_stats *st, const char *remote, uint64_t duration_ms);

#endif
