/* tests/bridge/check_maildrop_fail.c — the maildrop when things go wrong
 * (SPEC §2, §5, §6): wrong credentials and the failed-login delay, bad user
 * names, the device lock, an unreachable or silent upstream, a message
 * expunged by another client mid-session, a client gone mid-RETR, a session
 * abandoned without QUIT, a commit whose upstream steps fail, and kill -9 at
 * each named point of the commit path followed by recovery. */
#include "tests/bridge/check_maildrop.h"
#include "tests/lib/fakeserver.h"

#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

START_TEST(t_wrong_password_and_delay)
{
	struct mdt_env e;
	struct mdt_sess s;

	mdt_env_init(&e, "wrongpw", NULL);
	ck_assert_int_eq(mdt_open_as(&e, &s, "wrongpw", "not-it"), POP3_MD_AUTH);
	ck_assert_ptr_null(s.md);
	ck_assert_uint_eq(s.reply.delay_ms, 2000);
	char text[sizeof(s.reply.text)];
	strcpy(text, s.reply.text);
	ck_assert_int_eq(mdt_open_as(&e, &s, "wrongpw#pc", "not-it"), POP3_MD_AUTH);
	ck_assert_uint_eq(s.reply.delay_ms, 4000);
	/* An unknown user looks the same; failures count per address and
	 * account name (SPEC §13), so its own delay starts at 2 s. */
	ck_assert_int_eq(mdt_open_as(&e, &s, "nosuchuser", "not-it"), POP3_MD_AUTH);
	ck_assert_uint_eq(s.reply.delay_ms, 2000);
	ck_assert_str_eq(s.reply.text, text);
	ck_assert_int_eq(mdt_open_as(&e, &s, "nosuchuser", "x"), POP3_MD_AUTH);
	ck_assert_uint_eq(s.reply.delay_ms, 4000);
	ck_assert_uint_eq(guard_throttle_failures(e.ctx.throttle, "127.0.0.1", "wrongpw"), 2);
	ck_assert_uint_eq(guard_throttle_addr_failures(e.ctx.throttle, "127.0.0.1"), 4);
	/* The checks waited for the delays the earlier failures earned:
	 * 2 s before the second try of wrongpw, 2 s before nosuchuser's. */
	uint64_t before = e.fake_ms;
	ck_assert_int_eq(mdt_open_as(&e, &s, "nosuchuser", "y"), POP3_MD_AUTH);
	ck_assert_uint_eq(s.reply.delay_ms, 8000);
	ck_assert_uint_eq(e.fake_ms - before, 4000);
	/* A good login resets the delay of its own address and account only. */
	mdt_open(&e, &s, NULL);
	mdt_close(&s);
	ck_assert_uint_eq(guard_throttle_failures(e.ctx.throttle, "127.0.0.1", "wrongpw"), 0);
	ck_assert_uint_eq(guard_throttle_failures(e.ctx.throttle, "127.0.0.1", "nosuchuser"), 3);
	ck_assert_uint_eq(guard_throttle_addr_failures(e.ctx.throttle, "127.0.0.1"), 5);
	ck_assert_int_eq(mdt_open_as(&e, &s, "wrongpw", "not-it"), POP3_MD_AUTH);
	ck_assert_uint_eq(s.reply.delay_ms, 2000);
	/* Nothing was created for the failed logins. */
	char err[200];
	struct state_db *db = state_open(e.db, err, sizeof(err));
	ck_assert_ptr_nonnull(db);
	struct state_account acc;
	ck_assert_int_eq(state_account_get(db, "nosuchuser", &acc), STATE_NOTFOUND);
	struct state_device dev;
	ck_assert_int_eq(state_account_get(db, "wrongpw", &acc), STATE_OK);
	ck_assert_int_eq(state_device_get(db, acc.id, "pc", &dev), STATE_NOTFOUND);
	ck_assert_int_eq(state_device_get(db, acc.id, "default", &dev), STATE_OK);
	state_close(db);
	mdt_env_free(&e);
}
END_TEST

/* A check the failed-login delay would start after the connection's login
 * deadline is not made (bridge/guard/throttle.h): the login waits out what
 * is left of its time and is refused [SYS/TEMP] without a check, so even
 * the right password neither logs in nor resets the delay. */
START_TEST(t_delay_past_login_deadline)
{
	struct mdt_env e;
	struct mdt_sess s;
	struct pop3_credentials cred = {
		.user = "lateuser", .password = MDT_PASS, .mechanism = "USER",
		.remote_addr = "127.0.0.1",
	};

	mdt_env_init(&e, "lateuser", NULL);
	ck_assert_int_eq(mdt_open_as(&e, &s, "lateuser", "not-it"), POP3_MD_AUTH);
	ck_assert_int_eq(mdt_open_as(&e, &s, "lateuser", "not-it"), POP3_MD_AUTH);
	/* the next check of this pair may start 4 s from now; 1 s is left */
	memset(&s, 0, sizeof(s));
	maildrop_conn_init(&s.conn, &e.ctx, "127.0.0.1", NULL);
	s.conn.login_deadline_ms = base_clock_ms(NULL) + 1000;
	uint64_t before = e.fake_ms;
	ck_assert_int_eq(maildrop_ops.open(&s.conn, &cred, &s.md, &s.reply), POP3_MD_TEMP);
	ck_assert_ptr_null(s.md);
	ck_assert_ptr_nonnull(strstr(s.reply.text, "try again later"));
	ck_assert_uint_le(e.fake_ms - before, 1000);
	ck_assert_uint_eq(guard_throttle_failures(e.ctx.throttle, "127.0.0.1", "lateuser"), 2);
	ck_assert(!s.conn.identified);
	/* with time enough the same login is checked, waits and works */
	mdt_open(&e, &s, NULL);
	mdt_close(&s);
	ck_assert_uint_eq(guard_throttle_failures(e.ctx.throttle, "127.0.0.1", "lateuser"), 0);
	mdt_env_free(&e);
}
END_TEST

START_TEST(t_bad_user_names)
{
	struct mdt_env e;
	struct mdt_sess s;
	char longname[400];
	static const char *const bad[] = {
		"badname#", "badname#a#b", "#dev", "bad name", "badname#dev ice",
		"badname#d\x01", "badname#\xc3\xa9", "",
	};

	mdt_env_init(&e, "badname", NULL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(mdt_open_as(&e, &s, bad[i], MDT_PASS), POP3_MD_AUTH);
		ck_assert_ptr_nonnull(strstr(s.reply.text, "Invalid user name"));
		ck_assert_uint_gt(s.reply.delay_ms, 0);
	}
	memset(longname, 'a', 300);
	longname[300] = '\0';
	ck_assert_int_eq(mdt_open_as(&e, &s, longname, MDT_PASS), POP3_MD_AUTH);
	snprintf(longname, sizeof(longname), "badname#%065d", 0);
	ck_assert_int_eq(mdt_open_as(&e, &s, longname, MDT_PASS), POP3_MD_AUTH);
	/* The longest valid device name is fine. */
	snprintf(longname, sizeof(longname), "badname#%064d", 0);
	mdt_open(&e, &s, longname + strlen("badname#"));
	mdt_close(&s);
	/* A configured separator. */
	char err[PB_ERR_MAX];
	ck_assert_int_eq(config_options_set(&e.opt, PB_K_DEVICE_SEPARATOR, "+", err, sizeof(err)), 0);
	ck_assert_int_eq(mdt_open_as(&e, &s, "badname+tablet", MDT_PASS), POP3_MD_OK);
	ck_assert_str_eq(s.conn.device, "tablet");
	mdt_close(&s);
	mdt_env_free(&e);
}
END_TEST

START_TEST(t_in_use)
{
	struct mdt_env e;
	struct mdt_sess a, a2, b;

	mdt_env_init(&e, "inuse", NULL);
	mdt_open(&e, &a, "pc");
	ck_assert_int_eq(mdt_open_as(&e, &a2, "inuse#pc", MDT_PASS), POP3_MD_IN_USE);
	ck_assert_ptr_null(a2.md);
	/* Not a failed login; names compare case-insensitively. */
	ck_assert_uint_eq(a2.reply.delay_ms, 0);
	ck_assert_int_eq(mdt_open_as(&e, &a2, "inuse#PC", MDT_PASS), POP3_MD_IN_USE);
	ck_assert_uint_eq(guard_throttle_addr_failures(e.ctx.throttle, "127.0.0.1"), 0);
	/* Another device of the account runs in parallel. */
	mdt_open(&e, &b, "phone");
	mdt_close(&b);
	/* The wrong password for a busy device is AUTH, not IN_USE. */
	ck_assert_int_eq(mdt_open_as(&e, &a2, "inuse#pc", "wrong"), POP3_MD_AUTH);
	mdt_commit(&a, NULL, 0);
	mdt_close(&a);
	ck_assert_uint_eq(maildrop_devlocks_count(e.ctx.devlocks), 0);
	mdt_open(&e, &a, "pc");
	mdt_close(&a);
	mdt_env_free(&e);
}
END_TEST

START_TEST(t_upstream_down)
{
	struct mdt_env e;
	struct mdt_sess s;

	mdt_env_init(&e, "down", "upstream-timeout", "2", NULL);
	mdt_deliver(e.user, 2000, PBT_MSG_PLAIN, "", NULL);
	ck_assert_int_eq(pbt_dovecot_pause(dc), 0);
	enum pop3_md_status st = mdt_open_as(&e, &s, "down", MDT_PASS);
	ck_assert_int_eq(pbt_dovecot_resume(dc), 0);
	ck_assert_int_eq(st, POP3_MD_TEMP);
	ck_assert_ptr_null(s.md);
	ck_assert_str_ne(s.reply.text, "");
	ck_assert_ptr_nonnull(strstr(s.conn.detail, "connect"));
	/* Not a failed login either. */
	ck_assert_uint_eq(s.reply.delay_ms, 0);
	ck_assert_uint_eq(maildrop_devlocks_count(e.ctx.devlocks), 0);
	mdt_open(&e, &s, NULL);
	ck_assert_uint_eq(mdt_count(&s), 1);
	mdt_close(&s);
	mdt_env_free(&e);
}
END_TEST

START_TEST(t_upstream_silent)
{
	/* A server that accepts and never says a word: TEMP once the upstream
	 * timeout (1 s here) has passed, never a hang. */
	static const struct pbt_step silent[] = { PBT_STALL, PBT_END };
	struct mdt_env e;
	struct mdt_sess s;
	char url[64], err[PB_ERR_MAX];
	struct pbt_fake *f = pbt_fake_start(silent, 0);

	ck_assert_ptr_nonnull(f);
	mdt_env_init(&e, "silent", "upstream-timeout", "1", NULL);
	snprintf(url, sizeof(url), "imap://127.0.0.1:%d", f->port);
	ck_assert_int_eq(config_options_set(&e.opt, PB_K_UPSTREAM, url, err, sizeof(err)), 0);
	ck_assert_int_eq(config_options_finish(&e.opt, true, NULL, err, sizeof(err)), 0);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(mdt_open_as(&e, &s, "silent", MDT_PASS), POP3_MD_TEMP);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_int_ge((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000, 900);
	ck_assert_ptr_nonnull(strstr(s.conn.detail, "timed out"));
	PBT_FAKE_FINISH(f);
	mdt_env_free(&e);
}
END_TEST

START_TEST(t_gone_mid_session)
{
	struct mdt_env e;
	struct mdt_sess a;
	char ids[3][128];

	mdt_env_init(&e, "gone", NULL);
	mdt_three(e.user, ids, 2100);
	mdt_open(&e, &a, "a");
	ck_assert_uint_eq(mdt_count(&a), 3);
	char uidl1[71];
	strcpy(uidl1, mdt_info(&a, 1).uidl);

	struct imap_session *other = adm_open(e.user);
	uint32_t uid;
	struct imap_uidset one;
	ck_assert_uint_eq(adm_find(other, "INBOX", ids[1], &uid), 1);
	imap_uidset_init(&one);
	imap_uidset_add(&one, uid);
	ck_assert_int_eq(imap_store_flags(other, &one, true, IMAP_FLAG_DELETED, NULL, 0), IMAP_OK);
	ck_assert_int_eq(imap_uid_expunge(other, &one), IMAP_OK);
	imap_uidset_free(&one);
	adm_close(other);

	struct mdt_sink k;
	struct pop3_md_reply r = { .text = "" };
	mdt_retr(&a, 0, NULL);
	mdt_sink_init(&k, false, 0, false);
	ck_assert_int_eq(maildrop_ops.fetch(a.md, 1, POP3_FETCH_WHOLE, 0, mdt_sink_fn, &k,
	    &r), POP3_MD_GONE);
	ck_assert_uint_eq(k.raw, 0);
	ck_assert_str_ne(r.text, "");
	mdt_sink_free(&k);
	mdt_sink_init(&k, true, 2, false);
	ck_assert_int_eq(maildrop_ops.fetch(a.md, 1, POP3_FETCH_TOP, 2, mdt_sink_fn, &k,
	    &r), POP3_MD_GONE);
	mdt_sink_free(&k);
	/* the session goes on; count and list do not change within it */
	mdt_retr(&a, 2, NULL);
	ck_assert_uint_eq(mdt_count(&a), 3);
	ck_assert_str_eq(mdt_info(&a, 1).uidl, uidl1);
	mdt_commit(&a, NULL, 0);
	mdt_close(&a);
	mdt_open(&e, &a, "a");
	ck_assert_uint_eq(mdt_count(&a), 2);
	for (size_t i = 0; i < 2; i++)
		ck_assert_str_ne(mdt_info(&a, i).uidl, uidl1);
	mdt_close(&a);
	mdt_env_free(&e);
}
END_TEST

START_TEST(t_client_gone_mid_retr)
{
	struct mdt_env e;
	struct mdt_sess a;
	struct pbt_msgspec spec = { .kind = PBT_MSG_LARGE, .seed = 2200, .size = 2000000 };

	mdt_env_init(&e, "clientgone", "seen-on", "retr", NULL);
	ck_assert_int_eq(pbt_dovecot_add_generated(dc, e.user, "INBOX", &spec, ""), 0);
	mdt_open(&e, &a, "a");
	struct mdt_sink k;
	struct pop3_md_reply r = { .text = "" };
	mdt_sink_init(&k, false, 0, false);
	k.fail_after = 2;
	ck_assert_int_eq(maildrop_ops.fetch(a.md, 0, POP3_FETCH_WHOLE, 0, mdt_sink_fn, &k,
	    &r), POP3_MD_CLIENT);
	mdt_sink_free(&k);
	mdt_close(&a);
	ck_assert_uint_eq(maildrop_devlocks_count(e.ctx.devlocks), 0);
	/* not marked \Seen: the RETR never completed */
	char id[128];
	pbt_msg_id(&spec, id, sizeof(id));
	struct imap_session *adm = adm_open(e.user);
	ck_assert_uint_eq(adm_msg_flags(adm, "INBOX", id, NULL, NULL) & IMAP_FLAG_SEEN, 0);
	adm_close(adm);
	mdt_env_free(&e);
}
END_TEST

START_TEST(t_abandon_commits_nothing)
{
	struct mdt_env e;
	struct mdt_sess a;
	char ids[3][128];

	mdt_env_init(&e, "abandon", "dele", "expunge", "seen-on", "quit", NULL);
	mdt_three(e.user, ids, 2300);
	mdt_open(&e, &a, "a");
	mdt_retr(&a, 0, NULL);
	mdt_retr(&a, 1, NULL);
	mdt_close(&a); /* DELEs and QUIT never came */
	struct imap_session *adm = adm_open(e.user);
	ck_assert_int_eq(adm_count(adm, "INBOX"), 3);
	for (int i = 0; i < 3; i++)
		ck_assert_uint_eq(adm_msg_flags(adm, "INBOX", ids[i], NULL, NULL) &
		    (IMAP_FLAG_SEEN | IMAP_FLAG_DELETED), 0);
	adm_close(adm);
	mdt_open(&e, &a, "a");
	ck_assert_uint_eq(mdt_count(&a), 3);
	mdt_close(&a);
	mdt_env_free(&e);
}
END_TEST

START_TEST(t_revoked_device)
{
	struct mdt_env e;
	struct mdt_sess a;
	char err[200];

	mdt_env_init(&e, "revoked", NULL);
	mdt_open(&e, &a, "old");
	mdt_close(&a);
	struct state_db *db = state_open(e.db, err, sizeof(err));
	struct state_account acc;
	struct state_device dev;
	ck_assert_int_eq(state_account_get(db, "revoked", &acc), STATE_OK);
	ck_assert_int_eq(state_device_get(db, acc.id, "old", &dev), STATE_OK);
	ck_assert_int_eq(state_device_revoke(db, dev.id, true), STATE_OK);
	state_close(db);
	ck_assert_int_eq(mdt_open_as(&e, &a, "revoked#old", MDT_PASS), POP3_MD_AUTH);
	ck_assert_ptr_null(a.md);
	ck_assert_uint_eq(maildrop_devlocks_count(e.ctx.devlocks), 0);
	mdt_open(&e, &a, "new");
	mdt_close(&a);
	mdt_env_free(&e);
}
END_TEST

/* Passthrough creates at most --max-devices-per-account devices (SPEC §13):
 * the next new device gets -ERR [AUTH], nothing is created, the login is
 * not counted as failed, and the existing devices keep working. */
START_TEST(t_max_devices)
{
	struct mdt_env e;
	struct mdt_sess a;
	char err[200];

	mdt_env_init(&e, "manydev", "max-devices-per-account", "2", NULL);
	mdt_open(&e, &a, "one");
	mdt_close(&a);
	mdt_open(&e, &a, "two");
	mdt_close(&a);
	ck_assert_int_eq(mdt_open_as(&e, &a, "manydev#three", MDT_PASS), POP3_MD_AUTH);
	ck_assert_ptr_null(a.md);
	ck_assert_str_eq(a.reply.text, "Too many devices for this account");
	ck_assert_uint_eq(a.reply.delay_ms, 0);
	ck_assert_uint_eq(guard_throttle_failures(e.ctx.throttle, "127.0.0.1", "manydev"), 0);
	struct state_db *db = state_open(e.db, err, sizeof(err));
	struct state_account acc;
	struct state_device dev;
	ck_assert_int_eq(state_account_get(db, "manydev", &acc), STATE_OK);
	ck_assert_int_eq(state_device_get(db, acc.id, "three", &dev), STATE_NOTFOUND);
	state_close(db);
	mdt_open(&e, &a, "one");
	mdt_close(&a);
	ck_assert_uint_eq(maildrop_devlocks_count(e.ctx.devlocks), 0);
	mdt_env_free(&e);
}
END_TEST

/* No unfinished journal entry for the account. */
static void assert_no_pending(struct mdt_env *e)
{
	char err[200];
	struct state_db *db = state_open(e->db, err, sizeof(err));
	ck_assert_ptr_nonnull(db);
	struct state_account acc;
	ck_assert_int_eq(state_account_get(db, e->user, &acc), STATE_OK);
	struct state_journal *v = NULL;
	size_t n = 99;
	ck_assert_int_eq(state_journal_pending(db, acc.id, &v, &n), STATE_OK);
	ck_assert_uint_eq(n, 0);
	state_journal_free(v, n);
	state_close(db);
}

START_TEST(t_commit_pending_when_upstream_fails)
{
	/* The intent is durable, the upstream is gone: the QUIT still gets +OK
	 * (commit OK), and the next session of the account finishes it. */
	struct mdt_env e;
	struct mdt_sess a, b;
	char ids[3][128];

	mdt_env_init(&e, "pending", "dele", "trash", "seen-on", "quit", "upstream-timeout", "2",
	    NULL);
	mdt_three(e.user, ids, 2400);
	mdt_open(&e, &a, "a");
	mdt_retr(&a, 0, NULL);
	ck_assert_int_eq(pbt_dovecot_pause(dc), 0);
	size_t del = 0;
	struct pop3_md_reply r = { .text = "" };
	enum pop3_md_status st = maildrop_ops.commit(a.md, &del, 1, &r);
	bool pending = a.conn.commit_pending;
	mdt_close(&a);
	ck_assert_int_eq(pbt_dovecot_resume(dc), 0);
	ck_assert_int_eq(st, POP3_MD_OK);
	ck_assert(pending);

	struct imap_session *adm = adm_open(e.user);
	ck_assert_uint_eq(adm_find(adm, "INBOX", ids[0], NULL), 1);
	adm_close(adm);
	/* The device already does not see it (no re-download). */
	mdt_open(&e, &a, "a");
	ck_assert_uint_eq(mdt_count(&a), 2);
	mdt_close(&a);
	/* That session (the next of the account) finished the commit. */
	adm = adm_open(e.user);
	ck_assert_uint_eq(adm_find(adm, "INBOX", ids[0], NULL), 0);
	ck_assert_uint_eq(adm_find(adm, "Trash", ids[0], NULL), 1);
	ck_assert(adm_msg_flags(adm, "Trash", ids[0], NULL, NULL) & IMAP_FLAG_SEEN);
	adm_close(adm);
	assert_no_pending(&e);
	mdt_open(&e, &b, "b");
	ck_assert_uint_eq(mdt_count(&b), 2);
	mdt_close(&b);
	mdt_env_free(&e);
}
END_TEST

START_TEST(t_journal_write_fails)
{
	/* Another connection holds the database's write lock past the busy
	 * timeout: the intent cannot be written, so the QUIT fails [SYS/TEMP]
	 * and nothing happens, upstream or in the device's view. */
	struct mdt_env e;
	struct mdt_sess a;
	char ids[3][128], err[200];

	mdt_env_init(&e, "jfail", "dele", "expunge", NULL);
	mdt_three(e.user, ids, 2600);
	mdt_open(&e, &a, "a");
	struct state_db *locker = state_open(e.db, err, sizeof(err));
	ck_assert_ptr_nonnull(locker);
	ck_assert_int_eq(state_tx_begin(locker), STATE_OK);
	size_t del = 0;
	struct pop3_md_reply r = { .text = "" };
	ck_assert_int_eq(maildrop_ops.commit(a.md, &del, 1, &r), POP3_MD_TEMP);
	ck_assert_str_ne(r.text, "");
	ck_assert(!a.conn.commit_pending);
	ck_assert_int_eq(state_tx_rollback(locker), STATE_OK);
	state_close(locker);
	mdt_close(&a);
	struct imap_session *adm = adm_open(e.user);
	ck_assert_int_eq(adm_count(adm, "INBOX"), 3);
	adm_close(adm);
	mdt_expect_count(&e, "a", 3);
	mdt_env_free(&e);
}
END_TEST

/* kill -9 at `point` inside the commit of device a (DELE of messages 1 and
 * 2, message 1 retrieved), then the next session of the account (device b)
 * finishes it: nothing lost, each step done once, a re-downloads nothing.
 * For last-device, b has deleted both before, so a is their last holder. */
static void crash_case(const char *user, const char *point, const char *policy,
    const char *seen_on, bool renumber)
{
	struct mdt_env e;
	struct mdt_sess a, b;
	char ids[3][128];
	bool seen = strcmp(seen_on, "quit") == 0;
	bool last = strcmp(policy, "last-device") == 0;
	/* the policy takes the messages out of INBOX */
	bool removes = last || strcmp(policy, "trash") == 0 || strcmp(policy, "expunge") == 0;
	/* b no longer sees them */
	bool b_hidden = removes || strcmp(policy, "flag") == 0;

	mdt_env_init(&e, user, "dele", policy, "seen-on", seen_on, NULL);
	mdt_three(e.user, ids, 2500);
	mdt_expect_count(&e, NULL, 3);
	mdt_open(&e, &a, "b");
	size_t both[2] = { 0, 1 };
	mdt_commit(&a, both, last ? 2 : 0);
	mdt_close(&a);

	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct mdt_sess s;
		e.ctx.crash_at = maildrop_crash_point_parse(point);
		if (e.ctx.crash_at == BRIDGE_CRASH_NONE || mdt_open_as(&e, &s, user, MDT_PASS) != POP3_MD_OK)
			_exit(3);
		mdt_retr(&s, 0, NULL);
		size_t del[2] = { 0, 1 };
		struct pop3_md_reply r = { .text = "" };
		maildrop_ops.commit(s.md, del, 2, &r);
		_exit(4); /* the crash point was not reached */
	}
	int status = 0;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
	    "%s: child not killed at the point (status %d)", point, status);

	/* The mailbox may even be renumbered before the recovery: the entry's
	 * UIDs are stale, its messages are found again by their keys. */
	if (renumber)
		ck_assert_int_eq(pbt_dovecot_renumber(dc, e.user, "INBOX"), 0);
	/* Recovery: the next session of the account, another device. */
	mdt_open(&e, &b, "b");
	ck_assert_uint_eq(mdt_count(&b), b_hidden ? 1 : 3);
	mdt_close(&b);
	assert_no_pending(&e);

	struct imap_session *adm = adm_open(e.user);
	const char *kw = "$POP3Deleted";
	for (int i = 0; i < 2; i++) {
		if (strcmp(policy, "trash") == 0) {
			ck_assert_uint_eq(adm_find(adm, "INBOX", ids[i], NULL), 0);
			ck_assert_uint_eq(adm_find(adm, "Trash", ids[i], NULL), 1);
			ck_assert_uint_eq(!!(adm_msg_flags(adm, "Trash", ids[i], NULL, NULL) &
			    IMAP_FLAG_SEEN), seen && i == 0);
		} else if (removes) {
			ck_assert_uint_eq(adm_find(adm, "INBOX", ids[i], NULL), 0);
			ck_assert_int_le(adm_count(adm, "Trash"), 0);
		} else {
			bool has = false;
			unsigned f = adm_msg_flags(adm, "INBOX", ids[i], kw, &has);
			ck_assert_uint_eq(has, strcmp(policy, "flag") == 0);
			ck_assert_uint_eq(!!(f & IMAP_FLAG_SEEN), seen && i == 0);
		}
	}
	ck_assert_uint_eq(adm_find(adm, "INBOX", ids[2], NULL), 1);
	ck_assert_int_eq(adm_count(adm, "INBOX"), removes ? 1 : 3);
	adm_close(adm);

	/* The crashed device re-downloads nothing: its deletions held. */
	mdt_open(&e, &a, NULL);
	ck_assert_uint_eq(mdt_count(&a), 1);
	mdt_close(&a);
	/* A further session changes nothing more (done once). */
	mdt_open(&e, &b, "b");
	mdt_close(&b);
	adm = adm_open(e.user);
	if (strcmp(policy, "trash") == 0)
		ck_assert_int_eq(adm_count(adm, "Trash"), 2);
	adm_close(adm);
	mdt_env_free(&e);
}

/* Every point; trash makes "exactly once" visible (a repeated move would
 * leave two copies, a lost one none); seen_on never makes the MOVE itself
 * the first upstream step. */
static const struct {
	const char *user, *point, *policy, *seen_on;
	bool renumber;
} crashes[] = {
	{ "crash1", "after-journal", "trash", "quit", false },
	{ "crash2", "after-upstream-step", "trash", "quit", false },
	{ "crash3", "before-finish", "trash", "quit", false },
	{ "crash4", "after-upstream-step", "trash", "never", false },
	{ "crash5", "after-upstream-step", "expunge", "never", false },
	{ "crash6", "before-finish", "flag", "quit", false },
	{ "crash7", "after-journal", "hide", "quit", false },
	{ "crash8", "after-upstream-step", "last-device", "never", false },
	{ "crash9", "after-journal", "trash", "quit", true },
	{ "crash10", "after-upstream-step", "flag", "quit", true },
};

START_TEST(t_crash)
{
	crash_case(crashes[_i].user, crashes[_i].point, crashes[_i].policy, crashes[_i].seen_on,
	    crashes[_i].renumber);
}
END_TEST

START_TEST(t_crash_point_names)
{
	ck_assert_int_eq(maildrop_crash_point_parse("after-journal"), BRIDGE_CRASH_AFTER_JOURNAL);
	ck_assert_int_eq(maildrop_crash_point_parse("after-upstream-step"),
	    BRIDGE_CRASH_AFTER_UPSTREAM_STEP);
	ck_assert_int_eq(maildrop_crash_point_parse("before-finish"), BRIDGE_CRASH_BEFORE_FINISH);
	ck_assert_int_eq(maildrop_crash_point_parse(NULL), BRIDGE_CRASH_NONE);
	ck_assert_int_eq(maildrop_crash_point_parse(""), BRIDGE_CRASH_NONE);
	ck_assert_int_eq(maildrop_crash_point_parse("after-journal "), BRIDGE_CRASH_NONE);
	setenv("POPBRIDGE_TEST_CRASH_AT", "before-finish", 1);
	struct maildrop_ctx ctx;
	maildrop_ctx_init(&ctx);
	ck_assert_int_eq(ctx.crash_at, BRIDGE_CRASH_BEFORE_FINISH);
	unsetenv("POPBRIDGE_TEST_CRASH_AT");
	maildrop_ctx_init(&ctx);
	ck_assert_int_eq(ctx.crash_at, BRIDGE_CRASH_NONE);
	maildrop_ctx_free(&ctx);
}
END_TEST

static Suite *fail_suite(void)
{
	Suite *s = suite_create("maildrop-fail");
	TCase *tc = tcase_create("failures");
	tcase_add_unchecked_fixture(tc, mdt_dc_setup, mdt_dc_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, t_wrong_password_and_delay);
	tcase_add_test(tc, t_delay_past_login_deadline);
	tcase_add_test(tc, t_bad_user_names);
	tcase_add_test(tc, t_in_use);
	tcase_add_test(tc, t_upstream_down);
	tcase_add_test(tc, t_upstream_silent);
	tcase_add_test(tc, t_gone_mid_session);
	tcase_add_test(tc, t_client_gone_mid_retr);
	tcase_add_test(tc, t_abandon_commits_nothing);
	tcase_add_test(tc, t_revoked_device);
	tcase_add_test(tc, t_max_devices);
	tcase_add_test(tc, t_commit_pending_when_upstream_fails);
	tcase_add_test(tc, t_journal_write_fails);
	tcase_add_loop_test(tc, t_crash, 0, (int)(sizeof(crashes) / sizeof(crashes[0])));
	tcase_add_test(tc, t_crash_point_names);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(fail_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
