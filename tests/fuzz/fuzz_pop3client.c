/* tests/fuzz/fuzz_pop3client.c — libFuzzer target for the reply parser of
 * `popbridge import-uidls`' POP3 client (bridge/migrate/pop3client_parse.h), what
 * an old POP3 server sends. The first octet says, bit by bit (cycled),
 * whether each reply is to a multi-line command; the next two choose a
 * split position; the rest is the server's bytes. The input is parsed
 * twice — fed whole, and split at that position — and the two runs must
 * report the same events (the parser's contract). Every data line also
 * goes through the UIDL and LIST line parsers and the header filter, whose
 * results are checked against their contracts and hashed with matchkey.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/maildrop/matchkey.h"
#include "bridge/migrate/pop3client_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A running digest of events, so two runs can be compared cheaply. */
struct digest {
	uint64_t h;
	uint64_t events;
};

static void mix(struct digest *d, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		d->h = (d->h ^ b[i]) * 1099511628211ull;
}

/* What the import tool does with a data line, with the contracts checked. */
static void data_line(struct digest *d, struct migrate_pop3c_hdr *h, const char *line, size_t len)
{
	uint32_t num;
	uint64_t size;
	char uidl[POP3C_UIDL_MAX + 1];

	if (memchr(line, '\0', len) != NULL || memchr(line, '\n', len) != NULL)
		abort();  /* NUL lines are dropped, LF ends a line */
	if (migrate_pop3c_parse_uidl(line, len, &num, uidl) == 0) {
		size_t n = strlen(uidl);
		if (num == 0 || n == 0 || n > POP3C_UIDL_MAX)
			abort();
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)uidl[i] < 0x21 || (unsigned char)uidl[i] > 0x7e)
				abort();
		mix(d, &num, sizeof(num));
		mix(d, uidl, n);
	}
	if (migrate_pop3c_parse_list(line, len, &num, &size) == 0) {
		if (num == 0)
			abort();
		mix(d, &num, sizeof(num));
		mix(d, &size, sizeof(size));
	}
	if (!h->done)
		migrate_pop3c_hdr_line(h, line, len);
	if (h->len > POP3C_HDR_MAX)
		abort();
}

/* The end of a multi-line reply: the kept header's fields and keys. */
static void reply_end(struct digest *d, struct migrate_pop3c_hdr *h)
{
	char v[256];
	struct maildrop_matchkey k;

	for (size_t i = 0; i < MATCHKEY_NFIELDS; i++) {
		migrate_pop3c_hdr_field(h, maildrop_matchkey_fields[i], v, sizeof(v));
		size_t n = strlen(v);
		if (n >= sizeof(v))
			abort();
		for (size_t j = 0; j < n; j++)
			if ((unsigned char)v[j] < 0x20 || (unsigned char)v[j] > 0x7e)
				abort();
		mix(d, v, n + 1);
	}
	if (maildrop_matchkey_compute(h->buf, h->len, &k) == 0)
		mix(d, k.hash, strlen(k.hash));
	migrate_pop3c_hdr_init(h);
}

/* Parse data[0..size) fed in reads of at most what the parser has room for,
 * the first read ending at `split` (size: none). */
static void run(const uint8_t *data, size_t size, size_t split, uint8_t pattern,
    struct digest *d)
{
	struct migrate_pop3c_parser *p = malloc(sizeof(*p));
	struct migrate_pop3c_hdr *h = malloc(sizeof(*h));
	struct migrate_pop3c_event ev;
	unsigned reply = 0;
	size_t off = 0;

	if (p == NULL || h == NULL)
		abort();
	migrate_pop3c_parser_init(p);
	migrate_pop3c_hdr_init(h);
	migrate_pop3c_parser_expect(p, pattern & 1);
	for (;;) {
		enum migrate_pop3c_ev e;
		while ((e = migrate_pop3c_parser_next(p, &ev)) != POP3C_EV_NEED_MORE) {
			d->events++;
			mix(d, &e, sizeof(e));
			switch (e) {
			case POP3C_EV_STATUS:
				if (ev.cont && !ev.ok)
					abort();
				mix(d, &ev.ok, sizeof(ev.ok));
				mix(d, &ev.cont, sizeof(ev.cont));
				mix(d, ev.text, strlen(ev.text));
				if (!p->in_data) {   /* the reply is whole: the next one */
					reply++;
					migrate_pop3c_parser_expect(p, (pattern >> (reply % 8)) & 1);
				}
				break;
			case POP3C_EV_DATA:
				mix(d, ev.line, ev.len);
				data_line(d, h, ev.line, ev.len);
				break;
			case POP3C_EV_END:
				reply_end(d, h);
				reply++;
				migrate_pop3c_parser_expect(p, (pattern >> (reply % 8)) & 1);
				break;
			case POP3C_EV_DROPPED:
				break;
			case POP3C_EV_ERROR:
				/* sticky: the connection is not usable any more */
				mix(d, ev.text, strlen(ev.text));
				if (migrate_pop3c_parser_next(p, &ev) != POP3C_EV_ERROR)
					abort();
				goto out;
			case POP3C_EV_NEED_MORE:
				break;
			}
		}
		if (off == size)
			break;
		size_t avail;
		char *space = migrate_pop3c_parser_space(p, &avail);
		if (avail == 0)
			abort();  /* no room and no event: the client would hang */
		size_t end = off < split ? split : size;
		size_t n = end - off < avail ? end - off : avail;
		memcpy(space, data + off, n);
		migrate_pop3c_parser_added(p, n);
		off += n;
	}
out:
	free(p);
	free(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3)
		return 0;
	uint8_t pattern = data[0];
	size_t seed = (size_t)data[1] << 8 | data[2];
	data += 3;
	size -= 3;
	size_t split = seed % (size + 1);

	struct digest whole = { 1469598103934665603ull, 0 };
	struct digest cut = { 1469598103934665603ull, 0 };
	run(data, size, size, pattern, &whole);
	run(data, size, split, pattern, &cut);
	if (whole.h != cut.h || whole.events != cut.events)
		abort();  /* events depend on how the input was split */
	return 0;
}
