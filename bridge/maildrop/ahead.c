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
	if (md->seq_depth == 0) {
		unsigned d = 0;
		uint64_t octets = 0;
		for (size_t i = cur->idx + 1; i < md->n && d < IMAP_AHEAD_MAX &&
		    octets < BRIDGE_AHEAD_FIRST_OCTETS; i++, d++)
			octets += md->view[i].size;
		md->seq_depth = d > BRIDGE_AHEAD_FIRST ? d : BRIDGE_AHEAD_FIRST;
	} else {
		md->seq_depth = md->seq_depth >= IMAP_AHEAD_MAX ? IMAP_AHEAD_MAX : md->seq_depth * 2;
	}
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

static void seen_send(struct maildrop_md *md, size_t room);

void maildrop_ahead_send(struct maildrop_md *md, size_t idx, enum pop3_fetch_what what,
    uint64_t top_lines)
{
	struct pop3_md_next cur = { .idx = idx, .what = what, .top_lines = top_lines };
	struct pop3_md_next cmds[POP3_HINT_MAX + 1];
	struct imap_session *s = md->up.imap;
	size_t ncmd = plan(md, &cur, cmds, POP3_HINT_MAX + 1);

	md->nhint = 0;
	md->seq_next = what == POP3_FETCH_WHOLE ? idx + 1 : SIZE_MAX;
	if (!imap_uidset_empty(&md->seen_wait))
		seen_send(md, BRIDGE_AHEAD_STORE_ROOM);  /* stores first: their room
		                                            may have come */
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

static void seen_failed(void *arg, const struct imap_ahead_info *what,
    const struct imap_status *st)
{
	struct maildrop_md *md = arg;
	char uids[32];

	if (st->result == IMAP_NO && (st->code == IMAP_CODE_EXPUNGEISSUED ||
	    st->code == IMAP_CODE_NONEXISTENT))
		return;  /* gone upstream meanwhile: nothing to mark */
	if (what->uid_last > what->uid)
		snprintf(uids, sizeof(uids), "UIDs %u:%u", what->uid, what->uid_last);
	else
		snprintf(uids, sizeof(uids), "UID %u", what->uid);
	base_log(PB_LOG_WARN, "seen", "account %s device %s: setting \\Seen on %s %s: %s",
	    md->conn->account, md->conn->device, uids,
	    st->result == IMAP_ECONN ? "not confirmed (connection lost)" : "failed", st->text);
}

static size_t stores_in_flight(const struct imap_session *s)
{
	struct imap_ahead_info in;
	size_t n = 0;

	for (size_t i = 0; imap_ahead_get(s, i, &in); i++)
		n += !in.fetch;
	return n;
}

/* Send the waiting UIDs, a store per run, as long as fewer than room
 * stores are in flight; what does not fit waits on. */
static void seen_send(struct maildrop_md *md, size_t room)
{
	struct imap_session *s = md->up.imap;
	struct imap_uidset *w = &md->seen_wait;
	size_t sent = 0;

	while (sent < w->n && stores_in_flight(s) < room &&
	    imap_ahead_count(s) < IMAP_AHEAD_MAX &&
	    imap_store_ahead_range(s, w->r[sent].lo, w->r[sent].hi, true, IMAP_FLAG_SEEN,
	    seen_failed, md) == IMAP_OK)
		sent++;
	if (sent == 0)
		return;
	struct imap_uidset rest;
	imap_uidset_init(&rest);
	for (size_t i = sent; i < w->n; i++)
		(void)imap_uidset_add_range(&rest, w->r[i].lo, w->r[i].hi);
	imap_uidset_free(w);
	*w = rest;
}

void maildrop_ahead_seen(struct maildrop_md *md, uint32_t uid)
{
	if (imap_uidset_add(&md->seen_wait, uid) != 0) {
		/* no memory for the wait: store it now, waiting for the answer */
		struct imap_uidset one;
		imap_uidset_init(&one);
		enum imap_result r = imap_uidset_add(&one, uid) == 0 ?
		    imap_store_flags(md->up.imap, &one, true, IMAP_FLAG_SEEN, NULL, 0) : IMAP_EARG;
		imap_uidset_free(&one);
		if (r != IMAP_OK && r != IMAP_ENOTFOUND)
			base_log(PB_LOG_WARN, "seen", "account %s device %s: UID %u: setting \\Seen"
			    " failed", md->conn->account, md->conn->device, uid);
		return;
	}
	seen_send(md, BRIDGE_AHEAD_STORE_ROOM);
}

void maildrop_ahead_seen_flush(struct maildrop_md *md)
{
	if (imap_uidset_empty(&md->seen_wait))
		return;
	/* Ahead as far as the queue has room, the room kept for the fetches
	 * of a read-ahead no longer mattering: the answers are read by the
	 * next command (a commit's steps come after the stores, in order), or
	 * once the client has QUIT's answer, before the connection is kept
	 * (release()). Waiting for them here cost QUIT two round trips. The
	 * rest (a full queue) now. */
	if (maildrop_upstream_usable(&md->up))
		seen_send(md, IMAP_AHEAD_MAX);
	if (imap_uidset_empty(&md->seen_wait))
		return;
	enum imap_result r = IMAP_ECONN;
	if (maildrop_upstream_usable(&md->up))
		r = imap_store_flags(md->up.imap, &md->seen_wait, true, IMAP_FLAG_SEEN, NULL, 0);
	if (r != IMAP_OK && r != IMAP_ENOTFOUND) {
		char d[BRIDGE_DETAIL_MAX];
		maildrop_upstream_describe(&md->up, "setting \\Seen", d, sizeof(d));
		base_log(PB_LOG_WARN, "seen", "account %s device %s: %llu message(s): %s%s",
		    md->conn->account, md->conn->device,
		    (unsigned long long)imap_uidset_count(&md->seen_wait),
		    r == IMAP_ECONN ? "not sent (connection lost): " : "", d);
	}
	imap_uidset_clear(&md->seen_wait);
}
