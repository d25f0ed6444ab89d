"""Cases and their exchange log as plain values, the form in which they leave the store.

Templates, the register and the command line read these; none of them ever holds a database row,
so nothing outside the storage layer can lazy-load, mutate or outlive a session by accident.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from inboxbot.domain.vocabulary import (
    TRACKED_ACTIONS,
    ActionKind,
    ActionStatus,
    CaseStatus,
    Channel,
    Direction,
    Kind,
    Means,
    Nature,
    Priority,
    Stakeholder,
)

# The vocabulary's terms in the shapes most readers want: value tuples and label maps.
KINDS = Kind.values()
KIND_LABELS = Kind.labels()
CHANNELS = Channel.values()
STAKEHOLDERS = Stakeholder.values()
ACTION_KINDS = ActionKind.values()
ACTION_STATUSES = ActionStatus.values()
ACTION_STATUS_LABELS = ActionStatus.labels()
ACTION_LABELS = ActionKind.labels()
NATURE_LABELS = Nature.labels()
PURPOSE_LABELS = {  # what each mail inboxbot sends is, in the digest's and the audit file's words
    "acknowledgement": "accusé de réception",
    "incident_acknowledgement": "accusé de signalement",
    "extension_notice": "avis de prolongation",
    "extension_change": "avis de nouvelle date de réponse",
    "urgent_alert": "alerte dossier urgent",
    "satisfaction_request": "questionnaire de satisfaction",
    "closure_notice": "avis de clôture",
    "dismissal_notice": "avis de classement sans suite",
    "transmitter_thanks": "remerciement au transmetteur",
    "case_record": "dossier complet",
    "command_report": "compte rendu de commandes",
    "closed_case_notice": "alerte dossier clos",
    "suspicious_notice": "alerte message suspect",
    "outage_notice": "alerte de panne",
    "register_export": "tableau de suivi",
    "digest": "point du jour",
}
EVENT_LABELS = {  # a history entry's kind, as the director and the auditor read it
    "received": "reçu",
    "opened": "dossier ouvert",
    "closed": "clôturé",
    "dismissed": "classé sans suite",
    "reopened": "rouvert",
    "requalified": "requalifié",
    "qualified": "message qualifié par la directrice",
    "acknowledged": "accusé de réception enregistré",
    "responded": "réponse enregistrée",
    "feedback": "avis de satisfaction reçu",
    "extended": "délai de réponse prolongé",
    "extension-changed": "date de réponse prolongée modifiée",
    "extension-cancelled": "prolongation annulée",
    "action-edited": "action modifiée",
    "action-cancelled": "action annulée",
    "merged": "dossier fusionné dans un autre",
    "merged-in": "dossier fusionné dans celui-ci",
    "urgent-alert": "alerte urgence envoyée",
    "note": "note",
    "feedback-requested": "avis de satisfaction demandé",
    "not-acknowledged": "accusé de réception non envoyé",
    "attachment-too-large": "pièce jointe trop lourde",
    "attachments-over-limit": "pièces jointes au-delà de la limite",
    "mail:in": "message reçu",
    "mail:out": "message envoyé par la directrice",
    "received-from:forwarded_header": "date de réception d'après l'en-tête transféré",
    "received-from:forward": "date de réception d'après le transfert",
    "original-found": "message d'origine retrouvé",
    "mail:note": "note de la directrice",
}
EVENT_FIELD_LABELS = {
    "nature": "nature",
    "priority": "priorité",
    "stakeholder": "partie prenante",
    "training": "formation concernée",
    "claimant": "réclamant",
    "received": "date de réception",
    "channel": "canal",
    "transmitter": "transmetteur",
}


def event_label(kind: str) -> str:
    """A history entry's kind in French (`sent:acknowledgement` → « envoyé : accusé de réception »)."""
    if kind in EVENT_LABELS:
        return EVENT_LABELS[kind]
    prefix, _, rest = kind.partition(":")
    if prefix == "sent":
        return f"envoyé : {PURPOSE_LABELS.get(rest, rest)}"
    if prefix == "failed":
        return f"échec d'envoi : {PURPOSE_LABELS.get(rest, rest)}"
    if prefix == "action":
        return f"{ACTION_LABELS.get(rest, rest)} enregistrée"
    if prefix == "action-status":
        return f"action {ACTION_STATUS_LABELS.get(rest, rest)}"
    if prefix == "set":
        return f"{EVENT_FIELD_LABELS.get(rest, rest)} renseigné(e)"
    return kind


def event_detail(kind: str, detail: str) -> str:
    """A history entry's detail in French: what it recorded in codes or ISO dates, as people read it.

    A requalification and a change of channel were recorded as `old → new` codes, an extension as
    `2026-04-02 → 2026-04-17 : motif`, a mail joining the case with why (`exchange_note`); other details
    are words already and are returned as they are.
    """
    if kind in ("mail:in", "mail:out"):
        return exchange_note(detail)
    if kind in ("requalified", "set:channel"):
        labels = KIND_LABELS if kind == "requalified" else Channel.labels()
        before, arrow, after = detail.partition(" → ")
        return f"{labels.get(before, before)} → {labels.get(after, after)}" if arrow else detail
    if kind == "extended":
        dates, colon, reason = detail.partition(" : ")
        before, arrow, after = dates.partition(" → ")
        if arrow and len(before) == len(after) == 10:
            try:
                old, new = date.fromisoformat(before), date.fromisoformat(after)
            except ValueError:
                return detail
            return f"{old:%d/%m/%Y} → {new:%d/%m/%Y}{colon}{reason}"
    return detail


TRACKED_KINDS: tuple[str, ...] = TRACKED_ACTIONS
DISMISSED_LABEL = "classée sans suite"
OPEN = CaseStatus.OPEN
CLOSED = CaseStatus.CLOSED


@dataclass(frozen=True)
class CaseRef:
    """What threading and the decision need to know about an existing case."""

    id: int
    number: str
    status: CaseStatus
    claimant: str | None
    participants: frozenset[str]


@dataclass(frozen=True, slots=True)
class Case:
    """One line of the register (tableau de suivi).

    Slots (as for `Action` and `CaseDetail`): the exports and the report hold tens of thousands of
    these. From 30 attributes on, CPython (3.11) stops sharing the keys of instance dicts within a
    class: each case then carried a dict of its own, 1.6 KB instead of 0.3, which is what took the
    annual report from 184 to 275 MB at 100,000 cases when the case reached 33 fields.
    """

    id: int
    number: str
    kind: Kind
    status: CaseStatus
    channel: Channel
    claimant: str | None
    claimant_name: str
    subject: str
    received_at: datetime
    acknowledge_due: date
    response_due: date
    acknowledged_at: datetime | None
    responded_at: datetime | None
    closed_at: datetime | None
    nature: Nature | None
    priority: Priority | None
    rules_hit: tuple[str, ...]
    stakeholder: Stakeholder | None = None
    training: str = ""
    description: str = ""
    transmitter: str | None = None
    extended_due: date | None = None
    extension_reason: str = ""
    dismissed: bool = False
    feedback_requested_at: datetime | None = None
    satisfaction_mark: int | None = None
    satisfaction_comment: str = ""
    satisfaction_at: datetime | None = None
    acknowledgement_means: Means | None = None  # how, when inboxbot's mail did not acknowledge it
    response_means: Means | None = None  # how, when the answer is not a mail of hers found in Sent
    response_note: str = ""  # what an answer made otherwise said
    # Where `received_at` comes from when not a server's reception: "forwarded_header" (the date a
    # forwarded mail's header block gives) or "forward" (the forward's own reception).
    received_from: str | None = None
    merged_into: str | None = None  # the case it was merged into (#fusionner): closed, kept in the register

    @property
    def kind_label(self) -> str:
        return self.kind.label

    @property
    def effective_response_due(self) -> date:
        return response_deadline(self.response_due, self.extended_due)


def response_deadline(response_due: date, extended_due: date | None) -> date:
    """The response deadline in force: the extended one when there was an extension."""
    return extended_due or response_due


@dataclass(frozen=True, slots=True)
class Action:
    """A cause found, or a measure taken, on a case; `seq` is its number as the director sees it."""

    seq: int
    kind: ActionKind
    text: str
    owner: str
    due: date | None
    status: ActionStatus | None
    result: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class AttachedFile:
    """A file a received mail carried, as the archive kept it (`path` relative to the archive root)."""

    filename: str
    content_type: str
    size: int
    path: str


# Why the director's own mails are in a case's exchange log (a log entry's `note`), and how the
# director and the auditor read it.
WRITTEN_BY_DIRECTOR = "written by the director"  # her mail, from her Sent folder
FROM_DIRECTOR = "from the director"  # her mail, proven in the inbox
DIRECTORS_NOTE = "note by the director"  # her note to herself, about the case, with no command
EXCHANGE_NOTE_LABELS = {
    WRITTEN_BY_DIRECTOR: "écrit par la directrice",
    FROM_DIRECTOR: "de la directrice",
    DIRECTORS_NOTE: "note de la directrice",
    # Why other mails joined a case (`decide.Attach`).
    "answer to the satisfaction request": "réponse au questionnaire de satisfaction",
    "new mail on a closed case, for the director to decide": "nouveau message sur un dossier clos",
}
_AUTOMATIC_NOTE = "automatic mail: "  # then what made it automatic, as the headers said it


def exchange_label(direction: str, note: str) -> str:
    """What an entry of the exchange log is, in French: « reçu », « envoyé » or « note de la directrice »."""
    if note.startswith(DIRECTORS_NOTE):
        return EXCHANGE_NOTE_LABELS[DIRECTORS_NOTE]
    return Direction.labels().get(direction, Direction.IN.label)


def exchange_note(note: str) -> str:
    """A log entry's remark in French where it is one of ours; a server's words stay as they came."""
    if note.startswith(_AUTOMATIC_NOTE):
        return f"message automatique : {note[len(_AUTOMATIC_NOTE) :]}"
    return EXCHANGE_NOTE_LABELS.get(note, note)


@dataclass(frozen=True)
class LogEntry:
    """One mail of a case's exchange log, incoming or outgoing.

    `recorded_at` is when inboxbot wrote it down (see `exchange_order`).
    """

    direction: Direction
    message_id: str | None
    from_address: str | None
    date: datetime
    subject: str
    summary: str
    note: str
    recorded_at: datetime
    archive_path: str | None = None  # the mail as received, under the archive directory
    # Read only for the audit file (`Exchanges.FULL`): whom it went to, what it carried, and for a
    # mail inboxbot sent, the bytes it sent (its text is not stored apart from them).
    to: str = ""
    attachments: tuple[AttachedFile, ...] = ()
    raw: bytes | None = None
    # A mail inboxbot sent (from the outbox): its original is the bytes it sent, not an archived file.
    from_outbox: bool = False


SIMULTANEOUS = timedelta(seconds=2)


def exchange_order(entries: Iterable[LogEntry]) -> list[LogEntry]:
    """The exchange log in the order things happened.

    By date; but the server's arrival time has one-second resolution and may be rounded up, so a
    claim can appear to arrive a second after the acknowledgement it caused. Entries less than
    two seconds apart therefore keep the order inboxbot recorded them in: causes before effects.
    """
    ordered = sorted(entries, key=lambda entry: entry.date)
    moved = True
    while moved:
        moved = False
        for i in range(len(ordered) - 1):
            first, second = ordered[i], ordered[i + 1]
            if second.date - first.date <= SIMULTANEOUS and second.recorded_at < first.recorded_at:
                ordered[i], ordered[i + 1] = second, first
                moved = True
    return ordered


@dataclass(frozen=True)
class Risk:
    """A quality risk the director analysed (`#risque`): the annual report's risk section lists them."""

    at: datetime
    actor: str
    text: str


@dataclass(frozen=True)
class CaseEvent:
    at: datetime
    actor: str
    type: str
    detail: str


@dataclass(frozen=True, slots=True)
class CaseDetail:
    """A case with what happened on it.

    A register row shows only how many mails were exchanged; reading them all for that would cost
    most of the export of a large register, so such a detail carries `exchange_count` (counted by
    the database) and no `messages`.
    """

    case: Case
    messages: tuple[LogEntry, ...]
    events: tuple[CaseEvent, ...]
    actions: tuple[Action, ...] = ()
    exchange_count: int | None = None

    @property
    def exchanges(self) -> int:
        return len(self.messages) if self.exchange_count is None else self.exchange_count


def action_overdue(action: Action, today: date) -> bool:
    """An action still to do (or under way) whose due date has passed."""
    return action.due is not None and action.due < today and action.status in (ActionStatus.TODO, ActionStatus.DOING)


def action_line(action: Action) -> str:
    """One action as a line of the register's row for its case: the director quotes it by its number."""
    line = f"{action.seq}. {action.kind.label} : {action.text}"
    if action.status:
        line += f" [{action.status.label}]"
    if action.result:
        line += f" — résultat : {action.result}"
    return line


def deadline_label(met: bool | None, done: bool, dismissed: bool) -> str:
    """How a deadline reads in the register, whatever its format.

    A case classified "sans suite" was not a claim: a step it never needed is "sans objet", not a miss.
    """
    if dismissed and not done:
        return "sans objet"
    if met is None:
        return "en attente"
    return "oui" if met else "non"


@dataclass(frozen=True)
class OutgoingMail:
    """A queued mail, as the sender sees it: the bytes are final, Message-ID included."""

    id: int
    message_id: str
    recipient: str
    sender: str
    raw: bytes
    attempts: int
    case_id: int | None
    purpose: str
