"""kill -9 at any instant loses no accepted message and never shows or
sends a partial one (SPEC "Delivery, queue and exit status")."""

import hashlib
import json
import os
import random
import signal
import socket
import subprocess
import threading
import time

from conftest import sendmail_path
from harness import header, split_message

RCPT = "bob@example.org"
LINE = b"0123456789abcdefghijklmnopqrstuvwxyz" * 5 + b"\n"   # 181 bytes
BIG = LINE * (20 * 1024 * 1024 // len(LINE))                 # about 20 MB
BIG_WIRE_SHA = hashlib.sha256(BIG.replace(b"\n", b"\r\n")).hexdigest()
KILLS = 50


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def env_for(relay):
    return {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(relay.dir),
            "LANG": "C", "USER": "root", "LOGNAME": "root"}


def head(mid):
    return (b"From: alice@example.com\nTo: bob@example.org\nSubject: big\n"
            b"Date: Fri, 27 Nov 2026 03:00:00 +0000\n"
            b"Message-ID: <%s>\n\n" % mid.encode())


def queue_ids(relay):
    d = relay.spool / "q"
    return sorted(os.listdir(d)) if d.exists() else []


def mailq_json(relay):
    r = relay.run(["-bp", "--json"])
    assert r.rc == 0, r
    return [json.loads(l) for l in r.out.splitlines() if l.strip()]


def spawn(relay, args, stdin=subprocess.DEVNULL):
    """sendmail -C <the relay's configuration> args, started; no output."""
    return subprocess.Popen([sendmail_path(), "-C", relay.conf] + args,
                            stdin=stdin, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env_for(relay),
                            cwd=str(relay.dir))


def reap(p):
    """Kill p if it still runs, and wait for it."""
    if p.poll() is None:
        p.kill()
        p.wait(10)


def wait_for_data(h, n):
    """Wait until smarthost h has more than n messages (the data is in)."""
    deadline = time.monotonic() + 30
    while len(h.messages) <= n and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(h.messages) > n, "the data never arrived"


def submit(relay, mid, kill_after):
    """Feed head+BIG through a pipe to sendmail -odq; SIGKILL it after
    kill_after seconds (None: let it finish). Returns (rc, seconds)."""
    p = spawn(relay, ["-odq", "-i", RCPT], stdin=subprocess.PIPE)
    data = memoryview(head(mid) + BIG)

    def feed():
        try:
            for off in range(0, len(data), 1 << 20):
                p.stdin.write(data[off:off + (1 << 20)])
            p.stdin.close()
        except (BrokenPipeError, ValueError, OSError):
            pass
    t0 = time.monotonic()
    w = threading.Thread(target=feed, daemon=True)
    w.start()
    try:
        if kill_after is not None:
            time.sleep(kill_after)
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
        p.wait(60)
    finally:
        reap(p)
        w.join(30)
        try:
            p.stdin.close()
        except (BrokenPipeError, OSError):
            pass
    return p.returncode, time.monotonic() - t0


def test_kill9_submitter_reading_20mb_leaves_only_whole_messages(
        smarthost, relay):
    port = free_port()
    relay.configure(port=port, tls="starttls", queue={"mode": "queue"})
    seed = int(time.time())
    rng = random.Random(seed)
    # one undisturbed run measures how long a whole submission takes
    rc, full = submit(relay, "crash.ref@example.com", None)
    assert rc == 0, "a 20 MB submission failed: exit %r" % rc
    ok = {"<crash.ref@example.com>"}
    tried = set(ok)
    for i in range(KILLS):
        mid = "crash.%d@example.com" % i
        tried.add("<%s>" % mid)
        rc, _ = submit(relay, mid, rng.uniform(0, full * 1.2))
        assert rc in (0, -signal.SIGKILL), "seed %d: exit %r" % (seed, rc)
        if rc == 0:
            ok.add("<%s>" % mid)
    # mailq sees only committed messages, each whole
    ids = queue_ids(relay)
    js = mailq_json(relay)
    assert sorted(j["queue_id"] for j in js) == ids, (seed, js)
    for j in js:
        assert j["message_size"] > len(BIG), (seed, j)
    q = relay.mailq()
    assert q.rc == 0, q
    assert ("in %d Request" % len(ids)) in q.out, (seed, q.out[-300:])
    print("seed %d: %.2fs per submission, %d of %d killed ones exited 0, "
          "%d queued" % (seed, full, len(ok) - 1, KILLS, len(ids)))
    # a runner delivers exactly those, whole
    h = smarthost(tls="starttls", port=port)
    f = relay.flush(timeout=170)
    assert f.rc == 0, f
    got = {}
    for m in h.messages:
        mid = header(m.data, "message-id")[0]
        assert mid in tried, mid
        assert mid not in got, "seed %d: %s sent twice" % (seed, mid)
        body = split_message(m.data)[1]
        got[mid] = (len(body), hashlib.sha256(body).hexdigest())
        m.data = None          # keep memory bounded
    for mid, (n, sha) in got.items():
        assert sha == BIG_WIRE_SHA, "seed %d: %s arrived partial (%d bytes)" \
            % (seed, mid, n)
    assert len(got) == len(ids), (seed, len(got), len(ids))
    missing = ok - set(got)
    assert not missing, "seed %d: exit 0 but never delivered: %s" % (
        seed, sorted(missing))
    assert "Mail queue is empty" in relay.mailq().out
    # leftovers of the killed writers are the spool's business, not shown;
    # free the disk space now
    for name in os.listdir(relay.spool / "tmp"):
        try:
            os.unlink(relay.spool / "tmp" / name)
        except OSError:
            pass


def test_kill9_runner_mid_transfer_keeps_message(smarthost, relay):
    h = smarthost(tls="starttls", stall={"data_end": 30})
    relay.configure(h)
    big = LINE * (5 * 1024 * 1024 // len(LINE))
    r = relay.run(["-odq", "-i", RCPT],
                  input=head("runner.1@example.com") + big)
    assert r.rc == 0, r
    ids = queue_ids(relay)
    assert len(ids) == 1
    p = spawn(relay, ["-q"])
    try:
        wait_for_data(h, 0)
        # the data is in, the 250 is held back: kill the runner now
        assert p.poll() is None
        p.send_signal(signal.SIGKILL)
        p.wait(10)
    finally:
        reap(p)
    assert queue_ids(relay) == ids
    q = relay.mailq()
    assert ids[0] in q.out and RCPT in q.out, q.out
    assert ids[0] + "*" not in q.out, "a dead runner still holds it: " + q.out
    h.opts["stall"] = None
    f = relay.flush(timeout=60)
    assert f.rc == 0, f
    assert len(h.messages) == 2        # the resend: a duplicate, not a loss
    last = h.messages[-1]
    assert header(last.data, "message-id") == ["<runner.1@example.com>"]
    assert split_message(last.data)[1] == big.replace(b"\n", b"\r\n")
    assert "Mail queue is empty" in relay.mailq().out
    assert queue_ids(relay) == []


def test_sync_send_is_pending_until_the_250(smarthost, relay):
    """A sync send tries the smarthost first: while the 250 is held back the
    message is in tmp/ only (mailq and a queue runner cannot see it); once
    delivered it never touched q/. Killed before the 250, it accepted
    nothing (its caller sees the kill, not exit 0) and leaves nothing a
    runner would send."""
    h = smarthost(tls="starttls", stall={"data_end": 30})
    relay.configure(h)
    msg = head("pending.1@example.com") + LINE * 10

    # held back: invisible, and a concurrent runner sends nothing
    p = spawn(relay, ["-odi", "-i", RCPT], stdin=subprocess.PIPE)
    try:
        p.stdin.write(msg)
        p.stdin.close()
        wait_for_data(h, 0)
        assert queue_ids(relay) == []
        assert len(os.listdir(relay.spool / "tmp")) == 1
        assert "Mail queue is empty" in relay.mailq().out
        f = relay.flush(timeout=30)
        assert f.rc == 0, f
        assert len(h.messages) == 1
        p.send_signal(signal.SIGKILL)
        p.wait(10)
    finally:
        reap(p)
    assert p.returncode == -signal.SIGKILL
    assert queue_ids(relay) == []
    assert relay.flush(timeout=30).rc == 0
    assert len(h.messages) == 1         # nothing queued behind the caller's back
    # the killed writer's temp file went with that queue run (issue 11)
    leftover = sorted(os.listdir(relay.spool / "tmp"))
    assert leftover == []

    # released: exit 0 with the 250, and the spool is as before
    h.opts["stall"] = None
    r = relay.run(["-odi", "-i", RCPT], input=msg)
    assert r.rc == 0, r
    assert len(h.messages) == 2
    assert queue_ids(relay) == []
    assert sorted(os.listdir(relay.spool / "tmp")) == leftover
