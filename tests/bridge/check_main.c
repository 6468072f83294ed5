/* tests/bridge/check_main.c — the popbridge command's dispatch: help lists
 * the subcommands, each answers --help, version, and clear exit-2 messages
 * for unknown commands and options. Runs the real binary (POPBRIDGE_BIN). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/base/version.h"
#include "tests/bridge/bt.h"

static int run(const char *a1, const char *a2, const char *a3, char **out, char **err)
{
	char *argv[] = { (char *)bt_env("POPBRIDGE_BIN"), (char *)a1, (char *)a2, (char *)a3, NULL };
	return bt_run(argv, out, err);
}

START_TEST(test_no_arguments)
{
	char *out, *err;
	ck_assert_int_eq(run(NULL, NULL, NULL, &out, &err), 2);
	ck_assert_ptr_nonnull(strstr(err, "usage: popbridge COMMAND"));
	ck_assert_str_eq(out, "");
	free(out);
	free(err);
}
END_TEST

START_TEST(test_help_lists_commands)
{
	char *out, *err, *out2, *err2;
	ck_assert_int_eq(run("help", NULL, NULL, &out, &err), 0);
	ck_assert_str_eq(err, "");
	ck_assert_ptr_nonnull(strstr(out, "\n  check-config "));
	ck_assert_ptr_nonnull(strstr(out, "\n  version "));
	ck_assert_ptr_nonnull(strstr(out, "\n  help "));
	ck_assert_int_eq(run("--help", NULL, NULL, &out2, &err2), 0);
	ck_assert_str_eq(out, out2);
	free(out);
	free(err);
	free(out2);
	free(err2);
}
END_TEST

/* Every command that help lists answers --help with its usage, exit 0. */
START_TEST(test_every_listed_command_has_help)
{
	char *out, *err;
	ck_assert_int_eq(run("help", NULL, NULL, &out, &err), 0);
	int listed = 0;
	for (char *line = strstr(out, "\n  "); line; line = strstr(line + 1, "\n  ")) {
		char name[64];
		ck_assert_int_eq(sscanf(line + 3, "%63s", name), 1);
		char *o, *e;
		ck_assert_msg(run(name, "--help", NULL, &o, &e) == 0, "%s --help: %s", name, e);
		ck_assert_msg(strstr(o, "usage: popbridge") != NULL, "%s --help printed: %s", name, o);
		free(o);
		free(e);
		listed++;
	}
	ck_assert_int_ge(listed, 3);
	free(out);
	free(err);
}
END_TEST

/* autoconfig's --help lists --upstream-tls, which it accepts (check_cli
 * checks every option of every command). */
START_TEST(test_autoconfig_usage_names_upstream_tls)
{
	char *out, *err;
	ck_assert_int_eq(run("autoconfig", "--help", NULL, &out, &err), 0);
	ck_assert_msg(strstr(out, "\n  --upstream-tls MODE ") != NULL, "usage: %s", out);
	free(out);
	free(err);
}
END_TEST

START_TEST(test_version)
{
	char *out, *err;
	ck_assert_int_eq(run("version", NULL, NULL, &out, &err), 0);
	ck_assert_str_eq(out, "popbridge " POPBRIDGE_VERSION "\n");
	free(out);
	free(err);
	ck_assert_int_eq(run("--version", NULL, NULL, &out, &err), 0);
	ck_assert_str_eq(out, "popbridge " POPBRIDGE_VERSION "\n");
	free(out);
	free(err);
	ck_assert_int_eq(run("version", "extra", NULL, &out, &err), 2);
	ck_assert_str_eq(err, "popbridge version: unexpected argument 'extra'\n");
	ck_assert_str_eq(out, "");
	free(out);
	free(err);
	ck_assert_int_eq(run("version", "--bogus", NULL, &out, &err), 2);
	ck_assert_str_eq(err,
	    "popbridge version: unknown option '--bogus' (see 'popbridge version --help')\n");
	free(out);
	free(err);
	/* version reads no configuration file: --config is refused */
	ck_assert_int_eq(run("version", "--config", "x.xml", &out, &err), 2);
	ck_assert_str_eq(err,
	    "popbridge version: unknown option '--config' (see 'popbridge version --help')\n");
	ck_assert_str_eq(out, "");
	free(out);
	free(err);
}
END_TEST

START_TEST(test_unknown_command)
{
	char *out, *err;
	ck_assert_int_eq(run("frobnicate", NULL, NULL, &out, &err), 2);
	ck_assert_str_eq(err, "popbridge: unknown command 'frobnicate' (see 'popbridge help')\n");
	ck_assert_str_eq(out, "");
	free(out);
	free(err);
	ck_assert_int_eq(run("--frob", NULL, NULL, &out, &err), 2);
	ck_assert_str_eq(err, "popbridge: unknown command '--frob' (see 'popbridge help')\n");
	free(out);
	free(err);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("main");
	TCase *tc = tcase_create("main");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_no_arguments);
	tcase_add_test(tc, test_help_lists_commands);
	tcase_add_test(tc, test_every_listed_command_has_help);
	tcase_add_test(tc, test_autoconfig_usage_names_upstream_tls);
	tcase_add_test(tc, test_version);
	tcase_add_test(tc, test_unknown_command);
	suite_add_tcase(s, tc);
	return bt_run_suite(s);
}
