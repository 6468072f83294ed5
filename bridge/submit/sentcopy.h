/* bridge/submit/sentcopy.h — putting the Sent copies into the account's
 * Sent folder (SPEC §11), once each.
 *
 * The folder: SPECIAL-USE \Sent, else --sent-folder under the personal
 * namespace (bridge/maildrop/folder.h), created when missing ([TRYCREATE]).
 * The copy: APPEND with \Seen and the time it was sent as its date,
 * streamed from the spool file.
 *
 * Never twice: the row is APPENDING (durable) before the APPEND goes out
 * and DONE once it is answered OK. A row found APPENDING — a crash, a lost
 * connection or a timeout between the APPEND and its record — is looked
 * for in the folder first: messages of exactly its size dated since the
 * day before it was sent, newest first (at most SUBMIT_LOOKUP_MAX), are
 * fetched and hashed; one with the copy's SHA-256 that no other DONE row
 * of the account claims is the copy, and the row is DONE without a second
 * APPEND. A clean refusal (NO, BAD) sets it back to PENDING. Each failed
 * run is counted (attempts, last_error) and logged; from
 * SUBMIT_STUCK_ATTEMPTS on as an error.
 *
 * Contract:
 *  - submit_copy_one(): one row (PENDING or APPENDING). 0 when the copy is
 *    in the folder (the row DONE, the spool file removed), -1 with detail.
 *    up must be logged in; it may be left with another folder selected.
 *  - submit_copy_account(): the account's owed copies, oldest first, at
 *    most SUBMIT_RETRY_BATCH; stops at the first connection failure.
 *    Returns how many are still owed after it (at most the batch), and
 *    logs what failed; 0 at once when another run holds the account's
 *    lock (it does the work).
 */
#ifndef BRIDGE_SUBMIT_SENTCOPY_H
#define BRIDGE_SUBMIT_SENTCOPY_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge/config/options.h"
#include "bridge/maildrop/backend.h"
#include "bridge/maildrop/upstream.h"
#include "state/state.h"

#define SUBMIT_LOOKUP_MAX 32      /* candidates hashed to find a copy */
#define SUBMIT_RETRY_BATCH 50     /* copies one retry run handles at most */
#define SUBMIT_STUCK_ATTEMPTS 3   /* as the journal's STATE_JOURNAL_STUCK */
/* The lock's device name: a control character, which no device name has. */
#define SUBMIT_LOCK_DEVICE "\001sent-copies"

struct submit_copy_env {
	struct maildrop_upstream *up;
	struct state_db *db;
	const struct config_options *opt;
	const char *spool_dir;
	const char *account;       /* for log lines and the lock */
	int64_t now;
	/* One run per account at a time (sessions and serve's retry): taken
	 * without waiting by submit_copy_account, as the device lock of a
	 * pseudo-device no login can name. NULL: none (tests). */
	struct maildrop_devlocks *locks;
	/* Test hook (POPBRIDGE_TEST_CRASH_AT=after-append, docs/DESIGN.md): the
	 * process kills itself after an APPEND's OK, before recording it. */
	enum maildrop_crash_point crash_at;
	/* serve's retry: set when the service stops; the copies not yet
	 * begun wait for the next run. NULL: never. */
	const atomic_bool *stop;
};

int submit_copy_one(const struct submit_copy_env *env, const struct state_sent *row,
    char *detail, size_t detail_len);
int submit_copy_account(const struct submit_copy_env *env, int64_t account_id);

#endif
