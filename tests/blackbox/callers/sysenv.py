"""Run real system programs against relaymail (black-box tests).

Wrapper     a /bin/sh script standing in for /usr/sbin/sendmail: it records
            the argv, uid and environment of every call, then runs
            relaymail with -C <conf> and the same arguments, and records the
            exit status.
Namespace   a private mount namespace (unshare -m) in which a copy of
            /usr/sbin holding the Wrapper as sendmail is bound over
            /usr/sbin, plus any other private files or directories (a
            crontab spool, /etc/sudoers, /run ...). Nothing of it is seen
            outside; it vanishes with the process.

Both live in a test's temporary directory; nothing on the machine changes.
"""

import os
import shutil
import subprocess
from pathlib import Path

# The environment programs get unless a test says otherwise.
BASE_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C",
            "USER": "root", "LOGNAME": "root"}

_WRAPPER = """#!/bin/sh
# Stand-in for /usr/sbin/sendmail in a test: record the call, run relaymail.
n=$(date +%s%N).$$
d='{logdir}'
for a in "$@"; do printf '%s\\0' "$a"; done > "$d/$n.argv"
id -u > "$d/$n.uid"
env -0 > "$d/$n.env"
'{sendmail}' -C '{conf}' "$@"
rc=$?
echo "$rc" > "$d/$n.rc"
exit "$rc"
"""


class Call:
    """One recorded run of the wrapper."""

    def __init__(self, argv, uid, env, rc):
        self.argv, self.uid, self.env, self.rc = argv, uid, env, rc

    def __repr__(self):
        return "<Call argv=%r uid=%r rc=%r>" % (self.argv, self.uid, self.rc)


class Wrapper:
    """A recording sendmail wrapper at DIR/sendmail-wrapper."""

    def __init__(self, d, sendmail, conf):
        self.dir = Path(d)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.logdir = self.dir / "calls"
        self.logdir.mkdir(mode=0o1777, exist_ok=True)
        os.chmod(self.logdir, 0o1777)
        self.path = self.dir / "sendmail-wrapper"
        self.path.write_text(_WRAPPER.format(logdir=self.logdir,
                                             sendmail=sendmail, conf=conf))
        os.chmod(self.path, 0o755)

    def calls(self):
        """Every finished call (argv recorded and exit status written)."""
        out = []
        for argv_file in sorted(self.logdir.glob("*.argv")):
            stem = str(argv_file)[:-len(".argv")]
            rc_file = Path(stem + ".rc")
            if not rc_file.exists():
                continue
            argv = argv_file.read_bytes().split(b"\0")[:-1]
            env = {}
            for item in Path(stem + ".env").read_bytes().split(b"\0"):
                if item:
                    k, _, v = item.decode("utf-8", "replace").partition("=")
                    env[k] = v
            out.append(Call([a.decode("utf-8", "replace") for a in argv],
                            int(Path(stem + ".uid").read_text()), env,
                            int(rc_file.read_text())))
        return out


class Namespace:
    """Private mounts for one test: binds[target] = source, in order."""

    def __init__(self, d, wrapper):
        self.dir = Path(d)
        self.sbin = self.dir / "sbin"
        shutil.copytree("/usr/sbin", self.sbin, symlinks=True)
        target = self.sbin / "sendmail"
        if target.exists() or target.is_symlink():
            target.unlink()
        shutil.copy(wrapper.path, target)
        os.chmod(target, 0o755)
        self.binds = [("/usr/sbin", str(self.sbin))]
        self.tmpfs = []

    def bind(self, target, source):
        """Bind source over target (both must exist, same kind)."""
        self.binds.append((str(target), str(source)))

    def empty_dir(self, target):
        """Hide target (a directory) behind an empty tmpfs."""
        self.tmpfs.append(str(target))

    def run(self, script, timeout=60, env=None):
        """Run the sh script inside the namespace; CompletedProcess."""
        lines = ["set -e"]
        for target in self.tmpfs:
            lines.append("mount -t tmpfs -o mode=0755 tmpfs '%s'" % target)
        for target, source in self.binds:
            lines.append("mount --bind '%s' '%s'" % (source, target))
        lines.append("set +e")
        lines.append(script)
        e = dict(BASE_ENV)
        e["HOME"] = str(self.dir)
        if env is not None:
            e = dict(env)
        # A PID namespace too: when its first process (the shell) ends,
        # the kernel kills every daemon and job started inside it. Its own
        # /proc, so that pids read there are right (LeakSanitizer reads
        # /proc/<pid>/task).
        p = subprocess.Popen(
            ["unshare", "--mount", "--pid", "--fork", "--mount-proc",
             "--propagation", "private", "--", "/bin/sh", "-c",
             "\n".join(lines)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e,
            cwd=str(self.dir), start_new_session=True)
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, 9)
            p.communicate()
            raise
        return subprocess.CompletedProcess(p.args, p.returncode, out, err)
