"""The audit file (`register export --format html`), looked at as an auditor does: in a real browser.

A register of a few hundred cases is built: a handful through the real pipeline (mails with
attachments, a hostile subject and hostile file names, fetched from Dovecot and acknowledged), the rest
through the store. The site is generated with the command a director types, then opened in headless
Chromium: the DOM after its script ran (`--dump-dom`) must have every link resolve to a file of the
site, sort and filter as the address asks (`#tri=…&type=…`), and keep the hostile text inert; pages
must print to PDF; screenshots of the index and of a case page are written for a person to look at
(into the test's folder, printed, and into $INBOXBOT_SCREENSHOTS when set).

Without Chromium these tests are skipped with the reason; `.ci/run` installs it, so CI runs them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import openpyxl
import pytest
from databases import fresh_database_url
from servers import DovecotServer, SmtpSink
from sqlalchemy import update

from inboxbot.exports.site import site_name
from inboxbot.store.models import CaseRow
from inboxbot.store.repository import MailRecord, OutgoingDraft, Store
from tests.e2e import invoke, write_config
from tests.mails import make_mail

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium; .ci/run does)"),
]

HOSTILE_SUBJECT = (
    'Plainte <script>alert("x")</script> <a href="javascript:alert(1)">cliquez</a> '
    "<img src=x onerror=alert(2)> \u202etxt.exe"
)
HOSTILE_BODY = (
    "Bonjour,\n\nvoir <a href=\"javascript:alert('corps')\">ce lien</a> et <script>document.title='pris'</script>"
    "\n\u202eGNIRTS EREVNI\u202c fin.\nCordialement,\nZoé"
)
BULK = 300
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@dataclass(frozen=True)
class Site:
    root: Path  # the site's folder
    archive: Path  # the ZIP
    records: list[dict[str, object]]  # the JSON register, for what the site must agree with
    shots: Path


def chromium(*args: str, timeout: float = 120) -> str:
    assert CHROMIUM is not None
    completed = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",
            "--virtual-time-budget=5000",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    return completed.stdout


def dom(page: Path, fragment: str = "") -> str:
    """The DOM after the page's scripts ran, as the browser holds it."""
    return chromium("--dump-dom", page.as_uri() + fragment)


class Page(HTMLParser):
    """What a DOM holds that these tests look at: links, scripts, event attributes, table rows."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.scripts = 0
        self.event_attributes: list[str] = []
        self.rows: list[dict[str, str | None]] = []  # the register's body rows, in document order
        self.text_parts: list[str] = []
        self._in_body = False
        self._cell = -1
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script":
            self.scripts += 1
        self.event_attributes += [name for name, _ in attrs if name.startswith("on")]
        for name in ("href", "src", "action", "formaction"):
            if values.get(name) is not None:
                self.links.append(values[name] or "")
        if tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self.rows.append(dict(values))
            self._cell = -1
        elif tag == "td" and self._in_body and self.rows:
            self._cell += 1
            if self._cell == 0:
                self.rows[-1]["number"] = values.get("data-v")

    def handle_endtag(self, tag: str) -> None:
        if tag == "tbody":
            self._in_body = False

    def handle_data(self, data: str) -> None:
        self.text_parts.append(data)

    @property
    def text(self) -> str:
        return "".join(self.text_parts)

    def visible_numbers(self) -> list[str]:
        return [str(row["number"]) for row in self.rows if "hidden" not in row]


def _seed_bulk(url: str, count: int) -> None:
    """`count` cases written through the store, with mails, attachments, sent mails, actions and events."""
    store = Store.open(url)
    start = datetime(2026, 1, 5, 8, tzinfo=UTC)
    try:
        with store.unit() as unit:
            for n in range(count):
                received = start + timedelta(hours=n * 7)
                number = f"2026-{n + 100:04d}"
                case_id = unit.open_case(
                    number=number,
                    kind=("reclamation", "difficulte", "alea")[n % 3],
                    channel="email",
                    claimant=f"stagiaire{n}@exemple.fr",
                    claimant_name=f"Stagiaire {n}",
                    subject=f"Objet du dossier {n}",
                    received_at=received,
                    acknowledge_due=received.date() + timedelta(days=21),
                    response_due=received.date() + timedelta(days=30),
                    nature=("organisationnelle", "materielle", None)[n % 3],
                    priority=("normale", "haute", None)[n % 3],
                    rules_hit=("bulk",),
                    now=received,
                ).id
                mail_id = unit.record_mail(
                    MailRecord(
                        message_key=f"<bulk{n}@exemple.fr>",
                        message_id=f"bulk{n}@exemple.fr",
                        case_id=case_id,
                        direction="in",
                        folder="INBOX",
                        uidvalidity=1,
                        uid=10_000 + n,
                        received_at=received,
                        header_date=received,
                        from_address=f"stagiaire{n}@exemple.fr",
                        from_name=f"Stagiaire {n}",
                        to_addresses="alice@cafemetrie.example",
                        subject=f"Objet du dossier {n}",
                        summary=f"Texte de la réclamation {n}.",
                        archive_path=f"2026/01/bulk{n}.eml",  # not in the archive: the page must say so
                        sha256=f"{n:064d}",
                        size=100,
                        outcome="case_opened",
                        reason="",
                        automatic=None,
                        rules_hit=(),
                    ),
                    received,
                )
                if n % 10 == 0:
                    unit.add_attachment(mail_id, f"piece {n}.pdf", "application/pdf", 100, f"2026/01/bulk{n}/01-x.pdf")
                unit.queue(
                    OutgoingDraft(
                        f"ar{n}@cafemetrie.example",
                        case_id,
                        "acknowledgement",
                        f"stagiaire{n}@exemple.fr",
                        f"[Dossier {number}] Accusé de réception",
                        make_mail("alice@cafemetrie.example", f"stagiaire{n}@exemple.fr", "AR", f"Accusé {n}."),
                    ),
                    received + timedelta(minutes=1),
                )
                if n % 2 == 0:  # as the sending records it; every other case never acknowledged
                    unit.session.execute(
                        update(CaseRow)
                        .where(CaseRow.id == case_id)
                        .values(acknowledged_at=received + timedelta(days=n % 25))
                    )
                if n % 4 == 1:  # closed, answered early or late, and rated
                    unit.update_case(
                        case_id,
                        status="closed",
                        closed_at=received + timedelta(days=n % 40),
                        responded_at=received + timedelta(days=n % 40),
                    )
                    unit.session.execute(
                        update(CaseRow)
                        .where(CaseRow.id == case_id)
                        .values(satisfaction_mark=1 + n % 5, satisfaction_at=received + timedelta(days=50))
                    )
                if n % 5 == 0:
                    unit.add_action(
                        case_id, "corrective", f"Action {n}", received, owner="Alice", due=date(2026, 6, 30)
                    )
                unit.add_event(case_id, received, "inboxbot", "opened", "")
    finally:
        store.close()


@pytest.fixture(scope="module")
def site(dovecot_server: DovecotServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    base = tmp_path_factory.mktemp("audit")
    user, password = "audit-site", "secret-audit"
    dovecot_server.add_user(user, password)
    sink = SmtpSink()
    sink.start()
    procedure = base / "procedure-reclamations.txt"
    procedure.write_text(
        "Procédure de traitement des réclamations\n\nLa directrice accuse réception sous 15 jours ouvrés.\n"
        "<script>alert('procédure')</script>\n",
        encoding="utf-8",
    )
    url = fresh_database_url(base)
    config = write_config(
        base,
        imap_host=dovecot_server.host,
        imap_port=dovecot_server.port,
        username=user,
        password=password,
        smtp_port=sink.port,
        database_url=url,
        mode="dedicated",
        imap_extra='ingest_since = "2020-01-01"',
    )
    text = config.read_text(encoding="utf-8").replace(
        'timezone = "Europe/Paris"\n', f'timezone = "Europe/Paris"\nprocedure_file = "{procedure.name}"\n', 1
    )
    config.write_text(text, encoding="utf-8")
    try:
        mails = [
            make_mail(
                "Léa Martin <lea.martin@exemple.fr>",
                "alice@cafemetrie.example",
                "Attestation de formation manquante",
                "Bonjour,\n\nje n'ai toujours pas reçu mon attestation.\nCi-joint ma convocation.\n\nLéa",
                attachments=[
                    ("convocation.pdf", PDF, "application/pdf"),
                    ("page.html", b"<script>alert('piece jointe')</script>", "text/html"),
                    ("facture\u202efdp.exe", b"MZ", "application/octet-stream"),
                ],
            ),
            make_mail("Zoé <zoe@exemple.fr>", "alice@cafemetrie.example", HOSTILE_SUBJECT, HOSTILE_BODY),
            make_mail(
                "Paul Durand <paul@entreprise.fr>",
                "alice@cafemetrie.example",
                "Salle non chauffée pendant la session",
                "La salle était glaciale mardi.",
                attachments=[("photo salle.jpg", b"\xff\xd8\xff\xe0jpeg", "image/jpeg")],
            ),
        ]
        for raw in mails:
            dovecot_server.append(user, password, "INBOX", raw)
        result = invoke(config, "run", "--once")
        assert result.code == 0, result.err
        _seed_bulk(url, BULK)
        records = json.loads(invoke(config, "register", "export", "--format", "json").out)
        assert len(records) == BULK + 3, [r["subject"] for r in records]
        root, archive = base / "audit", base / "audit.zip"
        result = invoke(config, "register", "export", "--format", "html", "--output", str(root), "--zip", str(archive))
        assert result.code == 0, result.err
        shots = base / "screenshots"
        shots.mkdir()
        yield Site(root=root, archive=archive, records=records, shots=shots)
    finally:
        sink.stop()


def _page_of(site: Site, subject_start: str) -> Path:
    (record,) = [r for r in site.records if str(r["subject"]).startswith(subject_start)]
    return site.root / "dossiers" / f"{record['number']}.html"


def _resolves(page: Path, link: str, root: Path) -> Path:
    """The file a link of `page` opens; fails unless it is a relative link to a file of the site."""
    parts = urlsplit(link)
    assert not parts.scheme and not parts.netloc, f"{page.name}: link leaves the site: {link!r}"
    assert parts.path, f"{page.name}: empty link {link!r}"
    target = (page.parent / unquote(parts.path)).resolve()
    assert root.resolve() in target.parents, f"{page.name}: {link!r} points outside the site"
    assert target.is_file(), f"{page.name}: {link!r} leads nowhere"
    return target


def test_every_link_of_the_index_and_the_case_pages_opens_a_file_of_the_site(site: Site) -> None:
    index = Page(dom(site.root / "index.html"))
    targets = {_resolves(site.root / "index.html", link, site.root) for link in index.links}
    pages = sorted((site.root / "dossiers").glob("*.html"))
    assert len(pages) == BULK + 3
    assert set(pages) <= targets  # every case is reachable from the index
    assert site.root / "rapport-annuel-2026.html" in targets and site.root / "procedure.html" in targets
    # The pages of the cases that came through the pipeline, as the browser holds them; every other
    # case page as written (no script runs there, so the DOM is the file).
    browsed = {_page_of(site, s) for s in ("Attestation", "Plainte", "Salle")}
    for page in pages:
        text = dom(page) if page in browsed else page.read_text(encoding="utf-8")
        parsed = Page(text)
        assert parsed.links, page
        for link in parsed.links:
            _resolves(page, link, site.root)
    for page in (site.root / "rapport-annuel-2026.html", site.root / "procedure.html"):
        for link in Page(dom(page)).links:
            _resolves(page, link, site.root)


def test_the_workbook_beside_the_pages_names_each_original_where_it_is(site: Site) -> None:
    """The index offers the register for Excel; its sheet of exchanges gives, for every mail, the path of
    its original in this site, which opens the mail itself (the claimant's, and the bytes we sent)."""
    index = Page(dom(site.root / "index.html"))
    assert site.root / "registre.xlsx" in {_resolves(site.root / "index.html", link, site.root) for link in index.links}
    book = openpyxl.load_workbook(site.root / "registre.xlsx", read_only=True)
    assert book.sheetnames == ["Dossiers", "Actions", "Échanges", "Historique"]
    assert len(list(book["Dossiers"].iter_rows(min_row=2))) == BULK + 3
    exchanges = list(book["Échanges"].iter_rows(values_only=True))
    column = exchanges[0].index("Message original (dossier d'audit)")
    (record,) = [r for r in site.records if str(r["subject"]).startswith("Attestation")]
    mine = [row for row in exchanges[1:] if row[0] == record["number"]]
    assert [row[2] for row in mine] == ["reçu", "envoyé"]
    claim, acknowledgement = (site.root / str(row[column]) for row in mine)
    assert b"je n'ai toujours pas re" in claim.read_bytes()
    assert b"Message-ID:" in acknowledgement.read_bytes() and acknowledgement.name == "002-message.eml"
    # Every mail of the cases that came through the mailbox (the bulk ones were seeded without files).
    arrived = {r["number"] for r in site.records if not str(r["subject"]).startswith("Objet du dossier")}
    paths = [row[column] for row in exchanges[1:] if row[0] in arrived]
    assert len(paths) == 6 and all((site.root / str(path)).is_file() for path in paths), paths


def test_a_case_page_holds_its_exchanges_originals_and_attachments_under_safe_names(site: Site) -> None:
    page = _page_of(site, "Attestation")
    parsed = Page(dom(page))
    assert "je n'ai toujours pas reçu mon attestation" in parsed.text
    assert "Accusé de réception" in parsed.text  # what inboxbot sent, its text and not a summary
    assert "délai respecté" in parsed.text  # acknowledged within minutes
    assert "envoyé : accusé de réception" in parsed.text and "dossier ouvert" in parsed.text  # history, in French
    files = {Path(link).name for link in parsed.links if link.startswith(f"{page.stem}/")}  # the case's own files
    assert any(name.endswith("-convocation.pdf") for name in files)
    # A page and a program the claimant sent are never opened by the browser: they are downloaded.
    assert any(name.endswith("-page.html.bin") for name in files)
    assert any(name.endswith(".exe.bin") for name in files)
    assert not any(name.endswith((".html", ".htm", ".svg", ".exe")) for name in files)
    assert sum(1 for name in files if name.endswith(".eml")) >= 2  # the claim and the acknowledgement
    convocation = next((page.parent / link) for link in parsed.links if link.endswith("-convocation.pdf"))
    assert convocation.read_bytes() == PDF
    # A case whose archived files are gone says so instead of linking to nothing.
    bulk = Page(dom(site.root / "dossiers" / "2026-0100.html"))
    assert "Message original introuvable" in bulk.text and "(non incluse dans ce fichier)" in bulk.text


def test_sorting_and_filtering_follow_the_address(site: Site) -> None:
    numbers = sorted(str(r["number"]) for r in site.records)
    plain = Page(dom(site.root / "index.html"))
    assert plain.visible_numbers() == [str(r["number"]) for r in site.records]  # the register's order

    descending = Page(dom(site.root / "index.html", "#tri=numero&ordre=desc"))
    assert descending.visible_numbers() == numbers[::-1]

    alea_closed = Page(dom(site.root / "index.html", "#type=alea&statut=closed"))
    expected = [
        str(r["number"]) for r in site.records if r["kind"] == "alea" and r["status"] == "closed" and not r["dismissed"]
    ]
    assert expected and alea_closed.visible_numbers() == expected
    assert len(alea_closed.rows) == len(site.records)  # hidden, never removed
    assert f"{len(expected)} dossier(s) affiché(s) sur {len(site.records)}" in alea_closed.text

    marks = Page(dom(site.root / "index.html", "#tri=satisfaction&ordre=desc&q=stagiaire"))
    shown = marks.visible_numbers()
    by_number = {str(r["number"]): r for r in site.records}
    values = [by_number[n]["satisfaction_mark"] for n in shown]
    rated = [v for v in values if v is not None]
    assert rated == sorted(rated, reverse=True) and rated[0] == 5
    assert values[: len(rated)] == rated  # cases without a mark come last
    assert all(str(by_number[n]["claimant"]).startswith("stagiaire") for n in shown)

    late = Page(dom(site.root / "index.html", "#delai=retard"))
    assert 0 < len(late.visible_numbers()) < len(site.records)
    for number in late.visible_numbers():
        record = by_number[number]
        assert record["acknowledge_met"] is False or record["response_met"] is False


def test_without_script_the_register_is_whole_and_in_order(site: Site) -> None:
    text = (site.root / "index.html").read_text(encoding="utf-8")
    parsed = Page(text)
    assert [row["number"] for row in parsed.rows] == [r["number"] for r in site.records]
    assert not any("hidden" in row for row in parsed.rows)
    assert '<form id="controls" class="controls" hidden>' in text  # controls that need the script stay hidden


def test_hostile_text_stays_inert_text(site: Site) -> None:
    index = Page(dom(site.root / "index.html"))
    assert index.scripts == 1  # the page's own
    assert not index.event_attributes
    assert not [link for link in index.links if link.strip().lower().startswith("javascript")]
    # The text reads as written, the right-to-left override shown for what it is instead of reversing
    # what follows it (« txt.exe » would read « exe.txt »).
    shown = HOSTILE_SUBJECT.replace("\u202e", "[U+202E]")
    assert shown in index.text and "\u202e" not in index.text
    page = _page_of(site, "Plainte")
    case = Page(dom(page))
    assert case.scripts == 0 and not case.event_attributes
    assert not [link for link in case.links if "javascript" in link.lower()]
    assert shown in case.text and "\u202e" not in case.text
    assert "<script>document.title='pris'</script>" in case.text and "[U+202E]GNIRTS EREVNI[U+202C]" in case.text
    raw = page.read_text(encoding="utf-8")
    assert "[U+202E]txt.exe</bdi>" in raw  # and isolated all the same
    procedure = Page(dom(site.root / "procedure.html"))
    assert procedure.scripts == 0 and "<script>alert('procédure')</script>" in procedure.text
    # Every page forbids what it does not need, even if escaping ever failed.
    for path in (site.root / "index.html", page, site.root / "rapport-annuel-2026.html"):
        assert "Content-Security-Policy" in path.read_text(encoding="utf-8"), path
    assert site_name("x\u202egnp.exe") == "xgnp.exe.bin"


def test_every_page_says_when_and_from_which_register_it_was_produced(site: Site) -> None:
    for path in [site.root / "index.html", _page_of(site, "Salle"), site.root / "rapport-annuel-2026.html"]:
        text = Page(path.read_text(encoding="utf-8")).text
        assert "Produit le " in text and "Cafémétrie" in text and "base sqlite" in text or "base postgresql" in text


def test_the_zip_holds_the_same_site(site: Site, tmp_path: Path) -> None:
    with zipfile.ZipFile(site.archive) as archive:
        names = set(archive.namelist())
        archive.extractall(tmp_path)
    files = {f"audit/{p.relative_to(site.root).as_posix()}" for p in site.root.rglob("*") if p.is_file()}
    assert names == files
    unzipped = tmp_path / "audit" / "index.html"
    assert Page(dom(unzipped, "#tri=numero&ordre=desc")).visible_numbers()[0] == max(
        str(r["number"]) for r in site.records
    )


def test_pages_print_to_pdf_and_screenshots_are_taken(site: Site) -> None:
    case = _page_of(site, "Attestation")
    outputs = [site.shots]
    if os.environ.get("INBOXBOT_SCREENSHOTS"):
        outputs.append(Path(os.environ["INBOXBOT_SCREENSHOTS"]))
    for folder in outputs:
        folder.mkdir(parents=True, exist_ok=True)
        chromium("--window-size=1400,1000", f"--screenshot={folder / 'index.png'}", (site.root / "index.html").as_uri())
        chromium("--window-size=1100,1600", f"--screenshot={folder / 'dossier.png'}", case.as_uri())
    print(f"\nscreenshots: {', '.join(str(folder) for folder in outputs)}")
    for name in ("index.png", "dossier.png"):
        assert (site.shots / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for page, name in ((site.root / "index.html", "index.pdf"), (case, "dossier.pdf")):
        pdf = site.shots / name
        chromium("--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.as_uri())
        data = pdf.read_bytes()
        assert data.startswith(b"%PDF") and b"/Type /Page" in data or b"/Type/Page" in data
