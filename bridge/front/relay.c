/* bridge/front/relay.c — the byte relay after an IMAP front login
 * (bridge/front/relay.h). */
#include "bridge/front/relay.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/base/clock.h"

/* One direction: from `src` through `buf` to `dst`. */
struct dir {
	struct imap_conn *src, *dst;
	char *buf;
	size_t off, len;            /* unsent: buf[off, len) */
	short rd_want, wr_want;     /* what the last would-block asked for */
	bool rd_ready, wr_ready;    /* a read / write may make progress: false
	                               after a would-block or a short plaintext
	                               read or write (the socket is drained or
	                               full), true again when poll() reports the
	                               descriptor; saves a failing syscall per
	                               copy */
	bool eof;                   /* src has closed */
	uint64_t *count;
	const char *src_name;
};

/* Move what can move now, without waiting: 1 progress, 0 none, -1 the
 * destination failed (reason set). A failed or closed source sets eof. */
static int pump(struct dir *d, struct front_relay *r)
{
	int progress = 0;
	if (!d->eof && d->len < FRONT_RELAY_BUF && d->rd_ready) {
		size_t room = FRONT_RELAY_BUF - d->len;
		ssize_t n = imap_conn_read_some(d->src, d->buf + d->len, room, &d->rd_want);
		if (n > 0) {
			d->len += (size_t)n;
			*d->count += (uint64_t)n;
			progress = 1;
			/* TLS hands out a record at a time: only a plaintext short
			 * read says the socket is drained. */
			if ((size_t)n < room && !d->src->ssl)
				d->rd_ready = false;
		} else if (n == 0) {
			d->rd_ready = false;
		} else {
			d->eof = true;
			if (d->src->cause != IMAP_CAUSE_CLOSED)
				snprintf(r->reason, sizeof(r->reason), "%s: %.120s", d->src_name, d->src->err);
			progress = 1;
		}
	}
	if (d->off < d->len && d->wr_ready) {
		size_t want = d->len - d->off;
		ssize_t n = imap_conn_write_some(d->dst, d->buf + d->off, want, &d->wr_want);
		if (n < 0) {
			snprintf(r->reason, sizeof(r->reason), "writing to the %s: %.120s",
			    d->src_name[0] == 'c' ? "server" : "client", d->dst->err);
			return -1;
		}
		if (n == 0 || ((size_t)n < want && !d->dst->ssl))
			d->wr_ready = false;
		if (n > 0) {
			d->off += (size_t)n;
			if (d->off == d->len)
				d->off = d->len = 0;
			progress = 1;
		}
	}
	return progress;
}

/* The poll() events conn needs: reading for `in` (when it may read), writing
 * for `out` (when it has something to write). */
static short events(const struct dir *in, const struct dir *out)
{
	short ev = 0;
	if (!in->eof && in->len < FRONT_RELAY_BUF)
		ev |= in->rd_want;
	if (out->off < out->len)
		ev |= out->wr_want;
	return ev;
}

static int write_first(struct imap_conn *c, const char *p, size_t n, uint64_t *count,
    struct front_relay *r, const char *to)
{
	if (n == 0)
		return 0;
	if (imap_conn_write(c, p, n) != 0) {
		snprintf(r->reason, sizeof(r->reason), "writing to the %s: %.120s", to, c->err);
		return -1;
	}
	*count += n;
	return 0;
}

enum front_relay_end front_relay_run(struct front_relay *r)
{
	enum front_relay_end end = FRONT_RELAY_ERROR;
	struct dir cu = { .src = r->client, .dst = r->upstream, .rd_want = POLLIN,
	    .wr_want = POLLOUT, .rd_ready = true, .wr_ready = true, .count = &r->bytes_in,
	    .src_name = "client" };
	struct dir uc = { .src = r->upstream, .dst = r->client, .rd_want = POLLIN,
	    .wr_want = POLLOUT, .rd_ready = true, .wr_ready = true, .count = &r->bytes_out,
	    .src_name = "server" };

	r->reason[0] = '\0';
	if (write_first(r->upstream, r->client_first, r->client_first_len, &r->bytes_in, r,
	    "server") != 0 ||
	    write_first(r->client, r->upstream_first, r->upstream_first_len, &r->bytes_out, r,
	    "client") != 0)
		return FRONT_RELAY_ERROR;
	cu.buf = malloc(FRONT_RELAY_BUF);
	uc.buf = malloc(FRONT_RELAY_BUF);
	if (!cu.buf || !uc.buf) {
		snprintf(r->reason, sizeof(r->reason), "out of memory");
		goto out;
	}
	uint64_t now = base_clock_ms(NULL);
	uint64_t active = now, next_check = now + r->check_ms;
	for (;;) {
		int a, b;
		bool moved = false;
		do {
			a = pump(&cu, r);
			b = a < 0 ? 0 : pump(&uc, r);
			if (a < 0 || b < 0)
				goto out;
			moved = moved || a > 0 || b > 0;
		} while (a > 0 || b > 0);
		now = base_clock_ms(NULL);
		if (moved)
			active = now;
		/* A side that closed ends the relay once what it sent is out. */
		if (cu.eof && cu.off == cu.len) {
			end = r->reason[0] ? FRONT_RELAY_ERROR : FRONT_RELAY_CLIENT_CLOSED;
			goto out;
		}
		if (uc.eof && uc.off == uc.len) {
			end = r->reason[0] ? FRONT_RELAY_ERROR : FRONT_RELAY_SERVER_CLOSED;
			goto out;
		}
		if (now - active >= r->idle_ms) {
			snprintf(r->reason, sizeof(r->reason), "no traffic for %u s", r->idle_ms / 1000);
			end = FRONT_RELAY_IDLE;
			goto out;
		}
		if (r->check && now >= next_check) {
			next_check = now + r->check_ms;
			if (r->check(r->check_arg) != 0) {
				end = FRONT_RELAY_CHECK;
				goto out;
			}
		}
		/* TLS may hold decrypted octets poll() cannot see. */
		if (!cu.eof && cu.len < FRONT_RELAY_BUF && imap_conn_pending(cu.src)) {
			cu.rd_ready = true;
			continue;
		}
		if (!uc.eof && uc.len < FRONT_RELAY_BUF && imap_conn_pending(uc.src)) {
			uc.rd_ready = true;
			continue;
		}
		uint64_t wait = active + r->idle_ms - now;
		if (r->check && next_check - now < wait)
			wait = next_check - now;
		/* A descriptor nothing is asked of stays out: poll() reports
		 * POLLHUP and POLLERR whatever the events, and a side that closed
		 * while the other is not reading would wake it at once, again and
		 * again (a busy loop until the reader reads or the idle limit). */
		short ec = events(&cu, &uc), eu = events(&uc, &cu);
		struct pollfd p[2] = {
			{ .fd = ec ? r->client->fd : -1, .events = ec },
			{ .fd = eu ? r->upstream->fd : -1, .events = eu },
		};
		if (poll(p, 2, wait > 60000 ? 60000 : (int)wait) < 0 && errno != EINTR) {
			snprintf(r->reason, sizeof(r->reason), "poll: %s", strerror(errno));
			goto out;
		}
		if (p[0].revents)
			cu.rd_ready = uc.wr_ready = true;
		if (p[1].revents)
			uc.rd_ready = cu.wr_ready = true;
	}
out:
	free(cu.buf);
	free(uc.buf);
	return end;
}
