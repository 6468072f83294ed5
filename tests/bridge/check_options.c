/* tests/bridge/check_options.c — the settings model: every value good and
 * bad, layering (defaults < file < flags), per-device sections, the
 * command-line parser and the serve settings build. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/cmd/cmd.h"
#include "bridge/config/cmdline.h"
#include "bridge/config/options.h"
#include "bridge/config/url.h"
#include "state/state.h"
#include "tests/bridge/bt.h"

static char err[PB_ERR_MAX];

/* ---- values ------------------------------------------------------------------ */

struct vcase {
	enum config_key key;
	const char *value;
	bool ok;
};

static const struct vcase value_cases[] = {
	{ PB_K_UPSTREAM, "imaps://imap.example.org", true },
	{ PB_K_UPSTREAM, "imap://127.0.0.1:1143", true },
	{ PB_K_UPSTREAM, "IMAPS://[::1]:9933/", true },
	{ PB_K_UPSTREAM, "http://example.org", false },
	{ PB_K_UPSTREAM, "imaps://", false },
	{ PB_K_UPSTREAM, "imaps://user:pw@example.org", false },
	{ PB_K_UPSTREAM, "imaps://example.org/INBOX", false },
	{ PB_K_UPSTREAM, "imaps://example.org:0", false },
	{ PB_K_UPSTREAM, "imaps://example.org:65536", false },
	{ PB_K_UPSTREAM, "imaps://example.org:99a", false },
	{ PB_K_UPSTREAM, "imaps://example.org:", false },
	{ PB_K_UPSTREAM, "imaps://[::1", false },
	{ PB_K_UPSTREAM, "imaps://[zz::1]:10993", false },
	{ PB_K_UPSTREAM, "imaps://::1:10993", false },
	{ PB_K_UPSTREAM, "imaps://a..b", false },
	{ PB_K_UPSTREAM, "imaps://-a.example", false },
	{ PB_K_UPSTREAM, "imaps://a-.example", false },
	{ PB_K_UPSTREAM, "imaps://1.2.3.999", false },
	{ PB_K_UPSTREAM, "imaps://exa mple.org", false },
	{ PB_K_UPSTREAM_TLS, "implicit", true },
	{ PB_K_UPSTREAM_TLS, "starttls", true },
	{ PB_K_UPSTREAM_TLS, "none", true },
	{ PB_K_UPSTREAM_TLS, "STARTTLS", false },
	{ PB_K_UPSTREAM_TLS, "", false },
	{ PB_K_UPSTREAM_CA, "/etc/ssl/ca.pem", true },
	{ PB_K_UPSTREAM_CA, "", false },
	{ PB_K_UPSTREAM_CA, "a\nb", false },
	{ PB_K_UPSTREAM_TIMEOUT, "1", true },
	{ PB_K_UPSTREAM_TIMEOUT, "3600", true },
	{ PB_K_UPSTREAM_TIMEOUT, "0", false },
	{ PB_K_UPSTREAM_TIMEOUT, "3601", false },
	{ PB_K_UPSTREAM_TIMEOUT, "-5", false },
	{ PB_K_UPSTREAM_TIMEOUT, "+5", false },
	{ PB_K_UPSTREAM_TIMEOUT, " 5", false },
	{ PB_K_UPSTREAM_TIMEOUT, "5s", false },
	{ PB_K_UPSTREAM_TIMEOUT, "99999999999999999999999", false },
	{ PB_K_LISTEN, "127.0.0.1:1110", true },
	{ PB_K_LISTEN, "[::1]:1110", true },
	{ PB_K_LISTEN, "0.0.0.0:65535", true },
	{ PB_K_LISTEN, "localhost:1110", false },
	{ PB_K_LISTEN, "127.0.0.1", false },
	{ PB_K_LISTEN, ":1110", false },
	{ PB_K_LISTEN, "::1:1110", false },
	{ PB_K_LISTEN, "[::1]", false },
	{ PB_K_LISTEN, "[::1]1110", false },
	{ PB_K_LISTEN, "127.0.0.1:0", false },
	{ PB_K_LISTEN_TLS, "[::]:1995", true },
	{ PB_K_LISTEN_TLS, "1.2.3:1995", false },
	{ PB_K_CERT, "cert.pem", true },
	{ PB_K_KEY, "key.pem", true },
	{ PB_K_TLS_MIN, "1.0", true },
	{ PB_K_TLS_MIN, "1.1", true },
	{ PB_K_TLS_MIN, "1.2", true },
	{ PB_K_TLS_MIN, "1.3", true },
	{ PB_K_TLS_MIN, "1.4", false },
	{ PB_K_TLS_MIN, "TLSv1.2", false },
	{ PB_K_AUTH, "passthrough", true },
	{ PB_K_AUTH, "managed", true },
	{ PB_K_AUTH, "pam", false },
	{ PB_K_DEVICE_SEPARATOR, "#", true },
	{ PB_K_DEVICE_SEPARATOR, "+", true },
	{ PB_K_DEVICE_SEPARATOR, "%", true },
	{ PB_K_DEVICE_SEPARATOR, "@", false },
	{ PB_K_DEVICE_SEPARATOR, ".", false },
	{ PB_K_DEVICE_SEPARATOR, "a", false },
	{ PB_K_DEVICE_SEPARATOR, "##", false },
	{ PB_K_DEVICE_SEPARATOR, " ", false },
	{ PB_K_DEVICE_SEPARATOR, "", false },
	{ PB_K_FOLDER, "INBOX", true },
	{ PB_K_FOLDER, "Scans/Incoming", true },
	{ PB_K_FOLDER, "Entw\xc3\xbcrfe", true },
	{ PB_K_FOLDER, "bad\xc3", false },
	{ PB_K_FOLDER, "a\rb", false },
	{ PB_K_FOLDER, "", false },
	{ PB_K_OFFER, "all", true },
	{ PB_K_OFFER, "since-enrolment", true },
	{ PB_K_OFFER, "unseen", true },
	{ PB_K_OFFER, "since-enrollment", false },
	{ PB_K_WINDOW, "0", true },
	{ PB_K_WINDOW, "1000000", true },
	{ PB_K_WINDOW, "1000001", false },
	{ PB_K_WINDOW, "ten", false },
	{ PB_K_LOGIN_DELAY, "0", true },
	{ PB_K_LOGIN_DELAY, "86400", true },
	{ PB_K_LOGIN_DELAY, "86401", false },
	{ PB_K_LOGIN_DELAY, "-1", false },
	{ PB_K_SEEN_ON, "retr", true },
	{ PB_K_SEEN_ON, "quit", true },
	{ PB_K_SEEN_ON, "never", true },
	{ PB_K_SEEN_ON, "top", false },
	{ PB_K_DELE, "hide", true },
	{ PB_K_DELE, "trash", true },
	{ PB_K_DELE, "archive", true },
	{ PB_K_DELE, "flag", true },
	{ PB_K_DELE, "expunge", true },
	{ PB_K_DELE, "last-device", true },
	{ PB_K_DELE, "delete", false },
	{ PB_K_TRASH_FOLDER, "Deleted Items", true },
	{ PB_K_ARCHIVE_FOLDER, "Archive/2026", true },
	{ PB_K_ARCHIVE_FOLDER, "", false },
	{ PB_K_DELE_KEYWORD, "$POP3Deleted", true },
	{ PB_K_DELE_KEYWORD, "Gone", true },
	{ PB_K_DELE_KEYWORD, "two words", false },
	{ PB_K_DELE_KEYWORD, "\\Deleted", false },
	{ PB_K_DELE_KEYWORD, "a(b", false },
	{ PB_K_DELE_KEYWORD, "", false },
	{ PB_K_ALLOW_PLAINTEXT_AUTH, NULL, true },
	{ PB_K_ALLOW_PLAINTEXT_AUTH, "yes", true },
	{ PB_K_ALLOW_PLAINTEXT_AUTH, "no", true },
	{ PB_K_ALLOW_PLAINTEXT_AUTH, "maybe", false },
	{ PB_K_MAX_SESSIONS, "1", true },
	{ PB_K_MAX_SESSIONS, "100000", true },
	{ PB_K_MAX_SESSIONS, "0", false },
	{ PB_K_MAX_SESSIONS_PER_IP, "10", true },
	{ PB_K_MAX_SESSIONS_PER_IP, "100001", false },
	{ PB_K_IDLE_TIMEOUT, "600", true },
	{ PB_K_IDLE_TIMEOUT, "86400", true },
	{ PB_K_IDLE_TIMEOUT, "86401", false },
	{ PB_K_IDLE_TIMEOUT, "0", false },
	{ PB_K_USER, "popbridge", true },
	{ PB_K_USER, "_pop-bridge.1", true },
	{ PB_K_USER, "1abc", false },
	{ PB_K_USER, "-x", false },
	{ PB_K_USER, "a b", false },
	{ PB_K_USER, "abcdefghijklmnopqrstuvwxyzabcdefg", false },
	{ PB_K_SYSLOG, NULL, true },
	{ PB_K_LOG_LEVEL, "error", true },
	{ PB_K_LOG_LEVEL, "warn", true },
	{ PB_K_LOG_LEVEL, "info", true },
	{ PB_K_LOG_LEVEL, "debug", true },
	{ PB_K_LOG_LEVEL, "warning", false },
	{ PB_K_STATE, "/var/lib/popbridge/popbridge.db", true },
	{ PB_K_STATE, "", false },
	{ PB_K_KEY_FILE, "secret.key", true },
};

START_TEST(test_values)
{
	const struct vcase *c = &value_cases[_i];
	struct config_options o, before;
	config_options_init(&o);
	err[0] = 0;
	int rc = config_options_set(&o, c->key, c->value, err, sizeof(err));
	if (c->ok) {
		ck_assert_msg(rc == 0, "--%s '%s' refused: %s", config_key_name(c->key),
		    c->value ? c->value : "(none)", err);
		ck_assert(o.set & PB_KEY_BIT(c->key));
	} else {
		ck_assert_msg(rc == -1, "--%s '%s' accepted", config_key_name(c->key), c->value);
		ck_assert_msg(err[0] != 0, "no message for --%s '%s'", config_key_name(c->key),
		    c->value);
		ck_assert(strchr(err, '\n') == NULL);
		/* A refused value changes nothing. */
		config_options_init(&before);
		ck_assert_int_eq(memcmp(&o, &before, sizeof(o)), 0);
	}
	config_options_free(&o);
}
END_TEST

START_TEST(test_value_messages)
{
	struct config_options o;
	config_options_init(&o);
	ck_assert_int_eq(config_options_set(&o, PB_K_WINDOW, "x", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "'x' is not a number from 0 to 1000000");
	ck_assert_int_eq(config_options_set(&o, PB_K_DELE, "nuke", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "'nuke' is not one of: hide, trash, archive, flag, expunge, last-device");
	ck_assert_int_eq(config_options_set(&o, PB_K_LISTEN, "::1:2110", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "'::1:2110': write an IPv6 address in brackets, e.g. [::1]:1110");
	ck_assert_int_eq(config_options_set(&o, PB_K_UPSTREAM, "imaps://u@h", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "'imaps://u@h': credentials do not belong in the URL");
	/* An unprintable value is shown safely on one line. */
	ck_assert_int_eq(config_options_set(&o, PB_K_OFFER, "a\nb\x01", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "'a?b?' is not one of: all, since-enrolment, unseen");
	config_options_free(&o);
}
END_TEST

START_TEST(test_upstream_url)
{
	struct config_endpoint ep;
	enum config_upstream_tls tls;
	ck_assert_int_eq(config_parse_upstream_url("imaps://imap.example.org", &ep, &tls, err,
	    sizeof(err)), 0);
	ck_assert_str_eq(ep.host, "imap.example.org");
	ck_assert_int_eq(ep.port, 993);
	ck_assert_int_eq(tls, PB_UTLS_IMPLICIT);
	ck_assert(!ep.ipv6);
	ck_assert_int_eq(config_parse_upstream_url("imap://mail.example.org", &ep, &tls, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(ep.port, 143);
	ck_assert_int_eq(tls, PB_UTLS_STARTTLS);
	ck_assert_int_eq(config_parse_upstream_url("imaps://[::1]:10993", &ep, &tls, err,
	    sizeof(err)), 0);
	ck_assert_str_eq(ep.host, "::1");
	ck_assert_int_eq(ep.port, 10993);
	ck_assert(ep.ipv6);
	ck_assert_int_eq(config_parse_upstream_url("imap://127.0.0.1:1143", &ep, &tls, err,
	    sizeof(err)), 0);
	ck_assert_str_eq(ep.host, "127.0.0.1");
	char buf[300];
	ck_assert_str_eq(config_endpoint_format(&ep, buf, sizeof(buf)), "127.0.0.1:1143");
	ck_assert_int_eq(config_parse_listen("[2001:db8::1]:1995", &ep, err, sizeof(err)), 0);
	ck_assert_str_eq(config_endpoint_format(&ep, buf, sizeof(buf)), "[2001:db8::1]:1995");
}
END_TEST

/* The one address parser (bridge/config/url.h): HOST:PORT and URLs. */
START_TEST(test_hostport)
{
	struct config_endpoint ep;
	const unsigned both = CONFIG_HOSTPORT_NUMERIC | CONFIG_HOSTPORT_PORT;
	ck_assert_int_eq(config_hostport_parse("[::1]:110", both, &ep, err, sizeof(err)), 0);
	ck_assert_str_eq(ep.host, "::1");
	ck_assert_uint_eq(ep.port, 110);
	ck_assert(ep.ipv6);
	ck_assert_int_eq(config_hostport_parse("[::ffff:192.0.2.1]:1", both, &ep, err, sizeof(err)), 0);
	ck_assert_int_eq(config_hostport_parse("192.0.2.1:65535", both, &ep, err, sizeof(err)), 0);
	ck_assert_uint_eq(ep.port, 65535);
	ck_assert(!ep.ipv6);
	ck_assert_int_eq(config_hostport_parse("mail.example.org", 0, &ep, err, sizeof(err)), 0);
	ck_assert_uint_eq(ep.port, 0);   /* no port, none required */
	static const struct { const char *s; unsigned flags; const char *err; } bad[] = {
		{ "192.0.2.1", both, "'192.0.2.1': expected ADDRESS:PORT" },
		{ "[::1]", both, "'[::1]': expected ADDRESS:PORT" },
		{ "[::1", 0, "'[::1': '[' without ']'" },
		{ "[::1]x", 0, "'[::1]x': expected ':PORT' after ']'" },
		{ "[]:1", 0, "'[]:1': bad IPv6 address" },
		{ "[zz]:1", 0, "'zz' is not an IPv6 address" },
		{ "::1:110", 0, "'::1:110': write an IPv6 address in brackets, e.g. [::1]:1110" },
		{ ":110", 0, "':110': no address before the port" },
		{ "h:0", 0, "port '0' is not a number from 1 to 65535" },
		{ "h:65536", 0, "port '65536' is not a number from 1 to 65535" },
		{ "h:", 0, "port '' is not a number from 1 to 65535" },
		{ "h:+1", 0, "port '+1' is not a number from 1 to 65535" },
		{ "h: 1", 0, "port ' 1' is not a number from 1 to 65535" },
		{ "mail.example.org:1", both,
		  "'mail.example.org' is not a numeric IPv4 address or a bracketed IPv6 address" },
		{ "a b", 0, "'a b' is not a valid host name or address" },
		{ "-a.example", 0, "'-a.example' is not a valid host name or address" },
		{ "a..b", 0, "'a..b' is not a valid host name or address" },
		{ "999.1.1.1", 0, "'999.1.1.1' is not a valid host name or address" },
		{ "h\x01", 0, "'h?' is not a valid host name or address" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(config_hostport_parse(bad[i].s, bad[i].flags, &ep, err, sizeof(err)) == -1,
		    "%s", bad[i].s);
		ck_assert_str_eq(err, bad[i].err);
	}
}
END_TEST

START_TEST(test_url_table)
{
	static const struct config_url_scheme t[] = {
		{ "pop3", 110, false }, { "pop3s", 995, true }, { "x-test", 7, false } };
	const struct config_url_scheme *sc;
	struct config_endpoint ep;
	ck_assert_int_eq(config_url_parse("POP3S://[2001:db8::1]/", t, 3, &sc, &ep, err, sizeof(err)), 0);
	ck_assert_ptr_eq(sc, &t[1]);
	ck_assert_str_eq(ep.host, "2001:db8::1");
	ck_assert_uint_eq(ep.port, 995);
	ck_assert_int_eq(config_url_parse("x-test://h:8", t, 3, &sc, &ep, err, sizeof(err)), 0);
	ck_assert_ptr_eq(sc, &t[2]);
	ck_assert_uint_eq(ep.port, 8);
	static const struct { const char *s, *err; } bad[] = {
		{ "imap://h", "'imap://h' is not a pop3://HOST[:PORT], pop3s://HOST[:PORT] or "
		  "x-test://HOST[:PORT] URL" },
		{ "pop3:/h", "'pop3:/h' is not a pop3://HOST[:PORT], pop3s://HOST[:PORT] or "
		  "x-test://HOST[:PORT] URL" },
		{ "pop3://", "'pop3://': no host" },
		{ "pop3:///", "'pop3:///': no host" },
		{ "pop3://h/path", "'pop3://h/path': a path, query or fragment has no meaning here" },
		{ "pop3://u:p@h", "'pop3://u:p@h': credentials do not belong in the URL" },
		{ "pop3://h:0", "port '0' is not a number from 1 to 65535" },
		{ "pop3://h:65536", "port '65536' is not a number from 1 to 65535" },
		{ "pop3://h?x", "'h?x' is not a valid host name or address" },
		{ "pop3://[::1", "'[::1': '[' without ']'" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(config_url_parse(bad[i].s, t, 3, &sc, &ep, err, sizeof(err)) == -1, "%s",
		    bad[i].s);
		ck_assert_str_eq(err, bad[i].err);
	}
}
END_TEST

START_TEST(test_parse_uint)
{
	unsigned long n;
	ck_assert_int_eq(config_parse_uint("0", 0, 10, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(config_parse_uint("4294967295", 0, 4294967295ul, &n), 0);
	ck_assert_uint_eq(n, 4294967295ul);
	ck_assert_int_eq(config_parse_uint("4294967296", 0, 4294967295ul, &n), -1);
	ck_assert_int_eq(config_parse_uint("18446744073709551616", 0, (unsigned long)-1, &n), -1);
	ck_assert_int_eq(config_parse_uint("", 0, 10, &n), -1);
	ck_assert_int_eq(config_parse_uint("0x10", 0, 100, &n), -1);
	ck_assert_int_eq(config_parse_uint("5", 6, 10, &n), -1);
	ck_assert_int_eq(config_parse_uint("007", 0, 10, &n), 0);
	ck_assert_uint_eq(n, 7);
}
END_TEST

/* ---- defaults, layering, finish ---------------------------------------------- */

START_TEST(test_defaults)
{
	struct config_options o;
	char buf[300];
	config_options_init(&o);
	ck_assert_int_eq(config_options_finish(&o, false, NULL, err, sizeof(err)), 0);
	ck_assert_uint_eq(o.upstream_timeout, 30);
	ck_assert_uint_eq(o.n_listen, 1);
	ck_assert_str_eq(config_endpoint_format(&o.listen[0], buf, sizeof(buf)), "127.0.0.1:1110");
	ck_assert_uint_eq(o.n_listen_tls, 0);
	ck_assert_int_eq(o.tls_min, PB_TLS_1_2);
	ck_assert_int_eq(o.auth, PB_AUTH_PASSTHROUGH);
	ck_assert_int_eq(o.device_separator, '#');
	ck_assert_str_eq(o.dev.folder, "INBOX");
	ck_assert_int_eq(o.dev.offer, PB_OFFER_ALL);
	ck_assert_uint_eq(o.dev.window, 0);
	ck_assert_int_eq(o.dev.seen_on, PB_SEEN_RETR);
	ck_assert_int_eq(o.dev.dele, PB_DELE_HIDE);
	ck_assert_str_eq(o.trash_folder, "Trash");
	ck_assert_str_eq(o.archive_folder, "Archive");
	ck_assert_str_eq(o.dele_keyword, "$POP3Deleted");
	ck_assert(!o.allow_plaintext_auth);
	ck_assert_uint_eq(o.idle_timeout, 600);
	ck_assert_str_eq(o.user, "");
	ck_assert(!o.syslog);
	ck_assert_int_eq(o.log_level, PB_LOG_INFO);
	ck_assert_str_eq(o.state, "popbridge.db");
	ck_assert_str_eq(o.key_file, "popbridge.db.key");
	ck_assert_uint_eq(o.set, 0);
	/* serve needs an upstream */
	config_options_init(&o);
	ck_assert_int_eq(config_options_finish(&o, true, NULL, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "--upstream"));
}
END_TEST

static void set_ok(struct config_options *o, enum config_key k, const char *v)
{
	ck_assert_msg(config_options_set(o, k, v, err, sizeof(err)) == 0, "%s=%s: %s",
	    config_key_name(k), v, err);
}

START_TEST(test_layering)
{
	struct config_options eff, file, flags;
	char buf[300];
	config_options_init(&eff);
	config_options_init(&file);
	config_options_init(&flags);
	set_ok(&file, PB_K_DELE, "trash");
	set_ok(&file, PB_K_WINDOW, "50");
	set_ok(&file, PB_K_LISTEN, "127.0.0.1:2110");
	set_ok(&file, PB_K_LISTEN, "127.0.0.1:2111");
	set_ok(&file, PB_K_STATE, "/var/lib/pb.db");
	set_ok(&flags, PB_K_DELE, "archive");
	set_ok(&flags, PB_K_LISTEN, "[::1]:3110");
	set_ok(&flags, PB_K_SYSLOG, NULL);
	ck_assert_int_eq(config_options_merge(&eff, &file, err, sizeof(err)), 0);
	ck_assert_int_eq(config_options_merge(&eff, &flags, err, sizeof(err)), 0);
	ck_assert_int_eq(config_options_finish(&eff, false, NULL, err, sizeof(err)), 0);
	ck_assert_int_eq(eff.dev.dele, PB_DELE_ARCHIVE);     /* flag beats file */
	ck_assert_uint_eq(eff.dev.window, 50);               /* file beats default */
	ck_assert_int_eq(eff.dev.seen_on, PB_SEEN_RETR);     /* default */
	ck_assert_uint_eq(eff.n_listen, 1);                  /* flags replace the list */
	ck_assert_str_eq(config_endpoint_format(&eff.listen[0], buf, sizeof(buf)), "[::1]:3110");
	ck_assert(eff.syslog);
	ck_assert_str_eq(eff.key_file, "/var/lib/pb.db.key");
	config_options_free(&eff);
	config_options_free(&file);
	config_options_free(&flags);
}
END_TEST

START_TEST(test_listen_duplicates)
{
	struct config_options o;
	config_options_init(&o);
	set_ok(&o, PB_K_LISTEN, "127.0.0.1:2110");
	ck_assert_int_eq(config_options_set(&o, PB_K_LISTEN, "127.0.0.1:2110", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "127.0.0.1:2110 is given twice");
	for (int i = 1; i < PB_LISTEN_MAX; i++) {
		char a[40];
		snprintf(a, sizeof(a), "127.0.0.1:%d", 3000 + i);
		set_ok(&o, PB_K_LISTEN, a);
	}
	ck_assert_int_eq(config_options_set(&o, PB_K_LISTEN, "127.0.0.1:4000", err, sizeof(err)), -1);
	ck_assert_uint_eq(o.n_listen, PB_LISTEN_MAX);
	config_options_free(&o);
}
END_TEST

struct fcase {
	const char *settings[4][2];   /* key name, value */
	bool need_upstream;
	const char *problem;          /* NULL: finish succeeds */
	enum config_key bad;
};

static const struct fcase finish_cases[] = {
	{ { { "upstream", "imaps://h" }, { "upstream-tls", "none" } }, true,
	  "upstream-tls none contradicts the imaps:// URL (use imap://HOST for starttls or none)",
	  PB_K_UPSTREAM_TLS },
	{ { { "upstream", "imaps://h" }, { "upstream-tls", "starttls" } }, true,
	  "upstream-tls starttls contradicts the imaps:// URL (use imap://HOST for starttls or none)",
	  PB_K_UPSTREAM_TLS },
	{ { { "upstream", "imap://h" }, { "upstream-tls", "implicit" } }, true,
	  "upstream-tls implicit needs an imaps:// URL", PB_K_UPSTREAM_TLS },
	{ { { "upstream", "imap://h" }, { "upstream-tls", "none" }, { "upstream-ca", "ca.pem" } },
	  true, "upstream-ca is given but upstream-tls is none", PB_K_UPSTREAM_CA },
	{ { { "upstream", "imap://h" }, { "upstream-tls", "none" } }, true, NULL, 0 },
	{ { { "upstream", "imaps://h" }, { "upstream-tls", "implicit" } }, true, NULL, 0 },
	{ { { "cert", "c.pem" } }, false, "cert and key go together: give both or neither",
	  PB_K_CERT },
	{ { { "key", "k.pem" } }, false, "cert and key go together: give both or neither",
	  PB_K_KEY },
	{ { { "listen-tls", "127.0.0.1:1995" } }, false,
	  "listen-tls needs a certificate (cert and key)", PB_K_LISTEN_TLS },
	{ { { "listen-tls", "127.0.0.1:1995" }, { "listen", "127.0.0.1:1995" },
	    { "cert", "c" }, { "key", "k" } }, false,
	  "127.0.0.1:1995 is both a listen and a listen-tls address", PB_K_LISTEN_TLS },
	{ { { "listen-tls", "127.0.0.1:1995" }, { "cert", "c" }, { "key", "k" } }, false, NULL, 0 },
	{ { { "state", "x.db" }, { "key-file", "x.db" } }, false,
	  "the key file and the state file must differ", PB_K_KEY_FILE },
};

START_TEST(test_finish)
{
	const struct fcase *c = &finish_cases[_i];
	struct config_options o;
	enum config_key bad = PB_K_COUNT;
	config_options_init(&o);
	for (int i = 0; i < 4 && c->settings[i][0]; i++)
		set_ok(&o, (enum config_key)config_key_lookup(c->settings[i][0]), c->settings[i][1]);
	int rc = config_options_finish(&o, c->need_upstream, &bad, err, sizeof(err));
	if (!c->problem) {
		ck_assert_msg(rc == 0, "case %d: %s", _i, err);
	} else {
		ck_assert_int_eq(rc, -1);
		ck_assert_str_eq(err, c->problem);
		ck_assert_int_eq(bad, c->bad);
	}
	config_options_free(&o);
}
END_TEST

START_TEST(test_tls_mode_from_url)
{
	struct config_options o;
	config_options_init(&o);
	set_ok(&o, PB_K_UPSTREAM, "imap://h");
	ck_assert_int_eq(config_options_finish(&o, true, NULL, err, sizeof(err)), 0);
	ck_assert_int_eq(o.upstream_tls, PB_UTLS_STARTTLS);
	config_options_init(&o);
	set_ok(&o, PB_K_UPSTREAM, "imaps://h");
	ck_assert_int_eq(config_options_finish(&o, true, NULL, err, sizeof(err)), 0);
	ck_assert_int_eq(o.upstream_tls, PB_UTLS_IMPLICIT);
}
END_TEST

/* ---- per-device sections ---------------------------------------------------- */

START_TEST(test_device_overrides)
{
	struct config_options eff, file, flags;
	struct config_device_settings d;
	config_options_init(&eff);
	config_options_init(&file);
	config_options_init(&flags);
	set_ok(&file, PB_K_FOLDER, "Shared");
	set_ok(&file, PB_K_WINDOW, "10");
	struct config_device_section *s = config_options_new_section(&file, "office@example.org",
	    "scanner", 7, err, sizeof(err));
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(config_section_set(s, PB_K_DELE, "expunge", err, sizeof(err)), 0);
	ck_assert_int_eq(config_section_set(s, PB_K_OFFER, "unseen", err, sizeof(err)), 0);
	ck_assert_int_eq(config_section_set(s, PB_K_TRASH_FOLDER, "X", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "'trash-folder' cannot be set per device");
	ck_assert_int_eq(config_section_set(s, PB_K_WINDOW, "-1", err, sizeof(err)), -1);
	s = config_options_new_section(&file, "office@example.org", "pc", 9, err, sizeof(err));
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(config_section_set(s, PB_K_FOLDER, "PC", err, sizeof(err)), 0);
	ck_assert_int_eq(config_section_set(s, PB_K_SEEN_ON, "never", err, sizeof(err)), 0);
	ck_assert_int_eq(config_section_set(s, PB_K_WINDOW, "0", err, sizeof(err)), 0);
	/* an account name outside the rule: its one wording */
	ck_assert_ptr_null(config_options_new_section(&file, "", "pc", 10, err, sizeof(err)));
	ck_assert_str_eq(err, STATE_ACCOUNT_RULE);
	ck_assert_ptr_null(config_options_new_section(&file, "a\tb", "pc", 11, err, sizeof(err)));
	ck_assert_str_eq(err, STATE_ACCOUNT_RULE);
	/* a second section for the same device, in another case */
	ck_assert_ptr_null(config_options_new_section(&file, "Office@Example.org", "PC", 12,
	    err, sizeof(err)));
	ck_assert_str_eq(err,
	    "a second section for device 'PC' of account 'Office@Example.org' (first at line 9)");
	set_ok(&flags, PB_K_DELE, "trash");
	set_ok(&flags, PB_K_WINDOW, "20");

	ck_assert_int_eq(config_options_merge(&eff, &file, err, sizeof(err)), 0);
	ck_assert_int_eq(config_options_merge(&eff, &flags, err, sizeof(err)), 0);
	ck_assert_int_eq(config_options_finish(&eff, false, NULL, err, sizeof(err)), 0);
	ck_assert_uint_eq(eff.n_devices, 2);

	config_options_device(&eff, "office@example.org", "scanner", &d);
	ck_assert_str_eq(d.folder, "Shared");          /* file global */
	ck_assert_int_eq(d.dele, PB_DELE_EXPUNGE);     /* section beats the flag */
	ck_assert_int_eq(d.offer, PB_OFFER_UNSEEN);
	ck_assert_uint_eq(d.window, 20);               /* flag beats file global */
	ck_assert_int_eq(d.seen_on, PB_SEEN_RETR);     /* default */

	config_options_device(&eff, "OFFICE@example.org", "Pc", &d);  /* case-insensitive */
	ck_assert_str_eq(d.folder, "PC");
	ck_assert_int_eq(d.seen_on, PB_SEEN_NEVER);
	ck_assert_uint_eq(d.window, 0);
	ck_assert_int_eq(d.dele, PB_DELE_TRASH);

	config_options_device(&eff, "office@example.org", "default", &d);
	ck_assert_str_eq(d.folder, "Shared");
	ck_assert_int_eq(d.dele, PB_DELE_TRASH);
	ck_assert_uint_eq(d.window, 20);
	ck_assert_int_eq(d.offer, PB_OFFER_ALL);

	config_options_free(&eff);
	config_options_free(&file);
	config_options_free(&flags);
}
END_TEST

START_TEST(test_device_separator_in_name)
{
	struct config_options o;
	config_options_init(&o);
	ck_assert_ptr_nonnull(config_options_new_section(&o, "a", "b+c", 3, err, sizeof(err)));
	ck_assert_int_eq(config_options_finish(&o, false, NULL, err, sizeof(err)), 0);
	set_ok(&o, PB_K_DEVICE_SEPARATOR, "+");
	enum config_key bad;
	ck_assert_int_eq(config_options_finish(&o, false, &bad, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "device 'b+c' of account 'a': a name contains the device separator '+'");
	ck_assert_int_eq(bad, PB_K_DEVICE_SEPARATOR);
	ck_assert_ptr_null(config_options_new_section(&o, "", "x", 4, err, sizeof(err)));
	ck_assert_ptr_null(config_options_new_section(&o, "a", "x\ny", 4, err, sizeof(err)));
	config_options_free(&o);
}
END_TEST

START_TEST(test_many_sections)
{
	struct config_options o, copy;
	char dev[32];
	config_options_init(&o);
	for (int i = 0; i < PB_DEVICE_SECTIONS_MAX; i++) {
		snprintf(dev, sizeof(dev), "d%d", i);
		ck_assert_ptr_nonnull(config_options_new_section(&o, "acct", dev, (unsigned)i + 1,
		    err, sizeof(err)));
	}
	ck_assert_ptr_null(config_options_new_section(&o, "acct", "one-more", 1, err, sizeof(err)));
	ck_assert_str_eq(err, "more than 10000 device sections");
	config_options_init(&copy);
	ck_assert_int_eq(config_options_merge(&copy, &o, err, sizeof(err)), 0);
	ck_assert_uint_eq(copy.n_devices, PB_DEVICE_SECTIONS_MAX);
	ck_assert_ptr_nonnull(config_options_find_section(&copy, "ACCT", "d9999"));
	ck_assert_uint_eq(config_options_find_section(&copy, "acct", "d500")->line, 501);
	config_options_free(&o);
	config_options_free(&copy);
}
END_TEST

/* ---- command line -------------------------------------------------------------- */

static int parse(struct config_cmdline *c, char **argv, const struct config_command *cmd)
{
	int argc = 0;
	while (argv[argc])
		argc++;
	return config_cmdline_parse(c, cmd, argc, argv, err, sizeof(err));
}

/* Commands taking: every setting and --config (serve); only --folder; every
 * setting but no --config; nothing. */
static const struct config_command *const all = &cmd_serve;
static const struct config_cmd_opt folder_only_opts[] = { { PB_K_FOLDER, 0, NULL } };
static const struct config_command folder_only = {
	.name = "t", .table = cmd_options, .opts = folder_only_opts, .n_opts = 1,
};
static struct config_cmd_opt keys_only_opts[PB_K_COUNT];
static struct config_command keys_only = {
	.name = "t", .table = cmd_options, .opts = keys_only_opts, .n_opts = PB_K_COUNT,
};
static const struct config_command nothing = { .name = "t", .table = cmd_options };

START_TEST(test_cmdline)
{
	struct config_cmdline c;
	for (unsigned k = 0; k < PB_K_COUNT; k++)
		keys_only_opts[k].id = k;
	char *a1[] = { "--config", "x.xml", "--dele=trash", "--window", "7", "--syslog",
		"--listen", "127.0.0.1:2110", "--listen=[::1]:2110", "pos", "--", "--pos2", NULL };
	ck_assert_int_eq(parse(&c, a1, all), 0);
	ck_assert_str_eq(c.config, "x.xml");
	ck_assert_int_eq(c.flags.dev.dele, PB_DELE_TRASH);
	ck_assert_uint_eq(c.flags.dev.window, 7);
	ck_assert(c.flags.syslog);
	ck_assert_uint_eq(c.flags.n_listen, 2);
	ck_assert_uint_eq(c.n_args, 2);
	ck_assert_str_eq(c.args[0], "pos");
	ck_assert_str_eq(c.args[1], "--pos2");
	ck_assert(!c.help);
	config_cmdline_free(&c);

	struct { char *argv[4]; const struct config_command *cmd; const char *msg; } bad[] = {
		{ { "--bogus", NULL }, all, "unknown option '--bogus'" },
		{ { "-x", NULL }, all, "unknown option '-x'" },
		{ { "--window", NULL }, all, "--window needs a value" },
		{ { "--window=x", NULL }, all, "--window: 'x' is not a number from 0 to 1000000" },
		{ { "--syslog=yes", NULL }, all, "--syslog takes no value" },
		{ { "--dele", "hide", "--dele=trash", NULL }, all, "--dele is given twice" },
		{ { "--config", "a", "--config=b", NULL }, all, "--config is given twice" },
		{ { "--config=", NULL }, all, "--config needs a file name" },
		{ { "--dele=hide", NULL }, &folder_only, "unknown option '--dele'" },
		{ { "--config", "x.xml", NULL }, &folder_only,
			"unknown option '--config'" },
		{ { "--config=x.xml", NULL }, &keys_only,
			"unknown option '--config'" },
		{ { "--=x", NULL }, all, "unknown option '--=x'" },
		{ { "--help=1", NULL }, all, "unknown option '--help'" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(parse(&c, bad[i].argv, bad[i].cmd), -1);
		ck_assert_str_eq(err, bad[i].msg);
		config_cmdline_free(&c);
	}
	char *a2[] = { "--help", NULL };
	ck_assert_int_eq(parse(&c, a2, &nothing), 0);
	ck_assert(c.help);
	config_cmdline_free(&c);
}
END_TEST

START_TEST(test_settings_build)
{
	struct config_cmdline c;
	struct config_options eff;
	const char *cfg = bt_write_file("build.xml",
	    "<popbridge>\n"
	    "  <upstream url=\"imap://127.0.0.1:1143\" tls=\"none\"/>\n"
	    "  <mailbox dele=\"trash\" window=\"3\"/>\n"
	    "  <state file=\"/tmp/x.db\"/>\n"
	    "  <device account=\"a\" name=\"b\" dele=\"flag\"/>\n"
	    "</popbridge>\n");
	char *argv[] = { "--config", (char *)cfg, "--dele", "archive", NULL };
	ck_assert_int_eq(parse(&c, argv, &cmd_serve), 0);
	ck_assert_int_eq(config_settings_build(&c, true, &eff, config_report_print, stderr,
	    err, sizeof(err)), 0);
	ck_assert_str_eq(eff.upstream.host, "127.0.0.1");
	ck_assert_int_eq(eff.upstream.port, 1143);
	ck_assert_int_eq(eff.upstream_tls, PB_UTLS_NONE);
	ck_assert_int_eq(eff.dev.dele, PB_DELE_ARCHIVE);
	ck_assert_uint_eq(eff.dev.window, 3);
	ck_assert_str_eq(eff.key_file, "/tmp/x.db.key");
	struct config_device_settings d;
	config_options_device(&eff, "a", "b", &d);
	ck_assert_int_eq(d.dele, PB_DELE_FLAG);
	ck_assert_uint_eq(d.window, 3);
	config_options_free(&eff);
	config_cmdline_free(&c);

	/* a flag that contradicts the file */
	char *argv2[] = { "--config", (char *)cfg, "--upstream", "imaps://h", NULL };
	ck_assert_int_eq(parse(&c, argv2, &cmd_serve), 0);
	ck_assert_int_eq(config_settings_build(&c, true, &eff, config_report_print, stderr,
	    err, sizeof(err)), -1);
	ck_assert_str_eq(err,
	    "upstream-tls none contradicts the imaps:// URL (use imap://HOST for starttls or none)");
	config_options_free(&eff);
	config_cmdline_free(&c);
}
END_TEST

/* serve's command line: settings built (exit 1 when they are invalid), a
 * bad value or an extra argument refused (exit 2). */
START_TEST(test_serve_options)
{
	struct config_cmdline c;
	struct config_options eff;
	char *ok[] = { "--upstream", "imaps://[::1]:10993", "--window", "5", NULL };
	ck_assert_int_eq(parse(&c, ok, &cmd_serve), 0);
	ck_assert_int_eq(config_cmdline_check(&c, err, sizeof(err)), 0);
	ck_assert_int_eq(config_settings_build(&c, true, &eff, config_report_print, stderr,
	    err, sizeof(err)), 0);
	ck_assert_uint_eq(eff.dev.window, 5);
	ck_assert_str_eq(eff.upstream.host, "::1");
	config_options_free(&eff);
	config_cmdline_free(&c);
	char *none[] = { NULL };
	ck_assert_int_eq(parse(&c, none, &cmd_serve), 0);
	ck_assert_int_eq(config_settings_build(&c, true, &eff, config_report_print, stderr,
	    err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "no upstream server"));
	config_options_free(&eff);
	config_cmdline_free(&c);
	char *bad[] = { "--window", "x", NULL };
	ck_assert_int_eq(parse(&c, bad, &cmd_serve), -1);
	config_cmdline_free(&c);
	char *extra[] = { "--upstream", "imaps://h", "extra", NULL };
	ck_assert_int_eq(parse(&c, extra, &cmd_serve), 0);
	ck_assert_int_eq(config_cmdline_check(&c, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "unexpected argument 'extra'");
	config_cmdline_free(&c);
}
END_TEST

START_TEST(test_names_round_trip)
{
	/* every enum name parses back to itself through config_options_set */
	struct config_options o;
	for (int v = 0; v <= PB_DELE_LAST_DEVICE; v++) {
		config_options_init(&o);
		set_ok(&o, PB_K_DELE, config_dele_name((enum config_dele)v));
		ck_assert_int_eq(o.dev.dele, v);
	}
	for (int v = 0; v <= PB_OFFER_UNSEEN; v++) {
		config_options_init(&o);
		set_ok(&o, PB_K_OFFER, config_offer_name((enum config_offer)v));
		ck_assert_int_eq(o.dev.offer, v);
	}
	for (int v = 0; v <= PB_SEEN_NEVER; v++) {
		config_options_init(&o);
		set_ok(&o, PB_K_SEEN_ON, config_seen_on_name((enum config_seen_on)v));
		ck_assert_int_eq(o.dev.seen_on, v);
	}
	for (int v = 0; v <= PB_TLS_1_3; v++) {
		config_options_init(&o);
		set_ok(&o, PB_K_TLS_MIN, config_tls_version_name((enum config_tls_version)v));
		ck_assert_int_eq(o.tls_min, v);
	}
	for (int v = 0; v <= PB_LOG_DEBUG; v++) {
		config_options_init(&o);
		set_ok(&o, PB_K_LOG_LEVEL, config_log_level_name((enum base_log_level)v));
		ck_assert_int_eq(o.log_level, v);
	}
	for (int v = 0; v <= PB_UTLS_NONE; v++) {
		config_options_init(&o);
		set_ok(&o, PB_K_UPSTREAM_TLS, config_upstream_tls_name((enum config_upstream_tls)v));
		ck_assert_int_eq(o.upstream_tls, v);
	}
	for (int v = 0; v <= PB_AUTH_MANAGED; v++) {
		config_options_init(&o);
		set_ok(&o, PB_K_AUTH, config_auth_name((enum config_auth)v));
		ck_assert_int_eq(o.auth, v);
	}
	for (int k = 0; k < PB_K_COUNT; k++)
		ck_assert_int_eq(config_key_lookup(config_key_name((enum config_key)k)), k);
	ck_assert_int_eq(config_key_lookup("nope"), -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("options");
	TCase *tc = tcase_create("options");
	tcase_add_loop_test(tc, test_values, 0, sizeof(value_cases) / sizeof(value_cases[0]));
	tcase_add_test(tc, test_value_messages);
	tcase_add_test(tc, test_upstream_url);
	tcase_add_test(tc, test_parse_uint);
	tcase_add_test(tc, test_hostport);
	tcase_add_test(tc, test_url_table);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_layering);
	tcase_add_test(tc, test_listen_duplicates);
	tcase_add_loop_test(tc, test_finish, 0, sizeof(finish_cases) / sizeof(finish_cases[0]));
	tcase_add_test(tc, test_tls_mode_from_url);
	tcase_add_test(tc, test_device_overrides);
	tcase_add_test(tc, test_device_separator_in_name);
	tcase_add_test(tc, test_many_sections);
	tcase_add_test(tc, test_cmdline);
	tcase_add_test(tc, test_settings_build);
	tcase_add_test(tc, test_serve_options);
	tcase_add_test(tc, test_names_round_trip);
	suite_add_tcase(s, tc);
	return bt_run_suite(s);
}
