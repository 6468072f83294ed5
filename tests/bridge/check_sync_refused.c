/* tests/bridge/check_sync_refused.c — a server that announces CONDSTORE but
 * answers BAD to CHANGEDSINCE, or to SELECT ... (CONDSTORE) (the scripted
 * server of tests/lib/fakeserver.h: Dovecot does not misbehave so). The
 * incremental sync is refused: the bridge lists the whole folder instead,
 * the login succeeds, and state gets the flag change the listing shows; a
 * refused SELECT parameter gives a plain SELECT. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/config/options.h"
#include "bridge/maildrop/sync.h"
#include "bridge/maildrop/upstream.h"
#include "imap/uidset.h"
#include "state/state.h"
#include "tests/lib/cert.h"
#include "tests/lib/fakeserver.h"

#define CAPS "IMAP4rev1 UIDPLUS CONDSTORE ESEARCH"
#define SIZE 100

/* The scripted server's state (tests/lib/fakeserver.h: pbt_fake.data). */
struct fake {
	uint64_t modseq;       /* HIGHESTMODSEQ this session's SELECT reports */
	bool seen2;            /* UID 2 carries \Seen */
	bool select_bad;       /* BAD to SELECT ... (CONDSTORE) */
	int changedsince;      /* CHANGEDSINCE fetches received (all refused) */
	bool dup2;             /* the listing with header fields names UID 2 twice */
};

/* UIDs 1 and 2 of the set the command names ("UID FETCH set (...)"). */
static void fetch(struct pbt_fake *pf, const char *args)
{
	struct fake *f = pf->data;
	struct imap_uidset set;
	const char *sp = strchr(args, ' ');

	imap_uidset_init(&set);
	ck_assert_ptr_nonnull(sp);
	ck_assert_int_eq(imap_uidset_parse(&set, args, (size_t)(sp - args)), 0);
	for (uint32_t uid = 1; uid <= 2; uid++) {
		if (!imap_uidset_contains(&set, uid))
			continue;
		if (strstr(args, "BODY.PEEK[]<")) {      /* the last octets */
			pbt_fake_printf(pf, "* %u FETCH (UID %u BODY[]<%d> {2}\r\n\r\n)\r\n", uid, uid,
			    SIZE - 2);
		} else if (strstr(args, "HEADER.FIELDS")) {
			char hdr[64];
			snprintf(hdr, sizeof(hdr), "Message-ID: <%u@fake>\r\n\r\n", uid);
			for (int k = 0; k < (uid == 2 && f->dup2 ? 2 : 1); k++)
				pbt_fake_printf(pf, "* %u FETCH (UID %u RFC822.SIZE %d FLAGS () "
				    "BODY[HEADER.FIELDS (MESSAGE-ID)] {%zu}\r\n%s)\r\n", uid, uid, SIZE,
				    strlen(hdr), hdr);
		} else {
			pbt_fake_printf(pf, "* %u FETCH (UID %u RFC822.SIZE %d FLAGS (%s))\r\n", uid, uid,
			    SIZE, uid == 2 && f->seen2 ? "\\Seen" : "");
		}
	}
	imap_uidset_free(&set);
	pbt_fake_send(pf, "$T OK fetched\r\n");
}

/* One command (after its tag in pf->cmd); false after LOGOUT. */
static bool answer(struct pbt_fake *pf, const char *line)
{
	struct fake *f = pf->data;
	const char *cmd = pf->verb, *rest = pf->args;

	(void)line;
	if (strcmp(cmd, "LOGIN") == 0) {
		pbt_fake_send(pf, "$T OK [CAPABILITY " CAPS "] in\r\n");
	} else if (strcmp(cmd, "SELECT") == 0 && f->select_bad && strstr(rest, "CONDSTORE")) {
		pbt_fake_send(pf, "$T BAD no parameters here\r\n");
	} else if (strcmp(cmd, "SELECT") == 0 && f->select_bad) {
		pbt_fake_send(pf, "* 2 EXISTS\r\n* OK [UIDVALIDITY 7] v\r\n"
		    "* OK [UIDNEXT 3] n\r\n$T OK [READ-WRITE] selected\r\n");
	} else if (strcmp(cmd, "SELECT") == 0) {
		pbt_fake_printf(pf, "* 2 EXISTS\r\n* OK [UIDVALIDITY 7] v\r\n"
		    "* OK [UIDNEXT 3] n\r\n* OK [HIGHESTMODSEQ %llu] h\r\n"
		    "%s OK [READ-WRITE] selected\r\n", (unsigned long long)f->modseq, pf->tag);
	} else if (strcmp(cmd, "UID") == 0 && strncmp(rest, "FETCH ", 6) == 0 &&
	    strstr(rest, "CHANGEDSINCE")) {
		f->changedsince++;
		pbt_fake_send(pf, "$T BAD no CHANGEDSINCE here\r\n");
	} else if (strcmp(cmd, "UID") == 0 && strncmp(rest, "FETCH ", 6) == 0) {
		fetch(pf, rest + 6);
	} else if (strcmp(cmd, "LOGOUT") == 0) {
		pbt_fake_send(pf, "* BYE bye\r\n$T OK done\r\n");
		return false;
	} else {
		pbt_fake_send(pf, "$T OK fine\r\n");
	}
	return true;
}

static const struct pbt_step script[] = {
	PBT_SEND("* OK [CAPABILITY " CAPS "] fake ready\r\n"), PBT_SERVE(answer), PBT_END,
};

/* One session against a fresh fake: log in, sync INBOX; the fake's count
 * of CHANGEDSINCE fetches. */
static int session_dup(struct state_db *db, int64_t account_id, uint64_t modseq, bool seen2,
    bool dup2, struct state_mailbox *mb)
{
	struct fake f = { .modseq = modseq, .seen2 = seen2, .select_bad = modseq == 0,
	    .dup2 = dup2 };
	struct pbt_fake *pf = pbt_fake_start(script, 0);
	struct config_options o;
	struct maildrop_upstream up;
	char url[64], err[PB_ERR_MAX], detail[300];

	ck_assert_ptr_nonnull(pf);
	pf->data = &f;
	config_options_init(&o);
	snprintf(url, sizeof(url), "imap://127.0.0.1:%d", pf->port);
	ck_assert_int_eq(config_options_set(&o, PB_K_UPSTREAM, url, err, sizeof(err)), 0);
	ck_assert_int_eq(config_options_set(&o, PB_K_UPSTREAM_TLS, "none", err, sizeof(err)), 0);
	ck_assert_int_eq(config_options_set(&o, PB_K_UPSTREAM_TIMEOUT, "10", err, sizeof(err)), 0);
	ck_assert_msg(config_options_finish(&o, true, NULL, err, sizeof(err)) == 0, "%s", err);
	memset(&up, 0, sizeof(up));
	ck_assert_msg(maildrop_upstream_login(&up, &o, "u", "pw", detail, sizeof(detail)) ==
	    POP3_MD_OK, "login: %s", detail);
	ck_assert_msg(maildrop_sync_folder(&up, db, account_id, "INBOX", o.dele_keyword, 1000, mb,
	    detail, sizeof(detail)) == POP3_MD_OK, "sync: %s", detail);
	maildrop_upstream_free(&up);
	PBT_FAKE_FINISH(pf);
	config_options_free(&o);
	return f.changedsince;
}

static int session(struct state_db *db, int64_t account_id, uint64_t modseq, bool seen2,
    struct state_mailbox *mb)
{
	return session_dup(db, account_id, modseq, seen2, false, mb);
}

START_TEST(t_changedsince_refused)
{
	char dir[256], path[320], err[256];
	struct state_account acc;
	struct state_mailbox mb;
	struct state_message m;

	signal(SIGPIPE, SIG_IGN);
	ck_assert_int_eq(pbt_mkdtemp("pb-sync-refused", dir, sizeof(dir)), 0);
	snprintf(path, sizeof(path), "%s/state.db", dir);
	struct state_db *db = state_open(path, err, sizeof(err));
	ck_assert_msg(db != NULL, "%s", err);
	ck_assert_int_eq(state_account_ensure(db, "u", 1000, &acc), STATE_OK);

	/* First session: the complete listing; HIGHESTMODSEQ 50 stored. */
	ck_assert_int_eq(session(db, acc.id, 50, false, &mb), 0);
	ck_assert_uint_eq(mb.highestmodseq, 50);
	ck_assert_int_eq(state_message_by_uid(db, mb.id, 2, &m), STATE_OK);
	ck_assert_uint_eq(m.flags & STATE_MF_SEEN, 0);
	ck_assert(m.size_exact && m.exact_size == SIZE);

	/* Second: HIGHESTMODSEQ moved, CHANGEDSINCE refused, listing instead. */
	ck_assert_int_eq(session(db, acc.id, 60, true, &mb), 1);
	ck_assert_uint_eq(mb.highestmodseq, 60);
	ck_assert_int_eq(state_message_by_uid(db, mb.id, 2, &m), STATE_OK);
	ck_assert(m.flags & STATE_MF_SEEN);
	ck_assert_int_eq(state_message_by_uid(db, mb.id, 1, &m), STATE_OK);

	/* Third: SELECT ... (CONDSTORE) refused: a plain SELECT, no
	 * mod-sequence, the complete listing (UID 2 no longer \Seen). */
	ck_assert_int_eq(session(db, acc.id, 0, false, &mb), 0);
	ck_assert_uint_eq(mb.highestmodseq, 0);
	ck_assert_int_eq(state_message_by_uid(db, mb.id, 2, &m), STATE_OK);
	ck_assert_uint_eq(m.flags & STATE_MF_SEEN, 0);
	state_close(db);
	pbt_rmtree(dir);
}
END_TEST

/* A broken server lists UID 2 twice in the first sync's listing with
 * header fields: the second entry is dropped with everything it holds
 * (its match key and Message-ID too: a leak ASan's build finds), and
 * both messages are recorded once. */
START_TEST(t_uid_listed_twice)
{
	char dir[256], path[320], err[256];
	struct state_account acc;
	struct state_mailbox mb;
	struct state_message m;
	uint32_t *uids = NULL;
	size_t n = 1;

	signal(SIGPIPE, SIG_IGN);
	ck_assert_int_eq(pbt_mkdtemp("pb-sync-dup", dir, sizeof(dir)), 0);
	snprintf(path, sizeof(path), "%s/state.db", dir);
	struct state_db *db = state_open(path, err, sizeof(err));
	ck_assert_msg(db != NULL, "%s", err);
	ck_assert_int_eq(state_account_ensure(db, "u", 1000, &acc), STATE_OK);
	ck_assert_int_eq(session_dup(db, acc.id, 50, false, true, &mb), 0);
	ck_assert_int_eq(state_message_by_uid(db, mb.id, 1, &m), STATE_OK);
	ck_assert_int_eq(state_message_by_uid(db, mb.id, 2, &m), STATE_OK);
	ck_assert(m.size_exact && m.exact_size == SIZE);
	/* both got their match keys from the listing */
	ck_assert_int_eq(state_messages_keyless(db, mb.id, &uids, &n), STATE_OK);
	ck_assert_uint_eq(n, 0);
	free(uids);
	state_close(db);
	pbt_rmtree(dir);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("bridge-sync-refused");
	TCase *tc = tcase_create("refused");
	tcase_add_test(tc, t_changedsince_refused);
	tcase_add_test(tc, t_uid_listed_twice);
	suite_add_tcase(su, tc);
	SRunner *sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
