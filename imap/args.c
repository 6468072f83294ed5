/* imap/args.c — helpers on parsed responses: strict numbers, argument
 * accessors, response-code names and text sanitising (see parser.h).
 */
#include <string.h>
#include <strings.h>

#include "imap/parser.h"

int imap_parse_number(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	if (len == 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

bool imap_arg_is_atom(const struct imap_arg *a, const char *s)
{
	return a && a->type == IMAP_ARG_ATOM && strcasecmp(a->u.str, s) == 0;
}

int imap_arg_number32(const struct imap_arg *a, uint32_t *out)
{
	uint64_t v;
	if (!a || a->type != IMAP_ARG_ATOM ||
	    imap_parse_number(a->u.str, a->len, UINT32_MAX, &v) < 0)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

int imap_arg_number64(const struct imap_arg *a, uint64_t *out)
{
	if (!a || a->type != IMAP_ARG_ATOM ||
	    imap_parse_number(a->u.str, a->len, INT64_MAX, out) < 0)
		return -1;
	return 0;
}

const char *imap_arg_string(const struct imap_arg *a)
{
	if (a && (a->type == IMAP_ARG_ATOM || a->type == IMAP_ARG_STRING))
		return a->u.str;
	return NULL;
}

void imap_sanitize(char *dst, size_t cap, const char *src, size_t len)
{
	size_t n = 0;
	if (cap == 0)
		return;
	for (size_t i = 0; i < len && n + 1 < cap; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[n++] = (c >= 0x20 && c <= 0x7e) ? (char)c : '?';
	}
	dst[n] = '\0';
}

static const char *const code_names[IMAP_CODE_COUNT] = {
	[IMAP_CODE_NONE] = "",
	[IMAP_CODE_OTHER] = "",
	[IMAP_CODE_ALERT] = "ALERT",
	[IMAP_CODE_ALREADYEXISTS] = "ALREADYEXISTS",
	[IMAP_CODE_APPENDUID] = "APPENDUID",
	[IMAP_CODE_AUTHENTICATIONFAILED] = "AUTHENTICATIONFAILED",
	[IMAP_CODE_AUTHORIZATIONFAILED] = "AUTHORIZATIONFAILED",
	[IMAP_CODE_BADCHARSET] = "BADCHARSET",
	[IMAP_CODE_CANNOT] = "CANNOT",
	[IMAP_CODE_CAPABILITY] = "CAPABILITY",
	[IMAP_CODE_CLIENTBUG] = "CLIENTBUG",
	[IMAP_CODE_CLOSED] = "CLOSED",
	[IMAP_CODE_CONTACTADMIN] = "CONTACTADMIN",
	[IMAP_CODE_COPYUID] = "COPYUID",
	[IMAP_CODE_CORRUPTION] = "CORRUPTION",
	[IMAP_CODE_EXPIRED] = "EXPIRED",
	[IMAP_CODE_EXPUNGEISSUED] = "EXPUNGEISSUED",
	[IMAP_CODE_HIGHESTMODSEQ] = "HIGHESTMODSEQ",
	[IMAP_CODE_INUSE] = "INUSE",
	[IMAP_CODE_LIMIT] = "LIMIT",
	[IMAP_CODE_MODIFIED] = "MODIFIED",
	[IMAP_CODE_NOMODSEQ] = "NOMODSEQ",
	[IMAP_CODE_NONEXISTENT] = "NONEXISTENT",
	[IMAP_CODE_NOPERM] = "NOPERM",
	[IMAP_CODE_OVERQUOTA] = "OVERQUOTA",
	[IMAP_CODE_PARSE] = "PARSE",
	[IMAP_CODE_PERMANENTFLAGS] = "PERMANENTFLAGS",
	[IMAP_CODE_PRIVACYREQUIRED] = "PRIVACYREQUIRED",
	[IMAP_CODE_READ_ONLY] = "READ-ONLY",
	[IMAP_CODE_READ_WRITE] = "READ-WRITE",
	[IMAP_CODE_SERVERBUG] = "SERVERBUG",
	[IMAP_CODE_THROTTLED] = "THROTTLED",
	[IMAP_CODE_TRYCREATE] = "TRYCREATE",
	[IMAP_CODE_UIDNEXT] = "UIDNEXT",
	[IMAP_CODE_UIDNOTSTICKY] = "UIDNOTSTICKY",
	[IMAP_CODE_UIDVALIDITY] = "UIDVALIDITY",
	[IMAP_CODE_UNAVAILABLE] = "UNAVAILABLE",
	[IMAP_CODE_UNSEEN] = "UNSEEN",
};

const char *imap_code_name(enum imap_code code)
{
	if ((unsigned)code >= IMAP_CODE_COUNT)
		return "";
	return code_names[code];
}

enum imap_code imap_code_lookup(const char *name, size_t len)
{
	for (int c = IMAP_CODE_ALERT; c < IMAP_CODE_COUNT; c++) {
		if (strlen(code_names[c]) == len && strncasecmp(code_names[c], name, len) == 0)
			return (enum imap_code)c;
	}
	return IMAP_CODE_OTHER;
}
