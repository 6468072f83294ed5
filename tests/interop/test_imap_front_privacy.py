#!/usr/bin/env python3
"""The IMAP front's plaintext rule over the wire, from a client that is not
loopback-exempt (SPEC §6, §12; the rule is plaintext_allowed() in
bridge/serve/session_thread.c: loopback, managed mode, --allow-plaintext-auth or a
trusted proxy).

Every address in 127.0.0.0/8 is loopback, so the test re-executes itself in a
private network namespace (`unshare --net`, root only) and gives that
namespace's lo the documentation address 192.0.2.1 as well: popbridge's IMAP
front listens on 192.0.2.1 and the client connects from 192.0.2.1, a real TCP
connection whose peer is not loopback. Dovecot (the upstream) stays on
127.0.0.1 inside the same namespace. As another user, or where unshare is
refused, the test says so and is skipped.

Passthrough mode, no --allow-plaintext-auth:
- the greeting's and CAPABILITY's capabilities carry STARTTLS and
  LOGINDISABLED, and no AUTH=PLAIN;
- LOGIN and AUTHENTICATE PLAIN (with an initial response) are answered
  `NO [PRIVACYREQUIRED]`, the connection stays open, and the upstream sees
  no login (the session line says the session never logged in);
- after STARTTLS (verified against popbridge's certificate) CAPABILITY has
  AUTH=PLAIN and no LOGINDISABLED, LOGIN succeeds and SELECT INBOX shows the
  upstream's messages; imaplib's starttls() + login() does the same.
"""
import base64
import imaplib
import os
import socket
import ssl
import subprocess
import sys

import test_imap_front
from pbinterop import PW, Dovecot, Popbridge, TempDir, check, enter_namespace, report

ADDR = "192.0.2.1"   # RFC 5737 TEST-NET-1, on the private namespace's lo
NS_MARK = "POPBRIDGE_TEST_NETNS"
ACC = "remote"
N = 3


def free_port_on(addr):
    with socket.socket() as s:
        s.bind((addr, 0))
        return s.getsockname()[1]


class Raw(test_imap_front.Raw):
    """test_imap_front's line-level client, from ADDR to ADDR."""

    def __init__(self, port):
        self.s = socket.create_connection((ADDR, port), timeout=30, source_address=(ADDR, 0))
        self.buf = b""


class IMAP4From(imaplib.IMAP4):
    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout,
                                        source_address=(ADDR, 0))


def make_cert(directory):
    """A self-signed certificate for ADDR and localhost: (cert, key)."""
    cert, key = os.path.join(directory, "front.crt"), os.path.join(directory, "front.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", "/CN=front",
                    "-addext", "subjectAltName=DNS:localhost,IP:" + ADDR],
                   check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return cert, key


def run(tmp, dc):
    cert, key = make_cert(tmp)
    ctx = ssl.create_default_context(cafile=cert)
    port = free_port_on(ADDR)
    with Popbridge(dc, tmp=tmp, args=["--cert", cert, "--key", key,
                                      "--imap-listen", "%s:%d" % (ADDR, port)]) as pb:
        r = Raw(port)
        greeting = r.line()
        check(greeting is not None and b"LOGINDISABLED" in greeting and b"STARTTLS" in greeting
              and b"AUTH=PLAIN" not in greeting, "greeting to %s: %r" % (ADDR, greeting))
        r.send(b"a1 CAPABILITY\r\n")
        caps = r.until(b"a1")
        check(b"LOGINDISABLED" in caps[0] and b"AUTH=PLAIN" not in caps[0] and
              caps[-1].startswith(b"a1 OK"), "CAPABILITY without TLS: %r" % caps)
        r.send(b"a2 LOGIN " + ACC.encode() + b" " + PW.encode() + b"\r\n")
        ans = r.until(b"a2")
        check(ans == [b"a2 NO [PRIVACYREQUIRED] Plaintext login is not allowed without TLS."],
              "LOGIN without TLS from %s: %r" % (ADDR, ans))
        ir = base64.b64encode(b"\0" + ACC.encode() + b"\0" + PW.encode())
        r.send(b"a3 AUTHENTICATE PLAIN " + ir + b"\r\n")
        ans = r.until(b"a3")
        check(len(ans) == 1 and ans[0].startswith(b"a3 NO [PRIVACYREQUIRED] "),
              "AUTHENTICATE PLAIN without TLS from %s: %r" % (ADDR, ans))
        r.send(b"a4 NOOP\r\n")
        check(r.until(b"a4")[-1].startswith(b"a4 OK"), "the connection stays usable")
        r.send(b"a5 STARTTLS\r\n")
        check(r.until(b"a5")[-1].startswith(b"a5 OK"), "STARTTLS")
        r.starttls(ctx)
        r.send(b"a6 CAPABILITY\r\n")
        caps = r.until(b"a6")
        check(b"AUTH=PLAIN" in caps[0] and b"LOGINDISABLED" not in caps[0] and
              b"STARTTLS" not in caps[0], "CAPABILITY after STARTTLS: %r" % caps)
        r.send(b"a7 LOGIN " + ACC.encode() + b" " + PW.encode() + b"\r\n")
        check(r.until(b"a7")[-1].startswith(b"a7 OK"), "LOGIN after STARTTLS")
        r.send(b"a8 SELECT INBOX\r\n")
        sel = r.until(b"a8")
        check(b"* %d EXISTS" % N in sel and sel[-1].startswith(b"a8 OK"), "SELECT: %r" % sel)
        r.send(b"a9 LOGOUT\r\n")
        r.until(b"a9")
        r.s.close()
        line = pb.wait_log("event=session protocol=imap")
        check("remote=%s" % ADDR in line and "account=%s" % ACC in line and
              " tls=TLSv1." in line, "session line: %r" % line)
        report("IMAP front from a non-loopback client (%s): LOGINDISABLED, LOGIN and "
               "AUTHENTICATE PLAIN answered NO [PRIVACYREQUIRED] on the open connection; "
               "after STARTTLS, AUTH=PLAIN and LOGIN work" % ADDR)

        m = IMAP4From(ADDR, port, timeout=60)
        check("LOGINDISABLED" in m.capabilities, "imaplib greeting: %r" % (m.capabilities,))
        try:
            m.login(ACC, PW)
            check(False, "imaplib LOGIN without TLS from %s succeeded" % ADDR)
        except imaplib.IMAP4.error as e:
            check("PRIVACYREQUIRED" in str(e) or "LOGINDISABLED" in str(e),
                  "imaplib LOGIN without TLS: %s" % e)
        m.starttls(ssl_context=ctx)
        m.login(ACC, PW)
        typ, data = m.select("INBOX")
        check(typ == "OK" and int(data[0]) == N, "imaplib SELECT after STARTTLS: %r" % data)
        m.logout()
        report("imaplib: login refused without TLS from a non-loopback client, "
               "starttls() then login() works")


def main():
    if not enter_namespace(["--net"], NS_MARK, __file__):
        report("IMAP front privacy: skipped, a private network namespace needs root (unshare --net)")
        return
    for cmd in (["ip", "link", "set", "lo", "up"], ["ip", "addr", "add", ADDR + "/32", "dev", "lo"]):
        if subprocess.run(cmd).returncode != 0:
            report("IMAP front privacy: skipped, %s refused" % " ".join(cmd))
            sys.exit(97)
    with TempDir("pbprivacy.") as tmp, \
            Dovecot(users={ACC: PW}, fill=["%s:INBOX:plain:%d" % (ACC, N)]) as dc:
        run(tmp, dc)


if __name__ == "__main__":
    main()
