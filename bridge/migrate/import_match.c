/* bridge/migrate/import_match.c — see import_match.h. */
#include "bridge/migrate/import_match.h"
#include "bridge/base/errbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int migrate_import_old_set_header(struct migrate_import_old *o, const struct migrate_pop3c_hdr *h,
    unsigned dropped)
{
	struct maildrop_matchkey k;

	o->has_keys = false;
	o->hash[0] = '\0';
	free(o->msgid);
	o->msgid = NULL;
	migrate_pop3c_hdr_field(h, "Subject", o->subject, sizeof(o->subject));
	if (h->truncated) {
		o->why = "its Message-ID/Date/From/To/Subject fields exceed 16 KiB";
		return 0;
	}
	if (maildrop_matchkey_compute(h->buf, h->len, &k) != 0) {
		o->why = "its header hash could not be computed";
		return 0;
	}
	(void)dropped; /* a dropped line only ever makes the hash differ */
	memcpy(o->hash, k.hash, sizeof(o->hash));
	if (k.msgid[0]) {
		o->msgid = strdup(k.msgid);
		if (o->msgid == NULL)
			return -1;
	}
	o->has_keys = true;
	return 0;
}

void migrate_import_old_free(struct migrate_import_old *v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++)
		free(v[i].msgid);
	free(v);
}

static int set_state_err(struct state_db *db, const char *what, char *err, size_t errlen)
{
	return base_errf(err, errlen, "state database: %s: %s", what, state_errmsg(db));
}

static bool same_keys(const struct migrate_import_old *a, const struct migrate_import_old *b)
{
	if (strcmp(a->hash, b->hash) != 0 || a->size != b->size)
		return false;
	if (a->msgid == NULL || b->msgid == NULL)
		return a->msgid == b->msgid;
	return strcmp(a->msgid, b->msgid) == 0;
}

/* Order for grouping true duplicates: keys, then old message number. */
static int cmp_group(const void *x, const void *y)
{
	const struct migrate_import_old *a = *(struct migrate_import_old *const *)x;
	const struct migrate_import_old *b = *(struct migrate_import_old *const *)y;
	int c = strcmp(a->hash, b->hash);

	if (c == 0)
		c = strcmp(a->msgid ? a->msgid : "", b->msgid ? b->msgid : "");
	if (c == 0)
		c = a->size < b->size ? -1 : a->size > b->size;
	if (c == 0)
		c = a->num < b->num ? -1 : a->num > b->num;
	return c;
}

static int cmp_target(const void *x, const void *y)
{
	const struct migrate_import_old *a = *(struct migrate_import_old *const *)x;
	const struct migrate_import_old *b = *(struct migrate_import_old *const *)y;
	if (a->target != b->target)
		return a->target < b->target ? -1 : 1;
	return a->num < b->num ? -1 : a->num > b->num;
}

/* Candidates of one old message. Leaves outcome MATCHED (target set),
 * UNMATCHED, AMBIGUOUS, or AMBIGUOUS with ncand > 0 and why NULL: several
 * candidates, to be resolved as duplicates. */
static int candidates(struct state_db *db, int64_t mailbox_id, struct migrate_import_old *o,
    char *err, size_t errlen)
{
	struct state_match_query q = {
		.message_id = o->msgid,
		.hdr_hash = o->hash,
		.size_min = o->size / 2 + o->size % 2,
		.size_max = o->size > UINT64_MAX / 2 ? UINT64_MAX / 2 : o->size * 2,
	};
	int64_t ids[IMPORT_CAND_MAX];
	size_t n, exact = 0;
	int64_t exact_id = 0;

	o->ncand = 0;
	o->target = 0;
	if (!o->has_keys) {
		o->outcome = IMPORT_UNMATCHED;
		return 0;
	}
	if (q.size_max > INT64_MAX)
		q.size_max = INT64_MAX;
	if (q.size_max == 0)
		q.size_min = 0;
	if (state_match_candidates(db, mailbox_id, &q, ids, IMPORT_CAND_MAX, &n) != STATE_OK)
		return set_state_err(db, "matching", err, errlen);
	if (n == 0) {
		o->outcome = IMPORT_UNMATCHED;
		o->why = "no upstream message has its Message-ID, Date, From, To and Subject";
		return 0;
	}
	if (n == 1) {
		o->outcome = IMPORT_MATCHED;
		o->target = ids[0];
		return 0;
	}
	o->outcome = IMPORT_AMBIGUOUS;
	if (n > IMPORT_CAND_MAX) {
		o->why = "too many upstream messages have the same headers";
		return 0;
	}
	/* Several: an exact size decides when it singles one out. */
	for (size_t i = 0; i < n; i++) {
		struct state_message m;
		if (state_message_get(db, ids[i], &m) != STATE_OK)
			return set_state_err(db, "reading a candidate", err, errlen);
		if (m.rfc822_size == o->size || (m.size_exact && m.exact_size == o->size)) {
			ids[exact++] = ids[i];
			exact_id = ids[i];
		}
	}
	if (exact == 1) {
		o->outcome = IMPORT_MATCHED;
		o->target = exact_id;
		return 0;
	}
	if (exact == 0)
		exact = n; /* no exact size (line-end conversion): keep them all */
	memcpy(o->cand, ids, exact * sizeof(ids[0]));
	o->ncand = exact;
	o->why = NULL;
	return 0;
}

/* True duplicates: k old messages with the same keys and size whose
 * candidate lists are the same k upstream messages are paired in order. */
static int resolve_duplicates(struct migrate_import_old *old, size_t n)
{
	struct migrate_import_old **p = malloc((n ? n : 1) * sizeof(*p));
	size_t k = 0;

	if (p == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (old[i].outcome == IMPORT_AMBIGUOUS && old[i].why == NULL)
			p[k++] = &old[i];
	qsort(p, k, sizeof(*p), cmp_group);
	for (size_t i = 0; i < k;) {
		size_t j = i + 1;
		while (j < k && same_keys(p[i], p[j]))
			j++;
		bool pair = p[i]->ncand == j - i;
		for (size_t g = i + 1; pair && g < j; g++)
			pair = p[g]->ncand == p[i]->ncand &&
			    memcmp(p[g]->cand, p[i]->cand, p[i]->ncand * sizeof(int64_t)) == 0;
		for (size_t g = i; g < j; g++) {
			if (pair) {
				p[g]->outcome = IMPORT_MATCHED;
				p[g]->target = p[i]->cand[g - i];
			} else {
				p[g]->why = "several upstream messages have the same headers and size";
			}
		}
		i = j;
	}
	free(p);
	return 0;
}

/* An upstream message claimed twice: every claim becomes ambiguous. */
static int resolve_claims(struct migrate_import_old *old, size_t n)
{
	struct migrate_import_old **p = malloc((n ? n : 1) * sizeof(*p));
	size_t k = 0;

	if (p == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (old[i].outcome == IMPORT_MATCHED)
			p[k++] = &old[i];
	qsort(p, k, sizeof(*p), cmp_target);
	for (size_t i = 0; i < k;) {
		size_t j = i + 1;
		while (j < k && p[j]->target == p[i]->target)
			j++;
		if (j - i > 1)
			for (size_t g = i; g < j; g++) {
				p[g]->outcome = IMPORT_AMBIGUOUS;
				p[g]->why = "another old message matches the same upstream message";
			}
		i = j;
	}
	free(p);
	return 0;
}

int migrate_import_match(struct state_db *db, int64_t mailbox_id, struct migrate_import_old *old,
    size_t n, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		old[i].why = old[i].has_keys ? NULL : old[i].why;
		if (candidates(db, mailbox_id, &old[i], err, errlen) != 0)
			return -1;
	}
	if (resolve_duplicates(old, n) != 0 || resolve_claims(old, n) != 0)
		return base_errf(err, errlen, "out of memory");
	return 0;
}

/* ---- storing ---------------------------------------------------------------- */

struct live {
	int64_t id;
	char uidl[STATE_UIDL_MAX + 1];     /* effective */
	char old_uidl[STATE_UIDL_MAX + 1];
	struct migrate_import_old *claim;          /* the old message matched to it */
};

struct live_list {
	struct live *v;
	size_t n, cap;
	bool nomem;
};

static int live_cb(void *arg, const struct state_message *m)
{
	struct live_list *l = arg;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 1024;
		struct live *p = realloc(l->v, cap * sizeof(*p));
		if (p == NULL) {
			l->nomem = true;
			return 1;
		}
		l->v = p;
		l->cap = cap;
	}
	struct live *x = &l->v[l->n++];
	x->id = m->id;
	memcpy(x->uidl, m->uidl, sizeof(x->uidl));
	memcpy(x->old_uidl, m->old_uidl, sizeof(x->old_uidl));
	x->claim = NULL;
	return 0;
}

static int cmp_live_id(const void *a, const void *b)
{
	int64_t x = ((const struct live *)a)->id, y = ((const struct live *)b)->id;
	return x < y ? -1 : x > y;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Mark conflicts; returns the number of messages whose value changes. */
static int find_conflicts(struct live_list *l, struct migrate_import_old *old, size_t n,
    size_t *changing)
{
	char **taken = malloc((l->n ? l->n : 1) * sizeof(*taken));
	size_t nt = 0;

	if (taken == NULL)
		return -1;
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), cmp_live_id);
	for (size_t i = 0; i < n; i++) {
		if (old[i].outcome != IMPORT_MATCHED)
			continue;
		struct live key = { .id = old[i].target };
		struct live *x = l->n ? bsearch(&key, l->v, l->n, sizeof(*l->v), cmp_live_id) :
		    NULL;
		if (x == NULL) {
			old[i].outcome = IMPORT_UNMATCHED;
			old[i].why = "its upstream match disappeared meanwhile";
			continue;
		}
		x->claim = &old[i];
	}
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].claim == NULL)
			taken[nt++] = l->v[i].uidl;
	qsort(taken, nt, sizeof(*taken), cmp_str);
	*changing = 0;
	for (size_t i = 0; i < l->n; i++) {
		struct migrate_import_old *o = l->v[i].claim;
		if (o == NULL)
			continue;
		const char *u = o->uidl;
		if (bsearch(&u, taken, nt, sizeof(*taken), cmp_str) != NULL) {
			o->outcome = IMPORT_CONFLICT;
			o->why = "another upstream message already has this UIDL";
			l->v[i].claim = NULL;
			continue;
		}
		if (strcmp(l->v[i].old_uidl, o->uidl) != 0)
			(*changing)++;
	}
	free(taken);
	return 0;
}

static int device_cb(void *arg, const struct state_device *d)
{
	struct migrate_import_devices *x = arg;
	if (x->n == IMPORT_DEVICES_MAX) {
		x->more = true;
		return 1;
	}
	x->id[x->n++] = d->id;
	return 0;
}

int migrate_import_devices_get(struct state_db *db, int64_t account_id, struct migrate_import_devices *out)
{
	out->n = 0;
	out->more = false;
	return state_device_list(db, account_id, device_cb, out) == STATE_OK ? 0 : -1;
}

int migrate_import_offered(struct state_db *db, const struct migrate_import_devices *dev,
    int64_t message_id, bool *offered)
{
	*offered = false;
	for (size_t d = 0; d < dev->n; d++) {
		struct state_devmsg dm;
		if (state_devmsg_get(db, dev->id[d], message_id, &dm) != STATE_OK)
			return -1;
		if (dm.offered || dm.retrieved || dm.deleted) {
			*offered = true;
			break;
		}
	}
	return 0;
}

/* How many messages whose effective UIDL changes a device was offered. */
static int count_offered(struct state_db *db, int64_t mailbox_id, struct live_list *l,
    size_t *count)
{
	struct state_mailbox mb;
	struct migrate_import_devices dev;

	*count = 0;
	if (state_mailbox_get_by_id(db, mailbox_id, &mb) != STATE_OK ||
	    migrate_import_devices_get(db, mb.account_id, &dev) != 0)
		return -1;
	for (size_t i = 0; i < l->n && dev.n > 0; i++) {
		struct migrate_import_old *o = l->v[i].claim;
		bool yes;
		if (o == NULL || strcmp(l->v[i].uidl, o->uidl) == 0)
			continue;
		if (migrate_import_offered(db, &dev, l->v[i].id, &yes) != 0)
			return -1;
		*count += yes;
	}
	return 0;
}

/* Store every claimed UIDL that differs from the message's stored one, in
 * one batch: UIDLs may move between messages (state checks uniqueness at
 * the end of the batch). */
static int store(struct state_db *db, struct live_list *l, size_t changing, char *err,
    size_t errlen)
{
	struct state_uidl_import *items = calloc(changing ? changing : 1, sizeof(*items));
	size_t k = 0;
	int rc = -1;

	if (items == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < l->n && k < changing; i++) {
		struct migrate_import_old *o = l->v[i].claim;
		if (o == NULL || strcmp(l->v[i].old_uidl, o->uidl) == 0)
			continue;
		items[k].message_id = l->v[i].id;
		items[k].old_uidl = o->uidl;
		k++;
	}
	if (state_import_uidls(db, items, k, NULL) != STATE_OK)
		set_state_err(db, "storing the old UIDLs", err, errlen);
	else
		rc = 0;
	free(items);
	return rc;
}

int migrate_import_apply(struct state_db *db, int64_t mailbox_id, struct migrate_import_old *old,
    size_t n, bool do_store, struct migrate_import_counts *c, char *err, size_t errlen)
{
	struct live_list l = { 0 };
	size_t changing = 0;
	int rc = -1;

	memset(c, 0, sizeof(*c));
	if (state_tx_begin(db) != STATE_OK)
		return set_state_err(db, "starting a transaction", err, errlen);
	if (state_messages_list(db, mailbox_id, live_cb, &l) != STATE_OK || l.nomem) {
		if (l.nomem)
			snprintf(err, errlen, "out of memory");
		else
			set_state_err(db, "listing messages", err, errlen);
		goto out;
	}
	if (find_conflicts(&l, old, n, &changing) != 0) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (count_offered(db, mailbox_id, &l, &c->offered) != 0) {
		set_state_err(db, "reading devices", err, errlen);
		goto out;
	}
	if (do_store && changing > 0 && store(db, &l, changing, err, errlen) != 0)
		goto out;
	if (do_store && changing > 0) {
		if (state_tx_commit(db) != STATE_OK) {
			set_state_err(db, "committing", err, errlen);
			goto out;
		}
	} else {
		state_tx_rollback(db);
	}
	rc = 0;
	for (size_t i = 0; i < n; i++) {
		switch (old[i].outcome) {
		case IMPORT_MATCHED: c->matched++; break;
		case IMPORT_UNMATCHED: c->unmatched++; break;
		case IMPORT_AMBIGUOUS: c->ambiguous++; break;
		case IMPORT_CONFLICT: c->conflict++; break;
		}
	}
	c->changed = changing;
	c->unchanged = c->matched - changing;
out:
	if (rc != 0)
		state_tx_rollback(db);
	free(l.v);
	return rc;
}
