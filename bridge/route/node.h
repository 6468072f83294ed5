/* bridge/route/node.h — the nodes of a fleet as `popbridge route` is told
 * them (SPEC §14): `--node NAME=IP:PORT[,imap=PORT][,smtp=PORT]`.
 *
 * Contract:
 *  - NAME is what the rendezvous hash weighs (bridge/route/pick.h), so it
 *    must stay the same for as long as the node holds its accounts: 1 to
 *    ROUTE_NAME_MAX characters of A-Z a-z 0-9 . _ - (it is also a metrics
 *    label value). Names are unique in a list, compared ASCII
 *    case-insensitively (two names differing only in case would be two
 *    nodes to the hash and one to a reader).
 *  - IP:PORT is the node's POP3 listener: a numeric IPv4 address or a
 *    bracketed IPv6 one (nginx's Auth-Server takes nothing but an IP
 *    literal), and a port 1..65535. imap=PORT and smtp=PORT, each at most
 *    once, name the node's IMAP and SMTP listeners on the same address.
 *  - At most ROUTE_NODES_MAX nodes.
 *  - 0, or -1 with one line in err (the value shown printable and cut).
 */
#ifndef BRIDGE_ROUTE_NODE_H
#define BRIDGE_ROUTE_NODE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A fleet of 64 nodes of a few thousand accounts each is far beyond the
 * ISPs of issue 17; every auth request hashes the account once per node. */
#define ROUTE_NODES_MAX 64
#define ROUTE_NAME_MAX 64

/* The protocols nginx asks for (Auth-Protocol). */
enum route_proto { ROUTE_POP3, ROUTE_IMAP, ROUTE_SMTP, ROUTE_PROTO_COUNT };

struct route_node {
	char name[ROUTE_NAME_MAX + 1];
	char addr[INET6_ADDRSTRLEN];       /* numeric, without brackets */
	bool ipv6;
	uint16_t port[ROUTE_PROTO_COUNT];  /* 0: the node has no such listener */
};

int route_node_parse(const char *spec, struct route_node *out, char *err, size_t errlen);
/* The node-name rule alone: 0 valid, -1 not. */
int route_name_check(const char *name);
/* The list as a whole: 1..ROUTE_NODES_MAX nodes, names unique. */
int route_nodes_check(const struct route_node *nodes, size_t n, char *err, size_t errlen);
/* "pop3", "imap", "smtp". */
const char *route_proto_name(enum route_proto p);
/* The protocol named (case-insensitively) by s; -1 when none. */
int route_proto_lookup(const char *s);

#endif
