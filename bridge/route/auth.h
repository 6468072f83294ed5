/* bridge/route/auth.h — one answer of nginx's auth_http protocol (SPEC
 * §14), without any I/O: the request's headers in, the answer's headers
 * out (bridge/base/http.h carries them).
 *
 * nginx asks `GET /auth` with, among others, Auth-User (the login name,
 * percent-encoded), Auth-Pass, Auth-Protocol (pop3, imap, smtp) and
 * Client-IP. The answer:
 *  - the account's node (bridge/route/pick.h) is up and has a listener for
 *    the protocol: `Auth-Status: OK`, `Auth-Server: IP` (a literal, without
 *    brackets: nginx takes nothing else), `Auth-Port: PORT`;
 *  - it is down: a temporary failure whose text nginx hands to the client
 *    verbatim — `Auth-Status: [SYS/TEMP] ...` (POP3, nginx writes "-ERR "
 *    before it), `[UNAVAILABLE] ...` (IMAP, after "TAG NO "), or the text
 *    with `Auth-Error-Code: 451 4.3.0` (SMTP) — and `Auth-Wait:
 *    ROUTE_AUTH_WAIT_S`, so nginx answers after that pause and lets the
 *    client try again on the same connection. Never `Auth-Status: WAIT`
 *    (nginx would hold the client silently and ask again for as long as the
 *    node is down) and never another node (it lacks the account's state);
 *  - it has no listener for the protocol (a configuration mistake): the
 *    same, with the codes an administrator must act on (`[SYS/PERM]`,
 *    `554 5.3.5`);
 *  - a request nginx would never send (no Auth-User or Auth-Protocol, an
 *    unknown protocol, bad percent-encoding, an empty or over-long name):
 *    status 400 with `Auth-Status: Invalid request` and `Auth-Wait`.
 *  The password is never looked at: the node checks it.
 */
#ifndef BRIDGE_ROUTE_AUTH_H
#define BRIDGE_ROUTE_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "bridge/base/http.h"
#include "bridge/route/node.h"

#define ROUTE_AUTH_WAIT_S 1
/* A decoded login name longer than this is refused: the POP3 engine's own
 * bound on a user name (pop3/limits.h, 255) with room to spare. */
#define ROUTE_USER_MAX 1024

enum route_result {
	ROUTE_R_OK,        /* routed */
	ROUTE_R_DOWN,      /* the account's node is down */
	ROUTE_R_NO_PORT,   /* the node has no listener for the protocol */
	ROUTE_R_BAD,       /* not a request nginx sends */
	ROUTE_R_INTERNAL,  /* hashing failed (out of memory) */
	ROUTE_R_COUNT
};
/* "ok", "down", "no_port", "bad_request", "internal": metrics label values. */
const char *route_result_name(enum route_result r);

struct route_auth_in {
	const char *user;       /* Auth-User as received (NULL: absent) */
	const char *protocol;   /* Auth-Protocol */
	const struct route_node *nodes;
	size_t n_nodes;
	const bool *up;         /* per node: its last health check passed */
	char sep;               /* the device separator; 0: none */
};

struct route_auth_out {
	enum route_result result;
	size_t node;            /* OK, DOWN, NO_PORT: the account's node */
	int proto;              /* enum route_proto, -1 when unknown */
};

void route_auth_answer(const struct route_auth_in *in, struct base_http_reply *rep,
    struct route_auth_out *out);

/* Percent-decoding as nginx encodes (every %XX, upper or lower case hex;
 * anything else is taken as it is): src into dst (at most cap octets, NUL
 * added, so cap includes it). -1 on a bad %-sequence, %00, or when it does
 * not fit. *len: octets decoded. */
int route_percent_decode(const char *src, char *dst, size_t cap, size_t *len);

#endif
