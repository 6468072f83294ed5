/* imap/fetch_tails.c — the last octets of many messages, with a bounded
 * window of pipelined UID FETCH commands (imap_fetch_tails, see imap.h).
 *
 * Messages are grouped by size: those whose sizes lie within `spread` of
 * the group's smallest share one partial fetch, BODY.PEEK[]<o.L> with o
 * the smallest size less the tail and L reaching the largest one's end.
 * The server returns each message from o to its end (at most L octets),
 * so the last octets of every member are in its answer: one command for
 * many messages, at the price of at most spread + tail octets each. A
 * member's answer is exactly size - o octets long when its size is what
 * the caller said; that is checked before anything is reported.
 */
#include "imap/session_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A group's UID set is cut into commands of at most this many octets of
 * set text (a command line of about 1 KB). */
#define TAIL_SET_TEXT 1000
/* Command octets in flight at most: far below any socket buffer, so a
 * write never blocks on a server that is itself blocked writing answers we
 * have not read yet (no deadlock). A command is refilled once half of the
 * window is free, by count and by octets. */
#define TAIL_WINDOW_OCTETS 8192
#define TAIL_CMD_MAX (TAIL_SET_TEXT + 96)

/* One message asked for. */
struct tail_want {
	uint32_t uid;
	uint64_t size, origin;
	size_t first;            /* its index in the caller's arrays */
	bool reported;
};

/* Messages sharing one partial fetch. */
struct tail_group {
	uint64_t origin, length;
	size_t first;            /* the smallest caller index of its members */
	struct imap_uidset set;
};

/* One command in flight. */
struct tail_slot {
	bool used;
	size_t octets;           /* of the command */
	char tag[IMAP_TAG_MAX + 1];
};

struct tails_ctx {
	size_t tail_len;
	imap_tail_fn *cb;
	void *arg;
	bool stopped;            /* cb said "no more" */
	struct tail_want *want;  /* ascending UID, no UID twice */
	size_t n_want;
	struct tail_slot slot[IMAP_PIPELINE_MAX];
	size_t in_flight, octets_in_flight;
	/* the body section being streamed, if it is BODY[]<...> */
	bool streaming;
	bool captured;           /* a stream ended; its tail is below */
	uint32_t cap_msn;
	uint64_t cap_total;      /* octets the stream announced */
	char tail[IMAP_TAIL_MAX];
	size_t cap_len;          /* octets kept in tail (the last ones) */
};

/* Keep the last tail_len octets of everything appended. */
static void keep_last(char *tail, size_t *len, size_t max, const char *data, size_t n)
{
	if (n >= max) {
		memcpy(tail, data + n - max, max);
		*len = max;
		return;
	}
	if (*len + n > max) {
		size_t drop = *len + n - max;
		memmove(tail, tail + drop, *len - drop);
		*len -= drop;
	}
	memcpy(tail + *len, data, n);
	*len += n;
}

static bool is_body_all(const char *name)
{
	return strncasecmp(name, "BODY[]", 6) == 0;
}

static int cmp_want_uid(const void *a, const void *b)
{
	const struct tail_want *x = a, *y = b;
	if (x->uid != y->uid)
		return x->uid < y->uid ? -1 : 1;
	return x->first < y->first ? -1 : x->first > y->first;
}

static struct tail_want *want_by_uid(struct tails_ctx *ctx, uint32_t uid)
{
	struct tail_want key = { .uid = uid };
	size_t lo = 0, hi = ctx->n_want;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ctx->want[mid].uid < key.uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < ctx->n_want && ctx->want[lo].uid == uid && !ctx->want[lo].reported)
		return &ctx->want[lo];
	return NULL;
}

static struct tail_slot *slot_by_tag(struct tails_ctx *ctx, const char *tag)
{
	for (size_t i = 0; i < IMAP_PIPELINE_MAX; i++)
		if (ctx->slot[i].used && strcmp(ctx->slot[i].tag, tag) == 0)
			return &ctx->slot[i];
	return NULL;
}

static int tails_stream(struct imap_session *s, void *vctx, enum imap_parse_status st,
    const struct imap_parse_event *ev)
{
	struct tails_ctx *ctx = vctx;
	(void)s;
	if (st == IMAP_PARSE_STREAM_BEGIN) {
		/* Only BODY[]<...> is ours; another section in the same
		 * response leaves its capture alone. */
		ctx->streaming = is_body_all(ev->section);
		if (ctx->streaming) {
			ctx->captured = false;
			ctx->cap_len = 0;
			ctx->cap_msn = ev->msn;
			ctx->cap_total = ev->size;
		}
	} else if (st == IMAP_PARSE_STREAM_DATA) {
		if (ctx->streaming)
			keep_last(ctx->tail, &ctx->cap_len, ctx->tail_len, ev->data, ev->len);
	} else if (st == IMAP_PARSE_STREAM_END && ctx->streaming) {
		ctx->streaming = false;
		ctx->captured = true;
	}
	return 0;
}

/* What of an answer of m octets ending in data[0..len) (len = min(m,
 * tail_len)) is w's tail: all k = min(tail_len, size) last octets when
 * the answer is exactly as long as w's size said; the real last octets,
 * fewer, when it is shorter; nothing when it is longer (a group's answer
 * then holds octets past the size the caller believes). */
static size_t tail_of(const struct tails_ctx *ctx, const struct tail_want *w, uint64_t m,
    const char **data, size_t len)
{
	uint64_t e = w->size - w->origin;
	uint64_t k = w->size < ctx->tail_len ? w->size : ctx->tail_len;

	if (m > e)
		return 0;
	uint64_t keep = m == e ? k : (k > e - m ? k - (e - m) : 0);
	if (keep > len)
		keep = len;
	*data += len - keep;
	return (size_t)keep;
}

static int tails_untagged(struct imap_session *s, void *vctx, const struct imap_response *r)
{
	struct tails_ctx *ctx = vctx;
	struct imap_msg m;
	const char *data = "";
	size_t len = 0;
	uint64_t total = 0;

	if (r->cond != IMAP_COND_NONE || strcmp(r->name, "FETCH") != 0)
		return 0;
	if (imap_fetch_parse_msg(s, r, &m) < 0)
		return -1;
	const struct imap_arg *b = imap_fetch_item(r, "BODY[]");
	struct tail_want *w = b && m.uid ? want_by_uid(ctx, m.uid) : NULL;
	if (!w) {
		ctx->captured = false;
		return 0;  /* a flag change, or not ours: an event */
	}
	if (b->type == IMAP_ARG_STREAMED) {
		if (!ctx->captured || ctx->cap_msn != r->number) {
			imap_set_last(s, IMAP_EPROTO, IMAP_CAUSE_NONE, "malformed FETCH body");
			return -1;
		}
		data = ctx->tail;
		len = ctx->cap_len;
		total = ctx->cap_total;
	} else if (b->type == IMAP_ARG_STRING) {
		data = b->u.str;
		len = b->len;
		total = b->len;
		if (len > ctx->tail_len) {
			data += len - ctx->tail_len;
			len = ctx->tail_len;
		}
	} else if (b->type != IMAP_ARG_NIL) {
		imap_set_last(s, IMAP_EPROTO, IMAP_CAUSE_NONE, "malformed FETCH body");
		return -1;
	}
	ctx->captured = false;
	w->reported = true;
	if (b->type != IMAP_ARG_NIL && !ctx->stopped) {
		len = tail_of(ctx, w, total, &data, len);
		if (ctx->cb(ctx->arg, m.uid, data, len) != 0)
			ctx->stopped = true;
	}
	return 1;
}

static int cmp_size(const void *a, const void *b, void *arg)
{
	const struct tail_want *v = arg;
	const struct tail_want *x = &v[*(const size_t *)a], *y = &v[*(const size_t *)b];
	if (x->size != y->size)
		return x->size < y->size ? -1 : 1;
	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

static int cmp_group_first(const void *a, const void *b)
{
	const struct tail_group *x = a, *y = b;
	return x->first < y->first ? -1 : x->first > y->first;
}

static void groups_free(struct tail_group *g, size_t n)
{
	for (size_t i = 0; g != NULL && i < n; i++)
		imap_uidset_free(&g[i].set);
	free(g);
}

/* The wants of the caller's messages (sizes > 0; a UID given twice once),
 * ascending by UID, and their groups in the caller's order. -1 when out of
 * memory. */
static int plan(struct tails_ctx *ctx, const uint32_t *uids, const uint64_t *sizes, size_t n,
    uint64_t spread, struct tail_group **gp, size_t *ngp)
{
	struct tail_want *w = malloc((n ? n : 1) * sizeof(*w));
	size_t nw = 0, ng = 0, *ord = NULL, *gof = NULL;
	struct tail_group *g = NULL;

	if (w == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (sizes[i] > 0)
			w[nw++] = (struct tail_want){ .uid = uids[i], .size = sizes[i], .first = i };
	qsort(w, nw, sizeof(*w), cmp_want_uid);
	size_t k = 0;
	for (size_t i = 0; i < nw; i++)
		if (k == 0 || w[k - 1].uid != w[i].uid)
			w[k++] = w[i];
	nw = k;
	ctx->want = w;
	ctx->n_want = nw;
	ord = malloc((nw ? nw : 1) * sizeof(*ord));
	gof = malloc((nw ? nw : 1) * sizeof(*gof));
	g = calloc(nw ? nw : 1, sizeof(*g));
	if (ord == NULL || gof == NULL || g == NULL)
		goto fail;
	for (size_t i = 0; i < nw; i++)
		ord[i] = i;
	qsort_r(ord, nw, sizeof(*ord), cmp_size, w);
	for (size_t i = 0; i < nw; ) {
		uint64_t lo = w[ord[i]].size, hi = lo;
		size_t j = i, first = SIZE_MAX;
		for (; j < nw && w[ord[j]].size - lo <= spread; j++) {
			hi = w[ord[j]].size;
			first = w[ord[j]].first < first ? w[ord[j]].first : first;
		}
		uint64_t origin = lo > ctx->tail_len ? lo - ctx->tail_len : 0;
		g[ng] = (struct tail_group){ .origin = origin, .length = hi - origin, .first = first };
		for (; i < j; i++) {
			w[ord[i]].origin = origin;
			gof[ord[i]] = ng;
		}
		ng++;
	}
	/* members in ascending UID order: each set grows at its end */
	for (size_t i = 0; i < nw; i++)
		if (imap_uidset_add(&g[gof[i]].set, w[i].uid) != 0)
			goto fail;
	qsort(g, ng, sizeof(*g), cmp_group_first);
	free(ord);
	free(gof);
	*gp = g;
	*ngp = ng;
	return 0;
fail:
	free(ord);
	free(gof);
	groups_free(g, nw);
	return -1;
}

/* Append the next command of group g (its set from *pos) to out (capacity
 * cap); 0, or -1 when the formatter refused it (s->last set). */
static int build_one(struct imap_session *s, struct tail_slot *sl, const struct tail_group *g,
    size_t *pos, char *out, size_t *len, size_t cap)
{
	char items[96];

	snprintf(items, sizeof(items), "(UID BODY.PEEK[]<%llu.%llu>)",
	    (unsigned long long)g->origin, (unsigned long long)g->length);
	imap_cmd_begin(s, "UID FETCH");
	imap_cmd_uidset(s->cmd, &g->set, pos, TAIL_SET_TEXT);
	imap_cmd_raw(s->cmd, items);
	if (imap_cmd_end(s->cmd) < 0) {
		imap_cmd_refused(s);
		return -1;
	}
	if (s->cmd->len > cap - *len) {
		imap_set_last(s, IMAP_EARG, IMAP_CAUSE_NONE, "command too long");
		return -1;
	}
	memcpy(out + *len, s->cmd->buf, s->cmd->len);
	*len += s->cmd->len;
	sl->used = true;
	sl->octets = s->cmd->len;
	snprintf(sl->tag, sizeof(sl->tag), "%s", s->tag);
	return 0;
}

static enum imap_result check_args(struct imap_session *s, const uint32_t *uids,
    const uint64_t *sizes, size_t n, size_t tail_len, uint64_t spread, imap_tail_fn *cb)
{
	if (!cb || tail_len == 0 || tail_len > IMAP_TAIL_MAX || spread > IMAP_TAIL_SPREAD_MAX ||
	    (n > 0 && (!uids || !sizes)))
		return imap_set_last(s, IMAP_EARG, IMAP_CAUSE_NONE, "bad tail fetch request");
	for (size_t i = 0; i < n; i++)
		if (uids[i] == 0 || sizes[i] > UINT32_MAX)
			return imap_set_last(s, IMAP_EARG, IMAP_CAUSE_NONE,
			    "bad tail fetch request: UID %u, size %llu", uids[i],
			    (unsigned long long)sizes[i]);
	return IMAP_OK;
}

/* The window has room for a refill: half of it free, by count and octets. */
static bool refill_due(const struct tails_ctx *ctx)
{
	return ctx->in_flight <= IMAP_PIPELINE_MAX / 2 &&
	    ctx->octets_in_flight <= TAIL_WINDOW_OCTETS / 2;
}

/* The caller's work while the server works (imap_fetch_tails_meanwhile);
 * its time is not the server's. */
static void run_meanwhile(struct imap_session *s, imap_meanwhile_fn **fn, void *marg)
{
	if (*fn == NULL)
		return;
	long long t0 = imap_conn_now_ms();
	(*fn)(marg);
	imap_conn_budget_skip(&s->conn, imap_conn_now_ms() - t0);
	*fn = NULL;
}

enum imap_result imap_fetch_tails_grouped(struct imap_session *s, const uint32_t *uids,
    const uint64_t *sizes, size_t n, size_t tail_len, uint64_t spread, imap_tail_fn *cb,
    void *arg)
{
	return imap_fetch_tails_meanwhile(s, uids, sizes, n, tail_len, spread, cb, arg, NULL,
	    NULL);
}

enum imap_result imap_fetch_tails_meanwhile(struct imap_session *s, const uint32_t *uids,
    const uint64_t *sizes, size_t n, size_t tail_len, uint64_t spread, imap_tail_fn *cb,
    void *arg, imap_meanwhile_fn *meanwhile, void *marg)
{
	enum imap_result r = imap_cmd_check(s, IMAP_STATE_SELECTED);
	if (r != IMAP_OK)
		return r;
	if ((r = check_args(s, uids, sizes, n, tail_len, spread, cb)) != IMAP_OK)
		return r;
	struct tails_ctx *ctx = calloc(1, sizeof(*ctx));
	char *batch = malloc(TAIL_WINDOW_OCTETS + TAIL_CMD_MAX);
	struct tail_group *g = NULL;
	size_t ng = 0;
	if (ctx)
		ctx->tail_len = tail_len;
	if (!ctx || !batch || plan(ctx, uids, sizes, n, spread, &g, &ng) != 0) {
		if (ctx)
			free(ctx->want);
		free(ctx);
		free(batch);
		return imap_set_last(s, IMAP_EARG, IMAP_CAUSE_NONE, "out of memory");
	}
	ctx->cb = cb;
	ctx->arg = arg;
	struct cmd_handler h = { .untagged = tails_untagged, .stream = tails_stream, .ctx = ctx };
	struct imap_status failed = { .result = IMAP_OK };
	size_t gi = 0, pos = 0;
	bool sending = ng > 0, any = false;

	for (;;) {
		/* Refill the window in one write once half of it is free. */
		if (sending && !ctx->stopped && refill_due(ctx)) {
			size_t len = 0;
			for (size_t i = 0; gi < ng && i < IMAP_PIPELINE_MAX; i++) {
				if (ctx->slot[i].used)
					continue;
				/* the next command's length, at most: a set of one
				 * range is short */
				size_t next = g[gi].set.n - pos <= 1 ? 128 : TAIL_CMD_MAX;
				if (ctx->octets_in_flight + next > TAIL_WINDOW_OCTETS)
					break;
				if (build_one(s, &ctx->slot[i], &g[gi], &pos, batch, &len,
				    TAIL_WINDOW_OCTETS + TAIL_CMD_MAX) < 0) {
					/* Send what was built, answer with this. */
					if (failed.result == IMAP_OK)
						failed = s->last;
					sending = false;
					break;
				}
				if (pos >= g[gi].set.n) {
					gi++;
					pos = 0;
				}
				ctx->in_flight++;
				ctx->octets_in_flight += ctx->slot[i].octets;
			}
			if (len > 0 && (r = imap_cmd_send_raw(s, batch, len)) != IMAP_OK)
				goto out;
			if (gi == ng)
				sending = false;
		}
		run_meanwhile(s, &meanwhile, marg);
		if (ctx->in_flight == 0)
			break;
		const struct imap_response *resp;
		if ((r = imap_cmd_next_tagged(s, &h, &resp)) != IMAP_OK)
			goto out;
		struct tail_slot *sl = slot_by_tag(ctx, resp->tag);
		if (!sl) {
			r = imap_proto_failed(s, "tagged response for a command not sent");
			goto out;
		}
		sl->used = false;
		ctx->in_flight--;
		ctx->octets_in_flight -= sl->octets;
		any = true;
		enum imap_result one = imap_cmd_tagged_result(s, &h, resp);
		bool gone = one == IMAP_NO && (s->last.code == IMAP_CODE_EXPUNGEISSUED ||
		    s->last.code == IMAP_CODE_NONEXISTENT);
		if (one != IMAP_OK && !gone && failed.result == IMAP_OK) {
			failed = s->last;
			sending = false;
		}
	}
	if (failed.result != IMAP_OK) {
		s->last = failed;
		r = failed.result;
	} else if (!any) {
		r = imap_set_last(s, IMAP_OK, IMAP_CAUSE_NONE, "no messages given");
	} else {
		r = imap_set_last(s, IMAP_OK, IMAP_CAUSE_NONE, "tails fetched");
	}
out:
	groups_free(g, ng);
	free(ctx->want);
	free(ctx);
	free(batch);
	return r;
}

enum imap_result imap_fetch_tails(struct imap_session *s, const uint32_t *uids,
    const uint64_t *sizes, size_t n, size_t tail_len, imap_tail_fn *cb, void *arg)
{
	return imap_fetch_tails_grouped(s, uids, sizes, n, tail_len, 0, cb, arg);
}
