"""tests/bench/benchlib.py — shared helpers for the benchmarks (make bench).

Every benchmark runs popbridge and its reference (Dovecot's own POP3 service,
or popbridge itself in a smaller case) on this machine, in the same run, with
the same messages, and prints one line per measurement:

    NAME  popbridge=FIGURE  reference=FIGURE  ratio=R  target=T  ok|MISSED

Figures are medians of REPEATS runs (time.perf_counter). Verdicts compare the
ratio with the target documented in docs/BENCHMARKS.md; a missed target is
printed, not an error: a script exits non-zero only when something is wrong
(a wrong byte count, an -ERR, a process that died).

Clients are Python's poplib (standard library). Only loopback addresses are
used; every popbridge and Dovecot process and temporary directory is removed
on exit (pbinterop.py and pbtest.py take care of that).
"""

import os
import poplib
import statistics
import sys
import time

SRC = os.environ.get("POPBRIDGE_SRC", ".")
sys.path.insert(0, os.path.join(SRC, "tests", "interop"))
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))

from pbinterop import PW, Dovecot, Popbridge, TempDir, check, fail  # noqa: E402,F401

poplib._MAXLINE = 1 << 20
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
CLIENT_TIMEOUT = 120
CHUNK = 1 << 16
TERMINATOR = b"\r\n.\r\n"


def median(xs):
    return statistics.median(xs)


def login(port, user, password=PW):
    p = poplib.POP3("127.0.0.1", port, timeout=CLIENT_TIMEOUT)
    p.user(user)
    p.pass_(password)
    return p


def retr_all(p, count):
    """RETR 1..count through poplib; the total octets (CRLF form, unstuffed)."""
    total = 0
    for i in range(1, count + 1):
        _, _, octets = p.retr(i)
        total += octets
    return total


def retr_discard(p, n):
    """RETR n read in blocks and thrown away (no line parsing, so the client
    keeps up with a 100 MB message); the octets received after +OK, dot-
    stuffing and the final ".CRLF" included."""
    p._putcmd("RETR %d" % n)
    p._getresp()
    got = 0
    tail = b"\r\n"   # the +OK line ended with CRLF
    for _ in range(1 << 30):
        block = p.file.read1(CHUNK)
        if not block:
            fail("connection closed in RETR %d after %d octets" % (n, got))
        got += len(block)
        tail = (tail + block)[-len(TERMINATOR):]
        if tail == TERMINATOR:
            return got
    fail("RETR %d did not end" % n)


def timed(fn):
    t = time.perf_counter()
    r = fn()
    return time.perf_counter() - t, r


def proc_status(pid):
    """VmRSS and VmHWM of a process, in KiB."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    return out


def fmt_s(seconds):
    return "%.3fs" % seconds


def fmt_mbs(octets, seconds):
    return "%.1fMB/s" % (octets / seconds / 1e6)


def fmt_kb(kib):
    return "%dKiB" % kib


def line(name, pb, ref, ratio, target, ok):
    print("%-34s popbridge=%-12s reference=%-12s ratio=%-7.2f target=%-22s %s" %
          (name, pb, ref, ratio, target, "ok" if ok else "MISSED"), flush=True)


def note(text):
    print("  # " + text, flush=True)
