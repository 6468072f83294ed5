/* bridge/maildrop/throttle.h — the failed-login delay per client address (SPEC §6).
 *
 * Each failed login (wrong credentials; not [IN-USE]) from an address is
 * answered after a delay: 2 s for the first, then doubling, never more than
 * 15 s (2, 4, 8, 15, 15, ...). A successful login from the address, or 15
 * minutes without a failure from it, starts it over. Addresses are counted
 * as base_addrkey_make() says (IPv6 by /64).
 *
 * The table holds at most `capacity` addresses; when it is full the entry
 * whose last failure is oldest makes room. Thread-safe (one mutex). The
 * clock is injectable so tests never sleep.
 */
#ifndef BRIDGE_MAILDROP_THROTTLE_H
#define BRIDGE_MAILDROP_THROTTLE_H

#include <stddef.h>
#include <stdint.h>

#define PB_THROTTLE_FIRST_MS   2000u
#define PB_THROTTLE_MAX_MS     15000u
#define PB_THROTTLE_RESET_MS   (15u * 60u * 1000u)
#define PB_THROTTLE_CAPACITY   4096   /* default table size */

/* A monotonic clock in milliseconds. */
typedef uint64_t maildrop_clock_fn(void *arg);
uint64_t maildrop_clock_monotonic_ms(void *arg);

struct maildrop_throttle;

/* clock NULL: maildrop_clock_monotonic_ms. NULL when out of memory. */
struct maildrop_throttle *maildrop_throttle_new(size_t capacity, maildrop_clock_fn *clock, void *clock_arg);
void maildrop_throttle_free(struct maildrop_throttle *t);

/* Record a failed login from addr; returns the delay in ms to wait before
 * answering it. */
unsigned maildrop_throttle_failure(struct maildrop_throttle *t, const char *addr);
/* A successful login from addr: forget its failures. */
void maildrop_throttle_success(struct maildrop_throttle *t, const char *addr);
/* Failures counted now for addr (0 when none or expired). */
unsigned maildrop_throttle_failures(struct maildrop_throttle *t, const char *addr);
/* Addresses in the table. */
size_t maildrop_throttle_size(struct maildrop_throttle *t);

#endif
