/* bridge/maildrop/upstream.h — one session's connection to the upstream IMAP server:
 * connect and log in as the options say, turn IMAP outcomes into maildrop
 * statuses, and follow the selected mailbox's untagged events.
 *
 * Contract:
 *  - maildrop_upstream_login() connects (host, port, TLS mode, CA, timeout
 *    from the options), sends ID (RFC 2971: name "popbridge" and its
 *    version, and x-originating-ip/-port when forward_addr is set) when the
 *    server offers it — before LOGIN when the greeting's
 *    capabilities have it, else after — logs in, and ENABLEs QRESYNC when
 *    offered (`qresync` says whether the server confirmed it) unless `relay`. A NO or BAD
 *    to ID or ENABLE is not a failure; the session goes on without. Its status: POP3_MD_OK; POP3_MD_AUTH when
 *    the server refused the credentials (the caller turns that into PERM in
 *    managed mode); POP3_MD_TEMP for every kind of trouble (unreachable,
 *    timeout, TLS, a refusal the server marks as temporary); POP3_MD_PERM
 *    when the server forbids logging in at all (LOGINDISABLED). detail gets
 *    a short reason without secrets in every failure case.
 *  - While a mailbox is selected, EXPUNGE (by sequence number, mapped to the
 *    UID through the listing) and VANISHED events add UIDs to `gone`: the
 *    messages another client removed during the session. EXISTS growth is
 *    followed so later sequence numbers stay right. Memory follows what the
 *    server actually sent (listed entries), never a count it announced, and
 *    each EXPUNGE costs O(log n). A mapping that cannot be
 *    kept (allocation) is dropped: `gone` then simply learns nothing more,
 *    and fetches still answer GONE from the server's own reply.
 *  - maildrop_upstream_select() forgets the previous mailbox's map and gone
 *    set: flush them first. It asks for CONDSTORE (SELECT ... (CONDSTORE))
 *    when offered, so info.highestmodseq is set where the server keeps
 *    mod-sequences; a BAD to that parameter gives a warning and a plain
 *    SELECT.
 *  - Connection reuse (SPEC §9, bridge/pool/pool.h): with `pool` set before
 *    login, maildrop_upstream_login() first takes a kept connection of the
 *    same server, user, password (and client address, when it goes
 *    upstream in ID) that answers NOOP — no connect, no login — or else a
 *    slot within --upstream-max-per-account, waiting for one until the
 *    upstream timeout or pool_deadline_ms, whichever comes first
 *    (POP3_MD_TEMP then). A kept connection may still have a mailbox
 *    selected: every user of this struct SELECTs before anything that
 *    needs one (`selected` starts empty).
 *  - maildrop_upstream_free() reads what was sent ahead to its end, then
 *    hands a clean connection (imap_reusable: logged in, no BYE, nothing
 *    in flight, no half-read literal) to the pool for --upstream-reuse
 *    seconds; any other one is logged out (bounded by the timeout) when
 *    still connected. Then the slot goes back and everything is freed;
 *    safe on a zeroed struct and twice.
 */
#ifndef BRIDGE_MAILDROP_UPSTREAM_H
#define BRIDGE_MAILDROP_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge/config/options.h"
#include "bridge/pool/pool.h"
#include "imap/imap.h"
#include "pop3/maildrop.h"

struct maildrop_upstream {
	struct imap_session *imap;
	char selected[PB_FOLDER_MAX];  /* "" = none */
	struct imap_mailbox_info info; /* of the selected mailbox */
	/* the sequence-number map (upstream.c says how): */
	size_t n_msn;                  /* messages the server announced */
	uint32_t *msn_uid;             /* slot - 1 → UID (0: not known yet) */
	uint32_t *msn_fw;              /* Fenwick tree of live slots, 1-based */
	size_t len_msn, alive_msn, cap_msn; /* slots, live ones, room */
	size_t listed_msn;             /* entries listed: what slots may grow to */
	size_t map_moved;              /* slots moved by compaction (tests hold
	                                  it to O(n)) */
	bool map_valid;
	struct imap_uidset gone;       /* UIDs expunged upstream meanwhile */
	bool id_sent;                  /* ID was sent on this connection */
	const char *forward_addr;      /* set before login: the client's address,
	                                  sent in ID as x-originating-ip
	                                  (--upstream-forward-client-ip); NULL:
	                                  none */
	unsigned forward_port;         /* x-originating-port; 0: not sent */
	bool oauth2;                   /* set before login: the password is an
	                                  OAuth2 access token (AUTHENTICATE
	                                  OAUTHBEARER or XOAUTH2, SPEC §10) */
	bool relay;                    /* set before login: the connection goes to
	                                  an IMAP client as it is (the IMAP front,
	                                  SPEC §12), so nothing is ENABLEd */
	bool qresync;                  /* QRESYNC is enabled: expunges come as
	                                  VANISHED, with UIDs */
	unsigned backoff_left_ms;      /* throttling: what login, select and
	                                  listing may still wait (set at login) */
	struct pool *pool;             /* set before login: connections kept
	                                  between sessions; NULL: none */
	uint64_t pool_deadline_ms;     /* set before login: the latest a login
	                                  may wait for the account's cap
	                                  (base_clock_ms); 0: none but the
	                                  upstream timeout */
	struct pool_lease lease;       /* the cap's slot this connection holds */
	bool unpooled;                 /* counted in base_stats' upstream_unpooled
	                                  (a connection without a lease) */
	unsigned keep_s;               /* --upstream-reuse, set at login */
	bool preselected;              /* a kept connection's check SELECTed
	                                  `selected` (info, the map) ... */
	unsigned preselected_at;       /* ... and no command went since while
	                                  imap_commands() is this */
};

/* Fill the IMAP client configuration from the options; on_event set to
 * this module's handler with up as its argument. */
void maildrop_upstream_config(const struct config_options *opt, struct maildrop_upstream *up,
    struct imap_config *cfg);

enum pop3_md_status maildrop_upstream_login(struct maildrop_upstream *up,
    const struct config_options *opt, const char *user, const char *password,
    char *detail, size_t detail_len);

/* Throttling (imap_last_throttled: Microsoft 365's "NO Request is
 * throttled. Suggested Backoff Time: N milliseconds"): login, select and the
 * listings wait the suggested time (1 s when none) and ask again, as long
 * as the waits of the session together stay within the upstream timeout
 * (backoff_left_ms); a wait that would not fit is not started, and the
 * answer is POP3_MD_TEMP (-ERR [SYS/TEMP]) at once. So a throttled login
 * ends within twice the upstream timeout at most, never hangs. */

/* SELECT folder. POP3_MD_OK; POP3_MD_PERM when the server says it does not
 * exist or cannot be selected (an administrator must act); POP3_MD_TEMP on
 * trouble. */
enum pop3_md_status maildrop_upstream_select(struct maildrop_upstream *up, const char *folder,
    char *detail, size_t detail_len);

/* UID FETCH 1:* of the selected mailbox (UID RFC822.SIZE FLAGS, EMAILID and
 * X-GM-MSGID when offered) to cb, recording each message's sequence number
 * for the event map. */
enum imap_result maildrop_upstream_list(struct maildrop_upstream *up, imap_msg_fn *cb,
    void *arg);
/* The same with BODY.PEEK[HEADER.FIELDS (fields)] of every message: the
 * listing and the headers in one pass (m->header). */
enum imap_result maildrop_upstream_list_fields(struct maildrop_upstream *up,
    const char *const *fields, size_t nfields, imap_msg_fn *cb, void *arg);

/* The same listing, only of messages whose mod-sequence is above modseq
 * (CHANGEDSINCE, RFC 7162): flag changes and new messages. With QRESYNC
 * enabled, the UIDs expunged since modseq are added to *vanished (the
 * caller initialised it); without, *vanished stays as it was and expunges
 * are the caller's to find. IMAP_EUNSUPPORTED without CONDSTORE;
 * IMAP_EARG for modseq 0. */
enum imap_result maildrop_upstream_list_changed(struct maildrop_upstream *up, uint64_t modseq,
    struct imap_uidset *vanished, imap_msg_fn *cb, void *arg);

/* The whole sequence-number map at once, from uids[0..n) — every UID of the
 * selected mailbox, ascending (sequence number i + 1 is uids[i]) — when an
 * incremental sync listed only some messages but knows them all. When n is
 * not the number of messages the session has been told of, the map is
 * dropped instead (no guess is ever kept). */
void maildrop_upstream_map_set(struct maildrop_upstream *up, const uint32_t *uids, size_t n);
/* Drop the map: expunges by sequence number then teach `gone` nothing (an
 * incremental sync that cannot vouch for the order of every message). */
void maildrop_upstream_map_forget(struct maildrop_upstream *up);

/* A short description of the last IMAP outcome for a detail/reply text:
 * "what: result (server text)". */
void maildrop_upstream_describe(const struct maildrop_upstream *up, const char *what,
    char *out, size_t len);

bool maildrop_upstream_usable(const struct maildrop_upstream *up);

void maildrop_upstream_free(struct maildrop_upstream *up);

#endif
