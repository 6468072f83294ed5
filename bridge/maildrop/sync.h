/* bridge/maildrop/sync.h — bring state/'s record of one upstream folder up to date.
 *
 * Contract:
 *  - maildrop_sync_folder() SELECTs the folder (with CONDSTORE when offered)
 *    and brings state to exactly what a complete listing would record: new
 *    messages get their UIDL, messages no longer there are marked gone,
 *    flags (\Seen, \Deleted, the dele keyword) are refreshed.
 *  - The complete listing is UID FETCH 1:* with UID, RFC822.SIZE, FLAGS,
 *    and EMAILID / X-GM-MSGID when offered. It is used for the first sync
 *    of a folder, after a UIDVALIDITY change, on servers without CONDSTORE
 *    or mod-sequences (NOMODSEQ), and whenever the shortcut below is not
 *    trusted.
 *  - The incremental sync (RFC 7162), when the folder's stored status has a
 *    HIGHESTMODSEQ and SELECT reports the same UIDVALIDITY, a HIGHESTMODSEQ
 *    not below it and a UIDNEXT not below the stored one (and equal to it
 *    when HIGHESTMODSEQ is unchanged): the messages changed since the
 *    stored HIGHESTMODSEQ (UID FETCH 1:* ... (CHANGEDSINCE m), with
 *    VANISHED when QRESYNC is enabled) are recorded with the new status
 *    and the vanished ones marked gone, in one transaction; nothing is
 *    fetched when HIGHESTMODSEQ is unchanged. Then, when HIGHESTMODSEQ is
 *    unchanged or QRESYNC is on, state's live count must equal the
 *    server's message count; otherwise (and always after changes without
 *    QRESYNC) UID SEARCH ALL names every UID there is: live ones it lacks
 *    are marked gone, UIDs state lacks are listed and recorded. Why this
 *    is exact: docs/DESIGN.md, "Incremental sync". A NO or BAD to
 *    CHANGEDSINCE or UID SEARCH (a server announcing more than it does)
 *    falls back to the complete listing with a warning.
 *  - The session's sequence-number map (bridge/maildrop/upstream.h) is complete
 *    after a complete listing, and after an incremental sync without
 *    QRESYNC only when the count agreed with nothing announced since
 *    SELECT; otherwise it is dropped (with QRESYNC, VANISHED names UIDs).
 *  - A HIGHESTMODSEQ is stored only with flags computed for the dele keyword
 *    BRIDGE_SYNC_MODSEQ_KEYWORD (the default). With another keyword none is
 *    stored, so every sync is complete: state does not record which keyword
 *    its flags were computed with, and a keyword changed between sessions
 *    must re-evaluate every message.
 *  - Match keys (bridge/maildrop/matchkey.h) are fetched only where needed: for
 *    messages state does not know yet (BODY.PEEK[HEADER.FIELDS (...)] in
 *    batches of BRIDGE_SYNC_HEADER_BATCH UIDs), and for every message when
 *    the folder's UIDVALIDITY changed — then state_messages_rematch
 *    re-attaches known messages (EMAILID, X-GM-MSGID, else Message-ID + size
 *    + header hash) so their UIDLs and per-device state survive. The first
 *    sync and a rematch ask for the header fields in the listing itself
 *    (one pass). A big first sync of maildrop_sync_folder_keys_later
 *    records the messages without keys; messages left without keys (that
 *    way, or by a process that stopped before storing them) get them from
 *    maildrop_sync_keys, which maildrop_sync_folder runs at its end.
 *  - Exact sizes (SPEC §4: LIST says what RETR sends, from the first
 *    session on): every live message of the folder that has no exact size
 *    yet — in practice the ones just recorded — gets one before the sync
 *    returns, from its RFC822.SIZE (the CRLF form, RFC 3501) and its last
 *    BRIDGE_SYNC_TAIL octets (imap_fetch_tails_grouped: messages of nearly
 *    the same size share a command, pipelined): ends in CRLF:
 *    the size; in a lone CR or a bare LF: size + 1; otherwise size + 2 (the
 *    CRLF pop3/ adds). A server whose RFC822.SIZE is not the CRLF form is
 *    corrected by the first RETR, as before. A NO/BAD to these fetches
 *    leaves those sizes to RETR (a warning); a lost connection fails the
 *    sync; a message whose fetch failed is asked again at the next sync.
 *  - Memory: one record per message of the listing (plus its EMAILID and
 *    match keys where fetched), freed before returning.
 *  - On success the folder stays selected on the upstream session and *mb
 *    holds the state row as stored after the sync. Failure: POP3_MD_TEMP
 *    (upstream or database trouble) or POP3_MD_PERM (the folder cannot be
 *    selected), with a short reason in detail.
 */
#ifndef BRIDGE_MAILDROP_SYNC_H
#define BRIDGE_MAILDROP_SYNC_H

#include <stddef.h>
#include <stdint.h>

#include "bridge/maildrop/upstream.h"
#include "pop3/maildrop.h"
#include "state/state.h"

#define BRIDGE_SYNC_HEADER_BATCH 500
/* The dele keyword (bridge/config/options.c's default) under which a sync stores
 * HIGHESTMODSEQ and may later be incremental (compared case-insensitively). */
#define BRIDGE_SYNC_MODSEQ_KEYWORD "$POP3Deleted"
/* Octets read from the end of each new message to learn how it ends. */
#define BRIDGE_SYNC_TAIL 2
/* Messages whose sizes lie within this many octets share one partial fetch
 * (imap_fetch_tails_grouped): at most 512 octets of transfer a message, and
 * one command per 510 octets of the size range instead of one per message
 * (docs/DESIGN.md, "Exact sizes from the first LIST"). */
#define BRIDGE_SYNC_TAIL_SPREAD 510

/* The octets RETR sends for a message of RFC822.SIZE size (CRLF form)
 * whose last min(size, BRIDGE_SYNC_TAIL) octets are tail[0..len); size
 * itself when len is 0. */
uint64_t maildrop_exact_size(uint64_t size, const char *tail, size_t len);

enum pop3_md_status maildrop_sync_folder(struct maildrop_upstream *up, struct state_db *db,
    int64_t account_id, const char *folder, const char *keyword, int64_t now,
    struct state_mailbox *mb, char *detail, size_t detail_len);
/* The same for a POP3 session, where the client waits: a first sync of
 * more than BRIDGE_SYNC_HEADER_BATCH messages records them without their
 * match keys, and when more than that many live messages of the folder
 * lack keys (that way, or left by a session that stopped before storing
 * them) *keys_due is set and they are not fetched: the session calls
 * maildrop_sync_keys once the client has its last answer. Fewer are
 * fetched at once, as maildrop_sync_folder does. */
enum pop3_md_status maildrop_sync_folder_keys_later(struct maildrop_upstream *up,
    struct state_db *db, int64_t account_id, const char *folder, const char *keyword,
    int64_t now, struct state_mailbox *mb, bool *keys_due, char *detail, size_t detail_len);
/* Match keys for the live messages of mailbox_id (the selected folder)
 * that have none: one listing of them with the header fields (split into
 * commands of bounded length), stored in one transaction. A NO or BAD
 * leaves them for the next time (a warning); a lost connection fails. */
enum pop3_md_status maildrop_sync_keys(struct maildrop_upstream *up, struct state_db *db,
    int64_t mailbox_id, char *detail, size_t detail_len);

#endif
