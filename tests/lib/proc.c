/* tests/lib/proc.c — run a command to completion; the watchdog. See proc.h. */
#include "tests/lib/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/lib/cert.h"

int pbt_run(const char *who, char *const argv[], const char *err_path)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "%s: fork: %s\n", who, strerror(errno));
		return -1;
	}
	if (pid == 0) {
		int in = open("/dev/null", O_RDWR);
		int err = err_path ? open(err_path, O_WRONLY | O_CREAT | O_APPEND, 0644) : 2;
		if (in < 0 || err < 0)
			_exit(126);
		dup2(in, 0);
		dup2(in, 1);
		dup2(err, 2);
		closefrom(3);
		execvp(argv[0], argv);
		fprintf(stderr, "%s: exec %s: %s\n", who, argv[0], strerror(errno));
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "%s: waitpid: %s\n", who, strerror(errno));
			return -1;
		}
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "%s: %s failed (status %d)\n", who, argv[0], status);
		return -1;
	}
	return 0;
}

static void watchdog_main(int rfd, const char *dir, int (*stop)(const char *dir))
{
	setsid();
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTSTP, SIG_IGN);
	int devnull = open("/dev/null", O_RDWR);
	if (devnull >= 0) {
		dup2(devnull, 0);
		dup2(devnull, 1);
	}
	if (rfd != 3) {
		dup2(rfd, 3);
		close(rfd);
	}
	closefrom(4);
	char c;
	for (;;) {
		ssize_t n = read(3, &c, 1);
		if (n == 0 || (n < 0 && errno != EINTR))
			break;
	}
	int r = stop(dir);
	if (pbt_rmtree(dir) < 0)
		r = -1;
	_exit(r == 0 ? 0 : 1);
}

int pbt_watchdog_start(const char *who, const char *dir, int (*stop)(const char *dir),
    pid_t *pid, int *wfd)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		fprintf(stderr, "%s: pipe: %s\n", who, strerror(errno));
		return -1;
	}
	fflush(NULL);
	pid_t child = fork();
	if (child < 0) {
		fprintf(stderr, "%s: fork: %s\n", who, strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (child == 0) {
		close(p[1]);
		watchdog_main(p[0], dir, stop);
	}
	close(p[0]);
	*pid = child;
	*wfd = p[1];
	return 0;
}

void pbt_watchdog_stop(pid_t pid, int wfd, const char *dir, int (*stop)(const char *dir))
{
	if (wfd >= 0)
		close(wfd);
	int status = 0;
	pid_t r;
	while ((r = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
		;
	if (r < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		/* The watchdog is gone or failed: clean up here instead. */
		stop(dir);
		pbt_rmtree(dir);
	}
}
