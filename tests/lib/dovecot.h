/* tests/lib/dovecot.h — a private Dovecot instance for tests.
 *
 * pbt_dovecot_start() creates a fresh temporary directory, generates a
 * self-signed certificate (SAN DNS:localhost, IP:127.0.0.1, IP:::1), a config
 * with its own base_dir/state_dir/log_path/instance_name, a passwd-file passdb
 * ({PLAIN}, one file per user), a static userdb and Maildir storage, starts
 * `dovecot -c CONFIG` on free loopback ports (IMAP with STARTTLS, IMAPS, POP3
 * with STLS, POP3S; never 110/143/993/995) and waits until it answers. The
 * auth penalty and failure delay are off and per-user connection limits high.
 * pbt_dovecot_stop() stops it, waits for every process of the instance to exit
 * and removes the directory. A watchdog process does the same if the test
 * process dies in any way (failure, signal, even SIGKILL), so nothing is ever
 * left behind.
 * As root, mail processes run as "nobody" (the directory tree must be
 * reachable by it: TMPDIR defaults to /tmp); as non-root, every process runs
 * as the current user. The POP3 UIDL format is Dovecot's default %08Xu%08Xv.
 * SPECIAL-USE: Trash (\Trash), Archive (\Archive), Sent, Drafts, Junk are
 * configured with auto = no: they exist only once created (here or by IMAP
 * CREATE), so tests can check that something creates them. The IMAP hierarchy
 * separator is "/".
 *
 * Functions returning int return 0 on success, -1 with a message on stderr.
 * Start/stop from the parent process (e.g. a Check unchecked fixture); the
 * other calls may run in forked test children.
 */
#ifndef PBT_DOVECOT_H
#define PBT_DOVECOT_H

#include <stddef.h>
#include <sys/types.h>

#include "tests/lib/msggen.h"

struct pbt_dovecot {
	char dir[256];       /* the temporary root; everything lives below it */
	char ca_file[300];   /* PEM certificate the server presents (self-signed) */
	int imap_port;       /* IMAP, STARTTLS offered, plaintext LOGIN allowed */
	int imaps_port;      /* IMAP over implicit TLS */
	int pop3_port;       /* POP3 with STLS (an "old POP3 server") */
	int pop3s_port;      /* POP3 over implicit TLS */
	pid_t master_pid;
	pid_t watchdog_pid;
};

/* Start an instance; NULL on failure (with the reason and Dovecot's log on stderr). */
struct pbt_dovecot *pbt_dovecot_start(void);
/* The same, with extra_config (Dovecot settings, e.g. "imap_capability = IMAP4rev1
 * UIDPLUS") appended to the generated configuration; NULL adds nothing. Later
 * settings win, so this can change what the instance announces. */
struct pbt_dovecot *pbt_dovecot_start_with(const char *extra_config);
/* The same, with OAuth2 logins besides the passwords (SPEC §10 tests):
 * auth_mechanisms gains `mechanisms` ("xoauth2 oauthbearer", or one of
 * them), served by a second passdb, Dovecot's oauth2 driver, which checks
 * every token at introspection_url (RFC 7662: POST token=..., always asked,
 * no token cache); the answer must say "active": true and give the login
 * name as "username". Password logins go to the passwd-file passdb only.
 * extra_config as for pbt_dovecot_start_with (may be NULL). */
struct pbt_dovecot *pbt_dovecot_start_oauth2(const char *introspection_url,
    const char *mechanisms, const char *extra_config);
/* Stop it and remove everything; NULL is a no-op. */
void pbt_dovecot_stop(struct pbt_dovecot *d);

/* Add a user (its Maildir is created empty) or change its password; Dovecot
 * re-reads the passwd file, no restart needed. A new user can log in at once;
 * set_password and remove_user wait out Dovecot's once-a-second file check
 * (up to 1 s) so that the next login sees the change. Names: letters, digits
 * and . _ - @ + ; passwords: no control characters and no ':'. */
int pbt_dovecot_add_user(struct pbt_dovecot *d, const char *user, const char *password);
int pbt_dovecot_set_password(struct pbt_dovecot *d, const char *user, const char *password);
/* Remove a user's passdb entry (logins then fail); the Maildir stays. */
int pbt_dovecot_remove_user(struct pbt_dovecot *d, const char *user);

/* Create a folder ("INBOX" always exists; creating an existing one is fine).
 * Names as IMAP shows them, '/' for hierarchy: "Trash", "Archive", "Work/2024"
 * (parents are created too; '.' is not allowed). A session that is already
 * logged in may not list a folder created behind its back: log in again. */
int pbt_dovecot_create_folder(struct pbt_dovecot *d, const char *user, const char *folder);

/* Deliver one message into a folder as a Maildir file, bytes exactly as given
 * (any line ends). flags: Maildir info letters, e.g. "" or "S" (\Seen).
 * Messages get ascending UIDs in delivery order. */
int pbt_dovecot_add_message(struct pbt_dovecot *d, const char *user, const char *folder,
    const char *data, size_t len, const char *flags);
/* Deliver a generated message (streamed to the file, never held in memory). */
int pbt_dovecot_add_generated(struct pbt_dovecot *d, const char *user, const char *folder,
    const struct pbt_msgspec *spec, const char *flags);

/* Deliver the contents of a file (copied in chunks, bytes exactly as given). */
int pbt_dovecot_add_file(struct pbt_dovecot *d, const char *user, const char *folder,
    const char *path, const char *flags);

/* Stop the server, delete the folder's dovecot-uidlist and index files, start it
 * again on the same ports: the folder gets a new UIDVALIDITY and new UIDs,
 * holding the same messages. */
int pbt_dovecot_renumber(struct pbt_dovecot *d, const char *user, const char *folder);

/* Path of a folder's Maildir directory (with cur/ new/ tmp/). */
const char *pbt_dovecot_maildir(struct pbt_dovecot *d, const char *user, const char *folder,
    char *buf, size_t len);

/* Stop/start the same instance on the same ports (to test "upstream down"). */
int pbt_dovecot_pause(struct pbt_dovecot *d);
int pbt_dovecot_resume(struct pbt_dovecot *d);

#endif
