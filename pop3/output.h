/* pop3/output.h — everything the engine says goes through here.
 *
 * Replies are buffered and written by flush() (when the buffer is full,
 * before the engine waits for input, after each RETR, at the end). After the
 * first failed write the output is "failed": later calls do nothing and
 * return -1, and the session ends.
 *
 * Reply lines: pop3_out_ok(o, "text") writes "+OK text\r\n";
 * pop3_out_err(o, code, "text") writes "-ERR [code] text\r\n" (code NULL:
 * "-ERR text"); pop3_out_line() writes one line of a multi-line reply (the
 * caller guarantees it does not begin with '.'), pop3_out_end() the ".\r\n".
 * Formatted lines are cut at 510 octets (RFC 2449: responses up to 512).
 */
#ifndef POP3_OUTPUT_H
#define POP3_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pop3/limits.h"
#include "pop3/transport.h"

struct pop3_out {
	struct pop3_transport *t;
	int timeout_ms;
	bool failed;
	int error;          /* POP3_IO_TIMEOUT or POP3_IO_ERROR once failed */
	uint64_t bytes;     /* octets handed to the transport */
	size_t len;
	char buf[POP3_OUT_BUF];
};

void pop3_out_init(struct pop3_out *o, struct pop3_transport *t, int timeout_ms);
/* Append raw octets. 0 or -1. Matches pop3_out_fn (pop3/dotstuff.h). */
int pop3_out_write(void *o, const char *buf, size_t len);
int pop3_out_flush(struct pop3_out *o);
int pop3_out_ok(struct pop3_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int pop3_out_err(struct pop3_out *o, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int pop3_out_line(struct pop3_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int pop3_out_end(struct pop3_out *o);

/* Copy a string into a fixed buffer, printable ASCII only ('?' otherwise),
 * cut to fit (for texts that reach the wire or the stats; smtp/ too). */
void pop3_copy_printable(char *dst, size_t cap, const char *src);

#endif
