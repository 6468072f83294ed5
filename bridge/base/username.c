/* bridge/base/username.c — ACCOUNT[<sep>DEVICE] (bridge/base/username.h). */
#include "bridge/base/username.h"

#include <stdio.h>
#include <string.h>

static int device_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	    c == '.' || c == '_' || c == '-' || c == '+' || c == '@';
}

int base_device_name_check(const char *device)
{
	size_t n = strlen(device);

	if (n == 0 || n > STATE_DEVICE_MAX)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!device_char((unsigned char)device[i]))
			return -1;
	return 0;
}

void base_device_name_fold(char *device)
{
	for (; *device; device++)
		if (*device >= 'A' && *device <= 'Z')
			*device = (char)(*device - 'A' + 'a');
}

int base_username_split(const char *user, char sep, char *account, char *device,
    int *has_device, char *err, size_t errlen)
{
	const char *s = sep ? strchr(user, sep) : NULL;
	size_t alen = s ? (size_t)(s - user) : strlen(user);

	*has_device = 0;
	account[0] = device[0] = '\0';
	if (alen == 0 || alen > STATE_ACCOUNT_MAX) {
		snprintf(err, errlen, "%s", STATE_ACCOUNT_RULE);
		return -1;
	}
	for (size_t i = 0; i < alen; i++) {
		unsigned char c = (unsigned char)user[i];
		if (c < 0x20 || c == 0x7f) {
			snprintf(err, errlen, "%s", STATE_ACCOUNT_RULE);
			return -1;
		}
		if (c == ' ') {
			/* the upstream login name of a POP3 user name */
			snprintf(err, errlen, "an account name at a POP3 login has no space");
			return -1;
		}
	}
	if (s != NULL) {
		const char *d = s + 1;
		if (strchr(d, sep) != NULL) {
			snprintf(err, errlen, "device name contains the separator '%c'", sep);
			return -1;
		}
		if (base_device_name_check(d) != 0) {
			snprintf(err, errlen, "device name must be 1 to %d of A-Z a-z 0-9 . _ - + @",
			    STATE_DEVICE_MAX);
			return -1;
		}
		strcpy(device, d);
		base_device_name_fold(device);
		*has_device = 1;
	} else {
		strcpy(device, BRIDGE_DEFAULT_DEVICE);
	}
	memcpy(account, user, alen);
	account[alen] = '\0';
	return 0;
}
