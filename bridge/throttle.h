/* bridge/throttle.h — the failed-login delay per client address (SPEC §6).
 *
 * Each failed login (wrong credentials; not [IN-USE]) from an address is
 * answered after a delay: 2 s for the first, then doubling, never more than
 * 15 s (2, 4, 8, 15, 15, ...). A successful login from the address, or 15
 * minutes without a failure from it, starts it over. Addresses are counted
 * as pb_addrkey_make() says (IPv6 by /64).
 *
 * The table holds at most `capacity` addresses; when it is full the entry
 * whose last failure is oldest makes room. Thread-safe (one mutex). The
 * clock is injectable so tests never sleep.
 */
#ifndef BRIDGE_THROTTLE_H
#define BRIDGE_THROTTLE_H

#include <stddef.h>
#include <stdint.h>

#define PB_THROTTLE_FIRST_MS   2000u
#define PB_THROTTLE_MAX_MS     15000u
#define PB_THROTTLE_RESET_MS   (15u * 60u * 1000u)
#define PB_THROTTLE_CAPACITY   4096   /* default table size */

/* A monotonic clock in milliseconds. */
typedef uint64_t pb_clock_fn(void *arg);
uint64_t pb_clock_monotonic_ms(void *arg);

struct pb_throttle;

/* clock NULL: pb_clock_monotonic_ms. NULL when out of memory. */
struct pb_throttle *pb_throttle_new(size_t capacity, pb_clock_fn *clock, void *clock_arg);
void pb_throttle_free(struct pb_throttle *t);

/* Record a failed login from addr; returns the delay in ms to wait before
 * answering it. */
unsigned pb_throttle_failure(struct pb_throttle *t, const char *addr);
/* A successful login from addr: forget its failures. */
void pb_throttle_success(struct pb_throttle *t, const char *addr);
/* Failures counted now for addr (0 when none or expired). */
unsigned pb_throttle_failures(struct pb_throttle *t, const char *addr);
/* Addresses in the table. */
size_t pb_throttle_size(struct pb_throttle *t);

#endif
