/* bridge/config/options.h — the settings model of popbridge.
 *
 * One `struct config_options` holds every setting of `serve` (SPEC §8) plus the
 * per-device sections of the configuration file. Each setting has a key
 * (enum config_key) and a bit in `set`, so the same structure serves as a
 * *layer* (only what one source said: the config file, or the command line)
 * and as the *effective* settings:
 *
 *   built-in defaults  <  config file  <  command-line flags
 *
 * built by config_options_init() + config_options_merge(file) + config_options_merge(flags)
 * + config_options_finish(). For one device, config_options_device() starts from the
 * effective global folder/offer/window/seen_on/dele and applies the device's
 * section of the configuration file, which is the most specific source.
 *
 * Every value goes through config_options_set(): strict parsing (decimal numbers
 * with range checks, exact enum names, numeric listen addresses, upstream
 * URLs with IPv6 literals); on error it fills `err` with a message that names
 * the option and the bad value, and changes nothing.
 *
 * Ownership: a config_options owns its device-section array; config_options_free()
 * releases it (the structure itself belongs to the caller). Not thread-safe
 * while being built; read-only use from many threads is fine.
 */
#ifndef BRIDGE_CONFIG_OPTIONS_H
#define BRIDGE_CONFIG_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge/base/cidr.h"
#include "bridge/base/log.h"
#include "bridge/base/username.h"  /* state's name and folder bounds */

/* Bounds, with their reasons. */
#define PB_HOST_MAX      254   /* a DNS name (at most 253 octets) + NUL */
#define PB_PATH_MAX      1024  /* generous for file names in a config */
#define PB_FOLDER_MAX    (STATE_FOLDER_MAX + 1) /* an IMAP mailbox name + NUL */
#define PB_KEYWORD_MAX   64    /* an IMAP keyword (atom) */
#define PB_USERNAME_MAX  33    /* a system user name (32) + NUL */
#define PB_LISTEN_MAX    16    /* listeners per kind (plain / TLS) */
#define PB_TRUSTED_PROXY_MAX 64 /* --trusted-proxy ranges */
#define PB_DEVICE_SECTIONS_MAX 10000
#define PB_ERR_MAX       300   /* size of error buffers */

enum config_key {
	PB_K_UPSTREAM, PB_K_UPSTREAM_TLS, PB_K_UPSTREAM_CA, PB_K_UPSTREAM_TIMEOUT,
	PB_K_LISTEN, PB_K_LISTEN_TLS, PB_K_CERT, PB_K_KEY, PB_K_TLS_MIN,
	PB_K_AUTH, PB_K_DEVICE_SEPARATOR,
	PB_K_FOLDER, PB_K_OFFER, PB_K_WINDOW, PB_K_SEEN_ON, PB_K_DELE,
	PB_K_TRASH_FOLDER, PB_K_ARCHIVE_FOLDER, PB_K_DELE_KEYWORD,
	PB_K_ALLOW_PLAINTEXT_AUTH, PB_K_MAX_SESSIONS, PB_K_MAX_SESSIONS_PER_IP,
	PB_K_IDLE_TIMEOUT, PB_K_LOGIN_TIMEOUT, PB_K_MAX_AUTH_FAILURES,
	PB_K_MAX_DEVICES_PER_ACCOUNT, PB_K_PROXY_PROTOCOL, PB_K_TRUSTED_PROXY,
	PB_K_UPSTREAM_FORWARD_CLIENT_IP,
	PB_K_UPSTREAM_REUSE, PB_K_UPSTREAM_MAX_PER_ACCOUNT,
	PB_K_USER, PB_K_SYSLOG, PB_K_LOG_LEVEL,
	PB_K_STATE, PB_K_KEY_FILE,
	PB_K_LOGIN_DELAY,
	PB_K_IMAP_LISTEN, PB_K_IMAP_LISTEN_TLS,
	PB_K_METRICS_LISTEN,
	PB_K_SMTP_UPSTREAM, PB_K_SMTP_UPSTREAM_TLS, PB_K_SMTP_LISTEN, PB_K_SMTP_LISTEN_TLS,
	PB_K_SENT_COPY, PB_K_SENT_FOLDER,
	PB_K_COUNT
};
#define PB_KEY_BIT(k) ((uint64_t)1 << (k))
/* The keys a device section may override. */
#define PB_DEVICE_KEYS (PB_KEY_BIT(PB_K_FOLDER) | PB_KEY_BIT(PB_K_OFFER) | \
	PB_KEY_BIT(PB_K_WINDOW) | PB_KEY_BIT(PB_K_SEEN_ON) | PB_KEY_BIT(PB_K_DELE) | \
	PB_KEY_BIT(PB_K_LOGIN_DELAY))

enum config_upstream_tls { PB_UTLS_IMPLICIT, PB_UTLS_STARTTLS, PB_UTLS_NONE };
enum config_tls_version { PB_TLS_1_0, PB_TLS_1_1, PB_TLS_1_2, PB_TLS_1_3 };
enum config_auth { PB_AUTH_PASSTHROUGH, PB_AUTH_MANAGED };
enum config_offer { PB_OFFER_ALL, PB_OFFER_SINCE_ENROLMENT, PB_OFFER_UNSEEN };
enum config_seen_on { PB_SEEN_RETR, PB_SEEN_QUIT, PB_SEEN_NEVER };
/* SPEC §11: a copy in Sent unless the upstream files sent mail itself
 * (auto: Gmail, X-GM-EXT-1), or always, or never. */
enum config_sent_copy { PB_SENT_AUTO, PB_SENT_ALWAYS, PB_SENT_NEVER };
enum config_dele { PB_DELE_HIDE, PB_DELE_TRASH, PB_DELE_ARCHIVE, PB_DELE_FLAG,
	PB_DELE_EXPUNGE, PB_DELE_LAST_DEVICE };

/* A host and port. host is a DNS name, a dotted IPv4 address or an IPv6
 * address *without* brackets; `ipv6` tells which form it is. */
struct config_endpoint {
	char host[PB_HOST_MAX];
	uint16_t port;
	bool ipv6;
};

/* What one device sees (SPEC §3), and how often it may log in (§14). */
struct config_device_settings {
	char folder[PB_FOLDER_MAX];
	enum config_offer offer;
	uint32_t window;         /* 0 = unlimited */
	enum config_seen_on seen_on;
	enum config_dele dele;
	uint32_t login_delay;    /* SPEC §14: seconds between logins; 0 = off */
};

/* A <device> section of the configuration file. */
struct config_device_section {
	char account[STATE_ACCOUNT_MAX + 1];
	char device[STATE_DEVICE_MAX + 1];
	uint64_t set;            /* PB_KEY_BIT()s of the fields it overrides */
	struct config_device_settings v;
	unsigned line;           /* where it was defined (0: not from a file) */
};

struct config_options {
	uint64_t set;            /* PB_KEY_BIT()s this layer sets */

	struct config_endpoint upstream;   /* host[0] == 0: none given */
	enum config_upstream_tls upstream_scheme; /* what the URL's scheme implies */
	enum config_upstream_tls upstream_tls;    /* effective after finish() */
	char upstream_ca[PB_PATH_MAX]; /* "" = the system store */
	unsigned upstream_timeout;     /* seconds */

	struct config_endpoint listen[PB_LISTEN_MAX];
	size_t n_listen;
	struct config_endpoint listen_tls[PB_LISTEN_MAX];
	size_t n_listen_tls;
	struct config_endpoint imap_listen[PB_LISTEN_MAX];     /* the IMAP front (SPEC §12) */
	size_t n_imap_listen;
	struct config_endpoint imap_listen_tls[PB_LISTEN_MAX];
	size_t n_imap_listen_tls;
	struct config_endpoint metrics_listen; /* SPEC §14: Prometheus at /metrics;
	                                          host[0] == 0: none */
	char cert[PB_PATH_MAX];
	char key[PB_PATH_MAX];
	enum config_tls_version tls_min;

	enum config_auth auth;
	char device_separator;
	struct config_device_settings dev; /* global folder/offer/window/seen_on/dele */
	char trash_folder[PB_FOLDER_MAX];
	char archive_folder[PB_FOLDER_MAX];
	char dele_keyword[PB_KEYWORD_MAX];
	bool allow_plaintext_auth;

	unsigned max_sessions;
	unsigned max_sessions_per_ip;
	unsigned idle_timeout;         /* seconds */
	unsigned login_timeout;        /* seconds from accept to a good login */
	unsigned max_auth_failures;    /* failed logins that close a connection */
	unsigned max_devices_per_account; /* passthrough devices created, at most */
	bool proxy_protocol;           /* read PROXY headers from trusted proxies */
	struct base_cidr trusted_proxy[PB_TRUSTED_PROXY_MAX];
	size_t n_trusted_proxy;
	bool upstream_forward_client_ip; /* the client address upstream in ID */
	unsigned upstream_reuse;       /* seconds a connection is kept after its
	                                  session (SPEC §9); 0: never */
	unsigned upstream_max_per_account; /* upstream connections per account,
	                                  kept or in use */
	char user[PB_USERNAME_MAX];    /* "" = keep the current user */
	bool syslog;
	enum base_log_level log_level;
	char state[PB_PATH_MAX];
	char key_file[PB_PATH_MAX];    /* "" until finish(): STATE.key */

	/* SMTP submission (SPEC §11): off without smtp listeners */
	struct config_endpoint smtp_upstream;     /* host[0] == 0: none given */
	enum config_upstream_tls smtp_upstream_scheme; /* what its URL implies */
	enum config_upstream_tls smtp_upstream_tls;    /* effective after finish() */
	struct config_endpoint smtp_listen[PB_LISTEN_MAX];
	size_t n_smtp_listen;
	struct config_endpoint smtp_listen_tls[PB_LISTEN_MAX];
	size_t n_smtp_listen_tls;
	enum config_sent_copy sent_copy;
	char sent_folder[PB_FOLDER_MAX];   /* when the server has no \Sent */

	struct config_device_section *devices; /* owned */
	size_t n_devices;
};

/* Defaults (all `set` bits clear). */
#define PB_DEFAULT_UPSTREAM_TIMEOUT 30
#define PB_DEFAULT_LISTEN_ADDR "127.0.0.1"
#define PB_DEFAULT_LISTEN_PORT 1110
#define PB_DEFAULT_MAX_SESSIONS 500
#define PB_DEFAULT_MAX_SESSIONS_PER_IP 50
#define PB_DEFAULT_IDLE_TIMEOUT 600
#define PB_DEFAULT_LOGIN_TIMEOUT 60
#define PB_DEFAULT_MAX_AUTH_FAILURES 3
#define PB_DEFAULT_MAX_DEVICES_PER_ACCOUNT 64
#define PB_DEFAULT_UPSTREAM_REUSE 60
#define PB_DEFAULT_UPSTREAM_MAX_PER_ACCOUNT 4
#define PB_DEFAULT_STATE "popbridge.db"

/* Fill o with the built-in defaults; nothing marked as set. */
void config_options_init(struct config_options *o);
/* Free what o owns (device sections) and leave it empty but valid. */
void config_options_free(struct config_options *o);

/* The option's command-line name without dashes ("upstream-timeout"). */
const char *config_key_name(enum config_key k);
/* The key whose name is `name` (without dashes); -1 if none. */
int config_key_lookup(const char *name);

/* Parse `value` for key k and store it in o, marking k as set. A boolean key
 * takes NULL (meaning yes) or "yes"/"no". PB_K_LISTEN and PB_K_LISTEN_TLS
 * append (duplicates are refused). 0, or -1 with a message in err (o is
 * unchanged). */
int config_options_set(struct config_options *o, enum config_key k, const char *value,
    char *err, size_t errlen);

/* Copy into dst every setting that src marks as set. A layer that sets
 * listen (or listen-tls) replaces dst's whole list of that kind. Device
 * sections of src, when it has any, replace dst's. 0, or -1 on allocation
 * failure (with err filled). */
int config_options_merge(struct config_options *dst, const struct config_options *src,
    char *err, size_t errlen);

/* Check the effective settings as a whole and fill derived defaults: the
 * default listener when none is given, key_file = STATE.key, the URL's TLS
 * mode. need_upstream: the command needs --upstream (serve does). 0, or -1
 * with the first problem in err and, when bad_key is not NULL, the key the
 * problem is about in *bad_key. */
int config_options_finish(struct config_options *o, bool need_upstream, enum config_key *bad_key,
    char *err, size_t errlen);

/* Device sections. new_section starts an empty section for (account,
 * device), refusing a second one for the same pair (names compare ASCII
 * case-insensitively); section_set parses one of the PB_DEVICE_KEYS into it. */
struct config_device_section *config_options_new_section(struct config_options *o,
    const char *account, const char *device, unsigned line, char *err, size_t errlen);
int config_section_set(struct config_device_section *s, enum config_key k, const char *value,
    char *err, size_t errlen);
/* -1 with err when the section's account or device name contains sep (a
 * passthrough login could never name that device). */
int config_section_check_separator(const struct config_device_section *s, char sep,
    char *err, size_t errlen);
/* The section for (account, device), or NULL. */
const struct config_device_section *config_options_find_section(const struct config_options *o,
    const char *account, const char *device);

/* The effective settings of one device: o->dev overlaid with the fields its
 * section sets. o should be the finished effective options. */
void config_options_device(const struct config_options *o, const char *account,
    const char *device, struct config_device_settings *out);

/* Parsers usable on their own (0 or -1 with err). */
int config_parse_upstream_url(const char *s, struct config_endpoint *ep,
    enum config_upstream_tls *tls, char *err, size_t errlen);
/* smtps://HOST[:465] (implicit TLS) or smtp://HOST[:587] (STARTTLS). */
int config_parse_smtp_url(const char *s, struct config_endpoint *ep,
    enum config_upstream_tls *tls, char *err, size_t errlen);
int config_parse_listen(const char *s, struct config_endpoint *ep, char *err, size_t errlen);
/* Decimal digits only, no sign or spaces, min <= n <= max. */
int config_parse_uint(const char *s, unsigned long min, unsigned long max,
    unsigned long *out);
/* The same, or -1 with "'S' is not a number from MIN to MAX" in err. */
int config_parse_number(const char *s, unsigned long min, unsigned long max,
    unsigned long *out, char *err, size_t errlen);

/* "ADDR:PORT" with brackets around IPv6, into buf. */
const char *config_endpoint_format(const struct config_endpoint *ep, char *buf, size_t len);

/* Word tables: the words of each word-valued setting, as written in flags
 * and config, with their enum values. One table each is used for parsing,
 * --help, the name functions below and the messages listing allowed words. */
struct config_word {
	const char *word;
	int value;
};
struct config_words {
	const struct config_word *w;
	size_t n;
};
#define CONFIG_WORDS(a) { (a), sizeof(a) / sizeof((a)[0]) }
extern const struct config_words config_words_upstream_tls;
extern const struct config_words config_words_tls_min;
extern const struct config_words config_words_auth;
extern const struct config_words config_words_offer;
extern const struct config_words config_words_seen_on;
extern const struct config_words config_words_dele;
extern const struct config_words config_words_log_level;
extern const struct config_words config_words_sent_copy;

/* The value of word in t, or -1. */
int config_word_value(const struct config_words *t, const char *word);
/* The word of value in t, or "?". */
const char *config_word_name(const struct config_words *t, int value);
/* config_word_value(), or -1 with "'WORD' is not one of: a, b, c" in err. */
int config_word_parse(const struct config_words *t, const char *word, int *out,
    char *err, size_t errlen);
/* The words joined by sep ("a | b | c") into buf. */
const char *config_words_join(const struct config_words *t, const char *sep, char *buf,
    size_t len);

/* What the command line needs to know of a key: how its value is written
 * (CONFIG_KEY_FLAG: no value), its range (numbers) or words. */
enum config_key_kind { CONFIG_KEY_TEXT, CONFIG_KEY_UINT, CONFIG_KEY_WORD, CONFIG_KEY_FLAG };
enum config_key_kind config_key_kind(enum config_key k);
/* Whether the key may be given more than once (a list: listen, listen-tls,
 * trusted-proxy). */
bool config_key_repeatable(enum config_key k);
/* CONFIG_KEY_UINT: the range. */
void config_key_range(enum config_key k, unsigned long *min, unsigned long *max);
/* CONFIG_KEY_WORD: the words; NULL otherwise. */
const struct config_words *config_key_words(enum config_key k);
/* Key k's value in o as it would be written (for --help's defaults: o is
 * fresh from config_options_init()); "" when it has none (no upstream, an
 * empty file name, a flag). */
const char *config_options_format(const struct config_options *o, enum config_key k,
    char *buf, size_t len);

/* Names of enum values, as written in flags and config. */
const char *config_upstream_tls_name(enum config_upstream_tls v);
const char *config_tls_version_name(enum config_tls_version v);
const char *config_auth_name(enum config_auth v);
const char *config_offer_name(enum config_offer v);
const char *config_seen_on_name(enum config_seen_on v);
const char *config_dele_name(enum config_dele v);
const char *config_log_level_name(enum base_log_level v);
const char *config_sent_copy_name(enum config_sent_copy v);

#endif
