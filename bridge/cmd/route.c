/* bridge/cmd/route.c — `popbridge route` (SPEC §14): its command line, and
 * --plan, which reads the accounts of the nodes' state files; the service
 * itself is bridge/route/route.h's route_run(). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bridge/base/log.h"
#include "bridge/base/text.h"
#include "bridge/cmd/cmd.h"
#include "bridge/route/pick.h"
#include "bridge/route/route.h"
#include "state/state.h"

#define NAME "route"
/* --state NAME=FILE options of one --plan */
#define PLAN_STATES_MAX ROUTE_NODES_MAX

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "popbridge " NAME ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return PB_EXIT_FAIL;
}

/* The --node list into cfg. */
static int take_nodes(const struct config_cmdline *c, struct route_config *cfg)
{
	const char *spec[ROUTE_NODES_MAX];
	char err[PB_ERR_MAX];
	size_t n = config_cmdline_values(c, CMD_O_NODE, spec, ROUTE_NODES_MAX);

	if (n > ROUTE_NODES_MAX)
		return fail("at most %d --node", ROUTE_NODES_MAX);
	for (size_t i = 0; i < n; i++)
		if (route_node_parse(spec[i], &cfg->nodes[i], err, sizeof(err)) != 0)
			return fail("%s", err);
	cfg->n_nodes = n;
	if (route_nodes_check(cfg->nodes, n, err, sizeof(err)) != 0)
		return fail("%s (see 'popbridge route --help')", err);
	return 0;
}

/* ---- --plan ------------------------------------------------------------------------- */

struct plan {
	const struct route_config *cfg;
	const char *from;          /* the state file's node */
	size_t accounts, moving;
	size_t away;               /* exported to another node already (SPEC §14) */
	bool failed;
};

static int plan_account(void *arg, const struct state_account *a)
{
	struct plan *p = arg;
	char key[STATE_ACCOUNT_MAX];
	char shown[STATE_ACCOUNT_MAX + 1];
	size_t to;

	if (a->moved != 0) {
		/* its frozen rows: the node it went to holds it now */
		p->away++;
		return 0;
	}
	p->accounts++;
	size_t klen = route_account_key(a->name, strlen(a->name), 0, key, sizeof(key));
	if (route_pick(p->cfg->nodes, p->cfg->n_nodes, key, klen, &to) != 0) {
		p->failed = true;
		return 1;
	}
	if (strcmp(p->cfg->nodes[to].name, p->from) == 0)
		return 0;
	p->moving++;
	base_text_printable_str(shown, sizeof(shown), a->name);
	printf("%s %s %s\n", shown, p->from, p->cfg->nodes[to].name);
	return 0;
}

/* A private directory for a state file's copy: 0, or -1 with errno. */
static int tmp_dir(char *dir, size_t cap)
{
	const char *tmp = getenv("TMPDIR");
	if (tmp == NULL || tmp[0] == '\0' || strlen(tmp) + 24 > cap)
		tmp = "/tmp";
	snprintf(dir, cap, "%s/popbridge-plan.XXXXXX", tmp);
	return mkdtemp(dir) != NULL ? 0 : -1;
}

/* The copy and what SQLite may have put beside it, then the directory. */
static void tmp_remove(const char *dir)
{
	static const char *const files[] = { "plan.db", "plan.db-wal", "plan.db-shm",
	    "plan.db-journal" };
	char path[PB_PATH_MAX + 16];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
}

static int plan_one(const struct route_config *cfg, const char *spec, size_t *accounts,
    size_t *moving, size_t *away)
{
	char node[ROUTE_NAME_MAX + 1], err[PB_ERR_MAX + PB_PATH_MAX];
	const char *eq = strchr(spec, '=');
	struct stat st;

	if (!eq || eq == spec || (size_t)(eq - spec) > ROUTE_NAME_MAX || !eq[1])
		return fail("--state '%s': expected NAME=FILE", BASE_SHOWN(spec));
	memcpy(node, spec, (size_t)(eq - spec));
	node[eq - spec] = '\0';
	if (route_name_check(node) != 0)
		return fail("--state '%s': a node name is 1 to %d of A-Z a-z 0-9 . _ -",
		    BASE_SHOWN(spec), ROUTE_NAME_MAX);
	const char *file = eq + 1;
	if (stat(file, &st) != 0)
		return fail("%s: %s (no state file to plan with)", file, strerror(errno));
	/* A node's file is read through a private copy, never opened for
	 * writing: a newer popbridge planning would otherwise migrate it under
	 * the node's older one (state_snapshot). */
	char dir[PB_PATH_MAX], copy[PB_PATH_MAX + 16];
	if (tmp_dir(dir, sizeof(dir)) != 0)
		return fail("a temporary directory: %s", strerror(errno));
	snprintf(copy, sizeof(copy), "%s/plan.db", dir);
	struct state_db *db = NULL;
	if (state_snapshot(file, copy, err, sizeof(err)) != 0) {
		fail("%s", err);
	} else if ((db = state_open(copy, err, sizeof(err))) == NULL) {
		fail("%s: %s", file, err);
	}
	struct plan p = { .cfg = cfg, .from = node };
	int rc = db != NULL ? state_account_list(db, plan_account, &p) : STATE_ERROR;
	if (db != NULL && rc != STATE_OK)
		fail("%s: listing accounts: %s", file, state_errmsg(db));
	state_close(db);
	tmp_remove(dir);
	if (rc != STATE_OK)
		return PB_EXIT_FAIL;
	if (p.failed)
		return fail("hashing failed (out of memory)");
	*accounts += p.accounts;
	*moving += p.moving;
	*away += p.away;
	return 0;
}

static int plan(const struct config_cmdline *c, const struct route_config *cfg)
{
	const char *spec[PLAN_STATES_MAX];
	size_t n = config_cmdline_values(c, CMD_O_ROUTE_STATE, spec, PLAN_STATES_MAX);
	size_t accounts = 0, moving = 0, away = 0;

	if (n == 0)
		return fail("--plan needs at least one --state NAME=FILE");
	if (n > PLAN_STATES_MAX)
		return fail("at most %d --state", PLAN_STATES_MAX);
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < i; j++) {
			size_t li = strcspn(spec[i], "="), lj = strcspn(spec[j], "=");
			if (li == lj && strncmp(spec[i], spec[j], li) == 0)
				return fail("--state names node '%.*s' twice", (int)li, spec[i]);
		}
	for (size_t i = 0; i < n; i++)
		if (plan_one(cfg, spec[i], &accounts, &moving, &away) != 0)
			return PB_EXIT_FAIL;
	if (fflush(stdout) != 0 || ferror(stdout))
		return fail("writing the plan failed: %s", strerror(errno));
	fprintf(stderr, "popbridge " NAME ": %zu of %zu account(s) in %zu state file(s) would "
	    "move", moving, accounts, n);
	if (away > 0)
		fprintf(stderr, "; %zu exported to another node already (not counted)", away);
	fputc('\n', stderr);
	return PB_EXIT_OK;
}

/* ---- the service ---------------------------------------------------------------------- */

static int run(struct config_cmdline *c)
{
	static struct route_config cfg;
	char err[PB_ERR_MAX];

	memset(&cfg, 0, sizeof(cfg));
	if (take_nodes(c, &cfg) != 0)
		return PB_EXIT_FAIL;
	cfg.sep = c->values.device_separator;
	if (c->arg[CMD_O_PLAN].text) {
		if (c->arg[CMD_O_ROUTE_LISTEN].text)
			return fail("--listen serves; --plan only prints (give one of them)");
		return plan(c, &cfg);
	}
	if (c->arg[CMD_O_ROUTE_STATE].text)
		return fail("--state is for --plan");
	if (!c->arg[CMD_O_ROUTE_LISTEN].text || c->values.n_listen != 1)
		return fail("--listen ADDR:PORT is required (or --plan)");
	if (strlen(c->values.listen[0].host) >= sizeof(cfg.listen_addr))
		return fail("--listen: not a numeric address");
	strcpy(cfg.listen_addr, c->values.listen[0].host);
	cfg.listen_port = c->values.listen[0].port;
	cfg.check_interval_s = (unsigned)c->arg[CMD_O_CHECK_INTERVAL].num;
	base_log_setup(c->arg[CMD_O_ROUTE_LOG_LEVEL].text ? c->values.log_level : PB_LOG_INFO,
	    false);
	if (route_run(&cfg, err, sizeof(err)) != 0)
		return fail("%s", err);
	return PB_EXIT_OK;
}

static const struct config_cmd_opt opts[] = {
	{ CMD_O_ROUTE_LISTEN, 0, NULL },
	{ CMD_O_NODE, CONFIG_REQUIRED | CONFIG_REPEATABLE, NULL },
	{ CMD_O_CHECK_INTERVAL, 0, NULL },
	{ CMD_O_ROUTE_SEPARATOR, 0, NULL },
	{ CMD_O_ROUTE_LOG_LEVEL, 0, NULL },
	{ CMD_O_PLAN, 0, NULL },
	{ CMD_O_ROUTE_STATE, CONFIG_REPEATABLE, NULL },
};

const struct config_command cmd_route = {
	.name = NAME,
	.summary = "nginx's auth_http service for a fleet of nodes (foreground)",
	.text =
	    "Answer nginx's mail proxy (auth_http) with the node that holds each\n"
	    "account: rendezvous hashing of the node names with the account name\n"
	    "(before the device separator, case-folded), over every --node given, up\n"
	    "or down. Each node's POP3 listener is checked every --check-interval\n"
	    "seconds; a login for a node that is down gets a temporary failure, never\n"
	    "another node. GET /metrics on the same address: Prometheus text. Runs in\n"
	    "the foreground until SIGTERM or SIGINT. docs/FLEET.md has the nginx side.\n"
	    "\n"
	    "With --plan, nothing is served: for the --node list given and the accounts\n"
	    "in each --state NAME=FILE (node NAME's state file), one line 'ACCOUNT FROM\n"
	    "TO' per account that would move to another node. Accounts exported from a\n"
	    "node ('account export') are not counted there.\n",
	.table = cmd_options, .opts = opts, .n_opts = CONFIG_N(opts),
	.run = run,
};
