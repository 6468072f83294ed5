#!/usr/bin/env python3
"""`popbridge serve` at the wire level, against the sandbox Dovecot:

STLS and implicit TLS (Python ssl), IPv6 listener, [IN-USE] for the same
device twice, 20 devices at once, upstream down -> [SYS/TEMP], wrong
password -> [AUTH], --max-sessions / --max-sessions-per-ip, SIGHUP reload of
configuration and certificates (running sessions keep theirs; a broken file,
or one that drops the submission server of the running SMTP listener, keeps
the old settings), SIGTERM (listeners close at once, a running
session may still QUIT and commit, exit 0; a session that does not end is
cut after the grace period, or at a second signal, and commits nothing;
the Sent copies' retry waiting on a silent IMAP server delays neither the
listeners' closing nor the exit beyond its step under way),
the per-session log line
(fields, no password), start-up errors (exit 2 for usage, 1 for settings),
a state schema newer than the binary refused, --user privilege drop.
"""
import hashlib
import os
import poplib
import pwd
import base64
import re
import select
import signal
import socket
import sqlite3
import ssl
import subprocess
import threading
import time

from pbinterop import (PW, Dovecot, Popbridge, TempDir, check, free_port, make_cert,
                       popbridge_bin, report, upstream_messages)

poplib._MAXLINE = 1 << 20


def login(port, user, password=PW, host="127.0.0.1"):
    p = poplib.POP3(host, port, timeout=60)
    p.user(user)
    p.pass_(password)
    return p


def err_of(fn):
    """The -ERR line an operation raised (as text), or None."""
    try:
        fn()
    except poplib.error_proto as e:
        return e.args[0].decode() if isinstance(e.args[0], bytes) else str(e.args[0])
    return None


def tls_ctx(cafile):
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.check_hostname = False   # the certificate names 127.0.0.1 as an IP SAN
    return ctx


def cert_fingerprint(p):
    der = p.sock.getpeercert(binary_form=True)
    return hashlib.sha256(der).hexdigest()


def fields(line):
    return dict(m.group(1, 2) for m in re.finditer(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)', line))


# ---------------------------------------------------------------------------

def test_tls_and_log(dc, tmp):
    cert, key = make_cert(tmp, "t1")
    tls_port = free_port()
    with Popbridge(dc, args=["--cert", cert, "--key", key], tls_port=tls_port) as pb:
        p = poplib.POP3("127.0.0.1", pb.port, timeout=30)
        check("STLS" in p.capa(), "CAPA does not offer STLS with a certificate")
        p.stls(tls_ctx(cert))
        p.user("alice#stls")
        p.pass_(PW)
        n, _ = p.stat()
        p.retr(1)
        p.quit()
        p = poplib.POP3_SSL("127.0.0.1", tls_port, timeout=30, context=tls_ctx(cert))
        caps = p.capa()
        check("STLS" not in caps, "STLS offered under implicit TLS")
        check("IMPLEMENTATION" in caps and "EXPIRE" in caps, "CAPA lacks IMPLEMENTATION/EXPIRE")
        check(caps["EXPIRE"] == ["NEVER"], "EXPIRE is %r" % caps["EXPIRE"])
        p.user("alice#implicit")
        p.pass_(PW)
        p.top(1, 0)
        p.dele(1)
        p.quit()
        pb.wait_log("device=implicit")
        lines = pb.session_lines()
        s = [fields(l) for l in lines if "device=stls" in l][0]
        check(s["user"] == "alice#stls" and s["account"] == "alice" and
              s["remote"] == "127.0.0.1" and s["tls"].startswith("TLSv1."),
              "STLS session line: %r" % s)
        check(s["retr"] == "1" and int(s["retr_bytes"]) > 0 and s["result"] == "committed",
              "STLS session counts: %r" % s)
        s = [fields(l) for l in lines if "device=implicit" in l][0]
        check(s["top"] == "1" and s["dele"] == "1" and int(s["dele_bytes"]) > 0 and
              s["tls"].startswith("TLSv1.") and "duration_ms" in s,
              "implicit session line: %r" % s)
        check(not any(PW in l for l in pb.log_lines()), "password in the log")
        check(pb.stop() == 0, "exit status on SIGTERM")
    report("STLS and implicit TLS with Python ssl; session log lines carry user, account, "
           "device, remote, tls, counts, bytes, duration, result and no password")


def test_ipv6(dc, tmp):
    try:
        socket.create_server(("::1", 0), family=socket.AF_INET6).close()
    except OSError:
        report("IPv6 listener: skipped, no ::1 on this host")
        return
    port6 = free_port()
    with Popbridge(dc, extra_listen=["[::1]:%d" % port6]) as pb:
        p = login(port6, "alice#v6", host="::1")
        p.stat()
        p.quit()
        pb.wait_log("remote=::1")
        pb.stop()
    report("IPv6 listener [::1] (loopback: plaintext login allowed)")


def test_in_use_auth_down(dc, tmp):
    with Popbridge(dc, args=["--upstream-timeout", "5"]) as pb:
        a = login(pb.port, "alice#dev")
        e = err_of(lambda: login(pb.port, "alice#dev"))
        check(e and e.startswith("-ERR [IN-USE]"), "same device twice: %r" % e)
        b = login(pb.port, "alice#other")   # another device of the account: fine
        b.stat()
        b.quit()
        a.quit()
        c = login(pb.port, "alice#dev")     # the lock went with the QUIT
        c.quit()
        report("[IN-USE] for the same device twice; other devices in parallel")

        e = err_of(lambda: login(pb.port, "alice#dev", "wrong-password"))
        check(e and e.startswith("-ERR [AUTH]"), "wrong password: %r" % e)
        e = err_of(lambda: login(pb.port, "nosuchuser", "wrong-password"))
        check(e and e.startswith("-ERR [AUTH]"), "unknown user: %r" % e)
        login(pb.port, "alice#dev").quit()
        report("wrong password and unknown user -> -ERR [AUTH]")

        dc.pause()
        try:
            t0 = time.monotonic()
            e = err_of(lambda: login(pb.port, "alice#dev"))
            check(e and e.startswith("-ERR [SYS/TEMP]"), "upstream down: %r" % e)
            check(time.monotonic() - t0 < 60, "upstream down took too long")
        finally:
            dc.resume()
        login(pb.port, "alice#dev").quit()
        report("upstream down -> -ERR [SYS/TEMP]; works again when it is back")
        check(not any("wrong-password" in l for l in pb.log_lines()), "password in the log")
        pb.stop()


def test_many_devices(dc, tmp):
    n = 20
    # all 20 hold their upstream connection at once (the barrier): over the
    # default --upstream-max-per-account 4 (test_pool.py tests the cap)
    with Popbridge(dc, args=["--upstream-max-per-account", str(n)]) as pb:
        barrier = threading.Barrier(n, timeout=120)
        results = [None] * n

        def one(i):
            try:
                p = login(pb.port, "alice#many%d" % i)
                count, _ = p.stat()
                _, lines, _ = p.retr(count)
                barrier.wait()          # all 20 sessions are open at once
                p.quit()
                results[i] = count
            except Exception as e:      # reported below
                results[i] = e
                barrier.abort()

        ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(180)
        bad = [r for r in results if not isinstance(r, int)]
        check(not bad, "concurrent sessions failed: %r" % bad[:3])
        check(len(set(results)) == 1, "devices saw different counts: %r" % results)
        pb.stop()
    report("%d devices of one account in concurrent sessions" % n)


def raw_greeting(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    f = s.makefile("rb")
    return s, f, f.readline().decode()


def login_raw(s, f, user="alice"):
    s.sendall(b"USER " + user.encode() + b"\r\nPASS " + PW.encode() + b"\r\n")
    f.readline()
    line = f.readline()
    check(line.startswith(b"+OK"), "login: %r" % line)


def test_limits(dc, tmp):
    with Popbridge(dc, args=["--max-sessions", "2"]) as pb:
        # Half the slots (here one) may be held before login...
        held = [raw_greeting(pb.port)]
        check(held[0][2].startswith("+OK"), "greeting: %r" % (held[0][2],))
        s, f, g = raw_greeting(pb.port)
        check(g == "-ERR [SYS/TEMP] too many sessions\r\n", "over the pre-login share: %r" % g)
        check(f.read() == b"", "the refused connection stayed open")
        s.close()
        pb.wait_log("reason=pre-login-share")
        # ...a session that logs in leaves room for one more...
        login_raw(held[0][0], held[0][1], "alice#one")
        held.append(raw_greeting(pb.port))
        check(held[1][2].startswith("+OK"), "after a login: %r" % (held[1][2],))
        login_raw(held[1][0], held[1][1], "alice#two")
        # ...and max-sessions holds for all.
        s, f, g = raw_greeting(pb.port)
        check(g == "-ERR [SYS/TEMP] too many sessions\r\n", "over max-sessions: %r" % g)
        check(f.read() == b"", "the refused connection stayed open")
        s.close()
        # a flood of refused connections: one log line, not one each
        for _ in range(30):
            s, f, g = raw_greeting(pb.port)
            check(g == "-ERR [SYS/TEMP] too many sessions\r\n", "flood: %r" % g)
            s.close()
        for s, f, _ in held:
            s.sendall(b"QUIT\r\n")
            f.readline()
            s.close()
        pb.wait_log("result=committed", count=2)
        s, f, g = raw_greeting(pb.port)
        check(g.startswith("+OK"), "after sessions ended: %r" % g)
        s.close()
        pb.wait_log("event=refused")
        n = sum(" event=refused " in l for l in pb.log_lines())
        check(n == 1, "31 refused connections logged %d lines" % n)
        pb.stop()
        # One line for the two refusals within 10 s, the second counted.
        refused = [l for l in pb.log_lines() if "event=refused" in l]
        check(len(refused) == 1 and "reason=pre-login-share" in refused[0],
              "refusal lines: %r" % refused)
    with Popbridge(dc, args=["--max-sessions-per-ip", "1"]) as pb:
        s1, f1, g1 = raw_greeting(pb.port)
        s2, f2, g2 = raw_greeting(pb.port)
        check(g1.startswith("+OK") and g2 == "-ERR [SYS/TEMP] too many sessions\r\n",
              "per-ip limit: %r %r" % (g1, g2))
        s1.close()
        s2.close()
        pb.wait_log("reason=max-sessions-per-ip")
        pb.stop()
    report("--max-sessions, its pre-login half and --max-sessions-per-ip: "
           "-ERR [SYS/TEMP] too many sessions; one refusal line per 10 s")
    # SPEC §13: the pre-login share holds across protocols; SMTP says 421.
    smtp = free_port()
    with Popbridge(dc, args=["--max-sessions", "2", "--smtp-listen", "127.0.0.1:%d" % smtp,
                             "--smtp-upstream", "smtp://127.0.0.1:%d" % free_port(),
                             "--smtp-upstream-tls", "none"]) as pb:
        held = raw_greeting(pb.port)
        check(held[2].startswith("+OK"), "greeting: %r" % (held[2],))
        s, f, g = raw_greeting(smtp)
        check(g == "421 4.3.2 too many sessions, try again later\r\n",
              "SMTP over the pre-login share: %r" % g)
        check(f.read() == b"", "the refused SMTP connection stayed open")
        s.close()
        held[1].close()
        held[0].close()
        pb.wait_log("reason=pre-login-share")
        pb.wait_log("result=dropped")
        s, f, g = raw_greeting(smtp)
        check(g.startswith("220 "), "SMTP greeting once the slot is free: %r" % g)
        s.close()
        pb.stop()
    report("SMTP over the pre-login half of --max-sessions: 421 4.3.2 and closed")


CONFIG = """<?xml version="1.0" encoding="UTF-8"?>
<popbridge version="1">
  <tls cert="%(cert)s" key="%(key)s"/>
  <limits idle-timeout="%(idle)d"/>
</popbridge>
"""


def test_reload(dc, tmp):
    c1, k1 = make_cert(tmp, "one")
    c2, k2 = make_cert(tmp, "two")
    cfg = os.path.join(tmp, "reload.xml")
    with open(cfg, "w") as f:
        f.write(CONFIG % {"cert": c1, "key": k1, "idle": 600})
    tls_port = free_port()
    with Popbridge(dc, args=["--config", cfg], tls_port=tls_port) as pb:
        old = poplib.POP3_SSL("127.0.0.1", tls_port, timeout=30, context=tls_ctx(c1))
        fp1 = cert_fingerprint(old)
        old.user("alice#reload-old")
        old.pass_(PW)

        with open(cfg, "w") as f:
            f.write(CONFIG % {"cert": c2, "key": k2, "idle": 600})
        pb.signal(signal.SIGHUP)
        pb.wait_log("reloaded")
        new = poplib.POP3_SSL("127.0.0.1", tls_port, timeout=30, context=tls_ctx(c2))
        check(cert_fingerprint(new) != fp1, "new sessions still get the old certificate")
        new.quit()
        old.retr(1)           # the running session goes on with its context
        old.quit()
        report("SIGHUP: new sessions get the new certificate, a running one keeps its own")

        # Same file name, new contents: certificates are re-read too.
        with open(c2, "rb") as f:
            c2_bytes = f.read()
        with open(k2, "rb") as f:
            k2_bytes = f.read()
        c3, k3 = make_cert(tmp, "three")
        os.replace(c3, c2)
        os.replace(k3, k2)
        pb.signal(signal.SIGHUP)
        pb.wait_log("reloaded", count=2)
        with open(c2, "rb") as f:
            c3_bytes = f.read()
        new = poplib.POP3_SSL("127.0.0.1", tls_port, timeout=30, context=tls_ctx(c2))
        check(cert_fingerprint(new) == hashlib.sha256(
            ssl.PEM_cert_to_DER_cert(c3_bytes.decode())).hexdigest(),
            "a certificate replaced in place was not re-read")
        new.quit()
        check(c2_bytes != c3_bytes and k2_bytes, "test set-up")

        # The deprecated <smtp-listen>: reloaded, with a warning at its line
        # (listeners keep their running values, with the restart warning).
        with open(cfg, "w") as f:
            f.write((CONFIG % {"cert": c2, "key": k2, "idle": 600}).replace(
                "</popbridge>", '  <smtp upstream="smtp://127.0.0.1:%d"/>\n'
                '  <smtp-listen address="127.0.0.1:%d"/>\n</popbridge>'
                % (free_port(), free_port())))
        pb.signal(signal.SIGHUP)
        pb.wait_log("reloaded", count=3)
        warn = pb.wait_log("<smtp-listen> is deprecated")
        check(warn.split()[1:5] == ["level=warn", "event=reload", "file=" + cfg, "line=6"],
              "the deprecation warning: %s" % warn)
        check("problem=" not in warn, "a warning logged as a problem: %s" % warn)
        pb.wait_log("need a restart and keep their running values: smtp-listen")

        # A broken file: logged, and the running settings stay.
        with open(cfg, "w") as f:
            f.write("<popbridge version='1'><limits idle-timeout='banana'/></popbridge>\n")
        pb.signal(signal.SIGHUP)
        pb.wait_log("configuration not reloaded")
        new = poplib.POP3_SSL("127.0.0.1", tls_port, timeout=30, context=tls_ctx(c2))
        new.user("alice#reload-new")
        new.pass_(PW)
        new.quit()
        # A missing certificate: logged, old context kept.
        with open(cfg, "w") as f:
            f.write(CONFIG % {"cert": os.path.join(tmp, "missing.crt"), "key": k1, "idle": 600})
        pb.signal(signal.SIGHUP)
        pb.wait_log("configuration not reloaded", count=2)
        new = poplib.POP3_SSL("127.0.0.1", tls_port, timeout=30, context=tls_ctx(c2))
        new.quit()
        check(pb.proc.poll() is None, "popbridge exited on a bad reload")
        pb.stop()
    report("SIGHUP with a broken configuration or a missing certificate: logged, old "
           "settings kept; a deprecated <smtp-listen>: reloaded, with a warning")


def test_reload_smtp_upstream(dc, tmp):
    """SMTP submission configured in the file alone (<listen protocol="smtp">
    and <smtp upstream>): a reload with a file that drops both would keep
    the running SMTP listener (a restart setting) with no submission server
    behind it. Refused, logged, and the running settings stay."""
    cfg = os.path.join(tmp, "reload-smtp.xml")
    smtp = free_port()
    sink = socket.socket()
    sink.bind(("127.0.0.1", 0))
    sink.listen(4)
    with open(cfg, "w") as f:
        f.write('<popbridge version="1">\n  <listen address="127.0.0.1:%d" protocol="smtp"/>\n'
                '  <smtp upstream="smtp://127.0.0.1:%d" upstream-tls="none"/>\n'
                '</popbridge>\n' % (smtp, sink.getsockname()[1]))
    try:
        with Popbridge(dc, args=["--config", cfg]) as pb:
            with open(cfg, "w") as f:
                f.write('<popbridge version="1"/>\n')
            pb.signal(signal.SIGHUP)
            line = pb.wait_log("reloaded")
            check("not reloaded" in line and "smtp" in line,
                  "a reload without a submission server behind the running SMTP "
                  "listener: %s" % line)
            # New sessions still go to the running submission server (this
            # one is silent; before the fix: 454 to AUTH, no connection).
            c = socket.create_connection(("127.0.0.1", smtp), timeout=10)
            f = c.makefile("rb")
            check(f.readline().startswith(b"220"), "no SMTP greeting after the reload")
            c.sendall(b"EHLO test\r\nAUTH PLAIN " +
                      base64.b64encode(b"\0alice\0" + PW.encode()) + b"\r\n")
            check(select.select([sink], [], [], 10)[0] != [],
                  "a session after the reload did not reach the running submission server")
            sink.close()       # resets the connection waiting for its greeting
            f.close()
            c.close()
            pb.stop()
    finally:
        sink.close()
    report("SIGHUP with a file that drops the SMTP upstream under a running SMTP listener: "
           "refused and logged, the running settings stay")


def stop_with_dele_pending(dc, tmp, name, during):
    """A device logs in and DELEs message 1; popbridge gets SIGTERM; then
    during(pb, pop3) runs and popbridge must exit 0. A restart on the same
    state file tells how many messages the device still has, returned with
    how many it had."""
    state = os.path.join(tmp, name + ".db")
    with Popbridge(dc, tmp=tmp, state=state) as pb:
        p = login(pb.port, "alice#" + name)
        count, _ = p.stat()
        p.dele(1)
        pb.signal(signal.SIGTERM)
        during(pb, p)
        rc = pb.wait_exit(120)
        check(rc == 0, "%s: exit status %d after SIGTERM" % (name, rc))
        p.close()
    with Popbridge(dc, tmp=tmp, state=state) as pb:
        p = login(pb.port, "alice#" + name)
        left = p.stat()[0]
        p.quit()
        pb.stop()
    return count, left


def test_sigterm(dc, tmp):
    def during(pb, p):
        pb.wait_log("listeners closed")
        try:
            socket.create_connection(("127.0.0.1", pb.port), timeout=5).close()
            fail_msg = "still accepting after SIGTERM"
        except OSError:
            fail_msg = None
        check(fail_msg is None, fail_msg or "")
        p.quit()               # the running session still commits
        pb.wait_exit(60)
        check(any("device=term" in l and "result=committed" in l for l in pb.session_lines()),
              "the session running at SIGTERM did not commit")
    count, left = stop_with_dele_pending(dc, tmp, "term", during)
    check(left == count - 1, "the committed DELE was lost")
    report("SIGTERM: stops accepting at once; a running session may still QUIT and commit; "
           "exit 0")


def test_sigterm_cut(dc, tmp):
    def during(pb, p):
        t0 = time.monotonic()
        pb.wait_exit(120)
        took = time.monotonic() - t0
        check(took >= 29, "sessions were cut before the grace period (%.1fs)" % took)
        pb.wait_log("commit nothing")
    count, left = stop_with_dele_pending(dc, tmp, "cut", during)
    check(left == count, "a session cut at shutdown committed its DELE")
    report("SIGTERM with a session that does not end: cut after the grace period, "
           "nothing committed, exit 0")


def test_sigterm_twice(dc, tmp):
    def during(pb, p):
        pb.wait_log("listeners closed")
        pb.signal(signal.SIGINT)
        pb.wait_exit(60)
        pb.wait_log("SIGINT again: closed 1 session")
        check(any("device=twice" in l and "result=dropped" in l for l in pb.session_lines()),
              "the cut session is not logged as dropped")
    count, left = stop_with_dele_pending(dc, tmp, "twice", during)
    check(left == count, "a session cut by the second signal committed its DELE")
    report("a second SIGTERM/SIGINT cuts running sessions at once; nothing committed, exit 0")


class Silent:
    """An IMAP "server" that never says a word: a listening socket nobody
    accepts on (the kernel completes the connections; no greeting comes)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.imap_port = self.sock.getsockname()[1]

    def connected(self, timeout):
        """Whether a connection arrived within timeout seconds."""
        return select.select([self.sock], [], [], timeout)[0] != []


def test_stop_retry_hung(dc, tmp):
    """SIGTERM while the Sent copies' retry thread waits on an IMAP server
    that does not answer, with copies owed by several managed accounts: the
    listeners close at once, and the process ends after at most the step
    under way (one upstream timeout), not after the whole round."""
    state = os.path.join(tmp, "retry-hung.db")
    names = ["hung%d" % i for i in range(4)]
    for n in names:
        r = subprocess.run([popbridge_bin(), "account", "add", n, "--upstream-user", n,
                            "--state", state], input=PW + "\n", text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        check(r.returncode == 0, "account add %s: %s" % (n, r.stderr))
    db = sqlite3.connect(state)
    for i, (aid,) in enumerate(db.execute("SELECT id FROM accounts ORDER BY id").fetchall()):
        db.execute("INSERT INTO sent_copies(account_id, file, size, sha256, state, created) "
                   "VALUES (?, ?, 10, ?, 1, ?)", (aid, "owed%d" % i, "0" * 64, int(time.time())))
    db.commit()
    db.close()
    hole = Silent()
    try:
        args = ["--auth", "managed", "--upstream-timeout", "3",
                "--smtp-upstream", "smtp://127.0.0.1:%d" % free_port(),
                "--smtp-upstream-tls", "none", "--smtp-listen", "127.0.0.1:%d" % free_port()]
        with Popbridge(hole, tmp=tmp, state=state, args=args) as pb:
            check(hole.connected(30), "the retry thread did not connect upstream")
            time.sleep(0.5)
            t0 = time.monotonic()
            pb.signal(signal.SIGTERM)
            time.sleep(1)
            try:
                socket.create_connection(("127.0.0.1", pb.port), timeout=2).close()
                still = True
            except OSError:
                still = False
            check(not still, "the POP3 listener still open 1 s after SIGTERM while the "
                  "retry thread waits upstream")
            rc = pb.wait_exit(60)
            took = time.monotonic() - t0
            check(rc == 0, "exit status %d" % rc)
            check(took < 3 + 2, "stopping took %.1f s: the retry round ran on past "
                  "SIGTERM" % took)
    finally:
        hole.sock.close()
    report("SIGTERM while the Sent copies' retry waits on a silent IMAP server: listeners "
           "closed at once, exit after at most the step under way")


def start_fail(args, want_rc, want_text):
    r = subprocess.run([popbridge_bin(), "serve"] + args, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    check(r.returncode == want_rc, "serve %s: exit %d (want %d): %s"
          % (" ".join(args), r.returncode, want_rc, r.stderr))
    check(want_text in r.stderr, "serve %s: message %r lacks %r"
          % (" ".join(args), r.stderr, want_text))
    check("Sanitizer" not in r.stderr and "runtime error:" not in r.stderr,
          "serve %s: sanitizer report:\n%s" % (" ".join(args), r.stderr))


def test_startup_errors(dc, tmp):
    up = ["--upstream", "imap://127.0.0.1:%d" % dc.imap_port, "--upstream-tls", "none",
          "--state", os.path.join(tmp, "err.db")]
    port = free_port()
    start_fail(["--no-such-flag"], 2, "no-such-flag")
    start_fail(["--listen", "127.0.0.1:%d" % port], 1, "upstream")
    start_fail(up + ["--listen-tls", "127.0.0.1:%d" % port], 1, "certificate")
    start_fail(up + ["--listen", "127.0.0.1:%d" % port, "--cert", "/nonexistent.crt",
                     "--key", "/nonexistent.key"], 1, "/nonexistent.crt")
    bad = os.path.join(tmp, "bad.xml")
    with open(bad, "w") as f:
        f.write("<popbridge version='1'>\n<limits idle-timeout='x'/>\n</popbridge>\n")
    start_fail(up + ["--config", bad], 1, bad + ":2")
    with socket.create_server(("127.0.0.1", 0)) as busy:
        bport = busy.getsockname()[1]
        start_fail(up + ["--listen", "127.0.0.1:%d" % bport], 1, "127.0.0.1:%d" % bport)
    report("start-up errors: exit 2 for a bad command line, 1 for bad settings, "
           "with the file:line, the address or the file named")

    db = os.path.join(tmp, "newer.db")
    with Popbridge(dc, tmp=tmp, state=db) as pb:
        pb.stop()
    con = sqlite3.connect(db)
    con.execute("UPDATE schema_version SET version = 999")
    con.commit()
    con.close()
    start_fail(up[:4] + ["--state", db, "--listen", "127.0.0.1:%d" % port], 1, "newer")
    report("a state database with a newer schema is refused before serving")

    if os.geteuid() == 0:
        start_fail(up + ["--listen", "127.0.0.1:%d" % port, "--user", "no-such-user-pb"], 1,
                   "no-such-user-pb")


def test_user_drop(dc, tmp):
    if os.geteuid() != 0:
        report("--user: skipped, not root")
        return
    nobody = pwd.getpwnam("nobody")
    d = os.path.join(tmp, "dropdir")
    os.mkdir(d)
    os.chmod(tmp, 0o755)
    # Not writable by the user: refused with the fix named.
    start_fail(["--upstream", "imap://127.0.0.1:%d" % dc.imap_port, "--upstream-tls", "none",
                "--state", os.path.join(d, "s.db"), "--listen", "127.0.0.1:%d" % free_port(),
                "--user", "nobody"], 1, "writable by that user")
    os.chown(d, nobody.pw_uid, nobody.pw_gid)
    with Popbridge(dc, state=os.path.join(d, "s.db"), args=["--user", "nobody"]) as pb:
        with open("/proc/%d/status" % pb.proc.pid) as f:
            st = f.read()
        uid = re.search(r"^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", st, re.M).groups()
        gid = re.search(r"^Gid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", st, re.M).groups()
        groups = re.search(r"^Groups:\s*(.*)$", st, re.M).group(1).split()
        check(set(uid) == {str(nobody.pw_uid)}, "uids after --user: %r" % (uid,))
        check(set(gid) == {str(nobody.pw_gid)}, "gids after --user: %r" % (gid,))
        check(groups in ([], [str(nobody.pw_gid)]), "supplementary groups kept: %r" % groups)
        p = login(pb.port, "alice#dropped")
        p.retr(1)
        p.dele(1)
        p.quit()
        pb.wait_log("result=committed")
        pb.stop()
    report("--user nobody: all uids/gids dropped, groups cleared, the state file works")


def test_idle_timeout(dc, tmp):
    with Popbridge(dc, args=["--idle-timeout", "2"]) as pb:
        s, f, g = raw_greeting(pb.port)
        t0 = time.monotonic()
        rest = f.read()            # the server closes the idle connection
        took = time.monotonic() - t0
        check(took >= 1.9, "closed after %.1fs, before --idle-timeout 2" % took)
        check(b"\r\n" not in rest[:-2], "more than one line before the close: %r" % rest)
        s.close()
        pb.wait_log("result=timeout")
        pb.stop()
    report("--idle-timeout: an idle client is disconnected after the timeout")


def test_login_limits(dc, tmp):
    with Popbridge(dc, args=["--login-timeout", "3", "--max-auth-failures", "2"]) as pb:
        # CAPA every second keeps the idle timer alive, not the login clock.
        s, f, g = raw_greeting(pb.port)
        t0 = time.monotonic()
        lines = []
        while not lines or lines[-1].startswith(b"+OK"):
            try:
                s.sendall(b"CAPA\r\n")
            except OSError:
                break
            lines.append(f.readline())
            if lines[-1].startswith(b"+OK"):
                while f.readline() not in (b".\r\n", b""):
                    pass                 # the capability listing
                time.sleep(1)
        took = time.monotonic() - t0
        check(took >= 2.9 and took < 30, "login deadline after %.1f s (want 3)" % took)
        check(lines and lines[-1].startswith(b"-ERR") and b"ogin timeout" in lines[-1],
              "login timeout answer: %r" % lines)
        s.close()
        pb.wait_log("result=timeout")
        # The second failed login closes the connection, answered first.
        s, f, g = raw_greeting(pb.port)
        s.sendall(b"USER alice#lf\r\nPASS wrong\r\nUSER alice#lf\r\nPASS wrong\r\n"
                  b"USER alice#lf\r\n")
        answers = [f.readline() for _ in range(5)]
        check(answers[1].startswith(b"-ERR [AUTH]") and answers[3].startswith(b"-ERR [AUTH]")
              and answers[4] == b"", "max-auth-failures 2: %r" % answers)
        s.close()
        pb.wait_log("auth_failures=2")
        pb.stop()
    report("--login-timeout closes a connection not logged in (CAPA does not extend it); "
           "--max-auth-failures closes after the N-th failure")


def test_hostile_user_and_debug(dc, tmp):
    cert, key = make_cert(tmp, "t13")
    tls_port = free_port()
    with Popbridge(dc, args=["--log-level", "debug", "--cert", cert, "--key", key,
                             "--tls-min", "1.3"], tls_port=tls_port) as pb:
        s, f, g = raw_greeting(pb.port)
        evil = 'evil" result=committed account=root\x01'
        s.sendall(b"USER " + evil.encode() + b"\r\nPASS " + PW.encode() + b"x\r\nQUIT\r\n")
        answers = [f.readline() for _ in range(3)]
        check(answers[1].startswith(b"-ERR [AUTH]"), "hostile user: %r" % answers)
        s.close()
        line = pb.wait_log("result=auth-failed")
        fl = fields(line)
        # A failed login's user name may be a password typed into the wrong
        # field: it is never logged (SPEC §13), hostile or not.
        check(fl["account"] == "-" and fl["result"] == "auth-failed" and fl["user"] == "-",
              "a failed login's user name was logged: %s" % line)
        check(not any("evil" in l for l in pb.log_lines()),
              "a failed login's user name reached the log")
        # (Escaping of hostile values in a line: tests/bridge/check_log.c.)
        p = login(pb.port, "alice#debug")
        p.quit()
        pb.wait_log("device=debug")
        check(any("event=pop3" in l for l in pb.log_lines()), "no debug trace at debug level")
        check(not any(PW in l for l in pb.log_lines()), "password in the debug log")

        ctx = tls_ctx(cert)
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        try:
            poplib.POP3_SSL("127.0.0.1", tls_port, timeout=30, context=ctx).quit()
            fail_msg = "a TLS 1.2 client got in with --tls-min 1.3"
        except (ssl.SSLError, OSError):
            fail_msg = None
        check(fail_msg is None, fail_msg or "")
        pb.wait_log("result=tls-failed")
        p = poplib.POP3_SSL("127.0.0.1", tls_port, timeout=30, context=tls_ctx(cert))
        p.quit()
        pb.stop()
    report("a failed login logs no user name (it may be a password); the debug trace "
           "holds no password; --tls-min 1.3 refuses a TLS 1.2 client")


V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def proxied(port, header, source="127.0.0.1"):
    """A connection that starts with header; its first line (b"" if closed)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30,
                                 source_address=(source, 0))
    s.sendall(header)
    f = s.makefile("rb")
    try:
        return s, f, f.readline()
    except ConnectionResetError:   # closed with our bytes unread
        return s, f, b""


def test_proxy_protocol(dc, tmp):
    with Popbridge(dc, args=["--proxy-protocol", "--trusted-proxy", "127.0.0.1",
                             "--max-sessions-per-ip", "1"]) as pb:
        # v1: the client is 192.0.2.7, not loopback, yet a trusted proxy is
        # exempt from the plaintext rule (SPEC §14: nginx ends TLS and speaks
        # plaintext to the node; the TLS policy towards devices is nginx's).
        s, f, g = proxied(pb.port, b"PROXY TCP4 192.0.2.7 127.0.0.1 40001 110\r\n")
        check(g.startswith(b"+OK"), "v1 greeting: %r" % g)
        s.sendall(b"USER alice#px\r\nPASS " + PW.encode() + b"\r\n")
        answers = [f.readline(), f.readline()]
        check(all(a.startswith(b"+OK") for a in answers),
              "plaintext login from a trusted proxy's remote client: %r" % answers)
        # Per-address limits count the client, not the proxy: a second
        # connection of 192.0.2.7 is over --max-sessions-per-ip 1...
        s2, f2, g2 = proxied(pb.port, b"PROXY TCP4 192.0.2.7 127.0.0.1 40002 110\r\n")
        check(g2 == b"-ERR [SYS/TEMP] too many sessions\r\n", "per-ip behind a proxy: %r" % g2)
        s2.close()
        # ...another client's is not (v2 header, IPv6).
        body = bytes.fromhex("20010db8000000000000000000000009") + bytes(15) + b"\x01" + \
            b"\x9c\x41\x00\x6e"
        s3, f3, g3 = proxied(pb.port, V2_SIG + b"\x21\x21\x00\x24" + body)
        check(g3.startswith(b"+OK"), "v2 greeting: %r" % g3)
        s3.sendall(b"QUIT\r\n")
        f3.readline()
        s3.close()
        s.sendall(b"QUIT\r\n")
        f.readline()
        s.close()
        line = pb.wait_log("remote=2001:db8::9")
        check("result=quit" in line, "v2 session line: %s" % line)
        line = pb.wait_log("remote=192.0.2.7 ")
        check("event=session" in line or "event=refused" in line, "v1 line: %s" % line)
        # A health check (v2 LOCAL) keeps the proxy's own address: loopback,
        # so the plaintext login works.
        s, f, g = proxied(pb.port, V2_SIG + b"\x20\x00\x00\x00")
        check(g.startswith(b"+OK"), "LOCAL greeting: %r" % g)
        s.sendall(b"USER alice#local\r\nPASS " + PW.encode() + b"\r\nQUIT\r\n")
        answers = [f.readline() for _ in range(3)]
        check(all(a.startswith(b"+OK") for a in answers), "LOCAL login: %r" % answers)
        s.close()
        pb.wait_log("device=local")
        # A health check that only QUITs is logged at debug, not info: a
        # balancer checking every few seconds would flood the log.
        s, f, g = proxied(pb.port, V2_SIG + b"\x20\x00\x00\x00")
        s.sendall(b"QUIT\r\n")
        check(f.readline().startswith(b"+OK"), "health check QUIT")
        s.close()
        for _ in range(100):   # the check's slot (--max-sessions-per-ip 1) is freed
            s, f, g = proxied(pb.port, V2_SIG + b"\x20\x00\x00\x00")   # just after it
            if g.startswith(b"+OK"):
                break
            s.close()
            time.sleep(0.05)
        s.sendall(b"USER alice#after\r\nPASS " + PW.encode() + b"\r\nQUIT\r\n")
        check([f.readline() for _ in range(3)][2].startswith(b"+OK"), "login after a check")
        s.close()
        pb.wait_log("device=after")
        check(not [l for l in pb.session_lines() if "result=quit" in l and
                   "remote=127.0.0.1 " in l], "a health check's session line at info")
        # A trusted address without a valid header: closed without a greeting.
        s, f, g = proxied(pb.port, b"USER alice\r\n")
        check(g == b"", "garbage from a trusted proxy got %r" % g)
        s.close()
        pb.wait_log("not a valid PROXY protocol header")
        # Any other address is served directly: its PROXY line is a command.
        s, f, g = proxied(pb.port, b"", source="127.0.0.2")
        check(g.startswith(b"+OK"), "direct greeting: %r" % g)
        s.sendall(b"PROXY TCP4 192.0.2.99 127.0.0.1 1 110\r\nQUIT\r\n")
        line = f.readline()
        check(line.startswith(b"-ERR"), "PROXY from an untrusted address: %r" % line)
        s.close()
        line = pb.wait_log("remote=127.0.0.2")
        check("192.0.2.99" not in "".join(pb.log_lines()), "an untrusted header was believed")
        pb.stop()
    report("--proxy-protocol: v1 and v2 headers from --trusted-proxy give the client's address "
           "(per-address limits, log; a trusted proxy is exempt from the plaintext rule); "
           "LOCAL keeps the proxy's, a LOCAL check that QUITs logs at debug; garbage is "
           "closed unanswered; other addresses' PROXY lines are plain commands")


def main():
    fill = ["alice:INBOX:awkward:6", "alice:INBOX:plain:4"]
    with TempDir() as tmp, Dovecot(users={"alice": PW}, fill=fill) as dc:
        check(len(upstream_messages(dc, "alice", PW)) == 10, "harness fill")
        test_startup_errors(dc, tmp)
        test_tls_and_log(dc, tmp)
        test_ipv6(dc, tmp)
        test_in_use_auth_down(dc, tmp)
        test_many_devices(dc, tmp)
        test_limits(dc, tmp)
        test_proxy_protocol(dc, tmp)
        test_idle_timeout(dc, tmp)
        test_login_limits(dc, tmp)
        test_hostile_user_and_debug(dc, tmp)
        test_reload(dc, tmp)
        test_reload_smtp_upstream(dc, tmp)
        test_sigterm(dc, tmp)
        test_sigterm_twice(dc, tmp)
        test_stop_retry_hung(dc, tmp)
        test_user_drop(dc, tmp)
        test_sigterm_cut(dc, tmp)


if __name__ == "__main__":
    main()
