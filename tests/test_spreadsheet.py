"""The register as an XLSX workbook, opened again as Excel would open it.

Every check reads the file back (openpyxl, and the sheet's XML where openpyxl would hide the
difference): headers, frozen pane, filter, real date cells in Paris time, and claimant text that
looks like a formula stored as text.
"""

from __future__ import annotations

import io
import random
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
import xlsxwriter
from databases import fresh_database_url
from openpyxl.worksheet.worksheet import Worksheet

from inboxbot.domain.cases import Action, Case, CaseDetail
from inboxbot.domain.deadlines import DuePolicy, WorkingDayCalendar
from inboxbot.exports.spreadsheet import ACTION_COLUMNS, CASE_COLUMNS, excel_serial, register_xlsx
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
    return Action(seq, kind, text, "Alice", due, status, result, at, at + timedelta(days=2))


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
    assert book.sheetnames == ["Dossiers", "Actions"]
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
    assert cases.auto_filter.ref == "A1:AG6"
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
    assert sheet(book, "Dossiers").auto_filter.ref == "A1:AG1"
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
    assert cases.auto_filter.ref == f"A1:AG{count + 1}"
