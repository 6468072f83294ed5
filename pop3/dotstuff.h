/* pop3/dotstuff.h — turns a message's raw bytes into a POP3 multi-line body.
 *
 * Streaming, in chunks of any size, with O(1) state:
 *  - bare LF becomes CRLF; CRLF stays; a lone CR (not followed by LF) passes
 *    through unchanged — it is not a line end, and changing it would change
 *    the message (and its size) for no client we know of;
 *  - a line beginning with '.' gets one more '.' (RFC 1939 §3);
 *  - at the end, a final line end is added when the message lacks one (just
 *    LF after a trailing lone CR, CRLF otherwise), then ".\r\n";
 *  - TOP mode: the header, the blank line ending it, then `lines` body lines
 *    (a line is counted when its LF passes); feed() returns 1 as soon as that
 *    much was written and ignores anything fed after. A message without a
 *    blank line is all header.
 *  - octets counts what was written before dot-stuffing (CRLF line ends and
 *    the added final line end, not the terminator): the pop3_msg_info.size
 *    definition of pop3/maildrop.h.
 * The output goes to out(); a nonzero return from it makes feed()/finish()
 * return -1 (and nothing more is written).
 */
#ifndef POP3_DOTSTUFF_H
#define POP3_DOTSTUFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef int pop3_out_fn(void *arg, const char *buf, size_t len);

struct pop3_dotstuff {
	pop3_out_fn *out;
	void *out_arg;
	bool top;           /* TOP mode */
	uint64_t lines;     /* TOP: body lines wanted */
	uint64_t body_lines;/* TOP: body lines written */
	bool in_body;       /* past the blank line after the header */
	bool at_bol;        /* next octet starts a line */
	bool last_cr;       /* last octet written was a CR */
	bool line_blank;    /* current line so far holds only CRs */
	bool done;          /* TOP has enough */
	bool failed;        /* out() failed */
	uint64_t octets;
};

void pop3_ds_init(struct pop3_dotstuff *ds, bool top, uint64_t lines,
    pop3_out_fn *out, void *out_arg);
/* 0 go on, 1 TOP has enough, -1 out() failed. */
int pop3_ds_feed(struct pop3_dotstuff *ds, const char *buf, size_t len);
/* Final line end if needed and the ".\r\n" terminator. 0 or -1. */
int pop3_ds_finish(struct pop3_dotstuff *ds);

#endif
