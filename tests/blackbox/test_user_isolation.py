"""No user's process holds another user's mail (issue 10; SPEC Privileges).

Two real unprivileged users, A (the test user of test_privileges.py) and
B (a second one), against the same private set-group-id installation.
A user can stop their own process, let it block on a full stderr pipe, or
slow it down; none of B's queue runs (-q, -qI<A's id>, -qR) or background
runners may ever lock or deliver A's message, so root's run delivers it at
once, exactly once. mailq still lists every message.
"""

import os
import signal
import subprocess
import time
from pathlib import Path


from harness import lock_free
from test_privileges import inst, user_message  # noqa: F401 (inst: fixture)

OTHER = "rmtest-user2"      # user B; user A is test_privileges.LOGIN
STALL = 30                  # seconds a stalled smarthost greeting lasts


def queue_as_a(inst, rcpt="anna@example.org"):
    """A queues a message (-odq); its id."""
    before = set(inst.queue_files())
    rc, out, err = inst.run(["sendmail", "-odq", "-i", rcpt],
                            input=user_message())
    assert rc == 0, err
    new = set(inst.queue_files()) - before
    assert len(new) == 1, (new, err)
    return new.pop()


def full_pipe():
    """A pipe whose buffer is full: a write to w blocks. (r, w)."""
    r, w = os.pipe()
    os.set_blocking(w, False)
    try:
        while True:
            os.write(w, b"x" * 65536)
    except BlockingIOError:
        pass
    os.set_blocking(w, True)
    return r, w


def spawn(inst, args, as_user, stderr=subprocess.DEVNULL):
    argv, env = inst.command(args, as_user=as_user)
    return subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=stderr,
                            cwd="/")


def deliveries(inst, rcpt):
    return [m for m in inst.host.messages if m.rcpt_tos == [rcpt]]


def wait_delivered(inst, rcpt, timeout=15):
    deadline = time.monotonic() + timeout
    while not deliveries(inst, rcpt) and time.monotonic() < deadline:
        time.sleep(0.05)
    return deliveries(inst, rcpt)


def processes_of(inst, login):
    """pids of the installed binary running as login (B's detached runner)."""
    import pwd
    uid = pwd.getpwnam(login).pw_uid
    pids = []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            if os.readlink(p / "exe") == str(inst.bin) and \
                    p.stat().st_uid == uid:
                pids.append(int(p.name))
        except OSError:
            continue
    return pids


def test_other_users_queue_runs_leave_the_message(inst):
    """B's -q, -qI<A's id> and -qR<domain> take nothing of A's: the message
    stays queued and listed; root's -q then delivers it, once."""
    qid = queue_as_a(inst)
    for args in (["-q"], ["-qI" + qid], ["-qRexample.org"], ["--runner"]):
        rc, out, err = inst.run(["sendmail"] + args, as_user=OTHER)
        assert rc == 0, (args, err)
        assert inst.queue_files() == [qid], args
        if args[0].startswith("-qI"):   # asked by its id: B is told why not
            assert "another user's message: root's queue runs deliver it" \
                in err, err
    assert inst.host.messages == []
    # B's mailq still lists it (envelope only)
    rc, out, err = inst.run(["sendmail", "-bp"], as_user=OTHER)
    assert rc == 0 and qid in out and "anna@example.org" in out, out
    rc, out, err = inst.run(["sendmail", "-q"], as_user=False)
    assert rc == 0, err
    assert len(wait_delivered(inst, "anna@example.org")) == 1
    assert inst.queue_files() == []


def test_blocked_or_stopped_runs_of_another_user_never_delay_it(inst):
    """B's -qI<A's id> -v and -q -v write to a full stderr pipe, and
    another -q of B's gets SIGSTOP if it is still running, all while the
    smarthost stalls its greeting: none of them holds A's message, so
    root's -q delivers it at once, exactly once. (With the rule kept, B's
    two -q have nothing of their own and are gone by then, without a
    connection; -qI stays blocked on its notice, holding nothing.)"""
    qid = queue_as_a(inst)
    inst.host.opts["stall"] = {"greeting": STALL}
    pipes = [full_pipe(), full_pipe()]
    procs = [spawn(inst, ["sendmail", "-qI" + qid, "-v"], OTHER,
                   stderr=pipes[0][1]),
             spawn(inst, ["sendmail", "-q", "-v"], OTHER,
                   stderr=pipes[1][1]),
             spawn(inst, ["sendmail", "-q"], OTHER)]
    try:
        time.sleep(1.5)
        if procs[2].poll() is None:
            procs[2].send_signal(signal.SIGSTOP)
        assert lock_free(inst.spool / "q" / qid), "B holds A's message"
        assert [p.poll() for p in procs[1:]] == [0, 0]
        assert inst.host.connections == []
        inst.host.opts["stall"] = {}
        start = time.monotonic()
        rc, out, err = inst.run(["sendmail", "-q"], as_user=False)
        assert rc == 0, err
        assert len(wait_delivered(inst, "anna@example.org", 5)) == 1
        assert time.monotonic() - start < 5
        assert inst.queue_files() == []
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait(timeout=30)
        for r, w in pipes:
            os.close(r)
            os.close(w)
    assert len(deliveries(inst, "anna@example.org")) == 1


def test_other_users_background_runner_leaves_the_message(inst):
    """B's -odb runner delivers B's message and not A's; a runner of B's
    stopped with SIGSTOP (smarthost stalled) holds nothing of A's: root's
    -q delivers A's at once, and B's own once B's runner is gone."""
    qid = queue_as_a(inst)
    rc, out, err = inst.run(["sendmail", "-odb", "-i", "bert@example.org"],
                            as_user=OTHER, input=user_message())
    assert rc == 0, err
    assert len(wait_delivered(inst, "bert@example.org")) == 1
    deadline = time.monotonic() + 15
    while processes_of(inst, OTHER) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert inst.queue_files() == [qid]
    assert inst.host.messages[-1].rcpt_tos == ["bert@example.org"]
    # now B's runner stalls at the greeting, and B stops it
    inst.host.opts["stall"] = {"greeting": STALL}
    rc, out, err = inst.run(["sendmail", "-odb", "-i", "berta@example.org"],
                            as_user=OTHER, input=user_message())
    assert rc == 0, err
    deadline = time.monotonic() + 10
    while not processes_of(inst, OTHER) and time.monotonic() < deadline:
        time.sleep(0.05)
    runners = processes_of(inst, OTHER)
    assert runners, "B's background runner did not start"
    time.sleep(0.5)     # let it lock B's message and connect
    for pid in runners:
        os.kill(pid, signal.SIGSTOP)
    try:
        assert lock_free(inst.spool / "q" / qid)
        inst.host.opts["stall"] = {}
        rc, out, err = inst.run(["sendmail", "-q"], as_user=False)
        assert rc == 0, err
        assert len(wait_delivered(inst, "anna@example.org", 5)) == 1
        assert deliveries(inst, "berta@example.org") == []  # B's holds it
    finally:
        for pid in runners:
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while processes_of(inst, OTHER) and time.monotonic() < deadline:
        time.sleep(0.05)
    rc, out, err = inst.run(["sendmail", "-q"], as_user=False)
    assert rc == 0, err
    assert len(wait_delivered(inst, "berta@example.org")) == 1
    assert len(deliveries(inst, "anna@example.org")) == 1
    assert inst.queue_files() == []
