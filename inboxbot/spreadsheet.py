"""The register (tableau de suivi des réclamations) as an Excel workbook, for the director and the auditor.

Qualiopi auditors (indicators 31 and 32) open the register in Excel and filter it: so every date is a
real Excel date, not text, shown the French way; instants are in the organisation's time zone, because
Excel has none and a reception at 23:30 in Paris must not read as the next day; the header row stays in
view and carries filters.

The workbook is streamed (openpyxl's write-only mode): rows go to disk as they are made, so the memory
it takes does not grow with the register, however many years of cases it holds.

Claimant text is data, never a formula: every string is written as a string cell, and text that a
spreadsheet would read as a formula or an error code (`=`, `+`, `-`, `@`, tab, carriage return, `#N/A`)
also carries Excel's "quote prefix", so that editing the cell later keeps it text.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE, Cell, WriteOnlyCell
from openpyxl.styles import Alignment, Font, NamedStyle, PatternFill
from openpyxl.styles.fonts import DEFAULT_FONT
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.worksheet.worksheet import Worksheet

from inboxbot.cases import ACTION_LABELS, ACTION_STATUS_LABELS, KIND_LABELS, Action, CaseDetail
from inboxbot.register import CHANNEL_LABELS, STATUS_LABELS, case_record

NATURE_LABELS = {
    "organisationnelle": "organisationnelle",
    "humaine": "humaine",
    "materielle": "matérielle",
    "environnementale": "environnementale",
}
DISMISSED_LABEL = "classée sans suite"
DATE_FORMAT = "dd/mm/yyyy"  # format codes are stored in English; a French Excel shows jj/mm/aaaa
DATETIME_FORMAT = "dd/mm/yyyy hh:mm"
MAX_CELL_TEXT = 32_767  # Excel's limit; openpyxl would cut silently
_FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")
TRACKED_KINDS = ("corrective", "preventive", "urgent")  # actions with a status to follow

# How a value is written: plain text, wrapped text, a date, an instant, a number.
TEXT, WRAP, DAY, INSTANT, NUMBER = "text", "wrap", "day", "instant", "number"


@dataclass(frozen=True)
class Column:
    header: str
    width: float
    kind: str = TEXT


CASE_COLUMNS = (
    Column("Numéro", 12),
    Column("Type", 12),
    Column("Date de réception", 17, INSTANT),
    Column("Canal", 16),
    Column("Partie prenante", 14),
    Column("Réclamant", 22),
    Column("Adresse e-mail du réclamant", 28),
    Column("Transmise par", 24),
    Column("Formation concernée", 28, WRAP),
    Column("Objet", 40, WRAP),
    Column("Résumé", 60, WRAP),
    Column("Nature", 16),
    Column("Priorité", 11),
    Column("Accusé de réception dû le", 13, DAY),
    Column("Accusé de réception envoyé le", 17, INSTANT),
    Column("Accusé de réception dans les délais", 14),
    Column("Réponse due le", 13, DAY),
    Column("Réponse prolongée jusqu'au", 13, DAY),
    Column("Motif de la prolongation", 32, WRAP),
    Column("Réponse apportée le", 17, INSTANT),
    Column("Réponse dans les délais", 14),
    Column("Cause(s) profonde(s)", 40, WRAP),
    Column("Actions correctives et préventives (statut)", 55, WRAP),
    Column("Médiation", 28, WRAP),
    Column("Statut", 18),
    Column("Date de clôture", 17, INSTANT),
    Column("Note de satisfaction (sur 5)", 12, NUMBER),
    Column("Commentaire du réclamant", 40, WRAP),
    Column("Nombre d'échanges", 11, NUMBER),
)

ACTION_COLUMNS = (
    Column("Dossier", 12),
    Column("N°", 6, NUMBER),
    Column("Type", 18),
    Column("Description", 60, WRAP),
    Column("Responsable", 22),
    Column("Échéance", 12, DAY),
    Column("Statut", 12),
    Column("En retard", 10),
    Column("Résultat", 50, WRAP),
    Column("Enregistrée le", 17, INSTANT),
    Column("Mise à jour le", 17, INSTANT),
)


def register_xlsx(details: Sequence[CaseDetail], tz: ZoneInfo, own_address: str, today: date) -> bytes:
    """The register as an XLSX file: sheet "Dossiers" (one row per case) and "Actions" (one per action).

    `today` decides whether a deadline not yet kept is missed ("non") or still open ("en attente");
    it is passed in so the file says the same thing whenever it is built from the same data.
    """
    workbook = Workbook(write_only=True)
    _add_styles(workbook)
    cases = _Sheet(workbook, "Dossiers", CASE_COLUMNS)
    for detail in details:
        # The row shows how many mails were exchanged, not the mails: `case_record` formatting each
        # mail and event would add about a tenth to the time of a large register.
        record = case_record(replace(detail, messages=(), events=()), tz, own_address, today)
        cases.append(_case_row(record, detail))
    cases.add_filter()
    actions = _Sheet(workbook, "Actions", ACTION_COLUMNS)
    for detail in details:
        for action in detail.actions:
            actions.append(_action_row(detail.case.number, action, tz, today))
    actions.add_filter()
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def deadline_label(met: bool | None, done: bool, dismissed: bool) -> str:
    """How a deadline reads in the register.

    A case classified "sans suite" was not a claim: a step it never needed is "sans objet", not a miss.
    """
    if dismissed and not done:
        return "sans objet"
    if met is None:
        return "en attente"
    return "oui" if met else "non"


def case_status_label(status: str, dismissed: bool) -> str:
    return DISMISSED_LABEL if dismissed else STATUS_LABELS.get(status, status)


def action_line(action: Action) -> str:
    """One action as a line of the case's row: the director quotes it by its number."""
    line = f"{action.seq}. {ACTION_LABELS.get(action.kind, action.kind)} : {action.text}"
    if action.status:
        line += f" [{ACTION_STATUS_LABELS.get(action.status, action.status)}]"
    if action.result:
        line += f" — résultat : {action.result}"
    return line


def _case_row(record: dict[str, Any], detail: CaseDetail) -> list[object]:
    actions = detail.actions
    dismissed = bool(record["dismissed"])
    mediations = [a.text or "oui" for a in actions if a.kind == "mediation"]
    return [
        record["number"],
        KIND_LABELS.get(record["kind"], record["kind"]),
        _instant(record["received_at"]),
        CHANNEL_LABELS.get(record["channel"], record["channel"]),
        record["stakeholder"],
        record["claimant_name"],
        record["claimant"],
        record["transmitter"],
        record["training"],
        record["subject"],
        detail.case.description,
        NATURE_LABELS.get(record["nature"], record["nature"]),
        record["priority"],
        _day(record["acknowledge_due"]),
        _instant(record["acknowledged_at"]),
        deadline_label(record["acknowledge_met"], record["acknowledged_at"] is not None, dismissed),
        _day(record["response_due"]),
        _day(record["extended_response_due"]),
        record["extension_reason"],
        _instant(record["responded_at"]),
        deadline_label(record["response_met"], record["responded_at"] is not None, dismissed),
        "\n".join(a.text for a in actions if a.kind == "cause"),
        "\n".join(action_line(a) for a in actions if a.kind in TRACKED_KINDS),
        "\n".join(mediations),
        case_status_label(record["status"], dismissed),
        _instant(record["closed_at"]),
        record["satisfaction_mark"],
        record["satisfaction_comment"],
        len(detail.messages),
    ]


def action_overdue(action: Action, today: date) -> bool:
    """An action still to do (or under way) whose due date has passed."""
    return action.due is not None and action.due < today and action.status in ("todo", "doing")


def _action_row(number: str, action: Action, tz: ZoneInfo, today: date) -> list[object]:
    return [
        number,
        action.seq,
        ACTION_LABELS.get(action.kind, action.kind),
        action.text,
        action.owner,
        action.due,
        ACTION_STATUS_LABELS.get(action.status, action.status) if action.status else None,
        "oui" if action_overdue(action, today) else None,
        action.result,
        action.created_at.astimezone(tz).replace(tzinfo=None),
        action.updated_at.astimezone(tz).replace(tzinfo=None),
    ]


def _instant(value: str | None) -> datetime | None:
    """The record's ISO instant, already in the organisation's zone, as the naive local time Excel wants."""
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=None)


def _day(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


# Named styles (they show under these names in Excel's cell styles): a cell takes one by name, which
# copies a ready style instead of looking each attribute up, the costly part of a styled cell.
HEADER_STYLE = "Registre en-tête"
DATE_STYLE = "Registre date"
DATETIME_STYLE = "Registre date et heure"
WRAP_STYLE = "Registre texte long"
TEXT_STYLE = "Registre texte"


def _add_styles(workbook: Workbook) -> None:
    """The named styles, each naming the workbook's font rather than leaving an empty font for readers to guess."""
    top = Alignment(vertical="top")
    font = DEFAULT_FONT
    for style in (
        NamedStyle(
            HEADER_STYLE,
            font=Font(name=font.name, sz=font.sz, family=font.family, bold=True),
            fill=PatternFill("solid", fgColor="DDE4EE"),
            alignment=Alignment(wrap_text=True, vertical="center"),
        ),
        NamedStyle(DATE_STYLE, font=font, number_format=DATE_FORMAT, alignment=top),
        NamedStyle(DATETIME_STYLE, font=font, number_format=DATETIME_FORMAT, alignment=top),
        NamedStyle(WRAP_STYLE, font=font, alignment=Alignment(wrap_text=True, vertical="top")),
        NamedStyle(TEXT_STYLE, font=font, alignment=top),
    ):
        workbook.add_named_style(style)


class _Sheet:
    """One streamed sheet: widths, frozen header and filter, cells styled by the kind of their column.

    Styled cells cost several times a plain value in openpyxl, so only what needs a style gets one:
    dates, long text that must wrap, and text a spreadsheet would take for a formula.
    """

    def __init__(self, workbook: Workbook, title: str, columns: Sequence[Column]) -> None:
        sheet = workbook.create_sheet(title)
        assert isinstance(sheet, WriteOnlyWorksheet)
        self.sheet = sheet
        self.columns = columns
        # The write-only sheet is set up by Worksheet's own code and has these attributes too; only
        # the type stubs leave them out.
        self.layout = cast(Worksheet, sheet)
        self.rows = 1
        for index, column in enumerate(columns, 1):
            self.layout.column_dimensions[get_column_letter(index)].width = column.width
        sheet.freeze_panes = "B2"
        self.layout.row_dimensions[1].height = 48
        self._makers = [self._maker(column) for column in columns]
        sheet.append([self._cell(column.header, HEADER_STYLE) for column in columns])

    def _cell(self, value: str | datetime | date, style: str, quoted: bool = False) -> Cell:
        cell = WriteOnlyCell(self.sheet)
        cell.style = style  # before the value, so a date is not first given openpyxl's own format
        cell.value = value
        if isinstance(value, str):
            cell.data_type = "s"  # never "f" (formula) nor "e" (error code), whatever the text
            cell.quotePrefix = quoted
        return cell

    def _maker(self, column: Column) -> Callable[[Any], object]:
        if column.kind == DAY:
            return lambda value: None if value is None else self._cell(value, DATE_STYLE)
        if column.kind == INSTANT:
            return lambda value: None if value is None else self._cell(value, DATETIME_STYLE)
        if column.kind == NUMBER:
            return lambda value: value
        # In a long-text column, only text that does not fit on one line wraps: short text needs no style.
        fits = int(column.width) if column.kind == WRAP else None
        return lambda value: self._text(value, fits)

    def _text(self, value: str | None, fits: int | None) -> object:
        if not value:
            return None
        text = safe_text(value)
        wraps = fits is not None and (len(text) > fits or "\n" in text)
        style = WRAP_STYLE if wraps else None
        if text.startswith(_FORMULA_LEADS) or text in ERROR_CODES:
            return self._cell(text, style or TEXT_STYLE, quoted=True)
        return text if style is None else self._cell(text, style)

    def append(self, values: Iterable[object]) -> None:
        self.sheet.append([make(value) for make, value in zip(self._makers, values, strict=True)])
        self.rows += 1

    def add_filter(self) -> None:
        """A filter over every written row; openpyxl writes it after the rows, so it can be set last."""
        self.layout.auto_filter.ref = f"A1:{get_column_letter(len(self.columns))}{self.rows}"


def safe_text(value: str) -> str:
    """`value` as a cell can hold it: without the control characters XLSX forbids, within Excel's length."""
    text: str = ILLEGAL_CHARACTERS_RE.sub("", value)
    if len(text) > MAX_CELL_TEXT:
        text = text[: MAX_CELL_TEXT - 2] + " …"
    return text
