/* tests/pop3/check_units.c — the POP3 engine's parts on their own: the line
 * reader and the dot-stuffer (every vector split at every byte offset, and
 * byte by byte), strict base64.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pop3/base64.h"
#include "pop3/dotstuff.h"
#include "pop3/linereader.h"
#include "tests/lib/testutil.h"
#include "tests/pop3/fake_maildrop.c"

/* ---- line reader ----------------------------------------------------------- */

/* Drain the reader into b; false after OVERFLOW. */
static bool lr_drain(struct pop3_linereader *lr, struct pbt_buf *b)
{
	char *line;
	size_t len;

	for (;;) {
		switch (pop3_lr_next(lr, &line, &len)) {
		case POP3_LR_LINE:
			ck_assert_uint_eq(strlen(line), len);
			pbt_buf_adds(b, "L:");
			pbt_buf_add(b, line, len);
			pbt_buf_adds(b, "|");
			break;
		case POP3_LR_NEED_MORE:
			return true;
		case POP3_LR_TOO_LONG:
			pbt_buf_adds(b, "TOO_LONG|");
			break;
		case POP3_LR_BAD:
			pbt_buf_adds(b, "BAD|");
			break;
		case POP3_LR_OVERFLOW:
			pbt_buf_adds(b, "OVERFLOW|");
			return false;
		}
	}
}

/* The reader's limit in lr_run (0: its buffer's size). */
static size_t lr_limit;

/* Feed in[0..len) in reads of the given boundaries (cut points, ascending),
 * each read also bounded by the reader's free space; describe the results. */
static char *lr_run(const char *in, size_t len, const size_t *cuts, size_t ncuts,
    size_t step)
{
	struct pop3_linereader *lr = malloc(sizeof(*lr));
	char *buf = malloc(POP3_SASL_LINE_MAX);
	struct pbt_buf b = { 0 };
	size_t pos = 0, c = 0;
	bool overflow = false;

	ck_assert_ptr_nonnull(lr);
	ck_assert_ptr_nonnull(buf);
	pop3_lr_init(lr, buf, POP3_SASL_LINE_MAX);
	if (lr_limit > 0)
		pop3_lr_set_limit(lr, lr_limit);
	pbt_buf_adds(&b, "");
	while (pos < len) {
		size_t end = len;
		while (c < ncuts && cuts[c] <= pos)
			c++;
		if (c < ncuts)
			end = cuts[c];
		if (step > 0 && end - pos > step)
			end = pos + step;
		size_t avail;
		char *space = pop3_lr_space(lr, &avail);
		ck_assert_uint_gt(avail, 0);
		size_t n = end - pos < avail ? end - pos : avail;
		memcpy(space, in + pos, n);
		pop3_lr_added(lr, n);
		pos += n;
		if (!lr_drain(lr, &b)) {
			overflow = true;
			break;
		}
	}
	if (!overflow)
		pbt_buf_adds(&b, pop3_lr_buffered(lr) ? "REST" : "END");
	free(lr);
	free(buf);
	return b.p;
}

struct lr_vec {
	const char *in;
	size_t len;
	const char *want;
};

static void lr_check(const char *in, size_t len, const char *want)
{
	char *whole = lr_run(in, len, NULL, 0, 0);
	ck_assert_str_eq(whole, want);
	free(whole);
	char *bytes = lr_run(in, len, NULL, 0, 1);
	ck_assert_str_eq(bytes, want);
	free(bytes);
	/* every single split point: for long inputs every 97th, plus the
	 * interesting region around the buffer size */
	for (size_t k = 0; k <= len; k++) {
		if (len > 4096 && k % 97 != 0 && (k < 2040 || k > 2056))
			continue;
		char *got = lr_run(in, len, &k, 1, 0);
		if (strcmp(got, want) != 0)
			ck_abort_msg("split at %zu: got %.200s want %.200s", k, got, want);
		free(got);
	}
}

#define V(s, w) { s, sizeof(s) - 1, w }
static const struct lr_vec lr_vecs[] = {
	V("USER a\r\nPASS b c\r\n", "L:USER a|L:PASS b c|END"),
	V("NOOP\nSTAT\r\n", "L:NOOP|L:STAT|END"),
	V("\r\n\n", "L:|L:|END"),
	V("STAT", "REST"),
	V("STAT\r", "REST"),
	V("NO\0OP\r\nSTAT\r\n", "BAD|L:STAT|END"),
	V("\0\n", "BAD|END"),
	V("A\rB\r\n", "L:A\rB|END"),
	V("X\r\r\n", "L:X\r|END"),
	V("\xff\xfe\x01\r\n", "L:\xff\xfe\x01|END"),
};

START_TEST(lr_vectors)
{
	const struct lr_vec *v = &lr_vecs[_i];
	lr_check(v->in, v->len, v->want);
}
END_TEST

/* A line of n octets before "\r\n" (or "\n"), then "NOOP\r\n". */
static char *long_line(size_t n, const char *eol, size_t *len)
{
	size_t el = strlen(eol);
	char *s = malloc(n + el + 7);
	ck_assert_ptr_nonnull(s);
	memset(s, 'A', n);
	memcpy(s + n, eol, el);
	memcpy(s + n + el, "NOOP\r\n", 7);
	*len = n + el + 6;
	return s;
}

START_TEST(lr_limits)
{
	size_t len;
	char want[POP3_SASL_LINE_MAX + 32];
	char *s;

	/* exactly POP3_SASL_LINE_MAX octets with CRLF: accepted */
	s = long_line(POP3_SASL_LINE_MAX - 2, "\r\n", &len);
	snprintf(want, sizeof(want), "L:%.*s|L:NOOP|END", POP3_SASL_LINE_MAX - 2, s);
	lr_check(s, len, want);
	free(s);
	/* with a bare LF, one more octet fits */
	s = long_line(POP3_SASL_LINE_MAX - 1, "\n", &len);
	snprintf(want, sizeof(want), "L:%.*s|L:NOOP|END", POP3_SASL_LINE_MAX - 1, s);
	lr_check(s, len, want);
	free(s);
	/* one octet more: discarded, reported once, the next line is fine */
	s = long_line(POP3_SASL_LINE_MAX - 1, "\r\n", &len);
	lr_check(s, len, "TOO_LONG|L:NOOP|END");
	free(s);
	s = long_line(5000, "\r\n", &len);
	lr_check(s, len, "TOO_LONG|L:NOOP|END");
	free(s);
	/* the hard cap: at it still TOO_LONG, past it OVERFLOW */
	s = long_line(POP3_LINE_HARD_MAX, "\n", &len);
	lr_check(s, len, "TOO_LONG|L:NOOP|END");
	free(s);
	s = long_line(POP3_LINE_HARD_MAX + 1, "\n", &len);
	lr_check(s, len, "OVERFLOW|");
	free(s);
	s = long_line(POP3_LINE_HARD_MAX + 5000, "", &len);
	lr_check(s, len, "OVERFLOW|");
	free(s);
}
END_TEST

/* A limit below the buffer's size (SMTP after login): a longer line is too
 * long whether it arrives whole or in pieces; one at the limit is a line. */
START_TEST(lr_limit_below_buffer)
{
	lr_limit = 16;
	lr_check("0123456789abcd\r\nNOOP\r\n", 22, "L:0123456789abcd|L:NOOP|END");
	lr_check("0123456789abcde\r\nNOOP\r\n", 23, "TOO_LONG|L:NOOP|END");
	lr_check("0123456789abcdefghijklmnopqrstuvwxyz\nNOOP\n", 42, "TOO_LONG|L:NOOP|END");
	lr_check("0123456789abcde\0\nNOOP\n", 22, "TOO_LONG|L:NOOP|END");
	lr_limit = 0;
}
END_TEST

START_TEST(lr_discard)
{
	struct pop3_linereader lr;
	char buf[POP3_SASL_LINE_MAX];
	char *line;
	size_t len, avail;

	pop3_lr_init(&lr, buf, sizeof(buf));
	char *sp = pop3_lr_space(&lr, &avail);
	memcpy(sp, "STLS\r\nNOOP\r\n", 12);
	pop3_lr_added(&lr, 12);
	ck_assert_int_eq(pop3_lr_next(&lr, &line, &len), POP3_LR_LINE);
	ck_assert_str_eq(line, "STLS");
	ck_assert_uint_eq(pop3_lr_buffered(&lr), 6);
	pop3_lr_discard(&lr);
	ck_assert_uint_eq(pop3_lr_buffered(&lr), 0);
	ck_assert_int_eq(pop3_lr_next(&lr, &line, &len), POP3_LR_NEED_MORE);
}
END_TEST

/* ---- dot-stuffer ------------------------------------------------------------ */

static int sb_out(void *arg, const char *buf, size_t len)
{
	pbt_buf_add(arg, buf, len);
	return 0;
}

/* Run the stuffer over in, cut at the given points; output in *out. */
static uint64_t ds_run(const char *in, size_t len, bool top, uint64_t lines,
    const size_t *cuts, size_t ncuts, size_t step, struct pbt_buf *out)
{
	struct pop3_dotstuff ds;
	size_t pos = 0, c = 0;
	bool done = false;

	out->len = 0;
	pbt_buf_adds(out, "");
	pop3_ds_init(&ds, top, lines, sb_out, out);
	while (pos < len) {
		size_t end = len;
		while (c < ncuts && cuts[c] <= pos)
			c++;
		if (c < ncuts)
			end = cuts[c];
		if (step > 0 && end - pos > step)
			end = pos + step;
		int r = pop3_ds_feed(&ds, in + pos, end - pos);
		ck_assert_int_ge(r, 0);
		if (r == 1) {
			ck_assert(top);
			done = true;
		} else {
			ck_assert(!done); /* once done, always done */
		}
		pos = end;
	}
	ck_assert_int_eq(pop3_ds_finish(&ds), 0);
	return ds.octets;
}

struct ds_vec {
	const char *in;
	size_t len;
	bool top;
	unsigned lines;
	const char *want;
	size_t wantlen;
};

#define R(s, w) { s, sizeof(s) - 1, false, 0, w, sizeof(w) - 1 }
#define T(s, n, w) { s, sizeof(s) - 1, true, n, w, sizeof(w) - 1 }
static const struct ds_vec ds_vecs[] = {
	R("", ".\r\n"),
	R(".", "..\r\n.\r\n"),
	R("..", "...\r\n.\r\n"),
	R(".\r\n", "..\r\n.\r\n"),
	R(".foo\r\nbar\r\n", "..foo\r\nbar\r\n.\r\n"),
	R("a\r\n.\r\nb", "a\r\n..\r\nb\r\n.\r\n"),
	R("a\nb\n", "a\r\nb\r\n.\r\n"),
	R("\n.\n\n", "\r\n..\r\n\r\n.\r\n"),
	R("a\rb\r\n", "a\rb\r\n.\r\n"),
	R("a\r.b\r\n", "a\r.b\r\n.\r\n"),
	R("a\r", "a\r\n.\r\n"),
	R("\r", "\r\n.\r\n"),
	R("a\0b", "a\0b\r\n.\r\n"),
	R(".\0\n", "..\0\r\n.\r\n"),
	R("abc", "abc\r\n.\r\n"),
	R("x\r\n.\r\n..\r\n", "x\r\n..\r\n...\r\n.\r\n"),
	T("H: 1\r\nH: 2\r\n\r\nb1\r\nb2\r\n", 0, "H: 1\r\nH: 2\r\n\r\n.\r\n"),
	T("H: 1\r\nH: 2\r\n\r\nb1\r\nb2\r\n", 1, "H: 1\r\nH: 2\r\n\r\nb1\r\n.\r\n"),
	T("H: 1\r\nH: 2\r\n\r\nb1\r\nb2\r\n", 2, "H: 1\r\nH: 2\r\n\r\nb1\r\nb2\r\n.\r\n"),
	T("H: 1\r\nH: 2\r\n\r\nb1\r\nb2\r\n", 9, "H: 1\r\nH: 2\r\n\r\nb1\r\nb2\r\n.\r\n"),
	T("H: 1\r\nH: 2\r\n\r\nb1\r\nb2", 9, "H: 1\r\nH: 2\r\n\r\nb1\r\nb2\r\n.\r\n"),
	T("H: 1\nH: 2\n\nb1\nb2\n", 1, "H: 1\r\nH: 2\r\n\r\nb1\r\n.\r\n"),
	T("H: 1\r\n", 0, "H: 1\r\n.\r\n"),
	T("H: 1", 0, "H: 1\r\n.\r\n"),
	T("H\r\n\r\n.a\r\nb\r\n", 1, "H\r\n\r\n..a\r\n.\r\n"),
	T("\r\nbody\r\n", 0, "\r\n.\r\n"),
	T("\r\nbody\r\nmore\r\n", 1, "\r\nbody\r\n.\r\n"),
	T("H\r\n\r\n\r\n\r\nx\r\n", 2, "H\r\n\r\n\r\n\r\n.\r\n"),
	T("H\r\nX\r \r\n\r\nb\r\n", 0, "H\r\nX\r \r\n\r\n.\r\n"),
	T("", 0, ".\r\n"),
};

START_TEST(ds_vectors)
{
	const struct ds_vec *v = &ds_vecs[_i];
	struct pbt_buf out = { 0 };

	for (size_t k = 0; k <= v->len + 1; k++) {
		/* k == len + 1: byte by byte */
		uint64_t oct = k <= v->len
		    ? ds_run(v->in, v->len, v->top, v->lines, &k, 1, 0, &out)
		    : ds_run(v->in, v->len, v->top, v->lines, NULL, 0, 1, &out);
		if (out.len != v->wantlen || memcmp(out.p, v->want, out.len) != 0)
			ck_abort_msg("vector %d split %zu: got \"%s\"", _i, k, out.p);
		if (!v->top)
			ck_assert_uint_eq(oct, fake_wire_size(v->in, v->len));
		/* octets: everything but the stuffing dots and the terminator */
		size_t stuffed = 0;
		for (size_t i = 0; i + 3 < out.len; i++)
			if (out.p[i] == '.' && (i == 0 || out.p[i - 1] == '\n'))
				stuffed++;
		ck_assert_uint_eq(oct, out.len - 3 - stuffed);
	}
	free(out.p);
}
END_TEST

START_TEST(ds_one_megabyte_line)
{
	size_t n = 1 << 20;
	char *in = malloc(n + 1);
	struct pbt_buf out = { 0 };

	ck_assert_ptr_nonnull(in);
	memset(in, 'x', n);
	in[0] = '.';
	size_t cuts[] = { 1, 4096, 65536, n / 2, n - 1 };
	uint64_t oct = ds_run(in, n, false, 0, cuts, 5, 0, &out);
	ck_assert_uint_eq(oct, n + 2);
	ck_assert_uint_eq(out.len, n + 1 + 2 + 3);
	ck_assert(memcmp(out.p, "..x", 3) == 0);
	ck_assert(memcmp(out.p + out.len - 6, "x\r\n.\r\n", 6) == 0);
	ck_assert(memchr(out.p, '\n', out.len - 3) == out.p + n + 2);
	/* and as TOP: a 1 MB header line, then nothing */
	oct = ds_run(in, n, true, 0, NULL, 0, 7777, &out);
	ck_assert_uint_eq(oct, n + 2);
	free(out.p);
	free(in);
}
END_TEST

/* RETR runs a line at a time (memchr), TOP octet by octet: on random text of
 * dots, CRs, LFs and letters, cut at random points, RETR writes exactly what
 * TOP with no line limit writes. */
START_TEST(ds_retr_equals_top_unlimited)
{
	struct pbt_buf a = { 0 }, b = { 0 };
	const char alphabet[] = ".\r\nab";
	unsigned seed = 11;

	for (int round = 0; round < 400; round++) {
		char in[256];
		size_t len = (size_t)(rand_r(&seed) % sizeof(in)), cuts[6];
		for (size_t i = 0; i < len; i++)
			in[i] = alphabet[rand_r(&seed) % (sizeof(alphabet) - 1)];
		for (size_t c = 0; c < 6; c++)
			cuts[c] = len ? (size_t)(rand_r(&seed) % len) : 0;
		for (size_t c = 1; c < 6; c++)  /* ascending, for ds_run */
			for (size_t d = c; d > 0 && cuts[d - 1] > cuts[d]; d--) {
				size_t t = cuts[d];
				cuts[d] = cuts[d - 1];
				cuts[d - 1] = t;
			}
		uint64_t oa = ds_run(in, len, false, 0, cuts, 6, 0, &a);
		uint64_t ob = ds_run(in, len, true, UINT64_MAX, cuts, 6, 0, &b);
		ck_assert_uint_eq(oa, ob);
		ck_assert_uint_eq(oa, fake_wire_size(in, len));
		if (a.len != b.len || memcmp(a.p, b.p, a.len) != 0)
			ck_abort_msg("round %d: RETR and TOP differ", round);
	}
	free(a.p);
	free(b.p);
}
END_TEST

static int failing_out(void *arg, const char *buf, size_t len)
{
	(void)buf;
	(void)len;
	return --*(int *)arg < 0 ? -1 : 0;
}

START_TEST(ds_output_failure)
{
	struct pop3_dotstuff ds;
	int budget = 1;

	pop3_ds_init(&ds, false, 0, failing_out, &budget);
	ck_assert_int_eq(pop3_ds_feed(&ds, "abc\n.def\n", 9), -1);
	ck_assert_int_eq(pop3_ds_feed(&ds, "x", 1), -1);
	ck_assert_int_eq(pop3_ds_finish(&ds), -1);
}
END_TEST

/* ---- base64 ----------------------------------------------------------------- */

START_TEST(b64_valid)
{
	char out[32];
	static const struct { const char *in; const char *out; size_t n; } v[] = {
		{ "", "", 0 }, { "Zg==", "f", 1 }, { "Zm8=", "fo", 2 },
		{ "Zm9v", "foo", 3 }, { "Zm9vYg==", "foob", 4 },
		{ "AGEAYg==", "\0a\0b", 4 }, { "+/+/", "\xfb\xff\xbf", 3 },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		long n = pop3_base64_decode(v[i].in, strlen(v[i].in), out, sizeof(out));
		ck_assert_int_eq(n, (long)v[i].n);
		ck_assert(memcmp(out, v[i].out, v[i].n) == 0);
		ck_assert_int_eq(out[n], '\0');
	}
}
END_TEST

START_TEST(b64_invalid)
{
	char out[32];
	static const char *bad[] = {
		"Zg=", "Zg", "Z", "Z===", "====", "Zh==", "Zm9=", "Zm 9v", "Zm9v\r",
		"=Zm9", "Zg==Zg==", "Zm9v!A==", "Zg=a", "Z-8=", "Zm9v====",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (pop3_base64_decode(bad[i], strlen(bad[i]), out, sizeof(out)) != -1)
			ck_abort_msg("accepted \"%s\"", bad[i]);
	/* does not fit */
	ck_assert_int_eq(pop3_base64_decode("Zm9v", 4, out, 2), -1);
	ck_assert_int_eq(pop3_base64_decode("Zm9v", 4, out, 3), 3);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pop3-units");
	TCase *tc = tcase_create("units");

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, lr_vectors, 0, sizeof(lr_vecs) / sizeof(lr_vecs[0]));
	tcase_add_test(tc, lr_limits);
	tcase_add_test(tc, lr_limit_below_buffer);
	tcase_add_test(tc, lr_discard);
	tcase_add_loop_test(tc, ds_vectors, 0, sizeof(ds_vecs) / sizeof(ds_vecs[0]));
	tcase_add_test(tc, ds_one_megabyte_line);
	tcase_add_test(tc, ds_retr_equals_top_unlimited);
	tcase_add_test(tc, ds_output_failure);
	tcase_add_test(tc, b64_valid);
	tcase_add_test(tc, b64_invalid);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
