/* bridge/managed/password.h — managed-mode device passwords: generation, salted slow
 * hashing, constant-time verification.
 *
 * Contract:
 *  - A device password is PASSGEN_DIGITS (20) decimal digits, each uniform
 *    and independent (RAND_bytes with rejection sampling): 20 * log2(10) =
 *    66.4 bits of entropy. Digits only, because the devices this is for
 *    (scanners, fax-to-mail boxes, old phones) often have a numeric keypad or
 *    multi-tap letters, and digits are never misread (no 0/O, 1/l). No
 *    separators: what is printed is exactly what is typed.
 *    Why 66 bits is enough: online, the failed-login delay (2 s doubling to
 *    15 s per address, SPEC §6) allows well under 1 guess per second per
 *    address; even 10^6 addresses guessing at 1/s need 2^65 / 10^6 s, about
 *    10^6 years, for an even chance. Offline (a stolen state file), every
 *    guess costs one scrypt run (~32 MiB, tens of milliseconds), which puts
 *    2^65 guesses far beyond reach.
 *  - Stored form (self-describing, so parameters can change later):
 *        $scrypt$ln=15,r=8,p=1$<salt: 32 hex>$<hash: 64 hex>
 *    scrypt (EVP_PBE_scrypt) with N = 2^ln = 32768, r = 8, p = 1 (32 MiB,
 *    the parameters RFC 7914 and OWASP name for interactive logins), a
 *    16-byte random salt and a 32-byte output. Verification accepts
 *    ln 10..20, r 1..32, p 1..16, salt 8..64 bytes, hash 16..64 bytes, with
 *    the memory cost bounded by PASSGEN_MAXMEM.
 *  - Verification compares in constant time (CRYPTO_memcmp); the dummy
 *    verification runs scrypt with the default parameters, costing what the
 *    verification of a default hash costs, for a user that does not exist.
 *  - Passwords longer than PASSGEN_PASSWORD_MAX are refused (not hashed).
 */
#ifndef BRIDGE_MANAGED_PASSWORD_H
#define BRIDGE_MANAGED_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

#define PASSGEN_DIGITS        20
#define PASSGEN_ENTROPY_BITS  66     /* floor(20 * log2(10)) */
#define PASSGEN_PASSWORD_MAX  256
#define PASSGEN_SCRYPT_LN     15
#define PASSGEN_SCRYPT_R      8
#define PASSGEN_SCRYPT_P      1
#define PASSGEN_SALT_LEN      16
#define PASSGEN_HASH_LEN      32
#define PASSGEN_MAXMEM        (256u * 1024 * 1024)
#define PASSGEN_HASH_STR_MAX  256    /* room for any accepted hash string */

/* Generate a password into out (room for PASSGEN_DIGITS + 1). */
int managed_password_new(char *out, size_t out_size);

/* Hash password into out ($scrypt$... string, NUL-terminated). */
int managed_password_hash(const char *password, char *out, size_t out_size);

/* true when password matches stored; false on mismatch, on a stored string
 * that cannot be parsed, or on any error. */
bool managed_password_verify(const char *password, const char *stored);

/* The same work as managed_password_verify() against a default hash; always false.
 * For logins naming an unknown user. */
bool managed_password_verify_dummy(const char *password);

#endif
