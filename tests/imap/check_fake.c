/* tests/imap/check_fake.c — the IMAP client against the scripted fake server
 * of tests/lib/fakeserver.h (a thread on a loopback port), for what a real
 * server will not do: STARTTLS not offered, PREAUTH in plaintext, bytes injected after the
 * STARTTLS OK, a disconnect in the middle of a literal, a server that stalls,
 * hostile and odd responses, the LOGIN/AUTHENTICATE variants (OAuth2's too), untagged data
 * during commands, command splitting, and pipelined tail fetches.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "imap/imap.h"
#include "tests/imap/events.h"
#include "tests/lib/cert.h"
#include "tests/lib/fakeserver.h"
#include "tests/lib/testutil.h"

/* ---- the scripted server (tests/lib/fakeserver.h) ------------------------ */

static struct pbt_fake *fk_start(const struct pbt_step *steps, bool v6)
{
	struct pbt_fake *f = pbt_fake_start(steps, PBT_FAKE_TLS | (v6 ? PBT_FAKE_V6 : 0));
	ck_assert_ptr_nonnull(f);
	return f;
}

/* ---- client side helpers ------------------------------------------------- */

static struct imap_session *client(struct pbt_fake *f, enum imap_tls_mode tls, unsigned timeout,
    struct events *ev)
{
	struct imap_config cfg = {
		.host = (f->flags & PBT_FAKE_V6) ? "::1" : "127.0.0.1",
		.port = (unsigned)f->port,
		.tls = tls,
		.ca_file = f->cert,
		.verify_name = "localhost",
		.timeout_s = timeout ? timeout : 10,
		.on_event = ev ? on_event : NULL,
		.event_arg = ev,
	};
	struct imap_session *s = imap_session_new(&cfg);
	ck_assert_ptr_nonnull(s);
	return s;
}

#define GREET "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR UIDPLUS] ready\r\n"
#define LOGIN_OK PBT_EXPECT("AUTHENTICATE PLAIN "), PBT_SEND("$T OK logged in\r\n"), \
	PBT_EXPECT("CAPABILITY"), \
	PBT_SEND("* CAPABILITY IMAP4rev1 UIDPLUS\r\n$T OK caps\r\n")
#define SELECT_OK PBT_EXPECT("SELECT INBOX"), \
	PBT_SEND("* 3 EXISTS\r\n* OK [UIDVALIDITY 7] v\r\n* OK [UIDNEXT 10] n\r\n" \
	    "$T OK [READ-WRITE] selected\r\n")

static struct imap_session *ready(struct pbt_fake *f, struct events *ev, unsigned timeout)
{
	struct imap_session *s = client(f, IMAP_TLS_NONE, timeout, ev);
	OK(imap_connect(s));
	OK(imap_login(s, "alice", "pw"));
	OK(imap_select(s, "INBOX", 0, NULL));
	return s;
}

struct body {
	char data[4096];
	size_t len;
	int ret;  /* what the sink returns */
};

static int body_sink(void *arg, const char *buf, size_t len)
{
	struct body *b = arg;
	size_t n = len < sizeof(b->data) - b->len ? len : sizeof(b->data) - b->len;
	memcpy(b->data + b->len, buf, n);
	b->len += n;
	return b->ret;
}

/* ---- NOOP and SELECT in one round trip (imap_noop_select) ---------------- */

/* Both commands go out before either answer is read (the server reads the
 * SELECT before it answers the NOOP: a client that waited would hang
 * here): NOOP's untagged EXPUNGE is not SELECT's data; then a NOOP the
 * server refuses is the result, with SELECT's own outcome apart and the
 * connection in step; a name that needs a literal goes one at a time. */
START_TEST(test_noop_select_pipelined)
{
	static const struct pbt_step steps[] = {
		PBT_SEND(GREET), LOGIN_OK, PBT_MARK,
		PBT_EXPECT("NOOP"), PBT_EXPECT("SELECT INBOX"),
		PBT_SEND("* 2 EXPUNGE\r\n$1 OK noop\r\n* 5 EXISTS\r\n* OK [UIDVALIDITY 7] v\r\n"
		    "* OK [UIDNEXT 12] n\r\n$2 OK [READ-WRITE] selected\r\n"),
		PBT_MARK, PBT_EXPECT("NOOP"), PBT_EXPECT("SELECT Gone"),
		PBT_SEND("$1 NO busy\r\n$2 NO [NONEXISTENT] no such mailbox\r\n"),
		PBT_EXPECT("NOOP"), PBT_SEND("$T OK\r\n"),
		PBT_EXPECT("SELECT {5}"), PBT_SEND("+ go\r\n"), PBT_EXPECT_RAW("Caf\xc3\xa9"),
		PBT_SEND("* 1 EXISTS\r\n* OK [UIDVALIDITY 9] v\r\n$T OK selected\r\n"),
		PBT_ANSWER_ALL, PBT_END,
	};
	struct pbt_fake *f = fk_start(steps, false);
	struct imap_session *s = client(f, IMAP_TLS_NONE, 10, NULL);
	struct imap_mailbox_info mi;
	enum imap_result sel;

	OK(imap_connect(s));
	OK(imap_login(s, "alice", "pw"));
	OK(imap_noop_select(s, "INBOX", IMAP_SELECT_CONDSTORE, &mi, &sel));
	ck_assert_int_eq(sel, IMAP_OK);
	ck_assert_uint_eq(mi.exists, 5);
	ck_assert_uint_eq(imap_exists(s), 5);
	ck_assert(mi.has_uidvalidity && mi.uidvalidity == 7 && mi.uidnext == 12);
	ck_assert_int_eq(imap_state(s), IMAP_STATE_SELECTED);
	unsigned before = imap_commands(s);
	ck_assert_int_eq(imap_noop_select(s, "Gone", 0, &mi, &sel), IMAP_NO);
	ck_assert_str_eq(imap_last(s)->text, "busy");
	ck_assert_int_eq(sel, IMAP_NO);
	ck_assert_int_eq(imap_state(s), IMAP_STATE_AUTH);
	ck_assert_uint_ne(imap_commands(s), before);
	OK(imap_noop_select(s, "Caf\xc3\xa9", 0, &mi, &sel));
	ck_assert_int_eq(sel, IMAP_OK);
	ck_assert_uint_eq(mi.uidvalidity, 9);
	OK(imap_logout(s));
	imap_session_free(s);
	PBT_FAKE_FINISH(f);
}
END_TEST

/* ---- read-ahead (imap_fetch_ahead, imap_store_ahead) ---------------------- */

struct done_log {
	unsigned n;
	uint32_t uid;
	struct imap_status st;
};

static void done_cb(void *arg, const struct imap_ahead_info *what,
    const struct imap_status *st)
{
	struct done_log *d = arg;
	d->n++;
	d->uid = what->uid;
	d->st = *st;
}

#define AHEAD3 PBT_MARK, \
	PBT_EXPECT("UID FETCH 4 (UID BODY.PEEK[])"), \
	PBT_EXPECT("UID STORE 4 +FLAGS.SILENT (\\Seen)"), \
	PBT_EXPECT("UID FETCH 5 (UID BODY.PEEK[HEADER])")

/* Three commands go out before any answer is read; the server answers
 * them out of order (the store's NO first, both bodies before the first
 * tagged reply, as Dovecot does): each body reaches the fetch that asked
 * for it, the store's failure reaches its done callback, and a later
 * command finds the session clean. */
START_TEST(test_ahead_out_of_order)
{
	static const struct pbt_step steps[] = {
		PBT_SEND(GREET), LOGIN_OK, SELECT_OK, AHEAD3,
		PBT_SEND("$2 NO [SERVERBUG] cannot store\r\n"
		    "* 1 FETCH (UID 4 BODY[] {5}\r\nhello)\r\n"
		    "* 2 FETCH (UID 5 BODY[HEADER] {3}\r\nhdr)\r\n"
		    "$1 OK\r\n$3 OK\r\n"),
		PBT_EXPECT("NOOP"), PBT_SEND("$T OK\r\n"),
		PBT_ANSWER_ALL, PBT_END,
	};
	struct pbt_fake *f = fk_start(steps, false);
	struct imap_session *s = ready(f, NULL, 0);
	struct done_log d = { 0 };
	OK(imap_fetch_ahead(s, 4, IMAP_SECTION_ALL, 0, 0, 5));
	OK(imap_store_ahead(s, 4, true, IMAP_FLAG_SEEN, done_cb, &d));
	OK(imap_fetch_ahead(s, 5, IMAP_SECTION_HEADER, 0, 0, 3));
	ck_assert_uint_eq(imap_ahead_count(s), 3);
	ck_assert_uint_eq(imap_ahead_octets(s), 8);
	struct body b = { .ret = 0 };
	OK(imap_fetch_body(s, 4, IMAP_SECTION_ALL, 0, 0, body_sink, &b, NULL));
	ck_assert(b.len == 5 && memcmp(b.data, "hello", 5) == 0);
	ck_assert_uint_eq(d.n, 1);
	ck_assert_uint_eq(d.uid, 4);
	ck_assert_int_eq(d.st.result, IMAP_NO);
	ck_assert_int_eq(d.st.code, IMAP_CODE_SERVERBUG);
	/* reading stopped at the end of that body: the next one is still
	 * there for its fetch, the tagged replies come with it */
	ck_assert_uint_eq(imap_ahead_count(s), 3);
	struct body h = { .ret = 0 };
	OK(imap_fetch_body(s, 5, IMAP_SECTION_HEADER, 0, 0, body_sink, &h, NULL));
	ck_assert(h.len == 3 && memcmp(h.data, "hdr", 3) == 0);
	OK(imap_noop(s));
	ck_assert_uint_eq(imap_ahead_count(s), 0);
	OK(imap_logout(s));
	imap_session_free(s);
	PBT_FAKE_FINISH(f);
}
END_TEST

/* A fetch the caller asks for that is not the oldest in flight: the ones
 * before it are read and their bodies dropped; one not in flight at all
 * drains everything first, then goes out alone; a message gone upstream
 * is IMAP_ENOTFOUND as without read-ahead. */
START_TEST(test_ahead_skip_and_drain)
{
	static const struct pbt_step steps[] = {
		PBT_SEND(GREET), LOGIN_OK, SELECT_OK, PBT_MARK,
		PBT_EXPECT("UID FETCH 4 (UID BODY.PEEK[])"),
		PBT_EXPECT("UID FETCH 5 (UID BODY.PEEK[])"),
		PBT_EXPECT("UID FETCH 6 (UID BODY.PEEK[TEXT]<0.100>)"),
		PBT_SEND("* 1 FETCH (UID 4 BODY[] {4}\r\nfour)\r\n$1 OK\r\n"
		    "* 2 FETCH (UID 5 BODY[] {4}\r\nfive)\r\n$2 OK\r\n"
		    "$3 OK nothing\r\n"),
		PBT_EXPECT("UID FETCH 9 (UID BODY.PEEK[])"),
		PBT_SEND("* 3 FETCH (UID 9 BODY[] {4}\r\nnine)\r\n$T OK\r\n"),
		PBT_ANSWER_ALL, PBT_END,
	};
	struct pbt_fake *f = fk_start(steps, false);
	struct imap_session *s = ready(f, NULL, 0);
	OK(imap_fetch_ahead(s, 4, IMAP_SECTION_ALL, 0, 0, 4));
	OK(imap_fetch_ahead(s, 5, IMAP_SECTION_ALL, 0, 0, 4));
	OK(imap_fetch_ahead(s, 6, IMAP_SECTION_TEXT, 0, 100, 100));
	struct body b = { .ret = 0 };
	OK(imap_fetch_body(s, 5, IMAP_SECTION_ALL, 0, 0, body_sink, &b, NULL));
	ck_assert(b.len == 4 && memcmp(b.data, "five", 4) == 0);
	struct body g = { .ret = 0 };
	ck_assert_int_eq(imap_fetch_body(s, 6, IMAP_SECTION_TEXT, 0, 100, body_sink, &g, NULL),
	    IMAP_ENOTFOUND);
	ck_assert_uint_eq(g.len, 0);
	struct body n = { .ret = 0 };
	OK(imap_fetch_body(s, 9, IMAP_SECTION_ALL, 0, 0, body_sink, &n, NULL));
	ck_assert(n.len == 4 && memcmp(n.data, "nine", 4) == 0);
	OK(imap_logout(s));
	imap_session_free(s);
	PBT_FAKE_FINISH(f);
}
END_TEST

/* The connection ends with a store in flight: its done hears IMAP_ECONN
 * (it may or may not have been done), never nothing. */
START_TEST(test_ahead_lost)
{
	static const struct pbt_step steps[] = {
		PBT_SEND(GREET), LOGIN_OK, SELECT_OK, PBT_MARK,
		PBT_EXPECT("UID FETCH 4 (UID BODY.PEEK[])"),
		PBT_EXPECT("UID STORE 3 +FLAGS.SILENT (\\Seen)"),
		PBT_SEND("* 1 FETCH (UID 4 BODY[] {40}\r\nonly part"),
		PBT_CLOSE, PBT_END,
	};
	struct pbt_fake *f = fk_start(steps, false);
	struct imap_session *s = ready(f, NULL, 0);
	struct done_log d = { 0 };
	OK(imap_fetch_ahead(s, 4, IMAP_SECTION_ALL, 0, 0, 40));
	OK(imap_store_ahead(s, 3, true, IMAP_FLAG_SEEN, done_cb, &d));
	struct body b = { .ret = 0 };
	ck_assert_int_eq(imap_fetch_body(s, 4, IMAP_SECTION_ALL, 0, 0, body_sink, &b, NULL),
	    IMAP_ECONN);
	ck_assert_uint_eq(d.n, 1);
	ck_assert_uint_eq(d.uid, 3);
	ck_assert_int_eq(d.st.result, IMAP_ECONN);
	ck_assert_uint_eq(imap_ahead_count(s), 0);
	imap_session_free(s);
	PBT_FAKE_FINISH(f);
}
END_TEST

/* A server that names the UID after the literal and answers a fetch sent
 * ahead with another message's body: the body has gone to the caller by
 * the time the UID says whose it is. As without read-ahead (the direct
 * fetch below), that is a protocol error that ends the connection, never
 * a fetch that succeeded with the wrong message. */
START_TEST(test_ahead_body_for_another)
{
	static const struct pbt_step steps[] = {
		PBT_SEND(GREET), LOGIN_OK, SELECT_OK, PBT_MARK,
		PBT_EXPECT("UID FETCH 4 (UID BODY.PEEK[])"),
		PBT_SEND("* 2 FETCH (BODY[] {4}\r\nfive UID 5)\r\n$1 OK\r\n"),
		PBT_STALL, PBT_END,
	};
	/* the same body while the fetch of UID 4 is ahead of the one waited
	 * for (UID 5): it is UID 5's, dropped as UID 4's; UID 5 then looked
	 * gone upstream (IMAP_ENOTFOUND: the maildrop marks it deleted) */
	static const struct pbt_step second[] = {
		PBT_SEND(GREET), LOGIN_OK, SELECT_OK, PBT_MARK,
		PBT_EXPECT("UID FETCH 4 (UID BODY.PEEK[])"),
		PBT_EXPECT("UID FETCH 5 (UID BODY.PEEK[])"),
		PBT_SEND("* 2 FETCH (BODY[] {4}\r\nfive UID 5)\r\n$1 OK\r\n$2 OK\r\n"),
		PBT_STALL, PBT_END,
	};
	static const struct pbt_step direct[] = {
		PBT_SEND(GREET), LOGIN_OK, SELECT_OK,
		PBT_EXPECT("UID FETCH 4 (UID BODY.PEEK[])"),
		PBT_SEND("* 2 FETCH (BODY[] {4}\r\nfive UID 5)\r\n$T OK\r\n"),
		PBT_STALL, PBT_END,
	};
	for (int ahead = 2; ahead >= 0; ahead--) {
		struct pbt_fake *f = fk_start(ahead == 2 ? second : ahead ? steps : direct, false);
		struct imap_session *s = ready(f, NULL, 0);
		if (ahead)
			OK(imap_fetch_ahead(s, 4, IMAP_SECTION_ALL, 0, 0, 4));
		if (ahead == 2)
			OK(imap_fetch_ahead(s, 5, IMAP_SECTION_ALL, 0, 0, 4));
		struct body b = { .ret = 0 };
		ck_assert_int_eq(imap_fetch_body(s, ahead == 2 ? 5 : 4, IMAP_SECTION_ALL, 0, 0,
		    body_sink, &b, NULL), IMAP_EPROTO);
		ck_assert_int_eq(imap_state(s), IMAP_STATE_DISCONNECTED);
		ck_assert(!imap_reusable(s));
		ck_assert_uint_eq(imap_ahead_count(s), 0);
		imap_session_free(s);
		PBT_FAKE_FINISH(f);
	}
}
END_TEST

/* TOP's two fetches of one message sent ahead, answered text first with
 * the UID after the literal: the section routes each body (the UID says
 * nothing yet), so the header fetch gets the header, never the text. */
START_TEST(test_ahead_sections_out_of_order)
{
	static const struct pbt_step steps[] = {
		PBT_SEND(GREET), LOGIN_OK, SELECT_OK, PBT_MARK,
		PBT_EXPECT("UID FETCH 4 (UID BODY.PEEK[HEADER])"),
		PBT_EXPECT("UID FETCH 4 (UID BODY.PEEK[TEXT]<0.100>)"),
		PBT_SEND("* 1 FETCH (BODY[TEXT]<0> {4}\r\ntext UID 4)\r\n$2 OK\r\n"
		    "* 1 FETCH (BODY[HEADER] {3}\r\nhdr UID 4)\r\n$1 OK\r\n"),
		PBT_EXPECT("UID FETCH 4 (UID BODY.PEEK[TEXT]<0.100>)"),
		PBT_SEND("* 1 FETCH (BODY[TEXT]<0> {4}\r\ntext UID 4)\r\n$T OK\r\n"),
		PBT_ANSWER_ALL, PBT_END,
	};
	struct pbt_fake *f = fk_start(steps, false);
	struct imap_session *s = ready(f, NULL, 0);
	OK(imap_fetch_ahead(s, 4, IMAP_SECTION_HEADER, 0, 0, 3));
	OK(imap_fetch_ahead(s, 4, IMAP_SECTION_TEXT, 0, 100, 100));
	struct body h = { .ret = 0 }, t = { .ret = 0 };
	OK(imap_fetch_body(s, 4, IMAP_SECTION_HEADER, 0, 0, body_sink, &h, NULL));
	ck_assert_msg(h.len == 3 && memcmp(h.data, "hdr", 3) == 0, "%.*s", (int)h.len, h.data);
	OK(imap_fetch_body(s, 4, IMAP_SECTION_TEXT, 0, 100, body_sink, &t, NULL));
	ck_assert(t.len == 4 && memcmp(t.data, "text", 4) == 0);
	OK(imap_logout(s));
	imap_session_free(s);
	PBT_FAKE_FINISH(f);
}
END_TEST

/* The selected mailbox's UIDVALIDITY changes under the session (a mailbox
 * deleted and created again while selected): every UID the caller holds
 * now names another message, or none, so a UID FETCH would send another
 * message and a UID EXPUNGE remove one. The session ends at once (as
 * Dovecot's own BYE does), whether the news comes with a NOOP or in the
 * middle of a fetch sent ahead; the same value again, or one reported by
 * a SELECT, is no news. */
START_TEST(test_uidvalidity_changed_while_selected)
{
	static const struct pbt_step noop[] = {
		PBT_SEND(GREET), LOGIN_OK, SELECT_OK,
		PBT_EXPECT("NOOP"), PBT_SEND("* OK [UIDVALIDITY 7] same\r\n$T OK\r\n"),
		PBT_EXPECT("NOOP"), PBT_SEND("* OK [UIDVALIDITY 8] renumbered\r\n$T OK\r\n"),
		PBT_STALL, PBT_END,
	};
	static const struct pbt_step fetch[] = {
		PBT_SEND(GREET), LOGIN_OK, SELECT_OK, PBT_MARK,
		PBT_EXPECT("UID FETCH 4 (UID BODY.PEEK[])"),
		PBT_EXPECT("UID STORE 4 +FLAGS.SILENT (\\Seen)"),
		PBT_SEND("* OK [UIDVALIDITY 8] renumbered\r\n"
		    "* 1 FETCH (UID 4 BODY[] {5}\r\nother)\r\n$1 OK\r\n$2 OK\r\n"),
		PBT_STALL, PBT_END,
	};
	for (int ahead = 0; ahead <= 1; ahead++) {
		struct pbt_fake *f = fk_start(ahead ? fetch : noop, false);
		struct imap_session *s = ready(f, NULL, 0);
		struct body b = { .ret = 0 };
		struct done_log d = { 0 };
		if (ahead) {
			OK(imap_fetch_ahead(s, 4, IMAP_SECTION_ALL, 0, 0, 5));
			OK(imap_store_ahead(s, 4, true, IMAP_FLAG_SEEN, done_cb, &d));
			ck_assert_int_eq(imap_fetch_body(s, 4, IMAP_SECTION_ALL, 0, 0, body_sink, &b,
			    NULL), IMAP_EPROTO);
			ck_assert_uint_eq(b.len, 0);
			ck_assert_uint_eq(d.n, 1);  /* the store: not confirmed */
		} else {
			OK(imap_noop(s));
			ck_assert_int_eq(imap_noop(s), IMAP_EPROTO);
		}
		ck_assert_msg(strstr(imap_last(s)->text, "UIDVALIDITY") != NULL, "%s",
		    imap_last(s)->text);
		ck_assert_int_eq(imap_state(s), IMAP_STATE_DISCONNECTED);
		imap_session_free(s);
		PBT_FAKE_FINISH(f);
	}
}
END_TEST

/* ---- STARTTLS -------------------------------------------------------------- */

/* The client gives up on the connection: imap_connect() answers rc for
 * cause (its text holding `text` when given), and leaves the session
 * disconnected. */
static void connect_fails(const struct pbt_step *steps, enum imap_tls_mode tls,
    unsigned timeout, enum imap_result rc, enum imap_cause cause, const char *text)
{
	struct pbt_fake *f = fk_start(steps, false);
	struct imap_session *s = client(f, tls, timeout, NULL);
	ck_assert_int_eq(imap_connect(s), rc);
	ck_assert_int_eq(imap_last(s)->cause, cause);
	if (text != NULL)
		ck_assert_ptr_nonnull(strstr(imap_last(s)->text, text));
	ck_assert_int_eq(imap_state(s), IMAP_STATE_DISCONNECTED);
	imap_session_free(s);
	PBT_FAKE_FINISH(f);
}

START_TEST(test_starttls_not_offered)
{
	static const struct pbt_step steps[] = {
		PBT_SEND("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] no tls here\r\n"),
		PBT_STALL, PBT_END,
	};
	connect_fails(steps, IMAP_TLS_STARTTLS, 0, IMAP_ETLS, IMAP_CAUSE_NO_STARTTLS, NULL);
}
END_TEST

START_TEST(test_starttls_not_offered_after_capability)
{
	static const struct pbt_step steps[] = {
		PBT_SEND("* OK hello\r\n"),
		PBT_EXPECT("CAPABILITY"),
		PBT_SEND("* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n$T OK\r\n"),
		PBT_STALL, PBT_END,
	};
	connect_fails(steps, IMAP_TLS_STARTTLS, 0, IMAP_ETLS, IMAP_CAUSE_NO_STARTTLS, NULL);
}
END_TEST

START_TEST(test_starttls_refused)
{
	static const struct pbt_step steps[] = {
		PBT_SEND("* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n"),
		PBT_EXPECT("STARTTLS"),
		PBT_SEND("$T BAD not now\r\n"),
		PBT_STALL, PBT_END,
	};
	connect_fails(steps, IMAP_TLS_STARTTLS, 0, IMAP_ETLS, IMAP_CAUSE_NO_STARTTLS, NULL);
}
END_TEST

START_TEST(test_preauth_plaintext)
{
	static const struct pbt_step steps[] = {
		PBT_SEND("* PREAUTH [CAPABILITY IMAP4rev1 STARTTLS] welcome\r\n"),
		PBT_STALL, PBT_END,
	};
	connect_fails(steps, IMAP_TLS_STARTTLS, 0, IMAP_ETLS, IMAP_CAUSE_PREAUTH, NULL);
}
END_TEST

START_TEST(test_preauth_without_tls_cannot_login)
{
	static const struct pbt_step steps[] = {
		PBT_SEND("* PREAUTH [CAPABILITY IMAP4rev1] welcome\r\n"),
		PBT_ANSWER_ALL, PBT_END,
	};
	struct pbt_fake *f = fk_start(steps, false);
	struct imap_session *s = client(f, IMAP_TLS_NONE, 0, NULL);
	OK(imap_connect(s));
	ck_assert_int_eq(imap_state(s), IMAP_STATE_AUTH);
	ck_assert_int_eq(imap_login(s, "alice", "pw"), IMAP_EARG);
	OK(imap_logout(s));
	imap_session_free(s);
	PBT_FAKE_FINISH(f);
}
END_TEST

START_TEST(test_starttls_injection_discarded)
{
	static const struct pbt_step steps[] = {
		PBT_SEND("* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] hi\r\n"),
		PBT_EXPECT("STARTTLS"),
		/* One write: the OK and, behind it, plaintext an attacker injected. */
		PBT_SEND("$T OK Begin TLS\r\n* CAPABILITY IMAP4rev1 X-INJECTED AUTH=PLAIN\r\n"
		    "A0002 OK [CAPABILITY IMAP4rev1 X-INJECTED] done\r\n"),
		PBT_TLS,
		PBT_EXPECT("CAPABILITY"),
		PBT_SEND("* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n$T OK caps\r\n"),
		PBT_EXPECT("AUTHENTICATE PLAIN"),
		PBT_SEND("+ \r\n"),
		PBT_EXPECT_RAW("AGFsaWNlAHB3"),
		PBT_SEND("$T OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] in\r\n"),
		PBT_ANSWER_ALL, PBT_END,
	};
	struct pbt_fake *f = fk_start(steps, false);
	struct imap_session *s = client(f, IMAP_TLS_STARTTLS, 0, NULL);
	OK(imap_connect(s));
	ck_assert_uint_gt(imap_starttls_discarded(s), 0);
	ck_assert(!imap_has_name(s, "X-INJECTED"));
	ck_assert_str_eq(imap_capability_string(s), "IMAP4REV1 AUTH=PLAIN");
	ck_assert_ptr_nonnull(imap_tls_version(s));
	ck_assert_int_eq(imap_state(s), IMAP_STATE_NOT_AUTH);
	OK(imap_login(s, "alice", "pw"));
	OK(imap_noop(s));
	OK(imap_logout(s));
	imap_session_free(s);
	PBT_FAKE_FINISH(f);
}
END_TEST

/* ---- faults ---------------------------------------------------------------- */

/* UID FETCH 5's literal cut short by `end` (the server closing or
 * stalling) after the octets of `sent`: ECONN for cause, the sink holding
 * what came (want_len octets, starting with want when given). */
static void literal_cut(const char *sent, struct pbt_step end, unsigned timeout,
    struct events *ev, enum imap_cause cause, size_t want_len, const char *want)
{
	struct pbt_step steps[] = {
		PBT_SEND(GREET), LOGIN_OK, SELECT_OK,
		PBT_EXPECT("UID FETCH 5 (UID BODY.PEEK[])"),
		PBT_SEND(sent), end, PBT_END,
	};
	struct pbt_fake *f = fk_start(steps, false);
	struct imap_session *s = ready(f, ev, timeout);
	struct body b = { .ret = 0 };
	ck_assert_int_eq(imap_fetch_body(s, 5, IMAP_SECTION_ALL, 0, 0, body_sink, &b, NULL),
	    IMAP_ECONN);
	ck_assert_int_eq(imap_last(s)->cause, cause);
	ck_assert_uint_eq(b.len, want_len);
	if (want != NULL)
		ck_assert(memcmp(b.data, want, want_len) == 0);
	if (cause == IMAP_CAUSE_CLOSED) {
		ck_assert_int_eq(imap_state(s), IMAP_STATE_DISCONNECTED);
		ck_assert_int_eq(imap_noop(s), IMAP_ECONN);
	}
	imap_session_free(s);
	PBT_FAKE_FINISH(f);
}

START_TEST(test_disconnect_mid_literal)
{
	literal_cut("* 2 FETCH (UID 5 BODY[] {1000}\r\n0123456789", (struct pbt_step)PBT_CLOSE, 0,
	    NULL, IMAP_CAUSE_CLOSED, 10, NULL);
}
END_TEST

/* "* BYE" inside a literal is message data, not a BYE: the sink gets it,
 * and the disconnect that follows is a plain loss of the connection. */
START_TEST(test_bye_inside_literal)
{
	struct events ev = { 0 };
	literal_cut("* 2 FETCH (UID 5 BODY[] {100}\r\n* BYE going away\r\n",
	    (struct pbt_step)PBT_CLOSE, 0, &ev, IMAP_CAUSE_CLOSED, 18, "* BYE going away\r\n");
	ck_assert_uint_eq(ev.bye, 0);
}
END_TEST

START_TEST(test_stall_mid_literal)
{
	literal_cut("* 2 FETCH (UID 5 BODY[] {100}\r\nonly this", (struct pbt_step)PBT_STALL, 1,
	    NULL, IMAP_CAUSE_TIMEOUT, 9, NULL);
}
END_TEST

START_TEST(test_stall_times_out)
{
	static const struct pbt_step steps[] = {
		PBT_SEND(GREET), PBT_EXPECT("NOOP"), PBT_STALL, PBT_END,
	};
	struct pbt_fake *f = fk_start(steps, false);
	struct imap_session *s = client(f, IMAP_TLS_NONE, 1, NULL);
	OK(imap_connect(s));
	double t0 = pbt_now();
	ck_assert_int_eq(imap_noop(s), IMAP_ECONN);
	ck_assert_double_ge(pbt_now() - t0, 0.9);
	ck_assert_int_eq(imap_last(s)->cause, IMAP_CAUSE_TIMEOUT);
	ck_assert(imap_last_is_trouble(s));
	imap_session_free(s);
	PBT_FAKE_FINISH(f);
}
END_TEST

START_TEST(test_stall_greeting_and_tls)
{
	static const struct pbt_step steps[] = { PBT_STALL, PBT_END };
	connect_fails(steps, IMAP_TLS_NONE, 1, IMAP_ECONN, IMAP_CAUSE_TIMEOUT, NULL);
	connect_fails(steps, IMAP_TLS_IMPLICIT, 1, IMAP_ECONN, IMAP_CAUSE_TIMEOUT, NULL);
}
END_TEST

START_TEST(test_connect_refused)
{
	struct pbt_fake *f = calloc(1, sizeof(*f));
	int fd = pbt_listen(false, &f->port);
	ck_assert_int_ge(fd, 0);
	close(fd);  /* nobody listens there now */
	struct imap_session *s = client(f, IMAP_TLS_NONE, 2, NULL);
	ck_assert_int_eq(imap_connect(s), IMAP_ECONN);
	ck_assert_int_eq(imap_last(s)->cause, IMAP_CAUSE_CONNECT);
	imap_session_free(s);
	struct imap_config cfg = { .host = "no-such-host.invalid", .port = 1, .tls = IMAP_TLS_NONE,
	    .timeout_s = 2 };
	s = imap_session_new(&cfg);
	ck_assert_int_eq(imap_connect(s), IMAP_ECONN);
	ck_assert_int_eq(imap_last(s)->cause, IMAP_CAUSE_RESOLVE);
	imap_session_free(s);
	free(f);
}
END_TEST

START_TEST(test_greeting_bye)
{
	static const struct pbt_step steps[] = {
		PBT_SEND("* BYE [UNAVAILABLE] too busy\r\n"), PBT_END,
	};
	connect_fails(steps, IMAP_TLS_NONE, 0, IMAP_ECONN, IMAP_CAUSE_BYE, "too busy");
}
END_TEST

START_TEST(test_bye_during_command)
{
	static const struct pbt_step steps[] = {
		PBT_SEND(GREET), PBT_EXPECT("NOOP"),
		PBT_SEND("* BYE server shutting down\r\n"), PBT_CLOSE, PBT_END,
	};
	struct pbt_fake *f = fk_start(steps, false);
	struct events ev = { 0 };
	struct imap_session *s = client(f, IMAP_TLS_NONE, 0, &ev);
	OK(imap_connect(s));
	ck_assert_int_eq(imap_noop(s), IMAP_ECONN);
	ck_assert_int_eq(imap_last(s)->cause, IMAP_CAUSE_BYE);
	ck_assert_ptr_nonnull(strstr(imap_last(s)->text, "shutting down"));
	ck_assert_uint_eq(ev.bye, 1);
	imap_session_free(s);
	PBT_FAKE_FINISH(f);
}
END_TEST

/* A response the parser must refuse ends the session with EPROTO. */
static void hostile(const char *response)
{
	struct pbt_step steps[] = {
		PBT_SEND(GREET), LOGIN_OK, SELECT_OK,
		PBT_EXPECT("UID FETCH 5"), PBT_SEND(response), PBT_STALL, PBT_END,
	};
	struct pbt_fake *f = fk_start(steps, false);
	struct imap_session *s = ready(f, NULL, 0);
	struct body b = { .ret = 0 };
	ck_assert_int_eq(imap_fetch_body(s, 5, IMAP_SECTION_ALL, 0, 0, body_sink, &b, NULL),
	    IMAP_EPROTO);
	ck_assert_int_eq(imap_state(s), IMAP_STATE_DISCONNECTED);
	ck_assert(imap_last_is_trouble(s));
	imap_session_free(s);
	PBT_FAKE_FINISH(f);
}

START_TEST(test_hostile_responses)
{
	hostile("* 2 FETCH (UID 5 BODY[] {9223372036854775808}\r\n");
	hostile("* 2 FETCH (UID 5 BODY[] {4294967296}\r\n");
	hostile("* 2 FETCH (UID 5 X-GM-LABELS ({70000}\r\n");
	hostile("* 4294967296 EXISTS\r\n");
	hostile("* 2 FETCH (UID 99999999999 BODY[] {1}\r\nx)\r\n");
	hostile("* 2 FETCH (UID 0 FLAGS ())\r\n");
	hostile("* 2 FETCH UID 5\r\n");
	hostile("* 0 EXPUNGE\r\n");
	hostile("+ go ahead\r\n");
	hostile("B001 OK not yours\r\n");
	hostile("* VANISHED (EARLIER) 5:x\r\n");
}
END_TEST

START_TEST(test_deep_nesting_from_server)
{
	char *resp = malloc(20016);
	size_t n = 0;
	n += (size_t)sprintf(resp, "* X ");
	memset(resp + n, '(', 10000);
	n += 10000;
	memcpy(resp + n, "\r\n", 3);
	hostile(resp);
	free(resp);
}
END_TEST

/* ---- results and untagged data ------------------------------------------- */

struct infos {
	unsigned n;
	uint32_t uid[8];
	uint64_t size[8];
	unsigned flags[8];
	char emailid[32];
	char header[256];
};

static int info_cb(void *arg, const struct imap_msg *m)
{
	struct infos *z = arg;
	ck_assert_uint_lt(z->n, 8);
	z->uid[z->n] = m->uid;
	z->size[z->n] = m->size;
	z->flags[z->n] = m->flags;
	if (m->emailid)
		snprintf(z->emailid, sizeof(z->emailid), "%s", m->emailid);
	if (m->header)
		snprintf(z->header, sizeof(z->header), "%.*s", (int)m->header_len, m->header);
	z->n++;
	return 0;
}

START_TEST(test_untagged_during_fetch)
{
	static const struct pbt_step steps[] = {
		PBT_SEND("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR UIDPLUS OBJECTID "
		    "QRESYNC] ready\r\n"),
		PBT_EXPECT("AUTHENTICATE PLAIN "),
		PBT_SEND("$T OK [CAPABILITY IMAP4rev1 UIDPLUS OBJECTID QRESYNC] in\r\n"),
		SELECT_OK,
		PBT_EXPECT("UID FETCH 4:6 (UID RFC822.SIZE FLAGS EMAILID)"),
		PBT_SEND("* 1 FETCH (UID 4 RFC822.SIZE 100 FLAGS (\\Seen) EMAILID (Mabc))\r\n"
		    "* 4 EXISTS\r\n"
		    "* 1 FETCH (FLAGS (\\Seen \\Flagged))\r\n"
		    "* OK [ALERT] Mailbox almost full\r\n"
		    "* 2 EXPUNGE\r\n"
		    "* VANISHED 8:9\r\n"
		    "* VANISHED (EARLIER) 1:3\r\n"
		    "* 2 FETCH (UID 77 RFC822.SIZE 5 FLAGS ())\r\n"
		    "* NO [ALERT] second alert\r\n"
		    "* STATUS INBOX (MESSAGES 3)\r\n"
		    "$T OK fetched\r\n"),
		PBT_ANSWER_ALL, PBT_END,
	};
	struct pbt_fake *f = fk_start(steps, false);
	struct events ev = { 0 };
	struct imap_session *s = ready(f, &ev, 0);
	ck_assert_uint_eq(imap_exists(s), 3);
	struct imap_uidset set;
	struct infos z = { 0 };
	imap_uidset_init(&set);
	imap_uidset_add_range(&set, 4, 6);
	OK(imap_fetch_info(s, &set, IMAP_FETCH_EMAILID | IMAP_FETCH_GMMSGID, info_cb, &z));
	ck_assert_uint_eq(z.n, 1);  /* UID 5 and 6 are not there any more */
	ck_assert_uint_eq(z.uid[0], 4);
	ck_assert_uint_eq(z.size[0], 100);
	ck_assert_uint_eq(z.flags[0], IMAP_FLAG_SEEN);
	ck_assert_str_eq(z.emailid, "Mabc");
	ck_assert_uint_eq(ev.exists, 1);
	ck_assert_uint_eq(ev.last_exists, 4);
	ck_assert_uint_eq(ev.fetch, 1 + 1);  /* the flag change, and UID 77 (not asked) */
	ck_assert_uint_eq(ev.alert, 2);
	ck_assert_str_eq(ev.alert_text, "second alert");
	ck_assert_uint_eq(ev.expunge, 1);
	ck_assert_uint_eq(ev.vanished, 2);
	ck_assert_uint_eq(ev.vanished_count, 5);
	ck_assert_uint_eq(ev.other, 1);  /* STATUS */
	/* 3 + 1 EXISTS, - 1 EXPUNGE, - 2 VANISHED (not EARLIER) */
	ck_assert_uint_eq(imap_exists(s), 1);
	imap_uidset_free(&set);
	imap_session_free(s);
	PBT_FAKE_FINISH(f);
}
END_TEST

static int count_msgs(void *arg, const struct imap_msg *m)
{
	(void)m;
	(*(unsigned *)arg)++;
	return 0;
}

/* CHANGEDSINCE with VANISHED: the command as RFC 7162 spells it; every
 * VANISHED (EARLIER) into the caller's set (not events), a VANISHED without
 * EARLIER still an event; a malformed one ends the session. Without
 * CONDSTORE or QRESYNC announced nothing is sent. */
START_TEST(test_fetch_changed_vanished)
{
	static const struct pbt_step steps[] = {
		PBT_SEND("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR UIDPLUS QRESYNC] ready\r\n"),
		PBT_EXPECT("AUTHENTICATE PLAIN "),
		PBT_SEND("$T OK [CAPABILITY IMAP4rev1 UIDPLUS QRESYNC] in\r\n"),
		SELECT_OK,
		PBT_EXPECT("UID FETCH 1:4294967295 (UID RFC822.SIZE FLAGS) (CHANGEDSINCE 17 VANISHED)"),
		PBT_SEND("* VANISHED (EARLIER) 1:3,9\r\n"
		    "* VANISHED (EARLIER) 12\r\n"
		    "* VANISHED 8\r\n"
		    "* 2 FETCH (UID 5 RFC822.SIZE 10 FLAGS (\\Seen) MODSEQ (20))\r\n"
		    "$T OK changes\r\n"),
		PBT_EXPECT("UID FETCH 1:4294967295 (UID RFC822.SIZE FLAGS) (CHANGEDSINCE 20)"),
		PBT_SEND("$T OK none\r\n"),
		PBT_EXPECT("UID FETCH 1:4294967295 (UID RFC822.SIZE FLAGS) (CHANGEDSINCE 20 VANISHED)"),
		PBT_SEND("* VANISHED (EARLIER) 5:x\r\n"), PBT_STALL, PBT_END,
	};
	struct pbt_fake *f = fk_start(steps, false);
	struct events ev = { 0 };
	struct imap_session *s = ready(f, &ev, 0);
	struct imap_uidset all, vanished;
	unsigned n = 0;
	imap_uidset_init(&all);
	imap_uidset_init(&vanished);
	imap_uidset_add_range(&all, 1, UINT32_MAX);
	OK(imap_fetch_changed(s, &all, 0, 17, &vanished, count_msgs, &n));
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(imap_uidset_count(&vanished), 5);
	ck_assert(imap_uidset_contains(&vanished, 1) && imap_uidset_contains(&vanished, 9) &&
	    imap_uidset_contains(&vanished, 12) && !imap_uidset_contains(&vanished, 8));
	ck_assert_uint_eq(ev.vanished, 1);
	ck_assert_uint_eq(ev.vanished_count, 1);
	ck_assert_uint_eq(imap_exists(s), 2);  /* 3, less the one VANISHED now */
	OK(imap_fetch_changed(s, &all, 0, 20, NULL, count_msgs, &n));
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(imap_fetch_changed(s, &all, 0, 20, &vanished, count_msgs, &n),
	    IMAP_EPROTO);
	ck_assert_int_eq(imap_state(s), IMAP_STATE_DISCONNECTED);
	imap_uidset_free(&vanished);
	imap_session_free(s);
	PBT_FAKE_FINISH(f);

	/* GREET announces neither CONDSTORE nor QRESYNC. */
	static const struct pbt_step plain[] = {
		PBT_SEND(GREET), LOGIN_OK, SELECT_OK, PBT_ANSWER_ALL, PBT_END,
	};
	f = fk_start(plain, false);
	s = ready(f, NULL, 0);
	ck_assert_int_eq(imap_fetch_changed(s, &all, 0, 5, NULL, count_msgs, &n),
	    IMAP_EUNSUPPORTED);
	ck_assert_int_eq(imap_fetch_changed(s, &all, 0, 5, &vanished, count_msgs, &n),
	    IMAP_EUNSUPPORTED);
	OK(imap_noop(s));
	imap_uidset_free(&all);
	imap_session_free(s);
	PBT_FAKE_FINISH(f);
}
END_TEST

START_TEST(test_literal_size_is_protocol_error)
{
	/* RFC822.SIZE sent as a literal is not a number. */
	hostile("* 2 FETCH (UID 5 RFC822.SIZE {3}\r\n200 FLAGS ())\r\n");
}
END_TEST

START_TEST(test_header_fields)
{
	static const struct pbt_step steps[] = {
		PBT_SEND(GREET), LOGIN_OK, SELECT_OK,
		PBT_EXPECT("UID FETCH 4,6 (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS "
		    "(MESSAGE-ID SUBJECT)])"),
		PBT_SEND("* 1 FETCH (UID 4 RFC822.SIZE 10 FLAGS () BODY[HEADER.FIELDS "
		    "(MESSAGE-ID SUBJECT)] {19}\r\nSubject: hi there\r\n)\r\n"
		    "* 3 FETCH (UID 6 RFC822.SIZE 11 FLAGS () BODY[HEADER.FIELDS "
		    "(MESSAGE-ID SUBJECT)] \"\")\r\n"
		    "$T OK fetched\r\n"),
		PBT_ANSWER_ALL, PBT_END,
	};
	struct pbt_fake *f = fk_start(steps, false);
	struct imap_session *s = ready(f, NULL, 0);
	struct imap_uidset set;
	struct infos z = { 0 };
	const char *fields[] = { "MESSAGE-ID", "SUBJECT" };
	imap_uidset_init(&set);
	imap_uidset_add(&set, 4);
	imap_uidset_add(&set, 6);
	OK(imap_fetch_headers(s, &set, fields, 2, 0, info_cb, &z));
	ck_assert_uint_eq(z.n, 2);
	ck_assert_str_eq(z.header, "");  /* the last one */
	imap_uidset_free(&set);
	imap_session_free(s);
	PBT_FAKE_FINISH(f);
}
END_TEST

START_TEST(test_body_not_found_and_sink)
{
	static const struct pbt_step steps[] = {
		PBT_SEND(GREET), LOGIN_OK, SELECT_OK,
		PBT_EXPECT("UID FETCH 5 (UID BODY.PEEK[])"), PBT_SEND("$T OK nothing\r\n"),
		PBT_EXPECT("UID FETCH 5 (UID BODY.PEEK[])"),
		PBT_SEND("$T NO [EXPUNGEISSUED] gone\r\n"),
		PBT_EXPECT("UID FETCH 5 (UID BODY.PEEK[])"),
		PBT_SEND("$T NO [SERVERBUG] oops\r\n"),
		PBT_EXPECT("UID FETCH 5 (UID BODY.PEEK[TEXT]<10.20>)"),
		PBT_SEND("* 1 FETCH (FLAGS (\\Seen))\r\n"
		    "* 1 FETCH (UID 5 BODY[TEXT]<10> \"quoted body\")\r\n$T OK\r\n"),
		PBT_EXPECT("UID FETCH 5 (UID BODY.PEEK[HEADER]<7.4294967295>)"),
		PBT_SEND("* 1 FETCH (UID 5 BODY[HEADER]<7> {12}\r\nHello World!)\r\n$T OK\r\n"),
		PBT_EXPECT("UID FETCH 5 (UID BODY.PEEK[])"),
		PBT_SEND("* 1 FETCH (UID 5 BODY[] {12}\r\nHello World!)\r\n$T OK\r\n"),
		PBT_EXPECT("NOOP"), PBT_SEND("$T OK\r\n"),
		PBT_EXPECT("UID FETCH 5 (UID BODY.PEEK[])"),
		PBT_SEND("* 1 FETCH (UID 5 BODY[] {12}\r\nHello World!)\r\n$T OK\r\n"),
		PBT_STALL, PBT_END,
	};
	struct pbt_fake *f = fk_start(steps, false);
	struct events ev = { 0 };
	struct imap_session *s = ready(f, &ev, 0);
	struct body b = { .ret = 0 };
	struct imap_body_result br;
	ck_assert_int_eq(imap_fetch_body(s, 5, IMAP_SECTION_ALL, 0, 0, body_sink, &b, &br),
	    IMAP_ENOTFOUND);
	ck_assert_int_eq(imap_fetch_body(s, 5, IMAP_SECTION_ALL, 0, 0, body_sink, &b, &br),
	    IMAP_ENOTFOUND);
	ck_assert_int_eq(imap_fetch_body(s, 5, IMAP_SECTION_ALL, 0, 0, body_sink, &b, &br),
	    IMAP_NO);
	ck_assert(imap_last_is_trouble(s));
	OK(imap_fetch_body(s, 5, IMAP_SECTION_TEXT, 10, 20, body_sink, &b, &br));
	ck_assert_uint_eq(b.len, 11);
	ck_assert(memcmp(b.data, "quoted body", 11) == 0);
	ck_assert_uint_eq(ev.fetch, 1);
	b.len = 0;
	OK(imap_fetch_body(s, 5, IMAP_SECTION_HEADER, 7, 0, body_sink, &b, &br));
	ck_assert_uint_eq(br.size, 12);
	ck_assert_uint_eq(b.len, 12);
	/* The sink has enough after the first chunk: the rest is drained. */
	b.len = 0;
	b.ret = 1;
	OK(imap_fetch_body(s, 5, IMAP_SECTION_ALL, 0, 0, body_sink, &b, &br));
	ck_assert(br.stopped);
	OK(imap_noop(s));
	/* The sink gives up: the connection is closed. */
	b.ret = -1;
	ck_assert_int_eq(imap_fetch_body(s, 5, IMAP_SECTION_ALL, 0, 0, body_sink, &b, &br),
	    IMAP_ESINK);
	ck_assert_int_eq(imap_state(s), IMAP_STATE_DISCONNECTED);
	ck_assert_int_eq(imap_fetch_body(s, 0, IMAP_SECTION_ALL, 0, 0, body_sink, &b, &br),
	    IMAP_ECONN);
	imap_session_free(s);
	PBT_FAKE_FINISH(f);
}
END_TEST

/* ---- pipelined tails ------------------------------------------------------- */

struct tails {
	unsigned n;
	uint32_t uid[8];
	char tail[8][4];
	size_t len[8];
	unsigned stop_after;  /* return 1 after this many (0: never) */
};

static int tails_cb(void *arg, uint32_t uid, const char *tail, size_t len)
{
	struct tails *t = arg;
	ck_assert_uint_lt(t->n, 8);
	ck_assert_uint_le(len, 2);
	t->uid[t->n] = uid;
	memcpy(t->tail[t->n], tail, len);
	t->len[t->n] = len;
	t->n++;
	return t->stop_after && t->n >= t->stop_after;
}

#define TAILS4 PBT_MARK, \
	PBT_EXPECT("UID FETCH 4 (UID BODY.PEEK[]<98.2>)"), \
	PBT_EXPECT("UID FETCH 5 (UID BODY.PEEK[]<0.1>)"), \
	PBT_EXPECT("UID FETCH 6 (UID BODY.PEEK[]<8.2>)"), \
	PBT_EXPECT("UID FETCH 7 (UID BODY.PEEK[]<3.2>)")

static const uint32_t tails_uids[] = { 4, 5, 8, 6, 7 };
static const uint64_t tails_sizes[] = { 100, 1, 0, 10, 5 };

/* Four commands in flight at once (UID 8 has size 0: nothing to ask);
 * answers out of order, with untagged data between them, a UID after the
 * literal, a quoted body, a body for a UID not asked for, and a NO for one
 * command: the other tails arrive, the call says NO, the session goes on. */
START_TEST(test_tails_pipelined)
{
	static const struct pbt_step steps[] = {
		PBT_SEND(GREET), LOGIN_OK, SELECT_OK, TAILS4,
		PBT_SEND("* 1 FETCH (UID 4 BODY[]<98> {2}\r\n\r\n)\r\n"
		    "* 4 EXISTS\r\n"
		    "* 1 FETCH (FLAGS (\\Seen))\r\n"
		    "* 3 FETCH (BODY[]<8> {2}\r\nx\r UID 6)\r\n"
		    "$3 OK done\r\n"
		    "* 2 FETCH (UID 5 BODY[]<0> \"z\")\r\n"
		    "* 9 FETCH (UID 99 BODY[]<0> {2}\r\nab)\r\n"
		    "* 9 EXPUNGE\r\n"
		    "$1 OK done\r\n"
		    "$4 NO [SERVERBUG] cannot\r\n"
		    "* OK [ALERT] hello\r\n"
		    "$2 OK done\r\n"),
		PBT_EXPECT("NOOP"), PBT_SEND("$T OK\r\n"),
		PBT_ANSWER_ALL, PBT_END,
	};
	struct pbt_fake *f = fk_start(steps, false);
	struct events ev = { 0 };
	struct imap_session *s = ready(f, &ev, 0);
	struct tails t = { 0 };
	ck_assert_int_eq(imap_fetch_tails(s, tails_uids, tails_sizes, 5, 2, tails_cb, &t), IMAP_NO);
	ck_assert_int_eq(imap_last(s)->code, IMAP_CODE_SERVERBUG);
	ck_assert_str_eq(imap_last(s)->text, "cannot");
	ck_assert_uint_eq(t.n, 3);
	ck_assert_uint_eq(t.uid[0], 4);
	ck_assert(t.len[0] == 2 && memcmp(t.tail[0], "\r\n", 2) == 0);
	ck_assert_uint_eq(t.uid[1], 6);
	ck_assert(t.len[1] == 2 && memcmp(t.tail[1], "x\r", 2) == 0);
	ck_assert_uint_eq(t.uid[2], 5);
	ck_assert(t.len[2] == 1 && t.tail[2][0] == 'z');
	ck_assert_uint_eq(ev.exists, 1);
	ck_assert_uint_eq(ev.fetch, 2);  /* the flag change and UID 99 */
	ck_assert_uint_eq(ev.expunge, 1);
	ck_assert_uint_eq(ev.alert, 1);
	OK(imap_noop(s));
	OK(imap_logout(s));
	imap_session_free(s);
	PBT_FAKE_FINISH(f);
}
END_TEST

/* Grouped by size (spread 10): UIDs 4, 5 and 7 (sizes 100, 101, 100) share
 * one partial fetch from 98, UID 6 (600) has its own; each answer is judged
 * by its member's size: as long as said (the last octets), longer (nothing:
 * octets past the size the caller believes), shorter (its real end). */
START_TEST(test_tails_grouped)
{
	static const struct pbt_step steps[] = {
		PBT_SEND(GREET), LOGIN_OK, SELECT_OK, PBT_MARK,
		PBT_EXPECT("UID FETCH 4:5,7 (UID BODY.PEEK[]<98.3>)"),
		PBT_EXPECT("UID FETCH 6 (UID BODY.PEEK[]<598.2>)"),
		PBT_SEND("* 1 FETCH (UID 4 BODY[]<98> {2}\r\nab)\r\n"
		    "* 4 FETCH (UID 7 BODY[]<98> {3}\r\npqr)\r\n"
		    "* 2 FETCH (BODY[]<98> \"xyz\" UID 5)\r\n"
		    "$1 OK done\r\n"
		    "* 3 FETCH (UID 6 BODY[]<598> {1}\r\nq)\r\n"
		    "$2 OK done\r\n"),
		PBT_EXPECT("NOOP"), PBT_SEND("$T OK\r\n"),
		PBT_ANSWER_ALL, PBT_END,
	};
	static const uint32_t uids[] = { 4, 5, 6, 7 };
	static const uint64_t sizes[] = { 100, 101, 600, 100 };
	struct pbt_fake *f = fk_start(steps, false);
	struct imap_session *s = ready(f, NULL, 0);
	struct tails t = { 0 };
	OK(imap_fetch_tails_grouped(s, uids, sizes, 4, 2, 10, tails_cb, &t));
	ck_assert_uint_eq(t.n, 4);
	ck_assert(t.uid[0] == 4 && t.len[0] == 2 && memcmp(t.tail[0], "ab", 2) == 0);
	ck_assert(t.uid[1] == 7 && t.len[1] == 0);
	ck_assert(t.uid[2] == 5 && t.len[2] == 2 && memcmp(t.tail[2], "yz", 2) == 0);
	ck_assert(t.uid[3] == 6 && t.len[3] == 1 && t.tail[3][0] == 'q');
	ck_assert_int_eq(imap_fetch_tails_grouped(s, uids, sizes, 4, 2, IMAP_TAIL_SPREAD_MAX + 1,
	    tails_cb, &t), IMAP_EARG);
	OK(imap_noop(s));
	OK(imap_logout(s));
	imap_session_free(s);
	PBT_FAKE_FINISH(f);
}
END_TEST

/* A message gone ([EXPUNGEISSUED], or no data at all) is no failure; a
 * callback that has enough hears no more, and the rest is read; another
 * streamed section beside BODY[]<...> does not disturb its tail. */
/* imap_fetch_tails_meanwhile: the caller's work runs once, after the
 * commands went out (the server has read them while the caller is still
 * in its callback) and before any answer is read; with nothing to fetch it
 * still runs; not at all when the arguments are refused. */
struct meanwhile_log {
	struct pbt_fake *f;
	struct tails *t;
	unsigned calls;
	size_t tails_then;
	bool server_had_it;
};

static void meanwhile_cb(void *arg)
{
	struct meanwhile_log *m = arg;

	m->calls++;
	m->tails_then = m->t->n;
	for (int i = 0; i < 200 && !m->server_had_it; i++) {
		char *got = pbt_fake_commands(m->f, 0);
		m->server_had_it = strstr(got, "UID FETCH 4:5") != NULL;
		free(got);
		if (!m->server_had_it)
			pbt_msleep(10);
	}
}

START_TEST(test_tails_meanwhile)
{
	static const struct pbt_step steps[] = {
		PBT_SEND(GREET), LOGIN_OK, SELECT_OK, PBT_MARK,
		PBT_EXPECT("UID FETCH 4:5 (UID BODY.PEEK[]<98.3>)"),
		PBT_SEND("* 1 FETCH (UID 4 BODY[]<98> {2}\r\nab)\r\n"
		    "* 2 FETCH (UID 5 BODY[]<98> {3}\r\nxyz)\r\n$1 OK done\r\n"),
		PBT_ANSWER_ALL, PBT_END,
	};
	static const uint32_t uids[] = { 4, 5 };
	static const uint64_t sizes[] = { 100, 101 };
	struct pbt_fake *f = fk_start(steps, false);
	struct imap_session *s = ready(f, NULL, 0);
	struct tails t = { 0 };
	struct meanwhile_log m = { .f = f, .t = &t };
	OK(imap_fetch_tails_meanwhile(s, uids, sizes, 2, 2, 10, tails_cb, &t, meanwhile_cb, &m));
	ck_assert_uint_eq(m.calls, 1);
	ck_assert(m.server_had_it);
	ck_assert_uint_eq(m.tails_then, 0);
	ck_assert_uint_eq(t.n, 2);
	OK(imap_fetch_tails_meanwhile(s, uids, sizes, 0, 2, 10, tails_cb, &t, meanwhile_cb, &m));
	ck_assert_uint_eq(m.calls, 2);
	ck_assert_int_eq(imap_fetch_tails_meanwhile(s, uids, sizes, 2, 0, 10, tails_cb, &t,
	    meanwhile_cb, &m), IMAP_EARG);
	ck_assert_uint_eq(m.calls, 2);
	OK(imap_logout(s));
	imap_session_free(s);
	PBT_FAKE_FINISH(f);
}
END_TEST

START_TEST(test_tails_gone_and_stop)
{
	static const struct pbt_step steps[] = {
		PBT_SEND(GREET), LOGIN_OK, SELECT_OK, TAILS4,
		PBT_SEND("$2 NO [EXPUNGEISSUED] gone\r\n"
		    "* 1 FETCH (UID 4 BODY[]<98> {2}\r\nab)\r\n$1 OK\r\n"
		    "$3 OK nothing\r\n$4 OK nothing\r\n"),
		TAILS4,
		PBT_SEND("* 1 FETCH (UID 4 BODY[]<98> {2}\r\nab BODY[HEADER] {3}\r\nxyz)\r\n"
		    "$1 OK\r\n"
		    "* 2 FETCH (UID 5 BODY[]<0> {1}\r\nb)\r\n$2 OK\r\n"
		    "* 3 FETCH (UID 6 BODY[]<8> \"\")\r\n$3 OK\r\n"
		    "* 4 FETCH (UID 7 BODY[]<3> NIL)\r\n$4 OK\r\n"),
		PBT_EXPECT("NOOP"), PBT_SEND("$T OK\r\n"),
		PBT_ANSWER_ALL, PBT_END,
	};
	struct pbt_fake *f = fk_start(steps, false);
	struct imap_session *s = ready(f, NULL, 0);
	struct tails t = { 0 };
	OK(imap_fetch_tails(s, tails_uids, tails_sizes, 5, 2, tails_cb, &t));
	ck_assert_uint_eq(t.n, 1);
	ck_assert_uint_eq(t.uid[0], 4);
	struct tails u = { .stop_after = 1 };
	OK(imap_fetch_tails(s, tails_uids, tails_sizes, 5, 2, tails_cb, &u));
	ck_assert_uint_eq(u.n, 1);
	ck_assert(u.len[0] == 2 && memcmp(u.tail[0], "ab", 2) == 0);  /* not "yz" */
	OK(imap_noop(s));
	OK(imap_logout(s));
	imap_session_free(s);
	PBT_FAKE_FINISH(f);
}
END_TEST

/* The server goes away with commands in flight, in the middle of a
 * literal: IMAP_ECONN, the tails before it were reported. */
START_TEST(test_tails_disconnect)
{
	static const struct pbt_step steps[] = {
		PBT_SEND(GREET), LOGIN_OK, SELECT_OK, TAILS4,
		PBT_SEND("* 1 FETCH (UID 4 BODY[]<98> {2}\r\nab)\r\n$1 OK\r\n"
		    "* 2 FETCH (UID 5 BODY[]<0> {1}\r\n"),
		PBT_CLOSE, PBT_END,
	};
	struct pbt_fake *f = fk_start(steps, false);
	struct imap_session *s = ready(f, NULL, 0);
	struct tails t = { 0 };
	ck_assert_int_eq(imap_fetch_tails(s, tails_uids, tails_sizes, 5, 2, tails_cb, &t),
	    IMAP_ECONN);
	ck_assert_uint_eq(t.n, 1);
	ck_assert_int_eq(imap_state(s), IMAP_STATE_DISCONNECTED);
	ck_assert_int_eq(imap_fetch_tails(s, tails_uids, tails_sizes, 5, 2, tails_cb, &t),
	    IMAP_ECONN);
	imap_session_free(s);
	PBT_FAKE_FINISH(f);
}
END_TEST

/* A tagged reply to no command in flight is a protocol error. */
START_TEST(test_tails_unknown_tag)
{
	static const struct pbt_step steps[] = {
		PBT_SEND(GREET), LOGIN_OK, SELECT_OK, TAILS4,
		PBT_SEND("$1 OK\r\nZ0001 OK not yours\r\n"),
		PBT_STALL, PBT_END,
	};
	struct pbt_fake *f = fk_start(steps, false);
	struct imap_session *s = ready(f, NULL, 0);
	struct tails t = { 0 };
	ck_assert_int_eq(imap_fetch_tails(s, tails_uids, tails_sizes, 5, 2, tails_cb, &t),
	    IMAP_EPROTO);
	ck_assert_int_eq(imap_state(s), IMAP_STATE_DISCONNECTED);
	imap_session_free(s);
	PBT_FAKE_FINISH(f);
}
END_TEST

/* Bad requests are refused before anything is sent; many messages keep at
 * most IMAP_PIPELINE_MAX commands in flight, and every one is sent. */
START_TEST(test_tails_arguments_and_window)
{
	static const struct pbt_step steps[] = {
		PBT_SEND(GREET), LOGIN_OK, SELECT_OK, PBT_ANSWER_BATCH, PBT_END,
	};
	struct pbt_fake *f = fk_start(steps, false);
	struct imap_session *s = client(f, IMAP_TLS_NONE, 0, NULL);
	struct tails t = { 0 };
	const uint32_t zero_uid[] = { 0 };
	const uint64_t one[] = { 1 }, huge[] = { (uint64_t)UINT32_MAX + 1 }, none[] = { 0 };
	const uint32_t uid5[] = { 5 };
	OK(imap_connect(s));
	OK(imap_login(s, "alice", "pw"));
	ck_assert_int_eq(imap_fetch_tails(s, uid5, one, 1, 2, tails_cb, &t), IMAP_EARG);
	OK(imap_select(s, "INBOX", 0, NULL));
	ck_assert_int_eq(imap_fetch_tails(s, zero_uid, one, 1, 2, tails_cb, &t), IMAP_EARG);
	ck_assert_int_eq(imap_fetch_tails(s, uid5, huge, 1, 2, tails_cb, &t), IMAP_EARG);
	ck_assert_int_eq(imap_fetch_tails(s, uid5, one, 1, 0, tails_cb, &t), IMAP_EARG);
	ck_assert_int_eq(imap_fetch_tails(s, uid5, one, 1, IMAP_TAIL_MAX + 1, tails_cb, &t),
	    IMAP_EARG);
	ck_assert_int_eq(imap_fetch_tails(s, uid5, one, 1, 2, NULL, NULL), IMAP_EARG);
	ck_assert_int_eq(imap_fetch_tails(s, NULL, NULL, 1, 2, tails_cb, &t), IMAP_EARG);
	OK(imap_fetch_tails(s, NULL, NULL, 0, 2, tails_cb, &t));
	OK(imap_fetch_tails(s, uid5, none, 1, 2, tails_cb, &t));
	unsigned before = f->commands;
	enum { N = 1000 };
	static uint32_t uids[N];
	static uint64_t sizes[N];
	for (unsigned i = 0; i < N; i++) {
		uids[i] = i + 1;
		sizes[i] = 100 + i;
	}
	OK(imap_fetch_tails(s, uids, sizes, N, 2, tails_cb, &t));
	ck_assert_uint_eq(t.n, 0);  /* the fake never has a message */
	OK(imap_logout(s));
	ck_assert_uint_eq(f->commands - before, N + 1);  /* and LOGOUT */
	imap_session_free(s);
	ck_assert_uint_le(f->widest, IMAP_PIPELINE_MAX);
	ck_assert_uint_gt(f->widest, 1);
	PBT_FAKE_FINISH(f);
}
END_TEST

/* ---- authentication variants ---------------------------------------------- */

START_TEST(test_login_literal_sync)
{
	static const struct pbt_step steps[] = {
		PBT_SEND("* OK [CAPABILITY IMAP4rev1] ready\r\n"),
		PBT_EXPECT("LOGIN alice {8}"),
		PBT_SEND("+ go on\r\n"),
		PBT_EXPECT_RAW("p\xc3\xa4ss\"\\x"),
		PBT_SEND("$T NO [UNAVAILABLE] backend down\r\n"),
		PBT_EXPECT("LOGIN \"al ice\" \"pw\\\"\""),
		PBT_SEND("$T OK [CAPABILITY IMAP4rev1] in\r\n"),
		PBT_ANSWER_ALL, PBT_END,
	};
	struct pbt_fake *f = fk_start(steps, false);
	struct imap_session *s = client(f, IMAP_TLS_NONE, 0, NULL);
	OK(imap_connect(s));
	ck_assert_int_eq(imap_login(s, "alice", "p\xc3\xa4ss\"\\x"), IMAP_NO);
	ck_assert_int_eq(imap_last(s)->code, IMAP_CODE_UNAVAILABLE);
	ck_assert(imap_last_is_trouble(s));
	OK(imap_login(s, "al ice", "pw\""));
	OK(imap_logout(s));
	imap_session_free(s);
	PBT_FAKE_FINISH(f);
}
END_TEST

START_TEST(test_login_literal_plus)
{
	static const struct pbt_step steps[] = {
		PBT_SEND("* OK [CAPABILITY IMAP4rev1 LITERAL+] ready\r\n"),
		PBT_EXPECT("LOGIN alice {3+}"),
		PBT_EXPECT_RAW("p\xc3\xa4"),
		PBT_SEND("$T OK in\r\n"),
		PBT_EXPECT("CAPABILITY"), PBT_SEND("* CAPABILITY IMAP4rev1\r\n$T OK\r\n"),
		PBT_ANSWER_ALL, PBT_END,
	};
	struct pbt_fake *f = fk_start(steps, false);
	struct imap_session *s = client(f, IMAP_TLS_NONE, 0, NULL);
	OK(imap_connect(s));
	OK(imap_login(s, "alice", "p\xc3\xa4"));
	imap_session_free(s);
	PBT_FAKE_FINISH(f);
}
END_TEST

START_TEST(test_authenticate_variants)
{
	static const struct pbt_step steps[] = {
		PBT_SEND("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN LOGINDISABLED] ready\r\n"),
		PBT_EXPECT("AUTHENTICATE PLAIN"),
		PBT_SEND("+ \r\n"),
		PBT_EXPECT_RAW("AGFsaWNlAHdyb25n"),
		PBT_SEND("$T NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"),
		PBT_EXPECT("AUTHENTICATE PLAIN"),
		PBT_SEND("$T NO [THROTTLED] slow down\r\n"),
		PBT_ANSWER_ALL, PBT_END,
	};
	struct pbt_fake *f = fk_start(steps, false);
	struct imap_session *s = client(f, IMAP_TLS_NONE, 0, NULL);
	OK(imap_connect(s));
	ck_assert_int_eq(imap_login(s, "alice", "wrong"), IMAP_NO);
	ck_assert_int_eq(imap_last(s)->code, IMAP_CODE_AUTHENTICATIONFAILED);
	ck_assert(!imap_last_is_trouble(s));
	ck_assert_int_eq(imap_login(s, "alice", "again"), IMAP_NO);
	ck_assert_int_eq(imap_last(s)->code, IMAP_CODE_THROTTLED);
	ck_assert(imap_last_is_trouble(s));
	imap_session_free(s);
	PBT_FAKE_FINISH(f);

	static const struct pbt_step none[] = {
		PBT_SEND("* OK [CAPABILITY IMAP4rev1 LOGINDISABLED] ready\r\n"),
		PBT_ANSWER_ALL, PBT_END,
	};
	f = fk_start(none, false);
	s = client(f, IMAP_TLS_NONE, 0, NULL);
	OK(imap_connect(s));
	ck_assert_int_eq(imap_login(s, "alice", "pw"), IMAP_EUNSUPPORTED);
	OK(imap_logout(s));
	imap_session_free(s);
	PBT_FAKE_FINISH(f);
}
END_TEST

/* ---- OAuth2: OAUTHBEARER and XOAUTH2 (RFC 7628) ---------------------------- */


/* CALL: the next command must be AUTHENTICATE OAUTHBEARER with the initial
 * response (SASL-IR) for user "al,i=ce" and token arg, host and port ours. */
static bool expect_oauthbearer(struct pbt_fake *f, const char *token)
{
	char line[4096], want[1024], b64[1500];
	if (pbt_fake_readline(f, line, sizeof(line)) < 0)
		return pbt_fake_fail(f, "no AUTHENTICATE");
	int n = snprintf(want, sizeof(want), "n,a=al=2Ci=3Dce,\001host=127.0.0.1\001port=%d"
	    "\001auth=Bearer %s\001\001", f->port, token);
	EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)want, n);
	const char *sp = strchr(line, ' ');
	if (sp == NULL || strncmp(sp + 1, "AUTHENTICATE OAUTHBEARER ", 25) != 0 ||
	    strcmp(sp + 26, b64) != 0)
		return pbt_fake_fail(f, "got %s, wanted AUTHENTICATE OAUTHBEARER %s", line, b64);
	snprintf(f->tag, sizeof(f->tag), "%.*s", (int)(sp - line), line);
	return true;
}

START_TEST(test_oauthbearer)
{
	static const struct pbt_step steps[] = {
		PBT_SEND("* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN AUTH=XOAUTH2 "
		    "AUTH=OAUTHBEARER] ready\r\n"),
		/* a refused token: the error challenge, ^A, the tagged NO */
		PBT_CALL(expect_oauthbearer, "old.token"),
		PBT_SEND("+ eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NoZW1lcyI6ImJlYXJlciJ9\r\n"),
		PBT_EXPECT_RAW("AQ=="),
		PBT_SEND("$T NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"),
		PBT_CALL(expect_oauthbearer, "new.token"),
		PBT_SEND("$T OK [CAPABILITY IMAP4rev1 UIDPLUS] in\r\n"),
		PBT_ANSWER_ALL, PBT_END,
	};
	struct pbt_fake *f = fk_start(steps, false);
	struct imap_session *s = client(f, IMAP_TLS_NONE, 0, NULL);
	OK(imap_connect(s));
	ck_assert_int_eq(imap_login_oauth2(s, "al,i=ce", "old.token"), IMAP_NO);
	ck_assert_int_eq(imap_last(s)->code, IMAP_CODE_AUTHENTICATIONFAILED);
	ck_assert(!imap_last_is_trouble(s));
	ck_assert_str_eq(imap_last_challenge(s), "{\"status\":\"invalid_token\",\"schemes\":\"bearer\"}");
	ck_assert_ptr_null(imap_login_mechanism(s));
	OK(imap_login_oauth2(s, "al,i=ce", "new.token"));
	ck_assert_str_eq(imap_login_mechanism(s), "OAUTHBEARER");
	ck_assert_str_eq(imap_last_challenge(s), "");
	ck_assert(imap_has(s, IMAP_CAP_UIDPLUS));
	ck_assert_int_eq(imap_login_oauth2(s, "al,i=ce", "again"), IMAP_EARG);
	OK(imap_logout(s));
	imap_session_free(s);
	PBT_FAKE_FINISH(f);
}
END_TEST

START_TEST(test_xoauth2)
{
	/* no SASL-IR: the initial response follows the server's "+" */
	static const struct pbt_step steps[] = {
		PBT_SEND("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2] ready\r\n"),
		PBT_EXPECT("AUTHENTICATE XOAUTH2"),
		PBT_SEND("+ \r\n"),
		PBT_EXPECT_RAW("dXNlcj1hbGljZQFhdXRoPUJlYXJlciB5YTI5LnRvay1lbl8xfisvPQEB"),
		PBT_SEND("+ eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NoZW1lcyI6ImJlYXJlciJ9\r\n"),
		PBT_EXPECT_RAW(""),
		PBT_SEND("$T NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)\r\n"),
		PBT_EXPECT("AUTHENTICATE XOAUTH2"),
		PBT_SEND("+ \r\n"),
		PBT_EXPECT_RAW("dXNlcj1hbGljZQFhdXRoPUJlYXJlciB5YTI5LnRvay1lbl8xfisvPQEB"),
		PBT_SEND("$T OK in\r\n"),
		PBT_EXPECT("CAPABILITY"), PBT_SEND("* CAPABILITY IMAP4rev1 MOVE\r\n$T OK\r\n"),
		PBT_ANSWER_ALL, PBT_END,
	};
	struct pbt_fake *f = fk_start(steps, false);
	struct imap_session *s = client(f, IMAP_TLS_NONE, 0, NULL);
	OK(imap_connect(s));
	ck_assert_int_eq(imap_login_oauth2(s, "alice", "ya29.tok-en_1~+/="), IMAP_NO);
	ck_assert_str_eq(imap_last_challenge(s), "{\"status\":\"invalid_token\",\"schemes\":\"bearer\"}");
	OK(imap_login_oauth2(s, "alice", "ya29.tok-en_1~+/="));
	ck_assert_str_eq(imap_login_mechanism(s), "XOAUTH2");
	ck_assert(imap_has(s, IMAP_CAP_MOVE));
	OK(imap_logout(s));
	imap_session_free(s);
	ck_assert_msg(pbt_fake_join(f) == 0, "fake server: %s", f->err);
	/* XOAUTH2 answers the error challenge with an empty line */
	const char *ch = strstr(f->log.p, "S: + eyJ");
	ck_assert_ptr_nonnull(ch);
	ck_assert_msg(strncmp(strchr(ch, '\n') + 1, "C: \r\n", 5) == 0, "%s", ch);
	pbt_fake_free(f);
}
END_TEST

START_TEST(test_oauth2_refusals)
{
	static const struct pbt_step steps[] = {
		PBT_SEND("* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] ready\r\n"),
		PBT_EXPECT("CAPABILITY"),
		PBT_SEND("* CAPABILITY IMAP4rev1 SASL-IR AUTH=OAUTHBEARER\r\n$T OK\r\n"),
		/* a server that challenges twice breaks the mechanism */
		PBT_EXPECT("AUTHENTICATE OAUTHBEARER "),
		PBT_SEND("+ eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NoZW1lcyI6ImJlYXJlciJ9\r\n"),
		PBT_EXPECT_RAW("AQ=="),
		PBT_SEND("+ eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NoZW1lcyI6ImJlYXJlciJ9\r\n"),
		PBT_STALL, PBT_END,
	};
	struct pbt_fake *f = fk_start(steps, false);
	struct imap_session *s = client(f, IMAP_TLS_NONE, 0, NULL);
	OK(imap_connect(s));
	ck_assert_int_eq(imap_login_oauth2(s, "alice", "tok"), IMAP_EUNSUPPORTED);
	ck_assert_int_eq(imap_login_oauth2(s, "alice", "two words"), IMAP_EARG);
	ck_assert_int_eq(imap_login_oauth2(s, "alice", "tok\r\nA1 LOGOUT"), IMAP_EARG);
	ck_assert_int_eq(imap_login_oauth2(s, "al\001ice", "tok"), IMAP_EARG);
	ck_assert_int_eq(imap_login_oauth2(s, "", "tok"), IMAP_EARG);
	ck_assert_int_eq(imap_login_oauth2(s, "alice", "=tok"), IMAP_EARG);
	static char big[IMAP_BEARER_MAX + 2];
	memset(big, 'a', sizeof(big) - 1);
	ck_assert_int_eq(imap_login_oauth2(s, "alice", big), IMAP_EARG);
	big[IMAP_BEARER_MAX] = '\0';
	OK(imap_capability(s));
	ck_assert_int_eq(imap_login_oauth2(s, "alice", "tok"), IMAP_EPROTO);
	ck_assert_int_eq(imap_state(s), IMAP_STATE_DISCONNECTED);
	imap_session_free(s);
	PBT_FAKE_FINISH(f);
}
END_TEST

START_TEST(test_imap4rev2_only)
{
	static const struct pbt_step steps[] = {
		PBT_SEND("* OK [CAPABILITY IMAP4rev2 AUTH=PLAIN] rev2\r\n"),
		PBT_EXPECT("AUTHENTICATE PLAIN AGFsaWNlAHB3"),
		PBT_SEND("$T OK [CAPABILITY IMAP4rev2] in\r\n"),
		PBT_EXPECT("SELECT INBOX"), PBT_SEND("* 1 EXISTS\r\n$T OK selected\r\n"),
		PBT_EXPECT("UID MOVE 4 Trash"), PBT_SEND("* 1 EXPUNGE\r\n$T OK moved\r\n"),
		PBT_ANSWER_ALL, PBT_END,
	};
	struct pbt_fake *f = fk_start(steps, false);
	struct imap_session *s = client(f, IMAP_TLS_NONE, 0, NULL);
	OK(imap_connect(s));
	ck_assert(imap_has(s, IMAP_CAP_SASL_IR | IMAP_CAP_ESEARCH));
	OK(imap_login(s, "alice", "pw"));
	ck_assert(imap_has(s, IMAP_CAP_MOVE | IMAP_CAP_UIDPLUS));
	OK(imap_select(s, "INBOX", 0, NULL));
	struct imap_uidset one;
	imap_uidset_init(&one);
	imap_uidset_add(&one, 4);
	OK(imap_uid_move(s, &one, "Trash"));
	ck_assert_uint_eq(imap_exists(s), 0);
	OK(imap_logout(s));
	imap_uidset_free(&one);
	imap_session_free(s);
	PBT_FAKE_FINISH(f);
}
END_TEST

START_TEST(test_ipv6)
{
	static const struct pbt_step tls_first[] = {
		PBT_TLS, PBT_SEND("* OK [CAPABILITY IMAP4rev1] v6\r\n"),
		PBT_ANSWER_ALL, PBT_END,
	};
	struct pbt_fake *f = fk_start(tls_first, true);
	if (f->port == 0) {
		printf("no IPv6 loopback: test_ipv6 skipped\n");
		pbt_fake_free(f);
		return;
	}
	struct imap_session *s = client(f, IMAP_TLS_IMPLICIT, 0, NULL);
	OK(imap_connect(s));
	OK(imap_noop(s));
	OK(imap_logout(s));
	imap_session_free(s);
	PBT_FAKE_FINISH(f);
}
END_TEST

/* ---- searching, moving, splitting ----------------------------------------- */

START_TEST(test_search_variants)
{
	static const struct pbt_step steps[] = {
		PBT_SEND("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR ESEARCH] ready\r\n"),
		PBT_EXPECT("AUTHENTICATE PLAIN "),
		PBT_SEND("$T OK [CAPABILITY IMAP4rev1 ESEARCH] in\r\n"),
		SELECT_OK,
		PBT_EXPECT("UID SEARCH RETURN (ALL) UID 5:* UNSEEN KEYWORD $Junk"),
		PBT_SEND("* ESEARCH (TAG \"other\") UID ALL 100:200\r\n"
		    "* ESEARCH (TAG \"$T\") UID ALL 3,5:7,9\r\n$T OK\r\n"),
		PBT_EXPECT("UID SEARCH RETURN (ALL) HEADER Message-ID \"<a b@c>\""),
		PBT_SEND("* ESEARCH (TAG \"$T\") UID\r\n$T OK\r\n"),
		PBT_EXPECT("UID SEARCH RETURN (ALL) CHARSET UTF-8 HEADER Subject {5}"),
		PBT_SEND("+ ok\r\n"),
		PBT_EXPECT_RAW("caf\xc3\xa9"),
		PBT_SEND("* ESEARCH (TAG \"$T\") UID ALL 2\r\n$T OK\r\n"),
		PBT_EXPECT("UID SEARCH RETURN (ALL) ALL"),
		PBT_SEND("* ESEARCH (TAG \"$T\") UID ALL 1:4294967295\r\n$T OK\r\n"),
		PBT_ANSWER_ALL, PBT_END,
	};
	struct pbt_fake *f = fk_start(steps, false);
	struct events ev = { 0 };
	struct imap_session *s = ready(f, &ev, 0);
	struct imap_uidset out;
	imap_uidset_init(&out);
	struct imap_search q = { .uid_min = 5, .unseen = true, .keyword = "$Junk" };
	OK(imap_uid_search(s, &q, &out));
	ck_assert_uint_eq(imap_uidset_count(&out), 4);  /* 3 is below uid_min */
	ck_assert(!imap_uidset_contains(&out, 3) && !imap_uidset_contains(&out, 150));
	ck_assert_uint_eq(ev.other, 1);  /* the other command's ESEARCH */
	imap_uidset_clear(&out);
	struct imap_search h = { .header_name = "Message-ID", .header_value = "<a b@c>" };
	OK(imap_uid_search(s, &h, &out));
	ck_assert(imap_uidset_empty(&out));
	struct imap_search utf = { .header_name = "Subject", .header_value = "caf\xc3\xa9" };
	OK(imap_uid_search(s, &utf, &out));
	ck_assert(imap_uidset_contains(&out, 2));
	struct imap_search all = { 0 };
	OK(imap_uid_search(s, &all, &out));
	ck_assert_uint_eq(imap_uidset_count(&out), 4294967295u);
	struct imap_search bad = { .keyword = "two words" };
	ck_assert_int_eq(imap_uid_search(s, &bad, &out), IMAP_EARG);
	imap_uidset_free(&out);
	imap_session_free(s);
	PBT_FAKE_FINISH(f);
}
END_TEST

START_TEST(test_search_plain)
{
	static const struct pbt_step steps[] = {
		PBT_SEND(GREET), LOGIN_OK, SELECT_OK,
		PBT_EXPECT("UID SEARCH UID 10:*"),
		PBT_SEND("* SEARCH 9\r\n$T OK\r\n"),
		PBT_EXPECT("UID SEARCH ALL"),
		PBT_SEND("* SEARCH 1 2 3\r\n* SEARCH 7 4294967295\r\n$T OK\r\n"),
		PBT_EXPECT("UID SEARCH ALL"),
		PBT_SEND("* SEARCH 1 x\r\n"),
		PBT_STALL, PBT_END,
	};
	struct pbt_fake *f = fk_start(steps, false);
	struct imap_session *s = ready(f, NULL, 0);
	struct imap_uidset out;
	imap_uidset_init(&out);
	struct imap_search q = { .uid_min = 10 };
	OK(imap_uid_search(s, &q, &out));
	ck_assert(imap_uidset_empty(&out));  /* "10:*" matched 9, the highest UID */
	struct imap_search all = { 0 };
	OK(imap_uid_search(s, &all, &out));
	ck_assert_uint_eq(imap_uidset_count(&out), 5);
	ck_assert_uint_eq(out.n, 3);
	ck_assert_int_eq(imap_uid_search(s, &all, &out), IMAP_EPROTO);
	imap_uidset_free(&out);
	imap_session_free(s);
	PBT_FAKE_FINISH(f);
}
END_TEST

START_TEST(test_move_fallback)
{
	static const struct pbt_step steps[] = {
		PBT_SEND(GREET), LOGIN_OK, SELECT_OK,
		PBT_EXPECT("UID COPY 4 Trash"), PBT_SEND("$T OK [COPYUID 9 4 1] copied\r\n"),
		PBT_EXPECT("UID STORE 4 +FLAGS.SILENT (\\Deleted)"), PBT_SEND("$T OK\r\n"),
		PBT_EXPECT("UID EXPUNGE 4"), PBT_SEND("* 1 EXPUNGE\r\n$T OK\r\n"),
		PBT_ANSWER_ALL, PBT_END,
	};
	struct pbt_fake *f = fk_start(steps, false);
	struct events ev = { 0 };
	struct imap_session *s = ready(f, &ev, 0);
	struct imap_uidset one;
	imap_uidset_init(&one);
	imap_uidset_add(&one, 4);
	OK(imap_uid_move(s, &one, "Trash"));
	ck_assert_uint_eq(ev.expunge, 1);
	imap_uidset_free(&one);
	imap_session_free(s);
	PBT_FAKE_FINISH(f);

	static const struct pbt_step bare[] = {
		PBT_SEND("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] ready\r\n"),
		PBT_EXPECT("AUTHENTICATE PLAIN "),
		PBT_SEND("$T OK [CAPABILITY IMAP4rev1] in\r\n"),
		SELECT_OK, PBT_ANSWER_ALL, PBT_END,
	};
	f = fk_start(bare, false);
	s = ready(f, NULL, 0);
	imap_uidset_init(&one);
	imap_uidset_add(&one, 4);
	ck_assert_int_eq(imap_uid_move(s, &one, "Trash"), IMAP_EUNSUPPORTED);
	ck_assert_int_eq(imap_uid_expunge(s, &one), IMAP_EUNSUPPORTED);
	OK(imap_logout(s));
	ck_assert_uint_eq(f->commands, 1);  /* only LOGOUT reached the server */
	imap_uidset_free(&one);
	imap_session_free(s);
	PBT_FAKE_FINISH(f);
}
END_TEST

START_TEST(test_long_sets_are_split)
{
	static const struct pbt_step steps[] = {
		PBT_SEND("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR UIDPLUS MOVE] ready\r\n"),
		PBT_EXPECT("AUTHENTICATE PLAIN "),
		PBT_SEND("$T OK [CAPABILITY IMAP4rev1 UIDPLUS MOVE] in\r\n"),
		SELECT_OK, PBT_ANSWER_ALL, PBT_END,
	};
	struct pbt_fake *f = fk_start(steps, false);
	struct imap_session *s = ready(f, NULL, 0);
	struct imap_uidset odd;
	imap_uidset_init(&odd);
	for (uint32_t u = 1; u < 20000; u += 2)
		ck_assert_int_eq(imap_uidset_add(&odd, u), 0);
	OK(imap_store_flags(s, &odd, true, IMAP_FLAG_SEEN, NULL, 0));
	OK(imap_uid_move(s, &odd, "Archive"));
	OK(imap_logout(s));
	ck_assert_uint_gt(f->commands, 5);
	ck_assert_uint_le(f->longest, 8192);
	ck_assert_str_eq(f->cmd, "LOGOUT");
	imap_uidset_free(&odd);
	imap_session_free(s);
	PBT_FAKE_FINISH(f);
}
END_TEST

START_TEST(test_list_special_use)
{
	static const struct pbt_step steps[] = {
		PBT_SEND("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR SPECIAL-USE LIST-EXTENDED] "
		    "ready\r\n"),
		PBT_EXPECT("AUTHENTICATE PLAIN "),
		PBT_SEND("$T OK [CAPABILITY IMAP4rev1 SPECIAL-USE LIST-EXTENDED] in\r\n"),
		PBT_EXPECT("LIST \"\" \"*\" RETURN (SPECIAL-USE)"),
		PBT_SEND("* LIST (\\HasNoChildren) \"/\" INBOX\r\n"
		    "* LIST (\\HasNoChildren \\Trash) \"/\" {13}\r\nDeleted Items\r\n"
		    "* LIST (\\Archive \\NonExistent) NIL Gone\r\n"
		    "* LIST (\\Archive) \"/\" \"Old \\\"Mail\\\"\"\r\n$T OK\r\n"),
		PBT_EXPECT("LIST \"\" \"*\" RETURN (SPECIAL-USE)"),
		PBT_SEND("* LIST (\\HasNoChildren \\Trash) \"/\" {12}\r\nDeleted Item\r\n$T OK\r\n"),
		PBT_ANSWER_ALL, PBT_END,
	};
	struct pbt_fake *f = fk_start(steps, false);
	struct imap_session *s = client(f, IMAP_TLS_NONE, 0, NULL);
	char name[64];
	OK(imap_connect(s));
	OK(imap_login(s, "alice", "pw"));
	OK(imap_find_special(s, IMAP_LIST_ARCHIVE, name, sizeof(name)));
	ck_assert_str_eq(name, "Old \"Mail\"");
	OK(imap_find_special(s, IMAP_LIST_TRASH, name, sizeof(name)));
	ck_assert_str_eq(name, "Deleted Item");
	ck_assert_int_eq(imap_find_special(s, IMAP_LIST_TRASH | IMAP_LIST_JUNK, name,
	    sizeof(name)), IMAP_EARG);
	OK(imap_logout(s));
	imap_session_free(s);
	PBT_FAKE_FINISH(f);
}
END_TEST

/* NAMESPACE (RFC 2342): the first personal prefix and its delimiter, as
 * Cyrus and Courier as Debian ships them answer, as Gmail does (""), NIL,
 * a literal prefix; a prefix too long is EARG; a malformed answer ends
 * the connection; without the capability nothing is sent. */
START_TEST(test_namespace)
{
	static const struct pbt_step steps[] = {
		PBT_SEND("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR NAMESPACE] ready\r\n"),
		PBT_EXPECT("AUTHENTICATE PLAIN "),
		PBT_SEND("$T OK [CAPABILITY IMAP4rev1 NAMESPACE] in\r\n"),
		PBT_EXPECT("NAMESPACE"),
		PBT_SEND("* NAMESPACE ((\"INBOX.\" \".\")) ((\"user.\" \".\")) ((\"\" \".\"))\r\n"
		    "$T OK done\r\n"),
		PBT_EXPECT("NAMESPACE"),
		PBT_SEND("* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n$T OK\r\n"),
		PBT_EXPECT("NAMESPACE"),
		PBT_SEND("* NAMESPACE NIL NIL ((\"#shared/\" \"/\"))\r\n$T OK\r\n"),
		PBT_EXPECT("NAMESPACE"),
		PBT_SEND("* NAMESPACE (({6}\r\nMail/x NIL \"X-EXT\" (\"a\"))(\"Other/\" \"/\")) NIL NIL\r\n"
		    "$T OK\r\n"),
		PBT_EXPECT("NAMESPACE"),
		PBT_SEND("* NAMESPACE ((\"0123456789abcdef\" \".\")) NIL NIL\r\n$T OK\r\n"),
		PBT_EXPECT("NAMESPACE"),
		PBT_SEND("$T OK no data\r\n"),
		PBT_EXPECT("NAMESPACE"),
		PBT_SEND("* NAMESPACE ((\"INBOX.\" \"..\")) NIL NIL\r\n$T OK\r\n"),
		PBT_END,
	};
	struct pbt_fake *f = fk_start(steps, false);
	struct imap_session *s = client(f, IMAP_TLS_NONE, 0, NULL);
	char prefix[16], d = 'x';
	OK(imap_connect(s));
	OK(imap_login(s, "alice", "pw"));
	OK(imap_namespace(s, prefix, sizeof(prefix), &d));
	ck_assert_str_eq(prefix, "INBOX.");
	ck_assert_int_eq(d, '.');
	OK(imap_namespace(s, prefix, sizeof(prefix), &d));
	ck_assert_str_eq(prefix, "");
	ck_assert_int_eq(d, '/');
	OK(imap_namespace(s, prefix, sizeof(prefix), &d));
	ck_assert_str_eq(prefix, "");
	ck_assert_int_eq(d, 0);
	OK(imap_namespace(s, prefix, sizeof(prefix), &d));
	ck_assert_str_eq(prefix, "Mail/x");
	ck_assert_int_eq(d, 0);
	ck_assert_int_eq(imap_namespace(s, prefix, sizeof(prefix), &d), IMAP_EARG);
	ck_assert_str_eq(prefix, "");
	OK(imap_namespace(s, prefix, sizeof(prefix), &d));
	ck_assert_str_eq(prefix, "");
	ck_assert_int_eq(imap_namespace(s, prefix, sizeof(prefix), &d), IMAP_EPROTO);
	ck_assert_str_eq(prefix, "");
	imap_session_free(s);
	PBT_FAKE_FINISH(f);
}
END_TEST

START_TEST(test_namespace_not_offered)
{
	static const struct pbt_step steps[] = {
		PBT_SEND(GREET), LOGIN_OK, PBT_EXPECT("LOGOUT"), PBT_SEND("* BYE\r\n$T OK\r\n"),
		PBT_END,
	};
	struct pbt_fake *f = fk_start(steps, false);
	struct imap_session *s = client(f, IMAP_TLS_NONE, 0, NULL);
	char prefix[16], d;
	OK(imap_connect(s));
	OK(imap_login(s, "alice", "pw"));
	ck_assert_int_eq(imap_namespace(s, prefix, sizeof(prefix), &d), IMAP_EUNSUPPORTED);
	ck_assert_str_eq(prefix, "");
	OK(imap_logout(s));
	imap_session_free(s);
	PBT_FAKE_FINISH(f);
}
END_TEST

static bool only_size_5(void *arg, uint64_t size)
{
	(*(int *)arg)++;
	return size == 5;
}

/* imap_fetch_body_checked: the size is judged before any octet reaches the
 * sink; a refused body is read and dropped, the session stays usable. */
START_TEST(test_fetch_body_checked)
{
	static const struct pbt_step steps[] = {
		PBT_SEND(GREET), LOGIN_OK, SELECT_OK,
		PBT_EXPECT("UID FETCH 2 (UID BODY.PEEK[])"),
		PBT_SEND("* 2 FETCH (UID 2 BODY[] {22}\r\nMessage unavailable.\r\n)\r\n$T OK\r\n"),
		PBT_EXPECT("UID FETCH 2 (UID BODY.PEEK[])"),
		PBT_SEND("* 2 FETCH (UID 2 BODY[] \"short\")\r\n$T OK\r\n"),
		PBT_EXPECT("UID FETCH 2 (UID BODY.PEEK[])"),
		PBT_SEND("* 2 FETCH (UID 2 BODY[] {5}\r\nhello)\r\n$T OK\r\n"),
		PBT_EXPECT("UID FETCH 2 (UID BODY.PEEK[])"),
		PBT_SEND("* 2 FETCH (UID 2 BODY[] \"quoted too long\")\r\n$T OK\r\n"),
		PBT_ANSWER_ALL, PBT_END,
	};
	struct pbt_fake *f = fk_start(steps, false);
	struct imap_session *s = ready(f, NULL, 0);
	struct body b = { .ret = 0 };
	struct imap_body_result res;
	int asked = 0;
	OK(imap_fetch_body_checked(s, 2, IMAP_SECTION_ALL, 0, 0, only_size_5, &asked, body_sink,
	    &b, &res));
	ck_assert(res.refused);
	ck_assert_uint_eq(res.size, 22);
	ck_assert_uint_eq(res.delivered, 0);
	ck_assert_uint_eq(b.len, 0);
	OK(imap_fetch_body_checked(s, 2, IMAP_SECTION_ALL, 0, 0, only_size_5, &asked, body_sink,
	    &b, &res));
	ck_assert(!res.refused);
	ck_assert_uint_eq(b.len, 5);
	OK(imap_fetch_body_checked(s, 2, IMAP_SECTION_ALL, 0, 0, only_size_5, &asked, body_sink,
	    &b, &res));
	ck_assert(!res.refused);
	ck_assert_uint_eq(b.len, 10);
	ck_assert(memcmp(b.data, "shorthello", 10) == 0);
	OK(imap_fetch_body_checked(s, 2, IMAP_SECTION_ALL, 0, 0, only_size_5, &asked, body_sink,
	    &b, &res));
	ck_assert(res.refused);
	ck_assert_uint_eq(b.len, 10);
	ck_assert_int_eq(asked, 4);
	OK(imap_noop(s));
	OK(imap_logout(s));
	imap_session_free(s);
	PBT_FAKE_FINISH(f);
}
END_TEST

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	Suite *su = suite_create("imap-fake-server");
	TCase *tc = tcase_create("fake");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_starttls_not_offered);
	tcase_add_test(tc, test_starttls_not_offered_after_capability);
	tcase_add_test(tc, test_starttls_refused);
	tcase_add_test(tc, test_preauth_plaintext);
	tcase_add_test(tc, test_preauth_without_tls_cannot_login);
	tcase_add_test(tc, test_starttls_injection_discarded);
	tcase_add_test(tc, test_disconnect_mid_literal);
	tcase_add_test(tc, test_bye_inside_literal);
	tcase_add_test(tc, test_stall_mid_literal);
	tcase_add_test(tc, test_stall_times_out);
	tcase_add_test(tc, test_stall_greeting_and_tls);
	tcase_add_test(tc, test_connect_refused);
	tcase_add_test(tc, test_greeting_bye);
	tcase_add_test(tc, test_bye_during_command);
	tcase_add_test(tc, test_hostile_responses);
	tcase_add_test(tc, test_deep_nesting_from_server);
	tcase_add_test(tc, test_untagged_during_fetch);
	tcase_add_test(tc, test_literal_size_is_protocol_error);
	tcase_add_test(tc, test_header_fields);
	tcase_add_test(tc, test_body_not_found_and_sink);
	tcase_add_test(tc, test_tails_pipelined);
	tcase_add_test(tc, test_tails_grouped);
	tcase_add_test(tc, test_tails_meanwhile);
	tcase_add_test(tc, test_tails_gone_and_stop);
	tcase_add_test(tc, test_tails_disconnect);
	tcase_add_test(tc, test_tails_unknown_tag);
	tcase_add_test(tc, test_tails_arguments_and_window);
	tcase_add_test(tc, test_login_literal_sync);
	tcase_add_test(tc, test_login_literal_plus);
	tcase_add_test(tc, test_authenticate_variants);
	tcase_add_test(tc, test_oauthbearer);
	tcase_add_test(tc, test_xoauth2);
	tcase_add_test(tc, test_oauth2_refusals);
	tcase_add_test(tc, test_imap4rev2_only);
	tcase_add_test(tc, test_ipv6);
	tcase_add_test(tc, test_search_variants);
	tcase_add_test(tc, test_search_plain);
	tcase_add_test(tc, test_move_fallback);
	tcase_add_test(tc, test_long_sets_are_split);
	tcase_add_test(tc, test_list_special_use);
	tcase_add_test(tc, test_fetch_changed_vanished);
	tcase_add_test(tc, test_namespace);
	tcase_add_test(tc, test_namespace_not_offered);
	tcase_add_test(tc, test_fetch_body_checked);
	tcase_add_test(tc, test_noop_select_pipelined);
	tcase_add_test(tc, test_ahead_out_of_order);
	tcase_add_test(tc, test_ahead_skip_and_drain);
	tcase_add_test(tc, test_ahead_lost);
	tcase_add_test(tc, test_ahead_body_for_another);
	tcase_add_test(tc, test_uidvalidity_changed_while_selected);
	tcase_add_test(tc, test_ahead_sections_out_of_order);
	suite_add_tcase(su, tc);
	SRunner *sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
