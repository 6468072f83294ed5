/* bridge/serve/listen.c — listening sockets and client address helpers. */
#include "bridge/serve/listen.h"
#include "bridge/base/errbuf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int open_one(struct serve_listener *l, const struct config_endpoint *ep, bool implicit_tls,
    char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	int one = 1;

	memset(&ss, 0, sizeof(ss));
	config_endpoint_format(ep, l->name, sizeof(l->name));
	l->implicit_tls = implicit_tls;
	l->fd = -1;
	if (ep->ipv6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(ep->port);
		if (inet_pton(AF_INET6, ep->host, &s6->sin6_addr) != 1)
			goto bad_addr;
		sslen = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(ep->port);
		if (inet_pton(AF_INET, ep->host, &s4->sin_addr) != 1)
			goto bad_addr;
		sslen = sizeof(*s4);
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return base_errf(err, errlen, "%s: socket: %s", l->name, strerror(errno));
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    (ep->ipv6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0)) {
		snprintf(err, errlen, "%s: setsockopt: %s", l->name, strerror(errno));
		close(fd);
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&ss, sslen) != 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", l->name, strerror(errno));
		close(fd);
		return -1;
	}
	if (listen(fd, PB_LISTEN_BACKLOG) != 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", l->name, strerror(errno));
		close(fd);
		return -1;
	}
	l->fd = fd;
	return 0;
bad_addr:
	return base_errf(err, errlen, "%s: not a numeric address", l->name);
}

int serve_listeners_open(struct serve_listeners *ls, const struct config_options *o,
    char *err, size_t errlen)
{
	const struct { const struct config_endpoint *l; size_t n; bool tls, imap, smtp; } kinds[] = {
		{ o->listen, o->n_listen, false, false, false },
		{ o->listen_tls, o->n_listen_tls, true, false, false },
		{ o->imap_listen, o->n_imap_listen, false, true, false },
		{ o->imap_listen_tls, o->n_imap_listen_tls, true, true, false },
		{ o->smtp_listen, o->n_smtp_listen, false, false, true },
		{ o->smtp_listen_tls, o->n_smtp_listen_tls, true, false, true },
	};
	ls->n = 0;
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		for (size_t i = 0; i < kinds[k].n; i++) {
			if (ls->n >= PB_LISTENERS_MAX) {
				snprintf(err, errlen, "too many listeners (at most %d)", PB_LISTENERS_MAX);
				goto fail;
			}
			if (open_one(&ls->l[ls->n], &kinds[k].l[i], kinds[k].tls, err, errlen) != 0)
				goto fail;
			ls->l[ls->n].imap = kinds[k].imap;
			ls->l[ls->n++].smtp = kinds[k].smtp;
		}
	}
	return 0;
fail:
	serve_listeners_close(ls);
	return -1;
}

void serve_listeners_close(struct serve_listeners *ls)
{
	for (size_t i = 0; i < ls->n; i++) {
		if (ls->l[i].fd >= 0)
			close(ls->l[i].fd);
		ls->l[i].fd = -1;
	}
	ls->n = 0;
}

/* The IPv4 address inside an IPv4-mapped IPv6 address, or NULL. */
static const unsigned char *mapped_v4(const struct sockaddr_in6 *s6)
{
	return IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) ? s6->sin6_addr.s6_addr + 12 : NULL;
}

unsigned serve_addr_port(const struct sockaddr_storage *sa)
{
	if (sa->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	if (sa->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return 0;
}

void serve_addr_text(const struct sockaddr_storage *sa, char *buf, size_t len)
{
	const void *a = NULL;
	int af = sa->ss_family;
	if (af == AF_INET) {
		a = &((const struct sockaddr_in *)sa)->sin_addr;
	} else if (af == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		a = mapped_v4(s6);
		if (a)
			af = AF_INET;
		else
			a = &s6->sin6_addr;
	}
	if (!a || !inet_ntop(af, a, buf, (socklen_t)len))
		snprintf(buf, len, "unknown");
}
