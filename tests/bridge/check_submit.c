/* tests/bridge/check_submit.c — SMTP submission's Sent copies (SPEC §11)
 * against the real Dovecot: the spool file (exact bytes, hash, modes, the
 * recorded size), the APPEND with \Seen into the SPECIAL-USE or configured
 * folder (created when missing), and "never twice": a row whose APPEND's
 * answer was lost is found in the folder instead of appended again, while
 * copies of identical messages (the same bytes sent twice) each get their
 * own; a copy whose file is gone stays owed with the failure counted.
 * SMTP AUTH through the shared device login (submit_ops.open): the user
 * name rule of SPEC §2 (a bad device name is a failed login before any
 * upstream contact, a good one folded to lower case), and a submission
 * server (scripted: 535 to a credential the real IMAP server takes) that
 * refuses a managed account's stored credential recorded as its
 * credential_ok (`account list` WORKS no), as an IMAP refusal is.
 */
#include <check.h>
#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "bridge/base/clock.h"
#include "bridge/maildrop/upstream.h"
#include "bridge/managed/password.h"
#include "bridge/managed/secret.h"
#include "bridge/submit/relay.h"
#include "bridge/submit/sentcopy.h"
#include "bridge/submit/spool.h"
#include "state/state_test.h"
#include "tests/bridge/check_maildrop.h"
#include "tests/lib/fakeserver.h"

static const char MSG[] = "From: a@example.com\r\nSubject: sent\r\n\r\n.dot\r\nbody\r\n";

struct sub {
	struct mdt_env e;
	struct maildrop_upstream up;
	struct state_db *db;
	char spool[SUBMIT_SPOOL_DIR_MAX];
	int64_t account, device;
	struct submit_copy_env env;
};

static void sub_init(struct sub *s, const char *user, const char *sent_folder)
{
	char err[PB_ERR_MAX], detail[BRIDGE_DETAIL_MAX];
	struct state_account a;
	struct state_device d;

	memset(s, 0, sizeof(*s));
	if (sent_folder)
		mdt_env_init(&s->e, user, "sent-folder", sent_folder, NULL);
	else
		mdt_env_init(&s->e, user, NULL);
	s->db = state_open(s->e.opt.state, err, sizeof(err));
	ck_assert_msg(s->db != NULL, "%s", err);
	ck_assert_int_eq(state_account_ensure(s->db, user, 1, &a), STATE_OK);
	ck_assert_int_eq(state_device_ensure(s->db, a.id, "pc", "INBOX", 1, 0, &d, NULL), STATE_OK);
	s->account = a.id;
	s->device = d.id;
	ck_assert_int_eq(submit_spool_dir(s->e.opt.state, s->spool, sizeof(s->spool)), 0);
	ck_assert_int_eq(maildrop_upstream_login(&s->up, &s->e.opt, user, MDT_PASS, detail,
	    sizeof(detail)), POP3_MD_OK);
	s->env = (struct submit_copy_env){ .up = &s->up, .db = s->db, .opt = &s->e.opt,
		.spool_dir = s->spool, .account = user, .now = (int64_t)time(NULL),
		.locks = s->e.ctx.devlocks };
}

static void sub_free(struct sub *s)
{
	maildrop_upstream_free(&s->up);
	state_close(s->db);
	mdt_env_free(&s->e);
}

/* A message spooled and recorded as the relay does, accepted: PENDING. */
static int64_t spool_msg(struct sub *s, const char *data, size_t len, int64_t created)
{
	struct submit_spool_file f;
	char err[PB_ERR_MAX], sha[STATE_SHA256_HEX + 1];
	int64_t id;

	ck_assert_int_eq(submit_spool_create(s->spool, &f, err, sizeof(err)), 0);
	for (size_t i = 0; i < len; i += 7)
		ck_assert_int_eq(submit_spool_write(&f, data + i, len - i < 7 ? len - i : 7), 0);
	ck_assert_int_eq(submit_spool_commit(&f, sha, err, sizeof(err)), 0);
	ck_assert_int_eq(state_sent_add(s->db, s->account, s->device, f.name, len, sha, created,
	    &id), STATE_OK);
	ck_assert_int_eq(state_sent_accepted(s->db, id), STATE_OK);
	return id;
}

static int count_folder(const char *user, const char *folder, const char *want, size_t want_len)
{
	struct imap_config cfg = { .host = "127.0.0.1", .port = (unsigned)dc->imap_port,
		.tls = IMAP_TLS_NONE, .timeout_s = 10 };
	struct imap_session *m = imap_session_new(&cfg);
	struct imap_uidset all;
	struct imap_search q = { 0 };
	int n = 0;

	ck_assert_int_eq(imap_connect(m), IMAP_OK);
	ck_assert_int_eq(imap_login(m, user, MDT_PASS), IMAP_OK);
	if (imap_select(m, folder, IMAP_SELECT_READONLY, NULL) != IMAP_OK) {
		imap_session_free(m);
		return -1;
	}
	imap_uidset_init(&all);
	ck_assert_int_eq(imap_uid_search(m, &q, &all), IMAP_OK);
	n = (int)imap_uidset_count(&all);
	if (want != NULL) {
		struct imap_search seen = { .seen = true, .size = want_len };
		struct imap_uidset s;
		imap_uidset_init(&s);
		ck_assert_int_eq(imap_uid_search(m, &seen, &s), IMAP_OK);
		ck_assert_uint_eq(imap_uidset_count(&s), (size_t)n);   /* all \Seen, right size */
		imap_uidset_free(&s);
	}
	imap_uidset_free(&all);
	imap_session_free(m);
	return n;
}

START_TEST(spool_file)
{
	struct sub s;
	struct stat st;
	char err[PB_ERR_MAX];
	sub_init(&s, "sp", NULL);
	int64_t id = spool_msg(&s, MSG, sizeof(MSG) - 1, 1000);
	struct state_sent row;
	ck_assert_int_eq(state_sent_get(s.db, id, &row), STATE_OK);
	ck_assert_int_eq(stat(s.spool, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0700);
	int fd = submit_spool_open(s.spool, row.file, row.size, err, sizeof(err));
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	char buf[256];
	ck_assert_int_eq(read(fd, buf, sizeof(buf)), sizeof(MSG) - 1);
	ck_assert_mem_eq(buf, MSG, sizeof(MSG) - 1);
	close(fd);
	/* the hash is the file's: sha256 of MSG */
	unsigned char h[32];
	char hex[65];
	EVP_Digest(MSG, sizeof(MSG) - 1, h, NULL, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", h[i]);
	ck_assert_str_eq(row.sha256, hex);
	ck_assert_int_lt(submit_spool_open(s.spool, row.file, row.size + 1, err, sizeof(err)), 0);
	/* discarded: nothing left */
	struct submit_spool_file f;
	ck_assert_int_eq(submit_spool_create(s.spool, &f, err, sizeof(err)), 0);
	char path[sizeof(f.path)];
	snprintf(path, sizeof(path), "%s", f.path);
	submit_spool_write(&f, "x", 1);
	submit_spool_discard(&f);
	ck_assert_int_ne(access(path, F_OK), 0);
	sub_free(&s);
}
END_TEST

START_TEST(never_twice)
{
	struct sub s;
	char detail[BRIDGE_DETAIL_MAX];
	struct state_sent row;
	sub_init(&s, "nt", NULL);
	int64_t now = (int64_t)time(NULL);

	/* two identical messages: two copies (the folder is created) */
	int64_t a = spool_msg(&s, MSG, sizeof(MSG) - 1, now);
	int64_t b = spool_msg(&s, MSG, sizeof(MSG) - 1, now);
	ck_assert_int_eq(count_folder("nt", "Sent", NULL, 0), -1);
	ck_assert_int_eq(submit_copy_account(&s.env, s.account), 0);
	ck_assert_int_eq(count_folder("nt", "Sent", MSG, sizeof(MSG) - 1), 2);
	ck_assert_int_eq(state_sent_get(s.db, a, &row), STATE_OK);
	ck_assert_int_eq(row.state, STATE_SENT_DONE);
	ck_assert_str_eq(row.folder, "Sent");
	ck_assert_uint_eq(row.uid, 1);
	ck_assert_int_eq(state_sent_get(s.db, b, &row), STATE_OK);
	ck_assert_uint_eq(row.uid, 2);
	ck_assert_int_ne(access(s.spool, F_OK), -1);

	/* a third identical one whose APPEND's answer was lost before it went
	 * out: the two copies in Sent are claimed, so it is appended */
	int64_t c = spool_msg(&s, MSG, sizeof(MSG) - 1, now);
	ck_assert_int_eq(state_sent_set_state(s.db, c, STATE_SENT_APPENDING), STATE_OK);
	ck_assert_int_eq(state_sent_get(s.db, c, &row), STATE_OK);
	ck_assert_int_eq(submit_copy_one(&s.env, &row, detail, sizeof(detail)), 0);
	ck_assert_int_eq(count_folder("nt", "Sent", MSG, sizeof(MSG) - 1), 3);

	/* a fourth whose APPEND went through but was not recorded: found */
	static const char other[] = "Subject: other\r\n\r\nlost answer\r\n";
	int64_t d = spool_msg(&s, other, sizeof(other) - 1, now);
	ck_assert_int_eq(state_sent_set_state(s.db, d, STATE_SENT_APPENDING), STATE_OK);
	ck_assert_int_eq(state_sent_get(s.db, d, &row), STATE_OK);
	ck_assert_int_eq(pbt_dovecot_add_message(dc, "nt", "Sent", other, sizeof(other) - 1, "S"),
	    0);
	ck_assert_int_eq(submit_copy_account(&s.env, s.account), 0);
	ck_assert_int_eq(count_folder("nt", "Sent", NULL, 0), 4);
	ck_assert_int_eq(state_sent_get(s.db, d, &row), STATE_OK);
	ck_assert_int_eq(row.state, STATE_SENT_DONE);
	ck_assert_uint_eq(row.uid, 4);
	sub_free(&s);
}
END_TEST

START_TEST(special_use_and_missing_file)
{
	struct sub s;
	struct state_sent row;
	sub_init(&s, "su", "Elsewhere");
	ck_assert_int_eq(pbt_dovecot_create_folder(dc, "su", "Sent"), 0);   /* \Sent */
	int64_t now = (int64_t)time(NULL);
	int64_t a = spool_msg(&s, MSG, sizeof(MSG) - 1, now);
	ck_assert_int_eq(submit_copy_account(&s.env, s.account), 0);
	ck_assert_int_eq(count_folder("su", "Sent", MSG, sizeof(MSG) - 1), 1);
	ck_assert_int_eq(count_folder("su", "Elsewhere", NULL, 0), -1);
	ck_assert_int_eq(state_sent_get(s.db, a, &row), STATE_OK);
	ck_assert_int_eq(row.state, STATE_SENT_DONE);

	/* the spool file is gone: it stays owed, the failure counted */
	int64_t b = spool_msg(&s, MSG, sizeof(MSG) - 1, now);
	ck_assert_int_eq(state_sent_get(s.db, b, &row), STATE_OK);
	submit_spool_remove(s.spool, row.file);
	ck_assert_int_eq(submit_copy_account(&s.env, s.account), 1);
	ck_assert_int_eq(state_sent_get(s.db, b, &row), STATE_OK);
	ck_assert_int_eq(row.state, STATE_SENT_PENDING);
	ck_assert_int_eq(row.attempts, 1);
	ck_assert_ptr_nonnull(strstr(row.last_error, row.file));
	ck_assert_int_eq(count_folder("su", "Sent", NULL, 0), 1);
	sub_free(&s);
}
END_TEST

/* ---- SMTP AUTH: submit_ops.open as the SMTP engine calls it ----------------- */

struct auth_env {
	struct mdt_env e;
	struct submit_ctx sctx;
	struct submit_conn conn;
	struct smtp_auth_reply reply;
	void *relay;
};

/* e's user, the submission server at 127.0.0.1:port (plaintext). */
static void auth_init(struct auth_env *a, const char *user, int port, const char *auth)
{
	char url[64];

	memset(a, 0, sizeof(*a));
	snprintf(url, sizeof(url), "smtp://127.0.0.1:%d", port);
	mdt_env_init(&a->e, user, "smtp-upstream", url, "smtp-upstream-tls", "none",
	    "auth", auth, NULL);
	ck_assert_int_eq(submit_ctx_init(&a->sctx, &a->e.ctx, a->e.opt.state), 0);
}

static enum smtp_auth_status auth_as(struct auth_env *a, const char *user, const char *password)
{
	struct smtp_credentials cred = { .user = user, .password = password,
		.mechanism = "PLAIN", .remote_addr = "192.0.2.5" };

	submit_conn_init(&a->conn, &a->sctx, &a->e.opt, "192.0.2.5", 40000);
	a->conn.login_deadline_ms = base_clock_ms(NULL) + 30000;
	memset(&a->reply, 0, sizeof(a->reply));
	a->relay = NULL;
	enum smtp_auth_status st = submit_ops.open(&a->conn, &cred, &a->relay, &a->reply);
	if (a->relay != NULL)
		submit_ops.close(a->relay);
	return st;
}

static void auth_free(struct auth_env *a)
{
	submit_ctx_free(&a->sctx);
	mdt_env_free(&a->e);
}

/* The account's credential_ok (-1 unknown, 0 refused, 1 worked). */
static int credential_ok(struct auth_env *a, const char *account)
{
	char err[PB_ERR_MAX];
	struct state_account acc;
	struct state_db *db = state_open(a->e.opt.state, err, sizeof(err));

	ck_assert_msg(db != NULL, "%s", err);
	ck_assert_int_eq(state_account_get(db, account, &acc), STATE_OK);
	state_close(db);
	return acc.credential_ok;
}

START_TEST(auth_user_names)
{
	struct auth_env a;
	static const char *const bad[] = {
		"names#bad/dev", "names#dev ice", "names#", "names#a#b", "names#d\xc3\xa9",
	};

	/* Port 1 refuses: a name that passed the rule and the IMAP login gets
	 * TEMP from the submission server's side, never BAD. */
	auth_init(&a, "names", 1, "passthrough");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(auth_as(&a, bad[i], MDT_PASS), SMTP_AUTH_BAD);
		ck_assert_msg(strstr(a.reply.text, "Invalid user name") != NULL, "%s", a.reply.text);
		if (bad[i][6] != '\0')   /* the name's bytes are not echoed */
			ck_assert_ptr_null(strstr(a.reply.text, bad[i] + 6));
		ck_assert_uint_gt(a.reply.delay_ms, 0);
		ck_assert(!a.conn.identified);
	}
	ck_assert_int_eq(auth_as(&a, "names#PC.1", MDT_PASS), SMTP_AUTH_TEMP);
	ck_assert(a.conn.identified);
	ck_assert_str_eq(a.conn.account, "names");
	ck_assert_str_eq(a.conn.device, "pc.1");
	auth_free(&a);
}
END_TEST

/* EHLO, AUTH PLAIN refused with 535, QUIT: once per connection. */
static const struct pbt_step refuse_auth[] = {
	PBT_SEND("220 fake ESMTP\r\n"), PBT_EXPECT("EHLO"),
	PBT_SEND("250-fake\r\n250 AUTH PLAIN LOGIN\r\n"),
	PBT_EXPECT("AUTH PLAIN"), PBT_SEND("535 5.7.8 Authentication credentials invalid\r\n"),
	PBT_EXPECT("QUIT"), PBT_SEND("221 bye\r\n"), PBT_END,
};

START_TEST(auth_refused_credential)
{
	struct auth_env a;
	struct pbt_fake *f = pbt_fake_start(refuse_auth, PBT_FAKE_POP3);
	ck_assert_ptr_nonnull(f);

	/* A managed account: the IMAP server takes the stored password
	 * (credential_ok 1), the submission server refuses it: PERM and
	 * credential_ok 0. */
	auth_init(&a, "subm", f->port, "managed");
	struct managed_key key;
	unsigned char blob[SECRET_BLOB_MAX];
	char err[PB_ERR_MAX], pw[PASSGEN_DIGITS + 1], hash[PASSGEN_HASH_STR_MAX];
	size_t blen = 0;
	int64_t acc;
	struct state_device d;
	ck_assert_int_eq(RAND_bytes(key.bytes, sizeof(key.bytes)), 1);
	memcpy(a.e.ctx.managed_key, key.bytes, sizeof(key.bytes));
	a.e.ctx.has_managed_key = true;
	ck_assert_int_eq(managed_seal(&key, "shop", (const unsigned char *)MDT_PASS,
	    strlen(MDT_PASS), blob, sizeof(blob), &blen, err, sizeof(err)), 0);
	struct state_db *db = state_open(a.e.opt.state, err, sizeof(err));
	ck_assert_msg(db != NULL, "%s", err);
	ck_assert_int_eq(state_account_add(db, "shop", STATE_AUTH_MANAGED, "subm", blob, blen,
	    1000, &acc), STATE_OK);
	ck_assert_int_eq(managed_password_new(pw, sizeof(pw)), 0);
	ck_assert_int_eq(managed_password_hash(pw, hash, sizeof(hash)), 0);
	ck_assert_int_eq(state_device_add(db, acc, "till", NULL, hash, "INBOX", 1000, &d),
	    STATE_OK);
	state_close(db);
	ck_assert_int_eq(credential_ok(&a, "shop"), -1);

	ck_assert_int_eq(auth_as(&a, "shop", pw), SMTP_AUTH_PERM);
	ck_assert(a.conn.identified);
	ck_assert_str_eq(a.conn.device, "till");
	ck_assert_msg(strstr(a.reply.text, "submission server refused") != NULL, "%s",
	    a.reply.text);
	ck_assert_int_eq(credential_ok(&a, "shop"), 0);
	PBT_FAKE_FINISH(f);
	auth_free(&a);

	/* Passthrough stores no credential: nothing recorded. */
	f = pbt_fake_start(refuse_auth, PBT_FAKE_POP3);
	ck_assert_ptr_nonnull(f);
	auth_init(&a, "subp", f->port, "passthrough");
	ck_assert_int_eq(auth_as(&a, "subp#pc", MDT_PASS), SMTP_AUTH_PERM);
	ck_assert_int_eq(credential_ok(&a, "subp"), -1);
	PBT_FAKE_FINISH(f);
	auth_free(&a);
}
END_TEST

/* ---- the upstream connection between transactions ------------------------- */

/* Log in through submit_ops.open as the engine does and keep the relay. */
static void *relay_open(struct auth_env *a, const char *user)
{
	struct smtp_credentials cred = { .user = user, .password = MDT_PASS,
		.mechanism = "PLAIN", .remote_addr = "192.0.2.5" };

	submit_conn_init(&a->conn, &a->sctx, &a->e.opt, "192.0.2.5", 40000);
	a->conn.login_deadline_ms = base_clock_ms(NULL) + 30000;
	a->relay = NULL;
	ck_assert_int_eq(submit_ops.open(&a->conn, &cred, &a->relay, &a->reply), SMTP_AUTH_OK);
	return a->relay;
}

#define UP_LOGIN \
	PBT_SEND("220 fake ESMTP\r\n"), PBT_EXPECT("EHLO"), \
	PBT_SEND("250-fake\r\n250 AUTH PLAIN LOGIN\r\n"), \
	PBT_EXPECT("AUTH PLAIN"), PBT_SEND("235 2.7.0 ok\r\n")

/* The submission server times the idle connection out (Postfix: "421 4.4.2
 * host Error: timeout exceeded", then it closes; 10 s under stress) while
 * the device waits after AUTH, or while the Sent copy of its last message
 * is appended. The next MAIL goes on a new connection: the device gets the
 * server's 250, not the 421 it said to nobody. */
static const struct pbt_step idle_timeout[] = {
	UP_LOGIN, PBT_SEND("421 4.4.2 fake Error: timeout exceeded\r\n"), PBT_ACCEPT,
	UP_LOGIN, PBT_EXPECT("MAIL FROM:<alice@example.com>"), PBT_SEND("250 2.1.0 Ok\r\n"),
	PBT_EXPECT("QUIT"), PBT_SEND("221 bye\r\n"), PBT_END,
};
/* The same timeout racing the MAIL: the server's 421 is MAIL's reply. */
static const struct pbt_step timeout_at_mail[] = {
	UP_LOGIN, PBT_EXPECT("MAIL FROM:<alice@example.com>"),
	PBT_SEND("421 4.4.2 fake Error: timeout exceeded\r\n"), PBT_ACCEPT,
	UP_LOGIN, PBT_EXPECT("MAIL FROM:<alice@example.com>"), PBT_SEND("250 2.1.0 Ok\r\n"),
	PBT_EXPECT("QUIT"), PBT_SEND("221 bye\r\n"), PBT_END,
};

START_TEST(upstream_idle_timeout)
{
	const struct pbt_step *scripts[] = { idle_timeout, timeout_at_mail };
	const char *users[] = { "idle", "idlemail" };

	for (size_t i = 0; i < 2; i++) {
		struct auth_env a;
		struct smtp_reply reply;
		struct pbt_fake *f = pbt_fake_start(scripts[i], PBT_FAKE_POP3);
		ck_assert_ptr_nonnull(f);
		auth_init(&a, users[i], f->port, "passthrough");
		void *relay = relay_open(&a, users[i]);
		if (i == 0)
			pbt_msleep(300);   /* the 421 has come, and the close */
		memset(&reply, 0, sizeof(reply));
		ck_assert_int_eq(submit_ops.mail(relay, "alice@example.com", "", &reply),
		    SMTP_RELAY_REPLY);
		ck_assert_msg(reply.code == 250, "%u %s", reply.code, reply.text);
		submit_ops.close(relay);
		PBT_FAKE_FINISH(f);
		auth_free(&a);
	}
}
END_TEST

/* ---- an empty message ------------------------------------------------------- */

/* DATA answered at once by "." (a client may do that): the submission
 * server takes the empty message, but no IMAP server stores one (Dovecot:
 * "Can't save a zero byte message"; imap_append refuses size 0 before
 * asking), so a Sent copy would be owed for ever, retried and logged as an
 * error at every login. None is made (sent_copy=skipped): nothing owed,
 * nothing left in the spool. */
static const struct pbt_step empty_message[] = {
	UP_LOGIN, PBT_EXPECT("MAIL FROM:<alice@example.com>"), PBT_SEND("250 2.1.0 Ok\r\n"),
	PBT_EXPECT("RCPT TO:<bob@example.com>"), PBT_SEND("250 2.1.5 Ok\r\n"),
	PBT_EXPECT("DATA"), PBT_SEND("354 go ahead\r\n"),
	PBT_EXPECT_RAW("."), PBT_SEND("250 2.0.0 Ok: queued as EMPTY\r\n"),
	PBT_EXPECT("QUIT"), PBT_SEND("221 bye\r\n"), PBT_END,
};

/* Nothing left in the spool folder of a's state file. */
static void check_spool_empty(struct auth_env *a)
{
	char spool[SUBMIT_SPOOL_DIR_MAX];
	ck_assert_int_eq(submit_spool_dir(a->e.opt.state, spool, sizeof(spool)), 0);
	DIR *d = opendir(spool);
	for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;)
		ck_assert_msg(e->d_name[0] == '.', "left in the spool: %s", e->d_name);
	if (d != NULL)
		closedir(d);
}

static int count_row(void *arg, const struct state_sent *row)
{
	(void)row;
	++*(int *)arg;
	return 0;
}

START_TEST(empty_message_no_copy)
{
	struct auth_env a;
	struct smtp_reply reply;
	struct pbt_fake *f = pbt_fake_start(empty_message, PBT_FAKE_POP3);
	char err[PB_ERR_MAX];
	int owed = 0;

	ck_assert_ptr_nonnull(f);
	auth_init(&a, "empty", f->port, "passthrough");
	void *relay = relay_open(&a, "empty");
	ck_assert_int_eq(submit_ops.mail(relay, "alice@example.com", "", &reply), SMTP_RELAY_REPLY);
	ck_assert_uint_eq(reply.code, 250);
	ck_assert_int_eq(submit_ops.rcpt(relay, "bob@example.com", &reply), SMTP_RELAY_REPLY);
	ck_assert_uint_eq(reply.code, 250);
	ck_assert_int_eq(submit_ops.data_begin(relay, &reply), SMTP_RELAY_REPLY);
	ck_assert_uint_eq(reply.code, 354);
	ck_assert_int_eq(submit_ops.data_end(relay, SMTP_DATA_COMPLETE, &reply), SMTP_RELAY_REPLY);
	ck_assert_msg(reply.code == 250, "%u %s", reply.code, reply.text);
	submit_ops.data_done(relay);
	ck_assert_uint_eq(a.conn.sent, 1);
	ck_assert_uint_eq(a.conn.copies_pending, 0);
	submit_ops.close(relay);
	PBT_FAKE_FINISH(f);

	struct state_db *db = state_open(a.e.opt.state, err, sizeof(err));
	ck_assert_msg(db != NULL, "%s", err);
	ck_assert_int_eq(state_sent_pending(db, 0, 10, count_row, &owed), STATE_OK);
	ck_assert_int_eq(owed, 0);
	state_close(db);
	check_spool_empty(&a);
	auth_free(&a);
}
END_TEST

/* ---- a state database that cannot record the Sent copy -------------------- */

/* The spool file is written and made durable, then its record refused
 * (here: a trigger; in life a full disk or a damaged file). The message is
 * not sent (451, the upstream connection dropped before the final dot),
 * nothing is left in the spool, and the log says why: the state database's
 * own error, never what happened to be in a buffer the spool never wrote. */
static const struct pbt_step unrecorded[] = {
	UP_LOGIN, PBT_EXPECT("MAIL FROM:<alice@example.com>"), PBT_SEND("250 2.1.0 Ok\r\n"),
	PBT_EXPECT("RCPT TO:<bob@example.com>"), PBT_SEND("250 2.1.5 Ok\r\n"),
	PBT_EXPECT("DATA"), PBT_SEND("354 go ahead\r\n"), PBT_STALL, PBT_END,
};

/* Fill the stack below the caller with octets no message holds, so that a
 * buffer data_end() reads without having written it shows. */
static __attribute__((noinline)) void paint_stack(void)
{
	volatile char junk[64 * 1024];
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = '~';
}

START_TEST(sent_copy_not_recorded)
{
	struct auth_env a;
	struct smtp_reply reply;
	struct pbt_fake *f = pbt_fake_start(unrecorded, PBT_FAKE_POP3);
	char err[PB_ERR_MAX], logf[] = "/tmp/pbt-submit-log.XXXXXX";

	ck_assert_ptr_nonnull(f);
	auth_init(&a, "unrec", f->port, "passthrough");
	struct state_db *db = state_open(a.e.opt.state, err, sizeof(err));
	ck_assert_msg(db != NULL, "%s", err);
	ck_assert_int_ge(state_test_exec(db, "CREATE TRIGGER refuse_sent BEFORE INSERT ON "
	    "sent_copies BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"), 0);
	state_close(db);
	void *relay = relay_open(&a, "unrec");
	ck_assert_int_eq(submit_ops.mail(relay, "alice@example.com", "", &reply), SMTP_RELAY_REPLY);
	ck_assert_int_eq(submit_ops.rcpt(relay, "bob@example.com", &reply), SMTP_RELAY_REPLY);
	ck_assert_int_eq(submit_ops.data_begin(relay, &reply), SMTP_RELAY_REPLY);
	ck_assert_uint_eq(reply.code, 354);
	ck_assert_int_eq(submit_ops.data_write(relay, MSG, strlen(MSG)), 0);
	/* the log lines of data_end() into a file */
	int lfd = mkstemp(logf), saved = dup(2);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_ge(saved, 0);
	fflush(stderr);
	dup2(lfd, 2);
	paint_stack();
	enum smtp_relay_rc rc = submit_ops.data_end(relay, SMTP_DATA_COMPLETE, &reply);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	ck_assert_int_eq(rc, SMTP_RELAY_REPLY);
	ck_assert_msg(reply.code == 451, "%u %s", reply.code, reply.text);
	submit_ops.close(relay);
	ck_assert_int_eq(pbt_fake_join(f), 0);
	ck_assert_ptr_null(strstr(f->log.p, "C: ."));   /* the final dot never went */
	pbt_fake_free(f);

	char log[8192];
	ssize_t n = pread(lfd, log, sizeof(log) - 1, 0);
	close(lfd);
	unlink(logf);
	ck_assert_int_gt(n, 0);
	log[n] = '\0';
	fputs(log, stderr);
	const char *line = strstr(log, "event=submission ");
	ck_assert_msg(line != NULL, "%s", log);
	ck_assert_msg(strstr(log, "cannot be recorded, the message is not sent: state database: ")
	    != NULL, "%s", log);
	ck_assert_msg(strstr(line, "reason=\"state database: ") != NULL, "%s", line);
	for (const char *p = log; *p; p++)
		ck_assert_msg((*p >= 0x20 && *p < 0x7f) || *p == '\n', "%s", log);
	check_spool_empty(&a);
	auth_free(&a);
}
END_TEST

/* ---- EHLO before AUTH: what the upstream offers ---------------------------- */

struct probe {
	struct submit_conn conn;
	struct smtp_extensions ext;
};

static void *probe_main(void *arg)
{
	struct probe *p = arg;
	submit_ops.extensions(&p->conn, &p->ext);
	return NULL;
}

/* Anybody may send EHLO before logging in, and EHLO asks the submission
 * server what it offers when the cached answer is out of date. While one
 * such question is on its way (here to a server that accepts connections
 * and never greets, as a stuck one does), the other sessions' EHLOs do not
 * open a connection each and wait too: they answer at once from what is
 * known. */
START_TEST(ehlo_probe_single_flight)
{
	struct mdt_env e;
	struct submit_ctx ctx;
	struct probe a, b;
	char url[64];
	int port, lfd = pbt_listen(false, &port);
	pthread_t th;

	ck_assert_int_ge(lfd, 0);
	snprintf(url, sizeof(url), "smtp://127.0.0.1:%d", port);
	mdt_env_init(&e, "probe", "smtp-upstream", url, "smtp-upstream-tls", "none",
	    "upstream-timeout", "3", NULL);
	ck_assert_int_eq(submit_ctx_init(&ctx, &e.ctx, e.opt.state), 0);
	submit_conn_init(&a.conn, &ctx, &e.opt, "192.0.2.5", 40000);
	submit_conn_init(&b.conn, &ctx, &e.opt, "192.0.2.6", 40001);
	uint64_t t0 = base_clock_ms(NULL);
	ck_assert_int_eq(pthread_create(&th, NULL, probe_main, &a), 0);
	pbt_msleep(300);   /* a's question is on its way */
	probe_main(&b);
	uint64_t waited = base_clock_ms(NULL) - t0;
	ck_assert_msg(waited < 1500, "the second EHLO waited %llu ms",
	    (unsigned long long)waited);
	ck_assert_uint_eq(b.ext.size, 0);   /* nothing known yet */
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert_uint_ge(base_clock_ms(NULL) - t0, 2500);   /* a waited for the greeting */
	close(lfd);
	submit_ctx_free(&ctx);
	mdt_env_free(&e);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("submit");
	TCase *tc = tcase_create("sent-copies");
	tcase_set_timeout(tc, 120);
	tcase_add_unchecked_fixture(tc, mdt_dc_setup, mdt_dc_teardown);
	tcase_add_test(tc, spool_file);
	tcase_add_test(tc, never_twice);
	tcase_add_test(tc, special_use_and_missing_file);
	suite_add_tcase(s, tc);
	tc = tcase_create("auth");
	tcase_set_timeout(tc, 60);
	tcase_add_unchecked_fixture(tc, mdt_dc_setup, mdt_dc_teardown);
	tcase_add_test(tc, auth_user_names);
	tcase_add_test(tc, auth_refused_credential);
	tcase_add_test(tc, upstream_idle_timeout);
	tcase_add_test(tc, empty_message_no_copy);
	tcase_add_test(tc, sent_copy_not_recorded);
	tcase_add_test(tc, ehlo_probe_single_flight);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
