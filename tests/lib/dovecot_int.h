/* tests/lib/dovecot_int.h — internals shared by dovecot.c (instance life
 * cycle) and dovecot_mail.c (users, folders, messages). Not for tests. */
#ifndef PBT_DOVECOT_INT_H
#define PBT_DOVECOT_INT_H

#include <stddef.h>
#include <sys/types.h>

#include "tests/lib/dovecot.h"

/* snprintf into buf; 0, or -1 with a message when it does not fit. */
int pbt_dc_path(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The uid/gid that owns the mail files: the unprivileged mail user as root,
 * the current user otherwise. */
void pbt_dc_mail_owner(uid_t *uid, gid_t *gid);
/* Give a path we created to the mail owner (a no-op unless root). */
int pbt_dc_own(const char *path);
/* Create a directory (mode 0700) owned by the mail owner; an existing one is fine. */
int pbt_dc_mkdir(const char *path);
/* Stop the instance's master (from base_dir/master.pid) and every process of
 * the instance, waiting until they are gone. The directory stays. */
int pbt_dc_stop_processes(const char *dir);
/* Start the master with the instance's config and wait until IMAP and POP3
 * answer. */
int pbt_dc_start_master(struct pbt_dovecot *d);

#endif
