"""The shipped relaymail-queue.path unit and what it watches (issue 10).

systemd does not run in the test machine, so this checks the contract the
unit relies on: it watches the spool's run/ directory with PathChanged=,
whose inotify mask (systemd's path.c) is reproduced here; every background
submission causes exactly one such event, and a runner's own work (root's
--runner, a queue run) causes none, so the unit never restarts itself.
"""

import configparser
import ctypes
import ctypes.util
import os
import select
import struct
import time

from harness import PASSWORD, USER, lock_free, message
from test_queue import wait_until

REPO_CONFIG = os.path.join(os.path.dirname(__file__), "..", "..", "config")

# <sys/inotify.h>
IN_ATTRIB, IN_CLOSE_WRITE, IN_MOVED_FROM = 0x004, 0x008, 0x040
IN_MOVED_TO, IN_CREATE, IN_DELETE = 0x080, 0x100, 0x200
IN_DELETE_SELF, IN_MOVE_SELF, IN_NONBLOCK = 0x400, 0x800, 0o4000
PATH_CHANGED = (IN_DELETE_SELF | IN_MOVE_SELF | IN_ATTRIB | IN_CLOSE_WRITE |
                IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO)


def busy(path):
    """Does a runner hold path's lock?"""
    return os.path.exists(path) and not lock_free(path)


def unit(name):
    p = configparser.ConfigParser(interpolation=None, strict=False)
    p.optionxform = str
    p.read(os.path.join(REPO_CONFIG, name))
    return p


class Watch:
    """An inotify watch on one directory with PathChanged='s mask."""

    def __init__(self, path):
        self.libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        self.fd = self.libc.inotify_init1(IN_NONBLOCK)
        assert self.fd >= 0, os.strerror(ctypes.get_errno())
        wd = self.libc.inotify_add_watch(self.fd, str(path).encode(),
                                         PATH_CHANGED)
        assert wd >= 0, os.strerror(ctypes.get_errno())

    def events(self, wait=0.3):
        """(mask, name) of every event so far, after wait seconds of quiet."""
        out = []
        while select.select([self.fd], [], [], wait)[0]:
            buf = os.read(self.fd, 65536)
            i = 0
            while i < len(buf):
                _, mask, _, n = struct.unpack_from("iIII", buf, i)
                name = buf[i + 16:i + 16 + n].rstrip(b"\0").decode()
                out.append((mask, name))
                i += 16 + n
        return out

    def close(self):
        os.close(self.fd)


def test_path_unit_starts_roots_runner_on_the_run_directory():
    path, runner = unit("relaymail-queue.path"), \
        unit("relaymail-runner.service")
    assert path["Path"]["PathChanged"] == "/var/spool/relaymail/run"
    assert path["Path"]["Unit"] == "relaymail-runner.service"
    assert path["Install"]["WantedBy"] == "paths.target"
    assert runner["Service"]["ExecStart"] == "/usr/sbin/sendmail --runner"
    assert "/var/spool/relaymail" in runner["Service"]["ReadWritePaths"]


def test_one_event_per_background_submission_none_from_runners(smarthost,
                                                               relay):
    host = smarthost(tls="starttls", user=USER, password=PASSWORD)
    relay.configure(host)
    run = relay.spool / "run"
    # the first submission makes run/0; watch from a quiet state on
    assert relay.run(["-odb", "-i", "bob@example.org"],
                     input=message()).rc == 0
    assert len(host.wait_messages(1)) == 1
    assert wait_until(lambda: not busy(run / "0"), timeout=30)
    w = Watch(run)
    try:
        # (read after each: inotify merges identical unread events)
        for i in range(3):
            assert relay.run(["-odb", "-i", "bob@example.org"],
                             input=message()).rc == 0
            assert len(host.wait_messages(2 + i)) == 2 + i
            assert wait_until(lambda: not busy(run / "0"), timeout=30)
            ev = w.events()
            assert ev == [(IN_CLOSE_WRITE, "0")], ev
        # a queue run and root's runner (what the path unit starts) are silent
        assert relay.run(["-odq", "-i", "bob@example.org"],
                         input=message()).rc == 0
        assert relay.run(["--runner"]).rc == 0
        assert relay.flush().rc == 0
        assert len(host.wait_messages(5)) == 5
        time.sleep(0.2)
        assert w.events() == []
    finally:
        w.close()
