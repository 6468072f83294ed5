/* bridge/maildrop/folder.h — which upstream folder a special use goes to,
 * for every writer of the account's folders: the commit's Trash and Archive
 * moves (commit.c) and SMTP submission's Sent copy (bridge/submit/).
 *
 * Contract:
 *  - maildrop_folder_target(): the folder carrying SPECIAL-USE attribute
 *    `use` (imap_find_special), else the configured name under the personal
 *    namespace: on a server whose namespace has a prefix (Cyrus and Courier
 *    as Debian ships them: "INBOX." with "."), where a bare "Trash" cannot
 *    be created (Cyrus: NO Permission denied, no [TRYCREATE]), a name
 *    already under the prefix, INBOX itself, or a folder that exists as
 *    given (an administrator's explicit choice) is kept; otherwise the
 *    prefix goes in front, joined by the namespace's hierarchy delimiter
 *    ("Trash" -> "INBOX.Trash"). No NAMESPACE, or an empty prefix (Dovecot,
 *    Gmail): the name as configured. 0, or -1 with detail saying why
 *    (connection trouble, a name too long).
 *  - maildrop_folder_create(): CREATE; an existing folder is fine. 0, or -1
 *    with detail.
 */
#ifndef BRIDGE_MAILDROP_FOLDER_H
#define BRIDGE_MAILDROP_FOLDER_H

#include <stddef.h>

#include "bridge/maildrop/upstream.h"

int maildrop_folder_target(struct maildrop_upstream *up, unsigned use, const char *configured,
    char *out, size_t len, char *detail, size_t detail_len);
int maildrop_folder_create(struct maildrop_upstream *up, const char *folder, char *detail,
    size_t detail_len);

#endif
