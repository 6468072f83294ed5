/* tests/lib/proc.c — run a command to completion. See proc.h. */
#include "tests/lib/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

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
