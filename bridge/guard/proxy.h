/* bridge/guard/proxy.h — the HAProxy PROXY protocol header (v1 text, v2
 * binary) that a trusted load balancer or nginx puts before a client's
 * bytes (SPEC §13 `--proxy-protocol`, `--trusted-proxy`).
 *
 * Contract:
 *  - guard_proxy_parse() looks at the first n octets received on a
 *    connection (no socket: the caller peeks or buffers) and answers
 *      GUARD_PROXY_MORE  the bytes so far may start a valid header: read
 *                        more (hdr->need: at least this many octets in all);
 *      GUARD_PROXY_DONE  a valid header of hdr->len octets; consume exactly
 *                        those, what follows is the client's;
 *      GUARD_PROXY_BAD   not a valid header: close the connection.
 *    Its answer for a prefix never contradicts its answer for the whole
 *    (DONE/BAD are final), so input may arrive split anywhere.
 *  - Bounds: a v1 header is at most GUARD_PROXY_V1_MAX octets (107, CRLF
 *    included, the protocol's limit); a v2 header at most
 *    GUARD_PROXY_V2_MAX (16 + 2048: the address block and TLVs, which are
 *    skipped). Longer is BAD, so a caller never buffers more than
 *    GUARD_PROXY_MAX.
 *  - DONE with hdr->local set (v2 LOCAL, v2 PROXY over UNSPEC or UNIX, v1
 *    "PROXY UNKNOWN"): a health check or a proxy that knows no client
 *    address; the connection keeps the proxy's own address. Otherwise
 *    hdr->addr/port are the client's source address (numeric text, IPv4
 *    dotted or IPv6) and port. v2 over UDP is BAD (a stream is not a
 *    datagram); v1 addresses must parse in the family named, ports are
 *    decimal 0..65535 without leading zeros.
 */
#ifndef BRIDGE_GUARD_PROXY_H
#define BRIDGE_GUARD_PROXY_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GUARD_PROXY_V1_MAX 107
#define GUARD_PROXY_V2_MAX (16 + 2048)
#define GUARD_PROXY_MAX GUARD_PROXY_V2_MAX

enum guard_proxy_result { GUARD_PROXY_MORE, GUARD_PROXY_DONE, GUARD_PROXY_BAD };

struct guard_proxy_hdr {
	size_t len;                    /* DONE: octets the header takes */
	size_t need;                   /* MORE: octets needed at least */
	bool local;                    /* DONE: keep the connection's address */
	int version;                   /* 1 or 2 (DONE) */
	char addr[INET6_ADDRSTRLEN];   /* DONE, !local: the client's address */
	uint16_t port;
};

enum guard_proxy_result guard_proxy_parse(const unsigned char *buf, size_t n,
    struct guard_proxy_hdr *hdr);

#endif
