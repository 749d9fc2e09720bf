"""sendmail -bs: the SMTP dialogue on stdin/stdout (Symfony Mailer,
Laravel), checked against what reaches the smarthost and the queue."""

import os
import re
import select
import socket
import subprocess
import time

from conftest import sendmail_path

SENDER = "alice@example.com"
RCPT = "bob@example.org"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Bs:
    """A running `sendmail -bs`, driven one command at a time."""

    def __init__(self, relay, args=()):
        e = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(relay.dir),
             "LANG": "C", "USER": "root", "LOGNAME": "root"}
        self.p = subprocess.Popen(
            [sendmail_path(), "-C", relay.conf, "-bs"] + list(args),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env=e, cwd=str(relay.dir))
        self.buf = b""

    def send(self, data):
        self.p.stdin.write(data.encode() if isinstance(data, str) else data)
        self.p.stdin.flush()

    def _line(self, timeout):
        deadline = time.monotonic() + timeout
        fd = self.p.stdout.fileno()
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            assert left > 0, "no reply within %ss; got %r" % (timeout,
                                                              self.buf)
            r, _, _ = select.select([fd], [], [], left)
            if r:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise AssertionError("EOF from -bs; got %r" % self.buf)
                self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        assert line.endswith(b"\r"), "reply line not CRLF: %r" % line
        return line[:-1].decode()

    def reply(self, timeout=30):
        """One (multi-line) reply: [lines]."""
        lines = [self._line(timeout)]
        while len(lines[-1]) > 3 and lines[-1][3] == "-":
            lines.append(self._line(timeout))
        code = lines[0][:3]
        assert all(l[:3] == code for l in lines), lines
        return lines

    def cmd(self, line, timeout=30):
        self.send(line + "\r\n")
        return self.reply(timeout)

    def close(self, timeout=30):
        try:   # communicate() closes stdin: the end of input
            out, err = self.p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            out, err = self.p.communicate(timeout=10)
            raise AssertionError("-bs did not exit at end of input")
        return self.p.returncode, self.buf + out, err.decode()

    def kill(self):
        """Make sure the process is gone and its pipes closed."""
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait(10)
        for f in (self.p.stdin, self.p.stdout, self.p.stderr):
            try:
                f.close()
            except (OSError, ValueError):
                pass


def start(relay, args=()):
    s = Bs(relay, args)
    g = s.reply()
    assert g[0].startswith("220 "), g
    return s


def send_message(s, body, sender=SENDER, rcpts=(RCPT,)):
    """MAIL, RCPT(s), DATA, body, end; returns the final reply."""
    assert s.cmd("MAIL FROM:<%s>" % sender)[0].startswith("250"), sender
    for r in rcpts:
        assert s.cmd("RCPT TO:<%s>" % r)[0].startswith("250"), r
    assert s.cmd("DATA")[0].startswith("354")
    s.send(body)
    s.send(b".\r\n")
    return s.reply()


def msg(n, extra=b""):
    return (b"From: alice@example.com\r\nTo: bob@example.org\r\n"
            b"Subject: bs %d\r\nMessage-ID: <bs.%d@example.com>\r\n\r\n"
            b"body %d\r\n" % (n, n, n)) + extra


QUEUED = re.compile(r"^250 2\.0\.0 Ok: queued as ([0-9A-F]+)$")


def queue_ids(relay):
    d = relay.spool / "q"
    return sorted(os.listdir(d)) if d.exists() else []


def tmp_files(relay):
    d = relay.spool / "tmp"
    return sorted(os.listdir(d)) if d.exists() else []


# --- tests ------------------------------------------------------------------

def test_ehlo_mail_rcpt_data_delivered(smarthost, relay):
    h = smarthost(tls="starttls")
    relay.configure(h)
    s = start(relay)
    try:
        ehlo = s.cmd("EHLO client.example")
        assert ehlo[0].startswith("250-") and ehlo[-1].startswith("250 ")
        kw = {l[4:].split()[0].upper() for l in ehlo[1:]}
        assert {"PIPELINING", "8BITMIME", "SIZE"} <= kw, ehlo
        fin = send_message(s, msg(1))
        m = QUEUED.match(fin[0])
        assert m, fin
        assert s.cmd("QUIT")[0].startswith("221")
        rc, out, err = s.close()
    finally:
        s.kill()
    assert rc == 0, err
    assert len(h.messages) == 1
    got = h.messages[0]
    assert got.rcpt_tos == [RCPT]
    assert got.mail_from == SENDER
    assert b"Message-ID: <bs.1@example.com>" in got.data
    assert got.data.endswith(b"\r\nbody 1\r\n")
    assert queue_ids(relay) == []


def test_two_messages_one_session_one_connection(smarthost, relay):
    h = smarthost(tls="starttls")
    relay.configure(h)
    s = start(relay)
    try:
        s.cmd("EHLO client.example")
        a = send_message(s, msg(1))
        b = send_message(s, msg(2), rcpts=("carol@example.org",))
        assert QUEUED.match(a[0]) and QUEUED.match(b[0]), (a, b)
        assert a[0] != b[0], "two messages, one queue id"
        s.cmd("QUIT")
        rc, out, err = s.close()
    finally:
        s.kill()
    assert rc == 0, err
    assert len(h.messages) == 2
    assert [m.rcpt_tos for m in h.messages] == [[RCPT],
                                                 ["carol@example.org"]]
    assert h.messages[1].data.endswith(b"body 2\r\n")
    assert len(h.connections) == 1, len(h.connections)


def test_fully_pipelined_input(smarthost, relay):
    h = smarthost(tls="starttls")
    relay.configure(h)
    script = (b"EHLO client.example\r\n"
              b"MAIL FROM:<alice@example.com>\r\n"
              b"RCPT TO:<bob@example.org>\r\n"
              b"RCPT TO:<carol@example.org>\r\n"
              b"DATA\r\n" + msg(1) + b".\r\n"
              b"MAIL FROM:<alice@example.com>\r\n"
              b"RCPT TO:<dave@example.org>\r\n"
              b"DATA\r\n" + msg(2) + b".\r\n"
              b"QUIT\r\n")
    r = relay.run(["-bs"], input=script)
    assert r.rc == 0, r
    codes = [l[:3] for l in r.out.split("\r\n") if l and l[3:4] != "-"]
    assert codes == ["220", "250", "250", "250", "250", "354", "250",
                     "250", "250", "354", "250", "221"], r.out
    assert len([l for l in r.out.split("\r\n") if QUEUED.match(l)]) == 2
    assert len(h.messages) == 2
    assert h.messages[0].rcpt_tos == [RCPT, "carol@example.org"]
    assert h.messages[1].rcpt_tos == ["dave@example.org"]


def test_only_crlf_dot_crlf_ends_data(smarthost, relay):
    h = smarthost(tls="starttls")
    relay.configure(h)
    body = msg(1, b"one\n.\ntwo\r\n.\nthree\n.\r\nfour\r.\r\nfive\r\n")
    s = start(relay)
    try:
        s.cmd("EHLO client.example")
        fin = send_message(s, body)
        assert QUEUED.match(fin[0]), fin
        s.cmd("QUIT")
        s.close()
    finally:
        s.kill()
    assert len(h.messages) == 1, h.messages
    mails = [l for l in h.commands() if l.upper().startswith("MAIL")]
    assert len(mails) == 1, h.commands()
    data = h.messages[0].data
    for word in (b"one", b"two", b"three", b"four", b"five"):
        assert word in data, data
    assert data.endswith(b"five\r\n"), data
    # what follows each lone dot line stayed content, in order
    assert data.index(b"one") < data.index(b"two") < data.index(b"three") \
        < data.index(b"five")


def test_dot_unstuffing(smarthost, relay):
    h = smarthost(tls="starttls")
    relay.configure(h)
    s = start(relay)
    try:
        s.cmd("EHLO client.example")
        fin = send_message(s, msg(1, b"..x\r\n...\r\n.. y\r\n"))
        assert QUEUED.match(fin[0]), fin
        s.cmd("QUIT")
        s.close()
    finally:
        s.kill()
    assert h.messages[0].data.endswith(b"body 1\r\n.x\r\n..\r\n. y\r\n"), \
        h.messages[0].data


def test_rset_noop_unknown_and_bad_sequence(smarthost, relay):
    h = smarthost(tls="starttls")
    relay.configure(h)
    s = start(relay)
    try:
        assert s.cmd("EHLO client.example")[-1].startswith("250 ")
        assert s.cmd("NOOP")[0].startswith("250")
        r = s.cmd("RCPT TO:<bob@example.org>")
        assert r[0].startswith("503"), r
        r = s.cmd("XYZZY hello")
        assert r[0].startswith("500"), r
        r = s.cmd("DATA")
        assert r[0].startswith("503"), r
        assert s.cmd("MAIL FROM:<first@example.com>")[0].startswith("250")
        assert s.cmd("RCPT TO:<dropped@example.org>")[0].startswith("250")
        assert s.cmd("RSET")[0].startswith("250")
        # the transaction is gone: RCPT needs a new MAIL
        assert s.cmd("RCPT TO:<bob@example.org>")[0].startswith("503")
        fin = send_message(s, msg(1))
        assert QUEUED.match(fin[0]), fin
        assert s.cmd("QUIT")[0].startswith("221")
        rc, out, err = s.close()
    finally:
        s.kill()
    assert rc == 0, err
    assert len(h.messages) == 1
    assert h.messages[0].mail_from == SENDER
    assert h.messages[0].rcpt_tos == [RCPT]


def test_client_vanishes_mid_data_leaves_nothing(smarthost, relay):
    h = smarthost(tls="starttls")
    relay.configure(h)
    s = start(relay)
    try:
        s.cmd("EHLO client.example")
        assert s.cmd("MAIL FROM:<%s>" % SENDER)[0].startswith("250")
        assert s.cmd("RCPT TO:<%s>" % RCPT)[0].startswith("250")
        assert s.cmd("DATA")[0].startswith("354")
        s.send(msg(1, b"x" * 100000 + b"\r\nhalf a line"))
        rc, out, err = s.close()
    finally:
        s.kill()
    assert b"queued as" not in out, out
    time.sleep(0.3)
    assert queue_ids(relay) == [], queue_ids(relay)
    assert tmp_files(relay) == [], tmp_files(relay)
    assert h.messages == []
    assert not any(l.upper().startswith("MAIL")
                   for l in h.commands()), h.commands()
    assert "Mail queue is empty" in relay.mailq().out


def test_permanent_5xx_for_only_recipient_returned(smarthost, relay):
    h = smarthost(tls="starttls",
                  reject_rcpt={RCPT: "550 5.1.1 <bob@example.org> unknown"})
    relay.configure(h)
    s = start(relay)
    try:
        s.cmd("EHLO client.example")
        fin = send_message(s, msg(1))
        assert fin[-1].startswith("550 "), fin
        assert "5.1.1" in fin[-1], fin
        assert not any(QUEUED.match(l) for l in fin), fin
        s.cmd("QUIT")
        s.close()
    finally:
        s.kill()
    assert h.messages == []
    assert queue_ids(relay) == []
    # kept under failed/, as sendmail -bm does (SPEC)
    failed = os.listdir(relay.spool / "failed")
    assert len([f for f in failed if "." not in f]) == 1, failed


def test_smarthost_down_sync_still_250_queued(relay):
    relay.configure(port=free_port(), tls="starttls",
                    queue={"mode": "sync"})
    s = start(relay)
    try:
        s.cmd("EHLO client.example")
        fin = send_message(s, msg(1))
        m = QUEUED.match(fin[0])
        assert m, fin
        s.cmd("QUIT")
        rc, out, err = s.close()
    finally:
        s.kill()
    assert rc == 0, err
    assert queue_ids(relay) == [m.group(1)]
    q = relay.mailq()
    assert m.group(1) in q.out and RCPT in q.out, q.out
    assert "1 Request." in q.out, q.out
