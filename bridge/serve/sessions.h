/* bridge/serve/sessions.h — counting live sessions, in all and per address.
 *
 * The listener calls serve_sessions_enter() for each accepted connection: it
 * admits it unless --max-sessions sessions are running, or
 * --max-sessions-per-ip from that address (IPv6 counted by /64, as
 * bridge/base/addrkey.h says), or half of --max-sessions (at least one) are
 * connections that have not logged in yet (SPEC §13: whoever holds
 * connections open without logging in can take at most half the slots, so
 * logged-in devices always find room). An admitted session holds a slot
 * that starts "before login"; serve_sessions_logged_in() moves it to the
 * logged-in half (once; later calls do nothing), and serve_sessions_leave()
 * gives it back; leaving twice with the same slot does nothing.
 *
 * A connection from a trusted proxy (SPEC §13) is admitted with
 * serve_sessions_enter_proxied(): counted in all and before login, but not
 * yet per address — the address it counts under is the client's, known
 * once the PROXY header is read; serve_sessions_set_addr() then takes it
 * (PB_ADMIT_IP_FULL when that address has its --max-sessions-per-ip). serve_sessions_set_limits() changes the limits (SIGHUP): running
 * sessions are never cut, new ones are measured against the new limits.
 *
 * Thread-safe (one mutex). Freed only when no slot is held.
 */
#ifndef BRIDGE_SERVE_SESSIONS_H
#define BRIDGE_SERVE_SESSIONS_H

#include <stdbool.h>
#include <stddef.h>

enum serve_admit {
	PB_ADMIT_OK,
	PB_ADMIT_FULL,      /* max-sessions reached */
	PB_ADMIT_IP_FULL,   /* max-sessions-per-ip reached for this address */
	PB_ADMIT_PRELOGIN_FULL, /* half the slots are held before login */
	PB_ADMIT_NOMEM,
};

struct serve_sessions;
struct base_keycount_node;

struct serve_session_slot {
	struct serve_sessions *table;
	struct base_keycount_node *node;   /* the per-address count; NULL: none */
	bool held;                         /* counted in the total */
	bool pre_login;                    /* counted among those not logged in */
};

struct serve_sessions *serve_sessions_new(unsigned max_total, unsigned max_per_ip);
void serve_sessions_free(struct serve_sessions *s);
void serve_sessions_set_limits(struct serve_sessions *s, unsigned max_total, unsigned max_per_ip);

enum serve_admit serve_sessions_enter(struct serve_sessions *s, const char *addr,
    struct serve_session_slot *slot);
enum serve_admit serve_sessions_enter_proxied(struct serve_sessions *s,
    struct serve_session_slot *slot);
enum serve_admit serve_sessions_set_addr(struct serve_session_slot *slot, const char *addr);
void serve_sessions_logged_in(struct serve_session_slot *slot);
void serve_sessions_leave(struct serve_session_slot *slot);

unsigned serve_sessions_total(struct serve_sessions *s);
/* Sessions that have not logged in yet. */
unsigned serve_sessions_pre_login(struct serve_sessions *s);
unsigned serve_sessions_from(struct serve_sessions *s, const char *addr);
/* For the metrics, under one lock: sessions before login and the
 * --max-sessions in force. */
void serve_sessions_gauges(struct serve_sessions *s, unsigned *pre_login, unsigned *max_total);

#endif
