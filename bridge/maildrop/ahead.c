/* bridge/maildrop/ahead.c — pipelined retrieval and read-ahead (SPEC §9):
 * before each fetch, the upstream UID FETCHes of the messages the client is
 * about to ask for are sent without waiting (imap/'s read-ahead queue,
 * imap.h), so a message's fetch is on its way while the one before it is
 * sent to the client.
 *
 * What is "about to be asked for": the RETR and TOP commands the engine has
 * buffered behind the current one (its hint()), in their order; without
 * any, when the client retrieves message after message, the next ones in
 * the maildrop, the depth doubling while the pattern holds (4, 8, ... up to
 * the bound) so a client that stops early costs little. Bounds: at most
 * IMAP_AHEAD_MAX commands (stores included) and BRIDGE_AHEAD_OCTETS of
 * announced message size in flight; the fetch the client asked for is
 * always sent. A read-ahead the client does not use is read and discarded
 * by imap/ when a later command needs the connection; it never reaches the
 * client (imap_fetch_body streams only the fetch it was asked for).
 */
#include <stdio.h>
#include <string.h>

#include "bridge/base/log.h"
#include "bridge/maildrop/internal.h"

/* Fetch requests of one POP3 command (RETR: one; TOP: the header and, with
 * lines, the first text piece fetch_top will ask for). */
static size_t requests(const struct maildrop_md *md, const struct pop3_md_next *c,
    struct imap_ahead_info *out)
{
	const struct state_view_msg *v = &md->view[c->idx];
	size_t n = 0;

	if (c->what == POP3_FETCH_WHOLE) {
		out[n++] = (struct imap_ahead_info){
			.fetch = true, .uid = v->uid, .section = IMAP_SECTION_ALL, .expect = v->size,
		};
		return n;
	}
	uint64_t piece = maildrop_top_piece(c->top_lines);
	out[n++] = (struct imap_ahead_info){
		.fetch = true, .uid = v->uid, .section = IMAP_SECTION_HEADER,
		.expect = v->size < piece ? v->size : piece,
	};
	if (c->top_lines > 0)
		out[n++] = (struct imap_ahead_info){
			.fetch = true, .uid = v->uid, .section = IMAP_SECTION_TEXT, .length = piece,
			.expect = piece,
		};
	return n;
}

static bool same(const struct imap_ahead_info *a, const struct imap_ahead_info *b)
{
	return a->fetch && b->fetch && a->uid == b->uid && a->section == b->section &&
	    a->offset == b->offset && a->length == b->length;
}

/* The commands to come, the current one first. */
static size_t plan(struct maildrop_md *md, const struct pop3_md_next *cur,
    struct pop3_md_next *out, size_t cap)
{
	size_t n = 0;

	out[n++] = *cur;
	if (md->nhint > 0) {
		for (size_t i = 0; i < md->nhint && n < cap; i++)
			if (md->hint[i].idx < md->n)
				out[n++] = md->hint[i];
		return n;
	}
	/* Sequential: RETR of the message after the last one retrieved. */
	if (cur->what != POP3_FETCH_WHOLE || cur->idx != md->seq_next) {
		md->seq_depth = 0;
		return n;
	}
	md->seq_depth = md->seq_depth == 0 ? BRIDGE_AHEAD_FIRST
	    : md->seq_depth >= IMAP_AHEAD_MAX ? IMAP_AHEAD_MAX : md->seq_depth * 2;
	for (size_t i = cur->idx + 1; i < md->n && n < cap && n <= md->seq_depth; i++)
		out[n++] = (struct pop3_md_next){ .idx = i, .what = POP3_FETCH_WHOLE };
	return n;
}

void maildrop_ahead_hint(void *p, const struct pop3_md_next *next, size_t n)
{
	struct maildrop_md *md = p;

	md->nhint = n < POP3_HINT_MAX ? n : POP3_HINT_MAX;
	memcpy(md->hint, next, md->nhint * sizeof(*next));
}

void maildrop_ahead_send(struct maildrop_md *md, size_t idx, enum pop3_fetch_what what,
    uint64_t top_lines)
{
	struct pop3_md_next cur = { .idx = idx, .what = what, .top_lines = top_lines };
	struct pop3_md_next cmds[POP3_HINT_MAX + 1];
	struct imap_session *s = md->up.imap;
	size_t ncmd = plan(md, &cur, cmds, POP3_HINT_MAX + 1);

	md->nhint = 0;
	md->seq_next = what == POP3_FETCH_WHOLE ? idx + 1 : SIZE_MAX;
	/* Walk the queue alongside the plan: from the current command's first
	 * fetch on, what is in flight must be the plan's prefix (stores do not
	 * count); what follows it is sent. A queue that goes another way is
	 * left alone: it is drained and discarded as it is reached. */
	size_t q = 0, qn = imap_ahead_count(s);
	struct imap_ahead_info in, want[2];
	size_t nwant = requests(md, &cur, want);
	for (; q < qn; q++)
		if (imap_ahead_get(s, q, &in) && same(&in, &want[0]))
			break;
	/* q == qn: not in flight, every command there is drained first. */
	for (size_t c = 0; c < ncmd; c++) {
		if (imap_uidset_contains(&md->up.gone, md->view[cmds[c].idx].uid)) {
			if (c == 0)
				return;  /* md_fetch answers it without the upstream */
			continue;
		}
		nwant = requests(md, &cmds[c], want);
		for (size_t k = 0; k < nwant; k++) {
			while (q < qn && imap_ahead_get(s, q, &in) && !in.fetch)
				q++;
			if (q < qn) {
				if (!imap_ahead_get(s, q, &in) || !same(&in, &want[k]))
					return;
				q++;
				continue;
			}
			/* Bounds: the current command always goes (it is a fetch
			 * that would be sent anyway); the rest within the limits,
			 * leaving room for the stores of seen_on retr. */
			if (c > 0 && (imap_ahead_count(s) >= IMAP_AHEAD_MAX - BRIDGE_AHEAD_STORE_ROOM ||
			    imap_ahead_octets(s) + want[k].expect > BRIDGE_AHEAD_OCTETS))
				return;
			if (c == 0 && imap_ahead_count(s) >= IMAP_AHEAD_MAX)
				return;  /* imap_fetch_body drains, then asks */
			if (imap_fetch_ahead(s, want[k].uid, want[k].section, want[k].offset,
			    want[k].length, want[k].expect) != IMAP_OK)
				return;  /* the fetch itself will say what failed */
			qn = q = imap_ahead_count(s);
		}
	}
}

static void seen_failed(void *arg, uint32_t uid, const struct imap_status *st)
{
	struct maildrop_md *md = arg;

	if (st->result == IMAP_NO && (st->code == IMAP_CODE_EXPUNGEISSUED ||
	    st->code == IMAP_CODE_NONEXISTENT))
		return;  /* gone upstream meanwhile: nothing to mark */
	base_log(PB_LOG_WARN, "seen", "account %s device %s: setting \\Seen on UID %u %s: %s",
	    md->conn->account, md->conn->device, uid,
	    st->result == IMAP_ECONN ? "not confirmed (connection lost)" : "failed", st->text);
}

void maildrop_ahead_seen(struct maildrop_md *md, uint32_t uid)
{
	enum imap_result r = imap_store_ahead(md->up.imap, uid, true, IMAP_FLAG_SEEN,
	    seen_failed, md);

	if (r == IMAP_OK)
		return;
	if (r == IMAP_EARG) {
		/* The queue is full: store and wait, as before SPEC §9. */
		struct imap_uidset one;
		imap_uidset_init(&one);
		if (imap_uidset_add(&one, uid) == 0)
			r = imap_store_flags(md->up.imap, &one, true, IMAP_FLAG_SEEN, NULL, 0);
		imap_uidset_free(&one);
		if (r == IMAP_OK || r == IMAP_ENOTFOUND)
			return;
	}
	char d[BRIDGE_DETAIL_MAX];
	maildrop_upstream_describe(&md->up, "setting \\Seen", d, sizeof(d));
	base_log(PB_LOG_WARN, "seen", "account %s device %s: UID %u: %s", md->conn->account,
	    md->conn->device, uid, d);
}
