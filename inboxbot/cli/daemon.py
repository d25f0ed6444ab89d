"""`inboxbot run`: the long-running process.

APScheduler holds the jobs; the mail job is one full cycle (read every watched folder, send the
outbox), run every `imap.poll_interval` seconds and at once when IMAP IDLE announces new mail in
the inbox. Cycles never overlap: a wake-up that arrives during a cycle makes it run once more.
An outage is logged when it starts and when it ends, not at every attempt.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from types import FrameType

from apscheduler.schedulers.background import BackgroundScheduler
from imapclient.exceptions import IMAPClientError
from sqlalchemy.exc import SQLAlchemyError

from inboxbot.adapters.imap import Mailbox, MailboxError
from inboxbot.bootstrap import App
from inboxbot.procedure.pipeline import CycleReport, Pipeline
from inboxbot.store.repository import AlreadyRunning

log = logging.getLogger(__name__)

IDLE_RENEW_SECONDS = 25 * 60  # servers drop IDLE after 30 minutes (RFC 2177 asks clients to re-issue)
MAIL_JOB = "mail"
HOUSEKEEPING_SECONDS = 60
OUTAGE_ERRORS = (MailboxError, IMAPClientError, OSError, SQLAlchemyError)


class Outage:
    """Remembers whether a part is failing, so each outage is logged once, with its cause."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.failing: str | None = None

    def failed(self, exc: BaseException) -> None:
        cause = f"{type(exc).__name__}: {exc}"
        if self.failing is None:
            log.error("%s failing: %s (retrying quietly)", self.what, cause)
        else:
            log.debug("%s still failing: %s", self.what, cause)
        self.failing = cause

    def succeeded(self) -> None:
        if self.failing is not None:
            log.warning("%s recovered", self.what)
            self.failing = None


class Connections:
    """The mail cycle's IMAP connections, one per watched folder, kept open between cycles.

    Each folder stays open on its own connection, so a poll costs a NOOP and a UID SEARCH instead
    of opening the folder anew, which costs the server more the bigger the folder (BENCHMARKS.md §2).
    """

    def __init__(self, app: App) -> None:
        self.app = app
        self.open: dict[str, Mailbox] = {}

    def __call__(self, folder: str) -> Mailbox:
        mailbox = self.open.get(folder)
        if mailbox is not None and not mailbox.alive():
            mailbox.close()  # logged out by the server while the daemon waited: quietly anew
            mailbox = None
        if mailbox is None:
            mailbox = self.app.mailbox()
            mailbox.connect()
            self.open[folder] = mailbox
        return mailbox

    def close(self) -> None:
        for mailbox in self.open.values():
            mailbox.close()
        self.open.clear()


class Daemon:
    def __init__(self, app: App, progress: Callable[[str, int, int], None] | None = None) -> None:
        self.app = app
        self.stop = threading.Event()
        # One pipeline for the daemon's life: it remembers whether today's digest was tried.
        self.pipeline = Pipeline(app, should_stop=self.stop.is_set, progress=progress)
        self.wanted = threading.Event()
        self.cycle_lock = threading.Lock()
        self.mail_outage = Outage("mail cycle")
        self.idle_outage = Outage("IMAP IDLE")
        self.jobs_outage = Outage("housekeeping (digest, reminders, outbox)")
        self.scheduler = BackgroundScheduler(timezone=app.settings.organisation.timezone)
        self.connections = Connections(app)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        self.stop.set()

    def run(self) -> int:
        try:
            with self.app.store.instance_lock():
                return self._run()
        except AlreadyRunning as exc:
            log.error("%s; not starting a second one", exc)
            return 3

    def _run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        self.scheduler.add_job(
            self.cycle,
            "interval",
            seconds=self.app.settings.imap.poll_interval,
            id=MAIL_JOB,
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC),
        )
        # The digest, reminders and sending must not wait for IMAP: they have their own job.
        self.scheduler.add_job(
            self.housekeeping,
            "interval",
            seconds=HOUSEKEEPING_SECONDS,
            id="housekeeping",
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC),
        )
        self.scheduler.start()
        log.info("inboxbot running: polling every %ss", self.app.settings.imap.poll_interval)
        watcher = threading.Thread(target=self.watch_inbox, name="idle", daemon=True)
        if self.app.settings.imap.idle:
            watcher.start()
        # Never an unbounded wait: Python runs a signal handler only when the main thread executes
        # bytecode, and a lock wait without timeout relies on the signal interrupting this very
        # thread; waking every second bounds the delay to a second whichever thread the signal
        # reached.
        while not self.stop.wait(timeout=1.0):
            pass
        self.scheduler.shutdown(wait=True)
        self.connections.close()
        if watcher.is_alive():
            watcher.join(timeout=5)
        log.info("inboxbot stopped")
        return 0

    def request_cycle(self) -> None:
        self.wanted.set()
        try:
            self.scheduler.modify_job(MAIL_JOB, next_run_time=datetime.now(UTC))
        except Exception:  # noqa: BLE001 - the scheduler is shutting down; the flag is enough
            pass

    def cycle(self) -> None:
        with self.cycle_lock:
            while not self.stop.is_set():
                self.wanted.clear()
                report = CycleReport()
                done = self.pipeline.cycle(self._read, report, self._send)
                if done.reading_error is not None:
                    self.connections.close()  # whatever state they are in, the next cycle starts afresh
                    if isinstance(done.reading_error, OUTAGE_ERRORS):
                        self.mail_outage.failed(done.reading_error)
                    else:  # one failing job must never stop the daemon: told, with where it failed
                        log.error("mail cycle failed", exc_info=done.reading_error)
                    return
                self.mail_outage.succeeded()
                if not done.sent:
                    return
                if report.fetched or report.sent or report.send_failures:
                    log.info(
                        "cycle: %d mail(s) read, %d case(s) opened, %d sent, %d failed to send",
                        report.fetched,
                        len(report.opened),
                        report.sent,
                        report.send_failures,
                    )
                if not self.wanted.is_set():
                    return

    def _read(self, report: CycleReport) -> None:
        """Every watched folder, each on the connection kept open for it."""
        inbox = self.connections(self.app.settings.imap.inbox_folder)
        self.pipeline.poll(inbox, report, mailbox_for=self.connections)

    def housekeeping(self) -> None:
        with self.cycle_lock:
            if self.stop.is_set():
                return
            self._send(CycleReport())

    def _send(self, report: CycleReport) -> bool:
        """Follow-up, the digest and the outbox, whatever reading did; whether they all ran."""
        try:
            self.pipeline.send_what_waits(report)
        except OUTAGE_ERRORS as exc:
            self.jobs_outage.failed(exc)
            self.pipeline.record_error(f"{type(exc).__name__}: {exc}")
            return False
        except Exception as exc:  # noqa: BLE001 - one failing job must never stop the others
            log.exception("housekeeping (digest, reminders, outbox) failed")
            self.pipeline.record_error(f"{type(exc).__name__}: {exc}")
            return False
        self.jobs_outage.succeeded()
        return True

    def watch_inbox(self) -> None:
        """Wait on the inbox in IDLE and wake the mail job when something arrives."""
        backoff = 1.0
        while not self.stop.is_set():
            try:
                with self.app.mailbox() as mailbox:
                    if not mailbox.has_idle():
                        log.info("the IMAP server has no IDLE; polling only")
                        return
                    mailbox.examine(self.app.settings.imap.inbox_folder)
                    self.idle_outage.succeeded()
                    backoff = 1.0
                    # What arrived before this connection idled was announced to nobody: at start-up,
                    # after the first cycle had looked; after an outage, and a cycle that failed in it.
                    # A cycle once the server idles sees it; what arrives later, IDLE announces.
                    on_idle: Callable[[], None] | None = self.request_cycle
                    while not self.stop.is_set():
                        if mailbox.idle_wait(IDLE_RENEW_SECONDS, self.stop.is_set, on_idle):
                            self.request_cycle()
                        on_idle = None
            except OUTAGE_ERRORS as exc:
                self.idle_outage.failed(exc)
                self.stop.wait(backoff)
                backoff = min(backoff * 2, 300.0)
