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
- a third node added as docs/FLEET.md says (plan, export, import, switch):
  `route --plan` lists exactly the accounts that then land on it; each is
  exported from its old node (with a passphrase) and imported on the new one;
  between the export and the switch the old node answers `-ERR [SYS/TEMP]
  account moved` through nginx; after the switch those accounts log in on the
  new node with the same UIDLs, mpop downloads nothing again, `report` on the
  new node has the devices' counts of the old, `route --plan` has nothing
  left to move, and no other account moves.
- each node's metrics (`serve --metrics-listen`, SPEC §14) count the sessions
  run on it: the POP3 logins that landed there, the LOGIN-DELAY refusal on
  the node that refused it, route's health checks as health_check
  connections, nothing open once the clients are gone.
"""
import atexit
import concurrent.futures
import http.client
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
MOVED = "-ERR [SYS/TEMP] account moved"
# mpop's account: one the third node takes, so that mpop's second run proves
# the move re-downloads nothing
MPOP_USER = next(u for u in USERS if route_owner(["n1", "n2", "n3"], u) == "n3")

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
        self.mports = {}      # name -> --metrics-listen port
        self.route_port = free_port()
        self.route = None
        self.nginx = None

    def state(self, name):
        return os.path.join(self.tmp, "%s.db" % name)

    def start_node(self, name):
        if name not in self.ports:
            self.ports[name] = (free_port(), free_port(), free_port())
            self.mports[name] = free_port()
        self.nodes[name] = Popbridge(self.dc, tmp=self.tmp, state=self.state(name),
                                     port=self.ports[name][0], args=[
                                         "--proxy-protocol", "--trusted-proxy", "127.0.0.1/32",
                                         "--login-delay", str(DELAY),
                                         "--metrics-listen", "127.0.0.1:%d" % self.mports[name]])

    def metrics(self, name):
        """{'name{labels}': value} of a node's GET /metrics."""
        c = http.client.HTTPConnection("127.0.0.1", self.mports[name], timeout=30)
        try:
            c.request("GET", "/metrics")
            r = c.getresponse()
            check(r.status == 200, "%s /metrics: %d" % (name, r.status))
            body = r.read().decode()
        finally:
            c.close()
        return {l.rsplit(" ", 1)[0]: float(l.rsplit(" ", 1)[1])
                for l in body.splitlines() if l and not l.startswith("#")}

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


def mpop_run(fl):
    """mpop through nginx (keep on, its UIDL file): the messages in its maildir."""
    r = run(["mpop", "-C", fl.mpop_cfg, "fleet"])
    check(r.returncode == 0, "mpop through nginx: %s%s" % (r.stdout, r.stderr))
    md = fl.mpop_md
    return os.listdir(os.path.join(md, "new")) + os.listdir(os.path.join(md, "cur"))


def test_mpop(fl):
    md = fl.mpop_md = os.path.join(fl.tmp, "mpop-maildir")
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(md, sub))
    cfg = fl.mpop_cfg = os.path.join(fl.tmp, "mpoprc")
    with open(cfg, "w") as f:
        f.write("defaults\nauth user\ntimeout 60\n\naccount fleet\nhost 127.0.0.1\nport %d\n"
                "user %s#mpop\npassword %s\ntls on\ntls_starttls off\ntls_trust_file %s\n"
                "keep on\nuidls_file %s\ndelivery maildir %s\nsource_ip %s\n" %
                (fl.nginx.port[995], MPOP_USER, PW, fl.cert, os.path.join(fl.tmp, "mpop-uidls"),
                 md, CLIENT))
    os.chmod(cfg, 0o600)
    got = mpop_run(fl)
    check(len(got) == 2, "mpop delivered %d messages" % len(got))
    fl.wait_session(MPOP_USER, "mpop")
    check(fl.node_of(MPOP_USER, "mpop") == [route_owner(["n1", "n2"], MPOP_USER)],
          "mpop's node")
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


def test_metrics(fl):
    """Run so far (nodes n1 and n2, both since their start): test_routing's
    #pc and #tablet of every account, test_mpop's one session, and
    test_login_delay's #phone and #laptop (the early poll never logged in)."""
    names = ["n1", "n2"]
    want = {n: 0 for n in names}
    for u in USERS:
        want[route_owner(names, u)] += 2
    want[route_owner(names, USERS[0])] += 1
    want[route_owner(names, USERS[1])] += 2
    ok = 'popbridge_sessions_total{protocol="pop3",result="ok"}'
    for n in names:
        end = time.monotonic() + 10
        while True:     # a node counts a session when it ends, after nginx relayed QUIT
            m = fl.metrics(n)
            done = m[ok] == want[n] and m['popbridge_sessions_open{protocol="pop3"}'] == 0
            if done or time.monotonic() > end:
                break
            time.sleep(0.1)
        total = sum(v for k, v in m.items() if k.startswith("popbridge_sessions_total{"))
        check(total == want[n] and m[ok] == want[n], "%s: sessions_total %s (ok %s), the "
              "test ran %d there" % (n, total, m[ok], want[n]))
        check(m['popbridge_sessions_open{protocol="pop3"}'] == 0, "%s: sessions open" % n)
        refusals = 1 if n == route_owner(names, USERS[1]) else 0
        check(m["popbridge_login_delay_refusals_total"] == refusals,
              "%s: login_delay_refusals %s" % (n, m["popbridge_login_delay_refusals_total"]))
        check(m['popbridge_connections_total{result="health_check"}'] >= 1,
              "%s: route's checks are not counted as health_check" % n)
        check(m['popbridge_logins_failed_total{protocol="pop3"}'] == 0, "%s: failed logins" % n)
        # only mpop RETRs (both messages); the other sessions list UIDLs
        retr = 2 if n == route_owner(names, USERS[0]) else 0
        check(m["popbridge_messages_retrieved_total"] == retr,
              "%s: retrieved %s, not %d" % (n, m["popbridge_messages_retrieved_total"], retr))
    report("each node's /metrics counts the sessions run on it (%s), the LOGIN-DELAY refusal "
           "on its node, route's checks as health_check" %
           ", ".join("%s: %d" % kv for kv in sorted(want.items())))


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


def devices_of(fl, node, account):
    """({device: (retrieved, deleted, waiting)}, moved) of an account in a node's report."""
    r = run([popbridge_bin(), "report", "--format", "json", "--state", fl.state(node)])
    check(r.returncode == 0, r.stderr)
    for a in json.loads(r.stdout)["accounts"]:
        if a["account"] == account:
            return {d["device"]: (d["retrieved"], d["deleted"], d["waiting"])
                    for d in a["devices"]}, a["moved"]
    fail("%s has no account %s" % (node, account))


def plan(fl, names, states):
    nodes = sum((["--node", "%s=127.0.0.1:%d" % (n, fl.ports[n][0])] for n in names), [])
    r = run([popbridge_bin(), "route", "--plan"] + nodes +
            sum((["--state", "%s=%s" % (n, fl.state(n))] for n in states), []))
    check(r.returncode == 0, "plan: %s" % r.stderr)
    return sorted(r.stdout.splitlines()), r.stderr


def test_add_node(fl, uidls):
    """docs/FLEET.md, "Adding a node": plan, export, import, switch."""
    old, new = ["n1", "n2"], ["n1", "n2", "n3"]
    # 1. the new node, serving nothing yet; the plan
    fl.start_node("n3")
    planned, _ = plan(fl, new, old)
    want = sorted("%s %s n3" % (u, route_owner(old, u)) for u in USERS
                  if route_owner(new, u) == "n3")
    check(planned == want, "plan:\n%s\nwanted:\n%s" % ("\n".join(planned), "\n".join(want)))
    check(planned, "n3 wins no account of %d: pick other names" % len(USERS))
    check(MPOP_USER in [l.split()[0] for l in planned], "mpop's account moves")
    # state that only the move can carry: each moving account's pc deletes its
    # first message (hidden for pc alone: dele hide); a fresh node would offer it again
    # (pc last logged in at the end of test_node_down: its LOGIN-DELAY first)
    time.sleep(DELAY + 0.2)
    for line in planned:
        u = line.split()[0]
        p = fl.pop(u + "#pc")
        check(not isinstance(p, str), "%s#pc: %r" % (u, p))
        p.dele(1)
        p.quit()
        uidls[u] = uidls[u][1:]
    fl.pc_time = time.monotonic()
    before = {u: devices_of(fl, route_owner(old, u), u)[0] for u in USERS}
    # a session that runs while its account is exported commits nothing
    busy = planned[0].split()[0]
    running = fl.pop(busy + "#tablet")
    check(not isinstance(running, str), "%s#tablet: %r" % (busy, running))
    running.dele(2)
    # 2. export from the old node (it keeps serving the others), 3. import on n3
    passfile = os.path.join(fl.tmp, "move.pass")
    with open(passfile, "w") as f:
        f.write("a passphrase for the fleet test\n")
    t0 = time.monotonic()
    for line in planned:
        account, frm, to = line.split()
        out = os.path.join(fl.tmp, "%s.account" % account)
        r = run([popbridge_bin(), "account", "export", account, "--out", out,
                 "--passphrase-file", passfile, "--state", fl.state(frm)])
        check(r.returncode == 0, "export %s: %s" % (account, r.stderr))
        check(os.stat(out).st_mode & 0o777 == 0o600, "%s: mode" % out)
        r = run([popbridge_bin(), "account", "import", out, "--passphrase-file", passfile,
                 "--state", fl.state(to)])
        check(r.returncode == 0, "import %s: %s" % (account, r.stderr))
    took = time.monotonic() - t0
    try:
        running.quit()
        fail("the QUIT of a session of an exported account committed")
    except poplib.error_proto as e:
        check(e.args[0] == b"-ERR [SYS/TEMP] account moved; nothing deleted.", "QUIT: %r" % e)
    # between the export and the switch the old node refuses them, through nginx
    time.sleep(max(0, fl.pc_time + DELAY + 0.2 - time.monotonic()))
    for line in planned:
        got = fl.pop(line.split()[0] + "#pc")
        check(got == MOVED, "%s before the switch: %r" % (line, got))
    # 4. switch
    fl.start_route(new)
    time.sleep(max(0, fl.pc_time + DELAY + 0.2 - time.monotonic()))
    logins_land_on_their_node(fl, new, "after")
    moved = sorted(u for u in USERS if fl.node_of(u, "after") == ["n3"])
    check(moved == sorted(l.split()[0] for l in planned), "moved %r" % moved)
    for u in USERS:
        if u not in moved:
            check(fl.node_of(u, "after") == [route_owner(old, u)], "%s moved" % u)
    # the moved devices: their state came along
    for u in moved:
        devs, mark = devices_of(fl, "n3", u)
        check(mark is None, "%s is marked moved on n3" % u)
        for d, counts in before[u].items():
            check(devs.get(d) == counts, "%s#%s on n3: %r, on %s: %r" %
                  (u, d, devs.get(d), route_owner(old, u), counts))
        _, mark = devices_of(fl, route_owner(old, u), u)
        check(mark is not None, "%s is not marked moved on its old node" % u)
        check(fl.uidls(u + "#pc") == uidls[u], "%s#pc: other UIDLs on n3" % u)
    check(len(fl.uidls(busy + "#tablet")) == 2, "the running session's DELE was committed")
    got = mpop_run(fl)
    check(len(got) == 2, "mpop after the move: %d messages in its maildir" % len(got))
    fl.wait_session(MPOP_USER, "mpop")
    lines = [l for l in fl.nodes["n3"].session_lines()
             if "account=%s device=mpop " % MPOP_USER in l]
    check(lines and " retr=0 " in lines[-1], "mpop on n3: %s" % lines[-1:])
    # nothing left to move; the old nodes' frozen rows are not counted
    left, summary = plan(fl, new, new)
    check(left == [], "after the move, the plan still moves %r" % left)
    check("%d exported to another node already" % len(planned) in summary, summary)
    report("a third node (docs/FLEET.md: plan, export, import, switch): route --plan listed "
           "%d of %d accounts; exported with a passphrase and imported in %.1f s; meanwhile "
           "their old node answered '%s' through nginx, and a session running during the "
           "export got its QUIT refused with nothing deleted; after the switch exactly those "
           "land on n3 with the same UIDLs (pc's deleted message stays hidden) and per-device "
           "counts, mpop downloads nothing again, and no other account moved" %
           (len(planned), len(USERS), took, MOVED))


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
            test_metrics(fl)
            test_node_down(fl, uidls)
            test_add_node(fl, uidls)
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
