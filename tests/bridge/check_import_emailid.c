/* tests/bridge/check_import_emailid.c — UIDLs survive a UIDVALIDITY change
 * through RFC 8474 OBJECTID (EMAILID) or Gmail's X-GM-MSGID (SPEC §4,
 * issue 7). Dovecot 2.3 offers neither, so the scripted fake server of
 * tests/lib/fakeserver.h does: session 1 lists three messages under UIDVALIDITY 100; session
 * 2 renumbers them (UIDVALIDITY 200, other order, every header changed so
 * the header match cannot pair them) and adds one. maildrop_sync_folder must
 * ask for EMAILID / X-GM-MSGID, store it, and re-attach the messages by it
 * so their UIDLs stay; without either capability they are new messages. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bridge/config/options.h"
#include "bridge/maildrop/sync.h"
#include "bridge/maildrop/upstream.h"
#include "state/state.h"
#include "tests/lib/cert.h"
#include "tests/lib/fakeserver.h"

enum idcap { CAP_OBJECTID, CAP_GMEXT, CAP_NONE };

struct fmsg {
	uint32_t uid;
	const char *id;      /* EMAILID, or the X-GM-MSGID digits */
	const char *subject;
};

/* The scripted server's state (tests/lib/fakeserver.h: pbt_fake.data). */
struct fake {
	enum idcap cap;
	uint32_t uidvalidity;
	const struct fmsg *msgs;
	size_t n;
	bool asked_id;       /* a listing FETCH asked for EMAILID / X-GM-MSGID */
};

static const char *caps(const struct fake *f)
{
	return f->cap == CAP_OBJECTID ? "IMAP4rev1 UIDPLUS OBJECTID" :
	    f->cap == CAP_GMEXT ? "IMAP4rev1 UIDPLUS X-GM-EXT-1" : "IMAP4rev1 UIDPLUS";
}

static bool in_set(const char *set, uint32_t uid)
{
	char buf[512];
	snprintf(buf, sizeof(buf), "%s", set);
	for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
		char *colon = strchr(tok, ':');
		unsigned long lo = strtoul(tok, NULL, 10), hi = lo;
		if (colon)
			hi = colon[1] == '*' ? 0xffffffffUL : strtoul(colon + 1, NULL, 10);
		if (lo > hi) {
			unsigned long t = lo;
			lo = hi;
			hi = t;
		}
		if (uid >= lo && uid <= hi)
			return true;
	}
	return false;
}

static void header_text(const struct fmsg *m, char *buf, size_t cap)
{
	snprintf(buf, cap, "Message-ID: <%s@fake>\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
	    "From: a@example.org\r\nTo: b@example.org\r\nSubject: %s\r\n\r\n", m->subject,
	    m->subject);
}

static void fetch(struct pbt_fake *pf, const char *args)
{
	struct fake *f = pf->data;
	char set[512], hdr[512], section[256] = "";
	const char *sp = strchr(args, ' ');
	bool want_id = strstr(args, "EMAILID") || strstr(args, "X-GM-MSGID");
	const char *b = strstr(args, "BODY.PEEK[");

	snprintf(set, sizeof(set), "%.*s", (int)(sp ? sp - args : 0), args);
	if (b != NULL) {
		const char *e = strchr(b, ']');
		snprintf(section, sizeof(section), "BODY[%.*s]", (int)(e - b - 10), b + 10);
	}
	if (want_id)  /* a listing, with the header fields (a first sync) or without */
		f->asked_id = true;
	for (size_t i = 0; i < f->n; i++) {
		const struct fmsg *m = &f->msgs[i];
		char idpart[128] = "";
		if (!in_set(set, m->uid))
			continue;
		if (strstr(args, "EMAILID") && f->cap == CAP_OBJECTID)
			snprintf(idpart, sizeof(idpart), " EMAILID (%s)", m->id);
		if (strstr(args, "X-GM-MSGID") && f->cap == CAP_GMEXT)
			snprintf(idpart, sizeof(idpart), " X-GM-MSGID %s", m->id);
		header_text(m, hdr, sizeof(hdr));
		if (b != NULL)
			pbt_fake_printf(pf, "* %zu FETCH (UID %u RFC822.SIZE %zu FLAGS ()%s "
			    "%s {%zu}\r\n%s)\r\n", i + 1, m->uid, 500 + strlen(m->subject), idpart,
			    section, strlen(hdr), hdr);
		else
			pbt_fake_printf(pf, "* %zu FETCH (UID %u RFC822.SIZE %zu FLAGS ()%s)\r\n",
			    i + 1, m->uid, 500 + strlen(m->subject), idpart);
	}
	pbt_fake_send(pf, "$T OK FETCH done\r\n");
}

static bool greet(struct pbt_fake *pf, const char *arg)
{
	(void)arg;
	pbt_fake_printf(pf, "* OK [CAPABILITY %s] fake ready\r\n", caps(pf->data));
	return true;
}

/* One command (after its tag in pf->cmd); false after LOGOUT. */
static bool answer(struct pbt_fake *pf, const char *line)
{
	struct fake *f = pf->data;
	const char *cmd = pf->verb, *rest = pf->args;

	(void)line;
	if (strcasecmp(cmd, "CAPABILITY") == 0) {
		pbt_fake_printf(pf, "* CAPABILITY %s\r\n%s OK done\r\n", caps(f), pf->tag);
	} else if (strcasecmp(cmd, "LOGIN") == 0) {
		pbt_fake_printf(pf, "%s OK [CAPABILITY %s] logged in\r\n", pf->tag, caps(f));
	} else if (strcasecmp(cmd, "SELECT") == 0 || strcasecmp(cmd, "EXAMINE") == 0) {
		uint32_t next = f->n ? f->msgs[f->n - 1].uid + 1 : 1;
		for (size_t i = 0; i < f->n; i++)
			if (f->msgs[i].uid >= next)
				next = f->msgs[i].uid + 1;
		pbt_fake_printf(pf, "* FLAGS (\\Seen \\Deleted)\r\n* %zu EXISTS\r\n"
		    "* OK [UIDVALIDITY %u] ok\r\n* OK [UIDNEXT %u] ok\r\n"
		    "%s OK [READ-WRITE] selected\r\n", f->n, f->uidvalidity, next, pf->tag);
	} else if (strcasecmp(cmd, "UID") == 0 && strncasecmp(rest, "FETCH ", 6) == 0) {
		fetch(pf, rest + 6);
	} else if (strcasecmp(cmd, "LOGOUT") == 0) {
		pbt_fake_send(pf, "* BYE bye\r\n$T OK done\r\n");
		return false;
	} else {
		pbt_fake_send(pf, "$T OK fine\r\n");
	}
	return true;
}

static const struct pbt_step script[] = { PBT_CALL(greet, NULL), PBT_SERVE(answer), PBT_END };

static struct pbt_fake *fake_start(struct fake *f)
{
	struct pbt_fake *pf;

	signal(SIGPIPE, SIG_IGN);
	pf = pbt_fake_start(script, 0);
	ck_assert_ptr_nonnull(pf);
	pf->data = f;
	return pf;
}

static char dir[256];

/* One session: log in, sync INBOX into the state file. */
static bool session(struct state_db *db, int64_t account_id, enum idcap cap,
    uint32_t uidvalidity, const struct fmsg *m, size_t n)
{
	struct fake f = { .cap = cap, .uidvalidity = uidvalidity, .msgs = m, .n = n };
	struct pbt_fake *pf = fake_start(&f);
	struct config_options o;
	struct maildrop_upstream up;
	struct state_mailbox mb;
	char url[64], err[PB_ERR_MAX], detail[200];

	config_options_init(&o);
	snprintf(url, sizeof(url), "imap://127.0.0.1:%d", pf->port);
	ck_assert_int_eq(config_options_set(&o, PB_K_UPSTREAM, url, err, sizeof(err)), 0);
	ck_assert_int_eq(config_options_set(&o, PB_K_UPSTREAM_TLS, "none", err, sizeof(err)), 0);
	ck_assert_int_eq(config_options_set(&o, PB_K_UPSTREAM_TIMEOUT, "10", err, sizeof(err)), 0);
	ck_assert_msg(config_options_finish(&o, true, NULL, err, sizeof(err)) == 0, "%s", err);
	memset(&up, 0, sizeof(up));
	ck_assert_msg(maildrop_upstream_login(&up, &o, "u", "pw", detail, sizeof(detail)) ==
	    POP3_MD_OK, "login: %s", detail);
	ck_assert_msg(maildrop_sync_folder(&up, db, account_id, "INBOX", "$POP3Deleted", 1000,
	    &mb, detail, sizeof(detail)) == POP3_MD_OK, "sync: %s", detail);
	ck_assert_uint_eq(mb.uidvalidity, uidvalidity);
	maildrop_upstream_free(&up);
	PBT_FAKE_FINISH(pf);
	bool asked = f.asked_id;
	config_options_free(&o);
	return asked;
}

static const struct fmsg FIRST[] = {
	{ 1, "M0a", "alpha" }, { 2, "M0b", "beta" }, { 3, "M0c", "gamma" },
};
static const struct fmsg FIRST_GM[] = {
	{ 1, "1001", "alpha" }, { 2, "1002", "beta" }, { 3, "1003", "gamma" },
};
/* renumbered, reordered, every header changed, one new message */
static const struct fmsg SECOND[] = {
	{ 11, "M0c", "gamma-2" }, { 12, "M0a", "alpha-2" }, { 13, "M0b", "beta-2" },
	{ 14, "M0d", "delta" },
};
static const struct fmsg SECOND_GM[] = {
	{ 11, "1003", "gamma-2" }, { 12, "1001", "alpha-2" }, { 13, "1002", "beta-2" },
	{ 14, "1004", "delta" },
};

static const char *uidl_of(struct state_db *db, int64_t mbox, uint32_t uid)
{
	static char buf[4][STATE_UIDL_MAX + 1];
	static int k;
	struct state_message m;
	ck_assert_int_eq(state_message_by_uid(db, mbox, uid, &m), STATE_OK);
	char *b = buf[k++ % 4];
	snprintf(b, STATE_UIDL_MAX + 1, "%s", m.uidl);
	return b;
}

static void run_case(enum idcap cap)
{
	char path[320], err[300];
	struct state_account a;
	struct state_mailbox mb;
	struct state_message m;
	const struct fmsg *first = cap == CAP_GMEXT ? FIRST_GM : FIRST;
	const struct fmsg *second = cap == CAP_GMEXT ? SECOND_GM : SECOND;

	ck_assert_int_eq(pbt_mkdtemp("emailid", dir, sizeof(dir)), 0);
	snprintf(path, sizeof(path), "%s/state.db", dir);
	struct state_db *db = state_open(path, err, sizeof(err));
	ck_assert_msg(db != NULL, "%s", err);
	ck_assert_int_eq(state_account_ensure(db, "u", 1000, &a), STATE_OK);

	bool asked = session(db, a.id, cap, 100, first, 3);
	ck_assert(asked == (cap != CAP_NONE));
	ck_assert_int_eq(state_mailbox_get(db, a.id, "INBOX", &mb), STATE_OK);
	ck_assert_int_eq(state_message_by_uid(db, mb.id, 1, &m), STATE_OK);
	if (cap == CAP_OBJECTID)
		ck_assert_str_eq(m.emailid, "M0a");
	if (cap == CAP_GMEXT)
		ck_assert_uint_eq(m.gm_msgid, 1001);
	if (cap == CAP_NONE) {
		ck_assert_str_eq(m.emailid, "");
		ck_assert_uint_eq(m.gm_msgid, 0);
	}
	char u1[3][STATE_UIDL_MAX + 1];
	for (uint32_t i = 0; i < 3; i++)
		snprintf(u1[i], sizeof(u1[i]), "%s", uidl_of(db, mb.id, i + 1));
	ck_assert_str_eq(u1[0], "00000001" "00000064");

	session(db, a.id, cap, 200, second, 4);
	ck_assert_int_eq(state_mailbox_get(db, a.id, "INBOX", &mb), STATE_OK);
	ck_assert_uint_eq(mb.uidvalidity, 200);
	if (cap == CAP_NONE) {
		/* nothing recognises them: new messages, new UIDLs */
		ck_assert_str_eq(uidl_of(db, mb.id, 12), "0000000C" "000000C8");
		ck_assert_str_eq(uidl_of(db, mb.id, 11), "0000000B" "000000C8");
	} else {
		ck_assert_str_eq(uidl_of(db, mb.id, 12), u1[0]);  /* alpha */
		ck_assert_str_eq(uidl_of(db, mb.id, 13), u1[1]);  /* beta */
		ck_assert_str_eq(uidl_of(db, mb.id, 11), u1[2]);  /* gamma */
	}
	ck_assert_str_eq(uidl_of(db, mb.id, 14), "0000000E" "000000C8");
	state_close(db);
	pbt_rmtree(dir);
}

START_TEST(objectid_keeps_uidls)
{
	run_case(CAP_OBJECTID);
}
END_TEST

START_TEST(gm_msgid_keeps_uidls)
{
	run_case(CAP_GMEXT);
}
END_TEST

START_TEST(without_ids_headers_decide)
{
	run_case(CAP_NONE);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("import-emailid");
	TCase *t = tcase_create("renumber");
	tcase_add_test(t, objectid_keeps_uidls);
	tcase_add_test(t, gm_msgid_keeps_uidls);
	tcase_add_test(t, without_ids_headers_decide);
	tcase_set_timeout(t, 60);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *r = srunner_create(suite());
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
