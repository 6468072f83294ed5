/* tests/state/check_state_db.c — opening, creating, migrating, refusing a
 * newer schema, transactions, re-entrancy, two connections writing one
 * file from two threads at once, and writes outside a transaction waiting
 * for the other writers. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "state/state.h"
#include "state/state_test.h"
#include "tests/lib/testutil.h"
#include <sqlite3.h>

#include "tests/state/st_util.h"

START_TEST(create_and_reopen)
{
	struct state_account a;
	struct stat sb;
	char wal[400];
	int64_t id;

	ck_assert_int_eq(state_db_version(db), state_schema_version());
	ck_assert_int_ge(state_schema_version(), 2);
	id = st_account("alice");
	/* WAL mode: the write-ahead log exists while the connection is open */
	snprintf(wal, sizeof wal, "%s-wal", st_path);
	ck_assert_int_eq(stat(wal, &sb), 0);
	state_close(db);
	db = st_open();
	ck_assert_int_eq(state_db_version(db), state_schema_version());
	OK(state_account_get(db, "alice", &a));
	ck_assert_int_eq(a.id, id);
	ck_assert_int_eq(a.created, 1000);
}
END_TEST

/* Opening a state file that needs no migration only reads it: it neither
 * takes nor waits for the write lock (every login opens it; a login must
 * not queue behind another session's commit, issue 12). Another connection
 * holds the write lock; the open must not hit the busy timeout (10 s) — it
 * is measured against half of it, far above any read. */
START_TEST(open_takes_no_write_lock)
{
	char err[300];
	st_account("alice");
	OK(state_tx_begin(db));                       /* BEGIN IMMEDIATE */
	st_account("bob");                            /* a write under the lock */
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct state_db *other = state_open(st_path, err, sizeof(err));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_msg(other != NULL, "%s", err);
	ck_assert_int_lt(t1.tv_sec - t0.tv_sec, STATE_BUSY_TIMEOUT_MS / 2000);
	struct state_account a;
	OK(state_account_get(other, "alice", &a));    /* reads go on meanwhile */
	state_close(other);
	OK(state_tx_rollback(db));
}
END_TEST

/* The mode bits of path (asserting it exists). */
static mode_t mode_of(const char *path)
{
	struct stat sb;
	ck_assert_msg(lstat(path, &sb) == 0, "%s missing", path);
	return sb.st_mode & 07777;
}

START_TEST(fresh_file_is_private)
{
	char err[512], wal[400], shm[400], other[400];
	struct state_db *h;

	/* a fresh file is 0600 under the most permissive umask, and so are the
	 * -wal and -shm files SQLite creates next to it */
	state_close(db);
	unlink(st_path);
	mode_t old = umask(0);
	db = st_open();
	umask(old);
	ck_assert_uint_eq(mode_of(st_path), 0600);
	st_account("alice");
	snprintf(wal, sizeof wal, "%s-wal", st_path);
	snprintf(shm, sizeof shm, "%s-shm", st_path);
	ck_assert_uint_eq(mode_of(wal), 0600);
	ck_assert_uint_eq(mode_of(shm), 0600);
	state_close(db);
	db = NULL;

	/* an existing file keeps its mode, silently: never a chmod */
	snprintf(other, sizeof other, "%s/shared.db", st_dir);
	FILE *f = fopen(other, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	ck_assert_int_eq(chmod(other, 0640), 0);
	h = state_open(other, err, sizeof err);
	ck_assert_msg(h != NULL, "%s", err);
	ck_assert_uint_eq(mode_of(other), 0640);
	state_close(h);
	ck_assert_uint_eq(mode_of(other), 0640);

	/* a directory that cannot take the file: a clear error, nothing left */
	snprintf(other, sizeof other, "%s/no/such/dir.db", st_dir);
	ck_assert_ptr_null(state_open(other, err, sizeof err));
	ck_assert_ptr_nonnull(strstr(err, "cannot open: No such file or directory"));
	db = st_open();
}
END_TEST

START_TEST(snapshot_reads_only)
{
	char err[512], old[400], copy[400], side[420];
	struct state_account a;
	size_t len1, len2;
	struct stat sb;

	/* an older schema, closed cleanly: no -wal, no -shm */
	snprintf(old, sizeof old, "%s/old.db", st_dir);
	snprintf(copy, sizeof copy, "%s/copy.db", st_dir);
	struct state_db *h = state_open_at(old, 1, err, sizeof err);
	ck_assert_msg(h != NULL, "%s", err);
	ck_assert_int_eq(state_account_add(h, "alice", STATE_AUTH_PASSTHROUGH, NULL, NULL, 0,
	    7, NULL), STATE_OK);
	state_close(h);
	char *before = pbt_read_file(old, 1 << 24, &len1);
	ck_assert_ptr_nonnull(before);
	ck_assert_int_eq(stat(old, &sb), 0);

	ck_assert_msg(state_snapshot(old, copy, err, sizeof err) == 0, "%s", err);
	/* the original: byte-identical, same time, nothing created beside it */
	char *after = pbt_read_file(old, 1 << 24, &len2);
	ck_assert_uint_eq(len1, len2);
	ck_assert_mem_eq(before, after, len1);
	struct stat sa;
	ck_assert_int_eq(stat(old, &sa), 0);
	ck_assert_int_eq(sa.st_mtime, sb.st_mtime);
	snprintf(side, sizeof side, "%s-wal", old);
	ck_assert_int_ne(access(side, F_OK), 0);
	snprintf(side, sizeof side, "%s-shm", old);
	ck_assert_int_ne(access(side, F_OK), 0);
	ck_assert_uint_eq(mode_of(copy), 0600);
	/* the copy is the old schema, and migrates when opened */
	h = state_open(copy, err, sizeof err);
	ck_assert_msg(h != NULL, "%s", err);
	ck_assert_int_eq(state_db_version(h), state_schema_version());
	ck_assert_int_eq(state_account_get(h, "alice", &a), STATE_OK);
	ck_assert_int_eq(a.created, 7);
	state_close(h);
	free(after);
	after = pbt_read_file(old, 1 << 24, &len2);
	ck_assert_mem_eq(before, after, len1);

	/* an existing destination is never overwritten; a missing source is an error */
	ck_assert_int_eq(state_snapshot(old, copy, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "File exists"));
	unlink(copy);
	snprintf(side, sizeof side, "%s/missing.db", st_dir);
	ck_assert_int_eq(state_snapshot(side, copy, err, sizeof err), -1);
	ck_assert_int_ne(access(copy, F_OK), 0);
	ck_assert_int_ne(access(side, F_OK), 0);

	/* a name with URI syntax in it is a file name all the same */
	char odd[400];
	snprintf(odd, sizeof odd, "%s/a?b#c%%41 d.db", st_dir);
	ck_assert_int_eq(rename(old, odd), 0);
	ck_assert_msg(state_snapshot(odd, copy, err, sizeof err) == 0, "%s", err);
	h = state_open(copy, err, sizeof err);
	ck_assert_msg(h != NULL, "%s", err);
	ck_assert_int_eq(state_account_get(h, "alice", &a), STATE_OK);
	state_close(h);
	unlink(copy);

	/* commits still in the -wal of an open connection are in the copy */
	st_account("bob");
	ck_assert_msg(state_snapshot(st_path, copy, err, sizeof err) == 0, "%s", err);
	h = state_open(copy, err, sizeof err);
	ck_assert_msg(h != NULL, "%s", err);
	ck_assert_int_eq(state_account_get(h, "bob", &a), STATE_OK);
	state_close(h);
	free(before);
	free(after);
}
END_TEST

START_TEST(migrate_from_version_1)
{
	char err[512];
	struct state_device d;
	struct state_journal *j = NULL;
	size_t n = 9;
	int64_t acc, dev, mb, jid;

	state_close(db);
	unlink(st_path);
	db = state_open_at(st_path, 1, err, sizeof err);
	ck_assert_msg(db != NULL, "%s", err);
	ck_assert_int_eq(state_db_version(db), 1);
	acc = st_account("alice");
	/* a device as version 1 wrote it (state.h speaks the current schema) */
	char sql[200];
	snprintf(sql, sizeof sql, "INSERT INTO devices(account_id, name, created) VALUES "
	    "(%lld, 'phone', 1000)", (long long)acc);
	dev = state_test_exec(db, sql);
	ck_assert_int_gt(dev, 0);
	mb = st_mailbox(acc, "INBOX");
	/* version 1 has no journal table yet */
	ck_assert_int_eq(state_journal_begin(db, dev, mb, "hide", NULL, 0, NULL, 0, 5, NULL),
	    STATE_ERROR);
	ck_assert_ptr_nonnull(strstr(state_errmsg(db), "journal"));
	state_close(db);

	db = st_open();
	ck_assert_int_eq(state_db_version(db), state_schema_version());
	OK(state_device_get(db, acc, "phone", &d));
	ck_assert_int_eq(d.id, dev);
	OK(state_journal_begin(db, dev, mb, "hide", NULL, 0, NULL, 0, 5, &jid));
	OK(state_journal_pending(db, acc, &j, &n));
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(j[0].id, jid);
	state_journal_free(j, n);
}
END_TEST

/* Version 3 to 4 (OAuth2): accounts keep their credentials and get the
 * credential kind (password) and an unknown outcome. */
START_TEST(migrate_from_version_3)
{
	static const unsigned char secret[] = { 1, 2, 3 };
	char err[512];
	struct state_account a;

	state_close(db);
	unlink(st_path);
	db = state_open_at(st_path, 3, err, sizeof err);
	ck_assert_msg(db != NULL, "%s", err);
	ck_assert_int_eq(state_db_version(db), 3);
	state_close(db);
	db = NULL;
	/* a row as version 3 wrote it (the API writes the current schema) */
	sqlite3 *raw;
	ck_assert_int_eq(sqlite3_open(st_path, &raw), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(raw, "INSERT INTO accounts(name, auth, created)"
	    " VALUES ('alice', 0, 1)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(raw);

	db = st_open();
	ck_assert_int_eq(state_db_version(db), state_schema_version());
	OK(state_account_get(db, "alice", &a));
	ck_assert_int_eq(a.credential, STATE_CRED_PASSWORD);
	ck_assert_int_eq(a.credential_ok, -1);
	OK(state_account_add(db, "bob", STATE_AUTH_MANAGED, "bob", secret, 3, 1, NULL));
	OK(state_account_get(db, "bob", &a));
	ck_assert_int_eq(a.credential, STATE_CRED_PASSWORD);
	ck_assert_uint_eq(a.secret_len, 3);
}
END_TEST

START_TEST(newer_schema_refused)
{
	char err[512];
	struct state_db *h;

	st_account("alice");
	OK(state_test_set_version(db, 99));
	state_close(db);
	db = NULL;
	h = state_open(st_path, err, sizeof err);
	ck_assert_ptr_null(h);
	ck_assert_msg(strstr(err, "schema version 99 is newer than this popbridge supports")
	    != NULL, "message: %s", err);
	ck_assert_ptr_nonnull(strstr(err, st_path));
	/* refused without touching the file: still refused the same way */
	h = state_open(st_path, err, sizeof err);
	ck_assert_ptr_null(h);
	ck_assert_ptr_nonnull(strstr(err, "99"));
}
END_TEST

START_TEST(not_a_database)
{
	char err[512], path[400];
	FILE *f;

	snprintf(path, sizeof path, "%s/garbage.db", st_dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	for (int i = 0; i < 200; i++)
		fputs("this is not an SQLite database file at all\n", f);
	fclose(f);
	ck_assert_ptr_null(state_open(path, err, sizeof err));
	ck_assert_ptr_nonnull(strstr(err, path));
	ck_assert_ptr_null(state_open("/nonexistent-dir/x/state.db", err, sizeof err));
	ck_assert_ptr_nonnull(strstr(err, "cannot open"));
	ck_assert_ptr_null(state_open("", err, sizeof err));
}
END_TEST

START_TEST(transactions_group_and_nest)
{
	struct state_account a;

	OK(state_tx_begin(db));
	RC(state_tx_begin(db), STATE_INVALID);
	st_account("alice");
	OK(state_tx_rollback(db));
	RC(state_account_get(db, "alice", &a), STATE_NOTFOUND);

	OK(state_tx_begin(db));
	st_account("alice");
	/* a failing call inside the transaction undoes only itself */
	RC(state_account_add(db, "alice", STATE_AUTH_PASSTHROUGH, NULL, NULL, 0, 1, NULL),
	    STATE_EXISTS);
	ck_assert_ptr_nonnull(strstr(state_errmsg(db), "already exists"));
	st_account("bob");
	OK(state_tx_commit(db));
	OK(state_account_get(db, "alice", &a));
	OK(state_account_get(db, "bob", &a));
	RC(state_tx_commit(db), STATE_INVALID);
	RC(state_tx_rollback(db), STATE_INVALID);
}
END_TEST

static int reenter_cb(void *arg, const struct state_account *a)
{
	struct state_account b;
	int *rc = arg;

	*rc = state_account_get(db, a->name, &b);
	return 0;
}

START_TEST(callbacks_cannot_reenter)
{
	int rc = 12345;

	st_account("alice");
	OK(state_account_list(db, reenter_cb, &rc));
	ck_assert_int_eq(rc, STATE_ERROR);
	/* the handle works normally afterwards */
	ck_assert_int_eq(reenter_cb(&rc, &(struct state_account){ .name = "alice" }), 0);
	ck_assert_int_eq(rc, STATE_OK);
}
END_TEST

/* Two threads, two handles, one file: every write succeeds (the busy
 * timeout and BEGIN IMMEDIATE serialise writers; no SQLITE_BUSY). */
struct writer {
	int64_t account_id;
	const char *device;
	int failures;
	char err[256];
};

#define WRITER_ROUNDS 150

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	char err[256];
	struct state_db *h = state_open(st_path, err, sizeof err);
	struct state_device d;
	struct state_mailbox mb;
	int i;

	if (h == NULL) {
		snprintf(w->err, sizeof w->err, "%s", err);
		w->failures++;
		return NULL;
	}
	if (state_device_ensure(h, w->account_id, w->device, "INBOX", 1, 0, &d, NULL) != STATE_OK ||
	    state_mailbox_ensure(h, w->account_id, "INBOX", &mb) != STATE_OK) {
		snprintf(w->err, sizeof w->err, "%s", state_errmsg(h));
		w->failures++;
		state_close(h);
		return NULL;
	}
	for (i = 0; i < WRITER_ROUNDS; i++) {
		struct state_listing it[4];
		struct state_mailbox_status s = { 7, 0, 0 };
		struct state_view_msg *v = NULL;
		size_t n = 0, k;
		int64_t ids[4];
		int rc;

		memset(it, 0, sizeof it);
		for (k = 0; k < 4; k++) {
			it[k].uid = (uint32_t)(i * 4 + k + 1);
			it[k].size = 100;
		}
		s.uidnext = (uint32_t)(i * 4 + 5);
		rc = state_messages_sync(h, mb.id, &s, it, 4, false, i, NULL);
		if (rc == STATE_OK)
			rc = state_view_build(h, d.id, &st_defaults, i, &v, &n);
		for (k = 0; rc == STATE_OK && k < 4 && k < n; k++)
			ids[k] = v[n - 1 - k].id;
		if (rc == STATE_OK)
			rc = state_devmsg_retrieved(h, d.id, ids, n < 4 ? n : 4, i);
		if (rc == STATE_OK)
			rc = state_journal_begin(h, d.id, mb.id, "hide", ids, n < 2 ? n : 2, NULL, 0,
			    i, NULL);
		if (rc == STATE_OK)
			rc = state_device_login(h, d.id, i, "127.0.0.1", "pop3", "TLSv1.3");
		state_view_free(v);
		if (rc != STATE_OK) {
			snprintf(w->err, sizeof w->err, "round %d: %s", i, state_errmsg(h));
			w->failures++;
			break;
		}
	}
	state_close(h);
	return NULL;
}

START_TEST(two_threads_write_one_file)
{
	struct writer w[2];
	pthread_t t[2];
	struct state_journal *j = NULL;
	size_t n = 0;
	int64_t acc = st_account("shared");
	int i;

	memset(w, 0, sizeof w);
	w[0].account_id = acc;
	w[0].device = "pc1";
	w[1].account_id = acc;
	w[1].device = "pc2";
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, writer_main, &w[i]), 0);
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	for (i = 0; i < 2; i++)
		ck_assert_msg(w[i].failures == 0, "writer %d: %s", i, w[i].err);
	OK(state_journal_pending(db, acc, &j, &n));
	ck_assert_uint_eq(n, 2 * WRITER_ROUNDS);
	state_journal_free(j, n);
}
END_TEST

/* A writer of this process that waits for its turn longer than the limit
 * (STATE_WRITER_WAIT_MS; 300 ms here) gets STATE_ERROR with a message that
 * says so, having written nothing; the holder's transaction is untouched and
 * the same handle writes once the turn is free. */
struct late_writer {
	struct state_db *h;
	int64_t account_id;
	int rc;
	int64_t waited_ms;
	char err[256];
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *late_writer_main(void *arg)
{
	struct late_writer *w = arg;
	int64_t t0 = now_ms();

	struct state_device d;

	w->rc = state_device_ensure(w->h, w->account_id, "late", "INBOX", 1, 0, &d, NULL);
	w->waited_ms = now_ms() - t0;
	snprintf(w->err, sizeof w->err, "%s", state_errmsg(w->h));
	return NULL;
}

START_TEST(writer_wait_expires)
{
	struct late_writer w = { .rc = -1 };
	struct state_account a;
	struct state_device d;
	char err[256];
	pthread_t t;

	w.account_id = st_account("office");
	w.h = state_open(st_path, err, sizeof err);
	ck_assert_msg(w.h != NULL, "%s", err);
	state_test_writer_wait_ms(300);
	OK(state_tx_begin(db));
	st_account("holder");
	ck_assert_int_eq(pthread_create(&t, NULL, late_writer_main, &w), 0);
	pthread_join(t, NULL);
	ck_assert_int_eq(w.rc, STATE_ERROR);
	ck_assert_msg(strstr(w.err, "database is locked (waited 300 ms for the other writers of "
	    "this process)") != NULL, "%s", w.err);
	ck_assert_int_ge(w.waited_ms, 290);
	ck_assert_int_lt(w.waited_ms, STATE_BUSY_TIMEOUT_MS);
	OK(state_tx_commit(db));
	OK(state_account_get(db, "holder", &a));
	RC(state_device_get(db, w.account_id, "late", &d), STATE_NOTFOUND);
	/* the turn is free: the same handle writes */
	OK(state_device_ensure(w.h, w.account_id, "late", "INBOX", 1, 0, &d, NULL));
	OK(state_device_get(db, w.account_id, "late", &d));
	state_close(w.h);
	state_test_writer_wait_ms(0);
}
END_TEST

/* A write outside a transaction (state_account_add in autocommit mode)
 * while another handle holds a write transaction: it waits for that
 * transaction and succeeds, whether the holder is a thread of this process
 * (the writer turn) or another process (SQLite's busy timeout); no
 * SQLITE_BUSY_SNAPSHOT from a snapshot older than the holder's commit. */
struct auto_writer {
	struct state_db *h;
	const char *name;
	int rc;
	int64_t waited_ms, done_ms;
	char err[256];
};

static void *auto_writer_main(void *arg)
{
	struct auto_writer *w = arg;
	int64_t t0 = now_ms();

	w->rc = state_account_add(w->h, w->name, STATE_AUTH_PASSTHROUGH, NULL, NULL, 0, 1,
	    NULL);
	w->done_ms = now_ms();
	w->waited_ms = w->done_ms - t0;
	snprintf(w->err, sizeof w->err, "%s", state_errmsg(w->h));
	return NULL;
}

#define HOLD_MS 200

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0)
		;
}

START_TEST(autocommit_write_waits_for_a_thread)
{
	struct auto_writer w = { .name = "waiter", .rc = -1 };
	struct state_account a;
	char err[256];
	pthread_t t;

	st_account("office");
	w.h = state_open(st_path, err, sizeof err);
	ck_assert_msg(w.h != NULL, "%s", err);
	/* B's handle has read the file: its cached schema and WAL index are
	 * from before A's commit, as for a session handle in use */
	OK(state_account_get(w.h, "office", &a));
	OK(state_tx_begin(db));
	st_account("holder");
	ck_assert_int_eq(pthread_create(&t, NULL, auto_writer_main, &w), 0);
	sleep_ms(HOLD_MS);
	int64_t committed = now_ms();

	OK(state_tx_commit(db));
	pthread_join(t, NULL);
	ck_assert_msg(w.rc == STATE_OK, "rc %d after %lld ms: %s", w.rc,
	    (long long)w.waited_ms, w.err);
	ck_assert_int_ge(w.done_ms, committed);
	OK(state_account_get(db, "waiter", &a));
	OK(state_account_get(db, "holder", &a));
	state_close(w.h);
}
END_TEST

/* Account names compare case-insensitively, checked in the same
 * transaction as the insert: "alice" added while another handle's
 * transaction adds "Alice" waits for it, then finds the name taken. */
START_TEST(account_name_checked_under_the_lock)
{
	struct auto_writer w = { .name = "alice", .rc = -1 };
	struct state_account a;
	char err[256];
	pthread_t t;

	w.h = state_open(st_path, err, sizeof err);
	ck_assert_msg(w.h != NULL, "%s", err);
	OK(state_tx_begin(db));
	st_account("Alice");
	ck_assert_int_eq(pthread_create(&t, NULL, auto_writer_main, &w), 0);
	sleep_ms(HOLD_MS / 2);
	OK(state_tx_commit(db));
	pthread_join(t, NULL);
	ck_assert_msg(w.rc == STATE_EXISTS, "rc %d: %s", w.rc, w.err);
	ck_assert_str_eq(w.err, "account 'Alice' already exists");
	OK(state_account_get(db, "alice", &a));
	ck_assert_str_eq(a.name, "Alice");
	state_close(w.h);
}
END_TEST

START_TEST(autocommit_write_waits_for_a_process)
{
	struct state_account a;
	int ready[2];
	char c;
	pid_t pid;
	int status;

	st_account("office");
	OK(state_account_get(db, "office", &a));
	ck_assert_int_eq(pipe(ready), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* another process: its own handle and writer turn */
		char err[256];
		struct state_db *h = state_open(st_path, err, sizeof err);
		int ok = h != NULL && state_tx_begin(h) == STATE_OK &&
		    state_account_add(h, "holder", STATE_AUTH_PASSTHROUGH, NULL, NULL, 0, 1,
		    NULL) == STATE_OK;

		if (write(ready[1], ok ? "y" : "n", 1) != 1)
			_exit(2);
		sleep_ms(HOLD_MS);
		/* CLOCK_MONOTONIC is the machine's: the parent compares */
		int64_t committed = now_ms();

		ok = ok && state_tx_commit(h) == STATE_OK;
		state_close(h);
		if (write(ready[1], &committed, sizeof committed) != sizeof committed)
			_exit(2);
		_exit(ok ? 0 : 1);
	}
	close(ready[1]);
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	ck_assert_int_eq(c, 'y');
	int64_t t0 = now_ms();
	int rc = state_account_add(db, "waiter", STATE_AUTH_PASSTHROUGH, NULL, NULL, 0, 1, NULL);
	int64_t done = now_ms(), committed = 0;

	ck_assert_msg(rc == STATE_OK, "rc %d after %lld ms: %s", rc, (long long)(done - t0),
	    state_errmsg(db));
	ck_assert_int_eq(read(ready[0], &committed, sizeof committed), sizeof committed);
	close(ready[0]);
	ck_assert_int_ge(done, committed);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	OK(state_account_get(db, "waiter", &a));
	OK(state_account_get(db, "holder", &a));
}
END_TEST

/* Writers of this process that queue for the turn hand SQLite's write lock
 * on to each other at once: a write outside a transaction that only polled
 * the lock (SQLite's busy handler, sleeping between tries) would find it
 * taken at every try and fail after the busy timeout while they were all
 * served. It queues with them instead: a device's login record (the
 * hot path of every login) and a new account, in autocommit mode, succeed
 * behind a stream of transactions longer than the busy timeout (300 ms
 * here; the stream about 1 s). */
#define STREAM_ROUNDS 25
#define STREAM_HOLD_MS 20

struct streamer {
	int64_t device_id;
	int failures;
	char err[256];
};

static void *streamer_main(void *arg)
{
	struct streamer *s = arg;
	char err[256];
	struct state_db *h = state_open(st_path, err, sizeof err);

	if (h == NULL) {
		snprintf(s->err, sizeof s->err, "%s", err);
		s->failures++;
		return NULL;
	}
	for (int i = 0; i < STREAM_ROUNDS && s->failures == 0; i++) {
		if (state_tx_begin(h) != STATE_OK ||
		    state_device_login(h, s->device_id, i + 1, "127.0.0.1", "pop3", "") != STATE_OK) {
			snprintf(s->err, sizeof s->err, "round %d: %s", i, state_errmsg(h));
			s->failures++;
			state_tx_rollback(h);
			break;
		}
		sleep_ms(STREAM_HOLD_MS);
		if (state_tx_commit(h) != STATE_OK) {
			snprintf(s->err, sizeof s->err, "round %d: %s", i, state_errmsg(h));
			s->failures++;
		}
	}
	state_close(h);
	return NULL;
}

START_TEST(autocommit_write_queues_behind_transactions)
{
	struct streamer s[2];
	pthread_t t[2];
	struct state_account a;
	struct state_device d;
	char err[256];
	int64_t acc = st_account("office");
	int64_t dev = st_device(acc, "pc");
	struct state_db *h;
	int i;

	state_test_busy_timeout_ms(300);
	h = state_open(st_path, err, sizeof err);
	ck_assert_msg(h != NULL, "%s", err);
	memset(s, 0, sizeof s);
	for (i = 0; i < 2; i++) {
		s[i].device_id = st_device(acc, i == 0 ? "s1" : "s2");
		ck_assert_int_eq(pthread_create(&t[i], NULL, streamer_main, &s[i]), 0);
	}
	sleep_ms(STREAM_HOLD_MS * 3);
	int64_t t0 = now_ms();
	int rc1 = state_device_login(h, dev, 7, "192.0.2.1", "pop3", "TLSv1.3");
	int64_t waited1 = now_ms() - t0;
	char err1[256];

	snprintf(err1, sizeof err1, "%s", state_errmsg(h));
	t0 = now_ms();
	int rc2 = state_account_add(h, "newcomer", STATE_AUTH_PASSTHROUGH, NULL, NULL, 0, 1,
	    NULL);
	int64_t waited2 = now_ms() - t0;

	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	ck_assert_msg(rc1 == STATE_OK, "login record: rc %d after %lld ms: %s", rc1,
	    (long long)waited1, err1);
	ck_assert_msg(rc2 == STATE_OK, "new account: rc %d after %lld ms: %s", rc2,
	    (long long)waited2, state_errmsg(h));
	for (i = 0; i < 2; i++)
		ck_assert_msg(s[i].failures == 0, "streamer %d: %s", i, s[i].err);
	OK(state_device_get(db, acc, "pc", &d));
	ck_assert_int_eq(d.last_login, 7);
	ck_assert_str_eq(d.last_address, "192.0.2.1");
	OK(state_account_get(db, "newcomer", &a));
	state_close(h);
	state_test_busy_timeout_ms(0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("state-db");
	TCase *tc = tcase_create("db");

	tcase_add_checked_fixture(tc, st_setup, st_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, create_and_reopen);
	tcase_add_test(tc, fresh_file_is_private);
	tcase_add_test(tc, snapshot_reads_only);
	tcase_add_test(tc, migrate_from_version_1);
	tcase_add_test(tc, migrate_from_version_3);
	tcase_add_test(tc, open_takes_no_write_lock);
	tcase_add_test(tc, newer_schema_refused);
	tcase_add_test(tc, not_a_database);
	tcase_add_test(tc, transactions_group_and_nest);
	tcase_add_test(tc, callbacks_cannot_reenter);
	tcase_add_test(tc, two_threads_write_one_file);
	tcase_add_test(tc, writer_wait_expires);
	tcase_add_test(tc, autocommit_write_waits_for_a_thread);
	tcase_add_test(tc, autocommit_write_waits_for_a_process);
	tcase_add_test(tc, account_name_checked_under_the_lock);
	tcase_add_test(tc, autocommit_write_queues_behind_transactions);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return st_run(suite());
}
