"""The durable queue: faults queued then delivered, runners, -odq/-odb,
retry backoff, interval runs, bounces (RFC 3464) and max_age (issue 3).

The basic cases (451 on MAIL, 421 mid-session, 535, each queued then
flushed) are in test_queue_tempfail.py; here the other faults are queued AND
delivered by a later run once the fault is gone.
"""

import email
import email.policy
import json
import os
import re
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

from conftest import sendmail_path
from harness import envelope_sender, header, message

RCPT = "bob@example.org"
SENDER = "alice@example.com"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_until(pred, timeout=20, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


def queue_ids(relay):
    d = relay.spool / "q"
    return sorted(os.listdir(d)) if d.exists() else []


def failed_ids(relay):
    d = relay.spool / "failed"
    return sorted(os.listdir(d)) if d.exists() else []


def mailq_json(relay):
    r = relay.run(["-bp", "--json"])
    assert r.rc == 0, r
    return [json.loads(l) for l in r.out.splitlines() if l.strip()]


def assert_empty(relay):
    q = relay.mailq()
    assert q.rc == 0, q
    assert "Mail queue is empty" in q.out, q
    assert queue_ids(relay) == []


def msg_with_id(mid, body="Hello.\n", to=RCPT):
    return ("From: %s\nTo: %s\nSubject: q\nMessage-ID: <%s>\n"
            "Date: Fri, 27 Nov 2026 03:00:00 +0000\n\n%s" % (
                SENDER, to, mid, body))


def msgids(h):
    return [header(m.data, "message-id")[0] for m in h.messages]


def is_null(m):
    """The transaction came from the null sender (MAIL FROM:<>)."""
    return envelope_sender(m) == ""


def popen_sendmail(relay, args):
    e = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(relay.dir),
         "LANG": "C", "USER": "root", "LOGNAME": "root"}
    return subprocess.Popen([sendmail_path(), "-C", relay.conf] + list(args),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=e,
                            cwd=str(relay.dir))


def parse_dsn(data):
    """(top message, delivery-status per-message fields, [per-recipient])."""
    m = email.message_from_bytes(data, policy=email.policy.compat32)
    assert m.get_content_type() == "multipart/report", m.get_content_type()
    assert m.get_param("report-type") == "delivery-status", m["Content-Type"]
    parts = m.get_payload()
    ds = [p for p in parts if p.get_content_type() == "message/delivery-status"]
    assert len(ds) == 1, [p.get_content_type() for p in parts]
    # the payload of message/delivery-status is a list of header blocks
    blocks = ds[0].get_payload()
    assert isinstance(blocks, list) and len(blocks) >= 2, blocks
    return m, blocks[0], blocks[1:]


# --- faults queued, then delivered ----------------------------------------

def test_down_notice_is_one_line_and_q_empties_queue(smarthost, relay):
    port = free_port()
    relay.configure(port=port, tls="starttls")
    r = relay.run(["-i", RCPT], input=message(body="one line notice\n"))
    assert r.rc == 0, r
    assert len(r.err.strip().splitlines()) == 1, r.err
    q = relay.mailq()
    assert RCPT in q.out and "1 Request." in q.out, q
    h = smarthost(tls="starttls", port=port)
    f = relay.flush()
    assert f.rc == 0, f
    assert len(h.messages) == 1
    assert h.messages[0].rcpt_tos == [RCPT]
    assert h.messages[0].data.endswith(b"one line notice\r\n")
    assert_empty(relay)


def test_stall_past_timeout_queued_then_delivered(smarthost, relay):
    h = smarthost(tls="starttls", stall={"mail": 6})
    relay.configure(h, smarthost={"timeout": "2s"})
    t0 = time.monotonic()
    r = relay.run(["-i", RCPT], input=message(body="stalled\n"), timeout=30)
    took = time.monotonic() - t0
    assert r.rc == 0, r
    assert r.err.strip(), r
    assert took < 5.5, "timeout = 2s not honoured: %.1fs" % took
    assert h.messages == []
    assert len(queue_ids(relay)) == 1
    h.opts["stall"] = None
    f = relay.flush()
    assert f.rc == 0, f
    assert len(h.messages) == 1
    assert h.messages[0].data.endswith(b"stalled\r\n")
    assert_empty(relay)


def test_tls_untrusted_queued_then_delivered(smarthost, relay, certs):
    bad = smarthost(tls="starttls", cert=certs.untrusted_cert,
                    key=certs.untrusted_key)
    port = bad.port
    relay.configure(bad)
    r = relay.run(["-i", RCPT], input=message(body="tls later\n"))
    assert r.rc == 0, r
    assert r.err.strip(), r
    assert bad.messages == [] and bad.auth_lines == []
    assert len(queue_ids(relay)) == 1
    bad.stop()
    good = smarthost(tls="starttls", port=port)
    f = relay.flush()
    assert f.rc == 0, f
    assert len(good.messages) == 1
    assert good.messages[0].data.endswith(b"tls later\r\n")
    assert_empty(relay)


def test_close_after_data_queued_then_delivered(smarthost, relay):
    h = smarthost(tls="starttls", close_after_data=True)
    relay.configure(h)
    r = relay.run(["-i", RCPT], input=msg_with_id("cad.1@example.com"))
    assert r.rc == 0, r
    assert len(queue_ids(relay)) == 1, "message lost after unanswered data"
    h.opts["close_after_data"] = False
    f = relay.flush()
    assert f.rc == 0, f
    # a duplicate is acceptable, a loss is not
    assert len(h.messages) >= 2
    assert msgids(h)[-1] == "<cad.1@example.com>"
    assert_empty(relay)


# --- runners ----------------------------------------------------------------

def test_40_parallel_submissions_two_runners_exactly_once(smarthost, relay):
    port = free_port()
    relay.configure(port=port, tls="starttls")
    ids = ["par.%d@example.com" % i for i in range(40)]

    def submit(mid):
        return relay.run(["-i", RCPT], input=msg_with_id(mid))
    with ThreadPoolExecutor(max_workers=40) as ex:
        results = list(ex.map(submit, ids))
    for r in results:
        assert r.rc == 0, r
    assert len(queue_ids(relay)) == 40
    h = smarthost(tls="starttls", port=port, stall={"data_end": 0.02})
    procs = [popen_sendmail(relay, ["-q"]) for _ in range(2)]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    got = msgids(h)
    assert sorted(got) == sorted("<%s>" % i for i in ids), got
    assert len(h.messages) == 40
    mails = [l for l in h.commands() if l.upper().startswith("MAIL FROM")]
    assert len(mails) == 40, len(mails)
    assert_empty(relay)


def test_200_queued_flushed_over_one_connection(smarthost, relay):
    h = smarthost(tls="starttls")
    relay.configure(h)

    def submit(i):
        return relay.run(["-odq", "-i", RCPT],
                         input=msg_with_id("many.%d@example.com" % i))
    with ThreadPoolExecutor(max_workers=8) as ex:
        results = list(ex.map(submit, range(200)))
    for r in results:
        assert r.rc == 0, r
    assert h.connections == []
    assert len(queue_ids(relay)) == 200
    f = relay.flush(timeout=120)
    assert f.rc == 0, f
    assert len(h.messages) == 200
    assert len(set(msgids(h))) == 200
    assert len(h.connections) == 1, len(h.connections)
    assert_empty(relay)


def test_odq_queues_without_connecting(smarthost, relay):
    h = smarthost(tls="starttls")
    relay.configure(h)
    r = relay.run(["-odq", "-i", RCPT], input=message())
    assert r.rc == 0, r
    time.sleep(0.3)
    assert h.connections == [], "-odq connected to the smarthost"
    assert len(queue_ids(relay)) == 1
    q = relay.mailq()
    assert RCPT in q.out and "1 Request." in q.out, q


def test_odb_returns_before_delivery_completes(smarthost, relay):
    h = smarthost(tls="starttls", stall={"data_end": 2.5})
    relay.configure(h)
    t0 = time.monotonic()
    r = relay.run(["-odb", "-i", RCPT],
                  input=msg_with_id("bg.1@example.com", body="bg body\n"))
    took = time.monotonic() - t0
    assert r.rc == 0, r
    assert took < 1.5, "-odb waited %.1fs for the delivery" % took
    # the detached child delivers it: the data arrives, then the 250 and the
    # queue empties
    assert wait_until(lambda: len(h.messages) >= 1, 15), "never delivered"
    assert msgids(h) == ["<bg.1@example.com>"]
    assert h.messages[0].data.endswith(b"bg body\r\n")
    assert wait_until(lambda: queue_ids(relay) == [], 15), queue_ids(relay)
    assert len(h.messages) == 1


def test_retry_backoff_state_after_failed_attempt(relay):
    port = free_port()
    relay.configure(port=port, tls="starttls",
                    queue={"retry": "60s..10m"})
    before = int(time.time())
    r = relay.run(["-i", RCPT], input=message())
    after = int(time.time())
    assert r.rc == 0, r
    js = mailq_json(relay)
    assert len(js) == 1, js
    j = js[0]
    assert j["attempts"] == 1, j
    assert before + 60 - 1 <= j["next_retry"] <= after + 60 + 1, (before, j)
    # a second forced run (server still down) doubles the delay
    before = int(time.time())
    relay.flush()
    after = int(time.time())
    j = mailq_json(relay)[0]
    assert j["attempts"] == 2, j
    assert before + 120 - 1 <= j["next_retry"] <= after + 120 + 1, (before, j)


def test_interval_runner_delivers_once_server_back(smarthost, relay):
    port = free_port()
    relay.configure(port=port, tls="starttls", queue={"retry": "1s..1s"})
    r = relay.run(["-i", RCPT], input=msg_with_id("int.1@example.com"))
    assert r.rc == 0, r
    p = popen_sendmail(relay, ["-q1s"])
    p.stdin.close()
    try:
        time.sleep(1.5)
        assert p.poll() is None, "sendmail -q1s did not stay running"
        h = smarthost(tls="starttls", port=port)
        assert wait_until(lambda: queue_ids(relay) == [], 15), \
            "the interval runner never delivered"
        time.sleep(1.5)   # a few more intervals: nothing sent twice
        assert p.poll() is None, "sendmail -q1s exited"
    finally:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(10)
        p.stdout.close()
        p.stderr.close()
    assert msgids(h) == ["<int.1@example.com>"]
    assert_empty(relay)


# --- bounces ----------------------------------------------------------------

def test_queue_run_5xx_for_one_recipient_bounces_dsn(smarthost, relay):
    h = smarthost(tls="starttls",
                  reject_rcpt={"bad@example.org": "550 5.1.1 no such user"})
    relay.configure(h)
    r = relay.run(["-odq", "-i", "-f", SENDER, "good@example.org",
                   "bad@example.org"],
                  input=msg_with_id("bounce.1@example.com", to="x@y.org"))
    assert r.rc == 0, r
    qid = queue_ids(relay)
    assert len(qid) == 1
    f = relay.flush()
    assert f.rc == 0, f
    assert wait_until(lambda: len(h.messages) >= 2, 10), h.messages
    assert len(h.messages) == 2, h.messages
    orig = [m for m in h.messages if not is_null(m)]
    bounces = [m for m in h.messages if is_null(m)]
    assert len(orig) == 1 and orig[0].rcpt_tos == ["good@example.org"]
    assert len(bounces) == 1, h.messages
    b = bounces[0]
    assert b.mail_line.upper().startswith("MAIL FROM:<>"), b.mail_line
    assert b.rcpt_tos == [SENDER]
    top, per_msg, per_rcpt = parse_dsn(b.data)
    assert len(per_rcpt) == 1, per_rcpt
    pr = per_rcpt[0]
    assert "bad@example.org" in pr["Final-Recipient"], pr["Final-Recipient"]
    assert pr["Action"].strip().lower() == "failed", pr["Action"]
    assert re.match(r"5\.\d{1,3}\.\d{1,3}$", pr["Status"].strip()), \
        pr["Status"]
    assert pr["Status"].strip() == "5.1.1", pr["Status"]   # the smarthost's
    assert "550" in (pr["Diagnostic-Code"] or ""), pr["Diagnostic-Code"]
    assert re.match(r"(?i)rfc822;\s*bad@example\.org$",
                    pr["Final-Recipient"].strip()), pr["Final-Recipient"]
    assert per_msg["Reporting-MTA"], per_msg.items()
    # the original's headers (or the whole original) come along
    rest = top.get_payload()[2:]
    assert rest and rest[0].get_content_type() in (
        "text/rfc822-headers", "message/rfc822"), rest
    assert b"bounce.1@example.com" in rest[0].as_bytes(), rest[0].as_bytes()
    assert top["To"] and SENDER in top["To"], top["To"]
    assert (top["Auto-Submitted"] or "").lower().startswith("auto-"), \
        top["Auto-Submitted"]
    assert "good@example.org" not in str(b.data.split(b"\r\n\r\n")[0])
    # kept in failed/, gone from the queue
    assert queue_ids(relay) == []
    failed = failed_ids(relay)
    assert qid[0] in failed, failed
    assert_empty(relay)


def test_no_bounce_for_null_sender(smarthost, relay):
    h = smarthost(tls="starttls",
                  reject_rcpt={"bad@example.org": "550 5.1.1 no such user"})
    relay.configure(h)
    r = relay.run(["-odq", "-i", "-f", "<>", "good@example.org",
                   "bad@example.org"],
                  input=msg_with_id("null.1@example.com", to="x@y.org"))
    assert r.rc == 0, r
    qid = queue_ids(relay)
    f = relay.flush()
    assert f.rc == 0, f
    time.sleep(0.5)
    assert len(h.messages) == 1, h.messages
    assert h.messages[0].rcpt_tos == ["good@example.org"]
    assert is_null(h.messages[0])
    assert qid[0] in failed_ids(relay)
    assert_empty(relay)


def test_max_age_expiry_bounces_447(smarthost, relay):
    port = free_port()
    relay.configure(port=port, tls="starttls", queue={"max_age": "2s"})
    r = relay.run(["-i", "-f", SENDER, RCPT],
                  input=msg_with_id("old.1@example.com"))
    assert r.rc == 0, r
    qid = queue_ids(relay)
    assert len(qid) == 1
    time.sleep(3.2)   # age in whole seconds must exceed 2
    h = smarthost(tls="starttls", port=port)
    f = relay.flush()
    assert f.rc == 0, f
    assert wait_until(lambda: len(h.messages) >= 1, 10)
    time.sleep(0.3)
    # the expired message itself is not sent; its bounce is
    assert len(h.messages) == 1, h.messages
    b = h.messages[0]
    assert is_null(b) and b.rcpt_tos == [SENDER], b
    top, per_msg, per_rcpt = parse_dsn(b.data)
    assert len(per_rcpt) == 1
    pr = per_rcpt[0]
    assert RCPT in pr["Final-Recipient"], pr["Final-Recipient"]
    assert pr["Action"].strip().lower() == "failed", pr["Action"]
    assert pr["Status"].strip() == "4.4.7", pr["Status"]
    assert qid[0] in failed_ids(relay)
    assert_empty(relay)
