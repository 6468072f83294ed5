/* bridge/cmd/options.c — every option of every command (see cmd.h): its
 * name, value, range or words, default and a one-line help. A setting's
 * name, range and words come from its key (bridge/config/options.c), its
 * default from config_options_init(). */
#include "bridge/cmd/cmd.h"
#include "bridge/migrate/autoconfig.h"
#include "state/state.h"

#define STR_(x) #x
#define STR(x) STR_(x)

#define SETTING(k, meta, dflt_, help_) \
	[k] = { .kind = CONFIG_OPT_SETTING, .key = k, .metavar = meta, .dflt = dflt_, .help = help_ }
#define VALUE(id, k, meta, help_) \
	[id] = { .kind = CONFIG_OPT_VALUE, .key = k, .metavar = meta, .help = help_ }

static const struct config_word report_format_words[] = {
	{ "table", CMD_REPORT_TABLE }, { "json", CMD_REPORT_JSON },
};
const struct config_words cmd_report_formats = CONFIG_WORDS(report_format_words);

const struct config_opt cmd_options[CMD_O_COUNT] = {
	SETTING(PB_K_UPSTREAM, "URL", NULL, "imaps://HOST[:993] or imap://HOST[:143]"),
	SETTING(PB_K_UPSTREAM_TLS, "MODE", "from the URL", "TLS to the IMAP server"),
	SETTING(PB_K_UPSTREAM_CA, "FILE", "the system store", "PEM certificates to trust upstream"),
	SETTING(PB_K_UPSTREAM_TIMEOUT, "SECS", NULL, "network timeout upstream"),
	SETTING(PB_K_LISTEN, "ADDR:PORT",
	    PB_DEFAULT_LISTEN_ADDR ":" STR(PB_DEFAULT_LISTEN_PORT),
	    "POP3, STLS with a certificate; repeatable"),
	SETTING(PB_K_LISTEN_TLS, "ADDR:PORT", NULL, "POP3 over implicit TLS; repeatable"),
	SETTING(PB_K_CERT, "FILE", NULL, "server certificate chain (PEM), with --key"),
	SETTING(PB_K_KEY, "FILE", NULL, "server private key (PEM), with --cert"),
	SETTING(PB_K_TLS_MIN, "VERSION", NULL, "oldest TLS version clients may use"),
	SETTING(PB_K_AUTH, "MODE", NULL, "whose password a device logs in with"),
	SETTING(PB_K_DEVICE_SEPARATOR, "C", NULL, "between account and device in a POP3 user"),
	SETTING(PB_K_FOLDER, "NAME", NULL, "the IMAP folder devices see"),
	SETTING(PB_K_OFFER, "MODE", NULL, "which messages a device is offered"),
	SETTING(PB_K_WINDOW, "N", NULL, "newest N messages only (0: unlimited)"),
	SETTING(PB_K_SEEN_ON, "WHEN", NULL, "when a message is flagged \\Seen"),
	SETTING(PB_K_DELE, "MODE", NULL, "what a POP3 DELE does upstream"),
	SETTING(PB_K_TRASH_FOLDER, "NAME", NULL, "for dele trash (SPECIAL-USE \\Trash wins)"),
	SETTING(PB_K_ARCHIVE_FOLDER, "NAME", NULL,
	    "for dele archive (SPECIAL-USE \\Archive wins)"),
	SETTING(PB_K_DELE_KEYWORD, "WORD", NULL, "keyword of messages deleted through POP3"),
	SETTING(PB_K_ALLOW_PLAINTEXT_AUTH, NULL, NULL,
	    "allow USER/PASS and AUTH without TLS on non-loopback connections"),
	SETTING(PB_K_MAX_SESSIONS, "N", NULL, "sessions at once"),
	SETTING(PB_K_MAX_SESSIONS_PER_IP, "N", NULL, "sessions at once per address (IPv6: /64)"),
	SETTING(PB_K_IDLE_TIMEOUT, "SECS", NULL, "a POP3 client's silence before it is cut"),
	SETTING(PB_K_LOGIN_TIMEOUT, "SECS", NULL, "time from connecting to a good login"),
	SETTING(PB_K_MAX_AUTH_FAILURES, "N", NULL, "failed logins that close a connection"),
	SETTING(PB_K_MAX_DEVICES_PER_ACCOUNT, "N", NULL, "devices a passthrough account may have"),
	SETTING(PB_K_PROXY_PROTOCOL, NULL, NULL, "read PROXY headers from --trusted-proxy"),
	SETTING(PB_K_TRUSTED_PROXY, "CIDR", NULL, "a load balancer's addresses; repeatable"),
	SETTING(PB_K_UPSTREAM_FORWARD_CLIENT_IP, NULL, NULL,
	    "the client's address upstream in ID"),
	SETTING(PB_K_USER, "NAME", NULL, "drop privileges to NAME after binding"),
	SETTING(PB_K_SYSLOG, NULL, NULL, "log to syslog instead of stderr"),
	SETTING(PB_K_LOG_LEVEL, "LEVEL", NULL, "least important lines logged"),
	SETTING(PB_K_STATE, "FILE", NULL, "the state database"),
	SETTING(PB_K_KEY_FILE, "FILE", "STATE.key", "key of the stored upstream passwords"),
	SETTING(PB_K_SMTP_UPSTREAM, "URL", NULL,
	    "submission server: smtps://HOST[:465] or smtp://HOST[:587]"),
	SETTING(PB_K_SMTP_UPSTREAM_TLS, "MODE", "from the URL", "TLS to the submission server"),
	SETTING(PB_K_SMTP_LISTEN, "ADDR:PORT", NULL,
	    "SMTP submission, STARTTLS with a certificate; repeatable"),
	SETTING(PB_K_SMTP_LISTEN_TLS, "ADDR:PORT", NULL,
	    "SMTP submission over implicit TLS; repeatable"),
	SETTING(PB_K_SENT_COPY, "WHEN", NULL,
	    "copy sent mail to Sent (auto: unless the upstream does, as Gmail)"),
	SETTING(PB_K_SENT_FOLDER, "NAME", NULL, "for Sent copies (SPECIAL-USE \\Sent wins)"),

	[CMD_O_CONFIG] = { .kind = CONFIG_OPT_CONFIG, .name = "config", .metavar = "FILE",
	    .help = "XML configuration (docs/CONFIG.md)" },

	VALUE(CMD_O_DEV_FOLDER, PB_K_FOLDER, "NAME", "this device's IMAP folder"),
	VALUE(CMD_O_DEV_OFFER, PB_K_OFFER, "MODE", "which messages this device is offered"),
	VALUE(CMD_O_DEV_WINDOW, PB_K_WINDOW, "N", "this device sees the newest N only"),
	VALUE(CMD_O_DEV_SEEN_ON, PB_K_SEEN_ON, "WHEN", "when this device's RETR flags \\Seen"),
	VALUE(CMD_O_DEV_DELE, PB_K_DELE, "MODE", "what this device's DELE does upstream"),

	[CMD_O_UPSTREAM_USER] = { .kind = CONFIG_OPT_TEXT, .name = "upstream-user",
	    .metavar = "USER", .min = 1, .max = STATE_USER_MAX, .dflt = "ACCOUNT",
	    .help = "the IMAP login name" },

	[CMD_O_ACCOUNT] = { .kind = CONFIG_OPT_TEXT, .name = "account", .metavar = "ACCOUNT",
	    .help = "whose UIDLs are imported" },
	[CMD_O_FROM] = { .kind = CONFIG_OPT_TEXT, .name = "from", .metavar = "URL",
	    .help = "the old server: pop3://HOST[:110] (STLS) or pop3s://HOST[:995]" },
	[CMD_O_FROM_USER] = { .kind = CONFIG_OPT_TEXT, .name = "from-user", .metavar = "USER",
	    .help = "login name on the old server" },
	[CMD_O_FROM_PASSWORD_FILE] = { .kind = CONFIG_OPT_TEXT, .name = "from-password-file",
	    .metavar = "FILE", .help = "the old server's password: FILE's first line",
	    .dflt = "standard input" },
	[CMD_O_FROM_CA] = { .kind = CONFIG_OPT_TEXT, .name = "from-ca", .metavar = "FILE",
	    .help = "PEM certificates to trust for the old server", .dflt = "the system store" },
	[CMD_O_DRY_RUN] = { .kind = CONFIG_OPT_FLAG, .name = "dry-run",
	    .help = "match and report; the state file is not changed" },
	[CMD_O_UPSTREAM_PASSWORD_FILE] = { .kind = CONFIG_OPT_TEXT,
	    .name = "upstream-password-file", .metavar = "FILE",
	    .help = "the upstream password (passthrough): FILE's first line",
	    .dflt = "standard input" },

	[CMD_O_REPORT_FORMAT] = { .kind = CONFIG_OPT_WORD, .name = "format", .metavar = "FORMAT",
	    .words = &cmd_report_formats, .dflt = "table", .help = "the output" },

	[CMD_O_AUTOCONFIG_FORMAT] = { .kind = CONFIG_OPT_WORD, .name = "format",
	    .metavar = "FORMAT", .words = &migrate_autoconfig_formats,
	    .help = "the kind of document" },
	[CMD_O_EMAIL] = { .kind = CONFIG_OPT_TEXT, .name = "email", .metavar = "ADDRESS",
	    .help = "the e-mail address" },
	[CMD_O_LOGIN] = { .kind = CONFIG_OPT_TEXT, .name = "login", .metavar = "NAME",
	    .help = "the IMAP and SMTP login name", .dflt = "the address" },
	[CMD_O_DISPLAY_NAME] = { .kind = CONFIG_OPT_TEXT, .name = "display-name",
	    .metavar = "NAME", .help = "the account's name in the client", .dflt = "the address" },
	[CMD_O_SMTP_HOST] = { .kind = CONFIG_OPT_TEXT, .name = "smtp-host", .metavar = "HOST",
	    .help = "the outgoing server", .dflt = "the IMAP host" },
	[CMD_O_SMTP_PORT] = { .kind = CONFIG_OPT_UINT, .name = "smtp-port", .metavar = "PORT",
	    .min = 1, .max = 65535, .dflt = STR(AUTOCONFIG_SMTP_PORT),
	    .help = "the outgoing server's port" },
	[CMD_O_SMTP_TLS] = { .kind = CONFIG_OPT_WORD, .name = "smtp-tls", .metavar = "MODE",
	    .words = &config_words_upstream_tls, .dflt = "starttls",
	    .help = "TLS to the outgoing server" },
};
