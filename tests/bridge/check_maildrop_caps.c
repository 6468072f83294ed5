/* tests/bridge/check_maildrop_caps.c — the dele policies that take mail out
 * of a folder (trash, expunge, last-device) on servers that announce neither
 * MOVE, or neither MOVE nor UIDPLUS (SPEC §3): the real Dovecot of the
 * harness with its announced CAPABILITY list overridden (imap_capability;
 * the bridge goes by what is announced, whatever Dovecot would accept).
 *
 * In every case another client's \Deleted message in the same folder
 * survives (never a plain EXPUNGE), every deleted message is in Trash
 * exactly once or removed as the policy says, and a kill -9 between the
 * COPY and the removal of the originals is replayed without a second copy.
 */
#include "tests/bridge/check_maildrop.h"
#include "bridge/maildrop/commit.h"
#include "bridge/maildrop/internal.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static bool has_uidplus;

static void start_with(const char *caps, bool uidplus)
{
	mdt_dc_setup_caps(caps);
	has_uidplus = uidplus;
}

static void setup_no_move(void)
{
	start_with(CAPS_NO_MOVE, true);
}

static void setup_bare(void)
{
	start_with(CAPS_BARE, false);
}

/* Three messages (ids[0..2]) and a fourth that another IMAP client has
 * marked \Deleted without expunging it (other). */
static void mail_with_other_deleted(const char *user, uint32_t seed, char ids[3][128],
    char other[128])
{
	for (int i = 0; i < 3; i++)
		mdt_deliver(user, seed + (uint32_t)i, PBT_MSG_PLAIN, "", ids[i]);
	mdt_deliver(user, seed + 3, PBT_MSG_PLAIN, "", other);
	struct imap_session *adm = adm_open(user);
	ck_assert(!imap_has(adm, IMAP_CAP_MOVE));
	ck_assert_uint_eq(imap_has(adm, IMAP_CAP_UIDPLUS), has_uidplus);
	uint32_t uid = 0;
	ck_assert_uint_eq(adm_find(adm, "INBOX", other, &uid), 1);
	struct imap_uidset one;
	imap_uidset_init(&one);
	ck_assert_int_eq(imap_uidset_add(&one, uid), 0);
	ck_assert_int_eq(imap_store_flags(adm, &one, true, IMAP_FLAG_DELETED, NULL, 0), IMAP_OK);
	imap_uidset_free(&one);
	adm_close(adm);
}

/* Upstream after device a deleted ids[0] and ids[1] under policy: where
 * they are, the other client's \Deleted message, and what device b sees. */
static void check_upstream(struct mdt_env *e, const char *policy, char ids[3][128],
    const char *other)
{
	bool trash = strcmp(policy, "trash") == 0;
	/* Without UIDPLUS expunge and last-device move to Trash instead. */
	bool to_trash = trash || !has_uidplus;
	struct imap_session *adm = adm_open(e->user);

	if (!to_trash)
		ck_assert_int_le(adm_count(adm, "Trash"), 0);
	for (int i = 0; i < 2; i++) {
		if (to_trash)
			ck_assert_uint_eq(adm_find(adm, "Trash", ids[i], NULL), 1);
		if (has_uidplus) {
			ck_assert_uint_eq(adm_find(adm, "INBOX", ids[i], NULL), 0);
			continue;
		}
		/* No UIDPLUS: the original stays, \Deleted and with the keyword. */
		bool kw = false;
		unsigned f = adm_msg_flags(adm, "INBOX", ids[i], "$POP3Deleted", &kw);
		ck_assert(f & IMAP_FLAG_DELETED);
		ck_assert(kw);
	}
	ck_assert_uint_eq(adm_find(adm, "INBOX", ids[2], NULL), 1);
	ck_assert_uint_eq(adm_find(adm, "INBOX", other, NULL), 1);
	ck_assert(adm_msg_flags(adm, "INBOX", other, NULL, NULL) & IMAP_FLAG_DELETED);
	ck_assert_int_eq(adm_count(adm, "INBOX"), has_uidplus ? 2 : 4);
	adm_close(adm);
	/* Every POP3 device of the account: the deleted ones are gone from its
	 * view (moved, expunged, or carrying the keyword). */
	mdt_expect_count(e, "b", 2);
}

static const char *const policies[] = { "trash", "expunge", "last-device" };

START_TEST(t_policy)
{
	struct mdt_env e;
	struct mdt_sess a;
	char ids[3][128], other[128], user[32];
	const char *policy = policies[_i];

	snprintf(user, sizeof(user), "pol%d", _i);
	mdt_env_init(&e, user, "dele", policy, NULL);
	mail_with_other_deleted(user, 3000 + 10 * (uint32_t)_i, ids, other);
	mdt_open(&e, &a, "a");
	ck_assert_uint_eq(mdt_count(&a), 4);
	size_t del[2] = { 0, 1 };
	mdt_commit(&a, del, 2);
	mdt_close(&a);
	check_upstream(&e, policy, ids, other);
	/* Sessions later: nothing more happens (no second copy). */
	mdt_expect_count(&e, "a", 2);
	check_upstream(&e, policy, ids, other);
	mdt_env_free(&e);
}
END_TEST

/* kill -9 between the COPY (recorded) and the removal of the originals
 * (after-upstream-step: with seen_on never the COPY is the first upstream
 * step), then the next session of the account replays: no second copy,
 * nothing lost, the other client's \Deleted message still there. */
START_TEST(t_crash_after_copy)
{
	struct mdt_env e;
	char ids[3][128], other[128], user[32];
	const char *policy = _i == 0 ? "trash" : "expunge";

	snprintf(user, sizeof(user), "crash%d", _i);
	mdt_env_init(&e, user, "dele", policy, "seen-on", "never", NULL);
	mail_with_other_deleted(user, 3100 + 10 * (uint32_t)_i, ids, other);
	mdt_expect_count(&e, "b", 4);
	/* expunge with UIDPLUS is no move at all: nothing to copy. */
	bool copies = _i == 0 || !has_uidplus;

	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct mdt_sess s;
		e.ctx.crash_at = BRIDGE_CRASH_AFTER_UPSTREAM_STEP;
		if (mdt_open_as(&e, &s, user, MDT_PASS) != POP3_MD_OK)
			_exit(3);
		size_t del[2] = { 0, 1 };
		struct pop3_md_reply r = { .text = "" };
		maildrop_ops.commit(s.md, del, 2, &r);
		_exit(4);
	}
	int status = 0;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
	    "child not killed at the point (status %d)", status);
	if (copies) {
		/* Killed between the two halves: copied, originals untouched. */
		struct imap_session *adm = adm_open(e.user);
		for (int i = 0; i < 2; i++) {
			ck_assert_uint_eq(adm_find(adm, "Trash", ids[i], NULL), 1);
			ck_assert_uint_eq(adm_find(adm, "INBOX", ids[i], NULL), 1);
			ck_assert(!(adm_msg_flags(adm, "INBOX", ids[i], NULL, NULL) &
			    IMAP_FLAG_DELETED));
		}
		adm_close(adm);
	}
	/* Recovery: the next session of the account (device b). */
	mdt_expect_count(&e, "b", 2);
	check_upstream(&e, policy, ids, other);
	/* The crashed device (default) re-downloads nothing. */
	mdt_expect_count(&e, NULL, 2);
	check_upstream(&e, policy, ids, other);
	mdt_env_free(&e);
}
END_TEST

/* Device a is at its QUIT: the intent is durable, its upstream steps are
 * yet to run, its session holds the device's lock. Returns the entry as a's
 * commit loaded it. */
static struct state_journal *quit_begun(struct mdt_sess *a, size_t index)
{
	struct maildrop_md *md = a->md;
	int64_t del = md->view[index].id, jid = 0;
	struct state_journal *ea = NULL;

	ck_assert_int_eq(state_journal_begin(md->db, md->device_id, md->mailbox_id, "trash",
	    &del, 1, NULL, 0, 1000, &jid), STATE_OK);
	ck_assert_int_eq(state_journal_get(md->db, jid, &ea), STATE_OK);
	return ea;
}

static enum state_journal_state entry_state(struct mdt_sess *s, int64_t id)
{
	struct state_journal *e = NULL;
	ck_assert_int_eq(state_journal_get(((struct maildrop_md *)s->md)->db, id, &e), STATE_OK);
	enum state_journal_state st = e->state;
	state_journal_free(e, 1);
	return st;
}

/* Issue 12: the replay at the start of b's session ran a's entry while a's
 * session was running it at its QUIT; without MOVE both UID COPY, a
 * duplicate in Trash. The replay leaves an entry whose device is in a
 * session to that session, and runs it once the session is gone. */
START_TEST(t_replay_leaves_busy_device)
{
	struct mdt_env e;
	struct mdt_sess a, b;
	char ids[3][128], d[BRIDGE_DETAIL_MAX];

	mdt_env_init(&e, "race", "dele", "trash", NULL);
	mdt_three(e.user, ids, 3200);
	mdt_open(&e, &a, "a");
	struct state_journal *ea = quit_begun(&a, 0);

	/* b starts meanwhile: a's entry is not touched */
	mdt_open(&e, &b, "b");
	ck_assert_int_eq(entry_state(&b, ea->id), STATE_JOURNAL_PENDING);
	struct imap_session *adm = adm_open(e.user);
	ck_assert_int_le(adm_count(adm, "Trash"), 0);
	adm_close(adm);
	mdt_close(&b);

	/* a's commit goes on and finishes it */
	struct maildrop_md *md = a.md;
	struct maildrop_commit_env env = {
		.up = &md->up, .db = md->db, .opt = md->opt, .now = 1000,
	};
	ck_assert_msg(maildrop_commit_run(&env, ea, false, d, sizeof(d)) == 0, "%s", d);
	state_journal_free(ea, 1);
	mdt_close(&a);

	/* a session that ends with its entry unfinished (the lock goes with
	 * it): the next session of the account replays the entry */
	mdt_open(&e, &a, "a");
	ea = quit_begun(&a, 0);
	mdt_close(&a);
	mdt_open(&e, &b, "b");
	ck_assert_int_eq(entry_state(&b, ea->id), STATE_JOURNAL_DONE);
	state_journal_free(ea, 1);
	mdt_close(&b);

	adm = adm_open(e.user);
	for (int i = 0; i < 2; i++) {
		ck_assert_uint_eq(adm_find(adm, "Trash", ids[i], NULL), 1);   /* one copy */
		ck_assert_uint_eq(adm_find(adm, "INBOX", ids[i], NULL), 0);
	}
	ck_assert_int_eq(adm_count(adm, "Trash"), 2);
	ck_assert_uint_eq(adm_find(adm, "INBOX", ids[2], NULL), 1);
	adm_close(adm);
	mdt_env_free(&e);
}
END_TEST

static void add_tests(TCase *tc)
{
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, t_policy, 0, (int)(sizeof(policies) / sizeof(policies[0])));
	tcase_add_loop_test(tc, t_crash_after_copy, 0, 2);
}

static Suite *caps_suite(void)
{
	Suite *s = suite_create("maildrop-caps");
	TCase *no_move = tcase_create("no-move");
	tcase_add_unchecked_fixture(no_move, setup_no_move, mdt_dc_teardown);
	tcase_add_test(no_move, t_replay_leaves_busy_device);
	add_tests(no_move);
	suite_add_tcase(s, no_move);
	TCase *bare = tcase_create("no-move-no-uidplus");
	tcase_add_unchecked_fixture(bare, setup_bare, mdt_dc_teardown);
	add_tests(bare);
	suite_add_tcase(s, bare);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(caps_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
