/* bridge/base/hex.h — lowercase hexadecimal, the one form bridge/ writes and
 * reads (key file, stored password hashes, match keys), done by OpenSSL
 * (OPENSSL_buf2hexstr_ex / OPENSSL_hexstr2buf_ex, no separator).
 *
 * Contract: encoding writes two lowercase digits per octet and a NUL, no
 * separators. Decoding accepts exactly that form (an even number of the
 * digits 0-9 a-f, nothing else: upper case is refused, so every value has
 * one spelling) and leaves nothing on OpenSSL's error queue. Temporary
 * copies are cleansed: the octets may be key material.
 */
#ifndef BRIDGE_BASE_HEX_H
#define BRIDGE_BASE_HEX_H

#include <stddef.h>

#define BASE_HEX_DECODE_MAX 64   /* octets one base_hex_decode() call returns at most */

/* The n octets of src as 2n lowercase hex digits and a NUL in dst; 0, or -1
 * when cap < 2n + 1 (dst is then ""). */
int base_hex_encode(char *dst, size_t cap, const unsigned char *src, size_t n);

/* The len hex digits at src (no NUL needed) into dst; *out the octets
 * written. 0, or -1 when len is odd, a character is not one of 0-9 a-f, or
 * the result would exceed cap or BASE_HEX_DECODE_MAX octets. */
int base_hex_decode(unsigned char *dst, size_t cap, size_t *out, const char *src, size_t len);

#endif
