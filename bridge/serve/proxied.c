/* bridge/serve/proxied.c — see proxied.h. The parser says how many octets
 * it needs at least; asking for exactly those never reads past the header
 * (a v1 header is read up to its CR LF one octet at a time after the
 * first six, at most 107 reads; a v2 header in two). */
#include "bridge/serve/proxied.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include "bridge/base/clock.h"
#include "bridge/base/errbuf.h"

int serve_proxied_read(int fd, uint64_t deadline_ms, struct guard_proxy_hdr *hdr, char *err,
    size_t errlen)
{
	unsigned char buf[GUARD_PROXY_MAX];
	size_t have = 0;

	for (;;) {
		enum guard_proxy_result r = guard_proxy_parse(buf, have, hdr);
		if (r == GUARD_PROXY_DONE)
			return 0;
		if (r == GUARD_PROXY_BAD)
			return base_errf(err, errlen, "not a valid PROXY protocol header");
		if (hdr->need > sizeof(buf) || hdr->need <= have)
			return base_errf(err, errlen, "PROXY header too long");
		uint64_t now = base_clock_ms(NULL);
		if (now >= deadline_ms)
			return base_errf(err, errlen, "no PROXY header in time");
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint64_t left = deadline_ms - now;
		int pr = poll(&p, 1, left > 60000 ? 60000 : (int)left);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0)
			return base_errf(err, errlen, "poll: %s", strerror(errno));
		if (pr == 0)
			continue;
		ssize_t n = recv(fd, buf + have, hdr->need - have, 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return base_errf(err, errlen, "reading the PROXY header: %s", strerror(errno));
		if (n == 0)
			return base_errf(err, errlen, "closed before the PROXY header ended");
		have += (size_t)n;
	}
}
