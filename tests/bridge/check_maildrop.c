/* tests/bridge/check_maildrop.c — the maildrop (maildrop_ops) against
 * the real Dovecot: what each device sees (SPEC §3: devices, offer, window)
 * and what a committed DELE and a RETR do upstream (every dele and seen_on
 * value), checked through an independent IMAP session. */
#include "tests/bridge/check_maildrop.h"

#include <strings.h>

START_TEST(t_two_devices)
{
	struct mdt_env e;
	struct mdt_sess a, b;
	char ids[3][128];

	mdt_env_init(&e, "twodev", NULL);
	mdt_three(e.user, ids, 100);
	mdt_open(&e, &a, "pc1");
	mdt_open(&e, &b, "pc2");
	ck_assert_str_eq(a.conn.account, "twodev");
	ck_assert_str_eq(a.conn.device, "pc1");
	ck_assert_uint_eq(mdt_count(&a), 3);
	ck_assert_uint_eq(mdt_count(&b), 3);
	for (size_t i = 0; i < 3; i++) {
		struct pop3_msg_info x = mdt_info(&a, i), y = mdt_info(&b, i);
		ck_assert_str_eq(x.uidl, y.uidl);
		ck_assert_uint_eq(x.size, y.size);
		mdt_retr(&a, i, NULL);
		mdt_retr(&b, i, NULL);
	}
	char uidl0[71];
	strcpy(uidl0, mdt_info(&a, 0).uidl);
	size_t del = 0;
	mdt_commit(&a, &del, 1);
	mdt_close(&a);
	mdt_close(&b);

	/* A no longer sees it; B and IMAP still have it. */
	mdt_open(&e, &a, "pc1");
	ck_assert_uint_eq(mdt_count(&a), 2);
	for (size_t i = 0; i < 2; i++)
		ck_assert_str_ne(mdt_info(&a, i).uidl, uidl0);
	mdt_close(&a);
	mdt_open(&e, &b, "pc2");
	ck_assert_uint_eq(mdt_count(&b), 3);
	ck_assert_str_eq(mdt_info(&b, 0).uidl, uidl0);
	mdt_close(&b);
	struct imap_session *adm = adm_open(e.user);
	ck_assert_int_eq(adm_count(adm, "INBOX"), 3);
	ck_assert_uint_eq(adm_find(adm, "INBOX", ids[0], NULL), 1);
	adm_close(adm);

	/* The default device is a device of its own. */
	mdt_open(&e, &a, NULL);
	ck_assert_str_eq(a.conn.device, "default");
	ck_assert_uint_eq(mdt_count(&a), 3);
	mdt_close(&a);
	mdt_env_free(&e);
}
END_TEST

/* dele trash / archive: the message moves to the folder found by
 * SPECIAL-USE, else the configured one, created when missing. */
static void dele_move(const char *user, const char *policy, const char *folder_key,
    const char *folder_name, const char *expect_folder, bool precreate_special)
{
	struct mdt_env e;
	struct mdt_sess a, b;
	char ids[3][128];

	if (folder_key)
		mdt_env_init(&e, user, "dele", policy, folder_key, folder_name, NULL);
	else
		mdt_env_init(&e, user, "dele", policy, NULL);
	mdt_three(e.user, ids, 200);
	struct imap_session *adm = adm_open(e.user);
	const char *special = strcmp(policy, "trash") == 0 ? "Trash" : "Archive";
	if (precreate_special)
		ck_assert_int_eq(imap_create(adm, special), IMAP_OK);
	ck_assert_int_eq(adm_count(adm, expect_folder), precreate_special ? 0 : -1);

	mdt_open(&e, &a, "pc1");
	mdt_open(&e, &b, "pc2");
	ck_assert_uint_eq(mdt_count(&a), 3);
	size_t del = 1;
	mdt_commit(&a, &del, 1);
	ck_assert(!a.conn.commit_pending);
	mdt_close(&a);

	ck_assert_int_eq(adm_count(adm, "INBOX"), 2);
	ck_assert_uint_eq(adm_find(adm, "INBOX", ids[1], NULL), 0);
	ck_assert_int_eq(adm_count(adm, expect_folder), 1);
	ck_assert_uint_eq(adm_find(adm, expect_folder, ids[1], NULL), 1);
	adm_close(adm);

	/* B's session was open meanwhile: RETR of the moved message is GONE,
	 * the session goes on; B's next session no longer lists it. */
	struct mdt_sink k;
	struct pop3_md_reply r = { .text = "" };
	mdt_sink_init(&k, false, 0, false);
	ck_assert_int_eq(maildrop_ops.fetch(b.md, 1, POP3_FETCH_WHOLE, 0, mdt_sink_fn, &k,
	    &r), POP3_MD_GONE);
	mdt_sink_free(&k);
	mdt_retr(&b, 0, NULL);
	mdt_close(&b);
	mdt_open(&e, &b, "pc2");
	ck_assert_uint_eq(mdt_count(&b), 2);
	mdt_close(&b);
	mdt_env_free(&e);
}

START_TEST(t_dele_trash_created)
{
	dele_move("trash1", "trash", NULL, NULL, "Trash", false);
}
END_TEST

START_TEST(t_dele_trash_configured_name)
{
	dele_move("trash2", "trash", "trash-folder", "Bin", "Bin", false);
}
END_TEST

START_TEST(t_dele_trash_special_use_wins)
{
	/* Trash exists with \Trash: the configured name is not used. */
	dele_move("trash3", "trash", "trash-folder", "Bin", "Trash", true);
}
END_TEST

START_TEST(t_dele_archive)
{
	dele_move("arch1", "archive", NULL, NULL, "Archive", false);
}
END_TEST

/* dele flag: the keyword upstream, and every device stops seeing it. */
static void flag_case(const char *user, const char *keyword_option)
{
	struct mdt_env e;
	char ids[3][128];
	bool kw = false;
	const char *kwname = keyword_option ? keyword_option : "$POP3Deleted";

	if (keyword_option)
		mdt_env_init(&e, user, "dele", "flag", "dele-keyword", keyword_option, NULL);
	else
		mdt_env_init(&e, user, "dele", "flag", NULL);
	mdt_three(e.user, ids, 300);
	mdt_expect_count(&e, "pc2", 3);
	mdt_dele_one(&e, "pc1", 2);

	struct imap_session *adm = adm_open(e.user);
	ck_assert_int_eq(adm_count(adm, "INBOX"), 3);
	adm_msg_flags(adm, "INBOX", ids[2], kwname, &kw);
	ck_assert(kw);
	adm_msg_flags(adm, "INBOX", ids[1], kwname, &kw);
	ck_assert(!kw);
	adm_close(adm);
	/* A message with the keyword is hidden from every device. */
	mdt_expect_count(&e, "pc2", 2);
	mdt_expect_count(&e, "new", 2);
	mdt_env_free(&e);
}

START_TEST(t_dele_flag)
{
	flag_case("flag1", NULL);
}
END_TEST

START_TEST(t_dele_flag_custom_keyword)
{
	flag_case("flag2", "GoneFromPop");
}
END_TEST

START_TEST(t_dele_expunge_only_that_uid)
{
	struct mdt_env e;
	struct mdt_sess a;
	char ids[3][128];

	mdt_env_init(&e, "expunge1", "dele", "expunge", NULL);
	mdt_three(e.user, ids, 400);
	mdt_open(&e, &a, "pc1");
	ck_assert_uint_eq(mdt_count(&a), 3);

	/* Another IMAP client marks message 3 \Deleted (without expunging). */
	struct imap_session *other = adm_open(e.user);
	uint32_t uid3;
	struct imap_uidset one;
	ck_assert_uint_eq(adm_find(other, "INBOX", ids[2], &uid3), 1);
	imap_uidset_init(&one);
	imap_uidset_add(&one, uid3);
	ck_assert_int_eq(imap_store_flags(other, &one, true, IMAP_FLAG_DELETED, NULL, 0), IMAP_OK);
	imap_uidset_free(&one);

	size_t del = 0;
	mdt_commit(&a, &del, 1);
	mdt_close(&a);

	struct imap_session *adm = adm_open(e.user);
	ck_assert_int_eq(adm_count(adm, "INBOX"), 2);
	ck_assert_uint_eq(adm_find(adm, "INBOX", ids[0], NULL), 0);
	unsigned f = adm_msg_flags(adm, "INBOX", ids[2], NULL, NULL);
	ck_assert(f & IMAP_FLAG_DELETED);
	ck_assert_uint_eq(adm_find(adm, "INBOX", ids[1], NULL), 1);
	ck_assert_int_le(adm_count(adm, "Trash"), 0);
	adm_close(adm);
	adm_close(other);
	mdt_env_free(&e);
}
END_TEST

START_TEST(t_dele_last_device)
{
	struct mdt_env e;
	struct mdt_sess a, b, c;
	char ids[3][128];

	mdt_env_init(&e, "lastdev", "dele", "last-device", NULL);
	mdt_three(e.user, ids, 500);
	/* Three devices exist. */
	mdt_open(&e, &a, "a");
	mdt_close(&a);
	mdt_open(&e, &b, "b");
	mdt_close(&b);
	mdt_open(&e, &c, "c");
	mdt_close(&c);

	struct imap_session *adm = adm_open(e.user);
	const char *names[3] = { "a", "b", "c" };
	for (int d = 0; d < 3; d++) {
		struct mdt_sess s;
		mdt_open(&e, &s, names[d]);
		ck_assert_uint_eq(mdt_count(&s), 3);
		size_t del = 0; /* the first message */
		mdt_commit(&s, &del, 1);
		mdt_close(&s);
		long expect = d < 2 ? 3 : 2;
		ck_assert_int_eq(adm_count(adm, "INBOX"), expect);
		ck_assert_uint_eq(adm_find(adm, "INBOX", ids[0], NULL), d < 2 ? 1 : 0);
	}
	ck_assert_int_le(adm_count(adm, "Trash"), 0);
	adm_close(adm);
	/* A new device never sees the expunged message either. */
	mdt_open(&e, &a, "d");
	ck_assert_uint_eq(mdt_count(&a), 2);
	mdt_close(&a);
	mdt_env_free(&e);
}
END_TEST

START_TEST(t_dele_hide_default)
{
	struct mdt_env e;
	struct mdt_sess a;
	char ids[3][128];

	mdt_env_init(&e, "hide1", NULL);
	mdt_three(e.user, ids, 550);
	mdt_open(&e, &a, "a");
	size_t del[3] = { 0, 1, 2 };
	mdt_commit(&a, del, 3);
	mdt_close(&a);
	struct imap_session *adm = adm_open(e.user);
	ck_assert_int_eq(adm_count(adm, "INBOX"), 3);
	for (int i = 0; i < 3; i++)
		ck_assert_uint_eq(adm_msg_flags(adm, "INBOX", ids[i], NULL, NULL) &
		    (IMAP_FLAG_DELETED | IMAP_FLAG_SEEN), 0);
	adm_close(adm);
	mdt_open(&e, &a, "a");
	ck_assert_uint_eq(mdt_count(&a), 0);
	mdt_close(&a);
	mdt_env_free(&e);
}
END_TEST

/* seen_on: retr marks at once after a complete RETR; quit only at the
 * commit; never not at all. A TOP never marks. */
static void seen_case(const char *user, const char *seen_on)
{
	struct mdt_env e;
	struct mdt_sess a;
	char ids[3][128];
	bool retr = strcmp(seen_on, "retr") == 0, quit = strcmp(seen_on, "quit") == 0;

	mdt_env_init(&e, user, "seen-on", seen_on, NULL);
	mdt_three(e.user, ids, 600);
	mdt_open(&e, &a, "a");
	mdt_retr(&a, 0, NULL);
	struct mdt_sink k;
	struct pop3_md_reply r = { .text = "" };
	mdt_sink_init(&k, true, 1, false);
	ck_assert_int_eq(maildrop_ops.fetch(a.md, 1, POP3_FETCH_TOP, 1, mdt_sink_fn, &k, &r),
	    POP3_MD_OK);
	mdt_sink_free(&k);

	struct imap_session *adm = adm_open(e.user);
	ck_assert_uint_eq(!!(adm_msg_flags(adm, "INBOX", ids[0], NULL, NULL) & IMAP_FLAG_SEEN),
	    retr);
	ck_assert_uint_eq(adm_msg_flags(adm, "INBOX", ids[1], NULL, NULL) & IMAP_FLAG_SEEN, 0);
	mdt_commit(&a, NULL, 0);
	mdt_close(&a);
	ck_assert_uint_eq(!!(adm_msg_flags(adm, "INBOX", ids[0], NULL, NULL) & IMAP_FLAG_SEEN),
	    retr || quit);
	ck_assert_uint_eq(adm_msg_flags(adm, "INBOX", ids[1], NULL, NULL) & IMAP_FLAG_SEEN, 0);
	ck_assert_uint_eq(adm_msg_flags(adm, "INBOX", ids[2], NULL, NULL) & IMAP_FLAG_SEEN, 0);
	adm_close(adm);
	mdt_env_free(&e);
}

START_TEST(t_seen_retr)
{
	seen_case("seenretr", "retr");
}
END_TEST

START_TEST(t_seen_quit)
{
	seen_case("seenquit", "quit");
}
END_TEST

START_TEST(t_seen_never)
{
	seen_case("seennever", "never");
}
END_TEST

START_TEST(t_seen_quit_abandoned)
{
	/* seen_on quit without a QUIT (close only): nothing marked. */
	struct mdt_env e;
	struct mdt_sess a;
	char ids[3][128];

	mdt_env_init(&e, "seenabandon", "seen-on", "quit", NULL);
	mdt_three(e.user, ids, 650);
	mdt_open(&e, &a, "a");
	mdt_retr(&a, 0, NULL);
	mdt_close(&a);
	struct imap_session *adm = adm_open(e.user);
	ck_assert_uint_eq(adm_msg_flags(adm, "INBOX", ids[0], NULL, NULL) & IMAP_FLAG_SEEN, 0);
	adm_close(adm);
	mdt_env_free(&e);
}
END_TEST

START_TEST(t_offer_since_enrolment)
{
	struct mdt_env e;
	struct mdt_sess a, b;
	char ids[3][128], late[128];

	mdt_env_init(&e, "enrol", "offer", "since-enrolment", NULL);
	mdt_three(e.user, ids, 700);
	mdt_open(&e, &a, "a");
	ck_assert_uint_eq(mdt_count(&a), 0);
	mdt_close(&a);
	mdt_deliver(e.user, 710, PBT_MSG_PLAIN, "", late);
	mdt_open(&e, &a, "a");
	ck_assert_uint_eq(mdt_count(&a), 1);
	mdt_close(&a);
	/* A device enrolled later sees only what came after it. */
	mdt_open(&e, &b, "b");
	ck_assert_uint_eq(mdt_count(&b), 0);
	mdt_close(&b);
	mdt_env_free(&e);
}
END_TEST

START_TEST(t_offer_unseen)
{
	struct mdt_env e;
	struct mdt_sess a;
	char id1[128], id2[128], id3[128];

	mdt_env_init(&e, "unseen", "offer", "unseen", "seen-on", "never", NULL);
	mdt_deliver(e.user, 800, PBT_MSG_PLAIN, "S", id1);
	mdt_deliver(e.user, 801, PBT_MSG_PLAIN, "", id2);
	mdt_deliver(e.user, 802, PBT_MSG_PLAIN, "", id3);
	mdt_open(&e, &a, "a");
	ck_assert_uint_eq(mdt_count(&a), 2);
	mdt_close(&a);
	/* Once offered, a message stays in the view when it becomes \Seen. */
	struct imap_session *adm = adm_open(e.user);
	uint32_t uid;
	struct imap_uidset one;
	ck_assert_uint_eq(adm_find(adm, "INBOX", id2, &uid), 1);
	imap_uidset_init(&one);
	imap_uidset_add(&one, uid);
	ck_assert_int_eq(imap_store_flags(adm, &one, true, IMAP_FLAG_SEEN, NULL, 0), IMAP_OK);
	imap_uidset_free(&one);
	adm_close(adm);
	mdt_open(&e, &a, "a");
	ck_assert_uint_eq(mdt_count(&a), 2);
	mdt_close(&a);
	mdt_env_free(&e);
}
END_TEST

START_TEST(t_offer_all_includes_seen)
{
	struct mdt_env e;
	struct mdt_sess a;

	mdt_env_init(&e, "offerall", NULL);
	mdt_deliver(e.user, 850, PBT_MSG_PLAIN, "S", NULL);
	mdt_deliver(e.user, 851, PBT_MSG_PLAIN, "", NULL);
	mdt_open(&e, &a, "a");
	ck_assert_uint_eq(mdt_count(&a), 2);
	mdt_close(&a);
	mdt_env_free(&e);
}
END_TEST

START_TEST(t_window)
{
	struct mdt_env e;
	struct mdt_sess a, w;
	char ids[5][128];

	mdt_env_init(&e, "window", "window", "2", NULL);
	for (int i = 0; i < 5; i++)
		mdt_deliver(e.user, 900 + (uint32_t)i, PBT_MSG_PLAIN, "", ids[i]);
	mdt_open(&e, &w, "w");
	ck_assert_uint_eq(mdt_count(&w), 2);
	char top0[71], top1[71];
	strcpy(top0, mdt_info(&w, 0).uidl);
	strcpy(top1, mdt_info(&w, 1).uidl);
	/* Deleting one of the window lets the next older one in. */
	size_t del = 1;
	mdt_commit(&w, &del, 1);
	mdt_close(&w);
	mdt_open(&e, &w, "w");
	ck_assert_uint_eq(mdt_count(&w), 2);
	ck_assert_str_eq(mdt_info(&w, 1).uidl, top0);
	ck_assert_str_ne(mdt_info(&w, 0).uidl, top1);
	mdt_close(&w);

	/* The window offers the highest UIDs: a device with window 0 sees
	 * them last in its list. */
	struct config_options o2;
	char err[PB_ERR_MAX];
	config_options_init(&o2);
	ck_assert_int_eq(config_options_merge(&o2, &e.opt, err, sizeof(err)), 0);
	ck_assert_int_eq(config_options_set(&o2, PB_K_WINDOW, "0", err, sizeof(err)), 0);
	ck_assert_int_eq(config_options_finish(&o2, true, NULL, err, sizeof(err)), 0);
	e.ctx.opt = &o2;
	mdt_open(&e, &a, "all");
	ck_assert_uint_eq(mdt_count(&a), 5);
	ck_assert_str_eq(mdt_info(&a, 4).uidl, top1);
	ck_assert_str_eq(mdt_info(&a, 3).uidl, top0);
	mdt_close(&a);
	e.ctx.opt = &e.opt;
	config_options_free(&o2);
	mdt_env_free(&e);
}
END_TEST

START_TEST(t_device_section_overrides)
{
	/* A device section of the configuration overrides the global dele. */
	struct mdt_env e;
	struct mdt_sess a, b;
	char ids[3][128], err[PB_ERR_MAX];

	mdt_env_init(&e, "section", NULL);
	struct config_device_section *sec = config_options_new_section(&e.opt, "section", "scanner", 0,
	    err, sizeof(err));
	ck_assert_ptr_nonnull(sec);
	ck_assert_int_eq(config_section_set(sec, PB_K_DELE, "trash", err, sizeof(err)), 0);
	mdt_three(e.user, ids, 950);
	mdt_open(&e, &a, "scanner");
	mdt_open(&e, &b, "pc");
	size_t del = 0;
	mdt_commit(&a, &del, 1);
	mdt_commit(&b, &del, 1);
	mdt_close(&a);
	mdt_close(&b);
	struct imap_session *adm = adm_open(e.user);
	/* scanner's DELE moved message 1 to Trash; pc's (hide) did nothing. */
	ck_assert_uint_eq(adm_find(adm, "Trash", ids[0], NULL), 1);
	ck_assert_int_eq(adm_count(adm, "INBOX"), 2);
	adm_close(adm);
	mdt_env_free(&e);
}
END_TEST

START_TEST(t_last_device_section_view)
{
	/* last-device counts each device with its effective settings: w's
	 * configuration section gives it window 1, so only the newest message
	 * is in its view. An older one a deletes has no other holder and is
	 * expunged; the newest one w still holds stays. */
	struct mdt_env e;
	struct mdt_sess a, w;
	char ids[3][128], err[PB_ERR_MAX];

	mdt_env_init(&e, "lastsec", "dele", "last-device", NULL);
	struct config_device_section *sec = config_options_new_section(&e.opt, "lastsec", "w", 0,
	    err, sizeof(err));
	ck_assert_ptr_nonnull(sec);
	ck_assert_int_eq(config_section_set(sec, PB_K_WINDOW, "1", err, sizeof(err)), 0);
	mdt_three(e.user, ids, 1900);
	mdt_expect_count(&e, "w", 1);
	mdt_open(&e, &a, "a");
	ck_assert_uint_eq(mdt_count(&a), 3);
	size_t del[2] = { 0, 2 };
	mdt_commit(&a, del, 2);
	mdt_close(&a);
	struct imap_session *adm = adm_open(e.user);
	ck_assert_uint_eq(adm_find(adm, "INBOX", ids[0], NULL), 0);
	ck_assert_uint_eq(adm_find(adm, "INBOX", ids[1], NULL), 1);
	ck_assert_uint_eq(adm_find(adm, "INBOX", ids[2], NULL), 1);
	adm_close(adm);
	/* w deletes the newest: now nobody holds it. */
	mdt_open(&e, &w, "w");
	ck_assert_uint_eq(mdt_count(&w), 1);
	size_t first = 0;
	mdt_commit(&w, &first, 1);
	mdt_close(&w);
	adm = adm_open(e.user);
	ck_assert_uint_eq(adm_find(adm, "INBOX", ids[2], NULL), 0);
	ck_assert_int_eq(adm_count(adm, "INBOX"), 1);
	adm_close(adm);
	mdt_env_free(&e);
}
END_TEST

START_TEST(t_device_name_case)
{
	/* USER#PC and USER#pc are one device: one lock ([IN-USE]), one state
	 * (what one deleted the other does not list), stored as "pc"; and a
	 * configuration section written for "Scanner" applies to "#SCANNER". */
	struct mdt_env e;
	struct mdt_sess a, b;
	char ids[3][128], err[PB_ERR_MAX], login[80];

	mdt_env_init(&e, "namecase", NULL);
	struct config_device_section *sec = config_options_new_section(&e.opt, "namecase", "Scanner", 0,
	    err, sizeof(err));
	ck_assert_ptr_nonnull(sec);
	ck_assert_int_eq(config_section_set(sec, PB_K_DELE, "trash", err, sizeof(err)), 0);
	mdt_three(e.user, ids, 2700);
	mdt_open(&e, &a, "PC");
	snprintf(login, sizeof(login), "%s#pc", e.user);
	ck_assert_int_eq(mdt_open_as(&e, &b, login, MDT_PASS), POP3_MD_IN_USE);
	ck_assert_ptr_null(b.md);
	ck_assert_str_eq(a.conn.device, "pc");
	size_t del = 0;
	mdt_commit(&a, &del, 1);
	mdt_close(&a);
	mdt_expect_count(&e, "pc", 2);
	mdt_expect_count(&e, "Pc", 2);
	mdt_expect_count(&e, "other", 3);

	char dberr[200];
	struct state_db *db = state_open(e.db, dberr, sizeof(dberr));
	ck_assert_ptr_nonnull(db);
	struct state_account acc;
	struct state_device d;
	ck_assert_int_eq(state_account_get(db, e.user, &acc), STATE_OK);
	ck_assert_int_eq(state_device_get(db, acc.id, "PC", &d), STATE_OK);
	ck_assert_str_eq(d.name, "pc");
	state_close(db);

	/* The section for "Scanner" is the device's however the login spells it. */
	mdt_open(&e, &a, "SCANNER");
	mdt_commit(&a, &del, 1);
	mdt_close(&a);
	struct imap_session *adm = adm_open(e.user);
	ck_assert_uint_eq(adm_find(adm, "Trash", ids[0], NULL), 1);
	adm_close(adm);
	mdt_env_free(&e);
}
END_TEST

static Suite *maildrop_suite(void)
{
	Suite *s = suite_create("maildrop");
	TCase *tc = tcase_create("views-and-policies");
	tcase_add_unchecked_fixture(tc, mdt_dc_setup, mdt_dc_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, t_two_devices);
	tcase_add_test(tc, t_dele_hide_default);
	tcase_add_test(tc, t_dele_trash_created);
	tcase_add_test(tc, t_dele_trash_configured_name);
	tcase_add_test(tc, t_dele_trash_special_use_wins);
	tcase_add_test(tc, t_dele_archive);
	tcase_add_test(tc, t_dele_flag);
	tcase_add_test(tc, t_dele_flag_custom_keyword);
	tcase_add_test(tc, t_dele_expunge_only_that_uid);
	tcase_add_test(tc, t_dele_last_device);
	tcase_add_test(tc, t_last_device_section_view);
	tcase_add_test(tc, t_device_name_case);
	tcase_add_test(tc, t_seen_retr);
	tcase_add_test(tc, t_seen_quit);
	tcase_add_test(tc, t_seen_never);
	tcase_add_test(tc, t_seen_quit_abandoned);
	tcase_add_test(tc, t_offer_since_enrolment);
	tcase_add_test(tc, t_offer_unseen);
	tcase_add_test(tc, t_offer_all_includes_seen);
	tcase_add_test(tc, t_window);
	tcase_add_test(tc, t_device_section_overrides);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(maildrop_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
