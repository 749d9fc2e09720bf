"""The sendmail command line (SPEC, Command line)."""

import pytest

from harness import envelope_sender, message

RCPT = "bob@example.org"


@pytest.fixture
def host(smarthost, relay):
    h = smarthost(tls="starttls")
    relay.configure(h)
    return h


def test_f_sets_envelope_sender(host, relay):
    r = relay.run(["-f", "sender@example.net", "-i", RCPT], input=message())
    assert r.rc == 0, r
    assert envelope_sender(host.messages[0]) == "sender@example.net"


def test_f_glued(host, relay):
    r = relay.run(["-fsender@example.net", "-i", RCPT], input=message())
    assert r.rc == 0, r
    assert envelope_sender(host.messages[0]) == "sender@example.net"


def test_r_sets_envelope_sender(host, relay):
    r = relay.run(["-r", "r@example.net", "-i", RCPT], input=message())
    assert r.rc == 0, r
    assert envelope_sender(host.messages[0]) == "r@example.net"


def test_repeated_f_last_wins(host, relay):
    r = relay.run(["-f", "first@example.net", "-f", "last@example.net",
                   "-i", RCPT], input=message())
    assert r.rc == 0, r
    assert envelope_sender(host.messages[0]) == "last@example.net"


def test_f_null_sender(host, relay):
    r = relay.run(["-f", "<>", "-i", RCPT], input=message())
    assert r.rc == 0, r
    assert envelope_sender(host.messages[0]) == ""


def test_default_sender_login_at_domain(host, relay):
    r = relay.run(["-i", RCPT], input=message())
    assert r.rc == 0, r
    assert envelope_sender(host.messages[0]).endswith("@example.com")


def test_bare_local_sender_completed(host, relay):
    r = relay.run(["-f", "www-data", "-i", RCPT], input=message())
    assert r.rc == 0, r
    assert envelope_sender(host.messages[0]) == "www-data@example.com"


def test_comma_list_recipient_split(host, relay):
    r = relay.run(["-i", "a@example.org,b@example.org, c@example.org"],
                  input=message())
    assert r.rc == 0, r
    assert sorted(host.messages[0].rcpt_tos) == [
        "a@example.org", "b@example.org", "c@example.org"]


def test_bare_local_recipient_completed(host, relay):
    r = relay.run(["-i", "someone"], input=message())
    assert r.rc == 0, r
    assert host.messages[0].rcpt_tos == ["someone@example.com"]


def test_aliases_expand_local_name(smarthost, relay):
    h = smarthost(tls="starttls")
    relay.configure(h, aliases={"root": "admin@example.org, ops@example.org"},
                    sender={"aliases_file": str(relay.dir / "none")})
    r = relay.run(["-i", "root"], input=message())
    assert r.rc == 0, r
    assert sorted(h.messages[0].rcpt_tos) == ["admin@example.org",
                                              "ops@example.org"]


def test_aliases_default_catches_other_names(smarthost, relay):
    h = smarthost(tls="starttls")
    relay.configure(h, aliases={"default": "catch@example.org"},
                    sender={"aliases_file": str(relay.dir / "none")})
    r = relay.run(["-i", "mdadm"], input=message())
    assert r.rc == 0, r
    assert h.messages[0].rcpt_tos == ["catch@example.org"]


def test_bv_prints_expansion_sends_nothing(smarthost, relay):
    h = smarthost(tls="starttls")
    relay.configure(h, aliases={"root": "admin@example.org"},
                    sender={"aliases_file": str(relay.dir / "none")})
    r = relay.run(["-bv", "root", "someone"])
    assert r.rc == 0, r
    assert "admin@example.org" in r.out and "someone@example.com" in r.out
    assert h.connections == []


def test_double_dash_ends_options(host, relay):
    r = relay.run(["-i", "--", RCPT], input=message())
    assert r.rc == 0, r
    assert host.messages[0].rcpt_tos == [RCPT]


@pytest.mark.parametrize("opt", [["-oem"], ["-oee"], ["-oep"], ["-oeq"],
                                 ["-oew"], ["-odi"], ["-O", "x=y"],
                                 ["-h", "5"], ["-L", "tag"], ["-n"], ["-U"],
                                 ["-G"], ["-Am"], ["-Ac"], ["-em"], ["-bm"],
                                 ["-B", "7BIT"]])
def test_classic_options_accepted(host, relay, opt):
    r = relay.run(opt + ["-i", RCPT], input=message())
    assert r.rc == 0, r
    assert len(host.messages) == 1


def test_cron_invocation(host, relay):
    r = relay.run(["-FCronDaemon", "-i", "-B8BITMIME", "-oem", "root"],
                  input="Subject: cron\n\noutput\n")
    assert r.rc == 0, r
    assert host.messages[0].rcpt_tos == ["root@example.com"]


def test_X_refused_writes_nothing(host, relay):
    target = relay.dir / "x.log"
    r = relay.run(["-X", str(target), "-i", RCPT], input=message())
    assert r.rc != 0, r
    assert "-X" in r.err or "X" in r.err, r.err
    assert not target.exists()
    assert host.messages == []


def test_X_glued_refused(host, relay):
    target = relay.dir / "y.php"
    r = relay.run(["-X" + str(target), "-i", RCPT], input=message())
    assert r.rc != 0, r
    assert not target.exists()


def test_unknown_option_exit_64_named(host, relay):
    r = relay.run(["-Z", RCPT], input=message())
    assert r.rc == 64, r
    assert "-Z" in r.err or "Z" in r.err, r.err
    assert host.messages == []


def test_t_without_recipients_exit_64(host, relay):
    r = relay.run(["-t", "-i"], input="Subject: none\n\nbody\n")
    assert r.rc == 64, r
    assert host.messages == []


def test_no_recipients_exit_64(host, relay):
    r = relay.run(["-i"], input=message())
    assert r.rc == 64, r


@pytest.mark.parametrize("bad", ["a@example.org\r\nRCPT TO:<x@y>",
                                 "a@example.org\nx", "a@exa\rmple.org"])
def test_crlf_in_recipient_refused(host, relay, bad):
    r = relay.run(["-i", bad], input=message())
    assert r.rc in (64, 65), r
    assert host.messages == []
    assert not any("x@y" in c for c in host.commands())


@pytest.mark.parametrize("bad", ["s@example.org\r\nRCPT TO:<x@y>",
                                 "s@example.org\nx"])
def test_crlf_in_sender_refused(host, relay, bad):
    r = relay.run(["-f", bad, "-i", RCPT], input=message())
    assert r.rc in (64, 65), r
    assert host.messages == []


def test_crlf_in_t_header_address_refused_or_safe(host, relay):
    text = "To: a@example.org\rRCPT TO:<x@y>\nSubject: s\n\nb\n"
    r = relay.run(["-t", "-i"], input=text)
    assert r.rc in (0, 64, 65), r
    assert not any("x@y" in c for c in host.commands()), host.commands()


def test_recipient_starting_with_dash_refused(host, relay):
    r = relay.run(["-i", "--", "-oQ/tmp/x@example.org"], input=message())
    assert r.rc in (64, 65), r
    assert host.messages == []


def test_sender_starting_with_dash_refused(host, relay):
    r = relay.run(["-f", "-oQ@example.org", "-i", RCPT], input=message())
    assert r.rc in (64, 65), r
    assert host.messages == []


def test_version_exit_0(relay):
    r = relay.run(["--version"], config=False)
    assert r.rc == 0, r
    assert r.out.strip()


def test_help_exit_0(relay):
    r = relay.run(["--help"], config=False)
    assert r.rc == 0, r
    assert "-t" in r.out


def test_bi_newaliases_exit_0(relay):
    relay.configure(port=1, tls="none", user=None)
    r = relay.run(["-bi"])
    assert r.rc == 0, r


def test_newaliases_name_exit_0(relay):
    conf = relay.configure(port=1, tls="none", user=None)
    r = relay.run([], argv0="newaliases", config=False,
                  env={"RELAYMAIL_CONFIG": conf})
    assert r.rc == 0, r


def test_mailq_name_lists_queue(relay):
    conf = relay.configure(port=1, tls="none", user=None)
    r = relay.run([], argv0="mailq", config=False,
                  env={"RELAYMAIL_CONFIG": conf})
    assert r.rc == 0, r
    assert "Mail queue is empty" in r.out


def test_killed_while_reading_input_leaves_nothing(host, relay):
    import subprocess
    import time
    from conftest import sendmail_path
    p = subprocess.Popen([sendmail_path(), "-C", relay.conf, "-i", RCPT],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    p.stdin.write(message().encode() * 10)
    p.stdin.flush()
    time.sleep(0.5)
    p.kill()
    p.wait(10)
    assert host.messages == []
    q = relay.mailq()
    assert "Mail queue is empty" in q.out, q
