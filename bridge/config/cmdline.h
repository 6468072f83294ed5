/* bridge/config/cmdline.h — the one command-line path of popbridge.
 *
 * Every command is a `struct config_command` (bridge/cmd/: one per file);
 * every option of every command is a row of one option table (`struct
 * config_opt`, bridge/cmd/options.c). From them, and nothing else, come:
 *
 *  - parsing (config_cmdline_parse): `--name VALUE`, `--name=VALUE`, flags
 *    (no value), `--help`, `--` (the rest is positional), positional
 *    arguments; an option given twice (but --listen / --listen-tls), an
 *    unknown option, a missing value or a bad one is refused with a message;
 *  - values: a setting (kind CONFIG_OPT_SETTING) goes through
 *    config_options_set() into the command-line layer `flags`, which
 *    config_settings_build() lays over the configuration file; a value the
 *    command uses itself goes into `arg[id]`, checked against the row's
 *    range, words or length (CONFIG_OPT_VALUE: checked as setting `key`
 *    would be, into the layer `values`, never merged into the settings);
 *  - the checks after parsing (config_cmdline_check): the number of
 *    positional arguments, the required options;
 *  - `--help` (config_cmdline_help): the usage line, the command's text,
 *    one line per accepted option with its value, range or words and its
 *    default;
 *  - dispatch (config_cmdline_main): `popbridge COMMAND [SUBCOMMAND] ...`
 *    with the exit statuses below and "popbridge NAME: problem" messages.
 *
 * Settings: config_settings_build() makes the effective settings:
 *   defaults < config file (--config) < command-line layer, then finish().
 */
#ifndef BRIDGE_CONFIG_CMDLINE_H
#define BRIDGE_CONFIG_CMDLINE_H

#include <stdbool.h>
#include <stdio.h>

#include "bridge/config/file.h"
#include "bridge/config/options.h"

#define PB_ARGS_MAX 64   /* positional arguments a subcommand may take */
#define CONFIG_OPTS_MAX 128 /* rows of an option table */
#define CONFIG_REPEAT_MAX 256 /* values of CONFIG_REPEATABLE options, all together */

/* Exit statuses of every subcommand. */
#define PB_EXIT_OK     0
#define PB_EXIT_FAIL   1   /* invalid configuration, or the command failed */
#define PB_EXIT_USAGE  2   /* the command line cannot be understood */

/* What an option's value is, and where it goes. */
enum config_opt_kind {
	CONFIG_OPT_SETTING,  /* setting `key`: config_options_set() into c->flags */
	CONFIG_OPT_VALUE,    /* parsed as setting `key` would be, into c->values */
	CONFIG_OPT_CONFIG,   /* the configuration file: c->config */
	CONFIG_OPT_FLAG,     /* no value */
	CONFIG_OPT_UINT,     /* decimal, min..max */
	CONFIG_OPT_WORD,     /* one of `words` */
	CONFIG_OPT_TEXT,     /* min..max octets */
};

/* A row of the option table. */
struct config_opt {
	enum config_opt_kind kind;
	enum config_key key;          /* SETTING, VALUE: the key (its name, range, words) */
	const char *name;             /* the others: the name without dashes */
	const char *metavar;          /* the value in --help ("SECS"); NULL for a flag */
	unsigned long min, max;       /* UINT: range; TEXT: length in octets */
	const struct config_words *words; /* WORD */
	const char *dflt;             /* the default shown (WORD, UINT: also used); NULL:
	                                 a setting's built-in default, or none */
	const char *help;             /* one line */
};

/* How a command takes one option of the table. */
struct config_cmd_opt {
	unsigned id;                  /* row of the table */
	unsigned flags;               /* CONFIG_REQUIRED, CONFIG_DEFAULT_WORD */
	const char *help;             /* NULL: the row's */
};
#define CONFIG_REQUIRED      1u   /* the command needs it */
#define CONFIG_DEFAULT_WORD  2u   /* VALUE: also the word `default` (arg[id].is_default) */
#define CONFIG_REPEATABLE    4u   /* TEXT: may be given more than once; arg[id] holds
                                     the first, config_cmdline_values() all of them */

struct config_cmdline;

struct config_command {
	const char *name;             /* "account add" */
	const char *summary;          /* one line, in the list of commands */
	const char *args;             /* positional arguments in the usage line ("ACCOUNT
	                                 [DEVICE]"), or NULL */
	size_t min_args, max_args;
	const char *text;             /* what it does, after the usage line */
	const struct config_opt *table;
	const struct config_cmd_opt *opts;
	size_t n_opts;
	int (*run)(struct config_cmdline *c);  /* returns the exit status */
	const struct config_command *const *subs; /* a group of subcommands (account) */
	size_t n_subs;
};
#define CONFIG_N(a) (sizeof(a) / sizeof((a)[0]))

/* An option's value as given (text NULL: not given). num: UINT's number,
 * WORD's value (the default's when not given). */
struct config_argval {
	const char *text;
	unsigned long num;
	bool is_default;              /* CONFIG_DEFAULT_WORD: the word `default` */
};

struct config_cmdline {
	const struct config_command *cmd;
	const struct config_command *const *all; /* every command (for `help`) */
	size_t n_all;
	const char *config;           /* --config FILE, or NULL */
	bool help;                    /* --help was given */
	struct config_options flags;  /* the command-line layer of settings (owned) */
	struct config_options values; /* CONFIG_OPT_VALUE options (owned) */
	struct config_argval arg[CONFIG_OPTS_MAX]; /* by row of the table */
	const char *args[PB_ARGS_MAX];
	size_t n_args;
	/* every value of the CONFIG_REPEATABLE options, in command-line order */
	const char *rep[CONFIG_REPEAT_MAX];
	unsigned rep_id[CONFIG_REPEAT_MAX];
	size_t n_rep;
};

/* Parse argv[0..argc) (the arguments after the command's name) for cmd.
 * 0, or -1 with the problem in err (callers add "see --help"). Free with
 * config_cmdline_free() in both cases. */
int config_cmdline_parse(struct config_cmdline *c, const struct config_command *cmd,
    int argc, char **argv, char *err, size_t errlen);
/* After parsing without --help: the positional arguments number
 * min_args..max_args and the required options are given. 0, or -1 with the
 * whole message in err. */
int config_cmdline_check(const struct config_cmdline *c, char *err, size_t errlen);
void config_cmdline_free(struct config_cmdline *c);
/* The values of a CONFIG_REPEATABLE option (row id), in the order given, into
 * out[0..max); returns how many were given (may exceed max: the rest are left
 * out). */
size_t config_cmdline_values(const struct config_cmdline *c, unsigned id, const char **out,
    size_t max);
/* The name of row id of c's table ("upstream-timeout"). */
const char *config_opt_name(const struct config_opt *table, unsigned id);

/* --help of cmd (of a group: its subcommands' usage lines) on f. */
void config_cmdline_help(const struct config_command *cmd, FILE *f);
/* "usage: popbridge COMMAND [options]" and the list of commands on f. */
void config_cmdline_usage(const struct config_command *const *all, size_t n, FILE *f);

/* The whole command line: argv[1] names the command (of all[0..n)), a
 * group's argv[2] its subcommand. Returns the exit status. */
int config_cmdline_main(const struct config_command *const *all, size_t n, int argc,
    char **argv);

/* Effective settings into *out (initialised here; free with
 * config_options_free()). Config file problems go to report(arg, ...); other
 * problems to err. 0 or -1. */
int config_settings_build(const struct config_cmdline *c, bool need_upstream,
    struct config_options *out, config_report_fn *report, void *arg,
    char *err, size_t errlen);

#endif
