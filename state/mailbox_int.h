/* state/mailbox_int.h — mailbox and message helpers shared inside state/
 * (callers use state.h). All run inside the caller's transaction. */
#ifndef STATE_MAILBOX_INT_H
#define STATE_MAILBOX_INT_H

#include "state/db_int.h"

/* The mailbox row and its listing generation (bumped by every sync). */
int state_mailbox_read(struct state_db *db, int64_t mailbox_id, struct state_mailbox *out,
    int64_t *list_gen);
int state_mailbox_store(struct state_db *db, const struct state_mailbox *m, int64_t list_gen);

/* Check a listing: UIDs non-zero and distinct, keys within bounds. */
int state_listing_check(struct state_db *db, const struct state_listing *items, size_t n);
/* Insert items[i] as a new message, or refresh the known row with its
 * (uidvalidity, uid): flags, size, known keys; marks it live and listed in
 * generation gen. New rows get seq = seq_base + uid and the default UIDL. */
int state_message_upsert(struct state_db *db, int64_t mailbox_id, uint32_t uidvalidity,
    int64_t seq_base, const struct state_listing *it, int64_t gen, int64_t now);
/* Mark gone every live message of the mailbox not listed in generation gen;
 * *n how many. */
int state_messages_gone_unlisted(struct state_db *db, int64_t mailbox_id, int64_t gen,
    int64_t now, size_t *n);
/* In ONE transaction of its own: for i in 0..n, the statement sql with ?1
 * the mailbox, ?2 its current UIDVALIDITY, ?3 uid(arg, i) and whatever
 * bind(st, arg, i) binds from ?4 on; what names it in errors (exact.c). */
int state_messages_update_by_uid(struct state_db *db, int64_t mailbox_id, const char *sql,
    size_t n, uint32_t (*uid)(const void *arg, size_t i),
    void (*bind)(sqlite3_stmt *st, const void *arg, size_t i), const void *arg,
    const char *what);

#endif
