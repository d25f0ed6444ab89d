"""Retention: forgetting, on schedule, what the procedure no longer requires the organisation to keep.

The procedure says to keep every record of a claim "pendant une période minimale de trois ans"; keeping
personal data longer than needed is what the GDPR forbids. So `inboxbot purge` deletes or anonymises
(`storage.purge_mode`) the cases closed more than `storage.retention_years` ago, their archived mails
and attachments, and the mails that never belonged to a case, and writes what it did to an audit log
that the purge itself never touches: the proof that records were destroyed on purpose, not lost.

When is a case old enough: counted in calendar days of the organisation's time zone, as the director
reads dates. A case closed on 28 February 2023 may go from 28 February 2026 (three years), whatever the
hour. A case closed on 29 February 2024 may go from 1 March 2027, not on the 28th: there is no
29 February 2027, and on the 28th the full three years have not yet elapsed. Open cases are never
touched, however old.

Failure mode chosen: rows first, files after. Each case is changed, together with its audit entry, in
one transaction, and its files are removed only once that transaction has committed. So a crash or a
failed transaction never leaves a record pointing to a file that is gone: whatever is still in the
database still has its evidence. The opposite risk, files of an already purged case left on disk by a
crash between the commit and their removal, is closed by a journal: their paths are written and synced
to `<archive_dir>/.purge-pending.json` before the commit, and every purge starts by removing the files
listed there that no record uses any more (a journal entry whose transaction did not commit is still
referenced, so it is simply dropped). A crash therefore leaves, at worst, personal files on disk until
the next `inboxbot purge`; never a record without its file.

A file is removed (by `Archive.remove`) only if it lies inside the archive root once symbolic links are
resolved, and only if no record still uses it: files are named by content, so two records
can share one. A file already missing is reported, not an error.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from inboxbot.adapters.locks import file_lock
from inboxbot.adapters.private import replaced_whole
from inboxbot.bootstrap import App
from inboxbot.store import retention as records
from inboxbot.store.retention import CaseFootprint

MINIMUM_YEARS = 3
MODES = ("anonymise", "delete")
JOURNAL_NAME = ".purge-pending.json"
LOCK_NAME = ".purge.lock"
ORPHAN_BATCH = 500


class PurgeRefused(Exception):
    """The purge will not run: a retention under the legal minimum, an unknown mode, a purge running."""


@dataclass(frozen=True)
class CasePurge:
    """One case a purge removes or anonymises, counted; no personal data, so it can be shown anywhere."""

    number: str
    closed_at: datetime
    closed_on: date  # in the organisation's time zone, the day the retention is counted from
    mails: int
    attachments: int
    outgoing: int
    events: int
    actions: int
    files: int


@dataclass(frozen=True)
class PurgePlan:
    """What `purge` would do now; computing it changes nothing.

    `purgeable_until` is the last closing (or, for mails not in a case, receiving) day that is old
    enough; `leftover_files` are files an interrupted purge left to remove.
    """

    mode: str
    retention_years: int
    purgeable_until: date
    cases: list[CasePurge]
    orphan_mails: int
    files: int
    leftover_files: int


@dataclass(frozen=True)
class PurgeReport:
    """What `purge` did. File paths are relative to the archive root."""

    mode: str
    retention_years: int
    purgeable_until: date
    cases: list[CasePurge]
    orphan_mails: int
    files_removed: int
    files_missing: list[str]
    files_failed: list[str]
    files_refused: list[str]
    files_shared: int

    @property
    def changed_anything(self) -> bool:
        return bool(self.cases or self.orphan_mails or self.files_removed or self.files_failed)


@dataclass
class _Tally:
    cases: list[CasePurge] = field(default_factory=list)
    orphan_mails: int = 0
    removed: int = 0
    missing: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    shared: int = 0


@dataclass(frozen=True)
class _Window:
    mode: str
    years: int
    zone: ZoneInfo
    last_day: date
    before: datetime  # the first instant too recent to purge


def purgeable_until(today: date, years: int) -> date:
    """The last day whose records are `years` old on `today`: the same day `years` earlier.

    `today` a 29 February gives the 28th, so everything that is old enough goes; a record of a
    29 February is then only old enough from 1 March, its full term served.
    """
    try:
        return today.replace(year=today.year - years)
    except ValueError:
        return today.replace(year=today.year - years, day=28)


def plan_purge(app: App, now: datetime) -> PurgePlan:
    """What a purge would remove at `now`, without changing anything (the `--dry-run`)."""
    window = _window(app, now)
    journal = _Journal(app.archive.root)
    with app.store.unit() as unit:
        footprints = records.closed_cases(unit, window.before, _organisation(app))
        orphans = records.orphan_mails(unit, window.before)
    chosen = [f for f in footprints if window.mode == "delete" or not f.anonymised]
    return PurgePlan(
        mode=window.mode,
        retention_years=window.years,
        purgeable_until=window.last_day,
        cases=[_case_purge(f, window.zone) for f in chosen],
        orphan_mails=orphans.mails,
        files=sum(len(f.files) for f in chosen) + len(orphans.files),
        leftover_files=len(journal.load()),
    )


def purge(app: App, now: datetime, actor: str) -> PurgeReport:
    """Delete or anonymise what is old enough at `now`; `actor` is written to the audit log.

    One transaction per case (its rows and its audit entry), one per batch of mails linked to no
    case, files after each commit; see the module's docstring for why in that order. Running it
    again at once does nothing: anonymised cases are recognised and skipped.
    """
    window = _window(app, now)
    organisation = _organisation(app)
    root = app.archive.root
    tally = _Tally()
    with _exclusive(root):
        journal = _Journal(root)
        _remove_files(app, journal, journal.load(), tally)
        with app.store.unit() as unit:
            candidates = [
                f.case_id
                for f in records.closed_cases(unit, window.before, organisation)
                if window.mode == "delete" or not f.anonymised
            ]
        for case_id in candidates:
            with app.store.unit() as unit:
                if window.mode == "delete":
                    done = records.delete_case(unit, case_id, window.before, organisation)
                else:
                    done = records.anonymise_case(unit, case_id, window.before, organisation)
                if done is None:
                    continue  # reopened, or anonymised by someone else, since the list was read
                journal.add(done.files)
                records.add_audit(unit, now, actor, "purge:case", _case_detail(done, window.mode))
            tally.cases.append(_case_purge(done, window.zone))
            _remove_files(app, journal, done.files, tally)
        while True:
            with app.store.unit() as unit:
                batch = records.delete_orphan_mails(unit, window.before, ORPHAN_BATCH)
                if not batch.mails:
                    break
                journal.add(batch.files)
                records.add_audit(unit, now, actor, "purge:mails", _orphan_detail(batch, window.last_day))
            tally.orphan_mails += batch.mails
            _remove_files(app, journal, batch.files, tally)
        report = PurgeReport(
            mode=window.mode,
            retention_years=window.years,
            purgeable_until=window.last_day,
            cases=tally.cases,
            orphan_mails=tally.orphan_mails,
            files_removed=tally.removed,
            files_missing=tally.missing,
            files_failed=tally.failed,
            files_refused=tally.refused,
            files_shared=tally.shared,
        )
        if report.changed_anything or report.files_missing or report.files_refused:
            with app.store.unit() as unit:
                records.add_audit(unit, now, actor, "purge:run", _run_detail(report))
    return report


def format_plan(plan: PurgePlan) -> str:
    """The dry run, for a person at a terminal."""
    lines = [
        f"Retention {plan.retention_years} years, mode {plan.mode}: records closed up to "
        f"{plan.purgeable_until.isoformat()} can go.",
    ]
    verb = "delete" if plan.mode == "delete" else "anonymise"
    for case in plan.cases:
        lines.append(
            f"  would {verb} case {case.number} (closed {case.closed_on.isoformat()}): {_count(case.mails, 'mail')}, "
            f"{_count(case.attachments, 'attachment')}, {_count(case.outgoing, 'outgoing mail')}, "
            f"{_count(case.files, 'file')}"
        )
    lines.append(
        f"{_count(len(plan.cases), 'case')} to {verb}, {_count(plan.orphan_mails, 'mail')} not linked to any case "
        f"to delete, {_count(plan.files, 'archive file')} to remove"
        + (f", {_count(plan.leftover_files, 'file')} left by an interrupted purge" if plan.leftover_files else "")
        + ". Nothing was changed (dry run)."
    )
    return "\n".join(lines)


def format_report(report: PurgeReport) -> str:
    """What a purge did, for a person at a terminal; file problems are listed one per line."""
    verb = "deleted" if report.mode == "delete" else "anonymised"
    lines = [f"  case {case.number} {verb}" for case in report.cases]
    lines.append(
        f"{_count(len(report.cases), 'case')} {verb}, {_count(report.orphan_mails, 'mail')} not linked to any case "
        f"deleted, {_count(report.files_removed, 'archive file')} removed"
        f" (records closed up to {report.purgeable_until.isoformat()})."
    )
    lines += [f"  already missing: {path}" for path in report.files_missing]
    lines += [f"  could not remove: {problem}" for problem in report.files_failed]
    lines += [f"  outside the archive, left alone: {path}" for path in report.files_refused]
    if report.files_failed:
        lines.append("The files that could not be removed will be tried again by the next purge.")
    return "\n".join(lines)


def _window(app: App, now: datetime) -> _Window:
    """The settings checked again here, whatever loaded them: this function destroys records."""
    storage = app.settings.storage
    years = storage.retention_years
    if isinstance(years, bool) or not isinstance(years, int) or years < MINIMUM_YEARS:
        raise PurgeRefused(
            f"storage.retention_years: the procedure keeps records at least {MINIMUM_YEARS} years, got {years!r}"
        )
    if storage.purge_mode not in MODES:
        raise PurgeRefused(f"storage.purge_mode: expected one of {', '.join(MODES)}, got {storage.purge_mode!r}")
    if now.tzinfo is None:
        raise PurgeRefused("the purge needs an aware 'now'")
    zone = app.settings.organisation.timezone
    last_day = purgeable_until(now.astimezone(zone).date(), years)
    before = datetime.combine(last_day + timedelta(days=1), time(0), zone)
    return _Window(mode=storage.purge_mode, years=years, zone=zone, last_day=last_day, before=before)


def _organisation(app: App) -> list[str]:
    """Names under which the organisation itself acts in a case's history; everyone else is personal."""
    return ["inboxbot", *app.settings.director.addresses, app.settings.smtp.from_address]


def _case_purge(footprint: CaseFootprint, zone: ZoneInfo) -> CasePurge:
    return CasePurge(
        number=footprint.number,
        closed_at=footprint.closed_at,
        closed_on=footprint.closed_at.astimezone(zone).date(),
        mails=footprint.mails,
        attachments=footprint.attachments,
        outgoing=footprint.outgoing,
        events=footprint.events,
        actions=footprint.actions,
        files=len(footprint.files),
    )


def _case_detail(done: CaseFootprint, mode: str) -> str:
    """The audit entry of one case: its number and counts, nothing that names anybody."""
    files = _count(len(done.files), "archive file")
    if mode == "delete":
        removed = ", ".join(
            [
                _count(done.mails, "mail"),
                _count(done.attachments, "attachment"),
                _count(done.outgoing, "outgoing mail"),
                _count(done.events, "event"),
                _count(done.actions, "action"),
            ]
        )
        return f"purged case {done.number} (deleted; {removed} removed, {files} to remove)"
    return (
        f"purged case {done.number} (anonymised; {_count(done.mails, 'mail')} and "
        f"{_count(done.outgoing, 'outgoing mail')} emptied, {_count(done.attachments, 'attachment')} removed, "
        f"{files} to remove)"
    )


def _orphan_detail(batch: records.OrphanMails, last_day: date) -> str:
    return (
        f"purged {_count(batch.mails, 'mail')} not linked to any case, received up to {last_day.isoformat()} "
        f"({_count(batch.attachments, 'attachment')} removed, {_count(len(batch.files), 'archive file')} to remove)"
    )


def _run_detail(report: PurgeReport) -> str:
    return (
        f"purge run ({report.mode}, {report.retention_years} years, records up to "
        f"{report.purgeable_until.isoformat()}): {_count(len(report.cases), 'case')}, "
        f"{_count(report.orphan_mails, 'mail')} not linked to any case; "
        f"{_count(report.files_removed, 'archive file')} removed, {len(report.files_missing)} already missing, "
        f"{len(report.files_failed)} not removable, {len(report.files_refused)} outside the archive"
    )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _remove_files(app: App, journal: _Journal, paths: Iterable[str], tally: _Tally) -> None:
    """Remove files no record uses any more; the journal keeps only those to try again."""
    wanted = [p for p in dict.fromkeys(paths) if p]
    if not wanted:
        return
    with app.store.unit() as unit:
        used = records.still_referenced(unit, wanted)
    retry: list[str] = []
    for relative in wanted:
        if relative in used:
            tally.shared += 1
            continue
        try:
            app.archive.remove(relative)
        except ValueError:
            tally.refused.append(relative)
            continue
        except FileNotFoundError:
            tally.missing.append(relative)
            continue
        except OSError as exc:
            tally.failed.append(f"{relative}: {exc.strerror or exc}")
            retry.append(relative)
            continue
        tally.removed += 1
    journal.discard([p for p in wanted if p not in retry])


class _Journal:
    """Archive files a committed purge still has to remove, kept on disk so a crash forgets none."""

    def __init__(self, root: Path) -> None:
        self.path = Path(root) / JOURNAL_NAME

    def load(self) -> list[str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        return [p for p in data if isinstance(p, str)] if isinstance(data, list) else []

    def add(self, paths: Iterable[str]) -> None:
        new = [p for p in paths if p]
        if new:
            self._save([*self.load(), *new])

    def discard(self, paths: Iterable[str]) -> None:
        gone = set(paths)
        current = self.load()
        if gone & set(current):
            self._save([p for p in current if p not in gone])

    def _save(self, paths: list[str]) -> None:
        paths = list(dict.fromkeys(paths))
        if not paths:
            self.path.unlink(missing_ok=True)
            return
        with replaced_whole(self.path, durable=True) as temporary:
            temporary.write_text(json.dumps(paths, ensure_ascii=False), encoding="utf-8")


@contextmanager
def _exclusive(root: Path) -> Iterator[None]:
    """One purge at a time per archive, so two never share the journal; the daemon may keep running."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    with file_lock(root / LOCK_NAME, PurgeRefused(f"another purge is already running on {root}")):
        yield
