/* bridge/config/cmdline.c — subcommand option parsing and the settings build. */
#include "bridge/config/cmdline.h"
#include "bridge/base/errbuf.h"

#include <string.h>

int config_cmdline_parse(struct config_cmdline *c, int argc, char **argv, uint64_t allowed,
    char *err, size_t errlen)
{
	char verr[PB_ERR_MAX];
	bool options_done = false;

	memset(c, 0, sizeof(*c));
	config_options_init(&c->flags);
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (options_done || a[0] != '-' || strcmp(a, "-") == 0) {
			if (c->n_args >= PB_ARGS_MAX)
				return base_errf(err, errlen, "too many arguments");
			c->args[c->n_args++] = a;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			options_done = true;
			continue;
		}
		if (strncmp(a, "--", 2) != 0)
			return base_errf(err, errlen, "unknown option '%s'", a);

		/* --name, --name=value or --name value */
		char name[40];
		const char *eq = strchr(a + 2, '=');
		size_t nlen = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
		if (nlen == 0 || nlen >= sizeof(name))
			return base_errf(err, errlen, "unknown option '%s'", a);
		memcpy(name, a + 2, nlen);
		name[nlen] = 0;
		const char *value = eq ? eq + 1 : NULL;

		if (strcmp(name, "help") == 0 && !eq) {
			c->help = true;
			continue;
		}
		int k = strcmp(name, "config") == 0 ? -2 : config_key_lookup(name);
		if (k == -1 || (k >= 0 && !(allowed & PB_KEY_BIT(k))) ||
		    (k == -2 && !(allowed & PB_OPT_CONFIG)))
			return base_errf(err, errlen, "unknown option '--%s'", name);
		if (k >= 0 && config_key_is_flag((enum config_key)k)) {
			if (eq)
				return base_errf(err, errlen, "--%s takes no value", name);
		} else if (!value) {
			if (i + 1 >= argc)
				return base_errf(err, errlen, "--%s needs a value", name);
			value = argv[++i];
		}
		if (k == -2) {
			if (c->config)
				return base_errf(err, errlen, "--config is given twice");
			if (!*value)
				return base_errf(err, errlen, "--config needs a file name");
			c->config = value;
			continue;
		}
		if ((c->flags.set & PB_KEY_BIT(k)) && k != PB_K_LISTEN && k != PB_K_LISTEN_TLS)
			return base_errf(err, errlen, "--%s is given twice", name);
		if (config_options_set(&c->flags, (enum config_key)k, value, verr, sizeof(verr)) != 0)
			return base_errf(err, errlen, "--%s: %s", name, verr);
	}
	return 0;
}

void config_cmdline_free(struct config_cmdline *c)
{
	config_options_free(&c->flags);
}

int config_settings_build(const struct config_cmdline *c, bool need_upstream,
    struct config_options *out, config_report_fn *report, void *arg,
    char *err, size_t errlen)
{
	struct config_options file;
	int rc = -1;

	config_options_init(out);
	config_options_init(&file);
	if (c->config && config_file_load(c->config, &file, report, arg) != 0) {
		snprintf(err, errlen, "%s: invalid configuration", c->config);
		goto out;
	}
	if (config_options_merge(out, &file, err, errlen) != 0 ||
	    config_options_merge(out, &c->flags, err, errlen) != 0 ||
	    config_options_finish(out, need_upstream, NULL, err, errlen) != 0)
		goto out;
	rc = 0;
out:
	config_options_free(&file);
	if (rc != 0) {
		config_options_free(out);
		config_options_init(out);
	}
	return rc;
}

void config_serve_usage(FILE *f)
{
	fprintf(f,
	    "usage: popbridge serve [--config FILE] [options]\n"
	    "\n"
	    "Run the POP3 service in the foreground. Options override the\n"
	    "configuration file; defaults in brackets.\n"
	    "\n"
	    "  --config FILE             XML configuration (see docs/CONFIG.md)\n"
	    "  --upstream URL            imaps://HOST[:993] or imap://HOST[:143]\n"
	    "  --upstream-tls MODE       implicit | starttls | none  [from the URL]\n"
	    "  --upstream-ca FILE        PEM certificates to trust upstream  [system store]\n"
	    "  --upstream-timeout SECS   1..3600  [30]\n"
	    "  --listen ADDR:PORT        POP3, STLS with a certificate; repeatable  [127.0.0.1:1110]\n"
	    "  --listen-tls ADDR:PORT    POP3 over implicit TLS; repeatable\n"
	    "  --cert FILE --key FILE    server certificate chain and key (PEM)\n"
	    "  --tls-min VERSION         1.0 | 1.1 | 1.2 | 1.3  [1.2]\n"
	    "  --auth MODE               passthrough | managed  [passthrough]\n"
	    "  --device-separator C      [#]\n"
	    "  --folder NAME             [INBOX]\n"
	    "  --offer MODE              all | since-enrolment | unseen  [all]\n"
	    "  --window N                0 (unlimited) .. 1000000  [0]\n"
	    "  --seen-on WHEN            retr | quit | never  [retr]\n"
	    "  --dele MODE               hide | trash | archive | flag | expunge | last-device  [hide]\n"
	    "  --trash-folder NAME       [Trash]\n"
	    "  --archive-folder NAME     [Archive]\n"
	    "  --dele-keyword WORD       [$POP3Deleted]\n"
	    "  --allow-plaintext-auth    allow USER/PASS without TLS on non-loopback connections\n"
	    "  --max-sessions N          1..100000  [%d]\n"
	    "  --max-sessions-per-ip N   1..100000  [%d]\n"
	    "  --idle-timeout SECS       1..86400  [%d]\n"
	    "  --user NAME               drop privileges to NAME after binding\n"
	    "  --syslog                  log to syslog instead of stderr\n"
	    "  --log-level LEVEL         error | warn | info | debug  [info]\n"
	    "  --state FILE              [%s]\n"
	    "  --key-file FILE           [STATE.key]\n",
	    PB_DEFAULT_MAX_SESSIONS, PB_DEFAULT_MAX_SESSIONS_PER_IP,
	    PB_DEFAULT_IDLE_TIMEOUT, PB_DEFAULT_STATE);
}

bool config_serve_options(int argc, char **argv, struct config_options *out, int *exit_status)
{
	struct config_cmdline c;
	char err[PB_ERR_MAX];
	bool go = false;

	config_options_init(out);
	if (config_cmdline_parse(&c, argc, argv, PB_OPT_ALL, err, sizeof(err)) != 0) {
		fprintf(stderr, "popbridge serve: %s (see 'popbridge serve --help')\n", err);
		*exit_status = PB_EXIT_USAGE;
	} else if (c.help) {
		config_serve_usage(stdout);
		*exit_status = PB_EXIT_OK;
	} else if (c.n_args > 0) {
		fprintf(stderr, "popbridge serve: unexpected argument '%s'\n", c.args[0]);
		*exit_status = PB_EXIT_USAGE;
	} else if (config_settings_build(&c, true, out, config_report_print, stderr,
	    err, sizeof(err)) != 0) {
		fprintf(stderr, "popbridge serve: %s\n", err);
		*exit_status = PB_EXIT_FAIL;
	} else {
		go = true;
	}
	config_cmdline_free(&c);
	return go;
}
