"""One cycle of the program: fetch what is new, turn each mail into its outcome, send the outbox.

For each mail: archive the raw bytes (before anything can fail on them), parse, skip it if already
known, find the case it continues, ask the rules, decide, then write the mail, the case, its
history, the queued acknowledgement and the folder's progress in one transaction. Sending happens
after the commit, from the outbox. Any step can be interrupted and re-run without losing or doubling.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, time

from sqlalchemy.exc import SQLAlchemyError

from inboxbot.archive import StoredMail
from inboxbot.automatic import LOOP_HEADER, automatic_reason, bounced_message_ids
from inboxbot.bootstrap import App
from inboxbot.conversation import case_tag, find_thread
from inboxbot.decide import Attach, Decision, Facts, Ignore, OpenCase, decide
from inboxbot.mailbox import FetchedMail, Mailbox, WatchedFolder
from inboxbot.message import Address, ParsedMail
from inboxbot.outbox import SendResult, compose, is_inboxbot_message_id, new_message_id, retry_at
from inboxbot.parse import ParseError, parse
from inboxbot.render import PersonView, case_view
from inboxbot.rules import RuleContext
from inboxbot.store.repository import FolderState, MailRecord, OutgoingDraft, Unit

log = logging.getLogger(__name__)

SUMMARY_CHARS = 500


@dataclass
class CycleReport:
    fetched: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    opened: list[str] = field(default_factory=list)
    sent: int = 0
    send_failures: int = 0


class Pipeline:
    def __init__(
        self,
        app: App,
        on_mail: Callable[[FetchedMail, str], None] | None = None,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> None:
        self.app = app
        self.directors = frozenset(app.settings.director.addresses)
        self.on_mail = on_mail
        self.should_stop = should_stop

    # -- folders ---------------------------------------------------------------------------

    def poll(self, mailbox: Mailbox, report: CycleReport) -> None:
        for folder in mailbox.watched_folders():
            if self.should_stop():
                return
            self.sync_folder(mailbox, folder, report)

    def sync_folder(self, mailbox: Mailbox, folder: WatchedFolder, report: CycleReport) -> None:
        status = mailbox.examine(folder.name)
        now = self.app.clock()
        with self.app.store.unit() as unit:
            state = unit.folder(folder.name)
            if state is None:
                state = self._first_meeting(mailbox, folder.name, status.uidvalidity, status.uidnext, now)
            elif state.uidvalidity != status.uidvalidity:
                log.warning(
                    "folder %s: UIDVALIDITY changed from %s to %s; reading it again, known mails are skipped",
                    folder.name,
                    state.uidvalidity,
                    status.uidvalidity,
                )
                state = replace(state, uidvalidity=status.uidvalidity, baseline_uid=status.uidnext - 1, last_uid=0)
            state = replace(state, last_poll_at=now)
            unit.save_folder(state)

        found = mailbox.uids_above(state.last_uid)
        if not found:
            return
        uids = found
        old = [uid for uid in uids if uid <= state.baseline_uid]
        if old and state.cutoff is not None:
            # Mail that was there before inboxbot met the folder: only what arrived after the cutoff.
            dates = mailbox.internaldates(old)
            skipped = {uid for uid in old if dates.get(uid, state.cutoff) < state.cutoff}
            uids = [uid for uid in uids if uid not in skipped]
        for fetched in mailbox.fetch(folder.name, state.uidvalidity, uids):
            if self.should_stop():
                return  # every mail done so far is committed; the rest is read next time
            report.fetched += 1
            outcome = self.process(fetched, folder.role, report)
            report.outcomes[outcome] += 1
            if self.on_mail is not None:
                self.on_mail(fetched, outcome)
        with self.app.store.unit() as unit:
            unit.advance_folder(folder.name, max(found))

    def _first_meeting(self, mailbox: Mailbox, name: str, uidvalidity: int, uidnext: int, now: datetime) -> FolderState:
        """Record where the folder stood when inboxbot first met it, and how far back to read."""
        since = self.app.settings.imap.ingest_since
        baseline = uidnext - 1
        if since is None:
            log.info("folder %s: first met; mail already there is left alone, new mail is read", name)
            # To the second, like INTERNALDATE: a mail arriving in this very second counts as new.
            cutoff = now.replace(microsecond=0)
            return FolderState(name, uidvalidity, baseline, baseline, cutoff=cutoff, first_seen_at=now)
        cutoff = datetime.combine(since, time(0), self.app.settings.organisation.timezone)
        candidates = [uid for uid in mailbox.uids_since(since) if uid <= baseline]
        last_uid = (min(candidates) - 1) if candidates else baseline
        log.info("folder %s: first met; reading %d mail(s) received since %s", name, len(candidates), since)
        return FolderState(name, uidvalidity, baseline, last_uid, cutoff=cutoff, first_seen_at=now)

    # -- one mail --------------------------------------------------------------------------

    def process(self, fetched: FetchedMail, role: str, report: CycleReport) -> str:
        stored = self.app.archive.store(fetched.raw, fetched.internaldate)
        try:
            mail = parse(fetched.raw)
        except ParseError as exc:
            return self._set_aside(fetched, stored, str(exc))
        try:
            return self._process_parsed(fetched, stored, mail, role, report)
        except SQLAlchemyError:
            raise  # the database is unavailable: stop the cycle, this mail is read again next time
        except Exception as exc:  # noqa: BLE001 - one bad mail must not stop the daemon
            log.exception("mail UID %s in %s could not be processed", fetched.uid, fetched.folder)
            return self._set_aside(fetched, stored, f"internal error: {type(exc).__name__}: {exc}")

    def _process_parsed(
        self, fetched: FetchedMail, stored: StoredMail, mail: ParsedMail, role: str, report: CycleReport
    ) -> str:
        app = self.app
        key = mail.message_id or f"sha256:{stored.sha256}"
        with app.store.unit() as unit:
            if unit.has_mail(key):
                unit.advance_folder(fetched.folder, fetched.uid)
                return "duplicate"
            decision, rules_hit, automatic = self._decide(unit, mail, fetched, role)
            self._apply(unit, decision, mail, fetched, stored, key, rules_hit, automatic, report)
            unit.advance_folder(fetched.folder, fetched.uid)
        return decision.outcome

    def _decide(
        self, unit: Unit, mail: ParsedMail, fetched: FetchedMail, role: str
    ) -> tuple[Decision, tuple[str, ...], str | None]:
        app = self.app
        sender = mail.from_.email if mail.from_ else None
        # Ours only by what only we put there; another inboxbot's loop header is merely automatic.
        own = (mail.header(LOOP_HEADER) or "").strip().lower() == app.settings.smtp.from_address or (
            mail.message_id is not None
            and (is_inboxbot_message_id(mail.message_id) or unit.is_own_message_id(mail.message_id))
        )
        automatic = automatic_reason(mail)
        bounced = bounced_message_ids(mail, fetched.raw) if automatic else ()
        thread = find_thread(mail, unit, self.directors, bounced)
        from_director = sender in self.directors
        verdict = app.rules.evaluate(
            RuleContext(
                mail=mail, from_director=from_director, known_case=thread is not None, automatic=automatic is not None
            )
        )
        acknowledgements_today = 0
        if sender is not None:
            tz = app.settings.organisation.timezone
            local_midnight = datetime.combine(app.clock().astimezone(tz).date(), time(0), tz)
            acknowledgements_today = unit.acknowledgements_since(sender, local_midnight)
        facts = Facts(
            mail=mail,
            folder_role=role,
            received_at=fetched.internaldate,
            thread=thread,
            verdict=verdict,
            own=own,
            automatic=automatic,
            from_director=from_director,
            acknowledgements_today=acknowledgements_today,
        )
        return decide(facts, app.policy), verdict.hits, automatic

    def _apply(
        self,
        unit: Unit,
        decision: Decision,
        mail: ParsedMail,
        fetched: FetchedMail,
        stored: StoredMail,
        key: str,
        rules_hit: tuple[str, ...],
        automatic: str | None,
        report: CycleReport,
    ) -> None:
        now = self.app.clock()
        case_id: int | None = None
        direction = "in"
        reason = ""
        if isinstance(decision, OpenCase):
            case_id, number = self._open_case(unit, decision, mail, now)
            report.opened.append(number)
            reason = decision.note
        elif isinstance(decision, Attach):
            case_id, direction, reason = decision.case.id, decision.direction, decision.note
            unit.add_event(case_id, fetched.internaldate, _who(mail), f"mail:{direction}", reason or mail.subject)
            log.info(
                "mail from %s added to case %s%s", _who(mail), decision.case.number, f" ({reason})" if reason else ""
            )
        elif isinstance(decision, Ignore):
            reason = decision.reason
            log.info("mail from %s not registered: %s (%s)", _who(mail), decision.outcome, reason)
        mail_id = unit.record_mail(
            MailRecord(
                message_key=key,
                message_id=mail.message_id,
                case_id=case_id,
                direction=direction,
                folder=fetched.folder,
                uidvalidity=fetched.uidvalidity,
                uid=fetched.uid,
                received_at=fetched.internaldate,
                header_date=mail.date,
                from_address=mail.from_.email if mail.from_ else None,
                from_name=mail.from_.name if mail.from_ else "",
                to_addresses=", ".join(a.email for a in (*mail.to, *mail.cc)),
                subject=mail.subject,
                summary=mail.text.strip()[:SUMMARY_CHARS],
                archive_path=str(stored.path),
                sha256=stored.sha256,
                size=stored.size,
                outcome=decision.outcome,
                reason="; ".join(filter(None, [reason, *mail.defects])),
                automatic=automatic,
                rules_hit=rules_hit,
            ),
            now,
        )
        if case_id is not None:
            for index, attachment in enumerate(mail.attachments, start=1):
                path = self.app.archive.store_attachment(
                    stored.sha256, index, attachment.filename, attachment.payload, fetched.internaldate
                )
                unit.add_attachment(
                    mail_id, attachment.filename, attachment.content_type, len(attachment.payload), str(path)
                )

    def _open_case(self, unit: Unit, decision: OpenCase, mail: ParsedMail, now: datetime) -> tuple[int, str]:
        settings = self.app.settings
        year = decision.received_at.astimezone(settings.organisation.timezone).year
        number = unit.next_case_number(year)
        claimant = decision.claimant
        case_id = unit.open_case(
            number=number,
            kind=decision.kind,
            channel=decision.channel,
            claimant=claimant.email if claimant else None,
            claimant_name=claimant.name if claimant else "",
            subject=decision.subject,
            received_at=decision.received_at,
            acknowledge_due=decision.acknowledge_due,
            response_due=decision.response_due,
            nature=decision.nature,
            priority=decision.priority,
            rules_hit=decision.rules_hit,
            now=now,
        )
        unit.add_event(case_id, decision.received_at, _who(mail), "received", decision.subject)
        unit.add_event(case_id, now, "inboxbot", "opened", ", ".join(decision.rules_hit) or settings.imap.mode)
        log.info(
            "case %s opened (%s) from %s: %s",
            number,
            decision.kind,
            claimant.email if claimant else "?",
            decision.subject,
        )
        if decision.acknowledgement is not None and claimant is not None:
            self._queue_acknowledgement(unit, decision, number, case_id, claimant, mail, now)
        elif decision.note:
            unit.add_event(case_id, now, "inboxbot", "not-acknowledged", decision.note)
        return case_id, number

    def _queue_acknowledgement(
        self,
        unit: Unit,
        decision: OpenCase,
        number: str,
        case_id: int,
        claimant: Address,
        mail: ParsedMail,
        now: datetime,
    ) -> None:
        settings = self.app.settings
        assert decision.acknowledgement is not None
        rendered = self.app.renderer.mail(
            decision.acknowledgement,
            case=case_view(
                number=number,
                tag=case_tag(settings.organisation.case_label, number),
                kind=decision.kind,
                subject=decision.subject,
                received_at=decision.received_at,
                acknowledge_due=decision.acknowledge_due,
                response_due=decision.response_due,
            ),
            claimant=PersonView(email=claimant.email, name=claimant.name),
            organisation=settings.organisation,
        )
        message_id = new_message_id(settings.smtp.from_address)
        raw = compose(
            sender=Address(settings.smtp.from_address, settings.smtp.from_name),
            recipient=claimant,
            rendered=rendered,
            message_id=message_id,
            date=now,
            in_reply_to=mail.message_id,
            references=(*mail.references, *([mail.message_id] if mail.message_id else [])),
        )
        unit.queue(
            OutgoingDraft(
                message_id=message_id,
                case_id=case_id,
                purpose=decision.acknowledgement,
                recipient=claimant.email,
                subject=rendered.subject,
                raw=raw,
            ),
            now,
        )

    def _set_aside(self, fetched: FetchedMail, stored: StoredMail, reason: str) -> str:
        log.warning("mail UID %s in %s set aside: %s", fetched.uid, fetched.folder, reason)
        with self.app.store.unit() as unit:
            key = f"sha256:{stored.sha256}"
            if not unit.has_mail(key):
                unit.record_mail(
                    MailRecord(
                        message_key=key,
                        message_id=None,
                        case_id=None,
                        direction="in",
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
                        outcome="set_aside",
                        reason=reason,
                        automatic=None,
                        rules_hit=(),
                    ),
                    self.app.clock(),
                )
            unit.advance_folder(fetched.folder, fetched.uid)
        return "set_aside"

    # -- the outbox ------------------------------------------------------------------------

    def flush_outbox(self, report: CycleReport) -> None:
        app = self.app
        with app.store.unit() as unit:
            due = unit.due_outgoing(app.clock(), app.settings.smtp.from_address)
        if not due:
            return
        attempts = {mail.id: mail.attempts for mail in due}
        recipients = {mail.id: mail.recipient for mail in due}

        def record(result: SendResult) -> None:
            now = app.clock()
            with app.store.unit() as unit:
                if result.accepted:
                    unit.mark_sent(result.outgoing_id, now)
                    report.sent += 1
                    log.info("mail sent to %s", recipients[result.outgoing_id])
                    return
                later = (
                    None if result.permanent else retry_at(app.settings.outbox, attempts[result.outgoing_id] + 1, now)
                )
                unit.mark_attempt_failed(result.outgoing_id, result.error, now, later)
            report.send_failures += 1
            log.warning(
                "sending to %s failed%s: %s",
                recipients[result.outgoing_id],
                "" if later else " for good",
                result.error,
            )

        app.sender().send(due, record)


def _who(mail: ParsedMail) -> str:
    return mail.from_.email if mail.from_ else "(no sender)"


def run_once(app: App, on_mail: Callable[[FetchedMail, str], None] | None = None) -> CycleReport:
    """One full cycle: every watched folder read, every mail processed, the outbox sent."""
    report = CycleReport()
    pipeline = Pipeline(app, on_mail)
    with app.store.instance_lock():
        with app.mailbox() as mailbox:
            pipeline.poll(mailbox, report)
        pipeline.flush_outbox(report)
    return report
