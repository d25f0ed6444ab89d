"""One cycle of the program: fetch what is new, turn each mail into its outcome, send the outbox.

For each mail: archive the raw bytes (before anything can fail on them), parse, skip it if already
known, find the case it continues, ask the rules, decide, then write the mail, the case, its
history, the queued acknowledgement and the folder's progress in one transaction. Sending happens
after the commit, from the outbox. Any step can be interrupted and re-run without losing or doubling.

`Pipeline` only puts together the units that each do one of these jobs — `folders` (a folder read
in groups), `onemail` (one mail: `reader` reads it, `applying` carries its decision out, `forwards`
finds the claims passed on), `followup` (what time sets off, the digest), `sending` (the outbox)
and `bookkeeping` — so that the daemon, `run --once` and the demo drive one cycle the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from inboxbot.adapters.imap import FetchedMail, Mailbox, WatchedFolder
from inboxbot.bootstrap import App
from inboxbot.domain.outages import READING
from inboxbot.domain.vocabulary import FolderRole, MailOutcome
from inboxbot.outgoing.letters import Letters
from inboxbot.procedure.bookkeeping import Bookkeeping, CycleReport
from inboxbot.procedure.folders import FolderSync
from inboxbot.procedure.followup import FollowUp
from inboxbot.procedure.outages import OutageBook
from inboxbot.procedure.sending import OutboxDrain
from inboxbot.store.repository import Unit

if TYPE_CHECKING:
    from inboxbot.procedure.casework import Casework
    from inboxbot.procedure.onemail import OneMail

__all__ = ["CycleReport", "Cycled", "Pipeline", "run_once"]


class Cycled(NamedTuple):
    """How a cycle went: the error that stopped reading, if any, and whether all that follows ran."""

    reading_error: Exception | None
    sent: bool


class Pipeline:
    """The cycle's units, built once: the daemon keeps one Pipeline for its life, so the state
    each unit owns (today's digest tried, the SMTP server's outage count) lasts between cycles."""

    def __init__(
        self,
        app: App,
        on_mail: Callable[[FetchedMail, MailOutcome], None] | None = None,
        should_stop: Callable[[], bool] = lambda: False,
        progress: Callable[[str, int, int], None] | None = None,
    ) -> None:
        self.app = app
        self.letters = Letters(app.settings, lambda: app.renderer)
        self._casework: Casework | None = None
        self.outages = OutageBook(app)
        self._one_mail: OneMail | None = None
        self.folders = FolderSync(app, lambda: self.one_mail, on_mail, should_stop, progress)
        self.follow_ups = FollowUp(app, self.letters)
        self.outbox = OutboxDrain(app, self.letters, self.outages)
        self.books = Bookkeeping(app, self.outages)

    def poll(self, mailbox: Mailbox, report: CycleReport, mailbox_for: Callable[[str], Mailbox] | None = None) -> None:
        """Read every watched folder; through `mailbox_for(folder)` when each has a connection of its own."""
        self.folders.poll(mailbox, report, mailbox_for)

    def sync_folder(self, mailbox: Mailbox, folder: WatchedFolder, report: CycleReport) -> None:
        self.folders.sync_folder(mailbox, folder, report)

    def process(
        self, unit: Unit, fetched: FetchedMail, role: FolderRole, report: CycleReport, alone: bool = True
    ) -> MailOutcome:
        """What became of one mail (see `OneMail.process`)."""
        return self.one_mail.process(unit, fetched, role, report, alone=alone)

    @property
    def casework(self) -> Casework:
        """Built, and the commands' module imported, at the first mail: an idle cycle carries out none."""
        if self._casework is None:
            from inboxbot.procedure.casework import Casework

            self._casework = Casework(self.app.settings, self.letters, self.app.policy)
        return self._casework

    @property
    def one_mail(self) -> OneMail:
        """Built, and the reading stack imported (parsers, recognition, their ~280 patterns), at the
        first mail: an idle cycle, most of the daemon's, never pays for them."""
        if self._one_mail is None:
            from inboxbot.procedure.onemail import OneMail

            self._one_mail = OneMail(self.app, self.letters, self.casework)
        return self._one_mail

    def cycle(
        self, read: Callable[[CycleReport], None], report: CycleReport, send: Callable[[CycleReport], bool]
    ) -> Cycled:
        """One cycle, the same for `run --once` and the daemon: read the mailbox, then send what waits
        whatever reading did (what it queued before failing leaves all the same); the cycle is recorded
        for `inboxbot status` once both worked. `read` and `send` are the caller's: the daemon reads
        on connections it keeps and keeps its outages' logs, `run --once` opens one and raises."""
        try:
            read(report)
        except Exception as exc:  # noqa: BLE001 - returned: the caller says what a failure means to it
            self.reading_failed(exc)
            send(report)
            return Cycled(exc, sent=False)
        self.outages.worked(READING, self.app.clock())
        sent = send(report)
        if sent:
            self.record_cycle(report)
        return Cycled(None, sent)

    def send_what_waits(self, report: CycleReport) -> None:
        """The jobs that follow reading, in the order that lets each one's mail leave in this cycle:
        follow-up, the digest, then the outbox."""
        self.follow_up(report)
        self.send_digest_if_due()
        self.flush_outbox(report)

    def follow_up(self, report: CycleReport) -> None:
        self.follow_ups.follow_up(report)

    def send_digest_if_due(self) -> None:
        self.follow_ups.send_digest_if_due()

    def flush_outbox(self, report: CycleReport) -> None:
        self.outbox.flush_outbox(report)

    def record_cycle(self, report: CycleReport) -> None:
        self.books.record_cycle(report)

    def reading_failed(self, exc: BaseException) -> None:
        self.books.reading_failed(exc)

    def record_error(self, cause: str) -> None:
        self.books.record_error(cause)


def run_once(
    app: App,
    on_mail: Callable[[FetchedMail, MailOutcome], None] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> CycleReport:
    """One full cycle: every watched folder read, every mail processed, the outbox sent; a failure
    to read or to send is raised once the other part has done what it could."""
    report = CycleReport()
    pipeline = Pipeline(app, on_mail, progress=progress)

    def read(report: CycleReport) -> None:
        with app.mailbox() as mailbox:
            pipeline.poll(mailbox, report)

    def send(report: CycleReport) -> bool:
        try:
            pipeline.send_what_waits(report)
        except Exception as exc:
            pipeline.record_error(f"{type(exc).__name__}: {exc}")
            raise
        return True

    with app.store.instance_lock():
        done = pipeline.cycle(read, report, send)
    if done.reading_error is not None:
        raise done.reading_error
    return report
