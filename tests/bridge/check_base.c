/* tests/bridge/check_base.c — bridge/base/'s small rules: the printable-text
 * rule (every octet value, the cap, NUL) and lowercase hex. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/base/text.h"
#include "tests/bridge/bt.h"

START_TEST(text_every_octet)
{
	char src[256], dst[257];
	for (int i = 0; i < 256; i++)
		src[i] = (char)i;
	ck_assert_uint_eq(base_text_printable(dst, sizeof(dst), src, sizeof(src)), 256);
	for (int i = 0; i < 256; i++) {
		char want = i >= 0x20 && i <= 0x7e ? (char)i : '?';
		ck_assert_msg(dst[i] == want, "octet 0x%02x became 0x%02x", i, (unsigned char)dst[i]);
		ck_assert(base_text_printable_byte((unsigned char)i) == want);
	}
	ck_assert_int_eq(dst[256], '\0');
}
END_TEST

START_TEST(text_cap)
{
	char dst[8];
	memset(dst, 'X', sizeof(dst));
	ck_assert_uint_eq(base_text_printable(dst, 0, "abc", 3), 0);
	ck_assert_int_eq(dst[0], 'X');   /* cap 0: nothing written */
	ck_assert_uint_eq(base_text_printable(dst, 1, "abc", 3), 0);
	ck_assert_str_eq(dst, "");
	ck_assert_uint_eq(base_text_printable(dst, 3, "abc", 3), 2);
	ck_assert_str_eq(dst, "ab");
	ck_assert_uint_eq(base_text_printable(dst, 4, "abc", 3), 3);
	ck_assert_str_eq(dst, "abc");
	ck_assert_uint_eq(base_text_printable(dst, sizeof(dst), "a\r\nb", 4), 4);
	ck_assert_str_eq(dst, "a??b");
	/* strings: cut at the cap, NULL as "" */
	ck_assert_uint_eq(base_text_printable_str(dst, sizeof(dst), "0123456789"), 7);
	ck_assert_str_eq(dst, "0123456");
	ck_assert_uint_eq(base_text_printable_str(dst, sizeof(dst), NULL), 0);
	ck_assert_str_eq(dst, "");
	ck_assert_uint_eq(base_text_printable_str(dst, sizeof(dst), "\xc3\xa9t\xe9"), 4);
	ck_assert_str_eq(dst, "??t?");
}
END_TEST

START_TEST(text_nul)
{
	char dst[8];
	/* With a length, a NUL octet is one more unprintable octet... */
	ck_assert_uint_eq(base_text_printable(dst, sizeof(dst), "a\0b", 3), 3);
	ck_assert_str_eq(dst, "a?b");
	/* ...a string ends at its NUL. */
	ck_assert_uint_eq(base_text_printable_str(dst, sizeof(dst), "a\0b"), 1);
	ck_assert_str_eq(dst, "a");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("base");
	TCase *t = tcase_create("text");
	tcase_add_test(t, text_every_octet);
	tcase_add_test(t, text_cap);
	tcase_add_test(t, text_nul);
	suite_add_tcase(s, t);
	return bt_run_suite(s);
}
