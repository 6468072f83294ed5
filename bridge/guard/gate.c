/* bridge/guard/gate.c — see gate.h. A counting semaphore on a mutex and a
 * condition variable that waits on CLOCK_MONOTONIC. */
#include "bridge/guard/gate.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>

struct guard_gate {
	pthread_mutex_t lock;
	pthread_cond_t freed;
	unsigned slots, busy;
};

static unsigned cpus(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return 1;
	int n = CPU_COUNT(&set);
	return n > 0 ? (unsigned)n : 1;
}

struct guard_gate *guard_gate_new(unsigned slots)
{
	struct guard_gate *g = calloc(1, sizeof(*g));
	pthread_condattr_t ca;

	if (g == NULL)
		return NULL;
	g->slots = slots > 0 ? slots : cpus();
	pthread_mutex_init(&g->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&g->freed, &ca);
	pthread_condattr_destroy(&ca);
	return g;
}

void guard_gate_free(struct guard_gate *g)
{
	if (g == NULL)
		return;
	pthread_cond_destroy(&g->freed);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

int guard_gate_enter(struct guard_gate *g, uint64_t deadline_ms)
{
	struct timespec ts = {
		.tv_sec = (time_t)(deadline_ms / 1000u),
		.tv_nsec = (long)(deadline_ms % 1000u) * 1000000L,
	};
	int rc = 0;

	pthread_mutex_lock(&g->lock);
	while (g->busy >= g->slots) {
		int w = deadline_ms ? pthread_cond_timedwait(&g->freed, &g->lock, &ts)
		                    : pthread_cond_wait(&g->freed, &g->lock);
		if (w == ETIMEDOUT && g->busy >= g->slots) {
			rc = -1;
			break;
		}
	}
	if (rc == 0)
		g->busy++;
	pthread_mutex_unlock(&g->lock);
	return rc;
}

void guard_gate_leave(struct guard_gate *g)
{
	pthread_mutex_lock(&g->lock);
	if (g->busy > 0)
		g->busy--;
	pthread_cond_signal(&g->freed);
	pthread_mutex_unlock(&g->lock);
}

unsigned guard_gate_slots(struct guard_gate *g)
{
	return g->slots;
}

unsigned guard_gate_busy(struct guard_gate *g)
{
	pthread_mutex_lock(&g->lock);
	unsigned n = g->busy;
	pthread_mutex_unlock(&g->lock);
	return n;
}
