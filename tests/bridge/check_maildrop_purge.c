/* tests/bridge/check_maildrop_purge.c — state does not only grow: at the end
 * of a session, messages gone upstream longer than BRIDGE_PURGE_AGE_S and
 * finished commits as old are deleted from the state file; more recent
 * ones stay (a real Dovecot, a real SQLite file). */
#include <time.h>

#include "tests/bridge/check_maildrop.h"

#define DAY 86400

START_TEST(t_purge_after_session)
{
	struct mdt_env e;
	struct mdt_sess a, b;
	char ids[3][128], err[512];

	mdt_env_init(&e, "purge1", NULL);
	mdt_three(e.user, ids, 700);
	mdt_open(&e, &a, "a");
	ck_assert_uint_eq(mdt_count(&a), 3);
	mdt_close(&a);
	mdt_open(&e, &b, "b");
	mdt_close(&b);

	/* messages 1 and 2 are removed upstream by another client */
	struct imap_session *adm = adm_open(e.user);
	struct imap_mailbox_info info;
	struct imap_uidset set;
	imap_uidset_init(&set);
	ck_assert_int_eq(imap_uidset_add(&set, 1), 0);
	ck_assert_int_eq(imap_uidset_add(&set, 2), 0);
	ck_assert_int_eq(imap_select(adm, "INBOX", 0, &info), IMAP_OK);
	ck_assert_int_eq(imap_store_flags(adm, &set, true, IMAP_FLAG_DELETED, NULL, 0), IMAP_OK);
	ck_assert_int_eq(imap_uid_expunge(adm, &set), IMAP_OK);
	imap_uidset_free(&set);
	adm_close(adm);

	/* state learnt it long ago (message 1) and yesterday (message 2); one
	 * commit of device b finished long ago, one yesterday */
	struct state_db *db = state_open(e.db, err, sizeof(err));
	ck_assert_msg(db != NULL, "%s", err);
	struct state_account acc;
	struct state_mailbox mb;
	struct state_device dev;
	struct state_message m;
	ck_assert_int_eq(state_account_get(db, e.user, &acc), STATE_OK);
	ck_assert_int_eq(state_mailbox_get(db, acc.id, "INBOX", &mb), STATE_OK);
	ck_assert_int_eq(state_device_get(db, acc.id, "b", &dev), STATE_OK);
	int64_t mid[3];
	for (uint32_t uid = 1; uid <= 3; uid++) {
		ck_assert_int_eq(state_message_by_uid(db, mb.id, uid, &m), STATE_OK);
		mid[uid - 1] = m.id;
	}
	int64_t now = (int64_t)time(NULL), old = now - 31 * DAY, recent = now - DAY;
	uint32_t u1 = 1, u2 = 2;
	ck_assert_int_eq(state_messages_gone(db, mb.id, &u1, 1, old), STATE_OK);
	ck_assert_int_eq(state_messages_gone(db, mb.id, &u2, 1, recent), STATE_OK);
	int64_t j_old, j_recent;
	ck_assert_int_eq(state_journal_begin(db, dev.id, mb.id, "hide", NULL, 0, NULL, 0, old,
	    &j_old), STATE_OK);
	ck_assert_int_eq(state_journal_finish(db, j_old, false, old), STATE_OK);
	ck_assert_int_eq(state_journal_begin(db, dev.id, mb.id, "hide", NULL, 0, NULL, 0, recent,
	    &j_recent), STATE_OK);
	ck_assert_int_eq(state_journal_finish(db, j_recent, false, recent), STATE_OK);
	state_close(db);

	/* one session, and nothing else */
	mdt_open(&e, &a, "a");
	ck_assert_uint_eq(mdt_count(&a), 1);
	mdt_close(&a);

	db = state_open(e.db, err, sizeof(err));
	ck_assert_msg(db != NULL, "%s", err);
	ck_assert_int_eq(state_message_get(db, mid[0], &m), STATE_NOTFOUND);
	ck_assert_int_eq(state_message_get(db, mid[1], &m), STATE_OK);
	ck_assert_int_ne(m.gone, 0);
	ck_assert_int_eq(state_message_get(db, mid[2], &m), STATE_OK);
	ck_assert_int_eq(m.gone, 0);
	struct state_journal *j = NULL;
	ck_assert_int_eq(state_journal_get(db, j_old, &j), STATE_NOTFOUND);
	ck_assert_int_eq(state_journal_get(db, j_recent, &j), STATE_OK);
	state_journal_free(j, 1);
	state_close(db);
	mdt_env_free(&e);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("maildrop-purge");
	TCase *tc = tcase_create("purge");
	tcase_add_unchecked_fixture(tc, mdt_dc_setup, mdt_dc_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, t_purge_after_session);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
