/* bridge/sessions.h — counting live sessions, in all and per address.
 *
 * The listener calls pb_sessions_enter() for each accepted connection: it
 * admits it unless --max-sessions sessions are running, or
 * --max-sessions-per-ip from that address (IPv6 counted by /64, as
 * bridge/addrkey.h says). An admitted session holds a slot that
 * pb_sessions_leave() gives back; leaving twice with the same slot does
 * nothing. pb_sessions_set_limits() changes the limits (SIGHUP): running
 * sessions are never cut, new ones are measured against the new limits.
 *
 * Thread-safe (one mutex). Freed only when no slot is held.
 */
#ifndef BRIDGE_SESSIONS_H
#define BRIDGE_SESSIONS_H

#include <stddef.h>

enum pb_admit {
	PB_ADMIT_OK,
	PB_ADMIT_FULL,      /* max-sessions reached */
	PB_ADMIT_IP_FULL,   /* max-sessions-per-ip reached for this address */
	PB_ADMIT_NOMEM,
};

struct pb_sessions;
struct pb_keycount_node;

struct pb_session_slot {
	struct pb_sessions *table;
	struct pb_keycount_node *node;   /* NULL: nothing held */
};

struct pb_sessions *pb_sessions_new(unsigned max_total, unsigned max_per_ip);
void pb_sessions_free(struct pb_sessions *s);
void pb_sessions_set_limits(struct pb_sessions *s, unsigned max_total, unsigned max_per_ip);

enum pb_admit pb_sessions_enter(struct pb_sessions *s, const char *addr,
    struct pb_session_slot *slot);
void pb_sessions_leave(struct pb_session_slot *slot);

unsigned pb_sessions_total(struct pb_sessions *s);
unsigned pb_sessions_from(struct pb_sessions *s, const char *addr);

#endif
