/* tests/bridge/check_secret.c — key file, sealing and device passwords. */
#include <check.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bridge/managed/password.h"
#include "bridge/managed/secret.h"
#include "state/state.h"
#include "tests/lib/cert.h"

static char dir[256];
static char keypath[512];
static char err[512];

static void setup(void)
{
	ck_assert_int_eq(pbt_mkdtemp("secret", dir, sizeof(dir)), 0);
	snprintf(keypath, sizeof(keypath), "%s/state.db.key", dir);
	err[0] = '\0';
}

static void teardown(void)
{
	pbt_rmtree(dir);
}

static size_t read_file(const char *path, unsigned char *buf, size_t size)
{
	FILE *f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	size_t n = fread(buf, 1, size, f);
	fclose(f);
	return n;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
}

static void new_key(struct managed_key *k)
{
	int created = 0;
	ck_assert_msg(managed_key_load_or_create(keypath, k, &created, err, sizeof(err)) == 0,
	    "%s", err);
	ck_assert_int_eq(created, 1);
}

START_TEST(default_path)
{
	char *p = managed_key_default_path("/var/lib/popbridge/popbridge.db");
	ck_assert_str_eq(p, "/var/lib/popbridge/popbridge.db.key");
	free(p);
	ck_assert_ptr_null(managed_key_default_path(""));
}
END_TEST

START_TEST(key_created_0600_even_with_open_umask)
{
	mode_t old = umask(0);
	struct managed_key k;
	new_key(&k);
	umask(old);
	struct stat st;
	ck_assert_int_eq(stat(keypath, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(st.st_size, (off_t)SECRET_KEY_FILE_SIZE);

	unsigned char buf[200];
	size_t n = read_file(keypath, buf, sizeof(buf));
	ck_assert_uint_eq(n, SECRET_KEY_FILE_SIZE);
	ck_assert(memcmp(buf, "popbridge-key-v1\n", 17) == 0);

	/* No temporary file is left behind. */
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "test $(ls -A '%s' | wc -l) -eq 1", dir);
	ck_assert_int_eq(system(cmd), 0);

	/* Loading it gives the same key back. */
	struct managed_key k2;
	ck_assert_msg(managed_key_load(keypath, &k2, err, sizeof(err)) == 0, "%s", err);
	ck_assert(memcmp(k.bytes, k2.bytes, SECRET_KEY_LEN) == 0);
	int created = 1;
	ck_assert_int_eq(managed_key_load_or_create(keypath, &k2, &created, err, sizeof(err)), 0);
	ck_assert_int_eq(created, 0);
	ck_assert(memcmp(k.bytes, k2.bytes, SECRET_KEY_LEN) == 0);
}
END_TEST

START_TEST(key_umask_restrictive)
{
	mode_t old = umask(0777);
	struct managed_key k;
	new_key(&k);
	umask(old);
	struct stat st;
	ck_assert_int_eq(stat(keypath, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(managed_key_load(keypath, &k, err, sizeof(err)), 0);
}
END_TEST

START_TEST(key_0644_refused)
{
	struct managed_key k;
	new_key(&k);
	ck_assert_int_eq(chmod(keypath, 0644), 0);
	unsigned char before[200], after[200];
	size_t nb = read_file(keypath, before, sizeof(before));
	ck_assert_int_eq(managed_key_load(keypath, &k, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, keypath) != NULL && strstr(err, "0644") != NULL &&
	    strstr(err, "group or others") != NULL && strstr(err, "chmod 600") != NULL,
	    "unclear message: %s", err);
	/* load_or_create refuses too, and never replaces the file. */
	ck_assert_int_eq(managed_key_load_or_create(keypath, &k, NULL, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "0644"));
	size_t na = read_file(keypath, after, sizeof(after));
	ck_assert_uint_eq(na, nb);
	ck_assert(memcmp(before, after, na) == 0);
	struct stat st;
	ck_assert_int_eq(stat(keypath, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0644);

	ck_assert_int_eq(chmod(keypath, 0640), 0);
	ck_assert_int_eq(managed_key_load(keypath, &k, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "0640"));
	ck_assert_int_eq(chmod(keypath, 0400), 0);
	ck_assert_msg(managed_key_load(keypath, &k, err, sizeof(err)) == 0, "%s", err);
}
END_TEST

/* Only root or the user popbridge runs as may own the key file: its owner
 * can read and replace it whatever its mode (issue 12). As root the test
 * hands the file to nobody; as another user it can only check that its own
 * file loads. */
START_TEST(key_foreign_owner_refused)
{
	struct managed_key k;
	new_key(&k);
	ck_assert_msg(managed_key_load(keypath, &k, err, sizeof(err)) == 0, "%s", err);
	if (geteuid() != 0)
		return;
	ck_assert_int_eq(chown(keypath, 65534, 65534), 0);
	ck_assert_int_eq(managed_key_load(keypath, &k, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "owned by uid 65534") != NULL && strstr(err, keypath) != NULL,
	    "unclear message: %s", err);
	ck_assert_int_eq(chown(keypath, 0, 0), 0);
	ck_assert_msg(managed_key_load(keypath, &k, err, sizeof(err)) == 0, "%s", err);
}
END_TEST

START_TEST(key_not_regular_refused)
{
	struct managed_key k;
	ck_assert_int_eq(managed_key_load(dir, &k, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "not a regular file") != NULL, "%s", err);

	char fifo[600];
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	ck_assert_int_eq(managed_key_load_or_create(fifo, &k, NULL, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "not a regular file") != NULL, "%s", err);

	new_key(&k);
	char link[600];
	snprintf(link, sizeof(link), "%s/link", dir);
	ck_assert_int_eq(symlink(keypath, link), 0);
	ck_assert_int_eq(managed_key_load(link, &k, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "symbolic link") != NULL, "%s", err);

	char missing[600];
	snprintf(missing, sizeof(missing), "%s/nope/state.key", dir);
	ck_assert_int_eq(managed_key_load(missing, &k, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "cannot open") != NULL, "%s", err);
	ck_assert_int_eq(managed_key_load_or_create(missing, &k, NULL, err, sizeof(err)), -1);
}
END_TEST

START_TEST(key_bad_format_refused)
{
	struct managed_key k;
	static const char hex64[] =
	    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
	char text[300];

	write_file(keypath, "", 0600);
	ck_assert_int_eq(managed_key_load_or_create(keypath, &k, NULL, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "0 bytes") != NULL, "%s", err);

	snprintf(text, sizeof(text), "popbridge-key-v1\n%s\nextra", hex64);
	write_file(keypath, text, 0600);
	ck_assert_int_eq(managed_key_load(keypath, &k, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "expected 82") != NULL, "%s", err);

	snprintf(text, sizeof(text), "popbridge-key-v2\n%s\n", hex64);
	write_file(keypath, text, 0600);
	ck_assert_int_eq(managed_key_load(keypath, &k, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "not a popbridge key file") != NULL, "%s", err);

	snprintf(text, sizeof(text), "popbridge-key-v1\n%s\n", hex64);
	text[20] = 'G';
	write_file(keypath, text, 0600);
	ck_assert_int_eq(managed_key_load(keypath, &k, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "hex") != NULL, "%s", err);

	snprintf(text, sizeof(text), "popbridge-key-v1\n%s\n", hex64);
	write_file(keypath, text, 0600);
	ck_assert_msg(managed_key_load(keypath, &k, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(k.bytes[0], 0x00);
	ck_assert_uint_eq(k.bytes[1], 0x11);
	ck_assert_uint_eq(k.bytes[31], 0xff);
}
END_TEST

START_TEST(existing_key_never_overwritten)
{
	struct managed_key k1, k2;
	new_key(&k1);
	unsigned char before[200], after[200];
	size_t nb = read_file(keypath, before, sizeof(before));
	for (int i = 0; i < 3; i++) {
		int created = 1;
		ck_assert_int_eq(managed_key_load_or_create(keypath, &k2, &created, err,
		    sizeof(err)), 0);
		ck_assert_int_eq(created, 0);
		ck_assert(memcmp(k1.bytes, k2.bytes, SECRET_KEY_LEN) == 0);
	}
	size_t na = read_file(keypath, after, sizeof(after));
	ck_assert_uint_eq(na, nb);
	ck_assert(memcmp(before, after, na) == 0);
}
END_TEST

/* A process that holds the key is not dumpable: no core file and no
 * ptrace by another process of the same user can show the key or what it
 * opens (upstream passwords, tokens). Each test runs in its own fork. */
START_TEST(key_holder_not_dumpable)
{
	struct managed_key k;
	ck_assert_int_eq(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 1);
	int created = 0;
	ck_assert_msg(managed_key_load_or_create(keypath, &k, &created, err, sizeof(err)) == 0,
	    "%s", err);
	ck_assert_int_eq(created, 1);
	ck_assert_int_eq(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
	/* loading an existing one, in a process that could dump */
	ck_assert_int_eq(prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), 0);
	ck_assert_msg(managed_key_load(keypath, &k, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
	managed_key_clear(&k);
}
END_TEST

static const char *const PW = "Upstream-S3cret! with spaces";

static size_t seal(const struct managed_key *k, const char *account, unsigned char *blob)
{
	size_t blen = 0;
	ck_assert_msg(managed_seal(k, account, (const unsigned char *)PW, strlen(PW), blob,
	    SECRET_BLOB_MAX, &blen, err, sizeof(err)) == 0, "%s", err);
	return blen;
}

START_TEST(round_trip)
{
	struct managed_key k;
	new_key(&k);
	unsigned char blob[SECRET_BLOB_MAX], plain[SECRET_PLAINTEXT_MAX + 1];
	size_t blen = seal(&k, "alice@example.org", blob), plen = 0;
	ck_assert_uint_eq(blen, SECRET_BLOB_OVERHEAD + strlen(PW));
	ck_assert_uint_eq(blob[0], SECRET_BLOB_VERSION);
	ck_assert_msg(managed_unseal(&k, "alice@example.org", blob, blen, plain, sizeof(plain),
	    &plen, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(plen, strlen(PW));
	ck_assert_str_eq((char *)plain, PW);

	/* Two seals of the same secret differ (random nonce). */
	unsigned char blob2[SECRET_BLOB_MAX];
	size_t blen2 = seal(&k, "alice@example.org", blob2);
	ck_assert_uint_eq(blen, blen2);
	ck_assert(memcmp(blob, blob2, blen) != 0);

	/* Empty and maximum-size secrets work; one byte more is refused. */
	ck_assert_int_eq(managed_seal(&k, "a", (const unsigned char *)"", 0, blob,
	    sizeof(blob), &blen, err, sizeof(err)), 0);
	ck_assert_int_eq(managed_unseal(&k, "a", blob, blen, plain, sizeof(plain), &plen, err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(plen, 0);
	unsigned char big[SECRET_PLAINTEXT_MAX + 1];
	memset(big, 'x', sizeof(big));
	ck_assert_int_eq(managed_seal(&k, "a", big, SECRET_PLAINTEXT_MAX, blob, sizeof(blob),
	    &blen, err, sizeof(err)), 0);
	ck_assert_int_eq(managed_unseal(&k, "a", blob, blen, plain, sizeof(plain), &plen, err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(plen, SECRET_PLAINTEXT_MAX);
	ck_assert_int_eq(managed_seal(&k, "a", big, sizeof(big), blob, sizeof(blob), &blen,
	    err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "too long"));
	ck_assert_int_eq(managed_seal(&k, "", big, 1, blob, sizeof(blob), &blen, err,
	    sizeof(err)), -1);
	ck_assert_str_eq(err, STATE_ACCOUNT_RULE);
	/* the account bound is the state's: 255 octets seal, 256 do not */
	char acc[STATE_ACCOUNT_MAX + 2];
	memset(acc, 'a', sizeof(acc) - 1);
	acc[sizeof(acc) - 1] = '\0';
	ck_assert_int_eq(managed_seal(&k, acc, big, 1, blob, sizeof(blob), &blen, err,
	    sizeof(err)), -1);
	ck_assert_str_eq(err, STATE_ACCOUNT_RULE);
	acc[STATE_ACCOUNT_MAX] = '\0';
	ck_assert_int_eq(managed_seal(&k, acc, big, 1, blob, sizeof(blob), &blen, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(managed_unseal(&k, acc, blob, blen, plain, sizeof(plain), &plen, err,
	    sizeof(err)), 0);
}
END_TEST

static void assert_open_fails(const struct managed_key *k, const char *account,
                              const unsigned char *blob, size_t blen, const char *why)
{
	unsigned char plain[SECRET_PLAINTEXT_MAX + 1];
	memset(plain, 'Z', sizeof(plain));
	size_t plen = 12345;
	err[0] = '\0';
	ck_assert_int_eq(managed_unseal(k, account, blob, blen, plain, sizeof(plain), &plen, err,
	    sizeof(err)), -1);
	ck_assert_msg(strstr(err, why) != NULL, "expected '%s' in: %s", why, err);
	ck_assert_uint_eq(plen, 12345);
	/* Nothing of the plaintext is left in the output buffer. */
	ck_assert_ptr_null(memmem(plain, sizeof(plain), "S3cret", 6));
	ck_assert_ptr_null(strstr(err, "S3cret"));
}

START_TEST(wrong_key_fails_cleanly)
{
	struct managed_key k, other;
	new_key(&k);
	unsigned char blob[SECRET_BLOB_MAX];
	size_t blen = seal(&k, "alice", blob);

	char other_path[600];
	snprintf(other_path, sizeof(other_path), "%s/other.key", dir);
	ck_assert_int_eq(managed_key_load_or_create(other_path, &other, NULL, err,
	    sizeof(err)), 0);
	assert_open_fails(&other, "alice", blob, blen, "wrong key file");
	/* The account is bound in: a blob moved to another account fails. */
	assert_open_fails(&k, "bob", blob, blen, "does not authenticate");
}
END_TEST

START_TEST(tampered_blob_fails)
{
	struct managed_key k;
	new_key(&k);
	unsigned char blob[SECRET_BLOB_MAX];
	size_t blen = seal(&k, "alice", blob);
	for (size_t i = 1; i < blen; i++) {
		unsigned char copy[SECRET_BLOB_MAX];
		memcpy(copy, blob, blen);
		copy[i] ^= 0x01;
		assert_open_fails(&k, "alice", copy, blen, "does not authenticate");
	}
	unsigned char copy[SECRET_BLOB_MAX];
	memcpy(copy, blob, blen);
	copy[0] = 0x02;
	assert_open_fails(&k, "alice", copy, blen, "version 2");
	assert_open_fails(&k, "alice", blob, blen - 1, "does not authenticate");
	assert_open_fails(&k, "alice", blob, SECRET_BLOB_OVERHEAD - 1, "impossible length");
	assert_open_fails(&k, "alice", blob, SECRET_BLOB_MAX + 1, "impossible length");
}
END_TEST

START_TEST(blob_hides_plaintext)
{
	struct managed_key k;
	new_key(&k);
	unsigned char blob[SECRET_BLOB_MAX];
	size_t blen = seal(&k, "alice", blob);
	/* Neither the whole password nor any 4-byte piece of it is in the blob. */
	for (size_t i = 0; i + 4 <= strlen(PW); i++)
		ck_assert_msg(memmem(blob, blen, PW + i, 4) == NULL, "piece %zu found", i);
	/* The key file does not contain it either. */
	unsigned char buf[200];
	size_t n = read_file(keypath, buf, sizeof(buf));
	ck_assert_ptr_null(memmem(buf, n, PW, strlen(PW)));
}
END_TEST

/* ---- device passwords -------------------------------------------------- */

START_TEST(generated_password_shape)
{
	char pw[PASSGEN_DIGITS + 1];
	ck_assert_int_eq(managed_password_new(pw, sizeof(pw) - 1), -1);
	unsigned counts[10] = {0};
	char first[PASSGEN_DIGITS + 1];
	const int rounds = 500;
	for (int r = 0; r < rounds; r++) {
		ck_assert_int_eq(managed_password_new(pw, sizeof(pw)), 0);
		ck_assert_uint_eq(strlen(pw), PASSGEN_DIGITS);
		ck_assert_uint_eq(strspn(pw, "0123456789"), PASSGEN_DIGITS);
		for (int i = 0; i < PASSGEN_DIGITS; i++)
			counts[pw[i] - '0']++;
		if (r == 0)
			memcpy(first, pw, sizeof(pw));
		else
			ck_assert_str_ne(first, pw);
	}
	/* Entropy: 20 independent uniform digits = 66.4 bits, at least 64. */
	double bits = PASSGEN_DIGITS * log2(10.0);
	ck_assert(bits >= 64.0);
	ck_assert_int_eq((int)bits, PASSGEN_ENTROPY_BITS);
	/* Every digit is used, roughly uniformly (10000 draws, 1000 expected
	 * each; a chi-square over 9 d.o.f. above 40 has p < 1e-5). */
	double chi = 0;
	for (int d = 0; d < 10; d++) {
		double e = rounds * PASSGEN_DIGITS / 10.0, diff = counts[d] - e;
		chi += diff * diff / e;
	}
	ck_assert_msg(chi < 40.0, "digits not uniform: chi-square %.1f", chi);
}
END_TEST

START_TEST(hash_verify)
{
	char pw[PASSGEN_DIGITS + 1], h1[PASSGEN_HASH_STR_MAX], h2[PASSGEN_HASH_STR_MAX];
	ck_assert_int_eq(managed_password_new(pw, sizeof(pw)), 0);
	ck_assert_int_eq(managed_password_hash(pw, h1, sizeof(h1)), 0);
	ck_assert_int_eq(strncmp(h1, "$scrypt$ln=15,r=8,p=1$", 22), 0);
	ck_assert_uint_eq(strlen(h1), 22 + 32 + 1 + 64);
	ck_assert_ptr_null(strstr(h1, pw));
	ck_assert(managed_password_verify(pw, h1));

	char wrong[PASSGEN_DIGITS + 1];
	memcpy(wrong, pw, sizeof(pw));
	wrong[PASSGEN_DIGITS - 1] = wrong[PASSGEN_DIGITS - 1] == '0' ? '1' : '0';
	ck_assert(!managed_password_verify(wrong, h1));
	ck_assert(!managed_password_verify("", h1));
	char longer[PASSGEN_DIGITS + 2];
	snprintf(longer, sizeof(longer), "%s0", pw);
	ck_assert(!managed_password_verify(longer, h1));

	/* Same password, different salt, different string; both verify. */
	ck_assert_int_eq(managed_password_hash(pw, h2, sizeof(h2)), 0);
	ck_assert_str_ne(h1, h2);
	ck_assert(memcmp(h1 + 22, h2 + 22, 32) != 0);
	ck_assert(managed_password_verify(pw, h2));

	/* A too-small output buffer is an error, not a truncated hash. */
	char small[40];
	ck_assert_int_eq(managed_password_hash(pw, small, sizeof(small)), -1);
	ck_assert(!managed_password_verify_dummy(pw));
}
END_TEST

START_TEST(hash_other_parameters_verify)
{
	/* The string carries its parameters: a hash made with other ones (here
	 * ln=10, r=4, computed with the openssl command line's scrypt for the
	 * password "1234" and salt 00..0f) still verifies. */
	FILE *p = popen("openssl kdf -keylen 32 -kdfopt pass:1234 "
	    "-kdfopt hexsalt:000102030405060708090a0b0c0d0e0f -kdfopt n:1024 -kdfopt r:4 "
	    "-kdfopt p:1 SCRYPT 2>/dev/null", "r");
	ck_assert_ptr_nonnull(p);
	char out[200] = "";
	char *got = fgets(out, sizeof(out), p);
	pclose(p);
	ck_assert_ptr_nonnull(got);
	char hex[65];
	size_t n = 0;
	for (char *c = out; *c != '\0' && n < 64; c++)
		if ((*c >= '0' && *c <= '9') || (*c >= 'A' && *c <= 'F'))
			hex[n++] = (char)(*c >= 'A' ? *c - 'A' + 'a' : *c);
	hex[n] = '\0';
	ck_assert_uint_eq(n, 64);
	char stored[PASSGEN_HASH_STR_MAX];
	snprintf(stored, sizeof(stored), "$scrypt$ln=10,r=4,p=1$000102030405060708090a0b0c0d0e0f$%s",
	    hex);
	ck_assert(managed_password_verify("1234", stored));
	ck_assert(!managed_password_verify("1235", stored));
}
END_TEST

static double cpu_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

START_TEST(dummy_costs_a_verification)
{
	/* An unknown user must cost what a wrong password costs: the dummy runs
	 * the same scrypt. Lower bound only: the dummy takes at least half the
	 * CPU time of a real verification (best of three of each). */
	char h[PASSGEN_HASH_STR_MAX];
	ck_assert_int_eq(managed_password_hash("12345678901234567890", h, sizeof(h)), 0);
	double best_real = 1e9, best_dummy = 1e9;
	for (int i = 0; i < 3; i++) {
		double t0 = cpu_seconds();
		ck_assert(!managed_password_verify("00000000000000000000", h));
		double t1 = cpu_seconds();
		ck_assert(!managed_password_verify_dummy("00000000000000000000"));
		double t2 = cpu_seconds();
		if (t1 - t0 < best_real)
			best_real = t1 - t0;
		if (t2 - t1 < best_dummy)
			best_dummy = t2 - t1;
	}
	ck_assert_msg(best_dummy >= 0.5 * best_real, "dummy %.4fs, real %.4fs", best_dummy,
	    best_real);
	/* An over-long password is refused, but only after the same work. */
	char huge[PASSGEN_PASSWORD_MAX + 10];
	memset(huge, '1', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = '\0';
	double t0 = cpu_seconds();
	ck_assert(!managed_password_verify(huge, h));
	ck_assert_msg(cpu_seconds() - t0 >= 0.5 * best_real, "long password answered early");
	ck_assert_int_eq(managed_password_hash(huge, h, sizeof(h)), -1);
}
END_TEST

START_TEST(hash_malformed_refused)
{
	static const char *const bad[] = {
		"",
		"plain",
		"$scrypt$",
		"$scrypt$ln=15,r=8,p=1$$00112233445566778899aabbccddeeff",
		"$scrypt$ln=9,r=8,p=1$000102030405060708090a0b0c0d0e0f$00112233445566778899aabbccddeeff",
		"$scrypt$ln=21,r=8,p=1$000102030405060708090a0b0c0d0e0f$00112233445566778899aabbccddeeff",
		"$scrypt$ln=20,r=32,p=16$000102030405060708090a0b0c0d0e0f$00112233445566778899aabbccddeeff",
		"$scrypt$ln=15,r=8,p=1$0001020304050607$00",
		"$scrypt$ln=15,r=8,p=1$000102030405060X$00112233445566778899aabbccddeeff",
		"$scrypt$ln=15,r=8,p=1$000102030405060708090a0b0c0d0e0f$00112233445566778899aabbccddeefF",
		"$scrypt$ln=15,r=8,p=1$000102030405060708090a0b0c0d0e0f$00112233445566778899aabbccddeeff$",
		"$scrypt$ln=15,r=8$000102030405060708090a0b0c0d0e0f$00112233445566778899aabbccddeeff",
		"$pbkdf2$ln=15,r=8,p=1$000102030405060708090a0b0c0d0e0f$00112233445566778899aabbccddeeff",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!managed_password_verify("1234", bad[i]), "accepted: %s", bad[i]);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("secret");
	TCase *tk = tcase_create("keyfile");
	tcase_add_checked_fixture(tk, setup, teardown);
	tcase_add_test(tk, default_path);
	tcase_add_test(tk, key_created_0600_even_with_open_umask);
	tcase_add_test(tk, key_umask_restrictive);
	tcase_add_test(tk, key_0644_refused);
	tcase_add_test(tk, key_foreign_owner_refused);
	tcase_add_test(tk, key_not_regular_refused);
	tcase_add_test(tk, key_bad_format_refused);
	tcase_add_test(tk, existing_key_never_overwritten);
	tcase_add_test(tk, key_holder_not_dumpable);
	suite_add_tcase(s, tk);

	TCase *ts = tcase_create("seal");
	tcase_add_checked_fixture(ts, setup, teardown);
	tcase_add_test(ts, round_trip);
	tcase_add_test(ts, wrong_key_fails_cleanly);
	tcase_add_test(ts, tampered_blob_fails);
	tcase_add_test(ts, blob_hides_plaintext);
	suite_add_tcase(s, ts);

	TCase *tp = tcase_create("passwords");
	tcase_set_timeout(tp, 120); /* scrypt at 32 MiB is slow under sanitizers */
	tcase_add_test(tp, generated_password_shape);
	tcase_add_test(tp, hash_verify);
	tcase_add_test(tp, hash_other_parameters_verify);
	tcase_add_test(tp, hash_malformed_refused);
	tcase_add_test(tp, dummy_costs_a_verification);
	suite_add_tcase(s, tp);

	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
