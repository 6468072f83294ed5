/* tests/bridge/check_login_wire.c — what a login says upstream about its
 * client (SPEC §13 --upstream-forward-client-ip): the ID command carries
 * x-originating-ip and x-originating-port only when the option is on.
 * Recorded from the bridge talking to the harness's real Dovecot (which
 * offers ID) through the recording relay of tests/lib/fakeserver.h. */
#include "tests/bridge/check_maildrop.h"
#include "bridge/base/version.h"
#include "tests/lib/fakeserver.h"

/* The client's lines of one login from 192.0.2.44 port 40123. */
static char *login_commands(const char *user, bool forward)
{
	struct pbt_step relay[] = { PBT_RELAY(dc->imap_port), PBT_END };
	struct pbt_fake *f = pbt_fake_start(relay, 0);
	struct mdt_env e;
	struct mdt_sess s;
	char url[64], err[PB_ERR_MAX];

	ck_assert_ptr_nonnull(f);
	if (forward)
		mdt_env_init(&e, user, "upstream-forward-client-ip", "yes", NULL);
	else
		mdt_env_init(&e, user, NULL);
	snprintf(url, sizeof(url), "imap://127.0.0.1:%d", f->port);
	ck_assert_int_eq(config_options_set(&e.opt, PB_K_UPSTREAM, url, err, sizeof(err)), 0);
	ck_assert_int_eq(config_options_finish(&e.opt, true, NULL, err, sizeof(err)), 0);

	struct pop3_credentials cred = {
		.user = user, .password = MDT_PASS, .mechanism = "USER",
		.remote_addr = "192.0.2.44", .tls_version = NULL,
	};
	memset(&s, 0, sizeof(s));
	maildrop_conn_init(&s.conn, &e.ctx, "192.0.2.44", NULL);
	s.conn.remote_port = 40123;
	ck_assert_int_eq(maildrop_ops.open(&s.conn, &cred, &s.md, &s.reply), POP3_MD_OK);
	char *got = pbt_fake_commands(f, 0);
	mdt_close(&s);
	pbt_fake_stop(f);
	PBT_FAKE_FINISH(f);
	mdt_env_free(&e);
	return got;
}

START_TEST(t_forwarded)
{
	char *got = login_commands("fwd1", true);
	ck_assert_msg(strstr(got, "C: T ID (\"name\" \"popbridge\" \"version\" \"" POPBRIDGE_VERSION
	    "\" \"x-originating-ip\" \"192.0.2.44\" \"x-originating-port\" \"40123\")\r\n") != NULL,
	    "ID with the client's address not sent:\n%s", got);
	free(got);
}
END_TEST

START_TEST(t_not_forwarded)
{
	char *got = login_commands("fwd2", false);
	ck_assert_msg(strstr(got, "C: T ID (\"name\" \"popbridge\" \"version\" \"" POPBRIDGE_VERSION
	    "\")\r\n") != NULL, "plain ID not sent:\n%s", got);
	ck_assert_msg(strstr(got, "192.0.2.44") == NULL, "the client's address went upstream:\n%s",
	    got);
	free(got);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("login-wire");
	TCase *tc = tcase_create("id");
	tcase_add_unchecked_fixture(tc, mdt_dc_setup, mdt_dc_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, t_forwarded);
	tcase_add_test(tc, t_not_forwarded);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
