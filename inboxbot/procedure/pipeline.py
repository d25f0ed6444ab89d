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

from inboxbot.adapters.imap import FetchedMail, Mailbox, WatchedFolder
from inboxbot.bootstrap import App
from inboxbot.domain.outages import READING
from inboxbot.outgoing.letters import Letters
from inboxbot.procedure.bookkeeping import Bookkeeping, CycleReport
from inboxbot.procedure.casework import Casework
from inboxbot.procedure.folders import FolderSync
from inboxbot.procedure.followup import FollowUp
from inboxbot.procedure.onemail import OneMail
from inboxbot.procedure.outages import OutageBook
from inboxbot.procedure.sending import OutboxDrain
from inboxbot.store.repository import Unit

__all__ = ["CycleReport", "Pipeline", "run_once"]


class Pipeline:
    """The cycle's units, built once: the daemon keeps one Pipeline for its life, so the state
    each unit owns (today's digest tried, the SMTP server's outage count) lasts between cycles."""

    def __init__(
        self,
        app: App,
        on_mail: Callable[[FetchedMail, str], None] | None = None,
        should_stop: Callable[[], bool] = lambda: False,
        progress: Callable[[str, int, int], None] | None = None,
    ) -> None:
        self.app = app
        self.letters = Letters(app.settings, app.renderer)
        self.casework = Casework(app.settings, self.letters, app.policy)
        self.outages = OutageBook(app)
        self.one_mail = OneMail(app, self.letters, self.casework)
        self.folders = FolderSync(app, self.one_mail, on_mail, should_stop, progress)
        self.follow_ups = FollowUp(app, self.letters)
        self.outbox = OutboxDrain(app, self.letters, self.outages)
        self.books = Bookkeeping(app, self.outages)

    def poll(self, mailbox: Mailbox, report: CycleReport, mailbox_for: Callable[[str], Mailbox] | None = None) -> None:
        """Read every watched folder; through `mailbox_for(folder)` when each has a connection of its own."""
        self.folders.poll(mailbox, report, mailbox_for)

    def sync_folder(self, mailbox: Mailbox, folder: WatchedFolder, report: CycleReport) -> None:
        self.folders.sync_folder(mailbox, folder, report)

    def process(self, unit: Unit, fetched: FetchedMail, role: str, report: CycleReport, alone: bool = True) -> str:
        """What became of one mail (see `OneMail.process`)."""
        return self.one_mail.process(unit, fetched, role, report, alone=alone)

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
    on_mail: Callable[[FetchedMail, str], None] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> CycleReport:
    """One full cycle: every watched folder read, every mail processed, the outbox sent."""
    report = CycleReport()
    pipeline = Pipeline(app, on_mail, progress=progress)
    with app.store.instance_lock():
        reading_failed: Exception | None = None
        try:
            with app.mailbox() as mailbox:
                pipeline.poll(mailbox, report)
        except Exception as exc:  # noqa: BLE001 - raised below, once what waits has been sent
            pipeline.reading_failed(exc)
            reading_failed = exc
        else:
            pipeline.outages.worked(READING, app.clock())
        # Whatever reading did, what is already queued is sent: a mailbox that fails to read must
        # not hold back the acknowledgements of the mails read before it.
        try:
            pipeline.send_what_waits(report)
        except Exception as exc:
            pipeline.record_error(f"{type(exc).__name__}: {exc}")
            raise
        if reading_failed is not None:
            raise reading_failed
        pipeline.record_cycle(report)
    return report
