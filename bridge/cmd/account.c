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
static int store_credentials(struct config_cmdline *c, bool add)
{
	struct cmd_admin ad;
	struct managed_key key;
	char password[UPSTREAM_PASSWORD_MAX + 1];
	unsigned char blob[STATE_SECRET_MAX];
	size_t blen = 0;
	const char *user = c->arg[CMD_O_UPSTREAM_USER].text;
	bool created = false, have_key = false;
	int status = PB_EXIT_FAIL, rc;

	password[0] = '\0';
	if (cmd_admin_begin(&ad, c) != 0)
		goto out;
	const char *account = c->args[0];
	if (!state_account_name_ok(account)) {
		cmd_admin_fail(&ad, "%s", STATE_ACCOUNT_RULE);
		goto out;
	}
	if (add && cmd_admin_new_account_name(&ad, account) != 0)
		goto out;

	struct state_account a;
	if (!add) {
		/* set-password: the account must exist before anything else. */
		if (cmd_admin_open_existing_state(&ad) != 0 ||
		    cmd_admin_find_account(&ad, account, &a) != 0 ||
		    cmd_admin_refuse_moved(&ad, &a) != 0)
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
	enum state_credential credential;
	int credential_ok;
	int64_t moved;
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
	row->credential = a->credential;
	row->credential_ok = a->auth == STATE_AUTH_MANAGED ? a->credential_ok : -1;
	row->moved = a->moved;
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

static int account_list(struct config_cmdline *c)
{
	struct cmd_admin ad;
	struct acc_rows rows = { 0 };
	struct cmd_table t;
	int status = PB_EXIT_FAIL, rc;

	cmd_table_init(&t, 8);
	if (cmd_admin_begin(&ad, c) != 0)
		goto out;
	if (cmd_admin_open_existing_state(&ad) != 0)
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
		"ACCOUNT", "MODE", "UPSTREAM-USER", "DEVICES", "CREATED", "CREDENTIAL", "WORKS",
		"MOVED"
	};
	cmd_table_row(&t, head);
	for (size_t i = 0; i < rows.n; i++) {
		const struct acc_row *r = &rows.v[i];
		char devs[64], created[32], moved[32];
		if (r->revoked)
			snprintf(devs, sizeof(devs), "%zu (%zu revoked)", r->devices, r->revoked);
		else
			snprintf(devs, sizeof(devs), "%zu", r->devices);
		const char *cells[] = {
			r->name, r->auth == STATE_AUTH_MANAGED ? "managed" : "passthrough",
			r->user[0] ? r->user : "-", devs,
			cmd_admin_time(r->created, "-", created, sizeof(created)),
			r->credential == STATE_CRED_OAUTH2 ? "oauth2" : "password",
			r->credential_ok < 0 ? "-" : r->credential_ok ? "yes" : "no",
			cmd_admin_time(r->moved, "-", moved, sizeof(moved)),
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

static int account_remove(struct config_cmdline *c)
{
	struct cmd_admin ad;
	struct state_account a;
	size_t n = 0;
	int status = PB_EXIT_FAIL, rc;

	if (cmd_admin_begin(&ad, c) != 0)
		goto out;
	const char *account = c->args[0];
	if (cmd_admin_open_existing_state(&ad) != 0 ||
	    cmd_admin_find_account(&ad, account, &a) != 0)
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

static int account_add(struct config_cmdline *c)
{
	static const unsigned oauth2_only[] = {
		CMD_O_OAUTH2_CLIENT_ID, CMD_O_OAUTH2_CLIENT_SECRET_FILE, CMD_O_OAUTH2_TENANT,
		CMD_O_OAUTH2_TOKEN_URL, CMD_O_OAUTH2_DEVICE_URL, CMD_O_OAUTH2_SCOPE,
		CMD_O_OAUTH2_GRANT, CMD_O_REFRESH_TOKEN_FILE,
	};
	if (c->arg[CMD_O_OAUTH2].text)
		return cmd_account_add_oauth2(c);
	for (size_t i = 0; i < CONFIG_N(oauth2_only); i++)
		if (c->arg[oauth2_only[i]].text) {
			fprintf(stderr, "popbridge account add: --%s goes with --oauth2 PROVIDER\n",
			    config_opt_name(cmd_options, oauth2_only[i]));
			return PB_EXIT_USAGE;
		}
	return store_credentials(c, true);
}
static int account_set_password(struct config_cmdline *c) { return store_credentials(c, false); }

static const struct config_cmd_opt opts_secret[] = {
	{ CMD_O_UPSTREAM_USER, 0, NULL },
	{ PB_K_STATE, 0, NULL },
	{ PB_K_KEY_FILE, 0, "key file; created (mode 0600) while no managed account exists" },
	{ CMD_O_CONFIG, 0, "read --state and --key-file from this configuration" },
};
/* account add: opts_secret and the OAuth2 grant's (SPEC §10) */
static const struct config_cmd_opt opts_add[] = {
	{ CMD_O_UPSTREAM_USER, 0, NULL },
	{ CMD_O_OAUTH2, 0, NULL },
	{ CMD_O_OAUTH2_CLIENT_ID, 0, NULL },
	{ CMD_O_OAUTH2_CLIENT_SECRET_FILE, 0, NULL },
	{ CMD_O_OAUTH2_TENANT, 0, NULL },
	{ CMD_O_OAUTH2_TOKEN_URL, 0, NULL },
	{ CMD_O_OAUTH2_DEVICE_URL, 0, NULL },
	{ CMD_O_OAUTH2_SCOPE, 0, NULL },
	{ CMD_O_OAUTH2_GRANT, 0, NULL },
	{ CMD_O_REFRESH_TOKEN_FILE, 0, NULL },
	{ PB_K_UPSTREAM_CA, 0, "OAuth2: PEM certificates to trust for the token endpoints" },
	{ PB_K_UPSTREAM_TIMEOUT, 0, "OAuth2: network timeout of each request" },
	{ PB_K_STATE, 0, NULL },
	{ PB_K_KEY_FILE, 0, "key file; created (mode 0600) while no managed account exists" },
	{ CMD_O_CONFIG, 0, "read --state and --key-file from this configuration" },
};
static const struct config_cmd_opt opts_state[] = {
	{ PB_K_STATE, 0, NULL },
	{ CMD_O_CONFIG, 0, "read --state from this configuration" },
};

static const struct config_command account_add_cmd = {
	.name = "account add",
	.summary = "register a managed account and its upstream password or OAuth2 grant",
	.args = "ACCOUNT", .min_args = 1, .max_args = 1,
	.text =
	    "Register ACCOUNT for managed mode. The upstream IMAP password is read from\n"
	    "standard input (the first line; it is never taken from the command line)\n"
	    "and stored encrypted (AES-256-GCM) with the key file, which is refused\n"
	    "when group or others may read it. Devices then get their own passwords\n"
	    "with 'popbridge device add'.\n"
	    "With --oauth2 PROVIDER the upstream credential is an OAuth2 grant instead\n"
	    "(Gmail, Microsoft 365): no password is read; the device-code grant prints\n"
	    "a URL and a code to confirm in a browser and waits; refresh-token takes an\n"
	    "existing refresh token; client-credentials uses the client secret. The\n"
	    "tokens are stored encrypted like a password; popbridge renews them.\n",
	.table = cmd_options, .opts = opts_add, .n_opts = CONFIG_N(opts_add),
	.run = account_add,
};

static const struct config_command account_list_cmd = {
	.name = "account list",
	.summary = "list the accounts",
	.text =
	    "One line per account: name, mode (managed or passthrough), upstream user,\n"
	    "number of devices (revoked ones counted apart), creation time (UTC), the\n"
	    "upstream credential (password or oauth2) and whether it works: yes or no as\n"
	    "the last upstream login with the stored credential went, - when not known\n"
	    "(no login yet; passthrough accounts store none), and when it was moved to\n"
	    "another node ('account export': refused here since, its rows kept), - when\n"
	    "it is served here.\n",
	.table = cmd_options, .opts = opts_state, .n_opts = CONFIG_N(opts_state),
	.run = account_list,
};

static const struct config_command account_remove_cmd = {
	.name = "account remove",
	.summary = "remove an account with its devices and their state",
	.args = "ACCOUNT", .min_args = 1, .max_args = 1,
	.text =
	    "Remove ACCOUNT with its devices, their passwords and every per-device\n"
	    "state. Mail upstream is not touched. Do it while no session of the\n"
	    "account runs. An account moved to another node ('account export')\n"
	    "keeps its rows here until this removes them.\n",
	.table = cmd_options, .opts = opts_state, .n_opts = CONFIG_N(opts_state),
	.run = account_remove,
};

static const struct config_command account_set_password_cmd = {
	.name = "account set-password",
	.summary = "replace an account's stored upstream password",
	.args = "ACCOUNT", .min_args = 1, .max_args = 1,
	.text =
	    "Replace the stored upstream password of ACCOUNT with the first line of\n"
	    "standard input (and the upstream user with USER when given). An account\n"
	    "created by a passthrough login becomes a managed account. Device\n"
	    "passwords stay valid.\n",
	.table = cmd_options, .opts = opts_secret, .n_opts = CONFIG_N(opts_secret),
	.run = account_set_password,
};

static const struct config_command *const subs[] = {
	&account_add_cmd, &account_list_cmd, &account_remove_cmd, &account_set_password_cmd,
	&cmd_account_oauth2_login, &cmd_account_export, &cmd_account_import,
};

const struct config_command cmd_account = {
	.name = "account",
	.summary = "accounts: add, list, remove, set-password, oauth2-login, export, import",
	.subs = subs, .n_subs = CONFIG_N(subs),
};
