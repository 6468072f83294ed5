/* tests/imap/check_parser.c — the response parser, table-driven: every input
 * is parsed whole, split in two at every byte offset, and fed one byte at a
 * time, and must give the same events each way. Hostile inputs must end in
 * a protocol error without large allocations.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/limits.h"
#include "imap/parser.h"
#include "tests/lib/testutil.h"

/* ---- rendering events as text ------------------------------------------ */

static void render_args(struct pbt_buf *o, const struct imap_arg *a, size_t n)
{
	char tmp[64];
	for (size_t i = 0; i < n; i++) {
		if (i)
			pbt_buf_adds(o, " ");
		switch (a[i].type) {
		case IMAP_ARG_ATOM:
			pbt_buf_add(o, a[i].u.str, a[i].len);
			break;
		case IMAP_ARG_STRING:
			pbt_buf_adds(o, "\"");
			pbt_buf_add(o, a[i].u.str, a[i].len);
			pbt_buf_adds(o, "\"");
			break;
		case IMAP_ARG_NIL:
			pbt_buf_adds(o, "NIL");
			break;
		case IMAP_ARG_LIST:
			pbt_buf_adds(o, "(");
			render_args(o, a[i].u.list, a[i].len);
			pbt_buf_adds(o, ")");
			break;
		case IMAP_ARG_STREAMED:
			snprintf(tmp, sizeof(tmp), "{S:%llu}", (unsigned long long)a[i].u.size);
			pbt_buf_adds(o, tmp);
			break;
		}
	}
}

static const char *cond_name(enum imap_cond c)
{
	static const char *const n[] = { "", "OK", "NO", "BAD", "PREAUTH", "BYE" };
	return n[c];
}

static void render_resp(struct pbt_buf *o, const struct imap_response *r)
{
	char tmp[64];
	switch (r->type) {
	case IMAP_RESP_CONTINUATION:
		pbt_buf_adds(o, "+ |");
		pbt_buf_adds(o, r->text);
		break;
	case IMAP_RESP_TAGGED:
	case IMAP_RESP_UNTAGGED:
		pbt_buf_adds(o, r->type == IMAP_RESP_TAGGED ? r->tag : "*");
		pbt_buf_adds(o, " ");
		if (r->cond != IMAP_COND_NONE) {
			pbt_buf_adds(o, cond_name(r->cond));
			if (r->code != IMAP_CODE_NONE) {
				pbt_buf_adds(o, " [");
				pbt_buf_adds(o, r->code_name);
				if (r->code_nargs) {
					pbt_buf_adds(o, " ");
					render_args(o, r->code_args, r->code_nargs);
				}
				pbt_buf_adds(o, "]");
			}
			pbt_buf_adds(o, " |");
			pbt_buf_adds(o, r->text);
		} else {
			if (r->has_number) {
				snprintf(tmp, sizeof(tmp), "%u ", r->number);
				pbt_buf_adds(o, tmp);
			}
			pbt_buf_adds(o, r->name);
			if (r->nargs) {
				pbt_buf_adds(o, " ");
				render_args(o, r->args, r->nargs);
			}
		}
		break;
	}
	pbt_buf_adds(o, "\n");
}

/* Feed data in chunks (cuts: ascending offsets), render every event. */
static char *run(const struct imap_parser_limits *lim, const char *data, size_t len,
    const size_t *cuts, size_t ncuts)
{
	struct imap_parser *p = imap_parser_new(lim);
	struct pbt_buf o = { 0 };
	struct imap_parse_event ev;
	char tmp[300];
	bool failed = false;
	size_t start = 0;
	ck_assert_ptr_nonnull(p);
	for (size_t c = 0; c <= ncuts && !failed; c++) {
		size_t end = c < ncuts ? cuts[c] : len;
		size_t off = start;
		for (;;) {
			size_t used;
			enum imap_parse_status st = imap_parser_feed(p, data + off, end - off, &used, &ev);
			ck_assert_uint_le(used, end - off);
			off += used;
			if (st == IMAP_PARSE_NEED_MORE) {
				ck_assert_uint_eq(off, end);
				break;
			}
			if (st == IMAP_PARSE_ERROR) {
				ck_assert_ptr_nonnull(ev.error);
				pbt_buf_adds(&o, "ERR\n");
				failed = true;
				break;
			}
			if (st == IMAP_PARSE_RESPONSE) {
				render_resp(&o, ev.resp);
			} else if (st == IMAP_PARSE_STREAM_BEGIN) {
				snprintf(tmp, sizeof(tmp), "S(%u,%u,%s,%llu)", ev.msn, ev.uid,
				    ev.section, (unsigned long long)ev.size);
				pbt_buf_adds(&o, tmp);
			} else if (st == IMAP_PARSE_STREAM_DATA) {
				ck_assert_uint_gt(ev.len, 0);
				pbt_buf_add(&o, ev.data, ev.len);
			} else if (st == IMAP_PARSE_STREAM_END) {
				pbt_buf_adds(&o, "|E\n");
			}
		}
		start = end;
	}
	if (failed) {
		/* Failure is sticky. */
		size_t used;
		ck_assert_int_eq(imap_parser_feed(p, "* OK\r\n", 6, &used, &ev), IMAP_PARSE_ERROR);
	}
	imap_parser_free(p);
	if (!o.p)
		pbt_buf_adds(&o, "");
	return o.p;
}

struct pcase {
	const char *in;
	size_t len;     /* 0: strlen(in) */
	const char *out;
	int small;      /* use small limits */
};

#define T(i, o) { i, sizeof(i) - 1, o, 0 }
#define TS(i, o) { i, sizeof(i) - 1, o, 1 }

static const struct pcase cases[] = {
	T("* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] Dovecot ready.\r\n",
	  "* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] |Dovecot ready.\n"),
	T("A1 OK [READ-WRITE] Select completed (0.001 + 0.000 secs).\r\n",
	  "A1 OK [READ-WRITE] |Select completed (0.001 + 0.000 secs).\n"),
	T("* 23 EXISTS\r\n", "* 23 EXISTS\n"),
	T("* 0 EXISTS\r\n* 4294967295 EXPUNGE\r\n", "* 0 EXISTS\n* 4294967295 EXPUNGE\n"),
	T("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n",
	  "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\n"),
	T("* OK [PERMANENTFLAGS (\\Answered \\Deleted \\Seen \\*)] Flags permitted.\r\n",
	  "* OK [PERMANENTFLAGS (\\Answered \\Deleted \\Seen \\*)] |Flags permitted.\n"),
	T("* OK [UIDVALIDITY 1700000000] UIDs valid\r\n* OK [UIDNEXT 4294967295] x\r\n",
	  "* OK [UIDVALIDITY 1700000000] |UIDs valid\n* OK [UIDNEXT 4294967295] |x\n"),
	T("* LIST (\\HasNoChildren \\Trash) \".\" Trash\r\n",
	  "* LIST (\\HasNoChildren \\Trash) \".\" Trash\n"),
	T("* LIST () \"/\" {7}\r\nfoo bar\r\n", "* LIST () \"/\" \"foo bar\"\n"),
	T("* LIST () NIL {0}\r\n\r\n", "* LIST () NIL \"\"\n"),
	T("* 1 FETCH (UID 4 RFC822.SIZE 1234 FLAGS (\\Seen $Forwarded))\r\n",
	  "* 1 FETCH (UID 4 RFC822.SIZE 1234 FLAGS (\\Seen $Forwarded))\n"),
	T("* 2 FETCH (UID 7 BODY[] {12}\r\nHello\r\nWorld FLAGS (\\Seen))\r\n",
	  "S(2,7,BODY[],12)Hello\r\nWorld|E\n* 2 FETCH (UID 7 BODY[] {S:12} FLAGS (\\Seen))\n"),
	T("* 3 FETCH (UID 9 BODY[HEADER.FIELDS (MESSAGE-ID DATE)] {6}\r\nab\r\n\r\n)\r\n",
	  "S(3,9,BODY[HEADER.FIELDS (MESSAGE-ID DATE)],6)ab\r\n\r\n|E\n"
	  "* 3 FETCH (UID 9 BODY[HEADER.FIELDS (MESSAGE-ID DATE)] {S:6})\n"),
	T("* 4 FETCH (BODY[] {0}\r\n UID 3)\r\n",
	  "S(4,0,BODY[],0)|E\n* 4 FETCH (BODY[] {S:0} UID 3)\n"),
	T("* 5 FETCH (BODY[TEXT]<0> {3}\r\n* B UID 8)\r\n",
	  "S(5,0,BODY[TEXT]<0>,3)* B|E\n* 5 FETCH (BODY[TEXT]<0> {S:3} UID 8)\n"),
	T("* 6 FETCH (RFC822.SIZE 5 RFC822 {5}\r\nabcde)\r\n",
	  "S(6,0,RFC822,5)abcde|E\n* 6 FETCH (RFC822.SIZE 5 RFC822 {S:5})\n"),
	T("* 1 FETCH (UID 2 BODY[] \"\")\r\n", "* 1 FETCH (UID 2 BODY[] \"\")\n"),
	T("* 1 FETCH (UID 2 BODY[] NIL)\r\n", "* 1 FETCH (UID 2 BODY[] NIL)\n"),
	/* A literal that is not a body section is kept, even inside FETCH. */
	T("* 5 FETCH (UID 1 X-GM-LABELS ({3}\r\nfoo \\Inbox))\r\n",
	  "* 5 FETCH (UID 1 X-GM-LABELS (\"foo\" \\Inbox))\n"),
	T("* 5 FETCH (ENVELOPE ({5}\r\ndate! NIL))\r\n",
	  "* 5 FETCH (ENVELOPE (\"date!\" NIL))\n"),
	T("* ID (\"name\" \"Dove\\\"cot\" \"x\\\\y\" NIL)\r\n",
	  "* ID (\"name\" \"Dove\"cot\" \"x\\y\" NIL)\n"),
	/* NAMESPACE (RFC 2342): Cyrus/Courier as Debian ships them, NIL, a
	 * literal prefix and extension data */
	T("* NAMESPACE ((\"INBOX.\" \".\")) NIL NIL\r\n",
	  "* NAMESPACE ((\"INBOX.\" \".\")) NIL NIL\n"),
	T("* NAMESPACE ((\"\" \"/\")) ((\"#users/\" \"/\")) NIL\r\n",
	  "* NAMESPACE ((\"\" \"/\")) ((\"#users/\" \"/\")) NIL\n"),
	T("* NAMESPACE (({6}\r\nINBOX. NIL \"X\" (\"a\" \"b\"))) NIL NIL\r\n",
	  "* NAMESPACE ((\"INBOX.\" NIL \"X\" (\"a\" \"b\"))) NIL NIL\n"),
	T("* ESEARCH (TAG \"A5\") UID ALL 1:3,5\r\n", "* ESEARCH (TAG \"A5\") UID ALL 1:3,5\n"),
	T("* SEARCH\r\n* SEARCH 2 84 882\r\n", "* SEARCH\n* SEARCH 2 84 882\n"),
	T("* VANISHED (EARLIER) 41,43:116\r\n", "* VANISHED (EARLIER) 41,43:116\n"),
	T("+ idling\r\n+\r\n+ \r\n", "+ |idling\n+ |\n+ |\n"),
	T("+ dGVzdA==\r\n", "+ |dGVzdA==\n"),
	T("* BYE Logging out\r\n", "* BYE |Logging out\n"),
	T("* PREAUTH [CAPABILITY IMAP4rev1] Logged in\r\n",
	  "* PREAUTH [CAPABILITY IMAP4rev1] |Logged in\n"),
	T("A2 NO [AUTHENTICATIONFAILED] Authentication failed {5}\r\n",
	  "A2 NO [AUTHENTICATIONFAILED] |Authentication failed {5}\n"),
	T("A2 NO [UNAVAILABLE] Temporary failure\r\n",
	  "A2 NO [UNAVAILABLE] |Temporary failure\n"),
	T("* NO [ALERT] Quota almost full\r\n", "* NO [ALERT] |Quota almost full\n"),
	T("a3 ok done\r\n", "a3 OK |done\n"),
	T("A4 OK\r\n* OK\r\n", "A4 OK |\n* OK |\n"),
	T("* 1 EXISTS\n* 2 RECENT\n", "* 1 EXISTS\n* 2 RECENT\n"),
	T("A3 NO caf\xc3\xa9\ttab\r\n", "A3 NO |caf???tab\n"),
	T("* OK [XYZZY some (thing] odd\r\n", "* OK [XYZZY] |odd\n"),
	T("* OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n",
	  "* OK [COPYUID 38505 304,319:320 3956:3958] |Done\n"),
	T("* OK [HIGHESTMODSEQ 715194045007] Highest\r\n",
	  "* OK [HIGHESTMODSEQ 715194045007] |Highest\n"),
	T("* OK [READ-ONLY]\r\n", "* OK [READ-ONLY] |\n"),
	T("* OK [ALERT]System going down\r\n", "* OK [ALERT] |System going down\n"),
	T("* OK [unterminated code\r\n", "* OK |[unterminated code\n"),
	T("* X ((a) (b (c)) ())\r\n", "* X ((a) (b (c)) ())\n"),
	T("* 3 FETCH (FLAGS (\\Seen) MODSEQ (12345))\r\n",
	  "* 3 FETCH (FLAGS (\\Seen) MODSEQ (12345))\n"),
	T("* 1 FETCH (UID 5 EMAILID (M6d99ac3275bb4e) X-GM-MSGID 1278455344230334865)\r\n",
	  "* 1 FETCH (UID 5 EMAILID (M6d99ac3275bb4e) X-GM-MSGID 1278455344230334865)\n"),
	T("* CAPABILITY IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE AUTH=PLAIN\r\n",
	  "* CAPABILITY IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE AUTH=PLAIN\n"),
	T("* 2 FETCH (BODY[] {3}\r\nabc)\r\nA7 OK Fetch done\r\n",
	  "S(2,0,BODY[],3)abc|E\n* 2 FETCH (BODY[] {S:3})\nA7 OK |Fetch done\n"),
	/* BYE inside a literal is data, not a BYE. */
	T("* 1 FETCH (BODY[] {14}\r\n0123* BYE bye\r\n",
	  "S(1,0,BODY[],14)0123* BYE bye\r|E\nERR\n"),

	/* Hostile or broken. */
	T("* 1 FETCH (BODY[] {9223372036854775808}\r\n", "ERR\n"),
	T("* 1 FETCH (BODY[] {9223372036854775807}\r\n", "ERR\n"),
	T("* 1 FETCH (BODY[] {4294967296}\r\n", "ERR\n"),
	T("* LIST () \"/\" {9223372036854775807}\r\n", "ERR\n"),
	T("* LIST () \"/\" {99999999999999999999999999}\r\n", "ERR\n"),
	T("* LIST () \"/\" {65537}\r\n", "ERR\n"),
	T("* LIST () \"/\" {12a}\r\n", "ERR\n"),
	T("* LIST () \"/\" {}\r\n", "ERR\n"),
	T("* LIST () \"/\" {3} x\r\n", "ERR\n"),
	T("* LIST () \"/\" \"a\0b\"\r\n", "ERR\n"),
	T("* LIST () \"/\" {3}\r\na\0b\r\n", "ERR\n"),
	T("* OK fine\r\n* X a\0b\r\n", "* OK |fine\nERR\n"),
	T("* X a\x01" "b\r\n", "ERR\n"),
	T("* 4294967296 EXISTS\r\n", "ERR\n"),
	T("* 12a EXISTS\r\n", "ERR\n"),
	T("* 99999999999999999999999 FETCH (UID 1)\r\n", "ERR\n"),
	T("* 5\r\n", "ERR\n"),
	T("* X a)\r\n", "ERR\n"),
	T("* X (a b\r\n", "ERR\n"),
	T("* X \"abc\r\n", "ERR\n"),
	T("* X \"abc\\\r\n", "ERR\n"),
	T("A1 FOO bar\r\n", "ERR\n"),
	T("A1\r\n", "ERR\n"),
	T("A1 PREAUTH x\r\n", "ERR\n"),
	T("A(1 OK x\r\n", "ERR\n"),
	T("*\r\n", "ERR\n"),
	T("* \r\n", "ERR\n"),
	T("A123456789012345678 OK too long a tag\r\n", "ERR\n"),
	T("* X BODY[abc\r\n", "ERR\n"),
	/* Small limits: line 64, literal 16, depth 4, args 16, response 100. */
	TS("* X aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n",
	   "ERR\n"),
	TS("* X aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "ERR\n"),
	TS("* X {17}\r\n", "ERR\n"),
	TS("* X {16}\r\n0123456789abcdef\r\n", "* X \"0123456789abcdef\"\n"),
	TS("* X ((((a))))\r\n", "* X ((((a))))\n"),
	TS("* X (((((a)))))\r\n", "ERR\n"),
	TS("* X 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\r\n",
	   "* X 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"),
	TS("* X 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\r\n", "ERR\n"),
	TS("* X {16}\r\n0123456789abcdef {16}\r\n0123456789abcdef {16}\r\n0123456789abcdef"
	   " {16}\r\n0123456789abcdef {16}\r\n0123456789abcdef {16}\r\n0123456789abcdef\r\n",
	   "ERR\n"),
	/* a NAMESPACE nested past the depth limit, or longer than a line */
	TS("* NAMESPACE (((((\"INBOX.\" \".\"))))) NIL NIL\r\n", "ERR\n"),
	TS("* NAMESPACE ((\"0123456789012345678901234567890123456789012345678901\" \".\"))\r\n",
	   "ERR\n"),
	TS("* 1 FETCH (BODY[] {1025}\r\n", "ERR\n"),
	TS("* 1 FETCH (BODY[] {1024}\r\n", "S(1,0,BODY[],1024)"),
	TS("A1 NO 0123456789012345678901234567890123456789\r\n",
	   "A1 NO |01234567890123456789\n"),
};

static void small_limits(struct imap_parser_limits *lim)
{
	imap_parser_default_limits(lim);
	lim->line_max = 64;
	lim->literal_max = 16;
	lim->depth_max = 4;
	lim->args_max = 16;
	lim->response_max = 100;
	lim->text_max = 20;
	lim->stream_max = 1024;
}

START_TEST(test_table)
{
	const struct pcase *c = &cases[_i];
	struct imap_parser_limits lim;
	size_t len = c->len ? c->len : strlen(c->in);
	if (c->small)
		small_limits(&lim);
	else
		imap_parser_default_limits(&lim);

	char *whole = run(&lim, c->in, len, NULL, 0);
	ck_assert_msg(strcmp(whole, c->out) == 0, "case %d:\n got: [%s]\nwant: [%s]", _i,
	    whole, c->out);
	for (size_t k = 0; k <= len; k++) {
		char *split = run(&lim, c->in, len, &k, 1);
		ck_assert_msg(strcmp(split, c->out) == 0, "case %d split at %zu:\n got: [%s]\nwant: [%s]",
		    _i, k, split, c->out);
		free(split);
	}
	size_t *cuts = malloc(len * sizeof(*cuts));
	for (size_t k = 0; k < len; k++)
		cuts[k] = k;
	char *bytes = run(&lim, c->in, len, cuts, len);
	ck_assert_msg(strcmp(bytes, c->out) == 0, "case %d byte by byte:\n got: [%s]", _i, bytes);
	free(cuts);
	free(bytes);
	free(whole);
}
END_TEST

/* Every line and kept literal within limits, but many of them: a big SEARCH. */
START_TEST(test_big_search)
{
	size_t n = 200000;
	struct pbt_buf o = { 0 };
	char num[16];
	pbt_buf_adds(&o, "* SEARCH");
	for (size_t i = 1; i <= n; i++) {
		snprintf(num, sizeof(num), " %zu", i * 3);
		pbt_buf_adds(&o, num);
	}
	pbt_buf_adds(&o, "\r\n");
	struct imap_parser *p = imap_parser_new(NULL);
	struct imap_parse_event ev;
	size_t used;
	ck_assert_int_eq(imap_parser_feed(p, o.p, o.len, &used, &ev), IMAP_PARSE_RESPONSE);
	ck_assert_uint_eq(used, o.len);
	ck_assert_uint_eq(ev.resp->nargs, n);
	uint32_t v;
	ck_assert_int_eq(imap_arg_number32(&ev.resp->args[n - 1], &v), 0);
	ck_assert_uint_eq(v, n * 3);
	imap_parser_free(p);
	free(o.p);
}
END_TEST

/* More arguments than IMAP_ARGS_MAX in one line: an error, not a huge tree. */
START_TEST(test_too_many_args)
{
	size_t n = IMAP_ARGS_MAX + 10;
	char *buf = malloc(2 * n + 8);
	size_t len = 3;
	memcpy(buf, "* X", 3);
	for (size_t i = 0; i < n; i++) {
		buf[len++] = ' ';
		buf[len++] = 'a';
	}
	buf[len++] = '\r';
	buf[len++] = '\n';
	struct imap_parser *p = imap_parser_new(NULL);
	struct imap_parse_event ev;
	size_t used;
	ck_assert_int_eq(imap_parser_feed(p, buf, len, &used, &ev), IMAP_PARSE_ERROR);
	ck_assert_ptr_nonnull(strstr(ev.error, "too many arguments"));
	imap_parser_free(p);
	free(buf);
}
END_TEST

/* A line that never ends, with the default limits: an error once the line
 * passes IMAP_LINE_MAX, after which nothing more is accepted. */
START_TEST(test_endless_line)
{
	static char junk[65536];
	struct imap_parser *p = imap_parser_new(NULL);
	struct imap_parse_event ev;
	size_t used, total = 0;
	enum imap_parse_status st = IMAP_PARSE_NEED_MORE;
	memset(junk, 'a', sizeof(junk));
	memcpy(junk, "* X ", 4);
	while (st == IMAP_PARSE_NEED_MORE && total < 2 * IMAP_LINE_MAX) {
		st = imap_parser_feed(p, junk, sizeof(junk), &used, &ev);
		total += used;
	}
	ck_assert_int_eq(st, IMAP_PARSE_ERROR);
	ck_assert_uint_le(total, IMAP_LINE_MAX);
	ck_assert_uint_gt(total, IMAP_LINE_MAX - sizeof(junk));
	ck_assert_ptr_nonnull(strstr(ev.error, "line"));
	imap_parser_reset(p);
	ck_assert_int_eq(imap_parser_feed(p, "* OK\r\n", 6, &used, &ev), IMAP_PARSE_RESPONSE);
	imap_parser_free(p);
}
END_TEST

/* 10,000 nested lists: rejected at the depth limit, quickly. */
START_TEST(test_deep_nesting)
{
	size_t n = 10000;
	char *buf = malloc(2 * n + 16);
	size_t len = 0;
	memcpy(buf, "* X ", 4);
	len = 4;
	memset(buf + len, '(', n);
	len += n;
	memset(buf + len, ')', n);
	len += n;
	memcpy(buf + len, "\r\n", 2);
	len += 2;
	struct imap_parser *p = imap_parser_new(NULL);
	struct imap_parse_event ev;
	size_t used;
	ck_assert_int_eq(imap_parser_feed(p, buf, len, &used, &ev), IMAP_PARSE_ERROR);
	ck_assert_ptr_nonnull(strstr(ev.error, "nested"));
	imap_parser_free(p);
	free(buf);
}
END_TEST

/* A streamed body of 2^32-1 octets is accepted (it costs nothing); the
 * parser passes the caller's bytes through without copying. */
START_TEST(test_stream_zero_copy)
{
	const char *head = "* 9 FETCH (UID 10 BODY[] {4294967295}\r\n";
	char chunk[4096];
	struct imap_parser *p = imap_parser_new(NULL);
	struct imap_parse_event ev;
	size_t used;
	ck_assert_int_eq(imap_parser_feed(p, head, strlen(head), &used, &ev),
	    IMAP_PARSE_STREAM_BEGIN);
	ck_assert_uint_eq(ev.size, 4294967295u);
	ck_assert_uint_eq(ev.uid, 10);
	ck_assert(imap_parser_streaming(p));
	memset(chunk, 'x', sizeof(chunk));
	ck_assert_int_eq(imap_parser_feed(p, chunk, sizeof(chunk), &used, &ev),
	    IMAP_PARSE_STREAM_DATA);
	ck_assert_ptr_eq(ev.data, chunk);
	ck_assert_uint_eq(ev.len, sizeof(chunk));
	ck_assert_uint_eq(used, sizeof(chunk));
	imap_parser_free(p);
}
END_TEST

START_TEST(test_arg_helpers)
{
	uint64_t v;
	ck_assert_int_eq(imap_parse_number("4294967295", 10, UINT32_MAX, &v), 0);
	ck_assert_uint_eq(v, 4294967295u);
	ck_assert_int_eq(imap_parse_number("4294967296", 10, UINT32_MAX, &v), -1);
	ck_assert_int_eq(imap_parse_number("", 0, UINT32_MAX, &v), -1);
	ck_assert_int_eq(imap_parse_number("+1", 2, UINT32_MAX, &v), -1);
	ck_assert_int_eq(imap_parse_number("-1", 2, UINT32_MAX, &v), -1);
	ck_assert_int_eq(imap_parse_number("9223372036854775807", 19, INT64_MAX, &v), 0);
	ck_assert_int_eq(imap_parse_number("9223372036854775808", 19, INT64_MAX, &v), -1);
	ck_assert_int_eq(imap_parse_number("18446744073709551616", 20, UINT64_MAX, &v), -1);
	ck_assert_int_eq(imap_code_lookup("read-only", 9), IMAP_CODE_READ_ONLY);
	ck_assert_int_eq(imap_code_lookup("THROTTLED", 9), IMAP_CODE_THROTTLED);
	ck_assert_int_eq(imap_code_lookup("XYZ", 3), IMAP_CODE_OTHER);
	ck_assert_str_eq(imap_code_name(IMAP_CODE_AUTHENTICATIONFAILED), "AUTHENTICATIONFAILED");
	char buf[8];
	imap_sanitize(buf, sizeof(buf), "a\r\nb\x80\x7f" "cdefgh", 12);
	ck_assert_str_eq(buf, "a??b??c");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("imap-parser");
	TCase *tc = tcase_create("parser");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_table, 0, (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(tc, test_big_search);
	tcase_add_test(tc, test_endless_line);
	tcase_add_test(tc, test_too_many_args);
	tcase_add_test(tc, test_deep_nesting);
	tcase_add_test(tc, test_stream_zero_copy);
	tcase_add_test(tc, test_arg_helpers);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
