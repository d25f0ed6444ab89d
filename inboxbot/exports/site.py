"""The audit file: the register as a static site an auditor clicks through, offline.

A Qualiopi audit of indicators 31 and 32 is often a screen share: « show me this complaint: when did it
arrive, when was it acknowledged, what was answered, what did you change? ». The site answers that
without a server or a network: `index.html` (the register as a table, sortable and filterable by a
small inline script, complete and readable without it), one page per case (facts, deadlines met or
missed in words, every exchange whole with its original `.eml` and its attachments, history, actions,
satisfaction), the annual reports and the organisation's procedure beside them. It opens from a folder
or from a ZIP.

Claimant text is hostile. Everything is rendered through Jinja2 with autoescape on, claimant text is
isolated with `<bdi>` (a right-to-left override cannot reorder a row), every page carries a
Content-Security-Policy that allows only its own inline style and script (by hash: an injected script
would not run even if escaping failed), no page loads anything, every link points to a file written
here, and attachments are written under ASCII names with an extension that a browser will not run
(anything not known to be inert gets `.bin`) and linked with `download`.

Cases are read and their pages written one chunk at a time (`register_details`), so a register of any
size is written in bounded memory; only one line per case is kept for the index.
"""

from __future__ import annotations

import base64
import contextlib
import email
import email.policy
import hashlib
import html
import io
import re
import unicodedata
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from email.message import Message
from pathlib import Path, PurePosixPath
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from markupsafe import Markup

from inboxbot.adapters.private import replaced_whole, replaced_whole_folder
from inboxbot.config import ConfigError, Settings
from inboxbot.domain.cases import (
    ACTION_LABELS,
    ACTION_STATUS_LABELS,
    KIND_LABELS,
    NATURE_LABELS,
    CaseDetail,
    deadline_label,
    event_detail,
    event_label,
    exchange_label,
    exchange_note,
)
from inboxbot.domain.deadlines import WorkingDayCalendar
from inboxbot.domain.vocabulary import CaseStatus, Kind, Priority
from inboxbot.exports.register import (
    CASES_DIR,
    CHANNEL_LABELS,
    STATUS_LABELS,
    case_folder,
    case_record,
    case_slug,
    original_name,
    status_label,
)
from inboxbot.exports.report import annual_report, year_figures
from inboxbot.store.export import Exchanges, register_details
from inboxbot.store.repository import Unit

__all__ = ["CASES_DIR", "SiteResult", "case_slug", "site_name", "write_site"]

MONTHS = (
    "janvier", "février", "mars", "avril", "mai", "juin",
    "juillet", "août", "septembre", "octobre", "novembre", "décembre",
)  # fmt: skip
# Stored as they are in a ZIP: compressing them again costs time and gains nothing.
PACKED_EXTENSIONS = frozenset("pdf png jpg jpeg gif webp heic zip 7z rar gz docx xlsx pptx odt ods odp mp3 mp4".split())
PROCEDURE_PAGE = "procedure.html"
# Extensions a browser shows without running anything; every other attachment gets ".bin" added, so
# that an ".html", ".svg" or ".xhtml" a claimant sent is downloaded, never opened as a page.
INERT_EXTENSIONS = frozenset(
    "pdf png jpg jpeg gif webp bmp tif tiff txt csv log doc docx xls xlsx ppt pptx odt ods odp rtf "
    "zip 7z rar gz eml msg ics vcf mp3 m4a wav ogg mp4 mov avi heic".split()
)
TEXT_PROCEDURE = frozenset({".txt", ".md", ".text", ""})
PRIORITY_LABELS = Priority.labels()


@dataclass(frozen=True)
class SiteResult:
    """What was written: for the command's last line and the director's reply."""

    cases: int
    files: int  # attachments and original mails copied
    missing: int  # archived files that could not be found (named on their case page)
    bytes: int


class _Output:
    """Where the site's files go: a folder, a ZIP, or both, in one pass.

    Writing the folder and then zipping it read every file back: on a loaded disk, opening files was
    most of the site's time. Each file is written once to each destination instead.
    """

    def __init__(self, folder: Path | None, archive: zipfile.ZipFile | None, top: str) -> None:
        self.folder = folder
        self.archive = archive
        self.top = top
        self.bytes = 0
        self._made: set[Path] = set()

    def _path(self, relative: str) -> Path:
        assert self.folder is not None
        path = self.folder / relative
        if path.parent not in self._made:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._made.add(path.parent)
        return path

    def _compression(self, relative: str) -> int:
        packed = relative.rpartition(".")[2].lower() in PACKED_EXTENSIONS
        return zipfile.ZIP_STORED if packed else zipfile.ZIP_DEFLATED

    def data(self, relative: str, data: bytes) -> None:
        if self.folder is not None:
            self._path(relative).write_bytes(data)
        if self.archive is not None:
            self.archive.writestr(f"{self.top}/{relative}", data, compress_type=self._compression(relative))
        self.bytes += len(data)

    def text(self, relative: str, text: str) -> None:
        self.data(relative, text.encode("utf-8"))

    def copy(self, source: Path, relative: str) -> bool:
        """Copy a file into the site; False when there is no such file (purged, or an archive moved).

        Read once and written to each destination: checking, copying and zipping it separately cost
        five system calls a file, and the site copies tens of thousands.
        """
        try:
            data = source.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return False
        self.data(relative, data)
        return True


class _Fields(dict[str, Any]):
    """A record whose keys a template reads as attributes (`case.number`) at the price of an attribute.

    Jinja2 tries an attribute before an item: on a plain dict each `case.number` raised and caught an
    AttributeError, a tenth of the site's time over hundreds of thousands of look-ups.
    """

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass
class _Written:
    files: int = 0
    missing: int = 0
    rows: list[_Fields] = field(default_factory=list)


def site_name(name: str, fallback: str = "fichier") -> str:
    """A file name safe in any file system, ZIP and URL, that no browser runs.

    ASCII letters, digits, `.`, `-` and `_` only (accents folded, bidi marks and everything else
    dropped), no leading dot, at most 80 characters; an extension not known to be inert gets `.bin`.
    """
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", folded).strip(".-_ ")
    cleaned = re.sub(r"-{2,}", "-", cleaned) or fallback
    stem, dot, ext = cleaned.rpartition(".")
    if not dot:
        stem, ext = cleaned, ""
    ext = ext.lower()[:10]
    stem = stem[:70] or fallback
    if ext in INERT_EXTENSIONS:
        return f"{stem}.{ext}"
    return f"{stem}.{ext}.bin" if ext else f"{stem}.bin"


def sent_text(raw: bytes) -> str:
    """The text of a mail inboxbot sent: its text/plain part, which is what the claimant read."""
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    for part in message.walk():
        if part.get_content_type() == "text/plain" and not part.get_filename():
            return _decoded(part)
    return ""


def _decoded(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:
        return payload.decode("utf-8", errors="replace")


# Bidi embeddings, overrides and isolates: a claimant's « facture\u202efdp.exe » reads « facturexe.pdf ».
# Each is shown as what it is (« [U+202E] ») wherever a page prints a value; the marks that right-to-left
# languages need (U+200E, U+200F) are left alone.
_BIDI_CONTROLS = {code: f"[U+{code:04X}]" for code in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}


def _shown_bidi(value: Any) -> Any:
    """Every value a template prints: its bidi controls made visible (see _BIDI_CONTROLS)."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return value.translate(_BIDI_CONTROLS)
    return value


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


class _Pages:
    """The site's templates (`site/*.j2`), looked up in the user's templates directory first."""

    def __init__(self, template_dirs: Sequence[Path], tz: ZoneInfo) -> None:
        self.tz = tz
        self.env = jinja2.Environment(
            loader=jinja2.ChoiceLoader([jinja2.FileSystemLoader(str(Path(d) / "site")) for d in template_dirs]),
            undefined=jinja2.StrictUndefined,
            autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2"), default=False),
            trim_blocks=True,
            lstrip_blocks=True,
            finalize=_shown_bidi,
        )
        self.env.filters["jour"] = self._day
        self.env.filters["instant"] = self._instant
        self.env.filters["octets"] = _size
        self.env.filters["jour_court"] = self._short_day
        self.env.filters["instant_court"] = self._short_instant
        self.css = self.env.get_template("style.css.j2").render()
        self.script = self.env.get_template("index.js.j2").render()
        self.csp = (
            "default-src 'none'; "
            f"style-src {_csp_hash(self.css)}; script-src {_csp_hash(self.script)}; "
            "img-src 'none'; base-uri 'none'; form-action 'none'"
        )

    def _day(self, value: str | date | None) -> str:
        """An ISO date (as the JSON register gives it) the French way: « 12 décembre 2026 ».

        Written out here rather than by babel: it is called for every date of every page, and babel's
        pattern machinery was a tenth of the site's time for the same words."""
        if value is None or value == "":
            return "—"
        day = date.fromisoformat(value) if isinstance(value, str) else value
        return f"{day.day} {MONTHS[day.month - 1]} {day.year}"

    def _instant(self, value: str | datetime | None) -> str:
        """An ISO instant the French way, in the organisation's time zone: « 4 décembre 2026 à 10:02 »."""
        if value is None or value == "":
            return "—"
        instant = (datetime.fromisoformat(value) if isinstance(value, str) else value).astimezone(self.tz)
        return f"{instant.day} {MONTHS[instant.month - 1]} {instant.year} à {instant:%H:%M}"

    def _short_day(self, value: str | None) -> str:
        """A date for a table cell: « 05/01/2026 »."""
        return f"{date.fromisoformat(value):%d/%m/%Y}" if value else "—"

    def _short_instant(self, value: str | None) -> str:
        """An instant for a table cell, in the organisation's time zone: « 05/01/2026 09:00 »."""
        return f"{datetime.fromisoformat(value).astimezone(self.tz):%d/%m/%Y %H:%M}" if value else "—"

    def render(self, name: str, **context: Any) -> str:
        return self.env.get_template(name).render(css=self.css, script=self.script, csp=self.csp, **context)


def _size(value: int) -> str:
    if value < 1024:
        return f"{value} octets"
    if value < 1024 * 1024:
        return f"{value / 1024:.0f} Ko".replace(".", ",")
    return f"{value / 1024 / 1024:.1f} Mo".replace(".", ",")


def _deadline_words(met: bool | None, done: bool, dismissed: bool) -> str:
    """A deadline spelled out for the auditor."""
    label = deadline_label(met, done, dismissed)
    return {
        "oui": "délai respecté",
        "non": "délai dépassé" if done else "délai dépassé, pas encore fait",
        "en attente": "en cours, l'échéance n'est pas passée",
        "sans objet": "sans objet (classé sans suite)",
    }[label]


def _state(met: bool | None, done: bool, dismissed: bool) -> str:
    """A short word for the table, and a class for its colour."""
    return {"oui": "à temps", "non": "en retard", "en attente": "en attente", "sans objet": "sans objet"}[
        deadline_label(met, done, dismissed)
    ]


class _Writer:
    def __init__(
        self,
        output: _Output,
        pages: _Pages,
        archive_root: Path,
        own_address: str,
        footer: str,
        include_files: bool,
        today: date,
    ) -> None:
        self.output = output
        self.pages = pages
        self.archive_root = archive_root
        self.own = own_address
        self.footer = footer
        self.include_files = include_files
        self.today = today
        self.written = _Written()

    def _copy_archived(self, relative: str | None, destination: str) -> bool:
        """Copy a file from the archive; False when it is not there (purged, or an archive moved)."""
        if not relative:
            return False
        # The path comes from the database: only a plain path below the archive is followed (checked on
        # its words: resolving every path through the file system was a sixth of the site's time).
        parts = PurePosixPath(relative).parts
        if not parts or parts[0] == "/" or ".." in parts or "\\" in relative:
            return False
        return self.output.copy(self.archive_root.joinpath(*parts), destination)

    def case(self, detail: CaseDetail) -> None:
        record = case_record(detail, self.pages.tz, self.own, self.today)
        slug = case_slug(detail.case.number)
        folder = case_folder(detail.case.number)
        dismissed = detail.case.dismissed
        messages = []
        for index, (entry, shown) in enumerate(zip(detail.messages, record["messages"], strict=True), start=1):
            shown = _Fields(shown)
            if entry.raw is not None:  # a mail inboxbot sent: its text is in the bytes it sent
                shown["text"] = sent_text(entry.raw)
            shown["to"] = entry.to
            # In French: what the entry is (« note de la directrice »), and our remark on it.
            shown["label"] = exchange_label(entry.direction, entry.note)
            remark = exchange_note(entry.note)
            shown["note"] = remark if remark != shown["label"] else ""
            shown["eml"] = None
            shown["eml_missing"] = False
            shown["attachments"] = []
            if self.include_files:
                eml = original_name(index)  # the name the register's sheet of exchanges gives it
                if entry.raw is not None:
                    self.output.data(f"{folder}/{eml}", entry.raw)
                    ok = True
                else:
                    ok = self._copy_archived(entry.archive_path, f"{folder}/{eml}")
                if ok:
                    shown["eml"] = f"{slug}/{eml}"
                    self.written.files += 1
                elif entry.archive_path:
                    shown["eml_missing"] = True
                    self.written.missing += 1
            for number, attached in enumerate(entry.attachments, start=1):
                name = f"{index:03d}-{number:02d}-{site_name(attached.filename)}"
                item = _Fields(
                    {
                        "name": attached.filename,
                        "file": name,
                        "size": attached.size,
                        "type": attached.content_type,
                        "href": None,
                    }
                )
                if self.include_files:
                    if self._copy_archived(attached.path, f"{folder}/{name}"):
                        item["href"] = f"{slug}/{name}"
                        self.written.files += 1
                    else:
                        self.written.missing += 1
                shown["attachments"].append(item)
            messages.append(shown)
        record["messages"] = messages
        labels = _labels(record, dismissed)
        history = [
            _Fields(event, label=event_label(event["event"]), detail=event_detail(event["event"], event["detail"]))
            for event in record["history"]
        ]
        actions = [
            _Fields(
                action,
                label=ACTION_LABELS.get(action["kind"], action["kind"]),
                status_label=ACTION_STATUS_LABELS.get(action["status"] or "", action["status"] or "—"),
            )
            for action in record["actions"]
        ]
        page = self.pages.render(
            "case.html.j2",
            case=_Fields(record),
            labels=_Fields(labels),
            history=history,
            actions=actions,
            footer=self.footer,
            acknowledge_words=_deadline_words(
                record["acknowledge_met"], record["acknowledged_at"] is not None, dismissed
            ),
            response_words=_deadline_words(record["response_met"], record["responded_at"] is not None, dismissed),
        )
        self.output.text(f"{CASES_DIR}/{slug}.html", page)
        self.written.rows.append(
            _Fields(
                {
                    "number": record["number"],
                    "href": f"{CASES_DIR}/{slug}.html",
                    "kind": record["kind"],
                    "status": "dismissed" if dismissed else record["status"],
                    "claimant": record["claimant"],
                    "claimant_name": record["claimant_name"],
                    "subject": record["subject"],
                    "received_at": record["received_at"],
                    "acknowledge_due": record["acknowledge_due"],
                    "acknowledged_at": record["acknowledged_at"],
                    "acknowledge_state": _state(
                        record["acknowledge_met"], record["acknowledged_at"] is not None, dismissed
                    ),
                    "response_due": record["response_due"],
                    "responded_at": record["responded_at"],
                    "response_state": _state(record["response_met"], record["responded_at"] is not None, dismissed),
                    "extended_response_due": record["extended_response_due"],
                    "extension_reason": record["extension_reason"],
                    "nature": record["nature"],
                    "priority": record["priority"],
                    "satisfaction_mark": record["satisfaction_mark"],
                    "labels": _Fields(labels),
                }
            )
        )


def _labels(record: dict[str, Any], dismissed: bool) -> dict[str, str]:
    return {
        "kind": KIND_LABELS.get(record["kind"], record["kind"]),
        "status": status_label(record["status"], dismissed, record["merged_into"]),
        "channel": CHANNEL_LABELS.get(record["channel"], record["channel"]),
        "nature": NATURE_LABELS.get(record["nature"] or "", record["nature"] or "non renseignée"),
        "priority": PRIORITY_LABELS.get(record["priority"] or "", record["priority"] or "non renseignée"),
    }


def _share(met: int, decided: int) -> str:
    return f"{met} sur {decided} ({round(100 * met / decided)} %)" if decided else "aucun encore échu"


def _key_figures(details: Sequence[CaseDetail], year: int, settings: Settings, today: date) -> dict[str, Any]:
    calendar = WorkingDayCalendar.for_country(
        settings.deadlines.holiday_country, settings.deadlines.holiday_subdivision
    )
    figures = year_figures(details, year, settings.organisation.timezone, calendar, today)
    kinds = figures.count(lambda case: case.kind)
    average = figures.average_mark
    return {
        "year": year,
        "cases": len(figures.cases),
        "kinds": [(f"{KIND_LABELS[k]}{'s' if kinds.get(k, 0) > 1 else ''}", kinds.get(k, 0)) for k in KIND_LABELS],
        "open": sum(1 for case in figures.cases if case.status == CaseStatus.OPEN),
        "dismissed": len(figures.dismissed),
        "acknowledged": _share(figures.acknowledgement.met, figures.acknowledgement.decided),
        "responded": _share(figures.response.met, figures.response.decided),
        "extended": len(figures.extended),
        "satisfaction": (
            f"{average:.1f} sur 5 ({len(figures.marks)} réponse(s))".replace(".", ",") if average else "aucune réponse"
        ),
    }


def write_site(
    unit: Unit,
    settings: Settings,
    target: Path | None,
    *,
    template_dirs: Sequence[Path],
    now: datetime,
    register_label: str,
    last_review: date | None,
    zip_to: Path | None = None,
    year: int | None = None,
    kind: Kind | None = None,
    status: CaseStatus | None = None,
    include_files: bool = True,
    number: str | None = None,
) -> SiteResult:
    """Write the audit site into the new or empty directory `target`, and/or zipped into `zip_to`.

    `register_label` says which register this is (the database, its password hidden); `now` is when
    it is produced, stated on every page; `last_review` goes to the annual reports. Without
    `include_files` (a site small enough to mail), originals and attachments are listed, not copied.
    `number` keeps one case (#dossier).
    The ZIP holds one folder named after it, as a person zipping a folder gets. Both are written beside
    their names and renamed once complete: a failure half-way leaves no half site that would pass for
    a finished audit file, and `target` as it was.
    """
    if target is None and zip_to is None:
        raise ValueError("write_site needs a directory, a ZIP file or both")
    procedure = settings.organisation.procedure_file
    if procedure is not None and not procedure.is_file():
        raise ConfigError("organisation.procedure_file", f"no file at {procedure}", settings.source)
    if target is not None and target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise FileExistsError(f"{target} is not empty; give a new or empty directory")
    with contextlib.ExitStack() as stack:
        # Entered first, so left last: the folder takes its name once the ZIP is whole.
        folder = stack.enter_context(replaced_whole_folder(target)) if target is not None else None
        archive = None
        if zip_to is not None:
            partial = stack.enter_context(replaced_whole(zip_to))
            archive = stack.enter_context(zipfile.ZipFile(partial, "w", compresslevel=1))
        output = _Output(folder, archive, zip_to.stem if zip_to is not None else "")
        result = _write(
            unit,
            settings,
            output,
            template_dirs=template_dirs,
            now=now,
            register_label=register_label,
            last_review=last_review,
            year=year,
            kind=kind,
            status=status,
            include_files=include_files,
            number=number,
        )
    return result


def _write(
    unit: Unit,
    settings: Settings,
    output: _Output,
    *,
    template_dirs: Sequence[Path],
    now: datetime,
    register_label: str,
    last_review: date | None,
    year: int | None,
    kind: Kind | None,
    status: CaseStatus | None,
    include_files: bool,
    number: str | None = None,
) -> SiteResult:
    tz = settings.organisation.timezone
    today = now.astimezone(tz).date()
    pages = _Pages(template_dirs, tz)
    filters = _filters_text(year, kind, status)
    footer = (
        f"Produit le {pages._instant(now)} par inboxbot à partir du tableau de suivi des réclamations de "
        f"{settings.organisation.name} ({register_label}){filters}."
    )
    archive, own = settings.storage.archive_dir, settings.smtp.from_address
    writer = _Writer(output, pages, archive, own, footer, include_files, today)
    by_year: dict[int, list[CaseDetail]] = {}
    for detail in register_details(unit, Exchanges.FULL, year=year, kind=kind, status=status, number=number):
        writer.case(detail)
        case_year = _year_of(detail.case.number, detail.case.received_at.astimezone(tz).year)
        # The key figures read cases and actions only: the exchange log is dropped at once.
        by_year.setdefault(case_year, []).append(replace(detail, messages=(), events=()))
    years = sorted(by_year) or [year or today.year]
    reports = []
    for report_year in sorted(years, reverse=True):
        this_year = register_details(unit, Exchanges.NONE, year=report_year)
        previous = register_details(unit, Exchanges.NONE, year=report_year - 1)
        text = annual_report(this_year, previous, report_year, settings, last_review, "html", today=today)
        name = f"rapport-annuel-{report_year}.html"
        output.text(name, _framed_report(text, footer))
        reports.append({"year": report_year, "href": name})
    procedure = _write_procedure(settings, output, pages, footer)
    workbook = _write_workbook(unit, settings, output, today, year, kind, status, number)
    figures = [_key_figures(by_year.get(y, []), y, settings, today) for y in sorted(years, reverse=True)]
    index = pages.render(
        "index.html.j2",
        organisation=settings.organisation.name,
        rows=writer.written.rows,
        figures=figures,
        reports=reports,
        procedure=procedure,
        workbook=workbook,
        footer=footer,
        filters=filters,
        kinds=KIND_LABELS,
        include_files=include_files,
    )
    output.text("index.html", index)
    return SiteResult(
        cases=len(writer.written.rows), files=writer.written.files, missing=writer.written.missing, bytes=output.bytes
    )


WORKBOOK = "registre.xlsx"


def _write_workbook(
    unit: Unit,
    settings: Settings,
    output: _Output,
    today: date,
    year: int | None,
    kind: Kind | None,
    status: CaseStatus | None,
    number: str | None,
) -> dict[str, Any]:
    """The register as the workbook (`register export --format xlsx`) beside the pages, read in the
    same snapshot: its sheet of exchanges names each original by its path here, so that the auditor
    who filters it in Excel finds the mail itself next to it."""
    from inboxbot.exports.spreadsheet import write_register_xlsx  # xlsxwriter: only when a site is made

    details = register_details(unit, Exchanges.STEPS, year=year, kind=kind, status=status, number=number)
    data = io.BytesIO()
    write_register_xlsx(details, data, settings.organisation.timezone, settings.smtp.from_address, today)
    output.data(WORKBOOK, data.getvalue())
    return {"href": WORKBOOK}


def _year_of(number: str, fallback: int) -> int:
    head = number.split("-", 1)[0]
    return int(head) if head.isdigit() and len(head) == 4 else fallback


def _filters_text(year: int | None, kind: Kind | None, status: CaseStatus | None) -> str:
    parts = []
    if year is not None:
        parts.append(f"année {year}")
    if kind is not None:
        parts.append(f"{KIND_LABELS.get(kind, kind)}s seulement")
    if status is not None:
        parts.append(f"dossiers {STATUS_LABELS.get(status, status)}s seulement")
    return f" ; sélection : {', '.join(parts)}" if parts else ""


_HEAD_END = re.compile(r"</head>", re.IGNORECASE)
_BODY_END = re.compile(r"</body>", re.IGNORECASE)


def _framed_report(text: str, footer: str) -> str:
    """The annual report as the site's other pages: no script allowed, a way back, the production line."""
    policy = (
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        "img-src 'none'; base-uri 'none'; form-action 'none'\">"
    )
    back = '<p><a href="index.html">← Retour au tableau de suivi</a></p>'
    text = _HEAD_END.sub(lambda _m: policy + "\n</head>", text, count=1)
    text = text.replace("<body>", "<body>\n" + back, 1)
    return _BODY_END.sub(lambda _m: f"<footer><p>{html.escape(footer)}</p></footer>\n</body>", text, count=1)


def _write_procedure(settings: Settings, output: _Output, pages: _Pages, footer: str) -> dict[str, Any] | None:
    """The organisation's procedure beside the register: a text file as a page, any other kept as it is."""
    source = settings.organisation.procedure_file
    if source is None:
        return None
    original = None
    paragraphs: list[str] = []
    if source.suffix.lower() in TEXT_PROCEDURE:
        text = source.read_text(encoding="utf-8", errors="replace")
        paragraphs = [block.strip() for block in re.split(r"\n\s*\n", text) if block.strip()]
    else:
        original = "procedure-" + site_name(source.name)
        output.copy(source, original)
    page = pages.render(
        "procedure.html.j2", paragraphs=paragraphs, original=original, source=source.name, footer=footer
    )
    output.text(PROCEDURE_PAGE, page)
    return {"href": PROCEDURE_PAGE}
