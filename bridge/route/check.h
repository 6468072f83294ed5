/* bridge/route/check.h — one health check of a node (SPEC §14).
 *
 * Contract: connect to the node's POP3 listener, send a PROXY protocol v2
 * LOCAL header (16 octets: nodes behind nginx read a header from their
 * trusted proxies, and LOCAL keeps the checker's own address), read the
 * greeting line; a greeting starting "+OK" is a node up, then "QUIT" is sent
 * and its answer awaited (so the node logs a clean session) before the
 * connection is closed. Anything else — refused, no greeting within the
 * time, an "-ERR" greeting (a node full or refusing) — is a node down, with
 * the reason in why. The whole check takes at most timeout_ms; a greeting
 * line is read up to ROUTE_CHECK_LINE_MAX octets.
 */
#ifndef BRIDGE_ROUTE_CHECK_H
#define BRIDGE_ROUTE_CHECK_H

#include <stddef.h>

#include "bridge/route/node.h"

#define ROUTE_CHECK_LINE_MAX 512   /* a POP3 response line (RFC 2449: 512) */

/* The PROXY v2 LOCAL header the check starts with. */
extern const unsigned char route_proxy_v2_local[16];

/* 0: up; -1: down, why says so. */
int route_check_node(const struct route_node *n, unsigned timeout_ms, char *why, size_t len);

#endif
