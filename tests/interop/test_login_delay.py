#!/usr/bin/env python3
"""`serve --login-delay SECONDS` (SPEC §14, RFC 2449 LOGIN-DELAY), exact POP3
transcripts over a raw socket, `popbridge serve` in front of the sandbox
Dovecot:

- CAPA before login announces the configured value followed by USER (it may
  differ per device); after login, the device's own value;
- a device that logs in again sooner than its delay after its last
  successful login gets -ERR [LOGIN-DELAY] (after a good password only: a
  wrong one is an ordinary [AUTH] failure), and its neighbour (another device
  of the same account) is not held back; the refusal is not a failed login
  and does not move the device's last login, so it gets in once the delay
  since its last good login has passed; the session line says why;
- managed mode: `device add/set --login-delay N` gives one device its own
  value (0: no delay), `device list` shows it, `--login-delay default`
  removes it; a <mailbox login-delay> in the configuration file is the
  global value.

nginx in front (the same refusal passed through): tests/interop/test_fleet.py.
"""
import os
import socket
import subprocess
import time

from pbinterop import (PW, Dovecot, Popbridge, TempDir, check, popbridge_bin, report)

ACC = "office@example.org"


def version():
    return subprocess.run([popbridge_bin(), "version"], stdout=subprocess.PIPE, text=True,
                          check=True).stdout.split()[1]


class Pop:
    """A raw POP3 connection: every line as sent, CRLF included."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.f = self.s.makefile("rb")
        self.lines = [self.f.readline()]

    def cmd(self, line, multi=False):
        self.s.sendall(line.encode() + b"\r\n")
        out = [self.f.readline()]
        if multi and out[0].startswith(b"+OK"):
            while out[-1] != b".\r\n":
                out.append(self.f.readline())
        return b"".join(out).decode()

    def close(self):
        self.s.close()


def capa(before_login, delay_line):
    lines = ["+OK Capability list follows", "TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE",
             "PIPELINING", "EXPIRE NEVER"]
    if delay_line:
        lines.append(delay_line)
    if before_login:
        lines += ["USER", "SASL PLAIN LOGIN"]
    lines += ["IMPLEMENTATION popbridge " + version(), "."]
    return "".join(l + "\r\n" for l in lines)


def session(port, user, password, want_login, capa_after=None):
    """USER/PASS, then (logged in) CAPA and QUIT; checks every answer."""
    p = Pop(port)
    check(p.cmd("USER " + user) == "+OK Send the password.\r\n", "USER")
    got = p.cmd("PASS " + password)
    check(got == want_login, "%s: PASS answered %r, wanted %r" % (user, got, want_login))
    if got.startswith("+OK") and capa_after is not None:
        got = p.cmd("CAPA", multi=True)
        check(got == capa_after, "%s: CAPA after login:\n%s\nwanted:\n%s" % (user, got,
                                                                            capa_after))
    bye = p.cmd("QUIT")
    check(bye.startswith("+OK"), "QUIT: %r" % bye)
    p.close()


LOGGED = "+OK Logged in.\r\n"


def refusal(n):
    return "-ERR [LOGIN-DELAY] This device may log in once every %d seconds.\r\n" % n


def test_passthrough(dc):
    delay = 3
    with Popbridge(dc, args=["--login-delay", str(delay)]) as pb:
        p = Pop(pb.port)
        got = p.cmd("CAPA", multi=True)
        check(got == capa(True, "LOGIN-DELAY %d USER" % delay), "CAPA before login:\n" + got)
        p.cmd("QUIT")
        p.close()
        t0 = time.monotonic()
        session(pb.port, "alice#a", PW, LOGGED, capa(False, "LOGIN-DELAY %d" % delay))
        # at once again: refused, after the good password only
        session(pb.port, "alice#a", PW, refusal(delay))
        # the neighbour is not held back
        session(pb.port, "alice#b", PW, LOGGED)
        # a poll between does not move the last login: in once the delay has passed
        time.sleep(max(0, t0 + 1.2 - time.monotonic()))
        session(pb.port, "alice#a", PW, refusal(delay))
        time.sleep(max(0, t0 + delay + 1.1 - time.monotonic()))
        session(pb.port, "alice#a", PW, LOGGED)
        # within the delay again, a wrong password is just a failed login
        session(pb.port, "alice#a", "wrong", "-ERR [AUTH] Invalid user name or password.\r\n")
        line = pb.wait_log("reason=\"[LOGIN-DELAY]")
        check("device=a" in line and "auth_failures=0" in line, "refusal's line: " + line)
        pb.stop()
    report("--login-delay %d: CAPA 'LOGIN-DELAY %d USER' before login and the device's value "
           "after; an early poll gets -ERR [LOGIN-DELAY] (after a good password only), its "
           "neighbour does not; the refusal is no failed login and does not move the last "
           "login" % (delay, delay))


def cli(state, *args, stdin_text=""):
    r = subprocess.run([popbridge_bin()] + list(args) + ["--state", state], input=stdin_text,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    check(r.returncode == 0, "popbridge %s: %s" % (" ".join(args), r.stderr))
    return r.stdout


def upstream_logins(dc):
    """Dovecot's IMAP logins so far (its log, info level)."""
    time.sleep(0.3)   # let Dovecot write what it has
    with open(os.path.join(dc.dir, "log", "dovecot.log"), errors="replace") as f:
        return sum(1 for l in f if "imap-login: Info: Login: user=<alice>" in l)


def settings_of(state, device):
    for line in cli(state, "device", "list").splitlines():
        if (" %s " % device) in line:
            return line[line.index("folder="):]
    raise AssertionError("device %s not listed" % device)


def test_managed(dc, tmp):
    state = os.path.join(tmp, "managed.db")
    cli(state, "account", "add", ACC, "--upstream-user", "alice", stdin_text=PW + "\n")
    free = cli(state, "device", "add", ACC, "monitor", "--login-delay", "0").split("\n")[-2]
    slow = cli(state, "device", "add", ACC, "phone").split("\n")[-2]
    conf = os.path.join(tmp, "delay.xml")
    with open(conf, "w") as f:
        f.write('<popbridge><mailbox login-delay="60"/></popbridge>\n')
    check(settings_of(state, "monitor").endswith("login-delay=0*"), settings_of(state, "monitor"))
    check(settings_of(state, "phone").endswith("login-delay=0"), settings_of(state, "phone"))
    with Popbridge(dc, args=["--auth", "managed", "--config", conf], state=state) as pb:
        # monitor: its own 0, any time; no tag after login
        session(pb.port, ACC, free, LOGGED, capa(False, None))
        session(pb.port, ACC, free, LOGGED)
        # phone: the file's 60
        session(pb.port, ACC, slow, LOGGED, capa(False, "LOGIN-DELAY 60"))
        before = upstream_logins(dc)
        check(before > 0, "no IMAP login in Dovecot's log")
        session(pb.port, ACC, slow, refusal(60))
        # managed: the device is known from its password, no upstream login
        check(upstream_logins(dc) == before, "an early poll logged in upstream")
        # its own value, set while serving, applies from its next login
        out = cli(state, "device", "set", ACC, "phone", "--login-delay", "1")
        check(out.rstrip().endswith("login-delay=1*"), out)
        time.sleep(1.1)
        session(pb.port, ACC, slow, LOGGED, capa(False, "LOGIN-DELAY 1"))
        out = cli(state, "device", "set", ACC, "phone", "--login-delay", "default")
        check(out.rstrip().endswith("login-delay=0"), out)   # the file is not read by device
        session(pb.port, ACC, slow, refusal(60))
        pb.stop()
    report("managed: device add/set --login-delay N (0: none, default: the global one) for "
           "one device; <mailbox login-delay> as the global value; device list shows it")


def main():
    with TempDir() as tmp, Dovecot(users={"alice": PW},
                                   fill=["alice:INBOX:plain:2"]) as dc:
        t0 = time.monotonic()
        test_passthrough(dc)
        test_managed(dc, tmp)
        print("test_login_delay: %.1f s" % (time.monotonic() - t0))


if __name__ == "__main__":
    main()
