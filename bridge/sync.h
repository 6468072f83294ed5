/* bridge/sync.h — bring state/'s record of one upstream folder up to date.
 *
 * Contract:
 *  - bridge_sync_folder() SELECTs the folder, lists it (UID FETCH 1:* with
 *    UID, RFC822.SIZE, FLAGS, and EMAILID / X-GM-MSGID when offered), and
 *    records the listing in state as a complete listing: new messages get
 *    their UIDL, messages no longer there are marked gone, flags (\Seen,
 *    \Deleted, the dele keyword) are refreshed.
 *  - Match keys (bridge/matchkey.h) are fetched only where needed: for
 *    messages state does not know yet (BODY.PEEK[HEADER.FIELDS (...)] in
 *    batches of BRIDGE_SYNC_HEADER_BATCH UIDs), and for every message when
 *    the folder's UIDVALIDITY changed — then state_messages_rematch
 *    re-attaches known messages (EMAILID, X-GM-MSGID, else Message-ID + size
 *    + header hash) so their UIDLs and per-device state survive.
 *  - Memory: one record per message of the listing (plus its EMAILID and
 *    match keys where fetched), freed before returning.
 *  - On success the folder stays selected on the upstream session and *mb
 *    holds the state row as stored after the sync. Failure: POP3_MD_TEMP
 *    (upstream or database trouble) or POP3_MD_PERM (the folder cannot be
 *    selected), with a short reason in detail.
 */
#ifndef BRIDGE_SYNC_H
#define BRIDGE_SYNC_H

#include <stddef.h>
#include <stdint.h>

#include "bridge/upstream.h"
#include "pop3/maildrop.h"
#include "state/state.h"

#define BRIDGE_SYNC_HEADER_BATCH 500

enum pop3_md_status bridge_sync_folder(struct bridge_upstream *up, struct state_db *db,
    int64_t account_id, const char *folder, const char *keyword, int64_t now,
    struct state_mailbox *mb, char *detail, size_t detail_len);

#endif
