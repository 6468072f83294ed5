/* bridge/config/cmdline.h — subcommand option parsing and the settings build.
 *
 * config_cmdline_parse() reads a subcommand's arguments: `--help`, the options
 * the subcommand allows (the option keys as `--name VALUE` or `--name=VALUE`,
 * flags such as --syslog taking no value; `--config FILE` only when it allows
 * PB_OPT_CONFIG), `--` and positional arguments. Values are parsed strictly
 * into a command-line layer.
 *
 * config_settings_build() makes the effective settings:
 *   defaults < config file (--config) < command-line layer, then finish().
 *
 * config_serve_options() is what `popbridge serve` calls first: all of that for
 * the serve options of SPEC §8, with messages on stderr and the exit status.
 */
#ifndef BRIDGE_CONFIG_CMDLINE_H
#define BRIDGE_CONFIG_CMDLINE_H

#include <stdbool.h>
#include <stdio.h>

#include "bridge/config/file.h"
#include "bridge/config/options.h"

#define PB_ARGS_MAX 64   /* positional arguments a subcommand may take */

/* Bits of config_cmdline_parse()'s allowed mask beyond the PB_KEY_BIT()s. */
#define PB_OPT_CONFIG PB_KEY_BIT(PB_K_COUNT)        /* --config FILE */
#define PB_OPT_ALL (PB_KEY_BIT(PB_K_COUNT + 1) - 1)  /* every key and --config */
_Static_assert(PB_K_COUNT + 1 < 64, "the allowed mask has a bit for --config");

/* Exit statuses of every subcommand. */
#define PB_EXIT_OK     0
#define PB_EXIT_FAIL   1   /* invalid configuration, or the command failed */
#define PB_EXIT_USAGE  2   /* the command line cannot be understood */

struct config_cmdline {
	const char *config;          /* --config FILE, or NULL */
	bool help;                   /* --help was given */
	struct config_options flags;     /* the command-line layer (owned) */
	const char *args[PB_ARGS_MAX];
	size_t n_args;
};

/* Parse argv[0..argc) (the arguments after the subcommand name). allowed:
 * PB_KEY_BIT()s of the accepted options, and PB_OPT_CONFIG when the command
 * reads the configuration file. 0, or -1 with a usage message in
 * err. Free with config_cmdline_free() in both cases. */
int config_cmdline_parse(struct config_cmdline *c, int argc, char **argv, uint64_t allowed,
    char *err, size_t errlen);
void config_cmdline_free(struct config_cmdline *c);

/* Effective settings into *out (initialised here; free with
 * config_options_free()). Config file problems go to report(arg, ...); other
 * problems to err. 0 or -1. */
int config_settings_build(const struct config_cmdline *c, bool need_upstream,
    struct config_options *out, config_report_fn *report, void *arg,
    char *err, size_t errlen);

/* `popbridge serve`'s options: parse argv (after "serve"), print usage for
 * --help on stdout, print problems on stderr. Returns true when the caller
 * should go on with the settings in *out (free them with config_options_free());
 * false with *exit_status set otherwise (0 after --help, 1 for invalid
 * settings, 2 for a bad command line). */
bool config_serve_options(int argc, char **argv, struct config_options *out, int *exit_status);
void config_serve_usage(FILE *f);

#endif
