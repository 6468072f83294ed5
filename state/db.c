/* state/db.c — the connection: open, close, errors, statement cache,
 * transactions. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "state/db_int.h"
#include "state/state_test.h"

int state_db_enter(struct state_db *db)
{
	if (db->in_cb > 0) {
		snprintf(db->err, sizeof db->err,
		    "state: called from inside a callback on the same handle (re-entered)");
		return -1;
	}
	db->err[0] = '\0';
	return 0;
}

int state_db_fail(struct state_db *db, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(db->err, sizeof db->err, fmt, ap);
	va_end(ap);
	return rc;
}

int state_db_sqlerr(struct state_db *db, const char *what)
{
	return state_db_fail(db, STATE_ERROR, "%s: %s", what, sqlite3_errmsg(db->conn));
}

sqlite3_stmt *state_db_stmt(struct state_db *db, const char *sql)
{
	size_t i;
	sqlite3_stmt *st = NULL;

	for (i = 0; i < db->n_cached; i++) {
		if (db->cache[i].sql == sql) {
			st = db->cache[i].st;
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			return st;
		}
	}
	if (db->n_cached == DB_STMT_CACHE) {
		state_db_fail(db, STATE_ERROR, "state: statement cache full (%d)", DB_STMT_CACHE);
		return NULL;
	}
	if (sqlite3_prepare_v3(db->conn, sql, -1, SQLITE_PREPARE_PERSISTENT, &st,
	    NULL) != SQLITE_OK) {
		state_db_sqlerr(db, "prepare");
		sqlite3_finalize(st);
		return NULL;
	}
	db->cache[db->n_cached].sql = sql;
	db->cache[db->n_cached].st = st;
	db->n_cached++;
	return st;
}

void state_db_done(sqlite3_stmt *st)
{
	if (st != NULL)
		sqlite3_reset(st);
}


int state_db_each_row(struct state_db *db, sqlite3_stmt *st, db_row_fn *row, void *ctx,
    const char *what)
{
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int stop;

		db->in_cb++;
		stop = row(ctx, st);
		db->in_cb--;
		if (stop != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	state_db_done(st);
	if (rc != SQLITE_DONE)
		return state_db_sqlerr(db, what);
	return STATE_OK;
}

static int begin_write(struct state_db *db, const char *what);
static void writer_give(struct state_db *db);

static int step_to_end(struct state_db *db, sqlite3_stmt *st, const char *what)
{
	int rc;

	do
		rc = sqlite3_step(st);
	while (rc == SQLITE_ROW);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(st);
		return STATE_OK;
	}
	if ((rc & 0xff) == SQLITE_CONSTRAINT &&
	    (sqlite3_extended_errcode(db->conn) == SQLITE_CONSTRAINT_UNIQUE ||
	    sqlite3_extended_errcode(db->conn) == SQLITE_CONSTRAINT_PRIMARYKEY)) {
		state_db_fail(db, STATE_EXISTS, "%s: already exists", what);
		sqlite3_reset(st);
		return STATE_EXISTS;
	}
	state_db_sqlerr(db, what);
	sqlite3_reset(st);
	return STATE_ERROR;
}

/* A writing statement outside a transaction runs in a BEGIN IMMEDIATE of
 * its own, with the writer turn, like every other write (db_int.h): in
 * autocommit mode it would only poll SQLite's write lock from the busy
 * handler, which the writers queued on the turn hand on to each other at
 * once, and fail after the busy timeout while they were all served. One
 * commit, as autocommit made. */
int state_db_exec_stmt(struct state_db *db, sqlite3_stmt *st, const char *what)
{
	bool own = sqlite3_get_autocommit(db->conn) && !sqlite3_stmt_readonly(st);
	int rc;

	if (own && begin_write(db, what) != STATE_OK) {
		sqlite3_reset(st);
		return STATE_ERROR;
	}
	rc = step_to_end(db, st, what);
	if (!own)
		return rc;
	if (rc == STATE_OK && state_db_exec(db, "COMMIT", what) != STATE_OK)
		rc = STATE_ERROR;
	if (rc != STATE_OK && !sqlite3_get_autocommit(db->conn))
		sqlite3_exec(db->conn, "ROLLBACK", NULL, NULL, NULL);
	writer_give(db);
	return rc;
}

int state_db_exec_one(struct state_db *db, sqlite3_stmt *st, const char *what,
    const char *what_row)
{
	int rc = state_db_exec_stmt(db, st, what);

	if (rc == STATE_OK && sqlite3_changes(db->conn) == 0)
		return state_db_fail(db, STATE_NOTFOUND, "no such %s", what_row);
	return rc;
}

int state_db_exec_count(struct state_db *db, sqlite3_stmt *st, const char *what, size_t *n)
{
	int rc = state_db_exec_stmt(db, st, what);

	if (rc == STATE_OK && n != NULL)
		*n = (size_t)sqlite3_changes(db->conn);
	return rc;
}

int state_db_step_row(struct state_db *db, sqlite3_stmt *st, const char *what,
    const char *what_row)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		return STATE_OK;
	state_db_done(st);
	if (rc == SQLITE_DONE)
		return state_db_fail(db, STATE_NOTFOUND, "no such %s", what_row);
	return state_db_sqlerr(db, what);
}

int state_db_exec(struct state_db *db, const char *sql, const char *what)
{
	char *msg = NULL;

	if (sqlite3_exec(db->conn, sql, NULL, NULL, &msg) != SQLITE_OK) {
		state_db_fail(db, STATE_ERROR, "%s: %s", what,
		    msg != NULL ? msg : sqlite3_errmsg(db->conn));
		sqlite3_free(msg);
		return STATE_ERROR;
	}
	return STATE_OK;
}

/* The writers of this process take turns here before SQLite's write lock.
 * SQLite's busy handler retries by sleeping (up to 100 ms a try): hundreds
 * of sessions racing for the lock waste it between tries and starve each
 * other (issue 12's load run: about 105 new-device logins a second, some
 * waiting past the busy timeout); a mutex hands the turn on at once.
 * Recursive, for a thread with transactions on two files; waited for at
 * most STATE_WRITER_WAIT_MS. Other processes (the admin commands) still meet
 * SQLite's own lock and busy timeout. */
static pthread_mutex_t writers = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static _Atomic unsigned writer_wait_ms = STATE_WRITER_WAIT_MS;
static _Atomic unsigned busy_timeout_ms = STATE_BUSY_TIMEOUT_MS;

void state_test_writer_wait_ms(unsigned ms)
{
	atomic_store(&writer_wait_ms, ms ? ms : STATE_WRITER_WAIT_MS);
}

void state_test_busy_timeout_ms(unsigned ms)
{
	atomic_store(&busy_timeout_ms, ms ? ms : STATE_BUSY_TIMEOUT_MS);
}

static int writer_take(struct state_db *db, const char *what)
{
	struct timespec until;
	unsigned wait_ms = atomic_load(&writer_wait_ms);

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += wait_ms / 1000;
	until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	int e = pthread_mutex_timedlock(&writers, &until);
	if (e != 0)
		return state_db_fail(db, STATE_ERROR, "%s: database is locked "
		    "(waited %u ms for the other writers of this process)", what, wait_ms);
	db->writer = true;
	return STATE_OK;
}

static void writer_give(struct state_db *db)
{
	if (db->writer) {
		db->writer = false;
		pthread_mutex_unlock(&writers);
	}
}

/* BEGIN IMMEDIATE with the writer turn; the turn is given back when it
 * fails. An error reads "<what>: ...". */
static int begin_write(struct state_db *db, const char *what)
{
	if (writer_take(db, what) != STATE_OK)
		return STATE_ERROR;
	if (state_db_exec(db, "BEGIN IMMEDIATE", what) != STATE_OK) {
		writer_give(db);
		return STATE_ERROR;
	}
	return STATE_OK;
}

int state_db_tx_begin(struct state_db *db, struct db_tx *tx)
{
	tx->open = false;
	tx->outer = sqlite3_get_autocommit(db->conn) != 0;
	if (tx->outer ? begin_write(db, "begin transaction") != STATE_OK
	              : state_db_exec(db, "SAVEPOINT state_sp", "begin transaction") != STATE_OK)
		return STATE_ERROR;
	tx->open = true;
	return STATE_OK;
}

int state_db_tx_commit(struct state_db *db, struct db_tx *tx)
{
	if (!tx->open)
		return state_db_fail(db, STATE_ERROR, "state: commit without a transaction");
	if (state_db_exec(db, tx->outer ? "COMMIT" : "RELEASE state_sp",
	    "commit") != STATE_OK) {
		state_db_tx_rollback(db, tx);
		return STATE_ERROR;
	}
	tx->open = false;
	if (tx->outer)
		writer_give(db);
	return STATE_OK;
}

void state_db_tx_rollback(struct state_db *db, struct db_tx *tx)
{
	char saved[DB_ERR_MAX];

	if (!tx->open)
		return;
	tx->open = false;
	/* keep the message that explains why we roll back */
	memcpy(saved, db->err, sizeof saved);
	if (tx->outer) {
		if (!sqlite3_get_autocommit(db->conn))
			sqlite3_exec(db->conn, "ROLLBACK", NULL, NULL, NULL);
		writer_give(db);
	} else {
		sqlite3_exec(db->conn, "ROLLBACK TO state_sp; RELEASE state_sp", NULL,
		    NULL, NULL);
	}
	memcpy(db->err, saved, sizeof saved);
}

int state_db_tx_end(struct state_db *db, struct db_tx *tx, int rc)
{
	if (rc != STATE_OK) {
		state_db_tx_rollback(db, tx);
		return rc;
	}
	return state_db_tx_commit(db, tx);
}

int state_db_tx_begin_read(struct state_db *db, struct db_tx *tx)
{
	tx->outer = sqlite3_get_autocommit(db->conn) != 0;
	tx->open = false;
	if (tx->outer) {
		if (state_db_exec(db, "BEGIN", "begin read transaction") != STATE_OK)
			return STATE_ERROR;
		tx->open = true;
	}
	return STATE_OK;
}

void state_db_tx_end_read(struct state_db *db, struct db_tx *tx)
{
	if (tx->open && !sqlite3_get_autocommit(db->conn))
		sqlite3_exec(db->conn, "COMMIT", NULL, NULL, NULL);
	tx->open = false;
}

bool state_db_text_ok(const char *s, size_t max, bool allow_empty)
{
	size_t n;

	if (s == NULL)
		return false;
	for (n = 0; s[n] != '\0'; n++) {
		unsigned char c = (unsigned char)s[n];

		if (n >= max || c < 0x20 || c == 0x7f)
			return false;
	}
	return allow_empty || n > 0;
}

void state_db_col_text(sqlite3_stmt *st, int col, char *buf, size_t cap)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	size_t n;

	if (t == NULL) {
		buf[0] = '\0';
		return;
	}
	n = (size_t)sqlite3_column_bytes(st, col);
	if (n >= cap)
		n = cap - 1;
	memcpy(buf, t, n);
	buf[n] = '\0';
}

int state_db_name_free(struct state_db *db, sqlite3_stmt *st, const char *what)
{
	char taken[STATE_ACCOUNT_MAX + 1];
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		state_db_col_text(st, 0, taken, sizeof taken);
	state_db_done(st);
	if (rc == SQLITE_ROW)
		return state_db_fail(db, STATE_EXISTS, "%s '%s' already exists", what, taken);
	return rc == SQLITE_DONE ? STATE_OK : state_db_sqlerr(db, what);
}

int state_db_bind_text_or_null(sqlite3_stmt *st, int idx, const char *s)
{
	if (s == NULL || s[0] == '\0')
		return sqlite3_bind_null(st, idx);
	return sqlite3_bind_text(st, idx, s, -1, SQLITE_TRANSIENT);
}

/* Why 0600 (db_int.h): the device password hashes, sealed upstream
 * passwords and mail metadata a state file holds are nobody else's
 * business, whatever the umask. SQLite gives the -wal and -shm files the
 * main file's mode. */
int state_db_create_private(const char *path, bool must_be_new, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		if (errno == EEXIST && !must_be_new)
			return 0;
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	/* the umask may have taken bits off 0600: we made the file, set it */
	if (fchmod(fd, 0600) != 0) {
		snprintf(err, errlen, "%s: cannot set mode 0600: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	return 0;
}

static struct state_db *open_conn(const char *path, char *err, size_t errlen)
{
	struct state_db *db;
	int rc;

	if (path == NULL || path[0] == '\0' || strlen(path) >= sizeof db->path) {
		snprintf(err, errlen, "state: bad database path");
		return NULL;
	}
	if (state_db_create_private(path, false, err, errlen) != 0)
		return NULL;
	db = calloc(1, sizeof *db);
	if (db == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	memcpy(db->path, path, strlen(path) + 1);
	rc = sqlite3_open_v2(path, &db->conn,
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s: cannot open: %s", path,
		    db->conn != NULL ? sqlite3_errmsg(db->conn) : sqlite3_errstr(rc));
		sqlite3_close(db->conn);
		free(db);
		return NULL;
	}
	sqlite3_extended_result_codes(db->conn, 1);
	sqlite3_busy_timeout(db->conn, (int)atomic_load(&busy_timeout_ms));
	if (state_db_exec(db, "PRAGMA journal_mode=WAL", "journal mode") != STATE_OK ||
	    state_db_exec(db, "PRAGMA synchronous=FULL", "synchronous") != STATE_OK ||
	    state_db_exec(db, "PRAGMA foreign_keys=ON", "foreign keys") != STATE_OK) {
		snprintf(err, errlen, "%s: %s", path, db->err);
		state_close(db);
		return NULL;
	}
	return db;
}

struct state_db *state_open_at(const char *path, int target, char *err, size_t errlen)
{
	struct state_db *db = open_conn(path, err, errlen);

	if (db == NULL)
		return NULL;
	if (state_db_migrate(db, target) != STATE_OK) {
		snprintf(err, errlen, "%s: %s", path, db->err);
		state_close(db);
		return NULL;
	}
	return db;
}

struct state_db *state_open(const char *path, char *err, size_t errlen)
{
	return state_open_at(path, 0, err, errlen);
}

void state_close(struct state_db *db)
{
	size_t i;

	if (db == NULL)
		return;
	for (i = 0; i < db->n_cached; i++)
		sqlite3_finalize(db->cache[i].st);
	sqlite3_close(db->conn);      /* rolls back a transaction left open */
	writer_give(db);
	free(db);
}

const char *state_errmsg(const struct state_db *db)
{
	return db != NULL ? db->err : "state: no database handle";
}

int state_tx_begin(struct state_db *db)
{
	DB_ENTER(db);
	if (!sqlite3_get_autocommit(db->conn))
		return state_db_fail(db, STATE_INVALID, "state: a transaction is already open");
	return begin_write(db, "begin transaction");
}

int state_tx_commit(struct state_db *db)
{
	DB_ENTER(db);
	if (sqlite3_get_autocommit(db->conn)) {
		writer_give(db);      /* SQLite may have rolled it back itself */
		return state_db_fail(db, STATE_INVALID, "state: no transaction is open");
	}
	int rc = state_db_exec(db, "COMMIT", "commit");
	if (rc != STATE_OK)
		sqlite3_exec(db->conn, "ROLLBACK", NULL, NULL, NULL);
	writer_give(db);
	return rc;
}

int state_tx_rollback(struct state_db *db)
{
	DB_ENTER(db);
	if (sqlite3_get_autocommit(db->conn)) {
		writer_give(db);      /* SQLite may have rolled it back itself */
		return state_db_fail(db, STATE_INVALID, "state: no transaction is open");
	}
	int rc = state_db_exec(db, "ROLLBACK", "rollback");
	writer_give(db);
	return rc;
}
