/* bridge/devlock.h — one POP3 session per (account, device) at a time.
 *
 * pb_devlock_acquire() either takes the device's lock into the caller's
 * `struct pb_devlock` or answers PB_DEVLOCK_IN_USE at once (the RFC 1939
 * maildrop lock; the session answers -ERR [IN-USE]); it never waits.
 * pb_devlock_release() gives it back and empties the hold, so a second
 * release of the same hold does nothing: however a session ends, the lock
 * is released exactly once. Account and device names compare ASCII
 * case-insensitively, the rule state/ and the configuration sections
 * follow too: "alice#PC" and "Alice#pc" are one device, so one lock.
 *
 * Thread-safe (one mutex). A table is freed only when no lock is held.
 */
#ifndef BRIDGE_DEVLOCK_H
#define BRIDGE_DEVLOCK_H

#include <stdbool.h>
#include <stddef.h>

#define PB_DEVLOCK_NAME_MAX 512  /* bytes of an account or device name */

enum pb_devlock_result {
	PB_DEVLOCK_OK,
	PB_DEVLOCK_IN_USE,
	PB_DEVLOCK_NOMEM,
	PB_DEVLOCK_INVALID,   /* a name is empty or longer than the maximum */
};

struct pb_devlocks;
struct pb_keycount_node;

/* A held lock; zero-initialise or let acquire() fill it. */
struct pb_devlock {
	struct pb_devlocks *table;
	struct pb_keycount_node *node;   /* NULL: nothing held */
};

struct pb_devlocks *pb_devlocks_new(void);
void pb_devlocks_free(struct pb_devlocks *t);

enum pb_devlock_result pb_devlock_acquire(struct pb_devlocks *t, const char *account,
    const char *device, struct pb_devlock *hold);
void pb_devlock_release(struct pb_devlock *hold);
bool pb_devlock_held(const struct pb_devlock *hold);
/* Locks held right now. */
size_t pb_devlocks_count(struct pb_devlocks *t);

#endif
