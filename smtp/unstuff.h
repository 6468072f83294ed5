/* smtp/unstuff.h — SMTP DATA: message data as the client sends it (dot-
 * stuffed, RFC 5321 §4.5.2) into the message itself, streaming, in chunks
 * of any size, with O(1) state and one output buffer.
 *
 *  - The data ends at a line "." ended by CRLF that follows a CRLF (or
 *    starts the data): "<CRLF>.<CRLF>", and nothing else (SMTP smuggling:
 *    "<LF>.<LF>" and "<CR>.<CR>" are not an end). feed() says how much of
 *    its input it consumed; what follows the terminator is the client's
 *    next command (PIPELINING).
 *  - A line starting with "." loses that dot, whatever follows it.
 *  - Every line end becomes CRLF: a bare LF is taken as a line end (old
 *    clients send them) and written as CRLF, as Postfix's "normal" mode
 *    does; a lone CR (not before LF) passes unchanged.
 *  - octets counts what is produced. Once it passes `limit`, `over` is set
 *    and nothing more goes out (the rest is read to the end and dropped:
 *    RFC 1870 §6.3). When out() returns non-zero, `failed` is set and
 *    nothing more goes out either.
 */
#ifndef SMTP_UNSTUFF_H
#define SMTP_UNSTUFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtp/limits.h"

typedef int smtp_data_fn(void *arg, const char *buf, size_t len);

enum smtp_us_state { SMTP_US_BOL, SMTP_US_DOT, SMTP_US_DOTCR, SMTP_US_MID, SMTP_US_MIDCR };

struct smtp_unstuff {
	enum smtp_us_state st;
	bool crlf_before;   /* the current line follows a CRLF (or the start) */
	bool done;          /* the terminator was consumed */
	bool over;          /* more than limit octets */
	bool failed;        /* out() refused */
	uint64_t octets;    /* produced in all */
	uint64_t limit;
	smtp_data_fn *out;
	void *out_arg;
	size_t olen;
	char obuf[SMTP_DATA_CHUNK];
};

void smtp_us_init(struct smtp_unstuff *us, uint64_t limit, smtp_data_fn *out, void *out_arg);
/* Consume input up to the terminator (included) or all of it; returns the
 * octets consumed. Once done, consumes nothing. */
size_t smtp_us_feed(struct smtp_unstuff *us, const char *buf, size_t len);
/* Hand what is buffered to out(). 0, or -1 when it failed now or before. */
int smtp_us_flush(struct smtp_unstuff *us);

#endif
