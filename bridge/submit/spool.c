/* bridge/submit/spool.c — see spool.h. */
#include "bridge/submit/spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "bridge/base/errbuf.h"
#include "bridge/base/hex.h"

int submit_spool_dir(const char *state_path, char *dir, size_t len)
{
	int n = snprintf(dir, len, "%s.sent", state_path);
	return n > 0 && (size_t)n < len ? 0 : -1;
}

static int ensure_dir(const char *dir, char *err, size_t errlen)
{
	struct stat st;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return base_errf(err, errlen, "%s: cannot create: %s", dir, strerror(errno));
	if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return base_errf(err, errlen, "%s: not a folder", dir);
	return 0;
}

int submit_spool_create(const char *dir, struct submit_spool_file *f, char *err, size_t errlen)
{
	unsigned char rnd[16];

	memset(f, 0, sizeof(*f));
	f->fd = -1;
	if (ensure_dir(dir, err, errlen) != 0)
		return -1;
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return base_errf(err, errlen, "no random numbers for a file name");
	char hex[2 * sizeof(rnd) + 1];
	base_hex_encode(hex, sizeof(hex), rnd, sizeof(rnd));
	snprintf(f->name, sizeof(f->name), "%s.eml", hex);
	snprintf(f->path, sizeof(f->path), "%s/%s", dir, f->name);
	f->fd = open(f->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (f->fd < 0)
		return base_errf(err, errlen, "%s: cannot create: %s", f->path, strerror(errno));
	f->md = EVP_MD_CTX_new();
	if (f->md == NULL || EVP_DigestInit_ex(f->md, EVP_sha256(), NULL) != 1) {
		submit_spool_discard(f);
		return base_errf(err, errlen, "out of memory");
	}
	return 0;
}

int submit_spool_write(struct submit_spool_file *f, const char *buf, size_t len)
{
	if (f->fd < 0 || f->failed)
		return -1;
	if (EVP_DigestUpdate(f->md, buf, len) != 1) {
		f->failed = true;
		return -1;
	}
	while (len > 0) {
		ssize_t n = write(f->fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			f->failed = true;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
		f->size += (uint64_t)n;
	}
	return 0;
}

int submit_spool_commit(struct submit_spool_file *f, char sha256[STATE_SHA256_HEX + 1],
    char *err, size_t errlen)
{
	unsigned char h[32];
	char dir[sizeof(f->path)];

	if (f->fd < 0 || f->failed) {
		submit_spool_discard(f);
		return base_errf(err, errlen, "writing the Sent copy failed");
	}
	if (fsync(f->fd) != 0) {
		int e = errno;
		submit_spool_discard(f);
		return base_errf(err, errlen, "fsync of the Sent copy: %s", strerror(e));
	}
	/* The folder entry too: the file must survive a crash after the 250. */
	snprintf(dir, sizeof(dir), "%s", f->path);
	char *slash = strrchr(dir, '/');
	if (slash != NULL)
		*slash = '\0';
	int dfd = open(slash != NULL ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) != 0) {
		int e = errno;
		if (dfd >= 0)
			close(dfd);
		submit_spool_discard(f);
		return base_errf(err, errlen, "fsync of the spool folder: %s", strerror(e));
	}
	close(dfd);
	EVP_DigestFinal_ex(f->md, h, NULL);
	base_hex_encode(sha256, STATE_SHA256_HEX + 1, h, sizeof(h));
	EVP_MD_CTX_free(f->md);
	f->md = NULL;
	close(f->fd);
	f->fd = -1;
	return 0;
}

void submit_spool_discard(struct submit_spool_file *f)
{
	if (f->fd >= 0) {
		close(f->fd);
		unlink(f->path);
	}
	f->fd = -1;
	EVP_MD_CTX_free(f->md);
	f->md = NULL;
}

int submit_spool_open(const char *dir, const char *name, uint64_t size, char *err,
    size_t errlen)
{
	char path[SUBMIT_SPOOL_DIR_MAX + STATE_SENT_FILE_MAX + 2];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return base_errf(err, errlen, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != size) {
		close(fd);
		return base_errf(err, errlen, "%s: not the recorded file (%llu octets)", path,
		    (unsigned long long)size);
	}
	return fd;
}

void submit_spool_remove(const char *dir, const char *name)
{
	char path[SUBMIT_SPOOL_DIR_MAX + STATE_SENT_FILE_MAX + 2];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
}
