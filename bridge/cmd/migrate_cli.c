/* bridge/cmd/migrate_cli.c — see migrate_cli.h. */
#include "bridge/cmd/migrate_cli.h"
#include "bridge/base/errbuf.h"

#include <stdio.h>
#include <string.h>

#include "bridge/cmd/admin.h"

int cmd_take_options(int *argc, char **argv, const char *const *names,
    const char **values, size_t n, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		values[i] = NULL;
		if (cmd_admin_take_option(argc, argv, names[i], &values[i], err, errlen) < 0)
			return -1;
	}
	return 0;
}

int cmd_take_flag(int *argc, char **argv, const char *name, bool *set, char *err,
    size_t errlen)
{
	size_t nl = strlen(name);

	*set = false;
	for (int i = 0; i < *argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0)
			break;
		if (strncmp(a, "--", 2) != 0 || strncmp(a + 2, name, nl) != 0)
			continue;
		if (a[2 + nl] == '=')
			return base_errf(err, errlen, "--%s takes no value", name);
		if (a[2 + nl] != '\0')
			continue;
		if (*set)
			return base_errf(err, errlen, "--%s is given twice", name);
		*set = true;
		memmove(argv + i, argv + i + 1, (size_t)(*argc - i - 1) * sizeof(*argv));
		(*argc)--;
		i--;
	}
	return 0;
}
