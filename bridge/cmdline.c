/* bridge/cmdline.c — subcommand option parsing and the settings build. */
#include "bridge/cmdline.h"
#include "bridge/errbuf.h"

#include <string.h>

int pb_cmdline_parse(struct pb_cmdline *c, int argc, char **argv, uint64_t allowed,
    char *err, size_t errlen)
{
	char verr[PB_ERR_MAX];
	bool options_done = false;

	memset(c, 0, sizeof(*c));
	pb_options_init(&c->flags);
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (options_done || a[0] != '-' || strcmp(a, "-") == 0) {
			if (c->n_args >= PB_ARGS_MAX)
				return pb_errf(err, errlen, "too many arguments");
			c->args[c->n_args++] = a;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			options_done = true;
			continue;
		}
		if (strncmp(a, "--", 2) != 0)
			return pb_errf(err, errlen, "unknown option '%s'", a);

		/* --name, --name=value or --name value */
		char name[40];
		const char *eq = strchr(a + 2, '=');
		size_t nlen = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
		if (nlen == 0 || nlen >= sizeof(name))
			return pb_errf(err, errlen, "unknown option '%s'", a);
		memcpy(name, a + 2, nlen);
		name[nlen] = 0;
		const char *value = eq ? eq + 1 : NULL;

		if (strcmp(name, "help") == 0 && !eq) {
			c->help = true;
			continue;
		}
		int k = strcmp(name, "config") == 0 ? -2 : pb_key_lookup(name);
		if (k == -1 || (k >= 0 && !(allowed & PB_KEY_BIT(k))) ||
		    (k == -2 && !(allowed & PB_OPT_CONFIG)))
			return pb_errf(err, errlen, "unknown option '--%s'", name);
		if (k >= 0 && pb_key_is_flag((enum pb_key)k)) {
			if (eq)
				return pb_errf(err, errlen, "--%s takes no value", name);
		} else if (!value) {
			if (i + 1 >= argc)
				return pb_errf(err, errlen, "--%s needs a value", name);
			value = argv[++i];
		}
		if (k == -2) {
			if (c->config)
				return pb_errf(err, errlen, "--config is given twice");
			if (!*value)
				return pb_errf(err, errlen, "--config needs a file name");
			c->config = value;
			continue;
		}
		if ((c->flags.set & PB_KEY_BIT(k)) && k != PB_K_LISTEN && k != PB_K_LISTEN_TLS)
			return pb_errf(err, errlen, "--%s is given twice", name);
		if (pb_options_set(&c->flags, (enum pb_key)k, value, verr, sizeof(verr)) != 0)
			return pb_errf(err, errlen, "--%s: %s", name, verr);
	}
	return 0;
}

void pb_cmdline_free(struct pb_cmdline *c)
{
	pb_options_free(&c->flags);
}

int pb_settings_build(const struct pb_cmdline *c, bool need_upstream,
    struct pb_options *out, pb_config_report_fn *report, void *arg,
    char *err, size_t errlen)
{
	struct pb_options file;
	int rc = -1;

	pb_options_init(out);
	pb_options_init(&file);
	if (c->config && pb_config_load(c->config, &file, report, arg) != 0) {
		snprintf(err, errlen, "%s: invalid configuration", c->config);
		goto out;
	}
	if (pb_options_merge(out, &file, err, errlen) != 0 ||
	    pb_options_merge(out, &c->flags, err, errlen) != 0 ||
	    pb_options_finish(out, need_upstream, NULL, err, errlen) != 0)
		goto out;
	rc = 0;
out:
	pb_options_free(&file);
	if (rc != 0) {
		pb_options_free(out);
		pb_options_init(out);
	}
	return rc;
}

void pb_serve_usage(FILE *f)
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

bool pb_serve_options(int argc, char **argv, struct pb_options *out, int *exit_status)
{
	struct pb_cmdline c;
	char err[PB_ERR_MAX];
	bool go = false;

	pb_options_init(out);
	if (pb_cmdline_parse(&c, argc, argv, PB_OPT_ALL, err, sizeof(err)) != 0) {
		fprintf(stderr, "popbridge serve: %s (see 'popbridge serve --help')\n", err);
		*exit_status = PB_EXIT_USAGE;
	} else if (c.help) {
		pb_serve_usage(stdout);
		*exit_status = PB_EXIT_OK;
	} else if (c.n_args > 0) {
		fprintf(stderr, "popbridge serve: unexpected argument '%s'\n", c.args[0]);
		*exit_status = PB_EXIT_USAGE;
	} else if (pb_settings_build(&c, true, out, pb_config_report_print, stderr,
	    err, sizeof(err)) != 0) {
		fprintf(stderr, "popbridge serve: %s\n", err);
		*exit_status = PB_EXIT_FAIL;
	} else {
		go = true;
	}
	pb_cmdline_free(&c);
	return go;
}
