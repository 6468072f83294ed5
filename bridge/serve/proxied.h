/* bridge/serve/proxied.h — reading the PROXY protocol header of a
 * connection from a trusted proxy (SPEC §13), before anything else is read
 * from it.
 *
 * Contract:
 *  - serve_proxied_read() reads exactly the header's octets from fd (never
 *    one more: what follows is the client's POP3 or TLS), waiting at most
 *    until deadline_ms (CLOCK_MONOTONIC ms, base_clock_ms). 0 with *hdr
 *    filled (hdr->local: keep the connection's own address); -1 with a
 *    short reason in err when the bytes are not a valid header, the peer
 *    closed, or the deadline passed. The parser (bridge/guard/proxy.h)
 *    bounds what is read at GUARD_PROXY_MAX octets.
 *  - fd is a blocking socket; it is only read.
 */
#ifndef BRIDGE_SERVE_PROXIED_H
#define BRIDGE_SERVE_PROXIED_H

#include <stddef.h>
#include <stdint.h>

#include "bridge/guard/proxy.h"

int serve_proxied_read(int fd, uint64_t deadline_ms, struct guard_proxy_hdr *hdr, char *err,
    size_t errlen);

#endif
