/* tests/pop3/memio.h — a pop3_transport over memory, for exact wire
 * transcripts and fuzzing: the client's input is a list of packets (a read
 * never crosses a packet boundary, and returns at most max_read octets);
 * everything the engine writes is collected. start_tls() succeeds only when
 * tls_ok is set, and then just records where the switch happened (no
 * cryptography: the engine's side of STLS is what is under test; real TLS is
 * tested over sockets). Included as a .c file like fake_maildrop.c.
 */
#ifndef TESTS_POP3_MEMIO_H
#define TESTS_POP3_MEMIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pop3/transport.h"

#define MEMIO_MAX_PACKETS 64

struct memio {
	struct pop3_transport base;
	const char *in;           /* all input octets, not owned */
	size_t in_len, in_pos;
	size_t ends[MEMIO_MAX_PACKETS]; /* packet end offsets */
	size_t npackets;
	size_t max_read;          /* 0: unlimited */
	int at_end;               /* read() at the end: 0 (EOF) or POP3_IO_TIMEOUT */
	bool tls_ok, tls;
	size_t tls_in_pos;        /* input offset at the switch */
	size_t tls_out_pos;       /* output length at the switch */
	size_t out_max;           /* write fails beyond this (0: 64 MiB) */
	char *out;                /* NUL-terminated */
	size_t out_len, out_cap;
	int closes;
	size_t *out_at;           /* when set (in_len + 1 entries): out_len at the
	                             moment each input octet was read, which tells
	                             what the engine wrote before reading a line */
	/* A fake clock (optional): each read that returns data moves *clock
	 * on by clock_step_ms; one that times out at the end, by its
	 * timeout. The timeouts asked for are recorded. */
	uint64_t *clock;
	uint64_t clock_step_ms;
	int first_timeout_ms, last_timeout_ms;
	size_t reads;
};

/* memio_init takes the whole input (not copied); memio_packet marks a
 * packet boundary at an offset (ascending). */
void memio_init(struct memio *m, const char *in, size_t len);
void memio_packet(struct memio *m, size_t end);
void memio_free(struct memio *m);

#endif
