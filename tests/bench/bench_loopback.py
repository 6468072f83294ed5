#!/usr/bin/python3
"""Retrieval on loopback against Dovecot's own POP3 on the same Maildir
(issue 11's loopback targets): many messages, where a per-message cost
shows, and a big mailbox of small ones.

Mailboxes (one user each, identical content for both sides: popbridge reads
the user's Maildir through Dovecot's IMAP, the reference reads the same
Maildir through Dovecot's POP3):
  1,000 messages of 20 KiB, 20,000 of 4 KiB, 100 of 1 MiB; written straight
  into the Maildir new/ (untimed; CRLF text lines of exact sizes).

Measured (medians of REPEATS runs, the sides alternating, one untimed
warm-up session each first: popbridge's first sync, Dovecot's index):
  retr 1000 x 20KiB      connect, USER/PASS, RETR 1..1000 (poplib), QUIT
  retr 20000 x 4KiB      the same on the 20,000 messages
  retr 100 x 1MiB, curl  one curl process: RETR 1..100 over one connection
                         (pop3://HOST:PORT/[1-100], output thrown away)
Ratio = popbridge time / Dovecot POP3 time; targets (issue 11): <= 1.0,
<= 1.2, <= 1.0. popbridge runs with its defaults (seen_on retr: each RETR
also stores \\Seen upstream, as Dovecot's POP3 marks mail seen).
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import PW, REPEATS, Dovecot, Popbridge, check  # noqa: E402
from bench_retr import measure, session  # noqa: E402

CASES = (  # user, count, size, target, client
    ("k20", 1000, 20 * 1024, 1.0, "poplib"),
    ("k4", 20000, 4 * 1024, 1.2, "poplib"),
    ("m1", 100, 1024 * 1024, 1.0, "curl"),
)
LINE = b"x" * 70 + b"\r\n"


def message(user, n, size):
    head = (b"From: bench@popbridge.test\r\nTo: %s@popbridge.test\r\n"
            b"Subject: loopback %d\r\nMessage-ID: <%d.%s@bench.popbridge.test>\r\n\r\n"
            % (user.encode(), n, n, user.encode()))
    body = LINE * ((size - len(head)) // len(LINE) + 1)
    data = head + body[:size - len(head) - 2] + b"\r\n"
    assert len(data) == size
    return data


def fill(dc, user, count, size):
    new = os.path.join(dc.maildir(user, "INBOX"), "new")
    st = os.stat(os.path.dirname(new))
    for n in range(count):
        path = os.path.join(new, "%d.L%06d.bench" % (1600000000 + n, n))
        with open(path, "xb") as f:
            f.write(message(user, n, size))
        os.chown(path, st.st_uid, st.st_gid)


def curl_session(port, user, count):
    """One curl process, RETR 1..count on one connection, every message to
    its stdout, counted here in blocks; the octets (the messages, CRLF
    form, unstuffed). (curl's own size_download is not reliable for POP3
    written to /dev/null.)"""
    proc = subprocess.Popen(["curl", "-sS", "--max-time", "300", "-u", "%s:%s" % (user, PW),
                             "pop3://127.0.0.1:%d/[1-%d]" % (port, count)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    octets = 0
    for _ in range(1 << 30):
        block = proc.stdout.read1(1 << 16)
        if not block:
            break
        octets += len(block)
    err = proc.stderr.read()
    check(proc.wait() == 0, "curl: exit %d: %s" % (proc.returncode, err.decode()[-300:]))
    return octets


def main():
    with Dovecot(users={c[0]: PW for c in CASES}) as dc:
        for user, count, size, _, _ in CASES:
            fill(dc, user, count, size)
        with Popbridge(dc) as pb:
            for user, count, size, target, client in CASES:
                fn = curl_session if client == "curl" else session
                name = "retr %d x %s%s" % (count, "%dKiB" % (size // 1024) if size < 1 << 20
                                           else "%dMiB" % (size >> 20),
                                           ", curl" if client == "curl" else "")
                measure(name, dc, pb, user, count, count * size, fn, REPEATS, target)
            check(pb.proc.poll() is None, "popbridge exited during the benchmark")


if __name__ == "__main__":
    main()
