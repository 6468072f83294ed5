/* bridge/migrate/pop3client.h — a read-only POP3 client for `popbridge import-uidls`:
 * log in to the old POP3 server, read LIST, UIDL and the header of every
 * message (TOP n 0), QUIT. It never sends DELE, RSET or anything that
 * changes the maildrop.
 *
 * Contract:
 *  - Transport: imap/conn.h (TCP, OpenSSL client TLS with certificate and
 *    host-name verification against the system store or ca_file, every
 *    connect/read/write bounded by timeout_s).
 *  - pop3:// uses STLS when CAPA offers it, and requires it unless the host
 *    is a numeric loopback address (127.0.0.0/8, ::1): without TLS the
 *    password would cross the network in clear. pop3s:// is implicit TLS
 *    (RFC 8314). After STLS, bytes buffered before the handshake are
 *    discarded and CAPA is asked again (RFC 2595).
 *  - Login: AUTH PLAIN (RFC 5034, with the initial response) when CAPA lists
 *    SASL PLAIN, else USER/PASS. The password is never logged or put in err.
 *  - Pipelining (RFC 2449): with PIPELINING in CAPA, LIST and UIDL go out
 *    together and TOP commands are kept POP3C_WINDOW deep (a bounded window
 *    of short commands, so our writes never wait on the server's reads);
 *    without it, one command at a time. Replies are read in order.
 *  - Limits: reply lines as in bridge/migrate/pop3client_parse.h; at most
 *    POP3C_MSGS_MAX messages; LIST and UIDL must name the same messages,
 *    UIDLs must be unique (else an error: a listing we cannot trust).
 *  - struct migrate_pop3c is opaque: migrate_pop3c_new(), migrate_pop3c_free().
 *  - Every function returns 0, or -1 with a one-line reason in
 *    migrate_pop3c_error() (printable ASCII; server text sanitised). After -1
 *    only migrate_pop3c_close() and migrate_pop3c_free() remain useful.
 */
#ifndef BRIDGE_MIGRATE_POP3CLIENT_H
#define BRIDGE_MIGRATE_POP3CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge/config/options.h"
#include "bridge/migrate/pop3client_parse.h"

#define POP3C_WINDOW    32        /* TOP commands in flight with PIPELINING */
#define POP3C_MSGS_MAX  2000000   /* messages in one maildrop */
#define POP3C_CMD_MAX   255       /* RFC 2449: command line with CRLF */
#define POP3C_ERR_MAX   300
#define POP3C_PASS_MAX  1024

struct migrate_pop3c_url {
	char host[PB_HOST_MAX];   /* name, IPv4 or IPv6 (no brackets) */
	uint16_t port;            /* default 110 / 995 */
	bool implicit_tls;        /* pop3s:// */
};

/* pop3://HOST[:PORT] or pop3s://HOST[:PORT] (IPv6 as [ADDR]), by the rules of
 * bridge/config/url.h; 0, or -1 with "--from: why" in err. */
int migrate_pop3c_parse_url(const char *s, struct migrate_pop3c_url *u, char *err, size_t errlen);

struct migrate_pop3c;

struct migrate_pop3c_msg {
	uint32_t num;                  /* message number in the session */
	uint64_t size;                 /* LIST size */
	char uidl[POP3C_UIDL_MAX + 1];
};

/* A new, unconnected client; NULL when out of memory. */
struct migrate_pop3c *migrate_pop3c_new(void);
/* The reason for the last -1 ("" before any). */
const char *migrate_pop3c_error(const struct migrate_pop3c *c);

/* Connect, read the greeting, CAPA, STLS as described. timeout_s 0: 30 s. */
int migrate_pop3c_connect(struct migrate_pop3c *c, const struct migrate_pop3c_url *u, const char *ca_file,
    unsigned timeout_s);
int migrate_pop3c_login(struct migrate_pop3c *c, const char *user, const char *password);
/* LIST and UIDL, merged by message number into a malloc'd array in
 * ascending number order (*out NULL when empty); free() it. */
int migrate_pop3c_listing(struct migrate_pop3c *c, struct migrate_pop3c_msg **out, size_t *n);

/* One message's header (TOP n 0): h NULL when the server answered -ERR for
 * it (reason in why); dropped = header lines too long to read. Return
 * non-zero to stop (migrate_pop3c_headers then fails with "stopped"). */
typedef int migrate_pop3c_hdr_fn(void *arg, size_t idx, const struct migrate_pop3c_hdr *h,
    unsigned dropped, const char *why);
int migrate_pop3c_headers(struct migrate_pop3c *c, const struct migrate_pop3c_msg *msgs, size_t n,
    migrate_pop3c_hdr_fn *cb, void *arg);

/* QUIT (nothing was marked deleted, so nothing is removed). */
int migrate_pop3c_quit(struct migrate_pop3c *c);
void migrate_pop3c_close(struct migrate_pop3c *c);
/* Close and free; NULL is fine. */
void migrate_pop3c_free(struct migrate_pop3c *c);
/* "TLSv1.3", or NULL without TLS. */
const char *migrate_pop3c_tls_version(const struct migrate_pop3c *c);

#endif
