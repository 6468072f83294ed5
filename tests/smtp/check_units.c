/* tests/smtp/check_units.c — the SMTP engine's parts on their own: the DATA
 * unstuffer (every case fed whole, split in two at every offset, and one
 * octet at a time: the same message and the same end), MAIL/RCPT path
 * parsing, and the client side's reply and EHLO parsers (smtp/client.h),
 * each reply also split at every line.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/client.h"
#include "smtp/session_int.h"
#include "smtp/unstuff.h"
#include "tests/lib/testutil.h"

/* ---- the unstuffer --------------------------------------------------------------- */

struct sink {
	struct pbt_buf b;
	size_t calls;
};

static int sink_fn(void *arg, const char *buf, size_t len)
{
	struct sink *k = arg;
	ck_assert_uint_gt(len, 0);
	k->calls++;
	pbt_buf_add(&k->b, buf, len);
	return 0;
}

struct us_case {
	const char *in;       /* client data, terminator included, then more */
	const char *out;      /* the message */
	size_t consumed;      /* octets up to and including the terminator;
	                         0: strlen(in) (no terminator: not done) */
	bool done;
};

static const struct us_case us_cases[] = {
	{ ".\r\n", "", 3, true },
	{ "a\r\n.\r\nQUIT\r\n", "a\r\n", 6, true },
	{ "..\r\n.\r\n", ".\r\n", 7, true },
	{ ".a\r\n..b\r\n.\r\n", "a\r\n.b\r\n", 12, true },
	{ "x\n.\ny\r\n.\r\n", "x\r\n\r\ny\r\n", 10, true },           /* <LF>.<LF> is no end */
	{ "x\r.\ry\r\n.\r\n", "x\r.\ry\r\n", 10, true },               /* <CR>.<CR> neither */
	{ "x\n.\r\ny\r\n.\r\n", "x\r\n\r\ny\r\n", 11, true },          /* <LF>.<CR><LF>: no */
	{ "a\r\r\n.\r\n", "a\r\r\n", 7, true },
	{ ".\r\r\n.\r\n", "\r\r\n", 7, true },
	{ "no end\r\n", "no end\r\n", 0, false },
	{ "half\r\n.", "half\r\n", 0, false },
	{ "half\r\n.\r", "half\r\n", 0, false },
	{ "", "", 0, false },
	{ "tail without crlf", "tail without crlf", 0, false },
};

/* Feed c->in in pieces ending at the given cuts (ascending, then len). */
static void us_run(const struct us_case *c, const size_t *cuts, size_t ncuts, uint64_t limit,
    struct sink *k, struct smtp_unstuff *us, size_t *consumed)
{
	size_t len = strlen(c->in), pos = 0;

	memset(k, 0, sizeof(*k));
	pbt_buf_adds(&k->b, "");
	smtp_us_init(us, limit, sink_fn, k);
	*consumed = 0;
	for (size_t i = 0; i <= ncuts && !us->done; i++) {
		size_t end = i < ncuts ? cuts[i] : len;
		if (end < pos)
			continue;
		size_t n = smtp_us_feed(us, c->in + pos, end - pos);
		*consumed += n;
		if (!us->done)
			ck_assert_uint_eq(n, end - pos);
		pos = end;
	}
	smtp_us_flush(us);
}

static void us_check(const struct us_case *c, const struct sink *k,
    const struct smtp_unstuff *us, size_t consumed, const char *how)
{
	size_t want = c->consumed ? c->consumed : strlen(c->in);
	ck_assert_msg(us->done == c->done, "%s: done for '%s'", how, c->in);
	ck_assert_msg(consumed == want, "%s: consumed %zu of '%s', want %zu", how, consumed,
	    c->in, want);
	ck_assert_msg(k->b.len == strlen(c->out) && memcmp(k->b.p, c->out, k->b.len) == 0,
	    "%s: message of '%s'", how, c->in);
	ck_assert_uint_eq(us->octets, strlen(c->out));
}

START_TEST(unstuff_split_everywhere)
{
	const struct us_case *c = &us_cases[_i];
	size_t len = strlen(c->in), consumed;
	struct smtp_unstuff us;
	struct sink k;

	us_run(c, NULL, 0, 1000, &k, &us, &consumed);
	us_check(c, &k, &us, consumed, "whole");
	free(k.b.p);
	for (size_t cut = 0; cut <= len; cut++) {
		us_run(c, &cut, 1, 1000, &k, &us, &consumed);
		us_check(c, &k, &us, consumed, "split");
		free(k.b.p);
	}
	size_t *cuts = calloc(len + 1, sizeof(size_t));
	for (size_t i = 0; i < len; i++)
		cuts[i] = i + 1;
	us_run(c, cuts, len, 1000, &k, &us, &consumed);
	us_check(c, &k, &us, consumed, "bytewise");
	free(k.b.p);
	free(cuts);
}
END_TEST

/* Past the limit: over, nothing more out, and the end still found. */
START_TEST(unstuff_limit)
{
	static const char in[] = "0123456789\r\n0123456789\r\n.\r\nNEXT";
	struct smtp_unstuff us;
	struct sink k = { 0 };

	pbt_buf_adds(&k.b, "");
	smtp_us_init(&us, 15, sink_fn, &k);
	size_t n = smtp_us_feed(&us, in, sizeof(in) - 1);
	smtp_us_flush(&us);
	ck_assert(us.done);
	ck_assert(us.over);
	ck_assert_uint_eq(n, sizeof(in) - 1 - 4);
	ck_assert_uint_eq(k.b.len, 0);
	ck_assert_uint_eq(us.octets, 24);
	free(k.b.p);
}
END_TEST

/* Large data goes out in chunks of at most SMTP_DATA_CHUNK. */
START_TEST(unstuff_chunks)
{
	size_t len = 5 * SMTP_DATA_CHUNK + 100;
	char *in = malloc(len + 5);
	for (size_t i = 0; i < len; i++)
		in[i] = (i % 80 == 79) ? '\n' : 'x';
	memcpy(in + len, "\r\n.\r\n", 5);
	struct smtp_unstuff us;
	struct sink k = { 0 };
	pbt_buf_adds(&k.b, "");
	smtp_us_init(&us, (uint64_t)1 << 40, sink_fn, &k);
	ck_assert_uint_eq(smtp_us_feed(&us, in, len + 5), len + 5);
	smtp_us_flush(&us);
	ck_assert(us.done);
	/* every bare LF became CRLF */
	ck_assert_uint_eq(k.b.len, len + len / 80 + 2);
	ck_assert_uint_ge(k.calls, 5);
	free(k.b.p);
	free(in);
}
END_TEST

/* ---- paths ------------------------------------------------------------------ */

struct path_case {
	const char *args, *kw;
	int rc;
	const char *path, *params;
	unsigned code;
};

static const struct path_case path_cases[] = {
	{ "FROM:<a@b>", "FROM", 0, "a@b", "", 0 },
	{ "from:<a@b> SIZE=10", "FROM", 0, "a@b", "SIZE=10", 0 },
	{ "FROM: <a@b>  BODY=7BIT", "FROM", 0, "a@b", "BODY=7BIT", 0 },
	{ "FROM:<>", "FROM", 0, "", "", 0 },
	{ "FROM:a@b", "FROM", 0, "a@b", "", 0 },
	{ "TO:<\"x y\"@b>", "TO", 0, "\"x y\"@b", "", 0 },
	{ "TO:<@r1,@r2:c@d>", "TO", 0, "c@d", "", 0 },
	{ "TO:<Postmaster>", "TO", 0, "Postmaster", "", 0 },
	{ "TO:<a b@c>", "TO", -1, NULL, NULL, 501 },
	{ "TO:<a@b", "TO", -1, NULL, NULL, 501 },
	{ "TO:<a@b>x", "TO", -1, NULL, NULL, 501 },
	{ "TO:<a<b>", "TO", -1, NULL, NULL, 501 },
	{ "TO <a@b>", "TO", -1, NULL, NULL, 501 },
	{ "FROM:<a@b>", "TO", -1, NULL, NULL, 501 },
	{ "TO:", "TO", -1, NULL, NULL, 501 },
	{ "TO:<@r1>", "TO", -1, NULL, NULL, 501 },
	{ "TO:<a\x01@b>", "TO", -1, NULL, NULL, 501 },
};

START_TEST(parse_path)
{
	const struct path_case *c = &path_cases[_i];
	char args[600], path[SMTP_PATH_MAX + 1], *params = NULL;
	unsigned code = 0;
	const char *text = NULL;

	snprintf(args, sizeof(args), "%s", c->args);
	int rc = smtp_parse_path(args, c->kw, path, &params, &code, &text);
	ck_assert_msg(rc == c->rc, "'%s': rc %d", c->args, rc);
	if (rc == 0) {
		ck_assert_str_eq(path, c->path);
		ck_assert_str_eq(params, c->params);
	} else {
		ck_assert_uint_eq(code, c->code);
		ck_assert_ptr_nonnull(text);
	}
}
END_TEST

START_TEST(parse_path_too_long)
{
	char args[600], path[SMTP_PATH_MAX + 1], *params;
	unsigned code;
	const char *text;

	strcpy(args, "TO:<");
	memset(args + 4, 'a', 255);
	strcpy(args + 4 + 255, ">");
	ck_assert_int_eq(smtp_parse_path(args, "TO", path, &params, &code, &text), -1);
	ck_assert_uint_eq(code, 553);
	strcpy(args, "TO:<");
	memset(args + 4, 'a', 254);
	strcpy(args + 4 + 254, ">");
	ck_assert_int_eq(smtp_parse_path(args, "TO", path, &params, &code, &text), 0);
	ck_assert_uint_eq(strlen(path), 254);
}
END_TEST

/* ---- the client side ---------------------------------------------------------- */

static int feed_reply(struct smtp_reply_acc *a, const char *text)
{
	int rc = 0;
	smtp_reply_acc_init(a);
	for (const char *p = text; *p != '\0';) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		size_t l = n > 0 && p[n - 1] == '\r' ? n - 1 : n;
		rc = smtp_reply_line(a, p, l);
		if (rc != 0)
			return rc;
		p += nl ? n + 1 : n;
	}
	return rc;
}

START_TEST(reply_lines)
{
	struct smtp_reply_acc a;

	ck_assert_int_eq(feed_reply(&a, "250 2.0.0 Ok: queued as X\r\n"), 1);
	ck_assert_uint_eq(a.r.code, 250);
	ck_assert_str_eq(a.r.text, "2.0.0 Ok: queued as X");
	ck_assert_int_eq(feed_reply(&a, "550-5.1.1 first\r\n550-5.1.1 second\r\n550 5.1.1 third\r\n"), 1);
	ck_assert_str_eq(a.r.text, "5.1.1 first\n5.1.1 second\n5.1.1 third");
	ck_assert_int_eq(feed_reply(&a, "354\r\n"), 1);
	ck_assert_uint_eq(a.r.code, 354);
	ck_assert_str_eq(a.r.text, "");
	ck_assert_int_eq(feed_reply(&a, "250 bin\x01\xff\r\n"), 1);
	ck_assert_str_eq(a.r.text, "bin??");
	ck_assert_int_eq(feed_reply(&a, "250-a\r\n251 b\r\n"), -1);
	ck_assert_int_eq(feed_reply(&a, "199 x\r\n"), -1);
	ck_assert_int_eq(feed_reply(&a, "600 x\r\n"), -1);
	ck_assert_int_eq(feed_reply(&a, "25 x\r\n"), -1);
	ck_assert_int_eq(feed_reply(&a, "250x\r\n"), -1);
	ck_assert_int_eq(feed_reply(&a, "hello\r\n"), -1);
	ck_assert_int_eq(feed_reply(&a, "250-more\r\n"), 0);

	/* Bounded: lines past SMTP_REPLY_LINES_MAX are dropped, the reply
	 * goes on; past SMTP_REPLY_LINES_HARD_MAX it is an error. */
	smtp_reply_acc_init(&a);
	for (int i = 0; i < SMTP_REPLY_LINES_HARD_MAX; i++)
		ck_assert_int_eq(smtp_reply_line(&a, "250-xxxxxxxxxxxxxxxxxxxxxxx", 27), 0);
	ck_assert_int_eq(smtp_reply_line(&a, "250 x", 5), -1);
	ck_assert_uint_lt(strlen(a.r.text), SMTP_REPLY_TEXT_MAX);
	size_t lines = 1;
	for (const char *p = a.r.text; *p; p++)
		lines += *p == '\n';
	ck_assert_uint_eq(lines, SMTP_REPLY_LINES_MAX);

	char longline[2000];
	memset(longline, 'y', sizeof(longline));
	memcpy(longline, "250 ", 4);
	smtp_reply_acc_init(&a);
	ck_assert_int_eq(smtp_reply_line(&a, longline, sizeof(longline)), 1);
	ck_assert_uint_eq(strlen(a.r.text), SMTP_REPLY_LINE_MAX);
}
END_TEST

START_TEST(ehlo_caps)
{
	static const char *lines[] = {
		"smtp.example.com at your service", "SIZE 35882577", "8BITMIME",
		"AUTH LOGIN PLAIN XOAUTH2 PLAIN-CLIENTTOKEN OAUTHBEARER XOAUTH", "ENHANCEDSTATUSCODES",
		"PIPELINING", "CHUNKING", "SMTPUTF8", "STARTTLS",
	};
	struct smtp_caps c;
	memset(&c, 0, sizeof(c));
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		smtp_caps_line(&c, lines[i], strlen(lines[i]));
	ck_assert_uint_eq(c.ext.size, 35882577);
	ck_assert(c.ext.eightbitmime && c.ext.smtputf8 && c.starttls && c.pipelining && c.enhanced);
	ck_assert_uint_eq(c.mechs, SMTP_MECH_PLAIN | SMTP_MECH_LOGIN | SMTP_MECH_XOAUTH2 |
	    SMTP_MECH_OAUTHBEARER);

	memset(&c, 0, sizeof(c));
	smtp_caps_line(&c, "AUTH=LOGIN", 10);
	smtp_caps_line(&c, "SIZE", 4);
	smtp_caps_line(&c, "SIZEX 5", 7);
	smtp_caps_line(&c, "SIZE 99999999999999999999999", 28);
	ck_assert_uint_eq(c.mechs, SMTP_MECH_LOGIN);
	ck_assert_uint_eq(c.ext.size, 9999999999999999999ull);
	ck_assert(!c.ext.eightbitmime);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("smtp-units");
	TCase *tc = tcase_create("units");
	tcase_add_loop_test(tc, unstuff_split_everywhere, 0,
	    (int)(sizeof(us_cases) / sizeof(us_cases[0])));
	tcase_add_test(tc, unstuff_limit);
	tcase_add_test(tc, unstuff_chunks);
	tcase_add_loop_test(tc, parse_path, 0, (int)(sizeof(path_cases) / sizeof(path_cases[0])));
	tcase_add_test(tc, parse_path_too_long);
	tcase_add_test(tc, reply_lines);
	tcase_add_test(tc, ehlo_caps);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
