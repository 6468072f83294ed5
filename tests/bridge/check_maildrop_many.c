/* tests/bridge/check_maildrop_many.c — many sessions at once (SPEC §5:
 * different devices of one account run in parallel): threads, each a
 * device with its own SQLite connection and upstream session, as serve runs
 * them; and the device's folder setting (a folder other than INBOX, and one
 * that does not exist). */
#include "tests/bridge/check_maildrop.h"

#include <pthread.h>

#define N_THREADS 8
#define N_MSGS 12

struct worker {
	struct mdt_env *e;
	char device[16];
	enum pop3_md_status open_st, commit_st;
	size_t count;
	int retr_fail;
	char uidls[N_MSGS][71];
	char detail[BRIDGE_DETAIL_MAX];
};

static int null_sink(void *arg, const char *buf, size_t len)
{
	(void)buf;
	*(uint64_t *)arg += len;
	return 0;
}

/* One whole session, without Check's asserts (not thread-safe): the
 * results go back in w. */
static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct mdt_sess s;
	char login[sizeof(w->e->user) + sizeof(w->device) + 1];

	snprintf(login, sizeof(login), "%s#%s", w->e->user, w->device);
	w->open_st = mdt_open_as(w->e, &s, login, MDT_PASS);
	snprintf(w->detail, sizeof(w->detail), "%s", s.conn.detail);
	if (w->open_st != POP3_MD_OK)
		return NULL;
	w->count = maildrop_ops.count(s.md);
	for (size_t i = 0; i < w->count && i < N_MSGS; i++) {
		struct pop3_msg_info m;
		struct pop3_md_reply r = { .text = "" };
		uint64_t got = 0;
		maildrop_ops.info(s.md, i, &m);
		memcpy(w->uidls[i], m.uidl, sizeof(m.uidl));
		if (maildrop_ops.fetch(s.md, i, POP3_FETCH_WHOLE, 0, null_sink, &got, &r) !=
		    POP3_MD_OK || got == 0)
			w->retr_fail++;
		else
			maildrop_ops.retrieved(s.md, i, m.size);
	}
	size_t del[2] = { 0, 1 };
	struct pop3_md_reply r = { .text = "" };
	w->commit_st = maildrop_ops.commit(s.md, del, w->count >= 2 ? 2 : 0, &r);
	maildrop_ops.close(s.md);
	maildrop_ops.release(s.md);
	return NULL;
}

START_TEST(t_many_devices_at_once)
{
	struct mdt_env e;
	struct worker w[N_THREADS];
	pthread_t th[N_THREADS];

	mdt_env_init(&e, "many", "seen-on", "quit", NULL);
	for (int i = 0; i < N_MSGS; i++)
		mdt_deliver(e.user, 4000 + (uint32_t)i, i % 3 ? PBT_MSG_PLAIN : PBT_MSG_MULTIPART, "",
		    NULL);
	/* The account's first session, so the threads race on devices, not on
	 * creating the account. */
	struct mdt_sess s;
	mdt_open(&e, &s, "first");
	mdt_close(&s);
	memset(w, 0, sizeof(w));
	for (int i = 0; i < N_THREADS; i++) {
		w[i].e = &e;
		snprintf(w[i].device, sizeof(w[i].device), "dev%d", i);
		ck_assert_int_eq(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < N_THREADS; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < N_THREADS; i++) {
		ck_assert_msg(w[i].open_st == POP3_MD_OK, "%s: open %d (%s)", w[i].device,
		    (int)w[i].open_st, w[i].detail);
		ck_assert_uint_eq(w[i].count, N_MSGS);
		ck_assert_int_eq(w[i].retr_fail, 0);
		ck_assert_int_eq(w[i].commit_st, POP3_MD_OK);
		for (int k = 0; k < N_MSGS; k++)
			ck_assert_str_eq(w[i].uidls[k], w[0].uidls[k]);
	}
	ck_assert_uint_eq(maildrop_devlocks_count(e.ctx.devlocks), 0);
	/* Each device hid its two; every message is \Seen (seen_on quit). */
	for (int i = 0; i < N_THREADS; i++) {
		mdt_open(&e, &s, w[i].device);
		ck_assert_uint_eq(mdt_count(&s), N_MSGS - 2);
		mdt_close(&s);
	}
	struct imap_session *adm = adm_open(e.user);
	ck_assert_int_eq(adm_count(adm, "INBOX"), N_MSGS);
	struct imap_search q = { .unseen = true };
	struct imap_uidset set;
	imap_uidset_init(&set);
	ck_assert_int_eq(imap_select(adm, "INBOX", 0, NULL), IMAP_OK);
	ck_assert_int_eq(imap_uid_search(adm, &q, &set), IMAP_OK);
	ck_assert_uint_eq(imap_uidset_count(&set), 0);
	imap_uidset_free(&set);
	adm_close(adm);
	mdt_env_free(&e);
}
END_TEST

START_TEST(t_other_folder)
{
	struct mdt_env e;
	struct mdt_sess a;
	struct pbt_msgspec spec = { .kind = PBT_MSG_PLAIN, .seed = 4100 };
	char id[128];

	mdt_env_init(&e, "folder", "folder", "Work", "dele", "trash", NULL);
	ck_assert_int_eq(pbt_dovecot_create_folder(dc, e.user, "Work"), 0);
	ck_assert_int_eq(pbt_dovecot_add_generated(dc, e.user, "Work", &spec, ""), 0);
	pbt_msg_id(&spec, id, sizeof(id));
	mdt_deliver(e.user, 4101, PBT_MSG_PLAIN, "", NULL); /* INBOX: not offered */
	mdt_open(&e, &a, "a");
	ck_assert_uint_eq(mdt_count(&a), 1);
	char hex[65];
	mdt_retr(&a, 0, hex);
	size_t del = 0;
	mdt_commit(&a, &del, 1);
	mdt_close(&a);
	struct imap_session *adm = adm_open(e.user);
	ck_assert_int_eq(adm_count(adm, "Work"), 0);
	ck_assert_uint_eq(adm_find(adm, "Trash", id, NULL), 1);
	ck_assert_int_eq(adm_count(adm, "INBOX"), 1);
	adm_close(adm);

	/* A folder that does not exist: an administrator must act. */
	char err[PB_ERR_MAX];
	ck_assert_int_eq(config_options_set(&e.opt, PB_K_FOLDER, "Nowhere", err, sizeof(err)), 0);
	ck_assert_int_eq(mdt_open_as(&e, &a, "folder#b", MDT_PASS), POP3_MD_PERM);
	ck_assert_ptr_null(a.md);
	ck_assert_ptr_nonnull(strstr(a.conn.detail, "Nowhere"));
	ck_assert_uint_eq(maildrop_devlocks_count(e.ctx.devlocks), 0);
	mdt_env_free(&e);
}
END_TEST

static Suite *many_suite(void)
{
	Suite *s = suite_create("maildrop-many");
	TCase *tc = tcase_create("many");
	tcase_add_unchecked_fixture(tc, mdt_dc_setup, mdt_dc_teardown);
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, t_many_devices_at_once);
	tcase_add_test(tc, t_other_folder);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(many_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
