/* tests/bridge/bt.h — small helpers shared by the bridge Check programs
 * (header-only: the Makefile builds only check_*.c here).
 *
 * bt_write_file() writes a file in a per-process temporary directory;
 * bt_run() runs a command and captures its stdout, stderr and exit status.
 */
#ifndef BT_H
#define BT_H

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/lib/cert.h"

static char bt_dir[256];

static __attribute__((unused)) void bt_cleanup(void)
{
	if (bt_dir[0])
		pbt_rmtree(bt_dir);
}

/* Write content to NAME in the test directory; the path, in a static
 * rotating buffer (good for a few calls in one test). */
static __attribute__((unused)) const char *bt_write_file(const char *name, const char *content)
{
	static char paths[4][512];
	static int next;
	if (!bt_dir[0]) {
		if (pbt_mkdtemp("pb-bridge", bt_dir, sizeof(bt_dir)) != 0)
			abort();
		atexit(bt_cleanup);
	}
	char *p = paths[next++ % 4];
	snprintf(p, 512, "%s/%s", bt_dir, name);
	FILE *f = fopen(p, "w");
	if (!f || fputs(content, f) == EOF || fclose(f) != 0)
		abort();
	return p;
}

/* Read all of fd into a malloc'd NUL-terminated buffer (bounded). */
struct bt_buf {
	char *data;
	size_t len;
};

static __attribute__((unused)) void bt_buf_read(struct bt_buf *b, int fd)
{
	char tmp[4096];
	ssize_t r = read(fd, tmp, sizeof(tmp));
	if (r <= 0 || b->len + (size_t)r > (1 << 20))
		return;
	b->data = realloc(b->data, b->len + (size_t)r + 1);
	memcpy(b->data + b->len, tmp, (size_t)r);
	b->len += (size_t)r;
	b->data[b->len] = 0;
}

/* Run argv, capture stdout/stderr (malloc'd, "" when empty; caller frees);
 * the exit status, or -1 when the command did not exit normally. */
static __attribute__((unused)) int bt_run(char *const argv[], char **out, char **err)
{
	int po[2], pe[2];
	if (pipe(po) != 0 || pipe(pe) != 0)
		abort();
	pid_t pid = fork();
	if (pid == 0) {
		dup2(po[1], 1);
		dup2(pe[1], 2);
		close(po[0]);
		close(pe[0]);
		close(po[1]);
		close(pe[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	struct bt_buf bo = { NULL, 0 }, be = { NULL, 0 };
	struct pollfd fds[2] = { { po[0], POLLIN, 0 }, { pe[0], POLLIN, 0 } };
	int open_fds = 2;
	while (open_fds > 0 && poll(fds, 2, 10000) > 0) {
		for (int i = 0; i < 2; i++) {
			if (fds[i].fd < 0 || !fds[i].revents)
				continue;
			size_t before = i == 0 ? bo.len : be.len;
			bt_buf_read(i == 0 ? &bo : &be, fds[i].fd);
			if ((i == 0 ? bo.len : be.len) == before) {
				close(fds[i].fd);
				fds[i].fd = -1;
				open_fds--;
			}
		}
	}
	for (int i = 0; i < 2; i++)
		if (fds[i].fd >= 0)
			close(fds[i].fd);
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	*out = bo.data ? bo.data : strdup("");
	*err = be.data ? be.data : strdup("");
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static __attribute__((unused)) const char *bt_env(const char *name)
{
	const char *v = getenv(name);
	if (!v || !*v) {
		fprintf(stderr, "%s is not set (run through make check-bridge)\n", name);
		abort();
	}
	return v;
}

/* Run a suite (one TCase or more) and turn the result into an exit status. */
static __attribute__((unused)) int bt_run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
