/* tests/lib/msggen.h — a deterministic test-message generator.
 *
 * The same spec always produces the same bytes. Messages are written through a
 * callback in bounded chunks, so a message of tens of MB never sits in memory.
 * Every message has unique Message-ID, Date, From, To and Subject headers
 * derived from spec->seed, so header matching can tell them apart.
 */
#ifndef PBT_MSGGEN_H
#define PBT_MSGGEN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum pbt_msg_kind {
	PBT_MSG_PLAIN,        /* short text/plain, CRLF */
	PBT_MSG_MULTIPART,    /* multipart/mixed with a text part and a base64 attachment */
	PBT_MSG_8BIT,         /* Content-Transfer-Encoding: 8bit, UTF-8 and Latin-1 bytes */
	PBT_MSG_DOTS,         /* lines starting with '.', "..", and a line of exactly "." */
	PBT_MSG_LONG_LINES,   /* lines longer than 998 octets (up to 4,000) */
	PBT_MSG_BARE_LF,      /* LF line ends only */
	PBT_MSG_NO_FINAL_EOL, /* the last line has no line end */
	PBT_MSG_LARGE,        /* text body padded to spec->size octets (tens of MB ok) */
	PBT_MSG_KIND_COUNT
};

struct pbt_msgspec {
	enum pbt_msg_kind kind;
	uint32_t seed;   /* distinguishes messages: Message-ID <seed.kind@popbridge.test> */
	uint64_t size;   /* PBT_MSG_LARGE: total octets, exactly; others: ignored */
};

/* Returns 0 to go on, non-zero to stop (pbt_msg_write then returns -1). */
typedef int pbt_msg_sink(void *arg, const char *buf, size_t len);

/* Write the message; returns the number of octets written, or -1. */
int64_t pbt_msg_write(const struct pbt_msgspec *spec, pbt_msg_sink *sink, void *arg);
/* Convenience: write to a stdio stream. */
int64_t pbt_msg_write_file(const struct pbt_msgspec *spec, FILE *f);
/* The Message-ID the spec produces, with angle brackets. */
const char *pbt_msg_id(const struct pbt_msgspec *spec, char *buf, size_t len);
/* A mailbox's worth of awkward messages: specs[i] for i < n cycles through
 * every kind except LARGE; returns n. */
size_t pbt_msg_awkward_set(struct pbt_msgspec *specs, size_t n, uint32_t first_seed);
const char *pbt_msg_kind_name(enum pbt_msg_kind kind);
/* The kind named by pbt_msg_kind_name() ("plain", "multipart", "8bit", "dots",
 * "long-lines", "bare-lf", "no-final-eol", "large"), or -1. */
int pbt_msg_kind_parse(const char *name);

#endif
