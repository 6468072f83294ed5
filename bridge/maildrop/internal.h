/* bridge/maildrop/internal.h — the maildrop handle shared by maildrop_open.c
 * (open: login, lock, sync, view) and maildrop.c (everything after). Not
 * for other modules: they use bridge/maildrop/backend.h.
 */
#ifndef BRIDGE_MAILDROP_INTERNAL_H
#define BRIDGE_MAILDROP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge/config/options.h"
#include "bridge/maildrop/backend.h"
#include "bridge/maildrop/devlock.h"
#include "bridge/maildrop/upstream.h"
#include "pop3/limits.h"
#include "pop3/maildrop.h"
#include "state/state.h"

/* TOP reads the body in pieces: the first holds about top_lines lines of
 * BRIDGE_TOP_LINE_GUESS octets (at least BRIDGE_TOP_PIECE_MIN), each next
 * one twice the last, never more than BRIDGE_TOP_PIECE_MAX, until the
 * engine has its lines or the text ends. So TOP n 0 on a 20 MB message
 * reads the header only, and TOP of a few lines one small piece. */
#define BRIDGE_TOP_LINE_GUESS  100u
#define BRIDGE_TOP_PIECE_MIN   ((uint64_t)16 << 10)
#define BRIDGE_TOP_PIECE_MAX   ((uint64_t)4 << 20)

/* Read-ahead (bridge/maildrop/ahead.c, SPEC §9): at most
 * BRIDGE_AHEAD_OCTETS of announced message size in flight (the answers wait
 * in the socket buffers, never in memory); a sequential client's read-ahead
 * starts BRIDGE_AHEAD_FIRST messages deep and doubles while the pattern
 * holds; BRIDGE_AHEAD_STORE_ROOM of the IMAP_AHEAD_MAX commands are left to
 * the stores of seen_on retr. */
#define BRIDGE_AHEAD_OCTETS     ((uint64_t)4 << 20)
#define BRIDGE_AHEAD_FIRST      4u
#define BRIDGE_AHEAD_STORE_ROOM 8u
/* The first sequential read-ahead goes at least this many octets deep
 * (BRIDGE_AHEAD_FIRST messages at least): small messages are read ahead
 * many at a time from the start, so the doubling does not cost a round
 * trip per step; a client that stops early costs at most this. */
#define BRIDGE_AHEAD_FIRST_OCTETS ((uint64_t)1 << 20)

struct maildrop_md {
	struct maildrop_conn *conn;
	const struct config_options *opt;
	struct state_db *db;
	struct maildrop_upstream up;
	struct maildrop_devlock lock;
	int64_t account_id, device_id, mailbox_id;
	/* the device's settings (bridge/maildrop/settings.h): cfgdev is the
	 * configuration's view, the defaults state's stored overrides fall back
	 * to; eff the effective ones, the stored overrides over cfgdev */
	struct config_device_settings cfgdev;
	struct state_view_defaults def;  /* points into cfgdev */
	struct config_device_settings eff;
	struct state_view_msg *view;     /* the session's maildrop, ascending UID */
	size_t n;
	bool *retr_now;                  /* RETR completed in this session */
	/* read-ahead (ahead.c) */
	struct pop3_md_next hint[POP3_HINT_MAX]; /* the engine's look-ahead */
	size_t nhint;                    /* 0: none for the coming fetch */
	size_t seq_next;                 /* the index a sequential client asks
	                                    for next (SIZE_MAX: none) */
	unsigned seq_depth;              /* its read-ahead depth now */
	bool keys_due;                   /* live messages lack match keys:
	                                    md_release fetches them */
	struct imap_uidset seen_wait;    /* seen_on retr: \Seen not sent yet
	                                    (BRIDGE_AHEAD_STORE_ROOM stores were
	                                    in flight); sent as ranges */
};

/* The first TEXT piece fetch_top asks for, for TOP's line count. */
uint64_t maildrop_top_piece(uint64_t lines);
/* hint() of pop3/maildrop.h: keep the engine's look-ahead for the next
 * fetch. */
void maildrop_ahead_hint(void *md, const struct pop3_md_next *next, size_t n);
/* Before fetching idx: send ahead what the client is about to ask for
 * (the hint, or the sequential pattern), within the bounds. */
void maildrop_ahead_send(struct maildrop_md *md, size_t idx, enum pop3_fetch_what what,
    uint64_t top_lines);
/* seen_on retr: UID STORE +FLAGS.SILENT (\Seen) without waiting for its
 * answer; a failure is logged when the answer comes (or the connection
 * goes). At most BRIDGE_AHEAD_STORE_ROOM stores are in flight: UIDs
 * retrieved meanwhile wait in seen_wait and go as one store per run of
 * UIDs when one has been answered. */
void maildrop_ahead_seen(struct maildrop_md *md, uint32_t uid);
/* Send what waits in seen_wait now (before a commit, at the end of a
 * session): ahead where there is room, the rest waiting for the answer; a
 * failure is logged. */
void maildrop_ahead_seen_flush(struct maildrop_md *md);

/* dst = a followed by b (either may be NULL), cut to fit cap, every byte
 * outside printable ASCII replaced by '?': safe for a reply or log detail. */
void maildrop_text(char *dst, size_t cap, const char *a, const char *b);

/* dst = the client text of a failure: "Mailbox not available: detail"
 * (perm: an administrator must act) or "Mail server unavailable, try again
 * later: detail" (login.c). */
void maildrop_failure_text(char *dst, size_t cap, bool perm, const char *detail);

/* Release everything md holds (lock exactly once, upstream LOGOUT, the
 * database) and free it; NULL is a no-op. */
void maildrop_md_free(struct maildrop_md *md);

enum pop3_md_status maildrop_md_open(void *backend, const struct pop3_credentials *cred,
    void **mdp, struct pop3_md_reply *reply);

#endif
