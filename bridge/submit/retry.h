/* bridge/submit/retry.h — serve's side of the Sent copies (SPEC §11): what
 * a restart finds, and the periodic retry where popbridge holds the
 * credentials.
 *
 * Contract:
 *  - submit_recover() (at start, before any session): a row still SENDING
 *    is from a process that died before the upstream answered its final
 *    "." — the device got no 250 and sends the message again — so it is
 *    dropped with its file (a warning says so); a spool file no row names
 *    (a transaction that ended in a crash before its record) is removed.
 *    Owed copies (PENDING, APPENDING) are kept for the retry.
 *  - submit_retry_round(): managed accounts with owed copies (at most
 *    SUBMIT_RETRY_ACCOUNTS a round): log in to the IMAP server with the
 *    stored credentials and append them (sentcopy.h). Passthrough accounts
 *    wait for their next login: popbridge holds no password for them.
 *    Bounded by the upstream timeout per step; logs what it does. Once
 *    *stop is set (the service stops) it begins no further account or
 *    copy: it returns after the step under way.
 */
#ifndef BRIDGE_SUBMIT_RETRY_H
#define BRIDGE_SUBMIT_RETRY_H

#include <stdatomic.h>

#include "bridge/submit/relay.h"

#define SUBMIT_RETRY_ACCOUNTS 16
/* serve runs a round this long after it starts, then at this interval. */
#define SUBMIT_RETRY_FIRST_S 2
#define SUBMIT_RETRY_INTERVAL_S 300

void submit_recover(struct submit_ctx *ctx, const struct config_options *opt);
void submit_retry_round(struct submit_ctx *ctx, const struct config_options *opt,
    const atomic_bool *stop);

#endif
