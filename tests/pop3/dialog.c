/* tests/pop3/dialog.c — exact wire transcripts over the memory transport
 * (memio.c), shared by the POP3 and SMTP engine tests: dialogs written as
 * the RFCs write sessions (interleaved "C: " and "S: " lines), the dialog a
 * trickled run actually had, and a comparison that shows CR, LF and other
 * control octets visibly when it fails. Included as a .c file after
 * memio.c, like it.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/testutil.h"
#include "tests/pop3/memio.h"

/* Show CR, LF and other control octets visibly for failure messages. */
static char *visible(const char *s, size_t len)
{
	char *o = malloc(len * 4 + 1), *p = o;
	ck_assert_ptr_nonnull(o);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\r')
			p += sprintf(p, "\\r");
		else if (c == '\n')
			p += sprintf(p, "\\n\n");
		else if (c < 0x20 || c >= 0x7f)
			p += sprintf(p, "\\x%02x", c);
		else
			*p++ = (char)c;
	}
	*p = '\0';
	return o;
}

/* What the engine wrote must be exactly want. */
static void dialog_expect(const struct memio *m, const char *want)
{
	if (m->out_len != strlen(want) || memcmp(m->out, want, m->out_len) != 0) {
		char *g = visible(m->out, m->out_len), *w = visible(want, strlen(want));
		ck_abort_msg("transcript differs\n--- got:\n%s\n--- want:\n%s", g, w);
	}
}

/* A dialog is a session written as RFC 1939 writes one: "S: " before each
 * line the server sends, "C: " before each line the client sends, every
 * line through its LF (a last client line may stop short: a half command).
 * Each C: line stands after the S: lines the engine wrote before reading
 * it; with pipelining the client's lines stand together. */
static void dialog_split(const char *text, struct pbt_buf *in, struct pbt_buf *want)
{
	pbt_buf_adds(in, "");
	pbt_buf_adds(want, "");
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) + 1 : strlen(p);
		ck_assert_msg(n > 3 && (p[0] == 'C' || p[0] == 'S') && p[1] == ':' && p[2] == ' ',
		    "dialog line without C: or S: at '%.40s'", p);
		pbt_buf_add(p[0] == 'C' ? in : want, p + 3, n - 3);
		p += n;
	}
}

static void dialog_add(struct pbt_buf *b, const char *who, const char *s, size_t len)
{
	while (len > 0) {
		const char *nl = memchr(s, '\n', len);
		size_t n = nl ? (size_t)(nl - s) + 1 : len;
		pbt_buf_adds(b, who);
		pbt_buf_add(b, s, n);
		s += n;
		len -= n;
	}
}

/* A run with the input trickled (m->out_at filled) as a dialog; malloc'd. */
static char *dialog_of(const struct memio *m)
{
	struct pbt_buf b = { 0 };
	size_t out = 0, pos = 0;

	pbt_buf_adds(&b, "");
	while (pos < m->in_pos) {
		const char *nl = memchr(m->in + pos, '\n', m->in_pos - pos);
		size_t end = nl ? (size_t)(nl - m->in) + 1 : m->in_pos;
		dialog_add(&b, "S: ", m->out + out, m->out_at[pos] - out);
		out = m->out_at[pos];
		dialog_add(&b, "C: ", m->in + pos, end - pos);
		pos = end;
	}
	dialog_add(&b, "S: ", m->out + out, m->out_len - out);
	return b.p;
}

