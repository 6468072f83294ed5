/* bridge/managed/password.c — device passwords and their scrypt hashes (see passgen.h). */
#include "bridge/managed/password.h"
#include "bridge/base/hex.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

struct scrypt_params {
	unsigned ln, r, p;
	unsigned char salt[64];
	size_t salt_len;
	unsigned char hash[64];
	size_t hash_len;
};

int managed_password_new(char *out, size_t out_size)
{
	if (out_size < PASSGEN_DIGITS + 1)
		return -1;
	size_t have = 0;
	unsigned char buf[32];
	while (have < PASSGEN_DIGITS) {
		if (RAND_bytes(buf, sizeof(buf)) != 1) {
			OPENSSL_cleanse(out, out_size);
			return -1;
		}
		/* 250 = 25 * 10: bytes 250..255 would bias the digits. */
		for (size_t i = 0; i < sizeof(buf) && have < PASSGEN_DIGITS; i++)
			if (buf[i] < 250)
				out[have++] = (char)('0' + buf[i] % 10);
	}
	out[have] = '\0';
	OPENSSL_cleanse(buf, sizeof(buf));
	return 0;
}

static int run_scrypt(const char *password, size_t pw_len, const struct scrypt_params *sp,
                      unsigned char *out, size_t out_len)
{
	uint64_t n = (uint64_t)1 << sp->ln;
	return EVP_PBE_scrypt(password, pw_len, sp->salt, sp->salt_len, n, sp->r, sp->p,
	    PASSGEN_MAXMEM, out, out_len) == 1 ? 0 : -1;
}

int managed_password_hash(const char *password, char *out, size_t out_size)
{
	size_t pw_len = strlen(password);
	if (pw_len > PASSGEN_PASSWORD_MAX)
		return -1;
	struct scrypt_params sp = {
		.ln = PASSGEN_SCRYPT_LN, .r = PASSGEN_SCRYPT_R, .p = PASSGEN_SCRYPT_P,
		.salt_len = PASSGEN_SALT_LEN, .hash_len = PASSGEN_HASH_LEN,
	};
	if (RAND_bytes(sp.salt, (int)sp.salt_len) != 1 ||
	    run_scrypt(password, pw_len, &sp, sp.hash, sp.hash_len) != 0)
		return -1;
	char salt_hex[2 * PASSGEN_SALT_LEN + 1], hash_hex[2 * PASSGEN_HASH_LEN + 1];
	if (base_hex_encode(salt_hex, sizeof(salt_hex), sp.salt, sp.salt_len) != 0 ||
	    base_hex_encode(hash_hex, sizeof(hash_hex), sp.hash, sp.hash_len) != 0) {
		OPENSSL_cleanse(&sp, sizeof(sp));
		return -1;
	}
	int n = snprintf(out, out_size, "$scrypt$ln=%u,r=%u,p=%u$%s$%s",
	    sp.ln, sp.r, sp.p, salt_hex, hash_hex);
	OPENSSL_cleanse(&sp, sizeof(sp));
	if (n < 0 || (size_t)n >= out_size)
		return -1;
	return 0;
}

/* Parse "NAME=DIGITS" at *s into *v (bounded), advancing *s. */
static int parse_param(const char **s, const char *name, unsigned lo, unsigned hi, unsigned *v)
{
	size_t nl = strlen(name);
	if (strncmp(*s, name, nl) != 0 || (*s)[nl] != '=')
		return -1;
	const char *p = *s + nl + 1;
	unsigned val = 0;
	int digits = 0;
	while (*p >= '0' && *p <= '9' && digits < 3) {
		val = val * 10 + (unsigned)(*p - '0');
		p++;
		digits++;
	}
	if (digits == 0 || val < lo || val > hi)
		return -1;
	*v = val;
	*s = p;
	return 0;
}

/* Parse lowercase hex up to '$' or NUL into dst (lo..hi bytes). */
static int parse_hex(const char **s, unsigned char *dst, size_t lo, size_t hi, size_t *len)
{
	size_t digits = strcspn(*s, "$");
	if (base_hex_decode(dst, hi, len, *s, digits) != 0 || *len < lo)
		return -1;
	*s += digits;
	return 0;
}

static int parse_stored(const char *s, struct scrypt_params *sp)
{
	if (strlen(s) > PASSGEN_HASH_STR_MAX || strncmp(s, "$scrypt$", 8) != 0)
		return -1;
	s += 8;
	if (parse_param(&s, "ln", 10, 20, &sp->ln) != 0 || *s++ != ',' ||
	    parse_param(&s, "r", 1, 32, &sp->r) != 0 || *s++ != ',' ||
	    parse_param(&s, "p", 1, 16, &sp->p) != 0 || *s++ != '$' ||
	    parse_hex(&s, sp->salt, 8, sizeof(sp->salt), &sp->salt_len) != 0 || *s++ != '$' ||
	    parse_hex(&s, sp->hash, 16, sizeof(sp->hash), &sp->hash_len) != 0 || *s != '\0')
		return -1;
	/* scrypt needs about 128 * r * N * p bytes; refuse what we would not run. */
	uint64_t mem = (uint64_t)128 * sp->r * ((uint64_t)1 << sp->ln) * sp->p;
	if (mem > PASSGEN_MAXMEM / 2)
		return -1;
	return 0;
}

static bool verify_params(const char *password, const struct scrypt_params *sp)
{
	size_t pw_len = strlen(password);
	unsigned char got[64];
	bool ok = false;
	/* An over-long password still costs a full scrypt run (on a bounded
	 * prefix), then fails: its length must not show in the timing. */
	bool too_long = pw_len > PASSGEN_PASSWORD_MAX;
	if (run_scrypt(password, too_long ? PASSGEN_PASSWORD_MAX : pw_len, sp,
	        got, sp->hash_len) == 0)
		ok = CRYPTO_memcmp(got, sp->hash, sp->hash_len) == 0 && !too_long;
	OPENSSL_cleanse(got, sizeof(got));
	return ok;
}

bool managed_password_verify(const char *password, const char *stored)
{
	struct scrypt_params sp;
	if (parse_stored(stored, &sp) != 0)
		return false;
	bool ok = verify_params(password, &sp);
	OPENSSL_cleanse(&sp, sizeof(sp));
	return ok;
}

bool managed_password_verify_dummy(const char *password)
{
	/* Default parameters, a fixed salt and a hash no password is expected
	 * to produce: the same work as a real verification, then false. */
	struct scrypt_params sp = {
		.ln = PASSGEN_SCRYPT_LN, .r = PASSGEN_SCRYPT_R, .p = PASSGEN_SCRYPT_P,
		.salt = "popbridge-dummy", .salt_len = PASSGEN_SALT_LEN,
		.hash_len = PASSGEN_HASH_LEN,
	};
	(void)verify_params(password, &sp);
	return false;
}
