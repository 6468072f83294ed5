/* tests/imap/check_deadline.c — the whole-command deadline and bounded name
 * resolution (imap.h contract, imap/limits.h): against the scripted server
 * of tests/lib/fakeserver.h on loopback, doing what no real server does on
 * purpose — trickles a response one octet every T/4 for ever, keeps a listing going
 * at a genuine rate without end — and one that is slow but genuine; a body
 * stream paced by a slow sink; and host-name lookups through a resolver
 * the test controls (a hang cannot be produced on loopback without
 * touching /etc, so the hanging lookup is the test's own function run by
 * the real resolver thread).
 *
 * Times: T is 1 s throughout. Only lower bounds on elapsed time are
 * asserted; that a call ends at all is guarded by the Check timeouts.
 */
#include <check.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imap/conn.h"
#include "imap/imap.h"
#include "tests/lib/fakeserver.h"
#include "tests/lib/testutil.h"

#define T 1            /* cfg.timeout_s of every session here */
#define TRICKLE_MS 250 /* T/4 */

/* ---- the scripted server (tests/lib/fakeserver.h) ------------------------ */

#define PREAUTH "* PREAUTH [CAPABILITY IMAP4rev1 UIDPLUS] ready\r\n"
/* The greeting, then SELECT INBOX answered. */
#define SELECTED PBT_SEND(PREAUTH), PBT_EXPECT("SELECT INBOX"), \
	PBT_SEND("* 3 EXISTS\r\n* OK [UIDVALIDITY 7] v\r\n$T OK [READ-WRITE] selected\r\n")

static struct pbt_fake *srv_start(const struct pbt_step *steps)
{
	struct pbt_fake *sv = pbt_fake_start(steps, 0);
	ck_assert_ptr_nonnull(sv);
	sv->trickle_ms = TRICKLE_MS;
	return sv;
}

/* FETCH responses for UIDs 1.., 30 every 200 ms (about 9 KB/s: twice the
 * floor of 4096 octets per T), arg of them (0: until the client goes away,
 * at most two minutes), then the tagged OK. */
static bool srv_listing(struct pbt_fake *sv, const char *arg)
{
	unsigned n = (unsigned)atoi(arg);
	char burst[30 * 160];
	unsigned uid = 1;
	for (int round = 0; round < 600 && (n == 0 || uid <= n); round++) {
		size_t len = 0;
		for (int k = 0; k < 30 && (n == 0 || uid <= n); k++, uid++)
			len += (size_t)snprintf(burst + len, sizeof(burst) - len,
			    "* %u FETCH (UID %u RFC822.SIZE %u FLAGS (\\Seen $Label1) "
			    "EMAILID (M%08x%08x))\r\n", uid, uid, 1000 + uid, uid, ~uid);
		if (pbt_fake_write(sv, burst, len) < 0)
			return false;
		pbt_msleep(200);
	}
	if (n)
		pbt_fake_send(sv, "$T OK listed\r\n");
	return true;
}

static struct imap_session *client_at(struct pbt_fake *sv, const char *host)
{
	struct imap_config cfg = {
		.host = host, .port = (unsigned)sv->port, .tls = IMAP_TLS_NONE, .timeout_s = T,
	};
	struct imap_session *s = imap_session_new(&cfg);
	ck_assert_ptr_nonnull(s);
	return s;
}

/* Connected (PREAUTH) and INBOX selected. */
static struct imap_session *selected(struct pbt_fake *sv)
{
	struct imap_session *s = client_at(sv, "127.0.0.1");
	ck_assert_int_eq(imap_connect(s), IMAP_OK);
	ck_assert_int_eq(imap_select(s, "INBOX", 0, NULL), IMAP_OK);
	return s;
}

/* The call ended by the deadline: connection error, cause TIMEOUT, not
 * before T, the session closed. */
static void assert_cut_off(struct imap_session *s, enum imap_result r, double t0)
{
	ck_assert_msg(r == IMAP_ECONN, "result %s: %s", imap_result_name(r), imap_last(s)->text);
	ck_assert_int_eq(imap_last(s)->cause, IMAP_CAUSE_TIMEOUT);
	ck_assert_double_ge(pbt_now() - t0, T * 0.95);
	ck_assert_int_eq(imap_state(s), IMAP_STATE_DISCONNECTED);
}

static int count_msg(void *arg, const struct imap_msg *m)
{
	(void)m;
	(*(unsigned *)arg)++;
	return 0;
}

static void list_entry(void *arg, const struct imap_list_entry *e)
{
	(void)arg;
	(void)e;
}

static int tail_entry(void *arg, uint32_t uid, const char *tail, size_t len)
{
	(void)arg;
	(void)uid;
	(void)tail;
	(void)len;
	return 0;
}

struct sink {
	uint64_t got;
	int slow_calls;   /* the first this many calls sleep slow_ms */
	long slow_ms;
};

static int sink_fn(void *arg, const char *buf, size_t len)
{
	struct sink *k = arg;
	(void)buf;
	if (k->slow_calls > 0) {
		k->slow_calls--;
		pbt_msleep(k->slow_ms);
	}
	k->got += len;
	return 0;
}

/* ---- a trickle ends every kind of command ------------------------------- */

/* Each trickles, after what comes first, one octet every T/4 until the
 * client goes away. */
static const struct pbt_step run_trickle_greeting[] = { PBT_TRICKLE("* OK ", 'x'), PBT_END };

static const struct pbt_step run_trickle_login[] = {
	PBT_SEND("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] hi\r\n"),
	PBT_EXPECT("AUTHENTICATE PLAIN "), PBT_TRICKLE("* OK ", 'x'), PBT_END,
};

static const struct pbt_step run_trickle_select[] = {
	PBT_SEND(PREAUTH), PBT_EXPECT("SELECT INBOX"),
	PBT_TRICKLE("* 3 EXISTS\r\n* OK [UIDVALIDITY 7] ", 'v'), PBT_END,
};

static const struct pbt_step run_trickle_list[] = {
	PBT_SEND(PREAUTH), PBT_EXPECT("LIST"), PBT_TRICKLE("* LIST () \"/\" ", 'a'), PBT_END,
};

/* after SELECT: SEARCH, FETCH of sizes, STORE, EXPUNGE alike */
static const struct pbt_step run_trickle_command[] = {
	SELECTED, PBT_EXPECT(""), PBT_TRICKLE("* 1 FETCH (FLAGS (", 'x'), PBT_END,
};

static const struct pbt_step run_trickle_body_prefix[] = {
	SELECTED, PBT_EXPECT("UID FETCH 5 (UID BODY.PEEK[])"),
	PBT_TRICKLE("* 2 FETCH (UID 5 ", ' '), PBT_END,
};

static const struct pbt_step run_trickle_in_body[] = {
	SELECTED, PBT_EXPECT("UID FETCH 5 (UID BODY.PEEK[])"),
	PBT_TRICKLE("* 2 FETCH (UID 5 BODY[] {100000}\r\nFrom: a\r\n\r\n", 'x'), PBT_END,
};

START_TEST(test_trickle_greeting)
{
	struct pbt_fake *sv = srv_start(run_trickle_greeting);
	struct imap_session *s = client_at(sv, "127.0.0.1");
	double t0 = pbt_now();
	assert_cut_off(s, imap_connect(s), t0);
	ck_assert_ptr_nonnull(strstr(imap_last(s)->text, "4096 octets"));
	imap_session_free(s);
	PBT_FAKE_FINISH(sv);
}
END_TEST

static enum imap_result do_login(struct imap_session *s)
{
	return imap_login(s, "alice", "pw");
}

static enum imap_result do_select(struct imap_session *s)
{
	return imap_select(s, "INBOX", 0, NULL);
}

static enum imap_result do_list(struct imap_session *s)
{
	return imap_list(s, "", "*", list_entry, NULL);
}

/* Login, select and list, each on a connection of its own. */
START_TEST(test_trickle_login_select_list)
{
	static const struct {
		const struct pbt_step *run;
		enum imap_result (*call)(struct imap_session *);
	} cases[] = {
		{ run_trickle_login, do_login },
		{ run_trickle_select, do_select },
		{ run_trickle_list, do_list },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pbt_fake *sv = srv_start(cases[i].run);
		struct imap_session *s = client_at(sv, "127.0.0.1");
		ck_assert_int_eq(imap_connect(s), IMAP_OK);
		double t0 = pbt_now();
		assert_cut_off(s, cases[i].call(s), t0);
		ck_assert(imap_last_is_trouble(s));
		imap_session_free(s);
		PBT_FAKE_FINISH(sv);
	}
}
END_TEST

/* Search, fetch of sizes and flags, store, expunge, tails (pipelined). */
START_TEST(test_trickle_selected_commands)
{
	struct imap_uidset set;
	imap_uidset_init(&set);
	imap_uidset_add_range(&set, 1, 3);
	for (int i = 0; i < 5; i++) {
		struct pbt_fake *sv = srv_start(run_trickle_command);
		struct imap_session *s = selected(sv);
		struct imap_search q = { .unseen = true };
		struct imap_uidset out;
		uint32_t uids[] = { 1, 2 };
		uint64_t sizes[] = { 100, 200 };
		unsigned n = 0;
		enum imap_result r = IMAP_OK;
		double t0 = pbt_now();
		imap_uidset_init(&out);
		switch (i) {
		case 0:
			r = imap_uid_search(s, &q, &out);
			break;
		case 1:
			r = imap_fetch_info(s, &set, 0, count_msg, &n);
			break;
		case 2:
			r = imap_store_flags(s, &set, true, IMAP_FLAG_SEEN, NULL, 0);
			break;
		case 3:
			r = imap_uid_expunge(s, &set);
			break;
		case 4:
			r = imap_fetch_tails(s, uids, sizes, 2, 2, tail_entry, NULL);
			break;
		}
		assert_cut_off(s, r, t0);
		imap_uidset_free(&out);
		imap_session_free(s);
		PBT_FAKE_FINISH(sv);
	}
	imap_uidset_free(&set);
}
END_TEST

/* A body fetch is cut off by a trickle before its literal and inside it:
 * in the literal only the minimum progress applies, and it applies. */
START_TEST(test_trickle_body)
{
	for (int i = 0; i < 2; i++) {
		struct pbt_fake *sv = srv_start(i ? run_trickle_in_body : run_trickle_body_prefix);
		struct imap_session *s = selected(sv);
		struct sink k = { 0 };
		double t0 = pbt_now();
		assert_cut_off(s, imap_fetch_body(s, 5, IMAP_SECTION_ALL, 0, 0, sink_fn, &k, NULL),
		    t0);
		if (i)
			ck_assert_uint_ge(k.got, 11);
		imap_session_free(s);
		PBT_FAKE_FINISH(sv);
	}
}
END_TEST

/* ---- genuine slow work completes; endless work does not -------------------- */

static const struct pbt_step run_slow_listing[] = {
	SELECTED, PBT_EXPECT("UID FETCH 1:4294967295 (UID RFC822.SIZE FLAGS"),
	PBT_CALL(srv_listing, "450"), PBT_END,
};

static const struct pbt_step run_endless_listing[] = {
	SELECTED, PBT_EXPECT("UID FETCH 1:4294967295 (UID RFC822.SIZE FLAGS"),
	PBT_CALL(srv_listing, "0"), PBT_END,
};

/* UID FETCH 1:* of sizes and flags, as the bridge lists a mailbox, against
 * the server run: it must end with want, after at least min_secs, and when
 * cut off by the deadline with text_has in its text. The messages
 * reported. */
static unsigned listing(const struct pbt_step *run, enum imap_result want, double min_secs,
    const char *text_has)
{
	struct pbt_fake *sv = srv_start(run);
	struct imap_session *s = selected(sv);
	struct imap_uidset all;
	unsigned n = 0;
	imap_uidset_init(&all);
	imap_uidset_add_range(&all, 1, UINT32_MAX);
	double t0 = pbt_now();
	enum imap_result r = imap_fetch_info(s, &all, 0, count_msg, &n);
	ck_assert_double_ge(pbt_now() - t0, min_secs);
	ck_assert_msg(r == want, "%s: %s", imap_result_name(r), imap_last(s)->text);
	if (text_has) {
		ck_assert_int_eq(imap_last(s)->cause, IMAP_CAUSE_TIMEOUT);
		ck_assert_ptr_nonnull(strstr(imap_last(s)->text, text_has));
	}
	imap_uidset_free(&all);
	imap_session_free(s);
	PBT_FAKE_FINISH(sv);
	return n;
}

/* 450 messages at about twice the floor: some 3 s, far past T and past the
 * most reserve (2 T), and it completes. */
START_TEST(test_slow_listing_completes)
{
	ck_assert_uint_eq(listing(run_slow_listing, IMAP_OK, 2.5 * T, NULL), 450);
}
END_TEST

/* The same rate without end: the hard cap, IMAP_COMMAND_TIMEOUTS × T. */
START_TEST(test_endless_listing_capped)
{
	ck_assert_uint_gt(listing(run_endless_listing, IMAP_ECONN,
	    IMAP_COMMAND_TIMEOUTS * T * 0.97, "took over"), 1000);
}
END_TEST

#define BODY_SIZE (256u << 10)

/* The literal of a body of size octets of fill, a chunk every pause_ms. */
static bool srv_body(struct pbt_fake *sv, const char *section, unsigned size, char fill,
    size_t chunk_len, long pause_ms)
{
	char chunk[16384];
	memset(chunk, fill, chunk_len);
	if (pbt_fake_printf(sv, "* 2 FETCH (UID 5 %s {%u}\r\n", section, size) < 0)
		return false;
	for (unsigned sent = 0; sent < size; sent += chunk_len) {
		if (pbt_fake_write(sv, chunk, chunk_len) < 0)
			return false;
		if (pause_ms)
			pbt_msleep(pause_ms);
	}
	pbt_fake_send(sv, ")\r\n$T OK fetched\r\n");
	return true;
}

static bool srv_big_body(struct pbt_fake *sv, const char *arg)
{
	(void)arg;
	return srv_body(sv, "BODY[]", BODY_SIZE, 'm', 16384, 0);
}

static const struct pbt_step run_big_body[] = {
	SELECTED, PBT_EXPECT("UID FETCH 5 (UID BODY.PEEK[])"), PBT_CALL(srv_big_body, NULL),
	PBT_END,
};

/* The sink (the POP3 client's pace) takes 2.5 T on each of its first two
 * chunks: each longer than the most reserve (IMAP_PROGRESS_RESERVE × T);
 * the server is waiting on us, not we on it, so the body arrives whole. */
START_TEST(test_body_paced_by_sink)
{
	struct pbt_fake *sv = srv_start(run_big_body);
	struct imap_session *s = selected(sv);
	struct sink k = { .slow_calls = 2, .slow_ms = 2500 * T };
	struct imap_body_result res;
	double t0 = pbt_now();
	enum imap_result r = imap_fetch_body(s, 5, IMAP_SECTION_ALL, 0, 0, sink_fn, &k, &res);
	ck_assert_msg(r == IMAP_OK, "%s: %s", imap_result_name(r), imap_last(s)->text);
	ck_assert_uint_eq(k.got, BODY_SIZE);
	ck_assert_uint_eq(res.delivered, BODY_SIZE);
	ck_assert_double_ge(pbt_now() - t0, 5.0 * T);
	ck_assert_int_eq(imap_noop(s), IMAP_ECONN);  /* the script has ended */
	imap_session_free(s);
	PBT_FAKE_FINISH(sv);
}
END_TEST

static bool srv_slow_body(struct pbt_fake *sv, const char *arg)
{
	(void)arg;
	return srv_body(sv, "BODY[TEXT]", 2048 * 4 * (IMAP_COMMAND_TIMEOUTS + 3) * T, 'b', 2048,
	    TRICKLE_MS);
}

static const struct pbt_step run_slow_body[] = {
	SELECTED, PBT_EXPECT("UID FETCH 5 (UID BODY.PEEK[TEXT])"), PBT_CALL(srv_slow_body, NULL),
	PBT_END,
};

/* A body streaming at a genuine rate (8 KiB per T) for longer than the hard
 * cap of a command: a message body has none. */
START_TEST(test_slow_body_outlives_cap)
{
	struct pbt_fake *sv = srv_start(run_slow_body);
	struct imap_session *s = selected(sv);
	struct sink k = { 0 };
	double t0 = pbt_now();
	enum imap_result r = imap_fetch_body(s, 5, IMAP_SECTION_TEXT, 0, 0, sink_fn, &k, NULL);
	ck_assert_msg(r == IMAP_OK, "%s: %s", imap_result_name(r), imap_last(s)->text);
	ck_assert_uint_eq(k.got, 2048 * 4 * (IMAP_COMMAND_TIMEOUTS + 3) * T);
	ck_assert_double_ge(pbt_now() - t0, IMAP_COMMAND_TIMEOUTS * T);
	imap_session_free(s);
	PBT_FAKE_FINISH(sv);
}
END_TEST

/* ---- name resolution ------------------------------------------------------- */

static unsigned lookups;
static pthread_mutex_t lookups_mu = PTHREAD_MUTEX_INITIALIZER;

static int counting_resolver(const char *host, const char *port,
    const struct addrinfo *hints, struct addrinfo **res)
{
	pthread_mutex_lock(&lookups_mu);
	lookups++;
	pthread_mutex_unlock(&lookups_mu);
	return getaddrinfo(host, port, hints, res);
}

/* Answers, but only after 3 T: a DNS server that does not reply. */
static int hanging_resolver(const char *host, const char *port,
    const struct addrinfo *hints, struct addrinfo **res)
{
	pbt_msleep(3000 * T);
	return counting_resolver(host, port, hints, res);
}

static const struct pbt_step run_greet_logout[] = {
	PBT_SEND(PREAUTH), PBT_EXPECT("LOGOUT"), PBT_SEND("* BYE bye\r\n$T OK done\r\n"), PBT_END,
};

static unsigned lookups_now(void)
{
	pthread_mutex_lock(&lookups_mu);
	unsigned n = lookups;
	pthread_mutex_unlock(&lookups_mu);
	return n;
}

static void connect_via(const char *host)
{
	struct pbt_fake *sv = srv_start(run_greet_logout);
	struct imap_session *s = client_at(sv, host);
	ck_assert_msg(imap_connect(s) == IMAP_OK, "%s: %s", host, imap_last(s)->text);
	ck_assert_int_eq(imap_logout(s), IMAP_OK);
	imap_session_free(s);
	PBT_FAKE_FINISH(sv);
}

/* IP literals never reach the resolver; a name does, once. */
START_TEST(test_literal_bypasses_resolver)
{
	imap_conn_set_resolver(counting_resolver);
	connect_via("127.0.0.1");
	ck_assert_uint_eq(lookups_now(), 0);
	/* ::1 as a literal: no lookup even where nothing listens there */
	struct imap_config cfg = { .host = "::1", .port = 9, .tls = IMAP_TLS_NONE,
	    .timeout_s = T };
	struct imap_session *s = imap_session_new(&cfg);
	ck_assert_int_eq(imap_connect(s), IMAP_ECONN);
	ck_assert_int_ne(imap_last(s)->cause, IMAP_CAUSE_RESOLVE);
	imap_session_free(s);
	ck_assert_uint_eq(lookups_now(), 0);
	connect_via("localhost");
	ck_assert_uint_eq(lookups_now(), 1);
	imap_conn_set_resolver(NULL);
}
END_TEST

/* A lookup that hangs ends the connect after T (cause TIMEOUT); the
 * abandoned lookup finishes on its own later and frees everything (the
 * sanitizer build checks the "frees"). */
START_TEST(test_hung_resolver)
{
	imap_conn_set_resolver(hanging_resolver);
	struct imap_config cfg = { .host = "localhost", .port = 9, .tls = IMAP_TLS_NONE,
	    .timeout_s = T };
	struct imap_session *s = imap_session_new(&cfg);
	double t0 = pbt_now();
	ck_assert_int_eq(imap_connect(s), IMAP_ECONN);
	ck_assert_double_ge(pbt_now() - t0, T * 0.95);
	ck_assert_int_eq(imap_last(s)->cause, IMAP_CAUSE_TIMEOUT);
	ck_assert_ptr_nonnull(strstr(imap_last(s)->text, "resolve"));
	ck_assert_uint_eq(imap_conn_resolves_stuck(), 1);
	imap_session_free(s);
	while (imap_conn_resolves_stuck() > 0)
		pbt_msleep(50);
	ck_assert_uint_eq(lookups_now(), 1);  /* it did run to its end */
	imap_conn_set_resolver(NULL);
}
END_TEST

/* The real resolver: a name that does not exist fails cleanly. */
START_TEST(test_unresolvable_name)
{
	struct imap_config cfg = { .host = "no-such-host.invalid", .port = 9,
	    .tls = IMAP_TLS_NONE, .timeout_s = 5 };
	struct imap_session *s = imap_session_new(&cfg);
	enum imap_result r = imap_connect(s);
	ck_assert_int_eq(r, IMAP_ECONN);
	ck_assert_msg(imap_last(s)->cause == IMAP_CAUSE_RESOLVE ||
	    imap_last(s)->cause == IMAP_CAUSE_TIMEOUT, "cause %d: %s", imap_last(s)->cause,
	    imap_last(s)->text);
	ck_assert_int_eq(imap_state(s), IMAP_STATE_DISCONNECTED);
	imap_session_free(s);
}
END_TEST

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	Suite *su = suite_create("imap-deadline");
	TCase *tc = tcase_create("trickle");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_trickle_greeting);
	tcase_add_test(tc, test_trickle_login_select_list);
	tcase_add_test(tc, test_trickle_selected_commands);
	tcase_add_test(tc, test_trickle_body);
	tcase_add_test(tc, test_slow_listing_completes);
	tcase_add_test(tc, test_body_paced_by_sink);
	suite_add_tcase(su, tc);
	TCase *tl = tcase_create("long");
	tcase_set_timeout(tl, 120);
	tcase_add_test(tl, test_endless_listing_capped);
	tcase_add_test(tl, test_slow_body_outlives_cap);
	suite_add_tcase(su, tl);
	TCase *tr = tcase_create("resolve");
	tcase_set_timeout(tr, 60);
	tcase_add_test(tr, test_literal_bypasses_resolver);
	tcase_add_test(tr, test_hung_resolver);
	tcase_add_test(tr, test_unresolvable_name);
	suite_add_tcase(su, tr);
	SRunner *sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
