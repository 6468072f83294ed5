/* imap/mailbox.c — SELECT/EXAMINE, LIST, CREATE and UID SEARCH (see imap.h). */
#include "imap/session_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---- SELECT ------------------------------------------------------------ */

static int bad(struct imap_session *s, const char *what)
{
	imap_set_last(s, IMAP_EPROTO, IMAP_CAUSE_NONE, "malformed %s", what);
	return -1;
}

static int select_untagged(struct imap_session *s, void *vctx, const struct imap_response *r)
{
	struct imap_mailbox_info *mi = vctx;
	const struct imap_arg *a = r->code_nargs ? &r->code_args[0] : NULL;
	if (r->cond == IMAP_COND_OK) {
		switch (r->code) {
		case IMAP_CODE_UIDVALIDITY:
			if (imap_arg_number32(a, &mi->uidvalidity) < 0 || mi->uidvalidity == 0)
				return bad(s, "UIDVALIDITY");
			mi->has_uidvalidity = true;
			return 1;
		case IMAP_CODE_UIDNEXT:
			if (imap_arg_number32(a, &mi->uidnext) < 0)
				return bad(s, "UIDNEXT");
			mi->has_uidnext = true;
			return 1;
		case IMAP_CODE_HIGHESTMODSEQ:
			if (imap_arg_number64(a, &mi->highestmodseq) < 0)
				return bad(s, "HIGHESTMODSEQ");
			mi->has_highestmodseq = true;
			return 1;
		case IMAP_CODE_NOMODSEQ:
			mi->has_highestmodseq = true;
			mi->highestmodseq = 0;
			return 1;
		case IMAP_CODE_PERMANENTFLAGS: {
			const char *const *kw;
			size_t nkw;
			if (!a || imap_parse_flag_list(s, a, &mi->permanent_flags, &kw, &nkw) < 0)
				return bad(s, "PERMANENTFLAGS");
			mi->has_permanent_flags = true;
			return 1;
		}
		case IMAP_CODE_UNSEEN:
			return 1;
		default:
			return 0;
		}
	}
	if (r->cond != IMAP_COND_NONE)
		return 0;
	if (strcmp(r->name, "EXISTS") == 0) {
		mi->exists = r->number;
		return 1;
	}
	return strcmp(r->name, "RECENT") == 0 || strcmp(r->name, "FLAGS") == 0;
}

static void select_tagged(struct imap_session *s, void *vctx, const struct imap_response *r)
{
	struct imap_mailbox_info *mi = vctx;
	(void)s;
	if (r->code == IMAP_CODE_READ_ONLY)
		mi->read_only = true;
	else if (r->code == IMAP_CODE_READ_WRITE)
		mi->read_only = false;
}

/* Start SELECT/EXAMINE mailbox in s->cmd; the current mailbox is closed
 * whatever the outcome. */
static void select_begin(struct imap_session *s, const char *mailbox, unsigned flags)
{
	imap_cmd_begin(s, flags & IMAP_SELECT_READONLY ? "EXAMINE" : "SELECT");
	imap_cmd_astring(s->cmd, mailbox, strlen(mailbox));
	if ((flags & IMAP_SELECT_CONDSTORE) && imap_has(s, IMAP_CAP_CONDSTORE))
		imap_cmd_raw(s->cmd, "(CONDSTORE)");
	if (!s->cmd->error && s->state == IMAP_STATE_SELECTED)
		s->state = IMAP_STATE_AUTH;
}

static void select_done(struct imap_session *s, enum imap_result r,
    const struct imap_mailbox_info *mi, struct imap_mailbox_info *out)
{
	if (r != IMAP_OK)
		return;
	s->state = IMAP_STATE_SELECTED;
	s->exists = mi->exists;
	s->uidvalidity = mi->has_uidvalidity ? mi->uidvalidity : 0;
	if (out)
		*out = *mi;
}

enum imap_result imap_select(struct imap_session *s, const char *mailbox, unsigned flags,
    struct imap_mailbox_info *out)
{
	struct imap_mailbox_info mi;
	struct cmd_handler h = { .untagged = select_untagged, .tagged = select_tagged, .ctx = &mi };
	enum imap_result r = imap_cmd_check(s, IMAP_STATE_AUTH);
	if (r != IMAP_OK)
		return r;
	memset(&mi, 0, sizeof(mi));
	mi.read_only = (flags & IMAP_SELECT_READONLY) != 0;
	select_begin(s, mailbox, flags);
	r = imap_cmd_run(s, &h);
	select_done(s, r, &mi, out);
	return r;
}

enum imap_result imap_noop_select(struct imap_session *s, const char *mailbox, unsigned flags,
    struct imap_mailbox_info *out, enum imap_result *selected)
{
	struct imap_mailbox_info mi;
	struct cmd_handler h = { .untagged = select_untagged, .tagged = select_tagged, .ctx = &mi };
	char buf[IMAP_TAG_MAX + 8 + 512], noop_tag[IMAP_TAG_MAX + 1];
	const struct imap_response *resp = NULL;
	enum imap_result r = imap_cmd_check(s, IMAP_STATE_AUTH);

	*selected = IMAP_EARG;
	if (r != IMAP_OK)
		return r;
	memset(&mi, 0, sizeof(mi));
	mi.read_only = (flags & IMAP_SELECT_READONLY) != 0;
	imap_cmd_begin(s, "NOOP");
	snprintf(noop_tag, sizeof(noop_tag), "%s", s->tag);
	int n = snprintf(buf, sizeof(buf), "%s NOOP\r\n", noop_tag);
	enum imap_state before = s->state;
	select_begin(s, mailbox, flags);
	if (imap_cmd_end(s->cmd) < 0 || s->cmd->nsync > 0 ||
	    s->cmd->len > sizeof(buf) - (size_t)n) {
		/* a name that needs a literal, or a long one: one at a time */
		s->state = before;
		r = imap_noop(s);
		if (r == IMAP_OK)
			*selected = imap_select(s, mailbox, flags, out);
		return r;
	}
	memcpy(buf + n, s->cmd->buf, s->cmd->len);
	r = imap_cmd_send_raw(s, buf, (size_t)n + s->cmd->len);
	if (r == IMAP_OK)
		r = imap_cmd_next_tagged(s, NULL, &resp);
	if (r != IMAP_OK)
		return r;
	if (strcmp(resp->tag, noop_tag) != 0)
		return imap_proto_failed(s, "tagged response out of order");
	r = imap_cmd_tagged_result(s, NULL, resp);
	struct imap_status noop_st = s->last;
	enum imap_result sel = imap_cmd_next_tagged(s, &h, &resp);
	if (sel == IMAP_OK && strcmp(resp->tag, s->tag) != 0)
		sel = imap_proto_failed(s, "tagged response for a command not sent");
	else if (sel == IMAP_OK)
		sel = imap_cmd_tagged_result(s, &h, resp);
	select_done(s, sel, &mi, out);
	*selected = sel;
	if (r != IMAP_OK && s->state != IMAP_STATE_DISCONNECTED)
		s->last = noop_st;  /* the caller asks how the NOOP failed */
	return s->state == IMAP_STATE_DISCONNECTED && r == IMAP_OK ? sel : r;
}

/* ---- LIST -------------------------------------------------------------- */

static const struct {
	const char *name;
	unsigned attr;
} list_attrs[] = {
	{ "\\Noselect", IMAP_LIST_NOSELECT }, { "\\NoInferiors", IMAP_LIST_NOINFERIORS },
	{ "\\HasChildren", IMAP_LIST_HASCHILDREN }, { "\\HasNoChildren", IMAP_LIST_HASNOCHILDREN },
	{ "\\NonExistent", IMAP_LIST_NONEXISTENT }, { "\\All", IMAP_LIST_ALL },
	{ "\\Archive", IMAP_LIST_ARCHIVE }, { "\\Drafts", IMAP_LIST_DRAFTS },
	{ "\\Flagged", IMAP_LIST_FLAGGED }, { "\\Junk", IMAP_LIST_JUNK },
	{ "\\Sent", IMAP_LIST_SENT }, { "\\Trash", IMAP_LIST_TRASH },
};

struct list_ctx {
	imap_list_fn *cb;
	void *arg;
};

static int list_untagged(struct imap_session *s, void *vctx, const struct imap_response *r)
{
	struct list_ctx *ctx = vctx;
	struct imap_list_entry e;
	if (r->cond != IMAP_COND_NONE || strcmp(r->name, "LIST") != 0)
		return 0;
	if (r->nargs < 3 || r->args[0].type != IMAP_ARG_LIST)
		return bad(s, "LIST");
	memset(&e, 0, sizeof(e));
	for (size_t i = 0; i < r->args[0].len; i++) {
		const struct imap_arg *a = &r->args[0].u.list[i];
		if (a->type != IMAP_ARG_ATOM)
			return bad(s, "LIST attributes");
		for (size_t k = 0; k < sizeof(list_attrs) / sizeof(list_attrs[0]); k++)
			if (strcasecmp(a->u.str, list_attrs[k].name) == 0)
				e.attrs |= list_attrs[k].attr;
	}
	if (r->args[1].type == IMAP_ARG_STRING && r->args[1].len == 1)
		e.delimiter = r->args[1].u.str[0];
	else if (r->args[1].type != IMAP_ARG_NIL)
		return bad(s, "LIST delimiter");
	e.name = imap_arg_string(&r->args[2]);
	if (!e.name)
		return bad(s, "LIST mailbox name");
	if (ctx->cb)
		ctx->cb(ctx->arg, &e);
	return 1;
}

enum imap_result imap_list(struct imap_session *s, const char *reference, const char *pattern,
    imap_list_fn *cb, void *arg)
{
	struct list_ctx ctx = { cb, arg };
	struct cmd_handler h = { .untagged = list_untagged, .ctx = &ctx };
	enum imap_result r = imap_cmd_check(s, IMAP_STATE_AUTH);
	if (r != IMAP_OK)
		return r;
	imap_cmd_begin(s, "LIST");
	imap_cmd_string(s->cmd, reference, strlen(reference));
	imap_cmd_string(s->cmd, pattern, strlen(pattern));
	if (imap_has(s, IMAP_CAP_SPECIAL_USE | IMAP_CAP_LIST_EXTENDED))
		imap_cmd_raw(s->cmd, "RETURN (SPECIAL-USE)");
	return imap_cmd_run(s, &h);
}

struct special_ctx {
	unsigned use;
	char *name;
	size_t len;
	bool found, too_long;
};

static void special_cb(void *arg, const struct imap_list_entry *e)
{
	struct special_ctx *ctx = arg;
	if (ctx->found || !(e->attrs & ctx->use) || (e->attrs & IMAP_LIST_NONEXISTENT))
		return;
	if (strlen(e->name) >= ctx->len) {
		ctx->too_long = true;
		return;
	}
	snprintf(ctx->name, ctx->len, "%s", e->name);
	ctx->found = true;
}

enum imap_result imap_find_special(struct imap_session *s, unsigned use, char *name, size_t len)
{
	struct special_ctx ctx = { use, name, len, false, false };
	if (len == 0 || use < IMAP_LIST_ALL || use > IMAP_LIST_TRASH || (use & (use - 1)))
		return imap_set_last(s, IMAP_EARG, IMAP_CAUSE_NONE, "bad special-use request");
	name[0] = '\0';
	enum imap_result r = imap_list(s, "", "*", special_cb, &ctx);
	if (r != IMAP_OK)
		return r;
	if (ctx.found)
		return IMAP_OK;
	if (ctx.too_long)
		return imap_set_last(s, IMAP_EARG, IMAP_CAUSE_NONE, "mailbox name too long");
	return imap_set_last(s, IMAP_ENOTFOUND, IMAP_CAUSE_NONE, "no mailbox has that special use");
}

/* ---- NAMESPACE (RFC 2342) ---------------------------------------------- */

struct ns_ctx {
	char *prefix;
	size_t len;
	char delim;
	bool seen, too_long;
};

/* * NAMESPACE personal other shared: each NIL or a list of
 * ("prefix" "delimiter" [extensions...]); only the first personal one is
 * kept. The tree is the parser's, bounded by its limits. */
static int ns_untagged(struct imap_session *s, void *vctx, const struct imap_response *r)
{
	struct ns_ctx *ctx = vctx;
	if (r->cond != IMAP_COND_NONE || strcmp(r->name, "NAMESPACE") != 0)
		return 0;
	if (r->nargs < 1)
		return bad(s, "NAMESPACE");
	ctx->seen = true;
	const struct imap_arg *personal = &r->args[0];
	if (personal->type == IMAP_ARG_NIL)
		return 1;
	if (personal->type != IMAP_ARG_LIST || personal->len < 1 ||
	    personal->u.list[0].type != IMAP_ARG_LIST || personal->u.list[0].len < 2)
		return bad(s, "NAMESPACE personal");
	const struct imap_arg *first = personal->u.list[0].u.list;
	const char *prefix = imap_arg_string(&first[0]);
	if (prefix == NULL)
		return bad(s, "NAMESPACE prefix");
	if (first[1].type == IMAP_ARG_STRING && first[1].len == 1)
		ctx->delim = first[1].u.str[0];
	else if (first[1].type != IMAP_ARG_NIL)
		return bad(s, "NAMESPACE delimiter");
	if (first[0].len >= ctx->len || strlen(prefix) != first[0].len) {
		ctx->too_long = true;
		return 1;
	}
	memcpy(ctx->prefix, prefix, first[0].len + 1);
	return 1;
}

enum imap_result imap_namespace(struct imap_session *s, char *prefix, size_t len, char *delim)
{
	struct ns_ctx ctx = { prefix, len, 0, false, false };
	struct cmd_handler h = { .untagged = ns_untagged, .ctx = &ctx };
	if (prefix == NULL || len == 0 || delim == NULL)
		return imap_set_last(s, IMAP_EARG, IMAP_CAUSE_NONE, "bad namespace request");
	prefix[0] = '\0';
	*delim = 0;
	enum imap_result r = imap_cmd_check(s, IMAP_STATE_AUTH);
	if (r != IMAP_OK)
		return r;
	if (!imap_has(s, IMAP_CAP_NAMESPACE))
		return imap_set_last(s, IMAP_EUNSUPPORTED, IMAP_CAUSE_NONE,
		    "the server does not offer NAMESPACE");
	imap_cmd_begin(s, "NAMESPACE");
	r = imap_cmd_run(s, &h);
	if (r != IMAP_OK) {
		prefix[0] = '\0';
		return r;
	}
	if (ctx.too_long) {
		prefix[0] = '\0';
		return imap_set_last(s, IMAP_EARG, IMAP_CAUSE_NONE, "namespace prefix too long");
	}
	*delim = ctx.delim;
	return IMAP_OK;
}

enum imap_result imap_create(struct imap_session *s, const char *mailbox)
{
	enum imap_result r = imap_cmd_check(s, IMAP_STATE_AUTH);
	if (r != IMAP_OK)
		return r;
	imap_cmd_begin(s, "CREATE");
	imap_cmd_astring(s->cmd, mailbox, strlen(mailbox));
	return imap_cmd_run(s, NULL);
}

/* ---- UID SEARCH -------------------------------------------------------- */

struct search_ctx {
	struct imap_uidset *found;
	bool failed;
};

static int search_untagged(struct imap_session *s, void *vctx, const struct imap_response *r)
{
	struct search_ctx *ctx = vctx;
	if (r->cond != IMAP_COND_NONE)
		return 0;
	if (strcmp(r->name, "SEARCH") == 0) {
		/* In whatever order the server lists them: sorted once. */
		struct imap_range *v = malloc((r->nargs ? r->nargs : 1) * sizeof(*v));
		size_t n = 0;
		if (v == NULL)
			return bad(s, "SEARCH result (out of memory)");
		for (size_t i = 0; i < r->nargs; i++) {
			uint32_t uid;
			if (r->args[i].type == IMAP_ARG_LIST)
				continue;  /* (MODSEQ n) with CONDSTORE */
			if (imap_arg_number32(&r->args[i], &uid) < 0 || uid == 0) {
				free(v);
				return bad(s, "SEARCH result");
			}
			v[n].lo = v[n].hi = uid;
			n++;
		}
		int rc = imap_uidset_add_ranges(ctx->found, v, n);
		free(v);
		if (rc < 0)
			return bad(s, "SEARCH result (too many ranges)");
		return 1;
	}
	if (strcmp(r->name, "ESEARCH") != 0)
		return 0;
	/* (TAG "A0005") UID ALL 1:3,5 ... — only ours. */
	size_t i = 0;
	if (r->nargs < 1 || r->args[0].type != IMAP_ARG_LIST || r->args[0].len != 2 ||
	    !imap_arg_is_atom(&r->args[0].u.list[0], "TAG") ||
	    !imap_arg_string(&r->args[0].u.list[1]) ||
	    strcmp(imap_arg_string(&r->args[0].u.list[1]), s->tag) != 0)
		return 0;
	i = 1;
	if (i < r->nargs && imap_arg_is_atom(&r->args[i], "UID"))
		i++;
	for (; i + 1 < r->nargs; i += 2) {
		if (imap_arg_is_atom(&r->args[i], "ALL")) {
			const struct imap_arg *v = &r->args[i + 1];
			if (v->type != IMAP_ARG_ATOM ||
			    imap_uidset_parse(ctx->found, v->u.str, v->len) < 0)
				return bad(s, "ESEARCH ALL");
		}
	}
	if (i != r->nargs)
		return bad(s, "ESEARCH");
	return 1;
}

static bool has_8bit(const char *s)
{
	for (; s && *s; s++)
		if ((unsigned char)*s >= 0x80)
			return true;
	return false;
}

enum imap_result imap_uid_search(struct imap_session *s, const struct imap_search *q,
    struct imap_uidset *out)
{
	struct imap_uidset found;
	struct search_ctx ctx = { &found, false };
	struct cmd_handler h = { .untagged = search_untagged, .ctx = &ctx };
	bool any = false;
	enum imap_result r = imap_cmd_check(s, IMAP_STATE_SELECTED);
	if (r != IMAP_OK)
		return r;
	imap_cmd_begin(s, "UID SEARCH");
	if (imap_has(s, IMAP_CAP_ESEARCH))
		imap_cmd_raw(s->cmd, "RETURN (ALL)");
	if (has_8bit(q->header_value) || has_8bit(q->header_name))
		imap_cmd_raw(s->cmd, "CHARSET UTF-8");
	if (q->uid_min > 1) {
		char range[32];
		snprintf(range, sizeof(range), "UID %u:*", q->uid_min);
		imap_cmd_raw(s->cmd, range);
		any = true;
	}
	if (q->unseen)
		imap_cmd_raw(s->cmd, "UNSEEN");
	if (q->seen)
		imap_cmd_raw(s->cmd, "SEEN");
	if (q->undeleted)
		imap_cmd_raw(s->cmd, "UNDELETED");
	if (q->keyword) {
		imap_cmd_raw(s->cmd, "KEYWORD");
		imap_cmd_atom(s->cmd, q->keyword);
	}
	if (q->unkeyword) {
		imap_cmd_raw(s->cmd, "UNKEYWORD");
		imap_cmd_atom(s->cmd, q->unkeyword);
	}
	if (q->header_name) {
		imap_cmd_raw(s->cmd, "HEADER");
		imap_cmd_astring(s->cmd, q->header_name, strlen(q->header_name));
		imap_cmd_astring(s->cmd, q->header_value ? q->header_value : "",
		    q->header_value ? strlen(q->header_value) : 0);
	}
	if (q->size > 0) {
		char sz[64];
		snprintf(sz, sizeof(sz), "LARGER %llu SMALLER %llu",
		    (unsigned long long)(q->size - 1), (unsigned long long)(q->size + 1));
		imap_cmd_raw(s->cmd, sz);
	}
	if (q->since > 0) {
		static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
			"Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
		char day[32];
		struct tm tm;
		time_t t = (time_t)q->since;
		if (gmtime_r(&t, &tm) != NULL) {
			snprintf(day, sizeof(day), "SINCE %d-%s-%04d", tm.tm_mday, mon[tm.tm_mon],
			    tm.tm_year + 1900);
			imap_cmd_raw(s->cmd, day);
		}
	}
	any = any || q->unseen || q->seen || q->undeleted || q->keyword || q->unkeyword ||
	    q->header_name || q->size > 0 || q->since > 0;
	if (!any)
		imap_cmd_raw(s->cmd, "ALL");
	imap_uidset_init(&found);
	r = imap_cmd_run(s, &h);
	if (r == IMAP_OK) {
		/* "UID n:*" also matches the highest UID when it is below n. */
		for (size_t i = 0; i < found.n; i++) {
			uint32_t lo = found.r[i].lo < q->uid_min ? q->uid_min : found.r[i].lo;
			if (lo <= found.r[i].hi && imap_uidset_add_range(out, lo, found.r[i].hi) < 0) {
				r = imap_proto_failed(s, "too many UID ranges in a search result");
				break;
			}
		}
	}
	imap_uidset_free(&found);
	return r;
}
