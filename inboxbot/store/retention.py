"""The retention purge's reads and writes, row by row; `inboxbot.procedure.purge` decides around them.

Everything here runs inside a `Unit` (one transaction) handed in by the caller, so a case's rows and
the audit entry that records their removal are committed together or not at all. What leaves this
module are plain values; the rows stay here.

"Anonymised" is not a flag stored somewhere: a case counts as anonymised when anonymising it again
would change nothing. That makes the purge idempotent without a new column, and it also catches a
case that took in personal data again after it was anonymised (a late reply threaded into it), which
a flag set once would hide.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm import Session

from inboxbot.domain.cases import CLOSED
from inboxbot.store.models import (
    ActionRow,
    AttachmentRow,
    AuditRow,
    CaseEventRow,
    CaseRow,
    MailRow,
    OutboxRow,
)
from inboxbot.store.repository import FAILED, PENDING, Unit

PLACEHOLDER = "[anonymisé]"

# Event types whose detail is about the procedure (classification, deadlines, actions, the mark out
# of five), not about the person: an auditor still needs them once the claimant is forgotten.
# Anything else, including types added later, has its detail emptied: the safe default.
_PROCEDURAL_EVENTS = frozenset(
    {
        "opened",
        "requalified",
        "reopened",
        "extended",
        "feedback",
        "set:nature",
        "set:priority",
        "set:stakeholder",
        "set:training",
    }
)
_PROCEDURAL_EVENT_PREFIXES = ("action:", "action-status:")
_CHUNK = 500
_T = TypeVar("_T")


@dataclass(frozen=True)
class CaseFootprint:
    """What one closed case holds that a purge empties or removes, counted before it does.

    `files` are paths relative to the archive root; `anonymised` says nothing personal is left.
    """

    case_id: int
    number: str
    closed_at: datetime
    mails: int
    attachments: int
    outgoing: int
    events: int
    actions: int
    files: tuple[str, ...]
    anonymised: bool


@dataclass(frozen=True)
class OrphanMails:
    """Mails not linked to any case (ignored, automatic, suspicious) old enough to go."""

    mails: int
    attachments: int
    files: tuple[str, ...]


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    detail: str


@dataclass
class _Contents:
    """A case's rows, loaded once so that counting and changing them see the same set."""

    case: CaseRow
    mails: list[MailRow]
    attachments: list[AttachmentRow]
    outgoing: list[OutboxRow]
    events: list[CaseEventRow]
    actions: int

    def footprint(self, organisation: frozenset[str]) -> CaseFootprint:
        files = [m.archive_path for m in self.mails] + [a.path for a in self.attachments]
        personal = (
            _case_is_personal(self.case)
            or any(_mail_is_personal(m) for m in self.mails)
            or bool(self.attachments)
            or any(_outgoing_is_personal(o) for o in self.outgoing)
            or any(_event_is_personal(e, organisation) for e in self.events)
        )
        assert self.case.closed_at is not None  # only closed cases are ever loaded here
        return CaseFootprint(
            case_id=self.case.id,
            number=self.case.number,
            closed_at=self.case.closed_at,
            mails=len(self.mails),
            attachments=len(self.attachments),
            outgoing=len(self.outgoing),
            events=len(self.events),
            actions=self.actions,
            files=tuple(dict.fromkeys(f for f in files if f)),
            anonymised=not personal,
        )


def closed_cases(unit: Unit, closed_before: datetime, organisation: Iterable[str]) -> list[CaseFootprint]:
    """Every case closed before `closed_before`, oldest first, with what a purge would touch.

    Open cases are never listed, however old: a case is only forgotten once it is finished.
    """
    session = unit.session
    actors = _actors(organisation)
    rows = session.scalars(_closed_before(closed_before).order_by(CaseRow.closed_at, CaseRow.id))
    return [_contents(session, row).footprint(actors) for row in rows]


def anonymise_case(
    unit: Unit, case_id: int, closed_before: datetime, organisation: Iterable[str]
) -> CaseFootprint | None:
    """Strip a closed case of its personal data, keeping what the statistics and reports count.

    Returns what was there, or None when the case is no longer eligible (reopened since it was
    planned) or already anonymised. The case row is locked first, so a concurrent reopening or a
    reply being threaded into it waits for this transaction instead of racing it.
    """
    session = unit.session
    row = session.scalar(_closed_before(closed_before).where(CaseRow.id == case_id).with_for_update())
    if row is None:
        return None
    actors = _actors(organisation)
    contents = _contents(session, row)
    footprint = contents.footprint(actors)
    if footprint.anonymised:
        return None
    row.claimant = None  # a placeholder here would be taken for an address and mailed (satisfaction requests)
    row.transmitter = None
    row.claimant_name = PLACEHOLDER
    row.subject = PLACEHOLDER
    row.description = PLACEHOLDER
    row.satisfaction_comment = ""
    row.response_note = ""  # what she said on the phone or wrote on paper: as personal as a mail
    for mail in contents.mails:
        mail.from_address = None
        mail.from_name = ""
        mail.to_addresses = ""
        mail.subject = ""
        mail.summary = ""
        mail.archive_path = ""
        # What the recognizer kept of it: the words, excerpt and notes quote the claimant; the address
        # and name a case opened from it would take are theirs too.
        mail.words = "[]"
        mail.excerpt = ""
        mail.notes = "[]"
        mail.claimant = None
        mail.claimant_name = ""
    for outgoing in contents.outgoing:
        outgoing.recipient = ""
        outgoing.recipient_key = None  # the same address, folded for the acknowledgement cap
        outgoing.subject = ""
        outgoing.text = ""
        outgoing.raw = b""
        outgoing.last_error = ""  # SMTP refusals quote the recipient's address
        if outgoing.status == PENDING:
            outgoing.status = FAILED  # an emptied mail must never be sent
    for event in contents.events:
        if not _procedural(event.type):
            event.detail = ""
        if _actor_is_personal(event.actor, actors):
            event.actor = PLACEHOLDER
    _delete_attachments(session, [m.id for m in contents.mails])
    session.flush()
    return footprint


def delete_case(unit: Unit, case_id: int, closed_before: datetime, organisation: Iterable[str]) -> CaseFootprint | None:
    """Remove a closed case and everything attached to it; None when it is no longer eligible.

    The year's case counter is left alone: numbers are never handed out twice, even once the case
    that bore one is gone.
    """
    session = unit.session
    row = session.scalar(_closed_before(closed_before).where(CaseRow.id == case_id).with_for_update())
    if row is None:
        return None
    contents = _contents(session, row)
    footprint = contents.footprint(_actors(organisation))
    mail_ids = [m.id for m in contents.mails]
    # Children before parents, as explicit statements: the order is then the one written here.
    _delete_attachments(session, mail_ids)
    for chunk in _chunks(mail_ids):
        session.execute(delete(MailRow).where(MailRow.id.in_(chunk)))
    session.execute(delete(OutboxRow).where(OutboxRow.case_id == case_id))
    session.execute(delete(CaseEventRow).where(CaseEventRow.case_id == case_id))
    session.execute(delete(ActionRow).where(ActionRow.case_id == case_id))
    session.execute(delete(CaseRow).where(CaseRow.id == case_id))
    return footprint


def orphan_mails(unit: Unit, received_before: datetime) -> OrphanMails:
    """All mails linked to no case and received before `received_before` (for the plan)."""
    session = unit.session
    rows = session.execute(
        select(MailRow.id, MailRow.archive_path).where(MailRow.case_id.is_(None), MailRow.received_at < received_before)
    ).all()
    return _orphans(session, [(mail_id, path) for mail_id, path in rows])


def delete_orphan_mails(unit: Unit, received_before: datetime, limit: int) -> OrphanMails:
    """Remove up to `limit` of the oldest mails linked to no case; nothing left means 0 mails."""
    session = unit.session
    rows = session.execute(
        select(MailRow.id, MailRow.archive_path)
        .where(MailRow.case_id.is_(None), MailRow.received_at < received_before)
        .order_by(MailRow.id)
        .limit(limit)
        .with_for_update()
    ).all()
    found = _orphans(session, [(mail_id, path) for mail_id, path in rows])
    ids = [mail_id for mail_id, _path in rows]
    _delete_attachments(session, ids)
    for chunk in _chunks(ids):
        session.execute(delete(MailRow).where(MailRow.id.in_(chunk)))
    return found


def still_referenced(unit: Unit, paths: Iterable[str]) -> set[str]:
    """Those of `paths` that some mail or attachment still points to.

    Files are named by content, so two records may share one: a file goes only when nobody uses it.
    """
    session = unit.session
    wanted = [p for p in dict.fromkeys(paths) if p]
    used: set[str] = set()
    for chunk in _chunks(wanted):
        used.update(session.scalars(select(MailRow.archive_path).where(MailRow.archive_path.in_(chunk))))
        used.update(session.scalars(select(AttachmentRow.path).where(AttachmentRow.path.in_(chunk))))
    return used


def add_audit(unit: Unit, at: datetime, actor: str, action: str, detail: str) -> None:
    unit.session.add(AuditRow(at=at, actor=actor, action=action, detail=detail))


def audit_log(unit: Unit) -> list[AuditEntry]:
    """The whole audit log, oldest first."""
    rows = unit.session.scalars(select(AuditRow).order_by(AuditRow.id))
    return [AuditEntry(id=r.id, at=r.at, actor=r.actor, action=r.action, detail=r.detail) for r in rows]


def _closed_before(closed_before: datetime) -> Select[CaseRow]:
    return select(CaseRow).where(
        CaseRow.status == CLOSED, CaseRow.closed_at.is_not(None), CaseRow.closed_at < closed_before
    )


def _contents(session: Session, case: CaseRow) -> _Contents:
    mails = list(session.scalars(select(MailRow).where(MailRow.case_id == case.id).order_by(MailRow.id)))
    attachments: list[AttachmentRow] = []
    for chunk in _chunks([m.id for m in mails]):
        attachments.extend(
            session.scalars(select(AttachmentRow).where(AttachmentRow.mail_id.in_(chunk)).order_by(AttachmentRow.id))
        )
    return _Contents(
        case=case,
        mails=mails,
        attachments=attachments,
        outgoing=list(session.scalars(select(OutboxRow).where(OutboxRow.case_id == case.id).order_by(OutboxRow.id))),
        events=list(
            session.scalars(select(CaseEventRow).where(CaseEventRow.case_id == case.id).order_by(CaseEventRow.id))
        ),
        actions=session.scalar(select(func.count(ActionRow.id)).where(ActionRow.case_id == case.id)) or 0,
    )


def _orphans(session: Session, rows: Sequence[tuple[int, str]]) -> OrphanMails:
    files = [path for _id, path in rows]
    attachments = 0
    for chunk in _chunks([mail_id for mail_id, _path in rows]):
        paths = list(session.scalars(select(AttachmentRow.path).where(AttachmentRow.mail_id.in_(chunk))))
        attachments += len(paths)
        files.extend(paths)
    return OrphanMails(mails=len(rows), attachments=attachments, files=tuple(dict.fromkeys(f for f in files if f)))


def _delete_attachments(session: Session, mail_ids: Sequence[int]) -> None:
    for chunk in _chunks(mail_ids):
        session.execute(delete(AttachmentRow).where(AttachmentRow.mail_id.in_(chunk)))


def _case_is_personal(case: CaseRow) -> bool:
    return (
        case.claimant is not None
        or case.transmitter is not None
        or case.claimant_name != PLACEHOLDER
        or case.subject != PLACEHOLDER
        or case.description != PLACEHOLDER
        or case.satisfaction_comment != ""
        or case.response_note != ""
    )


def _mail_is_personal(mail: MailRow) -> bool:
    return bool(
        mail.from_address is not None
        or mail.from_name
        or mail.to_addresses
        or mail.subject
        or mail.summary
        or mail.archive_path
        or mail.words not in ("", "[]")
        or mail.excerpt
        or mail.notes not in ("", "[]")
        or mail.claimant is not None
        or mail.claimant_name
    )


def _outgoing_is_personal(outgoing: OutboxRow) -> bool:
    return bool(
        outgoing.recipient
        or outgoing.recipient_key
        or outgoing.subject
        or outgoing.text
        or outgoing.raw
        or outgoing.last_error
        or outgoing.status == PENDING
    )


def _event_is_personal(event: CaseEventRow, organisation: frozenset[str]) -> bool:
    return (bool(event.detail) and not _procedural(event.type)) or _actor_is_personal(event.actor, organisation)


def _procedural(event_type: str) -> bool:
    return event_type in _PROCEDURAL_EVENTS or event_type.startswith(_PROCEDURAL_EVENT_PREFIXES)


def _actor_is_personal(actor: str, organisation: frozenset[str]) -> bool:
    """Events name who acted: the organisation's own names stay, anyone else's is personal data."""
    return actor != PLACEHOLDER and actor.strip().lower() not in organisation


def _actors(organisation: Iterable[str]) -> frozenset[str]:
    return frozenset(a.strip().lower() for a in organisation)


def _chunks(items: Sequence[_T]) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]
