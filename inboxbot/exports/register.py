"""The register (tableau de suivi des réclamations), as an auditor or a script reads it.

JSON keeps its documented contract: instants in ISO 8601 with their UTC offset in the organisation's
time zone, due dates as plain dates. CSV is written for a French Excel: UTF-8 with a
byte-order mark, `;` between fields, French headers, and claimant text that cannot turn into a formula.

Both are written case by case to an open file (`write_json`, `write_csv`), so a register of any size
can be exported from cases read in chunks (`inboxbot.store.export`) without being held in memory.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from inboxbot.domain.cases import DISMISSED_LABEL, KIND_LABELS, CaseDetail, action_line, deadline_label
from inboxbot.domain.vocabulary import CaseStatus, Channel, Means

CHANNEL_LABELS = Channel.labels()
MEANS_LABELS = Means.labels()  # how an acknowledgement or an answer was made otherwise than by inboxbot
STATUS_LABELS = CaseStatus.labels()
# Where a reception date comes from when it is not a server's reception of the claim (none: it is).
RECEIVED_FROM_LABELS = {
    "forwarded_header": "l'en-tête du message transféré (message d'origine non retrouvé)",
    "forward": "la date du transfert (message d'origine et date d'en-tête non retrouvés)",
}


def status_label(status: str, dismissed: bool, merged_into: str | None = None) -> str:
    """A case's state as the register says it: a merged case names the case it joined."""
    if merged_into:
        return f"fusionnée dans {merged_into}"
    return DISMISSED_LABEL if dismissed else STATUS_LABELS.get(status, status)


def _instant(value: datetime | None, tz: ZoneInfo) -> str | None:
    return None if value is None else value.astimezone(tz).isoformat(timespec="seconds")


def _day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def deadline_met(done: datetime | None, due: date, tz: ZoneInfo, today: date) -> bool | None:
    """Whether a deadline was kept: True or False once known, None while it still can be."""
    if done is not None:
        return done.astimezone(tz).date() <= due
    return False if today > due else None


def case_record(detail: CaseDetail, tz: ZoneInfo, own_address: str, today: date | None = None) -> dict[str, Any]:
    case = detail.case
    today = today or datetime.now(tz).date()
    return {
        "number": case.number,
        "kind": case.kind,
        "status": case.status,
        "channel": case.channel,
        "claimant": case.claimant,
        "claimant_name": case.claimant_name,
        "subject": case.subject,
        "received_at": _instant(case.received_at, tz),
        "received_from": case.received_from,
        "acknowledged_at": _instant(case.acknowledged_at, tz),
        "acknowledge_due": _day(case.acknowledge_due),
        "response_due": _day(case.response_due),
        "responded_at": _instant(case.responded_at, tz),
        "closed_at": _instant(case.closed_at, tz),
        "acknowledged_by": case.acknowledgement_means,
        "responded_by": case.response_means,
        "response_note": case.response_note or None,
        "acknowledge_met": deadline_met(case.acknowledged_at, case.acknowledge_due, tz, today),
        "extended_response_due": _day(case.extended_due),
        "extension_reason": case.extension_reason or None,
        "response_met": deadline_met(case.responded_at, case.effective_response_due, tz, today),
        "nature": case.nature,
        "priority": case.priority,
        "stakeholder": case.stakeholder,
        "training": case.training or None,
        "transmitter": case.transmitter,
        "dismissed": case.dismissed,
        "merged_into": case.merged_into,
        "satisfaction_mark": case.satisfaction_mark,
        "satisfaction_comment": case.satisfaction_comment or None,
        "satisfaction_at": _instant(case.satisfaction_at, tz),
        "rules": list(case.rules_hit),
        "actions": [
            {
                "number": action.seq,
                "kind": action.kind,
                "text": action.text,
                "owner": action.owner or None,
                "due": _day(action.due),
                "status": action.status,
                "result": action.result or None,
            }
            for action in detail.actions
        ],
        "messages": [
            {
                "direction": entry.direction,
                "message_id": entry.message_id,
                "from": entry.from_address or own_address,
                "date": _instant(entry.date, tz),
                "subject": entry.subject,
                "text": entry.summary,
                "note": entry.note,
                "archive": entry.archive_path,
                "attachments": [
                    {"filename": a.filename, "content_type": a.content_type, "size": a.size, "archive": a.path}
                    for a in entry.attachments
                ],
            }
            for entry in detail.messages
        ],
        "history": [
            {"at": _instant(event.at, tz), "actor": event.actor, "event": event.type, "detail": event.detail}
            for event in detail.events
        ],
    }


def to_json(details: Iterable[CaseDetail], tz: ZoneInfo, own_address: str) -> str:
    out = io.StringIO()
    write_json(details, out, tz, own_address)
    return out.getvalue()


def write_json(details: Iterable[CaseDetail], out: TextIO, tz: ZoneInfo, own_address: str) -> int:
    """Write the JSON array one case at a time; returns the number of cases.

    The text is exactly `json.dumps(records, indent=2)`: each record is encoded alone and indented one
    level more, which is safe because an encoded string never holds a raw line break.
    """
    encoder = json.JSONEncoder(ensure_ascii=False, indent=2)
    today = datetime.now(tz).date()
    count = 0
    for detail in details:
        text = encoder.encode(case_record(detail, tz, own_address, today))
        out.write(("[\n  " if count == 0 else ",\n  ") + text.replace("\n", "\n  "))
        count += 1
    out.write("\n]\n" if count else "[]\n")
    return count


CSV_COLUMNS = (
    ("Numéro", "number"),
    ("Type", "kind"),
    ("Statut", "status"),
    ("Canal", "channel"),
    ("Réclamant", "claimant"),
    ("Nom", "claimant_name"),
    ("Objet", "subject"),
    ("Date de réception", "received_at"),
    ("Date de réception établie d'après", "received_from"),
    ("Accusé de réception dû le", "acknowledge_due"),
    ("Accusé de réception envoyé le", "acknowledged_at"),
    ("Accusé de réception fait par", "acknowledged_by"),
    ("Accusé de réception dans les délais", "acknowledge_met"),
    ("Réponse due le", "response_due"),
    ("Prolongée jusqu'au", "extended_response_due"),
    ("Motif de la prolongation", "extension_reason"),
    ("Réponse apportée le", "responded_at"),
    ("Réponse faite par", "responded_by"),
    ("Réponse (faite autrement que par e-mail)", "response_note"),
    ("Réponse dans les délais", "response_met"),
    ("Clôturée le", "closed_at"),
    ("Nature", "nature"),
    ("Priorité", "priority"),
    ("Partie prenante", "stakeholder"),
    ("Formation concernée", "training"),
    ("Transmise par", "transmitter"),
    ("Actions", "actions_text"),
    ("Satisfaction (sur 5)", "satisfaction_mark"),
    ("Commentaire du réclamant", "satisfaction_comment"),
    ("Échanges", "exchanges"),
)


def means_label(means: str | None, done: object) -> str | None:
    """How a step was made, in French: inboxbot's own mail when no other means was recorded."""
    if done is None:
        return None
    return MEANS_LABELS.get(means, means) if means else "e-mail (inboxbot)"


def neutralise_formula(value: str) -> str:
    """Claimant text starting like a formula is prefixed so a spreadsheet shows it as text."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def to_csv(details: Iterable[CaseDetail], tz: ZoneInfo, own_address: str) -> str:
    out = io.StringIO()
    write_csv(details, out, tz, own_address)
    return out.getvalue()


def write_csv(details: Iterable[CaseDetail], out: TextIO, tz: ZoneInfo, own_address: str) -> int:
    """Write the CSV register row by row; returns the number of cases.

    Deadlines read as in the spreadsheet ("oui", "non", "en attente", "sans objet" for a step a case
    classified sans suite never needed), so the two files never disagree.
    """
    out.write("\ufeff")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([header for header, _key in CSV_COLUMNS])
    today = datetime.now(tz).date()
    count = 0
    for detail in details:
        record = case_record(detail, tz, own_address, today)
        dismissed = bool(record["dismissed"])
        record["kind"] = KIND_LABELS.get(record["kind"], record["kind"])
        record["status"] = status_label(record["status"], dismissed, record["merged_into"])
        record["channel"] = CHANNEL_LABELS.get(record["channel"], record["channel"])
        if record["received_from"]:
            record["received_from"] = RECEIVED_FROM_LABELS.get(record["received_from"], record["received_from"])
        record["acknowledge_met"] = deadline_label(
            record["acknowledge_met"], record["acknowledged_at"] is not None, dismissed
        )
        record["response_met"] = deadline_label(record["response_met"], record["responded_at"] is not None, dismissed)
        record["acknowledged_by"] = means_label(record["acknowledged_by"], record["acknowledged_at"])
        record["responded_by"] = means_label(record["responded_by"], record["responded_at"])
        record["actions_text"] = " | ".join(action_line(action) for action in detail.actions)
        record["exchanges"] = detail.exchanges
        writer.writerow(
            [neutralise_formula(str(record[key])) if record[key] is not None else "" for _header, key in CSV_COLUMNS]
        )
        count += 1
    return count
