/* bridge/maildrop/sync.c — record an upstream folder's listing in state
 * (bridge/maildrop/sync.h). */
#include "bridge/maildrop/sync.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bridge/base/log.h"
#include "bridge/maildrop/matchkey.h"

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
			free(l->v[i].msgid);
			free(l->v[i].hash);
			continue;
		}
		l->v[w++] = l->v[i];
	}
	l->n = w;
}

/* The match keys of it from the header fields m carries. */
static int set_keys(struct sync_list *l, struct sync_item *it, const struct imap_msg *m)
{
	struct maildrop_matchkey k;

	if (maildrop_matchkey_compute(m->header, m->header_len, &k) != 0)
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

static int header_cb(void *arg, const struct imap_msg *m)
{
	struct sync_list *l = arg;

	if (m->uid == 0 || m->header == NULL)
		return 0;
	struct sync_item *it = find_item(l, m->uid);
	if (it == NULL || it->hash != NULL)
		return 0;
	return set_keys(l, it, m);
}

/* A listing that carries the header fields too (the first sync, a
 * rematch: every message needs its keys): one pass over the messages. */
static int list_keys_cb(void *arg, const struct imap_msg *m)
{
	struct sync_list *l = arg;
	size_t before = l->n;

	if (list_cb(arg, m) != 0)
		return 1;
	if (l->n == before || m->header == NULL)
		return 0;
	return set_keys(l, &l->v[l->n - 1], m);
}

/* Fetch the match keys of uids[0..n) (ascending) in batches. */
static enum imap_result fetch_keys(struct maildrop_upstream *up, struct sync_list *l,
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
		r = imap_fetch_headers(up->imap, &set, maildrop_matchkey_fields, MATCHKEY_NFIELDS, 0,
		    header_cb, l);
		if (l->nomem)
			r = IMAP_EARG;
	}
	imap_uidset_free(&set);
	return r;
}

/* Keep those of uids[0..n) whose keys the listing did not carry; the new n. */
static size_t without_keys(struct sync_list *l, uint32_t *uids, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		const struct sync_item *it = find_item(l, uids[i]);
		if (it == NULL || it->hash == NULL)
			uids[k++] = uids[i];
	}
	return k;
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

static enum pop3_md_status up_fail(struct maildrop_upstream *up, enum imap_result r,
    const char *what, char *detail, size_t detail_len)
{
	maildrop_upstream_describe(up, what, detail, detail_len);
	return r == IMAP_EUNSUPPORTED ? POP3_MD_PERM : POP3_MD_TEMP;
}

/* Record l, a complete listing or (complete false) the changed messages
 * with the UIDs gone[0..n_gone) marked gone in the same transaction. */
static int record_listing(struct state_db *db, const struct state_mailbox *mb,
    const struct state_mailbox_status *st, const struct state_listing *v, size_t n,
    bool complete, const uint32_t *gone, size_t n_gone, int64_t now)
{
	if (complete)
		return state_messages_sync(db, mb->id, st, v, n, true, now, NULL);
	int rc = state_tx_begin(db);
	if (rc != STATE_OK)
		return rc;
	rc = state_messages_sync(db, mb->id, st, v, n, false, now, NULL);
	if (rc == STATE_OK && n_gone > 0)
		rc = state_messages_gone(db, mb->id, gone, n_gone, now);
	if (rc == STATE_OK)
		return state_tx_commit(db);
	state_tx_rollback(db);
	return rc;
}

/* The known path: keys only for messages state has not seen. Returns
 * STATE_UIDVALIDITY when state says the rematch path is needed after all.
 * l is the complete listing, or the changes (complete false; gone as for
 * record_listing). */
static int sync_known(struct maildrop_upstream *up, struct state_db *db,
    const struct state_mailbox *mb, const struct state_mailbox_status *st,
    struct sync_list *l, bool complete, const uint32_t *gone, size_t n_gone, int64_t now,
    enum imap_result *ir)
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
	n_missing = without_keys(l, missing, n_missing);
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
	rc = record_listing(db, mb, st, v, l->n, complete, gone, n_gone, now);
	free(v);
out:
	free(uids);
	free(missing);
	return rc;
}

static int sync_rematch(struct maildrop_upstream *up, struct state_db *db,
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

uint64_t maildrop_exact_size(uint64_t size, const char *tail, size_t len)
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
	t->got[t->n_got].size = maildrop_exact_size(a->size, tail, len);
	t->n_got++;
	return 0;
}

/* The tails of ask[0..n) (ascending UID) into t (t->got allocated here),
 * meanwhile(marg) run while the server works on them
 * (imap_fetch_tails_meanwhile); sizes of 0 need no tail. IMAP_EARG when
 * out of memory (*nomem). */
static enum imap_result read_tails(struct maildrop_upstream *up,
    const struct state_uid_size *ask, size_t n, struct tails *t,
    imap_meanwhile_fn *meanwhile, void *marg, bool *nomem)
{
	uint32_t *uids = malloc((n ? n : 1) * sizeof(*uids));
	uint64_t *sizes = malloc((n ? n : 1) * sizeof(*sizes));
	size_t n_fetch = 0;
	enum imap_result ir = IMAP_EARG;

	*t = (struct tails){ .ask = ask, .n_ask = n };
	t->got = malloc((n ? n : 1) * sizeof(*t->got));
	*nomem = t->got == NULL || uids == NULL || sizes == NULL;
	if (*nomem)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (ask[i].size == 0) {
			t->got[t->n_got++] = ask[i];  /* empty: RETR sends nothing */
		} else if (ask[i].size <= UINT32_MAX) {
			uids[n_fetch] = ask[i].uid;
			sizes[n_fetch++] = ask[i].size;
		}
	}
	ir = imap_fetch_tails_meanwhile(up->imap, uids, sizes, n_fetch, BRIDGE_SYNC_TAIL,
	    BRIDGE_SYNC_TAIL_SPREAD, tail_cb, t, meanwhile, marg);
out:
	free(uids);
	free(sizes);
	return ir;
}

/* What read_tails gave: a NO or BAD leaves those sizes to the first RETR
 * (a warning); trouble that ended the connection fails the sync. What was
 * learned is stored either way (store false: the rows are not there). */
static enum pop3_md_status tails_outcome(struct maildrop_upstream *up, struct state_db *db,
    int64_t mailbox_id, enum imap_result ir, bool nomem, struct tails *t, bool store,
    char *detail, size_t detail_len)
{
	enum pop3_md_status ret = POP3_MD_OK;

	if (nomem) {
		snprintf(detail, detail_len, "exact sizes: out of memory");
		ret = POP3_MD_TEMP;
	} else if (ir == IMAP_NO || ir == IMAP_BAD) {
		base_log(PB_LOG_WARN, "upstream", "folder=%s reading how messages end: %s %s;"
		    " their sizes are learned at the first download", up->selected,
		    imap_result_name(ir), imap_last(up->imap)->text);
	} else if (ir != IMAP_OK) {
		ret = up_fail(up, ir, "reading how messages end", detail, detail_len);
	}
	if (store && t->n_got > 0 &&
	    state_messages_set_exact_sizes(db, mailbox_id, t->got, t->n_got) != STATE_OK &&
	    ret == POP3_MD_OK)
		ret = db_fail(db, "storing exact sizes", detail, detail_len);
	free(t->got);
	t->got = NULL;
	return ret;
}

/* Every live message of the folder without an exact size gets one from its
 * RFC822.SIZE and its last octets (pipelined, imap_fetch_tails). Upstream
 * trouble that ends the connection fails the sync; a NO or BAD only leaves
 * those sizes to be learned at the first RETR (a warning). What was learned
 * is stored either way. */
static enum pop3_md_status learn_exact_sizes(struct maildrop_upstream *up, struct state_db *db,
    int64_t mailbox_id, char *detail, size_t detail_len)
{
	struct tails t;
	struct state_uid_size *ask = NULL;
	size_t n = 0;
	bool nomem = false;

	if (state_messages_inexact(db, mailbox_id, &ask, &n) != STATE_OK)
		return db_fail(db, "messages without an exact size", detail, detail_len);
	if (n == 0)
		return POP3_MD_OK;
	enum imap_result ir = read_tails(up, ask, n, &t, NULL, NULL, &nomem);
	enum pop3_md_status ret = tails_outcome(up, db, mailbox_id, ir, nomem, &t, true, detail,
	    detail_len);
	free(ask);
	return ret;
}

/* ---- the listing, complete or incremental --------------------------------- */

static bool keyword_default(const char *keyword)
{
	return keyword != NULL && strcasecmp(keyword, BRIDGE_SYNC_MODSEQ_KEYWORD) == 0;
}

/* The HIGHESTMODSEQ stored with a listing: the one SELECT reported (never
 * one newer than the data), or 0 (unknown: the next sync lists everything)
 * when the server keeps none or the flags were computed with another dele
 * keyword than the one a stored mod-sequence promises (bridge/maildrop/sync.h). */
static uint64_t modseq_to_store(const struct maildrop_upstream *up, const char *keyword)
{
	if (!up->info.has_highestmodseq || !keyword_default(keyword))
		return 0;
	return up->info.highestmodseq;
}

static struct state_mailbox_status listing_status(const struct maildrop_upstream *up,
    const struct sync_list *l, const char *keyword)
{
	struct state_mailbox_status st = {
		.uidvalidity = up->info.uidvalidity,
		.uidnext = up->info.has_uidnext ? up->info.uidnext : 0,
		.highestmodseq = modseq_to_store(up, keyword),
	};
	if (l->n > 0 && st.uidnext <= l->v[l->n - 1].uid)
		st.uidnext = l->v[l->n - 1].uid + 1;
	if (st.uidnext == 0)
		st.uidnext = 1;
	return st;
}

/* Why the stored status cannot be the base of an incremental sync, or NULL
 * when it can (bridge/maildrop/sync.h: when the shortcut is trusted). */
static const char *no_increment(const struct maildrop_upstream *up,
    const struct state_mailbox *mb, const char *keyword)
{
	const struct imap_mailbox_info *in = &up->info;

	if (mb->uidvalidity == 0)
		return "first-sync";
	if (mb->uidvalidity != in->uidvalidity)
		return "uidvalidity-changed";
	if (!imap_has(up->imap, IMAP_CAP_CONDSTORE))
		return "no-condstore";
	if (!in->has_highestmodseq || in->highestmodseq == 0 || in->highestmodseq > INT64_MAX)
		return "no-modseq";
	if (mb->highestmodseq == 0 || !keyword_default(keyword))
		return "no-stored-modseq";
	if (in->highestmodseq < mb->highestmodseq)
		return "modseq-went-back";
	if (!in->has_uidnext || in->uidnext < mb->uidnext ||
	    (in->highestmodseq == mb->highestmodseq && in->uidnext != mb->uidnext))
		return "uidnext-inconsistent";
	return NULL;
}

static enum pop3_md_status no_memory(const char *what, const char *folder, char *detail,
    size_t detail_len)
{
	snprintf(detail, detail_len, "%s %s: out of memory", what, folder);
	return POP3_MD_TEMP;
}

/* The outcome of a listing into l (sorted on success). */
static enum pop3_md_status listed(struct maildrop_upstream *up, struct sync_list *l,
    enum imap_result ir, const char *what, const char *folder, char *detail,
    size_t detail_len)
{
	if (l->nomem)
		return no_memory(what, folder, detail, detail_len);
	if (ir != IMAP_OK)
		return up_fail(up, ir, what, detail, detail_len);
	list_sort(l);
	return POP3_MD_OK;
}

/* The outcome of fetching match keys (ir) and recording (rc). */
static enum pop3_md_status recorded(struct maildrop_upstream *up, struct state_db *db,
    const struct sync_list *l, enum imap_result ir, int rc, const char *what,
    const char *folder, char *detail, size_t detail_len)
{
	if (ir != IMAP_OK)
		return l->nomem ? no_memory("headers of", folder, detail, detail_len) :
		    up_fail(up, ir, "fetching headers", detail, detail_len);
	if (rc != STATE_OK)
		return db_fail(db, what, detail, detail_len);
	return POP3_MD_OK;
}

/* The listing recorded while the server reads the messages' tails
 * (sync_first). */
struct first_record {
	struct state_db *db;
	const struct state_mailbox *mb;
	const struct state_mailbox_status *st;
	const struct state_listing *v;
	size_t n;
	int64_t now;
	int rc;
	bool ran;
};

static void record_first(void *arg)
{
	struct first_record *r = arg;

	r->rc = record_listing(r->db, r->mb, r->st, r->v, r->n, true, NULL, 0, r->now);
	r->ran = true;
}

/* The first sync of a folder (docs/DESIGN.md, "Exact sizes from the first
 * LIST"): every message is new and its keys came with the listing (the few
 * it could not give are fetched first), or are left for maildrop_sync_keys
 * (keys_later). The tails of all of them are asked for, and while the
 * server reads its messages to answer, the listing is recorded: the server
 * and SQLite work side by side instead of one after the other. Then the
 * exact sizes are stored. */
static enum pop3_md_status sync_first(struct maildrop_upstream *up, struct state_db *db,
    const struct state_mailbox *mb, const struct state_mailbox_status *st,
    struct sync_list *l, int64_t now, bool keys_later, char *detail, size_t detail_len)
{
	uint32_t *need = malloc((l->n ? l->n : 1) * sizeof(*need));
	struct state_uid_size *ask = malloc((l->n ? l->n : 1) * sizeof(*ask));
	struct state_listing *v = NULL;
	size_t n_need = 0;
	enum pop3_md_status ret;

	if (need == NULL || ask == NULL) {
		ret = no_memory("listing of", mb->folder, detail, detail_len);
		goto out;
	}
	for (size_t i = 0; i < l->n; i++) {
		if (l->v[i].hash == NULL && !keys_later)
			need[n_need++] = l->v[i].uid;
		ask[i] = (struct state_uid_size){ .uid = l->v[i].uid, .size = l->v[i].size };
	}
	enum imap_result ir = fetch_keys(up, l, need, n_need);
	if (ir != IMAP_OK) {
		ret = recorded(up, db, l, ir, STATE_ERROR, "", mb->folder, detail, detail_len);
		goto out;
	}
	v = to_listing(l);
	if (v == NULL) {
		ret = no_memory("listing of", mb->folder, detail, detail_len);
		goto out;
	}
	struct first_record rec = { .db = db, .mb = mb, .st = st, .v = v, .n = l->n, .now = now };
	struct tails t;
	bool nomem = false;
	ir = read_tails(up, ask, l->n, &t, record_first, &rec, &nomem);
	if (!rec.ran)
		record_first(&rec);
	ret = recorded(up, db, l, IMAP_OK, rec.rc, "recording the listing", mb->folder, detail,
	    detail_len);
	if (ret == POP3_MD_OK) {
		ret = tails_outcome(up, db, mb->id, ir, nomem, &t, true, detail, detail_len);
	} else {
		char ignored[256];
		(void)tails_outcome(up, db, mb->id, ir, nomem, &t, false, ignored,
		    sizeof(ignored));
	}
out:
	free(need);
	free(ask);
	free(v);
	return ret;
}

/* The complete listing: every message, keys for the unknown ones, then the
 * rematch path when UIDVALIDITY changed. The first sync and a rematch need
 * every message's keys: the listing carries them (not for a first sync with
 * keys_later). *tails_done: the first sync read every message's tail
 * already. */
static enum pop3_md_status sync_full(struct maildrop_upstream *up, struct state_db *db,
    const struct state_mailbox *mb, const char *keyword, int64_t now, bool keys_later,
    bool *tails_done, char *detail, size_t detail_len)
{
	struct sync_list l = { .keyword = keyword };
	enum pop3_md_status ret = POP3_MD_OK;
	enum imap_result ir = IMAP_OK;
	/* a big first sync may leave the keys for later (sync.h) */
	keys_later = keys_later && up->info.exists > BRIDGE_SYNC_HEADER_BATCH;
	bool all_keys = mb->uidvalidity == 0 ? !keys_later :
	    mb->uidvalidity != up->info.uidvalidity;

	if (up->info.exists > 0 && all_keys)
		ir = maildrop_upstream_list_fields(up, maildrop_matchkey_fields, MATCHKEY_NFIELDS,
		    list_keys_cb, &l);
	else if (up->info.exists > 0)
		ir = maildrop_upstream_list(up, list_cb, &l);
	ret = listed(up, &l, ir, "listing", mb->folder, detail, detail_len);
	if (ret != POP3_MD_OK)
		goto out;

	struct state_mailbox_status st = listing_status(up, &l, keyword);
	if (mb->uidvalidity == 0) {
		ret = sync_first(up, db, mb, &st, &l, now, keys_later, detail, detail_len);
		*tails_done = true;
		goto out;
	}
	int rc = STATE_UIDVALIDITY;
	if (mb->uidvalidity == 0 || mb->uidvalidity == st.uidvalidity)
		rc = sync_known(up, db, mb, &st, &l, true, NULL, 0, now, &ir);
	if (rc == STATE_UIDVALIDITY)
		rc = sync_rematch(up, db, mb, &st, &l, now, &ir);
	ret = recorded(up, db, &l, ir, rc, "recording the listing", mb->folder, detail,
	    detail_len);
out:
	list_free(&l);
	return ret;
}

/* The live UIDs of l that *vanished holds, into *out (malloc'd). */
static int live_vanished(struct state_db *db, int64_t mailbox_id,
    const struct imap_uidset *vanished, uint32_t **out, size_t *n)
{
	uint32_t *live = NULL;
	size_t n_live = 0, k = 0;

	*out = NULL;
	*n = 0;
	if (imap_uidset_empty(vanished))
		return STATE_OK;
	int rc = state_messages_live_uids(db, mailbox_id, &live, &n_live);
	if (rc != STATE_OK)
		return rc;
	for (size_t i = 0; i < n_live; i++)
		if (imap_uidset_contains(vanished, live[i]))
			live[k++] = live[i];
	*out = live;
	*n = k;
	return STATE_OK;
}

/* Messages changed since the stored HIGHESTMODSEQ (flags, new ones) and,
 * with QRESYNC, the ones expunged since: recorded in one transaction with
 * the new status. */
static enum pop3_md_status sync_changes(struct maildrop_upstream *up, struct state_db *db,
    const struct state_mailbox *mb, const char *keyword, int64_t now, bool *refused,
    char *detail, size_t detail_len)
{
	struct sync_list l = { .keyword = keyword };
	struct imap_uidset vanished;
	uint32_t *gone = NULL;
	size_t n_gone = 0;
	enum pop3_md_status ret = POP3_MD_OK;

	imap_uidset_init(&vanished);
	enum imap_result ir = maildrop_upstream_list_changed(up, mb->highestmodseq, &vanished,
	    list_cb, &l);
	*refused = ir == IMAP_NO || ir == IMAP_BAD;
	ret = listed(up, &l, ir, "listing changes", mb->folder, detail, detail_len);
	if (ret != POP3_MD_OK)
		goto out;
	if (live_vanished(db, mb->id, &vanished, &gone, &n_gone) != STATE_OK) {
		ret = db_fail(db, "live messages", detail, detail_len);
		goto out;
	}
	struct state_mailbox_status st = listing_status(up, &l, keyword);
	int rc = sync_known(up, db, mb, &st, &l, false, gone, n_gone, now, &ir);
	ret = recorded(up, db, &l, ir, rc, "recording changes", mb->folder, detail, detail_len);
	base_log(PB_LOG_DEBUG, "sync", "folder=%s changed=%zu vanished=%zu modseq=%llu->%llu",
	    mb->folder, l.n, n_gone, (unsigned long long)mb->highestmodseq,
	    (unsigned long long)up->info.highestmodseq);
out:
	free(gone);
	imap_uidset_free(&vanished);
	list_free(&l);
	return ret;
}

/* The UIDs of there (the server's) that live[0..n) (ascending) lacks, added
 * to out as ranges. 0, or -1 (allocation). */
static int missing_uids(const struct imap_uidset *there, const uint32_t *live, size_t n,
    struct imap_uidset *out)
{
	size_t k = 0;

	for (size_t i = 0; i < there->n; i++) {
		uint64_t next = there->r[i].lo, hi = there->r[i].hi;
		while (k < n && live[k] < next)
			k++;
		for (; k < n && live[k] <= hi; k++) {
			if (live[k] > next &&
			    imap_uidset_add_range(out, (uint32_t)next, live[k] - 1) != 0)
				return -1;
			next = (uint64_t)live[k] + 1;
		}
		if (next <= hi && imap_uidset_add_range(out, (uint32_t)next, (uint32_t)hi) != 0)
			return -1;
	}
	return 0;
}

/* Make state's live set the server's: UID SEARCH ALL names every UID there
 * is at one instant; live messages it lacks are marked gone, and UIDs state
 * does not hold (messages that came after the changes were listed) are
 * listed and recorded, in one transaction. What a complete listing would
 * do, for the price of a compact UID set. */
static enum pop3_md_status reconcile(struct maildrop_upstream *up, struct state_db *db,
    const struct state_mailbox *mb, const char *keyword, int64_t now, bool *refused,
    char *detail, size_t detail_len)
{
	struct imap_search all = { 0 };
	struct imap_uidset there, missing;
	struct sync_list l = { .keyword = keyword };
	uint32_t *live = NULL;
	size_t n_live = 0, n_gone = 0;
	enum pop3_md_status ret = POP3_MD_OK;
	unsigned opts = IMAP_FETCH_EMAILID | IMAP_FETCH_GMMSGID;

	imap_uidset_init(&there);
	imap_uidset_init(&missing);
	enum imap_result ir = imap_uid_search(up->imap, &all, &there);
	*refused = ir == IMAP_NO || ir == IMAP_BAD;
	if (ir != IMAP_OK) {
		ret = up_fail(up, ir, "listing UIDs", detail, detail_len);
		goto out;
	}
	if (state_messages_live_uids(db, mb->id, &live, &n_live) != STATE_OK) {
		ret = db_fail(db, "live messages", detail, detail_len);
		goto out;
	}
	if (missing_uids(&there, live, n_live, &missing) != 0) {
		ret = no_memory("UIDs of", mb->folder, detail, detail_len);
		goto out;
	}
	for (size_t i = 0; i < n_live; i++)
		if (!imap_uidset_contains(&there, live[i]))
			live[n_gone++] = live[i];  /* expunged upstream */
	if (!imap_uidset_empty(&missing))
		ir = imap_fetch_info(up->imap, &missing, opts, list_cb, &l);
	ret = listed(up, &l, ir, "listing", mb->folder, detail, detail_len);
	if (ret != POP3_MD_OK)
		goto out;
	struct state_mailbox_status st = listing_status(up, &l, keyword);
	int rc = sync_known(up, db, mb, &st, &l, false, live, n_gone, now, &ir);
	ret = recorded(up, db, &l, ir, rc, "recording the UID listing", mb->folder, detail,
	    detail_len);
	base_log(PB_LOG_DEBUG, "sync", "folder=%s UID SEARCH: expunged=%zu new=%zu", mb->folder,
	    n_gone, l.n);
out:
	free(live);
	list_free(&l);
	imap_uidset_free(&missing);
	imap_uidset_free(&there);
	return ret;
}

/* The live count is the server's count as SELECT reported it, with nothing
 * announced since: then state holds exactly the server's messages, in
 * order, and (without QRESYNC) the session's sequence-number map can be
 * built from them. */
static enum pop3_md_status count_agrees(struct maildrop_upstream *up, struct state_db *db,
    const struct state_mailbox *mb, bool *agrees, char *detail, size_t detail_len)
{
	size_t n_live = 0;
	uint32_t *live = NULL;

	*agrees = false;
	if (state_messages_live_count(db, mb->id, &n_live) != STATE_OK)
		return db_fail(db, "counting messages", detail, detail_len);
	if (n_live != imap_exists(up->imap))
		return POP3_MD_OK;
	*agrees = true;
	if (up->qresync)
		return POP3_MD_OK;
	if (state_messages_live_uids(db, mb->id, &live, &n_live) != STATE_OK)
		return db_fail(db, "live messages", detail, detail_len);
	maildrop_upstream_map_set(up, live, n_live);
	free(live);
	return POP3_MD_OK;
}

/* The incremental sync (bridge/maildrop/sync.h; docs/DESIGN.md says why each step
 * is enough). *refused: the server answered NO or BAD to CHANGEDSINCE or
 * UID SEARCH (the session is usable; what was recorded is right). */
static enum pop3_md_status sync_incremental(struct maildrop_upstream *up, struct state_db *db,
    const struct state_mailbox *mb, const char *keyword, int64_t now, bool *refused,
    char *detail, size_t detail_len)
{
	enum pop3_md_status ret;
	bool agrees = false;

	if (up->info.highestmodseq == mb->highestmodseq) {
		/* Nothing changed but maybe expunges (CONDSTORE alone need not
		 * raise HIGHESTMODSEQ for them), and no command since SELECT. */
		ret = count_agrees(up, db, mb, &agrees, detail, detail_len);
	} else {
		ret = sync_changes(up, db, mb, keyword, now, refused, detail, detail_len);
		/* Without QRESYNC, expunges since the last sync are unknown and a
		 * count could be balanced by a message that arrived meanwhile:
		 * only the UID set is exact. */
		if (ret == POP3_MD_OK && up->qresync)
			ret = count_agrees(up, db, mb, &agrees, detail, detail_len);
	}
	if (ret != POP3_MD_OK || agrees)
		return ret;
	maildrop_upstream_map_forget(up);
	return reconcile(up, db, mb, keyword, now, refused, detail, detail_len);
}

/* Match keys for the live messages of the selected folder that have none:
 * one listing of them with the header fields, stored in one transaction.
 * A NO or BAD leaves them for the next time (a warning). */
enum pop3_md_status maildrop_sync_keys(struct maildrop_upstream *up, struct state_db *db,
    int64_t mailbox_id, char *detail, size_t detail_len)
{
	struct sync_list l = { 0 };
	struct imap_uidset set;
	uint32_t *uids = NULL;
	size_t n = 0;
	enum pop3_md_status ret = POP3_MD_OK;

	if (state_messages_keyless(db, mailbox_id, &uids, &n) != STATE_OK)
		return db_fail(db, "messages without match keys", detail, detail_len);
	if (n == 0)
		return POP3_MD_OK;
	imap_uidset_init(&set);
	for (size_t i = 0; i < n; i++)
		if (imap_uidset_add(&set, uids[i]) != 0)
			l.nomem = true;
	free(uids);
	enum imap_result ir = l.nomem ? IMAP_EARG : imap_fetch_headers(up->imap, &set,
	    maildrop_matchkey_fields, MATCHKEY_NFIELDS, 0, list_keys_cb, &l);
	imap_uidset_free(&set);
	if (l.nomem) {
		ret = no_memory("match keys of", up->selected, detail, detail_len);
	} else if (ir == IMAP_NO || ir == IMAP_BAD) {
		base_log(PB_LOG_WARN, "upstream", "folder=%s header fields: %s %s; asked again"
		    " at the next sync", up->selected, imap_result_name(ir),
		    imap_last(up->imap)->text);
	} else if (ir != IMAP_OK) {
		ret = up_fail(up, ir, "fetching headers", detail, detail_len);
	}
	size_t k = 0;
	for (size_t i = 0; i < l.n; i++)  /* only those the server gave keys for */
		if (l.v[i].hash != NULL) {
			l.v[k++] = l.v[i];
		} else {
			free(l.v[i].emailid);
			free(l.v[i].msgid);
		}
	l.n = k;
	struct state_listing *v = ret == POP3_MD_OK && k > 0 ? to_listing(&l) : NULL;
	if (ret == POP3_MD_OK && k > 0 &&
	    (v == NULL || state_messages_set_keys(db, mailbox_id, v, k) != STATE_OK))
		ret = v == NULL ? no_memory("match keys of", up->selected, detail, detail_len) :
		    db_fail(db, "storing match keys", detail, detail_len);
	free(v);
	list_free(&l);
	return ret;
}

static enum pop3_md_status sync_folder(struct maildrop_upstream *up, struct state_db *db,
    int64_t account_id, const char *folder, const char *keyword, int64_t now,
    struct state_mailbox *mb, bool keys_later, bool *keys_due, char *detail,
    size_t detail_len)
{
	enum pop3_md_status ret = maildrop_upstream_select(up, folder, detail, detail_len);

	if (ret != POP3_MD_OK)
		return ret;
	if (state_mailbox_ensure(db, account_id, folder, mb) != STATE_OK)
		return db_fail(db, "mailbox", detail, detail_len);
	const char *why = no_increment(up, mb, keyword);
	bool refused = false;
	if (why == NULL) {
		ret = sync_incremental(up, db, mb, keyword, now, &refused, detail, detail_len);
		if (ret != POP3_MD_OK && refused && maildrop_upstream_usable(up)) {
			/* A server that announces CONDSTORE but will not answer
			 * CHANGEDSINCE or UID SEARCH still gets its sessions. */
			base_log(PB_LOG_WARN, "upstream", "folder=%s %s; listing the whole folder",
			    folder, detail);
			why = "incremental-refused";
		}
	}
	bool tails_done = false;
	if (why != NULL) {
		base_log(PB_LOG_DEBUG, "sync", "folder=%s complete listing (%s)", folder, why);
		ret = sync_full(up, db, mb, keyword, now, keys_later, &tails_done, detail,
		    detail_len);
	}
	if (ret != POP3_MD_OK)
		return ret;
	if (!tails_done)
		ret = learn_exact_sizes(up, db, mb->id, detail, detail_len);
	if (ret != POP3_MD_OK)
		return ret;
	/* Messages without keys (left by a first sync, or by a session or
	 * process that stopped before storing them): up to a batch now, more
	 * after the client's answer when the caller can wait (sync.h). */
	uint32_t *keyless = NULL;
	size_t n_keyless = 0;
	if (state_messages_keyless(db, mb->id, &keyless, &n_keyless) != STATE_OK)
		return db_fail(db, "messages without match keys", detail, detail_len);
	free(keyless);
	if (keys_later && n_keyless > BRIDGE_SYNC_HEADER_BATCH)
		*keys_due = true;
	else if (n_keyless > 0 &&
	    (ret = maildrop_sync_keys(up, db, mb->id, detail, detail_len)) != POP3_MD_OK)
		return ret;
	if (state_mailbox_get_by_id(db, mb->id, mb) != STATE_OK)
		return db_fail(db, "mailbox", detail, detail_len);
	return POP3_MD_OK;
}

enum pop3_md_status maildrop_sync_folder(struct maildrop_upstream *up, struct state_db *db,
    int64_t account_id, const char *folder, const char *keyword, int64_t now,
    struct state_mailbox *mb, char *detail, size_t detail_len)
{
	return sync_folder(up, db, account_id, folder, keyword, now, mb, false, NULL, detail,
	    detail_len);
}

enum pop3_md_status maildrop_sync_folder_keys_later(struct maildrop_upstream *up,
    struct state_db *db, int64_t account_id, const char *folder, const char *keyword,
    int64_t now, struct state_mailbox *mb, bool *keys_due, char *detail, size_t detail_len)
{
	*keys_due = false;
	return sync_folder(up, db, account_id, folder, keyword, now, mb, true, keys_due, detail,
	    detail_len);
}
