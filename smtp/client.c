/* smtp/client.c — see client.h. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp/client.h"

void smtp_reply_acc_init(struct smtp_reply_acc *a)
{
	a->r.code = 0;
	a->r.text[0] = '\0';
	a->lines = 0;
	a->len = 0;
}

static bool digit(char c)
{
	return c >= '0' && c <= '9';
}

int smtp_reply_line(struct smtp_reply_acc *a, const char *line, size_t len)
{
	if (len < 3 || !digit(line[0]) || !digit(line[1]) || !digit(line[2]) ||
	    (len > 3 && line[3] != ' ' && line[3] != '-'))
		return -1;
	unsigned code = (unsigned)(line[0] - '0') * 100 + (unsigned)(line[1] - '0') * 10 +
	    (unsigned)(line[2] - '0');
	if (code < 200 || code > 599 || (a->lines > 0 && code != a->r.code) ||
	    a->lines >= SMTP_REPLY_LINES_HARD_MAX)
		return -1;
	a->r.code = code;
	bool more = len > 3 && line[3] == '-';
	const char *t = len > 4 ? line + 4 : "";
	size_t tl = len > 4 ? len - 4 : 0;
	if (tl > SMTP_REPLY_LINE_MAX)
		tl = SMTP_REPLY_LINE_MAX;
	if (a->lines < SMTP_REPLY_LINES_MAX && a->len + (a->lines > 0) + tl < sizeof(a->r.text)) {
		if (a->lines > 0)
			a->r.text[a->len++] = '\n';
		for (size_t i = 0; i < tl; i++) {
			unsigned char c = (unsigned char)t[i];
			a->r.text[a->len++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
		}
		a->r.text[a->len] = '\0';
	}
	a->lines++;
	return more ? 0 : 1;
}

/* The keyword of an EHLO line (up to a space) is kw. */
static bool is_kw(const char *line, size_t len, const char *kw)
{
	size_t n = strlen(kw);
	return len >= n && strncasecmp(line, kw, n) == 0 && (len == n || line[n] == ' ');
}

static void auth_words(struct smtp_caps *caps, const char *p, size_t len)
{
	static const struct { const char *name; unsigned bit; } mechs[] = {
		{ "PLAIN", SMTP_MECH_PLAIN }, { "LOGIN", SMTP_MECH_LOGIN },
		{ "XOAUTH2", SMTP_MECH_XOAUTH2 }, { "OAUTHBEARER", SMTP_MECH_OAUTHBEARER },
	};
	size_t i = 0;

	while (i < len) {
		while (i < len && p[i] == ' ')
			i++;
		size_t j = i;
		while (j < len && p[j] != ' ')
			j++;
		for (size_t m = 0; m < sizeof(mechs) / sizeof(mechs[0]); m++)
			if (j - i == strlen(mechs[m].name) &&
			    strncasecmp(p + i, mechs[m].name, j - i) == 0)
				caps->mechs |= mechs[m].bit;
		i = j;
	}
}

void smtp_caps_line(struct smtp_caps *caps, const char *line, size_t len)
{
	if (is_kw(line, len, "SIZE")) {
		uint64_t n = 0;
		size_t i = 4;
		while (i < len && line[i] == ' ')
			i++;
		for (size_t d = 0; i < len && digit(line[i]) && d < 19; i++, d++)
			n = n * 10 + (uint64_t)(line[i] - '0');
		caps->ext.size = n;
	} else if (is_kw(line, len, "8BITMIME")) {
		caps->ext.eightbitmime = true;
	} else if (is_kw(line, len, "SMTPUTF8")) {
		caps->ext.smtputf8 = true;
	} else if (is_kw(line, len, "STARTTLS")) {
		caps->starttls = true;
	} else if (is_kw(line, len, "PIPELINING")) {
		caps->pipelining = true;
	} else if (is_kw(line, len, "ENHANCEDSTATUSCODES")) {
		caps->enhanced = true;
	} else if (is_kw(line, len, "AUTH")) {
		auth_words(caps, line + 4, len - 4);
	} else if (len > 5 && strncasecmp(line, "AUTH=", 5) == 0) {
		auth_words(caps, line + 5, len - 5);  /* old servers' form */
	}
}
