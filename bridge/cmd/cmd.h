/* bridge/cmd/cmd.h — the commands of popbridge (SPEC §8) and the one option
 * table they share.
 *
 * Each command is a `struct config_command` (bridge/config/cmdline.h),
 * defined in its own file: its name, summary, positional arguments, text
 * for --help, the options it takes (ids of cmd_options[]) and its run
 * function. bridge/main.c lists them; config_cmdline_main() parses, answers
 * --help and runs them. Every run function returns the exit status:
 * PB_EXIT_OK, PB_EXIT_FAIL (the command failed, message on stderr) or
 * PB_EXIT_USAGE (a value the table cannot check, e.g. an account name).
 *
 * cmd_options[] (bridge/cmd/options.c) is every option of every command:
 * the settings first, at the index of their enum config_key (kind
 * CONFIG_OPT_SETTING: they go into the settings, defaults < --config <
 * flags), then the values commands use themselves (CMD_O_*).
 */
#ifndef BRIDGE_CMD_CMD_H
#define BRIDGE_CMD_CMD_H

#include "bridge/config/cmdline.h"

enum cmd_opt {
	CMD_O_CONFIG = PB_K_COUNT,  /* --config FILE */
	/* device add / set: the device's own settings */
	CMD_O_DEV_FOLDER, CMD_O_DEV_OFFER, CMD_O_DEV_WINDOW, CMD_O_DEV_SEEN_ON, CMD_O_DEV_DELE,
	CMD_O_DEV_LOGIN_DELAY,
	CMD_O_UPSTREAM_USER,        /* account add / set-password */
	/* account add --oauth2, account oauth2-login (SPEC §10) */
	CMD_O_OAUTH2, CMD_O_OAUTH2_CLIENT_ID, CMD_O_OAUTH2_CLIENT_SECRET_FILE, CMD_O_OAUTH2_TENANT,
	CMD_O_OAUTH2_TOKEN_URL, CMD_O_OAUTH2_DEVICE_URL, CMD_O_OAUTH2_SCOPE, CMD_O_OAUTH2_GRANT,
	CMD_O_REFRESH_TOKEN_FILE,
	/* import-uidls */
	CMD_O_ACCOUNT, CMD_O_FROM, CMD_O_FROM_USER, CMD_O_FROM_PASSWORD_FILE, CMD_O_FROM_CA,
	CMD_O_DRY_RUN, CMD_O_UPSTREAM_PASSWORD_FILE,
	CMD_O_REPORT_FORMAT,        /* report */
	/* autoconfig */
	CMD_O_AUTOCONFIG_FORMAT, CMD_O_EMAIL, CMD_O_LOGIN, CMD_O_DISPLAY_NAME, CMD_O_SMTP_HOST,
	CMD_O_SMTP_PORT, CMD_O_SMTP_TLS,
	/* route (SPEC §14) */
	CMD_O_ROUTE_LISTEN, CMD_O_NODE, CMD_O_CHECK_INTERVAL, CMD_O_ROUTE_SEPARATOR, CMD_O_PLAN,
	CMD_O_ROUTE_STATE, CMD_O_ROUTE_LOG_LEVEL,
	CMD_O_FRONT,                /* autoconfig --front HOST (the IMAP front) */
	CMD_O_COUNT
};
_Static_assert(CMD_O_COUNT <= CONFIG_OPTS_MAX, "the option table fits struct config_cmdline");

extern const struct config_opt cmd_options[CMD_O_COUNT];

/* report --format */
enum cmd_report_format { CMD_REPORT_TABLE, CMD_REPORT_JSON };
extern const struct config_words cmd_report_formats;

extern const struct config_command cmd_serve;
extern const struct config_command cmd_account;   /* add, list, remove, set-password,
                                                     oauth2-login */
/* account add --oauth2 (bridge/cmd/oauth2.c): the run function account add
 * hands over to; `account oauth2-login`. */
int cmd_account_add_oauth2(struct config_cmdline *c);
extern const struct config_command cmd_account_oauth2_login;
extern const struct config_command cmd_device;    /* add, list, revoke, reset, set */
extern const struct config_command cmd_import_uidls;
extern const struct config_command cmd_report;
extern const struct config_command cmd_route;
extern const struct config_command cmd_autoconfig;
extern const struct config_command cmd_check_config;
extern const struct config_command cmd_version;
extern const struct config_command cmd_help;

#endif
