/* bridge/front/parse.h — the IMAP front's pre-login command parser (SPEC §12):
 * one client command (RFC 9051 §9: tag SP name *(SP argument) CRLF) out of
 * a buffer, never a socket, within fixed bounds.
 *
 * Contract:
 *  - front_parse() parses the command at the start of buf[0, len) and does
 *    not remember anything between calls: the caller keeps the bytes and
 *    calls again with more (splitting the input anywhere gives the same
 *    result as one buffer). Results:
 *      FRONT_PARSE_OK       a whole command in *cmd; *consumed octets (its
 *                           line ends and literals included).
 *      FRONT_PARSE_MORE     incomplete. cmd->n_sync counts the synchronizing
 *                           literals ("{n}") announced so far whose header
 *                           line is complete: each needs the server's "+"
 *                           before the client sends its octets. cmd->need is
 *                           the length buf must reach before another call
 *                           can progress (a literal's end), or len + 1.
 *      FRONT_PARSE_BAD      a syntax error; *consumed runs to the end of the
 *                           line where it was found (LF included), past the
 *                           octets of the literals in it (one that held the
 *                           error, and every non-synchronizing literal
 *                           announced from there on: the client sends them
 *                           unasked), and the session goes on after it; a
 *                           synchronizing literal's announcement ends the
 *                           line (no "+" went for it). cmd->tag is set when
 *                           the tag was read whole ("" otherwise), cmd->error
 *                           says what is wrong.
 *      FRONT_PARSE_TOO_LONG over a bound (FRONT_CMD_MAX octets in all, a
 *                           literal over FRONT_LITERAL_MAX, a bad command's
 *                           included, more than
 *                           FRONT_ARGS_MAX arguments, a tag or command name
 *                           too long): the session is to be closed.
 *  - Arguments: atoms (ASTRING-CHAR octets: any CHAR but atom-specials,
 *    "]" allowed), quoted strings (\" and \\ escapes only; octets 0x80-0xFF
 *    allowed, NUL, CR and LF not), literals {n} and {n+} (any octets but
 *    NUL), NIL (an atom that is NIL, case-insensitive) and one level of
 *    parenthesised list (ID's). Strings are copied, unescaped and
 *    NUL-terminated, into cmd->data; args point there.
 *  - A line ends in CRLF or a bare LF. The command name is upper-cased.
 *  - cmd may hold a password: the caller wipes it (and its own buffer) when
 *    done (front_cmd_wipe).
 */
#ifndef BRIDGE_FRONT_PARSE_H
#define BRIDGE_FRONT_PARSE_H

#include <stdbool.h>
#include <stddef.h>

/* One command with its literals: 8 KiB hold a LOGIN with a 1 KiB user name
 * and password each, or AUTHENTICATE PLAIN with both in its initial
 * response; RFC 2971 would allow an ID list of 30 pairs of 30 + 1024
 * octets, but clients send a few short ones (a longer list is refused). */
#define FRONT_CMD_MAX      8192
/* One literal: a user name or password (pop3/'s bounds are 255 and 1024). */
#define FRONT_LITERAL_MAX  4096
/* Arguments, the elements of a list included (ID: 30 pairs + the list). */
#define FRONT_ARGS_MAX     64
#define FRONT_TAG_MAX      64
#define FRONT_NAME_MAX     32
#define FRONT_ERROR_MAX    80

enum front_parse_result {
	FRONT_PARSE_OK,
	FRONT_PARSE_MORE,
	FRONT_PARSE_BAD,
	FRONT_PARSE_TOO_LONG,
};

enum front_arg_type {
	FRONT_ARG_ATOM,
	FRONT_ARG_STRING,  /* quoted or literal */
	FRONT_ARG_NIL,
	FRONT_ARG_LIST,    /* n: how many of the following args it holds */
};

struct front_arg {
	enum front_arg_type type;
	const char *s;     /* ATOM, STRING: NUL-terminated (a STRING may hold no
	                      NUL: the parser refuses them) */
	size_t len;
	size_t n;          /* LIST */
	bool top;          /* not inside a list */
};

struct front_cmd {
	char tag[FRONT_TAG_MAX + 1];
	char name[FRONT_NAME_MAX + 1];
	struct front_arg args[FRONT_ARGS_MAX];
	size_t nargs;      /* all, list elements included */
	size_t ntop;       /* arguments of the command itself */
	size_t n_sync;
	size_t need;
	char error[FRONT_ERROR_MAX];
	size_t used;       /* of data */
	char data[FRONT_CMD_MAX];
};

enum front_parse_result front_parse(const char *buf, size_t len, struct front_cmd *cmd,
    size_t *consumed);

/* The i-th argument of the command itself (not counting list elements),
 * or NULL. */
const struct front_arg *front_cmd_arg(const struct front_cmd *cmd, size_t i);

/* Wipe cmd (OPENSSL_cleanse): it may hold a password. */
void front_cmd_wipe(struct front_cmd *cmd);

#endif
