/* imap/format.h — building one IMAP command, argument by argument, with the
 * quoting decided here and nowhere else.
 *
 * Contract:
 *  - imap_cmd_init starts "TAG"; each call appends one argument preceded by
 *    a space (none right after "("); imap_cmd_end appends CRLF.
 *  - Strings (imap_cmd_astring / imap_cmd_string) are sent as an atom when
 *    every octet is an ASTRING-CHAR (astring only, and never "NIL"), as a
 *    quoted string when printable 7-bit ASCII up to IMAP_QUOTED_MAX octets
 *    (with \ and " escaped), and otherwise as a literal: "{n+}" when the
 *    server offers LITERAL+ (or LITERAL- and n <= 4096), else "{n}" followed
 *    by a sync point where the sender must wait for the server's "+".
 *  - CR, LF and NUL are refused in every argument (strings, atoms, flags,
 *    raw text): the command fails and must not be sent.
 *  - Failure is sticky: after the first error every call does nothing and
 *    imap_cmd_end returns -1; c->error says why. A command longer than
 *    IMAP_CMD_MAX or with more than IMAP_CMD_SYNC_MAX sync points fails.
 *  - The finished command is buf[0..len); sync[0..nsync) are offsets into it:
 *    send up to sync[i], wait for a continuation, go on.
 */
#ifndef IMAP_FORMAT_H
#define IMAP_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/limits.h"
#include "imap/uidset.h"

struct imap_cmd {
	char buf[IMAP_CMD_MAX];
	size_t len;
	size_t sync[IMAP_CMD_SYNC_MAX];
	size_t nsync;
	bool literal_plus;   /* server offers LITERAL+ */
	bool literal_minus;  /* server offers LITERAL- */
	const char *error;   /* NULL while all is well */
};

void imap_cmd_init(struct imap_cmd *c, const char *tag, bool literal_plus,
    bool literal_minus);
/* A keyword or other fixed atom ("UID", "FETCH", "\Seen" is not an atom:
 * use imap_cmd_flag). Refused unless every octet is an ATOM-CHAR. */
int imap_cmd_atom(struct imap_cmd *c, const char *atom);
/* Text from the library itself, e.g. "(UID RFC822.SIZE FLAGS)" or
 * "BODY.PEEK[]<0.100>"; only printable ASCII is accepted. */
int imap_cmd_raw(struct imap_cmd *c, const char *text);
/* astring: atom, quoted string or literal (mailbox names, user names,
 * passwords, header field names, search strings). */
int imap_cmd_astring(struct imap_cmd *c, const char *s, size_t len);
/* string: quoted string or literal, never an atom (ID values). */
int imap_cmd_string(struct imap_cmd *c, const char *s, size_t len);
int imap_cmd_number(struct imap_cmd *c, uint64_t n);
/* A flag: a system flag ("\Seen", "\Deleted", "\Answered", "\Flagged",
 * "\Draft") or a keyword atom ("$Forwarded", "$POP3Deleted"). */
int imap_cmd_flag(struct imap_cmd *c, const char *flag);
/* UID set ranges [*pos, set->n), at most max octets of it; advances *pos.
 * Fails if not even one range could be added. */
int imap_cmd_uidset(struct imap_cmd *c, const struct imap_uidset *set, size_t *pos,
    size_t max);
void imap_cmd_list_open(struct imap_cmd *c);   /* " (" */
void imap_cmd_list_close(struct imap_cmd *c);  /* ")" */
/* A line of its own after a sync point (AUTHENTICATE continuation data):
 * CRLF, sync point, then text (printable ASCII). */
int imap_cmd_continuation(struct imap_cmd *c, const char *text);
int imap_cmd_end(struct imap_cmd *c);

/* True when every octet of s[0..len) is an ATOM-CHAR (len > 0). */
bool imap_is_atom(const char *s, size_t len);

#endif
