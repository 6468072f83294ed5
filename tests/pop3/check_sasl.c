/* tests/pop3/check_sasl.c — pop3/sasl.h on its own, as the POP3 and SMTP
 * engines and the IMAP front use it: the mechanism names, one response's
 * decoding (every prefix of a PLAIN response), PLAIN's split and bounds,
 * and the whole exchange of PLAIN and LOGIN over a scripted client, with
 * hostile inputs (bad base64, missing or extra NULs, over-long names,
 * passwords and responses, a NUL in a LOGIN password) and the wiping of
 * every response where it lay.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pop3/sasl.h"

/* ---- a scripted client ------------------------------------------------------ */

#define SCRIPT_MAX 4

/* The lines the client sends after each challenge (writable: the module
 * wipes them), and what it was asked. rc_after: what challenge() returns
 * once the lines are used up (0: the session ends, -1: an unusable line). */
struct script {
	char lines[SCRIPT_MAX][4096];
	size_t nlines, next;
	int rc_after;
	char asked[SCRIPT_MAX][32];
	size_t nasked;
};

static int scripted(void *arg, const char *challenge, char **line, size_t *len)
{
	struct script *sc = arg;

	ck_assert_uint_lt(sc->nasked, SCRIPT_MAX);
	snprintf(sc->asked[sc->nasked++], sizeof(sc->asked[0]), "%s", challenge);
	if (sc->next >= sc->nlines)
		return sc->rc_after;
	*line = sc->lines[sc->next++];
	*len = strlen(*line);
	return 1;
}

static void script_add(struct script *sc, const char *line)
{
	ck_assert_uint_lt(sc->nlines, SCRIPT_MAX);
	snprintf(sc->lines[sc->nlines++], sizeof(sc->lines[0]), "%s", line);
}

static bool all_zero(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != '\0')
			return false;
	return true;
}

/* Every line the client sent was wiped where it lay. */
static void script_wiped(const struct script *sc)
{
	for (size_t i = 0; i < sc->next; i++)
		if (strcmp(sc->lines[i], "*") != 0)
			ck_assert_msg(all_zero(sc->lines[i], sizeof(sc->lines[i])),
			    "line %zu not wiped", i);
}

#define BUFSIZE (2 * (1536 + 1))

struct run {
	struct script sc;
	struct pop3_sasl_io io;
	char buf[BUFSIZE];
	char initial[4096];
	struct pop3_sasl_creds c;
};

static void run_init(struct run *r, size_t user_max, size_t pass_max)
{
	memset(r, 0, sizeof(*r));
	r->io.challenge = scripted;
	r->io.arg = &r->sc;
	r->io.user_max = user_max;
	r->io.pass_max = pass_max;
}

/* One exchange; initial NULL for none. */
static enum pop3_sasl_rc run(struct run *r, enum pop3_sasl_mech mech, const char *initial)
{
	char *ir = NULL;

	if (initial != NULL) {
		snprintf(r->initial, sizeof(r->initial), "%s", initial);
		ir = r->initial;
	}
	enum pop3_sasl_rc rc = pop3_sasl_run(&r->io, mech, ir, r->buf, sizeof(r->buf), &r->c);
	ck_assert(all_zero(r->initial, sizeof(r->initial)));
	script_wiped(&r->sc);
	return rc;
}

/* ---- mechanism names -------------------------------------------------------- */

START_TEST(mech_names)
{
	static const struct { const char *name; int rc; enum pop3_sasl_mech m; } v[] = {
		{ "PLAIN", 0, POP3_SASL_PLAIN }, { "login", 0, POP3_SASL_LOGIN },
		{ "pLaIn", 0, POP3_SASL_PLAIN }, { "LOGIN", 0, POP3_SASL_LOGIN },
		{ "", -1, 0 }, { "PLAINX", -1, 0 }, { "PLAI", -1, 0 }, { "LOGIN ", -1, 0 },
		{ "CRAM-MD5", -1, 0 }, { "XOAUTH2", -1, 0 }, { "APOP", -1, 0 },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		enum pop3_sasl_mech m = v[i].m == POP3_SASL_PLAIN ? POP3_SASL_LOGIN : POP3_SASL_PLAIN;
		ck_assert_msg(pop3_sasl_mech_find(v[i].name, &m) == v[i].rc, "\"%s\"", v[i].name);
		if (v[i].rc == 0)
			ck_assert_int_eq(m, v[i].m);
	}
}
END_TEST

/* ---- one response ------------------------------------------------------------ */

START_TEST(decode_one)
{
	char in[64], out[16];

	/* "=": empty, as an initial response only */
	strcpy(in, "=");
	memset(out, 'x', sizeof(out));
	ck_assert_int_eq(pop3_sasl_decode(in, 1, true, out, sizeof(out)), 0);
	ck_assert_int_eq(out[0], '\0');
	ck_assert_int_eq(in[0], '\0');
	strcpy(in, "=");
	ck_assert_int_eq(pop3_sasl_decode(in, 1, false, out, sizeof(out)), -1);
	/* the empty response */
	strcpy(in, "");
	ck_assert_int_eq(pop3_sasl_decode(in, 0, false, out, sizeof(out)), 0);
	ck_assert_int_eq(out[0], '\0');
	/* a good one, wiped */
	strcpy(in, "c2VjcmV0");
	ck_assert_int_eq(pop3_sasl_decode(in, 8, false, out, sizeof(out)), 6);
	ck_assert_str_eq(out, "secret");
	ck_assert(all_zero(in, 8));
	/* bad base64 is wiped too */
	strcpy(in, "c2VjcmV0!");
	ck_assert_int_eq(pop3_sasl_decode(in, 9, false, out, sizeof(out)), -1);
	ck_assert(all_zero(in, 9));
	static const char *bad[] = { "c2VjcmV", "c2Vj cmV0", "c2VjcmV0\r", "=c2V", "c2V=",
		"c2VjcmV0====", "c2Vj\ncmV0", "Zh==" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		strcpy(in, bad[i]);
		ck_assert_msg(pop3_sasl_decode(in, strlen(bad[i]), true, out, sizeof(out)) == -1,
		    "accepted \"%s\"", bad[i]);
	}
	/* the bound: the decoded octets and a NUL fit in cap */
	strcpy(in, "c2VjcmV0");
	ck_assert_int_eq(pop3_sasl_decode(in, 8, false, out, 7), 6);
	strcpy(in, "c2VjcmV0");
	ck_assert_int_eq(pop3_sasl_decode(in, 8, false, out, 6), -1);
	strcpy(in, "=");
	ck_assert_int_eq(pop3_sasl_decode(in, 1, true, out, 0), -1);
}
END_TEST

/* Every prefix of a PLAIN response, as an initial response and as a
 * continuation line: a length not a multiple of 4 is not base64; the others
 * decode to a prefix of the message, which is PLAIN only once both NULs
 * are in. */
START_TEST(plain_every_prefix)
{
	static const char full[] = "AGFsaWNlAHNlY3JldA==";   /* \0alice\0secret */
	static const char *pass_at[] = {
		[12] = "se", [16] = "secre", [20] = "secret",
	};

	for (size_t k = 0; k <= strlen(full); k++) {
		for (int initial = 0; initial < 2; initial++) {
			char prefix[32];
			struct run r;
			run_init(&r, 255, 1024);
			snprintf(prefix, sizeof(prefix), "%.*s", (int)k, full);
			if (!initial)
				script_add(&r.sc, prefix);
			enum pop3_sasl_rc rc = run(&r, POP3_SASL_PLAIN, initial ? prefix : NULL);
			ck_assert_uint_eq(r.sc.nasked, initial ? 0 : 1);
			if (k % 4 != 0) {
				ck_assert_msg(rc == POP3_SASL_BAD_BASE64, "prefix %zu: %d", k, rc);
			} else if (k < 12) {
				ck_assert_msg(rc == POP3_SASL_BAD_PLAIN, "prefix %zu: %d", k, rc);
			} else {
				ck_assert_msg(rc == POP3_SASL_OK, "prefix %zu: %d", k, rc);
				ck_assert_str_eq(r.c.mech, "PLAIN");
				ck_assert_str_eq(r.c.user, "alice");
				ck_assert_str_eq(r.c.pass, pass_at[k]);
			}
		}
	}
}
END_TEST

/* ---- PLAIN's message --------------------------------------------------------- */

static enum pop3_sasl_rc plain(const char *msg, size_t n, size_t user_max, size_t pass_max,
    struct pop3_sasl_creds *c)
{
	static char buf[4096];

	ck_assert_uint_lt(n, sizeof(buf));
	memcpy(buf, msg, n);
	buf[n] = '\0';
	return pop3_sasl_plain_check(buf, n, user_max, pass_max, c);
}

START_TEST(plain_message)
{
	struct pop3_sasl_creds c;

#define P(lit) lit, sizeof(lit) - 1
	ck_assert_int_eq(plain(P("\0alice\0secret"), 255, 1024, &c), POP3_SASL_OK);
	ck_assert_str_eq(c.user, "alice");
	ck_assert_str_eq(c.pass, "secret");
	/* an authzid equal to the authcid is no change of identity */
	ck_assert_int_eq(plain(P("alice\0alice\0secret"), 255, 1024, &c), POP3_SASL_OK);
	ck_assert_int_eq(plain(P("bob\0alice\0secret"), 255, 1024, &c), POP3_SASL_AUTHZID);
	ck_assert_int_eq(plain(P("Alice\0alice\0secret"), 255, 1024, &c), POP3_SASL_AUTHZID);
	/* an empty password is the server's to refuse, not a malformed message */
	ck_assert_int_eq(plain(P("\0alice\0"), 255, 1024, &c), POP3_SASL_OK);
	ck_assert_str_eq(c.pass, "");
	/* NULs: missing, one too many (a NUL in the password), empty authcid */
	static const struct { const char *m; size_t n; } bad[] = {
		{ P("") }, { P("alice") }, { P("\0alice") }, { P("alicesecret\0") },
		{ P("\0alice\0sec\0ret") }, { P("\0alice\0secret\0") }, { P("\0\0secret") },
		{ P("alice\0\0secret") }, { P("\0\0\0") }, { P("bob\0\0secret") },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(plain(bad[i].m, bad[i].n, 255, 1024, &c) == POP3_SASL_BAD_PLAIN,
		    "accepted bad[%zu]", i);
	/* bounds: at the limit, one over; a malformed message is said before
	 * a foreign authzid */
	ck_assert_int_eq(plain(P("\0abcde\0pw"), 5, 1024, &c), POP3_SASL_OK);
	ck_assert_int_eq(plain(P("\0abcdef\0pw"), 5, 1024, &c), POP3_SASL_BAD_PLAIN);
	ck_assert_int_eq(plain(P("\0a\0four"), 255, 4, &c), POP3_SASL_OK);
	ck_assert_int_eq(plain(P("\0a\0fives"), 255, 4, &c), POP3_SASL_BAD_PLAIN);
	ck_assert_int_eq(plain(P("bob\0abcdef\0pw"), 5, 1024, &c), POP3_SASL_BAD_PLAIN);
#undef P
}
END_TEST

/* ---- the exchanges ------------------------------------------------------------ */

START_TEST(plain_exchange)
{
	struct run r;

	/* initial response: nothing asked */
	run_init(&r, 255, 1024);
	ck_assert_int_eq(run(&r, POP3_SASL_PLAIN, "AGFsaWNlAHNlY3JldA=="), POP3_SASL_OK);
	ck_assert_uint_eq(r.sc.nasked, 0);
	ck_assert_str_eq(r.c.user, "alice");
	ck_assert_str_eq(r.c.pass, "secret");
	/* no initial response: an empty challenge, then the line */
	run_init(&r, 255, 1024);
	script_add(&r.sc, "AGFsaWNlAHNlY3JldA==");
	ck_assert_int_eq(run(&r, POP3_SASL_PLAIN, NULL), POP3_SASL_OK);
	ck_assert_uint_eq(r.sc.nasked, 1);
	ck_assert_str_eq(r.sc.asked[0], "");
	/* "=": an empty initial response is a malformed PLAIN message */
	run_init(&r, 255, 1024);
	ck_assert_int_eq(run(&r, POP3_SASL_PLAIN, "="), POP3_SASL_BAD_PLAIN);
	/* "*" cancels on a continuation line only */
	run_init(&r, 255, 1024);
	script_add(&r.sc, "*");
	ck_assert_int_eq(run(&r, POP3_SASL_PLAIN, NULL), POP3_SASL_CANCELLED);
	run_init(&r, 255, 1024);
	ck_assert_int_eq(run(&r, POP3_SASL_PLAIN, "*"), POP3_SASL_BAD_BASE64);
	run_init(&r, 255, 1024);
	script_add(&r.sc, "**");
	ck_assert_int_eq(run(&r, POP3_SASL_PLAIN, NULL), POP3_SASL_BAD_BASE64);
	/* the reader's verdicts */
	run_init(&r, 255, 1024);
	r.sc.rc_after = 0;
	ck_assert_int_eq(run(&r, POP3_SASL_PLAIN, NULL), POP3_SASL_END);
	run_init(&r, 255, 1024);
	r.sc.rc_after = -1;
	ck_assert_int_eq(run(&r, POP3_SASL_PLAIN, NULL), POP3_SASL_ANSWERED);
	/* a foreign authzid */
	run_init(&r, 255, 1024);
	ck_assert_int_eq(run(&r, POP3_SASL_PLAIN, "Ym9iAGFsaWNlAHNlY3JldA=="), POP3_SASL_AUTHZID);
}
END_TEST

START_TEST(login_exchange)
{
	struct run r;

	/* no initial response: "Username:", "Password:" */
	run_init(&r, 255, 1024);
	script_add(&r.sc, "YWxpY2U=");
	script_add(&r.sc, "c2VjcmV0");
	ck_assert_int_eq(run(&r, POP3_SASL_LOGIN, NULL), POP3_SASL_OK);
	ck_assert_uint_eq(r.sc.nasked, 2);
	ck_assert_str_eq(r.sc.asked[0], "VXNlcm5hbWU6");
	ck_assert_str_eq(r.sc.asked[1], "UGFzc3dvcmQ6");
	ck_assert_str_eq(r.c.mech, "LOGIN");
	ck_assert_str_eq(r.c.user, "alice");
	ck_assert_str_eq(r.c.pass, "secret");
	/* an initial response is the user name */
	run_init(&r, 255, 1024);
	script_add(&r.sc, "c2VjcmV0");
	ck_assert_int_eq(run(&r, POP3_SASL_LOGIN, "YWxpY2U="), POP3_SASL_OK);
	ck_assert_uint_eq(r.sc.nasked, 1);
	ck_assert_str_eq(r.sc.asked[0], "UGFzc3dvcmQ6");
	ck_assert_str_eq(r.c.user, "alice");
	/* an empty password line is an empty password; "=" there is not base64 */
	run_init(&r, 255, 1024);
	script_add(&r.sc, "");
	ck_assert_int_eq(run(&r, POP3_SASL_LOGIN, "YWxpY2U="), POP3_SASL_OK);
	ck_assert_str_eq(r.c.pass, "");
	run_init(&r, 255, 1024);
	script_add(&r.sc, "=");
	ck_assert_int_eq(run(&r, POP3_SASL_LOGIN, "YWxpY2U="), POP3_SASL_BAD_BASE64);
	/* user names: empty, with a NUL, too long: refused before the
	 * password is asked for */
	static const char *bad_user[] = { "", "YWwAaWNl" /* al\0ice */,
		"YWJjZGVm" /* abcdef, over 5 */ };
	for (size_t i = 0; i < sizeof(bad_user) / sizeof(bad_user[0]); i++) {
		run_init(&r, 5, 1024);
		script_add(&r.sc, bad_user[i]);
		script_add(&r.sc, "c2VjcmV0");
		ck_assert_msg(run(&r, POP3_SASL_LOGIN, NULL) == POP3_SASL_BAD_USER, "user %zu", i);
		ck_assert_uint_eq(r.sc.nasked, 1);
	}
	run_init(&r, 5, 1024);
	ck_assert_int_eq(run(&r, POP3_SASL_LOGIN, "="), POP3_SASL_BAD_USER);
	ck_assert_uint_eq(r.sc.nasked, 0);
	run_init(&r, 5, 1024);
	script_add(&r.sc, "=");
	ck_assert_int_eq(run(&r, POP3_SASL_LOGIN, NULL), POP3_SASL_BAD_BASE64);
	run_init(&r, 5, 1024);
	script_add(&r.sc, "YWJjZGU=");   /* abcde: at the limit */
	script_add(&r.sc, "c2VjcmV0");
	ck_assert_int_eq(run(&r, POP3_SASL_LOGIN, NULL), POP3_SASL_OK);
	/* passwords: a NUL (LOGIN cannot carry one), one over the limit */
	run_init(&r, 255, 1024);
	script_add(&r.sc, "c2UAY3JldA==");   /* se\0cret */
	ck_assert_int_eq(run(&r, POP3_SASL_LOGIN, "YWxpY2U="), POP3_SASL_BAD_PASS);
	run_init(&r, 255, 5);
	script_add(&r.sc, "c2VjcmV0");
	ck_assert_int_eq(run(&r, POP3_SASL_LOGIN, "YWxpY2U="), POP3_SASL_BAD_PASS);
	run_init(&r, 255, 6);
	script_add(&r.sc, "c2VjcmV0");
	ck_assert_int_eq(run(&r, POP3_SASL_LOGIN, "YWxpY2U="), POP3_SASL_OK);
	/* cancelled at either step; the session ending at either step */
	for (int at = 0; at < 2; at++) {
		run_init(&r, 255, 1024);
		if (at == 1)
			script_add(&r.sc, "YWxpY2U=");
		script_add(&r.sc, "*");
		ck_assert_int_eq(run(&r, POP3_SASL_LOGIN, NULL), POP3_SASL_CANCELLED);
		run_init(&r, 255, 1024);
		if (at == 1)
			script_add(&r.sc, "YWxpY2U=");
		ck_assert_int_eq(run(&r, POP3_SASL_LOGIN, NULL), POP3_SASL_END);
		ck_assert_uint_eq(r.sc.nasked, (size_t)at + 1);
	}
}
END_TEST

/* Responses that decode to more than the buffer holds: refused as
 * undecodable, whatever they hold. */
START_TEST(overlong)
{
	struct run r;
	char b64[4096], *p = b64;

	/* 1,539 octets decode to 1,539 > 1,536 */
	for (int i = 0; i < 513; i++)
		p += sprintf(p, "YWFh");
	run_init(&r, (size_t)-1, (size_t)-1);
	ck_assert_int_eq(run(&r, POP3_SASL_PLAIN, b64), POP3_SASL_BAD_BASE64);
	run_init(&r, (size_t)-1, (size_t)-1);
	script_add(&r.sc, b64);
	ck_assert_int_eq(run(&r, POP3_SASL_LOGIN, NULL), POP3_SASL_BAD_BASE64);
	run_init(&r, (size_t)-1, (size_t)-1);
	script_add(&r.sc, b64);
	ck_assert_int_eq(run(&r, POP3_SASL_LOGIN, "YWxpY2U="), POP3_SASL_BAD_BASE64);
	/* 1,536: fits */
	b64[512 * 4] = '\0';
	run_init(&r, (size_t)-1, (size_t)-1);
	script_add(&r.sc, b64);
	ck_assert_int_eq(run(&r, POP3_SASL_LOGIN, "YWxpY2U="), POP3_SASL_OK);
	ck_assert_uint_eq(strlen(r.c.pass), 1536);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pop3-sasl");
	TCase *tc = tcase_create("sasl");

	tcase_add_test(tc, mech_names);
	tcase_add_test(tc, decode_one);
	tcase_add_test(tc, plain_every_prefix);
	tcase_add_test(tc, plain_message);
	tcase_add_test(tc, plain_exchange);
	tcase_add_test(tc, login_exchange);
	tcase_add_test(tc, overlong);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
