"""The pure core: what to do with one mail, given what is known about it.

No I/O happens here. Everything the decision depends on — the parsed mail, the case it continues,
what the rules said, how many acknowledgements the sender already had today, the calendar and the
reception instant — is passed in, so every branch of the procedure is tested without a server.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime

from inboxbot.domain.cases import CaseRef
from inboxbot.domain.conversation import ThreadMatch, base_subject
from inboxbot.domain.deadlines import DuePolicy
from inboxbot.domain.message import Address, ParsedMail
from inboxbot.domain.rules import Verdict

INBOX = "inbox"
SENT = "sent"
# How the case history starts the reason an acknowledgement was not sent, for the digest to say it.
DMARC_FAIL_NOTE = "sender's domain failed DMARC"
DAILY_CAP_NOTE = "daily cap"
DAILY_TOTAL_CAP_NOTE = "total daily cap"


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
    form_claimant: Address | None = None
    # The mail answers the satisfaction request of its (closed) case.
    answers_feedback_request: bool = False
    # A case its threading headers name although its sender takes no part in it.
    foreign_case: CaseRef | None = None
    # It replies to a mail inboxbot sent (a digest, a report): commands, never a new claim.
    answers_inboxbot: bool = False
    # Why its receiving server says its From is forged (a DMARC fail for the From's domain), or "".
    dmarc_fail: str = ""


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
class Ignore:
    outcome: str  # "ignored", "own", "automatic", "triage", "set_aside"
    reason: str


Decision = OpenCase | Attach | Ignore | Obey | AwaitProof


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
        return Ignore("ignored", "no rule claimed it")
    if action == "triage":
        return Ignore("triage", f"rules {_rules(facts.verdict)} ask the director to qualify it")
    if mail.from_ is None:
        return Ignore("set_aside", "no sender address")
    return _open(facts, policy, incident=action == "incident")


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
    claims = facts.verdict.action in ("claim", "incident")
    if claims and facts.thread is None and not (facts.answers_inboxbot and facts.has_commands):
        return _open(facts, policy, incident=facts.verdict.action == "incident")
    return Obey()


def _continue(facts: Facts) -> Attach:
    thread = facts.thread
    assert thread is not None
    sender = facts.mail.from_.email if facts.mail.from_ else None
    if facts.from_director and facts.proven:
        return Attach(thread.case, "in", "from the director", "director")
    if thread.case.status != "open":
        if facts.answers_feedback_request and sender == thread.case.claimant:
            return Attach(thread.case, "in", "answer to the satisfaction request", "feedback")
        return Attach(thread.case, "in", "new mail on a closed case, for the director to decide", "closed_case")
    return Attach(thread.case, "in", "")


def claimant_of(facts: Facts) -> Address | None:
    """Who the case would be about, and so who would be acknowledged, if the mail opened one."""
    channel = facts.verdict.channel or "email"
    if channel == "third_party":
        # Someone passes on another person's claim: that person is the claimant.
        return facts.forwarded_author
    if channel == "form":
        return facts.form_claimant
    if channel == "oral":
        # The director writes down what was said; the claimant is named by #reclamant, if at all.
        return None
    return facts.mail.from_


def _open(facts: Facts, policy: Policy, incident: bool) -> OpenCase:
    mail, verdict = facts.mail, facts.verdict
    kind = verdict.kind or ("alea" if incident else "reclamation")
    channel = verdict.channel or "email"
    claimant = claimant_of(facts)
    transmitter: str | None = None
    note = ""
    if channel == "third_party":
        transmitter = mail.from_.email if mail.from_ else None
        note = "" if claimant else "transmitted claim: claimant to identify (#reclamant)"
    elif channel == "form":
        note = "" if claimant else "form without the claimant's address"
    elif channel == "oral":
        note = "oral claim: claimant to identify (#reclamant)"
    template: str | None = "incident_acknowledgement" if incident else "acknowledgement"
    if claimant is None:
        template = None
        note = note or "no claimant address"
    elif claimant.email in policy.own_addresses:
        template, note = None, "written by the organisation itself"
    elif not policy.acknowledge:
        template, note = None, "acknowledgements are turned off"
    elif facts.dmarc_fail:
        # Its From is forged by its domain's own say-so: whoever it names is named by a stranger.
        template, note = None, f"{DMARC_FAIL_NOTE}: {facts.dmarc_fail}"
    elif facts.acknowledgements_today >= policy.daily_cap_per_sender:
        cap = policy.daily_cap_per_sender
        template, note = None, f"{DAILY_CAP_NOTE} of {cap} acknowledgements reached for this address"
    elif policy.daily_cap_total and facts.acknowledgements_today_total >= policy.daily_cap_total:
        template, note = None, f"{DAILY_TOTAL_CAP_NOTE} of {policy.daily_cap_total} acknowledgements reached"
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
        rules_hit=verdict.hits,
        acknowledgement=template,
        note=note,
        transmitter=transmitter,
        obey=facts.has_commands,
    )


def _rules(verdict: Verdict) -> str:
    return ", ".join(verdict.hits) or "(none)"
