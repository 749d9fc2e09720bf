#!/usr/bin/python3
"""Test smarthost for relaymail's black-box tests and demo.

SmartHost: an aiosmtpd server on 127.0.0.1 with STARTTLS or implicit TLS,
AUTH PLAIN / LOGIN / CRAM-MD5, configurable greeting and EHLO extensions,
fault injection, and a record of everything received.

RawServer: a hand-written asyncio server for what aiosmtpd cannot do on
purpose: a "naive" server ending DATA at any <EOL>.<EOL> (SMTP smuggling
probe), STARTTLS with data injected ahead of the handshake, malformed
replies.

Both run their own event loop in a daemon thread, so a test drives them
from ordinary synchronous code. Run as a script for the demo:

  /usr/bin/python3 tests/blackbox/smarthost.py --port 0 --tls starttls \
      --cert srv.pem --key srv.key --user U --password P \
      --mechanisms PLAIN,LOGIN,CRAM-MD5 --maildir DIR
"""

import argparse
import asyncio
import base64
import hashlib
import hmac
import logging
import os
import re
import signal
import ssl
import sys
import threading
import time
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

logging.getLogger("mail.log").setLevel(logging.CRITICAL)
warnings.filterwarnings("ignore", module="aiosmtpd")
warnings.filterwarnings("ignore", message=".*AUTH.*")

LOOPBACK = "127.0.0.1"


class Message:
    """One transaction that reached the end of DATA."""

    def __init__(self, conn, mail_from, mail_line, mail_options, rcpt_tos,
                 rcpt_lines, data):
        self.conn = conn                  # Connection it came over
        self.mail_from = mail_from        # address only, '' for <>
        self.mail_line = mail_line        # raw "MAIL FROM:<a> SIZE=.." line
        self.mail_options = mail_options  # params, upper-cased by aiosmtpd
        self.rcpt_tos = rcpt_tos          # accepted recipients
        self.rcpt_lines = rcpt_lines      # raw RCPT lines, rejected included
        self.data = data                  # bytes, dot-unstuffed, CRLF

    def __repr__(self):
        return "<Message from=%r to=%r %d bytes>" % (
            self.mail_from, self.rcpt_tos, len(self.data))


class Connection:
    """What one client connection sent."""

    def __init__(self, index):
        self.index = index
        self.lines = []        # every command line (str), AUTH exchange too
        self.buffered = []     # per line: bytes already received after it
                               # (> 0 after MAIL: the client pipelined)
        self.auth_lines = []   # the AUTH command and the client's answers
        self.commands = 0
        self.tls = False       # TLS active (implicit or after STARTTLS)
        self.authenticated = None  # user name once AUTH succeeded
        self.peercert = None   # the client certificate (dict), if verified
        self.in_auth = False
        self.rcpt_lines = []
        self.closed = False


class _LoopThread:
    """An asyncio loop in a daemon thread."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def call(self, coro, timeout=30):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(
            timeout)

    def shutdown(self):
        async def cancel_all():
            me = asyncio.current_task()
            tasks = [t for t in asyncio.all_tasks() if t is not me]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        try:
            self.call(cancel_all(), timeout=10)
        except Exception:
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        if not self._thread.is_alive():
            self.loop.close()


def server_context(cert, key):
    """A server-side SSLContext for cert/key files."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


class _RecordingReader:
    """StreamReader proxy recording command lines (not DATA lines)."""

    def __init__(self, reader, owner):
        object.__setattr__(self, "_r", reader)
        object.__setattr__(self, "_owner", owner)

    def __getattr__(self, name):
        return getattr(self._r, name)

    def __setattr__(self, name, value):
        setattr(self._r, name, value)

    async def readuntil(self, separator=b"\n"):
        line = await self._r.readuntil(separator)
        if separator == b"\n":  # DATA reads with b"\r\n"
            self._owner._record_line(line, len(self._r._buffer))
        return line

    async def readline(self):
        line = await self._r.readline()
        self._owner._record_line(line)
        return line


class _Handler:
    """aiosmtpd hooks: fault injection and recording."""

    def __init__(self, host):
        self.host = host

    async def handle_MAIL(self, server, session, envelope, address, options):
        o = self.host.opts
        await _stall(o, "mail")
        conn = server.conn
        conn.rcpt_lines = []
        server._mail_line = conn.lines[-1] if conn.lines else ""
        if o.get("mail_reply"):
            return o["mail_reply"]
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 Ok"

    async def handle_RCPT(self, server, session, envelope, address, options):
        o = self.host.opts
        conn = server.conn
        conn.rcpt_lines.append(conn.lines[-1] if conn.lines else "")
        reply = (o.get("reject_rcpt") or {}).get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        o = self.host.opts
        conn = server.conn
        msg = Message(conn, envelope.mail_from, server._mail_line,
                      list(envelope.mail_options), list(envelope.rcpt_tos),
                      list(conn.rcpt_lines), bytes(envelope.original_content))
        with self.host._lock:
            self.host.messages.append(msg)
        if self.host.maildir:
            self.host._save(msg)
        await _stall(o, "data_end")
        if o.get("close_after_data"):
            server.transport.close()
            await asyncio.sleep(60)   # cancelled by connection_lost
        if o.get("data_reply"):
            return o["data_reply"]
        return "250 2.0.0 Ok: queued as T%04d" % len(self.host.messages)


async def _stall(opts, stage):
    secs = (opts.get("stall") or {}).get(stage)
    if secs:
        await asyncio.sleep(secs)


class _SMTP(SMTP):
    """aiosmtpd's SMTP with our greeting, EHLO, AUTH and faults."""

    def __init__(self, host, **kw):
        self.host = host
        self.conn = None
        self._greeted = False
        self._mail_line = ""
        super().__init__(_Handler(host), **kw)
        for name, method in list(self._smtp_methods.items()):
            self._smtp_methods[name] = self._counted(method)

    def _counted(self, method):
        async def wrapper(arg):
            conn = self.conn
            conn.commands += 1
            limit = self.host.opts.get("close_after")
            if limit is not None and conn.commands > limit:
                await self.push("421 4.4.2 closing connection (test)")
                self.transport.close()
                return
            await method(arg)
        return wrapper

    def _client_connected_cb(self, reader, writer):
        super()._client_connected_cb(_RecordingReader(reader, self), writer)

    def _record_line(self, raw, buffered=0):
        conn = self.conn
        if conn is None:
            return
        text = raw.decode("utf-8", "surrogateescape").rstrip("\r\n")
        conn.lines.append(text)
        conn.buffered.append(buffered)
        if text[:5].upper() in ("AUTH ", "AUTH"):
            conn.in_auth = True
        if conn.in_auth:
            conn.auth_lines.append(text)
            with self.host._lock:
                self.host.auth_lines.append(text)

    async def push(self, status):
        if not self._greeted:
            self._greeted = True
            greeting = self.host.opts.get("greeting")
            if greeting:
                status = "220 " + greeting
            if self.host.opts.get("greeting_reply"):
                status = self.host.opts["greeting_reply"]
        text = status if isinstance(status, str) else status.decode()
        if self.conn is not None and self.conn.in_auth \
                and not text.startswith("334"):
            self.conn.in_auth = False
        await super().push(status)

    async def _handle_client(self):
        with self.host._lock:
            self.conn = Connection(len(self.host.connections))
            self.conn.tls = self.host.opts["tls"] == "tls"
            self.conn.peercert = self.transport.get_extra_info("peercert")
            self.host.connections.append(self.conn)
        await _stall(self.host.opts, "greeting")
        try:
            await super()._handle_client()
        finally:
            self.conn.closed = True

    def connection_made(self, transport):
        if self.conn is not None and self._original_transport is not None:
            self.conn.tls = True
        super().connection_made(transport)
        if self.conn is not None:
            self.conn.peercert = transport.get_extra_info("peercert")

    def _getparams(self, params):
        result = super()._getparams(params)
        if result is not None and self.host.dsn:
            for k in ("RET", "ENVID", "NOTIFY", "ORCPT"):
                result.pop(k, None)
        return result

    async def smtp_EHLO(self, hostname):
        if not hostname:
            await self.push("501 Syntax: EHLO hostname")
            return
        if self.host.opts.get("refuse_ehlo"):
            await self.push("502 5.5.1 EHLO not implemented (test)")
            return
        await _stall(self.host.opts, "ehlo")
        self._set_rset_state()
        self.session.extended_smtp = True
        self.session.host_name = hostname
        o = self.host.opts
        lines = [o.get("ehlo_hostname") or "smarthost.test"]
        lines += list(o.get("extensions") or [])
        tls_now = self.conn.tls
        if self.tls_context and not tls_now and o.get("offer_starttls", True):
            lines.append("STARTTLS")
        mechs = o.get("mechanisms") or []
        if mechs and (tls_now or o["tls"] == "none" or
                      o.get("auth_before_tls")):
            lines.append("AUTH " + " ".join(mechs))
            if o.get("auth_eq_login"):
                lines.append("AUTH=" + " ".join(mechs))
        for i, line in enumerate(lines):
            sep = " " if i == len(lines) - 1 else "-"
            await self.push("250" + sep + line)

    async def smtp_HELO(self, hostname):
        if self.host.opts.get("refuse_helo"):
            await self.push("502 5.5.1 HELO not accepted here")
            return
        await super().smtp_HELO(hostname)

    # --- SASL mechanisms; names map auth_CRAM__MD5 -> CRAM-MD5 ---

    async def _chal(self, text):
        await self.push(b"334 " + base64.b64encode(text))
        line = (await self._reader.readline()).strip()
        if line == b"*":
            await self.push("501 5.7.0 Auth aborted")
            return None
        try:
            return base64.b64decode(line, validate=True)
        except Exception:
            await self.push("501 5.5.2 Can't decode base64")
            return None

    def _verdict(self, mech, user, password):
        o = self.host.opts
        ok = (not o.get("auth_fail") and user == o.get("user")
              and password is not None and password == o.get("password"))
        if ok:
            self.conn.authenticated = user
            return AuthResult(success=True,
                              auth_data=LoginPassword(user.encode(), b""))
        return AuthResult(success=False, handled=False,
                          message="535 5.7.8 Authentication credentials "
                                  "invalid")

    async def auth_PLAIN(self, _, args):
        if len(args) == 1:
            blob = await self._chal(b"")
            if blob is None:
                return AuthResult(success=False, handled=True)
        else:
            try:
                blob = base64.b64decode(args[1], validate=True)
            except Exception:
                await self.push("501 5.5.2 Can't decode base64")
                return AuthResult(success=False, handled=True)
        parts = blob.split(b"\0")
        if len(parts) != 3:
            await self.push("501 5.5.2 Can't split auth value")
            return AuthResult(success=False, handled=True)
        return self._verdict("PLAIN", parts[1].decode("utf-8", "replace"),
                             parts[2].decode("utf-8", "replace"))

    async def auth_LOGIN(self, _, args):
        if len(args) == 1:
            user = await self._chal(b"Username:")
        else:
            try:
                user = base64.b64decode(args[1], validate=True)
            except Exception:
                user = None
        if user is None:
            return AuthResult(success=False, handled=True)
        password = await self._chal(b"Password:")
        if password is None:
            return AuthResult(success=False, handled=True)
        return self._verdict("LOGIN", user.decode("utf-8", "replace"),
                             password.decode("utf-8", "replace"))

    async def auth_CRAM__MD5(self, _, args):
        challenge = ("<%d.%d@smarthost.test>" % (
            os.getpid(), time.time_ns())).encode()
        answer = await self._chal(challenge)
        if answer is None:
            return AuthResult(success=False, handled=True)
        user, _sp, digest = answer.decode("utf-8", "replace").rpartition(" ")
        pw = (self.host.opts.get("password") or "").encode()
        want = hmac.new(pw, challenge, hashlib.md5).hexdigest()
        password = self.host.opts.get("password") \
            if hmac.compare_digest(want, digest.lower()) else None
        self.host.cram_exchanges.append((challenge, answer))
        return self._verdict("CRAM-MD5", user, password)


class SmartHost:
    """An aiosmtpd smarthost on 127.0.0.1, in a thread of its own.

    Options (keyword arguments):
      tls             'starttls' | 'tls' | 'none'
      cert, key       server certificate and key (PEM files)
      user, password  credentials; AUTH is required when user is set
      mechanisms      advertised SASL mechanisms, e.g. ['PLAIN', 'LOGIN']
      auth_eq_login   also advertise the old 'AUTH=...' line
      auth_before_tls advertise AUTH before STARTTLS too
      offer_starttls  advertise STARTTLS (default True when tls=starttls)
      greeting        text after '220 ' in the greeting
      greeting_reply  the whole greeting instead, e.g. '421 4.7.0 try later'
      ehlo_hostname   first EHLO line
      extensions      EHLO keywords, e.g. ['PIPELINING', 'SIZE 1000', 'DSN']
      reject_rcpt     {address: reply}, e.g. {'x@y': '550 5.1.1 unknown'}
      mail_reply      reply to every MAIL, e.g. '451 4.3.0 later'
      data_reply      reply to every end of data
      auth_fail       answer 535 to every AUTH
      close_after     answer '421' and close at command number N+1
      stall           {'greeting'|'ehlo'|'mail'|'data_end': seconds}
      close_after_data  close without replying once the data is in
      refuse_helo     answer 502 to HELO
      refuse_ehlo     answer 502 to EHLO
      client_ca       request a client certificate, verified with this CA
                      (Connection.peercert holds it)
      port            port to bind (0: a free one)
      maildir         also write each message to DIR/NNNN.eml
    """

    DEFAULT_EXTENSIONS = ["PIPELINING", "8BITMIME"]

    def __init__(self, tls="starttls", cert=None, key=None, port=0,
                 maildir=None, **opts):
        if tls not in ("starttls", "tls", "none"):
            raise ValueError("tls must be starttls, tls or none")
        opts.setdefault("extensions", list(self.DEFAULT_EXTENSIONS))
        opts.setdefault("mechanisms",
                        ["PLAIN", "LOGIN", "CRAM-MD5"] if opts.get("user")
                        else [])
        opts["tls"] = tls
        self.opts = opts
        self.maildir = maildir
        self.messages = []
        self.connections = []
        self.auth_lines = []
        self.cram_exchanges = []
        self._lock = threading.Lock()
        self.dsn = any(e.upper() == "DSN" for e in opts["extensions"])
        size = None
        for e in opts["extensions"]:
            m = re.match(r"(?i)SIZE\s+(\d+)", e)
            if m and int(m.group(1)) > 0:
                size = int(m.group(1))
        self._ctx = server_context(cert, key) if tls != "none" else None
        if self._ctx is not None and opts.get("client_ca"):
            # ask for a client certificate, verify it against client_ca
            self._ctx.verify_mode = ssl.CERT_OPTIONAL
            self._ctx.load_verify_locations(opts["client_ca"])
        mechs = [m.upper() for m in opts["mechanisms"]]
        opts["mechanisms"] = mechs
        exclude = [m for m in ("PLAIN", "LOGIN", "CRAM-MD5")
                   if m not in mechs]
        smtp_kw = dict(
            data_size_limit=size,
            hostname=opts.get("ehlo_hostname") or "smarthost.test",
            tls_context=self._ctx if tls == "starttls" else None,
            require_starttls=(tls == "starttls"),
            auth_required=bool(opts.get("user")),
            auth_require_tls=(tls == "starttls" and
                              not opts.get("auth_before_tls")),
            auth_exclude_mechanism=exclude,
            timeout=opts.get("timeout", 300),
        )
        self._lt = _LoopThread()

        def factory():
            return _SMTP(self, loop=self._lt.loop, **smtp_kw)

        async def start():
            return await self._lt.loop.create_server(
                factory, LOOPBACK, port,
                ssl=self._ctx if tls == "tls" else None)
        self._server = self._lt.call(start())
        self.port = self._server.sockets[0].getsockname()[1]
        self.host = LOOPBACK
        self.tls = tls
        self.user = opts.get("user")
        self.password = opts.get("password")

    def _save(self, msg):
        os.makedirs(self.maildir, exist_ok=True)
        path = os.path.join(self.maildir, "%04d.eml" % len(self.messages))
        with open(path, "wb") as f:
            f.write(msg.data)

    def commands(self):
        """Every command line of every connection, in order."""
        return [line for c in self.connections for line in c.lines]

    def wait_messages(self, n, timeout=30):
        """Wait until n messages arrived; return the list."""
        deadline = time.monotonic() + timeout
        while len(self.messages) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.messages

    def stop(self):
        if self._server is None:
            return
        srv, self._server = self._server, None

        async def close():
            srv.close()
        try:
            self._lt.call(close())
        except Exception:
            pass
        self._lt.shutdown()


# --- raw servers --------------------------------------------------------

class RawServer:
    """A hand-written SMTP server for cases aiosmtpd will not produce.

    mode:
      'naive'     ends DATA at ANY <EOL>.<EOL> (\\n.\\n, \\r.\\r, \\n.\\r\\n,
                  \\r\\n.\\n, ...); counts transactions in .transactions
      'inject'    STARTTLS answered '220 go ahead\\r\\n' + injected (default
                  '250 injected\\r\\n') in one write, then the TLS handshake;
                  after it, EHLO offers AUTH with the given mechanisms
      'malformed' greeting fine, EHLO answered with a malformed reply
                  (reply text set by malformed=bytes)
    Records .lines (commands, str), .auth_lines, .datas (list of bytes),
    .connections (count), .tls_lines (commands received over TLS).
    """

    def __init__(self, mode, cert=None, key=None, mechanisms=("PLAIN",),
                 malformed=b"250-ok\r\n25O broken\r\n",
                 injected=b"250 injected\r\n"):
        self.mode = mode
        self.lines = []
        self.tls_lines = []
        self.auth_lines = []
        self.datas = []
        self.transactions = 0
        self.connections = 0
        self.mechanisms = list(mechanisms)
        self.malformed = malformed
        self.injected = injected
        self._ctx = server_context(cert, key) if cert else None
        self._lt = _LoopThread()

        async def start():
            return await asyncio.start_server(self._session, LOOPBACK, 0)
        self._server = self._lt.call(start())
        self.port = self._server.sockets[0].getsockname()[1]
        self.host = LOOPBACK

    async def _session(self, reader, writer):
        self.connections += 1
        tls = False
        try:
            writer.write(b"220 raw.test ESMTP\r\n")
            await writer.drain()
            while True:
                line = await reader.readline()
                if not line:
                    break
                text = line.decode("utf-8", "replace").rstrip("\r\n")
                self.lines.append(text)
                if tls:
                    self.tls_lines.append(text)
                verb = text.split(" ", 1)[0].upper()
                if verb == "AUTH":
                    self.auth_lines.append(text)
                if verb in ("EHLO", "HELO"):
                    if self.mode == "malformed":
                        writer.write(self.malformed)
                    else:
                        ext = ["raw.test", "8BITMIME"]
                        if self.mode == "inject" and not tls:
                            ext.append("STARTTLS")
                        if self.mode == "inject" and tls:
                            ext.append("AUTH " + " ".join(self.mechanisms))
                        writer.write("".join(
                            "250%s%s\r\n" % (
                                " " if i == len(ext) - 1 else "-", e)
                            for i, e in enumerate(ext)).encode())
                elif verb == "STARTTLS" and self.mode == "inject":
                    writer.write(b"220 go ahead\r\n" + self.injected)
                    await writer.drain()
                    await writer.start_tls(self._ctx)
                    tls = True
                    continue
                elif verb == "AUTH":
                    words = text.split()
                    mech = words[1].upper() if len(words) > 1 else ""
                    prompts = []
                    if mech == "LOGIN":
                        prompts = [b"VXNlcm5hbWU6", b"UGFzc3dvcmQ6"][
                            len(words) - 2:]
                    elif mech == "PLAIN" and len(words) == 2:
                        prompts = [b""]
                    for p in prompts:
                        writer.write(b"334 " + p + b"\r\n")
                        await writer.drain()
                        answer = await reader.readline()
                        self.auth_lines.append(
                            answer.decode("utf-8", "replace").rstrip("\r\n"))
                    writer.write(b"235 2.7.0 ok\r\n")
                elif verb == "MAIL":
                    self.transactions += 1
                    writer.write(b"250 ok\r\n")
                elif verb == "RCPT":
                    writer.write(b"250 ok\r\n")
                elif verb == "DATA":
                    writer.write(b"354 go\r\n")
                    await writer.drain()
                    data = await self._read_data(reader)
                    if data is None:
                        break
                    self.datas.append(data)
                    writer.write(b"250 ok: got it\r\n")
                elif verb == "QUIT":
                    writer.write(b"221 bye\r\n")
                    await writer.drain()
                    break
                else:
                    writer.write(b"250 ok\r\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            writer.close()

    # any line ending, a dot, any line ending: the naive end of data
    _NAIVE_END = re.compile(rb"(?:\r\n|\n|\r)\.(?:\r\n|\n|\r)")

    async def _read_data(self, reader):
        """Read data until the naive (or proper) end; push back the rest."""
        buf = b"\r\n"      # data starts at the beginning of a line
        while True:
            if self.mode == "naive":
                m = self._NAIVE_END.search(buf)
            else:
                m = re.search(rb"\r\n\.\r\n", buf)
            if m:
                data, rest = buf[2:m.start()], buf[m.end():]
                if rest:
                    # what follows is read as commands: that is the point
                    reader._buffer[0:0] = rest
                return data
            chunk = await reader.read(65536)
            if not chunk:
                return None
            buf += chunk

    def stop(self):
        if self._server is None:
            return
        srv, self._server = self._server, None

        async def close():
            srv.close()
        try:
            self._lt.call(close())
        except Exception:
            pass
        self._lt.shutdown()


# --- script mode for the demo -------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(description="relaymail test smarthost")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--tls", choices=["starttls", "tls", "none"],
                    default="starttls")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--mechanisms", default="PLAIN,LOGIN,CRAM-MD5")
    ap.add_argument("--greeting")
    ap.add_argument("--maildir")
    a = ap.parse_args(argv)
    host = SmartHost(tls=a.tls, cert=a.cert, key=a.key, port=a.port,
                     maildir=a.maildir, user=a.user, password=a.password,
                     greeting=a.greeting,
                     mechanisms=[m for m in a.mechanisms.split(",") if m])
    print("READY %d" % host.port, flush=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    seen = 0
    while not stop.wait(0.2):
        while seen < len(host.messages):
            m = host.messages[seen]
            seen += 1
            print("RECEIVED %d from=<%s> to=%s bytes=%d tls=%s auth=%s" % (
                seen, m.mail_from, ",".join(m.rcpt_tos), len(m.data),
                m.conn.tls, m.conn.authenticated), flush=True)
    host.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
