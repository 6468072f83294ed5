/* bridge/sessions.c — live session counts, in all and per address. */
#include "bridge/sessions.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/addrkey.h"
#include "bridge/keycount.h"

struct pb_sessions {
	pthread_mutex_t lock;
	unsigned max_total, max_per_ip;
	unsigned total;
	struct pb_keycount *per_ip;
};

struct pb_sessions *pb_sessions_new(unsigned max_total, unsigned max_per_ip)
{
	struct pb_sessions *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->per_ip = pb_keycount_new();
	if (!s->per_ip) {
		free(s);
		return NULL;
	}
	pthread_mutex_init(&s->lock, NULL);
	s->max_total = max_total;
	s->max_per_ip = max_per_ip;
	return s;
}

void pb_sessions_free(struct pb_sessions *s)
{
	if (!s)
		return;
	pb_keycount_free(s->per_ip);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

void pb_sessions_set_limits(struct pb_sessions *s, unsigned max_total, unsigned max_per_ip)
{
	pthread_mutex_lock(&s->lock);
	s->max_total = max_total;
	s->max_per_ip = max_per_ip;
	pthread_mutex_unlock(&s->lock);
}

enum pb_admit pb_sessions_enter(struct pb_sessions *s, const char *addr,
    struct pb_session_slot *slot)
{
	struct pb_addrkey key;
	enum pb_admit r = PB_ADMIT_OK;
	bool at_limit;
	pb_addrkey_make(addr, &key);
	slot->table = s;
	slot->node = NULL;
	pthread_mutex_lock(&s->lock);
	if (s->total >= s->max_total) {
		r = PB_ADMIT_FULL;
	} else {
		slot->node = pb_keycount_take(s->per_ip, key.s, strlen(key.s),
		    s->max_per_ip, &at_limit);
		if (slot->node)
			s->total++;
		else
			r = at_limit ? PB_ADMIT_IP_FULL : PB_ADMIT_NOMEM;
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

void pb_sessions_leave(struct pb_session_slot *slot)
{
	if (!slot->node)
		return;
	struct pb_sessions *s = slot->table;
	pthread_mutex_lock(&s->lock);
	pb_keycount_give(s->per_ip, slot->node);
	s->total--;
	pthread_mutex_unlock(&s->lock);
	slot->node = NULL;
}

unsigned pb_sessions_total(struct pb_sessions *s)
{
	pthread_mutex_lock(&s->lock);
	unsigned n = s->total;
	pthread_mutex_unlock(&s->lock);
	return n;
}

unsigned pb_sessions_from(struct pb_sessions *s, const char *addr)
{
	struct pb_addrkey key;
	pb_addrkey_make(addr, &key);
	pthread_mutex_lock(&s->lock);
	unsigned n = pb_keycount_get(s->per_ip, key.s, strlen(key.s));
	pthread_mutex_unlock(&s->lock);
	return n;
}
