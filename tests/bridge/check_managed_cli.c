/* tests/bridge/check_managed_cli.c — `popbridge account` and `popbridge
 * device` through the real binary ($POPBRIDGE_BIN) on a real state file:
 * lifecycle, output, exit statuses, the key file rules, and that no secret
 * reaches the state file. Passwords issued by the CLI are checked with
 * managed_authenticate, the function `serve` logs in with. */
#include <check.h>
#include <ctype.h>
#include <dirent.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <time.h>

#include "bridge/managed/login.h"
#include "bridge/managed/password.h"
#include "bridge/managed/secret.h"
#include "state/state.h"
#include "tests/bridge/bt.h"
#include "tests/lib/testutil.h"

#define UPSTREAM_PW "Upstream-Pw-9sK2.xq"
#define ACC "office@example.org"

static char dir[256];
static char state[512];
static char key[512];
static char *out, *err;

static void setup(void)
{
	ck_assert_int_eq(pbt_mkdtemp("managedcli", dir, sizeof(dir)), 0);
	snprintf(state, sizeof(state), "%s/state.db", dir);
	snprintf(key, sizeof(key), "%s/state.db.key", dir);
	out = err = NULL;
}

static void teardown(void)
{
	free(out);
	free(err);
	pbt_rmtree(dir);
}

/* Run popbridge with args (NULL-terminated), standard input from the text
 * `in` (NULL: /dev/null); returns the exit status; out/err captured. */
static int pb(const char *in, ...)
{
	char *argv[40];
	char inpath[600];
	int n = 0;
	va_list ap;

	free(out);
	free(err);
	snprintf(inpath, sizeof(inpath), "%s/stdin.txt", dir);
	FILE *f = fopen(inpath, "w");
	ck_assert_ptr_nonnull(f);
	if (in)
		fputs(in, f);
	fclose(f);
	argv[n++] = "/bin/sh";
	argv[n++] = "-c";
	argv[n++] = "f=$1; shift; exec \"$@\" < \"$f\"";
	argv[n++] = "sh";
	argv[n++] = inpath;
	argv[n++] = (char *)bt_env("POPBRIDGE_BIN");
	va_start(ap, in);
	const char *a;
	while ((a = va_arg(ap, const char *)) != NULL && n < 38)
		argv[n++] = (char *)a;
	va_end(ap);
	argv[n] = NULL;
	int rc = bt_run(argv, &out, &err);
	unlink(inpath);
	return rc;
}

/* The last line of out, without its newline, into buf. */
static const char *last_line(char *buf, size_t len)
{
	size_t l = strlen(out);
	while (l > 0 && out[l - 1] == '\n')
		l--;
	size_t s = l;
	while (s > 0 && out[s - 1] != '\n')
		s--;
	snprintf(buf, len, "%.*s", (int)(l - s), out + s);
	return buf;
}

static void add_account(const char *name, const char *pw)
{
	char line[1100];
	snprintf(line, sizeof(line), "%s\n", pw);
	ck_assert_msg(pb(line, "account", "add", name, "--state", state, NULL) == 0,
	    "account add: %s", err);
}

/* device add; the password (checked: 20 digits alone on the last line). */
static void add_device(const char *account, const char *device, char pw[21])
{
	char line[256];
	ck_assert_msg(pb(NULL, "device", "add", account, device, "--state", state, NULL) == 0,
	    "device add: %s", err);
	last_line(line, sizeof(line));
	ck_assert_uint_eq(strlen(line), PASSGEN_DIGITS);
	for (size_t i = 0; i < PASSGEN_DIGITS; i++)
		ck_assert_msg(isdigit((unsigned char)line[i]), "last line '%s'", line);
	memcpy(pw, line, PASSGEN_DIGITS + 1);
}

/* Log in as `serve` does; MANAGED_* and, on success, the device name. */
static int login(const char *account, const char *password, char *device, size_t len)
{
	struct managed_key k;
	struct managed_login l;
	char e[300];
	ck_assert_msg(managed_key_load(key, &k, e, sizeof(e)) == 0, "%s", e);
	struct state_db *db = state_open(state, e, sizeof(e));
	ck_assert_msg(db != NULL, "%s", e);
	int rc = managed_authenticate(db, k.bytes, account, password, &l, e, sizeof(e));
	if (rc == MANAGED_OK && device)
		snprintf(device, len, "%s", l.device);
	if (rc == MANAGED_OK)
		ck_assert_str_eq(l.upstream_password, UPSTREAM_PW);
	managed_login_clear(&l);
	state_close(db);
	managed_key_clear(&k);
	return rc;
}

/* The line of `device list` output for device, or NULL. */
static const char *list_line(const char *device, char *buf, size_t len)
{
	char needle[128];
	snprintf(needle, sizeof(needle), "%s  %s ", ACC, device);
	const char *p = strstr(out, needle);
	if (!p)
		return NULL;
	const char *e = strchr(p, '\n');
	snprintf(buf, len, "%.*s", (int)(e ? e - p : (long)strlen(p)), p);
	return buf;
}

/* A file's bytes (NULL, 0 when it cannot be read). */
static void file_bytes(const char *path, char **data, size_t *len)
{
	*data = pbt_read_file(path, (size_t)256 << 20, len);
}

static bool contains(const char *data, size_t len, const char *needle)
{
	return len > 0 && memmem(data, len, needle, strlen(needle)) != NULL;
}

/* The RETRIEVED DELETED WAITING cells of a `device list` line, as "R D W". */
static const char *counters(const char *line, char *buf, size_t len)
{
	char r[24], d[24], w[24];
	ck_assert_int_eq(sscanf(line, "%*s %*s %*s %*s %*s %*s %*s %23s %23s %23s", r, d, w), 3);
	snprintf(buf, len, "%s %s %s", r, d, w);
	return buf;
}

/* Record a login of ACC's device as a POP3 session does. */
static void record_login(const char *device)
{
	struct state_account a;
	struct state_device d;
	char e[300];
	struct state_db *db = state_open(state, e, sizeof(e));
	ck_assert_msg(db != NULL, "%s", e);
	ck_assert_int_eq(state_account_get(db, ACC, &a), STATE_OK);
	ck_assert_int_eq(state_device_get(db, a.id, device, &d), STATE_OK);
	ck_assert_int_eq(state_device_login(db, d.id, time(NULL), "127.0.0.1", "pop3", ""),
	    STATE_OK);
	state_close(db);
}

START_TEST(lifecycle)
{
	char pc[21], scanner[21], dev[80], line[1024];
	struct stat st;

	add_account(ACC, UPSTREAM_PW);
	ck_assert_ptr_nonnull(strstr(out, "created key file"));
	ck_assert_int_eq(stat(key, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);

	ck_assert_int_eq(pb(NULL, "account", "list", "--state", state, NULL), 0);
	ck_assert_ptr_nonnull(strstr(out, ACC "  managed  " ACC "  0"));

	add_device(ACC, "pc", pc);
	ck_assert_msg(pb(NULL, "device", "add", ACC, "scanner", "--state", state,
	    "--offer", "since-enrolment", "--window", "200", "--seen-on", "never",
	    "--dele=trash", "--folder", "Scans", NULL) == 0, "%s", err);
	last_line(scanner, sizeof(scanner));
	ck_assert_uint_eq(strlen(scanner), PASSGEN_DIGITS);
	ck_assert_str_ne(pc, scanner);
	/* the password appears once in the output: on its last line */
	ck_assert_ptr_eq(strstr(out, scanner), strrchr(out, '\n') - PASSGEN_DIGITS);

	/* each password names its device; the upstream password is no login */
	ck_assert_int_eq(login(ACC, pc, dev, sizeof(dev)), MANAGED_OK);
	ck_assert_str_eq(dev, "pc");
	ck_assert_int_eq(login(ACC, scanner, dev, sizeof(dev)), MANAGED_OK);
	ck_assert_str_eq(dev, "scanner");
	ck_assert_int_eq(login(ACC, UPSTREAM_PW, NULL, 0), MANAGED_AUTH);

	ck_assert_int_eq(pb(NULL, "device", "list", "--state", state, NULL), 0);
	ck_assert_ptr_nonnull(strstr(out, "ACCOUNT"));
	ck_assert_ptr_nonnull(strstr(out, "LAST-LOGIN"));
	ck_assert_ptr_nonnull(strstr(out, "TLS"));
	ck_assert_ptr_nonnull(strstr(out, "RETRIEVED"));
	ck_assert_ptr_nonnull(strstr(out, "DELETED"));
	ck_assert_ptr_nonnull(list_line("scanner", line, sizeof(line)));
	ck_assert_ptr_nonnull(strstr(line, "never"));            /* last login */
	ck_assert_ptr_nonnull(strstr(line, " no "));             /* not revoked */
	ck_assert_ptr_nonnull(strstr(line, "folder=Scans* offer=since-enrolment* "
	    "window=200* seen-on=never* dele=trash*"));
	/* never logged in: no counters yet ('-', where report says null) */
	char cnt[80];
	ck_assert_str_eq(counters(line, cnt, sizeof(cnt)), "- - -");
	record_login("scanner");
	ck_assert_int_eq(pb(NULL, "device", "list", "--state", state, NULL), 0);
	ck_assert_ptr_nonnull(list_line("scanner", line, sizeof(line)));
	ck_assert_ptr_null(strstr(line, "never  "));
	ck_assert_str_eq(counters(line, cnt, sizeof(cnt)), "0 0 0");
	ck_assert_ptr_nonnull(list_line("pc", line, sizeof(line)));
	ck_assert_str_eq(counters(line, cnt, sizeof(cnt)), "- - -");
	ck_assert_ptr_nonnull(list_line("pc", line, sizeof(line)));
	ck_assert_ptr_nonnull(strstr(line, "folder=INBOX offer=all window=0 seen-on=retr "
	    "dele=hide"));
	ck_assert_ptr_null(strstr(out, pc));
	ck_assert_ptr_null(strstr(out, scanner));

	/* set: change one, clear one */
	ck_assert_msg(pb(NULL, "device", "set", ACC, "scanner", "--state", state,
	    "--offer", "unseen", "--window", "default", NULL) == 0, "%s", err);
	ck_assert_int_eq(pb(NULL, "device", "list", ACC, "--state", state, NULL), 0);
	ck_assert_ptr_nonnull(list_line("scanner", line, sizeof(line)));
	ck_assert_ptr_nonnull(strstr(line, "folder=Scans* offer=unseen* window=0 "
	    "seen-on=never* dele=trash*"));

	/* revoke: that device is refused, the other still logs in */
	ck_assert_int_eq(pb(NULL, "device", "revoke", ACC, "pc", "--state", state, NULL), 0);
	ck_assert_int_eq(login(ACC, pc, NULL, 0), MANAGED_AUTH);
	ck_assert_int_eq(login(ACC, scanner, dev, sizeof(dev)), MANAGED_OK);
	ck_assert_int_eq(pb(NULL, "device", "list", "--state", state, NULL), 0);
	ck_assert_ptr_nonnull(list_line("pc", line, sizeof(line)));
	ck_assert_ptr_nonnull(strstr(line, " yes "));
	ck_assert_int_eq(pb(NULL, "account", "list", "--state", state, NULL), 0);
	ck_assert_ptr_nonnull(strstr(out, "2 (1 revoked)"));

	ck_assert_int_eq(pb(NULL, "device", "reset", ACC, "scanner", "--state", state, NULL),
	    0);
	ck_assert_ptr_nonnull(strstr(out, "every message"));

	/* set-password: devices keep their passwords, the new one is served */
	ck_assert_int_eq(pb("Another-Pw\n", "account", "set-password", ACC, "--state", state,
	    NULL), 0);
	struct managed_key k;
	struct managed_login l;
	char e[300];
	ck_assert_int_eq(managed_key_load(key, &k, e, sizeof(e)), 0);
	struct state_db *db = state_open(state, e, sizeof(e));
	ck_assert_int_eq(managed_authenticate(db, k.bytes, ACC, scanner, &l, e, sizeof(e)),
	    MANAGED_OK);
	ck_assert_str_eq(l.upstream_password, "Another-Pw");
	managed_login_clear(&l);
	state_close(db);
	managed_key_clear(&k);

	ck_assert_int_eq(pb(NULL, "account", "remove", ACC, "--state", state, NULL), 0);
	ck_assert_ptr_nonnull(strstr(out, "2 devices"));
	ck_assert_int_eq(pb(NULL, "device", "list", "--state", state, NULL), 0);
	ck_assert_ptr_null(strstr(out, ACC));
	ck_assert_int_eq(pb(NULL, "account", "list", "--state", state, NULL), 0);
	ck_assert_ptr_null(strstr(out, ACC));
	ck_assert_int_eq(login(ACC, scanner, NULL, 0), MANAGED_AUTH);
}
END_TEST

START_TEST(state_file_holds_no_secret)
{
	char pw[4][21];
	add_account(ACC, UPSTREAM_PW);
	add_account("other@example.org", UPSTREAM_PW "-2");
	add_device(ACC, "a", pw[0]);
	add_device(ACC, "b", pw[1]);
	add_device("other@example.org", "a", pw[2]);
	ck_assert_int_eq(pb(NULL, "device", "set", ACC, "a", "--state", state, "--dele",
	    "flag", NULL), 0);
	ck_assert_int_eq(pb("Changed-Pw-77\n", "account", "set-password", "other@example.org",
	    "--state", state, NULL), 0);
	add_device("other@example.org", "b", pw[3]);

	/* every file next to the state (WAL and SHM included) but the key */
	DIR *d = opendir(dir);
	ck_assert_ptr_nonnull(d);
	struct dirent *de;
	int files = 0;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "state.db", 8) != 0 || strcmp(de->d_name, "state.db.key") == 0)
			continue;
		char path[800], *data;
		size_t len;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		file_bytes(path, &data, &len);
		files++;
		ck_assert_msg(!contains(data, len, UPSTREAM_PW), "%s holds the upstream password",
		    de->d_name);
		ck_assert_msg(!contains(data, len, "Changed-Pw-77"), "%s holds a password",
		    de->d_name);
		for (int i = 0; i < 4; i++)
			ck_assert_msg(!contains(data, len, pw[i]), "%s holds a device password",
			    de->d_name);
		free(data);
	}
	closedir(d);
	ck_assert_int_ge(files, 1);
}
END_TEST

START_TEST(key_file_readable_by_others_refused)
{
	char *before, *after, *sbefore, *safter;
	size_t blen, alen, sblen, salen;

	/* first use: a 0644 key file is refused and no state file appears */
	FILE *f = fopen(key, "w");
	ck_assert_ptr_nonnull(f);
	fputs("popbridge-key-v1\n", f);
	fputs("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n", f);
	fclose(f);
	ck_assert_int_eq(chmod(key, 0644), 0);
	ck_assert_int_eq(pb(UPSTREAM_PW "\n", "account", "add", ACC, "--state", state, NULL), 1);
	ck_assert_ptr_nonnull(strstr(err, "0644"));
	ck_assert_ptr_nonnull(strstr(err, "chmod 600"));
	ck_assert_ptr_null(strstr(err, UPSTREAM_PW));
	ck_assert_int_ne(access(state, F_OK), 0);

	/* with accounts in place: refused, and neither file changes */
	ck_assert_int_eq(chmod(key, 0600), 0);
	add_account(ACC, UPSTREAM_PW);
	ck_assert_int_eq(chmod(key, 0640), 0);
	file_bytes(key, &before, &blen);
	file_bytes(state, &sbefore, &sblen);
	ck_assert_int_eq(pb("x\n", "account", "add", "new@example.org", "--state", state, NULL),
	    1);
	ck_assert_ptr_nonnull(strstr(err, "0640"));
	ck_assert_int_eq(pb("x\n", "account", "set-password", ACC, "--state", state, NULL), 1);
	file_bytes(key, &after, &alen);
	file_bytes(state, &safter, &salen);
	ck_assert_uint_eq(blen, alen);
	ck_assert_int_eq(memcmp(before, after, blen), 0);
	ck_assert_uint_eq(sblen, salen);
	ck_assert_int_eq(memcmp(sbefore, safter, sblen), 0);
	free(before);
	free(after);
	free(sbefore);
	free(safter);
	ck_assert_int_eq(chmod(key, 0600), 0);
	ck_assert_int_eq(pb(NULL, "account", "list", "--state", state, NULL), 0);
	ck_assert_ptr_null(strstr(out, "new@example.org"));
}
END_TEST

START_TEST(wrong_key_file_refused)
{
	char other[600], *before, *after;
	size_t blen, alen;
	struct managed_key k;
	char e[300];
	int created;

	add_account(ACC, UPSTREAM_PW);
	snprintf(other, sizeof(other), "%s/other.key", dir);
	ck_assert_int_eq(managed_key_load_or_create(other, &k, &created, e, sizeof(e)), 0);
	managed_key_clear(&k);
	file_bytes(other, &before, &blen);

	ck_assert_int_eq(pb("pw\n", "account", "add", "new@example.org", "--state", state,
	    "--key-file", other, NULL), 1);
	ck_assert_ptr_nonnull(strstr(err, "wrong key file"));
	ck_assert_int_eq(pb("pw\n", "account", "add", "new@example.org", "--state", state,
	    "--key-file", "/nonexistent/dir/k", NULL), 1);
	ck_assert_ptr_nonnull(strstr(err, "managed accounts"));
	ck_assert_int_eq(pb(NULL, "account", "list", "--state", state, NULL), 0);
	ck_assert_ptr_null(strstr(out, "new@example.org"));
	file_bytes(other, &after, &alen);
	ck_assert_uint_eq(blen, alen);
	ck_assert_int_eq(memcmp(before, after, blen), 0);
	free(before);
	free(after);

	/* the only account may be re-sealed with a new key (a lost key file) */
	ck_assert_int_eq(pb("pw2\n", "account", "set-password", ACC, "--state", state,
	    "--key-file", other, NULL), 0);
	/* after which the old key no longer opens it: login is an ERROR */
	char pw[21];
	add_device(ACC, "pc", pw);
	ck_assert_int_eq(login(ACC, pw, NULL, 0), MANAGED_ERROR);
}
END_TEST

START_TEST(bad_input)
{
	char pw[21];
	/* usage errors: 2 */
	ck_assert_int_eq(pb(NULL, "account", NULL), 2);
	ck_assert_int_eq(pb(NULL, "account", "frobnicate", NULL), 2);
	ck_assert_int_eq(pb(NULL, "account", "add", "--state", state, NULL), 2);
	ck_assert_int_eq(pb(NULL, "account", "add", "a", "b", "--state", state, NULL), 2);
	ck_assert_int_eq(pb(NULL, "account", "add", "a", "--upstream-user", NULL), 2);
	ck_assert_int_eq(pb(NULL, "account", "add", "a", "--password", "x", NULL), 2);
	ck_assert_int_eq(pb(NULL, "device", "add", ACC, NULL), 2);
	ck_assert_int_eq(pb(NULL, "device", "add", ACC, "d", "--offer", "some", NULL), 2);
	ck_assert_ptr_nonnull(strstr(err, "--offer"));
	ck_assert_int_eq(pb(NULL, "device", "add", ACC, "d", "--window", "-1", NULL), 2);
	ck_assert_int_eq(pb(NULL, "device", "add", ACC, "d", "--dele", "x", "--dele", "hide",
	    NULL), 2);
	ck_assert_int_eq(pb(NULL, "device", "set", ACC, "d", "--state", state, NULL), 2);
	ck_assert_int_eq(pb(NULL, "device", "list", "a", "b", NULL), 2);
	ck_assert_int_eq(pb(NULL, "device", "revoke", ACC, NULL), 2);
	ck_assert_int_eq(pb(NULL, "device", "nope", NULL), 2);

	/* an account name out of bounds: the one wording of the rule */
	char longacc[STATE_ACCOUNT_MAX + 2];
	memset(longacc, 'x', sizeof(longacc) - 1);
	longacc[sizeof(longacc) - 1] = '\0';
	ck_assert_int_eq(pb(UPSTREAM_PW "\n", "account", "add", longacc, "--state", state,
	    NULL), 1);
	ck_assert_msg(strstr(err, "popbridge account add: " STATE_ACCOUNT_RULE "\n") != NULL,
	    "stderr: %s", err);
	ck_assert_int_eq(pb(UPSTREAM_PW "\n", "account", "add", "a\x01b", "--state", state,
	    NULL), 1);
	ck_assert_msg(strstr(err, STATE_ACCOUNT_RULE) != NULL, "stderr: %s", err);

	/* --help: 0, usage on stdout */
	const char *subs[][2] = { { "account", "add" }, { "account", "list" },
	    { "account", "remove" }, { "account", "set-password" }, { "device", "add" },
	    { "device", "list" }, { "device", "revoke" }, { "device", "reset" },
	    { "device", "set" } };
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		ck_assert_int_eq(pb(NULL, subs[i][0], subs[i][1], "--help", NULL), 0);
		ck_assert_msg(strncmp(out, "usage: popbridge ", 17) == 0, "%s %s", subs[i][0],
		    subs[i][1]);
	}

	/* failures: 1, with the reason */
	ck_assert_int_eq(pb(NULL, "account", "add", ACC, "--state", state, NULL), 1);
	ck_assert_ptr_nonnull(strstr(err, "standard input"));
	ck_assert_int_eq(pb("\n", "account", "add", ACC, "--state", state, NULL), 1);
	char longpw[1200];
	memset(longpw, 'p', sizeof(longpw) - 2);
	longpw[sizeof(longpw) - 2] = '\n';
	longpw[sizeof(longpw) - 1] = '\0';
	ck_assert_int_eq(pb(longpw, "account", "add", ACC, "--state", state, NULL), 1);
	ck_assert_ptr_nonnull(strstr(err, "longer than"));
	ck_assert_int_eq(pb(NULL, "device", "add", ACC, "d", "--state", state, NULL), 1);
	ck_assert_ptr_nonnull(strstr(err, "no account"));
	ck_assert_int_eq(pb("x\n", "account", "add", "a#b", "--state", state, NULL), 1);
	ck_assert_ptr_nonnull(strstr(err, "separator"));
	add_account(ACC, UPSTREAM_PW);
	ck_assert_int_eq(pb("x\n", "account", "add", ACC, "--state", state, NULL), 1);
	ck_assert_ptr_nonnull(strstr(err, "exists"));
	ck_assert_int_eq(pb(NULL, "device", "add", ACC, "a#b", "--state", state, NULL), 1);
	ck_assert_int_eq(pb(NULL, "device", "revoke", ACC, "ghost", "--state", state, NULL), 1);
	ck_assert_ptr_nonnull(strstr(err, "no device"));
	ck_assert_int_eq(pb(NULL, "account", "remove", "ghost", "--state", state, NULL), 1);
	add_device(ACC, "d", pw);
	ck_assert_int_eq(pb(NULL, "device", "add", ACC, "d", "--state", state, NULL), 1);
	ck_assert_ptr_nonnull(strstr(err, "already"));
	ck_assert_int_eq(pb(NULL, "device", "list", "ghost", "--state", state, NULL), 1);
	/* CRLF input: the CR is not part of the password */
	ck_assert_int_eq(pb(UPSTREAM_PW "\r\n", "account", "set-password", ACC, "--state",
	    state, NULL), 0);
	ck_assert_int_eq(login(ACC, pw, NULL, 0), MANAGED_OK);
}
END_TEST

START_TEST(upstream_user_and_config)
{
	char conf[600], st2[600];
	snprintf(st2, sizeof(st2), "%s/conf-state.db", dir);
	snprintf(conf, sizeof(conf), "%s/popbridge.xml", dir);
	FILE *f = fopen(conf, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "<popbridge version=\"1\">\n"
	    "  <mailbox folder=\"Legacy\" offer=\"unseen\"/>\n"
	    "  <state file=\"%s\"/>\n"
	    "  <device account=\"" ACC "\" name=\"fax\" dele=\"archive\"/>\n"
	    "</popbridge>\n", st2);
	fclose(f);
	ck_assert_msg(pb(UPSTREAM_PW "\n", "account", "add", ACC, "--config", conf,
	    "--upstream-user", "office", NULL) == 0, "%s", err);
	ck_assert_int_eq(access(st2, F_OK), 0);
	char k2[700];
	snprintf(k2, sizeof(k2), "%s.key", st2);
	ck_assert_int_eq(access(k2, F_OK), 0);
	ck_assert_int_eq(pb(NULL, "account", "list", "--config", conf, NULL), 0);
	ck_assert_ptr_nonnull(strstr(out, ACC "  managed  office"));
	ck_assert_int_eq(pb(NULL, "device", "add", ACC, "fax", "--config", conf, NULL), 0);
	ck_assert_int_eq(pb(NULL, "device", "list", "--config", conf, NULL), 0);
	/* global defaults and the config's device section, no override of its own */
	ck_assert_ptr_nonnull(strstr(out, "folder=Legacy offer=unseen window=0 seen-on=retr "
	    "dele=archive"));
	/* the state file named on the command line wins over the config's (one
	 * that exists: a missing one is refused, missing_state_file_not_created) */
	add_account("other@example.org", UPSTREAM_PW);
	ck_assert_int_eq(pb(NULL, "account", "list", "--config", conf, "--state", state, NULL),
	    0);
	ck_assert_ptr_null(strstr(out, ACC));
}
END_TEST

START_TEST(device_names_any_case)
{
	/* Device names are case-insensitive and kept in lower case; the
	 * account is found whatever the case it is typed in. */
	char pw[21], line[512], dev[64];
	add_account(ACC, UPSTREAM_PW);
	add_device(ACC, "Phone", pw);
	ck_assert_int_eq(login("OFFICE@example.org", pw, dev, sizeof(dev)), MANAGED_OK);
	ck_assert_str_eq(dev, "phone");
	ck_assert_int_eq(pb(NULL, "device", "add", ACC, "PHONE", "--state", state, NULL), 1);
	ck_assert_ptr_nonnull(strstr(err, "already"));
	ck_assert_int_eq(pb(NULL, "device", "set", "Office@Example.org", "pHoNe", "--dele",
	    "trash", "--state", state, NULL), 0);
	ck_assert_int_eq(pb(NULL, "device", "list", "OFFICE@EXAMPLE.ORG", "--state", state,
	    NULL), 0);
	ck_assert_ptr_nonnull(list_line("phone", line, sizeof(line)));
	ck_assert_ptr_nonnull(strstr(line, "dele=trash*"));
	ck_assert_ptr_null(strstr(out, "Phone"));
	ck_assert_int_eq(pb(NULL, "device", "revoke", ACC, "PHONE", "--state", state, NULL), 0);
	ck_assert_int_eq(login(ACC, pw, NULL, 0), MANAGED_AUTH);
}
END_TEST

/* Devices log in with the account name as their user name (POP3, the IMAP
 * front, SMTP AUTH: bridge/base/username.h), where it has no space: such an
 * account could be added, and given devices, that could never log in. */
START_TEST(account_name_with_space_refused)
{
	struct stat sb;
	ck_assert_int_eq(pb(UPSTREAM_PW "\n", "account", "add", "john doe", "--state", state,
	    NULL), 1);
	ck_assert_msg(strstr(err, "popbridge account add: an account name has no space") !=
	    NULL, "stderr: %s", err);
	ck_assert_int_eq(stat(state, &sb), -1);
	ck_assert_int_eq(stat(key, &sb), -1);
}
END_TEST

/* A state file that is not there: the commands that only act on accounts
 * and devices it holds say so (a mistyped --state is not an empty node)
 * and leave no new, empty state file behind. */
START_TEST(missing_state_file_not_created)
{
	struct stat sb;
	const char *cmds[][4] = {
		{ "account", "list", NULL, NULL }, { "account", "remove", ACC, NULL },
		{ "account", "set-password", ACC, NULL }, { "account", "oauth2-login", ACC, NULL },
		{ "device", "list", NULL, NULL }, { "device", "list", ACC, NULL },
		{ "device", "add", ACC, "pc" }, { "device", "revoke", ACC, "pc" },
		{ "device", "reset", ACC, "pc" },
	};
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		const char *const *c = cmds[i];
		int rc = c[2] == NULL ? pb(UPSTREAM_PW "\n", c[0], c[1], "--state", state, NULL)
		    : c[3] == NULL ? pb(UPSTREAM_PW "\n", c[0], c[1], c[2], "--state", state, NULL)
		    : pb(UPSTREAM_PW "\n", c[0], c[1], c[2], c[3], "--state", state, NULL);
		ck_assert_msg(rc == 1, "%s %s: exit %d", c[0], c[1], rc);
		ck_assert_msg(strstr(err, state) != NULL && strstr(err, "no state file") != NULL,
		    "%s %s: stderr: %s", c[0], c[1], err);
		ck_assert_msg(stat(state, &sb) != 0 && errno == ENOENT, "%s %s created %s",
		    c[0], c[1], state);
	}
	ck_assert_int_eq(pb(NULL, "device", "set", ACC, "pc", "--offer", "all", "--state",
	    state, NULL), 1);
	ck_assert_ptr_nonnull(strstr(err, "no state file"));
	ck_assert_int_eq(stat(state, &sb), -1);
	/* account add creates it (the first account of a node) */
	add_account(ACC, UPSTREAM_PW);
	ck_assert_int_eq(pb(NULL, "account", "list", "--state", state, NULL), 0);
	ck_assert_ptr_nonnull(strstr(out, ACC));
}
END_TEST

/* Run popbridge with up to three arguments (NULL: none) and --state, its
 * standard output on /dev/full: every write fails with ENOSPC. Returns the
 * exit status; out/err captured. */
static int pb_full(const char *a1, const char *a2, const char *a3)
{
	char *argv[12] = {
		"/bin/sh", "-c", "exec \"$@\" > /dev/full < /dev/null", "sh",
		(char *)bt_env("POPBRIDGE_BIN"),
	};
	int n = 5;
	const char *args[] = { a1, a2, a3 };
	for (int i = 0; i < 3; i++)
		if (args[i])
			argv[n++] = (char *)args[i];
	argv[n++] = "--state";
	argv[n++] = state;
	argv[n] = NULL;
	free(out);
	free(err);
	return bt_run(argv, &out, &err);
}

START_TEST(list_output_lost)
{
	char pw[21];
	add_account(ACC, UPSTREAM_PW);
	add_device(ACC, "pc", pw);
	/* the output cannot be written: exit 1 and say so, never exit 0 */
	ck_assert_int_eq(pb_full("account", "list", NULL), 1);
	ck_assert_msg(strstr(err, "popbridge account list: writing the account list failed: "
	    "No space left on device") != NULL, "stderr: %s", err);
	ck_assert_int_eq(pb_full("device", "list", NULL), 1);
	ck_assert_msg(strstr(err, "popbridge device list: writing the device list failed: "
	    "No space left on device") != NULL, "stderr: %s", err);
	ck_assert_int_eq(pb_full("device", "list", ACC), 1);
	ck_assert_ptr_nonnull(strstr(err, "writing the device list failed"));
	ck_assert_int_eq(pb_full("report", "--format", "json"), 1);
	ck_assert_ptr_nonnull(strstr(err, "popbridge report: writing the report failed: "));
	/* device add: the device exists, but its password was lost: exit 1 */
	ck_assert_int_eq(pb_full("device", "add", ACC), 2);  /* no DEVICE: usage error */
	char *argv[] = {
		"/bin/sh", "-c", "exec \"$@\" > /dev/full < /dev/null", "sh",
		(char *)bt_env("POPBRIDGE_BIN"), "device", "add", ACC, "scanner",
		"--state", state, NULL,
	};
	free(out);
	free(err);
	ck_assert_int_eq(bt_run(argv, &out, &err), 1);
	ck_assert_ptr_nonnull(strstr(err, "writing the device password failed"));
	/* with a working stdout the same commands succeed */
	ck_assert_int_eq(pb(NULL, "account", "list", "--state", state, NULL), 0);
	ck_assert_ptr_nonnull(strstr(out, ACC));
	ck_assert_int_eq(pb(NULL, "device", "list", "--state", state, NULL), 0);
	ck_assert_ptr_nonnull(strstr(out, "scanner"));
}
END_TEST

/* path := data[0..len); 0 or -1. */
static int put_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (f == NULL)
		return -1;
	int rc = fwrite(data, 1, len, f) == len ? 0 : -1;
	return fclose(f) == 0 ? rc : -1;
}

/* The refresh token and client secret files of `account add --oauth2`:
 * white space at either end of the first line, a control character or
 * (in a token) a space is refused, naming the file, before any key file,
 * state file or token request; a CRLF line end is not part of the value. */
static int add_oauth2(const char *secret_file, const char *refresh_file)
{
	return pb(NULL, "account", "add", ACC, "--oauth2", "custom", "--oauth2-token-url",
	    "https://127.0.0.1:1/token", "--oauth2-client-id", "cid", "--upstream-timeout", "2",
	    "--oauth2-client-secret-file", secret_file, "--refresh-token-file", refresh_file,
	    "--state", state, NULL);
}

START_TEST(oauth2_secret_files_checked)
{
	char rt[600], cs[600];
	struct stat sb;
	snprintf(rt, sizeof(rt), "%s/refresh.txt", dir);
	snprintf(cs, sizeof(cs), "%s/secret.txt", dir);
	ck_assert_int_eq(put_file(cs, "client-secret-1\n", 16), 0);
	const char *bad_tokens[] = { "rt-1 \n", "rt-1\t\n", " rt-1\n", "rt 1\n", "rt-\x01" "1\n",
	    "rt-\x7f" "1\n", "rt-\xc3\xa9\n" };
	for (size_t i = 0; i < sizeof(bad_tokens) / sizeof(bad_tokens[0]); i++) {
		ck_assert_int_eq(put_file(rt, bad_tokens[i], strlen(bad_tokens[i])), 0);
		ck_assert_int_eq(add_oauth2(cs, rt), 1);
		ck_assert_msg(strstr(err, rt) != NULL && strstr(err, "the refresh token") != NULL &&
		    strstr(err, "printable ASCII") != NULL && strstr(err, "unreachable") == NULL,
		    "token %zu: stderr: %s", i, err);
	}
	ck_assert_int_eq(put_file(rt, "rt-1\r\n", 6), 0);
	const char *bad_secrets[] = { "client-secret-1 \n", "\tclient-secret-1\n",
	    "client\x1b[2J\n" };
	for (size_t i = 0; i < sizeof(bad_secrets) / sizeof(bad_secrets[0]); i++) {
		ck_assert_int_eq(put_file(cs, bad_secrets[i], strlen(bad_secrets[i])), 0);
		ck_assert_int_eq(add_oauth2(cs, rt), 1);
		ck_assert_msg(strstr(err, cs) != NULL && strstr(err, "the client secret") != NULL &&
		    strstr(err, "printable ASCII") != NULL, "secret %zu: stderr: %s", i, err);
	}
	ck_assert_int_eq(stat(key, &sb), -1);
	ck_assert_int_eq(stat(state, &sb), -1);
	/* a space inside a client secret is VSCHAR (RFC 6749 Appendix A.2);
	 * CRLF: the CR is not the token's; both reach the token endpoint */
	ck_assert_int_eq(put_file(cs, "client secret 1\r\n", 17), 0);
	ck_assert_int_eq(add_oauth2(cs, rt), 1);
	ck_assert_msg(strstr(err, "token endpoint unreachable") != NULL, "stderr: %s", err);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("managed-cli");
	TCase *tc = tcase_create("cli");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, lifecycle);
	tcase_add_test(tc, state_file_holds_no_secret);
	tcase_add_test(tc, key_file_readable_by_others_refused);
	tcase_add_test(tc, wrong_key_file_refused);
	tcase_add_test(tc, bad_input);
	tcase_add_test(tc, upstream_user_and_config);
	tcase_add_test(tc, device_names_any_case);
	tcase_add_test(tc, list_output_lost);
	tcase_add_test(tc, missing_state_file_not_created);
	tcase_add_test(tc, account_name_with_space_refused);
	tcase_add_test(tc, oauth2_secret_files_checked);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
