/* imap/uidset.h — a set of UIDs (1..2^32-1) kept as sorted, disjoint,
 * non-adjacent ranges, so a mailbox of 50,000 mostly consecutive UIDs costs a
 * few ranges, not 50,000 numbers.
 *
 * Contract:
 *  - A zero-initialised struct (or imap_uidset_init) is an empty set; the set
 *    owns its array; imap_uidset_free releases it and leaves an empty set.
 *  - Adding keeps the ranges sorted and merged; adding in ascending or in
 *    descending order is O(1) amortised (one range elsewhere costs a shift
 *    of the ranges after it). Sets from the server (parse, merge,
 *    add_ranges) cost n log n in any order. UID 0 is refused. At most IMAP_UIDSET_RANGES_MAX ranges;
 *    functions that would exceed it (or fail to allocate) return -1 and leave
 *    the set as it was.
 *  - imap_uidset_parse reads an IMAP sequence-set of UIDs as servers send it
 *    (ESEARCH ALL, VANISHED, COPYUID): "1:3,7,9:8"; "*" is refused.
 *  - imap_uidset_format writes ranges from *pos on as "a:b,c", stopping
 *    before max octets, and advances *pos: a caller splits a long set over
 *    several commands by calling it until *pos == set->n.
 */
#ifndef IMAP_UIDSET_H
#define IMAP_UIDSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct imap_range {
	uint32_t lo, hi;  /* lo <= hi, both >= 1 */
};

struct imap_uidset {
	struct imap_range *r;
	size_t n;    /* ranges in use */
	size_t cap;  /* slots from r on */
	size_t head; /* free slots before r (the allocation starts at r - head) */
	size_t moved; /* ranges moved so far to make room: the work done, which
	                 tests hold to O(n) */
};

void imap_uidset_init(struct imap_uidset *set);
void imap_uidset_free(struct imap_uidset *set);
void imap_uidset_clear(struct imap_uidset *set);  /* empty, keeps memory */
int imap_uidset_add(struct imap_uidset *set, uint32_t uid);
int imap_uidset_add_range(struct imap_uidset *set, uint32_t lo, uint32_t hi);
/* Add every range of other: linear in both sizes. */
int imap_uidset_merge(struct imap_uidset *set, const struct imap_uidset *other);
/* Add n ranges in any order (lo > hi is swapped; ranges is sorted in
 * place): n log n plus a merge. -1 (set unchanged) for UID 0, too many
 * ranges or no memory. */
int imap_uidset_add_ranges(struct imap_uidset *set, struct imap_range *ranges, size_t n);
bool imap_uidset_contains(const struct imap_uidset *set, uint32_t uid);
uint64_t imap_uidset_count(const struct imap_uidset *set);
bool imap_uidset_empty(const struct imap_uidset *set);
/* Parse and add; 0, or -1 (set unchanged) when str is not a valid set. */
int imap_uidset_parse(struct imap_uidset *set, const char *str, size_t len);
/* Format ranges [*pos, n) into buf (NUL-terminated) until max octets
 * (max < cap); returns the length written, 0 when nothing fits or nothing
 * is left. */
size_t imap_uidset_format(const struct imap_uidset *set, size_t *pos, char *buf,
    size_t cap, size_t max);

#endif
