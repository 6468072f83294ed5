/* tests/lib/imapc.h — a tiny blocking IMAP client for the test harness
 * (loopback, plaintext LOGIN): enough to create folders, APPEND messages and
 * read them back with their flags. The bridge's own imap/ library is not
 * used, so the harness never depends on the code it tests.
 *
 * Functions return 0 on success (a tagged OK), -1 with a message on stderr.
 */
#ifndef PBT_IMAPC_H
#define PBT_IMAPC_H

#include <stddef.h>

struct pbt_imapc {
	int fd;
	unsigned tag;
	char buf[8192];      /* read-ahead */
	size_t have;
};

/* One untagged response: its text (literals replaced by "{N}"), and the
 * octets of its last literal (NULL when none); both malloc'd. */
struct pbt_imapc_resp {
	char *line;
	char *lit;
	size_t litlen;
};

struct pbt_imapc_resps {
	struct pbt_imapc_resp *v;
	size_t n;
};

/* Connect to 127.0.0.1:port, read the greeting, LOGIN. */
int pbt_imapc_login(struct pbt_imapc *c, int port, const char *user, const char *password);
/* Run one command (printf-style, no tag, no CRLF); untagged responses into
 * out when not NULL (free with pbt_imapc_resps_free). */
int pbt_imapc_cmd(struct pbt_imapc *c, struct pbt_imapc_resps *out, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* APPEND data to mailbox with the flags (IMAP form, e.g. "\\Seen", or ""). */
int pbt_imapc_append(struct pbt_imapc *c, const char *mailbox, const char *flags,
    const char *data, size_t len);
void pbt_imapc_resps_free(struct pbt_imapc_resps *r);
/* LOGOUT (best effort) and close. */
void pbt_imapc_close(struct pbt_imapc *c);

#endif
