/* bridge/cmd/account.c — `popbridge account add|list|remove|set-password`:
 * managed accounts and their sealed upstream credentials (SPEC §2, §8). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "bridge/cmd/admin.h"
#include "bridge/managed/login.h"

/* The longest upstream password whose sealed form fits the state column. */
#define UPSTREAM_PASSWORD_MAX (STATE_SECRET_MAX - SECRET_BLOB_OVERHEAD)

#define STATE_KEYS (PB_KEY_BIT(PB_K_STATE))
#define SECRET_KEYS (PB_KEY_BIT(PB_K_STATE) | PB_KEY_BIT(PB_K_KEY_FILE))

static const char USAGE[] =
	"usage: popbridge account add ACCOUNT [--upstream-user USER]\n"
	"       popbridge account list\n"
	"       popbridge account remove ACCOUNT\n"
	"       popbridge account set-password ACCOUNT [--upstream-user USER]\n"
	"common options: --state FILE  --config FILE  --help\n"
	"add and set-password also take --key-file FILE\n";

static const char USAGE_ADD[] =
	"usage: popbridge account add ACCOUNT [--upstream-user USER] [--state FILE]\n"
	"                             [--key-file FILE] [--config FILE]\n"
	"\n"
	"Register ACCOUNT for managed mode. The upstream IMAP password is read from\n"
	"standard input (the first line; it is never taken from the command line)\n"
	"and stored encrypted (AES-256-GCM) with the key file. USER is the upstream\n"
	"IMAP login name (default: ACCOUNT). Devices then get their own passwords\n"
	"with 'popbridge device add'.\n"
	"\n"
	"  --state FILE     state database (default popbridge.db, or the config's)\n"
	"  --key-file FILE  key file (default: the state file's name + .key); created\n"
	"                   with mode 0600 when no managed account exists yet;\n"
	"                   refused when group or others may read it\n"
	"  --config FILE    read --state and --key-file from this configuration\n";

static const char USAGE_LIST[] =
	"usage: popbridge account list [--state FILE] [--config FILE]\n"
	"\n"
	"One line per account: name, mode (managed or passthrough), upstream user,\n"
	"number of devices (revoked ones counted apart) and creation time (UTC).\n";

static const char USAGE_REMOVE[] =
	"usage: popbridge account remove ACCOUNT [--state FILE] [--config FILE]\n"
	"\n"
	"Remove ACCOUNT with its devices, their passwords and every per-device\n"
	"state. Mail upstream is not touched. Do it while no session of the\n"
	"account runs.\n";

static const char USAGE_SET_PASSWORD[] =
	"usage: popbridge account set-password ACCOUNT [--upstream-user USER]\n"
	"                             [--state FILE] [--key-file FILE] [--config FILE]\n"
	"\n"
	"Replace the stored upstream password of ACCOUNT with the first line of\n"
	"standard input (and the upstream user with USER when given). An account\n"
	"created by a passthrough login becomes a managed account. Device\n"
	"passwords stay valid.\n";

/* Take --upstream-user out of argv; -1 on a usage error (status set). */
static int take_upstream_user(const char *name, int *argc, char **argv,
    const char **user, int *status)
{
	char err[PB_ERR_MAX];
	*user = NULL;
	if (cmd_admin_take_option(argc, argv, "upstream-user", user, err, sizeof(err)) < 0) {
		fprintf(stderr, "popbridge %s: %s\n", name, err);
		*status = PB_EXIT_USAGE;
		return -1;
	}
	if (*user && (!**user || strlen(*user) > STATE_USER_MAX)) {
		fprintf(stderr, "popbridge %s: --upstream-user must be 1 to %d octets\n", name,
		    STATE_USER_MAX);
		*status = PB_EXIT_USAGE;
		return -1;
	}
	return 0;
}

/* Seal password for account into blob; -1 after printing. */
static int seal(struct cmd_admin *ad, const struct managed_key *key, const char *account,
    const char *password, unsigned char *blob, size_t size, size_t *blen)
{
	char err[PB_ERR_MAX];
	if (managed_seal(key, account, (const unsigned char *)password, strlen(password),
	    blob, size, blen, err, sizeof(err)) != 0) {
		cmd_admin_fail(ad, "%s", err);
		return -1;
	}
	return 0;
}

static void say_key_created(const struct cmd_admin *ad)
{
	printf("created key file %s (mode 0600); keep it with the state file and back "
	    "it up: without it the stored upstream passwords cannot be opened\n",
	    ad->o.key_file);
}

/* add and set-password: read the password, load the key, seal, store. */
static int store_credentials(int argc, char **argv, bool add)
{
	const char *name = add ? "account add" : "account set-password";
	struct cmd_admin ad;
	struct managed_key key;
	char password[UPSTREAM_PASSWORD_MAX + 1];
	unsigned char blob[STATE_SECRET_MAX];
	size_t blen = 0;
	const char *user = NULL;
	bool created = false, have_key = false;
	int status = PB_EXIT_FAIL, rc;

	memset(&ad, 0, sizeof(ad));
	password[0] = '\0';
	if (take_upstream_user(name, &argc, argv, &user, &status) != 0)
		return status;
	if (cmd_admin_begin(&ad, name, argc, argv, SECRET_KEYS, 1, 1,
	    add ? USAGE_ADD : USAGE_SET_PASSWORD, &status) != 0)
		goto out;
	status = PB_EXIT_FAIL;
	const char *account = ad.c.args[0];
	if (!state_account_name_ok(account)) {
		cmd_admin_fail(&ad, "%s", STATE_ACCOUNT_RULE);
		goto out;
	}
	if (add && strchr(account, ad.o.device_separator)) {
		/* a POP3 user name is split at the first separator */
		cmd_admin_fail(&ad, "an account name may not contain the device separator '%c'",
		    ad.o.device_separator);
		goto out;
	}

	struct state_account a;
	if (!add) {
		/* set-password: the account must exist before anything else. */
		if (cmd_admin_open_state(&ad) != 0 || cmd_admin_find_account(&ad, account, &a) != 0)
			goto out;
	}

	char prompt[STATE_ACCOUNT_MAX + 40];
	snprintf(prompt, sizeof(prompt), "upstream password for %s: ", account);
	if (cmd_admin_read_secret(&ad, prompt, password, sizeof(password),
	    UPSTREAM_PASSWORD_MAX) != 0)
		goto out;
	if (cmd_admin_load_key(&ad, true, add ? NULL : account, &key, &created) != 0)
		goto out;
	have_key = true;
	if (seal(&ad, &key, account, password, blob, sizeof(blob), &blen) != 0)
		goto out;
	if (!ad.db && cmd_admin_open_state(&ad) != 0)
		goto out;

	if (add) {
		rc = state_account_add(ad.db, account, STATE_AUTH_MANAGED,
		    user ? user : account, blob, blen, (int64_t)time(NULL), NULL);
		if (rc == STATE_EXISTS) {
			rc = state_account_get(ad.db, account, &a);
			cmd_admin_fail(&ad, "account '%s' exists already%s; 'popbridge account "
			    "set-password %s' replaces its upstream password", account,
			    rc == STATE_OK && a.auth == STATE_AUTH_PASSTHROUGH
			    ? " (in passthrough mode)" : "", account);
			goto out;
		}
		if (rc != STATE_OK) {
			cmd_admin_state_fail(&ad, rc, account);
			goto out;
		}
		if (created)
			say_key_created(&ad);
		printf("added managed account %s (upstream user %s); now give each device "
		    "its password with 'popbridge device add %s DEVICE'\n", account,
		    user ? user : account, account);
	} else {
		const char *u = user ? user : a.upstream_user[0] ? a.upstream_user : account;
		rc = state_account_set_credentials(ad.db, a.id, STATE_AUTH_MANAGED, u, blob,
		    blen);
		if (rc != STATE_OK) {
			cmd_admin_state_fail(&ad, rc, account);
			goto out;
		}
		if (created)
			say_key_created(&ad);
		printf("stored the new upstream password of %s (upstream user %s%s)\n", account,
		    u, a.auth == STATE_AUTH_PASSTHROUGH ? "; the account is now managed" : "");
	}
	status = PB_EXIT_OK;
out:
	OPENSSL_cleanse(password, sizeof(password));
	OPENSSL_cleanse(blob, sizeof(blob));
	if (have_key)
		managed_key_clear(&key);
	cmd_admin_end(&ad);
	return status;
}

/* account list: accounts first, then one pass over every device. */
struct acc_row {
	int64_t id;
	char name[STATE_ACCOUNT_MAX + 1];
	enum state_auth auth;
	char user[STATE_USER_MAX + 1];
	int64_t created;
	size_t devices, revoked;
};

struct acc_rows {
	struct acc_row *v;
	size_t n, cap;
	bool oom;
};

static int collect_account(void *arg, const struct state_account *a)
{
	struct acc_rows *r = arg;
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		struct acc_row *v = realloc(r->v, cap * sizeof(*v));
		if (!v) {
			r->oom = true;
			return 1;
		}
		r->v = v;
		r->cap = cap;
	}
	struct acc_row *row = &r->v[r->n++];
	memset(row, 0, sizeof(*row));
	row->id = a->id;
	snprintf(row->name, sizeof(row->name), "%s", a->name);
	row->auth = a->auth;
	snprintf(row->user, sizeof(row->user), "%s", a->upstream_user);
	row->created = a->created;
	return 0;
}

static int count_device(void *arg, const struct state_device *d)
{
	struct acc_rows *r = arg;
	for (size_t i = 0; i < r->n; i++)
		if (r->v[i].id == d->account_id) {
			r->v[i].devices++;
			r->v[i].revoked += d->revoked;
			break;
		}
	return 0;
}

static int account_list(int argc, char **argv)
{
	struct cmd_admin ad;
	struct acc_rows rows = { 0 };
	struct cmd_table t;
	int status, rc;

	cmd_table_init(&t, 5);
	if (cmd_admin_begin(&ad, "account list", argc, argv, STATE_KEYS, 0, 0, USAGE_LIST,
	    &status) != 0)
		goto out;
	status = PB_EXIT_FAIL;
	if (cmd_admin_open_state(&ad) != 0)
		goto out;
	rc = state_account_list(ad.db, collect_account, &rows);
	if (rc == STATE_OK && !rows.oom)
		rc = state_device_list(ad.db, 0, count_device, &rows);
	if (rc != STATE_OK || rows.oom) {
		if (rows.oom)
			cmd_admin_fail(&ad, "out of memory");
		else
			cmd_admin_state_fail(&ad, rc, "listing accounts");
		goto out;
	}
	static const char *const head[] = {
		"ACCOUNT", "MODE", "UPSTREAM-USER", "DEVICES", "CREATED"
	};
	cmd_table_row(&t, head);
	for (size_t i = 0; i < rows.n; i++) {
		const struct acc_row *r = &rows.v[i];
		char devs[64], created[32];
		if (r->revoked)
			snprintf(devs, sizeof(devs), "%zu (%zu revoked)", r->devices, r->revoked);
		else
			snprintf(devs, sizeof(devs), "%zu", r->devices);
		const char *cells[] = {
			r->name, r->auth == STATE_AUTH_MANAGED ? "managed" : "passthrough",
			r->user[0] ? r->user : "-", devs,
			cmd_admin_time(r->created, "-", created, sizeof(created)),
		};
		cmd_table_row(&t, cells);
	}
	if (cmd_table_print(&t, stdout) != 0) {
		cmd_admin_fail(&ad, "out of memory");
		goto out;
	}
	if (cmd_admin_stdout_flush(&ad, "the account list") != 0)
		goto out;
	status = PB_EXIT_OK;
out:
	cmd_table_free(&t);
	free(rows.v);
	cmd_admin_end(&ad);
	return status;
}

static int account_remove(int argc, char **argv)
{
	struct cmd_admin ad;
	struct state_account a;
	size_t n = 0;
	int status, rc;

	if (cmd_admin_begin(&ad, "account remove", argc, argv, STATE_KEYS, 1, 1, USAGE_REMOVE,
	    &status) != 0)
		goto out;
	status = PB_EXIT_FAIL;
	const char *account = ad.c.args[0];
	if (cmd_admin_open_state(&ad) != 0 || cmd_admin_find_account(&ad, account, &a) != 0)
		goto out;
	rc = cmd_admin_count_devices(&ad, a.id, &n);
	if (rc == STATE_OK)
		rc = state_account_remove(ad.db, account);
	OPENSSL_cleanse(&a, sizeof(a));
	if (rc != STATE_OK) {
		cmd_admin_state_fail(&ad, rc, account);
		goto out;
	}
	printf("removed account %s with its %zu device%s and their state\n", account, n,
	    n == 1 ? "" : "s");
	status = PB_EXIT_OK;
out:
	cmd_admin_end(&ad);
	return status;
}

int cmd_account(int argc, char **argv)
{
	if (argc < 1) {
		fputs(USAGE, stderr);
		return PB_EXIT_USAGE;
	}
	const char *sub = argv[0];
	if (strcmp(sub, "add") == 0)
		return store_credentials(argc - 1, argv + 1, true);
	if (strcmp(sub, "set-password") == 0)
		return store_credentials(argc - 1, argv + 1, false);
	if (strcmp(sub, "list") == 0)
		return account_list(argc - 1, argv + 1);
	if (strcmp(sub, "remove") == 0)
		return account_remove(argc - 1, argv + 1);
	if (strcmp(sub, "--help") == 0 || strcmp(sub, "help") == 0) {
		fputs(USAGE, stdout);
		return PB_EXIT_OK;
	}
	fprintf(stderr, "popbridge account: unknown subcommand '%s'\n%s", sub, USAGE);
	return PB_EXIT_USAGE;
}
