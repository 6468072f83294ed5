#!/usr/bin/python3
"""The IMAP front's relay (SPEC §12): a 50 MiB message fetched through
popbridge's IMAP front and straight from Dovecot's IMAP, same machine, same
message, plaintext on loopback both ways.

One timed run: connect, LOGIN, SELECT, UID FETCH 1 BODY.PEEK[] read in
64 KiB blocks without parsing (the client must not be the bottleneck) until
the tagged OK, LOGOUT. Each side gets one untimed warm-up session, then
3 x REPEATS timed runs, alternating sides. Ratio = through popbridge /
direct. Target (issue 15, docs/BENCHMARKS.md): <= 1.1 — after login the
front adds nothing per byte but a copy through its buffers.
"""
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (PW, REPEATS, Dovecot, Popbridge, check, fail, fmt_mbs, fmt_s,  # noqa: E402
                      line, median, note, timed)
from pbinterop import free_port  # noqa: E402

BIG_SIZE = 50 * 1024 * 1024
TARGET = 1.1
CHUNK = 1 << 16


def fetch(port, user):
    """The octets of the FETCH response (literal included) read until the
    tagged OK."""
    s = socket.create_connection(("127.0.0.1", port), timeout=120)
    f = s.makefile("rb", buffering=0)

    def until(tag):
        """Read to the end of the line tagged tag (the tags are words no
        message line starts with); the octets read."""
        pat = b"\r\n" + tag + b" "
        window, got = b"\r\n", 0
        while True:
            block = f.read(CHUNK)
            if not block:
                fail("connection closed before %s" % tag.decode())
            got += len(block)
            window += block
            i = window.find(pat)
            if i >= 0:
                while window.find(b"\r\n", i + 2) < 0:
                    block = f.read(CHUNK)
                    if not block:
                        fail("connection closed in %s" % tag.decode())
                    got += len(block)
                    window += block
                status = window[i + 2:window.find(b"\r\n", i + 2)]
                if not status.startswith(tag + b" OK"):
                    fail("%r" % status)
                return got
            window = window[-len(pat):]

    f.read(CHUNK)                  # the greeting (one line)
    s.sendall(b"zq1 LOGIN %s %s\r\n" % (user.encode(), PW.encode()))
    until(b"zq1")
    s.sendall(b"zq2 SELECT INBOX\r\n")
    until(b"zq2")
    s.sendall(b"zq3 UID FETCH 1 BODY.PEEK[]\r\n")
    octets = until(b"zq3")
    s.sendall(b"zq4 LOGOUT\r\n")
    s.close()
    return octets


def main():
    front = free_port()
    with Dovecot(users={"big": PW}, fill=["big:INBOX:large:1:%d" % BIG_SIZE]) as dc, \
            Popbridge(dc, args=["--imap-listen", "127.0.0.1:%d" % front]) as pb:
        sides = ((front, "big#bench"), (dc.imap_port, "big"))
        for port, user in sides:   # warm-up
            check(fetch(port, user) > BIG_SIZE, "warm-up: short FETCH")
        times = {front: [], dc.imap_port: []}
        for _ in range(3 * REPEATS):
            for port, user in sides:
                t, got = timed(lambda: fetch(port, user))
                check(got > BIG_SIZE, "short FETCH (%d octets)" % got)
                times[port].append(t)
        a, b = median(times[front]), median(times[dc.imap_port])
        line("imap front fetch 1 x 50MiB", fmt_s(a), fmt_s(b), a / b,
             "time <= %.1fx" % TARGET, a / b <= TARGET)
        note("through the front %s, direct %s" % (fmt_mbs(BIG_SIZE, a), fmt_mbs(BIG_SIZE, b)))
        check(pb.proc.poll() is None, "popbridge exited during the benchmark")


if __name__ == "__main__":
    main()
