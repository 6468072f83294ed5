/* bridge/serve/serve.h — `popbridge serve`: the POP3 service in the foreground.
 *
 * serve_run() is the whole service, after `popbridge serve` (bridge/cmd/serve.c)
 * has parsed its command line and built the settings:
 *
 *  1. settings: flags over --config over defaults (bridge/config/cmdline.h),
 *     given as *settings (serve_run() takes them over); c is kept to
 *     rebuild them at SIGHUP;
 *  2. the TLS context when a certificate is set (--cert/--key, --tls-min),
 *     and in managed mode the key file (refused when missing or when others
 *     may read it);
 *  3. binds every --listen and --listen-tls address (bridge/serve/listen.h);
 *  4. --user: drops to that user (supplementary groups, gid, uid) and checks
 *     that root cannot be regained. The state database and everything the
 *     sessions open later are opened as that user; the TLS key, the key
 *     file and the listening sockets were opened before the drop. The
 *     administrator must make the state file's directory (SQLite creates
 *     -wal and -shm files beside it) and an existing state file writable by
 *     that user; a SIGHUP re-reads certificates as that user;
 *  5. opens (creates, migrates) the state database once, so a schema newer
 *     than this binary is refused before the first client is served;
 *  6. serves: the listener (this thread) polls every listening socket;
 *     --max-sessions / --max-sessions-per-ip are checked at accept (over
 *     the limit: "-ERR [SYS/TEMP] too many sessions" and close, no session);
 *     each admitted connection runs pop3_session_run() with
 *     maildrop_ops in its own detached thread, which ends by writing
 *     one key=value log line (event=session; bridge/serve/session_thread.c);
 *  7. signals are taken by one sigwait() thread (bridge/serve/signals.h):
 *     SIGHUP re-reads the configuration file and certificates; on success
 *     new sessions use the new settings and TLS context while running
 *     sessions keep theirs (reference counted); on failure the error is
 *     logged and the old settings stay. Listen addresses, --user, --state,
 *     --key-file, --auth and --syslog keep their start values until a
 *     restart (a reload that changes them says so in the log).
 *     SIGTERM/SIGINT stop accepting and close the listeners, give running
 *     sessions PB_SERVE_DRAIN_S seconds to end, then shut their sockets
 *     (they end without committing) and wait at most the upstream timeout
 *     plus PB_SERVE_DRAIN_S more for in-flight commits; the Sent copies'
 *     retry thread begins no further account or copy and is joined after
 *     the sessions; exit status 0.
 *
 * Returns the process exit status.
 */
#ifndef BRIDGE_SERVE_SERVE_H
#define BRIDGE_SERVE_SERVE_H

#define PB_SERVE_DRAIN_S 30   /* grace for running sessions at SIGTERM */

#include "bridge/config/cmdline.h"

int serve_run(const struct config_cmdline *c, struct config_options *settings);

#endif
