/* bridge/route/check.c — a node's health check (see check.h). */
#include "bridge/route/check.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bridge/base/clock.h"
#include "bridge/base/errbuf.h"
#include "bridge/base/text.h"

/* signature, version 2 + LOCAL, UNSPEC, no address block */
const unsigned char route_proxy_v2_local[16] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
	0x20, 0x00, 0x00, 0x00,
};

static int left_ms(uint64_t deadline)
{
	uint64_t now = base_clock_ms(NULL);
	return now >= deadline ? 0 : (int)(deadline - now);
}

/* Wait for fd to be ready for events until deadline: 1 ready, 0 time up,
 * -1 error. */
static int wait_fd(int fd, short events, uint64_t deadline)
{
	for (;;) {
		int ms = left_ms(deadline);
		if (ms == 0)
			return 0;
		struct pollfd p = { .fd = fd, .events = events };
		int r = poll(&p, 1, ms);
		if (r < 0 && errno == EINTR)
			continue;
		return r < 0 ? -1 : r;
	}
}

static int send_all(int fd, const void *buf, size_t len, uint64_t deadline)
{
	const char *p = buf;
	while (len > 0) {
		if (wait_fd(fd, POLLOUT, deadline) <= 0)
			return -1;
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* One line (up to LF) into buf; 0, or -1 (closed, too long, time up). */
static int read_line(int fd, char *buf, size_t cap, uint64_t deadline, const char **why)
{
	size_t have = 0;
	for (;;) {
		int w = wait_fd(fd, POLLIN, deadline);
		if (w <= 0) {
			*why = w == 0 ? "no answer in time" : "poll failed";
			return -1;
		}
		ssize_t n = recv(fd, buf + have, cap - 1 - have, MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			*why = n == 0 ? "closed without a greeting" : "connection reset";
			return -1;
		}
		have += (size_t)n;
		buf[have] = '\0';
		if (memchr(buf, '\n', have))
			return 0;
		if (have >= cap - 1) {
			*why = "greeting line too long";
			return -1;
		}
	}
}

int route_check_node(const struct route_node *nd, unsigned timeout_ms, char *why, size_t len)
{
	uint64_t deadline = base_clock_ms(NULL) + timeout_ms;
	struct sockaddr_storage ss;
	socklen_t sl;
	char line[ROUTE_CHECK_LINE_MAX + 1];
	const char *reason = NULL;
	int rc = -1;

	memset(&ss, 0, sizeof(ss));
	if (nd->ipv6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(nd->port[ROUTE_POP3]);
		inet_pton(AF_INET6, nd->addr, &a->sin6_addr);
		sl = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_port = htons(nd->port[ROUTE_POP3]);
		inet_pton(AF_INET, nd->addr, &a->sin_addr);
		sl = sizeof(*a);
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return base_errf(why, len, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&ss, sl) != 0 && errno != EINPROGRESS) {
		base_errf(why, len, "connect: %s", strerror(errno));
		goto out;
	}
	int w = wait_fd(fd, POLLOUT, deadline);
	int soerr = 0;
	socklen_t el = sizeof(soerr);
	if (w <= 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &el) != 0 || soerr != 0) {
		base_errf(why, len, "connect: %s", w == 0 ? "no answer in time" :
		    strerror(soerr ? soerr : errno));
		goto out;
	}
	if (send_all(fd, route_proxy_v2_local, sizeof(route_proxy_v2_local), deadline) != 0) {
		base_errf(why, len, "sending the PROXY header failed");
		goto out;
	}
	if (read_line(fd, line, sizeof(line), deadline, &reason) != 0) {
		base_errf(why, len, "%s", reason);
		goto out;
	}
	if (strncmp(line, "+OK", 3) != 0) {
		char shown[80];
		line[strcspn(line, "\r\n")] = '\0';
		base_text_printable_str(shown, sizeof(shown), line);
		base_errf(why, len, "greeting: %s", shown);
		goto out;
	}
	rc = 0;
	/* A polite end: the node logs a session that quit, not one dropped. */
	if (send_all(fd, "QUIT\r\n", 6, deadline) == 0)
		(void)read_line(fd, line, sizeof(line), deadline, &reason);
out:
	close(fd);
	return rc;
}
