/* bridge/base/addrkey.c — normalise client addresses for per-address limits. */
#include "bridge/base/addrkey.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

void base_addrkey_make(const char *addr, struct base_addrkey *key)
{
	struct in6_addr a6;
	struct in_addr a4;
	memset(key, 0, sizeof(*key));
	if (inet_pton(AF_INET, addr, &a4) == 1) {
		inet_ntop(AF_INET, &a4, key->s, sizeof(key->s));
	} else if (inet_pton(AF_INET6, addr, &a6) == 1) {
		if (IN6_IS_ADDR_V4MAPPED(&a6)) {
			memcpy(&a4, a6.s6_addr + 12, 4);
			inet_ntop(AF_INET, &a4, key->s, sizeof(key->s));
			return;
		}
		memset(a6.s6_addr + 8, 0, 8);
		inet_ntop(AF_INET6, &a6, key->s, sizeof(key->s) - 3);
		strcat(key->s, "/64");
	} else {
		snprintf(key->s, sizeof(key->s), "%s", addr);
	}
}

bool base_addr_is_loopback(const char *addr)
{
	unsigned char b[16];

	if (addr == NULL)
		return false;
	if (inet_pton(AF_INET, addr, b) == 1)
		return b[0] == 127;
	if (inet_pton(AF_INET6, addr, b) != 1)
		return false;
	static const unsigned char one[16] = { [15] = 1 };
	static const unsigned char mapped[12] = { [10] = 0xff, [11] = 0xff };
	if (memcmp(b, one, sizeof(one)) == 0)
		return true;
	return memcmp(b, mapped, sizeof(mapped)) == 0 && b[12] == 127;
}
