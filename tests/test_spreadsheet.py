"""The register as an XLSX workbook, opened again as Excel would open it.

Every check reads the file back (openpyxl, and the sheet's XML where openpyxl would hide the
difference): headers, frozen pane, filter, real date cells in Paris time, and claimant text that
looks like a formula stored as text.
"""

from __future__ import annotations

import csv
import io
import random
import zipfile
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
import xlsxwriter
from databases import fresh_database_url
from openpyxl.worksheet.worksheet import Worksheet

from inboxbot.domain.cases import Action, Case, CaseDetail, CaseEvent, LogEntry, event_detail, exchange_note
from inboxbot.domain.deadlines import DuePolicy, WorkingDayCalendar
from inboxbot.domain.text import first_lines
from inboxbot.domain.vocabulary import (
    ActionKind,
    ActionStatus,
    CaseStatus,
    Channel,
    Direction,
    Kind,
    Means,
    Nature,
    Priority,
    Stakeholder,
    Term,
)
from inboxbot.exports.register import CASE_RULES_HEADER, SUMMARY_CHARS, to_csv
from inboxbot.exports.spreadsheet import (
    ACTION_COLUMNS,
    CASE_COLUMNS,
    DAY,
    DAY_CELL,
    EXCHANGE_COLUMNS,
    HISTORY_COLUMNS,
    INSTANT,
    INSTANT_CELL,
    MAX_CELL_TEXT,
    NUMBER,
    QUOTED,
    QUOTED_WRAPPED,
    WRAP,
    WRAPPED,
    Column,
    _RowMaker,
    _Styles,
    excel_serial,
    register_xlsx,
    safe_text,
)
from inboxbot.store.repository import Store

PARIS = ZoneInfo("Europe/Paris")
OWN = "alice@cafemetrie.fr"
TODAY = date(2026, 6, 30)
POLICY = DuePolicy(WorkingDayCalendar.for_country("FR"), PARIS)
FORMULA = '=HYPERLINK("http://evil.example/","Cliquez ici")'


def paris(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=PARIS).astimezone(UTC)


def action(
    seq: int, kind: str, text: str, status: str | None = None, result: str = "", due: date | None = None
) -> Action:
    at = paris(2026, 3, 4, 9)
    return Action(
        seq,
        ActionKind(kind),
        text,
        "Alice",
        due,
        ActionStatus(status) if status else None,
        result,
        at,
        at + timedelta(days=2),
    )


CASE_TERMS: dict[str, type[Term]] = {
    "kind": Kind,
    "status": CaseStatus,
    "channel": Channel,
    "nature": Nature,
    "priority": Priority,
    "stakeholder": Stakeholder,
    "acknowledgement_means": Means,
    "response_means": Means,
}


def make(number: str, received: datetime, **fields: object) -> CaseDetail:
    base: dict[str, object] = {
        "id": int(number.replace("-", "")),
        "number": number,
        "kind": "reclamation",
        "status": "open",
        "channel": "email",
        "claimant": f"{number}@example.fr",
        "claimant_name": "Léa Martin",
        "subject": "Salle trop froide",
        "received_at": received,
        "acknowledge_due": POLICY.acknowledge_due(received),
        "response_due": POLICY.response_due(received),
        "acknowledged_at": None,
        "responded_at": None,
        "closed_at": None,
        "nature": None,
        "priority": None,
        "rules_hit": (),
    }
    actions = fields.pop("actions", ())
    base.update(fields)
    for name, term in CASE_TERMS.items():  # as the store reads them back
        if base.get(name) is not None:
            base[name] = term(str(base[name]))
    return CaseDetail(case=Case(**base), messages=(), events=(), actions=actions)  # type: ignore[arg-type]


def seeded() -> list[CaseDetail]:
    return [
        # Received at 00:30 on 3 March in Paris (23:30 on 2 March in UTC); everything on time.
        make(
            "2026-0001",
            paris(2026, 3, 3, 0, 30),
            status="closed",
            channel="form",
            stakeholder="apprenant",
            training="Barista niveau 1",
            description="La salle était à 15 °C.\nLe chauffage ne s'est pas allumé.",
            nature="materielle",
            priority="haute",
            acknowledged_at=paris(2026, 3, 3, 0, 31),
            responded_at=paris(2026, 3, 10, 17),
            closed_at=paris(2026, 3, 10, 17),
            satisfaction_mark=4,
            satisfaction_comment="Merci pour la réactivité",
            actions=(
                action(1, "cause", "Chauffage non programmé"),
                action(
                    2, "corrective", "Programmer le chauffage la veille", "done", "Salle à 20 °C", date(2026, 3, 20)
                ),
                action(3, "preventive", "Contrôle la veille de chaque session", "todo", due=date(2026, 4, 30)),
                action(4, "mediation", "Appel à la stagiaire"),
            ),
        ),
        # Claimant text that a spreadsheet would run or misread.
        make(
            "2026-0002",
            paris(2026, 4, 7, 14),
            subject=FORMULA,
            description="+33 6 12 34 56 78 \x0b rappeler",
            claimant_name="@lea",
            satisfaction_comment="-1 pas content",
            training="#N/A",
            acknowledged_at=paris(2026, 4, 8),
        ),
        # Acknowledged late; response not yet due on 30 June.
        make("2026-0003", paris(2026, 6, 1), acknowledged_at=paris(2026, 6, 29)),
        # Not a claim: its missing acknowledgement is no miss.
        make("2026-0004", paris(2026, 5, 4), status="closed", dismissed=True, closed_at=paris(2026, 5, 5)),
        # Never acknowledged, and its response extended with a reason.
        make(
            "2026-0005",
            paris(2026, 5, 11),
            extended_due=date(2026, 6, 25),
            extension_reason="Attente du retour du centre",
        ),
    ]


def workbook(details: list[CaseDetail]) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(register_xlsx(details, PARIS, OWN, TODAY)))


def sheet(book: openpyxl.Workbook, name: str) -> Worksheet:
    found = book[name]
    assert isinstance(found, Worksheet)
    return found


def by_header(ws: Worksheet, row: int) -> dict[str, object]:
    headers = [cell.value for cell in ws[1]]
    return {str(header): cell.value for header, cell in zip(headers, ws[row], strict=True)}


def cell(ws: Worksheet, row: int, header: str) -> openpyxl.cell.cell.Cell:
    headers = [c.value for c in ws[1]]
    found = ws.cell(row=row, column=headers.index(header) + 1)
    assert isinstance(found, openpyxl.cell.cell.Cell)
    return found


def test_sheets_headers_frozen_pane_filter_and_widths() -> None:
    book = workbook(seeded())
    assert book.sheetnames == ["Dossiers", "Actions", "Échanges", "Historique"]
    cases = sheet(book, "Dossiers")
    headers = [c.value for c in cases[1]]
    assert headers == [column.header for column in CASE_COLUMNS]
    for expected in (
        "Numéro",
        "Type",
        "Date de réception",
        "Canal",
        "Date de réception établie d'après",
        "Partie prenante",
        "Réclamant",
        "Formation concernée",
        "Objet",
        "Résumé",
        "Nature",
        "Priorité",
        "Accusé de réception dû le",
        "Accusé de réception envoyé le",
        "Accusé de réception dans les délais",
        "Réponse due le",
        "Réponse apportée le",
        "Réponse dans les délais",
        "Réponse prolongée jusqu'au",
        "Motif de la prolongation",
        "Cause(s) profonde(s)",
        "Actions correctives et préventives (statut)",
        "Médiation",
        "Statut",
        "Date de clôture",
        "Note de satisfaction (sur 5)",
        "Commentaire du réclamant",
    ):
        assert expected in headers
    assert cases.freeze_panes == "B2"
    assert cases.auto_filter.ref == "A1:AH6"
    assert cases.max_row == 6
    assert cases.column_dimensions["L"].width == 60  # Résumé
    assert cases["A1"].font.bold
    actions = sheet(book, "Actions")
    assert [c.value for c in actions[1]] == [column.header for column in ACTION_COLUMNS]
    assert actions.freeze_panes == "B2"
    assert actions.auto_filter.ref == "A1:K5"


def test_dates_are_excel_dates_in_paris_time() -> None:
    cases = sheet(workbook(seeded()), "Dossiers")
    received = cell(cases, 2, "Date de réception")
    assert received.is_date and received.data_type == "d"
    assert received.value == datetime(2026, 3, 3, 0, 30)  # Paris wall clock, not 2 March in UTC
    assert received.number_format == "dd/mm/yyyy hh:mm"
    due = cell(cases, 2, "Accusé de réception dû le")
    assert due.is_date and due.number_format == "dd/mm/yyyy"
    assert due.value == datetime(2026, 3, 24)
    assert cell(cases, 2, "Réponse due le").value == datetime(2026, 4, 2)
    assert cell(cases, 2, "Date de clôture").value == datetime(2026, 3, 10, 17)
    assert cell(cases, 6, "Réponse prolongée jusqu'au").value == datetime(2026, 6, 25)
    assert cell(cases, 6, "Accusé de réception envoyé le").value is None


def test_a_row_carries_every_field_in_french() -> None:
    row = by_header(sheet(workbook(seeded()), "Dossiers"), 2)
    assert row["Numéro"] == "2026-0001"
    assert row["Type"] == "réclamation"
    assert row["Canal"] == "formulaire en ligne"
    assert row["Partie prenante"] == "apprenant"
    assert row["Réclamant"] == "Léa Martin"
    assert row["Adresse e-mail du réclamant"] == "2026-0001@example.fr"
    assert row["Formation concernée"] == "Barista niveau 1"
    assert row["Objet"] == "Salle trop froide"
    assert row["Résumé"] == "La salle était à 15 °C.\nLe chauffage ne s'est pas allumé."
    assert row["Nature"] == "matérielle"
    assert row["Priorité"] == "haute"
    assert row["Accusé de réception dans les délais"] == "oui"
    assert row["Réponse dans les délais"] == "oui"
    assert row["Cause(s) profonde(s)"] == "Chauffage non programmé"
    assert row["Actions correctives et préventives (statut)"] == (
        "2. action corrective : Programmer le chauffage la veille [faite] — résultat : Salle à 20 °C\n"
        "3. action préventive : Contrôle la veille de chaque session [à faire]"
    )
    assert row["Médiation"] == "Appel à la stagiaire"
    assert row["Statut"] == "clôturée"
    assert row["Note de satisfaction (sur 5)"] == 4
    assert row["Commentaire du réclamant"] == "Merci pour la réactivité"


def test_deadlines_read_yes_no_pending_or_not_applicable() -> None:
    cases = sheet(workbook(seeded()), "Dossiers")
    status = {
        by_header(cases, row)["Numéro"]: (
            by_header(cases, row)["Accusé de réception dans les délais"],
            by_header(cases, row)["Réponse dans les délais"],
            by_header(cases, row)["Statut"],
        )
        for row in range(2, 7)
    }
    assert status == {
        "2026-0001": ("oui", "oui", "clôturée"),
        "2026-0002": ("oui", "non", "ouverte"),  # response was due on 7 May
        "2026-0003": ("non", "en attente", "ouverte"),  # response due 1 July
        "2026-0004": ("sans objet", "sans objet", "classée sans suite"),
        "2026-0005": ("non", "non", "ouverte"),  # extended to 25 June, still unanswered
    }
    assert by_header(cases, 6)["Motif de la prolongation"] == "Attente du retour du centre"


def test_claimant_text_never_becomes_a_formula() -> None:
    data = register_xlsx(seeded(), PARIS, OWN, TODAY)
    xml = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in xml and "<f " not in xml
    assert 't="e"' not in xml  # "#N/A" stays text, not an error value
    cases = sheet(openpyxl.load_workbook(io.BytesIO(data)), "Dossiers")
    for header, expected in (
        ("Objet", FORMULA),
        ("Résumé", "+33 6 12 34 56 78  rappeler"),  # the vertical tab XLSX cannot hold is dropped
        ("Réclamant", "@lea"),
        ("Commentaire du réclamant", "-1 pas content"),
        ("Formation concernée", "#N/A"),
    ):
        found = cell(cases, 3, header)
        assert found.value == expected, header
        assert found.data_type == "s", header
        assert found.quotePrefix, header  # editing the cell in Excel keeps it text
    # Ordinary text needs no prefix.
    assert not cell(cases, 2, "Objet").quotePrefix


def test_long_text_wraps_and_short_text_does_not() -> None:
    cases = sheet(workbook(seeded()), "Dossiers")
    assert cell(cases, 2, "Résumé").alignment.wrap_text
    assert cell(cases, 2, "Actions correctives et préventives (statut)").alignment.wrap_text
    assert not cell(cases, 2, "Objet").alignment.wrap_text


def test_actions_sheet_one_row_per_action() -> None:
    actions = sheet(workbook(seeded()), "Actions")
    rows = [by_header(actions, row) for row in range(2, actions.max_row + 1)]
    assert [(r["Dossier"], r["N°"], r["Type"]) for r in rows] == [
        ("2026-0001", 1, "cause profonde"),
        ("2026-0001", 2, "action corrective"),
        ("2026-0001", 3, "action préventive"),
        ("2026-0001", 4, "médiation"),
    ]
    corrective, preventive = rows[1], rows[2]
    assert corrective["Description"] == "Programmer le chauffage la veille"
    assert corrective["Responsable"] == "Alice"
    assert corrective["Échéance"] == datetime(2026, 3, 20)
    assert corrective["Statut"] == "faite"
    assert corrective["Résultat"] == "Salle à 20 °C"
    assert corrective["En retard"] is None
    assert corrective["Enregistrée le"] == datetime(2026, 3, 4, 9)
    assert corrective["Mise à jour le"] == datetime(2026, 3, 6, 9)
    assert preventive["Statut"] == "à faire"
    assert preventive["En retard"] == "oui"  # due 30 April, still to do on 30 June
    assert rows[0]["Statut"] is None
    due = cell(actions, 3, "Échéance")
    assert due.is_date and due.number_format == "dd/mm/yyyy"


def test_dates_are_the_numbers_xlsxwriter_stores_for_them() -> None:
    """Dates are written as numbers made beforehand (`excel_serial`), to the byte what write_datetime writes."""
    rng = random.Random(7)
    start = datetime(1900, 3, 1)
    instants = [datetime(1900, 2, 28, 23, 59, 59), start, datetime(2024, 2, 29, 12), datetime(2026, 3, 29, 2, 30)]
    instants += [start + timedelta(seconds=rng.randrange(200 * 365 * 86_400)) for _ in range(1_000)]
    # An action's instants keep their microseconds.
    instants += [start + timedelta(microseconds=rng.randrange(200 * 365 * 86_400 * 10**6)) for _ in range(1_000)]
    days = [date(1900, 2, 28), date(1900, 3, 1), date(2024, 2, 29), *(i.date() for i in instants)]

    def sheet_xml(write_dates: str) -> bytes:
        out = io.BytesIO()
        book = xlsxwriter.Workbook(out, {"constant_memory": True})
        day, instant_format = book.add_format({"num_format": "dd/mm/yyyy"}), book.add_format({"num_format": "hh:mm"})
        ws = book.add_worksheet()
        for row, (instant, due) in enumerate(zip(instants, days, strict=False)):
            if write_dates == "datetime":
                ws.write_datetime(row, 0, instant, instant_format)
                ws.write_datetime(row, 1, due, day)
            else:
                ws.write_number(row, 0, excel_serial(instant), instant_format)
                ws.write_number(row, 1, excel_serial(due), day)
        book.close()
        return zipfile.ZipFile(out).read("xl/worksheets/sheet1.xml")

    assert sheet_xml("number") == sheet_xml("datetime")


def test_an_empty_register_is_a_valid_workbook() -> None:
    book = workbook([])
    assert sheet(book, "Dossiers").max_row == 1
    assert sheet(book, "Dossiers").auto_filter.ref == "A1:AH1"
    assert sheet(book, "Actions").max_row == 1


def test_a_register_read_from_the_store(tmp_path: Path) -> None:
    """The values the store returns (UTC instants, SQLite) go into the workbook as they are."""
    store = Store.open(fresh_database_url(tmp_path))
    try:
        received = paris(2026, 1, 5, 23, 30)
        with store.unit() as unit:
            case_id = unit.open_case(
                number="2026-0001",
                kind="reclamation",
                channel="email",
                claimant="lea@example.fr",
                claimant_name="Léa",
                subject="=1+1",
                received_at=received,
                acknowledge_due=POLICY.acknowledge_due(received),
                response_due=POLICY.response_due(received),
                nature="humaine",
                priority=None,
                rules_hit=(),
                now=received,
            ).id
            unit.add_action(case_id, "corrective", "Former l'équipe", received, owner="Alice", due=date(2026, 2, 1))
        with store.unit() as unit:
            details = unit.case_details(unit.cases(year=2026))
    finally:
        store.close()
    book = openpyxl.load_workbook(io.BytesIO(register_xlsx(details, PARIS, OWN, TODAY)))
    cases = sheet(book, "Dossiers")
    assert cell(cases, 2, "Date de réception").value == datetime(2026, 1, 5, 23, 30)
    assert cell(cases, 2, "Objet").value == "=1+1" and cell(cases, 2, "Objet").data_type == "s"
    assert cell(cases, 2, "Nature").value == "humaine"
    assert by_header(sheet(book, "Actions"), 2)["En retard"] == "oui"


@pytest.mark.parametrize("count", [2_000])
def test_a_large_register_is_streamed(count: int) -> None:
    """Every row is written, and the file stays small: strings inline, no per-cell style blow-up."""
    details = [
        make(
            f"2026-{n:05d}",
            paris(2026, 1 + n % 12, 1 + n % 28),
            acknowledged_at=paris(2026, 1 + n % 12, 1 + n % 28, 11),
        )
        for n in range(count)
    ]
    data = register_xlsx(details, PARIS, OWN, TODAY)
    assert len(data) < count * 400
    cases = sheet(openpyxl.load_workbook(io.BytesIO(data), read_only=False), "Dossiers")
    assert cases.max_row == count + 1
    assert cases.auto_filter.ref == f"A1:AH{count + 1}"


# -- The exchange log and the history: « toutes les étapes d'échange » ----------------------------

BIG = "Je conteste. " * 8_000  # about 100,000 characters on one line


def entry(
    direction: str, at: datetime, subject: str, text: str, *, sender: str | None, to: str, **fields: object
) -> LogEntry:
    return LogEntry(
        direction=Direction(direction),
        message_id=f"<{subject[:8]}@example.fr>",
        from_address=sender,
        date=at,
        subject=subject,
        summary=text,
        note=str(fields.pop("note", "")),
        recorded_at=at,
        to=to,
        **fields,  # type: ignore[arg-type]
    )


def event(at: datetime, actor: str, kind: str, detail: str) -> CaseEvent:
    return CaseEvent(at=at, actor=actor, type=kind, detail=detail)


def stepped() -> list[CaseDetail]:
    """A case with every kind of step an auditor looks for, and one whose claimant wrote hostile text."""
    lea = "lea@example.fr"
    first = make("2026-0007", paris(2026, 3, 3, 9), rules_hit=("10-tags.toml:reclamation-tag", "mots : déçue"))
    steps = replace(
        first,
        messages=(
            entry(
                "in",
                paris(2026, 3, 3, 9),
                "Réclamation : salle trop froide",
                "Bonjour,\n\nLa salle était glaciale.\nNous avons gardé nos manteaux.\nInadmissible.\nUn\nDeux\nTrois",
                sender=lea,
                to=OWN,
                archive_path="2026/03/abc.eml",
            ),
            entry(
                "out",
                paris(2026, 3, 3, 9, 1),
                "[Dossier 2026-0007] Accusé de réception",
                "Bonjour Léa,\nNous avons bien reçu votre réclamation.",
                sender=None,
                to=lea,
                from_outbox=True,
            ),
            entry("in", paris(2026, 3, 4, 8), "RE: [Dossier 2026-0007]", "Merci.", sender=lea, to=OWN),
            entry(
                "out",
                paris(2026, 3, 5, 8),
                "RE: [Dossier 2026-0007]",
                "Nous avons fait réparer le chauffage.",
                sender=OWN,
                to=lea,
                archive_path="2026/03/def.eml",
                note="written by the director",
            ),
            entry(
                "out",
                paris(2026, 3, 6, 8),
                "[Dossier 2026-0007] Réponse",
                "Relance",
                sender=None,
                to=lea,
                from_outbox=True,
                note="failed",
            ),
        ),
        events=(
            event(paris(2026, 3, 3, 9), lea, "received", "Réclamation : salle trop froide"),
            event(paris(2026, 3, 3, 9), "inboxbot", "opened", "10-tags.toml:reclamation-tag"),
            event(paris(2026, 3, 4, 10), OWN, "requalified", "reclamation → difficulte"),
            event(paris(2026, 3, 4, 10), OWN, "extended", "2026-04-02 → 2026-04-17 : attente du retour du centre"),
            event(paris(2026, 3, 4, 10), OWN, "note", "appel de Léa"),
            event(paris(2026, 3, 4, 10), OWN, "set:priority", "haute"),
            event(paris(2026, 3, 4, 10), OWN, "action:corrective", "1. Programmer le chauffage"),
            event(paris(2026, 3, 4, 10), OWN, "set:channel", "email → post"),
            event(paris(2026, 3, 5, 11), OWN, "dismissed", "doublon du dossier 2026-0006"),
            event(paris(2026, 3, 5, 11), "inboxbot", "sent:dismissal_notice", lea),
        ),
    )
    hostile = replace(
        make("2026-0008", paris(2026, 3, 9, 10), rules_hit=(FORMULA,)),
        messages=(entry("in", paris(2026, 3, 9, 10), FORMULA, "=1+1\x00 et @SUM(A1)\n" + BIG, sender="@x", to="-y"),),
        events=(event(paris(2026, 3, 9, 10), "=cmd|' /C calc'!A0", "note", "+" + BIG + "\x00"),),
    )
    return [steps, hostile]


def rows_of(ws: Worksheet) -> list[dict[str, object]]:
    return [by_header(ws, row) for row in range(2, ws.max_row + 1)]


def test_exchanges_sheet_one_row_per_mail_in_and_out() -> None:
    book = workbook(stepped())
    exchanges = sheet(book, "Échanges")
    assert (
        [c.value for c in exchanges[1]]
        == [column.header for column in EXCHANGE_COLUMNS]
        == [
            "Dossier",
            "Date",
            "Sens",
            "De",
            "À",
            "Objet",
            "Résumé",
            "Message original (dossier d'audit)",
            "Remarque",
        ]
    )
    assert exchanges.freeze_panes == "B2" and exchanges.auto_filter.ref == "A1:I7"
    rows = rows_of(exchanges)
    assert [(r["Dossier"], r["Sens"], r["De"], r["À"]) for r in rows] == [
        ("2026-0007", "reçu", "lea@example.fr", OWN),
        ("2026-0007", "envoyé", OWN, "lea@example.fr"),  # inboxbot's own mail: from the organisation
        ("2026-0007", "reçu", "lea@example.fr", OWN),
        ("2026-0007", "envoyé", OWN, "lea@example.fr"),  # hers, from her own client
        ("2026-0007", "envoyé", OWN, "lea@example.fr"),
        ("2026-0008", "reçu", "@x", "-y"),
    ]
    claim, ack, reply, hers, failed, _hostile = rows
    assert claim["Date"] == datetime(2026, 3, 3, 9)  # Paris wall clock, an Excel date
    assert cell(exchanges, 2, "Date").is_date and cell(exchanges, 2, "Date").number_format == "dd/mm/yyyy hh:mm"
    assert claim["Objet"] == "Réclamation : salle trop froide"
    # The first lines of the text, blank lines dropped, cut where it goes on.
    assert claim["Résumé"] == (
        "Bonjour,\nLa salle était glaciale.\nNous avons gardé nos manteaux.\nInadmissible.\nUn …"
    )
    assert ack["Résumé"] == "Bonjour Léa,\nNous avons bien reçu votre réclamation."
    # Where the audit file keeps each original: received (archived) and sent (inboxbot's bytes) alike.
    assert claim["Message original (dossier d'audit)"] == "dossiers/2026-0007/001-message.eml"
    assert ack["Message original (dossier d'audit)"] == "dossiers/2026-0007/002-message.eml"
    assert reply["Message original (dossier d'audit)"] is None  # recorded without its bytes
    assert hers["Message original (dossier d'audit)"] == "dossiers/2026-0007/004-message.eml"
    assert (hers["Remarque"], failed["Remarque"], claim["Remarque"]) == (
        "écrit par la directrice",
        "envoi : échec",
        None,
    )


def test_history_sheet_says_who_did_what_in_french() -> None:
    history = sheet(workbook(stepped()), "Historique")
    assert (
        [c.value for c in history[1]]
        == [column.header for column in HISTORY_COLUMNS]
        == [
            "Dossier",
            "Date",
            "Auteur",
            "Événement",
            "Détail",
        ]
    )
    rows = [(r["Auteur"], r["Événement"], r["Détail"]) for r in rows_of(history) if r["Dossier"] == "2026-0007"]
    assert rows == [
        ("lea@example.fr", "reçu", "Réclamation : salle trop froide"),
        ("inboxbot", "dossier ouvert", "10-tags.toml:reclamation-tag"),
        (OWN, "requalifié", "réclamation → difficulté"),
        (OWN, "délai de réponse prolongé", "02/04/2026 → 17/04/2026 : attente du retour du centre"),
        (OWN, "note", "appel de Léa"),
        (OWN, "priorité renseigné(e)", "haute"),
        (OWN, "action corrective enregistrée", "1. Programmer le chauffage"),
        (OWN, "canal renseigné(e)", "e-mail → courrier"),
        (OWN, "classé sans suite", "doublon du dossier 2026-0006"),
        ("inboxbot", "envoyé : avis de classement sans suite", "lea@example.fr"),
    ]
    assert history.cell(row=4, column=2).value == datetime(2026, 3, 4, 10)


def test_the_rules_that_opened_a_case_are_on_its_row() -> None:
    cases = sheet(workbook(stepped()), "Dossiers")
    assert cell(cases, 2, CASE_RULES_HEADER).value == "10-tags.toml:reclamation-tag, mots : déçue"
    assert cell(cases, 2, "Nombre d'échanges").value == 5
    header, *rows = csv.reader(io.StringIO(to_csv(stepped(), PARIS, OWN).lstrip("\ufeff")), delimiter=";")
    assert rows[0][header.index(CASE_RULES_HEADER)] == "10-tags.toml:reclamation-tag, mots : déçue"
    assert rows[1][header.index(CASE_RULES_HEADER)] == "'" + FORMULA  # a rule name is text too


def test_hostile_text_in_the_exchanges_and_history_stays_inert_text() -> None:
    data = register_xlsx(stepped(), PARIS, OWN, TODAY)
    archive = zipfile.ZipFile(io.BytesIO(data))
    for name in ("xl/worksheets/sheet3.xml", "xl/worksheets/sheet4.xml"):
        xml = archive.read(name).decode()
        assert "<f>" not in xml and "<f " not in xml and "\x00" not in xml, name
    book = openpyxl.load_workbook(io.BytesIO(data))
    exchanges, history = sheet(book, "Échanges"), sheet(book, "Historique")
    for header, expected in (("Objet", FORMULA), ("De", "@x"), ("À", "-y")):
        found = cell(exchanges, 7, header)
        assert (found.value, found.data_type, found.quotePrefix) == (expected, "s", True), header
    summary = cell(exchanges, 7, "Résumé")
    # NUL dropped, the 100,000 characters cut to the summary's bound: the row says what it was about.
    assert summary.value.startswith("=1+1 et @SUM(A1)\nJe conteste.") and summary.value.endswith(" …")
    assert len(summary.value) <= SUMMARY_CHARS + 2 and summary.quotePrefix
    author, detail = cell(history, 12, "Auteur"), cell(history, 12, "Détail")
    assert author.value == "=cmd|' /C calc'!A0" and author.quotePrefix
    assert detail.quotePrefix and len(detail.value) <= MAX_CELL_TEXT and "\x00" not in detail.value


def test_csv_tables_are_the_sheets_rows() -> None:
    """`--table exchanges|history|actions`: the same rows and headers as the workbook's sheets."""
    details = [*stepped(), *seeded()]
    book = workbook(details)
    for table, title in (("exchanges", "Échanges"), ("history", "Historique"), ("actions", "Actions")):
        text = to_csv(details, PARIS, OWN, table)
        assert text.startswith("\ufeff")
        header, *rows = csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";")
        ws = sheet(book, title)
        assert header == [c.value for c in ws[1]], table
        assert len(rows) == ws.max_row - 1, table
        assert [row[0] for row in rows] == [ws.cell(row=n, column=1).value for n in range(2, ws.max_row + 1)]
    header, *rows = csv.reader(io.StringIO(to_csv(details, PARIS, OWN, "exchanges").lstrip("\ufeff")), delimiter=";")
    claim = dict(zip(header, rows[0], strict=True))
    assert claim["Date"] == "2026-03-03T09:00:00+01:00" and claim["Sens"] == "reçu"
    assert claim["Message original (dossier d'audit)"] == "dossiers/2026-0007/001-message.eml"
    hostile = dict(zip(header, rows[5], strict=True))
    assert hostile["Objet"] == "'" + FORMULA and hostile["De"] == "'@x"
    assert hostile["Résumé"].startswith("'=1+1") and len(hostile["Résumé"]) <= SUMMARY_CHARS + 3
    header, *rows = csv.reader(io.StringIO(to_csv(details, PARIS, OWN, "history").lstrip("\ufeff")), delimiter=";")
    extension = dict(zip(header, rows[3], strict=True))
    assert (extension["Événement"], extension["Détail"]) == (
        "délai de réponse prolongé",
        "02/04/2026 → 17/04/2026 : attente du retour du centre",
    )
    assert dict(zip(header, rows[-1], strict=True))["Auteur"] == "'=cmd|' /C calc'!A0"


def test_rows_made_apart_are_the_xml_xlsxwriter_writes_for_them() -> None:
    """Rows are made as XML by the process reading the cases (`_RowMaker`): to the byte what XlsxWriter's
    own cell writing gives for the same values and formats, whatever the text holds."""
    rng = random.Random(16)
    pieces = ["a", "é", " ", "&", "<", ">", '"', "'", "_x0041_", "\r", "\t", "\n", "😀", "\u2028", "\x00", "\uffff"]

    def text(length: int) -> str:
        return "".join(rng.choice(pieces) for _ in range(length))

    columns = (
        Column("plain", 10),
        Column("formula", 10),
        Column("long", 5, WRAP),
        Column("long formula", 5, WRAP),
        Column("day", 10, DAY),
        Column("instant", 10, INSTANT),
        Column("number", 10, NUMBER),
    )
    rows: list[list[object]] = []
    for n in range(400):
        instant = datetime(2020, 1, 1) + timedelta(seconds=rng.randrange(10**9))
        rows.append(
            [
                "x" + text(rng.randrange(5)) + "x" if n % 7 else None,
                "=" + text(rng.randrange(4)) + "=",
                "a" + text(6 + rng.randrange(60)) + "." if n % 5 else "",
                "-" + text(6 + rng.randrange(30)) + "-",
                instant.date(),
                instant,
                rng.choice([n, n / 7, 4]),
            ]
        )
    rows.append(["x" * 40_000, "=" + "😀" * 20_000, "a" * 100, "+b" * 100, date(2026, 1, 1), datetime(2026, 1, 1), 0])

    def sheet_xml(write: str) -> bytes:
        out = io.BytesIO()
        book = xlsxwriter.Workbook(out, {"constant_memory": True})
        styles = _Styles(book)
        ws = book.add_worksheet()
        ws.write_string(0, 0, "header", styles.header)
        formats = [None, *(styles.formats[s] for s in (QUOTED, WRAPPED, QUOTED_WRAPPED, DAY_CELL, INSTANT_CELL)), None]
        maker = _RowMaker(columns, styles.index)
        for number, row in enumerate(rows, start=1):
            if write == "apart":
                if number == 1:
                    ws._write_single_row(1)
                ws.row_data_fh.write(maker.row(row))
                ws.dim_rowmax, ws.dim_colmax, ws.previous_row = number, len(columns) - 1, number
                continue
            for col, value in enumerate(row):
                if value is None or value == "":
                    continue
                if isinstance(value, str):
                    ws.write_string(number, col, safe_text(value), formats[col])
                elif isinstance(value, date):
                    ws.write_number(number, col, excel_serial(value), formats[col])
                else:
                    ws.write_number(number, col, value, formats[col])
        book.close()
        return zipfile.ZipFile(out).read("xl/worksheets/sheet1.xml")

    assert sheet_xml("apart") == sheet_xml("xlsxwriter")


def test_text_that_looks_like_rich_text_is_escaped_like_any_other() -> None:
    """XlsxWriter would write `<r>…</r>` as rich text, unescaped: a claimant's `<r>&</r>` would make a
    workbook Excel cannot open. Rows made apart escape it."""
    details = [make("2026-0001", paris(2026, 3, 3), subject="<r>&</r>", claimant_name="<r><t>x</t></r>")]
    data = register_xlsx(details, PARIS, OWN, TODAY)
    assert (
        "<t>&lt;r&gt;&amp;&lt;/r&gt;</t>" in zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml").decode()
    )
    row = by_header(sheet(openpyxl.load_workbook(io.BytesIO(data)), "Dossiers"), 2)
    assert (row["Objet"], row["Réclamant"]) == ("<r>&</r>", "<r><t>x</t></r>")


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("Bonjour,\n\n  La salle   \n", "Bonjour,\nLa salle"),  # blank lines and blanks around dropped
        ("un\ndeux\ntrois\nquatre", "un\ndeux …"),  # more lines than shown
        ("x" * 10_000_000, "x" * 20 + " …"),  # one huge line: cut, and only its beginning is read
        ("\n" * 5_000_000 + "fin", " …"),  # blank lines for ever: nothing to show, but something follows
        ("court" + " " * 100, "court"),  # trailing blanks are not "more"
        ("", ""),
    ],
)
def test_a_mail_is_summed_up_by_its_first_lines(text: str, shown: str) -> None:
    assert first_lines(text, 2, 20) == shown


def test_history_details_recorded_as_codes_read_in_french() -> None:
    assert event_detail("requalified", "alea → reclamation") == "aléa → réclamation"
    assert event_detail("set:channel", "email → third_party") == "e-mail → transmise par un tiers"
    assert event_detail("extended", "2026-04-02 → 2026-04-17 : attente : du centre") == (
        "02/04/2026 → 17/04/2026 : attente : du centre"
    )
    assert event_detail("extended", "2026-04-02 → demain : x") == "2026-04-02 → demain : x"  # kept when not ours
    assert event_detail("mail:out", "written by the director") == "écrit par la directrice"
    assert event_detail("mail:in", "automatic mail: out of office") == "message automatique : out of office"
    assert event_detail("note", "reclamation → alea") == "reclamation → alea"  # her words stay hers
    assert exchange_note("a reason of its own") == "a reason of its own"  # a server's words stay as they came
