/* tests/bridge/check_import_cli.c — `popbridge import-uidls` command line
 * through the binary: --help, required options, bad URLs and flags (exit 2),
 * a missing upstream (exit 1), a new account's name no device could log in
 * with (exit 1), an unreadable or empty password file, and
 * none of them creates a state file or prints a password. */
#include "tests/bridge/bt.h"

#include <sys/stat.h>

#include "state/state.h"

/* 256 octets: one more than an account name may have */
#define X16 "xxxxxxxxxxxxxxxx"
#define LONG_ACCOUNT X16 X16 X16 X16 X16 X16 X16 X16 X16 X16 X16 X16 X16 X16 X16 X16

static int run_import(const char *const *args, const char *state, char **out, char **err)
{
	const char *bin = bt_env("POPBRIDGE_BIN");
	char *argv[32];
	size_t n = 0;

	argv[n++] = (char *)bin;
	argv[n++] = "import-uidls";
	for (size_t i = 0; args[i] != NULL; i++)
		argv[n++] = (char *)args[i];
	argv[n++] = "--state";
	argv[n++] = (char *)state;
	argv[n] = NULL;
	return bt_run(argv, out, err);
}

static const char *state_path(void)
{
	static char p[600];
	snprintf(p, sizeof(p), "%s.db", bt_write_file("st", ""));
	return p;
}

struct usage_case {
	const char *args[12];
	int status;
	const char *msg;
};

START_TEST(usage_errors)
{
	static const struct usage_case c[] = {
		{ { "--from", "pop3://h", "--from-user", "u", NULL }, 2, "--account is required" },
		{ { "--account", "a", "--from-user", "u", NULL }, 2, "--from is required" },
		{ { "--account", "a", "--from", "pop3://h", NULL }, 2, "--from-user is required" },
		{ { "--account", "a", "--from", "imap://h", "--from-user", "u", NULL }, 2, "--from:" },
		{ { "--account", "a", "--from", "pop3://h:99999", "--from-user", "u", NULL }, 2,
		    "--from: port '99999' is not a number from 1 to 65535" },
		{ { "--account", "a", "--from", "pop3://h", "--from-user", "u", "--dry-run=yes",
		    NULL }, 2, "takes no value" },
		{ { "--account", "a", "--account", "b", "--from", "pop3://h", "--from-user", "u",
		    NULL }, 2, "given twice" },
		{ { "--account", "a", "--from", "pop3://h", "--from-user", "u", "--listen",
		    "127.0.0.1:1", NULL }, 2, "listen" },
		{ { "--account", "a\x01", "--from", "pop3://h", "--from-user", "u", NULL }, 2,
		    "--account: " STATE_ACCOUNT_RULE "\n" },
		{ { "--account", LONG_ACCOUNT, "--from", "pop3://h", "--from-user", "u", NULL }, 2,
		    "--account: " STATE_ACCOUNT_RULE "\n" },
		{ { "--account", "a", "--from", "pop3://h", "--from-user", "u", "extra", NULL }, 2,
		    NULL },
		{ { "--account", "a", "--from", "pop3://h", "--from-user", "u", NULL }, 1,
		    "no upstream server" },
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		const char *st = state_path();
		struct stat sb;
		char *out, *err;
		int rc = run_import(c[i].args, st, &out, &err);
		ck_assert_msg(rc == c[i].status, "case %zu: exit %d (want %d): %s", i, rc,
		    c[i].status, err);
		if (c[i].msg != NULL)
			ck_assert_msg(strstr(err, c[i].msg) != NULL, "case %zu: '%s' lacks '%s'", i,
			    err, c[i].msg);
		ck_assert_str_eq(out, "");
		ck_assert_msg(stat(st, &sb) != 0, "case %zu created the state file", i);
		free(out);
		free(err);
	}
}
END_TEST

START_TEST(help)
{
	static const char *const args[] = { "--help", NULL };
	char *out, *err;
	ck_assert_int_eq(run_import(args, state_path(), &out, &err), 0);
	ck_assert_ptr_nonnull(strstr(out, "usage: popbridge import-uidls --account ACCOUNT"));
	ck_assert_ptr_nonnull(strstr(out, "--dry-run"));
	/* every option the command accepts is listed with what it does */
	static const char *const listed[] = { "--upstream-timeout SECS ", "--auth MODE ",
		"--key-file FILE ", "--dele-keyword WORD " };
	for (size_t i = 0; i < sizeof(listed) / sizeof(listed[0]); i++)
		ck_assert_msg(strstr(out, listed[i]) != NULL, "%s missing", listed[i]);
	free(out);
	free(err);
}
END_TEST

/* A passthrough account the import would create must have a name devices
 * can log in with: no space, no device separator (as `account add`). */
START_TEST(new_account_names)
{
	static const char *const names[] = { "a b", "a#b" };
	static const char *const msgs[] = { "an account name has no space",
		"may not contain the device separator '#'" };
	const char *pw = bt_write_file("old.pw", "secret\n");

	for (size_t i = 0; i < 2; i++) {
		const char *args[] = { "--account", names[i], "--from", "pop3://127.0.0.1:1",
			"--from-user", "u", "--from-password-file", pw, "--upstream",
			"imap://127.0.0.1:1", "--upstream-tls", "none", NULL };
		const char *st = state_path();
		struct stat sb;
		char *out, *err;
		ck_assert_int_eq(run_import(args, st, &out, &err), 1);
		ck_assert_msg(strstr(err, msgs[i]) != NULL, "'%s' lacks '%s'", err, msgs[i]);
		ck_assert_str_eq(out, "");
		ck_assert_int_ne(stat(st, &sb), 0);
		free(out);
		free(err);
	}
}
END_TEST

/* Password files: unreadable, empty; the password never echoes. */
START_TEST(password_files)
{
	const char *empty = bt_write_file("empty.pw", "\n");
	const char *args1[] = { "--account", "a", "--from", "pop3://127.0.0.1:1", "--from-user",
		"u", "--from-password-file", "/nonexistent/pw", "--upstream",
		"imap://127.0.0.1:1", "--upstream-tls", "none", NULL };
	const char *args2[] = { "--account", "a", "--from", "pop3://127.0.0.1:1", "--from-user",
		"u", "--from-password-file", empty, "--upstream", "imap://127.0.0.1:1",
		"--upstream-tls", "none", NULL };
	char *out, *err;
	const char *st = state_path();
	struct stat sb;

	ck_assert_int_eq(run_import(args1, st, &out, &err), 1);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/pw"));
	free(out);
	free(err);
	ck_assert_int_eq(run_import(args2, st, &out, &err), 1);
	ck_assert_ptr_nonnull(strstr(err, "the first line must hold the password"));
	free(out);
	free(err);
	ck_assert_int_ne(stat(st, &sb), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("import-cli");
	TCase *t = tcase_create("cli");
	tcase_add_test(t, usage_errors);
	tcase_add_test(t, help);
	tcase_add_test(t, password_files);
	tcase_add_test(t, new_account_names);
	tcase_set_timeout(t, 60);
	suite_add_tcase(s, t);
	return bt_run_suite(s);
}
