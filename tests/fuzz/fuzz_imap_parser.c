/* tests/fuzz/fuzz_imap_parser.c — libFuzzer target for the IMAP response
 * parser (imap/parser.h). The first octet chooses the feed size and the
 * limits (default or small); the rest is what a server sends. The input is
 * parsed twice — whole and in chunks — and the two runs must report the
 * same sequence of events (stream data compared by length and content).
 * Every argument of every response is walked through the helpers, and
 * atoms through the UID set parser, so their bounds are exercised too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/parser.h"
#include "imap/uidset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A running digest of events, so two runs can be compared cheaply. */
struct digest {
	uint64_t h;
	uint64_t events;
	uint64_t stream_octets;
};

static void mix(struct digest *d, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		d->h = (d->h ^ b[i]) * 1099511628211ull;
}

static void mix_str(struct digest *d, const char *s)
{
	if (s)
		mix(d, s, strlen(s) + 1);
	else
		mix(d, "\xff", 1);
}

static void walk(struct digest *d, const struct imap_arg *a, size_t n, unsigned depth)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t v32;
		uint64_t v64;
		mix(d, &a[i].type, sizeof(a[i].type));
		switch (a[i].type) {
		case IMAP_ARG_ATOM:
			if (strlen(a[i].u.str) != a[i].len)
				abort();  /* atoms never hold NUL */
			mix(d, a[i].u.str, a[i].len);
			if (imap_arg_number32(&a[i], &v32) == 0 &&
			    (imap_arg_number64(&a[i], &v64) != 0 || v64 != v32))
				abort();
			if (a[i].len < 64) {
				struct imap_uidset set;
				imap_uidset_init(&set);
				if (imap_uidset_parse(&set, a[i].u.str, a[i].len) == 0 &&
				    imap_uidset_empty(&set))
					abort();
				imap_uidset_free(&set);
			}
			break;
		case IMAP_ARG_STRING:
			if (strlen(a[i].u.str) != a[i].len)
				abort();  /* NUL is refused in kept strings */
			mix(d, a[i].u.str, a[i].len);
			break;
		case IMAP_ARG_LIST:
			if (depth > 1000)
				abort();
			walk(d, a[i].u.list, a[i].len, depth + 1);
			break;
		case IMAP_ARG_STREAMED:
			mix(d, &a[i].u.size, sizeof(a[i].u.size));
			break;
		case IMAP_ARG_NIL:
			break;
		}
	}
}

static void run(const uint8_t *data, size_t size, size_t chunk,
    const struct imap_parser_limits *lim, struct digest *d)
{
	struct imap_parser *p = imap_parser_new(lim);
	struct imap_parse_event ev;
	size_t off = 0;
	if (!p)
		return;
	while (off <= size) {
		size_t end = size - off > chunk ? off + chunk : size;
		size_t pos = off;
		bool failed = false;
		for (;;) {
			size_t used;
			enum imap_parse_status st = imap_parser_feed(p, data + pos, end - pos,
			    &used, &ev);
			if (used > end - pos)
				abort();
			pos += used;
			if (st == IMAP_PARSE_NEED_MORE) {
				if (pos != end)
					abort();
				break;
			}
			if (st == IMAP_PARSE_ERROR) {
				mix(d, "E", 1);
				d->events++;
				failed = true;
				break;
			}
			if (st == IMAP_PARSE_STREAM_DATA) {
				if (ev.len == 0)
					abort();
				/* chunking differs between runs: count, do not mix */
				d->stream_octets += ev.len;
				continue;
			}
			d->events++;
			mix(d, &st, sizeof(st));
			if (st == IMAP_PARSE_RESPONSE) {
				const struct imap_response *r = ev.resp;
				mix(d, &r->type, sizeof(r->type));
				mix(d, &r->cond, sizeof(r->cond));
				mix(d, &r->code, sizeof(r->code));
				mix_str(d, r->tag);
				mix_str(d, r->name);
				mix_str(d, r->text);
				mix_str(d, r->code_name);
				mix(d, &r->number, sizeof(r->number));
				walk(d, r->args, r->nargs, 0);
				walk(d, r->code_args, r->code_nargs, 0);
			} else {
				mix_str(d, ev.section);
				mix(d, &ev.size, sizeof(ev.size));
				mix(d, &ev.msn, sizeof(ev.msn));
			}
		}
		if (failed || end == size)
			break;
		off = end;
	}
	imap_parser_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_parser_limits lim;
	if (size < 1)
		return 0;
	uint8_t mode = data[0];
	data++;
	size--;
	imap_parser_default_limits(&lim);
	if (mode & 0x80) {
		lim.line_max = 128;
		lim.literal_max = 32;
		lim.response_max = 512;
		lim.args_max = 64;
		lim.depth_max = 4;
		lim.text_max = 16;
		lim.stream_max = 4096;
	}
	struct digest whole = { 1469598103934665603ull, 0, 0 };
	struct digest parts = { 1469598103934665603ull, 0, 0 };
	run(data, size, size ? size : 1, &lim, &whole);
	run(data, size, (size_t)(mode & 0x7f) % 17 + 1, &lim, &parts);
	if (whole.h != parts.h || whole.events != parts.events ||
	    whole.stream_octets != parts.stream_octets)
		abort();
	return 0;
}
