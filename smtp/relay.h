/* smtp/relay.h — the only way the SMTP submission engine reaches the
 * upstream.
 *
 * bridge/ implements it over an SMTP client, IMAP and SQLite (SPEC §11);
 * the tests implement it in memory. The engine never sees an IMAP, SQLite
 * or upstream connection type, exactly as pop3/maildrop.h keeps POP3 away
 * from them.
 *
 * Contract:
 *  - Every call blocks and may be slow (network). None blocks forever: the
 *    implementation enforces its own upstream timeout.
 *  - Replies: a call that talks to the upstream fills a struct smtp_reply
 *    with what the client is to be told — normally the upstream's own reply
 *    (code and text), so a refusal reaches the device as the upstream gave
 *    it (SPEC §11). The engine sends it unchanged; text must be printable
 *    ASCII, lines separated by LF, no CR.
 *  - The relay calls return SMTP_RELAY_REPLY (the reply is filled; the
 *    session goes on) or SMTP_RELAY_CLOSE (the reply is filled, normally
 *    421; the upstream is gone and the session ends after sending it).
 *  - Order: extensions() any time; open() at each AUTH until one succeeds;
 *    then per transaction mail(), rcpt()..., and either data_begin(),
 *    data_write()..., data_end() (and data_done() once the final reply is
 *    out), or rset() to abandon it. A transaction the client abandons by
 *    leaving ends with close(). close() exactly once per successful open().
 *  - One relay handle is used by one thread at a time.
 */
#ifndef SMTP_RELAY_H
#define SMTP_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtp/limits.h"

/* A reply for the client: code (e.g. 250) and text, lines separated by LF
 * (the engine writes "code-line" for all but the last). The text normally
 * starts with the enhanced status code ("2.1.0 Ok"). */
struct smtp_reply {
	unsigned code;
	char text[SMTP_REPLY_TEXT_MAX];
};

/* What the upstream announces, for the engine's EHLO reply. */
struct smtp_extensions {
	uint64_t size;     /* its SIZE limit; 0: none announced or unknown
	                      (the engine then uses SMTP_SIZE_DEFAULT) */
	bool eightbitmime; /* 8BITMIME */
	bool smtputf8;     /* SMTPUTF8 (RFC 6531) */
};

enum smtp_auth_status {
	SMTP_AUTH_OK = 0,
	SMTP_AUTH_BAD,     /* credentials wrong:          535 5.7.8 */
	SMTP_AUTH_TEMP,    /* try later (upstream down):  454 4.7.0 */
	SMTP_AUTH_PERM,    /* an administrator must act:  554 5.7.0 */
};

/* Credentials as the client presented them. */
struct smtp_credentials {
	const char *user;
	const char *password;    /* never logged, never kept by the engine */
	const char *mechanism;   /* "PLAIN" or "LOGIN" */
	const char *remote_addr;
	const char *tls_version; /* NULL without TLS */
};

/* What open() wants said besides its status. */
struct smtp_auth_reply {
	char text[160];    /* replaces the engine's default text (printable
	                      ASCII, no CR/LF, without code); "" = default */
	unsigned delay_ms; /* wait this long before answering (the failed-login
	                      delay, SPEC §6); 0 = at once */
};

enum smtp_relay_rc {
	SMTP_RELAY_REPLY = 0,
	SMTP_RELAY_CLOSE,
};

/* How the client's message data ended, for data_end(). */
enum smtp_data_end {
	SMTP_DATA_COMPLETE,  /* the terminating line arrived, all data passed */
	SMTP_DATA_TOO_BIG,   /* more than the SIZE limit: the tail was dropped */
	SMTP_DATA_FAILED,    /* a data_write() failed: the tail was dropped */
	SMTP_DATA_ABORTED,   /* the client went away or timed out: no reply
	                        will be sent */
};

struct smtp_relay_ops {
	/* Fill *out for an EHLO reply (may connect to learn them; bounded). */
	void (*extensions)(void *backend, struct smtp_extensions *out);
	/* Authenticate; on SMTP_AUTH_OK *relay is a handle owned by the
	 * implementation until close(). */
	enum smtp_auth_status (*open)(void *backend, const struct smtp_credentials *cred,
	    void **relay, struct smtp_auth_reply *reply);
	/* MAIL FROM:<path> params (path without the brackets, "" for the null
	 * path; params the engine checked and rewrote, "" for none). */
	enum smtp_relay_rc (*mail)(void *relay, const char *path, const char *params,
	    struct smtp_reply *reply);
	/* RCPT TO:<path>. */
	enum smtp_relay_rc (*rcpt)(void *relay, const char *path, struct smtp_reply *reply);
	/* DATA: a 354 reply means the data may come. Any other reply ends the
	 * transaction. */
	enum smtp_relay_rc (*data_begin)(void *relay, struct smtp_reply *reply);
	/* Message data in order, dot-unstuffed, every line end CRLF. 0, or -1
	 * when it cannot go on (no more calls until data_end()). */
	int (*data_write)(void *relay, const char *buf, size_t len);
	/* The data ended (how: `end`); fill the final reply (not sent for
	 * SMTP_DATA_ABORTED). Only once this returns a 2xx for
	 * SMTP_DATA_COMPLETE has the message been accepted. */
	enum smtp_relay_rc (*data_end)(void *relay, enum smtp_data_end end,
	    struct smtp_reply *reply);
	/* Optional (NULL: not called): the final reply has been sent to the
	 * client; slow follow-up work (the Sent copy) may run now. */
	void (*data_done)(void *relay);
	/* RSET of an open transaction. */
	enum smtp_relay_rc (*rset)(void *relay, struct smtp_reply *reply);
	/* End of session (QUIT, drop, timeout): end the upstream session and
	 * free; a transaction still open is abandoned. */
	void (*close)(void *relay);
};

#endif
