/* bridge/cmd/version.c — `popbridge version` (or --version). */
#include <stdio.h>

#include "bridge/base/version.h"
#include "bridge/cmd/cmd.h"

static int run(struct config_cmdline *c)
{
	(void)c;
	printf("popbridge %s\n", POPBRIDGE_VERSION);
	return PB_EXIT_OK;
}

const struct config_command cmd_version = {
	.name = "version",
	.summary = "print the version",
	.text = "Print the version of popbridge.\n",
	.table = cmd_options,
	.run = run,
};
