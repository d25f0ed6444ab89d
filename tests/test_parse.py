"""Parsing real-world broken mail: every odd mail below has been seen in a public mailbox."""

from __future__ import annotations

import base64
import random
import struct
import tracemalloc
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest
from mails import large_attachment_mail, make_mail, nested_attached_mails, tnef_attribute, tnef_mail, tnef_stream

from inboxbot.domain.message import Address, ParsedMail
from inboxbot.reading import parse as parse_module
from inboxbot.reading import slicing, tnef
from inboxbot.reading.forward import extract_forwarded
from inboxbot.reading.parse import ParseError, html_to_text, message_ids, parse, safe_filename


def plain_mail(**headers: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = headers.pop("From", "Jean Dupont <jean.dupont@example.fr>")
    mail["To"] = headers.pop("To", "contact@organisme.fr")
    mail["Subject"] = headers.pop("Subject", "Réclamation")
    mail["Message-ID"] = headers.pop("Message_ID", "<abc123@example.fr>")
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    mail.set_content("Bonjour,\nJe ne suis pas satisfait.\n")
    return mail


# --- input that cannot be parsed -------------------------------------------------------------


@pytest.mark.parametrize("raw", [b"", b"   \r\n\r\n  "])
def test_empty_input_is_a_parse_error(raw: bytes) -> None:
    with pytest.raises(ParseError) as caught:
        parse(raw)
    assert caught.value.reason == "empty input"


def test_garbage_still_gives_a_mail_with_defects() -> None:
    mail = parse(bytes(range(256)) * 4)
    assert isinstance(mail, ParsedMail)
    assert mail.from_ is None
    assert "no From header" in mail.defects
    assert "no Message-ID" in mail.defects


# --- an ordinary mail ------------------------------------------------------------------------


def test_ordinary_mail() -> None:
    mail = parse(bytes(plain_mail(Cc="Marie <Marie@Example.FR>", Date="Tue, 12 Mar 2024 10:00:00 +0100")))
    assert mail.message_id == "abc123@example.fr"
    assert mail.subject == "Réclamation"
    assert mail.from_ == Address("jean.dupont@example.fr", "Jean Dupont")
    assert mail.to == (Address("contact@organisme.fr"),)
    assert mail.cc == (Address("marie@example.fr", "Marie"),)
    assert mail.date == datetime(2024, 3, 12, 9, 0, tzinfo=UTC)
    assert mail.text == "Bonjour,\nJe ne suis pas satisfait."
    assert mail.html is None
    assert mail.attachments == ()
    assert mail.header("SUBJECT") == "Réclamation"
    assert mail.defects == ()


# --- headers ---------------------------------------------------------------------------------


def test_encoded_names_and_quoted_commas() -> None:
    raw = (
        b"From: =?utf-8?q?Am=C3=A9lie_Durand?= <Amelie.Durand@Example.FR>\r\n"
        b'To: "Dupont, Marie" <marie@y.fr>, =?iso-8859-1?q?Ren=E9_Lef=E8vre?= <RENE@z.fr>,\r\n'
        b"  undisclosed-recipients:;, nobody\r\n"
        b'Reply-To: "=?utf-8?q?Am=C3=A9lie?=" <amelie@perso.fr>\r\n'
        b"Subject: x\r\nMessage-ID: <a@b>\r\n\r\nhi\r\n"
    )
    mail = parse(raw)
    assert mail.from_ == Address("amelie.durand@example.fr", "Amélie Durand")
    assert mail.to == (Address("marie@y.fr", "Dupont, Marie"), Address("rene@z.fr", "René Lefèvre"))
    assert mail.reply_to == (Address("amelie@perso.fr", "Amélie"),)


def test_encoded_subject_unfolded_and_collapsed() -> None:
    raw = (
        b"From: a@b.fr\r\nMessage-ID: <a@b>\r\n"
        b"Subject: =?utf-8?B?UsOpY2xhbWF0aW9u?= =?utf-8?B?IHVyZ2VudGU=?=\r\n"
        b"   suite   et\t fin\r\n\r\nhi\r\n"
    )
    assert parse(raw).subject == "Réclamation urgente suite et fin"


def test_multibyte_character_split_across_encoded_words() -> None:
    raw = b"From: a@b.fr\r\nSubject: =?utf-8?q?caf=C3?= =?utf-8?q?=A9_cr=C3=A8me?=\r\n\r\n"
    assert parse(raw).subject == "café crème"


def test_raw_8bit_headers_utf8_and_latin1() -> None:
    raw = (
        b"From: Ren\xe9 Lef\xe8vre <rene@x.fr>\r\n"
        b"To: Z\xc3\xa9lie <zelie@y.fr>\r\n"
        b"Subject: R\xc3\xa9clamation \xe0 propos du co\xfbt\r\n"
        b"Message-ID: <a@b>\r\n\r\nbonjour\r\n"
    )
    mail = parse(raw)
    assert mail.from_ == Address("rene@x.fr", "René Lefèvre")
    assert mail.to == (Address("zelie@y.fr", "Zélie"),)
    assert mail.subject == "Réclamation à propos du coût"
    assert mail.headers["subject"] == ("Réclamation à propos du coût",)
    assert "raw 8-bit bytes in headers" in mail.defects


def test_absent_subject_is_empty_string() -> None:
    mail = parse(b"From: a@b.fr\r\nMessage-ID: <a@b>\r\n\r\nhi\r\n")
    assert mail.subject == ""


def test_encoded_line_break_cannot_inject_headers() -> None:
    raw = b"From: a@b.fr\r\nSubject: =?utf-8?q?Hello=0D=0ABcc:_victim@x.fr?=\r\n\r\n"
    mail = parse(raw)
    assert "\n" not in mail.subject and "\r" not in mail.subject
    assert mail.subject == "Hello Bcc: victim@x.fr"


def test_no_from() -> None:
    mail = parse(b"To: x@y.fr\r\nSubject: a\r\nMessage-ID: <a@b>\r\n\r\nhi\r\n")
    assert mail.from_ is None
    assert "no From header" in mail.defects


def test_several_from_addresses() -> None:
    mail = parse(b"From: First <a@b.fr>, c@d.fr\r\nSubject: a\r\n\r\nhi\r\n")
    assert mail.from_ == Address("a@b.fr", "First")
    assert "several From addresses" in mail.defects


def test_several_from_headers() -> None:
    mail = parse(b"From: a@b.fr\r\nFrom: c@d.fr\r\nSubject: a\r\n\r\nhi\r\n")
    assert mail.from_ == Address("a@b.fr")
    assert "several From headers" in mail.defects


def test_from_without_angle_brackets_is_recovered() -> None:
    mail = parse(b"From: Jean Dupont jean@x.fr\r\nSubject: a\r\n\r\nhi\r\n")
    assert mail.from_ == Address("jean@x.fr")
    assert "From address recovered from a malformed header" in mail.defects


def test_addresses_without_at_are_dropped() -> None:
    mail = parse(b"From: a@b.fr\r\nTo: nobody, Team <team@x.fr>, <>\r\n\r\nhi\r\n")
    assert mail.to == (Address("team@x.fr", "Team"),)


def test_stdlib_takes_over_when_mail_parser_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("bug in mail-parser")

    monkeypatch.setattr(parse_module.mailparser, "MailParser", broken)
    raw = (
        b"From: =?utf-8?q?Am=C3=A9lie?= <Amelie@Example.FR>\r\nTo: a@b.fr, c@d.fr\r\n"
        b"Date: Tue, 12 Mar 2024 10:00:00 +0100\r\n\r\nhi"
    )
    mail = parse(raw)
    assert mail.from_ == Address("amelie@example.fr", "Amélie")
    assert mail.to == (Address("a@b.fr"), Address("c@d.fr"))
    assert mail.date == datetime(2024, 3, 12, 9, 0, tzinfo=UTC)
    assert "mail-parser failed on addresses (RuntimeError)" in mail.defects


def test_no_message_id() -> None:
    mail = parse(b"From: a@b.fr\r\nSubject: a\r\n\r\nhi\r\n")
    assert mail.message_id is None
    assert "no Message-ID" in mail.defects


def test_message_id_keeps_case_and_drops_brackets_and_whitespace() -> None:
    mail = parse(b"From: a@b.fr\r\nMessage-ID:\r\n  <CAF+Xy=Ab_12@Mail.Example.COM>  \r\n\r\n")
    assert mail.message_id == "CAF+Xy=Ab_12@Mail.Example.COM"


def test_references_folded_with_junk_between_ids() -> None:
    raw = (
        b"From: a@b.fr\r\nMessage-ID: <me@x>\r\n"
        b'References: <root@x> junk "quoted words" (comment)\r\n'
        b"\t<Two@Y.example>\r\n <> <no-at-sign> <three@z>\r\n"
        b"In-Reply-To: Your message of Monday <three@z>\r\n\r\nhi\r\n"
    )
    mail = parse(raw)
    assert mail.references == ("root@x", "Two@Y.example", "three@z")
    assert mail.in_reply_to == ("three@z",)
    assert mail.thread_ids[0] == "three@z"


def test_message_ids_helper() -> None:
    assert message_ids("<a@b> x <c@d>\r\n <a@b>") == ("a@b", "c@d")
    assert message_ids("no ids here") == ()


def test_date_absent_or_unparseable_is_none() -> None:
    assert parse(b"From: a@b.fr\r\n\r\nhi").date is None
    mail = parse(b"From: a@b.fr\r\nDate: le 3 mars vers midi\r\n\r\nhi")
    assert mail.date is None
    assert "unparseable Date" in mail.defects


def test_date_is_aware() -> None:
    mail = parse(b"From: a@b.fr\r\nDate: Tue, 12 Mar 2024 10:00:00 -0000\r\n\r\nhi")
    assert mail.date is not None and mail.date.tzinfo is not None


def test_headers_map_keeps_every_value_lowercased() -> None:
    raw = b"From: a@b.fr\r\nX-Tag: one\r\nx-tag: two\r\nX-Empty:\r\n\r\nhi"
    mail = parse(raw)
    assert mail.headers["x-tag"] == ("one", "two")
    assert mail.headers["x-empty"] == ("",)


def test_hostile_header_count_and_length_are_capped() -> None:
    junk = b"".join(b"X-Junk-%d: %d\r\n" % (i, i) for i in range(5000))
    raw = b"From: a@b.fr\r\n" + junk + b"X-Long: " + b"a" * 100_000 + b"\r\nAuto-Submitted: auto-replied\r\n\r\nhi"
    mail = parse(raw)
    assert len(mail.headers) <= 1001 + 1
    assert mail.headers["auto-submitted"] == ("auto-replied",)  # kept past the cap
    assert any(d.startswith("only 1000 of") for d in mail.defects)
    long_raw = b"From: a@b.fr\r\nX-Long: " + b"a" * 100_000 + b"\r\n\r\nhi"
    long_mail = parse(long_raw)
    assert len(long_mail.headers["x-long"][0]) == 8192
    assert "header values cut to 8192 characters" in long_mail.defects


# --- bodies ----------------------------------------------------------------------------------


def test_windows_1252_labelled_utf8() -> None:
    raw = (
        "From: a@b.fr\r\nSubject: x\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
        "J'ai payé 500 € pour la formation « inutile » – vraiment\r\n"
    ).encode("cp1252")
    mail = parse(raw)
    assert mail.text == "J'ai payé 500 € pour la formation « inutile » – vraiment"
    assert "undecodable charset utf-8 in text part" in mail.defects


def test_latin1_label_is_read_as_windows_1252() -> None:
    raw = (
        b"From: a@b.fr\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n=80 100 et =93oui=94 =E9t=E9\r\n"
    )
    assert parse(raw).text == "€ 100 et “oui” été"


def test_unknown_charset() -> None:
    raw = b"From: a@b.fr\r\nContent-Type: text/plain; charset=x-martian\r\n\r\ncaf\xc3\xa9\r\n"
    mail = parse(raw)
    assert mail.text == "café"
    assert "unknown charset x-martian in text part" in mail.defects


def test_no_body_at_all() -> None:
    mail = parse(b"From: a@b.fr\r\nSubject: rien\r\n")
    assert mail.text == ""
    assert mail.html is None
    assert mail.subject == "rien"


def test_html_only_with_script_and_style() -> None:
    html = (
        "<html><head><title>T</title><style>p{color:red}</style>"
        '<script>alert("x")</script></head><body><p>Bonjour&nbsp;madame,</p>'
        "<div>ligne&eacute; 2<br>ligne 3</div><ul><li>un</li><li>deux</li></ul>"
        '<script type="text/javascript">var x = "<p>caché</p>";</script>Fin &amp; merci</body></html>'
    )
    mail = EmailMessage()
    mail["From"] = "a@b.fr"
    mail.set_content(html, subtype="html")
    parsed = parse(bytes(mail))
    assert parsed.html is not None and "<script>" in parsed.html
    assert parsed.text == "Bonjour madame,\n\nligneé 2\nligne 3\n\n- un\n- deux\n\nFin & merci"
    assert "alert" not in parsed.text and "caché" not in parsed.text and "color" not in parsed.text


def test_plain_part_is_preferred_to_html() -> None:
    mail = plain_mail()
    mail.add_alternative("<p>version HTML</p>", subtype="html")
    parsed = parse(bytes(mail))
    assert parsed.text == "Bonjour,\nJe ne suis pas satisfait."
    assert parsed.html is not None and "version HTML" in parsed.html


def test_html_to_text_entities_and_tables() -> None:
    assert html_to_text("<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>") == "a b\nc"
    assert html_to_text("&lt;script&gt; &eacute;t&#233; &#x20AC;") == "<script> été €"
    assert html_to_text("<p>unclosed <b>tags<div>and more") == "unclosed tags\nand more"


def test_broken_boundary_is_recovered() -> None:
    raw = (
        b"From: a@b.fr\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="declared"\r\n\r\n'
        b"--actual\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nLe texte du client\r\n"
        b'--actual\r\nContent-Type: application/pdf; name="f.pdf"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--actual--\r\n"
    )
    mail = parse(raw)
    assert mail.text == "Le texte du client"
    assert [(a.filename, a.payload) for a in mail.attachments] == [("f.pdf", b"%PDF-")]
    assert "broken MIME boundary (recovered)" in mail.defects


def test_multipart_without_any_boundary_keeps_the_text() -> None:
    raw = b"From: a@b.fr\r\nContent-Type: multipart/alternative\r\n\r\nJust some text\r\n"
    mail = parse(raw)
    assert mail.text == "Just some text"
    assert "broken MIME boundary" in mail.defects


def test_cut_mail_missing_closing_boundary() -> None:
    raw = (
        b'From: a@b.fr\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\ndebut du texte\r\n--b\r\n"
        b'Content-Type: application/pdf; name="cut.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBE'
    )
    mail = parse(raw)
    assert mail.text == "debut du texte"
    assert mail.attachments[0].filename == "cut.pdf"


def test_deeply_nested_multipart_does_not_raise() -> None:
    depth = 3000
    nested = b"".join(b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i) for i in range(depth))
    mail = parse(b"From: a@b.fr\r\nSubject: deep\r\n" + nested + b"Content-Type: text/plain\r\n\r\nhi\r\n")
    assert mail.subject == "deep"
    assert mail.from_ == Address("a@b.fr")
    assert any("nesting too deep" in d or "MIME parts" in d for d in mail.defects)


# --- attachments -----------------------------------------------------------------------------


def multipart(*parts: bytes) -> bytes:
    body = b"".join(b"--XX\r\n" + part + b"\r\n" for part in parts)
    return (
        b'From: a@b.fr\r\nSubject: pj\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="XX"\r\n\r\n'
        + body
        + b"--XX--\r\n"
    )


TEXT_PART = b"Content-Type: text/plain; charset=utf-8\r\n\r\nvoir PJ"


def test_rfc2231_filename() -> None:
    raw = multipart(
        TEXT_PART,
        b"Content-Type: application/pdf\r\n"
        b"Content-Disposition: attachment; filename*0*=utf-8''%C3%A9ch%C3%A9ancier;\r\n"
        b" filename*1*=%20sign%C3%A9.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nSGVsbG8=",
    )
    mail = parse(raw)
    assert mail.text == "voir PJ"
    assert [(a.filename, a.content_type, a.payload) for a in mail.attachments] == [
        ("échéancier signé.pdf", "application/pdf", b"Hello")
    ]


def test_rfc2047_and_8bit_filenames() -> None:
    raw = multipart(
        b'Content-Type: application/pdf; name="=?iso-8859-1?q?re=E7u.pdf?="\r\n'
        b"Content-Disposition: attachment\r\n\r\nx",
        b'Content-Type: application/pdf\r\nContent-Disposition: attachment; filename="Re\xe7u\xe9.pdf"\r\n\r\ny',
    )
    assert [a.filename for a in parse(raw).attachments] == ["reçu.pdf", "Reçué.pdf"]


def test_path_traversal_filenames_are_neutralised() -> None:
    raw = multipart(
        b'Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="../../etc/passwd"\r\n\r\nx',
        b'Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="..\\\\..\\\\win.ini"\r\n\r\ny',
        b"Content-Type: application/octet-stream\r\nContent-Disposition: attachment;\r\n"
        b' filename="=?utf-8?q?=2E=2E=2F=2E=2E=2Froot=2F=2Essh=2Fauthorized=5Fkeys?="\r\n\r\nz',
    )
    names = [a.filename for a in parse(raw).attachments]
    assert names == ["passwd", "win.ini", "authorized_keys"]


def test_rtl_override_filename_shows_its_real_extension() -> None:
    raw = multipart(
        b"Content-Type: application/octet-stream\r\n"
        b"Content-Disposition: attachment; filename*=utf-8''facture%E2%80%AEfdp.exe\r\n\r\nMZ"
    )
    (attachment,) = parse(raw).attachments
    assert attachment.filename == "facturefdp.exe"
    assert attachment.filename.endswith(".exe")


def test_unnamed_attachment_gets_a_fallback_name() -> None:
    raw = multipart(
        TEXT_PART,
        b"Content-Type: image/png\r\nContent-Disposition: inline\r\nContent-ID: <img1>\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=",
        b"Content-Type: application/octet-stream\r\nContent-Disposition: attachment\r\n\r\nxyz",
    )
    mail = parse(raw)
    assert [(a.filename, a.payload) for a in mail.attachments] == [
        ("piece-jointe-1.png", b"\x89PNG\r\n\x1a\n"),
        ("piece-jointe-2.bin", b"xyz"),
    ]


def test_text_attachment_is_not_body() -> None:
    raw = multipart(
        TEXT_PART,
        b'Content-Type: text/plain; name="notes.txt"\r\nContent-Disposition: attachment; filename="notes.txt"\r\n\r\nsecret notes',
        b'Content-Type: text/csv; name="liste.csv"\r\n\r\na;b',
    )
    mail = parse(raw)
    assert mail.text == "voir PJ"
    assert [(a.filename, a.payload) for a in mail.attachments] == [
        ("notes.txt", b"secret notes"),
        ("liste.csv", b"a;b"),
    ]


def test_attached_message_rfc822() -> None:
    inner = EmailMessage()
    inner["From"] = "orig@x.fr"
    inner["Subject"] = "Facture de mars"
    inner["Message-ID"] = "<orig-1@x.fr>"
    inner.set_content("le texte du message transféré")
    outer = plain_mail(Subject="Fwd: Facture")
    outer.add_attachment(inner)
    mail = parse(bytes(outer))
    assert mail.text == "Bonjour,\nJe ne suis pas satisfait."
    (attachment,) = mail.attachments
    assert attachment.content_type == "message/rfc822"
    assert attachment.filename == "Facture de mars.eml"
    again = parse(attachment.payload)
    assert again.message_id == "orig-1@x.fr"
    assert again.text == "le texte du message transféré"


def test_attached_message_without_subject_and_base64_encoded() -> None:
    raw = multipart(
        TEXT_PART,
        b"Content-Type: message/rfc822\r\n\r\nFrom: x@y\r\n\r\nno subject here",
        b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b"RnJvbTogeEB5DQpTdWJqZWN0OiBlbmNvZGVkIGlubmVyDQoNCmJvZHkNCg==",
    )
    mail = parse(raw)
    assert [a.filename for a in mail.attachments] == ["message-1.eml", "encoded inner.eml"]
    assert mail.attachments[1].payload.startswith(b"From: x@y\r\nSubject: encoded inner")
    assert "no subject here" not in mail.text


# --- robustness ------------------------------------------------------------------------------


def test_mangled_mails_never_raise() -> None:
    """Random damage to the corpus above: parse may only ever return a mail or a ParseError."""
    seeds = [
        bytes(plain_mail()),
        multipart(
            TEXT_PART,
            b"Content-Type: text/html; charset=windows-1252\r\n\r\n<p>caf\xe9<script>x</script>",
            b"Content-Type: application/pdf\r\nContent-Disposition: attachment;"
            b" filename*0*=utf-8''%C3%A9;\r\n filename*1*=x.pdf\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\nSGVsbG8=",
            b"Content-Type: message/rfc822\r\n\r\nFrom: x@y\r\nSubject: inner\r\n\r\nbody",
        ),
        (
            b"From: Ren\xe9 <r@x.fr>\r\nSubject: caf\xc3\xa9 =?iso-8859-1?q?=E9?=\r\n"
            b"References: <a@b>\r\n <c@d>\r\n\r\nbody\xe9\r\n"
        ),
    ]
    tokens = [b"=?", b"?=", b"?q?", b"?b?", b"\r\n", b"\n ", b"<", b">", b"@", b"\x00", b"\xff"]
    tokens += [b"--", b'"', b";", b"*0*=", b"''", b"%", b"\\", b"/", b"..", b"multipart/", b":"]
    tokens += [b"message/rfc822", b"boundary=", b"charset=", b"utf-16", b"base64"]
    rng = random.Random(20240312)
    for _ in range(400):
        raw = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 10)):
            position = rng.randrange(len(raw) + 1)
            action = rng.random()
            if action < 0.4:
                raw[position:position] = rng.choice(tokens)
            elif action < 0.7:
                del raw[position : position + rng.randint(1, 20)]
            else:
                raw[position:position] = rng.randbytes(rng.randint(1, 5))
        try:
            mail = parse(bytes(raw))
        except ParseError:
            continue
        assert isinstance(mail.subject, str) and isinstance(mail.text, str)
        mail.subject.encode("utf-8")  # no lone surrogates leak out of decoding
        mail.text.encode("utf-8")
        for attachment in mail.attachments:
            assert attachment.filename and "/" not in attachment.filename
            assert not attachment.filename.startswith(".")


# --- safe_filename ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\system32\\cmd.exe", "cmd.exe"),
        ("C:\\Users\\x\\a.pdf", "a.pdf"),
        ("facture\u202efdp.exe", "facturefdp.exe"),
        ("facture.pdf\u202eexe", "facture.pdfexe"),
        ("photo.jpg\u200b\u2066.exe", "photo.jpg.exe"),
        ("invoice.pdf.exe", "invoice.pdf.exe"),
        ("invoice.pdf          .exe", "invoice.pdf .exe"),
        ("virus.exe.", "virus.exe"),
        (".htaccess", "htaccess"),
        ("CON", "_CON"),
        ("con.txt", "_con.txt"),
        ("Lpt1.tar.gz", "_Lpt1.tar.gz"),
        ("a:b*c?.txt", "a_b_c_.txt"),
        ("line\nbreak\x00\x1b.txt", "line break.txt"),
        ("e\u0301te\u0301.txt", "\u00e9t\u00e9.txt"),
        ("   ", "fallback.bin"),
        ("...", "fallback.bin"),
        ("../", "fallback.bin"),
        ("", "fallback.bin"),
    ],
)
def test_safe_filename(name: str, expected: str) -> None:
    assert safe_filename(name, "fallback.bin") == expected


def test_safe_filename_caps_length_and_keeps_extension() -> None:
    long_name = "é" * 300 + ".docx"
    safe = safe_filename(long_name, "x.bin")
    assert safe.endswith(".docx")
    assert len(safe.encode("utf-8")) <= 150
    assert safe_filename("a" * 500, "x.bin") == "a" * 150


# --- large and deeply nested mail (inboxbot.reading.slicing) -----------------------------------------


def _without_slicing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parse_module, "slice_mail", lambda raw: slicing.Sliced(raw, []))


def _comparable(mail: ParsedMail) -> tuple[object, ...]:
    """Everything parse returns; an attached mail by what it says, since it is now kept as
    received where it used to be written out again by the stdlib."""
    attachments = [
        (a.filename, a.content_type, parse(a.payload).subject if a.content_type == "message/rfc822" else a.payload)
        for a in mail.attachments
    ]
    return (mail.message_id, mail.subject, mail.from_, mail.to, mail.date, mail.text, mail.html, attachments)


def test_a_large_attachment_is_read_from_the_raw_bytes_with_the_same_result(monkeypatch: pytest.MonkeyPatch) -> None:
    size = 3 * 1024 * 1024
    raw = large_attachment_mail(size)
    sliced = slicing.slice_mail(raw)
    assert len(sliced.reduced) < 4096  # the parser sees a few lines instead of 4 MB
    mail = parse(raw)
    (attachment,) = mail.attachments
    assert (attachment.filename, attachment.content_type, len(attachment.payload)) == (
        "dossier-complet.pdf",
        "application/pdf",
        size,
    )
    assert mail.text == "Veuillez trouver ci-joint le dossier complet."
    _without_slicing(monkeypatch)
    assert _comparable(parse(raw)) == _comparable(mail)


def test_parsing_a_large_attachment_costs_little_more_than_its_decoded_size() -> None:
    """Memory allocated by Python while parsing (tracemalloc: exact, not a timing): it was about
    nine times the raw mail's size before large bodies were kept from the stdlib parser."""
    size = 8 * 1024 * 1024
    raw = large_attachment_mail(size)
    tracemalloc.start()
    try:
        mail = parse(raw)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(mail.attachments[0].payload) == size
    assert peak < 2 * size, f"parse allocated {peak / size:.1f} times the attachment"


def _damaged_corpus(count: int) -> list[bytes]:
    """The corpus of this file and `count` copies damaged at random (reproducibly)."""
    encoded = base64.encodebytes(bytes(range(256)) * 4).replace(b"\n", b"\r\n")
    seeds = [
        multipart(
            TEXT_PART,
            b"Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
            b'Content-Disposition: attachment; filename="a.pdf"\r\n\r\n' + encoded,
            b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + base64.encodebytes("Déjà payé, toujours rien reçu.\n".encode() * 20).replace(b"\n", b"\r\n"),
            b"Content-Type: message/rfc822\r\n\r\nFrom: x@y\r\nSubject: inner\r\n\r\nbody",
        ),
        nested_attached_mails(3),
        tnef_mail([("Facture mars.pdf", b"%PDF-1.4 facture")]),
        b'From: d@x.fr\r\nSubject: digest\r\nContent-Type: multipart/digest; boundary="D"\r\n\r\n--D\r\n\r\n'
        b"From: a@x.fr\r\nSubject: un\r\n\r\ncorps un\r\n--D\r\nContent-Type: text/plain\r\n\r\ntexte\r\n--D--\r\n",
    ]
    # Found by a longer run of this test (12,000 mails): bare CR line ends, a base64 encoding
    # declared on a multipart or on an attached mail, "base64 " with a trailing space.
    damage = [b"--", b"\r\n", b"\r", b"\n", b"=", b"\r\n\r\n", b"Content-Type: message/rfc822\r\n", b"--D\r\n"]
    damage += [b"Content-Transfer-Encoding: base64\r\n", b"Content-Transfer-Encoding: base64 \r\n"]
    rng = random.Random(20261128)
    cases = [seed for seed in seeds]
    for _ in range(count):
        raw = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 6)):
            position = rng.randrange(len(raw) + 1)
            if rng.random() < 0.5:
                raw[position:position] = rng.choice(damage)
            else:
                del raw[position : position + rng.randint(1, 20)]
        cases.append(bytes(raw))
    return cases


def test_slicing_changes_nothing_parse_returns(monkeypatch: pytest.MonkeyPatch) -> None:
    """The corpus of this file, damaged at random, with every base64 run cut however short: the
    result must be the one the stdlib parser alone gives."""
    cases = _damaged_corpus(400)
    monkeypatch.setattr(slicing, "CUT_BYTES", 1)
    sliced = []
    for raw in cases:
        try:
            sliced.append(_comparable(parse(raw)))
        except ParseError as exc:
            sliced.append((exc.reason,))
    with monkeypatch.context() as plain:
        _without_slicing(plain)
        for raw, expected in zip(cases, sliced, strict=True):
            try:
                alone = _comparable(parse(raw))
            except ParseError as exc:
                alone = (exc.reason,)
            assert expected == alone, raw


def test_a_mail_told_to_have_nothing_to_cut_has_nothing_to_cut() -> None:
    """The shortcut that spares most mails the structure scan never skips a cut the scan makes."""

    def nested(depth: int, kind: bytes = b"multipart/mixed") -> bytes:
        parts = b"".join(b'Content-Type: %s; boundary="b%d"\r\n\r\n--b%d\r\n' % (kind, i, i) for i in range(depth))
        return b"From: a@b.fr\r\nSubject: deep\r\n" + parts + b"\r\nau fond\r\n"

    attached = b"Content-Type: MESSAGE/RFC822\r\n\r\nFrom: x@y\r\nSubject: inner\r\n\r\nbody"
    cases = _damaged_corpus(400) + [
        nested(slicing.MAX_DEPTH),
        nested(slicing.MAX_DEPTH + 1),
        nested(slicing.MAX_DEPTH + 1, b"Multipart/Alternative"),
        multipart(TEXT_PART, attached),
        multipart(TEXT_PART, b"Content-Type: text/html\r\n\r\n<p>bonjour</p>"),
    ]
    told = [slicing.nothing_to_cut(raw) for raw in cases]
    assert 0 < sum(told) < len(cases) / 2
    for raw, nothing in zip(cases, told, strict=True):
        if nothing:
            assert slicing.cuts_of(raw) == [], raw
    assert slicing.cuts_of(cases[-4]) and slicing.cuts_of(cases[-3]) and slicing.cuts_of(cases[-2])


def test_attached_mails_nested_a_thousand_deep_keep_the_text_and_the_first_attached_mail() -> None:
    raw = nested_attached_mails(1000)
    mail = parse(raw)
    assert mail.text == "Je transmets (niveau 1000)."
    (attached,) = mail.attachments
    assert attached.filename == "Tr_ niveau 999.eml"
    assert attached.payload == raw[raw.index(b"From: relais999@") : raw.rindex(b"\r\n--niveau-1000--")]
    assert not mail.defects
    # Reading the attached mail is parsing it again: one level at a time, never recursively.
    assert parse(attached.payload).text == "Je transmets (niveau 999)."


def test_a_forward_nested_a_thousand_deep_names_a_transmitter_without_recursing() -> None:
    # Each relay wrote a line of its own, so the first relay is the transmitted mail's author.
    found = extract_forwarded(parse(nested_attached_mails(1000)))
    assert found is not None and found.author.email == "relais999@example.fr"


def test_multipart_nesting_past_the_limit_keeps_what_is_above_it() -> None:
    depth = slicing.MAX_DEPTH + 40
    nested = b"".join(b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i) for i in range(depth))
    top = b'From: a@b.fr\r\nSubject: deep\r\nContent-Type: multipart/mixed; boundary="top"\r\n\r\n--top\r\n'
    raw = top + b"Content-Type: text/plain\r\n\r\nen haut\r\n--top\r\n" + nested + b"\r\nau fond\r\n--top--\r\n"
    mail = parse(raw)
    assert mail.text == "en haut"
    assert any("nesting too deep" in defect for defect in mail.defects)


# --- Outlook's winmail.dat -------------------------------------------------------------------


def test_the_files_inside_a_winmail_dat_are_the_attachments() -> None:
    files = [("Facture de mars 2026.pdf", b"%PDF-1.4 facture"), ("Photo salle été.jpg", b"\xff\xd8\xff photo")]
    mail = parse(tnef_mail(files))
    assert [(a.filename, a.content_type, a.payload) for a in mail.attachments] == [
        ("Facture de mars 2026.pdf", "application/pdf", b"%PDF-1.4 facture"),
        ("Photo salle été.jpg", "image/jpeg", b"\xff\xd8\xff photo"),
    ]
    assert "winmail.dat (Outlook TNEF) unpacked: Facture de mars 2026.pdf, Photo salle été.jpg" in mail.defects
    assert mail.text == "Bonjour, voici mes justificatifs."


def test_a_winmail_dat_without_long_names_gives_the_short_ones() -> None:
    assert [f.name for f in tnef.files(tnef_stream([("rapport final.docx", b"x")], long_names=False))] == [
        "RAPPOR~1.DOC"
    ]


def test_a_hostile_or_broken_winmail_dat_is_kept_as_it_is() -> None:
    stream = tnef_stream([("a.pdf", b"%PDF")])
    # Counts claiming four billion properties and values: read as far as the bytes go, no further.
    huge = struct.pack("<IHHI", 0xFFFFFFFF, 0x1002, 0x0E20, 0xFFFFFFFF)
    hostile = stream + tnef_attribute(2, 0x00069002, bytes(14)) + tnef_attribute(2, 0x00069005, huge)
    assert [f.name for f in tnef.files(hostile)] == ["a.pdf"]
    assert [f.name for f in tnef.files(stream[: len(stream) // 2])] == []  # cut inside the first file
    for payload, defect in ((b"not tnef at all", "not readable TNEF"), (stream[:20], "holds no file")):
        raw = make_mail(
            "lea@example.fr", "a@b.fr", "pj", "voir", attachments=[("winmail.dat", payload, "application/ms-tnef")]
        )
        mail = parse(raw)
        assert [(a.filename, a.payload) for a in mail.attachments] == [("winmail.dat", payload)]
        assert any(defect in d for d in mail.defects)


def test_attachments_past_the_cap_stay_in_the_raw_mail_and_are_counted() -> None:
    """Issue 14: one 2.9 MB mail of winmail.dat parts unpacked to 50,000 attachments. Past the cap
    (files inside a winmail.dat count one each) nothing more is decoded or kept, and the mail says
    how many it left out, for the case history."""
    winmails = [
        (f"winmail{n}.dat", tnef_stream([(f"f{n}-{i}.txt", b"x") for i in range(4)]), "application/ms-tnef")
        for n in range(3)
    ]
    plain = [(f"p{n}.txt", b"y", "text/plain") for n in range(3)]
    raw = make_mail("lea@example.fr", "a@b.fr", "pj", "voir", attachments=[*winmails, *plain])
    everything = parse(raw, max_attachments=100)
    assert len(everything.attachments) == 15 and everything.attachments_left_out == 0
    capped = parse(raw, max_attachments=6)
    assert [a.filename for a in capped.attachments] == [
        "f0-0.txt",
        "f0-1.txt",
        "f0-2.txt",
        "f0-3.txt",
        "f1-0.txt",
        "f1-1.txt",
    ]
    assert capped.attachments_left_out == 5  # the rest of winmail1, winmail2, three plain parts
    assert any("more than 6 attachments" in defect for defect in capped.defects)
    assert capped.text == everything.text == "voir"
    assert parse(raw).attachments_left_out == 0  # the default is generous
