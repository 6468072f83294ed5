/* bridge/cmd/move.c — `popbridge account export` and `popbridge account
 * import` (SPEC §14): one account's complete state moved to another node of
 * a fleet, in the account file of bridge/migrate/move.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "bridge/base/fsync.h"
#include "bridge/base/text.h"
#include "bridge/cmd/admin.h"
#include "bridge/migrate/move.h"

/* The passphrase: --passphrase-file's first line, or none (*use false). */
static int read_passphrase(const struct cmd_admin *ad, char *buf, size_t size, bool *use)
{
	const char *path = ad->c->arg[CMD_O_PASSPHRASE_FILE].text;

	*use = false;
	buf[0] = '\0';
	if (path == NULL)
		return 0;
	if (cmd_admin_read_secret_file(ad, path, buf, size, MIGRATE_MOVE_PASSPHRASE_MAX,
	    "the passphrase") != 0)
		return -1;
	if (strlen(buf) < MIGRATE_MOVE_PASSPHRASE_MIN) {
		OPENSSL_cleanse(buf, size);
		cmd_admin_fail(ad, "%s: a passphrase has at least %d octets", path,
		    MIGRATE_MOVE_PASSPHRASE_MIN);
		return -1;
	}
	*use = true;
	return 0;
}

/* What the secrets of the account are, for the messages. */
static const char *secret_words(const struct state_account *a)
{
	if (a->auth != STATE_AUTH_MANAGED)
		return "no stored secret (passthrough)";
	return a->credential == STATE_CRED_OAUTH2 ? "its OAuth2 grant (tokens, client secret)"
	                                          : "its upstream password";
}

static void say_counts(const struct migrate_move_stats *st)
{
	printf("%zu device%s, %zu message%s, %zu pending commit%s", st->devices,
	    st->devices == 1 ? "" : "s", st->messages, st->messages == 1 ? "" : "s",
	    st->pending, st->pending == 1 ? "" : "s");
}

static int account_export(struct config_cmdline *c)
{
	struct cmd_admin ad;
	struct state_account a;
	struct managed_key key;
	struct migrate_move_stats st;
	char pass[MIGRATE_MOVE_PASSPHRASE_MAX + 2], tmp[PB_PATH_MAX + 16], err[PB_ERR_MAX];
	char when[32];
	bool use_pass = false, have_key = false, tmp_made = false, we_marked = false;
	int64_t mark = 0;
	FILE *f = NULL;
	int status = PB_EXIT_FAIL;
	struct stat sb;

	memset(&a, 0, sizeof(a));
	pass[0] = '\0';
	if (cmd_admin_begin(&ad, c) != 0)
		goto out;
	const char *account = c->args[0], *out = c->arg[CMD_O_OUT].text;
	if (read_passphrase(&ad, pass, sizeof(pass), &use_pass) != 0)
		goto out;
	if (lstat(out, &sb) == 0 || errno != ENOENT) {
		cmd_admin_fail(&ad, "%s: %s (an account file is never overwritten)", out,
		    errno == ENOENT ? "exists" : strerror(errno));
		goto out;
	}
	if (stat(ad.o.state, &sb) != 0) {
		cmd_admin_fail(&ad, "%s: %s (no state file to export from)", ad.o.state,
		    strerror(errno));
		goto out;
	}
	if (cmd_admin_open_state(&ad) != 0 || cmd_admin_find_account(&ad, account, &a) != 0)
		goto out;
	if (a.auth == STATE_AUTH_MANAGED) {
		if (cmd_admin_load_key(&ad, false, NULL, &key, NULL) != 0)
			goto out;
		have_key = true;
	}
	if (snprintf(tmp, sizeof(tmp), "%s.tmpXXXXXX", out) >= (int)sizeof(tmp)) {
		cmd_admin_fail(&ad, "%s: the name is too long", out);
		goto out;
	}
	/* mkostemp: O_EXCL, mode 0600 before the umask; fchmod makes it 0600 */
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		cmd_admin_fail(&ad, "%s: cannot create it: %s", out, strerror(errno));
		goto out;
	}
	tmp_made = true;
	if (fchmod(fd, 0600) != 0 || (f = fdopen(fd, "w")) == NULL) {
		cmd_admin_fail(&ad, "%s: %s", out, strerror(errno));
		close(fd);
		goto out;
	}

	/* The account is refused here from this commit on (logins, and the
	 * commits of sessions still running); what is read after it is all
	 * there is. */
	int64_t now = (int64_t)time(NULL);
	int rc = state_account_set_moved(ad.db, a.id, now, &mark);
	if (rc != STATE_OK) {
		cmd_admin_state_fail(&ad, rc, account);
		goto out;
	}
	we_marked = a.moved == 0;
	if (!we_marked)
		fprintf(stderr, "popbridge %s: account %s was exported already (%s): writing its "
		    "frozen state again\n", ad.name, a.name,
		    cmd_admin_time(a.moved, "?", when, sizeof(when)));
	if (migrate_move_export(ad.db, &a, have_key ? &key : NULL, use_pass ? pass : NULL, f,
	    &st, err, sizeof(err)) != 0) {
		cmd_admin_fail(&ad, "%s: %s", out, err);
		goto out;
	}
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		cmd_admin_fail(&ad, "%s: writing failed: %s", out, strerror(errno));
		goto out;
	}
	int e = fclose(f);
	f = NULL;
	if (e != 0) {
		cmd_admin_fail(&ad, "%s: writing failed: %s", out, strerror(errno));
		goto out;
	}
	/* link() never replaces a file that appeared meanwhile */
	if (link(tmp, out) != 0) {
		cmd_admin_fail(&ad, "%s: %s", out, errno == EEXIST ?
		    "exists (an account file is never overwritten)" : strerror(errno));
		goto out;
	}
	unlink(tmp);
	tmp_made = false;
	if (base_fsync_parent(out) != 0) {
		cmd_admin_fail(&ad, "%s: cannot make it durable (fsync of its folder): %s", out,
		    strerror(errno));
		goto out;
	}
	char shown[STATE_ACCOUNT_MAX + 1];
	base_text_printable_str(shown, sizeof(shown), a.name);
	printf("exported account %s to %s: ", shown, out);
	say_counts(&st);
	printf(", %s%s\n", secret_words(&a), use_pass ? " sealed with the passphrase" : "");
	printf("%s is refused on this node from now on (-ERR [SYS/TEMP] account moved); its rows "
	    "stay here, frozen, until 'popbridge account remove %s'\n", shown, shown);
	printf("next: 'popbridge account import %s' on the node that takes it, then route with "
	    "the new node list (docs/FLEET.md)\n", out);
	if (!use_pass)
		fprintf(stderr, "popbridge %s: %s is not sealed with a passphrase: it holds %s in "
		    "the clear%s, with the devices' password hashes and the mail's metadata; it is "
		    "mode 0600: move it over a safe channel and delete it after the import (or "
		    "export with --passphrase-file)\n", ad.name, out, secret_words(&a),
		    a.auth == STATE_AUTH_MANAGED ? "" : " (none)");
	if (cmd_admin_stdout_flush(&ad, "the summary") != 0)
		goto out;
	status = PB_EXIT_OK;
out:
	if (f != NULL)
		fclose(f);
	if (tmp_made)
		unlink(tmp);
	/* a failed export leaves the account served here, as it was */
	if (status != PB_EXIT_OK && we_marked && ad.db != NULL &&
	    state_account_clear_moved(ad.db, a.id, mark) != STATE_OK)
		cmd_admin_fail(&ad, "%s stays marked moved (%s): run the export again",
		    BASE_SHOWN(a.name), state_errmsg(ad.db));
	else if (status != PB_EXIT_OK && we_marked)
		fprintf(stderr, "popbridge %s: nothing was exported; the account is served here as "
		    "before\n", ad.name);
	OPENSSL_cleanse(pass, sizeof(pass));
	OPENSSL_cleanse(&a, sizeof(a));
	if (have_key)
		managed_key_clear(&key);
	cmd_admin_end(&ad);
	return status;
}

static int account_import(struct config_cmdline *c)
{
	struct cmd_admin ad;
	struct managed_key key;
	struct migrate_move_header h;
	struct migrate_move_stats st;
	char pass[MIGRATE_MOVE_PASSPHRASE_MAX + 2], err[PB_ERR_MAX];
	bool use_pass = false, have_key = false, created = false;
	int64_t replaced = 0;
	FILE *f = NULL;
	int status = PB_EXIT_FAIL;

	pass[0] = '\0';
	if (cmd_admin_begin(&ad, c) != 0)
		goto out;
	const char *file = c->args[0];
	if (read_passphrase(&ad, pass, sizeof(pass), &use_pass) != 0)
		goto out;
	int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb) != 0) {
		cmd_admin_fail(&ad, "%s: %s", file, strerror(errno));
		if (fd >= 0)
			close(fd);
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		cmd_admin_fail(&ad, "%s: not a regular file", file);
		close(fd);
		goto out;
	}
	f = fdopen(fd, "r");
	if (f == NULL) {
		cmd_admin_fail(&ad, "%s: %s", file, strerror(errno));
		close(fd);
		goto out;
	}
	/* First the whole file, checked, before the state file is touched. */
	if (migrate_move_read(f, use_pass ? pass : NULL, NULL, &h, &st, err, sizeof(err)) != 0) {
		cmd_admin_fail(&ad, "%s: %s; nothing was imported", file, err);
		goto out;
	}
	if (cmd_admin_open_state(&ad) != 0)
		goto out;
	if (h.managed) {
		if (cmd_admin_load_key(&ad, true, NULL, &key, &created) != 0)
			goto out;
		have_key = true;
	}
	rewind(f);
	if (migrate_move_import(ad.db, f, use_pass ? pass : NULL, have_key ? &key : NULL, &st,
	    &replaced, err, sizeof(err)) != 0) {
		cmd_admin_fail(&ad, "%s: %s; nothing was imported", file, err);
		goto out;
	}
	char when[32], shown[STATE_ACCOUNT_MAX + 1];
	base_text_printable_str(shown, sizeof(shown), h.account);
	if (created)
		printf("created key file %s (mode 0600); keep it with the state file and back it "
		    "up: without it the stored upstream credentials cannot be opened\n",
		    ad.o.key_file);
	printf("imported account %s from %s (exported %s on %s): ", shown, file,
	    cmd_admin_time(h.exported, "?", when, sizeof(when)), h.host[0] ? h.host : "?");
	say_counts(&st);
	if (st.secrets > 0)
		printf(", %zu secret%s sealed with key file %s", st.secrets,
		    st.secrets == 1 ? "" : "s", ad.o.key_file);
	printf("\n");
	if (replaced != 0)
		printf("%s came back: the rows it left here when it was exported (%s) were "
		    "replaced\n", shown, cmd_admin_time(replaced, "?", when, sizeof(when)));
	printf("this node serves %s now: route sends its devices here once its node list "
	    "names this node for it (docs/FLEET.md)\n", shown);
	if (cmd_admin_stdout_flush(&ad, "the summary") != 0)
		goto out;
	status = PB_EXIT_OK;
out:
	if (f != NULL)
		fclose(f);
	OPENSSL_cleanse(pass, sizeof(pass));
	if (have_key)
		managed_key_clear(&key);
	cmd_admin_end(&ad);
	return status;
}

static const struct config_cmd_opt opts_export[] = {
	{ CMD_O_OUT, CONFIG_REQUIRED, NULL },
	{ CMD_O_PASSPHRASE_FILE, 0, NULL },
	{ PB_K_STATE, 0, NULL },
	{ PB_K_KEY_FILE, 0, "key file that opens the account's stored secrets" },
	{ CMD_O_CONFIG, 0, "read --state and --key-file from this configuration" },
};
static const struct config_cmd_opt opts_import[] = {
	{ CMD_O_PASSPHRASE_FILE, 0, "the export's passphrase: FILE's first line" },
	{ PB_K_STATE, 0, NULL },
	{ PB_K_KEY_FILE, 0, "key file; created (mode 0600) while no managed account exists" },
	{ CMD_O_CONFIG, 0, "read --state and --key-file from this configuration" },
};

const struct config_command cmd_account_export = {
	.name = "account export",
	.summary = "write an account's complete state to a file, to move it to another node",
	.args = "ACCOUNT", .min_args = 1, .max_args = 1,
	.text =
	    "Write everything this node holds for ACCOUNT to FILE: the account and its\n"
	    "upstream credential, its devices (passwords, settings, login records), the\n"
	    "UIDLs and sizes of its messages, what each device has retrieved and\n"
	    "deleted, and the commits not yet applied upstream. From then on this node\n"
	    "refuses the account (-ERR [SYS/TEMP] account moved) and keeps its rows\n"
	    "unchanged until 'popbridge account remove', or until an import brings it\n"
	    "back. 'popbridge account import FILE' on the new node takes it over.\n"
	    "The stored secrets are opened with the key file; in FILE they are sealed\n"
	    "with the passphrase (scrypt, AES-256-GCM), or in the clear without one.\n"
	    "FILE is created mode 0600 and never overwritten.\n",
	.table = cmd_options, .opts = opts_export, .n_opts = CONFIG_N(opts_export),
	.run = account_export,
};

const struct config_command cmd_account_import = {
	.name = "account import",
	.summary = "take over an account from the file of 'account export'",
	.args = "FILE", .min_args = 1, .max_args = 1,
	.text =
	    "Read FILE, written by 'popbridge account export' on another node, check all\n"
	    "of it (format, every row, the secrets, its checksum, or its HMAC with a\n"
	    "passphrase), then store the account in the state file in one transaction:\n"
	    "all of it or nothing. The secrets are sealed with this node's key file. An\n"
	    "account of that name that exists here is refused, unless this node\n"
	    "exported it before (it comes back: its old rows are replaced).\n",
	.table = cmd_options, .opts = opts_import, .n_opts = CONFIG_N(opts_import),
	.run = account_import,
};
