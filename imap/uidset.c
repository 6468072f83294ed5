/* imap/uidset.c — sorted, merged UID ranges (see uidset.h). */
#include "imap/uidset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/limits.h"
#include "imap/parser.h"

void imap_uidset_init(struct imap_uidset *set)
{
	memset(set, 0, sizeof(*set));
}

void imap_uidset_free(struct imap_uidset *set)
{
	if (set->r != NULL)
		free(set->r - set->head);
	imap_uidset_init(set);
}

void imap_uidset_clear(struct imap_uidset *set)
{
	set->n = 0;
}

static int reserve(struct imap_uidset *set, size_t need)
{
	if (need <= set->cap)
		return 0;
	if (need > IMAP_UIDSET_RANGES_MAX)
		return -1;
	size_t cap = set->cap ? set->cap * 2 : 16;
	while (cap < need)
		cap *= 2;
	if (cap > IMAP_UIDSET_RANGES_MAX)
		cap = IMAP_UIDSET_RANGES_MAX;
	struct imap_range *base = realloc(set->r != NULL ? set->r - set->head : NULL,
	    (set->head + cap) * sizeof(*base));
	if (!base)
		return -1;
	set->r = base + set->head;
	set->cap = cap;
	return 0;
}

/* Room for one range before r[0]: descending additions cost O(1)
 * amortised too. The free slots at the front double like those behind. */
static int reserve_front(struct imap_uidset *set)
{
	if (set->head > 0)
		return 0;
	if (set->n + 1 > IMAP_UIDSET_RANGES_MAX)
		return -1;
	size_t front = set->n > 16 ? set->n : 16;
	size_t cap = set->cap > set->n ? set->cap : set->n;
	struct imap_range *base = malloc((front + cap) * sizeof(*base));
	if (!base)
		return -1;
	if (set->n > 0)
		memcpy(base + front, set->r, set->n * sizeof(*base));
	set->moved += set->n;
	free(set->r);
	set->r = base + front;
	set->head = front;
	set->cap = cap;
	return 0;
}

/* Append [lo, hi] (lo not below the last range's lo), merging with the
 * last range when they touch. */
static int append(struct imap_uidset *set, uint32_t lo, uint32_t hi)
{
	if (set->n && (uint64_t)set->r[set->n - 1].hi + 1 >= lo) {
		if (hi > set->r[set->n - 1].hi)
			set->r[set->n - 1].hi = hi;
		return 0;
	}
	if (reserve(set, set->n + 1) < 0)
		return -1;
	set->r[set->n].lo = lo;
	set->r[set->n].hi = hi;
	set->n++;
	return 0;
}

/* First range whose hi + 1 >= lo (a range that could touch [lo, ...]). */
static size_t lower_bound(const struct imap_uidset *set, uint32_t lo)
{
	size_t a = 0, b = set->n;
	while (a < b) {
		size_t m = a + (b - a) / 2;
		if ((uint64_t)set->r[m].hi + 1 < lo)
			a = m + 1;
		else
			b = m;
	}
	return a;
}

int imap_uidset_add_range(struct imap_uidset *set, uint32_t lo, uint32_t hi)
{
	if (lo > hi) {
		uint32_t t = lo;
		lo = hi;
		hi = t;
	}
	if (lo == 0)
		return -1;
	/* Fast path: ascending additions. */
	if (set->n && (uint64_t)set->r[set->n - 1].hi + 1 >= lo && set->r[set->n - 1].lo <= lo) {
		if (hi > set->r[set->n - 1].hi)
			set->r[set->n - 1].hi = hi;
		return 0;
	}
	/* Fast path: descending additions, before the first range. */
	if (set->n && (uint64_t)hi + 1 < set->r[0].lo) {
		if (reserve_front(set) < 0)
			return -1;
		set->r--;
		set->head--;
		set->cap++;
		set->r[0].lo = lo;
		set->r[0].hi = hi;
		set->n++;
		return 0;
	}
	size_t i = lower_bound(set, lo);
	/* Ranges [i, j) touch or overlap [lo, hi]. */
	size_t j = i;
	while (j < set->n && set->r[j].lo <= (uint64_t)hi + 1)
		j++;
	if (i == j) {
		if (reserve(set, set->n + 1) < 0)
			return -1;
		memmove(set->r + i + 1, set->r + i, (set->n - i) * sizeof(*set->r));
		set->moved += set->n - i;
		set->r[i].lo = lo;
		set->r[i].hi = hi;
		set->n++;
		return 0;
	}
	if (set->r[i].lo < lo)
		lo = set->r[i].lo;
	if (set->r[j - 1].hi > hi)
		hi = set->r[j - 1].hi;
	set->r[i].lo = lo;
	set->r[i].hi = hi;
	if (j > i + 1) {
		memmove(set->r + i + 1, set->r + j, (set->n - j) * sizeof(*set->r));
		set->moved += set->n - j;
		set->n -= j - i - 1;
	}
	return 0;
}

int imap_uidset_add(struct imap_uidset *set, uint32_t uid)
{
	return imap_uidset_add_range(set, uid, uid);
}

/* One pass over both sorted sets: linear whatever the order of their
 * ranges. */
int imap_uidset_merge(struct imap_uidset *set, const struct imap_uidset *other)
{
	struct imap_uidset tmp;
	size_t i = 0, j = 0, need = set->n + other->n;

	if (other->n == 0)
		return 0;
	imap_uidset_init(&tmp);
	if (reserve(&tmp, need < IMAP_UIDSET_RANGES_MAX ? need : IMAP_UIDSET_RANGES_MAX) < 0)
		return -1;
	while (i < set->n || j < other->n) {
		const struct imap_range *a = i < set->n ? &set->r[i] : NULL;
		const struct imap_range *b = j < other->n ? &other->r[j] : NULL;
		const struct imap_range *next = a == NULL || (b != NULL && b->lo < a->lo) ? b : a;
		if (next == a)
			i++;
		else
			j++;
		if (append(&tmp, next->lo, next->hi) < 0) {
			imap_uidset_free(&tmp);
			return -1;
		}
	}
	tmp.moved = set->moved + need;
	imap_uidset_free(set);
	*set = tmp;
	return 0;
}

static int range_cmp(const void *a, const void *b)
{
	const struct imap_range *x = a, *y = b;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

int imap_uidset_add_ranges(struct imap_uidset *set, struct imap_range *ranges, size_t n)
{
	struct imap_uidset tmp;

	for (size_t k = 0; k < n; k++) {
		if (ranges[k].lo > ranges[k].hi) {
			uint32_t t = ranges[k].lo;
			ranges[k].lo = ranges[k].hi;
			ranges[k].hi = t;
		}
		if (ranges[k].lo == 0)
			return -1;
	}
	qsort(ranges, n, sizeof(*ranges), range_cmp);
	imap_uidset_init(&tmp);
	for (size_t k = 0; k < n; k++)
		if (append(&tmp, ranges[k].lo, ranges[k].hi) < 0) {
			imap_uidset_free(&tmp);
			return -1;
		}
	int rc = imap_uidset_merge(set, &tmp);
	imap_uidset_free(&tmp);
	return rc;
}

bool imap_uidset_contains(const struct imap_uidset *set, uint32_t uid)
{
	if (uid == 0)
		return false;
	size_t i = lower_bound(set, uid);
	return i < set->n && set->r[i].lo <= uid && uid <= set->r[i].hi;
}

uint64_t imap_uidset_count(const struct imap_uidset *set)
{
	uint64_t c = 0;
	for (size_t i = 0; i < set->n; i++)
		c += (uint64_t)set->r[i].hi - set->r[i].lo + 1;
	return c;
}

bool imap_uidset_empty(const struct imap_uidset *set)
{
	return set->n == 0;
}

static int parse_uid(const char *s, size_t len, uint32_t *out)
{
	uint64_t v;
	if (imap_parse_number(s, len, UINT32_MAX, &v) < 0 || v == 0)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* The ranges are gathered as they come and sorted once: a long set in any
 * order (VANISHED of a whole mailbox, descending) costs n log n. */
int imap_uidset_parse(struct imap_uidset *set, const char *str, size_t len)
{
	struct imap_range *v = NULL;
	size_t nv = 0, capv = 0;
	size_t i = 0;
	if (len == 0)
		return -1;
	while (i < len) {
		size_t j = i;
		while (j < len && str[j] != ',')
			j++;
		const char *colon = memchr(str + i, ':', j - i);
		uint32_t lo, hi;
		if (colon) {
			size_t k = (size_t)(colon - str);
			if (parse_uid(str + i, k - i, &lo) < 0 ||
			    parse_uid(str + k + 1, j - k - 1, &hi) < 0)
				goto bad;
		} else {
			if (parse_uid(str + i, j - i, &lo) < 0)
				goto bad;
			hi = lo;
		}
		if (nv == capv) {
			/* a range takes at least 2 octets of str: bounded by it */
			size_t c = capv ? capv * 2 : 16;
			struct imap_range *p = realloc(v, c * sizeof(*p));
			if (!p)
				goto bad;
			v = p;
			capv = c;
		}
		v[nv].lo = lo;
		v[nv].hi = hi;
		nv++;
		if (j < len && j + 1 == len)
			goto bad;  /* trailing comma */
		i = j + 1;
	}
	if (imap_uidset_add_ranges(set, v, nv) < 0)
		goto bad;
	free(v);
	return 0;
bad:
	free(v);
	return -1;
}

size_t imap_uidset_format(const struct imap_uidset *set, size_t *pos, char *buf,
    size_t cap, size_t max)
{
	size_t len = 0;
	if (cap == 0)
		return 0;
	if (max >= cap)
		max = cap - 1;
	buf[0] = '\0';
	while (*pos < set->n) {
		const struct imap_range *r = &set->r[*pos];
		char item[32];
		int n;
		if (r->lo == r->hi)
			n = snprintf(item, sizeof(item), "%s%u", len ? "," : "", r->lo);
		else
			n = snprintf(item, sizeof(item), "%s%u:%u", len ? "," : "", r->lo, r->hi);
		if (len + (size_t)n > max)
			break;
		memcpy(buf + len, item, (size_t)n + 1);
		len += (size_t)n;
		(*pos)++;
	}
	return len;
}
