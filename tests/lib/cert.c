/* tests/lib/cert.c — test certificates made with the openssl command, and
 * temporary directories. See cert.h. */
#include "tests/lib/cert.h"
#include "tests/lib/proc.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int pbt_make_cert(const char *dir, const char *name, char *cert, size_t certlen,
    char *key, size_t keylen)
{
	int n1 = snprintf(cert, certlen, "%s/%s.crt", dir, name);
	int n2 = snprintf(key, keylen, "%s/%s.key", dir, name);
	if (n1 < 0 || (size_t)n1 >= certlen || n2 < 0 || (size_t)n2 >= keylen) {
		fprintf(stderr, "pbt_make_cert: path too long under %s\n", dir);
		return -1;
	}
	char subj[] = "/CN=localhost";
	char san[] = "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1";
	char *argv[] = {
		"openssl", "req", "-x509", "-newkey", "ec",
		"-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
		"-keyout", key, "-out", cert, "-days", "30", "-subj", subj,
		"-addext", san,
		NULL
	};
	/* openssl chatters on stderr: keep it in DIR/NAME.err, show it on failure */
	char err[300];
	if (snprintf(err, sizeof(err), "%s/%s.err", dir, name) >= (int)sizeof(err))
		return -1;
	if (pbt_run("pbt_make_cert", argv, err) < 0) {
		FILE *f = fopen(err, "r");
		char line[256];
		while (f != NULL && fgets(line, sizeof(line), f) != NULL)
			fputs(line, stderr);
		if (f != NULL)
			fclose(f);
		return -1;
	}
	unlink(err);
	/* The key stays private to the owner; the certificate is public. */
	if (chmod(key, 0600) < 0 || chmod(cert, 0644) < 0) {
		perror("pbt_make_cert: chmod");
		return -1;
	}
	return 0;
}

int pbt_mkdtemp(const char *prefix, char *buf, size_t len)
{
	const char *tmp = getenv("TMPDIR");
	if (tmp == NULL || tmp[0] != '/')
		tmp = "/tmp";
	int n = snprintf(buf, len, "%s/%s.XXXXXX", tmp, prefix);
	if (n < 0 || (size_t)n >= len) {
		fprintf(stderr, "pbt_mkdtemp: path too long\n");
		return -1;
	}
	if (mkdtemp(buf) == NULL) {
		fprintf(stderr, "pbt_mkdtemp: %s: %s\n", buf, strerror(errno));
		return -1;
	}
	return 0;
}

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	int r = (type == FTW_DP) ? rmdir(path) : unlink(path);
	if (r < 0 && errno != ENOENT) {
		fprintf(stderr, "pbt_rmtree: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

int pbt_rmtree(const char *path)
{
	if (path == NULL || path[0] == '\0' || strcmp(path, "/") == 0) {
		fprintf(stderr, "pbt_rmtree: refusing to remove '%s'\n", path ? path : "(null)");
		return -1;
	}
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	return nftw(path, rm_entry, 32, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}
