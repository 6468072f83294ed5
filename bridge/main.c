/* bridge/main.c — the popbridge command: dispatch to subcommands.
 *
 * Every subcommand of SPEC §8 is in `commands`; each has its own --help.
 */
#include <stdio.h>
#include <string.h>

#include "bridge/cmd/admin.h"
#include "bridge/config/cmdline.h"
#include "bridge/config/file.h"
#include "bridge/cmd/migrate_cli.h"
#include "bridge/serve/serve.h"
#include "bridge/base/version.h"

struct command {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);  /* argv: the arguments after the name */
};

static int cmd_help(int argc, char **argv);
static int cmd_version(int argc, char **argv);
static int cmd_check_config(int argc, char **argv);

static const struct command commands[] = {
	{ "serve", "run the POP3 service (foreground)", serve_main },
	{ "account", "managed accounts: add, list, remove, set-password", cmd_account },
	{ "device", "devices: add, list, revoke, reset, set", cmd_device },
	{ "import-uidls", "copy the UIDLs of an old POP3 server (migration)", cmd_import_uidls },
	{ "report", "accounts and devices: who still uses POP3 (table, json)", cmd_report },
	{ "autoconfig", "client configuration for a device moving to IMAP", cmd_autoconfig },
	{ "check-config", "validate a configuration file", cmd_check_config },
	{ "version", "print the version", cmd_version },
	{ "help", "this text; 'popbridge COMMAND --help' for one command", cmd_help },
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: popbridge COMMAND [options]\n\ncommands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].summary);
}

/* Parse a command that takes no options besides --help (and those in
 * allowed); prints the problem. -1: exit with *status. */
static int simple_args(const char *name, int argc, char **argv, uint64_t allowed,
    struct config_cmdline *c, const char *usage_text, int *status)
{
	char err[PB_ERR_MAX];
	if (config_cmdline_parse(c, argc, argv, allowed, err, sizeof(err)) != 0) {
		fprintf(stderr, "popbridge %s: %s (see 'popbridge %s --help')\n", name, err, name);
		*status = PB_EXIT_USAGE;
		return -1;
	}
	if (c->help) {
		fputs(usage_text, stdout);
		*status = PB_EXIT_OK;
		return -1;
	}
	if (c->n_args > 0) {
		fprintf(stderr, "popbridge %s: unexpected argument '%s'\n", name, c->args[0]);
		*status = PB_EXIT_USAGE;
		return -1;
	}
	return 0;
}

static int cmd_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	usage(stdout);
	return PB_EXIT_OK;
}

static int cmd_version(int argc, char **argv)
{
	struct config_cmdline c;
	int status = PB_EXIT_OK;
	if (simple_args("version", argc, argv, 0, &c,
	    "usage: popbridge version\n\nPrint the version of popbridge.\n", &status) == 0)
		printf("popbridge %s\n", POPBRIDGE_VERSION);
	config_cmdline_free(&c);
	return status;
}

static int cmd_check_config(int argc, char **argv)
{
	struct config_cmdline c;
	struct config_options layer;
	int status = PB_EXIT_OK;
	if (simple_args("check-config", argc, argv, PB_OPT_CONFIG, &c,
	    "usage: popbridge check-config --config FILE\n\n"
	    "Validate FILE against the configuration schema and check every value.\n"
	    "Exit 0 when it is valid; otherwise print FILE:LINE: problem for each\n"
	    "problem and exit 1.\n", &status) != 0)
		goto out;
	if (!c.config) {
		fprintf(stderr, "popbridge check-config: --config FILE is required\n");
		status = PB_EXIT_USAGE;
		goto out;
	}
	if (config_file_load(c.config, &layer, config_report_print, stderr) != 0)
		status = PB_EXIT_FAIL;
	else
		printf("%s: valid\n", c.config);
	config_options_free(&layer);
out:
	config_cmdline_free(&c);
	return status;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return PB_EXIT_USAGE;
	}
	const char *name = argv[1];
	if (strcmp(name, "--help") == 0)
		name = "help";
	else if (strcmp(name, "--version") == 0)
		name = "version";
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(name, commands[i].name) == 0)
			return commands[i].run(argc - 2, argv + 2);
	fprintf(stderr, "popbridge: unknown command '%s' (see 'popbridge help')\n", argv[1]);
	return PB_EXIT_USAGE;
}
