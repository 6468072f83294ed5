/* tests/state/check_state_live.c — state_messages_live_count and
 * state_messages_live_uids: live messages of the current UIDVALIDITY only,
 * ascending, without the gone ones and without another mailbox's. */
#include "tests/state/st_util.h"

static int64_t acc, mb;

static void live_setup(void)
{
	st_setup();
	acc = st_account("alice");
	mb = st_mailbox(acc, "INBOX");
}

/* The live UIDs are exactly want[0..n). */
static void expect_live(int64_t mailbox_id, const uint32_t *want, size_t n)
{
	uint32_t *v = NULL;
	size_t k = 99, count = 99;

	OK(state_messages_live_uids(db, mailbox_id, &v, &k));
	OK(state_messages_live_count(db, mailbox_id, &count));
	ck_assert_uint_eq(k, n);
	ck_assert_uint_eq(count, n);
	if (n == 0)
		ck_assert_ptr_null(v);
	for (size_t i = 0; i < n; i++)
		ck_assert_uint_eq(v[i], want[i]);
	free(v);
}

START_TEST(live_uids_and_count)
{
	struct state_listing it[5];
	struct st_keys k[5];
	struct state_mailbox_status s = { 1000, 40, 5 };
	uint32_t gone[2] = { 7, 3 };

	expect_live(mb, NULL, 0);  /* never synced */
	/* unsorted input, a \Deleted message counts as live */
	it[0] = st_item(30, 1, 0, &k[0]);
	it[1] = st_item(3, 2, STATE_MF_DELETED, &k[1]);
	it[2] = st_item(7, 3, STATE_MF_KEYWORD, &k[2]);
	it[3] = st_item(1, 4, STATE_MF_SEEN, &k[3]);
	it[4] = st_item(12, 5, 0, &k[4]);
	OK(state_messages_sync(db, mb, &s, it, 5, true, 100, NULL));
	expect_live(mb, (const uint32_t[]){ 1, 3, 7, 12, 30 }, 5);
	OK(state_messages_gone(db, mb, gone, 2, 200));
	expect_live(mb, (const uint32_t[]){ 1, 12, 30 }, 3);

	/* Another mailbox of the account is separate. */
	int64_t other = st_mailbox(acc, "Work");
	OK(state_messages_sync(db, other, &s, it, 2, true, 100, NULL));
	expect_live(other, (const uint32_t[]){ 3, 30 }, 2);
	expect_live(mb, (const uint32_t[]){ 1, 12, 30 }, 3);

	/* A new UIDVALIDITY: only the re-attached/added messages are live. */
	struct state_mailbox_status s2 = { 2000, 10, 9 };
	struct state_listing n2[2];
	struct st_keys k2[2];
	n2[0] = st_item(4, 1, 0, &k2[0]);   /* the old UID 30 (same keys) */
	n2[1] = st_item(9, 77, 0, &k2[1]);  /* new */
	OK(state_messages_rematch(db, mb, &s2, n2, 2, 300, NULL));
	expect_live(mb, (const uint32_t[]){ 4, 9 }, 2);
}
END_TEST

START_TEST(live_unknown_mailbox)
{
	uint32_t *v = (uint32_t *)&v;
	size_t n = 5;

	OK(state_messages_live_uids(db, 4242, &v, &n));
	ck_assert_ptr_null(v);
	ck_assert_uint_eq(n, 0);
	OK(state_messages_live_count(db, 4242, &n));
	ck_assert_uint_eq(n, 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("state-live");
	TCase *tc = tcase_create("live");

	tcase_add_checked_fixture(tc, live_setup, st_teardown);
	tcase_add_test(tc, live_uids_and_count);
	tcase_add_test(tc, live_unknown_mailbox);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return st_run(suite());
}
