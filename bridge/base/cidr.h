/* bridge/base/cidr.h — address ranges (`--trusted-proxy CIDR`, SPEC §13).
 *
 * Contract:
 *  - base_cidr_parse() reads "ADDR/BITS" or a bare "ADDR" (a single host:
 *    /32 or /128). ADDR is numeric IPv4 or IPv6 (no brackets, no names:
 *    a trust rule must not depend on a resolver). BITS is a decimal number
 *    without sign or leading zero, at most 32 (IPv4) or 128 (IPv6). Host
 *    bits set below the prefix are refused ("10.0.0.1/8" is a typo more
 *    often than an intent). 0, or -1 with a message in err.
 *  - base_cidr_match() compares an address text (as accept() reports it,
 *    IPv4-mapped IPv6 "::ffff:a.b.c.d" counting as the IPv4 address) with
 *    a range. Non-numeric text never matches.
 */
#ifndef BRIDGE_BASE_CIDR_H
#define BRIDGE_BASE_CIDR_H

#include <stdbool.h>
#include <stddef.h>

struct base_cidr {
	unsigned char addr[16];  /* IPv4 in the first 4 octets */
	unsigned bits;
	bool ipv6;
};

int base_cidr_parse(const char *s, struct base_cidr *c, char *err, size_t errlen);
bool base_cidr_match(const struct base_cidr *c, const char *addr);
/* "10.0.0.0/8", "2001:db8::/32" into buf (INET6_ADDRSTRLEN + 4 is enough). */
const char *base_cidr_format(const struct base_cidr *c, char *buf, size_t len);

#endif
