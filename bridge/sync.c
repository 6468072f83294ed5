/* bridge/sync.c — record an upstream folder's listing in state
 * (bridge/sync.h). */
#include "bridge/sync.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bridge/log.h"
#include "bridge/matchkey.h"

struct sync_item {
	uint32_t uid;
	uint64_t size;
	unsigned flags;
	uint64_t gm_msgid;
	char *emailid;  /* owned; NULL = unknown */
	char *msgid;    /* owned; NULL = unknown */
	char *hash;     /* owned; NULL = not fetched */
};

struct sync_list {
	struct sync_item *v;
	size_t n, cap;
	const char *keyword;
	bool nomem;
};

static void list_free(struct sync_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].emailid);
		free(l->v[i].msgid);
		free(l->v[i].hash);
	}
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static unsigned state_flags(const struct imap_msg *m, const char *keyword)
{
	unsigned f = 0;

	if (m->flags & IMAP_FLAG_SEEN)
		f |= STATE_MF_SEEN;
	if (m->flags & IMAP_FLAG_DELETED)
		f |= STATE_MF_DELETED;
	for (size_t i = 0; keyword != NULL && keyword[0] && i < m->nkeywords; i++)
		if (strcasecmp(m->keywords[i], keyword) == 0)
			f |= STATE_MF_KEYWORD;
	return f;
}

static int list_cb(void *arg, const struct imap_msg *m)
{
	struct sync_list *l = arg;

	if (m->uid == 0 || !m->has_size)
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		struct sync_item *p = realloc(l->v, cap * sizeof(*p));
		if (p == NULL) {
			l->nomem = true;
			return 1;
		}
		l->v = p;
		l->cap = cap;
	}
	struct sync_item *it = &l->v[l->n];
	memset(it, 0, sizeof(*it));
	it->uid = m->uid;
	it->size = m->size;
	it->flags = state_flags(m, l->keyword);
	if (m->emailid != NULL && m->emailid[0] && strlen(m->emailid) <= STATE_EMAILID_MAX) {
		it->emailid = strdup(m->emailid);
		if (it->emailid == NULL) {
			l->nomem = true;
			return 1;
		}
	}
	if (m->gm_msgid != NULL) {
		char *end;
		unsigned long long v = strtoull(m->gm_msgid, &end, 10);
		if (*end == '\0' && end != m->gm_msgid)
			it->gm_msgid = v;
	}
	l->n++;
	return 0;
}

static int cmp_item(const void *a, const void *b)
{
	uint32_t x = ((const struct sync_item *)a)->uid;
	uint32_t y = ((const struct sync_item *)b)->uid;
	return x < y ? -1 : x > y;
}

static struct sync_item *find_item(struct sync_list *l, uint32_t uid)
{
	struct sync_item key = { .uid = uid };
	if (l->n == 0)
		return NULL;
	return bsearch(&key, l->v, l->n, sizeof(*l->v), cmp_item);
}

/* Sort by UID and drop a UID listed twice (a broken server). */
static void list_sort(struct sync_list *l)
{
	size_t w = 0;

	if (l->n == 0)
		return;
	qsort(l->v, l->n, sizeof(*l->v), cmp_item);
	for (size_t i = 0; i < l->n; i++) {
		if (w > 0 && l->v[w - 1].uid == l->v[i].uid) {
			free(l->v[i].emailid);
			continue;
		}
		l->v[w++] = l->v[i];
	}
	l->n = w;
}

static int header_cb(void *arg, const struct imap_msg *m)
{
	struct sync_list *l = arg;
	struct matchkey k;

	if (m->uid == 0 || m->header == NULL)
		return 0;
	struct sync_item *it = find_item(l, m->uid);
	if (it == NULL || it->hash != NULL)
		return 0;
	if (matchkey_compute(m->header, m->header_len, &k) != 0)
		return 0;
	it->hash = strdup(k.hash);
	if (k.msgid[0])
		it->msgid = strdup(k.msgid);
	if (it->hash == NULL || (k.msgid[0] && it->msgid == NULL)) {
		l->nomem = true;
		return 1;
	}
	return 0;
}

/* Fetch the match keys of uids[0..n) (ascending) in batches. */
static enum imap_result fetch_keys(struct bridge_upstream *up, struct sync_list *l,
    const uint32_t *uids, size_t n)
{
	struct imap_uidset set;
	enum imap_result r = IMAP_OK;

	imap_uidset_init(&set);
	for (size_t i = 0; i < n && r == IMAP_OK; i += BRIDGE_SYNC_HEADER_BATCH) {
		size_t end = i + BRIDGE_SYNC_HEADER_BATCH < n ? i + BRIDGE_SYNC_HEADER_BATCH : n;
		imap_uidset_clear(&set);
		for (size_t k = i; k < end; k++)
			if (imap_uidset_add(&set, uids[k]) != 0) {
				imap_uidset_free(&set);
				return IMAP_EARG;
			}
		r = imap_fetch_headers(up->imap, &set, matchkey_fields, MATCHKEY_NFIELDS, 0,
		    header_cb, l);
		if (l->nomem)
			r = IMAP_EARG;
	}
	imap_uidset_free(&set);
	return r;
}

static struct state_listing *to_listing(const struct sync_list *l)
{
	struct state_listing *v = calloc(l->n ? l->n : 1, sizeof(*v));

	if (v == NULL)
		return NULL;
	for (size_t i = 0; i < l->n; i++) {
		const struct sync_item *it = &l->v[i];
		v[i].uid = it->uid;
		v[i].size = it->size;
		v[i].flags = it->flags;
		v[i].message_id = it->msgid;
		v[i].hdr_hash = it->hash;
		v[i].emailid = it->emailid;
		v[i].gm_msgid = it->gm_msgid;
	}
	return v;
}

static enum pop3_md_status db_fail(struct state_db *db, const char *what, char *detail,
    size_t detail_len)
{
	snprintf(detail, detail_len, "state database: %s: %s", what, state_errmsg(db));
	return POP3_MD_TEMP;
}

static enum pop3_md_status up_fail(struct bridge_upstream *up, enum imap_result r,
    const char *what, char *detail, size_t detail_len)
{
	bridge_upstream_describe(up, what, detail, detail_len);
	return r == IMAP_EUNSUPPORTED ? POP3_MD_PERM : POP3_MD_TEMP;
}

/* The known path: keys only for messages state has not seen. Returns
 * STATE_UIDVALIDITY when state says the rematch path is needed after all. */
static int sync_known(struct bridge_upstream *up, struct state_db *db,
    const struct state_mailbox *mb, const struct state_mailbox_status *st,
    struct sync_list *l, int64_t now, enum imap_result *ir)
{
	uint32_t *uids = malloc((l->n ? l->n : 1) * sizeof(*uids));
	uint32_t *missing = malloc((l->n ? l->n : 1) * sizeof(*missing));
	size_t n_missing = 0;
	int rc = STATE_ERROR;

	*ir = IMAP_OK;
	if (uids == NULL || missing == NULL)
		goto out;
	for (size_t i = 0; i < l->n; i++)
		uids[i] = l->v[i].uid;
	if (mb->uidvalidity != 0) {
		rc = state_messages_unknown(db, mb->id, uids, l->n, missing, &n_missing);
		if (rc != STATE_OK)
			goto out;
	} else {
		memcpy(missing, uids, l->n * sizeof(*uids));
		n_missing = l->n;
	}
	*ir = fetch_keys(up, l, missing, n_missing);
	if (*ir != IMAP_OK) {
		rc = STATE_ERROR;
		goto out;
	}
	struct state_listing *v = to_listing(l);
	if (v == NULL) {
		rc = STATE_ERROR;
		goto out;
	}
	rc = state_messages_sync(db, mb->id, st, v, l->n, true, now, NULL);
	free(v);
out:
	free(uids);
	free(missing);
	return rc;
}

static int sync_rematch(struct bridge_upstream *up, struct state_db *db,
    const struct state_mailbox *mb, const struct state_mailbox_status *st,
    struct sync_list *l, int64_t now, enum imap_result *ir)
{
	uint32_t *need = malloc((l->n ? l->n : 1) * sizeof(*need));
	size_t n_need = 0;
	int rc = STATE_ERROR;

	*ir = IMAP_OK;
	if (need == NULL)
		return STATE_ERROR;
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].hash == NULL)
			need[n_need++] = l->v[i].uid;
	*ir = fetch_keys(up, l, need, n_need);
	free(need);
	if (*ir != IMAP_OK)
		return STATE_ERROR;
	struct state_listing *v = to_listing(l);
	if (v == NULL)
		return STATE_ERROR;
	rc = state_messages_rematch(db, mb->id, st, v, l->n, now, NULL);
	free(v);
	return rc;
}

/* ---- exact sizes before the first download ------------------------------ */

uint64_t bridge_exact_size(uint64_t size, const char *tail, size_t len)
{
	char last;

	if (size == 0 || len == 0)
		return size;  /* empty: RETR sends nothing; no tail: unknown */
	last = tail[len - 1];
	if (last == '\n')
		return len == 2 && tail[0] == '\r' ? size : size + 1;
	return last == '\r' ? size + 1 : size + 2;
}

struct tails {
	const struct state_uid_size *ask;  /* ascending UID */
	size_t n_ask;
	struct state_uid_size *got;        /* capacity n_ask */
	size_t n_got;
};

static int cmp_uid_size(const void *a, const void *b)
{
	uint32_t x = ((const struct state_uid_size *)a)->uid;
	uint32_t y = ((const struct state_uid_size *)b)->uid;
	return x < y ? -1 : x > y;
}

static int tail_cb(void *arg, uint32_t uid, const char *tail, size_t len)
{
	struct tails *t = arg;
	struct state_uid_size key = { .uid = uid };
	const struct state_uid_size *a = bsearch(&key, t->ask, t->n_ask, sizeof(*t->ask),
	    cmp_uid_size);

	/* A short tail: the message is shorter than RFC822.SIZE said, which
	 * only RETR can sort out. */
	if (a == NULL || len != (a->size < BRIDGE_SYNC_TAIL ? a->size : BRIDGE_SYNC_TAIL) ||
	    t->n_got == t->n_ask)
		return 0;
	t->got[t->n_got].uid = uid;
	t->got[t->n_got].size = bridge_exact_size(a->size, tail, len);
	t->n_got++;
	return 0;
}

/* Every live message of the folder without an exact size gets one from its
 * RFC822.SIZE and its last octets (pipelined, imap_fetch_tails). Upstream
 * trouble that ends the connection fails the sync; a NO or BAD only leaves
 * those sizes to be learned at the first RETR (a warning). What was learned
 * is stored either way. */
static enum pop3_md_status learn_exact_sizes(struct bridge_upstream *up, struct state_db *db,
    int64_t mailbox_id, char *detail, size_t detail_len)
{
	struct tails t = { 0 };
	struct state_uid_size *ask = NULL;
	uint32_t *uids = NULL;
	uint64_t *sizes = NULL;
	size_t n = 0, n_fetch = 0;
	enum pop3_md_status ret = POP3_MD_OK;
	enum imap_result ir = IMAP_OK;

	if (state_messages_inexact(db, mailbox_id, &ask, &n) != STATE_OK)
		return db_fail(db, "messages without an exact size", detail, detail_len);
	if (n == 0)
		return POP3_MD_OK;
	t.ask = ask;
	t.n_ask = n;
	t.got = malloc(n * sizeof(*t.got));
	uids = malloc(n * sizeof(*uids));
	sizes = malloc(n * sizeof(*sizes));
	if (t.got == NULL || uids == NULL || sizes == NULL) {
		snprintf(detail, detail_len, "exact sizes: out of memory");
		ret = POP3_MD_TEMP;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (ask[i].size == 0) {
			t.got[t.n_got++] = ask[i];  /* empty: RETR sends nothing */
		} else if (ask[i].size <= UINT32_MAX) {
			uids[n_fetch] = ask[i].uid;
			sizes[n_fetch++] = ask[i].size;
		}
	}
	if (n_fetch > 0)
		ir = imap_fetch_tails(up->imap, uids, sizes, n_fetch, BRIDGE_SYNC_TAIL, tail_cb, &t);
	if (ir == IMAP_NO || ir == IMAP_BAD) {
		pb_log(PB_LOG_WARN, "upstream", "folder=%s reading how messages end: %s %s;"
		    " their sizes are learned at the first download", up->selected,
		    imap_result_name(ir), imap_last(up->imap)->text);
	} else if (ir != IMAP_OK) {
		ret = up_fail(up, ir, "reading how messages end", detail, detail_len);
	}
	if (t.n_got > 0 && state_messages_set_exact_sizes(db, mailbox_id, t.got, t.n_got) !=
	    STATE_OK && ret == POP3_MD_OK)
		ret = db_fail(db, "storing exact sizes", detail, detail_len);
out:
	free(ask);
	free(t.got);
	free(uids);
	free(sizes);
	return ret;
}

enum pop3_md_status bridge_sync_folder(struct bridge_upstream *up, struct state_db *db,
    int64_t account_id, const char *folder, const char *keyword, int64_t now,
    struct state_mailbox *mb, char *detail, size_t detail_len)
{
	struct sync_list l = { .keyword = keyword };
	enum pop3_md_status ret = bridge_upstream_select(up, folder, detail, detail_len);
	enum imap_result ir = IMAP_OK;

	if (ret != POP3_MD_OK)
		return ret;
	if (state_mailbox_ensure(db, account_id, folder, mb) != STATE_OK)
		return db_fail(db, "mailbox", detail, detail_len);
	if (up->info.exists > 0) {
		ir = bridge_upstream_list(up, list_cb, &l);
		if (l.nomem) {
			snprintf(detail, detail_len, "listing %s: out of memory", folder);
			ret = POP3_MD_TEMP;
			goto out;
		}
		if (ir != IMAP_OK) {
			ret = up_fail(up, ir, "listing", detail, detail_len);
			goto out;
		}
	}
	list_sort(&l);

	struct state_mailbox_status st = {
		.uidvalidity = up->info.uidvalidity,
		.uidnext = up->info.has_uidnext ? up->info.uidnext : 0,
		.highestmodseq = up->info.has_highestmodseq ? up->info.highestmodseq : 0,
	};
	if (l.n > 0 && st.uidnext <= l.v[l.n - 1].uid)
		st.uidnext = l.v[l.n - 1].uid + 1;
	if (st.uidnext == 0)
		st.uidnext = 1;

	int rc = STATE_UIDVALIDITY;
	if (mb->uidvalidity == 0 || mb->uidvalidity == st.uidvalidity)
		rc = sync_known(up, db, mb, &st, &l, now, &ir);
	if (rc == STATE_UIDVALIDITY)
		rc = sync_rematch(up, db, mb, &st, &l, now, &ir);
	if (ir != IMAP_OK) {
		ret = l.nomem ? POP3_MD_TEMP : up_fail(up, ir, "fetching headers", detail,
		    detail_len);
		if (l.nomem)
			snprintf(detail, detail_len, "headers of %s: out of memory", folder);
		goto out;
	}
	if (rc != STATE_OK) {
		ret = db_fail(db, "recording the listing", detail, detail_len);
		goto out;
	}
	ret = learn_exact_sizes(up, db, mb->id, detail, detail_len);
	if (ret != POP3_MD_OK)
		goto out;
	if (state_mailbox_get_by_id(db, mb->id, mb) != STATE_OK)
		ret = db_fail(db, "mailbox", detail, detail_len);
out:
	list_free(&l);
	return ret;
}
