/* bridge/serve/sessions.h — counting live sessions, in all and per address.
 *
 * The listener calls serve_sessions_enter() for each accepted connection: it
 * admits it unless --max-sessions sessions are running, or
 * --max-sessions-per-ip from that address (IPv6 counted by /64, as
 * bridge/base/addrkey.h says). An admitted session holds a slot that
 * serve_sessions_leave() gives back; leaving twice with the same slot does
 * nothing. serve_sessions_set_limits() changes the limits (SIGHUP): running
 * sessions are never cut, new ones are measured against the new limits.
 *
 * Thread-safe (one mutex). Freed only when no slot is held.
 */
#ifndef BRIDGE_SERVE_SESSIONS_H
#define BRIDGE_SERVE_SESSIONS_H

#include <stddef.h>

enum serve_admit {
	PB_ADMIT_OK,
	PB_ADMIT_FULL,      /* max-sessions reached */
	PB_ADMIT_IP_FULL,   /* max-sessions-per-ip reached for this address */
	PB_ADMIT_NOMEM,
};

struct serve_sessions;
struct base_keycount_node;

struct serve_session_slot {
	struct serve_sessions *table;
	struct base_keycount_node *node;   /* NULL: nothing held */
};

struct serve_sessions *serve_sessions_new(unsigned max_total, unsigned max_per_ip);
void serve_sessions_free(struct serve_sessions *s);
void serve_sessions_set_limits(struct serve_sessions *s, unsigned max_total, unsigned max_per_ip);

enum serve_admit serve_sessions_enter(struct serve_sessions *s, const char *addr,
    struct serve_session_slot *slot);
void serve_sessions_leave(struct serve_session_slot *slot);

unsigned serve_sessions_total(struct serve_sessions *s);
unsigned serve_sessions_from(struct serve_sessions *s, const char *addr);

#endif
