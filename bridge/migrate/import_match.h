/* bridge/migrate/import_match.h — match the old POP3 server's messages to the
 * upstream messages recorded in state, and store the old UIDLs
 * (SPEC §7, `popbridge import-uidls`).
 *
 * The matching rule (docs/MIGRATION.md explains it for administrators):
 *  - Keys of an old message: its Message-ID and the header hash of
 *    bridge/maildrop/matchkey.h (Message-ID, Date, From, To, Subject), computed from
 *    its TOP n 0 header with the same function the bridge uses for upstream
 *    messages, and its LIST size.
 *  - Candidates: live upstream messages of the folder with the same
 *    Message-ID (or none on both sides) and the same header hash, whose size
 *    is within [ceil(size/2), 2*size]: the old server and the upstream may
 *    count line ends differently (LF storage vs CRLF on the wire), which
 *    changes a size by at most its line count, and a line is at least one
 *    octet; the size is a sanity bound, not the key.
 *  - One candidate: matched. Several: the ones whose RFC822.SIZE (or learned
 *    exact size) equals the old size decide when they are exactly one.
 *    Otherwise, when k old messages carry the same keys and size and there
 *    are exactly k candidates (true duplicates, which nobody can tell
 *    apart), they are paired in order (old message number, upstream UID).
 *    Anything else: ambiguous. No candidate: unmatched.
 *  - An upstream message claimed by more than one old message: all of those
 *    are ambiguous. An old message without usable keys (TOP refused, header
 *    unreadable) is unmatched.
 *  - Storing (migrate_import_apply): in ONE write transaction, a matched old UIDL
 *    that is already the effective UIDL of another live upstream message not
 *    being matched is a conflict (not stored: two messages with one UIDL
 *    would make devices skip one); the others are stored. UIDLs may move
 *    between matched messages (the same UIDVALIDITY on both servers with a
 *    different order): they are stored in one state_import_uidls batch,
 *    which checks uniqueness once the whole batch is written. Values
 *    already stored are left alone: a second run changes nothing.
 */
#ifndef BRIDGE_MIGRATE_IMPORT_MATCH_H
#define BRIDGE_MIGRATE_IMPORT_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge/maildrop/matchkey.h"
#include "bridge/migrate/pop3client_parse.h"
#include "state/state.h"

#define IMPORT_CAND_MAX    8    /* candidates kept per old message */
#define IMPORT_SUBJECT_MAX 80   /* for the list of the unmatched */

enum migrate_import_outcome {
	IMPORT_UNMATCHED = 0,
	IMPORT_MATCHED,
	IMPORT_AMBIGUOUS,
	IMPORT_CONFLICT,
};

struct migrate_import_old {
	/* inputs */
	uint32_t num;
	uint64_t size;
	char uidl[POP3C_UIDL_MAX + 1];
	bool has_keys;                       /* false: why says it */
	char hash[MATCHKEY_HASH_LEN + 1];
	char *msgid;                         /* owned; NULL = none */
	char subject[IMPORT_SUBJECT_MAX + 1];/* sanitised */
	/* results */
	enum migrate_import_outcome outcome;
	int64_t target;                      /* state message id when matched */
	const char *why;                     /* static text: reason */
	size_t ncand;
	int64_t cand[IMPORT_CAND_MAX];
};

struct migrate_import_counts {
	size_t matched, unmatched, ambiguous, conflict;
	size_t changed;      /* old UIDLs newly stored (or, dry run: to store) */
	size_t unchanged;    /* matched ones already stored before */
	size_t offered;      /* matched messages whose visible UIDL changes
	                        although a device of the account has been
	                        offered them already: it will see them as new */
};

/* The devices of an account (the first IMPORT_DEVICES_MAX; more = true when
 * there are others), and whether any of them has been offered a message. */
#define IMPORT_DEVICES_MAX 256
struct migrate_import_devices {
	int64_t id[IMPORT_DEVICES_MAX];
	size_t n;
	bool more;
};
int migrate_import_devices_get(struct state_db *db, int64_t account_id, struct migrate_import_devices *out);
int migrate_import_offered(struct state_db *db, const struct migrate_import_devices *dev,
    int64_t message_id, bool *offered);

/* Fill old[i].keys from a header block (filtered by migrate_pop3c_hdr); 0 or -1
 * (out of memory). A truncated block or a failed hash leaves has_keys
 * false with a reason. */
int migrate_import_old_set_header(struct migrate_import_old *o, const struct migrate_pop3c_hdr *h,
    unsigned dropped);
void migrate_import_old_free(struct migrate_import_old *v, size_t n);

/* Decide every old message's outcome against the live messages of the
 * mailbox (reads only). 0, or -1 with err. */
int migrate_import_match(struct state_db *db, int64_t mailbox_id, struct migrate_import_old *old,
    size_t n, char *err, size_t errlen);

/* Conflicts and storing, as described above; with store false everything
 * is computed in a transaction that is rolled back. counts filled. */
int migrate_import_apply(struct state_db *db, int64_t mailbox_id, struct migrate_import_old *old,
    size_t n, bool store, struct migrate_import_counts *counts, char *err, size_t errlen);

#endif
