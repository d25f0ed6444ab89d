"""No single mail, row or item stops the rest (issue 14): through Dovecot, the SMTP sink and both databases.

Each test starts from a mail a stranger can send (a NUL byte, a name or a Message-ID longer than
its column, an address in Unicode or with a quoted local part, an archived file gone missing) and
checks what the organisation relies on: the claim is registered, the mails around it are read and
acknowledged, and whatever cannot be done is set aside with its reason where the director sees it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_string, policy
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest
from conftest import MailAccount
from e2e import account_config, invoke, register
from mails import make_mail
from servers import SmtpSink
from sqlalchemy import create_engine
from sqlalchemy.exc import DataError

from inboxbot.bootstrap import App, build
from inboxbot.config import load
from inboxbot.domain.cases import OutgoingMail
from inboxbot.outgoing.outbox import NO_SMTPUTF8, SendResult
from inboxbot.outgoing.smtp import SmtpSender
from inboxbot.procedure.pipeline import run_once
from inboxbot.store.repository import Unit

DIRECTOR = "alice@cafemetrie.example"
CRLF = "\r\n"


def raw_mail(*headers: str, body: str = "Bonjour, ma formation a été annulée sans prévenir.") -> bytes:
    """A mail written by hand, for what `make_mail` would refuse to write (NUL, raw UTF-8 addresses)."""
    head = [*headers, "To: " + DIRECTOR, "Date: Mon, 23 Nov 2026 10:00:00 +0100", "MIME-Version: 1.0"]
    if not any(h.lower().startswith("content-type:") for h in headers):
        head += ["Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit"]
    return (CRLF.join(head) + CRLF + CRLF + body + CRLF).encode("utf-8")


def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            return [tuple(row) for row in connection.exec_driver_sql(sql)]
    finally:
        engine.dispose()


def run(config: Path) -> None:
    result = invoke(config, "run", "--once")
    assert result.code == 0, result.err


def acknowledged(sink: SmtpSink) -> list[str]:
    return sorted(rcpt for m in sink.messages for rcpt in m.rcpt_tos if "Accusé" in m.subject)


def history(case: dict[str, Any]) -> list[str]:
    return [event["event"] for event in case["history"]]


# --- item 3: values no column can hold ------------------------------------------------------------

LONG_NAME = "Nom " * 80  # 320 characters, over the 256 of a display name
LONG_ADDRESS = "a" * 330 + "@example.fr"  # over the 320 of an address column
LONG_TYPE = "application/x-" + "y" * 300  # over the 255 of a content type
LONG_ID = "m" * 975 + "@example.fr"  # with the suffix that tells a reused id apart, over 1,000


def values_no_column_can_hold() -> dict[str, bytes]:
    """Name → mail: each one made PostgreSQL raise DataError and stopped the folder for good."""
    return {
        "NUL in the text and the subject": raw_mail(
            "From: nul@example.fr",
            "Subject: =?utf-8?q?R=C3=A9clamation=00_nulle?=",
            "Message-ID: <nul@example.fr>",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: quoted-printable",
            body="Bonjour,=00 ma formation a =C3=A9t=C3=A9 annul=C3=A9e.",
        ),
        "display name over 256": raw_mail(
            f"From: {LONG_NAME.strip()} <nom@example.fr>", "Subject: Réclamation", "Message-ID: <nom@example.fr>"
        ),
        "address over 320": raw_mail(f"From: {LONG_ADDRESS}", "Subject: Réclamation", "Message-ID: <adr@example.fr>"),
        "content type over 255": raw_mail(
            "From: type@example.fr",
            "Subject: Réclamation avec pièce jointe",
            "Message-ID: <type@example.fr>",
            'Content-Type: multipart/mixed; boundary="b"',
            body=CRLF.join(
                [
                    "--b",
                    "Content-Type: text/plain; charset=utf-8",
                    "",
                    "Voir la pièce jointe.",
                    "--b",
                    f"Content-Type: {LONG_TYPE}",
                    'Content-Disposition: attachment; filename="facture.bin"',
                    "",
                    "contenu",
                    "--b--",
                ]
            ),
        ),
        "a Message-ID near 1,000 characters": raw_mail(
            "From: premier@example.fr", "Subject: Réclamation", f"Message-ID: <{LONG_ID}>"
        ),
        "the same Message-ID reused by another mail": raw_mail(
            "From: second@example.fr",
            "Subject: Autre réclamation",
            f"Message-ID: <{LONG_ID}>",
            body="Un tout autre texte.",
        ),
    }


def test_values_no_column_can_hold_are_cleaned_and_clamped_and_every_mail_is_registered(
    tmp_path: Path, mail_account: MailAccount, smtp_sink: SmtpSink, database_url: str
) -> None:
    config = account_config(tmp_path, mail_account, smtp_sink, mode="dedicated", database_url=database_url)
    run(config)  # first meeting
    for raw in values_no_column_can_hold().values():
        mail_account.append(raw)
    run(config)

    cases = {case["claimant"]: case for case in register(config)}
    long_claimant = LONG_ADDRESS[:320]
    assert set(cases) == {
        "nul@example.fr",
        "nom@example.fr",
        long_claimant,
        "type@example.fr",
        "premier@example.fr",
        "second@example.fr",
    }
    assert not query(database_url, "SELECT outcome, reason FROM mails WHERE outcome = 'set_aside'")
    # Acknowledged, each, except the address no mail can carry: the case says so.
    assert acknowledged(smtp_sink) == sorted(set(cases) - {long_claimant})
    assert "failed:acknowledgement" in history(cases[long_claimant])
    assert cases[long_claimant]["acknowledged_at"] is None

    # What was stored is what every database can hold: no NUL, nothing over its column.
    subject, summary = query(database_url, "SELECT subject, summary FROM mails WHERE from_address = 'nul@example.fr'")[
        0
    ]
    assert subject == "Réclamation nulle" and "\x00" not in summary and "annulée" in summary
    (name,) = query(database_url, "SELECT from_name FROM mails WHERE from_address = 'nom@example.fr'")[0]
    assert name == LONG_NAME.strip()[:256]
    (content_type,) = query(database_url, "SELECT content_type FROM attachments")[0]
    assert content_type == LONG_TYPE[:255]
    keys = [key for (key,) in query(database_url, "SELECT message_key FROM mails ORDER BY id")]
    assert len(set(keys)) == len(keys) == 6 and all(len(key) <= 1000 for key in keys)

    # The folder went on: nothing is read twice, and the next mail is read and acknowledged.
    mail_account.append(make_mail("apres@example.fr", DIRECTOR, "Réclamation suivante", "Bonjour"))
    run(config)
    assert len(register(config)) == 7
    assert "apres@example.fr" in acknowledged(smtp_sink)


def test_a_mail_the_database_refuses_is_set_aside_and_the_others_are_registered(
    tmp_path: Path,
    mail_account: MailAccount,
    smtp_sink: SmtpSink,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Whatever value slips past the cleaning, the database refusing it is that one mail's failure."""
    config = account_config(tmp_path, mail_account, smtp_sink, mode="dedicated", database_url=database_url)
    run(config)
    open_case = Unit.open_case

    def refusing(self: Unit, **values: Any) -> Any:
        if "refusée" in values["subject"]:
            raise DataError("INSERT INTO cases ...", {}, Exception("value too long for type character varying"))
        return open_case(self, **values)

    monkeypatch.setattr(Unit, "open_case", refusing)
    for sender, subject in (
        ("avant@example.fr", "Avant"),
        ("refus@example.fr", "Valeur refusée"),
        ("apres@example.fr", "Après"),
    ):
        mail_account.append(make_mail(sender, DIRECTOR, f"Réclamation : {subject}", "Bonjour"))
    run(config)

    assert sorted(case["claimant"] for case in register(config)) == ["apres@example.fr", "avant@example.fr"]
    assert acknowledged(smtp_sink) == ["apres@example.fr", "avant@example.fr"]
    ((uid, reason),) = query(database_url, "SELECT uid, reason FROM mails WHERE outcome = 'set_aside'")
    assert uid == 2 and "DataError" in reason  # the second mail, with what the database said
    run(config)  # the folder moved past it: not read again
    assert len(query(database_url, "SELECT id FROM mails")) == 3


def test_what_was_queued_is_sent_even_when_reading_the_mailbox_fails(
    tmp_path: Path, mail_account: MailAccount, smtp_sink: SmtpSink
) -> None:
    config = account_config(tmp_path, mail_account, smtp_sink, extra="[outbox]\nfirst_retry_seconds = 0\n")
    run(config)
    mail_account.append(make_mail("lea@example.fr", DIRECTOR, "Réclamation", "Bonjour"))
    smtp_sink.refuse(451, times=1)
    run(config)  # the case is opened, its acknowledgement waits for a retry
    assert smtp_sink.messages == []

    config.write_text(config.read_text().replace(f"port = {mail_account.port}", "port = 9"))  # IMAP unreachable
    result = invoke(config, "run", "--once")
    assert result.code != 0  # the cycle failed, and says so
    assert acknowledged(smtp_sink) == ["lea@example.fr"]  # but what waited was sent


def test_the_daemons_cycle_sends_what_was_queued_even_when_reading_the_mailbox_fails(
    tmp_path: Path, mail_account: MailAccount, smtp_sink: SmtpSink
) -> None:
    from inboxbot.cli.daemon import Daemon

    config = account_config(tmp_path, mail_account, smtp_sink, extra="[outbox]\nfirst_retry_seconds = 0\n")
    run(config)
    mail_account.append(make_mail("lea@example.fr", DIRECTOR, "Réclamation", "Bonjour"))
    smtp_sink.refuse(451, times=1)
    run(config)
    assert smtp_sink.messages == []

    config.write_text(config.read_text().replace(f"port = {mail_account.port}", "port = 9"))
    app = build(load(config))
    try:
        Daemon(app).cycle()  # the mail job alone: IMAP refuses, the outbox is sent all the same
    finally:
        app.close()
    assert acknowledged(smtp_sink) == ["lea@example.fr"]


# --- item 2: internationalised addresses ---------------------------------------------------------

INTERNATIONAL = {
    "léa@exemple.fr": "From: léa@exemple.fr",
    "zoé@exemple.fr": "From: Zoé Durand <zoé@exemple.fr>",
    '"jean dupont"@example.fr': 'From: "jean dupont"@example.fr',
    '"jean, d"@example.fr': 'From: Jean <"jean, d"@example.fr>',
}


def append_international(account: MailAccount) -> None:
    for index, from_ in enumerate(INTERNATIONAL.values()):
        account.append(raw_mail(from_, "Subject: Réclamation", f"Message-ID: <intl{index}@example.fr>"))


def test_internationalised_and_quoted_addresses_are_acknowledged_with_smtputf8(
    tmp_path: Path, mail_account: MailAccount, smtp_sink: SmtpSink
) -> None:
    config = account_config(tmp_path, mail_account, smtp_sink, mode="dedicated")
    run(config)
    append_international(mail_account)
    run(config)

    cases = register(config)
    assert sorted(case["claimant"] for case in cases) == sorted(INTERNATIONAL)
    assert all(case["acknowledged_at"] for case in cases)
    received = {m.rcpt_tos[0]: m for m in smtp_sink.messages}
    assert sorted(received) == sorted(INTERNATIONAL)  # each on its own envelope address, as written

    def to(address: str) -> Any:
        """The To header as a client reading an SMTPUTF8 mail (RFC 6532: UTF-8 headers) sees it."""
        return message_from_string(received[address].data.decode("utf-8"), policy=policy.default)["To"].addresses

    assert [(a.display_name, a.addr_spec) for a in to("zoé@exemple.fr")] == [("Zoé Durand", "zoé@exemple.fr")]
    assert [a.addr_spec for a in to("léa@exemple.fr")] == ["léa@exemple.fr"]
    assert [(a.display_name, a.username) for a in to('"jean, d"@example.fr')] == [("Jean", "jean, d")]


def test_without_smtputf8_an_internationalised_address_is_recorded_as_impossible_and_the_rest_is_sent(
    tmp_path: Path, mail_account: MailAccount
) -> None:
    sink = SmtpSink(smtputf8=False)
    sink.start()
    try:
        config = account_config(tmp_path, mail_account, sink, mode="dedicated")
        run(config)
        append_international(mail_account)
        run(config)
        mail_account.append(make_mail("apres@example.fr", DIRECTOR, "Réclamation suivante", "Bonjour"))
        run(config)

        cases = {case["claimant"]: case for case in register(config)}
        assert sorted(cases) == sorted([*INTERNATIONAL, "apres@example.fr"])  # every claim registered
        # The outbox is not jammed: the ASCII addresses, before and after, are acknowledged.
        assert acknowledged(sink) == sorted(['"jean dupont"@example.fr', '"jean, d"@example.fr', "apres@example.fr"])
        for address in ("léa@exemple.fr", "zoé@exemple.fr"):
            assert cases[address]["acknowledged_at"] is None
            assert "failed:acknowledgement" in history(cases[address])
            (failure,) = [e for e in cases[address]["history"] if e["event"] == "failed:acknowledgement"]
            assert "SMTPUTF8" in failure["detail"]
        assert query(load(config).database.url, "SELECT id FROM outbox WHERE status = 'pending'") == []

        config.write_text(config.read_text().replace("enabled = false  # the tests that want it say so", ""))
        digest = invoke(config, "digest", "--print").out
        assert "léa@exemple.fr" in digest and NO_SMTPUTF8 in " ".join(digest.split())
    finally:
        sink.stop()


def test_one_outbox_row_that_cannot_be_sent_is_failed_alone_and_the_others_leave(
    tmp_path: Path, mail_account: MailAccount, smtp_sink: SmtpSink
) -> None:
    """A row written before this check (or by a bug) with an address no command line can carry."""
    config = account_config(tmp_path, mail_account, smtp_sink)
    settings = load(config).smtp
    raw = make_mail(DIRECTOR, "x@example.fr", "Accusé", "Bonjour").decode()
    mails = [
        OutgoingMail(
            id=index,
            message_id=f"m{index}@x",
            recipient=recipient,
            sender=DIRECTOR,
            raw=raw.encode(),
            attempts=0,
            case_id=None,
            purpose="acknowledgement",
        )
        for index, recipient in ((1, "jean dupont@example.fr"), (2, "lea@example.fr"))
    ]
    results: list[SendResult] = []
    SmtpSender(settings).send(mails, results.append)
    assert [(r.outgoing_id, r.accepted, r.permanent) for r in results] == [(1, False, True), (2, True, False)]
    assert [m.rcpt_tos for m in smtp_sink.messages] == [["lea@example.fr"]]


# --- item 6: one item of a scheduled job ---------------------------------------------------------


@dataclass
class Bot:
    """inboxbot with a clock the test moves, built as `run --once` builds it."""

    config: Path
    account: MailAccount
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def cycle(self, later: timedelta = timedelta(0)) -> None:
        self.now += later
        app: App = build(load(self.config), clock=lambda: self.now)
        try:
            run_once(app)
        finally:
            app.close()

    def note_to_self(self, subject: str, body: str, folders: tuple[str, ...]) -> None:
        raw = make_mail(
            f"Alice <{DIRECTOR}>", DIRECTOR, subject, body, message_id=make_msgid(domain="cafemetrie.example")
        )
        for folder in folders:
            self.account.append(raw, folder=folder)


@pytest.fixture
def bot(tmp_path: Path, mail_account: MailAccount, smtp_sink: SmtpSink) -> Iterator[Bot]:
    bot = Bot(account_config(tmp_path, mail_account, smtp_sink, mode="dedicated"), mail_account)
    bot.cycle()
    yield bot


def test_one_failing_follow_up_item_is_set_aside_once_and_the_others_are_sent(
    bot: Bot, smtp_sink: SmtpSink, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bot.account.append(
        raw_mail('From: "jean dupont"@example.fr', "Subject: Réclamation", "Message-ID: <jd@example.fr>")
    )
    bot.account.append(make_mail("lea@example.fr", DIRECTOR, "Réclamation", "Bonjour"))
    bot.cycle()
    numbers = [case["number"] for case in register(bot.config)]
    for number in numbers:
        bot.note_to_self(f"[Dossier {number}]", "#réponse courrier réponse envoyée\n#clore", folders=("Sent", "INBOX"))
    # A mail in her name, with no proof: it waits for proof, and its archived copy goes missing.
    bot.note_to_self("Note", "#ignorer 2026-0001", folders=("INBOX",))
    bot.cycle()
    assert all(case["status"] == "closed" for case in register(bot.config))
    (forged,) = query(load(bot.config).database.url, "SELECT archive_path FROM mails WHERE outcome = 'awaiting_proof'")
    (tmp_path / "archive" / forged[0]).unlink()

    caplog.set_level(logging.WARNING)
    bot.cycle(timedelta(days=8))  # past the grace for proof and the week before asking for feedback
    asked = sorted(r for m in smtp_sink.messages if "avis" in m.subject for r in m.rcpt_tos)
    assert asked == ['"jean dupont"@example.fr', "lea@example.fr"]
    ((outcome, reason),) = query(
        load(bot.config).database.url, f"SELECT outcome, reason FROM mails WHERE archive_path = '{forged[0]}'"
    )
    assert outcome == "suspicious" and "FileNotFoundError" in reason  # listed in the digest as suspicious
    bot.cycle(timedelta(hours=1))
    set_aside = [r for r in caplog.records if "set aside" in r.getMessage()]
    assert len(set_aside) == 1, [r.getMessage() for r in set_aside]  # logged once, not at every cycle
