/* tests/state/check_state_identity.c — accounts, devices (settings,
 * login record, revoke, reset, remove), OAuth2 grants and the report query. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include <sqlite3.h>

#include "state/state_test.h"
#include "tests/state/st_util.h"

START_TEST(accounts_lifecycle)
{
	static const unsigned char secret[] = { 0x00, 0x01, 0xfe, 0x00, 0x7f, 'x' };
	static const unsigned char secret2[] = { 0xaa, 0xbb };
	struct state_account a, b;
	char longname[STATE_ACCOUNT_MAX + 2];
	int64_t id1, id2;

	OK(state_account_add(db, "alice", STATE_AUTH_PASSTHROUGH, NULL, NULL, 0, 100, &id1));
	OK(state_account_add(db, "bob@example.org", STATE_AUTH_MANAGED, "bob.upstream",
	    secret, sizeof secret, 200, &id2));
	RC(state_account_add(db, "alice", STATE_AUTH_PASSTHROUGH, NULL, NULL, 0, 1, NULL),
	    STATE_EXISTS);
	ck_assert_ptr_nonnull(strstr(state_errmsg(db), "alice"));

	OK(state_account_get(db, "alice", &a));
	ck_assert_int_eq(a.id, id1);
	ck_assert_int_eq(a.auth, STATE_AUTH_PASSTHROUGH);
	ck_assert_str_eq(a.upstream_user, "");
	ck_assert_uint_eq(a.secret_len, 0);
	ck_assert_int_eq(a.created, 100);
	OK(state_account_get_by_id(db, id2, &b));
	ck_assert_str_eq(b.name, "bob@example.org");
	ck_assert_int_eq(b.auth, STATE_AUTH_MANAGED);
	ck_assert_str_eq(b.upstream_user, "bob.upstream");
	ck_assert_uint_eq(b.secret_len, sizeof secret);
	ck_assert_mem_eq(b.secret, secret, sizeof secret);
	RC(state_account_get(db, "carol", &a), STATE_NOTFOUND);
	RC(state_account_get_by_id(db, 999, &a), STATE_NOTFOUND);

	/* bad input: clear errors, nothing written */
	RC(state_account_add(db, "", STATE_AUTH_PASSTHROUGH, NULL, NULL, 0, 1, NULL),
	    STATE_INVALID);
	RC(state_account_add(db, "ev\nil", STATE_AUTH_PASSTHROUGH, NULL, NULL, 0, 1, NULL),
	    STATE_INVALID);
	memset(longname, 'x', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	RC(state_account_add(db, longname, STATE_AUTH_PASSTHROUGH, NULL, NULL, 0, 1, NULL),
	    STATE_INVALID);
	/* one wording of the rule, for adding and for looking up */
	ck_assert_str_eq(state_errmsg(db),
	    "an account name is 1 to 255 octets, none of them a control character");
	RC(state_account_get(db, "ev\nil", &a), STATE_INVALID);
	ck_assert_str_eq(state_errmsg(db), STATE_ACCOUNT_RULE);
	RC(state_account_remove(db, ""), STATE_INVALID);
	ck_assert_str_eq(state_errmsg(db), STATE_ACCOUNT_RULE);
	longname[STATE_ACCOUNT_MAX] = '\0';
	OK(state_account_add(db, longname, STATE_AUTH_PASSTHROUGH, NULL, NULL, 0, 1, NULL));
	RC(state_account_add(db, "m1", STATE_AUTH_MANAGED, "u", NULL, 0, 1, NULL),
	    STATE_INVALID);
	RC(state_account_add(db, "m2", STATE_AUTH_MANAGED, "", secret, 2, 1, NULL),
	    STATE_INVALID);
	RC(state_account_add(db, "p1", STATE_AUTH_PASSTHROUGH, NULL, secret, 2, 1, NULL),
	    STATE_INVALID);
	RC(state_account_get(db, "m1", &a), STATE_NOTFOUND);

	/* set-password / conversion to managed */
	OK(state_account_set_credentials(db, id1, STATE_AUTH_MANAGED, "alice.up", secret2,
	    sizeof secret2));
	OK(state_account_get(db, "alice", &a));
	ck_assert_int_eq(a.auth, STATE_AUTH_MANAGED);
	ck_assert_str_eq(a.upstream_user, "alice.up");
	ck_assert_uint_eq(a.secret_len, 2);
	ck_assert_mem_eq(a.secret, secret2, 2);
	RC(state_account_set_credentials(db, 999, STATE_AUTH_MANAGED, "x", secret2, 2),
	    STATE_NOTFOUND);
	OK(state_account_set_credentials(db, id1, STATE_AUTH_PASSTHROUGH, NULL, NULL, 0));
	OK(state_account_get(db, "alice", &a));
	ck_assert_uint_eq(a.secret_len, 0);

	/* ensure: existing returned as is; missing created as passthrough */
	OK(state_account_ensure(db, "bob@example.org", 5, &a));
	ck_assert_int_eq(a.id, id2);
	ck_assert_int_eq(a.auth, STATE_AUTH_MANAGED);
	OK(state_account_ensure(db, "dave", 300, &a));
	ck_assert_int_eq(a.auth, STATE_AUTH_PASSTHROUGH);
	ck_assert_int_eq(a.created, 300);

	OK(state_account_remove(db, "dave"));
	RC(state_account_remove(db, "dave"), STATE_NOTFOUND);
}
END_TEST

struct names {
	char v[8][600];
	int n;
};

static int collect_account(void *arg, const struct state_account *a)
{
	struct names *ns = arg;

	if (ns->n < 8)
		snprintf(ns->v[ns->n++], sizeof ns->v[0], "%s", a->name);
	return 0;
}

static int collect_device(void *arg, const struct state_device *d)
{
	struct names *ns = arg;

	if (ns->n < 8)
		snprintf(ns->v[ns->n++], sizeof ns->v[0], "%s#%s", d->account, d->name);
	return 0;
}

static int stop_after_one(void *arg, const struct state_device *d)
{
	(void)d;
	++*(int *)arg;
	return 1;
}

START_TEST(listing_order)
{
	struct names ns = { .n = 0 };
	int64_t z = st_account("zed"), a = st_account("amy");
	int calls = 0;

	st_device(z, "b");
	st_device(z, "a");
	st_device(a, "default");
	OK(state_account_list(db, collect_account, &ns));
	ck_assert_int_eq(ns.n, 2);
	ck_assert_str_eq(ns.v[0], "amy");
	ck_assert_str_eq(ns.v[1], "zed");
	ns.n = 0;
	OK(state_device_list(db, 0, collect_device, &ns));
	ck_assert_int_eq(ns.n, 3);
	ck_assert_str_eq(ns.v[0], "amy#default");
	ck_assert_str_eq(ns.v[1], "zed#a");
	ck_assert_str_eq(ns.v[2], "zed#b");
	ns.n = 0;
	OK(state_device_list(db, z, collect_device, &ns));
	ck_assert_int_eq(ns.n, 2);
	ck_assert_str_eq(ns.v[0], "zed#a");
	OK(state_device_list(db, 0, stop_after_one, &calls));
	ck_assert_int_eq(calls, 1);
}
END_TEST

START_TEST(devices_lifecycle)
{
	struct state_device_settings s = { .window = -1 };
	struct state_device d, e;
	int64_t acc = st_account("alice"), other = st_account("bob");
	bool created = true;

	snprintf(s.folder, sizeof s.folder, "Scans");
	snprintf(s.offer, sizeof s.offer, "unseen");
	s.window = 50;
	snprintf(s.dele, sizeof s.dele, "last-device");
	OK(state_device_add(db, acc, "scanner", &s, "$scrypt$N=16384,r=8,p=1$salt$hash",
	    "INBOX", 500, &d));
	ck_assert_str_eq(d.account, "alice");
	ck_assert_str_eq(d.name, "scanner");
	ck_assert_int_eq(d.created, 500);
	ck_assert_int_eq(d.last_login, 0);
	ck_assert_str_eq(d.last_address, "");
	ck_assert(!d.revoked);
	ck_assert_str_eq(d.settings.folder, "Scans");
	ck_assert_str_eq(d.settings.offer, "unseen");
	ck_assert_int_eq(d.settings.window, 50);
	ck_assert_str_eq(d.settings.seen_on, "");
	ck_assert_str_eq(d.settings.dele, "last-device");
	ck_assert_str_eq(d.password_hash, "$scrypt$N=16384,r=8,p=1$salt$hash");
	ck_assert_int_eq(d.enrol_mailbox_id, 0); /* folder never synced */

	RC(state_device_add(db, acc, "scanner", NULL, NULL, "INBOX", 1, NULL), STATE_EXISTS);
	OK(state_device_add(db, other, "scanner", NULL, NULL, "INBOX", 1, NULL));
	RC(state_device_add(db, 999, "x", NULL, NULL, "INBOX", 1, NULL), STATE_NOTFOUND);
	RC(state_device_add(db, acc, "", NULL, NULL, "INBOX", 1, NULL), STATE_INVALID);
	RC(state_device_add(db, acc, "a\tb", NULL, NULL, "INBOX", 1, NULL), STATE_INVALID);
	snprintf(s.offer, sizeof s.offer, "sometimes");
	RC(state_device_add(db, acc, "bad", &s, NULL, "INBOX", 1, NULL), STATE_INVALID);
	ck_assert_ptr_nonnull(strstr(state_errmsg(db), "offer"));
	snprintf(s.offer, sizeof s.offer, "all");
	snprintf(s.seen_on, sizeof s.seen_on, "later");
	RC(state_device_add(db, acc, "bad", &s, NULL, "INBOX", 1, NULL), STATE_INVALID);
	s.seen_on[0] = '\0';
	snprintf(s.dele, sizeof s.dele, "shred");
	RC(state_device_add(db, acc, "bad", &s, NULL, "INBOX", 1, NULL), STATE_INVALID);
	s.dele[0] = '\0';
	s.window = -5;
	RC(state_device_add(db, acc, "bad", &s, NULL, "INBOX", 1, NULL), STATE_INVALID);
	RC(state_device_get(db, acc, "bad", &e), STATE_NOTFOUND);

	/* ensure */
	OK(state_device_ensure(db, acc, "scanner", "INBOX", 9, 0, &e, &created));
	ck_assert(!created);
	ck_assert_int_eq(e.id, d.id);
	OK(state_device_ensure(db, acc, "default", "INBOX", 9, 0, &e, &created));
	ck_assert(created);
	ck_assert_int_eq(e.created, 9);
	ck_assert_int_eq(e.settings.window, -1);
	ck_assert_str_eq(e.settings.offer, "");

	/* set: only the masked fields change; "" / -1 clear */
	memset(&s, 0, sizeof s);
	snprintf(s.seen_on, sizeof s.seen_on, "quit");
	s.window = -1;
	snprintf(s.offer, sizeof s.offer, "IGNORED-not-in-mask");
	OK(state_device_set(db, d.id, &s, STATE_SET_SEEN_ON | STATE_SET_WINDOW));
	OK(state_device_get_by_id(db, d.id, &e));
	ck_assert_str_eq(e.settings.seen_on, "quit");
	ck_assert_int_eq(e.settings.window, -1);
	ck_assert_str_eq(e.settings.offer, "unseen");
	ck_assert_str_eq(e.settings.folder, "Scans");
	s.folder[0] = '\0';
	OK(state_device_set(db, d.id, &s, STATE_SET_FOLDER));
	OK(state_device_get_by_id(db, d.id, &e));
	ck_assert_str_eq(e.settings.folder, "");
	snprintf(s.dele, sizeof s.dele, "nope");
	RC(state_device_set(db, d.id, &s, STATE_SET_DELE), STATE_INVALID);
	s.dele[0] = '\0';
	/* login delay (SPEC §14): decimal seconds, "" the default */
	ck_assert_str_eq(e.settings.login_delay, "");
	snprintf(s.login_delay, sizeof s.login_delay, "900");
	OK(state_device_set(db, d.id, &s, STATE_SET_LOGIN_DELAY));
	OK(state_device_get_by_id(db, d.id, &e));
	ck_assert_str_eq(e.settings.login_delay, "900");
	ck_assert_str_eq(e.settings.seen_on, "quit");   /* the others unchanged */
	snprintf(s.login_delay, sizeof s.login_delay, "0");
	OK(state_device_set(db, d.id, &s, STATE_SET_LOGIN_DELAY));
	OK(state_device_get_by_id(db, d.id, &e));
	ck_assert_str_eq(e.settings.login_delay, "0");
	static const char *const bad_delays[] = { "86401", "-1", "09", "1e3", " 5", "123456" };
	for (size_t i = 0; i < sizeof bad_delays / sizeof bad_delays[0]; i++) {
		snprintf(s.login_delay, sizeof s.login_delay, "%s", bad_delays[i]);
		RC(state_device_set(db, d.id, &s, STATE_SET_LOGIN_DELAY), STATE_INVALID);
		RC(state_device_add(db, acc, "bad", &s, NULL, "INBOX", 1, NULL), STATE_INVALID);
	}
	s.login_delay[0] = '\0';
	OK(state_device_set(db, d.id, &s, STATE_SET_LOGIN_DELAY));
	OK(state_device_get_by_id(db, d.id, &e));
	ck_assert_str_eq(e.settings.login_delay, "");
	memset(&s, 0, sizeof s);
	s.window = -1;
	snprintf(s.login_delay, sizeof s.login_delay, "86400");
	OK(state_device_add(db, acc, "slow", &s, NULL, "INBOX", 1, &e));
	ck_assert_str_eq(e.settings.login_delay, "86400");
	RC(state_device_set(db, 999, &s, STATE_SET_FOLDER), STATE_NOTFOUND);

	/* password, login record, revoke */
	OK(state_device_set_password(db, d.id, "$scrypt$new"));
	OK(state_device_login(db, d.id, 777, "::1", "pop3", "TLSv1.2"));
	OK(state_device_get(db, acc, "scanner", &e));
	ck_assert_str_eq(e.password_hash, "$scrypt$new");
	ck_assert_int_eq(e.last_login, 777);
	ck_assert_str_eq(e.last_address, "::1");
	ck_assert_str_eq(e.protocol, "pop3");
	ck_assert_str_eq(e.tls, "TLSv1.2");
	OK(state_device_login(db, d.id, 778, "127.0.0.1", "pop3", NULL));
	OK(state_device_get(db, acc, "scanner", &e));
	ck_assert_str_eq(e.tls, "");
	RC(state_device_login(db, d.id, 1, "", "pop3", NULL), STATE_INVALID);
	OK(state_device_revoke(db, d.id, true));
	OK(state_device_get_by_id(db, d.id, &e));
	ck_assert(e.revoked);
	OK(state_device_revoke(db, d.id, false));
	OK(state_device_get_by_id(db, d.id, &e));
	ck_assert(!e.revoked);
	RC(state_device_revoke(db, 999, true), STATE_NOTFOUND);

	/* remove; removing the account removes its devices */
	OK(state_device_remove(db, d.id));
	RC(state_device_get_by_id(db, d.id, &e), STATE_NOTFOUND);
	RC(state_device_remove(db, d.id), STATE_NOTFOUND);
	OK(state_account_remove(db, "bob"));
	RC(state_device_get(db, other, "scanner", &e), STATE_NOTFOUND);
}
END_TEST

struct report_rows {
	char v[8][1000];
	int n;
};

static int report_cb(void *arg, const struct state_account *a, const struct state_device *d)
{
	struct report_rows *r = arg;

	if (r->n >= 8)
		return 1;
	if (d == NULL)
		snprintf(r->v[r->n++], sizeof r->v[0], "%s/%d/-", a->name, (int)a->auth);
	else
		snprintf(r->v[r->n++], sizeof r->v[0],
		    "%s/%d/%s c=%lld l=%lld %s %s %s r=%lld d=%lld w=%lld rev=%d", a->name,
		    (int)a->auth, d->name, (long long)d->created, (long long)d->last_login,
		    d->last_address, d->protocol, d->tls, (long long)d->retrieved,
		    (long long)d->deleted, (long long)d->waiting, (int)d->revoked);
	return 0;
}

START_TEST(report_rows)
{
	static const unsigned char sec[] = { 1, 2, 3 };
	struct report_rows r = { .n = 0 };
	struct state_listing it[3];
	struct st_keys k[3];
	struct state_mailbox_status s = { 10, 4, 0 };
	struct state_view_msg *v;
	size_t n;
	int64_t acc, mgr, dev, dev2, mb;

	acc = st_account("pat");
	OK(state_account_add(db, "mia", STATE_AUTH_MANAGED, "mia", sec, 3, 1, &mgr));
	st_account("noone");
	dev = st_device(acc, "pc");
	dev2 = st_device(acc, "old");
	OK(state_device_revoke(db, dev2, true));
	st_device(mgr, "scanner");
	mb = st_mailbox(acc, "INBOX");
	for (int i = 0; i < 3; i++)
		it[i] = st_item((uint32_t)i + 1, (unsigned)i, 0, &k[i]);
	OK(state_messages_sync(db, mb, &s, it, 3, true, 50, NULL));
	OK(state_device_login(db, dev, 60, "127.0.0.1", "pop3", "TLSv1.3"));
	OK(state_view_build(db, dev, &st_defaults, 60, &v, &n));
	ck_assert_uint_eq(n, 3);
	{
		int64_t ids[2] = { v[0].id, v[1].id };

		OK(state_devmsg_retrieved(db, dev, ids, 2, 61));
	}
	OK(state_journal_begin(db, dev, mb, "hide", &v[0].id, 1, NULL, 0, 62, NULL));
	state_view_free(v);
	OK(state_device_update_counters(db, dev, &st_defaults, NULL));

	OK(state_report(db, report_cb, &r));
	ck_assert_int_eq(r.n, 4);
	ck_assert_str_eq(r.v[0], "mia/1/scanner c=1000 l=0    r=0 d=0 w=0 rev=0");
	ck_assert_str_eq(r.v[1], "noone/0/-");
	ck_assert_str_eq(r.v[2], "pat/0/old c=1000 l=0    r=0 d=0 w=0 rev=1");
	/* retrieved 2, deleted 1 (of them), waiting: message 3 */
	ck_assert_str_eq(r.v[3],
	    "pat/0/pc c=1000 l=60 127.0.0.1 pop3 TLSv1.3 r=2 d=1 w=1 rev=0");
}
END_TEST

/* The listed row of one device. */
struct named_row {
	const char *name;
	struct state_device d;
	bool found;
};

static int keep_named(void *arg, const struct state_device *d)
{
	struct named_row *w = arg;
	if (strcmp(d->name, w->name) == 0) {
		w->d = *d;
		w->found = true;
	}
	return 0;
}

static struct state_device listed(int64_t acc, const char *name)
{
	struct named_row w = { .name = name };
	OK(state_device_list(db, acc, keep_named, &w));
	ck_assert_msg(w.found, "no row for %s", name);
	return w.d;
}

/* Schema 6: pop3_login follows POP3 logins only (an IMAP front login leaves
 * it), and the migration from version 3 takes last_login for it (every
 * earlier login was a POP3 one). */
START_TEST(pop3_login_by_protocol)
{
	char err[512];
	int64_t acc, pc, phone;

	state_close(db);
	unlink(st_path);
	db = state_open_at(st_path, 3, err, sizeof err);
	ck_assert_msg(db != NULL, "%s", err);
	state_close(db);
	/* Rows as a version-3 popbridge wrote them (the API writes the current
	 * schema), one with a login. */
	sqlite3 *raw;
	ck_assert_int_eq(sqlite3_open(st_path, &raw), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(raw, "INSERT INTO accounts(name, auth, created)"
	    " VALUES ('ann', 0, 1);"
	    "INSERT INTO devices(account_id, name, created) VALUES (1, 'pc', 1), (1, 'phone', 1);"
	    "UPDATE devices SET last_login = 100, protocol = 'pop3' WHERE name = 'pc'",
	    NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(raw);
	db = st_open();
	acc = 1;
	pc = listed(acc, "pc").id;
	phone = listed(acc, "phone").id;
	ck_assert_int_eq(state_db_version(db), state_schema_version());
	ck_assert_int_eq(listed(acc, "pc").pop3_login, 100);
	ck_assert_int_eq(listed(acc, "phone").pop3_login, 0);

	OK(state_device_login(db, phone, 200, "192.0.2.2", "imap", "TLSv1.3"));
	OK(state_device_login(db, pc, 300, "192.0.2.1", "imap", ""));
	struct state_device d = listed(acc, "phone");
	ck_assert_int_eq(d.last_login, 200);
	ck_assert_str_eq(d.protocol, "imap");
	ck_assert_int_eq(d.pop3_login, 0);                 /* never used POP3 */
	d = listed(acc, "pc");
	ck_assert_int_eq(d.last_login, 300);
	ck_assert_int_eq(d.pop3_login, 100);               /* an IMAP login leaves it */
	OK(state_device_login(db, phone, 400, "192.0.2.2", "pop3", ""));
	ck_assert_int_eq(listed(acc, "phone").pop3_login, 400);
}
END_TEST

START_TEST(names_case_insensitive)
{
	/* Account and device names compare ASCII case-insensitively: stored as
	 * first given, found in any case, never added twice in another case. */
	struct state_account a;
	struct state_device d;
	int64_t acc;
	bool created = true;

	OK(state_account_add(db, "Alice@Example.org", STATE_AUTH_PASSTHROUGH, NULL, NULL, 0, 1,
	    &acc));
	OK(state_account_get(db, "alice@example.org", &a));
	ck_assert_int_eq(a.id, acc);
	ck_assert_str_eq(a.name, "Alice@Example.org");
	RC(state_account_add(db, "ALICE@EXAMPLE.ORG", STATE_AUTH_PASSTHROUGH, NULL, NULL, 0, 1,
	    NULL), STATE_EXISTS);
	ck_assert_ptr_nonnull(strstr(state_errmsg(db), "Alice@Example.org"));
	OK(state_account_ensure(db, "aLICE@example.ORG", 2, &a));
	ck_assert_int_eq(a.id, acc);

	OK(state_device_ensure(db, acc, "pc", "INBOX", 3, 0, &d, &created));
	ck_assert(created);
	int64_t dev = d.id;
	OK(state_device_ensure(db, acc, "PC", "INBOX", 4, 0, &d, &created));
	ck_assert(!created);
	ck_assert_int_eq(d.id, dev);
	ck_assert_str_eq(d.name, "pc");
	OK(state_device_get(db, acc, "Pc", &d));
	ck_assert_int_eq(d.id, dev);
	RC(state_device_add(db, acc, "PC", NULL, NULL, "INBOX", 5, NULL), STATE_EXISTS);
	ck_assert_ptr_nonnull(strstr(state_errmsg(db), "'pc'"));

	OK(state_account_remove(db, "ALICE@example.org"));
	RC(state_account_get(db, "Alice@Example.org", &a), STATE_NOTFOUND);
}
END_TEST

/* OAuth2 grants (SPEC §10): an account whose credential is a grant, its
 * tokens, the refresh lease, the credential's outcome, and a password
 * replacing the grant. */
START_TEST(oauth2_grants)
{
	struct state_oauth2 *g = calloc(1, sizeof(*g)), *r = calloc(1, sizeof(*r));
	struct state_account a;
	int64_t id;

	ck_assert_ptr_nonnull(g);
	ck_assert_ptr_nonnull(r);
	snprintf(g->provider, sizeof(g->provider), "microsoft");
	snprintf(g->grant, sizeof(g->grant), "device-code");
	snprintf(g->token_url, sizeof(g->token_url), "https://login.example/token");
	snprintf(g->device_url, sizeof(g->device_url), "https://login.example/devicecode");
	snprintf(g->client_id, sizeof(g->client_id), "cid");
	snprintf(g->tenant, sizeof(g->tenant), "contoso.example");
	memcpy(g->refresh, "R1", 2);
	g->refresh_len = 2;
	memcpy(g->access, "A1", 2);
	g->access_len = 2;
	g->access_expires = 5000;
	OK(state_oauth2_account_add(db, "carol@example.org", "carol", g, 100, &id));
	RC(state_oauth2_account_add(db, "Carol@example.org", "carol", g, 100, NULL), STATE_EXISTS);
	OK(state_account_get(db, "carol@example.org", &a));
	ck_assert_int_eq(a.auth, STATE_AUTH_MANAGED);
	ck_assert_int_eq(a.credential, STATE_CRED_OAUTH2);
	ck_assert_int_eq(a.credential_ok, -1);
	ck_assert_uint_eq(a.secret_len, 0);
	ck_assert_str_eq(a.upstream_user, "carol");
	OK(state_oauth2_get(db, id, r));
	ck_assert_str_eq(r->provider, "microsoft");
	ck_assert_str_eq(r->tenant, "contoso.example");
	ck_assert_str_eq(r->scope, "");
	ck_assert_uint_eq(r->client_secret_len, 0);
	ck_assert_uint_eq(r->refresh_len, 2);
	ck_assert_int_eq(r->access_expires, 5000);
	ck_assert_int_eq(r->refreshed, 100);
	int64_t gen = r->generation;

	/* the credential's outcome is written when it changes */
	OK(state_account_credential_result(db, id, true));
	OK(state_account_get_by_id(db, id, &a));
	ck_assert_int_eq(a.credential_ok, 1);
	OK(state_account_credential_result(db, id, false));
	OK(state_account_get_by_id(db, id, &a));
	ck_assert_int_eq(a.credential_ok, 0);
	RC(state_account_credential_result(db, 999, true), STATE_NOTFOUND);

	/* one lease at a time, only for the generation read */
	OK(state_oauth2_lease(db, id, gen, 7, 1000, 1030));
	RC(state_oauth2_lease(db, id, gen, 8, 1001, 1031), STATE_EXISTS);
	RC(state_oauth2_lease(db, id, gen + 1, 8, 1001, 1031), STATE_EXISTS);
	/* store: a rotated refresh token and the access token; the lease ends */
	OK(state_oauth2_store(db, id, 7, "A2", 2, 6000, "R2", 2, 1002));
	OK(state_oauth2_get(db, id, r));
	ck_assert_int_eq(r->generation, gen + 1);
	ck_assert_mem_eq(r->refresh, "R2", 2);
	ck_assert_mem_eq(r->access, "A2", 2);
	ck_assert_int_eq(r->access_expires, 6000);
	RC(state_oauth2_lease(db, id, gen, 8, 1003, 1033), STATE_EXISTS);
	OK(state_oauth2_lease(db, id, gen + 1, 8, 1003, 1033));
	/* a lease that ran out can be taken over */
	OK(state_oauth2_lease(db, id, gen + 1, 9, 1034, 1064));
	OK(state_oauth2_release(db, id, 8, "not the holder"));
	RC(state_oauth2_lease(db, id, gen + 1, 8, 1035, 1065), STATE_EXISTS);
	/* no refresh token given: the stored one stays */
	OK(state_oauth2_store(db, id, 9, "A3", 2, 7000, NULL, 0, 1036));
	OK(state_oauth2_get(db, id, r));
	ck_assert_mem_eq(r->refresh, "R2", 2);
	ck_assert_mem_eq(r->access, "A3", 2);
	ck_assert_str_eq(r->last_error, "");
	OK(state_oauth2_lease(db, id, r->generation, 9, 1037, 1067));
	OK(state_oauth2_release(db, id, 9, "invalid_grant: revoked\n"));
	OK(state_oauth2_get(db, id, r));
	ck_assert_str_eq(r->last_error, "invalid_grant: revoked?");
	OK(state_oauth2_lease(db, id, r->generation, 10, 1038, 1068));
	RC(state_oauth2_lease(db, id, r->generation, 0, 1038, 1068), STATE_INVALID);

	/* oauth2-login replaces the grant: generation up, lease and error gone */
	g->refresh_len = 0;
	OK(state_oauth2_replace(db, id, g, 1040));
	OK(state_oauth2_get(db, id, r));
	ck_assert_uint_eq(r->refresh_len, 0);
	ck_assert_str_eq(r->last_error, "");
	OK(state_oauth2_lease(db, id, r->generation, 11, 1041, 1071));
	OK(state_account_get_by_id(db, id, &a));
	ck_assert_int_eq(a.credential_ok, -1);

	/* bad input */
	snprintf(g->token_url, sizeof(g->token_url), "https://x/\n");
	RC(state_oauth2_replace(db, id, g, 1), STATE_INVALID);
	RC(state_oauth2_account_add(db, "dave", "dave", g, 1, NULL), STATE_INVALID);
	RC(state_oauth2_store(db, id, 11, NULL, 0, 1, NULL, 0, 1), STATE_INVALID);
	RC(state_oauth2_get(db, 999, r), STATE_NOTFOUND);

	/* a password replaces the grant */
	OK(state_account_set_credentials(db, id, STATE_AUTH_MANAGED, "carol", "S", 1));
	OK(state_account_get_by_id(db, id, &a));
	ck_assert_int_eq(a.credential, STATE_CRED_PASSWORD);
	RC(state_oauth2_get(db, id, r), STATE_NOTFOUND);
	/* removing an account removes its grant */
	snprintf(g->token_url, sizeof(g->token_url), "https://login.example/token");
	OK(state_oauth2_account_add(db, "erin", "erin", g, 1, &id));
	OK(state_oauth2_get(db, id, r));
	OK(state_account_remove(db, "erin"));
	RC(state_oauth2_get(db, id, r), STATE_NOTFOUND);
	free(g);
	free(r);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("state-identity");
	TCase *tc = tcase_create("identity");

	tcase_add_checked_fixture(tc, st_setup, st_teardown);
	tcase_add_test(tc, accounts_lifecycle);
	tcase_add_test(tc, listing_order);
	tcase_add_test(tc, devices_lifecycle);
	tcase_add_test(tc, report_rows);
	tcase_add_test(tc, names_case_insensitive);
	tcase_add_test(tc, oauth2_grants);
	tcase_add_test(tc, pop3_login_by_protocol);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return st_run(suite());
}
