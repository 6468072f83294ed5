"""tests/lib/pbtest.py — the test harness for Python tests (standard library only).

Wraps the `pbtest` command (built as $(B)/tests/harness/pbtest; the Makefile
passes its path in $PBTEST):

    import sys, os
    sys.path.insert(0, os.path.join(os.environ["POPBRIDGE_SRC"], "tests", "lib"))
    from pbtest import Dovecot, generate

    with Dovecot(users={"alice": "secret"}, fill=["alice:INBOX:awkward:20"]) as dc:
        dc.imap_port, dc.imaps_port, dc.pop3_port, dc.pop3s_port, dc.ca_file, dc.dir
        dc.add("alice", "INBOX", "large", 7, size=20_000_000, flags="S")
        dc.renumber("alice", "INBOX")

Every method sends one control command and waits for its answer; a failure
raises PbtestError (Dovecot's and the harness's details go to stderr).
Leaving the `with` block (or stop()) stops the instance and removes its
directory; if this process dies, pbtest's stdin closes and it cleans up too.
"""

import os
import shlex
import subprocess

__all__ = ["Dovecot", "PbtestError", "generate", "pbtest_path"]

START_TIMEOUT = 60


class PbtestError(Exception):
    pass


def pbtest_path(path=None):
    path = path or os.environ.get("PBTEST")
    if not path:
        raise PbtestError("set PBTEST to the pbtest binary (make builds it)")
    return path


def generate(kind, seed, size=None, pbtest=None):
    """The bytes of a generated message (kinds as in msggen.h: plain,
    multipart, 8bit, dots, long-lines, bare-lf, no-final-eol, large)."""
    args = [pbtest_path(pbtest), "gen", kind, str(seed)]
    if size is not None:
        args.append(str(size))
    return subprocess.run(args, check=True, stdout=subprocess.PIPE,
                          stdin=subprocess.DEVNULL).stdout


class Dovecot:
    """A private Dovecot instance (see tests/lib/dovecot.h)."""

    def __init__(self, users=None, fill=(), pbtest=None, process_limit=None,
                 client_limit=None, oauth2=None, oauth2_mechanisms=None, config_lines=()):
        """process_limit, client_limit: see `pbtest dovecot` (load tests only);
        oauth2: an introspection URL (OAuth2 logins, SASL mechanisms
        oauth2_mechanisms, default "xoauth2 oauthbearer"); config_lines:
        lines added to Dovecot's configuration (`--config-line`, e.g.
        "imap_capability = +X-GM-EXT-1")."""
        args = [pbtest_path(pbtest), "dovecot"]
        for line in config_lines:
            args += ["--config-line", line]
        if oauth2:
            args += ["--oauth2", oauth2]
        if oauth2_mechanisms:
            args += ["--oauth2-mechanisms", oauth2_mechanisms]
        if process_limit:
            args += ["--process-limit", str(process_limit)]
        if client_limit:
            args += ["--client-limit", str(client_limit)]
        for name, password in (users or {}).items():
            args += ["--user", "%s:%s" % (name, password)]
        for spec in fill:
            args += ["--fill", spec]
        self._proc = subprocess.Popen(args, stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, text=True,
                                      bufsize=1)
        line = self._proc.stdout.readline()
        if not line:
            self._proc.wait(timeout=START_TIMEOUT)
            raise PbtestError("pbtest dovecot failed to start (see stderr)")
        self.env = dict(w.split("=", 1) for w in shlex.split(line))
        self.dir = self.env["DIR"]
        self.ca_file = self.env["CA_FILE"]
        self.imap_port = int(self.env["IMAP_PORT"])
        self.imaps_port = int(self.env["IMAPS_PORT"])
        self.pop3_port = int(self.env["POP3_PORT"])
        self.pop3s_port = int(self.env["POP3S_PORT"])

    def command(self, *words):
        """Send one command; return the text after "ok" (often "")."""
        if self._proc is None:
            raise PbtestError("instance already stopped")
        words = [str(w) for w in words]
        for w in words:
            if not w or any(c.isspace() for c in w):
                raise PbtestError("command words may not be empty or contain spaces: %r" % w)
        self._proc.stdin.write(" ".join(words) + "\n")
        self._proc.stdin.flush()
        answer = self._proc.stdout.readline().rstrip("\n")
        if answer == "ok" or answer.startswith("ok "):
            return answer[3:]
        raise PbtestError("%s: %s" % (" ".join(words[:1]), answer or "pbtest exited"))

    def add_user(self, user, password):
        self.command("add-user", user, password)

    def set_password(self, user, password):
        self.command("set-password", user, password)

    def remove_user(self, user):
        self.command("remove-user", user)

    def create_folder(self, user, folder):
        self.command("create-folder", user, folder)

    def add(self, user, folder, kind, seed, size=None, flags=""):
        words = ["add", user, folder, kind, seed]
        if size is not None:
            words.append(size)
        if flags:
            words.append(flags)
        self.command(*words)

    def add_file(self, user, folder, path, flags=""):
        self.command("add-file", user, folder, path, *([flags] if flags else []))

    def renumber(self, user, folder):
        self.command("renumber", user, folder)

    def maildir(self, user, folder):
        return self.command("maildir", user, folder)

    def pause(self):
        self.command("pause")

    def resume(self):
        self.command("resume")

    def stop(self):
        if self._proc is None:
            return
        proc, self._proc = self._proc, None
        try:
            proc.stdin.write("quit\n")
            proc.stdin.close()
        except (BrokenPipeError, ValueError):
            pass
        proc.wait(timeout=START_TIMEOUT)
        proc.stdout.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


class Imapd(Dovecot):
    """A private server of any kind of tests/lib/imapd.h ("dovecot", "cyrus",
    "courier"): imap_port (plaintext LOGIN), prefix (the personal namespace,
    "INBOX." on Cyrus and Courier), folder(bare) for a folder's IMAP name.
    add/add_file/create_folder/renumber take bare folder names."""

    def __init__(self, kind, users=None, hide=None, pbtest=None):
        args = [pbtest_path(pbtest), "imapd", kind]
        if hide:
            args += ["--hide", hide]
        for name, password in (users or {}).items():
            args += ["--user", "%s:%s" % (name, password)]
        self._proc = subprocess.Popen(args, stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, text=True,
                                      bufsize=1)
        line = self._proc.stdout.readline()
        if not line:
            self._proc.wait(timeout=START_TIMEOUT)
            raise PbtestError("pbtest imapd %s failed to start (see stderr)" % kind)
        self.env = dict(w.split("=", 1) for w in shlex.split(line))
        self.kind = self.env["KIND"]
        self.dir = self.env["DIR"]
        self.imap_port = int(self.env["IMAP_PORT"])
        self.prefix = self.env["PREFIX"]
        self.sep = self.env["SEP"]
        self.ca_file = self.imaps_port = self.pop3_port = self.pop3s_port = None

    @staticmethod
    def available(kind, pbtest=None):
        """None when kind can run here, else the reason."""
        r = subprocess.run([pbtest_path(pbtest), "imapd", kind, "--check"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
        return None if r.returncode == 0 else (r.stdout.strip() or "cannot run")

    def folder(self, bare):
        return self.command("folder", bare)
