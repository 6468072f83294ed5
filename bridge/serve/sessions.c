/* bridge/serve/sessions.c — live session counts, in all and per address. */
#include "bridge/serve/sessions.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/base/addrkey.h"
#include "bridge/base/keycount.h"

struct serve_sessions {
	pthread_mutex_t lock;
	unsigned max_total, max_per_ip;
	unsigned total;
	unsigned pre_login;      /* of total: not logged in yet */
	struct base_keycount *per_ip;
};

struct serve_sessions *serve_sessions_new(unsigned max_total, unsigned max_per_ip)
{
	struct serve_sessions *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->per_ip = base_keycount_new();
	if (!s->per_ip) {
		free(s);
		return NULL;
	}
	pthread_mutex_init(&s->lock, NULL);
	s->max_total = max_total;
	s->max_per_ip = max_per_ip;
	return s;
}

void serve_sessions_free(struct serve_sessions *s)
{
	if (!s)
		return;
	base_keycount_free(s->per_ip);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

void serve_sessions_set_limits(struct serve_sessions *s, unsigned max_total, unsigned max_per_ip)
{
	pthread_mutex_lock(&s->lock);
	s->max_total = max_total;
	s->max_per_ip = max_per_ip;
	pthread_mutex_unlock(&s->lock);
}

/* Count a slot in the total and before login, unless either is full. Under
 * the lock. */
static enum serve_admit take_total(struct serve_sessions *s, struct serve_session_slot *slot)
{
	unsigned pre_max = s->max_total / 2 > 0 ? s->max_total / 2 : 1;
	if (s->total >= s->max_total)
		return PB_ADMIT_FULL;
	if (s->pre_login >= pre_max)
		return PB_ADMIT_PRELOGIN_FULL;
	s->total++;
	s->pre_login++;
	slot->held = true;
	slot->pre_login = true;
	return PB_ADMIT_OK;
}

/* Count a held slot under addr. Under the lock. */
static enum serve_admit take_addr(struct serve_sessions *s, const char *addr,
    struct serve_session_slot *slot)
{
	struct base_addrkey key;
	bool at_limit;
	base_addrkey_make(addr, &key);
	slot->node = base_keycount_take(s->per_ip, key.s, strlen(key.s), s->max_per_ip, &at_limit);
	if (slot->node != NULL)
		return PB_ADMIT_OK;
	return at_limit ? PB_ADMIT_IP_FULL : PB_ADMIT_NOMEM;
}

/* Give back what the slot holds. Under the lock. */
static void give(struct serve_sessions *s, struct serve_session_slot *slot)
{
	if (slot->node != NULL)
		base_keycount_give(s->per_ip, slot->node);
	if (slot->held)
		s->total--;
	if (slot->pre_login)
		s->pre_login--;
	slot->node = NULL;
	slot->held = slot->pre_login = false;
}

static void slot_init(struct serve_sessions *s, struct serve_session_slot *slot)
{
	slot->table = s;
	slot->node = NULL;
	slot->held = slot->pre_login = false;
}

enum serve_admit serve_sessions_enter(struct serve_sessions *s, const char *addr,
    struct serve_session_slot *slot)
{
	slot_init(s, slot);
	pthread_mutex_lock(&s->lock);
	enum serve_admit r = take_total(s, slot);
	if (r == PB_ADMIT_OK && (r = take_addr(s, addr, slot)) != PB_ADMIT_OK)
		give(s, slot);
	pthread_mutex_unlock(&s->lock);
	return r;
}

enum serve_admit serve_sessions_enter_proxied(struct serve_sessions *s,
    struct serve_session_slot *slot)
{
	slot_init(s, slot);
	pthread_mutex_lock(&s->lock);
	enum serve_admit r = take_total(s, slot);
	pthread_mutex_unlock(&s->lock);
	return r;
}

enum serve_admit serve_sessions_set_addr(struct serve_session_slot *slot, const char *addr)
{
	struct serve_sessions *s = slot->table;
	if (!slot->held || slot->node != NULL)
		return PB_ADMIT_OK;     /* not admitted, or counted already */
	pthread_mutex_lock(&s->lock);
	enum serve_admit r = take_addr(s, addr, slot);
	pthread_mutex_unlock(&s->lock);
	return r;
}

void serve_sessions_logged_in(struct serve_session_slot *slot)
{
	if (!slot->held)
		return;
	struct serve_sessions *s = slot->table;
	pthread_mutex_lock(&s->lock);
	if (slot->pre_login) {
		slot->pre_login = false;
		s->pre_login--;
	}
	pthread_mutex_unlock(&s->lock);
}

void serve_sessions_leave(struct serve_session_slot *slot)
{
	if (!slot->held)
		return;
	struct serve_sessions *s = slot->table;
	pthread_mutex_lock(&s->lock);
	give(s, slot);
	pthread_mutex_unlock(&s->lock);
}

unsigned serve_sessions_total(struct serve_sessions *s)
{
	pthread_mutex_lock(&s->lock);
	unsigned n = s->total;
	pthread_mutex_unlock(&s->lock);
	return n;
}

unsigned serve_sessions_pre_login(struct serve_sessions *s)
{
	pthread_mutex_lock(&s->lock);
	unsigned n = s->pre_login;
	pthread_mutex_unlock(&s->lock);
	return n;
}

unsigned serve_sessions_from(struct serve_sessions *s, const char *addr)
{
	struct base_addrkey key;
	base_addrkey_make(addr, &key);
	pthread_mutex_lock(&s->lock);
	unsigned n = base_keycount_get(s->per_ip, key.s, strlen(key.s));
	pthread_mutex_unlock(&s->lock);
	return n;
}

void serve_sessions_gauges(struct serve_sessions *s, unsigned *pre_login, unsigned *max_total)
{
	pthread_mutex_lock(&s->lock);
	*pre_login = s->pre_login;
	*max_total = s->max_total;
	pthread_mutex_unlock(&s->lock);
}
