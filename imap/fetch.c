/* imap/fetch.c — UID FETCH of message information, header fields and
 * streamed bodies (see imap.h).
 */
#include "imap/session_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int bad(struct imap_session *s, const char *what)
{
	imap_set_last(s, IMAP_EPROTO, IMAP_CAUSE_NONE, "malformed %s", what);
	return -1;
}

/* ---- parsing FETCH data ------------------------------------------------ */

int imap_parse_flag_list(struct imap_session *s, const struct imap_arg *list,
    unsigned *flags, const char *const **keywords, size_t *nkeywords)
{
	static const struct {
		const char *name;
		unsigned flag;
	} sys[] = {
		{ "\\Seen", IMAP_FLAG_SEEN }, { "\\Answered", IMAP_FLAG_ANSWERED },
		{ "\\Flagged", IMAP_FLAG_FLAGGED }, { "\\Deleted", IMAP_FLAG_DELETED },
		{ "\\Draft", IMAP_FLAG_DRAFT }, { "\\Recent", IMAP_FLAG_RECENT },
		{ "\\*", IMAP_FLAG_ANY_KEYWORD },
	};
	size_t nkw = 0;
	if (list->type != IMAP_ARG_LIST)
		return -1;
	if (list->len > s->kwcap) {
		const char **kw = realloc(s->kw, list->len * sizeof(*kw));
		if (!kw)
			return -1;
		s->kw = kw;
		s->kwcap = list->len;
	}
	*flags = 0;
	for (size_t i = 0; i < list->len; i++) {
		const struct imap_arg *a = &list->u.list[i];
		if (a->type != IMAP_ARG_ATOM)
			return -1;
		if (a->u.str[0] != '\\') {
			s->kw[nkw++] = a->u.str;
			continue;
		}
		for (size_t k = 0; k < sizeof(sys) / sizeof(sys[0]); k++)
			if (strcasecmp(a->u.str, sys[k].name) == 0)
				*flags |= sys[k].flag;
	}
	*keywords = s->kw;
	*nkeywords = nkw;
	return 0;
}

int imap_fetch_parse_msg(struct imap_session *s, const struct imap_response *r,
    struct imap_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->msn = r->number;
	if (r->number == 0 || r->nargs != 1 || r->args[0].type != IMAP_ARG_LIST ||
	    r->args[0].len % 2 != 0)
		return bad(s, "FETCH");
	const struct imap_arg *a = r->args[0].u.list;
	for (size_t i = 0; i < r->args[0].len; i += 2) {
		const struct imap_arg *k = &a[i], *v = &a[i + 1];
		if (k->type != IMAP_ARG_ATOM)
			return bad(s, "FETCH item");
		if (imap_arg_is_atom(k, "UID")) {
			if (imap_arg_number32(v, &m->uid) < 0 || m->uid == 0)
				return bad(s, "FETCH UID");
		} else if (imap_arg_is_atom(k, "RFC822.SIZE")) {
			if (imap_arg_number64(v, &m->size) < 0)
				return bad(s, "FETCH RFC822.SIZE");
			m->has_size = true;
		} else if (imap_arg_is_atom(k, "FLAGS")) {
			if (imap_parse_flag_list(s, v, &m->flags, &m->keywords, &m->nkeywords) < 0)
				return bad(s, "FETCH FLAGS");
			m->has_flags = true;
		} else if (imap_arg_is_atom(k, "MODSEQ")) {
			if (v->type != IMAP_ARG_LIST || v->len != 1 ||
			    imap_arg_number64(&v->u.list[0], &m->modseq) < 0)
				return bad(s, "FETCH MODSEQ");
		} else if (imap_arg_is_atom(k, "EMAILID")) {
			if (v->type != IMAP_ARG_LIST || v->len != 1 ||
			    !(m->emailid = imap_arg_string(&v->u.list[0])))
				return bad(s, "FETCH EMAILID");
		} else if (imap_arg_is_atom(k, "X-GM-MSGID")) {
			uint64_t id;
			if (imap_arg_number64(v, &id) < 0)
				return bad(s, "FETCH X-GM-MSGID");
			m->gm_msgid = v->u.str;
		}
	}
	return 0;
}

const struct imap_arg *imap_fetch_item(const struct imap_response *r, const char *prefix)
{
	const struct imap_arg *a = r->args[0].u.list;
	size_t n = strlen(prefix);
	for (size_t i = 0; i + 1 < r->args[0].len; i += 2)
		if (a[i].type == IMAP_ARG_ATOM && strncasecmp(a[i].u.str, prefix, n) == 0)
			return &a[i + 1];
	return NULL;
}

/* ---- message information and header fields ---------------------------- */

struct info_ctx {
	const struct imap_uidset *uids;
	imap_msg_fn *cb;
	void *arg;
	bool stopped;
	struct imap_uidset *vanished;  /* VANISHED (EARLIER) goes here; NULL: events */
	bool want_header;
	char *hdr;               /* IMAP_HEADER_FIELDS_MAX octets */
	size_t hdr_len;
	bool hdr_truncated;
	uint32_t hdr_msn;        /* message whose header is in hdr; 0: none */
};

static int info_stream(struct imap_session *s, void *vctx, enum imap_parse_status st,
    const struct imap_parse_event *ev)
{
	struct info_ctx *ctx = vctx;
	(void)s;
	if (!ctx->want_header || strncasecmp(ev->section, "BODY[HEADER.FIELDS", 18) != 0)
		return 0;  /* not asked for: dropped */
	if (st == IMAP_PARSE_STREAM_BEGIN) {
		ctx->hdr_msn = ev->msn;
		ctx->hdr_len = 0;
		ctx->hdr_truncated = false;
	} else if (st == IMAP_PARSE_STREAM_DATA) {
		size_t room = IMAP_HEADER_FIELDS_MAX - ctx->hdr_len;
		size_t n = ev->len < room ? ev->len : room;
		memcpy(ctx->hdr + ctx->hdr_len, ev->data, n);
		ctx->hdr_len += n;
		if (n < ev->len)
			ctx->hdr_truncated = true;
	}
	return 0;
}

/* VANISHED (EARLIER) uid-set: the answer to the VANISHED modifier (RFC 7162
 * §3.2.6), added to ctx->vanished. 1 consumed, 0 not ours (a VANISHED
 * without EARLIER reports an expunge now: an event), -1 malformed. */
static int info_vanished(struct imap_session *s, struct info_ctx *ctx,
    const struct imap_response *r)
{
	if (r->nargs != 2 || r->args[0].type != IMAP_ARG_LIST || r->args[0].len != 1 ||
	    !imap_arg_is_atom(&r->args[0].u.list[0], "EARLIER"))
		return 0;
	if (r->args[1].type != IMAP_ARG_ATOM ||
	    imap_uidset_parse(ctx->vanished, r->args[1].u.str, r->args[1].len) < 0)
		return bad(s, "VANISHED (EARLIER)");
	return 1;
}

static int info_untagged(struct imap_session *s, void *vctx, const struct imap_response *r)
{
	struct info_ctx *ctx = vctx;
	struct imap_msg m;
	if (r->cond == IMAP_COND_NONE && ctx->vanished && strcmp(r->name, "VANISHED") == 0)
		return info_vanished(s, ctx, r);
	if (r->cond != IMAP_COND_NONE || strcmp(r->name, "FETCH") != 0)
		return 0;
	if (imap_fetch_parse_msg(s, r, &m) < 0)
		return -1;
	if (!m.uid || !m.has_size || !imap_uidset_contains(ctx->uids, m.uid))
		return 0;  /* unsolicited: an event */
	if (ctx->want_header) {
		const struct imap_arg *h = imap_fetch_item(r, "BODY[HEADER.FIELDS");
		if (!h)
			return 0;
		if (h->type == IMAP_ARG_STREAMED) {
			if (ctx->hdr_msn != r->number)
				return bad(s, "FETCH header fields");
			m.header = ctx->hdr;
			m.header_len = ctx->hdr_len;
			m.header_truncated = ctx->hdr_truncated;
		} else if (h->type == IMAP_ARG_STRING) {
			m.header = h->u.str;
			m.header_len = h->len;
			if (m.header_len > IMAP_HEADER_FIELDS_MAX) {
				m.header_len = IMAP_HEADER_FIELDS_MAX;
				m.header_truncated = true;
			}
		} else {
			m.header = "";
		}
		ctx->hdr_msn = 0;
	}
	if (!ctx->stopped && ctx->cb && ctx->cb(ctx->arg, &m) != 0)
		ctx->stopped = true;
	return 1;
}

struct info_items {
	unsigned opts;
	const char *header_item;  /* " BODY.PEEK[HEADER.FIELDS (...)]" or "" */
	const char *modifiers;    /* "(CHANGEDSINCE n ...)" or "" */
};

static void info_items(struct imap_session *s, const void *arg)
{
	const struct info_items *it = arg;
	char items[IMAP_CMD_MAX / 2];
	snprintf(items, sizeof(items), "(UID RFC822.SIZE FLAGS%s%s%s%s)",
	    (it->opts & IMAP_FETCH_MODSEQ) && imap_has(s, IMAP_CAP_CONDSTORE) ? " MODSEQ" : "",
	    (it->opts & IMAP_FETCH_EMAILID) && imap_has(s, IMAP_CAP_OBJECTID) ? " EMAILID" : "",
	    (it->opts & IMAP_FETCH_GMMSGID) && imap_has(s, IMAP_CAP_X_GM_EXT_1) ?
	    " X-GM-MSGID" : "", it->header_item);
	imap_cmd_raw(s->cmd, items);
	if (it->modifiers[0])
		imap_cmd_raw(s->cmd, it->modifiers);
}

static enum imap_result fetch_info_run(struct imap_session *s, const struct imap_uidset *uids,
    unsigned opts, const char *header_item, const char *modifiers,
    struct imap_uidset *vanished, imap_msg_fn *cb, void *arg)
{
	struct info_ctx ctx = { .uids = uids, .cb = cb, .arg = arg, .vanished = vanished };
	struct cmd_handler h = { .untagged = info_untagged, .stream = info_stream, .ctx = &ctx };
	struct info_items it = { opts, header_item, modifiers };
	enum imap_result r = imap_cmd_check(s, IMAP_STATE_SELECTED);
	if (r != IMAP_OK)
		return r;
	if (header_item[0]) {
		ctx.want_header = true;
		ctx.hdr = malloc(IMAP_HEADER_FIELDS_MAX);
		if (!ctx.hdr)
			return imap_set_last(s, IMAP_EARG, IMAP_CAUSE_NONE, "out of memory");
	}
	r = imap_cmd_uid_chunks(s, "UID FETCH", uids, info_items, &it, &h);
	free(ctx.hdr);
	return r;
}

enum imap_result imap_fetch_info(struct imap_session *s, const struct imap_uidset *uids,
    unsigned opts, imap_msg_fn *cb, void *arg)
{
	return fetch_info_run(s, uids, opts, "", "", NULL, cb, arg);
}

enum imap_result imap_fetch_changed(struct imap_session *s, const struct imap_uidset *uids,
    unsigned opts, uint64_t modseq, struct imap_uidset *vanished, imap_msg_fn *cb, void *arg)
{
	char mod[64];
	enum imap_result r = imap_cmd_check(s, IMAP_STATE_SELECTED);
	if (r != IMAP_OK)
		return r;
	if (modseq == 0 || modseq > INT64_MAX)
		return imap_set_last(s, IMAP_EARG, IMAP_CAUSE_NONE,
		    "bad CHANGEDSINCE mod-sequence");
	if (!imap_has(s, IMAP_CAP_CONDSTORE) || (vanished && !imap_has(s, IMAP_CAP_QRESYNC)))
		return imap_set_last(s, IMAP_EUNSUPPORTED, IMAP_CAUSE_NONE, "server lacks %s",
		    imap_has(s, IMAP_CAP_CONDSTORE) ? "QRESYNC" : "CONDSTORE");
	snprintf(mod, sizeof(mod), "(CHANGEDSINCE %llu%s)", (unsigned long long)modseq,
	    vanished ? " VANISHED" : "");
	return fetch_info_run(s, uids, opts, "", mod, vanished, cb, arg);
}

enum imap_result imap_fetch_headers(struct imap_session *s, const struct imap_uidset *uids,
    const char *const *fields, size_t nfields, unsigned opts, imap_msg_fn *cb, void *arg)
{
	char item[IMAP_CMD_MAX / 4];
	size_t len;
	if (nfields == 0)
		return imap_set_last(s, IMAP_EARG, IMAP_CAUSE_NONE, "no header fields given");
	len = (size_t)snprintf(item, sizeof(item), " BODY.PEEK[HEADER.FIELDS (");
	for (size_t i = 0; i < nfields; i++) {
		size_t n = strlen(fields[i]);
		if (!imap_is_atom(fields[i], n) || strchr(fields[i], ':'))
			return imap_set_last(s, IMAP_EARG, IMAP_CAUSE_NONE,
			    "bad header field name");
		if (len + n + 4 >= sizeof(item))
			return imap_set_last(s, IMAP_EARG, IMAP_CAUSE_NONE,
			    "too many header fields");
		len += (size_t)snprintf(item + len, sizeof(item) - len, "%s%s", i ? " " : "",
		    fields[i]);
	}
	snprintf(item + len, sizeof(item) - len, ")]");
	return fetch_info_run(s, uids, opts, item, "", NULL, cb, arg);
}

/* ---- streamed bodies --------------------------------------------------- */

struct body_ctx {
	uint32_t uid;
	imap_size_fn *accept;
	void *accept_arg;
	imap_sink_fn *sink;
	void *arg;
	bool found;
	bool aborted;            /* the sink returned -1 on a quoted body */
	bool active;             /* the current stream is ours */
	uint32_t msn;            /* of the stream delivered */
	struct imap_body_result res;
};

static int body_stream(struct imap_session *s, void *vctx, enum imap_parse_status st,
    const struct imap_parse_event *ev)
{
	struct body_ctx *ctx = vctx;
	(void)s;
	if (st == IMAP_PARSE_STREAM_BEGIN) {
		ctx->active = !ctx->found && strncasecmp(ev->section, "BODY[", 5) == 0 &&
		    (ev->uid == 0 || ev->uid == ctx->uid);
		if (ctx->active) {
			ctx->found = true;
			ctx->msn = ev->msn;
			ctx->res.size = ev->size;
			if (ctx->accept && !ctx->accept(ctx->accept_arg, ev->size))
				ctx->res.refused = ctx->res.stopped = true;
		}
		return 0;
	}
	if (st == IMAP_PARSE_STREAM_END) {
		ctx->active = false;
		return 0;
	}
	if (!ctx->active || ctx->res.stopped)
		return 0;
	int k = ctx->sink(ctx->arg, ev->data, ev->len);
	if (k < 0)
		return -1;
	ctx->res.delivered += ev->len;
	if (k > 0)
		ctx->res.stopped = true;
	return 0;
}

static int body_untagged(struct imap_session *s, void *vctx, const struct imap_response *r)
{
	struct body_ctx *ctx = vctx;
	struct imap_msg m;
	if (r->cond != IMAP_COND_NONE || strcmp(r->name, "FETCH") != 0)
		return 0;
	if (imap_fetch_parse_msg(s, r, &m) < 0)
		return -1;
	const struct imap_arg *b = imap_fetch_item(r, "BODY[");
	if (!b)
		return 0;  /* a flag change: an event */
	if (m.uid && m.uid != ctx->uid) {
		if (b->type == IMAP_ARG_STREAMED && ctx->found && ctx->msn == r->number)
			return bad(s, "FETCH: body sent for another message");
		return 0;
	}
	if (b->type == IMAP_ARG_STRING && !ctx->found) {
		ctx->found = true;
		ctx->res.size = b->len;
		if (ctx->accept && !ctx->accept(ctx->accept_arg, b->len)) {
			ctx->res.refused = ctx->res.stopped = true;
			return 1;
		}
		if (b->len) {
			int k = ctx->sink(ctx->arg, b->u.str, b->len);
			if (k < 0) {
				ctx->aborted = true;
				ctx->res.stopped = true;
				return 1;
			}
			ctx->res.delivered = b->len;
			ctx->res.stopped = k > 0;
		}
	}
	return 1;
}

enum imap_result imap_body_cmd(struct imap_session *s, uint32_t uid,
    enum imap_section section, uint64_t offset, uint64_t length)
{
	static const char *const names[] = {
		[IMAP_SECTION_ALL] = "", [IMAP_SECTION_HEADER] = "HEADER",
		[IMAP_SECTION_TEXT] = "TEXT",
	};
	char items[96], partial[48] = "";
	if (uid == 0 || (unsigned)section > IMAP_SECTION_TEXT || offset > UINT32_MAX)
		return imap_set_last(s, IMAP_EARG, IMAP_CAUSE_NONE, "bad body fetch request");
	if (length > UINT32_MAX)
		length = UINT32_MAX;
	if (length > 0 || offset > 0)
		snprintf(partial, sizeof(partial), "<%llu.%llu>", (unsigned long long)offset,
		    (unsigned long long)(length ? length : UINT32_MAX));
	snprintf(items, sizeof(items), "%u (UID BODY.PEEK[%s]%s)", uid, names[section], partial);
	imap_cmd_begin(s, "UID FETCH");
	imap_cmd_raw(s->cmd, items);
	return IMAP_OK;
}

enum imap_result imap_fetch_body(struct imap_session *s, uint32_t uid,
    enum imap_section section, uint64_t offset, uint64_t length,
    imap_sink_fn *sink, void *sink_arg, struct imap_body_result *out)
{
	return imap_fetch_body_checked(s, uid, section, offset, length, NULL, NULL, sink,
	    sink_arg, out);
}

enum imap_result imap_fetch_body_checked(struct imap_session *s, uint32_t uid,
    enum imap_section section, uint64_t offset, uint64_t length,
    imap_size_fn *accept, void *accept_arg, imap_sink_fn *sink, void *sink_arg,
    struct imap_body_result *out)
{
	struct body_ctx ctx = { .uid = uid, .accept = accept, .accept_arg = accept_arg,
		.sink = sink, .arg = sink_arg };
	struct cmd_handler h = { .untagged = body_untagged, .stream = body_stream, .ctx = &ctx };
	struct imap_ahead_info want = {
		.fetch = true, .uid = uid, .section = section, .offset = offset,
		.length = length > UINT32_MAX ? UINT32_MAX : length,
	};
	if (out)
		memset(out, 0, sizeof(*out));
	enum imap_result r = imap_cmd_check_keep(s, IMAP_STATE_SELECTED);
	if (r != IMAP_OK)
		return r;
	if (!sink)
		return imap_set_last(s, IMAP_EARG, IMAP_CAUSE_NONE, "bad body fetch request");
	long pos = imap_ahead_find(s, &want);
	if (pos >= 0) {
		/* Sent ahead: what is before it is read and dropped. */
		r = imap_ahead_run(s, (size_t)pos, &h);
	} else {
		if (imap_ahead_count(s) > 0 && (r = imap_ahead_drain(s)) != IMAP_OK)
			return r;
		if ((r = imap_body_cmd(s, uid, section, offset, length)) != IMAP_OK)
			return r;
		r = imap_cmd_run(s, &h);
	}
	if (out)
		*out = ctx.res;
	if (ctx.aborted) {
		imap_drop_connection(s);
		return imap_set_last(s, IMAP_ESINK, IMAP_CAUSE_NONE,
		    "the receiver stopped the transfer");
	}
	if (r == IMAP_OK && !ctx.found)
		return imap_set_last(s, IMAP_ENOTFOUND, IMAP_CAUSE_NONE,
		    "no message with UID %u", uid);
	if (r == IMAP_NO && !ctx.found && (s->last.code == IMAP_CODE_EXPUNGEISSUED ||
	    s->last.code == IMAP_CODE_NONEXISTENT)) {
		s->last.result = IMAP_ENOTFOUND;
		return IMAP_ENOTFOUND;
	}
	return r;
}
