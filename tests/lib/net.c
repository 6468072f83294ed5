/* tests/lib/net.c — blocking loopback socket helpers for tests. See net.h.
 *
 * timeout_ms bounds each wait for more data (an inactivity timeout), so a
 * large transfer that keeps flowing is never cut off. Reads never consume a
 * byte past what was asked for (MSG_PEEK on sockets), so a caller can mix
 * pbt_readline and pbt_read_until on one connection.
 */
#include "tests/lib/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PBT_SEND_TIMEOUT_MS 30000

int pbt_connect(const char *host, int port)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	memset(&ss, 0, sizeof(ss));
	if (port <= 0 || port > 65535) {
		fprintf(stderr, "pbt_connect: bad port %d\n", port);
		return -1;
	}
	if (host == NULL || strcmp(host, "127.0.0.1") == 0 || strcmp(host, "localhost") == 0) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sslen = sizeof(*sin);
	} else if (strcmp(host, "::1") == 0) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		sin6->sin6_addr = in6addr_loopback;
		sslen = sizeof(*sin6);
	} else {
		fprintf(stderr, "pbt_connect: only loopback is allowed, not '%s'\n", host);
		return -1;
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("pbt_connect: socket");
		return -1;
	}
	while (connect(fd, (struct sockaddr *)&ss, sslen) < 0) {
		if (errno == EINTR)
			continue;
		fprintf(stderr, "pbt_connect: port %d: %s\n", port, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int pbt_free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("pbt_free_port: socket");
		return -1;
	}
	struct sockaddr_in sin;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = 0;
	socklen_t len = sizeof(sin);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) < 0) {
		perror("pbt_free_port: bind");
		close(fd);
		return -1;
	}
	close(fd);
	return ntohs(sin.sin_port);
}

/* Wait until fd is ready for `events`; 1 ready, 0 timeout, -1 error. */
static int wait_fd(int fd, short events, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	for (;;) {
		int r = poll(&p, 1, timeout_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		return r > 0 ? 1 : 0;
	}
}

int pbt_send(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		int w = wait_fd(fd, POLLOUT, PBT_SEND_TIMEOUT_MS);
		if (w <= 0) {
			fprintf(stderr, "pbt_send: %s\n", w == 0 ? "timeout" : strerror(errno));
			return -1;
		}
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == ENOTSOCK)
			n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			fprintf(stderr, "pbt_send: %s\n", strerror(errno));
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int pbt_sendstr(int fd, const char *s)
{
	return pbt_send(fd, s, strlen(s));
}

/* Wait for data, then peek at up to len bytes without consuming them.
 * Returns bytes available, 0 on EOF, -1 on timeout/error (reported). On a
 * non-socket fd (a pipe) it reads one byte instead and sets *consumed. */
static ssize_t peek_some(int fd, char *buf, size_t len, int timeout_ms, int *consumed,
    const char *who)
{
	*consumed = 0;
	for (;;) {
		int w = wait_fd(fd, POLLIN, timeout_ms);
		if (w <= 0) {
			fprintf(stderr, "%s: %s\n", who, w == 0 ? "timeout" : strerror(errno));
			return -1;
		}
		ssize_t n = recv(fd, buf, len, MSG_PEEK | MSG_DONTWAIT);
		if (n < 0 && errno == ENOTSOCK) {
			n = read(fd, buf, 1);
			*consumed = 1;
		}
		if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
			continue;
		if (n < 0) {
			fprintf(stderr, "%s: %s\n", who, strerror(errno));
			return -1;
		}
		return n;
	}
}

/* Consume exactly len bytes that a peek showed are available. */
static int consume(int fd, char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = recv(fd, buf, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read into *buf (grown up to max) until it ends with `end` (or EOF when end
 * is NULL). Returns total length or -1. */
static ssize_t read_until_into(int fd, char **bufp, size_t *capp, const char *end,
    size_t max, int timeout_ms, const char *who)
{
	size_t have = 0, endlen = end ? strlen(end) : 0;
	char *buf = *bufp;
	for (;;) {
		if (have + 1 >= *capp) {
			if (*capp >= max + 1) {
				fprintf(stderr, "%s: more than %zu bytes\n", who, max);
				return -1;
			}
			size_t ncap = *capp * 2;
			if (ncap > max + 1)
				ncap = max + 1;
			char *nb = realloc(buf, ncap);
			if (nb == NULL) {
				fprintf(stderr, "%s: out of memory\n", who);
				return -1;
			}
			buf = *bufp = nb;
			*capp = ncap;
		}
		int consumed;
		size_t room = *capp - 1 - have;
		ssize_t n = peek_some(fd, buf + have, room, timeout_ms, &consumed, who);
		if (n < 0)
			return -1;
		if (n == 0) {
			if (end == NULL) {
				buf[have] = '\0';
				return (ssize_t)have;
			}
			fprintf(stderr, "%s: connection closed\n", who);
			return -1;
		}
		/* How much of the peeked data belongs to us: up to the end marker. */
		size_t take = (size_t)n;
		if (end != NULL) {
			size_t start = have >= endlen ? have - endlen + 1 : 0;
			size_t limit = have + (size_t)n;
			for (size_t i = start; i + endlen <= limit; i++) {
				if (memcmp(buf + i, end, endlen) == 0) {
					take = i + endlen - have;
					break;
				}
			}
		}
		if (!consumed && consume(fd, buf + have, take) < 0) {
			fprintf(stderr, "%s: read failed\n", who);
			return -1;
		}
		have += take;
		buf[have] = '\0';
		if (end != NULL && have >= endlen && memcmp(buf + have - endlen, end, endlen) == 0)
			return (ssize_t)have;
	}
}

ssize_t pbt_readline(int fd, char *buf, size_t len, int timeout_ms)
{
	if (len < 2)
		return -1;
	/* Bounded by len: read into a scratch buffer of the same capacity. */
	size_t cap = len;
	char *tmp = malloc(cap);
	if (tmp == NULL)
		return -1;
	ssize_t n = read_until_into(fd, &tmp, &cap, "\n", len - 1, timeout_ms, "pbt_readline");
	if (n >= 0)
		memcpy(buf, tmp, (size_t)n + 1);
	else
		buf[0] = '\0';
	free(tmp);
	return n;
}

/* A malloc'd read until `end` (or EOF when end is NULL). */
static char *read_alloc(int fd, const char *end, size_t max, int timeout_ms,
    size_t *outlen, const char *who)
{
	size_t cap = 4096;
	char *buf = malloc(cap);
	if (buf == NULL)
		return NULL;
	ssize_t n = read_until_into(fd, &buf, &cap, end, max, timeout_ms, who);
	if (n < 0) {
		free(buf);
		return NULL;
	}
	if (outlen)
		*outlen = (size_t)n;
	return buf;
}

char *pbt_read_until(int fd, const char *end, size_t max, int timeout_ms, size_t *outlen)
{
	return read_alloc(fd, end, max, timeout_ms, outlen, "pbt_read_until");
}

char *pbt_read_all(int fd, size_t max, int timeout_ms, size_t *outlen)
{
	return read_alloc(fd, NULL, max, timeout_ms, outlen, "pbt_read_all");
}
