/* bridge/submit/relay.h — SMTP submission's relay (SPEC §11): smtp/relay.h
 * implemented over the upstream submission server (client.h), the account's
 * IMAP server (the Sent copy) and the state database.
 *
 * Contract:
 *  - struct submit_ctx is process-wide (serve fills it once: the maildrop
 *    context with the throttle, hash gate and managed key shared with POP3,
 *    the spool folder, the name we give in EHLO); sessions only read it,
 *    except the cache of the upstream's EHLO extensions (under its mutex).
 *  - struct submit_conn is one SMTP connection: serve fills the inputs
 *    (submit_conn_init) and passes it as smtp_session_run()'s backend; the
 *    relay fills the outputs for serve's session log line.
 *  - AUTH is the device login of every protocol (bridge/maildrop/login.h:
 *    identity rules, failed-login delay, managed passwords, revocation,
 *    the login recorded with protocol "smtp"), which hands over the
 *    credential it used (struct maildrop_credential), then the upstream
 *    submission server's AUTH with it (passthrough: the device's password;
 *    managed: the stored password, or for an OAuth2 grant the access token
 *    of bridge/oauth2/ with OAUTHBEARER or XOAUTH2, replaced once when the
 *    server refuses it; refused again: SMTP_AUTH_PERM and an error line
 *    event=submission-refused). The credential is kept in memory for the
 *    session only (to reconnect after an abandoned transaction and for the
 *    Sent copy's IMAP login), never written.
 *  - The upstream connection is kept from AUTH across transactions. At each
 *    MAIL it is checked first (client.h, submit_client_idle): one the
 *    server has timed out meanwhile (its "421 ... timeout exceeded" and a
 *    close, while the device waited or the Sent copy was appended) is
 *    replaced by a new one, and a 421 or a lost connection answering the
 *    MAIL on a kept connection is retried once on a new one.
 *  - Every transaction's reply is the upstream's. The Sent copy (unless
 *    --sent-copy never, or auto on an upstream that files sent mail itself:
 *    Gmail's X-GM-EXT-1; nor for an empty message, which no IMAP server
 *    stores) is spooled as the data streams and recorded before
 *    the final "." goes upstream; after the upstream's 2xx it is owed
 *    (state PENDING) before the client hears the reply; after the reply it
 *    is appended on the session's IMAP connection. What fails stays owed:
 *    the account's next login (any protocol) or serve's retry appends it.
 *  - One log line per transaction that reached DATA: event=submission with
 *    user, account, device, remote, tls, rcpts, size, reply (the upstream's
 *    code; 0 when there was none), sent_copy (appended, pending, skipped,
 *    none for a refused message), duration_ms.
 */
#ifndef BRIDGE_SUBMIT_RELAY_H
#define BRIDGE_SUBMIT_RELAY_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "bridge/base/addrkey.h"
#include "bridge/maildrop/backend.h"
#include "bridge/submit/spool.h"
#include "smtp/relay.h"

/* The upstream's EHLO extensions are asked again after this long. */
#define SUBMIT_EXT_CACHE_S 600
/* After a failed probe, EHLO answers with the defaults this long. */
#define SUBMIT_EXT_RETRY_S 60

struct submit_ctx {
	struct maildrop_ctx *md;
	char spool_dir[SUBMIT_SPOOL_DIR_MAX];
	char helo[256];                  /* our host name, in EHLO upstream */
	pthread_mutex_t lock;            /* guards the cache below */
	struct smtp_extensions ext;
	uint64_t ext_until_ms;           /* base_clock_ms(); 0: never asked */
	bool probing;                    /* a session is asking the upstream now */
};

struct submit_conn {
	/* inputs */
	struct submit_ctx *ctx;
	const struct config_options *opt;
	char remote_addr[PB_ADDR_TEXT_MAX];
	unsigned remote_port;
	uint64_t login_deadline_ms;
	char tls_version[BRIDGE_TLSVER_MAX];   /* set by serve after a handshake: the
	                                          relay reads the credentials' */
	void (*logged_in)(void *arg);
	void *logged_in_arg;
	/* outputs */
	char account[STATE_ACCOUNT_MAX + 1];
	char device[STATE_DEVICE_MAX + 1];
	bool identified;
	char detail[BRIDGE_DETAIL_MAX];
	unsigned sent;                   /* messages accepted upstream */
	unsigned copies_pending;         /* their Sent copies still owed */
};

extern const struct smtp_relay_ops submit_ops;

/* ctx->md, spool folder from the state file's name, our name. 0 or -1. */
int submit_ctx_init(struct submit_ctx *ctx, struct maildrop_ctx *md, const char *state_path);
void submit_ctx_free(struct submit_ctx *ctx);
/* The hook of struct maildrop_ctx (owed_copies): arg is the submit_ctx.
 * Appends what the account owes, if anything (one indexed query when
 * nothing is). */
void submit_owed_copies(void *arg, struct maildrop_upstream *up, struct state_db *db,
    int64_t account_id, const char *account, const struct config_options *opt);
void submit_conn_init(struct submit_conn *conn, struct submit_ctx *ctx,
    const struct config_options *opt, const char *remote_addr, unsigned remote_port);

#endif
