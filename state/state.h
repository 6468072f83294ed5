/* state/state.h — popbridge's SQLite database: the only place SQL lives.
 *
 * Contract (applies to every function below):
 *  - A struct state_db is one SQLite connection. Open one per thread (each
 *    session thread opens its own); never share a handle between threads.
 *    Statements are prepared once and cached per handle.
 *  - The file is created on first open and migrated to the current schema in
 *    one transaction; a file whose schema is newer than this binary knows is
 *    refused with a message naming both versions. WAL journal, foreign keys
 *    on, busy timeout STATE_BUSY_TIMEOUT_MS, synchronous=FULL (a returned
 *    write is on disk: SPEC §5's "+OK only once the commit is durable").
 *  - Functions return enum state_rc. On STATE_ERROR/STATE_INVALID
 *    state_errmsg() says why (never a secret, never message content). No
 *    function aborts or exits; a failed call leaves the database unchanged
 *    (each writing call is one transaction, or a savepoint inside the
 *    caller's transaction).
 *  - Writers take turns: every write — a transaction, or one statement a
 *    call makes outside any — begins with BEGIN IMMEDIATE after the writers
 *    of this process before it (STATE_WRITER_WAIT_MS), then waits for other
 *    processes up to STATE_BUSY_TIMEOUT_MS. Past either, STATE_ERROR
 *    "... database is locked ...", nothing written. A thread holding a
 *    transaction on one handle must not write on another handle to the
 *    same file (it would wait for itself until the busy timeout).
 *  - Times are int64 unix seconds UTC, passed in by the caller (`now`); 0
 *    means "never/unknown" in output structs.
 *  - Text is NUL-terminated UTF-8/ASCII, bounded by the STATE_*_MAX lengths
 *    (longer input is STATE_INVALID, never truncated silently). Names may not
 *    contain control characters.
 *  - Callbacks (state_*_cb) run while a statement is being stepped: they must
 *    not call any state_* function on the same handle (that call fails with
 *    STATE_ERROR "re-entered"). Returning non-zero from a callback stops the
 *    iteration; the function then returns STATE_OK.
 *  - Arrays handed out (views, journal entries, candidates) are malloc'd and
 *    owned by the caller, who frees them with the matching *_free function.
 *
 * Model (see each section):
 *   account 1─n device, account 1─n mailbox (one per folder), mailbox 1─n
 *   message (stable internal id, UIDL fixed at first sight), device×message
 *   per-device state, journal 1─n journal item (crash-safe commit, SPEC §5).
 */
#ifndef STATE_STATE_H
#define STATE_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limits (octets, excluding the NUL). */
#define STATE_ACCOUNT_MAX   255 /* account name (an IMAP login name) */
#define STATE_DEVICE_MAX    64  /* device name (the part after '#') */
#define STATE_FOLDER_MAX    255 /* IMAP folder name, as sent on the wire */
#define STATE_USER_MAX      255 /* managed mode: upstream user name */
#define STATE_SECRET_MAX    1024 /* managed mode: encrypted upstream password blob */
#define STATE_HASH_MAX      255 /* managed mode: device password hash text */
#define STATE_ADDR_MAX      63  /* numeric remote address (IPv6 fits) */
#define STATE_PROTO_MAX     15  /* "pop3" */
#define STATE_TLS_MAX       31  /* "TLSv1.3"; "" = no TLS */
#define STATE_WORD_MAX      31  /* offer / seen_on / dele / policy words */
#define STATE_UIDL_MAX      70  /* RFC 1939: 1..70 octets 0x21..0x7E */
#define STATE_MSGID_MAX     998 /* Message-ID header value (RFC 5322 line) */
#define STATE_HHASH_MAX     128 /* header hash text, computed by the caller */
#define STATE_EMAILID_MAX   255 /* RFC 8474 OBJECTID */

/* The account-name rule in words: the one message for every place that
 * refuses an account name (state/, the POP3 login, the admin commands,
 * sealing a managed password). */
#define STATE_STR_(x) #x
#define STATE_STR(x)  STATE_STR_(x)
#define STATE_ACCOUNT_RULE "an account name is 1 to " STATE_STR(STATE_ACCOUNT_MAX) \
	" octets, none of them a control character"
/* Whether name follows STATE_ACCOUNT_RULE (what state_account_add accepts). */
bool state_account_name_ok(const char *name);
/* The device-name rule, likewise the one message for every place that
 * refuses a device name (state/, the configuration's device sections,
 * `popbridge device`); a POP3 login narrows the characters further
 * (bridge/base/username.h). */
#define STATE_DEVICE_RULE "a device name is 1 to " STATE_STR(STATE_DEVICE_MAX) \
	" octets, none of them a control character"
/* Whether name follows STATE_DEVICE_RULE (what state_device_add accepts). */
bool state_device_name_ok(const char *name);
#define STATE_BUSY_TIMEOUT_MS 10000
/* How long a writer of this process waits for the others before it (they
 * take turns, state/db.c): a burst of first logins queues, rather than
 * failing after the busy timeout (the login deadline's default). */
#define STATE_WRITER_WAIT_MS 60000

enum state_rc {
	STATE_OK = 0,
	STATE_NOTFOUND = 1,    /* no such account/device/mailbox/message/entry */
	STATE_EXISTS = 2,      /* unique name or UIDL already taken */
	STATE_UIDVALIDITY = 3, /* state_messages_sync: the mailbox's UIDVALIDITY
	                          changed; nothing was written — call
	                          state_messages_rematch with match keys */
	STATE_LIMIT = 4,       /* state_device_ensure: the account has its
	                          maximum of devices; nothing was created */
	STATE_MOVED = 5,       /* state_journal_begin: the account was moved to
	                          another node (exported); nothing was written */
	STATE_ERROR = -1,      /* database/IO error; state_errmsg() */
	STATE_INVALID = -2,    /* bad argument (too long, bad word, ...) */
};

struct state_db;

/* ---- open / close ---------------------------------------------------------
 * Opens (creating if missing) and migrates PATH. NULL on failure with a
 * message in err (e.g. "popbridge.db: schema version 7 is newer than this
 * popbridge supports (2); upgrade popbridge"). */
struct state_db *state_open(const char *path, char *err, size_t errlen);
/* Copy the state file src into dst, a new file (mode 0600; refused if it
 * exists), without writing src: src is opened read-only, so it is never
 * migrated or checkpointed, whatever its schema version (the copy is, when
 * state_open opens it), and nothing is created beside it unless another
 * process has it open (its -wal and -shm exist then). A consistent copy
 * even while another process writes src. 0, or -1 with a message in err
 * (dst then removed). */
int state_snapshot(const char *src, const char *dst, char *err, size_t errlen);
/* NULL is a no-op. Finalizes every cached statement. */
void state_close(struct state_db *db);
/* The last error's message ("" when none); valid until the next call. */
const char *state_errmsg(const struct state_db *db);
/* The schema version this binary creates/migrates to, and the file's. */
int state_schema_version(void);
int state_db_version(struct state_db *db);

/* Optional grouping: several calls in one write transaction (BEGIN
 * IMMEDIATE). Nested state_* calls use savepoints inside it. Must be ended
 * with commit or rollback on the same handle. */
int state_tx_begin(struct state_db *db);
int state_tx_commit(struct state_db *db);
int state_tx_rollback(struct state_db *db);

/* ---- accounts --------------------------------------------------------------
 * Passthrough accounts hold no secret (created at the first good login).
 * Managed accounts hold the upstream user and the upstream password as an
 * opaque encrypted blob: bridge/ encrypts, state stores bytes. Removing an
 * account removes its devices, mailboxes, messages and journal.
 * Names are stored as first given and compare ASCII case-insensitively in
 * every lookup ("Alice" finds "alice"); adding a name that differs from an
 * existing one only in case is STATE_EXISTS. (A file from before this rule
 * may hold two such rows: lookups take the oldest.) */
enum state_auth {
	STATE_AUTH_PASSTHROUGH = 0,
	STATE_AUTH_MANAGED = 1,
};

/* What a managed account logs in upstream with: its password (the sealed
 * secret) or an OAuth2 grant (the oauth2 row, below; no secret). */
enum state_credential {
	STATE_CRED_PASSWORD = 0,
	STATE_CRED_OAUTH2 = 1,
};

struct state_account {
	int64_t id;
	char name[STATE_ACCOUNT_MAX + 1];
	enum state_auth auth;
	char upstream_user[STATE_USER_MAX + 1]; /* "" in passthrough */
	unsigned char secret[STATE_SECRET_MAX]; /* encrypted blob; managed only */
	size_t secret_len;
	int64_t created;
	enum state_credential credential;       /* PASSWORD in passthrough */
	int credential_ok;  /* the last upstream login with the stored credential:
	                       1 worked, 0 was refused, -1 not known */
	int64_t moved;      /* when it was exported to another node (SPEC §14:
	                       refused here, rows kept frozen); 0 = served here */
};

/* Create; STATE_EXISTS if the name is taken. Managed requires upstream_user
 * and a non-empty secret; passthrough takes NULL/0 for both. *id may be NULL. */
int state_account_add(struct state_db *db, const char *name, enum state_auth auth,
    const char *upstream_user, const void *secret, size_t secret_len, int64_t now,
    int64_t *id);
/* Get-or-create a passthrough account (first good passthrough login). An
 * existing account is returned as it is, whatever its mode. */
int state_account_ensure(struct state_db *db, const char *name, int64_t now,
    struct state_account *out);
int state_account_get(struct state_db *db, const char *name, struct state_account *out);
int state_account_get_by_id(struct state_db *db, int64_t id, struct state_account *out);
/* Replace mode, upstream user and secret (set-password, or turning an
 * auto-created passthrough account into a managed one). The credential
 * becomes a password (an OAuth2 grant is removed) and credential_ok
 * unknown. */
int state_account_set_credentials(struct state_db *db, int64_t account_id,
    enum state_auth auth, const char *upstream_user, const void *secret,
    size_t secret_len);
/* Record whether the stored credential worked upstream (credential_ok);
 * writes only when that changes it. */
int state_account_credential_result(struct state_db *db, int64_t account_id, bool ok);
/* Removing a moved account (its frozen rows) is allowed. */
int state_account_remove(struct state_db *db, const char *name);
/* Mark the account moved to another node at `now` (SPEC §14, `account
 * export`), in one transaction: from then on state_journal_begin refuses its
 * commits (STATE_MOVED) and bridge/ refuses its logins. An account already
 * marked keeps its first mark. *moved (may be NULL) receives the mark in
 * force. STATE_LIMIT, nothing marked, while the account has Sent copies
 * not yet appended (their spool files are this node's). */
int state_account_set_moved(struct state_db *db, int64_t account_id, int64_t now,
    int64_t *moved);
/* Undo a mark that is exactly `moved` (an export that failed after marking):
 * STATE_OK, also when the mark is another one or none (left alone). */
int state_account_clear_moved(struct state_db *db, int64_t account_id, int64_t moved);
typedef int state_account_cb(void *arg, const struct state_account *a);
/* In name order. */
int state_account_list(struct state_db *db, state_account_cb *cb, void *arg);

/* ---- OAuth2 grants (SPEC §10) ----------------------------------------------
 * A managed account whose credential is STATE_CRED_OAUTH2 has one oauth2 row:
 * where and how to get tokens (provider, grant, endpoints, scope, client id,
 * tenant: text bridge/ checks; state bounds it) and the sealed secrets
 * (client secret, refresh token, access token: opaque blobs, empty = none).
 * `generation` grows with every change of the tokens, so a reader can tell
 * whether somebody refreshed since it read them.
 *
 * Refresh lease (one refresh at a time per account, across threads and
 * processes): state_oauth2_lease takes it only for a caller that read the
 * current generation and only while nobody else holds a lease that has not
 * run out; the holder stores its result with state_oauth2_store (which
 * ends the lease) or gives it up with state_oauth2_release. */
#define STATE_PROVIDER_MAX  15   /* "google", "microsoft", "custom" */
#define STATE_GRANT_MAX     31   /* "device-code", ... */
#define STATE_URL_MAX       1024 /* token and device endpoints */
#define STATE_SCOPE_MAX     1024
#define STATE_CLIENT_ID_MAX 255
#define STATE_TENANT_MAX    255
#define STATE_TOKEN_BLOB_MAX 8448 /* a sealed token or client secret */
#define STATE_OAUTH2_ERROR_MAX 255

struct state_oauth2 {
	int64_t account_id;
	char provider[STATE_PROVIDER_MAX + 1];
	char grant[STATE_GRANT_MAX + 1];
	char token_url[STATE_URL_MAX + 1];
	char device_url[STATE_URL_MAX + 1];     /* "" = none */
	char scope[STATE_SCOPE_MAX + 1];        /* "" = none */
	char client_id[STATE_CLIENT_ID_MAX + 1];
	char tenant[STATE_TENANT_MAX + 1];      /* "" = none */
	unsigned char client_secret[STATE_TOKEN_BLOB_MAX];
	size_t client_secret_len;
	unsigned char refresh[STATE_TOKEN_BLOB_MAX];
	size_t refresh_len;
	unsigned char access[STATE_TOKEN_BLOB_MAX];
	size_t access_len;
	int64_t access_expires;                 /* 0 = not known */
	int64_t generation;
	int64_t refreshed;                      /* last token change; 0 = never */
	char last_error[STATE_OAUTH2_ERROR_MAX + 1]; /* "" = none */
};

/* Create a managed account (upstream_user required) whose credential is the
 * grant g (its account_id, generation, refreshed and last_error are
 * ignored), in one transaction. STATE_EXISTS as state_account_add. */
int state_oauth2_account_add(struct state_db *db, const char *name, const char *upstream_user,
    const struct state_oauth2 *g, int64_t now, int64_t *id);
/* The grant of account_id: STATE_NOTFOUND when it has none. */
int state_oauth2_get(struct state_db *db, int64_t account_id, struct state_oauth2 *out);
/* Replace the whole grant (settings and tokens: `popbridge account
 * oauth2-login`); the generation grows, any lease and last_error go,
 * credential_ok becomes unknown. */
int state_oauth2_replace(struct state_db *db, int64_t account_id, const struct state_oauth2 *g,
    int64_t now);
/* Take the refresh lease as owner (non-zero) until `until`: STATE_OK when
 * taken; STATE_EXISTS when the generation is no longer `generation` or
 * another owner's lease runs past now (read the row again). */
int state_oauth2_lease(struct state_db *db, int64_t account_id, int64_t generation,
    int64_t owner, int64_t now, int64_t until);
/* Store new tokens: the access token (blob, its expiry) and, when
 * refresh_len > 0, a new refresh token (a rotated one; 0 keeps the stored
 * one). Stored whoever holds the lease (a token the provider has issued is
 * never thrown away); owner's lease ends. The generation grows, last_error
 * is cleared. */
int state_oauth2_store(struct state_db *db, int64_t account_id, int64_t owner,
    const void *access, size_t access_len, int64_t access_expires,
    const void *refresh, size_t refresh_len, int64_t now);
/* End owner's lease without new tokens; error (may be NULL) becomes
 * last_error. */
int state_oauth2_release(struct state_db *db, int64_t account_id, int64_t owner,
    const char *error);

/* ---- devices ---------------------------------------------------------------
 * (account, device name) is unique, device names compared ASCII
 * case-insensitively exactly as account names are (bridge/ passes them in
 * lower case; older rows may be mixed case and are still found). Settings
 * overrides are the words of
 * SPEC §3 as text ("" = use the global default) and window (-1 = default);
 * the words are validated here: offer all|since-enrolment|unseen, seen_on
 * retr|quit|never, dele hide|trash|archive|flag|expunge|last-device; and
 * login_delay (SPEC §14) as decimal text ("" = default), 0..86400.
 *
 * Enrolment mark (offer since-enrolment): the mailbox UIDNEXT when the
 * device was created, kept across UIDVALIDITY changes. Every message has a
 * per-mailbox ordinal `seq` that never changes (see messages): seq =
 * seq_base + UID for messages first seen under the current UIDVALIDITY, and a
 * UIDVALIDITY change raises seq_base above every earlier seq, while
 * re-attached messages keep their old seq. A device's mark is stored as
 * (mailbox, enrol_seq = seq_base + UIDNEXT at enrolment): a message is
 * "since enrolment" iff it is in that mailbox and its seq >= enrol_seq, which
 * survives renumbering. A mark for another mailbox than the device's current
 * folder counts as unset; an unset mark offers nothing (see
 * state_device_enrol for when it is set). */
struct state_device_settings {
	char folder[STATE_FOLDER_MAX + 1]; /* "" = default */
	char offer[STATE_WORD_MAX + 1];    /* "" = default */
	int64_t window;                    /* -1 = default; 0 = unlimited */
	char seen_on[STATE_WORD_MAX + 1];  /* "" = default */
	char dele[STATE_WORD_MAX + 1];     /* "" = default */
	char login_delay[STATE_WORD_MAX + 1]; /* "" = default; else decimal seconds,
	                                         0..STATE_LOGIN_DELAY_MAX (SPEC §14) */
};
#define STATE_LOGIN_DELAY_MAX 86400

/* Which fields state_device_set changes. */
enum {
	STATE_SET_FOLDER  = 1 << 0,
	STATE_SET_OFFER   = 1 << 1,
	STATE_SET_WINDOW  = 1 << 2,
	STATE_SET_SEEN_ON = 1 << 3,
	STATE_SET_DELE    = 1 << 4,
	STATE_SET_LOGIN_DELAY = 1 << 5,
	STATE_SET_ALL     = 0x3f,
};

struct state_device {
	int64_t id;
	int64_t account_id;
	char account[STATE_ACCOUNT_MAX + 1];
	char name[STATE_DEVICE_MAX + 1];
	int64_t created;
	int64_t last_login;                   /* 0 = never */
	char last_address[STATE_ADDR_MAX + 1]; /* "" = never */
	char protocol[STATE_PROTO_MAX + 1];    /* "" = never */
	char tls[STATE_TLS_MAX + 1];           /* last session's TLS; "" = none */
	bool revoked;
	struct state_device_settings settings;
	char password_hash[STATE_HASH_MAX + 1]; /* managed; "" = none */
	int64_t enrol_mailbox_id;               /* 0 = mark unset */
	int64_t enrol_seq;
	int64_t enrol_time;                     /* when the mark was set */
	/* as of the last state_device_update_counters (end of a session) */
	int64_t retrieved;  /* messages this device has retrieved (RETR) */
	int64_t deleted;    /* messages this device has deleted (hidden) */
	int64_t waiting;    /* messages in its view it has not retrieved */
	int64_t pop3_login; /* its last login over POP3; 0 = never (the counts
	                       above mean nothing then: an IMAP front login
	                       builds no POP3 view) */
	/* now (state_device_list, state_report only; 0 elsewhere): its journal
	 * entries not finished, and of those the ones whose
	 * upstream steps have failed STATE_JOURNAL_STUCK times or more */
	int64_t commits_pending;
	int64_t commits_stuck;
	/* state_device_list, state_report only: messages the device has sent
	 * through SMTP submission (accepted upstream), and of their Sent
	 * copies the ones not yet in the Sent folder */
	int64_t sent;
	int64_t sent_pending;
};

/* Create; STATE_EXISTS if (account, name) exists. settings NULL = all
 * default; password_hash NULL or "" = none. The enrolment mark is set at once
 * when the device's effective folder (settings folder, else default_folder)
 * has been synced before: enrol_seq = seq_base + the stored UIDNEXT (the
 * device may get a few messages that arrived since that sync, never fewer);
 * otherwise it stays unset until state_device_enrol. *out may be NULL. */
int state_device_add(struct state_db *db, int64_t account_id, const char *name,
    const struct state_device_settings *settings, const char *password_hash,
    const char *default_folder, int64_t now, struct state_device *out);
/* Get-or-create with default settings (passthrough first login); *created
 * says which (may be NULL). max_devices > 0: an account that already has
 * that many devices gets no new one (STATE_LIMIT; the count and the insert
 * are one transaction, so parallel first logins cannot overshoot). */
int state_device_ensure(struct state_db *db, int64_t account_id, const char *name,
    const char *default_folder, int64_t now, size_t max_devices, struct state_device *out,
    bool *created);
int state_device_get(struct state_db *db, int64_t account_id, const char *name,
    struct state_device *out);
int state_device_get_by_id(struct state_db *db, int64_t device_id, struct state_device *out);
typedef int state_device_cb(void *arg, const struct state_device *d);
/* account_id 0 = every account. Ordered by account name, device name.
 * Revoked devices included (check ->revoked). */
int state_device_list(struct state_db *db, int64_t account_id, state_device_cb *cb,
    void *arg);
/* Change the fields selected by mask (STATE_SET_*) to s's values ("" / -1
 * clears an override). */
int state_device_set(struct state_db *db, int64_t device_id,
    const struct state_device_settings *s, unsigned mask);
int state_device_set_password(struct state_db *db, int64_t device_id,
    const char *password_hash);
/* revoked = true: the device can no longer log in and no longer counts for
 * last-device; false reinstates it. Its per-message state is kept. */
int state_device_revoke(struct state_db *db, int64_t device_id, bool revoked);
/* Forget every per-message state of the device (offered, retrieved,
 * deleted) and zero its counters: it sees every message of its view again.
 * The enrolment mark, settings, password and login record are kept. */
int state_device_reset(struct state_db *db, int64_t device_id);
/* Removes the device and its per-message state (journal entries of the
 * device are removed too: remove only when no session of it runs). */
int state_device_remove(struct state_db *db, int64_t device_id);
/* Record a successful login: time, numeric address, protocol ("pop3",
 * "imap"), TLS version ("" or NULL = none); a "pop3" one also sets
 * pop3_login. */
int state_device_login(struct state_db *db, int64_t device_id, int64_t now,
    const char *address, const char *protocol, const char *tls);
/* Set the enrolment mark to the mailbox's (uidvalidity, uidnext) if the
 * device has none for this mailbox yet; otherwise nothing changes (returns
 * STATE_OK). uidvalidity must equal the mailbox's stored one (sync first),
 * else STATE_INVALID. Call after state_messages_sync at the first session. */
int state_device_enrol(struct state_db *db, int64_t device_id, int64_t mailbox_id,
    uint32_t uidvalidity, uint32_t uidnext, int64_t now);

/* ---- mailboxes -------------------------------------------------------------
 * One row per (account, folder): the upstream status as last seen. */
struct state_mailbox {
	int64_t id;
	int64_t account_id;
	char folder[STATE_FOLDER_MAX + 1];
	uint32_t uidvalidity;   /* 0 = never synced */
	uint32_t uidnext;
	uint64_t highestmodseq; /* 0 = unknown / no CONDSTORE */
	int64_t seq_base;       /* seq of a message first seen now = seq_base + UID */
};

struct state_mailbox_status {
	uint32_t uidvalidity;   /* non-zero */
	uint32_t uidnext;
	uint64_t highestmodseq; /* 0 = unknown */
};

/* Get-or-create the row for (account, folder). */
int state_mailbox_ensure(struct state_db *db, int64_t account_id, const char *folder,
    struct state_mailbox *out);
int state_mailbox_get(struct state_db *db, int64_t account_id, const char *folder,
    struct state_mailbox *out);
int state_mailbox_get_by_id(struct state_db *db, int64_t mailbox_id,
    struct state_mailbox *out);

/* ---- messages --------------------------------------------------------------
 * A message has a stable internal id (never reused) and, while live, the
 * current (UIDVALIDITY, UID), unique per mailbox. Its UIDL is stored the
 * first time the message is recorded (which is before any device can see
 * it) and never recomputed: default "%08X%08X" of UID and UIDVALIDITY
 * (Dovecot's %08Xu%08Xv); an imported old UIDL takes precedence (the
 * effective UIDL is the imported one when present). A message expunged or
 * moved away upstream is marked gone (kept for the journal and history). */
enum {
	STATE_MF_SEEN    = 1 << 0, /* \Seen upstream */
	STATE_MF_KEYWORD = 1 << 1, /* carries the dele keyword ($POP3Deleted):
	                              hidden from every device of the account */
	STATE_MF_DELETED = 1 << 2, /* \Deleted upstream (recorded, not hidden) */
};

/* One message of an upstream listing. Match keys may be NULL/0 = unknown;
 * a known key is stored, an unknown one leaves the stored value alone. */
struct state_listing {
	uint32_t uid;
	uint64_t size;          /* RFC822.SIZE */
	unsigned flags;         /* STATE_MF_* */
	const char *message_id; /* Message-ID header value */
	const char *hdr_hash;   /* hash of selected headers (caller's choice,
	                           the same function every time) */
	const char *emailid;    /* OBJECTID EMAILID */
	uint64_t gm_msgid;      /* X-GM-MSGID; 0 = unknown */
};

struct state_message {
	int64_t id;
	int64_t mailbox_id;
	uint32_t uidvalidity;
	uint32_t uid;
	int64_t seq;                          /* stable ordinal (enrolment) */
	char uidl[STATE_UIDL_MAX + 1];        /* effective UIDL */
	char old_uidl[STATE_UIDL_MAX + 1];    /* imported; "" = none */
	uint64_t rfc822_size;
	uint64_t exact_size;                  /* valid when size_exact */
	bool size_exact;
	unsigned flags;                       /* STATE_MF_* as last listed */
	char message_id[STATE_MSGID_MAX + 1]; /* "" = unknown */
	char hdr_hash[STATE_HHASH_MAX + 1];   /* "" = unknown */
	char emailid[STATE_EMAILID_MAX + 1];  /* "" = unknown */
	uint64_t gm_msgid;                    /* 0 = unknown */
	int64_t first_seen;
	int64_t gone;                         /* time marked gone; 0 = live */
};

struct state_sync_result {
	size_t added;   /* messages recorded for the first time */
	size_t updated; /* known messages whose flags/size/keys were refreshed */
	size_t gone;    /* live messages absent from a complete listing */
};

/* Record a listing in ONE transaction and store the mailbox status. The
 * first sync of a mailbox adopts st->uidvalidity. If st->uidvalidity differs
 * from the stored one, nothing is written and STATE_UIDVALIDITY is returned.
 * complete = the listing is the whole mailbox (UID 1:*): live messages not in
 * it are marked gone. Items need not be sorted; a UID listed twice is
 * STATE_INVALID. res may be NULL. */
int state_messages_sync(struct state_db *db, int64_t mailbox_id,
    const struct state_mailbox_status *st, const struct state_listing *items,
    size_t n, bool complete, int64_t now, struct state_sync_result *res);
/* Of uids[0..n) (current UIDVALIDITY of the mailbox), write the ones not
 * recorded yet into missing[] (capacity n) in input order; *n_missing set.
 * Lets the caller fetch headers (match keys) only for new messages. */
int state_messages_unknown(struct state_db *db, int64_t mailbox_id,
    const uint32_t *uids, size_t n, uint32_t *missing, size_t *n_missing);

struct state_rematch_result {
	size_t matched; /* re-attached: UIDL, seq and per-device state kept */
	size_t added;   /* new messages: new id, new default UIDL */
	size_t lost;    /* known live messages not found: marked gone */
};

/* The UIDVALIDITY changed: items is the complete new listing with match keys.
 * In ONE transaction each item is re-attached to a known live message of the
 * mailbox — by EMAILID when both sides know it, else X-GM-MSGID likewise,
 * else by equal (Message-ID, RFC822.SIZE, header hash) where NULL/"" equals
 * only itself and at least size and header hash must be known; among equal
 * candidates the lowest old UID goes to the lowest new UID — keeping its
 * id, UIDL and per-device state; the rest are added; unmatched known
 * messages are marked gone. Then the mailbox status is stored and seq_base
 * raised (see devices). Also valid when st->uidvalidity equals the stored one
 * (a no-op re-attach). res may be NULL. */
int state_messages_rematch(struct state_db *db, int64_t mailbox_id,
    const struct state_mailbox_status *st, const struct state_listing *items,
    size_t n, int64_t now, struct state_rematch_result *res);

int state_message_get(struct state_db *db, int64_t message_id, struct state_message *out);
/* Live message with this UID under the mailbox's current UIDVALIDITY. */
int state_message_by_uid(struct state_db *db, int64_t mailbox_id, uint32_t uid,
    struct state_message *out);
typedef int state_message_cb(void *arg, const struct state_message *m);
/* Live messages of the mailbox, ascending UID. */
int state_messages_list(struct state_db *db, int64_t mailbox_id, state_message_cb *cb,
    void *arg);
/* Mark these UIDs (current UIDVALIDITY) gone: expunged/moved upstream,
 * VANISHED. Unknown UIDs are ignored. One transaction. */
int state_messages_gone(struct state_db *db, int64_t mailbox_id, const uint32_t *uids,
    size_t n, int64_t now);
/* The exact octet count RETR sends, learned on first download. */
int state_message_set_exact_size(struct state_db *db, int64_t message_id,
    uint64_t size);
/* A message's UID and a size (exact sizes in bulk). */
struct state_uid_size {
	uint32_t uid;
	uint64_t size;
};
/* Live messages of the mailbox (current UIDVALIDITY) that have no exact size
 * yet, ascending UID, with their RFC822.SIZE: a malloc'd array (*out NULL
 * when there are none) the caller frees with free(). */
int state_messages_inexact(struct state_db *db, int64_t mailbox_id,
    struct state_uid_size **out, size_t *n);
/* Store exact sizes by UID (current UIDVALIDITY) in ONE transaction, e.g.
 * as computed from the upstream size and how the message ends before any
 * download. UIDs that are not live messages of the mailbox are ignored. */
int state_messages_set_exact_sizes(struct state_db *db, int64_t mailbox_id,
    const struct state_uid_size *items, size_t n);
/* Live messages of the mailbox under its current UIDVALIDITY (what a
 * complete listing last recorded, less what was marked gone since): how
 * many, and their UIDs ascending as a malloc'd array (*out NULL when there
 * are none) the caller frees with free(). A mailbox never synced has none. */
int state_messages_live_count(struct state_db *db, int64_t mailbox_id, size_t *n);
int state_messages_live_uids(struct state_db *db, int64_t mailbox_id, uint32_t **out,
    size_t *n);
/* The same for the live messages that have no match keys (hdr_hash NULL):
 * a first listing records them before their keys come (issue 11). */
int state_messages_keyless(struct state_db *db, int64_t mailbox_id, uint32_t **out,
    size_t *n);
/* Store the match keys (message_id, hdr_hash; hdr_hash not NULL) of the
 * items by UID (current UIDVALIDITY) in ONE transaction, for live messages
 * that have none yet; others are left as they are. */
int state_messages_set_keys(struct state_db *db, int64_t mailbox_id,
    const struct state_listing *items, size_t n);
/* Delete gone messages marked before `before` that no unfinished journal
 * entry refers to; *removed may be NULL. */
int state_messages_purge(struct state_db *db, int64_t mailbox_id, int64_t before,
    size_t *removed);

/* ---- a device's view (SPEC §3) ---------------------------------------------
 * The global defaults the device's overrides fall back to. */
struct state_view_defaults {
	const char *folder; /* e.g. "INBOX" */
	const char *offer;  /* all | since-enrolment | unseen */
	int64_t window;     /* 0 = unlimited */
};

/* A message M is in device D's view iff: D's effective folder is M's
 * mailbox; M is live and has no STATE_MF_KEYWORD; D has not deleted M; the
 * effective offer admits M (all: always; since-enrolment: M.seq >= D's mark
 * for that mailbox; unseen: D was offered M before, or M is not \Seen); and,
 * with an effective window N > 0, fewer than N messages with a higher UID
 * pass the same tests. */
struct state_view_msg {
	int64_t id;
	uint32_t uid;
	uint64_t size;   /* exact size when known, else RFC822.SIZE */
	bool size_exact;
	unsigned flags;  /* STATE_MF_* */
	bool retrieved;  /* this device has retrieved it before */
	char uidl[STATE_UIDL_MAX + 1];
};

/* Build D's view (ascending UID) into a malloc'd array (*out NULL when
 * empty) and, in the same transaction, record "offered at now" for each
 * message offered for the first time (offer unseen keeps them in the view).
 * Free with state_view_free. */
int state_view_build(struct state_db *db, int64_t device_id,
    const struct state_view_defaults *def, int64_t now, struct state_view_msg **out,
    size_t *n);
void state_view_free(struct state_view_msg *v);
/* How many devices of M's account, not revoked, have M in their view (so
 * have not deleted it). dele last-device: hide first (journal begin), then
 * expunge when this is 0. */
int state_message_holders(struct state_db *db, int64_t message_id,
    const struct state_view_defaults *def, int64_t *count);
/* The defaults one device's overrides fall back to (the global options with
 * the device's section of the configuration file applied): fill *out, whose
 * strings must stay valid until the next call; 0, or -1 (an error). */
typedef int state_device_defaults_fn(void *arg, const char *account, const char *device,
    struct state_view_defaults *out);
/* As state_message_holders, with each device's own defaults from fn, so a
 * device whose configured folder, offer or window leaves M out of its view
 * is not counted (precedence: fn's defaults, then the device's stored
 * overrides, exactly as its maildrop sees it). */
int state_message_holders_by(struct state_db *db, int64_t message_id,
    state_device_defaults_fn *fn, void *arg, int64_t *count);

/* ---- per-device message state ----------------------------------------------
 * (device, message) → offered / retrieved / deleted times; 0 = not. */
struct state_devmsg {
	int64_t offered;
	int64_t retrieved;
	int64_t deleted;
};

/* STATE_OK with zeros when the device has no state for the message. */
int state_devmsg_get(struct state_db *db, int64_t device_id, int64_t message_id,
    struct state_devmsg *out);
/* Batch updates, one transaction each; the first time is kept (idempotent).
 * (Offers are recorded by state_view_build itself.) */
int state_devmsg_retrieved(struct state_db *db, int64_t device_id, const int64_t *ids,
    size_t n, int64_t now);
int state_devmsg_deleted(struct state_db *db, int64_t device_id, const int64_t *ids,
    size_t n, int64_t now);
/* Recompute and store D's counters (retrieved, deleted, waiting = in view and
 * not retrieved) — call at the end of a session. out may be NULL. */
int state_device_update_counters(struct state_db *db, int64_t device_id,
    const struct state_view_defaults *def, struct state_device *out);

/* ---- the commit journal (SPEC §5) -------------------------------------------
 * One entry per committing session. Lifecycle: state_journal_begin (PENDING)
 * → the bridge does the upstream steps, each idempotent (STORE +FLAGS, MOVE,
 * UID EXPUNGE: repeating one after a crash changes nothing more), marking
 * items done as it goes → state_journal_set_state(UPSTREAM_DONE) →
 * state_journal_finish (DONE). Entries not DONE are replayed from the start
 * at the next session of the account (state_journal_pending): a crash at any
 * instant leaves either no entry (nothing committed; the client got no +OK)
 * or a complete intent. Concurrent replays by two sessions are harmless
 * because every step is idempotent. */
enum state_journal_state {
	STATE_JOURNAL_PENDING = 0,
	STATE_JOURNAL_UPSTREAM_DONE = 1,
	STATE_JOURNAL_DONE = 2,
};

enum {
	STATE_JA_DELETE = 1 << 0, /* apply the entry's dele policy to it */
	STATE_JA_SEEN   = 1 << 1, /* set \Seen upstream (seen_on quit) */
	STATE_JA_COPIED = 1 << 2, /* a move without MOVE: the UID COPY to the
	                             target is done (state_journal_item_copied),
	                             so a replay does not copy it again */
};

struct state_journal_item {
	int64_t message_id;
	uint32_t uidvalidity; /* as when the intent was written */
	uint32_t uid;
	unsigned actions;     /* STATE_JA_* */
	bool done;
};

struct state_journal {
	int64_t id;
	int64_t account_id;
	int64_t device_id;
	int64_t mailbox_id;
	char folder[STATE_FOLDER_MAX + 1];
	char policy[STATE_WORD_MAX + 1]; /* the dele word in force */
	enum state_journal_state state;
	int64_t created;
	size_t n_items;
	struct state_journal_item *items; /* ascending UID */
};

/* Write the intent: a PENDING entry with an item per message of delete_ids
 * (STATE_JA_DELETE) and seen_ids (STATE_JA_SEEN; an id in both gets both),
 * each with its current UIDVALIDITY/UID, AND mark the delete_ids deleted
 * (hidden) for the device — all in ONE transaction, durable on return.
 * Why one transaction: the intent must be on disk before any upstream change,
 * and the device-local hiding must never exist without it nor it without
 * the hiding. If the hiding waited for the upstream steps, a crash between
 * them would show the device messages it already deleted (a re-download);
 * hiding is idempotent and purely local, and everything upstream is replayed
 * from the journal, so applying it with the intent loses nothing. It also
 * orders last-device correctly: this device no longer holds the message when
 * the bridge counts holders. Messages must be in the entry's mailbox (else
 * STATE_INVALID; gone ones are accepted). policy: the dele word. No ids at
 * all is valid (an entry with no items). *id may be NULL. An account moved
 * to another node (state_account_set_moved) takes no new intent:
 * STATE_MOVED, nothing written (the export has its state already; the
 * device does its deletions again on the new node). */
int state_journal_begin(struct state_db *db, int64_t device_id, int64_t mailbox_id,
    const char *policy, const int64_t *delete_ids, size_t n_delete,
    const int64_t *seen_ids, size_t n_seen, int64_t now, int64_t *id);
/* Entries of the account not DONE, oldest first, with their items. Free
 * with state_journal_free. */
int state_journal_pending(struct state_db *db, int64_t account_id,
    struct state_journal **out, size_t *n);
/* One entry (any state) as a malloc'd array of one; free with
 * state_journal_free(*out, 1). */
int state_journal_get(struct state_db *db, int64_t journal_id, struct state_journal **out);
void state_journal_free(struct state_journal *v, size_t n);
/* Record that the upstream step for one item is done (idempotent). */
int state_journal_item_done(struct state_db *db, int64_t journal_id, int64_t message_id);
/* Record STATE_JA_COPIED on an item (the first half of a move done by COPY
 * on a server without MOVE). Idempotent. */
int state_journal_item_copied(struct state_db *db, int64_t journal_id, int64_t message_id);
/* PENDING → UPSTREAM_DONE; setting the current state again is a no-op, an
 * older state (or DONE: use state_journal_finish) is STATE_INVALID. */
int state_journal_set_state(struct state_db *db, int64_t journal_id,
    enum state_journal_state st);
/* → DONE. items_gone = true when the policy removed every STATE_JA_DELETE
 * message from the folder upstream (trash, archive, expunge): they are marked
 * gone in the same transaction. For last-device the caller marks the ones it
 * expunged with state_messages_gone and passes false. Idempotent. */
int state_journal_finish(struct state_db *db, int64_t journal_id, bool items_gone,
    int64_t now);
/* A run of the entry's upstream steps failed with `error` (the step and the
 * server's answer; cut to STATE_ERROR_TEXT_MAX octets): count it and keep
 * the text. *failures (may be NULL) receives the count so far. A DONE
 * entry is left alone (STATE_NOTFOUND). */
#define STATE_ERROR_TEXT_MAX 300
int state_journal_failed(struct state_db *db, int64_t journal_id, const char *error,
    int64_t *failures);
/* The number of failed runs after which an entry counts as stuck (report,
 * device list) and each further failure is logged as an error: 3, so a
 * passing outage (a server restart, a timeout, a dropped connection) that
 * heals by the next session or the one after stays a warning, while a
 * refusal that will never heal by itself (a NO to UID MOVE, a missing
 * folder that cannot be created) is an error by the third session of the
 * account — minutes after the first, for a device that polls. */
#define STATE_JOURNAL_STUCK 3
/* Delete DONE entries created before `before`. *removed may be NULL. */
int state_journal_purge(struct state_db *db, int64_t before, size_t *removed);
/* Every account's entries not DONE, and of those the stuck ones (failed
 * STATE_JOURNAL_STUCK times or more), for the metrics (SPEC §14). Reads a
 * partial index of the unfinished entries only (schema 7): its cost follows
 * what is unfinished, not the table. Either pointer may be NULL. */
int state_journal_unfinished(struct state_db *db, int64_t *pending, int64_t *stuck);

/* ---- Sent copies (SPEC §11) ---------------------------------------------------
 * A message a device submitted, kept as a file beside the state file until
 * it is in the account's Sent folder. Lifecycle:
 *   SENDING   recorded before the final "." goes upstream (state_sent_add):
 *             the upstream has not answered yet. A row still SENDING when
 *             popbridge starts is from a process that died before it knew
 *             the answer — the device got no 250 and sends again — and is
 *             dropped (state_sent_stale).
 *   PENDING   the upstream accepted it (before the device hears 250): the
 *             copy is owed.
 *   APPENDING an APPEND was sent whose outcome is unknown (connection lost,
 *             crash): before the next APPEND, the Sent folder is searched
 *             for it, so it is never appended twice.
 *   DONE      in the Sent folder (folder, UID when the server told it).
 * A refused message's row is removed (state_sent_remove). */
enum state_sent_state {
	STATE_SENT_SENDING = 0,
	STATE_SENT_PENDING = 1,
	STATE_SENT_APPENDING = 2,
	STATE_SENT_DONE = 3,
};

#define STATE_SENT_FILE_MAX 64    /* a spool file name (no '/') */
#define STATE_SHA256_HEX    64

struct state_sent {
	int64_t id;
	int64_t account_id;
	int64_t device_id;        /* 0 when the device was removed */
	char file[STATE_SENT_FILE_MAX + 1];
	uint64_t size;
	char sha256[STATE_SHA256_HEX + 1]; /* lower-case hex of the file */
	enum state_sent_state state;
	int64_t created;
	int64_t attempts;         /* APPEND runs that failed */
	char last_error[STATE_ERROR_TEXT_MAX + 1];
	char folder[STATE_FOLDER_MAX + 1];   /* DONE: where it went */
	uint32_t uidvalidity, uid;           /* DONE: APPENDUID or the search; 0: unknown */
};

/* A SENDING row; *id may be NULL. file: 1..STATE_SENT_FILE_MAX octets of
 * [A-Za-z0-9._-]; sha256: 64 lower-case hex digits. */
int state_sent_add(struct state_db *db, int64_t account_id, int64_t device_id,
    const char *file, uint64_t size, const char *sha256, int64_t now, int64_t *id);
/* SENDING -> PENDING, and the device's sent counter + 1, in one transaction. */
int state_sent_accepted(struct state_db *db, int64_t id);
/* A message the device sent without a Sent copy (sent-copy never or
 * skipped): its sent counter + 1. */
int state_device_sent(struct state_db *db, int64_t device_id);
/* PENDING <-> APPENDING (an APPEND goes out / was answered NO); other
 * moves are STATE_INVALID. */
int state_sent_set_state(struct state_db *db, int64_t id, enum state_sent_state st);
/* -> DONE with where it went. Idempotent. */
int state_sent_done(struct state_db *db, int64_t id, const char *folder, uint32_t uidvalidity,
    uint32_t uid, int64_t now);
/* An APPEND run failed with error (cut to STATE_ERROR_TEXT_MAX): count it;
 * *attempts (may be NULL) gets the count. */
int state_sent_failed(struct state_db *db, int64_t id, const char *error, int64_t *attempts);
int state_sent_get(struct state_db *db, int64_t id, struct state_sent *out);
int state_sent_remove(struct state_db *db, int64_t id);
typedef int state_sent_cb(void *arg, const struct state_sent *s);
/* account_id > 0: the account's PENDING and APPENDING rows, oldest first;
 * account_id 0: those of every account. At most limit rows (0: all). */
int state_sent_pending(struct state_db *db, int64_t account_id, size_t limit,
    state_sent_cb *cb, void *arg);
/* How many PENDING and APPENDING rows (copies owed to Sent) every account
 * has together: the metrics' gauge; a partial index holds only them. */
int state_sent_owed(struct state_db *db, int64_t *n);
/* The SENDING rows (start-up only: see above), oldest first. */
int state_sent_stale(struct state_db *db, state_sent_cb *cb, void *arg);
/* Whether a row names this spool file (orphan files have none). */
int state_sent_has_file(struct state_db *db, const char *file, bool *has);
/* The UIDs in folder (under uidvalidity) that DONE rows of the account
 * with this sha256 already claim, into out (capacity cap); *n the count
 * found (may exceed cap). */
int state_sent_claimed(struct state_db *db, int64_t account_id, const char *sha256,
    const char *folder, uint32_t uidvalidity, uint32_t *out, size_t cap, size_t *n);
/* Delete DONE rows finished before `before`. *removed may be NULL. */
int state_sent_purge(struct state_db *db, int64_t before, size_t *removed);

/* ---- UIDL import (SPEC §7, issue 7) ------------------------------------------
 * Candidates for an old POP3 message: live messages of the mailbox whose
 * stored keys equal the given ones (NULL = do not filter on that key) and
 * whose RFC822.SIZE or exact size lies in [size_min, size_max] (size_max 0 =
 * no size filter). At least one key or a size range is required. Writes up
 * to cap ids (ascending UID) into ids; *n is the total number found (may
 * exceed cap: ambiguous). */
struct state_match_query {
	const char *message_id;
	const char *hdr_hash;
	uint64_t size_min;
	uint64_t size_max;
};
int state_match_candidates(struct state_db *db, int64_t mailbox_id,
    const struct state_match_query *q, int64_t *ids, size_t cap, size_t *n);

struct state_uidl_import {
	int64_t message_id;
	const char *old_uidl; /* 1..70 octets 0x21..0x7E */
};
/* Store the old UIDLs in ONE transaction. Storing the same value again
 * changes nothing (idempotent); a different imported value replaces the old
 * one. Uniqueness is checked once the whole batch is written (UIDLs may
 * move between messages, e.g. two messages swap theirs): a UIDL that is then
 * the effective UIDL of another live message of the same mailbox is
 * STATE_EXISTS and nothing is written. *changed (may be NULL): how many
 * messages got a new value. */
int state_import_uidls(struct state_db *db, const struct state_uidl_import *items,
    size_t n, size_t *changed);

/* ---- moving an account to another node (SPEC §14) ----------------------------
 * `account export` reads every row of one account (state_move_dump) and
 * `account import` writes them into another state file (state_move_load_*),
 * as generic rows of the tables state_move_tables() lists, in that order
 * (rows that refer to others come after them): what belongs to an account,
 * column by column, is said here once, and both sides follow it. Every
 * column of every table of the schema is either moved or named as not
 * moved (the account's own id and move mark, the implicit account_id, an
 * OAuth2 refresh lease); state_move_schema_check refuses a schema with a
 * column nobody placed, so a new table or column cannot be left behind by a
 * move.
 *
 * Ids: a table's own id (STATE_MC_ID, its first column) is the exporting
 * file's; a reference (STATE_MC_REF) names a row of an earlier table by
 * that id. Import renumbers both: rows get new ids, and references follow.
 * Sealed secrets (STATE_MC_SEALED) are blobs sealed with a node's key file:
 * bridge/ opens them for the file and seals them again on import. */
enum state_move_type { STATE_MT_INT = 1, STATE_MT_TEXT = 2, STATE_MT_BLOB = 3 };
enum {
	STATE_MC_ID     = 1 << 0, /* the row's own id (first column) */
	STATE_MC_REF    = 1 << 1, /* the id of a row of table `ref` (earlier) */
	STATE_MC_NULL   = 1 << 2, /* may be NULL */
	STATE_MC_SEALED = 1 << 3, /* a blob sealed with the node's key file */
};
/* The form a TEXT column's value must have (beyond its length). */
enum state_move_form {
	STATE_FORM_ANY = 0, /* any octets but NUL (header values) */
	STATE_FORM_NAME,    /* no control characters, not empty */
	STATE_FORM_PRINT,   /* no control characters, may be empty */
	STATE_FORM_UIDL,    /* 1..70 octets 0x21..0x7E */
	STATE_FORM_OFFER,   /* a word of SPEC §3 */
	STATE_FORM_SEEN_ON,
	STATE_FORM_DELE,
};
struct state_move_col {
	const char *name;
	enum state_move_type type;
	unsigned flags;            /* STATE_MC_* */
	int ref;                   /* STATE_MC_REF: the table's index */
	int64_t min, max;          /* INT: the range; TEXT, BLOB: octets */
	enum state_move_form form; /* TEXT */
};
struct state_move_table {
	const char *name;          /* as in the schema, and in the file */
	const struct state_move_col *cols;
	size_t ncol;
	bool at_most_one;          /* one row per account at most */
};
/* The tables of an account in dump and load order (index 0 is accounts,
 * exactly one row); *n receives the count. */
const struct state_move_table *state_move_tables(size_t *n);
#define STATE_MOVE_COLS_MAX 32

/* One value of a row: null, or by the column's type i (INT) or p/len
 * (TEXT: also NUL-terminated at p[len]; BLOB). */
struct state_move_value {
	bool null;
	int64_t i;
	const unsigned char *p;
	size_t len;
};

/* Whether v (t->ncol values) is a valid row of t: types, NULLs, ranges,
 * lengths, forms and the rules between the columns of one row (an account's
 * mode and credentials). Needs no database (the import file's reader checks
 * every row before anything is written). 0, or -1 with the column and the
 * rule in err. */
int state_move_row_check(const struct state_move_table *t, const struct state_move_value *v,
    char *err, size_t errlen);

/* STATE_OK when every column of the schema is placed (moved or named as not
 * moved); STATE_ERROR naming the first that is not. Dump and load check it. */
int state_move_schema_check(struct state_db *db);

/* Every row of the account, table by table in state_move_tables() order,
 * each table's rows by ascending id (devmsg and journal items by their
 * references), all in one read transaction: cb(arg, table, values) per row
 * (the values are valid during the call). */
typedef int state_move_row_cb(void *arg, const struct state_move_table *t,
    const struct state_move_value *v);
int state_move_dump(struct state_db *db, int64_t account_id, state_move_row_cb *cb,
    void *arg);

/* Loading one account, all or nothing: state_move_load_begin opens the
 * write transaction (held until commit or abort) and refuses an account of
 * that name (case-insensitively) with STATE_EXISTS — unless it is marked
 * moved away (an account coming back): its frozen rows are removed in the
 * same transaction and *replaced (may be NULL) gets its mark. Rows come in
 * dump order: the accounts row first (its name exactly `account`), each
 * table's ids ascending, references to rows already loaded; any other
 * order, a reference to no row, a duplicate or an invalid row is
 * STATE_INVALID naming the table, the row and the column. commit checks
 * that the rows make an account (its OAuth2 grant with an OAuth2
 * credential) and commits; abort rolls everything back. Both free ld. */
struct state_move_load;
int state_move_load_begin(struct state_db *db, const char *account, int64_t *replaced,
    struct state_move_load **out);
int state_move_load_row(struct state_move_load *ld, const struct state_move_table *t,
    const struct state_move_value *v);
/* How many rows of table index t were loaded so far. */
size_t state_move_load_count(const struct state_move_load *ld, size_t t);
int state_move_load_commit(struct state_move_load *ld);
void state_move_load_abort(struct state_move_load *ld);

/* ---- report (SPEC §7, §8) ------------------------------------------------------
 * Every account in name order with each of its devices in name order: one
 * call per device, or one call with d == NULL for an account without
 * devices. Counters are as of each device's last session. */
typedef int state_report_cb(void *arg, const struct state_account *a,
    const struct state_device *d);
int state_report(struct state_db *db, state_report_cb *cb, void *arg);

#endif
