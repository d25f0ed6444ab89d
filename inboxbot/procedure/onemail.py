"""One mail, from its bytes to its outcome: archived, parsed, known or not, read, decided, applied.

The raw bytes are archived before anything can fail on them; a mail that cannot be parsed or that
fails inside inboxbot is set aside with its reason, never lost, and never stops the folder.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import replace

from sqlalchemy.exc import SQLAlchemyError

from inboxbot.adapters.archive import StoredMail
from inboxbot.adapters.imap import FetchedMail, Mailbox
from inboxbot.bootstrap import App
from inboxbot.domain.decide import SENT as SENT_ROLE
from inboxbot.domain.message import ParsedMail
from inboxbot.domain.vocabulary import Direction, FolderRole, MailOutcome
from inboxbot.outgoing.letters import Letters
from inboxbot.procedure.applying import Applier
from inboxbot.procedure.bookkeeping import CycleReport
from inboxbot.procedure.casework import Casework
from inboxbot.procedure.folders import MailFailed
from inboxbot.procedure.forwards import Forwards
from inboxbot.procedure.reader import MailReader
from inboxbot.reading.parse import ParseError, parse
from inboxbot.store.repository import MailRecord, Unit, tied_to_its_data

log = logging.getLogger(__name__)

UNPROVEN = (MailOutcome.AWAITING_PROOF, MailOutcome.SUSPICIOUS)


class OneMail:
    def __init__(self, app: App, letters: Letters, casework: Casework) -> None:
        self.app = app
        self.forwards = Forwards(app)
        self.reader = MailReader(app, self.forwards)
        self.applier = Applier(app, letters, casework, self.reader, self.forwards)

    @contextmanager
    def reading_from(self, mailbox: Mailbox) -> Iterator[None]:
        """While a folder is read: the connection where her forwards' originals are looked for."""
        self.forwards.mailbox = mailbox
        try:
            yield
        finally:
            self.forwards.mailbox = None

    def process(
        self, unit: Unit, fetched: FetchedMail, role: FolderRole, report: CycleReport, alone: bool = True
    ) -> MailOutcome:
        """What became of one mail. `alone`: in a savepoint, so that if it fails inside inboxbot it
        is set aside and the unit goes on; otherwise such a failure raises `MailFailed`."""
        stored = self.app.archive.store(fetched.raw, fetched.internaldate, durable=False)
        try:
            mail = parse(fetched.raw, max_attachments=self.app.settings.storage.max_attachments)
        except ParseError as exc:
            return self._set_aside(unit, fetched, stored, str(exc))
        except Exception as exc:  # noqa: BLE001 - a parser bug on one mail must not stop the folder
            log.exception("mail UID %s in %s could not be parsed", fetched.uid, fetched.folder)
            return self._set_aside(unit, fetched, stored, f"unreadable (parser error): {type(exc).__name__}: {exc}")
        try:
            with unit.savepoint() if alone else nullcontext():
                return self._process_parsed(unit, fetched, stored, mail, role, report)
        except Exception as exc:  # noqa: BLE001 - one bad mail must not stop the daemon
            if isinstance(exc, SQLAlchemyError) and not tied_to_its_data(exc):
                raise  # the database is unavailable: stop the cycle, this mail is read again next time
            if not alone:
                raise MailFailed(fetched.folder, fetched.uid) from exc
            log.exception("mail UID %s in %s could not be processed", fetched.uid, fetched.folder)
            return self._set_aside(unit, fetched, stored, f"internal error: {type(exc).__name__}: {exc}")

    def _process_parsed(
        self,
        unit: Unit,
        fetched: FetchedMail,
        stored: StoredMail,
        mail: ParsedMail,
        role: FolderRole,
        report: CycleReport,
    ) -> MailOutcome:
        key = mail.message_id or f"sha256:{stored.sha256}"
        seen = unit.mail_outcome(key)
        if seen is not None and mail.message_id and not self._same_mail(unit, key, mail):
            # Another mail reusing a known Message-ID (a broken or hostile sender) is a mail of its
            # own, not a copy of the first: keyed by its content so it is neither lost nor doubled
            # (a copy of it delivered again is found among the others that reuse the Message-ID).
            log.warning("mail UID %s reuses the Message-ID of a different mail: %s", fetched.uid, key)
            mail = replace(mail, defects=(*mail.defects, "Message-ID already used by a different mail"))
            reusing = unit.mail_keys_starting(f"{mail.message_id}#")
            key = next(
                (k for k in reusing if self._same_mail(unit, k, mail)), f"{mail.message_id}#sha256:{stored.sha256}"
            )
            seen = unit.mail_outcome(key)
        # The director's unproven note is proven when its copy turns up in her Sent folder.
        if seen is not None and not (seen in UNPROVEN and role == SENT_ROLE):
            return MailOutcome.DUPLICATE
        decision, reading = self.reader.read(unit, mail, fetched, role).decision(self.app.policy)
        self.applier.apply(unit, decision, reading, fetched, stored, key, report, already_recorded=seen is not None)
        return decision.outcome

    def _same_mail(self, unit: Unit, key: str, mail: ParsedMail) -> bool:
        """Whether `mail` is the mail already recorded under `key`, or only shares its Message-ID.

        Copies of one mail differ in their trace headers (Received, Delivered-To; the Sent copy
        of her note and its delivered copy in the inbox; a gateway may even rewrite the Date),
        so they are compared by what their author wrote. When the first can no longer be read
        (purged), it is taken as the same.
        """
        path = unit.mail_archive_path(key)
        if path is None:
            return True
        try:
            first = parse(self.app.archive.read(path))
        except (OSError, ValueError, ParseError):
            return True
        return _authored(first) == _authored(mail)

    def _set_aside(self, unit: Unit, fetched: FetchedMail, stored: StoredMail, reason: str) -> MailOutcome:
        log.warning("mail UID %s in %s set aside: %s", fetched.uid, fetched.folder, reason)
        key = f"sha256:{stored.sha256}"
        if unit.mail_outcome(key) is None:
            unit.record_mail(
                MailRecord(
                    message_key=key,
                    message_id=None,
                    case_id=None,
                    direction=Direction.IN,
                    folder=fetched.folder,
                    uidvalidity=fetched.uidvalidity,
                    uid=fetched.uid,
                    received_at=fetched.internaldate,
                    header_date=None,
                    from_address=None,
                    from_name="",
                    to_addresses="",
                    subject="",
                    summary="",
                    archive_path=str(stored.path),
                    sha256=stored.sha256,
                    size=stored.size,
                    outcome=MailOutcome.SET_ASIDE,
                    reason=reason,
                    automatic=None,
                    rules_hit=(),
                ),
                self.app.clock(),
            )
        return MailOutcome.SET_ASIDE


def _authored(mail: ParsedMail) -> tuple[object, ...]:
    """What the author of a mail wrote, the same in every copy the servers deliver of it."""
    return (mail.from_.email if mail.from_ else None, mail.subject, mail.text.strip())
