/* tests/bridge/check_rules.c — rules with one source each (issue 10):
 * the settings overlay (maildrop_settings_get: defaults < file < flags <
 * device section < stored overrides, each layer winning over the one
 * before), the unsealing of a managed account's stored upstream credential
 * (managed_upstream_unseal), and the account- and device-name length rules
 * (state's), refused one octet over the limit by every entry point: a
 * configuration <device> section, `popbridge device add`, the POP3 login
 * name, sealing. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "bridge/base/username.h"
#include "bridge/cmd/cmd.h"
#include "bridge/config/cmdline.h"
#include "bridge/maildrop/settings.h"
#include "bridge/managed/login.h"
#include "bridge/managed/secret.h"
#include "state/state.h"
#include "tests/bridge/bt.h"

/* ---- the settings overlay ------------------------------------------------- */

#define ACC "office@example.org"

/* The effective options of `--config FILE` + the flags below, as every
 * command builds them (config_settings_build). */
static void build(struct config_options *o)
{
	const char *path = bt_write_file("overlay.xml",
	    "<?xml version=\"1.0\"?>\n"
	    "<popbridge version=\"1\">\n"
	    "  <mailbox folder=\"FileBox\" offer=\"unseen\" window=\"5\" dele=\"trash\"/>\n"
	    "  <device account=\"" ACC "\" name=\"PC\" folder=\"SectionBox\" dele=\"flag\"/>\n"
	    "</popbridge>\n");
	char *argv[] = { "--config", (char *)path, "--folder", "FlagBox",
		"--offer", "since-enrolment", "--dele", "archive", NULL };
	struct config_cmdline c;
	char err[PB_ERR_MAX];

	ck_assert_msg(config_cmdline_parse(&c, &cmd_serve, 8, argv, err, sizeof(err)) == 0,
	    "%s", err);
	ck_assert_msg(config_settings_build(&c, false, o, config_report_print, stderr, err,
	    sizeof(err)) == 0, "%s", err);
	config_cmdline_free(&c);
}

START_TEST(test_overlay_layers)
{
	struct config_options o;
	struct maildrop_settings s;

	build(&o);
	/* A device without a section or stored overrides: seen-on is the
	 * built-in default (no layer sets it), window the file's (only the file
	 * sets it), offer and folder and dele the flags' (over the file's). */
	maildrop_settings_get(&o, ACC, "phone", NULL, &s);
	ck_assert_str_eq(s.eff.folder, "FlagBox");
	ck_assert_int_eq(s.eff.offer, PB_OFFER_SINCE_ENROLMENT);
	ck_assert_uint_eq(s.eff.window, 5);
	ck_assert_int_eq(s.eff.seen_on, PB_SEEN_RETR);
	ck_assert_int_eq(s.eff.dele, PB_DELE_ARCHIVE);
	ck_assert_uint_eq(s.stored, 0);
	ck_assert(memcmp(&s.cfg, &s.eff, sizeof(s.cfg)) == 0);

	/* Its section (names compare case-insensitively) over the flags. */
	maildrop_settings_get(&o, "Office@Example.org", "pc", NULL, &s);
	ck_assert_str_eq(s.eff.folder, "SectionBox");
	ck_assert_int_eq(s.eff.dele, PB_DELE_FLAG);
	ck_assert_int_eq(s.eff.offer, PB_OFFER_SINCE_ENROLMENT);
	ck_assert_uint_eq(s.eff.window, 5);

	/* The stored overrides over the section; cfg keeps the configuration's
	 * view; an unset field ("" / -1) and a word of no table are not used. */
	struct state_device_settings st = { .window = -1 };
	strcpy(st.folder, "StoredBox");
	strcpy(st.dele, "expunge");
	strcpy(st.seen_on, "never");
	strcpy(st.offer, "most");
	maildrop_settings_get(&o, ACC, "pc", &st, &s);
	ck_assert_str_eq(s.eff.folder, "StoredBox");
	ck_assert_int_eq(s.eff.dele, PB_DELE_EXPUNGE);
	ck_assert_int_eq(s.eff.seen_on, PB_SEEN_NEVER);
	ck_assert_int_eq(s.eff.offer, PB_OFFER_SINCE_ENROLMENT);
	ck_assert_uint_eq(s.eff.window, 5);
	ck_assert_uint_eq(s.stored, STATE_SET_FOLDER | STATE_SET_DELE | STATE_SET_SEEN_ON);
	ck_assert_str_eq(s.cfg.folder, "SectionBox");
	ck_assert_int_eq(s.cfg.dele, PB_DELE_FLAG);
	st.window = 0;  /* 0 (unlimited) is a value, not "unset" */
	strcpy(st.offer, "all");
	strcpy(st.login_delay, "0");   /* likewise: no delay for this device */
	maildrop_settings_get(&o, ACC, "pc", &st, &s);
	ck_assert_uint_eq(s.eff.window, 0);
	ck_assert_int_eq(s.eff.offer, PB_OFFER_ALL);
	ck_assert_uint_eq(s.stored, STATE_SET_ALL);

	/* state/ gets the configuration's view as its defaults. */
	struct state_view_defaults def;
	maildrop_settings_view_defaults(&s.cfg, &def);
	ck_assert_str_eq(def.folder, "SectionBox");
	ck_assert_str_eq(def.offer, "since-enrolment");
	ck_assert_int_eq(def.window, 5);
	config_options_free(&o);
}
END_TEST

/* ---- the stored upstream credential --------------------------------------- */

static void seal_into(const struct managed_key *k, struct state_account *a, const char *name,
    const char *pw, size_t pwlen)
{
	char err[PB_ERR_MAX];
	memset(a, 0, sizeof(*a));
	snprintf(a->name, sizeof(a->name), "%s", name);
	a->auth = STATE_AUTH_MANAGED;
	ck_assert_msg(managed_seal(k, name, (const unsigned char *)pw, pwlen, a->secret,
	    sizeof(a->secret), &a->secret_len, err, sizeof(err)) == 0, "%s", err);
}

START_TEST(test_upstream_unseal)
{
	struct managed_key k, other;
	struct state_account a;
	char user[STATE_USER_MAX + 1], pw[SECRET_PLAINTEXT_MAX + 1], err[PB_ERR_MAX];

	memset(k.bytes, 7, sizeof(k.bytes));
	memset(other.bytes, 8, sizeof(other.bytes));
	seal_into(&k, &a, "Office@Example.org", "Up-Pw", 5);
	/* no upstream user stored: the account's name */
	ck_assert_int_eq(managed_upstream_unseal(&k, &a, user, pw, err, sizeof(err)), 0);
	ck_assert_str_eq(user, "Office@Example.org");
	ck_assert_str_eq(pw, "Up-Pw");
	strcpy(a.upstream_user, "office");
	ck_assert_int_eq(managed_upstream_unseal(&k, &a, user, pw, err, sizeof(err)), 0);
	ck_assert_str_eq(user, "office");

	/* a wrong key: an error, nothing of the secret */
	ck_assert_int_eq(managed_upstream_unseal(&other, &a, user, pw, err, sizeof(err)), -1);
	ck_assert_str_eq(pw, "");
	ck_assert_str_eq(user, "");
	/* sealed for another spelling of the name: the stored name is the AAD */
	seal_into(&k, &a, "office@example.org", "Up-Pw", 5);
	strcpy(a.name, "Office@Example.org");
	ck_assert_int_eq(managed_upstream_unseal(&k, &a, user, pw, err, sizeof(err)), -1);
	/* not a text password */
	seal_into(&k, &a, ACC, "a\0b", 3);
	ck_assert_int_eq(managed_upstream_unseal(&k, &a, user, pw, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "not a text password");
	ck_assert(memchr(pw, 'b', sizeof(pw)) == NULL);
	/* passthrough: nothing stored */
	a.auth = STATE_AUTH_PASSTHROUGH;
	ck_assert_int_eq(managed_upstream_unseal(&k, &a, user, pw, err, sizeof(err)), -1);
	OPENSSL_cleanse(&a, sizeof(a));
}
END_TEST

/* ---- name length rules ---------------------------------------------------- */

static char *name_of(size_t n, char c)
{
	char *s = malloc(n + 1);
	ck_assert_ptr_nonnull(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static char problems[2048];

static void collect(void *arg, const char *file, unsigned line, const char *problem)
{
	(void)arg;
	(void)file;
	(void)line;
	strncat(problems, problem, sizeof(problems) - strlen(problems) - 2);
	strcat(problems, "\n");
}

/* A configuration with one <device> section; 0 when it loads. */
static int section(const char *account, const char *device)
{
	char xml[1024];
	struct config_options l;

	snprintf(xml, sizeof(xml), "<?xml version=\"1.0\"?>\n<popbridge version=\"1\">\n"
	    "  <device account=\"%s\" name=\"%s\" folder=\"X\"/>\n</popbridge>\n", account, device);
	problems[0] = '\0';
	config_options_init(&l);
	int rc = config_file_load(bt_write_file("names.xml", xml), &l, collect, NULL);
	config_options_free(&l);
	return rc;
}

/* `popbridge device add ACCOUNT DEVICE --state STATE`: its exit status;
 * *err its standard error. */
static int device_add(const char *account, const char *device, char **err)
{
	const char *state = bt_write_file("state-path", "");
	char path[600];
	snprintf(path, sizeof(path), "%s.db", state);
	char *argv[] = { (char *)bt_env("POPBRIDGE_BIN"), "device", "add", (char *)account,
		(char *)device, "--state", path, NULL };
	char *out = NULL;
	int rc = bt_run(argv, &out, err);
	free(out);
	return rc;
}

START_TEST(test_name_limits)
{
	char *acc = name_of(STATE_ACCOUNT_MAX + 1, 'a');
	char *dev = name_of(STATE_DEVICE_MAX + 1, 'd');
	char user[STATE_ACCOUNT_MAX + STATE_DEVICE_MAX + 8];
	char a[STATE_ACCOUNT_MAX + 1], d[STATE_DEVICE_MAX + 1], err[PB_ERR_MAX], *e = NULL;
	int has;

	/* One octet over: refused by each entry point with the rule's words. */
	ck_assert_int_ne(section(acc, "pc"), 0);
	ck_assert_msg(strstr(problems, STATE_ACCOUNT_RULE) != NULL, "%s", problems);
	ck_assert_int_ne(section(ACC, dev), 0);
	ck_assert_msg(strstr(problems, BASE_DEVICE_RULE) != NULL, "%s", problems);
	snprintf(user, sizeof(user), "%s#pc", acc);
	ck_assert_int_eq(base_username_split(user, '#', a, d, &has, err, sizeof(err)), -1);
	ck_assert_str_eq(err, STATE_ACCOUNT_RULE);
	snprintf(user, sizeof(user), "%s#%s", ACC, dev);
	ck_assert_int_eq(base_username_split(user, '#', a, d, &has, err, sizeof(err)), -1);
	ck_assert_int_eq(device_add(ACC, dev, &e), 1);
	ck_assert_msg(strstr(e, BASE_DEVICE_RULE) != NULL, "%s", e);
	free(e);
	ck_assert_int_eq(state_device_name_ok(dev), false);

	/* Within the length, a character no login takes: refused as well, so
	 * that every device a section or `device add` names can log in. */
	static const char *const bad[] = { "p/c", "p c", "p\xc3\xa9" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_ne(section(ACC, bad[i]), 0);
		ck_assert_msg(strstr(problems, BASE_DEVICE_RULE) != NULL, "%s", problems);
		ck_assert_int_eq(device_add(ACC, bad[i], &e), 1);
		ck_assert_msg(strstr(e, BASE_DEVICE_RULE) != NULL, "%s: %s", bad[i], e);
		free(e);
		snprintf(user, sizeof(user), "%s#%s", ACC, bad[i]);
		ck_assert_int_eq(base_username_split(user, '#', a, d, &has, err, sizeof(err)), -1);
	}
	ck_assert_int_eq(state_account_name_ok(acc), false);

	/* At the limit: taken by each. */
	acc[STATE_ACCOUNT_MAX] = '\0';
	dev[STATE_DEVICE_MAX] = '\0';
	ck_assert_msg(section(acc, dev) == 0, "%s", problems);
	snprintf(user, sizeof(user), "%s#%s", acc, dev);
	ck_assert_int_eq(base_username_split(user, '#', a, d, &has, err, sizeof(err)), 0);
	ck_assert_str_eq(a, acc);
	ck_assert_str_eq(d, dev);
	/* device add gets past the name (and fails on the missing account) */
	ck_assert_int_eq(device_add(ACC, dev, &e), 1);
	ck_assert_msg(strstr(e, BASE_DEVICE_RULE) == NULL && strstr(e, "no account") != NULL,
	    "%s", e);
	free(e);
	free(acc);
	free(dev);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("rules");
	TCase *tc = tcase_create("one source");
	tcase_add_test(tc, test_overlay_layers);
	tcase_add_test(tc, test_upstream_unseal);
	tcase_add_test(tc, test_name_limits);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return bt_run_suite(s);
}
