/* imap/ahead.c — commands sent ahead of their answers: the queue behind
 * imap_fetch_ahead, imap_store_ahead and imap_fetch_body's use of it (see
 * imap.h, "read-ahead").
 *
 * Answers are read strictly in the order the commands were sent, one
 * command (one progress budget) at a time. While command k is read, a body
 * for a UID that a later command in flight asked for is dropped and that
 * command marked spoiled; nothing is ever held in memory for later.
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
		if (e->info.fetch && !e->spoiled && e->info.uid == want->uid &&
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
			e.done(e.done_arg, e.info.uid, &st);
	}
	s->ahead->octets = 0;
}

/* Reading command `cur` of the queue on the way to `target` (the one whose
 * body goes to the handler inner). A server may answer pipelined commands
 * out of order (Dovecot runs a STORE and a FETCH side by side), so bodies
 * are routed by UID: the current command's are discarded (or the target's
 * when cur is the target), the target's go to inner even while an earlier
 * command is read, and one for a later command is dropped and that
 * command spoiled. */
struct wrap_ctx {
	const struct cmd_handler *inner;  /* the target's handler, or NULL */
	size_t cur, target;
	bool passing;                     /* the stream now goes to inner */
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

static bool answers(const struct imap_ahead_entry *e, uint32_t uid, int section)
{
	return e->info.fetch && e->info.uid == uid && (int)e->info.section == section;
}

/* Where a body goes: 1 to inner, 0 discarded, -1 not ours. A body whose
 * UID is not known yet (it comes after the body) is the current
 * command's. */
static int route(struct imap_session *s, struct wrap_ctx *w, uint32_t uid, int section)
{
	const struct imap_ahead_entry *cur = at(s, w->cur);
	bool to_inner = w->inner && w->cur == w->target;
	if (uid == 0 || answers(cur, uid, section))
		return to_inner ? 1 : 0;
	if (w->inner && w->cur < w->target && answers(at(s, w->target), uid, section))
		return 1;
	for (size_t i = w->cur + 1; i < s->ahead->n; i++) {
		struct imap_ahead_entry *e = at(s, i);
		if (!e->spoiled && answers(e, uid, section)) {
			if (i != w->target)
				e->spoiled = true;
			return 0;
		}
	}
	if (cur->info.fetch && cur->info.uid == uid)
		return to_inner ? 1 : 0;  /* a section it did not ask for */
	return -1;
}

static int wrap_stream(struct imap_session *s, void *vctx, enum imap_parse_status st,
    const struct imap_parse_event *ev)
{
	struct wrap_ctx *w = vctx;
	if (st == IMAP_PARSE_STREAM_BEGIN)
		w->passing = w->inner && w->inner->stream && route(s, w, ev->uid, section_of(ev->section)) == 1;
	if (!w->passing)
		return 0;  /* a body being discarded */
	if (st == IMAP_PARSE_STREAM_END)
		w->passing = false;
	return w->inner->stream(s, w->inner->ctx, st, ev);
}

static int wrap_untagged(struct imap_session *s, void *vctx, const struct imap_response *r)
{
	struct wrap_ctx *w = vctx;
	bool fetch = r->cond == IMAP_COND_NONE && strcmp(r->name, "FETCH") == 0;
	int section = !fetch ? -1 : imap_fetch_item(r, "BODY[]") ? IMAP_SECTION_ALL
	    : imap_fetch_item(r, "BODY[HEADER]") ? IMAP_SECTION_HEADER
	    : imap_fetch_item(r, "BODY[TEXT]") ? IMAP_SECTION_TEXT : -1;
	if (!fetch || !imap_fetch_item(r, "BODY["))
		return w->inner && w->inner->untagged ? w->inner->untagged(s, w->inner->ctx, r) : 0;
	struct imap_msg m;
	if (imap_fetch_parse_msg(s, r, &m) < 0)
		return -1;
	int k = route(s, w, m.uid, section);
	if (k == 1 && w->inner->untagged)
		return w->inner->untagged(s, w->inner->ctx, r);
	return k >= 0 ? 1 : 0;
}

static void wrap_tagged(struct imap_session *s, void *vctx, const struct imap_response *r)
{
	struct wrap_ctx *w = vctx;
	if (w->inner && w->inner->tagged && w->cur == w->target)
		w->inner->tagged(s, w->inner->ctx, r);
}

/* A tagged reply for a later command in flight: keep its outcome until it
 * is the oldest (a store's failure is reported now). */
static enum imap_result answered_early(struct imap_session *s, const struct cmd_handler *h,
    const struct imap_response *resp)
{
	for (size_t i = 1; i < s->ahead->n; i++) {
		struct imap_ahead_entry *e = at(s, i);
		if (e->answered || strcmp(e->tag, resp->tag) != 0)
			continue;
		enum imap_result r = imap_cmd_tagged_result(s, h, resp);
		e->answered = true;
		e->status = s->last;
		if (!e->info.fetch && r != IMAP_OK && e->done) {
			imap_done_fn *done = e->done;
			e->done = NULL;
			done(e->done_arg, e->info.uid, &e->status);
		}
		return IMAP_OK;
	}
	return imap_proto_failed(s, "tagged response for a command not sent");
}

/* Read the answer of the oldest command and take it off the queue; its
 * tagged result. target: how many commands later the one whose body goes
 * to inner is (inner NULL: none). */
static enum imap_result read_oldest(struct imap_session *s, const struct cmd_handler *inner,
    size_t target)
{
	struct wrap_ctx w = { .inner = inner, .cur = 0, .target = target };
	struct cmd_handler h = {
		.untagged = wrap_untagged, .stream = wrap_stream, .tagged = wrap_tagged, .ctx = &w,
	};
	const struct imap_response *resp;
	struct imap_ahead_entry e = *at(s, 0);
	enum imap_result r;

	if (e.answered) {
		pop(s);
		s->last = e.status;
		return e.status.result;
	}
	imap_conn_budget_begin(&s->conn);
	for (;;) {
		r = imap_cmd_read_tagged(s, &h, e.info.fetch || inner, &resp);
		if (r != IMAP_OK || strcmp(resp->tag, e.tag) == 0)
			break;
		/* Not the oldest's: the other's handler is not inner's. */
		if ((r = answered_early(s, NULL, resp)) != IMAP_OK)
			break;
	}
	imap_conn_budget_end(&s->conn);
	if (r != IMAP_OK)
		return r;  /* the connection is closed: the queue is gone too */
	pop(s);
	/* stores answered early are done with (their failure was told) */
	while (s->ahead->n > 0 && at(s, 0)->answered && !at(s, 0)->info.fetch)
		pop(s);
	r = imap_cmd_tagged_result(s, &h, resp);
	if (!e.info.fetch && r != IMAP_OK && e.done) {
		struct imap_status st = s->last;
		e.done(e.done_arg, e.info.uid, &st);
	}
	return r;
}

/* A command's own failure (NO, BAD) leaves the session usable; only a
 * connection or protocol failure stops the draining. */
static bool fatal(enum imap_result r)
{
	return r != IMAP_OK && r != IMAP_NO && r != IMAP_BAD;
}

enum imap_result imap_ahead_run(struct imap_session *s, size_t pos, const struct cmd_handler *h)
{
	for (size_t i = 0; i < pos; i++) {
		enum imap_result r = read_oldest(s, h, pos - i);
		if (fatal(r))
			return r;
	}
	return read_oldest(s, h, 0);
}

enum imap_result imap_ahead_drain(struct imap_session *s)
{
	struct imap_status keep = s->last;
	while (imap_ahead_count(s) > 0) {
		enum imap_result r = read_oldest(s, NULL, 0);
		if (fatal(r))
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

enum imap_result imap_store_ahead(struct imap_session *s, uint32_t uid, bool add,
    unsigned sysflags, imap_done_fn *done, void *done_arg)
{
	struct imap_ahead_info info = { .fetch = false, .uid = uid };
	enum imap_result r = ahead_check(s);
	if (r != IMAP_OK)
		return r;
	if ((r = imap_store_cmd(s, uid, add, sysflags)) != IMAP_OK)
		return r;
	if ((r = imap_cmd_send_now(s)) != IMAP_OK)
		return r;
	imap_ahead_push(s, &info, done, done_arg);
	return IMAP_OK;
}
