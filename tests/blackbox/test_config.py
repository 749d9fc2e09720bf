"""Configuration: -C, RELAYMAIL_CONFIG, errors naming file and key (78)."""

from conftest import write_ini
from harness import message

RCPT = "bob@example.org"


def test_relaymail_config_env(smarthost, relay):
    h = smarthost(tls="starttls")
    conf = relay.configure(h)
    r = relay.run(["-i", RCPT], input=message(), config=False,
                  env={"RELAYMAIL_CONFIG": conf})
    assert r.rc == 0, r
    assert len(h.messages) == 1


def test_C_wins_over_env(smarthost, relay):
    h = smarthost(tls="starttls")
    conf = relay.configure(h)
    bad = write_ini(relay.dir / "bad.conf", {"bogus": {"x": "1"}})
    r = relay.run(["-i", RCPT], input=message(), config=conf,
                  env={"RELAYMAIL_CONFIG": bad})
    assert r.rc == 0, r


def test_unknown_key_exit_78_names_file_and_key(smarthost, relay):
    h = smarthost(tls="starttls")
    conf = relay.configure(h, smarthost={"hots": "x"})
    r = relay.run(["-i", RCPT], input=message())
    assert r.rc == 78, r
    assert conf in r.err and "hots" in r.err, r.err
    assert h.connections == []


def test_unknown_section_exit_78(smarthost, relay):
    h = smarthost(tls="starttls")
    conf = relay.configure(h, smarthsot={"host": "x"})
    r = relay.run(["-i", RCPT], input=message())
    assert r.rc == 78, r
    assert conf in r.err and "smarthsot" in r.err, r.err


def test_bad_value_exit_78(smarthost, relay):
    h = smarthost(tls="starttls")
    conf = relay.configure(h, smarthost={"tls": "maybe"})
    r = relay.run(["-i", RCPT], input=message())
    assert r.rc == 78, r
    assert conf in r.err and "tls" in r.err, r.err


def test_bad_unit_exit_78(smarthost, relay):
    h = smarthost(tls="starttls")
    conf = relay.configure(h, smarthost={"timeout": "10 parsecs"})
    r = relay.run(["-i", RCPT], input=message())
    assert r.rc == 78, r
    assert conf in r.err and "timeout" in r.err, r.err


def test_two_password_sources_exit_78(smarthost, relay):
    h = smarthost(tls="starttls")
    pw = relay.dir / "pw"
    pw.write_text("mypassword\n")
    relay.configure(h, auth={"password_file": str(pw)})
    r = relay.run(["-i", RCPT], input=message())
    assert r.rc == 78, r
    assert "password" in r.err


def test_missing_config_file_exit_78(relay):
    r = relay.run(["-i", RCPT], input=message(),
                  config=str(relay.dir / "nonexistent.conf"))
    assert r.rc == 78, r
    assert "nonexistent.conf" in r.err


def test_password_file(smarthost, relay):
    h = smarthost(tls="starttls")
    pw = relay.dir / "pw"
    pw.write_text("mypassword\nsecond line\n")
    pw.chmod(0o600)
    relay.configure(h, auth={"password": None, "password_file": str(pw)})
    r = relay.run(["-i", RCPT], input=message())
    assert r.rc == 0, r
    assert h.messages[0].conn.authenticated == "myaccount"


def test_password_command(smarthost, relay):
    h = smarthost(tls="starttls")
    relay.configure(h, auth={"password": None,
                             "password_command": "printf 'mypassword\\nx\\n'"})
    r = relay.run(["-i", RCPT], input=message())
    assert r.rc == 0, r
    assert h.messages[0].conn.authenticated == "myaccount"


def test_units_accepted(smarthost, relay):
    h = smarthost(tls="starttls")
    relay.configure(h, smarthost={"timeout": "1m"},
                    queue={"retry": "1m..2h", "max_age": "5d"})
    r = relay.run(["-i", RCPT], input=message())
    assert r.rc == 0, r


def test_rewrite_from(smarthost, relay):
    from harness import header
    h = smarthost(tls="starttls")
    relay.configure(h, sender={"rewrite_from": "yes",
                               "from": "fixed@example.com"})
    r = relay.run(["-i", RCPT], input=message(sender="other@example.net"))
    assert r.rc == 0, r
    assert "fixed@example.com" in header(h.messages[0].data, "from")[0]


def test_allow_from_override_no(smarthost, relay):
    from harness import envelope_sender
    h = smarthost(tls="starttls")
    relay.configure(h, sender={"allow_from_override": "no",
                               "from": "fixed@example.com"})
    r = relay.run(["-f", "other@example.net", "-i", RCPT], input=message())
    assert r.rc == 0, r
    assert envelope_sender(h.messages[0]) == "fixed@example.com"
