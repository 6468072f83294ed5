/* pop3/linereader.c — see linereader.h. */
#include <string.h>

#include "pop3/linereader.h"

static void reset(struct pop3_linereader *lr)
{
	lr->start = 0;
	lr->len = 0;
	lr->scanned = 0;
	lr->discarding = false;
	lr->discarded = 0;
}

void pop3_lr_init(struct pop3_linereader *lr, char *buf, size_t cap)
{
	lr->buf = buf;
	lr->cap = cap;
	lr->limit = cap;
	reset(lr);
}

void pop3_lr_set_limit(struct pop3_linereader *lr, size_t limit)
{
	lr->limit = limit < 3 ? 3 : limit > lr->cap ? lr->cap : limit;
}

char *pop3_lr_space(struct pop3_linereader *lr, size_t *avail)
{
	if (lr->start > 0) {
		memmove(lr->buf, lr->buf + lr->start, lr->len);
		lr->start = 0;
	}
	*avail = lr->cap - lr->len;
	return lr->buf + lr->len;
}

void pop3_lr_added(struct pop3_linereader *lr, size_t n)
{
	lr->len += n;
}

size_t pop3_lr_buffered(const struct pop3_linereader *lr)
{
	return lr->len;
}

void pop3_lr_peek(const struct pop3_linereader *lr,
    int (*fn)(void *arg, const char *line, size_t len), void *arg)
{
	const char *p = lr->buf + lr->start, *end = p + lr->len;

	if (lr->discarding)
		return;
	while (p < end) {
		const char *lf = memchr(p, '\n', (size_t)(end - p));
		if (lf == NULL)
			return;
		size_t n = (size_t)(lf - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (fn(arg, p, n) != 0)
			return;
		p = lf + 1;
	}
}

void pop3_lr_discard(struct pop3_linereader *lr)
{
	reset(lr);
}

static void consume(struct pop3_linereader *lr, size_t n)
{
	lr->start += n;
	lr->len -= n;
	lr->scanned = 0;
	if (lr->len == 0)
		lr->start = 0;
}

size_t pop3_lr_raw(struct pop3_linereader *lr, const char **p)
{
	*p = lr->buf + lr->start;
	return lr->discarding ? 0 : lr->len;
}

void pop3_lr_take(struct pop3_linereader *lr, size_t n)
{
	if (n > lr->len)
		n = lr->len;
	consume(lr, n);
}

enum pop3_lr_result pop3_lr_next(struct pop3_linereader *lr, char **line, size_t *len)
{
	char *p = lr->buf + lr->start;

	if (lr->discarding) {
		/* Octets of the line before its LF decide: more than the hard
		 * cap is OVERFLOW however the input was split. */
		if (lr->discarded > POP3_LINE_HARD_MAX)
			return POP3_LR_OVERFLOW;
		char *lf = memchr(p, '\n', lr->len);
		if (lf != NULL) {
			size_t n = (size_t)(lf - p);
			if (lr->discarded + n > POP3_LINE_HARD_MAX) {
				lr->discarded += n;
				consume(lr, n);
				return POP3_LR_OVERFLOW;
			}
			consume(lr, n + 1);
			lr->discarding = false;
			lr->discarded = 0;
			return POP3_LR_TOO_LONG;
		}
		lr->discarded += lr->len;
		consume(lr, lr->len);
		return lr->discarded > POP3_LINE_HARD_MAX ? POP3_LR_OVERFLOW
		    : POP3_LR_NEED_MORE;
	}

	char *lf = memchr(p + lr->scanned, '\n', lr->len - lr->scanned);
	if (lf == NULL) {
		lr->scanned = lr->len;
		if (lr->len < lr->limit)
			return POP3_LR_NEED_MORE;
		/* The limit reached without a line end: too long. */
		lr->discarding = true;
		lr->discarded = 0;
		return pop3_lr_next(lr, line, len);
	}
	size_t n = (size_t)(lf - p);
	size_t total = n + 1;
	if (total > lr->limit) {
		/* whole in the buffer, but longer than the limit allows now */
		consume(lr, total);
		return POP3_LR_TOO_LONG;
	}
	bool nul = memchr(p, '\0', n) != NULL;
	if (n > 0 && p[n - 1] == '\r')
		n--;
	consume(lr, total);
	if (nul)
		return POP3_LR_BAD;
	p[n] = '\0';
	*line = p;
	*len = n;
	return POP3_LR_LINE;
}
