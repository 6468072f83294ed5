/* tests/fuzz/fuzz_proxy.c — libFuzzer target for the PROXY protocol header
 * parser (bridge/guard/proxy.h), what a load balancer (or anyone who
 * reaches a --proxy-protocol listener from a trusted address) sends first.
 * The contract is checked on every input: a DONE header lies within the
 * input and the bounds; every prefix of a DONE input answers MORE with a
 * need between the prefix and the header length (so a reader never waits
 * for octets that are not the header's); every prefix of a BAD input is
 * never DONE; DONE addresses are numeric text. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/guard/proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct guard_proxy_hdr h, p;
	enum guard_proxy_result r = guard_proxy_parse(data, size, &h);

	if (r == GUARD_PROXY_DONE) {
		if (h.len == 0 || h.len > size || h.len > GUARD_PROXY_MAX)
			abort();
		if (!h.local) {
			unsigned char bin[16];
			if (inet_pton(AF_INET, h.addr, bin) != 1 && inet_pton(AF_INET6, h.addr, bin) != 1)
				abort();
		}
	} else if (r == GUARD_PROXY_MORE) {
		if (h.need <= size || h.need > GUARD_PROXY_MAX)
			abort();
	}
	for (size_t k = 0; k < size && k < GUARD_PROXY_MAX + 1; k++) {
		enum guard_proxy_result q = guard_proxy_parse(data, k, &p);
		if (r == GUARD_PROXY_DONE && k < h.len && (q != GUARD_PROXY_MORE || p.need > h.len))
			abort();
		if (r == GUARD_PROXY_DONE && k >= h.len && (q != GUARD_PROXY_DONE || p.len != h.len))
			abort();
		if (r != GUARD_PROXY_DONE && q == GUARD_PROXY_DONE)
			abort();
		if (q == GUARD_PROXY_BAD && r != GUARD_PROXY_BAD)
			abort();
	}
	return 0;
}
