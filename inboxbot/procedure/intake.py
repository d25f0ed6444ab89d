"""Opening a case, whichever way the claim arrived: by mail, or written down by the director.

One path for every channel, so every case gets the same number series, the same dated history and
the same acknowledgement rules, whether it came by mail or by phone (the procedure's point 3c).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from inboxbot.config import Settings
from inboxbot.domain.cases import Case
from inboxbot.domain.decide import FROM_FORWARD, FROM_FORWARDED_HEADER, OpenCase
from inboxbot.domain.message import Address
from inboxbot.domain.vocabulary import Priority, Stakeholder
from inboxbot.outgoing.letters import Letters
from inboxbot.store.repository import Unit

log = logging.getLogger(__name__)

RECEIVED_FROM_DETAILS = {
    FROM_FORWARDED_HEADER: (
        "date lue dans l'en-tête du message transféré : le message d'origine n'a pas été retrouvé dans la boîte"
    ),
    FROM_FORWARD: "date du transfert : ni le message d'origine ni la date de son en-tête n'ont été retrouvés",
}
URGENT = Priority.URGENTE
ALERT_EXCERPT_CHARS = 500


@dataclass(frozen=True)
class Thread:
    """The mail an acknowledgement answers, so it threads under it in the claimant's client."""

    in_reply_to: str | None
    references: Sequence[str]


def open_case(
    unit: Unit,
    letters: Letters,
    settings: Settings,
    decision: OpenCase,
    actor: str,
    now: datetime,
    thread: Thread | None = None,
    description: str = "",
    stakeholder: Stakeholder | None = None,
    training: str = "",
) -> tuple[int, str]:
    """Register the case `decision` describes, queue its acknowledgement; its id and number."""
    year = decision.received_at.astimezone(settings.organisation.timezone).year
    number = unit.next_case_number(year)
    claimant = decision.claimant
    case = unit.open_case(
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
        transmitter=decision.transmitter,
        received_from=decision.received_from,
        stakeholder=stakeholder,
        training=training,
        description=description,
    )
    unit.add_event(case.id, decision.received_at, actor, "received", decision.subject)
    unit.add_event(case.id, now, "inboxbot", "opened", ", ".join(decision.rules_hit) or decision.channel)
    if decision.received_from in (FROM_FORWARDED_HEADER, FROM_FORWARD):
        # The auditor must see that this date is not a server's reception of the claim.
        why = RECEIVED_FROM_DETAILS[decision.received_from]
        unit.add_event(case.id, now, "inboxbot", f"received-from:{decision.received_from}", why)
    log.info(
        "case %s opened (%s) from %s: %s", number, decision.kind, claimant.email if claimant else "?", decision.subject
    )
    if decision.acknowledgement is not None and claimant is not None:
        thread = thread or Thread(in_reply_to=None, references=())  # an oral claim starts a new conversation
        letters.to_claimant(
            unit,
            case,
            decision.acknowledgement,
            now,
            in_reply_to=thread.in_reply_to,
            references=thread.references,
        )
    elif decision.note:
        unit.add_event(case.id, now, "inboxbot", "not-acknowledged", decision.note)
    if decision.thanks is not None and decision.transmitter is not None:
        letters.to_transmitter(
            unit,
            case,
            decision.thanks,
            Address(decision.transmitter, decision.transmitter_name),
            now,
            in_reply_to=thread.in_reply_to if thread else None,
            references=thread.references if thread else (),
        )
    if decision.priority == URGENT:
        rules = ", ".join(decision.rules_hit)
        alert_urgent(unit, letters, case, f"règle {rules}" if rules else "dès son ouverture", now)
    return case.id, number


def alert_urgent(unit: Unit, letters: Letters, case: Case, why: str, now: datetime) -> None:
    """Tell the director at once that a case became urgent, rather than in tomorrow's digest.

    Queued in the transaction that made it urgent: it leaves once, whatever restarts follow, and
    again only if the case becomes urgent again after being something else.
    """
    who = f"{case.claimant_name} <{case.claimant}>" if case.claimant and case.claimant_name else case.claimant or ""
    excerpt = " ".join(case.description.split())[:ALERT_EXCERPT_CHARS]
    letters.to_director(unit, "urgent_alert", now, case=case, why=why, claimant=who, excerpt=excerpt)
    unit.add_event(case.id, now, "inboxbot", "urgent-alert", why)
