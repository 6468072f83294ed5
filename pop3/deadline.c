/* pop3/deadline.c — the wait rule before login (see deadline.h). */
#include "pop3/deadline.h"

#include <errno.h>
#include <time.h>

uint64_t pop3_clock_ms(uint64_t (*clock)(void))
{
	struct timespec ts;

	if (clock != NULL)
		return clock();
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int pop3_wait_ms(int idle_ms, bool before_login, uint64_t now, uint64_t deadline)
{
	if (!before_login)
		return idle_ms;
	uint64_t left = now < deadline ? deadline - now : 0;
	return left < (uint64_t)idle_ms ? (int)left : idle_ms;
}

void pop3_sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000u, .tv_nsec = (long)(ms % 1000u) * 1000000L };

	while (ms > 0 && nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}
