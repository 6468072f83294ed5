/* tests/bridge/check_pop3client.c — the import-uidls POP3 client: the reply
 * parser on buffers (every split offset, hostile lines), the UIDL/LIST line
 * syntax, the header filter against matchkey, and the client against a
 * scripted fake server of tests/lib/fakeserver.h (pipelined TOP, AUTH PLAIN vs
 * USER/PASS, never DELE, broken listings, a reply cut short). */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "bridge/maildrop/matchkey.h"
#include "bridge/migrate/pop3client.h"
#include "bridge/migrate/pop3client_parse.h"
#include "tests/lib/fakeserver.h"

/* ---- parser transcripts -------------------------------------------------------- */

struct tr {
	char out[8192];
	size_t len;
	const bool *expect;   /* per reply: multi-line? */
	size_t nexp, next;
};

static void tr_add(struct tr *t, const char *s, size_t n)
{
	if (t->len + n < sizeof(t->out)) {
		memcpy(t->out + t->len, s, n);
		t->len += n;
		t->out[t->len] = '\0';
	}
}

/* Drain events into the transcript; set the expectation for each reply. */
static void drain(struct migrate_pop3c_parser *p, struct tr *t)
{
	struct migrate_pop3c_event ev;
	char line[512];

	if (p->failed)
		return; /* the error is in the transcript once */
	for (;;) {
		if (!p->in_data && t->next < t->nexp)
			migrate_pop3c_parser_expect(p, t->expect[t->next]);
		enum migrate_pop3c_ev k = migrate_pop3c_parser_next(p, &ev);
		switch (k) {
		case POP3C_EV_NEED_MORE:
			return;
		case POP3C_EV_STATUS:
			snprintf(line, sizeof(line), "S%c:%s\n", ev.ok ? '+' : '-', ev.text);
			tr_add(t, line, strlen(line));
			if (!p->in_data)
				t->next++;
			break;
		case POP3C_EV_DATA:
			tr_add(t, "D:", 2);
			tr_add(t, ev.line, ev.len > 100 ? 100 : ev.len);
			tr_add(t, "\n", 1);
			break;
		case POP3C_EV_DROPPED:
			tr_add(t, "X\n", 2);
			break;
		case POP3C_EV_END:
			tr_add(t, "E\n", 2);
			t->next++;
			break;
		case POP3C_EV_ERROR:
			snprintf(line, sizeof(line), "ERR:%s\n", ev.text);
			tr_add(t, line, strlen(line));
			return;
		}
	}
}

static void feed(struct migrate_pop3c_parser *p, struct tr *t, const char *in, size_t len)
{
	while (len > 0 && !p->failed) {
		size_t avail;
		char *space = migrate_pop3c_parser_space(p, &avail);
		if (avail == 0) {
			drain(p, t);
			space = migrate_pop3c_parser_space(p, &avail);
			if (avail == 0)
				break;
		}
		size_t n = len < avail ? len : avail;
		memcpy(space, in, n);
		migrate_pop3c_parser_added(p, n);
		in += n;
		len -= n;
		drain(p, t);
	}
}

/* Transcript of `in` fed in pieces cut at the offsets in cuts (sorted). */
static void run_split(const char *in, size_t len, const bool *expect, size_t nexp,
    const size_t *cuts, size_t ncuts, struct tr *t)
{
	struct migrate_pop3c_parser *p = malloc(sizeof(*p));
	size_t pos = 0;

	ck_assert_ptr_nonnull(p);
	memset(t, 0, sizeof(*t));
	t->expect = expect;
	t->nexp = nexp;
	migrate_pop3c_parser_init(p);
	for (size_t i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : len;
		feed(p, t, in + pos, end - pos);
		pos = end;
	}
	drain(p, t);
	free(p);
}

/* One-shot, every single split offset and byte-by-byte give one transcript. */
static void check_splits(const char *in, size_t len, const bool *expect, size_t nexp,
    const char *want)
{
	struct tr *whole = malloc(sizeof(*whole)), *t = malloc(sizeof(*t));

	ck_assert_ptr_nonnull(whole);
	ck_assert_ptr_nonnull(t);
	run_split(in, len, expect, nexp, NULL, 0, whole);
	ck_assert_str_eq(whole->out, want);
	for (size_t cut = 1; cut < len; cut++) {
		run_split(in, len, expect, nexp, &cut, 1, t);
		ck_assert_msg(strcmp(t->out, whole->out) == 0, "split at %zu:\n%s\nvs\n%s", cut,
		    t->out, whole->out);
	}
	if (len < 5000) {
		size_t *cuts = malloc(len * sizeof(*cuts));
		for (size_t i = 0; i + 1 < len; i++)
			cuts[i] = i + 1;
		run_split(in, len, expect, nexp, cuts, len ? len - 1 : 0, t);
		ck_assert_msg(strcmp(t->out, whole->out) == 0, "byte by byte:\n%s", t->out);
		free(cuts);
	}
	free(whole);
	free(t);
}

START_TEST(parse_replies)
{
	static const char in[] =
	    "+OK POP3 ready\r\n"
	    "+OK 3 messages\r\n1 abc\r\n2 def\r\n..dotted\r\n.\r\n"
	    "-ERR no such message\r\n"
	    "+OK\nbare lf\n.\n"
	    "-ERR\r\n";
	static const bool exp[] = { false, true, true, true, false };
	check_splits(in, sizeof(in) - 1, exp, 5,
	    "S+:POP3 ready\n"
	    "S+:3 messages\nD:1 abc\nD:2 def\nD:.dotted\nE\n"
	    "S-:no such message\n"
	    "S+:\nD:bare lf\nE\n"
	    "S-:\n");
}
END_TEST

START_TEST(parse_continuation)
{
	static const char in[] = "+ \r\n+\r\n+OK\r\n";
	static const bool exp[] = { false, false, false };
	check_splits(in, sizeof(in) - 1, exp, 3, "S+:\nS+:\nS+:\n");
	struct migrate_pop3c_parser p;
	struct migrate_pop3c_event ev;
	size_t avail;
	migrate_pop3c_parser_init(&p);
	migrate_pop3c_parser_expect(&p, true);
	char *sp = migrate_pop3c_parser_space(&p, &avail);
	memcpy(sp, "+ abc\r\n", 7);
	migrate_pop3c_parser_added(&p, 7);
	ck_assert_int_eq(migrate_pop3c_parser_next(&p, &ev), POP3C_EV_STATUS);
	ck_assert(ev.cont && ev.ok);
	ck_assert(!p.in_data);
	ck_assert_str_eq(ev.text, "abc");
}
END_TEST

START_TEST(parse_sanitises_text)
{
	static const char in[] = "-ERR bad\x01\x7f\xff text\r\n";
	static const bool exp[] = { false };
	check_splits(in, sizeof(in) - 1, exp, 1, "S-:bad??? text\n");
}
END_TEST

START_TEST(parse_not_a_status)
{
	static const bool exp[] = { false, false };
	check_splits("OK fine\r\n+OK\r\n", 14, exp, 2,
	    "ERR:the server sent a reply that is neither +OK nor -ERR\n");
	check_splits("+OKAY\r\n", 7, exp, 1,
	    "ERR:the server sent a reply that is neither +OK nor -ERR\n");
	check_splits("-ERRor\r\n", 8, exp, 1,
	    "ERR:the server sent a reply that is neither +OK nor -ERR\n");
}
END_TEST

START_TEST(parse_status_nul)
{
	static const char in[] = "+OK a\0b\r\n";
	static const bool exp[] = { false };
	check_splits(in, sizeof(in) - 1, exp, 1,
	    "ERR:the server sent a reply line holding a NUL octet\n");
}
END_TEST

START_TEST(parse_overlong_status)
{
	size_t n = POP3_SASL_LINE_MAX + 10;
	char *in = malloc(n + 8);
	memcpy(in, "+OK ", 4);
	memset(in + 4, 'a', n - 4);
	memcpy(in + n, "\r\n", 2);
	static const bool exp[] = { false };
	check_splits(in, n + 2, exp, 1,
	    "ERR:the server sent a reply line that is too long\n");
	free(in);
}
END_TEST

/* A data line over the line limit (or with a NUL) is dropped; the reply goes
 * on. One over the hard limit ends everything. */
START_TEST(parse_data_dropped)
{
	size_t big = POP3_SASL_LINE_MAX + 100;
	size_t n = 0;
	char *in = malloc(big + 200);
	n += (size_t)sprintf(in, "+OK\r\nSubject: a\r\n");
	memset(in + n, 'x', big);
	n += big;
	n += (size_t)sprintf(in + n, "\r\nnul");
	in[n++] = '\0';
	n += (size_t)sprintf(in + n, "here\r\nlast\r\n.\r\n+OK next\r\n");
	static const bool exp[] = { true, false };
	check_splits(in, n, exp, 2, "S+:\nD:Subject: a\nX\nX\nD:last\nE\nS+:next\n");
	free(in);
}
END_TEST

START_TEST(parse_hard_limit)
{
	size_t big = POP3_LINE_HARD_MAX + 10;
	char *in = malloc(big + 32);
	size_t n = (size_t)sprintf(in, "+OK\r\n");
	memset(in + n, 'y', big);
	n += big;
	memcpy(in + n, "\r\n.\r\n", 5);
	n += 5;
	static const bool exp[] = { true };
	struct tr *t = malloc(sizeof(*t));
	run_split(in, n, exp, 1, NULL, 0, t);
	ck_assert_str_eq(t->out, "S+:\nERR:the server sent a line longer than 64 KiB\n");
	free(t);
	free(in);
}
END_TEST

START_TEST(parse_missing_terminator)
{
	static const char in[] = "+OK\r\n1 a\r\n2 b\r\n";
	static const bool exp[] = { true };
	struct tr *t = malloc(sizeof(*t));
	run_split(in, sizeof(in) - 1, exp, 1, NULL, 0, t);
	ck_assert_str_eq(t->out, "S+:\nD:1 a\nD:2 b\n");  /* waits for more, no END */
	free(t);
}
END_TEST

/* After STLS's +OK anything buffered is thrown away. */
START_TEST(parse_discard)
{
	struct migrate_pop3c_parser p;
	struct migrate_pop3c_event ev;
	size_t avail;
	migrate_pop3c_parser_init(&p);
	char *s = migrate_pop3c_parser_space(&p, &avail);
	memcpy(s, "+OK begin TLS\r\n+OK injected\r\n", 30);
	migrate_pop3c_parser_added(&p, 30);
	ck_assert_int_eq(migrate_pop3c_parser_next(&p, &ev), POP3C_EV_STATUS);
	ck_assert_uint_gt(migrate_pop3c_parser_buffered(&p), 0);
	migrate_pop3c_parser_discard(&p);
	ck_assert_uint_eq(migrate_pop3c_parser_buffered(&p), 0);
	ck_assert_int_eq(migrate_pop3c_parser_next(&p, &ev), POP3C_EV_NEED_MORE);
}
END_TEST

START_TEST(uidl_lines)
{
	static const struct { const char *line; int ok; uint32_t num; const char *uidl; } c[] = {
		{ "1 abc", 0, 1, "abc" },
		{ "12  x-y_z", 0, 12, "x-y_z" },
		{ "3 abc   ", 0, 3, "abc" },
		{ "4294967295 !~", 0, 4294967295u, "!~" },
		{ "0 abc", -1, 0, NULL },
		{ "1", -1, 0, NULL },
		{ "1 ", -1, 0, NULL },
		{ " 1 abc", -1, 0, NULL },
		{ "x abc", -1, 0, NULL },
		{ "-1 abc", -1, 0, NULL },
		{ "1 a b", -1, 0, NULL },
		{ "1\tabc", -1, 0, NULL },
		{ "1 ab\tc", -1, 0, NULL },
		{ "1 ab\x7f", -1, 0, NULL },
		{ "1 ab\x80", -1, 0, NULL },
		{ "4294967296 abc", -1, 0, NULL },
		{ "99999999999999999999999 abc", -1, 0, NULL },
	};
	char uidl[POP3C_UIDL_MAX + 1];
	uint32_t num;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		int rc = migrate_pop3c_parse_uidl(c[i].line, strlen(c[i].line), &num, uidl);
		ck_assert_msg(rc == c[i].ok, "'%s': %d", c[i].line, rc);
		if (rc == 0) {
			ck_assert_uint_eq(num, c[i].num);
			ck_assert_str_eq(uidl, c[i].uidl);
		}
	}
	char l70[80] = "7 ", l71[80] = "7 ";
	memset(l70 + 2, 'u', 70);
	l70[72] = 0;
	memset(l71 + 2, 'u', 71);
	l71[73] = 0;
	ck_assert_int_eq(migrate_pop3c_parse_uidl(l70, strlen(l70), &num, uidl), 0);
	ck_assert_uint_eq(strlen(uidl), 70);
	ck_assert_int_eq(migrate_pop3c_parse_uidl(l71, strlen(l71), &num, uidl), -1);
}
END_TEST

START_TEST(list_lines)
{
	uint32_t num;
	uint64_t size;
	ck_assert_int_eq(migrate_pop3c_parse_list("1 100", 5, &num, &size), 0);
	ck_assert_uint_eq(num, 1);
	ck_assert_uint_eq(size, 100);
	ck_assert_int_eq(migrate_pop3c_parse_list("2 0 extra", 9, &num, &size), 0);
	ck_assert_int_eq(migrate_pop3c_parse_list("2 x", 3, &num, &size), -1);
	ck_assert_int_eq(migrate_pop3c_parse_list("2 10x", 5, &num, &size), -1);
	ck_assert_int_eq(migrate_pop3c_parse_list("2", 1, &num, &size), -1);
	ck_assert_int_eq(migrate_pop3c_parse_list("0 5", 3, &num, &size), -1);
	ck_assert_int_eq(migrate_pop3c_parse_list("3 99999999999999999999999", 25, &num, &size), -1);
}
END_TEST

static void feed_hdr(struct migrate_pop3c_hdr *h, const char *text)
{
	const char *p = text;
	migrate_pop3c_hdr_init(h);
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		migrate_pop3c_hdr_line(h, p, len);
		p += len + (nl ? 1 : 0);
	}
}

/* The filtered block gives the keys of the whole header. */
START_TEST(header_filter_keys)
{
	static const char hdr[] =
	    "Received: from a by b\r\n\twith x; Mon, 1 Jan 2024\r\n"
	    "subject :  Hello\r\n   folded  world \r\n"
	    "X-Long: one\r\n two\r\n"
	    "From: A <a@example.org>\r\n"
	    "Subject: second subject ignored\r\n"
	    "To: b@example.org,\r\n c@example.org\r\n"
	    "Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
	    "Message-ID: <m1@example.org>\r\n"
	    "NoColonLine\r\n continuation of nothing\r\n"
	    "\r\n"
	    "Subject: in the body\r\n";
	struct migrate_pop3c_hdr *h = malloc(sizeof(*h));
	struct maildrop_matchkey a, b;
	char subj[128];

	feed_hdr(h, hdr);
	ck_assert(h->done);
	ck_assert(!h->truncated);
	ck_assert_int_eq(maildrop_matchkey_compute(hdr, sizeof(hdr) - 1, &a), 0);
	ck_assert_int_eq(maildrop_matchkey_compute(h->buf, h->len, &b), 0);
	ck_assert_str_eq(a.hash, b.hash);
	ck_assert_str_eq(a.msgid, b.msgid);
	ck_assert_str_eq(b.msgid, "<m1@example.org>");
	ck_assert_ptr_null(memmem(h->buf, h->len, "Received", 8));
	ck_assert_ptr_null(memmem(h->buf, h->len, "second", 6));
	migrate_pop3c_hdr_field(h, "Subject", subj, sizeof(subj));
	ck_assert_str_eq(subj, "Hello folded world");
	migrate_pop3c_hdr_field(h, "To", subj, sizeof(subj));
	ck_assert_str_eq(subj, "b@example.org, c@example.org");
	migrate_pop3c_hdr_field(h, "Subject", subj, 6);
	ck_assert_str_eq(subj, "Hello");
	free(h);
}
END_TEST

START_TEST(header_filter_truncated)
{
	struct migrate_pop3c_hdr *h = malloc(sizeof(*h));
	char line[1000];
	migrate_pop3c_hdr_init(h);
	migrate_pop3c_hdr_line(h, "To: x@example.org,", 18);
	memset(line, 'a', sizeof(line));
	line[0] = ' ';
	for (int i = 0; i < 20; i++)
		migrate_pop3c_hdr_line(h, line, sizeof(line));
	ck_assert(h->truncated);
	ck_assert_uint_le(h->len, POP3C_HDR_MAX);
	free(h);
}
END_TEST

/* ---- a scripted fake POP3 server --------------------------------------------- */

enum fake_mode {
	FK_NORMAL,
	FK_BAD_UIDL,        /* a 71-octet UIDL */
	FK_DUP_UIDL,        /* two messages, one UIDL */
	FK_UIDL_CUT,        /* the UIDL listing stops and the connection closes */
	FK_LONG_STATUS,     /* the greeting is 3000 octets */
	FK_TOP_ERR,         /* TOP 2 answers -ERR */
	FK_GREETING_ERR,
	FK_UIDL_UNKNOWN,    /* UIDL names a message LIST did not */
};

/* The scripted server (tests/lib/fakeserver.h) and its state. */
struct fake {
	struct pbt_fake *pf;
	int port;
	enum fake_mode mode;
	bool pipelining, sasl;
	unsigned nmsg;
	unsigned pipeline_min;  /* TOPs that must arrive before any answer */
	bool pipelined_ok;      /* the wanted TOPs arrived before answering */
	unsigned pending[64];
	size_t npend;
};

/* Did the client send a line containing s? */
static bool fk_sent(struct fake *f, const char *s)
{
	char *cmds = pbt_fake_commands(f->pf, 0);
	bool r = strstr(cmds, s) != NULL;
	free(cmds);
	return r;
}

static void fk_top(struct fake *f, unsigned n)
{
	if (f->mode == FK_TOP_ERR && n == 2) {
		pbt_fake_send(f->pf, "-ERR cannot read that one\r\n");
		return;
	}
	pbt_fake_printf(f->pf, "+OK\r\nReceived: by fake\r\nSubject: message %u\r\n"
	    "Message-ID: <%u@fake>\r\n..Dotted: header\r\n\r\n.\r\n", n, n);
}

static bool fk_greet(struct pbt_fake *pf, const char *arg)
{
	struct fake *f = pf->data;

	(void)arg;
	if (f->mode == FK_GREETING_ERR) {
		pbt_fake_send(pf, "-ERR go away\r\n");
		return false;
	}
	if (f->mode == FK_LONG_STATUS) {
		char *big = malloc(3100);
		memset(big, 'g', 3000);
		memcpy(big, "+OK ", 4);
		memcpy(big + 3000, "\r\n", 3);
		pbt_fake_send(pf, big);
		free(big);
	} else {
		pbt_fake_send(pf, "+OK fake POP3\r\n");
	}
	return true;
}

/* One command; false ends the session (QUIT, or a listing cut short). */
static bool fk_answer(struct pbt_fake *pf, const char *line)
{
	struct fake *f = pf->data;
	char buf[1024];

	if (strncmp(line, "CAPA", 4) == 0) {
		pbt_fake_printf(pf, "+OK\r\nTOP\r\nUIDL\r\nUSER\r\n%s%s.\r\n",
		    f->pipelining ? "PIPELINING\r\n" : "", f->sasl ? "SASL LOGIN PLAIN\r\n" : "");
	} else if (strncmp(line, "USER ", 5) == 0 || strncmp(line, "PASS ", 5) == 0) {
		pbt_fake_send(pf, strcmp(line, "PASS secret") == 0 || line[0] == 'U' ?
		    "+OK\r\n" : "-ERR [AUTH] bad\r\n");
	} else if (strcmp(line, "AUTH PLAIN") == 0) {
		/* continuation: the response is "\0user\0" + 300 'p' */
		char want[512];
		unsigned char raw[320];
		raw[0] = 0;
		memcpy(raw + 1, "user", 4);
		raw[5] = 0;
		memset(raw + 6, 'p', 300);
		EVP_EncodeBlock((unsigned char *)want, raw, 306);
		pbt_fake_send(pf, "+ \r\n");
		if (pbt_fake_readline(pf, buf, sizeof(buf)) < 0)
			return false;
		pbt_fake_send(pf, strcmp(buf, want) == 0 ? "+OK\r\n" : "-ERR [AUTH] bad\r\n");
	} else if (strncmp(line, "AUTH PLAIN ", 11) == 0) {
		/* base64 of "\0user\0secret" */
		pbt_fake_send(pf, strncmp(line + 11, "AHVzZXIAc2VjcmV0", 16) == 0 ? "+OK\r\n" :
		    "-ERR [AUTH] bad\r\n");
	} else if (strncmp(line, "LIST", 4) == 0) {
		pbt_fake_send(pf, "+OK\r\n");
		for (unsigned i = 1; i <= f->nmsg; i++)
			pbt_fake_printf(pf, "%u %u\r\n", i, 100 + i);
		pbt_fake_send(pf, ".\r\n");
	} else if (strncmp(line, "UIDL", 4) == 0) {
		pbt_fake_send(pf, "+OK\r\n");
		for (unsigned i = 1; i <= f->nmsg; i++) {
			if (f->mode == FK_BAD_UIDL && i == 2)
				pbt_fake_printf(pf, "2 %071d\r\n", 0);
			else if (f->mode == FK_DUP_UIDL && i == 2)
				pbt_fake_send(pf, "2 uidl-1\r\n");
			else if (f->mode == FK_UIDL_UNKNOWN && i == 2)
				pbt_fake_printf(pf, "%u uidl-x\r\n", f->nmsg + 5);
			else
				pbt_fake_printf(pf, "%u uidl-%u\r\n", i, i);
			if (f->mode == FK_UIDL_CUT && i == 1)
				return false;
		}
		pbt_fake_send(pf, ".\r\n");
	} else if (strncmp(line, "TOP ", 4) == 0) {
		unsigned n = (unsigned)atoi(line + 4);
		if (f->pipeline_min > 0 && f->npend < f->pipeline_min &&
		    f->npend < sizeof(f->pending) / sizeof(f->pending[0])) {
			f->pending[f->npend++] = n;
			if (f->npend < f->pipeline_min)
				return true;
			f->pipelined_ok = true;
			for (size_t i = 0; i < f->npend; i++)
				fk_top(f, f->pending[i]);
			f->pipeline_min = 0;
			return true;
		}
		fk_top(f, n);
	} else if (strncmp(line, "QUIT", 4) == 0) {
		pbt_fake_send(pf, "+OK bye\r\n");
		return false;
	} else {
		pbt_fake_send(pf, "-ERR unknown\r\n");
	}
	return true;
}

static const struct pbt_step fk_script[] = {
	PBT_CALL(fk_greet, NULL), PBT_SERVE(fk_answer), PBT_END,
};

static struct fake *fk_start(enum fake_mode mode, bool pipelining, bool sasl, unsigned nmsg)
{
	struct fake *f = calloc(1, sizeof(*f));

	ck_assert_ptr_nonnull(f);
	signal(SIGPIPE, SIG_IGN);
	f->mode = mode;
	f->pipelining = pipelining;
	f->sasl = sasl;
	f->nmsg = nmsg;
	f->pf = pbt_fake_start(fk_script, PBT_FAKE_POP3);
	ck_assert_ptr_nonnull(f->pf);
	f->pf->data = f;
	f->port = f->pf->port;
	return f;
}

/* The script has ended well; nothing was ever deleted. */
static void fk_end(struct fake *f)
{
	ck_assert_int_eq(pbt_fake_join(f->pf), 0);
	ck_assert(!fk_sent(f, "DELE"));
	ck_assert(!fk_sent(f, "RSET"));
	PBT_FAKE_FINISH(f->pf);
	free(f);
}

static struct migrate_pop3c *connect_fake(struct fake *f)
{
	struct migrate_pop3c *c = migrate_pop3c_new();
	struct migrate_pop3c_url u;
	char url[64], err[200];

	snprintf(url, sizeof(url), "pop3://127.0.0.1:%d", f->port);
	ck_assert_int_eq(migrate_pop3c_parse_url(url, &u, err, sizeof(err)), 0);
	return c;
}

struct seen {
	unsigned n, refused;
	char subj[8][64];
};

static int on_hdr(void *arg, size_t idx, const struct migrate_pop3c_hdr *h, unsigned dropped,
    const char *why)
{
	struct seen *s = arg;
	(void)dropped;
	(void)why;
	if (h == NULL)
		s->refused++;
	else if (idx < 8)
		migrate_pop3c_hdr_field(h, "Subject", s->subj[idx], sizeof(s->subj[idx]));
	s->n++;
	return 0;
}

/* Connect, log in, list, read headers: the step that fails, or 0. */
static int session(struct fake *f, struct migrate_pop3c *c, struct seen *s, struct migrate_pop3c_msg **msgs,
    size_t *n)
{
	struct migrate_pop3c_url u;
	char url[64], err[200];

	snprintf(url, sizeof(url), "pop3://127.0.0.1:%d", f->port);
	ck_assert_int_eq(migrate_pop3c_parse_url(url, &u, err, sizeof(err)), 0);
	if (migrate_pop3c_connect(c, &u, NULL, 5) != 0)
		return 1;
	if (migrate_pop3c_login(c, "user", "secret") != 0)
		return 2;
	if (migrate_pop3c_listing(c, msgs, n) != 0)
		return 3;
	if (migrate_pop3c_headers(c, *msgs, *n, on_hdr, s) != 0)
		return 4;
	if (migrate_pop3c_quit(c) != 0)
		return 5;
	return 0;
}

static void client_run(enum fake_mode mode, bool pipelining, bool sasl, unsigned nmsg,
    unsigned pipeline_min, int want_step, const char *want_err)
{
	struct fake *f = fk_start(mode, pipelining, sasl, nmsg);
	struct migrate_pop3c *c;
	struct seen s;
	struct migrate_pop3c_msg *msgs = NULL;
	size_t n = 0;

	memset(&s, 0, sizeof(s));
	f->pipeline_min = pipeline_min;
	c = connect_fake(f);
	int step = session(f, c, &s, &msgs, &n);
	migrate_pop3c_close(c);
	ck_assert_msg(step == want_step, "failed at step %d (want %d): %s", step, want_step,
	    migrate_pop3c_error(c));
	if (want_err != NULL)
		ck_assert_msg(strstr(migrate_pop3c_error(c), want_err) != NULL, "error '%s' lacks '%s'",
		    migrate_pop3c_error(c), want_err);
	if (want_step == 0) {
		ck_assert_uint_eq(n, nmsg);
		ck_assert_uint_eq(s.n, nmsg);
		for (unsigned i = 0; i < nmsg; i++) {
			char u[32];
			snprintf(u, sizeof(u), "uidl-%u", i + 1);
			ck_assert_str_eq(msgs[i].uidl, u);
			ck_assert_uint_eq(msgs[i].size, 101 + i);
		}
		if (mode == FK_NORMAL && nmsg > 0)
			ck_assert_str_eq(s.subj[0], "message 1");
		if (pipeline_min)
			ck_assert(f->pipelined_ok);
		ck_assert(fk_sent(f, sasl ? "AUTH PLAIN" : "USER user"));
	}
	ck_assert_ptr_null(strstr(migrate_pop3c_error(c), "secret"));
	free(msgs);
	migrate_pop3c_free(c);
	fk_end(f);
}

START_TEST(client_user_pass)
{
	client_run(FK_NORMAL, false, false, 5, 0, 0, NULL);
}
END_TEST

START_TEST(client_auth_plain_pipelined)
{
	/* the fake answers no TOP before it has POP3C_WINDOW of them */
	client_run(FK_NORMAL, true, true, 40, POP3C_WINDOW, 0, NULL);
}
END_TEST

START_TEST(client_empty)
{
	client_run(FK_NORMAL, true, false, 0, 0, 0, NULL);
}
END_TEST

START_TEST(client_top_refused)
{
	struct fake *f = fk_start(FK_TOP_ERR, false, false, 3);
	struct migrate_pop3c *c = connect_fake(f);
	struct seen s;
	struct migrate_pop3c_msg *msgs = NULL;
	size_t n = 0;
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(session(f, c, &s, &msgs, &n), 0);
	ck_assert_uint_eq(s.n, 3);
	ck_assert_uint_eq(s.refused, 1);
	migrate_pop3c_close(c);
	free(msgs);
	migrate_pop3c_free(c);
	fk_end(f);
}
END_TEST

START_TEST(client_hostile)
{
	client_run(FK_BAD_UIDL, false, false, 3, 0, 3, "UIDL line 2");
	client_run(FK_DUP_UIDL, true, false, 3, 0, 3, "the same UIDL");
	client_run(FK_UIDL_CUT, false, false, 3, 0, 3, "old server:");
	client_run(FK_UIDL_UNKNOWN, false, false, 3, 0, 3, "which LIST did not");
	client_run(FK_LONG_STATUS, false, false, 3, 0, 1, "too long");
	client_run(FK_GREETING_ERR, false, false, 3, 0, 1, "go away");
}
END_TEST

START_TEST(client_wrong_password)
{
	struct fake *f = fk_start(FK_NORMAL, false, false, 1);
	struct migrate_pop3c *c = connect_fake(f);
	struct migrate_pop3c_url u;
	char url[64], err[200];
	snprintf(url, sizeof(url), "pop3://127.0.0.1:%d", f->port);
	ck_assert_int_eq(migrate_pop3c_parse_url(url, &u, err, sizeof(err)), 0);
	ck_assert_int_eq(migrate_pop3c_connect(c, &u, NULL, 5), 0);
	ck_assert_int_eq(migrate_pop3c_login(c, "user", "wrong-pw"), -1);
	ck_assert_ptr_nonnull(strstr(migrate_pop3c_error(c), "refused the login"));
	ck_assert_ptr_null(strstr(migrate_pop3c_error(c), "wrong-pw"));
	migrate_pop3c_free(c);
	fk_end(f);
}
END_TEST

/* pop3:// to a server without STLS: only a numeric loopback address may go
 * on in plaintext; "localhost" (a name) is refused before the password. */
/* An AUTH PLAIN initial response over 255 octets goes after "+ ". */
START_TEST(client_auth_plain_long)
{
	struct fake *f = fk_start(FK_NORMAL, false, true, 1);
	struct migrate_pop3c *c = connect_fake(f);
	struct migrate_pop3c_url u;
	char url[64], err[200], pw[301];
	memset(pw, 'p', 300);
	pw[300] = 0;
	snprintf(url, sizeof(url), "pop3://127.0.0.1:%d", f->port);
	ck_assert_int_eq(migrate_pop3c_parse_url(url, &u, err, sizeof(err)), 0);
	ck_assert_int_eq(migrate_pop3c_connect(c, &u, NULL, 5), 0);
	ck_assert_msg(migrate_pop3c_login(c, "user", pw) == 0, "%s", migrate_pop3c_error(c));
	ck_assert_int_eq(migrate_pop3c_quit(c), 0);
	migrate_pop3c_free(c);
	ck_assert(!fk_sent(f, "pppppppp"));
	fk_end(f);
}
END_TEST

START_TEST(client_requires_stls)
{
	struct fake *f = fk_start(FK_NORMAL, false, false, 1);
	struct migrate_pop3c *c = migrate_pop3c_new();
	struct migrate_pop3c_url u;
	char url[64], err[200];
	snprintf(url, sizeof(url), "pop3://localhost:%d", f->port);
	ck_assert_int_eq(migrate_pop3c_parse_url(url, &u, err, sizeof(err)), 0);
	ck_assert_int_eq(migrate_pop3c_connect(c, &u, NULL, 5), -1);
	ck_assert_ptr_nonnull(strstr(migrate_pop3c_error(c), "does not offer STLS"));
	migrate_pop3c_free(c);
	ck_assert_int_eq(pbt_fake_join(f->pf), 0);
	ck_assert(!fk_sent(f, "USER"));
	ck_assert(!fk_sent(f, "AUTH"));
	fk_end(f);
}
END_TEST

START_TEST(urls)
{
	struct migrate_pop3c_url u;
	char err[200];
	ck_assert_int_eq(migrate_pop3c_parse_url("pop3://mail.example.org", &u, err, sizeof(err)), 0);
	ck_assert_str_eq(u.host, "mail.example.org");
	ck_assert_uint_eq(u.port, 110);
	ck_assert(!u.implicit_tls);
	ck_assert_int_eq(migrate_pop3c_parse_url("pop3s://127.0.0.1:1995/", &u, err, sizeof(err)), 0);
	ck_assert_uint_eq(u.port, 1995);
	ck_assert(u.implicit_tls);
	ck_assert_int_eq(migrate_pop3c_parse_url("pop3s://[::1]", &u, err, sizeof(err)), 0);
	ck_assert_str_eq(u.host, "::1");
	ck_assert_uint_eq(u.port, 995);
	ck_assert_int_eq(migrate_pop3c_parse_url("POP3://[::1]:110", &u, err, sizeof(err)), 0);
	ck_assert_int_eq(migrate_pop3c_parse_url("pop3://h:x", &u, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "--from: port 'x' is not a number from 1 to 65535");
	ck_assert_int_eq(migrate_pop3c_parse_url("imap://h", &u, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "--from: 'imap://h' is not a pop3://HOST[:PORT] or pop3s://HOST[:PORT] URL");
	static const char *bad[] = { "imap://h", "pop3://", "pop3://h:0", "pop3://h:65536",
		"pop3://h:x", "pop3://[::1", "pop3://h/path", "pop3://a b", "pop3://h:",
		"pop3://user@h", "pop3://[zz]", "pop3://h:110/x", "pop3://[::1]x", "pop3://::1",
		"pop3s://h:", "pop3://h?x" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(migrate_pop3c_parse_url(bad[i], &u, err, sizeof(err)) == -1, "%s", bad[i]);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("pop3client");
	TCase *p = tcase_create("parser");
	tcase_add_test(p, parse_replies);
	tcase_add_test(p, parse_sanitises_text);
	tcase_add_test(p, parse_continuation);
	tcase_add_test(p, parse_not_a_status);
	tcase_add_test(p, parse_status_nul);
	tcase_add_test(p, parse_overlong_status);
	tcase_add_test(p, parse_data_dropped);
	tcase_add_test(p, parse_hard_limit);
	tcase_add_test(p, parse_missing_terminator);
	tcase_add_test(p, parse_discard);
	tcase_add_test(p, uidl_lines);
	tcase_add_test(p, list_lines);
	tcase_add_test(p, header_filter_keys);
	tcase_add_test(p, header_filter_truncated);
	tcase_add_test(p, urls);
	tcase_set_timeout(p, 60);
	suite_add_tcase(s, p);
	TCase *c = tcase_create("client");
	tcase_add_test(c, client_user_pass);
	tcase_add_test(c, client_auth_plain_pipelined);
	tcase_add_test(c, client_empty);
	tcase_add_test(c, client_top_refused);
	tcase_add_test(c, client_hostile);
	tcase_add_test(c, client_wrong_password);
	tcase_add_test(c, client_requires_stls);
	tcase_add_test(c, client_auth_plain_long);
	tcase_set_timeout(c, 60);
	suite_add_tcase(s, c);
	return s;
}

int main(void)
{
	SRunner *r = srunner_create(suite());
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
