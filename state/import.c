/* state/import.c — UIDLs imported from an old POP3 server (SPEC §7): find
 * candidate messages by match keys, store old UIDLs idempotently. */
#include <string.h>

#include "state/db_int.h"

#define CAND_FILTERS \
	" AND gone IS NULL AND (?5 = 0 OR rfc822_size BETWEEN ?4 AND ?5" \
	" OR exact_size BETWEEN ?4 AND ?5) ORDER BY uid"
static const char SQL_BY_MSGID[] =
	"SELECT id FROM messages WHERE mailbox_id = ?1 AND message_id = ?2"
	" AND (?3 IS NULL OR hdr_hash = ?3)" CAND_FILTERS;
static const char SQL_BY_HASH[] =
	"SELECT id FROM messages WHERE mailbox_id = ?1 AND hdr_hash = ?3"
	" AND (?2 IS NULL OR message_id = ?2)" CAND_FILTERS;
static const char SQL_BY_SIZE[] =
	"SELECT id FROM messages WHERE mailbox_id = ?1 AND ?2 IS NULL AND ?3 IS NULL"
	CAND_FILTERS;
static const char SQL_MESSAGE[] =
	"SELECT mailbox_id, old_uidl FROM messages WHERE id = ?1";
static const char SQL_TAKEN[] =
	"SELECT id FROM messages WHERE mailbox_id = ?1 AND COALESCE(old_uidl, uidl) = ?2"
	" AND id <> ?3 AND gone IS NULL LIMIT 1";
static const char SQL_SET[] =
	"UPDATE messages SET old_uidl = ?2 WHERE id = ?1";

int state_match_candidates(struct state_db *db, int64_t mailbox_id,
    const struct state_match_query *q, int64_t *ids, size_t cap, size_t *n)
{
	const char *sql;
	sqlite3_stmt *st;
	size_t k = 0;
	int rc;

	DB_ENTER(db);
	*n = 0;
	if (q == NULL || (cap > 0 && ids == NULL))
		return state_db_fail(db, STATE_INVALID, "match: no query");
	if (q->size_max > INT64_MAX || q->size_min > q->size_max ||
	    (q->message_id != NULL && strlen(q->message_id) > STATE_MSGID_MAX) ||
	    (q->hdr_hash != NULL && strlen(q->hdr_hash) > STATE_HHASH_MAX))
		return state_db_fail(db, STATE_INVALID, "match: bad size range or key");
	if (q->message_id != NULL && q->message_id[0] != '\0')
		sql = SQL_BY_MSGID;
	else if (q->hdr_hash != NULL && q->hdr_hash[0] != '\0')
		sql = SQL_BY_HASH;
	else if (q->size_max != 0)
		sql = SQL_BY_SIZE;
	else
		return state_db_fail(db, STATE_INVALID, "match: give a key or a size range");
	st = state_db_stmt(db, sql);
	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_int64(st, 1, mailbox_id);
	state_db_bind_text_or_null(st, 2, q->message_id);
	state_db_bind_text_or_null(st, 3, q->hdr_hash);
	sqlite3_bind_int64(st, 4, (int64_t)q->size_min);
	sqlite3_bind_int64(st, 5, (int64_t)q->size_max);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (k < cap)
			ids[k] = sqlite3_column_int64(st, 0);
		k++;
	}
	state_db_done(st);
	if (rc != SQLITE_DONE)
		return state_db_sqlerr(db, "match: finding candidates");
	*n = k;
	return STATE_OK;
}

static bool uidl_ok(const char *u)
{
	size_t i;

	if (u == NULL || u[0] == '\0')
		return false;
	for (i = 0; u[i] != '\0'; i++)
		if (i >= STATE_UIDL_MAX || (unsigned char)u[i] < 0x21 ||
		    (unsigned char)u[i] > 0x7e)
			return false;
	return true;
}

/* The mailbox and the stored old UIDL ("" when none) of a message. */
static int message_row(struct state_db *db, int64_t message_id, int64_t *mailbox_id,
    char cur[STATE_UIDL_MAX + 1])
{
	sqlite3_stmt *st = state_db_stmt(db, SQL_MESSAGE);
	int rc;

	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_int64(st, 1, message_id);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		state_db_done(st);
		if (rc == SQLITE_DONE)
			return state_db_fail(db, STATE_NOTFOUND, "import: no message %lld",
			    (long long)message_id);
		return state_db_sqlerr(db, "import: reading a message");
	}
	*mailbox_id = sqlite3_column_int64(st, 0);
	state_db_col_text(st, 1, cur, STATE_UIDL_MAX + 1);
	state_db_done(st);
	return STATE_OK;
}

/* Store one old UIDL; *changed incremented when the value is new.
 * Uniqueness is checked afterwards, for the whole batch (check_unique). */
static int import_one(struct state_db *db, const struct state_uidl_import *it,
    size_t *changed)
{
	char cur[STATE_UIDL_MAX + 1];
	int64_t mailbox_id;
	int rc = message_row(db, it->message_id, &mailbox_id, cur);

	if (rc != STATE_OK || strcmp(cur, it->old_uidl) == 0)
		return rc;
	sqlite3_stmt *st = state_db_stmt(db, SQL_SET);
	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_int64(st, 1, it->message_id);
	sqlite3_bind_text(st, 2, it->old_uidl, -1, SQLITE_TRANSIENT);
	rc = state_db_exec_stmt(db, st, "import: storing a UIDL");
	if (rc == STATE_OK)
		(*changed)++;
	return rc;
}

/* After the whole batch is written (inside its transaction): no stored UIDL
 * may be the effective UIDL of another live message of its mailbox. So
 * UIDLs may move between messages within one batch (a swap), while a real
 * duplicate is refused. */
static int check_unique(struct state_db *db, const struct state_uidl_import *it)
{
	char cur[STATE_UIDL_MAX + 1];
	int64_t mailbox_id;
	int rc = message_row(db, it->message_id, &mailbox_id, cur);

	if (rc != STATE_OK)
		return rc;
	sqlite3_stmt *st = state_db_stmt(db, SQL_TAKEN);
	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_text(st, 2, it->old_uidl, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, it->message_id);
	rc = sqlite3_step(st);
	state_db_done(st);
	if (rc == SQLITE_ROW)
		return state_db_fail(db, STATE_EXISTS,
		    "import: UIDL '%s' is already another message's", it->old_uidl);
	if (rc != SQLITE_DONE)
		return state_db_sqlerr(db, "import: checking a UIDL");
	return STATE_OK;
}

int state_import_uidls(struct state_db *db, const struct state_uidl_import *items,
    size_t n, size_t *changed)
{
	struct db_tx tx;
	size_t i, k = 0;
	int rc = STATE_OK;

	DB_ENTER(db);
	if (changed != NULL)
		*changed = 0;
	if (n > 0 && items == NULL)
		return state_db_fail(db, STATE_INVALID, "import: no items");
	for (i = 0; i < n; i++)
		if (!uidl_ok(items[i].old_uidl))
			return state_db_fail(db, STATE_INVALID,
			    "import: item %zu: a UIDL is 1..70 octets 0x21..0x7E", i);
	if (state_db_tx_begin(db, &tx) != STATE_OK)
		return STATE_ERROR;
	for (i = 0; rc == STATE_OK && i < n; i++)
		rc = import_one(db, &items[i], &k);
	for (i = 0; rc == STATE_OK && i < n; i++)
		rc = check_unique(db, &items[i]);
	rc = state_db_tx_end(db, &tx, rc);
	if (rc == STATE_OK && changed != NULL)
		*changed = k;
	return rc;
}
