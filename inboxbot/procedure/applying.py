"""A decision carried out: the case opened or continued, the commands obeyed, the mail recorded.

Each kind of decision has its own step, found in a table built once; every mail then shares one
tail, its record in the log of mails (with the words, rules and claimant the digest shows) and the
files it carried. All of it in the transaction of the mail's group.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, ClassVar

from inboxbot.adapters.archive import StoredMail
from inboxbot.adapters.imap import FetchedMail
from inboxbot.bootstrap import App
from inboxbot.domain.conversation import case_tag
from inboxbot.domain.decide import (
    Attach,
    AwaitProof,
    Decision,
    Ignore,
    Join,
    Obey,
    OpenCase,
    PutBefore,
    claimant_of,
)
from inboxbot.domain.mail_commands import COMMAND_HELP, Command
from inboxbot.domain.message import Address, ParsedMail
from inboxbot.domain.vocabulary import Channel, Direction, Kind, MailOutcome
from inboxbot.outgoing.letters import Letters
from inboxbot.procedure.bookkeeping import CycleReport
from inboxbot.procedure.casework import Casework, Outcome
from inboxbot.procedure.forwards import EXCERPT_CHARS, Forwards, Located
from inboxbot.procedure.intake import Thread, open_case
from inboxbot.procedure.reader import MailReader, Reading
from inboxbot.reading.parse import ParseError, parse
from inboxbot.reading.quotes import commands_in, new_text
from inboxbot.reading.satisfaction import read_feedback
from inboxbot.store.repository import MailRecord, Unit

log = logging.getLogger(__name__)

SUMMARY_CHARS = 500
# A mail's own text as the exchange log keeps it: whole, as the register promises; the bound only
# keeps a hostile mail's megabytes of text out of the database (the archive keeps the mail whole).
LOGGED_TEXT_CHARS = 100_000


@dataclass(frozen=True)
class AtHand:
    """The mail being applied and where it goes: what every decision's step may need."""

    unit: Unit
    reading: Reading
    fetched: FetchedMail
    stored: StoredMail
    key: str
    report: CycleReport
    fresh: str | None  # its own words without quoted history, when the decision needs them
    now: datetime

    @property
    def mail(self) -> ParsedMail:
        return self.reading.facts.mail

    @property
    def summary(self) -> str:
        """What its record keeps of its text."""
        return self.fresh if self.fresh is not None else self.mail.text


@dataclass(frozen=True)
class Applied:
    """What a decision's own step leaves for the tail every mail shares: its record and report."""

    case_id: int | None = None
    direction: Direction = Direction.IN
    reason: str = ""
    outcomes: Sequence[Outcome] = ()
    # For the mail's record: whom a case or a candidate is about, of what kind, through which channel.
    about: Address | None = None
    kind: Kind | None = None
    channel: Channel | None = None
    excerpt: str | None = None  # None: the recognizer's, if it read the mail
    notes: tuple[str, ...] | None = None  # None: the recognizer's, if it read the mail
    rules_hit: tuple[str, ...] | None = None  # None: the rules' verdict's
    joined_to: int | None = None  # the candidate a follow-up joins


class Applier:
    def __init__(self, app: App, letters: Letters, casework: Casework, reader: MailReader, forwards: Forwards) -> None:
        self.app = app
        self.letters = letters
        self.casework = casework
        self.reader = reader
        self.forwards = forwards
        self.tz = app.settings.organisation.timezone

    def apply(
        self,
        unit: Unit,
        decision: Decision,
        reading: Reading,
        fetched: FetchedMail,
        stored: StoredMail,
        key: str,
        report: CycleReport,
        already_recorded: bool,
    ) -> None:
        """Carry out `decision` for the mail, then record it: the step its kind needs, the shared tail."""
        now = self.app.clock()
        facts = reading.facts
        mail = facts.mail
        # The mail's own words without quoted history: costly (a reply parser), so read once.
        fresh = self.reader.own_words(mail)
        if fresh is None and isinstance(decision, (OpenCase, Attach, PutBefore, Join)):
            fresh = new_text(mail.text, mail.html)
        at = AtHand(unit, reading, fetched, stored, key, report, fresh, now)
        done = self.HANDLERS[type(decision)](self, at, decision)
        case_id, direction, reason, outcomes = done.case_id, done.direction, done.reason, done.outcomes
        if outcomes:
            self._report_commands(unit, outcomes, reading, mail, now)
        summary = at.summary
        if already_recorded:
            # Her mail, seen unproven in the inbox, now proven by its copy in Sent: what it carries
            # joins the case now, as it would have had the copy in Sent come first.
            mail_id = unit.set_mail_outcome(
                key, decision.outcome, reason, case_id, direction, summary.strip()[:LOGGED_TEXT_CHARS]
            )
            if case_id is not None and mail_id is not None:
                self._keep_attachments(unit, case_id, mail_id, mail, stored, fetched)
            return
        recognition = facts.recognition
        excerpt = done.excerpt if done.excerpt is not None else recognition.excerpt if recognition is not None else ""
        notes = done.notes if done.notes is not None else recognition.notes if recognition is not None else ()
        claimant = done.about
        mail_id = unit.record_mail(
            replace(
                _record_of(key, mail, fetched, stored, summary, decision.outcome, case_id, direction),
                reason="; ".join(filter(None, [reason, *mail.defects])),
                automatic=facts.automatic,
                rules_hit=done.rules_hit if done.rules_hit is not None else facts.verdict.hits,
                kind=done.kind,
                channel=done.channel,
                words=recognition.reasons if recognition is not None else (),
                score=recognition.score if recognition is not None else None,
                excerpt=excerpt,
                notes=notes,
                spam=facts.spam or "",
                claimant=claimant.email if claimant is not None else None,
                claimant_name=claimant.name if claimant is not None else "",
                joined_to=done.joined_to,
            ),
            now,
        )
        if case_id is not None:
            self._keep_attachments(unit, case_id, mail_id, mail, stored, fetched)

    def _open(self, at: AtHand, decision: OpenCase) -> Applied:
        mail, unit = at.mail, at.unit
        located = self.forwards.located(mail)
        if at.reading.facts.original is None:
            located = None
        author = located.original.author if located is not None else None
        received_from = author.email if author else None
        case_id, number = self._open_case(unit, decision, mail, at.fresh or "", at.now, received_from)
        if located is not None:
            self._file_original(unit, located, case_id, number, at.fetched, at.stored, at.key, at.now)
        at.report.opened.append(number)
        outcomes: Sequence[Outcome] = ()
        if decision.obey:
            # Commands in the mail that opens a case are about that case.
            tag = case_tag(self.app.settings.organisation.case_label, number)
            outcomes = self.casework.carry_out(
                unit, commands_in(mail.text, mail.html, tag), at.fetched.internaldate, _who(mail), at.now
            )
        return Applied(
            case_id,
            reason=decision.note,
            outcomes=outcomes,
            about=decision.claimant,
            kind=decision.kind,
            channel=decision.channel,
        )

    def _attach(self, at: AtHand, decision: Attach) -> Applied:
        mail, unit, fetched = at.mail, at.unit, at.fetched
        case_id, direction, reason = decision.case.id, decision.direction, decision.note
        if decision.purpose == "note":
            unit.add_event(case_id, fetched.internaldate, _who(mail), "mail:note", mail.subject)
        else:
            unit.add_event(case_id, fetched.internaldate, _who(mail), f"mail:{direction}", reason or mail.subject)
        self._follow_attach(unit, decision, mail, at.fresh or "", fetched, at.now)
        log.info("mail from %s added to case %s%s", _who(mail), decision.case.number, f" ({reason})" if reason else "")
        return Applied(case_id, direction, reason)

    def _obey(self, at: AtHand, decision: Obey) -> Applied:
        reading = at.reading
        outcomes = self.casework.carry_out(at.unit, reading.commands, at.fetched.internaldate, _who(at.mail), at.now)
        return Applied(reason=reading.proof, outcomes=outcomes)

    def _await_proof(self, at: AtHand, decision: AwaitProof) -> Applied:
        log.info("mail from %s with commands waits for proof that it is the director's", _who(at.mail))
        return Applied(reason="claims to be the director's: waiting for its copy in Sent or an authentication result")

    def _put_before(self, at: AtHand, decision: PutBefore) -> Applied:
        log.info("mail from %s put before the director: %s", _who(at.mail), decision.note)
        return Applied(
            reason=decision.note,
            about=decision.claimant,
            kind=decision.kind,
            channel=decision.channel,
            excerpt=decision.excerpt or " ".join(at.summary.split())[:EXCERPT_CHARS],
            notes=decision.notes,
            rules_hit=decision.rules_hit,
        )

    def _join(self, at: AtHand, decision: Join) -> Applied:
        log.info("mail from %s %s", _who(at.mail), decision.note)
        return Applied(reason=decision.note, joined_to=decision.pending.mail_id)

    def _ignore(self, at: AtHand, decision: Ignore) -> Applied:
        log.info("mail from %s not registered: %s (%s)", _who(at.mail), decision.outcome, decision.reason)
        facts = at.reading.facts
        if decision.outcome == MailOutcome.TRIAGE and facts.mail.from_ is not None:
            # Left for her by a rule: #ouvrir opens it as it would a candidate, so keep whom it is about.
            verdict = facts.verdict
            return Applied(
                reason=decision.reason,
                about=claimant_of(facts),
                kind=verdict.kind,
                channel=verdict.channel or Channel.EMAIL,
            )
        return Applied(reason=decision.reason)

    # Each kind of decision's own step, before the tail every mail shares (its record); built once.
    # A decision kind missing here fails its first mail, and the test that every kind has a step.
    HANDLERS: ClassVar[dict[type, Callable[[Applier, AtHand, Any], Applied]]] = {
        OpenCase: _open,
        Attach: _attach,
        Obey: _obey,
        AwaitProof: _await_proof,
        PutBefore: _put_before,
        Join: _join,
        Ignore: _ignore,
    }

    def _keep_attachments(
        self, unit: Unit, case_id: int, mail_id: int, mail: ParsedMail, stored: StoredMail, fetched: FetchedMail
    ) -> None:
        """The files a mail of a case carried, archived beside it within the configured bounds."""
        if mail.attachments_left_out:
            note = (
                f"more than {self.app.settings.storage.max_attachments} attachments: "
                f"{len(mail.attachments)} kept; the others ({mail.attachments_left_out} parts or winmail.dat "
                "remainders) are only in the archived mail"
            )
            unit.add_event(case_id, fetched.internaldate, "inboxbot", "attachments-over-limit", note)
            log.warning("case %s: %s", case_id, note)
        limit = self.app.settings.storage.max_attachment_bytes
        for index, attachment in enumerate(mail.attachments, start=1):
            size = len(attachment.payload)
            if size > limit:
                note = (
                    f"attachment {attachment.filename} ({size} bytes) is over the {limit}-byte limit: "
                    "kept only in the archived mail"
                )
                unit.add_event(case_id, fetched.internaldate, "inboxbot", "attachment-too-large", note)
                log.warning("case %s: %s", case_id, note)
                continue
            # Synced with the group's mails, before the commit that records them.
            path = self.app.archive.store_attachment(
                stored.sha256, index, attachment.filename, attachment.payload, fetched.internaldate, durable=False
            )
            unit.add_attachment(mail_id, attachment.filename, attachment.content_type, size, str(path))

    def _file_original(
        self,
        unit: Unit,
        located: Located,
        case_id: int,
        number: str,
        forward: FetchedMail,
        stored: StoredMail,
        forward_key: str,
        now: datetime,
    ) -> None:
        """The original of her forward put first in the case's exchange log, with where it was found.

        Already read: its record joins the case. Found in her mailbox only: fetched, archived and
        recorded as read now. Nowhere: the copy her forward holds (author, date, text) is logged,
        its archive being the forward's, and the history says the original was not found.
        """
        tz = self.tz
        if located.key is not None:
            unit.set_mail_outcome(
                located.key, MailOutcome.OPENED, f"original of the director's forward: case {number}", case_id
            )
            detail = "parmi les messages déjà lus"
        elif located.fetched is not None:
            self._record_original(unit, located.fetched, case_id, number, now)
            detail = f"dans le dossier {located.fetched.folder} de la boîte"
        else:
            forwarded = located.forwarded
            when = located.original.received_at or forward.internaldate
            unit.record_mail(
                MailRecord(
                    message_key=f"{forward_key}#forwarded-original",
                    message_id=forwarded.message_id,
                    case_id=case_id,
                    direction=Direction.IN,
                    folder=forward.folder,
                    uidvalidity=forward.uidvalidity,
                    uid=forward.uid,
                    received_at=when,
                    header_date=forwarded.date,
                    from_address=located.original.author.email if located.original.author else None,
                    from_name=located.original.author.name if located.original.author else "",
                    to_addresses="",
                    subject=forwarded.subject,
                    summary=forwarded.text.strip()[:LOGGED_TEXT_CHARS],
                    archive_path=str(stored.path),
                    sha256=stored.sha256,
                    size=stored.size,
                    outcome=MailOutcome.OPENED,
                    reason="copy of the original held by the director's forward; the original was not found",
                    automatic=None,
                    rules_hit=(),
                ),
                now,
            )
            return
        received = located.original.received_at or forward.internaldate
        unit.add_event(
            case_id, now, "inboxbot", "original-found", f"{detail}, reçu le {received.astimezone(tz):%d/%m/%Y à %H:%M}"
        )

    def _record_original(self, unit: Unit, fetched: FetchedMail, case_id: int, number: str, now: datetime) -> None:
        """A mail of her mailbox inboxbot had not read (it came before the first start), read now for a case."""
        stored = self.app.archive.store(fetched.raw, fetched.internaldate, durable=False)
        try:
            original = parse(fetched.raw, max_attachments=self.app.settings.storage.max_attachments)
        except ParseError:
            return  # archived all the same; the case's history says where it was found
        key = original.message_id or f"sha256:{stored.sha256}"
        if unit.mail_outcome(key) is not None:
            unit.set_mail_outcome(
                key, MailOutcome.OPENED, f"original of the director's forward: case {number}", case_id
            )
            return
        summary = new_text(original.text, original.html)
        unit.record_mail(
            replace(
                _record_of(key, original, fetched, stored, summary, MailOutcome.OPENED, case_id, Direction.IN),
                reason=f"original of the director's forward, found in her mailbox: case {number}",
            ),
            now,
        )

    def _follow_attach(
        self, unit: Unit, decision: Attach, mail: ParsedMail, fresh: str, fetched: FetchedMail, now: datetime
    ) -> None:
        """What a continuing mail sets off besides its place in the log."""
        case = unit.case(decision.case.id)
        if decision.purpose == "feedback":
            feedback = read_feedback(fresh)
            unit.update_case(
                case.id,
                satisfaction_mark=feedback.mark,
                satisfaction_comment=feedback.comment[:2000],
                satisfaction_at=fetched.internaldate,
            )
            unit.add_event(case.id, fetched.internaldate, _who(mail), "feedback", f"{feedback.mark or '?'}/5")
        elif decision.purpose == "director" and decision.direction == Direction.OUT:
            recipients = [address.email for address in (*mail.to, *mail.cc)]
            self.casework.her_mail_out(unit, case, fetched.internaldate, recipients)
        elif decision.purpose == "closed_case" and self.app.settings.director.notify:
            excerpt = fresh.strip()[:SUMMARY_CHARS]
            self.letters.to_director(unit, "closed_case_notice", now, case=case, sender=_who(mail), excerpt=excerpt)

    def _report_commands(
        self, unit: Unit, outcomes: Sequence[Outcome], reading: Reading, mail: ParsedMail, now: datetime
    ) -> None:
        for outcome in outcomes:
            log.info("command %r %s: %s", outcome.line, "obeyed" if outcome.obeyed else "refused", outcome.message)
        asked_help = any(isinstance(c, Command) and c.name == "help" for c in reading.commands)
        self.letters.to_director(
            unit,
            "command_report",
            now,
            in_reply_to=mail.message_id,
            obeyed=[o for o in outcomes if o.obeyed],
            refused=[o for o in outcomes if not o.obeyed],
            help=COMMAND_HELP if asked_help else "",
        )

    def _open_case(
        self, unit: Unit, decision: OpenCase, mail: ParsedMail, fresh: str, now: datetime, author: str | None = None
    ) -> tuple[int, str]:
        # The acknowledgement threads under the claimant's own mail.
        references = (*mail.references, *([mail.message_id] if mail.message_id else []))
        return open_case(
            unit,
            self.letters,
            self.app.settings,
            decision,
            author or _who(mail),  # who the claim was received from: the original's author, for her forward
            now,
            thread=Thread(in_reply_to=mail.message_id, references=references),
            description=fresh.strip()[:SUMMARY_CHARS],
        )


def _record_of(
    key: str,
    mail: ParsedMail,
    fetched: FetchedMail,
    stored: StoredMail,
    summary: str,
    outcome: MailOutcome,
    case_id: int | None,
    direction: Direction,
) -> MailRecord:
    """A mail read from the mailbox as the log of mails keeps it; the caller adds why, and what was read in it."""
    return MailRecord(
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
        summary=summary.strip()[:LOGGED_TEXT_CHARS],
        archive_path=str(stored.path),
        sha256=stored.sha256,
        size=stored.size,
        outcome=outcome,
        reason="",
        automatic=None,
        rules_hit=(),
    )


def _who(mail: ParsedMail) -> str:
    return mail.from_.email if mail.from_ else "(no sender)"
