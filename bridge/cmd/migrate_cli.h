/* bridge/cmd/migrate_cli.h — what the migration commands (import-uidls, report,
 * autoconfig) share on their command lines, and their entry points.
 *
 * Contract:
 *  - cmd_import_uidls(), cmd_report(), cmd_autoconfig() take the arguments
 *    after the command name and return the exit status (PB_EXIT_OK,
 *    PB_EXIT_FAIL: the command failed, message on stderr; PB_EXIT_USAGE:
 *    the command line cannot be understood).
 *  - cmd_take_options() removes each `--NAME VALUE` / `--NAME=VALUE` of
 *    names[0..n) from argv (before a `--`), storing the value (or leaving
 *    NULL); cmd_take_flag() removes a `--NAME` without value. Both: -1 with
 *    a message in err for a missing value or an option given twice.
 *    The rest goes to config_cmdline_parse (bridge/config/cmdline.h) through
 *    cmd_admin_begin (bridge/cmd/admin.h).
 */
#ifndef BRIDGE_CMD_MIGRATE_CLI_H
#define BRIDGE_CMD_MIGRATE_CLI_H

#include <stdbool.h>
#include <stddef.h>

int cmd_import_uidls(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_autoconfig(int argc, char **argv);

int cmd_take_options(int *argc, char **argv, const char *const *names,
    const char **values, size_t n, char *err, size_t errlen);
int cmd_take_flag(int *argc, char **argv, const char *name, bool *set, char *err,
    size_t errlen);

#endif
