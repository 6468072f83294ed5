#!/usr/bin/python3
"""The IMAP front's relay (SPEC §12): a 50 MiB message fetched through
popbridge's IMAP front and straight from Dovecot's IMAP, same machine, same
message, plaintext on loopback both ways.

One timed run: connect, LOGIN, SELECT, UID FETCH 1 BODY.PEEK[] read in
64 KiB blocks without parsing (the client must not be the bottleneck) until
the tagged OK, LOGOUT. Each side gets one untimed warm-up session, then
3 x REPEATS timed runs, alternating sides. Ratio = through popbridge /
direct. Target (issue 15, docs/BENCHMARKS.md): <= 1.1 — after login the
front adds nothing per byte but a copy through its buffers. A second line
does the same over implicit TLS to the client on both sides (the front's
--imap-listen-tls against Dovecot's IMAPS; popbridge's upstream stays
plaintext on loopback), where the front's TLS replaces Dovecot's.
"""
import os
import socket
import ssl
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (PW, REPEATS, Dovecot, Popbridge, check, fail, fmt_mbs, fmt_s,  # noqa: E402
                      line, median, note, timed)
from pbinterop import TempDir, free_port, make_cert  # noqa: E402

BIG_SIZE = 50 * 1024 * 1024
TARGET = 1.1
CHUNK = 1 << 16


def fetch(port, user, tls=None):
    """The octets of the FETCH response (literal included) read until the
    tagged OK; tls: an SSL context for implicit TLS."""
    s = socket.create_connection(("127.0.0.1", port), timeout=120)
    if tls:
        s = tls.wrap_socket(s, server_hostname="localhost")
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


def measure(name, front, direct, tls=None):
    """front, direct: (port, user); alternating timed runs after a warm-up."""
    for port, user in (front, direct):
        check(fetch(port, user, tls) > BIG_SIZE, "warm-up: short FETCH")
    times = {front: [], direct: []}
    for _ in range(3 * REPEATS):
        for side in (front, direct):
            t, got = timed(lambda: fetch(side[0], side[1], tls))
            check(got > BIG_SIZE, "short FETCH (%d octets)" % got)
            times[side].append(t)
    a, b = median(times[front]), median(times[direct])
    line(name, fmt_s(a), fmt_s(b), a / b, "time <= %.1fx" % TARGET, a / b <= TARGET)
    note("through the front %s, direct %s" % (fmt_mbs(BIG_SIZE, a), fmt_mbs(BIG_SIZE, b)))


def main():
    front, front_tls = free_port(), free_port()
    with TempDir("pbbench.") as tmp, \
            Dovecot(users={"big": PW}, fill=["big:INBOX:large:1:%d" % BIG_SIZE]) as dc:
        cert, key = make_cert(tmp)
        with Popbridge(dc, tmp=tmp, args=["--imap-listen", "127.0.0.1:%d" % front,
                                          "--imap-listen-tls", "127.0.0.1:%d" % front_tls,
                                          "--cert", cert, "--key", key]) as pb:
            measure("imap front fetch 1 x 50MiB", (front, "big#bench"), (dc.imap_port, "big"))
            # Implicit TLS to the client on both sides (Dovecot's IMAPS with its
            # own certificate): the front's TLS against Dovecot's.
            ctx = ssl.create_default_context(cafile=cert)
            ctx.load_verify_locations(dc.ca_file)
            measure("imap front fetch 1 x 50MiB, TLS", (front_tls, "big#bench"),
                    (dc.imaps_port, "big"), ctx)
            check(pb.proc.poll() is None, "popbridge exited during the benchmark")


if __name__ == "__main__":
    main()
