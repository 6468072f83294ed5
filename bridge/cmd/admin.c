/* bridge/cmd/admin.c — what the account and device commands share (see
 * admin.h): settings, state and key file, secrets from stdin, output. */
#include "bridge/cmd/admin.h"
#include "bridge/managed/login.h"
#include "bridge/oauth2/grant.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

int cmd_admin_fail(const struct cmd_admin *ad, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "popbridge %s: ", ad->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return PB_EXIT_FAIL;
}

int cmd_admin_state_fail(const struct cmd_admin *ad, int rc, const char *what)
{
	(void)rc;
	return cmd_admin_fail(ad, "%s: %s", what, state_errmsg(ad->db));
}

int cmd_admin_begin(struct cmd_admin *ad, const struct config_cmdline *c)
{
	char err[PB_ERR_MAX];

	memset(ad, 0, sizeof(*ad));
	ad->name = c->cmd->name;
	ad->c = c;
	if (config_settings_build(c, false, &ad->o, config_report_print, stderr,
	    err, sizeof(err)) != 0) {
		fprintf(stderr, "popbridge %s: %s\n", ad->name, err);
		return -1;
	}
	return 0;
}

int cmd_admin_open_state(struct cmd_admin *ad)
{
	char err[PB_ERR_MAX + PB_PATH_MAX];
	ad->db = state_open(ad->o.state, err, sizeof(err));
	if (!ad->db) {
		cmd_admin_fail(ad, "%s", err);
		return -1;
	}
	return 0;
}

int cmd_admin_open_existing_state(struct cmd_admin *ad)
{
	struct stat st;

	if (stat(ad->o.state, &st) != 0) {
		int e = errno;
		cmd_admin_fail(ad, "%s: %s (no state file, so no account or device here yet: "
		    "check --state; 'popbridge account add' creates it)", ad->o.state, strerror(e));
		return -1;
	}
	return cmd_admin_open_state(ad);
}

int cmd_admin_new_account_name(const struct cmd_admin *ad, const char *account)
{
	if (strchr(account, ' ') != NULL) {
		cmd_admin_fail(ad, "an account name has no space (devices log in with it as "
		    "their user name)");
		return -1;
	}
	if (strchr(account, ad->o.device_separator) != NULL) {
		/* a POP3 user name is split at the first separator */
		cmd_admin_fail(ad, "an account name may not contain the device separator '%c'",
		    ad->o.device_separator);
		return -1;
	}
	return 0;
}

int cmd_admin_stdout_flush(const struct cmd_admin *ad, const char *what)
{
	errno = 0;
	if (fflush(stdout) == 0 && !ferror(stdout))
		return 0;
	int e = errno;
	cmd_admin_fail(ad, "writing %s failed: %s", what, e ? strerror(e) : "output error");
	return -1;
}

int cmd_admin_find_account(struct cmd_admin *ad, const char *account, struct state_account *a)
{
	int rc = state_account_get(ad->db, account, a);
	if (rc == STATE_NOTFOUND || rc == STATE_INVALID)
		return cmd_admin_fail(ad, "no account '%s' (see 'popbridge account list')", account);
	if (rc != STATE_OK)
		return cmd_admin_state_fail(ad, rc, account);
	return 0;
}

int cmd_admin_refuse_moved(const struct cmd_admin *ad, const struct state_account *a)
{
	char when[32];

	if (a->moved == 0)
		return 0;
	return cmd_admin_fail(ad, "account '%s' was moved to another node (exported %s): it is "
	    "changed there now, and nothing was changed here ('popbridge account import' of "
	    "its file on this node brings it back)", a->name,
	    cmd_admin_time(a->moved, "?", when, sizeof(when)));
}

static int count_one(void *arg, const struct state_device *d)
{
	(void)d;
	(*(size_t *)arg)++;
	return 0;
}

int cmd_admin_count_devices(struct cmd_admin *ad, int64_t account_id, size_t *n)
{
	*n = 0;
	return state_device_list(ad->db, account_id, count_one, n);
}

struct first_managed {
	const char *except;
	bool found;
	struct state_account a;
};

static int find_managed(void *arg, const struct state_account *a)
{
	struct first_managed *f = arg;
	if (a->auth == STATE_AUTH_MANAGED &&
	    (a->secret_len > 0 || a->credential == STATE_CRED_OAUTH2) &&
	    !(f->except && strcmp(f->except, a->name) == 0)) {
		f->found = true;
		f->a = *a;
		return 1;
	}
	return 0;
}

/* The key must open what is sealed already: a wrong key file would
 * otherwise seal new passwords that no other account's key matches. */
static int key_opens(const struct cmd_admin *ad, const struct managed_key *key,
    const struct state_account *a)
{
	char user[STATE_USER_MAX + 1], plain[SECRET_PLAINTEXT_MAX + 1];
	char err[PB_ERR_MAX];
	int rc = -1;
	if (a->credential == STATE_CRED_OAUTH2) {
		/* an OAuth2 grant's sealed secrets */
		struct oauth2_grant *g = malloc(sizeof(*g));
		rc = g ? oauth2_grant_open(ad->db, key, a->id, a->name, g, err, sizeof(err)) : -1;
		if (g != NULL)
			oauth2_grant_clear(g);
		free(g);
	} else {
		rc = managed_upstream_unseal(key, a, user, plain, err, sizeof(err));
	}
	OPENSSL_cleanse(plain, sizeof(plain));
	if (rc != 0)
		cmd_admin_fail(ad, "key file %s does not open the %s stored for "
		    "%s in %s (a wrong key file?); nothing was changed", ad->o.key_file,
		    a->credential == STATE_CRED_OAUTH2 ? "OAuth2 grant" : "upstream password",
		    a->name, ad->o.state);
	return rc;
}

int cmd_admin_load_key(struct cmd_admin *ad, bool may_create, const char *except,
    struct managed_key *key, bool *created)
{
	char err[PB_ERR_MAX + PB_PATH_MAX];
	struct first_managed *fm = calloc(1, sizeof(*fm));
	bool any_managed = false;
	int made = 0, ret = -1;

	if (!fm) {
		cmd_admin_fail(ad, "out of memory");
		return -1;
	}
	fm->except = except;

	if (created)
		*created = false;
	/* A new key only while nothing is sealed with an old one. The state
	 * file is looked at only when it exists (a refused key must not leave a
	 * new state file behind). */
	struct stat st;
	if (ad->db || stat(ad->o.state, &st) == 0) {
		if (!ad->db && cmd_admin_open_state(ad) != 0)
			goto out;
		int rc = state_account_list(ad->db, find_managed, fm);
		if (rc != STATE_OK) {
			cmd_admin_state_fail(ad, rc, "reading accounts");
			goto out;
		}
		any_managed = fm->found;
	}
	int rc = may_create && !any_managed
	    ? managed_key_load_or_create(ad->o.key_file, key, &made, err, sizeof(err))
	    : managed_key_load(ad->o.key_file, key, err, sizeof(err));
	if (rc != 0) {
		if (any_managed && access(ad->o.key_file, F_OK) != 0 && errno == ENOENT)
			cmd_admin_fail(ad, "%s: no such key file, but %s holds managed accounts "
			    "sealed with a key; give the right --key-file (a new key would "
			    "not open them)", ad->o.key_file, ad->o.state);
		else
			cmd_admin_fail(ad, "%s", err);
		goto out;
	}
	if (any_managed && key_opens(ad, key, &fm->a) != 0) {
		managed_key_clear(key);
		goto out;
	}
	if (created)
		*created = made != 0;
	ret = 0;
out:
	OPENSSL_cleanse(fm, sizeof(*fm));
	free(fm);
	return ret;
}

void cmd_admin_end(struct cmd_admin *ad)
{
	state_close(ad->db);
	ad->db = NULL;
	config_options_free(&ad->o);
}

/* read(2) one octet at a time, so no stdio buffer keeps a copy of the
 * secret. 1 got one, 0 end of input, -1 error. */
static int read_octet(char *ch)
{
	for (;;) {
		ssize_t n = read(STDIN_FILENO, ch, 1);
		if (n == 1)
			return 1;
		if (n == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

int cmd_admin_read_secret(const struct cmd_admin *ad, const char *prompt, char *buf,
    size_t size, size_t max)
{
	struct termios saved, quiet;
	bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
	size_t len = 0;
	int rc, problem = 0;    /* 1 too long, 2 NUL, 3 read error */
	char ch;

	if (max + 1 > size)
		max = size - 1;
	if (tty) {
		fprintf(stderr, "%s", prompt);
		fflush(stderr);
		quiet = saved;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	while ((rc = read_octet(&ch)) == 1 && ch != '\n') {
		if (ch == '\0')
			problem = problem ? problem : 2;
		else if (len >= max)
			problem = problem ? problem : 1;
		else
			buf[len++] = ch;
	}
	if (rc < 0)
		problem = 3;
	ch = 0;
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
		fputc('\n', stderr);
	}
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	buf[len] = '\0';
	if (problem || len == 0) {
		OPENSSL_cleanse(buf, size);
		if (problem == 3)
			cmd_admin_fail(ad, "reading the password from standard input: %s",
			    strerror(errno));
		else if (problem == 1)
			cmd_admin_fail(ad, "the password on standard input is longer than %zu octets",
			    max);
		else if (problem == 2)
			cmd_admin_fail(ad, "the password on standard input contains a NUL octet");
		else
			cmd_admin_fail(ad, "no password on standard input (give it as the first "
			    "line, e.g. from a file: < FILE)");
		return -1;
	}
	return 0;
}

int cmd_admin_read_secret_file(const struct cmd_admin *ad, const char *path, char *buf,
    size_t size, size_t max, const char *what)
{
	size_t cap = max + 3, len = 0;
	char *tmp = malloc(cap);
	int fd = tmp ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	ssize_t n;

	if (tmp == NULL)
		return cmd_admin_fail(ad, "out of memory"), -1;
	if (fd < 0) {
		free(tmp);
		return cmd_admin_fail(ad, "%s: %s", path, strerror(errno)), -1;
	}
	while (len < cap && (n = read(fd, tmp + len, cap - len)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			OPENSSL_cleanse(tmp, cap);
			free(tmp);
			return cmd_admin_fail(ad, "%s: %s", path, strerror(errno)), -1;
		}
		len += (size_t)n;
	}
	close(fd);
	size_t l = 0;
	while (l < len && tmp[l] != '\n')
		l++;
	if (l > 0 && tmp[l - 1] == '\r')
		l--;
	int bad = l == 0 || l >= size || l > max || memchr(tmp, '\0', l);
	if (!bad) {
		memcpy(buf, tmp, l);
		buf[l] = '\0';
	}
	OPENSSL_cleanse(tmp, cap);
	free(tmp);
	if (bad)
		return cmd_admin_fail(ad, "%s: the first line must hold %s (1..%zu octets, no NUL)",
		    path, what, max), -1;
	return 0;
}

const char *cmd_admin_time(int64_t t, const char *none, char *buf, size_t len)
{
	struct tm tm;
	time_t tt = (time_t)t;
	if (t == 0 || !gmtime_r(&tt, &tm) ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "%s", t == 0 ? none : "?");
	return buf;
}

void cmd_table_init(struct cmd_table *t, size_t ncol)
{
	memset(t, 0, sizeof(*t));
	t->ncol = ncol;
}

void cmd_table_row(struct cmd_table *t, const char *const *cells)
{
	if (t->failed)
		return;
	if (t->nrow == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char **c = realloc(t->cells, cap * t->ncol * sizeof(*c));
		if (!c) {
			t->failed = true;
			return;
		}
		t->cells = c;
		t->cap = cap;
	}
	char **row = t->cells + t->nrow * t->ncol;
	for (size_t i = 0; i < t->ncol; i++) {
		row[i] = strdup(cells[i] ? cells[i] : "");
		if (!row[i]) {
			while (i-- > 0)
				free(row[i]);
			t->failed = true;
			return;
		}
	}
	t->nrow++;
}

int cmd_table_print(struct cmd_table *t, FILE *f)
{
	if (t->failed)
		return -1;
	size_t w[16] = { 0 };
	size_t ncol = t->ncol < 16 ? t->ncol : 16;
	for (size_t r = 0; r < t->nrow; r++)
		for (size_t i = 0; i < ncol; i++) {
			size_t l = strlen(t->cells[r * t->ncol + i]);
			if (l > w[i])
				w[i] = l;
		}
	for (size_t r = 0; r < t->nrow; r++) {
		for (size_t i = 0; i < ncol; i++) {
			const char *cell = t->cells[r * t->ncol + i];
			if (i + 1 < ncol)
				fprintf(f, "%-*s  ", (int)w[i], cell);
			else
				fprintf(f, "%s\n", cell);
		}
	}
	return 0;
}

void cmd_table_free(struct cmd_table *t)
{
	for (size_t i = 0; i < t->nrow * t->ncol; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof(*t));
}
