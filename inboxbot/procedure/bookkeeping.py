"""What a cycle did and what went wrong, left where `inboxbot status` (another process) reads it.

Kept apart from the work itself so that recording never decides anything: the daemon and
`run --once` report here, and a database that is itself failing only loses the record.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy.exc import SQLAlchemyError

from inboxbot.bootstrap import App
from inboxbot.domain.outages import READING
from inboxbot.procedure.outages import OutageBook

log = logging.getLogger(__name__)


@dataclass
class CycleReport:
    fetched: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    opened: list[str] = field(default_factory=list)
    sent: int = 0
    send_failures: int = 0


class Bookkeeping:
    def __init__(self, app: App, outages: OutageBook) -> None:
        self.app = app
        self.outages = outages

    def record_cycle(self, report: CycleReport) -> None:
        """Leave what this cycle did where `inboxbot status`, another process, can read it."""
        summary = (
            f"{report.fetched} mail(s) read, {len(report.opened)} case(s) opened, "
            f"{report.sent} sent, {report.send_failures} failed to send"
        )
        with self.app.store.unit() as unit:
            unit.set_runtime("last_cycle", summary, self.app.clock())

    def reading_failed(self, exc: BaseException) -> None:
        """The mailbox could not be read: for `inboxbot status`, and for her if it lasts."""
        cause = f"{type(exc).__name__}: {exc}"
        self.record_error(cause)
        self.outages.failed(READING, cause, self.app.clock())

    def record_error(self, cause: str) -> None:
        """Best effort: the database may itself be what is failing."""
        try:
            with self.app.store.unit() as unit:
                unit.set_runtime("last_error", cause[:2000], self.app.clock())
        except SQLAlchemyError:
            log.debug("could not record the error in the database", exc_info=True)
