/* bridge/base/keycount.c — a chained hash table of counted byte-string keys. */
#include "bridge/base/keycount.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define KC_BUCKETS 1024  /* a power of two; chains stay short for the
                            thousands of keys a busy server has */

struct base_keycount_node {
	struct base_keycount_node *next;
	uint32_t hash;
	unsigned count;
	size_t len;
	unsigned char key[];
};

struct base_keycount {
	struct base_keycount_node *bucket[KC_BUCKETS];
	size_t size;
};

static uint32_t fnv1a(const void *key, size_t len)
{
	const unsigned char *p = key;
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

struct base_keycount *base_keycount_new(void)
{
	return calloc(1, sizeof(struct base_keycount));
}

void base_keycount_free(struct base_keycount *kc)
{
	if (!kc)
		return;
	for (size_t b = 0; b < KC_BUCKETS; b++) {
		struct base_keycount_node *n = kc->bucket[b];
		while (n) {
			struct base_keycount_node *next = n->next;
			free(n);
			n = next;
		}
	}
	free(kc);
}

static struct base_keycount_node *find(const struct base_keycount *kc, uint32_t h,
    const void *key, size_t len)
{
	for (struct base_keycount_node *n = kc->bucket[h % KC_BUCKETS]; n; n = n->next)
		if (n->hash == h && n->len == len && memcmp(n->key, key, len) == 0)
			return n;
	return NULL;
}

struct base_keycount_node *base_keycount_take(struct base_keycount *kc, const void *key,
    size_t len, unsigned limit, bool *at_limit)
{
	uint32_t h = fnv1a(key, len);
	struct base_keycount_node *n = find(kc, h, key, len);
	*at_limit = false;
	if (n) {
		if (n->count >= limit) {
			*at_limit = true;
			return NULL;
		}
		n->count++;
		return n;
	}
	if (limit == 0) {
		*at_limit = true;
		return NULL;
	}
	n = malloc(sizeof(*n) + len);
	if (!n)
		return NULL;
	n->hash = h;
	n->count = 1;
	n->len = len;
	memcpy(n->key, key, len);
	n->next = kc->bucket[h % KC_BUCKETS];
	kc->bucket[h % KC_BUCKETS] = n;
	kc->size++;
	return n;
}

void base_keycount_give(struct base_keycount *kc, struct base_keycount_node *node)
{
	if (--node->count > 0)
		return;
	struct base_keycount_node **pp = &kc->bucket[node->hash % KC_BUCKETS];
	while (*pp != node)
		pp = &(*pp)->next;
	*pp = node->next;
	kc->size--;
	free(node);
}

unsigned base_keycount_get(const struct base_keycount *kc, const void *key, size_t len)
{
	const struct base_keycount_node *n = find(kc, fnv1a(key, len), key, len);
	return n ? n->count : 0;
}

size_t base_keycount_size(const struct base_keycount *kc)
{
	return kc->size;
}
