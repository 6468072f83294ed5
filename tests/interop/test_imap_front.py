#!/usr/bin/env python3
"""The IMAP front (SPEC §12) with real IMAP clients, in front of the sandbox
Dovecot.

Passthrough (one popbridge with a certificate, --imap-listen and
--imap-listen-tls):
- Python imaplib reads every message byte for byte; the tagged OK of LOGIN
  carries the upstream's capabilities without STARTTLS, LOGINDISABLED and
  AUTH=; commands pipelined behind LOGIN reach the upstream;
- STARTTLS (imaplib.starttls) and implicit TLS (IMAP4_SSL), verified
  against popbridge's certificate; the session line says which TLS;
- STARTTLS command injection: a LOGIN sent in the same packet as STARTTLS
  is discarded, never run (the session line says so);
- mbsync (isync) pulls INBOX into a Maildir: the same messages;
- curl imap://.../INBOX;UID=1 gets message 1;
- a wrong password: NO [AUTHENTICATIONFAILED];
- IDLE sees a message appended upstream by another client;
- a POP3 device's view (UIDLs, count, counters) is the same after IMAP
  sessions — of other devices and of that device itself;
- report (json) shows protocol imap for the IMAP devices, with no POP3
  counts, and pop3 for the POP3 device; each IMAP session logged one
  event=session protocol=imap line with bytes_in and bytes_out.
Limits (a popbridge with --max-sessions 2 --login-timeout 3
--max-auth-failures 1): IMAP and POP3 connections share the pre-login half of
the sessions (one beyond it gets `* BYE [UNAVAILABLE]` or `-ERR [SYS/TEMP]` at
once); an IMAP connection that does not log in is closed with `* BYE` at its
login deadline, and one with a failed login after answering it.
Managed (a second popbridge, --auth managed):
- a device's own password opens the mailbox; the upstream password, another
  device's password and an unknown password are refused alike;
- a revoked device is refused, and its running IMAP session is closed
  within FRONT_REVOKE_CHECK_S (30 s) of `device revoke`;
- device list shows the device's protocol imap and no POP3 counts.
"""
import imaplib
import json
import os
import poplib
import socket
import ssl
import subprocess
import threading
import time

from pbinterop import (PW, Dovecot, Popbridge, TempDir, check, free_port, make_cert,
                       popbridge_bin, report, upstream_messages)

ACC = "office@example.org"
REVOKE_LIMIT_S = 40     # FRONT_REVOKE_CHECK_S (30) and some slack


class IMAP4From(imaplib.IMAP4):
    """imaplib from a chosen loopback source address (the failed-login delay
    counts per address and account: parallel refusals from different
    addresses do not queue behind each other)."""

    def __init__(self, port, source):
        self._source = source
        super().__init__("127.0.0.1", port, timeout=60)

    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout,
                                        source_address=(self._source, 0))


def cli(state, *args, stdin_text="", expect=0):
    r = subprocess.run([popbridge_bin()] + list(args) + ["--state", state], input=stdin_text,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    check(r.returncode == expect, "popbridge %s: exit %d\n%s%s" % (" ".join(args), r.returncode,
                                                                   r.stdout, r.stderr))
    return r.stdout


def fetch_all(m):
    """[(uid, body)] of the selected mailbox through imaplib."""
    typ, data = m.uid("SEARCH", None, "ALL")
    check(typ == "OK", "UID SEARCH: %r" % data)
    out = []
    for uid in [int(x) for x in data[0].split()]:
        typ, d = m.uid("FETCH", str(uid), "(BODY.PEEK[])")
        out.append((uid, [x for x in d if isinstance(x, tuple)][0][1]))
    return out


class Raw:
    """A line-level IMAP client on a socket (for what imaplib hides)."""

    def __init__(self, port, source="127.0.0.1"):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=30,
                                          source_address=(source, 0))
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def line(self, timeout=30):
        self.s.settimeout(timeout)
        while b"\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                return None
            self.buf += d
        ln, self.buf = self.buf.split(b"\r\n", 1)
        return ln

    def until(self, tag):
        """Lines up to and including the one tagged tag."""
        out = []
        while True:
            ln = self.line()
            check(ln is not None, "connection closed before %r; got %r" % (tag, out))
            out.append(ln)
            if ln.startswith(tag + b" "):
                return out

    def starttls(self, ctx):
        self.s = ctx.wrap_socket(self.s, server_hostname="localhost")

    def close(self):
        self.s.close()


def pop3(pb, user):
    p = poplib.POP3("127.0.0.1", pb.port, timeout=60)
    p.user(user)
    p.pass_(PW)
    return p


def pop3_view(pb, user):
    p = pop3(pb, user)
    _, lines, _ = p.uidl()
    p.quit()
    return [l.split()[1] for l in lines]


def device_row(state, account, device):
    lines = cli(state, "device", "list", account).splitlines()
    head = lines[0].split()
    for ln in lines[1:]:
        f = ln.split()
        if len(f) > 2 and f[0] == account and f[1] == device:
            return dict(zip(head, f))
    raise AssertionError("no row for %s/%s in device list" % (account, device))


def passthrough(dc, tmp, cert, key, up):
    port, tls_port = free_port(), free_port()
    ctx = ssl.create_default_context(cafile=cert)
    with Popbridge(dc, tmp=tmp, args=["--cert", cert, "--key", key,
                                      "--imap-listen", "127.0.0.1:%d" % port,
                                      "--imap-listen-tls", "127.0.0.1:%d" % tls_port]) as pb:
        pb.wait_log("protocol=imap tls=starttls")
        # A POP3 device first: its view and counters are the baseline.
        p = pop3(pb, "office#pc")
        p.retr(1)
        p.dele(1)
        p.quit()
        view = pop3_view(pb, "office#pc")
        check(len(view) == len(up) - 1, "POP3 view has %d messages" % len(view))
        counters = {k: device_row(pb.state, "office", "pc")[k]
                    for k in ("RETRIEVED", "DELETED", "WAITING")}

        # imaplib: every message byte for byte; \Seen set on all.
        m = imaplib.IMAP4("127.0.0.1", port, timeout=60)
        check("AUTH=PLAIN" in m.capabilities and "STARTTLS" in m.capabilities and
              "LOGINDISABLED" not in m.capabilities, "greeting: %r" % (m.capabilities,))
        m.login("office#phone", PW)
        m.select("INBOX")
        got = fetch_all(m)
        check(got == up, "imaplib through the front: %d messages, not the upstream's %d"
              % (len(got), len(up)))
        typ, _ = m.uid("STORE", "1:*", "+FLAGS", "(\\Seen)")
        check(typ == "OK", "STORE through the front")
        m.logout()
        # The same device as the POP3 one, by IMAP: its POP3 view is its own.
        m = imaplib.IMAP4("127.0.0.1", port, timeout=60)
        m.login("office#pc", PW)
        m.select("INBOX")
        check(len(fetch_all(m)) == len(up), "office#pc by IMAP sees the whole mailbox")
        m.logout()
        report("imaplib reads every message through the front, byte for byte")

        # The tagged OK carries the upstream's capabilities; pipelined
        # commands behind LOGIN reach the upstream.
        r = Raw(port)
        r.line()
        r.send(b"a LOGIN office#raw " + PW.encode() + b"\r\nb SELECT INBOX\r\nc LOGOUT\r\n")
        ok = r.until(b"a")[-1]
        check(ok.startswith(b"a OK [CAPABILITY ") and b"IMAP4REV1" in ok.upper() and
              b" IDLE" in ok.upper(), "LOGIN's answer: %r" % ok)
        for word in (b"STARTTLS", b"LOGINDISABLED", b"AUTH="):
            check(word not in ok.upper(), "LOGIN's capabilities name %r: %r" % (word, ok))
        sel = r.until(b"b")
        check(b"* %d EXISTS" % len(up) in sel and sel[-1].startswith(b"b OK"),
              "SELECT pipelined behind LOGIN: %r" % sel)
        check(r.until(b"c")[-1].startswith(b"c OK"), "LOGOUT")
        r.close()
        report("LOGIN answers the upstream's capabilities less STARTTLS, LOGINDISABLED, AUTH=; "
               "commands pipelined behind it are relayed")

        # STARTTLS and implicit TLS.
        m = imaplib.IMAP4("127.0.0.1", port, timeout=60)
        m.starttls(ssl_context=ctx)
        check("STARTTLS" not in m.capabilities, "STARTTLS still offered after TLS")
        m.login("office#tls", PW)
        m.select("INBOX")
        check(len(fetch_all(m)) == len(up), "STARTTLS session")
        m.logout()
        m = imaplib.IMAP4_SSL("127.0.0.1", tls_port, ssl_context=ctx, timeout=60)
        check("STARTTLS" not in m.capabilities, "STARTTLS offered on implicit TLS")
        m.login("office#tls", PW)
        m.select("INBOX")
        check(len(fetch_all(m)) == len(up), "implicit TLS session")
        m.logout()
        pb.wait_log("device=tls remote=127.0.0.1 tls=TLSv1.3", count=2)
        report("STARTTLS and implicit TLS (verified against popbridge's certificate)")

        # STARTTLS command injection: the LOGIN in the same packet is
        # discarded; the session is not logged in.
        r = Raw(port)
        r.line()
        r.send(b"s1 STARTTLS\r\ns2 LOGIN office#inj " + PW.encode() + b"\r\n")
        check(r.line() == b"s1 OK Begin TLS negotiation now.", "STARTTLS answer")
        check(r.buf == b"", "octets after the STARTTLS answer")
        r.starttls(ctx)
        try:
            extra = r.line(timeout=1.5)
        except socket.timeout:
            extra = None
        check(extra is None, "an answer to input injected before TLS: %r" % extra)
        r.send(b"s3 SELECT INBOX\r\n")
        check(r.until(b"s3")[-1].startswith(b"s3 BAD"), "not logged in after the injection")
        r.send(b"s4 LOGOUT\r\n")
        r.until(b"s4")
        r.close()
        pb.wait_log("octets pipelined behind STARTTLS discarded")
        report("STARTTLS command injection: the pipelined LOGIN is discarded, never run")

        # mbsync pulls INBOX into a Maildir.
        maildir = os.path.join(tmp, "mbsync")
        os.mkdir(maildir)
        rc = os.path.join(tmp, "mbsyncrc")
        with open(rc, "w") as f:
            f.write("IMAPAccount front\nHost 127.0.0.1\nPort %d\nUser office#mbsync\n"
                    "Pass %s\nSSLType None\nAuthMechs LOGIN\n\n"
                    "IMAPStore front\nAccount front\n\n"
                    "MaildirStore local\nPath %s/\nInbox %s/INBOX\n\n"
                    "Channel pull\nFar :front:\nNear :local:\nPatterns INBOX\n"
                    "Sync Pull\nCreate Near\nSyncState *\n" % (port, PW, maildir, maildir))
        res = subprocess.run(["mbsync", "-c", rc, "-a"], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120,
                             text=True)
        check(res.returncode == 0, "mbsync: %d\n%s%s" % (res.returncode, res.stdout, res.stderr))
        files = []
        for sub in ("cur", "new"):
            d = os.path.join(maildir, "INBOX", sub)
            files += [os.path.join(d, n) for n in os.listdir(d)]
        check(len(files) == len(up), "mbsync stored %d messages of %d" % (len(files), len(up)))
        bodies = set()
        for fn in files:
            with open(fn, "rb") as f:
                data = f.read()
            # mbsync may add an X-TUID header line; it stores LF line ends.
            bodies.add(b"".join(l for l in data.splitlines(True)
                               if not l.startswith(b"X-TUID: ")))
        want = {b.replace(b"\r\n", b"\n") for _, b in up}
        check(bodies == want, "mbsync's Maildir differs from the upstream messages")
        report("mbsync pulls INBOX through the front into a Maildir")

        # curl imap://
        res = subprocess.run(["curl", "-sS", "--max-time", "60", "-u", "office#curl:" + PW,
                              "imap://127.0.0.1:%d/INBOX;UID=%d" % (port, up[0][0])],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, timeout=90)
        check(res.returncode == 0, "curl: %s" % res.stderr.decode(errors="replace"))
        check(res.stdout == up[0][1], "curl's message differs from the upstream's")
        report("curl imap:// fetches a message through the front")

        # A wrong password: answered after the failed-login delay (2 s).
        m = IMAP4From(port, "127.0.0.21")
        t0 = time.monotonic()
        try:
            m.login("office#phone", "wrong-" + PW)
            check(False, "a wrong password was accepted")
        except imaplib.IMAP4.error as e:
            check("AUTHENTICATIONFAILED" in str(e), "wrong password: %s" % e)
        took = time.monotonic() - t0
        check(took >= 1.9, "a wrong password answered after %.1f s" % took)
        m.logout()
        report("a wrong password: NO [AUTHENTICATIONFAILED] after the failed-login delay "
               "(%.1f s)" % took)

        # The POP3 device's view and counters did not move.
        check(pop3_view(pb, "office#pc") == view, "POP3 view changed by IMAP sessions")
        row = device_row(pb.state, "office", "pc")
        check(all(row[k] == v for k, v in counters.items()) and row["PROTOCOL"] == "pop3",
              "POP3 device's row after IMAP sessions: %r (was %r)" % (row, counters))
        report("POP3 views and counters untouched by IMAP sessions (of other devices and "
               "of the device itself)")

        # IDLE sees a message appended upstream by another client.
        m = imaplib.IMAP4("127.0.0.1", port, timeout=60)
        m.login("office#idler", PW)
        m.select("INBOX")
        m.send(b"i1 IDLE\r\n")
        check(m.readline().startswith(b"+"), "IDLE's continuation")
        other = imaplib.IMAP4("127.0.0.1", dc.imap_port)
        other.login("office", PW)
        other.append("INBOX", None, None, b"Subject: appended\r\n\r\nfrom elsewhere\r\n")
        other.logout()
        seen = None
        end = time.monotonic() + 20
        while time.monotonic() < end:
            ln = m.readline()
            if b"EXISTS" in ln:
                seen = ln
                break
        check(seen == b"* %d EXISTS\r\n" % (len(up) + 1), "IDLE saw %r" % seen)
        m.send(b"DONE\r\n")
        ln = m.readline()
        while ln.startswith(b"* "):      # e.g. * 1 RECENT
            ln = m.readline()
        check(ln.startswith(b"i1 OK"), "IDLE's end: %r" % ln)
        m.logout()
        report("IDLE through the front sees a message appended upstream")

        lines = [l for l in pb.session_lines() if "protocol=imap" in l]
        check(len(lines) >= 9 and all(" bytes_in=" in l and " bytes_out=" in l for l in lines),
              "IMAP session lines: %r" % lines)
        rep = json.loads(cli(pb.state, "report", "--format", "json"))
        devs = {d["device"]: d for a in rep["accounts"] for d in a["devices"]}
        for name in ("phone", "raw", "tls", "mbsync", "curl", "idler"):
            check(devs[name]["protocol"] == "imap" and devs[name]["retrieved"] is None and
                  devs[name]["waiting"] is None, "report: %s: %r" % (name, devs[name]))
        check(devs["pc"]["protocol"] == "pop3" and devs["pc"]["retrieved"] == 1,
              "report: pc: %r" % devs["pc"])
        check("inj" not in devs, "the injected login created a device")
        report("report: imap for the IMAP devices (no POP3 counts), pop3 for the POP3 one; "
               "one event=session protocol=imap line per session")
        check(pb.stop() == 0, "popbridge exit status")


def limits(dc, tmp):
    port = free_port()
    with Popbridge(dc, tmp=tmp, state=os.path.join(tmp, "limits.db"),
                   args=["--imap-listen", "127.0.0.1:%d" % port, "--max-sessions", "2",
                         "--login-timeout", "3", "--max-auth-failures", "1"]) as pb:
        a = Raw(port)
        check(a.line().startswith(b"* OK [CAPABILITY "), "first IMAP connection's greeting")
        with socket.create_connection(("127.0.0.1", pb.port), timeout=30) as p:
            ln = p.makefile("rb").readline()
        check(ln.startswith(b"-ERR [SYS/TEMP]"), "POP3 beyond the pre-login share: %r" % ln)
        b = Raw(port)
        ln = b.line()
        check(ln == b"* BYE [UNAVAILABLE] Too many sessions, try again later.",
              "IMAP beyond the pre-login share: %r" % ln)
        b.close()
        ln = a.line(timeout=15)
        check(ln == b"* BYE Login timeout.", "at the login deadline: %r" % ln)
        check(a.line() is None, "connection still open after the login timeout")
        a.close()
        pb.wait_log("result=timeout")
        # --max-auth-failures 1: the first failure is answered, then BYE.
        # (A new connection may race the slot the timed-out one frees.)
        end = time.monotonic() + 5
        while True:
            d = Raw(port)
            ln = d.line()
            if ln.startswith(b"* OK") or time.monotonic() > end:
                break
            d.close()
            time.sleep(0.1)
        check(ln.startswith(b"* OK"), "a new connection after the timeout: %r" % ln)
        d.send(b"f1 LOGIN office#cap wrong-password\r\n")
        ln = d.line(timeout=30)
        check(ln.startswith(b"f1 NO [AUTHENTICATIONFAILED]"), "failed login: %r" % ln)
        check(d.line() == b"* BYE Too many failed logins.", "no BYE after the last failure")
        check(d.line() is None, "connection still open after --max-auth-failures")
        d.close()
        pb.wait_log("result=auth-failed")
        check(pb.stop() == 0, "popbridge exit status")
    report("limits: IMAP and POP3 share the pre-login half of --max-sessions (* BYE "
           "[UNAVAILABLE]); the login deadline and --max-auth-failures close an IMAP "
           "connection with * BYE")


def idle_until_closed(port, user, password, out):
    """Log in, IDLE, and note when the server closes the connection."""
    try:
        m = imaplib.IMAP4("127.0.0.1", port, timeout=120)
        m.login(user, password)
        m.select("INBOX")
        m.send(b"i IDLE\r\n")
        out["idling"] = m.readline()
        out["ready"].set()
        while True:
            ln = m.readline()
            if not ln:
                break
        out["closed"] = time.monotonic()
    except (OSError, imaplib.IMAP4.error) as e:
        out["error"] = str(e)
        out["closed"] = time.monotonic()
    out["ready"].set()


def refused(port, source, user, password, out):
    m = IMAP4From(port, source)
    try:
        m.login(user, password)
        out[source] = "accepted"
    except imaplib.IMAP4.error as e:
        out[source] = str(e)
    m.logout()


def managed(dc, tmp, up):
    state = os.path.join(tmp, "managed.db")
    cli(state, "account", "add", ACC, "--upstream-user", "office", stdin_text=PW + "\n")
    pws = {}
    for dev in ("phone", "tablet", "pc"):
        pws[dev] = cli(state, "device", "add", ACC, dev).rstrip("\n").split("\n")[-1]
    port = free_port()
    with Popbridge(dc, tmp=tmp, state=state,
                   args=["--auth", "managed", "--imap-listen", "127.0.0.1:%d" % port]) as pb:
        m = imaplib.IMAP4("127.0.0.1", port, timeout=60)
        m.login(ACC, pws["phone"])
        m.select("INBOX")
        check(len(fetch_all(m)) == len(up) + 1, "managed device's mailbox")
        m.logout()
        report("managed: a device's own password opens the mailbox over IMAP")

        # The tablet idles; it is revoked; its session goes.
        idle = {"ready": threading.Event()}
        t = threading.Thread(target=idle_until_closed, args=(port, ACC, pws["tablet"], idle))
        t.start()
        check(idle["ready"].wait(30) and idle.get("idling", b"").startswith(b"+"),
              "tablet's IDLE: %r" % idle)
        cli(state, "device", "revoke", ACC, "tablet")
        revoked_at = time.monotonic()

        out = {}
        tries = [("127.0.0.31", ACC, PW), ("127.0.0.32", ACC + "#phone", pws["pc"]),
                 ("127.0.0.33", ACC, "12345678901234567890"),
                 ("127.0.0.34", ACC, pws["tablet"])]
        threads = [threading.Thread(target=refused, args=(port, s, u, p, out))
                   for s, u, p in tries]
        for th in threads:
            th.start()
        for th in threads:
            th.join(120)
        texts = set()
        for s, _, _ in tries:
            check("AUTHENTICATIONFAILED" in out.get(s, ""), "from %s: %r" % (s, out.get(s)))
            texts.add(out[s])
        check(len(texts) == 1, "refusals differ: %r" % out)
        report("managed: the upstream password, another device's and a wrong one refused "
               "alike; a revoked device refused")

        t.join(REVOKE_LIMIT_S + 10)
        check("closed" in idle, "the revoked device's IDLE session still runs")
        check(idle["closed"] - revoked_at <= REVOKE_LIMIT_S,
              "revoked session closed after %.1f s" % (idle["closed"] - revoked_at))
        pb.wait_log("device=tablet", 10)
        check(any("device=tablet" in l and "result=revoked" in l for l in pb.session_lines()),
              "no result=revoked line")
        report("managed: a revoked device's running IMAP session closed %.0f s after revoke"
               % (idle["closed"] - revoked_at))
        row = device_row(state, ACC, "phone")
        check(row["PROTOCOL"] == "imap" and row["RETRIEVED"] == "-",
              "device list row: %r" % row)
        report("device list: protocol imap, no POP3 counts")
        check(pb.stop() == 0, "popbridge exit status")


def main():
    with TempDir("pbfront.") as tmp, \
            Dovecot(users={"office": PW}, fill=["office:INBOX:awkward:4",
                                                "office:INBOX:plain:3"]) as dc:
        cert, key = make_cert(tmp)
        up = upstream_messages(dc, "office", PW)
        passthrough(dc, tmp, cert, key, up)
        limits(dc, tmp)
        managed(dc, tmp, up)


if __name__ == "__main__":
    main()
