/* tests/bridge/check_import_dry.c — `popbridge import-uidls --dry-run`
 * never writes the real state file: against a real Dovecot (its POP3 as the
 * old server, its IMAP as the upstream), a state file of an older schema
 * version is byte-identical after a dry run (not migrated, nothing created
 * beside it) while the dry run still reports what it would store; the real
 * run then migrates it and stores the UIDLs. */
#include "tests/bridge/bt.h"

#include <sys/stat.h>

#include "state/state.h"
#include "state/state_test.h"
#include "tests/lib/cert.h"
#include "tests/lib/dovecot.h"
#include "tests/lib/testutil.h"

#define PW "dry-run-pw"

static struct pbt_dovecot *dc;

static void dc_setup(void)
{
	dc = pbt_dovecot_start();
	ck_assert_ptr_nonnull(dc);
	ck_assert_int_eq(pbt_dovecot_add_user(dc, "old", PW), 0);
	ck_assert_int_eq(pbt_dovecot_add_user(dc, "new", PW), 0);
	for (int i = 0; i < 3; i++) {
		char msg[256];
		int n = snprintf(msg, sizeof(msg), "From: a@example.org\r\nTo: b@example.org\r\n"
		    "Subject: dry %d\r\nMessage-ID: <dry%d@example.org>\r\n\r\nbody %d\r\n",
		    i, i, i);
		ck_assert_int_eq(pbt_dovecot_add_message(dc, "old", "INBOX", msg, (size_t)n, ""), 0);
		ck_assert_int_eq(pbt_dovecot_add_message(dc, "new", "INBOX", msg, (size_t)n, ""), 0);
	}
}

static void dc_teardown(void)
{
	pbt_dovecot_stop(dc);
}

/* popbridge import-uidls for account "new" from user "old", both passwords
 * on standard input; extra: NULL or "--dry-run". */
static int import(const char *state, const char *extra, char **out, char **err)
{
	char from[64], up[64], in[600];
	snprintf(from, sizeof(from), "pop3://127.0.0.1:%d", dc->pop3_port);
	snprintf(up, sizeof(up), "imap://127.0.0.1:%d", dc->imap_port);
	snprintf(in, sizeof(in), "%s", bt_write_file("stdin.txt", PW "\n" PW "\n"));
	char *argv[] = {
		"/bin/sh", "-c", "f=$1; shift; exec \"$@\" < \"$f\"", "sh", in,
		(char *)bt_env("POPBRIDGE_BIN"), "import-uidls", "--account", "new",
		"--from", from, "--from-user", "old", "--from-ca", dc->ca_file,
		"--upstream", up, "--upstream-tls", "none", "--state", (char *)state,
		(char *)extra, NULL,
	};
	return bt_run(argv, out, err);
}

static bool exists(const char *path, const char *suffix)
{
	char p[700];
	struct stat sb;
	snprintf(p, sizeof(p), "%s%s", path, suffix);
	return stat(p, &sb) == 0;
}

START_TEST(dry_run_leaves_older_schema_alone)
{
	char dir[256], path[320], err[512];
	char *out, *errout;
	size_t len1, len2;

	ck_assert_int_eq(pbt_mkdtemp("importdry", dir, sizeof(dir)), 0);
	snprintf(path, sizeof(path), "%s/state.db", dir);
	/* schema version 1, holding the account */
	struct state_db *db = state_open_at(path, 1, err, sizeof(err));
	ck_assert_msg(db != NULL, "%s", err);
	ck_assert_int_eq(state_account_add(db, "new", STATE_AUTH_PASSTHROUGH, NULL, NULL, 0,
	    5, NULL), STATE_OK);
	state_close(db);
	ck_assert(!exists(path, "-wal") && !exists(path, "-shm"));
	char *before = pbt_read_file(path, 1 << 24, &len1);
	ck_assert_ptr_nonnull(before);

	int rc = import(path, "--dry-run", &out, &errout);
	ck_assert_msg(rc == 0, "dry run: %d\n%s%s", rc, out, errout);
	ck_assert_ptr_nonnull(strstr(out, "dry run: the state file was not changed"));
	ck_assert_msg(strstr(out, "matched:   3 (would be stored: 3") != NULL, "%s", out);
	char *after = pbt_read_file(path, 1 << 24, &len2);
	ck_assert_ptr_nonnull(after);
	ck_assert_uint_eq(len1, len2);
	ck_assert_mem_eq(before, after, len1);
	ck_assert(!exists(path, "-wal") && !exists(path, "-shm") && !exists(path, "-journal"));
	free(out);
	free(errout);
	free(after);

	/* the real run migrates the file and stores the three UIDLs */
	rc = import(path, NULL, &out, &errout);
	ck_assert_msg(rc == 0, "import: %d\n%s%s", rc, out, errout);
	ck_assert_msg(strstr(out, "matched:   3 (stored now: 3") != NULL, "%s", out);
	db = state_open(path, err, sizeof(err));
	ck_assert_msg(db != NULL, "%s", err);
	ck_assert_int_eq(state_db_version(db), state_schema_version());
	state_close(db);
	free(out);
	free(errout);

	/* a dry run on the current schema: nothing more to store, bytes kept */
	free(before);
	before = pbt_read_file(path, 1 << 24, &len1);
	rc = import(path, "--dry-run", &out, &errout);
	ck_assert_msg(rc == 0, "second dry run: %d\n%s%s", rc, out, errout);
	ck_assert_msg(strstr(out, "would be stored: 0, already stored: 3") != NULL, "%s", out);
	after = pbt_read_file(path, 1 << 24, &len2);
	ck_assert_uint_eq(len1, len2);
	ck_assert_mem_eq(before, after, len1);
	free(out);
	free(errout);
	free(before);
	free(after);
	pbt_rmtree(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("import-dry");
	TCase *tc = tcase_create("dry");
	tcase_add_unchecked_fixture(tc, dc_setup, dc_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, dry_run_leaves_older_schema_alone);
	suite_add_tcase(s, tc);
	return bt_run_suite(s);
}
