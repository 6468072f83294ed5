/* bridge/route/route.h — `popbridge route`: nginx's auth_http service for a
 * fleet of popbridge nodes (SPEC §14).
 *
 * Contract:
 *  - route_run() checks every node at once (bridge/route/check.h), serves
 *    HTTP on the listen address (bridge/base/http.h) once each node has had
 *    its first check, and runs until SIGTERM or SIGINT (then it stops
 *    accepting, ends its checks and returns 0). SIGHUP is logged and
 *    changes nothing (the node list is the command line).
 *  - GET /auth answers nginx (bridge/route/auth.h); GET /metrics the
 *    Prometheus text: popbridge_route_requests_total{node,result},
 *    popbridge_node_up{node}, popbridge_route_unrouted_total{reason},
 *    popbridge_route_checks_failed_total{node}; anything else 404.
 *  - Each node is checked every check_interval_s seconds from its own
 *    thread; a check takes at most min(interval, ROUTE_CHECK_TIMEOUT_S)
 *    seconds. A change of a node's state is one log line (event=node).
 *    Each auth request is a debug line (event=auth: protocol, client,
 *    node, result; never the user name or the password).
 *  - Bounds: ROUTE_HTTP_CONNECTIONS connections at once, 16 KiB of request
 *    line and headers each (an Auth-Pass of 1,024 octets percent-encoded is
 *    3 KiB), 10 s of silence. The request rate is nginx's: one request per
 *    login.
 */
#ifndef BRIDGE_ROUTE_ROUTE_H
#define BRIDGE_ROUTE_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#include "bridge/route/node.h"

#define ROUTE_CHECK_TIMEOUT_S 5
#define ROUTE_HTTP_CONNECTIONS 1024
#define ROUTE_DEFAULT_CHECK_INTERVAL_S 5

struct route_config {
	struct route_node nodes[ROUTE_NODES_MAX];
	size_t n_nodes;
	char listen_addr[INET6_ADDRSTRLEN];
	uint16_t listen_port;
	unsigned check_interval_s;
	char sep;                   /* the device separator */
};

/* The exit status: 0 after SIGTERM/SIGINT, 1 when it could not start (the
 * reason in err). */
int route_run(const struct route_config *cfg, char *err, size_t errlen);

#endif
