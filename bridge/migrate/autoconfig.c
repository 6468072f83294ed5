/* bridge/migrate/autoconfig.c — Thunderbird, Outlook and Apple client configuration
 * documents, built with libxml2's tree API (see autoconfig.h). */
#include "bridge/migrate/autoconfig.h"
#include "bridge/base/errbuf.h"
#include "bridge/config/options.h"  /* PB_HOST_MAX */

#include <stdbool.h>
#include <string.h>

#include <libxml/tree.h>
#include <libxml/xmlstring.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#define NS_AUTODISCOVER "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
#define NS_OUTLOOK_2006A \
	"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
#define PLIST_PUBLIC_ID "-//Apple//DTD PLIST 1.0//EN"
#define PLIST_SYSTEM_ID "http://www.apple.com/DTDs/PropertyList-1.0.dtd"
#define PROFILE_ID_PREFIX "popbridge.mail."

void migrate_autoconfig_params_init(struct migrate_autoconfig_params *p)
{
	memset(p, 0, sizeof(*p));
	p->tls = AUTOCONFIG_TLS_STARTTLS;
	p->smtp_tls = AUTOCONFIG_TLS_STARTTLS;
}

static const struct config_word format_words[] = {
	{ "thunderbird", AUTOCONFIG_THUNDERBIRD },
	{ "autodiscover", AUTOCONFIG_AUTODISCOVER },
	{ "mobileconfig", AUTOCONFIG_MOBILECONFIG },
};
const struct config_words migrate_autoconfig_formats = CONFIG_WORDS(format_words);

int migrate_autoconfig_parse_format(const char *name, enum migrate_autoconfig_format *fmt,
                            char *err, size_t errlen)
{
	char list[100];
	int v = config_word_value(&migrate_autoconfig_formats, name);
	if (v < 0)
		return base_errf(err, errlen, "unknown format '%.40s': expected %s", name,
		    config_words_join(&migrate_autoconfig_formats, ", ", list, sizeof(list)));
	*fmt = (enum migrate_autoconfig_format)v;
	return 0;
}

/* ---- validation ------------------------------------------------------------ */

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* RFC 5322 atext (dot-atom characters other than '.'). */
static bool is_atext(char c)
{
	return is_alnum(c) || (c != '\0' && strchr("!#$%&'*+/=?^_`{|}~-", c) != NULL);
}

/* A DNS host name: labels of letters, digits and inner hyphens, 1..63 each. */
static bool valid_dns_name(const char *s, size_t n)
{
	if (n == 0 || n >= PB_HOST_MAX)
		return false;
	size_t label = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
		} else if (is_alnum(c) || c == '-') {
			if (c == '-' && label == 0)
				return false;
			if (++label > 63)
				return false;
		} else {
			return false;
		}
	}
	return label > 0 && s[n - 1] != '-';
}

/* An IPv6 literal without brackets: hex digits, ':' and '.' (for a
 * trailing IPv4 part), at least two colons. */
static bool valid_ipv6(const char *s)
{
	size_t n = strlen(s), colons = 0;
	if (n < 2 || n > 45)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == ':')
			colons++;
		else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
		    (c >= 'A' && c <= 'F') || c == '.'))
			return false;
	}
	return colons >= 2;
}

int migrate_autoconfig_check_email(const char *email, char *err, size_t errlen)
{
	if (email == NULL || email[0] == '\0')
		return base_errf(err, errlen, "an e-mail address is required (--email)");
	size_t n = strlen(email);
	if (n > AUTOCONFIG_EMAIL_MAX)
		return base_errf(err, errlen, "e-mail address is %zu characters; at most %d allowed",
		    n, AUTOCONFIG_EMAIL_MAX);
	const char *at = strchr(email, '@');
	if (at == NULL || strchr(at + 1, '@') != NULL)
		return base_errf(err, errlen, "e-mail address must contain exactly one '@'");
	size_t local = (size_t)(at - email);
	if (local == 0 || local > AUTOCONFIG_LOCAL_MAX)
		return base_errf(err, errlen, "e-mail address: the part before '@' must be 1 to %d "
		    "characters", AUTOCONFIG_LOCAL_MAX);
	for (size_t i = 0; i < local; i++) {
		char c = email[i];
		if (c == '.') {
			if (i == 0 || i + 1 == local || email[i + 1] == '.')
				return base_errf(err, errlen, "e-mail address: a '.' before '@' may not "
				    "start, end or repeat");
		} else if (!is_atext(c)) {
			return base_errf(err, errlen, "e-mail address: character %s%c%s (0x%02x) is not "
			    "allowed before '@'", c > 0x20 && c < 0x7f ? "'" : "",
			    c > 0x20 && c < 0x7f ? c : '?', c > 0x20 && c < 0x7f ? "'" : "",
			    (unsigned)(unsigned char)c);
		}
	}
	if (!valid_dns_name(at + 1, strlen(at + 1)))
		return base_errf(err, errlen, "e-mail address: the part after '@' is not a valid "
		    "domain name (letters, digits, '-' and '.')");
	return 0;
}

static int check_host(const char *what, const char *host, char *err, size_t errlen)
{
	if (host == NULL || host[0] == '\0')
		return base_errf(err, errlen, "%s host is required", what);
	if (!valid_dns_name(host, strlen(host)) && !valid_ipv6(host))
		return base_errf(err, errlen, "%s host is not a valid host name or IPv6 address", what);
	return 0;
}

static int check_name(const char *what, const char *s, char *err, size_t errlen)
{
	size_t n = strlen(s);
	if (n == 0 || n > AUTOCONFIG_NAME_MAX)
		return base_errf(err, errlen, "%s must be 1 to %d bytes", what, AUTOCONFIG_NAME_MAX);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return base_errf(err, errlen, "%s contains a control character", what);
	}
	if (!xmlCheckUTF8((const xmlChar *)s))
		return base_errf(err, errlen, "%s is not valid UTF-8", what);
	return 0;
}

static int check_params(const struct migrate_autoconfig_params *p, char *err, size_t errlen)
{
	if (migrate_autoconfig_check_email(p->email, err, errlen) != 0 ||
	    check_host("IMAP", p->host, err, errlen) != 0 ||
	    (p->smtp_host != NULL && check_host("SMTP", p->smtp_host, err, errlen) != 0) ||
	    (p->login != NULL && check_name("login name", p->login, err, errlen) != 0) ||
	    (p->display_name != NULL &&
	     check_name("display name", p->display_name, err, errlen) != 0))
		return -1;
	if (p->port == 0 || p->port > 65535)
		return base_errf(err, errlen, "IMAP port must be 1 to 65535");
	if (p->smtp_port > 65535)
		return base_errf(err, errlen, "SMTP port must be 1 to 65535");
	if ((unsigned)p->tls > AUTOCONFIG_TLS_NONE || (unsigned)p->smtp_tls > AUTOCONFIG_TLS_NONE)
		return base_errf(err, errlen, "unknown TLS mode");
	return 0;
}

/* ---- building ---------------------------------------------------------------- */

/* The resolved inputs of one document. */
struct server {
	const char *host;
	char port[12];  /* a decimal unsigned */
	enum migrate_autoconfig_tls tls;
};

struct doc_input {
	const char *email, *domain, *login, *display;
	struct server imap, smtp;
};

/* Builder: one document, a sticky failure flag instead of checks on every
 * call. Text always enters through xmlNewTextChild, which escapes it. */
struct builder {
	xmlDocPtr doc;
	bool failed;
};

static xmlNodePtr add(struct builder *b, xmlNodePtr parent, xmlNsPtr ns, const char *name,
                      const char *text)
{
	if (b->failed || parent == NULL)
		return NULL;
	xmlNodePtr n = xmlNewTextChild(parent, ns, (const xmlChar *)name, (const xmlChar *)text);
	if (n == NULL)
		b->failed = true;
	return n;
}

static void set_attr(struct builder *b, xmlNodePtr node, const char *name, const char *value)
{
	if (!b->failed && node != NULL && xmlNewProp(node, (const xmlChar *)name,
	    (const xmlChar *)value) == NULL)
		b->failed = true;
}

static xmlNodePtr new_root(struct builder *b, const char *name)
{
	b->doc = xmlNewDoc((const xmlChar *)"1.0");
	xmlNodePtr root = b->doc != NULL ? xmlNewDocNode(b->doc, NULL, (const xmlChar *)name, NULL)
	    : NULL;
	if (root == NULL) {
		b->failed = true;
		return NULL;
	}
	xmlDocSetRootElement(b->doc, root);
	return root;
}

static const char *thunderbird_socket(enum migrate_autoconfig_tls t)
{
	return t == AUTOCONFIG_TLS_IMPLICIT ? "SSL" : t == AUTOCONFIG_TLS_STARTTLS ? "STARTTLS"
	    : "plain";
}

static void thunderbird_server(struct builder *b, xmlNodePtr provider, const char *kind,
                               const char *type, const struct server *s, const char *login)
{
	xmlNodePtr srv = add(b, provider, NULL, kind, NULL);
	set_attr(b, srv, "type", type);
	add(b, srv, NULL, "hostname", s->host);
	add(b, srv, NULL, "port", s->port);
	add(b, srv, NULL, "socketType", thunderbird_socket(s->tls));
	add(b, srv, NULL, "username", login);
	add(b, srv, NULL, "authentication", "password-cleartext");
}

static void build_thunderbird(struct builder *b, const struct doc_input *in)
{
	xmlNodePtr root = new_root(b, "clientConfig");
	set_attr(b, root, "version", "1.1");
	xmlNodePtr prov = add(b, root, NULL, "emailProvider", NULL);
	set_attr(b, prov, "id", in->domain);
	add(b, prov, NULL, "domain", in->domain);
	add(b, prov, NULL, "displayName", in->display);
	add(b, prov, NULL, "displayShortName", in->domain);
	thunderbird_server(b, prov, "incomingServer", "imap", &in->imap, in->login);
	thunderbird_server(b, prov, "outgoingServer", "smtp", &in->smtp, in->login);
}

static void autodiscover_protocol(struct builder *b, xmlNodePtr account, xmlNsPtr ns,
                                  const char *type, const struct server *s, const char *login)
{
	static const char *const encryption[] = { "SSL", "TLS", "None" };
	xmlNodePtr proto = add(b, account, ns, "Protocol", NULL);
	add(b, proto, ns, "Type", type);
	add(b, proto, ns, "Server", s->host);
	add(b, proto, ns, "Port", s->port);
	add(b, proto, ns, "DomainRequired", "off");
	add(b, proto, ns, "LoginName", login);
	add(b, proto, ns, "SPA", "off");
	add(b, proto, ns, "SSL", s->tls == AUTOCONFIG_TLS_NONE ? "off" : "on");
	add(b, proto, ns, "Encryption", encryption[s->tls]);
	add(b, proto, ns, "AuthRequired", "on");
}

static void build_autodiscover(struct builder *b, const struct doc_input *in)
{
	xmlNodePtr root = new_root(b, "Autodiscover");
	if (root == NULL)
		return;
	xmlNsPtr ns_root = xmlNewNs(root, (const xmlChar *)NS_AUTODISCOVER, NULL);
	if (ns_root == NULL) {
		b->failed = true;
		return;
	}
	xmlSetNs(root, ns_root);
	xmlNodePtr resp = add(b, root, NULL, "Response", NULL);
	xmlNsPtr ns = resp != NULL ? xmlNewNs(resp, (const xmlChar *)NS_OUTLOOK_2006A, NULL) : NULL;
	if (ns == NULL) {
		b->failed = true;
		return;
	}
	xmlSetNs(resp, ns);
	xmlNodePtr user = add(b, resp, ns, "User", NULL);
	add(b, user, ns, "DisplayName", in->display);
	xmlNodePtr account = add(b, resp, ns, "Account", NULL);
	add(b, account, ns, "AccountType", "email");
	add(b, account, ns, "Action", "settings");
	autodiscover_protocol(b, account, ns, "IMAP", &in->imap, in->login);
	autodiscover_protocol(b, account, ns, "SMTP", &in->smtp, in->login);
}

/* plist helpers: a <key> and its value in a <dict>. */
static void plist_string(struct builder *b, xmlNodePtr dict, const char *key, const char *v)
{
	add(b, dict, NULL, "key", key);
	add(b, dict, NULL, "string", v);
}

static void plist_integer(struct builder *b, xmlNodePtr dict, const char *key, const char *v)
{
	add(b, dict, NULL, "key", key);
	add(b, dict, NULL, "integer", v);
}

static void plist_bool(struct builder *b, xmlNodePtr dict, const char *key, bool v)
{
	add(b, dict, NULL, "key", key);
	add(b, dict, NULL, v ? "true" : "false", NULL);
}

/* A random (version 4) UUID in upper case, as Apple's examples write it. */
static int uuid_v4(char out[37])
{
	unsigned char r[16];
	if (RAND_bytes(r, sizeof(r)) != 1)
		return -1;
	r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
	r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
	/* 8-4-4-4-12 digits; OpenSSL writes upper case. */
	static const size_t cut[] = { 0, 4, 6, 8, 10, 16 };
	size_t o = 0, len;
	for (size_t k = 0; k + 1 < sizeof(cut) / sizeof(cut[0]); k++) {
		if (k > 0)
			out[o++] = '-';
		if (OPENSSL_buf2hexstr_ex(out + o, 37 - o, &len, r + cut[k], cut[k + 1] - cut[k],
		    '\0') != 1)
			return -1;
		o += len - 1;  /* len counts the NUL */
	}
	return 0;
}

/* PayloadIdentifier: reverse-DNS style and stable for one address, so that
 * installing a newer profile for the same address replaces the old one. */
static void profile_identifier(char *out, size_t size, const char *email, const char *suffix)
{
	size_t o = (size_t)snprintf(out, size, "%s", PROFILE_ID_PREFIX);
	for (const char *c = email; *c != '\0' && o + 1 < size; c++)
		out[o++] = is_alnum(*c) || *c == '-' || *c == '.' ? *c : '-';
	out[o] = '\0';
	size_t rest = size - o;
	snprintf(out + o, rest, "%s", suffix);
}

static void build_mobileconfig(struct builder *b, const struct doc_input *in)
{
	char uuid_profile[37], uuid_mail[37];
	char id_profile[AUTOCONFIG_EMAIL_MAX + 64], id_mail[AUTOCONFIG_EMAIL_MAX + 64];
	if (uuid_v4(uuid_profile) != 0 || uuid_v4(uuid_mail) != 0) {
		b->failed = true;
		return;
	}
	profile_identifier(id_profile, sizeof(id_profile), in->email, "");
	profile_identifier(id_mail, sizeof(id_mail), in->email, ".account");

	xmlNodePtr plist = new_root(b, "plist");
	if (plist == NULL)
		return;
	if (xmlCreateIntSubset(b->doc, (const xmlChar *)"plist", (const xmlChar *)PLIST_PUBLIC_ID,
	    (const xmlChar *)PLIST_SYSTEM_ID) == NULL)
		b->failed = true;
	set_attr(b, plist, "version", "1.0");
	xmlNodePtr top = add(b, plist, NULL, "dict", NULL);

	add(b, top, NULL, "key", "PayloadContent");
	xmlNodePtr content = add(b, top, NULL, "array", NULL);
	xmlNodePtr mail = add(b, content, NULL, "dict", NULL);
	plist_string(b, mail, "EmailAccountDescription", in->display);
	plist_string(b, mail, "EmailAccountName", in->display);
	plist_string(b, mail, "EmailAccountType", "EmailTypeIMAP");
	plist_string(b, mail, "EmailAddress", in->email);
	plist_string(b, mail, "IncomingMailServerAuthentication", "EmailAuthPassword");
	plist_string(b, mail, "IncomingMailServerHostName", in->imap.host);
	plist_integer(b, mail, "IncomingMailServerPortNumber", in->imap.port);
	plist_bool(b, mail, "IncomingMailServerUseSSL", in->imap.tls != AUTOCONFIG_TLS_NONE);
	plist_string(b, mail, "IncomingMailServerUsername", in->login);
	plist_string(b, mail, "OutgoingMailServerAuthentication", "EmailAuthPassword");
	plist_string(b, mail, "OutgoingMailServerHostName", in->smtp.host);
	plist_integer(b, mail, "OutgoingMailServerPortNumber", in->smtp.port);
	plist_bool(b, mail, "OutgoingMailServerUseSSL", in->smtp.tls != AUTOCONFIG_TLS_NONE);
	plist_string(b, mail, "OutgoingMailServerUsername", in->login);
	plist_bool(b, mail, "OutgoingPasswordSameAsIncomingPassword", true);
	plist_string(b, mail, "PayloadDisplayName", in->display);
	plist_string(b, mail, "PayloadIdentifier", id_mail);
	plist_string(b, mail, "PayloadType", "com.apple.mail.managed");
	plist_string(b, mail, "PayloadUUID", uuid_mail);
	plist_integer(b, mail, "PayloadVersion", "1");

	plist_string(b, top, "PayloadDisplayName", in->display);
	plist_string(b, top, "PayloadIdentifier", id_profile);
	plist_bool(b, top, "PayloadRemovalDisallowed", false);
	plist_string(b, top, "PayloadType", "Configuration");
	plist_string(b, top, "PayloadUUID", uuid_profile);
	plist_integer(b, top, "PayloadVersion", "1");
}

int migrate_autoconfig_write(FILE *out, enum migrate_autoconfig_format fmt, const struct migrate_autoconfig_params *p,
                     char *err, size_t errlen)
{
	if (check_params(p, err, errlen) != 0)
		return -1;
	struct doc_input in = {
		.email = p->email,
		.domain = strchr(p->email, '@') + 1,
		.login = p->login != NULL ? p->login : p->email,
		.display = p->display_name != NULL ? p->display_name : p->email,
		.imap = { .host = p->host, .tls = p->tls },
		.smtp = { .host = p->smtp_host != NULL ? p->smtp_host : p->host,
		          .tls = p->smtp_tls },
	};
	snprintf(in.imap.port, sizeof(in.imap.port), "%u", p->port);
	snprintf(in.smtp.port, sizeof(in.smtp.port), "%u",
	    p->smtp_port != 0 ? p->smtp_port : AUTOCONFIG_SMTP_PORT);

	struct builder b = { NULL, false };
	switch (fmt) {
	case AUTOCONFIG_THUNDERBIRD:
		build_thunderbird(&b, &in);
		break;
	case AUTOCONFIG_AUTODISCOVER:
		build_autodiscover(&b, &in);
		break;
	case AUTOCONFIG_MOBILECONFIG:
		build_mobileconfig(&b, &in);
		break;
	default:
		return base_errf(err, errlen, "unknown format");
	}
	xmlChar *mem = NULL;
	int size = 0;
	if (!b.failed)
		xmlDocDumpFormatMemoryEnc(b.doc, &mem, &size, "UTF-8", 1);
	xmlFreeDoc(b.doc);
	if (mem == NULL || size <= 0) {
		xmlFree(mem);
		return base_errf(err, errlen, "cannot build the document (out of memory)");
	}
	size_t written = fwrite(mem, 1, (size_t)size, out);
	xmlFree(mem);
	if (written != (size_t)size || fflush(out) != 0 || ferror(out))
		return base_errf(err, errlen, "cannot write the document: output error");
	return 0;
}
