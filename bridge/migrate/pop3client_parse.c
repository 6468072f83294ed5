/* bridge/migrate/pop3client_parse.c — see pop3client_parse.h. */
#include "bridge/migrate/pop3client_parse.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "bridge/base/text.h"

void migrate_pop3c_parser_init(struct migrate_pop3c_parser *p)
{
	memset(p, 0, sizeof(*p));
	pop3_lr_init(&p->lr, p->lr_buf, sizeof(p->lr_buf));
}

void migrate_pop3c_parser_expect(struct migrate_pop3c_parser *p, bool multi)
{
	p->multi_next = multi;
}

char *migrate_pop3c_parser_space(struct migrate_pop3c_parser *p, size_t *avail)
{
	return pop3_lr_space(&p->lr, avail);
}

void migrate_pop3c_parser_added(struct migrate_pop3c_parser *p, size_t n)
{
	pop3_lr_added(&p->lr, n);
}

void migrate_pop3c_parser_discard(struct migrate_pop3c_parser *p)
{
	pop3_lr_discard(&p->lr);
}

size_t migrate_pop3c_parser_buffered(const struct migrate_pop3c_parser *p)
{
	return pop3_lr_buffered(&p->lr);
}

static enum migrate_pop3c_ev fail(struct migrate_pop3c_parser *p, struct migrate_pop3c_event *ev, const char *why)
{
	if (!p->failed) {
		p->failed = true;
		snprintf(p->failure, sizeof(p->failure), "%s", why);
	}
	snprintf(ev->text, sizeof(ev->text), "%s", p->failure);
	return POP3C_EV_ERROR;
}

static enum migrate_pop3c_ev status_line(struct migrate_pop3c_parser *p, struct migrate_pop3c_event *ev,
    const char *line, size_t len)
{
	size_t skip;

	if (len >= 3 && memcmp(line, "+OK", 3) == 0) {
		ev->ok = true;
		skip = 3;
	} else if (len >= 1 && line[0] == '+' && (len == 1 || line[1] == ' ')) {
		ev->ok = true;
		ev->cont = true;
		skip = 1;
	} else if (len >= 4 && memcmp(line, "-ERR", 4) == 0) {
		ev->ok = false;
		skip = 4;
	} else {
		return fail(p, ev, "the server sent a reply that is neither +OK nor -ERR");
	}
	if (len > skip && line[skip] != ' ')
		return fail(p, ev, "the server sent a reply that is neither +OK nor -ERR");
	while (skip < len && line[skip] == ' ')
		skip++;
	base_text_printable(ev->text, sizeof(ev->text), line + skip, len - skip);
	p->in_data = ev->ok && !ev->cont && p->multi_next;
	p->multi_next = false;
	return POP3C_EV_STATUS;
}

enum migrate_pop3c_ev migrate_pop3c_parser_next(struct migrate_pop3c_parser *p, struct migrate_pop3c_event *ev)
{
	char *line;
	size_t len;

	memset(ev, 0, sizeof(*ev));
	if (p->failed)
		return fail(p, ev, p->failure);
	switch (pop3_lr_next(&p->lr, &line, &len)) {
	case POP3_LR_NEED_MORE:
		return POP3C_EV_NEED_MORE;
	case POP3_LR_OVERFLOW:
		return fail(p, ev, "the server sent a line longer than 64 KiB");
	case POP3_LR_TOO_LONG:
		if (!p->in_data)
			return fail(p, ev, "the server sent a reply line that is too long");
		return POP3C_EV_DROPPED;
	case POP3_LR_BAD:
		if (!p->in_data)
			return fail(p, ev, "the server sent a reply line holding a NUL octet");
		return POP3C_EV_DROPPED;
	case POP3_LR_LINE:
		break;
	}
	if (!p->in_data)
		return status_line(p, ev, line, len);
	if (len > 0 && line[0] == '.') {
		if (len == 1) {
			p->in_data = false;
			return POP3C_EV_END;
		}
		line++;
		len--;
	}
	ev->line = line;
	ev->len = len;
	return POP3C_EV_DATA;
}

/* Decimal digits at *pos (no sign); advances *pos. */
static int parse_num(const char *s, size_t len, size_t *pos, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = *pos;

	if (i >= len || s[i] < '0' || s[i] > '9')
		return -1;
	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*pos = i;
	*out = v;
	return 0;
}

static size_t skip_spaces(const char *s, size_t len, size_t i)
{
	while (i < len && s[i] == ' ')
		i++;
	return i;
}

/* "N " prefix shared by UIDL and LIST lines; *pos after the spaces. */
static int parse_msgnum(const char *line, size_t len, size_t *pos, uint32_t *num)
{
	uint64_t n;
	size_t i = 0;

	if (parse_num(line, len, &i, UINT32_MAX, &n) != 0 || n == 0)
		return -1;
	if (i >= len || line[i] != ' ')
		return -1;
	*pos = skip_spaces(line, len, i);
	*num = (uint32_t)n;
	return 0;
}

int migrate_pop3c_parse_uidl(const char *line, size_t len, uint32_t *num, char *uidl)
{
	size_t i, start;

	if (parse_msgnum(line, len, &i, num) != 0)
		return -1;
	start = i;
	while (i < len && (unsigned char)line[i] >= 0x21 && (unsigned char)line[i] <= 0x7e)
		i++;
	if (i == start || i - start > POP3C_UIDL_MAX)
		return -1;
	if (skip_spaces(line, len, i) != len)
		return -1;
	memcpy(uidl, line + start, i - start);
	uidl[i - start] = '\0';
	return 0;
}

int migrate_pop3c_parse_list(const char *line, size_t len, uint32_t *num, uint64_t *size)
{
	size_t i;

	if (parse_msgnum(line, len, &i, num) != 0)
		return -1;
	if (parse_num(line, len, &i, INT64_MAX, size) != 0)
		return -1;
	/* RFC 2449 allows more after the size; only spaces before it. */
	return i == len || line[i] == ' ' ? 0 : -1;
}

void migrate_pop3c_hdr_init(struct migrate_pop3c_hdr *h)
{
	h->len = 0;
	h->done = h->keep = h->truncated = false;
	h->seen = 0;
}

static void hdr_append(struct migrate_pop3c_hdr *h, const char *line, size_t len)
{
	if (h->truncated)
		return;
	if (len + 1 > sizeof(h->buf) - h->len) {
		h->truncated = true;
		return;
	}
	memcpy(h->buf + h->len, line, len);
	h->buf[h->len + len] = '\n';
	h->len += len + 1;
}

/* Which matchkey field a field line names (as matchkey.c reads it), or -1. */
static int field_index(const char *line, size_t len)
{
	const char *colon = memchr(line, ':', len);
	size_t nend;

	if (colon == NULL)
		return -1;
	nend = (size_t)(colon - line);
	while (nend > 0 && (line[nend - 1] == ' ' || line[nend - 1] == '\t'))
		nend--;
	for (int i = 0; i < MATCHKEY_NFIELDS; i++) {
		size_t fl = strlen(maildrop_matchkey_fields[i]);
		if (nend == fl && strncasecmp(line, maildrop_matchkey_fields[i], fl) == 0)
			return i;
	}
	return -1;
}

void migrate_pop3c_hdr_line(struct migrate_pop3c_hdr *h, const char *line, size_t len)
{
	if (h->done)
		return;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len == 0) {
		h->done = true;
		return;
	}
	if (line[0] == ' ' || line[0] == '\t') {
		if (h->keep)
			hdr_append(h, line, len);
		return;
	}
	int i = field_index(line, len);
	h->keep = i >= 0 && !(h->seen & (1u << i));
	if (h->keep) {
		h->seen |= 1u << i;
		hdr_append(h, line, len);
	}
}

void migrate_pop3c_hdr_field(const struct migrate_pop3c_hdr *h, const char *name, char *out, size_t cap)
{
	size_t pos = 0, o = 0;
	bool in = false, space = false;

	if (cap == 0)
		return;
	while (pos < h->len) {
		const char *nl = memchr(h->buf + pos, '\n', h->len - pos);
		size_t eol = nl ? (size_t)(nl - h->buf) : h->len;
		const char *l = h->buf + pos;
		size_t ll = eol - pos, from = 0;

		if (l[0] == ' ' || l[0] == '\t') {
			if (!in) {
				pos = eol + 1;
				continue;
			}
		} else {
			if (in)
				break;
			int i = field_index(l, ll);
			if (i < 0 || strcasecmp(maildrop_matchkey_fields[i], name) != 0) {
				pos = eol + 1;
				continue;
			}
			in = true;
			from = (size_t)((const char *)memchr(l, ':', ll) - l) + 1;
		}
		for (size_t k = from; k < ll && o + 1 < cap; k++) {
			unsigned char c = (unsigned char)l[k];
			if (c == ' ' || c == '\t' || c == '\r') {
				space = o > 0;
				continue;
			}
			if (space && o + 2 < cap)
				out[o++] = ' ';
			space = false;
			out[o++] = base_text_printable_byte(c);
		}
		space = o > 0;
		pos = eol + 1;
	}
	out[o] = '\0';
}
