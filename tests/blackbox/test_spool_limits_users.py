"""Spool limits and unprivileged users (issue 11, point 5; SPEC "Spool
limits" and "Privileges"): below [queue] min_free only root may submit, and
a queue run that a user starts removes only that user's dead temp files and
old failed messages; root's removes anyone's. Two ordinary users against
the set-group-id installation of test_privileges.py.
"""

import os
import time

from test_privileges import inst, user_message  # noqa: F401 (fixture)
from test_privileges_secret import second_user


def test_below_min_free_only_root_submits(inst):
    conf = inst.write_conf(inst.root / "full.conf", dict(
        inst.sections(), queue={"dir": str(inst.spool), "mode": "sync",
                                "min_free": "1000000G"}))
    for who in ((inst.uid, inst.user_gid), second_user()):
        rc, out, err = inst.run(["sendmail", "-i", "bob@example.org"],
                                input=user_message(), conf=conf, as_user=who)
        assert rc == 73, (rc, err)
        assert "the spool is nearly full" in err and "min_free" in err, err
    assert inst.host.messages == []
    assert os.listdir(inst.spool / "tmp") == [] and inst.queue_files() == []
    rc, out, err = inst.run(["sendmail", "-i", "bob@example.org"],
                            input=user_message(), conf=conf, as_user=False)
    assert rc == 0, err
    assert len(inst.host.wait_messages(1, timeout=30)) == 1


def plant(inst, sub, name, uid):
    """A file in the spool owned by uid (and the group), as a dead writer
    or an old failure would leave it."""
    path = inst.spool / sub / name
    path.write_bytes(b"left behind\n")
    os.chown(path, uid, inst.gid)
    os.chmod(path, 0o660)
    return path


def test_a_users_queue_run_cleans_only_that_users_files(inst):
    conf = inst.write_conf(inst.root / "keep.conf", dict(
        inst.sections(), queue={"dir": str(inst.spool), "mode": "sync",
                                "keep_failed": "1s"}))
    uid2, gid2 = second_user()
    mine = [plant(inst, "tmp", "0123456789ABCDEF", inst.uid),
            plant(inst, "failed", "1123456789ABCDEF", inst.uid)]
    plant(inst, "failed", "1123456789ABCDEF.state", 0)
    theirs = [plant(inst, "tmp", "2123456789ABCDEF", uid2),
              plant(inst, "failed", "3123456789ABCDEF", uid2),
              plant(inst, "tmp", "4123456789ABCDEF", 0)]
    time.sleep(1.2)
    rc, out, err = inst.run(["sendmail", "-q"], conf=conf)
    assert rc == 0, err
    assert [p.exists() for p in mine] == [False, False]
    assert not (inst.spool / "failed" / "1123456789ABCDEF.state").exists()
    assert [p.exists() for p in theirs] == [True, True, True]
    rc, out, err = inst.run(["sendmail", "-q"], conf=conf, as_user=False)
    assert rc == 0, err
    assert [p.exists() for p in theirs] == [False, False, False]
    assert os.listdir(inst.spool / "tmp") == []
    assert os.listdir(inst.spool / "failed") == []
