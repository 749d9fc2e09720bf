"""A strict scripted SMTP server: no byte may come early without PIPELINING.

OpenSMTPD's rule, as seen from a client: when PIPELINING was not offered,
any byte that arrives before the server has replied to the previous command
is answered with `500 5.5.1 Invalid command: Pipelining not supported`, the
message in progress is dropped and the connection closed. Plain TCP on
127.0.0.1, no AUTH.
"""

import select
import socket
import threading
import time

REFUSAL = "500 5.5.1 Invalid command: Pipelining not supported"


class Early(Exception):
    """A byte came before the reply to the previous command."""


class LoopbackServer:
    """A threaded TCP server on 127.0.0.1: one thread per connection runs
    self._serve(socket). .port; stop() ends it."""

    def __init__(self):
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self._sock.settimeout(0.1)      # accept() wakes up to see stop()
        self.port = self._sock.getsockname()[1]
        self.host = "127.0.0.1"
        self._stop = False
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def stop(self):
        self._stop = True
        for t in list(self._threads):
            t.join(5)
        self._sock.close()

    def _accept(self):
        while not self._stop:
            try:
                s, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(s,), daemon=True)
            t.start()
            self._threads.append(t)


class StrictServer(LoopbackServer):
    """pipelining, chunking: what EHLO offers. wait: seconds each reply
    waits for early bytes (a client that waits for the reply sends none).

    Records .accepted (data bytes of every message given 250), .refused
    (how many 500s for early bytes), .commands (every command line).
    """

    def __init__(self, pipelining=False, chunking=False, wait=0.15):
        self.pipelining, self.chunking, self.wait = pipelining, chunking, wait
        self.accepted, self.commands = [], []
        self.refused = 0
        self.connections = 0
        self._lock = threading.Lock()
        super().__init__()

    def _serve(self, s):
        with self._lock:
            self.connections += 1
        s.settimeout(30)
        conn = {"buf": b""}
        try:
            self._session(s, conn)
        except Early:
            with self._lock:
                self.refused += 1
            try:
                s.sendall((REFUSAL + "\r\n").encode())
            except OSError:
                pass
        except (OSError, ConnectionError):
            pass
        finally:
            s.close()

    def _fill(self, s, conn):
        data = s.recv(65536)
        if not data:
            raise ConnectionError("closed")
        conn["buf"] += data

    def _line(self, s, conn):
        while b"\n" not in conn["buf"]:
            self._fill(s, conn)
        line, _, conn["buf"] = conn["buf"].partition(b"\n")
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def _reply(self, s, conn, text):
        """Reply, unless something came early (then Early)."""
        if not self.pipelining:
            if not conn["buf"] and select.select([s], [], [], self.wait)[0]:
                self._fill(s, conn)
            if conn["buf"]:
                raise Early()
        s.sendall((text + "\r\n").encode())

    def _data(self, s, conn):
        """DATA's lines up to the lone dot, unstuffed."""
        lines = []
        while True:
            line = self._line(s, conn)
            if line == ".":
                return "".join(x + "\r\n" for x in lines).encode()
            lines.append(line[1:] if line.startswith(".") else line)

    def _exact(self, s, conn, n):
        while len(conn["buf"]) < n:
            self._fill(s, conn)
        data, conn["buf"] = conn["buf"][:n], conn["buf"][n:]
        return data

    def _ehlo(self):
        ext = ["strict.test", "8BITMIME"]
        if self.pipelining:
            ext.append("PIPELINING")
        if self.chunking:
            ext.append("CHUNKING")
        return "\r\n".join("250%s%s" % (" " if i == len(ext) - 1 else "-", e)
                           for i, e in enumerate(ext))

    def _session(self, s, conn):
        self._reply(s, conn, "220 strict.test ESMTP")
        while True:
            line = self._line(s, conn)
            with self._lock:
                self.commands.append(line)
            verb = line.split(" ", 1)[0].upper()
            if verb == "EHLO":
                self._reply(s, conn, self._ehlo())
            elif verb == "DATA":
                self._reply(s, conn, "354 go ahead")
                self._end(s, conn, self._data(s, conn))
            elif verb == "BDAT" and self.chunking:
                words = line.split()
                data = self._exact(s, conn, int(words[1]))
                if len(words) > 2 and words[2].upper() == "LAST":
                    self._end(s, conn, data)
                else:
                    self._reply(s, conn, "503 5.5.1 one chunk only here")
            elif verb == "QUIT":
                self._reply(s, conn, "221 2.0.0 bye")
                return
            elif verb in ("MAIL", "RCPT", "RSET", "NOOP"):
                self._reply(s, conn, "250 2.0.0 ok")
            else:
                self._reply(s, conn, "502 5.5.2 unknown command")

    def _end(self, s, conn, data):
        """The end of a message: kept only once its 250 went out."""
        self._reply(s, conn, "250 2.0.0 ok: queued")
        with self._lock:
            self.accepted.append(data)

    def wait_connections_done(self, timeout=10):
        """Give the serving threads time to finish their last session."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(not t.is_alive() for t in self._threads[1:]):
                return True
            time.sleep(0.02)
        return False
