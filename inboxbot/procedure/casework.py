"""Carrying out the director's commands on cases, each leaving a dated entry in the case's history.

The procedure wants every step recorded with its date and author, so an auditor can check it:
requalification, nature, priority, extensions with their reason, causes, corrective and preventive
actions, mediation, urgent measures, closure. Each command yields one French line for the report
mailed back to the director: what was done, or why it was refused. Everything happens inside the
caller's transaction, together with the mails it queues (the extension notice, the register).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from inboxbot.config import Settings
from inboxbot.domain.cases import ACTION_KINDS, ACTION_LABELS, Case
from inboxbot.domain.deadlines import DuePolicy
from inboxbot.domain.decide import TRANSMITTER_THANKS, Candidate, Policy, acknowledgement, qualify
from inboxbot.domain.mail_commands import COMMANDS, MEANS_LABELS, Command, Refusal
from inboxbot.domain.mailboxes import mailbox_key
from inboxbot.domain.message import Address
from inboxbot.domain.text import fold
from inboxbot.domain.vocabulary import (
    ActionKind,
    ActionStatus,
    CaseStatus,
    Channel,
    Kind,
    MailOutcome,
    Means,
)
from inboxbot.outgoing.letters import Letters
from inboxbot.outgoing.outbox import MailAttachment
from inboxbot.procedure.intake import URGENT, Thread, alert_urgent, open_case
from inboxbot.procedure.review import PROCEDURE_REVIEW, last_procedure_review
from inboxbot.store.repository import MailRecord, Unit, mail_reference

if TYPE_CHECKING:
    from inboxbot.exports.site import SiteResult

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# The largest audit ZIP mailed (#registre audit): base64 makes it a third larger, and many providers
# refuse mails above 20 or 25 MB. Above it, the site goes without originals and attachments.
AUDIT_MAIL_LIMIT = 15_000_000
CHANNEL_WORDS = Channel.labels()
FIELD_LABELS = {
    "nature": "nature",
    "priority": "priorité",
    "stakeholder": "partie prenante",
    "training": "formation concernée",
}


@dataclass(frozen=True)
class Outcome:
    line: str
    message: str  # French, for the director
    obeyed: bool


def annual_report_of(unit: Unit, settings: Settings, year: int, fmt: str) -> str:
    """The year's report, with the previous year for comparison and the last procedure review."""
    from inboxbot.exports.report import annual_report  # babel and the report's code: imported only when asked
    from inboxbot.store.export import Exchanges, register_details

    # The report reads cases and actions only: never the mails, whatever the size of the register. Read
    # as the figures are made, a chunk at a time: a list of each year's records, beside the figures'
    # copies of them, doubled the report's memory.
    this_year = register_details(unit, Exchanges.NONE, year=year)
    previous = register_details(unit, Exchanges.NONE, year=year - 1)
    tz = settings.organisation.timezone
    since = datetime(year, 1, 1, tzinfo=tz)
    risks = unit.risks(since, datetime(year + 1, 1, 1, tzinfo=tz))
    return annual_report(this_year, previous, year, settings, last_procedure_review(unit, settings), fmt, risks=risks)


def audit_site(
    unit: Unit,
    settings: Settings,
    target: Path | None,
    now: datetime,
    *,
    zip_to: Path | None = None,
    year: int | None = None,
    kind: Kind | None = None,
    status: CaseStatus | None = None,
    include_files: bool = True,
    number: str | None = None,
) -> SiteResult:
    """The audit file (a static site) written into `target` and/or zipped into `zip_to`, for the command
    line and for #registre audit."""
    from sqlalchemy.engine import make_url

    from inboxbot.bootstrap import shipped
    from inboxbot.exports.site import write_site  # jinja2 and the report: imported only when asked

    dirs = [shipped("templates")]
    if settings.templates_dir is not None:
        dirs.insert(0, settings.templates_dir)
    label = make_url(settings.database.url).render_as_string(hide_password=True)
    return write_site(
        unit,
        settings,
        target,
        template_dirs=dirs,
        now=now,
        register_label=f"base {label}",
        last_review=last_procedure_review(unit, settings),
        zip_to=zip_to,
        year=year,
        kind=kind,
        status=status,
        include_files=include_files,
        number=number,
    )


def check_handlers(general: Mapping[str, object], on_case: Mapping[str, object]) -> None:
    """Every command of the table has exactly one handler, of the kind its table entry says."""
    expected = {spec.name: spec.needs_case for spec in COMMANDS}
    given = {**{name: False for name in general}, **{name: True for name in on_case}}
    if len(given) != len(general) + len(on_case) or given != expected:
        raise ValueError(f"command handlers do not match the command table: {given} != {expected}")


class Refused(Exception):
    """A command that cannot be carried out; the message is for the director."""


class Order(NamedTuple):
    """One command being carried out: the transaction, what she wrote, when she wrote it, as whom, and now."""

    unit: Unit
    command: Command
    at: datetime
    actor: str
    now: datetime


# A command about no case in particular (#registre, #ouvrir M-0042), and one about a case, found first.
GeneralHandler = Callable[[Order], str]
CaseHandler = Callable[[Order, Case], str]


class Casework:
    def __init__(self, settings: Settings, letters: Letters, policy: Policy) -> None:
        self.settings = settings
        self.letters = letters
        self.policy = policy
        self.due: DuePolicy = policy.due
        self.tz = settings.organisation.timezone
        # The command table's names, each with what obeys it: a command added to the table without
        # its handler (or a handler left for a command gone) stops the program here, not on her mail.
        self._general: dict[str, GeneralHandler] = {
            "help": self._help,
            "register": self._register,
            "report": self._report,
            "review": self._review,
            "open_mail": self._open_mail,
            "discard_mail": self._discard_mail,
            "risk": self._risk,
            "merge": self._merge,
        }
        self._on_case: dict[str, CaseHandler] = {
            "record": self._record,
            "acknowledged": self._acknowledged,
            "responded": self._responded,
            "received": self._received,
            "channel": self._channel,
            "transmitter": self._transmitter,
            "close": self._close,
            "dismiss": self._dismiss,
            "reopen": self._reopen,
            "kind": self._requalify,
            "claimant": self._claimant,
            "extend": self._extend,
            "action": self._action,
            "note": self._note,
            **{name: self._field for name in FIELD_LABELS},
            **{name: self._new_action for name in ACTION_KINDS},
        }
        check_handlers(self._general, self._on_case)

    def handled(self) -> tuple[frozenset[str], frozenset[str]]:
        """The commands obeyed without a case, and those obeyed on a case."""
        return frozenset(self._general), frozenset(self._on_case)

    def carry_out(
        self, unit: Unit, commands: Sequence[Command | Refusal], at: datetime, actor: str, now: datetime
    ) -> list[Outcome]:
        """Carry out `commands` written at `at` by `actor`; one outcome per command, in order."""
        outcomes: list[Outcome] = []
        for command in commands:
            if isinstance(command, Refusal):
                outcomes.append(Outcome(command.line, command.reason, False))
                continue
            try:
                message = self._one(unit, command, at, actor, now)
            except Refused as refusal:
                outcomes.append(Outcome(command.line, str(refusal), False))
            else:
                outcomes.append(Outcome(command.line, message, True))
        return outcomes

    def her_mail_out(self, unit: Unit, case: Case, at: datetime, recipients: Sequence[str]) -> None:
        """Her own mail to the claimant, found in Sent: her first one acknowledges the claim if nothing did.

        The procedure asks for an acknowledgement « par mail », not for inboxbot's: when she wrote to
        the claimant herself before inboxbot could (an incident she entered, a claim without an
        address at first), the register must not call that claim unacknowledged.
        """
        if case.acknowledged_at is not None or case.claimant is None or case.claimant not in recipients:
            return
        unit.update_case(case.id, acknowledged_at=at, acknowledgement_means=Means.EMAIL)
        unit.add_event(case.id, at, "inboxbot", "acknowledged", "par le premier message de la directrice au réclamant")

    def _case(self, unit: Unit, command: Command) -> Case:
        if command.case_number is None:
            raise Refused("Précisez le numéro du dossier (dans l'objet ou sur la ligne, par exemple 2026-0001).")
        return self._numbered(unit, command.case_number)

    def _numbered(self, unit: Unit, number: str | None) -> Case:
        """The case of that very number: one merged into another is not silently taken for it."""
        ref = unit.case_by_number(number) if number is not None else None
        if ref is None:
            raise Refused(f"Aucun dossier ne porte le numéro {number}.")
        if ref.number != number:
            raise Refused(
                f"Le dossier {number} a été fusionné dans le dossier {ref.number} : adressez la commande au "
                f"dossier {ref.number}."
            )
        return unit.case(ref.id)

    def _day(self, value: datetime) -> str:
        return f"{value.astimezone(self.tz):%d/%m/%Y}"

    def _one(self, unit: Unit, command: Command, at: datetime, actor: str, now: datetime) -> str:
        order = Order(unit, command, at, actor, now)
        general = self._general.get(command.name)
        if general is not None:
            return general(order)
        on_case = self._on_case.get(command.name)
        if on_case is None:
            raise Refused(f"Commande « {command.name} » non prise en charge.")
        return on_case(order, self._case(unit, command))

    def _help(self, order: Order) -> str:
        return "Voici la liste des commandes."

    def _review(self, order: Order) -> str:
        order.unit.set_runtime(PROCEDURE_REVIEW, order.at.astimezone(self.tz).date().isoformat(), order.at)
        return f"Revue annuelle de la procédure enregistrée au {self._day(order.at)}."

    def _risk(self, order: Order) -> str:
        order.unit.add_risk(order.at, order.actor, order.command.value or "")
        return f"Analyse de risque enregistrée au {self._day(order.at)} ; elle figurera au rapport annuel."

    def _channel(self, order: Order, case: Case) -> str:
        value = order.command.value or ""
        if value == case.channel:
            raise Refused(f"Le canal du dossier {case.number} est déjà « {CHANNEL_WORDS.get(value, value)} ».")
        order.unit.update_case(case.id, channel=value)
        order.unit.add_event(case.id, order.at, order.actor, "set:channel", f"{case.channel} → {value}")
        return f"Dossier {case.number} : canal « {CHANNEL_WORDS.get(value, value)} »."

    def _transmitter(self, order: Order, case: Case) -> str:
        value = order.command.value or ""
        order.unit.update_case(case.id, transmitter=value)
        order.unit.add_event(case.id, order.at, order.actor, "set:transmitter", f"{case.transmitter or ''} → {value}")
        return f"Dossier {case.number} : transmise par {value}."

    def _dismiss(self, order: Order, case: Case) -> str:
        unit, at = order.unit, order.at
        if case.status == CaseStatus.CLOSED:
            raise Refused(f"Le dossier {case.number} est déjà clos.")
        silent, reason = _silenced(order.command.value or "")
        unit.update_case(case.id, status=CaseStatus.CLOSED, closed_at=at, dismissed=True)
        unit.add_event(case.id, at, order.actor, "dismissed", reason)
        # The acknowledgement promised an answer: the claimant hears of the classement, and why.
        if silent or case.claimant is None or case.acknowledged_at is None:
            why = "sans message au réclamant" if silent or case.claimant else "pas d'adresse pour le prévenir"
            if case.claimant and case.acknowledged_at is None and not silent:
                why = "aucun accusé de réception ne lui avait été envoyé : pas de message"
            return f"Dossier {case.number} classé sans suite ({why})."
        self.letters.to_claimant(unit, unit.case(case.id), "dismissal_notice", order.now, reason=reason)
        return f"Dossier {case.number} classé sans suite ; {case.claimant} en est informé(e), avec le motif."

    def _reopen(self, order: Order, case: Case) -> str:
        if case.status == CaseStatus.OPEN:
            raise Refused(f"Le dossier {case.number} est déjà ouvert.")
        # The answer that closed it is not the answer to what reopened it: the next closure dates it again.
        order.unit.update_case(
            case.id,
            status=CaseStatus.OPEN,
            closed_at=None,
            dismissed=False,
            responded_at=None,
            response_means=None,
            response_note="",
        )
        cleared = f"date de réponse du {self._day(case.responded_at)} effacée" if case.responded_at else ""
        order.unit.add_event(case.id, order.at, order.actor, "reopened", cleared)
        return f"Dossier {case.number} rouvert" + (f" ; {cleared}." if cleared else ".")

    def _field(self, order: Order, case: Case) -> str:
        name, value = order.command.name, order.command.value or ""
        order.unit.update_case(case.id, **{name: value})
        order.unit.add_event(case.id, order.at, order.actor, f"set:{name}", value)
        alerted = ""
        if name == "priority" and value == URGENT and case.priority != URGENT:
            alert_urgent(
                order.unit, self.letters, order.unit.case(case.id), "priorité fixée par votre commande", order.now
            )
            alerted = " ; alerte envoyée"
        return f"Dossier {case.number} : {FIELD_LABELS[name]} « {value} »{alerted}."

    def _merge(self, order: Order) -> str:
        """« #fusionner N M »: M (the same person from another address, the same claim sent twice) joins N.

        M's mails, our mails and its actions move to N, so that every reply threads into N and M's
        people take part in it; N's history receives a copy of M's, each line marked with M's number;
        N keeps the earliest reception, its deadlines following, and an acknowledgement or an answer
        only M had. M is closed « fusionné dans N », out of the figures like a case classée sans suite,
        and stays in the register with its own history.
        """
        unit, command, at, actor, _ = order
        kept = self._numbered(unit, command.case_number)
        merged = self._numbered(unit, command.other_case)
        if kept.id == merged.id:
            raise Refused(f"Un dossier ne peut être fusionné dans lui-même ({kept.number}).")
        if kept.status == CaseStatus.CLOSED:
            raise Refused(
                f"Le dossier {kept.number} est clos : rouvrez-le d'abord (« #rouvrir {kept.number} »), "
                f"puis fusionnez-y le dossier {merged.number}."
            )
        history = unit.case_detail(merged.number)
        renumbered = unit.merge_cases(kept.id, merged.id)
        changes, taken = self._taken_over(kept, merged)
        if changes:
            unit.update_case(kept.id, **changes)
        if "received_at" in changes:
            unit.add_event(
                kept.id, at, actor, "set:received",
                f"{kept.received_at.astimezone(self.tz):%d/%m/%Y %H:%M} → "
                f"{merged.received_at.astimezone(self.tz):%d/%m/%Y %H:%M} (réception du dossier {merged.number})",
            )  # fmt: skip
        unit.update_case(merged.id, status=CaseStatus.CLOSED, closed_at=merged.closed_at or at, dismissed=True)
        for event in history.events if history is not None else ():
            unit.add_event(kept.id, event.at, event.actor, event.type, f"[{merged.number}] {event.detail}".strip())
        moved = ", ".join(f"{old} → {new}" for old, new in renumbered.items())
        who = f"{merged.claimant}, " if merged.claimant else ""
        note = f" : {command.value}" if command.value else ""
        unit.add_event(
            kept.id, at, actor, "merged-in",
            f"dossier {merged.number} ({who}{merged.kind_label}, reçu le {self._day(merged.received_at)})"
            + (f" ; actions renumérotées {moved}" if moved else "") + note,
        )  # fmt: skip
        unit.add_event(merged.id, at, actor, "merged", f"dans le dossier {kept.number}{note}")
        actions = f", ses actions (renumérotées {moved})" if moved else ""
        told = [
            f"Dossier {merged.number} fusionné dans le dossier {kept.number} : ses messages{actions} et son "
            f"historique le rejoignent, ainsi que les réponses à venir"
        ]
        if taken:
            told.append(f"le dossier {kept.number} prend {', '.join(taken)}")
        if merged.kind != kept.kind:
            told.append(
                f"attention : le dossier {merged.number} était {_a(merged.kind)}, le dossier {kept.number} reste "
                f"{_a(kept.kind)} (« #type {kept.number} … » pour le changer)"
            )
        if merged.claimant and kept.claimant and merged.claimant != kept.claimant:
            told.append(f"les messages de {merged.claimant} rejoindront désormais le dossier {kept.number}")
        if merged.status == CaseStatus.CLOSED:
            told.append(f"le dossier {merged.number} était déjà clos")
        told.append(f"le dossier {merged.number} reste au registre, clos « fusionnée dans {kept.number} »")
        return " ; ".join(told) + "."

    def _taken_over(self, kept: Case, merged: Case) -> tuple[dict[str, Any], list[str]]:
        """What the kept case takes of the merged one: the earlier reception (its deadlines following),
        and an acknowledgement, an answer or a claimant only the merged one had; and those, in words."""
        changes: dict[str, Any] = {}
        taken: list[str] = []
        if merged.received_at < kept.received_at:
            changes.update(self._reception(kept, merged.received_at))
            taken.append(f"la date de réception du {self._day(merged.received_at)} et les échéances qui en découlent")
        if kept.acknowledged_at is None and merged.acknowledged_at is not None:
            changes.update(acknowledged_at=merged.acknowledged_at, acknowledgement_means=merged.acknowledgement_means)
            taken.append(f"l'accusé de réception du {self._day(merged.acknowledged_at)}")
        if kept.responded_at is None and merged.responded_at is not None:
            changes.update(
                responded_at=merged.responded_at,
                response_means=merged.response_means,
                response_note=merged.response_note,
            )
            taken.append(f"la réponse du {self._day(merged.responded_at)}")
        if kept.claimant is None and merged.claimant is not None:
            changes.update(claimant=merged.claimant, claimant_name=merged.claimant_name)
            taken.append(f"le réclamant {merged.claimant}")
        return changes, taken

    def _new_action(self, order: Order, case: Case) -> str:
        command, name = order.command, order.command.name
        text = command.value or ""
        seq = order.unit.add_action(
            case.id, ActionKind(name), text, order.at, owner=command.owner or "", due=command.due
        )
        order.unit.add_event(case.id, order.at, order.actor, f"action:{name}", f"{seq}. {text}")
        details = "".join(
            [
                f", responsable : {command.owner}" if command.owner else "",
                f", échéance : {command.due:%d/%m/%Y}" if command.due else "",
            ]
        )
        return f"Dossier {case.number} : {ACTION_LABELS[name]} n° {seq} enregistrée{details}."

    def _action(self, order: Order, case: Case) -> str:
        command = order.command
        if command.change == "edit":
            return self._edit_action(order, case)
        if command.change == "cancel":
            return self._cancel_action(order, case)
        seq, status = command.action_number or 0, command.status or ActionStatus.TODO
        action = order.unit.update_action(case.id, seq, status, command.value or "", order.at)
        if action is None:
            raise _no_action(case, seq)
        order.unit.add_event(
            case.id, order.at, order.actor, f"action-status:{status}", f"{seq}. {command.value or ''}".strip()
        )
        return f"Dossier {case.number} : action n° {seq} {status.label}."

    def _edit_action(self, order: Order, case: Case) -> str:
        unit, command, at, actor, _ = order
        seq = command.action_number or 0
        old = unit.action(case.id, seq)
        if old is None:
            raise _no_action(case, seq)
        new = unit.edit_action(case.id, seq, at, command.value, command.owner, command.due)
        assert new is not None
        changes = [
            f"{label} : « {before or '—'} » → « {after or '—'} »"
            for label, before, after in (
                ("texte", old.text, new.text),
                ("responsable", old.owner, new.owner),
                ("échéance", f"{old.due:%d/%m/%Y}" if old.due else "", f"{new.due:%d/%m/%Y}" if new.due else ""),
            )
            if before != after
        ]
        if not changes:
            raise Refused(f"L'action n° {seq} du dossier {case.number} est déjà ainsi : rien ne change.")
        unit.add_event(case.id, at, actor, "action-edited", f"{seq}. " + " ; ".join(changes))
        return f"Dossier {case.number} : action n° {seq} modifiée ({' ; '.join(changes)})."

    def _cancel_action(self, order: Order, case: Case) -> str:
        unit, command, at, actor, _ = order
        seq = command.action_number or 0
        action = unit.cancel_action(case.id, seq)
        if action is None:
            raise _no_action(case, seq)
        why = f" — {command.value}" if command.value else ""
        label = action.kind.label
        unit.add_event(case.id, at, actor, "action-cancelled", f"{seq}. {label} : {action.text}{why}")
        return f"Dossier {case.number} : {label} n° {seq} annulée (« {action.text} »)."

    def _note(self, order: Order, case: Case) -> str:
        order.unit.add_event(case.id, order.at, order.actor, "note", order.command.value or "")
        return f"Dossier {case.number} : note ajoutée."

    def _candidate(self, unit: Unit, command: Command) -> MailRecord:
        """The mail put before her that the command names, still waiting for her decision: a
        candidate, or a mail a rule left for her to qualify (triage)."""
        reference = mail_reference(command.mail_id or 0)
        mail = unit.mail(command.mail_id) if command.mail_id is not None else None
        if mail is not None and mail.outcome == MailOutcome.JOINED and mail.joined_to is not None:
            first = mail_reference(mail.joined_to)
            raise Refused(
                f"Le message {reference} fait suite au message {first} et se décide avec lui : "
                f"#ouvrir {first} ou #ecarter {first}."
            )
        qualified = (MailOutcome.CANDIDATE, MailOutcome.TRIAGE, MailOutcome.OPENED, MailOutcome.DISMISSED)
        if mail is None or mail.outcome not in qualified:
            raise Refused(f"Aucun message à qualifier ne porte la référence {reference}.")
        if mail.outcome == MailOutcome.OPENED:
            number = unit.case(mail.case_id).number if mail.case_id is not None else "?"
            raise Refused(f"Le message {reference} a déjà donné le dossier {number}.")
        if mail.outcome == MailOutcome.DISMISSED:
            raise Refused(f"Le message {reference} a déjà été écarté.")
        return mail

    def _open_mail(self, order: Order) -> str:
        """A case from the ORIGINAL mail: its author, its reception, its channel; its log starts with it."""
        unit, command, at, actor, now = order
        mail = self._candidate(unit, command)
        reference = mail_reference(command.mail_id or 0)
        claimant = Address(mail.claimant, mail.claimant_name) if mail.claimant else None
        if (
            claimant is None
            and mail.outcome == MailOutcome.TRIAGE
            and mail.channel in (None, Channel.EMAIL)
            and mail.from_address
        ):
            # Recorded before triage mails kept their claimant: its author, as for a candidate.
            claimant = Address(mail.from_address, mail.from_name)
        tz = self.tz
        local_midnight = datetime.combine(now.astimezone(tz).date(), datetime.min.time(), tz)
        candidate = Candidate(
            reference=reference,
            claimant=claimant,
            subject=mail.subject,
            received_at=mail.received_at,
            kind=mail.kind or Kind.RECLAMATION,
            channel=mail.channel or Channel.EMAIL,
            reasons=mail.words,
            # Its receiving server said its From was forged: no acknowledgement to whoever it names.
            dmarc_fail=mail.spam if mail.spam.startswith("dmarc=fail") else "",
        )
        cap = self.policy.daily_cap_total
        decision = qualify(
            candidate,
            Kind(command.value) if command.value else None,
            self.policy,
            unit.acknowledgements_since(mailbox_key(claimant.email), local_midnight) if claimant else 0,
            unit.acknowledgements_since(None, local_midnight, at_most=cap) if cap else 0,
        )
        if decision.channel == Channel.THIRD_PARTY and mail.from_address and mail.from_address != mail.claimant:
            # A claim a third party passed on: its forwarder is the transmitter, thanked as on arrival.
            transmitter = Address(mail.from_address, mail.from_name)
            thanks, _ = acknowledgement(
                transmitter,
                False,
                self.policy,
                unit.acknowledgements_since(mailbox_key(transmitter.email), local_midnight),
                dmarc_fail=candidate.dmarc_fail,
                template=TRANSMITTER_THANKS,
            )
            decision = replace(
                decision, transmitter=transmitter.email, transmitter_name=transmitter.name, thanks=thanks
            )
        message_ids = (mail.message_id,) if mail.message_id else ()
        case_id, number = open_case(
            unit,
            self.letters,
            self.settings,
            decision,
            mail.from_address or (claimant.email if claimant else actor),
            now,
            thread=Thread(in_reply_to=mail.message_id, references=message_ids),
            description=mail.summary,
        )
        unit.add_event(case_id, at, actor, "qualified", f"{reference} : {decision.kind.label}")
        unit.set_mail_outcome(mail.message_key, MailOutcome.OPENED, f"opened by the director as case {number}", case_id)
        joined = unit.joined_mails(mail.id or 0)
        for follower in joined:
            # Its follow-ups belong to the same case: the exchange log shows them after it, in order.
            unit.set_mail_outcome(
                follower.message_key,
                MailOutcome.ATTACHED,
                f"joined {reference}, opened by the director as case {number}",
                case_id,
            )
            unit.add_event(case_id, follower.received_at, follower.from_address or actor, "mail:in", follower.subject)
        messages = f" avec les {len(joined) + 1} messages" if joined else ""
        if decision.acknowledgement and claimant is not None:
            told = f" ; accusé de réception envoyé à {claimant.email}"
        elif claimant is None:
            told = f" ; réclamant à indiquer : #réclamant {number} Nom <adresse>, et l'accusé partira"
        else:
            told = f" ; pas d'accusé de réception ({decision.note})"
        return (
            f"Message {reference} : dossier {number} ouvert ({decision.kind.label}){messages}, "
            f"reçu le {self._day(mail.received_at)}{told}."
        )

    def _discard_mail(self, order: Order) -> str:
        unit, command, at, actor, _ = order
        mail = self._candidate(unit, command)
        reference = mail_reference(command.mail_id or 0)
        why = f": {command.value}" if command.value else ""
        reason = f"set aside by {actor} on {at.astimezone(self.tz):%Y-%m-%d}{why}"
        unit.set_mail_outcome(mail.message_key, MailOutcome.DISMISSED, reason)
        joined = unit.joined_mails(mail.id or 0)
        for follower in joined:
            unit.set_mail_outcome(follower.message_key, MailOutcome.DISMISSED, f"joined {reference}; {reason}")
        messages = " avec le message qui lui fait suite" if len(joined) == 1 else ""
        messages = f" avec les {len(joined)} messages qui lui font suite" if len(joined) > 1 else messages
        return f"Message {reference} écarté{messages} : ce n'est ni une réclamation ni un incident."

    def _close(self, order: Order, case: Case) -> str:
        unit, command, at, actor, now = order
        if case.status == CaseStatus.CLOSED:
            raise Refused(f"Le dossier {case.number} est déjà clos.")
        # The response is her last mail to the claimant from her own client, or one recorded by #réponse.
        # With no claimant address, no mail of hers can be the answer: one to a venue is not.
        replied = (
            unit.last_reply_from(case.id, self.settings.director.addresses, to=case.claimant)
            if case.claimant is not None
            else None
        )
        means: Means | None
        if replied is not None and (case.responded_at is None or replied > case.responded_at):
            responded_at, means, source = replied, Means.EMAIL, "votre dernier message au réclamant"
        elif case.responded_at is not None:
            responded_at, means = case.responded_at, case.response_means
            source = f"réponse enregistrée, {MEANS_LABELS.get(means or '', 'faite autrement')}"
        elif case.kind == Kind.RECLAMATION:
            raise Refused(
                f"Le dossier {case.number} n'a pas de réponse au réclamant au dossier : la procédure ne "
                "clôt une réclamation qu'une fois la réponse adressée. Répondez-lui depuis votre messagerie "
                f"(en gardant [Dossier {case.number}] dans l'objet), ou, si vous lui avez répondu autrement, "
                f"enregistrez-le puis clôturez : « #réponse {case.number} {self._day(at)} téléphone "
                f"<ce que vous lui avez répondu> » puis « #clore {case.number} »."
            )
        else:
            # A difficulty or an incident is closed by what was done about it: closing records it.
            responded_at, means, source = at, None, "ce message"
        unit.update_case(
            case.id, status=CaseStatus.CLOSED, closed_at=at, responded_at=responded_at, response_means=means
        )
        unit.add_event(case.id, at, actor, "closed", command.value or "")
        if self.settings.closure.notify_claimant:
            self.letters.to_claimant(unit, unit.case(case.id), "closure_notice", now, note=command.value or "")
        return f"Dossier {case.number} clos ; réponse datée du {self._day(responded_at)} ({source})."

    def _past_day(self, command: Command, at: datetime, what: str) -> datetime:
        """The instant a day written in a command stands for: the mail's own when none or the same day.

        A day without a time is recorded at 00:00 in the organisation's time zone: only the day is
        known, and the deadlines are kept by the day.
        """
        today = at.astimezone(self.tz).date()
        written = command.on
        if written is None:
            return at
        day = written.past(today)
        if day is None:
            raise Refused(
                f"Date impossible pour {what} : elle doit exister et ne pas être postérieure à votre message "
                f"du {self._day(at)}."
            )
        if written.at is not None:
            return datetime.combine(day, written.at, self.tz)
        return at if day == today else datetime.combine(day, time(0), self.tz)

    def _acknowledged(self, order: Order, case: Case) -> str:
        unit, command, at, actor, _ = order
        if case.acknowledged_at is not None:
            raise Refused(
                f"Le dossier {case.number} a déjà un accusé de réception, du {self._day(case.acknowledged_at)}."
            )
        when = self._past_day(command, at, "l'accusé de réception")
        if when.astimezone(self.tz).date() < case.received_at.astimezone(self.tz).date():
            raise Refused(
                f"L'accusé de réception ne peut précéder la réception du dossier {case.number} "
                f"({self._day(case.received_at)})."
            )
        means = command.means
        unit.update_case(case.id, acknowledged_at=when, acknowledgement_means=means or Means.OTHER)
        how = MEANS_LABELS.get(means or "", "fait autrement")
        unit.add_event(case.id, at, actor, "acknowledged", f"{how}, le {self._day(when)} {command.value or ''}".strip())
        return f"Dossier {case.number} : accusé de réception {how} enregistré au {self._day(when)}."

    def _responded(self, order: Order, case: Case) -> str:
        unit, command, at, actor, _ = order
        if case.status == CaseStatus.CLOSED:
            raise Refused(f"Le dossier {case.number} est clos : écrivez « #rouvrir {case.number} » d'abord.")
        when = self._past_day(command, at, "la réponse")
        if when.astimezone(self.tz).date() < case.received_at.astimezone(self.tz).date():
            raise Refused(
                f"La réponse ne peut précéder la réception du dossier {case.number} ({self._day(case.received_at)})."
            )
        means, text = command.means, command.value or ""
        how = MEANS_LABELS.get(means or "", "faite autrement")
        if case.responded_at is None or when >= case.responded_at:
            unit.update_case(case.id, responded_at=when, response_means=means or Means.OTHER, response_note=text)
        unit.add_event(case.id, at, actor, "responded", f"{how}, le {self._day(when)} : {text}")
        return (
            f"Dossier {case.number} : réponse {how} enregistrée au {self._day(when)}. "
            f"Écrivez « #clore {case.number} » quand le dossier est réglé."
        )

    def _received(self, order: Order, case: Case) -> str:
        unit, command, at, actor, _ = order
        when = self._past_day(command, at, "la réception")
        if (
            command.on is not None
            and command.on.at is None
            and when.astimezone(self.tz).date() == case.received_at.astimezone(self.tz).date()
        ):
            raise Refused(f"Le dossier {case.number} est déjà daté du {self._day(case.received_at)}.")
        if case.acknowledged_at is not None and when > case.acknowledged_at:
            raise Refused(
                f"La réception ne peut suivre l'accusé de réception du dossier {case.number} "
                f"({self._day(case.acknowledged_at)})."
            )
        changes = self._reception(case, when)
        # Her date now, no longer one read from a forwarded header.
        unit.update_case(case.id, **changes, received_from=None)
        due = changes["extended_due"] or changes["response_due"]
        old = case.received_at.astimezone(self.tz)
        new = when.astimezone(self.tz)
        unit.add_event(case.id, at, actor, "set:received", f"{old:%d/%m/%Y %H:%M} → {new:%d/%m/%Y %H:%M}")
        return (
            f"Dossier {case.number} : reçu le {new:%d/%m/%Y à %H:%M} ; accusé de réception dû le "
            f"{self.due.acknowledge_due(when):%d/%m/%Y}, réponse due le {due:%d/%m/%Y}."
        )

    def _reception(self, case: Case, when: datetime) -> dict[str, Any]:
        """A case's reception moved to `when`, its deadlines following; an extension keeps its length."""
        response_due = self.due.response_due(when)
        shift = response_due - case.response_due
        return {
            "received_at": when,
            "acknowledge_due": self.due.acknowledge_due(when),
            "response_due": response_due,
            "extended_due": case.extended_due + shift if case.extended_due else None,
        }

    def _requalify(self, order: Order, case: Case) -> str:
        unit, at, actor, kind = order.unit, order.at, order.actor, Kind(order.command.value or "")
        if kind == case.kind:
            raise Refused(f"Le dossier {case.number} est déjà de type {kind.label}.")
        unit.update_case(case.id, kind=kind)
        unit.add_event(case.id, at, actor, "requalified", f"{case.kind} → {kind}")
        return f"Dossier {case.number} requalifié : {case.kind.label} → {kind.label}."

    def _claimant(self, order: Order, case: Case) -> str:
        unit, command, at, actor, now = order
        email, name = command.value or "", command.claimant_name or ""
        unit.update_case(case.id, claimant=email, claimant_name=name)
        unit.add_event(case.id, at, actor, "set:claimant", email)
        message = f"Dossier {case.number} : réclamant {email}."
        if case.acknowledged_at is None and not unit.queued_purposes(case.id) & {
            "acknowledgement",
            "incident_acknowledgement",
        }:
            # A claim she passed on is acknowledged once its claimant is known.
            template = "acknowledgement" if case.kind == Kind.RECLAMATION else "incident_acknowledgement"
            self.letters.to_claimant(unit, unit.case(case.id), template, now)
            message += " Accusé de réception envoyé."
        return message

    def _extend(self, order: Order, case: Case) -> str:
        unit, command, at, actor, now = order
        if case.status == CaseStatus.CLOSED:
            raise Refused(f"Le dossier {case.number} est clos : il n'y a plus de délai à prolonger.")
        if command.change == "cancel":
            return self._cancel_extension(order, case)
        if command.change == "until":
            return self._extend_until(order, case)
        previous = case.effective_response_due
        new_due = self.due.promised(previous + timedelta(days=command.days or 0))  # a date promised: never a Sunday
        return self._extended(order, case, new_due, command.value or "")

    def _extended(self, order: Order, case: Case, new_due: date, reason: str, moved: str = "") -> str:
        """The answer due later, for `reason`, told to the claimant with it as the procedure asks."""
        previous = case.effective_response_due
        order.unit.update_case(case.id, extended_due=new_due, extension_reason=reason)
        detail = f"{previous.isoformat()} → {new_due.isoformat()} : {reason}"
        order.unit.add_event(case.id, order.at, order.actor, "extended", detail)
        told = self._tell_due(order.unit, case, "extension_notice", order.now, reason=reason)
        return f"Dossier {case.number} : réponse due le {new_due:%d/%m/%Y}{moved} au lieu du {previous:%d/%m/%Y}{told}."

    def _tell_due(self, unit: Unit, case: Case, template: str, now: datetime, **context: Any) -> str:
        """The claimant told the answer date now in force; what the director is told of it."""
        informed = self.letters.to_claimant(unit, unit.case(case.id), template, now, **context)
        return " ; le réclamant en est informé" if informed else " ; aucun réclamant à informer (adresse inconnue)"

    def _extend_until(self, order: Order, case: Case) -> str:
        """« #prolonger jusqu'au 20/01/2027 »: the answer due that day, earlier or later than the extension
        in force. A first extension needs its reason, as any; changing one keeps it unless she gives another."""
        unit, command, at, actor, now = order
        today = at.astimezone(self.tz).date()
        day = command.on.coming(today) if command.on is not None else None
        if day is None:
            raise Refused(
                f"Date impossible : la nouvelle date de réponse doit exister et ne pas précéder votre message "
                f"du {today:%d/%m/%Y}."
            )
        new_due = self.due.promised(day)  # a date promised: never a weekend or a holiday
        moved = f" (le {day:%d/%m/%Y} n'est pas un jour ouvré)" if new_due != day else ""
        previous = case.effective_response_due
        if new_due <= case.response_due:
            back = f" Pour revenir à cette date : « #prolonger {case.number} annuler »." if case.extended_due else ""
            raise Refused(
                f"Le {new_due:%d/%m/%Y}{moved} n'est pas une prolongation : sans prolongation, la réponse au dossier "
                f"{case.number} est due le {case.response_due:%d/%m/%Y}.{back}"
            )
        if new_due == previous:
            raise Refused(f"La réponse au dossier {case.number} est déjà due le {previous:%d/%m/%Y}{moved}.")
        if case.extended_due is None:
            if command.value is None:
                raise Refused(
                    "Il manque le motif de la prolongation : la procédure demande de justifier les circonstances "
                    f"particulières auprès du réclamant, par exemple « #prolonger {case.number} jusqu'au "
                    f"{new_due:%d/%m/%Y} attente du retour du financeur »."
                )
            return self._extended(order, case, new_due, command.value, moved)
        reason = command.value or case.extension_reason
        unit.update_case(case.id, extended_due=new_due, extension_reason=reason)
        why = f" : {command.value}" if command.value else ""
        unit.add_event(case.id, at, actor, "extension-changed", f"{previous:%d/%m/%Y} → {new_due:%d/%m/%Y}{why}")
        earlier = new_due < previous
        told = self._tell_due(unit, case, "extension_change", now, previous=previous, earlier=earlier, reason=reason)
        way = "avancée" if earlier else "repoussée"
        return (
            f"Dossier {case.number} : date de réponse {way} au {new_due:%d/%m/%Y}{moved} "
            f"au lieu du {previous:%d/%m/%Y}{told}."
        )

    def _cancel_extension(self, order: Order, case: Case) -> str:
        """The extension undone: the answer is due on the first date again, and the claimant told so,
        unless that date has passed (a date already gone promises nothing: the case is late)."""
        unit, command, at, actor, now = order
        if case.extended_due is None:
            raise Refused(
                f"Le dossier {case.number} n'a pas de prolongation : la réponse est due le "
                f"{case.response_due:%d/%m/%Y}."
            )
        previous, due = case.extended_due, case.response_due
        unit.update_case(case.id, extended_due=None, extension_reason="")
        why = f" : {command.value}" if command.value else ""
        unit.add_event(case.id, at, actor, "extension-cancelled", f"{previous:%d/%m/%Y} → {due:%d/%m/%Y}{why}")
        if due < at.astimezone(self.tz).date():
            told = " ; cette date est passée : le dossier est en retard et le réclamant n'a pas été prévenu"
        else:
            told = self._tell_due(unit, case, "extension_change", now, previous=previous, earlier=True, reason="")
        return f"Dossier {case.number} : prolongation annulée, réponse due le {due:%d/%m/%Y}{told}."

    def _register(self, order: Order) -> str:
        import io

        unit, command, now = order.unit, order.command, order.now
        if command.value == "audit":
            return self._audit(unit, command, now)
        from inboxbot.exports.spreadsheet import write_register_xlsx  # xlsxwriter: imported only when asked
        from inboxbot.store.export import Exchanges, register_details

        details = register_details(unit, Exchanges.STEPS, year=command.year)
        today = now.astimezone(self.tz).date()
        out = io.BytesIO()
        count = write_register_xlsx(details, out, self.tz, self.settings.smtp.from_address, today)
        content = out.getvalue()
        name = f"registre-reclamations-{command.year or today.year}.xlsx"
        self.letters.to_director(
            unit,
            "register_export",
            now,
            attachments=[MailAttachment(name, XLSX_TYPE, content)],
            year=command.year,
            count=count,
            audit=False,
            files_left_out=False,
        )
        return f"Tableau de suivi envoyé en pièce jointe ({count} dossier(s))."

    def _record(self, order: Order, case: Case) -> str:
        """The case's page of the audit file, mailed to her as one HTML file she can open on her phone
        (its links to originals and attachments lead nowhere outside the audit file; the page names them)."""
        unit, now = order.unit, order.now
        import tempfile
        import zipfile

        from inboxbot.exports.site import CASES_DIR, case_slug

        stem = f"dossier-{case_slug(case.number)}"
        with tempfile.TemporaryDirectory(prefix="inboxbot-case-") as scratch:
            archive = Path(scratch) / f"{stem}.zip"
            audit_site(unit, self.settings, None, now, zip_to=archive, include_files=False, number=case.number)
            with zipfile.ZipFile(archive) as site:
                page = next(n for n in site.namelist() if n.startswith(f"{stem}/{CASES_DIR}/"))
                content = site.read(page)
        file_name = f"{stem}.html"
        self.letters.to_director(
            unit,
            "case_record",
            now,
            attachments=[MailAttachment(file_name, "text/html", content)],
            number=case.number,
            kind=case.kind.label,
            file_name=file_name,
        )
        return f"Dossier {case.number} envoyé en pièce jointe ({file_name})."

    def _audit(self, unit: Unit, command: Command, now: datetime) -> str:
        """The audit file, zipped, by mail. With every original and attachment when the ZIP stays under
        AUDIT_MAIL_LIMIT; else without them (each case page lists them); else refused, naming the command
        that writes it on the server."""
        import tempfile

        year = command.year
        stem = f"dossier-audit-reclamations-{year or 'tous'}"
        with tempfile.TemporaryDirectory(prefix="inboxbot-audit-") as scratch:
            archive = Path(scratch) / f"{stem}.zip"
            for include_files in (True, False):
                result = audit_site(
                    unit, self.settings, None, now, zip_to=archive, year=year, include_files=include_files
                )
                size = archive.stat().st_size
                if size <= AUDIT_MAIL_LIMIT:
                    content = archive.read_bytes()
                    break
            else:
                raise Refused(
                    f"Le dossier d'audit dépasse {AUDIT_MAIL_LIMIT // 1_000_000} Mo même sans les pièces jointes : "
                    "il ne peut pas partir par e-mail. Sur le serveur : inboxbot register export --format html "
                    f"--output dossier-audit --zip {stem}.zip"
                )
        self.letters.to_director(
            unit,
            "register_export",
            now,
            attachments=[MailAttachment(f"{stem}.zip", "application/zip", content)],
            year=year,
            count=result.cases,
            audit=True,
            files_left_out=not include_files,
        )
        left_out = " sans les pièces jointes ni les messages originaux (trop lourds pour un e-mail)"
        megabytes = f"{size / 1_000_000:.1f}".replace(".", ",")
        return (
            f"Dossier d'audit envoyé en pièce jointe ({result.cases} dossier(s), {megabytes} Mo)"
            f"{'' if include_files else left_out}."
        )

    def _report(self, order: Order) -> str:
        unit, command, now = order.unit, order.command, order.now
        year = command.year or now.astimezone(self.tz).year
        content = annual_report_of(unit, self.settings, year, "html").encode("utf-8")
        self.letters.to_director(
            unit,
            "report_export",
            now,
            attachments=[MailAttachment(f"rapport-reclamations-{year}.html", "text/html", content)],
            year=year,
        )
        return f"Rapport annuel {year} envoyé en pièce jointe."


_SILENT_WORDS = ("sans message", "sans prevenir", "sans avertir", "silencieux", "silently", "no notice")


def _no_action(case: Case, seq: int) -> Refused:
    return Refused(f"Le dossier {case.number} n'a pas d'action n° {seq}.")


def _a(kind: Kind) -> str:
    """« une réclamation », « un aléa »: a kind with its article, for a sentence to the director."""
    return f"{'un' if kind == Kind.ALEA else 'une'} {kind.label}"


def _silenced(note: str) -> tuple[bool, str]:
    """Whether `#ignorer` asks that the claimant not be told (« #ignorer sans message doublon »),
    and the reason left once those words are taken off."""
    written = note.split()
    folded = " ".join(fold(word) for word in written)
    for words in _SILENT_WORDS:
        if folded == words or folded.startswith(words + " "):
            return True, " ".join(written[len(words.split()) :]).strip(" :,-–—")
    return False, note.strip()
