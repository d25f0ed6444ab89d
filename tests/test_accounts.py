"""The mail accounts people really have: how their Sent folder is named, and our copies saved to it.

Against real Dovecot servers laid out like the providers: `.` or `/` as hierarchy separator, a
French Sent folder found by SPECIAL-USE or, without it, by its name, Gmail's "[Gmail]/Messages
envoyés"; and `imap.save_sent`, which files what inboxbot sends in Sent, once, without those copies
ever being taken for the director's own mail.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import make_msgid
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import MailAccount
from databases import fresh_database_url, rows
from e2e import invoke, write_config
from imapclient.exceptions import IMAPClientError
from mails import make_mail
from servers import DovecotServer, SmtpSink
from test_procedure import DIRECTOR, LEA, Bot

from inboxbot.adapters.imap import Mailbox, find_sent

SAVE_SENT = "save_sent = true"


def make_bot(directory: Path, account: MailAccount, sink: SmtpSink, imap_extra: str = "", extra: str = "") -> Bot:
    directory.mkdir(exist_ok=True)
    config = write_config(
        directory,
        imap_host=account.host,
        imap_port=account.port,
        username=account.username,
        password=account.password,
        smtp_port=sink.port,
        database_url=fresh_database_url(directory),
        address=DIRECTOR,
        imap_extra=imap_extra,
        extra=extra,
    )
    bot = Bot(config, account, sink)
    bot.cycle()  # first meeting with the empty mailbox
    return bot


@pytest.fixture
def own_dovecot(server_dir: Callable[[str], Path]) -> Iterator[Callable[..., MailAccount]]:
    """A Dovecot of the test's own layout, with one account "alice"; stopped after the test."""
    started: list[DovecotServer] = []

    def make(sent: str = "Sent", **options: Any) -> MailAccount:
        server = DovecotServer(server_dir("dovecot-layout"), sent, **options)
        server.start()
        started.append(server)
        server.add_user("alice", "secret")
        return MailAccount(server.host, server.port, "alice", "secret", DIRECTOR, server)

    yield make
    for server in started:
        server.stop()


def her_reply_is_read_from(bot: Bot, folder: str) -> None:
    original = make_msgid(domain="example.fr")
    bot.account.append(make_mail(LEA, DIRECTOR, "Réclamation : attestation", "Bonjour", message_id=original))
    bot.cycle()
    reply = make_mail(f"Alice <{DIRECTOR}>", LEA, "RE: attestation", "C'est réglé.", in_reply_to=original)
    bot.account.append(reply, folder=folder)
    bot.cycle()
    (mine,) = [m for m in bot.case()["messages"] if m["text"].startswith("C'est réglé")]
    assert mine["direction"] == "out" and mine["from"] == DIRECTOR


# -- finding the Sent folder ----------------------------------------------------------------------


def test_without_special_use_a_french_sent_folder_is_found_by_its_name_with_dot_separator(
    tmp_path: Path, own_dovecot: Callable[..., MailAccount], smtp_sink: SmtpSink
) -> None:
    account = own_dovecot("Éléments envoyés", separator=".", special_use=False)
    with account.client() as client:
        client.create_folder("Archives.Sent")  # someone's filing, not the Sent folder
        client.folder_encode = False
        wire_names = [name for _flags, _delim, name in client.list_folders()]
    assert b"&AMk-l&AOk-ments envoy&AOk-s" in wire_names  # modified UTF-7 on the wire (RFC 3501 5.1.3)
    bot = make_bot(tmp_path, account, smtp_sink)
    checked = invoke(bot.config, "check")
    assert "watching 'Éléments envoyés' (sent)" in checked.out, checked
    her_reply_is_read_from(bot, "Éléments envoyés")


def test_gmail_sent_folder_under_gmail_is_found_by_special_use(
    tmp_path: Path, own_dovecot: Callable[..., MailAccount], smtp_sink: SmtpSink
) -> None:
    account = own_dovecot("[Gmail]/Messages envoyés")
    bot = make_bot(tmp_path, account, smtp_sink)
    assert "watching '[Gmail]/Messages envoyés' (sent)" in invoke(bot.config, "check").out
    her_reply_is_read_from(bot, "[Gmail]/Messages envoyés")


def test_no_recognisable_sent_folder_is_said_plainly_and_sent_folder_fixes_it(
    tmp_path: Path, own_dovecot: Callable[..., MailAccount], smtp_sink: SmtpSink
) -> None:
    account = own_dovecot("Mes envois", special_use=False)
    bot = make_bot(tmp_path, account, smtp_sink)
    checked = invoke(bot.config, "check")
    assert checked.code == 0
    assert "warning: no Sent folder found" in checked.out and "set imap.sent_folder" in checked.out
    assert "(sent)" not in checked.out

    fixed = make_bot(tmp_path / "fixed", account, smtp_sink, imap_extra='sent_folder = "Mes envois"')
    assert "watching 'Mes envois' (sent)" in invoke(fixed.config, "check").out
    her_reply_is_read_from(fixed, "Mes envois")


def test_find_sent_prefers_the_flag_then_usual_top_level_names_and_never_drafts_or_trash() -> None:
    none: tuple[bytes, ...] = ()
    assert find_sent([(none, b"/", "Sent"), ((b"\\Sent",), b"/", "Envoyés")]) == "Envoyés"
    assert find_sent([(none, b".", "INBOX.Archives.Sent"), (none, b".", "INBOX.Sent")]) == "INBOX.Sent"
    assert find_sent([((b"\\Drafts",), b"/", "Sent"), ((b"\\Noselect",), b"/", "Envoyés")]) is None
    assert find_sent([(none, b"/", "Boîte d'envoi"), (none, b"/", "ÉLÉMENTS ENVOYÉS")]) == "ÉLÉMENTS ENVOYÉS"


# -- our own mail saved to Sent -------------------------------------------------------------------


def sent_folder_mails(account: MailAccount, folder: str = "Sent") -> list[tuple[bytes, tuple[bytes, ...], datetime]]:
    with account.client() as client:
        client.select_folder(folder, readonly=True)
        uids = client.search(["ALL"])
        data = client.fetch(uids, ["BODY.PEEK[]", "FLAGS", "INTERNALDATE"]) if uids else {}
    return [(d[b"BODY[]"], d[b"FLAGS"], d[b"INTERNALDATE"]) for _uid, d in sorted(data.items())]


def ours(account: MailAccount) -> list[bytes]:
    return [raw for raw, _flags, _date in sent_folder_mails(account) if b"Message-ID: <inboxbot." in raw]


def test_our_mail_is_saved_to_sent_once_and_never_taken_for_hers(
    tmp_path: Path, mail_account: MailAccount, smtp_sink: SmtpSink
) -> None:
    bot = make_bot(tmp_path, mail_account, smtp_sink, imap_extra=SAVE_SENT)
    bot.claim()
    (ack,) = smtp_sink.messages
    [(raw, flags, _date)] = sent_folder_mails(mail_account)
    assert raw == ack.data  # the very bytes the SMTP server accepted
    assert b"\\Seen" in flags

    # Her own reply, from her mail client: dated three days ago, so that any later mail taken for
    # hers would move the response date. Our extension notice is threaded in the case and sent from
    # her own address; its copy in Sent must not count as her reply.
    her_reply_at = datetime.now(UTC) - timedelta(days=3)
    reply = make_mail(f"Alice <{DIRECTOR}>", LEA, "RE: [Dossier 2026-0001]", "Votre attestation est partie.")
    mail_account.append(reply, folder="Sent", internaldate=her_reply_at.astimezone().replace(tzinfo=None))
    bot.cycle()
    bot.note_to_self("[Dossier 2026-0001]", "#prolonger 15 attente du financeur")
    bot.cycle()
    bot.note_to_self("[Dossier 2026-0001]", "#aide")  # our help page lists every command: not to be run
    bot.cycle()
    bot.cycle()
    bot.note_to_self("[Dossier 2026-0001]", "#clore réglé")
    bot.cycle()
    bot.cycle()

    sent = smtp_sink.messages
    saved = ours(mail_account)
    assert sorted(saved) == sorted(m.data for m in sent)  # each mail that left, once
    assert len(saved) == len(set(saved)) >= 5  # ack, extension notice, two reports, help page
    case = bot.case()
    assert case["status"] == "closed"
    assert case["responded_at"][:10] == her_reply_at.astimezone(ZoneInfo("Europe/Paris")).date().isoformat()
    logged = [m["message_id"] for m in case["messages"]]
    assert len(logged) == len(set(logged))
    reports = [m for m in sent if "Commandes" in m.subject]
    assert len(reports) == 3  # prolonger, aide, clore: none of our copies ran as commands


def test_copies_wait_while_imap_is_down_and_are_made_once_after_a_crash(
    tmp_path: Path, own_dovecot: Callable[..., MailAccount], smtp_sink: SmtpSink
) -> None:
    account = own_dovecot()
    bot = make_bot(tmp_path, account, smtp_sink, imap_extra=SAVE_SENT)
    account.server.stop()
    added = invoke(bot.config, "cases", "add", "--subject", "Appel", "--claimant", "lea.martin@example.fr")
    assert added.code == 0 and "accusé de réception envoyé" in added.out, added  # sending is not held up
    assert len(smtp_sink.messages) == 1
    account.server.start()
    assert ours(account) == []
    bot.cycle()
    assert ours(account) == [smtp_sink.messages[0].data]

    # A crash between APPEND and its record leaves "appending": the copy is looked up, not doubled.
    rows(tmp_path, "UPDATE outbox SET sent_copy = 'appending'")
    bot.cycle()
    assert len(ours(account)) == 1
    # A crash before the APPEND reached the server: the copy is made.
    with account.client() as client:
        client.select_folder("Sent")
        client.delete_messages(client.search(["ALL"]))
        client.expunge()
    rows(tmp_path, "UPDATE outbox SET sent_copy = 'appending'")
    bot.cycle()
    assert ours(account) == [smtp_sink.messages[0].data]


def test_a_copy_the_sent_folder_refuses_is_given_up_alone_and_the_next_ones_are_saved(
    tmp_path: Path, mail_account: MailAccount, smtp_sink: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One copy the server answers NO to (too large for the folder, say) must not hold back the others
    for good: it was tried again first at every cycle, and every copy after it waited (issue 14)."""
    bot = make_bot(tmp_path, mail_account, smtp_sink, imap_extra=SAVE_SENT)
    append = Mailbox.append_seen
    refused: list[bytes] = []

    def refusing(self: Mailbox, folder: str, raw: bytes, when: datetime) -> None:
        if b"refus@example.fr" in raw:
            refused.append(raw)
            raise IMAPClientError("append failed: [LIMIT] Message too large")
        append(self, folder, raw, when)

    monkeypatch.setattr(Mailbox, "append_seen", refusing)
    for sender in ("avant@example.fr", "refus@example.fr", "apres@example.fr"):
        bot.account.append(make_mail(sender, DIRECTOR, "Réclamation : formation annulée", "Bonjour"))
    bot.cycle()
    bot.cycle()
    sent = {m.rcpt_tos[0]: m.data for m in smtp_sink.messages}
    assert sorted(sent) == ["apres@example.fr", "avant@example.fr", "refus@example.fr"]
    assert sorted(ours(mail_account)) == sorted([sent["avant@example.fr"], sent["apres@example.fr"]])
    assert len(refused) == 1  # given up once, not tried at every cycle


def test_without_save_sent_nothing_is_appended(tmp_path: Path, mail_account: MailAccount, smtp_sink: SmtpSink) -> None:
    bot = make_bot(tmp_path, mail_account, smtp_sink)
    bot.claim()
    assert len(smtp_sink.messages) == 1
    assert sent_folder_mails(mail_account) == []
