/* tests/bridge/check_exact_size.c — maildrop_exact_size (bridge/maildrop/sync.h): the
 * size LIST shows before any download, from RFC822.SIZE and the last two
 * octets, equals the octets pop3/'s RETR conversion sends, for every way a
 * message in the CRLF form can end (exhaustively for short messages, and
 * for pseudo-random longer ones). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/maildrop/sync.h"
#include "pop3/dotstuff.h"

static int discard(void *arg, const char *buf, size_t len)
{
	(void)arg;
	(void)buf;
	(void)len;
	return 0;
}

/* What RETR sends (before dot-stuffing) for msg[0..len). */
static uint64_t engine_octets(const char *msg, size_t len)
{
	struct pop3_dotstuff ds;
	pop3_ds_init(&ds, false, 0, discard, NULL);
	ck_assert_int_eq(pop3_ds_feed(&ds, msg, len), 0);
	ck_assert_int_eq(pop3_ds_finish(&ds), 0);
	return ds.octets;
}

static uint64_t from_tail(const char *msg, size_t len)
{
	size_t k = len < BRIDGE_SYNC_TAIL ? len : BRIDGE_SYNC_TAIL;
	return maildrop_exact_size(len, msg + len - k, k);
}

/* The CRLF form: every LF but possibly the last octet follows a CR (the
 * server converts bare LFs; the last one is covered either way). */
static bool crlf_form(const char *msg, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++)
		if (msg[i] == '\n' && (i == 0 || msg[i - 1] != '\r'))
			return false;
	return true;
}

START_TEST(t_every_short_message)
{
	static const char alphabet[] = { 'a', '\r', '\n', '.' };
	char msg[6];
	unsigned checked = 0;

	for (size_t len = 0; len <= sizeof(msg); len++) {
		size_t total = 1;
		for (size_t i = 0; i < len; i++)
			total *= sizeof(alphabet);
		for (size_t code = 0; code < total; code++) {
			size_t c = code;
			for (size_t i = 0; i < len; i++) {
				msg[i] = alphabet[c % sizeof(alphabet)];
				c /= sizeof(alphabet);
			}
			if (!crlf_form(msg, len))
				continue;
			ck_assert_msg(from_tail(msg, len) == engine_octets(msg, len),
			    "length %zu, code %zu: %llu vs %llu", len, code,
			    (unsigned long long)from_tail(msg, len),
			    (unsigned long long)engine_octets(msg, len));
			checked++;
		}
	}
	ck_assert_uint_gt(checked, 1000);
}
END_TEST

START_TEST(t_longer_messages)
{
	static const char *const ends[] = { "", "\r\n", "x", "\r", "\n", "\r\n\r", "\r\r", ".",
	    "\r\n.", "\n\n" };
	char msg[4096];
	unsigned seed = 12345;

	for (unsigned round = 0; round < 2000; round++) {
		size_t len = 0, want = (seed = seed * 1103515245u + 12345u) % 3000;
		while (len < want) {
			seed = seed * 1103515245u + 12345u;
			unsigned r = (seed >> 16) % 10;
			if (r == 0 && len + 2 <= want) {
				msg[len++] = '\r';
				msg[len++] = '\n';
			} else {
				msg[len++] = r == 1 ? '.' : r == 2 ? '\r' : 'a';
			}
		}
		const char *e = ends[round % (sizeof(ends) / sizeof(ends[0]))];
		memcpy(msg + len, e, strlen(e));
		len += strlen(e);
		if (!crlf_form(msg, len))
			continue;
		ck_assert_uint_eq(from_tail(msg, len), engine_octets(msg, len));
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("exact-size");
	TCase *tc = tcase_create("exact-size");
	tcase_add_test(tc, t_every_short_message);
	tcase_add_test(tc, t_longer_messages);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
