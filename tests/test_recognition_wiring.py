"""Shared mode reads every human mail no rule settled: open when sure, put before the director when
possible (no acknowledgement, « à qualifier » in every digest until she decides), leave otherwise.

The pure decision first, then the spam marks and the web-form plugins, then the whole story through a
real Dovecot and SMTP sink: a complaint without the keyword is put before her, she qualifies it from
her reply to the digest, its author is acknowledged exactly once, and `mails list` accounts for
every mail.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import make_msgid
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import MailAccount
from e2e import invoke, offline_config, register, write_config
from mails import make_mail
from servers import SmtpSink

from inboxbot.bootstrap import App, build
from inboxbot.config import load
from inboxbot.domain.deadlines import DuePolicy, WorkingDayCalendar
from inboxbot.domain.decide import (
    MAX_NOTES,
    NOTE_CHARS,
    Candidate,
    Facts,
    Ignore,
    OpenCase,
    Policy,
    PutBefore,
    Recognition,
    decide,
    qualify,
)
from inboxbot.domain.mail_commands import Command, parse_commands
from inboxbot.domain.message import Address, ParsedMail
from inboxbot.domain.rules import Verdict
from inboxbot.domain.vocabulary import Kind
from inboxbot.procedure.digest import build_digest, queue_digest
from inboxbot.procedure.forwards import recognition_of
from inboxbot.procedure.pipeline import CycleReport, Pipeline, run_once
from inboxbot.reading.parse import parse
from inboxbot.reading.proof import spam_mark
from inboxbot.reading.recognition import Assessment
from inboxbot.reading.webform import form_plugin, read_form

PARIS = ZoneInfo("Europe/Paris")
DIRECTOR = "alice@cafemetrie.example"
SOPHIE = "Sophie Bernard <sophie.bernard@example.fr>"
TRUSTED_MX = "mx.cafemetrie.example"

POLICY = Policy(
    mode="shared",
    acknowledge=True,
    daily_cap_per_sender=3,
    due=DuePolicy(WorkingDayCalendar.for_country(), PARIS),
    own_addresses=frozenset({DIRECTOR}),
)
NO_RULE = Verdict(None, None, None, None, None, ())
RECEIVED = datetime(2026, 11, 30, 9, 15, tzinfo=PARIS)


def facts(recognition: Recognition | None = None, verdict: Verdict = NO_RULE, **changes: Any) -> Facts:
    mail = ParsedMail(
        message_id="m1@example.fr",
        subject="Formation Excel de mardi",
        from_=Address("sophie.bernard@example.fr", "Sophie Bernard"),
        to=(Address(DIRECTOR),),
        text="Je suis déçue.",
    )
    return replace(
        Facts(mail=mail, folder_role="inbox", received_at=RECEIVED, thread=None, verdict=verdict),
        recognition=recognition,
        **changes,
    )


def recognised(outcome: str, kind: str = "reclamation") -> Recognition:
    return Recognition(outcome, kind, 4.5, ("déçue", "ne correspondait pas"), "ne correspondait pas du tout")


# -- the decision ---------------------------------------------------------------------------------


def test_sure_opens_a_case_that_says_why() -> None:
    decision = decide(facts(recognised("open", "alea")), POLICY)
    assert isinstance(decision, OpenCase)
    assert (decision.kind, decision.acknowledgement) == ("alea", "incident_acknowledgement")
    assert decision.received_at == RECEIVED
    assert any("déçue" in hit and "recognition:open" in hit for hit in decision.rules_hit)


def test_possible_is_put_before_the_director_without_acknowledgement() -> None:
    decision = decide(facts(recognised("candidate")), POLICY)
    assert isinstance(decision, PutBefore)
    assert decision.outcome == "candidate"
    assert decision.reasons == ("déçue", "ne correspondait pas")
    assert decision.claimant == Address("sophie.bernard@example.fr", "Sophie Bernard")
    assert decision.excerpt == "ne correspondait pas du tout"


def test_the_recognizers_notes_reach_the_candidate_bounded() -> None:
    """Why it is before her beyond the words travels with it; the notes may quote a hostile mail, so
    a few are kept, the last ones (those that settled the outcome), each on one line and capped."""
    learned = "modèle appris : ressemble à une réclamation ou un aléa (probabilité 91 %)"
    quoting = "une clause offre une voie de recours (« " + "médiateur\x00\n" * 20_000 + " ») : pas un grief"
    notes = (quoting, "atténué : un évènement annoncé", "atténué : une réponse d'absence", "un de plus", learned)
    read = recognition_of(Assessment("candidate", Kind.RECLAMATION, 2.5, ("sous quinze jours",), "", notes))
    assert len(read.notes) == MAX_NOTES and read.notes[-1] == learned
    assert read.notes[0] == "atténué : un évènement annoncé"
    huge = recognition_of(Assessment("candidate", Kind.RECLAMATION, 2.5, (), "", (quoting,))).notes[0]
    assert len(huge) == NOTE_CHARS and huge.endswith("…") and "\n" not in huge
    decision = decide(facts(replace(recognised("candidate"), notes=read.notes)), POLICY)
    assert isinstance(decision, PutBefore) and decision.notes == read.notes
    assert learned not in decision.note  # the English reason stays English; the notes are hers


def test_ordinary_mail_is_left_with_its_reason() -> None:
    left = decide(facts(recognised("leave")), POLICY)
    assert isinstance(left, Ignore) and left.outcome == "ignored"
    assert "recognition:leave" in left.reason
    unread = decide(facts(None), POLICY)
    assert isinstance(unread, Ignore) and unread.reason == "no rule claimed it"


def test_spam_is_never_opened_automatically_even_by_a_rule() -> None:
    spam = "X-Spam-Flag: YES"
    by_words = decide(facts(recognised("open"), spam=spam), POLICY)
    assert isinstance(by_words, PutBefore) and by_words.spam == spam
    by_rule = decide(
        facts(verdict=Verdict("claim", "reclamation", None, None, None, ("40-complaint-words.toml:x",)), spam=spam),
        POLICY,
    )
    assert isinstance(by_rule, PutBefore) and by_rule.spam == spam and "marked as spam" in by_rule.note
    assert isinstance(decide(facts(verdict=by_rule_verdict()), POLICY), OpenCase)  # the same without the mark


def by_rule_verdict() -> Verdict:
    return Verdict("claim", "reclamation", None, None, None, ("40-complaint-words.toml:x",))


def test_dedicated_mode_still_opens_every_human_mail() -> None:
    dedicated = replace(POLICY, mode="dedicated")
    assert isinstance(decide(facts(recognised("leave")), dedicated), OpenCase)
    assert isinstance(decide(facts(None), dedicated), OpenCase)


def test_a_case_opened_from_a_candidate_is_the_originals() -> None:
    candidate = Candidate(
        reference="M-0042",
        claimant=Address("sophie.bernard@example.fr", "Sophie Bernard"),
        subject="RE: Formation Excel de mardi",
        received_at=RECEIVED,
        kind="reclamation",
        channel="email",
        reasons=("déçue",),
    )
    opened = qualify(candidate, None, POLICY, acknowledgements_today=0)
    assert (opened.claimant, opened.received_at, opened.subject) == (
        candidate.claimant,
        RECEIVED,
        "Formation Excel de mardi",
    )
    assert opened.acknowledge_due == POLICY.due.acknowledge_due(RECEIVED)
    assert opened.acknowledgement == "acknowledgement"
    assert "qualified:M-0042" in opened.rules_hit
    as_alea = qualify(candidate, "alea", POLICY, acknowledgements_today=0)
    assert (as_alea.kind, as_alea.acknowledgement) == ("alea", "incident_acknowledgement")
    capped = qualify(candidate, None, POLICY, acknowledgements_today=3)
    assert capped.acknowledgement is None and "daily cap" in capped.note


# -- spam marks -----------------------------------------------------------------------------------


def headers(**values: str | tuple[str, ...]) -> ParsedMail:
    return ParsedMail(
        message_id=None,
        subject="Remboursement",
        from_=Address("x@banque.example"),
        headers={k.replace("_", "-").lower(): v if isinstance(v, tuple) else (v,) for k, v in values.items()},
    )


@pytest.mark.parametrize(
    ("mail", "expected"),
    [
        (headers(X_Spam_Flag="YES"), "X-Spam-Flag: YES"),
        (headers(X_Spam_Status="Yes, score=8.1 required=5.0"), "X-Spam-Status: Yes, score=8.1 required=5.0"),
        (headers(X_Spam_Flag="NO", X_Spam_Status="No, score=0.3"), None),
        (
            headers(Authentication_Results=f"{TRUSTED_MX}; dmarc=fail (p=reject) header.from=banque.example"),
            f"dmarc=fail header.from=banque.example by {TRUSTED_MX}",
        ),
        # A DMARC fail is only believed from her receiving server, and only its topmost header.
        (headers(Authentication_Results="mx.elsewhere.example; dmarc=fail header.from=a.example"), None),
        (
            headers(
                Authentication_Results=(
                    f"{TRUSTED_MX}; dmarc=pass header.from=example.fr",
                    f"{TRUSTED_MX}; dmarc=fail header.from=example.fr",
                )
            ),
            None,
        ),
    ],
)
def test_what_the_receiving_server_marked_as_spam(mail: ParsedMail, expected: str | None) -> None:
    assert spam_mark(mail, [TRUSTED_MX]) == expected


# -- web forms ------------------------------------------------------------------------------------


def site_mail(subject: str, text: str, from_: str = "wordpress@cafemetrie.com", html: str | None = None) -> ParsedMail:
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = from_
    message["To"] = DIRECTOR
    message["Subject"] = subject
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return parse(message.as_bytes())


@pytest.mark.parametrize(
    ("mail", "plugin"),
    [
        (
            site_mail(
                "[Cafémétrie] Salle fermée",
                "De : Léa Martin <lea.martin@exemple.fr>\nObjet : Salle fermée\n\nCorps du message :\nLa salle était "
                "fermée.\n\n-- \nCet e-mail a été envoyé via le formulaire de contact de Cafémétrie "
                "(https://cafemetrie.com)\n",
            ),
            "Contact Form 7",
        ),
        (
            site_mail(
                'Nouveau message de "Cafémétrie"',
                "Nom: Léa Martin\nE-mail: lea.martin@exemple.fr\nMessage: La salle était fermée.\n\n---\n\n"
                "Date: 3 novembre 2026\nURL de la page: https://cafemetrie.com/reclamation/\nPropulsé par: Elementor\n",
            ),
            "Elementor",
        ),
        (
            site_mail(
                "Nouvelle entrée : Réclamation",
                "--- Nom ---\n\nLéa Martin\n\n--- Adresse e-mail ---\n\nlea.martin@exemple.fr\n\n--- Message ---\n\n"
                "La salle était fermée.\n",
            ),
            "WPForms",
        ),
        (
            site_mail(
                "Nouvelle soumission : Réclamations",
                "Votre nom\nLéa Martin",
                html='<table><tr bgcolor="#EAF2FA"><td colspan="2"><strong>Votre nom</strong></td></tr>'
                '<tr bgcolor="#FFFFFF"><td>&nbsp;</td><td>Léa Martin</td></tr></table>',
            ),
            "Gravity Forms",
        ),
        (
            site_mail(
                "New response for Réclamation",
                "Votre adresse e-mail ?\nlea.martin@exemple.fr\n\nQue s'est-il passé ?\nLa salle était fermée.\n",
                from_="Typeform <notifications@typeform.com>",
            ),
            "Typeform",
        ),
        (
            site_mail(
                "Réclamations : nouvelle réponse", "Voir les réponses", from_="forms-receipts-noreply@google.com"
            ),
            "Google Forms",
        ),
        (site_mail("Nouveau message de Paul", "Salut, on déjeune jeudi ?", from_="paul@example.fr"), None),
    ],
    ids=["cf7", "elementor", "wpforms", "gravity", "typeform", "google", "not-a-form"],
)
def test_the_usual_form_plugins_are_recognised(mail: ParsedMail, plugin: str | None) -> None:
    assert form_plugin(mail) == plugin


def test_typeforms_question_labels_give_the_claimant() -> None:
    mail = site_mail(
        "New response for Réclamation",
        "Votre adresse e-mail ?\nlea.martin@exemple.fr\n\nMessage ?\nLa salle était fermée.\n",
        from_="notifications@typeform.com",
    )
    assert read_form(mail).claimant == Address("lea.martin@exemple.fr", "")


# -- the story, through Dovecot and the SMTP sink ------------------------------------------------------


def text_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


class Story:
    """inboxbot on a fresh mailbox in shared mode, with a clock the test sets."""

    def __init__(self, tmp_path: Path, account: MailAccount, sink: SmtpSink, database_url: str) -> None:
        self.account = account
        self.sink = sink
        self.config = write_config(
            tmp_path,
            imap_host=account.host,
            imap_port=account.port,
            username=account.username,
            password=account.password,
            smtp_port=sink.port,
            database_url=database_url,
            address=DIRECTOR,
            mode="shared",
            extra='[people]\ntrainers = ["marc.formateur@example.fr"]',
        )
        self.now = datetime.now(UTC).replace(microsecond=0)

    def app(self) -> App:
        return build(load(self.config), clock=lambda: self.now)

    def cycle(self) -> None:
        app = self.app()
        try:
            run_once(app)
        finally:
            app.close()

    def digest(self) -> EmailMessage:
        app = self.app()
        try:
            assert queue_digest(app, self.now)
            Pipeline(app).flush_outbox(CycleReport())
        finally:
            app.close()
        digests = [m for m in self.sink.messages if "Suivi des dossiers" in m.subject]
        return BytesParser(policy=policy.default).parsebytes(digests[-1].data)  # type: ignore[return-value]

    def sent_to(self, address: str) -> list[EmailMessage]:
        return [m.message for m in self.sink.messages if address in m.rcpt_tos]

    def mails(self, *args: str) -> list[dict[str, Any]]:
        result = invoke(self.config, "mails", "list", "--json", *args)
        assert result.code == 0, result.err
        rows: list[dict[str, Any]] = json.loads(result.out)
        return rows


def test_a_complaint_in_her_own_words_is_put_before_the_director_and_qualified_by_reply(
    tmp_path: Path, mail_account: MailAccount, smtp_sink: SmtpSink, database_url: str
) -> None:
    story = Story(tmp_path, mail_account, smtp_sink, database_url)
    story.cycle()  # the first meeting with the empty mailbox

    unhappy = make_msgid(domain="example.fr")
    arrived = (story.now - timedelta(days=2)).astimezone(PARIS).replace(hour=9, minute=15, second=0)
    mail_account.append(
        make_mail(
            SOPHIE,
            DIRECTOR,
            "Formation Excel de mardi",
            # One mild signal, no second kind of evidence: possible, never sure.
            "Bonjour,\n\nJe suis très déçue par la formation Excel de mardi.\n\nCordialement,\nSophie Bernard",
            message_id=unhappy,
        ),
        internaldate=arrived,
    )
    lunch = make_msgid(domain="example.fr")
    mail_account.append(make_mail("Paul <paul@example.fr>", DIRECTOR, "Déjeuner jeudi ?", "On se voit ?", lunch))
    formal = make_msgid(domain="example.fr")
    mail_account.append(
        make_mail(
            "Jean Dupont <jean.dupont@example.fr>",
            DIRECTOR,
            "Attestation",
            "Bonjour, je souhaite formuler une réclamation : je n'ai toujours pas reçu mon attestation malgré "
            "trois relances.",
            formal,
        )
    )
    spam = make_msgid(domain="banque.example")
    mail_account.append(
        make_mail(
            "Service client <service@banque.example>",
            DIRECTOR,
            "Réclamation : remboursement en attente",
            "Je souhaite formuler une réclamation. Cliquez ici pour votre remboursement.",
            spam,
            extra_headers={"X-Spam-Flag": "YES"},
        )
    )
    story.cycle()

    # Only the sure one is acknowledged, at once; the possible one, the spam and the lunch get nothing.
    (acknowledgement,) = story.sink.wait_for(1)
    assert acknowledgement.rcpt_tos == ["jean.dupont@example.fr"]
    (opened,) = register(story.config)
    assert opened["claimant"] == "jean.dupont@example.fr"
    assert any("formuler une réclamation" in rule for rule in opened["rules"])  # the case says why

    status = invoke(story.config, "status")
    assert "waiting for #ouvrir or #ecarter: 2" in status.out
    candidates = {row["message_id"]: row for row in story.mails("--outcome", "candidate")}
    assert set(candidates) == {unhappy.strip("<>"), spam.strip("<>")}
    reference = candidates[unhappy.strip("<>")]["reference"]
    spam_reference = candidates[spam.strip("<>")]["reference"]
    assert "déçue" in candidates[unhappy.strip("<>")]["words"]
    assert candidates[spam.strip("<>")]["spam"] == "X-Spam-Flag: YES"

    # The digest shows it with its reference, its words, an excerpt, its age and the commands to type.
    story.now += timedelta(minutes=5)
    digest = story.digest()
    text = text_of(digest)
    line = next(line for line in text.splitlines() if line.strip().startswith(f"{reference} —"))
    assert "Sophie Bernard <sophie.bernard@example.fr>" in line and "il y a 2 jours" in line
    assert "mots relevés : déçue" in line and "extrait : « " in line and "par la formation Excel" in line
    for command in (f"#ouvrir {reference}", f"#ouvrir {reference} aléa", f"#ecarter {reference}"):
        assert command in line
        (parsed,) = parse_commands(command)
        assert isinstance(parsed, Command) and f"M-{parsed.mail_id:04d}" == reference
    assert "marqué comme indésirable" in next(line for line in text.splitlines() if spam_reference in line)
    assert text.count(f"{opened['number']} —") == 1  # the new case once, not again under « À qualifier »

    # Her reply to the digest, from her own client: its copy in Sent proves it is hers.
    quoted = "\n".join(f"> {line}" for line in text.splitlines())
    answer = make_msgid(domain="cafemetrie.example")
    reply = make_mail(
        f"Alice <{DIRECTOR}>",
        DIRECTOR,
        f"RE: {digest['Subject']}",
        f"#ouvrir {reference}\n#ecarter {spam_reference}\n\nLe {story.now:%d/%m/%Y} à 08:00, Cafémétrie "
        f"<{DIRECTOR}> a écrit :\n{quoted}\n",
        message_id=answer,
        in_reply_to=str(digest["Message-ID"]),
        references=str(digest["Message-ID"]),
    )
    for folder in ("Sent", "INBOX"):
        mail_account.append(reply, folder=folder)
    story.now += timedelta(minutes=5)
    story.cycle()
    story.cycle()  # and again: nothing is opened or sent twice

    cases = {case["claimant"]: case for case in register(story.config)}
    assert set(cases) == {"jean.dupont@example.fr", "sophie.bernard@example.fr"}
    case = cases["sophie.bernard@example.fr"]
    assert case["kind"] == "reclamation" and case["channel"] == "email"
    assert case["subject"] == "Formation Excel de mardi"
    assert datetime.fromisoformat(case["received_at"]) == arrived  # the original's INTERNALDATE
    assert case["messages"][0]["message_id"] == unhappy.strip("<>")  # the log starts with the original
    acknowledgements = story.sent_to("sophie.bernard@example.fr")
    assert len(acknowledgements) == 1
    assert acknowledgements[0]["In-Reply-To"] == unhappy
    assert case["number"] in str(acknowledgements[0]["Subject"])
    assert not story.sent_to("service@banque.example") and not story.sent_to("paul@example.fr")
    report = [m for m in story.sent_to(DIRECTOR) if "Commandes" in str(m["Subject"])][-1]
    assert f"Message {reference} : dossier {case['number']} ouvert" in text_of(report)

    # Decided: neither is in the next digest; every mail read is accounted for, with why.
    story.now += timedelta(days=1)
    assert reference not in text_of(story.digest())
    everything = {row["message_id"]: row for row in story.mails()}
    assert set(everything) == {m.strip("<>") for m in (unhappy, lunch, formal, spam, answer)}
    assert everything[unhappy.strip("<>")]["outcome"] == "opened"
    assert everything[unhappy.strip("<>")]["case"] == case["number"]
    assert everything[formal.strip("<>")]["outcome"] == "opened"
    assert everything[spam.strip("<>")]["outcome"] == "dismissed"
    assert everything[lunch.strip("<>")]["outcome"] == "ignored"
    assert "recognition:leave" in everything[lunch.strip("<>")]["reason"]
    assert everything[answer.strip("<>")]["outcome"] == "commands"
    assert [row["outcome"] for row in story.mails("--outcome", "case")] == ["opened", "opened"]


def test_a_candidate_never_qualified_stays_in_every_digest_with_its_age(
    tmp_path: Path, mail_account: MailAccount, smtp_sink: SmtpSink
) -> None:
    story = Story(tmp_path, mail_account, smtp_sink, "sqlite:///" + str(tmp_path / "inboxbot.db"))
    story.cycle()
    mail_account.append(
        make_mail(SOPHIE, DIRECTOR, "Formation de mardi", "Bonjour, je suis déçue par la formation de mardi.")
    )
    story.cycle()
    (candidate,) = story.mails("--outcome", "candidate")
    app = story.app()
    try:
        # Counted from when the server received it (its INTERNALDATE), whatever the test's own clock.
        received = datetime.fromisoformat(candidate["received_at"])
        for days in (1, 8):
            built = build_digest(app, received + timedelta(days=days))
            assert built is not None
            line = next(line for line in built.text.splitlines() if candidate["reference"] in line)
            assert f"il y a {days} jours" in line or (days == 1 and "hier" in line)
            assert "1 message à qualifier" in built.subject
    finally:
        app.close()
    assert story.sink.messages == []


def test_a_quiet_claim_only_the_learned_model_sees_reaches_the_digest(
    tmp_path: Path, mail_account: MailAccount, smtp_sink: SmtpSink
) -> None:
    """No phrase of the vocabulary in it, a promise not kept: the learned model puts it before her, the
    digest says so with the words that weighed and the model's note, so she knows no telling phrase
    did; nobody is acknowledged; the table comes from the rules."""
    story = Story(tmp_path, mail_account, smtp_sink, "sqlite:///" + str(tmp_path / "inboxbot.db"))
    story.cycle()
    quiet = make_msgid(domain="example.fr")
    mail_account.append(
        make_mail(
            "Inès Moreau <ines.moreau@example.fr>",
            DIRECTOR,
            "Suite à notre échange",
            "Bonjour Madame,\n\nVous m'aviez indiqué au téléphone le 2 mars que le solde me serait reversé sous"
            " quinze jours. Nous sommes le 20 avril et je ne vois rien sur mon compte. Pouvez-vous regarder ?"
            "\n\nMerci,\nInès",
            quiet,
        )
    )
    lunch = make_msgid(domain="example.fr")
    mail_account.append(
        make_mail(
            "Paul <paul@example.fr>",
            DIRECTOR,
            "Déjeuner jeudi ?",
            "Bonjour Alice, on se retrouve jeudi midi au café du coin comme d'habitude ? Je réserve une table"
            " pour quatre, dis-moi si Marc vient aussi. À jeudi, Paul",
            lunch,
        )
    )
    story.cycle()
    (candidate,) = story.mails("--outcome", "candidate")
    assert candidate["message_id"] == quiet.strip("<>")
    assert "sous quinze jours" in candidate["words"]
    learned = "modèle appris : ressemble à une réclamation ou un aléa (probabilité "
    assert any(note.startswith(learned) for note in candidate["notes"])
    (ignored,) = story.mails("--outcome", "ignored")
    assert ignored["message_id"] == lunch.strip("<>")
    story.now += timedelta(minutes=5)
    digest = story.digest()
    line = next(line for line in text_of(digest).splitlines() if candidate["reference"] in line)
    assert "Inès Moreau <ines.moreau@example.fr>" in line and "sous quinze jours" in line
    # The note follows the words, before the excerpt: why the words alone would not have sufficed.
    assert line.index("mots relevés") < line.index(learned) < line.index("extrait")
    html = digest.get_body(preferencelist=("html",))
    assert html is not None and learned in str(html.get_content())
    assert f"#ouvrir {candidate['reference']}" in line
    assert not story.sent_to("ines.moreau@example.fr") and not story.sent_to("paul@example.fr")


def test_a_clear_grievance_as_shipped_is_before_her_saying_why_it_opened_nothing(
    tmp_path: Path, mail_account: MailAccount, smtp_sink: SmtpSink, database_url: str
) -> None:
    """As shipped, a grievance in the claimant's own words opens nothing by itself: the digest line and
    `mails list` say it is a clear grievance kept for her to qualify, and which setting decides that."""
    story = Story(tmp_path, mail_account, smtp_sink, database_url)
    story.cycle()
    mail_account.append(
        make_mail(
            "Hugo Petit <hugo.petit@example.fr>",
            DIRECTOR,
            "Stage du 12",
            "Votre formateur n'est jamais venu le deuxième jour. Je suis furieux et j'exige d'être remboursé.",
        )
    )
    story.cycle()
    assert register(story.config) == [] and not story.sent_to("hugo.petit@example.fr")
    (candidate,) = story.mails("--outcome", "candidate")
    clear = "grief net, à qualifier : "
    (note,) = [note for note in candidate["notes"] if note.startswith(clear)]
    assert "(seuils.ouvrir_sur_les_mots)" in note
    listed = invoke(story.config, "mails", "list", "--outcome", "candidate")
    assert listed.code == 0 and f"notes : {note}" in listed.out
    story.now += timedelta(minutes=5)
    line = next(line for line in text_of(story.digest()).splitlines() if candidate["reference"] in line)
    assert line.index("mots relevés") < line.index(clear) < line.index("extrait")
    assert f"#ouvrir {candidate['reference']}" in line


def test_a_trainers_report_in_his_own_words_and_the_web_form(
    tmp_path: Path, mail_account: MailAccount, smtp_sink: SmtpSink
) -> None:
    story = Story(tmp_path, mail_account, smtp_sink, "sqlite:///" + str(tmp_path / "inboxbot.db"))
    story.cycle()
    mail_account.append(
        make_mail(
            "Marc <marc.formateur@example.fr>",
            DIRECTOR,
            "Salle B ce matin",
            "Bonjour, le vidéoprojecteur de la salle B est en panne ce matin, la session a commencé avec "
            "30 minutes de retard.",
        )
    )
    mail_account.append(
        make_mail(
            "Cafémétrie <noreply@cafemetrie.com>",
            DIRECTOR,
            "[Cafémétrie] Nouvelle réclamation",
            "De : Léa Martin <lea.martin@example.fr>\nObjet : Salle fermée\n\nCorps du message :\nLa salle était "
            "fermée à notre arrivée.\n\n-- \nCet e-mail a été envoyé via le formulaire de contact de Cafémétrie "
            "(https://cafemetrie.com)\n",
        )
    )
    story.cycle()
    cases = {case["claimant"]: case for case in register(story.config)}
    # The form's claimant is the address typed in, never the website's; no rule of the organisation's.
    assert cases["lea.martin@example.fr"]["channel"] == "form"
    assert story.sent_to("lea.martin@example.fr") and not story.sent_to("noreply@cafemetrie.com")
    # A trainer's report weighs more: it is at least put before her as an aléa, never left alone.
    trainer = next(row for row in story.mails() if row["from"] == "marc.formateur@example.fr")
    assert trainer["outcome"] in ("opened", "candidate")
    assert trainer["kind"] == "alea"


# -- qualifying by mail, on the in-memory mailbox (tests/fakes.py) ---------------------------------


def test_ouvrir_and_ecarter_are_refused_with_a_reason_when_they_cannot_apply(tmp_path: Path) -> None:
    """Twice the same #ouvrir, a reference that names nothing, #ecarter after #ouvrir: nothing
    is opened or acknowledged twice, and her report says why each refused line was refused."""
    from fakes import InMemoryMailbox, RecordingSender

    config = offline_config(tmp_path, "sqlite:///" + str(tmp_path / "inboxbot.db"), DIRECTOR)
    now = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
    mailbox, smtp = InMemoryMailbox(lambda: now), RecordingSender()

    def cycle() -> None:
        app = build(load(config), clock=lambda: now)
        app.mailbox = lambda: mailbox  # type: ignore[method-assign]
        app.sender = lambda: smtp  # type: ignore[method-assign]
        try:
            run_once(app)
        finally:
            app.close()

    def note_to_self(body: str) -> str:
        raw = make_mail(f"Alice <{DIRECTOR}>", DIRECTOR, "Suivi", body, message_id=make_msgid(domain="c.example"))
        mailbox.deliver(raw, "Sent")
        mailbox.deliver(raw)
        cycle()
        (report,) = [m for m in smtp.to(DIRECTOR) if "Commandes" in m.subject][-1:]
        return report.text()

    cycle()
    mailbox.deliver(make_mail(SOPHIE, DIRECTOR, "Formation", "Bonjour, je suis très déçue par la formation de mardi."))
    cycle()
    (candidate,) = json.loads(invoke(config, "mails", "list", "--json", "--outcome", "candidate").out)
    reference = candidate["reference"]
    assert smtp.to("sophie.bernard@example.fr") == []

    first = note_to_self(f"#ouvrir {reference} difficulté")
    assert f"Message {reference} : dossier 2026-0001 ouvert (difficulté)" in first
    (case,) = register(config)
    assert case["kind"] == "difficulte" and case["claimant"] == "sophie.bernard@example.fr"
    again = note_to_self(f"#ouvrir {reference}\n#ecarter {reference}\n#ouvrir M-99999")
    assert f"Le message {reference} a déjà donné le dossier 2026-0001." in again
    assert "Aucun message à qualifier ne porte la référence M-99999." in again
    assert len(register(config)) == 1
    assert len(smtp.to("sophie.bernard@example.fr")) == 1


def test_reporters_are_the_configured_people_and_whoever_sent_a_tagged_report(tmp_path: Path) -> None:
    """The recognizer weighs incidents more from a reporter: the trainers and partners of [people],
    and anyone who already reported one with a tag; a learner is not one."""
    from fakes import InMemoryMailbox, RecordingSender

    config = write_config(
        tmp_path,
        imap_host="127.0.0.1",
        imap_port=9,
        username="alice",
        password="unused",
        smtp_port=9,
        database_url="sqlite:///" + str(tmp_path / "inboxbot.db"),
        address=DIRECTOR,
        extra='[people]\npartners = ["Accueil@Centre.example"]',
    )
    now = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
    mailbox, smtp = InMemoryMailbox(lambda: now), RecordingSender()
    asked: dict[str, bool] = {}

    def cycle() -> None:
        app = build(load(config), clock=lambda: now)
        app.mailbox = lambda: mailbox  # type: ignore[method-assign]
        app.sender = lambda: smtp  # type: ignore[method-assign]
        real = app.recognizer
        assert real is not None

        class Spy:
            def assess(self, subject: str, text: str, *, sender_is_reporter: bool, spam: bool) -> Any:
                asked[subject] = sender_is_reporter
                return real.assess(subject, text, sender_is_reporter=sender_is_reporter, spam=spam)

        app._recognizer = Spy()  # type: ignore[assignment]
        try:
            run_once(app)
        finally:
            app.close()

    cycle()
    mailbox.deliver(make_mail("Marc <marc@example.fr>", DIRECTOR, "[ALEA] Salle inondée", "Dégât des eaux en salle B."))
    cycle()
    for sender, subject in (
        ("Marc <marc@example.fr>", "Salle B"),
        ("Accueil <accueil@centre.example>", "Parking"),
        (SOPHIE, "Vidéoprojecteur"),
    ):
        mailbox.deliver(make_mail(sender, DIRECTOR, subject, "Le vidéoprojecteur est en panne ce matin."))
    cycle()
    assert asked == {"Salle B": True, "Parking": True, "Vidéoprojecteur": False}  # the tagged one needed no reading
