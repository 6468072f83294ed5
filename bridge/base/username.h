/* bridge/base/username.h — the POP3 user name in passthrough mode (SPEC §2):
 * ACCOUNT or ACCOUNT<sep>DEVICE.
 *
 * Contract:
 *  - The name is split at the FIRST separator; without one the device is
 *    "default". A device name never contains the separator (configuration
 *    refuses such device sections, so a login can always name every device).
 *  - ACCOUNT: state's account-name rule (STATE_ACCOUNT_RULE: 1 to
 *    STATE_ACCOUNT_MAX octets, none of them a control character) and no
 *    space — it is an upstream IMAP login name and is passed on as it is.
 *  - DEVICE: state's device-name rule (1 to STATE_DEVICE_MAX octets)
 *    narrowed to A-Z a-z 0-9 and . _ - + @ — it appears in
 *    logs, reports and administrator commands. Device names are
 *    case-insensitive: the device comes back in lower case ("PC" and "pc"
 *    are one device), as every entry point (the device login that POP3,
 *    the IMAP front and SMTP AUTH share, bridge/maildrop/login.h;
 *    `popbridge device`, configuration sections) folds it with
 *    base_device_name_fold().
 *  - The account keeps its case (the upstream login gets it as typed);
 *    popbridge compares account names ASCII case-insensitively everywhere
 *    else (state, device lock, configuration sections).
 *  - On a bad name: -1, and err says what is wrong (never echoing the
 *    name's bytes, which may be a mistyped password).
 */
#ifndef BRIDGE_BASE_USERNAME_H
#define BRIDGE_BASE_USERNAME_H

#include <stddef.h>

#include "state/state.h"  /* the name rules: STATE_ACCOUNT_MAX, STATE_DEVICE_MAX */

#define BRIDGE_DEFAULT_DEVICE   "default"

/* account: room for STATE_ACCOUNT_MAX + 1, device: room for
 * STATE_DEVICE_MAX + 1. *has_device says whether a device was named. */
int base_username_split(const char *user, char sep, char *account, char *device,
    int *has_device, char *err, size_t errlen);

/* The device-name rule alone (0 valid, -1 not), and its words for an
 * administrator: `device add` and configuration sections refuse a name no
 * device could log in with. */
int base_device_name_check(const char *device);
#define BASE_DEVICE_RULE "a device name is 1 to " STATE_STR(STATE_DEVICE_MAX) \
	" of A-Z a-z 0-9 . _ - + @ (what a device can log in with)"
/* Fold a device name to its one spelling: ASCII lower case, in place. */
void base_device_name_fold(char *device);

#endif
