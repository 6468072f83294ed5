/* bridge/base/cidr.c — see cidr.h. */
#include "bridge/base/cidr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "bridge/base/errbuf.h"

/* Is every bit of a[] from `bits` on zero? */
static bool host_bits_clear(const unsigned char *a, size_t n, unsigned bits)
{
	for (size_t i = 0; i < n; i++) {
		unsigned keep = bits >= 8 * (i + 1) ? 8 : bits > 8 * i ? bits - 8 * (unsigned)i : 0;
		unsigned char mask = keep == 8 ? 0xff : (unsigned char)(0xff << (8 - keep));
		if ((a[i] & (unsigned char)~mask) != 0)
			return false;
	}
	return true;
}

static bool prefix_equal(const unsigned char *a, const unsigned char *b, unsigned bits)
{
	size_t whole = bits / 8;
	if (memcmp(a, b, whole) != 0)
		return false;
	unsigned rest = bits % 8;
	if (rest == 0)
		return true;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (a[whole] & mask) == (b[whole] & mask);
}

int base_cidr_parse(const char *s, struct base_cidr *c, char *err, size_t errlen)
{
	char host[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t hl = slash != NULL ? (size_t)(slash - s) : strlen(s);

	memset(c, 0, sizeof(*c));
	if (hl == 0 || hl >= sizeof(host))
		return base_errf(err, errlen, "'%.60s' is not an address range (ADDR or ADDR/BITS)", s);
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (inet_pton(AF_INET, host, c->addr) == 1) {
		c->ipv6 = false;
		c->bits = 32;
	} else if (inet_pton(AF_INET6, host, c->addr) == 1) {
		c->ipv6 = true;
		c->bits = 128;
	} else {
		return base_errf(err, errlen, "'%.60s' is not a numeric IPv4 or IPv6 address", host);
	}
	if (slash != NULL) {
		const char *b = slash + 1;
		unsigned v = 0;
		size_t nd = strspn(b, "0123456789");
		if (nd == 0 || nd > 3 || b[nd] != '\0' || (nd > 1 && b[0] == '0'))
			return base_errf(err, errlen, "'%.60s': the prefix length is not a number", s);
		for (size_t i = 0; i < nd; i++)
			v = v * 10 + (unsigned)(b[i] - '0');
		if (v > c->bits)
			return base_errf(err, errlen, "'%.60s': the prefix length is at most %u", s, c->bits);
		c->bits = v;
	}
	if (!host_bits_clear(c->addr, c->ipv6 ? 16 : 4, c->bits))
		return base_errf(err, errlen, "'%.60s' has bits set below its prefix length", s);
	return 0;
}

bool base_cidr_match(const struct base_cidr *c, const char *addr)
{
	unsigned char a[16];
	static const unsigned char mapped[12] = { [10] = 0xff, [11] = 0xff };

	if (addr == NULL)
		return false;
	if (inet_pton(AF_INET, addr, a) == 1)
		return !c->ipv6 && prefix_equal(a, c->addr, c->bits);
	if (inet_pton(AF_INET6, addr, a) != 1)
		return false;
	if (memcmp(a, mapped, sizeof(mapped)) == 0 && !c->ipv6)
		return prefix_equal(a + 12, c->addr, c->bits);
	return c->ipv6 && prefix_equal(a, c->addr, c->bits);
}

const char *base_cidr_format(const struct base_cidr *c, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (inet_ntop(c->ipv6 ? AF_INET6 : AF_INET, c->addr, host, sizeof(host)) == NULL)
		host[0] = '\0';
	snprintf(buf, len, "%s/%u", host, c->bits);
	return buf;
}
