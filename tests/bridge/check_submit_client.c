/* tests/bridge/check_submit_client.c — the upstream submission client's
 * OAuth2 AUTH on the wire (bridge/submit/client.h, SPEC §10, RFC 7628,
 * RFC 4954), against scripted servers (tests/lib/fakeserver.h): OAUTHBEARER
 * preferred, XOAUTH2 when it is all the server offers, the initial response
 * on the AUTH line while the line stays within 512 octets and after the
 * server's 334 beyond that (a long token), the error challenge answered as
 * each mechanism wants (^A, an empty line) and its status kept, and neither
 * mechanism offered; AUTH PLAIN's initial response within the same line
 * limit, and AUTH LOGIN with a long password. What Postfix and Dovecot make of it is
 * tests/interop/test_submission.py's part.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "bridge/submit/client.h"
#include "tests/lib/fakeserver.h"

#define GREET "220 fake ESMTP\r\n"

/* The decoded form of a base64 line (NUL-terminated, malloc'd). */
static char *unb64(const char *b64, size_t n)
{
	unsigned char *out = malloc(n / 4 * 3 + 1);
	ck_assert_ptr_nonnull(out);
	int k = EVP_DecodeBlock(out, (const unsigned char *)b64, (int)n);
	ck_assert_int_ge(k, 0);
	for (size_t i = n; i > 0 && b64[i - 1] == '='; i--)
		k--;
	out[k] = '\0';
	return (char *)out;
}

/* The C: line of the log that starts with prefix, without CRLF (malloc'd). */
static char *client_line(struct pbt_fake *f, const char *prefix)
{
	char want[64];
	snprintf(want, sizeof(want), "C: %s", prefix);
	const char *p = strstr(f->log.p, want);
	ck_assert_msg(p != NULL, "no line %s in:\n%.2000s", prefix, f->log.p);
	p += 3;
	const char *e = strstr(p, "\r\n");
	ck_assert_ptr_nonnull(e);
	return strndup(p, (size_t)(e - p));
}

struct run {
	struct submit_client c;
	struct smtp_reply reply;
	char challenge[600];
	int rc;
};

/* Connect to the fake (plaintext), AUTH with token, QUIT. */
static void run_auth(struct pbt_fake *f, const char *token, struct run *r)
{
	struct submit_endpoint ep = { .host = "127.0.0.1", .port = (unsigned)f->port,
		.tls = PB_UTLS_NONE, .ca = "", .timeout_s = 10, .helo = "client.test" };

	submit_client_init(&r->c);
	ck_assert_int_eq(submit_client_open(&r->c, &ep, &r->reply), 0);
	r->rc = submit_client_auth_oauth2(&r->c, "alice", token, &r->reply, r->challenge,
	    sizeof(r->challenge));
	submit_client_close(&r->c, true);
}

START_TEST(t_oauthbearer_inline)
{
	static const struct pbt_step script[] = {
		PBT_SEND(GREET), PBT_EXPECT("EHLO client.test"),
		PBT_SEND("250-fake\r\n250 AUTH PLAIN XOAUTH2 OAUTHBEARER\r\n"),
		PBT_EXPECT("AUTH OAUTHBEARER "), PBT_SEND("235 2.7.0 ok\r\n"),
		PBT_EXPECT("QUIT"), PBT_SEND("221 bye\r\n"), PBT_END,
	};
	struct pbt_fake *f = pbt_fake_start(script, PBT_FAKE_POP3);
	struct run r;
	char want[200];

	ck_assert_ptr_nonnull(f);
	run_auth(f, "ya29.tok-en_1", &r);
	ck_assert_int_eq(pbt_fake_join(f), 0);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_uint_eq(r.reply.code, 235);
	ck_assert_str_eq(r.challenge, "");
	char *line = client_line(f, "AUTH OAUTHBEARER ");
	char *dec = unb64(line + 17, strlen(line + 17));
	snprintf(want, sizeof(want), "n,a=alice,\001host=127.0.0.1\001port=%d\001"
	    "auth=Bearer ya29.tok-en_1\001\001", f->port);
	ck_assert_str_eq(dec, want);
	free(dec);
	free(line);
	pbt_fake_free(f);
}
END_TEST

/* A token too long for the AUTH line: "AUTH XOAUTH2", 334, the response;
 * refused with a status: the empty line, then 535. */
START_TEST(t_xoauth2_long_refused)
{
	static const struct pbt_step script[] = {
		PBT_SEND(GREET), PBT_EXPECT("EHLO"),
		PBT_SEND("250-fake\r\n250-AUTH LOGIN XOAUTH2\r\n250 8BITMIME\r\n"),
		PBT_EXPECT("AUTH XOAUTH2"), PBT_SEND("334 \r\n"),
		PBT_EXPECT_RAW("dXNlcj1hbGljZQFhdXRoPUJlYXJlciB"),
		/* {"status":"401","schemes":"bearer"} */
		PBT_SEND("334 eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIn0=\r\n"),
		PBT_EXPECT_RAW(""), PBT_SEND("535 5.7.8 Username and Password not accepted\r\n"),
		PBT_EXPECT("QUIT"), PBT_SEND("221 bye\r\n"), PBT_END,
	};
	struct pbt_fake *f = pbt_fake_start(script, PBT_FAKE_POP3);
	struct run r;
	char token[3001], want[3100];

	ck_assert_ptr_nonnull(f);
	memset(token, 'a', sizeof(token) - 1);
	token[sizeof(token) - 1] = '\0';
	token[1000] = '.';
	run_auth(f, token, &r);
	ck_assert_int_eq(pbt_fake_join(f), 0);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_uint_eq(r.reply.code, 535);
	ck_assert_str_eq(r.challenge, "{\"status\":\"401\",\"schemes\":\"bearer\"}");
	ck_assert_ptr_nonnull(strstr(f->log.p, "C: AUTH XOAUTH2\r\nS: 334 \r\n"));
	char *line = client_line(f, "dXNlcj1h");
	ck_assert_uint_gt(strlen(line), 512);
	char *dec = unb64(line, strlen(line));
	snprintf(want, sizeof(want), "user=alice\001auth=Bearer %s\001\001", token);
	ck_assert_str_eq(dec, want);
	ck_assert_ptr_nonnull(strstr(f->log.p, "=\r\nC: \r\nS: 535 5.7.8"));
	free(dec);
	free(line);
	pbt_fake_free(f);
}
END_TEST

/* OAUTHBEARER refused after an inline response: ^A (AQ==), then 535. */
START_TEST(t_oauthbearer_refused)
{
	static const struct pbt_step script[] = {
		PBT_SEND(GREET), PBT_EXPECT("EHLO"),
		PBT_SEND("250-fake\r\n250 AUTH OAUTHBEARER\r\n"),
		PBT_EXPECT("AUTH OAUTHBEARER "),
		/* {"status":"invalid_token"} */
		PBT_SEND("334 eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIn0=\r\n"),
		PBT_EXPECT_RAW("AQ=="), PBT_SEND("535 5.7.8 Authentication failed\r\n"),
		PBT_EXPECT("QUIT"), PBT_SEND("221 bye\r\n"), PBT_END,
	};
	struct pbt_fake *f = pbt_fake_start(script, PBT_FAKE_POP3);
	struct run r;

	ck_assert_ptr_nonnull(f);
	run_auth(f, "old.token", &r);
	ck_assert_int_eq(pbt_fake_join(f), 0);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_uint_eq(r.reply.code, 535);
	ck_assert_str_eq(r.challenge, "{\"status\":\"invalid_token\"}");
	ck_assert_ptr_nonnull(strstr(f->log.p, "C: AQ==\r\n"));
	pbt_fake_free(f);
}
END_TEST

/* Neither mechanism: trouble, nothing sent; a token that is not an RFC 6750
 * b64token never goes out either. */
START_TEST(t_not_offered)
{
	static const struct pbt_step script[] = {
		PBT_SEND(GREET), PBT_EXPECT("EHLO"),
		PBT_SEND("250-fake\r\n250 AUTH PLAIN LOGIN\r\n"), PBT_STALL, PBT_END,
	};
	struct pbt_fake *f = pbt_fake_start(script, PBT_FAKE_POP3);
	struct run r;

	ck_assert_ptr_nonnull(f);
	run_auth(f, "tok", &r);
	ck_assert_int_eq(r.rc, -1);
	ck_assert_ptr_nonnull(strstr(r.c.err, "neither AUTH OAUTHBEARER nor XOAUTH2"));
	ck_assert_int_eq(pbt_fake_join(f), 0);
	ck_assert_ptr_null(strstr(f->log.p, "C: AUTH"));
	pbt_fake_free(f);

	static const struct pbt_step script2[] = {
		PBT_SEND(GREET), PBT_EXPECT("EHLO"),
		PBT_SEND("250-fake\r\n250 AUTH XOAUTH2\r\n"), PBT_STALL, PBT_END,
	};
	f = pbt_fake_start(script2, PBT_FAKE_POP3);
	ck_assert_ptr_nonnull(f);
	run_auth(f, "not a token", &r);
	ck_assert_int_eq(r.rc, -1);
	ck_assert_int_eq(pbt_fake_join(f), 0);
	ck_assert_ptr_null(strstr(f->log.p, "C: AUTH"));
	pbt_fake_free(f);
}
END_TEST

/* Connect to the fake (plaintext), AUTH PLAIN or LOGIN with a password, QUIT. */
static void run_password(struct pbt_fake *f, const char *pass, struct run *r)
{
	struct submit_endpoint ep = { .host = "127.0.0.1", .port = (unsigned)f->port,
		.tls = PB_UTLS_NONE, .ca = "", .timeout_s = 10, .helo = "client.test" };

	submit_client_init(&r->c);
	ck_assert_int_eq(submit_client_open(&r->c, &ep, &r->reply), 0);
	r->rc = submit_client_auth(&r->c, "alice", pass, &r->reply);
	submit_client_close(&r->c, true);
}

/* A password of n octets ('p'...), NUL-terminated (malloc'd). */
static char *password(size_t n)
{
	char *p = malloc(n + 1);
	ck_assert_ptr_nonnull(p);
	memset(p, 'p', n);
	p[n] = '\0';
	return p;
}

/* AUTH PLAIN with the response on the AUTH line while the line stays within
 * 512 octets (RFC 4954 §4): 365 octets of password make a line of 509; 366
 * make 513, so "AUTH PLAIN", the server's 334, then the response alone. */
START_TEST(t_plain_line_limit)
{
	static const struct pbt_step inline_script[] = {
		PBT_SEND(GREET), PBT_EXPECT("EHLO"),
		PBT_SEND("250-fake\r\n250 AUTH PLAIN LOGIN\r\n"),
		PBT_EXPECT("AUTH PLAIN AGFsaWNl"), PBT_SEND("235 2.7.0 ok\r\n"),
		PBT_EXPECT("QUIT"), PBT_SEND("221 bye\r\n"), PBT_END,
	};
	static const struct pbt_step split_script[] = {
		PBT_SEND(GREET), PBT_EXPECT("EHLO"),
		PBT_SEND("250-fake\r\n250 AUTH PLAIN LOGIN\r\n"),
		PBT_EXPECT("AUTH PLAIN"), PBT_SEND("334 \r\n"),
		PBT_EXPECT_RAW("AGFsaWNl"), PBT_SEND("235 2.7.0 ok\r\n"),
		PBT_EXPECT("QUIT"), PBT_SEND("221 bye\r\n"), PBT_END,
	};
	for (size_t n = 365; n <= 366; n++) {
		struct pbt_fake *f = pbt_fake_start(n == 365 ? inline_script : split_script,
		    PBT_FAKE_POP3);
		struct run r;
		char *pass = password(n);
		char want[400];

		ck_assert_ptr_nonnull(f);
		run_password(f, pass, &r);
		ck_assert_int_eq(pbt_fake_join(f), 0);
		ck_assert_int_eq(r.rc, 0);
		ck_assert_uint_eq(r.reply.code, 235);
		char *line = client_line(f, n == 365 ? "AUTH PLAIN " : "AGFsaWNl");
		const char *resp = n == 365 ? line + 11 : line;
		ck_assert_uint_eq(strlen(line) + 2, n == 365 ? 509 : 502);
		if (n == 366)
			ck_assert_ptr_nonnull(strstr(f->log.p, "C: AUTH PLAIN\r\nS: 334 \r\n"));
		char *dec = unb64(resp, strlen(resp));
		ck_assert_uint_eq(strlen(dec), 0); /* the leading NUL */
		snprintf(want, sizeof(want), "%s", dec + 1);
		ck_assert_str_eq(want, "alice");
		ck_assert_str_eq(dec + 7, pass);
		free(dec);
		free(line);
		free(pass);
		pbt_fake_free(f);
	}
}
END_TEST

/* AUTH LOGIN (all the server offers) with a 1,024-octet password: the
 * base64 lines of any length go out as they are, and a refusal of the
 * AUTH command ends the exchange with its reply. */
START_TEST(t_login_long_password)
{
	static const struct pbt_step script[] = {
		PBT_SEND(GREET), PBT_EXPECT("EHLO"),
		PBT_SEND("250-fake\r\n250 AUTH LOGIN\r\n"),
		PBT_EXPECT("AUTH LOGIN"), PBT_SEND("334 VXNlcm5hbWU6\r\n"),
		PBT_EXPECT_RAW("YWxpY2U="), PBT_SEND("334 UGFzc3dvcmQ6\r\n"),
		PBT_EXPECT_RAW("cHBw"), PBT_SEND("535 5.7.8 no\r\n"),
		PBT_EXPECT("QUIT"), PBT_SEND("221 bye\r\n"), PBT_END,
	};
	struct pbt_fake *f = pbt_fake_start(script, PBT_FAKE_POP3);
	struct run r;
	char *pass = password(1024);

	ck_assert_ptr_nonnull(f);
	run_password(f, pass, &r);
	ck_assert_int_eq(pbt_fake_join(f), 0);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_uint_eq(r.reply.code, 535);
	char *line = client_line(f, "cHBw");
	char *dec = unb64(line, strlen(line));
	ck_assert_str_eq(dec, pass);
	free(dec);
	free(line);
	free(pass);
	pbt_fake_free(f);

	static const struct pbt_step refused[] = {
		PBT_SEND(GREET), PBT_EXPECT("EHLO"),
		PBT_SEND("250-fake\r\n250 AUTH LOGIN\r\n"),
		PBT_EXPECT("AUTH LOGIN"), PBT_SEND("504 5.5.4 not now\r\n"),
		PBT_EXPECT("QUIT"), PBT_SEND("221 bye\r\n"), PBT_END,
	};
	f = pbt_fake_start(refused, PBT_FAKE_POP3);
	ck_assert_ptr_nonnull(f);
	run_password(f, "pw", &r);
	ck_assert_int_eq(pbt_fake_join(f), 0);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_uint_eq(r.reply.code, 504);
	pbt_fake_free(f);
}
END_TEST

/* A server that answers one command twice (a stray reply, or one the
 * server sent of its own accord): the client, which never pipelines, finds
 * it waiting when it is about to send the next command, and stops there
 * (-1, connection closed) instead of taking it for that command's reply —
 * which would put every later reply one command off, the final dot's
 * included. */
START_TEST(t_stray_reply)
{
	static const struct pbt_step script[] = {
		PBT_SEND(GREET), PBT_EXPECT("EHLO"),
		PBT_SEND("250-fake\r\n250 AUTH PLAIN LOGIN\r\n"),
		PBT_EXPECT("MAIL FROM:<a@example.com>"),
		PBT_SEND("250 2.1.0 Ok\r\n250 2.1.0 Ok again\r\n"),
		PBT_STALL, PBT_END,
	};
	struct submit_endpoint ep = { .host = "127.0.0.1", .port = 0, .tls = PB_UTLS_NONE,
		.ca = "", .timeout_s = 10, .helo = "client.test" };
	struct pbt_fake *f = pbt_fake_start(script, PBT_FAKE_POP3);
	struct run r;

	ck_assert_ptr_nonnull(f);
	ep.port = (unsigned)f->port;
	submit_client_init(&r.c);
	ck_assert_int_eq(submit_client_open(&r.c, &ep, &r.reply), 0);
	ck_assert_int_eq(submit_client_cmd(&r.c, "MAIL FROM:<a@example.com>", &r.reply), 0);
	ck_assert_uint_eq(r.reply.code, 250);
	pbt_msleep(200);   /* the stray reply has come */
	memset(&r.reply, 0, sizeof(r.reply));
	ck_assert_int_eq(submit_client_cmd(&r.c, "RCPT TO:<bad@example.com>", &r.reply), -1);
	ck_assert(!r.c.open);
	ck_assert_msg(strstr(r.c.err, "reply") != NULL, "%s", r.c.err);
	submit_client_close(&r.c, true);
	ck_assert_int_eq(pbt_fake_join(f), 0);
	ck_assert_ptr_null(strstr(f->log.p, "C: RCPT"));
	pbt_fake_free(f);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("submit-client");
	TCase *tc = tcase_create("oauth2");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, t_oauthbearer_inline);
	tcase_add_test(tc, t_xoauth2_long_refused);
	tcase_add_test(tc, t_oauthbearer_refused);
	tcase_add_test(tc, t_not_offered);
	suite_add_tcase(s, tc);
	tc = tcase_create("password");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, t_plain_line_limit);
	tcase_add_test(tc, t_login_long_password);
	tcase_add_test(tc, t_stray_reply);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
