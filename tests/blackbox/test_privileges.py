"""The privilege model (INSTALL, "Privileges"; SPEC "Privileges").

Every local user can submit mail; no local user but root can read the
credentials or another user's queued mail. Each test builds a private
installation the way `make install` does, in a world-traversable temp dir:

  ROOT/sendmail            a copy of the binary, root:GROUP 2755
  ROOT/etc/relaymail.conf  root:GROUP 0640 (the credentials)
  ROOT/ca.pem              root:GROUP 0640 (the test CA, read with the group)
  ROOT/spool/{,tmp,q,s,failed}  root:GROUP 0770

The binary reads /etc/relaymail.conf unless -C or RELAYMAIL_CONFIG says
otherwise (and those drop the group), so every run happens in a private
mount namespace where an overlay on /etc adds relaymail.conf (the real
/etc is never touched). Runs "as the user" go through setpriv to an
unprivileged system user that is not in GROUP.

The test user and group are created once (useradd/groupadd --system) and
reused on later runs; the temp dirs are removed at the end.
"""

import base64
import grp
import os
import pwd
import shutil
import socket
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import REPO, is_sanitized, sendmail_path, write_ini
from harness import PASSWORD, USER, message

GROUP = "rmtest-relay"      # stands for the relaymail group
LOGIN = "rmtest-user"       # an ordinary local user, not in GROUP
BODY_MARK = "BODY-MARK-7f3a9c"
SUBJECT_MARK = "SUBJECT-MARK-51e0"
TIMEOUT = 60


def need_root():
    if os.geteuid() != 0:
        pytest.fail("the privilege tests need root (useradd, chown, setgid)")


def ensure_user(login):
    """An unprivileged test user (idempotent); (uid, user's gid)."""
    need_root()
    # no check=True: a concurrent test run may have just made it
    try:
        pwd.getpwnam(login)
    except KeyError:
        subprocess.run(["useradd", "--system", "--user-group",
                        "--no-create-home", "--home-dir", "/nonexistent",
                        "--shell", "/usr/sbin/nologin", login],
                       timeout=TIMEOUT)
    pw = pwd.getpwnam(login)
    return pw.pw_uid, pw.pw_gid


def ensure_accounts():
    """The test group and user (idempotent); (uid, user's gid, GROUP's gid)."""
    need_root()
    try:
        grp.getgrnam(GROUP)
    except KeyError:
        subprocess.run(["groupadd", "--system", GROUP], timeout=TIMEOUT)
    uid, gid = ensure_user(LOGIN)
    g = grp.getgrnam(GROUP)
    assert LOGIN not in g.gr_mem and gid != g.gr_gid
    return uid, gid, g.gr_gid


def closed_port():
    """A local port nobody listens on (the smarthost is down)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def secret_forms(user=USER, password=PASSWORD):
    """Every spelling of the password a transcript could leak."""
    pw = password.encode()
    forms = [password, password.encode().hex(),
             base64.b64encode(pw).decode(),
             base64.b64encode(b"\0" + user.encode() + b"\0" + pw).decode(),
             base64.b64encode(user.encode() + b"\0" + user.encode() + b"\0"
                              + pw).decode()]
    return forms


def assert_no_secret(text):
    for f in secret_forms():
        assert f not in text, "a secret (%r) in the output:\n%s" % (f, text)


class Install:
    """A private set-group-id installation and ways to run it."""

    def __init__(self, root, certs, host):
        self.root = root
        self.uid, self.user_gid, self.gid = ensure_accounts()
        self.host = host
        self.bin = root / "sendmail"
        self.spool = root / "spool"
        self.conf = root / "etc" / "relaymail.conf"
        self.ca = root / "ca.pem"
        self.runs = 0
        prog = sendmail_path()
        if is_sanitized(prog):
            # A set-group-id process is not dumpable: its sanitizer
            # runtime cannot read /proc/self/environ (no ASAN_OPTIONS) and
            # LeakSanitizer cannot ptrace it, so it fails at exit. Test the
            # plain build.
            prog = str(REPO / "sendmail")
        if not os.path.exists(prog):
            pytest.fail("relaymail binary %s does not exist (make first)"
                        % prog)
        os.chmod(root, 0o755)
        shutil.copyfile(prog, self.bin)
        self.own(self.bin, 0o2755)
        shutil.copyfile(certs.ca, self.ca)
        self.own(self.ca, 0o640)
        for d in ("", "tmp", "q", "s", "failed", "run"):
            (self.spool / d).mkdir(exist_ok=True)
            self.own(self.spool / d, 0o770)
        (root / "etc").mkdir()
        self.write_conf(self.conf, self.sections())
        # a place the user may write (password_command's evidence)
        self.pub = root / "pub"
        self.pub.mkdir()
        os.chmod(self.pub, 0o1777)

    def own(self, path, mode):
        """root:GROUP, then the mode (chown clears the set-group-id bit)."""
        os.chown(path, 0, self.gid)
        os.chmod(path, mode)

    def sections(self, port=None, **auth):
        a = {"mechanism": "auto", "user": USER, "password": PASSWORD}
        a.update(auth)
        return {
            "smarthost": {"host": "127.0.0.1",
                          "port": port or self.host.port,
                          "tls": "starttls", "tls_ca_file": str(self.ca),
                          "timeout": "10s"},
            "auth": {k: v for k, v in a.items() if v is not None},
            "sender": {"domain": "example.com", "aliases_file": ""},
            "queue": {"dir": str(self.spool), "mode": "sync"},
            "log": {"syslog": "no"},
        }

    def write_conf(self, path, sections, mode=0o640):
        write_ini(path, sections)
        self.own(path, mode)
        return str(path)

    def command(self, args, as_user=True, conf=None, env=None):
        """(argv, environment) that run args (args[0] 'sendmail' means the
        installed copy) with /etc/relaymail.conf = conf (default: the real
        one) in a private mount namespace, as the test user (as_user True),
        as root (False) or as another test user (its login name)."""
        self.runs += 1
        d = self.root / ("ns%d" % self.runs)
        (d / "u").mkdir(parents=True)
        (d / "w").mkdir()
        shutil.copyfile(conf or self.conf, d / "u" / "relaymail.conf")
        self.own(d / "u" / "relaymail.conf", 0o640)
        argv = [str(self.bin) if a == "sendmail" else a for a in args]
        if as_user:
            uid, gid = (self.uid, self.user_gid) if as_user is True \
                else ensure_user(as_user)
            argv = ["setpriv", "--reuid=%d" % uid, "--regid=%d" % gid,
                    "--clear-groups", "--"] + argv
        script = ('mount -t overlay overlay -o lowerdir=/etc,upperdir=%s,'
                  'workdir=%s /etc || exit 111; exec "$@"'
                  % (d / "u", d / "w"))
        e = {"PATH": "/usr/bin:/bin", "HOME": "/", "LANG": "C"}
        e.update(env or {})
        return ["unshare", "--mount", "--propagation", "private",
                "sh", "-c", script, "sh"] + argv, e

    def run(self, args, as_user=True, conf=None, input=b"", env=None):
        """Run args as command() says and wait: (rc, out, err)."""
        argv, e = self.command(args, as_user, conf, env)
        p = subprocess.run(argv,
                           input=input.encode() if isinstance(input, str)
                           else input, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=e, timeout=TIMEOUT,
                           cwd="/")
        assert p.returncode != 111, "cannot mount the /etc overlay: %s" % (
            p.stderr.decode("utf-8", "replace"))
        out = p.stdout.decode("utf-8", "replace")
        err = p.stderr.decode("utf-8", "replace")
        assert_no_secret(out + err)
        return p.returncode, out, err

    def user_open(self, path):
        """What open(path) gives the test user: 'ok' or the errno name."""
        code = ("import errno, sys\n"
                "try:\n open(sys.argv[1], 'rb').read(1); print('ok')\n"
                "except OSError as e:\n print(errno.errorcode[e.errno])\n")
        rc, out, err = self.run(["/usr/bin/python3", "-c", code, str(path)])
        assert rc == 0, err
        return out.strip()

    def queue_files(self):
        return sorted(p.name for p in (self.spool / "q").iterdir())


@pytest.fixture
def inst(certs, smarthost):
    root = Path(tempfile.mkdtemp(prefix="relaymail-priv."))
    try:
        yield Install(root, certs, smarthost(tls="starttls"))
    finally:
        shutil.rmtree(root, ignore_errors=True)


def user_message():
    return message(headers=["X-Test: privileges"], body=BODY_MARK + "\n") \
        .replace("Subject: test", "Subject: " + SUBJECT_MARK)


def test_user_can_send(inst):
    """An ordinary user submits; the message reaches the smarthost and
    nothing is left in the spool."""
    rc, out, err = inst.run(["sendmail", "-i", "bob@example.org"],
                            input=user_message())
    assert rc == 0, err
    msgs = inst.host.wait_messages(1, timeout=30)
    assert len(msgs) == 1 and msgs[0].rcpt_tos == ["bob@example.org"]
    assert BODY_MARK.encode() in msgs[0].data
    assert inst.queue_files() == []


def test_user_cannot_read_the_configuration(inst):
    assert inst.user_open("/etc/relaymail.conf") == "EACCES"
    assert inst.user_open(inst.conf) == "EACCES"
    # while the set-group-id program, run by the same user, can
    rc, out, err = inst.run(["sendmail", "-bp"])
    assert rc == 0, err


def test_user_cannot_read_queued_mail(inst):
    """Root queues a message (smarthost down); the user can neither open
    it nor see its content through mailq, only its envelope."""
    down = inst.write_conf(inst.root / "down.conf",
                           inst.sections(port=closed_port()))
    rc, out, err = inst.run(["sendmail", "-C", down, "-i",
                             "carol@example.org"], as_user=False,
                            input=user_message())
    assert rc == 0, err
    ids = inst.queue_files()
    assert len(ids) == 1, (ids, err)
    st = os.stat(inst.spool / "q" / ids[0])
    assert stat.S_IMODE(st.st_mode) == 0o660 and st.st_gid == inst.gid
    assert inst.user_open(inst.spool / "q" / ids[0]) == "EACCES"
    assert inst.user_open(inst.spool / "s" / "x") == "EACCES"
    rc, out, err = inst.run(["sendmail", "-bp"])
    assert rc == 0, err
    assert ids[0] in out and "carol@example.org" in out
    for mark in (BODY_MARK, SUBJECT_MARK):
        assert mark not in out + err
    assert inst.host.messages == []


def test_user_config_drops_the_group(inst):
    """-C and RELAYMAIL_CONFIG from a user: the group is gone, so the real
    configuration cannot be read, nor the spool written."""
    for path in ("/etc/relaymail.conf", str(inst.conf)):
        rc, out, err = inst.run(["sendmail", "-C", path, "-i",
                                 "bob@example.org"], input=user_message())
        assert rc in (77, 78), (rc, err)
        assert "ermission denied" in err, err
        rc, out, err = inst.run(["sendmail", "-i", "bob@example.org"],
                                input=user_message(),
                                env={"RELAYMAIL_CONFIG": path})
        assert rc in (77, 78), (rc, err)
        assert "ermission denied" in err, err
    # a configuration of the user's own naming the shared spool: no way in
    own = inst.root / "pub" / "own.conf"
    write_ini(own, inst.sections())
    os.chmod(own, 0o644)
    rc, out, err = inst.run(["sendmail", "-C", str(own), "-odq", "-i",
                             "bob@example.org"], input=user_message())
    assert rc == 73, (rc, err)
    assert inst.queue_files() == [] and inst.host.messages == []


@pytest.mark.parametrize("mech", ["plain", "login"])
def test_verbose_shows_no_secret(inst, mech):
    conf = inst.write_conf(inst.root / "v.conf",
                           inst.sections(mechanism=mech))
    rc, out, err = inst.run(["sendmail", "-v", "-i", "bob@example.org"],
                            input=user_message(), conf=conf)
    assert rc == 0, err
    assert "AUTH" in err, "no transcript in -v output: %r" % err
    assert_no_secret(out + err)     # run() checks it too; say it here
    assert len(inst.host.wait_messages(1, timeout=30)) == 1


def test_password_command_runs_as_the_user(inst):
    """password_command runs with the caller's uid and gid (never the
    group) and a clean environment."""
    evidence = inst.pub / "id.txt"
    cmd = inst.pub / "pc.sh"       # a script: ';' starts an INI comment
    cmd.write_text("#!/bin/sh\n{ id -u; id -G; env; } > %s\n"
                   "printf '%%s\\n' '%s'\n" % (evidence, PASSWORD))
    os.chmod(cmd, 0o755)
    # /bin/sh drops an effective group it did not ask for, but not the
    # saved one: look at the shell's own ids, all four of them
    shell_ids = inst.pub / "shell.txt"
    line = "grep -E '^(Uid|Gid|Groups):' /proc/$$/status > %s && %s" % (
        shell_ids, cmd)
    conf = inst.write_conf(inst.root / "pc.conf", inst.sections(
        password=None, password_command=line))
    rc, out, err = inst.run(["sendmail", "-i", "bob@example.org"],
                            input=user_message(), conf=conf,
                            env={"RM_TEST_LEAK": "from-the-caller"})
    assert rc == 0, err
    assert len(inst.host.wait_messages(1, timeout=30)) == 1, err
    ids = dict(x.split(":", 1) for x in shell_ids.read_text().splitlines())
    assert ids["Uid"].split() == [str(inst.uid)] * 4, ids
    assert ids["Gid"].split() == [str(inst.user_gid)] * 4, ids
    assert ids["Groups"].split() == [], ids
    lines = evidence.read_text().splitlines()
    assert lines[0] == str(inst.uid)
    assert lines[1].split() == [str(inst.user_gid)], lines
    env = dict(x.split("=", 1) for x in lines[2:] if "=" in x)
    assert env.get("PATH") == "/usr/bin:/bin"
    # nothing from the caller's environment; HOME from the password database
    assert "RM_TEST_LEAK" not in env, env
    assert env.get("HOME") == pwd.getpwuid(inst.uid).pw_dir, env
    assert env.get("USER") == env.get("LOGNAME") == pwd.getpwuid(inst.uid).pw_name, env


def test_only_root_runs_deliver_another_users_mail(inst):
    """Root's queued message (root:GROUP 0660) is left alone by a queue run
    that an ordinary user starts (SPEC Privileges: a user's process only
    ever locks or delivers that user's own mail); root's run delivers it.
    The user's own deferred message is then retried by root."""
    down = inst.write_conf(inst.root / "down.conf",
                           inst.sections(port=closed_port()))
    rc, out, err = inst.run(["sendmail", "-C", down, "-i",
                             "carol@example.org"], as_user=False,
                            input=user_message())
    assert rc == 0, err
    assert len(inst.queue_files()) == 1
    rc, out, err = inst.run(["sendmail", "-q"])
    assert rc == 0, err
    assert inst.host.messages == [] and len(inst.queue_files()) == 1
    rc, out, err = inst.run(["sendmail", "-q"], as_user=False)
    assert rc == 0, err
    msgs = inst.host.wait_messages(1, timeout=30)
    assert [m.rcpt_tos for m in msgs] == [["carol@example.org"]]
    assert inst.queue_files() == []
    # the other way round: a user's message, deferred, then run by root
    rc, out, err = inst.run(["sendmail", "-odq", "-i", "dave@example.org"],
                            input=user_message())
    assert rc == 0, err
    ids = inst.queue_files()
    assert len(ids) == 1
    st = os.stat(inst.spool / "q" / ids[0])
    assert st.st_uid == inst.uid and st.st_gid == inst.gid
    assert stat.S_IMODE(st.st_mode) == 0o660
    rc, out, err = inst.run(["sendmail", "-q"], as_user=False)
    assert rc == 0, err
    assert len(inst.host.wait_messages(2, timeout=30)) == 2
    assert inst.queue_files() == []


def test_subdirectories_made_by_a_user_stay_shared(inst):
    """A spool whose subdirectories are missing: the first submitter (a
    user) makes them with the spool's group permissions, not 0700."""
    for d in ("tmp", "q", "s", "failed", "run"):
        (inst.spool / d).rmdir()
    rc, out, err = inst.run(["sendmail", "-odq", "-i", "bob@example.org"],
                            input=user_message())
    assert rc == 0, err
    for d in ("tmp", "q", "s", "failed", "run"):
        st = os.stat(inst.spool / d)
        assert stat.S_IMODE(st.st_mode) == 0o770, (d, oct(st.st_mode))
        assert st.st_gid == inst.gid
    rc, out, err = inst.run(["sendmail", "-q"], as_user=False)
    assert rc == 0, err
    assert len(inst.host.wait_messages(1, timeout=30)) == 1
