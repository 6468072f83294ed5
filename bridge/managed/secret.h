/* bridge/managed/secret.h — managed-mode secrets at rest: the key file and the
 * encrypted upstream password.
 *
 * Contract:
 *  - The key file holds 32 random bytes in this exact text form (82 bytes):
 *        popbridge-key-v1\n
 *        <64 lowercase hex digits>\n
 *    It is created on first use with mode 0600 (whatever the umask), written
 *    under a temporary name, fsync'd and then hard-linked into place, so an
 *    existing file is never overwritten and a crash never leaves a half key.
 *    Loading or creating it makes the process not dumpable first
 *    (PR_SET_DUMPABLE 0): no core file, no ptrace by the same user, shows
 *    the key or what it opens.
 *    Loading refuses, with a message naming the file and the fix: a file that
 *    is not a regular file (symlinks are not followed), a file any group or
 *    other permission bit set, or content that is not exactly the form above.
 *  - A secret (the upstream password) is sealed with AES-256-GCM into an
 *    opaque blob: version byte 0x01 | 12-byte random nonce | ciphertext |
 *    16-byte tag. The additional authenticated data is the version byte
 *    followed by the account name, so a blob moved to another account, a
 *    tampered blob and a wrong key all fail to open: the caller gets an error,
 *    never garbage. Plaintext is at most SECRET_PLAINTEXT_MAX bytes.
 *  - A labelled secret (the OAuth2 grant's tokens and client secret) is the
 *    same blob with the label in the AAD too (version byte, account name,
 *    a NUL, the label), so one account's refresh token cannot stand in for
 *    its access token either; plaintext up to SECRET_TOKEN_MAX bytes.
 *  - Every function returns 0 on success and -1 on failure with a one-line
 *    message in err (which never contains key material or a password).
 *    Intermediate plaintext and key copies are cleansed (OPENSSL_cleanse).
 */
#ifndef BRIDGE_MANAGED_SECRET_H
#define BRIDGE_MANAGED_SECRET_H

#include <stddef.h>

#define SECRET_KEY_LEN        32
#define SECRET_BLOB_VERSION   0x01
#define SECRET_NONCE_LEN      12
#define SECRET_TAG_LEN        16
#define SECRET_PLAINTEXT_MAX  1024  /* an upstream password; 1 KiB is plenty */
#define SECRET_TOKEN_MAX      8192  /* a labelled secret: an OAuth2 token or
                                       client secret (Microsoft's JWTs run to
                                       a few KiB) */
#define SECRET_BLOB_OVERHEAD  (1 + SECRET_NONCE_LEN + SECRET_TAG_LEN)
#define SECRET_BLOB_MAX       (SECRET_BLOB_OVERHEAD + SECRET_PLAINTEXT_MAX)
#define SECRET_KEY_FILE_MAGIC "popbridge-key-v1"
#define SECRET_KEY_FILE_SIZE  (sizeof(SECRET_KEY_FILE_MAGIC) + 2 * SECRET_KEY_LEN + 1)

struct managed_key {
	unsigned char bytes[SECRET_KEY_LEN];
};

/* The default key file for a state file: "<state>.key". Returns a string the
 * caller frees, or NULL (out of memory, or the path is too long). */
char *managed_key_default_path(const char *state_path);

/* Load the key file at path; refuse it as the contract says. */
int managed_key_load(const char *path, struct managed_key *key, char *err, size_t errlen);

/* Load the key file, or create it when it does not exist. *created (may be
 * NULL) is set to 1 when this call created it. Never overwrites a file. */
int managed_key_load_or_create(const char *path, struct managed_key *key, int *created,
                              char *err, size_t errlen);

/* Wipe a key held in memory. */
void managed_key_clear(struct managed_key *key);

/* Seal plain[0..plain_len) for account into blob (room for blob_size bytes;
 * SECRET_BLOB_OVERHEAD + plain_len are needed); *blob_len gets the length. */
int managed_seal(const struct managed_key *key, const char *account,
                const unsigned char *plain, size_t plain_len,
                unsigned char *blob, size_t blob_size, size_t *blob_len,
                char *err, size_t errlen);

/* Open a blob sealed for account. plain has room for plain_size bytes; one
 * more NUL byte is written after the plaintext when it fits, so a password
 * can be used as a C string. On failure plain holds nothing of the secret. */
int managed_unseal(const struct managed_key *key, const char *account,
                const unsigned char *blob, size_t blob_len,
                unsigned char *plain, size_t plain_size, size_t *plain_len,
                char *err, size_t errlen);

/* The same for a labelled secret (contract above): label is a short word
 * ("refresh-token"); plaintext up to SECRET_TOKEN_MAX. */
int managed_seal_labelled(const struct managed_key *key, const char *account,
                const char *label, const unsigned char *plain, size_t plain_len,
                unsigned char *blob, size_t blob_size, size_t *blob_len,
                char *err, size_t errlen);
int managed_unseal_labelled(const struct managed_key *key, const char *account,
                const char *label, const unsigned char *blob, size_t blob_len,
                unsigned char *plain, size_t plain_size, size_t *plain_len,
                char *err, size_t errlen);

#endif
