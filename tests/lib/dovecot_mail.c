/* tests/lib/dovecot_mail.c — a Dovecot instance's users, folders and
 * messages, done directly on its files. See dovecot.h.
 *
 * Users: D/users/USER is a one-line passwd-file with a {PLAIN} password (the
 * passdb path is D/users/%u). A new user is a new file, seen at once; a
 * change renames a new file over the old one with a strictly newer mtime and
 * then waits out Dovecot's once-a-second check (so up to 1 s).
 * Messages: written to the folder's tmp/ and renamed into new/ (or cur/ with
 * ":2,FLAGS"). File names start with an instance-wide counter, and Dovecot
 * assigns UIDs to new files in file-name order, so delivery order = UID order.
 * Changes are serialised with flock(), so forked test children may call these.
 */
#include "tests/lib/dovecot_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_NAME 64
#define MAX_SECRET 256
#define MAX_FOLDER 200
#define MAX_USERS_LINE 512

static int valid_user(const char *u)
{
	size_t n = strlen(u);
	if (n == 0 || n > MAX_NAME || u[0] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = u[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '_' || c == '-' || c == '@' || c == '+'))
			return 0;
	}
	return 1;
}

static int valid_secret(const char *p)
{
	size_t n = strlen(p);
	if (n > MAX_SECRET)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] < 0x20 || p[i] == ':' || p[i] == 0x7f)
			return 0;
	return 1;
}

/* Folder names: components separated by '/', no '.', no control characters. */
static int valid_folder(const char *f)
{
	size_t n = strlen(f);
	if (n == 0 || n > MAX_FOLDER || f[0] == '/' || f[n - 1] == '/' || strstr(f, "//"))
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)f[i] < 0x20 || f[i] == '.' || f[i] == 0x7f)
			return 0;
	return 1;
}

const char *pbt_dovecot_maildir(struct pbt_dovecot *d, const char *user, const char *folder,
    char *buf, size_t len)
{
	if (!valid_user(user) || !valid_folder(folder)) {
		fprintf(stderr, "pbt_dovecot: bad user or folder name\n");
		return NULL;
	}
	int r;
	if (strcasecmp(folder, "INBOX") == 0) {
		r = pbt_dc_path(buf, len, "%s/mail/%s/Maildir", d->dir, user);
	} else {
		r = pbt_dc_path(buf, len, "%s/mail/%s/Maildir/.%s", d->dir, user, folder);
		/* Maildir++: the hierarchy separator on disk is '.' */
		for (char *p = strstr(buf, "/Maildir/.") + 10; r == 0 && *p; p++)
			if (*p == '/')
				*p = '.';
	}
	return r == 0 ? buf : NULL;
}

/* Take an exclusive lock on D/NAME; fd or -1. */
static int lock_file(struct pbt_dovecot *d, const char *name)
{
	char path[300];
	if (pbt_dc_path(path, sizeof(path), "%s/%s", d->dir, name) < 0)
		return -1;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || flock(fd, LOCK_EX) < 0) {
		fprintf(stderr, "pbt_dovecot: lock %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static void unlock_file(int fd)
{
	flock(fd, LOCK_UN);
	close(fd);
}

enum user_op { USER_ADD, USER_SET, USER_REMOVE };

/* Dovecot stats a passwd-file at most once per second and serves its cached
 * copy in between. After changing a file that may have been read, wait until
 * the clock is past the second of the change: the next lookup then stats. */
static void wait_next_second(time_t changed)
{
	struct timespec now;
	for (;;) {
		clock_gettime(CLOCK_REALTIME, &now);
		if (now.tv_sec > changed)
			return;
		struct timespec ts = { 0, 1000000000L - now.tv_nsec };
		nanosleep(&ts, NULL);
	}
}

/* Add, change or remove D/users/USER (one passwd-file per user). */
static int edit_users(struct pbt_dovecot *d, enum user_op op, const char *user,
    const char *password)
{
	char path[300], tmp[300];
	if (!valid_user(user) || (password && !valid_secret(password))) {
		fprintf(stderr, "pbt_dovecot: invalid user name or password\n");
		return -1;
	}
	if (pbt_dc_path(path, sizeof(path), "%s/users/%s", d->dir, user) < 0 ||
	    pbt_dc_path(tmp, sizeof(tmp), "%s/users/.%s.tmp", d->dir, user) < 0)
		return -1;
	int lock = lock_file(d, "users.lock");
	if (lock < 0)
		return -1;
	int rc = -1;
	struct stat st;
	int found = stat(path, &st) == 0;
	if ((op == USER_ADD) == found) {
		fprintf(stderr, "pbt_dovecot: user %s %s\n", user,
		    found ? "already exists" : "does not exist");
		goto done;
	}
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	if (op == USER_REMOVE) {
		if (unlink(path) < 0) {
			fprintf(stderr, "pbt_dovecot: %s: %s\n", path, strerror(errno));
			goto done;
		}
		wait_next_second(now.tv_sec);
		rc = 0;
		goto done;
	}
	FILE *out = fopen(tmp, "we");
	if (out == NULL) {
		fprintf(stderr, "pbt_dovecot: %s: %s\n", tmp, strerror(errno));
		goto done;
	}
	fprintf(out, "%s:{PLAIN}%s\n", user, password);
	/* Readable by the auth process; an mtime strictly newer than before. */
	struct timespec times[2] = { now, now };
	if (found && now.tv_sec <= st.st_mtim.tv_sec)
		times[0].tv_sec = times[1].tv_sec = st.st_mtim.tv_sec + 1;
	int bad = fflush(out) != 0 || fchmod(fileno(out), 0644) < 0 ||
	    futimens(fileno(out), times) < 0;
	if (fclose(out) != 0 || bad || rename(tmp, path) < 0) {
		fprintf(stderr, "pbt_dovecot: writing %s failed\n", path);
		unlink(tmp);
		goto done;
	}
	if (found)
		wait_next_second(times[0].tv_sec);
	rc = 0;
done:
	unlock_file(lock);
	return rc;
}

/* Create DIR with cur/ new/ tmp/ (and the maildirfolder marker for subfolders). */
static int make_maildir(const char *dir, int subfolder)
{
	char path[400];
	static const char *const subs[] = { "cur", "new", "tmp" };
	if (pbt_dc_mkdir(dir) < 0)
		return -1;
	for (size_t i = 0; i < 3; i++) {
		if (pbt_dc_path(path, sizeof(path), "%s/%s", dir, subs[i]) < 0 ||
		    pbt_dc_mkdir(path) < 0)
			return -1;
	}
	if (subfolder) {
		if (pbt_dc_path(path, sizeof(path), "%s/maildirfolder", dir) < 0)
			return -1;
		int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0) {
			fprintf(stderr, "pbt_dovecot: %s: %s\n", path, strerror(errno));
			return -1;
		}
		close(fd);
		return pbt_dc_own(path);
	}
	return 0;
}

int pbt_dovecot_add_user(struct pbt_dovecot *d, const char *user, const char *password)
{
	char path[300];
	if (edit_users(d, USER_ADD, user, password) < 0)
		return -1;
	if (pbt_dc_path(path, sizeof(path), "%s/mail/%s", d->dir, user) < 0 ||
	    pbt_dc_mkdir(path) < 0 ||
	    pbt_dc_path(path, sizeof(path), "%s/mail/%s/Maildir", d->dir, user) < 0)
		return -1;
	return make_maildir(path, 0);
}

int pbt_dovecot_set_password(struct pbt_dovecot *d, const char *user, const char *password)
{
	return edit_users(d, USER_SET, user, password);
}

int pbt_dovecot_remove_user(struct pbt_dovecot *d, const char *user)
{
	return edit_users(d, USER_REMOVE, user, NULL);
}

static int user_exists(struct pbt_dovecot *d, const char *user)
{
	char path[300];
	struct stat st;
	if (!valid_user(user) ||
	    pbt_dc_path(path, sizeof(path), "%s/mail/%s/Maildir", d->dir, user) < 0 ||
	    stat(path, &st) < 0) {
		fprintf(stderr, "pbt_dovecot: no such user '%s'\n", user);
		return 0;
	}
	return 1;
}

int pbt_dovecot_create_folder(struct pbt_dovecot *d, const char *user, const char *folder)
{
	char dir[300];
	if (!user_exists(d, user) || pbt_dovecot_maildir(d, user, folder, dir, sizeof(dir)) == NULL)
		return -1;
	if (strcasecmp(folder, "INBOX") == 0)
		return 0;
	/* Parents first: "A/B" needs ".A" too, or IMAP shows no "A". */
	char *last = strrchr(dir, '/');
	for (char *p = strchr(last + 2, '.'); p != NULL; p = strchr(p + 1, '.')) {
		*p = '\0';
		int r = make_maildir(dir, 1);
		*p = '.';
		if (r < 0)
			return -1;
	}
	return make_maildir(dir, 1);
}

/* Sorted, de-duplicated Maildir info letters; 0, or -1 for a bad letter. */
static int norm_flags(const char *flags, char *out, size_t len)
{
	static const char known[] = "DFPRST";
	size_t n = 0;
	for (const char *k = known; *k; k++)
		if (strchr(flags, *k) && n + 1 < len)
			out[n++] = *k;
	out[n] = '\0';
	for (const char *f = flags; *f; f++) {
		if (strchr(known, *f) == NULL) {
			fprintf(stderr, "pbt_dovecot: unknown Maildir flag '%c' (use DFPRST)\n", *f);
			return -1;
		}
	}
	return 0;
}

/* The next value of the instance's delivery counter. */
static long next_seq(struct pbt_dovecot *d)
{
	int fd = lock_file(d, "seq");
	if (fd < 0)
		return -1;
	char buf[32] = "";
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	long v = n > 0 ? strtol(buf, NULL, 10) : 0;
	v++;
	int len = snprintf(buf, sizeof(buf), "%ld\n", v);
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)len, 0) != len) {
		fprintf(stderr, "pbt_dovecot: updating the delivery counter failed\n");
		v = -1;
	}
	unlock_file(fd);
	return v;
}

typedef int64_t write_fn(const void *arg, FILE *f);

/* Deliver a message written by fn into user/folder. */
static int deliver(struct pbt_dovecot *d, const char *user, const char *folder,
    const char *flags, write_fn *fn, const void *arg)
{
	char dir[300], name[128], tmp[512], dst[512], fl[8];
	if (!user_exists(d, user) || pbt_dovecot_maildir(d, user, folder, dir, sizeof(dir)) == NULL)
		return -1;
	if (norm_flags(flags ? flags : "", fl, sizeof(fl)) < 0)
		return -1;
	struct stat st;
	if (pbt_dc_path(tmp, sizeof(tmp), "%s/tmp", dir) < 0 || stat(tmp, &st) < 0) {
		fprintf(stderr, "pbt_dovecot: user %s has no folder '%s'\n", user, folder);
		return -1;
	}
	long seq = next_seq(d);
	if (seq < 0)
		return -1;
	snprintf(name, sizeof(name), "%ld.P%dQ%ld.pbtest", 1500000000L + seq, (int)getpid(), seq);
	if (pbt_dc_path(tmp, sizeof(tmp), "%s/tmp/%s", dir, name) < 0)
		return -1;
	int r = fl[0] ? pbt_dc_path(dst, sizeof(dst), "%s/cur/%s:2,%s", dir, name, fl)
		      : pbt_dc_path(dst, sizeof(dst), "%s/new/%s", dir, name);
	if (r < 0)
		return -1;
	FILE *f = fopen(tmp, "wxe");
	if (f == NULL) {
		fprintf(stderr, "pbt_dovecot: %s: %s\n", tmp, strerror(errno));
		return -1;
	}
	int64_t n = fn(arg, f);
	int bad = n < 0 || fflush(f) != 0 || fchmod(fileno(f), 0600) < 0;
	if (fclose(f) != 0)
		bad = 1;
	if (bad || pbt_dc_own(tmp) < 0 || rename(tmp, dst) < 0) {
		fprintf(stderr, "pbt_dovecot: delivering to %s failed\n", dir);
		unlink(tmp);
		return -1;
	}
	return 0;
}

struct raw {
	const char *data;
	size_t len;
};

static int64_t write_raw(const void *arg, FILE *f)
{
	const struct raw *r = arg;
	return fwrite(r->data, 1, r->len, f) == r->len ? (int64_t)r->len : -1;
}

static int64_t write_generated(const void *arg, FILE *f)
{
	return pbt_msg_write_file(arg, f);
}

int pbt_dovecot_add_message(struct pbt_dovecot *d, const char *user, const char *folder,
    const char *data, size_t len, const char *flags)
{
	struct raw r = { data, len };
	return deliver(d, user, folder, flags, write_raw, &r);
}

int pbt_dovecot_add_generated(struct pbt_dovecot *d, const char *user, const char *folder,
    const struct pbt_msgspec *spec, const char *flags)
{
	return deliver(d, user, folder, flags, write_generated, spec);
}

static int64_t write_copy(const void *arg, FILE *f)
{
	FILE *in = fopen(arg, "re");
	if (in == NULL) {
		fprintf(stderr, "pbt_dovecot: %s: %s\n", (const char *)arg, strerror(errno));
		return -1;
	}
	char buf[65536];
	int64_t total = 0;
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0) {
		if (fwrite(buf, 1, n, f) != n) {
			total = -1;
			break;
		}
		total += (int64_t)n;
	}
	if (ferror(in))
		total = -1;
	fclose(in);
	return total;
}

int pbt_dovecot_add_file(struct pbt_dovecot *d, const char *user, const char *folder,
    const char *path, const char *flags)
{
	return deliver(d, user, folder, flags, write_copy, path);
}

/* Remove the files in dir whose names start with one of the prefixes. */
static int remove_prefixed(const char *dir, const char *const *prefixes, size_t n)
{
	DIR *dp = opendir(dir);
	if (dp == NULL) {
		fprintf(stderr, "pbt_dovecot: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	int rc = 0;
	struct dirent *de;
	while ((de = readdir(dp)) != NULL) {
		for (size_t i = 0; i < n; i++) {
			if (strncmp(de->d_name, prefixes[i], strlen(prefixes[i])) != 0)
				continue;
			if (unlinkat(dirfd(dp), de->d_name, 0) < 0 && errno != ENOENT)
				rc = -1;
			break;
		}
	}
	closedir(dp);
	return rc;
}

int pbt_dovecot_renumber(struct pbt_dovecot *d, const char *user, const char *folder)
{
	char dir[300], root[300];
	struct stat st;
	if (!user_exists(d, user) || pbt_dovecot_maildir(d, user, folder, dir, sizeof(dir)) == NULL ||
	    pbt_dovecot_maildir(d, user, "INBOX", root, sizeof(root)) == NULL)
		return -1;
	if (stat(dir, &st) < 0) {
		fprintf(stderr, "pbt_dovecot: user %s has no folder '%s'\n", user, folder);
		return -1;
	}
	static const char *const box_files[] = { "dovecot-uidlist", "dovecot.index" };
	/* The mailbox list index caches UIDVALIDITY too; the dovecot-uidvalidity
	 * files stay, so the next UIDVALIDITY is larger than the old one. */
	static const char *const list_files[] = { "dovecot.list.index" };
	if (pbt_dovecot_pause(d) < 0)
		return -1;
	int rc = 0;
	if (remove_prefixed(dir, box_files, 2) < 0 || remove_prefixed(root, list_files, 1) < 0)
		rc = -1;
	if (pbt_dovecot_resume(d) < 0)
		rc = -1;
	return rc;
}
