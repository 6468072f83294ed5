/* state/devmsg.c — per-device message state: offered, retrieved, deleted.
 * Each batch is one transaction; the first time recorded is kept. */
#include <string.h>

#include "state/db_int.h"

static const char SQL_GET[] =
	"SELECT offered, retrieved, deleted FROM devmsg"
	" WHERE device_id = ?1 AND message_id = ?2";
static const char SQL_OFFERED[] =
	"INSERT INTO devmsg(device_id, message_id, offered) VALUES (?1, ?2, ?3)"
	" ON CONFLICT (device_id, message_id) DO UPDATE SET offered = excluded.offered"
	" WHERE offered IS NULL";
static const char SQL_RETRIEVED[] =
	"INSERT INTO devmsg(device_id, message_id, retrieved) VALUES (?1, ?2, ?3)"
	" ON CONFLICT (device_id, message_id) DO UPDATE SET retrieved = excluded.retrieved"
	" WHERE retrieved IS NULL";
static const char SQL_DELETED[] =
	"INSERT INTO devmsg(device_id, message_id, deleted) VALUES (?1, ?2, ?3)"
	" ON CONFLICT (device_id, message_id) DO UPDATE SET deleted = excluded.deleted"
	" WHERE deleted IS NULL";

int state_devmsg_get(struct state_db *db, int64_t device_id, int64_t message_id,
    struct state_devmsg *out)
{
	sqlite3_stmt *st;
	int rc;

	DB_ENTER(db);
	memset(out, 0, sizeof *out);
	st = state_db_stmt(db, SQL_GET);
	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_int64(st, 1, device_id);
	sqlite3_bind_int64(st, 2, message_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		out->offered = sqlite3_column_int64(st, 0);
		out->retrieved = sqlite3_column_int64(st, 1);
		out->deleted = sqlite3_column_int64(st, 2);
	}
	state_db_done(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return state_db_sqlerr(db, "reading per-device state");
	return STATE_OK;
}

/* One (device, message) mark, inside the caller's transaction. */
static int devmsg_mark(struct state_db *db, const char *sql, int64_t device_id,
    int64_t message_id, int64_t now)
{
	sqlite3_stmt *st = state_db_stmt(db, sql);
	int rc;

	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_int64(st, 1, device_id);
	sqlite3_bind_int64(st, 2, message_id);
	sqlite3_bind_int64(st, 3, now);
	rc = state_db_exec_stmt(db, st, "recording per-device state");
	if (rc == STATE_ERROR &&
	    sqlite3_extended_errcode(db->conn) == SQLITE_CONSTRAINT_FOREIGNKEY)
		return state_db_fail(db, STATE_NOTFOUND, "no such device or message (%lld)",
		    (long long)message_id);
	return rc;
}

static int mark_batch(struct state_db *db, const char *sql, int64_t device_id,
    const int64_t *ids, size_t n, int64_t now)
{
	struct db_tx tx;
	size_t i;
	int rc = STATE_OK;

	DB_ENTER(db);
	if (n > 0 && ids == NULL)
		return state_db_fail(db, STATE_INVALID, "no message ids");
	if (state_db_tx_begin(db, &tx) != STATE_OK)
		return STATE_ERROR;
	for (i = 0; rc == STATE_OK && i < n; i++)
		rc = devmsg_mark(db, sql, device_id, ids[i], now);
	return state_db_tx_end(db, &tx, rc);
}

int state_devmsg_mark_offered(struct state_db *db, int64_t device_id, int64_t message_id,
    int64_t now)
{
	return devmsg_mark(db, SQL_OFFERED, device_id, message_id, now);
}

int state_devmsg_mark_deleted(struct state_db *db, int64_t device_id, int64_t message_id,
    int64_t now)
{
	return devmsg_mark(db, SQL_DELETED, device_id, message_id, now);
}

int state_devmsg_retrieved(struct state_db *db, int64_t device_id, const int64_t *ids,
    size_t n, int64_t now)
{
	return mark_batch(db, SQL_RETRIEVED, device_id, ids, n, now);
}

int state_devmsg_deleted(struct state_db *db, int64_t device_id, const int64_t *ids,
    size_t n, int64_t now)
{
	return mark_batch(db, SQL_DELETED, device_id, ids, n, now);
}
