/* state/snapshot.c — a copy of a state file taken without writing it
 * (state_snapshot in state/state.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "state/db_int.h"

/* "what: message" into err; -1. */
static int snap_fail(char *err, size_t errlen, const char *path, const char *what,
    sqlite3 *conn, int rc)
{
	snprintf(err, errlen, "%s: %s: %s", path, what,
	    conn != NULL ? sqlite3_errmsg(conn) : sqlite3_errstr(rc));
	return -1;
}

/* "file:" URI of path for sqlite3_open_v2 with SQLITE_OPEN_URI: every
 * byte outside [A-Za-z0-9/._-] percent-encoded. -1 when it does not fit. */
static int file_uri(const char *path, const char *query, char *buf, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = (size_t)snprintf(buf, len, "file:");
	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		if (n + 4 >= len)
			return -1;
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("/._-", *p)) {
			buf[n++] = (char)*p;
		} else {
			buf[n++] = '%';
			buf[n++] = hex[*p >> 4];
			buf[n++] = hex[*p & 15];
		}
	}
	int q = snprintf(buf + n, len - n, "%s", query);
	return q < 0 || (size_t)q >= len - n ? -1 : 0;
}

/* Copy src into the empty file dst with one backup step. quiet: open src
 * as immutable (no locks, no -wal, no -shm: nothing created beside it),
 * else read-only with SQLite's usual locking. 0 or -1 with err set. */
static int copy_db(const char *src, const char *dst, bool quiet, char *err, size_t errlen)
{
	sqlite3 *from = NULL, *to = NULL;
	sqlite3_backup *b;
	char uri[3 * 512 + 64];
	int rc, ret = -1;

	if (file_uri(src, quiet ? "?mode=ro&immutable=1" : "?mode=ro", uri, sizeof(uri)) != 0) {
		snprintf(err, errlen, "%s: path too long", src);
		return -1;
	}
	rc = sqlite3_open_v2(uri, &from,
	    SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		snap_fail(err, errlen, src, "cannot open read-only", from, rc);
		goto out;
	}
	sqlite3_busy_timeout(from, STATE_BUSY_TIMEOUT_MS);
	rc = sqlite3_open_v2(dst, &to, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		snap_fail(err, errlen, dst, "cannot open", to, rc);
		goto out;
	}
	b = sqlite3_backup_init(to, "main", from, "main");
	if (b == NULL) {
		snap_fail(err, errlen, dst, "cannot copy", to, 0);
		goto out;
	}
	/* One step copies every page inside one read transaction of src. */
	rc = sqlite3_backup_step(b, -1);
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE) {
		snprintf(err, errlen, "%s: copying to %s: %s", src, dst, sqlite3_errstr(rc));
		goto out;
	}
	ret = 0;
out:
	sqlite3_close(from);
	sqlite3_close(to);
	return ret;
}

/* Whether path-wal exists: some connection has (or had, before a crash)
 * the database open in WAL mode. */
static bool wal_exists(const char *path)
{
	char wal[600];
	struct stat sb;
	snprintf(wal, sizeof(wal), "%s-wal", path);
	return stat(wal, &sb) == 0;
}

static bool same_file_state(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
	    a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

int state_snapshot(const char *src, const char *dst, char *err, size_t errlen)
{
	struct stat before, after;

	if (stat(src, &before) != 0) {
		snprintf(err, errlen, "%s: %s", src, strerror(errno));
		return -1;
	}
	if (strlen(src) >= 512) {
		snprintf(err, errlen, "%s: path too long", src);
		return -1;
	}
	if (state_db_create_private(dst, true, err, errlen) != 0)
		return -1;
	/* Nobody has the file open (no -wal): the main file is the whole
	 * database, read without locks so nothing is created beside it. The
	 * copy holds if no writer came and went meanwhile (-wal still absent,
	 * the file unchanged); otherwise, and whenever someone has it open,
	 * read it with SQLite's locks — the -wal and -shm are there already. */
	if (!wal_exists(src)) {
		if (copy_db(src, dst, true, err, errlen) == 0 && stat(src, &after) == 0 &&
		    same_file_state(&before, &after) && !wal_exists(src))
			return 0;
		/* start again from an empty copy */
		if (truncate(dst, 0) != 0) {
			snprintf(err, errlen, "%s: %s", dst, strerror(errno));
			unlink(dst);
			return -1;
		}
	}
	if (copy_db(src, dst, false, err, errlen) != 0) {
		unlink(dst);
		return -1;
	}
	return 0;
}
