"""What time alone sets off, between reading the mailbox and sending: the follow-ups and the digest.

Unproven mails in her name become suspicious after a grace period, the yearly review is reminded,
closed cases get their satisfaction request, and the digest is queued once its time has come. Each
item in a transaction of its own, so that one that fails is set aside and the others go on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import partial

from sqlalchemy.exc import SQLAlchemyError

from inboxbot.bootstrap import App
from inboxbot.domain.cases import Case
from inboxbot.domain.deadlines import local_midnight
from inboxbot.domain.text import clamp
from inboxbot.domain.vocabulary import MailOutcome
from inboxbot.outgoing.letters import ECHOED_SUBJECT_CHARS, Letters
from inboxbot.outgoing.outbox import new_message_id
from inboxbot.procedure.bookkeeping import CycleReport
from inboxbot.procedure.digest import digest_due, queue_digest
from inboxbot.procedure.review import last_procedure_review
from inboxbot.store.repository import MailRecord, OutgoingDraft, Unit, tied_to_its_data

log = logging.getLogger(__name__)

# A suspicious notice quotes this many of the forged mail's command lines, each this long at most.
NOTICE_LINES = 30
NOTICE_LINE_CHARS = 200


class FollowUp:
    def __init__(self, app: App, letters: Letters) -> None:
        self.app = app
        self.letters = letters
        # The day the digest was last found due (the daemon keeps one Pipeline): with when_empty =
        # "skip" nothing is queued, and it would otherwise be rebuilt at every cycle.
        self.digest_tried: date | None = None

    def follow_up(self, report: CycleReport) -> None:
        """What time alone sets off: unproven command mails, the review reminder, satisfaction requests.

        Each item in a transaction of its own: one that fails (a claimant's address no mail can
        carry, an archived mail gone missing) is set aside with its reason, logged once, and the
        others and the sending that follows go on.
        """
        app = self.app
        now = app.clock()
        grace = timedelta(minutes=app.settings.director.proof_grace_minutes)
        with app.store.unit() as unit:
            unproven = unit.mails_with_outcome(MailOutcome.AWAITING_PROOF, received_before=now - grace)
        for record in unproven:
            self._each_item(
                f"suspicious mail from {record.from_address}",
                partial(self._declare_suspicious, record=record, now=now),
                partial(self._suspicious_set_aside, record=record),
            )
        self._each_item(
            "reminder to review the procedure",
            partial(self._remind_review, now=now),
            partial(self._reminder_set_aside, now=now),
        )
        feedback = app.settings.feedback
        if not feedback.enabled:
            return
        with app.store.unit() as unit:
            due = unit.cases_due_for_feedback(now - timedelta(days=feedback.delay_days), feedback.kinds)
        for case in due:
            self._each_item(
                f"satisfaction request for case {case.number}",
                partial(self._request_feedback, case=case, now=now),
                partial(self._feedback_set_aside, case=case, now=now),
            )

    def _each_item(self, what: str, job: Callable[[Unit], None], set_aside: Callable[[Unit, str], None]) -> None:
        """Run one item of a scheduled job in its own transaction; if it fails, record why instead.

        `set_aside` must leave the item where it is not tried again at once, so that its failure is
        logged once, not at every cycle. A database that is unavailable stops the job, as it stops
        everything else.
        """
        try:
            with self.app.store.unit() as unit:
                job(unit)
        except Exception as exc:  # noqa: BLE001 - one bad item must not stop the others
            if isinstance(exc, SQLAlchemyError) and not tied_to_its_data(exc):
                raise
            reason = f"{type(exc).__name__}: {exc}"
            log.exception("%s set aside: %s", what, reason)
            with self.app.store.unit() as unit:
                set_aside(unit, reason)

    def _declare_suspicious(self, unit: Unit, record: MailRecord, now: datetime) -> None:
        unit.set_mail_outcome(record.message_key, MailOutcome.SUSPICIOUS, "no proof that the director wrote it")
        log.warning("mail from %s claiming to be the director's was never proven: suspicious", record.from_address)
        settings = self.app.settings.director
        if not settings.notify:
            return
        # Bounded: a stranger must not make us mail her once per forged mail. The digest lists
        # every suspicious mail anyway.
        if (
            unit.queued_since("suspicious_notice", local_midnight(now, self.app.settings.organisation.timezone))
            >= settings.suspicious_notices_per_day
        ):
            return
        from inboxbot.reading.parse import parse  # the reading stack: only when a suspicious mail is told
        from inboxbot.reading.quotes import commands_in

        mail = parse(self.app.archive.read(record.archive_path))
        lines = [clamp(c.line, NOTICE_LINE_CHARS) for c in commands_in(mail.text, mail.html, record.subject)]
        self.letters.to_director(
            unit,
            "suspicious_notice",
            now,
            sender=record.from_address or "",
            subject=clamp(record.subject, ECHOED_SUBJECT_CHARS),
            received_at=record.received_at,
            lines=lines[:NOTICE_LINES],
            more_lines=max(len(lines) - NOTICE_LINES, 0),
            limit=settings.suspicious_notices_per_day,
        )

    @staticmethod
    def _suspicious_set_aside(unit: Unit, reason: str, record: MailRecord) -> None:
        """Suspicious all the same (the digest lists it so), without the notice that failed."""
        unit.set_mail_outcome(
            record.message_key, MailOutcome.SUSPICIOUS, f"no proof that the director wrote it; {reason}"
        )

    @staticmethod
    def _reminder_set_aside(unit: Unit, reason: str, now: datetime) -> None:
        unit.set_runtime("review_reminder", reason, now)  # tried again in a month, like a reminder sent

    def _request_feedback(self, unit: Unit, case: Case, now: datetime) -> None:
        self.letters.to_claimant(unit, case, "satisfaction_request", now)
        unit.update_case(case.id, feedback_requested_at=now)
        unit.add_event(case.id, now, "inboxbot", "feedback-requested", case.claimant or "")
        log.info("satisfaction request queued for case %s", case.number)

    def _feedback_set_aside(self, unit: Unit, reason: str, case: Case, now: datetime) -> None:
        """Never asked again; the digest lists it among the failed mails, for her to ask herself."""
        unit.update_case(case.id, feedback_requested_at=now)
        unit.queue_impossible(
            OutgoingDraft(
                message_id=new_message_id(self.app.settings.smtp.from_address),
                case_id=case.id,
                purpose="satisfaction_request",
                recipient=case.claimant or "",
                subject="",
                raw=b"",
            ),
            f"demande d'avis non envoyée (erreur interne) : {reason}",
            now,
        )

    def send_digest_if_due(self) -> None:
        """Queue today's digest once its time has come; a failure here never blocks the mail."""
        app = self.app
        now = app.clock()
        today = now.astimezone(app.settings.organisation.timezone).date()
        if self.digest_tried == today:
            return  # with when_empty = "skip" nothing is queued, and it would be rebuilt every cycle
        try:
            if digest_due(app, now):
                self.digest_tried = today
                queue_digest(app, now)
        except SQLAlchemyError:
            raise
        except Exception:  # noqa: BLE001 - one failing job must not stop the others
            log.exception("the digest could not be built")

    def _remind_review(self, unit: Unit, now: datetime) -> None:
        """The procedure asks for a yearly review: remind her once a month while it is overdue."""
        app = self.app
        today = now.astimezone(app.settings.organisation.timezone).date()
        last = last_procedure_review(unit, app.settings)
        if last is not None and today - last <= timedelta(days=365):
            return
        reminded = unit.runtime().get("review_reminder")
        if reminded is not None and now - reminded[1] < timedelta(days=30):
            return
        self.letters.to_director(unit, "review_reminder", now, last_review=last)
        unit.set_runtime("review_reminder", "", now)
        log.info("reminder to review the procedure queued (last review: %s)", last or "unknown")
