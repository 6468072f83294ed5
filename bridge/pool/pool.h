/* bridge/pool/pool.h — upstream IMAP connections kept between sessions, and
 * the cap on connections per upstream account (SPEC §9, "Connection
 * reuse").
 *
 * A session that ends with a clean, logged-in upstream connection hands it
 * to the pool (pool_keep) instead of logging out; the next session of the
 * same account with the same credentials takes it (pool_acquire) after a
 * NOOP has shown that it still works, and saves the connection, the TLS
 * handshake and the login. Every connection of an account counts against
 * its cap, kept or in use, from pool_acquire until pool_keep or
 * pool_release.
 *
 * Contract:
 *  - One pool per process, shared by every session thread (thread-safe:
 *    one mutex, one condition variable). pool_new starts one thread that
 *    logs out kept connections when their time is up; pool_free stops it
 *    and closes what is still kept (without LOGOUT: the process is
 *    stopping), and must be called after the last session has ended.
 *  - An *account*, for the cap, is the upstream server text and the login
 *    name, ASCII case-insensitively (most servers fold user names, so two
 *    spellings are one account there; counting them together only makes
 *    the cap stricter).
 *  - A kept connection is handed only to a key with the same *identity*:
 *    the same server text, the same login name (exact octets: a server
 *    whose names are case-sensitive has two accounts there), the same
 *    secret and the same client text. The identity is compared as an
 *    HMAC-SHA-256 under a key drawn at pool_new and held only in this
 *    process's memory; the secret itself is never kept, copied or written
 *    anywhere (SPEC §9: in passthrough mode the password of the new login
 *    must equal the one that opened the connection).
 *  - pool_acquire, for one key:
 *     - POOL_KEPT: *imap is a kept connection of that identity that has
 *       just passed its check (events during it dropped), in the state it
 *       was kept in or the check left (a mailbox may be selected),
 *       *bits as given to pool_keep. Its events go nowhere until the
 *       caller sets them (imap_set_events).
 *     - POOL_NEW: a slot for a new connection: the caller connects and
 *       logs in. A kept connection that failed its NOOP (closed, BYE) was
 *       dropped on the way: its slot is this one.
 *     - POOL_FULL: the account had max_per_account connections in use
 *       until deadline_ms (base_clock_ms; 0 = now): nothing held.
 *       Kept connections of the account with another identity do not
 *       count as in use: one is logged out to make room.
 *     - POOL_DOWN: the kept connection did not answer NOOP within its
 *       timeout: the server is not answering, and a new login would wait
 *       as long again; nothing held.
 *     - POOL_NOMEM: nothing held.
 *    With POOL_KEPT and POOL_NEW the lease holds a slot until pool_keep or
 *    pool_release. The check is check(check_arg, imap, hint) when check is
 *    not NULL, else NOOP: it answers as NOOP would (IMAP_OK: the connection
 *    works; else a failure imap_last() describes, a timeout being
 *    POOL_DOWN), and may do more on the way (the maildrop pipelines its
 *    SELECT of the hinted folder with the NOOP: SPEC §9's check and the
 *    SELECT a session needs in one round trip). hint is what pool_keep was
 *    given ("" when nothing).
 *  - pool_keep keeps the connection for keep_s seconds (with hint, a text
 *    of at most POOL_HINT_MAX octets for the next check, or NULL) when keep_s > 0,
 *    imap_reusable() (the caller drained what it sent ahead first) and
 *    the pool is not full of kept connections (POOL_KEPT_MAX: the oldest
 *    kept one is then logged out to make room): true, the pool owns imap
 *    and the lease is empty. Otherwise false and nothing changed: the
 *    caller logs out, frees, then pool_release.
 *  - pool_release gives the slot back (the caller has closed its
 *    connection, or never had one); the lease is empty afterwards, and a
 *    second release does nothing. A zeroed lease is empty.
 */
#ifndef BRIDGE_POOL_POOL_H
#define BRIDGE_POOL_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/imap.h"

/* Connections kept at once, all accounts together. Each holds a socket
 * (one descriptor) and its imap/ session, about 100 KiB (IMAP_READ_BUF and
 * the parser's buffers); 256 of them cost some 25 MiB. The oldest goes
 * first when a session ends with the pool full. */
#define POOL_KEPT_MAX 256
#define POOL_ID_LEN 32   /* HMAC-SHA-256 */
#define POOL_HINT_MAX 1024  /* a longer hint is not kept */

struct pool;
struct base_keycount_node;

/* Who a connection is (see the contract). Strings NUL-terminated; client
 * "" or NULL when the connection does not depend on the client. */
struct pool_key {
	const char *server;
	const char *user;
	const void *secret;
	size_t secret_len;
	const char *client;
};

/* One session's hold on a slot; zero it before the first use. */
struct pool_lease {
	struct pool *pool;
	struct base_keycount_node *slot;  /* NULL: nothing held */
	unsigned char id[POOL_ID_LEN];     /* the identity */
	unsigned char acct[POOL_ID_LEN];   /* the account (cap) */
};

enum pool_take { POOL_NEW, POOL_KEPT, POOL_FULL, POOL_DOWN, POOL_NOMEM };

/* The check of a kept connection before it is handed on (see the contract). */
typedef enum imap_result pool_check_fn(void *arg, struct imap_session *imap,
    const char *hint);

/* NULL when out of memory or the thread cannot start. */
struct pool *pool_new(void);
void pool_free(struct pool *p);

enum pool_take pool_acquire(struct pool *p, const struct pool_key *key,
    unsigned max_per_account, uint64_t deadline_ms, struct pool_lease *lease,
    struct imap_session **imap, unsigned *bits, pool_check_fn *check, void *check_arg);
bool pool_keep(struct pool_lease *lease, struct imap_session *imap, unsigned bits,
    unsigned keep_s, const char *hint);
void pool_release(struct pool_lease *lease);

/* Connections kept now, and connections in use (slots held by leases). */
void pool_counts(struct pool *p, size_t *kept, size_t *busy);

#endif
