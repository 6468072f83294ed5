/* bridge/guard/throttle.c — the failed-login delay (see throttle.h).
 *
 * An entry is keyed by 16 octets of SHA-256 over a per-process random salt,
 * the kind (pair or address), the address key and the account name, so an
 * entry is small whatever the name, and nobody can choose names that
 * collide. The table is a flat array scanned linearly: a few thousand
 * entries at login rate cost microseconds, and there is no bucket an
 * attacker could crowd. */
#include "bridge/guard/throttle.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "bridge/base/addrkey.h"
#include "bridge/base/clock.h"

#define KEY_LEN 16
#define FAILURES_MAX 32u

struct entry {
	unsigned char key[KEY_LEN];
	unsigned failures;     /* 0: the slot is free */
	uint64_t last_ms;      /* the last failure */
	uint64_t next_ms;      /* the earliest start of the next check */
};

struct guard_throttle {
	pthread_mutex_t lock;
	base_clock_fn *clock;
	guard_sleep_fn *sleep;
	void *clock_arg;
	unsigned char salt[16];
	size_t capacity;
	struct entry *e;
};

static void real_sleep(void *arg, unsigned ms)
{
	(void)arg;
	base_sleep_ms(ms);
}

struct guard_throttle *guard_throttle_new(size_t capacity, base_clock_fn *clock,
    guard_sleep_fn *sleep, void *clock_arg)
{
	struct guard_throttle *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->capacity = capacity ? capacity : GUARD_THROTTLE_CAPACITY;
	t->e = calloc(t->capacity, sizeof(*t->e));
	if (t->e == NULL || RAND_bytes(t->salt, sizeof(t->salt)) != 1) {
		free(t->e);
		free(t);
		return NULL;
	}
	pthread_mutex_init(&t->lock, NULL);
	t->clock = clock ? clock : base_clock_ms;
	t->sleep = sleep ? sleep : real_sleep;
	t->clock_arg = clock_arg;
	return t;
}

void guard_throttle_free(struct guard_throttle *t)
{
	if (t == NULL)
		return;
	pthread_mutex_destroy(&t->lock);
	free(t->e);
	free(t);
}

static unsigned delay(unsigned n)
{
	if (n == 0)
		return 0;
	uint64_t d = (uint64_t)GUARD_THROTTLE_FIRST_MS << (n - 1);
	return d > GUARD_THROTTLE_MAX_MS ? GUARD_THROTTLE_MAX_MS : (unsigned)d;
}

static unsigned addr_delay(unsigned n)
{
	return n > GUARD_ADDR_GRACE ? delay(n - GUARD_ADDR_GRACE) : 0;
}

/* The key of (addr, account), or of addr alone when account is NULL. */
static void make_key(const struct guard_throttle *t, const char *addr, const char *account,
    unsigned char key[KEY_LEN])
{
	struct base_addrkey ak;
	unsigned char in[sizeof(t->salt) + 1 + sizeof(ak.s) + GUARD_ACCOUNT_MAX];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	size_t n = 0;

	base_addrkey_make(addr != NULL ? addr : "", &ak);
	memcpy(in, t->salt, sizeof(t->salt));
	n += sizeof(t->salt);
	in[n++] = account != NULL ? 'P' : 'A';
	memcpy(in + n, ak.s, sizeof(ak.s));    /* NUL-padded: a fixed field */
	n += sizeof(ak.s);
	if (account != NULL) {
		size_t al = strnlen(account, GUARD_ACCOUNT_MAX);
		memcpy(in + n, account, al);
		n += al;
	}
	if (EVP_Digest(in, n, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen < KEY_LEN)
		memset(md, 0, KEY_LEN);  /* cannot happen with the default provider */
	memcpy(key, md, KEY_LEN);
}

static bool live(const struct entry *e, uint64_t now)
{
	return e->failures > 0 && now - e->last_ms < GUARD_THROTTLE_RESET_MS;
}

/* The live entry for key, or NULL; with `add`, a free slot for it (NULL
 * when the table is full of live entries). Expired entries are freed on
 * the way. */
static struct entry *find(struct guard_throttle *t, const unsigned char *key, uint64_t now,
    bool add)
{
	struct entry *room = NULL;
	for (size_t i = 0; i < t->capacity; i++) {
		struct entry *e = &t->e[i];
		if (e->failures > 0 && !live(e, now))
			memset(e, 0, sizeof(*e));
		if (e->failures == 0) {
			if (room == NULL)
				room = e;
			continue;
		}
		if (memcmp(e->key, key, KEY_LEN) == 0)
			return e;
	}
	if (!add || room == NULL)
		return NULL;
	memcpy(room->key, key, KEY_LEN);
	return room;
}

static uint64_t max64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

unsigned guard_throttle_admit(struct guard_throttle *t, const char *addr, const char *account)
{
	unsigned char pk[KEY_LEN], ak[KEY_LEN];
	make_key(t, addr, account, pk);
	make_key(t, addr, NULL, ak);

	pthread_mutex_lock(&t->lock);
	uint64_t now = t->clock(t->clock_arg);
	struct entry *p = find(t, pk, now, false);
	struct entry *a = find(t, ak, now, false);
	uint64_t start = now;
	if (p != NULL)
		start = max64(start, p->next_ms);
	if (a != NULL)
		start = max64(start, a->next_ms);
	if (start - now <= GUARD_THROTTLE_MAX_MS) {
		/* Reserve the next start; a longer queue is refused, not joined. */
		if (p != NULL)
			p->next_ms = start + delay(p->failures);
		if (a != NULL && addr_delay(a->failures) > 0)
			a->next_ms = start + addr_delay(a->failures);
	}
	pthread_mutex_unlock(&t->lock);
	return (unsigned)(start - now);
}

void guard_throttle_sleep(struct guard_throttle *t, unsigned ms)
{
	if (ms > 0)
		t->sleep(t->clock_arg, ms);
}

unsigned guard_throttle_failure(struct guard_throttle *t, const char *addr, const char *account)
{
	unsigned char pk[KEY_LEN], ak[KEY_LEN];
	make_key(t, addr, account, pk);
	make_key(t, addr, NULL, ak);

	pthread_mutex_lock(&t->lock);
	uint64_t now = t->clock(t->clock_arg);
	struct entry *p = find(t, pk, now, true);
	unsigned n = 0;
	if (p != NULL) {
		if (p->failures < FAILURES_MAX)
			p->failures++;
		p->last_ms = now;
		p->next_ms = max64(p->next_ms, now + delay(p->failures));
		n = p->failures;
	}
	struct entry *a = find(t, ak, now, true);
	if (a != NULL) {
		if (a->failures < FAILURES_MAX + GUARD_ADDR_GRACE)
			a->failures++;
		a->last_ms = now;
		a->next_ms = max64(a->next_ms, now + addr_delay(a->failures));
	}
	pthread_mutex_unlock(&t->lock);
	return p != NULL && a != NULL ? delay(n) : GUARD_THROTTLE_MAX_MS;
}

void guard_throttle_success(struct guard_throttle *t, const char *addr, const char *account)
{
	unsigned char pk[KEY_LEN];
	make_key(t, addr, account, pk);

	pthread_mutex_lock(&t->lock);
	struct entry *p = find(t, pk, t->clock(t->clock_arg), false);
	if (p != NULL)
		memset(p, 0, sizeof(*p));
	pthread_mutex_unlock(&t->lock);
}

static unsigned count(struct guard_throttle *t, const unsigned char *key)
{
	pthread_mutex_lock(&t->lock);
	struct entry *e = find(t, key, t->clock(t->clock_arg), false);
	unsigned n = e != NULL ? e->failures : 0;
	pthread_mutex_unlock(&t->lock);
	return n;
}

unsigned guard_throttle_failures(struct guard_throttle *t, const char *addr, const char *account)
{
	unsigned char pk[KEY_LEN];
	make_key(t, addr, account, pk);
	return count(t, pk);
}

unsigned guard_throttle_addr_failures(struct guard_throttle *t, const char *addr)
{
	unsigned char ak[KEY_LEN];
	make_key(t, addr, NULL, ak);
	return count(t, ak);
}

size_t guard_throttle_size(struct guard_throttle *t)
{
	size_t n = 0;
	pthread_mutex_lock(&t->lock);
	uint64_t now = t->clock(t->clock_arg);
	for (size_t i = 0; i < t->capacity; i++)
		n += live(&t->e[i], now);
	pthread_mutex_unlock(&t->lock);
	return n;
}
