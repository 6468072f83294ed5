/* bridge/throttle.c — the failed-login delay per client address. */
#include "bridge/throttle.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge/addrkey.h"

struct entry {
	struct pb_addrkey key;
	unsigned failures;     /* 0: the slot is free */
	uint64_t last_ms;      /* time of the last failure */
};

struct pb_throttle {
	pthread_mutex_t lock;
	pb_clock_fn *clock;
	void *clock_arg;
	size_t capacity;
	struct entry *e;
};

uint64_t pb_clock_monotonic_ms(void *arg)
{
	(void)arg;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct pb_throttle *pb_throttle_new(size_t capacity, pb_clock_fn *clock, void *clock_arg)
{
	struct pb_throttle *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->capacity = capacity ? capacity : 1;
	t->e = calloc(t->capacity, sizeof(*t->e));
	if (!t->e) {
		free(t);
		return NULL;
	}
	pthread_mutex_init(&t->lock, NULL);
	t->clock = clock ? clock : pb_clock_monotonic_ms;
	t->clock_arg = clock_arg;
	return t;
}

void pb_throttle_free(struct pb_throttle *t)
{
	if (!t)
		return;
	pthread_mutex_destroy(&t->lock);
	free(t->e);
	free(t);
}

static bool expired(const struct entry *e, uint64_t now)
{
	return e->failures == 0 || now - e->last_ms >= PB_THROTTLE_RESET_MS;
}

/* The live entry for key, or NULL. Expired entries are cleared on the way. */
static struct entry *lookup(struct pb_throttle *t, const struct pb_addrkey *key,
    uint64_t now)
{
	for (size_t i = 0; i < t->capacity; i++) {
		struct entry *e = &t->e[i];
		if (e->failures && expired(e, now))
			e->failures = 0;
		if (e->failures && strcmp(e->key.s, key->s) == 0)
			return e;
	}
	return NULL;
}

/* A free slot, or the one whose last failure is oldest. */
static struct entry *make_room(struct pb_throttle *t)
{
	struct entry *oldest = &t->e[0];
	for (size_t i = 0; i < t->capacity; i++) {
		if (t->e[i].failures == 0)
			return &t->e[i];
		if (t->e[i].last_ms < oldest->last_ms)
			oldest = &t->e[i];
	}
	return oldest;
}

unsigned pb_throttle_failure(struct pb_throttle *t, const char *addr)
{
	struct pb_addrkey key;
	pb_addrkey_make(addr, &key);
	pthread_mutex_lock(&t->lock);
	uint64_t now = t->clock(t->clock_arg);
	struct entry *e = lookup(t, &key, now);
	if (!e) {
		e = make_room(t);
		e->key = key;
		e->failures = 0;
	}
	if (e->failures < 32)
		e->failures++;
	e->last_ms = now;
	unsigned n = e->failures;
	pthread_mutex_unlock(&t->lock);

	uint64_t delay = (uint64_t)PB_THROTTLE_FIRST_MS << (n - 1);
	return delay > PB_THROTTLE_MAX_MS ? PB_THROTTLE_MAX_MS : (unsigned)delay;
}

void pb_throttle_success(struct pb_throttle *t, const char *addr)
{
	struct pb_addrkey key;
	pb_addrkey_make(addr, &key);
	pthread_mutex_lock(&t->lock);
	struct entry *e = lookup(t, &key, t->clock(t->clock_arg));
	if (e)
		e->failures = 0;
	pthread_mutex_unlock(&t->lock);
}

unsigned pb_throttle_failures(struct pb_throttle *t, const char *addr)
{
	struct pb_addrkey key;
	pb_addrkey_make(addr, &key);
	pthread_mutex_lock(&t->lock);
	struct entry *e = lookup(t, &key, t->clock(t->clock_arg));
	unsigned n = e ? e->failures : 0;
	pthread_mutex_unlock(&t->lock);
	return n;
}

size_t pb_throttle_size(struct pb_throttle *t)
{
	size_t n = 0;
	pthread_mutex_lock(&t->lock);
	uint64_t now = t->clock(t->clock_arg);
	for (size_t i = 0; i < t->capacity; i++)
		n += !expired(&t->e[i], now);
	pthread_mutex_unlock(&t->lock);
	return n;
}
