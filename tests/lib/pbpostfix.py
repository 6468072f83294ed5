"""tests/lib/pbpostfix.py — a private Postfix as the upstream submission
server for tests (SPEC §11; standard library only).

    import sys, os
    sys.path.insert(0, os.path.join(os.environ["POPBRIDGE_SRC"], "tests", "lib"))
    from pbtest import Dovecot
    from pbpostfix import Postfix

    with Dovecot(users={"alice": "secret"}) as dc, Postfix(dc) as pf:
        pf.port          # submission, STARTTLS offered, AUTH also in plaintext
        pf.smtps_port    # submission over implicit TLS
        pf.ca_file       # the certificate it presents (Dovecot's, IP 127.0.0.1)
        pf.messages()    # what it delivered: [bytes], oldest first

Postfix 3.7 (Debian's `postfix`, installed with "No configuration": no system
instance) runs from its own directory D (mode 0755): D/etc (main.cf,
master.cf, the access and header tables), D/spool (queue_directory),
D/data, D/mail (every recipient is delivered by virtual(8) into one
Maildir, D/mail/all, as uid nobody), D/maillog (postlogd). It listens on
127.0.0.1 only, on free high ports; no DNS. AUTH PLAIN and LOGIN are checked
by the Dovecot instance given, through its SASL socket D_dovecot/run/
auth-smtp (tests/lib/dovecot.c), so the accounts are Dovecot's.

Scripted refusals, as a real server gives them: a recipient whose local part
is `bad` gets `550 5.1.1`, `later` gets `450 4.2.1` (at RCPT); a message
with `REJECT-ME` in its Subject gets `550 5.7.1` after its data; SIZE is
size_limit (default 20,000,000).

A watchdog process owns the clean-up: when this process ends in any way
(or stop()), it stops Postfix (`postfix -c D/etc stop`, then SIGKILL to
what is left of the instance) and removes D. Needs root (Postfix's master
and its queue).
"""

import os
import socket
import subprocess
import sys
import tempfile
import time

__all__ = ["Postfix", "PostfixError", "free_port"]

START_TIMEOUT = 30


class PostfixError(Exception):
    pass


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
  -o smtpd_tls_security_level=may
127.0.0.1:{smtps_port} inet n - n - - smtpd
  -o smtpd_tls_wrappermode=yes
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {d}/spool
data_directory = {d}/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = smtp.test
mydomain = test
mydestination =
relayhost =
disable_dns_lookups = yes
smtp_dns_support_level = disabled
default_transport = virtual
local_transport = virtual
virtual_mailbox_domains =
virtual_mailbox_base = {d}/mail
virtual_mailbox_maps = static:all/
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
virtual_minimum_uid = 1
maillog_file = {d}/maillog
maillog_file_prefixes = {d}
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = {sasl}
smtpd_tls_auth_only = no
smtpd_tls_cert_file = {cert}
smtpd_tls_key_file = {key}
smtpd_relay_restrictions = permit_sasl_authenticated, reject
smtpd_recipient_restrictions = check_recipient_access regexp:{d}/etc/rcpt_access,
    permit_sasl_authenticated, reject
header_checks = regexp:{d}/etc/header_checks
smtputf8_enable = yes
message_size_limit = {size}
mailbox_size_limit = 0
virtual_mailbox_limit = 0
biff = no
append_dot_mydomain = no
smtpd_client_restrictions =
smtpd_helo_required = no
local_header_rewrite_clients =
always_add_missing_headers = no
"""

RCPT_ACCESS = """\
/^bad@/ 550 5.1.1 User unknown
/^later@/ 450 4.2.1 Try again later
"""

HEADER_CHECKS = """\
/^Subject:.*REJECT-ME/ REJECT Message content rejected
"""

# The watchdog: waits for its stdin to close (stop(), or this process gone in
# any way), then stops the instance and removes its directory.
WATCHDOG = r"""
import os, shutil, signal, subprocess, sys, time
d = sys.argv[1]
sys.stdin.read()
subprocess.run(["postfix", "-c", d + "/etc", "stop"], stdin=subprocess.DEVNULL,
               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
pidfile = d + "/spool/pid/master.pid"
try:
    pid = int(open(pidfile).read().split()[0])
except (OSError, ValueError, IndexError):
    pid = 0
end = time.time() + 10
while pid and time.time() < end:
    try:
        os.kill(pid, 0)
    except OSError:
        break
    time.sleep(0.05)
if pid:
    try:
        os.killpg(pid, signal.SIGKILL)   # the master leads its own session
    except OSError:
        pass
shutil.rmtree(d, ignore_errors=True)
"""


class Postfix:
    def __init__(self, dovecot, size_limit=20000000):
        if os.geteuid() != 0:
            raise PostfixError("a private Postfix needs root")
        self.dir = tempfile.mkdtemp(prefix="pbt-postfix.")
        d = self.dir
        os.chmod(d, 0o755)
        self._watchdog = subprocess.Popen(
            [sys.executable, "-c", WATCHDOG, d], stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL, start_new_session=True)
        try:
            self._start(dovecot, size_limit)
        except BaseException:
            self.stop()
            raise

    def _start(self, dovecot, size_limit):
        import pwd
        d = self.dir
        for sub in ("etc", "spool", "data", "mail"):
            os.mkdir(os.path.join(d, sub), 0o755)
        nobody = pwd.getpwnam("nobody")
        postfix = pwd.getpwnam("postfix")
        os.chown(os.path.join(d, "data"), postfix.pw_uid, postfix.pw_gid)
        os.chown(os.path.join(d, "mail"), nobody.pw_uid, nobody.pw_gid)
        self.port = free_port()
        self.smtps_port = free_port()
        while self.smtps_port == self.port:
            self.smtps_port = free_port()
        self.ca_file = dovecot.ca_file
        cfg = {
            "d": d, "uid": nobody.pw_uid, "gid": nobody.pw_gid,
            "sasl": os.path.join(dovecot.dir, "run", "auth-smtp"),
            "cert": dovecot.ca_file,
            "key": os.path.join(dovecot.dir, "server.key"),
            "size": size_limit,
        }
        files = {
            "main.cf": MAIN_CF.format(**cfg),
            "master.cf": MASTER_CF.format(port=self.port, smtps_port=self.smtps_port),
            "rcpt_access": RCPT_ACCESS,
            "header_checks": HEADER_CHECKS,
        }
        for name, text in files.items():
            with open(os.path.join(d, "etc", name), "w") as f:
                f.write(text)
        r = subprocess.run(["postfix", "-c", os.path.join(d, "etc"), "start"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            raise PostfixError("postfix start failed: %s%s" % (r.stdout, self.log()))
        end = time.time() + START_TIMEOUT
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.time() > end:
                    raise PostfixError("postfix does not answer: %s" % self.log())
                time.sleep(0.05)

    def log(self):
        try:
            with open(os.path.join(self.dir, "maillog"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def maildir(self):
        return os.path.join(self.dir, "mail", "all")

    def messages(self, wait=0, count=None):
        """The delivered messages, oldest first. With wait > 0, wait up to
        that many seconds until there are `count` of them (delivery runs
        after the 250)."""
        end = time.time() + wait
        while True:
            found = []
            for sub in ("new", "cur"):
                p = os.path.join(self.maildir(), sub)
                if os.path.isdir(p):
                    for n in os.listdir(p):
                        path = os.path.join(p, n)
                        found.append((os.stat(path).st_mtime_ns, n, path))
            if count is None or len(found) >= count or time.time() >= end:
                break
            time.sleep(0.05)
        out = []
        for _, _, path in sorted(found):
            with open(path, "rb") as f:
                out.append(f.read())
        return out

    def stop(self):
        if self._watchdog is None:
            return
        try:
            self._watchdog.stdin.close()
        except OSError:
            pass
        self._watchdog.wait(timeout=60)
        self._watchdog = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


def original(delivered):
    """The message as submitted, from what Postfix delivered: without the
    Return-Path, Delivered-To and Received fields it puts in front, with
    CRLF line ends again (virtual(8) writes LF)."""
    lines = delivered.split(b"\n")
    i = 0
    while i < len(lines):
        l = lines[i]
        if l.startswith((b"Return-Path:", b"Delivered-To:", b"X-Original-To:")):
            i += 1
        elif l.startswith(b"Received:"):
            i += 1
            while i < len(lines) and lines[i][:1] in (b" ", b"\t"):
                i += 1
        else:
            break
    return b"\r\n".join(lines[i:])
