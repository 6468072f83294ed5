/* bridge/config/cmdline.c — the one command-line path: parsing, checks,
 * --help and dispatch, all from the command descriptors and the option
 * table (see cmdline.h). */
#include "bridge/config/cmdline.h"
#include "bridge/base/errbuf.h"

#include <string.h>

#define HELP_COLUMN 28   /* where an option's help text starts */
#define HELP_WIDTH  79

const char *config_opt_name(const struct config_opt *table, unsigned id)
{
	const struct config_opt *o = &table[id];
	return o->kind == CONFIG_OPT_SETTING || o->kind == CONFIG_OPT_VALUE
	    ? config_key_name(o->key) : o->name;
}

static bool takes_no_value(const struct config_opt *o)
{
	return o->kind == CONFIG_OPT_FLAG ||
	    (o->kind == CONFIG_OPT_SETTING && config_key_kind(o->key) == CONFIG_KEY_FLAG);
}

/* The command's entry for option `name`, or NULL. */
static const struct config_cmd_opt *find_opt(const struct config_command *cmd, const char *name)
{
	for (size_t i = 0; i < cmd->n_opts; i++)
		if (strcmp(config_opt_name(cmd->table, cmd->opts[i].id), name) == 0)
			return &cmd->opts[i];
	return NULL;
}

/* WORD and UINT options start with their default's value. */
static void set_defaults(struct config_cmdline *c)
{
	const struct config_command *cmd = c->cmd;
	for (size_t i = 0; i < cmd->n_opts; i++) {
		const struct config_opt *o = &cmd->table[cmd->opts[i].id];
		struct config_argval *v = &c->arg[cmd->opts[i].id];
		if (!o->dflt)
			continue;
		if (o->kind == CONFIG_OPT_WORD && config_word_value(o->words, o->dflt) >= 0)
			v->num = (unsigned long)config_word_value(o->words, o->dflt);
		else if (o->kind == CONFIG_OPT_UINT)
			(void)config_parse_uint(o->dflt, o->min, o->max, &v->num);
	}
}

static int set_value(struct config_cmdline *c, const struct config_cmd_opt *co,
    const char *name, const char *value, char *err, size_t errlen)
{
	const struct config_opt *o = &c->cmd->table[co->id];
	struct config_argval *v = &c->arg[co->id];
	char verr[PB_ERR_MAX];
	int w;

	if (o->kind == CONFIG_OPT_SETTING) {
		if ((c->flags.set & PB_KEY_BIT(o->key)) && !config_key_repeatable(o->key))
			return base_errf(err, errlen, "--%s is given twice", name);
		if (config_options_set(&c->flags, o->key, value, verr, sizeof(verr)) != 0)
			return base_errf(err, errlen, "--%s: %s", name, verr);
		v->text = value ? value : "";
		return 0;
	}
	if (v->text && !(co->flags & CONFIG_REPEATABLE))
		return base_errf(err, errlen, "--%s is given twice", name);
	if (co->flags & CONFIG_REPEATABLE) {
		if (c->n_rep >= CONFIG_REPEAT_MAX)
			return base_errf(err, errlen, "--%s: too many values (at most %d options "
			    "given more than once)", name, CONFIG_REPEAT_MAX);
		c->rep[c->n_rep] = value;
		c->rep_id[c->n_rep++] = co->id;
	}
	switch (o->kind) {
	case CONFIG_OPT_SETTING:
		break;
	case CONFIG_OPT_CONFIG:
		if (!*value)
			return base_errf(err, errlen, "--%s needs a file name", name);
		c->config = value;
		break;
	case CONFIG_OPT_VALUE:
		if ((co->flags & CONFIG_DEFAULT_WORD) && strcmp(value, "default") == 0) {
			v->is_default = true;
			break;
		}
		if (config_options_set(&c->values, o->key, value, verr, sizeof(verr)) != 0)
			return base_errf(err, errlen, "--%s: %s", name, verr);
		break;
	case CONFIG_OPT_FLAG:
		value = "";
		break;
	case CONFIG_OPT_UINT:
		if (config_parse_number(value, o->min, o->max, &v->num, verr, sizeof(verr)) != 0)
			return base_errf(err, errlen, "--%s: %s", name, verr);
		break;
	case CONFIG_OPT_WORD:
		if (config_word_parse(o->words, value, &w, verr, sizeof(verr)) != 0)
			return base_errf(err, errlen, "--%s: %s", name, verr);
		v->num = (unsigned long)w;
		break;
	case CONFIG_OPT_TEXT:
		if (strlen(value) < o->min || (o->max && strlen(value) > o->max))
			return base_errf(err, errlen, "--%s must be %lu to %lu octets", name, o->min,
			    o->max);
		break;
	}
	if (!v->text)
		v->text = value;
	return 0;
}

size_t config_cmdline_values(const struct config_cmdline *c, unsigned id, const char **out,
    size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < c->n_rep; i++) {
		if (c->rep_id[i] != id)
			continue;
		if (n < max)
			out[n] = c->rep[i];
		n++;
	}
	return n;
}

int config_cmdline_parse(struct config_cmdline *c, const struct config_command *cmd,
    int argc, char **argv, char *err, size_t errlen)
{
	bool options_done = false;

	memset(c, 0, sizeof(*c));
	c->cmd = cmd;
	config_options_init(&c->flags);
	config_options_init(&c->values);
	set_defaults(c);
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (options_done || a[0] != '-' || strcmp(a, "-") == 0) {
			if (c->n_args >= PB_ARGS_MAX)
				return base_errf(err, errlen, "too many arguments");
			c->args[c->n_args++] = a;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			options_done = true;
			continue;
		}
		if (strncmp(a, "--", 2) != 0)
			return base_errf(err, errlen, "unknown option '%s'", a);

		/* --name, --name=value or --name value */
		char name[40];
		const char *eq = strchr(a + 2, '=');
		size_t nlen = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
		if (nlen == 0 || nlen >= sizeof(name))
			return base_errf(err, errlen, "unknown option '%s'", a);
		memcpy(name, a + 2, nlen);
		name[nlen] = 0;
		const char *value = eq ? eq + 1 : NULL;

		if (strcmp(name, "help") == 0 && !eq) {
			c->help = true;
			continue;
		}
		const struct config_cmd_opt *co = find_opt(cmd, name);
		if (!co)
			return base_errf(err, errlen, "unknown option '--%s'", name);
		if (takes_no_value(&cmd->table[co->id])) {
			if (eq)
				return base_errf(err, errlen, "--%s takes no value", name);
		} else if (!value) {
			if (i + 1 >= argc)
				return base_errf(err, errlen, "--%s needs a value", name);
			value = argv[++i];
		}
		if (set_value(c, co, name, value, err, errlen) != 0)
			return -1;
	}
	return 0;
}

/* "usage: popbridge NAME ARGS --required META [options]" without the
 * newline, into buf. */
static const char *usage_line(const struct config_command *cmd, const char *lead, char *buf,
    size_t len)
{
	size_t used = 0;
	bool optional = false;
#define ADD(...) do { int n_ = snprintf(buf + used, used < len ? len - used : 0, __VA_ARGS__); \
	if (n_ > 0) used += (size_t)n_; } while (0)
	ADD("%spopbridge %s", lead, cmd->name);
	if (cmd->args)
		ADD(" %s", cmd->args);
	for (size_t i = 0; i < cmd->n_opts; i++) {
		const struct config_opt *o = &cmd->table[cmd->opts[i].id];
		if (!(cmd->opts[i].flags & CONFIG_REQUIRED)) {
			optional = true;
			continue;
		}
		ADD(" --%s", config_opt_name(cmd->table, cmd->opts[i].id));
		if (o->metavar)
			ADD(" %s", o->metavar);
	}
	if (optional)
		ADD(" [options]");
#undef ADD
	return buf;
}

int config_cmdline_check(const struct config_cmdline *c, char *err, size_t errlen)
{
	const struct config_command *cmd = c->cmd;
	char usage[200];

	if (c->n_args > cmd->max_args)
		return base_errf(err, errlen, "unexpected argument '%s'", c->args[cmd->max_args]);
	if (c->n_args < cmd->min_args)
		return base_errf(err, errlen, "missing argument\n%s",
		    usage_line(cmd, "usage: ", usage, sizeof(usage)));
	for (size_t i = 0; i < cmd->n_opts; i++) {
		const struct config_argval *v = &c->arg[cmd->opts[i].id];
		if ((cmd->opts[i].flags & CONFIG_REQUIRED) && (!v->text || !*v->text))
			return base_errf(err, errlen, "--%s is required (see 'popbridge %s --help')",
			    config_opt_name(cmd->table, cmd->opts[i].id), cmd->name);
	}
	return 0;
}

void config_cmdline_free(struct config_cmdline *c)
{
	config_options_free(&c->flags);
	config_options_free(&c->values);
}

/* ---- --help ------------------------------------------------------------------- */

/* What an option's value may be and its default: "1..3600 [30]". */
static const char *value_text(const struct config_opt *o, unsigned flags, char *buf,
    size_t len)
{
	char words[200] = "", dflt[PB_PATH_MAX] = "";
	unsigned long min = o->min, max = o->max;
	const struct config_words *w = o->words;
	bool range = o->kind == CONFIG_OPT_UINT;

	if (o->kind == CONFIG_OPT_SETTING || o->kind == CONFIG_OPT_VALUE) {
		enum config_key_kind kk = config_key_kind(o->key);
		w = kk == CONFIG_KEY_WORD ? config_key_words(o->key) : NULL;
		range = kk == CONFIG_KEY_UINT;
		if (range)
			config_key_range(o->key, &min, &max);
	} else if (o->kind != CONFIG_OPT_WORD) {
		w = NULL;
	}
	if (w)
		config_words_join(w, " | ", words, sizeof(words));
	else if (range)
		snprintf(words, sizeof(words), "%lu..%lu", min, max);
	if (flags & CONFIG_DEFAULT_WORD) {
		size_t l = strlen(words);
		snprintf(words + l, sizeof(words) - l, "%sdefault", l ? " | " : "");
	}
	if (o->dflt) {
		snprintf(dflt, sizeof(dflt), "%s", o->dflt);
	} else if (o->kind == CONFIG_OPT_SETTING) {
		struct config_options init;
		config_options_init(&init);
		config_options_format(&init, o->key, dflt, sizeof(dflt));
		config_options_free(&init);
	}
	snprintf(buf, len, "%s%s%s%s%s", words, words[0] && dflt[0] ? "  " : "",
	    dflt[0] ? "[" : "", dflt, dflt[0] ? "]" : "");
	return buf;
}

static void help_line(FILE *f, const char *left, const char *help, const char *values)
{
	int col = fprintf(f, "  %s", left);
	if (col >= HELP_COLUMN) {
		fputc('\n', f);
		col = 0;
	}
	fprintf(f, "%*s%s", HELP_COLUMN - col, "", help);
	size_t used = HELP_COLUMN + strlen(help);
	if (values[0]) {
		if (used + 2 + strlen(values) > HELP_WIDTH)
			fprintf(f, "\n%*s%s", HELP_COLUMN + 2, "", values);
		else
			fprintf(f, "%s%s", !help[0] ? "" : values[0] == '[' || values[0] == '(' ?
			    " " : "; ", values);
	}
	fputc('\n', f);
}

void config_cmdline_help(const struct config_command *cmd, FILE *f)
{
	char line[400];

	if (cmd->subs) {
		for (size_t i = 0; i < cmd->n_subs; i++)
			fprintf(f, "%s\n", usage_line(cmd->subs[i], i ? "       " : "usage: ", line,
			    sizeof(line)));
		fprintf(f, "\n%s\n\n", cmd->summary);
		for (size_t i = 0; i < cmd->n_subs; i++)
			fprintf(f, "  %-14s %s\n", cmd->subs[i]->name + strlen(cmd->name) + 1,
			    cmd->subs[i]->summary);
		fprintf(f, "\n'popbridge %s SUBCOMMAND --help' describes one, with its options.\n",
		    cmd->name);
		return;
	}
	fprintf(f, "%s\n", usage_line(cmd, "usage: ", line, sizeof(line)));
	if (cmd->text)
		fprintf(f, "\n%s", cmd->text);
	fprintf(f, "\noptions:\n");
	for (size_t i = 0; i < cmd->n_opts; i++) {
		const struct config_cmd_opt *co = &cmd->opts[i];
		const struct config_opt *o = &cmd->table[co->id];
		char left[80], values[300];
		snprintf(left, sizeof(left), "--%s%s%s", config_opt_name(cmd->table, co->id),
		    o->metavar ? " " : "", o->metavar ? o->metavar : "");
		value_text(o, co->flags, values, sizeof(values));
		if (co->flags & CONFIG_REQUIRED) {
			size_t l = strlen(values);
			snprintf(values + l, sizeof(values) - l, "%s(required)", l ? "  " : "");
		}
		help_line(f, left, co->help ? co->help : o->help, values);
	}
	help_line(f, "--help", "this text", "");
}

void config_cmdline_usage(const struct config_command *const *all, size_t n, FILE *f)
{
	fprintf(f, "usage: popbridge COMMAND [options]\n\ncommands:\n");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "  %-14s %s\n", all[i]->name, all[i]->summary);
}

/* ---- dispatch -------------------------------------------------------------------- */

static const struct config_command *find_command(const struct config_command *const *v,
    size_t n, const char *name, size_t skip)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i]->name + skip, name) == 0)
			return v[i];
	return NULL;
}

int config_cmdline_main(const struct config_command *const *all, size_t n, int argc,
    char **argv)
{
	struct config_cmdline c;
	char err[PB_ERR_MAX + 200];
	int status;

	if (argc < 2) {
		config_cmdline_usage(all, n, stderr);
		return PB_EXIT_USAGE;
	}
	const char *name = argv[1];
	if (strcmp(name, "--help") == 0)
		name = "help";
	else if (strcmp(name, "--version") == 0)
		name = "version";
	const struct config_command *cmd = find_command(all, n, name, 0);
	if (!cmd) {
		fprintf(stderr, "popbridge: unknown command '%s' (see 'popbridge help')\n", argv[1]);
		return PB_EXIT_USAGE;
	}
	int first = 2;
	if (cmd->subs) {
		if (argc < 3) {
			config_cmdline_help(cmd, stderr);
			return PB_EXIT_USAGE;
		}
		if (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "help") == 0) {
			config_cmdline_help(cmd, stdout);
			return PB_EXIT_OK;
		}
		const struct config_command *sub = find_command(cmd->subs, cmd->n_subs, argv[2],
		    strlen(cmd->name) + 1);
		if (!sub) {
			fprintf(stderr, "popbridge %s: unknown subcommand '%s'\n", cmd->name, argv[2]);
			config_cmdline_help(cmd, stderr);
			return PB_EXIT_USAGE;
		}
		cmd = sub;
		first = 3;
	}
	if (config_cmdline_parse(&c, cmd, argc - first, argv + first, err, sizeof(err)) != 0) {
		fprintf(stderr, "popbridge %s: %s (see 'popbridge %s --help')\n", cmd->name, err,
		    cmd->name);
		status = PB_EXIT_USAGE;
	} else if (c.help) {
		config_cmdline_help(cmd, stdout);
		status = PB_EXIT_OK;
	} else if (config_cmdline_check(&c, err, sizeof(err)) != 0) {
		fprintf(stderr, "popbridge %s: %s\n", cmd->name, err);
		status = PB_EXIT_USAGE;
	} else {
		c.all = all;
		c.n_all = n;
		status = cmd->run(&c);
	}
	config_cmdline_free(&c);
	return status;
}

/* ---- settings ------------------------------------------------------------------- */

int config_settings_build(const struct config_cmdline *c, bool need_upstream,
    struct config_options *out, config_report_fn *report, void *arg,
    char *err, size_t errlen)
{
	struct config_options file;
	int rc = -1;

	config_options_init(out);
	config_options_init(&file);
	if (c->config && config_file_load(c->config, &file, report, arg) != 0) {
		snprintf(err, errlen, "%s: invalid configuration", c->config);
		goto out;
	}
	if (config_options_merge(out, &file, err, errlen) != 0 ||
	    config_options_merge(out, &c->flags, err, errlen) != 0 ||
	    config_options_finish(out, need_upstream, NULL, err, errlen) != 0)
		goto out;
	rc = 0;
out:
	config_options_free(&file);
	if (rc != 0) {
		config_options_free(out);
		config_options_init(out);
	}
	return rc;
}
