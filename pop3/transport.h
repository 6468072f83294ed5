/* pop3/transport.h — the byte stream a POP3 session runs over.
 *
 * The protocol engine (pop3/session.h) reads and writes only through this
 * small interface, so tests and the fuzzer drive it from memory buffers
 * while pop3/transport_sock.c runs it over a socket with poll()-bounded
 * I/O and OpenSSL.
 *
 * Contract for an implementation:
 *  - read() returns 1..len octets, 0 at end of stream, POP3_IO_TIMEOUT when
 *    nothing arrived within timeout_ms, POP3_IO_ERROR on any other failure.
 *  - write() writes all len octets, or fails: POP3_IO_TIMEOUT when no
 *    progress was possible for timeout_ms, POP3_IO_ERROR otherwise. 0 = done.
 *  - start_tls() performs the server side TLS handshake on the stream now
 *    (the engine has already discarded whatever it had buffered, RFC 2595);
 *    0 on success, POP3_IO_* on failure (the session then ends). After it,
 *    read/write carry TLS.
 *  - tls_version() names the negotiated protocol ("TLSv1.3"), or NULL
 *    without TLS.
 *  - close() ends the stream and frees the transport; called exactly once.
 */
#ifndef POP3_TRANSPORT_H
#define POP3_TRANSPORT_H

#include <stddef.h>
#include <sys/types.h>

#include "pop3/server.h"

#define POP3_IO_TIMEOUT (-2)
#define POP3_IO_ERROR (-1)

struct pop3_transport;

struct pop3_transport_ops {
	ssize_t (*read)(struct pop3_transport *t, void *buf, size_t len, int timeout_ms);
	int (*write)(struct pop3_transport *t, const void *buf, size_t len, int timeout_ms);
	int (*start_tls)(struct pop3_transport *t, int timeout_ms);
	const char *(*tls_version)(const struct pop3_transport *t);
	void (*close)(struct pop3_transport *t);
	/* A short reason for the last failure (e.g. the OpenSSL error); may be
	 * NULL or return "". */
	const char *(*last_error)(const struct pop3_transport *t);
};

/* Implementations embed this as their first member. */
struct pop3_transport {
	const struct pop3_transport_ops *ops;
};

/* The socket transport: fd (made non-blocking; closed by close()), with
 * TLS from tls (may be NULL: then start_tls fails). Takes a reference on
 * tls and drops it at close(). NULL when out of memory (fd is then closed). */
struct pop3_transport *pop3_transport_sock_new(int fd, struct pop3_tls *tls);

#endif
