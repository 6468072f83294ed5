/* tests/bridge/check_import.c — the import-uidls matcher and storing
 * (bridge/migrate/import_match.h) against a real SQLite state file: exact matches,
 * sizes that differ by line-end conversion, ambiguous and unmatched
 * messages, true duplicates paired in order, one upstream message claimed
 * twice, a UIDL already another message's, UIDLs moving between messages
 * (same UIDVALIDITY, other order), a dry apply, a second run. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/migrate/import_match.h"
#include "bridge/maildrop/matchkey.h"
#include "bridge/migrate/pop3client_parse.h"
#include "state/state.h"
#include "tests/lib/cert.h"

#define V 0x5f00aa01u

static char dir[256], path[320];
static struct state_db *db;
static int64_t mbox;

#define OK(expr) ck_assert_msg((expr) == STATE_OK, "%s: %s", #expr, state_errmsg(db))

static void setup(void)
{
	char err[300];
	struct state_account a;
	struct state_mailbox mb;

	ck_assert_int_eq(pbt_mkdtemp("import", dir, sizeof(dir)), 0);
	snprintf(path, sizeof(path), "%s/state.db", dir);
	db = state_open(path, err, sizeof(err));
	ck_assert_msg(db != NULL, "%s", err);
	OK(state_account_ensure(db, "acc", 1000, &a));
	OK(state_mailbox_ensure(db, a.id, "INBOX", &mb));
	mbox = mb.id;
}

static void teardown(void)
{
	state_close(db);
	pbt_rmtree(dir);
}

/* A header block for message "tag" (subject and Message-ID from it). */
static void header(char *buf, size_t cap, const char *tag, bool with_msgid)
{
	snprintf(buf, cap, "Received: by somewhere\r\nFrom: a@example.org\r\nTo: b@example.org\r\n"
	    "Date: Mon, 1 Jan 2024 10:00:00 +0000\r\nSubject: about %s\r\n%s%s%s\r\n", tag,
	    with_msgid ? "Message-ID: <" : "", with_msgid ? tag : "",
	    with_msgid ? "@example.org>\r\n" : "");
}

struct up {
	uint32_t uid;
	const char *tag;
	uint64_t size;
	bool msgid;
};

/* Record the upstream listing with keys computed as the bridge does. */
static void upstream(const struct up *u, size_t n)
{
	struct state_listing items[32];
	struct maildrop_matchkey k[32];
	struct state_mailbox_status st = { .uidvalidity = V, .uidnext = 100 };
	char h[1024];

	ck_assert_uint_le(n, 32);
	memset(items, 0, sizeof(items));
	for (size_t i = 0; i < n; i++) {
		header(h, sizeof(h), u[i].tag, !u[i].msgid ? false : true);
		ck_assert_int_eq(maildrop_matchkey_compute(h, strlen(h), &k[i]), 0);
		items[i] = (struct state_listing){ .uid = u[i].uid, .size = u[i].size,
		    .message_id = k[i].msgid[0] ? k[i].msgid : NULL, .hdr_hash = k[i].hash };
	}
	OK(state_messages_sync(db, mbox, &st, items, n, true, 1000, NULL));
}

struct old {
	const char *uidl;
	const char *tag;
	uint64_t size;
	bool msgid;
};

static struct migrate_import_old *olds(const struct old *o, size_t n)
{
	struct migrate_import_old *v = calloc(n, sizeof(*v));
	struct migrate_pop3c_hdr *h = malloc(sizeof(*h));
	char text[1024];

	for (size_t i = 0; i < n; i++) {
		v[i].num = (uint32_t)i + 1;
		v[i].size = o[i].size;
		snprintf(v[i].uidl, sizeof(v[i].uidl), "%s", o[i].uidl);
		header(text, sizeof(text), o[i].tag, o[i].msgid);
		migrate_pop3c_hdr_init(h);
		for (char *p = text, *nl; (nl = strstr(p, "\r\n")) != NULL; p = nl + 2)
			migrate_pop3c_hdr_line(h, p, (size_t)(nl - p));
		ck_assert_int_eq(migrate_import_old_set_header(&v[i], h, 0), 0);
		ck_assert(v[i].has_keys);
	}
	free(h);
	return v;
}

static void run(struct migrate_import_old *v, size_t n, bool store, struct migrate_import_counts *c)
{
	char err[300];
	ck_assert_msg(migrate_import_match(db, mbox, v, n, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(migrate_import_apply(db, mbox, v, n, store, c, err, sizeof(err)) == 0, "%s", err);
}

/* The upstream messages u[0..nu) in state, the old ones o[0..no) matched
 * against them (run()): the old list (migrate_import_old_free). */
static struct migrate_import_old *import(const struct up *u, size_t nu, const struct old *o,
    size_t no, bool store, struct migrate_import_counts *c)
{
	upstream(u, nu);
	struct migrate_import_old *v = olds(o, no);
	run(v, no, store, c);
	return v;
}

static const char *uidl_of(uint32_t uid)
{
	static char buf[4][STATE_UIDL_MAX + 1];
	static int k;
	struct state_message m;
	OK(state_message_by_uid(db, mbox, uid, &m));
	char *b = buf[k++ % 4];
	snprintf(b, STATE_UIDL_MAX + 1, "%s", m.uidl);
	return b;
}

static uint32_t uid_of(int64_t id)
{
	struct state_message m;
	OK(state_message_get(db, id, &m));
	return m.uid;
}

START_TEST(exact_and_again)
{
	static const struct up u[] = { { 1, "a", 1000, true }, { 2, "b", 2000, true },
		{ 3, "c", 3000, true } };
	static const struct old o[] = { { "oldB", "b", 2000, true }, { "oldA", "a", 1000, true } };
	struct migrate_import_counts c;
	struct migrate_import_old *v = import(u, 3, o, 2, true, &c);
	ck_assert_uint_eq(c.matched, 2);
	ck_assert_uint_eq(c.changed, 2);
	ck_assert_uint_eq(c.unchanged, 0);
	ck_assert_str_eq(uidl_of(1), "oldA");
	ck_assert_str_eq(uidl_of(2), "oldB");
	ck_assert_str_eq(uidl_of(3), "00000003" "5F00AA01");
	/* a second run changes nothing */
	run(v, 2, true, &c);
	ck_assert_uint_eq(c.matched, 2);
	ck_assert_uint_eq(c.changed, 0);
	ck_assert_uint_eq(c.unchanged, 2);
	migrate_import_old_free(v, 2);
}
END_TEST

START_TEST(dry_apply_stores_nothing)
{
	static const struct up u[] = { { 1, "a", 1000, true } };
	static const struct old o[] = { { "oldA", "a", 1000, true } };
	struct migrate_import_counts c;
	struct migrate_import_old *v = import(u, 1, o, 1, false, &c);
	ck_assert_uint_eq(c.matched, 1);
	ck_assert_uint_eq(c.changed, 1);
	ck_assert_str_eq(uidl_of(1), "00000001" "5F00AA01");
	migrate_import_old_free(v, 1);
}
END_TEST

/* LF storage on one side, CRLF on the other: within [size/2, 2*size]. */
START_TEST(line_end_sizes)
{
	static const struct up u[] = { { 1, "lf", 1040, true }, { 2, "big", 2001, true },
		{ 3, "small", 499, true }, { 4, "half", 500, true }, { 5, "double", 2000, true } };
	static const struct old o[] = {
		{ "u-lf", "lf", 1000, true },         /* upstream counts CRLF: +40 */
		{ "u-big", "big", 1000, true },       /* more than twice: not the same */
		{ "u-small", "small", 1000, true },   /* less than half */
		{ "u-half", "half", 1000, true },     /* exactly half: possible */
		{ "u-double", "double", 1000, true }, /* exactly double: possible */
	};
	struct migrate_import_counts c;
	struct migrate_import_old *v = import(u, 5, o, 5, true, &c);
	ck_assert_uint_eq(c.matched, 3);
	ck_assert_uint_eq(c.unmatched, 2);
	ck_assert_int_eq(v[0].outcome, IMPORT_MATCHED);
	ck_assert_int_eq(v[1].outcome, IMPORT_UNMATCHED);
	ck_assert_int_eq(v[2].outcome, IMPORT_UNMATCHED);
	ck_assert_ptr_nonnull(v[1].why);
	ck_assert_str_eq(uidl_of(1), "u-lf");
	ck_assert_str_eq(uidl_of(4), "u-half");
	ck_assert_str_eq(uidl_of(5), "u-double");
	migrate_import_old_free(v, 5);
}
END_TEST

/* Two upstream messages with the same headers: the exact size decides,
 * else the old message is ambiguous. */
START_TEST(ambiguous_and_exact)
{
	static const struct up u[] = { { 1, "x", 1040, true }, { 2, "x", 1050, true } };
	static const struct old o1[] = { { "o1", "x", 1000, true } };
	static const struct old o2[] = { { "o2", "x", 1050, true } };
	struct migrate_import_counts c;
	struct migrate_import_old *v = import(u, 2, o1, 1, true, &c);
	ck_assert_uint_eq(c.ambiguous, 1);
	ck_assert_uint_eq(c.matched, 0);
	ck_assert_ptr_nonnull(v[0].why);
	migrate_import_old_free(v, 1);
	v = olds(o2, 1);
	run(v, 1, true, &c);
	ck_assert_uint_eq(c.matched, 1);
	ck_assert_uint_eq(uid_of(v[0].target), 2);
	ck_assert_str_eq(uidl_of(2), "o2");
	migrate_import_old_free(v, 1);
}
END_TEST

/* True duplicates on both sides are paired in order; one old copy for two
 * upstream copies is ambiguous. */
START_TEST(duplicates)
{
	static const struct up u[] = { { 4, "d", 900, true }, { 7, "d", 900, true },
		{ 9, "e", 800, true }, { 10, "e", 800, true } };
	static const struct old o[] = { { "d-1", "d", 900, true }, { "e-1", "e", 800, true },
		{ "d-2", "d", 900, true } };
	struct migrate_import_counts c;
	struct migrate_import_old *v = import(u, 4, o, 3, true, &c);
	ck_assert_uint_eq(c.matched, 2);
	ck_assert_uint_eq(c.ambiguous, 1);
	ck_assert_str_eq(uidl_of(4), "d-1");
	ck_assert_str_eq(uidl_of(7), "d-2");
	ck_assert_int_eq(v[1].outcome, IMPORT_AMBIGUOUS);
	migrate_import_old_free(v, 3);
}
END_TEST

/* One upstream message, two old messages that both fit it. */
START_TEST(claimed_twice)
{
	static const struct up u[] = { { 1, "a", 1000, true } };
	static const struct old o[] = { { "a-1", "a", 1000, true }, { "a-2", "a", 1010, true } };
	struct migrate_import_counts c;
	struct migrate_import_old *v = import(u, 1, o, 2, true, &c);
	ck_assert_uint_eq(c.matched, 0);
	ck_assert_uint_eq(c.ambiguous, 2);
	ck_assert_str_eq(uidl_of(1), "00000001" "5F00AA01");
	migrate_import_old_free(v, 2);
}
END_TEST

START_TEST(unmatched_and_no_msgid)
{
	static const struct up u[] = { { 1, "a", 1000, false }, { 2, "b", 1000, true } };
	static const struct old o[] = { { "a", "a", 1000, false }, { "z", "zz", 1000, true },
		{ "b-no-id", "b", 1000, false } };
	struct migrate_import_counts c;
	upstream(u, 2);
	struct migrate_import_old *v = olds(o, 3);
	ck_assert_ptr_null(v[0].msgid);
	run(v, 3, true, &c);
	ck_assert_uint_eq(c.matched, 1);
	ck_assert_uint_eq(c.unmatched, 2);
	ck_assert_str_eq(uidl_of(1), "a");
	ck_assert_int_eq(v[2].outcome, IMPORT_UNMATCHED); /* the Message-ID is hashed too */
	migrate_import_old_free(v, 3);
}
END_TEST

START_TEST(no_keys)
{
	static const struct up u[] = { { 1, "a", 1000, true } };
	struct migrate_pop3c_hdr *h = malloc(sizeof(*h));
	struct migrate_import_old *v = calloc(1, sizeof(*v));
	struct migrate_import_counts c;
	char line[2000];
	upstream(u, 1);
	migrate_pop3c_hdr_init(h);
	memset(line, 'x', sizeof(line));
	memcpy(line, "Subject: ", 9);
	migrate_pop3c_hdr_line(h, line, sizeof(line));
	line[0] = ' ';
	for (int i = 0; i < 10; i++)
		migrate_pop3c_hdr_line(h, line, sizeof(line));
	ck_assert(h->truncated);
	v->num = 1;
	v->size = 1000;
	strcpy(v->uidl, "t");
	ck_assert_int_eq(migrate_import_old_set_header(v, h, 0), 0);
	ck_assert(!v->has_keys);
	run(v, 1, true, &c);
	ck_assert_uint_eq(c.unmatched, 1);
	ck_assert_ptr_nonnull(strstr(v->why, "16 KiB"));
	migrate_import_old_free(v, 1);
	free(h);
}
END_TEST

/* An old UIDL that is the (default) UIDL of an upstream message that does
 * not take part: storing it would give two messages one UIDL. */
START_TEST(conflict)
{
	static const struct up u[] = { { 1, "a", 1000, true }, { 2, "new", 1000, true } };
	static const struct old o[] = { { "00000002" "5F00AA01", "a", 1000, true } };
	struct migrate_import_counts c;
	struct migrate_import_old *v = import(u, 2, o, 1, true, &c);
	ck_assert_uint_eq(c.conflict, 1);
	ck_assert_uint_eq(c.matched, 0);
	ck_assert_uint_eq(c.changed, 0);
	ck_assert_str_eq(uidl_of(1), "00000001" "5F00AA01");
	ck_assert_str_eq(uidl_of(2), "00000002" "5F00AA01");
	migrate_import_old_free(v, 1);
}
END_TEST

/* The old server had the same UIDVALIDITY and another order: each old
 * UIDL is another matched message's current UIDL. All are stored. */
START_TEST(uidls_move_between_messages)
{
	static const struct up u[] = { { 1, "a", 1000, true }, { 2, "b", 1000, true },
		{ 3, "c", 1000, true } };
	static const struct old o[] = { { "00000002" "5F00AA01", "a", 1000, true },
		{ "00000003" "5F00AA01", "b", 1000, true }, { "00000001" "5F00AA01", "c", 1000, true } };
	struct migrate_import_counts c;
	struct migrate_import_old *v = import(u, 3, o, 3, true, &c);
	ck_assert_uint_eq(c.matched, 3);
	ck_assert_uint_eq(c.changed, 3);
	ck_assert_str_eq(uidl_of(1), "00000002" "5F00AA01");
	ck_assert_str_eq(uidl_of(2), "00000003" "5F00AA01");
	ck_assert_str_eq(uidl_of(3), "00000001" "5F00AA01");
	run(v, 3, true, &c);
	ck_assert_uint_eq(c.changed, 0);
	migrate_import_old_free(v, 3);
}
END_TEST

/* A different old UIDL replaces an earlier import (a re-import). */
START_TEST(reimport_replaces)
{
	static const struct up u[] = { { 1, "a", 1000, true } };
	static const struct old o1[] = { { "first", "a", 1000, true } };
	static const struct old o2[] = { { "second", "a", 1000, true } };
	struct migrate_import_counts c;
	struct migrate_import_old *v = import(u, 1, o1, 1, true, &c);
	migrate_import_old_free(v, 1);
	v = olds(o2, 1);
	run(v, 1, true, &c);
	ck_assert_uint_eq(c.changed, 1);
	ck_assert_str_eq(uidl_of(1), "second");
	migrate_import_old_free(v, 1);
}
END_TEST

/* Messages a device has been offered under popbridge's own UIDL are
 * counted: that device will see them as new. */
START_TEST(offered_before_counted)
{
	static const struct up u[] = { { 1, "a", 1000, true }, { 2, "b", 1000, true },
		{ 3, "c", 1000, true } };
	static const struct old o[] = { { "oa", "a", 1000, true }, { "ob", "b", 1000, true },
		{ "00000003" "5F00AA01", "c", 1000, true } };
	struct migrate_import_counts c;
	struct state_device d;
	struct state_mailbox mb;
	struct state_view_msg *view;
	size_t nview;
	struct state_view_defaults def = { .folder = "INBOX", .offer = "all", .window = 0 };
	upstream(u, 3);
	OK(state_mailbox_get_by_id(db, mbox, &mb));
	OK(state_device_add(db, mb.account_id, "pc", NULL, NULL, "INBOX", 1000, &d));
	OK(state_view_build(db, d.id, &def, 1001, &view, &nview));
	ck_assert_uint_eq(nview, 3);
	state_view_free(view);
	struct migrate_import_old *v = olds(o, 3);
	run(v, 3, false, &c);
	ck_assert_uint_eq(c.matched, 3);
	ck_assert_uint_eq(c.offered, 2);  /* c keeps the UIDL it had */
	migrate_import_old_free(v, 3);
}
END_TEST

/* An empty upstream folder: everything is unmatched. */
START_TEST(empty_upstream)
{
	static const struct old o[] = { { "oa", "a", 1000, true } };
	struct migrate_import_counts c;
	struct migrate_import_old *v = import(NULL, 0, o, 1, true, &c);
	ck_assert_uint_eq(c.unmatched, 1);
	ck_assert_uint_eq(c.changed, 0);
	migrate_import_old_free(v, 1);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("import");
	TCase *t = tcase_create("match");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, exact_and_again);
	tcase_add_test(t, dry_apply_stores_nothing);
	tcase_add_test(t, line_end_sizes);
	tcase_add_test(t, ambiguous_and_exact);
	tcase_add_test(t, duplicates);
	tcase_add_test(t, claimed_twice);
	tcase_add_test(t, unmatched_and_no_msgid);
	tcase_add_test(t, no_keys);
	tcase_add_test(t, conflict);
	tcase_add_test(t, uidls_move_between_messages);
	tcase_add_test(t, reimport_replaces);
	tcase_add_test(t, offered_before_counted);
	tcase_add_test(t, empty_upstream);
	tcase_set_timeout(t, 30);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *r = srunner_create(suite());
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
