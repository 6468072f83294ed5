/* tests/bridge/check_sync.c — the incremental sync (CONDSTORE, QRESYNC)
 * records exactly what a complete listing records.
 *
 * Two state files follow one Dovecot user: A is synced the way every
 * session does (maildrop_sync_folder: incremental whenever it is trusted), B
 * is forced through the complete listing every time (its stored
 * HIGHESTMODSEQ is cleared before each sync, which makes the next one
 * complete). After each change made upstream by another IMAP client, both
 * are synced and compared row by row: UID, UIDL, sizes, flags, match keys,
 * seq, and the mailbox status. The debug log says which path A took, so a
 * test also fails when A silently fell back to the complete listing.
 *
 * The same scenarios run against three servers: Dovecot as it comes
 * (CONDSTORE and QRESYNC: expunges come as VANISHED (EARLIER)), Dovecot
 * announcing CONDSTORE but not QRESYNC (expunges found by count and UID
 * SEARCH), and Dovecot announcing neither (always the complete listing).
 */
#include "tests/bridge/check_maildrop.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bridge/base/log.h"
#include "bridge/maildrop/sync.h"
#include "bridge/maildrop/upstream.h"
#include "bridge/base/version.h"

/* Dovecot 2.3's own list, less QRESYNC; less CONDSTORE and QRESYNC. */
#define CAPS_COMMON "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT LITERAL+" \
	" NAMESPACE UNSELECT CHILDREN LIST-EXTENDED LIST-STATUS I18NLEVEL=1" \
	" ESEARCH SEARCHRES WITHIN SPECIAL-USE BINARY UIDPLUS MOVE"
#define CAPS_CONDSTORE CAPS_COMMON " CONDSTORE"

enum server { SRV_QRESYNC, SRV_CONDSTORE, SRV_PLAIN };
static enum server server;
static int log_fd = -1;

static void start(enum server kind, const char *extra)
{
	char path[512];

	signal(SIGPIPE, SIG_IGN);
	server = kind;
	dc = pbt_dovecot_start_with(extra);
	ck_assert_ptr_nonnull(dc);
	snprintf(path, sizeof(path), "%s/sync-test.log", dc->dir);
	log_fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	ck_assert_int_ge(log_fd, 0);
	base_log_set_fd(log_fd);
	base_log_setup(PB_LOG_DEBUG, false);
}

static void setup_qresync(void)
{
	start(SRV_QRESYNC, "imap_id_log = *\n");
}

static void setup_condstore(void)
{
	start(SRV_CONDSTORE, "imap_capability = " CAPS_CONDSTORE "\n");
}

static void setup_plain(void)
{
	start(SRV_PLAIN, "imap_capability = " CAPS_COMMON "\n");
}

static void teardown(void)
{
	base_log_set_fd(-1);
	close(log_fd);
	log_fd = -1;
	mdt_dc_teardown();
}

/* ---- syncing into a state file ------------------------------------------------ */

struct side {
	struct state_db *db;
	int64_t account_id;
	struct state_mailbox mb;
	char log[4096];     /* the debug log of its last sync */
};

static void side_open(struct mdt_env *e, struct side *s, const char *name)
{
	char path[600], err[256];
	struct state_account a;

	memset(s, 0, sizeof(*s));
	snprintf(path, sizeof(path), "%s/sync-%s-%s.db", dc->dir, e->user, name);
	s->db = state_open(path, err, sizeof(err));
	ck_assert_msg(s->db != NULL, "%s", err);
	ck_assert_int_eq(state_account_ensure(s->db, e->user, time(NULL), &a), STATE_OK);
	s->account_id = a.id;
}

static void side_close(struct side *s)
{
	state_close(s->db);
	s->db = NULL;
}

/* Log in with *up (which must stay where it is: the session's events go to
 * it), sync INBOX into s; the caller frees *up. complete: clear the stored
 * HIGHESTMODSEQ first, so the sync cannot be incremental. */
static void side_sync_up(struct mdt_env *e, struct side *s, bool complete,
    struct maildrop_upstream *up)
{
	char detail[512];
	off_t from = lseek(log_fd, 0, SEEK_END);

	memset(up, 0, sizeof(*up));
	enum pop3_md_status st = maildrop_upstream_login(up, &e->opt, e->user, MDT_PASS, detail,
	    sizeof(detail));
	ck_assert_msg(st == POP3_MD_OK, "login: %s", detail);
	if (complete && s->mb.id != 0 && s->mb.uidvalidity != 0) {
		struct state_mailbox_status clear = {
			.uidvalidity = s->mb.uidvalidity, .uidnext = s->mb.uidnext,
			.highestmodseq = 0,
		};
		ck_assert_int_eq(state_messages_sync(s->db, s->mb.id, &clear, NULL, 0, false,
		    time(NULL), NULL), STATE_OK);
	}
	st = maildrop_sync_folder(up, s->db, s->account_id, "INBOX", e->opt.dele_keyword,
	    time(NULL), &s->mb, detail, sizeof(detail));
	ck_assert_msg(st == POP3_MD_OK, "sync: %s", detail);
	ssize_t n = pread(log_fd, s->log, sizeof(s->log) - 1, from);
	s->log[n > 0 ? n : 0] = '\0';
}

static void side_sync(struct mdt_env *e, struct side *s, bool complete)
{
	struct maildrop_upstream up;

	side_sync_up(e, s, complete, &up);
	maildrop_upstream_free(&up);
}

/* A's last sync was incremental (no complete listing), or, on a server
 * without CONDSTORE, complete. */
static void expect_incremental(const struct side *a)
{
	if (server == SRV_PLAIN)
		ck_assert_msg(strstr(a->log, "complete listing (no-condstore)") != NULL, "%s",
		    a->log);
	else
		ck_assert_msg(strstr(a->log, "complete listing") == NULL,
		    "the sync was not incremental: %s", a->log);
}

/* ---- comparing two state files -------------------------------------------------- */

struct rows {
	struct state_message *v;
	size_t n;
};

static int rows_cb(void *arg, const struct state_message *m)
{
	struct rows *r = arg;
	struct state_message *p = realloc(r->v, (r->n + 1) * sizeof(*p));
	ck_assert_ptr_nonnull(p);
	r->v = p;
	r->v[r->n++] = *m;
	return 0;
}

static void rows_get(struct side *s, struct rows *r)
{
	memset(r, 0, sizeof(*r));
	ck_assert_int_eq(state_messages_list(s->db, s->mb.id, rows_cb, r), STATE_OK);
}

/* A and B hold the same live messages with the same data, and as many as
 * the server has. */
static void compare(struct side *a, struct side *b, long upstream_count)
{
	struct rows ra, rb;

	ck_assert_uint_eq(a->mb.uidvalidity, b->mb.uidvalidity);
	ck_assert_uint_eq(a->mb.uidnext, b->mb.uidnext);
	ck_assert_int_eq(a->mb.seq_base, b->mb.seq_base);
	rows_get(a, &ra);
	rows_get(b, &rb);
	ck_assert_uint_eq(ra.n, (size_t)upstream_count);
	ck_assert_uint_eq(ra.n, rb.n);
	for (size_t i = 0; i < ra.n; i++) {
		const struct state_message *x = &ra.v[i], *y = &rb.v[i];
		ck_assert_uint_eq(x->uid, y->uid);
		ck_assert_uint_eq(x->uidvalidity, y->uidvalidity);
		ck_assert_str_eq(x->uidl, y->uidl);
		ck_assert_int_eq(x->seq, y->seq);
		ck_assert_uint_eq(x->rfc822_size, y->rfc822_size);
		ck_assert_int_eq(x->size_exact, y->size_exact);
		ck_assert_uint_eq(x->exact_size, y->exact_size);
		ck_assert_msg(x->flags == y->flags, "UID %u: flags %u (incremental) vs %u",
		    x->uid, x->flags, y->flags);
		ck_assert_str_eq(x->message_id, y->message_id);
		ck_assert_str_eq(x->hdr_hash, y->hdr_hash);
		ck_assert_str_eq(x->emailid, y->emailid);
		ck_assert_int_eq(x->gone, 0);
		ck_assert_int_eq(y->gone, 0);
	}
	free(ra.v);
	free(rb.v);
}

/* The state flags of the message with msgid in side s (which must hold it). */
static unsigned flags_of(struct side *s, const char *msgid)
{
	struct rows r;
	unsigned f = ~0u;

	rows_get(s, &r);
	for (size_t i = 0; i < r.n; i++)
		if (strcmp(r.v[i].message_id, msgid) == 0)
			f = r.v[i].flags;
	free(r.v);
	ck_assert_msg(f != ~0u, "%s not live in state", msgid);
	return f;
}

/* ---- upstream changes by another client ----------------------------------------- */

static uint32_t uid_of(struct imap_session *s, const char *msgid)
{
	uint32_t uid = 0;
	ck_assert_uint_eq(adm_find(s, "INBOX", msgid, &uid), 1);
	return uid;
}

static void adm_store(const char *user, const char *msgid, bool add, unsigned sys,
    const char *kw)
{
	struct imap_session *s = adm_open(user);
	struct imap_uidset one;
	const char *kws[1] = { kw };

	imap_uidset_init(&one);
	ck_assert_int_eq(imap_uidset_add(&one, uid_of(s, msgid)), 0);
	ck_assert_int_eq(imap_store_flags(s, &one, add, sys, kw ? kws : NULL, kw ? 1 : 0),
	    IMAP_OK);
	imap_uidset_free(&one);
	adm_close(s);
}

static void adm_expunge(const char *user, const char *msgid)
{
	struct imap_session *s = adm_open(user);
	struct imap_uidset one;

	imap_uidset_init(&one);
	ck_assert_int_eq(imap_uidset_add(&one, uid_of(s, msgid)), 0);
	ck_assert_int_eq(imap_store_flags(s, &one, true, IMAP_FLAG_DELETED, NULL, 0), IMAP_OK);
	ck_assert_int_eq(imap_uid_expunge(s, &one), IMAP_OK);
	imap_uidset_free(&one);
	adm_close(s);
}

static long upstream_count(const char *user)
{
	struct imap_session *s = adm_open(user);
	long n = adm_count(s, "INBOX");
	adm_close(s);
	return n;
}

/* ---- the scenarios --------------------------------------------------------------- */

struct scen {
	struct mdt_env e;
	struct side a, b;
	char ids[16][128];
	int n;
};

/* A user with n messages, both sides synced once (complete). */
static void scen_init(struct scen *c, const char *user, int n, uint32_t seed)
{
	ck_assert_int_le(n, 16);
	mdt_env_init(&c->e, user, NULL);
	for (int i = 0; i < n; i++)
		mdt_deliver(user, seed + (uint32_t)i, PBT_MSG_PLAIN, i == 0 ? "S" : "", c->ids[i]);
	c->n = n;
	side_open(&c->e, &c->a, "a");
	side_open(&c->e, &c->b, "b");
	side_sync(&c->e, &c->a, false);
	ck_assert_msg(strstr(c->a.log, "complete listing") != NULL, "%s", c->a.log);
	side_sync(&c->e, &c->b, true);
	compare(&c->a, &c->b, n);
	if (server != SRV_PLAIN)
		ck_assert_uint_ne(c->a.mb.highestmodseq, 0);
}

/* Sync both and compare; A must have been incremental. */
static void scen_check(struct scen *c)
{
	side_sync(&c->e, &c->a, false);
	expect_incremental(&c->a);
	side_sync(&c->e, &c->b, true);
	compare(&c->a, &c->b, upstream_count(c->e.user));
}

static void scen_free(struct scen *c)
{
	side_close(&c->a);
	side_close(&c->b);
	mdt_env_free(&c->e);
}

/* (a) Nothing changed: nothing is fetched, state stays as it was. */
START_TEST(t_unchanged)
{
	struct scen c;

	scen_init(&c, "unch", 5, 8100);
	uint64_t modseq = c.a.mb.highestmodseq;
	scen_check(&c);
	ck_assert_uint_eq(c.a.mb.highestmodseq, modseq);
	if (server != SRV_PLAIN)
		ck_assert_msg(strstr(c.a.log, "changed=") == NULL, "fetched changes: %s", c.a.log);
	scen_check(&c);
	scen_free(&c);
}
END_TEST

/* (b) New messages: recorded with UIDLs, match keys and exact sizes. */
START_TEST(t_new_messages)
{
	struct scen c;

	scen_init(&c, "news", 4, 8200);
	for (int i = 0; i < 3; i++)
		mdt_deliver(c.e.user, 8210 + (uint32_t)i, PBT_MSG_PLAIN, "", c.ids[4 + i]);
	scen_check(&c);
	if (server != SRV_PLAIN)
		ck_assert_msg(strstr(c.a.log, "changed=3") != NULL, "%s", c.a.log);
	/* A kind whose size needs the tail: exact size from the first sync. */
	mdt_deliver(c.e.user, 8220, PBT_MSG_NO_FINAL_EOL, "", c.ids[7]);
	scen_check(&c);
	scen_free(&c);
}
END_TEST

/* (c) Flags changed by another client: \Seen set and cleared, the dele
 * keyword set (hides the message from every device) and cleared. */
START_TEST(t_flags)
{
	struct scen c;

	scen_init(&c, "flg", 5, 8300);
	ck_assert(flags_of(&c.a, c.ids[0]) & STATE_MF_SEEN);
	adm_store(c.e.user, c.ids[1], true, IMAP_FLAG_SEEN, NULL);
	adm_store(c.e.user, c.ids[0], false, IMAP_FLAG_SEEN, NULL);
	adm_store(c.e.user, c.ids[2], true, 0, "$POP3Deleted");
	adm_store(c.e.user, c.ids[3], true, IMAP_FLAG_DELETED, NULL);
	scen_check(&c);
	ck_assert(flags_of(&c.a, c.ids[1]) & STATE_MF_SEEN);
	ck_assert(!(flags_of(&c.a, c.ids[0]) & STATE_MF_SEEN));
	ck_assert(flags_of(&c.a, c.ids[2]) & STATE_MF_KEYWORD);
	ck_assert(flags_of(&c.a, c.ids[3]) & STATE_MF_DELETED);
	mdt_expect_count(&c.e, NULL, 4);  /* the keyword hides ids[2] */
	adm_store(c.e.user, c.ids[2], false, 0, "$POP3Deleted");
	scen_check(&c);
	ck_assert(!(flags_of(&c.a, c.ids[2]) & STATE_MF_KEYWORD));
	scen_free(&c);
}
END_TEST

/* (d) Expunges by another client: marked gone. */
START_TEST(t_expunges)
{
	struct scen c;

	scen_init(&c, "exp", 6, 8400);
	adm_expunge(c.e.user, c.ids[1]);
	adm_expunge(c.e.user, c.ids[4]);
	scen_check(&c);
	if (server == SRV_QRESYNC)
		ck_assert_msg(strstr(c.a.log, "vanished=2") != NULL, "%s", c.a.log);
	else if (server == SRV_CONDSTORE)
		ck_assert_msg(strstr(c.a.log, "UID SEARCH: expunged=2 new=0") != NULL, "%s",
		    c.a.log);
	ck_assert_uint_eq(upstream_count(c.e.user), 4);
	/* The last message too (UIDNEXT stays). */
	adm_expunge(c.e.user, c.ids[5]);
	scen_check(&c);
	scen_free(&c);
}
END_TEST

/* (e) A mix: new messages, flag changes, expunges, and a message that came
 * and went between two syncs. */
START_TEST(t_mix)
{
	struct scen c;

	scen_init(&c, "mix", 5, 8500);
	mdt_deliver(c.e.user, 8510, PBT_MSG_PLAIN, "", c.ids[5]);
	mdt_deliver(c.e.user, 8511, PBT_MSG_PLAIN, "S", c.ids[6]);
	mdt_deliver(c.e.user, 8512, PBT_MSG_PLAIN, "", c.ids[7]);
	adm_expunge(c.e.user, c.ids[7]);
	adm_expunge(c.e.user, c.ids[0]);
	adm_store(c.e.user, c.ids[2], true, IMAP_FLAG_SEEN, "$POP3Deleted");
	adm_store(c.e.user, c.ids[5], true, IMAP_FLAG_SEEN, NULL);
	scen_check(&c);
	ck_assert(flags_of(&c.a, c.ids[6]) & STATE_MF_SEEN);
	ck_assert(flags_of(&c.a, c.ids[2]) & STATE_MF_KEYWORD);
	adm_expunge(c.e.user, c.ids[6]);
	mdt_deliver(c.e.user, 8513, PBT_MSG_PLAIN, "", c.ids[8]);
	scen_check(&c);
	scen_free(&c);
}
END_TEST

/* (f) A UIDVALIDITY change: the complete listing and the rematch, UIDLs
 * kept; the next sync is incremental again. */
START_TEST(t_uidvalidity)
{
	struct scen c;

	scen_init(&c, "renum", 4, 8600);
	uint32_t old = c.a.mb.uidvalidity;
	char uidl[STATE_UIDL_MAX + 1];
	struct rows r;
	rows_get(&c.a, &r);
	snprintf(uidl, sizeof(uidl), "%s", r.v[0].uidl);
	free(r.v);
	ck_assert_int_eq(pbt_dovecot_renumber(dc, c.e.user, "INBOX"), 0);
	side_sync(&c.e, &c.a, false);
	ck_assert_msg(strstr(c.a.log, "complete listing (uidvalidity-changed)") != NULL, "%s",
	    c.a.log);
	ck_assert_uint_ne(c.a.mb.uidvalidity, old);
	side_sync(&c.e, &c.b, true);
	compare(&c.a, &c.b, 4);
	rows_get(&c.a, &r);
	ck_assert_str_eq(r.v[0].uidl, uidl);
	free(r.v);
	adm_store(c.e.user, c.ids[3], true, IMAP_FLAG_SEEN, NULL);
	scen_check(&c);
	scen_free(&c);
}
END_TEST

/* An expunge while the session goes on after an incremental sync names the
 * right UID (the sequence-number map, or VANISHED with QRESYNC). */
START_TEST(t_expunge_during_session)
{
	struct scen c;
	struct maildrop_upstream up;

	scen_init(&c, "live", 5, 8700);
	side_sync_up(&c.e, &c.a, false, &up);
	expect_incremental(&c.a);
	struct imap_session *adm = adm_open(c.e.user);
	uint32_t uid = uid_of(adm, c.ids[2]);
	adm_close(adm);
	adm_expunge(c.e.user, c.ids[2]);
	ck_assert_int_eq(imap_noop(up.imap), IMAP_OK);
	ck_assert(imap_uidset_contains(&up.gone, uid));
	ck_assert_uint_eq(imap_uidset_count(&up.gone), 1);
	maildrop_upstream_free(&up);
	scen_check(&c);
	scen_free(&c);
}
END_TEST

/* State marked a message gone that the server still has (no path of the
 * bridge does that; the sync must not trust that it never happens): the
 * counts disagree, UID SEARCH finds the UID, and the message is listed and
 * live again — as a complete listing would make it. */
START_TEST(t_state_behind)
{
	struct scen c;

	scen_init(&c, "behind", 4, 8750);
	struct imap_session *adm = adm_open(c.e.user);
	uint32_t uid = uid_of(adm, c.ids[1]);
	adm_close(adm);
	ck_assert_int_eq(state_messages_gone(c.a.db, c.a.mb.id, &uid, 1, time(NULL)), STATE_OK);
	scen_check(&c);
	if (server != SRV_PLAIN)
		ck_assert_msg(strstr(c.a.log, "UID SEARCH: expunged=0 new=1") != NULL, "%s",
		    c.a.log);
	/* The same with a change since, so the changed path runs first. */
	ck_assert_int_eq(state_messages_gone(c.a.db, c.a.mb.id, &uid, 1, time(NULL)), STATE_OK);
	adm_store(c.e.user, c.ids[2], true, IMAP_FLAG_SEEN, NULL);
	adm_expunge(c.e.user, c.ids[3]);
	scen_check(&c);
	scen_free(&c);
}
END_TEST

/* Set A's stored status (as if an earlier sync had seen it). */
static void set_status(struct side *a, uint32_t uidnext, uint64_t modseq)
{
	struct state_mailbox_status st = {
		.uidvalidity = a->mb.uidvalidity, .uidnext = uidnext, .highestmodseq = modseq,
	};
	ck_assert_int_eq(state_messages_sync(a->db, a->mb.id, &st, NULL, 0, false, time(NULL),
	    NULL), STATE_OK);
}

/* A stored status the server contradicts is not a base for a shortcut:
 * HIGHESTMODSEQ above the server's, UIDNEXT above the server's, UIDNEXT
 * moved while HIGHESTMODSEQ did not. Each time the complete listing runs
 * and gives what B has. */
START_TEST(t_status_not_trusted)
{
	struct scen c;

	if (server == SRV_PLAIN)
		return;  /* every sync is complete there anyway */
	scen_init(&c, "trust", 4, 8950);
	uint32_t uidnext = c.a.mb.uidnext;
	uint64_t modseq = c.a.mb.highestmodseq;
	static const struct {
		int dnext;
		int dmodseq;
		const char *why;
	} cases[] = {
		{ 0, 1000, "modseq-went-back" },
		{ 5, 0, "uidnext-inconsistent" },
		{ -1, 0, "uidnext-inconsistent" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char want[64];
		set_status(&c.a, (uint32_t)((int)uidnext + cases[i].dnext),
		    (uint64_t)((int64_t)modseq + cases[i].dmodseq));
		side_sync(&c.e, &c.a, false);
		snprintf(want, sizeof(want), "complete listing (%s)", cases[i].why);
		ck_assert_msg(strstr(c.a.log, want) != NULL, "case %zu: %s", i, c.a.log);
		side_sync(&c.e, &c.b, true);
		compare(&c.a, &c.b, 4);
		ck_assert_uint_eq(c.a.mb.highestmodseq, modseq);
	}
	scen_check(&c);
	scen_free(&c);
}
END_TEST

/* Another dele keyword than the default: no HIGHESTMODSEQ is stored, every
 * sync is complete (state does not say which keyword its flags follow). */
START_TEST(t_other_keyword)
{
	struct mdt_env e;
	struct side a;

	mdt_env_init(&e, "okw", "dele-keyword", "$Gone", NULL);
	mdt_deliver(e.user, 8800, PBT_MSG_PLAIN, "", NULL);
	side_open(&e, &a, "a");
	side_sync(&e, &a, false);
	ck_assert_uint_eq(a.mb.highestmodseq, 0);
	side_sync(&e, &a, false);
	ck_assert_msg(strstr(a.log, "complete listing (no-") != NULL, "%s", a.log);
	side_close(&a);
	mdt_env_free(&e);
}
END_TEST

/* ID (RFC 2971) reaches the server: Dovecot logs it (imap_id_log = *). */
START_TEST(t_id_sent)
{
	struct scen c;
	char path[600];
	size_t len = 0;

	scen_init(&c, "ident", 1, 8900);
	snprintf(path, sizeof(path), "%s/log/dovecot.log", dc->dir);
	char *log = pbt_read_file(path, 64 << 20, &len);
	ck_assert_ptr_nonnull(log);
	char want[64];
	snprintf(want, sizeof(want), "name=popbridge, version=%s", POPBRIDGE_VERSION);
	ck_assert_msg(strstr(log, want) != NULL, "Dovecot did not log %s", want);
	free(log);
	scen_free(&c);
}
END_TEST

static void add_scenarios(TCase *tc)
{
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, t_unchanged);
	tcase_add_test(tc, t_new_messages);
	tcase_add_test(tc, t_flags);
	tcase_add_test(tc, t_expunges);
	tcase_add_test(tc, t_mix);
	tcase_add_test(tc, t_uidvalidity);
	tcase_add_test(tc, t_expunge_during_session);
	tcase_add_test(tc, t_state_behind);
	tcase_add_test(tc, t_status_not_trusted);
}

int main(void)
{
	Suite *su = suite_create("bridge-sync");
	TCase *q = tcase_create("condstore-qresync");
	tcase_add_unchecked_fixture(q, setup_qresync, teardown);
	add_scenarios(q);
	tcase_add_test(q, t_other_keyword);
	tcase_add_test(q, t_id_sent);
	suite_add_tcase(su, q);
	TCase *cs = tcase_create("condstore-only");
	tcase_add_unchecked_fixture(cs, setup_condstore, teardown);
	add_scenarios(cs);
	suite_add_tcase(su, cs);
	TCase *pl = tcase_create("no-condstore");
	tcase_add_unchecked_fixture(pl, setup_plain, teardown);
	add_scenarios(pl);
	suite_add_tcase(su, pl);
	SRunner *sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
