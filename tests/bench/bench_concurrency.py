#!/usr/bin/python3
"""Concurrency: 20 devices of one account downloading at once, against one
device alone, through popbridge; and the same 20 downloads straight from
Dovecot's own POP3 service.

The account has 40 messages of 100 KiB. Each client is a separate process
(poplib): connect, USER/PASS, RETR every message, QUIT. All clients of a
run start together (a barrier); aggregate throughput = all octets / time from
the start to the last QUIT. Every device logs in once, untimed, before the
runs (its first sync). Medians of REPEATS runs.
  20 devices vs 1: ratio = aggregate(20) / throughput(1). Target >= 1.0:
      twenty devices together must get at least what one gets alone (no
      lock or database contention that serialises them below one stream).
  20 devices vs Dovecot: ratio = popbridge time / Dovecot POP3 time for the
      same 20 downloads. Target <= 2.0, as for a single RETR stream.
"""
import multiprocessing
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (PW, REPEATS, Dovecot, Popbridge, check, fail, fmt_mbs,  # noqa: E402
                      fmt_s, line, login, median, note, retr_all)

DEVICES = 20
COUNT, SIZE = 40, 100 * 1024
START_TIMEOUT = 60
RUN_TIMEOUT = 240


def client(port, user, barrier, results):
    try:
        barrier.wait(START_TIMEOUT)
        p = login(port, user)
        octets = retr_all(p, COUNT)
        p.quit()
        results.put((user, octets, time.perf_counter()))
    except Exception as e:   # reported to the parent, which fails the run
        results.put((user, -1, repr(e)))


def run(port, users):
    """All users download at once; (seconds, octets)."""
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(len(users) + 1)
    results = ctx.Queue()
    procs = [ctx.Process(target=client, args=(port, u, barrier, results)) for u in users]
    try:
        for pr in procs:
            pr.start()
        barrier.wait(START_TIMEOUT)
        t0 = time.perf_counter()
        got = [results.get(timeout=RUN_TIMEOUT) for _ in users]
    finally:
        for pr in procs:
            pr.join(10)
            if pr.is_alive():
                pr.kill()
                pr.join()
    bad = [g for g in got if g[1] < 0]
    if bad:
        fail("client failed: %r" % (bad,))
    for user, octets, _ in got:
        check(octets == COUNT * SIZE, "%s got %d octets, want %d" % (user, octets, COUNT * SIZE))
    return max(g[2] for g in got) - t0, sum(g[1] for g in got)


def main():
    devices = ["conc#d%02d" % i for i in range(DEVICES)]
    with Dovecot(users={"conc": PW}, fill=["conc:INBOX:large:%d:%d" % (COUNT, SIZE)]) as dc, \
         Popbridge(dc, args=["--max-sessions-per-ip", str(2 * DEVICES),
                             "--upstream-max-per-account", str(DEVICES)]) as pb:
        for d in devices:                       # first sync of every device, untimed
            p = login(pb.port, d)
            p.stat()
            p.quit()
        run(dc.pop3_port, ["conc"])             # Dovecot's first session, untimed
        one, many, ref = [], [], []
        for _ in range(REPEATS):
            one.append(run(pb.port, devices[:1]))
            many.append(run(pb.port, devices))
            ref.append(run(dc.pop3_port, ["conc"] * DEVICES))
        check(pb.proc.poll() is None, "popbridge exited during the benchmark")
    t1, o1 = median(x[0] for x in one), one[0][1]
    tn, on = median(x[0] for x in many), many[0][1]
    tr = median(x[0] for x in ref)
    agg1, aggn = o1 / t1, on / tn
    line("%d devices vs 1, aggregate" % DEVICES, fmt_mbs(on, tn), fmt_mbs(o1, t1),
         aggn / agg1, ">= 1.0x", aggn / agg1 >= 1.0)
    line("%d devices vs Dovecot POP3" % DEVICES, fmt_s(tn), fmt_s(tr), tn / tr,
         "time <= 2.0x", tn / tr <= 2.0)
    note("Dovecot POP3, %d sessions at once: %s aggregate" %
         (DEVICES, fmt_mbs(on, tr)))


if __name__ == "__main__":
    main()
