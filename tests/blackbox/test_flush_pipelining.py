"""Queue flush pipelining (issue 6, item 5): in `sendmail -q`, the next
message's MAIL, RCPT and DATA (or BDAT) go out behind the previous
message's data, before its end-of-data reply (RFC 2920), and every reply
is still read and honoured.

The server here is a scripted one (FlushServer): when a message's data has
ended, it holds the reply back until more bytes arrive (or `grace` seconds
pass), then records whether the client had already sent the next MAIL. A
client that waits for the reply sends nothing, so that wait proves the
order. Plain TCP, no AUTH (loopback), so the server sees the commands.
"""

import re
import select
import socket
import threading
import time

from harness import header
from strict import LoopbackServer

RCPT = "bob@example.org"
N = 5


class Conn:
    """What one client connection did."""

    def __init__(self):
        self.lines = []         # commands (str), data excluded
        self.ahead = []         # per message: the next MAIL came before
                                # this message's end-of-data reply
        self.serial = True      # every command waited for the last reply
        self.quit = False
        self.done = False       # the connection is over


class FlushServer(LoopbackServer):
    """A minimal SMTP server on 127.0.0.1 for queue-flush pipelining.

    pipelining, chunking: announce PIPELINING / CHUNKING.
    data_replies: {n: reply} for the n-th end of data (1-based, across
    connections); a reply starting with 421 closes the connection after it,
    None closes it without a word (the smarthost disappeared).
    grace: seconds an end-of-data reply waits for the client's next bytes.
    """

    def __init__(self, pipelining=True, chunking=False, data_replies=None,
                 grace=1.0):
        self.pipelining, self.chunking = pipelining, chunking
        self.data_replies = dict(data_replies or {})
        self.grace = grace
        self.conns = []
        self.accepted = []      # (Message-ID, data) of messages given 250
        self.ends = 0           # ends of data seen
        self.ends_log = []      # (n, Message-ID, reply) per end of data
        self._lock = threading.Lock()
        super().__init__()

    # --- one connection ---------------------------------------------------

    def _serve(self, s):
        c = Conn()
        with self._lock:
            self.conns.append(c)
        s.settimeout(30)
        try:
            self._session(s, c)
        except (OSError, ConnectionError):
            pass
        finally:
            s.close()
            c.done = True

    def wait_done(self, timeout=10):
        """Wait until every connection so far is over."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if all(c.done for c in self.conns):
                    return True
            time.sleep(0.02)
        return False

    def _fill(self, s, buf):
        data = s.recv(65536)
        if not data:
            raise ConnectionError("closed")
        return buf + data

    def _line(self, s, st):
        while b"\n" not in st["buf"]:
            st["buf"] = self._fill(s, st["buf"])
        line, _, st["buf"] = st["buf"].partition(b"\n")
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def _exact(self, s, st, n):
        while len(st["buf"]) < n:
            st["buf"] = self._fill(s, st["buf"])
        data, st["buf"] = st["buf"][:n], st["buf"][n:]
        return data

    def _next_arrives(self, s, st):
        """Wait up to grace for the client's next bytes; what they start
        with (b'' when none came: the client waits for the reply)."""
        if not st["buf"]:
            r, _, _ = select.select([s], [], [], self.grace)
            if r:
                data = s.recv(65536)
                if not data:
                    return b""
                st["buf"] += data
        return st["buf"][:4]

    def _reply(self, s, st, c, text):
        """Send a reply; a client that had already sent more is not serial."""
        if st["buf"] or select.select([s], [], [], 0)[0]:
            c.serial = False
        s.sendall((text + "\r\n").encode())

    def _hang_up(self, s):
        """Close after a 421 without resetting what the client sent."""
        s.shutdown(socket.SHUT_WR)
        s.settimeout(5)
        while s.recv(65536):
            pass

    def _end(self, s, st, c, tx):
        """The end of a message's data: the reply, after the ordering probe."""
        with self._lock:
            self.ends += 1
            n = self.ends
        nxt = self._next_arrives(s, st)
        c.ahead.append(nxt.upper() == b"MAIL")
        mid = (header(tx["data"], "message-id") or [None])[0]
        reply = self.data_replies.get(n, "250 2.0.0 ok: queued")
        with self._lock:
            self.ends_log.append((n, mid, reply))
            if reply is not None and reply.startswith("250"):
                self.accepted.append((mid, tx["data"]))
        if reply is None:
            self._hang_up(s)
            return False
        self._reply(s, st, c, reply)
        tx.clear()
        if reply.startswith("421"):
            self._hang_up(s)
            return False
        return True

    def _session(self, s, c):
        st = {"buf": b""}
        tx = {}
        self._reply(s, st, c, "220 flush.test ESMTP")
        while True:
            line = self._line(s, st)
            c.lines.append(line)
            verb = line.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                ext = ["flush.test", "8BITMIME"]
                if self.pipelining:
                    ext.append("PIPELINING")
                if self.chunking:
                    ext.append("CHUNKING")
                if verb == "HELO":
                    ext = ["flush.test"]
                self._reply(s, st, c, "\r\n".join("250%s%s" % (
                    " " if i == len(ext) - 1 else "-", e)
                    for i, e in enumerate(ext)))
            elif verb == "MAIL":
                tx.clear()
                tx["from"] = line
                tx["rcpt"] = []
                self._reply(s, st, c, "250 2.1.0 ok")
            elif verb == "RCPT":
                if "from" not in tx:
                    self._reply(s, st, c, "503 5.5.1 MAIL first")
                    continue
                tx["rcpt"].append(line)
                self._reply(s, st, c, "250 2.1.5 ok")
            elif verb == "DATA":
                if not tx.get("rcpt"):
                    self._reply(s, st, c, "554 5.5.1 no valid recipients")
                    continue
                self._reply(s, st, c, "354 go ahead")
                lines = []
                while True:
                    d = self._line(s, st)
                    if d == ".":
                        break
                    lines.append(d[1:] if d.startswith(".") else d)
                tx["data"] = ("\r\n".join(lines) + "\r\n").encode()
                if not self._end(s, st, c, tx):
                    return
            elif verb == "BDAT":
                words = line.split()
                data = self._exact(s, st, int(words[1]))
                tx["chunks"] = tx.get("chunks", b"") + data
                if len(words) < 3 or words[2].upper() != "LAST":
                    self._reply(s, st, c, "250 2.0.0 chunk ok")
                    continue
                if not tx.get("rcpt"):
                    self._reply(s, st, c, "554 5.5.1 no valid recipients")
                    continue
                tx["data"] = tx.pop("chunks")
                if not self._end(s, st, c, tx):
                    return
            elif verb == "RSET":
                tx.clear()
                self._reply(s, st, c, "250 2.0.0 ok")
            elif verb == "QUIT":
                c.quit = True      # the client need not wait for the 221
                s.sendall(b"221 2.0.0 bye\r\n")
                return
            else:
                self._reply(s, st, c, "250 ok")


# --- helpers ------------------------------------------------------------------

def server(**kw):
    srv = FlushServer(**kw)
    _servers.append(srv)
    return srv


_servers = []


def teardown_function(_):
    while _servers:
        _servers.pop().stop()


def queue_n(relay, srv, n=N, sender=None):
    """Queue n messages (mode=queue) for srv; their Message-IDs in order."""
    relay.configure(port=srv.port, tls="none", user=None,
                    queue={"mode": "queue"})
    ids = []
    for i in range(n):
        mid = "<flush.%d@example.com>" % i
        body = ("From: alice@example.com\nTo: %s\nSubject: %d\n"
                "Message-ID: %s\nDate: Fri, 27 Nov 2026 03:00:00 +0000\n\n"
                ".leading dot %d\nbody %d\n" % (RCPT, i, mid, i, i))
        args = ["-i"] + (["-f", sender] if sender else []) + [RCPT]
        r = relay.run(args, input=body)
        assert r.rc == 0, r
        ids.append(mid)
    assert len(queued(relay)) == n
    return ids


def queued(relay):
    d = relay.spool / "q"
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


def failed(relay):
    d = relay.spool / "failed"
    return sorted(p.name for p in d.iterdir() if "." not in p.name) \
        if d.exists() else []


def accepted_ids(srv):
    return [m for m, _ in srv.accepted]


# --- the pipelining itself -----------------------------------------------------

def test_flush_sends_next_mail_before_the_data_reply(relay):
    srv = server(pipelining=True, chunking=False)
    ids = queue_n(relay, srv)
    f = relay.flush()
    assert f.rc == 0, f
    assert sorted(accepted_ids(srv)) == sorted(ids), srv.ends_log
    assert len(srv.accepted) == N, "a message was sent twice"
    assert len(srv.conns) == 1, "one connection for the whole flush"
    c = srv.conns[0]
    # message k+1's MAIL was on the wire before message k's 250 ...
    assert c.ahead[:N - 1] == [True] * (N - 1), c.ahead
    # ... but nothing follows the last data: its reply is waited for
    assert c.ahead[N - 1] is False, c.ahead
    assert [l.split(":")[0] for l in c.lines].count("MAIL FROM") == N
    assert "RSET" not in c.lines, c.lines
    assert queued(relay) == []
    # the data is intact (dot-stuffing, line endings) for each message
    for _, data in srv.accepted:
        assert re.search(rb"\r\n\.leading dot \d\r\nbody \d\r\n$", data), data


def test_flush_with_chunking_sends_next_mail_before_the_bdat_reply(relay):
    srv = server(pipelining=True, chunking=True)
    ids = queue_n(relay, srv)
    f = relay.flush()
    assert f.rc == 0, f
    assert sorted(accepted_ids(srv)) == sorted(ids), srv.ends_log
    assert len(srv.accepted) == N
    assert len(srv.conns) == 1
    c = srv.conns[0]
    assert any(l.startswith("BDAT") for l in c.lines), c.lines
    assert "DATA" not in c.lines, c.lines
    assert c.ahead[:N - 1] == [True] * (N - 1), c.ahead
    assert queued(relay) == []
    for _, data in srv.accepted:
        assert re.search(rb"\r\n\.leading dot \d\r\nbody \d\r\n$", data), data


def test_flush_without_pipelining_is_strictly_serial(relay):
    srv = server(pipelining=False, chunking=True, grace=0.3)
    ids = queue_n(relay, srv, n=3)
    f = relay.flush()
    assert f.rc == 0, f
    assert sorted(accepted_ids(srv)) == sorted(ids)
    assert len(srv.conns) == 1
    c = srv.conns[0]
    assert c.ahead == [False, False, False], c.ahead
    assert c.serial, "a command was sent before the previous reply"
    assert "DATA" in c.lines and not any(l.startswith("BDAT")
                                         for l in c.lines), c.lines
    assert queued(relay) == []


# --- replies still honoured ------------------------------------------------------

def _middle_failure(relay, chunking, reply):
    """Flush N with the 3rd end of data answered reply; (srv, ids, bad)."""
    srv = server(pipelining=True, chunking=chunking,
                 data_replies={3: reply})
    ids = queue_n(relay, srv)
    f = relay.flush()
    assert f.rc == 0, f
    bad = [mid for n, mid, _ in srv.ends_log if n == 3]
    assert len(bad) == 1, srv.ends_log
    return srv, ids, bad[0]


def test_flush_data_4xx_in_the_middle_defers_only_that_one(relay):
    for chunking in (False, True):
        srv, ids, bad = _middle_failure(relay, chunking, "451 4.3.0 later")
        assert sorted(accepted_ids(srv)) == sorted(m for m in ids
                                                   if m != bad)
        assert len(srv.accepted) == N - 1
        c = srv.conns[0]
        assert len(srv.conns) == 1
        # the next MAIL went out before the 451, and was a fresh transaction
        assert c.ahead[2] is True, c.ahead
        assert "RSET" not in c.lines, c.lines
        assert len(queued(relay)) == 1
        q = relay.mailq()
        assert "451 4.3.0 later" in q.out, q.out
        # the deferred one goes out on the next flush, once
        srv.data_replies = {}
        f = relay.flush()
        assert f.rc == 0, f
        assert sorted(accepted_ids(srv)) == sorted(ids)
        assert queued(relay) == []


def test_flush_data_5xx_in_the_middle_fails_only_that_one(relay):
    srv, ids, bad = _middle_failure(relay, False, "554 5.7.1 refused (test)")
    good = [m for m in ids if m != bad]
    got = accepted_ids(srv)
    # the others once each, then the bounce to alice (null sender, no id of ours)
    assert sorted(m for m in got if m in ids) == sorted(good)
    assert len([m for m in got if m in ids]) == N - 1
    assert len(srv.accepted) == N, "the bounce for the refused one"
    bounce = [d for m, d in srv.accepted if m not in ids]
    assert b"554 5.7.1 refused (test)" in bounce[0]
    assert srv.conns[0].ahead[2] is True, srv.conns[0].ahead
    assert queued(relay) == []
    assert len(failed(relay)) == 1
    log = relay.log_text()
    assert re.search(r"status=bounced \(554 5\.7\.1 refused", log), log
    assert len(re.findall(r"status=sent", log)) == N   # N - 1 + the bounce


def test_flush_421_after_data_ends_the_run(relay):
    """A 421 to the 3rd end of data: the smarthost throttled, so the run
    ends there. The 4th, whose MAIL was already pipelined, and the 5th are
    left untried: no new connection, no attempt counted, and mailq says
    why. The next flush sends the three."""
    for chunking in (False, True):
        relay.log.unlink(missing_ok=True)
        srv, ids, bad = _middle_failure(relay, chunking,
                                        "421 4.3.2 shutting down (test)")
        good = [m for m in ids if m != bad]
        # the 4th MAIL was on the first connection before the 421 ...
        assert srv.conns[0].ahead[2] is True, srv.conns[0].ahead
        # ... but no second connection was made for it
        assert len(srv.conns) == 1, len(srv.conns)
        got = accepted_ids(srv)
        assert len(got) == len(set(got)) == 2 and set(got) <= set(good), got
        assert len(srv.accepted) == 2
        assert len(queued(relay)) == 3
        q = relay.mailq().out
        assert "421 4.3.2 shutting down" in q
        assert q.count("the smarthost throttled (421 4.3.2") == 2, q
        # one attempt counted for the 421 one, none for the two behind it
        log = relay.log_text()
        sent = re.findall(r"attempts=(\d+), status=sent", log)
        assert sent == ["1"] * 2, log
        deferred = re.findall(r"attempts=(\d+), status=deferred", log)
        assert sorted(deferred) == ["0", "0", "1"], log
        assert "queue run stopped: the smarthost" in log, log
        srv.data_replies = {}
        f = relay.flush()
        assert f.rc == 0, f
        assert sorted(accepted_ids(srv)) == sorted(ids)
        assert queued(relay) == []


def test_flush_hang_up_after_data_retries_the_next_on_a_new_connection(relay):
    """The smarthost disappears at the 3rd end of data, without a 421: that
    one waits (one attempt); the 4th, whose MAIL was pipelined behind it, was
    never judged and goes again over a new connection with the 5th."""
    srv, ids, bad = _middle_failure(relay, False, None)
    assert srv.conns[0].ahead[2] is True, srv.conns[0].ahead
    assert len(srv.conns) == 2, len(srv.conns)
    got = accepted_ids(srv)
    assert len(got) == len(set(got)) == N - 1 and bad not in got, got
    assert len(queued(relay)) == 1
    log = relay.log_text()
    assert re.findall(r"attempts=(\d+), status=", log) == ["1"] * N, log
    assert "throttled" not in log


def test_flush_421_after_last_data_keeps_it_queued(relay):
    srv = server(pipelining=True, data_replies={N: "421 4.3.2 bye (test)"})
    ids = queue_n(relay, srv)
    f = relay.flush()
    assert f.rc == 0, f
    assert len(srv.accepted) == N - 1
    last = [mid for n, mid, _ in srv.ends_log if n == N][0]
    assert sorted(accepted_ids(srv)) == sorted(m for m in ids if m != last)
    assert len(queued(relay)) == 1
    assert len(srv.conns) == 1


def test_flush_single_message_quits_after_its_reply(relay):
    srv = server(pipelining=True)
    ids = queue_n(relay, srv, n=1)
    f = relay.flush()
    assert f.rc == 0, f
    assert accepted_ids(srv) == ids
    assert srv.wait_done()
    c = srv.conns[0]
    assert c.ahead == [False], c.ahead
    assert c.lines[-1] == "QUIT", c.lines
    assert queued(relay) == []
