"""The message: endings, dots, folding, headers, -t, Bcc, smuggling."""

import re

import pytest

from harness import crlf, header, header_fields, message, split_message

RCPT = "bob@example.org"


@pytest.fixture
def host(smarthost, relay):
    h = smarthost(tls="starttls")
    relay.configure(h)
    return h


def body_of(h, i=0):
    return split_message(h.messages[i].data)[1]


def test_lone_dot_ends_input_without_i(host, relay):
    r = relay.run([RCPT], input=message(body="one\n.\ntwo\n"))
    assert r.rc == 0, r
    assert body_of(host) == b"one\r\n"


def test_lone_dot_kept_with_i(host, relay):
    r = relay.run(["-i", RCPT], input=message(body="one\n.\ntwo\n"))
    assert r.rc == 0, r
    assert body_of(host) == b"one\r\n.\r\ntwo\r\n"


def test_lone_dot_kept_with_oi(host, relay):
    r = relay.run(["-oi", RCPT], input=message(body="one\n.\ntwo\n"))
    assert r.rc == 0, r
    assert body_of(host) == b"one\r\n.\r\ntwo\r\n"


def test_leading_dots_transparent(host, relay):
    body = ".hidden\n..two\n. space\n"
    r = relay.run(["-i", RCPT], input=message(body=body))
    assert r.rc == 0, r
    assert body_of(host) == crlf(body)


@pytest.mark.parametrize("eol", ["\n", "\r\n", "mixed"], ids=["lf", "crlf",
                                                               "mixed"])
def test_line_endings_arrive_crlf(host, relay, eol):
    text = message(body="a\nb\nc\n\nd\n")
    if eol == "mixed":
        lines = text.split("\n")
        text = "".join(l + ("\r\n" if i % 2 else "\n")
                       for i, l in enumerate(lines[:-1]))
    else:
        text = text.replace("\n", eol)
    r = relay.run(["-i", RCPT], input=text)
    assert r.rc == 0, r
    data = host.messages[0].data
    assert re.search(rb"[^\r]\n", data) is None
    assert re.search(rb"\r[^\n]", data) is None
    assert body_of(host) == b"a\r\nb\r\nc\r\n\r\nd\r\n"


def test_missing_final_newline(host, relay):
    r = relay.run(["-i", RCPT], input=message(body="no newline at end"))
    assert r.rc == 0, r
    assert body_of(host) == b"no newline at end\r\n"


def test_long_line_folded_not_cut(host, relay):
    long = "".join("%05d " % i for i in range(600))       # 3600 octets
    r = relay.run(["-i", RCPT], input=message(body="x\n" + long + "\ny\n"))
    assert r.rc == 0, r
    data = host.messages[0].data
    assert all(len(l) <= 998 for l in data.split(b"\r\n"))
    body = body_of(host)
    assert body.startswith(b"x\r\n") and body.endswith(b"\r\ny\r\n")
    middle = body[3:-5]
    # every character kept, in order; only line breaks (and for a
    # quoted-printable-free fold, nothing else) were added
    assert re.sub(rb"\r\n[ \t]?", b"", middle) == long.encode() or \
        middle.replace(b"\r\n", b"") == long.encode(), middle[:200]


def test_long_header_folded_not_cut(host, relay):
    subj = " ".join("word%03d" % i for i in range(250))   # ~2000 octets
    text = message(headers=["X-Long: " + subj])
    r = relay.run(["-i", RCPT], input=text)
    assert r.rc == 0, r
    data = host.messages[0].data
    assert all(len(l) <= 998 for l in data.split(b"\r\n"))
    assert re.sub(r"\s+", " ", header(data, "X-Long")[0]) == subj


def test_mbox_from_line_dropped(host, relay):
    text = "From alice@example.com Fri Nov 27 03:00:00 2026\n" + message()
    r = relay.run(["-i", RCPT], input=text)
    assert r.rc == 0, r
    assert not host.messages[0].data.startswith(b"From ")
    assert header(host.messages[0].data, "from") == ["alice@example.com"]


def test_date_and_message_id_added(host, relay):
    r = relay.run(["-i", RCPT], input=message(date=False, msgid=False))
    assert r.rc == 0, r
    d = host.messages[0].data
    assert len(header(d, "date")) == 1
    assert re.match(r"<[^<>@\s]+@[^<>@\s]+>$", header(d, "message-id")[0])


def test_existing_date_and_message_id_kept(host, relay):
    text = message()
    r = relay.run(["-i", RCPT], input=text)
    assert r.rc == 0, r
    d = host.messages[0].data
    assert header(d, "date") == ["Fri, 27 Nov 2026 03:00:00 +0000"]
    assert len(header(d, "message-id")) == 1


def test_from_added_with_F_full_name(host, relay):
    r = relay.run(["-FCron Daemon", "-f", "cron@example.com", "-i", RCPT],
                  input=message(sender=None))
    assert r.rc == 0, r
    f = header(host.messages[0].data, "from")
    assert len(f) == 1 and "cron@example.com" in f[0], f
    assert "Cron Daemon" in f[0], f


def test_header_order_kept(host, relay):
    text = message(headers=["X-A: 1", "X-B: 2", "X-C: 3"])
    r = relay.run(["-i", RCPT], input=text)
    assert r.rc == 0, r
    names = [n for n, _ in header_fields(host.messages[0].data)]
    sent = [l.split(":")[0].lower() for l in text.split("\n\n")[0].split("\n")]
    assert [n for n in names if n in sent] == sent


def test_t_takes_to_cc_bcc_and_removes_bcc(host, relay):
    text = ("From: alice@example.com\nTo: Bob <bob@example.org>\n"
            "Cc: carol@example.org, \"Dan, Jr.\" <dan@example.org>\n"
            "Bcc: eve@example.org,\n frank@example.org\n"
            "Subject: t\nDate: Fri, 27 Nov 2026 03:00:00 +0000\n"
            "Message-ID: <bcc@example.com>\n\nbody\n")
    r = relay.run(["-t", "-i"], input=text)
    assert r.rc == 0, r
    m = host.messages[0]
    assert sorted(m.rcpt_tos) == sorted(
        ["bob@example.org", "carol@example.org", "dan@example.org",
         "eve@example.org", "frank@example.org"])
    head, _ = split_message(m.data)
    assert b"bcc:" not in head.lower()
    assert b"eve@" not in head and b"frank@" not in head


def test_t_resent_fields_take_precedence(host, relay):
    text = message(to="old@example.org",
                   headers=["Resent-From: alice@example.com",
                            "Resent-To: new@example.org",
                            "Resent-Bcc: hidden@example.org"])
    r = relay.run(["-t", "-i"], input=text)
    assert r.rc == 0, r
    m = host.messages[0]
    assert sorted(m.rcpt_tos) == ["hidden@example.org", "new@example.org"]
    assert b"resent-bcc" not in split_message(m.data)[0].lower()


def test_t_command_line_recipients_added(host, relay):
    r = relay.run(["-t", "-i", "extra@example.org"], input=message())
    assert r.rc == 0, r
    assert sorted(host.messages[0].rcpt_tos) == ["bob@example.org",
                                                 "extra@example.org"]


def test_t_group_and_several_to_fields(host, relay):
    text = message(to="undisclosed-recipients:;",
                   headers=["To: A <a@example.org>", "to: b@example.org"])
    r = relay.run(["-t", "-i"], input=text)
    assert r.rc == 0, r
    assert sorted(host.messages[0].rcpt_tos) == ["a@example.org",
                                                 "b@example.org"]


def test_nul_in_body_not_truncating(host, relay):
    text = message(body="before\0after\nnext\n").encode()
    r = relay.run(["-i", RCPT], input=text)
    if r.rc == 0:
        assert b"after" in body_of(host) and b"next" in body_of(host)
    else:
        assert r.rc == 65, r


# --- SMTP smuggling ------------------------------------------------------

SMUGGLE = ("MAIL FROM:<evil@example.com>\r\nRCPT TO:<victim@example.org>\r\n"
           "DATA\r\nFrom: evil@example.com\r\n\r\nsmuggled\r\n")


@pytest.mark.parametrize("seq", ["\n.\r\n", "\r\n.\n", "\n.\n"],
                         ids=["lf-dot-crlf", "crlf-dot-lf", "lf-dot-lf"])
def test_smuggling_one_transaction_at_naive_server(rawserver, relay, seq):
    s = rawserver("naive")
    relay.configure(port=s.port, tls="none", user=None)
    text = message(body="start" + seq + SMUGGLE + ".\r\nend\n")
    r = relay.run(["-i", RCPT], input=text)
    assert r.rc == 0, r
    assert s.transactions == 1, s.lines
    assert len(s.datas) == 1
    assert b"evil@example.com" in s.datas[0]


def test_smuggling_bare_cr_refused_or_harmless(rawserver, relay):
    s = rawserver("naive")
    relay.configure(port=s.port, tls="none", user=None)
    text = message(body="start\r.\r" + SMUGGLE + "end\n")
    r = relay.run(["-i", RCPT], input=text)
    assert r.rc in (0, 65), r
    assert s.transactions <= 1, s.lines
    if r.rc == 65:
        assert s.transactions == 0


@pytest.mark.parametrize("seq", ["\n.\r\n", "\r\n.\n"])
def test_smuggling_content_arrives_intact(host, relay, seq):
    body = "start" + seq + SMUGGLE + ".\r\nend\n"
    r = relay.run(["-i", RCPT], input=message(body=body))
    assert r.rc == 0, r
    assert len(host.messages) == 1
    assert body_of(host) == crlf(body)


def test_t_field_names_any_case_comments_quotes(host, relay):
    text = ("fRoM: alice@example.com\n"
            "tO: \"Smith, Bob\" <bob@example.org> (the boss),\n"
            "  carol@example.org (Carol)\n"
            "CC: dan@example.org\nbCC: eve@example.org\n"
            "Subject: case\nDate: Fri, 27 Nov 2026 03:00:00 +0000\n"
            "Message-ID: <case@example.com>\n\nbody\n")
    r = relay.run(["-t", "-i"], input=text)
    assert r.rc == 0, r
    m = host.messages[0]
    assert sorted(m.rcpt_tos) == ["bob@example.org", "carol@example.org",
                                  "dan@example.org", "eve@example.org"]
    assert b"eve@" not in split_message(m.data)[0]


def test_F_with_crlf_never_injects_header(host, relay):
    r = relay.run(["-F", "Evil\r\nBcc: x@example.net", "-f",
                   "a@example.com", "-i", RCPT],
                  input=message(sender=None))
    if r.rc == 0:
        head = split_message(host.messages[0].data)[0]
        assert b"\r\nBcc: x@example.net" not in head
        assert host.messages[0].rcpt_tos == [RCPT]
    else:
        assert r.rc in (64, 65), r
        assert host.messages == []


def test_nul_in_header_refused_or_converted(host, relay):
    text = message(headers=["X-Nul: a\0b"]).encode()
    r = relay.run(["-i", RCPT], input=text)
    if r.rc == 0:
        assert b"\0" not in split_message(host.messages[0].data)[0]
    else:
        assert r.rc == 65, r
        assert host.messages == []


T_CASES = [
    ('"Doe, John" <john@example.org>', ["john@example.org"]),
    ("john@example.org (John Doe)", ["john@example.org"]),
    ("Team: a@example.org, b@example.org;", ["a@example.org",
                                              "b@example.org"]),
    ("<angle@example.org>", ["angle@example.org"]),
    ('A <a@example.org>, "B, C" <bc@example.org>, d@example.org',
     ["a@example.org", "bc@example.org", "d@example.org"]),
    ("a@example.org,\n\tb@example.org", ["a@example.org", "b@example.org"]),
    ("=?UTF-8?B?w4RsZ2E=?= <e@example.org>", ["e@example.org"]),
    ("f@example.org (x (nested, comment) z)", ["f@example.org"]),
    ("root", ["root@example.com"]),
    ("undisclosed-recipients:;, g@example.org", ["g@example.org"]),
]


@pytest.mark.parametrize("to,want", T_CASES,
                         ids=[str(i) for i in range(len(T_CASES))])
def test_t_address_list_forms(host, relay, to, want):
    text = message(to=to)
    r = relay.run(["-t", "-i"], input=text)
    assert r.rc == 0, r
    assert sorted(host.messages[0].rcpt_tos) == sorted(want)
