/* pop3/base64.h — strict base64 decoding for SASL (RFC 4648 §4, RFC 5034).
 *
 * Accepted: only the standard alphabet, a length that is a multiple of 4,
 * '=' padding only at the end (at most two), and unused bits of the last
 * group zero (so every byte string has exactly one accepted encoding). No
 * whitespace, no line breaks. The empty string decodes to nothing.
 * (SASL on top of it: pop3/sasl.h.)
 */
#ifndef POP3_BASE64_H
#define POP3_BASE64_H

#include <stddef.h>

/* Decode in[0..inlen) into out (at most outcap octets). Returns the decoded
 * length, or -1 when the input is not strict base64 or does not fit. out is
 * NUL-terminated when there is room for it. */
long pop3_base64_decode(const char *in, size_t inlen, char *out, size_t outcap);

#endif
