/* tests/bridge/check_report.c — `popbridge report` through the binary on a
 * state file written with state/: JSON that Python's json module parses with
 * hostile names intact (quotes, backslashes, '<', non-ASCII, invalid UTF-8
 * replaced), times in ISO 8601 UTC or null, stale devices (not seen for 30
 * days, never seen; revoked ones are not stale), an account without
 * devices; the table marks and lists the stale ones; usage errors; no state
 * file is created. */
#include "tests/bridge/bt.h"

#include <sys/stat.h>
#include <time.h>

#include "state/state.h"

#define DAY 86400

static char state_path[512];

static void make_state(void)
{
	char err[300];
	int64_t now = (int64_t)time(NULL);
	struct state_account a, m, e;
	struct state_device d;
	static const unsigned char blob[] = { 1, 2, 3, 4 };

	snprintf(state_path, sizeof(state_path), "%s", bt_write_file("r.db", ""));
	unlink(state_path);
	struct state_db *db = state_open(state_path, err, sizeof(err));
	ck_assert_msg(db != NULL, "%s", err);
	ck_assert_int_eq(state_account_ensure(db, "al\"ice\\x<y>", now - 100 * DAY, &a), 0);
	ck_assert_int_eq(state_device_add(db, a.id, "caf\xc3\xa9 \"pc\"", NULL, NULL, "INBOX",
	    now - 90 * DAY, &d), 0);
	ck_assert_int_eq(state_device_login(db, d.id, now - 3600, "192.0.2.7", "pop3",
	    "TLSv1.3"), 0);
	ck_assert_int_eq(state_device_add(db, a.id, "old\xff", NULL, NULL, "INBOX",
	    now - 90 * DAY, &d), 0);
	ck_assert_int_eq(state_device_login(db, d.id, now - 40 * DAY, "::1", "pop3", ""), 0);
	ck_assert_int_eq(state_device_add(db, a.id, "never", NULL, NULL, "INBOX", now - DAY,
	    &d), 0);
	ck_assert_int_eq(state_device_add(db, a.id, "revoked", NULL, NULL, "INBOX",
	    now - 90 * DAY, &d), 0);
	ck_assert_int_eq(state_device_login(db, d.id, now - 60 * DAY, "10.0.0.1", "pop3", ""),
	    0);
	ck_assert_int_eq(state_device_revoke(db, d.id, true), 0);
	ck_assert_int_eq(state_account_add(db, "managed", STATE_AUTH_MANAGED, "up-user", blob,
	    sizeof(blob), now, NULL), 0);
	ck_assert_int_eq(state_account_get(db, "managed", &m), 0);
	ck_assert_int_eq(state_device_add(db, m.id, "phone", NULL, "hash", "INBOX", now, NULL),
	    0);
	ck_assert_int_eq(state_account_ensure(db, "zempty", now, &e), 0);
	state_close(db);
}

/* Python reads the JSON and prints one line per device (or account). */
static const char PY[] =
    "import json, re, sys\n"
    "d = json.load(open(sys.argv[1], encoding='utf-8'))\n"
    "iso = re.compile(r'^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ$')\n"
    "assert iso.match(d['generated']), d['generated']\n"
    "keys = {'device', 'created', 'last_login', 'last_address', 'protocol', 'tls',\n"
    "        'retrieved', 'deleted', 'waiting', 'revoked'}\n"
    "for a in d['accounts']:\n"
    "    assert set(a) >= {'account', 'auth', 'devices'}, a\n"
    "    if not a['devices']:\n"
    "        print('%s|%s|-' % (a['account'], a['auth']))\n"
    "    for v in a['devices']:\n"
    "        assert set(v) >= keys, v\n"
    "        assert iso.match(v['created'])\n"
    "        assert v['last_login'] is None or iso.match(v['last_login'])\n"
    "        print('%s|%s|%s|%s|%s|%s|%s|%s|%s' % (a['account'], a['auth'], v['device'],\n"
    "              v['last_login'] is not None, v['last_address'], v['tls'],\n"
    "              v['retrieved'], v['revoked'], v['stale']))\n";

START_TEST(json_parses)
{
	const char *bin = bt_env("POPBRIDGE_BIN");
	char *out, *err;
	make_state();
	char *argv[] = { (char *)bin, "report", "--format", "json", "--state", state_path, NULL };
	ck_assert_int_eq(bt_run(argv, &out, &err), 0);
	ck_assert_str_eq(err, "");
	const char *jf = bt_write_file("r.json", out);
	const char *pf = bt_write_file("check.py", PY);
	char *pargv[] = { "/usr/bin/env", "python3", (char *)pf, (char *)jf, NULL };
	char *pout, *perr;
	int rc = bt_run(pargv, &pout, &perr);
	ck_assert_msg(rc == 0, "python: %s\n%s", perr, out);
	ck_assert_str_eq(pout,
	    "al\"ice\\x<y>|passthrough|caf\xc3\xa9 \"pc\"|True|192.0.2.7|TLSv1.3|0|False|False\n"
	    "al\"ice\\x<y>|passthrough|never|False|None|None|None|False|True\n"
	    "al\"ice\\x<y>|passthrough|old\xef\xbf\xbd|True|::1|none|0|False|True\n"
	    "al\"ice\\x<y>|passthrough|revoked|True|10.0.0.1|none|0|True|False\n"
	    "managed|managed|phone|False|None|None|None|False|True\n"
	    "zempty|passthrough|-\n");
	free(out);
	free(err);
	free(pout);
	free(perr);
}
END_TEST

START_TEST(table_marks_stale)
{
	const char *bin = bt_env("POPBRIDGE_BIN");
	char *out, *err;
	make_state();
	char *argv[] = { (char *)bin, "report", "--state", state_path, NULL };
	ck_assert_int_eq(bt_run(argv, &out, &err), 0);
	ck_assert_ptr_nonnull(strstr(out, "STALE: never seen"));
	ck_assert_ptr_nonnull(strstr(out, "STALE: 40 days"));
	ck_assert_ptr_nonnull(strstr(out, "revoked"));
	ck_assert_ptr_nonnull(strstr(out, "(no devices)"));
	ck_assert_ptr_nonnull(strstr(out, "Devices not seen for 30 days or never (not revoked): 3"));
	ck_assert_ptr_nonnull(strstr(out, "old?"));       /* non-printable shown as '?' */
	ck_assert_ptr_null(strstr(out, "\xff"));
	free(out);
	free(err);
}
END_TEST

START_TEST(usage_and_missing_state)
{
	const char *bin = bt_env("POPBRIDGE_BIN");
	char *out, *err;
	char missing[600];
	struct stat st;
	snprintf(missing, sizeof(missing), "%s.none", bt_write_file("x", ""));
	char *a1[] = { (char *)bin, "report", "--format", "xml", "--state", missing, NULL };
	ck_assert_int_eq(bt_run(a1, &out, &err), 2);
	ck_assert_ptr_nonnull(strstr(err, "--format"));
	free(out);
	free(err);
	char *a2[] = { (char *)bin, "report", "--state", missing, NULL };
	ck_assert_int_eq(bt_run(a2, &out, &err), 1);
	ck_assert_ptr_nonnull(strstr(err, "no state file"));
	ck_assert_int_ne(stat(missing, &st), 0);
	free(out);
	free(err);
	char *a3[] = { (char *)bin, "report", "--help", NULL };
	ck_assert_int_eq(bt_run(a3, &out, &err), 0);
	ck_assert_ptr_nonnull(strstr(out, "usage: popbridge report"));
	free(out);
	free(err);
	char *a4[] = { (char *)bin, "report", "extra", NULL };
	ck_assert_int_eq(bt_run(a4, &out, &err), 2);
	free(out);
	free(err);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("report");
	TCase *t = tcase_create("report");
	tcase_add_test(t, json_parses);
	tcase_add_test(t, table_marks_stale);
	tcase_add_test(t, usage_and_missing_state);
	tcase_set_timeout(t, 30);
	suite_add_tcase(s, t);
	return bt_run_suite(s);
}
