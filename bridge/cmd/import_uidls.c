/* bridge/cmd/import_uidls.c — `popbridge import-uidls` (SPEC §7, §8): read the old
 * POP3 server's UIDLs and headers, sync the upstream folder into state as a
 * session would, match, and store the old UIDLs (bridge/migrate/import_match.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "bridge/base/text.h"
#include "bridge/cmd/admin.h"
#include "bridge/maildrop/backend.h"
#include "bridge/maildrop/credential.h"
#include "bridge/maildrop/sync.h"
#include "bridge/maildrop/upstream.h"
#include "bridge/managed/login.h"
#include "bridge/migrate/import_match.h"
#include "bridge/migrate/pop3client.h"

#define NAME "import-uidls"
#define LIST_MSGID_MAX 200   /* Message-ID shown in the list of the rest */

enum { O_ACCOUNT, O_FROM, O_FROM_USER, O_FROM_PW, O_FROM_CA, O_UP_PW, O_N };
/* Where each is in the option table. */
static const enum cmd_opt OPT_IDS[O_N] = {
	CMD_O_ACCOUNT, CMD_O_FROM, CMD_O_FROM_USER, CMD_O_FROM_PASSWORD_FILE, CMD_O_FROM_CA,
	CMD_O_UPSTREAM_PASSWORD_FILE,
};

struct run {
	struct cmd_admin ad;
	const char *opt[O_N];
	bool dry_run;
	struct migrate_pop3c_url url;
	char old_pw[POP3C_PASS_MAX + 1];
	char up_user[STATE_USER_MAX + 1];
	char up_pw[SECRET_PLAINTEXT_MAX + 1];
	/* an account whose credential is an OAuth2 grant (SPEC §10) */
	bool oauth2;
	int64_t oauth2_id;
	char oauth2_name[STATE_ACCOUNT_MAX + 1];
	struct managed_key key;
	struct migrate_import_old *old;
	size_t n_old;
	const char *old_tls;
	struct state_db *work;     /* the database matched in (a temporary one
	                              for --dry-run) */
	char tmpdir[512];          /* --dry-run: its directory, "" = none */
	int64_t account_id;
	struct state_mailbox mb;
	struct migrate_import_counts counts;
};

static int get_password(struct run *r, const char *file, const char *prompt, char *buf,
    size_t size)
{
	if (file != NULL)
		return cmd_admin_read_secret_file(&r->ad, file, buf, size, SECRET_PLAINTEXT_MAX,
		    "the password");
	return cmd_admin_read_secret(&r->ad, prompt, buf, size, size - 1);
}

/* Upstream credentials: passthrough = ACCOUNT + a password; managed = the
 * account's stored ones (the key file opens them). */
static int upstream_credentials(struct run *r)
{
	const char *account = r->opt[O_ACCOUNT];
	struct state_account *a = calloc(1, sizeof(*a));
	struct stat st;
	int rc = -1;

	if (a == NULL)
		return cmd_admin_fail(&r->ad, "out of memory"), -1;
	bool managed = r->ad.o.auth == PB_AUTH_MANAGED, exists = false;
	if (!managed && (r->ad.db != NULL || (!r->dry_run && stat(r->ad.o.state, &st) == 0))) {
		if (r->ad.db == NULL && cmd_admin_open_state(&r->ad) != 0)
			goto out;
		int s = state_account_get(r->ad.db, account, a);
		if (s != STATE_OK && s != STATE_NOTFOUND) {
			cmd_admin_state_fail(&r->ad, s, "reading the account");
			goto out;
		}
		if (s == STATE_OK && cmd_admin_refuse_moved(&r->ad, a) != 0)
			goto out;
		managed = s == STATE_OK && a->auth == STATE_AUTH_MANAGED;
		exists = s == STATE_OK;
	}
	/* a passthrough account created here must be one a device can log in to */
	if (!managed && !exists && cmd_admin_new_account_name(&r->ad, account) != 0)
		goto out;
	if (!managed) {
		snprintf(r->up_user, sizeof(r->up_user), "%s", account);
		rc = get_password(r, r->opt[O_UP_PW], "upstream password: ", r->up_pw,
		    sizeof(r->up_pw));
		goto out;
	}
	/* (a dry run has its copy open when there is a state file) */
	if (r->ad.db == NULL && (r->dry_run || stat(r->ad.o.state, &st) != 0)) {
		cmd_admin_fail(&r->ad, "%s: %s (managed mode needs the state file holding the "
		    "account)", r->ad.o.state, strerror(r->dry_run ? ENOENT : errno));
		goto out;
	}
	struct managed_key key;
	if (cmd_admin_load_key(&r->ad, false, NULL, &key, NULL) != 0)
		goto out;
	if (r->ad.db == NULL && cmd_admin_open_state(&r->ad) != 0) {
		managed_key_clear(&key);
		goto out;
	}
	int s = state_account_get(r->ad.db, account, a);
	if (s != STATE_OK || a->auth != STATE_AUTH_MANAGED) {
		managed_key_clear(&key);
		cmd_admin_fail(&r->ad, "%s is not a managed account in %s (popbridge account add)",
		    account, r->ad.o.state);
		goto out;
	}
	if (cmd_admin_refuse_moved(&r->ad, a) != 0) {
		managed_key_clear(&key);
		goto out;
	}
	char err[PB_ERR_MAX];
	if (a->credential == STATE_CRED_OAUTH2) {
		/* the token comes at the login (read_upstream) */
		r->oauth2 = true;
		r->oauth2_id = a->id;
		snprintf(r->oauth2_name, sizeof(r->oauth2_name), "%s", a->name);
		snprintf(r->up_user, sizeof(r->up_user), "%s", a->upstream_user);
		r->key = key;
		managed_key_clear(&key);
		rc = 0;
		goto out;
	}
	s = managed_upstream_unseal(&key, a, r->up_user, r->up_pw, err, sizeof(err));
	managed_key_clear(&key);
	if (s != 0) {
		cmd_admin_fail(&r->ad, "the stored upstream password of %s: %s", account, err);
		goto out;
	}
	rc = 0;
out:
	OPENSSL_cleanse(a, sizeof(*a));
	free(a);
	return rc;
}

/* ---- the old server ----------------------------------------------------------- */

struct hdr_ctx {
	struct migrate_import_old *old;
	bool nomem;
};

static int on_header(void *arg, size_t idx, const struct migrate_pop3c_hdr *h, unsigned dropped,
    const char *why)
{
	struct hdr_ctx *x = arg;
	struct migrate_import_old *o = &x->old[idx];

	if (h == NULL) {
		o->has_keys = false;
		o->why = "the old server refused TOP for it";
		(void)why;
		return 0;
	}
	if (migrate_import_old_set_header(o, h, dropped) != 0) {
		x->nomem = true;
		return 1;
	}
	return 0;
}

static int read_old_server(struct run *r)
{
	struct migrate_pop3c *c = migrate_pop3c_new();
	struct migrate_pop3c_msg *msgs = NULL;
	size_t n = 0;
	int rc = -1;

	if (c == NULL)
		return cmd_admin_fail(&r->ad, "out of memory"), -1;
	if (migrate_pop3c_connect(c, &r->url, r->opt[O_FROM_CA], r->ad.o.upstream_timeout) != 0 ||
	    migrate_pop3c_login(c, r->opt[O_FROM_USER], r->old_pw) != 0)
		goto fail;
	OPENSSL_cleanse(r->old_pw, sizeof(r->old_pw));
	r->old_tls = migrate_pop3c_tls_version(c) ? migrate_pop3c_tls_version(c) : "none";
	if (migrate_pop3c_listing(c, &msgs, &n) != 0)
		goto fail;
	r->old = calloc(n ? n : 1, sizeof(*r->old));
	if (r->old == NULL) {
		cmd_admin_fail(&r->ad, "out of memory");
		goto out;
	}
	r->n_old = n;
	for (size_t i = 0; i < n; i++) {
		r->old[i].num = msgs[i].num;
		r->old[i].size = msgs[i].size;
		memcpy(r->old[i].uidl, msgs[i].uidl, sizeof(r->old[i].uidl));
	}
	struct hdr_ctx x = { .old = r->old };
	if (migrate_pop3c_headers(c, msgs, n, on_header, &x) != 0) {
		if (x.nomem)
			cmd_admin_fail(&r->ad, "out of memory");
		else
			cmd_admin_fail(&r->ad, "%s", migrate_pop3c_error(c));
		goto out;
	}
	if (migrate_pop3c_quit(c) != 0)
		goto fail;
	rc = 0;
	goto out;
fail:
	cmd_admin_fail(&r->ad, "%s", migrate_pop3c_error(c));
out:
	OPENSSL_cleanse(r->old_pw, sizeof(r->old_pw));
	migrate_pop3c_free(c);
	free(msgs);
	return rc;
}

/* ---- the upstream folder -------------------------------------------------------- */

/* --dry-run: the real state file is never opened for writing (not even
 * migrated). Everything that reads it reads a private copy taken read-only
 * (state_snapshot), left in r->ad.db; the matching runs in a second,
 * throw-away file (open_work_db). Both live in a temporary directory. */
static int dry_snapshot(struct run *r)
{
	char err[PB_ERR_MAX + PB_PATH_MAX];
	char path[sizeof(r->tmpdir) + 16];
	struct stat st;

	const char *tmp = getenv("TMPDIR");
	if (tmp == NULL || tmp[0] == '\0' || strlen(tmp) > sizeof(r->tmpdir) - 32)
		tmp = "/tmp";
	snprintf(r->tmpdir, sizeof(r->tmpdir), "%s/popbridge-dry.XXXXXX", tmp);
	if (mkdtemp(r->tmpdir) == NULL) {
		r->tmpdir[0] = '\0';
		return cmd_admin_fail(&r->ad, "a temporary directory: %s", strerror(errno)), -1;
	}
	if (stat(r->ad.o.state, &st) != 0)
		return 0;  /* no state file: nothing to read, every match is new */
	snprintf(path, sizeof(path), "%s/real.db", r->tmpdir);
	if (state_snapshot(r->ad.o.state, path, err, sizeof(err)) != 0)
		return cmd_admin_fail(&r->ad, "%s", err), -1;
	r->ad.db = state_open(path, err, sizeof(err));
	if (r->ad.db == NULL)
		return cmd_admin_fail(&r->ad, "a copy of %s: %s", r->ad.o.state, err), -1;
	return 0;
}

static int open_work_db(struct run *r)
{
	char err[PB_ERR_MAX + PB_PATH_MAX];
	char path[sizeof(r->tmpdir) + 16];

	if (!r->dry_run) {
		if (r->ad.db == NULL && cmd_admin_open_state(&r->ad) != 0)
			return -1;
		r->work = r->ad.db;
		return 0;
	}
	snprintf(path, sizeof(path), "%s/dry.db", r->tmpdir);
	r->work = state_open(path, err, sizeof(err));
	if (r->work == NULL)
		return cmd_admin_fail(&r->ad, "%s", err), -1;
	return 0;
}

static void remove_tmpdir(struct run *r)
{
	static const char *const files[] = { "dry.db", "dry.db-wal", "dry.db-shm",
	    "dry.db-journal", "real.db", "real.db-wal", "real.db-shm", "real.db-journal" };
	char path[sizeof(r->tmpdir) + 16];

	if (!r->tmpdir[0])
		return;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", r->tmpdir, files[i]);
		unlink(path);
	}
	rmdir(r->tmpdir);
	r->tmpdir[0] = '\0';
}

static int read_upstream(struct run *r)
{
	struct maildrop_upstream up;
	char detail[BRIDGE_DETAIL_MAX];
	int64_t now = (int64_t)time(NULL);
	struct state_account a;
	int rc = -1;

	/* Log in first: a refused login leaves no account (or state file). */
	memset(&up, 0, sizeof(up));
	enum pop3_md_status st;
	if (r->oauth2) {
		/* the token is refreshed in the real state file, also in a dry run:
		 * a rotated refresh token must never be lost */
		char err[PB_ERR_MAX + PB_PATH_MAX];
		struct state_db *tdb = state_open(r->ad.o.state, err, sizeof(err));
		if (tdb == NULL) {
			cmd_admin_fail(&r->ad, "%s", err);
			goto out;
		}
		st = maildrop_upstream_login_stored(&up, &r->ad.o, tdb, &r->key, r->oauth2_id,
		    r->oauth2_name, r->up_user, NULL, detail, sizeof(detail));
		state_close(tdb);
		managed_key_clear(&r->key);
	} else {
		st = maildrop_upstream_login(&up, &r->ad.o, r->up_user, r->up_pw, detail,
		    sizeof(detail));
	}
	OPENSSL_cleanse(r->up_pw, sizeof(r->up_pw));
	if (st == POP3_MD_AUTH) {
		cmd_admin_fail(&r->ad, "the upstream server refused the credentials of %s: %s",
		    r->up_user, detail);
		goto out;
	}
	if (st != POP3_MD_OK) {
		cmd_admin_fail(&r->ad, "upstream: %s", detail);
		goto out;
	}
	if (open_work_db(r) != 0)
		goto out;
	int s = state_account_ensure(r->work, r->opt[O_ACCOUNT], now, &a);
	if (s != STATE_OK) {
		cmd_admin_fail(&r->ad, "account %s: %s", r->opt[O_ACCOUNT], state_errmsg(r->work));
		goto out;
	}
	r->account_id = a.id;
	st = maildrop_sync_folder(&up, r->work, r->account_id, r->ad.o.dev.folder,
	    r->ad.o.dele_keyword, now, &r->mb, detail, sizeof(detail));
	if (st != POP3_MD_OK) {
		cmd_admin_fail(&r->ad, "upstream folder %s: %s", r->ad.o.dev.folder, detail);
		goto out;
	}
	rc = 0;
out:
	maildrop_upstream_free(&up);
	return rc;
}

/* --dry-run: how many matched UIDLs the real state file (its copy) lacks. */
static int count_real_changes(struct run *r)
{
	struct state_account a;
	struct state_mailbox mb;
	size_t changed = 0;

	if (r->ad.db == NULL)
		return 0; /* no state file (dry_snapshot): every match would be new */
	if (state_account_get(r->ad.db, r->opt[O_ACCOUNT], &a) != STATE_OK ||
	    state_mailbox_get(r->ad.db, a.id, r->ad.o.dev.folder, &mb) != STATE_OK ||
	    mb.uidvalidity != r->mb.uidvalidity)
		return 0;
	struct migrate_import_devices *dev = malloc(sizeof(*dev));
	if (dev == NULL || migrate_import_devices_get(r->ad.db, a.id, dev) != 0) {
		free(dev);
		return cmd_admin_state_fail(&r->ad, 0, "dry run: devices"), -1;
	}
	r->counts.offered = 0;
	for (size_t i = 0; i < r->n_old; i++) {
		struct state_message tm, rm;
		bool offered;
		if (r->old[i].outcome != IMPORT_MATCHED)
			continue;
		if (state_message_get(r->work, r->old[i].target, &tm) != STATE_OK) {
			free(dev);
			return cmd_admin_state_fail(&r->ad, 0, "dry run"), -1;
		}
		if (state_message_by_uid(r->ad.db, mb.id, tm.uid, &rm) != STATE_OK)
			continue;
		if (strcmp(rm.old_uidl, r->old[i].uidl) == 0)
			changed++;
		if (strcmp(rm.uidl, r->old[i].uidl) != 0) {
			if (migrate_import_offered(r->ad.db, dev, rm.id, &offered) != 0) {
				free(dev);
				return cmd_admin_state_fail(&r->ad, 0, "dry run: devices"), -1;
			}
			r->counts.offered += offered;
		}
	}
	free(dev);
	r->counts.unchanged = changed;
	r->counts.changed = r->counts.matched - changed;
	return 0;
}

/* ---- output ------------------------------------------------------------------------ */

static const char *outcome_name(enum migrate_import_outcome o)
{
	switch (o) {
	case IMPORT_MATCHED: return "matched";
	case IMPORT_UNMATCHED: return "unmatched";
	case IMPORT_AMBIGUOUS: return "ambiguous";
	case IMPORT_CONFLICT: return "conflict";
	}
	return "?";
}

static void print_clean(const char *s, size_t max)
{
	for (size_t i = 0; s[i] && i < max; i++) {
		unsigned char c = (unsigned char)s[i];
		putchar(c == '"' ? '?' : base_text_printable_byte(c));  /* '"' ends the quoted text */
	}
}

static void print_report(struct run *r)
{
	const struct migrate_import_counts *c = &r->counts;

	printf("old server: %s://%s:%u, %zu messages (TLS: %s)\n",
	    r->url.implicit_tls ? "pop3s" : "pop3", r->url.host, r->url.port, r->n_old,
	    r->old_tls);
	printf("upstream: folder %s of %s, UIDVALIDITY %u\n", r->ad.o.dev.folder,
	    r->opt[O_ACCOUNT], r->mb.uidvalidity);
	if (r->dry_run)
		printf("dry run: the state file was not changed\n");
	printf("matched:   %zu (%s: %zu, already stored: %zu)\n", c->matched,
	    r->dry_run ? "would be stored" : "stored now", c->changed, c->unchanged);
	printf("unmatched: %zu\nambiguous: %zu\nconflicts: %zu\n", c->unmatched, c->ambiguous,
	    c->conflict);
	if (c->offered > 0)
		printf("warning: %zu matched message(s) had been offered to devices of %s under "
		    "popbridge's own UIDL; those devices see them again as new messages (import "
		    "before pointing devices at popbridge)\n", c->offered, r->opt[O_ACCOUNT]);
	if (c->unmatched + c->ambiguous + c->conflict == 0)
		return;
	printf("not imported (old UIDL, Message-ID, Subject: why):\n");
	for (size_t i = 0; i < r->n_old; i++) {
		const struct migrate_import_old *o = &r->old[i];
		if (o->outcome == IMPORT_MATCHED)
			continue;
		printf("  %-9s %s ", outcome_name(o->outcome), o->uidl);
		if (o->msgid != NULL) {
			const char *m = o->msgid;
			size_t ml = strlen(m);
			putchar('<');
			if (ml >= 2 && m[0] == '<' && m[ml - 1] == '>')
				print_clean(m + 1, ml - 2 < LIST_MSGID_MAX ? ml - 2 : LIST_MSGID_MAX);
			else
				print_clean(m, LIST_MSGID_MAX);
			putchar('>');
		} else {
			printf("(no Message-ID)");
		}
		printf(" \"");
		print_clean(o->subject, IMPORT_SUBJECT_MAX);
		printf("\": %s\n", o->why ? o->why : outcome_name(o->outcome));
	}
}

/* ---- the command -------------------------------------------------------------------- */

/* What the option table cannot check: the account name, the old server's URL. */
static int check_args(struct run *r)
{
	char err[PB_ERR_MAX];

	if (!state_account_name_ok(r->opt[O_ACCOUNT])) {
		fprintf(stderr, "popbridge %s: --account: %s\n", NAME, STATE_ACCOUNT_RULE);
		return -1;
	}
	if (migrate_pop3c_parse_url(r->opt[O_FROM], &r->url, err, sizeof(err)) != 0) {
		fprintf(stderr, "popbridge %s: %s\n", NAME, err);
		return -1;
	}
	return 0;
}

static int run_import(struct config_cmdline *c)
{
	struct run *r = calloc(1, sizeof(*r));
	char err[PB_ERR_MAX];
	int status = PB_EXIT_USAGE;

	if (r == NULL) {
		fprintf(stderr, "popbridge %s: out of memory\n", NAME);
		return PB_EXIT_FAIL;
	}
	for (int i = 0; i < O_N; i++)
		r->opt[i] = c->arg[OPT_IDS[i]].text;
	r->dry_run = c->arg[CMD_O_DRY_RUN].text != NULL;
	if (check_args(r) != 0)
		goto out;
	status = PB_EXIT_FAIL;
	if (cmd_admin_begin(&r->ad, c) != 0)
		goto out;
	if (r->ad.o.upstream.host[0] == '\0') {
		cmd_admin_fail(&r->ad, "no upstream server: give --upstream URL (or --config)");
		goto out;
	}
	if (r->dry_run && dry_snapshot(r) != 0)
		goto out;
	if (get_password(r, r->opt[O_FROM_PW], "old server's password: ", r->old_pw,
	    sizeof(r->old_pw)) != 0 || upstream_credentials(r) != 0)
		goto out;
	if (read_old_server(r) != 0 || read_upstream(r) != 0)
		goto out;
	if (migrate_import_match(r->work, r->mb.id, r->old, r->n_old, err, sizeof(err)) != 0 ||
	    migrate_import_apply(r->work, r->mb.id, r->old, r->n_old, !r->dry_run, &r->counts, err,
	    sizeof(err)) != 0) {
		cmd_admin_fail(&r->ad, "%s", err);
		goto out;
	}
	if (r->dry_run && count_real_changes(r) != 0)
		goto out;
	print_report(r);
	status = PB_EXIT_OK;
out:
	if (r->work != NULL && r->work != r->ad.db)
		state_close(r->work);
	remove_tmpdir(r);
	cmd_admin_end(&r->ad);
	migrate_import_old_free(r->old, r->n_old);
	OPENSSL_cleanse(r, sizeof(*r));
	free(r);
	return status;
}

static const struct config_cmd_opt opts[] = {
	{ CMD_O_ACCOUNT, CONFIG_REQUIRED, NULL },
	{ CMD_O_FROM, CONFIG_REQUIRED, NULL },
	{ CMD_O_FROM_USER, CONFIG_REQUIRED, NULL },
	{ CMD_O_FROM_PASSWORD_FILE, 0, NULL },
	{ CMD_O_FROM_CA, 0, NULL },
	{ CMD_O_DRY_RUN, 0, NULL },
	{ PB_K_UPSTREAM, 0, "the IMAP server: imaps://HOST[:993] or imap://HOST[:143]" },
	{ PB_K_UPSTREAM_TLS, 0, NULL },
	{ PB_K_UPSTREAM_CA, 0, NULL },
	{ CMD_O_UPSTREAM_PASSWORD_FILE, 0, NULL },
	{ PB_K_UPSTREAM_TIMEOUT, 0, "network timeout, old server and upstream" },
	{ PB_K_FOLDER, 0, "the upstream folder matched" },
	{ PB_K_AUTH, 0, "managed: ACCOUNT's stored credentials (also when stored as managed)" },
	{ PB_K_STATE, 0, NULL },
	{ PB_K_KEY_FILE, 0, NULL },
	{ PB_K_DELE_KEYWORD, 0, "keyword of messages deleted through POP3 (read upstream)" },
	{ CMD_O_CONFIG, 0, NULL },
};

const struct config_command cmd_import_uidls = {
	.name = NAME,
	.summary = "copy the UIDLs of an old POP3 server (migration)",
	.text =
	    "Log in to the old POP3 server (read only: LIST, UIDL, TOP n 0, QUIT; never\n"
	    "DELE), read the upstream folder (default INBOX) into the state file as a\n"
	    "session would, match every old message to an upstream one by Message-ID,\n"
	    "Date, From, To, Subject and size, and store its old UIDL, so every device\n"
	    "of ACCOUNT sees the UIDLs it knew. Prints how many matched and lists the\n"
	    "rest. Running it again changes nothing more.\n"
	    "\n"
	    "--from pop3:// uses STLS (required unless the host is a loopback address);\n"
	    "pop3s:// is implicit TLS. Upstream, in passthrough mode the user is ACCOUNT\n"
	    "and the password is read; in managed mode the account's stored credentials\n"
	    "are used. Passwords not given in files are read from standard input: the\n"
	    "first line is the old server's, the next the upstream's.\n"
	    "Exit status: 0 when the import ran (whatever matched), 1 on failure, 2 for\n"
	    "a bad command line.\n",
	.table = cmd_options, .opts = opts, .n_opts = CONFIG_N(opts),
	.run = run_import,
};
