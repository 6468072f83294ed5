#!/usr/bin/env python3
"""A fleet behind nginx's mail proxy (SPEC §14, docs/FLEET.md), end to end.

A private nginx (Debian's nginx-light with libnginx-mod-mail: `nginx -p
PREFIX -c CONF -e ERRLOG`, loopback ports, a temporary folder; never the
system service) runs the configuration of docs/FLEET.md, read from that page
with only ports, certificate, route's address and the LOGIN-DELAY value
replaced. Behind it: popbridge nodes in front of one private Dovecot, each
with its own state file (--proxy-protocol --trusted-proxy 127.0.0.1/32), and
`popbridge route`. Clients talk to nginx over TLS from 127.0.0.2: Python's
poplib, imaplib and smtplib, and mpop.

- every login of an account lands on the node that the rendezvous hash names
  (computed here independently), and on the same one each time;
- the nodes see the client's address (log line, `report` last_address);
- LOGIN-DELAY: nginx's CAPA announces it; a device's early poll is refused
  through nginx verbatim, its neighbour is not;
- a node stopped: its accounts get `-ERR [SYS/TEMP] ...` through nginx,
  verbatim (`[UNAVAILABLE]` over IMAP, `451 4.3.0` over SMTP), nothing else
  changes; restarted, they work with the same UIDLs;
- a third node added: `route --plan` lists exactly the accounts that then land
  on it, and no other account moves.
"""
import atexit
import concurrent.futures
import json
import os
import poplib
import re
import shutil
import signal
import smtplib
import socket
import imaplib
import ssl
import subprocess
import time

from pbinterop import (PW, Dovecot, Popbridge, Route, TempDir, check, fail, free_port,
                       make_cert, popbridge_bin, report, route_owner, run)

MAIL_MODULE = "/usr/lib/nginx/modules/ngx_mail_module.so"
CLIENT = "127.0.0.2"          # the devices' address, as the nodes must see it
DELAY = 2                     # the nodes' --login-delay
USERS = ["u%02d@example.net" % i for i in range(1, 13)]
TEMP = "-ERR [SYS/TEMP] Mailbox temporarily unavailable, try again later"

poplib._MAXLINE = 1 << 20


# ---- nginx ----------------------------------------------------------------------------------

def fleet_conf():
    """The first ```nginx block of docs/FLEET.md."""
    path = os.path.join(os.environ.get("POPBRIDGE_SRC", "."), "docs", "FLEET.md")
    with open(path) as f:
        text = f.read()
    m = re.search(r"```nginx\n(.*?)```", text, re.S)
    check(m is not None, "docs/FLEET.md has no nginx block")
    return m.group(1)


class Nginx:
    """nginx with docs/FLEET.md's configuration on loopback ports."""

    PORTS = (995, 110, 993, 143, 465, 587)

    def __init__(self, tmp, route_port, cert, key):
        self.prefix = os.path.join(tmp, "nginx")
        os.makedirs(self.prefix)
        self.port = {p: free_port() for p in self.PORTS}
        conf = fleet_conf()
        subs = [("127.0.0.1:9000", "127.0.0.1:%d" % route_port),
                ("/etc/ssl/mail.example.net.crt", cert),
                ("/etc/ssl/mail.example.net.key", key),
                ("LOGIN-DELAY 900 USER", "LOGIN-DELAY %d USER" % DELAY),
                ("worker_processes auto;", "worker_processes 1;")]
        for old, new in subs:
            check(old in conf, "docs/FLEET.md's nginx configuration lost %r" % old)
            conf = conf.replace(old, new)
        for p in self.PORTS:
            conf, n = re.subn(r"\blisten %d\b" % p, "listen 127.0.0.1:%d" % self.port[p], conf)
            check(n == 1, "docs/FLEET.md's nginx configuration: listen %d %d times" % (p, n))
        self.errlog = os.path.join(self.prefix, "error.log")
        conf = conf.replace("load_module %s;\n" % MAIL_MODULE,
                            "load_module %s;\ndaemon off;\npid %s/nginx.pid;\n"
                            "error_log %s info;\n" % (MAIL_MODULE, self.prefix, self.errlog))
        self.conf = os.path.join(self.prefix, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(conf)
        argv = ["nginx", "-p", self.prefix + "/", "-c", self.conf, "-e", self.errlog]
        r = run(argv + ["-t"])
        check(r.returncode == 0, "nginx -t: %s" % r.stderr)
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        atexit.register(self.stop)
        end = time.monotonic() + 20
        while time.monotonic() < end:
            try:
                socket.create_connection(("127.0.0.1", self.port[110]), timeout=1).close()
                return
            except OSError:
                check(self.proc.poll() is None, "nginx exited: %s" % self.log())
                time.sleep(0.05)
        fail("nginx did not listen: %s" % self.log())

    def log(self):
        try:
            with open(self.errlog) as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)   # graceful: workers end their sessions
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ---- clients ----------------------------------------------------------------------------------

class Pop3From(poplib.POP3_SSL):
    """POP3 over TLS to nginx, from CLIENT."""

    def __init__(self, port, ctx):
        super().__init__("127.0.0.1", port, context=ctx, timeout=60)

    def _create_socket(self, timeout):
        s = socket.create_connection((self.host, self.port), timeout,
                                     source_address=(CLIENT, 0))
        return self.context.wrap_socket(s, server_hostname=self.host)


class Fleet:
    def __init__(self, tmp, dc):
        self.tmp = tmp
        self.dc = dc
        self.cert, self.key = make_cert(tmp, "mail")
        self.ctx = ssl.create_default_context(cafile=self.cert)
        self.nodes = {}       # name -> Popbridge
        self.ports = {}       # name -> (pop3, imap, smtp)
        self.route_port = free_port()
        self.route = None
        self.nginx = None

    def state(self, name):
        return os.path.join(self.tmp, "%s.db" % name)

    def start_node(self, name):
        if name not in self.ports:
            self.ports[name] = (free_port(), free_port(), free_port())
        self.nodes[name] = Popbridge(self.dc, tmp=self.tmp, state=self.state(name),
                                     port=self.ports[name][0], args=[
                                         "--proxy-protocol", "--trusted-proxy", "127.0.0.1/32",
                                         "--login-delay", str(DELAY)])

    def start_route(self, names):
        if self.route:
            check(self.route.stop() == 0, "route: exit status")
        specs = ["%s=127.0.0.1:%d,imap=%d,smtp=%d" % ((n,) + self.ports[n]) for n in names]
        self.route = Route(specs, port=self.route_port, args=["--check-interval", "1"])

    def pop(self, user, password=PW):
        """A logged-in poplib session through nginx; or the -ERR text."""
        p = Pop3From(self.nginx.port[995], self.ctx)
        p.user(user)
        try:
            p.pass_(password)
        except poplib.error_proto as e:
            p.close()
            return e.args[0].decode()
        return p

    def uidls(self, user):
        p = self.pop(user)
        check(not isinstance(p, str), "%s: %s" % (user, p))
        got = [l.split()[1].decode() for l in p.uidl()[1]]
        p.quit()
        return got

    def node_of(self, account, device):
        """The nodes whose log has a session of account#device (logged in)."""
        return sorted(n for n, pb in self.nodes.items()
                      if any("account=%s device=%s " % (account, device) in l
                             for l in pb.session_lines()))

    def wait_session(self, account, device):
        for pb in self.nodes.values():
            if any("account=%s device=%s " % (account, device) in l for l in pb.session_lines()):
                return
        end = time.monotonic() + 10
        while time.monotonic() < end:
            time.sleep(0.05)
            if self.node_of(account, device):
                return
        fail("no node logged %s#%s" % (account, device))


def logins_land_on_their_node(fl, names, device):
    """Each account logs in as account#device; returns {account: uidls}."""
    out = {}
    for u in USERS:
        out[u] = fl.uidls("%s#%s" % (u, device))
    for u in USERS:
        fl.wait_session(u, device)
        want = route_owner(names, u)
        check(fl.node_of(u, device) == [want], "%s#%s landed on %s, not %s" %
              (u, device, fl.node_of(u, device), want))
    return out


def test_routing(fl):
    names = ["n1", "n2"]
    first = logins_land_on_their_node(fl, names, "pc")
    second = logins_land_on_their_node(fl, names, "tablet")
    check(first == second, "the same account shows other UIDLs on its second device")
    check(all(len(v) == 2 for v in first.values()), "two messages each: %r" % first)
    fl.pc_time = time.monotonic()
    # the nodes see the device's address, not nginx's
    for name, pb in fl.nodes.items():
        lines = [l for l in pb.session_lines() if "device=pc " in l]
        check(lines and all("remote=%s " % CLIENT in l for l in lines),
              "%s logs another address: %s" % (name, lines[:1]))
        r = run([popbridge_bin(), "report", "--format", "json", "--state", fl.state(name)])
        check(r.returncode == 0, r.stderr)
        devs = [d for a in json.loads(r.stdout)["accounts"] for d in a["devices"]]
        check(devs and all(d["last_address"] == CLIENT for d in devs), "report: %r" % devs[:1])
    counts = {n: sum(1 for u in USERS if route_owner(names, u) == n) for n in names}
    check(all(counts.values()), "both nodes hold accounts: %r" % counts)
    report("%d accounts through nginx (TLS) land on their rendezvous node every time (%s); "
           "the nodes log the device's address %s and report shows it" %
           (len(USERS), ", ".join("%s: %d" % kv for kv in sorted(counts.items())), CLIENT))
    return first


def test_mpop(fl):
    md = os.path.join(fl.tmp, "mpop-maildir")
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(md, sub))
    cfg = os.path.join(fl.tmp, "mpoprc")
    with open(cfg, "w") as f:
        f.write("defaults\nauth user\ntimeout 60\n\naccount fleet\nhost 127.0.0.1\nport %d\n"
                "user %s#mpop\npassword %s\ntls on\ntls_starttls off\ntls_trust_file %s\n"
                "keep on\nuidls_file %s\ndelivery maildir %s\nsource_ip %s\n" %
                (fl.nginx.port[995], USERS[0], PW, fl.cert, os.path.join(fl.tmp, "mpop-uidls"),
                 md, CLIENT))
    os.chmod(cfg, 0o600)
    r = run(["mpop", "-C", cfg, "fleet"])
    check(r.returncode == 0, "mpop through nginx: %s%s" % (r.stdout, r.stderr))
    got = os.listdir(os.path.join(md, "new")) + os.listdir(os.path.join(md, "cur"))
    check(len(got) == 2, "mpop delivered %d messages" % len(got))
    fl.wait_session(USERS[0], "mpop")
    check(fl.node_of(USERS[0], "mpop") == [route_owner(["n1", "n2"], USERS[0])], "mpop's node")
    report("mpop over TLS through nginx: both messages, on the account's node")


def test_login_delay(fl):
    p = Pop3From(fl.nginx.port[995], fl.ctx)
    check(p.capa().get("LOGIN-DELAY") == [str(DELAY), "USER"], "nginx's CAPA: %r" % p.capa())
    p.quit()
    u = USERS[1]
    fl.pop(u + "#phone").quit()
    got = fl.pop(u + "#phone")
    check(got == "-ERR [LOGIN-DELAY] This device may log in once every %d seconds." % DELAY,
          "an early poll through nginx: %r" % got)
    neighbour = fl.pop(u + "#laptop")
    check(not isinstance(neighbour, str), "the neighbour: %r" % neighbour)
    neighbour.quit()
    report("LOGIN-DELAY through nginx: CAPA 'LOGIN-DELAY %d USER'; %s#phone's early poll gets "
           "the node's -ERR [LOGIN-DELAY] verbatim, %s#laptop logs in" % (DELAY, u, u))


def test_node_down(fl, uidls):
    names = ["n1", "n2"]
    fl.nodes["n1"].stop()
    line = fl.route.wait_log("event=node node=n1 ", count=2, timeout=15)
    check("state=down" in line, line)
    # the devices' own LOGIN-DELAY since their last poll (test_routing)
    time.sleep(max(0.2, fl.pc_time + DELAY + 0.2 - time.monotonic()))
    t0 = time.monotonic()
    down = [u for u in USERS if route_owner(names, u) == "n1"]
    with concurrent.futures.ThreadPoolExecutor(len(down)) as ex:
        # nginx answers after route's Auth-Wait (1 s): all at once
        for u, got in zip(down, ex.map(lambda u: fl.pop(u + "#pc"), down)):
            check(got == TEMP, "%s while n1 is down: %r" % (u, got))
    for u in USERS:
        if u not in down:
            check(fl.uidls(u + "#pc") == uidls[u], "%s (n2) changed while n1 was down" % u)
    n1_user = next(u for u in USERS if route_owner(names, u) == "n1")
    m = imaplib.IMAP4_SSL("127.0.0.1", fl.nginx.port[993], ssl_context=fl.ctx)
    try:
        m.login(n1_user, PW)
        fail("IMAP login of a down node's account went through")
    except imaplib.IMAP4.error as e:
        check(str(e) == "b'[UNAVAILABLE] Mailbox temporarily unavailable, try again later'",
              "IMAP: %s" % e)
    s = smtplib.SMTP_SSL("127.0.0.1", fl.nginx.port[465], context=fl.ctx, timeout=60)
    try:
        s.ehlo()
        s.login(n1_user, PW)
        fail("SMTP AUTH of a down node's account went through")
    except smtplib.SMTPAuthenticationError as e:
        check(e.smtp_code == 451 and e.smtp_error == b"4.3.0 Mailbox temporarily unavailable, "
              b"try again later", "SMTP: %r" % (e.args,))
    finally:
        s.close()
    report("n1 stopped: its accounts get '%s' through nginx (IMAP [UNAVAILABLE], SMTP 451 4.3.0) "
           "in %.1f s for all; n2's accounts unchanged" % (TEMP, time.monotonic() - t0))

    fl.start_node("n1")
    check("state=up" in fl.route.wait_log("event=node node=n1 ", count=3, timeout=15), "n1 up")
    time.sleep(max(0, fl.pc_time + DELAY + 0.2 - time.monotonic()))
    for u in USERS:
        if route_owner(names, u) == "n1":
            check(fl.uidls(u + "#pc") == uidls[u], "%s: other UIDLs after the restart" % u)
    report("n1 restarted: its accounts log in through nginx with the same UIDLs")


def test_add_node(fl):
    old, new = ["n1", "n2"], ["n1", "n2", "n3"]
    fl.start_node("n3")
    nodes = sum((["--node", "%s=127.0.0.1:%d" % (n, fl.ports[n][0])] for n in new), [])
    r = run([popbridge_bin(), "route", "--plan"] + nodes + ["--state", "n1=" + fl.state("n1"),
            "--state", "n2=" + fl.state("n2")])
    check(r.returncode == 0, "plan: %s" % r.stderr)
    planned = sorted(r.stdout.splitlines())
    want = sorted("%s %s n3" % (u, route_owner(old, u)) for u in USERS
                  if route_owner(new, u) == "n3")
    check(planned == want, "plan:\n%s\nwanted:\n%s" % ("\n".join(planned), "\n".join(want)))
    check(planned, "n3 wins no account of %d: pick other names" % len(USERS))
    fl.start_route(new)
    logins_land_on_their_node(fl, new, "after")
    moved = sorted(u for u in USERS if fl.node_of(u, "after") == ["n3"])
    check(moved == sorted(l.split()[0] for l in planned), "moved %r" % moved)
    for u in USERS:
        if u not in moved:
            check(fl.node_of(u, "after") == [route_owner(old, u)], "%s moved" % u)
    report("a third node: route --plan listed %d of %d accounts, exactly those that now land "
           "on it; no other account moved" % (len(planned), len(USERS)))


def main():
    if not os.path.exists(MAIL_MODULE) or not shutil.which("nginx"):
        fail("nginx's mail module is not installed (make deps installs nginx-light and "
             "libnginx-mod-mail)")
    t0 = time.monotonic()
    with TempDir() as tmp, Dovecot(users={u: PW for u in USERS},
                                   fill=["%s:INBOX:plain:2" % u for u in USERS]) as dc:
        fl = Fleet(tmp, dc)
        try:
            fl.start_node("n1")
            fl.start_node("n2")
            fl.start_route(["n1", "n2"])
            fl.nginx = Nginx(tmp, fl.route_port, fl.cert, fl.key)
            uidls = test_routing(fl)
            test_mpop(fl)
            test_login_delay(fl)
            test_node_down(fl, uidls)
            test_add_node(fl)
            fl.nginx.stop()
            check(fl.route.stop() == 0, "route: exit status")
            for pb in fl.nodes.values():
                pb.stop()
        finally:
            if fl.nginx:
                fl.nginx.stop()
            for pb in list(fl.nodes.values()) + ([fl.route] if fl.route else []):
                pb.__exit__(None, None, None)
    print("test_fleet: %.1f s" % (time.monotonic() - t0))


if __name__ == "__main__":
    main()
