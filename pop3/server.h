/* pop3/server.h — the POP3 engine as bridge/ uses it: a TLS server context
 * and one call that runs a whole POP3 session on a connected socket.
 *
 * Contract:
 *  - pop3_session_run() runs in the caller's thread (one thread per session,
 *    docs/DESIGN.md) and returns when the session is over. It owns the socket
 *    from the call on and always closes it before returning.
 *  - It reaches mail only through the maildrop ops (pop3/maildrop.h): open()
 *    at the first login attempt that reaches it, close() exactly once per
 *    successful open(), commit() only for QUIT in TRANSACTION state.
 *  - A connection not logged in by the login timeout, or after
 *    max_auth_failures failed logins, is closed.
 *  - A dropped connection, an idle timeout, too many bad commands, a TLS
 *    failure or a mid-stream RETR/TOP failure commits nothing (close() only).
 *  - Every read and write is bounded by poll() with the idle timeout; the
 *    engine never blocks longer than that on the client (the maildrop bounds
 *    its own calls). Memory per session is bounded (pop3/limits.h).
 *  - The process must ignore SIGPIPE (signal(SIGPIPE, SIG_IGN)): OpenSSL
 *    writes to the socket with write(2), which would otherwise raise it when
 *    a client goes away.
 *  - Nothing here logs; the caller writes one log line per session from the
 *    stats. Passwords and message bodies never reach the stats or the trace.
 */
#ifndef POP3_SERVER_H
#define POP3_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pop3/maildrop.h"

/* ---- TLS server context ---------------------------------------------------
 *
 * A loaded certificate chain and key, and the minimum protocol version. It is
 * reference counted so a configuration reload (SIGHUP) can build a new one
 * for new sessions while running sessions keep the one they started with:
 *
 *   new = pop3_tls_new(...);            // on SIGHUP; keep the old one on error
 *   lock; old = current; current = new; unlock; pop3_tls_unref(old);
 *   // per accepted connection, under the same lock:
 *   lock; t = pop3_tls_ref(current); unlock; ... pop3_session_run(...t...);
 *   pop3_tls_unref(t);
 *
 * ref/unref are atomic and may be called from any thread; the context itself
 * is immutable after pop3_tls_new() and shared by every session using it.
 */
struct pop3_tls;

enum pop3_tls_version {
	POP3_TLS_1_0 = 10,
	POP3_TLS_1_1 = 11,
	POP3_TLS_1_2 = 12, /* the default (SPEC §6, RFC 8996) */
	POP3_TLS_1_3 = 13,
};

/* Parse "1.0", "1.1", "1.2" or "1.3" (also "TLSv1.2" style). 0 and *out set,
 * or -1 for anything else. */
int pop3_tls_version_parse(const char *s, enum pop3_tls_version *out);

/* Load the PEM certificate chain (leaf first) and the PEM private key, check
 * that they match, and set the minimum version. Below 1.2 the OpenSSL
 * security level is lowered to 0 so that old devices (SHA-1 signatures,
 * legacy ciphers) can connect at all; that is the administrator's explicit
 * choice. Returns a context with one reference, or NULL with a one-line
 * reason (file, OpenSSL error) in err. */
struct pop3_tls *pop3_tls_new(const char *cert_file, const char *key_file,
    enum pop3_tls_version min_version, char *err, size_t errlen);
/* Take one more reference; returns t (NULL passes through). */
struct pop3_tls *pop3_tls_ref(struct pop3_tls *t);
/* Drop one reference; the last one frees the context. NULL is ignored. */
void pop3_tls_unref(struct pop3_tls *t);
/* Its OpenSSL SSL_CTX, valid while a reference is held: the other front
 * ends of `serve` (the IMAP front) serve TLS with the same certificate and
 * settings. */
struct ssl_ctx_st;
struct ssl_ctx_st *pop3_tls_ssl_ctx(const struct pop3_tls *t);

/* ---- per-session configuration -------------------------------------------- */

struct pop3_session_config {
	/* TLS context for STLS and implicit TLS; NULL when no certificate is
	 * configured (then neither is possible). Not owned: the caller holds a
	 * reference for the duration of pop3_session_run(). */
	struct pop3_tls *tls;
	/* Implicit TLS (RFC 8314): the handshake happens before the greeting.
	 * Requires tls. */
	bool implicit_tls;
	/* Offer and accept STLS (RFC 2595) while not yet under TLS. Requires
	 * tls; ignored with implicit_tls. */
	bool offer_stls;
	/* May USER/PASS and AUTH PLAIN/LOGIN be used before TLS? The caller
	 * decides per SPEC §6 (loopback, managed mode, --allow-plaintext-auth).
	 * Under TLS they are always allowed. When false and not under TLS, CAPA
	 * lists neither USER nor SASL, and USER, PASS and AUTH answer
	 * "-ERR [AUTH] Plaintext authentication disallowed ...". */
	bool plaintext_auth_allowed;
	/* Seconds of client silence (or of a client not reading) before the
	 * session ends; 0 means POP3_IDLE_TIMEOUT_DEFAULT_S (600, RFC 1939). */
	unsigned idle_timeout_s;
	/* Seconds from the start of pop3_session_run() (the caller runs it
	 * right after accept) until a connection must have logged in; then it
	 * is answered "-ERR Login timeout, closing." and closed. Every wait
	 * before login ends by then. 0 means POP3_LOGIN_TIMEOUT_DEFAULT_S. */
	unsigned login_timeout_s;
	/* Failed logins on one connection after which it is closed, the last
	 * one answered first; 0 means POP3_MAX_AUTH_FAILURES_DEFAULT. */
	unsigned max_auth_failures;
	/* Monotonic clock in milliseconds for the login deadline; NULL means
	 * CLOCK_MONOTONIC (tests pass a fake one). */
	uint64_t (*clock_ms)(void);
	/* CAPA IMPLEMENTATION value (printable ASCII, no CR/LF); NULL omits. */
	const char *implementation;
	/* CAPA EXPIRE value: "NEVER" for popbridge, or days as decimal; NULL
	 * omits the tag. */
	const char *expire;
	/* CAPA LOGIN-DELAY value in seconds; 0 omits the tag. In TRANSACTION
	 * the maildrop's login_delay() decides when it has one. */
	unsigned login_delay_s;
	/* Before login, follow the value with "USER" (RFC 2449 §6.5: the delay
	 * may differ per user; CAPA after login tells this user's). */
	bool login_delay_per_user;
	/* Numeric address of the client: passed to open() in the credentials
	 * and copied into the stats. Not owned; NULL is taken as "". */
	const char *remote_addr;
	/* Optional debug trace: state changes, commands (the keyword only for
	 * USER/PASS/AUTH, never arguments that may hold secrets), errors. NULL
	 * for none. Called from the session thread. */
	void (*trace)(void *trace_arg, const char *msg);
	void *trace_arg;
};

/* ---- per-session results, for the caller's one log line ------------------- */

/* How the session ended. */
enum pop3_result {
	POP3_RESULT_QUIT = 0,      /* QUIT in AUTHORIZATION state */
	POP3_RESULT_COMMITTED,     /* QUIT in TRANSACTION, commit succeeded */
	POP3_RESULT_COMMIT_FAILED, /* QUIT in TRANSACTION, commit failed */
	POP3_RESULT_AUTH_FAILED,   /* ended (QUIT, drop, timeout or the
	                              max_auth_failures-th failure) without a
	                              login after at least one failed attempt */
	POP3_RESULT_DROPPED,       /* the client closed or reset the connection */
	POP3_RESULT_TIMEOUT,       /* idle timeout, or the login timeout */
	POP3_RESULT_TOO_MANY_ERRORS, /* POP3_MAX_BAD_COMMANDS bad commands in a
	                                row (before login: in all) */
	POP3_RESULT_LINE_TOO_LONG, /* a line passed POP3_LINE_HARD_MAX */
	POP3_RESULT_TLS_FAILED,    /* TLS handshake (implicit or STLS) failed */
	POP3_RESULT_FETCH_FAILED,  /* RETR/TOP failed after +OK was sent: the
	                              connection is closed because the client
	                              could not otherwise tell a truncated
	                              message from a complete one */
	POP3_RESULT_ERROR,         /* internal failure (e.g. out of memory) */
};

/* A short lower-case name: "quit", "committed", "commit-failed",
 * "auth-failed", "dropped", "timeout", "too-many-errors", "line-too-long",
 * "tls-failed", "fetch-failed", "error". */
const char *pop3_result_name(enum pop3_result r);

struct pop3_session_stats {
	enum pop3_result result;
	bool logged_in;          /* open() succeeded */
	char user[65];           /* last identity tried (truncated, printable
	                            ASCII; other bytes shown as '?'); "" if none */
	char mechanism[8];       /* "USER", "PLAIN", "LOGIN" or "" */
	char remote_addr[64];    /* from the config */
	char tls_version[16];    /* e.g. "TLSv1.3"; "" without TLS */
	char reason[160];        /* the last failure: "[CODE] text" of a
	                            maildrop error, a TLS error; "" if none */
	unsigned auth_failures;  /* logins refused for wrong credentials
	                            ([AUTH]); [IN-USE], [SYS/...] etc. are
	                            not counted but show in reason */
	size_t messages;         /* count() at login */
	unsigned retr_count;     /* RETRs completed */
	uint64_t retr_octets;    /* their octets (pop3_msg_info.size definition) */
	unsigned top_count;      /* TOPs completed */
	uint64_t top_octets;
	unsigned dele_count;     /* messages marked at QUIT (committed or not) */
	uint64_t bytes_in;       /* octets read from the client (after TLS) */
	uint64_t bytes_out;      /* octets written to the client (before TLS) */
};

/* Run one POP3 session on the connected socket fd (blocking or not; the
 * engine makes it non-blocking) to its end, and close fd. ops/backend reach
 * the mail (backend is passed to ops->open). stats is filled in completely
 * (zeroed first). Returns stats->result. */
enum pop3_result pop3_session_run(int fd, const struct pop3_session_config *cfg,
    const struct pop3_maildrop_ops *ops, void *backend,
    struct pop3_session_stats *stats);

#endif
