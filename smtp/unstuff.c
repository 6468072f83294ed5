/* smtp/unstuff.c — see unstuff.h. */
#include <string.h>

#include "smtp/unstuff.h"

void smtp_us_init(struct smtp_unstuff *us, uint64_t limit, smtp_data_fn *out, void *out_arg)
{
	us->st = SMTP_US_BOL;
	us->crlf_before = true;
	us->done = us->over = us->failed = false;
	us->octets = 0;
	us->limit = limit;
	us->out = out;
	us->out_arg = out_arg;
	us->olen = 0;
}

int smtp_us_flush(struct smtp_unstuff *us)
{
	if (us->olen > 0 && !us->failed && !us->over &&
	    us->out(us->out_arg, us->obuf, us->olen) != 0)
		us->failed = true;
	us->olen = 0;
	return us->failed ? -1 : 0;
}

static void emit(struct smtp_unstuff *us, const char *p, size_t n)
{
	us->octets += n;
	if (us->over || us->failed)
		return;
	if (us->octets > us->limit) {
		us->over = true;
		us->olen = 0;
		return;
	}
	while (n > 0) {
		size_t room = sizeof(us->obuf) - us->olen;
		size_t k = n < room ? n : room;
		memcpy(us->obuf + us->olen, p, k);
		us->olen += k;
		p += k;
		n -= k;
		if (us->olen == sizeof(us->obuf) && smtp_us_flush(us) != 0)
			return;
	}
}

static void line_end(struct smtp_unstuff *us, bool crlf)
{
	emit(us, "\r\n", 2);
	us->crlf_before = crlf;
	us->st = SMTP_US_BOL;
}

size_t smtp_us_feed(struct smtp_unstuff *us, const char *buf, size_t len)
{
	size_t i = 0;

	while (i < len && !us->done) {
		char c = buf[i];
		switch (us->st) {
		case SMTP_US_BOL:
			if (c == '.') {
				us->st = SMTP_US_DOT;
				i++;
			} else {
				us->st = SMTP_US_MID;
			}
			break;
		case SMTP_US_DOT:
			if (c == '\r') {
				us->st = SMTP_US_DOTCR;
				i++;
			} else if (c == '\n') {
				line_end(us, false);
				i++;
			} else {
				us->st = SMTP_US_MID;  /* the dot is dropped */
			}
			break;
		case SMTP_US_DOTCR:
			if (c == '\n' && us->crlf_before) {
				us->done = true;
				i++;
			} else if (c == '\n') {
				line_end(us, true);
				i++;
			} else {
				us->st = SMTP_US_MIDCR; /* ".<CR>x": a lone CR */
			}
			break;
		case SMTP_US_MID: {
			size_t j = i;
			while (j < len && buf[j] != '\r' && buf[j] != '\n')
				j++;
			emit(us, buf + i, j - i);
			i = j;
			if (i < len) {
				if (buf[i] == '\r')
					us->st = SMTP_US_MIDCR;
				else
					line_end(us, false);
				i++;
			}
			break;
		}
		case SMTP_US_MIDCR:
			if (c == '\n') {
				line_end(us, true);
				i++;
			} else if (c == '\r') {
				emit(us, "\r", 1);
				i++;
			} else {
				emit(us, "\r", 1);
				us->st = SMTP_US_MID;
			}
			break;
		}
	}
	return i;
}
