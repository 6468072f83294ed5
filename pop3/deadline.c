/* pop3/deadline.c — the wait rule before login (see deadline.h). */
#include "pop3/deadline.h"

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
