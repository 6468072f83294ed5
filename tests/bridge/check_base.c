/* tests/bridge/check_base.c — bridge/base/'s small rules: the printable-text
 * rule (every octet value, the cap, NUL) and lowercase hex. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "bridge/base/hex.h"
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

START_TEST(hex_round_trip)
{
	unsigned char src[BASE_HEX_DECODE_MAX], back[BASE_HEX_DECODE_MAX];
	char hex[2 * BASE_HEX_DECODE_MAX + 1], want[2 * BASE_HEX_DECODE_MAX + 1];
	size_t n;
	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (unsigned char)(i * 37 + 5);
	src[0] = 0x00;
	src[1] = 0xff;
	src[2] = 0xab;
	/* byte-identical to the hand-written form it replaced: lower case, no separators */
	for (size_t i = 0; i < sizeof(src); i++)
		snprintf(want + 2 * i, 3, "%02x", src[i]);
	ck_assert_int_eq(base_hex_encode(hex, sizeof(hex), src, sizeof(src)), 0);
	ck_assert_str_eq(hex, want);
	ck_assert_int_eq(base_hex_decode(back, sizeof(back), &n, hex, strlen(hex)), 0);
	ck_assert_uint_eq(n, sizeof(src));
	ck_assert_mem_eq(back, src, sizeof(src));
	ck_assert_int_eq(base_hex_encode(hex, sizeof(hex), src, 0), 0);
	ck_assert_str_eq(hex, "");
	/* every octet value */
	for (unsigned v = 0; v < 256; v++) {
		unsigned char b = (unsigned char)v;
		char h[3], w[3];
		snprintf(w, sizeof(w), "%02x", v);
		ck_assert_int_eq(base_hex_encode(h, sizeof(h), &b, 1), 0);
		ck_assert_str_eq(h, w);
	}
}
END_TEST

START_TEST(hex_refused)
{
	unsigned char b[4];
	char h[5];
	size_t n;
	ck_assert_int_eq(base_hex_encode(h, 4, (const unsigned char *)"ab", 2), -1);  /* no room for NUL */
	ck_assert_str_eq(h, "");
	ck_assert_int_eq(base_hex_encode(h, 5, (const unsigned char *)"ab", 2), 0);
	ck_assert_str_eq(h, "6162");
	ck_assert_int_eq(base_hex_decode(b, sizeof(b), &n, "00ff", 4), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(base_hex_decode(b, sizeof(b), &n, "00FF", 4), -1);   /* upper case */
	ck_assert_int_eq(base_hex_decode(b, sizeof(b), &n, "abc", 3), -1);    /* odd */
	ck_assert_int_eq(base_hex_decode(b, sizeof(b), &n, "ab:cd", 5), -1);  /* separator */
	ck_assert_int_eq(base_hex_decode(b, sizeof(b), &n, "0g", 2), -1);
	ck_assert_int_eq(base_hex_decode(b, sizeof(b), &n, "a\0", 2), -1);    /* NUL */
	ck_assert_int_eq(base_hex_decode(b, sizeof(b), &n, "0011223344", 10), -1);  /* > cap */
	ck_assert_int_eq(base_hex_decode(b, sizeof(b), &n, "00112233$", 8), 0);  /* len, not NUL */
	ck_assert_uint_eq(n, 4);
	ck_assert_int_eq(base_hex_decode(b, sizeof(b), &n, "", 0), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_uint_eq(ERR_peek_error(), 0);
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
	TCase *h = tcase_create("hex");
	tcase_add_test(h, hex_round_trip);
	tcase_add_test(h, hex_refused);
	suite_add_tcase(s, h);
	return bt_run_suite(s);
}
