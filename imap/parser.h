/* imap/parser.h — an incremental, bounded parser of IMAP server responses
 * working on buffers, never on sockets.
 *
 * Contract:
 *  - The caller feeds bytes as they arrive, in pieces of any size (one byte
 *    at a time gives the same results as one big buffer). imap_parser_feed()
 *    consumes some of them (*used) and reports one event: NEED_MORE (every
 *    byte given was consumed and kept; feed more), RESPONSE (a complete
 *    response), STREAM_BEGIN / STREAM_DATA / STREAM_END (a FETCH body section
 *    being passed through), or ERROR. After RESPONSE or a STREAM_* event the
 *    caller feeds the unconsumed rest again.
 *  - Body sections of an untagged FETCH — the literal value of BODY[...],
 *    BINARY[...], RFC822, RFC822.HEADER or RFC822.TEXT — are never kept:
 *    STREAM_BEGIN announces one (message number, section name, octets, the
 *    UID when it came earlier in the response), STREAM_DATA events point
 *    into the caller's own buffer (zero copy) until the announced size has
 *    passed, STREAM_END closes it, and the FETCH is later reported as a
 *    RESPONSE in which that value is an IMAP_ARG_STREAMED argument.
 *    A streamed literal may be up to limits.stream_max octets.
 *  - Every other literal is kept; one larger than limits.literal_max is an
 *    ERROR before anything is allocated. Lines longer than line_max, responses
 *    larger than response_max, more than args_max arguments, lists nested
 *    deeper than depth_max, a number that is not a number or is out of range
 *    (message numbers and UIDs are 1..2^32-1, literal sizes at most 2^63-1
 *    and then the limits above), NUL in a quoted string or kept literal, a
 *    quoted string that does not end before the line does, an unbalanced
 *    ')' and a malformed status line are ERRORs.
 *  - After ERROR the parser stays failed (every later feed returns ERROR with
 *    the same message) until imap_parser_reset(): framing is lost and the
 *    connection must be closed.
 *  - Status responses (OK, NO, BAD, PREAUTH, BYE) never contain literals: a
 *    "{5}" at the end of their text is text. Their response code is parsed
 *    (code, name, arguments) and their text sanitised to printable ASCII and
 *    cut at limits.text_max octets.
 *  - Pointers in an event (response, arguments, strings, error, stream data)
 *    are valid until the next call of feed/reset/free on the same parser.
 *  - Lines end in CRLF; a bare LF is accepted as a line end too.
 *  - One parser per connection; not thread-safe.
 */
#ifndef IMAP_PARSER_H
#define IMAP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum imap_arg_type {
	IMAP_ARG_ATOM,      /* atom or number, as sent (e.g. "UID", "42", "\Seen",
	                       "BODY[HEADER.FIELDS (DATE)]<0>") */
	IMAP_ARG_STRING,    /* quoted string (unescaped) or kept literal */
	IMAP_ARG_NIL,       /* NIL */
	IMAP_ARG_LIST,      /* parenthesised list */
	IMAP_ARG_STREAMED,  /* a FETCH body section already passed on as
	                       STREAM_* events; size in u.size */
};

struct imap_arg {
	enum imap_arg_type type;
	size_t len;  /* ATOM/STRING: octets (str is also NUL-terminated);
	                LIST: number of elements */
	union {
		const char *str;              /* ATOM, STRING */
		const struct imap_arg *list;  /* LIST: len elements */
		uint64_t size;                /* STREAMED */
	} u;
};

enum imap_resp_type {
	IMAP_RESP_UNTAGGED,      /* "* ..." */
	IMAP_RESP_TAGGED,        /* "TAG OK|NO|BAD ..." */
	IMAP_RESP_CONTINUATION,  /* "+ ..." */
};

enum imap_cond {
	IMAP_COND_NONE,  /* a data response ("* 3 EXISTS", "* LIST ...") */
	IMAP_COND_OK,
	IMAP_COND_NO,
	IMAP_COND_BAD,
	IMAP_COND_PREAUTH,
	IMAP_COND_BYE,
};

/* Response codes (RFC 3501, 5530, 4315, 7162, 6154, Gmail). */
enum imap_code {
	IMAP_CODE_NONE,            /* no [code] */
	IMAP_CODE_OTHER,           /* a code not listed here: see code_name */
	IMAP_CODE_ALERT,
	IMAP_CODE_ALREADYEXISTS,
	IMAP_CODE_APPENDUID,
	IMAP_CODE_AUTHENTICATIONFAILED,
	IMAP_CODE_AUTHORIZATIONFAILED,
	IMAP_CODE_BADCHARSET,
	IMAP_CODE_CANNOT,
	IMAP_CODE_CAPABILITY,
	IMAP_CODE_CLIENTBUG,
	IMAP_CODE_CLOSED,
	IMAP_CODE_CONTACTADMIN,
	IMAP_CODE_COPYUID,
	IMAP_CODE_CORRUPTION,
	IMAP_CODE_EXPIRED,
	IMAP_CODE_EXPUNGEISSUED,
	IMAP_CODE_HIGHESTMODSEQ,
	IMAP_CODE_INUSE,
	IMAP_CODE_LIMIT,
	IMAP_CODE_MODIFIED,
	IMAP_CODE_NOMODSEQ,
	IMAP_CODE_NONEXISTENT,
	IMAP_CODE_NOPERM,
	IMAP_CODE_OVERQUOTA,
	IMAP_CODE_PARSE,
	IMAP_CODE_PERMANENTFLAGS,
	IMAP_CODE_PRIVACYREQUIRED,
	IMAP_CODE_READ_ONLY,
	IMAP_CODE_READ_WRITE,
	IMAP_CODE_SERVERBUG,
	IMAP_CODE_THROTTLED,
	IMAP_CODE_TRYCREATE,
	IMAP_CODE_UIDNEXT,
	IMAP_CODE_UIDNOTSTICKY,
	IMAP_CODE_UIDVALIDITY,
	IMAP_CODE_UNAVAILABLE,
	IMAP_CODE_UNSEEN,
	IMAP_CODE_COUNT
};

struct imap_response {
	enum imap_resp_type type;
	const char *tag;        /* TAGGED: the tag; else NULL */
	enum imap_cond cond;    /* status responses; IMAP_COND_NONE for data */

	/* Status responses (cond != NONE) and continuations. */
	enum imap_code code;
	const char *code_name;  /* the code as sent, upper-cased; NULL if none */
	const struct imap_arg *code_args;  /* arguments after the code name */
	size_t code_nargs;
	const char *text;       /* sanitised text (continuation: its text) */

	/* Data responses (untagged, cond == NONE). */
	bool has_number;        /* "* 12 FETCH ...": number 12 */
	uint32_t number;
	const char *name;       /* "FETCH", "EXISTS", "CAPABILITY", "LIST"...,
	                           upper-cased */
	const struct imap_arg *args;  /* everything after the name */
	size_t nargs;
};

enum imap_parse_status {
	IMAP_PARSE_NEED_MORE,
	IMAP_PARSE_RESPONSE,
	IMAP_PARSE_STREAM_BEGIN,
	IMAP_PARSE_STREAM_DATA,
	IMAP_PARSE_STREAM_END,
	IMAP_PARSE_ERROR,
};

struct imap_parse_event {
	const struct imap_response *resp;  /* RESPONSE */
	/* STREAM_BEGIN (and repeated on DATA and END): */
	uint32_t msn;           /* message sequence number of the FETCH */
	uint32_t uid;           /* UID if it preceded the section, else 0 */
	const char *section;    /* the item name, e.g. "BODY[]", "BODY[TEXT]<0>" */
	uint64_t size;          /* octets the literal announced */
	/* STREAM_DATA: */
	const char *data;       /* points into the buffer given to feed() */
	size_t len;
	/* ERROR: */
	const char *error;      /* what was wrong, printable ASCII */
};

struct imap_parser_limits {
	size_t line_max;
	size_t literal_max;
	size_t response_max;
	size_t args_max;
	size_t depth_max;
	size_t text_max;
	uint64_t stream_max;
};

/* The defaults from imap/limits.h. */
void imap_parser_default_limits(struct imap_parser_limits *lim);

/* lim NULL: the defaults. NULL on allocation failure. */
struct imap_parser *imap_parser_new(const struct imap_parser_limits *lim);
void imap_parser_free(struct imap_parser *p);
/* Forget every byte fed so far and any failure (e.g. after STARTTLS). */
void imap_parser_reset(struct imap_parser *p);
/* True between STREAM_BEGIN and STREAM_END. */
bool imap_parser_streaming(const struct imap_parser *p);
/* True between responses: nothing of a next one fed yet, no failure. */
bool imap_parser_between(const struct imap_parser *p);

enum imap_parse_status imap_parser_feed(struct imap_parser *p, const void *buf,
    size_t len, size_t *used, struct imap_parse_event *ev);

/* ---- helpers on parsed arguments --------------------------------------- */

/* ATOM equal to s, ignoring ASCII case. */
bool imap_arg_is_atom(const struct imap_arg *a, const char *s);
/* ATOM of digits only, no sign, no leading '+', value 0..2^32-1 (number32)
 * or 0..2^63-1 (number64). 0 or -1. */
int imap_arg_number32(const struct imap_arg *a, uint32_t *out);
int imap_arg_number64(const struct imap_arg *a, uint64_t *out);
/* astring/nstring: ATOM or STRING gives its text, NIL and anything else NULL. */
const char *imap_arg_string(const struct imap_arg *a);
/* Strict decimal parse of s[0..len): 0 or -1; max is the largest allowed. */
int imap_parse_number(const char *s, size_t len, uint64_t max, uint64_t *out);

/* The canonical name of a code ("AUTHENTICATIONFAILED", "READ-ONLY"). */
const char *imap_code_name(enum imap_code code);
/* Classify a code name (case-insensitive). */
enum imap_code imap_code_lookup(const char *name, size_t len);

/* Copy src[0..len) into dst (capacity cap >= 1) as printable ASCII: bytes
 * outside 0x20..0x7E become '?', and the result is cut at cap-1 octets. */
void imap_sanitize(char *dst, size_t cap, const char *src, size_t len);

#endif
