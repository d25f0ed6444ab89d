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
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from xlsxwriter import Workbook
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from inboxbot.adapters.private import replaced_whole
from inboxbot.domain.cases import (
    KIND_LABELS,
    NATURE_LABELS,
    TRACKED_KINDS,
    Action,
    CaseDetail,
    action_line,
    deadline_label,
)
from inboxbot.exports.register import (
    ACTION_HEADERS,
    CASE_RULES_HEADER,
    CHANNEL_LABELS,
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
    return _write_workbook(register_rows(details, tz, today, own_address), target)


def export_register_xlsx(
    url: str,
    target: Path,
    tz: ZoneInfo,
    today: date,
    *,
    year: int | None = None,
    kind: str | None = None,
    status: str | None = None,
    chunk: int = export.CHUNK,
    own_address: str,
) -> int:
    """`write_register_xlsx` of the register in the database at `url`, read by a second process.

    The other process reads the cases chunk by chunk and makes their cells (`register_rows`) while
    this one writes them: at 100,000 cases that is a third of the work taken off XlsxWriter's process.
    Raises `RegisterReadError` if the reading fails or its process dies; the file is then not written.
    Returns the number of cases written. The other process is a new interpreter, which imports the
    caller's main module again: a script calling this must guard its main code, as multiprocessing asks.
    """
    return _write_workbook(_rows_read_elsewhere(url, tz, today, year, kind, status, chunk, own_address), target)


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
        RECEIVED_FROM_LABELS.get(case.received_from, case.received_from) if case.received_from else None,
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
        means_label(case.acknowledgement_means, case.acknowledged_at),
        deadline_label(acknowledge_met, case.acknowledged_at is not None, dismissed),
        case.response_due,
        case.extended_due,
        case.extension_reason,
        _local(case.responded_at, tz),
        means_label(case.response_means, case.responded_at),
        case.response_note,
        deadline_label(response_met, case.responded_at is not None, dismissed),
        "\n".join(a.text for a in actions if a.kind == "cause"),
        "\n".join(action_line(a) for a in actions if a.kind in TRACKED_KINDS),
        "\n".join(mediations),
        status_label(case.status, dismissed, case.merged_into),
        _local(case.closed_at, tz),
        case.satisfaction_mark,
        case.satisfaction_comment,
        detail.exchanges,
        rules_text(case.rules_hit),
    ]


def _action_row(number: str, action: Action, tz: ZoneInfo, today: date) -> list[object]:
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


# How a cell is written: its XlsxWriter call and format (`_Sheet`).
PLAIN, WRAPPED, QUOTED, QUOTED_WRAPPED, NUMBER_CELL, DAY_CELL, INSTANT_CELL = _STYLES = range(7)
_STRIDE = len(_STYLES)  # a cell's code is column * _STRIDE + style
# A row's non-empty cells, flat: code, value, code, value... Made by `register_rows` in the process
# that reads the cases, so the one writing them only writes; flat, because a list of a few hundred
# thousand small tuples costs more to pass between processes and to go through than its values.
Cells = list[int | str | float]
CASES_SHEET, ACTIONS_SHEET, EXCHANGES_SHEET, HISTORY_SHEET = range(4)
_EXCEL_EPOCH = datetime(1899, 12, 31)
_SECONDS_PER_DAY = 86_400


def register_rows(
    details: Iterable[CaseDetail], tz: ZoneInfo, today: date, own_address: str
) -> Iterator[tuple[int, Cells]]:
    """The rows of every sheet, case by case: (sheet, cells), each case's row before its other rows.

    The sheets of exchanges and history are filled from each case's log and history: read with
    `Exchanges.STEPS`, or they come out empty.
    """
    case_plan, action_plan = _plan(CASE_COLUMNS), _plan(ACTION_COLUMNS)
    exchange_plan, history_plan = _plan(EXCHANGE_COLUMNS), _plan(HISTORY_COLUMNS)
    for detail in details:
        number = detail.case.number
        yield CASES_SHEET, _cells(_case_row(detail, tz, today), case_plan)
        for action in detail.actions:
            yield ACTIONS_SHEET, _cells(_action_row(number, action, tz, today), action_plan)
        for row in exchange_rows(detail, own_address):
            row[1] = _local(row[1], tz)
            yield EXCHANGES_SHEET, _cells(row, exchange_plan)
        for row in history_rows(detail):
            row[1] = _local(row[1], tz)
            yield HISTORY_SHEET, _cells(row, history_plan)


def _plan(columns: Sequence[Column]) -> list[tuple[int, str, int | None]]:
    """Per column: its first code, its kind, and for long text the length that still fits on one line."""
    return [
        (col * _STRIDE, column.kind, int(column.width) if column.kind == WRAP else None)
        for col, column in enumerate(columns)
    ]


def _cells(values: Sequence[object], plan: Sequence[tuple[int, str, int | None]]) -> Cells:
    """The row's non-empty values as cells.

    Only what needs a format gets one: dates, long text that must wrap (in a long-text column, text
    that fits on one line needs none), and text a spreadsheet would take for a formula.
    """
    cells: Cells = []
    for (code, kind, fits), value in zip(plan, values, strict=True):
        if value is None or value == "":
            continue
        if kind == DAY:
            cells += (code + DAY_CELL, excel_serial(value))  # type: ignore[arg-type]
        elif kind == INSTANT:
            cells += (code + INSTANT_CELL, excel_serial(value))  # type: ignore[arg-type]
        elif kind == NUMBER:
            cells += (code + NUMBER_CELL, value)  # type: ignore[arg-type]
        else:
            text = safe_text(value)  # type: ignore[arg-type]
            style = QUOTED if text.startswith(_FORMULA_LEADS) or text in _ERROR_CODES else PLAIN
            if fits is not None and (len(text) > fits or "\n" in text):
                style += WRAPPED - PLAIN  # QUOTED_WRAPPED is to QUOTED what WRAPPED is to PLAIN
            cells += (code + style, text)
    return cells


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
        self.day = made(num_format=DATE_FORMAT, valign="top")
        self.instant = made(num_format=DATETIME_FORMAT, valign="top")
        self.wrap = made(text_wrap=True, valign="top")
        self.quoted = made(quote_prefix=True, valign="top")
        self.quoted_wrap = made(quote_prefix=True, text_wrap=True, valign="top")


class _Sheet:
    """One streamed sheet: widths, frozen header and filter; each cell written with its style's call."""

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
        # Dates go in as Excel's numbers (`excel_serial`) with a date format: what write_datetime stores.
        # The undecorated methods XlsxWriter's own write() calls: write_string() and write_number()
        # first try whether the row is an "A1" cell name, an eighth of the writing process's time
        # spent for nothing (BENCHMARKS.md §4).
        text, number = self.sheet._write_string, self.sheet._write_number
        by_style = {
            PLAIN: (text, None),
            WRAPPED: (text, styles.wrap),
            QUOTED: (text, styles.quoted),
            QUOTED_WRAPPED: (text, styles.quoted_wrap),
            NUMBER_CELL: (number, None),
            DAY_CELL: (number, styles.day),
            INSTANT_CELL: (number, styles.instant),
        }
        # By code (column * _STRIDE + style): the call, the column and the format, found in one step.
        self._writers = [
            (by_style[style][0], col, by_style[style][1]) for col in range(len(columns)) for style in _STYLES
        ]

    def append(self, cells: Cells) -> None:
        row = self.rows
        writers = self._writers
        pairs = iter(cells)
        for code, value in zip(pairs, pairs, strict=True):
            write, col, cell_format = writers[code]  # type: ignore[index]  # codes are ints, values not
            write(row, col, value, cell_format)
        self.rows += 1

    def add_filter(self) -> None:
        """A filter over every written row; XlsxWriter writes it after the rows, so it can be set last."""
        self.sheet.autofilter(0, 0, self.rows - 1, len(self.columns) - 1)


def _write_workbook(rows: Iterable[tuple[int, Cells]], target: Path | IO[bytes]) -> int:
    """Write the rows into a new workbook at `target`; returns the number of case rows.

    A file is written beside its target and renamed once complete: if reading the register fails
    half-way, or writing does, no truncated workbook that looks like a whole register is left behind.
    """
    if not isinstance(target, Path):
        return _fill_workbook(rows, target)
    with replaced_whole(target) as partial:
        return _fill_workbook(rows, partial)


def _fill_workbook(rows: Iterable[tuple[int, Cells]], target: Path | IO[bytes]) -> int:
    # XlsxWriter writes the file only on close(): if the rows fail half-way, nothing is written.
    workbook = Workbook(target, {"constant_memory": True})
    styles = _Styles(workbook)
    sheets = (
        _Sheet(workbook, styles, "Dossiers", CASE_COLUMNS),
        _Sheet(workbook, styles, "Actions", ACTION_COLUMNS),
        _Sheet(workbook, styles, "Échanges", EXCHANGE_COLUMNS),
        _Sheet(workbook, styles, "Historique", HISTORY_COLUMNS),
    )
    for sheet, cells in rows:
        sheets[sheet].append(cells)
    for each in sheets:
        each.add_filter()
    workbook.close()
    return sheets[CASES_SHEET].rows - 1


class RegisterReadError(Exception):
    """The process reading the register for a workbook failed or died; no workbook was written."""


# Batches of rows the reading process may have sent that the writing one has not written yet: enough
# for it to read the next chunk while the current one is written, and a bound on the memory they take
# whatever the size of the pipe's buffer.
_AHEAD = 2


def _rows_read_elsewhere(
    url: str,
    tz: ZoneInfo,
    today: date,
    year: int | None,
    kind: str | None,
    status: str | None,
    chunk: int,
    own_address: str,
) -> Generator[tuple[int, Cells], None, None]:
    """The register's rows, read and made by a second process (`_read_rows`), as they arrive.

    A new interpreter ("spawn"), not a fork: a fork would inherit this process's database connections
    and threads. If the consumer stops early (its writing failed), the reading process is stopped too.
    """
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    reader = context.Process(
        target=_read_rows,
        args=(theirs, _Reading(url, tz, today, year, kind, status, chunk, own_address)),
        name="inboxbot-register-reader",
        daemon=True,
    )
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
            if tag == "error":
                summary, detail = payload
                error = RegisterReadError(f"reading the register failed: {summary}")
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


@dataclass(frozen=True)
class _Reading:
    """What the reading process reads and how it makes the cells, passed to it in one piece."""

    url: str
    tz: ZoneInfo
    today: date
    year: int | None
    kind: str | None
    status: str | None
    chunk: int
    own_address: str


def _read_rows(connection: Connection, reading: _Reading) -> None:
    """The reading process: the register in one snapshot, sent as rows a chunk of cases at a time.

    Sends ("rows", [...]) batches, then ("done", None); or ("error", (summary, traceback)) if anything
    fails: the writer raises it, with the traceback, which would otherwise be lost in this process.
    """
    from inboxbot.store.repository import Store

    url, chunk = reading.url, reading.chunk
    try:
        store = Store.open(url)
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
                batch: list[tuple[int, Cells]] = []
                cases = unconfirmed = 0  # batches sent whose writing this process has not yet been told of
                for sheet, cells in register_rows(details, reading.tz, reading.today, reading.own_address):
                    if sheet == CASES_SHEET:
                        if cases == chunk:
                            if unconfirmed == _AHEAD:
                                connection.recv()  # wait until the writer has written one more batch
                            else:
                                unconfirmed += 1
                            connection.send(("rows", batch))
                            batch, cases = [], 0
                        cases += 1
                    batch.append((sheet, cells))
                connection.send(("rows", batch))
        finally:
            store.close()
    except BaseException as exc:  # noqa: BLE001 - any failure must reach the writer, which stops
        detail = "".join(traceback.format_exception(exc)).rstrip()
        try:
            connection.send(("error", (f"{type(exc).__name__}: {exc}", detail)))
        except OSError:
            pass  # the writer is gone: nobody to tell
        return
    connection.send(("done", None))


def safe_text(value: str) -> str:
    """`value` as a cell can hold it: without the control characters XLSX forbids, within Excel's length."""
    text = _ILLEGAL_CHARACTERS.sub("", value)
    if len(text) > MAX_CELL_TEXT:
        text = text[: MAX_CELL_TEXT - 2] + " …"
    return text
