/* imap/conn.h — a client byte transport: a TCP connection (host name, IPv4
 * or IPv6) with an optional OpenSSL 3 client TLS layer and deadlines.
 *
 * A public interface of imap/: the IMAP session runs on it, and so may any
 * other line protocol client that needs the same TCP + TLS + deadline rules
 * (bridge/migrate/pop3client.c, a POP3 client; an SMTP client next). It knows
 * nothing of IMAP beyond the optional progress budget below. Its users keep
 * struct imap_conn inside their own opaque objects, so their callers need
 * not include this header.
 *
 * Contract:
 *  - Every operation has a deadline of timeout_ms from its start: opening
 *    (name resolution and connecting to all addresses together), the TLS
 *    handshake, each read (returns as soon as any bytes are there) and each
 *    write (all bytes).
 *  - Between imap_conn_budget_begin and _end, reads and writes also end
 *    when the exchange's progress budget runs out (imap/limits.h: rate of
 *    IMAP_PROGRESS_OCTETS per timeout, reserve of IMAP_PROGRESS_RESERVE
 *    timeouts, hard cap of IMAP_COMMAND_TIMEOUTS timeouts unless uncapped),
 *    cause TIMEOUT. Without a budget (the POP3 client) nothing changes.
 *  - Host names are resolved in a detached thread that owns copies of its
 *    arguments; the caller waits at most until the deadline. IP literals
 *    never reach the resolver (AI_NUMERICHOST first).
 *  - Failures return -1 and set cause and err (printable ASCII, no data).
 *  - TLS verifies the peer: chain against the CA file or the system store,
 *    and verify_name against the certificate (an IP address against IP
 *    SANs, a DNS name against DNS SANs, SNI sent for DNS names only).
 *  - The process must ignore SIGPIPE (as pop3/ requires): OpenSSL writes
 *    with write(2). Plaintext writes use MSG_NOSIGNAL.
 */
#ifndef IMAP_CONN_H
#define IMAP_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct addrinfo;

#include "imap/imap.h"

/* The progress budget of one exchange (all times CLOCK_MONOTONIC ms). */
struct imap_budget {
	bool on;
	bool uncapped;            /* a body section streams: no hard cap */
	long long at_ms;          /* time counted up to here */
	long long reserve_ms;     /* time the server may still take */
	long long used_ms;        /* counted time towards the hard cap */
};

struct imap_conn {
	int fd;                   /* -1 when closed */
	void *ctx;                /* SSL_CTX *, NULL without TLS */
	void *ssl;                /* SSL *, NULL without TLS */
	int timeout_ms;
	enum imap_cause cause;    /* of the last failure */
	char err[160];
	struct imap_budget budget;
};

struct imap_tls_opts {
	const char *ca_file;      /* NULL: system store */
	const char *verify_name;
	enum imap_tls_version min;
};

void imap_conn_init(struct imap_conn *c, unsigned timeout_s);
int imap_conn_open(struct imap_conn *c, const char *host, unsigned port);
int imap_conn_start_tls(struct imap_conn *c, const struct imap_tls_opts *o);
/* Bytes read (> 0), or -1 (cause CLOSED on end of stream). */
ssize_t imap_conn_read(struct imap_conn *c, void *buf, size_t cap);
int imap_conn_write(struct imap_conn *c, const void *buf, size_t len);
/* Close (a TLS close_notify is attempted without waiting). */
void imap_conn_close(struct imap_conn *c);
/* "TLSv1.3" or NULL. */
const char *imap_conn_tls_version(const struct imap_conn *c);

/* Start (or restart) a progress budget; end it. Closing ends it too. */
void imap_conn_budget_begin(struct imap_conn *c);
void imap_conn_budget_end(struct imap_conn *c);
/* ms spent in the caller since the last read or write: not counted. */
void imap_conn_budget_skip(struct imap_conn *c, long long ms);
/* A message body section starts (true) or ends (false) streaming: while
 * uncapped, the hard cap neither applies nor counts. */
void imap_conn_budget_uncap(struct imap_conn *c, bool on);
/* CLOCK_MONOTONIC in ms. */
long long imap_conn_now_ms(void);

/* ---- the server side, and I/O that never waits (the IMAP front, SPEC §12) */

/* Take an accepted socket: c owns it from now on (non-blocking;
 * imap_conn_close closes it). Reads and writes have c's timeout as above. */
void imap_conn_adopt(struct imap_conn *c, int fd, unsigned timeout_s);
/* The server side of a TLS handshake on c, with ssl_ctx (an SSL_CTX * that
 * stays the caller's and must outlive c's TLS), within c->timeout_ms. -1
 * with cause and err on failure. */
int imap_conn_accept_tls(struct imap_conn *c, void *ssl_ctx);
/* One read or write that never waits: octets moved (> 0); 0 when nothing
 * can move now, with *want set to the poll() events to wait for (TLS may
 * need to write to read, and read to write); -1 with cause and err on
 * failure, cause CLOSED at the end of the stream. */
ssize_t imap_conn_read_some(struct imap_conn *c, void *buf, size_t cap, short *want);
ssize_t imap_conn_write_some(struct imap_conn *c, const void *buf, size_t len, short *want);
/* Octets TLS has decrypted but not handed out yet: poll() cannot see them,
 * so a reader asks before it waits. */
size_t imap_conn_pending(const struct imap_conn *c);

/* Give a logged-in session's connection away for a byte relay (the IMAP
 * front): *out gets the connection, *rest and *rest_len what the session has
 * read from the server but not parsed yet (the relay's first octets; valid
 * until imap_session_free). The session is left DISCONNECTED. Only between
 * commands with nothing sent ahead: -1 otherwise (nothing changes). */
int imap_session_detach(struct imap_session *s, struct imap_conn *out, const char **rest,
    size_t *rest_len);

/* The host-name lookup, getaddrinfo() unless a test replaced it (set it
 * only while no connection is being opened; NULL restores getaddrinfo).
 * Its results are freed with freeaddrinfo(). */
typedef int imap_resolve_fn(const char *host, const char *port,
    const struct addrinfo *hints, struct addrinfo **res);
void imap_conn_set_resolver(imap_resolve_fn *fn);
/* Lookups that timed out and are still running (see
 * IMAP_RESOLVE_STUCK_MAX). */
unsigned imap_conn_resolves_stuck(void);

#endif
