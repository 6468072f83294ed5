/* bridge/base/clock.h — the monotonic clock in milliseconds, a sleep, and the type
 * of an injectable clock (tests drive time by hand instead of sleeping). */
#ifndef BRIDGE_BASE_CLOCK_H
#define BRIDGE_BASE_CLOCK_H

#include <stdint.h>

typedef uint64_t base_clock_fn(void *arg);

/* CLOCK_MONOTONIC in ms; arg is ignored (fits base_clock_fn). */
uint64_t base_clock_ms(void *arg);
/* Sleep ms milliseconds, whatever signals interrupt it (0: return at once). */
void base_sleep_ms(unsigned ms);

#endif
