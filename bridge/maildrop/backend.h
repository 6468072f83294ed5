/* bridge/maildrop/backend.h — what `serve` hands the maildrop implementation, and the
 * implementation itself (maildrop_ops, pop3/maildrop.h over imap/ and
 * state/).
 *
 * Contract:
 *  - struct maildrop_ctx is process-wide and shared by every session thread.
 *    serve fills it once (maildrop_ctx_init, then the pointers below) before
 *    the first session and frees it (maildrop_ctx_free) after the last one.
 *    Sessions only read it; the device-lock and throttle tables it points to
 *    are thread-safe on their own (bridge/maildrop/devlock.h, bridge/guard/throttle.h).
 *  - struct maildrop_conn is one POP3 connection. serve fills the inputs
 *    (maildrop_conn_init) and passes it as the `backend` argument of
 *    pop3_session_run(); open() fills the outputs, which serve reads for its
 *    one log line after pop3_session_run() returns. The conn must outlive
 *    the session (the maildrop handle keeps a pointer to it until close()
 *    and release()).
 *  - Options: a session uses conn->opt when set (the reference-counted
 *    snapshot serve took for this session, so a SIGHUP reload never changes
 *    a running session), else ctx->opt. Either must stay valid and unchanged
 *    until the session's close().
 *  - serve decides plaintext_auth_allowed itself; nothing here does.
 *  - Every upstream exchange is bounded by the options' upstream timeout
 *    (SPEC §5): open(), fetch() and commit() answer POP3_MD_TEMP when it
 *    fires, never hang.
 *  - Crash-test hook (docs/DESIGN.md, "Commit and crash safety"): when the
 *    environment variable POPBRIDGE_TEST_CRASH_AT names a point of the commit
 *    path at maildrop_ctx_init() time, a commit reaching that point kills the
 *    process with SIGKILL. Unset (always, in production): no effect.
 */
#ifndef BRIDGE_MAILDROP_BACKEND_H
#define BRIDGE_MAILDROP_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge/base/addrkey.h"
#include "pop3/maildrop.h"
#include "state/state.h"

struct config_options;
struct maildrop_devlocks;        /* bridge/maildrop/devlock.h */
struct guard_throttle;           /* bridge/guard/throttle.h */
struct guard_gate;               /* bridge/guard/gate.h */
struct pool;                     /* bridge/pool/pool.h */
struct maildrop_upstream;        /* bridge/maildrop/upstream.h */

#define BRIDGE_KEY_LEN     32   /* managed-mode key (bridge/managed/secret.h) */
#define BRIDGE_TLSVER_MAX  16   /* "TLSv1.3" + NUL */
#define BRIDGE_DETAIL_MAX  160  /* a short failure detail for the log line */
/* How long state keeps a message gone upstream, and a finished commit
 * (docs/DESIGN.md, "State growth"): long enough for an interrupted commit
 * to be finished (its messages are never purged while it is unfinished)
 * and for a UIDVALIDITY change seen late to re-attach its messages; after
 * that they only cost space. Purged at the end of every session. */
#define BRIDGE_PURGE_AGE_S (30 * 86400)

/* Named points of the commit path where the test hook can kill the process
 * (POPBRIDGE_TEST_CRASH_AT=<name>). */
enum maildrop_crash_point {
	BRIDGE_CRASH_NONE = 0,
	BRIDGE_CRASH_AFTER_JOURNAL,       /* "after-journal": intent durable,
	                                     nothing done upstream */
	BRIDGE_CRASH_AFTER_UPSTREAM_STEP, /* "after-upstream-step": the first
	                                     upstream step done, not yet marked */
	BRIDGE_CRASH_BEFORE_FINISH,       /* "before-finish": every upstream step
	                                     done, the entry not yet finished */
	BRIDGE_CRASH_AFTER_APPEND,        /* "after-append": a Sent copy's APPEND
	                                     answered OK, not yet recorded
	                                     (SPEC §11, bridge/submit/) */
};

struct maildrop_ctx {
	const struct config_options *opt;      /* effective options (serve owns) */
	struct maildrop_devlocks *devlocks;      /* one session per device (serve owns) */
	struct guard_throttle *throttle;         /* failed-login delay per address
	                                      (serve owns) */
	struct guard_gate *hash_gate;            /* bounds concurrent password
	                                      checks (serve owns) */
	struct pool *pool;                 /* upstream connections kept between
	                                      sessions, the per-account cap
	                                      (serve owns); NULL: neither */
	unsigned char managed_key[BRIDGE_KEY_LEN]; /* loaded by serve in managed
	                                      mode; cleansed by maildrop_ctx_free */
	bool has_managed_key;
	enum maildrop_crash_point crash_at;  /* test hook, from the environment */
	/* SMTP submission (SPEC §11): called at every good login of any
	 * protocol, with the session's logged-in IMAP connection and state
	 * database, so that the Sent copies the account still owes go in now;
	 * it may leave another folder selected. NULL: none (serve sets it to
	 * bridge/submit/'s submit_owed_copies when submission is on). */
	void (*owed_copies)(void *arg, struct maildrop_upstream *up, struct state_db *db,
	    int64_t account_id, const char *account, const struct config_options *opt);
	void *owed_copies_arg;
};

struct maildrop_conn {
	/* inputs, set by serve (maildrop_conn_init) */
	struct maildrop_ctx *ctx;
	const struct config_options *opt;      /* this session's snapshot; NULL: ctx->opt */
	char remote_addr[PB_ADDR_TEXT_MAX]; /* numeric */
	unsigned remote_port;              /* 0: not known */
	bool loopback;                     /* remote_addr is 127.0.0.0/8 or ::1 */
	uint64_t login_deadline_ms;        /* CLOCK_MONOTONIC ms (base_clock_ms)
	                                      by which the login must be done; 0
	                                      = none */
	void (*logged_in)(void *arg);      /* called once when open() succeeds
	                                      (serve moves the session out of the
	                                      pre-login share); NULL: none */
	void *logged_in_arg;
	char tls_version[BRIDGE_TLSVER_MAX]; /* client side; "" = none */

	/* outputs, filled by open() (and commit()) for serve's log line */
	char account[STATE_ACCOUNT_MAX + 1]; /* "" until the user name parsed */
	char device[STATE_DEVICE_MAX + 1];
	char upstream_tls[BRIDGE_TLSVER_MAX]; /* "" = plaintext upstream */
	char detail[BRIDGE_DETAIL_MAX];    /* why open/fetch/commit failed; "" */
	bool identified;                   /* the credentials were good: the
	                                      user, account and device names may
	                                      be logged (before, the "user" may
	                                      be a password typed in the wrong
	                                      field) */
	bool opened;                       /* an open() succeeded */
	uint64_t dele_octets;              /* octets of the committed DELE set */
	bool commit_pending;               /* the commit is durable, but some
	                                      upstream steps wait for the next
	                                      session of the account */
};

/* The maildrop implementation; pass &maildrop_ops and a
 * struct maildrop_conn * to pop3_session_run(). */
extern const struct pop3_maildrop_ops maildrop_ops;

/* Zero ctx and read the crash-test hook from the environment. serve then
 * sets opt, devlocks, throttle, hash_gate and (managed mode) the key. */
void maildrop_ctx_init(struct maildrop_ctx *ctx);
/* Cleanse the key; the pointed-to tables and options stay serve's. */
void maildrop_ctx_free(struct maildrop_ctx *ctx);

/* Zero conn and fill the inputs: loopback is computed from remote_addr;
 * tls_version NULL means no TLS. Strings are copied (cut to fit). */
void maildrop_conn_init(struct maildrop_conn *conn, struct maildrop_ctx *ctx,
    const char *remote_addr, const char *tls_version);

/* The point named by s ("after-journal", "after-upstream-step",
 * "before-finish"); BRIDGE_CRASH_NONE for NULL, "" or anything else. */
enum maildrop_crash_point maildrop_crash_point_parse(const char *s);

#endif
