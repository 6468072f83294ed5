/* bridge/migrate/autoconfig.h — client configuration documents for a device moving
 * from POP3 to IMAP (SPEC §7, `popbridge autoconfig`).
 *
 * Contract:
 *  - Three formats, each built with libxml2's tree API (user data only ever
 *    enters as escaped text nodes) and written to a FILE* as UTF-8:
 *      thunderbird   Thunderbird autoconfig, clientConfig version="1.1"
 *      autodiscover  Outlook autodiscover POX response, schema 2006a
 *      mobileconfig  Apple configuration profile (plist XML) holding one
 *                    com.apple.mail.managed payload
 *  - Incoming server: the upstream IMAP host, port and TLS mode. Outgoing
 *    server (every format carries one, since Thunderbird and Apple's Mail
 *    payload require it): smtp_host, default the IMAP host; smtp_port,
 *    default 587; smtp_tls, default STARTTLS (RFC 6409 submission); the
 *    same login name and password as incoming.
 *  - TLS modes map to: Thunderbird socketType SSL | STARTTLS | plain;
 *    autodiscover SSL on + Encryption SSL | SSL on + Encryption TLS |
 *    SSL off + Encryption None (Encryption, from [MS-OXDSCLI], overrides SSL
 *    in clients that know it; older ones see SSL on and still encrypt);
 *    Apple UseSSL true | true | false (Apple's Mail uses STARTTLS on a
 *    non-TLS port when UseSSL is true).
 *  - Inputs are validated, with a one-line message in err: the address has
 *    exactly one '@', a dot-atom local part of 1..64 characters and a host
 *    name domain, at most 254 characters in all; host names are letters,
 *    digits, '-' and '.' (or an IPv6 literal's hex digits and ':'), at most
 *    253; login and display names are 1..256 bytes of UTF-8 without control
 *    characters. Nothing is written unless the document is complete.
 *  - The upstream URL is parsed by bridge/options (config_parse_upstream_url);
 *    enum migrate_autoconfig_tls lists its modes in the same order as
 *    enum config_upstream_tls, so the caller copies host, port and mode over.
 *  - Functions return 0, or -1 with the message in err.
 */
#ifndef BRIDGE_MIGRATE_AUTOCONFIG_H
#define BRIDGE_MIGRATE_AUTOCONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "bridge/config/options.h"

#define AUTOCONFIG_EMAIL_MAX   254
#define AUTOCONFIG_LOCAL_MAX   64
#define AUTOCONFIG_NAME_MAX    256
#define AUTOCONFIG_SMTP_PORT   587

enum migrate_autoconfig_format {
	AUTOCONFIG_THUNDERBIRD,
	AUTOCONFIG_AUTODISCOVER,
	AUTOCONFIG_MOBILECONFIG,
};

enum migrate_autoconfig_tls {
	AUTOCONFIG_TLS_IMPLICIT,  /* TLS from the first byte (imaps, submissions) */
	AUTOCONFIG_TLS_STARTTLS,  /* plaintext, then STARTTLS */
	AUTOCONFIG_TLS_NONE,      /* no TLS at all */
};

struct migrate_autoconfig_params {
	const char *email;         /* required */
	const char *host;          /* required: IMAP server */
	unsigned port;             /* 1..65535 */
	enum migrate_autoconfig_tls tls;
	const char *login;         /* NULL: the address */
	const char *display_name;  /* NULL: the address */
	const char *smtp_host;     /* NULL: host */
	unsigned smtp_port;        /* 0: AUTOCONFIG_SMTP_PORT */
	enum migrate_autoconfig_tls smtp_tls;  /* migrate_autoconfig_params_init: STARTTLS */
};

/* Defaults: everything NULL/0, tls and smtp_tls STARTTLS. */
void migrate_autoconfig_params_init(struct migrate_autoconfig_params *p);

/* The words of the formats: "thunderbird" | "autodiscover" | "mobileconfig". */
extern const struct config_words migrate_autoconfig_formats;

/* A word of migrate_autoconfig_formats → format. */
int migrate_autoconfig_parse_format(const char *name, enum migrate_autoconfig_format *fmt,
                            char *err, size_t errlen);

/* Validate an e-mail address as described above. */
int migrate_autoconfig_check_email(const char *email, char *err, size_t errlen);

/* Build the document and write it to out. */
int migrate_autoconfig_write(FILE *out, enum migrate_autoconfig_format fmt, const struct migrate_autoconfig_params *p,
                     char *err, size_t errlen);

#endif
