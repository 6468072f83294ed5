/* imap/format.c — the command formatter (see format.h). */
#include "imap/format.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static void set_fail(struct imap_cmd *c, const char *why)
{
	if (!c->error)
		c->error = why;
}

static int append(struct imap_cmd *c, const char *s, size_t n)
{
	if (c->error)
		return -1;
	if (c->len + n > sizeof(c->buf) - 1) {
		set_fail(c, "command too long");
		return -1;
	}
	memcpy(c->buf + c->len, s, n);
	c->len += n;
	c->buf[c->len] = '\0';
	return 0;
}

static int sep(struct imap_cmd *c)
{
	if (c->len > 0 && c->buf[c->len - 1] != '(' && c->buf[c->len - 1] != '\n')
		return append(c, " ", 1);
	return c->error ? -1 : 0;
}

static int add_sync(struct imap_cmd *c)
{
	if (c->error)
		return -1;
	if (c->nsync >= IMAP_CMD_SYNC_MAX) {
		set_fail(c, "too many literals in one command");
		return -1;
	}
	c->sync[c->nsync++] = c->len;
	return 0;
}

static bool is_atom_char(unsigned char ch)
{
	if (ch <= 0x20 || ch >= 0x7f)
		return false;
	return strchr("(){%*\"\\]", ch) == NULL;
}

bool imap_is_atom(const char *s, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_atom_char((unsigned char)s[i]))
			return false;
	return true;
}

/* CR, LF and NUL are never allowed in an argument. */
static int check_safe(struct imap_cmd *c, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0') {
			set_fail(c, "CR, LF or NUL in an argument");
			return -1;
		}
	}
	return c->error ? -1 : 0;
}

void imap_cmd_init(struct imap_cmd *c, const char *tag, bool literal_plus,
    bool literal_minus)
{
	c->len = 0;
	c->nsync = 0;
	c->error = NULL;
	c->buf[0] = '\0';
	c->literal_plus = literal_plus;
	c->literal_minus = literal_minus;
	if (!tag || !imap_is_atom(tag, strlen(tag)) || strlen(tag) > IMAP_TAG_MAX) {
		set_fail(c, "bad tag");
		return;
	}
	append(c, tag, strlen(tag));
}

int imap_cmd_atom(struct imap_cmd *c, const char *atom)
{
	size_t n = strlen(atom);
	if (check_safe(c, atom, n) < 0)
		return -1;
	if (!imap_is_atom(atom, n)) {
		set_fail(c, "not an atom");
		return -1;
	}
	if (sep(c) < 0)
		return -1;
	return append(c, atom, n);
}

int imap_cmd_raw(struct imap_cmd *c, const char *text)
{
	size_t n = strlen(text);
	if (check_safe(c, text, n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)text[i] < 0x20 || (unsigned char)text[i] > 0x7e) {
			set_fail(c, "non-printable octet in command text");
			return -1;
		}
	}
	if (sep(c) < 0)
		return -1;
	return append(c, text, n);
}

static int literal(struct imap_cmd *c, const char *s, size_t len)
{
	char head[40];
	bool plus = c->literal_plus || (c->literal_minus && len <= IMAP_LITERAL_MINUS_MAX);
	snprintf(head, sizeof(head), "{%zu%s}\r\n", len, plus ? "+" : "");
	if (append(c, head, strlen(head)) < 0)
		return -1;
	if (!plus && add_sync(c) < 0)
		return -1;
	return append(c, s, len);
}

static int string(struct imap_cmd *c, const char *s, size_t len, bool allow_atom)
{
	bool quotable = len <= IMAP_QUOTED_MAX;
	if (check_safe(c, s, len) < 0)
		return -1;
	if (sep(c) < 0)
		return -1;
	if (allow_atom && imap_is_atom(s, len) && !(len == 3 && strncasecmp(s, "NIL", 3) == 0))
		return append(c, s, len);
	for (size_t i = 0; i < len && quotable; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			quotable = false;
	if (!quotable)
		return literal(c, s, len);
	if (append(c, "\"", 1) < 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if ((s[i] == '"' || s[i] == '\\') && append(c, "\\", 1) < 0)
			return -1;
		if (append(c, s + i, 1) < 0)
			return -1;
	}
	return append(c, "\"", 1);
}

int imap_cmd_astring(struct imap_cmd *c, const char *s, size_t len)
{
	return string(c, s, len, true);
}

int imap_cmd_string(struct imap_cmd *c, const char *s, size_t len)
{
	return string(c, s, len, false);
}

int imap_cmd_number(struct imap_cmd *c, uint64_t n)
{
	char num[24];
	snprintf(num, sizeof(num), "%" PRIu64, n);
	if (sep(c) < 0)
		return -1;
	return append(c, num, strlen(num));
}

int imap_cmd_flag(struct imap_cmd *c, const char *flag)
{
	static const char *const sys[] = {
		"\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft",
	};
	size_t n = strlen(flag);
	if (check_safe(c, flag, n) < 0)
		return -1;
	if (flag[0] == '\\') {
		for (size_t i = 0; i < sizeof(sys) / sizeof(sys[0]); i++)
			if (strcasecmp(flag, sys[i]) == 0) {
				if (sep(c) < 0)
					return -1;
				return append(c, sys[i], strlen(sys[i]));
			}
		set_fail(c, "unknown system flag");
		return -1;
	}
	if (!imap_is_atom(flag, n)) {
		set_fail(c, "keyword is not an atom");
		return -1;
	}
	if (sep(c) < 0)
		return -1;
	return append(c, flag, n);
}

int imap_cmd_uidset(struct imap_cmd *c, const struct imap_uidset *set, size_t *pos,
    size_t max)
{
	char tmp[IMAP_CMD_MAX];
	if (c->error)
		return -1;
	size_t room = sizeof(c->buf) - 1 - c->len;
	if (room < 2) {
		set_fail(c, "command too long");
		return -1;
	}
	room--;  /* the separator */
	if (max > room)
		max = room;
	size_t n = imap_uidset_format(set, pos, tmp, sizeof(tmp), max);
	if (n == 0) {
		set_fail(c, "empty UID set");
		return -1;
	}
	if (sep(c) < 0)
		return -1;
	return append(c, tmp, n);
}

void imap_cmd_list_open(struct imap_cmd *c)
{
	if (sep(c) == 0)
		append(c, "(", 1);
}

void imap_cmd_list_close(struct imap_cmd *c)
{
	append(c, ")", 1);
}

int imap_cmd_continuation(struct imap_cmd *c, const char *text)
{
	size_t n = strlen(text);
	if (check_safe(c, text, n) < 0)
		return -1;
	if (append(c, "\r\n", 2) < 0 || add_sync(c) < 0)
		return -1;
	return append(c, text, n);
}

int imap_cmd_end(struct imap_cmd *c)
{
	if (append(c, "\r\n", 2) < 0)
		return -1;
	return 0;
}
