"""The outbox drained: every mail due sent, each result recorded as the server gives it.

Sending happens after the commit that queued the mail, so a crash never loses one; a server that
cannot be reached is an outage (the mail waits, its attempts untouched), a refusal is the mail's own.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError

from inboxbot.bootstrap import App
from inboxbot.domain.outages import SENDING
from inboxbot.outgoing.letters import Letters
from inboxbot.outgoing.outbox import SendResult, backoff, retry_at
from inboxbot.procedure.bookkeeping import CycleReport
from inboxbot.procedure.outages import OutageBook
from inboxbot.procedure.sentcopy import save_sent_copies

log = logging.getLogger(__name__)

OUTBOX_BATCH = 500


class OutboxDrain:
    def __init__(self, app: App, letters: Letters, outages: OutageBook) -> None:
        self.app = app
        self.letters = letters
        self.outages = outages
        # Consecutive sending rounds that found the SMTP server unreachable (the daemon keeps one
        # Pipeline): how long to wait before the next try.
        self.smtp_unreachable = 0

    def flush_outbox(self, report: CycleReport) -> None:
        """Send everything due, batch after batch: a mail storm must not wait a cycle per 500 mails."""
        started = self.app.clock()
        while self._flush_batch(report) == OUTBOX_BATCH:
            pass
        # Once mail can be sent, she hears of an outage long enough to matter, in this very round.
        try:
            with self.app.store.unit() as unit:
                told = self.outages.tell(unit, self.letters, self.app.clock())
        except SQLAlchemyError:
            raise
        except Exception:  # noqa: BLE001 - the alert must never hold back the mail that waits
            log.exception("the outage alert could not be queued")
            told = False
        if told:
            self._flush_batch(report)
        if self.app.settings.imap.save_sent:
            save_sent_copies(self.app, started)

    def _flush_batch(self, report: CycleReport) -> int:
        """Send one batch of due mails; how many were accepted (a full batch may mean more wait)."""
        app = self.app
        with app.store.unit() as unit:
            due = unit.due_outgoing(app.clock(), app.settings.smtp.from_address, limit=OUTBOX_BATCH)
        if not due:
            return 0
        attempts = {mail.id: mail.attempts for mail in due}
        recipients = {mail.id: mail.recipient for mail in due}
        accepted = 0
        waiting: list[str] = []  # errors of mails that wait for an unreachable server

        def record(result: SendResult) -> None:
            nonlocal accepted
            now = app.clock()
            if result.accepted:
                app.store.mark_sent(result.outgoing_id, now)
                report.sent += 1
                accepted += 1
                log.info("mail sent to %s", recipients[result.outgoing_id])
                return
            with app.store.unit() as unit:
                if result.unreachable:
                    # Not the mail's fault: it waits without using up its attempts, never given up.
                    later: datetime | None = backoff(app.settings.outbox, self.smtp_unreachable + 1, now)
                    waiting.append(result.error)
                elif result.permanent:
                    later = None
                else:
                    later = retry_at(app.settings.outbox, attempts[result.outgoing_id] + 1, now)
                unit.mark_attempt_failed(result.outgoing_id, result.error, now, later, counted=not result.unreachable)
            report.send_failures += 1
            if not result.unreachable:
                log.warning(
                    "sending to %s failed%s: %s",
                    recipients[result.outgoing_id],
                    "" if later else " for good",
                    result.error,
                )

        app.sender().send(due, record)
        if waiting:
            # Once per outage, not once per mail and per cycle.
            if self.smtp_unreachable == 0:
                log.warning("%d mail(s) wait for the SMTP server: %s", len(waiting), waiting[0])
            self.smtp_unreachable += 1
            self.outages.failed(SENDING, waiting[0], app.clock())
        else:
            if self.smtp_unreachable:
                log.info("the SMTP server is reachable again")
                self.smtp_unreachable = 0
            if accepted:
                self.outages.worked(SENDING, app.clock())
        # Only a batch sent in full says more may be waiting; failures wait for their retry time.
        return accepted if accepted == len(due) else 0
