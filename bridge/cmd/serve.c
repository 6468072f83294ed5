/* bridge/cmd/serve.c — `popbridge serve` (SPEC §8): its command line and
 * settings; the service itself is bridge/serve/serve.h's serve_run(). */
#include <stdio.h>

#include "bridge/cmd/cmd.h"
#include "bridge/serve/serve.h"

static int run(struct config_cmdline *c)
{
	struct config_options opt;
	char err[PB_ERR_MAX];
	if (config_settings_build(c, true, &opt, config_report_print, stderr, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "popbridge serve: %s\n", err);
		config_options_free(&opt);
		return PB_EXIT_FAIL;
	}
	int status = serve_run(c, &opt);
	config_options_free(&opt);
	return status;
}

/* Every setting, in the order of enum config_key, and --config. */
static const struct config_cmd_opt opts[] = {
	{ CMD_O_CONFIG, 0, NULL },
	{ PB_K_UPSTREAM, 0, "the IMAP server: imaps://HOST[:993] or imap://HOST[:143]" },
	{ PB_K_UPSTREAM_TLS, 0, NULL }, { PB_K_UPSTREAM_CA, 0, NULL },
	{ PB_K_UPSTREAM_TIMEOUT, 0, NULL }, { PB_K_LISTEN, 0, NULL }, { PB_K_LISTEN_TLS, 0, NULL },
	{ PB_K_CERT, 0, NULL }, { PB_K_KEY, 0, NULL }, { PB_K_TLS_MIN, 0, NULL },
	{ PB_K_AUTH, 0, NULL }, { PB_K_DEVICE_SEPARATOR, 0, NULL }, { PB_K_FOLDER, 0, NULL },
	{ PB_K_OFFER, 0, NULL }, { PB_K_WINDOW, 0, NULL }, { PB_K_SEEN_ON, 0, NULL },
	{ PB_K_DELE, 0, NULL }, { PB_K_TRASH_FOLDER, 0, NULL }, { PB_K_ARCHIVE_FOLDER, 0, NULL },
	{ PB_K_DELE_KEYWORD, 0, NULL }, { PB_K_ALLOW_PLAINTEXT_AUTH, 0, NULL },
	{ PB_K_MAX_SESSIONS, 0, NULL }, { PB_K_MAX_SESSIONS_PER_IP, 0, NULL },
	{ PB_K_IDLE_TIMEOUT, 0, NULL }, { PB_K_LOGIN_TIMEOUT, 0, NULL },
	{ PB_K_MAX_AUTH_FAILURES, 0, NULL }, { PB_K_MAX_DEVICES_PER_ACCOUNT, 0, NULL },
	{ PB_K_PROXY_PROTOCOL, 0, NULL }, { PB_K_TRUSTED_PROXY, 0, NULL },
	{ PB_K_UPSTREAM_FORWARD_CLIENT_IP, 0, NULL },
	{ PB_K_UPSTREAM_REUSE, 0, NULL }, { PB_K_UPSTREAM_MAX_PER_ACCOUNT, 0, NULL }, { PB_K_USER, 0, NULL }, { PB_K_SYSLOG, 0, NULL },
	{ PB_K_LOG_LEVEL, 0, NULL }, { PB_K_STATE, 0, NULL }, { PB_K_KEY_FILE, 0, NULL },
	{ PB_K_LOGIN_DELAY, 0, NULL },
	{ PB_K_IMAP_LISTEN, 0, NULL }, { PB_K_IMAP_LISTEN_TLS, 0, NULL },
	{ PB_K_METRICS_LISTEN, 0, NULL },
	{ PB_K_SMTP_UPSTREAM, 0, NULL }, { PB_K_SMTP_UPSTREAM_TLS, 0, NULL },
	{ PB_K_SMTP_LISTEN, 0, NULL }, { PB_K_SMTP_LISTEN_TLS, 0, NULL },
	{ PB_K_SENT_COPY, 0, NULL }, { PB_K_SENT_FOLDER, 0, NULL },
};
_Static_assert(sizeof(opts) / sizeof(opts[0]) == PB_K_COUNT + 1, "serve takes every setting");

const struct config_command cmd_serve = {
	.name = "serve",
	.summary = "run the POP3 service (foreground)",
	.text =
	    "Run the POP3 service in the foreground. Options override the\n"
	    "configuration file; defaults in brackets. --upstream is required, here\n"
	    "or in the file. An option given twice is an error, except --listen,\n"
	    "--listen-tls, --imap-listen, --imap-listen-tls, --smtp-listen,\n"
	    "--smtp-listen-tls and --trusted-proxy.\n"
	    "With --smtp-listen or --smtp-listen-tls it also accepts mail from the\n"
	    "devices and relays it to --smtp-upstream, with a copy in Sent.\n",
	.table = cmd_options, .opts = opts, .n_opts = CONFIG_N(opts),
	.run = run,
};
