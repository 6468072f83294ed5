/* bridge/submit/spool.h — the Sent copies on disk (SPEC §11): one file per
 * submitted message, exactly as the client sent it (dot-unstuffed, CRLF),
 * in the folder STATE.sent beside the state file (mode 0700, files 0600,
 * created with O_EXCL and O_NOFOLLOW), each named by 16 random octets in
 * hex and recorded in the state database (state_sent_*).
 *
 * Contract:
 *  - submit_spool_create() opens a new file; write() appends and hashes
 *    (SHA-256) as the data streams; commit() makes it durable (fsync of the
 *    file and of the folder) and gives its hash; discard() closes and
 *    removes it. Every failure leaves no file and says why in err.
 *  - submit_spool_open() reads one back (for the APPEND), refusing anything
 *    but a regular file of the recorded size.
 *  - Memory: nothing beyond the struct; the message is never held.
 */
#ifndef BRIDGE_SUBMIT_SPOOL_H
#define BRIDGE_SUBMIT_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge/config/options.h"
#include "state/state.h"

#define SUBMIT_SPOOL_DIR_MAX (PB_PATH_MAX + 8)

struct submit_spool_file {
	int fd;                                    /* -1: none */
	char name[STATE_SENT_FILE_MAX + 1];
	char path[SUBMIT_SPOOL_DIR_MAX + STATE_SENT_FILE_MAX + 2];
	void *md;                                  /* EVP_MD_CTX * */
	uint64_t size;
	bool failed;
};

/* "<state>.sent" into dir. 0, or -1 when it does not fit. */
int submit_spool_dir(const char *state_path, char *dir, size_t len);
int submit_spool_create(const char *dir, struct submit_spool_file *f, char *err, size_t errlen);
int submit_spool_write(struct submit_spool_file *f, const char *buf, size_t len);
int submit_spool_commit(struct submit_spool_file *f, char sha256[STATE_SHA256_HEX + 1],
    char *err, size_t errlen);
void submit_spool_discard(struct submit_spool_file *f);
/* The recorded file, open for reading (fd), or -1 with err. */
int submit_spool_open(const char *dir, const char *name, uint64_t size, char *err,
    size_t errlen);
/* Remove a file (done, or refused); ENOENT is fine. */
void submit_spool_remove(const char *dir, const char *name);

#endif
