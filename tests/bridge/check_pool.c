/* tests/bridge/check_pool.c — upstream connection reuse and the cap per
 * account (SPEC §9, bridge/pool/): sessions driven through maildrop_ops as
 * the engine drives them, against the harness's real Dovecot through the
 * recording relay of tests/lib/fakeserver.h, so the commands each session
 * sent upstream can be counted (a login is one AUTHENTICATE).
 *
 *  - a second session of the account reuses the first one's connection:
 *    NOOP, then SELECT, no login; with --upstream-reuse 0 it logs in again;
 *  - a wrong password never gets a kept connection: the server checks it
 *    (and refuses), the kept one stays for the right password;
 *  - a session that ends with read-ahead in flight: the connection is kept
 *    only once drained, and the next session's bodies are intact;
 *  - a kept connection the server has closed with a BYE (doveadm kick):
 *    the next session logs in afresh and opens without an error;
 *  - a session whose client vanished in the middle of a body: never kept;
 *  - the cap: a login over it waits and gets the connection a session
 *    releases, or [SYS/TEMP] at its deadline; a kept connection of another
 *    identity (another client address, forwarded upstream) makes room;
 *  - expiry: a kept connection is logged out when its time is up;
 *  - a message expunged (and one delivered) while the connection was kept:
 *    the next session on it lists exactly what the folder holds.
 */
#include "tests/bridge/check_maildrop.h"
#include "bridge/base/clock.h"
#include "bridge/maildrop/internal.h"
#include "bridge/maildrop/sync.h"
#include "bridge/pool/pool.h"
#include "tests/lib/fakeserver.h"

#include <pthread.h>
#include <time.h>

struct ptest {
	struct mdt_env e;
	struct pbt_fake *relay;
	struct pbt_step steps[2];
	size_t mark;           /* relay log offset: commands since */
};

/* e with a pool, against Dovecot through a fresh relay (relay: the relay
 * takes one connection at a time) or directly; options as mdt_env_init
 * ("key", "value", ..., NULL). */
static void pt_init(struct ptest *t, bool relay, const char *user, ...)
{
	const struct pbt_step steps[] = { PBT_RELAY(dc->imap_port), PBT_END };
	va_list ap;

	memset(t, 0, sizeof(*t));
	if (relay) {
		memcpy(t->steps, steps, sizeof(steps));
		t->relay = pbt_fake_start(t->steps, 0);
		ck_assert_ptr_nonnull(t->relay);
	}
	va_start(ap, user);
	mdt_env_setv(&t->e, user, dc->dir, relay ? t->relay->port : dc->imap_port, ap);
	va_end(ap);
	ck_assert_int_eq(pbt_dovecot_add_user(dc, user, MDT_PASS), 0);
	t->e.ctx.pool = pool_new();
	ck_assert_ptr_nonnull(t->e.ctx.pool);
	t->mark = 0;
}

static void pt_free(struct ptest *t)
{
	pool_free(t->e.ctx.pool);
	t->e.ctx.pool = NULL;
	if (t->relay != NULL) {
		pbt_fake_stop(t->relay);
		pbt_fake_free(t->relay);
	}
	mdt_env_free(&t->e);
}

/* The commands sent upstream since the last call ("C: T NOOP\r\n" ...). */
static char *pt_since(struct ptest *t)
{
	char *got = pbt_fake_commands(t->relay, t->mark);
	t->mark = pbt_fake_log_len(t->relay);
	return got;
}

static unsigned count_of(const char *hay, const char *needle)
{
	unsigned n = 0;
	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

/* Lines of Dovecot's log that hold both a and b. */
static unsigned dlog_count(const char *a, const char *b)
{
	char path[600], line[4096];
	unsigned n = 0;

	snprintf(path, sizeof(path), "%s/log/dovecot.log", dc->dir);
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f) != NULL)
		n += strstr(line, a) != NULL && strstr(line, b) != NULL;
	fclose(f);
	return n;
}

/* Dovecot logs through its log process: wait (up to 3 s) for want lines. */
static void dlog_want(const char *a, const char *b, unsigned want)
{
	unsigned n = 0;
	for (int i = 0; i < 300 && (n = dlog_count(a, b)) < want; i++)
		pbt_msleep(10);
	pbt_msleep(50);
	n = dlog_count(a, b);
	ck_assert_msg(n == want, "Dovecot's log: %u lines with \"%s\" and \"%s\", want %u", n,
	    a, b, want);
}

static size_t kept_now(struct ptest *t)
{
	size_t kept, busy;
	pool_counts(t->e.ctx.pool, &kept, &busy);
	return kept;
}

static size_t busy_now(struct ptest *t)
{
	size_t kept, busy;
	pool_counts(t->e.ctx.pool, &kept, &busy);
	return busy;
}

/* Wait (up to 5 s) until the pool keeps n connections. */
static void wait_kept(struct ptest *t, size_t n)
{
	for (int i = 0; i < 500 && kept_now(t) != n; i++)
		pbt_msleep(10);
	ck_assert_uint_eq(kept_now(t), n);
}

/* A session of device: open, RETR every message into digests (may be NULL),
 * close. */
static void pt_session(struct ptest *t, const char *device, char (*hex)[65], size_t n)
{
	struct mdt_sess s;

	mdt_open(&t->e, &s, device);
	ck_assert_uint_eq(mdt_count(&s), n);
	for (size_t i = 0; hex != NULL && i < n; i++)
		mdt_retr(&s, i, hex[i]);
	mdt_close(&s);
}

START_TEST(t_reuse)
{
	struct ptest t;
	char a[4][65], b[4][65];

	pt_init(&t, true, "pool1", NULL);
	for (uint32_t i = 0; i < 4; i++)
		mdt_deliver(t.e.user, 9100 + i, i % 2 ? PBT_MSG_MULTIPART : PBT_MSG_DOTS, "", NULL);
	pt_session(&t, "a", a, 4);
	char *got = pt_since(&t);
	ck_assert_msg(count_of(got, "C: T AUTHENTICATE") == 1, "first session:\n%s", got);
	ck_assert_msg(strstr(got, "LOGOUT") == NULL, "first session logged out:\n%s", got);
	free(got);
	ck_assert_uint_eq(kept_now(&t), 1);
	ck_assert_uint_eq(busy_now(&t), 0);

	pt_session(&t, "b", b, 4);
	got = pt_since(&t);
	ck_assert_msg(count_of(got, "C: T AUTHENTICATE") == 0 && count_of(got, "C: T ID") == 0,
	    "second session logged in again:\n%s", got);
	ck_assert_msg(strncmp(got, "C: T NOOP\r\nC: T SELECT INBOX", 27) == 0,
	    "second session: NOOP, then SELECT first:\n%s", got);
	free(got);
	for (int i = 0; i < 4; i++)
		ck_assert_str_eq(a[i], b[i]);
	ck_assert_uint_eq(kept_now(&t), 1);
	pt_free(&t);
}
END_TEST

/* The check of a kept connection is NOOP with a SELECT of the folder the
 * connection had selected, in one write (tests/imap/check_fake.c
 * test_noop_select_pipelined): a session of that folder selects nothing
 * more; one of another folder selects its own after it; the next check
 * selects the folder the last session had. */
START_TEST(t_reuse_selects_in_the_check)
{
	struct ptest t;

	pt_init(&t, true, "pool11", NULL);
	ck_assert_int_eq(pbt_dovecot_create_folder(dc, t.e.user, "Other"), 0);
	mdt_deliver(t.e.user, 9110, PBT_MSG_PLAIN, "", NULL);
	struct pbt_msgspec two = { .kind = PBT_MSG_PLAIN, .seed = 9111 };
	ck_assert_int_eq(pbt_dovecot_add_generated(dc, t.e.user, "Other", &two, ""), 0);
	two.seed = 9112;
	ck_assert_int_eq(pbt_dovecot_add_generated(dc, t.e.user, "Other", &two, ""), 0);
	pt_session(&t, "a", NULL, 1);
	free(pt_since(&t));
	pt_session(&t, "a", NULL, 1);
	char *got = pt_since(&t);
	ck_assert_msg(strncmp(got, "C: T NOOP\r\nC: T SELECT INBOX", 27) == 0 &&
	    count_of(got, "SELECT") == 1, "the same folder: the check's SELECT only:\n%s", got);
	free(got);
	snprintf(t.e.opt.dev.folder, sizeof(t.e.opt.dev.folder), "Other");
	pt_session(&t, "a", NULL, 2);
	got = pt_since(&t);
	ck_assert_msg(strncmp(got, "C: T NOOP\r\nC: T SELECT INBOX", 27) == 0 &&
	    count_of(got, "SELECT") == 2 && count_of(got, "C: T SELECT Other") == 1,
	    "another folder: selected after the check's:\n%s", got);
	free(got);
	pt_session(&t, "a", NULL, 2);
	got = pt_since(&t);
	ck_assert_msg(strncmp(got, "C: T NOOP\r\nC: T SELECT Other", 27) == 0 &&
	    count_of(got, "SELECT") == 1, "the check follows the last session:\n%s", got);
	free(got);
	pt_free(&t);
}
END_TEST

/* The match keys of a big first sync (more than BRIDGE_SYNC_HEADER_BATCH
 * messages) come after the client's last answer: the session's open()
 * records the messages without them (no header fields asked for), close()
 * leaves them so, release() fetches them in one listing and stores them; a
 * sync of maildrop_sync_folder (the commit replay's, the import's) fills in
 * keys any earlier session left. */
static size_t keyless_now(struct state_db *db, int64_t mailbox_id)
{
	uint32_t *uids = NULL;
	size_t n = 0;
	ck_assert_int_eq(state_messages_keyless(db, mailbox_id, &uids, &n), STATE_OK);
	free(uids);
	return n;
}

START_TEST(t_keys_after_answer)
{
	struct ptest t;
	struct mdt_sess s;
	char ids[3][128], err[300], detail[200];

	enum { N = BRIDGE_SYNC_HEADER_BATCH + 3 };
	pt_init(&t, true, "pool12", NULL);
	mdt_three(t.e.user, ids, 9120);
	for (uint32_t i = 3; i < N; i++)
		mdt_deliver(t.e.user, 20000 + i, PBT_MSG_PLAIN, "", NULL);
	mdt_open(&t.e, &s, "a");
	struct maildrop_md *md = s.md;
	ck_assert_uint_eq(mdt_count(&s), N);
	ck_assert(md->keys_due);
	ck_assert_uint_eq(keyless_now(md->db, md->mailbox_id), N);
	char *got = pt_since(&t);
	ck_assert_msg(strstr(got, "HEADER.FIELDS") == NULL, "keys before the answer:\n%s", got);
	free(got);
	maildrop_ops.close(s.md);
	ck_assert_uint_eq(keyless_now(md->db, md->mailbox_id), N);
	int64_t mbox = md->mailbox_id;
	maildrop_ops.release(s.md);
	s.md = NULL;
	got = pt_since(&t);
	ck_assert_msg(count_of(got, "HEADER.FIELDS") == 1, "keys after the answer:\n%s", got);
	free(got);
	struct state_db *db = state_open(t.e.db, err, sizeof(err));
	ck_assert_msg(db != NULL, "%s", err);
	ck_assert_uint_eq(keyless_now(db, mbox), 0);
	for (uint32_t uid = 1; uid <= 3; uid++) {
		struct state_message m;
		ck_assert_int_eq(state_message_by_uid(db, mbox, uid, &m), STATE_OK);
		ck_assert_msg(strncmp(m.hdr_hash, "s1-", 3) == 0 && strlen(m.hdr_hash) == 67,
		    "UID %u: hash %s", uid, m.hdr_hash);
		ck_assert_msg(strstr(ids[uid - 1], m.message_id) != NULL, "UID %u: %s, want %s",
		    uid, m.message_id, ids[uid - 1]);
	}
	/* a folder left without keys: maildrop_sync_folder fills them in */
	mdt_deliver(t.e.user, 9123, PBT_MSG_PLAIN, "", NULL);
	struct maildrop_upstream up;
	struct state_mailbox mb;
	struct state_account a;
	bool due = false;
	memset(&up, 0, sizeof(up));
	up.pool = t.e.ctx.pool;  /* the relay takes one connection: the kept one */
	ck_assert_int_eq(state_account_ensure(db, "other-state", 1000, &a), STATE_OK);
	ck_assert_int_eq(maildrop_upstream_login(&up, &t.e.opt, t.e.user, MDT_PASS, detail,
	    sizeof(detail)), POP3_MD_OK);
	ck_assert_int_eq(maildrop_sync_folder_keys_later(&up, db, a.id, "INBOX",
	    t.e.opt.dele_keyword, 1000, &mb, &due, detail, sizeof(detail)), POP3_MD_OK);
	ck_assert(due);
	ck_assert_uint_eq(keyless_now(db, mb.id), N + 1);
	ck_assert_int_eq(maildrop_sync_folder(&up, db, a.id, "INBOX", t.e.opt.dele_keyword, 1001,
	    &mb, detail, sizeof(detail)), POP3_MD_OK);
	ck_assert_uint_eq(keyless_now(db, mb.id), 0);
	maildrop_upstream_free(&up);
	state_close(db);
	pt_free(&t);
}
END_TEST

START_TEST(t_reuse_off)
{
	struct ptest t;

	pt_init(&t, true, "pool2", "upstream-reuse", "0", NULL);
	mdt_deliver(t.e.user, 9200, PBT_MSG_PLAIN, "", NULL);
	pt_session(&t, "a", NULL, 1);
	pt_session(&t, "b", NULL, 1);
	char *got = pt_since(&t);
	ck_assert_msg(count_of(got, "C: T AUTHENTICATE") == 2 && count_of(got, "C: T LOGOUT") == 2,
	    "--upstream-reuse 0: a login and a logout per session:\n%s", got);
	free(got);
	ck_assert_uint_eq(kept_now(&t), 0);
	ck_assert_uint_eq(busy_now(&t), 0);
	pt_free(&t);
}
END_TEST

START_TEST(t_wrong_password)
{
	struct ptest t;
	struct mdt_sess s;
	char login[80];

	/* directly: the kept connection stays open beside the new one */
	pt_init(&t, false, "pool3", NULL);
	mdt_deliver(t.e.user, 9300, PBT_MSG_PLAIN, "", NULL);
	pt_session(&t, "a", NULL, 1);
	dlog_want("Login: user=<pool3>", "", 1);
	snprintf(login, sizeof(login), "%s#a", t.e.user);
	ck_assert_int_eq(mdt_open_as(&t.e, &s, login, "not-the-password"), POP3_MD_AUTH);
	/* the server checked it (and refused): not a reuse */
	dlog_want("auth failed", "user=<pool3>", 1);
	ck_assert_uint_eq(kept_now(&t), 1);   /* still there for the right one */
	ck_assert_uint_eq(busy_now(&t), 0);
	/* an extension of the password is another password too */
	ck_assert_int_eq(mdt_open_as(&t.e, &s, login, MDT_PASS "x"), POP3_MD_AUTH);
	dlog_want("auth failed", "user=<pool3>", 2);
	pt_session(&t, "a", NULL, 1);
	dlog_want("Login: user=<pool3>", "", 1);   /* the right one: reused */
	ck_assert_uint_eq(kept_now(&t), 1);
	pt_free(&t);
}
END_TEST

static int null_sink(void *arg, const char *buf, size_t len)
{
	(void)buf;
	*(uint64_t *)arg += len;
	return 0;
}

START_TEST(t_readahead_drained)
{
	struct ptest t;
	struct mdt_sess s;
	char a[8][65], b[8][65];

	pt_init(&t, true, "pool4", NULL);
	for (uint32_t i = 0; i < 8; i++)
		mdt_deliver(t.e.user, 9400 + i, PBT_MSG_LONG_LINES, "", NULL);
	pt_session(&t, "ref", a, 8);   /* the bodies, for comparison */
	free(pt_since(&t));
	/* RETR 1, RETR 2: a sequential client; the read-ahead sends the next
	 * ones; then the client goes without asking for them. */
	mdt_open(&t.e, &s, "seq");
	mdt_retr(&s, 0, NULL);
	mdt_retr(&s, 1, NULL);
	mdt_close(&s);
	char *got = pt_since(&t);
	ck_assert_msg(count_of(got, "BODY.PEEK[]") >= 4, "no read-ahead was sent:\n%s", got);
	free(got);
	ck_assert_uint_eq(kept_now(&t), 1);   /* kept: drained (imap_reusable) */
	/* the next session gets exactly the bodies, in any order */
	mdt_open(&t.e, &s, "next");
	for (size_t i = 8; i-- > 0;)
		mdt_retr(&s, i, b[i]);
	mdt_close(&s);
	got = pt_since(&t);
	ck_assert_msg(count_of(got, "C: T AUTHENTICATE") == 0, "not reused:\n%s", got);
	free(got);
	for (int i = 0; i < 8; i++)
		ck_assert_str_eq(a[i], b[i]);

	/* The same with hints: TOP and RETRs pipelined behind the current one,
	 * never asked for. */
	mdt_open(&t.e, &s, "hint");
	struct pop3_md_next next[3] = {
		{ .idx = 5, .what = POP3_FETCH_WHOLE }, { .idx = 6, .what = POP3_FETCH_TOP,
		    .top_lines = 3 }, { .idx = 7, .what = POP3_FETCH_WHOLE },
	};
	maildrop_ops.hint(s.md, next, 3);
	uint64_t octets = 0;
	struct pop3_md_reply r = { .text = "" };
	ck_assert_int_eq(maildrop_ops.fetch(s.md, 4, POP3_FETCH_WHOLE, 0, null_sink, &octets, &r),
	    POP3_MD_OK);
	mdt_close(&s);
	ck_assert_uint_eq(kept_now(&t), 1);
	pt_session(&t, "after", b, 8);
	for (int i = 0; i < 8; i++)
		ck_assert_str_eq(a[i], b[i]);
	pt_free(&t);
}
END_TEST

/* seen_on retr with read-ahead deep in flight: at most
 * BRIDGE_AHEAD_STORE_ROOM stores wait for answers; the UIDs retrieved
 * meanwhile go as one store per run (UID STORE a:b), the last ones at QUIT
 * without waiting, and every retrieved message is \Seen when the session
 * has ended. */
START_TEST(t_seen_runs)
{
	struct ptest t;
	struct mdt_sess s;
	enum { N = 40 };

	pt_init(&t, true, "pool10", NULL);
	for (uint32_t i = 0; i < N; i++)
		mdt_deliver(t.e.user, 10000 + i, PBT_MSG_PLAIN, "", NULL);
	pt_session(&t, "first", NULL, N);   /* the first sync; nothing \Seen */
	free(pt_since(&t));
	mdt_open(&t.e, &s, "seq");
	for (size_t i = 0; i < N; i++)
		mdt_retr(&s, i, NULL);
	/* QUIT: commit and close do not wait for the stores' answers (that
	 * cost the client two round trips before its +OK); release() reads
	 * them once the client has its answer. */
	struct pop3_md_reply r = { .text = "" };
	ck_assert_int_eq(maildrop_ops.commit(s.md, NULL, 0, &r), POP3_MD_OK);
	maildrop_ops.close(s.md);
	ck_assert_uint_gt(imap_ahead_count(((struct maildrop_md *)s.md)->up.imap), 0);
	maildrop_ops.release(s.md);
	s.md = NULL;
	char *got = pt_since(&t);
	unsigned stores = count_of(got, "C: T UID STORE "), runs = 0;
	for (const char *p = got; (p = strstr(p, "C: T UID STORE ")) != NULL; p++)
		runs += strcspn(p + 15, " :") < strcspn(p + 15, " ");
	ck_assert_msg(stores >= 2 && stores < N && runs >= 1 &&
	    count_of(got, "+FLAGS.SILENT (\\Seen)") == stores,
	    "want a few stores, some of runs:\n%s", got);
	free(got);
	struct imap_session *adm = adm_open(t.e.user);
	struct imap_search q = { .seen = true };
	struct imap_uidset seen;
	imap_uidset_init(&seen);
	ck_assert_int_eq(imap_select(adm, "INBOX", IMAP_SELECT_READONLY, NULL), IMAP_OK);
	ck_assert_int_eq(imap_uid_search(adm, &q, &seen), IMAP_OK);
	ck_assert_uint_eq(imap_uidset_count(&seen), N);
	imap_uidset_free(&seen);
	adm_close(adm);
	pt_free(&t);
}
END_TEST

START_TEST(t_client_gone_mid_body)
{
	struct ptest t;
	struct mdt_sess s;
	struct mdt_sink k;
	struct pop3_md_reply r = { .text = "" };

	pt_init(&t, true, "pool5", NULL);
	struct pbt_msgspec big = { .kind = PBT_MSG_LARGE, .seed = 9500, .size = 600000 };
	ck_assert_int_eq(pbt_dovecot_add_generated(dc, t.e.user, "INBOX", &big, ""), 0);
	mdt_open(&t.e, &s, "a");
	mdt_sink_init(&k, false, 0, false);
	k.fail_after = 2;   /* the client is gone after two chunks */
	ck_assert_int_eq(maildrop_ops.fetch(s.md, 0, POP3_FETCH_WHOLE, 0, mdt_sink_fn, &k, &r),
	    POP3_MD_CLIENT);
	mdt_sink_free(&k);
	mdt_close(&s);
	ck_assert_uint_eq(kept_now(&t), 0);   /* a half-read literal: closed */
	ck_assert_uint_eq(busy_now(&t), 0);
	free(pt_since(&t));
	pt_session(&t, "a", NULL, 1);
	char *got = pt_since(&t);
	ck_assert_msg(count_of(got, "C: T AUTHENTICATE") == 1, "want a fresh login:\n%s", got);
	free(got);
	pt_free(&t);
}
END_TEST

/* The server ends the kept connection: doveadm kick (the imap process says
 * BYE and closes). */
static void kick(const char *user)
{
	char cmd[1200];
	snprintf(cmd, sizeof(cmd), "doveadm -c %s/dovecot.conf kick %s >/dev/null 2>&1",
	    dc->dir, user);
	ck_assert_int_eq(system(cmd), 0);
}

START_TEST(t_bye_on_kept)
{
	struct ptest t;
	char a[2][65], b[2][65];

	pt_init(&t, true, "pool6", NULL);
	mdt_deliver(t.e.user, 9600, PBT_MSG_PLAIN, "", NULL);
	mdt_deliver(t.e.user, 9601, PBT_MSG_8BIT, "", NULL);
	pt_session(&t, "a", a, 2);
	ck_assert_uint_eq(kept_now(&t), 1);
	free(pt_since(&t));
	kick(t.e.user);
	pbt_msleep(300);
	pt_session(&t, "b", b, 2);   /* opens without an error */
	char *got = pt_since(&t);
	ck_assert_msg(count_of(got, "C: T AUTHENTICATE") == 1, "want a fresh login:\n%s", got);
	free(got);
	for (int i = 0; i < 2; i++)
		ck_assert_str_eq(a[i], b[i]);
	ck_assert_uint_eq(kept_now(&t), 1);   /* the new one */
	pt_free(&t);
}
END_TEST

/* Another client expunges a message and delivers one while the connection
 * sits in the pool with INBOX selected: the expunge reaches the kept
 * connection only as its check's NOOP (dropped with the check), yet the
 * next session on it lists exactly what the folder holds: the SELECT and
 * the sync after it, not events, say what the device sees. */
START_TEST(t_expunged_while_kept)
{
	struct ptest t;
	char a[3][65], b[3][65];
	char cmd[1200];

	pt_init(&t, true, "pool13", NULL);
	for (uint32_t i = 0; i < 3; i++)
		mdt_deliver(t.e.user, 9120 + i, PBT_MSG_PLAIN, "", NULL);
	pt_session(&t, "a", a, 3);
	ck_assert_uint_eq(kept_now(&t), 1);
	free(pt_since(&t));
	snprintf(cmd, sizeof(cmd), "doveadm -c %s/dovecot.conf expunge -u %s mailbox INBOX uid 2",
	    dc->dir, t.e.user);
	ck_assert_int_eq(system(cmd), 0);
	mdt_deliver(t.e.user, 9123, PBT_MSG_PLAIN, "", NULL);
	pt_session(&t, "a", b, 3);
	char *got = pt_since(&t);
	ck_assert_msg(count_of(got, "C: T AUTHENTICATE") == 0, "not reused:\n%s", got);
	free(got);
	ck_assert_str_eq(b[0], a[0]);
	ck_assert_str_eq(b[1], a[2]);
	ck_assert_str_ne(b[2], a[1]);
	pt_free(&t);
}
END_TEST

/* open() with a login deadline in ms from now, from address addr. */
static enum pop3_md_status open_by(struct ptest *t, struct mdt_sess *s, const char *device,
    unsigned deadline_ms, const char *addr)
{
	char login[80];
	snprintf(login, sizeof(login), "%s#%s", t->e.user, device);
	struct pop3_credentials cred = {
		.user = login, .password = MDT_PASS, .mechanism = "USER",
		.remote_addr = addr, .tls_version = NULL,
	};
	memset(s, 0, sizeof(*s));
	maildrop_conn_init(&s->conn, &t->e.ctx, addr, NULL);
	if (deadline_ms)
		s->conn.login_deadline_ms = base_clock_ms(NULL) + deadline_ms;
	return maildrop_ops.open(&s->conn, &cred, &s->md, &s->reply);
}

struct waiter {
	struct ptest *t;
	struct mdt_sess s;
	enum pop3_md_status st;
	uint64_t ms;
};

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;
	uint64_t t0 = base_clock_ms(NULL);
	w->st = open_by(w->t, &w->s, "w", 4000, "127.0.0.1");
	w->ms = base_clock_ms(NULL) - t0;
	return NULL;
}

START_TEST(t_cap)
{
	struct ptest t;
	struct mdt_sess s1, s2, s3;

	pt_init(&t, false, "pool7", "upstream-max-per-account", "2", NULL);
	mdt_deliver(t.e.user, 9700, PBT_MSG_PLAIN, "", NULL);
	ck_assert_int_eq(open_by(&t, &s1, "d1", 0, "127.0.0.1"), POP3_MD_OK);
	ck_assert_int_eq(open_by(&t, &s2, "d2", 0, "127.0.0.1"), POP3_MD_OK);
	ck_assert_uint_eq(busy_now(&t), 2);
	/* a third waits until its deadline, then [SYS/TEMP] */
	uint64_t t0 = base_clock_ms(NULL);
	ck_assert_int_eq(open_by(&t, &s3, "d3", 800, "127.0.0.1"), POP3_MD_TEMP);
	uint64_t waited = base_clock_ms(NULL) - t0;
	ck_assert_msg(waited >= 750 && waited < 3000, "waited %llu ms for an 800 ms deadline",
	    (unsigned long long)waited);
	ck_assert_msg(strstr(s3.conn.detail, "upstream-max-per-account") != NULL, "detail: %s",
	    s3.conn.detail);
	ck_assert_uint_eq(busy_now(&t), 2);
	/* a waiting one gets the connection a session releases */
	struct waiter w = { .t = &t };
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, waiter_main, &w), 0);
	pbt_msleep(300);
	mdt_close(&s2);
	pthread_join(th, NULL);
	ck_assert_msg(w.st == POP3_MD_OK, "waiter: %d (%s)", (int)w.st, w.s.conn.detail);
	ck_assert_msg(w.ms >= 250, "the waiter did not wait (%llu ms)", (unsigned long long)w.ms);
	ck_assert_uint_eq(busy_now(&t), 2);
	mdt_close(&w.s);
	mdt_close(&s1);
	ck_assert_uint_eq(busy_now(&t), 0);
	ck_assert_uint_eq(kept_now(&t), 2);
	dlog_want("Login: user=<pool7>", "", 2);   /* the waiter reused d2's */
	pt_free(&t);
}
END_TEST

START_TEST(t_cap_evicts_other_identity)
{
	struct ptest t;
	struct mdt_sess s;

	/* the client's address goes upstream in ID: a kept connection is then
	 * another identity for another address */
	pt_init(&t, false, "pool8", "upstream-max-per-account", "2", "upstream-forward-client-ip",
	    "yes", NULL);
	mdt_deliver(t.e.user, 9800, PBT_MSG_PLAIN, "", NULL);
	ck_assert_int_eq(open_by(&t, &s, "d1", 0, "192.0.2.1"), POP3_MD_OK);
	mdt_close(&s);
	ck_assert_int_eq(open_by(&t, &s, "d2", 0, "192.0.2.2"), POP3_MD_OK);
	mdt_close(&s);
	ck_assert_uint_eq(kept_now(&t), 2);
	dlog_want("Login: user=<pool8>", "", 2);
	/* the same address: reused */
	ck_assert_int_eq(open_by(&t, &s, "d1", 0, "192.0.2.1"), POP3_MD_OK);
	mdt_close(&s);
	dlog_want("Login: user=<pool8>", "", 2);
	/* a third address: the account is full of kept connections it cannot
	 * use; one is logged out for it at once */
	uint64_t t0 = base_clock_ms(NULL);
	ck_assert_int_eq(open_by(&t, &s, "d3", 3000, "192.0.2.3"), POP3_MD_OK);
	ck_assert(base_clock_ms(NULL) - t0 < 2000);
	dlog_want("imap(pool8)", "Logged out", 1);
	dlog_want("Login: user=<pool8>", "", 3);
	mdt_close(&s);
	ck_assert_uint_eq(kept_now(&t), 2);
	pt_free(&t);
}
END_TEST

START_TEST(t_expiry)
{
	struct ptest t;

	pt_init(&t, true, "pool9", "upstream-reuse", "1", NULL);
	mdt_deliver(t.e.user, 9900, PBT_MSG_PLAIN, "", NULL);
	pt_session(&t, "a", NULL, 1);
	ck_assert_uint_eq(kept_now(&t), 1);
	free(pt_since(&t));
	pbt_msleep(1300);
	wait_kept(&t, 0);
	char *got = pt_since(&t);
	ck_assert_msg(strcmp(got, "C: T LOGOUT\r\n") == 0, "expiry: %s", got);
	free(got);
	pt_free(&t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pool");
	TCase *tc = tcase_create("reuse");
	tcase_add_unchecked_fixture(tc, mdt_dc_setup, mdt_dc_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, t_reuse);
	tcase_add_test(tc, t_reuse_selects_in_the_check);
	tcase_add_test(tc, t_keys_after_answer);
	tcase_add_test(tc, t_reuse_off);
	tcase_add_test(tc, t_wrong_password);
	tcase_add_test(tc, t_readahead_drained);
	tcase_add_test(tc, t_seen_runs);
	tcase_add_test(tc, t_client_gone_mid_body);
	tcase_add_test(tc, t_bye_on_kept);
	tcase_add_test(tc, t_expunged_while_kept);
	tcase_add_test(tc, t_cap);
	tcase_add_test(tc, t_cap_evicts_other_identity);
	tcase_add_test(tc, t_expiry);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
