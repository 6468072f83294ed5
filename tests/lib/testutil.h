/* tests/lib/testutil.h — small helpers that several suites share.
 *
 * pbt_now(): seconds on the monotonic clock, for lower bounds on a delay
 * (tests never assert a speed).
 * struct pbt_buf: a growable byte buffer, always NUL-terminated after the
 * first add (p stays NULL until then); zero-initialise it, free p once.
 * An allocation failure aborts the test program.
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

#endif
