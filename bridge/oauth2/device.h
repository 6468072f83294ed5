/* bridge/oauth2/device.h — the device authorization grant (RFC 8628) as
 * `popbridge account add --oauth2` and `account oauth2-login` run it.
 *
 * Contract of oauth2_device_flow():
 *  - Asks the device endpoint for a device code and user code, hands them to
 *    show() (the command prints the verification URI and the code for the
 *    administrator, who opens it in any browser and signs in), then polls
 *    the token endpoint at the interval the endpoint gave (5 s when none;
 *    5 s more after each slow_down, RFC 8628 §3.5) until it answers with
 *    tokens, refuses (access_denied, expired_token or any other error), or
 *    the code's lifetime (expires_in, at most OAUTH2_DEVICE_WAIT_MAX_S) has
 *    passed. A poll that gets no answer or a 5xx is tried again at the next
 *    interval, at most OAUTH2_DEVICE_TEMP_MAX times in a row.
 *  - OAUTH2_OK with the tokens in *t; else OAUTH2_TEMP or OAUTH2_PERM with
 *    t->detail saying why (never a secret).
 */
#ifndef BRIDGE_OAUTH2_DEVICE_H
#define BRIDGE_OAUTH2_DEVICE_H

#include "bridge/oauth2/token.h"

#define OAUTH2_DEVICE_WAIT_MAX_S 1800  /* the longest an authorisation may take */
#define OAUTH2_DEVICE_TEMP_MAX   3

typedef void oauth2_device_show_fn(void *arg, const struct oauth2_device_auth *d);

enum oauth2_outcome oauth2_device_flow(const struct oauth2_client *c,
    oauth2_device_show_fn *show, void *arg, struct oauth2_tokens *t);

#endif
