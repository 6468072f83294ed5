/* tests/lib/imapd_int.h — internals shared by imapd.c (the interface, the
 * watchdog) and imapd_pkg.c (Cyrus and Courier). Not for tests. */
#ifndef PBT_IMAPD_INT_H
#define PBT_IMAPD_INT_H

#include <stddef.h>

#include "tests/lib/imapc.h"
#include "tests/lib/imapd.h"

/* Every process of a packaged instance D has PBT_IMAPD_INSTANCE=D in its
 * environment: how the watchdog finds them. */
#define PBT_IMAPD_MARKER "PBT_IMAPD_INSTANCE"

/* Where contrib/test-servers.sh unpacked the packages. */
const char *pbt_imapd_pkgroot(char *buf, size_t len);
/* list less the words of hide (case-insensitive), into out; 0 or -1. */
int pbt_imapd_without(const char *list, const char *hide, char *out, size_t len);
/* Send sig to every process of instance dir; how many there were. */
int pbt_imapd_signal_all(const char *dir, int sig);
/* Stop every process of instance dir (TERM, then KILL); 0 or -1. */
int pbt_imapd_stop_processes(const char *dir);
/* The harness's copy of a user's password; log in as the user. */
int pbt_imapd_user_password(struct pbt_imapd *d, const char *user, char *pw, size_t len);
int pbt_imapd_login(struct pbt_imapd *d, struct pbt_imapc *c, const char *user);
/* Maildir flag letters as an IMAP flag list ("\\Seen \\Flagged"). */
int pbt_imapd_flag_list(const char *letters, char *out, size_t len);

int pbt_cyrus_start(struct pbt_imapd *d, const char *hide);
int pbt_cyrus_add_user(struct pbt_imapd *d, const char *user, const char *password);
int pbt_cyrus_renumber(struct pbt_imapd *d, const char *user);
int pbt_courier_start(struct pbt_imapd *d, const char *hide);
int pbt_courier_add_user(struct pbt_imapd *d, const char *user, const char *password);
int pbt_courier_renumber(struct pbt_imapd *d, const char *user, const char *folder);

#endif
