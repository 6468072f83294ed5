#!/usr/bin/env python3
"""`serve --metrics-listen ADDR:PORT` (SPEC §14): real sessions against
`popbridge serve` in front of the sandbox Dovecot, and after each step a
scrape of /metrics with Python's http.client, checked series by series:
every counter's change is the one the step must make (a counter the step
does not name must not move), the gauges are what is open at that moment.

- POP3 (poplib): a session that RETRs two messages and DELEs one, a second
  device of the same account (the upstream connection kept by the first is
  reused), a device polling again within --login-delay ([LOGIN-DELAY]), a
  session scraped while it is open (sessions_open, the busy upstream
  connection);
- the IMAP front (imaplib): a LOGIN, SELECT, FETCH and LOGOUT relayed;
- a wrong password over POP3 and over IMAP (logins_failed, auth_failed);
- a connection that reads the greeting and goes (pre-login drop), scraped
  while it is open (connections_prelogin);
- bytes_sent per protocol is the octets the clients read, counted on their
  side, and the sum of the session lines' bytes_out; the histogram counts
  the new upstream logins; the journal gauges are there (and 0);
- nothing but /metrics on the address (404), and the version label is
  `popbridge version`'s.
"""
import http.client
import imaplib
import poplib
import re
import socket
import subprocess
import threading
import time

from pbinterop import (PW, Dovecot, Popbridge, check, free_port, popbridge_bin, report)

DELAY = 3600


class Counting:
    """A file object's reads, counted (what the server sent, to the octet)."""

    def __init__(self, f, start=0):
        self.f = f
        self.n = start

    def readline(self, *a):
        d = self.f.readline(*a)
        self.n += len(d)
        return d

    def read(self, *a):
        d = self.f.read(*a)
        self.n += len(d)
        return d

    def close(self):
        self.f.close()


class Pop(poplib.POP3):
    """poplib, from a chosen loopback address, counting what it reads."""

    def __init__(self, port, source="127.0.0.1"):
        self._source = source
        super().__init__("127.0.0.1", port, timeout=60)
        self.got = self.file = Counting(self.file, len(self.welcome) + 2)

    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout,
                                        source_address=(self._source, 0))


class Imap(imaplib.IMAP4):
    """imaplib, from a chosen loopback address, counting what it reads."""

    def __init__(self, port, source="127.0.0.1"):
        self._source = source
        super().__init__("127.0.0.1", port, timeout=60)

    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout,
                                        source_address=(self._source, 0))

    def open(self, *a, **kw):
        super().open(*a, **kw)
        self.got = self.file = Counting(self.file)

    def shutdown(self):
        """After LOGOUT: read to the end (imaplib may stop at the BYE)."""
        self.got.read()
        super().shutdown()


LINE = re.compile(r'^([a-z_][a-z0-9_]*)(\{[^}]*\})? (\S+)$')


class Metrics:
    def __init__(self, port):
        self.port = port

    def get(self, path, method="GET"):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            c.request(method, path)
            r = c.getresponse()
            return r.status, r.getheader("Content-Type"), r.read().decode()
        finally:
            c.close()

    def scrape(self):
        """{'name{labels}': value} of every sample; the text is checked
        line by line on the way (HELP and TYPE before each family)."""
        status, ctype, body = self.get("/metrics")
        check(status == 200, "/metrics: %d" % status)
        check(ctype == "text/plain; version=0.0.4; charset=utf-8", "Content-Type %r" % ctype)
        out, typed = {}, set()
        for line in body.splitlines():
            if line.startswith("# TYPE "):
                typed.add(line.split()[2])
                continue
            if line.startswith("# HELP "):
                continue
            m = LINE.match(line)
            check(m is not None, "not a sample line: %r" % line)
            fam = re.sub(r"_(bucket|sum|count)$", "", m.group(1))
            check(m.group(1) in typed or fam in typed, "%s before its TYPE" % m.group(1))
            key = m.group(1) + (m.group(2) or "")
            check(key not in out, "%s twice" % key)
            out[key] = float(m.group(3)) if m.group(3) != "+Inf" else float("inf")
        return out


def k(name, **labels):
    if not labels:
        return name
    return name + "{" + ",".join('%s="%s"' % kv for kv in labels.items()) + "}"


HIST = "popbridge_upstream_login_seconds"
GAUGES = ("popbridge_sessions_open", "popbridge_connections_prelogin",
          "popbridge_upstream_connections", "popbridge_sessions_max", "popbridge_journal_",
          "popbridge_build_info", "popbridge_start_time_seconds")


def deltas(before, after, want, label):
    """Every counter of after moved by want[key] (0 when not named); the
    histogram: _count and the +Inf bucket by the new logins, buckets never
    down, the sum up when there were some."""
    check(set(before) == set(after), "%s: the series changed: %s" %
          (label, set(before) ^ set(after)))
    new = want.get(k("popbridge_upstream_logins_total", result="new"), 0)
    for key in after:
        d = after[key] - before[key]
        if key.startswith(GAUGES):
            continue
        if key.startswith(HIST + "_bucket"):
            check(0 <= d <= new, "%s: %s moved %s" % (label, key, d))
            if 'le="+Inf"' in key:
                check(d == new, "%s: %s moved %s, not %s" % (label, key, d, new))
            continue
        if key == HIST + "_sum":
            check(d > 0 if new else d == 0, "%s: the sum moved %s" % (label, d))
            continue
        if key == HIST + "_count":
            check(d == new, "%s: %s moved %s, not %s" % (label, key, d, new))
            continue
        check(d == want.get(key, 0), "%s: %s moved %s, not %s" % (label, key, d,
                                                                   want.get(key, 0)))
    for key in want:
        check(key in after, "%s: no series %s" % (label, key))


def gauges(m, label, **want):
    """pop3/imap: sessions_open; pre: connections_prelogin; busy/kept."""
    names = {"pop3": k("popbridge_sessions_open", protocol="pop3"),
             "imap": k("popbridge_sessions_open", protocol="imap"),
             "pre": "popbridge_connections_prelogin",
             "busy": k("popbridge_upstream_connections", state="busy"),
             "kept": k("popbridge_upstream_connections", state="kept")}
    for g, v in want.items():
        check(m[names[g]] == v, "%s: %s is %s, not %s" % (label, names[g], m[names[g]], v))


def sessions(pb, proto, n):
    pb.wait_log("event=session protocol=%s " % proto if proto == "imap" else
                "event=session user=", count=n)


def pop3_log_lines(pb):
    return [l for l in pb.session_lines() if "protocol=imap" not in l]


def main():
    t0 = time.monotonic()
    with Dovecot(users={"alice": PW, "bob": PW}, fill=["alice:INBOX:plain:3"]) as dc:
        mport, iport = free_port(), free_port()
        with Popbridge(dc, args=["--imap-listen", "127.0.0.1:%d" % iport,
                                 "--metrics-listen", "127.0.0.1:%d" % mport,
                                 "--login-delay", str(DELAY)]) as pb:
            pb.wait_log("event=listen addr=127.0.0.1:%d protocol=metrics tls=none" % mport)
            mt = Metrics(mport)
            m0 = mt.scrape()
            ver = subprocess.run([popbridge_bin(), "version"], stdout=subprocess.PIPE,
                                 text=True, check=True).stdout.split()[1]
            check(m0[k("popbridge_build_info", version=ver)] == 1, "build_info")
            check(abs(m0["popbridge_start_time_seconds"] - time.time()) < 120, "start time")
            check(m0["popbridge_sessions_max"] == 500, "sessions_max")
            check(m0["popbridge_journal_pending"] == 0 and m0["popbridge_journal_stuck"] == 0,
                  "journal gauges")
            check(all(v == 0 for key, v in m0.items() if not key.startswith(GAUGES[3:])),
                  "a fresh serve counts nothing")
            gauges(m0, "start", pop3=0, imap=0, pre=0, busy=0, kept=0)
            for path in ("/", "/metrics/", "/favicon.ico"):
                check(mt.get(path)[0] == 404, "%s is not 404" % path)
            check(mt.get("/metrics", "POST")[0] == 405, "POST is not 405")
            report("/metrics on its own address (404 elsewhere, 405 for POST), version %s, "
                   "every series present and zero at start" % ver)

            # POP3: two RETRs, a DELE, QUIT (committed)
            p = Pop(pb.port)
            p.user("alice#a")
            p.pass_(PW)
            for i in (1, 2):
                p.retr(i)
            p.dele(1)
            p.quit()
            pop_bytes = p.got.n
            sessions(pb, "pop3", 1)
            m1 = mt.scrape()
            deltas(m0, m1, {k("popbridge_sessions_total", protocol="pop3", result="ok"): 1,
                            "popbridge_messages_retrieved_total": 2,
                            "popbridge_messages_deleted_total": 1,
                            k("popbridge_bytes_sent_total", protocol="pop3"): pop_bytes,
                            k("popbridge_upstream_logins_total", result="new"): 1}, "POP3")
            gauges(m1, "POP3", pop3=0, pre=0, busy=0, kept=1)

            # another device of the account: the kept connection is reused
            p = Pop(pb.port)
            p.user("alice#b")
            p.pass_(PW)
            check(len(p.uidl()[1]) == 3, "alice#b sees 3 messages (alice#a's DELE hides "
                  "for alice#a only)")
            p.quit()
            b_bytes = p.got.n
            sessions(pb, "pop3", 2)
            m2 = mt.scrape()
            deltas(m1, m2, {k("popbridge_sessions_total", protocol="pop3", result="ok"): 1,
                            k("popbridge_bytes_sent_total", protocol="pop3"): b_bytes,
                            k("popbridge_upstream_logins_total", result="reused"): 1}, "reuse")
            gauges(m2, "reuse", pop3=0, busy=0, kept=1)
            report("POP3: RETR x2, DELE, QUIT -> sessions_total{pop3,ok} +1, retrieved +2, "
                   "deleted +1, bytes_sent{pop3} +%d (what poplib read), one new upstream login "
                   "timed; a second device reuses the kept connection (reused +1, kept 1)"
                   % pop_bytes)

            # alice#a again within --login-delay: refused, a connection that never logged in
            p = Pop(pb.port)
            p.user("alice#a")
            try:
                p.pass_(PW)
                check(False, "alice#a was not held back by --login-delay")
            except poplib.error_proto as e:
                check(e.args[0].startswith(b"-ERR [LOGIN-DELAY]"), "%r" % e.args)
            p.quit()
            sessions(pb, "pop3", 3)
            m3 = mt.scrape()
            deltas(m2, m3, {k("popbridge_connections_total", result="quit"): 1,
                            "popbridge_login_delay_refusals_total": 1,
                            k("popbridge_bytes_sent_total", protocol="pop3"): p.got.n,
                            k("popbridge_upstream_logins_total", result="reused"): 1},
                   "LOGIN-DELAY")

            # a session scraped while open: one open session, its upstream connection busy
            p = Pop(pb.port)
            p.user("alice#c")
            p.pass_(PW)
            p.stat()
            mo = mt.scrape()
            gauges(mo, "open", pop3=1, imap=0, pre=0, busy=1, kept=0)
            p.quit()
            sessions(pb, "pop3", 4)
            m4 = mt.scrape()
            deltas(m3, m4, {k("popbridge_sessions_total", protocol="pop3", result="ok"): 1,
                            k("popbridge_bytes_sent_total", protocol="pop3"): p.got.n,
                            k("popbridge_upstream_logins_total", result="reused"): 1}, "open")
            gauges(m4, "open, closed", pop3=0, busy=0, kept=1)
            report("an early poll: connections_total{quit} +1, login_delay_refusals +1; an "
                   "open session: sessions_open{pop3} 1 and upstream busy 1 while it runs")

            # the IMAP front: LOGIN, SELECT, FETCH, LOGOUT relayed
            m = Imap(iport)
            m.login("alice#imap", PW)
            m.select("INBOX", readonly=True)
            typ, _ = m.fetch("1", "(BODY.PEEK[])")
            check(typ == "OK", "FETCH")
            mi = mt.scrape()
            gauges(mi, "imap open", pop3=0, imap=1, busy=1, kept=1)
            m.logout()
            imap_bytes = m.got.n
            sessions(pb, "imap", 1)
            m5 = mt.scrape()
            deltas(m4, m5, {k("popbridge_sessions_total", protocol="imap", result="ok"): 1,
                            k("popbridge_bytes_sent_total", protocol="imap"): imap_bytes,
                            k("popbridge_upstream_logins_total", result="new"): 1}, "IMAP")
            gauges(m5, "IMAP", imap=0, busy=0, kept=1)
            report("IMAP front: LOGIN, SELECT, FETCH, LOGOUT -> sessions_total{imap,ok} +1, "
                   "bytes_sent{imap} +%d (what imaplib read), a new upstream login; "
                   "sessions_open{imap} 1 and busy 1 meanwhile" % imap_bytes)

            # wrong passwords, POP3 and IMAP at once (each waits the failed-login delay)
            got = {}

            def pop_wrong():
                p = Pop(pb.port, "127.0.0.2")
                p.user("bob")
                try:
                    p.pass_("wrong")
                except poplib.error_proto as e:
                    got["pop3"] = e.args[0]
                p.quit()
                got["pop3_bytes"] = p.got.n

            def imap_wrong():
                m = Imap(iport, "127.0.0.3")
                try:
                    m.login("bob", "wrong")
                except imaplib.IMAP4.error as e:
                    got["imap"] = str(e)
                m.logout()
                got["imap_bytes"] = m.got.n
            th = [threading.Thread(target=f) for f in (pop_wrong, imap_wrong)]
            for t in th:
                t.start()
            for t in th:
                t.join(60)
            check(got.get("pop3", b"").startswith(b"-ERR [AUTH]"), "POP3: %r" % got)
            check("AUTHENTICATIONFAILED" in got.get("imap", ""), "IMAP: %r" % got)
            sessions(pb, "pop3", 5)
            sessions(pb, "imap", 2)
            m6 = mt.scrape()
            deltas(m5, m6, {k("popbridge_connections_total", result="auth_failed"): 2,
                            k("popbridge_logins_failed_total", protocol="pop3"): 1,
                            k("popbridge_logins_failed_total", protocol="imap"): 1,
                            k("popbridge_bytes_sent_total", protocol="pop3"): got["pop3_bytes"],
                            k("popbridge_bytes_sent_total", protocol="imap"): got["imap_bytes"],
                            k("popbridge_upstream_logins_total", result="refused"): 2},
                   "wrong passwords")
            report("a wrong password over POP3 and over IMAP: logins_failed{pop3} +1, "
                   "logins_failed{imap} +1, connections_total{auth_failed} +2, upstream "
                   "refused +2")

            # a connection that reads the greeting and goes
            s = socket.create_connection(("127.0.0.1", pb.port), timeout=30)
            greeting = s.makefile("rb").readline()
            check(greeting.startswith(b"+OK"), "greeting %r" % greeting)
            mp = mt.scrape()
            gauges(mp, "pre-login", pop3=0, imap=0, pre=1)
            s.close()
            sessions(pb, "pop3", 6)
            m7 = mt.scrape()
            deltas(m6, m7, {k("popbridge_connections_total", result="dropped"): 1,
                            k("popbridge_bytes_sent_total", protocol="pop3"): len(greeting)},
                   "pre-login drop")
            gauges(m7, "after the drop", pre=0)
            report("a pre-login drop: connections_prelogin 1 while connected, then "
                   "connections_total{dropped} +1 and bytes_sent{pop3} +%d (the greeting)" %
                   len(greeting))

            # the totals against the session lines
            for proto, lines in (("pop3", pop3_log_lines(pb)),
                                 ("imap", [l for l in pb.session_lines()
                                           if "protocol=imap" in l])):
                logged = sum(int(re.search(r" bytes_out=(\d+)", l).group(1)) for l in lines)
                fails = sum(int(re.search(r" auth_failures=(\d+)", l).group(1)) for l in lines)
                check(m7[k("popbridge_bytes_sent_total", protocol=proto)] == logged,
                      "%s: bytes_sent %s, the session lines %s" %
                      (proto, m7[k("popbridge_bytes_sent_total", protocol=proto)], logged))
                check(m7[k("popbridge_logins_failed_total", protocol=proto)] == fails,
                      "%s: logins_failed vs the session lines" % proto)
            check(m7[HIST + "_count"] == 2 and m7[k(HIST + "_bucket", le="30")] == 2,
                  "two new logins, each within 30 s")
            check(m7["popbridge_journal_pending"] == 0, "journal_pending")
            report("bytes_sent and logins_failed equal the session lines' bytes_out and "
                   "auth_failures; the login histogram holds the 2 new logins")
            check(pb.stop() == 0, "popbridge: exit status")
    print("test_metrics: %.1f s" % (time.monotonic() - t0))


if __name__ == "__main__":
    main()
