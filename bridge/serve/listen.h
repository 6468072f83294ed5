/* bridge/serve/listen.h — the listening sockets of `popbridge serve` and small
 * helpers for client addresses.
 *
 * Contract:
 *  - serve_listeners_open() binds every --listen (POP3, STLS when a certificate
 *    is set) and --listen-tls (implicit TLS) endpoint of the effective
 *    options, the IMAP front's --imap-listen and --imap-listen-tls, and
 *    --smtp-listen and --smtp-listen-tls (SMTP submission), IPv4 or IPv6 (an
 *    IPv6 socket is IPV6_V6ONLY, so [::]:N and 0.0.0.0:N may both be given). Sockets are non-blocking, close-on-exec,
 *    SO_REUSEADDR. On any failure every socket opened so far is closed and
 *    err names the address and the reason; nothing stays open.
 *  - serve_listeners_close() closes them all; safe to call twice.
 *  - Addresses are numeric text (no DNS), at most PB_ADDR_TEXT_MAX bytes.
 */
#ifndef BRIDGE_SERVE_LISTEN_H
#define BRIDGE_SERVE_LISTEN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "bridge/base/addrkey.h"     /* PB_ADDR_TEXT_MAX */
#include "bridge/config/options.h"

#define PB_LISTENERS_MAX (6 * PB_LISTEN_MAX)   /* POP3, IMAP and SMTP, plain and TLS */
/* The kernel caps it at net.core.somaxconn (4096 since Linux 5.4). A burst
 * of connects beyond it overflows the accept queue, and with SYN cookies a
 * client that waits for the greeting is never told: 2,000 connects at once
 * lost 125 of them with 128 (tests/load/load_pop3.py). */
#define PB_LISTEN_BACKLOG 4096

struct serve_listener {
	int fd;                              /* -1 when closed */
	bool implicit_tls;                   /* a --*listen-tls socket */
	bool imap;                           /* the IMAP front (--imap-listen*) */
	bool smtp;                           /* SMTP submission (--smtp-listen*, SPEC §11) */
	char name[PB_HOST_MAX + 10];         /* "ADDR:PORT" as configured */
};

struct serve_listeners {
	struct serve_listener l[PB_LISTENERS_MAX];
	size_t n;
};

int serve_listeners_open(struct serve_listeners *ls, const struct config_options *o,
    char *err, size_t errlen);
void serve_listeners_close(struct serve_listeners *ls);

/* Numeric text of a socket address (IPv4-mapped IPv6 shown as IPv4). */
void serve_addr_text(const struct sockaddr_storage *sa, char *buf, size_t len);
/* Its port (0 when it has none). */
unsigned serve_addr_port(const struct sockaddr_storage *sa);

#endif
