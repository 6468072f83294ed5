/* pop3/session.h — the POP3 protocol engine over any transport.
 *
 * pop3_session_run() (pop3/server.h) is this over a socket transport. Tests
 * and the fuzzer call pop3_session_run_transport() with a memory transport
 * to get exact wire transcripts without a network.
 *
 * Contract: as pop3_session_run(), except that the transport is given
 * instead of a socket; the engine calls t->ops->close() before returning
 * (the transport is consumed). cfg->tls is used only to decide what CAPA
 * offers and whether STLS/implicit TLS are possible; the handshake itself
 * is t->ops->start_tls().
 */
#ifndef POP3_SESSION_H
#define POP3_SESSION_H

#include "pop3/maildrop.h"
#include "pop3/server.h"
#include "pop3/transport.h"

enum pop3_result pop3_session_run_transport(struct pop3_transport *t,
    const struct pop3_session_config *cfg, const struct pop3_maildrop_ops *ops,
    void *backend, struct pop3_session_stats *stats);

#endif
