"""A claim passed on (issue 16): dated by when the organisation received it, owned by its author.

The director forwards to herself, with [RECLAMATION], a mail she received: the case is the
original's (its author, its channel, the server's reception of it, found in her mailbox), not one
« transmise par un tiers » dated at the forward. A trainer, a venue or a partner who forwards a
claim to the organisation's address is its transmitter: the author is acknowledged, the
transmitter thanked. Through a real Dovecot and SMTP sink, with the clock pinned.
"""

from __future__ import annotations

import email
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import pytest
from conftest import MailAccount
from e2e import invoke
from mails import make_mail
from servers import SmtpSink
from test_accounts import make_bot
from test_procedure import DIRECTOR, PARIS, Bot, text_of

LEA_ADDRESS = "lea.martin@example.fr"
LEA = f"Léa Martin <{LEA_ADDRESS}>"
TRAINER = "paul.formateur@example.net"
COMPLAINT = "Bonjour,\n\nLa salle était glaciale toute la journée, c'est inadmissible. Je demande un geste.\n"
# When Léa's mail reached the mailbox, weeks before the forward, and the Date her client wrote.
ORIGINAL_AT = datetime(2026, 11, 20, 9, 30, 12, tzinfo=PARIS)
ORIGINAL_DATE = ORIGINAL_AT - timedelta(seconds=40)


def original(message_id: str | None = None, subject: str = "Plainte sur la salle") -> tuple[bytes, str]:
    message_id = message_id or make_msgid(domain="example.fr")
    return make_mail(LEA, DIRECTOR, subject, COMPLAINT, message_id=message_id, date=ORIGINAL_DATE), message_id


def attached_forward(sender: str, to: str, subject: str, note: str, attached: bytes) -> bytes:
    """Forward as attachment (Thunderbird's « Transférer en tant que pièce jointe », Outlook's)."""
    message = EmailMessage(policy=policy.SMTP)
    message["From"], message["To"], message["Subject"] = sender, to, subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain="cafemetrie.example")
    message.set_content(note, charset="utf-8")
    message.add_attachment(email.message_from_bytes(attached, policy=policy.SMTP))
    return message.as_bytes(policy=policy.SMTP)


# How three clients write an inline forward of Léa's mail, as the director sends it.
INLINE = {
    "gmail": (
        "---------- Forwarded message ---------\n"
        f"De : Léa Martin <{LEA_ADDRESS}>\n"
        "Date: ven. 20 nov. 2026 à 09:29\n"
        "Subject: Plainte sur la salle\n"
        f"To: <{DIRECTOR}>\n\n"
    ),
    "thunderbird": (
        "-------- Message transféré --------\n"
        "Sujet : \tPlainte sur la salle\n"
        "Date : \tFri, 20 Nov 2026 09:29:32 +0100\n"
        f"De : \tLéa Martin <{LEA_ADDRESS}>\n"
        f"Pour : \t{DIRECTOR}\n\n"
    ),
    "outlook": (
        "________________________________\n"
        f"De : Léa Martin <{LEA_ADDRESS}>\n"
        "Envoyé : vendredi 20 novembre 2026 09:29\n"
        f"À : {DIRECTOR}\n"
        "Objet : Plainte sur la salle\n\n"
    ),
}


def forward_inline(client: str) -> str:
    return "À enregistrer.\n\n" + INLINE[client] + COMPLAINT


@pytest.fixture
def bot_factory(tmp_path: Path, smtp_sink: SmtpSink) -> Callable[..., Bot]:
    """inboxbot meeting `account` for the first time (what is there already is left alone)."""
    return lambda account, extra="", imap_extra="": make_bot(
        tmp_path, account, smtp_sink, imap_extra=imap_extra, extra=extra
    )


@pytest.fixture
def bot(bot_factory: Callable[..., Bot], mail_account: MailAccount) -> Bot:
    return bot_factory(mail_account)


@pytest.fixture
def bot_with_old_mail(bot_factory: Callable[..., Bot], mail_account: MailAccount) -> tuple[Bot, str]:
    """A mailbox where Léa's complaint arrived before inboxbot's first start: it was never read."""
    raw, message_id = original()
    mail_account.append(raw, internaldate=ORIGINAL_AT)
    mail_account.append(make_mail("Autre <autre@example.fr>", DIRECTOR, "Plainte sur la salle", "Autre chose."))
    return bot_factory(mail_account), message_id


def first_exchange(bot: Bot) -> dict[str, object]:
    messages: list[dict[str, object]] = bot.case()["messages"]
    return messages[0]


def test_her_attached_forward_is_dated_by_the_originals_reception_in_her_mailbox(
    bot_with_old_mail: tuple[Bot, str],
) -> None:
    bot, message_id = bot_with_old_mail
    raw, _ = original(message_id)
    forward = attached_forward(f"Alice <{DIRECTOR}>", DIRECTOR, "TR: [RECLAMATION] Plainte sur la salle", "", raw)
    bot.account.append(forward, folder="Sent")
    bot.account.append(forward)
    bot.cycle()
    (case,) = bot.cases()
    assert case["claimant"] == LEA_ADDRESS and case["channel"] == "email" and case["transmitter"] is None
    assert datetime.fromisoformat(case["received_at"]) == ORIGINAL_AT
    assert case["received_from"] is None
    # The 15 working days run from the original's reception, not from the forward.
    assert case["acknowledge_due"] == "2026-12-11"
    # The exchange log starts with Léa's own mail, as the server received it, archived.
    first = first_exchange(bot)
    assert first["from"] == LEA_ADDRESS and datetime.fromisoformat(str(first["date"])) == ORIGINAL_AT
    assert "glaciale" in str(first["text"]) and first["archive"]
    (ack,) = bot.sent_to(LEA_ADDRESS)
    assert "Accusé de réception" in ack.subject and "20 novembre 2026" in text_of(ack.message)
    assert not [m for m in bot.sink.messages if m.rcpt_tos != [LEA_ADDRESS] and "Commandes" not in m.subject]
    history = {e["event"]: e["detail"] for e in case["history"]}
    assert "INBOX" in history["original-found"]
    # The original, read now for the case, is not read again as new mail.
    bot.cycle()
    assert len(bot.cases()) == 1 and len(bot.sent_to(LEA_ADDRESS)) == 1


@pytest.mark.parametrize("client", sorted(INLINE))
def test_her_inline_forward_finds_the_original_by_author_subject_and_date(
    bot_with_old_mail: tuple[Bot, str], client: str
) -> None:
    bot, _ = bot_with_old_mail
    bot.note_to_self("TR: [RECLAMATION] Plainte sur la salle", forward_inline(client))
    bot.cycle()
    (case,) = bot.cases()
    assert (case["claimant"], case["channel"], case["received_from"]) == (LEA_ADDRESS, "email", None)
    assert datetime.fromisoformat(case["received_at"]) == ORIGINAL_AT
    assert first_exchange(bot)["from"] == LEA_ADDRESS
    assert len(bot.sent_to(LEA_ADDRESS)) == 1


def test_an_original_inboxbot_already_read_joins_the_case_it_opens(bot: Bot) -> None:
    """Read on arrival and left alone (nothing in it said « réclamation » for sure), then forwarded."""
    sent = bot.now - timedelta(hours=3)
    raw = make_mail(LEA, DIRECTOR, "La salle", "Bonjour, la salle était froide hier.", date=sent)
    bot.account.append(raw, internaldate=sent + timedelta(seconds=30))
    bot.cycle()
    assert bot.cases() == []
    (read,) = json.loads(invoke(bot.config, "mails", "list", "--json").out)
    block = (
        "---------- Forwarded message ---------\n"
        f"From: Léa Martin <{LEA_ADDRESS}>\n"
        f"Date: {sent.astimezone(PARIS):%d/%m/%Y %H:%M}\n"
        "Subject: La salle\n\n"
        "Bonjour, la salle était froide hier.\n"
    )
    bot.note_to_self("TR: [RECLAMATION] La salle", block)
    bot.cycle(timedelta(minutes=1))
    (case,) = bot.cases()
    assert case["received_at"] == read["received_at"] and case["received_from"] is None
    assert case["channel"] == "email" and first_exchange(bot)["from"] == LEA_ADDRESS
    records = json.loads(invoke(bot.config, "mails", "list", "--json").out)
    assert [r["outcome"] for r in records if r["from"] == LEA_ADDRESS] == ["opened"]


def test_an_original_nowhere_to_be_found_is_dated_by_its_header_and_says_so(bot: Bot) -> None:
    bot.note_to_self("TR: [RECLAMATION] Plainte sur la salle", forward_inline("thunderbird"))
    bot.cycle()
    (case,) = bot.cases()
    assert case["claimant"] == LEA_ADDRESS and case["channel"] == "email"
    assert datetime.fromisoformat(case["received_at"]) == datetime(2026, 11, 20, 9, 29, 32, tzinfo=PARIS)
    assert case["received_from"] == "forwarded_header"
    shown = invoke(bot.config, "cases", "show", case["number"]).out
    assert "en-tête du message transféré" in shown and "date de réception d'après l'en-tête transféré" in shown
    csv = invoke(bot.config, "register", "export", "--format", "csv").out
    assert "Date de réception établie d'après" in csv and "en-tête du message transféré" in csv
    # The log starts with the copy her forward holds, Léa's words dated by their header.
    first = first_exchange(bot)
    assert first["from"] == LEA_ADDRESS and "glaciale" in str(first["text"])
    assert len(bot.sent_to(LEA_ADDRESS)) == 1
    # She corrects the date: it is hers now, no longer read from a header.
    bot.note_to_self(f"[Dossier {case['number']}]", "#reçu 19/11/2026 17:00")
    bot.cycle(timedelta(minutes=1))
    assert bot.case()["received_from"] is None


def test_a_trainer_who_forwards_a_claim_is_its_transmitter_and_is_thanked(
    bot_factory: Callable[..., Bot], mail_account: MailAccount
) -> None:
    bot = bot_factory(mail_account, extra=f'[people]\ntrainers = ["{TRAINER}"]')
    raw, _ = original()
    forward = attached_forward(f"Paul <{TRAINER}>", DIRECTOR, "TR: Réclamation de Léa", "Pour suite à donner.", raw)
    bot.account.append(forward, internaldate=bot.now - timedelta(minutes=5))
    bot.cycle()
    (case,) = bot.cases()
    assert (case["claimant"], case["channel"], case["transmitter"]) == (LEA_ADDRESS, "third_party", TRAINER)
    # Received when the organisation received it: when the trainer passed it on.
    received = datetime.fromisoformat(case["received_at"])
    assert received.replace(microsecond=0) == (bot.now - timedelta(minutes=5)).replace(microsecond=0)
    assert case["received_from"] is None
    (ack,) = bot.sent_to(LEA_ADDRESS)
    assert "transmise" in text_of(ack.message)
    (thanks,) = bot.sent_to(TRAINER)
    assert "Merci de nous avoir transmis" in thanks.subject
    body = text_of(thanks.message)
    assert case["number"] in body and "Léa Martin" in body and "glaciale" not in body
    assert thanks.message["In-Reply-To"] and thanks.message["Auto-Submitted"] == "auto-replied"


def test_a_venue_passing_a_claim_on_in_its_own_words_is_its_transmitter(bot: Bot) -> None:
    """No rule, no config: the recognizer reads the claim in the forwarded mail, not in the note."""
    note = (
        "Bonjour Alice,\nune stagiaire nous a remis ceci à l'accueil, je vous le transmets.\n\n"
        + INLINE["gmail"].replace(f"To: <{DIRECTOR}>", "To: <accueil@lieu.example>")
        + COMPLAINT
    )
    bot.account.append(make_mail("Accueil du lieu <accueil@lieu.example>", DIRECTOR, "TR: Plainte sur la salle", note))
    bot.cycle()
    (case,) = bot.cases()
    assert (case["claimant"], case["channel"]) == (LEA_ADDRESS, "third_party")
    assert case["transmitter"] == "accueil@lieu.example"
    assert len(bot.sent_to(LEA_ADDRESS)) == 1 and len(bot.sent_to("accueil@lieu.example")) == 1


@pytest.mark.parametrize("on_words", [False, True], ids=["as shipped", "open_on_words"])
def test_a_claimant_forwarding_evidence_of_her_own_grievance_stays_the_claimant(
    bot_factory: Callable[..., Bot], mail_account: MailAccount, on_words: bool
) -> None:
    """Her clear grievance is hers whether it opens by itself (`open_on_words`) or is put before the
    director first: never a transmission of the trainer's forwarded reply."""
    bot = bot_factory(mail_account, imap_extra="open_on_words = true" if on_words else "")
    evidence = (
        "Voici ce que le formateur m'a répondu, c'est inadmissible, je veux être remboursée.\n\n"
        "---------- Forwarded message ---------\n"
        f"From: Paul <{TRAINER}>\n"
        "Date: ven. 20 nov. 2026 à 09:29\n"
        "Subject: Re: salle\n\n"
        "La salle était bien chauffée, je vous assure.\n"
    )
    bot.account.append(make_mail(LEA, DIRECTOR, "TR: Re: salle", evidence))
    bot.cycle()
    if not on_words:
        assert bot.cases() == []
        (candidate,) = json.loads(invoke(bot.config, "mails", "list", "--outcome", "candidate", "--json").out)
        assert candidate["from"] == LEA_ADDRESS
        bot.note_to_self("Qualification", f"#ouvrir {candidate['reference']}")
        bot.cycle(timedelta(minutes=1))
    (case,) = bot.cases()
    assert (case["claimant"], case["channel"], case["transmitter"]) == (LEA_ADDRESS, "email", None)
    assert not bot.sent_to(TRAINER)


HOSTILE = {
    "no author address": "---------- Forwarded message ---------\nFrom: Léa Martin\nDate: 20/11/2026 09:29\nSubject: Plainte\n\n",
    "author is the director": (
        f"---------- Forwarded message ---------\nFrom: Alice <{DIRECTOR}>\nDate: 20/11/2026 09:29\nSubject: Plainte\n\n"
    ),
    "author is the forwarder": (
        "---------- Forwarded message ---------\nFrom: Accueil <ACCUEIL@lieu.example>\n"
        "Date: 20/11/2026 09:29\nSubject: Plainte\n\n"
    ),
    "non-ASCII address": (
        "---------- Forwarded message ---------\nFrom: Zoé <zoé@exemple.fr>\nDate: 20/11/2026 09:29\nSubject: Plainte\n\n"
    ),
    "header line of 200,000 characters": (
        "---------- Forwarded message ---------\nFrom: Léa <"
        + "a" * 200_000
        + "@example.fr>\nDate: 20/11/2026 09:29\nSubject: Plainte\n\n"
    ),
    "date in the future, forged Message-ID": (
        "---------- Forwarded message ---------\nFrom: Léa <lea.martin@example.fr>\nDate: 20/11/2036 09:29\n"
        'Message-ID: <x" OR ALL\r\nA1 LOGOUT>\nSubject: Plainte\n\n'
    ),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_forwards_never_crash_nor_mail_a_bad_address(bot: Bot, name: str) -> None:
    block = HOSTILE[name]
    note = "Je vous transmets ceci reçu à l'accueil.\n\n" + block + COMPLAINT
    bot.account.append(make_mail("Accueil <accueil@lieu.example>", DIRECTOR, "TR: Réclamation", note))
    bot.note_to_self("TR: [RECLAMATION] Plainte", "À enregistrer.\n\n" + block + COMPLAINT)
    bot.cycle()
    listed = invoke(bot.config, "mails", "list").out
    assert "set_aside" not in listed, listed
    cases = bot.cases()
    assert len(cases) == 2
    recipients = {r for m in bot.sink.messages for r in m.rcpt_tos}
    # An internationalised address is an address (SMTPUTF8): its author is acknowledged.
    assert recipients <= {DIRECTOR, "accueil@lieu.example", LEA_ADDRESS, "zoé@exemple.fr"}, recipients
    for case in cases:
        assert case["claimant"] != DIRECTOR
        assert case["claimant"] is None or len(case["claimant"]) < 320
        assert case["received_at"] <= datetime.now(UTC).astimezone(PARIS).isoformat()


def test_a_claim_passed_on_that_she_qualifies_keeps_its_transmitter(bot: Bot) -> None:
    """Possible only (« mécontente »): put before her; #ouvrir opens it for its author, thanks the venue."""
    note = (
        "Bonjour, je vous fais suivre ce message.\n\n"
        "---------- Forwarded message ---------\n"
        f"From: Léa Martin <{LEA_ADDRESS}>\n"
        "Date: 20/11/2026 09:29\n"
        "Subject: La salle\n\n"
        "Je suis très mécontente de la salle.\n"
    )
    bot.account.append(make_mail("Accueil <accueil@lieu.example>", DIRECTOR, "TR: La salle", note))
    bot.cycle()
    assert bot.cases() == [] and not bot.sink.messages
    (candidate,) = json.loads(invoke(bot.config, "mails", "list", "--outcome", "candidate", "--json").out)
    bot.note_to_self("Qualification", f"#ouvrir {candidate['reference']}")
    bot.cycle(timedelta(minutes=1))
    (case,) = bot.cases()
    assert (case["claimant"], case["channel"]) == (LEA_ADDRESS, "third_party")
    assert case["transmitter"] == "accueil@lieu.example"
    assert len(bot.sent_to(LEA_ADDRESS)) == 1 and len(bot.sent_to("accueil@lieu.example")) == 1


def test_her_forward_of_a_mail_already_in_a_case_joins_that_case(bot: Bot) -> None:
    raw, _ = original(subject="Réclamation : la salle")
    bot.account.append(raw)
    bot.cycle()
    (case,) = bot.cases()
    forward = attached_forward(f"Alice <{DIRECTOR}>", DIRECTOR, "TR: [RECLAMATION] Réclamation : la salle", "", raw)
    bot.account.append(forward, folder="Sent")
    bot.cycle(timedelta(minutes=1))
    (again,) = bot.cases()
    assert again["number"] == case["number"] and again["received_at"] == case["received_at"]
    assert [m["from"] for m in again["messages"] if m["direction"] == "in"] == [LEA_ADDRESS, DIRECTOR]
    assert len(bot.sent_to(LEA_ADDRESS)) == 1


def test_her_forward_of_a_venues_forward_is_the_claimants_passed_on_by_the_venue(
    bot_factory: Callable[..., Bot], mail_account: MailAccount
) -> None:
    """A forward of a forward: the venue's mail (before inboxbot's first start) passed Léa's claim on."""
    relayed = (
        "Bonjour Alice, une stagiaire nous a remis ceci, je vous le transmets.\n\n"
        + INLINE["gmail"].replace(f"To: <{DIRECTOR}>", "To: <accueil@lieu.example>")
        + COMPLAINT
    )
    venue_mail = make_mail("Accueil <accueil@lieu.example>", DIRECTOR, "TR: Plainte sur la salle", relayed)
    mail_account.append(venue_mail, internaldate=ORIGINAL_AT + timedelta(days=1))
    bot = bot_factory(mail_account)
    forward = attached_forward(f"Alice <{DIRECTOR}>", DIRECTOR, "TR: [RECLAMATION] TR: Plainte", "", venue_mail)
    bot.account.append(forward, folder="Sent")
    bot.cycle()
    (case,) = bot.cases()
    assert (case["claimant"], case["channel"]) == (LEA_ADDRESS, "third_party")
    assert case["transmitter"] == "accueil@lieu.example"
    assert datetime.fromisoformat(case["received_at"]) == ORIGINAL_AT + timedelta(days=1)
    assert len(bot.sent_to(LEA_ADDRESS)) == 1


def test_an_attached_original_whose_message_id_names_another_authors_mail_is_not_taken_for_it(
    bot_with_old_mail: tuple[Bot, str],
) -> None:
    bot, message_id = bot_with_old_mail
    forged = make_mail(
        "Autre <autre@example.fr>", DIRECTOR, "Plainte", COMPLAINT, message_id=message_id, date=ORIGINAL_DATE
    )
    forward = attached_forward(f"Alice <{DIRECTOR}>", DIRECTOR, "TR: [RECLAMATION] Plainte", "", forged)
    bot.account.append(forward, folder="Sent")
    bot.cycle()
    (case,) = bot.cases()
    assert case["claimant"] == "autre@example.fr" and case["received_from"] == "forwarded_header"
