/* imap/parser.c — the incremental response parser (see parser.h).
 *
 * A response is read as segments: the text up to a line end. A segment that
 * ends in "{n}" is followed by a literal of n octets and then by another
 * segment continuing the same response. Each segment is tokenised as soon as
 * it is complete, onto a stack of arguments; a closing ')' moves the list's
 * elements into the arena. So no token ever spans two feeds' worth of
 * partial input, and the recursive structure never needs more than the
 * stack of open-list positions.
 */
#include "imap/parser.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/limits.h"

#define ARENA_BLOCK ((size_t)16 << 10)

struct arena_block {
	struct arena_block *next;
	size_t size, used;
	/* data follows, aligned */
	max_align_t data[];
};

enum phase {
	PH_LINE,      /* reading a segment */
	PH_LITERAL,   /* reading a kept literal */
	PH_STREAM,    /* passing a body literal through */
	PH_STREAM_END,/* stream complete: STREAM_END not yet reported */
	PH_FAILED,
};

enum tok_end {
	TOK_EOL,      /* the segment ended */
	TOK_LITERAL,  /* the segment ended in a literal header */
	TOK_CODE_END, /* ']' at depth 0 in a response code */
	TOK_ERROR,
};

struct imap_parser {
	struct imap_parser_limits lim;
	enum phase phase;

	char *line;            /* the current segment */
	size_t line_len, line_cap;

	bool in_response;      /* the head of a response has been parsed */
	bool done;             /* a response was reported: clear on next feed */
	size_t resp_bytes;     /* segments and kept literals so far */
	struct imap_response resp;

	struct arena_block *arena;

	struct imap_arg *stack;
	size_t sp, stack_cap;
	size_t *open;          /* stack index where each open list starts */
	size_t depth;
	size_t nargs;

	uint64_t lit_size, lit_got;  /* kept or streamed literal */
	char *lit_buf;
	uint32_t stream_msn, stream_uid;
	const char *stream_section;

	char error[160];
};

/* ---- memory ------------------------------------------------------------ */

/* n octets aligned to align (a power of two). */
static void *arena_alloc_aligned(struct imap_parser *p, size_t n, size_t align)
{
	struct arena_block *b = p->arena;
	if (b)
		b->used = (b->used + align - 1) & ~(align - 1);
	if (n == 0)
		n = 1;
	if (!b || b->used > b->size || b->size - b->used < n) {
		size_t size = n > ARENA_BLOCK ? n : ARENA_BLOCK;
		b = malloc(sizeof(*b) + size);
		if (!b)
			return NULL;
		b->size = size;
		b->used = 0;
		b->next = p->arena;
		p->arena = b;
	}
	void *r = (char *)b->data + b->used;
	b->used += n;
	return r;
}

/* Memory for argument arrays. */
static void *arena_alloc(struct imap_parser *p, size_t n)
{
	return arena_alloc_aligned(p, n, sizeof(max_align_t));
}

/* Memory for strings: no alignment, so short atoms cost their length. */
static char *arena_chars(struct imap_parser *p, size_t n)
{
	return arena_alloc_aligned(p, n, 1);
}

/* Free every block but one of the standard size, which is kept for reuse. */
static void arena_reset(struct imap_parser *p)
{
	struct arena_block *keep = NULL, *b = p->arena;
	while (b) {
		struct arena_block *next = b->next;
		if (!keep && b->size == ARENA_BLOCK) {
			keep = b;
			keep->next = NULL;
			keep->used = 0;
		} else {
			free(b);
		}
		b = next;
	}
	p->arena = keep;
}

static char *arena_strndup(struct imap_parser *p, const char *s, size_t n)
{
	char *r = arena_chars(p, n + 1);
	if (r) {
		memcpy(r, s, n);
		r[n] = '\0';
	}
	return r;
}

/* ---- failure ----------------------------------------------------------- */

static enum imap_parse_status fail(struct imap_parser *p, struct imap_parse_event *ev,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static enum imap_parse_status fail(struct imap_parser *p, struct imap_parse_event *ev,
    const char *fmt, ...)
{
	if (p->phase != PH_FAILED) {
		char msg[sizeof(p->error)];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		memcpy(p->error, msg, sizeof(msg));
		p->phase = PH_FAILED;
	}
	ev->error = p->error;
	return IMAP_PARSE_ERROR;
}

/* Set p->error without changing phase; the caller then calls fail(). */
static void set_error(struct imap_parser *p, const char *msg)
{
	if (p->error[0] == '\0')
		snprintf(p->error, sizeof(p->error), "%s", msg);
}

/* ---- limits ------------------------------------------------------------ */

void imap_parser_default_limits(struct imap_parser_limits *lim)
{
	lim->line_max = IMAP_LINE_MAX;
	lim->literal_max = IMAP_LITERAL_MAX;
	lim->response_max = IMAP_RESPONSE_MAX;
	lim->args_max = IMAP_ARGS_MAX;
	lim->depth_max = IMAP_DEPTH_MAX;
	lim->text_max = IMAP_TEXT_MAX;
	lim->stream_max = IMAP_STREAM_MAX;
}

/* ---- life cycle -------------------------------------------------------- */

struct imap_parser *imap_parser_new(const struct imap_parser_limits *lim)
{
	struct imap_parser *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	if (lim)
		p->lim = *lim;
	else
		imap_parser_default_limits(&p->lim);
	if (p->lim.depth_max == 0)
		p->lim.depth_max = 1;
	p->open = calloc(p->lim.depth_max + 1, sizeof(*p->open));
	if (!p->open) {
		free(p);
		return NULL;
	}
	return p;
}

static void clear_response(struct imap_parser *p)
{
	arena_reset(p);
	memset(&p->resp, 0, sizeof(p->resp));
	p->in_response = false;
	p->done = false;
	p->resp_bytes = 0;
	p->sp = 0;
	p->depth = 0;
	p->nargs = 0;
	p->lit_buf = NULL;
	p->stream_section = NULL;
	/* Give back a line buffer that a huge line grew. */
	if (p->line_cap > ((size_t)64 << 10)) {
		free(p->line);
		p->line = NULL;
		p->line_cap = 0;
	}
	if (p->stack_cap > 4096) {
		free(p->stack);
		p->stack = NULL;
		p->stack_cap = 0;
	}
}

void imap_parser_reset(struct imap_parser *p)
{
	clear_response(p);
	p->line_len = 0;
	p->phase = PH_LINE;
	p->error[0] = '\0';
}

void imap_parser_free(struct imap_parser *p)
{
	if (!p)
		return;
	clear_response(p);
	free(p->arena);
	free(p->line);
	free(p->stack);
	free(p->open);
	free(p);
}

bool imap_parser_streaming(const struct imap_parser *p)
{
	return p->phase == PH_STREAM || p->phase == PH_STREAM_END;
}

bool imap_parser_between(const struct imap_parser *p)
{
	return p->phase == PH_LINE && p->line_len == 0 && (!p->in_response || p->done);
}

/* ---- argument stack ---------------------------------------------------- */

static struct imap_arg *push(struct imap_parser *p)
{
	if (p->nargs >= p->lim.args_max) {
		set_error(p, "too many arguments in one response");
		return NULL;
	}
	if (p->sp == p->stack_cap) {
		size_t cap = p->stack_cap ? p->stack_cap * 2 : 64;
		struct imap_arg *s = realloc(p->stack, cap * sizeof(*s));
		if (!s) {
			set_error(p, "out of memory");
			return NULL;
		}
		p->stack = s;
		p->stack_cap = cap;
	}
	p->nargs++;
	struct imap_arg *a = &p->stack[p->sp++];
	memset(a, 0, sizeof(*a));
	return a;
}

/* Move stack[from, sp) into the arena; *out and *n describe it. */
static int collapse(struct imap_parser *p, size_t from, const struct imap_arg **out,
    size_t *n)
{
	size_t count = p->sp - from;
	struct imap_arg *list = arena_alloc(p, count * sizeof(*list));
	if (!list) {
		set_error(p, "out of memory");
		return -1;
	}
	if (count)
		memcpy(list, p->stack + from, count * sizeof(*list));
	p->sp = from;
	*out = list;
	*n = count;
	return 0;
}

/* ---- tokeniser --------------------------------------------------------- */

static bool is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* Ends an atom (outside brackets). */
static bool atom_stop(unsigned char c, bool code)
{
	return c == ' ' || c == '(' || c == ')' || c == '"' || c == '{' ||
	    is_ctl(c) || (code && c == ']');
}

static bool body_section_key(const char *k)
{
	return strncasecmp(k, "BODY[", 5) == 0 || strncasecmp(k, "BINARY[", 7) == 0 ||
	    strcasecmp(k, "RFC822") == 0 || strcasecmp(k, "RFC822.HEADER") == 0 ||
	    strcasecmp(k, "RFC822.TEXT") == 0;
}

/* Tokenise s[*pos, n). On TOK_LITERAL, *lit holds the announced size. */
static enum tok_end tokenise(struct imap_parser *p, const char *s, size_t n, size_t *pos,
    bool code, uint64_t *lit)
{
	size_t i = *pos;
	for (;;) {
		while (i < n && s[i] == ' ')
			i++;
		if (i >= n) {
			*pos = i;
			return TOK_EOL;
		}
		unsigned char c = (unsigned char)s[i];
		if (c == '(') {
			if (p->depth >= p->lim.depth_max) {
				set_error(p, "lists nested too deeply");
				return TOK_ERROR;
			}
			p->open[++p->depth] = p->sp;
			i++;
		} else if (c == ')') {
			if (p->depth == 0) {
				set_error(p, "unbalanced ')'");
				return TOK_ERROR;
			}
			const struct imap_arg *list;
			size_t count;
			if (collapse(p, p->open[p->depth--], &list, &count) < 0)
				return TOK_ERROR;
			struct imap_arg *a = push(p);
			if (!a)
				return TOK_ERROR;
			a->type = IMAP_ARG_LIST;
			a->len = count;
			a->u.list = list;
			i++;
		} else if (c == ']' && code && p->depth == 0) {
			*pos = i + 1;
			return TOK_CODE_END;
		} else if (c == '"') {
			size_t j = i + 1, out = 0;
			char *str;
			/* First pass: find the end and the decoded length. */
			for (;;) {
				if (j >= n) {
					set_error(p, "quoted string not terminated");
					return TOK_ERROR;
				}
				if (s[j] == '\0') {
					set_error(p, "NUL in a quoted string");
					return TOK_ERROR;
				}
				if (s[j] == '"')
					break;
				if (s[j] == '\\') {
					if (j + 1 >= n) {
						set_error(p, "quoted string not terminated");
						return TOK_ERROR;
					}
					if (s[j + 1] == '\0') {
						set_error(p, "NUL in a quoted string");
						return TOK_ERROR;
					}
					j++;
				}
				j++;
				out++;
			}
			str = arena_chars(p, out + 1);
			struct imap_arg *a = str ? push(p) : NULL;
			if (!a) {
				set_error(p, "out of memory");
				return TOK_ERROR;
			}
			out = 0;
			for (size_t k = i + 1; k < j; k++) {
				if (s[k] == '\\')
					k++;
				str[out++] = s[k];
			}
			str[out] = '\0';
			a->type = IMAP_ARG_STRING;
			a->len = out;
			a->u.str = str;
			i = j + 1;
		} else if (c == '{') {
			size_t j = i + 1;
			while (j < n && s[j] >= '0' && s[j] <= '9')
				j++;
			if (j >= n || s[j] != '}' || j + 1 != n || j == i + 1) {
				set_error(p, "malformed literal");
				return TOK_ERROR;
			}
			if (imap_parse_number(s + i + 1, j - i - 1, INT64_MAX, lit) < 0) {
				set_error(p, "literal size out of range");
				return TOK_ERROR;
			}
			if (code) {
				set_error(p, "literal in a response code");
				return TOK_ERROR;
			}
			*pos = n;
			return TOK_LITERAL;
		} else if (is_ctl(c)) {
			set_error(p, c == 0 ? "NUL in a response" : "control character in a response");
			return TOK_ERROR;
		} else {
			size_t j = i;
			while (j < n) {
				unsigned char d = (unsigned char)s[j];
				if (d == '[') {
					/* BODY[HEADER.FIELDS (A B)]: through the ']' */
					while (j < n && s[j] != ']' && !is_ctl((unsigned char)s[j]))
						j++;
					if (j >= n || s[j] != ']') {
						set_error(p, "unterminated '[' in an atom");
						return TOK_ERROR;
					}
					j++;
					continue;
				}
				if (atom_stop(d, code))
					break;
				j++;
			}
			if (j == i) {
				set_error(p, "unexpected character");
				return TOK_ERROR;
			}
			struct imap_arg *a = push(p);
			if (!a)
				return TOK_ERROR;
			if (j - i == 3 && strncasecmp(s + i, "NIL", 3) == 0) {
				a->type = IMAP_ARG_NIL;
			} else {
				a->type = IMAP_ARG_ATOM;
				a->len = j - i;
				a->u.str = arena_strndup(p, s + i, j - i);
				if (!a->u.str) {
					set_error(p, "out of memory");
					return TOK_ERROR;
				}
			}
			i = j;
		}
	}
}

/* ---- heads ------------------------------------------------------------- */

static size_t word_len(const char *s, size_t n, size_t from)
{
	size_t j = from;
	while (j < n && s[j] != ' ')
		j++;
	return j - from;
}

static char *upper_dup(struct imap_parser *p, const char *s, size_t n)
{
	char *r = arena_strndup(p, s, n);
	if (r)
		for (size_t i = 0; i < n; i++)
			if (r[i] >= 'a' && r[i] <= 'z')
				r[i] = (char)(r[i] - 'a' + 'A');
	return r;
}

static enum imap_cond cond_lookup(const char *s, size_t n)
{
	static const struct { const char *name; enum imap_cond cond; } t[] = {
		{ "OK", IMAP_COND_OK }, { "NO", IMAP_COND_NO }, { "BAD", IMAP_COND_BAD },
		{ "PREAUTH", IMAP_COND_PREAUTH }, { "BYE", IMAP_COND_BYE },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strlen(t[i].name) == n && strncasecmp(t[i].name, s, n) == 0)
			return t[i].cond;
	return IMAP_COND_NONE;
}

static int set_text(struct imap_parser *p, const char *s, size_t n)
{
	size_t cap = p->lim.text_max + 1;
	char *t = arena_chars(p, cap);
	if (!t) {
		set_error(p, "out of memory");
		return -1;
	}
	imap_sanitize(t, cap, s, n);
	p->resp.text = t;
	return 0;
}

/* resp-text: ["[" code [SP args] "]" SP] text, from s[i, n). */
static int parse_resp_text(struct imap_parser *p, const char *s, size_t n, size_t i)
{
	if (i < n && s[i] == '[') {
		size_t j = i + 1;
		while (j < n && s[j] != ' ' && s[j] != ']' && !is_ctl((unsigned char)s[j]))
			j++;
		const char *close = memchr(s + i, ']', n - i);
		if (j > i + 1 && j < n && close) {
			p->resp.code = imap_code_lookup(s + i + 1, j - i - 1);
			p->resp.code_name = upper_dup(p, s + i + 1, j - i - 1);
			if (!p->resp.code_name) {
				set_error(p, "out of memory");
				return -1;
			}
			size_t k = j;
			bool parsed = false;
			if (s[j] == ']') {
				k = j + 1;
				parsed = true;
			} else {
				/* Arguments; unparseable ones are kept as nothing. */
				size_t save_sp = p->sp, save_nargs = p->nargs;
				uint64_t lit;
				size_t pos = j + 1;
				char saved_error[sizeof(p->error)];
				memcpy(saved_error, p->error, sizeof(saved_error));
				if (tokenise(p, s, n, &pos, true, &lit) == TOK_CODE_END &&
				    p->depth == 0) {
					if (collapse(p, save_sp, &p->resp.code_args,
					    &p->resp.code_nargs) < 0)
						return -1;
					k = pos;
					parsed = true;
				} else {
					memcpy(p->error, saved_error, sizeof(saved_error));
					p->sp = save_sp;
					p->nargs = save_nargs;
					p->depth = 0;
					k = (size_t)(close - s) + 1;
					parsed = true;
				}
			}
			if (parsed) {
				i = k;
				if (i < n && s[i] == ' ')
					i++;
			}
		}
	}
	return set_text(p, s + i, n - i);
}

enum head_result { HEAD_DONE, HEAD_ARGS, HEAD_ERROR };

/* Parse the first segment's head; for data responses *pos is where the
 * arguments start. */
static enum head_result parse_head(struct imap_parser *p, const char *s, size_t n,
    size_t *pos)
{
	struct imap_response *r = &p->resp;
	if (n >= 1 && s[0] == '+') {
		r->type = IMAP_RESP_CONTINUATION;
		size_t i = (n >= 2 && s[1] == ' ') ? 2 : 1;
		return set_text(p, s + i, n - i) < 0 ? HEAD_ERROR : HEAD_DONE;
	}
	if (n >= 2 && s[0] == '*' && s[1] == ' ') {
		r->type = IMAP_RESP_UNTAGGED;
		size_t i = 2;
		size_t w = word_len(s, n, i);
		if (w == 0) {
			set_error(p, "empty untagged response");
			return HEAD_ERROR;
		}
		if (s[i] >= '0' && s[i] <= '9') {
			uint64_t v;
			if (imap_parse_number(s + i, w, UINT32_MAX, &v) < 0) {
				set_error(p, "bad message number");
				return HEAD_ERROR;
			}
			r->has_number = true;
			r->number = (uint32_t)v;
			i += w;
			if (i >= n || s[i] != ' ') {
				set_error(p, "number without a response name");
				return HEAD_ERROR;
			}
			i++;
			w = word_len(s, n, i);
			if (w == 0) {
				set_error(p, "number without a response name");
				return HEAD_ERROR;
			}
		} else {
			r->cond = cond_lookup(s + i, w);
			if (r->cond != IMAP_COND_NONE) {
				i += w;
				if (i < n && s[i] == ' ')
					i++;
				return parse_resp_text(p, s, n, i) < 0 ? HEAD_ERROR : HEAD_DONE;
			}
		}
		for (size_t k = i; k < i + w; k++) {
			unsigned char c = (unsigned char)s[k];
			if (is_ctl(c) || c == '(' || c == ')' || c == '"' || c == '{' || c == '[') {
				set_error(p, "bad response name");
				return HEAD_ERROR;
			}
		}
		r->name = upper_dup(p, s + i, w);
		if (!r->name) {
			set_error(p, "out of memory");
			return HEAD_ERROR;
		}
		*pos = i + w;
		return HEAD_ARGS;
	}
	/* Tagged. */
	r->type = IMAP_RESP_TAGGED;
	size_t w = word_len(s, n, 0);
	if (w == 0 || w > IMAP_TAG_MAX) {
		set_error(p, "bad tag");
		return HEAD_ERROR;
	}
	for (size_t k = 0; k < w; k++) {
		unsigned char c = (unsigned char)s[k];
		if (atom_stop(c, false) || c == '+' || c == '*' || c == '%' || c == '\\') {
			set_error(p, "bad tag");
			return HEAD_ERROR;
		}
	}
	r->tag = arena_strndup(p, s, w);
	if (!r->tag) {
		set_error(p, "out of memory");
		return HEAD_ERROR;
	}
	if (w >= n) {
		set_error(p, "tagged response without a status");
		return HEAD_ERROR;
	}
	size_t i = w + 1;
	size_t cw = word_len(s, n, i);
	r->cond = cond_lookup(s + i, cw);
	if (r->cond != IMAP_COND_OK && r->cond != IMAP_COND_NO && r->cond != IMAP_COND_BAD) {
		set_error(p, "tagged response without OK, NO or BAD");
		return HEAD_ERROR;
	}
	i += cw;
	if (i < n && s[i] == ' ')
		i++;
	return parse_resp_text(p, s, n, i) < 0 ? HEAD_ERROR : HEAD_DONE;
}

/* ---- literals ---------------------------------------------------------- */

/* The literal just announced is the value of a body section in the FETCH
 * list: stream it. */
static bool literal_is_body(struct imap_parser *p)
{
	const struct imap_response *r = &p->resp;
	if (!r->name || !r->has_number || strcmp(r->name, "FETCH") != 0 || p->depth != 1)
		return false;
	size_t start = p->open[1];
	size_t count = p->sp - start;
	if (count == 0 || count % 2 != 1)
		return false;
	const struct imap_arg *key = &p->stack[p->sp - 1];
	return key->type == IMAP_ARG_ATOM && body_section_key(key->u.str);
}

static uint32_t fetch_uid_so_far(struct imap_parser *p)
{
	uint32_t uid;
	for (size_t k = p->open[1]; k + 1 < p->sp; k += 2)
		if (imap_arg_is_atom(&p->stack[k], "UID") &&
		    imap_arg_number32(&p->stack[k + 1], &uid) == 0)
			return uid;
	return 0;
}

static void fill_stream(struct imap_parser *p, struct imap_parse_event *ev)
{
	ev->msn = p->stream_msn;
	ev->uid = p->stream_uid;
	ev->section = p->stream_section;
	ev->size = p->lit_size;
}

static enum imap_parse_status start_literal(struct imap_parser *p, uint64_t size,
    struct imap_parse_event *ev)
{
	p->lit_size = size;
	p->lit_got = 0;
	if (literal_is_body(p)) {
		if (size > p->lim.stream_max)
			return fail(p, ev, "body literal of %llu octets is over the limit",
			    (unsigned long long)size);
		p->stream_msn = p->resp.number;
		p->stream_uid = fetch_uid_so_far(p);
		p->stream_section = p->stack[p->sp - 1].u.str;
		struct imap_arg *a = push(p);
		if (!a)
			return fail(p, ev, "%s", p->error);
		a->type = IMAP_ARG_STREAMED;
		a->u.size = size;
		p->phase = size ? PH_STREAM : PH_STREAM_END;
		fill_stream(p, ev);
		return IMAP_PARSE_STREAM_BEGIN;
	}
	if (size > p->lim.literal_max)
		return fail(p, ev, "literal of %llu octets is over the limit",
		    (unsigned long long)size);
	if (p->resp_bytes + size > p->lim.response_max)
		return fail(p, ev, "response over %zu octets", p->lim.response_max);
	p->resp_bytes += size;
	p->lit_buf = arena_chars(p, (size_t)size + 1);
	if (!p->lit_buf)
		return fail(p, ev, "out of memory");
	p->phase = PH_LITERAL;
	return IMAP_PARSE_NEED_MORE;  /* not reported: the caller loops */
}

static int finish_kept_literal(struct imap_parser *p)
{
	size_t n = (size_t)p->lit_size;
	if (memchr(p->lit_buf, '\0', n)) {
		set_error(p, "NUL in a literal");
		return -1;
	}
	p->lit_buf[n] = '\0';
	struct imap_arg *a = push(p);
	if (!a)
		return -1;
	a->type = IMAP_ARG_STRING;
	a->len = n;
	a->u.str = p->lit_buf;
	p->lit_buf = NULL;
	p->phase = PH_LINE;
	return 0;
}

/* ---- segments ---------------------------------------------------------- */

/* A whole segment is in p->line. Returns RESPONSE, STREAM_BEGIN, ERROR, or
 * NEED_MORE when a literal follows (phase changed). */
static enum imap_parse_status process_segment(struct imap_parser *p,
    struct imap_parse_event *ev)
{
	const char *s = p->line;
	size_t n = p->line_len;
	size_t pos = 0;
	uint64_t lit = 0;

	p->resp_bytes += n;
	if (p->resp_bytes > p->lim.response_max)
		return fail(p, ev, "response over %zu octets", p->lim.response_max);
	if (!p->in_response) {
		p->in_response = true;
		switch (parse_head(p, s, n, &pos)) {
		case HEAD_ERROR:
			return fail(p, ev, "%s", p->error);
		case HEAD_DONE:
			p->line_len = 0;
			p->done = true;
			ev->resp = &p->resp;
			return IMAP_PARSE_RESPONSE;
		case HEAD_ARGS:
			break;
		}
	}
	enum tok_end t = tokenise(p, s, n, &pos, false, &lit);
	p->line_len = 0;
	switch (t) {
	case TOK_ERROR:
	case TOK_CODE_END:
		return fail(p, ev, "%s", p->error[0] ? p->error : "bad response");
	case TOK_LITERAL:
		return start_literal(p, lit, ev);
	case TOK_EOL:
		break;
	}
	if (p->depth != 0)
		return fail(p, ev, "response ends inside a list");
	if (collapse(p, 0, &p->resp.args, &p->resp.nargs) < 0)
		return fail(p, ev, "%s", p->error);
	p->done = true;
	ev->resp = &p->resp;
	return IMAP_PARSE_RESPONSE;
}

enum imap_parse_status imap_parser_feed(struct imap_parser *p, const void *vbuf,
    size_t len, size_t *used, struct imap_parse_event *ev)
{
	const char *buf = vbuf;
	size_t off = 0;
	enum imap_parse_status st;

	memset(ev, 0, sizeof(*ev));
	*used = 0;
	if (p->phase == PH_FAILED) {
		ev->error = p->error;
		return IMAP_PARSE_ERROR;
	}
	if (p->done)
		clear_response(p);

	for (;;) {
		switch (p->phase) {
		case PH_FAILED:
			*used = off;
			ev->error = p->error;
			return IMAP_PARSE_ERROR;
		case PH_STREAM: {
			uint64_t left = p->lit_size - p->lit_got;
			size_t n = len - off;
			if (n == 0) {
				*used = off;
				return IMAP_PARSE_NEED_MORE;
			}
			if (n > left)
				n = (size_t)left;
			p->lit_got += n;
			if (p->lit_got == p->lit_size)
				p->phase = PH_STREAM_END;
			fill_stream(p, ev);
			ev->data = buf + off;
			ev->len = n;
			*used = off + n;
			return IMAP_PARSE_STREAM_DATA;
		}
		case PH_STREAM_END:
			p->phase = PH_LINE;
			fill_stream(p, ev);
			*used = off;
			return IMAP_PARSE_STREAM_END;
		case PH_LITERAL: {
			uint64_t left = p->lit_size - p->lit_got;
			size_t n = len - off;
			if (n > left)
				n = (size_t)left;
			if (n)
				memcpy(p->lit_buf + p->lit_got, buf + off, n);
			p->lit_got += n;
			off += n;
			if (p->lit_got < p->lit_size) {
				*used = off;
				return IMAP_PARSE_NEED_MORE;
			}
			if (finish_kept_literal(p) < 0) {
				*used = off;
				return fail(p, ev, "%s", p->error);
			}
			break;
		}
		case PH_LINE: {
			if (off == len) {
				*used = off;
				return IMAP_PARSE_NEED_MORE;
			}
			const char *nl = memchr(buf + off, '\n', len - off);
			size_t n = nl ? (size_t)(nl - (buf + off)) : len - off;
			if (p->line_len + n > p->lim.line_max) {
				*used = off;
				return fail(p, ev, "line longer than %zu octets", p->lim.line_max);
			}
			if (p->line_len + n + 1 > p->line_cap) {
				size_t cap = p->line_cap ? p->line_cap : 256;
				while (cap < p->line_len + n + 1)
					cap *= 2;
				if (cap > p->lim.line_max + 1)
					cap = p->lim.line_max + 1;
				char *l = realloc(p->line, cap);
				if (!l) {
					*used = off;
					return fail(p, ev, "out of memory");
				}
				p->line = l;
				p->line_cap = cap;
			}
			memcpy(p->line + p->line_len, buf + off, n);
			p->line_len += n;
			off += n;
			if (!nl) {
				*used = off;
				return IMAP_PARSE_NEED_MORE;
			}
			off++;  /* the LF */
			if (p->line_len > 0 && p->line[p->line_len - 1] == '\r')
				p->line_len--;
			p->line[p->line_len] = '\0';
			st = process_segment(p, ev);
			if (st != IMAP_PARSE_NEED_MORE) {
				*used = off;
				return st;
			}
			break;
		}
		}
	}
}
