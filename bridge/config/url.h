/* bridge/config/url.h — the one parser of network addresses in bridge/:
 * HOST:PORT (listeners) and SCHEME://HOST[:PORT] URLs (the upstream IMAP
 * server, import-uidls' old POP3 server, and later ones), each caller
 * passing its schemes as a table.
 *
 * Contract:
 *  - HOST is a DNS host name (letters, digits and inner hyphens, labels of
 *    1..63, at most 253 octets; all-numeric names must be IPv4 addresses),
 *    a dotted IPv4 address, or an IPv6 address in brackets ([::1]); an IPv6
 *    address without brackets is refused with a hint. The endpoint holds the
 *    host without brackets and says whether it is IPv6.
 *  - PORT is decimal, 1..65535 (config_parse_uint: no sign, no spaces).
 *  - A URL is SCHEME://HOST[:PORT] with an optional "/" at the end; the
 *    scheme is matched without regard to case; credentials (user@), a path,
 *    query or fragment are refused; no port means the scheme's default.
 *  - 0, or -1 with one line in err naming the value (printable, cut).
 */
#ifndef BRIDGE_CONFIG_URL_H
#define BRIDGE_CONFIG_URL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge/config/options.h"

/* One URL scheme a caller accepts. */
struct config_url_scheme {
	const char *name;       /* "imaps", without "://" */
	uint16_t port;          /* its default port */
	bool implicit_tls;      /* TLS from the first byte (RFC 8314) */
};

/* What config_hostport_parse() requires. */
#define CONFIG_HOSTPORT_NUMERIC 1u   /* the host is an IP address, not a name */
#define CONFIG_HOSTPORT_PORT    2u   /* ":PORT" must be there (else port 0) */

int config_hostport_parse(const char *s, unsigned flags, struct config_endpoint *ep,
    char *err, size_t errlen);

/* s against the n schemes of table; *scheme: the one it uses. */
int config_url_parse(const char *s, const struct config_url_scheme *table, size_t n,
    const struct config_url_scheme **scheme, struct config_endpoint *ep,
    char *err, size_t errlen);

#endif
