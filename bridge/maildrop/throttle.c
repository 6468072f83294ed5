/* bridge/maildrop/throttle.c — the failed-login delay per client address. */
#include "bridge/maildrop/throttle.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge/base/addrkey.h"

struct entry {
	struct base_addrkey key;
	unsigned failures;     /* 0: the slot is free */
	uint64_t last_ms;      /* time of the last failure */
};

struct maildrop_throttle {
	pthread_mutex_t lock;
	maildrop_clock_fn *clock;
	void *clock_arg;
	size_t capacity;
	struct entry *e;
};

uint64_t maildrop_clock_monotonic_ms(void *arg)
{
	(void)arg;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct maildrop_throttle *maildrop_throttle_new(size_t capacity, maildrop_clock_fn *clock, void *clock_arg)
{
	struct maildrop_throttle *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->capacity = capacity ? capacity : 1;
	t->e = calloc(t->capacity, sizeof(*t->e));
	if (!t->e) {
		free(t);
		return NULL;
	}
	pthread_mutex_init(&t->lock, NULL);
	t->clock = clock ? clock : maildrop_clock_monotonic_ms;
	t->clock_arg = clock_arg;
	return t;
}

void maildrop_throttle_free(struct maildrop_throttle *t)
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
static struct entry *lookup(struct maildrop_throttle *t, const struct base_addrkey *key,
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
static struct entry *make_room(struct maildrop_throttle *t)
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

unsigned maildrop_throttle_failure(struct maildrop_throttle *t, const char *addr)
{
	struct base_addrkey key;
	base_addrkey_make(addr, &key);
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

void maildrop_throttle_success(struct maildrop_throttle *t, const char *addr)
{
	struct base_addrkey key;
	base_addrkey_make(addr, &key);
	pthread_mutex_lock(&t->lock);
	struct entry *e = lookup(t, &key, t->clock(t->clock_arg));
	if (e)
		e->failures = 0;
	pthread_mutex_unlock(&t->lock);
}

unsigned maildrop_throttle_failures(struct maildrop_throttle *t, const char *addr)
{
	struct base_addrkey key;
	base_addrkey_make(addr, &key);
	pthread_mutex_lock(&t->lock);
	struct entry *e = lookup(t, &key, t->clock(t->clock_arg));
	unsigned n = e ? e->failures : 0;
	pthread_mutex_unlock(&t->lock);
	return n;
}

size_t maildrop_throttle_size(struct maildrop_throttle *t)
{
	size_t n = 0;
	pthread_mutex_lock(&t->lock);
	uint64_t now = t->clock(t->clock_arg);
	for (size_t i = 0; i < t->capacity; i++)
		n += !expired(&t->e[i], now);
	pthread_mutex_unlock(&t->lock);
	return n;
}
