"""The pipeline end to end: real Dovecot, real SMTP sink, SQLite and PostgreSQL, the `inboxbot` command.

Each test starts from a fresh mailbox, a fresh sink and an empty database, writes a config file the
way a user would, drives `inboxbot run --once` and reads back what was sent and what the register
holds.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import make_msgid
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import MailAccount
from e2e import account_config, invoke, invoke_subprocess, register
from mails import make_mail, tnef_stream
from servers import ReceivedMessage, SmtpSink

PARIS = ZoneInfo("Europe/Paris")
DIRECTOR = "alice@cafemetrie.example"
LEA = "Léa Martin <lea.martin@example.fr>"

ConfigFactory = Callable[..., Path]


@pytest.fixture
def make_config(tmp_path: Path, mail_account: MailAccount, smtp_sink: SmtpSink) -> ConfigFactory:
    def make(database_url: str | None = None, **options: str) -> Path:
        if database_url is not None:
            options["database_url"] = database_url
        return account_config(tmp_path, mail_account, smtp_sink, **options)

    return make


def run_once(config: Path) -> None:
    result = invoke(config, "run", "--once")
    assert result.code == 0, result.err


def first_meeting(config: Path) -> None:
    """The first run meets the empty mailbox; mail appended afterwards is new mail."""
    run_once(config)


def acknowledged_claim(config: Path, account: MailAccount, sink: SmtpSink) -> ReceivedMessage:
    """Lea's complaint, registered as case 2026-0001 and acknowledged: the start of most stories."""
    first_meeting(config)
    account.append(complaint())
    run_once(config)
    (ack,) = sink.wait_for(1)
    return ack


def complaint(subject: str = "Réclamation : attestation de formation non reçue", **options: object) -> bytes:
    return make_mail(
        LEA,
        DIRECTOR,
        subject,
        "Bonjour,\n\nJe n'ai toujours pas reçu mon attestation de fin de formation.\n\nLéa Martin",
        **options,  # type: ignore[arg-type]
    )


def test_a_complaint_becomes_a_case_and_is_acknowledged(
    make_config: ConfigFactory, mail_account: MailAccount, smtp_sink: SmtpSink, database_url: str
) -> None:
    config = make_config(database_url)
    first_meeting(config)
    message_id = make_msgid(domain="example.fr")
    # The server received it on Friday 19 December 2025 at 17:00 in Paris (Dovecot refuses an
    # arrival date in the future); the sender's own Date header says otherwise and is not believed.
    arrived = datetime(2025, 12, 19, 17, 0, tzinfo=PARIS)
    mail_account.append(
        complaint(message_id=message_id, date=datetime(2025, 12, 1, 8, 0, tzinfo=UTC)), internaldate=arrived
    )

    result = invoke_subprocess(config, "run", "--once")
    assert result.code == 0, result.err

    (sent,) = smtp_sink.wait_for(1)
    assert sent.rcpt_tos == ["lea.martin@example.fr"]
    assert sent.mail_from == DIRECTOR
    message = sent.message
    assert "[Dossier 2025-0001]" in message["Subject"]  # numbered in the year it was received
    assert "Accusé de réception" in message["Subject"]
    assert message["In-Reply-To"] == message_id
    assert message_id in message["References"]
    assert message["Auto-Submitted"] == "auto-replied"
    assert message["X-Inboxbot-Loop"]
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    for body in (text, html):
        assert "2025-0001" in body
        assert "19 décembre 2025 à 17:00" in body
        assert "vendredi 16 janvier 2026" in body  # 30 days after reception is a Sunday: the Friday before

    (case,) = register(config)
    assert case["number"] == "2025-0001"
    assert case["kind"] == "reclamation" and case["status"] == "open" and case["channel"] == "email"
    assert case["claimant"] == "lea.martin@example.fr"
    assert case["subject"] == "Réclamation : attestation de formation non reçue"
    assert case["received_at"] == "2025-12-19T17:00:00+01:00"
    # 15 working days counted across Christmas and New Year's Day (26 December is worked in France).
    assert case["acknowledge_due"] == "2026-01-13"
    assert case["response_due"] == "2026-01-16"
    assert case["acknowledged_at"] is not None
    assert case["responded_at"] is None and case["closed_at"] is None
    assert any("complaint" in rule for rule in case["rules"])
    directions = [(m["direction"], m["message_id"]) for m in case["messages"]]
    assert directions == [("in", message_id.strip("<>")), ("out", message["Message-ID"].strip("<>"))]

    # The director's mailbox is untouched: nothing marked read.
    with mail_account.client() as client:
        client.select_folder("INBOX", readonly=True)
        flags = client.get_flags(client.search(["ALL"]))
    assert all(b"\\Seen" not in f for f in flags.values())


def test_replies_from_any_client_land_in_the_case(
    make_config: ConfigFactory, mail_account: MailAccount, smtp_sink: SmtpSink, database_url: str
) -> None:
    config = make_config(database_url)
    first_meeting(config)
    original = make_msgid(domain="example.fr")
    mail_account.append(complaint(message_id=original))
    run_once(config)
    (ack,) = smtp_sink.wait_for(1)
    ack_id = ack.message["Message-ID"]

    # Threaded by In-Reply-To to our acknowledgement (Thunderbird, Gmail, Apple Mail...).
    mail_account.append(
        make_mail(LEA, DIRECTOR, f"RE : {ack.subject}", "Merci.", in_reply_to=ack_id, references=[original, ack_id])
    )
    # Threaded by References only, to her own first mail (some phones drop In-Reply-To).
    mail_account.append(make_mail(LEA, DIRECTOR, "Re: attestation", "Une précision.", references=[original]))
    # No threading headers at all, only the tag, with a French prefix and a no-break space.
    mail_account.append(make_mail(LEA, DIRECTOR, "TR\u00a0: RE : [Dossier 2026-0001] attestation", "Encore moi."))
    run_once(config)

    (case,) = register(config)
    incoming = [m for m in case["messages"] if m["direction"] == "in"]
    assert len(incoming) == 4
    assert len(smtp_sink.messages) == 1  # a reply is never acknowledged again


def test_the_tag_alone_does_not_let_a_stranger_into_a_case(
    make_config: ConfigFactory, mail_account: MailAccount, smtp_sink: SmtpSink
) -> None:
    config = make_config()
    acknowledged_claim(config, mail_account, smtp_sink)
    mail_account.append(
        make_mail("Intrus <intrus@example.com>", DIRECTOR, "RE: [Dossier 2026-0001] une autre réclamation", "Bonjour")
    )
    run_once(config)
    first, second = register(config)
    assert [m["from"] for m in first["messages"] if m["direction"] == "in"] == ["lea.martin@example.fr"]
    assert second["claimant"] == "intrus@example.com" and second["number"] == "2026-0002"


def test_running_again_neither_loses_nor_doubles(
    make_config: ConfigFactory, mail_account: MailAccount, smtp_sink: SmtpSink, database_url: str
) -> None:
    config = make_config(database_url)
    first_meeting(config)
    message_id = make_msgid(domain="example.fr")
    mail_account.append(complaint(message_id=message_id))
    for _ in range(3):
        run_once(config)
    # The same mail delivered a second time (a copy, a re-delivery) is the same claim.
    mail_account.append(complaint(message_id=message_id))
    run_once(config)
    assert len(register(config)) == 1
    assert len(smtp_sink.messages) == 1


def test_shared_mode_only_takes_what_the_rules_claim(
    make_config: ConfigFactory, mail_account: MailAccount, smtp_sink: SmtpSink
) -> None:
    config = make_config(mode="shared")
    first_meeting(config)
    mail_account.append(make_mail("Paul <paul@example.fr>", DIRECTOR, "Déjeuner jeudi ?", "On se voit ?"))
    mail_account.append(
        make_mail("Formateur <marc@example.fr>", DIRECTOR, "[ALÉA] Salle inaccessible", "Dégât des eaux.")
    )
    mail_account.append(make_mail("Formatrice <eve@example.fr>", DIRECTOR, "[DIFFICULTE] Vidéoprojecteur", "En panne."))
    mail_account.append(make_mail(LEA, DIRECTOR, "Une plainte concernant la session", "Bonjour"))
    run_once(config)
    cases = register(config)
    assert [(c["kind"], c["claimant"]) for c in cases] == [
        ("alea", "marc@example.fr"),
        ("difficulte", "eve@example.fr"),
        ("reclamation", "lea.martin@example.fr"),
    ]
    subjects = sorted(m.subject for m in smtp_sink.wait_for(3))
    assert sum("Signalement enregistré" in s for s in subjects) == 2
    assert sum("Accusé de réception" in s for s in subjects) == 1


def test_dedicated_mode_takes_every_human_mail(
    make_config: ConfigFactory, mail_account: MailAccount, smtp_sink: SmtpSink
) -> None:
    config = make_config(mode="dedicated")
    first_meeting(config)
    mail_account.append(make_mail("Paul <paul@example.fr>", DIRECTOR, "Question sur ma session", "Bonjour"))
    mail_account.append(
        make_mail(
            "News <news@example.com>",
            DIRECTOR,
            "Offres",
            "Promo",
            extra_headers={"List-Unsubscribe": "<mailto:u@example.com>"},
        )
    )
    run_once(config)
    (case,) = register(config)
    assert case["claimant"] == "paul@example.fr"
    assert len(smtp_sink.wait_for(1)) == 1


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto-Submitted": "auto-replied"},
        {"Precedence": "bulk"},
        {"X-Autoreply": "yes"},
        {"List-Id": "<formations.example.com>"},
        {"Return-Path": "<>"},
    ],
)
def test_automatic_mail_is_never_acknowledged(
    make_config: ConfigFactory, mail_account: MailAccount, smtp_sink: SmtpSink, headers: dict[str, str]
) -> None:
    config = make_config(mode="dedicated")
    first_meeting(config)
    mail_account.append(make_mail(LEA, DIRECTOR, "Réclamation automatique", "Absent du bureau.", extra_headers=headers))
    run_once(config)
    assert register(config) == []
    assert smtp_sink.messages == []


def test_an_out_of_office_reply_to_our_acknowledgement_is_logged_on_the_case_without_reply(
    make_config: ConfigFactory, mail_account: MailAccount, smtp_sink: SmtpSink
) -> None:
    config = make_config()
    ack = acknowledged_claim(config, mail_account, smtp_sink)
    mail_account.append(
        make_mail(
            LEA,
            DIRECTOR,
            f"Réponse automatique : {ack.subject}",
            "Je suis absente jusqu'au 4 janvier.",
            in_reply_to=ack.message["Message-ID"],
            extra_headers={"Auto-Submitted": "auto-replied"},
        )
    )
    run_once(config)
    (case,) = register(config)
    automatic = [m for m in case["messages"] if m["direction"] == "in" and "Auto-Submitted" in m["note"]]
    assert len(automatic) == 1
    assert case["status"] == "open"
    assert len(smtp_sink.messages) == 1


def test_our_own_acknowledgement_coming_back_is_not_a_claim(
    make_config: ConfigFactory, mail_account: MailAccount, smtp_sink: SmtpSink
) -> None:
    config = make_config(mode="dedicated")
    ack = acknowledged_claim(config, mail_account, smtp_sink)
    # The director's server delivers a copy of what we sent (a Bcc, a forwarding rule...).
    mail_account.append(ack.data)
    run_once(config)
    assert len(register(config)) == 1
    assert len(smtp_sink.messages) == 1


def test_a_sender_flooding_the_address_gets_at_most_the_daily_cap(
    make_config: ConfigFactory, mail_account: MailAccount, smtp_sink: SmtpSink
) -> None:
    config = make_config(mode="dedicated", extra="[acknowledgement]\ndaily_cap_per_sender = 2\n")
    first_meeting(config)
    for index in range(4):
        mail_account.append(complaint(subject=f"Réclamation numéro {index}"))
    run_once(config)
    assert len(register(config)) == 4  # every claim is registered...
    assert len(smtp_sink.messages) == 2  # ...but only two acknowledgements go out today


def test_mail_already_there_is_left_alone_unless_asked(
    make_config: ConfigFactory, mail_account: MailAccount, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    mail_account.append(complaint(subject="Réclamation ancienne"), internaldate=now - timedelta(days=40))
    mail_account.append(complaint(subject="Réclamation récente"), internaldate=now - timedelta(days=5))
    config = make_config()
    run_once(config)
    assert register(config) == []
    # Whatever arrives after the first meeting is always read, whatever its INTERNALDATE.
    mail_account.append(complaint(subject="Réclamation arrivée après"), internaldate=now - timedelta(days=400))
    run_once(config)
    assert [c["subject"] for c in register(config)] == ["Réclamation arrivée après"]

    # Another installation of the same mailbox, told to read back to 10 days ago.
    other = tmp_path / "other"
    other.mkdir()
    since = (now - timedelta(days=10)).date().isoformat()
    config = account_config(other, mail_account, smtp_sink, imap_extra=f'ingest_since = "{since}"')
    run_once(config)
    # For this installation all three were already there: only the one received since is read.
    assert [c["subject"] for c in register(config)] == ["Réclamation récente"]


def test_a_new_uidvalidity_reads_the_folder_again_without_duplicates(
    make_config: ConfigFactory, mail_account: MailAccount, smtp_sink: SmtpSink
) -> None:
    with mail_account.client() as client:
        client.create_folder("Reclamations")
    config = make_config()
    config.write_text(config.read_text().replace('inbox_folder = "INBOX"', 'inbox_folder = "Reclamations"'))
    first_meeting(config)
    first = complaint(subject="Réclamation une")
    mail_account.append(first, folder="Reclamations")
    run_once(config)
    assert len(register(config)) == 1

    # The server rebuilds the folder: same mail, new UIDVALIDITY, plus a mail that is new.
    with mail_account.client() as client:
        old_validity = client.select_folder("Reclamations")[b"UIDVALIDITY"]
        client.unselect_folder()
        client.delete_folder("Reclamations")
        client.create_folder("Reclamations")
    mail_account.append(first, folder="Reclamations")
    mail_account.append(complaint(subject="Réclamation deux"), folder="Reclamations")
    with mail_account.client() as client:
        assert client.select_folder("Reclamations")[b"UIDVALIDITY"] != old_validity
    run_once(config)
    assert [c["subject"] for c in register(config)] == ["Réclamation une", "Réclamation deux"]
    assert len(smtp_sink.messages) == 2


def test_sending_is_retried_after_a_temporary_refusal_and_given_up_after_a_permanent_one(
    make_config: ConfigFactory, mail_account: MailAccount, smtp_sink: SmtpSink
) -> None:
    config = make_config(extra="[outbox]\nfirst_retry_seconds = 0\n")
    first_meeting(config)
    mail_account.append(complaint())
    smtp_sink.refuse(451, times=1)
    run_once(config)
    assert smtp_sink.messages == [] and len(smtp_sink.refused) == 1
    (case,) = register(config)
    assert case["acknowledged_at"] is None  # not acknowledged until the server took it

    run_once(config)
    (accepted,) = smtp_sink.wait_for(1)
    # The retry is the same mail: same Message-ID as the refused attempt.
    assert accepted.message["Message-ID"] == smtp_sink.refused[0].message["Message-ID"]
    assert register(config)[0]["acknowledged_at"] is not None

    smtp_sink.refuse(550)
    mail_account.append(complaint(subject="Réclamation vers une adresse refusée"))
    for _ in range(2):
        run_once(config)
    assert len(smtp_sink.refused) == 2  # one attempt: a permanent refusal is not retried
    second = register(config)[1]
    assert second["acknowledged_at"] is None
    assert any(event["event"] == "failed:acknowledgement" for event in second["history"])


def test_smtp_down_then_up(make_config: ConfigFactory, mail_account: MailAccount, smtp_sink: SmtpSink) -> None:
    config = make_config(extra="[outbox]\nfirst_retry_seconds = 0\n")
    first_meeting(config)
    mail_account.append(complaint())
    port = smtp_sink.port
    smtp_sink.stop()
    run_once(config)  # the case is registered even so
    assert len(register(config)) == 1
    sink = SmtpSink()
    sink.start()
    try:
        config.write_text(config.read_text().replace(f"port = {port}", f"port = {sink.port}"))
        run_once(config)
        assert len(sink.wait_for(1)) == 1
    finally:
        sink.stop()


def test_broken_mail_is_archived_and_set_aside_or_registered_and_the_rest_goes_on(
    make_config: ConfigFactory, mail_account: MailAccount, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    config = make_config(mode="dedicated")
    first_meeting(config)
    no_from = b"To: alice@cafemetrie.example\r\nSubject: Reclamation sans expediteur\r\nMessage-ID: <nofrom@x>\r\n\r\nHello\r\n"
    raw_8bit = (
        "From: Jos\u00e9 <jose@example.fr>\r\nTo: alice@cafemetrie.example\r\nSubject: R\u00e9clamation en 8 bits\r\n"
        "Message-ID: <8bit@x>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nJ'ai un probl\u00e8me.\r\n"
    ).encode("utf-8")
    lying_charset = (
        "From: marie@example.fr\r\nTo: alice@cafemetrie.example\r\nSubject: =?utf-8?q?R=C3=A9clamation?=\r\n"
        "Message-ID: <cp1252@x>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nD\u00e9j\u00e0 pay\u00e9\r\n"
    ).encode("cp1252")
    attachment = make_mail(
        LEA,
        DIRECTOR,
        "Réclamation avec pièce jointe",
        "Voir la facture.",
        attachments=[("../../etc/facture.pdf", b"%PDF-1.4 fake", "application/pdf")],
    )
    for raw in (no_from, raw_8bit, lying_charset, attachment):
        mail_account.append(raw)
    run_once(config)

    cases = register(config)
    assert [c["claimant"] for c in cases] == ["jose@example.fr", "marie@example.fr", "lea.martin@example.fr"]
    assert cases[0]["subject"] == "Réclamation en 8 bits"
    archive = tmp_path / "archive"
    assert len(list(archive.rglob("*.eml"))) == 4  # every mail archived, the set-aside one too
    (saved,) = [p for p in archive.rglob("*") if p.is_file() and p.suffix == ".pdf"]
    assert saved.name.endswith("facture.pdf") and archive in saved.parents and ".." not in saved.parts


def test_cases_list_show_and_csv_export(
    make_config: ConfigFactory, mail_account: MailAccount, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    config = make_config()
    first_meeting(config)
    mail_account.append(complaint(subject='=HYPERLINK("http://evil") réclamation'))
    run_once(config)

    listing = invoke(config, "cases", "list")
    assert listing.code == 0 and "2026-0001" in listing.out and "réclamation" in listing.out
    assert invoke(config, "cases", "list", "--open").out == listing.out
    shown = invoke(config, "cases", "show", "2026-0001")
    assert shown.code == 0 and "lea.martin@example.fr" in shown.out
    # In the register's words: French field names, statuses, dates and history.
    assert "Reçue le : " in shown.out and "Statut : ouverte" in shown.out
    assert "envoyé : accusé de réception" in shown.out and "sent:acknowledgement" not in shown.out
    assert invoke(config, "cases", "show", "2026-0999").code != 0

    output = tmp_path / "registre.csv"
    assert invoke(config, "register", "export", "--format", "csv", "--output", str(output)).code == 0
    raw = output.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM, for a French Excel
    header, cells = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert header[:3] == ["Numéro", "Type", "Statut"]
    assert cells[0] == "2026-0001" and cells[1] == "réclamation"
    assert any(cell.startswith("'=HYPERLINK") for cell in cells)  # never a live formula


def test_check_says_what_is_wrong(make_config: ConfigFactory, mail_account: MailAccount, tmp_path: Path) -> None:
    config = make_config()
    text = config.read_text()
    good = invoke(config, "check")
    assert good.code == 0, good.out + good.err
    assert "'INBOX' (inbox)" in good.out and "'Sent' (sent)" in good.out
    assert "learned model: " in good.out  # shared mode: the vocabulary and its learned table are read

    table = tmp_path / "my-table"
    (table / "recognition").mkdir(parents=True)
    (table / "recognition" / "modele.tsv").write_text("constante\t-1\nrembours\ttrois\t2\n", encoding="utf-8")
    config.write_text(config.read_text() + f'\n[rules]\ndir = "{table}"\n')
    bad = invoke(config, "check")
    assert bad.code != 0 and "modele.tsv: line 2" in bad.out and "expected a number" in bad.out

    config.write_text(text.replace(f'password = "{mail_account.password}"', 'password = "wrong"'))
    bad = invoke(config, "check")
    assert bad.code != 0 and "login refused" in bad.out

    config.write_text(text.replace('inbox_folder = "INBOX"', 'inbox_folder = "Boîte de réception"'))
    bad = invoke(config, "check")
    assert bad.code != 0 and "imap.inbox_folder" in bad.out and "Boîte de réception" in bad.out

    rules = tmp_path / "my-rules"
    rules.mkdir()
    (rules / "50-mine.toml").write_text('[[rule]]\nname = "x"\naction = "claim"\n[rule.when]\nsubject = "(unclosed"\n')
    config.write_text(text + f'\n[rules]\ndir = "{rules}"\n')
    bad = invoke(config, "check")
    assert bad.code != 0 and "50-mine.toml" in bad.out and "subject" in bad.out

    config.write_text(text.replace("[smtp]\n", "[smtp]\nprot = 25\n"))
    bad = invoke(config, "check")
    assert bad.code != 0 and "smtp.prot" in bad.err


def test_a_second_process_refuses_to_run_on_the_same_database(make_config: ConfigFactory, database_url: str) -> None:
    from inboxbot.bootstrap import build
    from inboxbot.config import load

    config = make_config(database_url)
    app = build(load(config))
    try:
        with app.store.instance_lock():
            result = invoke(config, "run", "--once")
        assert result.code != 0 and "already" in result.err
    finally:
        app.close()


def test_a_bounce_of_our_acknowledgement_is_filed_on_its_case(
    make_config: ConfigFactory, mail_account: MailAccount, smtp_sink: SmtpSink
) -> None:
    config = make_config()
    ack = acknowledged_claim(config, mail_account, smtp_sink)
    original_headers = ack.data.split(b"\r\n\r\n", 1)[0]
    boundary = "bounce-boundary"
    bounce = (
        (
            f"From: Mail Delivery System <MAILER-DAEMON@mx.example.fr>\r\nTo: {DIRECTOR}\r\n"
            "Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <bounce-1@mx.example.fr>\r\n"
            "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
            f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\r\n\r\n'
            f"--{boundary}\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n"
            f"--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n"
            "Reporting-MTA: dns; mx.example.fr\r\n\r\nFinal-Recipient: rfc822; lea.martin@example.fr\r\nAction: failed\r\nStatus: 5.1.1\r\n"
            f"--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        ).encode()
        + original_headers
        + f"\r\n--{boundary}--\r\n".encode()
    )
    mail_account.append(bounce)
    run_once(config)
    (case,) = register(config)
    assert [m["message_id"] for m in case["messages"]][-1] == "bounce-1@mx.example.fr"
    assert len(smtp_sink.messages) == 1  # a bounce is never answered


def test_the_directors_reply_from_her_own_client_is_picked_up_from_sent(
    make_config: ConfigFactory, mail_account: MailAccount, smtp_sink: SmtpSink
) -> None:
    config = make_config()
    first_meeting(config)
    original = make_msgid(domain="example.fr")
    mail_account.append(complaint(message_id=original))
    run_once(config)
    reply = make_mail(
        f"Alice <{DIRECTOR}>",
        LEA,
        "RE : Réclamation : attestation",
        "Bonjour Léa, votre attestation part aujourd'hui.",
        in_reply_to=original,
        references=[original],
    )
    mail_account.append(reply, folder="Sent")
    mail_account.append(make_mail(f"Alice <{DIRECTOR}>", "ami@example.fr", "Vacances", "Hello"), folder="Sent")
    run_once(config)
    (case,) = register(config)
    outgoing = [
        m for m in case["messages"] if m["direction"] == "out" and m["from"] == DIRECTOR and "RE :" in m["subject"]
    ]
    assert len(outgoing) == 1
    assert len(smtp_sink.messages) == 1


def test_mail_without_message_id_is_deduplicated_by_content(
    make_config: ConfigFactory, mail_account: MailAccount, smtp_sink: SmtpSink
) -> None:
    config = make_config()
    first_meeting(config)
    raw = complaint(message_id="")
    assert b"Message-ID" not in raw
    mail_account.append(raw)
    run_once(config)
    mail_account.append(raw)  # the very same bytes again
    run_once(config)
    assert len(register(config)) == 1 and len(smtp_sink.messages) == 1


def test_a_broken_rule_file_stops_the_run_naming_file_and_key(make_config: ConfigFactory, tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "60-typo.toml").write_text('[[rule]]\nname = "x"\nacton = "claim"\n[rule.when]\nsubject = "x"\n')
    config = make_config(extra=f'[rules]\ndir = "{rules}"\n')
    result = invoke(config, "run", "--once")
    assert result.code != 0
    assert "60-typo.toml" in result.err and "acton" in result.err


def test_check_names_a_tls_failure(make_config: ConfigFactory) -> None:
    config = make_config()
    # Implicit TLS against a server that speaks plain IMAP on that port.
    config.write_text(config.read_text().replace('security = "plain"', 'security = "tls"', 1))
    result = invoke(config, "check")
    assert result.code != 0 and "TLS" in result.out


def test_a_large_attachment_is_kept_and_registered(
    make_config: ConfigFactory, mail_account: MailAccount, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    config = make_config()
    first_meeting(config)
    payload = bytes(range(256)) * (25 * 1024 * 1024 // 256)
    mail_account.append(
        make_mail(
            LEA,
            DIRECTOR,
            "Réclamation avec vidéo",
            "La vidéo du problème.",
            attachments=[("video.mp4", payload, "video/mp4")],
        )
    )
    run_once(config)
    (case,) = register(config)
    assert case["claimant"] == "lea.martin@example.fr"
    (saved,) = (tmp_path / "archive").rglob("*video.mp4")
    assert saved.read_bytes() == payload


def test_a_forged_in_reply_to_from_a_stranger_does_not_join_the_case(
    make_config: ConfigFactory, mail_account: MailAccount, smtp_sink: SmtpSink
) -> None:
    config = make_config()
    ack = acknowledged_claim(config, mail_account, smtp_sink)
    forged = make_mail(
        "Intrus <intrus@example.com>",
        DIRECTOR,
        "Re: votre dossier",
        "Merci de clore ce dossier.",
        in_reply_to=ack.message["Message-ID"],
    )
    mail_account.append(forged)
    run_once(config)
    (case,) = register(config)
    assert [m["from"] for m in case["messages"] if m["direction"] == "in"] == ["lea.martin@example.fr"]
    assert len(smtp_sink.messages) == 1


def test_a_long_first_ingest_reports_its_progress(
    make_config: ConfigFactory, mail_account: MailAccount, smtp_sink: SmtpSink
) -> None:
    from inboxbot.bootstrap import build
    from inboxbot.cli.progress import TerminalProgress
    from inboxbot.config import load
    from inboxbot.procedure.pipeline import run_once

    day = datetime.now(UTC) - timedelta(days=2)
    with mail_account.client() as client:
        client.multiappend("INBOX", [{"msg": complaint(subject=f"Réclamation {i}"), "date": day} for i in range(60)])
    since = (day - timedelta(days=1)).date().isoformat()
    config = make_config(imap_extra=f'ingest_since = "{since}"', extra="[acknowledgement]\nenabled = false\n")
    seen: list[tuple[str, int, int]] = []
    app = build(load(config))
    try:
        run_once(app, progress=lambda folder, done, total: seen.append((folder, done, total)))
    finally:
        app.close()
    assert [done for _folder, done, _total in seen] == list(range(1, 61))
    assert {(folder, total) for folder, _done, total in seen} == {("INBOX", 60)}
    assert len(register(config)) == 60

    screen = io.StringIO()
    show = TerminalProgress(screen)
    show("INBOX", 1, 10)  # too short a job to bother a person with
    assert screen.getvalue() == ""
    for done in range(1, 61):
        show("INBOX", done, 60)
    assert screen.getvalue().count("\r") == 60  # one line, redrawn in place
    assert "\rINBOX: 60/60 mails (" in screen.getvalue() and screen.getvalue().endswith("/s)\n")


def test_status_shows_the_last_cycle_the_outbox_and_the_last_error(
    make_config: ConfigFactory, mail_account: MailAccount, smtp_sink: SmtpSink
) -> None:
    config = make_config(extra="[outbox]\nfirst_retry_seconds = 600\n")
    first_meeting(config)
    mail_account.append(complaint())
    smtp_sink.refuse(451, times=1)
    run_once(config)
    status = invoke(config, "status")
    assert status.code == 0
    assert "1 mail(s) read, 1 case(s) opened, 0 sent, 1 failed to send" in status.out
    assert "INBOX: last polled" in status.out and "Sent: last polled" in status.out
    assert "outbox: 1 waiting, next attempt" in status.out
    assert "last error: none" in status.out and "open cases: 1" in status.out

    text = config.read_text()
    config.write_text(text.replace(f"port = {mail_account.port}", "port = 1", 1))
    assert invoke(config, "run", "--once").code != 0
    assert "last error: " in (status := invoke(config, "status")).out and "cannot connect" in status.out


def test_purge_from_the_command_line(
    make_config: ConfigFactory, mail_account: MailAccount, smtp_sink: SmtpSink
) -> None:
    from inboxbot.bootstrap import build
    from inboxbot.config import load

    config = make_config()
    acknowledged_claim(config, mail_account, smtp_sink)
    app = build(load(config))
    try:
        with app.store.unit() as unit:
            case = unit.case_by_number("2026-0001")
            assert case is not None
            # Closed long enough ago for the three-year minimum.
            long_ago = datetime.now(UTC) - timedelta(days=3 * 366 + 2)
            unit.update_case(case.id, status="closed", closed_at=long_ago)
    finally:
        app.close()
    dry = invoke(config, "purge", "--dry-run")
    assert dry.code == 0 and "would anonymise case 2026-0001" in dry.out
    assert register(config)[0]["claimant"] == "lea.martin@example.fr"  # a dry run changes nothing
    done = invoke(config, "purge")
    assert done.code == 0, done.out + done.err
    (case_record,) = register(config)
    assert case_record["claimant"] is None and case_record["number"] == "2026-0001"
    assert "lea.martin" not in json.dumps(case_record)
    config.write_text(config.read_text().replace("retention_years = 3", "retention_years = 2"))
    refused = invoke(config, "purge")
    assert refused.code == 2 and "storage.retention_years" in refused.err


def test_register_xlsx_and_annual_report_from_the_command_line(
    make_config: ConfigFactory, mail_account: MailAccount, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    import openpyxl

    config = make_config()
    acknowledged_claim(config, mail_account, smtp_sink)
    xlsx = tmp_path / "registre.xlsx"
    assert invoke(config, "register", "export", "--format", "xlsx", "--output", str(xlsx)).code == 0
    workbook = openpyxl.load_workbook(xlsx)
    assert workbook.sheetnames == ["Dossiers", "Actions", "Échanges", "Historique"]
    assert workbook["Dossiers"].cell(row=2, column=1).value == "2026-0001"
    assert invoke(config, "register", "export", "--format", "xlsx").code == 2  # binary needs a file
    for filters, count in (
        (("--kind", "reclamation"), 1),
        (("--kind", "alea"), 0),
        (("--status", "closed"), 0),
        (("--status", "open", "--year", "2026"), 1),
        (("--year", "2025"), 0),
    ):
        listed = invoke(config, "register", "export", "--format", "json", *filters)
        assert len(json.loads(listed.out)) == count, filters
    for fmt, marker in (("html", "<svg"), ("md", "| ")):
        output = tmp_path / f"rapport.{fmt}"
        assert invoke(config, "report", "--year", "2026", "--output", str(output), "--format", fmt).code == 0
        assert marker in output.read_text(encoding="utf-8")


def test_digest_print_shows_what_send_sends(tmp_path: Path, mail_account: MailAccount, smtp_sink: SmtpSink) -> None:
    # The digest is switched on only after the cycles: on a working day after 08:00 the cycle would
    # send it itself, and what this test compares is the two commands.
    config = account_config(tmp_path, mail_account, smtp_sink)
    ack = acknowledged_claim(config, mail_account, smtp_sink)
    assert ack is not None
    config.write_text(config.read_text().replace("enabled = false  # the tests that want it say so", ""))
    printed = invoke(config, "digest", "--print")
    assert printed.code == 0 and "2026-0001" in printed.out and printed.out.startswith("Objet : [inboxbot]")
    sent = invoke(config, "digest", "--send")
    assert sent.code == 0 and "digest sent" in sent.out
    digest = smtp_sink.wait_for(2)[-1]
    assert digest.rcpt_tos == [DIRECTOR] and printed.out.split("\n", 1)[0].removeprefix("Objet : ") == digest.subject
    assert invoke(config, "digest").code == 2  # --print or --send, one of them


def test_an_attachment_over_the_limit_stays_in_the_archived_mail_and_the_case_says_so(
    make_config: ConfigFactory, mail_account: MailAccount, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    config = make_config()
    config.write_text(
        config.read_text().replace("retention_years = 3", "retention_years = 3\nmax_attachment_bytes = 1000")
    )
    first_meeting(config)
    mail_account.append(
        make_mail(
            LEA,
            DIRECTOR,
            "Réclamation avec pièces",
            "Voir les pièces jointes.",
            attachments=[
                ("petit.txt", b"x" * 500, "text/plain"),
                ("gros.pdf", b"%PDF" + b"y" * 5000, "application/pdf"),
            ],
        )
    )
    run_once(config)
    (case,) = register(config)
    assert case["claimant"] == "lea.martin@example.fr"  # registered all the same
    (refused,) = [e for e in case["history"] if e["event"] == "attachment-too-large"]
    assert "gros.pdf" in refused["detail"] and "1000-byte limit" in refused["detail"]
    files = [p.name for p in (tmp_path / "archive").rglob("*") if p.is_file() and p.suffix != ".eml"]
    assert any(name.endswith("petit.txt") for name in files) and not any("gros" in name for name in files)
    (eml,) = [p for p in (tmp_path / "archive").rglob("*.eml")]
    assert b"JVBERnl5eXl5" in eml.read_bytes()  # the raw mail keeps it: base64 of "%PDFyyyyy"


def test_attachments_past_the_cap_stay_in_the_archived_mail_and_the_case_says_so(
    make_config: ConfigFactory, mail_account: MailAccount, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    """Issue 14: a few kilobytes of winmail.dat parts unpacked to thousands of files. Past
    `max_attachments` nothing more is written, the claim is registered all the same, and its
    history says what was left in the archived mail."""
    config = make_config()
    config.write_text(config.read_text().replace("retention_years = 3", "retention_years = 3\nmax_attachments = 2"))
    first_meeting(config)
    winmail = tnef_stream([("un.txt", b"1"), ("deux.txt", b"2"), ("trois.txt", b"3")])
    mail_account.append(
        make_mail(
            LEA,
            DIRECTOR,
            "Réclamation avec pièces",
            "Voir les pièces jointes.",
            attachments=[("winmail.dat", winmail, "application/ms-tnef"), ("quatre.txt", b"4", "text/plain")],
        )
    )
    run_once(config)
    (case,) = register(config)
    assert case["claimant"] == "lea.martin@example.fr"
    (capped,) = [e for e in case["history"] if e["event"] == "attachments-over-limit"]
    assert "more than 2 attachments: 2 kept" in capped["detail"] and "archived mail" in capped["detail"]
    files = sorted(p.name for p in (tmp_path / "archive").rglob("*") if p.is_file() and p.suffix != ".eml")
    assert len(files) == 2 and files[0].endswith("un.txt") and files[1].endswith("deux.txt")
    (eml,) = [p for p in (tmp_path / "archive").rglob("*.eml")]
    assert b"quatre.txt" in eml.read_bytes()


def test_one_cycle_sends_every_batch_of_a_mail_storm(
    make_config: ConfigFactory, mail_account: MailAccount, smtp_sink: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    import inboxbot.procedure.sending

    monkeypatch.setattr(inboxbot.procedure.sending, "OUTBOX_BATCH", 2)  # as if 500 were 2
    config = make_config(mode="dedicated")
    first_meeting(config)
    for index in range(5):
        mail_account.append(make_mail(f"p{index}@example.fr", DIRECTOR, f"Session annulée {index}", "Bonjour"))
    run_once(config)
    assert len(smtp_sink.wait_for(5)) == 5  # three batches, one cycle


def test_a_briefly_locked_database_delays_the_cycle_without_failing_it(
    make_config: ConfigFactory, mail_account: MailAccount, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    import sqlite3
    import threading

    config = make_config(f"sqlite:///{tmp_path / 'inboxbot.db'}")  # SQLite's own lock, whatever the suite runs on
    first_meeting(config)
    mail_account.append(complaint())
    # Another process (a backup, a report) holds the write lock for two seconds.
    blocker = sqlite3.connect(tmp_path / "inboxbot.db", isolation_level=None, check_same_thread=False)
    blocker.execute("BEGIN IMMEDIATE")
    release = threading.Timer(2.0, blocker.execute, args=("COMMIT",))
    release.start()
    try:
        run_once(config)
    finally:
        release.join()
        blocker.close()
    (case,) = register(config)
    assert case["acknowledged_at"] is not None and len(smtp_sink.messages) == 1


def test_a_mail_that_fails_midway_is_set_aside_alone_and_leaves_no_trace_in_the_register(
    make_config: ConfigFactory,
    mail_account: MailAccount,
    smtp_sink: SmtpSink,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Mails are committed in groups: one failing after its case was written must undo only itself."""
    from inboxbot.outgoing.letters import Letters
    from inboxbot.store.repository import Store

    queue = Letters.to_claimant

    def failing(self: Letters, unit: object, case: Any, template: str, *args: Any, **kwargs: Any) -> str | None:
        if "panne" in case.subject:
            raise RuntimeError("renderer exploded")
        return queue(self, unit, case, template, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Letters, "to_claimant", failing)
    config = make_config(mode="dedicated")
    first_meeting(config)
    for index, subject in enumerate(["Réclamation un", "Réclamation panne", "Réclamation trois"]):
        mail_account.append(make_mail(f"p{index}@example.fr", DIRECTOR, subject, "Bonjour"))
    result = invoke(config, "run", "--once")
    assert result.code == 0, result.err
    # Processed together first, then again mail by mail: each case and the failure told once.
    assert "3 mail(s) read, 2 case(s) opened (2026-0001, 2026-0002)" in result.out
    assert caplog.text.count("could not be processed") == 1 and "processed again, each mail on its own" in caplog.text

    cases = register(config)
    # The failed mail's case, its events and its number were rolled back with it; the others stand.
    assert [(c["number"], c["subject"]) for c in cases] == [
        ("2026-0001", "Réclamation un"),
        ("2026-0002", "Réclamation trois"),
    ]
    assert sorted(m.rcpt_tos[0] for m in smtp_sink.wait_for(2)) == ["p0@example.fr", "p2@example.fr"]
    url = config.read_text().split('url = "', 1)[1].split('"', 1)[0]
    store = Store.open(url)
    try:
        with store.unit() as unit:
            (aside,) = unit.mails_with_outcome("set_aside", received_before=datetime.now(UTC) + timedelta(days=1))
    finally:
        store.close()
    assert aside.from_address is None and "internal error: RuntimeError: renderer exploded" in aside.reason
    run_once(config)  # read again, it is known: nothing more is sent
    assert len(register(config)) == 2 and len(smtp_sink.messages) == 2


def test_a_different_mail_reusing_a_message_id_is_registered_and_a_redelivered_copy_is_not(
    make_config: ConfigFactory, mail_account: MailAccount, smtp_sink: SmtpSink
) -> None:
    config = make_config(mode="dedicated")
    first_meeting(config)
    date = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    first = make_mail(LEA, DIRECTOR, "Réclamation : attestation", "Bonjour", message_id="<same@x>", date=date)
    # The same mail delivered again: only the servers' trace headers differ.
    redelivered = b"Received: from mx2.example.fr by mx.cafemetrie.example; Fri, 27 Nov 2026 09:01:00 +0000\r\n" + first
    # Another sender whose (broken or hostile) software reuses the Message-ID, at the same minute.
    other = make_mail(
        "Marc <marc@example.fr>", DIRECTOR, "Réclamation : facture", "Erreur", message_id="<same@x>", date=date
    )
    other_again = b"Received: from mx3.example.fr by mx.cafemetrie.example\r\n" + other
    for raw in (first, redelivered, other, other_again):
        mail_account.append(raw)
    run_once(config)

    cases = register(config)
    assert [(c["claimant"], c["subject"]) for c in cases] == [
        ("lea.martin@example.fr", "Réclamation : attestation"),
        ("marc@example.fr", "Réclamation : facture"),
    ]
    assert sorted(m.rcpt_tos[0] for m in smtp_sink.wait_for(2)) == ["lea.martin@example.fr", "marc@example.fr"]
    run_once(config)  # a second cycle changes nothing
    assert len(register(config)) == 2 and len(smtp_sink.messages) == 2


def test_the_daemons_kept_connections_poll_without_reopening_the_folders_and_still_see_new_mail(
    make_config: ConfigFactory, mail_account: MailAccount, smtp_sink: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Opening a 50,000-mail folder costs the server ~20 ms a poll: the daemon opens each folder once."""
    from imapclient import IMAPClient

    from inboxbot.bootstrap import build
    from inboxbot.cli.daemon import Connections
    from inboxbot.config import load
    from inboxbot.procedure.pipeline import CycleReport, Pipeline

    opened: list[str] = []
    select_folder = IMAPClient.select_folder

    def spying(self: IMAPClient, folder: str, readonly: bool = False) -> Any:
        opened.append(folder)
        return select_folder(self, folder, readonly=readonly)

    monkeypatch.setattr(IMAPClient, "select_folder", spying)
    config = make_config(mode="dedicated")
    app = build(load(config))
    connections = Connections(app)
    pipeline = Pipeline(app)

    def poll() -> None:
        pipeline.poll(connections(app.settings.imap.inbox_folder), CycleReport(), mailbox_for=connections)

    try:
        poll()  # the first meeting opens each folder once
        assert sorted(opened) == ["INBOX", "Sent"]
        mail_account.append(complaint())
        poll()
        assert len(opened) == 2 and len(register(config)) == 1  # seen without reopening anything
        # The server logs the connection out while the daemon waits: a new one, the folder reopened.
        connections.open["INBOX"].client.logout()
        mail_account.append(complaint(subject="Réclamation : deuxième envoi"))
        poll()
        assert opened[2:] == ["INBOX"] and len(register(config)) == 2
    finally:
        connections.close()
        app.close()


def test_an_unreachable_smtp_server_never_uses_up_a_mails_attempts(
    tmp_path: Path, mail_account: MailAccount, smtp_sink: SmtpSink, caplog: pytest.LogCaptureFixture
) -> None:
    """A weekend without SMTP (or a revoked sign-in) must not give up the acknowledgements."""
    config = account_config(
        tmp_path, mail_account, smtp_sink, extra="[outbox]\nmax_attempts = 1\nfirst_retry_seconds = 0\n"
    )
    first_meeting(config)
    port = smtp_sink.port
    smtp_sink.stop()
    mail_account.append(complaint())
    with caplog.at_level("WARNING", logger="inboxbot.procedure.sending"):
        for _ in range(3):
            run_once(config)
    (case,) = register(config)
    assert case["acknowledged_at"] is None
    waits = [r.getMessage() for r in caplog.records if "wait for the SMTP server" in r.getMessage()]
    assert len(waits) == 3  # once per run --once here; the daemon keeps its count and says it once
    smtp_sink.start(port=port)
    run_once(config)
    (ack,) = smtp_sink.wait_for(1)
    assert ack.rcpt_tos == ["lea.martin@example.fr"] and register(config)[0]["acknowledged_at"] is not None


def test_run_once_names_the_first_cases_it_opened_not_hundreds(
    make_config: ConfigFactory, mail_account: MailAccount, smtp_sink: SmtpSink
) -> None:
    config = make_config(mode="dedicated")
    first_meeting(config)
    for index in range(12):
        mail_account.append(make_mail(f"p{index}@example.fr", DIRECTOR, f"Session annulée {index}", "Bonjour"))
    result = invoke(config, "run", "--once")
    assert result.code == 0
    assert "12 case(s) opened (2026-0001, 2026-0002," in result.out and "2026-0010, …)" in result.out
    assert "2026-0011" not in result.out
