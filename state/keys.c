/* state/keys.c — match keys in bulk: those a first listing left for later,
 * stored many at once (state.h). */
#include <string.h>

#include "state/mailbox_int.h"

static const char SQL_SET_KEYS[] =
	"UPDATE messages SET message_id = COALESCE(message_id, ?4), hdr_hash = ?5"
	" WHERE mailbox_id = ?1 AND uidvalidity = ?2 AND uid = ?3 AND gone IS NULL"
	" AND hdr_hash IS NULL";

static uint32_t keys_uid(const void *arg, size_t i)
{
	return ((const struct state_listing *)arg)[i].uid;
}

static void keys_bind(sqlite3_stmt *st, const void *arg, size_t i)
{
	const struct state_listing *it = &((const struct state_listing *)arg)[i];

	state_db_bind_text_or_null(st, 4, it->message_id);
	sqlite3_bind_text(st, 5, it->hdr_hash, -1, SQLITE_TRANSIENT);
}

int state_messages_set_keys(struct state_db *db, int64_t mailbox_id,
    const struct state_listing *items, size_t n)
{
	DB_ENTER(db);
	if (n > 0 && items == NULL)
		return state_db_fail(db, STATE_INVALID, "keys: no items");
	for (size_t i = 0; i < n; i++) {
		const struct state_listing *it = &items[i];
		if (it->hdr_hash == NULL || strlen(it->hdr_hash) > STATE_HHASH_MAX ||
		    (it->message_id != NULL && strlen(it->message_id) > STATE_MSGID_MAX))
			return state_db_fail(db, STATE_INVALID, "keys: UID %u: no or too long a key",
			    (unsigned)it->uid);
	}
	return state_messages_update_by_uid(db, mailbox_id, SQL_SET_KEYS, n, keys_uid, keys_bind,
	    items, "storing match keys");
}
