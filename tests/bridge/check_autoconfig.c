/* tests/bridge/check_autoconfig.c — the three client configuration formats:
 * well-formed, valid against schemas written from the published formats,
 * carrying the right servers, and safe with hostile input. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/relaxng.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include "bridge/migrate/autoconfig.h"

#define NS_AD "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
#define NS_OL "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"

/* Thunderbird clientConfig 1.1, the parts we write (after the format's
 * documentation on the Mozilla wiki). */
static const char RNG_THUNDERBIRD[] =
    "<grammar xmlns='http://relaxng.org/ns/structure/1.0'"
    " datatypeLibrary='http://www.w3.org/2001/XMLSchema-datatypes'>"
    "<start><element name='clientConfig'>"
    " <attribute name='version'><value>1.1</value></attribute>"
    " <element name='emailProvider'>"
    "  <attribute name='id'><data type='string'><param name='minLength'>1</param></data></attribute>"
    "  <oneOrMore><element name='domain'><text/></element></oneOrMore>"
    "  <element name='displayName'><text/></element>"
    "  <optional><element name='displayShortName'><text/></element></optional>"
    "  <oneOrMore><element name='incomingServer'>"
    "   <attribute name='type'><choice><value>imap</value><value>pop3</value></choice></attribute>"
    "   <ref name='server'/></element></oneOrMore>"
    "  <oneOrMore><element name='outgoingServer'>"
    "   <attribute name='type'><value>smtp</value></attribute>"
    "   <ref name='server'/></element></oneOrMore>"
    " </element>"
    "</element></start>"
    "<define name='server'>"
    " <element name='hostname'><data type='string'><param name='minLength'>1</param></data></element>"
    " <element name='port'><data type='unsignedShort'/></element>"
    " <element name='socketType'><choice><value>SSL</value><value>STARTTLS</value>"
    "  <value>plain</value></choice></element>"
    " <element name='username'><text/></element>"
    " <oneOrMore><element name='authentication'><choice><value>password-cleartext</value>"
    "  <value>password-encrypted</value><value>OAuth2</value></choice></element></oneOrMore>"
    "</define>"
    "</grammar>";

/* Outlook POX autodiscover response, schema 2006a, the parts we write. */
static const char RNG_AUTODISCOVER[] =
    "<grammar xmlns='http://relaxng.org/ns/structure/1.0'"
    " datatypeLibrary='http://www.w3.org/2001/XMLSchema-datatypes'>"
    "<start><element name='Autodiscover' ns='" NS_AD "'>"
    " <element name='Response' ns='" NS_OL "'>"
    "  <optional><element name='User' ns='" NS_OL "'>"
    "   <element name='DisplayName' ns='" NS_OL "'><text/></element></element></optional>"
    "  <element name='Account' ns='" NS_OL "'>"
    "   <element name='AccountType' ns='" NS_OL "'><value>email</value></element>"
    "   <element name='Action' ns='" NS_OL "'><value>settings</value></element>"
    "   <oneOrMore><ref name='protocol'/></oneOrMore>"
    "  </element>"
    " </element>"
    "</element></start>"
    "<define name='onoff'><choice><value>on</value><value>off</value></choice></define>"
    "<define name='protocol'><element name='Protocol' ns='" NS_OL "'>"
    " <element name='Type' ns='" NS_OL "'><choice><value>IMAP</value><value>POP3</value>"
    "  <value>SMTP</value></choice></element>"
    " <element name='Server' ns='" NS_OL "'><data type='string'><param name='minLength'>1</param></data></element>"
    " <element name='Port' ns='" NS_OL "'><data type='unsignedShort'/></element>"
    " <optional><element name='DomainRequired' ns='" NS_OL "'><ref name='onoff'/></element></optional>"
    " <element name='LoginName' ns='" NS_OL "'><text/></element>"
    " <element name='SPA' ns='" NS_OL "'><ref name='onoff'/></element>"
    " <element name='SSL' ns='" NS_OL "'><ref name='onoff'/></element>"
    " <optional><element name='Encryption' ns='" NS_OL "'><choice><value>None</value>"
    "  <value>SSL</value><value>TLS</value><value>Auto</value></choice></element></optional>"
    " <element name='AuthRequired' ns='" NS_OL "'><ref name='onoff'/></element>"
    "</element></define>"
    "</grammar>";

/* Apple property list structure: every dict is key/value pairs. */
static const char RNG_PLIST[] =
    "<grammar xmlns='http://relaxng.org/ns/structure/1.0'"
    " datatypeLibrary='http://www.w3.org/2001/XMLSchema-datatypes'>"
    "<start><element name='plist'><attribute name='version'><value>1.0</value></attribute>"
    " <ref name='dict'/></element></start>"
    "<define name='dict'><element name='dict'><zeroOrMore>"
    " <element name='key'><text/></element><ref name='value'/></zeroOrMore></element></define>"
    "<define name='value'><choice>"
    " <ref name='dict'/>"
    " <element name='array'><zeroOrMore><ref name='value'/></zeroOrMore></element>"
    " <element name='string'><text/></element>"
    " <element name='integer'><data type='integer'/></element>"
    " <element name='real'><data type='double'/></element>"
    " <element name='true'><empty/></element>"
    " <element name='false'><empty/></element>"
    " <element name='date'><data type='dateTime'/></element>"
    " <element name='data'><text/></element>"
    "</choice></define>"
    "</grammar>";

static char err[512];

/* Write a document into memory; returns a malloc'd NUL-terminated buffer. */
static char *render(enum migrate_autoconfig_format fmt, const struct migrate_autoconfig_params *p, int *rc)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(f);
	err[0] = '\0';
	*rc = migrate_autoconfig_write(f, fmt, p, err, sizeof(err));
	fclose(f);
	return buf;
}

static xmlDocPtr parse_ok(enum migrate_autoconfig_format fmt, const struct migrate_autoconfig_params *p,
                          char **text)
{
	int rc;
	char *buf = render(fmt, p, &rc);
	ck_assert_msg(rc == 0, "migrate_autoconfig_write: %s", err);
	ck_assert(strncmp(buf, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>", 38) == 0);
	xmlDocPtr doc = xmlReadMemory(buf, (int)strlen(buf), "autoconfig.xml", NULL,
	    XML_PARSE_NONET | XML_PARSE_NOBLANKS);
	ck_assert_msg(doc != NULL, "not well-formed XML:\n%s", buf);
	if (text != NULL)
		*text = buf;
	else
		free(buf);
	return doc;
}

static void assert_valid(xmlDocPtr doc, const char *rng)
{
	xmlRelaxNGParserCtxtPtr pc = xmlRelaxNGNewMemParserCtxt(rng, (int)strlen(rng));
	xmlRelaxNGPtr schema = xmlRelaxNGParse(pc);
	ck_assert_ptr_nonnull(schema);
	xmlRelaxNGValidCtxtPtr vc = xmlRelaxNGNewValidCtxt(schema);
	int rc = xmlRelaxNGValidateDoc(vc, doc);
	xmlRelaxNGFreeValidCtxt(vc);
	xmlRelaxNGFree(schema);
	xmlRelaxNGFreeParserCtxt(pc);
	ck_assert_msg(rc == 0, "document does not match its schema");
}

/* The string value of an XPath expression (prefixes a: and o: for the
 * autodiscover namespaces); the caller frees it. */
static char *xq(xmlDocPtr doc, const char *expr)
{
	xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
	ck_assert_ptr_nonnull(ctx);
	xmlXPathRegisterNs(ctx, BAD_CAST "a", BAD_CAST NS_AD);
	xmlXPathRegisterNs(ctx, BAD_CAST "o", BAD_CAST NS_OL);
	char wrapped[600];
	snprintf(wrapped, sizeof(wrapped), "string(%s)", expr);
	xmlXPathObjectPtr r = xmlXPathEvalExpression(BAD_CAST wrapped, ctx);
	ck_assert_msg(r != NULL && r->type == XPATH_STRING, "bad XPath %s", expr);
	char *s = strdup((const char *)r->stringval);
	xmlXPathFreeObject(r);
	xmlXPathFreeContext(ctx);
	return s;
}

static void assert_xq(xmlDocPtr doc, const char *expr, const char *want)
{
	char *got = xq(doc, expr);
	ck_assert_msg(strcmp(got, want) == 0, "%s: got '%s', want '%s'", expr, got, want);
	free(got);
}

/* assert_xq on "<base>/<rel>". */
static void assert_xq_at(xmlDocPtr doc, const char *base, const char *rel, const char *want)
{
	char x[200];
	snprintf(x, sizeof(x), "%s/%s", base, rel);
	assert_xq(doc, x, want);
}

static void base_params(struct migrate_autoconfig_params *p, enum migrate_autoconfig_tls tls)
{
	static const unsigned ports[] = { 993, 143, 10143 };
	migrate_autoconfig_params_init(p);
	p->email = "alice@example.org";
	p->host = "imap.example.org";
	p->port = ports[tls];
	p->tls = tls;
}

static const char *const TB_SOCKET[] = { "SSL", "STARTTLS", "plain" };
static const char *const AD_SSL[] = { "on", "on", "off" };
static const char *const AD_ENC[] = { "SSL", "TLS", "None" };
static const char *const PORT_TEXT[] = { "993", "143", "10143" };

/* ---- Thunderbird ------------------------------------------------------------- */

START_TEST(thunderbird_each_tls_mode)
{
	enum migrate_autoconfig_tls tls = (enum migrate_autoconfig_tls)_i;
	struct migrate_autoconfig_params p;
	base_params(&p, tls);
	xmlDocPtr doc = parse_ok(AUTOCONFIG_THUNDERBIRD, &p, NULL);
	assert_valid(doc, RNG_THUNDERBIRD);
	assert_xq(doc, "/clientConfig/@version", "1.1");
	assert_xq(doc, "/clientConfig/emailProvider/@id", "example.org");
	assert_xq(doc, "/clientConfig/emailProvider/domain", "example.org");
	assert_xq(doc, "/clientConfig/emailProvider/displayName", "alice@example.org");
	const char *in = "/clientConfig/emailProvider/incomingServer[@type='imap']";
	assert_xq_at(doc, in, "hostname", "imap.example.org");
	assert_xq_at(doc, in, "port", PORT_TEXT[tls]);
	assert_xq_at(doc, in, "socketType", TB_SOCKET[tls]);
	assert_xq_at(doc, in, "username", "alice@example.org");
	assert_xq_at(doc, in, "authentication", "password-cleartext");
	/* SMTP defaults: the IMAP host, 587, STARTTLS, same user. */
	const char *out = "/clientConfig/emailProvider/outgoingServer[@type='smtp']";
	assert_xq_at(doc, out, "hostname", "imap.example.org");
	assert_xq_at(doc, out, "port", "587");
	assert_xq_at(doc, out, "socketType", "STARTTLS");
	assert_xq_at(doc, out, "username", "alice@example.org");
	xmlFreeDoc(doc);
}
END_TEST

START_TEST(login_display_and_smtp_options)
{
	struct migrate_autoconfig_params p;
	base_params(&p, AUTOCONFIG_TLS_IMPLICIT);
	p.login = "alice";
	p.display_name = "Alice's scanner – Büro";
	p.smtp_host = "smtp.example.net";
	p.smtp_port = 465;
	p.smtp_tls = AUTOCONFIG_TLS_IMPLICIT;
	xmlDocPtr doc = parse_ok(AUTOCONFIG_THUNDERBIRD, &p, NULL);
	assert_valid(doc, RNG_THUNDERBIRD);
	assert_xq(doc, "//incomingServer/username", "alice");
	assert_xq(doc, "//emailProvider/displayName", "Alice's scanner – Büro");
	assert_xq(doc, "//outgoingServer/hostname", "smtp.example.net");
	assert_xq(doc, "//outgoingServer/port", "465");
	assert_xq(doc, "//outgoingServer/socketType", "SSL");
	assert_xq(doc, "//outgoingServer/username", "alice");
	xmlFreeDoc(doc);

	doc = parse_ok(AUTOCONFIG_AUTODISCOVER, &p, NULL);
	assert_xq(doc, "//o:Protocol[o:Type='IMAP']/o:LoginName", "alice");
	assert_xq(doc, "//o:Protocol[o:Type='SMTP']/o:Server", "smtp.example.net");
	assert_xq(doc, "//o:User/o:DisplayName", "Alice's scanner – Büro");
	xmlFreeDoc(doc);

	doc = parse_ok(AUTOCONFIG_MOBILECONFIG, &p, NULL);
	assert_xq(doc, "//array/dict/key[.='IncomingMailServerUsername']/following-sibling::*[1]",
	    "alice");
	assert_xq(doc, "//array/dict/key[.='OutgoingMailServerPortNumber']/following-sibling::*[1]",
	    "465");
	assert_xq(doc, "/plist/dict/key[.='PayloadDisplayName']/following-sibling::*[1]",
	    "Alice's scanner – Büro");
	xmlFreeDoc(doc);

	/* IPv6 literal hosts (as bridge/options hands them over: no brackets). */
	p.host = "::1";
	doc = parse_ok(AUTOCONFIG_THUNDERBIRD, &p, NULL);
	assert_xq(doc, "//incomingServer/hostname", "::1");
	xmlFreeDoc(doc);
}
END_TEST

/* ---- Outlook autodiscover ------------------------------------------------------ */

START_TEST(autodiscover_each_tls_mode)
{
	enum migrate_autoconfig_tls tls = (enum migrate_autoconfig_tls)_i;
	struct migrate_autoconfig_params p;
	base_params(&p, tls);
	xmlDocPtr doc = parse_ok(AUTOCONFIG_AUTODISCOVER, &p, NULL);
	assert_valid(doc, RNG_AUTODISCOVER);
	xmlNodePtr root = xmlDocGetRootElement(doc);
	ck_assert_str_eq((const char *)root->name, "Autodiscover");
	ck_assert_str_eq((const char *)root->ns->href, NS_AD);
	assert_xq(doc, "/a:Autodiscover/o:Response/o:Account/o:AccountType", "email");
	assert_xq(doc, "/a:Autodiscover/o:Response/o:Account/o:Action", "settings");
	const char *imap = "/a:Autodiscover/o:Response/o:Account/o:Protocol[o:Type='IMAP']";
	char x[200];
	assert_xq_at(doc, imap, "o:Server", "imap.example.org");
	assert_xq_at(doc, imap, "o:Port", PORT_TEXT[tls]);
	assert_xq_at(doc, imap, "o:SSL", AD_SSL[tls]);
	assert_xq_at(doc, imap, "o:Encryption", AD_ENC[tls]);
	assert_xq_at(doc, imap, "o:LoginName", "alice@example.org");
	assert_xq_at(doc, imap, "o:SPA", "off");
	assert_xq_at(doc, imap, "o:AuthRequired", "on");
	snprintf(x, sizeof(x), "count(%s)", imap);
	assert_xq(doc, x, "1");
	const char *smtp = "/a:Autodiscover/o:Response/o:Account/o:Protocol[o:Type='SMTP']";
	assert_xq_at(doc, smtp, "o:Port", "587");
	assert_xq_at(doc, smtp, "o:Encryption", "TLS");
	xmlFreeDoc(doc);
}
END_TEST

/* ---- Apple configuration profile -------------------------------------------- */

struct plist_key {
	const char *key;
	const char *type; /* element name of the value; "bool" for true/false */
};

/* What the com.apple.mail.managed payload must carry, with value types. */
static const struct plist_key MAIL_KEYS[] = {
	{ "EmailAccountType", "string" },
	{ "EmailAddress", "string" },
	{ "IncomingMailServerAuthentication", "string" },
	{ "IncomingMailServerHostName", "string" },
	{ "IncomingMailServerPortNumber", "integer" },
	{ "IncomingMailServerUseSSL", "bool" },
	{ "IncomingMailServerUsername", "string" },
	{ "OutgoingMailServerAuthentication", "string" },
	{ "OutgoingMailServerHostName", "string" },
	{ "OutgoingMailServerPortNumber", "integer" },
	{ "OutgoingMailServerUseSSL", "bool" },
	{ "OutgoingMailServerUsername", "string" },
	{ "PayloadIdentifier", "string" },
	{ "PayloadType", "string" },
	{ "PayloadUUID", "string" },
	{ "PayloadVersion", "integer" },
	{ "PayloadDisplayName", "string" },
};

static const struct plist_key PROFILE_KEYS[] = {
	{ "PayloadContent", "array" },
	{ "PayloadDisplayName", "string" },
	{ "PayloadIdentifier", "string" },
	{ "PayloadType", "string" },
	{ "PayloadUUID", "string" },
	{ "PayloadVersion", "integer" },
};

static void assert_keys(xmlDocPtr doc, const char *dict, const struct plist_key *keys, size_t n)
{
	char x[300];
	for (size_t i = 0; i < n; i++) {
		/* Each key exactly once, and the element after it of the right type. */
		snprintf(x, sizeof(x), "count(%s/key[.='%s'])", dict, keys[i].key);
		assert_xq(doc, x, "1");
		snprintf(x, sizeof(x), "name(%s/key[.='%s']/following-sibling::*[1])", dict,
		    keys[i].key);
		char *type = xq(doc, x);
		if (strcmp(keys[i].type, "bool") == 0)
			ck_assert_msg(strcmp(type, "true") == 0 || strcmp(type, "false") == 0,
			    "%s is a %s", keys[i].key, type);
		else
			ck_assert_msg(strcmp(type, keys[i].type) == 0, "%s is a %s, want %s",
			    keys[i].key, type, keys[i].type);
		free(type);
	}
}

static void assert_uuid_v4_upper(const char *s)
{
	ck_assert_uint_eq(strlen(s), 36);
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23)
			ck_assert_int_eq(s[i], '-');
		else
			ck_assert_msg(strchr("0123456789ABCDEF", s[i]) != NULL, "bad UUID %s", s);
	}
	ck_assert_int_eq(s[14], '4');
	ck_assert_ptr_nonnull(strchr("89AB", s[19]));
}

#define MAILDICT "/plist/dict/key[.='PayloadContent']/following-sibling::*[1]/dict"
#define MAILVAL(k) MAILDICT "/key[.='" k "']/following-sibling::*[1]"
#define TOPVAL(k) "/plist/dict/key[.='" k "']/following-sibling::*[1]"

START_TEST(mobileconfig_each_tls_mode)
{
	enum migrate_autoconfig_tls tls = (enum migrate_autoconfig_tls)_i;
	struct migrate_autoconfig_params p;
	base_params(&p, tls);
	xmlDocPtr doc = parse_ok(AUTOCONFIG_MOBILECONFIG, &p, NULL);
	assert_valid(doc, RNG_PLIST);
	/* The Apple PLIST doctype. */
	xmlDtdPtr dtd = xmlGetIntSubset(doc);
	ck_assert_ptr_nonnull(dtd);
	ck_assert_str_eq((const char *)dtd->name, "plist");
	ck_assert_str_eq((const char *)dtd->ExternalID, "-//Apple//DTD PLIST 1.0//EN");
	ck_assert_str_eq((const char *)dtd->SystemID,
	    "http://www.apple.com/DTDs/PropertyList-1.0.dtd");

	/* PayloadContent: an array of dicts, here exactly one. */
	assert_xq(doc, "count(" TOPVAL("PayloadContent") "[self::array]/*)", "1");
	assert_xq(doc, "count(" TOPVAL("PayloadContent") "[self::array]/dict)", "1");
	assert_keys(doc, "/plist/dict", PROFILE_KEYS, sizeof(PROFILE_KEYS) / sizeof(PROFILE_KEYS[0]));
	assert_keys(doc, MAILDICT, MAIL_KEYS, sizeof(MAIL_KEYS) / sizeof(MAIL_KEYS[0]));

	assert_xq(doc, TOPVAL("PayloadType"), "Configuration");
	assert_xq(doc, TOPVAL("PayloadVersion"), "1");
	assert_xq(doc, MAILVAL("PayloadType"), "com.apple.mail.managed");
	assert_xq(doc, MAILVAL("PayloadVersion"), "1");
	assert_xq(doc, MAILVAL("EmailAccountType"), "EmailTypeIMAP");
	assert_xq(doc, MAILVAL("EmailAddress"), "alice@example.org");
	assert_xq(doc, MAILVAL("IncomingMailServerAuthentication"), "EmailAuthPassword");
	assert_xq(doc, MAILVAL("IncomingMailServerHostName"), "imap.example.org");
	assert_xq(doc, MAILVAL("IncomingMailServerPortNumber"), PORT_TEXT[tls]);
	assert_xq(doc, "name(" MAILVAL("IncomingMailServerUseSSL") ")",
	    tls == AUTOCONFIG_TLS_NONE ? "false" : "true");
	assert_xq(doc, MAILVAL("IncomingMailServerUsername"), "alice@example.org");
	assert_xq(doc, MAILVAL("OutgoingMailServerAuthentication"), "EmailAuthPassword");
	assert_xq(doc, MAILVAL("OutgoingMailServerHostName"), "imap.example.org");
	assert_xq(doc, MAILVAL("OutgoingMailServerPortNumber"), "587");
	assert_xq(doc, "name(" MAILVAL("OutgoingMailServerUseSSL") ")", "true");
	assert_xq(doc, MAILVAL("PayloadIdentifier"), "popbridge.mail.alice-example.org.account");
	assert_xq(doc, TOPVAL("PayloadIdentifier"), "popbridge.mail.alice-example.org");

	char *u1 = xq(doc, TOPVAL("PayloadUUID")), *u2 = xq(doc, MAILVAL("PayloadUUID"));
	assert_uuid_v4_upper(u1);
	assert_uuid_v4_upper(u2);
	ck_assert_str_ne(u1, u2);
	xmlFreeDoc(doc);

	/* A second profile gets new UUIDs. */
	doc = parse_ok(AUTOCONFIG_MOBILECONFIG, &p, NULL);
	char *u3 = xq(doc, TOPVAL("PayloadUUID"));
	ck_assert_str_ne(u1, u3);
	free(u1);
	free(u2);
	free(u3);
	xmlFreeDoc(doc);
}
END_TEST

/* ---- hostile and bad input ------------------------------------------------------ */

START_TEST(hostile_address_escaped)
{
	/* '&' and '\'' are legal in an address's local part: they must come
	 * back unchanged through an XML parser, escaped in the text. */
	struct migrate_autoconfig_params p;
	base_params(&p, AUTOCONFIG_TLS_IMPLICIT);
	p.email = "o'brien&co@example.org";
	p.display_name = "<b>\"Boss\" & co</b> ]]> <!-- x";
	p.login = "x</username><username>evil";
	for (int f = AUTOCONFIG_THUNDERBIRD; f <= AUTOCONFIG_MOBILECONFIG; f++) {
		char *text = NULL;
		xmlDocPtr doc = parse_ok((enum migrate_autoconfig_format)f, &p, &text);
		if (f == AUTOCONFIG_MOBILECONFIG)
			ck_assert_ptr_nonnull(strstr(text, "o'brien&amp;co@example.org"));
		for (const char *a = strchr(text, '&'); a != NULL; a = strchr(a + 1, '&'))
			ck_assert_msg(strncmp(a, "&amp;", 5) == 0 || strncmp(a, "&lt;", 4) == 0 ||
			    strncmp(a, "&gt;", 4) == 0 || strncmp(a, "&quot;", 6) == 0,
			    "raw '&' in output: %.20s", a);
		ck_assert_ptr_null(strstr(text, "<b>"));
		ck_assert_ptr_null(strstr(text, "<username>evil"));
		static const char *const user_xpath[] = {
			"//incomingServer/username",
			"//o:Protocol[o:Type='IMAP']/o:LoginName",
			MAILVAL("IncomingMailServerUsername"),
		};
		static const char *const name_xpath[] = {
			"//emailProvider/displayName",
			"//o:User/o:DisplayName",
			TOPVAL("PayloadDisplayName"),
		};
		assert_xq(doc, user_xpath[f], "x</username><username>evil");
		assert_xq(doc, name_xpath[f], "<b>\"Boss\" & co</b> ]]> <!-- x");
		if (f == AUTOCONFIG_MOBILECONFIG)
			assert_xq(doc, MAILVAL("EmailAddress"), "o'brien&co@example.org");
		if (f == AUTOCONFIG_THUNDERBIRD)
			assert_valid(doc, RNG_THUNDERBIRD);
		if (f == AUTOCONFIG_AUTODISCOVER)
			assert_valid(doc, RNG_AUTODISCOVER);
		if (f == AUTOCONFIG_MOBILECONFIG)
			assert_valid(doc, RNG_PLIST);
		xmlFreeDoc(doc);
		free(text);
	}
}
END_TEST

static void assert_refused(const struct migrate_autoconfig_params *p, const char *why)
{
	for (int f = AUTOCONFIG_THUNDERBIRD; f <= AUTOCONFIG_MOBILECONFIG; f++) {
		int rc;
		char *buf = render((enum migrate_autoconfig_format)f, p, &rc);
		ck_assert_int_eq(rc, -1);
		ck_assert_msg(strstr(err, why) != NULL, "expected '%s' in: %s", why, err);
		ck_assert_msg(buf[0] == '\0', "something was written: %s", buf);
		free(buf);
	}
}

START_TEST(bad_addresses_refused)
{
	static const struct { const char *email, *why; } bad[] = {
		{ "", "required" },
		{ "alice", "exactly one '@'" },
		{ "alice@bob@example.org", "exactly one '@'" },
		{ "@example.org", "1 to 64" },
		{ "<alice>@example.org", "'<'" },
		{ "al\"ice@example.org", "'\"'" },
		{ "al ice@example.org", "0x20" },
		{ "al\nice@example.org", "0x0a" },
		{ "al\xc3\xa9@example.org", "0xc3" },
		{ ".alice@example.org", "'.'" },
		{ "al..ice@example.org", "'.'" },
		{ "alice.@example.org", "'.'" },
		{ "alice@", "domain" },
		{ "alice@exa<mple.org", "domain" },
		{ "alice@example..org", "domain" },
		{ "alice@-example.org", "domain" },
		{ "alice@example-.org", "domain" },
		{ "alice@example.org.", "domain" },
		{ "alice@exam&ple.org", "domain" },
	};
	struct migrate_autoconfig_params p;
	base_params(&p, AUTOCONFIG_TLS_IMPLICIT);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p.email = bad[i].email;
		assert_refused(&p, bad[i].why);
		ck_assert_int_eq(migrate_autoconfig_check_email(bad[i].email, err, sizeof(err)), -1);
	}
	/* Length bounds: 64 before '@' and 254 in all are fine, one more is not. */
	char addr[300];
	memset(addr, 'a', 64);
	snprintf(addr + 64, sizeof(addr) - 64, "@example.org");
	ck_assert_int_eq(migrate_autoconfig_check_email(addr, err, sizeof(err)), 0);
	memset(addr, 'a', 65);
	snprintf(addr + 65, sizeof(addr) - 65, "@example.org");
	ck_assert_int_eq(migrate_autoconfig_check_email(addr, err, sizeof(err)), -1);
	/* 254: "a@" + 4 labels of 61 + ".com" = 2 + 4*62 + 4 - ... built below */
	char dom[260] = "";
	while (strlen(dom) + 62 <= 252 - 4)
		strcat(dom, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.");
	size_t used = strlen(dom);
	memset(dom + used, 'c', 252 - used);
	dom[252] = '\0';
	snprintf(addr, sizeof(addr), "a@%s", dom);
	ck_assert_uint_eq(strlen(addr), 254);
	ck_assert_msg(migrate_autoconfig_check_email(addr, err, sizeof(err)) == 0, "%s", err);
	snprintf(addr, sizeof(addr), "ab@%s", dom);
	ck_assert_int_eq(migrate_autoconfig_check_email(addr, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "at most 254"));
}
END_TEST

START_TEST(bad_other_inputs_refused)
{
	struct migrate_autoconfig_params p;
	base_params(&p, AUTOCONFIG_TLS_IMPLICIT);
	p.host = "imap.example.org/evil";
	assert_refused(&p, "IMAP host");
	p.host = "";
	assert_refused(&p, "IMAP host is required");
	p.host = NULL;
	assert_refused(&p, "IMAP host is required");
	base_params(&p, AUTOCONFIG_TLS_IMPLICIT);
	p.smtp_host = "smtp example";
	assert_refused(&p, "SMTP host");
	base_params(&p, AUTOCONFIG_TLS_IMPLICIT);
	p.port = 0;
	assert_refused(&p, "IMAP port");
	p.port = 65536;
	assert_refused(&p, "IMAP port");
	base_params(&p, AUTOCONFIG_TLS_IMPLICIT);
	p.smtp_port = 70000;
	assert_refused(&p, "SMTP port");
	base_params(&p, AUTOCONFIG_TLS_IMPLICIT);
	p.login = "";
	assert_refused(&p, "login name");
	p.login = "tab\there";
	assert_refused(&p, "control character");
	base_params(&p, AUTOCONFIG_TLS_IMPLICIT);
	p.display_name = "bad \xff utf-8";
	assert_refused(&p, "UTF-8");
	char longname[AUTOCONFIG_NAME_MAX + 2];
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	p.display_name = longname;
	assert_refused(&p, "1 to 256");
}
END_TEST

START_TEST(formats_and_write_errors)
{
	enum migrate_autoconfig_format f;
	ck_assert_int_eq(migrate_autoconfig_parse_format("thunderbird", &f, err, sizeof(err)), 0);
	ck_assert_int_eq(f, AUTOCONFIG_THUNDERBIRD);
	ck_assert_int_eq(migrate_autoconfig_parse_format("autodiscover", &f, err, sizeof(err)), 0);
	ck_assert_int_eq(f, AUTOCONFIG_AUTODISCOVER);
	ck_assert_int_eq(migrate_autoconfig_parse_format("mobileconfig", &f, err, sizeof(err)), 0);
	ck_assert_int_eq(f, AUTOCONFIG_MOBILECONFIG);
	ck_assert_int_eq(migrate_autoconfig_parse_format("plist", &f, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "unknown format 'plist'"));

	/* A full disk is reported, not ignored. */
	FILE *full = fopen("/dev/full", "w");
	ck_assert_ptr_nonnull(full);
	struct migrate_autoconfig_params p;
	base_params(&p, AUTOCONFIG_TLS_STARTTLS);
	ck_assert_int_eq(migrate_autoconfig_write(full, AUTOCONFIG_THUNDERBIRD, &p, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "cannot write"));
	fclose(full);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("autoconfig");
	TCase *tc = tcase_create("formats");
	tcase_add_loop_test(tc, thunderbird_each_tls_mode, 0, 3);
	tcase_add_loop_test(tc, autodiscover_each_tls_mode, 0, 3);
	tcase_add_loop_test(tc, mobileconfig_each_tls_mode, 0, 3);
	tcase_add_test(tc, login_display_and_smtp_options);
	suite_add_tcase(s, tc);
	TCase *ti = tcase_create("input");
	tcase_add_test(ti, hostile_address_escaped);
	tcase_add_test(ti, bad_addresses_refused);
	tcase_add_test(ti, bad_other_inputs_refused);
	tcase_add_test(ti, formats_and_write_errors);
	suite_add_tcase(s, ti);

	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	xmlCleanupParser();
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
