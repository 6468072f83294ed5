/* tests/imap/check_dovecot.c — the IMAP client against a real, private
 * Dovecot (tests/lib/dovecot.h): login, TLS verification, STARTTLS, select,
 * sizes, streaming a 20 MB message in bounded memory, flags, expunge, move,
 * special-use, events, a mailbox whose UIDVALIDITY changed, and pipelined
 * tail fetches.
 */
#include <check.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <openssl/evp.h>

#include "imap/imap.h"
#include "tests/imap/events.h"
#include "tests/lib/dovecot.h"
#include "tests/lib/msggen.h"

#define LARGE_SIZE ((uint64_t)20 << 20)
#define NSMALL 8   /* awkward messages in alice's INBOX, then the large one */

static struct pbt_dovecot *dc;

static void dc_setup(void)
{
	signal(SIGPIPE, SIG_IGN);
	dc = pbt_dovecot_start();
	ck_assert_ptr_nonnull(dc);
	ck_assert_int_eq(pbt_dovecot_add_user(dc, "alice", "secret"), 0);
	struct pbt_msgspec specs[NSMALL];
	pbt_msg_awkward_set(specs, NSMALL, 100);
	for (size_t i = 0; i < NSMALL; i++)
		ck_assert_int_eq(pbt_dovecot_add_generated(dc, "alice", "INBOX", &specs[i], ""), 0);
	struct pbt_msgspec large = { PBT_MSG_LARGE, 999, LARGE_SIZE };
	ck_assert_int_eq(pbt_dovecot_add_generated(dc, "alice", "INBOX", &large, ""), 0);
}

static void dc_teardown(void)
{
	pbt_dovecot_stop(dc);
	dc = NULL;
}

/* ---- helpers ------------------------------------------------------------- */

static struct imap_session *session(enum imap_tls_mode tls, const char *ca,
    const char *verify_name, struct events *ev)
{
	struct imap_config cfg = {
		.host = "127.0.0.1",
		.port = (unsigned)(tls == IMAP_TLS_IMPLICIT ? dc->imaps_port : dc->imap_port),
		.tls = tls,
		.ca_file = ca,
		.verify_name = verify_name,
		.timeout_s = 20,
		.on_event = ev ? on_event : NULL,
		.event_arg = ev,
	};
	struct imap_session *s = imap_session_new(&cfg);
	ck_assert_ptr_nonnull(s);
	return s;
}

/* A logged-in plaintext session with the mailbox selected. */
static struct imap_session *logged_in(const char *user, const char *pw, const char *box,
    struct events *ev)
{
	struct imap_session *s = session(IMAP_TLS_NONE, NULL, NULL, ev);
	OK(imap_connect(s));
	OK(imap_login(s, user, pw));
	if (box)
		OK(imap_select(s, box, 0, NULL));
	return s;
}

static void all_uids(struct imap_session *s, struct imap_uidset *out)
{
	struct imap_search q = { 0 };
	imap_uidset_init(out);
	OK(imap_uid_search(s, &q, out));
}

static void add_plain(const char *user, const char *folder, uint32_t seed)
{
	struct pbt_msgspec m = { PBT_MSG_PLAIN, seed, 0 };
	ck_assert_int_eq(pbt_dovecot_add_generated(dc, user, folder, &m, ""), 0);
}

/* ---- sinks --------------------------------------------------------------- */

struct count_sink {
	uint64_t octets;
	size_t max_chunk;
	uint64_t stop_after;     /* return 1 once this many arrived (0: never) */
	EVP_MD_CTX *md;
	size_t heap_base, heap_peak;
};

static int count_sink(void *arg, const char *buf, size_t len)
{
	struct count_sink *c = arg;
	c->octets += len;
	if (len > c->max_chunk)
		c->max_chunk = len;
	if (c->md)
		EVP_DigestUpdate(c->md, buf, len);
	if (c->heap_base) {
		struct mallinfo2 mi = mallinfo2();
		if (mi.uordblks > c->heap_peak)
			c->heap_peak = mi.uordblks;
	}
	return c->stop_after && c->octets >= c->stop_after ? 1 : 0;
}

static int md_sink(void *arg, const char *buf, size_t len)
{
	return EVP_DigestUpdate(arg, buf, len) == 1 ? 0 : -1;
}

/* ---- tests --------------------------------------------------------------- */

START_TEST(test_login_right_and_wrong)
{
	struct imap_session *s = session(IMAP_TLS_NONE, NULL, NULL, NULL);
	OK(imap_connect(s));
	ck_assert_int_eq(imap_state(s), IMAP_STATE_NOT_AUTH);
	ck_assert(imap_has(s, IMAP_CAP_IMAP4REV1));
	OK(imap_login(s, "alice", "secret"));
	ck_assert_int_eq(imap_state(s), IMAP_STATE_AUTH);
	ck_assert(imap_has(s, IMAP_CAP_UIDPLUS | IMAP_CAP_MOVE | IMAP_CAP_ENABLE));
	ck_assert(imap_has_name(s, "idle"));
	ck_assert_int_eq(imap_login(s, "alice", "secret"), IMAP_EARG);
	OK(imap_noop(s));
	OK(imap_logout(s));
	ck_assert_int_eq(imap_state(s), IMAP_STATE_DISCONNECTED);
	ck_assert_int_eq(imap_noop(s), IMAP_ECONN);
	imap_session_free(s);

	s = session(IMAP_TLS_NONE, NULL, NULL, NULL);
	OK(imap_connect(s));
	ck_assert_int_eq(imap_login(s, "alice", "wrong"), IMAP_NO);
	ck_assert_int_eq(imap_last(s)->code, IMAP_CODE_AUTHENTICATIONFAILED);
	ck_assert(!imap_last_is_trouble(s));
	ck_assert_int_eq(imap_login(s, "nobody", "secret"), IMAP_NO);
	ck_assert(!imap_last_is_trouble(s));
	ck_assert_int_eq(imap_login(s, "alice", "x\r\nA1 LOGOUT"), IMAP_EARG);
	OK(imap_login(s, "alice", "secret"));
	imap_session_free(s);
}
END_TEST

START_TEST(test_imaps_right_ca)
{
	const char *names[] = { NULL, "localhost" };
	for (int i = 0; i < 2; i++) {
		struct imap_session *s = session(IMAP_TLS_IMPLICIT, dc->ca_file, names[i], NULL);
		OK(imap_connect(s));
		ck_assert_ptr_nonnull(imap_tls_version(s));
		ck_assert_msg(strcmp(imap_tls_version(s), "TLSv1.2") == 0 ||
		    strcmp(imap_tls_version(s), "TLSv1.3") == 0, "%s", imap_tls_version(s));
		OK(imap_login(s, "alice", "secret"));
		OK(imap_select(s, "INBOX", IMAP_SELECT_READONLY, NULL));
		OK(imap_logout(s));
		imap_session_free(s);
	}
}
END_TEST

START_TEST(test_imaps_system_store_fails)
{
	struct imap_session *s = session(IMAP_TLS_IMPLICIT, NULL, NULL, NULL);
	ck_assert_int_eq(imap_connect(s), IMAP_ETLS);
	ck_assert_int_eq(imap_last(s)->cause, IMAP_CAUSE_TLS_VERIFY);
	ck_assert(imap_last_is_trouble(s));
	ck_assert_int_eq(imap_state(s), IMAP_STATE_DISCONNECTED);
	printf("system store: %s\n", imap_last(s)->text);
	imap_session_free(s);
}
END_TEST

START_TEST(test_imaps_wrong_name_fails)
{
	const char *bad[] = { "wrong.example", "127.0.0.2" };
	for (int i = 0; i < 2; i++) {
		struct imap_session *s = session(IMAP_TLS_IMPLICIT, dc->ca_file, bad[i], NULL);
		ck_assert_int_eq(imap_connect(s), IMAP_ETLS);
		ck_assert_int_eq(imap_last(s)->cause, IMAP_CAUSE_TLS_VERIFY);
		printf("wrong name %s: %s\n", bad[i], imap_last(s)->text);
		imap_session_free(s);
	}
	/* A STARTTLS session checks the name too. */
	struct imap_session *s = session(IMAP_TLS_STARTTLS, dc->ca_file, "wrong.example", NULL);
	ck_assert_int_eq(imap_connect(s), IMAP_ETLS);
	ck_assert_int_eq(imap_last(s)->cause, IMAP_CAUSE_TLS_VERIFY);
	imap_session_free(s);
}
END_TEST

START_TEST(test_starttls)
{
	struct imap_session *s = session(IMAP_TLS_STARTTLS, dc->ca_file, "localhost", NULL);
	OK(imap_connect(s));
	ck_assert_ptr_nonnull(imap_tls_version(s));
	ck_assert_uint_eq(imap_starttls_discarded(s), 0);
	/* Capabilities were read again over TLS: STARTTLS is gone. */
	ck_assert(!imap_has(s, IMAP_CAP_STARTTLS));
	ck_assert(imap_has(s, IMAP_CAP_IMAP4REV1));
	OK(imap_login(s, "alice", "secret"));
	struct imap_mailbox_info mi;
	OK(imap_select(s, "INBOX", IMAP_SELECT_READONLY, &mi));
	ck_assert_uint_eq(mi.exists, NSMALL + 1);
	OK(imap_logout(s));
	imap_session_free(s);
}
END_TEST

START_TEST(test_tls_min_version)
{
	struct imap_config cfg = {
		.host = "localhost", .port = (unsigned)dc->imaps_port, .tls = IMAP_TLS_IMPLICIT,
		.ca_file = dc->ca_file, .tls_min = IMAP_TLS_1_3, .timeout_s = 20,
	};
	struct imap_session *s = imap_session_new(&cfg);
	OK(imap_connect(s));
	ck_assert_str_eq(imap_tls_version(s), "TLSv1.3");
	imap_session_free(s);
}
END_TEST

START_TEST(test_select_examine)
{
	struct events ev = { 0 };
	struct imap_session *s = logged_in("alice", "secret", NULL, &ev);
	struct imap_mailbox_info mi;
	OK(imap_select(s, "INBOX", 0, &mi));
	ck_assert_int_eq(imap_state(s), IMAP_STATE_SELECTED);
	ck_assert_uint_eq(mi.exists, NSMALL + 1);
	ck_assert_uint_eq(imap_exists(s), NSMALL + 1);
	ck_assert(mi.has_uidvalidity && mi.uidvalidity > 0);
	ck_assert(mi.has_uidnext);
	ck_assert_uint_eq(mi.uidnext, NSMALL + 2);
	ck_assert(!mi.read_only);
	ck_assert(mi.has_permanent_flags);
	ck_assert(mi.permanent_flags & IMAP_FLAG_SEEN);
	ck_assert(mi.permanent_flags & IMAP_FLAG_DELETED);
	ck_assert(mi.permanent_flags & IMAP_FLAG_ANY_KEYWORD);
	ck_assert_uint_eq(ev.exists, 0);  /* SELECT's own EXISTS is not an event */

	OK(imap_select(s, "INBOX", IMAP_SELECT_READONLY, &mi));
	ck_assert(mi.read_only);

	unsigned enabled = 0;
	OK(imap_enable(s, IMAP_CAP_CONDSTORE, &enabled));
	ck_assert(enabled & IMAP_CAP_CONDSTORE);
	OK(imap_select(s, "INBOX", IMAP_SELECT_CONDSTORE, &mi));
	ck_assert(mi.has_highestmodseq && mi.highestmodseq > 0);

	ck_assert_int_eq(imap_select(s, "NoSuchBox", 0, &mi), IMAP_NO);
	printf("select NoSuchBox: code %s, text %s\n", imap_code_name(imap_last(s)->code),
	    imap_last(s)->text);
	ck_assert_int_eq(imap_state(s), IMAP_STATE_AUTH);
	const char *id[] = { "name", "popbridge-test", "version", "0" };
	OK(imap_id(s, id, 4));
	ck_assert_uint_ge(ev.other, 1);  /* the server's * ID answer */
	imap_session_free(s);
}
END_TEST

struct sizes {
	struct imap_session *s;
	unsigned n;
	uint64_t large_size;
	uint32_t uids[32];
	uint64_t size[32];
};

static int sizes_cb(void *arg, const struct imap_msg *m)
{
	struct sizes *z = arg;
	ck_assert_uint_lt(z->n, 32);
	ck_assert(m->has_size && m->has_flags);
	z->uids[z->n] = m->uid;
	z->size[z->n] = m->size;
	z->n++;
	return 0;
}

START_TEST(test_sizes_match_stream)
{
	struct imap_session *s = logged_in("alice", "secret", "INBOX", NULL);
	struct imap_uidset all;
	struct sizes z = { .s = s };
	all_uids(s, &all);
	ck_assert_uint_eq(imap_uidset_count(&all), NSMALL + 1);
	OK(imap_fetch_info(s, &all, IMAP_FETCH_EMAILID | IMAP_FETCH_MODSEQ, sizes_cb, &z));
	ck_assert_uint_eq(z.n, NSMALL + 1);
	ck_assert_uint_eq(z.size[NSMALL], LARGE_SIZE);
	for (unsigned i = 0; i < NSMALL; i++) {
		struct count_sink c = { 0 };
		struct imap_body_result br;
		OK(imap_fetch_body(s, z.uids[i], IMAP_SECTION_ALL, 0, 0, count_sink, &c, &br));
		ck_assert_uint_eq(c.octets, z.size[i]);
		ck_assert_uint_eq(br.size, z.size[i]);
		ck_assert_uint_eq(br.delivered, z.size[i]);
		/* Header and text add up to the whole. */
		struct count_sink h = { 0 }, t = { 0 };
		OK(imap_fetch_body(s, z.uids[i], IMAP_SECTION_HEADER, 0, 0, count_sink, &h, NULL));
		OK(imap_fetch_body(s, z.uids[i], IMAP_SECTION_TEXT, 0, 0, count_sink, &t, NULL));
		ck_assert_uint_eq(h.octets + t.octets, z.size[i]);
		/* Partial text. */
		struct count_sink p = { 0 };
		OK(imap_fetch_body(s, z.uids[i], IMAP_SECTION_TEXT, 1, 5, count_sink, &p, NULL));
		ck_assert_uint_eq(p.octets, t.octets > 6 ? 5 : t.octets - 1);
	}
	imap_uidset_free(&all);
	imap_session_free(s);
}
END_TEST

struct hdrs {
	unsigned n;
	bool saw_msgid;
};

static int hdrs_cb(void *arg, const struct imap_msg *m)
{
	struct hdrs *h = arg;
	ck_assert_ptr_nonnull(m->header);
	ck_assert(!m->header_truncated);
	ck_assert_uint_le(m->header_len, IMAP_HEADER_FIELDS_MAX);
	if (m->header_len > 12 && strncasecmp(m->header, "Message-ID: <", 13) == 0)
		h->saw_msgid = true;
	h->n++;
	return 0;
}

START_TEST(test_fetch_headers)
{
	struct imap_session *s = logged_in("alice", "secret", "INBOX", NULL);
	struct imap_uidset all;
	struct hdrs h = { 0 };
	const char *fields[] = { "MESSAGE-ID", "DATE", "FROM", "SUBJECT" };
	all_uids(s, &all);
	OK(imap_fetch_headers(s, &all, fields, 4, 0, hdrs_cb, &h));
	ck_assert_uint_eq(h.n, NSMALL + 1);
	ck_assert(h.saw_msgid);
	const char *badf[] = { "X:Y" };
	ck_assert_int_eq(imap_fetch_headers(s, &all, badf, 1, 0, hdrs_cb, &h), IMAP_EARG);
	OK(imap_noop(s));
	imap_uidset_free(&all);
	imap_session_free(s);
}
END_TEST

START_TEST(test_stream_20mb_bounded_memory)
{
	struct imap_session *s = logged_in("alice", "secret", "INBOX", NULL);
	struct imap_uidset all;
	all_uids(s, &all);
	uint32_t uid = all.r[all.n - 1].hi;  /* the large one was delivered last */

	/* Expected digest, from the generator. */
	struct pbt_msgspec large = { PBT_MSG_LARGE, 999, LARGE_SIZE };
	EVP_MD_CTX *want = EVP_MD_CTX_new();
	unsigned char dw[32], dg[32];
	unsigned lw, lg;
	EVP_DigestInit_ex(want, EVP_sha256(), NULL);
	ck_assert_int_eq(pbt_msg_write(&large, md_sink, want), (int64_t)LARGE_SIZE);
	EVP_DigestFinal_ex(want, dw, &lw);
	EVP_MD_CTX_free(want);

	struct rusage ru0, ru1;
	struct count_sink c = { 0 };
	c.md = EVP_MD_CTX_new();
	EVP_DigestInit_ex(c.md, EVP_sha256(), NULL);
	struct mallinfo2 mi0 = mallinfo2();
	c.heap_base = mi0.uordblks ? mi0.uordblks : 1;
	c.heap_peak = c.heap_base;
	getrusage(RUSAGE_SELF, &ru0);
	struct imap_body_result br;
	OK(imap_fetch_body(s, uid, IMAP_SECTION_ALL, 0, 0, count_sink, &c, &br));
	getrusage(RUSAGE_SELF, &ru1);
	EVP_DigestFinal_ex(c.md, dg, &lg);
	EVP_MD_CTX_free(c.md);
	ck_assert_uint_eq(c.octets, LARGE_SIZE);
	ck_assert_uint_eq(br.size, LARGE_SIZE);
	ck_assert(memcmp(dw, dg, 32) == 0);
	ck_assert_uint_le(c.max_chunk, IMAP_READ_BUF);
	size_t heap_growth = c.heap_peak - c.heap_base;
	printf("20 MB stream: %llu octets in chunks of at most %zu octets; heap in use %zu "
	    "octets before, grew by at most %zu octets during the stream (mallinfo2); "
	    "peak RSS %ld -> %ld KiB\n", (unsigned long long)c.octets, c.max_chunk,
	    mi0.uordblks, heap_growth, ru0.ru_maxrss, ru1.ru_maxrss);
	if (mi0.uordblks)  /* mallinfo2 is meaningless under ASan */
		ck_assert_uint_lt(heap_growth, (size_t)1 << 20);
	ck_assert_int_lt(ru1.ru_maxrss - ru0.ru_maxrss, 8 * 1024);

	/* The same over TLS. */
	struct imap_session *t = session(IMAP_TLS_IMPLICIT, dc->ca_file, NULL, NULL);
	OK(imap_connect(t));
	OK(imap_login(t, "alice", "secret"));
	OK(imap_select(t, "INBOX", IMAP_SELECT_READONLY, NULL));
	struct count_sink ct = { 0 };
	mi0 = mallinfo2();
	ct.heap_base = mi0.uordblks ? mi0.uordblks : 1;
	ct.heap_peak = ct.heap_base;
	OK(imap_fetch_body(t, uid, IMAP_SECTION_ALL, 0, 0, count_sink, &ct, &br));
	ck_assert_uint_eq(ct.octets, LARGE_SIZE);
	printf("20 MB stream over %s: chunks of at most %zu octets; heap in use %zu octets "
	    "before, grew by at most %zu octets during the stream\n", imap_tls_version(t),
	    ct.max_chunk, mi0.uordblks, ct.heap_peak - ct.heap_base);
	if (mi0.uordblks)
		ck_assert_uint_lt(ct.heap_peak - ct.heap_base, (size_t)1 << 20);
	imap_session_free(t);

	/* Stopping early drains the rest; the session stays usable. */
	struct count_sink e = { .stop_after = 100000 };
	OK(imap_fetch_body(s, uid, IMAP_SECTION_ALL, 0, 0, count_sink, &e, &br));
	ck_assert(br.stopped);
	ck_assert_uint_lt(e.octets, 100000 + IMAP_READ_BUF + 1);
	OK(imap_noop(s));
	struct count_sink p = { 0 };
	OK(imap_fetch_body(s, uid, IMAP_SECTION_TEXT, 0, 1000, count_sink, &p, NULL));
	ck_assert_uint_eq(p.octets, 1000);
	imap_uidset_free(&all);
	imap_session_free(s);
}
END_TEST

struct flagseen {
	uint32_t uid;
	unsigned flags;
	bool has_kw;
	bool seen_uid;
};

static int flag_cb(void *arg, const struct imap_msg *m)
{
	struct flagseen *f = arg;
	if (m->uid != f->uid)
		return 0;
	f->seen_uid = true;
	f->flags = m->flags;
	f->has_kw = false;
	for (size_t i = 0; i < m->nkeywords; i++)
		if (strcmp(m->keywords[i], "$POP3Deleted") == 0)
			f->has_kw = true;
	return 0;
}

START_TEST(test_flags)
{
	ck_assert_int_eq(pbt_dovecot_add_user(dc, "flo", "pw"), 0);
	for (uint32_t i = 0; i < 3; i++)
		add_plain("flo", "INBOX", 200 + i);
	struct events ev = { 0 };
	struct imap_session *s = logged_in("flo", "pw", "INBOX", &ev);
	struct imap_uidset one, found;
	const char *kw[] = { "$POP3Deleted" };
	imap_uidset_init(&one);
	imap_uidset_add(&one, 2);
	OK(imap_store_flags(s, &one, true, IMAP_FLAG_SEEN, kw, 1));
	struct flagseen f = { .uid = 2 };
	OK(imap_fetch_info(s, &one, 0, flag_cb, &f));
	ck_assert(f.seen_uid && (f.flags & IMAP_FLAG_SEEN) && f.has_kw);

	struct imap_search q = { .keyword = "$POP3Deleted" };
	imap_uidset_init(&found);
	OK(imap_uid_search(s, &q, &found));
	ck_assert_uint_eq(imap_uidset_count(&found), 1);
	ck_assert(imap_uidset_contains(&found, 2));
	imap_uidset_clear(&found);
	struct imap_search u = { .unseen = true };
	OK(imap_uid_search(s, &u, &found));
	ck_assert_uint_eq(imap_uidset_count(&found), 2);
	ck_assert(!imap_uidset_contains(&found, 2));
	imap_uidset_clear(&found);
	struct imap_search from = { .uid_min = 3 };
	OK(imap_uid_search(s, &from, &found));
	ck_assert_uint_eq(imap_uidset_count(&found), 1);
	imap_uidset_clear(&found);
	struct imap_search beyond = { .uid_min = 100 };
	OK(imap_uid_search(s, &beyond, &found));
	ck_assert(imap_uidset_empty(&found));

	OK(imap_store_flags(s, &one, false, IMAP_FLAG_SEEN, kw, 1));
	OK(imap_fetch_info(s, &one, 0, flag_cb, &f));
	ck_assert(!(f.flags & IMAP_FLAG_SEEN) && !f.has_kw);
	const char *badkw[] = { "bad word" };
	ck_assert_int_eq(imap_store_flags(s, &one, true, 0, badkw, 1), IMAP_EARG);
	ck_assert_int_eq(imap_store_flags(s, &one, true, IMAP_FLAG_RECENT, NULL, 0), IMAP_EARG);

	/* Another session changes a flag: this one hears it as an event. */
	struct imap_session *t = logged_in("flo", "pw", "INBOX", NULL);
	imap_uidset_clear(&one);
	imap_uidset_add(&one, 3);
	OK(imap_store_flags(t, &one, true, IMAP_FLAG_FLAGGED, NULL, 0));
	imap_session_free(t);
	OK(imap_noop(s));
	ck_assert_uint_ge(ev.fetch, 1);
	ck_assert_uint_eq(ev.last_fetch_msn, 3);  /* no UID: QRESYNC is not enabled */
	imap_uidset_free(&one);
	imap_uidset_free(&found);
	imap_session_free(s);
}
END_TEST

START_TEST(test_expunge_only_given_uid)
{
	ck_assert_int_eq(pbt_dovecot_add_user(dc, "exa", "pw"), 0);
	for (uint32_t i = 0; i < 3; i++)
		add_plain("exa", "INBOX", 300 + i);
	struct events ev = { 0 };
	struct imap_session *s = logged_in("exa", "pw", "INBOX", &ev);
	struct imap_uidset two, three, all;
	imap_uidset_init(&two);
	imap_uidset_init(&three);
	imap_uidset_add(&two, 2);
	imap_uidset_add(&three, 3);
	/* Another client's \Deleted message must survive our UID EXPUNGE. */
	OK(imap_store_flags(s, &two, true, IMAP_FLAG_DELETED, NULL, 0));
	OK(imap_store_flags(s, &three, true, IMAP_FLAG_DELETED, NULL, 0));
	OK(imap_uid_expunge(s, &three));
	ck_assert_uint_eq(ev.expunge, 1);
	ck_assert_uint_eq(ev.last_expunge, 3);
	ck_assert_uint_eq(imap_exists(s), 2);
	all_uids(s, &all);
	ck_assert_uint_eq(imap_uidset_count(&all), 2);
	ck_assert(imap_uidset_contains(&all, 1) && imap_uidset_contains(&all, 2));
	struct flagseen f = { .uid = 2 };
	OK(imap_fetch_info(s, &two, 0, flag_cb, &f));
	ck_assert(f.flags & IMAP_FLAG_DELETED);
	/* The expunged message is reported as not found; the session goes on. */
	struct count_sink c = { 0 };
	ck_assert_int_eq(imap_fetch_body(s, 3, IMAP_SECTION_ALL, 0, 0, count_sink, &c, NULL),
	    IMAP_ENOTFOUND);
	ck_assert_uint_eq(c.octets, 0);
	OK(imap_noop(s));
	imap_uidset_free(&two);
	imap_uidset_free(&three);
	imap_uidset_free(&all);
	imap_session_free(s);
}
END_TEST

struct changed {
	struct imap_uidset uids;   /* reported */
	struct imap_uidset seen;   /* of those, \Seen */
	uint64_t max_modseq;
};

static int changed_cb(void *arg, const struct imap_msg *m)
{
	struct changed *c = arg;
	ck_assert_int_eq(imap_uidset_add(&c->uids, m->uid), 0);
	if (m->flags & IMAP_FLAG_SEEN)
		ck_assert_int_eq(imap_uidset_add(&c->seen, m->uid), 0);
	if (m->modseq > c->max_modseq)
		c->max_modseq = m->modseq;
	return 0;
}

static void changed_reset(struct changed *c)
{
	imap_uidset_free(&c->uids);
	imap_uidset_free(&c->seen);
	c->max_modseq = 0;
}

/* CHANGEDSINCE and VANISHED (RFC 7162) against Dovecot: after another
 * client set \Seen on UID 2, expunged UID 4 and a message arrived (UID 6),
 * the changes since the first SELECT's HIGHESTMODSEQ are exactly UIDs 2 and
 * 6, and VANISHED (EARLIER) names UID 4 — into the caller's set, not as an
 * event. */
START_TEST(test_fetch_changed)
{
	ck_assert_int_eq(pbt_dovecot_add_user(dc, "chg", "pw"), 0);
	for (uint32_t i = 0; i < 5; i++)
		add_plain("chg", "INBOX", 700 + i);
	struct events ev = { 0 };
	struct imap_session *s = logged_in("chg", "pw", NULL, &ev);
	unsigned enabled = 0;
	OK(imap_enable(s, IMAP_CAP_QRESYNC, &enabled));
	ck_assert(enabled & IMAP_CAP_QRESYNC);
	struct imap_mailbox_info mi;
	OK(imap_select(s, "INBOX", IMAP_SELECT_CONDSTORE, &mi));
	ck_assert(mi.has_highestmodseq && mi.highestmodseq > 0);
	uint64_t m0 = mi.highestmodseq;
	struct imap_uidset all, vanished;
	struct changed c = { 0 };
	imap_uidset_init(&all);
	imap_uidset_init(&vanished);
	ck_assert_int_eq(imap_uidset_add_range(&all, 1, UINT32_MAX), 0);
	/* Nothing changed yet. */
	OK(imap_fetch_changed(s, &all, 0, m0, &vanished, changed_cb, &c));
	ck_assert(imap_uidset_empty(&c.uids) && imap_uidset_empty(&vanished));

	struct imap_session *t = logged_in("chg", "pw", "INBOX", NULL);
	struct imap_uidset one;
	imap_uidset_init(&one);
	imap_uidset_add(&one, 2);
	ck_assert_int_eq(imap_store_flags(t, &one, true, IMAP_FLAG_SEEN, NULL, 0), IMAP_OK);
	imap_uidset_clear(&one);
	imap_uidset_add(&one, 4);
	ck_assert_int_eq(imap_store_flags(t, &one, true, IMAP_FLAG_DELETED, NULL, 0), IMAP_OK);
	ck_assert_int_eq(imap_uid_expunge(t, &one), IMAP_OK);
	imap_session_free(t);
	add_plain("chg", "INBOX", 705);

	/* A fresh SELECT: the expunge is history, reported only as EARLIER. */
	OK(imap_select(s, "INBOX", IMAP_SELECT_CONDSTORE, &mi));
	ck_assert_uint_gt(mi.highestmodseq, m0);
	ck_assert_uint_eq(mi.exists, 5);
	unsigned vanished_events = ev.vanished;
	OK(imap_fetch_changed(s, &all, 0, m0, &vanished, changed_cb, &c));
	ck_assert_uint_eq(imap_uidset_count(&c.uids), 2);
	ck_assert(imap_uidset_contains(&c.uids, 2) && imap_uidset_contains(&c.uids, 6));
	ck_assert_uint_eq(imap_uidset_count(&c.seen), 1);
	ck_assert(imap_uidset_contains(&c.seen, 2));
	ck_assert_uint_gt(c.max_modseq, m0);
	ck_assert_uint_le(c.max_modseq, mi.highestmodseq);
	ck_assert(imap_uidset_contains(&vanished, 4));
	for (uint32_t u = 1; u <= 6; u++)
		ck_assert_msg(u == 4 || !imap_uidset_contains(&vanished, u), "UID %u vanished", u);
	ck_assert_uint_eq(ev.vanished, vanished_events);

	/* Without the VANISHED modifier: the same changes, no expunges. */
	changed_reset(&c);
	imap_uidset_free(&vanished);
	OK(imap_fetch_changed(s, &all, 0, m0, NULL, changed_cb, &c));
	ck_assert_uint_eq(imap_uidset_count(&c.uids), 2);
	ck_assert(imap_uidset_contains(&c.uids, 2) && imap_uidset_contains(&c.uids, 6));
	/* Since the current HIGHESTMODSEQ: nothing. */
	changed_reset(&c);
	OK(imap_fetch_changed(s, &all, 0, mi.highestmodseq, &vanished, changed_cb, &c));
	ck_assert(imap_uidset_empty(&c.uids) && imap_uidset_empty(&vanished));
	ck_assert_int_eq(imap_fetch_changed(s, &all, 0, 0, NULL, changed_cb, &c), IMAP_EARG);
	ck_assert_int_eq(imap_fetch_changed(s, &all, 0, (uint64_t)INT64_MAX + 1, NULL,
	    changed_cb, &c), IMAP_EARG);
	OK(imap_noop(s));
	changed_reset(&c);
	imap_uidset_free(&one);
	imap_uidset_free(&all);
	imap_uidset_free(&vanished);
	imap_session_free(s);
}
END_TEST

START_TEST(test_new_mail_event)
{
	ck_assert_int_eq(pbt_dovecot_add_user(dc, "nina", "pw"), 0);
	add_plain("nina", "INBOX", 400);
	struct events ev = { 0 };
	struct imap_session *s = logged_in("nina", "pw", "INBOX", &ev);
	add_plain("nina", "INBOX", 401);
	OK(imap_noop(s));
	ck_assert_uint_eq(ev.exists, 1);
	ck_assert_uint_eq(ev.last_exists, 2);
	ck_assert_uint_eq(imap_exists(s), 2);
	imap_session_free(s);
}
END_TEST

static void list_cb(void *arg, const struct imap_list_entry *e)
{
	unsigned *attrs = arg;
	if (strcmp(e->name, "Trash") == 0)
		*attrs |= e->attrs;
}

START_TEST(test_move_and_special_use)
{
	ck_assert_int_eq(pbt_dovecot_add_user(dc, "mo", "pw"), 0);
	for (uint32_t i = 0; i < 3; i++)
		add_plain("mo", "INBOX", 500 + i);
	struct imap_session *s = logged_in("mo", "pw", NULL, NULL);
	char name[64];
	ck_assert_int_eq(imap_find_special(s, IMAP_LIST_TRASH, name, sizeof(name)),
	    IMAP_ENOTFOUND);
	OK(imap_create(s, "Trash"));
	ck_assert_int_eq(imap_create(s, "Trash"), IMAP_NO);
	ck_assert_int_eq(imap_last(s)->code, IMAP_CODE_ALREADYEXISTS);
	ck_assert_int_eq(imap_create(s, "bad\r\nname"), IMAP_EARG);
	OK(imap_find_special(s, IMAP_LIST_TRASH, name, sizeof(name)));
	ck_assert_str_eq(name, "Trash");
	unsigned attrs = 0;
	OK(imap_list(s, "", "*", list_cb, &attrs));
	ck_assert(attrs & IMAP_LIST_TRASH);
	ck_assert_int_eq(imap_find_special(s, IMAP_LIST_TRASH, name, 3), IMAP_EARG);

	OK(imap_select(s, "INBOX", 0, NULL));
	struct imap_uidset one, all;
	imap_uidset_init(&one);
	imap_uidset_add(&one, 1);
	OK(imap_uid_move(s, &one, "Trash"));
	ck_assert_int_eq(imap_uid_move(s, &one, "NoSuch"), IMAP_OK);  /* UID 1 is gone */
	imap_uidset_clear(&one);
	imap_uidset_add(&one, 2);
	ck_assert_int_eq(imap_uid_move(s, &one, "NoSuch"), IMAP_NO);
	ck_assert_int_eq(imap_last(s)->code, IMAP_CODE_TRYCREATE);
	OK(imap_uid_copy(s, &one, "Trash"));
	all_uids(s, &all);
	ck_assert_uint_eq(imap_uidset_count(&all), 2);
	ck_assert(!imap_uidset_contains(&all, 1));
	struct imap_mailbox_info mi;
	OK(imap_select(s, "Trash", IMAP_SELECT_READONLY, &mi));
	ck_assert_uint_eq(mi.exists, 2);
	imap_uidset_free(&one);
	imap_uidset_free(&all);
	imap_session_free(s);
}
END_TEST

/* APPEND streams its literal from a source: exact bytes, \Seen and the
 * date kept, APPENDUID, [TRYCREATE] for a missing folder, a source that
 * fails drops the connection; SEARCH by exact size and SINCE finds it. */
struct mem_src {
	const char *p;
	size_t len, pos, fail_at;   /* fail_at: -1 at this offset (0: never) */
};

static ssize_t mem_src(void *arg, char *buf, size_t cap)
{
	struct mem_src *m = arg;
	if (m->fail_at && m->pos >= m->fail_at)
		return -1;
	size_t n = m->len - m->pos < cap ? m->len - m->pos : cap;
	if (n > 7)
		n = n / 2 + 1;           /* several short reads */
	memcpy(buf, m->p + m->pos, n);
	m->pos += n;
	return (ssize_t)n;
}

static int keep_flags(void *arg, const struct imap_msg *m)
{
	*(unsigned *)arg = m->flags;
	return 0;
}

START_TEST(test_append)
{
	static const char msg[] = "From: a@x\r\nSubject: sent\r\n\r\n.dot line\r\nbody\r\n";
	ck_assert_int_eq(pbt_dovecot_add_user(dc, "ap", "pw"), 0);
	struct imap_session *s = logged_in("ap", "pw", NULL, NULL);
	uint32_t v = 9, u = 9;
	struct mem_src src = { msg, sizeof(msg) - 1, 0, 0 };

	ck_assert_int_eq(imap_append(s, "Sent", IMAP_FLAG_SEEN, 1700000000, src.len, mem_src,
	    &src, &v, &u), IMAP_NO);
	ck_assert_int_eq(imap_last(s)->code, IMAP_CODE_TRYCREATE);
	OK(imap_create(s, "Sent"));
	src.pos = 0;
	OK(imap_append(s, "Sent", IMAP_FLAG_SEEN, 1700000000, src.len, mem_src, &src, &v, &u));
	ck_assert_uint_gt(v, 0);
	ck_assert_uint_eq(u, 1);
	ck_assert_int_eq(imap_append(s, "Sent", IMAP_FLAG_DELETED, 0, src.len, mem_src, &src,
	    NULL, NULL), IMAP_EARG);

	OK(imap_select(s, "Sent", 0, NULL));
	struct imap_uidset found;
	struct imap_search q = { .size = sizeof(msg) - 1, .since = 1700000000 - 86400 };
	imap_uidset_init(&found);
	OK(imap_uid_search(s, &q, &found));
	ck_assert_uint_eq(imap_uidset_count(&found), 1);
	imap_uidset_clear(&found);
	q.size++;
	OK(imap_uid_search(s, &q, &found));
	ck_assert_uint_eq(imap_uidset_count(&found), 0);
	imap_uidset_clear(&found);
	q.size--;
	q.since = 1700000000 + 3 * 86400;
	OK(imap_uid_search(s, &q, &found));
	ck_assert_uint_eq(imap_uidset_count(&found), 0);
	imap_uidset_free(&found);

	EVP_MD_CTX *a = EVP_MD_CTX_new(), *b = EVP_MD_CTX_new();
	unsigned char ha[32], hb[32];
	EVP_DigestInit_ex(a, EVP_sha256(), NULL);
	EVP_DigestInit_ex(b, EVP_sha256(), NULL);
	EVP_DigestUpdate(a, msg, sizeof(msg) - 1);
	OK(imap_fetch_body(s, u, IMAP_SECTION_ALL, 0, 0, md_sink, b, NULL));
	EVP_DigestFinal_ex(a, ha, NULL);
	EVP_DigestFinal_ex(b, hb, NULL);
	ck_assert_mem_eq(ha, hb, 32);
	EVP_MD_CTX_free(a);
	EVP_MD_CTX_free(b);
	struct imap_uidset one;
	imap_uidset_init(&one);
	imap_uidset_add(&one, u);
	unsigned flags = 0;
	OK(imap_fetch_info(s, &one, 0, keep_flags, &flags));
	ck_assert(flags & IMAP_FLAG_SEEN);
	imap_uidset_free(&one);

	/* 3 MB, then a source that gives up half-way */
	size_t big = 3u << 20;
	char *p = malloc(big);
	ck_assert_ptr_nonnull(p);
	for (size_t i = 0; i < big; i++)
		p[i] = i % 100 == 98 ? '\r' : i % 100 == 99 ? '\n' : (char)('a' + i % 26);
	struct mem_src bs = { p, big, 0, 0 };
	OK(imap_append(s, "Sent", 0, 0, big, mem_src, &bs, NULL, &u));
	ck_assert_uint_eq(u, 2);
	struct count_sink c = { 0 };
	OK(imap_fetch_body(s, u, IMAP_SECTION_ALL, 0, 0, count_sink, &c, NULL));
	ck_assert_uint_eq(c.octets, big);
	bs.pos = 0;
	bs.fail_at = big / 2;
	ck_assert_int_eq(imap_append(s, "Sent", 0, 0, big, mem_src, &bs, NULL, NULL), IMAP_ESINK);
	ck_assert_int_eq(imap_state(s), IMAP_STATE_DISCONNECTED);
	free(p);
	imap_session_free(s);
}
END_TEST

static int count_cb(void *arg, const struct imap_msg *m)
{
	unsigned *n = arg;
	ck_assert(m->uid > 0 && m->has_size && m->size > 0);
	(*n)++;
	return 0;
}

/* Thousands of messages: per-message results, and sets of UIDs long enough
 * to be split over several commands, against the real server. */
START_TEST(test_many_messages)
{
	const unsigned n = 3000;
	char msg[160];
	ck_assert_int_eq(pbt_dovecot_add_user(dc, "many", "pw"), 0);
	for (unsigned i = 0; i < n; i++) {
		int len = snprintf(msg, sizeof(msg), "Message-ID: <%u@many>\r\nSubject: m%u\r\n"
		    "\r\nbody %u\r\n", i, i, i);
		ck_assert_int_eq(pbt_dovecot_add_message(dc, "many", "INBOX", msg, (size_t)len, ""),
		    0);
	}
	struct imap_session *s = logged_in("many", "pw", "INBOX", NULL);
	struct imap_uidset all, odd, found;
	all_uids(s, &all);
	ck_assert_uint_eq(imap_uidset_count(&all), n);
	unsigned seen = 0;
	OK(imap_fetch_info(s, &all, 0, count_cb, &seen));
	ck_assert_uint_eq(seen, n);
	imap_uidset_init(&odd);
	for (uint32_t u = 1; u <= n; u += 2)
		imap_uidset_add(&odd, u);
	ck_assert_uint_eq(odd.n, n / 2);  /* 1500 ranges: several commands */
	OK(imap_store_flags(s, &odd, true, IMAP_FLAG_SEEN, NULL, 0));
	struct imap_search q = { .unseen = true };
	imap_uidset_init(&found);
	OK(imap_uid_search(s, &q, &found));
	ck_assert_uint_eq(imap_uidset_count(&found), n / 2);
	ck_assert(!imap_uidset_contains(&found, 1) && imap_uidset_contains(&found, 2));
	seen = 0;
	OK(imap_fetch_info(s, &odd, 0, count_cb, &seen));
	ck_assert_uint_eq(seen, n / 2);
	imap_uidset_free(&all);
	imap_uidset_free(&odd);
	imap_uidset_free(&found);
	imap_session_free(s);
}
END_TEST

/* ---- pipelined tails ------------------------------------------------------- */

struct last2 {
	char t[2];
	size_t n;
};

static int last2_sink(void *arg, const char *buf, size_t len)
{
	struct last2 *l = arg;
	for (size_t i = 0; i < len; i++) {
		l->t[0] = l->t[1];
		l->t[1] = buf[i];
	}
	l->n += len;
	return 0;
}

struct uidsizes {
	uint32_t uids[512];
	uint64_t size[512];
	size_t n;
};

static int uidsizes_cb(void *arg, const struct imap_msg *m)
{
	struct uidsizes *z = arg;
	ck_assert_uint_lt(z->n, 512);
	z->uids[z->n] = m->uid;
	z->size[z->n] = m->size;
	z->n++;
	return 0;
}

struct tails_seen {
	uint32_t *uid;
	char (*tail)[2];
	size_t *len;
	size_t n, cap;
};

static int tails_seen_cb(void *arg, uint32_t uid, const char *tail, size_t len)
{
	struct tails_seen *t = arg;
	ck_assert_uint_lt(t->n, t->cap);
	ck_assert_uint_le(len, 2);
	t->uid[t->n] = uid;
	memcpy(t->tail[t->n], tail, len);
	t->len[t->n] = len;
	t->n++;
	return 0;
}

/* The last octets of hundreds of messages with every kind of ending (more
 * than one window of commands), of the awkward set and of 20 MB, equal the
 * end of the whole BODY[]; an expunged and a never-seen UID get nothing. */
START_TEST(test_fetch_tails)
{
	static const char *const ends[] = { "\r\n", "x", "\r", "\n", "\r\n\r", "." };
	const unsigned n = 300;
	char msg[200];
	ck_assert_int_eq(pbt_dovecot_add_user(dc, "tails", "pw"), 0);
	for (unsigned i = 0; i < n; i++) {
		int len = snprintf(msg, sizeof(msg), "Message-ID: <%u@tails>\r\nSubject: t%u\r\n"
		    "\r\nbody %u%s", i, i, i, ends[i % 6]);
		ck_assert_int_eq(pbt_dovecot_add_message(dc, "tails", "INBOX", msg, (size_t)len, ""),
		    0);
	}
	ck_assert_int_eq(pbt_dovecot_add_message(dc, "tails", "INBOX", "z", 1, ""), 0);
	for (const char *user = "tails"; user; user = strcmp(user, "tails") ? NULL : "alice") {
		struct events ev = { 0 };
		struct imap_session *s = logged_in(user, strcmp(user, "alice") ? "pw" : "secret",
		    "INBOX", &ev);
		struct imap_uidset all;
		struct uidsizes *z = calloc(1, sizeof(*z));
		all_uids(s, &all);
		OK(imap_fetch_info(s, &all, 0, uidsizes_cb, z));
		size_t m = z->n;
		uint32_t *uids = calloc(m + 2, sizeof(*uids));
		uint64_t *sz = calloc(m + 2, sizeof(*sz));
		struct tails_seen t = { .cap = m + 2 };
		t.uid = calloc(t.cap, sizeof(*t.uid));
		t.tail = calloc(t.cap, sizeof(*t.tail));
		t.len = calloc(t.cap, sizeof(*t.len));
		for (size_t i = 0; i < m; i++) {
			uids[i] = z->uids[i];
			sz[i] = z->size[i];
		}
		/* And a UID never used: no report. */
		uids[m] = z->uids[m - 1] + 1000;
		sz[m] = 10;
		/* one command per message, then grouped by size (SPEC §9: a
		 * first listing without one command per message) */
		for (int grouped = 0; grouped < 2; grouped++) {
			t.n = 0;
			if (grouped)
				OK(imap_fetch_tails_grouped(s, uids, sz, m + 1, 2, 510, tails_seen_cb,
				    &t));
			else
				OK(imap_fetch_tails(s, uids, sz, m + 1, 2, tails_seen_cb, &t));
			ck_assert_uint_eq(t.n, m);
			for (size_t i = 0; i < t.n; i++) {
				size_t k = 0;
				while (k < m && uids[k] != t.uid[i])
					k++;
				ck_assert_uint_lt(k, m);
				struct last2 l = { .n = 0 };
				OK(imap_fetch_body(s, uids[k], IMAP_SECTION_ALL, 0, 0, last2_sink, &l, NULL));
				ck_assert_uint_eq(l.n, sz[k]);
				size_t want = sz[k] < 2 ? sz[k] : 2;
				ck_assert_uint_eq(t.len[i], want);
				ck_assert_msg(memcmp(t.tail[i], l.t + 2 - want, want) == 0,
				    "%s UID %u: tail differs", user, uids[k]);
			}
		}
		ck_assert_uint_eq(ev.fetch, 0);
		imap_uidset_free(&all);
		free(uids);
		free(sz);
		free(t.uid);
		free(t.tail);
		free(t.len);
		free(z);
		imap_session_free(s);
	}
	/* Expunged by another session: nothing reported, no failure. */
	struct imap_session *s = logged_in("tails", "pw", "INBOX", NULL);
	struct imap_session *o = logged_in("tails", "pw", "INBOX", NULL);
	struct imap_uidset one;
	imap_uidset_init(&one);
	imap_uidset_add(&one, 1);
	OK(imap_store_flags(o, &one, true, IMAP_FLAG_DELETED, NULL, 0));
	OK(imap_uid_expunge(o, &one));
	uint32_t u[2] = { 1, 2 };
	uint64_t sz2[2] = { 40, 40 };
	uint32_t tu[2];
	char tt[2][2];
	size_t tl[2];
	struct tails_seen t = { .uid = tu, .tail = tt, .len = tl, .cap = 2 };
	OK(imap_fetch_tails(s, u, sz2, 2, 2, tails_seen_cb, &t));
	ck_assert_uint_eq(t.n, 1);
	ck_assert_uint_eq(tu[0], 2);
	OK(imap_noop(s));
	imap_uidset_free(&one);
	imap_session_free(o);
	imap_session_free(s);
}
END_TEST

START_TEST(test_uidvalidity_change)
{
	ck_assert_int_eq(pbt_dovecot_add_user(dc, "ren", "pw"), 0);
	for (uint32_t i = 0; i < 3; i++)
		add_plain("ren", "INBOX", 600 + i);
	struct imap_mailbox_info before, after;
	struct imap_session *s = logged_in("ren", "pw", NULL, NULL);
	OK(imap_select(s, "INBOX", 0, &before));
	OK(imap_logout(s));
	imap_session_free(s);
	ck_assert_int_eq(pbt_dovecot_renumber(dc, "ren", "INBOX"), 0);
	s = logged_in("ren", "pw", NULL, NULL);
	OK(imap_select(s, "INBOX", 0, &after));
	ck_assert_uint_eq(after.exists, 3);
	ck_assert_uint_ne(after.uidvalidity, before.uidvalidity);
	struct imap_uidset all;
	all_uids(s, &all);
	ck_assert_uint_eq(imap_uidset_count(&all), 3);
	imap_uidset_free(&all);
	imap_session_free(s);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("imap-dovecot");
	TCase *tc = tcase_create("dovecot");
	tcase_add_unchecked_fixture(tc, dc_setup, dc_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_login_right_and_wrong);
	tcase_add_test(tc, test_imaps_right_ca);
	tcase_add_test(tc, test_imaps_system_store_fails);
	tcase_add_test(tc, test_imaps_wrong_name_fails);
	tcase_add_test(tc, test_starttls);
	tcase_add_test(tc, test_tls_min_version);
	tcase_add_test(tc, test_select_examine);
	tcase_add_test(tc, test_sizes_match_stream);
	tcase_add_test(tc, test_fetch_headers);
	tcase_add_test(tc, test_stream_20mb_bounded_memory);
	tcase_add_test(tc, test_flags);
	tcase_add_test(tc, test_expunge_only_given_uid);
	tcase_add_test(tc, test_new_mail_event);
	tcase_add_test(tc, test_fetch_changed);
	tcase_add_test(tc, test_move_and_special_use);
	tcase_add_test(tc, test_append);
	tcase_add_test(tc, test_many_messages);
	tcase_add_test(tc, test_uidvalidity_change);
	tcase_add_test(tc, test_fetch_tails);
	suite_add_tcase(su, tc);
	SRunner *sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
