/* imap/conn.c — TCP and TLS client transport with deadlines (see conn.h). */
#include "imap/conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

static int set_err(struct imap_conn *c, enum imap_cause cause, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int set_err(struct imap_conn *c, enum imap_cause cause, const char *fmt, ...)
{
	va_list ap;
	c->cause = cause;
	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	return -1;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for events on fd until deadline: 1 ready, 0 timeout, -1 error. */
static int wait_fd(int fd, short events, long long deadline)
{
	for (;;) {
		long long left = deadline - now_ms();
		if (left <= 0)
			return 0;
		struct pollfd pfd = { .fd = fd, .events = events };
		int r = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
		if (r > 0)
			return 1;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

void imap_conn_init(struct imap_conn *c, unsigned timeout_s)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->timeout_ms = (int)(timeout_s ? timeout_s : IMAP_DEFAULT_TIMEOUT_S) * 1000;
}

static int connect_one(struct imap_conn *c, const struct addrinfo *ai, long long deadline)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    ai->ai_protocol);
	if (fd < 0)
		return set_err(c, IMAP_CAUSE_CONNECT, "socket: %s", strerror(errno));
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS) {
			set_err(c, IMAP_CAUSE_CONNECT, "connect: %s", strerror(errno));
			close(fd);
			return -1;
		}
		int w = wait_fd(fd, POLLOUT, deadline);
		if (w <= 0) {
			if (w == 0)
				set_err(c, IMAP_CAUSE_TIMEOUT, "connect: timed out");
			else
				set_err(c, IMAP_CAUSE_CONNECT, "connect: %s", strerror(errno));
			close(fd);
			return -1;
		}
		int soerr = 0;
		socklen_t sl = sizeof(soerr);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr) {
			set_err(c, IMAP_CAUSE_CONNECT, "connect: %s", strerror(soerr ? soerr : errno));
			close(fd);
			return -1;
		}
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->fd = fd;
	return 0;
}

int imap_conn_open(struct imap_conn *c, const char *host, unsigned port)
{
	struct addrinfo hints, *res = NULL;
	char portstr[16];
	long long deadline = now_ms() + c->timeout_ms;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(portstr, sizeof(portstr), "%u", port);
	int r = getaddrinfo(host, portstr, &hints, &res);
	if (r != 0)
		return set_err(c, IMAP_CAUSE_RESOLVE, "cannot resolve host: %s", gai_strerror(r));
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		if (connect_one(c, ai, deadline) == 0)
			break;
		if (c->cause == IMAP_CAUSE_TIMEOUT)
			break;
	}
	freeaddrinfo(res);
	return c->fd >= 0 ? 0 : -1;
}

static int tls_min_version(enum imap_tls_version v)
{
	switch (v) {
	case IMAP_TLS_1_0:
		return TLS1_VERSION;
	case IMAP_TLS_1_1:
		return TLS1_1_VERSION;
	case IMAP_TLS_1_3:
		return TLS1_3_VERSION;
	case IMAP_TLS_1_2:
	case IMAP_TLS_DEFAULT:
		break;
	}
	return TLS1_2_VERSION;
}

/* The OpenSSL error queue's first entry, then cleared. */
static const char *ssl_errstr(char *buf, size_t len)
{
	unsigned long e = ERR_get_error();
	if (e)
		ERR_error_string_n(e, buf, len);
	else
		snprintf(buf, len, "%s", "unexpected end of stream");
	ERR_clear_error();
	return buf;
}

int imap_conn_start_tls(struct imap_conn *c, const struct imap_tls_opts *o)
{
	char ebuf[120];
	long long deadline = now_ms() + c->timeout_ms;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		return set_err(c, IMAP_CAUSE_TLS, "TLS context: %s", ssl_errstr(ebuf, sizeof(ebuf)));
	c->ctx = ctx;
	int minv = tls_min_version(o->min);
	SSL_CTX_set_min_proto_version(ctx, minv);
	if (minv < TLS1_2_VERSION)
		SSL_CTX_set_security_level(ctx, 0);  /* old servers, by explicit choice */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (o->ca_file) {
		if (SSL_CTX_load_verify_locations(ctx, o->ca_file, NULL) != 1)
			return set_err(c, IMAP_CAUSE_TLS, "cannot load CA file: %s",
			    ssl_errstr(ebuf, sizeof(ebuf)));
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
		return set_err(c, IMAP_CAUSE_TLS, "cannot load the system trust store: %s",
		    ssl_errstr(ebuf, sizeof(ebuf)));
	}
	SSL *ssl = SSL_new(ctx);
	if (!ssl)
		return set_err(c, IMAP_CAUSE_TLS, "TLS: %s", ssl_errstr(ebuf, sizeof(ebuf)));
	c->ssl = ssl;
	SSL_set_fd(ssl, c->fd);
	X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
	unsigned char ipbuf[16];
	if (inet_pton(AF_INET, o->verify_name, ipbuf) == 1 ||
	    inet_pton(AF_INET6, o->verify_name, ipbuf) == 1) {
		if (X509_VERIFY_PARAM_set1_ip_asc(vp, o->verify_name) != 1)
			return set_err(c, IMAP_CAUSE_TLS, "bad address to verify");
	} else {
		X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (X509_VERIFY_PARAM_set1_host(vp, o->verify_name, 0) != 1 ||
		    SSL_set_tlsext_host_name(ssl, o->verify_name) != 1)
			return set_err(c, IMAP_CAUSE_TLS, "bad host name to verify");
	}
	for (;;) {
		ERR_clear_error();
		int r = SSL_connect(ssl);
		if (r == 1)
			break;
		int e = SSL_get_error(ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			int w = wait_fd(c->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
			if (w == 0)
				return set_err(c, IMAP_CAUSE_TIMEOUT, "TLS handshake timed out");
			if (w < 0)
				return set_err(c, IMAP_CAUSE_IO, "TLS handshake: %s", strerror(errno));
			continue;
		}
		long vr = SSL_get_verify_result(ssl);
		if (vr != X509_V_OK)
			return set_err(c, IMAP_CAUSE_TLS_VERIFY, "certificate verification failed: %s",
			    X509_verify_cert_error_string(vr));
		return set_err(c, IMAP_CAUSE_TLS, "TLS handshake failed: %s",
		    ssl_errstr(ebuf, sizeof(ebuf)));
	}
	return 0;
}

ssize_t imap_conn_read(struct imap_conn *c, void *buf, size_t cap)
{
	long long deadline = now_ms() + c->timeout_ms;
	char ebuf[120];
	if (c->fd < 0)
		return set_err(c, IMAP_CAUSE_CLOSED, "not connected");
	for (;;) {
		if (c->ssl) {
			ERR_clear_error();
			int r = SSL_read(c->ssl, buf, cap > INT32_MAX ? INT32_MAX : (int)cap);
			if (r > 0) {
				/* Take whatever else is already there (TLS records
				 * arrive a few KB at a time), without waiting. */
				size_t got = (size_t)r;
				while (got < cap) {
					ERR_clear_error();
					size_t room = cap - got;
					r = SSL_read(c->ssl, (char *)buf + got,
					    room > INT32_MAX ? INT32_MAX : (int)room);
					if (r <= 0)
						break;  /* a failure shows again on the next call */
					got += (size_t)r;
				}
				ERR_clear_error();
				return (ssize_t)got;
			}
			int e = SSL_get_error(c->ssl, r);
			if (e == SSL_ERROR_ZERO_RETURN)
				return set_err(c, IMAP_CAUSE_CLOSED, "connection closed by the server");
			if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
				return set_err(c, IMAP_CAUSE_CLOSED,
				    "connection closed by the server%s%s", errno ? ": " : "",
				    errno ? strerror(errno) : "");
			if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
				return set_err(c, IMAP_CAUSE_TLS, "TLS read: %s",
				    ssl_errstr(ebuf, sizeof(ebuf)));
			int w = wait_fd(c->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
			if (w == 0)
				return set_err(c, IMAP_CAUSE_TIMEOUT, "read timed out");
			if (w < 0)
				return set_err(c, IMAP_CAUSE_IO, "read: %s", strerror(errno));
		} else {
			ssize_t r = recv(c->fd, buf, cap, 0);
			if (r > 0)
				return r;
			if (r == 0)
				return set_err(c, IMAP_CAUSE_CLOSED, "connection closed by the server");
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				return set_err(c, IMAP_CAUSE_IO, "read: %s", strerror(errno));
			int w = wait_fd(c->fd, POLLIN, deadline);
			if (w == 0)
				return set_err(c, IMAP_CAUSE_TIMEOUT, "read timed out");
			if (w < 0)
				return set_err(c, IMAP_CAUSE_IO, "read: %s", strerror(errno));
		}
	}
}

int imap_conn_write(struct imap_conn *c, const void *vbuf, size_t len)
{
	const char *buf = vbuf;
	long long deadline = now_ms() + c->timeout_ms;
	char ebuf[120];
	if (c->fd < 0)
		return set_err(c, IMAP_CAUSE_CLOSED, "not connected");
	while (len > 0) {
		short want = POLLOUT;
		if (c->ssl) {
			ERR_clear_error();
			int r = SSL_write(c->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
			if (r > 0) {
				buf += r;
				len -= (size_t)r;
				continue;
			}
			int e = SSL_get_error(c->ssl, r);
			if (e == SSL_ERROR_WANT_READ)
				want = POLLIN;
			else if (e != SSL_ERROR_WANT_WRITE)
				return set_err(c, e == SSL_ERROR_SYSCALL ? IMAP_CAUSE_CLOSED : IMAP_CAUSE_TLS,
				    "TLS write: %s", e == SSL_ERROR_SYSCALL && errno ? strerror(errno) :
				    ssl_errstr(ebuf, sizeof(ebuf)));
		} else {
			ssize_t r = send(c->fd, buf, len, MSG_NOSIGNAL);
			if (r > 0) {
				buf += r;
				len -= (size_t)r;
				continue;
			}
			if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				return set_err(c, errno == EPIPE || errno == ECONNRESET ?
				    IMAP_CAUSE_CLOSED : IMAP_CAUSE_IO, "write: %s", strerror(errno));
		}
		int w = wait_fd(c->fd, want, deadline);
		if (w == 0)
			return set_err(c, IMAP_CAUSE_TIMEOUT, "write timed out");
		if (w < 0)
			return set_err(c, IMAP_CAUSE_IO, "write: %s", strerror(errno));
	}
	return 0;
}

void imap_conn_close(struct imap_conn *c)
{
	if (c->ssl) {
		ERR_clear_error();
		SSL_shutdown(c->ssl);  /* non-blocking: one attempt */
		SSL_free(c->ssl);
		ERR_clear_error();
		c->ssl = NULL;
	}
	if (c->ctx) {
		SSL_CTX_free(c->ctx);
		c->ctx = NULL;
	}
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
}

const char *imap_conn_tls_version(const struct imap_conn *c)
{
	return c->ssl ? SSL_get_version(c->ssl) : NULL;
}
