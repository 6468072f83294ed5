/* bridge/config/options.c — parsing, layering and resolution of settings. */
#include "bridge/config/options.h"

#include "bridge/base/errbuf.h"
#include "bridge/base/text.h"
#include "bridge/base/username.h"
#include "state/state.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- names ---------------------------------------------------------------- */

static const struct config_word utls_words[] = {
	{ "implicit", PB_UTLS_IMPLICIT }, { "starttls", PB_UTLS_STARTTLS }, { "none", PB_UTLS_NONE },
};
static const struct config_word tls_words[] = {
	{ "1.0", PB_TLS_1_0 }, { "1.1", PB_TLS_1_1 }, { "1.2", PB_TLS_1_2 }, { "1.3", PB_TLS_1_3 },
};
static const struct config_word auth_words[] = {
	{ "passthrough", PB_AUTH_PASSTHROUGH }, { "managed", PB_AUTH_MANAGED },
};
static const struct config_word offer_words[] = {
	{ "all", PB_OFFER_ALL }, { "since-enrolment", PB_OFFER_SINCE_ENROLMENT },
	{ "unseen", PB_OFFER_UNSEEN },
};
static const struct config_word seen_words[] = {
	{ "retr", PB_SEEN_RETR }, { "quit", PB_SEEN_QUIT }, { "never", PB_SEEN_NEVER },
};
static const struct config_word dele_words[] = {
	{ "hide", PB_DELE_HIDE }, { "trash", PB_DELE_TRASH }, { "archive", PB_DELE_ARCHIVE },
	{ "flag", PB_DELE_FLAG }, { "expunge", PB_DELE_EXPUNGE },
	{ "last-device", PB_DELE_LAST_DEVICE },
};
static const struct config_word level_words[] = {
	{ "error", PB_LOG_ERROR }, { "warn", PB_LOG_WARN }, { "info", PB_LOG_INFO },
	{ "debug", PB_LOG_DEBUG },
};
static const struct config_word sent_copy_words[] = {
	{ "auto", PB_SENT_AUTO }, { "always", PB_SENT_ALWAYS }, { "never", PB_SENT_NEVER },
};
static const struct config_word bool_words[] = { { "no", 0 }, { "yes", 1 } };

const struct config_words config_words_upstream_tls = CONFIG_WORDS(utls_words);
const struct config_words config_words_tls_min = CONFIG_WORDS(tls_words);
const struct config_words config_words_auth = CONFIG_WORDS(auth_words);
const struct config_words config_words_offer = CONFIG_WORDS(offer_words);
const struct config_words config_words_seen_on = CONFIG_WORDS(seen_words);
const struct config_words config_words_dele = CONFIG_WORDS(dele_words);
const struct config_words config_words_log_level = CONFIG_WORDS(level_words);
const struct config_words config_words_sent_copy = CONFIG_WORDS(sent_copy_words);
static const struct config_words bool_names = CONFIG_WORDS(bool_words);

int config_word_value(const struct config_words *t, const char *word)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(word, t->w[i].word) == 0)
			return t->w[i].value;
	return -1;
}

const char *config_word_name(const struct config_words *t, int value)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->w[i].value == value)
			return t->w[i].word;
	return "?";
}

const char *config_words_join(const struct config_words *t, const char *sep, char *buf,
    size_t len)
{
	size_t used = 0;
	buf[0] = 0;
	for (size_t i = 0; i < t->n && used < len; i++) {
		int n = snprintf(buf + used, len - used, "%s%s", i ? sep : "", t->w[i].word);
		if (n < 0)
			break;
		used += (size_t)n;
	}
	return buf;
}

const char *config_upstream_tls_name(enum config_upstream_tls v)
{
	return config_word_name(&config_words_upstream_tls, (int)v);
}
const char *config_tls_version_name(enum config_tls_version v)
{
	return config_word_name(&config_words_tls_min, (int)v);
}
const char *config_auth_name(enum config_auth v)
{
	return config_word_name(&config_words_auth, (int)v);
}
const char *config_offer_name(enum config_offer v)
{
	return config_word_name(&config_words_offer, (int)v);
}
const char *config_seen_on_name(enum config_seen_on v)
{
	return config_word_name(&config_words_seen_on, (int)v);
}
const char *config_dele_name(enum config_dele v)
{
	return config_word_name(&config_words_dele, (int)v);
}
const char *config_log_level_name(enum base_log_level v)
{
	return config_word_name(&config_words_log_level, (int)v);
}
const char *config_sent_copy_name(enum config_sent_copy v)
{
	return config_word_name(&config_words_sent_copy, (int)v);
}

/* How each key's value is parsed. */
enum vtype { V_URL, V_SMTP_URL, V_PATH, V_UINT, V_LISTEN, V_ENUM, V_FOLDER, V_KEYWORD,
	V_BOOL, V_SEP, V_USER, V_CIDR, V_ENDPOINT };

struct keydef {
	const char *name;
	enum vtype type;
	unsigned long min, max;       /* V_UINT */
	const struct config_words *names; /* V_ENUM, V_BOOL */
};

static const struct keydef keys[PB_K_COUNT] = {
	[PB_K_UPSTREAM]         = { "upstream", V_URL, 0, 0, NULL },
	[PB_K_UPSTREAM_TLS]     = { "upstream-tls", V_ENUM, 0, 0, &config_words_upstream_tls },
	[PB_K_UPSTREAM_CA]      = { "upstream-ca", V_PATH, 0, 0, NULL },
	[PB_K_UPSTREAM_TIMEOUT] = { "upstream-timeout", V_UINT, 1, 3600, NULL },
	[PB_K_LISTEN]           = { "listen", V_LISTEN, 0, 0, NULL },
	[PB_K_LISTEN_TLS]       = { "listen-tls", V_LISTEN, 0, 0, NULL },
	[PB_K_CERT]             = { "cert", V_PATH, 0, 0, NULL },
	[PB_K_KEY]              = { "key", V_PATH, 0, 0, NULL },
	[PB_K_TLS_MIN]          = { "tls-min", V_ENUM, 0, 0, &config_words_tls_min },
	[PB_K_AUTH]             = { "auth", V_ENUM, 0, 0, &config_words_auth },
	[PB_K_DEVICE_SEPARATOR] = { "device-separator", V_SEP, 0, 0, NULL },
	[PB_K_FOLDER]           = { "folder", V_FOLDER, 0, 0, NULL },
	[PB_K_OFFER]            = { "offer", V_ENUM, 0, 0, &config_words_offer },
	[PB_K_WINDOW]           = { "window", V_UINT, 0, 1000000, NULL },
	[PB_K_SEEN_ON]          = { "seen-on", V_ENUM, 0, 0, &config_words_seen_on },
	[PB_K_DELE]             = { "dele", V_ENUM, 0, 0, &config_words_dele },
	[PB_K_TRASH_FOLDER]     = { "trash-folder", V_FOLDER, 0, 0, NULL },
	[PB_K_ARCHIVE_FOLDER]   = { "archive-folder", V_FOLDER, 0, 0, NULL },
	[PB_K_DELE_KEYWORD]     = { "dele-keyword", V_KEYWORD, 0, 0, NULL },
	[PB_K_ALLOW_PLAINTEXT_AUTH] = { "allow-plaintext-auth", V_BOOL, 0, 0, &bool_names },
	[PB_K_MAX_SESSIONS]     = { "max-sessions", V_UINT, 1, 100000, NULL },
	[PB_K_MAX_SESSIONS_PER_IP] = { "max-sessions-per-ip", V_UINT, 1, 100000, NULL },
	[PB_K_IDLE_TIMEOUT]     = { "idle-timeout", V_UINT, 1, 86400, NULL },
	[PB_K_LOGIN_TIMEOUT]    = { "login-timeout", V_UINT, 1, 3600, NULL },
	[PB_K_MAX_AUTH_FAILURES] = { "max-auth-failures", V_UINT, 1, 100, NULL },
	[PB_K_MAX_DEVICES_PER_ACCOUNT] = { "max-devices-per-account", V_UINT, 1, 100000, NULL },
	[PB_K_PROXY_PROTOCOL]   = { "proxy-protocol", V_BOOL, 0, 0, &bool_names },
	[PB_K_TRUSTED_PROXY]    = { "trusted-proxy", V_CIDR, 0, 0, NULL },
	[PB_K_UPSTREAM_FORWARD_CLIENT_IP] = { "upstream-forward-client-ip", V_BOOL, 0, 0,
		&bool_names },
	[PB_K_UPSTREAM_REUSE]   = { "upstream-reuse", V_UINT, 0, 3600, NULL },
	[PB_K_UPSTREAM_MAX_PER_ACCOUNT] = { "upstream-max-per-account", V_UINT, 1, 1000, NULL },
	[PB_K_USER]             = { "user", V_USER, 0, 0, NULL },
	[PB_K_SYSLOG]           = { "syslog", V_BOOL, 0, 0, &bool_names },
	[PB_K_LOG_LEVEL]        = { "log-level", V_ENUM, 0, 0, &config_words_log_level },
	[PB_K_STATE]            = { "state", V_PATH, 0, 0, NULL },
	[PB_K_KEY_FILE]         = { "key-file", V_PATH, 0, 0, NULL },
	[PB_K_LOGIN_DELAY]      = { "login-delay", V_UINT, 0, 86400, NULL },
	[PB_K_IMAP_LISTEN]      = { "imap-listen", V_LISTEN, 0, 0, NULL },
	[PB_K_IMAP_LISTEN_TLS]  = { "imap-listen-tls", V_LISTEN, 0, 0, NULL },
	[PB_K_METRICS_LISTEN]   = { "metrics-listen", V_ENDPOINT, 0, 0, NULL },
	[PB_K_SMTP_UPSTREAM]    = { "smtp-upstream", V_SMTP_URL, 0, 0, NULL },
	[PB_K_SMTP_UPSTREAM_TLS] = { "smtp-upstream-tls", V_ENUM, 0, 0, &config_words_upstream_tls },
	[PB_K_SMTP_LISTEN]      = { "smtp-listen", V_LISTEN, 0, 0, NULL },
	[PB_K_SMTP_LISTEN_TLS]  = { "smtp-listen-tls", V_LISTEN, 0, 0, NULL },
	[PB_K_SENT_COPY]        = { "sent-copy", V_ENUM, 0, 0, &config_words_sent_copy },
	[PB_K_SENT_FOLDER]      = { "sent-folder", V_FOLDER, 0, 0, NULL },
};

const char *config_key_name(enum config_key k) { return keys[k].name; }

int config_key_lookup(const char *name)
{
	for (int k = 0; k < PB_K_COUNT; k++)
		if (strcmp(keys[k].name, name) == 0)
			return k;
	return -1;
}

bool config_key_repeatable(enum config_key k)
{
	return keys[k].type == V_LISTEN || keys[k].type == V_CIDR;
}

enum config_key_kind config_key_kind(enum config_key k)
{
	switch (keys[k].type) {
	case V_BOOL: return CONFIG_KEY_FLAG;
	case V_UINT: return CONFIG_KEY_UINT;
	case V_ENUM: return CONFIG_KEY_WORD;
	default: return CONFIG_KEY_TEXT;
	}
}

void config_key_range(enum config_key k, unsigned long *min, unsigned long *max)
{
	*min = keys[k].min;
	*max = keys[k].max;
}

const struct config_words *config_key_words(enum config_key k)
{
	return keys[k].type == V_ENUM ? keys[k].names : NULL;
}

#define SHOWN(s) BASE_SHOWN(s)

/* ---- primitive parsers ------------------------------------------------------ */

int config_parse_uint(const char *s, unsigned long min, unsigned long max,
    unsigned long *out)
{
	unsigned long n = 0;
	if (!s || !*s)
		return -1;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		if (n > (max - (unsigned long)(*p - '0')) / 10)
			return -1;  /* would exceed max */
		n = n * 10 + (unsigned long)(*p - '0');
	}
	if (n < min)
		return -1;
	*out = n;
	return 0;
}

int config_parse_number(const char *s, unsigned long min, unsigned long max,
    unsigned long *out, char *err, size_t errlen)
{
	if (config_parse_uint(s, min, max, out) != 0)
		return base_errf(err, errlen, "'%s' is not a number from %lu to %lu", SHOWN(s), min, max);
	return 0;
}

/* Valid UTF-8 with no control characters (C0, DEL). */
static bool clean_text(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		if (*p < 0x20 || *p == 0x7f)
			return false;
		if (*p < 0x80) {
			p++;
			continue;
		}
		int n = (*p & 0xe0) == 0xc0 ? 1 : (*p & 0xf0) == 0xe0 ? 2 :
		    (*p & 0xf8) == 0xf0 ? 3 : -1;
		if (n < 0 || (*p == 0xc0 || *p == 0xc1) || *p > 0xf4)
			return false;
		for (int i = 1; i <= n; i++)
			if ((p[i] & 0xc0) != 0x80)
				return false;
		p += n + 1;
	}
	return true;
}

int config_word_parse(const struct config_words *t, const char *s, int *out,
    char *err, size_t errlen)
{
	char list[160];
	int v = config_word_value(t, s);
	if (v >= 0) {
		*out = v;
		return 0;
	}
	return base_errf(err, errlen, "'%s' is not one of: %s", SHOWN(s),
	    config_words_join(t, ", ", list, sizeof(list)));
}

static int copy_text(char *dst, size_t dstlen, const char *s, const char *what,
    char *err, size_t errlen)
{
	size_t len = strlen(s);
	if (len == 0)
		return base_errf(err, errlen, "empty %s", what);
	if (len >= dstlen)
		return base_errf(err, errlen, "%s longer than %zu bytes", what, dstlen - 1);
	if (!clean_text(s))
		return base_errf(err, errlen, "%s '%s' contains control characters or invalid UTF-8",
		    what, SHOWN(s));
	memcpy(dst, s, len + 1);
	return 0;
}

static int parse_keyword(const char *s, char *dst, char *err, size_t errlen)
{
	size_t len = strlen(s);
	if (len == 0 || len >= PB_KEYWORD_MAX)
		return base_errf(err, errlen, "a keyword has 1 to %d characters", PB_KEYWORD_MAX - 1);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c))
			return base_errf(err, errlen,
			    "'%s' is not an IMAP keyword (printable ASCII without spaces or ( ) { %% * \" \\ ])",
			    SHOWN(s));
	}
	memcpy(dst, s, len + 1);
	return 0;
}

static int parse_separator(const char *s, char *dst, char *err, size_t errlen)
{
	unsigned char c = (unsigned char)s[0];
	if (c == 0 || s[1] != 0 || !ispunct(c) || strchr("@._-\"\\", c))
		return base_errf(err, errlen,
		    "'%s': the device separator is one punctuation character other than @ . _ - \" \\",
		    SHOWN(s));
	*dst = (char)c;
	return 0;
}

static int parse_user(const char *s, char *dst, char *err, size_t errlen)
{
	size_t len = strlen(s);
	bool ok = len > 0 && len < PB_USERNAME_MAX &&
	    (isalpha((unsigned char)s[0]) || s[0] == '_');
	for (size_t i = 0; ok && i < len; i++)
		ok = isalnum((unsigned char)s[i]) || strchr("_.-", s[i]);
	if (!ok)
		return base_errf(err, errlen, "'%s' is not a system user name", SHOWN(s));
	memcpy(dst, s, len + 1);
	return 0;
}

static int parse_bool(const char *s, bool *out, char *err, size_t errlen)
{
	int v;
	if (!s) {
		*out = true;
		return 0;
	}
	if (config_word_parse(&bool_names, s, &v, err, errlen) != 0)
		return -1;
	*out = v == 1;
	return 0;
}

/* ---- the model ---------------------------------------------------------- */

static void device_defaults(struct config_device_settings *d)
{
	memset(d, 0, sizeof(*d));
	strcpy(d->folder, "INBOX");
	d->offer = PB_OFFER_ALL;
	d->window = 0;
	d->seen_on = PB_SEEN_RETR;
	d->dele = PB_DELE_HIDE;
}

void config_options_init(struct config_options *o)
{
	memset(o, 0, sizeof(*o));
	o->upstream_scheme = PB_UTLS_IMPLICIT;
	o->upstream_tls = PB_UTLS_IMPLICIT;
	o->upstream_timeout = PB_DEFAULT_UPSTREAM_TIMEOUT;
	o->tls_min = PB_TLS_1_2;
	o->auth = PB_AUTH_PASSTHROUGH;
	o->device_separator = '#';
	device_defaults(&o->dev);
	strcpy(o->trash_folder, "Trash");
	strcpy(o->archive_folder, "Archive");
	strcpy(o->dele_keyword, "$POP3Deleted");
	o->max_sessions = PB_DEFAULT_MAX_SESSIONS;
	o->max_sessions_per_ip = PB_DEFAULT_MAX_SESSIONS_PER_IP;
	o->idle_timeout = PB_DEFAULT_IDLE_TIMEOUT;
	o->login_timeout = PB_DEFAULT_LOGIN_TIMEOUT;
	o->max_auth_failures = PB_DEFAULT_MAX_AUTH_FAILURES;
	o->max_devices_per_account = PB_DEFAULT_MAX_DEVICES_PER_ACCOUNT;
	o->upstream_reuse = PB_DEFAULT_UPSTREAM_REUSE;
	o->upstream_max_per_account = PB_DEFAULT_UPSTREAM_MAX_PER_ACCOUNT;
	o->log_level = PB_LOG_INFO;
	strcpy(o->state, PB_DEFAULT_STATE);
	o->smtp_upstream_scheme = PB_UTLS_STARTTLS;
	o->smtp_upstream_tls = PB_UTLS_STARTTLS;
	o->sent_copy = PB_SENT_AUTO;
	strcpy(o->sent_folder, "Sent");
}

void config_options_free(struct config_options *o)
{
	free(o->devices);
	o->devices = NULL;
	o->n_devices = 0;
}

static bool same_endpoint(const struct config_endpoint *a, const struct config_endpoint *b)
{
	return a->port == b->port && strcmp(a->host, b->host) == 0;
}

static int add_listener(struct config_endpoint *list, size_t *n, bool replace,
    const struct config_endpoint *ep, char *err, size_t errlen)
{
	char buf[PB_HOST_MAX + 10];
	if (replace)
		*n = 0;  /* nothing below fails when the list is empty */
	for (size_t i = 0; i < *n; i++)
		if (same_endpoint(&list[i], ep))
			return base_errf(err, errlen, "%s is given twice",
			    config_endpoint_format(ep, buf, sizeof(buf)));
	if (*n >= PB_LISTEN_MAX)
		return base_errf(err, errlen, "more than %d listeners of one kind", PB_LISTEN_MAX);
	list[(*n)++] = *ep;
	return 0;
}

/* Another --trusted-proxy range; the first of a layer replaces the list. */
static int add_trusted_proxy(struct config_options *o, bool replace, const char *value,
    char *err, size_t errlen)
{
	struct base_cidr c;
	char a[64], b[64];
	if (base_cidr_parse(value, &c, err, errlen) != 0)
		return -1;
	if (replace)
		o->n_trusted_proxy = 0;
	for (size_t i = 0; i < o->n_trusted_proxy; i++)
		if (strcmp(base_cidr_format(&o->trusted_proxy[i], a, sizeof(a)),
		    base_cidr_format(&c, b, sizeof(b))) == 0)
			return base_errf(err, errlen, "%s is given twice", b);
	if (o->n_trusted_proxy >= PB_TRUSTED_PROXY_MAX)
		return base_errf(err, errlen, "more than %d trusted proxy ranges", PB_TRUSTED_PROXY_MAX);
	o->trusted_proxy[o->n_trusted_proxy++] = c;
	return 0;
}

/* Parse a device-level value (folder, offer, window, seen-on, dele,
 * login-delay) into d. */
static int set_device_value(struct config_device_settings *d, enum config_key k,
    const char *value, char *err, size_t errlen)
{
	unsigned long n;
	int e;
	switch (k) {
	case PB_K_FOLDER:
		return copy_text(d->folder, sizeof(d->folder), value, "folder name", err, errlen);
	case PB_K_WINDOW:
	case PB_K_LOGIN_DELAY:
		if (config_parse_number(value, keys[k].min, keys[k].max, &n, err, errlen) != 0)
			return -1;
		if (k == PB_K_WINDOW)
			d->window = (uint32_t)n;
		else
			d->login_delay = (uint32_t)n;
		return 0;
	case PB_K_OFFER:
	case PB_K_SEEN_ON:
	case PB_K_DELE:
		if (config_word_parse(keys[k].names, value, &e, err, errlen) != 0)
			return -1;
		if (k == PB_K_OFFER)
			d->offer = (enum config_offer)e;
		else if (k == PB_K_SEEN_ON)
			d->seen_on = (enum config_seen_on)e;
		else
			d->dele = (enum config_dele)e;
		return 0;
	default:
		return base_errf(err, errlen, "'%s' is not a per-device setting", keys[k].name);
	}
}

int config_options_set(struct config_options *o, enum config_key k, const char *value,
    char *err, size_t errlen)
{
	const struct keydef *kd = &keys[k];
	struct config_endpoint ep;
	enum config_upstream_tls scheme;
	unsigned long n;
	int e;
	int rc = 0;

	if (kd->type != V_BOOL && !value)
		return base_errf(err, errlen, "a value is required");
	if (PB_KEY_BIT(k) & PB_DEVICE_KEYS) {
		rc = set_device_value(&o->dev, k, value, err, errlen);
		goto done;
	}
	switch (kd->type) {
	case V_URL:
		if ((rc = config_parse_upstream_url(value, &ep, &scheme, err, errlen)) == 0) {
			o->upstream = ep;
			o->upstream_scheme = scheme;
		}
		break;
	case V_SMTP_URL:
		if ((rc = config_parse_smtp_url(value, &ep, &scheme, err, errlen)) == 0) {
			o->smtp_upstream = ep;
			o->smtp_upstream_scheme = scheme;
		}
		break;
	case V_LISTEN:
		if ((rc = config_parse_listen(value, &ep, err, errlen)) != 0)
			break;
		if (k == PB_K_LISTEN)
			rc = add_listener(o->listen, &o->n_listen,
			    !(o->set & PB_KEY_BIT(k)), &ep, err, errlen);
		else if (k == PB_K_IMAP_LISTEN)
			rc = add_listener(o->imap_listen, &o->n_imap_listen,
			    !(o->set & PB_KEY_BIT(k)), &ep, err, errlen);
		else if (k == PB_K_IMAP_LISTEN_TLS)
			rc = add_listener(o->imap_listen_tls, &o->n_imap_listen_tls,
			    !(o->set & PB_KEY_BIT(k)), &ep, err, errlen);
		else if (k == PB_K_LISTEN_TLS)
			rc = add_listener(o->listen_tls, &o->n_listen_tls,
			    !(o->set & PB_KEY_BIT(k)), &ep, err, errlen);
		else if (k == PB_K_SMTP_LISTEN)
			rc = add_listener(o->smtp_listen, &o->n_smtp_listen,
			    !(o->set & PB_KEY_BIT(k)), &ep, err, errlen);
		else
			rc = add_listener(o->smtp_listen_tls, &o->n_smtp_listen_tls,
			    !(o->set & PB_KEY_BIT(k)), &ep, err, errlen);
		break;
	case V_PATH: {
		char *dst = k == PB_K_UPSTREAM_CA ? o->upstream_ca : k == PB_K_CERT ? o->cert :
		    k == PB_K_KEY ? o->key : k == PB_K_STATE ? o->state : o->key_file;
		rc = copy_text(dst, PB_PATH_MAX, value, "file name", err, errlen);
		break;
	}
	case V_UINT:
		if ((rc = config_parse_number(value, kd->min, kd->max, &n, err, errlen)) != 0)
			break;
		if (k == PB_K_UPSTREAM_TIMEOUT)
			o->upstream_timeout = (unsigned)n;
		else if (k == PB_K_MAX_SESSIONS)
			o->max_sessions = (unsigned)n;
		else if (k == PB_K_MAX_SESSIONS_PER_IP)
			o->max_sessions_per_ip = (unsigned)n;
		else if (k == PB_K_LOGIN_TIMEOUT)
			o->login_timeout = (unsigned)n;
		else if (k == PB_K_MAX_AUTH_FAILURES)
			o->max_auth_failures = (unsigned)n;
		else if (k == PB_K_MAX_DEVICES_PER_ACCOUNT)
			o->max_devices_per_account = (unsigned)n;
		else if (k == PB_K_UPSTREAM_REUSE)
			o->upstream_reuse = (unsigned)n;
		else if (k == PB_K_UPSTREAM_MAX_PER_ACCOUNT)
			o->upstream_max_per_account = (unsigned)n;
		else
			o->idle_timeout = (unsigned)n;
		break;
	case V_ENUM:
		if ((rc = config_word_parse(kd->names, value, &e, err, errlen)) != 0)
			break;
		if (k == PB_K_UPSTREAM_TLS)
			o->upstream_tls = (enum config_upstream_tls)e;
		else if (k == PB_K_TLS_MIN)
			o->tls_min = (enum config_tls_version)e;
		else if (k == PB_K_AUTH)
			o->auth = (enum config_auth)e;
		else if (k == PB_K_SMTP_UPSTREAM_TLS)
			o->smtp_upstream_tls = (enum config_upstream_tls)e;
		else if (k == PB_K_SENT_COPY)
			o->sent_copy = (enum config_sent_copy)e;
		else
			o->log_level = (enum base_log_level)e;
		break;
	case V_FOLDER:
		rc = copy_text(k == PB_K_TRASH_FOLDER ? o->trash_folder : k == PB_K_SENT_FOLDER ?
		    o->sent_folder : o->archive_folder, PB_FOLDER_MAX, value, "folder name", err,
		    errlen);
		break;
	case V_KEYWORD:
		rc = parse_keyword(value, o->dele_keyword, err, errlen);
		break;
	case V_SEP:
		rc = parse_separator(value, &o->device_separator, err, errlen);
		break;
	case V_USER:
		rc = parse_user(value, o->user, err, errlen);
		break;
	case V_BOOL:
		rc = parse_bool(value, k == PB_K_SYSLOG ? &o->syslog :
		    k == PB_K_PROXY_PROTOCOL ? &o->proxy_protocol :
		    k == PB_K_UPSTREAM_FORWARD_CLIENT_IP ? &o->upstream_forward_client_ip :
		    &o->allow_plaintext_auth, err, errlen);
		break;
	case V_CIDR:
		rc = add_trusted_proxy(o, !(o->set & PB_KEY_BIT(k)), value, err, errlen);
		break;
	case V_ENDPOINT:
		if ((rc = config_parse_listen(value, &ep, err, errlen)) == 0)
			o->metrics_listen = ep;
		break;
	}
done:
	if (rc == 0)
		o->set |= PB_KEY_BIT(k);
	return rc;
}

static int copy_sections(struct config_options *dst, const struct config_options *src,
    char *err, size_t errlen)
{
	struct config_device_section *copy = malloc(src->n_devices * sizeof(*copy));
	if (!copy)
		return base_errf(err, errlen, "out of memory");
	memcpy(copy, src->devices, src->n_devices * sizeof(*copy));
	free(dst->devices);
	dst->devices = copy;
	dst->n_devices = src->n_devices;
	return 0;
}

int config_options_merge(struct config_options *dst, const struct config_options *src,
    char *err, size_t errlen)
{
	for (int k = 0; k < PB_K_COUNT; k++) {
		if (!(src->set & PB_KEY_BIT(k)))
			continue;
		switch ((enum config_key)k) {
		case PB_K_UPSTREAM:
			dst->upstream = src->upstream;
			dst->upstream_scheme = src->upstream_scheme;
			break;
		case PB_K_UPSTREAM_TLS: dst->upstream_tls = src->upstream_tls; break;
		case PB_K_UPSTREAM_CA: strcpy(dst->upstream_ca, src->upstream_ca); break;
		case PB_K_UPSTREAM_TIMEOUT: dst->upstream_timeout = src->upstream_timeout; break;
		case PB_K_LISTEN:
			memcpy(dst->listen, src->listen, sizeof(dst->listen));
			dst->n_listen = src->n_listen;
			break;
		case PB_K_LISTEN_TLS:
			memcpy(dst->listen_tls, src->listen_tls, sizeof(dst->listen_tls));
			dst->n_listen_tls = src->n_listen_tls;
			break;
		case PB_K_IMAP_LISTEN:
			memcpy(dst->imap_listen, src->imap_listen, sizeof(dst->imap_listen));
			dst->n_imap_listen = src->n_imap_listen;
			break;
		case PB_K_IMAP_LISTEN_TLS:
			memcpy(dst->imap_listen_tls, src->imap_listen_tls, sizeof(dst->imap_listen_tls));
			dst->n_imap_listen_tls = src->n_imap_listen_tls;
			break;
		case PB_K_CERT: strcpy(dst->cert, src->cert); break;
		case PB_K_KEY: strcpy(dst->key, src->key); break;
		case PB_K_TLS_MIN: dst->tls_min = src->tls_min; break;
		case PB_K_AUTH: dst->auth = src->auth; break;
		case PB_K_DEVICE_SEPARATOR: dst->device_separator = src->device_separator; break;
		case PB_K_FOLDER: strcpy(dst->dev.folder, src->dev.folder); break;
		case PB_K_OFFER: dst->dev.offer = src->dev.offer; break;
		case PB_K_WINDOW: dst->dev.window = src->dev.window; break;
		case PB_K_LOGIN_DELAY: dst->dev.login_delay = src->dev.login_delay; break;
		case PB_K_SEEN_ON: dst->dev.seen_on = src->dev.seen_on; break;
		case PB_K_DELE: dst->dev.dele = src->dev.dele; break;
		case PB_K_TRASH_FOLDER: strcpy(dst->trash_folder, src->trash_folder); break;
		case PB_K_ARCHIVE_FOLDER: strcpy(dst->archive_folder, src->archive_folder); break;
		case PB_K_DELE_KEYWORD: strcpy(dst->dele_keyword, src->dele_keyword); break;
		case PB_K_ALLOW_PLAINTEXT_AUTH:
			dst->allow_plaintext_auth = src->allow_plaintext_auth;
			break;
		case PB_K_MAX_SESSIONS: dst->max_sessions = src->max_sessions; break;
		case PB_K_MAX_SESSIONS_PER_IP:
			dst->max_sessions_per_ip = src->max_sessions_per_ip;
			break;
		case PB_K_IDLE_TIMEOUT: dst->idle_timeout = src->idle_timeout; break;
		case PB_K_LOGIN_TIMEOUT: dst->login_timeout = src->login_timeout; break;
		case PB_K_MAX_AUTH_FAILURES: dst->max_auth_failures = src->max_auth_failures; break;
		case PB_K_MAX_DEVICES_PER_ACCOUNT:
			dst->max_devices_per_account = src->max_devices_per_account;
			break;
		case PB_K_PROXY_PROTOCOL: dst->proxy_protocol = src->proxy_protocol; break;
		case PB_K_TRUSTED_PROXY:
			memcpy(dst->trusted_proxy, src->trusted_proxy, sizeof(dst->trusted_proxy));
			dst->n_trusted_proxy = src->n_trusted_proxy;
			break;
		case PB_K_UPSTREAM_FORWARD_CLIENT_IP:
			dst->upstream_forward_client_ip = src->upstream_forward_client_ip;
			break;
		case PB_K_UPSTREAM_REUSE: dst->upstream_reuse = src->upstream_reuse; break;
		case PB_K_UPSTREAM_MAX_PER_ACCOUNT:
			dst->upstream_max_per_account = src->upstream_max_per_account;
			break;
		case PB_K_USER: strcpy(dst->user, src->user); break;
		case PB_K_SYSLOG: dst->syslog = src->syslog; break;
		case PB_K_LOG_LEVEL: dst->log_level = src->log_level; break;
		case PB_K_STATE: strcpy(dst->state, src->state); break;
		case PB_K_KEY_FILE: strcpy(dst->key_file, src->key_file); break;
		case PB_K_METRICS_LISTEN: dst->metrics_listen = src->metrics_listen; break;
		case PB_K_SMTP_UPSTREAM:
			dst->smtp_upstream = src->smtp_upstream;
			dst->smtp_upstream_scheme = src->smtp_upstream_scheme;
			break;
		case PB_K_SMTP_UPSTREAM_TLS: dst->smtp_upstream_tls = src->smtp_upstream_tls; break;
		case PB_K_SMTP_LISTEN:
			memcpy(dst->smtp_listen, src->smtp_listen, sizeof(dst->smtp_listen));
			dst->n_smtp_listen = src->n_smtp_listen;
			break;
		case PB_K_SMTP_LISTEN_TLS:
			memcpy(dst->smtp_listen_tls, src->smtp_listen_tls, sizeof(dst->smtp_listen_tls));
			dst->n_smtp_listen_tls = src->n_smtp_listen_tls;
			break;
		case PB_K_SENT_COPY: dst->sent_copy = src->sent_copy; break;
		case PB_K_SENT_FOLDER: strcpy(dst->sent_folder, src->sent_folder); break;
		case PB_K_COUNT: break;
		}
		dst->set |= PB_KEY_BIT(k);
	}
	if (src->n_devices > 0 && copy_sections(dst, src, err, errlen) != 0)
		return -1;
	return 0;
}

/* SMTP submission (SPEC §11): listeners need an upstream (for a command that
 * serves: need_upstream) and, for TLS, the certificate; the URL and the TLS
 * mode agree as for --upstream. (No address serves two protocols:
 * config_options_finish.) */
static int smtp_finish(struct config_options *o, bool need_upstream, enum config_key *bad,
    char *err, size_t errlen)
{
	size_t n_all = o->n_smtp_listen + o->n_smtp_listen_tls;

#define SBAD(k, ...) do { *bad = (k); return base_errf(err, errlen, __VA_ARGS__); } while (0)
	if (o->smtp_upstream.host[0] == 0) {
		if (n_all > 0 && need_upstream)
			SBAD(PB_K_SMTP_UPSTREAM, "smtp-listen needs an upstream submission server: give "
			    "--smtp-upstream URL or <smtp upstream=\"...\"/>");
	} else if (!(o->set & PB_KEY_BIT(PB_K_SMTP_UPSTREAM_TLS))) {
		o->smtp_upstream_tls = o->smtp_upstream_scheme;
	} else if (o->smtp_upstream_scheme == PB_UTLS_IMPLICIT &&
	    o->smtp_upstream_tls != PB_UTLS_IMPLICIT) {
		SBAD(PB_K_SMTP_UPSTREAM_TLS, "smtp-upstream-tls %s contradicts the smtps:// URL "
		    "(use smtp://HOST for starttls or none)",
		    config_upstream_tls_name(o->smtp_upstream_tls));
	} else if (o->smtp_upstream_scheme == PB_UTLS_STARTTLS &&
	    o->smtp_upstream_tls == PB_UTLS_IMPLICIT) {
		SBAD(PB_K_SMTP_UPSTREAM_TLS, "smtp-upstream-tls implicit needs an smtps:// URL");
	}
	if (o->n_smtp_listen_tls > 0 && !o->cert[0])
		SBAD(PB_K_SMTP_LISTEN_TLS, "smtp-listen-tls needs a certificate (cert and key)");
#undef SBAD
	return 0;
}

int config_options_finish(struct config_options *o, bool need_upstream, enum config_key *bad_key,
    char *err, size_t errlen)
{
	char buf[PB_HOST_MAX + 10];
	enum config_key bad;

#define BAD(k, ...) do { bad = (k); base_errf(err, errlen, __VA_ARGS__); goto failed; } while (0)
	if (o->upstream.host[0] == 0) {
		if (need_upstream)
			BAD(PB_K_UPSTREAM,
			    "no upstream server: give --upstream URL or <upstream url=\"...\"/>");
	} else if (!(o->set & PB_KEY_BIT(PB_K_UPSTREAM_TLS))) {
		o->upstream_tls = o->upstream_scheme;
	} else if (o->upstream_scheme == PB_UTLS_IMPLICIT && o->upstream_tls != PB_UTLS_IMPLICIT) {
		BAD(PB_K_UPSTREAM_TLS, "upstream-tls %s contradicts the imaps:// URL "
		    "(use imap://HOST for starttls or none)", config_upstream_tls_name(o->upstream_tls));
	} else if (o->upstream_scheme == PB_UTLS_STARTTLS && o->upstream_tls == PB_UTLS_IMPLICIT) {
		BAD(PB_K_UPSTREAM_TLS, "upstream-tls implicit needs an imaps:// URL");
	}
	if (smtp_finish(o, need_upstream, &bad, err, errlen) != 0)
		goto failed;
	/* (the submission server's TLS uses upstream-ca too, SPEC §11) */
	if (o->upstream_ca[0] && o->upstream.host[0] && o->upstream_tls == PB_UTLS_NONE &&
	    !(o->smtp_upstream.host[0] && o->smtp_upstream_tls != PB_UTLS_NONE))
		BAD(PB_K_UPSTREAM_CA, "upstream-ca is given but upstream-tls is none");

	if (!o->cert[0] != !o->key[0])
		BAD(o->cert[0] ? PB_K_CERT : PB_K_KEY,
		    "cert and key go together: give both or neither");
	if (o->n_listen_tls > 0 && !o->cert[0])
		BAD(PB_K_LISTEN_TLS, "listen-tls needs a certificate (cert and key)");
	for (size_t i = 0; i < o->n_listen; i++)
		for (size_t j = 0; j < o->n_listen_tls; j++)
			if (same_endpoint(&o->listen[i], &o->listen_tls[j]))
				BAD(PB_K_LISTEN_TLS, "%s is both a listen and a listen-tls address",
				    config_endpoint_format(&o->listen[i], buf, sizeof(buf)));
	if (o->n_imap_listen_tls > 0 && !o->cert[0])
		BAD(PB_K_IMAP_LISTEN_TLS, "imap-listen-tls needs a certificate (cert and key)");
	/* One address, one protocol: the IMAP front's and SMTP submission's
	 * addresses are none of the POP3 ones, nor each other's. */
	const struct { enum config_key k; const struct config_endpoint *l; size_t n; } kinds[] = {
		{ PB_K_LISTEN, o->listen, o->n_listen },
		{ PB_K_LISTEN_TLS, o->listen_tls, o->n_listen_tls },
		{ PB_K_IMAP_LISTEN, o->imap_listen, o->n_imap_listen },
		{ PB_K_IMAP_LISTEN_TLS, o->imap_listen_tls, o->n_imap_listen_tls },
		{ PB_K_SMTP_LISTEN, o->smtp_listen, o->n_smtp_listen },
		{ PB_K_SMTP_LISTEN_TLS, o->smtp_listen_tls, o->n_smtp_listen_tls },
	};
	for (size_t a = 2; a < sizeof(kinds) / sizeof(kinds[0]); a++)
		for (size_t b = 0; b < a; b++)
			for (size_t i = 0; i < kinds[a].n; i++)
				for (size_t j = 0; j < kinds[b].n; j++)
					if (same_endpoint(&kinds[a].l[i], &kinds[b].l[j]))
						BAD(kinds[a].k, "%s is given as %s and as %s",
						    config_endpoint_format(&kinds[a].l[i], buf, sizeof(buf)),
						    keys[kinds[b].k].name, keys[kinds[a].k].name);
	for (size_t a = 0; a < 4 && o->metrics_listen.host[0]; a++)
		for (size_t i = 0; i < kinds[a].n; i++)
			if (same_endpoint(&o->metrics_listen, &kinds[a].l[i]))
				BAD(PB_K_METRICS_LISTEN, "%s is given as %s and as metrics-listen",
				    config_endpoint_format(&o->metrics_listen, buf, sizeof(buf)),
				    keys[kinds[a].k].name);
	if (o->proxy_protocol && o->n_trusted_proxy == 0)
		BAD(PB_K_PROXY_PROTOCOL, "proxy-protocol needs at least one trusted-proxy range "
		    "(headers are read from those addresses only)");
	if (!o->proxy_protocol && o->n_trusted_proxy > 0)
		BAD(PB_K_TRUSTED_PROXY, "trusted-proxy has no effect without proxy-protocol");
	if (o->n_listen == 0 && o->n_listen_tls == 0) {
		struct config_endpoint *ep = &o->listen[o->n_listen++];
		memset(ep, 0, sizeof(*ep));
		strcpy(ep->host, PB_DEFAULT_LISTEN_ADDR);
		ep->port = PB_DEFAULT_LISTEN_PORT;
	}

	if (!o->key_file[0]) {
		size_t sl = strlen(o->state);
		if (sl + sizeof(".key") > sizeof(o->key_file))
			BAD(PB_K_STATE, "state file name too long to derive the key file name");
		memcpy(o->key_file, o->state, sl);
		memcpy(o->key_file + sl, ".key", sizeof(".key"));
	}
	if (strcmp(o->key_file, o->state) == 0)
		BAD(PB_K_KEY_FILE, "the key file and the state file must differ");

	for (size_t i = 0; i < o->n_devices; i++) {
		const struct config_device_section *s = &o->devices[i];
		if (config_section_check_separator(s, o->device_separator, err, errlen) != 0) {
			bad = PB_K_DEVICE_SEPARATOR;
			goto failed;
		}
	}
#undef BAD
	return 0;
failed:
	if (bad_key)
		*bad_key = bad;
	return -1;
}

int config_section_check_separator(const struct config_device_section *s, char sep,
    char *err, size_t errlen)
{
	if (strchr(s->device, sep) || strchr(s->account, sep))
		return base_errf(err, errlen, "device '%s' of account '%s': a name contains "
		    "the device separator '%c'", SHOWN(s->device), SHOWN(s->account), sep);
	return 0;
}

/* ---- device sections ------------------------------------------------------- */

const struct config_device_section *config_options_find_section(const struct config_options *o,
    const char *account, const char *device)
{
	for (size_t i = 0; i < o->n_devices; i++)
		if (strcasecmp(o->devices[i].account, account) == 0 &&
		    strcasecmp(o->devices[i].device, device) == 0)
			return &o->devices[i];
	return NULL;
}

struct config_device_section *config_options_new_section(struct config_options *o,
    const char *account, const char *device, unsigned line, char *err, size_t errlen)
{
	struct config_device_section s;
	memset(&s, 0, sizeof(s));
	if (!state_account_name_ok(account)) {
		base_errf(err, errlen, "%s", STATE_ACCOUNT_RULE);
		return NULL;
	}
	if (base_device_name_check(device) != 0) {
		base_errf(err, errlen, "%s", BASE_DEVICE_RULE);
		return NULL;
	}
	if (copy_text(s.account, sizeof(s.account), account, "account name", err, errlen) != 0 ||
	    copy_text(s.device, sizeof(s.device), device, "device name", err, errlen) != 0)
		return NULL;
	base_device_name_fold(s.device);
	const struct config_device_section *old = config_options_find_section(o, account, device);
	if (old) {
		base_errf(err, errlen, "a second section for device '%s' of account '%s' (first at line %u)",
		    SHOWN(device), SHOWN(account), old->line);
		return NULL;
	}
	if (o->n_devices >= PB_DEVICE_SECTIONS_MAX) {
		base_errf(err, errlen, "more than %d device sections", PB_DEVICE_SECTIONS_MAX);
		return NULL;
	}
	/* Grow in powers of two: n_devices is a power of two exactly when full. */
	if ((o->n_devices & (o->n_devices - 1)) == 0) {
		size_t cap = o->n_devices ? o->n_devices * 2 : 8;
		struct config_device_section *d = realloc(o->devices, cap * sizeof(*d));
		if (!d) {
			base_errf(err, errlen, "out of memory");
			return NULL;
		}
		o->devices = d;
	}
	device_defaults(&s.v);
	s.line = line;
	o->devices[o->n_devices] = s;
	return &o->devices[o->n_devices++];
}

int config_section_set(struct config_device_section *s, enum config_key k, const char *value,
    char *err, size_t errlen)
{
	if (!(PB_KEY_BIT(k) & PB_DEVICE_KEYS))
		return base_errf(err, errlen, "'%s' cannot be set per device", keys[k].name);
	if (!value)
		return base_errf(err, errlen, "a value is required");
	if (set_device_value(&s->v, k, value, err, errlen) != 0)
		return -1;
	s->set |= PB_KEY_BIT(k);
	return 0;
}

void config_options_device(const struct config_options *o, const char *account,
    const char *device, struct config_device_settings *out)
{
	*out = o->dev;
	const struct config_device_section *s = config_options_find_section(o, account, device);
	if (!s)
		return;
	if (s->set & PB_KEY_BIT(PB_K_FOLDER))
		strcpy(out->folder, s->v.folder);
	if (s->set & PB_KEY_BIT(PB_K_OFFER))
		out->offer = s->v.offer;
	if (s->set & PB_KEY_BIT(PB_K_WINDOW))
		out->window = s->v.window;
	if (s->set & PB_KEY_BIT(PB_K_SEEN_ON))
		out->seen_on = s->v.seen_on;
	if (s->set & PB_KEY_BIT(PB_K_DELE))
		out->dele = s->v.dele;
	if (s->set & PB_KEY_BIT(PB_K_LOGIN_DELAY))
		out->login_delay = s->v.login_delay;
}

const char *config_options_format(const struct config_options *o, enum config_key k,
    char *buf, size_t len)
{
	const char *s = "";
	unsigned long n = 0;
	bool number = false;

	switch (k) {
	case PB_K_UPSTREAM:
		if (o->upstream.host[0])
			snprintf(buf, len, "%s://%s%s%s:%u",
			    o->upstream_scheme == PB_UTLS_IMPLICIT ? "imaps" : "imap",
			    o->upstream.ipv6 ? "[" : "", o->upstream.host, o->upstream.ipv6 ? "]" : "",
			    (unsigned)o->upstream.port);
		else
			snprintf(buf, len, "%s", "");
		return buf;
	case PB_K_SMTP_UPSTREAM:
		if (o->smtp_upstream.host[0])
			snprintf(buf, len, "%s://%s%s%s:%u",
			    o->smtp_upstream_scheme == PB_UTLS_IMPLICIT ? "smtps" : "smtp",
			    o->smtp_upstream.ipv6 ? "[" : "", o->smtp_upstream.host,
			    o->smtp_upstream.ipv6 ? "]" : "", (unsigned)o->smtp_upstream.port);
		else
			snprintf(buf, len, "%s", "");
		return buf;
	case PB_K_SMTP_UPSTREAM_TLS: s = config_upstream_tls_name(o->smtp_upstream_tls); break;
	case PB_K_SENT_COPY: s = config_sent_copy_name(o->sent_copy); break;
	case PB_K_SENT_FOLDER: s = o->sent_folder; break;
	case PB_K_LISTEN:
	case PB_K_LISTEN_TLS:
	case PB_K_IMAP_LISTEN:
	case PB_K_IMAP_LISTEN_TLS:
	case PB_K_SMTP_LISTEN:
	case PB_K_SMTP_LISTEN_TLS: {
		const struct config_endpoint *l = k == PB_K_LISTEN ? o->listen :
		    k == PB_K_LISTEN_TLS ? o->listen_tls :
		    k == PB_K_IMAP_LISTEN ? o->imap_listen :
		    k == PB_K_IMAP_LISTEN_TLS ? o->imap_listen_tls :
		    k == PB_K_SMTP_LISTEN ? o->smtp_listen : o->smtp_listen_tls;
		size_t nl = k == PB_K_LISTEN ? o->n_listen : k == PB_K_LISTEN_TLS ? o->n_listen_tls :
		    k == PB_K_IMAP_LISTEN ? o->n_imap_listen :
		    k == PB_K_IMAP_LISTEN_TLS ? o->n_imap_listen_tls :
		    k == PB_K_SMTP_LISTEN ? o->n_smtp_listen : o->n_smtp_listen_tls;
		if (nl > 0)
			return config_endpoint_format(&l[0], buf, len);
		break;
	}
	case PB_K_UPSTREAM_TLS: s = config_upstream_tls_name(o->upstream_tls); break;
	case PB_K_UPSTREAM_CA: s = o->upstream_ca; break;
	case PB_K_UPSTREAM_TIMEOUT: n = o->upstream_timeout; number = true; break;
	case PB_K_CERT: s = o->cert; break;
	case PB_K_KEY: s = o->key; break;
	case PB_K_TLS_MIN: s = config_tls_version_name(o->tls_min); break;
	case PB_K_AUTH: s = config_auth_name(o->auth); break;
	case PB_K_DEVICE_SEPARATOR:
		snprintf(buf, len, "%c", o->device_separator);
		return buf;
	case PB_K_FOLDER: s = o->dev.folder; break;
	case PB_K_OFFER: s = config_offer_name(o->dev.offer); break;
	case PB_K_WINDOW: n = o->dev.window; number = true; break;
	case PB_K_LOGIN_DELAY: n = o->dev.login_delay; number = true; break;
	case PB_K_SEEN_ON: s = config_seen_on_name(o->dev.seen_on); break;
	case PB_K_DELE: s = config_dele_name(o->dev.dele); break;
	case PB_K_TRASH_FOLDER: s = o->trash_folder; break;
	case PB_K_ARCHIVE_FOLDER: s = o->archive_folder; break;
	case PB_K_DELE_KEYWORD: s = o->dele_keyword; break;
	case PB_K_MAX_SESSIONS: n = o->max_sessions; number = true; break;
	case PB_K_MAX_SESSIONS_PER_IP: n = o->max_sessions_per_ip; number = true; break;
	case PB_K_IDLE_TIMEOUT: n = o->idle_timeout; number = true; break;
	case PB_K_LOGIN_TIMEOUT: n = o->login_timeout; number = true; break;
	case PB_K_MAX_AUTH_FAILURES: n = o->max_auth_failures; number = true; break;
	case PB_K_MAX_DEVICES_PER_ACCOUNT: n = o->max_devices_per_account; number = true; break;
	case PB_K_UPSTREAM_REUSE: n = o->upstream_reuse; number = true; break;
	case PB_K_UPSTREAM_MAX_PER_ACCOUNT: n = o->upstream_max_per_account; number = true; break;
	case PB_K_TRUSTED_PROXY:
		if (o->n_trusted_proxy > 0)
			return base_cidr_format(&o->trusted_proxy[0], buf, len);
		break;
	case PB_K_METRICS_LISTEN:
		if (o->metrics_listen.host[0])
			return config_endpoint_format(&o->metrics_listen, buf, len);
		break;
	case PB_K_USER: s = o->user; break;
	case PB_K_LOG_LEVEL: s = config_log_level_name(o->log_level); break;
	case PB_K_STATE: s = o->state; break;
	case PB_K_KEY_FILE: s = o->key_file; break;
	case PB_K_ALLOW_PLAINTEXT_AUTH:
	case PB_K_SYSLOG:
	case PB_K_PROXY_PROTOCOL:
	case PB_K_UPSTREAM_FORWARD_CLIENT_IP:
	case PB_K_COUNT:
		break;
	}
	if (number)
		snprintf(buf, len, "%lu", n);
	else
		snprintf(buf, len, "%s", s);
	return buf;
}
