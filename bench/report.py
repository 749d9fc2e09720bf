"""The benchmark's table (Markdown) from run.py's metadata and results.

Columns: metric, OUR median, MSMTP median, OUR/MSMTP, and the target of
issue 6 for that line (a ratio, or an absolute value for ours). Then notes:
stalls (our loopback wall time more than 2x our CPU time), the RSS floor
of the measuring wrapper, and every delivery failure.
"""

# metric name prefix -> target text (issue 6, "Targets")
TARGETS = [
    ("W1 wall per message", "ratio <= 0.1"),
    ("W1 CPU per message", "ratio <= 0.6"),
    ("W1 wall / CPU", "OUR <= 2"),
    ("W2 wall per message", "ratio <= 0.5"),
    ("W2 round trips per message, STARTTLS", "OUR = 7"),
    ("W2 round trips per message, implicit TLS", "OUR = 5"),
    ("W3 CPU", "ratio <= 0.2"),
    ("W3 peak RSS", "OUR <= 4 MB"),
    ("W5 drain CPU", ""),
    ("W5 drain", "ratio <= 0.02"),
    ("W5 connections", "OUR = 1"),
    ("W6 caller waits", "ratio <= 0.02"),
    ("W7 connections", "OUR <= 2"),    # issue 10
]


def target(name):
    for prefix, text in TARGETS:
        if name.startswith(prefix):
            return text
    return ""


def fmt(v, unit=""):
    if v is None:
        return "-"
    if isinstance(v, float) and v != int(v) or unit in ("ms", "s", "MB", "x"):
        if abs(v) >= 100:
            return "%.0f" % v
        if abs(v) >= 10:
            return "%.1f" % v
        if abs(v) >= 1:
            return "%.2f" % v
        return "%.3f" % v
    return "%d" % v


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "-"
    r = a / b
    return "%.3f" % r if r < 1 else "%.2f" % r


def pauses(runs, floor=0.02):
    """Where a connection sat idle for floor seconds or more: inside a run
    (the sender held back part of what it had: Nagle waiting for a delayed
    ACK) or between runs (the side whose turn it was took that long)."""
    out = []
    for i, (d, n, t0, t1, k) in enumerate(runs):
        who = "server" if d == "S" else "client"
        if k > 1 and t1 - t0 >= floor:
            out.append("%s held part of run %d (%dB) back %.0f ms"
                       % (who, i + 1, n, (t1 - t0) * 1000))
        if i + 1 < len(runs) and runs[i + 1][2] - t1 >= floor:
            nxt = "server" if runs[i + 1][0] == "S" else "client"
            out.append("%s took %.0f ms to answer run %d"
                       % (nxt, (runs[i + 1][2] - t1) * 1000, i + 1))
    return out


def render_table(meta, results):
    out = []
    out.append("# relaymail vs msmtp, %s" % meta["date"])
    out.append("")
    out.append("`%s` - smarthost %s, proxy RTT %g ms, %s, msmtp auth `%s`, "
               "%s CPUs (load %.1f before, %.1f after), %.0f s in all%s."
               % (meta["command"], meta["smarthost"], meta["rtt_ms"],
                  meta["msmtp"], meta["msmtp_auth"], meta["cpus"],
                  meta["loadavg_before"][0], meta["loadavg_after"][0],
                  meta["elapsed_s"], " (QUICK sizes)" if meta["quick"]
                  else ""))
    b = meta.get("build") or {}
    if b:
        out.append("Measured: %s sha256 %s... (built %s), tree %s%s."
                   % (b.get("source", "./sendmail"), b.get("sendmail_sha256"),
                      b.get("sendmail_mtime"),
                      b.get("git_head", "?"),
                      " + uncommitted changes" if b.get("git_dirty")
                      else ""))
    s = meta["sizes"]
    out.append("Sizes: W1 %d msgs, W2 %d msgs per TLS mode, W3 %d MB x%d, "
               "W4 %d concurrent x%d, W5 %d msgs x%d, W6 %d samples, "
               "W7 %d msgs from %d callers once; "
               "medians of interleaved runs (ours, msmtp, ours, ...)."
               % (s["n1"], s["n2"], s["big_mb"], s["big_reps"], s["conc"],
                  s["conc_reps"], s["n5"], s["w5_reps"], s["n6"],
                  s["w7_msgs"], s["w7_callers"]))
    out.append("")
    out.append("| metric | unit | OUR | MSMTP | OUR/MSMTP | target |")
    out.append("| --- | --- | ---: | ---: | ---: | --- |")
    notes, failures = [], []
    for w in sorted(results):
        r = results[w]
        for m in r["metrics"]:
            out.append("| %s | %s | %s | %s | %s | %s |" % (
                m["name"], m["unit"], fmt(m["ours"], m["unit"]),
                fmt(m["msmtp"], m["unit"]), ratio(m["ours"], m["msmtp"]),
                target(m["name"])))
            if m["name"].startswith("W1 wall / CPU"):
                for who in ("ours", "msmtp"):
                    if m[who] is not None and m[who] > 2:
                        notes.append(
                            "STALL: %s loopback wall is %.1fx its CPU time "
                            "(W1): it waits for something other than work "
                            "(Nagle / delayed ACK, a timer, the server)."
                            % ("OUR" if who == "ours" else "MSMTP", m[who]))
        failures += r.get("failures", [])
    w3 = results.get("W3", {}).get("raw", {})
    if w3.get("rss_floor_kb"):
        notes.append("Peak RSS is GNU time's %%M of the child; /bin/true "
                     "measures %.1f MB this way (the floor)."
                     % (w3["rss_floor_kb"] / 1024))
    notes.append("Round trips = 1 (TCP connect) + the times the client "
                 "speaks again after the server spoke, counted at the proxy "
                 "per connection (trailing 24-byte TLS close_notify runs "
                 "left out); direction changes = all changes of "
                 "direction of the byte stream. W1, W3, W4 go straight to "
                 "the smarthost; W2, W5, W6, W7 through the proxy (W5 with no "
                 "delay). The proxy's own sockets keep Linux's default "
                 "delayed ACKs, so in W2 a server-side Nagle wait is "
                 "charged to both programs alike, whatever the client's "
                 "socket options; W1 shows the client's own behaviour.")
    if "W7" in results:
        notes.append("W7: connections = every connection the proxy "
                     "accepted from the start until the last caller and "
                     "the last detached runner had exited; accepted = "
                     "the newest mailbox file of the burst at the Postfix "
                     "smarthost (aiosmtpd: when its count was seen "
                     "complete); callers' CPU = user+sys of the "
                     "submission processes the callers waited for; the "
                     "detached runners (ours) are reaped and counted "
                     "apart. Each Message-ID must arrive exactly once.")
    traces = meta.get("traces") or []
    if traces:
        notes.append("Turns of one message each, through the proxy at no "
                     "delay (times in ms from the accept; a-b/k: one run "
                     "read in k pieces, the gap is the sender stalling):")
        for t in traces:
            notes.append("  %s %s, %.0f ms: connected %s ms after its "
                         "start, exited %s ms after the last byte, %d round "
                         "trips: %s" % (
                             t["what"], t["program"], t["wall_ms"],
                             t.get("connect_after_ms", "?"),
                             t.get("exit_after_last_ms", "?"),
                             t["round_trips"], t["sequence"]))
            p = pauses(t.get("runs", []))
            notes.append("  %s pauses >= 20 ms: %s" % (
                t["program"], "; ".join(p) if p else "none"))
    out.append("")
    for n in notes:
        out.append("- " + n)
    if failures:
        out.append("")
        out.append("FAILURES (%d):" % len(failures))
        for f in failures[:20]:
            out.append("- " + f.replace("\n", " ")[:300])
    out.append("")
    return "\n".join(out)
