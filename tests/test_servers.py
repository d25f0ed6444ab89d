"""Tests of the test servers and fixtures themselves (tests/servers.py, tests/conftest.py).

If one of these fails, the failures elsewhere are probably not the application's fault.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
from datetime import UTC, datetime, timedelta, timezone

import aiosmtplib
import imapclient
import pytest
import sqlalchemy as sa
from imapclient.imapclient import (  # not re-exported by the imapclient package
    SEEN,
    SENT,
)
from mails import make_mail
from servers import DovecotServer, SmtpSink


def _send(sink: SmtpSink, raw: bytes, sender: str = "bot@example.org", to: str = "client@example.org") -> None:
    asyncio.run(aiosmtplib.send(raw, sender=sender, recipients=[to], hostname=sink.host, port=sink.port, timeout=10))


# -- Dovecot -------------------------------------------------------------------------


def test_append_then_peek_leaves_message_unseen(mail_account) -> None:
    raw = make_mail(
        "Élodie Martin <elodie@example.org>",
        mail_account.address,
        "Réclamation : session du 12 annulée",
        "Bonjour,\nla formation a été annulée sans préavis.\nÉlodie",
    )
    internaldate = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    uid = mail_account.append(raw, internaldate=internaldate)
    assert uid == 1  # a fresh account: first UID of a fresh INBOX

    with mail_account.client() as client:
        client.select_folder("INBOX", readonly=False)
        data = client.fetch([uid], ["BODY.PEEK[]", "FLAGS", "INTERNALDATE"])[uid]
        assert data[b"BODY[]"] == raw  # stored byte for byte, CRLF included
        assert SEEN not in data[b"FLAGS"]
        assert data[b"INTERNALDATE"].astimezone(UTC) == internaldate
        assert SEEN not in client.get_flags([uid])[uid]

    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Subject"] == "Réclamation : session du 12 annulée"
    assert "annulée" in parsed.get_content()


def test_append_returns_increasing_uids_and_flags(mail_account) -> None:
    first = mail_account.append(make_mail("a@example.org", mail_account.address, "un", "1"))
    second = mail_account.append(make_mail("a@example.org", mail_account.address, "deux", "2"), flags=[SEEN])
    assert second > first
    with mail_account.client() as client:
        client.select_folder("INBOX", readonly=True)
        assert SEEN in client.get_flags([second])[second]


def test_sent_folder_is_found_by_special_use(mail_account) -> None:
    with mail_account.client() as client:
        assert client.has_capability("SPECIAL-USE")
        assert client.has_capability("UIDPLUS")
        assert client.find_special_folder(SENT) == "Sent"
        flags = {name: flags for flags, _, name in client.list_folders()}
        assert b"\\Drafts" in flags["Drafts"]
        assert b"\\Trash" in flags["Trash"]
        assert b"\\Junk" in flags["Junk"]
    assert mail_account.append(make_mail("a@example.org", "b@example.org", "s", "b"), folder="Sent") == 1


@pytest.mark.servers
def test_non_ascii_sent_folder_name(server_dir) -> None:
    """A localised Sent folder (Outlook/Exchange in French) is listed decoded and flagged."""
    name = "Éléments envoyés"
    with DovecotServer(server_dir("dovecot-fr"), sent_folder_name=name) as server:
        server.add_user("marie", "secret")
        with server.client("marie", "secret") as client:
            assert name in [folder for _, _, folder in client.list_folders()]
            assert client.find_special_folder(SENT) == name
        assert server.append("marie", "secret", name, make_mail("a@example.org", "b@example.org", "s", "b")) == 1


def test_accounts_are_isolated(dovecot_server: DovecotServer, mail_account) -> None:
    other_name = f"{mail_account.username}-other"
    dovecot_server.add_user(other_name, "other-password")
    mail_account.append(make_mail("a@example.org", mail_account.address, "privé", "secret"))

    with dovecot_server.client(other_name, "other-password") as other:
        assert other.select_folder("INBOX")[b"EXISTS"] == 0
    with pytest.raises(imapclient.exceptions.LoginError):
        dovecot_server.client(other_name, mail_account.password)
    with mail_account.client() as client:
        assert client.select_folder("INBOX")[b"EXISTS"] == 1


def test_user_added_while_running_can_log_in_at_once(dovecot_server: DovecotServer) -> None:
    """No restart, no 1 s wait, even right after a refused login for the same name."""
    with pytest.raises(imapclient.exceptions.LoginError):
        dovecot_server.client("late-user", "pw")
    dovecot_server.add_user("late-user", "pw")
    with dovecot_server.client("late-user", "pw") as client:
        assert client.select_folder("INBOX")[b"EXISTS"] == 0


def test_password_change_applies_without_restart(dovecot_server: DovecotServer) -> None:
    dovecot_server.add_user("changing-user", "old-password")
    dovecot_server.client("changing-user", "old-password").logout()
    dovecot_server.add_user("changing-user", "new-password")  # waits for the next second
    dovecot_server.client("changing-user", "new-password").logout()
    with pytest.raises(imapclient.exceptions.LoginError):
        dovecot_server.client("changing-user", "old-password")


@pytest.mark.servers
def test_restart_keeps_port_and_mail(server_dir) -> None:
    with DovecotServer(server_dir("dovecot-restart")) as server:
        server.add_user("paul", "pw")
        server.append("paul", "pw", "INBOX", make_mail("a@example.org", "paul@example.org", "s", "b"))
        port = server.port
        server.restart()
        assert server.port == port
        with server.client("paul", "pw") as client:
            assert client.select_folder("INBOX")[b"EXISTS"] == 1


# -- SMTP sink -----------------------------------------------------------------------


def test_smtp_sink_records_message(smtp_sink: SmtpSink) -> None:
    raw = make_mail(
        "bot@example.org", "client@example.org", "Accusé de réception", "Votre réclamation est enregistrée."
    )
    _send(smtp_sink, raw)
    [received] = smtp_sink.wait_for(1, timeout=5)
    assert received.mail_from == "bot@example.org"
    assert received.rcpt_tos == ["client@example.org"]
    assert received.message["Subject"] == "Accusé de réception"
    assert "enregistrée" in received.message.get_content()
    assert received.data.replace(b"\r\n", b"\n") == raw.replace(b"\r\n", b"\n")


def test_smtp_sink_refuses_once_with_451(smtp_sink: SmtpSink) -> None:
    smtp_sink.refuse(451, 1)
    raw = make_mail("bot@example.org", "client@example.org", "Essai", "corps")
    with pytest.raises(aiosmtplib.SMTPDataError) as refused:
        _send(smtp_sink, raw)
    assert refused.value.code == 451
    assert smtp_sink.messages == []
    assert len(smtp_sink.refused) == 1

    _send(smtp_sink, raw)
    assert len(smtp_sink.wait_for(1, timeout=5)) == 1


def test_smtp_sink_permanent_refusal_until_accept(smtp_sink: SmtpSink) -> None:
    smtp_sink.refuse(550)
    raw = make_mail("bot@example.org", "client@example.org", "Essai", "corps")
    for _ in range(2):
        with pytest.raises(aiosmtplib.SMTPDataError) as refused:
            _send(smtp_sink, raw)
        assert refused.value.code == 550
    smtp_sink.accept()
    _send(smtp_sink, raw)
    assert len(smtp_sink.wait_for(1, timeout=5)) == 1


def test_smtp_sink_wait_for_times_out_with_assertion(smtp_sink: SmtpSink) -> None:
    with pytest.raises(AssertionError, match="expected at least 1 message"):
        smtp_sink.wait_for(1, timeout=0.05)


# -- databases -----------------------------------------------------------------------


def fresh_database_url_gives_working_empty_database(database_url: str) -> None:
    engine = sa.create_engine(database_url)
    try:
        with engine.begin() as connection:
            assert connection.execute(sa.text("select 1")).scalar() == 1
            assert sa.inspect(connection).get_table_names() == []
            connection.execute(sa.text("create table t (x text)"))
            connection.execute(sa.text("insert into t values ('réclamation')"))
            assert connection.execute(sa.text("select x from t")).scalar() == "réclamation"
    finally:
        engine.dispose()


def test_postgres_url_form(postgres_server) -> None:
    url = postgres_server.url("postgres")
    assert url == f"postgresql+psycopg://postgres@127.0.0.1:{postgres_server.port}/postgres"
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            assert connection.execute(sa.text("show server_encoding")).scalar() == "UTF8"
    finally:
        engine.dispose()


# -- mail builder --------------------------------------------------------------------


def test_make_mail_uses_crlf_and_utf8() -> None:
    raw = make_mail(
        "Élodie <elodie@example.org>",
        ["a@example.org", "b@example.org"],
        "Réclamation",
        "Très déçue.\n",
        message_id="<m1@example.org>",
        in_reply_to="<m0@example.org>",
        references=["<m-1@example.org>", "<m0@example.org>"],
        date=datetime(2026, 1, 5, 8, 0, tzinfo=timezone(timedelta(hours=1))),
        extra_headers={"X-Mailer": "test"},
        html="<p>Très déçue.</p>",
    )
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert b"R\xc3\xa9clamation" not in raw.split(b"\r\n\r\n", 1)[0]  # header is encoded
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Subject"] == "Réclamation"
    assert parsed["References"] == "<m-1@example.org> <m0@example.org>"
    assert parsed["Date"] == "Mon, 05 Jan 2026 08:00:00 +0100"
    # policy.default keeps the CR of CRLF in 8bit text parts: normalise before comparing
    assert parsed.get_body(("plain",)).get_content().replace("\r\n", "\n") == "Très déçue.\n"
    assert parsed.get_body(("html",)).get_content().strip() == "<p>Très déçue.</p>"
