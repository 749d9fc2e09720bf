"""Instruction counts under callgrind: deterministic, unlike CPU times, so a
regression in start-up work shows as a number even on a busy machine.

  resumed send   `sendmail -t -i` (mode = sync, STARTTLS) once a saved TLS
                 session exists (two warm-up sends first)
  queue-only     `sendmail -odq -t -i`: spooled, no connection

Each is one run of ./sendmail under `valgrind --tool=callgrind`; then one
run of each without valgrind under GNU time gives its minor page faults
(the process from its fork, exec included) and peak RSS.

  /usr/bin/python3 bench/instructions.py   (aiosmtpd smarthost, prints both)
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import programs  # noqa: E402
import smarthosts  # noqa: E402
import workloads  # noqa: E402

VALGRIND = "/usr/bin/valgrind"


def _run(argv, env, data, timeout=120):
    """Run argv with data on stdin; (rc, stderr)."""
    p = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _, err = p.communicate(data, timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        return -1, b"timeout"
    return p.returncode, err


def callgrind(argv, env, data, workdir):
    """Instructions executed by argv (all of its code, ld.so included)."""
    out = os.path.join(workdir, "callgrind.out")
    rc, err = _run([VALGRIND, "--tool=callgrind", "--callgrind-out-file="
                       + out] + argv, env, data)
    if rc != 0:
        raise RuntimeError("%s under callgrind: exit %d: %s"
                           % (argv[-3:], rc, err.decode(errors="replace")[-300:]))
    with open(out) as f:
        for line in f:
            if line.startswith("summary:") or line.startswith("totals:"):
                return int(line.split()[1])
    raise RuntimeError("no totals in %s" % out)


def measure(workdir, host, binary):
    """{'resumed_send_ir', 'queue_only_ir', '*_rss_mb', '*_faults'} or
    {'skipped': why} when valgrind is not installed."""
    if not os.access(VALGRIND, os.X_OK):
        return {"skipped": "valgrind is not installed"}
    prog = programs.Ours(workdir, "callgrind", host,
                         host.ports["starttls"], "starttls", binary)
    data = workloads.make_message(workdir, 2048, host.rcpt).read_bytes()
    for _ in range(2):          # the first saves a session, the second uses it
        rc, err = _run(prog.send(["-v"]), prog.env, data)
        if rc != 0:
            raise RuntimeError("warm-up send: exit %d: %s"
                               % (rc, err.decode(errors="replace")[-300:]))
    # what is measured is a resumed send only if the last warm-up resumed
    if b" resumed" not in err:
        raise RuntimeError("the warm-up send did not resume a saved TLS session")
    out = {"resumed_send_ir": callgrind(prog.send(), prog.env, data, workdir),
           "queue_only_ir": callgrind(prog.enqueue(), prog.env, data,
                                      workdir)}
    # peak RSS of a queue-only run on its own, as W3 measures it, and the
    # page faults of a resumed send: on a virtual machine each costs
    # microseconds, and their number hardly varies from run to run
    rss = os.path.join(workdir, "rss")
    for key, argv in (("queue_only", prog.enqueue()), ("resumed_send", prog.send())):
        rc, err = _run([workloads.GNU_TIME, "-f", "%M %R", "-o", rss]
                       + argv, prog.env, data)
        if rc != 0:
            raise RuntimeError("%s run: exit %d: %s" % (
                key, rc, err.decode(errors="replace")[-300:]))
        with open(rss) as f:
            kb, faults = f.read().split()[-2:]
        out[key + "_rss_mb"] = round(int(kb) / 1024, 2)
        out[key + "_faults"] = int(faults)
    return out


def render(counts):
    """The line printed beside the table."""
    if "skipped" in counts:
        return "Instructions (callgrind): skipped: %s" % counts["skipped"]
    return ("Instructions (callgrind): resumed STARTTLS send %.2f M "
            "(%d page faults), queue-only submission %.2f M (%d page faults, "
            "peak RSS %.2f MB)"
            % (counts["resumed_send_ir"] / 1e6, counts["resumed_send_faults"],
               counts["queue_only_ir"] / 1e6, counts["queue_only_faults"],
               counts["queue_only_rss_mb"]))


def main():
    binary = os.environ.get("RELAYMAIL_SENDMAIL") or str(HERE.parent /
                                                         "sendmail")
    workdir = tempfile.mkdtemp(prefix="rm-ir.")
    host = None
    try:
        pki = smarthosts.make_pki(workdir)
        host = smarthosts.start("aiosmtpd", pki, workdir)
        print(render(measure(workdir, host, binary)))
    finally:
        if host is not None:
            host.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
