/* tests/pop3/check_session.c — exact POP3 wire transcripts: the engine over
 * the memory transport against the in-memory maildrop, every command in
 * every state, errors, pipelining, limits, UPDATE semantics. Sessions read
 * as interleaved C:/S: lines (dialog()); the few whose input is generated
 * or holds raw octets compare the two directions whole (transcript()).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pop3/limits.h"
#include "pop3/session.h"
#include "tests/lib/cert.h"
#include "tests/lib/testutil.h"
#include "tests/pop3/fake_maildrop.c"
#include "tests/pop3/memio.c"
#include "tests/pop3/dialog.c"

#define HELLO "+OK popbridge ready.\r\n"
#define LOGIN "USER alice\r\nPASS secret\r\n"
#define LOGGED "+OK Send the password.\r\n+OK Logged in.\r\n"
/* The same as dialog lines (below). */
#define S_HELLO "S: " HELLO
#define CS_LOGIN "C: USER alice\r\nS: +OK Send the password.\r\n" \
	"C: PASS secret\r\nS: +OK Logged in.\r\n"
/* RETR 1 of the standard setup's MSG1. */
#define S_RETR1 "S: +OK 23 octets\r\nS: Subject: one\r\nS: \r\nS: Hello\r\nS: .\r\n"
/* What every CAPA answer starts with. */
#define S_CAPA "S: +OK Capability list follows\r\nS: TOP\r\nS: UIDL\r\nS: RESP-CODES\r\n" \
	"S: AUTH-RESP-CODE\r\nS: PIPELINING\r\n"

static const char MSG1[] = "Subject: one\r\n\r\nHello\r\n";         /* 23 */
static const char MSG2[] = "Subject: two\n\n.dot\nline2\n";          /* 29 */
static const char MSG3[] = "Subject: three\r\n\r\nno final crlf";   /* 33 */

/* A real TLS context (made once, in the parent) so that CAPA and STLS see a
 * configured certificate; the memory transport does the "handshake". */
static char tmpdir[256];
static struct pop3_tls *tls_ctx;

static void tls_setup(void)
{
	char cert[512], key[512], err[256];

	ck_assert_int_eq(pbt_mkdtemp("pop3sess", tmpdir, sizeof(tmpdir)), 0);
	ck_assert_int_eq(pbt_make_cert(tmpdir, "srv", cert, sizeof(cert), key, sizeof(key)), 0);
	tls_ctx = pop3_tls_new(cert, key, POP3_TLS_1_2, err, sizeof(err));
	if (tls_ctx == NULL)
		ck_abort_msg("pop3_tls_new: %s", err);
}

static void tls_teardown(void)
{
	pop3_tls_unref(tls_ctx);
	pbt_rmtree(tmpdir);
}

struct run {
	const struct pop3_maildrop_ops *ops;  /* NULL: fake_ops */
	struct fake_maildrop f;
	struct memio m;
	struct pop3_session_config cfg;
	struct pop3_session_stats st;
	enum pop3_result r;
	char *trace;
	size_t trace_len;
};

static void trace_fn(void *arg, const char *msg)
{
	struct run *r = arg;
	size_t n = strlen(msg);
	char *p = realloc(r->trace, r->trace_len + n + 2);
	ck_assert_ptr_nonnull(p);
	memcpy(p + r->trace_len, msg, n);
	p[r->trace_len + n] = '\n';
	p[r->trace_len + n + 1] = '\0';
	r->trace = p;
	r->trace_len += n + 1;
}

/* The standard setup: alice/secret with three messages, plaintext allowed,
 * no certificate. */
static void setup(struct run *r)
{
	memset(r, 0, sizeof(*r));
	fake_init(&r->f, "alice", "secret");
	fake_adds(&r->f, MSG1);
	fake_adds(&r->f, MSG2);
	fake_adds(&r->f, MSG3);
	r->cfg.plaintext_auth_allowed = true;
	r->cfg.expire = "NEVER";
	r->cfg.implementation = "popbridge-test";
	r->cfg.remote_addr = "127.0.0.1";
	r->cfg.trace = trace_fn;
	r->cfg.trace_arg = r;
}

/* The standard setup without EXPIRE and IMPLEMENTATION in CAPA. */
static void setup_bare(struct run *r)
{
	setup(r);
	r->cfg.expire = NULL;
	r->cfg.implementation = NULL;
}

static void go(struct run *r, const char *in, size_t len)
{
	memio_init(&r->m, in, len);
}

static void start(struct run *r)
{
	r->r = pop3_session_run_transport(&r->m.base, &r->cfg, r->ops ? r->ops : &fake_ops,
	    &r->f, &r->st);
	ck_assert_int_eq(r->m.closes, 1);
	ck_assert_int_eq(r->r, r->st.result);
	/* close() exactly once per successful open() */
	ck_assert_int_eq(r->f.closes, r->f.open_ok);
	ck_assert(!r->f.is_open);
}

/* The input in[0..len) in one read, run. */
static void feed(struct run *r, const char *in, size_t len)
{
	go(r, in, len);
	start(r);
}

static void finish(struct run *r)
{
	memio_free(&r->m);
	free(r->trace);
}

static void expect_out(struct run *r, const char *want)
{
	dialog_expect(&r->m, want);
}

/* Run one whole session (input in one packet) and compare the transcript;
 * then again with the input trickled one octet per read, which must give
 * the same bytes, and, given a dialog, read as that dialog. Leaves the
 * first run's results in r. */
static void run_transcript(struct run *r, const char *in, const char *want, const char *text)
{
	struct run again;

	memcpy(&again, r, sizeof(again));
	go(r, in, strlen(in));
	start(r);
	expect_out(r, want);

	go(&again, in, strlen(in));
	again.m.max_read = 1;
	again.m.out_at = calloc(strlen(in) + 1, sizeof(size_t));
	ck_assert_ptr_nonnull(again.m.out_at);
	again.trace = NULL;
	again.trace_len = 0;
	start(&again);
	expect_out(&again, want);
	ck_assert_int_eq(again.r, r->r);
	if (text != NULL) {
		char *got = dialog_of(&again.m);
		if (strcmp(got, text) != 0) {
			char *g = visible(got, strlen(got)), *w = visible(text, strlen(text));
			ck_abort_msg("dialog differs\n--- got:\n%s\n--- want:\n%s", g, w);
		}
		free(got);
	}
	free(again.m.out_at);
	finish(&again);
}

/* A session's exact bytes: input, and the output it must give. */
static void transcript(struct run *r, const char *in, const char *want)
{
	run_transcript(r, in, want, NULL);
}

/* A session as a dialog (above). */
static void dialog(struct run *r, const char *text)
{
	struct pbt_buf in = { 0 }, want = { 0 };

	dialog_split(text, &in, &want);
	run_transcript(r, in.p, want.p, text);
	free(in.p);
	free(want.p);
}

/* ---- AUTHORIZATION ---------------------------------------------------------- */

START_TEST(quit_before_login)
{
	struct run r;
	setup(&r);
	dialog(&r,
	    S_HELLO
	    "C: QUIT\r\n"
	    "S: +OK Bye.\r\n");
	ck_assert_int_eq(r.r, POP3_RESULT_QUIT);
	ck_assert_int_eq(r.f.opens, 0);
	ck_assert_str_eq(r.st.remote_addr, "127.0.0.1");
	ck_assert_uint_eq(r.st.bytes_in, 6);
	ck_assert_uint_eq(r.st.bytes_out, strlen(HELLO "+OK Bye.\r\n"));
	finish(&r);
}
END_TEST

START_TEST(capa_authorization)
{
#define CAPA_LIST S_CAPA "S: EXPIRE NEVER\r\n" \
	"S: LOGIN-DELAY 300\r\nS: USER\r\nS: SASL PLAIN LOGIN\r\n" \
	"S: IMPLEMENTATION popbridge-test\r\nS: .\r\n"
	struct run r;
	setup(&r);
	r.cfg.login_delay_s = 300;
	dialog(&r,
	    S_HELLO
	    "C: CAPA\r\n"
	    CAPA_LIST
	    "C: capa\r\n"
	    CAPA_LIST
	    "C: CAPA x\r\n"
	    "S: -ERR CAPA takes no arguments.\r\n"
	    "C: QUIT\r\n"
	    "S: +OK Bye.\r\n");
	finish(&r);
#undef CAPA_LIST
}
END_TEST

/* LOGIN-DELAY per device (SPEC §14, RFC 2449 §6.5): before login the
 * configuration's value, followed by USER (it may differ per user); after
 * login the maildrop's value for this device, or no tag when it has none. */
/* The standard setup with a global delay of 300 s announced per user, and a
 * maildrop whose device has its own `device_delay`. */
static void setup_delays(struct run *r, unsigned device_delay)
{
	static struct pop3_maildrop_ops delay_ops;
	delay_ops = fake_ops;
	delay_ops.login_delay = fake_login_delay;
	setup(r);
	r->ops = &delay_ops;
	r->cfg.login_delay_s = 300;
	r->cfg.login_delay_per_user = true;
	r->f.login_delay = device_delay;
}

START_TEST(capa_login_delay_per_device)
{
	struct run r;
	setup_delays(&r, 900);
	dialog(&r,
	    S_HELLO
	    "C: CAPA\r\n"
	    S_CAPA "S: EXPIRE NEVER\r\nS: LOGIN-DELAY 300 USER\r\nS: USER\r\n"
	    "S: SASL PLAIN LOGIN\r\nS: IMPLEMENTATION popbridge-test\r\nS: .\r\n"
	    CS_LOGIN
	    "C: CAPA\r\n"
	    S_CAPA "S: EXPIRE NEVER\r\nS: LOGIN-DELAY 900\r\n"
	    "S: IMPLEMENTATION popbridge-test\r\nS: .\r\n"
	    "C: QUIT\r\n"
	    "S: +OK Logging out.\r\n");
	finish(&r);

	/* a device without a delay of its own: no tag after login */
	setup_delays(&r, 0);
	dialog(&r,
	    S_HELLO
	    CS_LOGIN
	    "C: CAPA\r\n"
	    S_CAPA "S: EXPIRE NEVER\r\nS: IMPLEMENTATION popbridge-test\r\nS: .\r\n"
	    "C: QUIT\r\n"
	    "S: +OK Logging out.\r\n");
	finish(&r);

	/* refused: the maildrop's text after the code; no failed login counted */
	setup(&r);
	r.f.open_status = POP3_MD_LOGIN_DELAY;
	snprintf(r.f.open_reply.text, sizeof(r.f.open_reply.text),
	    "This device may log in once every 900 seconds.");
	dialog(&r,
	    S_HELLO
	    "C: USER alice\r\nS: +OK Send the password.\r\n"
	    "C: PASS secret\r\n"
	    "S: -ERR [LOGIN-DELAY] This device may log in once every 900 seconds.\r\n"
	    "C: QUIT\r\n"
	    "S: +OK Bye.\r\n");
	ck_assert_uint_eq(r.st.auth_failures, 0);
	ck_assert_str_eq(r.st.reason,
	    "[LOGIN-DELAY] This device may log in once every 900 seconds.");
	finish(&r);
}
END_TEST

START_TEST(capa_no_plaintext_with_stls)
{
	struct run r;
	setup_bare(&r);
	r.cfg.plaintext_auth_allowed = false;
	r.cfg.tls = tls_ctx;
	r.cfg.offer_stls = true;
	dialog(&r,
	    S_HELLO
	    "C: CAPA\r\n"
	    S_CAPA
	    "S: STLS\r\n"
	    "S: .\r\n"
	    "C: USER alice\r\n"
	    "S: -ERR [AUTH] Plaintext authentication disallowed on non-secure connection.\r\n"
	    "C: PASS secret\r\n"
	    "S: -ERR [AUTH] Plaintext authentication disallowed on non-secure connection.\r\n"
	    "C: AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n"
	    "S: -ERR [AUTH] Plaintext authentication disallowed on non-secure connection.\r\n"
	    "C: AUTH\r\n"
	    "S: +OK Supported mechanisms follow\r\n"
	    "S: .\r\n"
	    "C: QUIT\r\n"
	    "S: +OK Bye.\r\n");
	ck_assert_int_eq(r.f.opens, 0);
	finish(&r);
}
END_TEST

START_TEST(user_pass_errors)
{
	struct run r;
	setup(&r);
	dialog(&r,
	    S_HELLO
	    "C: PASS secret\r\n"                        /* no USER */
	    "S: -ERR Send USER first.\r\n"
	    "C: USER\r\n"                               /* no name */
	    "S: -ERR USER needs a user name.\r\n"
	    "C: USER alice\r\n"
	    "S: +OK Send the password.\r\n"
	    "C: PASS wrong\r\n"
	    "S: -ERR [AUTH] Authentication failed.\r\n"
	    "C: PASS secret\r\n"                        /* USER is forgotten after a failure */
	    "S: -ERR Send USER first.\r\n"
	    "C: USER alice\r\n"
	    "S: +OK Send the password.\r\n"
	    "C: PASS\r\n"                               /* empty password: the maildrop says no */
	    "S: -ERR [AUTH] Authentication failed.\r\n"
	    "C: STAT\r\n"
	    "S: -ERR Command not valid in this state.\r\n"
	    "C: LIST\r\n"
	    "S: -ERR Command not valid in this state.\r\n"
	    "C: RETR 1\r\n"
	    "S: -ERR Command not valid in this state.\r\n"
	    "C: DELE 1\r\n"
	    "S: -ERR Command not valid in this state.\r\n"
	    "C: NOOP\r\n"
	    "S: -ERR Command not valid in this state.\r\n"
	    "C: RSET\r\n"
	    "S: -ERR Command not valid in this state.\r\n"
	    "C: UIDL\r\n"
	    "S: -ERR Command not valid in this state.\r\n"
	    "C: TOP 1 1\r\n"
	    "S: -ERR Command not valid in this state.\r\n"
	    "C: QUIT\r\n"
	    "S: +OK Bye.\r\n");
	ck_assert_int_eq(r.r, POP3_RESULT_AUTH_FAILED);
	ck_assert_uint_eq(r.st.auth_failures, 2);
	ck_assert_int_eq(r.f.opens, 2);
	ck_assert_uint_eq(r.f.last_pass_len, 0);
	ck_assert_str_eq(r.st.user, "alice");
	ck_assert_str_eq(r.st.mechanism, "USER");
	/* the password never reaches the trace */
	ck_assert_ptr_null(strstr(r.trace, "wrong"));
	ck_assert_ptr_null(strstr(r.trace, "secret"));
	finish(&r);
}
END_TEST

START_TEST(password_with_spaces)
{
	struct run r;
	setup(&r);
	r.f.pass = " se cret ";
	dialog(&r,
	    S_HELLO
	    "C: USER alice\r\n"
	    "S: +OK Send the password.\r\n"
	    "C: PASS  se cret \r\n"
	    "S: +OK Logged in.\r\n"
	    "C: QUIT\r\n"
	    "S: +OK Logging out.\r\n");
	ck_assert_int_eq(r.r, POP3_RESULT_COMMITTED);
	ck_assert_str_eq(r.f.last_addr, "127.0.0.1");
	ck_assert_str_eq(r.f.last_tls, "");
	finish(&r);
}
END_TEST

/* Each maildrop status maps to its response code; the maildrop's text is
 * used when it gives one. */
START_TEST(open_statuses)
{
	static const struct {
		enum pop3_md_status st;
		const char *text;
		const char *want;
	} v[] = {
		{ POP3_MD_AUTH, "", "-ERR [AUTH] Authentication failed.\r\n" },
		{ POP3_MD_IN_USE, "", "-ERR [IN-USE] Mailbox is in use by another session.\r\n" },
		{ POP3_MD_LOGIN_DELAY, "", "-ERR [LOGIN-DELAY] Logged in too recently, try again later.\r\n" },
		{ POP3_MD_TEMP, "", "-ERR [SYS/TEMP] Temporary failure, try again later.\r\n" },
		{ POP3_MD_PERM, "", "-ERR [SYS/PERM] Mailbox unavailable, contact the administrator.\r\n" },
		{ POP3_MD_GONE, "", "-ERR [SYS/TEMP] Temporary failure, try again later.\r\n" },
		{ POP3_MD_TEMP, "IMAP server unreachable", "-ERR [SYS/TEMP] IMAP server unreachable\r\n" },
		{ POP3_MD_PERM, "bad\r\nstuff\x01", "-ERR [SYS/PERM] bad??stuff?\r\n" },
	};
	char want[512];
	struct run r;

	setup(&r);
	r.f.open_status = v[_i].st;
	snprintf(r.f.open_reply.text, sizeof(r.f.open_reply.text), "%s", v[_i].text);
	snprintf(want, sizeof(want), HELLO "+OK Send the password.\r\n%s+OK Bye.\r\n", v[_i].want);
	transcript(&r, "USER alice\r\nPASS secret\r\nQUIT\r\n", want);
	ck_assert_int_eq(r.r, v[_i].st == POP3_MD_AUTH ? POP3_RESULT_AUTH_FAILED
	    : POP3_RESULT_QUIT);
	ck_assert_uint_eq(r.st.auth_failures, v[_i].st == POP3_MD_AUTH);
	ck_assert_int_eq(r.f.open_ok, 0);
	/* the reason is the reply without "-ERR " and CRLF */
	ck_assert_uint_eq(strlen(r.st.reason), strlen(v[_i].want) - 7);
	ck_assert(strncmp(r.st.reason, v[_i].want + 5, strlen(r.st.reason)) == 0);
	finish(&r);
}
END_TEST

START_TEST(failed_login_delay)
{
	struct run r;
	setup(&r);
	r.f.open_reply.delay_ms = 300;
	go(&r, "USER alice\r\nPASS nope\r\n", 23);
	double t0 = pbt_now();
	start(&r);
	ck_assert(pbt_now() - t0 >= 0.29);
	expect_out(&r, HELLO "+OK Send the password.\r\n-ERR [AUTH] Authentication failed.\r\n");
	ck_assert_int_eq(r.r, POP3_RESULT_AUTH_FAILED);
	finish(&r);
}
END_TEST

/* ---- SASL --------------------------------------------------------------------- */

START_TEST(auth_plain)
{
	struct run r;
	/* "\0alice\0secret" and "alice\0alice\0secret" */
	setup(&r);
	dialog(&r,
	    S_HELLO
	    "C: AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n"
	    "S: +OK Logged in.\r\n"
	    "C: QUIT\r\n"
	    "S: +OK Logging out.\r\n");
	ck_assert_str_eq(r.f.last_mech, "PLAIN");
	ck_assert_str_eq(r.st.mechanism, "PLAIN");
	finish(&r);

	setup(&r);
	dialog(&r,
	    S_HELLO
	    "C: auth plain\r\n"
	    "S: + \r\n"
	    "C: YWxpY2UAYWxpY2UAc2VjcmV0\r\n"
	    "S: +OK Logged in.\r\n"
	    "C: QUIT\r\n"
	    "S: +OK Logging out.\r\n");
	finish(&r);
}
END_TEST

START_TEST(auth_plain_errors)
{
	struct run r;
	setup(&r);
	dialog(&r,
	    S_HELLO
	    "C: AUTH PLAIN\r\n"
	    "S: + \r\n"
	    "C: *\r\n"                                  /* cancelled */
	    "S: -ERR Authentication cancelled.\r\n"
	    "C: AUTH PLAIN =\r\n"                       /* empty response */
	    "S: -ERR Malformed PLAIN response.\r\n"
	    "C: AUTH PLAIN AGFsaWNlAHNlY3JldA\r\n"      /* bad padding */
	    "S: -ERR Invalid base64 data.\r\n"
	    "C: AUTH PLAIN AGFsaWNl AHNlY3JldA==\r\n"   /* space inside */
	    "S: -ERR Invalid base64 data.\r\n"
	    "C: AUTH PLAIN\r\n"
	    "S: + \r\n"
	    "C: AGFsaWNlAHNlY3JldA=\r\n"                /* bad length */
	    "S: -ERR Invalid base64 data.\r\n"
	    "C: AUTH PLAIN Ym9iAGFsaWNlAHNlY3JldA==\r\n" /* authzid bob */
	    "S: -ERR [AUTH] Authorization identity not allowed.\r\n"
	    "C: AUTH PLAIN YWxpY2VzZWNyZXQ=\r\n"        /* no NULs */
	    "S: -ERR Malformed PLAIN response.\r\n"
	    "C: AUTH PLAIN AAA=\r\n"                    /* \0\0: empty authcid */
	    "S: -ERR Malformed PLAIN response.\r\n"
	    "C: AUTH PLAIN AGFsaWNlAHNlAGNyZXQ=\r\n"    /* a third NUL */
	    "S: -ERR Malformed PLAIN response.\r\n"
	    "C: AUTH PLAIN AGFsaWNlAHdyb25n\r\n"        /* wrong password */
	    "S: -ERR [AUTH] Authentication failed.\r\n"
	    "C: AUTH CRAM-MD5\r\n"
	    "S: -ERR Unsupported authentication mechanism.\r\n"
	    "C: AUTH\r\n"
	    "S: +OK Supported mechanisms follow\r\n"
	    "S: PLAIN\r\n"
	    "S: LOGIN\r\n"
	    "S: .\r\n"
	    "C: APOP alice 0123456789abcdef0123456789abcdef\r\n"
	    "S: -ERR Unknown command.\r\n"
	    "C: QUIT\r\n"
	    "S: +OK Bye.\r\n");
	ck_assert_int_eq(r.f.opens, 1);
	ck_assert_uint_eq(r.st.auth_failures, 2);
	finish(&r);
}
END_TEST

START_TEST(auth_login)
{
	struct run r;
	/* YWxpY2U= alice, c2VjcmV0 secret */
	setup(&r);
	dialog(&r,
	    S_HELLO
	    "C: AUTH LOGIN\r\n"
	    "S: + VXNlcm5hbWU6\r\n"
	    "C: YWxpY2U=\r\n"
	    "S: + UGFzc3dvcmQ6\r\n"
	    "C: c2VjcmV0\r\n"
	    "S: +OK Logged in.\r\n"
	    "C: QUIT\r\n"
	    "S: +OK Logging out.\r\n");
	ck_assert_str_eq(r.f.last_mech, "LOGIN");
	finish(&r);

	setup(&r);
	dialog(&r,
	    S_HELLO
	    "C: AUTH LOGIN YWxpY2U=\r\n"
	    "S: + UGFzc3dvcmQ6\r\n"
	    "C: c2VjcmV0\r\n"
	    "S: +OK Logged in.\r\n"
	    "C: QUIT\r\n"
	    "S: +OK Logging out.\r\n");
	finish(&r);

	setup(&r);
	dialog(&r,
	    S_HELLO
	    "C: AUTH LOGIN\r\n"
	    "S: + VXNlcm5hbWU6\r\n"
	    "C: *\r\n"
	    "S: -ERR Authentication cancelled.\r\n"
	    "C: AUTH LOGIN YWxpY2U=\r\n"
	    "S: + UGFzc3dvcmQ6\r\n"
	    "C: *\r\n"
	    "S: -ERR Authentication cancelled.\r\n"
	    "C: AUTH LOGIN =\r\n"
	    "S: -ERR Malformed LOGIN user name.\r\n"
	    "C: AUTH LOGIN\r\n"
	    "S: + VXNlcm5hbWU6\r\n"
	    "C: YWxp\r\n"
	    "S: + UGFzc3dvcmQ6\r\n"
	    "C: =\r\n"
	    "S: -ERR Invalid base64 data.\r\n"
	    "C: AUTH LOGIN YWxpY2U=\r\n"
	    "S: + UGFzc3dvcmQ6\r\n"
	    "C: bm9wZQ==\r\n"
	    "S: -ERR [AUTH] Authentication failed.\r\n"
	    "C: QUIT\r\n"
	    "S: +OK Bye.\r\n");
	ck_assert_int_eq(r.f.opens, 1);
	finish(&r);
}
END_TEST

/* An initial response lives in the line buffer that the next read reuses:
 * the password line and a pipelined CAPA, sent in one write after the
 * challenge, must both be read intact (issue 12: the late wipe of the
 * initial response ran over them, "-ERR NUL octet in line"). */
START_TEST(auth_login_initial_then_pipelined)
{
	static const char in[] = "AUTH LOGIN dXNlcg==\r\nYQ==\r\nCAPA\r\nQUIT\r\n";
	static const char want[] = HELLO "+ UGFzc3dvcmQ6\r\n"
	    "-ERR [AUTH] Authentication failed.\r\n"
	    "+OK Capability list follows\r\n"
	    "TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n"
	    "USER\r\nSASL PLAIN LOGIN\r\n.\r\n"
	    "+OK Bye.\r\n";
	size_t first = strlen("AUTH LOGIN dXNlcg==\r\n");
	struct run r;

	for (int mode = 0; mode < 3; mode++) {
		setup_bare(&r);
		go(&r, in, sizeof(in) - 1);
		if (mode == 0) {        /* the AUTH line, then the rest in one write */
			memio_packet(&r.m, first);
		} else if (mode == 1) { /* one octet per read */
			r.m.max_read = 1;
		}                       /* mode 2: everything at once */
		start(&r);
		expect_out(&r, want);
		ck_assert_int_eq(r.r, POP3_RESULT_AUTH_FAILED);
		ck_assert_str_eq(r.f.last_user, "user");
		ck_assert_uint_eq(r.f.last_pass_len, 1);
		finish(&r);
	}
}
END_TEST

/* Continuation lines: longer than a command line is fine (up to the line
 * buffer), longer than that or holding NUL is refused. */
START_TEST(sasl_bad_lines)
{
	static const char head[] = "AUTH LOGIN\r\nYW\0xp\r\nAUTH PLAIN\r\n";
	size_t n = sizeof(head) - 1, big = POP3_SASL_LINE_MAX + 10;
	char *in = malloc(n + big + 600);
	struct run r;

	ck_assert_ptr_nonnull(in);
	memcpy(in, head, n);
	memset(in + n, 'A', big);
	n += big;
	/* a 399-octet PLAIN response (532 in base64): "\0alice\0" + 392 x 'p' */
	static const char tail[] = "\r\nAUTH PLAIN\r\n";
	memcpy(in + n, tail, sizeof(tail) - 1);
	n += sizeof(tail) - 1;
	char raw[399] = "\0alice\0";
	memset(raw + 7, 'p', sizeof(raw) - 7);
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	for (size_t i = 0; i < sizeof(raw); i += 3) {
		unsigned v = (unsigned char)raw[i] << 16 | (unsigned char)raw[i + 1] << 8 |
		    (unsigned char)raw[i + 2];
		for (int k = 3; k >= 0; k--)
			in[n++] = b64[(v >> (6 * k)) & 63];
	}
	memcpy(in + n, "\r\nQUIT\r\n", 8);
	n += 8;
	char pass[393];
	memset(pass, 'p', 392);
	pass[392] = '\0';
	setup(&r);
	r.f.pass = pass;
	feed(&r, in, n);
	expect_out(&r, HELLO "+ VXNlcm5hbWU6\r\n-ERR NUL octet in line.\r\n"
	    "+ \r\n-ERR Line too long.\r\n"
	    "+ \r\n+OK Logged in.\r\n+OK Logging out.\r\n");
	ck_assert_uint_eq(r.f.last_pass_len, 392);
	finish(&r);
	free(in);
}
END_TEST

/* The client disappears in the middle of a SASL exchange. */
START_TEST(auth_dropped)
{
	struct run r;
	setup(&r);
	dialog(&r,
	    S_HELLO
	    "C: AUTH LOGIN\r\n"
	    "S: + VXNlcm5hbWU6\r\n"
	    "C: YWxpY2U=\r\n"
	    "S: + UGFzc3dvcmQ6\r\n");
	ck_assert_int_eq(r.r, POP3_RESULT_DROPPED);
	ck_assert_int_eq(r.f.opens, 0);
	finish(&r);
}
END_TEST

/* ---- TRANSACTION ------------------------------------------------------------ */

START_TEST(transaction_commands)
{
	struct run r;
	setup(&r);
	dialog(&r,
	    S_HELLO CS_LOGIN
	    "C: STAT\r\n"
	    "S: +OK 3 85\r\n"
	    "C: LIST\r\n"
	    "S: +OK 3 messages (85 octets)\r\n"
	    "S: 1 23\r\n"
	    "S: 2 29\r\n"
	    "S: 3 33\r\n"
	    "S: .\r\n"
	    "C: LIST 2\r\n"
	    "S: +OK 2 29\r\n"
	    "C: UIDL\r\n"
	    "S: +OK Unique-ID listing follows\r\n"
	    "S: 1 uid-1\r\n"
	    "S: 2 uid-2\r\n"
	    "S: 3 uid-3\r\n"
	    "S: .\r\n"
	    "C: UIDL 3\r\n"
	    "S: +OK 3 uid-3\r\n"
	    "C: NOOP\r\n"
	    "S: +OK Nothing to do.\r\n"
	    "C: RETR 1\r\n"
	    S_RETR1
	    "C: RETR 2\r\n"
	    "S: +OK 29 octets\r\n"
	    "S: Subject: two\r\n"
	    "S: \r\n"
	    "S: ..dot\r\n"
	    "S: line2\r\n"
	    "S: .\r\n"
	    "C: RETR 3\r\n"
	    "S: +OK 33 octets\r\n"
	    "S: Subject: three\r\n"
	    "S: \r\n"
	    "S: no final crlf\r\n"
	    "S: .\r\n"
	    "C: TOP 1 0\r\n"
	    "S: +OK Top of message follows\r\n"
	    "S: Subject: one\r\n"
	    "S: \r\n"
	    "S: .\r\n"
	    "C: TOP 2 1\r\n"
	    "S: +OK Top of message follows\r\n"
	    "S: Subject: two\r\n"
	    "S: \r\n"
	    "S: ..dot\r\n"
	    "S: .\r\n"
	    "C: TOP 3 100\r\n"
	    "S: +OK Top of message follows\r\n"
	    "S: Subject: three\r\n"
	    "S: \r\n"
	    "S: no final crlf\r\n"
	    "S: .\r\n"
	    "C: CAPA\r\n"
	    S_CAPA
	    "S: EXPIRE NEVER\r\n"
	    "S: IMPLEMENTATION popbridge-test\r\n"
	    "S: .\r\n"
	    "C: QUIT\r\n"
	    "S: +OK Logging out.\r\n");
	ck_assert_int_eq(r.r, POP3_RESULT_COMMITTED);
	ck_assert_int_eq(r.f.commits, 1);
	ck_assert_uint_eq(r.f.ncommitted, 0);
	/* retrieved() after each complete RETR, with the exact octets; not
	 * after TOP */
	ck_assert_uint_eq(r.f.nretrieved, 3);
	for (size_t i = 0; i < 3; i++) {
		ck_assert_uint_eq(r.f.retrieved_idx[i], i);
		ck_assert_uint_eq(r.f.retrieved_octets[i],
		    fake_wire_size(r.f.msgs[i].data, r.f.msgs[i].len));
	}
	ck_assert_uint_eq(r.st.retr_count, 3);
	ck_assert_uint_eq(r.st.retr_octets, 85);
	ck_assert_uint_eq(r.st.top_count, 3);
	ck_assert_uint_eq(r.st.top_octets, 16 + 22 + 33);
	ck_assert(r.st.logged_in);
	ck_assert_uint_eq(r.st.messages, 3);
	/* TOP 1 0 and TOP 2 1 stopped the fetch early */
	ck_assert_int_eq(r.f.sink_stops, 2);
	ck_assert_ptr_nonnull(strstr(r.trace, "state AUTHORIZATION -> TRANSACTION"));
	ck_assert_ptr_nonnull(strstr(r.trace, "state TRANSACTION -> UPDATE"));
	finish(&r);
}
END_TEST

START_TEST(message_numbers)
{
	struct run r;
	setup(&r);
	dialog(&r,
	    S_HELLO CS_LOGIN
	    "C: RETR 0\r\n"
	    "S: -ERR No such message.\r\n"
	    "C: RETR 4\r\n"
	    "S: -ERR No such message.\r\n"
	    "C: RETR -1\r\n"
	    "S: -ERR Invalid message number.\r\n"
	    "C: RETR +1\r\n"
	    "S: -ERR Invalid message number.\r\n"
	    "C: RETR 1x\r\n"
	    "S: -ERR Invalid message number.\r\n"
	    "C: RETR x\r\n"
	    "S: -ERR Invalid message number.\r\n"
	    "C: RETR 18446744073709551617\r\n"
	    "S: -ERR Invalid message number.\r\n"
	    "C: RETR 18446744073709551615\r\n"
	    "S: -ERR No such message.\r\n"
	    "C: RETR 123456789012345678901\r\n"
	    "S: -ERR Invalid message number.\r\n"
	    "C: RETR\r\n"
	    "S: -ERR RETR needs one message number.\r\n"
	    "C: RETR 1 2\r\n"
	    "S: -ERR RETR needs one message number.\r\n"
	    "C: RETR 0x1\r\n"
	    "S: -ERR Invalid message number.\r\n"
	    "C: LIST 4\r\n"
	    "S: -ERR No such message.\r\n"
	    "C: LIST 1 2\r\n"
	    "S: -ERR Too many arguments.\r\n"
	    "C: UIDL 0\r\n"
	    "S: -ERR No such message.\r\n"
	    "C: DELE 9\r\n"
	    "S: -ERR No such message.\r\n"
	    "C: DELE\r\n"
	    "S: -ERR DELE needs one message number.\r\n"
	    "C: QUIT\r\n"
	    "S: +OK Logging out.\r\n");
	finish(&r);

	setup(&r);
	dialog(&r,
	    S_HELLO CS_LOGIN
	    "C: TOP 1\r\n"
	    "S: -ERR TOP needs a message number and a line count.\r\n"
	    "C: TOP 1 -1\r\n"
	    "S: -ERR Invalid line count.\r\n"
	    "C: TOP 1 x\r\n"
	    "S: -ERR Invalid line count.\r\n"
	    "C: TOP 4 1\r\n"
	    "S: -ERR No such message.\r\n"
	    "C: TOP 1 1 1\r\n"
	    "S: -ERR TOP needs a message number and a line count.\r\n"
	    "C: TOP 1 18446744073709551616\r\n"
	    "S: -ERR Invalid line count.\r\n"
	    "C: STAT x\r\n"
	    "S: -ERR No arguments expected.\r\n"
	    "C: NOOP x\r\n"
	    "S: -ERR No arguments expected.\r\n"
	    "C: RSET x\r\n"
	    "S: -ERR No arguments expected.\r\n"
	    "C: QUIT x\r\n"
	    "S: -ERR No arguments expected.\r\n"
	    "C: RETR 001\r\n"
	    S_RETR1
	    "C: LIST  2 \r\n"
	    "S: +OK 2 29\r\n"
	    "C: QUIT\r\n"
	    "S: +OK Logging out.\r\n");
	finish(&r);
}
END_TEST

START_TEST(dele_rset_quit)
{
	struct run r;
	setup(&r);
	dialog(&r,
	    S_HELLO CS_LOGIN
	    "C: DELE 2\r\n"
	    "S: +OK Marked to be deleted.\r\n"
	    "C: DELE 2\r\n"
	    "S: -ERR Message is deleted.\r\n"
	    "C: RETR 2\r\n"
	    "S: -ERR Message is deleted.\r\n"
	    "C: TOP 2 0\r\n"
	    "S: -ERR Message is deleted.\r\n"
	    "C: LIST 2\r\n"
	    "S: -ERR Message is deleted.\r\n"
	    "C: UIDL 2\r\n"
	    "S: -ERR Message is deleted.\r\n"
	    "C: STAT\r\n"
	    "S: +OK 2 56\r\n"
	    "C: LIST\r\n"
	    "S: +OK 2 messages (56 octets)\r\n"
	    "S: 1 23\r\n"
	    "S: 3 33\r\n"
	    "S: .\r\n"
	    "C: UIDL\r\n"
	    "S: +OK Unique-ID listing follows\r\n"
	    "S: 1 uid-1\r\n"
	    "S: 3 uid-3\r\n"
	    "S: .\r\n"
	    "C: RSET\r\n"
	    "S: +OK Maildrop has 3 messages (85 octets).\r\n"
	    "C: STAT\r\n"
	    "S: +OK 3 85\r\n"
	    "C: DELE 1\r\n"
	    "S: +OK Marked to be deleted.\r\n"
	    "C: DELE 3\r\n"
	    "S: +OK Marked to be deleted.\r\n"
	    "C: STAT\r\n"
	    "S: +OK 1 29\r\n"
	    "C: QUIT\r\n"
	    "S: +OK Logging out.\r\n");
	ck_assert_int_eq(r.r, POP3_RESULT_COMMITTED);
	ck_assert_int_eq(r.f.commits, 1);
	ck_assert_uint_eq(r.f.ncommitted, 2);
	ck_assert_uint_eq(r.f.committed[0], 0);
	ck_assert_uint_eq(r.f.committed[1], 2);
	ck_assert_uint_eq(r.st.dele_count, 2);
	finish(&r);
}
END_TEST

/* A dropped connection or a timeout commits nothing. */
START_TEST(no_quit_no_commit)
{
	struct run r;
	setup(&r);
	dialog(&r,
	    S_HELLO CS_LOGIN
	    "C: DELE 1\r\n"
	    "S: +OK Marked to be deleted.\r\n"
	    "C: DELE 2\r\n"
	    "S: +OK Marked to be deleted.\r\n");
	ck_assert_int_eq(r.r, POP3_RESULT_DROPPED);
	ck_assert_int_eq(r.f.commits, 0);
	ck_assert_int_eq(r.f.closes, 1);
	finish(&r);

	setup(&r);
	go(&r, LOGIN "DELE 1\r\n", strlen(LOGIN "DELE 1\r\n"));
	r.m.at_end = POP3_IO_TIMEOUT;
	start(&r);
	expect_out(&r, HELLO LOGGED "+OK Marked to be deleted.\r\n"
	    "-ERR Disconnected for inactivity.\r\n");
	ck_assert_int_eq(r.r, POP3_RESULT_TIMEOUT);
	ck_assert_int_eq(r.f.commits, 0);
	ck_assert_int_eq(r.f.closes, 1);
	finish(&r);

	/* a half command line, then the end */
	setup(&r);
	dialog(&r,
	    S_HELLO CS_LOGIN
	    "C: DELE 1\r\n"
	    "S: +OK Marked to be deleted.\r\n"
	    "C: QUI");
	ck_assert_int_eq(r.f.commits, 0);
	finish(&r);
}
END_TEST

/* A maildrop with release() (pop3/maildrop.h): called exactly once after
 * close(), once the client has had QUIT's +OK (the output holds it), and
 * also after a session that ended without QUIT. */
static struct run *release_run;
static int releases;
static bool released_after_ok;

static void rec_release(void *md)
{
	(void)md;
	releases++;
	ck_assert_int_eq(release_run->f.closes, 1);
	released_after_ok = strstr(release_run->m.out, "+OK Logging out.\r\n") != NULL;
}

START_TEST(release_after_answer)
{
	struct run r;
	struct pop3_maildrop_ops ops = fake_ops;
	ops.release = rec_release;
	const char *in[] = { LOGIN "STAT\r\nQUIT\r\n", LOGIN "STAT\r\n" };
	for (int i = 0; i < 2; i++) {
		setup(&r);
		release_run = &r;
		releases = 0;
		released_after_ok = false;
		go(&r, in[i], strlen(in[i]));
		r.r = pop3_session_run_transport(&r.m.base, &r.cfg, &ops, &r.f, &r.st);
		ck_assert_int_eq(r.f.closes, 1);
		ck_assert_int_eq(releases, 1);
		ck_assert(released_after_ok == (i == 0));
		finish(&r);
	}
}
END_TEST

START_TEST(commit_failure)
{
	struct run r;
	setup(&r);
	r.f.commit_status = POP3_MD_TEMP;
	dialog(&r,
	    S_HELLO CS_LOGIN
	    "C: DELE 1\r\n"
	    "S: +OK Marked to be deleted.\r\n"
	    "C: QUIT\r\n"
	    "S: -ERR [SYS/TEMP] Some deleted messages not removed.\r\n");
	ck_assert_int_eq(r.r, POP3_RESULT_COMMIT_FAILED);
	ck_assert_int_eq(r.f.commits, 1);
	ck_assert_int_eq(r.f.closes, 1);
	ck_assert_uint_eq(r.st.dele_count, 1);
	finish(&r);

	setup(&r);
	r.f.commit_status = POP3_MD_PERM;
	r.f.commit_text = "Upstream refused the account.";
	dialog(&r,
	    S_HELLO CS_LOGIN
	    "C: QUIT\r\n"
	    "S: -ERR [SYS/PERM] Upstream refused the account.\r\n");
	ck_assert_int_eq(r.r, POP3_RESULT_COMMIT_FAILED);
	ck_assert_str_eq(r.st.reason, "[SYS/PERM] Upstream refused the account.");
	finish(&r);

	setup(&r);
	r.f.commit_status = POP3_MD_GONE;
	dialog(&r,
	    S_HELLO CS_LOGIN
	    "C: QUIT\r\n"
	    "S: -ERR [SYS/TEMP] Some deleted messages not removed.\r\n");
	finish(&r);

	/* durable but not yet applied upstream: +OK, with the maildrop's words */
	setup(&r);
	r.f.commit_text = "Logging out. Deletions saved, applied later.";
	dialog(&r,
	    S_HELLO CS_LOGIN
	    "C: QUIT\r\n"
	    "S: +OK Logging out. Deletions saved, applied later.\r\n");
	ck_assert_int_eq(r.r, POP3_RESULT_COMMITTED);
	finish(&r);
}
END_TEST

START_TEST(fetch_gone_and_failures)
{
	struct run r;
	setup(&r);
	r.f.msgs[1].fetch_status = POP3_MD_GONE;
	r.f.msgs[2].fetch_status = POP3_MD_TEMP;
	dialog(&r,
	    S_HELLO CS_LOGIN
	    "C: RETR 2\r\n"
	    "S: -ERR fake failure\r\n"
	    "C: TOP 2 0\r\n"
	    "S: -ERR fake failure\r\n"
	    "C: RETR 3\r\n"
	    "S: -ERR [SYS/TEMP] fake failure\r\n"
	    "C: RETR 1\r\n"
	    S_RETR1
	    "C: DELE 2\r\n"
	    "S: +OK Marked to be deleted.\r\n"
	    "C: QUIT\r\n"
	    "S: +OK Logging out.\r\n");
	ck_assert_uint_eq(r.f.nretrieved, 1);
	ck_assert_int_eq(r.r, POP3_RESULT_COMMITTED);
	finish(&r);

	/* a failure after "+OK" and part of the message: the connection is
	 * closed, nothing committed */
	setup(&r);
	r.f.msgs[0].fetch_status = POP3_MD_TEMP;
	r.f.msgs[0].fail_after = 10;
	dialog(&r,
	    S_HELLO CS_LOGIN
	    "C: DELE 2\r\n"
	    "S: +OK Marked to be deleted.\r\n"
	    "C: RETR 1\r\n"
	    "S: +OK 23 octets\r\n"
	    "S: Subject: o");
	ck_assert_int_eq(r.r, POP3_RESULT_FETCH_FAILED);
	ck_assert_int_eq(r.f.commits, 0);
	ck_assert_uint_eq(r.f.nretrieved, 0);
	ck_assert_str_eq(r.st.reason, "fake failure");
	finish(&r);
}
END_TEST

START_TEST(empty_maildrop)
{
	struct run r;
	setup(&r);
	r.f.nmsgs = 0;
	dialog(&r,
	    S_HELLO CS_LOGIN
	    "C: STAT\r\n"
	    "S: +OK 0 0\r\n"
	    "C: LIST\r\n"
	    "S: +OK 0 messages (0 octets)\r\n"
	    "S: .\r\n"
	    "C: UIDL\r\n"
	    "S: +OK Unique-ID listing follows\r\n"
	    "S: .\r\n"
	    "C: RETR 1\r\n"
	    "S: -ERR No such message.\r\n"
	    "C: RSET\r\n"
	    "S: +OK Maildrop has 0 messages (0 octets).\r\n"
	    "C: QUIT\r\n"
	    "S: +OK Logging out.\r\n");
	ck_assert_int_eq(r.f.commits, 1);
	ck_assert_uint_eq(r.f.ncommitted, 0);
	finish(&r);
}
END_TEST

/* Odd message bodies reach the client dot-stuffed, with the size LIST
 * announced and retrieved() reports. */
START_TEST(odd_messages)
{
	static const char odd[] = ".\n..\n.foo\r\nbare\rcr\r\nnul\0here\n\nlast";
	struct run r;
	setup(&r);
	r.f.nmsgs = 0;
	fake_add(&r.f, odd, sizeof(odd) - 1);
	fake_add(&r.f, "", 0);
	r.f.chunk = 3;
	go(&r, LOGIN "LIST\r\nRETR 1\r\nRETR 2\r\nTOP 1 1\r\nQUIT\r\n",
	    strlen(LOGIN "LIST\r\nRETR 1\r\nRETR 2\r\nTOP 1 1\r\nQUIT\r\n"));
	start(&r);
	static const char want[] = HELLO LOGGED
	    "+OK 2 messages (40 octets)\r\n1 40\r\n2 0\r\n.\r\n"
	    "+OK 40 octets\r\n..\r\n...\r\n..foo\r\nbare\rcr\r\nnul\0here\r\n\r\nlast\r\n.\r\n"
	    "+OK 0 octets\r\n.\r\n"
	    "+OK Top of message follows\r\n..\r\n...\r\n..foo\r\nbare\rcr\r\nnul\0here\r\n\r\nlast\r\n.\r\n"
	    "+OK Logging out.\r\n";
	if (r.m.out_len != sizeof(want) - 1 || memcmp(r.m.out, want, sizeof(want) - 1) != 0)
		ck_abort_msg("got:\n%s", visible(r.m.out, r.m.out_len));
	ck_assert_uint_eq(r.f.retrieved_octets[0], 40);
	ck_assert_uint_eq(r.f.retrieved_octets[1], 0);
	finish(&r);
}
END_TEST

/* A big message streams through in small chunks; memory does not grow
 * with it (the engine never holds more than its buffers). */
START_TEST(big_message)
{
	size_t n = 3 << 20;
	char *big = malloc(n);
	struct run r;

	ck_assert_ptr_nonnull(big);
	for (size_t i = 0; i < n; i++)
		big[i] = i % 77 == 76 ? '\n' : (i % 77 == 0 ? '.' : 'a');
	setup(&r);
	r.f.nmsgs = 0;
	fake_add(&r.f, big, n);
	r.f.chunk = 1000;
	feed(&r, LOGIN "RETR 1\r\nQUIT\r\n", strlen(LOGIN "RETR 1\r\nQUIT\r\n"));
	uint64_t size = fake_wire_size(big, n);
	ck_assert_uint_eq(r.f.retrieved_octets[0], size);
	size_t lines = (n + 76) / 77; /* lines starting with '.' */
	ck_assert_uint_eq(r.m.out_len, strlen(HELLO LOGGED) + strlen("+OK  octets\r\n") +
	    (size_t)snprintf(NULL, 0, "%llu", (unsigned long long)size) + size + lines +
	    3 + strlen("+OK Logging out.\r\n"));
	free(big);
	finish(&r);
}
END_TEST

/* ---- pipelining, limits, bad input --------------------------------------- */

START_TEST(pipelined_burst)
{
	char in[8192], want[65536];
	size_t il = 0, wl = 0;
	struct run r;

	il += (size_t)sprintf(in + il, "CAPA\r\n" LOGIN);
	wl += (size_t)sprintf(want + wl, HELLO "+OK Capability list follows\r\n"
	    "TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n"
	    "USER\r\nSASL PLAIN LOGIN\r\n.\r\n" LOGGED);
	for (int k = 0; k < 40; k++) {
		il += (size_t)sprintf(in + il, "RETR 1\r\nLIST 3\r\n");
		wl += (size_t)sprintf(want + wl,
		    "+OK 23 octets\r\nSubject: one\r\n\r\nHello\r\n.\r\n+OK 3 33\r\n");
	}
	il += (size_t)sprintf(in + il, "DELE 1\r\nQUIT\r\n");
	wl += (size_t)sprintf(want + wl, "+OK Marked to be deleted.\r\n+OK Logging out.\r\n");
	setup_bare(&r);
	transcript(&r, in, want);
	ck_assert_uint_eq(r.f.nretrieved, 40);
	ck_assert_int_eq(r.r, POP3_RESULT_COMMITTED);
	finish(&r);

	/* the same burst in packets cut at arbitrary places */
	for (size_t cut = 1; cut < il; cut += 13) {
		setup_bare(&r);
		go(&r, in, il);
		memio_packet(&r.m, cut);
		memio_packet(&r.m, cut + 7 < il ? cut + 7 : il);
		start(&r);
		ck_assert_uint_eq(r.m.out_len, wl);
		ck_assert(memcmp(r.m.out, want, wl) == 0);
		finish(&r);
	}
}
END_TEST

/* Before each fetch the maildrop hears the RETR and TOP commands pipelined
 * behind it (SPEC §9): in order, without a RETR of a message a DELE before
 * it marks, up to an RSET; the replies are those of the unpipelined
 * session. */
START_TEST(pipelined_hints)
{
	struct run r;
	setup_bare(&r);
	static const char in[] = LOGIN "RETR 3\r\nRETR 1\r\nTOP 2 0\r\nDELE 1\r\nRETR 1\r\n"
	    "LIST\r\nRETR 2\r\nRSET\r\nTOP 3 2\r\nQUIT\r\n";
	feed(&r, in, strlen(in));
	ck_assert_uint_eq(r.f.nhints, 5);
	ck_assert_str_eq(r.f.hints[0], "0:W 1:T0 1:W");
	ck_assert_str_eq(r.f.hints[1], "1:T0 1:W");
	ck_assert_str_eq(r.f.hints[2], "1:W");
	ck_assert_str_eq(r.f.hints[3], "");
	ck_assert_str_eq(r.f.hints[4], "");
	ck_assert_int_eq(r.r, POP3_RESULT_COMMITTED);
	finish(&r);
}
END_TEST

START_TEST(case_and_spacing)
{
	struct run r;
	setup(&r);
	dialog(&r,
	    S_HELLO
	    "C: user alice\r\n"
	    "S: +OK Send the password.\r\n"
	    "C: pAsS secret\r\n"
	    "S: +OK Logged in.\r\n"
	    "C: stat\r\n"
	    "S: +OK 3 85\r\n"
	    "C: Retr 3\r\n"
	    "S: +OK 33 octets\r\n"
	    "S: Subject: three\r\n"
	    "S: \r\n"
	    "S: no final crlf\r\n"
	    "S: .\r\n"
	    "C: list 1\r\n"
	    "S: +OK 1 23\r\n"
	    "C:  STAT\r\n"
	    "S: -ERR Unknown command.\r\n"
	    "C: STAT \r\n"
	    "S: +OK 3 85\r\n"
	    "C: STATX\r\n"
	    "S: -ERR Unknown command.\r\n"
	    "C: ST\r\n"
	    "S: -ERR Unknown command.\r\n"
	    "C: \r\n"
	    "S: -ERR Unknown command.\r\n"
	    "C: quit\r\n"
	    "S: +OK Logging out.\r\n");
	finish(&r);
}
END_TEST

START_TEST(twenty_bad_commands)
{
	char in[4096] = "", want[8192] = HELLO;
	struct run r;

	/* logged in: 19 bad, one good, 19 bad: still alive (before login
	 * they count in all: pre_login_bad_commands) */
	strcpy(in, LOGIN);
	strcpy(want, HELLO LOGGED);
	for (int i = 0; i < 19; i++) {
		strcat(in, "XYZZY\r\n");
		strcat(want, "-ERR Unknown command.\r\n");
	}
	strcat(in, "NOOP\r\n");
	strcat(want, "+OK Nothing to do.\r\n");
	for (int i = 0; i < 19; i++) {
		strcat(in, "USER alice\r\n");
		strcat(want, "-ERR Command not valid in this state.\r\n");
	}
	strcat(in, "QUIT\r\n");
	strcat(want, "+OK Logging out.\r\n");
	setup_bare(&r);
	transcript(&r, in, want);
	ck_assert_int_eq(r.r, POP3_RESULT_COMMITTED);
	finish(&r);

	/* the 20th in a row closes; what follows is never read */
	strcpy(in, LOGIN);
	strcpy(want, HELLO LOGGED);
	for (int i = 0; i < 20; i++) {
		strcat(in, i % 2 ? "RETR 9\r\n" : "FOO\r\n");
		strcat(want, i % 2 ? "-ERR No such message.\r\n" : "-ERR Unknown command.\r\n");
	}
	strcat(in, "DELE 1\r\nQUIT\r\n");
	strcat(want, "-ERR Too many bad commands, closing.\r\n");
	setup(&r);
	transcript(&r, in, want);
	ck_assert_int_eq(r.r, POP3_RESULT_TOO_MANY_ERRORS);
	ck_assert_int_eq(r.f.commits, 0);
	finish(&r);
}
END_TEST

/* Before login no command resets the bad-command count (issue 12: CAPA
 * and USER did, so a connection could stay forever). */
START_TEST(pre_login_bad_commands)
{
	char in[4096] = "", want[8192] = HELLO;
	struct run r;

	for (int i = 0; i < 19; i++) {
		strcat(in, i % 2 ? "STAT\r\nCAPA\r\n" : "XYZZY\r\nUSER alice\r\n");
		strcat(want, i % 2 ? "-ERR Command not valid in this state.\r\n"
		    "+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\n"
		    "AUTH-RESP-CODE\r\nPIPELINING\r\nUSER\r\nSASL PLAIN LOGIN\r\n.\r\n"
		    : "-ERR Unknown command.\r\n+OK Send the password.\r\n");
	}
	strcat(in, "NOOP\r\n" LOGIN "QUIT\r\n");
	strcat(want, "-ERR Command not valid in this state.\r\n"
	    "-ERR Too many bad commands, closing.\r\n");
	setup_bare(&r);
	transcript(&r, in, want);
	ck_assert_int_eq(r.r, POP3_RESULT_TOO_MANY_ERRORS);
	ck_assert_int_eq(r.f.opens, 0);
	finish(&r);
}
END_TEST

/* --max-auth-failures (SPEC §13): the N-th failed login is answered, then
 * the connection closes; USER, CAPA or a good command between do not
 * reset the count, and every mechanism counts. */
START_TEST(max_auth_failures)
{
	struct run r;
	setup_bare(&r);
	transcript(&r, "USER alice\r\nPASS a\r\nCAPA\r\nUSER alice\r\n"
	    "AUTH PLAIN AGFsaWNlAHdyb25n\r\nUSER bob\r\nPASS c\r\n"
	    LOGIN "QUIT\r\n", HELLO
	    "+OK Send the password.\r\n-ERR [AUTH] Authentication failed.\r\n"
	    "+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\n"
	    "AUTH-RESP-CODE\r\nPIPELINING\r\nUSER\r\nSASL PLAIN LOGIN\r\n.\r\n"
	    "+OK Send the password.\r\n"
	    "-ERR [AUTH] Authentication failed.\r\n"
	    "+OK Send the password.\r\n-ERR [AUTH] Authentication failed.\r\n");
	ck_assert_int_eq(r.r, POP3_RESULT_AUTH_FAILED);
	ck_assert_uint_eq(r.st.auth_failures, 3);
	ck_assert_int_eq(r.f.opens, 3);
	ck_assert_int_eq(r.f.open_ok, 0);
	finish(&r);

	/* a refused authorization identity counts too; N = 2 */
	setup(&r);
	r.cfg.max_auth_failures = 2;
	transcript(&r, "AUTH PLAIN Ym9iAGFsaWNlAHNlY3JldA==\r\nUSER alice\r\nPASS x\r\n"
	    LOGIN "QUIT\r\n", HELLO
	    "-ERR [AUTH] Authorization identity not allowed.\r\n"
	    "+OK Send the password.\r\n-ERR [AUTH] Authentication failed.\r\n");
	ck_assert_int_eq(r.r, POP3_RESULT_AUTH_FAILED);
	ck_assert_int_eq(r.f.opens, 1);
	finish(&r);

	/* below the limit, a good login still works */
	setup(&r);
	transcript(&r, "USER alice\r\nPASS a\r\nUSER alice\r\nPASS b\r\n" LOGIN "QUIT\r\n",
	    HELLO "+OK Send the password.\r\n-ERR [AUTH] Authentication failed.\r\n"
	    "+OK Send the password.\r\n-ERR [AUTH] Authentication failed.\r\n"
	    LOGGED "+OK Logging out.\r\n");
	ck_assert_int_eq(r.r, POP3_RESULT_COMMITTED);
	finish(&r);
}
END_TEST

/* The fake clock of the login-deadline tests. */
static uint64_t fake_now;
static uint64_t fake_clock(void)
{
	return fake_now;
}

/* One session on the fake clock: packets at the given offsets, each read
 * moving the clock on by step_ms. */
static void timed(struct run *r, const char *in, const size_t *cuts, size_t ncuts,
    uint64_t step_ms, int at_end)
{
	fake_now = 1000000;
	r->cfg.clock_ms = fake_clock;
	go(r, in, strlen(in));
	for (size_t i = 0; i < ncuts; i++)
		memio_packet(&r->m, cuts[i]);
	r->m.clock = &fake_now;
	r->m.clock_step_ms = step_ms;
	r->m.at_end = at_end;
	start(r);
}

#define CAPA_AUTH "+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\n" \
	"AUTH-RESP-CODE\r\nPIPELINING\r\nUSER\r\nSASL PLAIN LOGIN\r\n.\r\n"

/* --login-timeout (SPEC §13): counted from the start, not per command;
 * every wait before login ends at the deadline; after login only the idle
 * timeout counts. */
START_TEST(login_deadline)
{
	struct run r;

	/* commands every 25 s: none of them moves the deadline */
	static const char slow[] = "CAPA\r\nCAPA\r\nUSER alice\r\nPASS secret\r\nQUIT\r\n";
	const size_t slow_cuts[] = { 6, 12, 24, 37 };
	setup_bare(&r);
	timed(&r, slow, slow_cuts, 4, 25000, 0);
	expect_out(&r, HELLO CAPA_AUTH CAPA_AUTH "+OK Send the password.\r\n"
	    "-ERR Login timeout, closing.\r\n");
	ck_assert_int_eq(r.r, POP3_RESULT_TIMEOUT);
	ck_assert_str_eq(r.st.reason, "login timeout");
	ck_assert_int_eq(r.f.opens, 0);
	ck_assert_int_eq(r.m.first_timeout_ms, 60000);
	ck_assert_int_eq(r.m.last_timeout_ms, 10000);
	finish(&r);

	/* a burst read before the deadline runs only until it */
	setup(&r);
	timed(&r, LOGIN "QUIT\r\n", NULL, 0, 61000, 0);
	expect_out(&r, HELLO "+OK Send the password.\r\n-ERR Login timeout, closing.\r\n");
	ck_assert_int_eq(r.f.opens, 0);
	finish(&r);

	/* a silent client: the wait ends at the deadline, not the idle timeout */
	setup(&r);
	r.cfg.login_timeout_s = 30;
	timed(&r, "CAPA\r\n", NULL, 0, 1000, POP3_IO_TIMEOUT);
	r.cfg.expire = NULL;
	ck_assert_int_eq(r.m.first_timeout_ms, 30000);
	ck_assert_int_eq(r.m.last_timeout_ms, 29000);
	ck_assert_int_eq(r.r, POP3_RESULT_TIMEOUT);
	ck_assert(strstr(r.m.out, "-ERR Login timeout, closing.\r\n") != NULL);
	finish(&r);

	/* an idle timeout shorter than the login timeout still says idle */
	setup(&r);
	r.cfg.idle_timeout_s = 10;
	timed(&r, "", NULL, 0, 0, POP3_IO_TIMEOUT);
	expect_out(&r, HELLO "-ERR Disconnected for inactivity.\r\n");
	ck_assert_int_eq(r.m.first_timeout_ms, 10000);
	finish(&r);

	/* logged in: the deadline no longer applies, the idle timeout does */
	setup(&r);
	timed(&r, LOGIN "STAT\r\n", NULL, 0, 59000, POP3_IO_TIMEOUT);
	expect_out(&r, HELLO LOGGED "+OK 3 85\r\n-ERR Disconnected for inactivity.\r\n");
	ck_assert_int_eq(r.m.last_timeout_ms, 600000);
	ck_assert_int_eq(r.r, POP3_RESULT_TIMEOUT);
	finish(&r);
}
END_TEST

START_TEST(line_limits)
{
	char in[POP3_SASL_LINE_MAX * 3], want[4096];
	char name[300];
	struct run r;

	/* 255 octets with CRLF: accepted; 256: -ERR, the session goes on */
	memset(name, 'n', 248);
	name[248] = '\0';
	snprintf(in, sizeof(in), "USER %s\r\nUSER %sX\r\nQUIT\r\n", name, name);
	setup(&r);
	transcript(&r, in, HELLO "+OK Send the password.\r\n-ERR Line too long.\r\n+OK Bye.\r\n");
	finish(&r);

	/* longer than the line buffer: discarded, -ERR, goes on */
	size_t n = (size_t)snprintf(in, sizeof(in), "USER ");
	memset(in + n, 'x', 3000);
	n += 3000;
	n += (size_t)snprintf(in + n, sizeof(in) - n, "\r\nCAPA x\r\nQUIT\r\n");
	setup(&r);
	snprintf(want, sizeof(want), HELLO "-ERR Line too long.\r\n"
	    "-ERR CAPA takes no arguments.\r\n+OK Bye.\r\n");
	transcript(&r, in, want);
	finish(&r);
}
END_TEST

START_TEST(line_hard_cap)
{
	size_t n = POP3_LINE_HARD_MAX + 100;
	char *in = malloc(n + 20);
	struct run r;

	ck_assert_ptr_nonnull(in);
	memset(in, 'z', n);
	strcpy(in + n, "\r\nQUIT\r\n");
	setup(&r);
	feed(&r, in, n + 8);
	expect_out(&r, HELLO "-ERR Line too long, closing.\r\n");
	ck_assert_int_eq(r.r, POP3_RESULT_LINE_TOO_LONG);
	/* it stopped reading soon after the cap */
	ck_assert_uint_le(r.m.in_pos, POP3_LINE_HARD_MAX + 2 * POP3_SASL_LINE_MAX);
	finish(&r);
	free(in);
}
END_TEST

START_TEST(binary_lines)
{
	static const char in[] = "US\0ER alice\r\nUSER al\xffice\r\nPASS x\0y\r\nPASS \x01\x02\r\n"
	    "\x80\x81\r\nQUIT\r\n";
	struct run r;

	setup(&r);
	feed(&r, in, sizeof(in) - 1);
	expect_out(&r, HELLO "-ERR NUL octet in line.\r\n"
	    "+OK Send the password.\r\n"
	    "-ERR NUL octet in line.\r\n"
	    "-ERR [AUTH] Authentication failed.\r\n"
	    "-ERR Unknown command.\r\n+OK Bye.\r\n");
	ck_assert_str_eq(r.st.user, "al?ice");
	ck_assert_str_eq(r.f.last_user, "al\xffice");
	ck_assert_uint_eq(r.f.last_pass_len, 2);
	finish(&r);
}
END_TEST

/* ---- STLS and implicit TLS (engine side; real TLS is in check_tls) -------- */

START_TEST(stls_discards_pipelined_input)
{
	static const char in[] = "STLS\r\nNOOP\r\nUSER mallory\r\n" "CAPA\r\n" LOGIN "QUIT\r\n";
	struct run r;

	setup_bare(&r);
	r.cfg.tls = tls_ctx;
	r.cfg.offer_stls = true;
	r.cfg.plaintext_auth_allowed = false;
	go(&r, in, sizeof(in) - 1);
	memio_packet(&r.m, strlen("STLS\r\nNOOP\r\nUSER mallory\r\n"));
	r.m.tls_ok = true;
	start(&r);
	expect_out(&r, HELLO "+OK Begin TLS negotiation.\r\n"
	    "+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
	    "PIPELINING\r\nUSER\r\nSASL PLAIN LOGIN\r\n.\r\n" LOGGED "+OK Logging out.\r\n");
	ck_assert(r.m.tls);
	ck_assert_uint_eq(r.m.tls_out_pos, strlen(HELLO "+OK Begin TLS negotiation.\r\n"));
	ck_assert_str_eq(r.st.tls_version, "memory-TLS");
	ck_assert_str_eq(r.f.last_tls, "memory-TLS");
	ck_assert_str_eq(r.f.last_user, "alice");
	ck_assert_ptr_nonnull(strstr(r.trace, "discarding 20 octets pipelined after STLS"));
	finish(&r);
}
END_TEST

START_TEST(stls_errors)
{
	struct run r;

	/* not offered without a certificate */
	setup(&r);
	dialog(&r,
	    S_HELLO
	    "C: STLS\r\n"
	    "S: -ERR STLS is not available.\r\n"
	    "C: QUIT\r\n"
	    "S: +OK Bye.\r\n");
	finish(&r);

	/* twice; with an argument; after login */
	setup(&r);
	r.cfg.tls = tls_ctx;
	r.cfg.offer_stls = true;
	go(&r, "STLS x\r\nSTLS\r\n", 14);
	memio_packet(&r.m, 14);
	r.m.tls_ok = true;
	/* the memio cannot re-split after start_tls, so feed the rest later */
	start(&r);
	expect_out(&r, HELLO "-ERR STLS takes no arguments.\r\n+OK Begin TLS negotiation.\r\n");
	finish(&r);

	setup(&r);
	r.cfg.tls = tls_ctx;
	r.cfg.offer_stls = true;
	go(&r, "STLS\r\nSTLS\r\n" LOGIN "STLS\r\nQUIT\r\n", strlen("STLS\r\nSTLS\r\n" LOGIN "STLS\r\nQUIT\r\n"));
	memio_packet(&r.m, 6);
	r.m.tls_ok = true;
	start(&r);
	expect_out(&r, HELLO "+OK Begin TLS negotiation.\r\n-ERR TLS is already active.\r\n"
	    LOGGED "-ERR Command not valid in this state.\r\n+OK Logging out.\r\n");
	finish(&r);

	/* the handshake fails: session over */
	setup(&r);
	r.cfg.tls = tls_ctx;
	r.cfg.offer_stls = true;
	feed(&r, "STLS\r\n", 6);
	expect_out(&r, HELLO "+OK Begin TLS negotiation.\r\n");
	ck_assert_int_eq(r.r, POP3_RESULT_TLS_FAILED);
	ck_assert_str_eq(r.st.reason, "memio: no TLS");
	finish(&r);
}
END_TEST

START_TEST(implicit_tls)
{
	struct run r;

	setup_bare(&r);
	r.cfg.tls = tls_ctx;
	r.cfg.implicit_tls = true;
	r.cfg.offer_stls = true; /* ignored with implicit TLS */
	r.cfg.plaintext_auth_allowed = false;
	go(&r, "CAPA\r\nSTLS\r\n" LOGIN "QUIT\r\n", strlen("CAPA\r\nSTLS\r\n" LOGIN "QUIT\r\n"));
	r.m.tls_ok = true;
	start(&r);
	expect_out(&r, HELLO "+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\n"
	    "AUTH-RESP-CODE\r\nPIPELINING\r\nUSER\r\nSASL PLAIN LOGIN\r\n.\r\n"
	    "-ERR TLS is already active.\r\n" LOGGED "+OK Logging out.\r\n");
	ck_assert_uint_eq(r.m.tls_out_pos, 0);
	ck_assert_str_eq(r.st.tls_version, "memory-TLS");
	finish(&r);

	setup(&r);
	r.cfg.tls = tls_ctx;
	r.cfg.implicit_tls = true;
	feed(&r, "QUIT\r\n", 6);
	expect_out(&r, "");
	ck_assert_int_eq(r.r, POP3_RESULT_TLS_FAILED);
	finish(&r);
}
END_TEST

/* The client stops reading: the write fails, the session ends, nothing is
 * committed. */
START_TEST(client_stops_reading)
{
	struct run r;

	setup(&r);
	go(&r, LOGIN "DELE 1\r\nRETR 2\r\nQUIT\r\n", strlen(LOGIN "DELE 1\r\nRETR 2\r\nQUIT\r\n"));
	r.m.out_max = strlen(HELLO LOGGED "+OK Marked to be deleted.\r\n") + 10;
	start(&r);
	ck_assert_int_eq(r.r, POP3_RESULT_DROPPED);
	ck_assert_int_eq(r.f.commits, 0);
	ck_assert_uint_eq(r.f.nretrieved, 0);
	finish(&r);
}
END_TEST

START_TEST(result_names)
{
	ck_assert_str_eq(pop3_result_name(POP3_RESULT_QUIT), "quit");
	ck_assert_str_eq(pop3_result_name(POP3_RESULT_COMMITTED), "committed");
	ck_assert_str_eq(pop3_result_name(POP3_RESULT_COMMIT_FAILED), "commit-failed");
	ck_assert_str_eq(pop3_result_name(POP3_RESULT_AUTH_FAILED), "auth-failed");
	ck_assert_str_eq(pop3_result_name(POP3_RESULT_DROPPED), "dropped");
	ck_assert_str_eq(pop3_result_name(POP3_RESULT_TIMEOUT), "timeout");
	ck_assert_str_eq(pop3_result_name(POP3_RESULT_TOO_MANY_ERRORS), "too-many-errors");
	ck_assert_str_eq(pop3_result_name(POP3_RESULT_LINE_TOO_LONG), "line-too-long");
	ck_assert_str_eq(pop3_result_name(POP3_RESULT_TLS_FAILED), "tls-failed");
	ck_assert_str_eq(pop3_result_name(POP3_RESULT_FETCH_FAILED), "fetch-failed");
	ck_assert_str_eq(pop3_result_name(POP3_RESULT_ERROR), "error");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pop3-session");
	TCase *tc = tcase_create("transcripts");

	tcase_set_timeout(tc, 60);
	tcase_add_unchecked_fixture(tc, tls_setup, tls_teardown);
	tcase_add_test(tc, quit_before_login);
	tcase_add_test(tc, capa_authorization);
	tcase_add_test(tc, capa_login_delay_per_device);
	tcase_add_test(tc, capa_no_plaintext_with_stls);
	tcase_add_test(tc, user_pass_errors);
	tcase_add_test(tc, password_with_spaces);
	tcase_add_loop_test(tc, open_statuses, 0, 8);
	tcase_add_test(tc, failed_login_delay);
	tcase_add_test(tc, auth_plain);
	tcase_add_test(tc, auth_plain_errors);
	tcase_add_test(tc, auth_login);
	tcase_add_test(tc, auth_login_initial_then_pipelined);
	tcase_add_test(tc, sasl_bad_lines);
	tcase_add_test(tc, auth_dropped);
	tcase_add_test(tc, transaction_commands);
	tcase_add_test(tc, message_numbers);
	tcase_add_test(tc, dele_rset_quit);
	tcase_add_test(tc, no_quit_no_commit);
	tcase_add_test(tc, release_after_answer);
	tcase_add_test(tc, commit_failure);
	tcase_add_test(tc, fetch_gone_and_failures);
	tcase_add_test(tc, empty_maildrop);
	tcase_add_test(tc, odd_messages);
	tcase_add_test(tc, big_message);
	tcase_add_test(tc, pipelined_burst);
	tcase_add_test(tc, pipelined_hints);
	tcase_add_test(tc, case_and_spacing);
	tcase_add_test(tc, twenty_bad_commands);
	tcase_add_test(tc, pre_login_bad_commands);
	tcase_add_test(tc, max_auth_failures);
	tcase_add_test(tc, login_deadline);
	tcase_add_test(tc, line_limits);
	tcase_add_test(tc, line_hard_cap);
	tcase_add_test(tc, binary_lines);
	tcase_add_test(tc, stls_discards_pipelined_input);
	tcase_add_test(tc, stls_errors);
	tcase_add_test(tc, implicit_tls);
	tcase_add_test(tc, client_stops_reading);
	tcase_add_test(tc, result_names);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
