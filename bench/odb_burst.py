"""W7 of the benchmark: a burst of submissions from parallel callers.

`w7_callers` caller threads start together; each runs its share of
`w7_msgs` submissions of the W1 message (each with a Message-ID of its
own) one after another, through the proxy at --rtt-ms: ours with `-odb`
(the caller returns once the message is queued and a detached process
delivers it), msmtp synchronously. Measured for each program:

  connections    every connection the proxy accepted from the start until
                 the last process of the program has exited: the callers'
                 children and every detached runner, which become ours
                 (PR_SET_CHILD_SUBREAPER) when their parent exits
  last accepted  from the start to the newest mailbox file of the burst at
                 the Postfix smarthost (its mtime: Postfix virtual(8)
                 writes it right after the 250 to the end of data); with
                 the aiosmtpd smarthost, when the count was seen complete
  callers' CPU   user+sys of the submission processes the callers spawned
                 and waited for (their wait4 rusage, which includes what
                 they waited for themselves), per message
  runners' CPU   the same for the detached processes, reaped once their
                 callers had exited (ours only)

Each message must arrive exactly once: the distinct Message-IDs are
counted in the Postfix mailbox (aiosmtpd reports none: its count only).
A message missing after ARRIVAL_TIMEOUT, a duplicate, a failed
submission, or a runner still running after RUNNER_TIMEOUT is a failure
of the harness; no number is judged.
"""

import os
import signal
import subprocess
import threading
import time
import uuid

import workloads as wl

ARRIVAL_TIMEOUT = 120   # seconds, for the whole burst to reach the smarthost
RUNNER_TIMEOUT = 60     # seconds, for the detached runners to exit after it
SETTLE = 1.0            # seconds: a late duplicate has this long to show


def submit(prog, argv, data, ferr):
    """One submission with data on its stdin: (exit status, CPU seconds)."""
    p = subprocess.Popen(argv, stdin=subprocess.PIPE,
                         stdout=subprocess.DEVNULL, stderr=ferr,
                         env=prog.env, cwd=prog.env["HOME"])
    watchdog = threading.Timer(wl.TIMEOUT, os.kill, (p.pid, signal.SIGKILL))
    watchdog.start()
    try:
        p.stdin.write(data)
        p.stdin.close()
    except BrokenPipeError:
        pass
    _, status, ru = os.wait4(p.pid, 0)
    watchdog.cancel()
    p.returncode = os.waitstatus_to_exitcode(status)
    return p.returncode, ru.ru_utime + ru.ru_stime


def caller(prog, argv, messages, errpath, barrier, out):
    """One caller: wait for the start, then submit its messages in turn."""
    with open(errpath, "wb") as ferr:
        barrier.wait()
        for data in messages:
            out.append(submit(prog, argv, data, ferr))


def messages_for(ctx, prefix, count):
    """count copies of the W1 message, each with Message-ID <prefix-i@...>."""
    base = ctx.message(2048).read_bytes()
    old = b"<bench-2048@example.com>"
    return [base.replace(old, b"<%s-%03d@example.com>"
                         % (prefix.encode(), i)) for i in range(count)]


def start_callers(prog, argv, datas, ncallers):
    """The callers, waiting at the barrier; (barrier, threads, results)."""
    barrier = threading.Barrier(ncallers + 1)
    threads, results = [], []
    for c in range(ncallers):
        out = []
        results.append(out)
        t = threading.Thread(target=caller, name="w7-caller-%d" % c,
                             args=(prog, argv, datas[c::ncallers],
                                   prog.dir / ("err.%d" % c), barrier, out))
        t.start()
        threads.append(t)
    while barrier.n_waiting < ncallers:
        time.sleep(0.001)
    return barrier, threads, results


class Arrivals:
    """The burst's messages at the smarthost, by Message-ID prefix."""

    def __init__(self, host, prefix, count):
        self.host, self.prefix, self.count = host, prefix, count
        self.received0 = host.received()
        self.seen_complete = None

    def snapshot(self):
        """(distinct messages, duplicates, newest arrival time or None)."""
        ids = self.host.arrivals(self.prefix)
        if ids is None:         # a host that cannot tell Message-IDs
            got = self.host.received() - self.received0
            if got >= self.count and self.seen_complete is None:
                self.seen_complete = time.time()
            return (min(got, self.count), max(0, got - self.count),
                    self.seen_complete)
        times = [t for ts in ids.values() for t in ts]
        return len(ids), len(times) - len(ids), max(times, default=None)

    def wait(self, timeout):
        """Poll until every message is there or timeout; the snapshot."""
        deadline = time.monotonic() + timeout
        while True:
            snap = self.snapshot()
            if snap[0] >= self.count or time.monotonic() > deadline:
                return snap
            time.sleep(0.01)


def reap_runners(before, timeout):
    """Wait for the detached processes (children that are not in before)
    to exit, reaping each; (their CPU seconds, pids killed at timeout)."""
    cpu, killed = 0.0, []
    deadline = time.monotonic() + timeout
    while True:
        left = wl.children() - before
        if not left:
            return cpu, killed
        for pid in left:
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                flags = 0
            else:
                flags = os.WNOHANG
            try:
                done, _, ru = os.wait4(pid, flags)
            except ChildProcessError:
                continue
            if done:
                cpu += ru.ru_utime + ru.ru_stime
        time.sleep(0.005)


def burst(ctx, prog, argv, proxy, n, chk):
    """One program's burst: its raw numbers (the time of the last only
    when every message arrived exactly once)."""
    count, ncallers = n["w7_msgs"], n["w7_callers"]
    prefix = "w7-%s-%s" % (prog.label.lower(), uuid.uuid4().hex[:12])
    datas = messages_for(ctx, prefix, count)
    arrivals = Arrivals(ctx.host, prefix, count)
    before = wl.children()
    mark = proxy.mark()
    barrier, threads, results = start_callers(prog, argv, datas, ncallers)
    t0, m0 = time.time(), time.monotonic()
    barrier.wait()
    for t in threads:
        t.join()
    callers_s = time.monotonic() - m0
    got, _, last = arrivals.wait(ARRIVAL_TIMEOUT)
    runners_cpu, killed = reap_runners(before, RUNNER_TIMEOUT)
    proxy.wait_closed(mark, 10)
    time.sleep(SETTLE)
    got, dups, last = arrivals.snapshot()
    runs = [r for out in results for r in out]
    complain(prog, count, runs, (got, dups, killed), chk)
    conns = len(proxy.since(mark))
    complete = got == count and not dups
    ctx.log("  W7 %s: %d of %d messages over %d connections, the last of "
            "them accepted after %s s, callers done after %.2f s"
            % (prog.label, got, count, conns,
               "%.2f" % (last - t0) if last else "-", callers_s))
    return {"connections": conns, "delivered": got, "duplicates": dups,
            "last_accepted_s": last - t0 if complete else None,
            "last_arrival_s": last - t0 if last else None,
            "callers_s": callers_s,
            "callers_cpu_s": sum(cpu for _, cpu in runs),
            "runners_cpu_s": runners_cpu}


def complain(prog, count, runs, outcome, chk):
    """Note what went wrong with one program's burst as failures."""
    got, dups, killed = outcome
    what = "W7 %s" % prog.label
    bad = [rc for rc, _ in runs if rc != 0]
    if bad:
        chk.failures.append("%s: %d of %d submissions failed (%s): %s" % (
            what, len(bad), count, bad[:5],
            (prog.dir / "err.0").read_text(errors="replace")[-300:]))
    if got < count or dups:
        why = ""
        if got < count and hasattr(prog, "listing"):
            out = subprocess.run(prog.listing(), env=prog.env,
                                 capture_output=True, text=True,
                                 timeout=wl.TIMEOUT, check=False)
            why = "; its queue: " + " ".join(
                (out.stdout + out.stderr).split())[:600]
        chk.failures.append("%s: the smarthost got %d of %d messages, %d "
                            "duplicates%s" % (what, got, count, dups, why))
    if killed:
        chk.failures.append("%s: %d detached processes still running %d s "
                            "after the burst arrived (killed)"
                            % (what, len(killed), RUNNER_TIMEOUT))


def w7(ctx, n):
    chk = wl.Checker("W7")
    proxy = ctx.proxy("starttls", ctx.delay)
    raw = {}
    wl.subreaper(True)
    try:
        ours, msmtp = ctx.pair("W7", proxy.port, "starttls")
        for prog, argv in ((ours, ours.background()), (msmtp, msmtp.send())):
            raw[prog.label] = burst(ctx, prog, argv, proxy, n, chk)
    finally:
        wl.subreaper(False)
        proxy.stop()
    count, ncallers = n["w7_msgs"], n["w7_callers"]

    def per_msg(label, key, scale=1000.0):
        r = raw.get(label)
        return r and r[key] * scale / count

    def whole(label, key):
        r = raw.get(label)
        return r and r[key]
    metrics = [
        wl.metric("W7 connections for %d -odb from %d callers"
                  % (count, ncallers), "", whole("OUR", "connections"),
                  whole("MSMTP", "connections")),
        wl.metric("W7 time until the last is accepted", "s",
                  whole("OUR", "last_accepted_s"),
                  whole("MSMTP", "last_accepted_s")),
        wl.metric("W7 callers' CPU per message", "ms",
                  per_msg("OUR", "callers_cpu_s"),
                  per_msg("MSMTP", "callers_cpu_s")),
        wl.metric("W7 (info) detached runners' CPU per message", "ms",
                  per_msg("OUR", "runners_cpu_s"), None),
        wl.metric("W7 (info) the callers all returned after", "s",
                  whole("OUR", "callers_s"), whole("MSMTP", "callers_s")),
        wl.metric("W7 (info) messages accepted within %d s" % ARRIVAL_TIMEOUT,
                  "", whole("OUR", "delivered"), whole("MSMTP", "delivered"),
                  better="higher"),
    ]
    return {"metrics": metrics, "raw": raw, "failures": chk.failures}
