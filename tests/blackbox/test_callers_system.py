"""System programs from Debian's packages send through relaymail unchanged.

Each test runs the real program (git send-email, cron, at, neomutt, s-nail,
sudo, logwatch, fail2ban) and checks the message at the test smarthost:
envelope sender, recipients (root goes to its [aliases] target) and key
headers. Programs that hard-code /usr/sbin/sendmail run in a private mount
and PID namespace (callers/sysenv.py) where /usr/sbin is a copy holding a
recording wrapper as sendmail; the wrapper runs ./sendmail -C <conf> and
records the argv each program really passes, compared with the argv the
issue names. cronie is not in Debian 12, so its argv is replayed with a
cronie-style message (callers/cronie-message.txt).

Every configuration has [sender] domain = example.com, root aliased to
admin@example.org and aliases_file off, so bare local names are completed
to @example.com (envelope and address header fields) and root's mail goes
to admin@example.org.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import sendmail_path
from harness import envelope_sender, header

sys.path.insert(0, str(Path(__file__).resolve().parent / "callers"))
from sysenv import BASE_ENV, Namespace, Wrapper  # noqa: E402

DATA = Path(__file__).resolve().parent / "callers"
DOMAIN = "example.com"
ROOT_ALIAS = "admin@example.org"
WAIT = 30   # seconds a program may take to hand its mail over


class System:
    """A smarthost, a relaymail configuration, a wrapper and a namespace."""

    def __init__(self, host, relay, tmp):
        self.host = host
        self.relay = relay
        self.dir = tmp
        self.conf = relay.configure(
            host, sender={"domain": DOMAIN, "aliases_file": ""},
            aliases={"root": ROOT_ALIAS})
        self.wrapper = Wrapper(tmp / "wrap", sendmail_path(), self.conf)
        self.ns = Namespace(tmp / "ns", self.wrapper)

    def run(self, script, calls=1, timeout=90, env=None):
        """Run script in the namespace, then wait for `calls` finished
        wrapper calls (a program may mail after it exits, from a child).
        The script's output is returned for failure messages."""
        wait = ('i=0; while [ "$(ls %s | grep -c "\\.rc$")" -lt %d ] '
                '&& [ $i -lt %d ]; do sleep 0.1; i=$((i+1)); done'
                % (self.wrapper.logdir, calls, WAIT * 10))
        p = self.ns.run(script + "\n" + wait, timeout=timeout, env=env)
        out = (p.stdout + p.stderr).decode("utf-8", "replace")
        got = self.wrapper.calls()
        assert len(got) == calls, "expected %d sendmail calls, got %r; " \
            "output:\n%s" % (calls, got, out)
        for c in got:
            assert c.rc == 0, "relaymail exit %d for %r; output:\n%s" % (
                c.rc, c.argv, out)
        msgs = self.host.wait_messages(calls, timeout=WAIT)
        assert len(msgs) == calls, "%d messages at the smarthost; " \
            "relaymail log:\n%s" % (len(msgs), self.relay.log_text())
        return got, msgs, out


@pytest.fixture
def system(smarthost, relay, tmp_path):
    return System(smarthost(tls="starttls"), relay, tmp_path)


def addr_of(value):
    """The address of a one-mailbox header value (angle form or bare)."""
    if "<" in value:
        return value[value.index("<") + 1:value.index(">")]
    return value.split("(")[0].strip()


# --- git send-email -------------------------------------------------------

def make_series(tmp):
    """A throw-away repository with two commits; their patch files."""
    repo = tmp / "repo"
    repo.mkdir()
    env = git_env(tmp)

    def git(*args):
        subprocess.run(["git", *args], cwd=repo, env=env, check=True,
                       timeout=30, stdout=subprocess.DEVNULL)
    git("init", "-q")
    (repo / "f").write_text("a\n")
    git("add", "f")
    git("commit", "-qm", "base")
    for line in ("b", "c"):
        with open(repo / "f", "a") as f:
            f.write(line + "\n")
        git("commit", "-qam", "add " + line)
    git("format-patch", "-q", "-2", "-o", str(tmp / "patches"))
    return repo, sorted(str(p) for p in (tmp / "patches").iterdir())


def git_env(tmp):
    e = dict(BASE_ENV)
    e.update({"HOME": str(tmp), "GIT_CONFIG_NOSYSTEM": "1",
              "GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "dev@example.com",
              "GIT_COMMITTER_NAME": "Dev",
              "GIT_COMMITTER_EMAIL": "dev@example.com"})
    return e


def send_series(system, extra=()):
    repo, patches = make_series(system.dir)
    p = subprocess.run(
        ["git", "send-email", "--smtp-server=%s" % system.wrapper.path,
         "--to=bob@example.org", "--cc=root", "--from=Dev <dev@example.com>",
         "--confirm=never", "--suppress-cc=all", *extra, *patches],
        cwd=repo, env=git_env(system.dir), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, timeout=90)
    assert p.returncode == 0, p.stdout.decode("utf-8", "replace")
    calls = system.wrapper.calls()
    msgs = system.host.wait_messages(2, timeout=WAIT)
    assert len(msgs) == 2, (msgs, p.stdout)
    return calls, msgs


def test_git_send_email_series_arrives_threaded(system):
    calls, msgs = send_series(system)
    assert [c.argv for c in calls] == [["-i", "bob@example.org", "root"]] * 2
    first, second = msgs
    assert header(first.data, "Subject") == ["[PATCH 1/2] add b"]
    assert header(second.data, "Subject") == ["[PATCH 2/2] add c"]
    first_id = header(first.data, "Message-Id")
    assert len(first_id) == 1
    assert header(second.data, "In-Reply-To") == first_id
    for m in msgs:
        assert sorted(m.rcpt_tos) == [ROOT_ALIAS, "bob@example.org"]
        assert header(m.data, "From") == ["Dev <dev@example.com>"]
        assert header(m.data, "To") == ["bob@example.org"]
    assert b"\r\n+b\r\n" in first.data
    assert b"\r\n+c\r\n" in second.data


def test_git_send_email_envelope_sender_passed_with_f(system):
    calls, msgs = send_series(system,
                              ["--envelope-sender=dev@example.com"])
    assert [c.argv for c in calls] == [
        ["-f", "dev@example.com", "-i", "bob@example.org", "root"]] * 2
    assert [envelope_sender(m) for m in msgs] == ["dev@example.com"] * 2


# --- cron (Debian's cron 3.0pl1) -----------------------------------------

def run_cron(system, mailto=None):
    """Debian's cron daemon, in the namespace, running an @reboot job of
    root that prints output; MAILTO unset unless given. @reboot jobs run at
    start when /run/crond.reboot is absent: /run is a private empty tmpfs."""
    tabs = system.dir / "crontabs"
    tabs.mkdir(mode=0o730)
    head = "MAILTO=%s\n" % mailto if mailto is not None else ""
    (tabs / "root").write_text(head + "@reboot echo cron job output\n")
    os.chmod(tabs / "root", 0o600)
    empty = system.dir / "empty-cron.d"
    empty.mkdir()
    crontab = system.dir / "etc-crontab"
    crontab.write_text("")
    ns = system.ns
    ns.empty_dir("/run")
    ns.bind("/var/spool/cron/crontabs", tabs)
    ns.bind("/etc/cron.d", empty)
    ns.bind("/etc/crontab", crontab)
    calls, msgs, out = system.run("cron -f -L 15 &")
    return calls[0], msgs[0]


def test_cron_passes_debian_cron_argv(system):
    call, _ = run_cron(system)
    assert call.argv == ["-FCronDaemon", "-i", "-B8BITMIME", "-oem", "root"]


def test_cron_job_output_reaches_root_alias(system):
    _, m = run_cron(system)
    assert m.rcpt_tos == [ROOT_ALIAS]
    assert envelope_sender(m) == "root@" + DOMAIN
    assert header(m.data, "Subject")[0].startswith("Cron <root@")
    assert b"\r\n\r\ncron job output\r\n" in m.data


def test_cron_from_root_header_completed_with_domain(system):
    _, m = run_cron(system)
    assert header(m.data, "From") == ["root@%s (Cron Daemon)" % DOMAIN]
    assert header(m.data, "To") == ["root@" + DOMAIN]


def test_cron_mailto_list_split_into_recipients(system):
    call, m = run_cron(system, mailto="root,ops@example.org")
    assert call.argv == ["-FCronDaemon", "-i", "-B8BITMIME", "-oem",
                         "root,ops@example.org"]
    assert sorted(m.rcpt_tos) == [ROOT_ALIAS, "ops@example.org"]


def test_cron_mailto_list_to_header_completed_with_domain(system):
    _, m = run_cron(system, mailto="root,ops@example.org")
    to = header(m.data, "To")
    assert len(to) == 1
    assert [a.strip() for a in to[0].split(",")] == ["root@" + DOMAIN,
                                                    "ops@example.org"]


# --- cronie (not in Debian 12: its argv replayed) -------------------------

def run_cronie(system):
    argv = ["-FCronDaemon", "-i", "-odi", "-oem", "-oi", "-t", "-f", "root"]
    text = (DATA / "cronie-message.txt").read_bytes()
    r = system.relay.run(argv, input=text)
    assert r.rc == 0, r
    assert len(system.host.messages) == 1, r
    return system.host.messages[0]


def test_cronie_argv_with_cronie_message_reaches_root_alias(system):
    m = run_cronie(system)
    assert envelope_sender(m) == "root@" + DOMAIN
    assert m.rcpt_tos == [ROOT_ALIAS]
    assert header(m.data, "Subject")[0].startswith("Cron <root@web1> ")
    assert b"\r\n.\r\na line after a lone dot" in m.data


def test_cronie_from_header_completed_with_domain(system):
    m = run_cronie(system)
    assert header(m.data, "From") == ['"(Cron Daemon)" <root@%s>' % DOMAIN]
    assert header(m.data, "To") == ["root@" + DOMAIN]


# --- at ------------------------------------------------------------------

def run_at(system):
    """`at now` queues a job in a private spool; `atd -s` (atrun) runs it
    once and mails its output to the submitting user."""
    jobs, spool = system.dir / "atjobs", system.dir / "atspool"
    for d in (jobs, spool):
        d.mkdir()
        os.chown(d, 1, 1)          # daemon:daemon, as Debian's
        os.chmod(d, 0o1770)
    (jobs / ".SEQ").write_text("0\n")
    os.chown(jobs / ".SEQ", 1, 1)
    os.chmod(jobs / ".SEQ", 0o600)
    ns = system.ns
    ns.empty_dir("/run")
    ns.bind("/var/spool/cron/atjobs", jobs)
    ns.bind("/var/spool/cron/atspool", spool)
    calls, msgs, out = system.run(
        "echo 'echo at job output' | at now 2>&1\natd -s")
    return calls[0], msgs[0]


def test_at_job_output_mailed_with_i_and_user(system):
    call, m = run_at(system)
    assert call.argv == ["-i", "root"]
    assert m.rcpt_tos == [ROOT_ALIAS]
    assert envelope_sender(m) == "root@" + DOMAIN
    assert header(m.data, "Subject")[0].startswith("Output from your job")
    assert b"at job output" in m.data


def test_at_mail_gets_from_date_and_message_id(system):
    _, m = run_at(system)
    assert [addr_of(v) for v in header(m.data, "From")] == ["root@" + DOMAIN]
    assert len(header(m.data, "Date")) == 1
    assert len(header(m.data, "Message-ID")) == 1


def test_at_to_header_completed_with_domain(system):
    _, m = run_at(system)
    assert header(m.data, "To") == ["root@" + DOMAIN]


# --- neomutt -------------------------------------------------------------

def run_neomutt(system):
    rc = system.dir / "muttrc"
    # default sendmail ("/usr/sbin/sendmail -oem -oi"); use_domain=no
    # keeps "root" bare instead of root@<hostname>
    rc.write_text("set copy=no\nset use_domain=no\n")
    (system.dir / "body").write_text("neomutt body\n")
    calls, msgs, out = system.run(
        "neomutt -F '%s' -s 'neomutt subject' root < '%s'"
        % (rc, system.dir / "body"))
    return calls[0], msgs[0]


def test_neomutt_sends_with_oem_oi_and_bare_root(system):
    call, m = run_neomutt(system)
    assert call.argv == ["-oem", "-oi", "--", "root"]
    assert m.rcpt_tos == [ROOT_ALIAS]
    assert envelope_sender(m) == "root@" + DOMAIN
    assert header(m.data, "Subject") == ["neomutt subject"]
    assert b"neomutt body" in m.data


def test_neomutt_root_headers_completed_with_domain(system):
    # neomutt writes "From: root <root>" and "To: root <root>"
    _, m = run_neomutt(system)
    assert header(m.data, "From") == ["root <root@%s>" % DOMAIN]
    assert header(m.data, "To") == ["root <root@%s>" % DOMAIN]


# --- s-nail --------------------------------------------------------------

def run_s_nail(system):
    (system.dir / "body").write_text("s-nail body\n")
    # -:/ loads no resource file: s-nail's built-in mta, /usr/sbin/sendmail
    calls, msgs, out = system.run(
        "s-nail -:/ -s 's-nail subject' root < '%s'" % (system.dir / "body"))
    return calls[0], msgs[0]


def test_s_nail_sends_with_i_and_double_dash(system):
    call, m = run_s_nail(system)
    assert call.argv == ["-i", "--", "root"]
    assert m.rcpt_tos == [ROOT_ALIAS]
    assert envelope_sender(m) == "root@" + DOMAIN
    assert header(m.data, "Subject") == ["s-nail subject"]
    # s-nail writes no From:; relaymail adds it from the envelope sender
    assert [addr_of(v) for v in header(m.data, "From")] == ["root@" + DOMAIN]
    assert b"s-nail body" in m.data


def test_s_nail_to_header_completed_with_domain(system):
    _, m = run_s_nail(system)
    assert header(m.data, "To") == ["root@" + DOMAIN]


# --- sudo ----------------------------------------------------------------

def run_sudo(system):
    """mail_always in a private /etc/sudoers: sudo 1.9 mails the command
    when it runs and again with its exit status, through its mailer
    (/usr/sbin/sendmail -t), as root, from an empty environment."""
    sudoers = system.dir / "sudoers"
    sudoers.write_text("Defaults mail_always, mailto=root\n"
                       "root ALL=(ALL:ALL) NOPASSWD: ALL\n")
    os.chmod(sudoers, 0o440)
    system.ns.empty_dir("/run")
    system.ns.bind("/etc/sudoers", sudoers)
    calls, msgs, out = system.run("env -i /usr/bin/sudo -u nobody "
                                  "/usr/bin/true", calls=2)
    return calls, msgs


def test_sudo_mail_always_sent_with_t_from_empty_environment(system):
    calls, msgs = run_sudo(system)
    for call in calls:
        assert call.argv == ["-t"]
        assert call.uid == 0
        # sudo gives its mailer only a minimal environment of its own
        assert "RELAYMAIL_CONFIG" not in call.env
        assert call.env.get("HOME") == "/", call.env
    for m in msgs:
        assert m.rcpt_tos == [ROOT_ALIAS]
        assert envelope_sender(m) == "root@" + DOMAIN
        assert header(m.data, "Subject")[0].startswith(
            "*** SECURITY information")
        assert b"COMMAND=/usr/bin/true" in m.data
    assert any(b"EXIT=0" in m.data for m in msgs)


def test_sudo_root_headers_completed_with_domain(system):
    # sudo writes "To: root" and "From: root"
    _, msgs = run_sudo(system)
    for m in msgs:
        assert header(m.data, "To") == ["root@" + DOMAIN]
        assert header(m.data, "From") == ["root@" + DOMAIN]


# --- logwatch ------------------------------------------------------------

def run_logwatch(system):
    """logwatch's default mailer ("/usr/sbin/sendmail -t"), --mailto with
    two addresses: one To: line each."""
    calls, msgs, out = system.run(
        "logwatch --output mail --mailto 'root ops@example.org' "
        "--range today --service zz-disk_space --detail high")
    return calls[0], msgs[0]


def test_logwatch_several_to_lines_without_i(system):
    call, m = run_logwatch(system)
    assert call.argv == ["-t"]
    assert sorted(m.rcpt_tos) == [ROOT_ALIAS, "ops@example.org"]
    assert envelope_sender(m) == "root@" + DOMAIN
    assert header(m.data, "Subject")[0].startswith("Logwatch for ")
    assert b"Disk Space Begin" in m.data


def test_logwatch_to_and_from_headers_completed_with_domain(system):
    # Debian's logwatch writes "To: root", "To: ops@example.org" and
    # "From: root" (MailFrom in /usr/share/logwatch/dist.conf)
    _, m = run_logwatch(system)
    assert header(m.data, "To") == ["root@" + DOMAIN, "ops@example.org"]
    assert header(m.data, "From") == ["root@" + DOMAIN]


# --- fail2ban ------------------------------------------------------------

def run_fail2ban(system):
    """The real fail2ban server with Debian's action.d/sendmail.conf
    (mailcmd /usr/sbin/sendmail -f "<sender>" "<dest>"): a jail start, a
    ban (fail2ban-client set ... banip) and the stop each send a mail."""
    conf = system.dir / "f2b"
    conf.mkdir()
    for d in ("action.d", "filter.d"):
        subprocess.run(["cp", "-a", "/etc/fail2ban/" + d, str(conf)],
                       check=True, timeout=30)
    subprocess.run(["cp", "/etc/fail2ban/fail2ban.conf", str(conf)],
                   check=True, timeout=30)
    (conf / "fail2ban.local").write_text("[Definition]\ndbfile = :memory:\n")
    (conf / "test.log").write_text("")
    (conf / "jail.conf").write_text(
        "[relaytest]\nenabled = true\nfilter = sshd\nbackend = polling\n"
        "logpath = %s\naction = sendmail[name=relaytest]\n"
        % (conf / "test.log"))
    system.ns.empty_dir("/run")
    client = "fail2ban-client -c '%s' -s '%s' -p '%s'" % (
        conf, conf / "sock", conf / "pid")
    script = (
        "{c} --logtarget '{log}' -x start\n"
        "{c} set relaytest banip 192.0.2.7\n"
        "{c} stop\n").format(c=client, log=conf / "server.log")
    calls, msgs, out = system.run(script, calls=3, timeout=120)
    return calls, msgs


def test_fail2ban_sendmail_action_mails_start_ban_stop(system):
    calls, msgs = run_fail2ban(system)
    assert [c.argv for c in calls] == [["-f", "fail2ban", "root"]] * 3
    subjects = [header(m.data, "Subject")[0] for m in msgs]
    assert any("banned 192.0.2.7" in s for s in subjects), subjects
    for m in msgs:
        assert envelope_sender(m) == "fail2ban@" + DOMAIN
        assert m.rcpt_tos == [ROOT_ALIAS]


def test_fail2ban_headers_completed_with_domain(system):
    # fail2ban writes "From: Fail2Ban <fail2ban>" and "To: root"
    _, msgs = run_fail2ban(system)
    for m in msgs:
        assert header(m.data, "From") == ["Fail2Ban <fail2ban@%s>" % DOMAIN]
        assert header(m.data, "To") == ["root@" + DOMAIN]
