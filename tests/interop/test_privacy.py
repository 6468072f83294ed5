#!/usr/bin/env python3
"""The plaintext-login rule over the wire, from a client that is not
loopback-exempt, for every front end: POP3, SMTP submission and IMAP (SPEC
§6, §11, §12, §14; the rule is plaintext_allowed() in bridge/serve/session_thread.c:
loopback, managed mode, --allow-plaintext-auth or a trusted proxy).

Every address in 127.0.0.0/8 is loopback, so the test re-executes itself in a
private network namespace (`unshare --net`, root only) and gives that
namespace's lo the documentation addresses 192.0.2.1 and 192.0.2.3 as well:
popbridge listens on 192.0.2.1 and the clients connect from there, real TCP
connections whose peer is not loopback. Dovecot (the upstream) and Postfix
(the submission upstream, tests/lib/pbpostfix.py) stay on 127.0.0.1 inside
the same namespace. As another user, or where unshare is refused, the test
says so and is skipped.

Passthrough mode, no --allow-plaintext-auth:
- POP3: CAPA has STLS and neither USER nor SASL, a bare AUTH lists no
  mechanism; USER, PASS, AUTH PLAIN (with an initial response) and AUTH
  LOGIN are answered `-ERR [AUTH] Plaintext authentication disallowed on
  non-secure connection.` on the open connection; after STLS (verified
  against popbridge's certificate) CAPA has USER and SASL PLAIN LOGIN, the
  login works and RETR gives the upstream's message; poplib's stls() does
  the same.
- SMTP: EHLO has STARTTLS and no AUTH; AUTH PLAIN and AUTH LOGIN are
  answered `538 5.7.11 Encryption required for requested authentication
  mechanism`, MAIL `530 5.7.0 Authentication required`; after STARTTLS EHLO
  has AUTH PLAIN LOGIN and AUTH PLAIN gets 235; smtplib's starttls() and
  login() send a message, Postfix delivers it byte for byte and its Sent copy
  is appended.
- IMAP: the greeting's and CAPABILITY's capabilities carry STARTTLS and
  LOGINDISABLED, and no AUTH=PLAIN; LOGIN and AUTHENTICATE PLAIN (with an
  initial response) are answered `NO [PRIVACYREQUIRED]`, the connection stays
  open; after STARTTLS (verified against popbridge's
  certificate) CAPABILITY has AUTH=PLAIN and no LOGINDISABLED, LOGIN succeeds
  and SELECT INBOX shows the upstream's messages; imaplib's starttls() +
  login() does the same.
With --allow-plaintext-auth the three logins work without TLS from the same
address. With --proxy-protocol --trusted-proxy 192.0.2.3, a connection from
192.0.2.3 whose PROXY v2 header names a client 198.51.100.7 logs in without
TLS in all three protocols (the proxy ends TLS), while a direct connection
from 192.0.2.1 is still refused.
"""
import base64
import imaplib
import os
import poplib
import smtplib
import socket
import ssl
import subprocess
import sys

import test_imap_front
from pbinterop import (PW, Dovecot, Popbridge, TempDir, check, enter_namespace, normalise,
                       report, upstream_messages)
from test_submission import check_one_copy, delivered, message
from pbpostfix import Postfix

ADDR = "192.0.2.1"      # RFC 5737 TEST-NET-1, on the private namespace's lo
PROXY = "192.0.2.3"     # a trusted proxy's address, on lo too
CLIENT = "198.51.100.7"  # the client its PROXY header names (TEST-NET-2)
NS_MARK = "POPBRIDGE_TEST_NETNS"
ACC = "remote"
N = 3
IR = base64.b64encode(b"\0" + ACC.encode() + b"\0" + PW.encode())
POP3_REFUSAL = b"-ERR [AUTH] Plaintext authentication disallowed on non-secure connection."
SMTP_REFUSAL = b"538 5.7.11 Encryption required for requested authentication mechanism"


def free_port_on(addr):
    with socket.socket() as s:
        s.bind((addr, 0))
        return s.getsockname()[1]


class Raw(test_imap_front.Raw):
    """test_imap_front's line-level client, from source to ADDR; POP3
    multi-line answers and SMTP replies too."""

    def __init__(self, port, source=ADDR):
        self.s = socket.create_connection((ADDR, port), timeout=30, source_address=(source, 0))
        self.buf = b""

    def multi(self):
        """A POP3 multi-line answer's lines after its +OK line, unstuffed."""
        out = []
        while True:
            ln = self.line()
            check(ln is not None, "connection closed in a multi-line answer: %r" % out)
            if ln == b".":
                return out
            out.append(ln[1:] if ln.startswith(b".") else ln)

    def reply(self):
        """An SMTP reply's lines."""
        out = []
        while True:
            ln = self.line()
            check(ln is not None, "connection closed in a reply: %r" % out)
            out.append(ln)
            if ln[3:4] != b"-":
                return out

    def ehlo(self):
        """EHLO's extension keywords (the lines after the first)."""
        self.send(b"EHLO client.test\r\n")
        lines = self.reply()
        check(lines[-1].startswith(b"250 "), "EHLO: %r" % lines)
        return [l[4:] for l in lines[1:]]


class IMAP4From(imaplib.IMAP4):
    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout,
                                        source_address=(ADDR, 0))


class POP3From(poplib.POP3):
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


def serve(dc, pf, tmp, cert, key, extra=()):
    """popbridge serve with its POP3, SMTP and IMAP listeners on ADDR:
    (Popbridge, {protocol: port})."""
    ports = {p: free_port_on(ADDR) for p in ("pop3", "smtp", "imap")}
    args = ["--cert", cert, "--key", key, "--listen", "%s:%d" % (ADDR, ports["pop3"]),
            "--smtp-listen", "%s:%d" % (ADDR, ports["smtp"]),
            "--imap-listen", "%s:%d" % (ADDR, ports["imap"]),
            "--smtp-upstream", "smtp://127.0.0.1:%d" % pf.port, "--upstream-ca", dc.ca_file]
    return Popbridge(dc, tmp=tmp, args=args + list(extra)), ports


def pop3_refused(pb, port, ctx, dc):
    want = normalise(upstream_messages(dc, ACC, PW)[0][1])
    r = Raw(port)
    check(r.line().startswith(b"+OK"), "POP3 greeting")
    r.send(b"CAPA\r\n")
    check(r.line().startswith(b"+OK"), "CAPA")
    caps = r.multi()
    check(b"STLS" in caps and b"USER" not in caps and
          not [c for c in caps if c.startswith(b"SASL")], "CAPA without TLS from %s: %r" %
          (ADDR, caps))
    r.send(b"AUTH\r\n")
    check(r.line().startswith(b"+OK") and r.multi() == [], "bare AUTH lists a mechanism")
    for cmd in (b"USER " + ACC.encode(), b"PASS " + PW.encode(), b"AUTH PLAIN " + IR,
                b"AUTH LOGIN"):
        r.send(cmd + b"\r\n")
        ans = r.line()
        check(ans == POP3_REFUSAL, "%s without TLS from %s: %r" % (cmd.split()[0:2], ADDR, ans))
    r.send(b"STLS\r\n")
    check(r.line().startswith(b"+OK"), "STLS")
    r.starttls(ctx)
    r.send(b"CAPA\r\n")
    check(r.line().startswith(b"+OK"), "CAPA after STLS")
    caps = r.multi()
    check(b"USER" in caps and b"SASL PLAIN LOGIN" in caps and b"STLS" not in caps,
          "CAPA after STLS: %r" % caps)
    r.send(b"USER " + ACC.encode() + b"\r\nPASS " + PW.encode() + b"\r\n")
    check(r.line().startswith(b"+OK") and r.line() == b"+OK Logged in.", "login after STLS")
    r.send(b"RETR 1\r\n")
    check(r.line().startswith(b"+OK"), "RETR 1")
    check(b"\r\n".join(r.multi()) + b"\r\n" == want, "RETR 1 after STLS: not the message")
    r.send(b"QUIT\r\n")
    r.line()
    r.close()
    line = pb.wait_log(" retr=1 ")
    check("remote=%s" % ADDR in line and "account=%s" % ACC in line and
          " tls=TLSv1." in line, "POP3 session line: %r" % line)

    p = POP3From(ADDR, port, timeout=60)
    try:
        p.user(ACC)
        check(False, "poplib USER without TLS from %s succeeded" % ADDR)
    except poplib.error_proto as e:
        check(e.args[0] == POP3_REFUSAL, "poplib USER without TLS: %r" % (e.args,))
    p.stls(ctx)
    p.user(ACC)
    p.pass_(PW)
    _, lines, _ = p.retr(1)
    check(b"\r\n".join(lines) + b"\r\n" == want, "poplib RETR after stls(): not the message")
    p.quit()
    report("POP3 from a non-loopback client (%s): CAPA without USER and SASL, USER, PASS, "
           "AUTH PLAIN and AUTH LOGIN answered -ERR [AUTH]; after STLS the login works and "
           "RETR gives the message; poplib stls() too" % ADDR)


def smtp_refused(pb, port, ctx, dc, pf):
    r = Raw(port)
    check(r.reply()[0].startswith(b"220 "), "SMTP greeting")
    exts = r.ehlo()
    check(b"STARTTLS" in exts and not [e for e in exts if e.startswith(b"AUTH")],
          "EHLO without TLS from %s: %r" % (ADDR, exts))
    for cmd in (b"AUTH PLAIN " + IR, b"AUTH LOGIN"):
        r.send(cmd + b"\r\n")
        ans = r.reply()
        check(ans == [SMTP_REFUSAL], "%s without TLS from %s: %r" % (cmd[:10], ADDR, ans))
    r.send(b"MAIL FROM:<remote@example.com>\r\n")
    ans = r.reply()
    check(ans == [b"530 5.7.0 Authentication required"], "MAIL without AUTH: %r" % ans)
    r.send(b"STARTTLS\r\n")
    check(r.reply()[0].startswith(b"220 "), "STARTTLS")
    r.starttls(ctx)
    exts = r.ehlo()
    check(b"AUTH PLAIN LOGIN" in exts and b"STARTTLS" not in exts,
          "EHLO after STARTTLS: %r" % exts)
    r.send(b"AUTH PLAIN " + IR + b"\r\n")
    ans = r.reply()
    check(len(ans) == 1 and ans[0].startswith(b"235 "), "AUTH PLAIN after STARTTLS: %r" % ans)
    r.send(b"QUIT\r\n")
    r.reply()
    r.close()

    s = smtplib.SMTP(ADDR, port, timeout=60, source_address=(ADDR, 0))
    s.ehlo()
    check(not s.has_extn("auth"), "smtplib sees AUTH without TLS")
    try:
        s.login(ACC, PW)
        check(False, "smtplib login without TLS from %s succeeded" % ADDR)
    except smtplib.SMTPNotSupportedError:
        pass
    s.starttls(context=ctx)
    s.login(ACC, PW)
    msg = message("privacy-1")
    s.sendmail("remote@example.com", ["bob@example.com"], msg)
    s.quit()
    check(delivered(pf, "privacy-1", 1) == msg, "relayed message differs")
    check_one_copy(dc, "privacy-1", msg, ACC)
    line = pb.wait_log("event=submission")
    check("remote=%s" % ADDR in line and " tls=TLSv1." in line and "reply=250" in line and
          "sent_copy=appended" in line, "submission line: %r" % line)
    report("SMTP submission from a non-loopback client (%s): EHLO without AUTH, AUTH PLAIN "
           "and LOGIN answered 538 5.7.11, MAIL 530; after STARTTLS AUTH PLAIN gets 235, "
           "smtplib sends, Postfix delivers byte for byte, one Sent copy" % ADDR)


def imap_refused(pb, port, ctx):
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
    r.send(b"a3 AUTHENTICATE PLAIN " + IR + b"\r\n")
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


def plaintext_logins(ports, source=ADDR, proxied=False):
    """A login without TLS in each protocol, from source (proxied: each
    connection starts with a PROXY v2 header naming CLIENT): each must
    succeed."""
    def connect(proto):
        r = Raw(ports[proto], source)
        if proxied:
            r.send(proxy_v2(CLIENT, ADDR, ports[proto]))
        return r

    r = connect("pop3")
    check(r.line().startswith(b"+OK"), "POP3 greeting")
    r.send(b"CAPA\r\n")
    r.line()
    caps = r.multi()
    check(b"USER" in caps and b"SASL PLAIN LOGIN" in caps, "POP3 CAPA: %r" % caps)
    r.send(b"USER " + ACC.encode() + b"\r\nPASS " + PW.encode() + b"\r\nQUIT\r\n")
    ans = [r.line() for _ in range(3)]
    check(ans[1] == b"+OK Logged in.", "POP3 plaintext login: %r" % ans)
    r.close()
    r = connect("smtp")
    check(r.reply()[0].startswith(b"220 "), "SMTP greeting")
    exts = r.ehlo()
    check(b"AUTH PLAIN LOGIN" in exts, "EHLO: %r" % exts)
    r.send(b"AUTH PLAIN " + IR + b"\r\n")
    ans = r.reply()
    check(ans[0].startswith(b"235 "), "SMTP plaintext AUTH PLAIN: %r" % ans)
    r.send(b"QUIT\r\n")
    r.reply()
    r.close()
    r = connect("imap")
    greeting = r.line()
    check(b"LOGINDISABLED" not in greeting and b"AUTH=PLAIN" in greeting,
          "IMAP greeting: %r" % greeting)
    r.send(b"a1 LOGIN " + ACC.encode() + b" " + PW.encode() + b"\r\na2 LOGOUT\r\n")
    check(r.until(b"a1")[-1].startswith(b"a1 OK"), "IMAP plaintext LOGIN")
    r.until(b"a2")
    r.close()


def session_lines(pb):
    """The three sessions' lines of plaintext_logins (POP3, SMTP, IMAP)."""
    return [pb.wait_log(n) for n in ("event=session user=", "event=session protocol=smtp",
                                     "event=session protocol=imap")]


def proxy_v2(client, dst, dport):
    """A PROXY protocol v2 header: TCP over IPv4 from client:40001 to dst:dport."""
    return (b"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c" + socket.inet_aton(client) +
            socket.inet_aton(dst) + (40001).to_bytes(2, "big") + dport.to_bytes(2, "big"))


def run(tmp, dc, pf):
    cert, key = make_cert(tmp)
    ctx = ssl.create_default_context(cafile=cert)
    pb, ports = serve(dc, pf, tmp, cert, key)
    with pb:
        pop3_refused(pb, ports["pop3"], ctx, dc)
        smtp_refused(pb, ports["smtp"], ctx, dc, pf)
        imap_refused(pb, ports["imap"], ctx)
        check(pb.stop() == 0, "popbridge did not stop cleanly")
        check(PW not in "\n".join(pb.log_lines()), "the password is in the log")

    pb, ports = serve(dc, pf, tmp, cert, key, ["--allow-plaintext-auth"])
    with pb:
        plaintext_logins(ports)
        lines = session_lines(pb)
        check(all("remote=%s " % ADDR in l and " tls=none " in l and "account=%s" % ACC in l
                  for l in lines), "--allow-plaintext-auth: %s" % lines)
        check(pb.stop() == 0, "popbridge did not stop cleanly")
    report("--allow-plaintext-auth: POP3 USER/PASS, SMTP AUTH PLAIN and IMAP LOGIN work "
           "without TLS from %s" % ADDR)

    pb, ports = serve(dc, pf, tmp, cert, key, ["--proxy-protocol", "--trusted-proxy", PROXY])
    with pb:
        plaintext_logins(ports, PROXY, proxied=True)
        lines = session_lines(pb)
        check(all("remote=%s " % CLIENT in l and " tls=none " in l and
                                      "account=%s" % ACC in l for l in lines),
              "sessions through the proxy: %s" % lines)
        r = Raw(ports["pop3"])
        r.line()
        r.send(b"USER " + ACC.encode() + b"\r\n")
        ans = r.line()
        check(ans == POP3_REFUSAL, "direct from %s with --trusted-proxy %s: %r" % (ADDR, PROXY, ans))
        r.close()
        r = Raw(ports["smtp"])
        r.reply()
        r.ehlo()
        r.send(b"AUTH PLAIN " + IR + b"\r\n")
        ans = r.reply()
        check(ans == [SMTP_REFUSAL], "direct from %s with --trusted-proxy: %r" % (ADDR, ans))
        r.close()
        check(pb.stop() == 0, "popbridge did not stop cleanly")
    report("--proxy-protocol --trusted-proxy %s (not loopback): its PROXY v2 connections for "
           "%s log in without TLS in POP3, SMTP and IMAP; a direct client (%s) is still "
           "refused" % (PROXY, CLIENT, ADDR))

def main():
    if not enter_namespace(["--net"], NS_MARK, __file__):
        report("plaintext rule from a non-loopback client: skipped, a private network "
               "namespace needs root (unshare --net)")
        return
    for cmd in (["ip", "link", "set", "lo", "up"],
                ["ip", "addr", "add", ADDR + "/32", "dev", "lo"],
                ["ip", "addr", "add", PROXY + "/32", "dev", "lo"]):
        if subprocess.run(cmd).returncode != 0:
            report("plaintext rule from a non-loopback client: skipped, %s refused" %
                   " ".join(cmd))
            sys.exit(97)
    with TempDir("pbprivacy.") as tmp, \
            Dovecot(users={ACC: PW}, fill=["%s:INBOX:plain:%d" % (ACC, N)]) as dc, \
            Postfix(dc) as pf:
        run(tmp, dc, pf)


if __name__ == "__main__":
    main()
