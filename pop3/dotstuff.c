/* pop3/dotstuff.c — see dotstuff.h. */
#include "pop3/dotstuff.h"

#include <string.h>

void pop3_ds_init(struct pop3_dotstuff *ds, bool top, uint64_t lines,
    pop3_out_fn *out, void *out_arg)
{
	*ds = (struct pop3_dotstuff){
		.out = out, .out_arg = out_arg, .top = top, .lines = lines,
		.at_bol = true, .line_blank = true,
	};
}

/* Write octets that count toward the message size. */
static int emit(struct pop3_dotstuff *ds, const char *buf, size_t len, bool counted)
{
	if (len == 0)
		return 0;
	if (ds->out(ds->out_arg, buf, len) != 0) {
		ds->failed = true;
		return -1;
	}
	if (counted)
		ds->octets += len;
	return 0;
}

/* A line just ended (its LF was written): TOP bookkeeping. */
static void line_ended(struct pop3_dotstuff *ds)
{
	if (ds->top) {
		if (!ds->in_body) {
			if (ds->line_blank)
				ds->in_body = true;
		} else {
			ds->body_lines++;
		}
		if (ds->in_body && ds->body_lines >= ds->lines)
			ds->done = true;
	}
	ds->at_bol = true;
	ds->last_cr = false;
	ds->line_blank = true;
}

/* RETR: what the loop of pop3_ds_feed does without TOP's bookkeeping, a
 * line at a time (memchr finds the LF): only a line starting with '.' and
 * an LF without its CR interrupt the run of octets written as they are.
 * (Octet by octet, this was most of popbridge's CPU in a big RETR.) */
static int feed_lines(struct pop3_dotstuff *ds, const char *buf, size_t len)
{
	size_t run = 0, i = 0; /* run: start of octets not yet written */

	while (i < len) {
		if (ds->at_bol && buf[i] == '.') {
			if (emit(ds, buf + run, i - run, true) != 0 ||
			    emit(ds, ".", 1, false) != 0)
				return -1;
			run = i;
		}
		const char *nl = memchr(buf + i, '\n', len - i);
		if (nl == NULL) {
			ds->at_bol = false;
			ds->last_cr = buf[len - 1] == '\r';
			break;
		}
		size_t j = (size_t)(nl - buf);
		/* the octet before the LF: in this chunk, else the last one fed */
		if (!(j > 0 ? buf[j - 1] == '\r' : ds->last_cr)) {
			if (emit(ds, buf + run, j - run, true) != 0 ||
			    emit(ds, "\r", 1, true) != 0)
				return -1;
			run = j;
		}
		ds->at_bol = true;
		ds->last_cr = false;
		i = j + 1;
	}
	return emit(ds, buf + run, len - run, true);
}

int pop3_ds_feed(struct pop3_dotstuff *ds, const char *buf, size_t len)
{
	size_t run = 0; /* start of octets not yet written */

	if (ds->failed)
		return -1;
	if (ds->done)
		return 1;
	if (!ds->top)
		return feed_lines(ds, buf, len);
	for (size_t i = 0; i < len; i++) {
		char c = buf[i];
		if (ds->at_bol && c == '.') {
			if (emit(ds, buf + run, i - run, true) != 0 ||
			    emit(ds, ".", 1, false) != 0)
				return -1;
			run = i;
		}
		if (c == '\n') {
			if (!ds->last_cr) {
				if (emit(ds, buf + run, i - run, true) != 0 ||
				    emit(ds, "\r", 1, true) != 0)
					return -1;
				run = i;
			}
			line_ended(ds);
			if (ds->done)
				return emit(ds, buf + run, i + 1 - run, true) != 0 ? -1 : 1;
			continue;
		}
		ds->at_bol = false;
		ds->last_cr = c == '\r';
		if (c != '\r')
			ds->line_blank = false;
	}
	return emit(ds, buf + run, len - run, true);
}

int pop3_ds_finish(struct pop3_dotstuff *ds)
{
	if (ds->failed)
		return -1;
	if (!ds->at_bol) {
		if (ds->last_cr ? emit(ds, "\n", 1, true) : emit(ds, "\r\n", 2, true))
			return -1;
		ds->at_bol = true;
	}
	return emit(ds, ".\r\n", 3, false);
}
