"""The database tables. Only the storage layer sees these rows; the rest gets plain objects.

Instants are stored in UTC and come back timezone-aware on every database (SQLite keeps no offset),
because a register whose dates shift by an hour in winter is not evidence.

Every string column is a `Bounded` or `CleanText`: whatever a stranger's mail puts in a name, an
address, a Message-ID or a content type is cleaned (NUL removed: PostgreSQL refuses it) and clamped
to its column here, in the one place every write and every lookup goes through, on every database.
Without it PostgreSQL raised DataError on such a mail and SQLite silently accepted what PostgreSQL
would refuse, so one mail could stop a folder on one engine and not the other.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from inboxbot.domain.vocabulary import (
    ActionKind,
    ActionStatus,
    CaseStatus,
    Channel,
    Direction,
    Kind,
    MailOutcome,
    Means,
    Nature,
    OutboxStatus,
    Priority,
    Stakeholder,
    Term,
)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime stored as UTC, read back aware whatever the database keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# PostgreSQL refuses a btree index entry over 2704 bytes: an indexed key of 1,000 four-byte
# characters would fail with ProgramLimitExceeded, an error that looks like the database going away.
KEY_BYTES = 2000
_DIGEST_CHARS = len("#sha256:") + 64


def clean_text(value: str) -> str:
    """`value` as every database stores it: no NUL (PostgreSQL refuses it), no lone surrogate
    (neither driver can encode one; they come from undecodable header bytes)."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            value = value.encode("utf-8", "replace").decode("utf-8")
    return value


def bounded(value: str, length: int, key: bool = False) -> str:
    """`value` clamped to `length` characters.

    A key (a Message-ID, a mail's key) is not cut blindly: two long keys sharing their first
    characters must stay apart, and the same key must always clamp the same way so that a
    lookup finds what was stored. It keeps its head and ends with a digest of the whole.
    """
    if len(value) <= length and (not key or len(value) * 4 <= KEY_BYTES or len(value.encode("utf-8")) <= KEY_BYTES):
        return value
    if not key:
        return value[:length]
    digest = "#sha256:" + hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()
    head = value[: length - _DIGEST_CHARS].encode("utf-8")[: KEY_BYTES - _DIGEST_CHARS].decode("utf-8", "ignore")
    return head + digest


class Bounded(TypeDecorator[str]):
    """A VARCHAR(length) that cleans and clamps what is written to it, and what it is compared with."""

    impl = String
    cache_ok = True

    def __init__(self, length: int, key: bool = False) -> None:
        super().__init__(length)
        self.length = length
        self.key = key

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return bounded(clean_text(value), self.length, self.key)


TermT = TypeVar("TermT", bound=Term)


class UnknownTerm(ValueError):
    """A row holds a value the vocabulary has no term for (written by hand, or by another version).

    Raised where the row is read, naming the column and the value, rather than later as a crash
    deep in a template or an export that cannot say which row was wrong."""


class TermColumn(TypeDecorator[TermT]):
    """A column holding one of the vocabulary's terms: its value is written, the term is read back."""

    impl = String
    cache_ok = True

    def __init__(self, term: type[TermT], length: int, column: str) -> None:
        super().__init__(length)
        self.term = term
        self.length = length
        self.column = column  # "table.column", for the error that names it
        # Looked up rather than called: calling an Enum class is slow, and this runs for every row read.
        self._members: dict[str, TermT] = {member.value: member for member in term}

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        plain = value.value if isinstance(value, Term) else value
        return bounded(clean_text(plain), self.length)

    def process_result_value(self, value: str | None, dialect: Dialect) -> TermT | None:
        if value is None:
            return None
        member = self._members.get(value)
        if member is None:
            known = ", ".join(self.term.values())
            raise UnknownTerm(f"{self.column} holds {value!r}, which is none of {known}")
        return member


class CleanText(TypeDecorator[str]):
    """A TEXT that drops what no database can store (see `clean_text`)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else clean_text(value)


class Base(DeclarativeBase):
    type_annotation_map: dict[Any, Any] = {datetime: UTCDateTime, date: Date}


class FolderRow(Base):
    """How far each watched folder has been read, so a poll only asks for what is new."""

    __tablename__ = "folders"

    name: Mapped[str] = mapped_column(Bounded(512), primary_key=True)
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    baseline_uid: Mapped[int] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger)
    cutoff: Mapped[datetime | None]
    first_seen_at: Mapped[datetime]
    last_poll_at: Mapped[datetime | None]


class CaseCounterRow(Base):
    """The last case number handed out each year; numbers are never reused."""

    __tablename__ = "case_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer)


class CaseRow(Base):
    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(Bounded(32), unique=True)
    kind: Mapped[Kind] = mapped_column(TermColumn(Kind, 32, "cases.kind"))
    status: Mapped[CaseStatus] = mapped_column(TermColumn(CaseStatus, 16, "cases.status"), index=True)
    channel: Mapped[Channel] = mapped_column(TermColumn(Channel, 32, "cases.channel"))
    claimant: Mapped[str | None] = mapped_column(Bounded(320), index=True)
    claimant_name: Mapped[str] = mapped_column(Bounded(256), default="")
    subject: Mapped[str] = mapped_column(CleanText, default="")
    received_at: Mapped[datetime]
    acknowledge_due: Mapped[date] = mapped_column(Date, index=True)
    response_due: Mapped[date] = mapped_column(Date, index=True)
    acknowledged_at: Mapped[datetime | None]
    responded_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    nature: Mapped[Nature | None] = mapped_column(TermColumn(Nature, 32, "cases.nature"))
    priority: Mapped[Priority | None] = mapped_column(TermColumn(Priority, 32, "cases.priority"))
    rules_hit: Mapped[str] = mapped_column(CleanText, default="[]")
    created_at: Mapped[datetime] = mapped_column(index=True)  # the digest's new cases
    stakeholder: Mapped[Stakeholder | None] = mapped_column(TermColumn(Stakeholder, 32, "cases.stakeholder"))
    training: Mapped[str] = mapped_column(CleanText, default="", server_default="")
    description: Mapped[str] = mapped_column(CleanText, default="", server_default="")
    transmitter: Mapped[str | None] = mapped_column(Bounded(320))
    extended_due: Mapped[date | None] = mapped_column(Date)
    extension_reason: Mapped[str] = mapped_column(CleanText, default="", server_default="")
    dismissed: Mapped[bool] = mapped_column(default=False, server_default=false())
    feedback_requested_at: Mapped[datetime | None]
    satisfaction_mark: Mapped[int | None]
    satisfaction_comment: Mapped[str] = mapped_column(CleanText, default="", server_default="")
    satisfaction_at: Mapped[datetime | None]
    # How the acknowledgement and the answer were made when not by inboxbot's own mail:
    # "email" (hers, from Sent), "post", "phone", "hand"; None when inboxbot's mail made it.
    acknowledgement_means: Mapped[Means | None] = mapped_column(TermColumn(Means, 16, "cases.acknowledgement_means"))
    response_means: Mapped[Means | None] = mapped_column(TermColumn(Means, 16, "cases.response_means"))
    response_note: Mapped[str] = mapped_column(Text, default="", server_default="")
    # Why `received_at` is not a server's reception: "forwarded_header" or "forward"; None when it is.
    received_from: Mapped[str | None] = mapped_column(String(32))
    # The number of the case this one was merged into (#fusionner): it stays in the register, closed.
    merged_into: Mapped[str | None] = mapped_column(String(32), default=None)


class RiskRow(Base):
    """A quality risk the director analysed (`#risque`), for the annual report's risk section."""

    __tablename__ = "risks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(320))
    text: Mapped[str] = mapped_column(Text)


class ActionRow(Base):
    """What was done about a case: causes, corrective and preventive actions, mediation, urgent measures."""

    __tablename__ = "actions"
    __table_args__ = (UniqueConstraint("case_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[ActionKind] = mapped_column(TermColumn(ActionKind, 16, "actions.kind"))
    text: Mapped[str] = mapped_column(CleanText)
    owner: Mapped[str] = mapped_column(Bounded(320), default="")
    due: Mapped[date | None] = mapped_column(Date, index=True)
    status: Mapped[ActionStatus | None] = mapped_column(TermColumn(ActionStatus, 16, "actions.status"))
    result: Mapped[str] = mapped_column(CleanText, default="")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class MailRow(Base):
    """Every mail fetched, whatever became of it: the proof that nothing was lost."""

    __tablename__ = "mails"
    # The digest's mails left for triage or attached to a closed case since the last digest.
    __table_args__ = (Index("ix_mails_outcome_created", "outcome", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_key: Mapped[str] = mapped_column(Bounded(1000, key=True), unique=True)
    message_id: Mapped[str | None] = mapped_column(Bounded(1000, key=True), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    direction: Mapped[Direction] = mapped_column(TermColumn(Direction, 8, "mails.direction"))
    folder: Mapped[str] = mapped_column(Bounded(512))
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    uid: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[datetime]
    header_date: Mapped[datetime | None]
    from_address: Mapped[str | None] = mapped_column(Bounded(320), index=True)
    from_name: Mapped[str] = mapped_column(Bounded(256), default="")
    to_addresses: Mapped[str] = mapped_column(CleanText, default="")
    subject: Mapped[str] = mapped_column(CleanText, default="")
    summary: Mapped[str] = mapped_column(CleanText, default="")
    archive_path: Mapped[str] = mapped_column(Bounded(512))
    sha256: Mapped[str] = mapped_column(Bounded(64))
    size: Mapped[int] = mapped_column(BigInteger)
    outcome: Mapped[MailOutcome] = mapped_column(TermColumn(MailOutcome, 32, "mails.outcome"))
    reason: Mapped[str] = mapped_column(CleanText, default="")
    automatic: Mapped[str | None] = mapped_column(CleanText)
    rules_hit: Mapped[str] = mapped_column(CleanText, default="[]")
    created_at: Mapped[datetime]
    # What the recognizer read in it (shared mode), and for a mail put before the director
    # (outcome "candidate", reference M-<id>) the kind and channel a case opened from it takes.
    kind: Mapped[Kind | None] = mapped_column(TermColumn(Kind, 32, "mails.kind"))
    channel: Mapped[Channel | None] = mapped_column(TermColumn(Channel, 32, "mails.channel"))
    words: Mapped[str] = mapped_column(CleanText, default="[]", server_default="[]")
    score: Mapped[float | None] = mapped_column(Float)
    excerpt: Mapped[str] = mapped_column(CleanText, default="", server_default="")
    spam: Mapped[str] = mapped_column(CleanText, default="", server_default="")  # why the server took it for spam
    # Whom a case opened from it belongs to: its author, or the address typed into a web form.
    claimant: Mapped[str | None] = mapped_column(Bounded(320))
    claimant_name: Mapped[str] = mapped_column(Bounded(256), default="", server_default="")
    # A mail that continues a candidate still « à qualifier » (outcome "joined"): that candidate's id.
    joined_to: Mapped[int | None] = mapped_column(Integer, index=True)
    # The recognizer's French notes (a JSON list): why it is before her beyond the words, such as the
    # learned model's opinion. They may quote the mail: anonymised with the excerpt. Last, as the
    # migration that added it leaves it, so a new database has the migrated one's column order.
    notes: Mapped[str] = mapped_column(CleanText, default="[]", server_default="[]")


class AttachmentRow(Base):
    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mail_id: Mapped[int] = mapped_column(ForeignKey("mails.id"), index=True)
    filename: Mapped[str] = mapped_column(Bounded(512))
    content_type: Mapped[str] = mapped_column(Bounded(255))
    size: Mapped[int] = mapped_column(BigInteger)
    path: Mapped[str] = mapped_column(Bounded(1024))


class OutboxRow(Base):
    """A mail to send. Written in the transaction that decided it, sent after the commit."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_status_next", "status", "next_attempt_at"),
        Index("ix_outbox_status_sent_copy", "status", "sent_copy"),
        Index("ix_outbox_purpose_created", "purpose", "created_at"),  # when the last digest was queued
        Index("ix_outbox_recipient_key_created", "recipient_key", "created_at"),  # the acknowledgement cap
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[str] = mapped_column(Bounded(1000, key=True), unique=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    purpose: Mapped[str] = mapped_column(Bounded(32))
    recipient: Mapped[str] = mapped_column(Bounded(320), index=True)
    subject: Mapped[str] = mapped_column(CleanText, default="")
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[OutboxStatus] = mapped_column(TermColumn(OutboxStatus, 16, "outbox.status"))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str] = mapped_column(CleanText, default="")
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    # Its copy in the IMAP Sent folder (imap.save_sent): None to do, "appending" while the outcome
    # of an APPEND is unknown (a crash then looks the copy up by Message-ID), "done".
    sent_copy: Mapped[str | None] = mapped_column(Bounded(16), default=None)
    # The recipient's mailbox, every spelling of it alike (`mailbox_key`): what the daily cap counts.
    recipient_key: Mapped[str | None] = mapped_column(Bounded(320), default=None)
    # What the mail said, as rendered: the exchange log and the register show it without parsing
    # the bytes again (they would be read for every case of an export).
    text: Mapped[str] = mapped_column(CleanText, default="", server_default="")


class RuntimeRow(Base):
    """What the running process last did, for `inboxbot status` run from another process."""

    __tablename__ = "runtime_state"

    key: Mapped[str] = mapped_column(Bounded(64), primary_key=True)
    value: Mapped[str] = mapped_column(CleanText, default="")
    at: Mapped[datetime]


class CaseEventRow(Base):
    """The dated history of a case, for the auditor who takes no one's word for a date."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(Bounded(320))
    type: Mapped[str] = mapped_column(Bounded(32))
    detail: Mapped[str] = mapped_column(CleanText, default="")


class AuditRow(Base):
    """What was done to the records themselves (a purge), by whom and when.

    Kept apart from the cases because it must outlive them: once a case is deleted or anonymised,
    this is the only evidence that it was destroyed on schedule rather than lost. It therefore holds
    numbers and counts only, never anything about the claimant.
    """

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(Bounded(320))
    action: Mapped[str] = mapped_column(Bounded(64))
    detail: Mapped[str] = mapped_column(CleanText, default="")
