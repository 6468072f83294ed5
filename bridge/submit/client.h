/* bridge/submit/client.h — the SMTP client to the upstream submission
 * server (SPEC §11): TCP and TLS through imap/conn.h (certificates verified
 * as for IMAP: the system store or --upstream-ca, the host name checked),
 * replies through smtp/client.h, message data dot-stuffed as it streams
 * (pop3/dotstuff.h: bare LF becomes CRLF, a final line end is added).
 *
 * Contract:
 *  - Every call is bounded by the connection's timeout (--upstream-timeout)
 *    per read and write. Failures return -1 with err set (no secret, no
 *    message data) and the connection closed; the caller answers its
 *    client 421/451.
 *  - submit_client_open(): connect, greeting (220 or the server's refusal
 *    in *reply, return 1), EHLO (HELO for a server without ESMTP), STARTTLS
 *    when the mode says so (refused: -1; anything the server sent after
 *    its 220 to STARTTLS is discarded before the handshake, RFC 3207 §5),
 *    EHLO again. caps holds what it announced over the final channel.
 *  - submit_client_auth(): AUTH PLAIN with an initial response when
 *    offered, else AUTH LOGIN; 0 with the reply (235 or a refusal) in
 *    *reply, -1 on trouble. The password is wiped from every buffer.
 *  - submit_client_auth_oauth2(): an OAuth2 account's access token (SPEC
 *    §10, RFC 7628): AUTH OAUTHBEARER when EHLO offered it, else AUTH
 *    XOAUTH2 (neither: -1). The initial response goes on the AUTH line when
 *    the line stays within 512 octets, else after the server's 334 (RFC
 *    4954 §4: a token makes it long). A refusal that comes as a 334
 *    challenge (a base64 JSON status) is answered as the mechanism wants
 *    (OAUTHBEARER: ^A; XOAUTH2: an empty line), its decoded text kept in
 *    challenge, and the final reply read: 0 with the reply (235 or the
 *    refusal) in *reply, -1 on trouble. The token is wiped from every
 *    buffer.
 *  - submit_client_cmd(): one command line (without CRLF; no CR, LF or NUL),
 *    0 with the reply, -1 on trouble. Commands are never pipelined: when
 *    the server has sent anything since its last reply (a stray second
 *    reply, or its idle timeout's 421) the command is not sent (-1): taken
 *    for its reply, that would put every later reply one command off.
 *  - submit_client_data(): data after a 354, in order; -1 on trouble.
 *    submit_client_data_end(): the final line end if needed and ".", then
 *    the reply (0), -1 on trouble (the outcome is then unknown).
 *  - submit_client_idle(): whether an open connection can take the next
 *    command: nothing unread is buffered and the server has neither closed
 *    it nor said anything since its last reply (a server's idle timeout
 *    comes as "421 ... timeout exceeded" and a close). Never waits; what it
 *    reads is dropped (the caller then closes the connection).
 *  - submit_client_close(): QUIT (when polite and connected; its reply is
 *    not waited for long) and close; safe twice.
 */
#ifndef BRIDGE_SUBMIT_CLIENT_H
#define BRIDGE_SUBMIT_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "bridge/config/options.h"
#include "imap/conn.h"
#include "pop3/dotstuff.h"
#include "smtp/client.h"

#define SUBMIT_READ_BUF 4096       /* one reply line; longer ones are cut */
#define SUBMIT_WRITE_BUF 16384     /* message data goes out in these */

struct submit_client {
	struct imap_conn conn;
	bool open;
	char host[PB_HOST_MAX];       /* as connected (OAUTHBEARER names it) */
	unsigned port;
	struct smtp_caps caps;
	char rbuf[SUBMIT_READ_BUF];
	size_t rstart, rlen;
	struct pop3_dotstuff ds;
	char wbuf[SUBMIT_WRITE_BUF];
	size_t wlen;
	bool wfailed;
	char err[160];
};

/* host, port, tls: the upstream; ca: --upstream-ca ("" = system store);
 * helo: our name in EHLO. */
struct submit_endpoint {
	const char *host;
	unsigned port;
	enum config_upstream_tls tls;
	const char *ca;
	unsigned timeout_s;
	const char *helo;
};

void submit_client_init(struct submit_client *c);
int submit_client_open(struct submit_client *c, const struct submit_endpoint *ep,
    struct smtp_reply *reply);
int submit_client_auth(struct submit_client *c, const char *user, const char *password,
    struct smtp_reply *reply);
int submit_client_auth_oauth2(struct submit_client *c, const char *user, const char *token,
    struct smtp_reply *reply, char *challenge, size_t challenge_len);
int submit_client_cmd(struct submit_client *c, const char *line, struct smtp_reply *reply);
int submit_client_data(struct submit_client *c, const char *buf, size_t len);
int submit_client_data_end(struct submit_client *c, struct smtp_reply *reply);
bool submit_client_idle(struct submit_client *c);
void submit_client_close(struct submit_client *c, bool polite);
/* "TLSv1.3" or NULL. */
const char *submit_client_tls(const struct submit_client *c);

#endif
