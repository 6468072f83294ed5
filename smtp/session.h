/* smtp/session.h — the SMTP engine over any transport.
 *
 * smtp_session_run() (smtp/server.h) is this over a socket. Tests and the
 * fuzzer pass a memory transport (tests/pop3/memio.c) for exact wire
 * transcripts. The transport is consumed (closed before returning);
 * cfg->tls only decides what EHLO offers and whether TLS is possible.
 */
#ifndef SMTP_SESSION_H
#define SMTP_SESSION_H

#include "pop3/transport.h"
#include "smtp/server.h"

enum smtp_result smtp_session_run_transport(struct pop3_transport *t,
    const struct smtp_session_config *cfg, const struct smtp_relay_ops *ops,
    void *backend, struct smtp_session_stats *stats);

#endif
