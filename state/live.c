/* state/live.c — the live messages of a mailbox as a count and as a UID
 * list, for an incremental sync to compare with the server, and those of
 * them without match keys (state.h). */
#include <stdlib.h>

#include "state/db_int.h"

static const char SQL_COUNT[] =
	"SELECT count(*) FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id"
	" WHERE m.mailbox_id = ?1 AND m.uidvalidity = b.uidvalidity AND m.gone IS NULL";
static const char SQL_UIDS[] =
	"SELECT m.uid FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id"
	" WHERE m.mailbox_id = ?1 AND m.uidvalidity = b.uidvalidity AND m.gone IS NULL"
	" ORDER BY m.uid";
static const char SQL_KEYLESS[] =
	"SELECT m.uid FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id"
	" WHERE m.mailbox_id = ?1 AND m.uidvalidity = b.uidvalidity AND m.gone IS NULL"
	" AND m.hdr_hash IS NULL ORDER BY m.uid";

int state_messages_live_count(struct state_db *db, int64_t mailbox_id, size_t *n)
{
	sqlite3_stmt *st;
	int rc;

	DB_ENTER(db);
	*n = 0;
	st = state_db_stmt(db, SQL_COUNT);
	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_int64(st, 1, mailbox_id);
	rc = state_db_step_row(db, st, "counting live messages", "mailbox");
	if (rc == STATE_OK) {
		*n = (size_t)sqlite3_column_int64(st, 0);
		state_db_done(st);
	}
	return rc;
}

/* The UIDs the query sql (?1 the mailbox, one column) gives, ascending, as
 * a malloc'd array; what names it in errors. */
static int uids_of(struct state_db *db, const char *sql, int64_t mailbox_id, uint32_t **out,
    size_t *n, const char *what)
{
	uint32_t *v = NULL;
	size_t k = 0, cap = 0;
	sqlite3_stmt *st;
	int rc;

	*out = NULL;
	*n = 0;
	st = state_db_stmt(db, sql);
	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_int64(st, 1, mailbox_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (k == cap) {
			size_t ncap = cap ? cap * 2 : 256;
			uint32_t *p = realloc(v, ncap * sizeof(*p));
			if (p == NULL) {
				state_db_done(st);
				free(v);
				return state_db_fail(db, STATE_ERROR, "%s: out of memory", what);
			}
			v = p;
			cap = ncap;
		}
		v[k++] = (uint32_t)sqlite3_column_int64(st, 0);
	}
	state_db_done(st);
	if (rc != SQLITE_DONE) {
		free(v);
		return state_db_sqlerr(db, what);
	}
	*out = v;
	*n = k;
	return STATE_OK;
}

int state_messages_live_uids(struct state_db *db, int64_t mailbox_id, uint32_t **out,
    size_t *n)
{
	DB_ENTER(db);
	return uids_of(db, SQL_UIDS, mailbox_id, out, n, "listing live UIDs");
}

int state_messages_keyless(struct state_db *db, int64_t mailbox_id, uint32_t **out,
    size_t *n)
{
	DB_ENTER(db);
	return uids_of(db, SQL_KEYLESS, mailbox_id, out, n, "listing messages without keys");
}
