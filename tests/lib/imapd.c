/* tests/lib/imapd.c — one interface over the Dovecot, Cyrus and Courier
 * harnesses: kinds, folders, messages, the watchdog of the packaged servers.
 * See imapd.h; the Cyrus and Courier specifics are in imapd_pkg.c.
 */
#include "tests/lib/imapd_int.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/cert.h"
#include "tests/lib/dovecot_int.h"
#include "tests/lib/imapc.h"
#include "tests/lib/proc.h"

#define STOP_TIMEOUT_MS 15000

/* Dovecot 2.3's own list (as tests/bridge/check_maildrop.h names it). */
static const char DOVECOT_CAPS[] = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT"
	" LITERAL+ NAMESPACE UNSELECT CHILDREN LIST-EXTENDED LIST-STATUS I18NLEVEL=1"
	" CONDSTORE QRESYNC ESEARCH SEARCHRES WITHIN SPECIAL-USE BINARY UIDPLUS MOVE";

static const char *const kind_names[PBT_IMAPD_KINDS] = { "dovecot", "cyrus", "courier" };

const char *pbt_imapd_kind_name(enum pbt_imapd_kind kind)
{
	return (unsigned)kind < PBT_IMAPD_KINDS ? kind_names[kind] : "?";
}

int pbt_imapd_kind_parse(const char *name)
{
	for (int i = 0; i < PBT_IMAPD_KINDS; i++)
		if (strcmp(name, kind_names[i]) == 0)
			return i;
	return -1;
}

const char *pbt_imapd_pkgroot(char *buf, size_t len)
{
	const char *env = getenv("PBT_SERVERS_ROOT");
	if (env && *env)
		snprintf(buf, len, "%s", env);
	else if (geteuid() == 0)
		snprintf(buf, len, "/var/cache/popbridge-tests/root");
	else if (getenv("XDG_CACHE_HOME"))
		snprintf(buf, len, "%s/popbridge-tests/root", getenv("XDG_CACHE_HOME"));
	else
		snprintf(buf, len, "%s/.cache/popbridge-tests/root",
		    getenv("HOME") ? getenv("HOME") : "/nonexistent");
	return buf;
}

int pbt_imapd_available(enum pbt_imapd_kind kind, char *why, size_t len)
{
	char root[256], path[400];
	struct stat st;
	if (kind == PBT_IMAPD_DOVECOT)
		return 1;
	if (geteuid() != 0) {
		snprintf(why, len, "%s runs only as root (mail processes run as nobody)",
		    pbt_imapd_kind_name(kind));
		return 0;
	}
	pbt_imapd_pkgroot(root, sizeof(root));
	snprintf(path, sizeof(path), "%s/%s", root, kind == PBT_IMAPD_CYRUS ?
	    "usr/lib/cyrus/bin/master" : "usr/sbin/couriertcpd");
	if (stat(path, &st) < 0) {
		snprintf(why, len, "%s is missing: run contrib/test-servers.sh (make deps)", path);
		return 0;
	}
	return 1;
}

/* ---- capabilities -------------------------------------------------------------- */

int pbt_imapd_without(const char *list, const char *hide, char *out, size_t len)
{
	char copy[1024];
	size_t n = 0;
	snprintf(copy, sizeof(copy), "%s", list);
	out[0] = '\0';
	for (char *save, *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		int hidden = 0;
		if (hide) {
			char h[512];
			snprintf(h, sizeof(h), "%s", hide);
			for (char *s2, *x = strtok_r(h, " ", &s2); x; x = strtok_r(NULL, " ", &s2))
				hidden |= strcasecmp(x, w) == 0;
		}
		if (hidden)
			continue;
		int k = snprintf(out + n, len - n, "%s%s", n ? " " : "", w);
		if (k < 0 || (size_t)k >= len - n)
			return -1;
		n += (size_t)k;
	}
	return 0;
}

/* ---- the watchdog of a packaged server -------------------------------------- */

/* Does process pid carry the instance marker of dir in its environment? */
static int marked(pid_t pid, const char *marker)
{
	char path[64], buf[65536];
	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	size_t ml = strlen(marker) + 1;   /* with its NUL */
	for (ssize_t i = 0; i + (ssize_t)ml <= n; i += (ssize_t)strlen(buf + i) + 1)
		if (memcmp(buf + i, marker, ml) == 0)
			return 1;
	return 0;
}

int pbt_imapd_signal_all(const char *dir, int sig)
{
	char marker[300];
	snprintf(marker, sizeof(marker), PBT_IMAPD_MARKER "=%s", dir);
	DIR *dp = opendir("/proc");
	if (dp == NULL)
		return 0;
	int count = 0;
	struct dirent *de;
	while ((de = readdir(dp)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid_t pid = (pid_t)atol(de->d_name);
		if (pid != getpid() && marked(pid, marker)) {
			kill(pid, sig);
			count++;
		}
	}
	closedir(dp);
	return count;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int pbt_imapd_stop_processes(const char *dir)
{
	for (int t = 0; pbt_imapd_signal_all(dir, t < 3000 ? SIGTERM : SIGKILL) > 0; t += 50) {
		if (t >= STOP_TIMEOUT_MS) {
			fprintf(stderr, "pbt_imapd: processes of %s survive SIGKILL\n", dir);
			return -1;
		}
		sleep_ms(50);
	}
	return 0;
}

/* ---- start / stop -------------------------------------------------------------- */

struct pbt_imapd *pbt_imapd_start(enum pbt_imapd_kind kind, const char *hide)
{
	char why[400];
	if (!pbt_imapd_available(kind, why, sizeof(why))) {
		fprintf(stderr, "pbt_imapd: %s\n", why);
		return NULL;
	}
	struct pbt_imapd *d = calloc(1, sizeof(*d));
	if (d == NULL)
		return NULL;
	d->kind = kind;
	d->watchdog_fd = -1;
	if (kind == PBT_IMAPD_DOVECOT) {
		char conf[1200], caps[1024];
		if (hide && pbt_imapd_without(DOVECOT_CAPS, hide, caps, sizeof(caps)) < 0) {
			free(d);
			return NULL;
		}
		snprintf(conf, sizeof(conf), "imap_capability = %s\n", caps);
		d->dc = pbt_dovecot_start_with(hide ? conf : NULL);
		if (d->dc == NULL) {
			free(d);
			return NULL;
		}
		snprintf(d->dir, sizeof(d->dir), "%s", d->dc->dir);
		d->imap_port = d->dc->imap_port;
		d->sep = '/';
		return d;
	}
	pbt_imapd_pkgroot(d->root, sizeof(d->root));
	snprintf(d->prefix, sizeof(d->prefix), "INBOX.");
	d->sep = '.';
	if (pbt_mkdtemp(kind == PBT_IMAPD_CYRUS ? "pbt-cyrus" : "pbt-courier", d->dir,
	    sizeof(d->dir)) < 0) {
		free(d);
		return NULL;
	}
	if (pbt_watchdog_start("pbt_imapd", d->dir, pbt_imapd_stop_processes, &d->watchdog_pid,
	    &d->watchdog_fd) < 0) {
		pbt_rmtree(d->dir);
		free(d);
		return NULL;
	}
	int r = kind == PBT_IMAPD_CYRUS ? pbt_cyrus_start(d, hide) : pbt_courier_start(d, hide);
	if (r < 0) {
		fprintf(stderr, "pbt_imapd: %s did not start\n", pbt_imapd_kind_name(kind));
		pbt_imapd_stop(d);
		return NULL;
	}
	return d;
}

void pbt_imapd_stop(struct pbt_imapd *d)
{
	if (d == NULL)
		return;
	if (d->kind == PBT_IMAPD_DOVECOT) {
		pbt_dovecot_stop(d->dc);
		free(d);
		return;
	}
	pbt_watchdog_stop(d->watchdog_pid, d->watchdog_fd, d->dir, pbt_imapd_stop_processes);
	free(d);
}

/* ---- users, folders, messages ---------------------------------------------------- */

const char *pbt_imapd_folder(const struct pbt_imapd *d, const char *folder, char *buf,
    size_t len)
{
	if (strcasecmp(folder, "INBOX") == 0) {
		snprintf(buf, len, "INBOX");
		return buf;
	}
	int n = snprintf(buf, len, "%s%s", d->prefix, folder);
	if (n < 0 || (size_t)n >= len)
		return NULL;
	for (char *p = buf + strlen(d->prefix); *p; p++)
		if (*p == '/')
			*p = d->sep;
	return buf;
}

/* A user's password, kept in D/pbt-users/USER for the harness's own logins. */
static int password_file(struct pbt_imapd *d, const char *user, char *path, size_t len)
{
	for (const char *p = user; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("._-", *p)) {
			fprintf(stderr, "pbt_imapd: bad user name '%s'\n", user);
			return -1;
		}
	return pbt_dc_path(path, len, "%s/pbt-users/%s", d->dir, user);
}

int pbt_imapd_user_password(struct pbt_imapd *d, const char *user, char *pw, size_t len)
{
	char path[400];
	if (password_file(d, user, path, sizeof(path)) < 0)
		return -1;
	FILE *f = fopen(path, "re");
	if (f == NULL || fgets(pw, (int)len, f) == NULL) {
		fprintf(stderr, "pbt_imapd: no such user '%s'\n", user);
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	pw[strcspn(pw, "\n")] = '\0';
	return 0;
}

int pbt_imapd_add_user(struct pbt_imapd *d, const char *user, const char *password)
{
	if (d->kind == PBT_IMAPD_DOVECOT)
		return pbt_dovecot_add_user(d->dc, user, password);
	char path[400];
	if (password_file(d, user, path, sizeof(path)) < 0)
		return -1;
	if (strpbrk(password, " \"\\'\n\r") || strlen(password) > 200) {
		fprintf(stderr, "pbt_imapd: passwords here have no spaces, quotes or backslashes\n");
		return -1;
	}
	FILE *f = fopen(path, "wxe");
	if (f == NULL) {
		fprintf(stderr, "pbt_imapd: user %s: %s\n", user, strerror(errno));
		return -1;
	}
	fprintf(f, "%s\n", password);
	if (fclose(f) != 0)
		return -1;
	return d->kind == PBT_IMAPD_CYRUS ? pbt_cyrus_add_user(d, user, password)
					   : pbt_courier_add_user(d, user, password);
}

int pbt_imapd_login(struct pbt_imapd *d, struct pbt_imapc *c, const char *user)
{
	char pw[256];
	if (pbt_imapd_user_password(d, user, pw, sizeof(pw)) < 0)
		return -1;
	return pbt_imapc_login(c, d->imap_port, user, pw);
}

/* Does the logged-in session see mailbox name? */
static int exists(struct pbt_imapc *c, const char *name)
{
	struct pbt_imapc_resps r = { 0 };
	int found = 0;
	if (pbt_imapc_cmd(c, &r, "LIST \"\" \"%s\"", name) == 0)
		found = r.n > 0;
	pbt_imapc_resps_free(&r);
	return found;
}

int pbt_imapd_create_folder(struct pbt_imapd *d, const char *user, const char *folder)
{
	if (d->kind == PBT_IMAPD_DOVECOT)
		return pbt_dovecot_create_folder(d->dc, user, folder);
	char name[300];
	struct pbt_imapc c;
	if (pbt_imapd_folder(d, folder, name, sizeof(name)) == NULL ||
	    pbt_imapd_login(d, &c, user) < 0)
		return -1;
	int r = exists(&c, name) ? 0 : pbt_imapc_cmd(&c, NULL, "CREATE \"%s\"", name);
	pbt_imapc_close(&c);
	return r;
}

/* Maildir flag letters as an IMAP flag list. */
int pbt_imapd_flag_list(const char *letters, char *out, size_t len)
{
	static const struct {
		char letter;
		const char *flag;
	} map[] = { { 'D', "\\Draft" }, { 'F', "\\Flagged" }, { 'R', "\\Answered" },
		    { 'S', "\\Seen" }, { 'T', "\\Deleted" } };
	size_t n = 0;
	out[0] = '\0';
	for (const char *p = letters ? letters : ""; *p; p++) {
		size_t i = 0;
		while (i < sizeof(map) / sizeof(map[0]) && map[i].letter != *p)
			i++;
		if (i == sizeof(map) / sizeof(map[0])) {
			fprintf(stderr, "pbt_imapd: unknown flag letter '%c' (use DFRST)\n", *p);
			return -1;
		}
		n += (size_t)snprintf(out + n, len - n, "%s%s", n ? " " : "", map[i].flag);
	}
	return 0;
}

int pbt_imapd_add_message(struct pbt_imapd *d, const char *user, const char *folder,
    const char *data, size_t len, const char *flags)
{
	if (d->kind == PBT_IMAPD_DOVECOT)
		return pbt_dovecot_add_message(d->dc, user, folder, data, len, flags);
	char name[300], fl[128];
	struct pbt_imapc c;
	if (pbt_imapd_flag_list(flags, fl, sizeof(fl)) < 0 ||
	    pbt_imapd_folder(d, folder, name, sizeof(name)) == NULL ||
	    pbt_imapd_login(d, &c, user) < 0)
		return -1;
	int r = pbt_imapc_append(&c, name, fl, data, len);
	pbt_imapc_close(&c);
	return r;
}

int pbt_imapd_add_generated(struct pbt_imapd *d, const char *user, const char *folder,
    const struct pbt_msgspec *spec, const char *flags)
{
	if (d->kind == PBT_IMAPD_DOVECOT)
		return pbt_dovecot_add_generated(d->dc, user, folder, spec, flags);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (f == NULL)
		return -1;
	int64_t n = pbt_msg_write_file(spec, f);
	int bad = fclose(f) != 0 || n < 0;
	int r = bad ? -1 : pbt_imapd_add_message(d, user, folder, buf, len, flags);
	free(buf);
	return r;
}

int pbt_imapd_renumber(struct pbt_imapd *d, const char *user, const char *folder)
{
	switch (d->kind) {
	case PBT_IMAPD_DOVECOT:
		return pbt_dovecot_renumber(d->dc, user, folder);
	case PBT_IMAPD_CYRUS:
		return pbt_cyrus_renumber(d, user);
	case PBT_IMAPD_COURIER:
		return pbt_courier_renumber(d, user, folder);
	}
	return -1;
}
