/* state/rematch.c — the UIDVALIDITY-change path (SPEC §4): re-attach known
 * messages to their new UIDs by match keys, keeping id, UIDL, seq and
 * per-device state.
 *
 * While the new listing is processed, "not yet re-attached" is simply
 * "live and uidvalidity <> the new one": re-attaching a row moves it to the
 * new UIDVALIDITY, so it can never be matched twice. Old rows that happen to
 * carry the new UIDVALIDITY already (a server going back to an earlier
 * value) are first moved aside to uidvalidity 0, uid -id, which keeps the
 * (mailbox, uidvalidity, uid) index unique.
 */
#include <stdlib.h>
#include <string.h>

#include "state/mailbox_int.h"

static const char SQL_MAX_SEQ[] =
	"SELECT COALESCE(max(seq), 0) FROM messages WHERE mailbox_id = ?1";
static const char SQL_ASIDE[] =
	"UPDATE messages SET uidvalidity = 0, uid = -id"
	" WHERE mailbox_id = ?1 AND uidvalidity = ?2";
static const char SQL_BY_EMAILID[] =
	"SELECT id FROM messages WHERE mailbox_id = ?1 AND emailid = ?2"
	" AND gone IS NULL AND uidvalidity <> ?3 ORDER BY uid LIMIT 1";
static const char SQL_BY_GMID[] =
	"SELECT id FROM messages WHERE mailbox_id = ?1 AND gm_msgid = ?2"
	" AND gone IS NULL AND uidvalidity <> ?3 ORDER BY uid LIMIT 1";
static const char SQL_BY_KEYS[] =
	"SELECT id FROM messages WHERE mailbox_id = ?1 AND hdr_hash = ?2"
	" AND message_id IS ?4 AND rfc822_size = ?5"
	" AND gone IS NULL AND uidvalidity <> ?3 ORDER BY uid LIMIT 1";
static const char SQL_REATTACH[] =
	"UPDATE messages SET uidvalidity = ?2, uid = ?3, rfc822_size = ?4, flags = ?5,"
	" message_id = COALESCE(?6, message_id), hdr_hash = COALESCE(?7, hdr_hash),"
	" emailid = COALESCE(?8, emailid), gm_msgid = COALESCE(?9, gm_msgid),"
	" list_gen = ?10 WHERE id = ?1";

/* Run a "SELECT id ... LIMIT 1" with ?1 mailbox, ?3 new UIDVALIDITY and the
 * key(s) already bound; *id 0 when none. */
static int find(struct state_db *db, sqlite3_stmt *st, int64_t mailbox_id,
    uint32_t uidvalidity, int64_t *id)
{
	int rc;

	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 3, uidvalidity);
	rc = sqlite3_step(st);
	*id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	state_db_done(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return state_db_sqlerr(db, "re-matching a message");
	return STATE_OK;
}

static int match_one(struct state_db *db, int64_t mailbox_id, uint32_t uidvalidity,
    const struct state_listing *it, int64_t *id)
{
	sqlite3_stmt *st;
	int rc;

	*id = 0;
	if (it->emailid != NULL && it->emailid[0] != '\0') {
		st = state_db_stmt(db, SQL_BY_EMAILID);
		if (st == NULL)
			return STATE_ERROR;
		sqlite3_bind_text(st, 2, it->emailid, -1, SQLITE_TRANSIENT);
		rc = find(db, st, mailbox_id, uidvalidity, id);
		if (rc != STATE_OK || *id != 0)
			return rc;
	}
	if (it->gm_msgid != 0) {
		st = state_db_stmt(db, SQL_BY_GMID);
		if (st == NULL)
			return STATE_ERROR;
		sqlite3_bind_int64(st, 2, (int64_t)it->gm_msgid);
		rc = find(db, st, mailbox_id, uidvalidity, id);
		if (rc != STATE_OK || *id != 0)
			return rc;
	}
	if (it->hdr_hash == NULL || it->hdr_hash[0] == '\0')
		return STATE_OK;
	st = state_db_stmt(db, SQL_BY_KEYS);
	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_text(st, 2, it->hdr_hash, -1, SQLITE_TRANSIENT);
	state_db_bind_text_or_null(st, 4, it->message_id);
	sqlite3_bind_int64(st, 5, (int64_t)it->size);
	return find(db, st, mailbox_id, uidvalidity, id);
}

static int reattach(struct state_db *db, int64_t id, uint32_t uidvalidity,
    const struct state_listing *it, int64_t gen)
{
	sqlite3_stmt *st = state_db_stmt(db, SQL_REATTACH);

	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, uidvalidity);
	sqlite3_bind_int64(st, 3, it->uid);
	sqlite3_bind_int64(st, 4, (int64_t)it->size);
	sqlite3_bind_int(st, 5, (int)it->flags);
	state_db_bind_text_or_null(st, 6, it->message_id);
	state_db_bind_text_or_null(st, 7, it->hdr_hash);
	state_db_bind_text_or_null(st, 8, it->emailid);
	if (it->gm_msgid != 0)
		sqlite3_bind_int64(st, 9, (int64_t)it->gm_msgid);
	sqlite3_bind_int64(st, 10, gen);
	return state_db_exec_stmt(db, st, "re-attaching a message");
}

/* Indexes of items in ascending UID order (malloc'd), or NULL. A bottom-up
 * merge sort on indexes: C11 qsort has no context argument, and a static
 * one would be shared by the threads of different handles. */
static size_t *uid_order(const struct state_listing *items, size_t n)
{
	size_t *order = malloc((n > 0 ? n : 1) * sizeof *order);
	size_t *tmp = malloc((n > 0 ? n : 1) * sizeof *tmp);
	size_t i, width;

	if (order == NULL || tmp == NULL) {
		free(order);
		free(tmp);
		return NULL;
	}
	for (i = 0; i < n; i++)
		order[i] = i;
	for (width = 1; width < n; width *= 2) {
		size_t lo;

		for (lo = 0; lo < n; lo += 2 * width) {
			size_t mid = lo + width < n ? lo + width : n;
			size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
			size_t a = lo, b = mid, k = lo;

			while (a < mid && b < hi)
				tmp[k++] = items[order[a]].uid <= items[order[b]].uid ?
				    order[a++] : order[b++];
			while (a < mid)
				tmp[k++] = order[a++];
			while (b < hi)
				tmp[k++] = order[b++];
		}
		memcpy(order, tmp, n * sizeof *order);
	}
	free(tmp);
	return order;
}

static int map_sync(struct state_db *db, int64_t mailbox_id,
    const struct state_mailbox_status *st, const struct state_listing *items, size_t n,
    int64_t now, struct state_rematch_result *res)
{
	struct state_sync_result sr;
	int rc = state_messages_sync(db, mailbox_id, st, items, n, true, now, &sr);

	if (rc == STATE_OK && res != NULL) {
		res->matched = sr.updated;
		res->added = sr.added;
		res->lost = sr.gone;
	}
	return rc;
}

int state_messages_rematch(struct state_db *db, int64_t mailbox_id,
    const struct state_mailbox_status *st, const struct state_listing *items,
    size_t n, int64_t now, struct state_rematch_result *res)
{
	struct state_rematch_result r = { 0, 0, 0 };
	struct state_mailbox mb;
	struct db_tx tx;
	sqlite3_stmt *q;
	size_t *order = NULL, i;
	int64_t gen, base, max_seq;
	int rc;

	DB_ENTER(db);
	if (res != NULL)
		memset(res, 0, sizeof *res);
	if (st == NULL || st->uidvalidity == 0 || st->highestmodseq > INT64_MAX)
		return state_db_fail(db, STATE_INVALID,
		    "rematch: bad mailbox status (UIDVALIDITY 0)");
	rc = state_listing_check(db, items, n);
	if (rc != STATE_OK)
		return rc;
	rc = state_mailbox_read(db, mailbox_id, &mb, &gen);
	if (rc != STATE_OK)
		return rc;
	if (mb.uidvalidity == 0 || mb.uidvalidity == st->uidvalidity)
		return map_sync(db, mailbox_id, st, items, n, now, res);
	order = uid_order(items, n);
	if (order == NULL)
		return state_db_fail(db, STATE_ERROR, "rematch: out of memory");
	if (state_db_tx_begin(db, &tx) != STATE_OK) {
		free(order);
		return STATE_ERROR;
	}
	/* re-read inside the transaction: another handle may have synced */
	rc = state_mailbox_read(db, mailbox_id, &mb, &gen);
	if (rc != STATE_OK)
		goto out;
	gen++;
	q = state_db_stmt(db, SQL_MAX_SEQ);
	if (q == NULL) {
		rc = STATE_ERROR;
		goto out;
	}
	sqlite3_bind_int64(q, 1, mailbox_id);
	if (sqlite3_step(q) != SQLITE_ROW) {
		state_db_done(q);
		rc = state_db_sqlerr(db, "rematch: reading seq");
		goto out;
	}
	max_seq = sqlite3_column_int64(q, 0);
	state_db_done(q);
	/* every seq from now on exceeds every earlier one */
	base = mb.seq_base + (int64_t)mb.uidnext;
	if (base < max_seq)
		base = max_seq;
	q = state_db_stmt(db, SQL_ASIDE);
	if (q == NULL) {
		rc = STATE_ERROR;
		goto out;
	}
	sqlite3_bind_int64(q, 1, mailbox_id);
	sqlite3_bind_int64(q, 2, st->uidvalidity);
	rc = state_db_exec_stmt(db, q, "rematch: moving old rows aside");
	for (i = 0; rc == STATE_OK && i < n; i++) {
		const struct state_listing *it = &items[order[i]];
		int64_t id;

		rc = match_one(db, mailbox_id, st->uidvalidity, it, &id);
		if (rc != STATE_OK)
			break;
		if (id != 0) {
			rc = reattach(db, id, st->uidvalidity, it, gen);
			r.matched++;
		} else {
			rc = state_message_upsert(db, mailbox_id, st->uidvalidity, base, it, gen,
			    now);
			r.added++;
		}
	}
	if (rc == STATE_OK)
		rc = state_messages_gone_unlisted(db, mailbox_id, gen, now, &r.lost);
	if (rc == STATE_OK) {
		mb.uidvalidity = st->uidvalidity;
		mb.uidnext = st->uidnext;
		mb.highestmodseq = st->highestmodseq;
		mb.seq_base = base;
		rc = state_mailbox_store(db, &mb, gen);
	}
out:
	free(order);
	rc = state_db_tx_end(db, &tx, rc);
	if (rc == STATE_OK && res != NULL)
		*res = r;
	return rc;
}
