"""mailq / sendmail -bp: Postfix's format field by field, the mailq name,
--json, the '*' of a message being delivered, check_mailq -M postfix."""

import json
import os
import re
import socket
import subprocess
import time
from pathlib import Path

from conftest import sendmail_path
from harness import message

HEADER = "-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------"
# Postfix showq: "%-10s%c%8ld %20.20s  %s" (long ids simply widen the line)
ENTRY = re.compile(r"^(?P<id>[0-9A-F]{10,})(?P<flag>[ *!])\s*(?P<size>\d+) "
                   r"(?P<arrival>(?:Sun|Mon|Tue|Wed|Thu|Fri|Sat) "
                   r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                   r"[ \d]\d \d\d:\d\d:\d\d)  (?P<sender>\S+)$")
INDENT = " " * 41
FOOTER = re.compile(r"^-- (\d+) Kbytes in (\d+) Requests?\.$")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def env_for(relay, **extra):
    e = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(relay.dir),
         "LANG": "C", "USER": "root", "LOGNAME": "root"}
    e.update(extra)
    return e


def run_mailq_name(relay, args=()):
    """Run the mailq name (the ./mailq symlink next to the binary when it
    exists, otherwise the binary with argv[0] 'mailq'), config from
    RELAYMAIL_CONFIG since mailq has no -C here."""
    prog = sendmail_path()
    link = Path(prog).parent / "mailq"
    if link.exists():
        cmd, exe = [str(link)] + list(args), None
    else:
        cmd, exe = ["mailq"] + list(args), prog
    p = subprocess.run(cmd, executable=exe, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=env_for(relay, RELAYMAIL_CONFIG=relay.conf),
                       timeout=30, cwd=str(relay.dir))
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def parse_listing(out):
    """Postfix mailq text -> ([entries], footer (kbytes, requests))."""
    lines = out.split("\n")
    assert lines[-1] == "", "listing does not end with a newline: %r" % out
    lines = lines[:-1]
    assert lines[0] == HEADER, out
    m = FOOTER.match(lines[-1])
    assert m, "bad footer %r" % lines[-1]
    footer = (int(m.group(1)), int(m.group(2)))
    entries, cur = [], None
    for line in lines[1:-1]:
        if line == "":
            assert cur is not None, out
            entries.append(cur)
            cur = None
            continue
        em = ENTRY.match(line)
        if em:
            assert cur is None, "entry not closed by an empty line: %r" % out
            cur = dict(em.groupdict(), reason=None, rcpts=[])
            continue
        assert cur is not None, "stray line %r" % line
        assert line.startswith(INDENT) and line[41] != " ", repr(line)
        rest = line[41:]
        if rest.startswith("("):
            assert rest.endswith(")") and cur["reason"] is None \
                and not cur["rcpts"], repr(line)
            cur["reason"] = rest[1:-1]
        else:
            cur["rcpts"].append(rest)
    assert cur is None, "last entry not followed by an empty line: %r" % out
    return entries, footer


def check_mailq_postfix(out):
    """What Nagios' check_mailq -M postfix reads: the last line's request
    count ("Kbytes in N Request"), or 0 for "Mail queue is empty"."""
    last = out.rstrip("\n").split("\n")[-1]
    m = re.search(r"Kbytes in (\d+) Request", last)
    if m:
        return int(m.group(1))
    if re.search(r"Mail queue is empty", last):
        return 0
    raise AssertionError("check_mailq cannot parse %r" % last)


def arrival_epoch(text, near):
    """The listing's arrival time (no year, local time) as epoch seconds."""
    year = time.localtime(near).tm_year
    return time.mktime(time.strptime("%d %s" % (year, text),
                                     "%Y %a %b %d %H:%M:%S"))


def test_listing_field_by_field(relay, smarthost):
    port = free_port()
    relay.configure(port=port, tls="starttls")
    t0 = time.time()
    r1 = relay.run(["-i", "-f", "sender@example.com", "rcpt@example.org",
                    "second@example.net"], input=message(body="short\n"))
    big_body = ("x" * 70 + "\n") * 100        # about 7 KB
    r2 = relay.run(["-i", "-f", "<>", "other@example.org"],
                   input=message(body=big_body))
    t1 = time.time()
    assert r1.rc == 0 and r2.rc == 0, (r1, r2)
    q = relay.mailq()
    assert q.rc == 0, q
    entries, (kbytes, requests) = parse_listing(q.out)
    assert len(entries) == 2, q.out
    by_sender = {e["sender"]: e for e in entries}
    assert set(by_sender) == {"sender@example.com", "MAILER-DAEMON"}, q.out
    a, b = by_sender["sender@example.com"], by_sender["MAILER-DAEMON"]
    assert a["rcpts"] == ["rcpt@example.org", "second@example.net"], q.out
    assert b["rcpts"] == ["other@example.org"], q.out
    for e in entries:
        assert e["flag"] == " ", q.out
        assert len(e["id"]) >= 10 and e["id"] in os.listdir(relay.spool / "q")
        assert "refused" in e["reason"].lower() and str(port) in \
            e["reason"], e["reason"]
        when = arrival_epoch(e["arrival"], t0)
        assert int(t0) - 1 <= when <= t1 + 1, (e["arrival"], t0, t1)
    # sizes: as --json says, and the footer sums them in Kbytes
    js = {j["queue_id"]: j for j in map(json.loads,
          relay.run(["-bp", "--json"]).out.splitlines())}
    for e in entries:
        assert int(e["size"]) == js[e["id"]]["message_size"]
    assert int(b["size"]) > 7000 and int(a["size"]) < 1000, q.out
    assert requests == 2
    assert kbytes == (int(a["size"]) + int(b["size"])) // 1024
    # the size is the size of what the smarthost then gets
    h = smarthost(tls="starttls", port=port)
    assert relay.flush().rc == 0
    got = sorted(len(m.data) for m in h.messages)
    assert got == sorted([int(a["size"]), int(b["size"])]), (got, q.out)


def test_single_request_footer_and_empty(relay):
    relay.configure(port=free_port(), tls="starttls")
    q = relay.mailq()
    assert q.rc == 0, q
    assert q.out == "Mail queue is empty\n", q.out
    assert check_mailq_postfix(q.out) == 0
    relay.run(["-odq", "-i", "bob@example.org"], input=message())
    q = relay.mailq()
    assert q.out.rstrip("\n").split("\n")[-1] == "-- 0 Kbytes in 1 Request.", \
        q.out
    entries, footer = parse_listing(q.out)
    assert footer == (0, 1) and len(entries) == 1
    # never attempted: no reason line
    assert entries[0]["reason"] is None, q.out


def test_mailq_name_with_relaymail_config(relay):
    relay.configure(port=free_port(), tls="starttls")
    rc, out, err = run_mailq_name(relay)
    assert rc == 0, err
    assert out == "Mail queue is empty\n", (out, err)
    r = relay.run(["-odq", "-i", "bob@example.org"], input=message())
    assert r.rc == 0, r
    rc, out, err = run_mailq_name(relay)
    assert rc == 0, err
    assert out == relay.mailq().out, out
    entries, footer = parse_listing(out)
    assert footer[1] == 1 and entries[0]["rcpts"] == ["bob@example.org"]


def test_json_lines(relay):
    port = free_port()
    relay.configure(port=port, tls="starttls")
    t0 = int(time.time())
    for rc in ("a@example.org", "b@example.org"):
        r = relay.run(["-i", "-f", "s@example.com", rc, "c@example.net"],
                      input=message())
        assert r.rc == 0, r
    t1 = int(time.time())
    r = relay.run(["-bp", "--json"])
    assert r.rc == 0, r
    lines = [l for l in r.out.split("\n") if l]
    assert len(lines) == 2, r.out
    ids = set(os.listdir(relay.spool / "q"))
    seen = set()
    for line in lines:
        j = json.loads(line)
        for k in ("queue_id", "arrival_time", "message_size", "sender",
                  "recipients", "attempts", "next_retry", "last_error"):
            assert k in j, (k, j)
        assert j["queue_id"] in ids
        seen.add(j["queue_id"])
        assert t0 - 1 <= j["arrival_time"] <= t1 + 1
        assert isinstance(j["message_size"], int) and j["message_size"] > 100
        assert j["sender"] == "s@example.com"
        addrs = [x["address"] if isinstance(x, dict) else x
                 for x in j["recipients"]]
        assert addrs[1] == "c@example.net" and addrs[0] in (
            "a@example.org", "b@example.org"), j
        assert j["attempts"] == 1
        assert j["next_retry"] > j["arrival_time"]
        assert "refused" in j["last_error"].lower() and str(port) in \
            j["last_error"], j
    assert seen == ids
    # the mailq name takes --json too
    rc, out, err = run_mailq_name(relay, ["--json"])
    assert rc == 0, err
    assert [json.loads(l)["queue_id"] for l in out.split("\n") if l] \
        and len([l for l in out.split("\n") if l]) == 2


def test_json_empty_queue_prints_nothing(relay):
    relay.configure(port=free_port(), tls="starttls")
    r = relay.run(["-bp", "--json"])
    assert r.rc == 0, r
    assert r.out.strip() == "", r.out


def test_star_while_being_delivered(relay, smarthost):
    h = smarthost(tls="starttls", stall={"data_end": 4})
    relay.configure(h)
    r = relay.run(["-odq", "-i", "bob@example.org"], input=message())
    assert r.rc == 0, r
    qid = os.listdir(relay.spool / "q")[0]
    q = relay.mailq()
    assert parse_listing(q.out)[0][0]["flag"] == " ", q.out
    e = {"PATH": "/usr/bin:/bin", "HOME": str(relay.dir), "LANG": "C"}
    p = subprocess.Popen([sendmail_path(), "-C", relay.conf, "-q"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=e)
    try:
        deadline = time.monotonic() + 10
        while not h.messages and time.monotonic() < deadline:
            time.sleep(0.02)
        assert h.messages, "the runner never sent the data"
        q = relay.mailq()            # the server holds the 250 back
        entries, footer = parse_listing(q.out)
        assert len(entries) == 1 and entries[0]["id"] == qid, q.out
        assert entries[0]["flag"] == "*", q.out
        assert q.out.split("\n")[1].startswith(qid + "*"), q.out
        assert check_mailq_postfix(q.out) == 1
        j = json.loads(relay.run(["-bp", "--json"]).out)
        assert j["queue_name"] == "active", j
        out, err = p.communicate(timeout=30)
        assert p.returncode == 0, err
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate(timeout=10)
    q = relay.mailq()
    assert q.out == "Mail queue is empty\n", q.out


def test_check_mailq_postfix_counts_requests(relay):
    relay.configure(port=free_port(), tls="starttls")
    for i in range(3):
        r = relay.run(["-odq", "-i", "u%d@example.org" % i], input=message())
        assert r.rc == 0, r
    q = relay.mailq()
    assert check_mailq_postfix(q.out) == 3
    assert q.out.rstrip("\n").split("\n")[-1] == "-- 0 Kbytes in 3 Requests."
    # and the hex-id lines a monitor counts
    assert len([l for l in q.out.split("\n")
                if re.match(r"^[0-9A-F]{10,}[ *!]", l)]) == 3
