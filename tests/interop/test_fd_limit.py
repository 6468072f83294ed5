#!/usr/bin/env python3
"""`popbridge serve` out of descriptors (RLIMIT_NOFILE).

popbridge runs under `prlimit --nofile=N:N` (a soft and hard limit of N, so
its own raise_fd_limit cannot lift it). The test opens POP3 connections until
one gets no greeting: accept(2) fails with EMFILE and the connections wait in
the listen backlog. Then:
- popbridge does not spin: its CPU time (utime + stime from /proc) grows by
  less than CPU_MAX_S over QUIET_S seconds of the pending connections;
- it says so once: one `event=accept` line for the whole episode, however
  many times accept failed meanwhile;
- once connections close, the pending ones are greeted (within a few seconds)
  and one line says it accepts again; a POP3 login then works (poplib).
"""
import os
import poplib
import socket
import time

from pbinterop import PW, Dovecot, Popbridge, check, report

NOFILE = 32
QUIET_S = 3
CPU_MAX_S = 0.3
MAX_CONNS = 200          # far beyond what NOFILE allows: the loop ends sooner


class Limited(Popbridge):
    """Popbridge under prlimit (which execs it: the pid is popbridge's)."""

    def _start(self, env, wait_ready):
        self.argv = ["prlimit", "--nofile=%d:%d" % (NOFILE, NOFILE), "--"] + self.argv
        super()._start(env, wait_ready)


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def greeted(s, timeout):
    s.settimeout(timeout)
    try:
        return s.recv(100).startswith(b"+OK")
    except socket.timeout:
        return False


def accept_lines(pb):
    return [ln for ln in pb.log_lines() if " event=accept " in ln]


def main():
    with Dovecot(users={"fd": PW}, fill=["fd:INBOX:plain:2"]) as dc, Limited(dc) as pb:
        held, pending = [], []
        while len(held) < MAX_CONNS:
            s = socket.create_connection(("127.0.0.1", pb.port), timeout=10)
            if not greeted(s, 2):
                pending.append(s)
                break
            held.append(s)
        check(pending, "%d connections all greeted under a limit of %d descriptors"
              % (len(held), NOFILE))
        for _ in range(4):
            pending.append(socket.create_connection(("127.0.0.1", pb.port), timeout=10))
        pb.wait_log("accepting paused")
        before = cpu_s(pb.proc.pid)
        time.sleep(QUIET_S)
        used = cpu_s(pb.proc.pid) - before
        check(used < CPU_MAX_S, "popbridge used %.2f s of CPU in %d s out of descriptors"
              % (used, QUIET_S))
        lines = accept_lines(pb)
        check(len(lines) == 1 and "Too many open files" in lines[0] and
              "level=error" in lines[0], "accept lines while out of descriptors: %r" % lines)
        report("out of descriptors (%d sessions, limit %d): %.2f s of CPU in %d s, one log "
               "line: %s" % (len(held), NOFILE, used, QUIET_S, lines[0].split(" msg=", 1)[1]))

        for s in held[:len(pending) + 4]:
            s.close()
        for i, s in enumerate(pending):
            check(greeted(s, 10), "pending connection %d not greeted after sessions ended" % i)
        again = pb.wait_log("accepting again after")
        check(len(accept_lines(pb)) == 2, "accept lines: %r" % accept_lines(pb))
        for s in pending + held:
            s.close()
        p = poplib.POP3("127.0.0.1", pb.port, timeout=30)
        p.user("fd")
        p.pass_(PW)
        check(p.stat()[0] == 2, "STAT after the episode")
        p.quit()
        report("descriptors back: the %d pending connections greeted, a POP3 login works, "
               "one line: %s" % (len(pending), again.split(" msg=", 1)[1]))


if __name__ == "__main__":
    main()
