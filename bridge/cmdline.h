/* bridge/cmdline.h — subcommand option parsing and the settings build.
 *
 * pb_cmdline_parse() reads a subcommand's arguments: `--help`, the options
 * the subcommand allows (the option keys as `--name VALUE` or `--name=VALUE`,
 * flags such as --syslog taking no value; `--config FILE` only when it allows
 * PB_OPT_CONFIG), `--` and positional arguments. Values are parsed strictly
 * into a command-line layer.
 *
 * pb_settings_build() makes the effective settings:
 *   defaults < config file (--config) < command-line layer, then finish().
 *
 * pb_serve_options() is what `popbridge serve` calls first: all of that for
 * the serve options of SPEC §8, with messages on stderr and the exit status.
 */
#ifndef BRIDGE_CMDLINE_H
#define BRIDGE_CMDLINE_H

#include <stdbool.h>
#include <stdio.h>

#include "bridge/config.h"
#include "bridge/options.h"

#define PB_ARGS_MAX 64   /* positional arguments a subcommand may take */

/* Bits of pb_cmdline_parse()'s allowed mask beyond the PB_KEY_BIT()s. */
#define PB_OPT_CONFIG PB_KEY_BIT(PB_K_COUNT)        /* --config FILE */
#define PB_OPT_ALL (PB_KEY_BIT(PB_K_COUNT + 1) - 1)  /* every key and --config */
_Static_assert(PB_K_COUNT + 1 < 64, "the allowed mask has a bit for --config");

/* Exit statuses of every subcommand. */
#define PB_EXIT_OK     0
#define PB_EXIT_FAIL   1   /* invalid configuration, or the command failed */
#define PB_EXIT_USAGE  2   /* the command line cannot be understood */

struct pb_cmdline {
	const char *config;          /* --config FILE, or NULL */
	bool help;                   /* --help was given */
	struct pb_options flags;     /* the command-line layer (owned) */
	const char *args[PB_ARGS_MAX];
	size_t n_args;
};

/* Parse argv[0..argc) (the arguments after the subcommand name). allowed:
 * PB_KEY_BIT()s of the accepted options, and PB_OPT_CONFIG when the command
 * reads the configuration file. 0, or -1 with a usage message in
 * err. Free with pb_cmdline_free() in both cases. */
int pb_cmdline_parse(struct pb_cmdline *c, int argc, char **argv, uint64_t allowed,
    char *err, size_t errlen);
void pb_cmdline_free(struct pb_cmdline *c);

/* Effective settings into *out (initialised here; free with
 * pb_options_free()). Config file problems go to report(arg, ...); other
 * problems to err. 0 or -1. */
int pb_settings_build(const struct pb_cmdline *c, bool need_upstream,
    struct pb_options *out, pb_config_report_fn *report, void *arg,
    char *err, size_t errlen);

/* `popbridge serve`'s options: parse argv (after "serve"), print usage for
 * --help on stdout, print problems on stderr. Returns true when the caller
 * should go on with the settings in *out (free them with pb_options_free());
 * false with *exit_status set otherwise (0 after --help, 1 for invalid
 * settings, 2 for a bad command line). */
bool pb_serve_options(int argc, char **argv, struct pb_options *out, int *exit_status);
void pb_serve_usage(FILE *f);

#endif
