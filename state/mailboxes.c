/* state/mailboxes.c — one row per (account, folder): the upstream status as
 * last seen. */
#include <string.h>

#include "state/db_int.h"
#include "state/mailbox_int.h"

#define MAILBOX_COLS "id, account_id, folder, uidvalidity, uidnext, highestmodseq," \
	" seq_base, list_gen"

static const char SQL_BY_FOLDER[] =
	"SELECT " MAILBOX_COLS " FROM mailboxes WHERE account_id = ?1 AND folder = ?2";
static const char SQL_BY_ID[] =
	"SELECT " MAILBOX_COLS " FROM mailboxes WHERE id = ?1";
static const char SQL_INSERT[] =
	"INSERT INTO mailboxes(account_id, folder) VALUES (?1, ?2)";
static const char SQL_STORE[] =
	"UPDATE mailboxes SET uidvalidity = ?2, uidnext = ?3, highestmodseq = ?4,"
	" seq_base = ?5, list_gen = ?6 WHERE id = ?1";

static int read_one(struct state_db *db, sqlite3_stmt *st, struct state_mailbox *out,
    int64_t *list_gen)
{
	int rc = state_db_step_row(db, st, "reading a mailbox", "mailbox");

	if (rc != STATE_OK)
		return rc;
	if (out != NULL) {
		memset(out, 0, sizeof *out);
		out->id = sqlite3_column_int64(st, 0);
		out->account_id = sqlite3_column_int64(st, 1);
		state_db_col_text(st, 2, out->folder, sizeof out->folder);
		out->uidvalidity = (uint32_t)sqlite3_column_int64(st, 3);
		out->uidnext = (uint32_t)sqlite3_column_int64(st, 4);
		out->highestmodseq = (uint64_t)sqlite3_column_int64(st, 5);
		out->seq_base = sqlite3_column_int64(st, 6);
	}
	if (list_gen != NULL)
		*list_gen = sqlite3_column_int64(st, 7);
	state_db_done(st);
	return STATE_OK;
}

int state_mailbox_read(struct state_db *db, int64_t mailbox_id, struct state_mailbox *out,
    int64_t *list_gen)
{
	sqlite3_stmt *st = state_db_stmt(db, SQL_BY_ID);

	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_int64(st, 1, mailbox_id);
	return read_one(db, st, out, list_gen);
}

int state_mailbox_store(struct state_db *db, const struct state_mailbox *m, int64_t list_gen)
{
	sqlite3_stmt *st = state_db_stmt(db, SQL_STORE);

	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_int64(st, 1, m->id);
	sqlite3_bind_int64(st, 2, m->uidvalidity);
	sqlite3_bind_int64(st, 3, m->uidnext);
	sqlite3_bind_int64(st, 4, (int64_t)m->highestmodseq);
	sqlite3_bind_int64(st, 5, m->seq_base);
	sqlite3_bind_int64(st, 6, list_gen);
	return state_db_exec_stmt(db, st, "storing the mailbox status");
}

int state_mailbox_get(struct state_db *db, int64_t account_id, const char *folder,
    struct state_mailbox *out)
{
	sqlite3_stmt *st;

	DB_ENTER(db);
	if (!state_db_text_ok(folder, STATE_FOLDER_MAX, false))
		return state_db_fail(db, STATE_INVALID,
		    "folder must be 1..%d printable octets", STATE_FOLDER_MAX);
	st = state_db_stmt(db, SQL_BY_FOLDER);
	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_int64(st, 1, account_id);
	sqlite3_bind_text(st, 2, folder, -1, SQLITE_TRANSIENT);
	return read_one(db, st, out, NULL);
}

int state_mailbox_get_by_id(struct state_db *db, int64_t mailbox_id,
    struct state_mailbox *out)
{
	DB_ENTER(db);
	return state_mailbox_read(db, mailbox_id, out, NULL);
}

int state_mailbox_ensure(struct state_db *db, int64_t account_id, const char *folder,
    struct state_mailbox *out)
{
	struct db_tx tx;
	sqlite3_stmt *st;
	int rc;

	DB_ENTER(db);
	if (state_db_tx_begin(db, &tx) != STATE_OK)
		return STATE_ERROR;
	rc = state_mailbox_get(db, account_id, folder, out);
	if (rc == STATE_NOTFOUND) {
		st = state_db_stmt(db, SQL_INSERT);
		if (st == NULL) {
			rc = STATE_ERROR;
		} else {
			sqlite3_bind_int64(st, 1, account_id);
			sqlite3_bind_text(st, 2, folder, -1, SQLITE_TRANSIENT);
			rc = state_db_exec_stmt(db, st, "adding a mailbox");
			if (rc == STATE_ERROR &&
			    sqlite3_extended_errcode(db->conn) == SQLITE_CONSTRAINT_FOREIGNKEY)
				rc = state_db_fail(db, STATE_NOTFOUND, "no such account");
		}
		if (rc == STATE_OK)
			rc = state_mailbox_get(db, account_id, folder, out);
	}
	return state_db_tx_end(db, &tx, rc);
}
