/* state/journal.c — the commit journal (SPEC §5). The crash-safety argument
 * is written beside state_journal_begin in state.h. */
#include <stdlib.h>
#include <string.h>

#include "state/db_int.h"

static const char SQL_DEVICE_ACCOUNT[] =
	"SELECT account_id FROM devices WHERE id = ?1";
static const char SQL_MAILBOX[] =
	"SELECT account_id, folder FROM mailboxes WHERE id = ?1";
static const char SQL_MOVED[] =
	"SELECT moved IS NOT NULL FROM accounts WHERE id = ?1";
static const char SQL_INSERT[] =
	"INSERT INTO journal(account_id, device_id, mailbox_id, folder, policy, state,"
	" created) VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6)";
static const char SQL_MESSAGE[] =
	"SELECT mailbox_id, uidvalidity, uid FROM messages WHERE id = ?1";
static const char SQL_ITEM[] =
	"INSERT INTO journal_items(journal_id, message_id, uidvalidity, uid, actions)"
	" VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (journal_id, message_id)"
	" DO UPDATE SET actions = actions | excluded.actions";
#define ENTRY_COLS "id, account_id, device_id, mailbox_id, folder, policy, state, created"
static const char SQL_PENDING[] =
	"SELECT " ENTRY_COLS " FROM journal WHERE account_id = ?1 AND state <> 2 ORDER BY id";
static const char SQL_ENTRY[] =
	"SELECT " ENTRY_COLS " FROM journal WHERE id = ?1";
static const char SQL_ITEMS[] =
	"SELECT message_id, uidvalidity, uid, actions, done FROM journal_items"
	" WHERE journal_id = ?1 ORDER BY uidvalidity, uid";
static const char SQL_ITEM_DONE[] =
	"UPDATE journal_items SET done = 1 WHERE journal_id = ?1 AND message_id = ?2";
static const char SQL_ITEM_COPIED[] =
	"UPDATE journal_items SET actions = actions | 4 WHERE journal_id = ?1 AND message_id = ?2";
static const char SQL_STATE[] =
	"SELECT state FROM journal WHERE id = ?1";
static const char SQL_SET_STATE[] =
	"UPDATE journal SET state = ?2, finished = ?3 WHERE id = ?1";
static const char SQL_ITEMS_GONE[] =
	"UPDATE messages SET gone = COALESCE(gone, ?2) WHERE id IN"
	" (SELECT message_id FROM journal_items WHERE journal_id = ?1 AND (actions & 1) <> 0)";
static const char SQL_FAILED[] =
	"UPDATE journal SET failures = failures + 1, last_error = ?2"
	" WHERE id = ?1 AND state <> 2";
static const char SQL_FAILURES[] =
	"SELECT failures FROM journal WHERE id = ?1";
static const char SQL_PURGE[] =
	"DELETE FROM journal WHERE state = 2 AND created < ?1";
static const char SQL_UNFINISHED[] =
	"SELECT count(*), coalesce(sum(failures >= ?1), 0) FROM journal"
	" INDEXED BY journal_unfinished WHERE state <> 2";

/* Step a one-row query with ?1 = id; STATE_NOTFOUND when no row. The row
 * stays current (caller reads it, then state_db_done). */
static int one_row(struct state_db *db, sqlite3_stmt *st, int64_t id, const char *what)
{
	sqlite3_bind_int64(st, 1, id);
	return state_db_step_row(db, st, what, what);
}

static int add_items(struct state_db *db, int64_t jid, int64_t mailbox_id,
    int64_t device_id, const int64_t *ids, size_t n, unsigned action, int64_t now)
{
	size_t i;
	int rc = STATE_OK;

	for (i = 0; rc == STATE_OK && i < n; i++) {
		sqlite3_stmt *st = state_db_stmt(db, SQL_MESSAGE);
		int64_t uidvalidity, uid;

		if (st == NULL)
			return STATE_ERROR;
		rc = one_row(db, st, ids[i], "message");
		if (rc != STATE_OK)
			return rc;
		if (sqlite3_column_int64(st, 0) != mailbox_id) {
			state_db_done(st);
			return state_db_fail(db, STATE_INVALID,
			    "journal: message %lld is not in the entry's mailbox",
			    (long long)ids[i]);
		}
		uidvalidity = sqlite3_column_int64(st, 1);
		uid = sqlite3_column_int64(st, 2);
		state_db_done(st);
		st = state_db_stmt(db, SQL_ITEM);
		if (st == NULL)
			return STATE_ERROR;
		sqlite3_bind_int64(st, 1, jid);
		sqlite3_bind_int64(st, 2, ids[i]);
		sqlite3_bind_int64(st, 3, uidvalidity);
		sqlite3_bind_int64(st, 4, uid);
		sqlite3_bind_int(st, 5, (int)action);
		rc = state_db_exec_stmt(db, st, "journal: writing an item");
		if (rc == STATE_OK && action == STATE_JA_DELETE)
			rc = state_devmsg_mark_deleted(db, device_id, ids[i], now);
	}
	return rc;
}

int state_journal_begin(struct state_db *db, int64_t device_id, int64_t mailbox_id,
    const char *policy, const int64_t *delete_ids, size_t n_delete,
    const int64_t *seen_ids, size_t n_seen, int64_t now, int64_t *id)
{
	char folder[STATE_FOLDER_MAX + 1];
	struct db_tx tx;
	sqlite3_stmt *st;
	int64_t account_id, jid;
	int rc;

	DB_ENTER(db);
	if (!state_db_dele_word(policy))
		return state_db_fail(db, STATE_INVALID, "journal: unknown policy");
	if ((n_delete > 0 && delete_ids == NULL) || (n_seen > 0 && seen_ids == NULL))
		return state_db_fail(db, STATE_INVALID, "journal: no message ids");
	if (state_db_tx_begin(db, &tx) != STATE_OK)
		return STATE_ERROR;
	st = state_db_stmt(db, SQL_DEVICE_ACCOUNT);
	if (st == NULL)
		goto fail;
	rc = one_row(db, st, device_id, "device");
	if (rc != STATE_OK)
		goto out;
	account_id = sqlite3_column_int64(st, 0);
	state_db_done(st);
	st = state_db_stmt(db, SQL_MAILBOX);
	if (st == NULL)
		goto fail;
	rc = one_row(db, st, mailbox_id, "mailbox");
	if (rc != STATE_OK)
		goto out;
	if (sqlite3_column_int64(st, 0) != account_id) {
		state_db_done(st);
		rc = state_db_fail(db, STATE_INVALID, "journal: mailbox of another account");
		goto out;
	}
	state_db_col_text(st, 1, folder, sizeof folder);
	state_db_done(st);
	st = state_db_stmt(db, SQL_INSERT);
	if (st == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, account_id);
	sqlite3_bind_int64(st, 2, device_id);
	sqlite3_bind_int64(st, 3, mailbox_id);
	sqlite3_bind_text(st, 4, folder, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 5, policy, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 6, now);
	rc = state_db_exec_stmt(db, st, "journal: writing the entry");
	if (rc != STATE_OK)
		goto out;
	jid = sqlite3_last_insert_rowid(db->conn);
	rc = add_items(db, jid, mailbox_id, device_id, delete_ids, n_delete,
	    STATE_JA_DELETE, now);
	if (rc == STATE_OK)
		rc = add_items(db, jid, mailbox_id, device_id, seen_ids, n_seen, STATE_JA_SEEN,
		    now);
	if (rc != STATE_OK)
		goto out;
	/* Read under the write lock the entry holds: an export that marked the
	 * account moved has committed before, or marks it after this entry
	 * (and then exports it). */
	st = state_db_stmt(db, SQL_MOVED);
	if (st == NULL)
		goto fail;
	rc = one_row(db, st, account_id, "account");
	if (rc != STATE_OK)
		goto out;
	bool moved = sqlite3_column_int(st, 0) != 0;
	state_db_done(st);
	if (moved) {
		rc = state_db_fail(db, STATE_MOVED,
		    "journal: the account was moved to another node (exported)");
		goto out;
	}
	rc = state_db_tx_commit(db, &tx);
	if (rc == STATE_OK && id != NULL)
		*id = jid;
	return rc;
fail:
	rc = STATE_ERROR;
out:
	state_db_tx_rollback(db, &tx);
	return rc;
}

static void row_to_entry(sqlite3_stmt *st, struct state_journal *e)
{
	memset(e, 0, sizeof *e);
	e->id = sqlite3_column_int64(st, 0);
	e->account_id = sqlite3_column_int64(st, 1);
	e->device_id = sqlite3_column_int64(st, 2);
	e->mailbox_id = sqlite3_column_int64(st, 3);
	state_db_col_text(st, 4, e->folder, sizeof e->folder);
	state_db_col_text(st, 5, e->policy, sizeof e->policy);
	e->state = (enum state_journal_state)sqlite3_column_int(st, 6);
	e->created = sqlite3_column_int64(st, 7);
}

static int load_items(struct state_db *db, struct state_journal *e)
{
	sqlite3_stmt *st = state_db_stmt(db, SQL_ITEMS);
	size_t cap = 0;
	int rc;

	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_int64(st, 1, e->id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct state_journal_item *it;

		if (e->n_items == cap) {
			size_t ncap = cap == 0 ? 16 : cap * 2;
			struct state_journal_item *n = realloc(e->items, ncap * sizeof *n);

			if (n == NULL) {
				state_db_done(st);
				return state_db_fail(db, STATE_ERROR, "journal: out of memory");
			}
			e->items = n;
			cap = ncap;
		}
		it = &e->items[e->n_items++];
		it->message_id = sqlite3_column_int64(st, 0);
		it->uidvalidity = (uint32_t)sqlite3_column_int64(st, 1);
		it->uid = (uint32_t)sqlite3_column_int64(st, 2);
		it->actions = (unsigned)sqlite3_column_int(st, 3);
		it->done = sqlite3_column_int(st, 4) != 0;
	}
	state_db_done(st);
	if (rc != SQLITE_DONE)
		return state_db_sqlerr(db, "journal: reading items");
	return STATE_OK;
}

void state_journal_free(struct state_journal *v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		free(v[i].items);
	free(v);
}

/* Read the entries a statement (already bound) yields, with their items. */
static int load_entries(struct state_db *db, sqlite3_stmt *st, struct state_journal **out,
    size_t *n)
{
	struct state_journal *v = NULL;
	size_t k = 0, cap = 0, i;
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (k == cap) {
			size_t ncap = cap == 0 ? 4 : cap * 2;
			struct state_journal *nv = realloc(v, ncap * sizeof *nv);

			if (nv == NULL) {
				state_db_done(st);
				state_journal_free(v, k);
				return state_db_fail(db, STATE_ERROR, "journal: out of memory");
			}
			v = nv;
			cap = ncap;
		}
		row_to_entry(st, &v[k++]);
	}
	state_db_done(st);
	if (rc != SQLITE_DONE) {
		state_journal_free(v, k);
		return state_db_sqlerr(db, "journal: reading entries");
	}
	for (i = 0; i < k; i++) {
		rc = load_items(db, &v[i]);
		if (rc != STATE_OK) {
			state_journal_free(v, k);
			return rc;
		}
	}
	*out = v;
	*n = k;
	return STATE_OK;
}

int state_journal_pending(struct state_db *db, int64_t account_id,
    struct state_journal **out, size_t *n)
{
	struct db_tx tx;
	sqlite3_stmt *st;
	int rc;

	DB_ENTER(db);
	*out = NULL;
	*n = 0;
	if (state_db_tx_begin_read(db, &tx) != STATE_OK)
		return STATE_ERROR;
	st = state_db_stmt(db, SQL_PENDING);
	if (st == NULL) {
		rc = STATE_ERROR;
	} else {
		sqlite3_bind_int64(st, 1, account_id);
		rc = load_entries(db, st, out, n);
	}
	state_db_tx_end_read(db, &tx);
	return rc;
}

int state_journal_get(struct state_db *db, int64_t journal_id, struct state_journal **out)
{
	struct db_tx tx;
	sqlite3_stmt *st;
	size_t n = 0;
	int rc;

	DB_ENTER(db);
	*out = NULL;
	if (state_db_tx_begin_read(db, &tx) != STATE_OK)
		return STATE_ERROR;
	st = state_db_stmt(db, SQL_ENTRY);
	if (st == NULL) {
		rc = STATE_ERROR;
	} else {
		sqlite3_bind_int64(st, 1, journal_id);
		rc = load_entries(db, st, out, &n);
	}
	state_db_tx_end_read(db, &tx);
	if (rc == STATE_OK && n == 0)
		return state_db_fail(db, STATE_NOTFOUND, "no such journal entry");
	return rc;
}

/* One UPDATE of an item (?1 journal, ?2 message). */
static int item_update(struct state_db *db, const char *sql, int64_t journal_id,
    int64_t message_id, const char *what)
{
	sqlite3_stmt *st = state_db_stmt(db, sql);

	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_int64(st, 1, journal_id);
	sqlite3_bind_int64(st, 2, message_id);
	return state_db_exec_one(db, st, what, "journal item");
}

int state_journal_item_done(struct state_db *db, int64_t journal_id, int64_t message_id)
{
	DB_ENTER(db);
	return item_update(db, SQL_ITEM_DONE, journal_id, message_id,
	    "journal: marking an item done");
}

int state_journal_item_copied(struct state_db *db, int64_t journal_id, int64_t message_id)
{
	_Static_assert(STATE_JA_COPIED == 4, "SQL_ITEM_COPIED hard-codes the bit");
	DB_ENTER(db);
	return item_update(db, SQL_ITEM_COPIED, journal_id, message_id,
	    "journal: marking an item copied");
}

/* Move entry jid to state `to` (never backwards) inside a transaction;
 * items_gone as for state_journal_finish. */
static int advance(struct state_db *db, int64_t jid, enum state_journal_state to,
    bool items_gone, int64_t now)
{
	struct db_tx tx;
	sqlite3_stmt *st;
	int cur, rc;

	if (to < STATE_JOURNAL_PENDING || to > STATE_JOURNAL_DONE)
		return state_db_fail(db, STATE_INVALID, "journal: bad state %d", (int)to);
	if (state_db_tx_begin(db, &tx) != STATE_OK)
		return STATE_ERROR;
	st = state_db_stmt(db, SQL_STATE);
	if (st == NULL) {
		rc = STATE_ERROR;
		goto out;
	}
	rc = one_row(db, st, jid, "journal entry");
	if (rc != STATE_OK)
		goto out;
	cur = sqlite3_column_int(st, 0);
	state_db_done(st);
	if ((int)to < cur) {
		rc = state_db_fail(db, STATE_INVALID, "journal: entry %lld is past state %d",
		    (long long)jid, (int)to);
		goto out;
	}
	if ((int)to == cur)
		goto out; /* idempotent */
	if (to == STATE_JOURNAL_DONE && items_gone) {
		st = state_db_stmt(db, SQL_ITEMS_GONE);
		if (st == NULL) {
			rc = STATE_ERROR;
			goto out;
		}
		sqlite3_bind_int64(st, 1, jid);
		sqlite3_bind_int64(st, 2, now);
		rc = state_db_exec_stmt(db, st, "journal: marking messages gone");
		if (rc != STATE_OK)
			goto out;
	}
	st = state_db_stmt(db, SQL_SET_STATE);
	if (st == NULL) {
		rc = STATE_ERROR;
		goto out;
	}
	sqlite3_bind_int64(st, 1, jid);
	sqlite3_bind_int(st, 2, (int)to);
	if (to == STATE_JOURNAL_DONE)
		sqlite3_bind_int64(st, 3, now);
	rc = state_db_exec_stmt(db, st, "journal: changing state");
out:
	return state_db_tx_end(db, &tx, rc);
}

int state_journal_set_state(struct state_db *db, int64_t journal_id,
    enum state_journal_state st)
{
	DB_ENTER(db);
	if (st == STATE_JOURNAL_DONE)
		return state_db_fail(db, STATE_INVALID,
		    "journal: use state_journal_finish for DONE");
	return advance(db, journal_id, st, false, 0);
}

int state_journal_finish(struct state_db *db, int64_t journal_id, bool items_gone,
    int64_t now)
{
	DB_ENTER(db);
	return advance(db, journal_id, STATE_JOURNAL_DONE, items_gone, now);
}

int state_journal_purge(struct state_db *db, int64_t before, size_t *removed)
{
	sqlite3_stmt *st;

	DB_ENTER(db);
	st = state_db_stmt(db, SQL_PURGE);
	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_int64(st, 1, before);
	return state_db_exec_count(db, st, "journal: purging", removed);
}

int state_journal_unfinished(struct state_db *db, int64_t *pending, int64_t *stuck)
{
	sqlite3_stmt *st;

	DB_ENTER(db);
	st = state_db_stmt(db, SQL_UNFINISHED);
	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_int(st, 1, STATE_JOURNAL_STUCK);
	int rc = state_db_step_row(db, st, "journal: counting unfinished entries",
	    "journal count");
	if (rc != STATE_OK)
		return rc;
	if (pending)
		*pending = sqlite3_column_int64(st, 0);
	if (stuck)
		*stuck = sqlite3_column_int64(st, 1);
	state_db_done(st);
	return STATE_OK;
}

int state_journal_failed(struct state_db *db, int64_t journal_id, const char *error,
    int64_t *failures)
{
	struct db_tx tx;
	sqlite3_stmt *st;
	size_t len = error ? strnlen(error, STATE_ERROR_TEXT_MAX) : 0;
	int rc;

	DB_ENTER(db);
	if (failures)
		*failures = 0;
	if (state_db_tx_begin(db, &tx) != STATE_OK)
		return STATE_ERROR;
	st = state_db_stmt(db, SQL_FAILED);
	if (st == NULL) {
		rc = STATE_ERROR;
		goto out;
	}
	sqlite3_bind_int64(st, 1, journal_id);
	sqlite3_bind_text(st, 2, error ? error : "", (int)len, SQLITE_TRANSIENT);
	rc = state_db_exec_one(db, st, "journal: counting a failure", "unfinished journal entry");
	if (rc != STATE_OK)
		goto out;
	st = state_db_stmt(db, SQL_FAILURES);
	if (st == NULL) {
		rc = STATE_ERROR;
		goto out;
	}
	rc = one_row(db, st, journal_id, "journal entry");
	if (rc != STATE_OK)
		goto out;
	if (failures)
		*failures = sqlite3_column_int64(st, 0);
	state_db_done(st);
out:
	return state_db_tx_end(db, &tx, rc);
}
