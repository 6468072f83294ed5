/* bridge/main.c — the popbridge command: dispatch to subcommands. */
#include <stdio.h>
#include <string.h>

#include "bridge/version.h"

static void usage(FILE *f)
{
	fprintf(f,
	    "usage: popbridge COMMAND [options]\n"
	    "\n"
	    "commands:\n"
	    "  version     print the version\n"
	    "  help        this text\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
		printf("popbridge %s\n", POPBRIDGE_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "popbridge: unknown command '%s' (see 'popbridge help')\n", argv[1]);
	return 2;
}
