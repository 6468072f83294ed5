/* tests/bridge/check_quirks.c — upstreams that are not Dovecot, as scripted
 * servers (tests/lib/fakeserver.h) reproducing what each is known to do,
 * driving maildrop_ops as the POP3 engine does (issue 16):
 *
 *  - Cyrus and Courier as Debian ships them (/work/notes/SERVERS-IN-TESTS.md,
 *    found by running them): personal folders under "INBOX." with "." as
 *    separator, no SPECIAL-USE, a bare "Trash" cannot be created (Cyrus: NO
 *    Permission denied, no [TRYCREATE]); Courier answers a FETCH of a message
 *    another session expunged with a short "message unavailable" stand-in and
 *    reports the expunge at the next NOOP.
 *  - Gmail (https://developers.google.com/gmail/imap/imap-extensions and
 *    https://support.google.com/mail/answer/78892): X-GM-EXT-1 and
 *    X-GM-MSGID; SPECIAL-USE "[Gmail]/All Mail" \All, "[Gmail]/Trash" \Trash,
 *    no \Archive; folders are labels, so a message expunged from INBOX only
 *    loses the label and stays in All Mail (the default of "When a message
 *    is marked as deleted and expunged from the last visible IMAP folder:
 *    Archive the message"); NAMESPACE (("" "/")); UIDVALIDITY does not change.
 *  - Microsoft 365 / Exchange Online: its published CAPABILITY list (no
 *    CONDSTORE, no QRESYNC, no SPECIAL-USE); RFC822.SIZE that is not the
 *    octets a FETCH sends (Exchange computes it from the stored item, not the
 *    MIME it sends); throttling as a tagged "NO Request is throttled.
 *    Suggested Backoff Time: N milliseconds" (what Exchange Online answers
 *    IMAP clients over its budget); "* BYE" greeting when overloaded.
 *
 * The fake keeps a small mail store: messages with a label mask (Gmail:
 * several labels; the others: exactly one folder), answered per command. */
#include "tests/bridge/check_maildrop.h"
#include "tests/lib/cert.h"
#include "tests/lib/fakeserver.h"

#include <fcntl.h>
#include <signal.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define NMSG 4
#define NFOLD 6

/* label bits: INBOX; F_ALL: Gmail's All Mail holds it (unless in Trash);
 * other folders 1 << (4 + index) */
enum { F_INBOX = 1, F_ALL = 4 };

struct fmsg {
	uint32_t uid;
	char body[256];
	size_t len;
	uint64_t listed;        /* RFC822.SIZE it announces */
	unsigned labels;        /* F_* and 1u << (4 + folder index) */
	bool seen, deleted;
	char kw[32];
	bool standin;           /* another session expunged it (Courier) */
};

struct ffold {
	char name[48];
	const char *attrs;
	unsigned bit;
};

enum kind { CYRUS, COURIER, GMAIL, M365 };

struct srv {
	enum kind kind;
	const char *caps;
	bool refuse_move;       /* every MOVE: NO Permission denied */
	int throttle_select;    /* SELECTs answered "throttled" (-1: all) */
	unsigned throttle_ms;
	bool bye_greeting;
	struct fmsg m[NMSG];
	int nm;
	struct ffold f[NFOLD];
	int nf;
	unsigned sel;           /* the selected folder's bit, 0: none */
	int bodies, noops, selects;
	int bodies_of[NMSG];    /* whole bodies sent, per message (read-ahead
	                           fetches others too) */
};

static const char *const CAPS[] = {
	[CYRUS] = "IMAP4rev1 LITERAL+ ID ENABLE NAMESPACE UIDPLUS MOVE",
	[COURIER] = "IMAP4rev1 UIDPLUS CHILDREN NAMESPACE THREAD=ORDEREDSUBJECT SORT QUOTA IDLE"
	    " MOVE",
	/* Gmail's list, less CONDSTORE and COMPRESS (the Dovecot runs cover CONDSTORE) */
	[GMAIL] = "IMAP4rev1 UNSELECT IDLE NAMESPACE QUOTA ID XLIST CHILDREN X-GM-EXT-1 UIDPLUS"
	    " ENABLE MOVE ESEARCH LIST-EXTENDED LIST-STATUS SPECIAL-USE",
	[M365] = "IMAP4 IMAP4rev1 SASL-IR UIDPLUS MOVE ID UNSELECT CHILDREN IDLE NAMESPACE"
	    " LITERAL+",
};

static void add_folder(struct srv *s, const char *name, const char *attrs)
{
	struct ffold *f = &s->f[s->nf];
	snprintf(f->name, sizeof(f->name), "%s", name);
	f->attrs = attrs;
	f->bit = strcmp(name, "INBOX") == 0 ? F_INBOX : 1u << (4 + s->nf);
	s->nf++;
}

static void srv_init(struct srv *s, enum kind k, int nmsg)
{
	memset(s, 0, sizeof(*s));
	s->kind = k;
	s->caps = CAPS[k];
	add_folder(s, "INBOX", "\\HasNoChildren");
	if (k == GMAIL) {
		add_folder(s, "[Gmail]/All Mail", "\\All \\HasNoChildren");
		add_folder(s, "[Gmail]/Trash", "\\Trash \\HasNoChildren");
		add_folder(s, "[Gmail]/Sent Mail", "\\Sent \\HasNoChildren");
	}
	for (int i = 0; i < nmsg; i++) {
		struct fmsg *m = &s->m[s->nm++];
		m->uid = (uint32_t)(i + 1);
		m->len = (size_t)snprintf(m->body, sizeof(m->body),
		    "Message-ID: <%d@quirks>\r\nSubject: message %d\r\n\r\nbody of message %d\r\n",
		    i + 1, i + 1, i + 1);
		/* Exchange: RFC822.SIZE is not what FETCH sends */
		m->listed = k == M365 ? m->len + 37 : m->len;
		m->labels = F_INBOX | (k == GMAIL ? F_ALL : 0);
	}
}

static struct ffold *folder(struct srv *s, const char *name)
{
	for (int i = 0; i < s->nf; i++)
		if (strcmp(s->f[i].name, name) == 0)
			return &s->f[i];
	return NULL;
}

/* Is m in the folder with this bit? Gmail's All Mail: anything not in
 * Trash. */
static bool in(const struct srv *s, const struct fmsg *m, unsigned bit)
{
	if (s->kind == GMAIL && bit == s->f[1].bit)
		return (m->labels & F_ALL) && !(m->labels & s->f[2].bit);
	return (m->labels & bit) != 0;
}

static int count_in(const struct srv *s, const char *name)
{
	int n = 0;
	for (int i = 0; i < NFOLD && i < s->nf; i++)
		if (strcmp(s->f[i].name, name) == 0)
			for (int k = 0; k < s->nm; k++)
				n += in(s, &s->m[k], s->f[i].bit);
	return n;
}

/* The messages of the selected folder in order: their sequence numbers. */
static int msn_of(const struct srv *s, const struct fmsg *m)
{
	int n = 0;
	for (int k = 0; k < s->nm; k++) {
		if (in(s, &s->m[k], s->sel))
			n++;
		if (&s->m[k] == m)
			return n;
	}
	return 0;
}

static bool in_set(const char *set, uint32_t uid)
{
	struct imap_uidset u;
	size_t len = strcspn(set, " ");
	imap_uidset_init(&u);
	bool yes = imap_uidset_parse(&u, set, len) == 0 && imap_uidset_contains(&u, uid);
	imap_uidset_free(&u);
	return yes;
}

/* Remove m from the selected folder (EXPUNGE or MOVE), telling the client. */
static void leave(struct pbt_fake *pf, struct srv *s, struct fmsg *m, unsigned to)
{
	pbt_fake_printf(pf, "* %d EXPUNGE\r\n", msn_of(s, m));
	if (s->kind == GMAIL)
		m->labels = (m->labels & ~s->sel) | to;  /* labels: the others stay */
	else
		m->labels = to;                           /* 0: gone for good */
}

static void fetch(struct pbt_fake *pf, struct srv *s, const char *args)
{
	for (int k = 0; k < s->nm; k++) {
		struct fmsg *m = &s->m[k];
		if (!in(s, m, s->sel) || !in_set(args, m->uid))
			continue;
		int n = msn_of(s, m);
		const char *part = strstr(args, "BODY.PEEK[]<");
		if (part != NULL) {                       /* the last octets */
			unsigned long off = strtoul(part + 12, NULL, 10);
			unsigned long want = strtoul(strchr(part, '.') + 1, NULL, 10);
			size_t o = off < m->len ? off : m->len;
			size_t l = m->len - o < want ? m->len - o : want;
			pbt_fake_printf(pf, "* %d FETCH (UID %u BODY[]<%lu> {%zu}\r\n", n, m->uid, off, l);
			pbt_fake_write(pf, m->body + o, l);
			pbt_fake_send(pf, ")\r\n");
		} else if (strstr(args, "BODY.PEEK[]")) {
			s->bodies++;
			s->bodies_of[m - s->m]++;
			const char *b = m->standin ? "Message unavailable.\r\n" : m->body;
			size_t l = strlen(b);
			pbt_fake_printf(pf, "* %d FETCH (UID %u BODY[] {%zu}\r\n", n, m->uid, l);
			pbt_fake_write(pf, b, l);
			pbt_fake_send(pf, ")\r\n");
		} else if (strstr(args, "HEADER.FIELDS")) {
			size_t hl = (size_t)(strstr(m->body, "\r\n\r\n") - m->body) + 4;
			pbt_fake_printf(pf, "* %d FETCH (UID %u RFC822.SIZE %llu FLAGS () "
			    "BODY[HEADER.FIELDS (MESSAGE-ID)] {%zu}\r\n", n, m->uid,
			    (unsigned long long)m->listed, hl);
			pbt_fake_write(pf, m->body, hl);
			pbt_fake_send(pf, ")\r\n");
		} else {
			char gm[48] = "", fl[80];
			if (strstr(args, "X-GM-MSGID"))
				snprintf(gm, sizeof(gm), " X-GM-MSGID 17%08u", m->uid);
			snprintf(fl, sizeof(fl), "%s%s%s", m->seen ? " \\Seen" : "",
			    m->deleted ? " \\Deleted" : "", m->kw[0] ? " $POP3Deleted" : "");
			pbt_fake_printf(pf, "* %d FETCH (UID %u RFC822.SIZE %llu FLAGS (%s)%s)\r\n",
			    n, m->uid, (unsigned long long)m->listed, fl[0] ? fl + 1 : "", gm);
		}
	}
	pbt_fake_send(pf, "$T OK FETCH completed.\r\n");
}

static void list(struct pbt_fake *pf, struct srv *s, const char *args)
{
	/* LIST "" "*" [RETURN (SPECIAL-USE)], or LIST "" "name" */
	const char *pat = strchr(args + 3, '"');
	char want[64] = "";
	if (pat != NULL)
		sscanf(pat + 1, "%63[^\"]", want);
	for (int i = 0; i < s->nf; i++) {
		if (strcmp(want, "*") != 0 && strcmp(want, s->f[i].name) != 0)
			continue;
		const char *attrs = s->f[i].attrs;
		if (!strstr(s->caps, "SPECIAL-USE"))
			attrs = "\\HasNoChildren";
		pbt_fake_printf(pf, "* LIST (%s) \"%s\" \"%s\"\r\n", attrs,
		    s->kind == GMAIL ? "/" : ".", s->f[i].name);
	}
	pbt_fake_send(pf, "$T OK LIST completed.\r\n");
}

static bool answer(struct pbt_fake *pf, const char *line)
{
	struct srv *s = pf->data;
	const char *v = pf->verb, *a = pf->args;
	char name[64];

	(void)line;
	if (strcmp(v, "CAPABILITY") == 0) {
		pbt_fake_printf(pf, "* CAPABILITY %s\r\n", s->caps);
		pbt_fake_send(pf, "$T OK done\r\n");
	} else if (strcmp(v, "LOGIN") == 0 || strcmp(v, "AUTHENTICATE") == 0) {
		pbt_fake_printf(pf, "%s OK [CAPABILITY %s] Logged in.\r\n", pf->tag, s->caps);
	} else if (strcmp(v, "NAMESPACE") == 0) {
		pbt_fake_send(pf, s->kind == GMAIL ? "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n" :
		    s->kind == M365 ? "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n" :
		    "* NAMESPACE ((\"INBOX.\" \".\")) NIL ((\"#shared.\" \".\"))\r\n");
		pbt_fake_send(pf, "$T OK NAMESPACE completed.\r\n");
	} else if (strcmp(v, "SELECT") == 0 || strcmp(v, "EXAMINE") == 0) {
		sscanf(a, "%63s", name);
		struct ffold *f = folder(s, name);
		if (s->throttle_select != 0) {
			if (s->throttle_select > 0)
				s->throttle_select--;
			pbt_fake_printf(pf, "%s NO Request is throttled. Suggested Backoff Time: %u"
			    " milliseconds\r\n", pf->tag, s->throttle_ms);
			return true;
		}
		s->selects++;
		if (f == NULL) {
			s->sel = 0;
			pbt_fake_send(pf, "$T NO [NONEXISTENT] Mailbox does not exist\r\n");
			return true;
		}
		s->sel = f->bit;
		uint32_t next = 1;
		int n = 0;
		for (int k = 0; k < s->nm; k++) {
			n += in(s, &s->m[k], f->bit);
			if (s->m[k].uid >= next)
				next = s->m[k].uid + 1;
		}
		pbt_fake_printf(pf, "* FLAGS (\\Seen \\Deleted)\r\n* %d EXISTS\r\n"
		    "* OK [UIDVALIDITY 600] v\r\n* OK [UIDNEXT %u] n\r\n"
		    "* OK [PERMANENTFLAGS (\\Seen \\Deleted \\*)] f\r\n%s OK [READ-WRITE] done\r\n",
		    n, next, pf->tag);
	} else if (strcmp(v, "LIST") == 0) {
		list(pf, s, a);
	} else if (strcmp(v, "CREATE") == 0) {
		sscanf(a, "\"%63[^\"]\"", name);
		if (strchr(a, '"') == NULL)
			sscanf(a, "%63s", name);
		if ((s->kind == CYRUS || s->kind == COURIER) && strncmp(name, "INBOX.", 6) != 0) {
			pbt_fake_send(pf, "$T NO Permission denied\r\n");
		} else if (folder(s, name)) {
			pbt_fake_send(pf, "$T NO [ALREADYEXISTS] exists\r\n");
		} else {
			add_folder(s, name, "\\HasNoChildren");
			pbt_fake_send(pf, "$T OK Completed\r\n");
		}
	} else if (strcmp(v, "NOOP") == 0) {
		s->noops++;
		for (int k = 0; k < s->nm; k++)
			if (s->m[k].standin && in(s, &s->m[k], s->sel))
				leave(pf, s, &s->m[k], 0);
		pbt_fake_send(pf, "$T OK NOOP completed.\r\n");
	} else if (strcmp(v, "UID") == 0 && strncmp(a, "FETCH ", 6) == 0) {
		fetch(pf, s, a + 6);
	} else if (strcmp(v, "UID") == 0 && strncmp(a, "STORE ", 6) == 0) {
		for (int k = 0; k < s->nm; k++) {
			struct fmsg *m = &s->m[k];
			if (!in(s, m, s->sel) || !in_set(a + 6, m->uid))
				continue;
			m->seen |= strstr(a, "\\Seen") != NULL;
			m->deleted |= strstr(a, "\\Deleted") != NULL;
			if (strstr(a, "$POP3Deleted"))
				snprintf(m->kw, sizeof(m->kw), "$POP3Deleted");
		}
		pbt_fake_send(pf, "$T OK STORE completed.\r\n");
	} else if (strcmp(v, "UID") == 0 && strncmp(a, "EXPUNGE ", 8) == 0) {
		for (int k = 0; k < s->nm; k++)
			if (in(s, &s->m[k], s->sel) && s->m[k].deleted && in_set(a + 8, s->m[k].uid))
				leave(pf, s, &s->m[k], 0);
		pbt_fake_send(pf, "$T OK EXPUNGE completed.\r\n");
	} else if (strcmp(v, "UID") == 0 && strncmp(a, "MOVE ", 5) == 0) {
		const char *to = strchr(a + 5, ' ');
		name[0] = '\0';
		if (to != NULL && sscanf(to + 1, "\"%63[^\"]\"", name) != 1)
			sscanf(to + 1, "%63s", name);
		struct ffold *f = folder(s, name);
		if (s->refuse_move) {
			pbt_fake_send(pf, "$T NO Permission denied\r\n");
		} else if (f == NULL) {
			pbt_fake_send(pf, "$T NO [TRYCREATE] Mailbox does not exist\r\n");
		} else {
			for (int k = 0; k < s->nm; k++)
				if (in(s, &s->m[k], s->sel) && in_set(a + 5, s->m[k].uid))
					leave(pf, s, &s->m[k], f->bit);
			pbt_fake_send(pf, "$T OK MOVE completed.\r\n");
		}
	} else if (strcmp(v, "LOGOUT") == 0) {
		pbt_fake_send(pf, "* BYE Logging out\r\n$T OK LOGOUT completed.\r\n");
		return false;
	} else {
		pbt_fake_send(pf, "$T OK done\r\n");
	}
	return true;
}

static bool greet(struct pbt_fake *pf, const char *arg)
{
	struct srv *s = pf->data;
	(void)arg;
	if (s->bye_greeting)
		return pbt_fake_send(pf, "* BYE Server overloaded, try again later.\r\n") == 0 && false;
	return pbt_fake_printf(pf, "* OK [CAPABILITY %s] ready\r\n", s->caps) == 0;
}

/* ---- the bridge side: a state file of its own, upstream = the fake ------ */

struct quirk {
	struct srv srv;
	struct pbt_step steps[3 * 8 + 1];
	struct pbt_fake *pf;
	struct mdt_env e;
	char dir[256];
};

/* Start the fake for `sessions` connections, and the bridge's options:
 * "key", "value" pairs (NULL ends). */
static void quirk_start(struct quirk *q, int sessions, ...)
{
	va_list ap;
	int n = 0;

	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < sessions; i++) {
		if (i > 0)
			q->steps[n++] = (struct pbt_step)PBT_ACCEPT;
		q->steps[n++] = (struct pbt_step)PBT_CALL(greet, NULL);
		q->steps[n++] = (struct pbt_step)PBT_SERVE(answer);
	}
	q->steps[n] = (struct pbt_step)PBT_END;
	q->pf = pbt_fake_start(q->steps, 0);
	ck_assert_ptr_nonnull(q->pf);
	q->pf->data = &q->srv;

	ck_assert_int_eq(pbt_mkdtemp("pb-quirks", q->dir, sizeof(q->dir)), 0);
	va_start(ap, sessions);
	mdt_env_setv(&q->e, "quirk", q->dir, q->pf->port, ap);
	va_end(ap);
}

static void quirk_finish(struct quirk *q)
{
	PBT_FAKE_FINISH(q->pf);
	mdt_env_free(&q->e);
	pbt_rmtree(q->dir);
}

/* QUIT with DELE of indexes del: the commit's answer text ("" = the
 * engine's "Logging out."). */
static void quit(struct mdt_sess *s, const size_t *del, size_t n, char *text, size_t len)
{
	struct pop3_md_reply r = { .text = "" };
	enum pop3_md_status st = maildrop_ops.commit(s->md, del, n, &r);
	ck_assert_msg(st == POP3_MD_OK, "commit: %d (%s; %s)", (int)st, r.text, s->conn.detail);
	snprintf(text, len, "%s", r.text);
	mdt_close(s);
}

/* The device's commit counts, as device list and report read them. */
struct counts {
	int64_t pending, stuck;
};

static int count_cb(void *arg, const struct state_device *d)
{
	struct counts *c = arg;
	c->pending += d->commits_pending;
	c->stuck += d->commits_stuck;
	return 0;
}

static struct counts commit_counts(struct quirk *q)
{
	char err[300];
	struct counts c = { 0, 0 };
	struct state_db *db = state_open(q->e.db, err, sizeof(err));
	ck_assert_msg(db != NULL, "%s", err);
	ck_assert_int_eq(state_device_list(db, 0, count_cb, &c), STATE_OK);
	state_close(db);
	return c;
}

/* ---- 1. the personal namespace --------------------------------------------- */

/* Cyrus/Courier: NAMESPACE (("INBOX." ".")), no SPECIAL-USE: dele trash
 * and archive move to INBOX.Trash / INBOX.Archive (created), and the QUIT
 * is a plain "Logging out." Before the fix: UID MOVE 1 Trash, NO, CREATE
 * Trash, NO Permission denied, the commit pending for ever. */
START_TEST(t_namespace_prefix)
{
	static const char *const pol[] = { "trash", "archive" };
	static const char *const want[] = { "INBOX.Trash", "INBOX.Archive" };
	struct quirk q;
	struct mdt_sess s;
	size_t del = 0;
	char text[160];

	srv_init(&q.srv, _i < 2 ? CYRUS : COURIER, 2);
	quirk_start(&q, 1, "dele", pol[_i % 2], NULL);
	mdt_open(&q.e, &s, NULL);
	ck_assert_uint_eq(mdt_count(&s), 2);
	quit(&s, &del, 1, text, sizeof(text));
	ck_assert_msg(text[0] == '\0', "QUIT said: %s", text);
	quirk_finish(&q);
	ck_assert_int_eq(count_in(&q.srv, "INBOX"), 1);
	ck_assert_int_eq(count_in(&q.srv, want[_i % 2]), 1);
	ck_assert_ptr_null(folder(&q.srv, pol[_i % 2][0] == 't' ? "Trash" : "Archive"));
}
END_TEST

/* An administrator's name that exists as given is kept, even outside the
 * prefix (a shared folder, say); one that does not exist gets the prefix. */
START_TEST(t_namespace_explicit_name)
{
	struct quirk q;
	struct mdt_sess s;
	size_t del = 0;
	char text[160];

	srv_init(&q.srv, CYRUS, 2);
	add_folder(&q.srv, "Shared.Bin", "\\HasNoChildren");
	quirk_start(&q, 2, "dele", "trash", "trash-folder", "Shared.Bin", NULL);
	mdt_open(&q.e, &s, NULL);
	quit(&s, &del, 1, text, sizeof(text));
	ck_assert_int_eq(count_in(&q.srv, "Shared.Bin"), 1);
	/* "INBOX.Old" given in full is used as is */
	config_options_set(&q.e.opt, PB_K_TRASH_FOLDER, "INBOX.Old", text, sizeof(text));
	mdt_open(&q.e, &s, NULL);
	ck_assert_uint_eq(mdt_count(&s), 1);
	quit(&s, &del, 1, text, sizeof(text));
	ck_assert_msg(text[0] == '\0', "QUIT said: %s", text);
	quirk_finish(&q);
	ck_assert_int_eq(count_in(&q.srv, "INBOX.Old"), 1);
	ck_assert_int_eq(count_in(&q.srv, "INBOX"), 0);
}
END_TEST

/* ---- 2. a commit step that keeps failing is visible ---------------------------- */

static int log_pipe[2];

static char *drain_log(void)
{
	static char buf[16384];
	ssize_t n = read(log_pipe[0], buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

/* Every MOVE refused (a server ACL): the QUIT's +OK says the deletions are
 * saved but not applied; the entry is retried at each session; from the
 * third failure an error line names account, device, step and the server's
 * answer, and device list / report count it pending and stuck. */
START_TEST(t_stuck_commit_visible)
{
	struct quirk q;
	struct mdt_sess s;
	size_t del = 0;
	char text[160];

	ck_assert_int_eq(pipe(log_pipe), 0);
	fcntl(log_pipe[0], F_SETFL, O_NONBLOCK);
	base_log_set_fd(log_pipe[1]);
	srv_init(&q.srv, CYRUS, 2);
	q.srv.refuse_move = true;
	quirk_start(&q, 3, "dele", "trash", NULL);
	mdt_open(&q.e, &s, "phone");
	quit(&s, &del, 1, text, sizeof(text));
	ck_assert_msg(strstr(text, "not applied them yet") != NULL, "QUIT said: %s", text);
	struct counts c = commit_counts(&q);
	ck_assert_int_eq(c.pending, 1);
	ck_assert_int_eq(c.stuck, 0);
	ck_assert_ptr_null(strstr(drain_log(), "level=error"));
	/* the next two sessions replay it, and fail again */
	mdt_expect_count(&q.e, "phone", 1);
	ck_assert_ptr_null(strstr(drain_log(), "level=error"));
	mdt_expect_count(&q.e, "phone", 1);
	const char *log = drain_log();
	const char *err = strstr(log, "level=error event=journal");
	ck_assert_msg(err != NULL, "no error line in:\n%s", log);
	ck_assert_ptr_nonnull(strstr(err, "account quirk device phone"));
	ck_assert_ptr_nonnull(strstr(err, "failed 3 times"));
	ck_assert_ptr_nonnull(strstr(err, "moving deleted messages"));
	ck_assert_ptr_nonnull(strstr(err, "Permission denied"));
	c = commit_counts(&q);
	ck_assert_int_eq(c.pending, 1);
	ck_assert_int_eq(c.stuck, 1);
	base_log_set_fd(-1);
	quirk_finish(&q);
	ck_assert_int_eq(count_in(&q.srv, "INBOX"), 2);
}
END_TEST

/* ---- 3. a literal whose size disagrees with the listing ----------------------------- */

struct got {
	uint64_t octets;
	int calls;
};

static int got_sink(void *arg, const char *buf, size_t len)
{
	struct got *g = arg;
	(void)buf;
	g->calls++;
	g->octets += len;
	return 0;
}

/* Courier: message 2 was expunged by another session after LIST; its FETCH
 * gives "Message unavailable." — RETR answers -ERR (gone) with not one
 * octet sent, and the session goes on. */
START_TEST(t_courier_standin)
{
	struct quirk q;
	struct mdt_sess s;
	struct got g = { 0, 0 };
	struct pop3_md_reply r = { .text = "" };

	srv_init(&q.srv, COURIER, 2);
	quirk_start(&q, 2, NULL);
	mdt_open(&q.e, &s, NULL);
	ck_assert_uint_eq(mdt_count(&s), 2);
	q.srv.m[1].standin = true;
	enum pop3_md_status st = maildrop_ops.fetch(s.md, 1, POP3_FETCH_WHOLE, 0, got_sink, &g, &r);
	ck_assert_int_eq(st, POP3_MD_GONE);
	ck_assert_int_eq(g.calls, 0);
	ck_assert_uint_eq(mdt_retr(&s, 0, NULL), q.srv.m[0].len);
	mdt_close(&s);
	mdt_expect_count(&q.e, NULL, 1);
	quirk_finish(&q);
}
END_TEST

/* ---- 4. Gmail ------------------------------------------------------------------------ */

/* Each dele policy on Gmail, as the README says: hide leaves it; trash
 * moves it to [Gmail]/Trash (\Trash); archive gives it the label
 * "Archive" (Gmail has no \Archive folder) and takes it out of INBOX;
 * flag sets $POP3Deleted; expunge and last-device take it out of INBOX
 * only: Gmail keeps it in All Mail (archived). */
START_TEST(t_gmail_policies)
{
	static const char *const pol[] = {
		"hide", "trash", "archive", "flag", "expunge", "last-device",
	};
	/* INBOX, All Mail, Trash, Archive after deleting message 1 of 2 */
	static const int want[][4] = {
		{ 2, 2, 0, 0 }, { 1, 1, 1, 0 }, { 1, 2, 0, 1 }, { 2, 2, 0, 0 }, { 1, 2, 0, 0 },
		{ 1, 2, 0, 0 },
	};
	struct quirk q;
	struct mdt_sess s;
	size_t del = 0;
	char text[160], uidl[2][72];

	srv_init(&q.srv, GMAIL, 2);
	quirk_start(&q, 2, "dele", pol[_i], NULL);
	mdt_open(&q.e, &s, NULL);
	ck_assert_uint_eq(mdt_count(&s), 2);
	snprintf(uidl[0], sizeof(uidl[0]), "%s", mdt_info(&s, 1).uidl);
	ck_assert_uint_eq(mdt_info(&s, 1).size, q.srv.m[1].len);
	quit(&s, &del, 1, text, sizeof(text));
	ck_assert_msg(text[0] == '\0', "QUIT said: %s", text);
	/* the next session: the other message, its UIDL unchanged */
	mdt_open(&q.e, &s, NULL);
	ck_assert_uint_eq(mdt_count(&s), 1);
	snprintf(uidl[1], sizeof(uidl[1]), "%s", mdt_info(&s, 0).uidl);
	ck_assert_str_eq(uidl[0], uidl[1]);
	mdt_close(&s);
	quirk_finish(&q);
	ck_assert_int_eq(count_in(&q.srv, "INBOX"), want[_i][0]);
	ck_assert_int_eq(count_in(&q.srv, "[Gmail]/All Mail"), want[_i][1]);
	ck_assert_int_eq(count_in(&q.srv, "[Gmail]/Trash"), want[_i][2]);
	ck_assert_int_eq(count_in(&q.srv, "Archive"), want[_i][3]);
	ck_assert_int_eq(q.srv.m[0].kw[0] != '\0', _i == 3);
}
END_TEST

/* ---- 4. Microsoft 365 ------------------------------------------------------------------ */

/* RFC822.SIZE 37 octets off: the first RETR sends the real message (after
 * the size check, a NOOP and a second fetch), the next LIST says exactly
 * that, and its RETR is one fetch. */
START_TEST(t_m365_sizes_become_exact)
{
	struct quirk q;
	struct mdt_sess s;

	srv_init(&q.srv, M365, 2);
	quirk_start(&q, 2, NULL);
	mdt_open(&q.e, &s, NULL);
	ck_assert_uint_eq(mdt_retr(&s, 0, NULL), q.srv.m[0].len);
	ck_assert_int_eq(q.srv.bodies_of[0], 2);
	ck_assert_int_eq(q.srv.noops, 1);
	mdt_close(&s);
	mdt_open(&q.e, &s, NULL);
	ck_assert_uint_eq(mdt_info(&s, 0).size, q.srv.m[0].len);
	ck_assert_uint_eq(mdt_retr(&s, 0, NULL), q.srv.m[0].len);
	ck_assert_int_eq(q.srv.bodies_of[0], 3);
	ck_assert_int_eq(q.srv.noops, 1);
	mdt_close(&s);
	quirk_finish(&q);
}
END_TEST

static double now_s_(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Throttled twice for 50 ms: waited out, the session opens. Throttled for
 * ever, 300 ms each: waits within the upstream timeout (1 s), then -ERR
 * [SYS/TEMP] (POP3_MD_TEMP). A back-off longer than the timeout: TEMP at
 * once. A BYE greeting (overload): TEMP. Never a hang. */
START_TEST(t_m365_throttled)
{
	struct quirk q;
	struct mdt_sess s;

	srv_init(&q.srv, M365, 1);
	q.srv.throttle_select = 2;
	q.srv.throttle_ms = 50;
	quirk_start(&q, 4, "upstream-timeout", "1", NULL);
	double t0 = now_s_();
	mdt_open(&q.e, &s, NULL);
	ck_assert_uint_eq(mdt_count(&s), 1);
	mdt_close(&s);
	ck_assert(now_s_() - t0 >= 0.1);

	q.srv.throttle_select = -1;
	q.srv.throttle_ms = 300;
	t0 = now_s_();
	ck_assert_int_eq(mdt_open_as(&q.e, &s, "quirk", MDT_PASS), POP3_MD_TEMP);
	double took = now_s_() - t0;
	ck_assert_msg(took >= 0.85 && took < 2.5, "took %.2f s", took);
	ck_assert_ptr_nonnull(strstr(s.conn.detail, "throttled"));

	q.srv.throttle_ms = 5000;
	t0 = now_s_();
	ck_assert_int_eq(mdt_open_as(&q.e, &s, "quirk", MDT_PASS), POP3_MD_TEMP);
	ck_assert_msg(now_s_() - t0 < 0.8, "took %.2f s", now_s_() - t0);

	q.srv.bye_greeting = true;
	ck_assert_int_eq(mdt_open_as(&q.e, &s, "quirk", MDT_PASS), POP3_MD_TEMP);
	ck_assert_ptr_nonnull(strstr(s.conn.detail, "overloaded"));
	quirk_finish(&q);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("bridge-quirks");
	TCase *tc = tcase_create("quirks");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, t_namespace_prefix, 0, 4);
	tcase_add_test(tc, t_namespace_explicit_name);
	tcase_add_test(tc, t_stuck_commit_visible);
	tcase_add_test(tc, t_courier_standin);
	tcase_add_loop_test(tc, t_gmail_policies, 0, 6);
	tcase_add_test(tc, t_m365_sizes_become_exact);
	tcase_add_test(tc, t_m365_throttled);
	suite_add_tcase(su, tc);
	SRunner *sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
