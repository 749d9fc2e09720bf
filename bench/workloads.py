"""The workloads W1-W6 of the benchmark (see run.py; W7 is odb_burst.py).

Every workload runs ours and msmtp alternately (A B A B ...), on the same
message file, against the same smarthost, and returns
  {"metrics": [metric...], "raw": {...}, "failures": [text...]}
where a metric is {"name", "unit", "ours", "msmtp"} with medians.

CPU is the user+sys time of the child (and anything it waited for), from
resource.getrusage(RUSAGE_CHILDREN) before and after; wall is
time.perf_counter() around the run. Nothing here judges the numbers.
"""

import os
import resource
import signal
import statistics
import subprocess
import threading
import time
from pathlib import Path

from programs import Msmtp, Ours
from proxy import LatencyProxy

TIMEOUT = 120           # one child, seconds
BIG_TIMEOUT = 600
DRAIN_TIMEOUT = 600     # one queue flush
GNU_TIME = "/usr/bin/time"


class Context:
    def __init__(self, workdir, host, binary, delay, msmtp_auth, log,
                 verbose, floor=None):
        self.workdir = Path(workdir)
        self.floor = floor      # bench/openssl_floor.c, built; run beside W1
        self.host, self.binary, self.delay = host, binary, delay
        self.msmtp_auth, self.log, self.verbose = msmtp_auth, log, verbose
        self.proxies = []
        self.messages = {}
        self.traces = []        # turn sequences of sample messages

    def trace(self, what, prog, run, conn):
        """Keep (and with -v print) the turns of one sample message."""
        wall = run.wall
        self.traces.append({"what": what, "program": prog.label,
                            "wall_ms": round(wall * 1000, 1),
                            "connect_after_ms": round(
                                (conn.t0 - run.started) * 1000, 1),
                            # from the last byte seen to the process's exit
                            "exit_after_last_ms": round(
                                (run.started + wall - conn.t0 -
                                 (conn.runs[-1][3] if conn.runs else 0))
                                * 1000, 1),
                            "round_trips": conn.round_trips,
                            "changes": conn.changes,
                            "sequence": conn.sequence(),
                            "runs": [list(r) for r in conn.runs]})
        self.log("  %s %s (%.1f ms, connected at %.1f ms, %d round trips, "
                 "%d changes): %s"
                 % (what, prog.label, wall * 1000,
                    (conn.t0 - run.started) * 1000, conn.round_trips,
                    conn.changes, conn.sequence()))

    def pair(self, name, port, tls):
        return (Ours(self.workdir, name, self.host, port, tls, self.binary),
                Msmtp(self.workdir, name, self.host, port, tls,
                      self.msmtp_auth))

    def proxy(self, tls, delay):
        p = LatencyProxy(self.host.ports[tls], delay)
        self.proxies.append(p)
        return p

    def message(self, size):
        """Path of a message file of about size bytes (made once)."""
        if size not in self.messages:
            self.messages[size] = make_message(self.workdir, size,
                                               self.host.rcpt)
        return self.messages[size]

    def close(self):
        for p in self.proxies:
            p.stop()
        self.proxies = []


def make_message(d, size, rcpt):
    path = Path(d) / ("msg-%d.eml" % size)
    head = ("From: Bench <root@example.com>\nTo: <%s>\n"
            "Subject: relaymail benchmark, %d bytes\n"
            "Date: Fri, 27 Nov 2026 03:00:00 +0000\n"
            "Message-ID: <bench-%d@example.com>\n"
            "MIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n"
            "\n" % (rcpt, size, size)).encode()
    line = (b"The quick brown fox jumps over the lazy dog; "
            b"0123456789 abcdefghijklmnopqrstuvw\n")
    with open(path, "wb") as f:
        f.write(head)
        left = max(0, size - len(head))
        while left > 0:
            chunk = line * min(left // len(line) + 1, 16384)
            f.write(chunk[:left])
            left -= min(left, len(chunk))
    return path


def cpu_now():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


class Run:
    """One finished child: rc, wall and cpu seconds, stderr tail."""

    def __init__(self, rc, wall, cpu, err, started=None):
        self.rc, self.wall, self.cpu, self.err = rc, wall, cpu, err
        self.started = started      # time.monotonic() at the start


def wait_all(procs, timeout):
    """Each process's exit status ("timeout" when killed for taking longer
    than timeout seconds). Blocking waits (waitpid) under one watchdog:
    Popen.wait(timeout) polls with doubling sleeps (0.5, 1, 2, 4, 8 ms ...),
    which rounded a short run's wall time up to 7.5 or 15.5 ms."""
    fired = threading.Event()

    def kill_all():
        fired.set()
        for p in procs:
            if p.poll() is None:
                p.kill()
    timer = threading.Timer(timeout, kill_all)
    timer.start()
    try:
        rcs = [p.wait() for p in procs]
    finally:
        timer.cancel()
    return ["timeout" if fired.is_set() and rc == -signal.SIGKILL else rc
            for rc in rcs]


def run_child(cmd, env, stdin_path, errpath, timeout=TIMEOUT):
    with open(stdin_path or os.devnull, "rb") as fin, \
            open(errpath, "wb") as ferr:
        started = time.monotonic()
        c0, t0 = cpu_now(), time.perf_counter()
        p = subprocess.Popen(cmd, stdin=fin, stdout=subprocess.DEVNULL,
                             stderr=ferr, env=env, cwd=env["HOME"])
        rc = wait_all([p], timeout)[0]
        t1, c1 = time.perf_counter(), cpu_now()
    err = Path(errpath).read_bytes()[-400:].decode(errors="replace")
    return Run(rc, t1 - t0, c1 - c0, err, started)


def subreaper(on):
    """While on, orphans of our children (the detached sender of `-odb`)
    become ours, so W6 can wait for them and leave nothing behind. Only
    for W6: Postfix's master, started earlier, must not become ours."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1 if on else 0, 0, 0, 0)   # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def children():
    """PIDs of this process's children (W6 makes it a subreaper, so
    a detached background sender of ours lands here when its parent
    exits)."""
    pids = set()
    try:
        for t in os.listdir("/proc/self/task"):
            with open("/proc/self/task/%s/children" % t) as f:
                pids.update(int(x) for x in f.read().split())
    except OSError:
        pass
    return pids


def reap(pids, timeout):
    """Wait (polling) until every pid in pids has exited and is reaped;
    the pids still running at the timeout."""
    left = set(pids)
    deadline = time.monotonic() + timeout
    while left:
        for pid in list(left):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                left.discard(pid)
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.002)
    return left


def med(xs):
    return statistics.median(xs) if xs else None


def metric(name, unit, ours, msmtp, better="lower"):
    return {"name": name, "unit": unit, "ours": ours, "msmtp": msmtp,
            "better": better}


class Checker:
    """Collects delivery failures of one workload."""

    def __init__(self, name):
        self.name, self.failures = name, []

    def run(self, prog, r, what):
        if r.rc != 0:
            self.failures.append("%s %s %s: exit %s: %s" % (
                self.name, prog.label, what, r.rc, r.err.strip()))
            return False
        return True

    def sync(self, prog, r, queued_before, what):
        """A sync send must deliver, not queue (exit 0 either way)."""
        if not self.run(prog, r, what):
            return False
        if isinstance(prog, Ours) and prog.queued() > queued_before:
            self.failures.append("%s OUR %s: queued instead of delivered: %s"
                                 % (self.name, what, r.err.strip()))
            return False
        return True


def wait_received(ctx, target, timeout=30):
    """Wait until the smarthost has target messages; the count reached."""
    deadline = time.monotonic() + timeout
    while True:
        got = ctx.host.received()
        if got >= target or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


# --- W1 / W2 : sequential small messages -------------------------------------

def sequential(ctx, name, port, tls, count, proxy=None, floor=None):
    """count interleaved sends of the 2 KB message by each program;
    per message: wall, cpu and (through a proxy) turns and connections.
    floor: a program run in the same rotation (its cpu in raw["FLOOR"])."""
    ours, msmtp = ctx.pair(name, port, tls)
    msg = ctx.message(2048)
    chk = Checker(name)
    raw = {p.label: {"wall": [], "cpu": [], "round_trips": [],
                     "changes": [], "connections": []}
           for p in (ours, msmtp)}
    raw["FLOOR"] = {"cpu": []}
    received0 = ctx.host.received()
    sent = 0
    for i in range(count + 1):          # i == 0: warm-up, not counted
        for prog in (ours, msmtp):
            mark = proxy.mark() if proxy else 0
            q0 = ours.queued()
            r = run_child(prog.send(), prog.env, msg, prog.dir / "err")
            ok = chk.sync(prog, r, q0, "message %d" % i)
            sent += 1 if ok else 0
            if not ok or i == 0:
                continue
            d = raw[prog.label]
            d["wall"].append(r.wall)
            d["cpu"].append(r.cpu)
            if proxy:
                proxy.wait_closed(mark, 2)
                conns = proxy.since(mark)
                if i == 1:          # warm: the TLS session cache is filled
                    for c in conns:
                        ctx.trace(name, prog, r, c)
                d["round_trips"].append(sum(c.round_trips for c in conns))
                d["changes"].append(sum(c.changes for c in conns))
                d["connections"].append(len(conns))
        if floor:
            r = run_child([floor], ours.env, None, ours.dir / "floor-err")
            if r.rc != 0:
                chk.failures.append("%s: %s: exit %s" % (name, floor, r.rc))
            elif i > 0:
                raw["FLOOR"]["cpu"].append(r.cpu)
        if i == 0 or i % 50 == 0:
            ctx.log("  %s: %d/%d" % (name, i, count))
    got = wait_received(ctx, received0 + sent)
    if got < received0 + sent:
        chk.failures.append("%s: the smarthost got %d of %d messages"
                            % (name, got - received0, sent))
    return raw, chk


def trace_loopback(ctx):
    """The second message of each program (the first one warms caches up)
    through a proxy with no delay: its turns with their times, to show
    where a loopback stall sits."""
    proxy = ctx.proxy("starttls", 0.0)
    try:
        ours, msmtp = ctx.pair("W1-trace", proxy.port, "starttls")
        for prog in (ours, msmtp, ours, msmtp):
            mark = proxy.mark()
            r = run_child(prog.send(), prog.env, ctx.message(2048),
                          prog.dir / "err")
            proxy.wait_closed(mark, 2)
            warm = getattr(prog, "_warm", False)
            prog._warm = True
            for c in proxy.since(mark) if warm else ():
                ctx.trace("W1 loopback via proxy", prog, r, c)
    finally:
        proxy.stop()


def w1(ctx, n):
    trace_loopback(ctx)
    raw, chk = sequential(ctx, "W1", ctx.host.ports["starttls"], "starttls",
                          n["n1"], floor=ctx.floor)
    o, m = raw["OUR"], raw["MSMTP"]
    ms = 1000.0
    metrics = [
        metric("W1 wall per message (loopback, STARTTLS)", "ms",
               med(o["wall"]) * ms, med(m["wall"]) * ms),
        metric("W1 CPU per message (user+sys)", "ms",
               med(o["cpu"]) * ms, med(m["cpu"]) * ms),
    ]
    if raw["FLOOR"]["cpu"]:
        # OUR column: bench/openssl_floor.c, OpenSSL's start-up with no
        # connection; what any client of the system OpenSSL pays
        metrics.append(metric("W1 CPU of OpenSSL's start-up alone (FLOOR "
                              "in the OUR column)", "ms",
                              med(raw["FLOOR"]["cpu"]) * ms,
                              med(m["cpu"]) * ms))
    metrics += [
        metric("W1 wall / CPU (stall if > 2)", "x",
               med(o["wall"]) / max(med(o["cpu"]), 1e-6),
               med(m["wall"]) / max(med(m["cpu"]), 1e-6)),
    ]
    return {"metrics": metrics, "raw": raw, "failures": chk.failures}


def w2(ctx, n):
    metrics, raws, failures = [], {}, []
    rtt = ctx.delay * 2000
    for tls, label in (("starttls", "STARTTLS"), ("tls", "implicit TLS")):
        proxy = ctx.proxy(tls, ctx.delay)
        try:
            raw, chk = sequential(ctx, "W2-" + tls, proxy.port, tls,
                                  n["n2"], proxy)
        finally:
            proxy.stop()
        raws[tls] = raw
        failures += chk.failures
        o, m = raw["OUR"], raw["MSMTP"]
        metrics += [
            metric("W2 wall per message, %s, %g ms RTT" % (label, rtt), "ms",
                   med(o["wall"]) * 1000, med(m["wall"]) * 1000),
            metric("W2 round trips per message, %s" % label, "",
                   med(o["round_trips"]), med(m["round_trips"])),
            metric("W2 direction changes per message, %s" % label, "",
                   med(o["changes"]), med(m["changes"])),
        ]
    return {"metrics": metrics, "raw": raws, "failures": failures}


# --- W3 : one big message ----------------------------------------------------

def rss_floor(ctx):
    """Peak RSS GNU time reports for /bin/true (what any child starts at)."""
    out = ctx.workdir / "rss-floor"
    subprocess.run([GNU_TIME, "-f", "%M", "-o", str(out), "/bin/true"],
                   timeout=10, check=False)
    try:
        return int(out.read_text().split()[-1])
    except (OSError, ValueError, IndexError):
        return None


def w3(ctx, n):
    size = n["big_mb"] * 1024 * 1024
    ours, msmtp = ctx.pair("W3", ctx.host.ports["starttls"], "starttls")
    msg = ctx.message(size)
    chk = Checker("W3")
    raw = {p.label: {"wall": [], "cpu": [], "rss_kb": []}
           for p in (ours, msmtp)}
    received0 = ctx.host.received()
    sent = 0
    for rep in range(n["big_reps"]):
        for prog in (ours, msmtp):
            rss = prog.dir / "rss"
            q0 = ours.queued()
            cmd = [GNU_TIME, "-f", "%M", "-o", str(rss)] + prog.send()
            r = run_child(cmd, prog.env, msg, prog.dir / "err", BIG_TIMEOUT)
            if not chk.sync(prog, r, q0, "rep %d" % rep):
                continue
            sent += 1
            d = raw[prog.label]
            d["wall"].append(r.wall)
            d["cpu"].append(r.cpu)
            d["rss_kb"].append(int(rss.read_text().split()[-1]))
            ctx.log("  W3 %s rep %d: %.2f s wall, %.3f s CPU, %d KB"
                    % (prog.label, rep, r.wall, r.cpu, d["rss_kb"][-1]))
    got = wait_received(ctx, received0 + sent, 120)
    if got < received0 + sent:
        chk.failures.append("W3: the smarthost got %d of %d messages"
                            % (got - received0, sent))
    o, m = raw["OUR"], raw["MSMTP"]
    mb = n["big_mb"]
    metrics = [
        metric("W3 wall, one %d MB message" % mb, "s",
               med(o["wall"]), med(m["wall"])),
        metric("W3 CPU, one %d MB message" % mb, "s",
               med(o["cpu"]), med(m["cpu"])),
        metric("W3 peak RSS, one %d MB message" % mb, "MB",
               med(o["rss_kb"]) and med(o["rss_kb"]) / 1024,
               med(m["rss_kb"]) and med(m["rss_kb"]) / 1024),
    ]
    raw["rss_floor_kb"] = rss_floor(ctx)
    return {"metrics": metrics, "raw": raw, "failures": chk.failures}


# --- W4 : concurrent submissions ---------------------------------------------

def burst(prog, count, msg, timeout=TIMEOUT):
    """Start count sends at once; (wall, cpu, [rc...])."""
    files = []
    procs = []
    c0, t0 = cpu_now(), time.perf_counter()
    try:
        for i in range(count):
            fin = open(msg, "rb")
            ferr = open(prog.dir / ("err.%d" % i), "wb")
            files += [fin, ferr]
            procs.append(subprocess.Popen(
                prog.send(), stdin=fin, stdout=subprocess.DEVNULL,
                stderr=ferr, env=prog.env, cwd=prog.env["HOME"]))
        rcs = wait_all(procs, timeout)
        t1, c1 = time.perf_counter(), cpu_now()
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for f in files:
            f.close()
    return t1 - t0, c1 - c0, rcs


def w4(ctx, n):
    ours, msmtp = ctx.pair("W4", ctx.host.ports["starttls"], "starttls")
    msg = ctx.message(2048)
    chk = Checker("W4")
    raw = {p.label: {"wall": [], "cpu": []} for p in (ours, msmtp)}
    received0 = ctx.host.received()
    sent = 0
    for rep in range(n["conc_reps"]):
        for prog in (ours, msmtp):
            q0 = ours.queued()
            wall, cpu, rcs = burst(prog, n["conc"], msg)
            bad = [rc for rc in rcs if rc != 0]
            sent += len(rcs) - len(bad)
            if bad:
                chk.failures.append("W4 %s rep %d: %d of %d failed (%s)"
                                    % (prog.label, rep, len(bad), len(rcs),
                                       bad[:5]))
                continue
            if isinstance(prog, Ours) and ours.queued() > q0:
                chk.failures.append("W4 OUR rep %d: %d queued instead of "
                                    "delivered" % (rep, ours.queued() - q0))
                continue
            raw[prog.label]["wall"].append(wall)
            raw[prog.label]["cpu"].append(cpu)
            ctx.log("  W4 %s rep %d: %.2f s" % (prog.label, rep, wall))
    got = wait_received(ctx, received0 + sent, 60)
    if got < received0 + sent:
        chk.failures.append("W4: the smarthost got %d of %d messages"
                            % (got - received0, sent))
    o, m = raw["OUR"], raw["MSMTP"]
    metrics = [
        metric("W4 total wall, %d concurrent submissions" % n["conc"], "s",
               med(o["wall"]), med(m["wall"])),
        metric("W4 total CPU, %d concurrent submissions" % n["conc"], "s",
               med(o["cpu"]), med(m["cpu"])),
    ]
    return {"metrics": metrics, "raw": raw, "failures": chk.failures}


# --- W5 : queue while the smarthost is down, then flush ----------------------

def w5(ctx, n):
    chk = Checker("W5")
    raw = {lab: {"enqueue_wall": [], "enqueue_cpu": [], "drain_wall": [],
                 "drain_cpu": [], "connections": [], "round_trips": []}
           for lab in ("OUR", "MSMTP")}
    count = n["n5"]
    msg = ctx.message(2048)
    for rep in range(n["w5_reps"]):
        proxy = ctx.proxy("starttls", 0.0)
        try:
            ours, msmtp = ctx.pair("W5-%d" % rep, proxy.port, "starttls")
            proxy.down()
            for i in range(count):
                for prog in (ours, msmtp):
                    r = run_child(prog.enqueue(), prog.env, msg,
                                  prog.dir / "err")
                    if chk.run(prog, r, "enqueue %d" % i):
                        raw[prog.label]["enqueue_wall"].append(r.wall)
                        raw[prog.label]["enqueue_cpu"].append(r.cpu)
            for prog in (ours, msmtp):
                if prog.queued() != count:
                    chk.failures.append("W5 %s: %d queued, not %d"
                                        % (prog.label, prog.queued(), count))
            proxy.up()
            for prog in (ours, msmtp):
                received0 = ctx.host.received()
                mark = proxy.mark()
                r = run_child(prog.flush(), prog.env, None, prog.dir / "err",
                              DRAIN_TIMEOUT)
                if not chk.run(prog, r, "flush"):
                    continue
                proxy.wait_closed(mark, 5)
                left = prog.queued()
                got = wait_received(ctx, received0 + count) - received0
                if left or got < count:
                    chk.failures.append("W5 %s flush: %d left in the queue,"
                                        " smarthost got %d of %d" % (
                                            prog.label, left, got, count))
                d = raw[prog.label]
                d["drain_wall"].append(r.wall)
                d["drain_cpu"].append(r.cpu)
                d["connections"].append(len(proxy.since(mark)))
                d["round_trips"].append(sum(c.round_trips
                                            for c in proxy.since(mark)))
                ctx.log("  W5 %s rep %d: drained %d in %.2f s over %d "
                        "connections" % (prog.label, rep, count, r.wall,
                                         d["connections"][-1]))
        finally:
            proxy.stop()
    o, m = raw["OUR"], raw["MSMTP"]
    metrics = [
        metric("W5 enqueue per message, smarthost down", "ms",
               med(o["enqueue_wall"]) and med(o["enqueue_wall"]) * 1000,
               med(m["enqueue_wall"]) and med(m["enqueue_wall"]) * 1000),
        metric("W5 drain %d queued (sendmail -q / msmtpq -r)" % count, "s",
               med(o["drain_wall"]), med(m["drain_wall"])),
        metric("W5 drain CPU", "s", med(o["drain_cpu"]),
               med(m["drain_cpu"])),
        metric("W5 connections used by the drain", "",
               med(o["connections"]), med(m["connections"])),
        metric("W5 round trips per message in the drain", "",
               med(o["round_trips"]) and med(o["round_trips"]) / count,
               med(m["round_trips"]) and med(m["round_trips"]) / count),
    ]
    return {"metrics": metrics, "raw": raw, "failures": chk.failures}


# --- W6 : what the caller waits for ------------------------------------------

def w6(ctx, n):
    chk = Checker("W6")
    proxy = ctx.proxy("starttls", ctx.delay)
    raw = {"OUR": {"wall": [], "delivered_after": []},
           "MSMTP": {"wall": []}}
    subreaper(True)
    try:
        ours, msmtp = ctx.pair("W6", proxy.port, "starttls")
        msg = ctx.message(2048)
        for i in range(n["n6"] + 1):            # i == 0: warm-up
            before = children()
            r = run_child(ours.background(), ours.env, msg, ours.dir / "err")
            t0 = time.perf_counter() - r.wall
            if chk.run(ours, r, "-odb %d" % i):
                deadline = time.monotonic() + 30
                while ours.queued() and time.monotonic() < deadline:
                    time.sleep(0.002)
                # the background sender's end (when it is ours to reap)
                left = reap(children() - before, 10)
                done = time.perf_counter() - t0
                if ours.queued() or left:
                    chk.failures.append("W6 OUR -odb %d: still queued or "
                                        "running after 30 s" % i)
                elif i:
                    raw["OUR"]["wall"].append(r.wall)
                    raw["OUR"]["delivered_after"].append(done)
            q0 = ours.queued()
            r = run_child(msmtp.send(), msmtp.env, msg, msmtp.dir / "err")
            if chk.sync(msmtp, r, q0, "send %d" % i) and i:
                raw["MSMTP"]["wall"].append(r.wall)
    finally:
        subreaper(False)
        proxy.stop()
    o, m = raw["OUR"], raw["MSMTP"]
    rtt = ctx.delay * 2000
    metrics = [
        metric("W6 caller waits, OUR -odb vs msmtp sync, %g ms RTT" % rtt,
               "ms", med(o["wall"]) and med(o["wall"]) * 1000,
               med(m["wall"]) and med(m["wall"]) * 1000),
        metric("W6 (info) -odb: delivered and exited after", "ms",
               med(o["delivered_after"]) and
               med(o["delivered_after"]) * 1000, None),
    ]
    return {"metrics": metrics, "raw": raw, "failures": chk.failures}


def w7(ctx, n):
    """W7 lives in odb_burst.py, which builds on the helpers here (so it
    is imported when it runs, not before this module is complete)."""
    import odb_burst
    return odb_burst.w7(ctx, n)


WORKLOADS = [("W1", w1), ("W2", w2), ("W3", w3), ("W4", w4), ("W5", w5),
             ("W6", w6), ("W7", w7)]


def run_all(ctx, n, only=()):
    results = {}
    try:
        for name, fn in WORKLOADS:
            if only and name not in only:
                continue
            ctx.log("%s ..." % name)
            t0 = time.monotonic()
            results[name] = fn(ctx, n)
            results[name]["elapsed_s"] = round(time.monotonic() - t0, 1)
            for f in results[name]["failures"][:5]:
                ctx.log("! " + f)
            ctx.log("%s done in %.1f s" % (name, results[name]["elapsed_s"]))
    finally:
        ctx.close()
    return results
