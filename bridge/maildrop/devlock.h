/* bridge/maildrop/devlock.h — one POP3 session per (account, device) at a time.
 *
 * maildrop_devlock_acquire() either takes the device's lock into the caller's
 * `struct maildrop_devlock` or answers PB_DEVLOCK_IN_USE at once (the RFC 1939
 * maildrop lock; the session answers -ERR [IN-USE]); it never waits.
 * maildrop_devlock_release() gives it back and empties the hold, so a second
 * release of the same hold does nothing: however a session ends, the lock
 * is released exactly once. Account and device names compare ASCII
 * case-insensitively, the rule state/ and the configuration sections
 * follow too: "alice#PC" and "Alice#pc" are one device, so one lock.
 *
 * Thread-safe (one mutex). A table is freed only when no lock is held.
 */
#ifndef BRIDGE_MAILDROP_DEVLOCK_H
#define BRIDGE_MAILDROP_DEVLOCK_H

#include <stdbool.h>
#include <stddef.h>

enum maildrop_devlock_result {
	PB_DEVLOCK_OK,
	PB_DEVLOCK_IN_USE,
	PB_DEVLOCK_NOMEM,
	PB_DEVLOCK_INVALID,   /* a name is empty or longer than state's
	                         STATE_ACCOUNT_MAX / STATE_DEVICE_MAX */
};

struct maildrop_devlocks;
struct base_keycount_node;

/* A held lock; zero-initialise or let acquire() fill it. */
struct maildrop_devlock {
	struct maildrop_devlocks *table;
	struct base_keycount_node *node;   /* NULL: nothing held */
};

struct maildrop_devlocks *maildrop_devlocks_new(void);
void maildrop_devlocks_free(struct maildrop_devlocks *t);

enum maildrop_devlock_result maildrop_devlock_acquire(struct maildrop_devlocks *t, const char *account,
    const char *device, struct maildrop_devlock *hold);
void maildrop_devlock_release(struct maildrop_devlock *hold);
bool maildrop_devlock_held(const struct maildrop_devlock *hold);
/* Locks held right now. */
size_t maildrop_devlocks_count(struct maildrop_devlocks *t);

#endif
