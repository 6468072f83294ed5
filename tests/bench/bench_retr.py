#!/usr/bin/python3
"""RETR throughput: the same messages downloaded through popbridge (in front
of Dovecot's IMAP) and straight from Dovecot's own POP3 service.

Two mailboxes: 200 messages of 50 KiB, and one message of 50 MiB. One timed
run is: connect, USER/PASS, RETR every message (poplib), QUIT. poplib splits
every line in Python, which costs as much as the servers do; the 50 MiB
message is therefore also read in 64 KiB blocks ("block reads"), which shows
the servers' own throughput (with three times as many runs: each is short). Each side gets
one untimed warm-up session first (popbridge's first session fills its
SQLite state; Dovecot's first session builds its index), then REPEATS timed
runs, alternating sides. Ratio = popbridge time / Dovecot POP3 time.
Target (docs/BENCHMARKS.md): <= 2.0 (popbridge adds a hop: every byte is read
from IMAP and written again, and each RETR costs an IMAP round trip).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (PW, REPEATS, Dovecot, Popbridge, check, fmt_mbs, fmt_s,  # noqa: E402
                      line, login, median, note, retr_all, retr_discard, timed)

SMALL_N, SMALL_SIZE = 200, 50 * 1024
BIG_SIZE = 50 * 1024 * 1024
TARGET = 2.0


def session(port, user, count):
    p = login(port, user)
    octets = retr_all(p, count)
    p.quit()
    return octets


def session_blocks(port, user, count):
    """As session(), reading each message in blocks without line parsing;
    returns the message octets (the wire octets less the final ".CRLF": the
    generated messages have no line starting with a dot)."""
    p = login(port, user)
    octets = sum(retr_discard(p, i) - 3 for i in range(1, count + 1))
    p.quit()
    return octets


def measure(name, dc, pb, user, count, expect, fn=session, repeats=REPEATS, target=TARGET):
    for port in (pb.port, dc.pop3_port):          # warm-up, untimed
        got = fn(port, user, count)
        check(got == expect, "%s: warm-up got %d octets, want %d" % (name, got, expect))
    t_pb, t_dc = [], []
    for _ in range(repeats):
        for port, times in ((pb.port, t_pb), (dc.pop3_port, t_dc)):
            t, got = timed(lambda: fn(port, user, count))
            check(got == expect, "%s: got %d octets, want %d" % (name, got, expect))
            times.append(t)
    a, b = median(t_pb), median(t_dc)
    line(name, fmt_s(a), fmt_s(b), a / b, "time <= %.1fx" % target, a / b <= target)
    note("%s: popbridge %s, Dovecot POP3 %s" % (name, fmt_mbs(expect, a), fmt_mbs(expect, b)))


def main():
    users = {"small": PW, "big": PW}
    fill = ["small:INBOX:large:%d:%d" % (SMALL_N, SMALL_SIZE),
            "big:INBOX:large:1:%d" % BIG_SIZE]
    with Dovecot(users=users, fill=fill) as dc, Popbridge(dc) as pb:
        measure("retr 200 x 50KiB", dc, pb, "small", SMALL_N, SMALL_N * SMALL_SIZE)
        measure("retr 1 x 50MiB", dc, pb, "big", 1, BIG_SIZE)
        measure("retr 1 x 50MiB, block reads", dc, pb, "big", 1, BIG_SIZE, session_blocks,
                3 * REPEATS)   # 0.1-0.2 s a run: more runs for a steadier median
        check(pb.proc.poll() is None, "popbridge exited during the benchmark")


if __name__ == "__main__":
    main()
