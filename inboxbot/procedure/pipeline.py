"""One cycle of the program: fetch what is new, turn each mail into its outcome, send the outbox.

For each mail: archive the raw bytes (before anything can fail on them), parse, skip it if already
known, find the case it continues, ask the rules, decide, then write the mail, the case, its
history, the queued acknowledgement and the folder's progress in one transaction. Sending happens
after the commit, from the outbox. Any step can be interrupted and re-run without losing or doubling.
"""

from __future__ import annotations

import logging
import time as time_module
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from functools import partial
from typing import Any, ClassVar, TextIO
from zoneinfo import ZoneInfo

from sqlalchemy.exc import SQLAlchemyError

from inboxbot.adapters.archive import StoredMail
from inboxbot.adapters.imap import FetchedMail, FoundMail, Mailbox, WatchedFolder
from inboxbot.bootstrap import App
from inboxbot.domain.cases import Case
from inboxbot.domain.conversation import case_tag, find_thread
from inboxbot.domain.decide import (
    FROM_FORWARDED_HEADER,
    INBOX,
    Attach,
    AwaitProof,
    Decision,
    Facts,
    Ignore,
    Join,
    Obey,
    OpenCase,
    Original,
    Pending,
    Policy,
    PutBefore,
    Recognition,
    claimant_of,
    decide,
    decide_in_her_name,
)
from inboxbot.domain.decide import SENT as SENT_ROLE
from inboxbot.domain.mail_commands import COMMAND_HELP, Command, Refusal, named_numbers, parse_commands
from inboxbot.domain.mailboxes import mailbox_key
from inboxbot.domain.message import Address, ParsedMail
from inboxbot.domain.outages import READING, SENDING
from inboxbot.domain.rules import RuleContext, Verdict
from inboxbot.domain.text import clamp
from inboxbot.outgoing.letters import ECHOED_SUBJECT_CHARS, Letters
from inboxbot.outgoing.outbox import SendResult, backoff, is_inboxbot_message_id, new_message_id, retry_at
from inboxbot.procedure.casework import Casework, Outcome, last_procedure_review
from inboxbot.procedure.digest import digest_due, queue_digest
from inboxbot.procedure.intake import Thread, open_case
from inboxbot.procedure.outages import OutageBook
from inboxbot.procedure.sentcopy import save_sent_copies
from inboxbot.reading.automatic import LOOP_HEADER, automatic_reason, bounced_message_ids
from inboxbot.reading.forward import ForwardedMail, extract_forwarded, same_subject, says_forwarded
from inboxbot.reading.parse import ParseError, parse
from inboxbot.reading.proof import dmarc_failure, prove_sender, spam_mark
from inboxbot.reading.quotes import new_text
from inboxbot.reading.satisfaction import read_feedback
from inboxbot.reading.webform import FormSubmission, form_plugin, read_form
from inboxbot.store.repository import (
    FolderState,
    MailRecord,
    OutgoingDraft,
    Unit,
    mail_reference,
    tied_to_its_data,
)

log = logging.getLogger(__name__)

SUMMARY_CHARS = 500
# A mail's own text as the exchange log keeps it: whole, as the register promises; the bound only
# keeps a hostile mail's megabytes of text out of the database (the archive keeps the mail whole).
LOGGED_TEXT_CHARS = 100_000
EXCERPT_CHARS = 300  # what the digest quotes of a mail put before the director
# A suspicious notice quotes this many of the forged mail's command lines, each this long at most.
NOTICE_LINES = 30
NOTICE_LINE_CHARS = 200
OUTBOX_BATCH = 500
# Mails committed together: enough to make the commit and the archive sync cheap per mail, few
# enough that the first acknowledgements of a storm leave within a second or so.
GROUP_MAILS = 50
GROUP_BYTES = 32 << 20
UNPROVEN = ("awaiting_proof", "suspicious")
NO_VERDICT = Verdict(action=None, kind=None, nature=None, priority=None, channel=None, hits=())


@dataclass(frozen=True)
class Reading:
    """A mail as understood before deciding: the facts `decide` needs, and its commands."""

    facts: Facts
    commands: tuple[Command | Refusal, ...]
    proof: str  # why it is known to be the director's, or ""
    # For a mail in her name that nothing proves hers: it read as anyone's (`facts` is it read as hers).
    as_stranger: Facts | None = None

    def decision(self, policy: Policy) -> tuple[Decision, Reading]:
        """What to do with the mail, and the reading the decision rests on."""
        if self.as_stranger is None:
            return decide(self.facts, policy), self
        decision = decide_in_her_name(self.facts, self.as_stranger, policy)
        if isinstance(decision, AwaitProof):
            return decision, self
        return decision, Reading(self.as_stranger, (), "")


# How far apart the Date a forwarded header block shows and the original's Date header may be:
# clients print minutes, not seconds, and some only the hour's zone of the one who forwards.
FORWARDED_DATE_TOLERANCE = timedelta(minutes=5)


@dataclass(frozen=True)
class Located:
    """The mail the director's forward passes on, as found: what `decide` gets (`original`) and
    where it is, for the case's exchange log to start with it."""

    original: Original
    forwarded: ForwardedMail
    key: str | None = None  # its record among the mails already read
    fetched: FetchedMail | None = None  # fetched from her mailbox, where inboxbot had not read it


@dataclass(frozen=True)
class Transmission:
    """A third party's mail passing on someone else's claim: who wrote it, and what it says."""

    forwarded: ForwardedMail
    recognition: Recognition | None  # what the recognizer read in the forwarded mail, when asked


@dataclass
class CycleReport:
    fetched: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    opened: list[str] = field(default_factory=list)
    sent: int = 0
    send_failures: int = 0


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
    direction: str = "in"
    reason: str = ""
    outcomes: Sequence[Outcome] = ()
    # For the mail's record: whom a case or a candidate is about, of what kind, through which channel.
    about: Address | None = None
    kind: str | None = None
    channel: str | None = None
    excerpt: str | None = None  # None: the recognizer's, if it read the mail
    rules_hit: tuple[str, ...] | None = None  # None: the rules' verdict's
    joined_to: int | None = None  # the candidate a follow-up joins


class _MailFailed(Exception):
    """A mail processed without a savepoint failed inside inboxbot: its group must be done again."""

    def __init__(self, folder: str, uid: int) -> None:
        super().__init__(f"mail UID {uid} in {folder} failed")
        self.folder = folder
        self.uid = uid


class Pipeline:
    def __init__(
        self,
        app: App,
        on_mail: Callable[[FetchedMail, str], None] | None = None,
        should_stop: Callable[[], bool] = lambda: False,
        progress: Callable[[str, int, int], None] | None = None,
    ) -> None:
        self.app = app
        self.progress = progress
        self.digest_tried: date | None = None
        self.letters = Letters(app.settings, app.renderer)
        self.casework = Casework(app.settings, self.letters, app.policy)
        # The new text of the mail at hand once read for the recognizer, kept for its record.
        self._fresh: tuple[ParsedMail, str] | None = None
        # The original the director's forward at hand passes on, once looked for.
        self._located: tuple[ParsedMail, Located | None] | None = None
        # The connection the folder being read comes through: where her forwards' originals are looked for.
        self._mailbox: Mailbox | None = None
        self.directors = frozenset(app.settings.director.addresses)
        self.on_mail = on_mail
        self.should_stop = should_stop
        # Consecutive sending rounds that found the SMTP server unreachable (the daemon keeps one
        # Pipeline): how long to wait before the next try.
        self.smtp_unreachable = 0
        self.outages = OutageBook(app)

    # -- folders ---------------------------------------------------------------------------

    def poll(self, mailbox: Mailbox, report: CycleReport, mailbox_for: Callable[[str], Mailbox] | None = None) -> None:
        """Read every watched folder; through `mailbox_for(folder)` when each has a connection of its own."""
        for folder in mailbox.watched_folders():
            if self.should_stop():
                return
            self.sync_folder(mailbox_for(folder.name) if mailbox_for else mailbox, folder, report)

    def sync_folder(self, mailbox: Mailbox, folder: WatchedFolder, report: CycleReport) -> None:
        self._mailbox = mailbox
        try:
            self._sync_folder(mailbox, folder, report)
        finally:
            self._mailbox = None

    def _sync_folder(self, mailbox: Mailbox, folder: WatchedFolder, report: CycleReport) -> None:
        now = self.app.clock()
        status = mailbox.examine(folder.name)
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
        if old:
            # Mail that was there before inboxbot met the folder (or before a UIDVALIDITY change):
            # only what arrived after the cutoff, and never what the retention period has purged.
            retention = now - timedelta(days=366 * self.app.settings.storage.retention_years)
            cutoff = max(state.cutoff or retention, retention)
            dates = mailbox.internaldates(old)
            skipped = {uid for uid in old if dates.get(uid, cutoff) < cutoff}
            uids = [uid for uid in uids if uid not in skipped]
        done = 0
        for group in _groups(mailbox.fetch(folder.name, state.uidvalidity, uids)):
            processed = self._process_group(group, folder.role, report)
            for fetched, outcome in processed:
                done += 1
                report.fetched += 1
                report.outcomes[outcome] += 1
                if self.on_mail is not None:
                    self.on_mail(fetched, outcome)
                if self.progress is not None:
                    self.progress(folder.name, done, len(uids))
            if len(processed) < len(group):
                return  # asked to stop: every mail done so far is committed; the rest is read next time
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

    def _process_group(
        self, group: Sequence[FetchedMail], role: str, report: CycleReport
    ) -> list[tuple[FetchedMail, str]]:
        """Process mails in one transaction; what became of each.

        One commit (and one archive sync) per group instead of per mail: in a mail storm the
        per-mail commit and fsync cost more than everything else together. A crash loses only
        the group's uncommitted work, which the next cycle reads again from the server.

        The group is first processed without a savepoint per mail (they cost as much as a tenth of
        processing a mail); if a mail fails inside inboxbot, nothing of that attempt is kept and the
        group is processed again, each mail in its own savepoint, so that the failing one alone is
        set aside.
        """
        opened = len(report.opened)
        try:
            return self._process_together(group, role, report, alone=False)
        except _MailFailed as failed:
            del report.opened[opened:]
            log.warning(
                "mail UID %s in %s failed: its group of %d mail(s) is processed again, each mail on its own",
                failed.uid,
                failed.folder,
                len(group),
            )
        except SQLAlchemyError as exc:
            # The commit itself refused what one of the mails wrote; which one, only mails on
            # their own can tell.
            if not tied_to_its_data(exc):
                raise
            del report.opened[opened:]
            log.warning(
                "the database refused a group of %d mail(s) from %s (%s): processed again, each mail on its own",
                len(group),
                group[0].folder,
                type(exc).__name__,
            )
        return self._process_together(group, role, report, alone=True)

    def _process_together(
        self, group: Sequence[FetchedMail], role: str, report: CycleReport, alone: bool
    ) -> list[tuple[FetchedMail, str]]:
        processed: list[tuple[FetchedMail, str]] = []
        with self.app.store.unit() as unit:
            for fetched in group:
                if self.should_stop():
                    break
                processed.append((fetched, self.process(unit, fetched, role, report, alone=alone)))
            if processed:
                unit.advance_folder(group[0].folder, processed[-1][0].uid)
            # The archived files must be on disk before the commit that says they are archived.
            self.app.archive.sync()
        return processed

    def process(self, unit: Unit, fetched: FetchedMail, role: str, report: CycleReport, alone: bool = True) -> str:
        """What became of one mail. `alone`: in a savepoint, so that if it fails inside inboxbot it
        is set aside and the unit goes on; otherwise such a failure raises `_MailFailed`."""
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
                raise _MailFailed(fetched.folder, fetched.uid) from exc
            log.exception("mail UID %s in %s could not be processed", fetched.uid, fetched.folder)
            return self._set_aside(unit, fetched, stored, f"internal error: {type(exc).__name__}: {exc}")

    def _process_parsed(
        self, unit: Unit, fetched: FetchedMail, stored: StoredMail, mail: ParsedMail, role: str, report: CycleReport
    ) -> str:
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
            return "duplicate"
        decision, reading = self._read(unit, mail, fetched, role).decision(self.app.policy)
        self._apply(unit, decision, reading, fetched, stored, key, report, already_recorded=seen is not None)
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

    def _read(self, unit: Unit, mail: ParsedMail, fetched: FetchedMail, role: str) -> Reading:
        """Everything known about the mail before deciding: threading, rules, proof, commands.

        Her authority comes from proof, never from the From header: a mail in her name is read
        as hers only once proven (her Sent folder, or her receiving server's authentication).
        Unproven, it is read twice, as hers and as anyone's, for `decide_in_her_name` to give it
        no more than anyone's mail gets unless her proof comes.
        """
        settings = self.app.settings
        sender = mail.from_.email if mail.from_ else None
        # Ours only by what only we put there; another inboxbot's loop header is merely automatic.
        # Every Message-ID in the outbox is made by new_message_id, so its prefix is enough.
        own = (mail.header(LOOP_HEADER) or "").strip().lower() == settings.smtp.from_address or (
            mail.message_id is not None and is_inboxbot_message_id(mail.message_id)
        )
        automatic = automatic_reason(mail)
        # A website form's notification is a machine's mail about a person's claim: its no-reply
        # sender or "auto-generated" mark does not make the claim automatic (bounces, loops,
        # out-of-office replies and lists still do).
        web_form = not own and role != SENT_ROLE and form_plugin(mail) is not None
        if web_form and automatic is not None and _form_may_be_automatic(automatic):
            automatic = None
        bounced = bounced_message_ids(mail, fetched.raw) if automatic else ()
        in_her_name = sender is not None and sender in self.directors
        proof = ""
        if in_her_name and role == SENT_ROLE:
            proof = "its copy is in the director's Sent folder"
        elif in_her_name and sender is not None:
            checked = prove_sender(mail, sender, settings.director.authserv_ids)
            proof = checked.reason if checked.proven else ""
        recipients = [a.email for a in (*mail.to, *mail.cc)]
        to_self = bool(recipients) and all(r in self.app.policy.own_addresses for r in recipients)
        common = Facts(
            mail=mail,
            folder_role=role,
            received_at=fetched.internaldate,
            thread=None,
            verdict=NO_VERDICT,
            own=own,
            automatic=automatic,
            to_self=to_self,
            # Only her notes need it; every Message-ID inboxbot makes says so by its prefix.
            answers_inboxbot=to_self and any(is_inboxbot_message_id(mid) for mid in mail.thread_ids),
            dmarc_fail=dmarc_failure(mail, settings.director.authserv_ids) if role != SENT_ROLE else "",
        )
        if not in_her_name:
            return Reading(self._view(unit, common, bounced, as_hers=False, web_form=web_form), (), "")
        commands = tuple(parse_commands(mail.text, mail.subject)) if to_self and not own else ()
        as_hers = self._view(
            unit, replace(common, proven=bool(proof), has_commands=bool(commands)), bounced, True, web_form=web_form
        )
        if proof:
            return Reading(as_hers, commands, proof)
        as_stranger = self._view(unit, common, bounced, as_hers=False, unproven=True, web_form=web_form)
        return Reading(as_hers, commands, "", as_stranger=as_stranger)

    def _view(
        self,
        unit: Unit,
        common: Facts,
        bounced: Sequence[str],
        as_hers: bool,
        unproven: bool = False,
        web_form: bool = False,
    ) -> Facts:
        """The facts of a mail read as the director's (`as_hers`) or as anyone's; `unproven`: its
        From names her but is not to be believed, so it takes part in no case as her."""
        mail, role = common.mail, common.folder_role
        thread = find_thread(
            mail,
            unit,
            self.directors if as_hers else (),
            bounced,
            unproven=unproven,
            named_numbers=named_numbers(mail.subject) if as_hers else (),
        )
        foreign = None
        if thread is not None and not thread.sender_participates and common.automatic is None and role != SENT_ROLE:
            # Message-IDs can be forged: a stranger naming someone else's case does not join it.
            foreign, thread = thread.case, None
        verdict = self.app.rules.evaluate(
            RuleContext(
                mail=mail,
                from_director=as_hers,
                known_case=thread is not None,
                automatic=common.automatic is not None,
                web_form=web_form,
            )
        )
        closed = thread is not None and thread.case.status != "open"
        form = read_form(mail) if verdict.channel == "form" else None
        # A stranger's own mail (not hers, proven or not): what the receiving server and the
        # recognizer say of it.
        human = not as_hers and not unproven and not common.own and common.automatic is None and role == INBOX
        spam = spam_mark(mail, self.app.settings.director.authserv_ids) if human else None
        forwarded: ForwardedMail | None = None
        original: Original | None = None
        transmission = None
        if human and thread is None and foreign is None:
            transmission = self._transmission(unit, mail, verdict, spam is not None)
        if transmission is not None:
            # Passed on by a third party: the claim is its author's, the forwarder its transmitter.
            forwarded = transmission.forwarded
            verdict = replace(verdict, channel="third_party", hits=(*verdict.hits, "transmitted-by-third-party"))
        elif verdict.channel == "third_party" and thread is None and not common.own:
            located = self._locate(unit, mail, common.received_at) if as_hers else None
            original = located.original if located is not None else None
            forwarded = located.forwarded if located is not None else extract_forwarded(mail, self._tz)
        facts = replace(
            common,
            thread=thread,
            verdict=verdict,
            from_director=as_hers,
            forwarded_author=self._author(forwarded),
            original=original,
            form_claimant=form.claimant if form is not None else None,
            answers_feedback_request=closed and "satisfaction_request" in unit.outbox_purposes(mail.thread_ids),
            foreign_case=foreign,
            spam=spam,
        )
        if transmission is not None and verdict.action is None:
            facts = replace(facts, recognition=transmission.recognition)
        elif human and thread is None and foreign is None and verdict.action is None:
            facts = replace(facts, recognition=self._recognise(unit, mail, form, spam is not None))
            if facts.recognition is not None:
                facts = replace(facts, pending=self._pending(unit, mail))
        claimant = claimant_of(facts) if thread is None and common.automatic is None and not common.own else None
        midnight = self._local_midnight(self.app.clock())
        if transmission is not None and mail.from_ is not None:
            facts = replace(facts, thanks_today=unit.acknowledgements_since(mailbox_key(mail.from_.email), midnight))
        if claimant is None:
            return facts
        # The cap is counted on whom the acknowledgement would reach, every spelling of it together.
        count = unit.acknowledgements_since(mailbox_key(claimant.email), midnight)
        cap = self.app.policy.daily_cap_total
        total = unit.acknowledgements_since(None, midnight, at_most=cap) if cap else 0
        return replace(facts, acknowledgements_today=count, acknowledgements_today_total=total)

    @property
    def _tz(self) -> ZoneInfo:
        return self.app.settings.organisation.timezone

    def _author(self, forwarded: ForwardedMail | None) -> Address | None:
        """The forwarded mail's author, unless it is the organisation itself: then nobody is known."""
        if forwarded is None or forwarded.author.email in self.app.policy.own_addresses:
            return None
        return forwarded.author

    # -- claims passed on ------------------------------------------------------------------

    def _transmission(self, unit: Unit, mail: ParsedMail, verdict: Verdict, spam: bool) -> Transmission | None:
        """Whether a stranger's mail passes on someone else's claim, rather than making one.

        A venue, a partner or a trainer forwards a claim made to them: its author is the claimant.
        But a claimant also forwards mail, as evidence of their own grievance, and acknowledging the
        author of that evidence (a trainer, a colleague) is the worse mistake. So a forward is a
        transmission only when the claim is in the forwarded mail and the forwarder's own words make
        none (« je vous transmets la réclamation de… » names a claim, it does not make one), or when
        a known trainer or partner forwards what the rules call a claim. An incident stays its
        reporter's, and a mail a rule gave another channel (a form) keeps it.
        """
        sender = mail.from_
        if sender is None or verdict.action not in (None, "claim") or verdict.channel not in (None, "email"):
            return None
        if not says_forwarded(mail):
            return None
        forwarded = extract_forwarded(mail, self._tz)
        author = self._author(forwarded)
        if forwarded is None or author is None or mailbox_key(author.email) == mailbox_key(sender.email):
            return None
        people = self.app.settings.people
        reporter = sender.email in people.reporters or unit.reported_incident(sender.email)
        recognizer = self.app.recognizer if self.app.settings.imap.mode == "shared" else None
        if recognizer is None:
            return Transmission(forwarded, None) if reporter and verdict.action == "claim" else None
        outer = recognizer.assess("", new_text(mail.text, mail.html), sender_is_reporter=reporter, spam=spam)
        if outer.outcome == "open":
            return None  # the forwarder's own grievance, the forwarded mail its evidence
        inner = recognizer.assess(forwarded.subject, forwarded.text, sender_is_reporter=False, spam=spam)
        if inner.outcome == "leave" and not (reporter and verdict.action == "claim"):
            return None
        recognition = Recognition(
            outcome=inner.outcome,
            kind=inner.kind,
            score=float(inner.score),
            reasons=tuple(inner.reasons),
            excerpt=" ".join(inner.excerpt.split())[:EXCERPT_CHARS],
        )
        return Transmission(forwarded, recognition)

    def _locate(self, unit: Unit, mail: ParsedMail, forwarded_at: datetime) -> Located | None:
        """The mail the director's forward passes on: among the mails read, else in her mailbox.

        Attached, it is looked for by its Message-ID; copied inline, by its author, its subject and
        its Date. Found, the case is dated by the server's reception of it (and, if it was itself a
        third party's transmission, belongs to the claim it passed on); not found, by the date its
        forwarded header gives, said so, or by the forward itself. Looked for once per mail.
        """
        if self._located is not None and self._located[0] is mail:
            return self._located[1]
        forwarded = extract_forwarded(mail, self._tz)
        located = self._find_original(unit, mail, forwarded, forwarded_at) if forwarded is not None else None
        self._located = (mail, located)
        return located

    def _find_original(self, unit: Unit, mail: ParsedMail, forwarded: ForwardedMail, forwarded_at: datetime) -> Located:
        author = self._author(forwarded)
        record = self._original_read(unit, mail, forwarded, author)
        if record is not None and record.received_at <= forwarded_at:
            raw = self._archived(record.archive_path)
            original = self._original(unit, raw, record.received_at, author)
            if record.case_id is not None and record.message_id is not None:
                original = replace(original, case=unit.case_for_message_ids([record.message_id]))
            return Located(original, forwarded, key=record.message_key)
        found = self._original_in_mailbox(mail, forwarded, author, forwarded_at)
        fetched = self._mailbox.fetch_found(found) if found is not None and self._mailbox is not None else None
        if fetched is not None:
            original = self._original(unit, fetched.raw, fetched.internaldate, author)
            return Located(original, forwarded, fetched=fetched)
        # Nowhere to be found: the date its header gives, unless it would follow the forward.
        header_date = forwarded.date if forwarded.date is not None and forwarded.date <= forwarded_at else None
        original = Original(author=author, received_at=header_date, received_from=FROM_FORWARDED_HEADER)
        return Located(original, forwarded)

    def _original_read(
        self, unit: Unit, mail: ParsedMail, forwarded: ForwardedMail, author: Address | None
    ) -> MailRecord | None:
        if forwarded.message_id is not None:
            record = unit.mail_with_message_id(forwarded.message_id)
            if record is None or forwarded.message_id == mail.message_id:
                return None
            # A Message-ID is anyone's to copy: the mail read under it must be the same author's.
            return record if author is None or record.from_address == author.email else None
        if author is None or forwarded.date is None:
            return None
        candidates = unit.mails_from_dated(
            author.email, forwarded.date - FORWARDED_DATE_TOLERANCE, forwarded.date + FORWARDED_DATE_TOLERANCE
        )
        return next((c for c in candidates if same_subject(c.subject, forwarded.subject)), None)

    def _original_in_mailbox(
        self, mail: ParsedMail, forwarded: ForwardedMail, author: Address | None, forwarded_at: datetime
    ) -> FoundMail | None:
        """The original in the folders inboxbot reads: one server-side SEARCH per folder, bounded."""
        mailbox = self._mailbox
        if mailbox is None:
            return None
        folders = [folder.name for folder in mailbox.watched_folders()]
        if forwarded.message_id is not None:
            found = mailbox.find_mails(folders, message_id=forwarded.message_id)
        elif author is not None and forwarded.date is not None:
            day = forwarded.date.astimezone(self._tz).date()
            found = mailbox.find_mails(folders, sender=author.email, sent_on=day)
        else:
            return None
        for candidate in sorted(found, key=lambda f: f.internaldate):
            if candidate.internaldate > forwarded_at:
                continue
            try:
                headers = parse(candidate.headers)
            except ParseError:
                continue
            if headers.message_id is not None and headers.message_id == mail.message_id:
                continue  # the forward itself
            same_author = headers.from_ is not None and headers.from_.email == (author.email if author else None)
            if forwarded.message_id is not None and (author is None or same_author):
                return candidate
            near = headers.date is not None and forwarded.date is not None
            if (
                near
                and abs(headers.date - forwarded.date) <= FORWARDED_DATE_TOLERANCE  # type: ignore[operator]
                and same_subject(headers.subject, forwarded.subject)
                and same_author
            ):
                return candidate
        return None

    def _archived(self, path: str) -> bytes | None:
        try:
            return self.app.archive.read(path)
        except (OSError, ValueError):
            return None

    def _original(self, unit: Unit, raw: bytes | None, received_at: datetime, author: Address | None) -> Original:
        """The original as found: itself a third party's transmission, or a claim of its author's."""
        if raw is not None:
            try:
                mail = parse(raw)
            except ParseError:
                mail = None
            if mail is not None and mail.from_ is not None and mail.from_.email not in self.directors:
                passed_on = self._transmission(unit, mail, NO_VERDICT, spam=False)
                claimant = self._author(passed_on.forwarded) if passed_on is not None else None
                if claimant is not None:
                    return Original(claimant, received_at, None, channel="third_party", transmitter=mail.from_)
                author = self._author_of(mail) or author
        return Original(author=author, received_at=received_at, received_from=None)

    def _author_of(self, mail: ParsedMail) -> Address | None:
        if mail.from_ is None or mail.from_.email in self.app.policy.own_addresses:
            return None
        return mail.from_

    def _pending(self, unit: Unit, mail: ParsedMail) -> Pending | None:
        """The candidate still « à qualifier » this mail continues: its thread's, else its author's.

        A trainer or a partner writes about many sessions: their next mail is only a follow-up when
        it answers in the thread, never for being theirs."""
        sender = mail.from_.email if mail.from_ else None
        if sender is not None and self._is_reporter(unit, sender):
            sender = None
        found = unit.pending_candidate(mail.thread_ids, sender)
        if found is None or found[0].id is None:
            return None
        candidate_id = found[0].id
        return Pending(candidate_id, mail_reference(candidate_id), same_thread=found[1])

    def _is_reporter(self, unit: Unit, address: str) -> bool:
        """A trainer or partner of the config, or whoever already sent a tagged report."""
        return address in self.app.settings.people.reporters or unit.reported_incident(address)

    def _recognise(self, unit: Unit, mail: ParsedMail, form: FormSubmission | None, spam: bool) -> Recognition | None:
        """What the recognizer reads in the mail's own words, in shared mode; None otherwise."""
        recognizer = self.app.recognizer
        if recognizer is None or self.app.settings.imap.mode != "shared":
            return None
        # Its own words, as the exchange log keeps them: quotes and signatures are not its claim.
        fresh = new_text(mail.text, mail.html)
        self._fresh = (mail, fresh)
        claimant = mail.from_.email if mail.from_ else None
        words = fresh
        if form is not None:
            # The person who filled the form in wrote the message field; the rest is the plugin's.
            claimant = form.claimant.email if form.claimant else None
            words = form.message or fresh
        reporter = claimant is not None and self._is_reporter(unit, claimant)
        assessed = recognizer.assess(mail.subject, words, sender_is_reporter=reporter, spam=spam)
        return Recognition(
            outcome=assessed.outcome,
            kind=assessed.kind,
            score=float(assessed.score),
            reasons=tuple(assessed.reasons),
            excerpt=" ".join(assessed.excerpt.split())[:EXCERPT_CHARS],
        )

    def _apply(
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
        now = self.app.clock()
        facts = reading.facts
        mail = facts.mail
        # The mail's own words without quoted history: costly (a reply parser), so read once.
        fresh = self._fresh[1] if self._fresh is not None and self._fresh[0] is mail else None
        self._fresh = None
        if fresh is None and isinstance(decision, (OpenCase, Attach, PutBefore, Join)):
            fresh = new_text(mail.text, mail.html)
        at = AtHand(unit, reading, fetched, stored, key, report, fresh, now)
        done = self.HANDLERS[type(decision)](self, at, decision)
        case_id, direction, reason, outcomes = done.case_id, done.direction, done.reason, done.outcomes
        if outcomes:
            self._report_commands(unit, outcomes, reading, mail, now)
        summary = fresh if fresh is not None else mail.text
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
        located = self._located[1] if self._located is not None and self._located[0] is mail else None
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
                unit, parse_commands(mail.text, tag), at.fetched.internaldate, _who(mail), at.now
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
            rules_hit=decision.rules_hit,
        )

    def _join(self, at: AtHand, decision: Join) -> Applied:
        log.info("mail from %s %s", _who(at.mail), decision.note)
        return Applied(reason=decision.note, joined_to=decision.pending.mail_id)

    def _ignore(self, at: AtHand, decision: Ignore) -> Applied:
        log.info("mail from %s not registered: %s (%s)", _who(at.mail), decision.outcome, decision.reason)
        facts = at.reading.facts
        if decision.outcome == "triage" and facts.mail.from_ is not None:
            # Left for her by a rule: #ouvrir opens it as it would a candidate, so keep whom it is about.
            verdict = facts.verdict
            return Applied(
                reason=decision.reason, about=claimant_of(facts), kind=verdict.kind, channel=verdict.channel or "email"
            )
        return Applied(reason=decision.reason)

    # Each kind of decision's own step, before the tail every mail shares (its record); built once.
    # A decision kind missing here fails its first mail, and the test that every kind has a step.
    HANDLERS: ClassVar[dict[type, Callable[[Pipeline, AtHand, Any], Applied]]] = {
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
        tz = self._tz
        if located.key is not None:
            unit.set_mail_outcome(located.key, "opened", f"original of the director's forward: case {number}", case_id)
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
                    direction="in",
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
                    outcome="opened",
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
            unit.set_mail_outcome(key, "opened", f"original of the director's forward: case {number}", case_id)
            return
        summary = new_text(original.text, original.html)
        unit.record_mail(
            replace(
                _record_of(key, original, fetched, stored, summary, "opened", case_id, "in"),
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
        elif decision.purpose == "director" and decision.direction == "out":
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

    def _set_aside(self, unit: Unit, fetched: FetchedMail, stored: StoredMail, reason: str) -> str:
        log.warning("mail UID %s in %s set aside: %s", fetched.uid, fetched.folder, reason)
        key = f"sha256:{stored.sha256}"
        if unit.mail_outcome(key) is None:
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
        return "set_aside"

    # -- bookkeeping -----------------------------------------------------------------------

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

    # -- follow-up -------------------------------------------------------------------------

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
            unproven = unit.mails_with_outcome("awaiting_proof", received_before=now - grace)
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
        unit.set_mail_outcome(record.message_key, "suspicious", "no proof that the director wrote it")
        log.warning("mail from %s claiming to be the director's was never proven: suspicious", record.from_address)
        settings = self.app.settings.director
        if not settings.notify:
            return
        # Bounded: a stranger must not make us mail her once per forged mail. The digest lists
        # every suspicious mail anyway.
        if unit.queued_since("suspicious_notice", self._local_midnight(now)) >= settings.suspicious_notices_per_day:
            return
        raw = self.app.archive.read(record.archive_path)
        lines = [clamp(c.line, NOTICE_LINE_CHARS) for c in parse_commands(parse(raw).text, record.subject)]
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
        unit.set_mail_outcome(record.message_key, "suspicious", f"no proof that the director wrote it; {reason}")

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

    def send_what_waits(self, report: CycleReport) -> None:
        """The jobs that follow reading, in the order that lets each one's mail leave in this cycle:
        follow-up, the digest, then the outbox."""
        self.follow_up(report)
        self.send_digest_if_due()
        self.flush_outbox(report)

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

    def _local_midnight(self, now: datetime) -> datetime:
        """The start of the organisation's day `now` falls in: daily bounds are counted from it."""
        tz = self.app.settings.organisation.timezone
        return datetime.combine(now.astimezone(tz).date(), time(0), tz)

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

    # -- the outbox ------------------------------------------------------------------------

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


def _groups(
    mails: Iterable[FetchedMail], count: int = GROUP_MAILS, size: int = GROUP_BYTES
) -> Iterator[list[FetchedMail]]:
    """The fetched mails in groups of at most `count` mails or about `size` bytes."""
    group: list[FetchedMail] = []
    total = 0
    for mail in mails:
        group.append(mail)
        total += len(mail.raw)
        if len(group) >= count or total >= size:
            yield group
            group, total = [], 0
    if group:
        yield group


def _record_of(
    key: str,
    mail: ParsedMail,
    fetched: FetchedMail,
    stored: StoredMail,
    summary: str,
    outcome: str,
    case_id: int | None,
    direction: str,
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


def _authored(mail: ParsedMail) -> tuple[object, ...]:
    """What the author of a mail wrote, the same in every copy the servers deliver of it."""
    return (mail.from_.email if mail.from_ else None, mail.subject, mail.text.strip())


def _form_may_be_automatic(reason: str) -> bool:
    """Whether `reason` is only what every form notification looks like (a no-reply sender, an
    "auto-generated" mark), not a sign of an automatic reply, a report or a list."""
    folded = reason.lower()
    return folded.endswith("(no-reply address)") or folded.startswith("auto-submitted: auto-generated")


def _who(mail: ParsedMail) -> str:
    return mail.from_.email if mail.from_ else "(no sender)"


class TerminalProgress:
    """A progress line for a long first ingest, redrawn in place; only for a person at a terminal."""

    MINIMUM = 50  # below this many mails a cycle is over before a progress line helps

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.started = time_module.monotonic()

    def __call__(self, folder: str, done: int, total: int) -> None:
        if total < self.MINIMUM:
            return
        if done == 1:
            self.started = time_module.monotonic()
        rate = done / max(time_module.monotonic() - self.started, 1e-6)
        end = "\n" if done == total else ""
        self.stream.write(f"\r{folder}: {done}/{total} mails ({rate:.0f}/s){end}")
        self.stream.flush()


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
