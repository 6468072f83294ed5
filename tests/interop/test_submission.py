#!/usr/bin/env python3
"""SMTP submission with a copy in Sent (SPEC §11), end to end: `popbridge
serve` relays to a private Postfix (tests/lib/pbpostfix.py: AUTH checked by
the test Dovecot) and appends the Sent copies to that Dovecot.

- Real clients: Python smtplib, swaks (STARTTLS), msmtp (STARTTLS, verified
  against popbridge's certificate), curl smtp://. Each message arrives at
  Postfix byte for byte (what it delivers, less the trace fields it puts in
  front) and is in Sent exactly once, byte for byte, \\Seen.
- Postfix's refusals pass through: a RCPT (550) and the data (550 after
  the dot); neither leaves a Sent copy.
- A wrong password (535); MAIL before AUTH (530); commands pipelined behind
  STARTTLS are never executed.
- A 15 MB message: relayed and copied whole, popbridge's peak RSS flat.
- IMAP down while a message is sent: 250, the copy pending (device list,
  log), then exactly one copy at the account's next login (POP3).
- kill -9 with a copy pending: exactly one copy after the restart; killed
  between an APPEND and its record (POPBRIDGE_TEST_CRASH_AT=after-append):
  still exactly one; managed mode: serve's own retry appends it without any
  login.
- aiosmtpd (tests/lib/smtpsink.py) drops the connection after the data:
  451 to the client, no Sent copy.
- --sent-copy never, and an upstream with X-GM-EXT-1 (a Dovecot announcing
  it): auto makes no copy there, always exactly one.
- report and device list count the messages sent; autoconfig names
  popbridge's submission service as the outgoing server.
- OAuth2 accounts (SPEC §10) send too: tokend (tests/lib/tokend.py) issues
  the tokens, a Dovecot with the oauth2 passdb checks them for IMAP and, over
  its SASL socket, for Postfix; a managed OAuth2 account's device sends, the
  submission server sees AUTH OAUTHBEARER (XOAUTH2 where Dovecot offers only
  that), the message arrives and its Sent copy is appended on the token's
  IMAP login; a token the submission server refuses is refreshed once; a new
  one refused too is 554 and an error line naming `popbridge account
  oauth2-login`; serve's retry appends an owed copy with the token.
"""
import hashlib
import imaplib
import os
import re
import smtplib
import socket
import ssl
import subprocess
import sys
import threading
import time

from pbinterop import (PW, Dovecot, Popbridge, TempDir, check, fail, free_port, make_cert,
                       peak_rss_kib, pop3_login, popbridge_bin, report, run)

sys.path.insert(0, os.path.join(os.environ.get("POPBRIDGE_SRC", "."), "tests", "lib"))
from pbpostfix import Postfix, original  # noqa: E402
from tokend import TokenService  # noqa: E402

CAROL_PW = "Up-9xQ.carol"
OAUTH_SECRET = "client-secret-Yv27"


class Switch:
    """A TCP forwarder to 127.0.0.1:target on a fixed port that can be cut:
    down() closes every connection and refuses new ones, up() lets them in
    again (the IMAP server going away and coming back)."""

    def __init__(self, target):
        self.target = target
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.on = True
        self.conns = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            if not self.on:
                c.close()
                continue
            try:
                u = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                c.close()
                continue
            with self.lock:
                self.conns += [c, u]
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                b.sendall(d)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def down(self):
        self.on = False
        with self.lock:
            for s in self.conns:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.conns = []

    def up(self):
        self.on = True


class Upstream:
    """What Popbridge needs of an IMAP upstream (its port may be a Switch)."""

    def __init__(self, dc, port):
        self.imap_port = port
        self.imaps_port = dc.imaps_port
        self.ca_file = dc.ca_file


def smtp_args(pf, dc, port, extra=()):
    return ["--smtp-upstream", "smtp://127.0.0.1:%d" % pf.port, "--upstream-ca", dc.ca_file,
            "--smtp-listen", "127.0.0.1:%d" % port] + list(extra)


def sent_folder(dc, user, password):
    """[(uid, bytes, flags)] of the Sent folder ([] when it does not exist)."""
    m = imaplib.IMAP4("127.0.0.1", dc.imap_port)
    try:
        m.login(user, password)
        typ, _ = m.select("Sent", readonly=True)
        if typ != "OK":
            return []
        typ, data = m.uid("SEARCH", None, "ALL")
        out = []
        for uid in [int(x) for x in data[0].split()]:
            typ, d = m.uid("FETCH", str(uid), "(FLAGS BODY.PEEK[])")
            part = [x for x in d if isinstance(x, tuple)][0]
            out.append((uid, part[1], part[0].decode()))
        return out
    finally:
        m.logout()


def message(tag, body=b"Hello.\r\n"):
    return (b"Date: Wed, 02 Dec 2026 09:00:00 +0000\r\n"
            b"From: alice@example.com\r\nTo: bob@example.com\r\nSubject: " + tag.encode() +
            b"\r\nMessage-ID: <" + tag.encode() + b"@example.com>\r\n\r\n" + body +
            b".leading dot\r\n..two dots\r\n.\tdot tab\r\nlast line\r\n")


def delivered(pf, tag, count):
    """The one message Postfix delivered with this Subject."""
    msgs = pf.messages(wait=15, count=count)
    found = [m for m in msgs if re.search(rb"^Subject: " + re.escape(tag.encode()) + rb"$",
                                          m, re.M)]
    check(len(found) == 1, "%s: %d deliveries" % (tag, len(found)))
    return original(found[0])


def copies(dc, tag, user="alice", password=PW):
    return [(u, b, f) for u, b, f in sent_folder(dc, user, password)
            if re.search(rb"^Subject: " + re.escape(tag.encode()) + rb"\r$", b, re.M)]


def check_one_copy(dc, tag, msg, user="alice", password=PW):
    c = copies(dc, tag, user, password)
    check(len(c) == 1, "%s: %d Sent copies, want 1" % (tag, len(c)))
    check(c[0][1] == msg, "%s: the Sent copy differs from the message" % tag)
    check("\\Seen" in c[0][2], "%s: the Sent copy is not \\Seen: %s" % (tag, c[0][2]))


def wait_port(port):
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    fail("nothing listens on %d" % port)


def device_list(pb):
    r = run([popbridge_bin(), "device", "list", "--state", pb.state])
    check(r.returncode == 0, "device list: %s" % r.stderr)
    lines = r.stdout.splitlines()
    head = lines[0].split()
    rows = {}
    for l in lines[1:]:
        cells = re.split(r"\s{2,}", l.strip())
        rows[cells[1]] = dict(zip(head, cells))
    return rows


# ---- real clients -----------------------------------------------------------------

def clients(dc, pf, tmp):
    cert, key = make_cert(tmp, "pb")
    port = free_port()
    with Popbridge(dc, tmp=tmp, args=smtp_args(pf, dc, port) + ["--cert", cert, "--key", key]) as pb:
        n = 0
        # smtplib, plaintext on loopback
        msg = message("smtplib-1")
        s = smtplib.SMTP("127.0.0.1", port, timeout=60)
        ehlo = s.ehlo()[1].decode()
        for cap in ("PIPELINING", "SIZE 20000000", "8BITMIME", "ENHANCEDSTATUSCODES", "SMTPUTF8",
                    "STARTTLS", "AUTH PLAIN LOGIN"):
            check(cap in ehlo, "EHLO lacks %s: %s" % (cap, ehlo))
        s.login("alice", PW)
        s.sendmail("alice@example.com", ["bob@example.com"], msg)
        s.quit()
        n += 1
        check(delivered(pf, "smtplib-1", n) == msg, "smtplib: relayed message differs")
        check_one_copy(dc, "smtplib-1", msg)
        line = pb.wait_log("event=submission")
        for kv in ("user=alice", "account=alice", "device=default", "tls=none", "rcpts=1",
                   "size=%d" % len(msg), "reply=250", "sent_copy=appended"):
            check(kv in line, "submission log line lacks %s: %s" % (kv, line))
        check(PW not in "\n".join(pb.log_lines()), "the password is in the log")
        report("smtplib: relayed byte for byte, one Sent copy byte for byte and \\Seen, "
               "one event=submission line")

        # swaks over STARTTLS
        msg = message("swaks-1")
        f = os.path.join(tmp, "swaks.eml")
        with open(f, "wb") as fh:
            fh.write(msg[:-2])   # swaks ends the data with its own CRLF
        r = run(["swaks", "--server", "127.0.0.1:%d" % port, "--tls", "--auth", "PLAIN",
                 "--auth-user", "alice#laptop", "--auth-password", PW, "--from",
                 "alice@example.com", "--to", "bob@example.com", "--data", "@" + f])
        check(r.returncode == 0, "swaks: %s %s" % (r.stdout[-800:], r.stderr))
        check("<~  250 2.0.0" in r.stdout or "<~  250 " in r.stdout, "swaks: no 250 over TLS")
        n += 1
        got = delivered(pf, "swaks-1", n)
        check(got == msg, "swaks: relayed message differs: %r\n%r" % (got, msg))
        check_one_copy(dc, "swaks-1", msg)
        # SPEC §11: the transaction's line names the session's TLS version
        line = pb.wait_log("event=submission", count=2)
        check("device=laptop" in line and " tls=TLSv1." in line,
              "submission over STARTTLS logged without its TLS version: %s" % line)
        report("swaks over STARTTLS (device laptop): relayed and copied byte for byte; "
               "its event=submission line says tls=TLSv1.x")

        # msmtp, STARTTLS verified against popbridge's certificate; the
        # device fetches over POP3 too (its report keeps the POP3 side)
        pop3_login(pb, "alice#phone").quit()
        msg = message("msmtp-1")
        conf = os.path.join(tmp, "msmtprc")
        with open(conf, "w") as fh:
            fh.write("account pb\nhost 127.0.0.1\nport %d\nauth plain\nuser alice#phone\n"
                     "password %s\ntls on\ntls_starttls on\ntls_trust_file %s\n"
                     "from alice@example.com\naccount default : pb\n" % (port, PW, cert))
        os.chmod(conf, 0o600)
        r = subprocess.run(["msmtp", "-C", conf, "bob@example.com"], input=msg,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        check(r.returncode == 0, "msmtp: %s" % r.stderr.decode(errors="replace"))
        n += 1
        got = delivered(pf, "msmtp-1", n)
        check(got == msg, "msmtp: relayed message differs: %r" % got[:300])
        check_one_copy(dc, "msmtp-1", msg)
        report("msmtp over verified STARTTLS (device phone): relayed and copied byte for byte")

        # curl smtp://
        msg = message("curl-1")
        f = os.path.join(tmp, "curl.eml")
        with open(f, "wb") as fh:
            fh.write(msg)
        r = run(["curl", "-sS", "--max-time", "60", "smtp://127.0.0.1:%d" % port,
                 "--mail-from", "alice@example.com", "--mail-rcpt", "bob@example.com",
                 "--upload-file", f, "--user", "alice#curl:" + PW])
        check(r.returncode == 0, "curl: %s" % r.stderr)
        n += 1
        check(delivered(pf, "curl-1", n) == msg, "curl: relayed message differs")
        check_one_copy(dc, "curl-1", msg)
        report("curl smtp:// (device curl): relayed and copied byte for byte")

        # Postfix's refusals pass through; no Sent copy
        before = len(sent_folder(dc, "alice", PW))
        s = smtplib.SMTP("127.0.0.1", port, timeout=60)
        s.login("alice", PW)
        try:
            s.sendmail("alice@example.com", ["bad@example.com"], message("refused-rcpt"))
            fail("RCPT bad@ was not refused")
        except smtplib.SMTPRecipientsRefused as e:
            code, text = e.recipients["bad@example.com"]
            check(code == 550 and b"5.1.1" in text and b"User unknown" in text,
                  "RCPT refusal not Postfix's: %r" % ((code, text),))
        try:
            s.sendmail("alice@example.com", ["bob@example.com"],
                       message("REJECT-ME content"))
            fail("the content was not refused")
        except smtplib.SMTPDataError as e:
            check(e.smtp_code == 550 and b"5.7.1 Message content rejected" in e.smtp_error,
                  "DATA refusal not Postfix's: %r" % (e.args,))
        s.quit()
        check(len(sent_folder(dc, "alice", PW)) == before, "a refused message has a Sent copy")
        line = pb.wait_log("reply=550")
        check("sent_copy=none" in line, "refused message: %s" % line)
        report("Postfix's RCPT refusal (550 5.1.1) and content refusal (550 5.7.1) reach the "
               "client as given; no Sent copy")

        # wrong password, MAIL before AUTH
        s = smtplib.SMTP("127.0.0.1", port, timeout=60)
        try:
            s.login("alice", "wrong")
            fail("a wrong password was accepted")
        except smtplib.SMTPAuthenticationError as e:
            check(e.smtp_code == 535, "wrong password: %r" % (e.args,))
        s.close()
        c = socket.create_connection(("127.0.0.1", port), timeout=30)
        fh = c.makefile("rb")
        fh.readline()
        c.sendall(b"EHLO x\r\nMAIL FROM:<alice@example.com>\r\nQUIT\r\n")
        lines = [fh.readline() for _ in range(9)]
        check(any(l.startswith(b"530 5.7.0") for l in lines), "MAIL before AUTH: %r" % lines)
        c.close()
        report("a wrong password gets 535 (after the failed-login delay), MAIL before AUTH 530")

        # STARTTLS injection: what follows STARTTLS in the same packet is dropped
        c = socket.create_connection(("127.0.0.1", port), timeout=30)
        fh = c.makefile("rb")
        fh.readline()
        c.sendall(b"EHLO x\r\n")
        while not fh.readline().startswith(b"250 "):
            pass
        c.sendall(b"STARTTLS\r\nAUTH PLAIN " +
                  __import__("base64").b64encode(b"\0alice\0" + PW.encode()) +
                  b"\r\nMAIL FROM:<evil@example.com>\r\n")
        check(fh.readline().startswith(b"220 2.0.0"), "no 220 to STARTTLS")
        ctx = ssl.create_default_context(cafile=cert)
        t = ctx.wrap_socket(c, server_hostname="localhost")
        t.sendall(b"MAIL FROM:<a@example.com>\r\n")
        tf = t.makefile("rb")
        first = tf.readline()
        check(first.startswith(b"503 5.5.1 Send EHLO"),
              "after STARTTLS the injected commands ran: %r" % first)
        t.sendall(b"QUIT\r\n")
        t.close()
        report("commands pipelined behind STARTTLS are discarded: after TLS the session "
               "starts afresh (503 before EHLO), not logged in")

        # a 15 MB message: streamed, memory flat
        rss0 = peak_rss_kib(pb.proc.pid)
        big = message("large-15mb", b"".join(b"%08d line of a large message to stream through "
                                             b"popbridge...................\r\n" % i
                                             for i in range(15 * 1000 * 1000 // 80)))
        s = smtplib.SMTP("127.0.0.1", port, timeout=120)
        s.login("alice", PW)
        s.sendmail("alice@example.com", ["bob@example.com"], big)
        s.quit()
        rss1 = peak_rss_kib(pb.proc.pid)
        n += 1
        check(hashlib.sha256(delivered(pf, "large-15mb", n)).digest() ==
              hashlib.sha256(big).digest(), "15 MB: relayed message differs")
        c = copies(dc, "large-15mb")
        check(len(c) == 1 and c[0][1] == big, "15 MB: the Sent copy is not the message")
        check(rss1 - rss0 < 8 * 1024, "15 MB: peak RSS grew by %d KiB" % (rss1 - rss0))
        report("a %.1f MB message relayed and copied whole; popbridge's peak RSS %d -> %d KiB"
               % (len(big) / 1e6, rss0, rss1))

        rows = device_list(pb)
        check(rows["default"]["SENT"] == "2" and rows["laptop"]["SENT"] == "1" and
              rows["phone"]["SENT"] == "1" and rows["curl"]["SENT"] == "1",
              "device list SENT: %r" % {k: v.get("SENT") for k, v in rows.items()})
        r = run([popbridge_bin(), "report", "--format", "json", "--state", pb.state])
        import json
        devs = {d["device"]: d for a in json.loads(r.stdout)["accounts"] for d in a["devices"]}
        check(devs["default"]["sent"] == 2 and devs["default"]["sent_copies_pending"] == 0 and
              devs["phone"]["protocol"] == "smtp", "report: %r" % devs["default"])
        # protocol is the last login's; the POP3 side of a device that also
        # fetches stays: its counts and the time of its last POP3 login
        ph, cu = devs["phone"], devs["curl"]
        check(ph["retrieved"] == 0 and ph["waiting"] is not None and
              ph["last_pop3_login"] is not None and ph["last_pop3_login"] <= ph["last_login"],
              "report of a POP3 device that sent: %r" % ph)
        check(cu["protocol"] == "smtp" and cu["retrieved"] is None and cu["waiting"] is None and
              cu["last_pop3_login"] is None, "report of a device that only sent: %r" % cu)
        check(rows["phone"]["PROTOCOL"] == "smtp" and rows["phone"]["RETRIEVED"] == "0" and
              rows["curl"]["RETRIEVED"] == "-", "device list: %r" %
              {k: (rows[k]["PROTOCOL"], rows[k]["RETRIEVED"]) for k in ("phone", "curl")})
        r = run([popbridge_bin(), "report", "--state", pb.state])
        line = [l for l in r.stdout.splitlines() if " phone " in l][0].split()
        check("smtp" in line and "0" in line, "report table, phone: %r" % line)
        report("device list and report count the messages each device sent; a POP3 device "
               "that sends shows protocol smtp and keeps its POP3 counts and last POP3 login")
        check(pb.stop() == 0, "popbridge did not stop cleanly")


# ---- IMAP down, crashes, managed retry -------------------------------------------------

def imap_down(dc, pf, tmp):
    sw = Switch(dc.imap_port)
    port = free_port()
    up = Upstream(dc, sw.port)
    state = os.path.join(tmp, "down.db")
    with Popbridge(up, tmp=tmp, state=state, args=smtp_args(pf, dc, port)) as pb:
        msg = message("imap-down")
        s = smtplib.SMTP("127.0.0.1", port, timeout=60)
        s.login("alice", PW)
        sw.down()
        s.sendmail("alice@example.com", ["bob@example.com"], msg)
        s.quit()
        line = pb.wait_log("event=submission")
        check("reply=250" in line and "sent_copy=pending" in line, "IMAP down: %s" % line)
        check(copies(dc, "imap-down") == [], "a copy although IMAP was down")
        check(delivered(pf, "imap-down", len(pf.messages())) == msg, "IMAP down: not relayed")
        check(device_list(pb)["default"]["SENT"] == "1 (1 to copy)", "device list: %r" %
              device_list(pb)["default"])
        sw.up()
        pop3_login(pb, "alice").quit()
        pb.wait_log("event=sent-copy")
        check_one_copy(dc, "imap-down", msg)
        pop3_login(pb, "alice").quit()
        check_one_copy(dc, "imap-down", msg)
        check(device_list(pb)["default"]["SENT"] == "1", "still owed after the copy")
        report("IMAP down while sending: 250 from the upstream, sent_copy=pending; the next "
               "(POP3) login appends exactly one copy")

        # kill -9 with a copy pending: exactly one copy after the restart
        msg = message("kill-9")
        s = smtplib.SMTP("127.0.0.1", port, timeout=60)
        s.login("alice", PW)
        sw.down()
        s.sendmail("alice@example.com", ["bob@example.com"], msg)
        pb.wait_log("sent_copy=pending", count=2)
        pb.kill9()
        s.close()
        sw.up()
    with Popbridge(up, tmp=tmp, state=state, args=smtp_args(pf, dc, port)) as pb:
        s = smtplib.SMTP("127.0.0.1", port, timeout=60)
        s.login("alice", PW)
        s.quit()
        pb.wait_log("event=sent-copy")
        check_one_copy(dc, "kill-9", msg)
        report("kill -9 with a copy pending: after the restart the next (SMTP) login appends "
               "exactly one copy")
        check(pb.stop() == 0, "popbridge did not stop cleanly")

    # killed between the APPEND and its record: still one copy
    msg = message("after-append")
    with Popbridge(up, tmp=tmp, state=state, args=smtp_args(pf, dc, port),
                   env={"POPBRIDGE_TEST_CRASH_AT": "after-append"}) as pb:
        s = smtplib.SMTP("127.0.0.1", port, timeout=60)
        s.login("alice", PW)
        s.sendmail("alice@example.com", ["bob@example.com"], msg)
        try:
            s.quit()
        except (smtplib.SMTPException, OSError):
            pass
        check(pb.proc.wait(30) == -9, "the crash hook did not fire")
    check(len(copies(dc, "after-append")) == 1, "no APPEND before the crash")
    with Popbridge(up, tmp=tmp, state=state, args=smtp_args(pf, dc, port)) as pb:
        pop3_login(pb, "alice").quit()
        pb.wait_log("event=sent-copy")
        check_one_copy(dc, "after-append", msg)
        check(device_list(pb)["default"]["SENT"] == "3", "after the crash: %r" %
              device_list(pb)["default"])
        report("killed between the APPEND and its record: the copy is found in Sent, not "
               "appended again")
        check(pb.stop() == 0, "popbridge did not stop cleanly")


def managed(dc, pf, tmp):
    state = os.path.join(tmp, "managed.db")
    r = run([popbridge_bin(), "account", "add", "carol", "--upstream-user", "carol",
             "--state", state], input=CAROL_PW + "\n", stdin=None)
    check(r.returncode == 0, "account add: %s" % r.stderr)
    r = run([popbridge_bin(), "device", "add", "carol", "pc", "--state", state])
    check(r.returncode == 0, "device add: %s" % r.stderr)
    devpw = r.stdout.strip().splitlines()[-1]
    sw = Switch(dc.imap_port)
    up = Upstream(dc, sw.port)
    port = free_port()
    msg = message("managed-retry")
    args = smtp_args(pf, dc, port, ["--auth", "managed"])
    with Popbridge(up, tmp=tmp, state=state, args=args) as pb:
        s = smtplib.SMTP("127.0.0.1", port, timeout=60)
        s.login("carol", devpw)
        sw.down()
        s.sendmail("carol@example.com", ["bob@example.com"], msg)
        pb.wait_log("sent_copy=pending")
        pb.kill9()
        s.close()
    check(copies(dc, "managed-retry", "carol", CAROL_PW) == [], "copied although IMAP was down")
    sw.up()
    with Popbridge(up, tmp=tmp, state=state, args=args) as pb:
        pb.wait_log("event=sent-copy account=carol", timeout=30)
        check_one_copy(dc, "managed-retry", msg, "carol", CAROL_PW)
        report("managed mode: after kill -9, serve's own retry appends the owed copy "
               "(no login needed), exactly once")
        check(pb.stop() == 0, "popbridge did not stop cleanly")


def dropped(dc, tmp):
    sink_port = free_port()
    sink = subprocess.Popen(["/usr/bin/python3",
                             os.path.join(os.environ["POPBRIDGE_SRC"], "tests", "lib",
                                          "smtpsink.py"),
                             str(sink_port), "alice", PW, "drop-after-data"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        check(sink.stdout.readline().strip() == b"ready", "smtpsink did not start")
        port = free_port()
        args = ["--smtp-upstream", "smtp://127.0.0.1:%d" % sink_port, "--smtp-upstream-tls",
                "none", "--smtp-listen", "127.0.0.1:%d" % port]
        with Popbridge(dc, tmp=tmp, state=os.path.join(tmp, "drop.db"), args=args) as pb:
            s = smtplib.SMTP("127.0.0.1", port, timeout=60)
            s.login("alice", PW)
            try:
                s.sendmail("alice@example.com", ["bob@example.com"], message("dropped"))
                fail("a lost reply was taken as accepted")
            except smtplib.SMTPDataError as e:
                check(e.smtp_code == 451 and b"4.4.2" in e.smtp_error, "lost reply: %r" % (e.args,))
            s.close()
            line = pb.wait_log("event=submission")
            check("reply=0" in line and "sent_copy=none" in line, "lost reply: %s" % line)
            check(copies(dc, "dropped") == [], "a Sent copy of a message whose reply was lost")
            check(os.listdir(os.path.join(tmp, "drop.db.sent")) == [], "a spool file was left")
            report("aiosmtpd drops the connection after the data: 451 4.4.2, no Sent copy, "
                   "no spool file left")
            check(pb.stop() == 0, "popbridge did not stop cleanly")
    finally:
        sink.stdin.close()
        sink.wait(10)


def sent_copy_never(dc, pf, tmp):
    """SPEC §11: --sent-copy never relays the message and makes no copy."""
    port = free_port()
    state = os.path.join(tmp, "never.db")
    with Popbridge(dc, tmp=tmp, state=state,
                   args=smtp_args(pf, dc, port, ["--sent-copy", "never"])) as pb:
        n = len(pf.messages()) + 1
        msg = message("never-1")
        s = smtplib.SMTP("127.0.0.1", port, timeout=60)
        s.login("alice", PW)
        s.sendmail("alice@example.com", ["bob@example.com"], msg)
        s.quit()
        check(delivered(pf, "never-1", n) == msg, "--sent-copy never: relayed message differs")
        line = pb.wait_log("event=submission")
        check("reply=250" in line and "sent_copy=skipped" in line,
              "--sent-copy never: %s" % line)
        pb.wait_log("event=session protocol=smtp")
        check(copies(dc, "never-1") == [], "--sent-copy never made a Sent copy")
        spool = state + ".sent"
        check(not os.path.isdir(spool) or os.listdir(spool) == [],
              "--sent-copy never left a spool file")
        check(pb.stop() == 0, "popbridge did not stop cleanly")
    report("--sent-copy never: relayed, sent_copy=skipped, no Sent copy and no spool file")


def sent_copy_gmail(dc, pf, tmp):
    """SPEC §11: an upstream that files sent mail itself (Gmail: X-GM-EXT-1;
    here a Dovecot that announces it): --sent-copy auto relays and makes no
    copy, --sent-copy always makes exactly one. (auto without X-GM-EXT-1
    copies: clients() above.) Postfix checks AUTH against dc, where alice
    has the same password, and presents dc's certificate."""
    with Dovecot(users={"alice": PW}, config_lines=["imap_capability = +X-GM-EXT-1"]) as gm:
        for mode, want in (("auto", 0), ("always", 1)):
            port = free_port()
            state = os.path.join(tmp, "gmail-%s.db" % mode)
            tag = "gmail-%s" % mode
            with Popbridge(gm, tmp=tmp, state=state,
                           args=smtp_args(pf, dc, port, ["--sent-copy", mode])) as pb:
                n = len(pf.messages()) + 1
                msg = message(tag)
                s = smtplib.SMTP("127.0.0.1", port, timeout=60)
                s.login("alice", PW)
                s.sendmail("alice@example.com", ["bob@example.com"], msg)
                s.quit()
                check(delivered(pf, tag, n) == msg, "--sent-copy %s: relayed message differs" % mode)
                line = pb.wait_log("event=submission")
                word = "skipped" if want == 0 else "appended"
                check("reply=250" in line and "sent_copy=" + word in line,
                      "--sent-copy %s, X-GM-EXT-1: %s" % (mode, line))
                pb.wait_log("event=session protocol=smtp")
                if want == 0:
                    check(copies(gm, tag) == [], "--sent-copy auto made a copy on X-GM-EXT-1")
                    spool = state + ".sent"
                    check(not os.path.isdir(spool) or os.listdir(spool) == [],
                          "--sent-copy auto left a spool file")
                else:
                    check_one_copy(gm, tag, msg)
                check(pb.stop() == 0, "popbridge did not stop cleanly")
    report("upstream with X-GM-EXT-1: --sent-copy auto relays with sent_copy=skipped and no "
           "Sent copy; --sent-copy always appends exactly one")


def autoconfig():
    r = run([popbridge_bin(), "autoconfig", "--format", "thunderbird", "--email",
             "alice@example.com", "--upstream", "imaps://imap.example.com",
             "--smtp-listen", "192.0.2.7:1587"])
    check(r.returncode == 0, "autoconfig: %s" % r.stderr)
    out = r.stdout.split("<outgoingServer")[1]
    check("<hostname>192.0.2.7</hostname>" in out and "<port>1587</port>" in out,
          "autoconfig outgoing server: %s" % out)
    # with the IMAP front: a submission listener on every address is at the
    # front's host; without --front such a listener needs --smtp-host
    r = run([popbridge_bin(), "autoconfig", "--format", "thunderbird", "--email",
             "alice@example.com", "--front", "mail.example.org", "--imap-listen-tls",
             "0.0.0.0:993", "--smtp-listen-tls", "0.0.0.0:465", "--cert", "/dev/null",
             "--key", "/dev/null"])
    check(r.returncode == 0, "autoconfig --front: %s" % r.stderr)
    inc, out = r.stdout.split("<outgoingServer")
    check("<hostname>mail.example.org</hostname>" in inc and "<port>993</port>" in inc,
          "autoconfig --front incoming server: %s" % inc)
    check("<hostname>mail.example.org</hostname>" in out and "<port>465</port>" in out and
          "<socketType>SSL</socketType>" in out, "autoconfig --front outgoing server: %s" % out)
    r = run([popbridge_bin(), "autoconfig", "--format", "thunderbird", "--email",
             "alice@example.com", "--upstream", "imaps://imap.example.com",
             "--smtp-listen", "0.0.0.0:587"])
    check(r.returncode == 1 and "give --smtp-host" in r.stderr, "wildcard: %d %s"
          % (r.returncode, r.stderr))
    report("autoconfig names popbridge's submission service as the outgoing server (at the "
           "--front host for a wildcard listener)")


# ---- OAuth2 accounts ----------------------------------------------------------------

def sasl_methods(pf, user):
    """The SASL mechanisms of Postfix's AUTH successes for user, from its log."""
    return re.findall(r"sasl_method=(\w+), sasl_username=%s\b" % re.escape(user), pf.log())


def imap_methods(dc, user):
    """The SASL mechanisms of Dovecot's IMAP logins of user but PLAIN (the
    test's own)."""
    with open(os.path.join(dc.dir, "log", "dovecot.log"), errors="replace") as f:
        return [m for m in re.findall(r"Login: user=<%s>, method=(\w+)" % re.escape(user),
                                      f.read()) if m != "PLAIN"]


def oauth2_account(tmp, ts, state, user):
    """account add --oauth2 custom (refresh-token grant) for user; one device;
    its password."""
    rt = ts.control(op="issue", user=user, client_id="cid")["refresh_token"]
    rtf, sf = os.path.join(tmp, "rt-" + user), os.path.join(tmp, "oauth-secret")
    for path, text in ((rtf, rt), (sf, OAUTH_SECRET)):
        with open(path, "w") as f:
            f.write(text + "\n")
    r = run([popbridge_bin(), "account", "add", user, "--upstream-user", user, "--oauth2",
             "custom", "--oauth2-token-url", ts.base + "/token", "--oauth2-client-id", "cid",
             "--oauth2-client-secret-file", sf, "--refresh-token-file", rtf,
             "--upstream-ca", ts.ca_file, "--state", state])
    check(r.returncode == 0, "account add --oauth2: %s" % r.stderr)
    r = run([popbridge_bin(), "device", "add", user, "pc", "--state", state])
    check(r.returncode == 0, "device add: %s" % r.stderr)
    return r.stdout.strip().splitlines()[-1]


def send(port, user, password, tag):
    msg = message(tag)
    s = smtplib.SMTP("127.0.0.1", port, timeout=60)
    s.login(user, password)
    s.sendmail(user + "@example.org", ["bob@example.com"], msg)
    s.quit()
    return msg


def oauth2_accounts(tmp):
    # everything is on loopback: no proxy of the environment in between
    for var in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                "ALL_PROXY"):
        os.environ.pop(var, None)
    with TokenService() as ts:
        ts.control(op="client", client_id="cid", secret=OAUTH_SECRET)
        for user, mechs, want in (("dave", None, "OAUTHBEARER"), ("erin", "xoauth2", "XOAUTH2")):
            upw = "Pw-" + user
            with Dovecot(users={user: upw}, oauth2=ts.introspection_url,
                         oauth2_mechanisms=mechs) as dc, Postfix(dc) as pf:
                state = os.path.join(tmp, "oauth-%s.db" % user)
                devpw = oauth2_account(tmp, ts, state, user)
                bundle = os.path.join(tmp, "bundle-%s.pem" % user)
                with open(bundle, "w") as f:
                    f.write(open(dc.ca_file).read() + open(ts.ca_file).read())
                sw = Switch(dc.imap_port)
                up = Upstream(dc, sw.port)
                port = free_port()
                args = ["--auth", "managed", "--smtp-upstream", "smtp://127.0.0.1:%d" % pf.port,
                        "--smtp-listen", "127.0.0.1:%d" % port]
                with Popbridge(up, tmp=tmp, state=state, args=args, upstream_tls="starttls",
                               upstream_ca=bundle) as pb:
                    tag = "oauth2-" + user
                    msg = send(port, user, devpw, tag)
                    check(delivered(pf, tag, 1) == msg, "%s: relayed message differs" % tag)
                    check_one_copy(dc, tag, msg, user, upw)
                    check(sasl_methods(pf, user) == [want],
                          "Postfix's AUTH: %r" % sasl_methods(pf, user))
                    check(imap_methods(dc, user) == [want], "the device login and the "
                          "Sent copy's IMAP: %r" % imap_methods(dc, user))
                    check("event=oauth2-refused-upstream" not in "\n".join(pb.log_lines()),
                          "a fresh token was refused")
                    report("an OAuth2 account's device sends: AUTH %s at the submission "
                           "server, delivered and copied to Sent byte for byte" % want)
                    if user != "dave":
                        check(pb.stop() == 0, "popbridge did not stop cleanly")
                        continue

                    # the submission server refuses the token: one refresh, sent
                    grants = ts.control(op="stats")["grants"].get("refresh_token", 0)
                    n = ts.control(op="stats")["introspections"]
                    # introspection n+1: the device login's IMAP; n+2: Postfix's AUTH
                    ts.control(op="refuse_at", introspection=[n + 2])
                    msg = send(port, user, devpw, "oauth2-refused-once")
                    check(delivered(pf, "oauth2-refused-once", 2) == msg, "not relayed")
                    check(ts.control(op="stats")["grants"]["refresh_token"] == grants + 1,
                          "a refused token: not refreshed once")
                    line = pb.wait_log("event=oauth2-refused-upstream", 10)
                    check("submission server" in line, "log: %s" % line)
                    check_one_copy(dc, "oauth2-refused-once", msg, user, upw)
                    report("a token the submission server refuses is refreshed once and "
                           "the message goes")

                    # refused again with the new token: 554, the command to run
                    n = ts.control(op="stats")["introspections"]
                    ts.control(op="refuse_at", introspection=[n + 2, n + 3])
                    # (one AUTH PLAIN: smtplib's login() would try LOGIN next)
                    s = smtplib.SMTP("127.0.0.1", port, timeout=60)
                    s.ehlo()
                    code, text = s.docmd("AUTH", "PLAIN " + __import__("base64").b64encode(
                        b"\0" + user.encode() + b"\0" + devpw.encode()).decode())
                    s.close()
                    check(code == 554 and b"5.7.0 Account unavailable" in text,
                          "refused twice: %d %r" % (code, text))
                    line = pb.wait_log("event=submission-refused", 10)
                    check("level=error" in line and "popbridge account oauth2-login " + user in line,
                          "log: %s" % line)
                    report("a new token refused as well: 554 to the device, an error line "
                           "naming popbridge account oauth2-login")

                    # an owed copy: serve's retry appends it with the token
                    ts.control(op="refuse_at", introspection=[])
                    s = smtplib.SMTP("127.0.0.1", port, timeout=60)
                    s.login(user, devpw)
                    sw.down()
                    msg = message("oauth2-retry")
                    s.sendmail(user + "@example.org", ["bob@example.com"], msg)
                    pb.wait_log("sent_copy=pending")
                    pb.kill9()
                    s.close()
                sw.up()
                check(copies(dc, "oauth2-retry", user, upw) == [], "copied while IMAP was down")
                with Popbridge(up, tmp=tmp, state=state, args=args, upstream_tls="starttls",
                               upstream_ca=bundle) as pb:
                    pb.wait_log("event=sent-copy account=%s" % user, timeout=30)
                    check_one_copy(dc, "oauth2-retry", msg, user, upw)
                    report("managed mode: serve's retry appends an OAuth2 account's owed "
                           "copy with its token")
                    check(pb.stop() == 0, "popbridge did not stop cleanly")
        st = ts.control(op="stats")
        log = "\n".join(pb.log_lines())
        for t in st["access_tokens_issued"] + st["refresh_tokens_issued"] + [OAUTH_SECRET]:
            check(t not in log, "a token in popbridge's log")


def main():
    with TempDir("pbsubmit.") as tmp, Dovecot(users={"alice": PW, "carol": CAROL_PW}) as dc, \
            Postfix(dc) as pf:
        clients(dc, pf, tmp)
        sent_copy_never(dc, pf, tmp)
        sent_copy_gmail(dc, pf, tmp)
        imap_down(dc, pf, tmp)
        managed(dc, pf, tmp)
        dropped(dc, tmp)
    with TempDir("pbsubmit.") as tmp:
        oauth2_accounts(tmp)
    autoconfig()


if __name__ == "__main__":
    main()
