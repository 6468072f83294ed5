/* tests/state/check_state_sent.c — the Sent copies of SMTP submission
 * (state.h, "Sent copies"): the lifecycle SENDING -> PENDING -> APPENDING
 * -> DONE, the device's sent counter and pending count in device listings,
 * the rows a restart drops, claimed UIDs, purge, and the migration of a
 * version 6 file.
 */
#include <unistd.h>

#include "state/state_test.h"
#include "tests/state/st_util.h"

#define SHA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static int collect(void *arg, const struct state_sent *s)
{
	int64_t *ids = arg;
	for (int i = 0; i < 8; i++)
		if (ids[i] == 0) {
			ids[i] = s->id;
			break;
		}
	return 0;
}

static int find_dev(void *arg, const struct state_device *d)
{
	*(struct state_device *)arg = *d;
	return 0;
}

START_TEST(lifecycle)
{
	int64_t acc = st_account("alice"), dev, id, id2, attempts;
	struct state_device d;
	struct state_sent s;

	OK(state_device_add(db, acc, "pc", NULL, NULL, "INBOX", 1000, &d));
	dev = d.id;
	OK(state_sent_add(db, acc, dev, "a1.eml", 120, SHA, 2000, &id));
	RC(state_sent_add(db, acc, dev, "a1.eml", 120, SHA, 2000, NULL), STATE_EXISTS);
	RC(state_sent_add(db, acc, dev, "../x", 120, SHA, 2000, NULL), STATE_INVALID);
	RC(state_sent_add(db, acc, dev, "b.eml", 120, "XYZ", 2000, NULL), STATE_INVALID);
	OK(state_sent_get(db, id, &s));
	ck_assert_int_eq(s.state, STATE_SENT_SENDING);
	ck_assert_str_eq(s.file, "a1.eml");
	ck_assert_uint_eq(s.size, 120);

	/* SENDING is not pending; a restart sees it as stale */
	int64_t ids[8] = { 0 };
	OK(state_sent_pending(db, acc, 0, collect, ids));
	ck_assert_int_eq(ids[0], 0);
	OK(state_sent_stale(db, collect, ids));
	ck_assert_int_eq(ids[0], id);
	RC(state_sent_set_state(db, id, STATE_SENT_APPENDING), STATE_NOTFOUND);

	OK(state_sent_accepted(db, id));
	RC(state_sent_accepted(db, id), STATE_NOTFOUND);   /* once */
	OK(state_device_list(db, acc, find_dev, &d));
	ck_assert_int_eq(d.sent, 1);
	ck_assert_int_eq(d.sent_pending, 1);

	OK(state_sent_set_state(db, id, STATE_SENT_APPENDING));
	OK(state_sent_failed(db, id, "APPEND: NO over quota", &attempts));
	ck_assert_int_eq(attempts, 1);
	OK(state_sent_set_state(db, id, STATE_SENT_PENDING));
	memset(ids, 0, sizeof(ids));
	OK(state_sent_pending(db, 0, 10, collect, ids));
	ck_assert_int_eq(ids[0], id);
	OK(state_sent_get(db, id, &s));
	ck_assert_str_eq(s.last_error, "APPEND: NO over quota");

	OK(state_sent_done(db, id, "Sent", 77, 5, 3000));
	OK(state_sent_done(db, id, "Sent", 77, 5, 3000));    /* idempotent */
	RC(state_sent_set_state(db, id, STATE_SENT_PENDING), STATE_NOTFOUND);
	OK(state_device_list(db, acc, find_dev, &d));
	ck_assert_int_eq(d.sent, 1);
	ck_assert_int_eq(d.sent_pending, 0);

	uint32_t uids[4];
	size_t n;
	OK(state_sent_claimed(db, acc, SHA, "Sent", 77, uids, 4, &n));
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(uids[0], 5);
	OK(state_sent_claimed(db, acc, SHA, "Sent", 78, uids, 4, &n));
	ck_assert_uint_eq(n, 0);

	bool has;
	OK(state_sent_has_file(db, "a1.eml", &has));
	ck_assert(has);
	OK(state_sent_has_file(db, "zz.eml", &has));
	ck_assert(!has);

	OK(state_sent_add(db, acc, dev, "a2.eml", 1, SHA, 2000, &id2));
	OK(state_sent_remove(db, id2));
	RC(state_sent_get(db, id2, &s), STATE_NOTFOUND);

	size_t removed;
	OK(state_sent_purge(db, 3000, &removed));
	ck_assert_uint_eq(removed, 0);
	OK(state_sent_purge(db, 3001, &removed));
	ck_assert_uint_eq(removed, 1);

	/* removing the device keeps its account's copies owed */
	OK(state_sent_add(db, acc, dev, "a3.eml", 9, SHA, 4000, &id));
	OK(state_sent_accepted(db, id));
	OK(state_device_remove(db, dev));
	OK(state_sent_get(db, id, &s));
	ck_assert_int_eq(s.device_id, 0);
	ck_assert_int_eq(s.state, STATE_SENT_PENDING);
}
END_TEST

/* Version 8 to 9: devices get a sent counter of 0 and the Sent copies
 * table. Rows written as version 8 wrote them (state.h speaks the current
 * schema only). */
START_TEST(migrate_from_version_8)
{
	char err[512];
	struct state_device d;
	int64_t acc, id;

	state_close(db);
	unlink(st_path);
	db = state_open_at(st_path, 8, err, sizeof err);
	ck_assert_msg(db != NULL, "%s", err);
	ck_assert_int_eq(state_db_version(db), 8);
	acc = state_test_exec(db, "INSERT INTO accounts(name, auth, created)"
	    " VALUES ('alice', 0, 1)");
	ck_assert_int_gt(acc, 0);
	char sql[200];
	snprintf(sql, sizeof sql, "INSERT INTO devices(account_id, name, created, folder)"
	    " VALUES (%lld, 'pc', 1000, 'INBOX')", (long long)acc);
	d.id = state_test_exec(db, sql);
	ck_assert_int_gt(d.id, 0);
	RC(state_sent_add(db, acc, d.id, "a.eml", 1, SHA, 2000, NULL), STATE_ERROR);
	state_close(db);

	db = st_open();
	ck_assert_int_eq(state_db_version(db), 9);
	ck_assert_int_eq(state_db_version(db), state_schema_version());
	OK(state_device_list(db, acc, find_dev, &d));
	ck_assert_int_eq(d.sent, 0);
	ck_assert_int_eq(d.sent_pending, 0);
	OK(state_sent_add(db, acc, d.id, "a.eml", 1, SHA, 2000, &id));
	OK(state_sent_accepted(db, id));
	OK(state_device_list(db, acc, find_dev, &d));
	ck_assert_int_eq(d.sent, 1);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("state-sent");
	TCase *tc = tcase_create("sent");
	tcase_add_checked_fixture(tc, st_setup, st_teardown);
	tcase_add_test(tc, lifecycle);
	tcase_add_test(tc, migrate_from_version_8);
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
