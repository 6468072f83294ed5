/* bridge/managed/secret.c — key file and AES-256-GCM sealing (see secret.h). */
#include "bridge/managed/secret.h"
#include "bridge/base/errbuf.h"
#include "bridge/base/fsync.h"
#include "bridge/base/hex.h"
#include "state/state.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

char *managed_key_default_path(const char *state_path)
{
	size_t n = strlen(state_path);
	if (n == 0 || n > PATH_MAX - 5)
		return NULL;
	char *p = malloc(n + 5);
	if (p == NULL)
		return NULL;
	memcpy(p, state_path, n);
	memcpy(p + n, ".key", 5);
	return p;
}

void managed_key_clear(struct managed_key *key)
{
	OPENSSL_cleanse(key->bytes, sizeof(key->bytes));
}

/* ---- key file ---------------------------------------------------------- */

/* Before key material enters memory: the process is not dumpable (no core
 * file, no ptrace or /proc/PID/mem by another process of its user), for
 * the key and for everything it opens later, which lives in ordinary heap
 * memory (upstream passwords, tokens). PR_SET_DUMPABLE 0 cannot fail. */
static void key_holder(void)
{
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

/* Parse the exact key file form; buf holds len bytes. */
static int parse_key_text(const char *path, const unsigned char *buf, size_t len,
                          struct managed_key *key, char *err, size_t errlen)
{
	const size_t mlen = sizeof(SECRET_KEY_FILE_MAGIC) - 1;
	if (len != SECRET_KEY_FILE_SIZE)
		return base_errf(err, errlen,
		    "key file %s is %zu bytes, expected %zu: it is not a popbridge key file "
		    "(or it is damaged)", path, len, (size_t)SECRET_KEY_FILE_SIZE);
	if (memcmp(buf, SECRET_KEY_FILE_MAGIC, mlen) != 0 || buf[mlen] != '\n')
		return base_errf(err, errlen,
		    "key file %s does not start with '%s': not a popbridge key file "
		    "(or an unsupported version)", path, SECRET_KEY_FILE_MAGIC);
	const unsigned char *hex = buf + mlen + 1;
	if (hex[2 * SECRET_KEY_LEN] != '\n')
		return base_errf(err, errlen, "key file %s: the key line must end with a newline", path);
	size_t n;
	if (base_hex_decode(key->bytes, sizeof(key->bytes), &n, (const char *)hex,
	    2 * SECRET_KEY_LEN) != 0 || n != SECRET_KEY_LEN) {
		OPENSSL_cleanse(key->bytes, sizeof(key->bytes));
		return base_errf(err, errlen,
		    "key file %s: the key line must be %d lowercase hex digits",
		    path, 2 * SECRET_KEY_LEN);
	}
	return 0;
}

int managed_key_load(const char *path, struct managed_key *key, char *err, size_t errlen)
{
	key_holder();
	/* O_NONBLOCK: a FIFO must not hang the open; O_NOFOLLOW: a symlink is
	 * not a regular file for our purpose. */
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ELOOP)
			return base_errf(err, errlen,
			    "key file %s is a symbolic link; point --key-file at the file itself",
			    path);
		return base_errf(err, errlen, "cannot open key file %s: %s", path, strerror(errno));
	}
	struct stat st;
	if (fstat(fd, &st) != 0) {
		int e = errno;
		close(fd);
		return base_errf(err, errlen, "cannot stat key file %s: %s", path, strerror(e));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return base_errf(err, errlen, "key file %s is not a regular file", path);
	}
	/* Its owner can read and replace it whatever its mode: only root or
	 * the user popbridge runs as may own it. */
	if (st.st_uid != geteuid() && st.st_uid != 0) {
		close(fd);
		return base_errf(err, errlen,
		    "key file %s is owned by uid %u: only root or the user popbridge runs as "
		    "(uid %u) may own it", path, (unsigned)st.st_uid, (unsigned)geteuid());
	}
	if ((st.st_mode & 0077) != 0) {
		close(fd);
		return base_errf(err, errlen,
		    "key file %s has mode %04o: it must not be accessible to group or others; "
		    "run: chmod 600 %s", path, (unsigned)(st.st_mode & 07777), path);
	}
	unsigned char buf[SECRET_KEY_FILE_SIZE + 1];
	size_t len = 0;
	while (len < sizeof(buf)) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			close(fd);
			OPENSSL_cleanse(buf, sizeof(buf));
			return base_errf(err, errlen, "cannot read key file %s: %s", path, strerror(e));
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	int rc = parse_key_text(path, buf, len, key, err, errlen);
	OPENSSL_cleanse(buf, sizeof(buf));
	return rc;
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Create path with a new random key. Returns 0, -1 on error, or 1 when path
 * already exists (nothing was changed). */
static int create_key_file(const char *path, struct managed_key *key, char *err, size_t errlen)
{
	char tmp[PATH_MAX];
	if (snprintf(tmp, sizeof(tmp), "%s.tmpXXXXXX", path) >= (int)sizeof(tmp))
		return base_errf(err, errlen, "key file path %s is too long", path);
	key_holder();
	if (RAND_bytes(key->bytes, SECRET_KEY_LEN) != 1)
		return base_errf(err, errlen, "cannot create key file %s: no random bytes from OpenSSL",
		    path);

	unsigned char text[SECRET_KEY_FILE_SIZE];
	char hex[2 * SECRET_KEY_LEN + 1];
	const size_t mlen = sizeof(SECRET_KEY_FILE_MAGIC) - 1;
	memcpy(text, SECRET_KEY_FILE_MAGIC, mlen);
	text[mlen] = '\n';
	if (base_hex_encode(hex, sizeof(hex), key->bytes, SECRET_KEY_LEN) != 0)
		return base_errf(err, errlen, "cannot create key file %s: internal error", path);
	memcpy(text + mlen + 1, hex, 2 * SECRET_KEY_LEN);
	OPENSSL_cleanse(hex, sizeof(hex));
	text[SECRET_KEY_FILE_SIZE - 1] = '\n';

	/* mkstemp opens with O_CREAT|O_EXCL and mode 0600 before the umask;
	 * fchmod makes it exactly 0600 whatever the umask took away. */
	int fd = mkostemp(tmp, O_CLOEXEC);
	int rc = -1;
	if (fd < 0) {
		base_errf(err, errlen, "cannot create key file %s: %s", path, strerror(errno));
		goto out;
	}
	if (fchmod(fd, 0600) != 0 || write_all(fd, text, sizeof(text)) != 0 || fsync(fd) != 0) {
		base_errf(err, errlen, "cannot write key file %s: %s", path, strerror(errno));
		close(fd);
		unlink(tmp);
		goto out;
	}
	if (close(fd) != 0) {
		base_errf(err, errlen, "cannot write key file %s: %s", path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	/* link() never replaces an existing name. */
	if (link(tmp, path) != 0) {
		int e = errno;
		unlink(tmp);
		if (e == EEXIST) {
			rc = 1;
			goto out;
		}
		base_errf(err, errlen, "cannot create key file %s: %s", path, strerror(e));
		goto out;
	}
	unlink(tmp);
	if (base_fsync_parent(path) != 0) {
		base_errf(err, errlen, "cannot make key file %s durable (fsync of its directory): %s",
		    path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	OPENSSL_cleanse(text, sizeof(text));
	if (rc != 0)
		managed_key_clear(key);
	return rc;
}

int managed_key_load_or_create(const char *path, struct managed_key *key, int *created,
                              char *err, size_t errlen)
{
	if (created != NULL)
		*created = 0;
	struct stat st;
	if (lstat(path, &st) == 0 || errno != ENOENT)
		return managed_key_load(path, key, err, errlen);
	int rc = create_key_file(path, key, err, errlen);
	if (rc == 1) /* someone else created it meanwhile: use theirs */
		return managed_key_load(path, key, err, errlen);
	if (rc == 0 && created != NULL)
		*created = 1;
	return rc;
}

/* ---- sealing -------------------------------------------------------------- */

/* The AAD's account name follows state's account-name rule. */
static int check_account(const char *account, char *err, size_t errlen)
{
	if (account == NULL || !state_account_name_ok(account))
		return base_errf(err, errlen, "%s", STATE_ACCOUNT_RULE);
	return 0;
}

/* Feed the AAD (version byte, account name, and for a labelled secret a
 * NUL and the label) to a context initialised for either direction
 * (EVP_CipherUpdate follows the context's direction). */
static int add_aad(EVP_CIPHER_CTX *ctx, const char *account, const char *label)
{
	unsigned char version = SECRET_BLOB_VERSION, nul = 0;
	int n;
	return EVP_CipherUpdate(ctx, NULL, &n, &version, 1) == 1 &&
	    EVP_CipherUpdate(ctx, NULL, &n, (const unsigned char *)account,
	        (int)strlen(account)) == 1 &&
	    (label == NULL || (EVP_CipherUpdate(ctx, NULL, &n, &nul, 1) == 1 &&
	    EVP_CipherUpdate(ctx, NULL, &n, (const unsigned char *)label,
	        (int)strlen(label)) == 1)) ? 0 : -1;
}

static int seal(const struct managed_key *key, const char *account, const char *label,
                size_t max, const unsigned char *plain, size_t plain_len,
                unsigned char *blob, size_t blob_size, size_t *blob_len,
                char *err, size_t errlen)
{
	if (check_account(account, err, errlen) != 0)
		return -1;
	if (plain_len > max)
		return base_errf(err, errlen, "secret too long (at most %zu bytes)", max);
	if (blob_size < SECRET_BLOB_OVERHEAD + plain_len)
		return base_errf(err, errlen, "internal error: blob buffer too small");

	unsigned char *nonce = blob + 1, *ct = blob + 1 + SECRET_NONCE_LEN;
	unsigned char *tag = ct + plain_len;
	blob[0] = SECRET_BLOB_VERSION;
	if (RAND_bytes(nonce, SECRET_NONCE_LEN) != 1)
		return base_errf(err, errlen, "no random bytes from OpenSSL");

	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n = 0, fin = 0, ok = ctx != NULL &&
	    EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, SECRET_NONCE_LEN, NULL) == 1 &&
	    EVP_EncryptInit_ex(ctx, NULL, NULL, key->bytes, nonce) == 1 &&
	    add_aad(ctx, account, label) == 0 &&
	    EVP_EncryptUpdate(ctx, ct, &n, plain, (int)plain_len) == 1 &&
	    EVP_EncryptFinal_ex(ctx, ct + n, &fin) == 1 &&
	    (size_t)(n + fin) == plain_len &&
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SECRET_TAG_LEN, tag) == 1;
	EVP_CIPHER_CTX_free(ctx);
	if (!ok) {
		OPENSSL_cleanse(blob, blob_size);
		return base_errf(err, errlen, "encryption failed (OpenSSL)");
	}
	*blob_len = SECRET_BLOB_OVERHEAD + plain_len;
	return 0;
}

int managed_seal(const struct managed_key *key, const char *account,
                const unsigned char *plain, size_t plain_len,
                unsigned char *blob, size_t blob_size, size_t *blob_len,
                char *err, size_t errlen)
{
	return seal(key, account, NULL, SECRET_PLAINTEXT_MAX, plain, plain_len, blob, blob_size,
	    blob_len, err, errlen);
}

int managed_seal_labelled(const struct managed_key *key, const char *account,
                const char *label, const unsigned char *plain, size_t plain_len,
                unsigned char *blob, size_t blob_size, size_t *blob_len,
                char *err, size_t errlen)
{
	return seal(key, account, label, SECRET_TOKEN_MAX, plain, plain_len, blob, blob_size,
	    blob_len, err, errlen);
}

static int unseal(const struct managed_key *key, const char *account, const char *label,
                size_t max, const unsigned char *blob, size_t blob_len,
                unsigned char *plain, size_t plain_size, size_t *plain_len,
                char *err, size_t errlen)
{
	if (check_account(account, err, errlen) != 0)
		return -1;
	if (blob_len < SECRET_BLOB_OVERHEAD || blob_len > SECRET_BLOB_OVERHEAD + max)
		return base_errf(err, errlen, "stored secret has an impossible length (%zu bytes)",
		    blob_len);
	if (blob[0] != SECRET_BLOB_VERSION)
		return base_errf(err, errlen, "stored secret has unknown format version %u",
		    (unsigned)blob[0]);
	size_t ct_len = blob_len - SECRET_BLOB_OVERHEAD;
	if (plain_size < ct_len)
		return base_errf(err, errlen, "internal error: plaintext buffer too small");

	const unsigned char *nonce = blob + 1, *ct = blob + 1 + SECRET_NONCE_LEN;
	unsigned char tag[SECRET_TAG_LEN];
	memcpy(tag, ct + ct_len, SECRET_TAG_LEN);

	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n = 0, fin = 0, setup = ctx != NULL &&
	    EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, SECRET_NONCE_LEN, NULL) == 1 &&
	    EVP_DecryptInit_ex(ctx, NULL, NULL, key->bytes, nonce) == 1 &&
	    add_aad(ctx, account, label) == 0 &&
	    EVP_DecryptUpdate(ctx, plain, &n, ct, (int)ct_len) == 1 &&
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SECRET_TAG_LEN, tag) == 1;
	int verified = setup && EVP_DecryptFinal_ex(ctx, plain + n, &fin) == 1 &&
	    (size_t)(n + fin) == ct_len;
	EVP_CIPHER_CTX_free(ctx);
	if (!verified) {
		OPENSSL_cleanse(plain, plain_size);
		if (!setup)
			return base_errf(err, errlen, "decryption failed (OpenSSL)");
		return base_errf(err, errlen,
		    "stored secret for account %s does not authenticate: wrong key file, "
		    "or the stored data was altered", account);
	}
	if (ct_len < plain_size)
		plain[ct_len] = '\0';
	*plain_len = ct_len;
	return 0;
}

int managed_unseal(const struct managed_key *key, const char *account,
                const unsigned char *blob, size_t blob_len,
                unsigned char *plain, size_t plain_size, size_t *plain_len,
                char *err, size_t errlen)
{
	return unseal(key, account, NULL, SECRET_PLAINTEXT_MAX, blob, blob_len, plain,
	    plain_size, plain_len, err, errlen);
}

int managed_unseal_labelled(const struct managed_key *key, const char *account,
                const char *label, const unsigned char *blob, size_t blob_len,
                unsigned char *plain, size_t plain_size, size_t *plain_len,
                char *err, size_t errlen)
{
	return unseal(key, account, label, SECRET_TOKEN_MAX, blob, blob_len, plain, plain_size,
	    plain_len, err, errlen);
}
