/* tests/lib/proc.h — run a command to completion for the test library.
 *
 * stdin and stdout are /dev/null, stderr is inherited or appended to a file,
 * and no other descriptor of the caller leaks into the child (so a daemon it
 * starts never holds a caller's pipe open).
 */
#ifndef PBT_PROC_H
#define PBT_PROC_H

/* Run argv[0] (searched in PATH) and wait; 0 when it exits with status 0,
 * else -1 with a message naming `who`. err_path NULL keeps stderr. */
int pbt_run(const char *who, char *const argv[], const char *err_path);

#endif
