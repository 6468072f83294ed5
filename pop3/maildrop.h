/* pop3/maildrop.h — the only way the POP3 engine reaches mail.
 *
 * bridge/ implements it over IMAP and SQLite; the tests implement it in
 * memory. The engine never sees an IMAP or SQLite type.
 *
 * Contract:
 *  - Every call blocks and may be slow (network). None blocks forever: the
 *    implementation enforces its own upstream timeout and answers
 *    POP3_MD_TEMP when it fires.
 *  - Message indexes are 0-based here; the engine shows them as 1..N.
 *  - The set of messages, their sizes and UIDLs are fixed from a successful
 *    open() until close(): count() and info() never change within a session.
 *  - Nothing changes upstream before commit(), except what retrieved() does
 *    for `seen_on retr`. close() without commit() abandons the session and
 *    commits nothing. The engine calls close() exactly once per successful
 *    open(), after commit() when there was a QUIT in TRANSACTION state, and
 *    release() (when the implementation has one) after it.
 *  - One maildrop handle is used by one thread at a time.
 */
#ifndef POP3_MAILDROP_H
#define POP3_MAILDROP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum pop3_md_status {
	POP3_MD_OK = 0,
	POP3_MD_AUTH,        /* credentials wrong:            -ERR [AUTH] */
	POP3_MD_IN_USE,      /* device already in a session:  -ERR [IN-USE] */
	POP3_MD_LOGIN_DELAY, /* logged in again too soon:     -ERR [LOGIN-DELAY] */
	POP3_MD_TEMP,        /* temporary failure, try later: -ERR [SYS/TEMP] */
	POP3_MD_PERM,        /* an administrator must act:    -ERR [SYS/PERM] */
	POP3_MD_GONE,        /* this message is gone upstream: -ERR, session goes on */
	POP3_MD_CLIENT,      /* the sink failed (client gone): end the session */
};

/* What the implementation wants said alongside a status. */
struct pop3_md_reply {
	char text[160];    /* short reason for the client: printable ASCII, no
	                      CR/LF; empty means the engine's default text */
	unsigned delay_ms; /* wait this long before answering (the failed-login
	                      slowdown of SPEC §6); 0 = answer at once */
};

/* Credentials as the client presented them, and where it connects from. */
struct pop3_credentials {
	const char *user;        /* authentication identity, as sent */
	const char *password;    /* never logged, never kept */
	const char *mechanism;   /* "USER", "PLAIN" or "LOGIN" */
	const char *remote_addr; /* numeric address of the client */
	const char *tls_version; /* e.g. "TLSv1.3"; NULL without TLS */
};

struct pop3_msg_info {
	uint64_t size;  /* exact octets RETR sends: CRLF line ends, a final
	                   CRLF when the message lacks one, before dot-stuffing */
	char uidl[71];  /* 1..70 octets in 0x21..0x7E, NUL-terminated */
};

/* Receives a message's raw bytes in order, in chunks of any size, with any
 * line ends; the engine converts them for the wire. Returns 0 to go on,
 * 1 when it has all it needs (TOP: header and n lines were sent) — the
 * implementation then stops fetching and returns POP3_MD_OK — and -1 when
 * the client is gone (the implementation returns POP3_MD_CLIENT). */
typedef int pop3_sink_fn(void *arg, const char *buf, size_t len);

enum pop3_fetch_what {
	POP3_FETCH_WHOLE,   /* RETR: the whole message */
	POP3_FETCH_TOP,     /* TOP: the header, the blank line, then body lines
	                       until the sink returns 1 (the implementation may
	                       fetch the body in pieces) */
};

/* A RETR or TOP the client has already sent (pipelined) behind the one
 * being served. */
struct pop3_md_next {
	size_t idx;
	enum pop3_fetch_what what;
	uint64_t top_lines;
};

struct pop3_maildrop_ops {
	/* Authenticate and build the device's maildrop. On POP3_MD_OK *md is a
	 * handle owned by the implementation until close(). */
	enum pop3_md_status (*open)(void *backend, const struct pop3_credentials *cred,
	    void **md, struct pop3_md_reply *reply);
	size_t (*count)(void *md);
	void (*info)(void *md, size_t idx, struct pop3_msg_info *out);
	/* Stream message idx to the sink. top_lines is the TOP argument (a hint
	 * for how much body to fetch; the sink decides when it has enough). */
	enum pop3_md_status (*fetch)(void *md, size_t idx, enum pop3_fetch_what what,
	    uint64_t top_lines, pop3_sink_fn *sink, void *sink_arg,
	    struct pop3_md_reply *reply);
	/* Optional (NULL: never called). Just before each fetch(), the RETR
	 * and TOP commands the client has pipelined behind it, in order, as far
	 * as the engine has them buffered (at most POP3_HINT_MAX; n may be 0):
	 * the implementation may start fetching them now (SPEC §9). Only a
	 * hint: a later fetch() may ask for something else (a DELE, RSET or
	 * an invalid command in between), and must then get exactly what it
	 * would have got without the hint. */
	void (*hint)(void *md, const struct pop3_md_next *next, size_t n);
	/* A RETR of idx was sent completely to the client; octets is the count
	 * the engine produced (same definition as pop3_msg_info.size), so the
	 * implementation can learn exact sizes. */
	void (*retrieved)(void *md, size_t idx, uint64_t octets);
	/* QUIT in TRANSACTION: make the deletion of these indexes (ascending,
	 * distinct, possibly none) durable. Returns once it is. */
	enum pop3_md_status (*commit)(void *md, const size_t *deleted, size_t n,
	    struct pop3_md_reply *reply);
	/* End of session, committed or not: release the device lock and free. */
	void (*close)(void *md);
	/* Optional (NULL: the configuration's login_delay_s is shown). The
	 * device's own LOGIN-DELAY in seconds, for CAPA in the TRANSACTION
	 * state (RFC 2449 §6.5: the value for this user); 0 omits the tag.
	 * The implementation enforces it in open() (POP3_MD_LOGIN_DELAY). */
	unsigned (*login_delay)(void *md);
	/* Optional. When set, close() has released the device and left the
	 * rest (the upstream connection's end, which may wait on the network)
	 * to release(), which frees md. The engine calls it exactly once after
	 * each close(), once the client has had its last answer (QUIT's +OK is
	 * flushed first). NULL: close() does everything. */
	void (*release)(void *md);
};

#endif
