/* bridge/maildrop/ops.c — the maildrop after open(): listing, streaming
 * RETR/TOP from upstream, learning exact sizes, seen_on, the journaled
 * commit, and close (pop3/maildrop.h; SPEC §3–§5). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge/base/log.h"
#include "bridge/base/text.h"
#include "bridge/maildrop/commit.h"
#include "bridge/maildrop/internal.h"
#include "bridge/maildrop/login.h"
#include "bridge/maildrop/sync.h"

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

void maildrop_md_free(struct maildrop_md *md)
{
	if (md == NULL)
		return;
	/* The lock goes first: the device may log in again as soon as the
	 * client has its answer, and LOGOUT below may take a while. */
	maildrop_devlock_release(&md->lock);
	maildrop_upstream_free(&md->up);
	imap_uidset_free(&md->seen_wait);
	state_view_free(md->view);
	free(md->retr_now);
	state_close(md->db);
	free(md);
}

void maildrop_text(char *dst, size_t cap, const char *a, const char *b)
{
	size_t o = base_text_printable_str(dst, cap, a);

	if (cap > 0)
		base_text_printable_str(dst + o, cap - o, b);
}

static size_t md_count(void *p)
{
	return ((struct maildrop_md *)p)->n;
}

static void md_info(void *p, size_t idx, struct pop3_msg_info *out)
{
	struct maildrop_md *md = p;

	memset(out, 0, sizeof(*out));
	if (idx >= md->n)
		return;
	out->size = md->view[idx].size;
	snprintf(out->uidl, sizeof(out->uidl), "%s", md->view[idx].uidl);
}

static void reply_text(struct pop3_md_reply *reply, const char *text)
{
	maildrop_text(reply->text, sizeof(reply->text), text, NULL);
}

/* The message vanished upstream: remember it (this session and state). */
static enum pop3_md_status gone(struct maildrop_md *md, uint32_t uid,
    struct pop3_md_reply *reply)
{
	(void)imap_uidset_add(&md->up.gone, uid);
	if (state_messages_gone(md->db, md->mailbox_id, &uid, 1, now_s()) != STATE_OK)
		base_log(PB_LOG_WARN, "state", "marking a vanished message gone: %s",
		    state_errmsg(md->db));
	reply_text(reply, "This message was deleted from the mailbox meanwhile.");
	return POP3_MD_GONE;
}

static enum pop3_md_status fetch_failed(struct maildrop_md *md, enum imap_result r,
    uint32_t uid, struct pop3_md_reply *reply)
{
	char d[BRIDGE_DETAIL_MAX];

	if (r == IMAP_ENOTFOUND)
		return gone(md, uid, reply);
	if (r == IMAP_ESINK)
		return POP3_MD_CLIENT;
	maildrop_upstream_describe(&md->up, "fetch", d, sizeof(d));
	maildrop_text(md->conn->detail, sizeof(md->conn->detail), d, NULL);
	reply_text(reply, "Mail server unavailable, try again later");
	return POP3_MD_TEMP;
}

uint64_t maildrop_top_piece(uint64_t lines)
{
	uint64_t piece = lines > BRIDGE_TOP_PIECE_MAX / BRIDGE_TOP_LINE_GUESS
	    ? BRIDGE_TOP_PIECE_MAX : lines * BRIDGE_TOP_LINE_GUESS;
	return piece < BRIDGE_TOP_PIECE_MIN ? BRIDGE_TOP_PIECE_MIN : piece;
}

/* TOP: the header, then the text in growing partial pieces until the
 * sink has its lines or the text ends. */
static enum pop3_md_status fetch_top(struct maildrop_md *md, uint32_t uid, uint64_t lines,
    pop3_sink_fn *sink, void *arg, struct pop3_md_reply *reply)
{
	struct imap_body_result res;
	enum imap_result r = imap_fetch_body(md->up.imap, uid, IMAP_SECTION_HEADER, 0, 0,
	    sink, arg, &res);

	if (r != IMAP_OK)
		return fetch_failed(md, r, uid, reply);
	if (res.stopped)
		return POP3_MD_OK;
	uint64_t piece = maildrop_top_piece(lines);
	uint64_t off = 0;
	for (;;) {
		r = imap_fetch_body(md->up.imap, uid, IMAP_SECTION_TEXT, off, piece, sink, arg,
		    &res);
		if (r != IMAP_OK)
			return fetch_failed(md, r, uid, reply);
		if (res.stopped || res.size < piece)
			return POP3_MD_OK;
		off += res.size;
		if (piece < BRIDGE_TOP_PIECE_MAX)
			piece *= 2;
	}
}

/* SPEC §4: LIST announced `listed` octets, what RETR sends once line ends
 * are CRLF and a final one is added. A body literal of n octets gives at
 * least n and, when the server sends CRLF line ends (as IMAP servers do),
 * at most n + 2: anything else is not the message LIST described. */
static bool size_agrees(void *arg, uint64_t n)
{
	uint64_t listed = *(const uint64_t *)arg;

	return n <= listed && n + 2 >= listed;
}

/* RETR. The body's literal size is judged before an octet reaches the
 * client. One that disagrees with the listing (a literal is read and
 * dropped, nothing is sent) is either a message the server replaced by a
 * stand-in because another session expunged it (Courier: a short "message
 * unavailable" text), or the message itself on a server whose RFC822.SIZE
 * is not the octets it sends (Microsoft 365). NOOP lets the server report
 * the expunge: gone, -ERR. Otherwise the message is fetched again and sent
 * as it comes, and retrieved() learns its exact size for every later LIST.
 * Cost: one NOOP and a second download, once per message whose size the
 * listing had wrong. */
static enum pop3_md_status fetch_whole(struct maildrop_md *md, uint32_t uid, uint64_t listed,
    pop3_sink_fn *sink, void *arg, struct pop3_md_reply *reply)
{
	struct imap_body_result res;
	enum imap_result r = imap_fetch_body_checked(md->up.imap, uid, IMAP_SECTION_ALL, 0, 0,
	    size_agrees, &listed, sink, arg, &res);

	if (r != IMAP_OK)
		return fetch_failed(md, r, uid, reply);
	if (!res.refused)
		return POP3_MD_OK;
	base_log(PB_LOG_INFO, "fetch", "UID %u: the server sends %llu octets, the listing said"
	    " %llu; checking that it still exists", uid, (unsigned long long)res.size,
	    (unsigned long long)listed);
	r = imap_noop(md->up.imap);
	if (r != IMAP_OK && r != IMAP_NO && r != IMAP_BAD)
		return fetch_failed(md, r, uid, reply);
	if (imap_uidset_contains(&md->up.gone, uid))
		return gone(md, uid, reply);
	r = imap_fetch_body(md->up.imap, uid, IMAP_SECTION_ALL, 0, 0, sink, arg, NULL);
	if (r != IMAP_OK)
		return fetch_failed(md, r, uid, reply);
	return POP3_MD_OK;
}

static enum pop3_md_status md_fetch(void *p, size_t idx, enum pop3_fetch_what what,
    uint64_t top_lines, pop3_sink_fn *sink, void *sink_arg, struct pop3_md_reply *reply)
{
	struct maildrop_md *md = p;

	if (idx >= md->n) {
		reply_text(reply, "No such message.");
		return POP3_MD_GONE;
	}
	uint32_t uid = md->view[idx].uid;
	if (imap_uidset_contains(&md->up.gone, uid))
		return gone(md, uid, reply);
	if (!maildrop_upstream_usable(&md->up)) {
		snprintf(md->conn->detail, sizeof(md->conn->detail), "upstream connection lost");
		reply_text(reply, "Mail server connection lost, try again later");
		return POP3_MD_TEMP;
	}
	maildrop_ahead_send(md, idx, what, top_lines);
	if (what == POP3_FETCH_TOP)
		return fetch_top(md, uid, top_lines, sink, sink_arg, reply);
	return fetch_whole(md, uid, md->view[idx].size, sink, sink_arg, reply);
}

static void md_retrieved(void *p, size_t idx, uint64_t octets)
{
	struct maildrop_md *md = p;

	if (idx >= md->n)
		return;
	struct state_view_msg *v = &md->view[idx];
	md->retr_now[idx] = true;
	if (state_devmsg_retrieved(md->db, md->device_id, &v->id, 1, now_s()) != STATE_OK)
		base_log(PB_LOG_WARN, "state", "recording a RETR: %s", state_errmsg(md->db));
	/* SPEC §4: the next LIST says exactly what RETR sends. */
	if ((!v->size_exact || v->size != octets) &&
	    state_message_set_exact_size(md->db, v->id, octets) != STATE_OK)
		base_log(PB_LOG_WARN, "state", "recording an exact size: %s", state_errmsg(md->db));
	if (md->eff.seen_on != PB_SEEN_RETR || (v->flags & STATE_MF_SEEN))
		return;
	/* SPEC §9: no round trip; its answer comes with the next command's. */
	maildrop_ahead_seen(md, v->uid);
}

static enum pop3_md_status md_commit(void *p, const size_t *deleted, size_t n,
    struct pop3_md_reply *reply)
{
	struct maildrop_md *md = p;
	struct maildrop_conn *conn = md->conn;
	int64_t *del = malloc((n ? n : 1) * sizeof(*del));
	int64_t *seen = malloc((md->n ? md->n : 1) * sizeof(*seen));
	size_t n_del = 0, n_seen = 0;
	enum pop3_md_status ret = POP3_MD_OK;
	int64_t now = now_s();

	maildrop_ahead_seen_flush(md);  /* the RETRs' \Seen before the DELEs' steps */
	if (del == NULL || seen == NULL) {
		reply_text(reply, "Out of memory, nothing deleted.");
		ret = POP3_MD_TEMP;
		goto out;
	}
	conn->dele_octets = 0;
	size_t next = 0; /* indexes must ascend: the lowest acceptable */
	for (size_t i = 0; i < n; i++) {
		if (deleted[i] >= md->n || deleted[i] < next)
			continue;
		next = deleted[i] + 1;
		del[n_del++] = md->view[deleted[i]].id;
		conn->dele_octets += md->view[deleted[i]].size;
	}
	if (md->eff.seen_on == PB_SEEN_QUIT)
		for (size_t i = 0; i < md->n; i++)
			if (md->retr_now[i] && !(md->view[i].flags & STATE_MF_SEEN))
				seen[n_seen++] = md->view[i].id;
	if (n_del == 0 && n_seen == 0)
		goto out;

	/* The intent, durable before anything changes upstream. */
	int64_t jid = 0;
	int jrc = state_journal_begin(md->db, md->device_id, md->mailbox_id,
	    config_dele_name(md->eff.dele), del, n_del, seen, n_seen, now, &jid);
	if (jrc != STATE_OK) {
		maildrop_text(conn->detail, sizeof(conn->detail), "journal: ", state_errmsg(md->db));
		/* exported during this session (SPEC §14): the new node has the
		 * state as it was; the device deletes again there */
		reply_text(reply, jrc == STATE_MOVED ? MAILDROP_LOGIN_MOVED_TEXT "; nothing deleted."
		    : "Could not record the deletions; nothing deleted.");
		ret = POP3_MD_TEMP;
		goto out;
	}
	maildrop_crash_point(conn->ctx->crash_at, BRIDGE_CRASH_AFTER_JOURNAL);

	/* Durable from here on: the client gets +OK whatever happens
	 * upstream; what does not happen now, the next session finishes. */
	struct state_journal *e = NULL;
	char d[BRIDGE_DETAIL_MAX];
	struct maildrop_commit_env env = {
		.up = &md->up, .db = md->db, .opt = md->opt, .crash_at = conn->ctx->crash_at,
		.now = now,
	};
	if (state_journal_get(md->db, jid, &e) != STATE_OK) {
		maildrop_text(d, sizeof(d), "journal: ", state_errmsg(md->db));
	} else if (!maildrop_upstream_usable(&md->up)) {
		snprintf(d, sizeof(d), "upstream connection lost");
	} else if (maildrop_commit_run(&env, e, false, d, sizeof(d)) == 0) {
		d[0] = '\0';
	}
	state_journal_free(e, 1);
	if (d[0]) {
		conn->commit_pending = true;
		maildrop_text(conn->detail, sizeof(conn->detail), "commit pending: ", d);
		base_log(PB_LOG_WARN, "journal", "account %s device %s: commit %lld pending: %s",
		    conn->account, conn->device, (long long)jid, d);
		maildrop_commit_failed(md->db, jid, conn->account, conn->device, d);
		/* +OK all the same (SPEC §5: the commit is durable), but honest. */
		reply_text(reply, "Logging out. Deletions saved; the mail server has not"
		    " applied them yet, retried at the next login.");
	}
out:
	free(del);
	free(seen);
	return ret;
}

/* State growth (docs/DESIGN.md): what is older than BRIDGE_PURGE_AGE_S —
 * finished journal entries, and the folder's messages gone upstream that
 * no unfinished entry names. A failure costs only disk space: a warning. */
static void purge_old(struct maildrop_md *md)
{
	int64_t before = now_s() - BRIDGE_PURGE_AGE_S;
	size_t entries = 0, msgs = 0;

	if (state_journal_purge(md->db, before, &entries) != STATE_OK)
		base_log(PB_LOG_WARN, "state", "purging finished commits: %s",
		    state_errmsg(md->db));
	if (md->mailbox_id != 0 &&
	    state_messages_purge(md->db, md->mailbox_id, before, &msgs) != STATE_OK)
		base_log(PB_LOG_WARN, "state", "purging gone messages: %s", state_errmsg(md->db));
	if (entries > 0 || msgs > 0)
		base_log(PB_LOG_DEBUG, "state", "purged %zu finished commit(s) and %zu gone "
		    "message(s) older than %d days", entries, msgs, BRIDGE_PURGE_AGE_S / 86400);
}

/* End of session: the device's counters, old state purged, the device
 * released; the upstream connection is left to md_release (after the
 * client's last answer: it may wait for the answers to commands sent
 * ahead before the connection is kept). */
static void md_close(void *p)
{
	struct maildrop_md *md = p;

	if (md == NULL)
		return;
	maildrop_ahead_seen_flush(md);
	/* Messages other clients removed during the session: state learns it
	 * now rather than at the next sync (only the view's, so it is bounded). */
	if (!imap_uidset_empty(&md->up.gone) && md->mailbox_id != 0 &&
	    strcmp(md->up.selected, md->eff.folder) == 0) {
		uint32_t *uids = malloc((md->n ? md->n : 1) * sizeof(*uids));
		size_t k = 0;
		for (size_t i = 0; uids != NULL && i < md->n; i++)
			if (imap_uidset_contains(&md->up.gone, md->view[i].uid))
				uids[k++] = md->view[i].uid;
		if (k > 0 && state_messages_gone(md->db, md->mailbox_id, uids, k, now_s()) !=
		    STATE_OK)
			base_log(PB_LOG_WARN, "state", "marking vanished messages gone: %s",
			    state_errmsg(md->db));
		free(uids);
	}
	if (state_device_update_counters(md->db, md->device_id, &md->def, NULL) != STATE_OK)
		base_log(PB_LOG_WARN, "state", "device counters: %s", state_errmsg(md->db));
	purge_old(md);
	maildrop_devlock_release(&md->lock);
	if (!md->keys_due) {
		state_close(md->db);
		md->db = NULL;
	}
}

/* The client has its last answer: the match keys a first sync left (issue
 * 11: a first session of 20,000 messages no longer waits for 20,000 header
 * fields), then the upstream connection is kept or logged out. */
static void md_release(void *p)
{
	struct maildrop_md *md = p;

	if (md != NULL && md->keys_due && md->db != NULL && maildrop_upstream_usable(&md->up) &&
	    strcmp(md->up.selected, md->eff.folder) == 0) {
		char d[BRIDGE_DETAIL_MAX];
		if (maildrop_sync_keys(&md->up, md->db, md->mailbox_id, d, sizeof(d)) != POP3_MD_OK)
			base_log(PB_LOG_WARN, "sync", "account %s folder %s: match keys not stored"
			    " (%s); fetched at the next session", md->conn->account, md->eff.folder, d);
	}
	maildrop_md_free(p);
}

/* The device's own LOGIN-DELAY (SPEC §14), for CAPA after login. */
static unsigned md_login_delay(void *mdp)
{
	const struct maildrop_md *md = mdp;
	return md->eff.login_delay;
}

const struct pop3_maildrop_ops maildrop_ops = {
	.open = maildrop_md_open,
	.count = md_count,
	.info = md_info,
	.fetch = md_fetch,
	.hint = maildrop_ahead_hint,
	.retrieved = md_retrieved,
	.commit = md_commit,
	.close = md_close,
	.login_delay = md_login_delay,
	.release = md_release,
};
