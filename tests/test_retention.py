"""Retention: `inboxbot purge` on SQLite and PostgreSQL, with real files in a real archive.

Cases are seeded through the store API as the pipeline writes them, each with an archived mail,
an attachment, a queued acknowledgement, history and an action, so that what must go and what must
stay is checked row by row and file by file. The claimant of the cases that must be purged is
"Léa Martin <lea.martin@example.fr>"; after an anonymisation her name and address must be nowhere
in the database, the audit log included.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import func, inspect, select, update

import inboxbot.procedure.purge as retention
from inboxbot.bootstrap import App, build
from inboxbot.config import ConfigError, settings_from_mapping
from inboxbot.procedure.purge import PurgeRefused, format_plan, format_report, plan_purge, purge, purgeable_until
from inboxbot.store import retention as records
from inboxbot.store.models import Base, MailRow
from inboxbot.store.repository import MIGRATIONS, MailRecord, OutgoingDraft, Store

PARIS = ZoneInfo("Europe/Paris")
DIRECTOR = "alice@cafemetrie.example"
LEA = "lea.martin@example.fr"
LEA_NAME = "Léa Martin"
PAUL = "paul.durand@example.fr"
OLGA = "olga.open@example.fr"
SECRETS = ("lea.martin", "Léa", "Martin")  # her address and name; everything personal seeded carries one


def paris(year: int, month: int, day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=PARIS)


def mapping(tmp_path: Path, database_url: str, mode: str = "anonymise", years: int = 3) -> dict[str, Any]:
    return {
        "organisation": {"name": "Cafémétrie", "timezone": "Europe/Paris"},
        "imap": {"host": "127.0.0.1", "port": 1143, "security": "plain", "username": DIRECTOR, "password": "x"},
        "smtp": {"host": "127.0.0.1", "port": 1025, "security": "plain", "from_address": DIRECTOR},
        "director": {"addresses": [DIRECTOR]},
        "database": {"url": database_url},
        "storage": {"archive_dir": str(tmp_path / "archive"), "retention_years": years, "purge_mode": mode},
    }


@pytest.fixture
def make_app(tmp_path: Path, database_url: str) -> Iterator[Callable[..., App]]:
    """Build the program on the test's database; several builds share one database and archive."""
    apps: list[App] = []

    def make(mode: str = "anonymise", years: int = 3) -> App:
        settings = settings_from_mapping(mapping(tmp_path, database_url, mode, years), tmp_path)
        app = build(settings, clock=lambda: datetime.now(UTC))
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()


@dataclass(frozen=True)
class Seeded:
    case_id: int
    number: str
    mail: Path
    attachment: Path


def seed_case(
    app: App,
    received: datetime,
    closed: datetime | None,
    claimant: str = LEA,
    name: str = LEA_NAME,
    notes: tuple[str, ...] = (),
) -> Seeded:
    """A case as the pipeline leaves it: mail, attachment, acknowledgement, history, action, feedback."""
    raw = (
        f"From: {name} <{claimant}>\r\nTo: {DIRECTOR}\r\nSubject: attestation perdue\r\n"
        f"Message-ID: <{received.timestamp():.0f}.{claimant.split('@')[0]}@mail.example.net>\r\n\r\n"
        f"Bonjour, {name} ici ; mon attestation perdue.\r\n"
    ).encode()
    stored = app.archive.store(raw, received)
    filename = f"certificat-{claimant.split('@')[0]}.pdf"
    attachment = app.archive.store_attachment(stored.sha256, 1, filename, b"%PDF-1.4 " + raw, received)
    with app.store.unit() as unit:
        number = unit.next_case_number(received.year)
        case_id = unit.open_case(
            number=number,
            kind="reclamation",
            channel="email",
            claimant=claimant,
            claimant_name=name,
            subject=f"attestation perdue ({name})",
            received_at=received,
            acknowledge_due=received.date() + timedelta(days=21),
            response_due=received.date() + timedelta(days=30),
            nature="organisationnelle",
            priority="haute",
            rules_hit=["reclamation-mot-cle"],
            now=received,
            transmitter="formatrice@example.org",
            stakeholder="apprenant",
            training="Barista niveau 2",
            description=f"{name} n'a pas reçu son attestation perdue.",
        ).id
        mail_id = unit.record_mail(
            MailRecord(
                message_key=f"mid:{number}",
                message_id=f"<{number}@mail.example.net>",
                case_id=case_id,
                direction="in",
                folder="INBOX",
                uidvalidity=1,
                uid=int(received.timestamp()),
                received_at=received,
                header_date=received,
                from_address=claimant,
                from_name=name,
                to_addresses=DIRECTOR,
                subject="attestation perdue",
                summary=f"Bonjour, {name} ici.",
                archive_path=str(stored.path),
                sha256=stored.sha256,
                size=stored.size,
                outcome="opened",
                reason="",
                automatic=None,
                rules_hit=("reclamation-mot-cle",),
                notes=notes,
            ),
            received,
        )
        unit.add_attachment(mail_id, filename, "application/pdf", 10, str(attachment))
        unit.queue(
            OutgoingDraft(
                message_id=f"<ack.{number}@cafemetrie.example>",
                case_id=case_id,
                purpose="acknowledgement",
                recipient=claimant,
                subject=f"Accusé de réception, {name}",
                raw=f"To: {name} <{claimant}>\r\n\r\nBonjour {name}".encode(),
            ),
            received,
        )
        unit.add_event(case_id, received, claimant, "received", "attestation perdue")
        unit.add_event(case_id, received, "inboxbot", "opened", "reclamation-mot-cle")
        unit.add_event(case_id, received, DIRECTOR, "note", f"Appelé {name}")
        unit.add_event(case_id, received, DIRECTOR, "set:nature", "organisationnelle")
        unit.add_event(case_id, received, "inboxbot", "sent:acknowledgement", claimant)
        unit.add_action(case_id, "corrective", "Envoyer les attestations sous 48 h", received, owner=DIRECTOR)
        if closed is not None:
            unit.update_case(
                case_id,
                status="closed",
                closed_at=closed,
                responded_at=closed,
                satisfaction_mark=4,
                satisfaction_comment=f"Merci, {name}",
                satisfaction_at=closed,
            )
            unit.add_event(case_id, closed, claimant, "feedback", "4/5")
            unit.add_event(case_id, closed, DIRECTOR, "closed", f"Réponse envoyée à {name}")
    root = app.archive.root
    return Seeded(case_id=case_id, number=number, mail=root / stored.path, attachment=root / attachment)


def seed_orphan(app: App, received: datetime, key: str) -> Path:
    """A mail that opened no case (a newsletter, say), with its archived original."""
    raw = f"From: news@shop.example\r\nSubject: Promo {key}\r\nMessage-ID: <{key}@shop.example>\r\n\r\nPromo".encode()
    stored = app.archive.store(raw, received)
    with app.store.unit() as unit:
        unit.record_mail(
            MailRecord(
                message_key=f"mid:{key}",
                message_id=f"<{key}@shop.example>",
                case_id=None,
                direction="in",
                folder="INBOX",
                uidvalidity=1,
                uid=int(received.timestamp()),
                received_at=received,
                header_date=received,
                from_address="news@shop.example",
                from_name="Shop",
                to_addresses=DIRECTOR,
                subject=f"Promo {key}",
                summary="Promo",
                archive_path=str(stored.path),
                sha256=stored.sha256,
                size=stored.size,
                outcome="ignored",
                reason="",
                automatic="list",
                rules_hit=(),
            ),
            received,
        )
    return app.archive.root / stored.path


def snapshot(app: App) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, to tell whether anything at all changed."""
    with app.store.engine.connect() as connection:
        return {
            table.name: [tuple(row) for row in connection.execute(select(table).order_by(*table.primary_key.columns))]
            for table in Base.metadata.sorted_tables
        }


def files(app: App) -> list[str]:
    root = app.archive.root
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))


def database_text(app: App) -> str:
    """The whole database as one string, to search for what must be gone."""
    return json.dumps(snapshot(app), default=repr, ensure_ascii=False)


def audit(app: App) -> list[records.AuditEntry]:
    with app.store.unit() as unit:
        return records.audit_log(unit)


# -- when is a record old enough ---------------------------------------------------------------


def test_the_cutoff_is_the_same_calendar_day_years_earlier() -> None:
    assert purgeable_until(date(2026, 2, 28), 3) == date(2023, 2, 28)
    assert purgeable_until(date(2026, 3, 1), 3) == date(2023, 3, 1)
    # On 29 February the day three years earlier does not exist: the 28th, everything old enough goes.
    assert purgeable_until(date(2028, 2, 29), 3) == date(2025, 2, 28)
    # A record of 29 February 2024 is not old enough on 28 February 2027, only from 1 March.
    assert purgeable_until(date(2027, 2, 28), 3) < date(2024, 2, 29) <= purgeable_until(date(2027, 3, 1), 3)
    assert purgeable_until(date(2026, 12, 31), 4) == date(2022, 12, 31)


@pytest.mark.parametrize("mode", ["anonymise", "delete"])
def test_a_case_closed_three_years_ago_goes_on_the_day_not_the_day_before(
    make_app: Callable[..., App], mode: str
) -> None:
    app = make_app(mode)
    case = seed_case(app, received=paris(2023, 1, 10), closed=paris(2023, 2, 28, 18, 30))

    the_day_before = paris(2026, 2, 27, 23, 59)
    assert plan_purge(app, the_day_before).cases == []
    report = purge(app, the_day_before, "test")
    assert report.cases == [] and case.mail.exists() and case.attachment.exists()
    with app.store.unit() as unit:
        assert unit.case(case.case_id).claimant == LEA

    on_the_day = paris(2026, 2, 28, 0, 1)  # earlier in the day than it was closed: days count, not hours
    plan = plan_purge(app, on_the_day)
    assert [(c.number, c.closed_on) for c in plan.cases] == [(case.number, date(2023, 2, 28))]
    assert plan.purgeable_until == date(2023, 2, 28)
    assert "closed 2023-02-28" in format_plan(plan)
    report = purge(app, on_the_day, "test")
    assert [c.number for c in report.cases] == [case.number]
    assert not case.mail.exists() and not case.attachment.exists()


def test_a_case_closed_on_29_february_waits_until_1_march(make_app: Callable[..., App]) -> None:
    app = make_app()
    case = seed_case(app, received=paris(2024, 2, 1), closed=paris(2024, 2, 29, 9))
    assert purge(app, paris(2027, 2, 28, 23), "test").cases == []
    assert case.mail.exists()
    assert [c.number for c in purge(app, paris(2027, 3, 1, 0, 30), "test").cases] == [case.number]
    assert not case.mail.exists()


# -- anonymise ---------------------------------------------------------------------------------


def test_anonymising_keeps_the_statistics_and_forgets_the_person(make_app: Callable[..., App]) -> None:
    app = make_app("anonymise")
    old = seed_case(app, received=paris(2022, 5, 2), closed=paris(2022, 6, 1))
    recent = seed_case(app, received=paris(2024, 5, 2), closed=paris(2024, 6, 1), claimant=PAUL, name="Paul Durand")
    still_open = seed_case(app, received=paris(2021, 5, 2), closed=None, claimant=OLGA, name="Olga Ouverte")
    with app.store.unit() as unit:
        before = {c.number: c for c in unit.cases()}
        details_before = {d.case.number: d for d in unit.case_details(unit.cases())}
    now = paris(2026, 1, 15)

    report = purge(app, now, "alice (inboxbot purge)")

    assert [c.number for c in report.cases] == [old.number]
    assert report.files_removed == 2 and report.files_missing == [] and report.files_failed == []
    with app.store.unit() as unit:
        cases = {c.number: c for c in unit.cases()}
        details = {d.case.number: d for d in unit.case_details(unit.cases())}
    case, was = cases[old.number], before[old.number]
    # What the statistics, the register and the annual report count stays.
    for name in (
        "number", "kind", "status", "channel", "received_at", "acknowledge_due", "response_due",
        "acknowledged_at", "responded_at", "closed_at", "nature", "priority", "stakeholder", "training",
        "satisfaction_mark", "satisfaction_at", "rules_hit",
    ):  # fmt: skip
        assert getattr(case, name) == getattr(was, name), name
    # The person goes.
    assert case.claimant is None and case.transmitter is None
    assert case.claimant_name == case.subject == case.description == "[anonymisé]"
    assert case.satisfaction_comment == ""
    detail = details[old.number]
    assert len(detail.messages) == len(details_before[old.number].messages)  # the exchange log keeps its dates
    for message in detail.messages:
        assert message.from_address is None and message.subject == "" and not message.archive_path
    events = {e.type: e for e in detail.events}
    assert set(events) == {e.type for e in details_before[old.number].events}
    assert events["received"].detail == "" and events["received"].actor == "[anonymisé]"
    assert events["note"].detail == "" and events["note"].actor == DIRECTOR
    assert events["closed"].detail == "" and events["sent:acknowledgement"].detail == ""
    assert events["opened"].detail == "reclamation-mot-cle" and events["set:nature"].detail == "organisationnelle"
    assert events["feedback"].detail == "4/5"
    assert [(a.text, a.owner) for a in detail.actions] == [("Envoyer les attestations sous 48 h", DIRECTOR)]
    # Nothing about her is left anywhere, attachments rows, outbox bytes and audit log included.
    text = database_text(app)
    for secret in SECRETS:
        assert secret not in text, secret
    assert not old.mail.exists() and not old.attachment.exists()
    assert not old.attachment.parent.exists()  # the mail's emptied attachment folder goes too
    # The recent closed case and the old open one are untouched, files included.
    assert cases[recent.number] == before[recent.number] and details[recent.number] == details_before[recent.number]
    assert cases[still_open.number] == before[still_open.number]
    assert details[still_open.number] == details_before[still_open.number]
    for kept in (recent, still_open):
        assert kept.mail.exists() and kept.attachment.exists()
    # The audit log says what was done, by whom, when.
    entries = audit(app)
    assert [e.action for e in entries] == ["purge:case", "purge:run"]
    assert entries[0].detail.startswith(f"purged case {old.number} (anonymised; 1 mail and 1 outgoing mail emptied")
    assert all(e.actor == "alice (inboxbot purge)" and e.at == now for e in entries)
    assert old.number in format_report(report)


def test_the_recognizers_notes_on_a_mail_go_with_the_person(make_app: Callable[..., App]) -> None:
    """Its notes may quote the mail (the clause a claimant wrote): emptied with the excerpt, and a note
    written back into an anonymised case's mail has the next purge anonymise it again."""
    app = make_app("anonymise")
    quoted = f"une clause offre une voie de recours (« {LEA_NAME} saisira le médiateur ») : ce n'est pas un grief"
    case = seed_case(app, received=paris(2022, 5, 2), closed=paris(2022, 6, 1), notes=(quoted,))
    with app.store.reading() as unit:
        assert [mail.notes for mail in unit.mails()] == [(quoted,)]
    purge(app, paris(2026, 1, 15), "test")
    with app.store.reading() as unit:
        assert [mail.notes for mail in unit.mails()] == [()]
    assert "médiateur" not in database_text(app)
    with app.store.unit() as unit:
        unit.session.execute(update(MailRow).where(MailRow.case_id == case.case_id).values(notes=json.dumps([quoted])))
    assert [c.number for c in plan_purge(app, paris(2026, 1, 16)).cases] == [case.number]
    purge(app, paris(2026, 1, 16), "test")
    assert "médiateur" not in database_text(app)


def test_purging_twice_does_nothing_the_second_time(make_app: Callable[..., App]) -> None:
    app = make_app("anonymise")
    seed_case(app, received=paris(2022, 5, 2), closed=paris(2022, 6, 1))
    seed_orphan(app, paris(2022, 5, 3), "old-news")
    now = paris(2026, 1, 15)
    first = purge(app, now, "test")
    assert len(first.cases) == 1 and first.orphan_mails == 1
    state, on_disk = snapshot(app), files(app)

    assert plan_purge(app, now).cases == [] and plan_purge(app, now).orphan_mails == 0
    second = purge(app, now + timedelta(days=1), "test")

    assert second.cases == [] and second.orphan_mails == 0 and second.files_removed == 0
    assert not second.changed_anything
    assert snapshot(app) == state and files(app) == on_disk  # not even an audit entry


def test_an_anonymised_case_that_takes_in_personal_data_again_is_anonymised_again(
    make_app: Callable[..., App],
) -> None:
    """A late reply threaded into an anonymised case brings her address back: the next purge sees it."""
    app = make_app("anonymise")
    case = seed_case(app, received=paris(2022, 5, 2), closed=paris(2022, 6, 1))
    purge(app, paris(2026, 1, 15), "test")
    with app.store.unit() as unit:
        unit.add_event(case.case_id, paris(2026, 1, 20), LEA, "mail:in", "encore moi")
    assert [c.number for c in plan_purge(app, paris(2026, 1, 21)).cases] == [case.number]
    purge(app, paris(2026, 1, 21), "test")
    assert LEA not in database_text(app)


def test_a_case_reopened_after_the_plan_is_left_alone(make_app: Callable[..., App]) -> None:
    app = make_app("delete")
    case = seed_case(app, received=paris(2022, 5, 2), closed=paris(2022, 6, 1))
    now = paris(2026, 1, 15)
    assert [c.number for c in plan_purge(app, now).cases] == [case.number]
    with app.store.unit() as unit:
        # Reopened with its old closing date left in place: the status alone keeps it.
        unit.update_case(case.case_id, status="open")
    assert plan_purge(app, now).cases == []
    assert purge(app, now, "test").cases == []
    with app.store.unit() as unit:
        assert unit.case(case.case_id).claimant == LEA
    assert case.mail.exists() and case.attachment.exists()


# -- delete ------------------------------------------------------------------------------------


def test_deleting_removes_the_case_and_all_it_holds_but_never_reuses_its_number(make_app: Callable[..., App]) -> None:
    app = make_app("delete")
    old = seed_case(app, received=paris(2022, 5, 2), closed=paris(2022, 6, 1))
    other = seed_case(app, received=paris(2022, 7, 2), closed=paris(2024, 6, 1), claimant=PAUL, name="Paul Durand")
    still_open = seed_case(app, received=paris(2021, 5, 2), closed=None, claimant=OLGA, name="Olga Ouverte")
    report = purge(app, paris(2026, 1, 15), "test")

    assert [c.number for c in report.cases] == [old.number]
    assert report.cases[0].mails == 1 and report.cases[0].attachments == 1 and report.cases[0].actions == 1
    after = snapshot(app)
    with app.store.unit() as unit:
        assert {c.number for c in unit.cases()} == {other.number, still_open.number}
        assert unit.case_detail(old.number) is None
        assert unit.next_case_number(2022) == "2022-0003"  # 2022-0001 is gone, but never handed out again
    assert [r for r in after["cases"] if r[1] == old.number] == []
    for table, case_column in (("mails", 3), ("outbox", 2), ("case_events", 1), ("actions", 1)):
        assert [r for r in after[table] if r[case_column] == old.case_id] == [], table
    assert len(after["attachments"]) == 2
    text = database_text(app)
    for secret in SECRETS:
        assert secret not in text, secret
    assert not old.mail.exists() and not old.attachment.exists()
    for kept in (other, still_open):
        assert kept.mail.exists() and kept.attachment.exists()
    entries = audit(app)
    assert entries[0].action == "purge:case"
    assert entries[0].detail == (
        f"purged case {old.number} (deleted; 1 mail, 1 attachment, 1 outgoing mail, 7 events, 1 action removed, "
        "2 archive files to remove)"
    )
    # Idempotent: nothing left to delete.
    state = snapshot(app)
    assert not purge(app, paris(2026, 1, 16), "test").changed_anything
    assert snapshot(app) == state


def test_switching_to_delete_removes_cases_already_anonymised(make_app: Callable[..., App]) -> None:
    case = seed_case(make_app("anonymise"), received=paris(2022, 5, 2), closed=paris(2022, 6, 1))
    purge(make_app("anonymise"), paris(2026, 1, 15), "test")
    app = make_app("delete")
    assert [c.number for c in purge(app, paris(2026, 1, 16), "test").cases] == [case.number]
    with app.store.unit() as unit:
        assert unit.cases() == []


# -- mails linked to no case -------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["anonymise", "delete"])
def test_old_mails_linked_to_no_case_go_too(make_app: Callable[..., App], mode: str) -> None:
    app = make_app(mode)
    old = [seed_orphan(app, paris(2022, 12, d), f"old-{d}") for d in (1, 2, 3)]
    young = seed_orphan(app, paris(2023, 1, 16, 0, 5), "young")  # not three years old on 15 January 2026
    now = paris(2026, 1, 15, 23)

    assert plan_purge(app, now).orphan_mails == 3 and plan_purge(app, now).files == 3
    report = purge(app, now, "test")

    assert report.orphan_mails == 3 and report.files_removed == 3
    assert [p.exists() for p in old] == [False, False, False] and young.exists()
    with app.store.unit() as unit:
        assert [m.message_key for m in unit.mails_without_case()] == ["mid:young"]
    entries = audit(app)
    assert entries[0].action == "purge:mails"
    assert entries[0].detail.startswith("purged 3 mails not linked to any case, received up to 2023-01-15")


def test_mails_linked_to_no_case_are_purged_in_batches(
    make_app: Callable[..., App], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "ORPHAN_BATCH", 2)
    app = make_app()
    for d in range(1, 6):
        seed_orphan(app, paris(2022, 12, d), f"old-{d}")
    assert purge(app, paris(2026, 1, 15), "test").orphan_mails == 5
    assert [e.action for e in audit(app)] == ["purge:mails"] * 3 + ["purge:run"]


# -- dry run, refusals, files ------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["anonymise", "delete"])
def test_the_dry_run_changes_nothing(make_app: Callable[..., App], mode: str) -> None:
    app = make_app(mode)
    old = seed_case(app, received=paris(2022, 5, 2), closed=paris(2022, 6, 1))
    seed_case(app, received=paris(2024, 5, 2), closed=paris(2024, 6, 1), claimant=PAUL)
    seed_orphan(app, paris(2022, 5, 3), "old-news")
    state, on_disk = snapshot(app), files(app)

    plan = plan_purge(app, paris(2026, 1, 15))

    assert snapshot(app) == state and files(app) == on_disk
    assert not (app.archive.root / retention.JOURNAL_NAME).exists()
    assert [c.number for c in plan.cases] == [old.number]
    assert plan.cases[0].mails == 1 and plan.cases[0].attachments == 1 and plan.cases[0].files == 2
    assert plan.orphan_mails == 1 and plan.files == 3 and plan.mode == mode and plan.leftover_files == 0
    shown = format_plan(plan)
    assert old.number in shown and "dry run" in shown and LEA not in shown


def test_a_retention_under_three_years_is_refused(make_app: Callable[..., App], tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="retention_years"):
        settings_from_mapping(mapping(tmp_path, "sqlite:///x.db", years=2), tmp_path)
    app = make_app()
    seed_case(app, received=paris(2022, 5, 2), closed=paris(2022, 6, 1))
    state, on_disk = snapshot(app), files(app)
    # Settings built some other way than the loader: the purge checks again itself.
    app.settings = dataclasses.replace(
        app.settings, storage=dataclasses.replace(app.settings.storage, retention_years=2)
    )
    with pytest.raises(PurgeRefused, match="at least 3 years"):
        purge(app, paris(2030, 1, 1), "test")
    with pytest.raises(PurgeRefused, match="at least 3 years"):
        plan_purge(app, paris(2030, 1, 1))
    app.settings = dataclasses.replace(
        app.settings, storage=dataclasses.replace(app.settings.storage, retention_years=3, purge_mode="shred")
    )
    with pytest.raises(PurgeRefused, match="purge_mode"):
        purge(app, paris(2030, 1, 1), "test")
    assert snapshot(app) == state and files(app) == on_disk


def test_a_longer_retention_keeps_records_longer(make_app: Callable[..., App]) -> None:
    app = make_app(years=5)
    case = seed_case(app, received=paris(2022, 5, 2), closed=paris(2022, 6, 1))
    assert purge(app, paris(2027, 5, 31), "test").cases == []
    assert [c.number for c in purge(app, paris(2027, 6, 1), "test").cases] == [case.number]


def test_files_outside_the_archive_or_still_used_are_never_removed_and_missing_ones_are_reported(
    make_app: Callable[..., App], tmp_path: Path
) -> None:
    app = make_app("delete")
    outside = tmp_path / "precious.txt"
    outside.write_text("not the archive's")
    old = seed_case(app, received=paris(2022, 5, 2), closed=paris(2022, 6, 1))
    kept = seed_case(app, received=paris(2024, 5, 2), closed=None, claimant=PAUL)
    shared = str(kept.mail.relative_to(app.archive.root))
    link = app.archive.root / "2022" / "05" / "link.eml"
    link.symlink_to(outside)
    with app.store.unit() as unit:
        mail_id = unit.record_mail(
            dataclasses.replace(_orphan_record("escape"), case_id=old.case_id, archive_path="../precious.txt"),
            paris(2022, 5, 2),
        )
        unit.add_attachment(mail_id, "a.pdf", "application/pdf", 1, "2022/05/link.eml")
        unit.add_attachment(mail_id, "b.pdf", "application/pdf", 1, shared)
        unit.add_attachment(mail_id, "c.pdf", "application/pdf", 1, "2022/05/never-written.pdf")
    old.attachment.unlink()  # lost before the purge: reported, not an error

    report = purge(app, paris(2026, 1, 15), "test")

    assert [c.number for c in report.cases] == [old.number]
    assert outside.read_text() == "not the archive's" and link.is_symlink()
    assert sorted(report.files_refused) == ["../precious.txt", "2022/05/link.eml"]
    assert kept.mail.exists() and report.files_shared == 1
    assert sorted(report.files_missing) == sorted(
        ["2022/05/never-written.pdf", str(old.attachment.relative_to(app.archive.root))]
    )
    assert report.files_removed == 1 and not old.mail.exists()
    assert "already missing" in format_report(report)
    assert audit(app)[-1].detail.endswith(
        "1 archive file removed, 2 already missing, 0 not removable, 2 outside the archive"
    )


def test_a_crash_after_the_commit_leaves_files_that_the_next_purge_removes(
    make_app: Callable[..., App], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The failure mode chosen: rows first, files after, the files journalled in between."""
    app = make_app("anonymise")
    case = seed_case(app, received=paris(2022, 5, 2), closed=paris(2022, 6, 1))
    real_remove = retention._remove_files

    def crash(app: App, journal: Any, paths: Any, tally: Any) -> None:
        if list(paths):
            raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(retention, "_remove_files", crash)
    with pytest.raises(KeyboardInterrupt):
        purge(app, paris(2026, 1, 15), "test")
    with app.store.unit() as unit:
        assert unit.case(case.case_id).claimant is None  # committed, audit entry with it
    assert [e.action for e in audit(app)] == ["purge:case"]
    assert case.mail.exists() and case.attachment.exists()  # the files outlived the crash...
    journal = json.loads((app.archive.root / retention.JOURNAL_NAME).read_text())
    assert sorted(journal) == sorted(str(p.relative_to(app.archive.root)) for p in (case.mail, case.attachment))
    assert plan_purge(app, paris(2026, 1, 16)).leftover_files == 2

    monkeypatch.setattr(retention, "_remove_files", real_remove)
    report = purge(app, paris(2026, 1, 16), "test")  # ...until the next purge

    assert report.cases == [] and report.files_removed == 2
    assert not case.mail.exists() and not case.attachment.exists()
    assert not (app.archive.root / retention.JOURNAL_NAME).exists()


def test_a_failed_transaction_removes_no_file(make_app: Callable[..., App], monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app("delete")
    case = seed_case(app, received=paris(2022, 5, 2), closed=paris(2022, 6, 1))

    def broken(*args: Any) -> None:
        raise RuntimeError("database gone")

    monkeypatch.setattr(records, "add_audit", broken)
    with pytest.raises(RuntimeError):
        purge(app, paris(2026, 1, 15), "test")
    monkeypatch.undo()
    with app.store.unit() as unit:
        assert unit.case(case.case_id).claimant == LEA  # rolled back: the case and its audit go together
    assert case.mail.exists() and case.attachment.exists()
    # The journal lists files of a transaction that never committed; they are still used, so kept.
    report = purge(app, paris(2026, 1, 15), "test")
    assert [c.number for c in report.cases] == [case.number] and report.files_removed == 2


def test_two_purges_never_run_at_once(make_app: Callable[..., App]) -> None:
    app = make_app()
    with retention._exclusive(app.archive.root):
        with pytest.raises(PurgeRefused, match="already running"):
            purge(app, paris(2026, 1, 15), "test")


# -- the schema --------------------------------------------------------------------------------


def test_the_audit_log_migration_applies_and_reverts(database_url: str) -> None:
    store = Store.open(database_url)
    try:
        columns = {c["name"] for c in inspect(store.engine).get_columns("audit_log")}
        assert columns == {"id", "at", "actor", "action", "detail"}
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with store.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0002")
        assert "audit_log" not in inspect(store.engine).get_table_names()
        store.migrate()
        assert "audit_log" in inspect(store.engine).get_table_names()
        with store.unit() as unit:
            records.add_audit(unit, datetime(2026, 1, 1, tzinfo=UTC), "test", "purge:run", "nothing")
        with store.unit() as unit:
            assert [(e.at, e.detail) for e in records.audit_log(unit)] == [
                (datetime(2026, 1, 1, tzinfo=UTC), "nothing")
            ]
    finally:
        store.close()


def test_the_recognition_notes_migration_keeps_the_mails_read_before_it(database_url: str) -> None:
    """An existing database gains the notes column: its mails keep everything and read with no note,
    new ones keep theirs (JSON, non-ASCII intact); going back drops only the column."""
    model = "modèle appris : ressemble à une réclamation ou un aléa (probabilité 91 %)"
    store = Store.open(database_url)
    try:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with store.unit() as unit:
            before = dataclasses.replace(_orphan_record("before"), words=("sous quinze jours",))
            unit.record_mail(before, paris(2026, 12, 1))
        with store.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0013")
        assert "notes" not in {c["name"] for c in inspect(store.engine).get_columns("mails")}
        store.migrate()
        with store.unit() as unit:
            unit.record_mail(dataclasses.replace(_orphan_record("after"), notes=(model,)), paris(2026, 12, 7))
        with store.reading() as unit:
            read = {mail.message_key: mail for mail in unit.mails()}
        assert (read["mid:before"].words, read["mid:before"].notes) == (("sous quinze jours",), ())
        assert read["mid:after"].notes == (model,)
        with store.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0013")
        assert "notes" not in {c["name"] for c in inspect(store.engine).get_columns("mails")}
        with store.engine.connect() as connection:
            assert connection.execute(select(func.count()).select_from(MailRow.__table__)).scalar_one() == 2
    finally:
        store.close()


def _orphan_record(key: str) -> MailRecord:
    return MailRecord(
        message_key=f"mid:{key}",
        message_id=None,
        case_id=None,
        direction="in",
        folder="INBOX",
        uidvalidity=1,
        uid=1,
        received_at=paris(2022, 5, 2),
        header_date=None,
        from_address=None,
        from_name="",
        to_addresses="",
        subject="",
        summary="",
        archive_path="",
        sha256="0" * 64,
        size=0,
        outcome="ignored",
        reason="",
        automatic=None,
        rules_hit=(),
    )
