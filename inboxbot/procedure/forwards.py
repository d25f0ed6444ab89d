"""Claims passed on: a third party's forward of someone else's claim, and the original of hers.

A venue or a trainer who forwards a claim made to them is its transmitter, its author the claimant.
When the director forwards a claim to herself, the case belongs to the original's author and is dated
by the server's reception of the original, looked up among the mails read, then in her mailbox.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from inboxbot.adapters.imap import FetchedMail, FoundMail, Mailbox
from inboxbot.bootstrap import App
from inboxbot.domain.decide import FROM_FORWARDED_HEADER, Original, Policy, Recognition, bounded_notes
from inboxbot.domain.mailboxes import mailbox_key
from inboxbot.domain.message import Address, ParsedMail
from inboxbot.domain.rules import Verdict
from inboxbot.domain.vocabulary import Channel, RuleAction
from inboxbot.reading.forward import ForwardedMail, extract_forwarded, same_subject, says_forwarded
from inboxbot.reading.parse import ParseError, parse
from inboxbot.reading.quotes import new_text
from inboxbot.reading.recognition import Assessment
from inboxbot.store.repository import MailRecord, Unit

EXCERPT_CHARS = 300  # what the digest quotes of a mail put before the director
NO_VERDICT = Verdict(action=None, kind=None, nature=None, priority=None, channel=None, hits=())
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


def recognition_of(assessed: Assessment) -> Recognition:
    """What the recognizer read, as `decide` and the mail's record take it."""
    return Recognition(
        outcome=assessed.outcome,
        kind=assessed.kind,
        score=float(assessed.score),
        reasons=tuple(assessed.reasons),
        excerpt=" ".join(assessed.excerpt.split())[:EXCERPT_CHARS],
        notes=bounded_notes(assessed.notes),
    )


def is_reporter(app: App, unit: Unit, address: str) -> bool:
    """A trainer or partner of the config, or whoever already sent a tagged report."""
    return address in app.settings.people.reporters or unit.reported_incident(address)


def forward_author(policy: Policy, forwarded: ForwardedMail | None) -> Address | None:
    """The forwarded mail's author, unless it is the organisation itself: then nobody is known."""
    if forwarded is None or forwarded.author.email in policy.own_addresses:
        return None
    return forwarded.author


class Forwards:
    def __init__(self, app: App) -> None:
        self.app = app
        self.tz: ZoneInfo = app.settings.organisation.timezone
        self.directors = frozenset(app.settings.director.addresses)
        # The connection the folder being read comes through: where her forwards' originals are looked for.
        self.mailbox: Mailbox | None = None
        # The original the director's forward at hand passes on, once looked for.
        self._located: tuple[ParsedMail, Located | None] | None = None

    def located(self, mail: ParsedMail) -> Located | None:
        """The original found for `mail`, if it was looked for."""
        return self._located[1] if self._located is not None and self._located[0] is mail else None

    def transmission(self, unit: Unit, mail: ParsedMail, verdict: Verdict, spam: bool) -> Transmission | None:
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
        if (
            sender is None
            or verdict.action not in (None, RuleAction.CLAIM)
            or verdict.channel not in (None, Channel.EMAIL)
        ):
            return None
        if not says_forwarded(mail):
            return None
        forwarded = extract_forwarded(mail, self.tz)
        author = forward_author(self.app.policy, forwarded)
        if forwarded is None or author is None or mailbox_key(author.email) == mailbox_key(sender.email):
            return None
        reporter = is_reporter(self.app, unit, sender.email)
        recognizer = self.app.recognizer if self.app.settings.imap.mode == "shared" else None
        if recognizer is None:
            return Transmission(forwarded, None) if reporter and verdict.action == RuleAction.CLAIM else None
        outer = recognizer.assess("", new_text(mail.text, mail.html), sender_is_reporter=reporter, spam=spam)
        if outer.opens_on_words:
            return None  # the forwarder's own grievance, the forwarded mail its evidence
        inner = recognizer.assess(forwarded.subject, forwarded.text, sender_is_reporter=False, spam=spam)
        if inner.outcome == "leave" and not (reporter and verdict.action == RuleAction.CLAIM):
            return None
        return Transmission(forwarded, recognition_of(inner))

    def locate(self, unit: Unit, mail: ParsedMail, forwarded_at: datetime) -> Located | None:
        """The mail the director's forward passes on: among the mails read, else in her mailbox.

        Attached, it is looked for by its Message-ID; copied inline, by its author, its subject and
        its Date. Found, the case is dated by the server's reception of it (and, if it was itself a
        third party's transmission, belongs to the claim it passed on); not found, by the date its
        forwarded header gives, said so, or by the forward itself. Looked for once per mail.
        """
        if self._located is not None and self._located[0] is mail:
            return self._located[1]
        forwarded = extract_forwarded(mail, self.tz)
        located = self._find_original(unit, mail, forwarded, forwarded_at) if forwarded is not None else None
        self._located = (mail, located)
        return located

    def _find_original(self, unit: Unit, mail: ParsedMail, forwarded: ForwardedMail, forwarded_at: datetime) -> Located:
        author = forward_author(self.app.policy, forwarded)
        record = self._original_read(unit, mail, forwarded, author)
        if record is not None and record.received_at <= forwarded_at:
            raw = self._archived(record.archive_path)
            original = self._original(unit, raw, record.received_at, author)
            if record.case_id is not None and record.message_id is not None:
                original = replace(original, case=unit.case_for_message_ids([record.message_id]))
            return Located(original, forwarded, key=record.message_key)
        found = self._original_in_mailbox(mail, forwarded, author, forwarded_at)
        fetched = self.mailbox.fetch_found(found) if found is not None and self.mailbox is not None else None
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
        mailbox = self.mailbox
        if mailbox is None:
            return None
        folders = [folder.name for folder in mailbox.watched_folders()]
        if forwarded.message_id is not None:
            found = mailbox.find_mails(folders, message_id=forwarded.message_id)
        elif author is not None and forwarded.date is not None:
            day = forwarded.date.astimezone(self.tz).date()
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
                passed_on = self.transmission(unit, mail, NO_VERDICT, spam=False)
                claimant = forward_author(self.app.policy, passed_on.forwarded) if passed_on is not None else None
                if claimant is not None:
                    return Original(claimant, received_at, None, channel=Channel.THIRD_PARTY, transmitter=mail.from_)
                author = self._author_of(mail) or author
        return Original(author=author, received_at=received_at, received_from=None)

    def _author_of(self, mail: ParsedMail) -> Address | None:
        if mail.from_ is None or mail.from_.email in self.app.policy.own_addresses:
            return None
        return mail.from_
