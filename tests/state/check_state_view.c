/* tests/state/check_state_view.c — device views (offer, window, keyword,
 * folder, enrolment across renumbering), last-device holder counts,
 * counters, reset and revoke, and the commit journal including a crash
 * between writing the intent and finishing it. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/state/st_util.h"

static int64_t acc, mb;
static struct state_listing items[16];
static struct st_keys keys[16];
static size_t n_items;
static struct state_mailbox_status status = { 500, 7, 0 };

/* INBOX: UIDs 1..6, 2 and 4 \Seen. */
static void view_setup(void)
{
	st_setup();
	acc = st_account("alice");
	mb = st_mailbox(acc, "INBOX");
	status.uidvalidity = 500;
	status.uidnext = 7;
	for (n_items = 0; n_items < 6; n_items++)
		items[n_items] = st_item((uint32_t)n_items + 1, (unsigned)n_items + 1,
		    n_items == 1 || n_items == 3 ? STATE_MF_SEEN : 0, &keys[n_items]);
	OK(state_messages_sync(db, mb, &status, items, n_items, true, 10, NULL));
}

static void add_message(uint32_t uid, unsigned flags)
{
	items[n_items] = st_item(uid, uid, flags, &keys[n_items]);
	n_items++;
	status.uidnext = uid + 1;
	OK(state_messages_sync(db, mb, &status, items, n_items, true, 20, NULL));
}

static void set_flags(uint32_t uid, unsigned flags)
{
	for (size_t i = 0; i < n_items; i++)
		if (items[i].uid == uid)
			items[i].flags = flags;
	OK(state_messages_sync(db, mb, &status, items, n_items, true, 30, NULL));
}

static int64_t device_with(const char *name, const char *folder, const char *offer,
    int64_t window)
{
	struct state_device_settings s = { .window = window };
	struct state_device d;

	snprintf(s.folder, sizeof s.folder, "%s", folder);
	snprintf(s.offer, sizeof s.offer, "%s", offer);
	OK(state_device_add(db, acc, name, &s, NULL, "INBOX", 1000, &d));
	return d.id;
}

/* The view's UIDs as "1,2,3". */
static const char *view_of(int64_t dev, const struct state_view_defaults *def)
{
	static char buf[256];
	struct state_view_msg *v;
	size_t n, i, o = 0;

	OK(state_view_build(db, dev, def, 40, &v, &n));
	buf[0] = '\0';
	for (i = 0; i < n; i++)
		o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%u", i ? "," : "",
		    (unsigned)v[i].uid);
	state_view_free(v);
	return buf;
}

static void del(int64_t dev, uint32_t uid)
{
	int64_t id = st_msg_id(mb, uid);

	OK(state_devmsg_deleted(db, dev, &id, 1, 50));
}

static int64_t holders(uint32_t uid, const struct state_view_defaults *def)
{
	int64_t n = -1;

	OK(state_message_holders(db, st_msg_id(mb, uid), def, &n));
	return n;
}

START_TEST(view_all_hide_and_keyword)
{
	int64_t a = st_device(acc, "a"), b = st_device(acc, "b");
	struct state_view_msg *v;
	size_t n;
	int64_t id;

	ck_assert_str_eq(view_of(a, &st_defaults), "1,2,3,4,5,6");
	del(a, 2);
	ck_assert_str_eq(view_of(a, &st_defaults), "1,3,4,5,6");
	ck_assert_str_eq(view_of(b, &st_defaults), "1,2,3,4,5,6");
	/* the dele keyword hides a message from every device */
	set_flags(3, STATE_MF_KEYWORD);
	ck_assert_str_eq(view_of(a, &st_defaults), "1,4,5,6");
	ck_assert_str_eq(view_of(b, &st_defaults), "1,2,4,5,6");
	/* sizes: exact once learned; retrieved flag */
	id = st_msg_id(mb, 4);
	OK(state_message_set_exact_size(db, id, 4444));
	OK(state_devmsg_retrieved(db, b, &id, 1, 60));
	OK(state_view_build(db, b, &st_defaults, 61, &v, &n));
	ck_assert_uint_eq(n, 5);
	ck_assert_uint_eq(v[2].uid, 4);
	ck_assert_uint_eq(v[2].size, 4444);
	ck_assert(v[2].size_exact);
	ck_assert(v[2].retrieved);
	ck_assert_uint_eq(v[0].size, 1001);
	ck_assert(!v[0].size_exact);
	ck_assert(!v[0].retrieved);
	ck_assert_str_eq(v[0].uidl, "00000001000001F4");
	state_view_free(v);
	/* bad defaults */
	RC(state_view_build(db, b, &(struct state_view_defaults){ "INBOX", "most", 0 }, 1, &v,
	    &n), STATE_INVALID);
	RC(state_view_build(db, 9999, &st_defaults, 1, &v, &n), STATE_NOTFOUND);
}
END_TEST

START_TEST(view_window)
{
	int64_t w = device_with("w", "", "", 2), d = st_device(acc, "d");
	struct state_view_defaults def3 = { "INBOX", "all", 3 };

	ck_assert_str_eq(view_of(w, &st_defaults), "5,6");
	del(w, 6);
	ck_assert_str_eq(view_of(w, &st_defaults), "4,5");
	ck_assert_str_eq(view_of(d, &def3), "4,5,6");
	ck_assert_str_eq(view_of(w, &def3), "4,5"); /* the override wins */
}
END_TEST

START_TEST(view_offer_unseen)
{
	int64_t u = device_with("u", "", "unseen", -1);
	struct state_devmsg dm;

	ck_assert_str_eq(view_of(u, &st_defaults), "1,3,5,6");
	OK(state_devmsg_get(db, u, st_msg_id(mb, 1), &dm));
	ck_assert_int_eq(dm.offered, 40);
	/* read elsewhere after it was offered: stays in the view */
	set_flags(1, STATE_MF_SEEN);
	/* seen upstream before this device first saw it: skipped */
	add_message(7, STATE_MF_SEEN);
	add_message(8, 0);
	ck_assert_str_eq(view_of(u, &st_defaults), "1,3,5,6,8");
	/* reset forgets the offers: the now-seen message 1 leaves the view */
	OK(state_device_reset(db, u));
	ck_assert_str_eq(view_of(u, &st_defaults), "3,5,6,8");
	/* unseen as the global default */
	ck_assert_str_eq(view_of(st_device(acc, "g"),
	    &(struct state_view_defaults){ "INBOX", "unseen", 0 }), "3,5,6,8");
}
END_TEST

START_TEST(view_since_enrolment_across_renumbering)
{
	int64_t e = device_with("e", "", "since-enrolment", -1);
	int64_t f = device_with("f", "Later", "since-enrolment", -1);
	struct state_device d;
	struct state_rematch_result r;
	struct state_listing nw[16];
	struct st_keys nk[16];
	int64_t later;
	size_t i;

	/* enrolled at creation from the synced INBOX: UIDNEXT 7 */
	OK(state_device_get_by_id(db, e, &d));
	ck_assert_int_eq(d.enrol_mailbox_id, mb);
	ck_assert_int_eq(d.enrol_time, 1000);
	ck_assert_str_eq(view_of(e, &st_defaults), "");
	add_message(7, 0);
	add_message(9, STATE_MF_SEEN);
	ck_assert_str_eq(view_of(e, &st_defaults), "7,9");
	ck_assert_str_eq(view_of(st_device(acc, "x"), &(struct state_view_defaults){
	    "INBOX", "since-enrolment", 0 }), "");

	/* renumbered in reverse order plus one new message: still 7 and 9 (now
	 * other UIDs) and the new one */
	for (i = 0; i < n_items; i++)
		nw[i] = st_item((uint32_t)(100 - items[i].uid), items[i].uid, 0, &nk[i]);
	nw[i] = st_item(200, 4242, 0, &nk[i]);
	OK(state_messages_rematch(db, mb, &(struct state_mailbox_status){ 501, 201, 0 }, nw,
	    n_items + 1, 70, &r));
	ck_assert_uint_eq(r.matched, n_items);
	ck_assert_uint_eq(r.added, 1);
	ck_assert_str_eq(view_of(e, &st_defaults), "91,93,200");

	/* a device whose folder was never synced has no mark: nothing offered
	 * until the bridge enrols it at its first session */
	OK(state_device_get_by_id(db, f, &d));
	ck_assert_int_eq(d.enrol_mailbox_id, 0);
	later = st_mailbox(acc, "Later");
	{
		struct state_listing li[3];
		struct st_keys lk[3];
		struct state_mailbox_status ls = { 60, 4, 0 };

		for (i = 0; i < 3; i++)
			li[i] = st_item((uint32_t)i + 1, (unsigned)i + 300, 0, &lk[i]);
		OK(state_messages_sync(db, later, &ls, li, 3, true, 80, NULL));
		ck_assert_str_eq(view_of(f, &st_defaults), "");
		RC(state_device_enrol(db, f, later, 61, 3, 81), STATE_INVALID);
		OK(state_device_enrol(db, f, later, 60, 3, 81));
		ck_assert_str_eq(view_of(f, &st_defaults), "3");
		/* once set, enrol changes nothing */
		OK(state_device_enrol(db, f, later, 60, 1, 82));
		ck_assert_str_eq(view_of(f, &st_defaults), "3");
		OK(state_device_get_by_id(db, f, &d));
		ck_assert_int_eq(d.enrol_time, 81);
		RC(state_device_enrol(db, f, 9999, 60, 1, 82), STATE_NOTFOUND);
	}
}
END_TEST

START_TEST(view_folder_override)
{
	int64_t w = device_with("work", "Work", "", -1), work = st_mailbox(acc, "Work");
	struct state_listing li[2];
	struct st_keys lk[2];

	ck_assert_str_eq(view_of(w, &st_defaults), "");
	li[0] = st_item(11, 11, 0, &lk[0]);
	li[1] = st_item(12, 12, 0, &lk[1]);
	OK(state_messages_sync(db, work, &(struct state_mailbox_status){ 3, 13, 0 }, li, 2,
	    true, 5, NULL));
	ck_assert_str_eq(view_of(w, &st_defaults), "11,12");
	/* the folder as global default */
	ck_assert_str_eq(view_of(st_device(acc, "o"),
	    &(struct state_view_defaults){ "Work", "all", 0 }), "11,12");
}
END_TEST

START_TEST(last_device_holders)
{
	int64_t a = st_device(acc, "a");
	int64_t b = device_with("b", "", "", 1);
	int64_t c = st_device(acc, "c");
	int64_t u = device_with("u", "", "unseen", -1);
	struct state_devmsg dm;

	device_with("work", "Work", "", -1);
	device_with("e", "", "since-enrolment", -1);
	OK(state_device_revoke(db, c, true));
	/* 5: a and u (b's window shows only 6; c revoked; work another folder;
	 * e enrolled after it) */
	ck_assert_int_eq(holders(5, &st_defaults), 2);
	ck_assert_int_eq(holders(6, &st_defaults), 3);
	/* 4 is \Seen: u never had it offered */
	ck_assert_int_eq(holders(4, &st_defaults), 1);
	del(a, 5);
	ck_assert_int_eq(holders(5, &st_defaults), 1);
	del(u, 5);
	ck_assert_int_eq(holders(5, &st_defaults), 0);
	/* b's window slides: once b deletes 6, its view (window 1) holds 5 */
	del(b, 6);
	ck_assert_int_eq(holders(5, &st_defaults), 1);
	/* the revoked device keeps its state and counts again when reinstated */
	OK(state_devmsg_get(db, c, st_msg_id(mb, 5), &dm));
	ck_assert_int_eq(dm.deleted, 0);
	OK(state_device_revoke(db, c, false));
	ck_assert_int_eq(holders(5, &st_defaults), 2);
	/* a keyword-flagged message is in nobody's view */
	set_flags(1, STATE_MF_KEYWORD);
	ck_assert_int_eq(holders(1, &st_defaults), 0);
	RC(state_message_holders(db, 999999, &st_defaults, &(int64_t){ 0 }), STATE_NOTFOUND);
}
END_TEST

START_TEST(counters_and_reset)
{
	int64_t a = st_device(acc, "a");
	struct state_device d;
	int64_t ids[3] = { st_msg_id(mb, 1), st_msg_id(mb, 2), st_msg_id(mb, 3) };

	ck_assert_str_eq(view_of(a, &st_defaults), "1,2,3,4,5,6");
	OK(state_devmsg_retrieved(db, a, ids, 3, 90));
	OK(state_devmsg_retrieved(db, a, ids, 1, 95)); /* first time kept */
	del(a, 1);
	del(a, 6);
	OK(state_device_update_counters(db, a, &st_defaults, &d));
	ck_assert_int_eq(d.retrieved, 3);
	ck_assert_int_eq(d.deleted, 2);
	ck_assert_int_eq(d.waiting, 2); /* 4 and 5 */
	{
		struct state_devmsg dm;

		OK(state_devmsg_get(db, a, ids[0], &dm));
		ck_assert_int_eq(dm.retrieved, 90);
		ck_assert_int_eq(dm.deleted, 50);
	}
	OK(state_device_reset(db, a));
	OK(state_device_get_by_id(db, a, &d));
	ck_assert_int_eq(d.retrieved, 0);
	ck_assert_int_eq(d.deleted, 0);
	ck_assert_int_eq(d.waiting, 0);
	ck_assert_int_eq(d.enrol_mailbox_id, mb); /* the mark is kept */
	ck_assert_str_eq(view_of(a, &st_defaults), "1,2,3,4,5,6");
	RC(state_device_reset(db, 9999), STATE_NOTFOUND);
	RC(state_devmsg_deleted(db, a, &(int64_t){ 999999 }, 1, 1), STATE_NOTFOUND);
}
END_TEST

START_TEST(journal_lifecycle)
{
	int64_t a = st_device(acc, "a"), b = st_device(acc, "b");
	int64_t del_ids[2] = { st_msg_id(mb, 5), st_msg_id(mb, 2) };
	int64_t seen_ids[2] = { st_msg_id(mb, 1), st_msg_id(mb, 5) };
	struct state_journal *j = NULL;
	struct state_message m;
	size_t n;
	int64_t jid, jid2;

	OK(state_journal_begin(db, a, mb, "expunge", del_ids, 2, seen_ids, 2, 100, &jid));
	/* hidden for a at once, not for b */
	ck_assert_str_eq(view_of(a, &st_defaults), "1,3,4,6");
	ck_assert_str_eq(view_of(b, &st_defaults), "1,2,3,4,5,6");
	OK(state_journal_pending(db, acc, &j, &n));
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(j[0].id, jid);
	ck_assert_int_eq(j[0].device_id, a);
	ck_assert_int_eq(j[0].mailbox_id, mb);
	ck_assert_str_eq(j[0].folder, "INBOX");
	ck_assert_str_eq(j[0].policy, "expunge");
	ck_assert_int_eq(j[0].state, STATE_JOURNAL_PENDING);
	ck_assert_int_eq(j[0].created, 100);
	ck_assert_uint_eq(j[0].n_items, 3);
	ck_assert_uint_eq(j[0].items[0].uid, 1);
	ck_assert_uint_eq(j[0].items[0].actions, STATE_JA_SEEN);
	ck_assert_uint_eq(j[0].items[1].uid, 2);
	ck_assert_uint_eq(j[0].items[1].actions, STATE_JA_DELETE);
	ck_assert_uint_eq(j[0].items[2].uid, 5);
	ck_assert_uint_eq(j[0].items[2].actions, STATE_JA_DELETE | STATE_JA_SEEN);
	ck_assert_uint_eq(j[0].items[2].uidvalidity, 500);
	ck_assert(!j[0].items[2].done);
	state_journal_free(j, n);
	int64_t pending = -1, stuck = -1;
	OK(state_journal_unfinished(db, &pending, &stuck));
	ck_assert_int_eq(pending, 1);
	ck_assert_int_eq(stuck, 0);

	OK(state_journal_item_done(db, jid, del_ids[0]));
	OK(state_journal_item_done(db, jid, del_ids[0]));
	RC(state_journal_item_done(db, jid, 999999), STATE_NOTFOUND);
	OK(state_journal_set_state(db, jid, STATE_JOURNAL_UPSTREAM_DONE));
	OK(state_journal_set_state(db, jid, STATE_JOURNAL_UPSTREAM_DONE));
	RC(state_journal_set_state(db, jid, STATE_JOURNAL_PENDING), STATE_INVALID);
	RC(state_journal_set_state(db, jid, STATE_JOURNAL_DONE), STATE_INVALID);
	OK(state_journal_get(db, jid, &j));
	ck_assert_int_eq(j[0].state, STATE_JOURNAL_UPSTREAM_DONE);
	ck_assert(j[0].items[2].done);
	ck_assert(!j[0].items[1].done);
	state_journal_free(j, 1);

	/* a second entry, still pending, listed after the first */
	OK(state_journal_begin(db, b, mb, "hide", NULL, 0, NULL, 0, 101, &jid2));
	OK(state_journal_pending(db, acc, &j, &n));
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(j[1].id, jid2);
	ck_assert_uint_eq(j[1].n_items, 0);
	state_journal_free(j, n);
	/* the metrics' count (SPEC §14): both unfinished; stuck from the
	 * STATE_JOURNAL_STUCK-th failure of a run */
	for (int i = 0; i < STATE_JOURNAL_STUCK; i++) {
		OK(state_journal_unfinished(db, &pending, &stuck));
		ck_assert_int_eq(pending, 2);
		ck_assert_int_eq(stuck, 0);
		OK(state_journal_failed(db, jid2, "UID MOVE: NO", NULL));
	}
	OK(state_journal_unfinished(db, &pending, &stuck));
	ck_assert_int_eq(pending, 2);
	ck_assert_int_eq(stuck, 1);
	OK(state_journal_unfinished(db, NULL, NULL));

	OK(state_journal_finish(db, jid, true, 110));
	OK(state_journal_finish(db, jid, true, 120)); /* idempotent */
	OK(state_message_get(db, del_ids[0], &m));
	ck_assert_int_eq(m.gone, 110);
	OK(state_message_get(db, seen_ids[0], &m));
	ck_assert_int_eq(m.gone, 0); /* SEEN-only items stay */
	ck_assert_str_eq(view_of(b, &st_defaults), "1,3,4,6");
	OK(state_journal_pending(db, acc, &j, &n));
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(j[0].id, jid2);
	state_journal_free(j, n);
	OK(state_journal_finish(db, jid2, false, 130));
	OK(state_journal_pending(db, acc, &j, &n));
	ck_assert_uint_eq(n, 0);
	OK(state_journal_unfinished(db, &pending, &stuck));
	ck_assert_int_eq(pending, 0);
	ck_assert_int_eq(stuck, 0);
	ck_assert_ptr_null(j);
	RC(state_journal_finish(db, 9999, false, 1), STATE_NOTFOUND);
	RC(state_journal_get(db, 9999, &j), STATE_NOTFOUND);
	{
		size_t removed;

		OK(state_journal_purge(db, 101, &removed));
		ck_assert_uint_eq(removed, 1);
		RC(state_journal_get(db, jid, &j), STATE_NOTFOUND);
		OK(state_journal_get(db, jid2, &j));
		state_journal_free(j, 1);
	}
}
END_TEST

START_TEST(journal_begin_is_all_or_nothing)
{
	int64_t a = st_device(acc, "a"), other_mb = st_mailbox(acc, "Other");
	int64_t other_acc = st_account("bob"), bob_mb = st_mailbox(other_acc, "INBOX");
	int64_t ids[2] = { st_msg_id(mb, 1), 0 };
	struct state_journal *j = NULL;
	size_t n;
	struct state_listing li;
	struct st_keys lk;

	li = st_item(1, 99, 0, &lk);
	OK(state_messages_sync(db, other_mb, &(struct state_mailbox_status){ 8, 2, 0 }, &li, 1,
	    true, 1, NULL));
	ids[1] = st_msg_id(other_mb, 1);
	RC(state_journal_begin(db, a, mb, "trash", ids, 2, NULL, 0, 5, NULL), STATE_INVALID);
	ck_assert_str_eq(view_of(a, &st_defaults), "1,2,3,4,5,6");
	OK(state_journal_pending(db, acc, &j, &n));
	ck_assert_uint_eq(n, 0);
	RC(state_journal_begin(db, a, mb, "shred", ids, 1, NULL, 0, 5, NULL), STATE_INVALID);
	RC(state_journal_begin(db, 9999, mb, "hide", ids, 1, NULL, 0, 5, NULL), STATE_NOTFOUND);
	RC(state_journal_begin(db, a, bob_mb, "hide", NULL, 0, NULL, 0, 5, NULL),
	    STATE_INVALID);
	ids[1] = 999999;
	RC(state_journal_begin(db, a, mb, "hide", ids, 2, NULL, 0, 5, NULL), STATE_NOTFOUND);
	ck_assert_str_eq(view_of(a, &st_defaults), "1,2,3,4,5,6");
}
END_TEST

/* A process writes the intent and is killed before finishing: after
 * reopening, the entry is pending with its items and the device's hiding
 * is in place — the next session replays the upstream steps. */
START_TEST(journal_survives_a_crash)
{
	int64_t a = st_device(acc, "a");
	int64_t ids[2] = { st_msg_id(mb, 3), st_msg_id(mb, 4) };
	struct state_journal *j = NULL;
	size_t n;
	pid_t pid;
	int status_;

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char err[256];
		struct state_db *h = state_open(st_path, err, sizeof err);

		if (h == NULL ||
		    state_journal_begin(h, a, mb, "last-device", ids, 2, NULL, 0, 300, NULL) !=
		    STATE_OK)
			_exit(3);
		raise(SIGKILL);
		_exit(4);
	}
	ck_assert_int_eq(waitpid(pid, &status_, 0), pid);
	ck_assert(WIFSIGNALED(status_) && WTERMSIG(status_) == SIGKILL);
	state_close(db);
	db = st_open();
	OK(state_journal_pending(db, acc, &j, &n));
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(j[0].state, STATE_JOURNAL_PENDING);
	ck_assert_str_eq(j[0].policy, "last-device");
	ck_assert_uint_eq(j[0].n_items, 2);
	ck_assert_uint_eq(j[0].items[0].uid, 3);
	ck_assert_uint_eq(j[0].items[1].uid, 4);
	state_journal_free(j, n);
	ck_assert_str_eq(view_of(a, &st_defaults), "1,2,5,6");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("state-view");
	TCase *tc = tcase_create("view");

	tcase_add_checked_fixture(tc, view_setup, st_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, view_all_hide_and_keyword);
	tcase_add_test(tc, view_window);
	tcase_add_test(tc, view_offer_unseen);
	tcase_add_test(tc, view_since_enrolment_across_renumbering);
	tcase_add_test(tc, view_folder_override);
	tcase_add_test(tc, last_device_holders);
	tcase_add_test(tc, counters_and_reset);
	tcase_add_test(tc, journal_lifecycle);
	tcase_add_test(tc, journal_begin_is_all_or_nothing);
	tcase_add_test(tc, journal_survives_a_crash);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return st_run(suite());
}
