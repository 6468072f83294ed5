/* bridge/cmd/autoconfig.c — `popbridge autoconfig` (SPEC §7, §8): the client
 * configuration of a device moving to IMAP, on standard output
 * (bridge/migrate/autoconfig.h builds it). */
#include <stdio.h>
#include <string.h>

#include "bridge/cmd/admin.h"
#include "bridge/migrate/autoconfig.h"

#define NAME "autoconfig"

_Static_assert((int)AUTOCONFIG_TLS_IMPLICIT == (int)PB_UTLS_IMPLICIT &&
    (int)AUTOCONFIG_TLS_STARTTLS == (int)PB_UTLS_STARTTLS &&
    (int)AUTOCONFIG_TLS_NONE == (int)PB_UTLS_NONE, "migrate_autoconfig_tls follows config_upstream_tls");

/* popbridge's own SMTP submission is on (SPEC §11): the device sends
 * through it, with its device password, unless --smtp-* say otherwise. The
 * first implicit-TLS listener, else the first plain one (STARTTLS when a
 * certificate is set); a listener on every address is reached by the
 * --front HOST when there is one. */
static int submission_server(struct cmd_admin *ad, const struct config_argval *arg,
    struct migrate_autoconfig_params *p)
{
	const struct config_options *o = &ad->o;
	bool tls = o->n_smtp_listen_tls > 0;
	const struct config_endpoint *ep = tls ? &o->smtp_listen_tls[0] : &o->smtp_listen[0];

	if (arg[CMD_O_SMTP_PORT].text == NULL)
		p->smtp_port = ep->port;
	if (arg[CMD_O_SMTP_TLS].text == NULL)
		p->smtp_tls = tls ? AUTOCONFIG_TLS_IMPLICIT : o->cert[0] ? AUTOCONFIG_TLS_STARTTLS
		    : AUTOCONFIG_TLS_NONE;
	if (arg[CMD_O_SMTP_HOST].text != NULL)
		return 0;
	if (strcmp(ep->host, "0.0.0.0") != 0 && strcmp(ep->host, "::") != 0)
		p->smtp_host = ep->host;
	else if (arg[CMD_O_FRONT].text != NULL)
		p->smtp_host = arg[CMD_O_FRONT].text;
	else
		return cmd_admin_fail(ad, "popbridge's submission service listens on every "
		    "address: give --smtp-host with the name devices reach it by");
	return 0;
}

/* --front HOST: the IMAP front (SPEC §12) at HOST, with the port and TLS of
 * its first --imap-listen-tls (implicit TLS), else of its first
 * --imap-listen (STARTTLS with a certificate, else none). The outgoing
 * server stays the upstream's host unless --smtp-host says otherwise or
 * popbridge's own submission service is on (submission_server). */
static int front(struct cmd_admin *ad, const char *host, struct migrate_autoconfig_params *p)
{
	const struct config_options *o = &ad->o;
	p->host = host;
	if (o->n_imap_listen_tls > 0) {
		p->port = o->imap_listen_tls[0].port;
		p->tls = AUTOCONFIG_TLS_IMPLICIT;
	} else if (o->n_imap_listen > 0) {
		p->port = o->imap_listen[0].port;
		p->tls = o->cert[0] ? AUTOCONFIG_TLS_STARTTLS : AUTOCONFIG_TLS_NONE;
	} else {
		return cmd_admin_fail(ad, "--front: no IMAP front to point at: give its "
		    "--imap-listen-tls or --imap-listen address, here or in --config");
	}
	if (o->upstream.host[0])
		p->smtp_host = o->upstream.host;
	return 0;
}

static int run(struct config_cmdline *c)
{
	const struct config_argval *arg = c->arg;
	struct cmd_admin ad;
	struct migrate_autoconfig_params p;
	char err[PB_ERR_MAX];
	int status = PB_EXIT_FAIL;

	if (cmd_admin_begin(&ad, c) != 0)
		goto out;
	migrate_autoconfig_params_init(&p);
	if (arg[CMD_O_FRONT].text != NULL) {
		if (front(&ad, arg[CMD_O_FRONT].text, &p) != 0)
			goto out;
	} else {
		if (ad.o.upstream.host[0] == '\0') {
			cmd_admin_fail(&ad, "no IMAP server: give --upstream imaps://HOST[:PORT] (or "
			    "--config), or --front HOST");
			goto out;
		}
		p.host = ad.o.upstream.host;
		p.port = ad.o.upstream.port;
		/* enum migrate_autoconfig_tls lists the modes in enum config_upstream_tls's order */
		p.tls = (enum migrate_autoconfig_tls)ad.o.upstream_tls;
	}
	p.email = arg[CMD_O_EMAIL].text;
	p.login = arg[CMD_O_LOGIN].text;
	p.display_name = arg[CMD_O_DISPLAY_NAME].text;
	if (arg[CMD_O_SMTP_HOST].text != NULL)
		p.smtp_host = arg[CMD_O_SMTP_HOST].text;
	p.smtp_port = (unsigned)arg[CMD_O_SMTP_PORT].num;
	p.smtp_tls = (enum migrate_autoconfig_tls)arg[CMD_O_SMTP_TLS].num;
	if (ad.o.n_smtp_listen + ad.o.n_smtp_listen_tls > 0 &&
	    submission_server(&ad, arg, &p) != 0)
		goto out;
	if (migrate_autoconfig_write(stdout,
	    (enum migrate_autoconfig_format)arg[CMD_O_AUTOCONFIG_FORMAT].num, &p, err,
	    sizeof(err)) != 0) {
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

static const struct config_cmd_opt opts[] = {
	{ CMD_O_AUTOCONFIG_FORMAT, CONFIG_REQUIRED, NULL },
	{ CMD_O_EMAIL, CONFIG_REQUIRED, NULL },
	{ PB_K_UPSTREAM, 0, "the IMAP server: imaps://HOST[:993] or imap://HOST[:143]" },
	{ PB_K_UPSTREAM_TLS, 0, "none: plaintext (with an imap:// URL)" },
	{ CMD_O_CONFIG, 0, "read the upstream server from this configuration" },
	{ CMD_O_LOGIN, 0, NULL },
	{ CMD_O_DISPLAY_NAME, 0, NULL },
	{ CMD_O_SMTP_HOST, 0, NULL },
	{ CMD_O_SMTP_PORT, 0, NULL },
	{ CMD_O_SMTP_TLS, 0, NULL },
	{ CMD_O_FRONT, 0, NULL },
	{ PB_K_IMAP_LISTEN, 0, "the IMAP front's address (its port goes into the document)" },
	{ PB_K_IMAP_LISTEN_TLS, 0, "the same for implicit TLS (preferred)" },
	{ PB_K_CERT, 0, "with --imap-listen or --smtp-listen: STARTTLS is offered" },
	{ PB_K_KEY, 0, NULL },
	{ PB_K_SMTP_LISTEN, 0, "popbridge's submission service (as serve's): the outgoing server" },
	{ PB_K_SMTP_LISTEN_TLS, 0, "the same over implicit TLS (preferred)" },
};

const struct config_command cmd_autoconfig = {
	.name = NAME,
	.summary = "client configuration for a device moving to IMAP",
	.text =
	    "Write to standard output the client configuration for the IMAP server of\n"
	    "--upstream (or the configuration file's upstream): a Thunderbird autoconfig\n"
	    "document (clientConfig 1.1), an Outlook autodiscover response (POX, schema\n"
	    "2006a) or an Apple configuration profile (com.apple.mail.managed payload).\n"
	    "An imaps:// URL gives implicit TLS (SSL), an imap:// URL STARTTLS (or none\n"
	    "with --upstream-tls none). With --front HOST the document points at\n"
	    "popbridge's IMAP front instead, so the device keeps its own (managed,\n"
	    "revocable) password: HOST with the port of the front's first\n"
	    "--imap-listen-tls (SSL), else of its first --imap-listen (STARTTLS when a\n"
	    "certificate is set, else none), from --config or these options; the\n"
	    "outgoing server is then the upstream's host. When popbridge's SMTP\n"
	    "submission is on (its --smtp-listen or --smtp-listen-tls, here or in the\n"
	    "configuration file), the outgoing server is popbridge's own (on a wildcard\n"
	    "address, at the --front HOST), so the device keeps sending with its device\n"
	    "password. --smtp-host, --smtp-port and --smtp-tls override.\n",
	.table = cmd_options, .opts = opts, .n_opts = CONFIG_N(opts),
	.run = run,
};
