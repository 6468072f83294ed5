/* bridge/options.h — the settings model of popbridge.
 *
 * One `struct pb_options` holds every setting of `serve` (SPEC §8) plus the
 * per-device sections of the configuration file. Each setting has a key
 * (enum pb_key) and a bit in `set`, so the same structure serves as a
 * *layer* (only what one source said: the config file, or the command line)
 * and as the *effective* settings:
 *
 *   built-in defaults  <  config file  <  command-line flags
 *
 * built by pb_options_init() + pb_options_merge(file) + pb_options_merge(flags)
 * + pb_options_finish(). For one device, pb_options_device() starts from the
 * effective global folder/offer/window/seen_on/dele and applies the device's
 * section of the configuration file, which is the most specific source.
 *
 * Every value goes through pb_options_set(): strict parsing (decimal numbers
 * with range checks, exact enum names, numeric listen addresses, upstream
 * URLs with IPv6 literals); on error it fills `err` with a message that names
 * the option and the bad value, and changes nothing.
 *
 * Ownership: a pb_options owns its device-section array; pb_options_free()
 * releases it (the structure itself belongs to the caller). Not thread-safe
 * while being built; read-only use from many threads is fine.
 */
#ifndef BRIDGE_OPTIONS_H
#define BRIDGE_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bounds, with their reasons. */
#define PB_HOST_MAX      254   /* a DNS name is at most 253 octets */
#define PB_PATH_MAX      1024  /* generous for file names in a config */
#define PB_FOLDER_MAX    256   /* IMAP mailbox names; servers cap lower */
#define PB_KEYWORD_MAX   64    /* an IMAP keyword (atom) */
#define PB_USERNAME_MAX  33    /* a system user name (32) + NUL */
#define PB_NAME_MAX      256   /* account and device names in config */
#define PB_LISTEN_MAX    16    /* listeners per kind (plain / TLS) */
#define PB_DEVICE_SECTIONS_MAX 10000
#define PB_ERR_MAX       300   /* size of error buffers */

enum pb_key {
	PB_K_UPSTREAM, PB_K_UPSTREAM_TLS, PB_K_UPSTREAM_CA, PB_K_UPSTREAM_TIMEOUT,
	PB_K_LISTEN, PB_K_LISTEN_TLS, PB_K_CERT, PB_K_KEY, PB_K_TLS_MIN,
	PB_K_AUTH, PB_K_DEVICE_SEPARATOR,
	PB_K_FOLDER, PB_K_OFFER, PB_K_WINDOW, PB_K_SEEN_ON, PB_K_DELE,
	PB_K_TRASH_FOLDER, PB_K_ARCHIVE_FOLDER, PB_K_DELE_KEYWORD,
	PB_K_ALLOW_PLAINTEXT_AUTH, PB_K_MAX_SESSIONS, PB_K_MAX_SESSIONS_PER_IP,
	PB_K_IDLE_TIMEOUT, PB_K_USER, PB_K_SYSLOG, PB_K_LOG_LEVEL,
	PB_K_STATE, PB_K_KEY_FILE,
	PB_K_COUNT
};
#define PB_KEY_BIT(k) ((uint64_t)1 << (k))
/* The keys a device section may override. */
#define PB_DEVICE_KEYS (PB_KEY_BIT(PB_K_FOLDER) | PB_KEY_BIT(PB_K_OFFER) | \
	PB_KEY_BIT(PB_K_WINDOW) | PB_KEY_BIT(PB_K_SEEN_ON) | PB_KEY_BIT(PB_K_DELE))

enum pb_upstream_tls { PB_UTLS_IMPLICIT, PB_UTLS_STARTTLS, PB_UTLS_NONE };
enum pb_tls_version { PB_TLS_1_0, PB_TLS_1_1, PB_TLS_1_2, PB_TLS_1_3 };
enum pb_auth { PB_AUTH_PASSTHROUGH, PB_AUTH_MANAGED };
enum pb_offer { PB_OFFER_ALL, PB_OFFER_SINCE_ENROLMENT, PB_OFFER_UNSEEN };
enum pb_seen_on { PB_SEEN_RETR, PB_SEEN_QUIT, PB_SEEN_NEVER };
enum pb_dele { PB_DELE_HIDE, PB_DELE_TRASH, PB_DELE_ARCHIVE, PB_DELE_FLAG,
	PB_DELE_EXPUNGE, PB_DELE_LAST_DEVICE };
enum pb_log_level { PB_LOG_ERROR, PB_LOG_WARN, PB_LOG_INFO, PB_LOG_DEBUG };

/* A host and port. host is a DNS name, a dotted IPv4 address or an IPv6
 * address *without* brackets; `ipv6` tells which form it is. */
struct pb_endpoint {
	char host[PB_HOST_MAX];
	uint16_t port;
	bool ipv6;
};

/* What one device sees (SPEC §3). */
struct pb_device_settings {
	char folder[PB_FOLDER_MAX];
	enum pb_offer offer;
	uint32_t window;         /* 0 = unlimited */
	enum pb_seen_on seen_on;
	enum pb_dele dele;
};

/* A <device> section of the configuration file. */
struct pb_device_section {
	char account[PB_NAME_MAX];
	char device[PB_NAME_MAX];
	uint64_t set;            /* PB_KEY_BIT()s of the fields it overrides */
	struct pb_device_settings v;
	unsigned line;           /* where it was defined (0: not from a file) */
};

struct pb_options {
	uint64_t set;            /* PB_KEY_BIT()s this layer sets */

	struct pb_endpoint upstream;   /* host[0] == 0: none given */
	enum pb_upstream_tls upstream_scheme; /* what the URL's scheme implies */
	enum pb_upstream_tls upstream_tls;    /* effective after finish() */
	char upstream_ca[PB_PATH_MAX]; /* "" = the system store */
	unsigned upstream_timeout;     /* seconds */

	struct pb_endpoint listen[PB_LISTEN_MAX];
	size_t n_listen;
	struct pb_endpoint listen_tls[PB_LISTEN_MAX];
	size_t n_listen_tls;
	char cert[PB_PATH_MAX];
	char key[PB_PATH_MAX];
	enum pb_tls_version tls_min;

	enum pb_auth auth;
	char device_separator;
	struct pb_device_settings dev; /* global folder/offer/window/seen_on/dele */
	char trash_folder[PB_FOLDER_MAX];
	char archive_folder[PB_FOLDER_MAX];
	char dele_keyword[PB_KEYWORD_MAX];
	bool allow_plaintext_auth;

	unsigned max_sessions;
	unsigned max_sessions_per_ip;
	unsigned idle_timeout;         /* seconds */
	char user[PB_USERNAME_MAX];    /* "" = keep the current user */
	bool syslog;
	enum pb_log_level log_level;
	char state[PB_PATH_MAX];
	char key_file[PB_PATH_MAX];    /* "" until finish(): STATE.key */

	struct pb_device_section *devices; /* owned */
	size_t n_devices;
};

/* Defaults (all `set` bits clear). */
#define PB_DEFAULT_UPSTREAM_TIMEOUT 30
#define PB_DEFAULT_LISTEN_ADDR "127.0.0.1"
#define PB_DEFAULT_LISTEN_PORT 1110
#define PB_DEFAULT_MAX_SESSIONS 500
#define PB_DEFAULT_MAX_SESSIONS_PER_IP 50
#define PB_DEFAULT_IDLE_TIMEOUT 600
#define PB_DEFAULT_STATE "popbridge.db"

/* Fill o with the built-in defaults; nothing marked as set. */
void pb_options_init(struct pb_options *o);
/* Free what o owns (device sections) and leave it empty but valid. */
void pb_options_free(struct pb_options *o);

/* The option's command-line name without dashes ("upstream-timeout"). */
const char *pb_key_name(enum pb_key k);
/* The key whose name is `name` (without dashes); -1 if none. */
int pb_key_lookup(const char *name);
/* True for --syslog and --allow-plaintext-auth, which take no value. */
bool pb_key_is_flag(enum pb_key k);

/* Parse `value` for key k and store it in o, marking k as set. A boolean key
 * takes NULL (meaning yes) or "yes"/"no". PB_K_LISTEN and PB_K_LISTEN_TLS
 * append (duplicates are refused). 0, or -1 with a message in err (o is
 * unchanged). */
int pb_options_set(struct pb_options *o, enum pb_key k, const char *value,
    char *err, size_t errlen);

/* Copy into dst every setting that src marks as set. A layer that sets
 * listen (or listen-tls) replaces dst's whole list of that kind. Device
 * sections of src, when it has any, replace dst's. 0, or -1 on allocation
 * failure (with err filled). */
int pb_options_merge(struct pb_options *dst, const struct pb_options *src,
    char *err, size_t errlen);

/* Check the effective settings as a whole and fill derived defaults: the
 * default listener when none is given, key_file = STATE.key, the URL's TLS
 * mode. need_upstream: the command needs --upstream (serve does). 0, or -1
 * with the first problem in err and, when bad_key is not NULL, the key the
 * problem is about in *bad_key. */
int pb_options_finish(struct pb_options *o, bool need_upstream, enum pb_key *bad_key,
    char *err, size_t errlen);

/* Device sections. new_section starts an empty section for (account,
 * device), refusing a second one for the same pair (names compare ASCII
 * case-insensitively); section_set parses one of the PB_DEVICE_KEYS into it. */
struct pb_device_section *pb_options_new_section(struct pb_options *o,
    const char *account, const char *device, unsigned line, char *err, size_t errlen);
int pb_section_set(struct pb_device_section *s, enum pb_key k, const char *value,
    char *err, size_t errlen);
/* -1 with err when the section's account or device name contains sep (a
 * passthrough login could never name that device). */
int pb_section_check_separator(const struct pb_device_section *s, char sep,
    char *err, size_t errlen);
/* The section for (account, device), or NULL. */
const struct pb_device_section *pb_options_find_section(const struct pb_options *o,
    const char *account, const char *device);

/* The effective settings of one device: o->dev overlaid with the fields its
 * section sets. o should be the finished effective options. */
void pb_options_device(const struct pb_options *o, const char *account,
    const char *device, struct pb_device_settings *out);

/* Parsers usable on their own (0 or -1 with err). */
int pb_parse_upstream_url(const char *s, struct pb_endpoint *ep,
    enum pb_upstream_tls *tls, char *err, size_t errlen);
int pb_parse_listen(const char *s, struct pb_endpoint *ep, char *err, size_t errlen);
/* Decimal digits only, no sign or spaces, min <= n <= max. */
int pb_parse_uint(const char *s, unsigned long min, unsigned long max,
    unsigned long *out);

/* "ADDR:PORT" with brackets around IPv6, into buf. */
const char *pb_endpoint_format(const struct pb_endpoint *ep, char *buf, size_t len);

/* Names of enum values, as written in flags and config. */
const char *pb_upstream_tls_name(enum pb_upstream_tls v);
const char *pb_tls_version_name(enum pb_tls_version v);
const char *pb_auth_name(enum pb_auth v);
const char *pb_offer_name(enum pb_offer v);
const char *pb_seen_on_name(enum pb_seen_on v);
const char *pb_dele_name(enum pb_dele v);
const char *pb_log_level_name(enum pb_log_level v);

#endif
