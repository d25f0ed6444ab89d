"""The register read for an export or the annual report: in chunks, with only what the output shows.

At 100,000 cases, reading every case, mail, outgoing mail (with its raw bytes) and event as ORM objects
before writing anything took gigabytes and most of the export's time. Here the cases are read a chunk
at a time with Core selects, the caller writes each chunk before the next is read, and each output
asks only for what it shows: the JSON register its exchange log and history, the spreadsheet's
sheets of exchanges and history the beginning of each mail's text, the case rows alone (the CSV's
default table) only the number of mails exchanged (counted by the database), the annual report only
the actions. Whatever the size of the register, memory holds one chunk.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from enum import Enum
from typing import Any, cast

from sqlalchemy import Select, func, select

from inboxbot.domain.cases import Action, Case, CaseDetail, CaseEvent, LogEntry, exchange_order
from inboxbot.domain.vocabulary import CaseStatus, Kind
from inboxbot.store.models import ActionRow, CaseRow, MailRow, OutboxRow
from inboxbot.store.repository import Unit, _action, _case, read_logs

CHUNK = 1000  # cases per chunk: about 1 MB of exchange log, and few enough ids for one IN (...)


class Exchanges(Enum):
    """How much of each case's exchange log and history a reader needs."""

    LOG = "log"  # every mail and event (the JSON register)
    COUNT = "count"  # the number of mails only (spreadsheet and CSV rows)
    NONE = "none"  # neither (the annual report)
    FULL = "full"  # the log with recipients, attachments and the bytes inboxbot sent (the audit file)
    # The log with recipients and the beginning of each mail's text, and the history (the register's
    # sheets of exchanges and history).
    STEPS = "steps"


# Characters of each mail's text read for `Exchanges.STEPS`: more than the register shows of it
# (`inboxbot.exports.register.SUMMARY_CHARS`), so that it can tell whether it cut the text.
EXCERPT = 400


def register_details(
    unit: Unit,
    exchanges: Exchanges,
    *,
    year: int | None = None,
    kind: Kind | None = None,
    status: CaseStatus | None = None,
    number: str | None = None,
    chunk: int = CHUNK,
) -> Iterator[CaseDetail]:
    """The cases of the register (in the order of `Unit.cases`), each with its actions and `exchanges`.

    A generator: iterate it inside the unit. The case ids are read first (a few bytes each), so the
    chunks follow one consistent order without holding a cursor open across the other queries.
    """
    query = _in_register_order(select(CaseRow.id), year, kind, status)
    if number is not None:
        query = query.where(CaseRow.number == number)
    ids = list(unit.session.scalars(query))
    for start in range(0, len(ids), chunk):
        yield from _chunk(unit, ids[start : start + chunk], exchanges)


def register_cases(
    unit: Unit,
    *,
    year: int | None = None,
    kind: Kind | None = None,
    status: CaseStatus | None = None,
    chunk: int = CHUNK,
) -> Iterator[Case]:
    """The cases alone (`cases list`), in the order of `Unit.cases`, fetched `chunk` rows at a time.

    One query, its rows fetched as they are used (a server-side cursor on PostgreSQL): nothing else is
    read meanwhile, so the cursor may stay open, unlike in `register_details`.
    """
    query = _in_register_order(select(CaseRow.__table__), year, kind, status).execution_options(yield_per=chunk)
    for row in unit.session.connection().execute(query):
        yield _case(cast(CaseRow, row))


def _in_register_order(
    query: Select[Any], year: int | None, kind: Kind | None, status: CaseStatus | None
) -> Select[Any]:
    if status is not None:
        query = query.where(CaseRow.status == status)
    if kind is not None:
        query = query.where(CaseRow.kind == kind)
    if year is not None:
        query = query.where(CaseRow.number.like(f"{year}-%"))
    return query.order_by(CaseRow.received_at, CaseRow.id)


def _chunk(unit: Unit, ids: Sequence[int], exchanges: Exchanges) -> Iterator[CaseDetail]:
    # The session's connection: a Core select run through the Session itself still goes through the
    # ORM's result machinery, which took 40 % of a CSV export.
    connection = unit.session.connection()
    # Core rows, not ORM objects (several times cheaper to load); they carry the same attributes, which
    # is all `_case` and `_action` read.
    in_chunk = select(CaseRow.__table__).where(CaseRow.id.in_(ids))
    cases = {row.id: _case(cast(CaseRow, row)) for row in connection.execute(in_chunk)}
    actions: dict[int, list[Action]] = {case_id: [] for case_id in ids}
    in_chunk = select(ActionRow.__table__).where(ActionRow.case_id.in_(ids))
    for row in connection.execute(in_chunk.order_by(ActionRow.seq)):
        actions[row.case_id].append(_action(cast(ActionRow, row)))
    logs: dict[int, list[LogEntry]] = {case_id: [] for case_id in ids}
    events: dict[int, list[CaseEvent]] = {case_id: [] for case_id in ids}
    counts: dict[int, int] = dict.fromkeys(ids, 0)
    if exchanges in (Exchanges.LOG, Exchanges.FULL, Exchanges.STEPS):
        excerpt = EXCERPT if exchanges is Exchanges.STEPS else None
        read_logs(connection, ids, logs, events, full=exchanges is Exchanges.FULL, excerpt=excerpt)
    elif exchanges is Exchanges.COUNT:
        for table in (MailRow, OutboxRow):
            grouped = select(table.case_id, func.count()).where(table.case_id.in_(ids)).group_by(table.case_id)
            for case_id, count in connection.execute(grouped):
                counts[cast(int, case_id)] += count  # never None: selected by id
    for case_id in ids:
        if case_id not in cases:
            continue  # purged since the ids were read, by a unit without one snapshot (`Store.unit`)
        yield CaseDetail(
            case=cases[case_id],
            messages=tuple(exchange_order(logs[case_id])),
            events=tuple(events[case_id]),
            actions=tuple(actions[case_id]),
            exchange_count=counts[case_id] if exchanges is Exchanges.COUNT else None,
        )
