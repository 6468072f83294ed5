/* imap/conn.h — the byte transport under an IMAP session: a TCP connection
 * (host name, IPv4 or IPv6) with an optional OpenSSL 3 client TLS layer.
 * Internal to imap/.
 *
 * Contract:
 *  - Every operation has a deadline of timeout_ms from its start: connect
 *    (over all addresses), the TLS handshake, each read (returns as soon as
 *    any bytes are there) and each write (all bytes).
 *  - Failures return -1 and set cause and err (printable ASCII, no data).
 *  - TLS verifies the peer: chain against the CA file or the system store,
 *    and verify_name against the certificate (an IP address against IP
 *    SANs, a DNS name against DNS SANs, SNI sent for DNS names only).
 *  - The process must ignore SIGPIPE (as pop3/ requires): OpenSSL writes
 *    with write(2). Plaintext writes use MSG_NOSIGNAL.
 */
#ifndef IMAP_CONN_H
#define IMAP_CONN_H

#include <stddef.h>
#include <sys/types.h>

#include "imap/imap.h"

struct imap_conn {
	int fd;                   /* -1 when closed */
	void *ctx;                /* SSL_CTX *, NULL without TLS */
	void *ssl;                /* SSL *, NULL without TLS */
	int timeout_ms;
	enum imap_cause cause;    /* of the last failure */
	char err[160];
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

#endif
