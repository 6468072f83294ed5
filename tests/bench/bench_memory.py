#!/usr/bin/python3
"""Memory of the popbridge process (/proc/PID/status).

1. Peak RSS (VmHWM) of a fresh popbridge while one session streams a 100 MiB
   message, against the same while it streams a 100 KiB message. Each run
   starts a new popbridge, does one untimed session (login, LIST, QUIT: the
   device's first sync), then one session that RETRs the message and QUITs,
   and reads VmHWM. Ratio = peak(100 MiB) / peak(100 KiB).
   Target: peak(100 MiB) <= 1.1 x peak(100 KiB) + 2 MiB — RETR streams
   (SPEC §5), so memory must not grow with the message.
2. RSS (VmRSS) with 50 idle sessions (50 devices of one account, each logged
   in, after STAT) against RSS with one. Ratio = RSS(50) / RSS(1); the
   per-session cost (RSS(50) - RSS(1)) / 49 has the target <= 512 KiB, so the
   default --max-sessions 500 fits in 256 MiB.
3. RSS after ROUNDS rounds of 50 sessions (each logs in, RETRs a 100 KiB
   message, QUITs) against RSS after the second round (the first leaves
   the allocator's arenas only partly grown): memory a long-running daemon
   keeps must not creep up with the sessions it has served. Target: <= 1.1x.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (PW, REPEATS, Dovecot, Popbridge, check, fmt_kb, line,  # noqa: E402
                      login, median, note, proc_status, retr_discard)

SMALL, BIG = 100 * 1024, 100 * 1024 * 1024
IDLE = 50
PER_SESSION_TARGET_KIB = 512
SLACK_KIB = 2048
SETTLE = 0.3   # seconds for session threads to finish their login work
ROUNDS = 16
IDLE_MSGS = 20


def peak_while_streaming(dc, msgno, size):
    with Popbridge(dc) as pb:
        p = login(pb.port, "mem")
        p.list()
        p.quit()
        p = login(pb.port, "mem")
        got = retr_discard(p, msgno)
        p.quit()
        # the bytes on the wire: at least the message, dot-stuffing aside
        check(got >= size + 3, "RETR %d: %d octets for a %d-octet message" % (msgno, got, size))
        st = proc_status(pb.proc.pid)
        check(pb.proc.poll() is None, "popbridge exited")
        return st["VmHWM"]


def open_sessions(port, first, count):
    """Devices idle#dFIRST.. logged in, after STAT."""
    sessions = []
    try:
        for i in range(first, first + count):
            p = login(port, "idle#d%d" % i)
            p.stat()
            sessions.append(p)
    except Exception:
        for p in sessions:
            p.close()
        raise
    return sessions


def idle_sessions(dc):
    with Popbridge(dc, args=["--max-sessions-per-ip", str(2 * IDLE),
                             "--upstream-max-per-account", str(IDLE)]) as pb:
        for i in range(IDLE):   # every device's first sync, one at a time
            open_sessions(pb.port, i, 1)[0].quit()
        sessions = open_sessions(pb.port, 0, 1)
        try:
            time.sleep(SETTLE)
            one = proc_status(pb.proc.pid)["VmRSS"]
            sessions += open_sessions(pb.port, 1, IDLE - 1)
            time.sleep(SETTLE)
            many = proc_status(pb.proc.pid)["VmRSS"]
        finally:
            for p in sessions:
                p.quit()
        check(pb.proc.poll() is None, "popbridge exited")
        return one, many


def rounds(dc):
    """VmRSS after the second and after the last of ROUNDS rounds."""
    with Popbridge(dc, args=["--max-sessions-per-ip", str(2 * IDLE),
                             "--upstream-max-per-account", str(IDLE)]) as pb:
        rss = []
        for r in range(ROUNDS):
            sessions = open_sessions(pb.port, 0, IDLE)
            for p in sessions:
                got = retr_discard(p, 1 + r % IDLE_MSGS)
                check(got >= SMALL + 3, "RETR: %d octets for a %d-octet message" % (got, SMALL))
            for p in sessions:
                p.quit()
            time.sleep(SETTLE)
            rss.append(proc_status(pb.proc.pid)["VmRSS"])
        check(pb.proc.poll() is None, "popbridge exited")
        return rss[1], rss[-1]


def medians(fn):
    """Run fn (returning a pair) REPEATS times; the median of each member."""
    runs = [fn() for _ in range(REPEATS)]
    return median(r[0] for r in runs), median(r[1] for r in runs)


def main():
    users = {"mem": PW, "idle": PW}
    fill = ["mem:INBOX:large:1:%d" % SMALL, "mem:INBOX:large:1:%d" % BIG,
            "idle:INBOX:large:%d:%d" % (IDLE_MSGS, SMALL)]
    with Dovecot(users=users, fill=fill) as dc:
        s, b = medians(lambda: (peak_while_streaming(dc, 1, SMALL),
                                peak_while_streaming(dc, 2, BIG)))
        line("peak rss: RETR 100MiB vs 100KiB", fmt_kb(b), fmt_kb(s), b / s,
             "<= 1.1x + 2MiB", b <= 1.1 * s + SLACK_KIB)
        o, m = medians(lambda: idle_sessions(dc))
        per = (m - o) / (IDLE - 1)
        line("rss: %d idle sessions vs 1" % IDLE, fmt_kb(m), fmt_kb(o), m / o,
             "<= %dKiB/session" % PER_SESSION_TARGET_KIB, per <= PER_SESSION_TARGET_KIB)
        note("per idle session: %.0f KiB (RSS 1 session %s, %d sessions %s)" %
             (per, fmt_kb(o), IDLE, fmt_kb(m)))
        f, la = medians(lambda: rounds(dc))
        line("rss: %d rounds of %d sessions vs 2" % (ROUNDS, IDLE), fmt_kb(la), fmt_kb(f),
             la / f, "<= 1.1x", la <= 1.1 * f)

if __name__ == "__main__":
    main()
