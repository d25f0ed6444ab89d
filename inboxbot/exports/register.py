"""The register (tableau de suivi des réclamations), as an auditor or a script reads it.

JSON keeps its documented contract: instants in ISO 8601 with their UTC offset in the organisation's
time zone, due dates as plain dates. CSV is written for a French Excel: UTF-8 with a
byte-order mark, `;` between fields, French headers, and claimant text that cannot turn into a formula.

The procedure asks the register to show « toutes les étapes d'échange » and what was done: besides
one row per case, the register has a table of exchanges (one row per mail in or out), of history
(one row per event: who did what, when) and of actions. The workbook has them as sheets; a CSV file
holds one table (`TABLES`). Their rows are made here, once, for both.

Both are written case by case to an open file (`write_json`, `write_csv`), so a register of any size
can be exported from cases read in chunks (`inboxbot.store.export`) without being held in memory.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from inboxbot.domain.cases import (
    DISMISSED_LABEL,
    KIND_LABELS,
    Action,
    CaseDetail,
    action_line,
    action_overdue,
    deadline_label,
    event_detail,
    event_label,
    exchange_label,
    exchange_note,
)
from inboxbot.domain.text import first_lines
from inboxbot.domain.vocabulary import CaseStatus, Channel, Means, OutboxStatus

CHANNEL_LABELS = Channel.labels()
MEANS_LABELS = Means.labels()  # how an acknowledgement or an answer was made otherwise than by inboxbot
STATUS_LABELS = CaseStatus.labels()
# Where a reception date comes from when it is not a server's reception of the claim (none: it is).
RECEIVED_FROM_LABELS = {
    "forwarded_header": "l'en-tête du message transféré (message d'origine non retrouvé)",
    "forward": "la date du transfert (message d'origine et date d'en-tête non retrouvés)",
}
# A mail inboxbot has not sent (yet): the exchange it would be has not happened.
OUTBOX_LABELS = {status: f"envoi : {label}" for status, label in OutboxStatus.labels().items()}
# How much of a mail's text a row of the table of exchanges shows: what it was about, not all of it
# (the JSON register and the audit file have it whole). Less than `store.export.EXCERPT`.
SUMMARY_LINES, SUMMARY_CHARS = 5, 300
# Where the audit file (`inboxbot.exports.site`) puts each case's page and files.
CASES_DIR = "dossiers"


def case_slug(number: str) -> str:
    """A case number as a file name; numbers are ours (YYYY-NNNN), but a page name is never trusted."""
    return re.sub(r"[^0-9A-Za-z-]", "_", number) or "dossier"


def original_name(index: int) -> str:
    """The file name of the `index`-th mail (from 1, in exchange order) of a case in the audit file."""
    return f"{index:03d}-message.eml"


def case_folder(number: str) -> str:
    """Where the audit file keeps a case's originals and attachments, relative to its root."""
    return f"{CASES_DIR}/{case_slug(number)}"


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


# On a case's row: why it was opened (the procedure's « attribue un caractère de réclamation »).
CASE_RULES_HEADER = "Règles qui ont ouvert le dossier"
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
    (CASE_RULES_HEADER, "rules_text"),
)


def means_label(means: str | None, done: object) -> str | None:
    """How a step was made, in French: inboxbot's own mail when no other means was recorded."""
    if done is None:
        return None
    return MEANS_LABELS.get(means, means) if means else "e-mail (inboxbot)"


def neutralise_formula(value: str) -> str:
    """Claimant text starting like a formula is prefixed so a spreadsheet shows it as text."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def rules_text(rules: Iterable[str]) -> str:
    """The rules (or the recognised words) that opened a case, as its row shows them."""
    return ", ".join(rules)


EXCHANGE_HEADERS = (
    "Dossier",
    "Date",
    "Sens",
    "De",
    "À",
    "Objet",
    "Résumé",
    "Message original (dossier d'audit)",
    "Remarque",
)
HISTORY_HEADERS = ("Dossier", "Date", "Auteur", "Événement", "Détail")
ACTION_HEADERS = (
    "Dossier",
    "N°",
    "Type",
    "Description",
    "Responsable",
    "Échéance",
    "Statut",
    "En retard",
    "Résultat",
    "Enregistrée le",
    "Mise à jour le",
)


def exchange_rows(detail: CaseDetail, own_address: str) -> Iterator[list[Any]]:
    """One row per mail of the case, in the order of the exchange log; the date as the store gave it.

    Needs the log read with `Exchanges.STEPS` (or more): the recipients and the text's beginning.
    """
    number = detail.case.number
    folder = case_folder(number)
    for index, entry in enumerate(detail.messages, start=1):
        note = OUTBOX_LABELS.get(entry.note, entry.note) if entry.from_outbox else exchange_note(entry.note)
        # Where the audit file keeps the original: none for a mail recorded without its bytes.
        original = f"{folder}/{original_name(index)}" if entry.archive_path or entry.from_outbox else None
        yield [
            number,
            entry.date,
            exchange_label(entry.direction, entry.note),  # reçu, envoyé, or her note to herself
            entry.from_address or own_address,
            entry.to,
            entry.subject,
            first_lines(entry.summary, SUMMARY_LINES, SUMMARY_CHARS),
            original,
            note,
        ]


def history_rows(detail: CaseDetail) -> Iterator[list[Any]]:
    """One row per event of the case's history, in French (`event_label`, `event_detail`)."""
    number = detail.case.number
    for event in detail.events:
        yield [number, event.at, event.actor, event_label(event.type), event_detail(event.type, event.detail)]


def action_row(number: str, action: Action, today: date) -> list[Any]:
    """One action of a case; instants as the store gave them."""
    return [
        number,
        action.seq,
        action.kind.label,
        action.text,
        action.owner,
        action.due,
        action.status.label if action.status else None,
        "oui" if action_overdue(action, today) else None,
        action.result,
        action.created_at,
        action.updated_at,
    ]


def to_csv(details: Iterable[CaseDetail], tz: ZoneInfo, own_address: str, table: str = "cases") -> str:
    out = io.StringIO()
    write_csv(details, out, tz, own_address, table)
    return out.getvalue()


def write_csv(details: Iterable[CaseDetail], out: TextIO, tz: ZoneInfo, own_address: str, table: str = "cases") -> int:
    """Write one table of the register as CSV, row by row; returns the number of cases.

    `table` is one of `TABLES`: the cases (one row each), or their exchanges, history or actions
    (the workbook's other sheets, with the same columns; instants in ISO 8601 as in the cases' table).
    Deadlines read as in the spreadsheet ("oui", "non", "en attente", "sans objet" for a step a case
    classified sans suite never needed), so the two files never disagree.
    """
    out.write("\ufeff")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    if table != "cases":
        return _write_table(details, writer, TABLES[table], tz, own_address)
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
        record["rules_text"] = rules_text(detail.case.rules_hit)
        writer.writerow(
            [neutralise_formula(str(record[key])) if record[key] is not None else "" for _header, key in CSV_COLUMNS]
        )
        count += 1
    return count


def _csv_cell(value: object, tz: ZoneInfo) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(tz).isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return neutralise_formula(str(value))


@dataclass(frozen=True)
class Table:
    """One of the register's tables beside the cases: its French headers, and its rows for one case."""

    headers: tuple[str, ...]
    rows: Callable[[CaseDetail, str, date], Iterable[list[Any]]]  # (case, own address, today)


TABLES: dict[str, Table] = {
    "exchanges": Table(EXCHANGE_HEADERS, lambda detail, own, _today: exchange_rows(detail, own)),
    "history": Table(HISTORY_HEADERS, lambda detail, _own, _today: history_rows(detail)),
    "actions": Table(
        ACTION_HEADERS,
        lambda detail, _own, today: (action_row(detail.case.number, action, today) for action in detail.actions),
    ),
}
CSV_TABLES = ("cases", *TABLES)  # what `register export --format csv --table` accepts


def _write_table(details: Iterable[CaseDetail], writer: Any, table: Table, tz: ZoneInfo, own_address: str) -> int:
    writer.writerow(table.headers)
    today = datetime.now(tz).date()
    count = 0
    for detail in details:
        for row in table.rows(detail, own_address, today):
            writer.writerow([_csv_cell(value, tz) for value in row])
        count += 1
    return count
