"""The director's daily digest, on pinned dates: weekends, French public holidays, the change of year.

The program is built as `inboxbot run` builds it, on a real SQLite database (and PostgreSQL where
the suite is asked to), with a clock that fails if it is read: the digest must only know the `now`
it is given. Cases are seeded through the store's own API, and the digest's French text is read as
the director would read it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import MailAccount
from databases import fresh_database_url
from e2e import write_config
from mails import make_mail
from servers import SmtpSink
from sqlalchemy import event, select

from inboxbot.bootstrap import App, build
from inboxbot.config import load, settings_from_mapping
from inboxbot.domain.cases import CaseRef
from inboxbot.domain.conversation import ThreadMatch, tagged_numbers
from inboxbot.domain.deadlines import DuePolicy, WorkingDayCalendar
from inboxbot.domain.decide import Attach, Facts, Policy, decide
from inboxbot.domain.mail_commands import Command, parse_commands
from inboxbot.domain.message import Address, ParsedMail
from inboxbot.domain.rules import Verdict
from inboxbot.procedure import digest as digest_module
from inboxbot.procedure.digest import Digest, Line, build_digest, digest_due, gather, queue_digest
from inboxbot.procedure.pipeline import CycleReport, Pipeline, run_once
from inboxbot.store.models import OutboxRow
from inboxbot.store.overview import CLOSED_CASE_NOTE, FEEDBACK_NOTE
from inboxbot.store.repository import MailRecord, OutgoingDraft, Unit

PARIS = ZoneInfo("Europe/Paris")
DIRECTOR = "alice@cafemetrie.example"
LEA = "lea.martin@example.fr"


def paris(year: int, month: int, day: int, hour: int = 8, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=PARIS)


def no_clock() -> datetime:
    raise AssertionError("the digest must use the `now` it is given, never the clock")


def make_app(tmp_path: Path, database_url: str | None = None, smtp_port: int = 2525, **digest: Any) -> App:
    settings = settings_from_mapping(
        {
            "organisation": {"name": "Cafémétrie", "timezone": "Europe/Paris"},
            "imap": {"host": "127.0.0.1", "port": 1143, "security": "plain", "username": DIRECTOR, "password": "x"},
            "smtp": {
                "host": "127.0.0.1",
                "port": smtp_port,
                "security": "plain",
                "from_address": DIRECTOR,
                "from_name": "Cafémétrie",
            },
            "director": {"addresses": [DIRECTOR], "digest_time": "08:00"},
            "database": {"url": database_url or fresh_database_url(tmp_path)},
            "storage": {"archive_dir": str(tmp_path / "archive")},
            "digest": digest,
        },
        tmp_path,
    )
    return build(settings, clock=no_clock)


@dataclass(frozen=True)
class Seeded:
    id: int
    number: str


class Seed:
    """Writes a register through the store's API, as the pipeline and the commands would."""

    def __init__(self, app: App) -> None:
        self.app = app

    def case(
        self,
        received: datetime,
        subject: str = "Attestation non reçue",
        *,
        claimant: str | None = LEA,
        name: str = "Léa Martin",
        kind: str = "reclamation",
        channel: str = "email",
        nature: str | None = "materielle",
        priority: str | None = "normale",
        acknowledge_due: date | None = None,
        response_due: date | None = None,
        acknowledged: bool = True,
        recorded: datetime | None = None,
    ) -> Seeded:
        """A case; acknowledged a minute after reception unless told otherwise, so that its
        acknowledgement deadline stays out of the way of tests about something else."""
        due = self.app.policy.due
        with self.app.store.unit() as unit:
            number = unit.next_case_number(received.astimezone(PARIS).year)
            case_id = unit.open_case(
                number=number,
                kind=kind,
                channel=channel,
                claimant=claimant,
                claimant_name=name if claimant else "",
                subject=subject,
                received_at=received,
                acknowledge_due=acknowledge_due or due.acknowledge_due(received),
                response_due=response_due or due.response_due(received),
                nature=nature,
                priority=priority,
                rules_hit=(),
                now=recorded or received,
            ).id
            if acknowledged and claimant:
                self._outgoing(unit, case_id, "acknowledgement", claimant, received + timedelta(minutes=1), "sent")
        return Seeded(case_id, number)

    def outgoing(
        self, case: Seeded | None, purpose: str, recipient: str, at: datetime, status: str = "sent", error: str = ""
    ) -> None:
        with self.app.store.unit() as unit:
            self._outgoing(unit, case.id if case else None, purpose, recipient, at, status, error)

    def _outgoing(
        self, unit: Unit, case_id: int | None, purpose: str, recipient: str, at: datetime, status: str, error: str = ""
    ) -> None:
        message_id = f"inboxbot.{uuid.uuid4().hex}@cafemetrie.example"
        unit.queue(OutgoingDraft(message_id, case_id, purpose, recipient, f"[{purpose}]", b"x"), at)
        if status == "pending":
            return
        (row,) = [m for m in unit.due_outgoing(at, DIRECTOR) if m.message_id == message_id]
        if status == "sent":
            unit.mark_sent(row.id, at)
        else:
            unit.mark_attempt_failed(row.id, error or "550 5.1.1 mailbox unavailable", at, None)

    def mail(
        self,
        at: datetime,
        *,
        case: Seeded | None = None,
        outcome: str = "attached",
        reason: str = "",
        sender: str | None = LEA,
        name: str = "Léa Martin",
        subject: str = "RE: attestation",
        direction: str = "in",
        to: str = DIRECTOR,
        automatic: str | None = None,
        recorded: datetime | None = None,
    ) -> None:
        key = f"<{uuid.uuid4().hex}@example.fr>"
        with self.app.store.unit() as unit:
            unit.record_mail(
                MailRecord(
                    message_key=key,
                    message_id=key,
                    case_id=case.id if case else None,
                    direction=direction,
                    folder="INBOX" if direction == "in" else "Sent",
                    uidvalidity=1,
                    uid=1,
                    received_at=at,
                    header_date=at,
                    from_address=sender,
                    from_name=name,
                    to_addresses=to,
                    subject=subject,
                    summary="",
                    archive_path="2026/01/x.eml",
                    sha256="0" * 64,
                    size=1,
                    outcome=outcome,
                    reason=reason,
                    automatic=automatic,
                    rules_hit=(),
                ),
                recorded or at,
            )

    def update(self, case: Seeded, **changes: object) -> None:
        with self.app.store.unit() as unit:
            unit.update_case(case.id, **changes)

    def action(self, case: Seeded, kind: str, text: str, due: date, status: str | None = None, owner: str = "") -> int:
        with self.app.store.unit() as unit:
            seq = unit.add_action(case.id, kind, text, paris(2026, 1, 1), owner=owner, due=due)
            if status is not None:
                unit.update_action(case.id, seq, status, "", paris(2026, 1, 1))
        return seq


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    app = make_app(tmp_path)
    yield app
    app.close()


def digest_of(app: App, now: datetime) -> Digest:
    built = build_digest(app, now)
    assert built is not None
    return built


def case_lines(text: str) -> list[str]:
    """The digest's case lines, in order."""
    return [line.strip() for line in text.splitlines() if re.match(r"\s+\d{4}-\d{4} — ", line)]


def block(text: str, start: str, end: str | None = None) -> str:
    """The part of `text` from `start` to the next blank line (or to `end`), or to the end of `text`."""
    begin = text.index(start)
    stop = text.find(end or "\n\n", begin)
    return text[begin : stop if stop != -1 else None]


# -- pinned dates ---------------------------------------------------------------------------------


def test_on_a_friday_a_monday_deadline_is_announced_in_calendar_days_with_its_weekday(tmp_path: Path) -> None:
    """With a one-day horizon a Monday deadline would come up only on Monday morning: the horizon
    reaches at least the next digest day, and says "dans 3 jours", not "1 jour ouvré"."""
    app = make_app(tmp_path, horizon_days=1)
    seed = Seed(app)
    seed.case(paris(2027, 1, 5, 10), "Facture erronée", response_due=date(2027, 1, 11))
    friday = paris(2027, 1, 8)
    text = digest_of(app, friday).text
    assert "2027-0001 — réponse due dans 3 jours (lun. 11/01) : répondre puis #clore 2027-0001" in text
    assert "D'ici le lundi 11 janvier 2027 (1) :" in text
    app.close()

    # Without the weekend skip, there is a digest on Saturday: Monday is not announced on Friday.
    app = make_app(tmp_path, horizon_days=1, skip_non_working_days=False)
    assert "== Échéances ==" not in digest_of(app, friday).text
    assert "2027-0001 — réponse due demain (lun. 11/01)" in digest_of(app, paris(2027, 1, 10)).text
    app.close()


def test_on_the_eve_of_christmas_every_deadline_until_the_next_working_day_is_announced(tmp_path: Path) -> None:
    app = make_app(tmp_path, horizon_days=0)
    seed = Seed(app)
    for due in (date(2026, 12, 24), date(2026, 12, 25), date(2026, 12, 27), date(2026, 12, 28), date(2026, 12, 29)):
        seed.case(paris(2026, 11, 20), f"échéance {due:%d/%m}", response_due=due)
    text = digest_of(app, paris(2026, 12, 24)).text
    assert case_lines(block(text, "== Échéances ==", "\n\n==")) == [
        "2026-0001 — réponse due aujourd'hui (jeu. 24/12) : répondre puis #clore 2026-0001, ou prolonger en "
        "justifiant : #prolonger 2026-0001 <jours> <motif>",
        "2026-0002 — réponse due demain (ven. 25/12, férié) : répondre puis #clore 2026-0002, ou prolonger en "
        "justifiant : #prolonger 2026-0002 <jours> <motif>",
        "2026-0003 — réponse due dans 3 jours (dim. 27/12) : répondre puis #clore 2026-0003, ou prolonger en "
        "justifiant : #prolonger 2026-0003 <jours> <motif>",
        "2026-0004 — réponse due dans 4 jours (lun. 28/12) : répondre puis #clore 2026-0004, ou prolonger en "
        "justifiant : #prolonger 2026-0004 <jours> <motif>",
    ]
    assert "D'ici le lundi 28 décembre 2026 (4) :" in text
    assert digest_due(app, paris(2026, 12, 24, 9))
    assert not digest_due(app, paris(2026, 12, 25, 9))  # Christmas
    assert not digest_due(app, paris(2026, 12, 26, 9))  # Saturday
    assert digest_due(app, paris(2026, 12, 28, 9))
    app.close()


def test_the_day_before_bastille_day_announces_the_holiday_and_the_day_after(tmp_path: Path) -> None:
    app = make_app(tmp_path, horizon_days=0)
    seed = Seed(app)
    for due in (date(2026, 7, 14), date(2026, 7, 15), date(2026, 7, 16)):
        seed.case(paris(2026, 6, 14), response_due=due)
    lines = case_lines(block(digest_of(app, paris(2026, 7, 13)).text, "D'ici le"))
    assert [line.split(" : ")[0] for line in lines] == [
        "2026-0001 — réponse due demain (mar. 14/07, férié)",
        "2026-0002 — réponse due dans 2 jours (mer. 15/07)",
    ]
    assert not digest_due(app, paris(2026, 7, 14, 9))
    assert digest_due(app, paris(2026, 7, 15, 9))
    app.close()


def test_around_the_change_of_year(app: App) -> None:
    seed = Seed(app)
    late = seed.case(paris(2026, 11, 29), "Réponse attendue", response_due=date(2026, 12, 29))
    planned = seed.case(paris(2026, 12, 1), "Salle")
    seed.action(planned, "corrective", "Changer de salle", date(2027, 1, 4), owner="Marie")
    seed.action(planned, "preventive", "Vérifier les réservations", date(2027, 1, 5))
    wednesday = paris(2026, 12, 30)
    text = digest_of(app, wednesday).text
    missed = "2026-0001 — réponse en retard de 1 jour (due le mar. 29/12) : répondre au plus vite puis #clore 2026-0001"
    assert missed in text
    assert (
        "2026-0002 — action corrective n° 1 « Changer de salle » (Marie) due dans 5 jours (lun. 04/01/2027) : "
        "une fois faite : #action 2026-0002 1 faite <résultat>"
    ) in text
    assert "Vérifier les réservations" not in text  # 5 January is beyond the horizon
    assert queue_digest(app, wednesday)

    assert not digest_due(app, paris(2027, 1, 1, 9))  # New Year's Day
    new_year = seed.case(paris(2026, 12, 31, 17), "Formateur absent", recorded=paris(2026, 12, 31, 17))
    assert new_year.number == "2026-0003"  # received in 2026, numbered in 2026
    january = seed.case(paris(2027, 1, 2, 11), "Support de cours", recorded=paris(2027, 1, 2, 11))
    assert january.number == "2027-0001"

    monday = paris(2027, 1, 4)
    assert digest_due(app, monday)
    text = digest_of(app, monday).text
    assert "depuis le point du 30 décembre 2026 à 08:00" in text
    assert "2026-0001 — réponse en retard de 6 jours (due le mar. 29/12/2026)" in text
    assert "2026-0002 — action corrective n° 1 « Changer de salle » (Marie) due aujourd'hui (lun. 04/01)" in text
    news = block(text, "Nouveaux dossiers")
    assert "2026-0003 — réclamation (e-mail) de Léa Martin <lea.martin@example.fr> : « Formateur absent »" in news
    assert "2027-0001 — réclamation (e-mail) de Léa Martin <lea.martin@example.fr> : « Support de cours »" in news
    assert late.number not in news


def test_weekends_and_holidays_have_no_digest_unless_asked(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    saturday = paris(2027, 1, 9, 9)
    assert not digest_due(app, saturday)
    assert not digest_due(app, paris(2027, 1, 1, 9))
    app.close()
    app = make_app(tmp_path, skip_non_working_days=False)
    assert digest_due(app, saturday)
    assert digest_due(app, paris(2027, 1, 1, 9))
    app.close()


def test_the_digest_is_due_once_a_day_after_its_time_in_the_organisation_time_zone(app: App) -> None:
    # 08:00 in Paris is 07:00 UTC in winter.
    assert not digest_due(app, datetime(2027, 1, 11, 6, 59, tzinfo=UTC))
    assert digest_due(app, datetime(2027, 1, 11, 7, 0, tzinfo=UTC))
    assert digest_due(app, paris(2027, 1, 11, 23, 59))  # a catch-up late in the day still sends it
    assert queue_digest(app, paris(2027, 1, 11, 10))
    assert not digest_due(app, paris(2027, 1, 11, 10, 1))
    assert not digest_due(app, paris(2027, 1, 11, 23, 59))  # a restart the same day sends nothing more
    assert digest_due(app, paris(2027, 1, 12, 8))
    # In summer, 08:00 in Paris is 06:00 UTC.
    assert digest_due(app, datetime(2027, 7, 12, 6, 0, tzinfo=UTC))
    assert not digest_due(app, datetime(2027, 7, 12, 5, 59, tzinfo=UTC))


def test_a_digest_that_failed_counts_for_the_day_but_does_not_close_the_window(app: App) -> None:
    seed = Seed(app)
    assert queue_digest(app, paris(2027, 1, 8))
    seed.case(paris(2027, 1, 8, 12), "Après le point de vendredi", recorded=paris(2027, 1, 8, 12))
    seed.outgoing(None, "digest", DIRECTOR, paris(2027, 1, 11), status="failed", error="421 try later")
    assert not digest_due(app, paris(2027, 1, 11, 9))  # not queued again and again the same day
    text = digest_of(app, paris(2027, 1, 12)).text
    assert "depuis le point du 8 janvier 2027 à 08:00" in text
    assert "« Après le point de vendredi »" in text  # Monday's digest never reached her: its news is repeated
    assert "• échec de l'envoi : point du jour à alice@cafemetrie.example (421 try later)" in text


# -- what the digest lists ------------------------------------------------------------------------


def test_missed_deadlines_then_coming_ones_closest_first(database_url: str, tmp_path: Path) -> None:
    """On both databases: acknowledgements, responses and actions, in date order within each list."""
    app = make_app(tmp_path, database_url, quiet_days=365)
    seed = Seed(app)
    monday = paris(2027, 1, 11)
    unacknowledged = seed.case(paris(2026, 12, 10), "Pas d'accusé", acknowledged=False, response_due=date(2027, 3, 1))
    late = seed.case(paris(2026, 12, 9), "Réponse en retard", response_due=date(2027, 1, 10))
    today = seed.case(paris(2026, 12, 12), "Action du jour", response_due=date(2027, 3, 1))
    seed.action(today, "urgent", "Salle de repli", date(2027, 1, 11))
    soon = seed.case(paris(2026, 12, 15), "Réponse bientôt", response_due=date(2027, 1, 13))
    seed.action(soon, "preventive", "Former l'équipe", date(2027, 1, 15), owner="Paul")
    seed.action(soon, "corrective", "Déjà faite", date(2027, 1, 12), status="done")
    seed.action(soon, "corrective", "Abandonnée", date(2027, 1, 12), status="dropped")
    seed.action(soon, "corrective", "En cours", date(2027, 1, 5), status="doing")
    seed.case(paris(2026, 12, 20), "Trop loin", response_due=date(2027, 1, 17))
    closed = seed.case(paris(2026, 12, 1), "Clos", response_due=date(2027, 1, 2), acknowledged=False)
    seed.update(closed, status="closed", closed_at=paris(2027, 1, 3))
    seed.action(closed, "preventive", "Action d'un dossier clos", date(2027, 1, 14))

    built = digest_of(app, monday)
    missed = case_lines(block(built.text, "En retard"))
    coming = case_lines(block(built.text, "D'ici le"))
    assert [line.split(" : ")[0] for line in missed] == [
        f"{unacknowledged.number} — accusé de réception en retard de 7 jours (dû le lun. 04/01)",
        f"{soon.number} — action corrective n° 4 « En cours » en retard de 6 jours (due le mar. 05/01)",
        f"{late.number} — réponse en retard de 1 jour (due le dim. 10/01)",
    ]
    assert [line.split(" : ")[0] for line in coming] == [
        f"{today.number} — mesure d'urgence n° 1 « Salle de repli » due aujourd'hui (lun. 11/01)",
        f"{soon.number} — réponse due dans 2 jours (mer. 13/01)",
        f"{closed.number} — action préventive n° 1 « Action d'un dossier clos », dossier clos due dans 3 jours (jeu. 14/01)",
        f"{soon.number} — action préventive n° 1 « Former l'équipe » (Paul) due dans 4 jours (ven. 15/01)",
    ]
    deadlines = block(built.text, "== Échéances ==", "\n\n==")
    assert "Trop loin" not in deadlines and "Déjà faite" not in built.text and "Abandonnée" not in built.text
    assert built.subject == "[inboxbot] Suivi des dossiers — 4 échéances, 3 en retard"
    app.close()


def test_urgent_cases_come_first_and_say_so(app: App) -> None:
    seed = Seed(app)
    monday = paris(2027, 1, 11)
    ordinary = seed.case(paris(2026, 12, 9), "Réponse en retard", response_due=date(2027, 1, 8))
    urgent = seed.case(paris(2026, 12, 9), "Stagiaire blessée", response_due=date(2027, 1, 10), priority="urgente")
    high = seed.case(paris(2026, 12, 9), "Salle inondée", response_due=date(2027, 1, 9), priority="haute")
    missed = case_lines(block(digest_of(app, monday).text, "En retard"))
    assert [line.split(" — ")[0] for line in missed] == [urgent.number, high.number, ordinary.number]
    assert missed[0].startswith(f"{urgent.number} — URGENT — réponse en retard")
    assert missed[1].startswith(f"{high.number} — priorité haute — réponse en retard")
    assert "URGENT" not in missed[2] and "priorité haute" not in missed[2]


def test_since_the_last_digest(app: App) -> None:
    seed = Seed(app)
    first = paris(2027, 1, 11)
    seed.case(paris(2027, 1, 10, 7, 59), "Il y a plus de 24 heures", recorded=paris(2027, 1, 10, 7, 59))
    seed.case(paris(2027, 1, 10, 8, 1), "Il y a moins de 24 heures", recorded=paris(2027, 1, 10, 8, 1))
    text = digest_of(app, first).text
    assert "(dernières 24 heures)" in text
    assert "Il y a moins de 24 heures" in block(text, "Nouveaux dossiers")
    assert "Il y a plus de 24 heures" not in block(text, "Nouveaux dossiers")
    assert queue_digest(app, first)

    # What was recorded at the very instant of a digest belongs to the next one, and only to it.
    at_digest = seed.case(paris(2026, 12, 20), "Reçu avant, enregistré au moment du point", recorded=first)
    old = seed.case(paris(2026, 12, 1), "Ancien dossier")
    seed.mail(paris(2027, 1, 11, 9), outcome="triage", sender="paul@example.fr", name="Paul", subject="Un souci ?")
    seed.mail(paris(2027, 1, 11, 7), outcome="triage", sender="avant@example.fr", subject="Trié avant le point")
    seed.mail(
        paris(2027, 1, 11, 10),
        case=old,
        reason=f"{CLOSED_CASE_NOTE}, for the director to decide",
        subject="RE: encore moi",
    )
    seed.mail(paris(2027, 1, 11, 11), case=old, reason="", subject="Réponse ordinaire")
    seed.mail(
        paris(2027, 1, 11, 12), outcome="suspicious", sender=DIRECTOR, name="Alice", subject="#clore", to=DIRECTOR
    )
    seed.mail(paris(2027, 1, 12, 8, 30), outcome="triage", subject="Après le point", recorded=paris(2027, 1, 12, 8, 30))
    second = paris(2027, 1, 12)
    built = digest_of(app, second)
    text = built.text
    assert "depuis le point du 11 janvier 2027 à 08:00" in text
    news = block(text, "Nouveaux dossiers")
    assert f"{at_digest.number} — réclamation (e-mail) de Léa Martin" in news
    assert "Il y a moins de 24 heures" not in news
    triage = block(text, "Messages laissés")
    # Each with its reference and the one-step commands a candidate has: #ouvrir by mail, or #ecarter.
    line = next(line for line in triage.splitlines() if "Un souci ?" in line)
    reference = line.strip().split(" — ")[0]
    assert reference.startswith("M-")
    assert " — message de Paul <paul@example.fr> reçu le lun. 11/01 à 09:00 : « Un souci ? »" in line
    assert f"#ouvrir {reference}" in triage and f"#ecarter {reference}" in triage
    assert "Trié avant le point" not in text and "Après le point" not in text
    closed = block(text, "Nouveaux messages sur des dossiers clos")
    assert f"{old.number} — dossier clos, nouveau message de Léa Martin" in closed
    assert f"#rouvrir {old.number}" in closed
    assert "Réponse ordinaire" not in text
    suspicious = block(text, "Messages suspects")
    assert "• message de Alice <alice@cafemetrie.example> reçu le lun. 11/01 à 12:00 : « #clore »" in suspicious
    assert "1 nouveau dossier" in built.subject and "2 messages à voir" in built.subject and "1 alerte" in built.subject


def test_a_mail_that_became_suspicious_after_the_last_digest_is_still_listed(app: App) -> None:
    """Proof is awaited `proof_grace_minutes` after reception: a mail received just before a digest
    turns suspicious just after it, and is announced in the next one."""
    seed = Seed(app)
    assert queue_digest(app, paris(2027, 1, 11))
    seed.mail(paris(2027, 1, 11, 7, 45), outcome="suspicious", sender=DIRECTOR, subject="#clore 2027-0001")
    seed.mail(paris(2027, 1, 11, 7, 15), outcome="suspicious", sender=DIRECTOR, subject="déjà annoncé")
    text = digest_of(app, paris(2027, 1, 12)).text
    assert "#clore 2027-0001" in block(text, "Messages suspects")
    assert "déjà annoncé" not in text


def test_a_mail_set_aside_is_shown_to_the_director_with_its_reason(app: App) -> None:
    """An unreadable mail, or one inboxbot failed on, is archived but nobody would know of it."""
    seed = Seed(app)
    assert queue_digest(app, paris(2027, 1, 11))
    seed.mail(paris(2027, 1, 11, 9), outcome="set_aside", sender=None, name="", subject="", reason="no sender address")
    seed.mail(
        paris(2027, 1, 11, 10),
        outcome="set_aside",
        subject="Réclamation",
        reason="internal error: RuntimeError: boom",
        recorded=paris(2027, 1, 11, 10),
    )
    built = digest_of(app, paris(2027, 1, 12))
    aside = block(built.text, "Messages mis de côté")
    assert (
        "expéditeur illisible reçu le lun. 11/01 à 09:00 (sans objet lisible) mis de côté : no sender address" in aside
    )
    assert "Léa Martin <lea.martin@example.fr>" in aside and "internal error: RuntimeError: boom" in aside
    assert "[RECLAMATION]" in aside and "2 alertes" in built.subject
    assert "Messages mis de côté (2)" in built.html


@pytest.mark.parametrize("when_empty", ["short", "skip"])
def test_a_day_with_nothing_to_say(tmp_path: Path, when_empty: str) -> None:
    app = make_app(tmp_path, when_empty=when_empty)
    seed = Seed(app)
    # Open, qualified, acknowledged, recently in touch, nothing due soon: nothing to say about it.
    calm = seed.case(paris(2027, 1, 4), "Dossier calme", response_due=date(2027, 2, 3))
    seed.update(calm, extended_due=date(2027, 2, 20), extension_reason="attente du financeur")
    monday = paris(2027, 1, 11)
    built = build_digest(app, monday)
    if when_empty == "skip":
        assert built is None
        assert not queue_digest(app, monday)
        with app.store.unit() as unit:
            assert "digest" not in unit.session.scalars(select(OutboxRow.purpose)).all()
        assert digest_due(app, monday)  # nothing was queued: the daemon must remember it tried
    else:
        assert built is not None and built.empty
        assert built.subject == "[inboxbot] Suivi des dossiers — rien à signaler"
        assert "Rien à signaler ces dernières 24 heures" in built.text
        assert "aucune échéance d'ici le samedi 16 janvier 2027" in built.text
        assert "Dossiers ouverts : 1." in built.text
        assert "Dossier calme" not in built.text  # an extension alone is not news
        assert "Rien à signaler" in built.html
        assert queue_digest(app, monday)
        assert not digest_due(app, monday)
    # Something to say: the extension is listed with the rest.
    seed.case(paris(2027, 1, 11, 7), "Nouveau", recorded=paris(2027, 1, 11, 7))
    built = build_digest(app, paris(2027, 1, 11, 7, 30))
    assert built is not None and not built.empty
    assert "réponse prolongée jusqu'au sam. 20/02 (au lieu du mer. 03/02), motif : « attente du financeur »" in (
        built.text
    )
    app.close()


def test_claimant_text_is_escaped_in_the_html(app: App) -> None:
    seed = Seed(app)
    case = seed.case(paris(2027, 1, 10), "<script>alert('x')</script>", name="<b>Léa</b>", recorded=paris(2027, 1, 10))
    seed.update(case, status="closed", closed_at=paris(2027, 1, 10, 12))
    seed.mail(
        paris(2027, 1, 10, 18),
        case=case,
        reason=FEEDBACK_NOTE,
        subject="<img src=x onerror=alert(1)>",
    )
    seed.update(case, satisfaction_mark=1, satisfaction_comment="<a href='http://evil'>nul</a>")
    built = digest_of(app, paris(2027, 1, 11))
    assert "<script>" not in built.html and "&lt;script&gt;" in built.html
    assert "<b>Léa</b>" not in built.html and "&lt;b&gt;Léa&lt;/b&gt;" in built.html
    assert "<a href" not in built.html and "&lt;a href=" in built.html
    assert "<script>alert('x')</script>" in built.text  # the text part shows it as written
    assert "\n" not in built.subject and "script" not in built.subject


def test_the_subject_names_no_case_and_every_suggested_command_obeys(app: App) -> None:
    """A reply to the digest works: no case tag in the subject, and every command the digest
    suggests, once its placeholders are filled in, is read by the commands parser for its case."""
    seed = Seed(app)
    oral = seed.case(paris(2027, 1, 4), "Oral", claimant=None, channel="oral", nature=None, priority=None)
    seed.action(oral, "corrective", "Rappeler", date(2027, 1, 12))
    seed.case(paris(2026, 12, 10), "Sans accusé", acknowledged=False)
    seed.case(paris(2026, 12, 12), "Bientôt due", response_due=date(2027, 1, 12))
    extended = seed.case(paris(2026, 11, 1), "Prolongée", response_due=date(2026, 12, 1))
    seed.update(extended, extended_due=date(2027, 1, 13), extension_reason="attente")
    unhappy = seed.case(paris(2026, 11, 2), "Mécontente")
    seed.update(unhappy, status="closed", satisfaction_mark=1)
    seed.mail(paris(2027, 1, 11, 7), case=unhappy, reason=FEEDBACK_NOTE, recorded=paris(2027, 1, 11, 7))
    seed.mail(paris(2027, 1, 11, 7), case=unhappy, reason=CLOSED_CASE_NOTE, recorded=paris(2027, 1, 11, 7))
    built = digest_of(app, paris(2027, 1, 11))
    assert tagged_numbers(built.subject) == ()
    assert not re.search(r"\d{4}-\d{4}", built.subject)

    view = gather_view(app, paris(2027, 1, 11))
    fill = {
        "<jours>": "15",
        "<motif>": "attente du financeur",
        "<nature>": "matérielle",
        "<priorité>": "haute",
        "<résultat>": "fait",
        "<action>": "former l'équipe",
        "<appréciation>": "contente",
        "Nom <adresse>": "Léa Martin <lea.martin@example.fr>",
    }
    commands = 0
    for line in view:
        for step in line.todo:
            if not step.command:
                continue
            typed = step.text
            for placeholder, value in fill.items():
                typed = typed.replace(placeholder, value)
            (parsed,) = parse_commands(typed, subject=f"RE: {built.subject}")
            assert isinstance(parsed, Command), (typed, parsed)
            assert parsed.case_number == line.number
            commands += 1
    assert commands >= 8
    # And none of the digest's text lines reads as a command if a reply quotes it without "> ".
    assert parse_commands(built.text) == []
    assert not any(line.lstrip().startswith("#") for line in built.text.splitlines())


def gather_view(app: App, now: datetime) -> list[Line]:
    with app.store.unit() as unit:
        view = gather(app, unit, now)
    sections = (
        view.new_cases,
        view.triage,
        view.closed_cases,
        view.to_qualify,
        view.missed,
        view.coming,
        view.quiet,
        view.extensions,
        view.feedback,
        view.suspicious,
        view.set_aside,
        view.failures,
    )
    return [line for section in sections for line in section.lines]


def test_cases_to_qualify(app: App) -> None:
    seed = Seed(app)
    seed.case(paris(2027, 1, 4), "Qualifié")
    no_priority = seed.case(paris(2027, 1, 5, 9, 30), "Sans priorité", priority=None)
    oral = seed.case(paris(2027, 1, 6), "Au téléphone", claimant=None, channel="oral")
    passed_on = seed.case(paris(2027, 1, 7), "Transmise", claimant=None, channel="third_party", nature=None)
    seed.update(passed_on, transmitter="accueil@hotel.example")
    closed = seed.case(paris(2027, 1, 3), "Clos sans nature", nature=None)
    seed.update(closed, status="closed")
    text = digest_of(app, paris(2027, 1, 11)).text
    section = block(text, "== À qualifier (3) ==")
    assert case_lines(section) == [
        f"{no_priority.number} — réclamation (e-mail) de Léa Martin <lea.martin@example.fr> : « Sans priorité » "
        f"(réception : mar. 05/01 à 09:30) : à qualifier : #priorité {no_priority.number} <priorité>",
        f"{oral.number} — réclamation (oral), réclamant à identifier : « Au téléphone » (réception : mer. 06/01 à "
        f"08:00) : à qualifier : #réclamant {oral.number} Nom <adresse>",
        f"{passed_on.number} — réclamation (transmis par accueil@hotel.example), réclamant à identifier : "
        f"« Transmise » (réception : jeu. 07/01 à 08:00) : à qualifier : #réclamant {passed_on.number} Nom "
        f"<adresse>, #nature {passed_on.number} <nature>",
    ]
    assert "Natures : organisationnelle, humaine, matérielle, environnementale." in section
    assert "3 à qualifier" in digest_of(app, paris(2027, 1, 11)).subject


def test_acknowledgements_still_owed_say_why_and_what_to_do(app: App) -> None:
    seed = Seed(app)
    due = date(2027, 1, 12)
    never = seed.case(paris(2026, 12, 20), "Plafond atteint", acknowledged=False, acknowledge_due=due)
    waiting = seed.case(paris(2026, 12, 21), "En attente", acknowledged=False, acknowledge_due=due)
    seed.outgoing(waiting, "acknowledgement", LEA, paris(2026, 12, 21), status="pending")
    failed = seed.case(paris(2026, 12, 22), "Refusé", acknowledged=False, acknowledge_due=due)
    seed.outgoing(failed, "incident_acknowledgement", LEA, paris(2026, 12, 22), status="failed")
    text = digest_of(app, paris(2027, 1, 11)).text
    lines = case_lines(block(text, "D'ici le"))
    assert lines == [
        f"{never.number} — accusé de réception dû demain (mar. 12/01) : aucun accusé automatique n'est parti ; "
        f"l'envoyer avec #réclamant {never.number} Léa Martin <lea.martin@example.fr>",
        f"{waiting.number} — accusé de réception dû demain (mar. 12/01) : l'accusé automatique attend d'être "
        "envoyé : vérifier le serveur d'envoi (inboxbot check)",
        f"{failed.number} — accusé de réception dû demain (mar. 12/01) : l'envoi automatique a échoué : écrire à "
        "lea.martin@example.fr depuis votre messagerie",
    ]


def test_open_cases_without_news_for_the_claimant(app: App) -> None:
    seed = Seed(app)
    monday = paris(2027, 1, 11)
    silent = seed.case(paris(2026, 12, 1), "Silence")  # acknowledged 1 Dec: the last exchange
    seed.mail(paris(2027, 1, 5), case=silent, sender="venue@hotel.example", subject="le lieu écrit, pas elle")
    seed.mail(paris(2027, 1, 6), case=silent, sender=LEA, subject="absence", automatic="auto-replied")
    wrote = seed.case(paris(2026, 12, 1), "Elle a écrit")
    seed.mail(paris(2027, 1, 2), case=wrote, sender=LEA)
    answered = seed.case(paris(2026, 12, 1), "Réponse depuis Envoyés")
    seed.mail(paris(2027, 1, 3), case=answered, sender=DIRECTOR, direction="out", to=LEA)
    informed = seed.case(paris(2026, 12, 1), "Avis de prolongation")
    seed.outgoing(informed, "extension_notice", LEA, paris(2027, 1, 4))
    never = seed.case(paris(2026, 12, 20), "Jamais accusé", acknowledged=False)
    seed.case(paris(2026, 12, 1), "Sans réclamant", claimant=None, channel="oral")
    closed = seed.case(paris(2026, 11, 1), "Clos")
    seed.update(closed, status="closed")
    seed.case(paris(2026, 12, 28, 18), "Récent")  # acknowledged 14 days ago minus a few hours
    text = digest_of(app, monday).text
    section = block(text, "== Sans nouvelles depuis 14 jours ou plus (2) ==")
    assert [line.split(" — ", 2)[2] for line in case_lines(section)] == [
        "dernier échange il y a 41 jours (mar. 01/12/2026) : lui donner des nouvelles de l'avancement "
        "(mises à jour régulières de la procédure)",
        "aucun échange depuis la réception, il y a 22 jours : lui donner des nouvelles de l'avancement "
        "(mises à jour régulières de la procédure)",
    ]
    assert [line.split(" — ")[0] for line in case_lines(section)] == [silent.number, never.number]
    assert "2 sans nouvelles" in digest_of(app, monday).subject


def test_satisfaction_feedback_and_sending_failures_since_the_last_digest(app: App) -> None:
    seed = Seed(app)
    assert queue_digest(app, paris(2027, 1, 8))
    happy = seed.case(paris(2026, 11, 2), "Contente")
    seed.update(happy, status="closed", satisfaction_mark=5, satisfaction_comment="Très bien, merci")
    seed.mail(paris(2027, 1, 9, 10), case=happy, reason=FEEDBACK_NOTE)
    unhappy = seed.case(paris(2026, 11, 3), "Déçue")
    seed.update(unhappy, status="closed", satisfaction_mark=2, satisfaction_comment="Bof")
    seed.mail(paris(2027, 1, 10, 10), case=unhappy, reason=FEEDBACK_NOTE)
    earlier = seed.case(paris(2026, 11, 4), "Déjà annoncée")
    seed.update(earlier, status="closed", satisfaction_mark=4)
    seed.mail(paris(2027, 1, 7, 10), case=earlier, reason=FEEDBACK_NOTE)
    seed.outgoing(unhappy, "satisfaction_request", "old@example.fr", paris(2027, 1, 7), "failed", "550 old")
    seed.outgoing(happy, "acknowledgement", "typo@exmple.fr", paris(2027, 1, 9), "failed", "550 5.1.1 no such user")
    seed.outgoing(None, "register_export", DIRECTOR, paris(2027, 1, 9, 12), "failed", "552 message too big")
    built = digest_of(app, paris(2027, 1, 11))
    feedback = case_lines(block(built.text, "== Retours de satisfaction"))
    assert feedback == [
        f"{happy.number} — satisfaction 5/5 — « Très bien, merci » (Léa Martin <lea.martin@example.fr>, sam. 09/01 "
        "à 10:00) : rien à faire, la réponse est au dossier",
        f"{unhappy.number} — satisfaction 2/5 — « Bof » (Léa Martin <lea.martin@example.fr>, dim. 10/01 à 10:00) : "
        f"insatisfaction : envisager une action préventive, #préventive {unhappy.number} <action>",
    ]
    failures = block(built.text, "Échecs d'envoi")
    assert (
        f"{happy.number} — échec de l'envoi : accusé de réception à typo@exmple.fr (550 5.1.1 no such user) : vérifier "
        "l'adresse et écrire à typo@exmple.fr depuis votre messagerie"
    ) in failures
    assert "• échec de l'envoi : tableau de suivi à alice@cafemetrie.example (552 message too big)" in failures
    assert "old@example.fr" not in built.text
    assert "2 retours de satisfaction" in built.subject and "2 alertes" in built.subject


def test_a_long_section_shows_its_first_lines_and_how_many_more(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(digest_module, "LINES_PER_SECTION", 2)
    seed = Seed(app)
    for day in (5, 6, 7):
        seed.case(paris(2026, 12, day), f"Dossier du {day}", response_due=date(2027, 1, day))
    built = digest_of(app, paris(2027, 1, 11))
    missed = block(built.text, "En retard (3) :")
    assert len(case_lines(missed)) == 2 and "Dossier" not in missed
    assert "… et 1 de plus." in missed
    assert "en retard de 6 jours" in missed and "en retard de 4 jours" not in missed  # the first ones shown
    assert "3 en retard" in built.subject


def test_the_number_of_queries_does_not_grow_with_the_register(app: App) -> None:
    """No query per case: the benchmark wants the digest under a second on 100,000 cases."""
    seed = Seed(app)
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    def queries() -> int:
        statements.clear()
        event.listen(app.store.engine, "before_cursor_execute", count)
        try:
            digest_of(app, paris(2027, 1, 11))
        finally:
            event.remove(app.store.engine, "before_cursor_execute", count)
        return len([s for s in statements if s.lstrip().upper().startswith(("SELECT", "WITH"))])

    def grow(count_: int) -> None:
        for index in range(count_):
            case = seed.case(paris(2026, 12, 1 + index % 28), f"n° {index}", nature=None, acknowledged=index % 2 == 0)
            seed.action(case, "corrective", "x", date(2027, 1, 1 + index % 20))
            seed.mail(paris(2027, 1, 10, 12), case=case, reason=FEEDBACK_NOTE)
            seed.mail(paris(2027, 1, 10, 12), outcome="triage")

    grow(3)
    few = queries()
    grow(30)
    assert queries() == few <= 12


def test_the_wording_of_decide_is_what_the_digest_looks_for() -> None:
    """The closed-case and feedback sections find their mails by the note `decide` gives them."""
    case = CaseRef(id=1, number="2026-0001", status="closed", claimant=LEA, participants=frozenset({LEA}))
    verdict = Verdict(action="claim", kind=None, nature=None, priority=None, channel=None, hits=())
    facts = Facts(
        mail=ParsedMail(message_id="m@example.fr", subject="RE: x", from_=Address(LEA, "Léa")),
        folder_role="inbox",
        received_at=paris(2027, 1, 11),
        thread=ThreadMatch(case, "references", True),
        verdict=verdict,
    )
    policy = Policy(
        mode="shared", acknowledge=True, daily_cap_per_sender=3, due=DuePolicy(WorkingDayCalendar.for_country(), PARIS)
    )
    closed = decide(facts, policy)
    assert isinstance(closed, Attach) and closed.purpose == "closed_case"
    assert closed.note.startswith(CLOSED_CASE_NOTE)
    feedback = decide(replace(facts, answers_feedback_request=True), policy)
    assert isinstance(feedback, Attach) and feedback.purpose == "feedback"
    assert feedback.note.startswith(FEEDBACK_NOTE)


# -- end to end -----------------------------------------------------------------------------------


def test_the_digest_reaches_the_director_with_text_and_html(tmp_path: Path, smtp_sink: SmtpSink) -> None:
    now = paris(2027, 1, 11, 8, 0)
    app = make_app(tmp_path, smtp_port=smtp_sink.port)
    app.clock = lambda: now  # sending stamps the outbox with the clock; building never reads it
    try:
        seed = Seed(app)
        seed.case(paris(2027, 1, 10, 20), "Salle <glaciale>", nature=None, recorded=paris(2027, 1, 10, 20))
        assert digest_due(app, now)
        assert queue_digest(app, now)
        assert not digest_due(app, now)
        Pipeline(app).flush_outbox(CycleReport())
        (received,) = smtp_sink.wait_for(1)
    finally:
        app.close()
    assert received.rcpt_tos == [DIRECTOR]
    message = BytesParser(policy=policy.default).parsebytes(received.data)
    # The new case still lacks its nature, and says so on its own line: once, not again under « À qualifier ».
    assert message["Subject"] == "[inboxbot] Suivi des dossiers — 1 nouveau dossier"
    assert tagged_numbers(str(message["Subject"])) == ()
    assert message["Auto-Submitted"] == "auto-generated"
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    assert "2027-0001 — réclamation (e-mail) de Léa Martin" in text.get_content()
    assert text.get_content().count("2027-0001 —") == 1
    assert "#nature 2027-0001 <nature>" in text.get_content()
    assert "« Salle <glaciale> »" in text.get_content()
    assert "<strong>2027-0001</strong>" in html.get_content()
    assert "Salle &lt;glaciale&gt;" in html.get_content()


def test_the_director_answers_the_digest_with_a_command(
    tmp_path: Path, mail_account: MailAccount, smtp_sink: SmtpSink
) -> None:
    """Her reply to the digest closes the case its command line names, and opens no case itself:
    the subject has no case tag, and no word a shipped rule takes for a claim."""
    config = write_config(
        tmp_path,
        imap_host=mail_account.host,
        imap_port=mail_account.port,
        username=mail_account.username,
        password=mail_account.password,
        smtp_port=smtp_sink.port,
        database_url=fresh_database_url(tmp_path),
        address=DIRECTOR,
    )
    now = datetime.now(UTC).replace(microsecond=0)
    app = build(load(config), clock=lambda: now)
    try:
        run_once(app)  # first meeting with the mailbox
        late = Seed(app).case(now - timedelta(days=40), "Attestation jamais reçue")
        assert queue_digest(app, now)
        Pipeline(app).flush_outbox(CycleReport())
        (sent,) = smtp_sink.wait_for(1)
        digest = BytesParser(policy=policy.default).parsebytes(sent.data)
        text = digest.get_body(preferencelist=("plain",))
        assert text is not None
        assert f"#clore {late.number}" in text.get_content()
        quoted = "\n".join(f"> {line}" for line in text.get_content().splitlines())
        reply = make_mail(
            f"Alice <{DIRECTOR}>",
            DIRECTOR,
            f"RE: {digest['Subject']}",
            f"#réponse {late.number} courrier attestation renvoyée\n#clore {late.number}\n\n"
            f"Le {now:%d/%m/%Y} à {now:%H:%M}, Cafémétrie <{DIRECTOR}> a écrit :\n{quoted}\n",
            in_reply_to=str(digest["Message-ID"]),
            references=str(digest["Message-ID"]),
        )
        for folder in ("Sent", "INBOX"):  # what her client does when she writes to herself
            mail_account.append(reply, folder=folder)
        run_once(app)
        with app.store.unit() as unit:
            cases = unit.cases()
        assert [(case.number, case.status) for case in cases] == [(late.number, "closed")]
        report = smtp_sink.wait_for(2)[1]
        assert "Commandes : 2 exécutée(s)" in report.subject
    finally:
        app.close()
