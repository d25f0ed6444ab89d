"""The store: every read and write of the database, returning plain values.

A `Unit` is one transaction. The pipeline opens one per group of mails, each mail in its own
savepoint, so a mail, the case it opens, the acknowledgement it queues and the folder's progress
are committed together or not at all: a crash loses nothing and a restart does nothing twice.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import (
    Connection,
    Engine,
    Row,
    Table,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    inspect,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError, StatementError
from sqlalchemy.orm import Session, SessionTransaction

from inboxbot.adapters import collector
from inboxbot.adapters.locks import file_lock
from inboxbot.domain.cases import (
    FROM_DIRECTOR,
    OPEN,
    Action,
    AttachedFile,
    Case,
    CaseDetail,
    CaseEvent,
    CaseRef,
    LogEntry,
    OutgoingMail,
    Risk,
    exchange_order,
)
from inboxbot.domain.mailboxes import mailbox_key
from inboxbot.domain.outages import Outage
from inboxbot.domain.vocabulary import (
    TRACKED_ACTIONS,
    ActionKind,
    ActionStatus,
    CaseStatus,
    Channel,
    Direction,
    Kind,
    MailOutcome,
    Nature,
    OutagePart,
    OutboxStatus,
    Priority,
    Stakeholder,
)
from inboxbot.store.models import (
    ActionRow,
    AttachmentRow,
    Base,
    CaseCounterRow,
    CaseEventRow,
    CaseRow,
    FolderRow,
    MailRow,
    OutboxRow,
    RiskRow,
    RuntimeRow,
)
from inboxbot.store.schema import at_head, head_revision

MIGRATIONS = Path(__file__).parent / "migrations"
PENDING = OutboxStatus.PENDING
CANDIDATE_OUTCOME = MailOutcome.CANDIDATE  # a mail put before the director (decide.PutBefore), until she decides
JOINED_OUTCOME = MailOutcome.JOINED  # a mail that continues a candidate (decide.Join)
MAX_THREAD_LOOKUP = 100  # Message-IDs of a mail's References looked up at most (hostile headers)
SENT = OutboxStatus.SENT
SENT_COPY_APPENDING = "appending"
SENT_COPY_DONE = "done"
SENT_COPY_REFUSED = "refused"  # the IMAP server refused this one copy (too large, say): not tried again
# The tables themselves, for the few hot statements written without the ORM.
_OUTBOX = cast(Table, OutboxRow.__table__)
_CASES = cast(Table, CaseRow.__table__)
_CASE_EVENTS = cast(Table, CaseEventRow.__table__)
_MAILS = cast(Table, MailRow.__table__)
_COUNTERS = cast(Table, CaseCounterRow.__table__)
# Built once: a statement made per call (insert().values()) cost more than SQLite running it.
# Their values are bound parameters, named after what they stand for.
_INSERT_CASE = insert(_CASES).returning(*_CASES.c)
_INSERT_MAIL = insert(_MAILS).returning(_MAILS.c.id)
_INSERT_EVENT = insert(_CASE_EVENTS)
_INSERT_OUTBOX = insert(_OUTBOX)
# The mails a stranger's claim makes inboxbot send to whoever it names; capped per day and mailbox.
# Mails a stranger's mail makes us send to a stranger: counted together against the daily caps.
ACKNOWLEDGEMENT_PURPOSES = ("acknowledgement", "incident_acknowledgement", "transmitter_thanks")
_CASE_BY_ID = select(_CASES).where(_CASES.c.id == bindparam("case_id"))
_MAIL_OUTCOME = select(_MAILS.c.outcome).where(_MAILS.c.message_key == bindparam("key"))
_ACKNOWLEDGEMENTS_SINCE = select(func.count(_OUTBOX.c.id)).where(
    _OUTBOX.c.recipient_key == bindparam("recipient_key"),
    _OUTBOX.c.purpose.in_(ACKNOWLEDGEMENT_PURPOSES),
    _OUTBOX.c.created_at >= bindparam("since"),
)
# Counted up to a limit: whether the total cap is reached costs the cap, not the day's volume.
_ALL_ACKNOWLEDGEMENTS_SINCE = select(func.count()).select_from(
    select(_OUTBOX.c.id)
    .where(_OUTBOX.c.purpose.in_(ACKNOWLEDGEMENT_PURPOSES), _OUTBOX.c.created_at >= bindparam("since"))
    .limit(bindparam("at_most"))
    .subquery()
)
_NEXT_CASE_NUMBER = (
    update(_COUNTERS)
    .where(_COUNTERS.c.year == bindparam("for_year"))
    .values(last=_COUNTERS.c.last + 1)
    .returning(_COUNTERS.c.last)
)
_CASES_OF_MESSAGE_IDS = [
    select(table.c.message_id, table.c.case_id).where(
        table.c.message_id.in_(bindparam("ids", expanding=True)), table.c.case_id.is_not(None)
    )
    for table in (_MAILS, _OUTBOX)
]
_MARK_SENT = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id == bindparam("outgoing_id"), _OUTBOX.c.status != SENT)
    .values(status=SENT, sent_at=bindparam("at"), attempts=_OUTBOX.c.attempts + 1)
    .returning(_OUTBOX.c.case_id, _OUTBOX.c.purpose, _OUTBOX.c.recipient)
)
_MARK_ACKNOWLEDGED = (
    update(_CASES)
    .where(_CASES.c.id == bindparam("case_id"), _CASES.c.acknowledged_at.is_(None))
    .values(acknowledged_at=bindparam("at"))
)
_EDITABLE_CASE_FIELDS = frozenset(
    {
        "kind",
        "status",
        "nature",
        "priority",
        "stakeholder",
        "training",
        "description",
        "claimant",
        "claimant_name",
        "transmitter",
        "channel",
        "extended_due",
        "extension_reason",
        "dismissed",
        "closed_at",
        "responded_at",
        "feedback_requested_at",
        "satisfaction_mark",
        "satisfaction_comment",
        "satisfaction_at",
        "received_at",
        "acknowledge_due",
        "response_due",
        "acknowledged_at",
        "acknowledgement_means",
        "response_means",
        "response_note",
        "received_from",
        "merged_into",
    }
)


def tied_to_its_data(exc: SQLAlchemyError) -> bool:
    """Whether the database refused what one statement wrote, rather than being unavailable.

    A value it will not take (DataError), a duplicate (IntegrityError) or a value no type could
    bind (a bare StatementError) comes from the mail, row or item being written: that one is set
    aside and the rest goes on. Anything else (a lost connection, a locked file, a full disk) is
    the database's state, and stops the cycle until it comes back.
    """
    return isinstance(exc, (DataError, IntegrityError)) or type(exc) is StatementError


class AlreadyRunning(Exception):
    """Another inboxbot process holds this database."""


@dataclass(frozen=True)
class SentCopy:
    """A sent mail whose exact bytes go to the IMAP Sent folder."""

    outgoing_id: int
    message_id: str
    raw: bytes
    sent_at: datetime
    maybe_there: bool  # an earlier APPEND's outcome is unknown: look it up before appending again


FAILED = OutboxStatus.FAILED


@dataclass(frozen=True)
class FolderState:
    """How far a watched folder has been read (see `mailbox` for how it is used)."""

    name: str
    uidvalidity: int
    baseline_uid: int
    last_uid: int
    cutoff: datetime | None
    first_seen_at: datetime
    last_poll_at: datetime | None = None


@dataclass(frozen=True)
class MailRecord:
    """A fetched mail and what became of it, as written to the log of mails."""

    message_key: str
    message_id: str | None
    case_id: int | None
    direction: Direction
    folder: str
    uidvalidity: int
    uid: int
    received_at: datetime
    header_date: datetime | None
    from_address: str | None
    from_name: str
    to_addresses: str
    subject: str
    summary: str
    archive_path: str
    sha256: str
    size: int
    outcome: MailOutcome
    reason: str
    automatic: str | None
    rules_hit: tuple[str, ...]
    kind: Kind | None = None
    channel: Channel | None = None
    words: tuple[str, ...] = ()
    score: float | None = None
    excerpt: str = ""
    notes: tuple[str, ...] = ()  # the recognizer's French notes (`Recognition.notes`)
    spam: str = ""
    claimant: str | None = None  # a candidate's: its author, or the address typed into a web form
    claimant_name: str = ""
    joined_to: int | None = None  # the candidate this mail continues (outcome "joined")
    id: int | None = None  # known once recorded
    case_number: str | None = None  # filled by the listings that join the cases

    @property
    def reference(self) -> str | None:
        """The short reference the director types to qualify it: `M-0042`."""
        return mail_reference(self.id) if self.id is not None else None


def mail_reference(mail_id: int) -> str:
    return f"M-{mail_id:04d}"


@dataclass(frozen=True)
class OutgoingDraft:
    message_id: str
    case_id: int | None
    purpose: str
    recipient: str
    subject: str
    raw: bytes
    text: str = ""  # the text part, as the exchange log and the register show it


READ_ONLY = "inboxbot_read_only"  # execution option of the engine behind `Store.reading`


def create_store_engine(url: str) -> Engine:
    """An engine tuned so that two processes can share one database safely.

    SQLite: WAL so readers never block the daemon, a busy timeout instead of instant "database is
    locked", and BEGIN IMMEDIATE so a transaction takes the write lock up front rather than failing
    to upgrade it halfway through.
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})
        _private_sqlite_file(engine.url.database)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(connection: Any) -> None:
            # A unit that only reads (Store.reading) takes no write lock: a long export must not hold
            # the daemon's writes up; in WAL mode it reads a consistent snapshot all the same.
            reading = connection.get_execution_options().get(READ_ONLY, False)
            connection.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True)


def _private_sqlite_file(database: str | None) -> None:
    """Create the SQLite file mode 0600 before SQLite does (with the umask's mode, 0644 on most
    systems): it holds every mail, sent and received. SQLite gives its WAL and shared-memory files
    the database file's mode."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if path.exists() or not path.parent.is_dir():
        return  # a missing folder is SQLite's to report, naming the database
    with contextlib.suppress(OSError):  # likewise a folder it cannot write to
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str) -> Store:
        """Connect to `url` and bring its schema up to date.

        The last step of every command's start that touches the register: the collector's pause
        ends here (see the collector's module), before an export or a daemon's life."""
        store = cls(create_store_engine(url))
        store.migrate()
        collector.resume()
        return store

    def migrate(self, *, new_at_once: bool = True) -> None:
        """Bring the schema to the newest migration; a new, empty database gets it in one step.

        Importing alembic and running every migration made a first start noticeably slower; the
        migrations are kept for databases that exist (`tests/test_store.py` checks that they build
        exactly the schema a new database gets).
        """
        if at_head(self.engine.execution_options(**{READ_ONLY: True}), MIGRATIONS / "versions"):
            return  # the usual start: one SELECT rather than importing alembic
        if new_at_once and self._create_new():
            return
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Two daemons starting at once must not both create the tables.
                connection.execute(text("SELECT pg_advisory_xact_lock(734517)"))
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def _create_new(self) -> bool:
        """Create the newest schema, recorded at the newest revision, if the database has no table."""
        head = head_revision(MIGRATIONS / "versions")
        if head is None:
            return False
        with self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(734517)"))  # as in migrate
            if inspect(connection).get_table_names():
                return False
            Base.metadata.create_all(connection)
            # The table alembic keeps its revision in, as alembic itself creates it.
            connection.execute(
                text(
                    "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
                    "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
                )
            )
            connection.execute(text("INSERT INTO alembic_version (version_num) VALUES (:head)"), {"head": head})
        return True

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def instance_lock(self) -> Iterator[None]:
        """Held while a process reads the mailbox, so a second one refuses to start.

        SQLite: an exclusive lock on a file beside the database. PostgreSQL: a session advisory
        lock on a connection kept open for as long as the lock is held.
        """
        url = self.engine.url
        if url.get_backend_name() == "sqlite":
            database = url.database
            if not database or database == ":memory:":
                yield
                return
            with file_lock(f"{database}.lock", AlreadyRunning(f"another inboxbot is already using {database}")):
                yield
            return
        with self.engine.connect() as connection:
            if not connection.scalar(text("SELECT pg_try_advisory_lock(734518)")):
                raise AlreadyRunning(f"another inboxbot is already using the database {url.database}")
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(734518)"))
                connection.commit()

    @contextmanager
    def reading(self) -> Iterator[Unit]:
        """A transaction for reading only (exports, reports): one snapshot, and on SQLite no write lock.

        One snapshot, so a register read in chunks is the register at one instant even if the daemon
        writes meanwhile: WAL on SQLite gives it; PostgreSQL needs REPEATABLE READ.
        """
        options: dict[str, Any] = {READ_ONLY: True}
        if self.engine.dialect.name == "postgresql":
            options["isolation_level"] = "REPEATABLE READ"
        with Session(self.engine.execution_options(**options), expire_on_commit=False) as session:
            with session.begin():
                yield Unit(session)

    def mark_sent(self, outgoing_id: int, at: datetime) -> bool:
        """`Unit.mark_sent` in a transaction of its own, without a Session: it runs once per mail
        the server accepts, right away, to keep the window in which a crash sends twice small."""
        with self.engine.begin() as connection:
            return _mark_sent(connection, outgoing_id, at)

    @contextmanager
    def unit(self) -> Iterator[Unit]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield Unit(session)


class Unit:
    """The operations available inside one transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def _connection(self) -> Connection:
        """The transaction's connection, for the hot statements that need no ORM object.

        A mail storm runs them a dozen times per mail, where the ORM's bookkeeping costs more
        than SQLite itself. Pending ORM changes are flushed first, so they see everything.
        """
        self.session.flush()
        return self.session.connection()

    def savepoint(self) -> SessionTransaction:
        """A nested transaction: what happens inside is undone alone if the block raises."""
        return self.session.begin_nested()

    # -- folders ---------------------------------------------------------------------------

    def folder(self, name: str) -> FolderState | None:
        row = self.session.get(FolderRow, name)
        if row is None:
            return None
        return FolderState(
            name=row.name,
            uidvalidity=row.uidvalidity,
            baseline_uid=row.baseline_uid,
            last_uid=row.last_uid,
            cutoff=row.cutoff,
            first_seen_at=row.first_seen_at,
            last_poll_at=row.last_poll_at,
        )

    def save_folder(self, state: FolderState) -> None:
        row = self.session.get(FolderRow, state.name)
        if row is None:
            row = FolderRow(name=state.name)
            self.session.add(row)
        row.uidvalidity = state.uidvalidity
        row.baseline_uid = state.baseline_uid
        row.last_uid = state.last_uid
        row.cutoff = state.cutoff
        row.first_seen_at = state.first_seen_at
        row.last_poll_at = state.last_poll_at

    def advance_folder(self, name: str, uid: int) -> None:
        """Record that every UID up to `uid` of folder `name` has been dealt with."""
        self.session.execute(
            update(FolderRow).where(FolderRow.name == name, FolderRow.last_uid < uid).values(last_uid=uid)
        )

    # -- what is known ---------------------------------------------------------------------

    def case_for_message_ids(self, message_ids: Sequence[str]) -> CaseRef | None:
        """The case that any of these Message-IDs belongs to, trying them in the order given."""
        if not message_ids:
            return None
        found: dict[str, int] = {}
        connection = self._connection()
        for query in _CASES_OF_MESSAGE_IDS:
            for mid, case_id in connection.execute(query, {"ids": list(message_ids)}):
                if mid is not None and case_id is not None:
                    found.setdefault(mid, case_id)
        for mid in message_ids:
            if mid in found:
                return self._case_ref(self.session.get_one(CaseRow, found[mid]))
        return None

    def case_by_number(self, number: str) -> CaseRef | None:
        """The case of that number, or the one it was merged into: a reply tagged with a merged case's
        number belongs where its messages went (a chain of merges is followed, a loop is not)."""
        seen: set[str] = set()
        row = self.session.scalar(select(CaseRow).where(CaseRow.number == number))
        while row is not None and row.merged_into is not None and row.number not in seen:
            seen.add(row.number)
            row = self.session.scalar(select(CaseRow).where(CaseRow.number == row.merged_into)) or row
        return None if row is None else self._case_ref(row)

    def merge_cases(self, kept_id: int, merged_id: int) -> dict[int, int]:
        """Move what a case holds to the one it is merged into: its mails and our mails (so that any
        reply threads into the kept case, and its people take part in it) and its actions, numbered
        after the kept case's own. Its history stays where it is; the caller records the merge on both.
        Returns each moved action's old number and its new one."""
        kept_number = self.session.get_one(CaseRow, kept_id).number
        self.session.execute(update(MailRow).where(MailRow.case_id == merged_id).values(case_id=kept_id))
        self.session.execute(update(OutboxRow).where(OutboxRow.case_id == merged_id).values(case_id=kept_id))
        last = self.session.scalar(select(func.max(ActionRow.seq)).where(ActionRow.case_id == kept_id)) or 0
        renumbered: dict[int, int] = {}
        moved = self.session.scalars(select(ActionRow).where(ActionRow.case_id == merged_id).order_by(ActionRow.seq))
        for offset, row in enumerate(list(moved), start=1):
            renumbered[row.seq] = last + offset
            row.case_id, row.seq = kept_id, last + offset
        self.session.get_one(CaseRow, merged_id).merged_into = kept_number
        self.session.flush()
        return renumbered

    def _case_ref(self, row: CaseRow) -> CaseRef:
        senders = self.session.scalars(
            select(MailRow.from_address)
            .where(MailRow.case_id == row.id, MailRow.from_address.is_not(None), MailRow.automatic.is_(None))
            .distinct()
        )
        recipients = self.session.scalars(select(OutboxRow.recipient).where(OutboxRow.case_id == row.id))
        participants = {a for a in senders if a} | set(recipients) | self._written_to(row.id)
        if row.claimant:
            participants.add(row.claimant)
        return CaseRef(
            id=row.id,
            number=row.number,
            status=row.status,
            claimant=row.claimant,
            participants=frozenset(participants),
        )

    def _written_to(self, case_id: int) -> set[str]:
        """Whom the director wrote to about the case from her own client (a trainer, a venue, the
        company's HR): the recipients of her mails in the case, from Sent or proven in the inbox.
        Their replies belong to the case as much as the claimant's do."""
        hers = or_(MailRow.direction == Direction.OUT, MailRow.reason.startswith(FROM_DIRECTOR))
        lists = self.session.scalars(
            select(MailRow.to_addresses).where(MailRow.case_id == case_id, hers, MailRow.automatic.is_(None))
        )
        return {address for listed in lists for address in _recipients(listed)}

    def queued_since(self, purpose: str, since: datetime) -> int:
        """Mails of `purpose` queued since `since` (an index lookup on purpose and date)."""
        count: int | None = self._connection().scalar(
            select(func.count(_OUTBOX.c.id)).where(_OUTBOX.c.purpose == purpose, _OUTBOX.c.created_at >= since)
        )
        return count or 0

    def acknowledgements_since(self, recipient_key: str | None, since: datetime, at_most: int = 1 << 30) -> int:
        """Acknowledgements queued since `since` to the mailbox `recipient_key` (`mailbox_key`), or
        to anyone when it is None, then counting no further than `at_most`."""
        if recipient_key is None:
            count: int | None = self._connection().scalar(
                _ALL_ACKNOWLEDGEMENTS_SINCE, {"since": since, "at_most": at_most}
            )
        else:
            count = self._connection().scalar(_ACKNOWLEDGEMENTS_SINCE, {"recipient_key": recipient_key, "since": since})
        return count or 0

    # -- writes ----------------------------------------------------------------------------

    def next_case_number(self, year: int) -> str:
        """A new number for `year`, unique even with two processes on one database."""
        while True:
            last = self._connection().scalar(_NEXT_CASE_NUMBER, {"for_year": year})
            if last is not None:
                return f"{year}-{last:04d}"
            try:
                with self.session.begin_nested():
                    self.session.add(CaseCounterRow(year=year, last=1))
                return f"{year}-0001"
            except IntegrityError:
                continue  # another process created the year's counter first; take the next one

    def open_case(
        self,
        *,
        number: str,
        kind: Kind,
        channel: Channel,
        claimant: str | None,
        claimant_name: str,
        subject: str,
        received_at: datetime,
        acknowledge_due: date,
        response_due: date,
        nature: Nature | None,
        priority: Priority | None,
        rules_hit: Sequence[str],
        now: datetime,
        transmitter: str | None = None,
        stakeholder: Stakeholder | None = None,
        training: str = "",
        description: str = "",
        received_from: str | None = None,
    ) -> Case:
        """The new case as stored, read back by the insert itself (its acknowledgement needs it)."""
        values = dict(
            number=number,
            kind=kind,
            status=OPEN,
            channel=channel,
            claimant=claimant,
            claimant_name=claimant_name,
            subject=subject,
            received_at=received_at,
            acknowledge_due=acknowledge_due,
            response_due=response_due,
            nature=nature,
            priority=priority,
            rules_hit=json.dumps(list(rules_hit)),
            created_at=now,
            transmitter=transmitter,
            stakeholder=stakeholder,
            training=training,
            description=description,
            received_from=received_from,
        )
        return _case(self._connection().execute(_INSERT_CASE, values).one())

    def record_mail(self, record: MailRecord, now: datetime) -> int:
        values = dict(
            message_key=record.message_key,
            message_id=record.message_id,
            case_id=record.case_id,
            direction=record.direction,
            folder=record.folder,
            uidvalidity=record.uidvalidity,
            uid=record.uid,
            received_at=record.received_at,
            header_date=record.header_date,
            from_address=record.from_address,
            from_name=record.from_name,
            to_addresses=record.to_addresses,
            subject=record.subject,
            summary=record.summary,
            archive_path=record.archive_path,
            sha256=record.sha256,
            size=record.size,
            outcome=record.outcome,
            reason=record.reason,
            automatic=record.automatic,
            rules_hit=json.dumps(list(record.rules_hit)),
            created_at=now,
            kind=record.kind,
            channel=record.channel,
            words=json.dumps(list(record.words), ensure_ascii=False),
            score=record.score,
            excerpt=record.excerpt,
            notes=json.dumps(list(record.notes), ensure_ascii=False),
            spam=record.spam,
            claimant=record.claimant,
            claimant_name=record.claimant_name,
            joined_to=record.joined_to,
        )
        mail_id: int = self._connection().execute(_INSERT_MAIL, values).scalar_one()
        return mail_id

    def add_attachment(self, mail_id: int, filename: str, content_type: str, size: int, path: str) -> None:
        self.session.add(
            AttachmentRow(mail_id=mail_id, filename=filename, content_type=content_type, size=size, path=path)
        )

    def add_event(self, case_id: int, at: datetime, actor: str, type_: str, detail: str = "") -> None:
        self._connection().execute(
            _INSERT_EVENT, {"case_id": case_id, "at": at, "actor": actor, "type": type_, "detail": detail}
        )

    def queue(self, draft: OutgoingDraft, now: datetime) -> None:
        self._connection().execute(
            _INSERT_OUTBOX,
            {
                "message_id": draft.message_id,
                "case_id": draft.case_id,
                "purpose": draft.purpose,
                "recipient": draft.recipient,
                "recipient_key": mailbox_key(draft.recipient),
                "subject": draft.subject,
                "raw": draft.raw,
                "text": draft.text,
                "status": PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "last_error": "",
                "created_at": now,
            },
        )

    def queue_impossible(self, draft: OutgoingDraft, error: str, now: datetime) -> None:
        """Record a mail that can never be sent (an address no mail can carry) as failed, with why.

        It is written like any other mail so that everything that tells of failed mail tells of it:
        the case's history, its acknowledgement's state, the digest's failures. Nothing is sent.
        """
        self._connection().execute(
            _INSERT_OUTBOX,
            {
                "message_id": draft.message_id,
                "case_id": draft.case_id,
                "purpose": draft.purpose,
                "recipient": draft.recipient,
                "subject": draft.subject,
                "raw": draft.raw,
                "text": draft.text,
                "status": FAILED,
                "attempts": 0,
                "next_attempt_at": now,
                "last_error": error[:2000],
                "created_at": now,
            },
        )
        if draft.case_id is not None:
            self.add_event(draft.case_id, now, "inboxbot", f"failed:{draft.purpose}", error[:2000])

    # -- the procedure ---------------------------------------------------------------------

    def case(self, case_id: int) -> Case:
        return _case(self._connection().execute(_CASE_BY_ID, {"case_id": case_id}).one())

    def update_case(self, case_id: int, **changes: object) -> None:
        """Set fields of a case; only those the procedure lets anyone change."""
        unknown = set(changes) - _EDITABLE_CASE_FIELDS
        if unknown:
            raise ValueError(f"not editable: {sorted(unknown)}")
        row = self.session.get_one(CaseRow, case_id)
        for name, value in changes.items():
            setattr(row, name, value)

    def add_action(
        self, case_id: int, kind: ActionKind, text: str, now: datetime, owner: str = "", due: date | None = None
    ) -> int:
        """Record an action; its number is the next one on this case, as the director will quote it."""
        last = self.session.scalar(select(func.max(ActionRow.seq)).where(ActionRow.case_id == case_id))
        seq = (last or 0) + 1
        trackable = kind in TRACKED_ACTIONS
        self.session.add(
            ActionRow(
                case_id=case_id,
                seq=seq,
                kind=kind,
                text=text,
                owner=owner,
                due=due,
                status=ActionStatus.TODO if trackable else None,
                result="",
                created_at=now,
                updated_at=now,
            )
        )
        self.session.flush()
        return seq

    def _action_row(self, case_id: int, seq: int) -> ActionRow | None:
        return self.session.scalar(select(ActionRow).where(ActionRow.case_id == case_id, ActionRow.seq == seq))

    def action(self, case_id: int, seq: int) -> Action | None:
        row = self._action_row(case_id, seq)
        return None if row is None else _action(row)

    def edit_action(
        self, case_id: int, seq: int, now: datetime, text: str | None, owner: str | None, due: date | None
    ) -> Action | None:
        """Replace what is given of an action as first recorded; None when the case has no such action."""
        row = self._action_row(case_id, seq)
        if row is None:
            return None
        row.text = text if text is not None else row.text
        row.owner = owner if owner is not None else row.owner
        row.due = due if due is not None else row.due
        row.updated_at = now
        return _action(row)

    def cancel_action(self, case_id: int, seq: int) -> Action | None:
        """Take back an action recorded by mistake: it leaves the register (its history entry stays).
        The next action recorded may take its number if it was the last one."""
        row = self._action_row(case_id, seq)
        if row is None:
            return None
        action = _action(row)
        self.session.delete(row)
        self.session.flush()
        return action

    def update_action(self, case_id: int, seq: int, status: ActionStatus, result: str, now: datetime) -> Action | None:
        row = self._action_row(case_id, seq)
        if row is None:
            return None
        row.status = status
        if result:
            row.result = result
        row.updated_at = now
        return _action(row)

    def thread_ids(self, case_id: int) -> list[str]:
        """Every Message-ID of the case, oldest first: the References of a mail continuing it."""
        dated: list[tuple[datetime, str]] = []
        for received_at, mid in self.session.execute(
            select(MailRow.received_at, MailRow.message_id).where(
                MailRow.case_id == case_id, MailRow.message_id.is_not(None), MailRow.automatic.is_(None)
            )
        ):
            if mid is not None:
                dated.append((received_at, mid))
        for created_at, mid in self.session.execute(
            select(OutboxRow.created_at, OutboxRow.message_id).where(OutboxRow.case_id == case_id)
        ):
            dated.append((created_at, mid))
        return [mid for _at, mid in sorted(dated)][-20:]

    def last_reply_from(self, case_id: int, senders: Iterable[str], to: str | None = None) -> datetime | None:
        """When the organisation last wrote on the case from its own client (the Sent folder).

        With `to`, only mails addressed to it count: a mail to the venue is no answer to the claimant.
        """
        query = select(MailRow.received_at, MailRow.to_addresses).where(
            MailRow.case_id == case_id, MailRow.direction == Direction.OUT, MailRow.from_address.in_(list(senders))
        )
        dates = [
            received_at
            for received_at, recipients in self.session.execute(query)
            if to is None or to in _recipients(recipients)
        ]
        return max(dates, default=None)

    def add_risk(self, at: datetime, actor: str, text: str) -> None:
        """Record a quality risk the director analysed, dated, for the annual report."""
        self.session.add(RiskRow(at=at, actor=actor, text=text))

    def risks(self, since: datetime, until: datetime) -> list[Risk]:
        """The risks recorded in [since, until), oldest first."""
        rows = self.session.scalars(
            select(RiskRow).where(RiskRow.at >= since, RiskRow.at < until).order_by(RiskRow.at, RiskRow.id)
        )
        return [Risk(at=row.at, actor=row.actor, text=row.text) for row in rows]

    def cases_due_for_feedback(self, closed_before: datetime, kinds: Sequence[Kind]) -> list[Case]:
        rows = self.session.scalars(
            select(CaseRow)
            .where(
                CaseRow.status == CaseStatus.CLOSED,
                CaseRow.dismissed.is_(False),
                CaseRow.claimant.is_not(None),
                CaseRow.kind.in_(list(kinds)),
                CaseRow.feedback_requested_at.is_(None),
                CaseRow.closed_at <= closed_before,
            )
            .order_by(CaseRow.closed_at)
        )
        return [_case(row) for row in rows]

    def outbox_purposes(self, message_ids: Sequence[str]) -> set[str]:
        if not message_ids:
            return set()
        return set(self.session.scalars(select(OutboxRow.purpose).where(OutboxRow.message_id.in_(message_ids))))

    def queued_purposes(self, case_id: int) -> set[str]:
        return set(self.session.scalars(select(OutboxRow.purpose).where(OutboxRow.case_id == case_id)))

    def mail_keys_starting(self, prefix: str) -> list[str]:
        query = select(_MAILS.c.message_key).where(_MAILS.c.message_key.startswith(prefix, autoescape=True))
        return list(self._connection().scalars(query.order_by(_MAILS.c.id)))

    def mail_archive_path(self, message_key: str) -> str | None:
        path: str | None = self._connection().scalar(
            select(_MAILS.c.archive_path).where(_MAILS.c.message_key == message_key)
        )
        return path

    def mail_outcome(self, message_key: str) -> MailOutcome | None:
        outcome: MailOutcome | None = self._connection().scalar(_MAIL_OUTCOME, {"key": message_key})
        return outcome

    def set_mail_outcome(
        self,
        message_key: str,
        outcome: MailOutcome,
        reason: str,
        case_id: int | None = None,
        direction: Direction | None = None,
        summary: str | None = None,
    ) -> int | None:
        """A recorded mail's new fate: a mail in the director's name once her proof came, or never did.
        Its id, for what joins a case with it (its attachments); None if no mail has that key."""
        values: dict[str, object] = {"outcome": outcome, "reason": reason}
        if case_id is not None:
            values["case_id"] = case_id
        if direction is not None:
            values["direction"] = direction
        if summary is not None:
            values["summary"] = summary
        self.session.execute(update(MailRow).where(MailRow.message_key == message_key).values(**values))
        return self.session.scalar(select(MailRow.id).where(MailRow.message_key == message_key))

    def mail_with_message_id(self, message_id: str) -> MailRecord | None:
        """The first mail read with this Message-ID (an index lookup), or None."""
        row = self.session.scalars(
            select(MailRow).where(MailRow.message_id == message_id).order_by(MailRow.id).limit(1)
        ).first()
        return _mail_record(row) if row is not None else None

    def mails_from_dated(self, sender: str, since: datetime, until: datetime, limit: int = 20) -> list[MailRecord]:
        """Mails read from `sender` whose Date header falls between `since` and `until` (at most `limit`)."""
        rows = self.session.scalars(
            select(MailRow)
            .where(MailRow.from_address == sender, MailRow.header_date >= since, MailRow.header_date <= until)
            .order_by(MailRow.received_at, MailRow.id)
            .limit(limit)
        )
        return [_mail_record(row) for row in rows]

    def mail(self, mail_id: int) -> MailRecord | None:
        row = self.session.get(MailRow, mail_id)
        return _mail_record(row) if row is not None else None

    def pending_candidate(self, thread_ids: Sequence[str], sender: str | None) -> tuple[MailRecord, bool] | None:
        """The candidate still « à qualifier » a new mail continues, and whether by its thread.

        By thread first: the candidate, or a mail already joined to it, among the new mail's
        In-Reply-To and References. Else the author's oldest candidate still waiting. Both lookups
        go through indexes (Message-ID, From), so a mailbox of years costs no more."""
        if thread_ids:
            ids = list(dict.fromkeys(thread_ids))[:MAX_THREAD_LOOKUP]
            row = self.session.scalars(
                select(MailRow)
                .where(MailRow.message_id.in_(ids), MailRow.outcome.in_((CANDIDATE_OUTCOME, JOINED_OUTCOME)))
                .order_by(MailRow.id)
                .limit(1)
            ).first()
            if row is not None and row.outcome == JOINED_OUTCOME and row.joined_to is not None:
                row = self.session.get(MailRow, row.joined_to)
            if row is not None and row.outcome == CANDIDATE_OUTCOME:
                return _mail_record(row), True
        if sender is None:
            return None
        row = self.session.scalars(
            select(MailRow)
            .where(MailRow.from_address == sender, MailRow.outcome == CANDIDATE_OUTCOME)
            .order_by(MailRow.received_at, MailRow.id)
            .limit(1)
        ).first()
        return (_mail_record(row), False) if row is not None else None

    def joined_mails(self, mail_id: int) -> list[MailRecord]:
        """The mails joined to candidate `mail_id`, in the order they were received."""
        rows = self.session.scalars(
            select(MailRow)
            .where(MailRow.joined_to == mail_id, MailRow.outcome == JOINED_OUTCOME)
            .order_by(MailRow.received_at, MailRow.id)
        )
        return [_mail_record(row) for row in rows]

    def reported_incident(self, sender: str) -> bool:
        """Whether `sender` already reported a difficulty or an aléa: a reporter, like config's trainers."""
        query = select(_CASES.c.id).where(_CASES.c.claimant == sender, _CASES.c.kind.in_((Kind.ALEA, Kind.DIFFICULTE)))
        return self._connection().scalar(query.limit(1)) is not None

    def mails(self, outcomes: Sequence[MailOutcome] = (), since: datetime | None = None) -> Iterator[MailRecord]:
        """Every mail read, oldest first, with the number of its case; only `outcomes` when given.

        Streamed in chunks: `inboxbot mails list` may run over a mailbox of years."""
        query = (
            select(MailRow, CaseRow.number)
            .outerjoin(CaseRow, CaseRow.id == MailRow.case_id)
            .order_by(MailRow.received_at, MailRow.id)
            .execution_options(yield_per=500)
        )
        if outcomes:
            query = query.where(MailRow.outcome.in_(outcomes))
        if since is not None:
            query = query.where(MailRow.received_at >= since)
        for row, number in self.session.execute(query):
            yield replace(_mail_record(row), case_number=number)

    def mails_with_outcome(self, outcome: MailOutcome, received_before: datetime) -> list[MailRecord]:
        rows = self.session.scalars(
            select(MailRow)
            .where(MailRow.outcome == outcome, MailRow.received_at <= received_before)
            .order_by(MailRow.id)
        )
        return [_mail_record(row) for row in rows]

    # -- the outbox ------------------------------------------------------------------------

    def due_outgoing(self, now: datetime, sender: str, limit: int = 500) -> list[OutgoingMail]:
        # Core, not ORM objects: after a mail storm this is hundreds of rows with their bytes.
        out = _OUTBOX.c
        rows = self._connection().execute(
            select(out.id, out.message_id, out.recipient, out.raw, out.attempts, out.case_id, out.purpose)
            .where(out.status == PENDING, out.next_attempt_at <= now)
            # Longest waiting first: a mail that failed waits for its retry behind the others.
            .order_by(out.next_attempt_at, out.id)
            .limit(limit)
        )
        return [
            OutgoingMail(
                id=row.id,
                message_id=row.message_id,
                recipient=row.recipient,
                sender=sender,
                raw=row.raw,
                attempts=row.attempts,
                case_id=row.case_id,
                purpose=row.purpose,
            )
            for row in rows
        ]

    def mark_sent(self, outgoing_id: int, at: datetime) -> bool:
        """Record a mail the SMTP server accepted; False if it was already recorded as sent."""
        return _mark_sent(self._connection(), outgoing_id, at)

    def mark_attempt_failed(
        self, outgoing_id: int, error: str, now: datetime, retry_at: datetime | None, counted: bool = True
    ) -> None:
        """A failed attempt: retried at `retry_at`, or given up on for good when None.

        `counted=False` for a server that could not be reached: the mail waits without using up
        its attempts, so a weekend without SMTP never gives up an acknowledgement.
        """
        row = self.session.get_one(OutboxRow, outgoing_id)
        row.attempts += 1 if counted else 0
        row.last_error = error[:2000]
        if retry_at is None:
            row.status = FAILED
            if row.case_id is not None:
                self.add_event(row.case_id, now, "inboxbot", f"failed:{row.purpose}", error[:2000])
        else:
            row.next_attempt_at = retry_at

    def sent_copies_due(self, sent_since: datetime, limit: int) -> list[SentCopy]:
        """Mails the SMTP server accepted since `sent_since` whose copy is not yet in Sent."""
        rows = self.session.scalars(
            select(OutboxRow)
            .where(
                OutboxRow.status == SENT,
                (OutboxRow.sent_copy.is_(None)) | (OutboxRow.sent_copy == SENT_COPY_APPENDING),
                OutboxRow.sent_at >= sent_since,
            )
            .order_by(OutboxRow.id)
            .limit(limit)
        )
        return [
            SentCopy(row.id, row.message_id, row.raw, row.sent_at or sent_since, row.sent_copy == SENT_COPY_APPENDING)
            for row in rows
        ]

    def set_sent_copy(self, outgoing_ids: Sequence[int], state: str) -> None:
        self.session.execute(update(OutboxRow).where(OutboxRow.id.in_(outgoing_ids)).values(sent_copy=state))

    def set_runtime(self, key: str, value: str, at: datetime) -> None:
        row = self.session.get(RuntimeRow, key)
        if row is None:
            self.session.add(RuntimeRow(key=key, value=value, at=at))
        else:
            row.value, row.at = value, at

    def runtime(self) -> dict[str, tuple[str, datetime]]:
        return {row.key: (row.value, row.at) for row in self.session.scalars(select(RuntimeRow))}

    # -- outages: one runtime row each, kept until the digest no longer needs them ------------

    def outages(self) -> list[Outage]:
        """Every outage on record, oldest first."""
        rows = self.session.scalars(select(RuntimeRow).where(RuntimeRow.key.startswith(_OUTAGE_KEY)))
        found = []
        for row in rows:
            part = row.key[len(_OUTAGE_KEY) :].partition(":")[0]
            try:
                value = json.loads(row.value)
                until = datetime.fromisoformat(value["until"]) if value.get("until") else None
                found.append(Outage(OutagePart(part), row.at, str(value["cause"]), until, bool(value.get("alerted"))))
            except (ValueError, KeyError, TypeError):
                continue  # a row of another version: only a digest line is lost
        return sorted(found, key=lambda outage: outage.since)

    def save_outage(self, outage: Outage) -> None:
        value = {
            "cause": outage.cause,
            "until": outage.until.isoformat() if outage.until else None,
            "alerted": outage.alerted,
        }
        self.set_runtime(_outage_key(outage), json.dumps(value, ensure_ascii=False), outage.since)

    def drop_outage(self, outage: Outage) -> None:
        self.session.execute(delete(RuntimeRow).where(RuntimeRow.key == _outage_key(outage)))

    def folders(self) -> list[FolderState]:
        return [s for s in (self.folder(name) for name in self.session.scalars(select(FolderRow.name))) if s]

    def next_retry(self) -> datetime | None:
        return self.session.scalar(select(func.min(OutboxRow.next_attempt_at)).where(OutboxRow.status == PENDING))

    def outbox_counts(self) -> dict[str, int]:
        query = select(OutboxRow.status, func.count(OutboxRow.id)).group_by(OutboxRow.status)
        return {status: count for status, count in self.session.execute(query)}

    # -- the register ----------------------------------------------------------------------

    def cases(
        self,
        open_only: bool = False,
        year: int | None = None,
        kind: Kind | None = None,
        status: CaseStatus | None = None,
    ) -> list[Case]:
        query = select(CaseRow).order_by(CaseRow.received_at, CaseRow.id)
        if open_only:
            query = query.where(CaseRow.status == OPEN)
        if status is not None:
            query = query.where(CaseRow.status == status)
        if kind is not None:
            query = query.where(CaseRow.kind == kind)
        if year is not None:
            query = query.where(CaseRow.number.like(f"{year}-%"))
        return [_case(row) for row in self.session.scalars(query)]

    def case_details(self, cases: Iterable[Case]) -> list[CaseDetail]:
        """Cases with their exchange logs and histories, read in three queries whatever their count."""
        by_id = {case.id: case for case in cases}
        logs: dict[int, list[LogEntry]] = {case_id: [] for case_id in by_id}
        events: dict[int, list[CaseEvent]] = {case_id: [] for case_id in by_id}
        actions: dict[int, list[Action]] = {case_id: [] for case_id in by_id}
        ids = list(by_id)
        for chunk in _chunks(ids, 500):
            read_logs(self.session.connection(), chunk, logs, events)
            for action in self.session.scalars(
                select(ActionRow).where(ActionRow.case_id.in_(chunk)).order_by(ActionRow.seq)
            ):
                actions[action.case_id].append(_action(action))
        return [
            CaseDetail(
                case=case,
                messages=tuple(exchange_order(logs[case_id])),
                events=tuple(events[case_id]),
                actions=tuple(actions[case_id]),
            )
            for case_id, case in by_id.items()
        ]

    def case_detail(self, number: str) -> CaseDetail | None:
        row = self.session.scalar(select(CaseRow).where(CaseRow.number == number))
        if row is None:
            return None
        return self.case_details([_case(row)])[0]

    def mails_without_case(self, since: datetime | None = None) -> list[MailRecord]:
        query = select(MailRow).where(MailRow.case_id.is_(None)).order_by(MailRow.id)
        if since is not None:
            query = query.where(MailRow.created_at >= since)
        return [_mail_record(row) for row in self.session.scalars(query)]


_OUTAGE_KEY = "outage:"


def _outage_key(outage: Outage) -> str:
    return f"{_OUTAGE_KEY}{outage.part}:{outage.since.astimezone(UTC).isoformat(timespec='seconds')}"


def _recipients(listed: str) -> list[str]:
    """The addresses of a mail's `to_addresses` column, as the pipeline joined them."""
    return [address.strip() for address in listed.split(",") if address.strip()]


def _chunks(items: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def read_logs(
    connection: Connection,
    ids: Sequence[int],
    logs: dict[int, list[LogEntry]],
    events: dict[int, list[CaseEvent]],
    *,
    full: bool = False,
    excerpt: int | None = None,
) -> None:
    """The exchange log and history of the chunk's cases, without the outgoing mails' raw bytes:
    plain selects, which `Unit.case_details` and the streamed exports share.

    `full` also reads what only the audit file shows: each mail's recipients and the bytes of every
    mail inboxbot sent (the only place its text is kept). The files a mail carried are always read:
    `cases show` and the JSON register list them.
    `excerpt` reads each mail's recipients and only the first `excerpt` characters of its text (the
    register's sheet of exchanges, which shows the beginning of each: a mail's whole text is read by
    the database, not carried here).
    """
    to_addresses = full or excerpt is not None
    columns: list[Any] = [
        MailRow.case_id,
        MailRow.direction,
        MailRow.message_id,
        MailRow.from_address,
        MailRow.received_at,
        MailRow.subject,
        MailRow.summary if excerpt is None else func.substr(MailRow.summary, 1, excerpt).label("summary"),
        MailRow.automatic,
        MailRow.reason,
        MailRow.created_at,
        MailRow.archive_path,
        MailRow.id,
    ]
    if to_addresses:
        columns.append(MailRow.to_addresses)
    files: dict[int, list[AttachedFile]] = {}
    attached = (
        select(AttachmentRow.mail_id, AttachmentRow.filename, AttachmentRow.content_type, AttachmentRow.size)
        .add_columns(AttachmentRow.path)
        .join(MailRow, MailRow.id == AttachmentRow.mail_id)
        .where(MailRow.case_id.in_(ids))
        .order_by(AttachmentRow.id)
    )
    for row in connection.execute(attached):
        files.setdefault(row.mail_id, []).append(
            AttachedFile(filename=row.filename, content_type=row.content_type, size=row.size, path=row.path)
        )
    mails = select(*columns).where(MailRow.case_id.in_(ids))
    for mail in connection.execute(mails.order_by(MailRow.id)):
        logs[mail.case_id].append(
            LogEntry(
                direction=mail.direction,
                message_id=mail.message_id,
                from_address=mail.from_address,
                date=mail.received_at,
                subject=mail.subject,
                summary=mail.summary,
                note=mail.automatic or mail.reason,
                recorded_at=mail.created_at,
                archive_path=mail.archive_path,
                to=mail.to_addresses if to_addresses else "",
                attachments=tuple(files.get(mail.id, ())),
            )
        )
    outgoing_columns: list[Any] = [
        OutboxRow.case_id,
        OutboxRow.message_id,
        OutboxRow.sent_at,
        OutboxRow.created_at,
        OutboxRow.subject,
        OutboxRow.purpose,
        OutboxRow.recipient,
        OutboxRow.status,
        OutboxRow.text if excerpt is None else func.substr(OutboxRow.text, 1, excerpt).label("text"),
    ]
    if full:
        outgoing_columns.append(OutboxRow.raw)
    outgoing = select(*outgoing_columns).where(OutboxRow.case_id.in_(ids))
    for out in connection.execute(outgoing.order_by(OutboxRow.id)):
        logs[out.case_id].append(
            LogEntry(
                direction=Direction.OUT,
                message_id=out.message_id,
                from_address=None,
                date=out.sent_at or out.created_at,
                subject=out.subject,
                # Mails queued before their text was kept say what they were and to whom.
                summary=out.text or f"{out.purpose} → {out.recipient}",
                note=out.status if out.status != SENT else "",
                recorded_at=out.created_at,
                to=out.recipient if to_addresses else "",
                raw=bytes(out.raw) if full else None,
                from_outbox=True,
            )
        )
    history = select(CaseEventRow.case_id, CaseEventRow.at, CaseEventRow.actor, CaseEventRow.type, CaseEventRow.detail)
    for ev in connection.execute(
        history.where(CaseEventRow.case_id.in_(ids)).order_by(CaseEventRow.at, CaseEventRow.id)
    ):
        events[ev.case_id].append(CaseEvent(at=ev.at, actor=ev.actor, type=ev.type, detail=ev.detail))


def _mark_sent(connection: Connection, outgoing_id: int, at: datetime) -> bool:
    """Plain statements, not the ORM: loading the row would read back the whole mail."""
    sent = connection.execute(_MARK_SENT, {"outgoing_id": outgoing_id, "at": at}).first()
    if sent is None:
        return False
    case_id, purpose, recipient = sent
    if case_id is not None:
        connection.execute(
            _INSERT_EVENT,
            {"case_id": case_id, "at": at, "actor": "inboxbot", "type": f"sent:{purpose}", "detail": recipient},
        )
        if purpose.endswith("acknowledgement"):
            connection.execute(_MARK_ACKNOWLEDGED, {"case_id": case_id, "at": at})
    return True


def _case(row: CaseRow | Row[Any]) -> Case:
    return Case(
        id=row.id,
        number=row.number,
        kind=row.kind,
        status=row.status,
        channel=row.channel,
        claimant=row.claimant,
        claimant_name=row.claimant_name,
        subject=row.subject,
        received_at=row.received_at,
        acknowledge_due=row.acknowledge_due,
        response_due=row.response_due,
        acknowledged_at=row.acknowledged_at,
        responded_at=row.responded_at,
        closed_at=row.closed_at,
        nature=row.nature,
        priority=row.priority,
        rules_hit=tuple(json.loads(row.rules_hit or "[]")),
        stakeholder=row.stakeholder,
        training=row.training,
        description=row.description,
        transmitter=row.transmitter,
        extended_due=row.extended_due,
        extension_reason=row.extension_reason,
        dismissed=row.dismissed,
        feedback_requested_at=row.feedback_requested_at,
        satisfaction_mark=row.satisfaction_mark,
        satisfaction_comment=row.satisfaction_comment,
        satisfaction_at=row.satisfaction_at,
        acknowledgement_means=row.acknowledgement_means,
        response_means=row.response_means,
        response_note=row.response_note,
        received_from=row.received_from,
        merged_into=row.merged_into,
    )


def _action(row: ActionRow) -> Action:
    return Action(
        seq=row.seq,
        kind=row.kind,
        text=row.text,
        owner=row.owner,
        due=row.due,
        status=row.status,
        result=row.result,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _mail_record(row: MailRow) -> MailRecord:
    return MailRecord(
        message_key=row.message_key,
        message_id=row.message_id,
        case_id=row.case_id,
        direction=row.direction,
        folder=row.folder,
        uidvalidity=row.uidvalidity,
        uid=row.uid,
        received_at=row.received_at,
        header_date=row.header_date,
        from_address=row.from_address,
        from_name=row.from_name,
        to_addresses=row.to_addresses,
        subject=row.subject,
        summary=row.summary,
        archive_path=row.archive_path,
        sha256=row.sha256,
        size=row.size,
        outcome=row.outcome,
        reason=row.reason,
        automatic=row.automatic,
        rules_hit=tuple(json.loads(row.rules_hit or "[]")),
        kind=row.kind,
        channel=row.channel,
        words=tuple(json.loads(row.words or "[]")),
        score=row.score,
        excerpt=row.excerpt,
        notes=tuple(json.loads(row.notes or "[]")),
        spam=row.spam,
        claimant=row.claimant,
        claimant_name=row.claimant_name,
        joined_to=row.joined_to,
        id=row.id,
    )
