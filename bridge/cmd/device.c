/* bridge/cmd/device.c — `popbridge device add|list|revoke|reset|set`:
 * managed-mode device passwords and per-device settings (SPEC §2, §3, §8). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "bridge/base/username.h"
#include "bridge/cmd/admin.h"
#include "bridge/maildrop/settings.h"
#include "bridge/managed/login.h"
#include "bridge/managed/password.h"

static const enum cmd_opt DEVICE_OPTS[] = {
	CMD_O_DEV_FOLDER, CMD_O_DEV_OFFER, CMD_O_DEV_WINDOW, CMD_O_DEV_SEEN_ON, CMD_O_DEV_DELE,
	CMD_O_DEV_LOGIN_DELAY,
};
static const unsigned STATE_MASKS[] = {
	STATE_SET_FOLDER, STATE_SET_OFFER, STATE_SET_WINDOW, STATE_SET_SEEN_ON, STATE_SET_DELE,
	STATE_SET_LOGIN_DELAY,
};

/* The settings options (parsed into c->values by the option table) as a
 * state settings record; *mask says which were given. The word `default`
 * (device set) clears the override. -1 on a usage error (printed). */
static int take_settings(const struct config_cmdline *c, struct state_device_settings *s,
    unsigned *mask)
{
	const struct config_device_settings *v = &c->values.dev;

	memset(s, 0, sizeof(*s));
	s->window = -1;
	*mask = 0;
	for (size_t i = 0; i < CONFIG_N(DEVICE_OPTS); i++) {
		const struct config_argval *a = &c->arg[DEVICE_OPTS[i]];
		if (!a->text)
			continue;
		*mask |= STATE_MASKS[i];
		if (a->is_default)
			continue;       /* "" / -1: the override is cleared */
		switch (DEVICE_OPTS[i]) {
		case CMD_O_DEV_FOLDER:
			if (strlen(v->folder) > STATE_FOLDER_MAX) {
				fprintf(stderr, "popbridge %s: --folder: at most %d octets\n",
				    c->cmd->name, STATE_FOLDER_MAX);
				return -1;
			}
			snprintf(s->folder, sizeof(s->folder), "%s", v->folder);
			break;
		case CMD_O_DEV_OFFER:
			snprintf(s->offer, sizeof(s->offer), "%s", config_offer_name(v->offer));
			break;
		case CMD_O_DEV_WINDOW:
			s->window = v->window;
			break;
		case CMD_O_DEV_SEEN_ON:
			snprintf(s->seen_on, sizeof(s->seen_on), "%s", config_seen_on_name(v->seen_on));
			break;
		case CMD_O_DEV_LOGIN_DELAY:
			snprintf(s->login_delay, sizeof(s->login_delay), "%lu",
			    (unsigned long)v->login_delay);
			break;
		default:
			snprintf(s->dele, sizeof(s->dele), "%s", config_dele_name(v->dele));
			break;
		}
	}
	return 0;
}

/* The account (which must exist) and, when device is not NULL, its device. */
static int find(struct cmd_admin *ad, const char *account, const char *device,
    struct state_account *a, struct state_device *d)
{
	if (cmd_admin_find_account(ad, account, a) != 0)
		return -1;
	if (!device)
		return 0;
	int rc = state_device_get(ad->db, a->id, device, d);
	if (rc == STATE_NOTFOUND || rc == STATE_INVALID) {
		cmd_admin_fail(ad, "account '%s' has no device '%s' (see 'popbridge device list "
		    "%s')", account, device, account);
		return -1;
	}
	if (rc != STATE_OK) {
		cmd_admin_state_fail(ad, rc, device);
		return -1;
	}
	return 0;
}

/* "folder=INBOX offer=unseen* window=0 seen-on=retr dele=hide
 * login-delay=0": the effective settings, '*' after those the device
 * overrides. */
static void format_settings(const struct config_options *o, const struct state_device *d,
    char *buf, size_t len)
{
	struct maildrop_settings s;

	maildrop_settings_get(o, d->account, d->name, &d->settings, &s);
	const struct config_device_settings *e = &s.eff;
#define STORED(bit) (s.stored & (bit) ? "*" : "")
	snprintf(buf, len, "folder=%s%s%s%s offer=%s%s window=%lu%s seen-on=%s%s dele=%s%s "
	    "login-delay=%lu%s",
	    strchr(e->folder, ' ') ? "\"" : "", e->folder, strchr(e->folder, ' ') ? "\"" : "",
	    STORED(STATE_SET_FOLDER), config_offer_name(e->offer), STORED(STATE_SET_OFFER),
	    (unsigned long)e->window, STORED(STATE_SET_WINDOW),
	    config_seen_on_name(e->seen_on), STORED(STATE_SET_SEEN_ON),
	    config_dele_name(e->dele), STORED(STATE_SET_DELE),
	    (unsigned long)e->login_delay, STORED(STATE_SET_LOGIN_DELAY));
#undef STORED
}

static int device_add(struct config_cmdline *c)
{
	struct cmd_admin ad;
	struct state_device_settings s;
	struct state_account a;
	struct state_device d;
	unsigned mask = 0;
	char password[PASSGEN_DIGITS + 1] = "";
	char hash[PASSGEN_HASH_STR_MAX] = "";
	size_t n = 0;
	int status = PB_EXIT_FAIL, rc;

	if (take_settings(c, &s, &mask) != 0)
		return PB_EXIT_USAGE;
	if (cmd_admin_begin(&ad, c) != 0)
		goto out;
	const char *account = c->args[0];
	char device[STATE_DEVICE_MAX + 1];
	if (base_device_name_check(c->args[1]) != 0) {
		cmd_admin_fail(&ad, "%s", BASE_DEVICE_RULE);
		goto out;
	}
	/* Device names are case-insensitive; stored in lower case. */
	snprintf(device, sizeof(device), "%s", c->args[1]);
	base_device_name_fold(device);
	if (strchr(device, ad.o.device_separator)) {
		cmd_admin_fail(&ad, "a device name may not contain the device separator '%c'",
		    ad.o.device_separator);
		goto out;
	}
	if (cmd_admin_open_existing_state(&ad) != 0 || find(&ad, account, NULL, &a, NULL) != 0 ||
	    cmd_admin_refuse_moved(&ad, &a) != 0)
		goto out;
	if (a.auth != STATE_AUTH_MANAGED) {
		cmd_admin_fail(&ad, "account '%s' is in passthrough mode (its devices log in with "
		    "the upstream password); 'popbridge account set-password %s' makes it "
		    "a managed account", account, account);
		goto out;
	}
	rc = cmd_admin_count_devices(&ad, a.id, &n);
	if (rc != STATE_OK) {
		cmd_admin_state_fail(&ad, rc, account);
		goto out;
	}
	if (n >= MANAGED_DEVICES_MAX) {
		cmd_admin_fail(&ad, "account '%s' has %zu devices, the most a managed account may "
		    "have (%d); remove or reuse one", account, n, MANAGED_DEVICES_MAX);
		goto out;
	}
	if (managed_password_new(password, sizeof(password)) != 0 ||
	    managed_password_hash(password, hash, sizeof(hash)) != 0) {
		cmd_admin_fail(&ad, "could not generate a password (OpenSSL random or scrypt "
		    "failed)");
		goto out;
	}
	struct maildrop_settings eff;
	maildrop_settings_get(&ad.o, account, device, &s, &eff);
	rc = state_device_add(ad.db, a.id, device, &s, hash, eff.eff.folder, (int64_t)time(NULL),
	    &d);
	if (rc == STATE_EXISTS) {
		cmd_admin_fail(&ad, "account '%s' has a device '%s' already; revoke it and add the "
		    "device under another name to issue a new password", account, device);
		goto out;
	}
	if (rc != STATE_OK) {
		cmd_admin_state_fail(&ad, rc, device);
		goto out;
	}
	char settings[3 * STATE_FOLDER_MAX];
	format_settings(&ad.o, &d, settings, sizeof(settings));
	printf("added device %s to account %s (%s)\n", device, account, settings);
	printf("it logs in over POP3 as user %s with this password (shown only now):\n",
	    account);
	printf("%s\n", password);
	if (cmd_admin_stdout_flush(&ad, "the device password") == 0)
		status = PB_EXIT_OK;
out:
	OPENSSL_cleanse(password, sizeof(password));
	cmd_admin_end(&ad);
	return status;
}

struct list_ctx {
	const struct config_options *o;
	struct cmd_table *t;
};

static int list_row(void *arg, const struct state_device *d)
{
	struct list_ctx *c = arg;
	char created[32], login[32], ret[24], del[24], wait[24], pend[24], stuck[24], sent[48];
	char settings[3 * STATE_FOLDER_MAX];

	format_settings(c->o, d, settings, sizeof(settings));
	/* the counters are as of the last POP3 session: none before the first
	 * (an IMAP front login builds no POP3 view) */
	bool seen = d->pop3_login != 0;
	snprintf(ret, sizeof(ret), seen ? "%lld" : "-", (long long)d->retrieved);
	snprintf(del, sizeof(del), seen ? "%lld" : "-", (long long)d->deleted);
	snprintf(wait, sizeof(wait), seen ? "%lld" : "-", (long long)d->waiting);
	snprintf(pend, sizeof(pend), "%lld", (long long)d->commits_pending);
	snprintf(stuck, sizeof(stuck), "%lld", (long long)d->commits_stuck);
	/* SMTP submission (SPEC §11): sent, and Sent copies still owed */
	if (d->sent_pending > 0)
		snprintf(sent, sizeof(sent), "%lld (%lld to copy)", (long long)d->sent,
		    (long long)d->sent_pending);
	else
		snprintf(sent, sizeof(sent), "%lld", (long long)d->sent);
	const char *cells[] = {
		d->account, d->name, cmd_admin_time(d->created, "-", created, sizeof(created)),
		cmd_admin_time(d->last_login, "never", login, sizeof(login)),
		d->last_address[0] ? d->last_address : "-",
		d->last_login && d->protocol[0] ? d->protocol : "-",
		d->tls[0] ? d->tls : d->last_login ? "none" : "-",
		ret, del, wait, pend, stuck, sent, d->revoked ? "yes" : "no", settings,
	};
	cmd_table_row(c->t, cells);
	return 0;
}

static int device_list(struct config_cmdline *c)
{
	struct cmd_admin ad;
	struct cmd_table t;
	struct state_account a;
	int status = PB_EXIT_FAIL, rc;

	cmd_table_init(&t, 15);
	if (cmd_admin_begin(&ad, c) != 0)
		goto out;
	if (cmd_admin_open_existing_state(&ad) != 0)
		goto out;
	a.id = 0;
	if (c->n_args == 1 && find(&ad, c->args[0], NULL, &a, NULL) != 0)
		goto out;
	static const char *const head[] = {
		"ACCOUNT", "DEVICE", "CREATED", "LAST-LOGIN", "LAST-ADDRESS", "PROTOCOL", "TLS",
		"RETRIEVED", "DELETED", "WAITING", "PENDING", "STUCK", "SENT", "REVOKED", "SETTINGS"
	};
	cmd_table_row(&t, head);
	struct list_ctx lc = { &ad.o, &t };
	rc = state_device_list(ad.db, a.id, list_row, &lc);
	if (rc != STATE_OK) {
		cmd_admin_state_fail(&ad, rc, "listing devices");
		goto out;
	}
	if (cmd_table_print(&t, stdout) != 0) {
		cmd_admin_fail(&ad, "out of memory");
		goto out;
	}
	if (cmd_admin_stdout_flush(&ad, "the device list") != 0)
		goto out;
	status = PB_EXIT_OK;
out:
	cmd_table_free(&t);
	cmd_admin_end(&ad);
	return status;
}

enum device_action { ACT_REVOKE, ACT_RESET, ACT_SET };

/* revoke, reset and set: one device, one change. */
static int device_change(struct config_cmdline *c, enum device_action act)
{
	struct cmd_admin ad;
	struct state_device_settings s;
	struct state_account a;
	struct state_device d;
	unsigned mask = 0;
	int status = PB_EXIT_FAIL, rc;

	if (act == ACT_SET && take_settings(c, &s, &mask) != 0)
		return PB_EXIT_USAGE;
	if (act == ACT_SET && mask == 0) {
		fprintf(stderr, "popbridge %s: give at least one setting to change (see "
		    "'popbridge %s --help')\n", c->cmd->name, c->cmd->name);
		return PB_EXIT_USAGE;
	}
	if (cmd_admin_begin(&ad, c) != 0)
		goto out;
	const char *account = c->args[0], *device = c->args[1];
	if (cmd_admin_open_existing_state(&ad) != 0 || find(&ad, account, device, &a, &d) != 0 ||
	    cmd_admin_refuse_moved(&ad, &a) != 0)
		goto out;
	switch (act) {
	case ACT_REVOKE:
		if (d.revoked) {
			printf("device %s of %s was revoked already\n", device, account);
			break;
		}
		rc = state_device_revoke(ad.db, d.id, true);
		if (rc != STATE_OK) {
			cmd_admin_state_fail(&ad, rc, device);
			goto out;
		}
		printf("revoked device %s of %s: its password no longer logs in\n", device,
		    account);
		break;
	case ACT_RESET:
		rc = state_device_reset(ad.db, d.id);
		if (rc != STATE_OK) {
			cmd_admin_state_fail(&ad, rc, device);
			goto out;
		}
		printf("reset device %s of %s: its next session is offered every message of "
		    "its view again\n", device, account);
		break;
	case ACT_SET: {
		char settings[3 * STATE_FOLDER_MAX];
		rc = state_device_set(ad.db, d.id, &s, mask);
		if (rc == STATE_OK)
			rc = state_device_get_by_id(ad.db, d.id, &d);
		if (rc != STATE_OK) {
			cmd_admin_state_fail(&ad, rc, device);
			goto out;
		}
		format_settings(&ad.o, &d, settings, sizeof(settings));
		printf("device %s of %s: %s\n", device, account, settings);
		break;
	}
	}
	status = PB_EXIT_OK;
out:
	cmd_admin_end(&ad);
	return status;
}

static int device_revoke(struct config_cmdline *c) { return device_change(c, ACT_REVOKE); }
static int device_reset(struct config_cmdline *c) { return device_change(c, ACT_RESET); }
static int device_set(struct config_cmdline *c) { return device_change(c, ACT_SET); }

#define COMMON { PB_K_STATE, 0, NULL }, \
	{ CMD_O_CONFIG, 0, "read --state (and device sections) from this configuration" }
static const struct config_cmd_opt opts_add[] = {
	{ CMD_O_DEV_FOLDER, 0, NULL }, { CMD_O_DEV_OFFER, 0, NULL },
	{ CMD_O_DEV_WINDOW, 0, NULL }, { CMD_O_DEV_SEEN_ON, 0, NULL },
	{ CMD_O_DEV_DELE, 0, NULL }, { CMD_O_DEV_LOGIN_DELAY, 0, NULL }, COMMON,
};
static const struct config_cmd_opt opts_set[] = {
	{ CMD_O_DEV_FOLDER, CONFIG_DEFAULT_WORD, NULL },
	{ CMD_O_DEV_OFFER, CONFIG_DEFAULT_WORD, NULL },
	{ CMD_O_DEV_WINDOW, CONFIG_DEFAULT_WORD, NULL },
	{ CMD_O_DEV_SEEN_ON, CONFIG_DEFAULT_WORD, NULL },
	{ CMD_O_DEV_DELE, CONFIG_DEFAULT_WORD, NULL },
	{ CMD_O_DEV_LOGIN_DELAY, CONFIG_DEFAULT_WORD, NULL }, COMMON,
};
static const struct config_cmd_opt opts_state[] = { COMMON };
#undef COMMON

static const struct config_command device_add_cmd = {
	.name = "device add",
	.summary = "give a device of a managed account its own password",
	.args = "ACCOUNT DEVICE", .min_args = 2, .max_args = 2,
	.text =
	    "Give a device of the managed account ACCOUNT its own password. The device\n"
	    "logs in over POP3 with the user name ACCOUNT and that password; it never\n"
	    "holds the upstream password. The password (20 digits, easy to type on a\n"
	    "keypad) is printed alone on the last line, once: only a salted scrypt hash\n"
	    "is stored. The settings override the global ones for this device only.\n",
	.table = cmd_options, .opts = opts_add, .n_opts = CONFIG_N(opts_add),
	.run = device_add,
};

static const struct config_command device_list_cmd = {
	.name = "device list",
	.summary = "list the devices (of one account)",
	.args = "[ACCOUNT]", .min_args = 0, .max_args = 1,
	.text =
	    "One line per device (of ACCOUNT, or of every account): creation time, last\n"
	    "login (UTC), last remote address, its protocol (pop3, imap, smtp), TLS\n"
	    "version of the last session (none: plaintext), messages retrieved and\n"
	    "deleted and waiting as of its last POP3 session ('-' before its first, even\n"
	    "when its last login was over IMAP or SMTP), its commits not yet applied\n"
	    "upstream (PENDING) and of those the ones that failed 3 times or more (STUCK:\n"
	    "the error log names the step and the server's answer), the messages it has\n"
	    "sent through SMTP submission (SENT; '(N to copy)': Sent copies not yet in\n"
	    "the Sent folder), whether it is revoked, and its effective settings; a '*'\n"
	    "marks a setting made for this device ('device add' or 'device set').\n",
	.table = cmd_options, .opts = opts_state, .n_opts = CONFIG_N(opts_state),
	.run = device_list,
};

static const struct config_command device_revoke_cmd = {
	.name = "device revoke",
	.summary = "the device's password no longer logs in",
	.args = "ACCOUNT DEVICE", .min_args = 2, .max_args = 2,
	.text =
	    "The device's password no longer logs in (POP3 answers -ERR [AUTH]), and the\n"
	    "device no longer counts for 'dele last-device'. Its state is kept.\n",
	.table = cmd_options, .opts = opts_state, .n_opts = CONFIG_N(opts_state),
	.run = device_revoke,
};

static const struct config_command device_reset_cmd = {
	.name = "device reset",
	.summary = "forget what the device downloaded and deleted",
	.args = "ACCOUNT DEVICE", .min_args = 2, .max_args = 2,
	.text =
	    "Forget what the device has downloaded and deleted: at its next session it\n"
	    "is offered every message of its view again. Settings and password stay.\n",
	.table = cmd_options, .opts = opts_state, .n_opts = CONFIG_N(opts_state),
	.run = device_reset,
};

static const struct config_command device_set_cmd = {
	.name = "device set",
	.summary = "change the device's own settings",
	.args = "ACCOUNT DEVICE", .min_args = 2, .max_args = 2,
	.text =
	    "Change the device's own settings; the value 'default' removes an override\n"
	    "(e.g. --offer default). At least one setting is needed. The change applies\n"
	    "from the device's next session.\n",
	.table = cmd_options, .opts = opts_set, .n_opts = CONFIG_N(opts_set),
	.run = device_set,
};

static const struct config_command *const subs[] = {
	&device_add_cmd, &device_list_cmd, &device_revoke_cmd, &device_reset_cmd,
	&device_set_cmd,
};

const struct config_command cmd_device = {
	.name = "device",
	.summary = "devices: add, list, revoke, reset, set",
	.subs = subs, .n_subs = CONFIG_N(subs),
};
