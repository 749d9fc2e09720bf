#!/usr/bin/python3
"""relaymail benchmark: ./sendmail against msmtp, side by side.

Both programs do the same work against the same local smarthost (the
private Postfix of tests/interop/, or the aiosmtpd test smarthost), through
bench/proxy.py where a delay or a count of turns and connections is needed.
Runs of the two are interleaved (ours, msmtp, ours, msmtp ...) and medians
reported. Workloads (see bench/workloads.py):

  W1  N sequential `sendmail -t -i` of a 2 KB message, loopback (direct);
      with --floor, bench/openssl_floor.c in the same rotation: the CPU of
      OpenSSL's start-up alone, which every client of it pays
  W2  the same through the proxy at --rtt-ms, STARTTLS and implicit TLS
  W3  one big message (25 MB): wall, CPU, peak RSS
  W4  C concurrent submissions: total wall
  W5  N messages queued while the smarthost is down, then one flush
  W6  what a caller waits for `-odb` (ours) vs a synchronous msmtp send
  W7  a burst of M `-odb` (ours) / synchronous (msmtp) submissions from C
      parallel callers at --rtt-ms: connections, time until the last is
      accepted, CPU per message (bench/odb_burst.py)

and, beside the table, ours alone under callgrind (bench/instructions.py):
the instructions of one resumed STARTTLS send and of one queue-only
submission, which do not depend on how busy the machine is. Two runs under
valgrind (about 2 s), so --quick keeps them.

  /usr/bin/python3 bench/run.py [--quick] [--smarthost postfix|aiosmtpd]
                                [--rtt-ms 20] [--only W7] [--sendmail PATH]
                                [--floor build/openssl-floor] [-v]

Writes bench/results/<UTC time>.md and .json, and latest.md / latest.json.
It measures and reports; it never fails because a number is bad (exit 1
only when the harness itself could not run or a delivery failed).
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import instructions  # noqa: E402
import smarthosts  # noqa: E402
import workloads  # noqa: E402
from report import render_table  # noqa: E402

FULL = dict(n1=200, n2=200, big_mb=25, big_reps=3, conc=50, conc_reps=3,
            n5=200, w5_reps=1, n6=30, w7_msgs=300, w7_callers=10)
QUICK = dict(n1=4, n2=2, big_mb=1, big_reps=1, conc=4, conc_reps=1,
             n5=4, w5_reps=1, n6=2, w7_msgs=6, w7_callers=2)


def parse_args(argv):
    ap = argparse.ArgumentParser(description="relaymail vs msmtp benchmark")
    ap.add_argument("--quick", action="store_true",
                    help="tiny sizes (seconds): checks the harness works")
    ap.add_argument("--smarthost", choices=["postfix", "aiosmtpd", "auto"],
                    default="auto", help="auto: postfix when it can start "
                    "(needs root and the interop set-up), else aiosmtpd")
    ap.add_argument("--rtt-ms", type=float, default=20.0,
                    help="round-trip time the proxy adds for W2, W6, W7")
    ap.add_argument("--msmtp-auth", default="on",
                    help="msmtp's `auth` setting (default: on = its choice)")
    ap.add_argument("--only", default="",
                    help="comma-separated workloads to run, e.g. W1,W3")
    ap.add_argument("--floor", default=None,
                    help="build/openssl-floor (make bench builds it): "
                    "OpenSSL's start-up alone, run beside W1")
    ap.add_argument("--sendmail", default=None,
                    help="the binary to measure (default: "
                    "$RELAYMAIL_SENDMAIL, else ./sendmail of this tree)")
    for k, v in FULL.items():
        ap.add_argument("--" + k.replace("_", "-"), type=type(v),
                        default=None, help="default %s (quick %s)"
                        % (v, QUICK[k]))
    ap.add_argument("--out", default=str(HERE / "results"),
                    help="directory for the results")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="progress, and the turn sequence of one message "
                    "of each program")
    return ap.parse_args(argv)


def sizes(args):
    base = QUICK if args.quick else FULL
    return {k: (getattr(args, k) if getattr(args, k) is not None else v)
            for k, v in base.items()}


def start_smarthost(kind, pki, workdir, log):
    if kind in ("postfix", "auto"):
        try:
            return smarthosts.start("postfix", pki, workdir)
        except Exception as e:   # noqa: BLE001 - reported, then fall back
            if kind == "postfix":
                raise
            log("postfix smarthost unavailable (%s); using aiosmtpd"
                % str(e).splitlines()[0])
    return smarthosts.start("aiosmtpd", pki, workdir)


def reap_orphans():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def build_id(binary, source):
    """What was measured: the binary's SHA-256 (prefix) and mtime, and the
    git commit of the tree source (the binary copied) lies in, if any
    (read-only git commands)."""
    import hashlib
    h = hashlib.sha256()
    with open(binary, "rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            h.update(block)
    out = {"sendmail_sha256": h.hexdigest()[:16],
           "sendmail_mtime": datetime.datetime.fromtimestamp(
               os.stat(binary).st_mtime, datetime.timezone.utc).isoformat(
               timespec="seconds")}
    try:
        git = ["git", "-C", os.path.dirname(os.path.abspath(source))]
        head = subprocess.run(
            git + ["rev-parse", "--short", "HEAD"], capture_output=True,
            text=True, timeout=10)
        if head.returncode != 0:        # not in a git tree
            return out
        out["git_head"] = head.stdout.strip()
        out["git_dirty"] = bool(subprocess.run(
            git + ["status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=10).stdout.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    return out


def write_results(out_dir, table, data):
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y%m%dT%H%M%SZ")
    md = out / (stamp + ".md")
    md.write_text(table)
    (out / (stamp + ".json")).write_text(json.dumps(data, indent=1) + "\n")
    shutil.copyfile(md, out / "latest.md")
    shutil.copyfile(out / (stamp + ".json"), out / "latest.json")
    return md


def main(argv=None):
    args = parse_args(argv)
    n = sizes(args)
    only = {w.strip().upper() for w in args.only.split(",") if w.strip()}

    def log(msg):
        if args.verbose or msg.startswith("!"):
            print(msg, file=sys.stderr, flush=True)

    binary = args.sendmail or os.environ.get("RELAYMAIL_SENDMAIL") or str(
        HERE.parent / "sendmail")
    if not os.access(binary, os.X_OK):
        print("bench: %s is missing: run make first" % binary,
              file=sys.stderr)
        return 1
    for prog in ("/usr/bin/msmtp", "/usr/libexec/msmtp/msmtpq/msmtpq"):
        if not os.access(prog, os.X_OK):
            print("bench: %s is missing: apt-get install msmtp" % prog,
                  file=sys.stderr)
            return 1

    load_before = os.getloadavg()
    workdir = tempfile.mkdtemp(prefix="rm-bench.")
    # measure one binary from start to end, even if the tree is rebuilt
    # meanwhile: a private copy (same name: it dispatches on argv[0])
    snapshot = os.path.join(workdir, "bin", "sendmail")
    os.makedirs(os.path.dirname(snapshot))
    shutil.copy2(binary, snapshot)
    built = build_id(snapshot, binary)
    built["source"] = binary
    binary = snapshot
    host = None
    started = time.monotonic()
    try:
        pki = smarthosts.make_pki(workdir)
        host = start_smarthost(args.smarthost, pki, workdir, log)
        log("smarthost: %s %s" % (host.name, host.ports))
        ctx = workloads.Context(workdir, host, binary, args.rtt_ms / 2000.0,
                                args.msmtp_auth, log, args.verbose,
                                floor=(os.path.abspath(args.floor)
                                       if args.floor else None))
        results = workloads.run_all(ctx, n, only)
        log("callgrind ...")
        try:
            counts = instructions.measure(workdir, host, binary)
        except (RuntimeError, OSError, subprocess.SubprocessError) as e:
            counts = {"skipped": "failed: %s" % e}
            log("! callgrind: %s" % e)
        elapsed = time.monotonic() - started
        meta = {
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec="seconds"),
            "command": " ".join(["/usr/bin/python3", "bench/run.py"] +
                                list(argv if argv is not None
                                     else sys.argv[1:])),
            "smarthost": host.name, "rtt_ms": args.rtt_ms,
            "msmtp_auth": args.msmtp_auth, "sizes": n,
            "quick": args.quick, "elapsed_s": round(elapsed, 1),
            "host": platform.node(), "kernel": platform.release(),
            "cpus": os.cpu_count(),
            "loadavg_before": load_before, "build": built, "loadavg_after": os.getloadavg(),
            "msmtp": subprocess.run(["/usr/bin/msmtp", "--version"],
                                    capture_output=True, text=True,
                                    timeout=10).stdout.splitlines()[0],
        }
        meta["traces"] = [t for t in ctx.traces
                          if t["what"].startswith("W1")]
        table = render_table(meta, results) + "\n" + \
            instructions.render(counts) + "\n"
        print(table)
        md = write_results(args.out, table, {"meta": meta,
                                             "results": results,
                                             "instructions": counts,
                                             "traces": ctx.traces})
        print("results: %s (and %s)" % (md, Path(args.out) / "latest.md"))
        failures = sum(len(r.get("failures", [])) for r in results.values())
        return 1 if failures else 0
    finally:
        if host is not None:
            host.stop()
        time.sleep(0.2)
        reap_orphans()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
