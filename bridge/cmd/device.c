/* bridge/cmd/device.c — `popbridge device add|list|revoke|reset|set`:
 * managed-mode device passwords and per-device settings (SPEC §2, §3, §8). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "bridge/cmd/admin.h"
#include "bridge/managed/login.h"
#include "bridge/managed/password.h"
#include "bridge/base/username.h"

#define STATE_KEYS (PB_KEY_BIT(PB_K_STATE))

static const char USAGE[] =
	"usage: popbridge device add ACCOUNT DEVICE [settings]\n"
	"       popbridge device list [ACCOUNT]\n"
	"       popbridge device revoke ACCOUNT DEVICE\n"
	"       popbridge device reset ACCOUNT DEVICE\n"
	"       popbridge device set ACCOUNT DEVICE settings\n"
	"settings: --folder F --offer all|since-enrolment|unseen --window N\n"
	"          --seen-on retr|quit|never\n"
	"          --dele hide|trash|archive|flag|expunge|last-device\n"
	"common options: --state FILE  --config FILE  --help\n";

static const char USAGE_ADD[] =
	"usage: popbridge device add ACCOUNT DEVICE [--folder F] [--offer O] [--window N]\n"
	"                            [--seen-on S] [--dele D] [--state FILE] [--config FILE]\n"
	"\n"
	"Give a device of the managed account ACCOUNT its own password. The device\n"
	"logs in over POP3 with the user name ACCOUNT and that password; it never\n"
	"holds the upstream password. The password (20 digits, easy to type on a\n"
	"keypad) is printed alone on the last line, once: only a salted scrypt hash\n"
	"is stored. The settings override the global ones for this device only.\n";

static const char USAGE_LIST[] =
	"usage: popbridge device list [ACCOUNT] [--state FILE] [--config FILE]\n"
	"\n"
	"One line per device (of ACCOUNT, or of every account): creation time, last\n"
	"login (UTC), last remote address, TLS version of the last session (none:\n"
	"plaintext), messages retrieved and deleted and waiting as of its last\n"
	"session ('-' before its first login), whether it is revoked, and its\n"
	"effective settings; a '*' marks a setting made for this device ('device\n"
	"add' or 'device set').\n";

static const char USAGE_REVOKE[] =
	"usage: popbridge device revoke ACCOUNT DEVICE [--state FILE] [--config FILE]\n"
	"\n"
	"The device's password no longer logs in (POP3 answers -ERR [AUTH]), and the\n"
	"device no longer counts for 'dele last-device'. Its state is kept.\n";

static const char USAGE_RESET[] =
	"usage: popbridge device reset ACCOUNT DEVICE [--state FILE] [--config FILE]\n"
	"\n"
	"Forget what the device has downloaded and deleted: at its next session it\n"
	"is offered every message of its view again. Settings and password stay.\n";

static const char USAGE_SET[] =
	"usage: popbridge device set ACCOUNT DEVICE [--folder F] [--offer O] [--window N]\n"
	"                            [--seen-on S] [--dele D] [--state FILE] [--config FILE]\n"
	"\n"
	"Change the device's own settings; the value 'default' removes an override\n"
	"(e.g. --offer default). At least one setting is needed. The change applies\n"
	"from the device's next session.\n";

static const enum config_key DEVICE_KEYS[] = {
	PB_K_FOLDER, PB_K_OFFER, PB_K_WINDOW, PB_K_SEEN_ON, PB_K_DELE
};
static const unsigned STATE_MASKS[] = {
	STATE_SET_FOLDER, STATE_SET_OFFER, STATE_SET_WINDOW, STATE_SET_SEEN_ON, STATE_SET_DELE
};
#define N_DEVICE_KEYS (sizeof(DEVICE_KEYS) / sizeof(DEVICE_KEYS[0]))

/* Take the settings options out of argv, parsed by options.h into a state
 * settings record; *mask says which were given. With allow_default, the
 * value "default" clears the override. -1 on a usage error (printed). */
static int take_settings(const char *name, int *argc, char **argv, bool allow_default,
    struct state_device_settings *s, unsigned *mask)
{
	struct config_options layer;
	char err[PB_ERR_MAX], verr[PB_ERR_MAX];
	int rc = 0;

	memset(s, 0, sizeof(*s));
	s->window = -1;
	*mask = 0;
	config_options_init(&layer);
	for (size_t i = 0; i < N_DEVICE_KEYS && rc == 0; i++) {
		enum config_key k = DEVICE_KEYS[i];
		const char *value = NULL;
		int found = cmd_admin_take_option(argc, argv, config_key_name(k), &value, err,
		    sizeof(err));
		if (found < 0) {
			fprintf(stderr, "popbridge %s: %s\n", name, err);
			rc = -1;
			break;
		}
		if (found == 0)
			continue;
		*mask |= STATE_MASKS[i];
		if (allow_default && strcmp(value, "default") == 0)
			continue;       /* "" / -1: the override is cleared */
		if (config_options_set(&layer, k, value, verr, sizeof(verr)) != 0) {
			fprintf(stderr, "popbridge %s: --%s: %s\n", name, config_key_name(k), verr);
			rc = -1;
			break;
		}
		switch (k) {
		case PB_K_FOLDER:
			if (strlen(layer.dev.folder) > STATE_FOLDER_MAX) {
				fprintf(stderr, "popbridge %s: --folder: at most %d octets\n", name,
				    STATE_FOLDER_MAX);
				rc = -1;
			}
			snprintf(s->folder, sizeof(s->folder), "%s", layer.dev.folder);
			break;
		case PB_K_OFFER:
			snprintf(s->offer, sizeof(s->offer), "%s", config_offer_name(layer.dev.offer));
			break;
		case PB_K_WINDOW:
			s->window = layer.dev.window;
			break;
		case PB_K_SEEN_ON:
			snprintf(s->seen_on, sizeof(s->seen_on), "%s",
			    config_seen_on_name(layer.dev.seen_on));
			break;
		default:
			snprintf(s->dele, sizeof(s->dele), "%s", config_dele_name(layer.dev.dele));
			break;
		}
	}
	config_options_free(&layer);
	return rc;
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

/* "folder=INBOX offer=unseen* window=0 seen-on=retr dele=hide": the
 * effective settings, '*' after those the device overrides. */
static void format_settings(const struct config_options *o, const struct state_device *d,
    char *buf, size_t len)
{
	struct config_device_settings e;
	const struct state_device_settings *s = &d->settings;
	char win[24];

	config_options_device(o, d->account, d->name, &e);
	if (s->window >= 0)
		snprintf(win, sizeof(win), "%lld", (long long)s->window);
	else
		snprintf(win, sizeof(win), "%lu", (unsigned long)e.window);
	const char *folder = s->folder[0] ? s->folder : e.folder;
	snprintf(buf, len, "folder=%s%s%s%s offer=%s%s window=%s%s seen-on=%s%s dele=%s%s",
	    strchr(folder, ' ') ? "\"" : "", folder, strchr(folder, ' ') ? "\"" : "",
	    s->folder[0] ? "*" : "",
	    s->offer[0] ? s->offer : config_offer_name(e.offer), s->offer[0] ? "*" : "",
	    win, s->window >= 0 ? "*" : "",
	    s->seen_on[0] ? s->seen_on : config_seen_on_name(e.seen_on), s->seen_on[0] ? "*" : "",
	    s->dele[0] ? s->dele : config_dele_name(e.dele), s->dele[0] ? "*" : "");
}

static int device_add(int argc, char **argv)
{
	struct cmd_admin ad;
	struct state_device_settings s;
	struct state_account a;
	struct state_device d;
	unsigned mask = 0;
	char password[PASSGEN_DIGITS + 1] = "";
	char hash[PASSGEN_HASH_STR_MAX] = "";
	size_t n = 0;
	int status = PB_EXIT_USAGE, rc;

	memset(&ad, 0, sizeof(ad));
	if (take_settings("device add", &argc, argv, false, &s, &mask) != 0)
		return PB_EXIT_USAGE;
	if (cmd_admin_begin(&ad, "device add", argc, argv, STATE_KEYS, 2, 2, USAGE_ADD,
	    &status) != 0)
		goto out;
	status = PB_EXIT_FAIL;
	const char *account = ad.c.args[0];
	char device[STATE_DEVICE_MAX + 1];
	if (!*ad.c.args[1] || strlen(ad.c.args[1]) > STATE_DEVICE_MAX) {
		cmd_admin_fail(&ad, "a device name is 1 to %d octets", STATE_DEVICE_MAX);
		goto out;
	}
	/* Device names are case-insensitive; stored in lower case. */
	snprintf(device, sizeof(device), "%s", ad.c.args[1]);
	base_device_name_fold(device);
	if (strchr(device, ad.o.device_separator)) {
		cmd_admin_fail(&ad, "a device name may not contain the device separator '%c'",
		    ad.o.device_separator);
		goto out;
	}
	if (cmd_admin_open_state(&ad) != 0 || find(&ad, account, NULL, &a, NULL) != 0)
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
	struct config_device_settings eff;
	config_options_device(&ad.o, account, device, &eff);
	rc = state_device_add(ad.db, a.id, device, &s, hash,
	    s.folder[0] ? s.folder : eff.folder, (int64_t)time(NULL), &d);
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
	char created[32], login[32], ret[24], del[24], wait[24];
	char settings[3 * STATE_FOLDER_MAX];

	format_settings(c->o, d, settings, sizeof(settings));
	/* the counters are as of the last session: none before the first login */
	bool seen = d->last_login != 0;
	snprintf(ret, sizeof(ret), seen ? "%lld" : "-", (long long)d->retrieved);
	snprintf(del, sizeof(del), seen ? "%lld" : "-", (long long)d->deleted);
	snprintf(wait, sizeof(wait), seen ? "%lld" : "-", (long long)d->waiting);
	const char *cells[] = {
		d->account, d->name, cmd_admin_time(d->created, "-", created, sizeof(created)),
		cmd_admin_time(d->last_login, "never", login, sizeof(login)),
		d->last_address[0] ? d->last_address : "-",
		d->tls[0] ? d->tls : d->last_login ? "none" : "-",
		ret, del, wait, d->revoked ? "yes" : "no", settings,
	};
	cmd_table_row(c->t, cells);
	return 0;
}

static int device_list(int argc, char **argv)
{
	struct cmd_admin ad;
	struct cmd_table t;
	struct state_account a;
	int status, rc;

	cmd_table_init(&t, 11);
	if (cmd_admin_begin(&ad, "device list", argc, argv, STATE_KEYS, 0, 1, USAGE_LIST,
	    &status) != 0)
		goto out;
	status = PB_EXIT_FAIL;
	if (cmd_admin_open_state(&ad) != 0)
		goto out;
	a.id = 0;
	if (ad.c.n_args == 1 && find(&ad, ad.c.args[0], NULL, &a, NULL) != 0)
		goto out;
	static const char *const head[] = {
		"ACCOUNT", "DEVICE", "CREATED", "LAST-LOGIN", "LAST-ADDRESS", "TLS",
		"RETRIEVED", "DELETED", "WAITING", "REVOKED", "SETTINGS"
	};
	cmd_table_row(&t, head);
	struct list_ctx c = { &ad.o, &t };
	rc = state_device_list(ad.db, a.id, list_row, &c);
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
static int device_change(int argc, char **argv, enum device_action act)
{
	static const char *const names[] = { "device revoke", "device reset", "device set" };
	static const char *const usages[] = { USAGE_REVOKE, USAGE_RESET, USAGE_SET };
	const char *name = names[act];
	struct cmd_admin ad;
	struct state_device_settings s;
	struct state_account a;
	struct state_device d;
	unsigned mask = 0;
	int status, rc;

	memset(&ad, 0, sizeof(ad));
	if (act == ACT_SET && take_settings(name, &argc, argv, true, &s, &mask) != 0)
		return PB_EXIT_USAGE;
	if (cmd_admin_begin(&ad, name, argc, argv, STATE_KEYS, 2, 2, usages[act], &status) != 0)
		goto out;
	if (act == ACT_SET && mask == 0) {
		fprintf(stderr, "popbridge %s: give at least one setting to change\n%s", name,
		    USAGE_SET);
		status = PB_EXIT_USAGE;
		goto out;
	}
	status = PB_EXIT_FAIL;
	const char *account = ad.c.args[0], *device = ad.c.args[1];
	if (cmd_admin_open_state(&ad) != 0 || find(&ad, account, device, &a, &d) != 0)
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

int cmd_device(int argc, char **argv)
{
	if (argc < 1) {
		fputs(USAGE, stderr);
		return PB_EXIT_USAGE;
	}
	const char *sub = argv[0];
	if (strcmp(sub, "add") == 0)
		return device_add(argc - 1, argv + 1);
	if (strcmp(sub, "list") == 0)
		return device_list(argc - 1, argv + 1);
	if (strcmp(sub, "revoke") == 0)
		return device_change(argc - 1, argv + 1, ACT_REVOKE);
	if (strcmp(sub, "reset") == 0)
		return device_change(argc - 1, argv + 1, ACT_RESET);
	if (strcmp(sub, "set") == 0)
		return device_change(argc - 1, argv + 1, ACT_SET);
	if (strcmp(sub, "--help") == 0 || strcmp(sub, "help") == 0) {
		fputs(USAGE, stdout);
		return PB_EXIT_OK;
	}
	fprintf(stderr, "popbridge device: unknown subcommand '%s'\n%s", sub, USAGE);
	return PB_EXIT_USAGE;
}
