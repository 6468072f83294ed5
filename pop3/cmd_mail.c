/* pop3/cmd_mail.c — TRANSACTION state (RFC 1939 §5, §7): STAT, LIST, UIDL,
 * RETR, TOP, DELE, NOOP, RSET, and QUIT (which enters UPDATE and commits).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pop3/dotstuff.h"
#include "pop3/session_int.h"

/* Split args at runs of spaces into at most max words; the count, or
 * max + 1 when there are more. */
static size_t split_args(char *args, char **words, size_t max)
{
	size_t n = 0;
	char *p = args;

	for (;;) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			return n;
		if (n == max)
			return max + 1;
		words[n++] = p;
		p += strcspn(p, " ");
		if (*p == ' ')
			*p++ = '\0';
	}
}

/* Strict decimal: digits only (no sign, no space), at most
 * POP3_NUMBER_DIGITS_MAX of them, no overflow. */
static bool parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;

	for (; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= POP3_NUMBER_DIGITS_MAX)
			return false;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	if (i == 0)
		return false;
	*out = v;
	return true;
}

/* A message number of this session, 1..count, not deleted: its index.
 * Otherwise -ERR is sent and false returned. */
static bool msg_arg(struct pop3_session *s, const char *arg, size_t *idx)
{
	uint64_t n;

	if (!parse_u64(arg, &n)) {
		pop3_out_err(&s->out, NULL, "Invalid message number.");
		return false;
	}
	if (n == 0 || n > s->count) {
		pop3_out_err(&s->out, NULL, "No such message.");
		return false;
	}
	if (s->deleted[n - 1]) {
		pop3_out_err(&s->out, NULL, "Message is deleted.");
		return false;
	}
	*idx = (size_t)(n - 1);
	return true;
}

static bool no_args(struct pop3_session *s, char *args)
{
	char *w[1];
	if (split_args(args, w, 0) == 0)
		return true;
	pop3_out_err(&s->out, NULL, "No arguments expected.");
	return false;
}

static void maildrop_totals(struct pop3_session *s, size_t *n, uint64_t *octets)
{
	struct pop3_msg_info info;

	*n = 0;
	*octets = 0;
	for (size_t i = 0; i < s->count; i++) {
		if (s->deleted[i])
			continue;
		s->ops->info(s->md, i, &info);
		(*n)++;
		*octets += info.size;
	}
}

enum pop3_cmd_rc pop3_cmd_stat(struct pop3_session *s, char *args)
{
	size_t n;
	uint64_t octets;

	if (!no_args(s, args))
		return POP3_CMD_ERR;
	maildrop_totals(s, &n, &octets);
	pop3_out_ok(&s->out, "%zu %" PRIu64, n, octets);
	return POP3_CMD_OK;
}

/* LIST and UIDL: one message, or a multi-line list of all not deleted. */
static enum pop3_cmd_rc list_or_uidl(struct pop3_session *s, char *args, bool uidl)
{
	struct pop3_msg_info info;
	char *w[1];
	size_t idx;

	switch (split_args(args, w, 1)) {
	case 0:
		break;
	case 1:
		if (!msg_arg(s, w[0], &idx))
			return POP3_CMD_ERR;
		s->ops->info(s->md, idx, &info);
		if (uidl)
			pop3_out_ok(&s->out, "%zu %s", idx + 1, info.uidl);
		else
			pop3_out_ok(&s->out, "%zu %" PRIu64, idx + 1, info.size);
		return POP3_CMD_OK;
	default:
		pop3_out_err(&s->out, NULL, "Too many arguments.");
		return POP3_CMD_ERR;
	}
	if (uidl) {
		pop3_out_ok(&s->out, "Unique-ID listing follows");
	} else {
		size_t n;
		uint64_t octets;
		maildrop_totals(s, &n, &octets);
		pop3_out_ok(&s->out, "%zu messages (%" PRIu64 " octets)", n, octets);
	}
	for (size_t i = 0; i < s->count; i++) {
		if (s->deleted[i])
			continue;
		s->ops->info(s->md, i, &info);
		if (uidl)
			pop3_out_line(&s->out, "%zu %s", i + 1, info.uidl);
		else
			pop3_out_line(&s->out, "%zu %" PRIu64, i + 1, info.size);
	}
	pop3_out_end(&s->out);
	return POP3_CMD_OK;
}

enum pop3_cmd_rc pop3_cmd_list(struct pop3_session *s, char *args)
{
	return list_or_uidl(s, args, false);
}

enum pop3_cmd_rc pop3_cmd_uidl(struct pop3_session *s, char *args)
{
	return list_or_uidl(s, args, true);
}

/* The sink handed to the maildrop: the "+OK" line goes out with the first
 * octets, so a message that is gone before anything was sent can still be
 * answered -ERR. */
struct msg_sink {
	struct pop3_session *s;
	struct pop3_dotstuff ds;
	bool started;
	char ok[64];
};

static int sink(void *arg, const char *buf, size_t len)
{
	struct msg_sink *m = arg;

	if (m->s->out.failed)
		return -1;
	if (!m->started) {
		m->started = true;
		if (pop3_out_ok(&m->s->out, "%s", m->ok) != 0)
			return -1;
	}
	return pop3_ds_feed(&m->ds, buf, len);
}

/* The look-ahead for the maildrop's hint(): the RETR and TOP commands
 * buffered behind the current one, as the session would run them. Stops at
 * anything that could change what they mean (RSET, QUIT, an unknown or
 * malformed command); DELE n drops a later RETR n (it will be refused). */
struct lookahead {
	struct pop3_session *s;
	struct pop3_md_next next[POP3_HINT_MAX];
	size_t n;
	size_t dele[POP3_HINT_MAX];
	size_t ndele;
};

static bool ahead_deleted(const struct lookahead *la, size_t idx)
{
	if (la->s->deleted[idx])
		return true;
	for (size_t i = 0; i < la->ndele; i++)
		if (la->dele[i] == idx)
			return true;
	return false;
}

static int lookahead_line(void *arg, const char *line, size_t len)
{
	struct lookahead *la = arg;
	char buf[64], *w[3];
	uint64_t num, lines = 0;

	if (len >= sizeof(buf) || la->n == POP3_HINT_MAX)
		return 1;
	memcpy(buf, line, len);
	buf[len] = '\0';
	size_t nw = split_args(buf, w, 3);
	if (nw == 0 || nw > 3)
		return 1;
	bool retr = strcasecmp(w[0], "RETR") == 0 && nw == 2;
	bool top = strcasecmp(w[0], "TOP") == 0 && nw == 3;
	bool dele = strcasecmp(w[0], "DELE") == 0 && nw == 2;
	if (!retr && !top && !dele) {
		static const char *const harmless[] = { "LIST", "UIDL", "STAT", "NOOP" };
		for (size_t i = 0; i < sizeof(harmless) / sizeof(harmless[0]); i++)
			if (strcasecmp(w[0], harmless[i]) == 0)
				return 0;
		return 1;
	}
	if (!parse_u64(w[1], &num) || num == 0 || num > la->s->count ||
	    (top && !parse_u64(w[2], &lines)))
		return 1;
	size_t idx = (size_t)(num - 1);
	if (dele) {
		if (la->ndele == POP3_HINT_MAX)
			return 1;
		la->dele[la->ndele++] = idx;
		return 0;
	}
	if (ahead_deleted(la, idx))
		return 0;
	la->next[la->n++] = (struct pop3_md_next){
		.idx = idx, .what = top ? POP3_FETCH_TOP : POP3_FETCH_WHOLE, .top_lines = lines,
	};
	return 0;
}

static void hint_next(struct pop3_session *s)
{
	struct lookahead la = { .s = s };

	if (s->ops->hint == NULL)
		return;
	pop3_lr_peek(&s->lr, lookahead_line, &la);
	s->ops->hint(s->md, la.next, la.n);
}

/* RETR and TOP: stream message idx. */
static enum pop3_cmd_rc send_message(struct pop3_session *s, size_t idx, bool top,
    uint64_t lines)
{
	struct pop3_md_reply reply = { .text = "", .delay_ms = 0 };
	struct pop3_msg_info info;
	struct msg_sink m = { .s = s };

	s->ops->info(s->md, idx, &info);
	if (top)
		strcpy(m.ok, "Top of message follows");
	else
		snprintf(m.ok, sizeof(m.ok), "%" PRIu64 " octets", info.size);
	pop3_ds_init(&m.ds, top, lines, pop3_out_write, &s->out);
	hint_next(s);
	enum pop3_md_status st = s->ops->fetch(s->md, idx,
	    top ? POP3_FETCH_TOP : POP3_FETCH_WHOLE, lines, sink, &m, &reply);
	pop3_md_delay(&reply);
	if (s->out.failed) {
		s->result = s->out.error == POP3_IO_TIMEOUT ? POP3_RESULT_TIMEOUT
		    : POP3_RESULT_DROPPED;
		return POP3_CMD_CLOSE;
	}
	if (st != POP3_MD_OK) {
		if (m.started) {
			/* Part of the message was sent after "+OK": the client
			 * cannot tell a truncated message from a whole one unless
			 * the connection breaks. */
			pop3_trace(s, "fetch of message %zu failed mid-stream", idx + 1);
			pop3_set_reason(s, reply.text[0] ? reply.text
			    : "message fetch failed after +OK");
			s->result = POP3_RESULT_FETCH_FAILED;
			return POP3_CMD_CLOSE;
		}
		if (st == POP3_MD_CLIENT)
			st = POP3_MD_TEMP;
		pop3_md_error(s, st, &reply);
		return POP3_CMD_FAIL;
	}
	if (!m.started)
		pop3_out_ok(&s->out, "%s", m.ok);
	pop3_ds_finish(&m.ds);
	if (top) {
		s->stats->top_count++;
		s->stats->top_octets += m.ds.octets;
		return POP3_CMD_OK;
	}
	/* retrieved() means "sent completely": push it out first. */
	if (pop3_out_flush(&s->out) != 0) {
		s->result = s->out.error == POP3_IO_TIMEOUT ? POP3_RESULT_TIMEOUT
		    : POP3_RESULT_DROPPED;
		return POP3_CMD_CLOSE;
	}
	s->ops->retrieved(s->md, idx, m.ds.octets);
	s->stats->retr_count++;
	s->stats->retr_octets += m.ds.octets;
	return POP3_CMD_OK;
}

enum pop3_cmd_rc pop3_cmd_retr(struct pop3_session *s, char *args)
{
	char *w[1];
	size_t idx;

	if (split_args(args, w, 1) != 1) {
		pop3_out_err(&s->out, NULL, "RETR needs one message number.");
		return POP3_CMD_ERR;
	}
	if (!msg_arg(s, w[0], &idx))
		return POP3_CMD_ERR;
	return send_message(s, idx, false, 0);
}

enum pop3_cmd_rc pop3_cmd_top(struct pop3_session *s, char *args)
{
	char *w[2];
	size_t idx;
	uint64_t lines;

	if (split_args(args, w, 2) != 2) {
		pop3_out_err(&s->out, NULL, "TOP needs a message number and a line count.");
		return POP3_CMD_ERR;
	}
	if (!msg_arg(s, w[0], &idx))
		return POP3_CMD_ERR;
	if (!parse_u64(w[1], &lines)) {
		pop3_out_err(&s->out, NULL, "Invalid line count.");
		return POP3_CMD_ERR;
	}
	return send_message(s, idx, true, lines);
}

enum pop3_cmd_rc pop3_cmd_dele(struct pop3_session *s, char *args)
{
	char *w[1];
	size_t idx;

	if (split_args(args, w, 1) != 1) {
		pop3_out_err(&s->out, NULL, "DELE needs one message number.");
		return POP3_CMD_ERR;
	}
	if (!msg_arg(s, w[0], &idx))
		return POP3_CMD_ERR;
	s->deleted[idx] = true;
	pop3_out_ok(&s->out, "Marked to be deleted.");
	return POP3_CMD_OK;
}

enum pop3_cmd_rc pop3_cmd_noop(struct pop3_session *s, char *args)
{
	if (!no_args(s, args))
		return POP3_CMD_ERR;
	pop3_out_ok(&s->out, "Nothing to do.");
	return POP3_CMD_OK;
}

enum pop3_cmd_rc pop3_cmd_rset(struct pop3_session *s, char *args)
{
	size_t n;
	uint64_t octets;

	if (!no_args(s, args))
		return POP3_CMD_ERR;
	memset(s->deleted, 0, s->count * sizeof(bool));
	maildrop_totals(s, &n, &octets);
	pop3_out_ok(&s->out, "Maildrop has %zu messages (%" PRIu64 " octets).", n, octets);
	return POP3_CMD_OK;
}

/* QUIT: in AUTHORIZATION just goodbye; in TRANSACTION enter UPDATE, commit
 * the marked set, release the maildrop, and only then answer (SPEC §5). */
enum pop3_cmd_rc pop3_cmd_quit(struct pop3_session *s, char *args)
{
	struct pop3_md_reply reply = { .text = "", .delay_ms = 0 };

	if (!no_args(s, args))
		return POP3_CMD_ERR;
	if (s->state == POP3_AUTHORIZATION) {
		pop3_out_ok(&s->out, "Bye.");
		s->result = POP3_RESULT_QUIT;
		return POP3_CMD_CLOSE;
	}
	pop3_enter_state(s, POP3_UPDATE);
	size_t *del = malloc((s->count > 0 ? s->count : 1) * sizeof(size_t));
	if (del == NULL) {
		pop3_out_err(&s->out, "SYS/TEMP", "Out of memory, nothing deleted.");
		pop3_set_reason(s, "out of memory");
		s->result = POP3_RESULT_COMMIT_FAILED;
		return POP3_CMD_CLOSE;
	}
	size_t n = 0;
	for (size_t i = 0; i < s->count; i++)
		if (s->deleted[i])
			del[n++] = i;
	s->stats->dele_count = (unsigned)n;
	enum pop3_md_status st = s->ops->commit(s->md, del, n, &reply);
	free(del);
	s->ops->close(s->md);
	s->closed_md = s->md;   /* released once the answer is out */
	s->md = NULL;
	pop3_md_delay(&reply);
	if (st != POP3_MD_OK) {
		if (st != POP3_MD_PERM)
			st = POP3_MD_TEMP;
		if (reply.text[0] == '\0')
			strcpy(reply.text, "Some deleted messages not removed.");
		pop3_md_error(s, st, &reply);
		s->result = POP3_RESULT_COMMIT_FAILED;
		return POP3_CMD_CLOSE;
	}
	/* The maildrop may say more (a commit recorded but not yet applied
	 * upstream): its text replaces the default. */
	pop3_out_ok(&s->out, "%s", reply.text[0] ? reply.text : "Logging out.");
	s->result = POP3_RESULT_COMMITTED;
	return POP3_CMD_CLOSE;
}
