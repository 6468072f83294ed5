/* state/sent.c — the Sent copies of submitted messages (SPEC §11; the
 * lifecycle is in state.h). */
#include <string.h>

#include "state/db_int.h"

#define SENT_COLS "id, account_id, device_id, file, size, sha256, state, created," \
	" attempts, last_error, folder, uidvalidity, uid"

static const char SQL_ADD[] =
	"INSERT INTO sent_copies(account_id, device_id, file, size, sha256, state, created)"
	" VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6)";
static const char SQL_ACCEPTED[] =
	"UPDATE sent_copies SET state = 1 WHERE id = ?1 AND state = 0";
static const char SQL_COUNT_SENT[] =
	"UPDATE devices SET n_sent = n_sent + 1"
	" WHERE id = (SELECT device_id FROM sent_copies WHERE id = ?1)";
static const char SQL_DEVICE_SENT[] =
	"UPDATE devices SET n_sent = n_sent + 1 WHERE id = ?1";
static const char SQL_SET_STATE[] =
	"UPDATE sent_copies SET state = ?2 WHERE id = ?1 AND state IN (1, 2)";
static const char SQL_DONE[] =
	"UPDATE sent_copies SET state = 3, folder = ?2, uidvalidity = ?3, uid = ?4, finished = ?5"
	" WHERE id = ?1 AND state <> 3";
static const char SQL_FAILED[] =
	"UPDATE sent_copies SET attempts = attempts + 1, last_error = ?2 WHERE id = ?1";
static const char SQL_GET[] =
	"SELECT " SENT_COLS " FROM sent_copies WHERE id = ?1";
static const char SQL_REMOVE[] =
	"DELETE FROM sent_copies WHERE id = ?1";
static const char SQL_PENDING[] =
	"SELECT " SENT_COLS " FROM sent_copies WHERE state IN (1, 2)"
	" AND (?1 = 0 OR account_id = ?1) ORDER BY id LIMIT ?2";
static const char SQL_OWED[] =
	"SELECT count(*) FROM sent_copies INDEXED BY sent_copies_owed WHERE state IN (1, 2)";
static const char SQL_STALE[] =
	"SELECT " SENT_COLS " FROM sent_copies WHERE state = 0 ORDER BY id";
static const char SQL_HAS_FILE[] =
	"SELECT 1 FROM sent_copies WHERE file = ?1";
static const char SQL_CLAIMED[] =
	"SELECT uid FROM sent_copies WHERE account_id = ?1 AND sha256 = ?2 AND folder = ?3"
	" AND uidvalidity = ?4 AND state = 3 AND uid > 0";
static const char SQL_PURGE[] =
	"DELETE FROM sent_copies WHERE state = 3 AND finished < ?1";

static void row_to_sent(sqlite3_stmt *st, struct state_sent *s)
{
	memset(s, 0, sizeof(*s));
	s->id = sqlite3_column_int64(st, 0);
	s->account_id = sqlite3_column_int64(st, 1);
	s->device_id = sqlite3_column_int64(st, 2);
	state_db_col_text(st, 3, s->file, sizeof(s->file));
	s->size = (uint64_t)sqlite3_column_int64(st, 4);
	state_db_col_text(st, 5, s->sha256, sizeof(s->sha256));
	s->state = (enum state_sent_state)sqlite3_column_int(st, 6);
	s->created = sqlite3_column_int64(st, 7);
	s->attempts = sqlite3_column_int64(st, 8);
	state_db_col_text(st, 9, s->last_error, sizeof(s->last_error));
	state_db_col_text(st, 10, s->folder, sizeof(s->folder));
	s->uidvalidity = (uint32_t)sqlite3_column_int64(st, 11);
	s->uid = (uint32_t)sqlite3_column_int64(st, 12);
}

static bool file_ok(const char *f)
{
	size_t n = f != NULL ? strlen(f) : 0;

	if (n == 0 || n > STATE_SENT_FILE_MAX || f[0] == '.')
		return false;
	return strspn(f, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

static bool sha_ok(const char *h)
{
	return h != NULL && strlen(h) == STATE_SHA256_HEX &&
	    strspn(h, "0123456789abcdef") == STATE_SHA256_HEX;
}

int state_sent_add(struct state_db *db, int64_t account_id, int64_t device_id,
    const char *file, uint64_t size, const char *sha256, int64_t now, int64_t *id)
{
	DB_ENTER(db);
	if (!file_ok(file) || !sha_ok(sha256) || size > INT64_MAX)
		return state_db_fail(db, STATE_INVALID, "sent copy: bad file name, size or hash");
	sqlite3_stmt *st = state_db_stmt(db, SQL_ADD);
	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_int64(st, 1, account_id);
	if (device_id > 0)
		sqlite3_bind_int64(st, 2, device_id);
	else
		sqlite3_bind_null(st, 2);
	sqlite3_bind_text(st, 3, file, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 4, (int64_t)size);
	sqlite3_bind_text(st, 5, sha256, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 6, now);
	int rc = state_db_exec_stmt(db, st, "sent copy: recording");
	if (rc == STATE_OK && id != NULL)
		*id = sqlite3_last_insert_rowid(db->conn);
	return rc;
}

static int exec_id(struct state_db *db, const char *sql, int64_t id, const char *what)
{
	sqlite3_stmt *st = state_db_stmt(db, sql);
	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_int64(st, 1, id);
	return state_db_exec_one(db, st, what, "sent copy in that state");
}

int state_sent_accepted(struct state_db *db, int64_t id)
{
	struct db_tx tx;

	DB_ENTER(db);
	if (state_db_tx_begin(db, &tx) != STATE_OK)
		return STATE_ERROR;
	int rc = exec_id(db, SQL_ACCEPTED, id, "sent copy: accepted");
	if (rc == STATE_OK) {
		sqlite3_stmt *st = state_db_stmt(db, SQL_COUNT_SENT);
		if (st == NULL) {
			rc = STATE_ERROR;
		} else {
			sqlite3_bind_int64(st, 1, id);
			rc = state_db_exec_stmt(db, st, "sent copy: counting");
		}
	}
	return state_db_tx_end(db, &tx, rc);
}

int state_device_sent(struct state_db *db, int64_t device_id)
{
	DB_ENTER(db);
	return exec_id(db, SQL_DEVICE_SENT, device_id, "device: counting a message sent");
}

int state_sent_set_state(struct state_db *db, int64_t id, enum state_sent_state s)
{
	DB_ENTER(db);
	if (s != STATE_SENT_PENDING && s != STATE_SENT_APPENDING)
		return state_db_fail(db, STATE_INVALID, "sent copy: not a state to set");
	sqlite3_stmt *st = state_db_stmt(db, SQL_SET_STATE);
	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int(st, 2, (int)s);
	return state_db_exec_one(db, st, "sent copy: state", "sent copy pending");
}

int state_sent_done(struct state_db *db, int64_t id, const char *folder, uint32_t uidvalidity,
    uint32_t uid, int64_t now)
{
	DB_ENTER(db);
	if (!state_db_text_ok(folder, STATE_FOLDER_MAX, false))
		return state_db_fail(db, STATE_INVALID, "sent copy: bad folder name");
	sqlite3_stmt *st = state_db_stmt(db, SQL_DONE);
	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, folder, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, uidvalidity);
	sqlite3_bind_int64(st, 4, uid);
	sqlite3_bind_int64(st, 5, now);
	size_t n = 0;
	return state_db_exec_count(db, st, "sent copy: done", &n);
}

int state_sent_failed(struct state_db *db, int64_t id, const char *error, int64_t *attempts)
{
	struct state_sent s;

	DB_ENTER(db);
	if (attempts != NULL)
		*attempts = 0;
	sqlite3_stmt *st = state_db_stmt(db, SQL_FAILED);
	if (st == NULL)
		return STATE_ERROR;
	size_t len = error != NULL ? strnlen(error, STATE_ERROR_TEXT_MAX) : 0;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, error != NULL ? error : "", (int)len, SQLITE_TRANSIENT);
	int rc = state_db_exec_one(db, st, "sent copy: counting a failure", "sent copy");
	if (rc == STATE_OK && attempts != NULL && state_sent_get(db, id, &s) == STATE_OK)
		*attempts = s.attempts;
	return rc;
}

int state_sent_get(struct state_db *db, int64_t id, struct state_sent *out)
{
	DB_ENTER(db);
	sqlite3_stmt *st = state_db_stmt(db, SQL_GET);
	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_int64(st, 1, id);
	int rc = state_db_step_row(db, st, "sent copy", "sent copy");
	if (rc != STATE_OK)
		return rc;
	row_to_sent(st, out);
	state_db_done(st);
	return STATE_OK;
}

int state_sent_remove(struct state_db *db, int64_t id)
{
	DB_ENTER(db);
	return exec_id(db, SQL_REMOVE, id, "sent copy: removing");
}

struct list_ctx {
	state_sent_cb *cb;
	void *arg;
};

static int list_row(void *vctx, sqlite3_stmt *st)
{
	struct list_ctx *c = vctx;
	struct state_sent s;

	row_to_sent(st, &s);
	return c->cb(c->arg, &s);
}

int state_sent_pending(struct state_db *db, int64_t account_id, size_t limit,
    state_sent_cb *cb, void *arg)
{
	struct list_ctx c = { cb, arg };

	DB_ENTER(db);
	sqlite3_stmt *st = state_db_stmt(db, SQL_PENDING);
	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_int64(st, 1, account_id);
	sqlite3_bind_int64(st, 2, limit > 0 && limit < INT64_MAX ? (int64_t)limit : -1);
	return state_db_each_row(db, st, list_row, &c, "sent copies: pending");
}

int state_sent_owed(struct state_db *db, int64_t *n)
{
	DB_ENTER(db);
	sqlite3_stmt *st = state_db_stmt(db, SQL_OWED);
	if (st == NULL)
		return STATE_ERROR;
	int rc = state_db_step_row(db, st, "sent copies: counting owed ones", "sent count");
	if (rc != STATE_OK)
		return rc;
	*n = sqlite3_column_int64(st, 0);
	state_db_done(st);
	return STATE_OK;
}

int state_sent_stale(struct state_db *db, state_sent_cb *cb, void *arg)
{
	struct list_ctx c = { cb, arg };

	DB_ENTER(db);
	sqlite3_stmt *st = state_db_stmt(db, SQL_STALE);
	if (st == NULL)
		return STATE_ERROR;
	return state_db_each_row(db, st, list_row, &c, "sent copies: unanswered");
}

int state_sent_has_file(struct state_db *db, const char *file, bool *has)
{
	DB_ENTER(db);
	*has = false;
	sqlite3_stmt *st = state_db_stmt(db, SQL_HAS_FILE);
	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_text(st, 1, file, -1, SQLITE_TRANSIENT);
	int rc = state_db_step_row(db, st, "sent copies: file", "file");
	if (rc == STATE_OK) {
		*has = true;
		state_db_done(st);
	}
	return rc == STATE_NOTFOUND ? STATE_OK : rc;
}

struct claimed_ctx {
	uint32_t *out;
	size_t cap, n;
};

static int claimed_row(void *vctx, sqlite3_stmt *st)
{
	struct claimed_ctx *c = vctx;

	if (c->n < c->cap)
		c->out[c->n] = (uint32_t)sqlite3_column_int64(st, 0);
	c->n++;
	return 0;
}

int state_sent_claimed(struct state_db *db, int64_t account_id, const char *sha256,
    const char *folder, uint32_t uidvalidity, uint32_t *out, size_t cap, size_t *n)
{
	struct claimed_ctx c = { out, cap, 0 };

	DB_ENTER(db);
	*n = 0;
	sqlite3_stmt *st = state_db_stmt(db, SQL_CLAIMED);
	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_int64(st, 1, account_id);
	sqlite3_bind_text(st, 2, sha256, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, folder, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 4, uidvalidity);
	int rc = state_db_each_row(db, st, claimed_row, &c, "sent copies: claimed");
	*n = c.n;
	return rc;
}

int state_sent_purge(struct state_db *db, int64_t before, size_t *removed)
{
	DB_ENTER(db);
	sqlite3_stmt *st = state_db_stmt(db, SQL_PURGE);
	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_int64(st, 1, before);
	return state_db_exec_count(db, st, "sent copies: purge", removed);
}
