"""A hostile smarthost for relaymail's wire-safety tests.

HostileServer(mode) listens on 127.0.0.1 (a free port) in a thread of its
own and misbehaves in one way, chosen by mode:

  'endless_line'  the greeting is "220 " followed by up to 64 MB without a
                  line ending, then silence until the client goes
  'huge_reply'    a normal greeting; EHLO is answered with a 10 MB
                  multi-line reply (100-byte lines, "250-..."), then
                  "250 ok"; every later command gets "250 ok"
  'code_change'   EHLO answered "250-first", "550-second", "250 last"
  'dash_eof'      EHLO answered "250-" and the connection closed
  'stall_greeting'  "220 hostile" and then never another byte
  'stall_data'    a normal dialogue up to DATA's 354; then not one byte
                  of the data is read (a small receive buffer: a message
                  of a few MB fills the pipe) and nothing is answered
  'stall_tls'     STARTTLS offered and answered 220, then the TLS handshake
                  never gets a byte (the ClientHello is read and ignored)
  'stall_tls_implicit'  accepts and never answers the ClientHello

Records .lines (commands received, str), .sent (bytes written),
.received (bytes read), .connections, .closed_by_client (sessions the
client ended). stop() closes everything; the fixture-less design keeps
conftest.py untouched: use it as a context manager or call stop().
"""

import asyncio
import socket
import threading

LOOPBACK = "127.0.0.1"
MB = 1024 * 1024
MODES = ("endless_line", "huge_reply", "code_change", "dash_eof",
         "stall_greeting", "stall_data", "stall_tls", "stall_tls_implicit")


class HostileServer:
    def __init__(self, mode):
        if mode not in MODES:
            raise ValueError("unknown mode %r" % mode)
        self.mode = mode
        self.lines = []
        self.sent = 0
        self.received = 0
        self.connections = 0
        self.closed_by_client = 0
        self._writers = set()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever,
                                        daemon=True)
        self._thread.start()

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if mode == "stall_data":
            # inherited by accepted sockets; turns off receive autotuning
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.bind((LOOPBACK, 0))

        async def start():
            return await asyncio.start_server(self._session, sock=sock)
        self._server = asyncio.run_coroutine_threadsafe(
            start(), self.loop).result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        self.host = LOOPBACK
        self.tls = ("starttls" if mode == "stall_tls" else
                    "tls" if mode == "stall_tls_implicit" else "none")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    async def _write(self, writer, data):
        writer.write(data)
        await writer.drain()
        self.sent += len(data)

    async def _readline(self, reader):
        line = await reader.readline()
        self.received += len(line)
        if not line:
            raise ConnectionError("client closed")
        text = line.decode("utf-8", "replace").rstrip("\r\n")
        self.lines.append(text)
        return text

    async def _silence(self, reader):
        """Read and ignore everything until the client goes."""
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                raise ConnectionError("client closed")
            self.received += len(chunk)

    async def _endless(self, writer):
        chunk = b"A" * 65536
        await self._write(writer, b"220 ")
        while self.sent < 64 * MB:
            await self._write(writer, chunk)

    async def _huge(self, writer):
        line = b"250-" + b"x" * 94 + b"\r\n"       # 100 bytes
        block = line * 1000
        while self.sent < 10 * MB:
            await self._write(writer, block)
        await self._write(writer, b"250 ok\r\n")

    async def _dialogue(self, reader, writer):
        """Plain SMTP with the mode's twist at EHLO, STARTTLS or DATA."""
        greeted = False
        while True:
            text = await self._readline(reader)
            verb = text.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO") and not greeted:
                greeted = True
                if self.mode == "huge_reply":
                    await self._huge(writer)
                elif self.mode == "code_change":
                    await self._write(writer, b"250-first\r\n550-second\r\n"
                                      b"250 last\r\n")
                elif self.mode == "dash_eof":
                    await self._write(writer, b"250-")
                    return
                elif self.mode == "stall_tls":
                    await self._write(writer, b"250-hostile\r\n"
                                      b"250 STARTTLS\r\n")
                else:
                    await self._write(writer, b"250-hostile\r\n"
                                      b"250 8BITMIME\r\n")
            elif verb == "STARTTLS" and self.mode == "stall_tls":
                await self._write(writer, b"220 2.0.0 go ahead\r\n")
                await self._silence(reader)
            elif verb == "DATA":
                await self._write(writer, b"354 go ahead\r\n")
                await asyncio.sleep(3600)       # cancelled by stop()
            elif verb == "QUIT":
                await self._write(writer, b"221 bye\r\n")
                return
            else:
                await self._write(writer, b"250 ok\r\n")

    async def _session(self, reader, writer):
        self.connections += 1
        self._writers.add(writer)
        try:
            if self.mode == "endless_line":
                await self._endless(writer)
                await self._silence(reader)
            elif self.mode in ("stall_greeting", "stall_tls_implicit"):
                if self.mode == "stall_greeting":
                    await self._write(writer, b"220 hostile ESMTP\r\n")
                await self._silence(reader)
            else:
                await self._write(writer, b"220 hostile ESMTP\r\n")
                await self._dialogue(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            self.closed_by_client += 1
        except asyncio.CancelledError:
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    def stop(self):
        if self._server is None:
            return
        srv, self._server = self._server, None

        async def close():
            srv.close()
            for w in list(self._writers):
                w.close()
            for t in asyncio.all_tasks():
                if t is not asyncio.current_task():
                    t.cancel()
        try:
            asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        except Exception:
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
