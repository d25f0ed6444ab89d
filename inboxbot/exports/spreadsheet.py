"""The register (tableau de suivi des réclamations) as an Excel workbook, for the director and the auditor.

Qualiopi auditors (indicators 31 and 32) open the register in Excel and filter it: so every date is a
real Excel date, not text, shown the French way; instants are in the organisation's time zone, because
Excel has none and a reception at 23:30 in Paris must not read as the next day; the header row stays in
view and carries filters.

The workbook is streamed (XlsxWriter in `constant_memory` mode): each row goes to a temporary file as
soon as the next one starts, so the memory it takes does not grow with the register, and the cases
can come straight from a query read in chunks. XlsxWriter rather than openpyxl's write-only mode: it
writes the cells in less than half the time (bench/xlsx_writers.py), which is what keeps a register of
100,000 cases within its target (BENCHMARKS.md §4).

XlsxWriter's cell writing is still most of an export's time, and it runs in one process; so the
command line's export (`export_register_xlsx`) reads the cases and turns them into cells in a second
process, on the other core, while this one only writes cells. The reading process does all of the
reading, in one `Store.reading()` snapshot: the workbook is the register at one instant.

Claimant text is data, never a formula: every string is written as a string cell, and text that a
spreadsheet would read as a formula or an error code (`=`, `+`, `-`, `@`, tab, carriage return, `#N/A`)
also carries Excel's "quote prefix", so that editing the cell later keeps it text.
"""

from __future__ import annotations

import io
import multiprocessing
import re
import traceback
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from xlsxwriter import Workbook
from xlsxwriter.format import Format
from xlsxwriter.utility import xl_col_to_name
from xlsxwriter.worksheet import Worksheet
from xlsxwriter.xmlwriter import XMLwriter

from inboxbot.adapters.private import replaced_whole
from inboxbot.domain.cases import (
    TRACKED_KINDS,
    Action,
    CaseDetail,
    action_line,
    deadline_label,
)
from inboxbot.domain.vocabulary import ActionKind, CaseStatus, Kind
from inboxbot.exports.register import (
    ACTION_HEADERS,
    CASE_RULES_HEADER,
    EXCHANGE_HEADERS,
    HISTORY_HEADERS,
    RECEIVED_FROM_LABELS,
    action_row,
    deadline_met,
    exchange_rows,
    history_rows,
    means_label,
    rules_text,
    status_label,
)
from inboxbot.store import export
from inboxbot.store.models import UnknownTerm

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
    Column("Date de réception établie d'après", 20, WRAP),
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
    Column("Accusé de réception fait par", 16),
    Column("Accusé de réception dans les délais", 14),
    Column("Réponse due le", 13, DAY),
    Column("Réponse prolongée jusqu'au", 13, DAY),
    Column("Motif de la prolongation", 32, WRAP),
    Column("Réponse apportée le", 17, INSTANT),
    Column("Réponse faite par", 16),
    Column("Réponse (faite autrement que par e-mail)", 40, WRAP),
    Column("Réponse dans les délais", 14),
    Column("Cause(s) profonde(s)", 40, WRAP),
    Column("Actions correctives et préventives (statut)", 55, WRAP),
    Column("Médiation", 28, WRAP),
    Column("Statut", 18),
    Column("Date de clôture", 17, INSTANT),
    Column("Note de satisfaction (sur 5)", 12, NUMBER),
    Column("Commentaire du réclamant", 40, WRAP),
    Column("Nombre d'échanges", 11, NUMBER),
    Column(CASE_RULES_HEADER, 30, WRAP),
)


def _columns(headers: Sequence[str], *shapes: tuple[float, str]) -> tuple[Column, ...]:
    """A sheet's columns: the headers its CSV table has too (`inboxbot.exports.register`), each shaped."""
    return tuple(Column(header, width, kind) for header, (width, kind) in zip(headers, shapes, strict=True))


ACTION_COLUMNS = _columns(
    ACTION_HEADERS,
    (12, TEXT),
    (6, NUMBER),
    (18, TEXT),
    (60, WRAP),
    (22, TEXT),
    (12, DAY),
    (12, TEXT),
    (10, TEXT),
    (50, WRAP),
    (17, INSTANT),
    (17, INSTANT),
)
EXCHANGE_COLUMNS = _columns(
    EXCHANGE_HEADERS,
    (12, TEXT),  # case
    (17, INSTANT),
    (8, TEXT),  # reçu / envoyé
    (28, TEXT),
    (28, WRAP),  # recipients: several addresses wrap
    (40, WRAP),
    (60, WRAP),
    (34, TEXT),
    (24, WRAP),
)
HISTORY_COLUMNS = _columns(HISTORY_HEADERS, (12, TEXT), (17, INSTANT), (28, TEXT), (32, TEXT), (60, WRAP))


def register_xlsx(details: Iterable[CaseDetail], tz: ZoneInfo, own_address: str, today: date) -> bytes:
    """The register as XLSX bytes (a mail attachment); see `write_register_xlsx`."""
    out = io.BytesIO()
    write_register_xlsx(details, out, tz, own_address, today)
    return out.getvalue()


def write_register_xlsx(
    details: Iterable[CaseDetail], target: Path | IO[bytes], tz: ZoneInfo, own_address: str, today: date
) -> int:
    """Write the register to `target`: sheets "Dossiers" (one row per case), "Actions" (one per
    action), "Échanges" (one per mail in or out) and "Historique" (one per event of a case).

    `details` is read once, so it may be a stream of cases read in chunks (`Exchanges.STEPS`); every
    sheet is filled as it goes. `today` decides whether a deadline not yet kept is missed ("non") or
    still open ("en attente"); it is passed in so the file says the same thing whenever it is built
    from the same data. `own_address` is the sender of inboxbot's own mails. Returns the number of
    cases written.
    """
    return _write_workbook(_rows_here(details, tz, today, own_address), target)


def export_register_xlsx(
    url: str,
    target: Path,
    tz: ZoneInfo,
    today: date,
    *,
    year: int | None = None,
    kind: Kind | None = None,
    status: CaseStatus | None = None,
    chunk: int = export.CHUNK,
    own_address: str,
) -> int:
    """`write_register_xlsx` of the register in the database at `url`, read by a second process.

    The other process reads the cases chunk by chunk and makes their rows (`register_rows`) while
    this one writes them into the file.
    Raises `RegisterReadError` if the reading fails or its process dies; the file is then not written.
    Returns the number of cases written. The other process is a new interpreter, which imports the
    caller's main module again: a script calling this must guard its main code, as multiprocessing asks.
    """
    reading = _Reading(url, tz, today, year, kind, status, chunk, own_address, {})
    return _write_workbook(_rows_read_elsewhere(reading), target)


def _case_row(detail: CaseDetail, tz: ZoneInfo, today: date) -> list[Any]:
    case = detail.case
    actions = detail.actions
    dismissed = case.dismissed
    acknowledge_met = deadline_met(case.acknowledged_at, case.acknowledge_due, tz, today)
    response_met = deadline_met(case.responded_at, case.effective_response_due, tz, today)
    mediations = [a.text or "oui" for a in actions if a.kind == ActionKind.MEDIATION]
    return [
        case.number,
        case.kind.label,
        _local(case.received_at, tz),
        case.channel.label,
        RECEIVED_FROM_LABELS.get(case.received_from, case.received_from) if case.received_from else None,
        case.stakeholder,
        case.claimant_name,
        case.claimant,
        case.transmitter,
        case.training,
        case.subject,
        case.description,
        case.nature.label if case.nature is not None else None,
        case.priority,
        case.acknowledge_due,
        _local(case.acknowledged_at, tz),
        means_label(case.acknowledgement_means, case.acknowledged_at),
        deadline_label(acknowledge_met, case.acknowledged_at is not None, dismissed),
        case.response_due,
        case.extended_due,
        case.extension_reason,
        _local(case.responded_at, tz),
        means_label(case.response_means, case.responded_at),
        case.response_note,
        deadline_label(response_met, case.responded_at is not None, dismissed),
        "\n".join(a.text for a in actions if a.kind == ActionKind.CAUSE),
        "\n".join(action_line(a) for a in actions if a.kind in TRACKED_KINDS),
        "\n".join(mediations),
        status_label(case.status, dismissed, case.merged_into),
        _local(case.closed_at, tz),
        case.satisfaction_mark,
        case.satisfaction_comment,
        detail.exchanges,
        rules_text(case.rules_hit),
    ]


def _action_row(number: str, action: Action, tz: ZoneInfo, today: date) -> list[Any]:
    row = action_row(number, action, today)
    row[-2:] = [
        action.created_at.astimezone(tz).replace(tzinfo=None),
        action.updated_at.astimezone(tz).replace(tzinfo=None),
    ]
    return row


def _local(value: datetime | None, tz: ZoneInfo) -> datetime | None:
    """A case's instant as the naive wall-clock time of the organisation Excel wants, to the second as
    the JSON register gives it."""
    return None if value is None else value.astimezone(tz).replace(tzinfo=None, microsecond=0)


# How a cell is written: its style, which names one of the workbook's formats (`_Styles`).
PLAIN, WRAPPED, QUOTED, QUOTED_WRAPPED, NUMBER_CELL, DAY_CELL, INSTANT_CELL = _STYLES = range(7)
# The XF index of each style's format: the number a cell's `s` attribute carries (none for plain cells).
StyleIndex = dict[int, int]
CASES_SHEET, ACTIONS_SHEET, EXCHANGES_SHEET, HISTORY_SHEET = range(4)
SHEETS = (
    ("Dossiers", CASE_COLUMNS),
    ("Actions", ACTION_COLUMNS),
    ("Échanges", EXCHANGE_COLUMNS),
    ("Historique", HISTORY_COLUMNS),
)
_EXCEL_EPOCH = datetime(1899, 12, 31)
_SECONDS_PER_DAY = 86_400
_escape_control_characters = XMLwriter._escape_control_characters  # "\x00" and "_x0000_" as Excel escapes them


def register_rows(
    details: Iterable[CaseDetail], tz: ZoneInfo, today: date, own_address: str, styles: StyleIndex
) -> Iterator[tuple[int, str]]:
    """The rows of every sheet, case by case, as (sheet, the row's XML); each case's row first."""
    makers = [_RowMaker(columns, styles) for _title, columns in SHEETS]
    for sheet, values in register_values(details, tz, today, own_address):
        yield sheet, makers[sheet].row(values)


def register_values(
    details: Iterable[CaseDetail], tz: ZoneInfo, today: date, own_address: str
) -> Iterator[tuple[int, list[Any]]]:
    """The rows of every sheet as (sheet, values), case by case; instants in the organisation's time.

    The sheets of exchanges and history are filled from each case's log and history: read with
    `Exchanges.STEPS`, or they come out empty.
    """
    for detail in details:
        number = detail.case.number
        yield CASES_SHEET, _case_row(detail, tz, today)
        for action in detail.actions:
            yield ACTIONS_SHEET, _action_row(number, action, tz, today)
        for row in exchange_rows(detail, own_address):
            row[1] = _local(row[1], tz)
            yield EXCHANGES_SHEET, row
        for row in history_rows(detail):
            row[1] = _local(row[1], tz)
            yield HISTORY_SHEET, row


class _RowMaker:
    """A sheet's rows as the XML XlsxWriter writes for them, made where the cases are read.

    XlsxWriter's cost is per cell, and a register has a row per mail and per event besides the row
    per case: written cell by cell, a large register missed its target (BENCHMARKS.md §4). Made here,
    by the process that reads the cases, a row is one string that the writing process only copies
    into the sheet. The XML is XlsxWriter's own, to the byte (tests/test_spreadsheet.py compares them), with
    XlsxWriter's escaping functions; one difference: a text that reads `<r>…</r>` is escaped like any
    other, where XlsxWriter would write it unescaped as rich text (and a claimant's `<r>&</r>` would
    make a workbook Excel refuses to open).

    Only what needs a format gets one: dates, long text that must wrap (in a long-text column, text
    that fits on one line needs none), and text a spreadsheet would take for a formula.
    """

    def __init__(self, columns: Sequence[Column], styles: StyleIndex) -> None:
        # Per column: its letter, whether it holds text, and the attributes its cells may carry.
        style = {kind: f' s="{index}"' for kind, index in styles.items()}
        self.columns = [
            (
                xl_col_to_name(col),
                column.kind in (TEXT, WRAP),
                int(column.width) if column.kind == WRAP else None,
                style.get({DAY: DAY_CELL, INSTANT: INSTANT_CELL}.get(column.kind, PLAIN), ""),
            )
            for col, column in enumerate(columns)
        ]
        self.text_style = [style.get(kind, "") for kind in (PLAIN, WRAPPED, QUOTED, QUOTED_WRAPPED)]
        self.number = 1  # 0-based: the header is row 0

    def row(self, values: Sequence[object]) -> str:
        """One row of values (None or "" for an empty cell) as XML; the row after the last one made."""
        self.number += 1
        number = self.number
        text_style = self.text_style
        cells = [f'<row r="{number}">']
        for (letter, is_text, fits, style), value in zip(self.columns, values, strict=True):
            if value is None or value == "":
                continue
            if is_text:
                text = safe_text(value)  # type: ignore[arg-type]
                kind = QUOTED if text.startswith(_FORMULA_LEADS) or text in _ERROR_CODES else PLAIN
                if fits is not None and (len(text) > fits or "\n" in text):
                    kind += WRAPPED - PLAIN  # QUOTED_WRAPPED is to QUOTED what WRAPPED is to PLAIN
                # What XlsxWriter's _escape_control_characters changes; the other control characters
                # are gone (`safe_text`). Looked for first: most text has none of them.
                if "_x" in text or "\r" in text or "\ufffe" in text or "\uffff" in text:
                    text = _escape_control_characters(text)
                # XlsxWriter's _preserve_whitespace: its `\s` is what str.isspace() says.
                space = ' xml:space="preserve"' if text[:1].isspace() or text[-1:].isspace() else ""
                if "&" in text or "<" in text or ">" in text:
                    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                cells.append(
                    f'<c r="{letter}{number}"{text_style[kind]} t="inlineStr"><is><t{space}>{text}</t></is></c>'
                )
            elif style:  # a date or an instant
                cells.append(f'<c r="{letter}{number}"{style}><v>{excel_serial(value):.16G}</v></c>')  # type: ignore[arg-type]
            else:
                cells.append(f'<c r="{letter}{number}"><v>{value:.16G}</v></c>')
        if len(cells) == 1:
            return ""  # XlsxWriter writes no element for a row without cells
        cells.append("</row>")
        return "".join(cells)


def excel_serial(value: date) -> float:
    """A naive date or instant as the number Excel stores for it: days since 31 December 1899.

    XlsxWriter's `write_datetime` makes the same number (tests/test_spreadsheet.py compares them); it
    is made here so that the process reading the cases does it, not the one writing the cells. Excel
    counts a 29 February 1900 that never was: from 1 March 1900 its numbers are one day ahead.
    """
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    delta = value - _EXCEL_EPOCH
    serial = delta.days + (delta.seconds + delta.microseconds / 1e6) / _SECONDS_PER_DAY
    return serial + 1 if serial > 59 else serial


class _Styles:
    """The workbook's cell formats, made once: a cell names one rather than carrying its own."""

    def __init__(self, workbook: Workbook) -> None:
        def made(**properties: Any) -> Format:
            return workbook.add_format(properties)

        self.header = made(bold=True, bg_color="#DDE4EE", pattern=1, text_wrap=True, valign="vcenter")
        self.formats = by_style = {
            WRAPPED: made(text_wrap=True, valign="top"),
            QUOTED: made(quote_prefix=True, valign="top"),
            QUOTED_WRAPPED: made(quote_prefix=True, text_wrap=True, valign="top"),
            DAY_CELL: made(num_format=DATE_FORMAT, valign="top"),
            INSTANT_CELL: made(num_format=DATETIME_FORMAT, valign="top"),
        }
        # XlsxWriter numbers a format when a cell first uses it; rows made elsewhere name them by
        # number, so every format is numbered now, in one order: the header's first.
        self.header._get_xf_index()
        self.index: StyleIndex = {style: each._get_xf_index() for style, each in by_style.items()}


class _Sheet:
    """One streamed sheet: widths, frozen header and filter; rows written as the XML they were made as.

    The header goes through XlsxWriter; the rows are copied into the file XlsxWriter keeps the
    sheet's rows in (`constant_memory`), after the header row, and the sheet's extent is set to them.
    """

    def __init__(self, workbook: Workbook, styles: _Styles, title: str, columns: Sequence[Column]) -> None:
        self.sheet: Worksheet = workbook.add_worksheet(title)
        self.columns = columns
        self.rows = 1
        for index, column in enumerate(columns):
            self.sheet.set_column_pixels(index, index, round(column.width * _PIXELS_PER_CHARACTER))
        self.sheet.freeze_panes(1, 1)
        self.sheet.set_row(0, 48)
        for index, column in enumerate(columns):
            self.sheet.write_string(0, index, column.header, styles.header)

    def append(self, xml: str, rows: int = 1) -> None:
        """Add `rows` rows, made by `_RowMaker` for this sheet in order (row 2 first)."""
        if self.rows == 1:
            self.sheet._write_single_row(1)  # the header row, held by XlsxWriter until the next one
        self.sheet.row_data_fh.write(xml)
        self.rows += rows

    def close(self) -> None:
        """The sheet's extent and a filter over every written row: XlsxWriter writes both after the rows."""
        if self.rows > 1:
            self.sheet.dim_rowmax = self.rows - 1
            self.sheet.previous_row = self.rows - 1  # nothing left to flush: the rows are in the file
        self.sheet.autofilter(0, 0, self.rows - 1, len(self.columns) - 1)


# Rows for a workbook, in pieces: (sheet, the XML of one or more rows, how many).
Pieces = Iterable[tuple[int, str, int]]


def _write_workbook(rows: Callable[[StyleIndex], Pieces], target: Path | IO[bytes]) -> int:
    """Write the rows into a new workbook at `target`; returns the number of case rows.

    `rows` is given the workbook's styles and returns its rows. A file is written beside its target
    and renamed once complete: if reading the register fails half-way, or writing does, no truncated
    workbook that looks like a whole register is left behind.
    """
    if not isinstance(target, Path):
        return _fill_workbook(rows, target)
    with replaced_whole(target) as partial:
        return _fill_workbook(rows, partial)


def _fill_workbook(rows: Callable[[StyleIndex], Pieces], target: Path | IO[bytes]) -> int:
    # XlsxWriter writes the file only on close(): if the rows fail half-way, nothing is written.
    workbook = Workbook(target, {"constant_memory": True})
    styles = _Styles(workbook)
    sheets = [_Sheet(workbook, styles, title, columns) for title, columns in SHEETS]
    for sheet, xml, count in rows(styles.index):
        sheets[sheet].append(xml, count)
    for each in sheets:
        each.close()
    workbook.close()
    return sheets[CASES_SHEET].rows - 1


def _rows_here(
    details: Iterable[CaseDetail], tz: ZoneInfo, today: date, own_address: str
) -> Callable[[StyleIndex], Pieces]:
    def rows(styles: StyleIndex) -> Pieces:
        return ((sheet, xml, 1) for sheet, xml in register_rows(details, tz, today, own_address, styles))

    return rows


class RegisterReadError(Exception):
    """The process reading the register for a workbook failed or died; no workbook was written."""


# Batches of rows the reading process may have sent that the writing one has not written yet: enough
# for it to read the next chunk while the current one is written, and a bound on the memory they take
# whatever the size of the pipe's buffer.
_AHEAD = 2


@dataclass(frozen=True)
class _Reading:
    """What the reading process reads and how it makes the rows, passed to it in one piece."""

    url: str
    tz: ZoneInfo
    today: date
    year: int | None
    kind: Kind | None
    status: CaseStatus | None
    chunk: int
    own_address: str
    styles: StyleIndex  # the writer's (`_Styles.index`)


# The sheets whose rows the writing process makes from the values it is sent; the reading process
# makes the others'. Reading the register is most of the work: with every sheet's rows made by the
# reader, the writer sat idle most of the time (BENCHMARKS.md §4), so it makes these two.
_MADE_BY_WRITER = frozenset((CASES_SHEET, EXCHANGES_SHEET))


def _rows_read_elsewhere(reading: _Reading) -> Callable[[StyleIndex], Pieces]:
    def rows(styles: StyleIndex) -> Pieces:
        makers = [_RowMaker(columns, styles) for _title, columns in SHEETS]
        for sheet, made, count in _pieces_read_elsewhere(replace(reading, styles=styles)):
            yield sheet, made if isinstance(made, str) else "".join(map(makers[sheet].row, made)), count

    return rows


def _pieces_read_elsewhere(reading: _Reading) -> Generator[tuple[int, str | list[list[Any]], int], None, None]:
    """The register's rows, read by a second process (`_read_rows`), as they arrive: each sheet's
    as its XML, or as values for the sheets this process makes (`_MADE_BY_WRITER`).

    A new interpreter ("spawn"), not a fork: a fork would inherit this process's database connections
    and threads. If the consumer stops early (its writing failed), the reading process is stopped too.
    """
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    reader = context.Process(target=_read_rows, args=(theirs, reading), name="inboxbot-register-reader", daemon=True)
    reader.start()
    theirs.close()
    finished = False
    try:
        while True:
            try:
                tag, payload = ours.recv()
            except (EOFError, ConnectionResetError):  # reset: it died with our "go on" messages unread
                reader.join(timeout=10)
                raise RegisterReadError(
                    f"the process reading the register stopped before the end (exit code {reader.exitcode})"
                ) from None
            if tag == "done":
                finished = True
                return
            if tag in ("error", "unknown-term"):
                summary, detail = payload
                # A row the vocabulary cannot read is hers to fix, and said as the other commands say it.
                error: Exception = (
                    UnknownTerm(summary)
                    if tag == "unknown-term"
                    else RegisterReadError(f"reading the register failed: {summary}")
                )
                error.add_note(f"In the reading process:\n{detail}")
                raise error
            yield from payload
            try:
                ours.send(None)  # one batch written: the reader may send another
            except OSError:
                pass  # it died: the next recv() says so
    finally:
        ours.close()
        if not finished:
            reader.terminate()
        reader.join()


def _read_rows(connection: Connection, reading: _Reading) -> None:
    """The reading process: the register in one snapshot, sent as rows a chunk of cases at a time.

    Sends ("rows", [(sheet, rows, count)...]) batches, one piece per sheet, then ("done", None); or
    ("error", (summary, traceback)) if anything fails: the writer raises it, with the traceback,
    which would otherwise be lost in this process.
    """
    from inboxbot.store.repository import Store

    chunk = reading.chunk
    try:
        store = Store.open(reading.url)
        try:
            with store.reading() as unit:
                details = export.register_details(
                    unit,
                    export.Exchanges.STEPS,
                    year=reading.year,
                    kind=reading.kind,
                    status=reading.status,
                    chunk=chunk,
                )
                makers = [_RowMaker(columns, reading.styles) for _title, columns in SHEETS]
                batch: list[list[Any]] = [[] for _ in SHEETS]
                cases = unconfirmed = 0  # batches sent whose writing this process has not yet been told of
                for sheet, values in register_values(details, reading.tz, reading.today, reading.own_address):
                    if sheet == CASES_SHEET:
                        if cases == chunk:
                            if unconfirmed == _AHEAD:
                                connection.recv()  # wait until the writer has written one more batch
                            else:
                                unconfirmed += 1
                            connection.send(("rows", _pieces(batch)))
                            batch, cases = [[] for _ in SHEETS], 0
                        cases += 1
                    batch[sheet].append(values if sheet in _MADE_BY_WRITER else makers[sheet].row(values))
                connection.send(("rows", _pieces(batch)))
        finally:
            store.close()
    except BaseException as exc:  # noqa: BLE001 - any failure must reach the writer, which stops
        detail = "".join(traceback.format_exception(exc)).rstrip()
        summary = str(exc) if isinstance(exc, UnknownTerm) else f"{type(exc).__name__}: {exc}"
        try:
            connection.send(("unknown-term" if isinstance(exc, UnknownTerm) else "error", (summary, detail)))
        except OSError:
            pass  # the writer is gone: nobody to tell
        return
    connection.send(("done", None))


def _pieces(batch: Sequence[list[Any]]) -> list[tuple[int, str | list[list[Any]], int]]:
    """A batch's rows, per sheet: their values, or their XML in one string (cheaper to pass than many)."""
    return [
        (sheet, rows if sheet in _MADE_BY_WRITER else "".join(rows), len(rows))
        for sheet, rows in enumerate(batch)
        if rows
    ]


def safe_text(value: str) -> str:
    """`value` as a cell can hold it: without the control characters XLSX forbids, within Excel's length.

    Excel counts the length in UTF-16 units: a character beyond U+FFFF (an emoji) counts twice.
    """
    # Most text is printable ASCII: it has no control character to look for.
    text = value if value.isascii() and value.isprintable() else _ILLEGAL_CHARACTERS.sub("", value)
    if len(text) > MAX_CELL_TEXT:
        text = text[: MAX_CELL_TEXT - 2] + " …"
    if len(text) > MAX_CELL_TEXT // 2:
        units = 0
        for index, char in enumerate(text):
            units += 2 if ord(char) > 0xFFFF else 1
            if units > MAX_CELL_TEXT - 2:
                return text[:index] + " …"
    return text
