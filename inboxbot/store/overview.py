"""Read-only queries behind the director's daily digest, returning plain values.

The digest must stay fast and readable on a register of 100,000 cases, so each section is at most one
query whatever the number of cases (never one per case; the sections read from the mails share a
single pass over that table), and each returns at most `limit` rows together with the full count,
computed by the database in the same query (a window count): the mail shows the first lines and
says how many more there are, rather than burying the director in a thousand lines.

Windows of time are half-open, `[since, until)`: an item recorded at the very instant a digest is
written belongs to the next digest, never to both.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    ColumnElement,
    Integer,
    SQLColumnExpression,
    String,
    and_,
    case,
    cast,
    func,
    literal_column,
    null,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import aliased

from inboxbot.domain.cases import OPEN, response_deadline
from inboxbot.domain.vocabulary import (
    ActionKind,
    ActionStatus,
    CaseStatus,
    Channel,
    Direction,
    Kind,
    MailOutcome,
    Nature,
    Priority,
)
from inboxbot.store.models import ActionRow, CaseEventRow, CaseRow, MailRow, OutboxRow
from inboxbot.store.repository import CANDIDATE_OUTCOME, FAILED, JOINED_OUTCOME, SENT, Unit, mail_reference

T = TypeVar("T")

CANDIDATE = CANDIDATE_OUTCOME  # the outcome of a mail put before the director (decide.PutBefore)
DIGEST_PURPOSE = "digest"  # the outbox purpose of the digest, which is its template's name
# The notes `decide` gives the mails it attaches (see decide._continue); tests/test_digest.py checks
# they still match, since a changed wording would silently empty two sections of the digest.
CLOSED_CASE_NOTE = "new mail on a closed case"
FEEDBACK_NOTE = "answer to the satisfaction request"
TRACKED_ACTION_STATUSES = (ActionStatus.TODO, ActionStatus.DOING)  # DONE and DROPPED need nothing more

__all__ = [
    "CANDIDATE",
    "CLOSED_CASE_NOTE",
    "DIGEST_PURPOSE",
    "FEEDBACK_NOTE",
    "CandidateBrief",
    "CaseBrief",
    "Deadline",
    "Deadlines",
    "Failure",
    "Feedback",
    "Listing",
    "MailBrief",
    "MailNotes",
    "QuietCase",
    "candidates",
    "deadlines",
    "digest_queued_between",
    "extensions",
    "last_digest_at",
    "mail_notes",
    "new_cases",
    "open_count",
    "quiet_cases",
    "send_failures",
    "to_qualify",
]


@dataclass(frozen=True)
class Listing(Generic[T]):
    """The first rows of a section and how many there are in all."""

    items: tuple[T, ...]
    total: int

    @property
    def more(self) -> int:
        return self.total - len(self.items)


@dataclass(frozen=True)
class CaseBrief:
    """What a digest line says about a case."""

    id: int
    number: str
    kind: Kind
    status: CaseStatus
    channel: Channel
    claimant: str | None
    claimant_name: str
    transmitter: str | None
    subject: str
    received_at: datetime
    acknowledge_due: date
    acknowledged_at: datetime | None
    response_due: date
    extended_due: date | None
    extension_reason: str
    nature: Nature | None
    priority: Priority | None
    # Why no acknowledgement was sent when the case was opened ("" if one was, or not asked for).
    not_acknowledged: str = ""

    @property
    def effective_response_due(self) -> date:
        return response_deadline(self.response_due, self.extended_due)


@dataclass(frozen=True)
class MailBrief:
    """A mail the director should know about, and the case it went to, if any."""

    received_at: datetime
    from_address: str | None
    from_name: str
    subject: str
    reason: str
    case_number: str | None
    reference: str | None = None  # a mail left for triage: what #ouvrir and #ecarter name it by


@dataclass(frozen=True)
class MailNotes:
    triage: Listing[MailBrief]
    closed_case: Listing[MailBrief]
    feedback: Listing[Feedback]
    suspicious: Listing[MailBrief]
    set_aside: Listing[MailBrief]


@dataclass(frozen=True)
class Deadline:
    """One date of the procedure still to meet: an acknowledgement, a response or an action."""

    what: str  # "acknowledgement", "response" or "action"
    due: date
    case: CaseBrief
    # acknowledgement: the state of the last automatic acknowledgement queued, None if none was.
    acknowledgement_status: str | None = None
    action_seq: int | None = None
    action_kind: ActionKind | None = None
    action_text: str = ""
    action_owner: str = ""


@dataclass(frozen=True)
class Deadlines:
    missed: Listing[Deadline]  # due before today
    coming: Listing[Deadline]  # due from today to the horizon


@dataclass(frozen=True)
class QuietCase:
    case: CaseBrief
    last_exchange: datetime | None  # None: nothing after the claim itself


@dataclass(frozen=True)
class Feedback:
    case: CaseBrief
    mark: int | None
    comment: str
    received_at: datetime


@dataclass(frozen=True)
class Failure:
    purpose: str
    recipient: str
    subject: str
    error: str
    queued_at: datetime
    case_number: str | None


_CASE_COLUMNS = (
    CaseRow.id,
    CaseRow.number,
    CaseRow.kind,
    CaseRow.status,
    CaseRow.channel,
    CaseRow.claimant,
    CaseRow.claimant_name,
    CaseRow.transmitter,
    CaseRow.subject,
    CaseRow.received_at,
    CaseRow.acknowledge_due,
    CaseRow.acknowledged_at,
    CaseRow.response_due,
    CaseRow.extended_due,
    CaseRow.extension_reason,
    CaseRow.nature,
    CaseRow.priority,
)
_CASE_WIDTH = len(_CASE_COLUMNS)


def _brief(row: Any) -> CaseBrief:
    """A `CaseBrief` from the first `_CASE_WIDTH` columns of a row selected with `_CASE_COLUMNS`."""
    return CaseBrief(*row[:_CASE_WIDTH])


def _effective_due() -> ColumnElement[date]:
    return func.coalesce(CaseRow.extended_due, CaseRow.response_due)


def _total() -> Any:
    return func.count().over().label("total")


def _listing(rows: Sequence[Any], make: Callable[[Any], T]) -> Listing[T]:
    total = rows[0].total if rows else 0
    return Listing(tuple(make(row) for row in rows), total)


# -- the digest's own history ---------------------------------------------------------------------


def last_digest_at(unit: Unit, before: datetime) -> datetime | None:
    """When the last digest queued before `before` that may have reached the director was queued.

    A digest that failed for good never reached her, so what it listed is listed again next time.
    """
    return unit.session.scalar(
        select(func.max(OutboxRow.created_at)).where(
            OutboxRow.purpose == DIGEST_PURPOSE, OutboxRow.status != FAILED, OutboxRow.created_at < before
        )
    )


def digest_queued_between(unit: Unit, since: datetime, until: datetime) -> bool:
    """Whether any digest was queued in `[since, until]`, even one that failed for good.

    A failed digest is not made up for by queueing another the same day: it would most likely fail
    the same way, at every poll; the next day's digest lists its contents again and the failure.
    """
    found = unit.session.scalar(
        select(OutboxRow.id)
        .where(OutboxRow.purpose == DIGEST_PURPOSE, OutboxRow.created_at >= since, OutboxRow.created_at <= until)
        .limit(1)
    )
    return found is not None


# -- what arrived ---------------------------------------------------------------------------------


def new_cases(unit: Unit, since: datetime, until: datetime, limit: int) -> Listing[CaseBrief]:
    """Cases registered in the window (by when inboxbot recorded them, not the mail's date), each
    with why it was not acknowledged, if it was not."""
    not_acknowledged = (
        select(CaseEventRow.detail)
        .where(CaseEventRow.case_id == CaseRow.id, CaseEventRow.type == "not-acknowledged")
        .order_by(CaseEventRow.id)
        .limit(1)
        .scalar_subquery()
    )
    rows = unit.session.execute(
        select(*_CASE_COLUMNS, not_acknowledged.label("not_acknowledged"), _total())
        .where(CaseRow.created_at >= since, CaseRow.created_at < until)
        .order_by(CaseRow.received_at, CaseRow.id)
        .limit(limit)
    ).all()
    return _listing(rows, lambda row: replace(_brief(row), not_acknowledged=row.not_acknowledged or ""))


def mail_notes(unit: Unit, since: datetime, suspicious_since: datetime, until: datetime, limit: int) -> MailNotes:
    """Mails left for triage, new mail on closed cases, satisfaction answers, suspicious and set-aside mails, in
    one pass over the mails (the biggest table, without an index that would serve these filters).

    Triage, closed-case and feedback mails are taken by when they were recorded. A mail becomes
    suspicious only once its proof has not come within the grace period counted from its reception,
    so suspicious mails are taken by reception from `suspicious_since` (the window's start minus
    that grace).
    """
    recorded = and_(MailRow.created_at >= since, MailRow.outcome.in_((MailOutcome.TRIAGE, MailOutcome.ATTACHED)))
    kinds = {
        "triage": and_(recorded, MailRow.outcome == MailOutcome.TRIAGE),
        "closed_case": and_(
            recorded, MailRow.outcome == MailOutcome.ATTACHED, MailRow.reason.like(f"{CLOSED_CASE_NOTE}%")
        ),
        "feedback": and_(recorded, MailRow.outcome == MailOutcome.ATTACHED, MailRow.reason.like(f"{FEEDBACK_NOTE}%")),
        "suspicious": and_(MailRow.outcome == MailOutcome.SUSPICIOUS, MailRow.received_at >= suspicious_since),
        # Unreadable, or failed inside inboxbot: archived, but only a person can tell what it was.
        "set_aside": and_(MailRow.created_at >= since, MailRow.outcome == MailOutcome.SET_ASIDE),
    }
    category = case(*((condition, literal_column(f"'{name}'")) for name, condition in kinds.items())).label("category")
    picked = (
        select(MailRow.id.label("mail_id"), category).where(MailRow.created_at < until, or_(*kinds.values())).subquery()
    )
    numbered = select(
        picked.c.mail_id,
        picked.c.category,
        func.row_number().over(partition_by=picked.c.category, order_by=picked.c.mail_id).label("rank"),
        func.count().over(partition_by=picked.c.category).label("total"),
    ).subquery()
    rows = unit.session.execute(
        select(
            *_CASE_COLUMNS,
            numbered.c.category,
            numbered.c.total,
            numbered.c.mail_id,
            MailRow.received_at.label("mail_received_at"),
            MailRow.from_address,
            MailRow.from_name,
            MailRow.subject.label("mail_subject"),
            MailRow.reason,
            CaseRow.satisfaction_mark,
            CaseRow.satisfaction_comment,
        )
        .select_from(numbered)
        .join(MailRow, MailRow.id == numbered.c.mail_id)
        .outerjoin(CaseRow, CaseRow.id == MailRow.case_id)
        .where(numbered.c.rank <= limit)
        .order_by(MailRow.received_at, MailRow.id)
    ).all()
    found: dict[str, list[Any]] = {name: [] for name in kinds}
    totals: dict[str, int] = {}
    for row in rows:
        totals[row.category] = row.total
        if row.category == "feedback":
            found["feedback"].append(
                Feedback(_brief(row), row.satisfaction_mark, row.satisfaction_comment, row.mail_received_at)
            )
        else:
            found[row.category].append(
                MailBrief(
                    received_at=row.mail_received_at,
                    from_address=row.from_address,
                    from_name=row.from_name,
                    subject=row.mail_subject,
                    reason=row.reason,
                    case_number=row.number,
                    reference=mail_reference(row.mail_id) if row.category == "triage" else None,
                )
            )
    return MailNotes(**{name: Listing(tuple(found[name]), totals.get(name, 0)) for name in kinds})


def send_failures(unit: Unit, since: datetime, until: datetime, limit: int) -> Listing[Failure]:
    """Mails given up on in the window.

    An outbox row has no time of failure; `next_attempt_at` is when its last attempt was due, which is
    the closest the table records.
    """
    rows = unit.session.execute(
        select(
            OutboxRow.purpose,
            OutboxRow.recipient,
            OutboxRow.subject,
            OutboxRow.last_error,
            OutboxRow.created_at,
            CaseRow.number,
            _total(),
        )
        .outerjoin(CaseRow, CaseRow.id == OutboxRow.case_id)
        .where(OutboxRow.status == FAILED, OutboxRow.next_attempt_at >= since, OutboxRow.next_attempt_at < until)
        .order_by(OutboxRow.next_attempt_at, OutboxRow.id)
        .limit(limit)
    ).all()
    return _listing(rows, lambda row: Failure(*row[:6]))


@dataclass(frozen=True)
class Meanwhile:
    """What inboxbot did while a part of it was down, for her to know nothing was lost."""

    read: int  # mails read during the outage
    sent: int  # mails sent during the outage
    read_after: int  # mails read since it ended (those that waited on the server, for a mailbox outage)
    sent_after: int  # mails queued before it ended and sent since (those that waited, for a sending one)


def meanwhile(unit: Unit, since: datetime, until: datetime) -> Meanwhile:
    """Counted by the database, four numbers in one pass over each table's dated rows."""
    read, read_after = unit.session.execute(
        select(
            func.count(case((MailRow.created_at < until, 1))),
            func.count(case((MailRow.created_at >= until, 1))),
        ).where(MailRow.created_at >= since)
    ).one()
    sent, sent_after = unit.session.execute(
        select(
            func.count(case((OutboxRow.sent_at < until, 1))),
            func.count(case((and_(OutboxRow.sent_at >= until, OutboxRow.created_at < until), 1))),
        ).where(OutboxRow.status == SENT, OutboxRow.sent_at >= since)
    ).one()
    return Meanwhile(read=read, sent=sent, read_after=read_after, sent_after=sent_after)


# -- what waits -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CandidateBrief:
    """A mail put before the director, waiting for #ouvrir or #ecarter."""

    reference: str
    received_at: datetime
    from_address: str | None
    from_name: str
    subject: str
    kind: Kind
    words: tuple[str, ...]
    excerpt: str
    spam: str
    notes: tuple[str, ...] = ()  # why the recognizer put it before her beyond the words, in French
    messages: int = 1  # itself and the mails that joined it (a follow-up, a reply in its thread)


def candidates(unit: Unit, limit: int) -> Listing[CandidateBrief]:
    """Every mail still waiting for her decision, oldest first, however old: silence loses nothing.

    Read through the (outcome, created_at) index: the candidates are few beside all the mails; the
    mails joined to each are counted through the `joined_to` index."""
    joined = aliased(MailRow)
    followers = (
        select(func.count(joined.id))
        .where(joined.joined_to == MailRow.id, joined.outcome == JOINED_OUTCOME)
        .scalar_subquery()
        .label("followers")
    )
    rows = unit.session.execute(
        select(
            MailRow.id,
            MailRow.received_at,
            MailRow.from_address,
            MailRow.from_name,
            MailRow.subject,
            MailRow.kind,
            MailRow.words,
            MailRow.excerpt,
            MailRow.spam,
            MailRow.notes,
            followers,
            _total(),
        )
        .where(MailRow.outcome == CANDIDATE)
        .order_by(MailRow.received_at, MailRow.id)
        .limit(limit)
    ).all()
    return _listing(
        rows,
        lambda row: CandidateBrief(
            reference=mail_reference(row.id),
            received_at=row.received_at,
            from_address=row.from_address,
            from_name=row.from_name,
            subject=row.subject,
            kind=row.kind or Kind.RECLAMATION,
            words=tuple(json.loads(row.words or "[]")),
            excerpt=row.excerpt,
            spam=row.spam,
            notes=tuple(json.loads(row.notes or "[]")),
            messages=1 + (row.followers or 0),
        ),
    )


def to_qualify(unit: Unit, limit: int, created_before: datetime | None = None) -> Listing[CaseBrief]:
    """Open cases the director has not finished qualifying: no nature, no priority or no claimant.

    Only those recorded before `created_before`: a case new in the digest's window is listed once,
    among the new cases, with the same commands to type."""
    created = CaseRow.created_at < created_before if created_before is not None else true()
    rows = unit.session.execute(
        select(*_CASE_COLUMNS, _total())
        .where(
            CaseRow.status == OPEN,
            or_(CaseRow.nature.is_(None), CaseRow.priority.is_(None), CaseRow.claimant.is_(None)),
            created,
        )
        .order_by(CaseRow.received_at, CaseRow.id)
        .limit(limit)
    ).all()
    return _listing(rows, _brief)


def deadlines(unit: Unit, today: date, until: date, limit: int) -> Deadlines:
    """Every date to meet up to `until`, missed ones included, in one query, closest first.

    Acknowledgements not yet sent and responses of open cases (the extended date when there is one),
    then corrective, preventive and urgent actions still to do, whatever their case's state: an action
    decided on a closed case is still owed.
    """
    acknowledgements = select(
        literal_column("'acknowledgement'", String).label("what"),
        CaseRow.acknowledge_due.label("due"),
        CaseRow.id.label("case_id"),
        cast(null(), Integer).label("action_id"),
    ).where(CaseRow.status == OPEN, CaseRow.acknowledged_at.is_(None), CaseRow.acknowledge_due <= until)
    responses = select(
        literal_column("'response'", String),
        _effective_due(),
        CaseRow.id,
        cast(null(), Integer),
    ).where(CaseRow.status == OPEN, _effective_due() <= until)
    actions = select(
        literal_column("'action'", String),
        ActionRow.due,
        ActionRow.case_id,
        ActionRow.id,
    ).where(ActionRow.status.in_(TRACKED_ACTION_STATUSES), ActionRow.due.is_not(None), ActionRow.due <= until)
    dates = union_all(acknowledgements, responses, actions).subquery()
    missed = case((dates.c.due < today, 1), else_=0).label("missed")
    flagged = select(dates, missed).subquery()
    numbered = select(
        flagged,
        func.row_number()
        .over(
            partition_by=flagged.c.missed,
            order_by=(flagged.c.due, flagged.c.case_id, flagged.c.what, flagged.c.action_id),
        )
        .label("rank"),
        func.count().over(partition_by=flagged.c.missed).label("total"),
    ).subquery()
    acknowledgement_status = (
        select(OutboxRow.status)
        .where(OutboxRow.case_id == CaseRow.id, OutboxRow.purpose.like("%acknowledgement"))
        .order_by(OutboxRow.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    rows = unit.session.execute(
        select(
            *_CASE_COLUMNS,
            numbered.c.what,
            numbered.c.due,
            numbered.c.missed,
            numbered.c.total,
            case((numbered.c.what == "acknowledgement", acknowledgement_status), else_=null()).label("ack_status"),
            ActionRow.seq,
            ActionRow.kind.label("action_kind"),
            ActionRow.text.label("action_text"),
            ActionRow.owner.label("action_owner"),
        )
        .select_from(numbered)
        .join(CaseRow, CaseRow.id == numbered.c.case_id)
        .outerjoin(ActionRow, ActionRow.id == numbered.c.action_id)
        .where(numbered.c.rank <= limit)
        .order_by(numbered.c.due, CaseRow.number, numbered.c.what, ActionRow.seq)
    ).all()
    lists: dict[int, list[Deadline]] = {0: [], 1: []}
    totals: dict[int, int] = {}
    for row in rows:
        lists[row.missed].append(
            Deadline(
                what=row.what,
                due=row.due,
                case=_brief(row),
                acknowledgement_status=row.ack_status,
                action_seq=row.seq,
                action_kind=row.action_kind,
                action_text=row.action_text or "",
                action_owner=row.action_owner or "",
            )
        )
        totals[row.missed] = row.total
    return Deadlines(
        missed=Listing(tuple(lists[1]), totals.get(1, 0)),
        coming=Listing(tuple(lists[0]), totals.get(0, 0)),
    )


def quiet_cases(unit: Unit, before: datetime, limit: int) -> Listing[QuietCase]:
    """Open cases whose claimant has heard nothing and written nothing since `before`.

    An exchange is a mail from the claimant, a mail the organisation wrote to them from its own
    client (its Sent folder), or a mail inboxbot sent them; automatic mail (an absence notice) is
    not one. A case with no exchange at all counts from its reception.

    Only open cases received before `before` can be quiet, and each is checked through the indexes
    on `case_id`; the date of the last exchange is then read only for the cases shown, so when there
    are more than `limit` the oldest cases are the ones shown.
    """
    heard_from = (
        select(MailRow.id)
        .where(MailRow.case_id == CaseRow.id, MailRow.received_at >= before, _exchange_with(CaseRow.claimant))
        .exists()
    )
    written_to = (
        select(OutboxRow.id)
        .where(
            OutboxRow.case_id == CaseRow.id,
            OutboxRow.status == SENT,
            OutboxRow.sent_at >= before,
            OutboxRow.recipient == CaseRow.claimant,
        )
        .exists()
    )
    quiet = (
        select(*_CASE_COLUMNS, _total())
        .where(
            CaseRow.status == OPEN,
            CaseRow.claimant.is_not(None),
            # No exchange comes before the reception: a case received since `before` is not quiet.
            CaseRow.received_at < before,
            ~heard_from,
            ~written_to,
        )
        .order_by(CaseRow.received_at, CaseRow.number)
        .limit(limit)
        .subquery()
    )
    last_mail = (
        select(func.max(MailRow.received_at))
        .where(MailRow.case_id == quiet.c.id, _exchange_with(quiet.c.claimant))
        .scalar_subquery()
    )
    last_sent = (
        select(func.max(OutboxRow.sent_at))
        .where(OutboxRow.case_id == quiet.c.id, OutboxRow.status == SENT, OutboxRow.recipient == quiet.c.claimant)
        .scalar_subquery()
    )
    rows = unit.session.execute(select(quiet, last_mail.label("last_mail"), last_sent.label("last_sent"))).all()
    found = [QuietCase(case=_brief(row), last_exchange=_last_exchange(row)) for row in rows]
    found.sort(key=lambda item: (item.last_exchange or item.case.received_at, item.case.number))
    return Listing(tuple(found), rows[0].total if rows else 0)


def _exchange_with(claimant: SQLColumnExpression[str | None]) -> ColumnElement[bool]:
    """A mail of a case that is an exchange with its claimant."""
    return and_(
        MailRow.automatic.is_(None),
        or_(
            MailRow.from_address == claimant,
            and_(MailRow.direction == Direction.OUT, MailRow.to_addresses.contains(claimant)),
        ),
    )


def _last_exchange(row: Any) -> datetime | None:
    """The last exchange, or None when there was none after the claim itself."""
    dates = [at for at in (row.last_mail, row.last_sent) if at is not None and at > row.received_at]
    return max(dates, default=None)


def extensions(unit: Unit, limit: int) -> Listing[CaseBrief]:
    """Open cases whose response date was extended, soonest new date first."""
    rows = unit.session.execute(
        select(*_CASE_COLUMNS, _total())
        .where(CaseRow.status == OPEN, CaseRow.extended_due.is_not(None))
        .order_by(CaseRow.extended_due, CaseRow.number)
        .limit(limit)
    ).all()
    return _listing(rows, _brief)


def open_count(unit: Unit) -> int:
    return unit.session.scalar(select(func.count(CaseRow.id)).where(CaseRow.status == OPEN)) or 0
