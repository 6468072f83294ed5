/* bridge/base/clock.c — see clock.h. */
#include "bridge/base/clock.h"

#include <time.h>

uint64_t base_clock_ms(void *arg)
{
	struct timespec ts;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
