/* bridge/base/keycount.h — a table of byte-string keys with a count each.
 *
 * take() adds one to a key's count unless it has reached `limit`, and
 * returns the key's node; give() takes one away and frees the node at zero.
 * The building block of the device locks (limit 1) and the per-address
 * session counts. Keys compare as bytes: callers normalise them first.
 *
 * Not thread-safe: the owner (devlock.c, sessions.c) holds its own mutex
 * around every call. Memory is one node per key with a non-zero count.
 */
#ifndef BRIDGE_BASE_KEYCOUNT_H
#define BRIDGE_BASE_KEYCOUNT_H

#include <stdbool.h>
#include <stddef.h>

struct base_keycount;
struct base_keycount_node;

/* NULL when out of memory. */
struct base_keycount *base_keycount_new(void);
/* Frees the table and any nodes still counted. */
void base_keycount_free(struct base_keycount *kc);

/* The key's node after adding one, or NULL: *at_limit true when the count
 * already was `limit`, false when out of memory. */
struct base_keycount_node *base_keycount_take(struct base_keycount *kc, const void *key,
    size_t len, unsigned limit, bool *at_limit);
/* One less for the node's key (a node from take(), given once per take). */
void base_keycount_give(struct base_keycount *kc, struct base_keycount_node *node);
/* The key's count (0 when absent). */
unsigned base_keycount_get(const struct base_keycount *kc, const void *key, size_t len);
/* How many keys have a non-zero count. */
size_t base_keycount_size(const struct base_keycount *kc);

#endif
