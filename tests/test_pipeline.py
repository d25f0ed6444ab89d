"""The pipeline's behaviour on an in-memory mailbox and SMTP server (tests/fakes.py): no server, fast.

The same stories run against Dovecot and the aiosmtpd sink in test_end_to_end.py and
test_procedure.py; here they check the logic — dedupe, threading, commands, acknowledgements —
in milliseconds, with the clock pinned to a weekday morning in Paris.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest
from databases import fresh_database_url
from e2e import register, write_config
from fakes import InMemoryMailbox, RecordingSender
from mails import make_mail

from inboxbot.bootstrap import build
from inboxbot.config import load
from inboxbot.procedure.pipeline import run_once

DIRECTOR = "alice@cafemetrie.example"
LEA = "Léa Martin <lea.martin@example.fr>"
TUESDAY_10H_PARIS = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)


class Office:
    """inboxbot on an in-memory mailbox: the test delivers mail and moves the clock."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.now = TUESDAY_10H_PARIS
        self.mailbox = InMemoryMailbox(lambda: self.now)
        self.smtp = RecordingSender()

    def cycle(self, later: timedelta = timedelta(0)) -> None:
        self.now += later
        app = build(load(self.config), clock=lambda: self.now)
        app.mailbox = lambda: self.mailbox  # type: ignore[method-assign]
        app.sender = lambda: self.smtp  # type: ignore[method-assign]
        try:
            run_once(app)
        finally:
            app.close()

    def cases(self) -> list[dict[str, Any]]:
        return register(self.config)

    def note_to_self(self, subject: str, body: str) -> None:
        """Her client's way: a copy in Sent, the delivered one in INBOX."""
        raw = make_mail(
            f"Alice <{DIRECTOR}>", DIRECTOR, subject, body, message_id=make_msgid(domain="cafemetrie.example")
        )
        self.mailbox.deliver(raw, "Sent")
        self.mailbox.deliver(raw)


@pytest.fixture
def office(tmp_path: Path) -> Iterator[Office]:
    config = write_config(
        tmp_path,
        imap_host="127.0.0.1",
        imap_port=9,  # never dialled: the mailbox and the sender are the in-memory ones
        username="alice",
        password="unused",
        smtp_port=9,
        database_url=fresh_database_url(tmp_path),
        address=DIRECTOR,
    )
    office = Office(config)
    office.cycle()  # first meeting with the empty mailbox
    yield office


def claim(message_id: str | None = None) -> bytes:
    return make_mail(
        LEA, DIRECTOR, "Réclamation : attestation non reçue", "Je n'ai toujours rien reçu.", message_id=message_id
    )


def test_a_claim_is_registered_and_acknowledged_once_however_often_it_is_read(office: Office) -> None:
    office.mailbox.deliver(claim())
    office.cycle()
    office.cycle(timedelta(minutes=5))
    (case,) = office.cases()
    assert case["number"] == "2026-0001" and case["claimant"] == "lea.martin@example.fr"
    (ack,) = office.smtp.to("lea.martin@example.fr")
    assert "[Dossier 2026-0001]" in ack.subject


def test_the_register_keeps_what_each_side_wrote_whole(office: Office) -> None:
    long_text = "Je n'ai toujours pas reçu mon attestation. " + "Voici le détail de mes démarches. " * 40
    office.mailbox.deliver(make_mail(LEA, DIRECTOR, "Réclamation : attestation", long_text))
    office.cycle()
    (case,) = office.cases()
    received, sent = case["messages"]
    assert len(long_text) > 1000 and received["text"] == long_text.strip()
    (ack,) = office.smtp.to("lea.martin@example.fr")
    assert sent["direction"] == "out" and sent["text"].split() == ack.text().split()  # the words sent
    assert "2026-0001" in sent["text"]


def test_a_redelivered_copy_of_the_same_mail_stays_one_case(office: Office) -> None:
    raw = claim(message_id=make_msgid(domain="example.fr"))
    office.mailbox.deliver(raw)
    office.mailbox.deliver(raw)
    office.cycle()
    assert len(office.cases()) == 1 and len(office.smtp.to("lea.martin@example.fr")) == 1


def test_the_claimants_reply_joins_her_case_and_is_not_acknowledged_again(office: Office) -> None:
    first = make_msgid(domain="example.fr")
    office.mailbox.deliver(claim(message_id=first))
    office.cycle()
    (ack,) = office.smtp.to("lea.martin@example.fr")
    reply = make_mail(
        LEA,
        DIRECTOR,
        f"Re: {ack.subject}",
        "Voici mon numéro de stagiaire : 4411.",
        in_reply_to=ack.message["Message-ID"],
    )
    office.mailbox.deliver(reply)
    office.cycle(timedelta(hours=1))
    (case,) = office.cases()
    assert [m["direction"] for m in case["messages"]] == ["in", "out", "in"]
    assert "4411" in case["messages"][-1]["text"]
    assert len(office.smtp.to("lea.martin@example.fr")) == 1


def test_an_ordinary_mail_in_the_shared_mailbox_opens_nothing(office: Office) -> None:
    office.mailbox.deliver(make_mail(LEA, DIRECTOR, "Déjeuner jeudi ?", "On se retrouve à midi ?"))
    office.cycle()
    assert office.cases() == [] and office.smtp.sent == []


@pytest.mark.parametrize("subject", ["[Dossier 2026-0001]", "Clôture du dossier 2026-0001"])
def test_her_command_with_its_copy_in_sent_closes_the_case(office: Office, subject: str) -> None:
    office.mailbox.deliver(claim())
    office.cycle()
    (ack,) = office.smtp.to("lea.martin@example.fr")
    answer = make_mail(
        f"Alice <{DIRECTOR}>", "lea.martin@example.fr", f"Re: {ack.subject}", "Votre attestation est jointe."
    )
    office.mailbox.deliver(answer, "Sent")
    office.cycle(timedelta(hours=2))
    office.note_to_self(subject, "#clore attestation envoyée")
    office.cycle(timedelta(hours=3))
    (case,) = office.cases()
    assert case["status"] == "closed" and case["responded_at"] is not None


def test_a_command_in_her_name_without_proof_is_not_obeyed(office: Office) -> None:
    office.mailbox.deliver(claim())
    office.cycle()
    forged = make_mail(f"Alice <{DIRECTOR}>", DIRECTOR, "[Dossier 2026-0001]", "#ignorer")
    office.mailbox.deliver(forged)  # in INBOX only: no copy in her Sent folder, no trusted authentication
    office.cycle(timedelta(hours=2))
    (case,) = office.cases()
    assert case["status"] == "open"


def test_a_refused_acknowledgement_leaves_the_case_registered_and_unacknowledged(office: Office) -> None:
    office.smtp.refuse.add("lea.martin@example.fr")
    office.mailbox.deliver(claim())
    office.cycle()
    office.cycle(timedelta(hours=1))
    (case,) = office.cases()
    assert case["acknowledged_at"] is None and office.smtp.sent == []
