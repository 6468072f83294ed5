/* bridge/cmd/oauth2.c — `popbridge account add ACCOUNT --oauth2 PROVIDER`
 * and `popbridge account oauth2-login ACCOUNT` (SPEC §10): an account whose
 * upstream credential is an OAuth2 grant, and authorising it again. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/crypto.h>

#include "bridge/cmd/admin.h"
#include "bridge/oauth2/device.h"
#include "bridge/oauth2/grant.h"

/* One run of either command. */
struct o2run {
	struct cmd_admin ad;
	struct oauth2_grant *g;
	struct oauth2_tokens *t;
	struct state_oauth2 *row;   /* g sealed, for state */
	struct managed_key key;
	bool have_key, key_created;
	const char *account;
};

static int begin(struct o2run *r, struct config_cmdline *c)
{
	memset(r, 0, sizeof(*r));
	r->account = c->args[0];
	r->g = calloc(1, sizeof(*r->g));
	r->t = calloc(1, sizeof(*r->t));
	if (cmd_admin_begin(&r->ad, c) != 0)
		return -1;
	if (r->g == NULL || r->t == NULL)
		return cmd_admin_fail(&r->ad, "out of memory"), -1;
	return 0;
}

static void end(struct o2run *r)
{
	if (r->g != NULL)
		oauth2_grant_clear(r->g);
	if (r->t != NULL)
		oauth2_tokens_clear(r->t);
	if (r->row != NULL)
		OPENSSL_cleanse(r->row, sizeof(*r->row));
	free(r->g);
	free(r->t);
	free(r->row);
	if (r->have_key)
		managed_key_clear(&r->key);
	cmd_admin_end(&r->ad);
}

/* The device flow's step for the administrator: where to go, what to type. */
static void show_code(void *arg, const struct oauth2_device_auth *d)
{
	const struct o2run *r = arg;
	printf("To authorise popbridge for %s, open\n    %s\nin a browser, sign in as the "
	    "mailbox's user and enter the code\n    %s\n", r->account, d->verification_uri,
	    d->user_code);
	if (d->verification_uri_complete[0])
		printf("(or open %s)\n", d->verification_uri_complete);
	printf("Waiting for the authorisation (at most %lld minutes)...\n",
	    (long long)((d->expires_in > 0 && d->expires_in < OAUTH2_DEVICE_WAIT_MAX_S ?
	    d->expires_in : OAUTH2_DEVICE_WAIT_MAX_S) + 59) / 60);
	fflush(stdout);
}

/* Ask for tokens by r->g's grant; the refresh-token grant's token is in
 * r->g->refresh already. On success r->g holds the new tokens. */
static int obtain(struct o2run *r)
{
	struct oauth2_client c;
	enum oauth2_outcome o;
	struct oauth2_grant *g = r->g;

	oauth2_grant_client(g, r->ad.o.upstream_ca, r->ad.o.upstream_timeout, &c);
	switch (g->grant) {
	case OAUTH2_GRANT_DEVICE_CODE:
		o = oauth2_device_flow(&c, show_code, r, r->t);
		break;
	case OAUTH2_GRANT_REFRESH_TOKEN:
		o = oauth2_token_refresh(&c, g->refresh, r->t);
		break;
	default:
		o = oauth2_token_client_credentials(&c, r->t);
		break;
	}
	if (o != OAUTH2_OK) {
		cmd_admin_fail(&r->ad, "no token: %s%s", r->t->detail, o == OAUTH2_TEMP ?
		    " (a temporary failure: try again later)" : "");
		if (g->provider == OAUTH2_GOOGLE && g->grant == OAUTH2_GRANT_DEVICE_CODE)
			cmd_admin_fail(&r->ad, "Google's device flow does not grant the mail scope: "
			    "get a refresh token in a browser and give it with --refresh-token-file "
			    "(README, OAuth2 accounts: Google)");
		return -1;
	}
	if (g->grant == OAUTH2_GRANT_DEVICE_CODE && r->t->refresh[0] == '\0') {
		cmd_admin_fail(&r->ad, "the provider gave no refresh token: popbridge could not "
		    "renew the access token (for Microsoft, offline_access belongs in the scope)");
		return -1;
	}
	int64_t now = (int64_t)time(NULL);
	snprintf(g->access, sizeof(g->access), "%s", r->t->access);
	g->access_expires = r->t->expires_in >= 0 ? now + r->t->expires_in : 0;
	if (r->t->refresh[0])
		snprintf(g->refresh, sizeof(g->refresh), "%s", r->t->refresh);
	return 0;
}

/* FILE's first line into buf: a refresh token or a client secret. Both are
 * VSCHARs (RFC 6749 Appendix A: printable ASCII); a refresh token has no
 * space either (token.c asks the same of the ones a provider sends), and
 * white space at either end of the line is refused, not sent: it is
 * invisible in the file, and the provider would refuse the grant for it. */
static int read_file(struct o2run *r, const char *path, char *buf, const char *what,
    bool space_inside)
{
	if (cmd_admin_read_secret_file(&r->ad, path, buf, OAUTH2_TOKEN_MAX + 1,
	    OAUTH2_TOKEN_MAX, what) != 0)
		return -1;
	size_t n = strlen(buf);
	bool ok = buf[0] != ' ' && buf[0] != '\t' && buf[n - 1] != ' ' && buf[n - 1] != '\t';
	for (size_t i = 0; ok && i < n; i++) {
		unsigned char c = (unsigned char)buf[i];
		ok = (c > 0x20 && c < 0x7f) || (c == ' ' && space_inside);
	}
	if (ok)
		return 0;
	OPENSSL_cleanse(buf, OAUTH2_TOKEN_MAX + 1);
	return cmd_admin_fail(&r->ad, "%s: the first line must hold %s in printable ASCII, %s "
	    "(white space at the end of the line?)", path, what, space_inside ?
	    "not starting or ending with a space or tab" : "without spaces or tabs"), -1;
}

/* The grant's settings from the command line (account add). */
static int settings(struct o2run *r, struct config_cmdline *c)
{
	struct oauth2_grant *g = r->g;
	struct oauth2_endpoints ep;
	char err[PB_ERR_MAX];
	const char *tenant = c->arg[CMD_O_OAUTH2_TENANT].text;
	const char *token_url = c->arg[CMD_O_OAUTH2_TOKEN_URL].text;
	const char *device_url = c->arg[CMD_O_OAUTH2_DEVICE_URL].text;
	const char *scope = c->arg[CMD_O_OAUTH2_SCOPE].text;
	const char *refresh_file = c->arg[CMD_O_REFRESH_TOKEN_FILE].text;
	const char *secret_file = c->arg[CMD_O_OAUTH2_CLIENT_SECRET_FILE].text;

	g->provider = (enum oauth2_provider)c->arg[CMD_O_OAUTH2].num;
	g->grant = c->arg[CMD_O_OAUTH2_GRANT].text ?
	    (enum oauth2_grant_type)c->arg[CMD_O_OAUTH2_GRANT].num :
	    refresh_file ? OAUTH2_GRANT_REFRESH_TOKEN : OAUTH2_GRANT_DEVICE_CODE;
	const char *pname = config_word_name(&oauth2_providers, (int)g->provider);
	if (c->arg[CMD_O_OAUTH2_CLIENT_ID].text == NULL)
		return cmd_admin_fail(&r->ad, "--oauth2-client-id is required: the id of "
		    "popbridge's registration with %s (see the README, OAuth2 accounts)", pname), -1;
	if ((refresh_file != NULL) != (g->grant == OAUTH2_GRANT_REFRESH_TOKEN))
		return cmd_admin_fail(&r->ad, "--refresh-token-file goes with --oauth2-grant "
		    "refresh-token, and that grant needs it"), -1;
	if (g->grant == OAUTH2_GRANT_CLIENT_CREDENTIALS && secret_file == NULL)
		return cmd_admin_fail(&r->ad, "the client-credentials grant needs "
		    "--oauth2-client-secret-file"), -1;
	if (tenant != NULL && g->provider != OAUTH2_MICROSOFT)
		return cmd_admin_fail(&r->ad, "--oauth2-tenant is for microsoft only"), -1;
	if (g->provider == OAUTH2_CUSTOM) {
		memset(&ep, 0, sizeof(ep));
		if (token_url == NULL)
			return cmd_admin_fail(&r->ad, "custom needs --oauth2-token-url"), -1;
	} else if (oauth2_preset(g->provider, g->grant, tenant, &ep, err, sizeof(err)) != 0) {
		return cmd_admin_fail(&r->ad, "%s", err), -1;
	}
	/* the flags win over the preset */
	snprintf(g->token_url, sizeof(g->token_url), "%s", token_url ? token_url : ep.token_url);
	snprintf(g->device_url, sizeof(g->device_url), "%s",
	    device_url ? device_url : ep.device_url);
	snprintf(g->scope, sizeof(g->scope), "%s", scope ? scope : ep.scope);
	snprintf(g->client_id, sizeof(g->client_id), "%s", c->arg[CMD_O_OAUTH2_CLIENT_ID].text);
	snprintf(g->tenant, sizeof(g->tenant), "%s", g->provider == OAUTH2_MICROSOFT ?
	    (tenant ? tenant : OAUTH2_MS_TENANT_DEFAULT) : "");
	if (oauth2_url_check(g->token_url, "--oauth2-token-url", err, sizeof(err)) != 0)
		return cmd_admin_fail(&r->ad, "%s", err), -1;
	if (g->grant == OAUTH2_GRANT_DEVICE_CODE && g->device_url[0] == '\0')
		return cmd_admin_fail(&r->ad, "the device-code grant needs --oauth2-device-url"), -1;
	if (g->device_url[0] &&
	    oauth2_url_check(g->device_url, "--oauth2-device-url", err, sizeof(err)) != 0)
		return cmd_admin_fail(&r->ad, "%s", err), -1;
	if (secret_file != NULL &&
	    read_file(r, secret_file, g->client_secret, "the client secret", true) != 0)
		return -1;
	if (refresh_file != NULL &&
	    read_file(r, refresh_file, g->refresh, "the refresh token", false) != 0)
		return -1;
	return 0;
}

/* r->g sealed into r->row; -1 after printing the problem. */
static int seal(struct o2run *r)
{
	char err[PB_ERR_MAX];
	r->row = malloc(sizeof(*r->row));
	if (r->row == NULL || oauth2_grant_seal(&r->key, r->g, r->row, err, sizeof(err)) != 0)
		return cmd_admin_fail(&r->ad, "%s", r->row ? err : "out of memory"), -1;
	return 0;
}

static void say_key_created(const struct o2run *r)
{
	if (r->key_created)
		printf("created key file %s (mode 0600); keep it with the state file and back "
		    "it up: without it the stored OAuth2 tokens cannot be opened\n",
		    r->ad.o.key_file);
}

static void say_tokens(const struct o2run *r)
{
	char when[32];
	if (r->g->access_expires)
		printf("the access token is valid until %s; popbridge renews it itself\n",
		    cmd_admin_time(r->g->access_expires, "-", when, sizeof(when)));
}

int cmd_account_add_oauth2(struct config_cmdline *c)
{
	struct o2run r;
	int status = PB_EXIT_FAIL;

	if (begin(&r, c) != 0)
		goto out;
	const char *account = r.account;
	const char *user = c->arg[CMD_O_UPSTREAM_USER].text ? c->arg[CMD_O_UPSTREAM_USER].text :
	    account;
	if (!state_account_name_ok(account)) {
		cmd_admin_fail(&r.ad, "%s", STATE_ACCOUNT_RULE);
		goto out;
	}
	if (cmd_admin_new_account_name(&r.ad, account) != 0)
		goto out;
	snprintf(r.g->account, sizeof(r.g->account), "%s", account);
	if (settings(&r, c) != 0)
		goto out;
	/* the key (and the state file, when there is one) before anybody signs in */
	if (cmd_admin_load_key(&r.ad, true, NULL, &r.key, &r.key_created) != 0)
		goto out;
	r.have_key = true;
	struct stat st;
	if (r.ad.db == NULL && stat(r.ad.o.state, &st) == 0 && cmd_admin_open_state(&r.ad) != 0)
		goto out;
	struct state_account a;
	if (r.ad.db != NULL && state_account_get(r.ad.db, account, &a) == STATE_OK) {
		cmd_admin_fail(&r.ad, "account '%s' exists already; 'popbridge account remove %s' "
		    "first, or 'popbridge account oauth2-login %s' to authorise its grant again",
		    a.name, a.name, a.name);
		OPENSSL_cleanse(&a, sizeof(a));
		goto out;
	}
	if (obtain(&r) != 0 || seal(&r) != 0)
		goto out;
	if (r.ad.db == NULL && cmd_admin_open_state(&r.ad) != 0)
		goto out;
	int rc = state_oauth2_account_add(r.ad.db, account, user, r.row, (int64_t)time(NULL),
	    NULL);
	if (rc != STATE_OK) {
		cmd_admin_state_fail(&r.ad, rc, account);
		goto out;
	}
	say_key_created(&r);
	printf("added managed account %s (upstream user %s, OAuth2 %s, grant %s)\n", account,
	    user, config_word_name(&oauth2_providers, (int)r.g->provider),
	    config_word_name(&oauth2_grants, (int)r.g->grant));
	say_tokens(&r);
	printf("now give each device its password with 'popbridge device add %s DEVICE'\n",
	    account);
	if (cmd_admin_stdout_flush(&r.ad, "the result") == 0)
		status = PB_EXIT_OK;
out:
	end(&r);
	return status;
}

static int oauth2_login(struct config_cmdline *c)
{
	struct o2run r;
	struct state_account a;
	char err[PB_ERR_MAX];
	int status = PB_EXIT_FAIL;

	memset(&a, 0, sizeof(a));
	if (begin(&r, c) != 0)
		goto out;
	if (cmd_admin_open_existing_state(&r.ad) != 0 ||
	    cmd_admin_find_account(&r.ad, r.account, &a) != 0 ||
	    cmd_admin_refuse_moved(&r.ad, &a) != 0)
		goto out;
	if (a.auth != STATE_AUTH_MANAGED || a.credential != STATE_CRED_OAUTH2) {
		cmd_admin_fail(&r.ad, "the upstream credential of %s is not an OAuth2 grant (%s)",
		    a.name, a.auth == STATE_AUTH_MANAGED ? "a password: 'popbridge account "
		    "set-password' replaces it" : "a passthrough account");
		goto out;
	}
	if (cmd_admin_load_key(&r.ad, false, NULL, &r.key, NULL) != 0)
		goto out;
	r.have_key = true;
	if (oauth2_grant_open(r.ad.db, &r.key, a.id, a.name, r.g, err, sizeof(err)) != 0) {
		cmd_admin_fail(&r.ad, "%s", err);
		goto out;
	}
	r.account = a.name;
	const char *refresh_file = c->arg[CMD_O_REFRESH_TOKEN_FILE].text;
	const char *secret_file = c->arg[CMD_O_OAUTH2_CLIENT_SECRET_FILE].text;
	if ((refresh_file != NULL) != (r.g->grant == OAUTH2_GRANT_REFRESH_TOKEN)) {
		cmd_admin_fail(&r.ad, "%s", refresh_file ? "--refresh-token-file is for an account "
		    "of the refresh-token grant" : "the account's grant is refresh-token: give the "
		    "new refresh token with --refresh-token-file");
		goto out;
	}
	if (secret_file != NULL &&
	    read_file(&r, secret_file, r.g->client_secret, "the client secret", true) != 0)
		goto out;
	if (refresh_file != NULL &&
	    read_file(&r, refresh_file, r.g->refresh, "the refresh token", false) != 0)
		goto out;
	if (obtain(&r) != 0 || seal(&r) != 0)
		goto out;
	int rc = state_oauth2_replace(r.ad.db, a.id, r.row, (int64_t)time(NULL));
	if (rc != STATE_OK) {
		cmd_admin_state_fail(&r.ad, rc, a.name);
		goto out;
	}
	printf("stored the new OAuth2 tokens of %s (grant %s); its devices log in with "
	    "them from now on\n", a.name, config_word_name(&oauth2_grants, (int)r.g->grant));
	say_tokens(&r);
	if (cmd_admin_stdout_flush(&r.ad, "the result") == 0)
		status = PB_EXIT_OK;
out:
	OPENSSL_cleanse(&a, sizeof(a));
	end(&r);
	return status;
}

static const struct config_cmd_opt opts_login[] = {
	{ CMD_O_REFRESH_TOKEN_FILE, 0, "refresh-token grant: the new refresh token" },
	{ CMD_O_OAUTH2_CLIENT_SECRET_FILE, 0, "a new client secret: FILE's first line" },
	{ PB_K_UPSTREAM_CA, 0, "PEM certificates to trust for the token endpoints" },
	{ PB_K_UPSTREAM_TIMEOUT, 0, "network timeout of each request" },
	{ PB_K_STATE, 0, NULL },
	{ PB_K_KEY_FILE, 0, NULL },
	{ CMD_O_CONFIG, 0, "read --state, --key-file and --upstream-ca from this configuration" },
};

const struct config_command cmd_account_oauth2_login = {
	.name = "account oauth2-login",
	.summary = "authorise an OAuth2 account's grant again",
	.args = "ACCOUNT", .min_args = 1, .max_args = 1,
	.text =
	    "Get new OAuth2 tokens for ACCOUNT with the grant and settings stored at\n"
	    "'account add': device-code runs the device authorization grant again (it\n"
	    "prints a URL and a code; sign in there as the mailbox's user);\n"
	    "refresh-token stores the refresh token of --refresh-token-file;\n"
	    "client-credentials asks for a token with the client secret. Run it when\n"
	    "the log says the grant is revoked or expired (invalid_grant). Devices\n"
	    "keep their passwords.\n",
	.table = cmd_options, .opts = opts_login, .n_opts = CONFIG_N(opts_login),
	.run = oauth2_login,
};
