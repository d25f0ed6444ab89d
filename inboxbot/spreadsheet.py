"""The register (tableau de suivi des réclamations) as an Excel workbook, for the director and the auditor.

Qualiopi auditors (indicators 31 and 32) open the register in Excel and filter it: so every date is a
real Excel date, not text, shown the French way; instants are in the organisation's time zone, because
Excel has none and a reception at 23:30 in Paris must not read as the next day; the header row stays in
view and carries filters.

The workbook is streamed (XlsxWriter in `constant_memory` mode): each row goes to a temporary file as
soon as the next one starts, so the memory it takes does not grow with the register, and the cases
can come straight from a query read in chunks. XlsxWriter rather than openpyxl's write-only mode: on
100,000 rows it writes the cells in less than half the time (bench/xlsx_writers.py), which is what
keeps a register of that size under 30 seconds.

Claimant text is data, never a formula: every string is written as a string cell, and text that a
spreadsheet would read as a formula or an error code (`=`, `+`, `-`, `@`, tab, carriage return, `#N/A`)
also carries Excel's "quote prefix", so that editing the cell later keeps it text.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from xlsxwriter import Workbook
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from inboxbot.cases import (
    ACTION_LABELS,
    ACTION_STATUS_LABELS,
    DISMISSED_LABEL,
    KIND_LABELS,
    NATURE_LABELS,
    TRACKED_KINDS,
    Action,
    CaseDetail,
    action_line,
    action_overdue,
    deadline_label,
)
from inboxbot.register import CHANNEL_LABELS, STATUS_LABELS, deadline_met

DATE_FORMAT = "dd/mm/yyyy"  # format codes are stored in English; a French Excel shows jj/mm/aaaa
DATETIME_FORMAT = "dd/mm/yyyy hh:mm"
MAX_CELL_TEXT = 32_767  # Excel's limit
_FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")
# What Excel reads as an error value rather than text (the same list as openpyxl's ERROR_CODES).
_ERROR_CODES = frozenset(("#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#GETTING_DATA"))
# Control characters an XLSX file cannot hold (tab, line feed and carriage return it can).
_ILLEGAL_CHARACTERS = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")
# XlsxWriter pads a width given in characters as Excel's dialog does (60 becomes 60.71); a width in
# pixels of the default font (7 per character) is stored as it is given.
_PIXELS_PER_CHARACTER = 7

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


def register_xlsx(details: Iterable[CaseDetail], tz: ZoneInfo, own_address: str, today: date) -> bytes:
    """The register as XLSX bytes (a mail attachment); see `write_register_xlsx`."""
    out = io.BytesIO()
    write_register_xlsx(details, out, tz, own_address, today)
    return out.getvalue()


def write_register_xlsx(
    details: Iterable[CaseDetail], target: Path | IO[bytes], tz: ZoneInfo, own_address: str, today: date
) -> int:
    """Write the register to `target`: sheet "Dossiers" (one row per case) and "Actions" (one per action).

    `details` is read once, so it may be a stream of cases read in chunks; both sheets are filled as
    it goes. `today` decides whether a deadline not yet kept is missed ("non") or still open ("en
    attente"); it is passed in so the file says the same thing whenever it is built from the same data.
    Returns the number of cases written. `own_address` is unused: a row shows how many mails were
    exchanged, not who wrote them; it is kept so every register writer takes the same arguments.
    """
    del own_address
    # XlsxWriter writes the file only on close(): if reading the register fails half-way, it is not
    # closed, and no truncated workbook that looks complete is left behind.
    workbook = Workbook(target, {"constant_memory": True})
    styles = _Styles(workbook)
    cases = _Sheet(workbook, styles, "Dossiers", CASE_COLUMNS)
    actions = _Sheet(workbook, styles, "Actions", ACTION_COLUMNS)
    for detail in details:
        cases.append(_case_row(detail, tz, today))
        for action in detail.actions:
            actions.append(_action_row(detail.case.number, action, tz, today))
    cases.add_filter()
    actions.add_filter()
    workbook.close()
    return cases.rows - 1


def case_status_label(status: str, dismissed: bool) -> str:
    return DISMISSED_LABEL if dismissed else STATUS_LABELS.get(status, status)


def _case_row(detail: CaseDetail, tz: ZoneInfo, today: date) -> list[object]:
    case = detail.case
    actions = detail.actions
    dismissed = case.dismissed
    acknowledge_met = deadline_met(case.acknowledged_at, case.acknowledge_due, tz, today)
    response_met = deadline_met(case.responded_at, case.effective_response_due, tz, today)
    mediations = [a.text or "oui" for a in actions if a.kind == "mediation"]
    return [
        case.number,
        KIND_LABELS.get(case.kind, case.kind),
        _local(case.received_at, tz),
        CHANNEL_LABELS.get(case.channel, case.channel),
        case.stakeholder,
        case.claimant_name,
        case.claimant,
        case.transmitter,
        case.training,
        case.subject,
        case.description,
        NATURE_LABELS.get(case.nature, case.nature) if case.nature is not None else None,
        case.priority,
        case.acknowledge_due,
        _local(case.acknowledged_at, tz),
        deadline_label(acknowledge_met, case.acknowledged_at is not None, dismissed),
        case.response_due,
        case.extended_due,
        case.extension_reason,
        _local(case.responded_at, tz),
        deadline_label(response_met, case.responded_at is not None, dismissed),
        "\n".join(a.text for a in actions if a.kind == "cause"),
        "\n".join(action_line(a) for a in actions if a.kind in TRACKED_KINDS),
        "\n".join(mediations),
        case_status_label(case.status, dismissed),
        _local(case.closed_at, tz),
        case.satisfaction_mark,
        case.satisfaction_comment,
        detail.exchanges,
    ]


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


def _local(value: datetime | None, tz: ZoneInfo) -> datetime | None:
    """A case's instant as the naive wall-clock time of the organisation Excel wants, to the second as
    the JSON register gives it."""
    return None if value is None else value.astimezone(tz).replace(tzinfo=None, microsecond=0)


class _Styles:
    """The workbook's cell formats, made once: a cell names one rather than carrying its own."""

    def __init__(self, workbook: Workbook) -> None:
        def made(**properties: Any) -> Format:
            return workbook.add_format(properties)

        self.header = made(bold=True, bg_color="#DDE4EE", pattern=1, text_wrap=True, valign="vcenter")
        self.day = made(num_format=DATE_FORMAT, valign="top")
        self.instant = made(num_format=DATETIME_FORMAT, valign="top")
        self.wrap = made(text_wrap=True, valign="top")
        self.quoted = made(quote_prefix=True, valign="top")
        self.quoted_wrap = made(quote_prefix=True, text_wrap=True, valign="top")


class _Sheet:
    """One streamed sheet: widths, frozen header and filter, cells styled by the kind of their column.

    Only what needs a format gets one: dates, long text that must wrap, and text a spreadsheet would
    take for a formula.
    """

    def __init__(self, workbook: Workbook, styles: _Styles, title: str, columns: Sequence[Column]) -> None:
        self.sheet: Worksheet = workbook.add_worksheet(title)
        self.styles = styles
        self.columns = columns
        self.rows = 1
        for index, column in enumerate(columns):
            self.sheet.set_column_pixels(index, index, round(column.width * _PIXELS_PER_CHARACTER))
        self.sheet.freeze_panes(1, 1)
        self.sheet.set_row(0, 48)
        for index, column in enumerate(columns):
            self.sheet.write_string(0, index, column.header, styles.header)
        self._writers = [self._writer(column) for column in columns]

    def _writer(self, column: Column) -> Callable[[int, int, Any], object]:
        sheet, styles = self.sheet, self.styles
        if column.kind == DAY:
            return lambda row, col, value: sheet.write_datetime(row, col, value, styles.day)
        if column.kind == INSTANT:
            return lambda row, col, value: sheet.write_datetime(row, col, value, styles.instant)
        if column.kind == NUMBER:
            return lambda row, col, value: sheet.write_number(row, col, value)
        # In a long-text column, only text that does not fit on one line wraps: short text needs no format.
        fits = int(column.width) if column.kind == WRAP else None
        return lambda row, col, value: self._text(row, col, value, fits)

    def _text(self, row: int, col: int, value: str, fits: int | None) -> None:
        text = safe_text(value)
        wraps = fits is not None and (len(text) > fits or "\n" in text)
        if text.startswith(_FORMULA_LEADS) or text in _ERROR_CODES:
            self.sheet.write_string(row, col, text, self.styles.quoted_wrap if wraps else self.styles.quoted)
        else:
            self.sheet.write_string(row, col, text, self.styles.wrap if wraps else None)

    def append(self, values: Sequence[object]) -> None:
        row = self.rows
        for col, (write, value) in enumerate(zip(self._writers, values, strict=True)):
            if value is not None and value != "":
                write(row, col, value)
        self.rows += 1

    def add_filter(self) -> None:
        """A filter over every written row; XlsxWriter writes it after the rows, so it can be set last."""
        self.sheet.autofilter(0, 0, self.rows - 1, len(self.columns) - 1)


def safe_text(value: str) -> str:
    """`value` as a cell can hold it: without the control characters XLSX forbids, within Excel's length."""
    text = _ILLEGAL_CHARACTERS.sub("", value)
    if len(text) > MAX_CELL_TEXT:
        text = text[: MAX_CELL_TEXT - 2] + " …"
    return text
