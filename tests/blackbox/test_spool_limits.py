"""Spool limits (issue 11, point 5; SPEC "Spool limits"): [queue]
max_message_size, keep_failed, and the temporary file of a killed writer
removed by the next queue run. min_free and the per-user rule of the
clean-up need an unprivileged user: test_spool_limits_users.py.
"""

import os
import subprocess
import time

from harness import message
from test_bs import start
from test_queue_crash import reap, spawn

RCPT = "bob@example.org"


def listing(relay, sub):
    d = relay.spool / sub
    return sorted(os.listdir(d)) if d.exists() else []


def big_message(n):
    """A message of about n bytes."""
    line = "x" * 99 + "\n"
    return message(body=line * (n // 100 + 1))


def test_too_big_is_refused_with_73_and_nothing_kept(smarthost, relay):
    h = smarthost()
    relay.configure(h, queue={"max_message_size": "4k"})
    r = relay.run(["-i", RCPT], input=big_message(8192))
    assert r.rc == 73, r
    assert "message too big: bigger than [queue] max_message_size (4096 " \
        "bytes)" in r.err, r
    assert r.err.count("\n") == 1, r
    assert h.messages == [] and h.connections == []
    for sub in ("tmp", "q", "s", "failed"):
        assert listing(relay, sub) == [], sub
    # under the limit: delivered as before
    r = relay.run(["-i", RCPT], input=big_message(1000))
    assert r.rc == 0, r
    assert len(h.messages) == 1


def test_too_big_in_queue_mode_is_not_queued(smarthost, relay):
    h = smarthost()
    relay.configure(h, queue={"max_message_size": "4k", "mode": "queue"})
    r = relay.run(["-i", RCPT], input=big_message(8192))
    assert r.rc == 73, r
    assert listing(relay, "q") == [] and listing(relay, "tmp") == []


def test_zero_means_no_limit(smarthost, relay):
    h = smarthost()
    relay.configure(h, queue={"max_message_size": "0"})
    r = relay.run(["-i", RCPT], input=big_message(200 * 1024))
    assert r.rc == 0, r
    assert len(h.messages) == 1


def test_bad_limit_values_are_config_errors(relay):
    for key, value, why in (("max_message_size", "50X", "is not a size"),
                            ("min_free", "-1", "is not a size"),
                            ("keep_failed", "soon", "is not a duration")):
        relay.configure(port=25, tls="none", user=None,
                        queue={key: value})
        r = relay.run(["-i", RCPT], input=message())
        assert r.rc == 78, r
        assert "[queue] %s: \"%s\" %s" % (key, value, why) in r.err, r


def test_bs_announces_and_enforces_the_limit(smarthost, relay):
    h = smarthost()
    relay.configure(h, queue={"max_message_size": "4k"})
    s = start(relay)
    try:
        ehlo = s.cmd("EHLO client.example")
        assert "250-SIZE 4096" in ehlo, ehlo
        assert s.cmd("MAIL FROM:<alice@example.com> SIZE=5000")[0] \
            .startswith("552 5.3.4"), "SIZE= over the limit"
        assert s.cmd("MAIL FROM:<alice@example.com> SIZE=100")[0] \
            .startswith("250")
        assert s.cmd("RCPT TO:<%s>" % RCPT)[0].startswith("250")
        assert s.cmd("DATA")[0].startswith("354")
        s.send(big_message(8192).replace("\n", "\r\n").encode() + b".\r\n")
        assert s.reply()[0].startswith("552 5.3.4"), "data over the limit"
        assert s.cmd("QUIT")[0].startswith("221")
        s.close()
    finally:
        s.kill()
    assert h.messages == [] and listing(relay, "q") == []


def test_bs_just_under_the_limit_but_over_with_added_fields_is_552(smarthost,
                                                                  relay):
    """-bs counts the data as received; the spool also counts the Date: and
    Message-ID: relaymail adds. A message that passes the first count but
    not the second is still refused for good (552), never 451 (a client
    would retry it for ever)."""
    h = smarthost()
    relay.configure(h, queue={"max_message_size": "4k"})
    body = "x" * 99 + "\r\n"
    data = ("From: alice@example.com\r\nTo: %s\r\nSubject: near\r\n\r\n"
            % RCPT)
    data += body * ((4096 - 40 - len(data)) // len(body))
    assert 4000 < len(data) < 4096
    s = start(relay)
    try:
        s.cmd("EHLO client.example")
        assert s.cmd("MAIL FROM:<alice@example.com>")[0].startswith("250")
        assert s.cmd("RCPT TO:<%s>" % RCPT)[0].startswith("250")
        assert s.cmd("DATA")[0].startswith("354")
        s.send(data.encode() + b".\r\n")
        reply = s.reply()[0]
        assert reply.startswith("552 5.3.4"), reply
        assert s.cmd("QUIT")[0].startswith("221")
        s.close()
    finally:
        s.kill()
    assert h.messages == [] and listing(relay, "q") == []


def test_killed_writer_tmp_file_goes_with_the_next_queue_run(smarthost,
                                                             relay):
    h = smarthost()
    relay.configure(h, queue={"mode": "queue"})
    p = spawn(relay, ["-i", RCPT], stdin=subprocess.PIPE)
    try:
        p.stdin.write(b"From: alice@example.com\nSubject: half\n\n" +
                      b"y" * 100000)
        p.stdin.flush()
        deadline = time.monotonic() + 20
        while not listing(relay, "tmp"):
            assert time.monotonic() < deadline, "no temp file appeared"
            time.sleep(0.02)
        # a live writer's file is left alone
        assert relay.flush().rc == 0
        assert len(listing(relay, "tmp")) == 1
        p.kill()
        p.wait(10)
    finally:
        reap(p)
    assert len(listing(relay, "tmp")) == 1
    assert relay.flush().rc == 0
    assert listing(relay, "tmp") == []
    assert h.messages == []


def fail_one(smarthost, relay, keep):
    """One message refused for good (550): it lands in failed/."""
    h = smarthost(reject_rcpt={RCPT: "550 5.1.1 no such user"})
    relay.configure(h, queue={"keep_failed": keep, "mode": "queue"})
    assert relay.run(["-i", RCPT], input=message()).rc == 0
    assert relay.flush().rc == 0
    failed = listing(relay, "failed")
    assert len(failed) == 2, failed         # ID and ID.state
    return h


def test_keep_failed_removes_old_failed_messages(smarthost, relay):
    fail_one(smarthost, relay, "1s")
    time.sleep(2.2)
    assert relay.flush().rc == 0
    assert listing(relay, "failed") == []


def test_keep_failed_keeps_younger_ones_and_zero_keeps_all(smarthost, relay):
    fail_one(smarthost, relay, "1h")
    assert relay.flush().rc == 0
    assert len(listing(relay, "failed")) == 2
    relay.configure(port=25, tls="none", user=None,
                    queue={"keep_failed": "0", "mode": "queue"})
    time.sleep(1.2)
    assert relay.flush().rc == 0
    assert len(listing(relay, "failed")) == 2
