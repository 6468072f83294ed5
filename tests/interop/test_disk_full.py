#!/usr/bin/env python3
"""The disk full under the state file (issue 12, SPEC §5).

The state file lives on a small tmpfs (mount -t tmpfs -o size=4m) that the
test fills to the last byte with a filler file. The test re-executes itself
in a private mount namespace (`unshare --mount --propagation private`), so the
mount vanishes with the test's processes whatever happens. Mounting needs
root (CAP_SYS_ADMIN): as another user, or where mounting is not allowed, the
test says so and is skipped.

With the disk full (`--dele trash`, so a committed DELE is visible upstream):
  - a QUIT that must commit two DELEs is answered `-ERR [SYS/TEMP]`, and the
    first login of a new device (which must create it) is answered
    `-ERR [SYS/TEMP]`;
  - popbridge keeps running; an existing device's QUIT with nothing to commit
    still gets +OK;
  - once the filler is removed: `PRAGMA integrity_check` is ok, the device is
    offered the same messages with the same UIDLs (nothing was committed,
    INBOX upstream untouched, Trash empty), the same DELEs now commit (+OK,
    the two messages in Trash), and the new device logs in.
"""
import errno
import os
import poplib
import subprocess
import sys

from pbinterop import (PW, Dovecot, Popbridge, TempDir, check, enter_namespace, pop3_login,
                       pop3_uidls, report, state_integrity_check, upstream_messages)

N = 6
SIZE = "4m"
NS_MARK = "POPBRIDGE_TEST_MOUNTNS"


def enter_mount_namespace():
    """Re-run this script in a private mount namespace (root only)."""
    return enter_namespace(["--mount", "--propagation", "private"], NS_MARK, __file__)


def fill(directory):
    """Write a filler file until the filesystem refuses a single byte."""
    path = os.path.join(directory, "filler")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for chunk in (1 << 16, 4096, 512, 1):
            buf = b"\0" * chunk
            while True:
                try:
                    os.write(fd, buf)
                except OSError as e:
                    check(e.errno == errno.ENOSPC, "filling: %s" % e)
                    break
    finally:
        os.close(fd)
    st = os.statvfs(directory)
    check(st.f_bavail == 0, "the tmpfs still has %d blocks free" % st.f_bavail)
    return path


def err_text(fn):
    """fn's -ERR answer as text (fails when it answers +OK)."""
    try:
        ans = fn()
    except poplib.error_proto as e:
        a = e.args[0]
        return a.decode(errors="replace") if isinstance(a, bytes) else str(a)
    return "+OK? %r" % ans


def main():
    if not enter_mount_namespace():
        report("disk full: skipped, mounting a tmpfs needs root in a mount namespace")
        return
    user = "diskfull"
    with TempDir() as tmp:
        fs = os.path.join(tmp, "fs")
        os.mkdir(fs)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0755" % SIZE,
                            "pbtest-diskfull", fs], stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            sys.stderr.write("mount: %s" % r.stderr)
            report("disk full: skipped, mount -t tmpfs refused")
            sys.exit(97)
        try:
            run(fs, user, tmp)
        finally:
            subprocess.run(["umount", "-l", fs])


def run(fs, user, tmp):
    state = os.path.join(fs, "state.db")
    with Dovecot(users={user: PW}) as dc:
        for i in range(N):
            dc.add(user, "INBOX", "plain", 400 + i)
        dc.create_folder(user, "Trash")
        with Popbridge(dc, tmp=tmp, state=state, args=["--dele", "trash"]) as pb:
            p = pop3_login(pb, user + "#a")
            first = pop3_uidls(p)
            p.quit()
            check(len(first) == N, "%d messages offered" % len(first))
            q = pop3_login(pb, user + "#idle")
            q.quit()

            p = pop3_login(pb, user + "#a")
            p.dele(1)
            p.dele(2)
            q = pop3_login(pb, user + "#idle")   # logged in before the disk fills
            filler = fill(fs)

            ans = err_text(p.quit)
            check(ans.startswith("-ERR [SYS/TEMP]"),
                  "QUIT with 2 DELEs on a full disk: %r, want -ERR [SYS/TEMP]" % ans)

            def new_device():
                n = poplib.POP3("127.0.0.1", pb.port, timeout=60)
                n.user(user + "#b")
                try:
                    return n.pass_(PW)
                finally:
                    n.close()
            ans_b = err_text(new_device)
            check(ans_b.startswith("-ERR [SYS/TEMP]"),
                  "first login of a new device on a full disk: %r, want -ERR [SYS/TEMP]"
                  % ans_b)
            check(pb.proc.poll() is None, "popbridge exited on a full disk")
            ans_q = q.quit()
            check(ans_q.startswith(b"+OK"), "QUIT with nothing to commit: %r" % ans_q)
            report("disk full: QUIT with DELEs %r, a new device's login %r, popbridge "
                   "running" % (ans, ans_b))

            os.unlink(filler)
            state_integrity_check(state)
            check(len(upstream_messages(dc, user, PW)) == N, "INBOX changed upstream")
            check(not upstream_messages(dc, user, PW, "Trash"), "Trash is not empty")
            p = pop3_login(pb, user + "#a")
            check(pop3_uidls(p) == first, "after the failed QUIT the device sees %r, want %r"
                  % (pop3_uidls(p), first))
            p.dele(1)
            p.dele(2)
            ans = p.quit()
            check(ans.startswith(b"+OK"), "QUIT once space is back: %r" % ans)
            check(len(upstream_messages(dc, user, PW, "Trash")) == 2,
                  "the 2 DELEs are not in Trash")
            p = pop3_login(pb, user + "#a")
            check(pop3_uidls(p) == first[2:], "after the commit the device sees %r" % pop3_uidls(p))
            p.quit()
            p = pop3_login(pb, user + "#b")
            check(len(pop3_uidls(p)) == N - 2, "the new device sees %d messages" % len(pop3_uidls(p)))
            p.quit()
            check(pb.stop() == 0, "popbridge exit status")
        state_integrity_check(state)
        report("disk full, then space back: nothing committed meanwhile, integrity ok, "
               "the same DELEs committed and the new device created")


if __name__ == "__main__":
    main()
