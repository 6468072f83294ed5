/* bridge/route/pick.h — which node holds an account: rendezvous (highest
 * random weight) hashing of the node names with the account (SPEC §14).
 *
 * Contract:
 *  - The account key of a login name is the part before the first device
 *    separator (the whole name without one), folded to ASCII lower case:
 *    "Alice#Phone" and "alice" are one account, as for the state file
 *    (bridge/base/username.h). Octets above 0x7F are kept as they are.
 *  - A node's weight for a key is the first 8 octets, read as a big-endian
 *    unsigned number, of SHA-256(NAME || 0x00 || KEY) — NAME exactly as
 *    configured. The node with the highest weight holds the account; of two
 *    equal weights the name that sorts first (strcmp) wins. The function is
 *    fixed: changing it would move every account of every fleet, so it is
 *    part of the contract (docs/FLEET.md), tested with known values.
 *  - Every configured node takes part, up or down: adding a node moves only
 *    the accounts it now wins, removing one moves only its own, and a node's
 *    address or ports never matter.
 */
#ifndef BRIDGE_ROUTE_PICK_H
#define BRIDGE_ROUTE_PICK_H

#include <stddef.h>
#include <stdint.h>

#include "bridge/route/node.h"

/* The key of user[0..len) into out (at most cap octets, no NUL added);
 * returns its length. */
size_t route_account_key(const char *user, size_t len, char sep, char *out, size_t cap);
/* The weight into *w: 0, or -1 when OpenSSL could not hash (out of
 * memory): never a guess. */
int route_weight(const char *name, const char *key, size_t keylen, uint64_t *w);
/* The index of the node that holds key (n >= 1) into *idx: 0, or -1 as
 * route_weight(). */
int route_pick(const struct route_node *nodes, size_t n, const char *key, size_t keylen,
    size_t *idx);

#endif
