/* bridge/migrate/pop3client_parse.h — the POP3 client's reply parser, on buffers
 * (no socket), for `popbridge import-uidls` (bridge/migrate/pop3client.h).
 *
 * Contract:
 *  - Bytes go in with migrate_pop3c_parser_space()/pop3c_parser_added(); events come
 *    out of migrate_pop3c_parser_next() one at a time. The events do not depend on
 *    how the input was split into reads (tested by splitting at every offset).
 *  - Lines end at LF (a CR before it is dropped) and are kept up to
 *    POP3_SASL_LINE_MAX octets (pop3/linereader.h). A reply status line must
 *    start with "+OK" or "-ERR" followed by the end of the line or a space,
 *    or be a SASL continuation ("+" alone or "+ " and base64, RFC 5034);
 *    anything else, a status line that is too long or holds a NUL, is
 *    POP3C_EV_ERROR (and stays so: the connection is not usable any more).
 *  - The caller says, before each reply's status line is parsed, whether
 *    the command was multi-line (migrate_pop3c_parser_expect()); after "+OK" to a
 *    multi-line command the data lines follow as POP3C_EV_DATA (dot-stuffing
 *    undone) until the "." line (POP3C_EV_END). A data line that is too long
 *    or holds a NUL is dropped (POP3C_EV_DROPPED) — the reply goes on. A line
 *    of more than POP3_LINE_HARD_MAX octets is POP3C_EV_ERROR.
 *  - Event text and lines point into the parser and are valid until the next
 *    call on it.
 *  - Line helpers: migrate_pop3c_parse_uidl() (RFC 1939 §7: "N UIDL", N decimal >= 1,
 *    UIDL 1..70 octets 0x21..0x7E, nothing after it but spaces),
 *    migrate_pop3c_parse_list() ("N SIZE").
 *  - Header filter (struct migrate_pop3c_hdr): keeps, of a header block fed line by
 *    line, only the first occurrence of each matchkey field with its
 *    continuation lines, up to POP3C_HDR_MAX octets (beyond: truncated). The
 *    result gives the same maildrop_matchkey_compute() keys as the whole header, and
 *    the same as IMAP's BODY.PEEK[HEADER.FIELDS (...)] of those fields.
 */
#ifndef BRIDGE_MIGRATE_POP3CLIENT_PARSE_H
#define BRIDGE_MIGRATE_POP3CLIENT_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge/maildrop/matchkey.h"
#include "pop3/linereader.h"

#define POP3C_UIDL_MAX  70                  /* RFC 1939 §7 */
#define POP3C_HDR_MAX   ((size_t)16 << 10)  /* = IMAP_HEADER_FIELDS_MAX: the
                                               IMAP side keeps no more */
#define POP3C_TEXT_MAX  200                 /* reply text kept (sanitised) */

enum migrate_pop3c_ev {
	POP3C_EV_NEED_MORE, /* read more bytes */
	POP3C_EV_STATUS,    /* ok, text: a reply's first line */
	POP3C_EV_DATA,      /* line, len: a data line of a multi-line reply */
	POP3C_EV_DROPPED,   /* a data line was too long or held a NUL */
	POP3C_EV_END,       /* the "." line ending a multi-line reply */
	POP3C_EV_ERROR,     /* text: the server broke the protocol */
};

struct migrate_pop3c_event {
	bool ok;                        /* STATUS: +OK (true) or -ERR */
	bool cont;                      /* STATUS: a SASL continuation "+ text"
	                                   (RFC 5034); ok is true */
	char text[POP3C_TEXT_MAX + 1];  /* STATUS/ERROR: sanitised text */
	const char *line;               /* DATA */
	size_t len;
};

struct migrate_pop3c_parser {
	struct pop3_linereader lr;
	char lr_buf[POP3_SASL_LINE_MAX];
	bool multi_next;   /* the next reply is to a multi-line command */
	bool in_data;      /* between "+OK" and "." of a multi-line reply */
	bool failed;
	char failure[POP3C_TEXT_MAX + 1];
};

void migrate_pop3c_parser_init(struct migrate_pop3c_parser *p);
/* The next reply (whose status line has not been parsed yet) belongs to a
 * multi-line command (LIST, UIDL, TOP, CAPA) or not. */
void migrate_pop3c_parser_expect(struct migrate_pop3c_parser *p, bool multi);
char *migrate_pop3c_parser_space(struct migrate_pop3c_parser *p, size_t *avail);
void migrate_pop3c_parser_added(struct migrate_pop3c_parser *p, size_t n);
/* Forget buffered bytes (after STLS's +OK, before the TLS handshake). */
void migrate_pop3c_parser_discard(struct migrate_pop3c_parser *p);
size_t migrate_pop3c_parser_buffered(const struct migrate_pop3c_parser *p);
enum migrate_pop3c_ev migrate_pop3c_parser_next(struct migrate_pop3c_parser *p, struct migrate_pop3c_event *ev);

/* "N UIDL" → *num, uidl (room for POP3C_UIDL_MAX + 1). 0 or -1. */
int migrate_pop3c_parse_uidl(const char *line, size_t len, uint32_t *num, char *uidl);
/* "N SIZE" → *num, *size. 0 or -1. */
int migrate_pop3c_parse_list(const char *line, size_t len, uint32_t *num, uint64_t *size);

struct migrate_pop3c_hdr {
	char buf[POP3C_HDR_MAX];
	size_t len;
	bool done;        /* the empty line ending the header was seen */
	bool keep;        /* continuation lines belong to a kept field */
	bool truncated;   /* kept fields did not fit */
	unsigned seen;    /* bit i: maildrop_matchkey_fields[i] already kept */
};

void migrate_pop3c_hdr_init(struct migrate_pop3c_hdr *h);
/* One header line without its line end. */
void migrate_pop3c_hdr_line(struct migrate_pop3c_hdr *h, const char *line, size_t len);
/* The unfolded value of the kept field `name` (one of maildrop_matchkey_fields),
 * spaces collapsed, every octet outside 0x20..0x7E replaced by '?', cut
 * to cap - 1 octets; "" when absent. */
void migrate_pop3c_hdr_field(const struct migrate_pop3c_hdr *h, const char *name, char *out, size_t cap);

#endif
