/* tests/lib/testutil.c — see testutil.h. */
#include "tests/lib/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double pbt_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void pbt_buf_add(struct pbt_buf *b, const void *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (p == NULL) {
			fprintf(stderr, "pbt_buf_add: out of memory (%zu bytes)\n", cap);
			abort();
		}
		b->p = p;
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void pbt_buf_adds(struct pbt_buf *b, const char *s)
{
	pbt_buf_add(b, s, strlen(s));
}

char *pbt_read_file(const char *path, size_t max, size_t *len)
{
	struct pbt_buf b = { 0 };
	char chunk[65536];
	FILE *f = fopen(path, "rb");
	size_t n;

	*len = 0;
	if (f == NULL)
		return NULL;
	pbt_buf_add(&b, "", 0);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && b.len + n <= max)
		pbt_buf_add(&b, chunk, n);
	if (ferror(f) || n > 0) {
		fclose(f);
		free(b.p);
		return NULL;
	}
	fclose(f);
	*len = b.len;
	return b.p;
}
