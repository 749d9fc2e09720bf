"""Queue runs that select (-qI, -qR) and the log line of each attempt."""

import json
import re

from harness import message


def queued_ids(relay):
    q = relay.run(["-bp", "--json"])
    assert q.rc == 0, q
    return {json.loads(line)["queue_id"]: json.loads(line)
            for line in q.out.splitlines() if line.strip()}


def queue_two(smarthost, relay):
    h = smarthost(tls="starttls")
    relay.configure(h)
    for rcpt in ("a@one.example", "b@two.example"):
        r = relay.run(["-odq", "-i", rcpt], input=message(to=rcpt))
        assert r.rc == 0, r
    assert h.messages == []
    return h


def test_q_i_delivers_only_the_selected_id(smarthost, relay):
    h = queue_two(smarthost, relay)
    ids = queued_ids(relay)
    first = sorted(ids)[0]
    r = relay.run(["-qI" + first])
    assert r.rc == 0, r
    assert len(h.messages) == 1
    assert h.messages[0].rcpt_tos == ids[first]["recipients"][0]["address"].split()
    assert set(queued_ids(relay)) == set(ids) - {first}


def test_q_r_delivers_only_the_selected_domain(smarthost, relay):
    h = queue_two(smarthost, relay)
    r = relay.run(["-qRtwo.example"])
    assert r.rc == 0, r
    assert [m.rcpt_tos for m in h.messages] == [["b@two.example"]]
    left = queued_ids(relay)
    assert [v["recipients"][0]["address"] for v in left.values()] == ["a@one.example"]


def test_log_line_per_attempt_deferred_then_sent(smarthost, relay):
    h = smarthost(tls="starttls", mail_reply="451 4.3.0 try later")
    relay.configure(h)
    r = relay.run(["-i", "bob@example.org"], input=message())
    assert r.rc == 0, r
    h.opts["mail_reply"] = None
    assert relay.flush().rc == 0
    lines = [l for l in relay.log_text().splitlines() if "status=" in l]
    assert len(lines) == 2, lines
    pat = (r"(?P<id>[0-9A-F]{16}): from=<root@example.com>, to=<bob@example.org>, "
           r"size=\d+, relay=127\.0\.0\.1\[127\.0\.0\.1\]:%d, delay=\d+, "
           r"attempts=(?P<n>\d), status=(?P<st>\w+) \((?P<why>.*)\)$" % h.port)
    first, second = (re.search(pat, l) for l in lines)
    assert first and second, lines
    assert first["id"] == second["id"]
    assert (first["n"], first["st"]) == ("1", "deferred")
    assert first["why"].startswith("451 4.3.0 try later")
    assert (second["n"], second["st"]) == ("2", "sent")
    assert second["why"].startswith("250")


def test_log_line_for_a_bounced_recipient(smarthost, relay):
    h = smarthost(tls="starttls", reject_rcpt={"bad@example.org": "550 5.1.1 no such user"})
    relay.configure(h)
    r = relay.run(["-i", "bad@example.org"], input=message())
    assert r.rc == 67, r
    log = relay.log_text()
    assert re.search(r"to=<bad@example.org>, .*attempts=1, status=bounced "
                     r"\(550 5\.1\.1 no such user\)", log), log
    assert "mypassword" not in log
