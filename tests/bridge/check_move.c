/* tests/bridge/check_move.c — `popbridge account export` and `account import`
 * (SPEC §14) through the real binary on real state files with different key
 * files: secrets opened and sealed again, in the clear (mode 0600, said on
 * stderr) or with a passphrase (right, wrong, missing), every kind of damage
 * refused with nothing imported, an import twice refused, a failed export
 * leaving the account served, the moved account frozen on the old node and
 * coming back, an OAuth2 grant moved with its tokens. */
#include <check.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "bridge/managed/login.h"
#include "bridge/managed/password.h"
#include "bridge/managed/secret.h"
#include "bridge/migrate/move.h"
#include "bridge/oauth2/grant.h"
#include "state/state.h"
#include "tests/bridge/bt.h"
#include "tests/lib/testutil.h"

#define UPSTREAM_PW "Upstream-Pw-9sK2.xq"
#define UPSTREAM_PW_B64 "VXBzdHJlYW0tUHctOXNLMi54cQ=="
#define PASSPHRASE "correct horse battery"

static char dir[256];
static char *out, *err;

static void setup(void)
{
	ck_assert_int_eq(pbt_mkdtemp("move", dir, sizeof(dir)), 0);
	out = err = NULL;
}

static void teardown(void)
{
	free(out);
	free(err);
	pbt_rmtree(dir);
}

/* A path in the test directory (a few rotating buffers). */
static const char *path(const char *name)
{
	static char p[8][600];
	static int i;
	char *b = p[i++ % 8];
	snprintf(b, 600, "%s/%s", dir, name);
	return b;
}

/* popbridge with the arguments (NULL-terminated): the exit status. */
static int pb(const char *a, ...)
{
	char *argv[32];
	int n = 0;
	va_list ap;

	free(out);
	free(err);
	argv[n++] = (char *)bt_env("POPBRIDGE_BIN");
	argv[n++] = (char *)a;
	va_start(ap, a);
	const char *s;
	while ((s = va_arg(ap, const char *)) != NULL && n < 31)
		argv[n++] = (char *)s;
	va_end(ap);
	argv[n] = NULL;
	return bt_run(argv, &out, &err);
}

static struct state_db *open_state(const char *name)
{
	char e[600];
	struct state_db *db = state_open(path(name), e, sizeof(e));
	ck_assert_msg(db != NULL, "%s", e);
	return db;
}

static void load_key(const char *name, struct managed_key *k)
{
	char e[300];
	ck_assert_msg(managed_key_load_or_create(path(name), k, NULL, e, sizeof(e)) == 0, "%s", e);
}

/* In a.db: managed account "ann" (password sealed with a.db.key), a device
 * whose password is returned, an INBOX with three messages (one with an
 * 8-bit Message-ID), one retrieved; and passthrough "bob". */
static void make_ann(char devpw[PASSGEN_DIGITS + 1])
{
	struct managed_key k;
	unsigned char blob[STATE_SECRET_MAX];
	size_t blen = 0;
	char e[300];
	int64_t ann;

	load_key("a.db.key", &k);
	ck_assert_int_eq(managed_seal(&k, "ann", (const unsigned char *)UPSTREAM_PW,
	    strlen(UPSTREAM_PW), blob, sizeof(blob), &blen, e, sizeof(e)), 0);
	struct state_db *db = open_state("a.db");
	ck_assert_int_eq(state_account_add(db, "ann", STATE_AUTH_MANAGED, "ann@up", blob, blen,
	    100, &ann), STATE_OK);
	ck_assert_int_eq(state_account_add(db, "bob", STATE_AUTH_PASSTHROUGH, NULL, NULL, 0,
	    100, NULL), STATE_OK);
	struct state_mailbox mb;
	ck_assert_int_eq(state_mailbox_ensure(db, ann, "INBOX", &mb), STATE_OK);
	struct state_listing it[3];
	memset(it, 0, sizeof(it));
	static const char *ids[] = { "<1@x>", "<caf\xe9@x>", "<3@x>" };
	for (int i = 0; i < 3; i++) {
		it[i].uid = (uint32_t)i + 1;
		it[i].size = 1000 + (uint64_t)i;
		it[i].message_id = ids[i];
		it[i].hdr_hash = "hh";
	}
	struct state_mailbox_status st = { 42, 4, 0 };
	ck_assert_int_eq(state_messages_sync(db, mb.id, &st, it, 3, true, 110, NULL), STATE_OK);
	state_close(db);
	managed_key_clear(&k);

	ck_assert_msg(pb("device", "add", "ann", "phone", "--state", path("a.db"), NULL) == 0,
	    "%s", err);
	char *nl = strrchr(out, '\n');
	ck_assert_ptr_nonnull(nl);
	*nl = '\0';
	nl = strrchr(out, '\n');
	snprintf(devpw, PASSGEN_DIGITS + 1, "%s", nl ? nl + 1 : out);
	ck_assert_uint_eq(strlen(devpw), PASSGEN_DIGITS);

	db = open_state("a.db");
	struct state_device d;
	ck_assert_int_eq(state_device_get(db, ann, "phone", &d), STATE_OK);
	struct state_view_defaults def = { "INBOX", "all", 0 };
	struct state_view_msg *v = NULL;
	size_t n = 0;
	ck_assert_int_eq(state_view_build(db, d.id, &def, 120, &v, &n), STATE_OK);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(state_devmsg_retrieved(db, d.id, &v[0].id, 1, 121), STATE_OK);
	state_view_free(v);
	state_close(db);
}

/* managed_authenticate on `state` with its key: the upstream password. */
static void login_ok(const char *state, const char *keyfile, const char *devpw)
{
	struct managed_key k;
	struct managed_login l;
	char e[300];
	ck_assert_msg(managed_key_load(path(keyfile), &k, e, sizeof(e)) == 0, "%s", e);
	struct state_db *db = open_state(state);
	ck_assert_msg(managed_authenticate(db, k.bytes, "ann", devpw, &l, e, sizeof(e)) ==
	    MANAGED_OK, "%s: %s", state, e);
	ck_assert_int_eq(l.moved, 0);
	ck_assert_str_eq(l.upstream_password, UPSTREAM_PW);
	ck_assert_str_eq(l.upstream_user, "ann@up");
	ck_assert_str_eq(l.device, "phone");
	managed_login_clear(&l);
	state_close(db);
}

static int64_t moved_mark(const char *state, const char *account)
{
	struct state_db *db = open_state(state);
	struct state_account a;
	ck_assert_int_eq(state_account_get(db, account, &a), STATE_OK);
	state_close(db);
	return a.moved;
}

static bool has_account(const char *state, const char *account)
{
	struct state_db *db = open_state(state);
	struct state_account a;
	int rc = state_account_get(db, account, &a);
	state_close(db);
	return rc == STATE_OK;
}

static char *read_all(const char *p, size_t *len)
{
	char *s = pbt_read_file(p, 1 << 24, len);
	ck_assert_ptr_nonnull(s);
	return s;
}

static void write_all(const char *p, const char *s, size_t len)
{
	FILE *f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(s, 1, len, f), len);
	fclose(f);
}

START_TEST(clear_file_moves_a_managed_account)
{
	char devpw[PASSGEN_DIGITS + 1];
	struct stat sb;
	size_t len;

	make_ann(devpw);
	login_ok("a.db", "a.db.key", devpw);
	ck_assert_msg(pb("account", "export", "ann", "--out", path("ann.json"), "--state",
	    path("a.db"), NULL) == 0, "%s", err);
	ck_assert_ptr_nonnull(strstr(out, "exported account ann to "));
	ck_assert_ptr_nonnull(strstr(out, "1 device, 3 messages, 0 pending commits"));
	/* mode 0600, and said on stderr: the secrets are in the clear */
	ck_assert_int_eq(stat(path("ann.json"), &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0600);
	ck_assert_msg(strstr(err, "is not sealed with a passphrase") != NULL &&
	    strstr(err, "its upstream password in the clear") != NULL &&
	    strstr(err, "mode 0600") != NULL, "stderr: %s", err);
	char *file = read_all(path("ann.json"), &len);
	ck_assert_ptr_nonnull(strstr(file, "{\"clear\":\"" UPSTREAM_PW_B64 "\"}"));
	/* the 8-bit Message-ID went as octets */
	ck_assert_ptr_nonnull(strstr(file, "\"message_id\":{\"base64\":"));
	ck_assert_ptr_nonnull(strstr(file, "{\"end\":{\"rows\":"));
	free(file);

	/* the old node: marked, refused, frozen; bob untouched */
	ck_assert_int_gt(moved_mark("a.db", "ann"), 0);
	ck_assert_int_eq(moved_mark("a.db", "bob"), 0);
	{
		struct managed_key k;
		struct managed_login l;
		char e[300];
		load_key("a.db.key", &k);
		struct state_db *db = open_state("a.db");
		ck_assert_int_eq(managed_authenticate(db, k.bytes, "ann", devpw, &l, e, sizeof(e)),
		    MANAGED_OK);
		ck_assert_int_gt(l.moved, 0);
		ck_assert_str_eq(l.upstream_password, ""); /* not opened */
		managed_login_clear(&l);
		state_close(db);
	}
	ck_assert_int_eq(pb("account", "list", "--state", path("a.db"), NULL), 0);
	ck_assert_ptr_nonnull(strstr(out, "MOVED"));
	ck_assert_int_eq(pb("device", "add", "ann", "pc", "--state", path("a.db"), NULL), 1);
	ck_assert_ptr_nonnull(strstr(err, "was moved to another node"));
	ck_assert_int_eq(pb("device", "revoke", "ann", "phone", "--state", path("a.db"), NULL), 1);
	ck_assert_int_eq(pb("report", "--format", "json", "--state", path("a.db"), NULL), 0);
	ck_assert_ptr_nonnull(strstr(out, "\"moved\": \"20"));
	ck_assert_ptr_nonnull(strstr(out, "\"moved\": null"));
	ck_assert_int_eq(pb("report", "--state", path("a.db"), NULL), 0);
	ck_assert_ptr_nonnull(strstr(out, "MOVED away 20"));
	/* --out never overwrites */
	ck_assert_int_eq(pb("account", "export", "ann", "--out", path("ann.json"), "--state",
	    path("a.db"), NULL), 1);
	ck_assert_ptr_nonnull(strstr(err, "exists"));

	/* the new node, with a key file of its own */
	ck_assert_msg(pb("account", "import", path("ann.json"), "--state", path("b.db"), NULL) ==
	    0, "%s", err);
	ck_assert_ptr_nonnull(strstr(out, "created key file"));
	ck_assert_ptr_nonnull(strstr(out, "imported account ann from"));
	ck_assert_ptr_nonnull(strstr(out, "1 secret sealed with key file"));
	size_t l1, l2;
	char *k1 = read_all(path("a.db.key"), &l1), *k2 = read_all(path("b.db.key"), &l2);
	ck_assert(l1 != l2 || memcmp(k1, k2, l1) != 0);
	free(k1);
	free(k2);
	login_ok("b.db", "b.db.key", devpw);
	ck_assert_int_eq(moved_mark("b.db", "ann"), 0);
	/* the device's state came along */
	struct state_db *db = open_state("b.db");
	struct state_account a;
	struct state_device d;
	ck_assert_int_eq(state_account_get(db, "ann", &a), STATE_OK);
	ck_assert_int_eq(state_device_get(db, a.id, "phone", &d), STATE_OK);
	struct state_view_defaults def = { "INBOX", "all", 0 };
	struct state_view_msg *v = NULL;
	size_t n = 0;
	ck_assert_int_eq(state_view_build(db, d.id, &def, 200, &v, &n), STATE_OK);
	ck_assert_uint_eq(n, 3);
	ck_assert(v[0].retrieved && !v[1].retrieved);
	ck_assert_str_eq(v[0].uidl, "000000010000002A");
	state_view_free(v);
	state_close(db);

	/* twice: refused, nothing changed */
	ck_assert_int_eq(pb("account", "import", path("ann.json"), "--state", path("b.db"), NULL),
	    1);
	ck_assert_ptr_nonnull(strstr(err, "exists here already"));
	ck_assert_ptr_nonnull(strstr(err, "nothing was imported"));
	/* the file into the node it came from: the account comes back */
	ck_assert_msg(pb("account", "import", path("ann.json"), "--state", path("a.db"), NULL) ==
	    0, "%s", err);
	ck_assert_ptr_nonnull(strstr(out, "came back"));
	ck_assert_int_eq(moved_mark("a.db", "ann"), 0);
	login_ok("a.db", "a.db.key", devpw);
}
END_TEST

START_TEST(passphrase)
{
	char devpw[PASSGEN_DIGITS + 1];
	size_t len;

	make_ann(devpw);
	write_all(path("pp"), PASSPHRASE "\n", strlen(PASSPHRASE) + 1);
	write_all(path("wrong"), "incorrect horse\n", 16);
	write_all(path("short"), "short\n", 6);
	ck_assert_int_eq(pb("account", "export", "ann", "--out", path("x.json"),
	    "--passphrase-file", path("short"), "--state", path("a.db"), NULL), 1);
	ck_assert_ptr_nonnull(strstr(err, "at least 8 octets"));
	ck_assert_int_eq(moved_mark("a.db", "ann"), 0);
	ck_assert_msg(pb("account", "export", "ann", "--out", path("ann.json"),
	    "--passphrase-file", path("pp"), "--state", path("a.db"), NULL) == 0, "%s", err);
	ck_assert_ptr_nonnull(strstr(out, "sealed with the passphrase"));
	ck_assert_ptr_null(strstr(err, "not sealed"));
	char *file = read_all(path("ann.json"), &len);
	ck_assert_ptr_null(strstr(file, UPSTREAM_PW));
	ck_assert_ptr_null(strstr(file, UPSTREAM_PW_B64));
	ck_assert_ptr_null(strstr(file, "\"clear\""));
	ck_assert_ptr_nonnull(strstr(file, "\"kdf\":\"scrypt\""));
	ck_assert_ptr_nonnull(strstr(file, "\"hmac-sha256\":"));
	free(file);

	ck_assert_int_eq(pb("account", "import", path("ann.json"), "--state", path("b.db"), NULL),
	    1);
	ck_assert_ptr_nonnull(strstr(err, "sealed with a passphrase"));
	ck_assert_int_eq(pb("account", "import", path("ann.json"), "--passphrase-file",
	    path("wrong"), "--state", path("b.db"), NULL), 1);
	ck_assert_ptr_nonnull(strstr(err, "wrong passphrase"));
	ck_assert(!has_account("b.db", "ann"));
	ck_assert_msg(pb("account", "import", path("ann.json"), "--passphrase-file", path("pp"),
	    "--state", path("b.db"), NULL) == 0, "%s", err);
	login_ok("b.db", "b.db.key", devpw);

	/* a passphrase for a file in the clear is a mistake too */
	ck_assert_msg(pb("account", "export", "bob", "--out", path("bob.json"), "--state",
	    path("a.db"), NULL) == 0, "%s", err);
	ck_assert_ptr_nonnull(strstr(err, "no stored secret"));
	ck_assert_int_eq(pb("account", "import", path("bob.json"), "--passphrase-file",
	    path("pp"), "--state", path("b.db"), NULL), 1);
	ck_assert_ptr_nonnull(strstr(err, "in the clear"));
	ck_assert_msg(pb("account", "import", path("bob.json"), "--state", path("b.db"), NULL) ==
	    0, "%s", err);
}
END_TEST

/* Import `text` as a file: must fail with `want` in the message and leave
 * c.db without ann. */
static void refused(const char *text, size_t len, const char *pass, const char *want)
{
	write_all(path("bad.json"), text, len);
	int rc = pass ? pb("account", "import", path("bad.json"), "--passphrase-file", pass,
	    "--state", path("c.db"), NULL) :
	    pb("account", "import", path("bad.json"), "--state", path("c.db"), NULL);
	ck_assert_msg(rc == 1, "imported: %s%s", out, err);
	ck_assert_msg(strstr(err, want) != NULL, "wanted '%s' in: %s", want, err);
	ck_assert_ptr_nonnull(strstr(err, "nothing was imported"));
	ck_assert(!has_account("c.db", "ann"));
}

/* Replace the first `from` in s (a copy) by `to`. */
static char *replaced(const char *s, const char *from, const char *to)
{
	const char *p = strstr(s, from);
	ck_assert_msg(p != NULL, "no '%s'", from);
	size_t n = strlen(s) - strlen(from) + strlen(to);
	char *r = malloc(n + 1);
	snprintf(r, n + 1, "%.*s%s%s", (int)(p - s), s, to, p + strlen(from));
	return r;
}

START_TEST(damage_refused)
{
	char devpw[PASSGEN_DIGITS + 1];
	size_t len, plen;

	make_ann(devpw);
	write_all(path("pp"), PASSPHRASE "\n", strlen(PASSPHRASE) + 1);
	ck_assert_msg(pb("account", "export", "ann", "--out", path("clear.json"), "--state",
	    path("a.db"), NULL) == 0, "%s", err);
	ck_assert_msg(pb("account", "export", "ann", "--out", path("sealed.json"),
	    "--passphrase-file", path("pp"), "--state", path("a.db"), NULL) == 0, "%s", err);
	ck_assert_ptr_nonnull(strstr(err, "exported already")); /* the second export */
	char *c = read_all(path("clear.json"), &len);
	char *s = read_all(path("sealed.json"), &plen);

	/* cut at every line end before the last, and inside lines */
	for (size_t i = 0; i + 1 < len; i++)
		if (c[i] == '\n')
			refused(c, i + 1, NULL, "ends before its end record");
	refused(c, len / 2, NULL, "");
	refused(c, len - 1, NULL, "ends in the middle of a line");
	refused(c, 0, NULL, "empty file");
	/* a changed value, a row gone, a line added, data after the end */
	char *t = replaced(c, "\"uid\":2", "\"uid\":7");
	refused(t, strlen(t), NULL, "does not match its SHA-256");
	free(t);
	const char *row = strstr(c, "{\"table\":\"messages\"");
	const char *eol = strchr(row, '\n');
	size_t cut = (size_t)(eol + 1 - row);
	t = malloc(len);
	memcpy(t, c, (size_t)(row - c));
	memcpy(t + (row - c), eol + 1, len - (size_t)(row - c) - cut);
	refused(t, len - cut, NULL, "the end record counts");
	free(t);
	t = replaced(c, "{\"table\":\"messages\"", "{\"table\":\"postcards\",\"row\":{}}\n"
	    "{\"table\":\"messages\"");
	refused(t, strlen(t), NULL, "unknown table 'postcards'");
	free(t);
	t = replaced(c, "\"n_waiting\":", "\"color\":1,\"n_waiting\":");
	refused(t, strlen(t), NULL, "has no column 'color'");
	free(t);
	t = replaced(c, "\"version\":1", "\"version\":2");
	refused(t, strlen(t), NULL, "newer popbridge");
	free(t);
	t = replaced(c, "\"offer\":null", "\"offer\":\"some\"");
	refused(t, strlen(t), NULL, "offer must be all, since-enrolment or unseen");
	free(t);
	t = replaced(c, "\"uidl\":\"", "\"uidl\":\"\\t");
	refused(t, strlen(t), NULL, "uidl must be a UIDL");
	free(t);
	t = replaced(c, "\"uid\":2,", "\"uid\":2,\"uid\":3,");
	refused(t, strlen(t), NULL, "duplicate");
	free(t);
	t = malloc(len + 5);
	memcpy(t, c, len);
	memcpy(t + len, "{}\n", 3);
	refused(t, len + 3, NULL, "data after the end record");
	free(t);
	t = malloc(MIGRATE_MOVE_LINE_MAX + 2);
	memset(t, ' ', MIGRATE_MOVE_LINE_MAX + 1);
	t[MIGRATE_MOVE_LINE_MAX + 1] = '\n';
	refused(t, MIGRATE_MOVE_LINE_MAX + 2, NULL, "longer than");
	free(t);
	refused("not json\n", 9, NULL, "not JSON");
	/* base64 with non-zero unused bits (the same octets under a lax decoder):
	 * one accepted encoding per value, as popbridge writes them */
	t = replaced(c, UPSTREAM_PW_B64, "VXBzdHJlYW0tUHctOXNLMi54cR==");
	refused(t, strlen(t), NULL, "must be null or {\"clear\": BASE64}");
	free(t);

	/* sealed: a changed value fails the HMAC, a changed secret does not open */
	t = replaced(s, "\"uid\":2", "\"uid\":7");
	refused(t, strlen(t), path("pp"), "does not match its HMAC");
	free(t);
	const char *sec = strstr(s, "{\"sealed\":\"") + strlen("{\"sealed\":\"");
	t = strdup(s);
	t[sec - s + 20] = t[sec - s + 20] == 'A' ? 'B' : 'A';
	refused(t, strlen(t), path("pp"), "does not open with the passphrase");
	free(t);
	t = replaced(s, "\"n\":32768", "\"n\":1024");
	refused(t, strlen(t), path("pp"), "scrypt parameters out of range");
	free(t);
	free(c);
	free(s);

	/* the files themselves are fine */
	ck_assert_msg(pb("account", "import", path("sealed.json"), "--passphrase-file",
	    path("pp"), "--state", path("c.db"), NULL) == 0, "%s", err);
	login_ok("c.db", "c.db.key", devpw);
}
END_TEST

START_TEST(failed_export_keeps_the_account)
{
	char devpw[PASSGEN_DIGITS + 1];

	make_ann(devpw);
	/* a folder that does not exist */
	ck_assert_int_eq(pb("account", "export", "ann", "--out", path("no/such/ann.json"),
	    "--state", path("a.db"), NULL), 1);
	ck_assert_int_eq(moved_mark("a.db", "ann"), 0);
	/* another node's key file opens nothing here */
	struct managed_key k;
	load_key("other.key", &k);
	managed_key_clear(&k);
	ck_assert_int_eq(pb("account", "export", "ann", "--out", path("ann.json"), "--key-file",
	    path("other.key"), "--state", path("a.db"), NULL), 1);
	ck_assert_ptr_nonnull(strstr(err, "does not open"));
	ck_assert_int_eq(moved_mark("a.db", "ann"), 0);
	struct stat sb;
	ck_assert_int_ne(stat(path("ann.json"), &sb), 0);
	/* no such account; no state file */
	ck_assert_int_eq(pb("account", "export", "carol", "--out", path("c.json"), "--state",
	    path("a.db"), NULL), 1);
	ck_assert_ptr_nonnull(strstr(err, "no account 'carol'"));
	ck_assert_int_eq(pb("account", "export", "ann", "--out", path("c.json"), "--state",
	    path("none.db"), NULL), 1);
	ck_assert_ptr_nonnull(strstr(err, "no state file"));
	ck_assert_int_ne(stat(path("none.db"), &sb), 0);
	/* --out is required; import needs a regular file */
	ck_assert_int_eq(pb("account", "export", "ann", "--state", path("a.db"), NULL), 2);
	ck_assert_int_eq(pb("account", "import", dir, "--state", path("b.db"), NULL), 1);
	ck_assert_ptr_nonnull(strstr(err, "not a regular file"));
	ck_assert_int_eq(pb("account", "import", path("none.json"), "--state", path("b.db"),
	    NULL), 1);
	ck_assert_int_eq(moved_mark("a.db", "ann"), 0);
	login_ok("a.db", "a.db.key", devpw);
}
END_TEST

START_TEST(oauth2_grant_moves)
{
	struct managed_key ka, kb;
	struct oauth2_grant *g = calloc(1, sizeof(*g)), *got = calloc(1, sizeof(*got));
	struct state_oauth2 *row = calloc(1, sizeof(*row));
	char e[300];
	int64_t id;

	ck_assert_ptr_nonnull(g);
	ck_assert_ptr_nonnull(got);
	ck_assert_ptr_nonnull(row);
	load_key("a.db.key", &ka);
	snprintf(g->account, sizeof(g->account), "carol");
	g->provider = OAUTH2_CUSTOM;
	g->grant = OAUTH2_GRANT_REFRESH_TOKEN;
	snprintf(g->token_url, sizeof(g->token_url), "https://127.0.0.1:9/token");
	snprintf(g->client_id, sizeof(g->client_id), "popbridge-test");
	snprintf(g->client_secret, sizeof(g->client_secret), "client-secret-1");
	snprintf(g->refresh, sizeof(g->refresh), "refresh-token-1");
	snprintf(g->access, sizeof(g->access), "access-token-1");
	g->access_expires = 4000000000;
	ck_assert_msg(oauth2_grant_seal(&ka, g, row, e, sizeof(e)) == 0, "%s", e);
	struct state_db *db = open_state("a.db");
	ck_assert_int_eq(state_oauth2_account_add(db, "carol", "carol@up", row, 100, &id),
	    STATE_OK);
	state_close(db);
	write_all(path("pp"), PASSPHRASE "\n", strlen(PASSPHRASE) + 1);
	ck_assert_msg(pb("account", "export", "carol", "--out", path("carol.json"),
	    "--passphrase-file", path("pp"), "--state", path("a.db"), NULL) == 0, "%s", err);
	ck_assert_ptr_nonnull(strstr(out, "its OAuth2 grant"));
	size_t len;
	char *file = read_all(path("carol.json"), &len);
	ck_assert_ptr_null(strstr(file, "token-1"));
	ck_assert_ptr_null(strstr(file, "client-secret-1"));
	free(file);
	ck_assert_msg(pb("account", "import", path("carol.json"), "--passphrase-file", path("pp"),
	    "--state", path("b.db"), NULL) == 0, "%s", err);
	ck_assert_ptr_nonnull(strstr(out, "3 secrets sealed"));
	load_key("b.db.key", &kb);
	db = open_state("b.db");
	struct state_account a;
	ck_assert_int_eq(state_account_get(db, "carol", &a), STATE_OK);
	ck_assert_int_eq(a.credential, STATE_CRED_OAUTH2);
	ck_assert_msg(oauth2_grant_open(db, &kb, a.id, "carol", got, e, sizeof(e)) == 0, "%s", e);
	ck_assert_str_eq(got->refresh, "refresh-token-1");
	ck_assert_str_eq(got->access, "access-token-1");
	ck_assert_str_eq(got->client_secret, "client-secret-1");
	ck_assert_int_eq(got->access_expires, 4000000000);
	/* sealed with b's key, not a's */
	ck_assert_int_ne(oauth2_grant_open(db, &ka, a.id, "carol", got, e, sizeof(e)), 0);
	state_close(db);
	managed_key_clear(&ka);
	managed_key_clear(&kb);
	oauth2_grant_clear(g);
	oauth2_grant_clear(got);
	free(g);
	free(got);
	free(row);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("move");
	TCase *tc = tcase_create("move");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, clear_file_moves_a_managed_account);
	tcase_add_test(tc, passphrase);
	tcase_add_test(tc, damage_refused);
	tcase_add_test(tc, failed_export_keeps_the_account);
	tcase_add_test(tc, oauth2_grant_moves);
	suite_add_tcase(s, tc);
	return bt_run_suite(s);
}
