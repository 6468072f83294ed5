/* bridge/cmd/help.c — `popbridge help` (or --help): the list of commands. */
#include <stdio.h>

#include "bridge/cmd/cmd.h"

static int run(struct config_cmdline *c)
{
	config_cmdline_usage(c->all, c->n_all, stdout);
	return PB_EXIT_OK;
}

const struct config_command cmd_help = {
	.name = "help",
	.summary = "this text; 'popbridge COMMAND --help' for one command",
	.text = "List the commands of popbridge.\n",
	.table = cmd_options,
	.run = run,
};
