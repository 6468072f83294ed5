/* tests/bridge/check_matchkey.c — unit tests of the match keys
 * (bridge/maildrop/matchkey.h) and the passthrough user name (bridge/base/username.h). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/maildrop/matchkey.h"
#include "bridge/base/username.h"
#include "state/state.h"

static struct maildrop_matchkey keys(const char *h)
{
	struct maildrop_matchkey k;
	ck_assert_int_eq(maildrop_matchkey_compute(h, strlen(h), &k), 0);
	return k;
}

static const char base[] =
	"Message-ID: <abc@example.org>\r\n"
	"Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
	"From: Alice <alice@example.org>\r\n"
	"To: bob@example.org\r\n"
	"Subject: Hello there\r\n"
	"\r\n"
	"body\r\n";

START_TEST(t_keys_basic)
{
	struct maildrop_matchkey k = keys(base);
	ck_assert_str_eq(k.msgid, "<abc@example.org>");
	ck_assert_uint_eq(strlen(k.hash), MATCHKEY_HASH_LEN);
	ck_assert(strncmp(k.hash, "s1-", 3) == 0);
	/* deterministic */
	struct maildrop_matchkey k2 = keys(base);
	ck_assert_str_eq(k.hash, k2.hash);
}
END_TEST

START_TEST(t_keys_normalised)
{
	struct maildrop_matchkey k = keys(base);
	/* LF line ends, other fields, other order, folded values, name case,
	 * extra spaces: the same keys. */
	static const char other[] =
		"Received: from somewhere\n"
		"subject:    Hello\n\tthere  \n"
		"X-Spam: yes\n"
		"FROM: Alice   <alice@example.org>\n"
		"to: bob@example.org\n"
		"DATE: Mon, 1 Jan 2024\n 10:00:00 +0000\n"
		"message-id:<abc@example.org>\n"
		"\n";
	struct maildrop_matchkey o = keys(other);
	ck_assert_str_eq(o.msgid, k.msgid);
	ck_assert_str_eq(o.hash, k.hash);
	/* Only the header counts (the blank line ends it). */
	static const char trailing[] =
		"Message-ID: <abc@example.org>\r\n"
		"Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
		"From: Alice <alice@example.org>\r\n"
		"To: bob@example.org\r\n"
		"Subject: Hello there\r\n"
		"\r\n"
		"Subject: not a header\r\n";
	ck_assert_str_eq(keys(trailing).hash, k.hash);
	/* The first occurrence counts. */
	static const char twice[] =
		"Message-ID: <abc@example.org>\r\n"
		"Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
		"From: Alice <alice@example.org>\r\n"
		"To: bob@example.org\r\n"
		"Subject: Hello there\r\n"
		"Subject: second\r\n";
	ck_assert_str_eq(keys(twice).hash, k.hash);
}
END_TEST

START_TEST(t_keys_differ)
{
	struct maildrop_matchkey k = keys(base);
	static const char subj[] =
		"Message-ID: <abc@example.org>\r\n"
		"Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
		"From: Alice <alice@example.org>\r\n"
		"To: bob@example.org\r\n"
		"Subject: Hello therE\r\n";
	ck_assert_str_ne(keys(subj).hash, k.hash);
	/* absent and empty differ */
	struct maildrop_matchkey a = keys("From: x\r\n");
	struct maildrop_matchkey b = keys("From: x\r\nSubject:\r\n");
	ck_assert_str_ne(a.hash, b.hash);
	ck_assert_str_eq(a.msgid, "");
	/* a value moved into another field differs */
	ck_assert_str_ne(keys("From: a\r\nTo: b\r\n").hash, keys("From: b\r\nTo: a\r\n").hash);
}
END_TEST

START_TEST(t_keys_edges)
{
	/* empty block, no line end at all, continuation without a field */
	struct maildrop_matchkey e = keys("");
	ck_assert_str_eq(e.msgid, "");
	ck_assert_uint_eq(strlen(e.hash), MATCHKEY_HASH_LEN);
	ck_assert_str_eq(keys("Message-ID: <x@y>").msgid, "<x@y>");
	ck_assert_str_eq(keys(" orphan\r\nMessage-ID: <x@y>\r\n").msgid, "<x@y>");
	/* a Message-ID longer than the store keeps none, but still hashes */
	size_t n = MATCHKEY_MSGID_MAX + 100;
	char *h = malloc(n + 32);
	ck_assert_ptr_nonnull(h);
	strcpy(h, "Message-ID: <");
	size_t o = strlen(h);
	memset(h + o, 'a', n);
	strcpy(h + o + n, ">\r\n");
	struct maildrop_matchkey k;
	ck_assert_int_eq(maildrop_matchkey_compute(h, strlen(h), &k), 0);
	ck_assert_str_eq(k.msgid, "");
	ck_assert_uint_eq(strlen(k.hash), MATCHKEY_HASH_LEN);
	free(h);
	/* NUL bytes and 8-bit octets are data, not terminators */
	static const char bin[] = "Subject: a\0b\xff\r\n";
	struct maildrop_matchkey k1, k2;
	ck_assert_int_eq(maildrop_matchkey_compute(bin, sizeof(bin) - 1, &k1), 0);
	ck_assert_int_eq(maildrop_matchkey_compute(bin, 11, &k2), 0);
	ck_assert_str_ne(k1.hash, k2.hash);
}
END_TEST

START_TEST(t_username_split)
{
	char acc[STATE_ACCOUNT_MAX + 1], dev[STATE_DEVICE_MAX + 1], err[128];
	int has;

	ck_assert_int_eq(base_username_split("alice@example.org", '#', acc, dev, &has, err,
	    sizeof(err)), 0);
	ck_assert_str_eq(acc, "alice@example.org");
	ck_assert_str_eq(dev, "default");
	ck_assert_int_eq(has, 0);
	ck_assert_int_eq(base_username_split("alice#scanner-2", '#', acc, dev, &has, err,
	    sizeof(err)), 0);
	ck_assert_str_eq(acc, "alice");
	ck_assert_str_eq(dev, "scanner-2");
	ck_assert_int_eq(has, 1);
	ck_assert_int_eq(base_username_split("a+b", '+', acc, dev, &has, err, sizeof(err)), 0);
	ck_assert_str_eq(dev, "b");
	/* with separator 0 nothing splits */
	ck_assert_int_eq(base_username_split("a#b", 0, acc, dev, &has, err, sizeof(err)), 0);
	ck_assert_str_eq(acc, "a#b");

	static const char *const bad[] = { "", "#d", "a#", "a#b#c", "a b", "a#b c", "a\tb",
		"a#\x7f", "a#\xc3\xa9", "\x01" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ck_assert_int_eq(base_username_split(bad[i], '#', acc, dev, &has, err, sizeof(err)),
		    -1);
		ck_assert_str_ne(err, "");
		ck_assert_str_eq(acc, "");
	}
	char longacc[300];
	memset(longacc, 'x', 256);
	longacc[256] = '\0';
	ck_assert_int_eq(base_username_split(longacc, '#', acc, dev, &has, err, sizeof(err)), -1);
	ck_assert_str_eq(err, STATE_ACCOUNT_RULE);   /* the one wording */
	ck_assert_int_eq(base_username_split("#dev", '#', acc, dev, &has, err, sizeof(err)), -1);
	ck_assert_str_eq(err, STATE_ACCOUNT_RULE);
	ck_assert_int_eq(base_username_split("a\tb", '#', acc, dev, &has, err, sizeof(err)), -1);
	ck_assert_str_eq(err, STATE_ACCOUNT_RULE);
	longacc[255] = '\0';
	ck_assert_int_eq(base_username_split(longacc, '#', acc, dev, &has, err, sizeof(err)), 0);
	ck_assert_int_eq(base_device_name_check("ok.name_1-2+x@y"), 0);
	ck_assert_int_eq(base_device_name_check(""), -1);
	ck_assert_int_eq(base_device_name_check("a/b"), -1);
}
END_TEST

static Suite *matchkey_suite(void)
{
	Suite *s = suite_create("matchkey");
	TCase *tc = tcase_create("units");
	tcase_add_test(tc, t_keys_basic);
	tcase_add_test(tc, t_keys_normalised);
	tcase_add_test(tc, t_keys_differ);
	tcase_add_test(tc, t_keys_edges);
	tcase_add_test(tc, t_username_split);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(matchkey_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
