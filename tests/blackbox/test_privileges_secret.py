"""password_command and the group (issue 11, point 4; SPEC "Privileges").

The command runs as the calling user but keeps the relaymail group as its
effective gid: `cat` of a root:GROUP 0640 token works for every user's
submission, and the command's output (its /proc/PID/fd/1) stays out of the
caller's reach. Two ordinary users, against the set-group-id installation
of test_privileges.py.
"""

import os
import threading
import time

from harness import PASSWORD
from test_privileges import (TIMEOUT, Install, inst,  # noqa: F401 (fixture)
                             ensure_user, user_message)

LOGIN2 = "rmtest-user2"     # a second ordinary user, not in the group


def second_user():
    """(uid, gid) of a second unprivileged user (made once, reused)."""
    return ensure_user(LOGIN2)


def token_conf(inst: Install, command):
    """A configuration whose secret is password_command = command, with
    the password in a root:GROUP 0640 token file; (conf path, token path)."""
    token = inst.root / "etc" / "token"
    token.write_text(PASSWORD + "\n")
    inst.own(token, 0o640)
    conf = inst.write_conf(inst.root / "token.conf", inst.sections(
        password=None, password_command=command % token))
    return conf, token


def test_password_command_reads_a_group_only_token_for_every_user(inst):
    conf, token = token_conf(inst, "cat %s")
    users = [(inst.uid, inst.user_gid), second_user()]
    for who in users:
        assert inst.user_open(token, as_user=who) == "EACCES"
    for n, who in enumerate(users, 1):
        rc, out, err = inst.run(["sendmail", "-i", "bob@example.org"],
                                input=user_message(), conf=conf,
                                as_user=who)
        assert rc == 0, err
        msgs = inst.host.wait_messages(n, timeout=30)
        assert len(msgs) == n, err
        assert msgs[-1].conn.authenticated == "myaccount"
    assert inst.queue_files() == []


def test_password_command_output_is_not_the_callers(inst):
    """While the command runs, the caller (same uid) cannot open its
    standard output through /proc, nor its memory."""
    pidfile = inst.pub / "pid"
    conf, _ = token_conf(inst, "echo $$ > " + str(pidfile) +
                         " && sleep 2 && cat %s")
    result = {}

    def submit():
        result["run"] = inst.run(["sendmail", "-i", "bob@example.org"],
                                 input=user_message(), conf=conf)
    t = threading.Thread(target=submit)
    t.start()
    try:
        deadline = time.monotonic() + 20
        while not (pidfile.exists() and pidfile.read_text().strip()):
            assert time.monotonic() < deadline, "the command never started"
            time.sleep(0.05)
        pid = pidfile.read_text().strip()
        for victim in ("fd/1", "mem", "environ"):
            assert inst.user_open("/proc/%s/%s" % (pid, victim)) in (
                "EACCES", "EPERM"), victim
        st = os.stat("/proc/%s/fd" % pid)
        assert st.st_uid == 0, "the command's /proc/PID/fd is the caller's"
    finally:
        t.join(TIMEOUT)
    rc, out, err = result["run"]
    assert rc == 0, err
    assert len(inst.host.wait_messages(1, timeout=30)) == 1
