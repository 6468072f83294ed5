#!/usr/bin/python3
"""A remote upstream (SPEC §9): popbridge in front of Dovecot through a relay
that delays every chunk by 10 ms each way (tests/lib/delayrelay.py, a 20 ms
round trip), against a direct IMAP client over the same relay, in the same
run, on the same messages.

One mailbox of 200 messages of 20 KiB. Measurements (medians of REPEATS runs,
the sides alternating; each popbridge run starts with every message unseen
upstream, so it pays the `seen_on retr` stores as a device would):

 - `remote retr 200 x 20KiB, sequential`: connect, login, RETR 1..200 one
   after another (poplib, as fetchmail does), QUIT; reference: one IMAP
   session (LOGIN, SELECT, one `UID FETCH 1:* BODY.PEEK[]`, LOGOUT) over the
   relay. Target (SPEC §9): <= 1.5.
 - `remote retr 200 x 20KiB, pipelined`: the same with every RETR sent at
   once (as mpop does); same reference and target.
 - `remote poll`: connect, login, STAT, UIDL, QUIT; reference: IMAP LOGIN,
   SELECT, `UID FETCH 1:* (UID RFC822.SIZE)`, LOGOUT over the relay. Target
   (SPEC §9): <= 0.5 for a device polling within --upstream-reuse (default
   60 s): every run after the warm-up reuses the connection kept by the run
   before it (NOOP, SELECT; nothing changed, so no listing).

popbridge runs with its defaults, so the retrieve runs reuse a kept
connection too (each starts with NOOP, SELECT and the CHANGEDSINCE listing
of the 200 flags the preparation cleared).
"""
import imaplib
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (PW, REPEATS, Dovecot, Popbridge, check, fail, fmt_s,  # noqa: E402
                      line, login, median, note, retr_all, timed)
from delayrelay import Relay  # noqa: E402  (tests/lib is on the path)

N, SIZE = 200, 20 * 1024
DELAY_MS = 10
TARGET_RETR = 1.5
TARGET_POLL = 0.5
USER = "remote"


class _Upstream:
    """What pbinterop.Popbridge reads of a Dovecot: the relay's port."""

    def __init__(self, port):
        self.imap_port = port


def imap_bulk(port):
    m = imaplib.IMAP4("127.0.0.1", port)
    m.login(USER, PW)
    m.select("INBOX")
    typ, data = m.uid("FETCH", "1:*", "(BODY.PEEK[])")
    check(typ == "OK", "bulk fetch: %s" % typ)
    octets = sum(len(d[1]) for d in data if isinstance(d, tuple))
    m.logout()
    return octets


def imap_listing(port):
    m = imaplib.IMAP4("127.0.0.1", port)
    m.login(USER, PW)
    m.select("INBOX")
    typ, data = m.uid("FETCH", "1:*", "(UID RFC822.SIZE)")
    check(typ == "OK", "size listing: %s" % typ)
    count = sum(1 for d in data if d and re.search(rb"RFC822\.SIZE \d+", d))
    m.logout()
    return count


def unseen_all(port):
    m = imaplib.IMAP4("127.0.0.1", port)
    m.login(USER, PW)
    m.select("INBOX")
    m.uid("STORE", "1:*", "-FLAGS.SILENT", "(\\Seen)")
    m.logout()


def pop_sequential(port):
    p = login(port, USER)
    octets = retr_all(p, N)
    p.quit()
    return octets


def pop_pipelined(port):
    """Every RETR in one write, then the replies read in blocks; the octets
    of the messages (less +OK lines and terminators; no line of the
    generated messages starts with a dot)."""
    p = login(port, USER)
    p.sock.sendall(b"".join(b"RETR %d\r\n" % i for i in range(1, N + 1)))
    buf = b""
    octets = 0
    for i in range(1, N + 1):
        while True:
            eol = buf.find(b"\r\n")
            if eol >= 0:
                break
            block = p.file.read1(1 << 16)
            if not block:
                fail("pipelined: connection closed at RETR %d" % i)
            buf += block
        status = buf[:eol]
        if not status.startswith(b"+OK"):
            fail("pipelined RETR %d: %r" % (i, status[:80]))
        buf = buf[eol + 2:]
        while True:
            end = buf.find(b"\r\n.\r\n")
            if end >= 0:
                break
            block = p.file.read1(1 << 16)
            if not block:
                fail("pipelined: connection closed in RETR %d" % i)
            buf += block
        octets += end + 2
        buf = buf[end + 5:]
    p.quit()
    return octets


def pop_poll(port):
    p = login(port, USER)
    count, _ = p.stat()
    _, uidls, _ = p.uidl()
    check(count == N and len(uidls) == N, "poll: STAT %d, UIDL %d lines" % (count, len(uidls)))
    p.quit()
    return count


def measure(name, pb_fn, ref_fn, expect_pb, expect_ref, target, prepare=None, extra="",
            ended=lambda: None):
    """ended() waits until popbridge has finished the session just timed
    (what it does after QUIT's answer: reading the last answers, keeping
    the connection), so that never overlaps the next measurement."""
    for fn, want in ((pb_fn, expect_pb), (ref_fn, expect_ref)):   # warm-up
        if prepare and fn is pb_fn:
            prepare()
        got = fn()
        check(got == want, "%s: warm-up got %r, want %r" % (name, got, want))
        if fn is pb_fn:
            ended()
    t_pb, t_ref = [], []
    for _ in range(REPEATS):
        for fn, times, want in ((pb_fn, t_pb, expect_pb), (ref_fn, t_ref, expect_ref)):
            if prepare and fn is pb_fn:
                prepare()
            t, got = timed(fn)
            check(got == want, "%s: got %r, want %r" % (name, got, want))
            times.append(t)
            if fn is pb_fn:
                ended()
    a, b = median(t_pb), median(t_ref)
    line(name, fmt_s(a), fmt_s(b), a / b, "time <= %.1fx%s" % (target, extra), a / b <= target)
    return a, b


def main():
    with Dovecot(users={USER: PW}, fill=["%s:INBOX:large:%d:%d" % (USER, N, SIZE)]) as dc, \
            Relay(dc.imap_port, DELAY_MS) as relay, \
            Popbridge(_Upstream(relay.port)) as pb:
        # the round trip the relay adds, for the record
        t0 = time.perf_counter()
        imap_listing(relay.port)
        note("relay: %d ms each way; one IMAP login+SELECT+listing took %s" %
             (DELAY_MS, fmt_s(time.perf_counter() - t0)))
        sessions = [0]

        def ended():
            sessions[0] += 1
            pb.wait_log("event=session", 60, sessions[0])

        unseen = lambda: unseen_all(dc.imap_port)  # noqa: E731 (untimed, direct)
        bulk = lambda: imap_bulk(relay.port)  # noqa: E731
        a, b = measure("remote retr 200 x 20KiB, sequential", lambda: pop_sequential(pb.port),
                       bulk, N * SIZE, N * SIZE, TARGET_RETR, unseen, ended=ended)
        note("sequential: popbridge %s, IMAP bulk UID FETCH 1:* %s" % (fmt_s(a), fmt_s(b)))
        a, b = measure("remote retr 200 x 20KiB, pipelined", lambda: pop_pipelined(pb.port),
                       bulk, N * SIZE, N * SIZE, TARGET_RETR, unseen, ended=ended)
        note("pipelined: popbridge %s, IMAP bulk UID FETCH 1:* %s" % (fmt_s(a), fmt_s(b)))
        a, b = measure("remote poll", lambda: pop_poll(pb.port),
                       lambda: imap_listing(relay.port), N, N, TARGET_POLL,
                       extra=" (reuse)", ended=ended)
        note("poll: popbridge %s (a kept upstream connection), IMAP LOGIN+SELECT+listing %s"
             % (fmt_s(a), fmt_s(b)))
        check(pb.proc.poll() is None, "popbridge exited during the benchmark")


if __name__ == "__main__":
    main()
