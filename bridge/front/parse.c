/* bridge/front/parse.c — the pre-login command parser (bridge/front/parse.h). */
#include "bridge/front/parse.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

/* An internal outcome: go on, or stop with a result. */
enum step { STEP_OK, STEP_STOP };

struct scan {
	const unsigned char *b;
	size_t len;              /* what the caller has */
	size_t lim;              /* what may be looked at: min(len, FRONT_CMD_MAX) */
	size_t pos;
	struct front_cmd *cmd;
	enum front_parse_result res;
	size_t consumed;
};

static bool atom_char(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return !strchr("(){%*\"\\", c);
}

static bool tag_char(unsigned char c)
{
	return atom_char(c) && c != '+';
}

/* More input is needed at sc->pos. */
static enum step more(struct scan *sc, size_t need)
{
	if (need > FRONT_CMD_MAX || sc->len >= FRONT_CMD_MAX) {
		snprintf(sc->cmd->error, sizeof(sc->cmd->error), "command too long");
		sc->res = FRONT_PARSE_TOO_LONG;
		return STEP_STOP;
	}
	sc->cmd->need = need > sc->len ? need : sc->len + 1;
	sc->res = FRONT_PARSE_MORE;
	return STEP_STOP;
}

static enum step too_long(struct scan *sc, const char *what)
{
	snprintf(sc->cmd->error, sizeof(sc->cmd->error), "%s", what);
	sc->res = FRONT_PARSE_TOO_LONG;
	return STEP_STOP;
}

/* Does the line b[0, n) (its LF excluded) end in a non-synchronizing
 * literal's announcement "{digits+}"? Its size in *size (digits beyond 10:
 * ULLONG_MAX, over any bound). */
static bool nonsync_header(const unsigned char *b, size_t n, unsigned long long *size)
{
	if (n > 0 && b[n - 1] == '\r')
		n--;
	if (n < 4 || b[n - 1] != '}' || b[n - 2] != '+')
		return false;
	size_t d = n - 2, k = d;
	while (k > 0 && b[k - 1] >= '0' && b[k - 1] <= '9')
		k--;
	if (k == d || k == 0 || b[k - 1] != '{')
		return false;
	*size = 0;
	for (size_t i = k; i < d; i++)
		*size = d - k > 10 ? ULLONG_MAX : *size * 10 + (b[i] - '0');
	return true;
}

/* A syntax error at sc->pos: BAD once the command's end is there. That is
 * the end of the line, past the octets of every non-synchronizing literal
 * announced on the way: the client sends those without waiting, so they
 * are part of the bad command, never commands of their own (one over
 * FRONT_LITERAL_MAX closes the session, RFC 7888 §4). A synchronizing
 * literal's announcement ends it: no "+" went for that one, and the client
 * waits for it. */
static enum step bad(struct scan *sc, const char *what)
{
	snprintf(sc->cmd->error, sizeof(sc->cmd->error), "%s", what);
	size_t p = sc->pos, from = 0;   /* the announcement may begin before pos */
	for (;;) {
		const unsigned char *lf = p < sc->lim ? memchr(sc->b + p, '\n', sc->lim - p) :
		    NULL;
		if (lf == NULL)
			return more(sc, p > sc->len ? p : sc->len + 1);
		size_t end = (size_t)(lf - sc->b);
		unsigned long long n;
		if (!nonsync_header(sc->b + from, end - from, &n)) {
			sc->consumed = end + 1;
			sc->res = FRONT_PARSE_BAD;
			return STEP_STOP;
		}
		if (n > FRONT_LITERAL_MAX)
			return too_long(sc, "literal too long");
		p = from = end + 1 + (size_t)n;
	}
}

/* Is there a byte at pos? (MORE or TOO_LONG when not.) */
static bool have(struct scan *sc, enum step *st)
{
	if (sc->pos < sc->lim)
		return true;
	*st = more(sc, sc->pos + 1);
	return false;
}

/* Room in cmd->data for n octets and a NUL; where they go. */
static char *store(struct scan *sc, size_t n)
{
	struct front_cmd *c = sc->cmd;
	if (c->used + n + 1 > sizeof(c->data))
		return NULL;
	char *p = c->data + c->used;
	c->used += n + 1;
	p[n] = '\0';
	return p;
}

static enum step add_arg(struct scan *sc, enum front_arg_type t, const char *s, size_t len,
    bool top, struct front_arg **out)
{
	struct front_cmd *c = sc->cmd;
	if (c->nargs >= FRONT_ARGS_MAX)
		return too_long(sc, "too many arguments");
	struct front_arg *a = &c->args[c->nargs++];
	a->type = t;
	a->s = s;
	a->len = len;
	a->n = 0;
	a->top = top;
	if (top)
		c->ntop++;
	if (out)
		*out = a;
	return STEP_OK;
}

static enum step atom(struct scan *sc, bool top)
{
	enum step st;
	size_t start = sc->pos;
	for (;;) {
		if (!have(sc, &st))
			return st;
		if (!atom_char(sc->b[sc->pos]) && sc->b[sc->pos] != ']')
			break;
		sc->pos++;
	}
	size_t n = sc->pos - start;
	if (n == 0)
		return bad(sc, "bad argument");
	char *p = store(sc, n);
	if (!p)
		return too_long(sc, "command too long");
	memcpy(p, sc->b + start, n);
	enum front_arg_type t = n == 3 && (p[0] | 0x20) == 'n' && (p[1] | 0x20) == 'i' &&
	    (p[2] | 0x20) == 'l' ? FRONT_ARG_NIL : FRONT_ARG_ATOM;
	return add_arg(sc, t, p, n, top, NULL);
}

static enum step quoted(struct scan *sc, bool top)
{
	sc->pos++;  /* the opening quote */
	/* First find the end (the decoded text is never longer). */
	size_t i = sc->pos, n = 0;
	for (;;) {
		if (i >= sc->lim)
			return more(sc, i + 1);
		unsigned char c = sc->b[i];
		if (c == '"')
			break;
		if (c == '\0' || c == '\r' || c == '\n') {
			sc->pos = i;
			return bad(sc, "bad quoted string");
		}
		if (c == '\\') {
			if (i + 1 >= sc->lim)
				return more(sc, i + 2);
			if (sc->b[i + 1] != '"' && sc->b[i + 1] != '\\') {
				sc->pos = i;
				return bad(sc, "bad escape in a quoted string");
			}
			i++;
		}
		i++;
		n++;
	}
	char *p = store(sc, n);
	if (!p)
		return too_long(sc, "command too long");
	for (size_t k = 0; sc->pos < i; k++) {
		if (sc->b[sc->pos] == '\\')
			sc->pos++;
		p[k] = (char)sc->b[sc->pos++];
	}
	sc->pos++;  /* the closing quote */
	return add_arg(sc, FRONT_ARG_STRING, p, n, top, NULL);
}

/* The line end at pos: CRLF or LF. STEP_OK past it, or BAD. */
static enum step line_end(struct scan *sc, const char *what)
{
	enum step st;
	if (!have(sc, &st))
		return st;
	if (sc->b[sc->pos] == '\r') {
		sc->pos++;
		if (!have(sc, &st))
			return st;
	}
	if (sc->b[sc->pos] != '\n')
		return bad(sc, what);
	sc->pos++;
	return STEP_OK;
}

static enum step literal(struct scan *sc, bool top)
{
	enum step st;
	unsigned long long n = 0;
	size_t digits = 0;
	bool sync = true;
	sc->pos++;  /* '{' */
	for (;;) {
		if (!have(sc, &st))
			return st;
		unsigned char c = sc->b[sc->pos];
		if (c < '0' || c > '9')
			break;
		if (++digits > 10)
			return bad(sc, "bad literal size");
		n = n * 10 + (c - '0');
		sc->pos++;
	}
	if (digits == 0)
		return bad(sc, "bad literal size");
	if (sc->b[sc->pos] == '+') {
		sync = false;
		sc->pos++;
		if (!have(sc, &st))
			return st;
	}
	if (sc->b[sc->pos] != '}')
		return bad(sc, "bad literal");
	sc->pos++;
	if ((st = line_end(sc, "a literal's size must end the line")) != STEP_OK)
		return st;
	if (n > FRONT_LITERAL_MAX)
		return too_long(sc, "literal too long");
	if (sync)
		sc->cmd->n_sync++;
	if (sc->pos + n > sc->lim)
		return more(sc, sc->pos + (size_t)n);
	if (memchr(sc->b + sc->pos, '\0', (size_t)n)) {
		/* the literal's octets are the command's, whatever they hold */
		sc->pos += (size_t)n;
		return bad(sc, "NUL in a literal");
	}
	char *p = store(sc, (size_t)n);
	if (!p)
		return too_long(sc, "command too long");
	memcpy(p, sc->b + sc->pos, (size_t)n);
	sc->pos += (size_t)n;
	return add_arg(sc, FRONT_ARG_STRING, p, (size_t)n, top, NULL);
}

static enum step argument(struct scan *sc, bool top);

static enum step list(struct scan *sc)
{
	enum step st;
	struct front_arg *l;
	if ((st = add_arg(sc, FRONT_ARG_LIST, NULL, 0, true, &l)) != STEP_OK)
		return st;
	sc->pos++;  /* '(' */
	for (;;) {
		if (!have(sc, &st))
			return st;
		if (sc->b[sc->pos] == ')') {
			sc->pos++;
			return STEP_OK;
		}
		if (l->n > 0) {
			if (sc->b[sc->pos] != ' ')
				return bad(sc, "bad list");
			sc->pos++;
			if (!have(sc, &st))
				return st;
		}
		if (sc->b[sc->pos] == '(')
			return bad(sc, "nested list");
		if ((st = argument(sc, false)) != STEP_OK)
			return st;
		l->n++;
	}
}

static enum step argument(struct scan *sc, bool top)
{
	switch (sc->b[sc->pos]) {
	case '(':
		return list(sc);
	case '"':
		return quoted(sc, top);
	case '{':
		return literal(sc, top);
	default:
		return atom(sc, top);
	}
}

/* A tag or command name into dst (at most max octets). */
static enum step word(struct scan *sc, bool (*ok)(unsigned char), char *dst, size_t max,
    bool upper, const char *what)
{
	enum step st;
	size_t n = 0;
	for (;;) {
		if (!have(sc, &st))
			return st;
		unsigned char c = sc->b[sc->pos];
		if (!ok(c))
			break;
		if (n >= max)
			return bad(sc, what);
		dst[n++] = upper && c >= 'a' && c <= 'z' ? (char)(c - 32) : (char)c;
		sc->pos++;
	}
	dst[n] = '\0';
	if (n == 0)
		return bad(sc, what);
	return STEP_OK;
}

static bool name_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	    c == '-' || c == '.' || c == '_';
}

static enum step command(struct scan *sc)
{
	struct front_cmd *c = sc->cmd;
	char tag[FRONT_TAG_MAX + 1];
	enum step st;

	if ((st = word(sc, tag_char, tag, FRONT_TAG_MAX, false, "bad tag")) != STEP_OK)
		return st;
	if (!have(sc, &st))
		return st;
	memcpy(c->tag, tag, sizeof(tag));
	if (sc->b[sc->pos] != ' ')
		return bad(sc, "a space must follow the tag");
	sc->pos++;
	if ((st = word(sc, name_char, c->name, FRONT_NAME_MAX, true, "bad command name")) != STEP_OK)
		return st;
	for (;;) {
		if (!have(sc, &st))
			return st;
		unsigned char b = sc->b[sc->pos];
		if (b == '\r' || b == '\n')
			break;
		if (b != ' ')
			return bad(sc, "bad argument");
		sc->pos++;
		if (!have(sc, &st))
			return st;
		if ((st = argument(sc, true)) != STEP_OK)
			return st;
	}
	if ((st = line_end(sc, "bad line end")) != STEP_OK)
		return st;
	sc->consumed = sc->pos;
	sc->res = FRONT_PARSE_OK;
	return STEP_STOP;
}

enum front_parse_result front_parse(const char *buf, size_t len, struct front_cmd *cmd,
    size_t *consumed)
{
	struct scan sc = {
		.b = (const unsigned char *)buf, .len = len,
		.lim = len < FRONT_CMD_MAX ? len : FRONT_CMD_MAX, .cmd = cmd,
	};
	cmd->tag[0] = cmd->name[0] = cmd->error[0] = '\0';
	cmd->nargs = cmd->ntop = cmd->n_sync = cmd->used = 0;
	cmd->need = 0;
	command(&sc);
	*consumed = sc.res == FRONT_PARSE_OK || sc.res == FRONT_PARSE_BAD ? sc.consumed : 0;
	return sc.res;
}

const struct front_arg *front_cmd_arg(const struct front_cmd *cmd, size_t i)
{
	for (size_t k = 0; k < cmd->nargs; k++) {
		if (!cmd->args[k].top)
			continue;
		if (i-- == 0)
			return &cmd->args[k];
	}
	return NULL;
}

void front_cmd_wipe(struct front_cmd *cmd)
{
	OPENSSL_cleanse(cmd, sizeof(*cmd));
}
