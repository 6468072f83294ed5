/* imap/ahead.c — commands sent ahead of their answers: the queue behind
 * imap_fetch_ahead, imap_store_ahead and imap_fetch_body's use of it (see
 * imap.h, "read-ahead").
 *
 * Servers run pipelined commands side by side: Dovecot sends the bodies of
 * several FETCHes before the first one's tagged OK. So answers are not read
 * command by command. Tagged replies are matched by tag, whatever their
 * order; bodies go, in the order they come, to the oldest fetch in flight
 * asking for that UID and section that has had none yet. Waiting for one
 * fetch reads until its body has come whole (then stops: what follows may
 * be the next fetch's body, left in the socket for the next call) or its
 * tagged reply came. A body for a fetch after the one waited for (only
 * when that one has none: a message gone) is dropped and its fetch no
 * longer matches; nothing is ever held in memory for later. An entry
 * leaves the queue once answered and nobody waits for it.
 */
#include "imap/session_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static struct imap_ahead_entry *at(const struct imap_session *s, size_t i)
{
	struct imap_ahead *q = s->ahead;
	return &q->e[(q->head + i) % IMAP_AHEAD_MAX];
}

size_t imap_ahead_count(const struct imap_session *s)
{
	return s->ahead ? s->ahead->n : 0;
}

uint64_t imap_ahead_octets(const struct imap_session *s)
{
	return s->ahead ? s->ahead->octets : 0;
}

bool imap_ahead_get(const struct imap_session *s, size_t i, struct imap_ahead_info *out)
{
	if (i >= imap_ahead_count(s))
		return false;
	*out = at(s, i)->info;
	return true;
}

void imap_ahead_push(struct imap_session *s, const struct imap_ahead_info *info,
    imap_done_fn *done, void *done_arg)
{
	struct imap_ahead *q = s->ahead;
	struct imap_ahead_entry *e = &q->e[(q->head + q->n) % IMAP_AHEAD_MAX];

	memset(e, 0, sizeof(*e));
	snprintf(e->tag, sizeof(e->tag), "%s", s->tag);
	e->info = *info;
	e->done = done;
	e->done_arg = done_arg;
	q->n++;
	if (info->fetch)
		q->octets += info->expect;
}

static void pop(struct imap_session *s)
{
	struct imap_ahead *q = s->ahead;
	struct imap_ahead_entry *e = &q->e[q->head];

	if (e->info.fetch)
		q->octets -= e->info.expect;
	q->head = (q->head + 1) % IMAP_AHEAD_MAX;
	q->n--;
}

long imap_ahead_find(const struct imap_session *s, const struct imap_ahead_info *want)
{
	for (size_t i = 0; i < imap_ahead_count(s); i++) {
		const struct imap_ahead_entry *e = at(s, i);
		if (e->info.fetch && !e->abandoned && !e->body_seen && e->info.uid == want->uid &&
		    e->info.section == want->section && e->info.offset == want->offset &&
		    e->info.length == want->length)
			return (long)i;
	}
	return -1;
}

void imap_ahead_lost(struct imap_session *s)
{
	if (!s->ahead)
		return;
	struct imap_status st = {
		.result = IMAP_ECONN, .cause = s->conn.cause, .code = IMAP_CODE_NONE,
	};
	snprintf(st.text, sizeof(st.text), "connection closed before the answer");
	while (s->ahead->n > 0) {
		struct imap_ahead_entry e = *at(s, 0);
		pop(s);
		if (e.done)
			e.done(e.done_arg, &e.info, &st);
	}
	s->ahead->octets = 0;
}

/* A read on behalf of one waiting fetch (or of none: draining). */
struct wrap_ctx {
	const struct cmd_handler *inner;  /* the target's handler, or NULL */
	struct imap_ahead_entry *target;  /* NULL: draining */
	struct imap_ahead_entry *streaming; /* the entry the current stream
	                                       was routed to */
	bool passing;                     /* the current stream goes to inner */
	bool stop;                        /* the target's body has come whole */
};

/* The section a body item names ("BODY[]", "BODY[HEADER]", "BODY[TEXT]",
 * with or without an origin), or -1. */
static int section_of(const char *name)
{
	if (strncasecmp(name, "BODY[]", 6) == 0)
		return IMAP_SECTION_ALL;
	if (strncasecmp(name, "BODY[HEADER]", 12) == 0)
		return IMAP_SECTION_HEADER;
	if (strncasecmp(name, "BODY[TEXT]", 10) == 0)
		return IMAP_SECTION_TEXT;
	return -1;
}

/* The entry a body for uid / section belongs to (uid 0: not known yet, the
 * oldest fetch of that section without one), marked as having had it;
 * NULL: not ours. */
static struct imap_ahead_entry *route(struct imap_session *s, struct wrap_ctx *w,
    uint32_t uid, int section)
{
	bool after_target = false;
	for (size_t i = 0; i < s->ahead->n; i++) {
		struct imap_ahead_entry *e = at(s, i);
		if (!e->info.fetch || e->body_seen || e->answered ||
		    (int)e->info.section != section || (uid != 0 && e->info.uid != uid)) {
			after_target = after_target || e == w->target;
			continue;
		}
		e->body_seen = true;
		if (after_target)
			e->abandoned = true;  /* came before its turn: dropped */
		return e;
	}
	return NULL;
}

static int wrap_stream(struct imap_session *s, void *vctx, enum imap_parse_status st,
    const struct imap_parse_event *ev)
{
	struct wrap_ctx *w = vctx;
	if (st == IMAP_PARSE_STREAM_BEGIN) {
		int section = section_of(ev->section);
		w->streaming = section < 0 ? NULL : route(s, w, ev->uid, section);
		w->passing = w->streaming && w->streaming == w->target && w->inner &&
		    w->inner->stream;
	}
	if (!w->passing)
		return 0;  /* a body being dropped */
	if (st == IMAP_PARSE_STREAM_END)
		w->passing = false;
	return w->inner->stream(s, w->inner->ctx, st, ev);
}

static int wrap_untagged(struct imap_session *s, void *vctx, const struct imap_response *r)
{
	struct wrap_ctx *w = vctx;
	bool fetch = r->cond == IMAP_COND_NONE && strcmp(r->name, "FETCH") == 0;
	const struct imap_arg *b = fetch ? imap_fetch_item(r, "BODY[") : NULL;
	if (!b)
		return w->inner && w->inner->untagged ? w->inner->untagged(s, w->inner->ctx, r) : 0;
	struct imap_msg m;
	if (imap_fetch_parse_msg(s, r, &m) < 0)
		return -1;
	struct imap_ahead_entry *e;
	if (b->type == IMAP_ARG_STREAMED) {
		e = w->streaming;  /* routed when its stream began */
		w->streaming = NULL;
		if (e && m.uid != 0 && m.uid != e->info.uid) {
			/* the UID came after the literal and names another
			 * message: the body went to the wrong fetch (to the
			 * caller, or dropped while its own fetch waits) */
			imap_set_last(s, IMAP_EPROTO, IMAP_CAUSE_NONE,
			    "malformed FETCH: body sent for another message");
			return -1;
		}
	} else {
		int section = imap_fetch_item(r, "BODY[]") ? IMAP_SECTION_ALL
		    : imap_fetch_item(r, "BODY[HEADER]") ? IMAP_SECTION_HEADER
		    : imap_fetch_item(r, "BODY[TEXT]") ? IMAP_SECTION_TEXT : -1;
		e = section < 0 ? NULL : route(s, w, m.uid, section);
	}
	if (!e)
		return 0;  /* not ours: an event */
	if (e != w->target)
		return 1;  /* dropped */
	w->stop = true;
	if (w->inner && w->inner->untagged && w->inner->untagged(s, w->inner->ctx, r) < 0)
		return -1;  /* malformed (s->last says why) */
	return 1;
}

/* Take answered entries nobody waits for off the head of the queue. */
static void pop_done(struct imap_session *s)
{
	while (s->ahead->n > 0 && at(s, 0)->answered &&
	    (!at(s, 0)->info.fetch || at(s, 0)->abandoned))
		pop(s);
}

/* Read up to the next tagged reply (noting it) or until the target's body
 * has come whole. */
static enum imap_result pump(struct imap_session *s, struct wrap_ctx *w)
{
	struct cmd_handler h = {
		.untagged = wrap_untagged, .stream = wrap_stream, .ctx = w, .stop = &w->stop,
	};
	const struct imap_response *resp;

	imap_conn_budget_begin(&s->conn);
	enum imap_result r = imap_cmd_read_tagged(s, &h, true, &resp);
	imap_conn_budget_end(&s->conn);
	if (r != IMAP_OK || resp == NULL)
		return r;  /* a failure closed the connection (the queue is gone) */
	for (size_t i = 0; i < s->ahead->n; i++) {
		struct imap_ahead_entry *e = at(s, i);
		if (e->answered || strcmp(e->tag, resp->tag) != 0)
			continue;
		r = imap_cmd_tagged_result(s, e == w->target ? w->inner : NULL, resp);
		e->answered = true;
		e->status = s->last;
		if (!e->info.fetch && r != IMAP_OK && e->done) {
			imap_done_fn *done = e->done;
			e->done = NULL;
			done(e->done_arg, &e->info, &e->status);
		}
		pop_done(s);
		return IMAP_OK;
	}
	return imap_proto_failed(s, "tagged response for a command not sent");
}

enum imap_result imap_ahead_run(struct imap_session *s, size_t pos, const struct cmd_handler *h)
{
	struct wrap_ctx w = { .inner = h, .target = at(s, pos) };
	enum imap_result r = IMAP_OK;

	for (size_t i = 0; i < pos; i++)
		at(s, i)->abandoned = true;
	pop_done(s);
	while (!w.target->answered && !w.stop)
		if ((r = pump(s, &w)) != IMAP_OK)
			return r;
	if (w.target->answered) {
		s->last = w.target->status;
		r = s->last.result;
	} else {
		r = imap_set_last(s, IMAP_OK, IMAP_CAUSE_NONE, "body fetched");
	}
	w.target->abandoned = true;
	pop_done(s);
	return r;
}

enum imap_result imap_ahead_drain(struct imap_session *s)
{
	struct imap_status keep = s->last;
	struct wrap_ctx w = { .inner = NULL };

	for (size_t i = 0; i < imap_ahead_count(s); i++)
		at(s, i)->abandoned = true;
	pop_done(s);
	while (imap_ahead_count(s) > 0) {
		enum imap_result r = pump(s, &w);
		if (r != IMAP_OK)
			return r;
	}
	s->last = keep;
	return IMAP_OK;
}

/* Room for one more command, in a selected mailbox. */
static enum imap_result ahead_check(struct imap_session *s)
{
	enum imap_result r = imap_cmd_check_keep(s, IMAP_STATE_SELECTED);
	if (r != IMAP_OK)
		return r;
	if (!s->ahead && !(s->ahead = calloc(1, sizeof(*s->ahead))))
		return imap_set_last(s, IMAP_EARG, IMAP_CAUSE_NONE, "out of memory");
	if (s->ahead->n >= IMAP_AHEAD_MAX)
		return imap_set_last(s, IMAP_EARG, IMAP_CAUSE_NONE, "read-ahead queue full");
	return IMAP_OK;
}

enum imap_result imap_fetch_ahead(struct imap_session *s, uint32_t uid,
    enum imap_section section, uint64_t offset, uint64_t length, uint64_t expect)
{
	struct imap_ahead_info info = {
		.fetch = true, .uid = uid, .section = section, .offset = offset, .length = length,
		.expect = expect,
	};
	enum imap_result r = ahead_check(s);
	if (r != IMAP_OK)
		return r;
	if ((r = imap_body_cmd(s, uid, section, offset, length)) != IMAP_OK)
		return r;
	if ((r = imap_cmd_send_now(s)) != IMAP_OK)
		return r;
	imap_ahead_push(s, &info, NULL, NULL);
	return IMAP_OK;
}

enum imap_result imap_store_ahead_range(struct imap_session *s, uint32_t uid,
    uint32_t uid_last, bool add, unsigned sysflags, imap_done_fn *done, void *done_arg)
{
	struct imap_ahead_info info = { .fetch = false, .uid = uid, .uid_last = uid_last };
	enum imap_result r = ahead_check(s);
	if (r != IMAP_OK)
		return r;
	if ((r = imap_store_cmd(s, uid, uid_last, add, sysflags)) != IMAP_OK)
		return r;
	if ((r = imap_cmd_send_now(s)) != IMAP_OK)
		return r;
	imap_ahead_push(s, &info, done, done_arg);
	return IMAP_OK;
}

enum imap_result imap_store_ahead(struct imap_session *s, uint32_t uid, bool add,
    unsigned sysflags, imap_done_fn *done, void *done_arg)
{
	return imap_store_ahead_range(s, uid, uid, add, sysflags, done, done_arg);
}
