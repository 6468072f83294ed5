/* tests/bridge/check_servers.c — the bridge's maildrop against three real
 * IMAP servers: Dovecot 2.3, Cyrus IMAP 3.6 and Courier IMAP 5
 * (tests/lib/imapd.h), one TCase per server, the same tests in each:
 * listing with exact sizes, RETR bytes equal to BODY[], UIDLs, every `dele`
 * policy with its effect checked over IMAP, `seen-on`, an upstream expunge
 * during a session, [IN-USE], a UIDVALIDITY change (the server renumbers),
 * the incremental sync where the server offers CONDSTORE. Default Trash and
 * Archive names land under the server's personal namespace (Cyrus and
 * Courier: INBOX.), and Courier's stand-in for an expunged message is never
 * sent as the message.
 *
 * A server that cannot run here (not root, packages not unpacked) fails its
 * TCase with the reason, unless PBT_SERVERS_SKIP=1 (then it is skipped).
 */
#include "tests/bridge/check_maildrop.h"
#include "tests/bridge/bt.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include "bridge/base/log.h"
#include "tests/lib/imapd.h"

static struct pbt_imapd *srv;
static enum pbt_imapd_kind kind;
static int log_fd = -1;
static int skipped;

static void start(enum pbt_imapd_kind k)
{
	char why[400], path[512];

	signal(SIGPIPE, SIG_IGN);
	kind = k;
	if (!pbt_imapd_available(k, why, sizeof(why))) {
		const char *skip = getenv("PBT_SERVERS_SKIP");
		fprintf(stderr, "%s: %s\n", pbt_imapd_kind_name(k), why);
		skipped = skip && strcmp(skip, "1") == 0;
		return;
	}
	srv = pbt_imapd_start(k, NULL);
	ck_assert_ptr_nonnull(srv);
	snprintf(path, sizeof(path), "%s/servers-test.log", srv->dir);
	log_fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	ck_assert_int_ge(log_fd, 0);
	base_log_set_fd(log_fd);
	base_log_setup(PB_LOG_DEBUG, false);
}

static void setup_dovecot(void)
{
	start(PBT_IMAPD_DOVECOT);
}

static void setup_cyrus(void)
{
	start(PBT_IMAPD_CYRUS);
}

static void setup_courier(void)
{
	start(PBT_IMAPD_COURIER);
}

static void teardown(void)
{
	base_log_set_fd(-1);
	if (log_fd >= 0)
		close(log_fd);
	log_fd = -1;
	pbt_imapd_stop(srv);
	srv = NULL;
}

/* Every test starts with this: the server runs (or the TCase is skipped). */
#define NEED_SERVER()                                                              \
	do {                                                                       \
		if (skipped)                                                       \
			return;                                                    \
		ck_assert_msg(srv != NULL, "%s cannot run here",                   \
		    pbt_imapd_kind_name(kind));                                    \
	} while (0)

static const char *K(void)
{
	return pbt_imapd_kind_name(kind);
}

/* A known failure, or the sign that its fix arrived. */
/* The server's IMAP name of a bare folder name (static rotating buffer). */
static const char *F(const char *bare)
{
	static char b[4][300];
	static int next;
	char *p = b[next++ % 4];
	ck_assert_ptr_nonnull(pbt_imapd_folder(srv, bare, p, 300));
	return p;
}

/* mdt_env_init for the server of this TCase. */
static void sv_env(struct mdt_env *e, const char *user, ...)
{
	va_list ap;

	va_start(ap, user);
	mdt_env_setv(e, user, srv->dir, srv->imap_port, ap);
	va_end(ap);
	ck_assert_int_eq(pbt_imapd_add_user(srv, user, MDT_PASS), 0);
}

static struct imap_session *sv_adm(const char *user)
{
	struct imap_config cfg = {
		.host = "127.0.0.1", .port = (unsigned)srv->imap_port, .tls = IMAP_TLS_NONE,
		.timeout_s = 10,
	};
	struct imap_session *s = imap_session_new(&cfg);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(imap_connect(s), IMAP_OK);
	ck_assert_int_eq(imap_login(s, user, MDT_PASS), IMAP_OK);
	return s;
}

static void sv_deliver(const char *user, uint32_t seed, enum pbt_msg_kind k, const char *flags,
    char *id)
{
	struct pbt_msgspec spec = { .kind = k, .seed = seed, .size = 0 };
	ck_assert_int_eq(pbt_imapd_add_generated(srv, user, "INBOX", &spec, flags), 0);
	if (id)
		pbt_msg_id(&spec, id, 128);
}

static void sv_three(const char *user, char ids[3][128], uint32_t seed)
{
	for (int i = 0; i < 3; i++)
		sv_deliver(user, seed + (uint32_t)i, PBT_MSG_PLAIN, "", ids[i]);
}

/* Expunge the message with msgid from INBOX as another IMAP client. */
static void sv_expunge(const char *user, const char *msgid)
{
	struct imap_session *other = sv_adm(user);
	uint32_t uid;
	struct imap_uidset one;
	ck_assert_uint_eq(adm_find(other, "INBOX", msgid, &uid), 1);
	imap_uidset_init(&one);
	imap_uidset_add(&one, uid);
	ck_assert_int_eq(imap_store_flags(other, &one, true, IMAP_FLAG_DELETED, NULL, 0), IMAP_OK);
	ck_assert_int_eq(imap_uid_expunge(other, &one), IMAP_OK);
	imap_uidset_free(&one);
	adm_close(other);
}

/* ---- listing, RETR, UIDL -------------------------------------------------------- */

START_TEST(t_list_retr_uidl)
{
	static const enum pbt_msg_kind kinds[] = { PBT_MSG_PLAIN, PBT_MSG_MULTIPART, PBT_MSG_8BIT,
		PBT_MSG_DOTS, PBT_MSG_LONG_LINES, PBT_MSG_BARE_LF, PBT_MSG_NO_FINAL_EOL };
	enum { N = sizeof(kinds) / sizeof(kinds[0]) };
	struct mdt_env e;
	struct mdt_sess a;
	char ids[N][128], uidls[N][71];
	enum pbt_msg_kind kinds_here[N];

	NEED_SERVER();
	sv_env(&e, "listing", NULL);
	/* Cyrus refuses to store bare LF line ends ("NO Message contains bare
	 * newlines"): that kind cannot exist there. */
	size_t n = 0;
	for (size_t i = 0; i < N; i++) {
		if (kind == PBT_IMAPD_CYRUS && kinds[i] == PBT_MSG_BARE_LF)
			continue;
		kinds_here[n] = kinds[i];
		sv_deliver(e.user, 10 + (uint32_t)i, kinds[i], "", ids[n++]);
	}
	mdt_open(&e, &a, NULL);
	ck_assert_uint_eq(mdt_count(&a), n);
	struct imap_session *adm = sv_adm(e.user);
	for (size_t i = 0; i < n; i++) {
		char hex[65], want[65];
		uint64_t size;
		struct pop3_msg_info m = mdt_info(&a, i);
		uint64_t octets = mdt_retr(&a, i, hex);
		/* LIST's size is what RETR sends, exactly */
		ck_assert_msg(octets == m.size, "%s: %s: LIST %llu, RETR sent %llu", K(),
		    pbt_msg_kind_name(kinds_here[i]), (unsigned long long)m.size,
		    (unsigned long long)octets);
		/* the bytes are the server's BODY[] */
		adm_body_sha(adm, ids[i], want, &size);
		ck_assert_msg(strcmp(hex, want) == 0, "%s: %s: RETR bytes differ from BODY[]", K(),
		    pbt_msg_kind_name(kinds_here[i]));
		snprintf(uidls[i], sizeof(uidls[i]), "%s", m.uidl);
		for (size_t j = 0; j < i; j++)
			ck_assert_str_ne(uidls[j], uidls[i]);
	}
	adm_close(adm);
	mdt_commit(&a, NULL, 0);
	mdt_close(&a);
	/* the same UIDLs in the next session */
	mdt_open(&e, &a, NULL);
	ck_assert_uint_eq(mdt_count(&a), n);
	for (size_t i = 0; i < n; i++)
		ck_assert_str_eq(mdt_info(&a, i).uidl, uidls[i]);
	mdt_close(&a);
	mdt_env_free(&e);
}
END_TEST

/* ---- dele policies ------------------------------------------------------------------ */

/* dele trash/archive: the message moves to expect (a bare name, under the
 * server's personal namespace), INBOX keeps the other two. */
static void move_case(const char *user, const char *policy, const char *key, const char *value,
    const char *expect)
{
	struct mdt_env e;
	struct mdt_sess a;
	char ids[3][128];

	if (key)
		sv_env(&e, user, "dele", policy, key, value, NULL);
	else
		sv_env(&e, user, "dele", policy, NULL);
	sv_three(e.user, ids, 200);
	mdt_open(&e, &a, "pc1");
	ck_assert_uint_eq(mdt_count(&a), 3);
	size_t del = 1;
	mdt_commit(&a, &del, 1);
	bool was_pending = a.conn.commit_pending;
	mdt_close(&a);

	struct imap_session *adm = sv_adm(e.user);
	long in_inbox = adm_count(adm, "INBOX");
	long in_target = adm_count(adm, F(expect));
	bool moved = in_inbox == 2 && in_target == 1 &&
	    adm_find(adm, F(expect), ids[1], NULL) == 1;
	ck_assert_msg(moved, "%s: dele %s: INBOX %ld, %s %ld", K(), policy, in_inbox,
	    F(expect), in_target);
	ck_assert(!was_pending);
	ck_assert_uint_eq(adm_find(adm, "INBOX", ids[1], NULL), 0);
	adm_close(adm);
	/* the device never lists it again either way */
	mdt_expect_count(&e, "pc1", 2);
	mdt_env_free(&e);
}

START_TEST(t_dele_trash)
{
	NEED_SERVER();
	move_case("trash1", "trash", NULL, NULL, "Trash");
}
END_TEST

START_TEST(t_dele_trash_named)
{
	/* The server's own name for it, configured: works everywhere today. */
	NEED_SERVER();
	move_case("trash2", "trash", "trash-folder", F("Trash"), "Trash");
}
END_TEST

START_TEST(t_dele_archive)
{
	NEED_SERVER();
	move_case("arch1", "archive", NULL, NULL, "Archive");
}
END_TEST

START_TEST(t_dele_archive_named)
{
	NEED_SERVER();
	move_case("arch2", "archive", "archive-folder", F("Archive"), "Archive");
}
END_TEST

START_TEST(t_dele_hide)
{
	struct mdt_env e;
	char ids[3][128];

	NEED_SERVER();
	sv_env(&e, "hide1", NULL);
	sv_three(e.user, ids, 300);
	mdt_dele_one(&e, "pc1", 0);
	struct imap_session *adm = sv_adm(e.user);
	ck_assert_int_eq(adm_count(adm, "INBOX"), 3);
	adm_close(adm);
	mdt_expect_count(&e, "pc1", 2);
	mdt_expect_count(&e, "pc2", 3);
	mdt_env_free(&e);
}
END_TEST

START_TEST(t_dele_flag)
{
	struct mdt_env e;
	char ids[3][128];
	bool kw = false;

	NEED_SERVER();
	sv_env(&e, "flag1", "dele", "flag", NULL);
	sv_three(e.user, ids, 400);
	mdt_expect_count(&e, "pc2", 3);
	mdt_dele_one(&e, "pc1", 2);
	struct imap_session *adm = sv_adm(e.user);
	ck_assert_int_eq(adm_count(adm, "INBOX"), 3);
	adm_msg_flags(adm, "INBOX", ids[2], "$POP3Deleted", &kw);
	ck_assert_msg(kw, "%s: no $POP3Deleted keyword upstream", K());
	adm_close(adm);
	mdt_expect_count(&e, "pc2", 2);
	mdt_env_free(&e);
}
END_TEST

START_TEST(t_dele_expunge)
{
	struct mdt_env e;
	char ids[3][128];

	NEED_SERVER();
	sv_env(&e, "expunge1", "dele", "expunge", NULL);
	sv_three(e.user, ids, 500);
	mdt_dele_one(&e, "pc1", 0);
	struct imap_session *adm = sv_adm(e.user);
	ck_assert_int_eq(adm_count(adm, "INBOX"), 2);
	ck_assert_uint_eq(adm_find(adm, "INBOX", ids[0], NULL), 0);
	ck_assert_uint_eq(adm_find(adm, "INBOX", ids[1], NULL), 1);
	ck_assert_int_le(adm_count(adm, F("Trash")), 0);
	adm_close(adm);
	mdt_expect_count(&e, "pc2", 2);
	mdt_env_free(&e);
}
END_TEST

START_TEST(t_dele_last_device)
{
	struct mdt_env e;
	char ids[3][128];
	const char *names[2] = { "a", "b" };

	NEED_SERVER();
	sv_env(&e, "lastdev", "dele", "last-device", NULL);
	sv_three(e.user, ids, 600);
	mdt_expect_count(&e, "a", 3);
	mdt_expect_count(&e, "b", 3);
	struct imap_session *adm = sv_adm(e.user);
	for (int d = 0; d < 2; d++) {
		mdt_dele_one(&e, names[d], 0);
		ck_assert_int_eq(adm_count(adm, "INBOX"), d == 0 ? 3 : 2);
	}
	ck_assert_uint_eq(adm_find(adm, "INBOX", ids[0], NULL), 0);
	adm_close(adm);
	mdt_env_free(&e);
}
END_TEST

/* ---- seen-on ---------------------------------------------------------------------- */

START_TEST(t_seen_on)
{
	static const char *const modes[] = { "retr", "quit", "never" };

	NEED_SERVER();
	for (int m = 0; m < 3; m++) {
		struct mdt_env e;
		struct mdt_sess a;
		char ids[3][128], user[32];
		bool retr = m == 0, quit = m == 1;

		snprintf(user, sizeof(user), "seen%s", modes[m]);
		sv_env(&e, user, "seen-on", modes[m], NULL);
		sv_three(e.user, ids, 700 + 10 * (uint32_t)m);
		mdt_open(&e, &a, NULL);
		mdt_retr(&a, 0, NULL);
		struct imap_session *adm = sv_adm(e.user);
		ck_assert_uint_eq(!!(adm_msg_flags(adm, "INBOX", ids[0], NULL, NULL) &
		    IMAP_FLAG_SEEN), retr);
		mdt_commit(&a, NULL, 0);
		mdt_close(&a);
		ck_assert_msg(!!(adm_msg_flags(adm, "INBOX", ids[0], NULL, NULL) & IMAP_FLAG_SEEN) ==
		    (retr || quit), "%s: seen-on %s", K(), modes[m]);
		ck_assert_uint_eq(adm_msg_flags(adm, "INBOX", ids[1], NULL, NULL) & IMAP_FLAG_SEEN, 0);
		adm_close(adm);
		mdt_env_free(&e);
	}
}
END_TEST

/* ---- an upstream expunge during a session -------------------------------------------- */

START_TEST(t_upstream_expunge)
{
	struct mdt_env e;
	struct mdt_sess a;
	char ids[3][128];
	struct mdt_sink k;
	struct pop3_md_reply r = { .text = "" };

	NEED_SERVER();
	sv_env(&e, "gone", NULL);
	sv_three(e.user, ids, 800);
	mdt_open(&e, &a, NULL);
	ck_assert_uint_eq(mdt_count(&a), 3);
	sv_expunge(e.user, ids[1]);

	mdt_retr(&a, 0, NULL);
	mdt_sink_init(&k, false, 0, false);
	enum pop3_md_status st = maildrop_ops.fetch(a.md, 1, POP3_FETCH_WHOLE, 0, mdt_sink_fn, &k,
	    &r);
	/* Courier answers the FETCH with a short stand-in literal: its size
	 * disagrees with LIST, so it is not sent as the message either. */
	ck_assert_msg(st == POP3_MD_GONE, "%s: status %d", K(), (int)st);
	ck_assert_uint_eq(k.raw, 0);
	mdt_sink_free(&k);
	mdt_retr(&a, 2, NULL);
	ck_assert_uint_eq(mdt_count(&a), 3);
	mdt_commit(&a, NULL, 0);
	mdt_close(&a);
	mdt_expect_count(&e, NULL, 2);
	mdt_env_free(&e);
}
END_TEST

/* ---- [IN-USE] ------------------------------------------------------------------------ */

START_TEST(t_in_use)
{
	struct mdt_env e;
	struct mdt_sess a, b;
	char ids[3][128];

	NEED_SERVER();
	sv_env(&e, "inuse", NULL);
	sv_three(e.user, ids, 900);
	mdt_open(&e, &a, "pc");
	ck_assert_int_eq(mdt_open_as(&e, &b, "inuse#pc", MDT_PASS), POP3_MD_IN_USE);
	mdt_open(&e, &b, "phone");   /* another device is not locked out */
	mdt_close(&b);
	mdt_close(&a);
	mdt_expect_count(&e, "pc", 3);
	mdt_env_free(&e);
}
END_TEST

/* ---- UIDVALIDITY change ---------------------------------------------------------------- */

START_TEST(t_uidvalidity_change)
{
	struct mdt_env e;
	struct mdt_sess a;
	char ids[3][128], uidls[3][71];
	struct imap_mailbox_info before, after;

	NEED_SERVER();
	sv_env(&e, "renum", NULL);
	sv_three(e.user, ids, 1000);
	mdt_open(&e, &a, NULL);
	ck_assert_uint_eq(mdt_count(&a), 3);
	for (size_t i = 0; i < 3; i++)
		snprintf(uidls[i], sizeof(uidls[i]), "%s", mdt_info(&a, i).uidl);
	mdt_retr(&a, 0, NULL);
	mdt_commit(&a, NULL, 0);
	mdt_close(&a);

	struct imap_session *adm = sv_adm(e.user);
	ck_assert_int_eq(imap_select(adm, "INBOX", IMAP_SELECT_READONLY, &before), IMAP_OK);
	adm_close(adm);
	ck_assert_int_eq(pbt_imapd_renumber(srv, e.user, "INBOX"), 0);
	adm = sv_adm(e.user);
	ck_assert_int_eq(imap_select(adm, "INBOX", IMAP_SELECT_READONLY, &after), IMAP_OK);
	adm_close(adm);
	ck_assert_msg(after.uidvalidity != before.uidvalidity, "%s: UIDVALIDITY stayed %u", K(),
	    before.uidvalidity);
	ck_assert_uint_eq(after.exists, 3);

	/* The same messages keep their UIDLs: nothing is downloaded again. The
	 * server may give them new UIDs in another order (Courier numbers a
	 * message moved to cur/ by \Seen after the others), so the maildrop's
	 * order may change: compare the sets. */
	mdt_open(&e, &a, NULL);
	ck_assert_uint_eq(mdt_count(&a), 3);
	for (size_t i = 0; i < 3; i++) {
		bool kept = false;
		for (size_t j = 0; j < 3; j++)
			kept = kept || strcmp(mdt_info(&a, j).uidl, uidls[i]) == 0;
		ck_assert_msg(kept, "%s: UIDL %s is gone after the renumbering (now %s %s %s)", K(),
		    uidls[i], mdt_info(&a, 0).uidl, mdt_info(&a, 1).uidl, mdt_info(&a, 2).uidl);
	}
	mdt_close(&a);
	mdt_env_free(&e);
}
END_TEST

/* ---- incremental sync ------------------------------------------------------------------- */

START_TEST(t_incremental_sync)
{
	struct mdt_env e;
	struct mdt_sess a;
	char ids[3][128], extra[128], log[8192];

	NEED_SERVER();
	sv_env(&e, "incr", NULL);
	sv_three(e.user, ids, 1100);
	mdt_expect_count(&e, NULL, 3);
	/* upstream: one expunged, one new, one seen */
	sv_expunge(e.user, ids[0]);
	sv_deliver(e.user, 1110, PBT_MSG_PLAIN, "", extra);
	off_t from = lseek(log_fd, 0, SEEK_END);
	mdt_open(&e, &a, NULL);
	ssize_t n = pread(log_fd, log, sizeof(log) - 1, from);
	log[n > 0 ? n : 0] = '\0';
	ck_assert_uint_eq(mdt_count(&a), 3);
	mdt_close(&a);
	/* Dovecot and Cyrus offer CONDSTORE (and QRESYNC); Courier neither */
	if (kind == PBT_IMAPD_COURIER)
		ck_assert_msg(strstr(log, "complete listing (no-condstore)") != NULL, "%s", log);
	else
		ck_assert_msg(strstr(log, "complete listing") == NULL,
		    "%s: the sync was not incremental: %s", K(), log);
	mdt_env_free(&e);
}
END_TEST

static TCase *server_case(const char *name, void (*setup)(void))
{
	TCase *tc = tcase_create(name);
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, t_list_retr_uidl);
	tcase_add_test(tc, t_dele_hide);
	tcase_add_test(tc, t_dele_trash);
	tcase_add_test(tc, t_dele_trash_named);
	tcase_add_test(tc, t_dele_archive);
	tcase_add_test(tc, t_dele_archive_named);
	tcase_add_test(tc, t_dele_flag);
	tcase_add_test(tc, t_dele_expunge);
	tcase_add_test(tc, t_dele_last_device);
	tcase_add_test(tc, t_seen_on);
	tcase_add_test(tc, t_upstream_expunge);
	tcase_add_test(tc, t_in_use);
	tcase_add_test(tc, t_uidvalidity_change);
	tcase_add_test(tc, t_incremental_sync);
	return tc;
}

int main(void)
{
	Suite *s = suite_create("servers");
	suite_add_tcase(s, server_case("dovecot", setup_dovecot));
	suite_add_tcase(s, server_case("cyrus", setup_cyrus));
	suite_add_tcase(s, server_case("courier", setup_courier));
	return bt_run_suite(s);
}
