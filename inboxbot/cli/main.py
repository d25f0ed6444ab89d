"""The `inboxbot` command: parses arguments, builds the program, prints for a person.

Errors the user can fix (config, account, rules, templates) are printed as one plain line and give
a non-zero exit; tracebacks are for bugs only.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from datetime import date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, TextIO
from zoneinfo import ZoneInfo

from inboxbot import __version__
from inboxbot.adapters import collector
from inboxbot.adapters.private import PRIVATE_UMASK, private_file, replaced_whole
from inboxbot.config import ConfigError, Settings, load
from inboxbot.domain.cases import CHANNELS, KINDS, OPEN, STAKEHOLDERS, Case
from inboxbot.domain.dates import leading_day
from inboxbot.domain.rules import NATURES, PRIORITIES
from inboxbot.domain.text import fold, for_terminal
from inboxbot.domain.vocabulary import (
    CaseStatus,
    Channel,
    Direction,
    Kind,
    MailOutcome,
    Nature,
    OutboxStatus,
    Priority,
    Stakeholder,
)

if TYPE_CHECKING:
    from inboxbot.store.repository import MailRecord

log = logging.getLogger("inboxbot")


OPENED_SHOWN = 10


def _config_path(arg: str | None) -> Path:
    return Path(arg or os.environ.get("INBOXBOT_CONFIG") or "config.toml")


def _settings(args: argparse.Namespace) -> Settings:
    return load(_config_path(args.config))


def cmd_run(args: argparse.Namespace) -> int:
    from inboxbot.bootstrap import build
    from inboxbot.cli.progress import TerminalProgress
    from inboxbot.procedure.pipeline import run_once

    app = build(_settings(args))
    progress = TerminalProgress(sys.stderr) if sys.stderr.isatty() else None
    try:
        if args.once:
            report = run_once(app, progress=progress)
            # A first ingest opens hundreds of cases: name the first few, `cases list` has the rest.
            shown = ", ".join(report.opened[:OPENED_SHOWN]) + (", …" if len(report.opened) > OPENED_SHOWN else "")
            candidates = report.outcomes.get(MailOutcome.CANDIDATE, 0)
            print(
                f"{report.fetched} mail(s) read, {len(report.opened)} case(s) opened"
                f"{' (' + shown + ')' if report.opened else ''}, "
                + (f"{candidates} put before the director to qualify, " if candidates else "")
                + f"{report.sent} mail(s) sent, {report.send_failures} sending failure(s)"
            )
            return 0
        from inboxbot.cli.daemon import Daemon

        return Daemon(app, progress=progress).run()
    finally:
        app.close()


def cmd_init(args: argparse.Namespace) -> int:
    from inboxbot.cli.check import run_checks
    from inboxbot.cli.init import InitError, run_init

    try:
        return run_init(args, _config_path(args.config), lambda path: run_checks(load(path), print))
    except InitError as exc:
        print(f"inboxbot: {exc}", file=sys.stderr)
        return 2


def cmd_check(args: argparse.Namespace) -> int:
    from inboxbot.cli.check import run_checks

    return run_checks(_settings(args), print)


def cmd_auth(args: argparse.Namespace) -> int:
    """The first OAuth2 sign-in; its tokens go to oauth2.token_file, where `run` and `check` find them."""
    from inboxbot.adapters.oauth import OAuthError, TokenSource
    from inboxbot.cli.signin import default_flow, device_flow, loopback_flow

    settings = _settings(args)
    oauth2 = settings.imap.oauth2 or settings.smtp.oauth2
    if oauth2 is None:
        print('inboxbot: imap.auth: set auth = "oauth2" and fill in an [oauth2] section first', file=sys.stderr)
        return 2
    if oauth2.provider != args.provider:
        print(
            f"inboxbot: oauth2.provider: the config says {oauth2.provider!r}, not {args.provider!r}",
            file=sys.stderr,
        )
        return 2

    def say(line: str) -> None:
        print(line, flush=True)

    tokens = TokenSource(oauth2)
    flow = args.flow or default_flow(oauth2)
    try:
        if flow == "device":
            saved = device_flow(tokens, say)
        else:
            account = settings.imap.username if settings.imap.oauth2 else settings.smtp.username
            saved = loopback_flow(tokens, say, port=args.port, login_hint=account)
    except OAuthError as exc:
        print(f"inboxbot: {exc}", file=sys.stderr)
        return 1
    until = f"{saved.expires_at:%Y-%m-%d %H:%M %Z}" if saved.expires_at else "?"
    say(f"Signed in. Tokens saved to {oauth2.token_file} (access token valid until {until}).")
    say("Next: inboxbot check")
    return 0


def cmd_cases(args: argparse.Namespace) -> int:
    from inboxbot.bootstrap import build
    from inboxbot.exports.register import case_record, write_json
    from inboxbot.store.export import Exchanges, register_cases, register_details

    settings = _settings(args)
    app = build(settings, check_templates=False)  # reads the register, sends nothing
    tz = settings.organisation.timezone
    try:
        # Read only: no write lock held up while a long register is printed, and one snapshot of it.
        with app.store.reading() as unit:
            if args.cases_command == "list":
                # Streamed like the exports: a register of any size is printed in bounded memory.
                status = OPEN if args.open else None
                if args.json:
                    details = register_details(unit, Exchanges.LOG, status=status)
                    write_json(details, sys.stdout, tz, settings.smtp.from_address)
                    return 0
                listed = 0
                for case in register_cases(unit, status=status):
                    _show(case_line(case, tz))
                    listed += 1
                if not listed:
                    print("Aucun dossier.")
                return 0
            detail = unit.case_detail(args.number)
        if detail is None:
            print(f"inboxbot: no case numbered {args.number}", file=sys.stderr)
            return 1
        record = case_record(detail, tz, settings.smtp.from_address)
        if args.json:
            print(json.dumps(record, ensure_ascii=False, indent=2))
            return 0
        _print_case(record)
        return 0
    finally:
        app.close()


def _show(text: str) -> None:
    """Print text that holds what strangers wrote (subjects, names, mail text), stripped of the
    control and escape sequences a terminal would obey."""
    print(for_terminal(text))


def case_line(case: Case, tz: ZoneInfo) -> str:
    """A case as one line of `cases list`."""
    acknowledged = case.acknowledged_at.astimezone(tz).date().isoformat() if case.acknowledged_at else "-"
    return (
        f"{case.number}  {case.kind_label:<12} {case.status:<6} "
        f"reçu {case.received_at.astimezone(tz):%Y-%m-%d %H:%M}  "
        f"AR dû {case.acknowledge_due} (envoyé {acknowledged})  "
        f"réponse due {case.response_due}  {case.claimant or '-'}  {case.subject}"
    )


_CHANNEL_WORDS = {
    "courrier": Channel.POST,
    "lettre": Channel.POST,
    "telephone": Channel.ORAL,
    "transmise": Channel.THIRD_PARTY,
}


def _channel(text: str) -> Channel:
    """A channel by its code or its French word (`courrier` is `post`)."""
    value = _CHANNEL_WORDS.get(fold(text.strip()), text.strip())
    if value not in CHANNELS:
        raise argparse.ArgumentTypeError(f"expected one of {', '.join(CHANNELS)} (or courrier), got {text!r}")
    return Channel(value)


def _received(text: str, now: datetime, tz: ZoneInfo) -> datetime | None:
    """A reception instant as people write it (a day alone is that day at 00:00); None if unreadable or future."""
    found = leading_day(text)
    if found is None or found[1].strip():
        return None
    written = found[0]
    today = now.astimezone(tz).date()
    day = written.past(today)
    if day is None:
        return None
    if written.at is None:
        return now if day == today else datetime.combine(day, time(0), tz)
    received = datetime.combine(day, written.at, tz)
    return received if received <= now else None


def cmd_cases_add(args: argparse.Namespace) -> int:
    """Write down a claim that did not come by mail (phone, in session), as the procedure's point 3c asks."""
    from inboxbot.bootstrap import build
    from inboxbot.domain.decide import OpenCase
    from inboxbot.domain.message import Address
    from inboxbot.outgoing.letters import Letters
    from inboxbot.procedure.intake import open_case

    settings = _settings(args)
    app = build(settings)
    tz = settings.organisation.timezone
    try:
        now = app.clock()
        if args.received:
            received_or_none = _received(args.received, now, tz)
            if received_or_none is None:
                print(
                    "inboxbot: --received: expected a past date, and a time if known, written like "
                    f"2026-11-20 14:30, 20/11/2026 14h30 or 20/11; got {args.received!r}",
                    file=sys.stderr,
                )
                return 2
            received = received_or_none
        else:
            received = now
        claimant = Address(args.claimant.strip().lower(), args.name or "") if args.claimant else None
        decision = OpenCase(
            kind=Kind(args.kind),
            channel=args.channel,
            claimant=claimant,
            subject=args.subject,
            received_at=received,
            acknowledge_due=app.policy.due.acknowledge_due(received),
            response_due=app.policy.due.response_due(received),
            nature=Nature(args.nature) if args.nature else None,
            priority=Priority(args.priority) if args.priority else None,
            rules_hit=(),
            acknowledgement=None
            if args.no_acknowledge or claimant is None
            else ("acknowledgement" if args.kind == Kind.RECLAMATION else "incident_acknowledgement"),
            note="entered by hand without acknowledgement" if args.no_acknowledge or claimant is None else "",
            transmitter=args.transmitter.lower() if args.transmitter else None,
        )
        with app.store.unit() as unit:
            _case_id, number = open_case(
                unit,
                Letters(settings, app.renderer),
                settings,
                decision,
                args.by or settings.director.addresses[0],
                now,
                description=args.description or "",
                stakeholder=Stakeholder(args.stakeholder) if args.stakeholder else None,
                training=args.training or "",
            )
        from inboxbot.procedure.pipeline import CycleReport, Pipeline

        report = CycleReport()
        if decision.acknowledgement is not None:
            Pipeline(app).flush_outbox(report)
        sent = (
            " ; accusé de réception envoyé"
            if report.sent
            else (" ; accusé de réception en attente d'envoi" if decision.acknowledgement else "")
        )
        print(f"Dossier {number} enregistré{sent}.")
        return 0
    finally:
        app.close()


# What `cases show` prints, in the words of the register (the JSON keeps the English keys).
_CASE_FIELDS = (
    ("number", "Dossier"),
    ("kind", "Type"),
    ("status", "Statut"),
    ("channel", "Canal"),
    ("claimant", "Réclamant"),
    ("subject", "Objet"),
    ("received_at", "Reçue le"),
    ("received_from", "Date établie d'après"),
    ("transmitter", "Transmise par"),
    ("acknowledge_due", "Accusé dû le"),
    ("acknowledged_at", "Accusé fait le"),
    ("response_due", "Réponse due le"),
    ("extended_response_due", "Prolongée au"),
    ("responded_at", "Réponse le"),
    ("closed_at", "Clôturée le"),
    ("nature", "Nature"),
    ("priority", "Priorité"),
    ("rules", "Ouvert par"),
)


def _french(key: str, value: object) -> str:
    """One field of a case as the director reads it: French words, French dates."""
    from inboxbot.domain.cases import KIND_LABELS, NATURE_LABELS
    from inboxbot.exports.register import CHANNEL_LABELS, RECEIVED_FROM_LABELS, STATUS_LABELS

    if value in (None, [], ""):
        return "-"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    text = str(value)
    labels = {
        "kind": KIND_LABELS,
        "status": STATUS_LABELS,
        "channel": CHANNEL_LABELS,
        "nature": NATURE_LABELS,
        "received_from": RECEIVED_FROM_LABELS,
    }
    if key in labels:
        return labels[key].get(text, text)
    return _french_date(text) if key.endswith(("_at", "_due")) else text


def _french_date(text: str) -> str:
    """`2026-12-05T14:30:00+01:00` as 05/12/2026 14:30 (already in the organisation's time), a day as 05/12/2026."""
    try:
        if "T" in text:
            return datetime.fromisoformat(text).strftime("%d/%m/%Y %H:%M")
        return date.fromisoformat(text).strftime("%d/%m/%Y")
    except ValueError:
        return text


def _print_case(record: dict[str, object]) -> None:
    from inboxbot.domain.cases import event_detail, event_label, exchange_label, exchange_note

    for key, label in _CASE_FIELDS:
        _show(f"{label:>16} : {_french(key, record.get(key))}")
    print("\nÉchanges :")
    for message in record["messages"]:  # type: ignore[attr-defined]
        arrow = "→" if message["direction"] == Direction.OUT else "←"
        label = exchange_label(str(message["direction"]), str(message["note"] or ""))
        remark = exchange_note(str(message["note"] or ""))
        note = f"  [{remark}]" if remark and remark != label else ""
        when = _french_date(str(message["date"]))
        _show(f"  {when}  {arrow} {label} — {message['from']} : {message['subject']}{note}")
        for line in str(message["text"] or "").strip().splitlines():  # whole: the auditor reads what was said
            _show(f"      | {line}")
        for attached in message["attachments"]:
            _show(f"      pièce jointe : {attached['filename']} ({attached['archive']})")
        if message["archive"]:
            _show(f"      (message complet : {message['archive']})")
    print("\nHistorique :")
    for event in record["history"]:  # type: ignore[attr-defined]
        when, kind = _french_date(str(event["at"])), str(event["event"])
        _show(f"  {when}  {event_label(kind):<34} {event['actor']}  {event_detail(kind, str(event['detail']))}")


def cmd_status(args: argparse.Namespace) -> int:
    """What the daemon last did, read from the database: usable while it runs."""
    from inboxbot.store.overview import candidates, open_count
    from inboxbot.store.repository import Store

    settings = _settings(args)
    tz = settings.organisation.timezone
    store = Store.open(settings.database.url)

    def when(value: datetime | None) -> str:
        return f"{value.astimezone(tz):%Y-%m-%d %H:%M:%S}" if value else "never"

    try:
        with store.unit() as unit:
            runtime = unit.runtime()
            folders = unit.folders()
            outbox = unit.outbox_counts()
            next_retry = unit.next_retry()
            open_cases = open_count(unit)  # counted by the database, not loaded
            waiting = len(unit.mails_with_outcome(MailOutcome.AWAITING_PROOF, received_before=datetime.now(tz)))
            to_qualify = candidates(unit, limit=1).total
    finally:
        store.close()
    last_cycle = runtime.get("last_cycle")
    print(f"last successful cycle: {when(last_cycle[1]) if last_cycle else 'never'}", end="")
    print(f" ({last_cycle[0]})" if last_cycle else "")
    for folder in folders:
        print(f"  {folder.name}: last polled {when(folder.last_poll_at)}, up to UID {folder.last_uid}")
    pending, failed = outbox.get(OutboxStatus.PENDING, 0), outbox.get(OutboxStatus.FAILED, 0)
    retry = f", next attempt {when(next_retry)}" if pending and next_retry else ""
    print(f"outbox: {pending} waiting{retry}, {outbox.get(OutboxStatus.SENT, 0)} sent, {failed} given up")
    last_error = runtime.get("last_error")
    print(f"last error: {when(last_error[1])} {last_error[0]}" if last_error else "last error: none")
    print(f"open cases: {open_cases}; director's mails waiting for proof: {waiting}")
    print(f"mails put before the director, waiting for #ouvrir or #ecarter: {to_qualify}")
    return 0


# What `mails list --outcome` accepts: the words of the README, and each outcome the store records.
MAIL_OUTCOMES: dict[str, tuple[MailOutcome, ...]] = {
    "case": (MailOutcome.OPENED, MailOutcome.ATTACHED),
    MailOutcome.OPENED.value: (MailOutcome.OPENED,),
    MailOutcome.ATTACHED.value: (MailOutcome.ATTACHED,),
    MailOutcome.CANDIDATE.value: (MailOutcome.CANDIDATE,),
    MailOutcome.JOINED.value: (MailOutcome.JOINED,),
    MailOutcome.DISMISSED.value: (MailOutcome.DISMISSED,),
    MailOutcome.IGNORED.value: (MailOutcome.IGNORED,),
    MailOutcome.TRIAGE.value: (MailOutcome.TRIAGE,),
    MailOutcome.AUTOMATIC.value: (MailOutcome.AUTOMATIC,),
    "command": (MailOutcome.COMMANDS, MailOutcome.AWAITING_PROOF, MailOutcome.SUSPICIOUS),
    MailOutcome.AWAITING_PROOF.value: (MailOutcome.AWAITING_PROOF,),
    MailOutcome.SUSPICIOUS.value: (MailOutcome.SUSPICIOUS,),
    MailOutcome.OWN.value: (MailOutcome.OWN,),
    MailOutcome.SET_ASIDE.value: (MailOutcome.SET_ASIDE,),
}


def _outcomes(written: Sequence[str]) -> tuple[MailOutcome, ...]:
    """The stored outcomes `--outcome` names; "set-aside" and "set aside" mean set_aside."""
    chosen: list[MailOutcome] = []
    for item in written:
        for word in item.split(","):
            key = "_".join(word.strip().lower().replace("-", " ").split())
            if key not in MAIL_OUTCOMES:
                raise ValueError(f"--outcome: expected one of {', '.join(MAIL_OUTCOMES)}, got {word.strip()!r}")
            chosen.extend(MAIL_OUTCOMES[key])
    return tuple(dict.fromkeys(chosen))


def _qualifying_commands(record: MailRecord) -> list[str]:
    """What she types to decide a mail still waiting for her: a candidate or a rule's triage."""
    if record.outcome not in (MailOutcome.CANDIDATE, MailOutcome.TRIAGE) or record.reference is None:
        return []
    return [f"#ouvrir {record.reference}", f"#ecarter {record.reference}"]


def cmd_mails(args: argparse.Namespace) -> int:
    """Every mail read and what became of it, so nothing is silently ignored."""
    from datetime import date, time

    from inboxbot.store.repository import Store, mail_reference

    settings = _settings(args)
    tz = settings.organisation.timezone
    try:
        outcomes = _outcomes(args.outcome or [])
        since = datetime.combine(date.fromisoformat(args.since), time(0), tz) if args.since else None
    except ValueError as exc:
        message = str(exc) if str(exc).startswith("--") else f"--since: expected YYYY-MM-DD, got {args.since!r}"
        print(f"inboxbot: {message}", file=sys.stderr)
        return 2
    store = Store.open(settings.database.url)
    try:
        with store.reading() as unit:
            records = list(unit.mails(outcomes, since))
    finally:
        store.close()
    if args.json:
        rows = [
            {
                "reference": record.reference,
                "received_at": record.received_at.astimezone(tz).isoformat(),
                "folder": record.folder,
                "uid": record.uid,
                "message_id": record.message_id,
                "from": record.from_address,
                "from_name": record.from_name,
                "to": record.to_addresses,
                "subject": record.subject,
                "outcome": record.outcome,
                "reason": record.reason,
                "rules": list(record.rules_hit),
                "case": record.case_number,
                "kind": record.kind,
                "words": list(record.words),
                "score": record.score,
                "excerpt": record.excerpt,
                "notes": list(record.notes),
                "spam": record.spam or None,
                "joined_to": mail_reference(record.joined_to) if record.joined_to is not None else None,
                "commands": _qualifying_commands(record),
                "archive": record.archive_path,
            }
            for record in records
        ]
        json.dump(rows, sys.stdout, ensure_ascii=False, indent=2)
        print()
        return 0
    for record in records:
        where = f" → {record.case_number}" if record.case_number else ""
        print(
            f"{record.reference}  {record.received_at.astimezone(tz):%Y-%m-%d %H:%M}  {record.outcome}{where}  "
            f"{record.from_address or '-'}  « {' '.join(record.subject.split())[:80]} »"
        )
        why = "; ".join(filter(None, [record.reason, ", ".join(record.rules_hit)]))
        if why:
            print(f"        {why}")
        if record.notes:
            print(f"        notes : {' ; '.join(record.notes)}")
        commands = _qualifying_commands(record)
        if commands:
            print(f"        à qualifier : {'  ou  '.join(commands)}")
    print(f"{len(records)} mail(s)")
    return 0


def cmd_digest(args: argparse.Namespace) -> int:
    from inboxbot.bootstrap import build
    from inboxbot.procedure.digest import build_digest, queue_digest

    app = build(_settings(args), check_templates=not args.print)
    try:
        now = app.clock()
        if args.print:
            digest = build_digest(app, now)
            if digest is None:
                print('Rien à signaler (digest.when_empty = "skip" : aucun mail ne serait envoyé).')
                return 0
            _show(f"Objet : {digest.subject}\n")
            _show(digest.text)
            return 0
        if not queue_digest(app, now):
            print('nothing to send today (digest.when_empty = "skip")')
            return 0
        from inboxbot.procedure.pipeline import CycleReport, Pipeline  # sending: IMAP and SMTP, only for --send
        from inboxbot.store.repository import AlreadyRunning

        report = CycleReport()
        try:
            # Sending while the daemon runs could send a pending mail twice: leave it to the daemon then.
            with app.store.instance_lock():
                Pipeline(app).flush_outbox(report)
        except AlreadyRunning:
            print("digest queued; the running daemon will send it")
            return 0
        print("digest sent" if report.sent else "digest queued; sending failed, it will be retried")
        return 0
    finally:
        app.close()


def cmd_purge(args: argparse.Namespace) -> int:
    import getpass

    from inboxbot.bootstrap import build
    from inboxbot.procedure.purge import format_plan, format_report, plan_purge, purge

    app = build(_settings(args))
    try:
        now = app.clock()
        if args.dry_run:
            print(format_plan(plan_purge(app, now)))
            return 0
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = "unknown"
        report = purge(app, now, actor=f"{user} (inboxbot purge)")
        print(format_report(report))
        return 1 if report.files_failed else 0  # the records are done; the files are retried next run
    finally:
        app.close()


def cmd_register(args: argparse.Namespace) -> int:
    """The register, streamed: cases are read a chunk at a time and written before the next is read."""
    from inboxbot.store.export import Exchanges, register_details
    from inboxbot.store.repository import Store

    settings = _settings(args)
    tz = settings.organisation.timezone
    own = settings.smtp.from_address
    to_stdout = args.output in (None, "-")
    if args.format in ("xlsx", "html") and to_stdout:
        what = "DIR" if args.format == "html" else "FILE"
        print(f"inboxbot: --format {args.format} needs --output {what}", file=sys.stderr)
        return 2
    if args.zip and args.format != "html":
        print("inboxbot: --zip goes with --format html", file=sys.stderr)
        return 2
    if args.table is not None and args.format != "csv":
        print("inboxbot: --table goes with --format csv (the xlsx has every table as a sheet)", file=sys.stderr)
        return 2
    table = args.table or "cases"
    status = CaseStatus.OPEN if args.open else CaseStatus(args.status) if args.status else None
    kind = Kind(args.kind) if args.kind else None
    if args.format == "html":
        return _export_site(settings, Path(args.output), args.zip and Path(args.zip), args.year, kind, status)
    store = Store.open(settings.database.url)
    try:
        if args.format == "xlsx":
            # xlsxwriter: only for this format. The cases are read by a process of its own, in its own
            # snapshot; this one writes the cells (and has brought the schema up to date above).
            from inboxbot.exports.spreadsheet import export_register_xlsx

            store.close()
            today = datetime.now(tz).date()
            target = Path(args.output)
            count = export_register_xlsx(
                settings.database.url, target, tz, today, year=args.year, kind=kind, status=status, own_address=own
            )
            print(f"{count} case(s) written to {args.output}")
            return 0
        with store.reading() as unit:
            # JSON carries each case's exchange log and history; the CSV of cases only counts the mails,
            # those of exchanges and history read the beginning of each mail's text and the events.
            if args.format == "json":
                exchanges = Exchanges.LOG
            else:
                exchanges = Exchanges.STEPS if table in ("exchanges", "history") else Exchanges.COUNT
            details = register_details(unit, exchanges, year=args.year, kind=kind, status=status)
            from inboxbot.exports.register import write_csv, write_json

            def writer(out: TextIO) -> int:
                if args.format == "json":
                    return write_json(details, out, tz, own)
                return write_csv(details, out, tz, own, table)

            if to_stdout:
                writer(sys.stdout)
                return 0
            with (
                replaced_whole(Path(args.output)) as partial,
                open(partial, "w", encoding="utf-8", newline="") as out,
            ):
                count = writer(out)
    finally:
        store.close()
    print(f"{count} case(s) written to {args.output}")
    return 0


def _export_site(
    settings: Settings,
    target: Path,
    archive: Path | None,
    year: int | None,
    kind: Kind | None,
    status: CaseStatus | None,
) -> int:
    """The audit file: a static site in `target`, and the same site zipped into `archive` if given."""
    from inboxbot.procedure.casework import audit_site
    from inboxbot.store.repository import Store

    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        print(f"inboxbot: {target} exists and is not an empty directory; give a new one", file=sys.stderr)
        return 2
    store = Store.open(settings.database.url)
    try:
        with store.reading() as unit:
            now = datetime.now(settings.organisation.timezone)
            result = audit_site(unit, settings, target, now, zip_to=archive, year=year, kind=kind, status=status)
    except OSError as exc:  # a full disk, a folder not writable: nothing half written was left
        left = f"{target} and {archive} are left as they were" if archive else f"{target} is left as it was"
        print(f"inboxbot: the audit file was not written ({exc}); {left}", file=sys.stderr)
        return 1
    finally:
        store.close()
    print(
        f"{result.cases} case(s) written to {target / 'index.html'} "
        f"({result.files} file(s) copied, {result.bytes / 1e6:.1f} MB)"
    )
    if archive is not None:
        print(f"zipped to {archive} ({archive.stat().st_size / 1e6:.1f} MB)")
    if result.missing:
        print(f"warning: {result.missing} archived file(s) not found; each case page says which", file=sys.stderr)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from inboxbot.procedure.casework import annual_report_of
    from inboxbot.store.repository import Store

    settings = _settings(args)
    store = Store.open(settings.database.url)
    try:
        with store.reading() as unit:
            text = annual_report_of(unit, settings, args.year, args.format)
    finally:
        store.close()
    with open(private_file(Path(args.output)), "w", encoding="utf-8") as out:
        out.write(text)
    print(f"annual report {args.year} written to {args.output}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from inboxbot.cli.demo import run_demo

    if not args.verbose:
        # The demo prints what happened in French; the program's log lines would say it twice.
        logging.getLogger().setLevel(logging.WARNING)
    return run_demo(keep=args.keep)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="inboxbot", description="Runs the complaints procedure from a mailbox.")
    parser.add_argument("--version", action="version", version=f"inboxbot {__version__}")
    parser.add_argument("--config", help="config file (default: $INBOXBOT_CONFIG, else ./config.toml)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every step")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="watch the mailbox (or one cycle with --once)")
    run.add_argument("--once", action="store_true", help="one full cycle, then exit")
    run.set_defaults(func=cmd_run)

    from inboxbot.cli.init import add_arguments as init_arguments

    init = sub.add_parser("init", help="write a first config.toml from a few questions, then check it")
    init_arguments(init)
    init.set_defaults(func=cmd_init)

    check = sub.add_parser("check", help="validate config, rules and templates; log in to IMAP and SMTP")
    check.set_defaults(func=cmd_check)

    auth = sub.add_parser("auth", help="sign in to a Google or Microsoft 365 mailbox (OAuth2) and keep its tokens")
    auth.add_argument("provider", choices=("google", "microsoft", "custom"), help="as oauth2.provider says")
    auth.add_argument(
        "--flow",
        choices=("device", "loopback"),
        help="device: type a code on any device (Microsoft's default); "
        "loopback: a browser on this machine comes back to 127.0.0.1 (Google's default)",
    )
    auth.add_argument(
        "--port", type=int, default=0, help="loopback: the local port to listen on (default: any free one)"
    )
    auth.set_defaults(func=cmd_auth)

    status = sub.add_parser("status", help="the last successful cycle, the outbox, the last error")
    status.set_defaults(func=cmd_status)

    cases = sub.add_parser("cases", help="the register and its cases")
    cases_sub = cases.add_subparsers(dest="cases_command", required=True)
    listing = cases_sub.add_parser("list", help="every case, one line each")
    listing.add_argument("--open", action="store_true", help="open cases only")
    listing.add_argument("--json", action="store_true")
    show = cases_sub.add_parser("show", help="one case with its exchange log")
    show.add_argument("number")
    show.add_argument("--json", action="store_true")
    add = cases_sub.add_parser("add", help="record a claim received orally (phone, in session) or by post")
    add.add_argument("--subject", required=True, help="what the claim is about, in a few words")
    add.add_argument("--kind", choices=KINDS, default=Kind.RECLAMATION.value)
    add.add_argument(
        "--channel",
        type=_channel,
        default="oral",
        help="oral (phone, in session: the default), post (courrier), email, form, third_party (transmise)",
    )
    add.add_argument("--claimant", help="the claimant's email address, if known (they get the acknowledgement)")
    add.add_argument("--name", help="the claimant's name")
    add.add_argument(
        "--received", help="when it was received, e.g. '2026-11-20 14:30', '20/11/2026 14h30', '20/11' (default: now)"
    )
    add.add_argument("--description", help="what was said")
    add.add_argument("--stakeholder", choices=STAKEHOLDERS)
    add.add_argument("--training", help="the training concerned")
    add.add_argument("--nature", choices=NATURES)
    add.add_argument("--priority", choices=PRIORITIES)
    add.add_argument("--transmitter", help="who passed the claim on (a trainer, a venue), if not the claimant")
    add.add_argument("--by", help="who writes it down (default: the director)")
    add.add_argument("--no-acknowledge", action="store_true", help="do not mail an acknowledgement")
    add.set_defaults(func=cmd_cases_add)
    listing.set_defaults(func=cmd_cases)
    show.set_defaults(func=cmd_cases)

    mails = sub.add_parser("mails", help="every mail read, with what was done with it and why")
    mails_sub = mails.add_subparsers(dest="mails_command", required=True)
    mails_list = mails_sub.add_parser("list", help="every mail read, oldest first")
    mails_list.add_argument(
        "--outcome",
        action="append",
        metavar="OUTCOME",
        help=f"only these outcomes (repeat or separate with commas): {', '.join(MAIL_OUTCOMES)}",
    )
    mails_list.add_argument("--since", metavar="YYYY-MM-DD", help="only mails received since that day")
    mails_list.add_argument("--json", action="store_true")
    mails_list.set_defaults(func=cmd_mails)

    register = sub.add_parser("register", help="the tableau de suivi")
    register_sub = register.add_subparsers(dest="register_command", required=True)
    export = register_sub.add_parser("export", help="write the register to a file")
    export.add_argument("--format", choices=("json", "csv", "xlsx", "html"), default="json")
    export.add_argument(
        "--output", help="file to write (default: standard output); for html, a new directory (the audit file)"
    )
    export.add_argument("--zip", metavar="FILE.zip", help="html only: also write the site zipped into this file")
    export.add_argument("--year", type=int, help="only cases numbered in this year")
    export.add_argument("--open", action="store_true", help="open cases only (same as --status open)")
    export.add_argument("--status", choices=CaseStatus.values(), help="open or closed cases only")
    export.add_argument("--kind", choices=KINDS, help="one kind of case only")
    export.add_argument(
        "--table",
        choices=("cases", "exchanges", "history", "actions"),
        help="csv only: which table of the register (default: cases, one row each; exchanges: one row per "
        "mail in or out; history: one per event; actions: one per action)",
    )
    register.set_defaults(func=cmd_register)

    digest = sub.add_parser("digest", help="the director's daily digest")
    digest_mode = digest.add_mutually_exclusive_group(required=True)
    digest_mode.add_argument("--print", action="store_true", help="show exactly what would be sent")
    digest_mode.add_argument("--send", action="store_true", help="queue it and send it now")
    digest.set_defaults(func=cmd_digest)

    report = sub.add_parser("report", help="the annual report (rapport annuel), HTML or Markdown")
    report.add_argument("--year", type=int, required=True)
    report.add_argument("--output", required=True, help="file to write")
    report.add_argument("--format", choices=("html", "md"), default="html")
    report.set_defaults(func=cmd_report)

    purge_cmd = sub.add_parser(
        "purge", help="delete or anonymise closed cases older than storage.retention_years (at least 3)"
    )
    purge_cmd.add_argument("--dry-run", action="store_true", help="show what would go; change nothing")
    purge_cmd.set_defaults(func=cmd_purge)

    demo = sub.add_parser("demo", help="the whole flow on an embedded mail server, nothing to set up")
    demo.add_argument("--keep", metavar="DIR", help="keep the demo's database and archive in DIR")
    demo.set_defaults(func=cmd_demo)
    return parser


def entry() -> int:
    """The `inboxbot` program (`python -m inboxbot` too): `main` in a process of its own, with the
    collector paused until the program is built (see the collector's module)."""
    collector.pause()
    try:
        return main()
    finally:
        collector.resume()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    if not args.verbose:
        for noisy in ("imapclient", "aiosmtplib", "alembic", "mailparser", "sqlalchemy", "mail.log", "apscheduler"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    # Everything inboxbot writes (database, archive, exports, tokens) holds other people's mail:
    # readable by its user only, whatever umask the shell or the service manager set.
    umask = os.umask(PRIVATE_UMASK)
    try:
        result: int = args.func(args)
        return result
    except ConfigError as exc:
        print(f"inboxbot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if isinstance(exc, _user_errors()):
            print(f"inboxbot: {exc}", file=sys.stderr)
            return 2
        raise
    finally:
        os.umask(umask)  # for a caller in the same process (the tests)


# Errors the user can fix, by module: looked up only among the modules the command has imported (an
# error can only come from one of those), so a short command does not import the mailbox, the purge
# and the rules just to name their errors.
_USER_ERRORS = (
    ("inboxbot.adapters.imap", "MailboxError"),
    ("inboxbot.procedure.purge", "PurgeRefused"),
    ("inboxbot.domain.rules", "RuleError"),
    ("inboxbot.reading.recognition", "RecognitionError"),
    ("inboxbot.store.repository", "AlreadyRunning"),
    ("inboxbot.store.models", "UnknownTerm"),
)


def _user_errors() -> tuple[type[Exception], ...]:
    found: list[type[Exception]] = []
    for module, name in _USER_ERRORS:
        if module in sys.modules:
            found.append(getattr(sys.modules[module], name))
    return tuple(found)
