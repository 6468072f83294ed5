/* tests/bridge/check_import_emailid.c — UIDLs survive a UIDVALIDITY change
 * through RFC 8474 OBJECTID (EMAILID) or Gmail's X-GM-MSGID (SPEC §4,
 * issue 7). Dovecot 2.3 offers neither, so a scripted fake IMAP server on
 * loopback does: session 1 lists three messages under UIDVALIDITY 100; session
 * 2 renumbers them (UIDVALIDITY 200, other order, every header changed so
 * the header match cannot pair them) and adds one. maildrop_sync_folder must
 * ask for EMAILID / X-GM-MSGID, store it, and re-attach the messages by it
 * so their UIDLs stay; without either capability they are new messages. */
#include <check.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bridge/config/options.h"
#include "bridge/maildrop/sync.h"
#include "bridge/maildrop/upstream.h"
#include "state/state.h"
#include "tests/lib/cert.h"
#include "tests/lib/net.h"

enum idcap { CAP_OBJECTID, CAP_GMEXT, CAP_NONE };

struct fmsg {
	uint32_t uid;
	const char *id;      /* EMAILID, or the X-GM-MSGID digits */
	const char *subject;
};

struct fake {
	int lfd, port;
	enum idcap cap;
	uint32_t uidvalidity;
	const struct fmsg *msgs;
	size_t n;
	bool asked_id;       /* a listing FETCH asked for EMAILID / X-GM-MSGID */
	pthread_t th;
};

static int freadline(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	while (n + 1 < cap) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		char c;
		if (poll(&pf, 1, 10000) <= 0 || read(fd, &c, 1) != 1)
			return -1;
		if (c == '\n')
			break;
		if (c != '\r')
			buf[n++] = c;
	}
	buf[n] = 0;
	return (int)n;
}

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

static void fetch(struct fake *f, int fd, const char *tag, const char *args)
{
	char set[512], out[2048], hdr[512], section[256] = "";
	const char *sp = strchr(args, ' ');
	bool want_id = strstr(args, "EMAILID") || strstr(args, "X-GM-MSGID");
	const char *b = strstr(args, "BODY.PEEK[");

	snprintf(set, sizeof(set), "%.*s", (int)(sp ? sp - args : 0), args);
	if (b != NULL) {
		const char *e = strchr(b, ']');
		snprintf(section, sizeof(section), "BODY[%.*s]", (int)(e - b - 10), b + 10);
	} else if (want_id) {
		f->asked_id = true;
	}
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
			snprintf(out, sizeof(out), "* %zu FETCH (UID %u RFC822.SIZE %zu FLAGS ()%s "
			    "%s {%zu}\r\n%s)\r\n", i + 1, m->uid, 500 + strlen(m->subject), idpart,
			    section, strlen(hdr), hdr);
		else
			snprintf(out, sizeof(out), "* %zu FETCH (UID %u RFC822.SIZE %zu FLAGS ()%s)\r\n",
			    i + 1, m->uid, 500 + strlen(m->subject), idpart);
		pbt_sendstr(fd, out);
	}
	snprintf(out, sizeof(out), "%s OK FETCH done\r\n", tag);
	pbt_sendstr(fd, out);
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	char line[2048], out[1024], tag[32], cmd[32];
	int fd = accept(f->lfd, NULL, NULL);

	if (fd < 0)
		return NULL;
	snprintf(out, sizeof(out), "* OK [CAPABILITY %s] fake ready\r\n", caps(f));
	pbt_sendstr(fd, out);
	while (freadline(fd, line, sizeof(line)) >= 0) {
		int off = 0;
		if (sscanf(line, "%31s %31s %n", tag, cmd, &off) < 2)
			break;
		const char *rest = line + off;
		if (strcasecmp(cmd, "CAPABILITY") == 0) {
			snprintf(out, sizeof(out), "* CAPABILITY %s\r\n%s OK done\r\n", caps(f), tag);
		} else if (strcasecmp(cmd, "LOGIN") == 0) {
			snprintf(out, sizeof(out), "%s OK [CAPABILITY %s] logged in\r\n", tag, caps(f));
		} else if (strcasecmp(cmd, "SELECT") == 0 || strcasecmp(cmd, "EXAMINE") == 0) {
			uint32_t next = f->n ? f->msgs[f->n - 1].uid + 1 : 1;
			for (size_t i = 0; i < f->n; i++)
				if (f->msgs[i].uid >= next)
					next = f->msgs[i].uid + 1;
			snprintf(out, sizeof(out), "* FLAGS (\\Seen \\Deleted)\r\n* %zu EXISTS\r\n"
			    "* OK [UIDVALIDITY %u] ok\r\n* OK [UIDNEXT %u] ok\r\n"
			    "%s OK [READ-WRITE] selected\r\n", f->n, f->uidvalidity, next, tag);
		} else if (strcasecmp(cmd, "UID") == 0 && strncasecmp(rest, "FETCH ", 6) == 0) {
			fetch(f, fd, tag, rest + 6);
			continue;
		} else if (strcasecmp(cmd, "LOGOUT") == 0) {
			snprintf(out, sizeof(out), "* BYE bye\r\n%s OK done\r\n", tag);
			pbt_sendstr(fd, out);
			break;
		} else {
			snprintf(out, sizeof(out), "%s OK fine\r\n", tag);
		}
		pbt_sendstr(fd, out);
	}
	close(fd);
	return NULL;
}

static struct fake *fake_start(enum idcap cap, uint32_t uidvalidity, const struct fmsg *m,
    size_t n)
{
	struct fake *f = calloc(1, sizeof(*f));
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);

	signal(SIGPIPE, SIG_IGN);
	f->cap = cap;
	f->uidvalidity = uidvalidity;
	f->msgs = m;
	f->n = n;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	f->lfd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(f->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(f->lfd, 1), 0);
	ck_assert_int_eq(getsockname(f->lfd, (struct sockaddr *)&a, &al), 0);
	f->port = ntohs(a.sin_port);
	ck_assert_int_eq(pthread_create(&f->th, NULL, fake_main, f), 0);
	return f;
}

static void fake_end(struct fake *f)
{
	pthread_join(f->th, NULL);
	close(f->lfd);
	free(f);
}

static char dir[256];

/* One session: log in, sync INBOX into the state file. */
static bool session(struct state_db *db, int64_t account_id, enum idcap cap,
    uint32_t uidvalidity, const struct fmsg *m, size_t n)
{
	struct fake *f = fake_start(cap, uidvalidity, m, n);
	struct config_options o;
	struct maildrop_upstream up;
	struct state_mailbox mb;
	char url[64], err[PB_ERR_MAX], detail[200];

	config_options_init(&o);
	snprintf(url, sizeof(url), "imap://127.0.0.1:%d", f->port);
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
	bool asked = f->asked_id;
	fake_end(f);
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
