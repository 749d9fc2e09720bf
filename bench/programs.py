"""The two programs under test, each with a private configuration.

Ours     ./sendmail (relaymail) with -C relaymail.conf and its own spool
Msmtp    /usr/bin/msmtp with -C msmtprc; its queue is msmtpq (the script
         in the msmtp package, /usr/libexec/msmtp/msmtpq/msmtpq)

Each gives argv lists for: a sync send (`send`), queue-only (`enqueue`),
a queue flush (`flush`), and says how many messages are still queued.
Both configurations point at the same host:port with the same TLS mode,
trust file and credentials.
"""

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MSMTP = "/usr/bin/msmtp"
MSMTPQ = "/usr/libexec/msmtp/msmtpq/msmtpq"


def base_env(home):
    return {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(home),
            "LANG": "C", "USER": "root", "LOGNAME": "root"}


class Ours:
    label = "OUR"

    def __init__(self, workdir, name, host, port, tls, binary=None):
        self.dir = Path(workdir) / ("our-" + name)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.spool = self.dir / "spool"
        self.spool.mkdir(mode=0o700, exist_ok=True)
        self.binary = binary or os.environ.get("RELAYMAIL_SENDMAIL") or \
            str(REPO / "sendmail")
        self.conf = self.dir / "relaymail.conf"
        self.conf.write_text(
            "[smarthost]\nhost = 127.0.0.1\nport = %d\ntls = %s\n"
            "tls_ca_file = %s\ntimeout = 30s\n\n"
            "[auth]\nmechanism = auto\nuser = %s\npassword = %s\n\n"
            "[sender]\ndomain = example.com\n\n"
            "[queue]\ndir = %s\nmode = sync\n\n"
            "[log]\nsyslog = no\n"
            % (port, tls, host.ca_file, host.user, host.password, self.spool))
        self.conf.chmod(0o600)
        self.env = base_env(self.dir)

    def send(self, extra=()):
        return [self.binary, "-C", str(self.conf)] + list(extra) + \
            ["-t", "-i"]

    def enqueue(self):
        return self.send(["-odq"])

    def background(self):
        return self.send(["-odb"])

    def flush(self):
        return [self.binary, "-C", str(self.conf), "-q"]

    def listing(self):
        """mailq of this spool: each queued message with why it waits."""
        return [self.binary, "-C", str(self.conf), "-bp"]

    def queued(self):
        try:
            return len(os.listdir(self.spool / "q"))
        except OSError:
            return 0


class Msmtp:
    label = "MSMTP"

    def __init__(self, workdir, name, host, port, tls, auth="on"):
        self.dir = Path(workdir) / ("msmtp-" + name)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.conf = self.dir / "msmtprc"
        self.conf.write_text(
            "defaults\n\naccount bench\nhost 127.0.0.1\nport %d\n"
            "tls on\ntls_starttls %s\ntls_trust_file %s\n"
            "auth %s\nuser %s\npassword %s\nfrom root@example.com\n"
            "timeout 30\n\naccount default : bench\n"
            % (port, "on" if tls == "starttls" else "off", host.ca_file,
               auth, host.user, host.password))
        self.conf.chmod(0o600)
        self.queue_dir = self.dir / "queue"
        self.env = base_env(self.dir)
        # msmtpq: our queue dir and log; EMAIL_CONN_TEST=x skips its ping of
        # debian.org (no network here; it would only add a fixed delay)
        self.env.update({"MSMTP": MSMTP, "MSMTPQ_Q": str(self.queue_dir),
                         "MSMTPQ_LOG": str(self.dir / "msmtpq.log"),
                         "EMAIL_CONN_TEST": "x", "EMAIL_QUEUE_QUIET": "t"})

    def send(self, extra=()):
        return [MSMTP, "-C", str(self.conf)] + list(extra) + ["-t", "-i"]

    def enqueue(self):
        # msmtpq tries to send at once; with the smarthost down it keeps
        # the message (its .mail + .msmtp files) in the queue
        return [MSMTPQ, "-C", str(self.conf), "-t", "-i"]

    def flush(self):
        return [MSMTPQ, "--q-mgmt", "-r"]

    def queued(self):
        try:
            return sum(1 for f in os.listdir(self.queue_dir)
                       if f.endswith(".mail"))
        except OSError:
            return 0
