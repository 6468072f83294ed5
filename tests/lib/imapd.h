/* tests/lib/imapd.h — a private IMAP server of one of three kinds, behind
 * one interface, so the bridge's integration tests run against each.
 *
 *   DOVECOT  Dovecot 2.3, installed (tests/lib/dovecot.h does the work).
 *   CYRUS    Cyrus IMAP 3.6 and COURIER  Courier IMAP 5: Debian's packages,
 *            unpacked privately by contrib/test-servers.sh (they conflict
 *            with dovecot-imapd) into PBT_SERVERS_ROOT (default
 *            /var/cache/popbridge-tests/root as root). They run from there
 *            with their own configuration and data below a temporary
 *            directory, on free loopback ports, never as a system service;
 *            Courier inside a private mount namespace (unshare -m) whose
 *            overlays show its compiled-in paths (/etc/courier,
 *            /run/courier, /usr/lib/courier*) from the instance and the
 *            unpacked tree, so the host's /etc, /run and /usr stay untouched.
 *            Both need root (mail processes run as "nobody").
 *
 * Like the Dovecot harness, a watchdog process stops every process of the
 * instance and removes its directory when pbt_imapd_stop() runs or the test
 * process dies in any way (SIGKILL included): every process of a Cyrus or
 * Courier instance carries PBT_IMAPD_INSTANCE=DIR in its environment and is
 * found by it.
 *
 * Folder names given to these calls are bare ("INBOX", "Trash",
 * "Work/2024", '/' for hierarchy): the harness puts them below the server's
 * personal namespace ("INBOX." on Cyrus and Courier as Debian ships them,
 * "" on Dovecot) with its separator; pbt_imapd_folder() says what IMAP
 * shows. Messages are delivered with IMAP APPEND as the user on Cyrus and
 * Courier (in delivery order, so UIDs ascend), as Maildir files on Dovecot.
 *
 * Functions returning int return 0 on success, -1 with a message on stderr.
 * Start/stop from the parent process; the other calls may run in forked test
 * children.
 */
#ifndef PBT_IMAPD_H
#define PBT_IMAPD_H

#include <stddef.h>
#include <sys/types.h>

#include "tests/lib/dovecot.h"
#include "tests/lib/msggen.h"

enum pbt_imapd_kind { PBT_IMAPD_DOVECOT, PBT_IMAPD_CYRUS, PBT_IMAPD_COURIER };
#define PBT_IMAPD_KINDS 3

struct pbt_imapd {
	enum pbt_imapd_kind kind;
	char dir[256];          /* the temporary root */
	int imap_port;          /* plaintext IMAP, LOGIN allowed */
	char prefix[16];        /* personal namespace prefix: "" or "INBOX." */
	char sep;               /* hierarchy separator: '/' or '.' */
	struct pbt_dovecot *dc; /* DOVECOT: the instance */
	pid_t watchdog_pid;     /* CYRUS, COURIER: the watchdog, and */
	int watchdog_fd;        /* the write end of its pipe */
	char root[256];         /* CYRUS, COURIER: the unpacked packages */
	int users;              /* users added so far */
};

/* "dovecot", "cyrus", "courier"; parse: the kind or -1. */
const char *pbt_imapd_kind_name(enum pbt_imapd_kind kind);
int pbt_imapd_kind_parse(const char *name);
/* Can this kind run here? 1, or 0 with the reason in why. */
int pbt_imapd_available(enum pbt_imapd_kind kind, char *why, size_t len);

/* Start an instance. hide: NULL, or capabilities (space-separated) the
 * server must not announce, e.g. "MOVE" or "CONDSTORE QRESYNC" (Dovecot:
 * imap_capability; Cyrus: suppress_capabilities; Courier: IMAP_CAPABILITY).
 * NULL on failure (with the reason and the server's log on stderr). */
struct pbt_imapd *pbt_imapd_start(enum pbt_imapd_kind kind, const char *hide);
/* Stop it and remove everything; NULL is a no-op. */
void pbt_imapd_stop(struct pbt_imapd *d);

/* Add a user with an empty INBOX (names: letters, digits, . _ -). */
int pbt_imapd_add_user(struct pbt_imapd *d, const char *user, const char *password);
/* The name IMAP shows for a bare folder name, into buf. */
const char *pbt_imapd_folder(const struct pbt_imapd *d, const char *folder, char *buf,
    size_t len);
/* Create a folder (an existing one is fine). */
int pbt_imapd_create_folder(struct pbt_imapd *d, const char *user, const char *folder);
/* Deliver a message (bytes as given) with Maildir flag letters (DFRST, ""). */
int pbt_imapd_add_message(struct pbt_imapd *d, const char *user, const char *folder,
    const char *data, size_t len, const char *flags);
int pbt_imapd_add_generated(struct pbt_imapd *d, const char *user, const char *folder,
    const struct pbt_msgspec *spec, const char *flags);
/* Give the folder a new UIDVALIDITY and new UIDs, holding the same messages
 * with the same flags. Dovecot: its uidlist and indexes go; Courier: its
 * courierimapuiddb goes; Cyrus: an admin deletes the user's mailboxes and
 * they are re-created and refilled (every folder of the user renumbers). */
int pbt_imapd_renumber(struct pbt_imapd *d, const char *user, const char *folder);

#endif
