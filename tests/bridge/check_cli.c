/* tests/bridge/check_cli.c — the one command-line path: the parser
 * (bridge/config/cmdline.h) on a small table of its own; every command's
 * --help lists exactly the options its descriptor takes from the option
 * table (bridge/cmd/options.c); README.md documents exactly those options,
 * command by command. Runs the real binary (POPBRIDGE_BIN) and reads
 * README.md from POPBRIDGE_SRC. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/cmd/cmd.h"
#include "bridge/config/cmdline.h"
#include "tests/bridge/bt.h"

static char err[PB_ERR_MAX + 200];

/* ---- the parser, on a table of its own ------------------------------------------ */

enum { T_CONFIG = PB_K_COUNT, T_NAME, T_COUNT, T_COLOUR, T_QUIET, T_DEV_OFFER, T_N };
static const struct config_word colours[] = { { "red", 7 }, { "green", 8 }, { "blue", 9 } };
static const struct config_words colour_words = CONFIG_WORDS(colours);
static const struct config_opt table[T_N] = {
	[PB_K_WINDOW] = { .kind = CONFIG_OPT_SETTING, .key = PB_K_WINDOW, .metavar = "N",
	    .help = "a setting" },
	[PB_K_LISTEN] = { .kind = CONFIG_OPT_SETTING, .key = PB_K_LISTEN, .metavar = "A",
	    .help = "a repeatable setting" },
	[PB_K_SYSLOG] = { .kind = CONFIG_OPT_SETTING, .key = PB_K_SYSLOG, .help = "a flag" },
	[T_CONFIG] = { .kind = CONFIG_OPT_CONFIG, .name = "config", .metavar = "FILE",
	    .help = "config" },
	[T_NAME] = { .kind = CONFIG_OPT_TEXT, .name = "name", .metavar = "NAME", .min = 1,
	    .max = 5, .help = "a text" },
	[T_COUNT] = { .kind = CONFIG_OPT_UINT, .name = "count", .metavar = "N", .min = 2,
	    .max = 10, .dflt = "4", .help = "a number" },
	[T_COLOUR] = { .kind = CONFIG_OPT_WORD, .name = "colour", .metavar = "C",
	    .words = &colour_words, .dflt = "green", .help = "a word" },
	[T_QUIET] = { .kind = CONFIG_OPT_FLAG, .name = "quiet", .help = "an argument flag" },
	[T_DEV_OFFER] = { .kind = CONFIG_OPT_VALUE, .key = PB_K_OFFER, .metavar = "O",
	    .help = "a value parsed as a setting" },
};
static const struct config_cmd_opt topts[] = {
	{ PB_K_WINDOW, 0, NULL }, { PB_K_LISTEN, 0, NULL }, { PB_K_SYSLOG, 0, NULL },
	{ T_CONFIG, 0, NULL }, { T_NAME, CONFIG_REQUIRED, NULL }, { T_COUNT, 0, NULL },
	{ T_COLOUR, 0, NULL }, { T_QUIET, 0, NULL }, { T_DEV_OFFER, CONFIG_DEFAULT_WORD, NULL },
};
static const struct config_command tcmd = {
	.name = "test", .args = "A [B]", .min_args = 1, .max_args = 2,
	.text = "A test command.\n", .table = table, .opts = topts, .n_opts = CONFIG_N(topts),
};

/* Parse argv (NULL-terminated); on success also run the checks. */
static int parse(struct config_cmdline *c, char **argv)
{
	int argc = 0;
	while (argv[argc])
		argc++;
	err[0] = '\0';
	if (config_cmdline_parse(c, &tcmd, argc, argv, err, sizeof(err)) != 0)
		return -1;
	return c->help ? 0 : config_cmdline_check(c, err, sizeof(err)) != 0 ? -2 : 0;
}

START_TEST(parser_values)
{
	struct config_cmdline c;
	char *a[] = { "--name=ann", "pos", "--count", "10", "--window=3", "--colour", "blue",
		"--quiet", "--syslog", "--listen", "127.0.0.1:1", "--listen=[::1]:1",
		"--offer", "unseen", "--config=c.xml", "--", "--name", "-", NULL };
	ck_assert_int_eq(parse(&c, a), -2);   /* three positionals: one too many */
	ck_assert_str_eq(err, "unexpected argument '-'");
	ck_assert_str_eq(c.arg[T_NAME].text, "ann");
	ck_assert_uint_eq(c.arg[T_COUNT].num, 10);
	ck_assert_uint_eq(c.arg[T_COLOUR].num, 9);
	ck_assert_ptr_nonnull(c.arg[T_QUIET].text);
	ck_assert_uint_eq(c.flags.dev.window, 3);
	ck_assert(c.flags.syslog);
	ck_assert_uint_eq(c.flags.n_listen, 2);
	/* a VALUE option stays out of the settings layer */
	ck_assert_int_eq(c.values.dev.offer, PB_OFFER_UNSEEN);
	ck_assert(!(c.flags.set & PB_KEY_BIT(PB_K_OFFER)));
	ck_assert_str_eq(c.config, "c.xml");
	ck_assert_uint_eq(c.n_args, 3);
	ck_assert_str_eq(c.args[0], "pos");
	ck_assert_str_eq(c.args[1], "--name");  /* after --: positional */
	config_cmdline_free(&c);

	/* defaults: WORD and UINT options start with theirs */
	char *b[] = { "x", "--name", "bo", "--offer", "default", NULL };
	ck_assert_int_eq(parse(&c, b), 0);
	ck_assert_uint_eq(c.arg[T_COUNT].num, 4);
	ck_assert_uint_eq(c.arg[T_COLOUR].num, 8);
	ck_assert_ptr_null(c.arg[T_QUIET].text);
	ck_assert(c.arg[T_DEV_OFFER].is_default);
	ck_assert_ptr_null(c.config);
	config_cmdline_free(&c);
}
END_TEST

START_TEST(parser_problems)
{
	static const struct { char *argv[6]; int rc; const char *msg; } bad[] = {
		{ { "x", "--name", NULL }, -1, "--name needs a value" },
		{ { "x", "--count", NULL }, -1, "--count needs a value" },
		{ { "x", "--name=a", "--name", "b", NULL }, -1, "--name is given twice" },
		{ { "x", "--window=1", "--window", "2", NULL }, -1, "--window is given twice" },
		{ { "x", "--quiet", "--quiet", NULL }, -1, "--quiet is given twice" },
		{ { "x", "--config=a", "--config", "b", NULL }, -1, "--config is given twice" },
		{ { "x", "--bogus", NULL }, -1, "unknown option '--bogus'" },
		{ { "x", "--bogus=1", NULL }, -1, "unknown option '--bogus'" },
		{ { "x", "-q", NULL }, -1, "unknown option '-q'" },
		{ { "x", "--dele=hide", NULL }, -1, "unknown option '--dele'" },
		{ { "x", "--quiet=yes", NULL }, -1, "--quiet takes no value" },
		{ { "x", "--syslog=yes", NULL }, -1, "--syslog takes no value" },
		{ { "x", "--count=11", NULL }, -1, "--count: '11' is not a number from 2 to 10" },
		{ { "x", "--count", "1", NULL }, -1, "--count: '1' is not a number from 2 to 10" },
		{ { "x", "--count=-3", NULL }, -1, "--count: '-3' is not a number from 2 to 10" },
		{ { "x", "--window", "1000001", NULL }, -1,
			"--window: '1000001' is not a number from 0 to 1000000" },
		{ { "x", "--colour", "pink", NULL }, -1,
			"--colour: 'pink' is not one of: red, green, blue" },
		{ { "x", "--offer", "some", NULL }, -1,
			"--offer: 'some' is not one of: all, since-enrolment, unseen" },
		{ { "x", "--name", "toolong", NULL }, -1, "--name must be 1 to 5 octets" },
		{ { "x", "--name=", NULL }, -1, "--name must be 1 to 5 octets" },
		{ { "--name", "a", NULL }, -2, "missing argument\nusage: popbridge test A [B] "
			"--name NAME [options]" },
		{ { "x", "y", "z", "--name", "a", NULL }, -2, "unexpected argument 'z'" },
		{ { "x", NULL }, -2, "--name is required (see 'popbridge test --help')" },
	};
	for (size_t i = 0; i < CONFIG_N(bad); i++) {
		struct config_cmdline c;
		ck_assert_msg(parse(&c, (char **)bad[i].argv) == bad[i].rc, "case %zu: %s", i, err);
		ck_assert_msg(strcmp(err, bad[i].msg) == 0, "case %zu: '%s', want '%s'", i, err,
		    bad[i].msg);
		config_cmdline_free(&c);
	}
}
END_TEST

START_TEST(parser_help)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	ck_assert_ptr_nonnull(f);
	config_cmdline_help(&tcmd, f);
	fclose(f);
	ck_assert_msg(strncmp(out, "usage: popbridge test A [B] --name NAME [options]\n\n"
	    "A test command.\n\noptions:\n", 72) == 0, "%s", out);
	static const char *const lines[] = {
		"\n  --window N                a setting; 0..1000000  [0]\n",
		"\n  --syslog                  a flag\n",
		"\n  --name NAME               a text (required)\n",
		"\n  --count N                 a number; 2..10  [4]\n",
		"\n  --colour C                a word; red | green | blue  [green]\n",
		("\n  --offer O                 a value parsed as a setting\n"
		 "                              all | since-enrolment | unseen | default\n"),
		"\n  --help                    this text\n",
	};
	for (size_t i = 0; i < CONFIG_N(lines); i++)
		ck_assert_msg(strstr(out, lines[i]) != NULL, "no '%s' in:\n%s", lines[i], out);
	/* and --help wins over problems the checks would find */
	struct config_cmdline c;
	char *a[] = { "--help", NULL };
	ck_assert_int_eq(parse(&c, a), 0);
	ck_assert(c.help);
	config_cmdline_free(&c);
	free(out);
}
END_TEST

/* ---- every command: --help from the table ---------------------------------------- */

static const struct config_command *const commands[] = {
	&cmd_serve, &cmd_account, &cmd_device, &cmd_import_uidls, &cmd_report, &cmd_route,
	&cmd_autoconfig, &cmd_check_config, &cmd_version, &cmd_help,
};

static int run(const char *a1, const char *a2, const char *a3, char **out, char **e)
{
	char *argv[] = { (char *)bt_env("POPBRIDGE_BIN"), (char *)a1, (char *)a2, (char *)a3,
		NULL };
	return bt_run(argv, out, e);
}

/* Does the --help text list --name as an option line? */
static bool lists(const char *help, const char *name)
{
	char want[80];
	snprintf(want, sizeof(want), "\n  --%s", name);
	for (const char *p = strstr(help, want); p; p = strstr(p + 1, want)) {
		char next = p[strlen(want)];
		if (next == ' ' || next == '\n')
			return true;
	}
	return false;
}

static bool takes(const struct config_command *cmd, const char *name)
{
	for (size_t i = 0; i < cmd->n_opts; i++)
		if (strcmp(config_opt_name(cmd->table, cmd->opts[i].id), name) == 0)
			return true;
	return false;
}

/* The --help of one command (not a group) against its descriptor. */
static void check_help(const struct config_command *cmd)
{
	char words[3][40] = { "", "", "" };
	char *out, *e;
	sscanf(cmd->name, "%39s %39s", words[0], words[1]);
	int rc = words[1][0] ? run(words[0], words[1], "--help", &out, &e) :
	    run(words[0], "--help", NULL, &out, &e);
	ck_assert_msg(rc == 0, "%s --help: %d %s", cmd->name, rc, e);
	char usage[120];
	snprintf(usage, sizeof(usage), "usage: popbridge %s", cmd->name);
	ck_assert_msg(strncmp(out, usage, strlen(usage)) == 0, "%s --help: %s", cmd->name, out);
	for (size_t i = 0; i < cmd->n_opts; i++) {
		const char *name = config_opt_name(cmd->table, cmd->opts[i].id);
		ck_assert_msg(lists(out, name), "%s --help does not list --%s:\n%s", cmd->name,
		    name, out);
		for (size_t j = 0; j < i; j++)
			ck_assert_msg(strcmp(name, config_opt_name(cmd->table, cmd->opts[j].id)) != 0,
			    "%s takes two options named --%s", cmd->name, name);
	}
	/* ... and lists nothing else */
	for (const char *p = strstr(out, "\n  --"); p; p = strstr(p + 1, "\n  --")) {
		char name[64];
		ck_assert_int_eq(sscanf(p + 5, "%63[a-z0-9-]", name), 1);
		ck_assert_msg(strcmp(name, "help") == 0 || takes(cmd, name),
		    "%s --help lists --%s, which it does not take", cmd->name, name);
	}
	free(out);
	free(e);
}

START_TEST(every_command_help_lists_its_options)
{
	char *out, *e;
	/* `popbridge help` lists exactly these commands */
	ck_assert_int_eq(run("help", NULL, NULL, &out, &e), 0);
	size_t listed = 0;
	for (char *line = strstr(out, "\n  "); line; line = strstr(line + 1, "\n  ")) {
		char name[64];
		ck_assert_int_eq(sscanf(line + 3, "%63s", name), 1);
		bool known = false;
		for (size_t i = 0; i < CONFIG_N(commands); i++)
			known |= strcmp(commands[i]->name, name) == 0;
		ck_assert_msg(known, "help lists '%s', unknown to this test", name);
		listed++;
	}
	ck_assert_uint_eq(listed, CONFIG_N(commands));
	free(out);
	free(e);

	for (size_t i = 0; i < CONFIG_N(commands); i++) {
		const struct config_command *cmd = commands[i];
		if (!cmd->subs) {
			check_help(cmd);
			continue;
		}
		/* a group: its --help names each subcommand, each has its own */
		ck_assert_int_eq(run(cmd->name, "--help", NULL, &out, &e), 0);
		for (size_t j = 0; j < cmd->n_subs; j++) {
			char usage[120];
			snprintf(usage, sizeof(usage), "popbridge %s", cmd->subs[j]->name);
			ck_assert_msg(strstr(out, usage) != NULL, "%s --help: %s", cmd->name, out);
			check_help(cmd->subs[j]);
		}
		free(out);
		free(e);
	}
}
END_TEST

/* ---- README.md: the options of each command, as --help has them -------------------- */

/* The options a command (or every subcommand of a group) takes. */
static void add_taken(const struct config_command *cmd, char names[][40], size_t *n)
{
	if (cmd->subs) {
		for (size_t i = 0; i < cmd->n_subs; i++)
			add_taken(cmd->subs[i], names, n);
		return;
	}
	for (size_t i = 0; i < cmd->n_opts; i++) {
		const char *name = config_opt_name(cmd->table, cmd->opts[i].id);
		bool seen = false;
		for (size_t j = 0; j < *n; j++)
			seen |= strcmp(names[j], name) == 0;
		if (!seen && *n < 64)
			snprintf(names[(*n)++], 40, "%s", name);
	}
}

static const struct config_command *command_named(const char *name)
{
	for (size_t i = 0; i < CONFIG_N(commands); i++) {
		if (strcmp(commands[i]->name, name) == 0)
			return commands[i];
		for (size_t j = 0; j < commands[i]->n_subs; j++)
			if (strcmp(commands[i]->subs[j]->name, name) == 0)
				return commands[i]->subs[j];
	}
	return NULL;
}

/* Each `--name` in text[0..len) (not --help) into names. */
static void mentioned(const char *text, size_t len, char names[][40], size_t *n)
{
	for (size_t i = 0; i + 2 < len; i++) {
		if (text[i] != '-' || text[i + 1] != '-' || (i > 0 && text[i - 1] == '-') ||
		    text[i + 2] < 'a' || text[i + 2] > 'z')
			continue;
		size_t l = strspn(text + i + 2, "abcdefghijklmnopqrstuvwxyz0123456789-");
		if (l == 0 || i + 2 + l > len || l >= 40)
			continue;
		char name[40];
		memcpy(name, text + i + 2, l);
		name[l] = '\0';
		bool seen = strcmp(name, "help") == 0;
		for (size_t j = 0; j < *n; j++)
			seen |= strcmp(names[j], name) == 0;
		if (!seen && *n < 64)
			snprintf(names[(*n)++], 40, "%s", name);
	}
}

static bool in(char names[][40], size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return true;
	return false;
}

/* A synopsis line of a section ("    popbridge device add ACCOUNT DEVICE [--folder
 * F] ...", with its continuation lines): its options are the command's. */
static void check_synopses(const char *sec, size_t len)
{
	const char *end = sec + len;
	for (const char *p = strstr(sec, "\n    popbridge "); p && p < end;
	    p = strstr(p + 1, "\n    popbridge ")) {
		const char *q = p + strlen("\n    popbridge ");
		const char *eol = strchr(q, '\n');
		while (eol && strncmp(eol, "\n        ", 9) == 0)   /* continuation */
			eol = strchr(eol + 1, '\n');
		if (!eol || eol > end)
			eol = end;
		/* the longest command name the line starts with */
		const struct config_command *cmd = NULL;
		char w1[40] = "", w2[40] = "", name[81];
		sscanf(q, "%39s %39s", w1, w2);
		snprintf(name, sizeof(name), "%s %s", w1, w2);
		cmd = command_named(name);
		if (!cmd)
			cmd = command_named(w1);
		ck_assert_msg(cmd != NULL, "README: synopsis of an unknown command: %.60s", q);
		char names[64][40];
		size_t n = 0;
		mentioned(q, (size_t)(eol - q), names, &n);
		for (size_t i = 0; i < n; i++)
			ck_assert_msg(takes(cmd, names[i]), "README: 'popbridge %s' does not take --%s",
			    cmd->name, names[i]);
	}
}

START_TEST(readme_documents_every_option)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/README.md", bt_env("POPBRIDGE_SRC"));
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s", path);
	static char text[400000];
	size_t len = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[len] = '\0';

	size_t sections = 0;
	bool documented[CONFIG_N(commands)] = { false };
	for (char *h = strstr(text, "\n### popbridge "); h; h = strstr(h + 1, "\n### popbridge ")) {
		char *title = h + strlen("\n### popbridge ");
		char *body = strchr(title, '\n');
		ck_assert_ptr_nonnull(body);
		char *next = strstr(body, "\n## ");
		char *next3 = strstr(body, "\n### ");
		if (!next || (next3 && next3 < next))
			next = next3;
		size_t blen = next ? (size_t)(next - body) : strlen(body);

		/* "serve", "account (managed mode)", "check-config, version" */
		char heading[200];
		snprintf(heading, sizeof(heading), "%.*s", (int)(body - title), title);
		char *paren = strchr(heading, '(');
		if (paren)
			*paren = '\0';
		char taken[64][40], said[64][40];
		size_t nt = 0, ns = 0;
		for (char *tok = strtok(heading, ", "); tok; tok = strtok(NULL, ", ")) {
			const struct config_command *cmd = NULL;
			for (size_t i = 0; i < CONFIG_N(commands); i++)
				if (strcmp(commands[i]->name, tok) == 0) {
					cmd = commands[i];
					documented[i] = true;
				}
			ck_assert_msg(cmd != NULL, "README: section of an unknown command '%s'", tok);
			add_taken(cmd, taken, &nt);
		}
		mentioned(body, blen, said, &ns);
		for (size_t i = 0; i < nt; i++)
			ck_assert_msg(in(said, ns, taken[i]), "README: the section '%.40s' does not "
			    "document --%s", title, taken[i]);
		for (size_t i = 0; i < ns; i++)
			ck_assert_msg(in(taken, nt, said[i]), "README: the section '%.40s' names --%s, "
			    "which its commands do not take", title, said[i]);
		check_synopses(body, blen);
		sections++;
	}
	ck_assert_uint_ge(sections, 6);
	for (size_t i = 0; i < CONFIG_N(commands); i++)
		ck_assert_msg(documented[i] || commands[i] == &cmd_help,
		    "README has no section for popbridge %s", commands[i]->name);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cli");
	TCase *tc = tcase_create("cli");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, parser_values);
	tcase_add_test(tc, parser_problems);
	tcase_add_test(tc, parser_help);
	tcase_add_test(tc, every_command_help_lists_its_options);
	tcase_add_test(tc, readme_documents_every_option);
	suite_add_tcase(s, tc);
	return bt_run_suite(s);
}
