/* tests/imap/check_format.c — the command formatter's quoting (atom, quoted
 * string, literal, LITERAL+ / LITERAL-), its refusals (CR, LF, NUL, bad
 * atoms and flags, overflow), and the UID set type.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/format.h"
#include "imap/uidset.h"

struct qcase {
	const char *in;
	size_t len;
	bool plus, minus;
	const char *astring;  /* expected command "T1 X <arg>\r\n", NULL: refused */
	const char *string;   /* same with imap_cmd_string */
	size_t nsync;
};

#define Q(i, p, m, a, s, n) { i, sizeof(i) - 1, p, m, a, s, n }

static const struct qcase qcases[] = {
	Q("INBOX", false, false, "T1 X INBOX\r\n", "T1 X \"INBOX\"\r\n", 0),
	Q("a+b.c-d_e", false, false, "T1 X a+b.c-d_e\r\n", "T1 X \"a+b.c-d_e\"\r\n", 0),
	Q("", false, false, "T1 X \"\"\r\n", "T1 X \"\"\r\n", 0),
	Q("NIL", false, false, "T1 X \"NIL\"\r\n", "T1 X \"NIL\"\r\n", 0),
	Q("nil", false, false, "T1 X \"nil\"\r\n", "T1 X \"nil\"\r\n", 0),
	Q("two words", false, false, "T1 X \"two words\"\r\n", "T1 X \"two words\"\r\n", 0),
	Q("q\"uo\\te", false, false, "T1 X \"q\\\"uo\\\\te\"\r\n", "T1 X \"q\\\"uo\\\\te\"\r\n", 0),
	Q("a]b", false, false, "T1 X \"a]b\"\r\n", "T1 X \"a]b\"\r\n", 0),
	Q("x*%(){", false, false, "T1 X \"x*%(){\"\r\n", "T1 X \"x*%(){\"\r\n", 0),
	Q("tab\there", false, false, "T1 X {8}\r\ntab\there\r\n", "T1 X {8}\r\ntab\there\r\n", 1),
	Q("caf\xc3\xa9", false, false, "T1 X {5}\r\ncaf\xc3\xa9\r\n", "T1 X {5}\r\ncaf\xc3\xa9\r\n", 1),
	Q("caf\xc3\xa9", true, false, "T1 X {5+}\r\ncaf\xc3\xa9\r\n", "T1 X {5+}\r\ncaf\xc3\xa9\r\n", 0),
	Q("caf\xc3\xa9", false, true, "T1 X {5+}\r\ncaf\xc3\xa9\r\n", "T1 X {5+}\r\ncaf\xc3\xa9\r\n", 0),
	Q("a\rb", false, false, NULL, NULL, 0),
	Q("a\nb", false, false, NULL, NULL, 0),
	Q("a\0b", false, false, NULL, NULL, 0),
	Q("pw\r\nA2 LOGOUT", true, true, NULL, NULL, 0),
};

START_TEST(test_quoting)
{
	const struct qcase *q = &qcases[_i];
	for (int which = 0; which < 2; which++) {
		struct imap_cmd *c = malloc(sizeof(*c));
		const char *want = which ? q->string : q->astring;
		imap_cmd_init(c, "T1", q->plus, q->minus);
		imap_cmd_atom(c, "X");
		if (which)
			imap_cmd_string(c, q->in, q->len);
		else
			imap_cmd_astring(c, q->in, q->len);
		int r = imap_cmd_end(c);
		if (!want) {
			ck_assert_int_eq(r, -1);
			ck_assert_ptr_nonnull(c->error);
		} else {
			ck_assert_int_eq(r, 0);
			ck_assert_uint_eq(c->len, strlen(want));
			ck_assert_msg(memcmp(c->buf, want, c->len) == 0, "case %d: got [%s]", _i, c->buf);
			ck_assert_uint_eq(c->nsync, q->nsync);
			if (q->nsync)  /* the sync point is right after the literal's CRLF */
				ck_assert_uint_eq(c->sync[0], strstr(c->buf, "}\r\n") + 3 - c->buf);
		}
		free(c);
	}
}
END_TEST

START_TEST(test_long_string_is_literal)
{
	struct imap_cmd *c = malloc(sizeof(*c));
	char s[IMAP_QUOTED_MAX + 2];
	memset(s, 'a', sizeof(s));
	s[4] = ' ';
	imap_cmd_init(c, "T1", false, false);
	ck_assert_int_eq(imap_cmd_string(c, s, IMAP_QUOTED_MAX), 0);
	ck_assert(c->buf[3] == '"');
	imap_cmd_init(c, "T1", false, true);
	ck_assert_int_eq(imap_cmd_string(c, s, IMAP_QUOTED_MAX + 1), 0);
	ck_assert_msg(strncmp(c->buf, "T1 {1025+}\r\n", 12) == 0, "%s", c->buf);
	/* LITERAL- allows non-synchronising literals only up to 4096 octets. */
	char *big = malloc(5000);
	memset(big, 'b', 5000);
	imap_cmd_init(c, "T1", false, true);
	ck_assert_int_eq(imap_cmd_string(c, big, 5000), 0);
	ck_assert_msg(strncmp(c->buf, "T1 {5000}\r\n", 11) == 0, "%s", c->buf);
	ck_assert_uint_eq(c->nsync, 1);
	/* Too long for one command. */
	char *huge = malloc(IMAP_CMD_MAX);
	memset(huge, 'h', IMAP_CMD_MAX);
	imap_cmd_init(c, "T1", true, false);
	ck_assert_int_eq(imap_cmd_string(c, huge, IMAP_CMD_MAX), -1);
	ck_assert_int_eq(imap_cmd_end(c), -1);
	free(huge);
	free(big);
	free(c);
}
END_TEST

START_TEST(test_atoms_flags_lists)
{
	struct imap_cmd *c = malloc(sizeof(*c));
	size_t pos = 0;
	struct imap_uidset set;
	imap_uidset_init(&set);
	imap_uidset_add_range(&set, 1, 3);
	imap_uidset_add(&set, 7);
	imap_cmd_init(c, "A0001", false, false);
	imap_cmd_raw(c, "UID STORE");
	ck_assert_int_eq(imap_cmd_uidset(c, &set, &pos, 100), 0);
	imap_cmd_raw(c, "+FLAGS.SILENT");
	imap_cmd_list_open(c);
	imap_cmd_flag(c, "\\seen");
	imap_cmd_flag(c, "$POP3Deleted");
	imap_cmd_list_close(c);
	ck_assert_int_eq(imap_cmd_end(c), 0);
	ck_assert_str_eq(c->buf, "A0001 UID STORE 1:3,7 +FLAGS.SILENT (\\Seen $POP3Deleted)\r\n");
	ck_assert_uint_eq(pos, set.n);

	const char *bad_flags[] = { "\\Bogus", "two words", "a(b", "\\Seen\r\n", "", "kw]" };
	for (size_t i = 0; i < sizeof(bad_flags) / sizeof(bad_flags[0]); i++) {
		imap_cmd_init(c, "A1", false, false);
		ck_assert_int_eq(imap_cmd_flag(c, bad_flags[i]), -1);
		ck_assert_int_eq(imap_cmd_end(c), -1);
	}
	const char *bad_atoms[] = { "a b", "a\"b", "\\x", "a*", "", "a\r", "%" };
	for (size_t i = 0; i < sizeof(bad_atoms) / sizeof(bad_atoms[0]); i++) {
		imap_cmd_init(c, "A1", false, false);
		ck_assert_int_eq(imap_cmd_atom(c, bad_atoms[i]), -1);
	}
	imap_cmd_init(c, "A1", false, false);
	ck_assert_int_eq(imap_cmd_raw(c, "BODY.PEEK[]\x01"), -1);
	imap_cmd_init(c, "bad tag", false, false);
	ck_assert_int_eq(imap_cmd_end(c), -1);
	imap_cmd_init(c, "A1", false, false);
	imap_cmd_raw(c, "AUTHENTICATE PLAIN");
	ck_assert_int_eq(imap_cmd_continuation(c, "AGFsaWNlAHB3"), 0);
	ck_assert_int_eq(imap_cmd_end(c), 0);
	ck_assert_str_eq(c->buf, "A1 AUTHENTICATE PLAIN\r\nAGFsaWNlAHB3\r\n");
	ck_assert_uint_eq(c->nsync, 1);
	ck_assert_uint_eq(c->sync[0], 23);
	imap_cmd_init(c, "A1", false, false);
	imap_cmd_number(c, 18446744073709551615ull);
	imap_cmd_end(c);
	ck_assert_str_eq(c->buf, "A1 18446744073709551615\r\n");
	/* Too many synchronising literals. */
	imap_cmd_init(c, "A1", false, false);
	for (int i = 0; i < IMAP_CMD_SYNC_MAX + 1; i++)
		imap_cmd_string(c, "\xff", 1);
	ck_assert_int_eq(imap_cmd_end(c), -1);
	imap_uidset_free(&set);
	free(c);
}
END_TEST

START_TEST(test_uidset)
{
	struct imap_uidset s;
	char buf[256];
	size_t pos = 0;
	imap_uidset_init(&s);
	ck_assert(imap_uidset_empty(&s));
	ck_assert_int_eq(imap_uidset_add(&s, 0), -1);
	/* Random order, overlaps, adjacency. */
	uint32_t adds[][2] = { { 10, 12 }, { 1, 1 }, { 3, 4 }, { 13, 13 }, { 2, 2 },
		{ 20, 25 }, { 8, 9 }, { 22, 30 }, { 4294967295u, 4294967295u }, { 6, 6 } };
	for (size_t i = 0; i < sizeof(adds) / sizeof(adds[0]); i++)
		ck_assert_int_eq(imap_uidset_add_range(&s, adds[i][0], adds[i][1]), 0);
	ck_assert_uint_eq(imap_uidset_format(&s, &pos, buf, sizeof(buf), 200), 27);
	ck_assert_str_eq(buf, "1:4,6,8:13,20:30,4294967295");
	ck_assert_uint_eq(imap_uidset_count(&s), 4 + 1 + 6 + 11 + 1);
	ck_assert(imap_uidset_contains(&s, 6));
	ck_assert(!imap_uidset_contains(&s, 5));
	ck_assert(!imap_uidset_contains(&s, 0));
	ck_assert(imap_uidset_contains(&s, 4294967295u));
	/* Chunked formatting. */
	pos = 0;
	ck_assert_uint_eq(imap_uidset_format(&s, &pos, buf, sizeof(buf), 9), 5);
	ck_assert_str_eq(buf, "1:4,6");
	ck_assert_uint_eq(imap_uidset_format(&s, &pos, buf, sizeof(buf), 9), 4);
	ck_assert_str_eq(buf, "8:13");
	ck_assert_uint_eq(imap_uidset_format(&s, &pos, buf, sizeof(buf), 9), 5);
	ck_assert_str_eq(buf, "20:30");
	/* A range wider than max never fits: nothing is written. */
	ck_assert_uint_eq(imap_uidset_format(&s, &pos, buf, sizeof(buf), 9), 0);
	ck_assert_uint_eq(pos, 4);
	/* Parsing. */
	struct imap_uidset p;
	imap_uidset_init(&p);
	ck_assert_int_eq(imap_uidset_parse(&p, "9:7,1,3:4", 9), 0);
	ck_assert_uint_eq(imap_uidset_count(&p), 6);
	const char *bad[] = { "", "1,", ",1", "1::2", "0", "1:*", "*", "a", "1:4294967296",
		"1 2", "-1" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(imap_uidset_parse(&p, bad[i], strlen(bad[i])), -1);
		ck_assert_uint_eq(imap_uidset_count(&p), 6);  /* unchanged */
	}
	ck_assert_int_eq(imap_uidset_merge(&s, &p), 0);
	ck_assert(imap_uidset_contains(&s, 7));
	imap_uidset_clear(&s);
	ck_assert(imap_uidset_empty(&s));
	/* Ascending additions coalesce into one range. */
	for (uint32_t u = 1; u <= 100000; u++)
		imap_uidset_add(&s, u);
	ck_assert_uint_eq(s.n, 1);
	imap_uidset_free(&s);
	imap_uidset_free(&p);
}
END_TEST

/* The ranges are sorted, disjoint and not adjacent. */
static void assert_normal(const struct imap_uidset *s)
{
	for (size_t i = 0; i < s->n; i++) {
		ck_assert_uint_le(s->r[i].lo, s->r[i].hi);
		if (i > 0)
			ck_assert_uint_gt(s->r[i].lo, (uint64_t)s->r[i - 1].hi + 1);
	}
}

/* Issue 12: a hostile server's long sets in descending (or any) order cost
 * linear or n log n work, not a shift of the whole array per UID. The work
 * is counted (ranges moved), never timed. */
#define BIG 600000
START_TEST(test_uidset_order_costs)
{
	struct imap_uidset s, p, q;

	/* 600k descending additions, none adjacent: 600k ranges */
	imap_uidset_init(&s);
	for (uint32_t k = 0; k < BIG; k++)
		ck_assert_int_eq(imap_uidset_add(&s, 2 * (BIG - k)), 0);
	ck_assert_uint_eq(s.n, BIG);
	ck_assert_uint_eq(s.r[0].lo, 2);
	ck_assert_uint_eq(s.r[BIG - 1].hi, 2 * BIG);
	ck_assert_uint_eq(imap_uidset_count(&s), BIG);
	ck_assert(imap_uidset_contains(&s, 2 * 1234) && !imap_uidset_contains(&s, 2 * 1234 + 1));
	assert_normal(&s);
	ck_assert_uint_le(s.moved, 2 * BIG);   /* a shift per add: BIG * BIG / 2 */

	/* the same as a descending VANISHED / ESEARCH text: parsed in n log n */
	size_t cap = (size_t)BIG * 8 + 1, len = 0;
	char *text = malloc(cap);
	ck_assert_ptr_nonnull(text);
	for (uint32_t k = 0; k < BIG; k++)
		len += (size_t)snprintf(text + len, cap - len, "%s%u", k ? "," : "",
		    2 * (BIG - k) + 1);
	imap_uidset_init(&p);
	ck_assert_int_eq(imap_uidset_parse(&p, text, len), 0);
	ck_assert_uint_eq(p.n, BIG);
	ck_assert_uint_eq(p.r[0].lo, 3);
	assert_normal(&p);
	ck_assert_uint_le(p.moved, 2 * BIG);
	free(text);

	/* merging the interleaved sets (even and odd UIDs): linear; they join
	 * into one range 2..2*BIG+1 */
	ck_assert_int_eq(imap_uidset_merge(&s, &p), 0);
	ck_assert_uint_eq(s.n, 1);
	ck_assert_uint_eq(s.r[0].lo, 2);
	ck_assert_uint_eq(s.r[0].hi, 2 * BIG + 1);
	ck_assert_uint_le(s.moved, 2 * BIG + 2 * BIG);

	/* a SEARCH-like list in scrambled order through add_ranges */
	struct imap_range *v = malloc(BIG * sizeof(*v));
	ck_assert_ptr_nonnull(v);
	for (uint32_t k = 0; k < BIG; k++) {
		uint32_t u = (uint32_t)(((uint64_t)k * 7919u) % BIG); /* a permutation */
		v[k].lo = v[k].hi = 3 * u + 1;
	}
	imap_uidset_init(&q);
	ck_assert_int_eq(imap_uidset_add_ranges(&q, v, BIG), 0);
	ck_assert_uint_eq(q.n, BIG);
	ck_assert_uint_eq(imap_uidset_count(&q), BIG);
	assert_normal(&q);
	ck_assert_uint_le(q.moved, 2 * BIG);
	free(v);
	imap_uidset_free(&s);
	imap_uidset_free(&p);
	imap_uidset_free(&q);
}
END_TEST

/* The work grows linearly: n and 2n descending additions. */
static size_t descending_moves(uint32_t n)
{
	struct imap_uidset s;
	imap_uidset_init(&s);
	for (uint32_t k = 0; k < n; k++)
		ck_assert_int_eq(imap_uidset_add(&s, 3 * (n - k)), 0);
	ck_assert_uint_eq(s.n, n);
	size_t m = s.moved;
	imap_uidset_free(&s);
	return m;
}

START_TEST(test_uidset_linear)
{
	size_t a = descending_moves(20000), b = descending_moves(40000);
	ck_assert_uint_le(b, 2 * a + 64);   /* quadratic would be 4 * a */
	ck_assert_uint_le(a, 2 * 20000);
}
END_TEST

/* Additions in every position against a plain bitmap: the set stays
 * exact whichever path (front, back, middle, merges) an addition takes. */
START_TEST(test_uidset_against_bitmap)
{
	enum { N = 4000 };
	static bool bit[N + 2];
	struct imap_uidset s;
	uint32_t x = 12345;

	memset(bit, 0, sizeof(bit));
	imap_uidset_init(&s);
	for (int k = 0; k < 3000; k++) {
		x = x * 1103515245u + 12345u;
		uint32_t lo = 1 + (x >> 8) % N, hi = lo + (k % 3 == 0 ? (x >> 4) % 5 : 0);
		if (hi > N)
			hi = N;
		if (k % 5 == 0)      /* descending runs */
			lo = hi = N - (uint32_t)k % N;
		ck_assert_int_eq(imap_uidset_add_range(&s, lo, hi), 0);
		for (uint32_t u = lo; u <= hi; u++)
			bit[u] = true;
		if (k % 500 == 0)
			assert_normal(&s);
	}
	assert_normal(&s);
	for (uint32_t u = 1; u <= N; u++)
		ck_assert_int_eq(imap_uidset_contains(&s, u), bit[u]);
	imap_uidset_free(&s);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("imap-format");
	TCase *tc = tcase_create("format");
	tcase_add_loop_test(tc, test_quoting, 0, (int)(sizeof(qcases) / sizeof(qcases[0])));
	tcase_add_test(tc, test_long_string_is_literal);
	tcase_add_test(tc, test_atoms_flags_lists);
	tcase_add_test(tc, test_uidset);
	tcase_add_test(tc, test_uidset_order_costs);
	tcase_add_test(tc, test_uidset_linear);
	tcase_add_test(tc, test_uidset_against_bitmap);
	suite_add_tcase(su, tc);
	SRunner *sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
