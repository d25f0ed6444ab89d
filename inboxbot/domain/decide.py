"""The pure core: what to do with one mail, given what is known about it.

No I/O happens here. Everything the decision depends on — the parsed mail, the case it continues,
what the rules said, how many acknowledgements the sender already had today, the calendar and the
reception instant — is passed in, so every branch of the procedure is tested without a server.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime

from inboxbot.domain.cases import DIRECTORS_NOTE, FROM_DIRECTOR, WRITTEN_BY_DIRECTOR, CaseRef
from inboxbot.domain.conversation import ThreadMatch, base_subject
from inboxbot.domain.deadlines import DuePolicy
from inboxbot.domain.mailboxes import mailbox_key
from inboxbot.domain.message import Address, ParsedMail
from inboxbot.domain.rules import Verdict
from inboxbot.domain.vocabulary import (
    CaseStatus,
    Channel,
    Direction,
    FolderRole,
    Kind,
    MailOutcome,
    Nature,
    Priority,
    RuleAction,
)

INBOX = FolderRole.INBOX
SENT = FolderRole.SENT
# How the case history starts the reason an acknowledgement was not sent, for the digest to say it.
DMARC_FAIL_NOTE = "sender's domain failed DMARC"
DAILY_CAP_NOTE = "daily cap"
DAILY_TOTAL_CAP_NOTE = "total daily cap"
# Where a case's reception date comes from when it is not the server's reception of a mail
# (`OpenCase.received_from`): the date written in a forwarded header, or the forward's own reception.
FROM_FORWARDED_HEADER = "forwarded_header"
FROM_FORWARD = "forward"
TRANSMITTER_THANKS = "transmitter_thanks"
# The recognizer's notes kept with a mail: a digest line stays readable on a phone, and a note that
# quotes the mail (a clause offering a remedy) stores no more of it than the excerpt would.
MAX_NOTES = 4
NOTE_CHARS = 240


@dataclass(frozen=True)
class Original:
    """The mail the director forwards to herself, as found before deciding: a plain value.

    `received_at` is the server's reception of the original when it was found in her mailbox (or
    among the mails already read), else the date its forwarded header gives, else None;
    `received_from` says which (None: the server's reception). `transmitter` is set when the
    original was itself a third party passing on someone else's claim: then `author` is that
    someone, and `channel` is "third_party".
    """

    author: Address | None
    received_at: datetime | None
    received_from: str | None
    channel: Channel = Channel.EMAIL
    transmitter: Address | None = None
    case: CaseRef | None = None  # the case the original already belongs to


@dataclass(frozen=True)
class Recognition:
    """What the recognizer read in a mail's own words (shared mode): a plain value, so `decide` stays pure.

    `outcome` is "open" (sure: a case and its acknowledgement), "candidate" (possible: put before the
    director, no acknowledgement) or "leave" (ordinary mail); `reasons` are the words that counted.
    `notes` say in French what decided beyond the words (the learned model, a spam flag, the shipped
    setting that keeps a clear grievance for her to qualify): without them she cannot tell why a
    mail with no telling word is before her. They may quote the mail, so they are bounded like the
    excerpt (`MAX_NOTES`, `NOTE_CHARS`).
    """

    outcome: str
    kind: Kind
    score: float
    reasons: tuple[str, ...]
    excerpt: str
    notes: tuple[str, ...] = ()

    @property
    def why(self) -> str:
        """The explanation kept with a case or a mail, in the form rule hits take."""
        words = ", ".join(self.reasons) or "-"
        return f"recognition:{self.outcome} ({self.kind}, score {self.score:g}: {words})"


def bounded_notes(notes: Sequence[str]) -> tuple[str, ...]:
    """At most `MAX_NOTES` notes of at most `NOTE_CHARS` characters each, on one line each.

    The recognizer writes its notes in the order it reasons, the one that settled the outcome
    last (the model's opinion, a spam flag, the shipped setting): so the last ones are kept."""
    kept: list[str] = []
    for note in notes[-MAX_NOTES:]:
        line = " ".join(note.split())
        if len(line) > NOTE_CHARS:
            line = line[: NOTE_CHARS - 1].rstrip() + "…"
        if line and line not in kept:
            kept.append(line)
    return tuple(kept)


@dataclass(frozen=True)
class Pending:
    """A mail still « à qualifier » that a new mail continues: the same thread, or the same author."""

    mail_id: int
    reference: str  # « M-0042 »
    same_thread: bool  # False: only the same author


@dataclass(frozen=True)
class Facts:
    """What is known about one fetched mail when its fate is decided."""

    mail: ParsedMail
    folder_role: FolderRole
    received_at: datetime  # the server's INTERNALDATE, never the sender's Date header
    thread: ThreadMatch | None
    verdict: Verdict
    own: bool = False  # carries our loop header or one of our Message-IDs
    automatic: str | None = None
    # Its From is one of the director's addresses: a claim anyone can write, worth nothing unproven.
    from_director: bool = False
    # Acknowledgements already queued today to the mailbox this mail's claimant would be
    # acknowledged at (`claimant_of`), every spelling of it counted together (`mailbox_key`).
    acknowledgements_today: int = 0
    # Acknowledgements queued today in all; only counted when the policy sets a total cap.
    acknowledgements_today_total: int = 0
    # The director's note to herself (every recipient is her own address or the mailbox's).
    to_self: bool = False
    # Proven to be hers: its copy is in her Sent folder, or her receiving server vouched for it.
    proven: bool = False
    has_commands: bool = False
    # The original author of a forwarded claim, and the address typed into the website's form.
    forwarded_author: Address | None = None
    # What the director's forward to herself passes on, when it passes on a mail (see `Original`).
    original: Original | None = None
    # Thank-you mails already queued today to the transmitter of a third party's forward.
    thanks_today: int = 0
    form_claimant: Address | None = None
    # The mail answers the satisfaction request of its (closed) case.
    answers_feedback_request: bool = False
    # A case its threading headers name although its sender takes no part in it.
    foreign_case: CaseRef | None = None
    # It replies to a mail inboxbot sent (a digest, a report): commands, never a new claim.
    answers_inboxbot: bool = False
    # Why its receiving server says its From is forged (a DMARC fail for the From's domain), or "".
    dmarc_fail: str = ""
    # What the recognizer read in it, when it was asked (shared mode, a human mail no rule settled).
    recognition: Recognition | None = None
    # Why the receiving server took it for spam ("X-Spam-Flag: YES", a DMARC fail...), or None.
    spam: str | None = None
    # The candidate still waiting for her decision that this mail follows up (shared mode).
    pending: Pending | None = None


@dataclass(frozen=True)
class Policy:
    mode: str  # "dedicated" or "shared"
    acknowledge: bool
    daily_cap_per_sender: int
    due: DuePolicy
    own_addresses: frozenset[str] = frozenset()  # the mailbox's and the director's
    daily_cap_total: int = 0  # 0: no limit on acknowledgements a day in all


@dataclass(frozen=True)
class OpenCase:
    kind: Kind
    channel: Channel
    claimant: Address | None
    subject: str
    received_at: datetime
    acknowledge_due: date
    response_due: date
    nature: Nature | None
    priority: Priority | None
    rules_hit: tuple[str, ...]
    acknowledgement: str | None  # the template to acknowledge with, or None
    note: str  # why no acknowledgement, when there is none
    transmitter: str | None = None  # who passed on someone else's claim
    obey: bool = False  # the mail also carries the director's commands for this new case
    received_from: str | None = None  # FROM_FORWARDED_HEADER or FROM_FORWARD; None: the server's reception
    thanks: str | None = None  # the template thanking the transmitter, or None
    transmitter_name: str = ""

    outcome = MailOutcome.OPENED


@dataclass(frozen=True)
class Attach:
    case: CaseRef
    direction: Direction  # IN from the claimant's side, OUT written by the organisation
    note: str
    # "reply", "automatic", "director", "note", "closed_case" or "feedback": what to do besides logging it.
    purpose: str = "reply"

    outcome = MailOutcome.ATTACHED


@dataclass(frozen=True)
class Obey:
    """The director's proven commands, about existing cases."""

    outcome = MailOutcome.COMMANDS


@dataclass(frozen=True)
class AwaitProof:
    """It claims to be the director's, with commands or a claim to open, but nothing proves it yet."""

    outcome = MailOutcome.AWAITING_PROOF


@dataclass(frozen=True)
class PutBefore:
    """A mail that may be a claim or an incident: no acknowledgement, listed « à qualifier » for the
    director until she opens a case from it (#ouvrir) or sets it aside (#ecarter)."""

    kind: Kind
    channel: Channel
    claimant: Address | None  # its author, or the address typed into a web form
    reasons: tuple[str, ...]  # the words (or rules) that made it a candidate
    excerpt: str
    spam: str | None  # why the receiving server took it for spam, if it did
    rules_hit: tuple[str, ...]
    notes: tuple[str, ...] = ()  # the recognizer's French notes: why it is before her (`Recognition.notes`)

    outcome = MailOutcome.CANDIDATE

    @property
    def note(self) -> str:
        spam = f"; marked as spam by the receiving server ({self.spam})" if self.spam else ""
        return f"possible {self.kind}, for the director to qualify: {', '.join(self.reasons) or '-'}{spam}"


@dataclass(frozen=True)
class Join:
    """A second mail about a candidate still waiting for her: one line in the digest, and what she
    decides for the first (#ouvrir, #ecarter) takes this one along."""

    pending: Pending

    outcome = MailOutcome.JOINED

    @property
    def note(self) -> str:
        how = "in its thread" if self.pending.same_thread else "from its author"
        return f"joins {self.pending.reference}, still to qualify ({how})"


@dataclass(frozen=True)
class Ignore:
    outcome: MailOutcome  # IGNORED, OWN, AUTOMATIC, TRIAGE or SET_ASIDE
    reason: str


Decision = OpenCase | Attach | Ignore | Obey | AwaitProof | PutBefore | Join


def decide(facts: Facts, policy: Policy) -> Decision:
    mail = facts.mail
    if facts.own:
        return Ignore(MailOutcome.OWN, "sent by inboxbot itself")
    if _her_note(facts):
        assert facts.thread is not None
        return Attach(facts.thread.case, Direction.OUT, DIRECTORS_NOTE, "note")
    action = facts.verdict.action
    if (
        facts.from_director
        and facts.to_self
        and (facts.has_commands or action in (RuleAction.CLAIM, RuleAction.INCIDENT))
    ):
        return _directors_note(facts, policy)
    if facts.folder_role == SENT:
        if facts.thread is not None:
            return Attach(facts.thread.case, Direction.OUT, WRITTEN_BY_DIRECTOR, "director")
        return Ignore(MailOutcome.IGNORED, "sent mail about no case")
    if facts.automatic is not None:
        if facts.thread is not None:
            return Attach(facts.thread.case, Direction.IN, f"automatic mail: {facts.automatic}", "automatic")
        return Ignore(MailOutcome.AUTOMATIC, facts.automatic)

    if action is None and policy.mode == "dedicated":
        action = RuleAction.CLAIM
    if action == RuleAction.IGNORE:
        return Ignore(MailOutcome.IGNORED, f"rules {_rules(facts.verdict)}")
    if facts.thread is not None:
        return _continue(facts)
    if action is None and facts.foreign_case is not None:
        return Ignore(
            MailOutcome.TRIAGE, f"answers case {facts.foreign_case.number} but its sender takes no part in it"
        )
    if action is None:
        return _recognised(facts, policy)
    if action == RuleAction.TRIAGE:
        return Ignore(MailOutcome.TRIAGE, f"rules {_rules(facts.verdict)} ask the director to qualify it")
    if mail.from_ is None:
        return Ignore(MailOutcome.SET_ASIDE, "no sender address")
    if facts.spam is not None and not (facts.from_director and facts.proven):
        # Spam borrows the words of complaints, and a DMARC fail says the From is not the sender's:
        # never opened (nor acknowledged) on a rule's say-so either, but put before the director.
        kind = facts.verdict.kind or (Kind.ALEA if action == RuleAction.INCIDENT else Kind.RECLAMATION)
        return _put_before(facts, kind, (f"rules {_rules(facts.verdict)}",))
    return _open(facts, policy, incident=action == RuleAction.INCIDENT)


def _her_note(facts: Facts) -> bool:
    """Her proven mail to herself naming a case, with no command: a document or a summary of a call
    she files in the case (« [Dossier 2026-0002] compte rendu d'appel »)."""
    return (
        facts.from_director
        and facts.proven
        and facts.to_self
        and not facts.has_commands
        and facts.thread is not None
        and facts.automatic is None
    )


def _recognised(facts: Facts, policy: Policy) -> Decision:
    """A human mail no rule settled, in shared mode: what the recognizer read in its own words."""
    recognition = facts.recognition
    if facts.pending is not None and facts.spam is None and facts.mail.from_ is not None:
        # « Vous avez eu mon message ? », or more of the same story: not a second candidate. A mail
        # sure to be a claim still opens its own case; spam joins nobody's.
        if recognition is None or recognition.outcome != "open":
            return Join(facts.pending)
    if recognition is None or recognition.outcome == "leave":
        why = f"; {recognition.why}" if recognition is not None else ""
        return Ignore(MailOutcome.IGNORED, f"no rule claimed it{why}")
    if facts.mail.from_ is None:
        return Ignore(MailOutcome.SET_ASIDE, "no sender address")
    if recognition.outcome == "open" and facts.spam is None:
        return _open(facts, policy, incident=recognition.kind != Kind.RECLAMATION, kind=recognition.kind)
    return _put_before(facts, recognition.kind, recognition.reasons)


def _put_before(facts: Facts, kind: Kind, reasons: tuple[str, ...]) -> PutBefore:
    recognition = facts.recognition
    hits = facts.verdict.hits + ((recognition.why,) if recognition is not None else ())
    return PutBefore(
        kind=kind,
        channel=facts.verdict.channel or Channel.EMAIL,
        claimant=claimant_of(facts),
        reasons=reasons,
        excerpt=recognition.excerpt if recognition is not None else "",
        spam=facts.spam,
        rules_hit=hits,
        notes=recognition.notes if recognition is not None else (),
    )


def decide_in_her_name(as_hers: Facts, as_stranger: Facts, policy: Policy) -> Decision:
    """The fate of a mail whose From is the director's but which nothing proves hers yet.

    Anyone can write her address in a From header, so such a mail gets no more than anyone's mail
    would: `as_stranger` is it read as anyone's (the rules without `from_director`, no case named
    by its tag alone, no commands). Only when her authority would change what happens to it
    (`as_hers`, read as if proven, decides otherwise) does it wait: her own copy in Sent may come a
    cycle later and prove it, and if it never does, it is shown to her as suspicious.
    """
    if as_hers.proven:
        return decide(as_hers, policy)
    as_anyone = decide(as_stranger, policy)
    if decide(replace(as_hers, proven=True), policy) != as_anyone:
        return AwaitProof()
    return as_anyone


def _directors_note(facts: Facts, policy: Policy) -> Decision:
    """Her commands, or a claim she passes on: only hers once proven, since anyone can forge From."""
    if not facts.proven:
        return AwaitProof()
    claims = facts.verdict.action in (RuleAction.CLAIM, RuleAction.INCIDENT)
    original = facts.original
    if claims and facts.thread is None and original is not None and original.case is not None:
        # The mail she passes on is already a case: her forward joins it rather than open it twice.
        return Attach(original.case, Direction.IN, "the director's forward of a mail of this case", "director")
    if claims and facts.thread is None and not (facts.answers_inboxbot and facts.has_commands):
        return _open(facts, policy, incident=facts.verdict.action == RuleAction.INCIDENT)
    return Obey()


def _continue(facts: Facts) -> Attach:
    thread = facts.thread
    assert thread is not None
    sender = facts.mail.from_.email if facts.mail.from_ else None
    if facts.from_director and facts.proven:
        return Attach(thread.case, Direction.IN, FROM_DIRECTOR, "director")
    if thread.case.status != CaseStatus.OPEN:
        if facts.answers_feedback_request and sender == thread.case.claimant:
            return Attach(thread.case, Direction.IN, "answer to the satisfaction request", "feedback")
        return Attach(thread.case, Direction.IN, "new mail on a closed case, for the director to decide", "closed_case")
    return Attach(thread.case, Direction.IN, "")


def claimant_of(facts: Facts) -> Address | None:
    """Who the case would be about, and so who would be acknowledged, if the mail opened one."""
    channel = facts.verdict.channel or Channel.EMAIL
    if channel == Channel.THIRD_PARTY:
        # Someone passes on another person's claim: that person is the claimant.
        if facts.from_director and facts.original is not None:
            return facts.original.author
        return facts.forwarded_author
    if channel == Channel.FORM:
        return facts.form_claimant
    if channel == Channel.ORAL:
        # The director writes down what was said; the claimant is named by #reclamant, if at all.
        return None
    return facts.mail.from_


def _open(facts: Facts, policy: Policy, incident: bool, kind: Kind | None = None) -> OpenCase:
    mail, verdict = facts.mail, facts.verdict
    kind = verdict.kind or kind or (Kind.ALEA if incident else Kind.RECLAMATION)
    channel = verdict.channel or Channel.EMAIL
    claimant = claimant_of(facts)
    received_at = facts.received_at
    received_from: str | None = None
    transmitter: Address | None = None
    note = ""
    thanks: str | None = None
    if channel == Channel.THIRD_PARTY and facts.from_director and facts.original is not None:
        # Her forward of a mail she received: the case is the original's, as it reached the organisation.
        original = facts.original
        channel, transmitter = original.channel, original.transmitter
        received_at = original.received_at or facts.received_at
        received_from = original.received_from if original.received_at is not None else FROM_FORWARD
        note = "" if claimant else "transmitted claim: claimant to identify (#reclamant)"
    elif channel == Channel.THIRD_PARTY:
        transmitter = mail.from_
        note = "" if claimant else "transmitted claim: claimant to identify (#reclamant)"
        if not facts.from_director:
            thanks, _ = acknowledgement(
                transmitter, False, policy, facts.thanks_today, dmarc_fail=facts.dmarc_fail, template=TRANSMITTER_THANKS
            )
    elif channel == Channel.FORM:
        note = "" if claimant else "form without the claimant's address"
    elif channel == Channel.ORAL:
        note = "oral claim: claimant to identify (#reclamant)"
    if (
        claimant is not None
        and transmitter is not None
        and mailbox_key(claimant.email) == mailbox_key(transmitter.email)
    ):
        # The forwarder forwards their own mail: they are the claimant, nobody transmitted anything.
        channel, transmitter, thanks = Channel.EMAIL, None, None
    template, note = acknowledgement(
        claimant,
        incident,
        policy,
        facts.acknowledgements_today,
        facts.acknowledgements_today_total,
        facts.dmarc_fail,
        note,
    )
    hits = verdict.hits + ((facts.recognition.why,) if facts.recognition is not None else ())
    return OpenCase(
        kind=kind,
        channel=channel,
        claimant=claimant,
        subject=base_subject(mail.subject) or mail.subject,
        received_at=received_at,
        acknowledge_due=policy.due.acknowledge_due(received_at),
        response_due=policy.due.response_due(received_at),
        nature=verdict.nature,
        priority=verdict.priority,
        rules_hit=hits,
        acknowledgement=template,
        note=note,
        transmitter=transmitter.email if transmitter is not None else None,
        obey=facts.has_commands,
        received_from=received_from,
        thanks=thanks,
        transmitter_name=transmitter.name if transmitter is not None else "",
    )


def acknowledgement(
    claimant: Address | None,
    incident: bool,
    policy: Policy,
    acknowledgements_today: int,
    acknowledgements_today_total: int = 0,
    dmarc_fail: str = "",
    note: str = "",
    template: str | None = None,
) -> tuple[str | None, str]:
    """The template to acknowledge a new case with (or None), and why none when there is none.

    `template` names another mail owed on the same conditions (the transmitter's thanks).
    """
    template = template or ("incident_acknowledgement" if incident else "acknowledgement")
    if claimant is None:
        return None, note or "no claimant address"
    if claimant.email in policy.own_addresses:
        return None, "written by the organisation itself"
    if not policy.acknowledge:
        return None, "acknowledgements are turned off"
    if dmarc_fail:
        # Its From is forged by its domain's own say-so: whoever it names is named by a stranger.
        return None, f"{DMARC_FAIL_NOTE}: {dmarc_fail}"
    if acknowledgements_today >= policy.daily_cap_per_sender:
        cap = policy.daily_cap_per_sender
        return None, f"{DAILY_CAP_NOTE} of {cap} acknowledgements reached for this address"
    if policy.daily_cap_total and acknowledgements_today_total >= policy.daily_cap_total:
        return None, f"{DAILY_TOTAL_CAP_NOTE} of {policy.daily_cap_total} acknowledgements reached"
    return template, note


@dataclass(frozen=True)
class Candidate:
    """A mail put before the director, as the store kept it: what opening a case from it needs."""

    reference: str
    claimant: Address | None  # None: a form that gave no address; she names it with #réclamant
    subject: str
    received_at: datetime  # the original's INTERNALDATE
    kind: Kind
    channel: Channel
    reasons: tuple[str, ...]
    dmarc_fail: str = ""  # its receiving server said its From was forged


def qualify(
    candidate: Candidate,
    kind: Kind | None,
    policy: Policy,
    acknowledgements_today: int,
    acknowledgements_total: int = 0,
) -> OpenCase:
    """The case the director opens from a mail put before her (#ouvrir): dated and owned by the original.

    Its claimant is the original's author, its reception the server's reception of the original, so
    the deadlines run from when the claim really arrived, not from when she qualified it. The caps
    and a forged From keep the acknowledgement back as they would have on arrival.
    """
    kind = kind or candidate.kind
    template, note = acknowledgement(
        candidate.claimant,
        kind != Kind.RECLAMATION,
        policy,
        acknowledgements_today,
        acknowledgements_total,
        candidate.dmarc_fail,
    )
    return OpenCase(
        kind=kind,
        channel=candidate.channel,
        claimant=candidate.claimant,
        subject=base_subject(candidate.subject) or candidate.subject,
        received_at=candidate.received_at,
        acknowledge_due=policy.due.acknowledge_due(candidate.received_at),
        response_due=policy.due.response_due(candidate.received_at),
        nature=None,
        priority=None,
        rules_hit=(f"qualified:{candidate.reference}", *(f"word:{word}" for word in candidate.reasons)),
        acknowledgement=template,
        note=note,
    )


def _rules(verdict: Verdict) -> str:
    return ", ".join(verdict.hits) or "(none)"
