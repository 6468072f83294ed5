/* tests/lib/msggen.c — the deterministic test-message generator. See msggen.h.
 *
 * Output goes through a fixed 64 KiB buffer to the sink, so memory use does
 * not depend on the message size. All randomness comes from a splitmix64
 * stream seeded by (seed, kind): the same spec always gives the same bytes.
 */
#include "tests/lib/msggen.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define OUT_CHUNK 65536

struct out {
	pbt_msg_sink *sink;
	void *arg;
	uint64_t total;
	uint64_t rng;
	const char *eol;  /* "\r\n", or "\n" for PBT_MSG_BARE_LF */
	int failed;
	size_t used;
	char buf[OUT_CHUNK];
};

static const char *const kind_names[PBT_MSG_KIND_COUNT] = {
	"plain", "multipart", "8bit", "dots", "long-lines", "bare-lf", "no-final-eol",
	"large",
};

const char *pbt_msg_kind_name(enum pbt_msg_kind kind)
{
	if ((unsigned)kind >= PBT_MSG_KIND_COUNT)
		return "unknown";
	return kind_names[kind];
}

int pbt_msg_kind_parse(const char *name)
{
	for (int k = 0; k < PBT_MSG_KIND_COUNT; k++)
		if (strcmp(name, kind_names[k]) == 0)
			return k;
	return -1;
}

const char *pbt_msg_id(const struct pbt_msgspec *spec, char *buf, size_t len)
{
	snprintf(buf, len, "<%" PRIu32 ".%s@popbridge.test>", spec->seed,
	    pbt_msg_kind_name(spec->kind));
	return buf;
}

static uint64_t rnd(struct out *o)
{
	uint64_t z = (o->rng += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void flush(struct out *o)
{
	if (o->used > 0 && !o->failed && o->sink(o->arg, o->buf, o->used) != 0)
		o->failed = 1;
	o->used = 0;
}

static void put(struct out *o, const char *s, size_t len)
{
	o->total += len;
	while (len > 0 && !o->failed) {
		size_t room = OUT_CHUNK - o->used;
		size_t n = len < room ? len : room;
		memcpy(o->buf + o->used, s, n);
		o->used += n;
		s += n;
		len -= n;
		if (o->used == OUT_CHUNK)
			flush(o);
	}
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* One line with the message's line end. */
static void line(struct out *o, const char *s)
{
	puts_(o, s);
	puts_(o, o->eol);
}

/* `n` pseudo-random lowercase words and spaces (no line end). */
static void text(struct out *o, size_t n)
{
	static const char alpha[] = "abcdefghijklmnopqrstuvwxyz    ";
	char b[256];
	while (n > 0) {
		size_t k = n < sizeof(b) ? n : sizeof(b);
		for (size_t i = 0; i < k; i++)
			b[i] = alpha[rnd(o) % (sizeof(alpha) - 1)];
		/* never start a line with a space, a dot or "From " */
		if (o->used == 0 || o->buf[o->used - 1] == '\n')
			b[0] = 'x';
		put(o, b, k);
		n -= k;
	}
}

static void headers(struct out *o, const struct pbt_msgspec *spec, const char *ctype,
    const char *cte)
{
	char b[256], id[96], date[64];
	time_t t = (time_t)(1600000000 + (int64_t)spec->seed * 3607 + (int64_t)spec->kind * 61);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	snprintf(b, sizeof(b), "Message-ID: %s", pbt_msg_id(spec, id, sizeof(id)));
	line(o, b);
	snprintf(b, sizeof(b), "Date: %s", date);
	line(o, b);
	snprintf(b, sizeof(b), "From: Sender %" PRIu32 " <sender-%" PRIu32 "@popbridge.test>",
	    spec->seed, spec->seed);
	line(o, b);
	snprintf(b, sizeof(b), "To: Recipient %" PRIu32 " <rcpt-%" PRIu32 "@popbridge.test>",
	    spec->seed, spec->seed);
	line(o, b);
	snprintf(b, sizeof(b), "Subject: Test message %" PRIu32 " (%s)", spec->seed,
	    pbt_msg_kind_name(spec->kind));
	line(o, b);
	line(o, "MIME-Version: 1.0");
	snprintf(b, sizeof(b), "Content-Type: %s", ctype);
	line(o, b);
	snprintf(b, sizeof(b), "Content-Transfer-Encoding: %s", cte);
	line(o, b);
	line(o, "");
}

static void text_lines(struct out *o, int nlines)
{
	for (int i = 0; i < nlines; i++) {
		text(o, 20 + rnd(o) % 50);
		puts_(o, o->eol);
	}
}

static void body_multipart(struct out *o, const struct pbt_msgspec *spec)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char b[160];
	snprintf(b, sizeof(b), "=_pbt_%" PRIu32, spec->seed);
	line(o, "This is a multi-part message in MIME format.");
	line(o, "");
	puts_(o, "--");
	line(o, b);
	line(o, "Content-Type: text/plain; charset=us-ascii");
	line(o, "");
	text_lines(o, 5);
	line(o, "");
	puts_(o, "--");
	line(o, b);
	line(o, "Content-Type: application/octet-stream; name=\"data.bin\"");
	line(o, "Content-Transfer-Encoding: base64");
	line(o, "Content-Disposition: attachment; filename=\"data.bin\"");
	line(o, "");
	/* 1 KB .. 200 KB of random bytes, base64 in 76-character lines */
	uint64_t raw = 1024 + ((uint64_t)spec->seed * 7919u) % 200000u;
	uint64_t data = (raw * 4 + 2) / 3, chars = (data + 3) / 4 * 4;
	char l[80];
	size_t n = 0;
	for (uint64_t i = 0; i < chars; i++) {
		l[n++] = i < data ? b64[rnd(o) % 64] : '=';
		if (n == 76 || i + 1 == chars) {
			put(o, l, n);
			puts_(o, o->eol);
			n = 0;
		}
	}
	puts_(o, "--");
	puts_(o, b);
	line(o, "--");
}

static void body_8bit(struct out *o)
{
	line(o, "UTF-8: Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln, 5 \xe2\x82\xac, \xe6\x97\xa5\xe6\x9c\xac");
	line(o, "Latin-1: Gr\xfc\xdf" "e, \xe4\xf6\xfc \xc4\xd6\xdc, caf\xe9");
	line(o, "High bytes: \x80\x81\xfe\xff and a tab\there.");
	text_lines(o, 3);
}

static void body_dots(struct out *o)
{
	line(o, "Lines below start with dots.");
	line(o, ".one dot");
	line(o, "..two dots");
	line(o, ".");
	line(o, "...");
	line(o, ". space after a dot");
	line(o, "");
	line(o, ".\t tab");
	text_lines(o, 2);
	line(o, ".");
}

static void body_long(struct out *o)
{
	static const size_t lens[] = { 998, 999, 1000, 1500, 2048, 4000 };
	line(o, "Long lines follow (998 to 4000 octets).");
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		text(o, lens[i]);
		puts_(o, o->eol);
	}
	line(o, "end of long lines");
}

/* Pad to exactly `size` octets: 78-octet lines, then one shorter line. */
static int body_large(struct out *o, uint64_t size)
{
	if (size < o->total + 2) {
		fprintf(stderr, "pbt_msg_write: LARGE size %" PRIu64 " is below the minimum %"
		    PRIu64 "\n", size, o->total + 2);
		return -1;
	}
	uint64_t r = size - o->total;
	while (r > 81 && !o->failed) {
		text(o, 76);
		puts_(o, "\r\n");
		r -= 78;
	}
	text(o, (size_t)r - 2);
	puts_(o, "\r\n");
	return 0;
}

int64_t pbt_msg_write(const struct pbt_msgspec *spec, pbt_msg_sink *sink, void *arg)
{
	struct out local;
	if ((unsigned)spec->kind >= PBT_MSG_KIND_COUNT) {
		fprintf(stderr, "pbt_msg_write: bad kind %d\n", (int)spec->kind);
		return -1;
	}
	struct out *o = &local;
	memset(o, 0, offsetof(struct out, buf));
	o->sink = sink;
	o->arg = arg;
	o->rng = ((uint64_t)spec->seed << 8) ^ (uint64_t)spec->kind ^ 0x5eedULL;
	o->eol = spec->kind == PBT_MSG_BARE_LF ? "\n" : "\r\n";
	const char *plain = "text/plain; charset=us-ascii";
	switch (spec->kind) {
	case PBT_MSG_PLAIN:
		headers(o, spec, plain, "7bit");
		text_lines(o, 4);
		break;
	case PBT_MSG_MULTIPART: {
		char ct[96];
		snprintf(ct, sizeof(ct), "multipart/mixed; boundary=\"=_pbt_%" PRIu32 "\"",
		    spec->seed);
		headers(o, spec, ct, "7bit");
		body_multipart(o, spec);
		break;
	}
	case PBT_MSG_8BIT:
		headers(o, spec, "text/plain; charset=utf-8", "8bit");
		body_8bit(o);
		break;
	case PBT_MSG_DOTS:
		headers(o, spec, plain, "7bit");
		body_dots(o);
		break;
	case PBT_MSG_LONG_LINES:
		headers(o, spec, plain, "7bit");
		body_long(o);
		break;
	case PBT_MSG_BARE_LF:
		headers(o, spec, plain, "7bit");
		line(o, "Every line of this message ends with a bare LF.");
		text_lines(o, 4);
		break;
	case PBT_MSG_NO_FINAL_EOL:
		headers(o, spec, plain, "7bit");
		text_lines(o, 3);
		puts_(o, "this last line has no line end");
		break;
	case PBT_MSG_LARGE:
		headers(o, spec, plain, "7bit");
		if (body_large(o, spec->size) < 0)
			return -1;
		break;
	case PBT_MSG_KIND_COUNT:
		return -1;
	}
	flush(o);
	return o->failed ? -1 : (int64_t)o->total;
}

static int file_sink(void *arg, const char *buf, size_t len)
{
	return fwrite(buf, 1, len, (FILE *)arg) == len ? 0 : -1;
}

int64_t pbt_msg_write_file(const struct pbt_msgspec *spec, FILE *f)
{
	return pbt_msg_write(spec, file_sink, f);
}

size_t pbt_msg_awkward_set(struct pbt_msgspec *specs, size_t n, uint32_t first_seed)
{
	for (size_t i = 0; i < n; i++) {
		specs[i].kind = (enum pbt_msg_kind)(i % PBT_MSG_LARGE);
		specs[i].seed = first_seed + (uint32_t)i;
		specs[i].size = 0;
	}
	return n;
}
