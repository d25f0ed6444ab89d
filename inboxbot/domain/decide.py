"""The pure core: what to do with one mail, given what is known about it.

No I/O happens here. Everything the decision depends on — the parsed mail, the case it continues,
what the rules said, how many acknowledgements the sender already had today, the calendar and the
reception instant — is passed in, so every branch of the procedure is tested without a server.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from inboxbot.domain.cases import CaseRef
from inboxbot.domain.conversation import ThreadMatch, base_subject
from inboxbot.domain.deadlines import DuePolicy
from inboxbot.domain.message import Address, ParsedMail
from inboxbot.domain.rules import Verdict

INBOX = "inbox"
SENT = "sent"


@dataclass(frozen=True)
class Recognition:
    """What the recognizer read in a mail's own words (shared mode): a plain value, so `decide` stays pure.

    `outcome` is "open" (sure: a case and its acknowledgement), "candidate" (possible: put before the
    director, no acknowledgement) or "leave" (ordinary mail); `reasons` are the words that counted.
    """

    outcome: str
    kind: str
    score: float
    reasons: tuple[str, ...]
    excerpt: str

    @property
    def why(self) -> str:
        """The explanation kept with a case or a mail, in the form rule hits take."""
        words = ", ".join(self.reasons) or "-"
        return f"recognition:{self.outcome} ({self.kind}, score {self.score:g}: {words})"


@dataclass(frozen=True)
class Facts:
    """What is known about one fetched mail when its fate is decided."""

    mail: ParsedMail
    folder_role: str  # INBOX or SENT
    received_at: datetime  # the server's INTERNALDATE, never the sender's Date header
    thread: ThreadMatch | None
    verdict: Verdict
    own: bool = False  # carries our loop header or one of our Message-IDs
    automatic: str | None = None
    from_director: bool = False
    acknowledgements_today: int = 0
    # The director's note to herself (every recipient is her own address or the mailbox's).
    to_self: bool = False
    # Proven to be hers: its copy is in her Sent folder, or her receiving server vouched for it.
    proven: bool = False
    has_commands: bool = False
    # The original author of a forwarded claim, and the address typed into the website's form.
    forwarded_author: Address | None = None
    form_claimant: Address | None = None
    # The mail answers the satisfaction request of its (closed) case.
    answers_feedback_request: bool = False
    # A case its threading headers name although its sender takes no part in it.
    foreign_case: CaseRef | None = None
    # It replies to a mail inboxbot sent (a digest, a report): commands, never a new claim.
    answers_inboxbot: bool = False
    # What the recognizer read in it, when it was asked (shared mode, a human mail no rule settled).
    recognition: Recognition | None = None
    # Why the receiving server took it for spam ("X-Spam-Flag: YES"...), or None.
    spam: str | None = None


@dataclass(frozen=True)
class Policy:
    mode: str  # "dedicated" or "shared"
    acknowledge: bool
    daily_cap_per_sender: int
    due: DuePolicy
    own_addresses: frozenset[str] = frozenset()  # the mailbox's and the director's


@dataclass(frozen=True)
class OpenCase:
    kind: str
    channel: str
    claimant: Address | None
    subject: str
    received_at: datetime
    acknowledge_due: date
    response_due: date
    nature: str | None
    priority: str | None
    rules_hit: tuple[str, ...]
    acknowledgement: str | None  # the template to acknowledge with, or None
    note: str  # why no acknowledgement, when there is none
    transmitter: str | None = None  # who passed on someone else's claim
    obey: bool = False  # the mail also carries the director's commands for this new case

    outcome = "opened"


@dataclass(frozen=True)
class Attach:
    case: CaseRef
    direction: str  # "in" from the claimant's side, "out" written by the organisation
    note: str
    # "reply", "automatic", "director", "closed_case" or "feedback": what to do besides logging it.
    purpose: str = "reply"

    outcome = "attached"


@dataclass(frozen=True)
class Obey:
    """The director's proven commands, about existing cases."""

    outcome = "commands"


@dataclass(frozen=True)
class AwaitProof:
    """It claims to be the director's, with commands or a claim to open, but nothing proves it yet."""

    outcome = "awaiting_proof"


@dataclass(frozen=True)
class PutBefore:
    """A mail that may be a claim or an incident: no acknowledgement, listed « à qualifier » for the
    director until she opens a case from it (#ouvrir) or sets it aside (#ecarter)."""

    kind: str
    channel: str
    claimant: Address | None  # its author, or the address typed into a web form
    reasons: tuple[str, ...]  # the words (or rules) that made it a candidate
    excerpt: str
    spam: str | None  # why the receiving server took it for spam, if it did
    rules_hit: tuple[str, ...]

    outcome = "candidate"

    @property
    def note(self) -> str:
        spam = f"; marked as spam by the receiving server ({self.spam})" if self.spam else ""
        return f"possible {self.kind}, for the director to qualify: {', '.join(self.reasons) or '-'}{spam}"


@dataclass(frozen=True)
class Ignore:
    outcome: str  # "ignored", "own", "automatic", "triage", "set_aside"
    reason: str


Decision = OpenCase | Attach | Ignore | Obey | AwaitProof | PutBefore


def decide(facts: Facts, policy: Policy) -> Decision:
    mail = facts.mail
    if facts.own:
        return Ignore("own", "sent by inboxbot itself")
    action = facts.verdict.action
    if facts.from_director and facts.to_self and (facts.has_commands or action in ("claim", "incident")):
        return _directors_note(facts, policy)
    if facts.folder_role == SENT:
        if facts.thread is not None:
            return Attach(facts.thread.case, "out", "written by the director", "director")
        return Ignore("ignored", "sent mail about no case")
    if facts.automatic is not None:
        if facts.thread is not None:
            return Attach(facts.thread.case, "in", f"automatic mail: {facts.automatic}", "automatic")
        return Ignore("automatic", facts.automatic)

    if action is None and policy.mode == "dedicated":
        action = "claim"
    if action == "ignore":
        return Ignore("ignored", f"rules {_rules(facts.verdict)}")
    if facts.thread is not None:
        return _continue(facts)
    if action is None and facts.foreign_case is not None:
        return Ignore("triage", f"answers case {facts.foreign_case.number} but its sender takes no part in it")
    if action is None:
        return _recognised(facts, policy)
    if action == "triage":
        return Ignore("triage", f"rules {_rules(facts.verdict)} ask the director to qualify it")
    if mail.from_ is None:
        return Ignore("set_aside", "no sender address")
    if facts.spam is not None:
        # Spam borrows the words of complaints: never acknowledged on a rule's say-so either.
        kind = facts.verdict.kind or ("alea" if action == "incident" else "reclamation")
        return _put_before(facts, kind, (f"rules {_rules(facts.verdict)}",))
    return _open(facts, policy, incident=action == "incident")


def _recognised(facts: Facts, policy: Policy) -> Decision:
    """A human mail no rule settled, in shared mode: what the recognizer read in its own words."""
    recognition = facts.recognition
    if recognition is None or recognition.outcome == "leave":
        why = f"; {recognition.why}" if recognition is not None else ""
        return Ignore("ignored", f"no rule claimed it{why}")
    if facts.mail.from_ is None:
        return Ignore("set_aside", "no sender address")
    if recognition.outcome == "open" and facts.spam is None:
        return _open(facts, policy, incident=recognition.kind != "reclamation", kind=recognition.kind)
    return _put_before(facts, recognition.kind, recognition.reasons)


def _put_before(facts: Facts, kind: str, reasons: tuple[str, ...]) -> PutBefore:
    recognition = facts.recognition
    hits = facts.verdict.hits + ((recognition.why,) if recognition is not None else ())
    channel = facts.verdict.channel or "email"
    return PutBefore(
        kind=kind,
        channel=channel,
        claimant=facts.form_claimant if channel == "form" else facts.mail.from_,
        reasons=reasons,
        excerpt=recognition.excerpt if recognition is not None else "",
        spam=facts.spam,
        rules_hit=hits,
    )


def _directors_note(facts: Facts, policy: Policy) -> Decision:
    """Her commands, or a claim she passes on: only hers once proven, since anyone can forge From."""
    if not facts.proven:
        return AwaitProof()
    claims = facts.verdict.action in ("claim", "incident")
    if claims and facts.thread is None and not (facts.answers_inboxbot and facts.has_commands):
        return _open(facts, policy, incident=facts.verdict.action == "incident")
    return Obey()


def _continue(facts: Facts) -> Attach:
    thread = facts.thread
    assert thread is not None
    sender = facts.mail.from_.email if facts.mail.from_ else None
    if facts.from_director:
        return Attach(thread.case, "in", "from the director", "director")
    if thread.case.status != "open":
        if facts.answers_feedback_request and sender == thread.case.claimant:
            return Attach(thread.case, "in", "answer to the satisfaction request", "feedback")
        return Attach(thread.case, "in", "new mail on a closed case, for the director to decide", "closed_case")
    return Attach(thread.case, "in", "")


def _open(facts: Facts, policy: Policy, incident: bool, kind: str | None = None) -> OpenCase:
    mail, verdict = facts.mail, facts.verdict
    kind = verdict.kind or kind or ("alea" if incident else "reclamation")
    channel = verdict.channel or "email"
    claimant = mail.from_
    transmitter: str | None = None
    note = ""
    if channel == "third_party":
        # Someone passes on another person's claim: that person is the claimant.
        transmitter = mail.from_.email if mail.from_ else None
        claimant = facts.forwarded_author
        note = "" if claimant else "transmitted claim: claimant to identify (#reclamant)"
    elif channel == "form":
        claimant = facts.form_claimant
        note = "" if claimant else "form without the claimant's address"
    elif channel == "oral":
        # The director writes down what was said; the claimant is named by #reclamant, if at all.
        claimant = None
        note = "oral claim: claimant to identify (#reclamant)"
    template, note = acknowledgement(claimant, incident, policy, facts.acknowledgements_today, note)
    hits = verdict.hits + ((facts.recognition.why,) if facts.recognition is not None else ())
    return OpenCase(
        kind=kind,
        channel=channel,
        claimant=claimant,
        subject=base_subject(mail.subject) or mail.subject,
        received_at=facts.received_at,
        acknowledge_due=policy.due.acknowledge_due(facts.received_at),
        response_due=policy.due.response_due(facts.received_at),
        nature=verdict.nature,
        priority=verdict.priority,
        rules_hit=hits,
        acknowledgement=template,
        note=note,
        transmitter=transmitter,
        obey=facts.has_commands,
    )


def acknowledgement(
    claimant: Address | None, incident: bool, policy: Policy, acknowledgements_today: int, note: str = ""
) -> tuple[str | None, str]:
    """The template to acknowledge a new case with (or None), and why none when there is none."""
    template: str | None = "incident_acknowledgement" if incident else "acknowledgement"
    if claimant is None:
        return None, note or "no claimant address"
    if claimant.email in policy.own_addresses:
        return None, "written by the organisation itself"
    if not policy.acknowledge:
        return None, "acknowledgements are turned off"
    if acknowledgements_today >= policy.daily_cap_per_sender:
        return None, f"daily cap of {policy.daily_cap_per_sender} acknowledgements reached for this sender"
    return template, note


@dataclass(frozen=True)
class Candidate:
    """A mail put before the director, as the store kept it: what opening a case from it needs."""

    reference: str
    claimant: Address | None  # None: a form that gave no address; she names it with #réclamant
    subject: str
    received_at: datetime  # the original's INTERNALDATE
    kind: str
    channel: str
    reasons: tuple[str, ...]


def qualify(candidate: Candidate, kind: str | None, policy: Policy, acknowledgements_today: int) -> OpenCase:
    """The case the director opens from a mail put before her (#ouvrir): dated and owned by the original.

    Its claimant is the original's author, its reception the server's reception of the original, so
    the deadlines run from when the claim really arrived, not from when she qualified it.
    """
    kind = kind or candidate.kind
    template, note = acknowledgement(candidate.claimant, kind != "reclamation", policy, acknowledgements_today)
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
