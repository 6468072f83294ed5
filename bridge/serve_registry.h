/* bridge/serve_registry.h — the running POP3 sessions of `popbridge serve`,
 * as the shutdown path needs them: shut every session's socket, wait for the
 * last session to end. (Admission limits are bridge/sessions.h.)
 *
 * Contract:
 *  - pb_registry_add() is called by the listener thread for each admitted
 *    connection: it records the session with a duplicate of its socket. The
 *    session thread calls pb_registry_leave() exactly once when it is done;
 *    that closes the duplicate and frees the entry.
 *  - The duplicate descriptor keeps the socket alive while the entry exists,
 *    so pb_registry_shutdown_all() may shutdown(2) it from another thread
 *    without racing the session's own close() (the kernel reuses descriptor
 *    numbers, never a socket still referenced).
 *  - All functions are thread-safe (one mutex); nothing blocks under it.
 */
#ifndef BRIDGE_SERVE_REGISTRY_H
#define BRIDGE_SERVE_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>

struct pb_registry;
struct pb_reg_entry;

struct pb_registry *pb_registry_new(void);
/* Free an empty registry (pb_registry_count() == 0). NULL is a no-op. */
void pb_registry_free(struct pb_registry *r);

/* fd: the session's socket (duplicated here, not taken). NULL when out of
 * memory or descriptors. */
struct pb_reg_entry *pb_registry_add(struct pb_registry *r, int fd);
void pb_registry_leave(struct pb_registry *r, struct pb_reg_entry *e);

size_t pb_registry_count(struct pb_registry *r);
/* shutdown(SHUT_RDWR) every running session's socket: each session sees its
 * client gone and ends without committing. Returns how many. */
size_t pb_registry_shutdown_all(struct pb_registry *r);
/* Wait until no session is running or timeout_ms passed; true when empty. */
bool pb_registry_wait_empty(struct pb_registry *r, unsigned timeout_ms);

#endif
