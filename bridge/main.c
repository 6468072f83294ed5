/* bridge/main.c — the popbridge command: the command table.
 *
 * Every subcommand of SPEC §8 is here, each defined in its own file of
 * bridge/cmd/ (cmd.h); config_cmdline_main() (bridge/config/cmdline.h)
 * parses the command line, answers --help and runs one.
 */
#include "bridge/cmd/cmd.h"

static const struct config_command *const commands[] = {
	&cmd_serve,
	&cmd_account,
	&cmd_device,
	&cmd_import_uidls,
	&cmd_report,
	&cmd_route,
	&cmd_autoconfig,
	&cmd_check_config,
	&cmd_version,
	&cmd_help,
};

int main(int argc, char **argv)
{
	return config_cmdline_main(commands, CONFIG_N(commands), argc, argv);
}
