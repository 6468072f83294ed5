/* smtp/server.h — the SMTP submission engine (RFC 6409) as bridge/ uses it:
 * one call that runs a whole session on a connected socket.
 *
 * The engine speaks SMTP and nothing else (SPEC §1, §11): EHLO/HELO,
 * STARTTLS (RFC 3207; input pipelined behind it is discarded), AUTH PLAIN
 * and LOGIN with initial responses (RFC 4954, 4616), SIZE (RFC 1870),
 * 8BITMIME (RFC 6152) and SMTPUTF8 (RFC 6531) when the upstream has them,
 * PIPELINING (RFC 2920), ENHANCEDSTATUSCODES (RFC 2034), MAIL, RCPT, DATA
 * (dot-unstuffed as it streams, never held whole), RSET, NOOP, QUIT, HELP,
 * VRFY (252). Mail is accepted only after AUTH. It reaches the upstream
 * only through smtp/relay.h.
 *
 * It runs over pop3/'s server byte stream (pop3/transport.h: poll-bounded
 * socket I/O and OpenSSL; struct pop3_tls is the shared, reference-counted
 * server certificate) and writes through pop3/output.h's buffer: those are
 * not POP3, only the bytes under it.
 *
 * Contract:
 *  - smtp_session_run() runs in the caller's thread and returns when the
 *    session is over; it owns the socket and closes it.
 *  - A connection that has not authenticated by the login timeout, or
 *    after max_auth_failures failed logins, is closed (421 resp. after the
 *    535 of the last failure).
 *  - Memory per session is bounded (smtp/limits.h), whatever the message
 *    size: data streams to the relay in chunks.
 *  - The process must ignore SIGPIPE (as pop3/ requires).
 *  - Nothing here logs; the caller logs from the stats (and the relay its
 *    transactions). Passwords and message data never reach the stats or
 *    the trace.
 */
#ifndef SMTP_SERVER_H
#define SMTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pop3/server.h"   /* struct pop3_tls: the server certificate */
#include "smtp/relay.h"

struct smtp_session_config {
	/* Certificate for STARTTLS and implicit TLS; NULL: neither. Not owned. */
	struct pop3_tls *tls;
	bool implicit_tls;         /* TLS before the greeting (RFC 8314) */
	bool offer_starttls;       /* announce and accept STARTTLS */
	/* May AUTH be used before TLS (SPEC §6's plaintext rule, decided by
	 * the caller)? When false and not under TLS, EHLO announces no AUTH
	 * and AUTH is answered 538 5.7.11. */
	bool plaintext_auth_allowed;
	unsigned idle_timeout_s;   /* 0: SMTP_IDLE_TIMEOUT_DEFAULT_S */
	unsigned login_timeout_s;  /* 0: SMTP_LOGIN_TIMEOUT_DEFAULT_S */
	unsigned max_auth_failures;/* 0: SMTP_MAX_AUTH_FAILURES_DEFAULT */
	uint64_t (*clock_ms)(void);/* NULL: CLOCK_MONOTONIC */
	const char *hostname;      /* in the greeting and EHLO; NULL: "popbridge" */
	const char *remote_addr;   /* numeric; NULL is "" */
	/* Optional debug trace (commands by keyword only, never arguments that
	 * may hold secrets or addresses). */
	void (*trace)(void *trace_arg, const char *msg);
	void *trace_arg;
};

enum smtp_result {
	SMTP_RESULT_QUIT = 0,       /* QUIT */
	SMTP_RESULT_AUTH_FAILED,    /* ended without a login after a failed one */
	SMTP_RESULT_DROPPED,        /* the client closed the connection */
	SMTP_RESULT_TIMEOUT,        /* idle or login timeout */
	SMTP_RESULT_TOO_MANY_ERRORS,
	SMTP_RESULT_LINE_TOO_LONG,
	SMTP_RESULT_TLS_FAILED,
	SMTP_RESULT_UPSTREAM,       /* the relay lost the upstream (421) */
	SMTP_RESULT_ERROR,          /* internal failure */
};

/* "quit", "auth-failed", "dropped", "timeout", "too-many-errors",
 * "line-too-long", "tls-failed", "upstream", "error". */
const char *smtp_result_name(enum smtp_result r);

struct smtp_session_stats {
	enum smtp_result result;
	bool logged_in;
	char user[65];             /* last identity tried (printable, cut) */
	char mechanism[8];         /* "PLAIN", "LOGIN" or "" */
	char remote_addr[64];
	char tls_version[16];      /* "" without TLS */
	char reason[160];          /* the last failure; "" if none */
	unsigned auth_failures;
	unsigned transactions;     /* DATA ends with a 2xx reply */
	unsigned refused;          /* DATA ends with another reply */
	unsigned rcpts;            /* RCPTs accepted in all */
	uint64_t data_octets;      /* message octets accepted (unstuffed) */
	uint64_t bytes_in;
	uint64_t bytes_out;
};

/* Run one session on fd to its end, and close fd; stats is filled in
 * completely (zeroed first). Returns stats->result. */
enum smtp_result smtp_session_run(int fd, const struct smtp_session_config *cfg,
    const struct smtp_relay_ops *ops, void *backend, struct smtp_session_stats *stats);

#endif
