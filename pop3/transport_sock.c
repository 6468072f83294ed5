/* pop3/transport_sock.c — the transport over a connected socket: poll()
 * bounds every wait, OpenSSL provides TLS after start_tls(). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "pop3/tls_internal.h"
#include "pop3/transport.h"

struct sock_transport {
	struct pop3_transport base;
	int fd;
	struct pop3_tls *tls;
	SSL *ssl;
	char err[160];
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until fd is ready for events or deadline passes: 0 ready,
 * POP3_IO_TIMEOUT, POP3_IO_ERROR. */
static int wait_fd(struct sock_transport *st, short events, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - now_ms();
		if (left <= 0)
			return POP3_IO_TIMEOUT;
		struct pollfd p = { .fd = st->fd, .events = events };
		int r = poll(&p, 1, left > 1000000 ? 1000000 : (int)left);
		if (r > 0)
			return 0; /* errors and hangups show in the next I/O call */
		if (r == 0)
			continue;
		if (errno != EINTR) {
			snprintf(st->err, sizeof(st->err), "poll: %s", strerror(errno));
			return POP3_IO_ERROR;
		}
	}
}

static void ssl_err(struct sock_transport *st, const char *what, int e)
{
	char ossl[120] = "";
	unsigned long code = ERR_peek_last_error();

	if (code != 0)
		ERR_error_string_n(code, ossl, sizeof(ossl));
	else if (e == SSL_ERROR_SYSCALL)
		snprintf(ossl, sizeof(ossl), "%s", errno ? strerror(errno) : "connection closed");
	snprintf(st->err, sizeof(st->err), "%s: %s", what, ossl[0] ? ossl : "failed");
	ERR_clear_error();
}

/* After an SSL call returned r <= 0: 1 retry after waiting (done here),
 * 0 end of stream, or POP3_IO_*. */
static int ssl_retry(struct sock_transport *st, int r, int64_t deadline, const char *what)
{
	int e = SSL_get_error(st->ssl, r);
	int w;

	switch (e) {
	case SSL_ERROR_WANT_READ:
		w = wait_fd(st, POLLIN, deadline);
		return w == 0 ? 1 : w;
	case SSL_ERROR_WANT_WRITE:
		w = wait_fd(st, POLLOUT, deadline);
		return w == 0 ? 1 : w;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	default:
		ssl_err(st, what, e);
		return POP3_IO_ERROR;
	}
}

static ssize_t sock_read(struct pop3_transport *t, void *buf, size_t len, int timeout_ms)
{
	struct sock_transport *st = (struct sock_transport *)t;
	int64_t deadline = now_ms() + timeout_ms;

	if (len > INT32_MAX)
		len = INT32_MAX;
	for (;;) {
		if (st->ssl != NULL) {
			ERR_clear_error();
			int r = SSL_read(st->ssl, buf, (int)len);
			if (r > 0)
				return r;
			int k = ssl_retry(st, r, deadline, "TLS read");
			if (k != 1)
				return k;
			continue;
		}
		ssize_t n = recv(st->fd, buf, len, 0);
		if (n >= 0)
			return n;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			int w = wait_fd(st, POLLIN, deadline);
			if (w != 0)
				return w;
		} else if (errno != EINTR) {
			snprintf(st->err, sizeof(st->err), "read: %s", strerror(errno));
			return POP3_IO_ERROR;
		}
	}
}

/* timeout_ms bounds each wait for progress, not the whole write. */
static int sock_write(struct pop3_transport *t, const void *buf, size_t len, int timeout_ms)
{
	struct sock_transport *st = (struct sock_transport *)t;
	const char *p = buf;

	while (len > 0) {
		int64_t deadline = now_ms() + timeout_ms;
		size_t chunk = len > INT32_MAX ? INT32_MAX : len;
		if (st->ssl != NULL) {
			ERR_clear_error();
			int r = SSL_write(st->ssl, p, (int)chunk);
			if (r > 0) {
				p += r;
				len -= (size_t)r;
				continue;
			}
			int k = ssl_retry(st, r, deadline, "TLS write");
			if (k == 0)
				return POP3_IO_ERROR;
			if (k != 1)
				return k;
			continue;
		}
		ssize_t n = send(st->fd, p, chunk, MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int w = wait_fd(st, POLLOUT, deadline);
			if (w != 0)
				return w;
		} else if (n < 0 && errno != EINTR) {
			snprintf(st->err, sizeof(st->err), "write: %s", strerror(errno));
			return POP3_IO_ERROR;
		}
	}
	return 0;
}

static int sock_start_tls(struct pop3_transport *t, int timeout_ms)
{
	struct sock_transport *st = (struct sock_transport *)t;
	int64_t deadline = now_ms() + timeout_ms;

	if (st->tls == NULL || st->ssl != NULL) {
		snprintf(st->err, sizeof(st->err), "TLS not available");
		return POP3_IO_ERROR;
	}
	ERR_clear_error();
	st->ssl = SSL_new(pop3_tls_ssl_ctx(st->tls));
	if (st->ssl == NULL || SSL_set_fd(st->ssl, st->fd) != 1) {
		ssl_err(st, "TLS setup", SSL_ERROR_SSL);
		return POP3_IO_ERROR;
	}
	for (;;) {
		ERR_clear_error();
		int r = SSL_accept(st->ssl);
		if (r == 1)
			return 0;
		int k = ssl_retry(st, r, deadline, "TLS handshake");
		if (k == 0) {
			snprintf(st->err, sizeof(st->err), "TLS handshake: connection closed");
			return POP3_IO_ERROR;
		}
		if (k != 1)
			return k;
	}
}

static const char *sock_tls_version(const struct pop3_transport *t)
{
	const struct sock_transport *st = (const struct sock_transport *)t;
	return st->ssl != NULL ? SSL_get_version(st->ssl) : NULL;
}

static const char *sock_last_error(const struct pop3_transport *t)
{
	return ((const struct sock_transport *)t)->err;
}

static void sock_close(struct pop3_transport *t)
{
	struct sock_transport *st = (struct sock_transport *)t;

	if (st->ssl != NULL) {
		if (SSL_is_init_finished(st->ssl))
			SSL_shutdown(st->ssl); /* one attempt, never waits */
		SSL_free(st->ssl);
		ERR_clear_error();
	}
	close(st->fd);
	pop3_tls_unref(st->tls);
	free(st);
}

static const struct pop3_transport_ops sock_ops = {
	.read = sock_read,
	.write = sock_write,
	.start_tls = sock_start_tls,
	.tls_version = sock_tls_version,
	.close = sock_close,
	.last_error = sock_last_error,
};

struct pop3_transport *pop3_transport_sock_new(int fd, struct pop3_tls *tls)
{
	struct sock_transport *st = calloc(1, sizeof(*st));

	if (st == NULL) {
		close(fd);
		return NULL;
	}
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	/* Every response is written whole from the engine's output buffer, so
	 * Nagle's algorithm only adds a delayed-ACK stall (40 ms on Linux) to
	 * the last, short segment of each reply. Fails harmlessly on non-TCP
	 * sockets (tests use socketpairs). */
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	st->base.ops = &sock_ops;
	st->fd = fd;
	st->tls = pop3_tls_ref(tls);
	return &st->base;
}
