/* tests/imap/events.h — shared by the IMAP client suites: an on_event
 * callback that counts what the session reported, and OK(), which asserts
 * that a call returned IMAP_OK and shows the session's text when not (it
 * expects the session in a variable named s).
 */
#ifndef TESTS_IMAP_EVENTS_H
#define TESTS_IMAP_EVENTS_H

#include <check.h>
#include <stdio.h>

#include "imap/imap.h"

struct events {
	unsigned exists, expunge, vanished, fetch, bye, alert, other;
	uint32_t last_exists, last_expunge, last_fetch_uid, last_fetch_msn;
	uint64_t vanished_count;
	char alert_text[IMAP_TEXT_MAX + 1];
};

static inline void on_event(void *arg, const struct imap_event *ev)
{
	struct events *e = arg;
	switch (ev->type) {
	case IMAP_EVENT_EXISTS:
		e->exists++;
		e->last_exists = ev->number;
		break;
	case IMAP_EVENT_EXPUNGE:
		e->expunge++;
		e->last_expunge = ev->number;
		break;
	case IMAP_EVENT_VANISHED:
		e->vanished++;
		e->vanished_count += imap_uidset_count(ev->uids);
		break;
	case IMAP_EVENT_FETCH:
		e->fetch++;
		e->last_fetch_uid = ev->msg->uid;
		e->last_fetch_msn = ev->msg->msn;
		break;
	case IMAP_EVENT_BYE:
		e->bye++;
		break;
	case IMAP_EVENT_ALERT:
		e->alert++;
		snprintf(e->alert_text, sizeof(e->alert_text), "%s", ev->text);
		break;
	case IMAP_EVENT_OTHER:
		e->other++;
		break;
	}
}

#define OK(call) do { \
	enum imap_result r_ = (call); \
	ck_assert_msg(r_ == IMAP_OK, "%s: %s (%s)", #call, imap_result_name(r_), \
	    imap_last(s)->text); \
} while (0)

#endif
