/* tests/lib/proc.h — run a command to completion for the test library.
 *
 * stdin and stdout are /dev/null, stderr is inherited or appended to a file,
 * and no other descriptor of the caller leaks into the child (so a daemon it
 * starts never holds a caller's pipe open). Also the watchdog that stops a
 * test's server when the test ends.
 */
#ifndef PBT_PROC_H
#define PBT_PROC_H

#include <sys/types.h>

/* Run argv[0] (searched in PATH) and wait; 0 when it exits with status 0,
 * else -1 with a message naming `who`. err_path NULL keeps stderr. */
int pbt_run(const char *who, char *const argv[], const char *err_path);

/* The watchdog of a server started in its own directory dir: a process in a
 * session of its own that waits until the write end of its pipe (*wfd,
 * close-on-exec) is closed — pbt_watchdog_stop(), or the test dying in any
 * way, SIGKILL included — then runs stop(dir) and removes dir. 0, or -1 with
 * a message naming `who`. */
int pbt_watchdog_start(const char *who, const char *dir, int (*stop)(const char *dir),
    pid_t *pid, int *wfd);

/* Close wfd (when >= 0) and wait for the watchdog; when it is gone or
 * failed, run stop(dir) and remove dir here instead. */
void pbt_watchdog_stop(pid_t pid, int wfd, const char *dir, int (*stop)(const char *dir));

#endif
