"""Locally generated mail: bare local names in address fields get the
[sender] domain (cron's "From: root (Cron Daemon)", logwatch's "To: root"),
display names and comments kept; rewrite_from replaces From: and drops
Sender:. Envelope aliases do not rewrite headers (as Postfix)."""

from harness import header


def send(smarthost, relay, text, args=("-t", "-i"), **conf):
    h = smarthost(tls="starttls")
    relay.configure(h, **conf)
    r = relay.run(list(args), input=text.encode())
    assert r.rc == 0, r
    assert len(h.messages) == 1, r
    return h.messages[0]


def test_cron_from_completed_with_comment_kept(smarthost, relay):
    m = send(smarthost, relay,
             "From: root (Cron Daemon)\nTo: root\nSubject: Cron <root@vm> ls\n\nout\n",
             args=("-FCronDaemon", "-i", "-B8BITMIME", "-oem", "root"))
    assert header(m.data, "From") == ["root@example.com (Cron Daemon)"]
    assert header(m.data, "To") == ["root@example.com"]


def test_display_name_and_list_completed(smarthost, relay):
    m = send(smarthost, relay,
             "From: Logwatch <logwatch>\nTo: root, Admin <admin>, x@y.org\n"
             "Cc: \"Ops, Team\" <ops>\nSubject: s\n\nb\n")
    assert header(m.data, "From") == ["Logwatch <logwatch@example.com>"]
    assert header(m.data, "To") == ["root@example.com, Admin <admin@example.com>, x@y.org"]
    assert header(m.data, "Cc") == ["\"Ops, Team\" <ops@example.com>"]
    assert sorted(m.rcpt_tos) == ["admin@example.com", "ops@example.com",
                                  "root@example.com", "x@y.org"]


def test_full_addresses_and_groups_untouched(smarthost, relay):
    text = ("From: Alice <alice@example.org>\nTo: undisclosed-recipients:;\n"
            "Subject: s\n\nb\n")
    m = send(smarthost, relay, text, args=("-i", "bob@example.org"))
    assert header(m.data, "From") == ["Alice <alice@example.org>"]
    assert header(m.data, "To") == ["undisclosed-recipients:;"]


def test_alias_applies_to_envelope_not_header(smarthost, relay):
    m = send(smarthost, relay, "To: root\nSubject: s\n\nb\n",
             aliases={"root": "admin@example.net"})
    assert m.rcpt_tos == ["admin@example.net"]
    assert header(m.data, "To") == ["root@example.com"]


def test_rewrite_from_sets_sender_address_and_drops_sender(smarthost, relay):
    m = send(smarthost, relay,
             "From: Web App <www-data@localhost>\nSender: other@example.org\n"
             "To: bob@example.org\nSubject: s\n\nb\n",
             args=("-t", "-i", "-f", "mailer@example.com"),
             sender={"domain": "example.com", "rewrite_from": "yes"})
    assert header(m.data, "From") == ["Web App <mailer@example.com>"]
    assert header(m.data, "Sender") == []
