"""The director's own mail about a case: the people she writes to, and her notes to herself.

Through a real Dovecot and SMTP sink, as `inboxbot run --once` runs, with the clock the test moves
(the `Bot` of test_procedure).
"""

from __future__ import annotations

import json
from email.utils import make_msgid
from pathlib import Path

import pytest
from conftest import MailAccount
from e2e import account_config, invoke
from mails import make_mail
from servers import SmtpSink
from test_procedure import DIRECTOR, Bot

TRAINER = "Marc Formateur <marc.formateur@exemple.fr>"
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@pytest.fixture
def bot(tmp_path: Path, mail_account: MailAccount, smtp_sink: SmtpSink) -> Bot:
    made = Bot(account_config(tmp_path, mail_account, smtp_sink, address=DIRECTOR), mail_account, smtp_sink)
    made.cycle()  # first meeting with the empty mailbox
    return made


def her_mail_to_the_trainer(bot: Bot, subject: str = "[Dossier 2026-0001] Session de Lyon") -> str:
    """What her client files in Sent when she writes to the trainer about the case; its Message-ID."""
    message_id = make_msgid(domain="cafemetrie.example")
    bot.account.append(
        make_mail(
            f"Alice <{DIRECTOR}>",
            TRAINER,
            subject,
            "Bonjour Marc, pouvez-vous me dire si les attestations ont été remises ?",
            message_id=message_id,
        ),
        folder="Sent",
    )
    bot.cycle()
    return message_id


def test_the_trainer_she_wrote_to_about_a_case_answers_into_it(bot: Bot) -> None:
    bot.claim()
    asked = her_mail_to_the_trainer(bot)
    # His reply threads under her mail; then a second one that only keeps the case's tag.
    bot.account.append(
        make_mail(
            TRAINER,
            DIRECTOR,
            "RE: [Dossier 2026-0001] Session de Lyon",
            "Non, je suis désolé, les attestations n'ont pas été remises : un oubli de ma part, inadmissible.",
            in_reply_to=asked,
            references=[asked],
        )
    )
    bot.account.append(
        make_mail(
            TRAINER, DIRECTOR, "[Dossier 2026-0001] complément", "Je réclame une correction : je les envoie demain."
        )
    )
    bot.cycle()
    case = bot.case()
    replies = [m for m in case["messages"] if m["from"] == "marc.formateur@exemple.fr"]
    assert len(replies) == 2 and {m["direction"] for m in replies} == {"in"}
    assert len(bot.cases()) == 1  # not a new complaint, despite its words
    mails = json.loads(invoke(bot.config, "mails", "list", "--json").out)
    assert [m["outcome"] for m in mails if m["from"] == "marc.formateur@exemple.fr"] == ["attached", "attached"]
    assert "À qualifier" not in bot.digest()
    assert not bot.sent_to("marc.formateur@exemple.fr")  # nor acknowledged


def test_a_stranger_using_the_tag_of_a_case_she_wrote_about_stays_out_of_it(bot: Bot) -> None:
    """Only whom she wrote to joins: another address at the trainer's domain does not."""
    bot.claim()
    her_mail_to_the_trainer(bot)
    bot.account.append(
        make_mail("Autre <autre@exemple.fr>", DIRECTOR, "[Dossier 2026-0001] Session de Lyon", "Texte étranger.")
    )
    bot.cycle()
    assert not [m for m in bot.case()["messages"] if "étranger" in m["text"]]


def test_her_note_to_herself_joins_the_case_with_its_attachment(bot: Bot) -> None:
    bot.claim()
    message_id = make_msgid(domain="cafemetrie.example")
    raw = make_mail(
        f"Alice <{DIRECTOR}>",
        DIRECTOR,
        "[Dossier 2026-0001] compte rendu d'appel",
        "Appel de Léa ce matin : elle accepte une attestation corrigée.",
        message_id=message_id,
        attachments=[("compte-rendu.pdf", PDF, "application/pdf")],
    )
    for folder in ("Sent", "INBOX"):  # her client files a copy; the server delivers the other
        bot.account.append(raw, folder=folder)
    bot.cycle()
    case = bot.case()
    (note,) = [m for m in case["messages"] if "attestation corrigée" in m["text"]]
    assert note["note"] == "note by the director"
    assert not [m for m in bot.sink.messages if "Commandes" in m.subject]  # not run as commands
    shown = invoke(bot.config, "cases", "show", "2026-0001").out
    assert "note de la directrice" in shown and "compte-rendu.pdf" in shown
    site = bot.config.parent / "site"
    assert invoke(bot.config, "register", "export", "--format", "html", "--output", str(site)).code == 0
    page = (site / "dossiers" / "2026-0001.html").read_text(encoding="utf-8")
    assert "Note de la directrice" in page and "compte-rendu.pdf" in page
    (pdf,) = [p for p in site.rglob("*compte-rendu.pdf")]
    assert pdf.read_bytes() == PDF


def test_her_note_seen_first_in_the_inbox_keeps_its_attachment_once_proven(bot: Bot) -> None:
    """The delivered copy waits for proof; its copy in Sent, a cycle later, brings it into the case
    with its attachment."""
    bot.claim()
    raw = make_mail(
        f"Alice <{DIRECTOR}>",
        DIRECTOR,
        "Dossier n° 2026-0001 : devis du traiteur",
        "Le devis transmis par le traiteur.",
        attachments=[("devis.pdf", PDF, "application/pdf")],
    )
    bot.account.append(raw)
    bot.cycle()
    bot.account.append(raw, folder="Sent")
    bot.cycle()
    shown = invoke(bot.config, "cases", "show", "2026-0001").out
    assert "devis transmis" in shown and "devis.pdf" in shown
