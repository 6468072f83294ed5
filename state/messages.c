/* state/messages.c — messages of a mailbox: sync a listing, look up, list,
 * mark gone, learn exact sizes, purge. */
#include <stdlib.h>
#include <string.h>

#include "state/mailbox_int.h"

/* The columns db_row_to_message reads (table alias m = messages). */
#define DB_MESSAGE_COLS \
	"m.id, m.mailbox_id, m.uidvalidity, m.uid, m.seq, COALESCE(m.old_uidl, m.uidl)," \
	" m.old_uidl, m.rfc822_size, m.exact_size, m.flags, m.message_id, m.hdr_hash," \
	" m.emailid, m.gm_msgid, m.first_seen, m.gone"

static const char SQL_UPSERT[] =
	"INSERT INTO messages(mailbox_id, uidvalidity, uid, seq, uidl, rfc822_size,"
	" flags, message_id, hdr_hash, emailid, gm_msgid, first_seen, list_gen)"
	" VALUES (?1, ?2, ?3, ?4 + ?3, printf('%08X%08X', ?3, ?2), ?5, ?6, ?7, ?8, ?9,"
	" ?10, ?11, ?12)"
	" ON CONFLICT (mailbox_id, uidvalidity, uid) DO UPDATE SET"
	" rfc822_size = excluded.rfc822_size, flags = excluded.flags,"
	" message_id = COALESCE(excluded.message_id, message_id),"
	" hdr_hash = COALESCE(excluded.hdr_hash, hdr_hash),"
	" emailid = COALESCE(excluded.emailid, emailid),"
	" gm_msgid = COALESCE(excluded.gm_msgid, gm_msgid),"
	" gone = NULL, list_gen = excluded.list_gen";
static const char SQL_GONE_UNLISTED[] =
	"UPDATE messages SET gone = ?3"
	" WHERE mailbox_id = ?1 AND gone IS NULL AND list_gen <> ?2";
static const char SQL_COUNT[] =
	"SELECT count(*) FROM messages WHERE mailbox_id = ?1 AND uidvalidity = ?2";
static const char SQL_KNOWN[] =
	"SELECT 1 FROM messages WHERE mailbox_id = ?1 AND uidvalidity = ?2 AND uid = ?3";
static const char SQL_GET[] =
	"SELECT " DB_MESSAGE_COLS " FROM messages m WHERE m.id = ?1";
static const char SQL_BY_UID[] =
	"SELECT " DB_MESSAGE_COLS " FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id"
	" WHERE m.mailbox_id = ?1 AND m.uidvalidity = b.uidvalidity AND m.uid = ?2"
	" AND m.gone IS NULL";
static const char SQL_LIST[] =
	"SELECT " DB_MESSAGE_COLS " FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id"
	" WHERE m.mailbox_id = ?1 AND m.uidvalidity = b.uidvalidity AND m.gone IS NULL"
	" ORDER BY m.uid";
static const char SQL_GONE[] =
	"UPDATE messages SET gone = COALESCE(gone, ?4)"
	" WHERE mailbox_id = ?1 AND uidvalidity = ?2 AND uid = ?3";
static const char SQL_EXACT[] =
	"UPDATE messages SET exact_size = ?2 WHERE id = ?1";
static const char SQL_PURGE[] =
	"DELETE FROM messages WHERE mailbox_id = ?1 AND gone IS NOT NULL AND gone < ?2"
	" AND NOT EXISTS (SELECT 1 FROM journal_items i JOIN journal j ON j.id = i.journal_id"
	" WHERE i.message_id = messages.id AND j.state <> 2)";

static void db_row_to_message(sqlite3_stmt *st, struct state_message *m)
{
	memset(m, 0, sizeof *m);
	m->id = sqlite3_column_int64(st, 0);
	m->mailbox_id = sqlite3_column_int64(st, 1);
	m->uidvalidity = (uint32_t)sqlite3_column_int64(st, 2);
	m->uid = (uint32_t)sqlite3_column_int64(st, 3);
	m->seq = sqlite3_column_int64(st, 4);
	state_db_col_text(st, 5, m->uidl, sizeof m->uidl);
	state_db_col_text(st, 6, m->old_uidl, sizeof m->old_uidl);
	m->rfc822_size = (uint64_t)sqlite3_column_int64(st, 7);
	m->size_exact = sqlite3_column_type(st, 8) != SQLITE_NULL;
	m->exact_size = (uint64_t)sqlite3_column_int64(st, 8);
	m->flags = (unsigned)sqlite3_column_int(st, 9);
	state_db_col_text(st, 10, m->message_id, sizeof m->message_id);
	state_db_col_text(st, 11, m->hdr_hash, sizeof m->hdr_hash);
	state_db_col_text(st, 12, m->emailid, sizeof m->emailid);
	m->gm_msgid = (uint64_t)sqlite3_column_int64(st, 13);
	m->first_seen = sqlite3_column_int64(st, 14);
	m->gone = sqlite3_column_int64(st, 15);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static bool key_ok(const char *s, size_t max)
{
	return s == NULL || strlen(s) <= max;
}

int state_listing_check(struct state_db *db, const struct state_listing *items, size_t n)
{
	uint32_t *uids;
	size_t i;

	if (n > 0 && items == NULL)
		return state_db_fail(db, STATE_INVALID, "listing: no items");
	for (i = 0; i < n; i++) {
		const struct state_listing *it = &items[i];

		if (it->uid == 0)
			return state_db_fail(db, STATE_INVALID, "listing: UID 0");
		if (it->size > INT64_MAX)
			return state_db_fail(db, STATE_INVALID, "listing: size out of range");
		if (!key_ok(it->message_id, STATE_MSGID_MAX) ||
		    !key_ok(it->hdr_hash, STATE_HHASH_MAX) ||
		    !key_ok(it->emailid, STATE_EMAILID_MAX))
			return state_db_fail(db, STATE_INVALID,
			    "listing: UID %u: match key too long", (unsigned)it->uid);
	}
	if (n < 2)
		return STATE_OK;
	uids = malloc(n * sizeof *uids);
	if (uids == NULL)
		return state_db_fail(db, STATE_ERROR, "listing: out of memory");
	for (i = 0; i < n; i++)
		uids[i] = items[i].uid;
	qsort(uids, n, sizeof *uids, cmp_u32);
	for (i = 1; i < n; i++) {
		if (uids[i] == uids[i - 1]) {
			unsigned dup = uids[i];

			free(uids);
			return state_db_fail(db, STATE_INVALID,
			    "listing: UID %u listed twice", dup);
		}
	}
	free(uids);
	return STATE_OK;
}

int state_message_upsert(struct state_db *db, int64_t mailbox_id, uint32_t uidvalidity,
    int64_t seq_base, const struct state_listing *it, int64_t gen, int64_t now)
{
	sqlite3_stmt *st = state_db_stmt(db, SQL_UPSERT);

	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, uidvalidity);
	sqlite3_bind_int64(st, 3, it->uid);
	sqlite3_bind_int64(st, 4, seq_base);
	sqlite3_bind_int64(st, 5, (int64_t)it->size);
	sqlite3_bind_int(st, 6, (int)it->flags);
	state_db_bind_text_or_null(st, 7, it->message_id);
	state_db_bind_text_or_null(st, 8, it->hdr_hash);
	state_db_bind_text_or_null(st, 9, it->emailid);
	if (it->gm_msgid != 0)
		sqlite3_bind_int64(st, 10, (int64_t)it->gm_msgid);
	sqlite3_bind_int64(st, 11, now);
	sqlite3_bind_int64(st, 12, gen);
	return state_db_exec_stmt(db, st, "recording a message");
}

int state_messages_gone_unlisted(struct state_db *db, int64_t mailbox_id, int64_t gen,
    int64_t now, size_t *n)
{
	sqlite3_stmt *st = state_db_stmt(db, SQL_GONE_UNLISTED);

	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, gen);
	sqlite3_bind_int64(st, 3, now);
	return state_db_exec_count(db, st, "marking unlisted messages gone", n);
}

/* Rows of the mailbox with this UIDVALIDITY (live or gone). */
static int messages_count(struct state_db *db, int64_t mailbox_id, uint32_t uidvalidity,
    int64_t *n)
{
	sqlite3_stmt *st = state_db_stmt(db, SQL_COUNT);

	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, uidvalidity);
	if (sqlite3_step(st) != SQLITE_ROW) {
		state_db_done(st);
		return state_db_sqlerr(db, "counting messages");
	}
	*n = sqlite3_column_int64(st, 0);
	state_db_done(st);
	return STATE_OK;
}

int state_messages_sync(struct state_db *db, int64_t mailbox_id,
    const struct state_mailbox_status *st, const struct state_listing *items,
    size_t n, bool complete, int64_t now, struct state_sync_result *res)
{
	struct state_mailbox mb;
	struct db_tx tx;
	int64_t gen, before, after;
	size_t i, gone = 0;
	int rc;

	DB_ENTER(db);
	if (res != NULL)
		memset(res, 0, sizeof *res);
	if (st == NULL || st->uidvalidity == 0 || st->highestmodseq > INT64_MAX)
		return state_db_fail(db, STATE_INVALID, "sync: bad mailbox status (UIDVALIDITY 0)");
	rc = state_listing_check(db, items, n);
	if (rc != STATE_OK)
		return rc;
	if (state_db_tx_begin(db, &tx) != STATE_OK)
		return STATE_ERROR;
	rc = state_mailbox_read(db, mailbox_id, &mb, &gen);
	if (rc != STATE_OK)
		goto fail;
	if (mb.uidvalidity != 0 && mb.uidvalidity != st->uidvalidity) {
		rc = state_db_fail(db, STATE_UIDVALIDITY,
		    "UIDVALIDITY of '%s' changed from %u to %u",
		    mb.folder, (unsigned)mb.uidvalidity, (unsigned)st->uidvalidity);
		goto fail;
	}
	gen++;
	rc = messages_count(db, mailbox_id, st->uidvalidity, &before);
	for (i = 0; rc == STATE_OK && i < n; i++)
		rc = state_message_upsert(db, mailbox_id, st->uidvalidity, mb.seq_base, &items[i],
		    gen, now);
	if (rc == STATE_OK)
		rc = messages_count(db, mailbox_id, st->uidvalidity, &after);
	if (rc == STATE_OK && complete)
		rc = state_messages_gone_unlisted(db, mailbox_id, gen, now, &gone);
	if (rc != STATE_OK)
		goto fail;
	mb.uidvalidity = st->uidvalidity;
	mb.uidnext = st->uidnext;
	mb.highestmodseq = st->highestmodseq;
	rc = state_mailbox_store(db, &mb, gen);
	if (rc != STATE_OK)
		goto fail;
	rc = state_db_tx_commit(db, &tx);
	if (rc == STATE_OK && res != NULL) {
		res->added = (size_t)(after - before);
		res->updated = n - res->added;
		res->gone = gone;
	}
	return rc;
fail:
	state_db_tx_rollback(db, &tx);
	return rc;
}

/* sql (?1 mailbox, ?2 UIDVALIDITY, ?3 UID) bound for one message; NULL
 * when it could not be had. */
static sqlite3_stmt *uid_stmt(struct state_db *db, const char *sql, int64_t mailbox_id,
    uint32_t uidvalidity, uint32_t uid)
{
	sqlite3_stmt *st = state_db_stmt(db, sql);

	if (st != NULL) {
		sqlite3_bind_int64(st, 1, mailbox_id);
		sqlite3_bind_int64(st, 2, uidvalidity);
		sqlite3_bind_int64(st, 3, uid);
	}
	return st;
}

int state_messages_unknown(struct state_db *db, int64_t mailbox_id,
    const uint32_t *uids, size_t n, uint32_t *missing, size_t *n_missing)
{
	struct state_mailbox mb;
	struct db_tx tx;
	sqlite3_stmt *st;
	size_t i, k = 0;
	int rc;

	DB_ENTER(db);
	*n_missing = 0;
	if (n > 0 && (uids == NULL || missing == NULL))
		return state_db_fail(db, STATE_INVALID, "unknown: no arrays");
	if (state_db_tx_begin_read(db, &tx) != STATE_OK)
		return STATE_ERROR;
	rc = state_mailbox_read(db, mailbox_id, &mb, NULL);
	for (i = 0; rc == STATE_OK && i < n; i++) {
		st = uid_stmt(db, SQL_KNOWN, mailbox_id, mb.uidvalidity, uids[i]);
		if (st == NULL) {
			rc = STATE_ERROR;
			break;
		}
		rc = sqlite3_step(st);
		state_db_done(st);
		if (rc == SQLITE_DONE)
			missing[k++] = uids[i];
		rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? STATE_OK :
		    state_db_sqlerr(db, "looking up a UID");
	}
	state_db_tx_end_read(db, &tx);
	if (rc == STATE_OK)
		*n_missing = k;
	return rc;
}

static int get_one(struct state_db *db, sqlite3_stmt *st, struct state_message *out)
{
	int rc = state_db_step_row(db, st, "reading a message", "message");

	if (rc == STATE_OK && out != NULL)
		db_row_to_message(st, out);
	state_db_done(st);
	return rc;
}

int state_message_get(struct state_db *db, int64_t message_id, struct state_message *out)
{
	sqlite3_stmt *st;

	DB_ENTER(db);
	st = state_db_stmt(db, SQL_GET);
	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_int64(st, 1, message_id);
	return get_one(db, st, out);
}

int state_message_by_uid(struct state_db *db, int64_t mailbox_id, uint32_t uid,
    struct state_message *out)
{
	sqlite3_stmt *st;

	DB_ENTER(db);
	st = state_db_stmt(db, SQL_BY_UID);
	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, uid);
	return get_one(db, st, out);
}

struct message_rows {
	state_message_cb *cb;
	void *arg;
	struct state_message *m; /* large: on the heap */
};

static int message_row(void *ctx, sqlite3_stmt *st)
{
	struct message_rows *r = ctx;

	db_row_to_message(st, r->m);
	return r->cb(r->arg, r->m);
}

int state_messages_list(struct state_db *db, int64_t mailbox_id, state_message_cb *cb,
    void *arg)
{
	struct message_rows r = { .cb = cb, .arg = arg };
	sqlite3_stmt *st;
	int rc;

	DB_ENTER(db);
	r.m = malloc(sizeof *r.m);
	if (r.m == NULL)
		return state_db_fail(db, STATE_ERROR, "listing messages: out of memory");
	st = state_db_stmt(db, SQL_LIST);
	if (st == NULL) {
		free(r.m);
		return STATE_ERROR;
	}
	sqlite3_bind_int64(st, 1, mailbox_id);
	rc = state_db_each_row(db, st, message_row, &r, "listing messages");
	free(r.m);
	return rc;
}

int state_messages_gone(struct state_db *db, int64_t mailbox_id, const uint32_t *uids,
    size_t n, int64_t now)
{
	struct state_mailbox mb;
	struct db_tx tx;
	sqlite3_stmt *st;
	size_t i;
	int rc;

	DB_ENTER(db);
	if (n > 0 && uids == NULL)
		return state_db_fail(db, STATE_INVALID, "gone: no UIDs");
	if (state_db_tx_begin(db, &tx) != STATE_OK)
		return STATE_ERROR;
	rc = state_mailbox_read(db, mailbox_id, &mb, NULL);
	for (i = 0; rc == STATE_OK && i < n; i++) {
		st = uid_stmt(db, SQL_GONE, mailbox_id, mb.uidvalidity, uids[i]);
		if (st == NULL) {
			rc = STATE_ERROR;
			break;
		}
		sqlite3_bind_int64(st, 4, now);
		rc = state_db_exec_stmt(db, st, "marking a message gone");
	}
	return state_db_tx_end(db, &tx, rc);
}

int state_message_set_exact_size(struct state_db *db, int64_t message_id, uint64_t size)
{
	sqlite3_stmt *st;

	DB_ENTER(db);
	if (size > INT64_MAX)
		return state_db_fail(db, STATE_INVALID, "size out of range");
	st = state_db_stmt(db, SQL_EXACT);
	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_int64(st, 1, message_id);
	sqlite3_bind_int64(st, 2, (int64_t)size);
	return state_db_exec_one(db, st, "storing the exact size", "message");
}

int state_messages_purge(struct state_db *db, int64_t mailbox_id, int64_t before,
    size_t *removed)
{
	sqlite3_stmt *st;

	DB_ENTER(db);
	st = state_db_stmt(db, SQL_PURGE);
	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, before);
	return state_db_exec_count(db, st, "purging gone messages", removed);
}
