/* state/db_int.h — internals shared by the state/ files (not for callers,
 * who use state.h). The functions are external only so that the state/
 * files can share them, and carry the state_ prefix because they are
 * linked into libstate.a; most are state_db_*.
 *
 * One struct state_db per SQLite connection. Statements are prepared on
 * first use and cached by the address of their SQL text (every SQL text is a
 * static const array in exactly one file, so the address is its identity).
 * state_db_stmt() hands a statement out reset with cleared bindings;
 * state_db_done() resets it again so no read transaction outlives the call.
 *
 * Write transactions: state_db_tx_begin() opens BEGIN IMMEDIATE when the
 * handle is in autocommit mode (so a writer waits in the busy handler for
 * the write lock up front instead of failing with SQLITE_BUSY on a lock
 * upgrade), or a SAVEPOINT inside a transaction the caller opened with
 * state_tx_begin(). BEGIN IMMEDIATE comes after the process's writer turn
 * (db.c), and so does a writing statement stepped in autocommit mode by
 * state_db_exec_stmt() (and _one, _count), which wraps it in a BEGIN
 * IMMEDIATE of its own: every write takes the turn. Writes go through
 * those three only, never through state_db_step_row/each_row, and never
 * inside state_db_tx_begin_read() (a deferred read transaction would
 * upgrade to write without the turn or the busy timeout).
 */
#ifndef STATE_DB_INT_H
#define STATE_DB_INT_H

#include <sqlite3.h>
#include <stdbool.h>

#include "state/state.h"

/* Distinct SQL texts one handle may cache; each file has a handful. */
#define DB_STMT_CACHE 128
#define DB_ERR_MAX 256

struct db_cached {
	const char *sql;
	sqlite3_stmt *st;
};

struct state_db {
	sqlite3 *conn;
	char path[512];
	int in_cb;              /* > 0 while a caller's callback runs */
	bool writer;            /* holds the process's writer turn (db.c) */
	size_t n_cached;
	struct db_cached cache[DB_STMT_CACHE];
	char err[DB_ERR_MAX];
};

struct db_tx {
	bool outer; /* BEGIN IMMEDIATE (true) or SAVEPOINT (false) */
	bool open;
};

/* Refuse calls from inside a callback; clear the error. 0 or -1. */
int state_db_enter(struct state_db *db);
#define DB_ENTER(db) \
	do { \
		if (state_db_enter(db) != 0) \
			return STATE_ERROR; \
	} while (0)

/* Set the error message; return rc (for `return state_db_fail(...)`). */
int state_db_fail(struct state_db *db, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* STATE_ERROR with "what: <sqlite message>". */
int state_db_sqlerr(struct state_db *db, const char *what);

/* A cached, reset statement for sql (a static const array), or NULL with
 * the error set. */
sqlite3_stmt *state_db_stmt(struct state_db *db, const char *sql);
void state_db_done(sqlite3_stmt *st);
/* Step a bound query and hand each row to row(), which converts it and
 * calls the caller's callback; in_cb is raised meanwhile, so that callback
 * cannot re-enter the handle. A non-zero return from row() stops early.
 * Resets st. STATE_OK, or STATE_ERROR with "<what>: <sqlite message>". */
typedef int db_row_fn(void *ctx, sqlite3_stmt *st);
int state_db_each_row(struct state_db *db, sqlite3_stmt *st, db_row_fn *row, void *ctx,
    const char *what);
/* Step a statement that returns no row (or ignore rows): STATE_OK, or
 * STATE_EXISTS on a UNIQUE violation, else STATE_ERROR; resets it. */
int state_db_exec_stmt(struct state_db *db, sqlite3_stmt *st, const char *what);
/* state_db_exec_stmt for an UPDATE/DELETE of one row: STATE_NOTFOUND with
 * "no such <what_row>" when it matched none. */
int state_db_exec_one(struct state_db *db, sqlite3_stmt *st, const char *what,
    const char *what_row);
/* state_db_exec_stmt, then the number of rows changed into *n (may be
 * NULL). */
int state_db_exec_count(struct state_db *db, sqlite3_stmt *st, const char *what, size_t *n);
/* Step st, a bound query expected to return a row: STATE_OK with the row
 * current (the caller reads it, then state_db_done()); otherwise st is
 * reset and the result is STATE_NOTFOUND ("no such <what_row>") or
 * STATE_ERROR ("<what>: <sqlite message>"). */
int state_db_step_row(struct state_db *db, sqlite3_stmt *st, const char *what,
    const char *what_row);
/* Run SQL without a result (transaction control, pragmas, schema). */
int state_db_exec(struct state_db *db, const char *sql, const char *what);
/* Create path as an empty file of mode 0600 (an empty file is an empty
 * SQLite database). An existing file is left exactly as it is: 0, unless
 * must_be_new (then -1). -1 with "path: cannot open: reason" in err. */
int state_db_create_private(const char *path, bool must_be_new, char *err, size_t errlen);

int state_db_tx_begin(struct state_db *db, struct db_tx *tx);
int state_db_tx_commit(struct state_db *db, struct db_tx *tx);
/* Safe to call after a commit or on an unopened tx (no-op then). */
void state_db_tx_rollback(struct state_db *db, struct db_tx *tx);
/* End a write transaction by its outcome: commit when rc is STATE_OK,
 * else roll back and return rc. */
int state_db_tx_end(struct state_db *db, struct db_tx *tx, int rc);

/* A read transaction (one snapshot for several statements): BEGIN when in
 * autocommit mode, nothing inside the caller's transaction. */
int state_db_tx_begin_read(struct state_db *db, struct db_tx *tx);
void state_db_tx_end_read(struct state_db *db, struct db_tx *tx);

/* Validation: s non-NULL, at most max octets, no control characters, and
 * non-empty unless allow_empty. */
bool state_db_text_ok(const char *s, size_t max, bool allow_empty);
/* Copy a (possibly NULL) column text into a buffer of cap octets. */
void state_db_col_text(sqlite3_stmt *st, int col, char *buf, size_t cap);
/* Step st, a bound query whose first column is a name that would clash:
 * STATE_OK when it has no row; STATE_EXISTS ("<what> '<name>' already
 * exists", the stored spelling) when it has; otherwise an error. Resets st. */
int state_db_name_free(struct state_db *db, sqlite3_stmt *st, const char *what);
int state_db_bind_text_or_null(sqlite3_stmt *st, int idx, const char *s);

/* Row readers: the column lists (table aliases a = accounts, d = devices)
 * and the functions reading them from column c on. */
#define DB_ACCOUNT_COLS "a.id, a.name, a.auth, a.upstream_user, a.secret, a.created," \
	" a.credential, a.credential_ok, a.moved"
#define DB_ACCOUNT_NCOLS 9
#define DB_DEVICE_COLS \
	"d.id, d.account_id, a.name, d.name, d.created, d.last_login," \
	" d.last_address, d.protocol, d.tls, d.revoked, d.folder, d.offer, d.win," \
	" d.seen_on, d.dele, d.password_hash, d.enrol_mailbox_id, d.enrol_seq," \
	" d.enrol_time, d.n_retrieved, d.n_deleted, d.n_waiting, d.login_delay, d.pop3_login"
/* DB_DEVICE_COLS plus the commit counts and the messages sent and Sent
 * copies pending (listings for report and device list only:
 * state_db_row_to_device reads them when the row has them). */
#define DB_DEVICE_COMMIT_COLS DB_DEVICE_COLS "," \
	" (SELECT COUNT(*) FROM journal j WHERE j.account_id = d.account_id" \
	"  AND j.device_id = d.id AND j.state <> 2)," \
	" (SELECT COUNT(*) FROM journal j WHERE j.account_id = d.account_id" \
	"  AND j.device_id = d.id AND j.state <> 2" \
	"  AND j.failures >= " STATE_STR(STATE_JOURNAL_STUCK) ")," \
	" d.n_sent," \
	" (SELECT COUNT(*) FROM sent_copies s WHERE s.device_id = d.id AND s.state IN (1, 2))"
#define STATE_STR_(x) #x
#define STATE_STR(x) STATE_STR_(x)
void state_db_row_to_account(sqlite3_stmt *st, int c, struct state_account *a);
/* Insert an account row (accounts.c): the name checked and free, the
 * credentials as given (the caller checked them). Not a transaction of its
 * own for another kind than a password: the caller's. */
int state_db_account_insert(struct state_db *db, const char *name, enum state_auth auth,
    const char *upstream_user, const void *secret, size_t secret_len,
    enum state_credential credential, int64_t now, int64_t *id);
void state_db_row_to_device(sqlite3_stmt *st, int c, struct state_device *d);

/* Schema (schema.c): migrate the open connection to `target` (0 = the
 * latest). Refuses a newer file. */
int state_db_migrate(struct state_db *db, int target);

/* Per-device marks inside the caller's transaction (devmsg.c). */
int state_devmsg_mark_offered(struct state_db *db, int64_t device_id, int64_t message_id,
    int64_t now);
int state_devmsg_mark_deleted(struct state_db *db, int64_t device_id, int64_t message_id,
    int64_t now);

/* Word checks (devices.c). */
bool state_db_offer_word(const char *w, int *code);
bool state_db_dele_word(const char *w);
bool state_db_seen_on_word(const char *w);

#endif
