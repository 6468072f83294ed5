/* tests/smtp/check_session.c — exact SMTP wire transcripts: the engine over
 * the memory transport (tests/pop3/memio.c) against the in-memory relay
 * (fake_relay.c). Every dialog is run twice, in one read and one octet per
 * read (tests/pop3/dialog.c); the submission is also split in two reads at
 * every offset. Checked besides the bytes: what the relay received (the
 * message exactly, unstuffed), and close() once per successful open().
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/session.h"
#include "tests/lib/testutil.h"
#include "tests/pop3/memio.c"
#include "tests/pop3/dialog.c"
#include "tests/smtp/fake_relay.c"

#define S_HELLO "S: 220 mx.test ESMTP popbridge ready\r\n"
#define CS_EHLO "C: EHLO client.test\r\n" \
	"S: 250-mx.test\r\nS: 250-PIPELINING\r\nS: 250-SIZE 10000000\r\nS: 250-8BITMIME\r\n" \
	"S: 250-ENHANCEDSTATUSCODES\r\nS: 250 AUTH PLAIN LOGIN\r\n"
/* AUTH PLAIN of "\0alice\0secret" */
#define CS_AUTH "C: AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nS: 235 2.7.0 Authentication successful\r\n"
#define S_BYE "S: 221 2.0.0 mx.test closing connection\r\n"
/* The envelope of most transactions, as dialog lines. */
#define CS_ENVELOPE "C: MAIL FROM:<a@x>\r\nS: 250 2.1.0 Ok\r\n" \
	"C: RCPT TO:<b@y>\r\nS: 250 2.1.5 Ok\r\n"
/* The same as raw input: EHLO and AUTH PLAIN; then the envelope. */
#define IN_LOGIN "EHLO c\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n"
#define IN_ENVELOPE IN_LOGIN "MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\n"

struct run {
	struct fake_relay f;
	struct memio m;
	struct smtp_session_config cfg;
	struct smtp_session_stats st;
	enum smtp_result r;
};

static void setup(struct run *r)
{
	memset(r, 0, sizeof(*r));
	fake_relay_init(&r->f, "alice", "secret");
	r->cfg.plaintext_auth_allowed = true;
	r->cfg.hostname = "mx.test";
	r->cfg.remote_addr = "127.0.0.1";
}

static void start(struct run *r)
{
	r->r = smtp_session_run_transport(&r->m.base, &r->cfg, &fake_relay_ops, &r->f, &r->st);
	ck_assert_int_eq(r->m.closes, 1);
	ck_assert_int_eq(r->r, r->st.result);
	ck_assert_int_eq(r->f.closes, r->f.open_ok);
	ck_assert(!r->f.is_open);
}

/* The input in[0..len) in one read (or as memio is set), run. */
static void feed(struct run *r, const char *in, size_t len)
{
	memio_init(&r->m, in, len);
	start(r);
}

static void finish(struct run *r)
{
	memio_free(&r->m);
	fake_relay_free(&r->f);
}

/* One run of the input in one read, one of it trickled: same bytes, and the
 * trickled one reads as the dialog text. r keeps the first run. */
static void dialog(struct run *r, const char *text)
{
	struct pbt_buf in = { 0 }, want = { 0 };
	struct run again;

	dialog_split(text, &in, &want);
	memcpy(&again, r, sizeof(again));
	memio_init(&r->m, in.p, in.len);
	start(r);
	dialog_expect(&r->m, want.p);

	memio_init(&again.m, in.p, in.len);
	again.m.max_read = 1;
	again.m.out_at = calloc(in.len + 1, sizeof(size_t));
	ck_assert_ptr_nonnull(again.m.out_at);
	start(&again);
	dialog_expect(&again.m, want.p);
	ck_assert_int_eq(again.r, r->r);
	ck_assert_int_eq(again.f.data_len, r->f.data_len);
	if (r->f.data_len > 0)
		ck_assert_mem_eq(again.f.data, r->f.data, r->f.data_len);
	char *got = dialog_of(&again.m);
	if (strcmp(got, text) != 0) {
		char *g = visible(got, strlen(got)), *w = visible(text, strlen(text));
		ck_abort_msg("dialog differs\n--- got:\n%s\n--- want:\n%s", g, w);
	}
	free(got);
	free(again.m.out_at);
	finish(&again);
	free(in.p);   /* r->m is not read again: only its output is */
	free(want.p);
}

/* ---- before login ------------------------------------------------------------- */

START_TEST(ehlo_quit)
{
	struct run r;
	setup(&r);
	dialog(&r, S_HELLO CS_EHLO "C: QUIT\r\n" S_BYE);
	ck_assert_int_eq(r.r, SMTP_RESULT_QUIT);
	ck_assert_int_eq(r.f.opens, 0);
	ck_assert_int_eq(r.f.extensions, 1);
	finish(&r);
}
END_TEST

START_TEST(ehlo_smtputf8_and_size)
{
	struct run r;
	setup(&r);
	r.f.ext.size = 0;            /* none announced: ours */
	r.f.ext.eightbitmime = false;
	r.f.ext.smtputf8 = true;
	dialog(&r, S_HELLO
	    "C: EHLO [127.0.0.1]\r\n"
	    "S: 250-mx.test\r\nS: 250-PIPELINING\r\nS: 250-SIZE 104857600\r\n"
	    "S: 250-ENHANCEDSTATUSCODES\r\nS: 250-SMTPUTF8\r\nS: 250 AUTH PLAIN LOGIN\r\n"
	    "C: HELO x\r\n"
	    "S: 250 mx.test\r\n"
	    "C: EHLO\r\n"
	    "S: 501 5.5.4 Syntax: EHLO hostname\r\n"
	    "C: QUIT\r\n" S_BYE);
	finish(&r);
}
END_TEST

START_TEST(mail_before_ehlo_and_auth)
{
	struct run r;
	setup(&r);
	dialog(&r, S_HELLO
	    "C: MAIL FROM:<alice@example.com>\r\n"
	    "S: 503 5.5.1 Send EHLO or HELO first\r\n"
	    CS_EHLO
	    "C: MAIL FROM:<alice@example.com>\r\n"
	    "S: 530 5.7.0 Authentication required\r\n"
	    "C: RCPT TO:<bob@example.com>\r\n"
	    "S: 530 5.7.0 Authentication required\r\n"
	    "C: DATA\r\n"
	    "S: 530 5.7.0 Authentication required\r\n"
	    "C: QUIT\r\n" S_BYE);
	ck_assert_int_eq(r.f.mails, 0);
	finish(&r);
}
END_TEST

START_TEST(auth_login_and_plain_forms)
{
	struct run r;
	setup(&r);
	dialog(&r, S_HELLO CS_EHLO
	    "C: AUTH LOGIN\r\n"
	    "S: 334 VXNlcm5hbWU6\r\n"
	    "C: YWxpY2U=\r\n"
	    "S: 334 UGFzc3dvcmQ6\r\n"
	    "C: c2VjcmV0\r\n"
	    "S: 235 2.7.0 Authentication successful\r\n"
	    "C: AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n"
	    "S: 503 5.5.1 Already authenticated\r\n"
	    "C: QUIT\r\n" S_BYE);
	ck_assert_str_eq(r.f.last_mech, "LOGIN");
	ck_assert(r.st.logged_in);
	finish(&r);

	setup(&r);
	dialog(&r, S_HELLO CS_EHLO
	    "C: AUTH PLAIN\r\n"
	    "S: 334 \r\n"
	    "C: *\r\n"
	    "S: 501 5.7.0 Authentication cancelled\r\n"
	    "C: AUTH LOGIN YWxpY2U=\r\n"
	    "S: 334 UGFzc3dvcmQ6\r\n"
	    "C: c2VjcmV0\r\n"
	    "S: 235 2.7.0 Authentication successful\r\n"
	    "C: QUIT\r\n" S_BYE);
	finish(&r);

	setup(&r);
	dialog(&r, S_HELLO CS_EHLO
	    "C: AUTH PLAIN\r\n"
	    "S: 334 \r\n"
	    "C: AGFsaWNlAHNlY3JldA==\r\n"
	    "S: 235 2.7.0 Authentication successful\r\n"
	    "C: QUIT\r\n" S_BYE);
	finish(&r);
}
END_TEST

START_TEST(auth_errors)
{
	struct run r;
	setup(&r);
	dialog(&r, S_HELLO
	    "C: HELO x\r\n"
	    "S: 250 mx.test\r\n"
	    "C: AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n"
	    "S: 503 5.5.1 Send EHLO first\r\n"
	    CS_EHLO
	    "C: AUTH\r\n"
	    "S: 501 5.5.4 Syntax: AUTH mechanism [initial-response]\r\n"
	    "C: AUTH CRAM-MD5\r\n"
	    "S: 504 5.5.4 Unrecognized authentication type\r\n"
	    "C: AUTH PLAIN !!!!\r\n"
	    "S: 501 5.5.2 Cannot decode response\r\n"
	    /* "bob\0alice\0secret": another authorization identity */
	    "C: AUTH PLAIN Ym9iAGFsaWNlAHNlY3JldA==\r\n"
	    "S: 535 5.7.8 Authorization identity not allowed\r\n"
	    "C: QUIT\r\n" S_BYE);
	ck_assert_int_eq(r.f.opens, 0);
	ck_assert_int_eq(r.st.auth_failures, 1);
	ck_assert_int_eq(r.r, SMTP_RESULT_AUTH_FAILED);
	finish(&r);
}
END_TEST

/* The third wrong password is answered, then the connection closes. */
START_TEST(wrong_password_closes)
{
	struct run r;
	setup(&r);
	/* "\0alice\0wrong" */
	dialog(&r, S_HELLO CS_EHLO
	    "C: AUTH PLAIN AGFsaWNlAHdyb25n\r\n"
	    "S: 535 5.7.8 Authentication credentials invalid\r\n"
	    "C: AUTH PLAIN AGFsaWNlAHdyb25n\r\n"
	    "S: 535 5.7.8 Authentication credentials invalid\r\n"
	    "C: AUTH PLAIN AGFsaWNlAHdyb25n\r\n"
	    "S: 535 5.7.8 Authentication credentials invalid\r\n");
	ck_assert_int_eq(r.f.opens, 3);
	ck_assert_int_eq(r.f.open_ok, 0);
	ck_assert_int_eq(r.st.auth_failures, 3);
	ck_assert_int_eq(r.r, SMTP_RESULT_AUTH_FAILED);
	finish(&r);
}
END_TEST

START_TEST(auth_temp_and_perm)
{
	struct run r;
	setup(&r);
	r.f.force = SMTP_AUTH_TEMP;
	dialog(&r, S_HELLO CS_EHLO
	    "C: AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n"
	    "S: 454 4.7.0 Temporary authentication failure, try again later\r\n"
	    "C: QUIT\r\n" S_BYE);
	ck_assert_int_eq(r.st.auth_failures, 0);
	finish(&r);

	setup(&r);
	r.f.force = SMTP_AUTH_PERM;
	r.f.auth_text = "Account unavailable: renew its credentials";
	dialog(&r, S_HELLO CS_EHLO
	    "C: AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n"
	    "S: 554 5.7.0 Account unavailable: renew its credentials\r\n"
	    "C: QUIT\r\n" S_BYE);
	finish(&r);
}
END_TEST

START_TEST(plaintext_refused)
{
	struct run r;
	setup(&r);
	r.cfg.plaintext_auth_allowed = false;
	dialog(&r, S_HELLO
	    "C: EHLO client.test\r\n"
	    "S: 250-mx.test\r\nS: 250-PIPELINING\r\nS: 250-SIZE 10000000\r\nS: 250-8BITMIME\r\n"
	    "S: 250 ENHANCEDSTATUSCODES\r\n"
	    "C: AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n"
	    "S: 538 5.7.11 Encryption required for requested authentication mechanism\r\n"
	    "C: QUIT\r\n" S_BYE);
	ck_assert_int_eq(r.f.opens, 0);
	finish(&r);
}
END_TEST

/* ---- the transaction -------------------------------------------------------- */

#define MESSAGE_IN \
	"From: alice@example.com\r\n" \
	"Subject: dots\r\n" \
	"\r\n" \
	"..leading dot\r\n" \
	"...two\r\n" \
	".\tx\r\n" \
	"last\r\n"
#define MESSAGE_OUT \
	"From: alice@example.com\r\n" \
	"Subject: dots\r\n" \
	"\r\n" \
	".leading dot\r\n" \
	"..two\r\n" \
	"\tx\r\n" \
	"last\r\n"

START_TEST(submission)
{
	struct run r;
	setup(&r);
	dialog(&r, S_HELLO CS_EHLO CS_AUTH
	    "C: MAIL FROM:<alice@example.com> SIZE=120 BODY=8BITMIME AUTH=<>\r\n"
	    "S: 250 2.1.0 Ok\r\n"
	    "C: RCPT TO:<bob@example.com>\r\n"
	    "S: 250 2.1.5 Ok\r\n"
	    "C: DATA\r\n"
	    "S: 354 End data with <CR><LF>.<CR><LF>\r\n"
	    "C: From: alice@example.com\r\n"
	    "C: Subject: dots\r\n"
	    "C: \r\n"
	    "C: ..leading dot\r\n"
	    "C: ...two\r\n"
	    "C: .\tx\r\n"
	    "C: last\r\n"
	    "C: .\r\n"
	    "S: 250 2.0.0 Ok: queued as 4XyZ\r\n"
	    "C: QUIT\r\n" S_BYE);
	ck_assert_str_eq(r.f.from, "alice@example.com");
	ck_assert_str_eq(r.f.params, "SIZE=120 BODY=8BITMIME");
	ck_assert_str_eq(r.f.rcpt, "bob@example.com");
	ck_assert_uint_eq(r.f.data_len, strlen(MESSAGE_OUT));
	ck_assert_mem_eq(r.f.data, MESSAGE_OUT, r.f.data_len);
	ck_assert_int_eq(r.f.last_end, SMTP_DATA_COMPLETE);
	ck_assert_int_eq(r.f.dones, 1);
	ck_assert_int_eq(r.st.transactions, 1);
	ck_assert_uint_eq(r.st.data_octets, strlen(MESSAGE_OUT));
	ck_assert_int_eq(r.st.rcpts, 1);
	finish(&r);
}
END_TEST

/* The whole submission in two reads, split at every offset: the same reply
 * bytes and the same message at the relay. */
START_TEST(submission_split_everywhere)
{
	static const char in[] =
	    IN_LOGIN
	    "MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n" MESSAGE_IN ".\r\nQUIT\r\n";
	struct run ref;
	setup(&ref);
	feed(&ref, in, sizeof(in) - 1);
	ck_assert_uint_eq(ref.f.data_len, strlen(MESSAGE_OUT));
	for (size_t cut = 1; cut < sizeof(in) - 1; cut++) {
		struct run r;
		setup(&r);
		memio_init(&r.m, in, sizeof(in) - 1);
		memio_packet(&r.m, cut);
		start(&r);
		dialog_expect(&r.m, ref.m.out);
		ck_assert_uint_eq(r.f.data_len, strlen(MESSAGE_OUT));
		ck_assert_mem_eq(r.f.data, MESSAGE_OUT, r.f.data_len);
		finish(&r);
	}
	finish(&ref);
}
END_TEST

/* Refused RCPTs as the upstream gave them; DATA after no accepted RCPT. The
 * one-read run of dialog() has the client's commands pipelined (RFC 2920):
 * the same replies in the same order. */
START_TEST(pipelined_refusals)
{
	struct run r;
	setup(&r);
	dialog(&r, S_HELLO CS_EHLO CS_AUTH
	    "C: MAIL FROM:<alice@example.com>\r\n"
	    "S: 250 2.1.0 Ok\r\n"
	    "C: RCPT TO:<bad@example.com>\r\n"
	    "S: 550 5.1.1 <bad>: Recipient address rejected: User unknown\r\n"
	    "C: RCPT TO:<later@example.com>\r\n"
	    "S: 450 4.2.0 <later>: Recipient address rejected: try again\r\n"
	    "C: DATA\r\n"
	    "S: 554 5.5.1 No valid recipients\r\n"
	    "C: RSET\r\n"
	    "S: 250 2.0.0 Ok\r\n"
	    "C: MAIL FROM:<refuse@example.com>\r\n"
	    "S: 553 5.7.1 <refuse>: Sender address rejected: not owned by user\r\n"
	    "C: RCPT TO:<bob@example.com>\r\n"
	    "S: 503 5.5.1 Need MAIL command\r\n"
	    "C: QUIT\r\n" S_BYE);
	ck_assert_int_eq(r.f.begins, 0);
	ck_assert_int_eq(r.f.rsets, 1);
	ck_assert_int_eq(r.st.rcpts, 0);
	finish(&r);
}
END_TEST

START_TEST(data_refused_at_end)
{
	struct run r;
	setup(&r);
	r.f.end_code = 554;
	dialog(&r, S_HELLO CS_EHLO CS_AUTH
	    CS_ENVELOPE
	    "C: DATA\r\n"
	    "S: 354 End data with <CR><LF>.<CR><LF>\r\n"
	    "C: Subject: spam\r\n"
	    "C: .\r\n"
	    "S: 554 5.7.1 Message content rejected\r\n"
	    "C: MAIL FROM:<a@x>\r\n"
	    "S: 250 2.1.0 Ok\r\n"
	    "C: QUIT\r\n" S_BYE);
	ck_assert_int_eq(r.st.transactions, 0);
	ck_assert_int_eq(r.st.refused, 1);
	ck_assert_int_eq(r.f.dones, 1);
	finish(&r);

	setup(&r);
	r.f.begin_code = 554;
	dialog(&r, S_HELLO CS_EHLO CS_AUTH
	    CS_ENVELOPE
	    "C: DATA\r\n"
	    "S: 554 5.5.1 Data refused\r\n"
	    "C: RCPT TO:<b@y>\r\n"
	    "S: 503 5.5.1 Need MAIL command\r\n"
	    "C: QUIT\r\n" S_BYE);
	ck_assert_int_eq(r.f.ends, 0);
	finish(&r);
}
END_TEST

START_TEST(mail_parameters)
{
	struct run r;
	setup(&r);
	dialog(&r, S_HELLO CS_EHLO CS_AUTH
	    "C: MAIL FROM:<a@x> SIZE=10000001\r\n"
	    "S: 552 5.3.4 Message size exceeds fixed maximum message size\r\n"
	    "C: MAIL FROM:<a@x> SIZE=12x\r\n"
	    "S: 501 5.5.4 Bad SIZE parameter\r\n"
	    "C: MAIL FROM:<a@x> SMTPUTF8\r\n"
	    "S: 555 5.5.4 Unsupported parameter\r\n"
	    "C: MAIL FROM:<a@x> RET=HDRS\r\n"
	    "S: 555 5.5.4 Unsupported parameter\r\n"
	    "C: MAIL FROM:<j\xc3\xb6rg@x>\r\n"
	    "S: 553 5.6.7 Address needs SMTPUTF8\r\n"
	    "C: MAIL FROM:a@x\r\n"
	    "S: 250 2.1.0 Ok\r\n"
	    "C: MAIL FROM:<a@x>\r\n"
	    "S: 503 5.5.1 Sender already specified\r\n"
	    "C: RCPT TO:<>\r\n"
	    "S: 501 5.1.3 Bad recipient address syntax\r\n"
	    "C: RCPT TO:<b@y> NOTIFY=NEVER\r\n"
	    "S: 555 5.5.4 Unsupported parameter\r\n"
	    "C: RCPT TO <b@y>\r\n"
	    "S: 501 5.5.4 Syntax: RCPT TO:<address>\r\n"
	    "C: RCPT TO:<@relay.example:b@y>\r\n"
	    "S: 250 2.1.5 Ok\r\n"
	    "C: DATA now\r\n"
	    "S: 501 5.5.4 Syntax: DATA\r\n"
	    "C: QUIT\r\n" S_BYE);
	ck_assert_str_eq(r.f.from, "a@x");
	ck_assert_str_eq(r.f.rcpt, "b@y");
	finish(&r);

	setup(&r);
	r.f.ext.smtputf8 = true;
	dialog(&r, S_HELLO
	    "C: EHLO c\r\n"
	    "S: 250-mx.test\r\nS: 250-PIPELINING\r\nS: 250-SIZE 10000000\r\nS: 250-8BITMIME\r\n"
	    "S: 250-ENHANCEDSTATUSCODES\r\nS: 250-SMTPUTF8\r\nS: 250 AUTH PLAIN LOGIN\r\n"
	    CS_AUTH
	    "C: MAIL FROM:<j\xc3\xb6rg@x> SMTPUTF8 BODY=8BITMIME\r\n"
	    "S: 250 2.1.0 Ok\r\n"
	    "C: RCPT TO:<b\xc3\xb6@y>\r\n"
	    "S: 250 2.1.5 Ok\r\n"
	    "C: QUIT\r\n" S_BYE);
	ck_assert_str_eq(r.f.params, "SMTPUTF8 BODY=8BITMIME");
	finish(&r);
}
END_TEST

/* Too many recipients: 452 from the 101st on. */
START_TEST(rcpt_limit)
{
	struct pbt_buf in = { 0 };
	struct run r;
	setup(&r);
	pbt_buf_adds(&in, IN_LOGIN "MAIL FROM:<a@x>\r\n");
	for (int i = 0; i <= SMTP_RCPT_MAX; i++) {
		char line[64];
		snprintf(line, sizeof(line), "RCPT TO:<r%d@y>\r\n", i);
		pbt_buf_adds(&in, line);
	}
	pbt_buf_adds(&in, "QUIT\r\n");
	feed(&r, in.p, in.len);
	ck_assert_int_eq(r.f.rcpts, SMTP_RCPT_MAX);
	ck_assert_ptr_nonnull(strstr(r.m.out, "250 2.1.5 Ok\r\n452 4.5.3 Too many recipients\r\n221"));
	finish(&r);
	free(in.p);
}
END_TEST

/* DATA line ends: bare LF becomes CRLF, "<LF>.<LF>" and "<CR>.<CR>" are
 * not the end, a lone CR passes, an empty message is one ".". */
START_TEST(data_line_ends)
{
	static const char in[] =
	    IN_ENVELOPE
	    "DATA\r\n"
	    "bare\nline\n.\nnot the end\r.\rstill\r\n.hidden\r\n..\r\n.\r\n"
	    "MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n.\r\nQUIT\r\n";
	static const char want[] =
	    "bare\r\nline\r\n\r\nnot the end\r.\rstill\r\nhidden\r\n.\r\n";
	struct run r;
	setup(&r);
	feed(&r, in, sizeof(in) - 1);
	ck_assert_int_eq(r.st.transactions, 2);
	ck_assert_uint_eq(r.st.data_octets, sizeof(want) - 1);
	/* the second message is empty: the relay's data is the first one's */
	ck_assert_int_eq(r.f.ends, 2);
	ck_assert_uint_eq(r.f.data_len, 0);
	finish(&r);

	static const char in1[] =
	    IN_ENVELOPE
	    "DATA\r\n"
	    "bare\nline\n.\nnot the end\r.\rstill\r\n.hidden\r\n..\r\n.\r\nQUIT\r\n";
	setup(&r);
	feed(&r, in1, sizeof(in1) - 1);
	ck_assert_uint_eq(r.f.data_len, sizeof(want) - 1);
	ck_assert_mem_eq(r.f.data, want, r.f.data_len);
	ck_assert_int_eq(r.r, SMTP_RESULT_QUIT);
	finish(&r);
}
END_TEST

/* Past the SIZE limit the data is read to its end and refused with 552; the
 * relay hears TOO_BIG and nothing past the limit. */
START_TEST(data_too_big)
{
	struct pbt_buf in = { 0 };
	struct run r;
	setup(&r);
	r.f.ext.size = 1000;
	pbt_buf_adds(&in, IN_LOGIN "MAIL FROM:<a@x>\r\n"
	    "RCPT TO:<b@y>\r\nDATA\r\n");
	for (int i = 0; i < 100; i++)
		pbt_buf_adds(&in, "0123456789012345678901234567890123456789\r\n");
	pbt_buf_adds(&in, ".\r\nNOOP\r\nQUIT\r\n");
	feed(&r, in.p, in.len);
	ck_assert_int_eq(r.f.last_end, SMTP_DATA_TOO_BIG);
	ck_assert_uint_le(r.f.data_len, 1000);
	ck_assert_ptr_nonnull(strstr(r.m.out, "354 End data with <CR><LF>.<CR><LF>\r\n"
	    "552 5.3.4 Message size exceeds fixed maximum message size\r\n250 2.0.0 Ok\r\n221 "));
	ck_assert_int_eq(r.st.refused, 1);
	finish(&r);
	free(in.p);
}
END_TEST

START_TEST(data_write_fails)
{
	static const char in[] =
	    IN_ENVELOPE
	    "DATA\r\nline one\r\n.\r\nQUIT\r\n";
	struct run r;
	setup(&r);
	r.f.write_fail_at = 1;
	feed(&r, in, sizeof(in) - 1);
	ck_assert_int_eq(r.f.last_end, SMTP_DATA_FAILED);
	ck_assert_ptr_nonnull(strstr(r.m.out, "451 4.3.0 Could not store the message\r\n221 "));
	finish(&r);
}
END_TEST

/* The client goes away in the middle of the data: the relay hears ABORTED,
 * no reply, close once. */
START_TEST(data_dropped)
{
	static const char in[] =
	    IN_ENVELOPE
	    "DATA\r\nhalf a mess";
	struct run r;
	setup(&r);
	feed(&r, in, sizeof(in) - 1);
	ck_assert_int_eq(r.f.ends, 1);
	ck_assert_int_eq(r.f.last_end, SMTP_DATA_ABORTED);
	ck_assert_int_eq(r.f.dones, 0);
	ck_assert_int_eq(r.r, SMTP_RESULT_DROPPED);
	finish(&r);
}
END_TEST

START_TEST(upstream_gone)
{
	struct run r;
	setup(&r);
	dialog(&r, S_HELLO CS_EHLO CS_AUTH
	    "C: MAIL FROM:<a@x>\r\n"
	    "S: 250 2.1.0 Ok\r\n"
	    "C: RCPT TO:<gone@y>\r\n"
	    "S: 421 4.4.2 Upstream connection lost\r\n");
	ck_assert_int_eq(r.r, SMTP_RESULT_UPSTREAM);
	finish(&r);
}
END_TEST

/* ---- STARTTLS ------------------------------------------------------------------ */

START_TEST(starttls_injection)
{
	/* The engine only tests cfg.tls for NULL; memio does the "handshake". */
	static char token;
	struct run r;
	setup(&r);
	r.cfg.tls = (struct pop3_tls *)(void *)&token;
	r.cfg.offer_starttls = true;
	r.cfg.plaintext_auth_allowed = false;
	static const char in[] =
	    "EHLO c\r\nSTARTTLS\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nMAIL FROM:<evil@x>\r\n"
	    "MAIL FROM:<a@x>\r\nQUIT\r\n";
	memio_init(&r.m, in, sizeof(in) - 1);
	memio_packet(&r.m, (size_t)(strstr(in, "MAIL FROM:<a@x>") - in));
	r.m.tls_ok = true;
	start(&r);
	/* Everything behind STARTTLS in the same read was dropped: after TLS
	 * the first command seen is the second MAIL, before any EHLO. */
	dialog_expect(&r.m,
	    "220 mx.test ESMTP popbridge ready\r\n"
	    "250-mx.test\r\n250-PIPELINING\r\n250-SIZE 10000000\r\n250-8BITMIME\r\n"
	    "250-ENHANCEDSTATUSCODES\r\n250 STARTTLS\r\n"
	    "220 2.0.0 Ready to start TLS\r\n"
	    "503 5.5.1 Send EHLO or HELO first\r\n"
	    "221 2.0.0 mx.test closing connection\r\n");
	ck_assert_int_eq(r.f.opens, 0);
	ck_assert(r.m.tls);
	ck_assert_str_eq(r.st.tls_version, "memory-TLS");
	finish(&r);

	/* The client waits for the 220 (next read): after TLS, EHLO again
	 * offers AUTH and no STARTTLS. */
	setup(&r);
	r.cfg.tls = (struct pop3_tls *)(void *)&token;
	r.cfg.offer_starttls = true;
	r.cfg.plaintext_auth_allowed = false;
	static const char in2[] =
	    IN_LOGIN "STARTTLS\r\n"
	    IN_LOGIN "STARTTLS\r\nQUIT\r\n";
	memio_init(&r.m, in2, sizeof(in2) - 1);
	memio_packet(&r.m, (size_t)(strstr(in2, "STARTTLS") - in2) + 10);
	r.m.tls_ok = true;
	start(&r);
	dialog_expect(&r.m,
	    "220 mx.test ESMTP popbridge ready\r\n"
	    "250-mx.test\r\n250-PIPELINING\r\n250-SIZE 10000000\r\n250-8BITMIME\r\n"
	    "250-ENHANCEDSTATUSCODES\r\n250 STARTTLS\r\n"
	    "538 5.7.11 Encryption required for requested authentication mechanism\r\n"
	    "220 2.0.0 Ready to start TLS\r\n"
	    "250-mx.test\r\n250-PIPELINING\r\n250-SIZE 10000000\r\n250-8BITMIME\r\n"
	    "250-ENHANCEDSTATUSCODES\r\n250 AUTH PLAIN LOGIN\r\n"
	    "235 2.7.0 Authentication successful\r\n"
	    "503 5.5.1 TLS already active\r\n"
	    "221 2.0.0 mx.test closing connection\r\n");
	ck_assert_uint_eq(r.m.tls_in_pos, (size_t)(strstr(in2, "STARTTLS") - in2) + 10);
	finish(&r);
}
END_TEST

/* ---- limits ---------------------------------------------------------------------- */

START_TEST(long_lines_and_nul)
{
	struct pbt_buf in = { 0 };
	struct run r;
	setup(&r);
	pbt_buf_adds(&in, "EHLO c\r\nNOOP ");
	for (int i = 0; i < 600; i++)
		pbt_buf_adds(&in, "x");
	pbt_buf_adds(&in, "\r\nNO");
	pbt_buf_add(&in, "\0", 1);
	pbt_buf_adds(&in, "OP\r\nQUIT\r\n");
	feed(&r, in.p, in.len);
	ck_assert_ptr_nonnull(strstr(r.m.out, "250 AUTH PLAIN LOGIN\r\n500 5.5.2 Line too long\r\n"
	    "500 5.5.2 NUL octet in line\r\n221 "));
	finish(&r);
	free(in.p);

	/* A line past 64 KiB without a line end ends the session. */
	setup(&r);
	char *big = malloc(70000);
	ck_assert_ptr_nonnull(big);
	memset(big, 'a', 70000);
	feed(&r, big, 70000);
	ck_assert_int_eq(r.r, SMTP_RESULT_LINE_TOO_LONG);
	ck_assert_ptr_nonnull(strstr(r.m.out, "421 4.7.0 mx.test Line too long, closing connection\r\n"));
	finish(&r);
	free(big);
}
END_TEST

/* "C: " + prefix + n octets 'A' + CRLF */
static void a_line(struct pbt_buf *b, const char *prefix, size_t n)
{
	pbt_buf_adds(b, "C: ");
	pbt_buf_adds(b, prefix);
	for (size_t i = 0; i < n; i++)
		pbt_buf_adds(b, "A");
	pbt_buf_adds(b, "\r\n");
}

/* RFC 4954 §4: before login an AUTH command and its responses may be 12288
 * octets, CRLF included (SMTP_AUTH_LINE_MAX); one more is too long. After
 * login lines are commands only: 512 octets, and a longer AUTH is too long
 * rather than "already authenticated". ("AAAA" decodes to NUL octets: no
 * user name in PLAIN.) */
START_TEST(auth_line_limit)
{
	struct pbt_buf d = { 0 };
	struct run r;
	setup(&r);
	pbt_buf_adds(&d, S_HELLO CS_EHLO);
	a_line(&d, "AUTH PLAIN ", 12272);                 /* 12285 octets */
	pbt_buf_adds(&d, "S: 501 5.5.2 Malformed PLAIN response\r\n");
	pbt_buf_adds(&d, "C: AUTH PLAIN\r\nS: 334 \r\n");
	a_line(&d, "", 12284);
	pbt_buf_adds(&d, "S: 501 5.5.2 Malformed PLAIN response\r\n");
	pbt_buf_adds(&d, "C: AUTH PLAIN\r\nS: 334 \r\n");
	a_line(&d, "", 12286);                            /* 12288: the limit */
	pbt_buf_adds(&d, "S: 501 5.5.2 Cannot decode response\r\n");
	pbt_buf_adds(&d, "C: AUTH PLAIN\r\nS: 334 \r\n");
	a_line(&d, "", 12287);
	pbt_buf_adds(&d, "S: 500 5.5.2 Line too long\r\n");
	a_line(&d, "AUTH PLAIN ", 12276);                 /* 12289 */
	pbt_buf_adds(&d, "S: 500 5.5.2 Line too long\r\n");
	a_line(&d, "NOOP ", 1000);
	pbt_buf_adds(&d, "S: 500 5.5.2 Line too long\r\n");
	pbt_buf_adds(&d, CS_AUTH);
	a_line(&d, "AUTH PLAIN ", 600);
	pbt_buf_adds(&d, "S: 500 5.5.2 Line too long\r\n");
	a_line(&d, "AUTH PLAIN ", 480);
	pbt_buf_adds(&d, "S: 503 5.5.1 Already authenticated\r\n");
	pbt_buf_adds(&d, "C: QUIT\r\n" S_BYE);
	dialog(&r, d.p);
	ck_assert_int_eq(r.f.opens, 1);
	ck_assert_int_eq(r.r, SMTP_RESULT_QUIT);
	finish(&r);
	free(d.p);
}
END_TEST

START_TEST(too_many_errors)
{
	struct pbt_buf in = { 0 };
	struct run r;
	setup(&r);
	for (int i = 0; i < SMTP_MAX_BAD_COMMANDS + 5; i++)
		pbt_buf_adds(&in, "BOGUS\r\n");
	feed(&r, in.p, in.len);
	ck_assert_int_eq(r.r, SMTP_RESULT_TOO_MANY_ERRORS);
	ck_assert_ptr_nonnull(strstr(r.m.out, "500 5.5.2 Command not recognized\r\n"
	    "421 4.7.0 mx.test Too many errors, closing connection\r\n"));
	finish(&r);
	free(in.p);
}
END_TEST

static uint64_t fake_now;
static uint64_t fake_clock(void)
{
	return fake_now;
}

/* Not logged in by the login timeout: 421, whatever the client does. */
START_TEST(login_timeout)
{
	struct run r;
	setup(&r);
	fake_now = 1000;
	r.cfg.clock_ms = fake_clock;
	r.cfg.login_timeout_s = 10;
	static const char in[] = "EHLO c\r\nNOOP\r\nNOOP\r\n";
	memio_init(&r.m, in, sizeof(in) - 1);
	r.m.clock = &fake_now;
	r.m.clock_step_ms = 4000;
	r.m.max_read = 8;        /* one line per read */
	start(&r);
	ck_assert_int_eq(r.r, SMTP_RESULT_TIMEOUT);
	ck_assert_ptr_nonnull(strstr(r.m.out, "250 2.0.0 Ok\r\n421 4.4.2 mx.test Login timeout, "
	    "closing connection\r\n"));
	finish(&r);

	/* Idle after login: 421 idle timeout. */
	setup(&r);
	static const char in2[] = IN_LOGIN;
	memio_init(&r.m, in2, sizeof(in2) - 1);
	r.m.at_end = POP3_IO_TIMEOUT;
	start(&r);
	ck_assert_int_eq(r.r, SMTP_RESULT_TIMEOUT);
	ck_assert_ptr_nonnull(strstr(r.m.out, "235 2.7.0 Authentication successful\r\n"
	    "421 4.4.2 mx.test Idle timeout, closing connection\r\n"));
	finish(&r);
}
END_TEST

START_TEST(small_commands)
{
	struct run r;
	setup(&r);
	dialog(&r, S_HELLO
	    "C: NOOP anything\r\n"
	    "S: 250 2.0.0 Ok\r\n"
	    "C: HELP\r\n"
	    "S: 214 2.0.0 Commands: EHLO HELO STARTTLS AUTH MAIL RCPT DATA RSET NOOP QUIT\r\n"
	    "C: VRFY bob\r\n"
	    "S: 252 2.5.2 Cannot VRFY user, but will accept message\r\n"
	    "C: EXPN list\r\n"
	    "S: 502 5.5.1 EXPN not available\r\n"
	    "C: STARTTLS\r\n"
	    "S: 502 5.5.1 STARTTLS not available\r\n"
	    "C: RSET\r\n"
	    "S: 250 2.0.0 Ok\r\n"
	    "C: rset x\r\n"
	    "S: 501 5.5.4 Syntax: RSET\r\n"
	    "C: quit\r\n" S_BYE);
	finish(&r);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("smtp-session");
	TCase *tc = tcase_create("session");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, ehlo_quit);
	tcase_add_test(tc, ehlo_smtputf8_and_size);
	tcase_add_test(tc, mail_before_ehlo_and_auth);
	tcase_add_test(tc, auth_login_and_plain_forms);
	tcase_add_test(tc, auth_errors);
	tcase_add_test(tc, wrong_password_closes);
	tcase_add_test(tc, auth_temp_and_perm);
	tcase_add_test(tc, plaintext_refused);
	tcase_add_test(tc, submission);
	tcase_add_test(tc, submission_split_everywhere);
	tcase_add_test(tc, pipelined_refusals);
	tcase_add_test(tc, data_refused_at_end);
	tcase_add_test(tc, mail_parameters);
	tcase_add_test(tc, rcpt_limit);
	tcase_add_test(tc, data_line_ends);
	tcase_add_test(tc, data_too_big);
	tcase_add_test(tc, data_write_fails);
	tcase_add_test(tc, data_dropped);
	tcase_add_test(tc, upstream_gone);
	tcase_add_test(tc, starttls_injection);
	tcase_add_test(tc, long_lines_and_nul);
	tcase_add_test(tc, auth_line_limit);
	tcase_add_test(tc, too_many_errors);
	tcase_add_test(tc, login_timeout);
	tcase_add_test(tc, small_commands);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
