/* tests/bridge/check_config.c — the XML configuration: the embedded schema
 * equals contrib/popbridge.rng, the examples (contrib/popbridge.xml and
 * docs/CONFIG.md's) validate, and the real `popbridge check-config` prints
 * exactly FILE:LINE: problem for bad XML, schema violations, bad values and
 * unsafe documents (XXE, DTDs). */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bridge/base/username.h"
#include "bridge/config/file.h"
#include "bridge/config/schema.h"
#include "tests/bridge/bt.h"
#include "tests/lib/testutil.h"

START_TEST(test_schema_matches_contrib)
{
	char path[1024];
	size_t len;
	snprintf(path, sizeof(path), "%s/contrib/popbridge.rng", bt_env("POPBRIDGE_SRC"));
	char *rng = pbt_read_file(path, 1 << 20, &len);
	ck_assert_msg(rng != NULL, "cannot read %s", path);
	ck_assert_msg(len == config_schema_len && memcmp(rng, config_schema, len) == 0,
	    "bridge/config/schema.c differs from contrib/popbridge.rng: run sh contrib/gen-schema.sh");
	free(rng);
}
END_TEST

/* Run popbridge check-config on content; exit status, stdout and stderr
 * (the file's name in messages is replaced by "F"). */
static int check_config(const char *content, char **out, char **err)
{
	const char *path = bt_write_file("c.xml", content);
	char *argv[] = { (char *)bt_env("POPBRIDGE_BIN"), "check-config", "--config",
		(char *)path, NULL };
	int rc = bt_run(argv, out, err);
	/* replace every occurrence of the path by F */
	char *outs[2] = { *out, *err };
	for (int i = 0; i < 2; i++) {
		char *s = outs[i], *p;
		size_t pl = strlen(path);
		while ((p = strstr(s, path)) != NULL) {
			*p = 'F';
			memmove(p + 1, p + pl, strlen(p + pl) + 1);
		}
	}
	return rc;
}

START_TEST(test_example_validates)
{
	char path[1024];
	char *out, *err;
	snprintf(path, sizeof(path), "%s/contrib/popbridge.xml", bt_env("POPBRIDGE_SRC"));
	char *argv[] = { (char *)bt_env("POPBRIDGE_BIN"), "check-config", "--config", path, NULL };
	ck_assert_int_eq(bt_run(argv, &out, &err), 0);
	ck_assert_str_eq(err, "");
	ck_assert_ptr_nonnull(strstr(out, ": valid\n"));
	free(out);
	free(err);

	/* and through the API, with its values */
	struct config_options l;
	ck_assert_int_eq(config_file_load(path, &l, config_report_print, stderr), 0);
	ck_assert_str_eq(l.upstream.host, "imap.example.org");
	ck_assert_uint_eq(l.n_listen, 1);
	ck_assert_uint_eq(l.n_listen_tls, 2);   /* 0.0.0.0 and [::]: IPv6 is V6ONLY */
	ck_assert_uint_eq(l.n_devices, 2);
	ck_assert_int_eq(l.devices[0].v.dele, PB_DELE_TRASH);
	ck_assert_uint_eq(l.devices[0].line, 29);
	ck_assert_str_eq(l.user, "popbridge");
	config_options_free(&l);
}
END_TEST

/* The example in docs/CONFIG.md (its first xml block) validates too. */
START_TEST(test_doc_example_validates)
{
	char path[1024];
	size_t len;
	snprintf(path, sizeof(path), "%s/docs/CONFIG.md", bt_env("POPBRIDGE_SRC"));
	char *doc = pbt_read_file(path, 1 << 20, &len);
	ck_assert_msg(doc != NULL, "cannot read %s", path);
	char *start = strstr(doc, "```xml\n");
	ck_assert_ptr_nonnull(start);
	start += strlen("```xml\n");
	char *end = strstr(start, "```");
	ck_assert_ptr_nonnull(end);
	*end = '\0';
	char *out, *err;
	ck_assert_int_eq(check_config(start, &out, &err), 0);
	ck_assert_str_eq(err, "");
	ck_assert_str_eq(out, "F: valid\n");
	free(out);
	free(err);

	struct config_options l;
	ck_assert_int_eq(config_file_load(bt_write_file("doc.xml", start), &l,
	    config_report_print, stderr), 0);
	ck_assert_uint_eq(l.n_listen_tls, 2);   /* 0.0.0.0 and [::]: IPv6 is V6ONLY */
	ck_assert_str_eq(l.metrics_listen.host, "10.0.1.11");   /* <metrics listen> */
	ck_assert_uint_eq(l.metrics_listen.port, 9110);
	ck_assert(l.set & PB_KEY_BIT(PB_K_METRICS_LISTEN));
	config_options_free(&l);
	free(doc);
}
END_TEST

struct ccase {
	const char *name;
	const char *xml;
	const char *expect;   /* stderr, with the file name as F; a line ending
	                         in '*' only has to start with what is before it
	                         (libxml2's wording may change between versions) */
};

/* got matches expect line by line, with the '*' rule above. */
static bool lines_match(const char *got, const char *expect)
{
	while (*expect) {
		const char *ge = strchr(got, '\n'), *ee = strchr(expect, '\n');
		if (!ge || !ee)
			return false;
		size_t gl = (size_t)(ge - got), el = (size_t)(ee - expect);
		if (el > 0 && expect[el - 1] == '*') {
			if (gl < el - 1 || memcmp(got, expect, el - 1) != 0)
				return false;
		} else if (gl != el || memcmp(got, expect, el) != 0) {
			return false;
		}
		got = ge + 1;
		expect = ee + 1;
	}
	return *got == 0;
}

static const struct ccase bad_cases[] = {
	{ "unclosed tag",
	  "<popbridge>\n  <upstream url=\"imaps://h\"\n</popbridge>\n",
	  "F:3: error parsing attribute name\n"
	  "F:3: attributes construct error\n"
	  "F:3: Couldn't find end of Start Tag upstream*\n" },
	{ "mismatched tag",
	  "<popbridge>\n\n<log level=\"info\">\n</popbridge>\n",
	  "F:4: Opening and ending tag mismatch: log line 3 and popbridge\n"
	  "F:5: Premature end of data in tag popbridge*\n" },
	{ "empty file", "", "F:1: Document is empty\n" },
	{ "not XML", "upstream = imaps://h\n", "F:1: Start tag expected, '<' not found\n" },
	{ "wrong root", "<config/>\n", "F:1: Expecting element popbridge, got config\n" },
	{ "namespace", "<popbridge xmlns=\"urn:x\"/>\n",
	  "F:1: Expecting no namespace for element popbridge\n" },
	{ "unknown element",
	  "<popbridge>\n  <upstream url=\"imaps://h\"/>\n  <relay/>\n</popbridge>\n",
	  "F:3: Did not expect element relay there\n" },
	{ "text content",
	  "<popbridge>\n  <upstream url=\"imaps://h\">x</upstream>\n</popbridge>\n",
	  "F:2: Did not expect text in element upstream content\n" },
	{ "unknown attribute",
	  "<popbridge>\n  <log level=\"info\" colour=\"red\"/>\n</popbridge>\n",
	  "F:2: <log>: unknown attribute 'colour'\n" },
	{ "unknown attributes, each (the schema's list, libxml2 names only the first)",
	  "<popbridge xmlns:x=\"urn:x\">\n  <device account=\"a\" name=\"b\" colour=\"red\" x:dele=\"hide\"/>\n</popbridge>\n",
	  "F:2: <device>: unknown attribute 'colour'\n"
	  "F:2: <device>: unknown attribute 'dele'\n" },
	{ "missing attribute",
	  "<popbridge>\n  <device account=\"a\"/>\n  <run/>\n</popbridge>\n",
	  "F:2: <device>: the attribute 'name' is required\n"
	  "F:3: <run>: the attribute 'user' is required\n" },
	{ "twice",
	  "<popbridge>\n  <mailbox dele=\"trash\"/>\n\n  <mailbox dele=\"hide\"/>\n</popbridge>\n",
	  "F:4: <mailbox> is given twice (first at line 2)\n" },
	{ "bad port",
	  "<popbridge>\n  <listen address=\"127.0.0.1:99999\"/>\n</popbridge>\n",
	  "F:2: <listen address=\"...\">: port '99999' is not a number from 1 to 65535\n" },
	{ "bad values, all reported in order",
	  "<popbridge>\n"
	  "  <upstream url=\"imaps://h\" timeout=\"0\"/>\n"
	  "  <mailbox dele=\"nuke\" window=\"-1\"/>\n"
	  "  <limits idle-timeout=\"1h\"/>\n"
	  "  <tls min-version=\"1.4\"/>\n"
	  "  <auth device-separator=\"@\"/>\n"
	  "</popbridge>\n",
	  "F:2: <upstream timeout=\"...\">: '0' is not a number from 1 to 3600\n"
	  "F:3: <mailbox dele=\"...\">: 'nuke' is not one of: hide, trash, archive, flag, expunge, last-device\n"
	  "F:3: <mailbox window=\"...\">: '-1' is not a number from 0 to 1000000\n"
	  "F:4: <limits idle-timeout=\"...\">: '1h' is not a number from 1 to 86400\n"
	  "F:5: <tls min-version=\"...\">: '1.4' is not one of: 1.0, 1.1, 1.2, 1.3\n"
	  "F:6: <auth device-separator=\"...\">: '@': the device separator is one punctuation character other than @ . _ - \" \\\n" },
	{ "bad url",
	  "<popbridge>\n  <upstream url=\"pop3://h\"/>\n</popbridge>\n",
	  "F:2: <upstream url=\"...\">: 'pop3://h' is not an imaps://HOST[:PORT] or imap://HOST[:PORT] URL\n" },
	{ "bad listen tls value",
	  "<popbridge>\n  <listen address=\"127.0.0.1:1\" tls=\"maybe\"/>\n</popbridge>\n",
	  "F:2: <listen tls=\"...\">: expected yes or no\n" },
	{ "bad listen protocol",
	  "<popbridge>\n  <log level=\"info\"/>\n  <listen address=\"127.0.0.1:1\" protocol=\"pop3s\"/>\n</popbridge>\n",
	  "F:3: <listen protocol=\"...\">: expected pop3, imap or smtp\n" },
	{ "deprecated <smtp-listen>: its warning among the problems, sorted by line",
	  "<popbridge>\n  <smtp-listen address=\"127.0.0.1:1\" protocol=\"smtp\"/>\n"
	  "  <listen address=\"127.0.0.1:2\" protocol=\"SMTP\"/>\n</popbridge>\n",
	  "F:2: <smtp-listen>: unknown attribute 'protocol'\n"
	  "F:2: warning: <smtp-listen> is deprecated: write <listen protocol=\"smtp\"> with the same address and tls\n"
	  "F:3: <listen protocol=\"...\">: expected pop3, imap or smtp\n" },
	{ "smtp-listen-tls without cert, as <listen protocol=\"smtp\" tls=\"yes\">",
	  "<popbridge>\n  <listen address=\"127.0.0.1:1465\" protocol=\"smtp\" tls=\"yes\"/>\n</popbridge>\n",
	  "F:2: smtp-listen-tls needs a certificate (cert and key)\n" },
	{ "bad device values",
	  "<popbridge>\n  <device account=\"a\" name=\"b\" offer=\"new\" folder=\"\"/>\n</popbridge>\n",
	  "F:2: <device offer=\"...\">: 'new' is not one of: all, since-enrolment, unseen\n"
	  "F:2: <device folder=\"...\">: empty folder name\n" },
	{ "device twice",
	  "<popbridge>\n  <device account=\"a\" name=\"pc\"/>\n  <device account=\"A\" name=\"PC\"/>\n</popbridge>\n",
	  "F:3: <device>: a second section for device 'PC' of account 'A' (first at line 2)\n" },
	{ "separator in device name",
	  "<popbridge>\n  <auth device-separator=\"+\"/>\n  <device account=\"a\" name=\"b+c\"/>\n</popbridge>\n",
	  "F:3: device 'b+c' of account 'a': a name contains the device separator '+'\n" },
	{ "device name no login takes",
	  "<popbridge>\n  <device account=\"a\" name=\"b#c\"/>\n</popbridge>\n",
	  "F:2: <device>: " BASE_DEVICE_RULE "\n" },
	{ "contradiction, at the element's line",
	  "<popbridge>\n  <log level=\"info\"/>\n  <upstream url=\"imaps://h\" tls=\"none\"/>\n</popbridge>\n",
	  "F:3: upstream-tls none contradicts the imaps:// URL (use imap://HOST for starttls or none)\n" },
	{ "cert without key",
	  "<popbridge>\n\n  <tls cert=\"c.pem\"/>\n</popbridge>\n",
	  "F:3: cert and key go together: give both or neither\n" },
	{ "listen-tls without cert",
	  "<popbridge>\n  <listen address=\"[::1]:1995\" tls=\"yes\"/>\n</popbridge>\n",
	  "F:2: listen-tls needs a certificate (cert and key)\n" },
	{ "multi-line element: the line where its start tag ends",
	  "<popbridge>\n  <upstream\n    url=\"imaps://h\"\n    timeout=\"x\"/>\n</popbridge>\n",
	  "F:4: <upstream timeout=\"...\">: 'x' is not a number from 1 to 3600\n" },
	{ "schema version",
	  "<popbridge version=\"2\"/>\n",
	  "F:1: Invalid attribute version for element popbridge\n" },
	{ "DOCTYPE with an external DTD (never fetched)",
	  "<?xml version=\"1.0\"?>\n<!DOCTYPE popbridge SYSTEM \"http://192.0.2.1/x.dtd\">\n<popbridge/>\n",
	  "F:2: a DOCTYPE is not allowed in the configuration\n" },
	{ "entity expansion bomb",
	  "<?xml version=\"1.0\"?>\n<!DOCTYPE popbridge [\n<!ENTITY a \"aaaaaaaaaa\">\n"
	  "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">\n"
	  "<!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">\n]>\n"
	  "<popbridge><run user=\"&c;\"/></popbridge>\n",
	  "F:2: a DOCTYPE is not allowed in the configuration\n" },
};

START_TEST(test_bad_files)
{
	const struct ccase *c = &bad_cases[_i];
	char *out, *err;
	int rc = check_config(c->xml, &out, &err);
	ck_assert_msg(rc == 1, "%s: exit %d", c->name, rc);
	ck_assert_msg(lines_match(err, c->expect), "%s:\n got: %s\nwant: %s", c->name, err,
	    c->expect);
	ck_assert_str_eq(out, "");
	free(out);
	free(err);
}
END_TEST

START_TEST(test_xxe)
{
	/* An external entity naming a local file: refused, its content never shown. */
	const char *secret = bt_write_file("secret.txt", "TOPSECRET-CONTENT\n");
	char xml[1024];
	snprintf(xml, sizeof(xml),
	    "<?xml version=\"1.0\"?>\n<!DOCTYPE popbridge [<!ENTITY x SYSTEM \"file://%s\">]>\n"
	    "<popbridge><run user=\"x\"/><state file=\"&x;\"/>&x;</popbridge>\n", secret);
	char *out, *err;
	ck_assert_int_eq(check_config(xml, &out, &err), 1);
	ck_assert_ptr_null(strstr(err, "TOPSECRET"));
	ck_assert_ptr_null(strstr(out, "TOPSECRET"));
	ck_assert_ptr_nonnull(strstr(err, "F:"));
	free(out);
	free(err);
}
END_TEST

START_TEST(test_line_numbers_far_down)
{
	char xml[8192] = "<popbridge>\n";
	for (int i = 0; i < 100; i++)
		strcat(xml, "  <!-- padding -->\n");
	strcat(xml, "  <listen address=\"127.0.0.1:1\"/>\n  <listen address=\"127.0.0.1:1\"/>\n"
	    "</popbridge>\n");
	char *out, *err;
	ck_assert_int_eq(check_config(xml, &out, &err), 1);
	ck_assert_str_eq(err, "F:103: <listen address=\"...\">: 127.0.0.1:1 is given twice\n");
	free(out);
	free(err);
}
END_TEST

START_TEST(test_whole_file_problems)
{
	char *out, *err;
	const char *bin = bt_env("POPBRIDGE_BIN");
	char *missing[] = { (char *)bin, "check-config", "--config", "/nonexistent/x.xml", NULL };
	ck_assert_int_eq(bt_run(missing, &out, &err), 1);
	ck_assert_str_eq(err, "/nonexistent/x.xml: cannot open: No such file or directory\n");
	free(out);
	free(err);
	char *dir[] = { (char *)bin, "check-config", "--config", "/", NULL };
	ck_assert_int_eq(bt_run(dir, &out, &err), 1);
	ck_assert_str_eq(err, "/: not a regular file\n");
	free(out);
	free(err);

	/* larger than the limit */
	char *big = malloc(PB_CONFIG_MAX + 100);
	strcpy(big, "<popbridge>");
	memset(big + 11, ' ', PB_CONFIG_MAX);
	strcpy(big + 11 + PB_CONFIG_MAX, "</popbridge>");
	ck_assert_int_eq(check_config(big, &out, &err), 1);
	ck_assert_str_eq(err, "F: larger than 1048576 bytes\n");
	free(big);
	free(out);
	free(err);
}
END_TEST

START_TEST(test_usage)
{
	char *out, *err;
	const char *bin = bt_env("POPBRIDGE_BIN");
	char *none[] = { (char *)bin, "check-config", NULL };
	ck_assert_int_eq(bt_run(none, &out, &err), 2);
	ck_assert_str_eq(err, "popbridge check-config: --config FILE is required\n");
	free(out);
	free(err);
	char *bad[] = { (char *)bin, "check-config", "--conf", "x", NULL };
	ck_assert_int_eq(bt_run(bad, &out, &err), 2);
	ck_assert_str_eq(err, "popbridge check-config: unknown option '--conf' "
	    "(see 'popbridge check-config --help')\n");
	free(out);
	free(err);
	char *help[] = { (char *)bin, "check-config", "--help", NULL };
	ck_assert_int_eq(bt_run(help, &out, &err), 0);
	ck_assert_ptr_nonnull(strstr(out, "usage: popbridge check-config --config FILE"));
	free(out);
	free(err);
}
END_TEST

/* Every value the code accepts for an enum is accepted by the schema too. */
static const char *enum_name(int e, int v)
{
	switch (e) {
	case 0: return config_dele_name((enum config_dele)v);
	case 1: return config_offer_name((enum config_offer)v);
	case 2: return config_seen_on_name((enum config_seen_on)v);
	case 3: return config_tls_version_name((enum config_tls_version)v);
	case 4: return config_auth_name((enum config_auth)v);
	default: return config_log_level_name((enum base_log_level)v);
	}
}

START_TEST(test_schema_and_code_agree)
{
	struct { const char *elem, *attr; int n; } enums[] = {
		{ "mailbox", "dele", PB_DELE_LAST_DEVICE + 1 },
		{ "mailbox", "offer", PB_OFFER_UNSEEN + 1 },
		{ "mailbox", "seen-on", PB_SEEN_NEVER + 1 },
		{ "tls", "min-version", PB_TLS_1_3 + 1 },
		{ "auth", "mode", PB_AUTH_MANAGED + 1 },
		{ "log", "level", PB_LOG_DEBUG + 1 },
	};
	for (int e = 0; e < (int)(sizeof(enums) / sizeof(enums[0])); e++) {
		for (int v = 0; v < enums[e].n; v++) {
			char xml[256];
			snprintf(xml, sizeof(xml), "<popbridge><%s %s=\"%s\"/></popbridge>\n",
			    enums[e].elem, enums[e].attr, enum_name(e, v));
			const char *path = bt_write_file("enum.xml", xml);
			struct config_options l;
			ck_assert_msg(config_file_load(path, &l, config_report_print, stderr) == 0,
			    "%s", xml);
			config_options_free(&l);
		}
	}
	const char *tlsv[] = { "implicit", "starttls", "none" };
	for (int v = 0; v < 3; v++) {
		char xml[256];
		snprintf(xml, sizeof(xml), "<popbridge><upstream url=\"%s://h\" tls=\"%s\"/></popbridge>\n",
		    v == 0 ? "imaps" : "imap", tlsv[v]);
		struct config_options l;
		ck_assert_int_eq(config_file_load(bt_write_file("u.xml", xml), &l,
		    config_report_print, stderr), 0);
		config_options_free(&l);
	}
}
END_TEST

struct counts {
	unsigned with_line, whole_file;
};

/* Each report's line and text, for the listener tests. */
struct reports {
	unsigned n, line[4];
	char text[4][PB_ERR_MAX + 80];
};

static void keep_reports(void *arg, const char *file, unsigned line, const char *problem)
{
	(void)file;
	struct reports *r = arg;
	ck_assert_uint_lt(r->n, 4);
	r->line[r->n] = line;
	snprintf(r->text[r->n], sizeof(r->text[0]), "%s", problem);
	r->n++;
}

/* One <listen> element for every listener, named as the flags are:
 * protocol pop3 (the default), imap or smtp; tls="yes" for implicit TLS
 * (--listen-tls, --imap-listen-tls, --smtp-listen-tls). */
START_TEST(test_listen_protocols)
{
	const char *xml = "<popbridge>\n"
	    "  <tls cert=\"c.pem\" key=\"k.pem\"/>\n"
	    "  <listen address=\"127.0.0.1:2110\"/>\n"
	    "  <listen address=\"127.0.0.1:2111\" protocol=\"pop3\" tls=\"no\"/>\n"
	    "  <listen address=\"127.0.0.1:2995\" protocol=\"pop3\" tls=\"yes\"/>\n"
	    "  <listen address=\"127.0.0.1:2143\" protocol=\"imap\"/>\n"
	    "  <listen address=\"127.0.0.1:2993\" protocol=\"imap\" tls=\"yes\"/>\n"
	    "  <listen address=\"127.0.0.1:2587\" protocol=\"smtp\"/>\n"
	    "  <listen address=\"[::1]:2588\" protocol=\"smtp\" tls=\"no\"/>\n"
	    "  <listen address=\"127.0.0.1:2465\" protocol=\"smtp\" tls=\"yes\"/>\n"
	    "</popbridge>\n";
	char *out, *err;
	ck_assert_int_eq(check_config(xml, &out, &err), 0);
	ck_assert_str_eq(err, "");
	ck_assert_str_eq(out, "F: valid\n");
	free(out);
	free(err);

	struct config_options l;
	struct reports r = { 0 };
	ck_assert_int_eq(config_file_load(bt_write_file("l.xml", xml), &l, keep_reports, &r), 0);
	ck_assert_uint_eq(r.n, 0);
	ck_assert_uint_eq(l.n_listen, 2);
	ck_assert_uint_eq(l.listen[1].port, 2111);
	ck_assert_uint_eq(l.n_listen_tls, 1);
	ck_assert_uint_eq(l.listen_tls[0].port, 2995);
	ck_assert_uint_eq(l.n_imap_listen, 1);
	ck_assert_uint_eq(l.imap_listen[0].port, 2143);
	ck_assert_uint_eq(l.n_imap_listen_tls, 1);
	ck_assert_uint_eq(l.imap_listen_tls[0].port, 2993);
	ck_assert_uint_eq(l.n_smtp_listen, 2);
	ck_assert_uint_eq(l.smtp_listen[0].port, 2587);
	ck_assert_str_eq(l.smtp_listen[1].host, "::1");
	ck_assert_uint_eq(l.n_smtp_listen_tls, 1);
	ck_assert_uint_eq(l.smtp_listen_tls[0].port, 2465);
	config_options_free(&l);
}
END_TEST

/* The old <smtp-listen> still works, as <listen protocol="smtp">, with a
 * warning at its line: check-config prints it and says valid. An address
 * given by both forms is given twice. */
START_TEST(test_smtp_listen_deprecated)
{
	const char *xml = "<popbridge>\n"
	    "  <tls cert=\"c.pem\" key=\"k.pem\"/>\n"
	    "  <smtp-listen address=\"127.0.0.1:2587\"/>\n"
	    "  <smtp-listen address=\"127.0.0.1:2465\" tls=\"yes\"/>\n"
	    "</popbridge>\n";
	const char *warning = "warning: <smtp-listen> is deprecated: write "
	    "<listen protocol=\"smtp\"> with the same address and tls";
	char *out, *err;
	ck_assert_int_eq(check_config(xml, &out, &err), 0);
	char want[512];
	snprintf(want, sizeof(want), "F:3: %s\nF:4: %s\n", warning, warning);
	ck_assert_str_eq(err, want);
	ck_assert_str_eq(out, "F: valid\n");
	free(out);
	free(err);

	struct config_options l;
	struct reports r = { 0 };
	ck_assert_int_eq(config_file_load(bt_write_file("old.xml", xml), &l, keep_reports, &r), 0);
	ck_assert_uint_eq(r.n, 2);
	ck_assert_uint_eq(r.line[0], 3);
	ck_assert_str_eq(r.text[0], warning);
	ck_assert(config_report_is_warning(r.text[1]));
	ck_assert(!config_report_is_warning("<listen protocol=\"...\">: expected pop3, imap or smtp"));
	ck_assert_uint_eq(l.n_smtp_listen, 1);
	ck_assert_uint_eq(l.smtp_listen[0].port, 2587);
	ck_assert_uint_eq(l.n_smtp_listen_tls, 1);
	ck_assert_uint_eq(l.smtp_listen_tls[0].port, 2465);
	ck_assert(l.set & PB_KEY_BIT(PB_K_SMTP_LISTEN_TLS));
	config_options_free(&l);

	/* the same address by the old and the new element */
	ck_assert_int_eq(check_config("<popbridge>\n  <listen address=\"127.0.0.1:2587\" "
	    "protocol=\"smtp\"/>\n  <smtp-listen address=\"127.0.0.1:2587\"/>\n</popbridge>\n",
	    &out, &err), 1);
	ck_assert_ptr_nonnull(strstr(err, "F:3: warning: <smtp-listen> is deprecated"));
	ck_assert_ptr_nonnull(strstr(err, "F:3: <smtp-listen address=\"...\">: "));
	ck_assert_str_eq(out, "");
	free(out);
	free(err);
}
END_TEST

static void collect(void *arg, const char *file, unsigned line, const char *problem)
{
	(void)file;
	struct counts *c = arg;
	ck_assert_ptr_null(strchr(problem, '\n'));
	if (line)
		c->with_line++;
	else
		c->whole_file++;
}

START_TEST(test_many_problems_bounded)
{
	char *xml = malloc(200000);
	strcpy(xml, "<popbridge>\n");
	for (int i = 0; i < 500; i++)
		strcat(xml, "<limits idle-timeout=\"0\"/>\n");
	strcat(xml, "</popbridge>\n");
	struct config_options l;
	struct counts c = { 0, 0 };
	ck_assert_int_eq(config_file_load(bt_write_file("many.xml", xml), &l, collect, &c), -1);
	/* at most the limit, then one line saying the rest is not shown */
	ck_assert_uint_eq(c.with_line, PB_CONFIG_PROBLEMS_MAX);
	ck_assert_uint_eq(c.whole_file, 1);
	config_options_free(&l);
	free(xml);
}
END_TEST

START_TEST(test_layer_holds_only_the_file)
{
	const char *path = bt_write_file("layer.xml",
	    "<popbridge>\n  <mailbox window=\"9\"/>\n  <log syslog=\"yes\"/>\n</popbridge>\n");
	struct config_options l;
	ck_assert_int_eq(config_file_load(path, &l, config_report_print, stderr), 0);
	ck_assert_uint_eq(l.set, PB_KEY_BIT(PB_K_WINDOW) | PB_KEY_BIT(PB_K_SYSLOG));
	ck_assert_uint_eq(l.dev.window, 9);
	ck_assert(l.syslog);
	config_options_free(&l);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("config");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_schema_matches_contrib);
	tcase_add_test(tc, test_example_validates);
	tcase_add_test(tc, test_doc_example_validates);
	tcase_add_loop_test(tc, test_bad_files, 0, sizeof(bad_cases) / sizeof(bad_cases[0]));
	tcase_add_test(tc, test_xxe);
	tcase_add_test(tc, test_line_numbers_far_down);
	tcase_add_test(tc, test_whole_file_problems);
	tcase_add_test(tc, test_usage);
	tcase_add_test(tc, test_schema_and_code_agree);
	tcase_add_test(tc, test_many_problems_bounded);
	tcase_add_test(tc, test_layer_holds_only_the_file);
	tcase_add_test(tc, test_listen_protocols);
	tcase_add_test(tc, test_smtp_listen_deprecated);
	suite_add_tcase(s, tc);
	return bt_run_suite(s);
}
