/* state/exact.c — exact sizes in bulk: which live messages of a mailbox
 * have none yet, and storing many at once (state.h). */
#include <stdlib.h>
#include <string.h>

#include "state/mailbox_int.h"

static const char SQL_INEXACT[] =
	"SELECT m.uid, m.rfc822_size FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id"
	" WHERE m.mailbox_id = ?1 AND m.uidvalidity = b.uidvalidity AND m.gone IS NULL"
	" AND m.exact_size IS NULL ORDER BY m.uid";
static const char SQL_SET[] =
	"UPDATE messages SET exact_size = ?4"
	" WHERE mailbox_id = ?1 AND uidvalidity = ?2 AND uid = ?3 AND gone IS NULL";

int state_messages_inexact(struct state_db *db, int64_t mailbox_id,
    struct state_uid_size **out, size_t *n)
{
	struct state_uid_size *v = NULL;
	size_t k = 0, cap = 0;
	sqlite3_stmt *st;
	int rc;

	DB_ENTER(db);
	*out = NULL;
	*n = 0;
	st = state_db_stmt(db, SQL_INEXACT);
	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_int64(st, 1, mailbox_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (k == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct state_uid_size *p = realloc(v, ncap * sizeof(*p));
			if (p == NULL) {
				state_db_done(st);
				free(v);
				return state_db_fail(db, STATE_ERROR,
				    "inexact sizes: out of memory");
			}
			v = p;
			cap = ncap;
		}
		v[k].uid = (uint32_t)sqlite3_column_int64(st, 0);
		v[k].size = (uint64_t)sqlite3_column_int64(st, 1);
		k++;
	}
	state_db_done(st);
	if (rc != SQLITE_DONE) {
		free(v);
		return state_db_sqlerr(db, "listing messages without an exact size");
	}
	*out = v;
	*n = k;
	return STATE_OK;
}

int state_messages_update_by_uid(struct state_db *db, int64_t mailbox_id, const char *sql,
    size_t n, uint32_t (*uid)(const void *arg, size_t i),
    void (*bind)(sqlite3_stmt *st, const void *arg, size_t i), const void *arg,
    const char *what)
{
	struct state_mailbox mb;
	struct db_tx tx;
	size_t i;
	int rc;

	if (state_db_tx_begin(db, &tx) != STATE_OK)
		return STATE_ERROR;
	rc = state_mailbox_read(db, mailbox_id, &mb, NULL);
	for (i = 0; rc == STATE_OK && i < n; i++) {
		sqlite3_stmt *st = state_db_stmt(db, sql);

		if (st == NULL) {
			rc = STATE_ERROR;
			break;
		}
		sqlite3_bind_int64(st, 1, mailbox_id);
		sqlite3_bind_int64(st, 2, mb.uidvalidity);
		sqlite3_bind_int64(st, 3, uid(arg, i));
		bind(st, arg, i);
		rc = state_db_exec_stmt(db, st, what);
	}
	return state_db_tx_end(db, &tx, rc);
}

static uint32_t exact_uid(const void *arg, size_t i)
{
	return ((const struct state_uid_size *)arg)[i].uid;
}

static void exact_bind(sqlite3_stmt *st, const void *arg, size_t i)
{
	sqlite3_bind_int64(st, 4, (int64_t)((const struct state_uid_size *)arg)[i].size);
}

int state_messages_set_exact_sizes(struct state_db *db, int64_t mailbox_id,
    const struct state_uid_size *items, size_t n)
{
	DB_ENTER(db);
	if (n > 0 && items == NULL)
		return state_db_fail(db, STATE_INVALID, "exact sizes: no items");
	for (size_t i = 0; i < n; i++)
		if (items[i].size > INT64_MAX)
			return state_db_fail(db, STATE_INVALID,
			    "exact sizes: UID %u: size out of range", (unsigned)items[i].uid);
	return state_messages_update_by_uid(db, mailbox_id, SQL_SET, n, exact_uid, exact_bind,
	    items, "storing an exact size");
}
