#!/usr/bin/env python3
"""Managed mode end to end: `popbridge account/device` and `serve --auth
managed` in front of the sandbox Dovecot, with Python's poplib over plaintext
POP3 on loopback.

- a device logs in with the account name and its own password and gets the
  upstream messages byte for byte; the session is recorded for that device;
- the upstream password, another account's device password and an unknown
  account are refused with -ERR [AUTH], all with the same text; so is a
  device password with a user name ACCOUNT#DEVICE naming another device;
- a revoked device gets -ERR [AUTH], the account's other device still works;
- a device that deleted everything sees every message again after `reset`;
- `device list` shows the last login, address, TLS (none), counters;
- repeated failed logins from one address are answered ever more slowly
  (lower bounds only: 2 s, then 4 s);
- 24 failing logins at once raise the peak memory by at most one scrypt run
  per CPU (the password checks are gated);
- the state file holds neither the upstream password nor a device password;
- a key file readable by others stops `serve` with a clear message; with
  a wrong key file a device gets -ERR [SYS/PERM] and nothing changes.
"""
import os
import poplib
import socket
import subprocess
import threading
import time

from pbinterop import (PW, Dovecot, Popbridge, TempDir, check, fail, normalise, popbridge_bin,
                       report, upstream_messages)

ACC = "office@example.org"
BOB = "bob@example.org"
BOB_PW = "Bob-Upstream-3x!"

poplib._MAXLINE = 1 << 20   # the awkward messages have lines far over 2048 octets


def cli(state, *args, stdin_text=None, expect=0):
    r = subprocess.run([popbridge_bin()] + list(args) + ["--state", state],
                       input=stdin_text if stdin_text is not None else "",
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    check(r.returncode == expect, "popbridge %s: exit %d (wanted %d)\nstdout:%s\nstderr:%s"
          % (" ".join(args), r.returncode, expect, r.stdout, r.stderr))
    return r.stdout


def device_add(state, account, device):
    out = cli(state, "device", "add", account, device)
    pw = out.rstrip("\n").split("\n")[-1]
    check(len(pw) == 20 and pw.isdigit(), "device add's last line is %r" % pw)
    return pw


def pop_login(pb, user, password):
    p = poplib.POP3("127.0.0.1", pb.port, timeout=90)
    p.user(user)
    p.pass_(password)
    return p


def refused(pb, user, password):
    """The -ERR line of a refused login (fails when the login works)."""
    p = poplib.POP3("127.0.0.1", pb.port, timeout=90)
    try:
        p.user(user)
        p.pass_(password)
    except poplib.error_proto as e:
        return e.args[0].decode("utf-8", "replace")
    finally:
        try:
            p.quit()
        except (poplib.error_proto, OSError, EOFError):
            pass
    raise AssertionError("login of %s with that password was accepted" % user)


def vm_hwm_kib(pid):
    """The process's peak resident set size (VmHWM), in KiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    fail("no VmHWM for %d" % pid)


def failing_login(port, i, errs):
    """USER/PASS with an unknown account from 127.0.0.(10+i): -ERR [AUTH]."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=120,
                                      source_address=("127.0.0.%d" % (10 + i), 0)) as s:
            f = s.makefile("rb")
            f.readline()
            s.sendall(b"USER ghost%d@example.org\r\nPASS 12345678901234567890\r\n" % i)
            f.readline()
            line = f.readline()
            if not line.startswith(b"-ERR [AUTH]"):
                errs.append(line)
    except OSError as e:
        errs.append(str(e))


def retr_all(p):
    count, _ = p.stat()
    out = []
    for n in range(1, count + 1):
        _, lines, _ = p.retr(n)
        out.append(b"\r\n".join(lines) + b"\r\n")
    return out


def device_row(state, device):
    """device's row of `device list`, by its header's column names."""
    lines = cli(state, "device", "list", ACC).splitlines()
    head = lines[0].split()
    for line in lines[1:]:
        f = line.split()
        if len(f) > 2 and f[0] == ACC and f[1] == device:
            return dict(zip(head, f))
    raise AssertionError("no row for %s in device list" % device)


def main():
    fill = ["office:INBOX:plain:3", "office:INBOX:awkward:2", "bob:INBOX:plain:1"]
    with Dovecot(users={"office": PW, "bob": BOB_PW}, fill=fill) as dc, \
            TempDir("pbmanaged.") as tmp:
        state = os.path.join(tmp, "state.db")
        key = state + ".key"
        cli(state, "account", "add", ACC, "--upstream-user", "office", stdin_text=PW + "\n")
        cli(state, "account", "add", BOB, "--upstream-user", "bob", stdin_text=BOB_PW + "\n")
        scanner = device_add(state, ACC, "scanner")
        pc = device_add(state, ACC, "pc")
        bob_pc = device_add(state, BOB, "pc")
        up = upstream_messages(dc, "office", PW)
        check(len(up) == 5, "upstream has %d messages" % len(up))

        with Popbridge(dc, args=["--auth", "managed"], tmp=tmp, state=state) as pb:
            # The device's own password: every message, exact bytes.
            p = pop_login(pb, ACC, scanner)
            got = retr_all(p)
            check(len(got) == len(up), "scanner sees %d of %d" % (len(got), len(up)))
            for n, (uid, body) in enumerate(up):
                check(got[n] == normalise(body), "message %d differs from upstream" % uid)
            p.quit()
            pb.wait_log("device=scanner", 30)
            report("a device logs in with its own password and gets the mail")

            p = pop_login(pb, ACC, pc)
            check(p.stat()[0] == len(up), "pc sees every message")
            p.quit()
            pb.wait_log("device=pc", 30)
            report("each password names its device")

            # Refusals: same text for every kind.
            t_up = refused(pb, ACC, PW)
            check("[AUTH]" in t_up, "upstream password: %r" % t_up)
            t_bob = refused(pb, ACC, bob_pc)
            t_unknown = refused(pb, "nobody@example.org", scanner)
            check(t_up == t_bob == t_unknown,
                  "refusals differ: %r / %r / %r" % (t_up, t_bob, t_unknown))
            report("upstream password, another account's device and an unknown "
                   "account are refused alike")
            pop_login(pb, ACC, scanner).quit()  # a good login resets the delay
            t_other = refused(pb, ACC + "#pc", scanner)
            check(t_other == t_up, "naming another device: %r" % t_other)
            pop_login(pb, ACC, scanner).quit()
            report("a device password does not log in as another device")

            # Revoke.
            cli(state, "device", "revoke", ACC, "pc")
            t_rev = refused(pb, ACC, pc)
            check(t_rev.startswith("-ERR [AUTH]"), "revoked device: %r" % t_rev)
            p = pop_login(pb, ACC, scanner)      # also resets the failure delay
            p.quit()
            report("a revoked device gets -ERR [AUTH]")

            # Delete everything, then reset.
            p = pop_login(pb, ACC, scanner)
            count, _ = p.stat()
            for n in range(1, count + 1):
                p.dele(n)
            p.quit()
            p = pop_login(pb, ACC, scanner)
            check(p.stat()[0] == 0, "after deleting, scanner still sees %d" % p.stat()[0])
            p.quit()
            row = device_row(state, "scanner")
            check(row["LAST-LOGIN"] != "never" and row["LAST-ADDRESS"] == "127.0.0.1" and
                  row["TLS"] == "none", "device list row after sessions: %r" % row)
            check(row["RETRIEVED"] == str(len(up)) and row["DELETED"] == str(len(up)),
                  "retrieved/deleted in device list: %r" % row)
            check(row["PENDING"] == "0" and row["STUCK"] == "0",
                  "pending/stuck commits in device list: %r" % row)
            check(row["REVOKED"] == "no" and device_row(state, "pc")["REVOKED"] == "yes",
                  "revoked column: %r" % row)
            cli(state, "device", "reset", ACC, "scanner")
            p = pop_login(pb, ACC, scanner)
            again = retr_all(p)
            p.quit()
            check(len(again) == len(up), "after reset scanner sees %d of %d"
                  % (len(again), len(up)))
            check(len(upstream_messages(dc, "office", PW)) == len(up),
                  "upstream lost messages")
            report("reset: the device sees every message again; device list is right")

            # Failed logins are slowed: 2 s, then 4 s (lower bounds only).
            delays = []
            for _ in range(2):
                t0 = time.monotonic()
                refused(pb, ACC, "00000000000000000000")
                delays.append(time.monotonic() - t0)
            check(delays[0] >= 1.9 and delays[1] >= 3.9,
                  "failed logins answered after %.2f s and %.2f s" % tuple(delays))
            report("repeated failed logins are slowed (%.1f s, %.1f s)" % tuple(delays))

            # 24 failing logins at once, from 24 addresses, each costing
            # 4 scrypt runs of 32 MiB: at most as many run at once as the
            # process has CPUs, so the peak memory grows by at most that
            # many runs (SPEC §13; before the gate: about +750 MB).
            hwm0 = vm_hwm_kib(pb.proc.pid)
            slots = len(os.sched_getaffinity(pb.proc.pid))
            errs = []
            threads = [threading.Thread(target=failing_login, args=(pb.port, i, errs))
                       for i in range(24)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            check(not errs, "parallel failing logins: %s" % errs[:3])
            grew = vm_hwm_kib(pb.proc.pid) - hwm0
            if not os.environ.get("POPBRIDGE_SANITIZE"):
                check(grew <= slots * 33 * 1024,
                      "24 parallel failing logins raised the peak by %d KiB (%d CPUs)"
                      % (grew, slots))
            report("24 parallel failing logins: peak memory +%d MiB with %d checks at once"
                   % (grew // 1024, slots))
            rc = pb.stop()
            log = "\n".join(pb.log_lines())
            check(rc == 0 and "Sanitizer" not in log,
                  "serve ended with status %d; log:\n%s" % (rc, log))
            for secret in (PW, scanner, pc, bob_pc):
                check(secret not in log, "a password is in the log")

        # Nothing secret at rest.
        for name in os.listdir(tmp):
            if not name.startswith("state.db") or name == "state.db.key":
                continue
            with open(os.path.join(tmp, name), "rb") as f:
                data = f.read()
            for secret in (PW, BOB_PW, scanner, pc, bob_pc):
                check(secret.encode() not in data, "%s holds a password" % name)
        report("the state file holds no password")

        # A key file others may read stops serve.
        os.chmod(key, 0o644)
        pb = Popbridge(dc, args=["--auth", "managed"], tmp=tmp, state=state,
                       wait_ready=False)
        try:
            rc = pb.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pb.proc.kill()
            raise AssertionError("serve runs with a key file of mode 0644")
        pb._reader.join(10)
        log = "\n".join(pb.log_lines())
        check(rc != 0 and "0644" in log and key in log,
              "serve with a 0644 key file: exit %d, log:\n%s" % (rc, log))
        os.chmod(key, 0o600)
        report("a key file readable by others stops serve")

        # The wrong key file: the sealed password does not open, the device is
        # told an administrator must act, nothing is changed.
        wrong = os.path.join(tmp, "wrong.key")
        fd = os.open(wrong, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, b"popbridge-key-v1\n" + os.urandom(32).hex().encode() + b"\n")
        os.close(fd)
        with open(state, "rb") as f:
            before = f.read()
        with Popbridge(dc, args=["--auth", "managed", "--key-file", wrong], tmp=tmp,
                       state=state) as pb:
            t = refused(pb, ACC, scanner)
            check(t.startswith("-ERR [SYS/PERM]"), "wrong key file: %r" % t)
            check(pb.stop() == 0, "serve did not stop cleanly")
        with open(state, "rb") as f:
            check(f.read() == before, "the state file changed")
        report("a wrong key file: -ERR [SYS/PERM], nothing changed")


if __name__ == "__main__":
    main()
