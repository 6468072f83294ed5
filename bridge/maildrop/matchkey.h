/* bridge/maildrop/matchkey.h — the keys that recognise a message when its UID no
 * longer does (SPEC §4: a UIDVALIDITY change; SPEC §7: UIDLs imported from
 * an old POP3 server).
 *
 * Contract:
 *  - The keys are computed from a message's header block alone: the
 *    Message-ID value and a hash of the fields named in maildrop_matchkey_fields
 *    (Message-ID, Date, From, To, Subject). The block may be the whole
 *    header (POP3 TOP n 0) or only those fields (IMAP BODY.PEEK[HEADER.FIELDS
 *    (...)]); the result is the same, because other fields are ignored.
 *  - Normalisation, so the same message gives the same keys whatever
 *    transport carried it: lines end at LF (a CR before it is dropped); a
 *    line beginning with SP or HT continues the field before it; the block
 *    ends at the first empty line; field names compare ASCII
 *    case-insensitively; only the FIRST occurrence of a field counts; its
 *    value is unfolded, every run of SP/HT/CR becomes one SP, and leading
 *    and trailing spaces are dropped. Octets above 0x7E are kept as they are.
 *  - hash = "s1-" + lowercase hex of SHA-256 over, for each field in the
 *    order of maildrop_matchkey_fields, "name:value\n" (name lowercase) when the
 *    field is present and "name!\n" when absent. Versioned by its prefix:
 *    a different function would get a different prefix, never the same one.
 *  - msgid is the normalised Message-ID value, "" when absent, empty or
 *    longer than MATCHKEY_MSGID_MAX octets.
 *  - Bounded: the block is scanned once, nothing is allocated; a field value
 *    longer than MATCHKEY_VALUE_MAX octets is hashed in full but stored as
 *    msgid only when it fits.
 */
#ifndef BRIDGE_MAILDROP_MATCHKEY_H
#define BRIDGE_MAILDROP_MATCHKEY_H

#include <stddef.h>

#define MATCHKEY_NFIELDS   5
#define MATCHKEY_MSGID_MAX 998            /* STATE_MSGID_MAX */
#define MATCHKEY_HASH_LEN  (3 + 64)       /* "s1-" + SHA-256 hex */

extern const char *const maildrop_matchkey_fields[MATCHKEY_NFIELDS];

struct maildrop_matchkey {
	char msgid[MATCHKEY_MSGID_MAX + 1];
	char hash[MATCHKEY_HASH_LEN + 1];
};

/* Compute the keys of the header block hdr[0..len). 0, or -1 when the hash
 * could not be computed (OpenSSL failure; *out then holds empty keys). */
int maildrop_matchkey_compute(const char *hdr, size_t len, struct maildrop_matchkey *out);

#endif
