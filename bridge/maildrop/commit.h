/* bridge/maildrop/commit.h — carrying out a committed DELE/seen set upstream from
 * its journal entry (SPEC §5; the argument is in docs/DESIGN.md, "Commit
 * and crash safety").
 *
 * Contract:
 *  - The caller has made the intent durable (state_journal_begin) before
 *    anything here runs. maildrop_commit_run() then performs the upstream
 *    steps of one entry, each idempotent, in this order: \Seen for the
 *    STATE_JA_SEEN items; then the entry's dele policy for the
 *    STATE_JA_DELETE items — hide: nothing upstream; flag: +FLAGS keyword;
 *    trash/archive: UID MOVE to the SPECIAL-USE folder, else the configured
 *    name, created when missing (without MOVE: UID COPY, recorded as
 *    STATE_JA_COPIED so a replay never copies twice, then \Deleted and UID
 *    EXPUNGE of those UIDs; without UIDPLUS either: \Deleted and the dele
 *    keyword, never an expunge, and a warning in the log); expunge: +FLAGS \Deleted and UID EXPUNGE of
 *    exactly those UIDs (without UIDPLUS: moved to Trash instead);
 *    last-device: expunged the same way once state_message_holders_by says
 *    no device of the account holds it, each device counted with its
 *    effective settings (global options, its configuration section, its
 *    stored overrides — the precedence of its own maildrop). Items are
 *    marked done after their step succeeded; then the entry goes
 *    UPSTREAM_DONE and DONE.
 *  - An item is acted on through its message's CURRENT UID (state), so an
 *    entry written before a UIDVALIDITY change is replayed on the renumbered
 *    message; a message state knows to be gone needs nothing more (it was
 *    moved or expunged already: that is how a repeated step stays a no-op).
 *  - Returns 0 when the entry is DONE, -1 when it stays pending (upstream or
 *    database trouble) with a short reason in detail; whatever was done is
 *    recorded, the rest is replayed by maildrop_commit_replay() at the next
 *    session of the account.
 *  - The test hook (bridge/maildrop/backend.h) kills the process at the named points.
 */
#ifndef BRIDGE_MAILDROP_COMMIT_H
#define BRIDGE_MAILDROP_COMMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge/config/options.h"
#include "bridge/maildrop/backend.h"
#include "bridge/maildrop/upstream.h"
#include "state/state.h"

struct maildrop_commit_env {
	struct maildrop_upstream *up;    /* logged in as the entry's account */
	struct state_db *db;
	const struct config_options *opt;  /* folder names, keyword; the global view
	                                  settings and device sections
	                                  (last-device holders) */
	enum maildrop_crash_point crash_at;
	int64_t now;
	/* Replay only: the device locks (NULL: none are taken) and the
	 * session's own device, whose lock the session holds already. */
	struct maildrop_devlocks *devlocks;
	int64_t device_id;
};

/* Run entry e. sync_first: select and sync e->folder before acting (replay);
 * otherwise e->folder must be the selected, synced folder (the session's). */
int maildrop_commit_run(const struct maildrop_commit_env *env, const struct state_journal *e,
    bool sync_first, char *detail, size_t detail_len);

/* Run every entry of the account that is not DONE, oldest first. An entry
 * of another device is run only under that device's lock (env->devlocks,
 * taken without waiting, as fresh from the database once held): when the
 * device is in a session, that session may be running the entry at its
 * QUIT right now, and two runs at once would both UID COPY (without MOVE)
 * — a duplicate in Trash. Such an entry is left to its session and not
 * counted. Returns how many remain pending (0: all finished), or -1 when
 * the pending entries could not even be read; detail says why the first
 * one failed. */
int maildrop_commit_replay(const struct maildrop_commit_env *env, int64_t account_id,
    char *detail, size_t detail_len);

/* A run of entry journal_id (of device `device` of `account`) failed with
 * detail (the step and the server's answer): counted in state
 * (state_journal_failed); from the STATE_JOURNAL_STUCK-th failure on, each
 * one is an error log line naming account, device, entry, the count and
 * detail (before that, the caller's warning is the record). */
void maildrop_commit_failed(struct state_db *db, int64_t journal_id, const char *account,
    const char *device, const char *detail);
/* Kill the process (SIGKILL) when env->crash_at is `point`. */
void maildrop_crash_point(enum maildrop_crash_point crash_at, enum maildrop_crash_point point);

#endif
