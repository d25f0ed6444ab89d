"""The procedure end to end: the director's commands by mail, proof, closure, feedback, every channel.

Through a real Dovecot and SMTP sink, with the program built as `inboxbot run --once` builds it but
with the clock pinned, so that what time sets off (the grace before a command mail is suspicious,
the delay before a satisfaction request) is tested without waiting.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from html import unescape
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from conftest import MailAccount
from databases import fresh_database_url
from e2e import invoke, register, write_config
from mails import make_mail
from servers import DovecotServer, ReceivedMessage, SmtpSink

from inboxbot.bootstrap import App, build
from inboxbot.config import load
from inboxbot.domain.deadlines import WorkingDayCalendar
from inboxbot.procedure import casework
from inboxbot.procedure.digest import build_digest
from inboxbot.procedure.pipeline import run_once

DIRECTOR = "alice@cafemetrie.example"
LEA = "Léa Martin <lea.martin@example.fr>"
PARIS = ZoneInfo("Europe/Paris")
TRUSTED_MX = "mx.cafemetrie.example"
FRANCE = WorkingDayCalendar.for_country("FR")  # the configuration's calendar


@dataclass
class Bot:
    """inboxbot on a fresh mailbox, with a clock the test moves."""

    config: Path
    account: MailAccount
    sink: SmtpSink
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def cycle(self, later: timedelta = timedelta(0)) -> None:
        self.now = self.now + later
        app: App = build(load(self.config), clock=lambda: self.now)
        try:
            run_once(app)
        finally:
            app.close()

    def cases(self) -> list[dict[str, Any]]:
        return register(self.config)

    def digest(self) -> str:
        """The text of the digest she would get now (by the bot's clock)."""
        app: App = build(load(self.config), clock=lambda: self.now)
        try:
            built = build_digest(app, self.now + timedelta(seconds=1))
        finally:
            app.close()
        assert built is not None
        return built.text

    def case(self, number: str = "") -> dict[str, Any]:
        cases = self.cases()
        return next(c for c in cases if c["number"] == number) if number else cases[0]

    def sent_to(self, address: str) -> list[ReceivedMessage]:
        return [m for m in self.sink.messages if address in m.rcpt_tos]

    def note_to_self(
        self, subject: str, body: str, folders: tuple[str, ...] = ("Sent", "INBOX"), **headers: str
    ) -> str:
        """What her client does when she mails herself: a copy in Sent, the delivered one in INBOX."""
        message_id = make_msgid(domain="cafemetrie.example")
        raw = make_mail(f"Alice <{DIRECTOR}>", DIRECTOR, subject, body, message_id=message_id, extra_headers=headers)
        for folder in folders:
            self.account.append(raw, folder=folder)
        return message_id

    def claim(self, subject: str = "Réclamation : attestation non reçue") -> str:
        """Léa's complaint, registered and acknowledged; returns its Message-ID."""
        message_id = make_msgid(domain="example.fr")
        self.account.append(
            make_mail(LEA, DIRECTOR, subject, "Je n'ai pas reçu mon attestation.", message_id=message_id)
        )
        self.cycle()
        return message_id


@pytest.fixture
def bot_factory(tmp_path: Path, smtp_sink: SmtpSink) -> Iterator[Callable[..., Bot]]:
    def make(account: MailAccount, extra: str = "", director_extra: str = "") -> Bot:
        config = write_config(
            tmp_path,
            imap_host=account.host,
            imap_port=account.port,
            username=account.username,
            password=account.password,
            smtp_port=smtp_sink.port,
            database_url=fresh_database_url(tmp_path),
            address=DIRECTOR,
            extra=extra,
        )
        text = config.read_text().replace(
            'digest_time = "08:00"', f'digest_time = "08:00"\nauthserv_ids = ["{TRUSTED_MX}"]\n{director_extra}'
        )
        config.write_text(text)
        bot = Bot(config, account, smtp_sink)
        bot.cycle()  # first meeting with the empty mailbox
        return bot

    yield make


@pytest.fixture
def bot(bot_factory: Callable[..., Bot], mail_account: MailAccount) -> Bot:
    return bot_factory(mail_account)


def report_to_director(bot: Bot) -> EmailMessage:
    reports = [m for m in bot.sent_to(DIRECTOR) if "Commandes" in m.subject]
    assert reports, [m.subject for m in bot.sink.messages]
    return reports[-1].message


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def test_the_director_qualifies_and_acts_on_a_case_by_mail(bot: Bot) -> None:
    bot.claim()
    bot.note_to_self(
        "RE: [Dossier 2026-0001] suivi",
        "#nature matérielle\n#Priorité HAUTE\n#partie apprenant\n#formation Barista niveau 2\n"
        "#cause Envoi des attestations oublié après la session\n"
        "#corrective Vérifier l'envoi des attestations à chaque fin de session ; responsable: Alice ; échéance: 31/01/2027\n"
        "#preventive Ajouter l'envoi à la liste de clôture des sessions\n"
        "#prolonger 15 attente du retour du formateur\n"
        "#urgence attestation renvoyée le jour même\n"
        "#note Appel de Léa, très courtoise\n",
    )
    bot.cycle()
    case = bot.case()
    assert (case["nature"], case["priority"], case["stakeholder"]) == ("materielle", "haute", "apprenant")
    assert case["training"] == "Barista niveau 2"
    assert [(a["number"], a["kind"], a["status"]) for a in case["actions"]] == [
        (1, "cause", None),
        (2, "corrective", "todo"),
        (3, "preventive", "todo"),
        (4, "urgent", "todo"),
    ]
    corrective = case["actions"][1]
    assert corrective["owner"] == "Alice" and corrective["due"] == "2027-01-31"
    original_due = date.fromisoformat(case["response_due"])
    # 15 days later, or the working day before when that is a weekend or a public holiday: a date promised
    # never is one (a claim made on a Wednesday evening made it a Saturday).
    extended_due = FRANCE.business_day_on_or_before(original_due + timedelta(days=15))
    assert case["extended_response_due"] == extended_due.isoformat()
    assert case["extension_reason"] == "attente du retour du formateur"
    events = [e["event"] for e in case["history"]]
    assert {"set:nature", "set:priority", "action:corrective", "extended", "note"} <= set(events)
    assert all(e["actor"] == DIRECTOR for e in case["history"] if e["event"].startswith(("set:", "action:")))

    # The claimant is told of the extension, with its reason and the new date, in the same thread.
    notice = [m for m in bot.sent_to("lea.martin@example.fr") if "prolongé" in m.subject]
    assert len(notice) == 1
    body = text_of(notice[0].message)
    assert "attente du retour du formateur" in body
    assert f"{extended_due:%Y}" in body and "[Dossier 2026-0001]" in notice[0].subject
    assert notice[0].message["In-Reply-To"]

    report = text_of(report_to_director(bot))
    assert report.count("✓") == 10 and "✗" not in report

    # The same note seen again (the INBOX copy) changes nothing.
    bot.cycle()
    assert len(bot.case()["actions"]) == 4 and len(bot.sent_to("lea.martin@example.fr")) == 2


def test_an_action_is_followed_up_and_refusals_are_explained(bot: Bot) -> None:
    bot.claim()
    bot.note_to_self("[Dossier 2026-0001]", "#corrective Revoir la procédure d'envoi")
    bot.cycle()
    bot.note_to_self(
        "[Dossier 2026-0001]",
        "#action 1 fait procédure revue le 2/12\n#action 7 fait\n#clore 2026-0999\n#nimporte quoi",
    )
    bot.cycle()
    (action,) = bot.case()["actions"]
    assert (action["status"], action["result"]) == ("done", "procédure revue le 2/12")
    report = text_of(report_to_director(bot))
    assert report.count("✓") == 1 and report.count("✗") == 3
    assert "pas d'action n° 7" in report and "2026-0999" in report


def test_mediation_dismissal_and_an_optional_closure_notice(
    bot_factory: Callable[..., Bot], mail_account: MailAccount
) -> None:
    bot = bot_factory(mail_account, extra="[closure]\nnotify_claimant = true\n")
    bot.claim()
    bot.claim(subject="Réclamation : publicité non sollicitée")
    bot.note_to_self(
        "[Dossier 2026-0001]", "#médiation rendez-vous avec la formatrice le 4/12\n#réponse téléphone excuses\n#clore"
    )
    bot.note_to_self("[Dossier 2026-0002]", "#ignorer démarchage commercial, pas une réclamation")
    bot.cycle()
    first, second = bot.cases()
    assert [a["kind"] for a in first["actions"]] == ["mediation"] and first["status"] == "closed"
    assert second["status"] == "closed" and second["dismissed"] is True
    closures = [m for m in bot.sent_to("lea.martin@example.fr") if "Clôture" in m.subject]
    assert [m.subject.split("]")[0] for m in closures] == ["[Dossier 2026-0001"]
    # The acknowledgement promised an answer: the classement is one, with its reason.
    (dismissal,) = [m for m in bot.sent_to("lea.martin@example.fr") if "sans suite" in m.subject]
    assert dismissal.subject.startswith("[Dossier 2026-0002]")
    assert "Motif : démarchage commercial, pas une réclamation" in text_of(dismissal.message)
    bot.cycle(timedelta(days=8))
    requests = [m for m in bot.sent_to("lea.martin@example.fr") if "avis" in m.subject]
    assert len(requests) == 1 and "2026-0001" in requests[0].subject  # no feedback asked on a dismissed case


def test_a_dismissal_she_asks_to_keep_quiet_mails_no_one(bot: Bot) -> None:
    bot.claim()
    bot.note_to_self("[Dossier 2026-0001]", "#ignorer sans message : doublon d'un autre envoi")
    bot.cycle()
    case = bot.case()
    assert case["status"] == "closed" and case["dismissed"] is True
    assert not [m for m in bot.sent_to("lea.martin@example.fr") if "sans suite" in m.subject]
    (event,) = [e for e in case["history"] if e["event"] == "dismissed"]
    assert event["detail"] == "doublon d'un autre envoi"
    assert "sans message au réclamant" in text_of(report_to_director(bot))


def test_a_mail_merely_claiming_to_be_hers_executes_nothing_and_is_reported(bot: Bot) -> None:
    bot.claim()
    # In the inbox only: no copy in her Sent folder, no authentication by her receiving server.
    bot.note_to_self("[Dossier 2026-0001]", "#clore\n#ignorer", folders=("INBOX",))
    bot.cycle()
    assert bot.case()["status"] == "open"
    assert not [m for m in bot.sent_to(DIRECTOR) if "Commandes" in m.subject]

    # A forged Authentication-Results from a server she does not trust proves nothing either.
    bot.note_to_self(
        "[Dossier 2026-0001]",
        "#clore",
        folders=("INBOX",),
        **{"Authentication-Results": "mx.attacker.example; dkim=pass header.d=cafemetrie.example"},
    )
    bot.cycle(timedelta(minutes=31))
    assert bot.case()["status"] == "open"
    # One alert a day, however many forged mails: the digest lists them all.
    (suspicious,) = [m for m in bot.sent_to(DIRECTOR) if "suspect" in m.subject]
    assert "#clore" in text_of(suspicious.message) and "point du jour" in text_of(suspicious.message)
    bot.cycle(timedelta(minutes=31))
    assert len([m for m in bot.sent_to(DIRECTOR) if "suspect" in m.subject]) == 1
    assert "Messages suspects (2)" in bot.digest()


def test_her_receiving_servers_authentication_proves_a_mail_in_the_inbox(bot: Bot) -> None:
    bot.claim()
    bot.note_to_self(
        "[Dossier 2026-0001]",
        "#priorite urgente",
        folders=("INBOX",),
        **{
            "Authentication-Results": f"{TRUSTED_MX}; dkim=pass header.d=cafemetrie.example; spf=pass smtp.mailfrom={DIRECTOR}"
        },
    )
    bot.cycle()
    assert bot.case()["priority"] == "urgente"


def test_a_late_sent_copy_still_proves_a_note_already_seen_in_the_inbox(bot: Bot) -> None:
    bot.claim()
    message_id = bot.note_to_self("[Dossier 2026-0001]", "#nature humaine", folders=("INBOX",))
    bot.cycle()
    assert bot.case()["nature"] is None
    raw = make_mail(f"Alice <{DIRECTOR}>", DIRECTOR, "[Dossier 2026-0001]", "#nature humaine", message_id=message_id)
    bot.account.append(raw, folder="Sent")
    bot.cycle()
    assert bot.case()["nature"] == "humaine"


def test_closure_records_her_last_reply_then_feedback_is_asked_and_read(bot: Bot) -> None:
    original = bot.claim()
    reply = make_mail(
        f"Alice <{DIRECTOR}>",
        LEA,
        "RE: Réclamation : attestation non reçue",
        "Votre attestation est partie ce matin.",
        in_reply_to=original,
        references=[original],
    )
    bot.account.append(reply, folder="Sent")
    bot.cycle()
    bot.note_to_self("[Dossier 2026-0001]", "#clore réponse envoyée, attestation renvoyée")
    bot.cycle()
    case = bot.case()
    assert case["status"] == "closed" and case["closed_at"] is not None
    (reply_log,) = [m for m in case["messages"] if m["note"] == "written by the director"]
    assert case["responded_at"] == reply_log["date"]  # her reply, not the closing note
    assert case["response_met"] is True
    assert not [m for m in bot.sent_to("lea.martin@example.fr") if "avis" in m.subject]  # closing sends nothing

    bot.cycle(timedelta(days=8))  # past the 7 days before asking
    (request,) = [m for m in bot.sent_to("lea.martin@example.fr") if "avis" in m.subject]
    assert "[Dossier 2026-0001]" in request.subject and request.message["In-Reply-To"]
    bot.cycle(timedelta(days=1))
    assert len([m for m in bot.sent_to("lea.martin@example.fr") if "avis" in m.subject]) == 1  # asked once

    bot.account.append(
        make_mail(
            LEA,
            DIRECTOR,
            f"RE : {request.subject}",
            "Je mets 4/5, merci pour la réactivité.\n\n> Une note de 1 à 5 suffit",
            in_reply_to=request.message["Message-ID"],
            references=[request.message["Message-ID"]],
        )
    )
    bot.cycle()
    case = bot.case()
    assert case["satisfaction_mark"] == 4 and "réactivité" in case["satisfaction_comment"]
    assert case["status"] == "closed"
    assert not [m for m in bot.sent_to(DIRECTOR) if "dossier clos" in m.subject]


def test_a_new_mail_on_a_closed_case_is_shown_to_her_not_reopened(bot: Bot) -> None:
    original = bot.claim()
    bot.note_to_self("[Dossier 2026-0001]", "#réponse téléphone attestation renvoyée\n#clore")
    bot.cycle()
    bot.account.append(
        make_mail(LEA, DIRECTOR, "Re: attestation", "Finalement je ne l'ai toujours pas !", in_reply_to=original)
    )
    bot.cycle()
    case = bot.case()
    assert case["status"] == "closed"
    (late,) = [m for m in case["messages"] if "toujours pas" in m["text"]]
    assert "closed case" in late["note"] and late["direction"] == "in"
    (notice,) = [m for m in bot.sent_to(DIRECTOR) if "dossier clos" in m.subject]
    assert "toujours pas" in text_of(notice.message)
    # She decides: a reply to the notice with #rouvrir.
    bot.note_to_self(f"RE: {notice.subject}", "#rouvrir")
    bot.cycle()
    assert bot.case()["status"] == "open" and bot.case()["closed_at"] is None


def test_an_incident_is_requalified_as_a_complaint_keeping_its_number(bot: Bot) -> None:
    bot.account.append(make_mail("Marc <marc@example.fr>", DIRECTOR, "[ALÉA] Salle fermée", "Dégât des eaux."))
    bot.cycle()
    assert bot.case()["kind"] == "alea"
    bot.note_to_self("[Dossier 2026-0001]", "#type réclamation")
    bot.cycle()
    case = bot.case()
    assert case["kind"] == "reclamation" and case["number"] == "2026-0001"
    (event,) = [e for e in case["history"] if e["event"] == "requalified"]
    assert event["detail"] == "alea → reclamation" and event["actor"] == DIRECTOR and event["at"]


def test_a_claim_she_forwards_belongs_to_its_author(bot: Bot) -> None:
    forwarded = (
        "Voici ce que m'a transmis l'accueil.\n#partie apprenant\n\n"
        "---------- Message transféré ---------\n"
        "De : Léa Martin <lea.martin@example.fr>\n"
        "Date : lun. 23 nov. 2026 à 09:12\n"
        "Objet : Plainte sur la salle\n"
        "À : accueil@lieu.example\n\n"
        "La salle était glaciale toute la journée.\n"
    )
    bot.note_to_self("TR: [RECLAMATION] Plainte sur la salle", forwarded)
    bot.cycle()
    case = bot.case()
    # Not in her mailbox: dated by the forwarded header, and said so; her own commands still apply.
    assert case["claimant"] == "lea.martin@example.fr" and case["channel"] == "email"
    assert case["received_at"] == "2026-11-23T09:12:00+01:00" and case["received_from"] == "forwarded_header"
    assert case["transmitter"] is None and case["stakeholder"] == "apprenant"
    (ack,) = bot.sent_to("lea.martin@example.fr")
    assert "Accusé de réception" in ack.subject


def test_an_oral_claim_by_mail_names_its_claimant_with_a_command(bot: Bot) -> None:
    bot.note_to_self(
        "[ORAL] Appel de M. Dupont",
        "Appel ce matin : retard de la formatrice.\n#reclamant Jean Dupont <jean.dupont@example.fr>\n",
    )
    bot.cycle()
    case = bot.case()
    assert case["channel"] == "oral" and case["claimant"] == "jean.dupont@example.fr"
    assert len(bot.sent_to("jean.dupont@example.fr")) == 1


def test_an_oral_claim_entered_on_the_command_line(bot: Bot) -> None:
    result = invoke(
        bot.config,
        "cases",
        "add",
        "--subject",
        "Retard de la formatrice",
        "--claimant",
        "Jean.Dupont@example.fr",
        "--name",
        "Jean Dupont",
        "--received",
        "2026-11-20 14:30",
        "--stakeholder",
        "entreprise",
        "--training",
        "Latte art",
        "--description",
        "Appel téléphonique",
    )
    assert result.code == 0, result.err
    assert "2026-0001" in result.out
    case = bot.case()
    assert case["channel"] == "oral" and case["received_at"] == "2026-11-20T14:30:00+01:00"
    assert (case["stakeholder"], case["training"]) == ("entreprise", "Latte art")
    (ack,) = bot.sent_to("jean.dupont@example.fr")
    assert "Accusé de réception" in ack.subject and "20 novembre 2026 à 14:30" in text_of(ack.message)


def test_a_web_form_notification_belongs_to_the_address_typed_in(
    bot_factory: Callable[..., Bot], mail_account: MailAccount, tmp_path: Path
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "15-formulaire.toml").write_text(
        '[[rule]]\nname = "site"\naction = "claim"\nkind = "reclamation"\nchannel = "form"\nstop = true\n'
        '[rule.when]\nfrom = "^wordpress@cafemetrie\\\\.example$"\n'
    )
    bot = bot_factory(mail_account, extra=f'[rules]\ndir = "{rules}"\n')
    bot.account.append(
        make_mail(
            "Site Cafémétrie <wordpress@cafemetrie.example>",
            DIRECTOR,
            "Nouveau message du formulaire",
            "Nom : Léa Martin\nCourriel : lea.martin@example.fr\nMessage : Mon attestation n'est jamais arrivée.\n",
        )
    )
    bot.cycle()
    case = bot.case()
    assert case["channel"] == "form" and case["claimant"] == "lea.martin@example.fr"
    assert len(bot.sent_to("lea.martin@example.fr")) == 1 and not bot.sent_to("wordpress@cafemetrie.example")


def test_the_register_the_report_and_the_help_come_by_mail(bot: Bot) -> None:
    bot.claim()
    bot.note_to_self("Registre", "#registre\n#rapport\n#aide")
    bot.cycle()
    (mail,) = [m for m in bot.sent_to(DIRECTOR) if "Tableau de suivi" in m.subject]
    (attachment,) = list(mail.message.iter_attachments())
    assert attachment.get_filename().endswith(".xlsx")
    book = openpyxl.load_workbook(io.BytesIO(attachment.get_payload(decode=True)))
    assert book["Dossiers"].cell(row=2, column=1).value == "2026-0001"
    # Every step of the case too: her claim and our acknowledgement, and what happened.
    exchanges = list(book["Échanges"].iter_rows(min_row=2, values_only=True))
    assert sorted((row[0], row[2]) for row in exchanges) == [("2026-0001", "envoyé"), ("2026-0001", "reçu")]
    assert ("2026-0001", "dossier ouvert") in {
        (row[0], row[3]) for row in book["Historique"].iter_rows(values_only=True)
    }
    (report,) = [m for m in bot.sent_to(DIRECTOR) if "Rapport annuel" in m.subject]
    (page,) = list(report.message.iter_attachments())
    assert "<svg" in page.get_payload(decode=True).decode("utf-8")
    assert "#prolonger" in text_of(report_to_director(bot))


def test_dossier_mails_her_the_whole_case_as_one_page_in_her_own_words(bot: Bot) -> None:
    bot.claim()  # 2026-0001
    bot.account.append(make_mail(LEA, DIRECTOR, "Réclamation : facture", "Ma facture est fausse."))  # 2026-0002
    bot.cycle()
    bot.note_to_self("[Dossier 2026-0001]", "#dossier")
    bot.cycle()
    (mail,) = [m for m in bot.sent_to(DIRECTOR) if "le dossier complet" in m.subject]
    assert "Dossier 2026-0001" in mail.subject
    (page,) = list(mail.message.iter_attachments())
    assert page.get_filename() == "dossier-2026-0001.html" and page.get_content_type() == "text/html"
    html = unescape(page.get_payload(decode=True).decode("utf-8"))
    # The facts, the deadlines spelled out, every exchange whole (hers and ours), in French.
    assert "Dossier 2026-0001" in html and "Je n'ai pas reçu mon attestation." in html
    assert "Accusé de réception (15 jours ouvrés)" in html and "délai respecté" in html
    assert "Nous avons bien reçu votre message" in html
    assert "Ma facture est fausse." not in html  # that case is the other one
    assert "Dossier 2026-0001 envoyé en pièce jointe" in text_of(report_to_director(bot))


def test_the_audit_file_comes_by_mail_zipped_and_lighter_when_too_big(
    bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot.account.append(
        make_mail(
            LEA,
            DIRECTOR,
            "Réclamation : attestation non reçue",
            "Je n'ai pas reçu mon attestation.",
            attachments=[("convocation.pdf", b"%PDF-1.4 convocation", "application/pdf")],
        )
    )
    bot.cycle()
    bot.note_to_self("Audit", "#registre audit")
    bot.cycle()
    (mail,) = [m for m in bot.sent_to(DIRECTOR) if "Dossier d'audit" in m.subject]
    (attachment,) = list(mail.message.iter_attachments())
    assert attachment.get_filename() == "dossier-audit-reclamations-tous.zip"
    with zipfile.ZipFile(io.BytesIO(attachment.get_payload(decode=True))) as archive:
        names = archive.namelist()
        page = archive.read("dossier-audit-reclamations-tous/dossiers/2026-0001.html").decode("utf-8")
    assert "dossier-audit-reclamations-tous/index.html" in names
    assert any(name.endswith("-convocation.pdf") for name in names)
    assert "pas reçu mon attestation." in page
    assert "Dossier d'audit envoyé en pièce jointe (1 dossier(s)" in text_of(report_to_director(bot))

    # Too heavy for a mail with its files: it goes without them, and says so.
    monkeypatch.setattr(casework, "AUDIT_MAIL_LIMIT", len(attachment.get_payload(decode=True)) - 1)
    bot.note_to_self("Audit", "#registre 2026 audit")
    bot.cycle()
    light = [m for m in bot.sent_to(DIRECTOR) if "Dossier d'audit des réclamations 2026" in m.subject][-1]
    (attachment,) = list(light.message.iter_attachments())
    with zipfile.ZipFile(io.BytesIO(attachment.get_payload(decode=True))) as archive:
        names = archive.namelist()
        page = archive.read("dossier-audit-reclamations-2026/dossiers/2026-0001.html").decode("utf-8")
    assert not any(name.endswith((".pdf", ".eml")) for name in names)
    assert "(non incluse dans ce fichier)" in page
    assert "les pièces jointes et les messages originaux n'y sont pas" in text_of(light.message)
    assert "sans les pièces jointes ni les messages originaux" in text_of(report_to_director(bot))

    # And refused, with the command that writes it, when even that is too heavy.
    monkeypatch.setattr(casework, "AUDIT_MAIL_LIMIT", 100)
    bot.note_to_self("Audit", "#registre audit")
    bot.cycle()
    assert "inboxbot register export --format html" in text_of(report_to_director(bot))


def test_the_exchange_log_keeps_the_new_text_and_the_archive_keeps_all(bot: Bot, tmp_path: Path) -> None:
    original = bot.claim()
    bot.account.append(
        make_mail(
            LEA,
            DIRECTOR,
            "Re: attestation",
            "Une précision : c'était la session de Lyon.\n\nLe lun. 23 nov. 2026 à 10:00, Alice <alice@cafemetrie.example> a écrit :\n> Bonjour Léa\n> texte cité",
            in_reply_to=original,
        )
    )
    bot.cycle()
    shown = invoke(bot.config, "cases", "show", "2026-0001")
    assert "session de Lyon" in shown.out
    detail = json.loads(invoke(bot.config, "cases", "show", "2026-0001", "--json").out)
    assert "texte cité" not in json.dumps(detail, ensure_ascii=False)
    # The whole mail, quoted history included, is kept and named in the log.
    (reply,) = [m for m in detail["messages"] if "Lyon" in m["text"]]
    assert reply["archive"] in shown.out
    assert b"texte cit" in (tmp_path / "archive" / reply["archive"]).read_bytes()


def test_her_sent_folder_is_found_under_its_french_name(
    bot_factory: Callable[..., Bot], tmp_path: Path, server_dir: Callable[[str], Path]
) -> None:
    server = DovecotServer(server_dir("dovecot-fr"), sent_folder_name="Éléments envoyés")
    server.start()
    try:
        server.add_user("alice", "secret")
        account = MailAccount(server.host, server.port, "alice", "secret", DIRECTOR, server)
        bot = bot_factory(account)
        original = bot.claim()
        reply = make_mail(f"Alice <{DIRECTOR}>", LEA, "RE: attestation", "C'est réglé.", in_reply_to=original)
        account.append(reply, folder="Éléments envoyés")
        bot.cycle()
        assert [m["from"] for m in bot.case()["messages"] if m["direction"] == "out"][-1] == DIRECTOR
    finally:
        server.stop()


def test_a_forged_director_mail_runs_none_of_the_commands(bot: Bot) -> None:
    from inboxbot.domain.mail_commands import COMMANDS

    bot.claim()
    bot.note_to_self("[Dossier 2026-0001]", "#corrective Première action")
    bot.cycle()
    before = bot.case()
    sent_before = len(bot.sink.messages)
    # Every command of the vocabulary, each in its documented example form, in one forged mail.
    lines = "\n".join(spec.example for spec in COMMANDS)
    assert len(COMMANDS) == 31 and lines.count("#") >= 31
    bot.note_to_self("[Dossier 2026-0001]", lines, folders=("INBOX",))
    bot.cycle()
    after = bot.case()
    assert {k: v for k, v in after.items() if k != "messages"} == {k: v for k, v in before.items() if k != "messages"}
    assert len(bot.sink.messages) == sent_before  # no report, no register, no notice to anyone
    bot.cycle(timedelta(minutes=31))
    (warning,) = [m for m in bot.sent_to(DIRECTOR) if "suspect" in m.subject]
    assert text_of(warning.message).count("#") >= 30


def test_the_yearly_review_of_the_procedure_is_asked_for_and_recorded(bot: Bot) -> None:
    def reminders() -> int:
        return len([m for m in bot.sent_to(DIRECTOR) if "Revue annuelle" in m.subject])

    text = bot.config.read_text()
    bot.config.write_text(
        text.replace(f'procedure_reviewed = "{date.today().isoformat()}"', 'procedure_reviewed = "2025-06-30"')
    )
    bot.cycle()
    assert reminders() == 1
    assert "30 juin 2025" in text_of([m for m in bot.sent_to(DIRECTOR) if "Revue annuelle" in m.subject][0].message)
    bot.cycle(timedelta(days=1))
    assert reminders() == 1  # once a month, not every cycle
    bot.cycle(timedelta(days=30))
    assert reminders() == 2
    bot.note_to_self("Revue", "#revue")
    bot.cycle()
    assert "Revue annuelle de la procédure enregistrée" in text_of(report_to_director(bot))
    bot.cycle(timedelta(days=31))
    assert reminders() == 2


# --- dates that must be true ---------------------------------------------------------------------------


def command_report(bot: Bot) -> str:
    return text_of(report_to_director(bot))


def test_a_complaint_is_closed_only_with_an_answer_on_file_and_reopening_clears_its_date(bot: Bot) -> None:
    original = bot.claim()
    bot.note_to_self("[Dossier 2026-0001]", "#clore")
    bot.cycle()
    assert bot.case()["status"] == "open" and bot.case()["responded_at"] is None
    report = command_report(bot)
    assert "n'a pas de réponse au réclamant" in report and "#réponse 2026-0001 " in report

    bot.note_to_self("[Dossier 2026-0001]", "#réponse téléphone attestation renvoyée par la poste\n#clore")
    bot.cycle()
    case = bot.case()
    assert case["status"] == "closed" and case["responded_at"] == case["closed_at"]  # dated by her note
    assert (case["responded_by"], case["response_note"]) == ("phone", "attestation renvoyée par la poste")

    bot.note_to_self("[Dossier 2026-0001]", "#rouvrir")
    bot.cycle()
    assert bot.case()["responded_at"] is None and bot.case()["status"] == "open"
    assert bot.case()["response_note"] is None
    reply = make_mail(f"Alice <{DIRECTOR}>", LEA, "RE: attestation", "La voici en pièce jointe.", in_reply_to=original)
    bot.account.append(reply, folder="Sent")
    bot.cycle(timedelta(minutes=1))
    bot.note_to_self("[Dossier 2026-0001]", "#clore")
    bot.cycle()
    case = bot.case()
    (answer,) = [m for m in case["messages"] if "pièce jointe" in m["text"]]
    assert case["status"] == "closed" and case["responded_at"] == answer["date"] and case["responded_by"] == "email"


def test_her_mail_to_someone_else_is_no_answer_to_a_claimant_without_an_address(bot: Bot) -> None:
    bot.note_to_self("[ORAL] Appel de M. Dupont", "Appel ce matin : salle trop froide.\n")
    bot.cycle()
    bot.account.append(
        make_mail(f"Alice <{DIRECTOR}>", "accueil@lieu.example", "[Dossier 2026-0001] Chauffage", "Pouvez-vous voir ?"),
        folder="Sent",
    )
    bot.cycle()
    assert any("Pouvez-vous voir" in m["text"] for m in bot.case()["messages"])
    bot.note_to_self("[Dossier 2026-0001]", "#clore")
    bot.cycle()
    assert bot.case()["status"] == "open" and "n'a pas de réponse au réclamant" in command_report(bot)


def test_an_incident_is_closed_by_what_was_done_without_an_answer(bot: Bot) -> None:
    bot.account.append(make_mail("Marc <marc@example.fr>", DIRECTOR, "[ALÉA] Salle fermée", "Dégât des eaux."))
    bot.cycle()
    bot.note_to_self("[Dossier 2026-0001]", "#urgence salle de remplacement réservée\n#clore")
    bot.cycle()
    case = bot.case()
    assert case["status"] == "closed" and case["responded_at"] == case["closed_at"]


def test_an_acknowledgement_by_post_is_recorded_with_its_day_and_the_claim_is_not_late(bot: Bot) -> None:
    result = invoke(
        bot.config, "cases", "add", "--subject", "Courrier de M. Dupont", "--channel", "courrier", "--received",
        "02/11/2026 14h30", "--transmitter", "accueil@lieu.example",
    )  # fmt: skip
    assert result.code == 0, result.err
    case = bot.case()
    assert (case["channel"], case["transmitter"]) == ("post", "accueil@lieu.example")
    assert case["received_at"] == "2026-11-02T14:30:00+01:00" and case["acknowledge_due"] == "2026-11-24"
    assert case["acknowledge_met"] is False  # nothing says it was acknowledged: late, as the register must say
    digest = invoke(bot.config, "digest", "--print").out
    assert "2026-0001 — accusé de réception en retard" in digest and "#accusé 2026-0001 <date> courrier" in digest

    bot.note_to_self("[Dossier 2026-0001]", "#accusé 1/11/2026 courrier")  # before its reception: refused
    bot.cycle()
    assert "ne peut précéder la réception" in command_report(bot) and bot.case()["acknowledged_at"] is None
    bot.note_to_self("[Dossier 2026-0001]", "#accusé 2026-11-23 courrier")
    bot.cycle()
    case = bot.case()
    assert case["acknowledged_at"] == "2026-11-23T00:00:00+01:00" and case["acknowledged_by"] == "post"
    assert case["acknowledge_met"] is True
    assert "accusé de réception en retard" not in invoke(bot.config, "digest", "--print").out  # nor in the digest
    (event,) = [e for e in case["history"] if e["event"] == "acknowledged"]
    assert event["detail"].startswith("par courrier, le 23/11/2026") and event["actor"] == DIRECTOR
    bot.note_to_self("[Dossier 2026-0001]", "#accusé téléphone")
    bot.cycle()
    assert "déjà un accusé de réception, du 23/11/2026" in command_report(bot)
    # The register an auditor opens says how, in the spreadsheet as in the CSV.
    for fmt in ("xlsx", "csv"):
        output = bot.config.parent / f"registre.{fmt}"
        assert invoke(bot.config, "register", "export", "--format", fmt, "--output", str(output)).code == 0
    sheet = openpyxl.load_workbook(bot.config.parent / "registre.xlsx")["Dossiers"]
    headers = [cell.value for cell in sheet[1]]
    assert sheet.cell(row=2, column=headers.index("Accusé de réception fait par") + 1).value == "courrier"
    header, row = (bot.config.parent / "registre.csv").read_text(encoding="utf-8-sig").splitlines()[:2]
    assert row.split(";")[header.split(";").index("Accusé de réception fait par")] == "courrier"


def test_a_day_in_the_future_is_refused_not_recorded(bot: Bot) -> None:
    bot.claim()
    tomorrow = (bot.now + timedelta(days=2)).astimezone(PARIS)
    bot.note_to_self("[Dossier 2026-0001]", f"#réponse {tomorrow:%d/%m/%Y} courrier remboursement")
    bot.cycle()
    assert "ne pas être postérieure à votre message" in command_report(bot)
    assert bot.case()["responded_at"] is None


def test_her_own_first_mail_to_the_claimant_is_the_acknowledgement_when_inboxbot_sent_none(bot: Bot) -> None:
    result = invoke(
        bot.config, "cases", "add", "--subject", "Appel de M. Dupont", "--claimant", "jean.dupont@example.fr",
        "--no-acknowledge",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert bot.case()["acknowledged_at"] is None
    bot.account.append(
        make_mail(f"Alice <{DIRECTOR}>", "jean.dupont@example.fr", "[Dossier 2026-0001] Votre appel", "Bien noté."),
        folder="Sent",
    )
    bot.cycle()
    case = bot.case()
    (mine,) = [m for m in case["messages"] if "Bien noté" in m["text"]]
    assert case["acknowledged_at"] == mine["date"] and case["acknowledged_by"] == "email"
    assert case["acknowledge_met"] is True
    assert not bot.sent_to("jean.dupont@example.fr")  # and inboxbot sends nothing more


def test_a_claim_received_on_paper_is_dated_and_channelled_by_mail(bot: Bot) -> None:
    bot.note_to_self(
        "[ORAL] Lettre de Mme Petit",
        "Lettre reçue au centre.\n#reçu 20/11/2026 14h30\n#canal courrier\n#transmis par l'accueil du centre\n",
    )
    bot.cycle()
    case = bot.case()
    assert case["received_at"] == "2026-11-20T14:30:00+01:00" and case["channel"] == "post"
    assert case["acknowledge_due"] == "2026-12-11" and case["transmitter"] == "l'accueil du centre"
    (changed,) = [e for e in case["history"] if e["event"] == "set:received"]
    assert changed["detail"].endswith("→ 20/11/2026 14:30")  # the history keeps both values


# --- wording a claimant reads --------------------------------------------------------------------------


def test_the_acknowledgement_names_the_mediator_and_promises_a_working_day(
    bot_factory: Callable[..., Bot], mail_account: MailAccount
) -> None:
    bot = bot_factory(
        mail_account, extra='[mediator]\nname = "Médiation Exemple"\ncontact = "https://mediation.example"\n'
    )
    bot.claim()
    (ack,) = bot.sent_to("lea.martin@example.fr")
    text = text_of(ack.message)
    assert "recourir au médiateur que nous avons désigné : Médiation Exemple (https://mediation.example)" in text
    due = date.fromisoformat(bot.case()["response_due"])
    assert due.weekday() < 5 and "au plus tard le samedi" not in text and "au plus tard le dimanche" not in text


def test_an_extension_never_promises_a_sunday(bot: Bot) -> None:
    bot.claim()
    due = date.fromisoformat(bot.case()["response_due"])
    days = next(n for n in range(1, 8) if (due + timedelta(days=n)).weekday() == 6)  # lands on a Sunday
    bot.note_to_self("[Dossier 2026-0001]", f"#prolonger {days} attente du retour du financeur")
    bot.cycle()
    extended = date.fromisoformat(bot.case()["extended_response_due"])
    assert extended.weekday() < 5 and due + timedelta(days=days - 3) <= extended < due + timedelta(days=days)
    (notice,) = [m for m in bot.sent_to("lea.martin@example.fr") if "prolongé" in m.subject]
    assert "au plus tard le dimanche" not in text_of(notice.message)


# --- the annual report ---------------------------------------------------------------------------------


def test_a_risk_analysed_by_mail_is_dated_and_reaches_the_annual_report(bot: Bot) -> None:
    bot.note_to_self("Qualité", "#risque une seule salle partenaire : en prévoir une seconde")
    bot.cycle()
    assert "Analyse de risque enregistrée" in command_report(bot)
    year = bot.now.astimezone(PARIS).year
    bot.note_to_self("Rapport", f"#rapport {year}")
    bot.cycle()
    (report,) = [m for m in bot.sent_to(DIRECTOR) if "Rapport annuel" in m.subject]
    (page,) = list(report.message.iter_attachments())
    html = page.get_payload(decode=True).decode("utf-8")
    assert "Analyse des risques qualité" in html
    assert re.search(r"<td>\d\d/\d\d/\d{4}</td><td>une seule salle partenaire : en prévoir une seconde</td>", html)


# -- authority comes from proof; nobody is mailed on a stranger's say-so beyond a bound -------------

FORWARDED_VICTIM = (
    "Merci de traiter ceci.\n\n"
    "---------- Message transféré ---------\n"
    "De : Victime <victim@target.example>\n"
    "Date : lun. 23 nov. 2026 à 09:12\n"
    "Objet : Achetez maintenant\n"
    "À : accueil@lieu.example\n\n"
    "Offre exceptionnelle, cliquez ici.\n"
)


def test_a_forged_director_forward_mails_no_one_and_is_reported_once(bot: Bot) -> None:
    """The open reflector: her address forged in From, [RECLAMATION] and a forwarded block naming
    a victim, sent to anyone or to no one: no case « transmise par la directrice », nothing to the
    victim, one alert to her, every mail in the digest."""
    for n in range(8):
        to = [] if n == 0 else [f"someone{n}@elsewhere.example"]
        raw = make_mail(f"Alice <{DIRECTOR}>", to, f"TR: [RECLAMATION] Promo {n}", FORWARDED_VICTIM)
        bot.account.append(raw)
    bot.cycle()
    assert not bot.sent_to("victim@target.example")
    assert not [c for c in bot.cases() if c["channel"] == "third_party" or c["claimant"] == "victim@target.example"]
    bot.cycle(timedelta(minutes=31))
    bot.cycle(timedelta(hours=1))
    assert not bot.sent_to("victim@target.example")
    (alert,) = [m for m in bot.sent_to(DIRECTOR) if "suspect" in m.subject]
    assert "Promo" in text_of(alert.message)
    assert "Messages suspects (8)" in bot.digest()
    assert {m.rcpt_tos[0] for m in bot.sink.messages} == {DIRECTOR}


def test_her_forward_proven_only_by_a_later_sent_copy_still_opens_the_case(bot: Bot) -> None:
    """The legitimate flow beside it: the delivered copy of her forward waits, and its copy in Sent,
    read a cycle later, opens the case and acknowledges its author, once."""
    message_id = bot.note_to_self("TR: [RECLAMATION] Plainte sur la salle", FORWARDED_VICTIM, folders=("INBOX",))
    bot.cycle()
    assert bot.cases() == [] and not bot.sent_to("victim@target.example")
    raw = make_mail(
        f"Alice <{DIRECTOR}>",
        DIRECTOR,
        "TR: [RECLAMATION] Plainte sur la salle",
        FORWARDED_VICTIM,
        message_id=message_id,
    )
    bot.account.append(raw, folder="Sent")
    bot.cycle()
    (case,) = bot.cases()
    assert case["channel"] == "email" and case["claimant"] == "victim@target.example"
    assert case["received_from"] == "forwarded_header"
    bot.cycle(timedelta(minutes=31))
    assert len(bot.sent_to("victim@target.example")) == 1
    assert not [m for m in bot.sent_to(DIRECTOR) if "suspect" in m.subject]


def test_a_forged_director_from_joins_no_case_but_her_own_copied_reply_does(bot: Bot) -> None:
    """A forged From with the case's tag, or In-Reply-To the claimant's mail, to anyone: not in
    the case, not « from the director ». Her real reply, copied to herself, is in it once, from Sent."""
    original = bot.claim()
    bot.account.append(
        make_mail(f"Alice <{DIRECTOR}>", LEA, "RE: Réclamation", "Première réponse.", in_reply_to=original),
        folder="Sent",
    )
    bot.cycle()
    for headers in ({}, {"In-Reply-To": f"<{original}>"}):
        forged = make_mail(
            f"Alice <{DIRECTOR}>",
            "someone@elsewhere.example",
            "[Dossier 2026-0001] Informations",
            "Texte usurpé, à ne pas verser au dossier.",
            extra_headers=headers,
        )
        bot.account.append(forged)
    bot.cycle()
    bot.cycle(timedelta(minutes=31))
    case = bot.case()
    assert not [m for m in case["messages"] if "usurpé" in m["text"]]
    assert not [e for e in case["history"] if "usurpé" in str(e["detail"])]
    assert "Messages suspects (2)" in bot.digest()

    # Her reply to Léa with a copy to herself: the delivered copy waits, the Sent copy proves it.
    message_id = make_msgid(domain="cafemetrie.example")
    reply = make_mail(
        f"Alice <{DIRECTOR}>",
        [LEA, DIRECTOR],
        "RE: Réclamation : attestation non reçue",
        "Votre attestation est repartie ce matin.",
        message_id=message_id,
        in_reply_to=original,
        references=[original],
    )
    bot.account.append(reply)
    bot.cycle()
    bot.account.append(reply, folder="Sent")
    bot.cycle()
    (logged,) = [m for m in bot.case()["messages"] if "repartie" in m["text"]]
    assert logged["direction"] == "out" and logged["note"] == "written by the director"


def test_the_daily_cap_counts_the_mailbox_acknowledged_whatever_its_spelling(bot: Bot) -> None:
    spellings = [
        "Lea.Martin+1@gmail.com",
        "leamartin+promo@googlemail.com",
        "LEA.MARTIN@gmail.com",
        "l.e.a.martin@gmail.com",
        "leamartin@gmail.com",
    ]
    for address in spellings:
        bot.account.append(make_mail(f"Léa <{address}>", DIRECTOR, "Réclamation", "Encore une."))
    bot.cycle()
    assert len(bot.cases()) == 5  # every claim is registered
    acknowledged = [m for m in bot.sink.messages if "Accusé" in m.subject]
    assert len(acknowledged) == 3
    assert "plafond quotidien" in bot.digest()
    # The next day the same person is acknowledged again.
    bot.account.append(make_mail("Léa <lea.martin@gmail.com>", DIRECTOR, "Réclamation", "Le lendemain."))
    bot.cycle(timedelta(days=1))
    assert len([m for m in bot.sink.messages if "Accusé" in m.subject]) == 4


def test_the_web_form_is_capped_on_the_address_typed_in(
    bot_factory: Callable[..., Bot], mail_account: MailAccount, tmp_path: Path
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "15-formulaire.toml").write_text(
        '[[rule]]\nname = "site"\naction = "claim"\nkind = "reclamation"\nchannel = "form"\nstop = true\n'
        '[rule.when]\nfrom = "^wordpress@cafemetrie\\\\.example$"\n'
    )
    bot = bot_factory(mail_account, extra=f'[rules]\ndir = "{rules}"\n')
    for n, typed in enumerate(["victim@target.example", "Victim+a@target.example", "victim+b@TARGET.example"] * 2):
        bot.account.append(
            make_mail(
                "Site Cafémétrie <wordpress@cafemetrie.example>",
                DIRECTOR,
                "Nouveau message du formulaire",
                f"Nom : X{n}\nCourriel : {typed}\nMessage : Spam numéro {n}.\n",
            )
        )
    bot.cycle()
    assert len(bot.cases()) == 6
    assert len([m for m in bot.sink.messages if "Accusé" in m.subject]) == 3


def test_no_acknowledgement_when_her_server_records_a_dmarc_fail_for_the_sender(bot: Bot) -> None:
    forged = make_mail(
        "Victime <victim@target.example>",
        DIRECTOR,
        "Réclamation : votre formation",
        "Texte d'un usurpateur.",
        extra_headers={
            "Authentication-Results": f"{TRUSTED_MX}; dkim=none; spf=fail smtp.mailfrom=target.example; "
            "dmarc=fail (p=REJECT) header.from=target.example"
        },
    )
    honest = make_mail(
        LEA,
        DIRECTOR,
        "Réclamation : attestation",
        "Je n'ai rien reçu.",
        extra_headers={"Authentication-Results": f"{TRUSTED_MX}; dmarc=pass header.from=example.fr"},
    )
    # Below a trusted server's own header, a forged "fail" written by the sender counts for nothing.
    planted = make_mail(
        "Marc <marc@example.org>",
        DIRECTOR,
        "Réclamation : planning",
        "Le planning a changé trois fois.",
        extra_headers=[
            ("Authentication-Results", f"{TRUSTED_MX}; dmarc=pass header.from=example.org"),
            ("Authentication-Results", f"{TRUSTED_MX}; dmarc=fail header.from=example.org"),
        ],
    )
    for raw in (forged, honest, planted):
        bot.account.append(raw)
    bot.cycle()
    # The forged one is not registered on a rule's say-so: it waits before her, marked.
    assert sorted(c["claimant"] for c in bot.cases()) == ["lea.martin@example.fr", "marc@example.org"]
    assert not bot.sent_to("victim@target.example")
    assert len(bot.sent_to("lea.martin@example.fr")) == 1 and len(bot.sent_to("marc@example.org")) == 1
    digest = bot.digest()
    assert "victim@target.example" in digest and "dmarc=fail header.from=target.example" in digest
    assert "#ouvrir M-" in digest


def test_a_strangers_subject_and_name_are_not_echoed_unbounded(bot: Bot) -> None:
    subject = "Réclamation " + "achetez nos pilules " * 100
    # Within the name column (256 characters on PostgreSQL; longer is issue 14's item 3), far beyond the clamp.
    name = "Jean " + "Gagnant-du-loto " * 15
    bot.account.append(make_mail(f"{name} <jean@example.fr>", DIRECTOR, subject, "Bonjour."))
    bot.cycle()
    (ack,) = bot.sent_to("jean@example.fr")
    assert len(ack.subject) < 200 and "…" in ack.subject
    assert len(str(ack.message["To"])) < 150
    body = text_of(ack.message)
    assert body.count("pilules") < 10 and body.count("Gagnant") < 6
    assert bot.case()["subject"].count("pilules") == 100  # the register keeps what was written


def test_a_busy_morning_is_never_held_back_by_default(bot: Bot) -> None:
    """No limit in all unless one is configured: sixty different people are all acknowledged."""
    for n in range(60):
        bot.account.append(make_mail(f"Client {n} <client{n}@example.fr>", DIRECTOR, "Réclamation", f"Numéro {n}."))
    bot.cycle()
    assert len([m for m in bot.sink.messages if "Accusé" in m.subject]) == 60


def test_a_total_cap_when_configured_registers_all_and_acknowledges_up_to_it(
    bot_factory: Callable[..., Bot], mail_account: MailAccount
) -> None:
    bot = bot_factory(mail_account, extra="[acknowledgement]\ndaily_cap_total = 2\n")
    for n in range(4):
        bot.account.append(make_mail(f"Client {n} <client{n}@example.fr>", DIRECTOR, "Réclamation", f"Numéro {n}."))
    bot.cycle()
    assert len(bot.cases()) == 4
    assert len([m for m in bot.sink.messages if "Accusé" in m.subject]) == 2
    assert "plafond quotidien global" in bot.digest()


def test_every_exchange_step_is_in_the_register_an_auditor_opens(bot: Bot, tmp_path: Path) -> None:
    """A complaint, its acknowledgement, the claimant's reply and the director's commands by mail end in
    the register's sheets of exchanges and history (and their CSV tables), each original where the
    audit file keeps it, and the rules that opened the case on its row."""
    # Each step minutes apart, by the server's clock (INTERNALDATE) as by the bot's.
    start = bot.now

    def at(minutes: int) -> datetime:
        return start + timedelta(minutes=minutes)

    claim_id = make_msgid(domain="example.fr")
    body = "Bonjour,\n\nJe n'ai pas reçu mon attestation.\n\n\nLéa"
    bot.account.append(make_mail(LEA, DIRECTOR, "Réclamation : attestation", body, claim_id), internaldate=at(1))
    bot.cycle(later=timedelta(minutes=2))
    number = bot.case()["number"]
    (ack,) = bot.sent_to("lea.martin@example.fr")
    reply = make_mail(
        LEA,
        DIRECTOR,
        f"RE : {ack.subject}",
        "Merci.\n\nJ'en ai besoin pour mon employeur avant la fin du mois.",
        in_reply_to=ack.message["Message-ID"],
    )
    bot.account.append(reply, internaldate=at(10))
    bot.cycle(later=timedelta(minutes=9))
    commands = make_mail(
        f"Alice <{DIRECTOR}>",
        DIRECTOR,
        f"RE: [Dossier {number}] suivi",
        "#prolonger 10 attente du retour du financeur\n#note appel de Léa, très courtoise\n#type difficulté",
        make_msgid(domain="cafemetrie.example"),
    )
    for folder in ("Sent", "INBOX"):  # her client's copy in Sent, the delivered one in INBOX
        bot.account.append(commands, folder=folder, internaldate=at(20))
    bot.cycle(later=timedelta(minutes=10))
    (_ack, notice) = bot.sent_to("lea.martin@example.fr")

    xlsx = tmp_path / "registre.xlsx"
    assert invoke(bot.config, "register", "export", "--format", "xlsx", "--output", str(xlsx)).code == 0
    book = openpyxl.load_workbook(xlsx)
    assert book.sheetnames == ["Dossiers", "Actions", "Échanges", "Historique"]

    def rows(title: str) -> list[dict[str, Any]]:
        values = list(book[title].iter_rows(values_only=True))
        return [dict(zip(values[0], row, strict=True)) for row in values[1:]]

    (case,) = rows("Dossiers")
    assert case["Type"] == "difficulté" and case["Règles qui ont ouvert le dossier"]
    assert case["Règles qui ont ouvert le dossier"] == ", ".join(bot.case()["rules"])
    exchanges = rows("Échanges")
    assert [(e["Dossier"], e["Sens"], e["De"], e["À"]) for e in exchanges] == [
        (number, "reçu", "lea.martin@example.fr", DIRECTOR),
        (number, "envoyé", DIRECTOR, "lea.martin@example.fr"),
        (number, "reçu", "lea.martin@example.fr", DIRECTOR),
        (number, "envoyé", DIRECTOR, "lea.martin@example.fr"),
    ]
    claim, acknowledgement, reply, extension = exchanges
    assert claim["Objet"] == "Réclamation : attestation"
    assert claim["Résumé"] == "Bonjour,\nJe n'ai pas reçu mon attestation.\nLéa"
    assert claim["Date"] == at(1).astimezone(PARIS).replace(tzinfo=None, microsecond=0)
    assert (acknowledgement["Objet"], extension["Objet"]) == (ack.subject, notice.subject)
    assert "attente du retour du financeur" in extension["Résumé"]
    assert reply["Résumé"] == "Merci.\nJ'en ai besoin pour mon employeur avant la fin du mois."
    assert all(isinstance(e["Date"], datetime) for e in exchanges)
    history = [(h["Auteur"], h["Événement"], h["Détail"]) for h in rows("Historique")]
    assert (DIRECTOR, "note", "appel de Léa, très courtoise") in history
    assert (DIRECTOR, "requalifié", "réclamation → difficulté") in history
    (extended,) = [h for h in history if h[1] == "délai de réponse prolongé"]
    assert extended[0] == DIRECTOR and extended[2].endswith(" : attente du retour du financeur")
    assert ("inboxbot", "envoyé : accusé de réception", "lea.martin@example.fr") in history
    assert ("inboxbot", "envoyé : avis de prolongation", "lea.martin@example.fr") in history

    # The same tables as CSV, one per file; and each original is where the audit file says it is.
    for table, sheet_rows in (("exchanges", exchanges), ("history", rows("Historique"))):
        out = tmp_path / f"{table}.csv"
        assert (
            invoke(bot.config, "register", "export", "--format", "csv", "--table", table, "--output", str(out)).code
            == 0
        )
        header, *lines = csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig")), delimiter=";")
        assert header == list(sheet_rows[0]) and len(lines) == len(sheet_rows)
    site = tmp_path / "audit"
    assert invoke(bot.config, "register", "export", "--format", "html", "--output", str(site)).code == 0
    for exchange in exchanges:
        original = site / exchange["Message original (dossier d'audit)"]
        assert original.is_file(), original
    assert b"J'en ai besoin pour mon employeur" in (site / reply["Message original (dossier d'audit)"]).read_bytes()
