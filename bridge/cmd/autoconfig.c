/* bridge/cmd/autoconfig.c — `popbridge autoconfig` (SPEC §7, §8): the client
 * configuration of a device moving to IMAP, on standard output
 * (bridge/migrate/autoconfig.h builds it). */
#include <stdio.h>
#include <string.h>

#include "bridge/migrate/autoconfig.h"
#include "bridge/cmd/admin.h"
#include "bridge/cmd/migrate_cli.h"

#define NAME "autoconfig"

static const char USAGE[] =
"usage: popbridge autoconfig --format thunderbird|autodiscover|mobileconfig\n"
"           --email ADDRESS [--upstream URL] [--upstream-tls MODE] [--config FILE]\n"
"           [--login NAME] [--display-name NAME] [--smtp-host H --smtp-port P\n"
"            --smtp-tls implicit|starttls|none]\n"
"\n"
"Write to standard output the client configuration for the IMAP server of\n"
"--upstream (or the configuration file's upstream): a Thunderbird autoconfig\n"
"document (clientConfig 1.1), an Outlook autodiscover response (POX, schema\n"
"2006a) or an Apple configuration profile (com.apple.mail.managed payload).\n"
"The login name defaults to the address; the outgoing server to the IMAP\n"
"host, port 587 with STARTTLS. An imaps:// URL gives implicit TLS (SSL), an\n"
"imap:// URL STARTTLS (or none with --upstream-tls none).\n";

enum { O_FORMAT, O_EMAIL, O_LOGIN, O_DISPLAY, O_SMTP_HOST, O_SMTP_PORT, O_SMTP_TLS, O_N };
static const char *const OPT_NAMES[O_N] = {
	"format", "email", "login", "display-name", "smtp-host", "smtp-port", "smtp-tls",
};

_Static_assert((int)AUTOCONFIG_TLS_IMPLICIT == (int)PB_UTLS_IMPLICIT &&
    (int)AUTOCONFIG_TLS_STARTTLS == (int)PB_UTLS_STARTTLS &&
    (int)AUTOCONFIG_TLS_NONE == (int)PB_UTLS_NONE, "migrate_autoconfig_tls follows config_upstream_tls");

static int parse_tls(const char *s, enum migrate_autoconfig_tls *t)
{
	if (strcmp(s, "implicit") == 0)
		*t = AUTOCONFIG_TLS_IMPLICIT;
	else if (strcmp(s, "starttls") == 0)
		*t = AUTOCONFIG_TLS_STARTTLS;
	else if (strcmp(s, "none") == 0)
		*t = AUTOCONFIG_TLS_NONE;
	else
		return -1;
	return 0;
}

static int usage_fail(const char *fmt, const char *arg)
{
	fprintf(stderr, "popbridge %s: ", NAME);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (see 'popbridge %s --help')\n", NAME);
	return PB_EXIT_USAGE;
}

int cmd_autoconfig(int argc, char **argv)
{
	const char *opt[O_N];
	struct cmd_admin ad;
	struct migrate_autoconfig_params p;
	enum migrate_autoconfig_format fmt;
	char err[PB_ERR_MAX];
	int status = PB_EXIT_FAIL;

	if (cmd_take_options(&argc, argv, OPT_NAMES, opt, O_N, err, sizeof(err)) != 0)
		return usage_fail("%s", err);
	uint64_t allowed = PB_KEY_BIT(PB_K_UPSTREAM) | PB_KEY_BIT(PB_K_UPSTREAM_TLS);
	if (cmd_admin_begin(&ad, NAME, argc, argv, allowed, 0, 0, USAGE, &status) != 0)
		goto out;
	status = PB_EXIT_USAGE;
	if (opt[O_FORMAT] == NULL || opt[O_EMAIL] == NULL) {
		usage_fail("%s", opt[O_FORMAT] == NULL ? "--format is required" :
		    "--email is required");
		goto out;
	}
	if (migrate_autoconfig_parse_format(opt[O_FORMAT], &fmt, err, sizeof(err)) != 0) {
		usage_fail("--format: %s", err);
		goto out;
	}
	migrate_autoconfig_params_init(&p);
	if (opt[O_SMTP_PORT] != NULL) {
		unsigned long port;
		if (config_parse_uint(opt[O_SMTP_PORT], 1, 65535, &port) != 0) {
			usage_fail("--smtp-port: a number 1..65535, not '%s'", opt[O_SMTP_PORT]);
			goto out;
		}
		p.smtp_port = (unsigned)port;
	}
	if (opt[O_SMTP_TLS] != NULL && parse_tls(opt[O_SMTP_TLS], &p.smtp_tls) != 0) {
		usage_fail("--smtp-tls: implicit, starttls or none, not '%s'", opt[O_SMTP_TLS]);
		goto out;
	}
	status = PB_EXIT_FAIL;
	if (ad.o.upstream.host[0] == '\0') {
		cmd_admin_fail(&ad, "no IMAP server: give --upstream imaps://HOST[:PORT] (or --config)");
		goto out;
	}
	p.email = opt[O_EMAIL];
	p.host = ad.o.upstream.host;
	p.port = ad.o.upstream.port;
	/* enum migrate_autoconfig_tls lists the modes in enum config_upstream_tls's order */
	p.tls = (enum migrate_autoconfig_tls)ad.o.upstream_tls;
	p.login = opt[O_LOGIN];
	p.display_name = opt[O_DISPLAY];
	p.smtp_host = opt[O_SMTP_HOST];
	if (migrate_autoconfig_write(stdout, fmt, &p, err, sizeof(err)) != 0) {
		cmd_admin_fail(&ad, "%s", err);
		goto out;
	}
	if (cmd_admin_stdout_flush(&ad, "the document") != 0)
		goto out;
	status = PB_EXIT_OK;
out:
	cmd_admin_end(&ad);
	return status;
}
