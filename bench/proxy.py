"""Latency proxy for the relaymail benchmark (no netem on these machines).

LatencyProxy listens on 127.0.0.1 (a free port), forwards every connection
to one upstream port on 127.0.0.1, and holds each chunk of bytes for a
configurable one-way delay before passing it on, in each direction, so a
round trip through it costs 2 x delay more than loopback.

It also counts, per connection, the protocol turns: the byte stream is cut
into runs of one direction (as the bytes arrive at the proxy), and

  changes      = the number of changes of direction between runs
  round_trips  = 1 (the TCP connect) + the number of times the client
                 speaks again after the server has spoken: each of these is
                 a moment the client waited for the server (trailing TLS
                 close_notify records, the goodbye, are left out).

With TLS the proxy sees only ciphertext, which is enough: it counts
directions, not commands. `down` closes the listening socket (clients get
"connection refused", the smarthost is away) and `up` opens it again on
the same port.

Runs its own asyncio loop in a daemon thread; the methods are called from
ordinary synchronous code.
"""

import asyncio
import socket
import threading
import time

LOOPBACK = "127.0.0.1"
READ_SIZE = 65536
CLOSE_NOTIFY_BYTES = 24     # a TLS 1.3 alert record: 5 + 2 + 1 + 16


class ConnStats:
    """What one proxied connection did: runs of (direction, bytes)."""

    def __init__(self, index, t0):
        self.index = index
        self.t0 = t0
        # runs: [direction 'C'|'S', bytes, first read time, last read time,
        # number of reads], times relative to the accept
        self.runs = []
        self.closed = False

    def add(self, direction, n, now):
        t = now - self.t0
        if self.runs and self.runs[-1][0] == direction:
            run = self.runs[-1]
            run[1] += n
            run[3] = t
            run[4] += 1
        else:
            self.runs.append([direction, n, t, t, 1])

    @property
    def changes(self):
        return max(0, len(self.runs) - 1)

    @property
    def round_trips(self):
        # trailing runs of exactly one TLS 1.3 close_notify record (24
        # bytes) are the goodbye, sent without waiting for anything: which
        # side's arrives first is chance, so they are not counted
        runs = self.runs
        end = len(runs)
        while end > 0 and runs[end - 1][1] == CLOSE_NOTIFY_BYTES:
            end -= 1
        back = sum(1 for a, b in zip(runs[:end], runs[1:end])
                   if a[0] == "S" and b[0] == "C")
        return 1 + back

    def sequence(self):
        """The runs as text: 'S 120B @0.0 | C 22B @20.3 | S 461B
        @41.0-85.2/2 | ...': times in ms since the accept; a run read in
        several pieces shows first-last/pieces (a gap inside a run is the
        sender stalling, e.g. Nagle waiting for a delayed ACK)."""
        out = []
        for d, n, t0, t1, k in self.runs:
            when = "@%.1f" % (t0 * 1000)
            if k > 1 and t1 - t0 >= 0.001:
                when += "-%.1f/%d" % (t1 * 1000, k)
            out.append("%s %dB %s" % (d, n, when))
        return " | ".join(out)


class _Pipe:
    """One direction of one connection: read, hold for delay, write."""

    def __init__(self, proxy, stats, direction, reader, writer):
        self.proxy, self.stats, self.direction = proxy, stats, direction
        self.reader, self.writer = reader, writer
        self._due = 0.0     # loop time of the last write or EOF scheduled

    async def run(self):
        loop = asyncio.get_running_loop()
        try:
            while True:
                data = await self.reader.read(READ_SIZE)
                now = time.monotonic()
                if not data:
                    break
                self.stats.add(self.direction, len(data), now)
                self._later(loop, now, self._write, data)
        except (ConnectionError, OSError):
            pass
        self._later(loop, time.monotonic(), self._eof, None)

    def _later(self, loop, now, fn, arg):
        # strictly increasing times keep the order of the chunks and the
        # EOF (the timer heap does not order equal times; and under load
        # two clock readings could put the EOF before the last chunk)
        delay = self.proxy.delay
        if delay <= 0:
            fn(arg)
        else:
            due = loop.time() + delay - (time.monotonic() - now)
            self._due = max(due, self._due + 1e-6)
            loop.call_at(self._due, fn, arg)

    def _write(self, data):
        if not self.writer.is_closing():
            self.writer.write(data)

    def _eof(self, _):
        try:
            if self.writer.can_write_eof() and not self.writer.is_closing():
                self.writer.write_eof()
            else:
                self.writer.close()
        except (OSError, RuntimeError):
            self.writer.close()


class LatencyProxy:
    """127.0.0.1:port -> 127.0.0.1:upstream, delay seconds each way."""

    def __init__(self, upstream_port, delay=0.0, port=0):
        self.upstream_port = upstream_port
        self.delay = delay
        self.conns = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever,
                                        name="latency-proxy", daemon=True)
        self._thread.start()
        self._server = None
        self._tasks = set()
        self.port = port
        self.up()

    def _call(self, coro, timeout=10):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(
            timeout)

    async def _start(self):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((LOOPBACK, self.port))
        sock.listen(256)
        return await asyncio.start_server(self._handle, sock=sock)

    def up(self):
        """Listen (again, on the same port once one is chosen)."""
        if self._server is None:
            self._server = self._call(self._start())
            self.port = self._server.sockets[0].getsockname()[1]

    def down(self):
        """Stop listening: new connections are refused."""
        if self._server is not None:
            srv, self._server = self._server, None

            async def close():
                srv.close()
                await srv.wait_closed()
            self._call(close())

    async def _handle(self, c_reader, c_writer):
        # the loop holds tasks only weakly: keep each connection's task
        # here until it ends, so stop() can cancel it
        task = asyncio.current_task()
        self._tasks.add(task)
        try:
            await self._proxy(c_reader, c_writer)
        finally:
            self._tasks.discard(task)

    async def _proxy(self, c_reader, c_writer):
        c_writer.transport.set_write_buffer_limits(high=1 << 30)
        sock = c_writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            stats = ConnStats(len(self.conns), time.monotonic())
            self.conns.append(stats)
        s_writer = None
        try:
            s_reader, s_writer = await asyncio.open_connection(
                LOOPBACK, self.upstream_port)
            ssock = s_writer.get_extra_info("socket")
            if ssock is not None:
                ssock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            up = _Pipe(self, stats, "C", c_reader, s_writer)
            back = _Pipe(self, stats, "S", s_reader, c_writer)
            await asyncio.gather(up.run(), back.run())
            # let the delayed EOFs go out before closing both ends
            if self.delay > 0:
                await asyncio.sleep(self.delay + 0.001)
        except OSError:
            pass
        finally:
            for w in (s_writer, c_writer):
                if w is not None:
                    w.close()
            stats.closed = True

    def mark(self):
        """The current number of connections (a mark for since())."""
        with self._lock:
            return len(self.conns)

    def since(self, mark):
        """ConnStats of the connections made after mark."""
        with self._lock:
            return list(self.conns[mark:])

    def wait_closed(self, mark, timeout=5.0):
        """Wait until every connection after mark has closed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(c.closed for c in self.since(mark)):
                return True
            time.sleep(0.002)
        return False

    def stop(self):
        """Close the listener and every connection still open; end the
        loop and its thread. Safe to call twice."""
        if self._loop.is_closed():
            return
        try:
            self.down()
        except Exception:       # noqa: BLE001 - stopping anyway
            pass

        async def cancel_all():
            me = asyncio.current_task()
            tasks = [t for t in asyncio.all_tasks() if t is not me]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        try:
            self._call(cancel_all(), timeout=5)
        except Exception:       # noqa: BLE001
            pass
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive():
            self._loop.close()
