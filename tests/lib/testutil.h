/* tests/lib/testutil.h — small helpers that several suites share.
 *
 * pbt_now(): seconds on the monotonic clock, for lower bounds on a delay
 * (tests never assert a speed).
 * struct pbt_buf: a growable byte buffer, always NUL-terminated after the
 * first add (p stays NULL until then); zero-initialise it, free p once.
 * An allocation failure aborts the test program.
 * pbt_read_file(): a whole file, bounded.
 */
#ifndef PBT_TESTUTIL_H
#define PBT_TESTUTIL_H

#include <stddef.h>

double pbt_now(void);

struct pbt_buf {
	char *p;
	size_t len, cap;
};
/* Append n bytes / a C string. */
void pbt_buf_add(struct pbt_buf *b, const void *s, size_t n);
void pbt_buf_adds(struct pbt_buf *b, const char *s);

/* The contents of path, malloc'd and NUL-terminated (the caller frees),
 * length in *len; NULL with *len = 0 when it cannot be opened or read or
 * holds more than max octets. */
char *pbt_read_file(const char *path, size_t max, size_t *len);

#endif
