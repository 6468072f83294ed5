/* bridge/base/addrkey.h — client addresses: the unit one is counted and
 * throttled as, and whether it is a loopback address.
 *
 * An IPv4 address stands for itself; an IPv6 address stands for its /64
 * (one host or home usually holds a whole /64, so per-address limits on
 * single IPv6 addresses would be trivial to dodge); an IPv4-mapped IPv6
 * address (::ffff:a.b.c.d) is the IPv4 address. Anything that is not a
 * numeric address is used as it is (cut to fit).
 *
 * A client address travels as numeric text (getnameinfo NI_NUMERICHOST,
 * an IPv6 address possibly with its %scope) from the listener through the
 * session to the device's login record in state/, so its bound is state's:
 * PB_ADDR_TEXT_MAX bytes with the NUL.
 */
#ifndef BRIDGE_BASE_ADDRKEY_H
#define BRIDGE_BASE_ADDRKEY_H

#include <stdbool.h>

#include "state/state.h"

#define PB_ADDR_TEXT_MAX (STATE_ADDR_MAX + 1) /* a client address, numeric, + NUL */
/* A key is an address text or, for an IPv6 /64, a shorter prefix + "/64". */
#define PB_ADDRKEY_MAX PB_ADDR_TEXT_MAX

struct base_addrkey {
	char s[PB_ADDRKEY_MAX];  /* e.g. "192.0.2.1", "2001:db8:1:2::/64" */
};

void base_addrkey_make(const char *addr, struct base_addrkey *key);

/* true for a numeric loopback address: 127.0.0.0/8, ::1, ::ffff:127.x.x.x. */
bool base_addr_is_loopback(const char *addr);

#endif
