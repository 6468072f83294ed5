/* bridge/oauth2/device.c — the device authorization grant (see device.h). */
#include "bridge/oauth2/device.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "bridge/base/clock.h"

enum oauth2_outcome oauth2_device_flow(const struct oauth2_client *c,
    oauth2_device_show_fn *show, void *arg, struct oauth2_tokens *t)
{
	struct oauth2_device_auth *d = malloc(sizeof(*d));
	enum oauth2_outcome r;
	int temp = 0;

	memset(t, 0, sizeof(*t));
	if (d == NULL) {
		snprintf(t->detail, sizeof(t->detail), "out of memory");
		return OAUTH2_TEMP;
	}
	r = oauth2_device_start(c, d);
	if (r != OAUTH2_OK) {
		snprintf(t->detail, sizeof(t->detail), "%s", d->detail);
		goto out;
	}
	show(arg, d);
	int64_t life = d->expires_in > 0 && d->expires_in < OAUTH2_DEVICE_WAIT_MAX_S ?
	    d->expires_in : OAUTH2_DEVICE_WAIT_MAX_S;
	uint64_t end = base_clock_ms(NULL) + (uint64_t)life * 1000u;
	int64_t interval = d->interval;
	for (;;) {
		if (base_clock_ms(NULL) + (uint64_t)interval * 1000u > end) {
			snprintf(t->detail, sizeof(t->detail), "the code was not confirmed within "
			    "%lld seconds", (long long)life);
			r = OAUTH2_PERM;
			goto out;
		}
		base_sleep_ms((unsigned)interval * 1000u); /* within life: at most 30 min */
		r = oauth2_token_device_poll(c, d->device_code, t);
		switch (r) {
		case OAUTH2_OK:
			goto out;
		case OAUTH2_PENDING:
			temp = 0;
			break;
		case OAUTH2_SLOW_DOWN:
			temp = 0;
			interval += 5;
			break;
		case OAUTH2_TEMP:
			if (++temp >= OAUTH2_DEVICE_TEMP_MAX)
				goto out;
			break;
		default:
			goto out;
		}
	}
out:
	OPENSSL_cleanse(d, sizeof(*d));
	free(d);
	return r;
}
