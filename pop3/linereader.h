/* pop3/linereader.h — splits client input into lines, within bounds.
 *
 * The engine reads from its transport into pop3_lr_space(), reports the
 * count with pop3_lr_added(), then takes lines with pop3_lr_next() until it
 * says NEED_MORE. The result does not depend on how the input was split
 * into reads (tested by splitting at every offset).
 *
 *  - A line ends at LF; a CR just before the LF is removed too (bare LF is
 *    accepted from old clients). The line is returned NUL-terminated in
 *    place, valid until the next call on the reader.
 *  - The caller gives the buffer (pop3_lr_init: cap octets; POP3 and the
 *    import tool's client POP3_SASL_LINE_MAX, SMTP submission more for
 *    RFC 4954's AUTH lines). A line (terminator included) longer than the
 *    reader's limit — the buffer's size, or less after pop3_lr_set_limit():
 *    SMTP's limit falls to 512 octets once the client has logged in — is
 *    discarded as it arrives; when its LF comes, TOO_LONG is returned once.
 *    If a line holds more than POP3_LINE_HARD_MAX octets before its LF, OVERFLOW is
 *    returned (and again on every call): the caller should end the session.
 *  - A line holding a NUL octet is consumed and BAD is returned for it.
 */
#ifndef POP3_LINEREADER_H
#define POP3_LINEREADER_H

#include <stdbool.h>
#include <stddef.h>

#include "pop3/limits.h"

enum pop3_lr_result {
	POP3_LR_LINE,      /* *line, *len: one line without its terminator */
	POP3_LR_NEED_MORE, /* no complete line buffered: read more */
	POP3_LR_TOO_LONG,  /* a too long line ended; it was discarded */
	POP3_LR_BAD,       /* a line with a NUL octet; it was discarded */
	POP3_LR_OVERFLOW,  /* a line passed POP3_LINE_HARD_MAX: give up */
};

struct pop3_linereader {
	char *buf;        /* the caller's, cap octets */
	size_t cap;
	size_t limit;     /* the longest line taken now, terminator included */
	size_t start;     /* first unconsumed octet */
	size_t len;       /* unconsumed octets from start */
	size_t scanned;   /* octets from start known to hold no LF */
	bool discarding;  /* inside a too long line */
	size_t discarded; /* octets of it dropped so far */
};

/* buf: cap octets (at least 3), the reader's until the caller is done;
 * the limit starts at cap. */
void pop3_lr_init(struct pop3_linereader *lr, char *buf, size_t cap);
/* Lines longer than limit octets (terminator included; at most cap, at
 * least 3) are too long from now on, the next one included. */
void pop3_lr_set_limit(struct pop3_linereader *lr, size_t limit);
/* Where the next read may go, and how much fits (never 0 after NEED_MORE). */
char *pop3_lr_space(struct pop3_linereader *lr, size_t *avail);
/* n octets were read into the space. */
void pop3_lr_added(struct pop3_linereader *lr, size_t n);
enum pop3_lr_result pop3_lr_next(struct pop3_linereader *lr, char **line, size_t *len);
/* Call fn for each complete line buffered and not yet returned, in order,
 * without consuming anything (the line without its terminator, not
 * NUL-terminated), until fn returns non-zero. A line that is part of a too
 * long one being discarded is not shown. */
void pop3_lr_peek(const struct pop3_linereader *lr,
    int (*fn)(void *arg, const char *line, size_t len), void *arg);
/* Octets buffered that are not yet returned as a line. */
size_t pop3_lr_buffered(const struct pop3_linereader *lr);
/* The octets buffered and not yet returned as lines, raw (SMTP's DATA
 * reads message data through the same buffer, smtp/): *p points at them,
 * valid until the next call on the reader; 0 while a too long line is
 * being discarded. */
size_t pop3_lr_raw(struct pop3_linereader *lr, const char **p);
/* Consume the first n of them (n at most what pop3_lr_raw said). */
void pop3_lr_take(struct pop3_linereader *lr, size_t n);
/* Forget everything buffered (STLS: input pipelined behind it is never
 * executed, RFC 2595); the buffer and the limit stay. */
void pop3_lr_discard(struct pop3_linereader *lr);

#endif
