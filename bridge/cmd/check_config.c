/* bridge/cmd/check_config.c — `popbridge check-config` (SPEC §8): validate a
 * configuration file. */
#include <stdio.h>

#include "bridge/cmd/cmd.h"

static int run(struct config_cmdline *c)
{
	struct config_options layer;
	int status = PB_EXIT_OK;

	if (!c->config) {
		fprintf(stderr, "popbridge check-config: --config FILE is required\n");
		return PB_EXIT_USAGE;
	}
	if (config_file_load(c->config, &layer, config_report_print, stderr) != 0)
		status = PB_EXIT_FAIL;
	else
		printf("%s: valid\n", c->config);
	config_options_free(&layer);
	return status;
}

/* --config is required; run() says so in its own words. */
static const struct config_cmd_opt opts[] = {
	{ CMD_O_CONFIG, 0, "the XML configuration to check (required)" },
};

const struct config_command cmd_check_config = {
	.name = "check-config",
	.summary = "validate a configuration file",
	.args = "--config FILE",
	.text =
	    "Validate FILE against the configuration schema and check every value.\n"
	    "Exit 0 when it is valid; otherwise print FILE:LINE: problem for each\n"
	    "problem and exit 1.\n",
	.table = cmd_options, .opts = opts, .n_opts = CONFIG_N(opts),
	.run = run,
};
