/* tests/bridge/check_proxy.c — the PROXY protocol header parser
 * (bridge/guard/proxy.h) and address ranges (bridge/base/cidr.h).
 *
 * Every header is also fed split at every offset: each proper prefix must
 * answer MORE (never DONE or BAD for a valid header), and the whole the
 * same DONE with the same length whatever follows it. Every bad header
 * must never answer DONE for any prefix. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/base/cidr.h"
#include "bridge/guard/proxy.h"

/* Parse buf[0..n) whole and at every prefix; the whole's answer. */
static enum guard_proxy_result parse_all(const void *buf, size_t n, struct guard_proxy_hdr *h)
{
	const unsigned char *b = buf;
	enum guard_proxy_result whole = guard_proxy_parse(b, n, h);
	for (size_t k = 0; k < n; k++) {
		struct guard_proxy_hdr p;
		enum guard_proxy_result r = guard_proxy_parse(b, k, &p);
		if (whole == GUARD_PROXY_DONE && k < h->len) {
			ck_assert_msg(r == GUARD_PROXY_MORE, "prefix %zu of a valid header: %d", k, r);
			ck_assert_msg(p.need > k && p.need <= h->len, "need %zu at %zu (len %zu)",
			    p.need, k, h->len);
		}
		if (whole == GUARD_PROXY_DONE && k >= h->len) {
			ck_assert_int_eq(r, GUARD_PROXY_DONE);
			ck_assert_uint_eq(p.len, h->len);
			ck_assert_str_eq(p.addr, h->addr);
		}
		if (whole == GUARD_PROXY_BAD)
			ck_assert_msg(r != GUARD_PROXY_DONE, "prefix %zu of a bad header is DONE", k);
		if (r == GUARD_PROXY_BAD)
			ck_assert_msg(whole == GUARD_PROXY_BAD, "prefix %zu BAD, whole %d", k, whole);
	}
	return whole;
}

static void v1_ok(const char *line, const char *addr, unsigned port, bool local)
{
	char buf[256];
	struct guard_proxy_hdr h;
	size_t len = strlen(line);
	/* The client's bytes follow the header: they are not the header's. */
	snprintf(buf, sizeof(buf), "%sCAPA\r\n", line);
	ck_assert_msg(parse_all(buf, strlen(buf), &h) == GUARD_PROXY_DONE, "%s", line);
	ck_assert_uint_eq(h.len, len);
	ck_assert_int_eq(h.version, 1);
	ck_assert_int_eq(h.local, local);
	if (!local) {
		ck_assert_str_eq(h.addr, addr);
		ck_assert_uint_eq(h.port, port);
	}
}

static void v1_bad(const char *line)
{
	struct guard_proxy_hdr h;
	ck_assert_msg(parse_all(line, strlen(line), &h) == GUARD_PROXY_BAD, "%s", line);
}

START_TEST(test_v1)
{
	v1_ok("PROXY TCP4 192.0.2.7 198.51.100.1 56324 110\r\n", "192.0.2.7", 56324, false);
	v1_ok("PROXY TCP6 2001:db8::7 2001:db8::1 65535 995\r\n", "2001:db8::7", 65535, false);
	v1_ok("PROXY TCP4 0.0.0.0 0.0.0.0 0 0\r\n", "0.0.0.0", 0, false);
	v1_ok("PROXY UNKNOWN\r\n", "", 0, true);
	v1_ok("PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n", "", 0, true);
	/* The longest possible v1 header is 107 octets. */
	v1_ok("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535, false);

	v1_bad("PROXY TCP4 192.0.2.7 198.51.100.1 56324 110\n");      /* LF alone */
	v1_bad("PROXY TCP4 192.0.2.7 198.51.100.1 56324 110\rX");
	v1_bad("PROXY TCP4 2001:db8::7 198.51.100.1 1 2\r\n");        /* family */
	v1_bad("PROXY TCP6 192.0.2.7 2001:db8::1 1 2\r\n");
	v1_bad("PROXY TCP4 192.0.2.7 198.51.100.1 056324 110\r\n");   /* leading 0 */
	v1_bad("PROXY TCP4 192.0.2.7 198.51.100.1 65536 110\r\n");
	v1_bad("PROXY TCP4 192.0.2.7 198.51.100.1 -1 110\r\n");
	v1_bad("PROXY TCP4 192.0.2.7  198.51.100.1 1 110\r\n");       /* two spaces */
	v1_bad("PROXY TCP4 192.0.2.7 198.51.100.1 1 110 \r\n");       /* trailing */
	v1_bad("PROXY TCP4 192.0.2.7 198.51.100.1 1\r\n");            /* too few */
	v1_bad("PROXY TCP4 192.0.2.7 198.51.100.1 1 2 3\r\n");        /* too many */
	v1_bad("PROXY UDP4 192.0.2.7 198.51.100.1 1 2\r\n");
	v1_bad("PROXY TCP4 host.example 198.51.100.1 1 2\r\n");
	v1_bad("PROXY \r\n");
	v1_bad("proxy TCP4 192.0.2.7 198.51.100.1 1 2\r\n");
	v1_bad("PROXYTCP4 192.0.2.7 198.51.100.1 1 2\r\n");
	v1_bad("USER alice\r\n");
	v1_bad("CAPA\r\n");
	v1_bad("\x16\x03\x01\x02\x00");                                /* a TLS hello */

	/* A NUL inside the line. */
	static const char nul[] = "PROXY TCP4 192.0.2.7\0 198.51.100.1 1 2\r\n";
	struct guard_proxy_hdr hn;
	ck_assert_int_eq(parse_all(nul, sizeof(nul) - 1, &hn), GUARD_PROXY_BAD);

	/* No CR LF within 107 octets: BAD, never a longer wait. */
	char longl[200];
	memset(longl, 'A', sizeof(longl));
	memcpy(longl, "PROXY UNKNOWN ", 14);
	struct guard_proxy_hdr h;
	ck_assert_int_eq(guard_proxy_parse((unsigned char *)longl, 106, &h), GUARD_PROXY_MORE);
	ck_assert_int_eq(guard_proxy_parse((unsigned char *)longl, 107, &h), GUARD_PROXY_BAD);
	ck_assert_int_eq(guard_proxy_parse((unsigned char *)longl, 200, &h), GUARD_PROXY_BAD);
	/* CR LF ending exactly at 107 is fine, one later is not. */
	longl[105] = '\r';
	longl[106] = '\n';
	ck_assert_int_eq(guard_proxy_parse((unsigned char *)longl, 200, &h), GUARD_PROXY_DONE);
	ck_assert_uint_eq(h.len, 107);
	longl[105] = 'A';
	longl[106] = '\r';
	longl[107] = '\n';
	ck_assert_int_eq(guard_proxy_parse((unsigned char *)longl, 200, &h), GUARD_PROXY_BAD);
}
END_TEST

/* A v2 header: signature, version/command, family/protocol, body. */
static size_t v2(unsigned char *out, unsigned ver_cmd, unsigned fam, const void *body,
    size_t blen)
{
	static const unsigned char sig[12] = {
		0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };
	memcpy(out, sig, 12);
	out[12] = (unsigned char)ver_cmd;
	out[13] = (unsigned char)fam;
	out[14] = (unsigned char)(blen >> 8);
	out[15] = (unsigned char)blen;
	if (blen > 0)
		memcpy(out + 16, body, blen);
	return 16 + blen;
}

START_TEST(test_v2)
{
	unsigned char buf[GUARD_PROXY_MAX + 64];
	struct guard_proxy_hdr h;
	const unsigned char in4[12] = { 192, 0, 2, 7, 198, 51, 100, 1, 0xdc, 0x04, 0, 110 };
	unsigned char in6[36] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 7,
		0x20, 0x01, 0x0d, 0xb8, [31] = 1, [32] = 0x01, [33] = 0xbb, [34] = 0x03, [35] = 0xe3 };

	size_t n = v2(buf, 0x21, 0x11, in4, sizeof(in4));
	memcpy(buf + n, "CAPA\r\n", 6);
	ck_assert_int_eq(parse_all(buf, n + 6, &h), GUARD_PROXY_DONE);
	ck_assert_uint_eq(h.len, 28);
	ck_assert_int_eq(h.version, 2);
	ck_assert(!h.local);
	ck_assert_str_eq(h.addr, "192.0.2.7");
	ck_assert_uint_eq(h.port, 56324);

	n = v2(buf, 0x21, 0x21, in6, sizeof(in6));
	ck_assert_int_eq(parse_all(buf, n, &h), GUARD_PROXY_DONE);
	ck_assert_str_eq(h.addr, "2001:db8::7");
	ck_assert_uint_eq(h.port, 443);

	/* TLVs after the addresses are skipped (their octets are the header's). */
	unsigned char tlv[12 + 7];
	memcpy(tlv, in4, 12);
	memcpy(tlv + 12, "\x04\x00\x04" "abcd", 7);
	n = v2(buf, 0x21, 0x11, tlv, sizeof(tlv));
	ck_assert_int_eq(parse_all(buf, n, &h), GUARD_PROXY_DONE);
	ck_assert_uint_eq(h.len, 16 + 19);
	ck_assert_str_eq(h.addr, "192.0.2.7");

	/* LOCAL (health checks), UNSPEC and UNIX keep the proxy's address. */
	n = v2(buf, 0x20, 0x00, NULL, 0);
	ck_assert_int_eq(parse_all(buf, n, &h), GUARD_PROXY_DONE);
	ck_assert(h.local);
	ck_assert_uint_eq(h.len, 16);
	n = v2(buf, 0x20, 0x11, in4, sizeof(in4));       /* LOCAL with addresses */
	ck_assert_int_eq(parse_all(buf, n, &h), GUARD_PROXY_DONE);
	ck_assert(h.local);
	n = v2(buf, 0x21, 0x00, NULL, 0);
	ck_assert_int_eq(parse_all(buf, n, &h), GUARD_PROXY_DONE);
	ck_assert(h.local);
	unsigned char unixa[216] = { '/', 't' };
	n = v2(buf, 0x21, 0x31, unixa, sizeof(unixa));
	ck_assert_int_eq(parse_all(buf, n, &h), GUARD_PROXY_DONE);
	ck_assert(h.local);

	/* Refused. */
	n = v2(buf, 0x11, 0x11, in4, sizeof(in4));       /* version 1 in binary */
	ck_assert_int_eq(parse_all(buf, n, &h), GUARD_PROXY_BAD);
	n = v2(buf, 0x22, 0x11, in4, sizeof(in4));       /* command 2 */
	ck_assert_int_eq(parse_all(buf, n, &h), GUARD_PROXY_BAD);
	n = v2(buf, 0x21, 0x12, in4, sizeof(in4));       /* UDP */
	ck_assert_int_eq(parse_all(buf, n, &h), GUARD_PROXY_BAD);
	n = v2(buf, 0x21, 0x41, in4, sizeof(in4));       /* family 4 */
	ck_assert_int_eq(parse_all(buf, n, &h), GUARD_PROXY_BAD);
	n = v2(buf, 0x21, 0x13, in4, sizeof(in4));       /* protocol 3 */
	ck_assert_int_eq(parse_all(buf, n, &h), GUARD_PROXY_BAD);
	n = v2(buf, 0x21, 0x11, in4, 11);                /* short IPv4 block */
	ck_assert_int_eq(parse_all(buf, n, &h), GUARD_PROXY_BAD);
	n = v2(buf, 0x21, 0x21, in6, 35);                /* short IPv6 block */
	ck_assert_int_eq(parse_all(buf, n, &h), GUARD_PROXY_BAD);
	n = v2(buf, 0x21, 0x11, in4, sizeof(in4));
	buf[5] ^= 1;                                     /* signature */
	ck_assert_int_eq(parse_all(buf, n, &h), GUARD_PROXY_BAD);

	/* The announced length is bounded before anything waits for it. */
	unsigned char big[GUARD_PROXY_V2_MAX - 16 + 1];
	memset(big, 0, sizeof(big));
	memcpy(big, in4, 12);
	n = v2(buf, 0x21, 0x11, big, sizeof(big) - 1);
	ck_assert_int_eq(parse_all(buf, n, &h), GUARD_PROXY_DONE);
	ck_assert_uint_eq(h.len, GUARD_PROXY_V2_MAX);
	n = v2(buf, 0x21, 0x11, big, sizeof(big));
	ck_assert_int_eq(guard_proxy_parse(buf, 16, &h), GUARD_PROXY_BAD);
	buf[14] = 0xff;
	buf[15] = 0xff;
	ck_assert_int_eq(guard_proxy_parse(buf, 16, &h), GUARD_PROXY_BAD);
}
END_TEST

START_TEST(test_cidr)
{
	struct base_cidr c;
	char err[200], text[64];

	ck_assert_int_eq(base_cidr_parse("10.0.0.0/8", &c, err, sizeof(err)), 0);
	ck_assert_str_eq(base_cidr_format(&c, text, sizeof(text)), "10.0.0.0/8");
	ck_assert(base_cidr_match(&c, "10.1.2.3"));
	ck_assert(base_cidr_match(&c, "::ffff:10.200.0.1"));
	ck_assert(!base_cidr_match(&c, "11.0.0.1"));
	ck_assert(!base_cidr_match(&c, "::a00:1"));
	ck_assert(!base_cidr_match(&c, "localhost"));
	ck_assert(!base_cidr_match(&c, NULL));

	ck_assert_int_eq(base_cidr_parse("127.0.0.1", &c, err, sizeof(err)), 0);
	ck_assert_str_eq(base_cidr_format(&c, text, sizeof(text)), "127.0.0.1/32");
	ck_assert(base_cidr_match(&c, "127.0.0.1"));
	ck_assert(!base_cidr_match(&c, "127.0.0.2"));

	ck_assert_int_eq(base_cidr_parse("2001:db8:1:2::/64", &c, err, sizeof(err)), 0);
	ck_assert(base_cidr_match(&c, "2001:db8:1:2:ffff::1"));
	ck_assert(!base_cidr_match(&c, "2001:db8:1:3::1"));
	ck_assert(!base_cidr_match(&c, "10.0.0.1"));

	ck_assert_int_eq(base_cidr_parse("192.168.8.0/21", &c, err, sizeof(err)), 0);
	ck_assert(base_cidr_match(&c, "192.168.15.255"));
	ck_assert(!base_cidr_match(&c, "192.168.16.0"));

	ck_assert_int_eq(base_cidr_parse("0.0.0.0/0", &c, err, sizeof(err)), 0);
	ck_assert(base_cidr_match(&c, "203.0.113.9"));
	ck_assert(!base_cidr_match(&c, "2001:db8::1"));
	ck_assert_int_eq(base_cidr_parse("::/0", &c, err, sizeof(err)), 0);
	ck_assert(base_cidr_match(&c, "2001:db8::1"));

	ck_assert_int_eq(base_cidr_parse("::1/128", &c, err, sizeof(err)), 0);
	ck_assert(base_cidr_match(&c, "::1"));

	const char *bad[] = { "", "/8", "10.0.0.0/", "10.0.0.0/33", "10.0.0.1/8", "10.0.0.0/08",
		"10.0.0.0/+8", "10.0.0.0/8x", "::/129", "host.example", "10.0.0.0/8/8",
		"[::1]/128", "10.0.0.0 /8", "10.0.0.0/1000" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ck_assert_msg(base_cidr_parse(bad[i], &c, err, sizeof(err)) == -1, "%s", bad[i]);
		ck_assert_msg(err[0] != '\0', "no message for %s", bad[i]);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("proxy");
	TCase *tc = tcase_create("proxy");
	tcase_add_test(tc, test_v1);
	tcase_add_test(tc, test_v2);
	tcase_add_test(tc, test_cidr);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
