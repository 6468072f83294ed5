/* bridge/front/relay.h — after an IMAP front login: the bytes of both
 * directions copied unchanged between the client and the upstream
 * connection (SPEC §12), nothing parsed, nothing added but TLS.
 *
 * Contract:
 *  - front_relay_run() first writes client_first to the upstream (what the
 *    client pipelined behind its login) and upstream_first to the client
 *    (what the upstream sent that its session had read but not parsed), then
 *    copies with one poll() loop and two buffers of FRONT_RELAY_BUF octets:
 *    a side is read only while its buffer has room, so memory stays bounded
 *    and a slow reader slows its writer (no direction waits on the other).
 *  - It ends when a side closes (what the other side still has buffered for
 *    it is written first, within idle_ms), on an I/O or TLS failure, after
 *    idle_ms without a byte in either direction, or when check() (called
 *    every check_ms, 0: never) answers non-zero. Both connections stay open:
 *    the caller closes them.
 *  - bytes_in / bytes_out count client-to-upstream and upstream-to-client
 *    octets (the first ones included); reason says why it ended when that
 *    was not a plain close.
 */
#ifndef BRIDGE_FRONT_RELAY_H
#define BRIDGE_FRONT_RELAY_H

#include <stddef.h>
#include <stdint.h>

#include "bridge/maildrop/backend.h"   /* BRIDGE_DETAIL_MAX */
#include "imap/conn.h"

/* One direction's buffer. 64 KiB: four TLS records, and what one read of a
 * loopback socket usually brings; a session that only IDLEs touches one
 * page of it. */
#define FRONT_RELAY_BUF ((size_t)64 << 10)

enum front_relay_end {
	FRONT_RELAY_CLIENT_CLOSED,
	FRONT_RELAY_SERVER_CLOSED,
	FRONT_RELAY_IDLE,
	FRONT_RELAY_CHECK,       /* check() ended it */
	FRONT_RELAY_ERROR,       /* I/O or TLS failure, or out of memory */
};

struct front_relay {
	struct imap_conn *client, *upstream;
	const char *client_first, *upstream_first;
	size_t client_first_len, upstream_first_len;
	unsigned idle_ms;
	unsigned check_ms;
	int (*check)(void *arg);
	void *check_arg;
	/* out */
	uint64_t bytes_in, bytes_out;
	char reason[BRIDGE_DETAIL_MAX];
};

enum front_relay_end front_relay_run(struct front_relay *r);

#endif
