#!/usr/bin/python3
"""Login and listing cost on a 20,000-message INBOX: popbridge against
Dovecot's own POP3 service on identical mailboxes.

For each of REPEATS rounds two fresh users get the same 20,000 messages,
written straight into their Maildir new/ (untimed; one file per
message, hard-linked into the other users' Maildirs): one is read through
popbridge, the other through Dovecot's POP3. Measured (connect, USER/PASS,
STAT, QUIT unless said otherwise):
  first   the first session: Dovecot indexes the Maildir for both sides;
          popbridge also lists the folder over IMAP and records 20,000
          messages (UIDLs, sizes, match keys) in SQLite
  second  the same device again (state known)
  device  a second device of the same account (popbridge only; the
          reference is Dovecot's second session)
  new     the first device again after NEW messages arrived (delivered to
          both users between the sessions): the usual poll
  UIDL    the UIDL command alone, in a session already logged in
Ratio = popbridge time / Dovecot POP3 time. Target: <= 2.0 (as for RETR:
popbridge does Dovecot's work through IMAP plus a SQLite read).

One more line compares the first session with a direct IMAP size listing
(issue 11, SPEC §4 and §9: exact LIST sizes, but not one upstream command
per message): a third fresh user per round with the same 20,000 messages,
read with LOGIN, SELECT, `UID FETCH 1:* (UID RFC822.SIZE)`, LOGOUT by a
plain socket client (Dovecot indexes the Maildir here as for popbridge's
first session). Target: <= 2.0.

Sessions of one account follow each other within --upstream-reuse (60 s),
so the second session, the new device and the poll after new mail reuse
the first session's upstream connection (SPEC §9), as a device polling
every few minutes with a short reuse window would not.

A popbridge session is timed to QUIT's answer, what the client waits for;
what popbridge does after it (a big first sync's match keys, reading the
answers of commands sent ahead, keeping the connection) is waited for
before the next measurement starts (its session log line), so it never
runs during another side's measurement.
"""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (PW, REPEATS, Dovecot, Popbridge, check, fail, fmt_s,  # noqa: E402
                      line, login, median, note, timed)

COUNT = 20000
NEW = 10
TARGET = 2.0
BODY_LINES = 12

TEMPLATE = ("Message-ID: <%(n)d.%(user)s@bench.popbridge.test>\r\n"
            "Date: Mon, 02 Mar 2026 10:%(mm)02d:%(ss)02d +0000\r\n"
            "From: Sender %(n)d <sender-%(n)d@popbridge.test>\r\n"
            "To: %(user)s <%(user)s@popbridge.test>\r\n"
            "Subject: Bench message %(n)d\r\n"
            "\r\n" +
            "".join("Line %d of a short message body, about seventy octets long.\r\n" % i
                    for i in range(BODY_LINES)))


def fill_maildirs(dc, users):
    """COUNT messages as files in each user's INBOX new/, owned like the
    Maildir (Dovecot's mail user): written once for the first user and
    hard-linked into the others' (all before any session opens them)."""
    news = [os.path.join(dc.maildir(u, "INBOX"), "new") for u in users]
    st = os.stat(os.path.dirname(news[0]))
    for n in range(COUNT):
        name = "%d.B%06d.bench" % (1600000000 + n, n)
        path = os.path.join(news[0], name)
        data = TEMPLATE % {"n": n, "user": users[0], "mm": n // 60 % 60, "ss": n % 60}
        with open(path, "xb") as f:
            f.write(data.encode())
        os.chown(path, st.st_uid, st.st_gid)
        for other in news[1:]:
            os.link(path, os.path.join(other, name))


def login_stat(port, user, count):
    p = login(port, user)
    n, _ = p.stat()
    p.quit()
    check(n == count, "%s: STAT says %d messages, want %d" % (user, n, count))


class _Ended:
    """Waits until popbridge has logged the end of every session so far."""

    def __init__(self, pb):
        self.pb, self.n = pb, 0

    def __call__(self):
        self.n += 1
        self.pb.wait_log("event=session", 120, self.n)


def imap_size_listing(port, user, count):
    """LOGIN, SELECT INBOX, UID FETCH 1:* (UID RFC822.SIZE), LOGOUT; each
    answer read to its tagged line in blocks; the FETCH lines counted."""
    s = socket.create_connection(("127.0.0.1", port), timeout=120)
    buf = b""

    def until(tag):
        nonlocal buf
        while True:
            i = buf.find(b"\r\n" + tag + b" ")
            if i >= 0 or buf.startswith(tag + b" "):
                j = buf.find(b"\r\n", i + 2 if i >= 0 else 0)
                if j >= 0:
                    out, buf = buf[:j + 2], buf[j + 2:]
                    return out
            d = s.recv(1 << 16)
            if not d:
                fail("IMAP connection closed")
            buf += d

    until(b"*")                       # the greeting
    s.sendall(b"a LOGIN %s %s\r\n" % (user.encode(), PW.encode()))
    check(b"a OK" in until(b"a"), "IMAP LOGIN")
    s.sendall(b"b SELECT INBOX\r\n")
    check(b"b OK" in until(b"b"), "IMAP SELECT")
    s.sendall(b"c UID FETCH 1:* (UID RFC822.SIZE)\r\n")
    got = until(b"c")
    check(b"c OK" in got, "IMAP UID FETCH")
    s.sendall(b"d LOGOUT\r\n")
    until(b"d")
    s.close()
    n = got.count(b" FETCH (")
    check(n == count, "IMAP listing: %d messages, want %d" % (n, count))


def uidl_time(port, user, count):
    p = login(port, user)
    t, (_, lines, _) = timed(p.uidl)
    p.quit()
    check(len(lines) == count, "%s: UIDL listed %d messages" % (user, len(lines)))
    return t


def main():
    with Dovecot() as dc:
        t0 = time.perf_counter()
        users = [u % r for r in range(REPEATS) for u in ("pb%d", "dc%d", "im%d")]
        for user in users:
            dc.add_user(user, PW)
        fill_maildirs(dc, users)
        note("wrote %d x %d messages in %.1fs (untimed)" %
             (len(users), COUNT, time.perf_counter() - t0))
        keys = ("first", "second", "device", "newmail", "uidl")
        res = {k: ([], []) for k in keys + ("first_imap",)}
        with Popbridge(dc) as pb:
            ended = _Ended(pb)
            for r in range(REPEATS):
                pbu, dcu = "pb%d" % r, "dc%d" % r
                steps = (("first", pbu, COUNT), ("second", pbu, COUNT),
                         ("device", pbu + "#second", COUNT), ("newmail", pbu, COUNT + NEW))
                for key, pbuser, count in steps:
                    if key == "newmail":       # mail arrives between two polls
                        for i in range(NEW):
                            for user in (pbu, dcu):
                                dc.add(user, "INBOX", "plain", 100000 + r * NEW + i)
                    res[key][0].append(timed(lambda: login_stat(pb.port, pbuser, count))[0])
                    ended()
                    if key != "device":
                        res[key][1].append(timed(lambda: login_stat(dc.pop3_port, dcu,
                                                                    count))[0])
                    if key == "first":
                        res["first_imap"][1].append(timed(lambda: imap_size_listing(
                            dc.imap_port, "im%d" % r, COUNT))[0])
                res["uidl"][0].append(uidl_time(pb.port, pbu, COUNT + NEW))
                ended()
                res["uidl"][1].append(uidl_time(dc.pop3_port, dcu, COUNT + NEW))
            check(pb.proc.poll() is None, "popbridge exited during the benchmark")
        res["device"][1].extend(res["second"][1])
        res["first_imap"][0].extend(res["first"][0])
        names = {"first": "login+STAT 20k, first session",
                 "second": "login+STAT 20k, second session",
                 "device": "login+STAT 20k, new device",
                 "newmail": "login+STAT 20k, %d new since" % NEW,
                 "uidl": "UIDL 20k (logged in)"}
        names["first_imap"] = "login+STAT 20k, first session vs IMAP size listing"
        for key in keys + ("first_imap",):
            a, b = median(res[key][0]), median(res[key][1])
            line(names[key], fmt_s(a), fmt_s(b), a / b, "time <= %.1fx" % TARGET,
                 a / b <= TARGET)
        note("reference for 'new device' is Dovecot's second session; for 'vs IMAP size "
             "listing' LOGIN, SELECT, UID FETCH 1:* (UID RFC822.SIZE), LOGOUT on a fresh "
             "copy of the Maildir")

if __name__ == "__main__":
    main()
