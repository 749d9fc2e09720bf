"""The background queue runner (issue 10): a burst of -odb submissions
shares one runner and its connection, and a smarthost that throttles
(421, or 4.7.x / 4.3.2 to MAIL, RCPT or DATA) ends the queue run.

The privilege side (a user's runner never touches another user's mail) is
in test_user_isolation.py.
"""

import fcntl
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import is_sanitized, sendmail_path
from harness import PASSWORD, USER, header, lock_free, message
from test_bs import QUEUED, msg, send_message, start
from test_queue import queue_ids as queued, wait_until

RCPT = "bob@example.org"


def runner_busy(relay):
    """Does a runner hold the lock of run/0 (we run as root)?"""
    path = relay.spool / "run" / "0"
    return path.exists() and not lock_free(path)


def slow():
    """valgrind or a sanitizer: every process is many times slower."""
    return bool(os.environ.get("RELAYMAIL_SLOW")) or \
        is_sanitized(sendmail_path())


def burst(relay, callers, each, args=("-odb",)):
    """callers threads submit each messages one after another; the ids."""
    def caller(c):
        ids = []
        for i in range(each):
            mid = "<burst.%d.%d@example.com>" % (c, i)
            r = relay.run(list(args) + ["-i", RCPT], input=message(
                headers=["Message-ID: " + mid], msgid=False))
            assert r.rc == 0, r
            ids.append(mid)
        return ids
    with ThreadPoolExecutor(max_workers=callers) as ex:
        return [m for ids in ex.map(caller, range(callers)) for m in ids]


def arrived_ids(host):
    """The Message-ID of every message the smarthost accepted."""
    return [header(m.data, "Message-ID")[0] for m in host.messages]


def test_burst_of_background_submissions_shares_a_connection(smarthost,
                                                              relay):
    """300 -odb submissions from 10 parallel callers: each message arrives
    exactly once, over one or two connections (not one per message), and
    nothing is left queued."""
    callers, each = (3, 10) if slow() else (10, 30)
    host = smarthost(tls="starttls", user=USER, password=PASSWORD)
    relay.configure(host)
    ids = burst(relay, callers, each)
    n = callers * each
    assert len(host.wait_messages(n, timeout=120)) == n
    assert wait_until(lambda: not runner_busy(relay), timeout=30)
    got = arrived_ids(host)
    assert sorted(got) == sorted(ids), "each message exactly once"
    limit = 2 if not slow() else n // 3
    assert len(host.connections) <= limit, \
        "%d connections for %d messages" % (len(host.connections), n)
    assert queued(relay) == []


def test_background_submission_wakes_the_running_runner(smarthost, relay):
    """A submission that finds a runner at work leaves its message to it:
    both go out over the one connection, the second within a second."""
    host = smarthost(tls="starttls", user=USER, password=PASSWORD,
                     stall={"data_end": 1.0})
    relay.configure(host)
    r = relay.run(["-odb", "-i", RCPT], input=message(
        headers=["Message-ID: <first@example.com>"], msgid=False))
    assert r.rc == 0, r
    assert wait_until(lambda: runner_busy(relay), timeout=10)
    start = time.monotonic()
    r = relay.run(["-odb", "-i", RCPT], input=message(
        headers=["Message-ID: <second@example.com>"], msgid=False))
    assert r.rc == 0, r
    assert len(host.wait_messages(2, timeout=30)) == 2
    took = time.monotonic() - start
    assert len(host.connections) == 1
    assert took < (10 if slow() else 3.5), took
    assert wait_until(lambda: not runner_busy(relay), timeout=30)
    assert queued(relay) == []


def test_runner_option_delivers_due_mail_only(smarthost, relay):
    """sendmail --runner (what the .path unit starts) delivers what is due
    and leaves a deferred message for its retry time."""
    host = smarthost(tls="starttls", user=USER, password=PASSWORD,
                     mail_reply="451 4.3.0 later (test)")
    relay.configure(host)
    r = relay.run(["-i", RCPT], input=message())
    assert r.rc == 0 and len(queued(relay)) == 1, r
    host.opts["mail_reply"] = None
    r = relay.run(["-odq", "-i", "carol@example.org"], input=message())
    assert r.rc == 0 and len(queued(relay)) == 2, r
    r = relay.run(["--runner"])
    assert r.rc == 0, r
    assert [m.rcpt_tos for m in host.wait_messages(1)] == \
        [["carol@example.org"]]
    assert len(queued(relay)) == 1      # the deferred one waits
    assert relay.flush().rc == 0
    assert len(host.wait_messages(2)) == 2 and queued(relay) == []


def test_bs_in_background_mode_hands_every_message_to_one_runner(smarthost,
                                                                 relay):
    """-bs with [queue] mode = background: each message is answered at
    once, and the session's messages go out over one runner's connection."""
    host = smarthost(tls="starttls", user=USER, password=PASSWORD)
    relay.configure(host, queue={"mode": "background"})
    s = start(relay)
    try:
        for i in range(3):
            reply = send_message(s, msg(i))[0]
            assert QUEUED.match(reply), reply
        assert s.cmd("QUIT")[0].startswith("221")
        rc, _, err = s.close()
    finally:
        s.kill()
    assert rc == 0, err
    assert len(host.wait_messages(3)) == 3
    assert wait_until(lambda: not runner_busy(relay), timeout=30)
    assert len(host.connections) == 1 and queued(relay) == []


def test_runner_file_trouble_keeps_the_message_and_says_why(smarthost, relay):
    """A planted run/UID: -odb still exits 0 with the message queued and a
    notice; --runner says so in one line (exit 71). While another runner
    holds the lock, --runner leaves the work to it at once."""
    host = smarthost(tls="starttls", user=USER, password=PASSWORD)
    relay.configure(host)
    assert relay.run(["-odq", "-i", RCPT], input=message()).rc == 0
    run0 = relay.spool / "run" / "0"
    run0.unlink(missing_ok=True)
    os.symlink("/etc/passwd", run0)
    r = relay.run(["-odb", "-i", RCPT], input=message())
    assert r.rc == 0 and "cannot wake the queue runner" in r.err, r
    assert len(queued(relay)) == 2
    r = relay.run(["--runner"])
    assert r.rc == 71 and "run/0" in r.err and len(r.err.splitlines()) == 1, r
    run0.unlink()
    with open(run0, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)           # another runner at work
        assert relay.run(["--runner"]).rc == 0
        assert host.messages == [] and len(queued(relay)) == 2
    assert relay.run(["--runner"]).rc == 0
    assert len(host.wait_messages(2)) == 2 and queued(relay) == []


# --- a smarthost that throttles --------------------------------------------

# fault -> (smarthost options, MAIL commands sent, attempts counted). With
# PIPELINING the next message's MAIL rides behind the previous data, before
# its reply is known: after a 421 that one is left untried (no attempt),
# after a 451 4.7.0 (session kept) it is finished and counted.
THROTTLES = {
    "greeting 421": (dict(greeting_reply="421 4.7.0 Try again later"), 0, 1),
    "MAIL 451 4.7.1": (dict(mail_reply="451 4.7.1 Rate limit exceeded"),
                       1, 1),
    "RCPT 432 4.3.2": (dict(reject_rcpt={
        RCPT: "432 4.3.2 Concurrent connections limit exceeded"}), 1, 1),
    "DATA 421 4.7.0": (dict(data_reply="421 4.7.0 Too many messages"), 2, 1),
    "DATA 451 4.7.0": (dict(data_reply="451 4.7.0 Slow down"), 2, 2),
}


@pytest.mark.parametrize("fault", sorted(THROTTLES))
def test_throttling_smarthost_ends_the_run(smarthost, relay, fault):
    """10 queued messages; the smarthost throttles the first: no reconnect
    and no MAIL once the reply is in; the messages not tried have no
    attempt counted, say why in mailq and the log, and are due at the next
    retry time (a due-only run leaves them; -q sends them)."""
    opts, n_mail, counted = THROTTLES[fault]
    host = smarthost(tls="starttls", user=USER, password=PASSWORD, **opts)
    relay.configure(host, queue={"retry": "10m..1h"})
    ids = []
    for i in range(10):
        ids.append("<t%d@example.com>" % i)
        r = relay.run(["-odq", "-i", RCPT], input=message(
            headers=["Message-ID: " + ids[-1]], msgid=False))
        assert r.rc == 0, r
    assert relay.flush().rc == 0
    assert len(host.connections) == 1, "no reconnect"
    mails = [l for l in host.commands() if l.upper().startswith("MAIL")]
    assert len(mails) == n_mail, mails
    assert len(queued(relay)) == 10
    log = relay.log_text()
    deferred = re.findall(r"attempts=(\d+), status=deferred \(([^\n]*)\)",
                          log)
    assert sorted(a for a, _ in deferred) == \
        ["0"] * (10 - counted) + ["1"] * counted, log
    assert all("the smarthost throttled" in why
               for a, why in deferred if a == "0"), log
    assert "queue run stopped: the smarthost" in log
    q = relay.mailq().out
    assert q.count("the smarthost throttled") == 10 - counted, q
    # due again at the next retry time, not at once
    for k in ("greeting_reply", "mail_reply", "data_reply", "reject_rcpt"):
        host.opts.pop(k, None)
    before = len(host.messages)
    assert relay.run(["--runner"]).rc == 0
    assert len(host.messages) == before
    assert relay.flush().rc == 0
    assert wait_until(lambda: set(ids) <= set(arrived_ids(host)))
    assert queued(relay) == []


def test_ordinary_temporary_failure_does_not_end_the_run(smarthost, relay):
    """451 4.3.0 to MAIL is not throttling: every message is tried."""
    host = smarthost(tls="starttls", user=USER, password=PASSWORD,
                     mail_reply="451 4.3.0 Local problem")
    relay.configure(host)
    for i in range(3):
        assert relay.run(["-odq", "-i", RCPT], input=message()).rc == 0
    assert relay.flush().rc == 0
    mails = [l for l in host.commands() if l.upper().startswith("MAIL")]
    assert len(mails) == 3
    assert "throttled" not in relay.mailq().out
