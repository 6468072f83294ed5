/* imap/fetch_tails.c — the last octets of many messages, with a bounded
 * window of pipelined UID FETCH commands (imap_fetch_tails, see imap.h).
 */
#include "imap/session_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* One command in flight. */
struct tail_slot {
	bool used;
	bool delivered;          /* its tail was reported (or dropped) */
	uint32_t uid;
	char tag[IMAP_TAG_MAX + 1];
};

struct tails_ctx {
	size_t tail_len;
	imap_tail_fn *cb;
	void *arg;
	bool stopped;            /* cb said "no more" */
	struct tail_slot slot[IMAP_PIPELINE_MAX];
	size_t in_flight;
	/* the body section being streamed, if it is BODY[]<...> */
	bool streaming;
	bool captured;           /* a stream ended; its tail is below */
	uint32_t cap_msn;
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

static struct tail_slot *slot_by_uid(struct tails_ctx *ctx, uint32_t uid)
{
	for (size_t i = 0; i < IMAP_PIPELINE_MAX; i++)
		if (ctx->slot[i].used && !ctx->slot[i].delivered && ctx->slot[i].uid == uid)
			return &ctx->slot[i];
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

static int tails_untagged(struct imap_session *s, void *vctx, const struct imap_response *r)
{
	struct tails_ctx *ctx = vctx;
	struct imap_msg m;
	const char *data = "";
	size_t len = 0;

	if (r->cond != IMAP_COND_NONE || strcmp(r->name, "FETCH") != 0)
		return 0;
	if (imap_fetch_parse_msg(s, r, &m) < 0)
		return -1;
	const struct imap_arg *b = imap_fetch_item(r, "BODY[]");
	struct tail_slot *sl = b && m.uid ? slot_by_uid(ctx, m.uid) : NULL;
	if (!sl) {
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
	} else if (b->type == IMAP_ARG_STRING) {
		data = b->u.str;
		len = b->len;
		if (len > ctx->tail_len) {
			data += len - ctx->tail_len;
			len = ctx->tail_len;
		}
	} else if (b->type != IMAP_ARG_NIL) {
		imap_set_last(s, IMAP_EPROTO, IMAP_CAUSE_NONE, "malformed FETCH body");
		return -1;
	}
	ctx->captured = false;
	sl->delivered = true;
	if (b->type != IMAP_ARG_NIL && !ctx->stopped && ctx->cb(ctx->arg, m.uid, data, len) != 0)
		ctx->stopped = true;
	return 1;
}

/* Append the command for one message to out (capacity cap); 0, or -1 when
 * the formatter refused it (s->last set). */
static int build_one(struct imap_session *s, struct tails_ctx *ctx, struct tail_slot *sl,
    uint32_t uid, uint64_t size, char *out, size_t *len, size_t cap)
{
	char items[96];
	uint64_t k = size < ctx->tail_len ? size : ctx->tail_len;

	snprintf(items, sizeof(items), "%u (UID BODY.PEEK[]<%llu.%llu>)", uid,
	    (unsigned long long)(size - k), (unsigned long long)k);
	imap_cmd_begin(s, "UID FETCH");
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
	sl->delivered = false;
	sl->uid = uid;
	snprintf(sl->tag, sizeof(sl->tag), "%s", s->tag);
	return 0;
}

/* Room for one command of build_one. */
#define TAIL_CMD_MAX 96

static enum imap_result check_args(struct imap_session *s, const uint32_t *uids,
    const uint64_t *sizes, size_t n, size_t tail_len, imap_tail_fn *cb)
{
	if (!cb || tail_len == 0 || tail_len > IMAP_TAIL_MAX || (n > 0 && (!uids || !sizes)))
		return imap_set_last(s, IMAP_EARG, IMAP_CAUSE_NONE, "bad tail fetch request");
	for (size_t i = 0; i < n; i++)
		if (uids[i] == 0 || sizes[i] > UINT32_MAX)
			return imap_set_last(s, IMAP_EARG, IMAP_CAUSE_NONE,
			    "bad tail fetch request: UID %u, size %llu", uids[i],
			    (unsigned long long)sizes[i]);
	return IMAP_OK;
}

enum imap_result imap_fetch_tails(struct imap_session *s, const uint32_t *uids,
    const uint64_t *sizes, size_t n, size_t tail_len, imap_tail_fn *cb, void *arg)
{
	enum imap_result r = imap_cmd_check(s, IMAP_STATE_SELECTED);
	if (r != IMAP_OK)
		return r;
	if ((r = check_args(s, uids, sizes, n, tail_len, cb)) != IMAP_OK)
		return r;
	struct tails_ctx *ctx = calloc(1, sizeof(*ctx));
	char *batch = malloc(IMAP_PIPELINE_MAX * TAIL_CMD_MAX);
	if (!ctx || !batch) {
		free(ctx);
		free(batch);
		return imap_set_last(s, IMAP_EARG, IMAP_CAUSE_NONE, "out of memory");
	}
	ctx->tail_len = tail_len;
	ctx->cb = cb;
	ctx->arg = arg;
	struct cmd_handler h = { .untagged = tails_untagged, .stream = tails_stream, .ctx = ctx };
	struct imap_status failed = { .result = IMAP_OK };
	size_t next = 0;
	bool sending = true, any = false;

	for (;;) {
		/* Refill the window in one write once half of it is free. */
		if (sending && !ctx->stopped && ctx->in_flight <= IMAP_PIPELINE_MAX / 2) {
			size_t len = 0;
			for (size_t i = 0; next < n && i < IMAP_PIPELINE_MAX; i++) {
				if (ctx->slot[i].used)
					continue;
				while (next < n && sizes[next] == 0)
					next++;
				if (next == n)
					break;
				if (build_one(s, ctx, &ctx->slot[i], uids[next], sizes[next], batch,
				    &len, IMAP_PIPELINE_MAX * TAIL_CMD_MAX) < 0) {
					/* Send what was built, answer with this. */
					if (failed.result == IMAP_OK)
						failed = s->last;
					sending = false;
					break;
				}
				next++;
				ctx->in_flight++;
			}
			if (len > 0 && (r = imap_cmd_send_raw(s, batch, len)) != IMAP_OK)
				goto out;
			while (next < n && sizes[next] == 0)
				next++;
			if (next == n)
				sending = false;
		}
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
	free(ctx);
	free(batch);
	return r;
}
