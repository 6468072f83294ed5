/* bridge/guard/throttle.h — the failed-login delay (SPEC §6, §13), one table
 * for every front end.
 *
 * Failures are counted per (client address, account name) — a "pair" — and,
 * more leniently, per client address alone. Addresses count as
 * base_addrkey_make() says (IPv6 by /64); account names as given (cut to
 * GUARD_ACCOUNT_MAX octets).
 *
 * Contract:
 *  - delay(n) is 0 for n = 0, else 2 s doubling up to 15 s: 2, 4, 8, 15, ...
 *  - guard_throttle_admit() is called before the credential check of every
 *    login attempt and answers how long to wait before checking. Checks of
 *    one pair are spaced delay(failures of the pair) apart, and checks from
 *    one address delay(failures of the address - GUARD_ADDR_GRACE) apart:
 *    each admission reserves the next start, so parallel connections
 *    queue behind each other instead of guessing side by side. A wait
 *    over GUARD_THROTTLE_MAX_MS reserves nothing: the caller refuses the
 *    attempt without a check (answered as a failed login after
 *    GUARD_THROTTLE_MAX_MS), so the queue of one pair or address never
 *    holds more than 15 s of checks. A caller whose wait would pass its
 *    login deadline gives up without a check too.
 *  - guard_throttle_failure() records a failed check and answers how long
 *    to wait before answering it: delay(failures of the pair) — 2 s for the
 *    first, then 4, 8, 15 — or GUARD_THROTTLE_MAX_MS when the table had no
 *    room to remember it (it is full of live entries: nothing is evicted
 *    before its 15 quiet minutes, so rotating addresses cannot wash an
 *    entry out).
 *  - guard_throttle_success() forgets the pair's failures, and only the
 *    pair's: a success on the attacker's own account resets nothing else,
 *    and the address's count only expires.
 *  - An entry with no failure for GUARD_THROTTLE_RESET_MS (15 min) is gone.
 *  - Thread-safe (one mutex; work per call is linear in the capacity). The
 *    clock and the sleep are injectable so tests never sleep.
 */
#ifndef BRIDGE_GUARD_THROTTLE_H
#define BRIDGE_GUARD_THROTTLE_H

#include <stddef.h>
#include <stdint.h>

#include "bridge/base/clock.h"

#define GUARD_THROTTLE_FIRST_MS  2000u
#define GUARD_THROTTLE_MAX_MS    15000u
#define GUARD_THROTTLE_RESET_MS  (15u * 60u * 1000u)
#define GUARD_THROTTLE_CAPACITY  8192   /* default table size (entries) */
#define GUARD_ADDR_GRACE         8      /* failures from an address, across
                                           accounts, before its own delay */
#define GUARD_ACCOUNT_MAX        256    /* octets of the name that count */

struct guard_throttle;

/* Sleep for ms milliseconds (tests advance their clock instead). */
typedef void guard_sleep_fn(void *arg, unsigned ms);

/* capacity 0: GUARD_THROTTLE_CAPACITY; clock NULL: base_clock_ms; sleep
 * NULL: nanosleep(2). clock_arg goes to both. NULL when out of memory. */
struct guard_throttle *guard_throttle_new(size_t capacity, base_clock_fn *clock,
    guard_sleep_fn *sleep, void *clock_arg);
void guard_throttle_free(struct guard_throttle *t);

unsigned guard_throttle_admit(struct guard_throttle *t, const char *addr, const char *account);
/* Wait ms milliseconds with the table's sleeper (the admission's wait). */
void guard_throttle_sleep(struct guard_throttle *t, unsigned ms);
unsigned guard_throttle_failure(struct guard_throttle *t, const char *addr, const char *account);
void guard_throttle_success(struct guard_throttle *t, const char *addr, const char *account);

/* Failures counted now for the pair, and for the address (0 when none). */
unsigned guard_throttle_failures(struct guard_throttle *t, const char *addr, const char *account);
unsigned guard_throttle_addr_failures(struct guard_throttle *t, const char *addr);
/* Live entries in the table. */
size_t guard_throttle_size(struct guard_throttle *t);

#endif
