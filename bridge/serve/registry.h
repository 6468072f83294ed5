/* bridge/serve/registry.h — the running POP3 sessions of `popbridge serve`,
 * as the shutdown path needs them: shut every session's socket, wait for the
 * last session to end. (Admission limits are bridge/serve/sessions.h.)
 *
 * Contract:
 *  - serve_registry_add() is called by the listener thread for each admitted
 *    connection: it records the session with a duplicate of its socket. The
 *    session thread calls serve_registry_leave() exactly once when it is done;
 *    that closes the duplicate and frees the entry.
 *  - The duplicate descriptor keeps the socket alive while the entry exists,
 *    so serve_registry_shutdown_all() may shutdown(2) it from another thread
 *    without racing the session's own close() (the kernel reuses descriptor
 *    numbers, never a socket still referenced).
 *  - All functions are thread-safe (one mutex); nothing blocks under it.
 */
#ifndef BRIDGE_SERVE_REGISTRY_H
#define BRIDGE_SERVE_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>

struct serve_registry;
struct serve_reg_entry;

struct serve_registry *serve_registry_new(void);
/* Free an empty registry (serve_registry_count() == 0). NULL is a no-op. */
void serve_registry_free(struct serve_registry *r);

/* fd: the session's socket (duplicated here, not taken). NULL when out of
 * memory or descriptors. */
struct serve_reg_entry *serve_registry_add(struct serve_registry *r, int fd);
void serve_registry_leave(struct serve_registry *r, struct serve_reg_entry *e);

size_t serve_registry_count(struct serve_registry *r);
/* shutdown(SHUT_RDWR) every running session's socket: each session sees its
 * client gone and ends without committing. Returns how many. */
size_t serve_registry_shutdown_all(struct serve_registry *r);
/* Wait until no session is running or timeout_ms passed; true when empty. */
bool serve_registry_wait_empty(struct serve_registry *r, unsigned timeout_ms);

#endif
