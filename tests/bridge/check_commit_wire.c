/* tests/bridge/check_commit_wire.c — the exact IMAP commands of the commit
 * path (docs/DESIGN.md "Commit and crash safety", SPEC §3/§5): for each
 * `dele` policy, on a server with MOVE and UIDPLUS, without MOVE, and
 * without MOVE and UIDPLUS. Recorded from the bridge talking to the real
 * Dovecot of the harness through the recording relay of
 * tests/lib/fakeserver.h (PBT_RELAY); the missing capabilities are taken out
 * of what Dovecot announces (imap_capability), which is all the bridge goes
 * by. Tags are shown as "T"; the server's lines are left out (Dovecot's
 * carry timings).
 *
 * Each session: three messages, device "a" with seen_on quit retrieves the
 * third and deletes the first two; the transcript runs from the commit()
 * call to its answer. */
#include "tests/bridge/check_maildrop.h"
#include "tests/lib/fakeserver.h"

enum caps { FULL, NO_MOVE, BARE, NCAPS };

static const char *const policies[] = {
	"hide", "trash", "archive", "flag", "expunge", "last-device",
};
#define NPOL (sizeof(policies) / sizeof(policies[0]))

/* The steps, as the commands read on the wire. SEEN: seen_on quit's step
 * for the retrieved UID 3, always first. TO(cmd, folder): the folder found
 * by SPECIAL-USE (none here), NAMESPACE (Dovecot: no prefix), cmd refused with [TRYCREATE], the folder
 * created, cmd again. */
#define SEEN "C: T UID STORE 3 +FLAGS.SILENT (\\Seen)\r\n"
#define TO(cmd, folder) "C: T LIST \"\" \"*\" RETURN (SPECIAL-USE)\r\nC: T NAMESPACE\r\n" \
	"C: T UID " cmd " 1:2 " folder "\r\nC: T CREATE " folder "\r\n" \
	"C: T UID " cmd " 1:2 " folder "\r\n"
#define EXPUNGE "C: T UID STORE 1:2 +FLAGS.SILENT (\\Deleted)\r\nC: T UID EXPUNGE 1:2\r\n"
#define FLAG "C: T UID STORE 1:2 +FLAGS.SILENT ($POP3Deleted)\r\n"
/* no UIDPLUS: the originals are never expunged */
#define HIDE_ORIGINALS "C: T UID STORE 1:2 +FLAGS.SILENT (\\Deleted $POP3Deleted)\r\n"

static const char *const want[NCAPS][NPOL] = {
	[FULL] = {
		/* hide */ SEEN,
		/* trash */ SEEN TO("MOVE", "Trash"),
		/* archive */ SEEN TO("MOVE", "Archive"),
		/* flag */ SEEN FLAG,
		/* expunge */ SEEN EXPUNGE,
		/* last-device (a is the only device) */ SEEN EXPUNGE,
	},
	[NO_MOVE] = {
		/* hide */ SEEN,
		/* trash */ SEEN TO("COPY", "Trash") EXPUNGE,
		/* archive */ SEEN TO("COPY", "Archive") EXPUNGE,
		/* flag */ SEEN FLAG,
		/* expunge */ SEEN EXPUNGE,
		/* last-device */ SEEN EXPUNGE,
	},
	[BARE] = {
		/* hide */ SEEN,
		/* trash */ SEEN TO("COPY", "Trash") HIDE_ORIGINALS,
		/* archive */ SEEN TO("COPY", "Archive") HIDE_ORIGINALS,
		/* flag */ SEEN FLAG,
		/* expunge: moved to Trash instead */ SEEN TO("COPY", "Trash") HIDE_ORIGINALS,
		/* last-device: the same */ SEEN TO("COPY", "Trash") HIDE_ORIGINALS,
	},
};

static void setup_full(void)
{
	mdt_dc_setup();
}

static void setup_no_move(void)
{
	mdt_dc_setup_caps(CAPS_NO_MOVE);
}

static void setup_bare(void)
{
	mdt_dc_setup_caps(CAPS_BARE);
}

/* The commit of policy as the relay saw it. */
static char *commit_commands(enum caps c, const char *policy, const char *user)
{
	struct pbt_step relay[] = { PBT_RELAY(dc->imap_port), PBT_END };
	struct pbt_fake *f = pbt_fake_start(relay, 0);
	struct mdt_env e;
	struct mdt_sess a;
	char ids[3][128], url[64], err[PB_ERR_MAX];
	size_t del[2] = { 0, 1 };

	ck_assert_ptr_nonnull(f);
	mdt_env_init(&e, user, "dele", policy, "seen-on", "quit", NULL);
	snprintf(url, sizeof(url), "imap://127.0.0.1:%d", f->port);
	ck_assert_int_eq(config_options_set(&e.opt, PB_K_UPSTREAM, url, err, sizeof(err)), 0);
	ck_assert_int_eq(config_options_finish(&e.opt, true, NULL, err, sizeof(err)), 0);
	mdt_three(user, ids, 4000 + 10 * (uint32_t)c);
	mdt_open(&e, &a, "a");
	ck_assert_uint_eq(mdt_count(&a), 3);
	mdt_retr(&a, 2, NULL);
	size_t mark = pbt_fake_log_len(f);
	mdt_commit(&a, del, 2);
	char *got = pbt_fake_commands(f, mark);
	mdt_close(&a);
	pbt_fake_stop(f);
	PBT_FAKE_FINISH(f);
	mdt_env_free(&e);
	return got;
}

static void check_policy(enum caps c, int i)
{
	char user[32];

	snprintf(user, sizeof(user), "wire%d%d", (int)c, i);
	char *got = commit_commands(c, policies[i], user);
	ck_assert_msg(strcmp(got, want[c][i]) == 0, "dele %s: commit sent\n%s--- want:\n%s",
	    policies[i], got, want[c][i]);
	free(got);
}

START_TEST(t_full)
{
	check_policy(FULL, _i);
}
END_TEST

START_TEST(t_no_move)
{
	check_policy(NO_MOVE, _i);
}
END_TEST

START_TEST(t_bare)
{
	check_policy(BARE, _i);
}
END_TEST

static TCase *caps_case(const char *name, void (*setup)(void), const TTest *t)
{
	TCase *tc = tcase_create(name);
	tcase_add_unchecked_fixture(tc, setup, mdt_dc_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, t, 0, (int)NPOL);
	return tc;
}

int main(void)
{
	Suite *s = suite_create("commit-wire");
	suite_add_tcase(s, caps_case("move-uidplus", setup_full, t_full));
	suite_add_tcase(s, caps_case("no-move", setup_no_move, t_no_move));
	suite_add_tcase(s, caps_case("no-move-no-uidplus", setup_bare, t_bare));
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
