#!/usr/bin/python3
"""tests/harness/test_pbtest.py — proves the pbtest command and tests/lib/pbtest.py
with Python's own IMAP and POP3 clients. Run by check_harness (test_pbtest_python);
by hand: PBTEST=build/harness/tests/harness/pbtest python3 tests/harness/test_pbtest.py
"""
import imaplib
import os
import poplib
import re
import signal
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from pbtest import Dovecot, PbtestError, generate, pbtest_path  # noqa: E402


def uidvalidity(dc, ctx, box):
    m = imaplib.IMAP4("127.0.0.1", dc.imap_port)
    m.starttls(ctx)
    m.login("alice", "secret")
    typ, data = m.select(box)
    assert typ == "OK", data
    v = int(m.response("UIDVALIDITY")[1][0])
    m.logout()
    return v, int(data[0])


def main():
    with Dovecot(users={"alice": "secret"},
                 fill=["alice:INBOX:awkward:9", "alice:Archive:plain:2"]) as dc:
        ctx = ssl.create_default_context(cafile=dc.ca_file)
        for port in (dc.imap_port, dc.imaps_port, dc.pop3_port, dc.pop3s_port):
            assert port not in (110, 143, 993, 995)
        assert os.path.isdir(dc.dir) and os.path.isfile(dc.ca_file)

        v1, n = uidvalidity(dc, ctx, "INBOX")
        assert n == 9, n
        assert uidvalidity(dc, ctx, "Archive")[1] == 2

        dc.add("alice", "INBOX", "large", 9, size=2_000_000, flags="S")
        with tempfile.NamedTemporaryFile(suffix=".eml") as f:
            msg = generate("dots", 5)
            assert b"\r\n.\r\n" in msg and msg == generate("dots", 5)
            f.write(msg)
            f.flush()
            dc.add_file("alice", "INBOX", f.name)
        m = imaplib.IMAP4_SSL("localhost", dc.imaps_port, ssl_context=ctx)
        m.login("alice", "secret")
        m.select("INBOX")
        typ, data = m.fetch("10:11", "(RFC822.SIZE FLAGS)")
        assert typ == "OK"
        assert b"RFC822.SIZE 2000000" in data[0] and b"\\Seen" in data[0], data
        assert b"RFC822.SIZE %d" % len(msg) in data[1], data
        m.logout()

        dc.renumber("alice", "INBOX")
        v2, n = uidvalidity(dc, ctx, "INBOX")
        assert v2 != v1 and n == 11, (v1, v2, n)

        p = poplib.POP3("127.0.0.1", dc.pop3_port)
        p.stls(ctx)
        p.user("alice")
        p.pass_("secret")
        uidls = p.uidl()[1]
        assert len(uidls) == 11
        assert re.fullmatch(rb"1 00000001[0-9a-f]{8}", uidls[0]), uidls[0]
        p.quit()

        for bad in (lambda: dc.add("alice", "Nope", "plain", 1),
                    lambda: dc.add("alice", "INBOX", "no-such-kind", 1),
                    lambda: dc.command("frobnicate")):
            try:
                bad()
            except PbtestError:
                pass
            else:
                raise AssertionError("a bad command was accepted")

        dc.set_password("alice", "new")
        m = imaplib.IMAP4("127.0.0.1", dc.imap_port)
        try:
            m.login("alice", "secret")
            raise AssertionError("old password still works")
        except imaplib.IMAP4.error:
            pass
        m.login("alice", "new")
        m.logout()
        dc.add_user("bob", "x")
        dc.create_folder("bob", "Work/A")
        assert dc.maildir("bob", "Work/A").endswith("/Maildir/.Work.A")
        dc.pause()
        dc.resume()
        m = imaplib.IMAP4("127.0.0.1", dc.imap_port)
        m.login("bob", "x")
        m.logout()
        d = dc.dir
    assert not os.path.exists(d), d

    # SIGTERM stops it and cleans up, too.
    proc = subprocess.Popen([pbtest_path(), "dovecot"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    d = re.search(r"DIR=(\S+)", line).group(1)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    proc.stdin.close()
    proc.stdout.close()
    assert not os.path.exists(d), d
    # ... and SIGKILL: the harness's watchdog removes it.
    proc = subprocess.Popen([pbtest_path(), "dovecot"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    d = re.search(r"DIR=(\S+)", proc.stdout.readline()).group(1)
    proc.kill()
    proc.wait()
    proc.stdin.close()
    proc.stdout.close()
    for _ in range(200):
        if not os.path.exists(d):
            break
        time.sleep(0.1)
    assert not os.path.exists(d), d
    # --config-line: one printable line, bounded; refused before Dovecot starts
    for bad in (["a\nb"], ["x" * 201], ["a = b"] * 9):
        args = [pbtest_path(), "dovecot"]
        for line in bad:
            args += ["--config-line", line]
        r = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
        assert r.returncode == 2 and "--config-line" in r.stderr and r.stdout == "", r
    print("test_pbtest: ok")


if __name__ == "__main__":
    main()
