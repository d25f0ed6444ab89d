"""The register exported in chunks says exactly what the whole register read at once says.

`inboxbot.store.export` reads cases a chunk at a time and only what each output shows; these tests
put cases on both sides of chunk boundaries, with mails, outgoing mails, events and actions spread
unevenly, and compare with `Unit.case_details` (which reads everything at once) and with what was
seeded, on SQLite and PostgreSQL, then through the command line across its 1,000-case chunk.
"""

from __future__ import annotations

import csv
import io
import json
import multiprocessing
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from sqlalchemy import text
from xlsxwriter import Workbook

from inboxbot.cli.main import case_line
from inboxbot.domain.cases import CaseDetail
from inboxbot.exports.register import case_record, to_csv, write_json
from inboxbot.exports.spreadsheet import (
    CASES_SHEET,
    RegisterReadError,
    _pieces_read_elsewhere,
    _Reading,
    _Styles,
    export_register_xlsx,
    register_xlsx,
)
from inboxbot.store import export
from inboxbot.store.export import CHUNK, EXCERPT, Exchanges, register_cases, register_details
from inboxbot.store.repository import MailRecord, OutgoingDraft, Store, Unit
from tests.e2e import invoke, offline_config

OWN = "alice@cafemetrie.example"
STYLES = _Styles(Workbook(io.BytesIO(), {"constant_memory": True})).index  # a workbook's cell formats
START = datetime(2025, 11, 20, 9, tzinfo=UTC)


def received_of(n: int) -> datetime:
    """Spread over two years, and not in the order of the numbers."""
    return START + timedelta(days=n * 3 % 70, minutes=n)


def seed(unit: Unit, count: int, *, busy: bool = True) -> dict[str, int]:
    """`count` cases over two years; with `busy`, an uneven number of mails, outgoing mails, events and
    actions per case. Returns the number of exchanges seeded for each case number."""
    exchanges: dict[str, int] = {}
    for n in range(count):
        received = received_of(n)
        number = f"{received.year}-{n:04d}"
        case_id = unit.open_case(
            number=number,
            kind=("reclamation", "difficulte", "alea")[n % 3],
            channel="email",
            claimant=f"c{n}@example.fr",
            claimant_name=f"Claimant {n}",
            subject=f"Objet {n}",
            received_at=received,
            acknowledge_due=received.date() + timedelta(days=21),
            response_due=received.date() + timedelta(days=30),
            nature=None,
            priority=None,
            rules_hit=("r",),
            now=received,
        ).id
        mails = (n % 4 if busy else 1) + (5 if n in (CHUNK - 1, CHUNK) else 0)
        for m in range(mails):
            unit.record_mail(mail(case_id, n, m, received + timedelta(hours=m)), received)
        outgoing = busy and n % 3 == 0
        if outgoing:
            unit.queue(
                OutgoingDraft(
                    f"out{n}@inboxbot", case_id, "acknowledgement", f"c{n}@example.fr", f"AR {n}", b"x" * 4000
                ),
                received + timedelta(seconds=1),
            )
        if busy:
            for e in range(n % 3):
                unit.add_event(case_id, received + timedelta(minutes=e), "inboxbot", f"event{e}", f"case {n}")
            if n % 5 == 0:
                unit.add_action(
                    case_id, "corrective", f"Action du dossier {n}", received, owner="Alice", due=date(2026, 1, 5)
                )
            if n % 4 == 1:
                unit.update_case(case_id, status="closed", closed_at=received + timedelta(days=3))
        exchanges[number] = mails + outgoing
    return exchanges


def mail(case_id: int, n: int, m: int, at: datetime) -> MailRecord:
    return MailRecord(
        message_key=f"<m{n}.{m}@example.fr>",
        message_id=f"m{n}.{m}@example.fr",
        case_id=case_id,
        direction="in",
        folder="INBOX",
        uidvalidity=1,
        uid=n * 100 + m,
        received_at=at,
        header_date=at,
        from_address=f"c{n}@example.fr",
        from_name="",
        to_addresses=OWN,
        subject=f"Mail {m} du dossier {n}",
        summary=f"texte {n}.{m}",
        archive_path=f"2025/11/{n:060d}{m:04d}.eml",
        sha256=f"{n:060d}{m:04d}",
        size=100,
        outcome="attached",
        reason="",
        automatic=None,
        rules_hit=(),
    )


def test_chunks_give_what_reading_everything_at_once_gives(database_url: str) -> None:
    store = Store.open(database_url)
    try:
        with store.unit() as unit:
            exchanges = seed(unit, 23)
        with store.reading() as unit:
            for filters in ({}, {"year": 2026}, {"kind": "alea"}, {"status": "closed"}):
                whole = unit.case_details(unit.cases(**filters))
                assert whole, filters
                assert list(register_cases(unit, chunk=7, **filters)) == [d.case for d in whole], filters
                streamed = list(register_details(unit, Exchanges.LOG, chunk=7, **filters))
                assert streamed == whole, filters
                # The register's sheets: the same mails and events, with recipients and each text's beginning.
                steps = list(register_details(unit, Exchanges.STEPS, chunk=7, **filters))
                assert [(d.case, d.events, d.exchanges) for d in steps] == [
                    (d.case, d.events, len(d.messages)) for d in whole
                ]
                assert [[(m.message_id, m.summary, m.from_outbox) for m in d.messages] for d in steps] == [
                    [(m.message_id, m.summary, m.from_address is None) for m in d.messages] for d in whole
                ]
                assert {m.to for d in steps for m in d.messages if m.direction == "in"} == {OWN}
                assert all(m.to == d.case.claimant for d in steps for m in d.messages if m.from_outbox)
                counted = list(register_details(unit, Exchanges.COUNT, chunk=7, **filters))
                assert [(d.case, d.actions, d.exchanges) for d in counted] == [
                    (d.case, d.actions, len(d.messages)) for d in whole
                ]
                assert all(not d.messages and not d.events for d in counted)  # never read for a count
                bare = list(register_details(unit, Exchanges.NONE, chunk=7, **filters))
                assert [(d.case, d.actions) for d in bare] == [(d.case, d.actions) for d in whole]
            everything = list(register_details(unit, Exchanges.LOG, chunk=7))
        assert {d.case.number: len(d.messages) for d in everything} == exchanges
        assert sum(1 for d in everything if d.actions) == 5 and sum(len(d.events) for d in everything) == 22
    finally:
        store.close()


def test_the_sheets_read_only_the_beginning_of_a_long_text(database_url: str) -> None:
    """A mail of any length costs the register's sheets `EXCERPT` characters: the database cuts it."""
    store = Store.open(database_url)
    try:
        with store.unit() as unit:
            seed(unit, 1, busy=False)
            (case,) = unit.cases()
            long = mail(case.id, 0, 1, received_of(0))
            unit.record_mail(replace(long, summary="Je conteste.\n" * 50_000), received_of(0))
        with store.reading() as unit:
            (detail,) = register_details(unit, Exchanges.STEPS)
    finally:
        store.close()
    assert [len(m.summary) for m in detail.messages] == [len("texte 0.0"), EXCERPT]
    assert detail.messages[1].summary == ("Je conteste.\n" * 50_000)[:EXCERPT]


def test_streamed_files_are_the_files_written_at_once(tmp_path: Path) -> None:
    """JSON byte for byte as `json.dumps(records, indent=2)`; CSV rows the same from counts as from mails."""
    store = Store.open(f"sqlite:///{tmp_path / 'inboxbot.db'}")
    tz = ZoneInfo("Europe/Paris")
    try:
        with store.unit() as unit:
            seed(unit, 23)
        with store.reading() as unit:
            whole = unit.case_details(unit.cases())
            expected = json.dumps([case_record(d, tz, OWN) for d in whole], ensure_ascii=False, indent=2) + "\n"
            out = io.StringIO()
            assert write_json(register_details(unit, Exchanges.LOG, chunk=7), out, tz, OWN) == 23
            assert out.getvalue() == expected
            assert to_csv(register_details(unit, Exchanges.COUNT, chunk=7), tz, OWN) == to_csv(whole, tz, OWN)
        empty = io.StringIO()
        assert write_json([], empty, tz, OWN) == 0 and empty.getvalue() == json.dumps([], indent=2) + "\n"
    finally:
        store.close()


def export_config(directory: Path, database: Path) -> Path:
    """A config for commands that only read the database: no mail server is ever contacted."""
    return offline_config(directory, f"sqlite:///{database}", OWN)


def test_export_commands_across_the_chunk_boundary(tmp_path: Path) -> None:
    database = tmp_path / "inboxbot.db"
    store = Store.open(f"sqlite:///{database}")
    try:
        with store.unit() as unit:
            exchanges = seed(unit, CHUNK + 3, busy=False)
    finally:
        store.close()
    config = export_config(tmp_path, database)
    order = sorted(exchanges, key=lambda number: received_of(int(number[5:])))

    written = invoke(config, "register", "export", "--format", "json", "--output", str(tmp_path / "r.json"))
    assert written.code == 0 and f"{CHUNK + 3} case(s)" in written.out, written.err
    records = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert [r["number"] for r in records] == order
    for record in records:
        n = int(record["number"][5:])
        assert [m["message_id"] for m in record["messages"]] == [
            f"m{n}.{m}@example.fr" for m in range(exchanges[record["number"]])
        ]

    assert invoke(config, "register", "export", "--format", "csv", "--output", str(tmp_path / "r.csv")).code == 0
    header, *rows = list(csv.reader(io.StringIO((tmp_path / "r.csv").read_text(encoding="utf-8-sig")), delimiter=";"))
    column = header.index("Échanges")
    assert [(row[0], int(row[column])) for row in rows] == [(number, exchanges[number]) for number in order]

    assert invoke(config, "register", "export", "--format", "xlsx", "--output", str(tmp_path / "r.xlsx")).code == 0
    book = openpyxl.load_workbook(tmp_path / "r.xlsx", read_only=True)
    values = list(book["Dossiers"].iter_rows(values_only=True))
    column = values[0].index("Nombre d'échanges")
    assert [(row[0], row[column]) for row in values[1:]] == [(number, exchanges[number]) for number in order]

    # One row per mail, every case's in the register's order, in the sheet and in the CSV table alike.
    expected = [
        (number, f"Mail {m} du dossier {int(number[5:])}") for number in order for m in range(exchanges[number])
    ]
    values = list(book["Échanges"].iter_rows(values_only=True))
    assert [(row[0], row[5]) for row in values[1:]] == expected
    written = invoke(
        config, "register", "export", "--format", "csv", "--table", "exchanges", "--output", str(tmp_path / "e.csv")
    )
    assert written.code == 0 and f"{CHUNK + 3} case(s)" in written.out, written.err
    header, *rows = list(csv.reader(io.StringIO((tmp_path / "e.csv").read_text(encoding="utf-8-sig")), delimiter=";"))
    assert header[:3] == ["Dossier", "Date", "Sens"]
    assert [(row[0], row[header.index("Objet")]) for row in rows] == expected
    assert {row[header.index("Sens")] for row in rows} == {"reçu"}
    on_stdout = invoke(config, "register", "export", "--format", "csv", "--table", "history")
    assert on_stdout.code == 0 and on_stdout.out.lstrip("\ufeff").startswith("Dossier;Date;Auteur;Événement;Détail")
    refused = invoke(config, "register", "export", "--format", "json", "--table", "exchanges")
    assert refused.code == 2 and "--table goes with --format csv" in refused.err


def test_cases_list_streamed_across_the_chunk_boundary_prints_what_it_printed(tmp_path: Path) -> None:
    """`cases list` (and --json, --open) read in chunks print what reading every case at once printed."""
    database = tmp_path / "inboxbot.db"
    store = Store.open(f"sqlite:///{database}")
    tz = ZoneInfo("Europe/Paris")
    try:
        with store.unit() as unit:
            seed(unit, CHUNK + 3, busy=False)
            for number in ("2025-0004", "2026-0999", "2026-1001"):
                case = unit.case_by_number(number)
                assert case is not None
                unit.update_case(case.id, status="closed", closed_at=START)
        config = export_config(tmp_path, database)
        with store.reading() as unit:
            for flags, cases in (((), unit.cases()), (("--open",), unit.cases(open_only=True))):
                listed = invoke(config, "cases", "list", *flags)
                assert listed.code == 0, listed.err
                assert listed.out == "".join(case_line(case, tz) + "\n" for case in cases), flags
                assert len(listed.out.splitlines()) == CHUNK + 3 - 3 * len(flags)
                as_json = invoke(config, "cases", "list", "--json", *flags)
                records = [case_record(detail, tz, OWN) for detail in unit.case_details(cases)]
                assert as_json.out == json.dumps(records, ensure_ascii=False, indent=2) + "\n", flags
    finally:
        store.close()


def test_an_export_in_progress_does_not_hold_the_daemons_writes_up(tmp_path: Path) -> None:
    """An export reads for as long as the register is large; on SQLite it must not take the write lock."""
    store = Store.open(f"sqlite:///{tmp_path / 'inboxbot.db'}")
    try:
        with store.unit() as unit:
            seed(unit, 3)
        written = threading.Event()

        def write() -> None:
            with store.unit() as unit:
                unit.add_event(1, START, "inboxbot", "note", "written during an export")
            written.set()

        with store.reading() as unit:
            details = register_details(unit, Exchanges.LOG, chunk=1)
            first = next(details)  # the export is under way, its snapshot taken
            writer = threading.Thread(target=write)
            writer.start()
            assert written.wait(timeout=20), "the write waited for the export to finish"
            rest = list(details)
        writer.join()
        assert [d.case.number for d in (first, *rest)] == ["2025-0000", "2025-0001", "2025-0002"]
    finally:
        store.close()


def test_an_export_that_fails_half_way_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    database = tmp_path / "inboxbot.db"
    store = Store.open(f"sqlite:///{database}")
    try:
        with store.unit() as unit:
            seed(unit, 3, busy=False)
    finally:
        store.close()
    config = export_config(tmp_path, database)
    real = export.register_details

    def failing(*args: Any, **kwargs: Any) -> Iterator[CaseDetail]:
        yield next(real(*args, **kwargs))
        raise OSError("disk gone")

    monkeypatch.setattr(export, "register_details", failing)
    # XLSX is read by a process of its own, which this patch does not reach: see the tests below.
    for fmt in ("json", "csv"):
        target = tmp_path / "out" / f"registre.{fmt}"
        target.parent.mkdir(exist_ok=True)
        with pytest.raises(OSError, match="disk gone"):
            invoke(config, "register", "export", "--format", fmt, "--output", str(target))
        assert list(target.parent.iterdir()) == [], fmt


# -- XLSX: read in a second process ---------------------------------------------------------------


def sheet_xml(data: bytes) -> tuple[bytes, ...]:
    book = zipfile.ZipFile(io.BytesIO(data))
    return tuple(book.read(f"xl/worksheets/sheet{n}.xml") for n in (1, 2, 3, 4))


def corrupt(url: str, number: str) -> None:
    """Make one case unreadable, as a bug or a damaged database would: its rules are not JSON."""
    store = Store.open(url)
    try:
        with store.engine.begin() as connection:
            connection.execute(text("UPDATE cases SET rules_hit = '{oops' WHERE number = :n"), {"n": number})
    finally:
        store.close()


def test_xlsx_read_by_a_second_process_is_the_workbook_written_in_one(database_url: str, tmp_path: Path) -> None:
    """Cell for cell, style for style: the sheets' XML is the same whichever process read the cases."""
    tz = ZoneInfo("Europe/Paris")
    today = date(2026, 1, 10)
    store = Store.open(database_url)
    try:
        with store.unit() as unit:
            seed(unit, 23)
        for filters in ({}, {"year": 2026}, {"kind": "alea"}, {"status": "closed"}):
            target = tmp_path / "registre.xlsx"
            # Chunks of 4 cases: batches of rows on both sides of the reader's lead over the writer.
            count = export_register_xlsx(database_url, target, tz, today, chunk=4, own_address=OWN, **filters)
            with store.reading() as unit:
                details = list(register_details(unit, Exchanges.STEPS, **filters))
            assert count == len(details) > 0, filters
            assert sheet_xml(target.read_bytes()) == sheet_xml(register_xlsx(details, tz, OWN, today)), filters
    finally:
        store.close()
    assert multiprocessing.active_children() == []


def test_xlsx_is_the_register_at_one_instant(database_url: str, tmp_path: Path) -> None:
    """Whatever is written while the export is under way is not in it: the reading process reads all in
    one snapshot (this one reads nothing), even though it is held back until the cells are written."""
    tz = ZoneInfo("Europe/Paris")
    store = Store.open(database_url)
    try:
        with store.unit() as unit:
            seed(unit, 23, busy=False)
        rows = _pieces_read_elsewhere(_Reading(database_url, tz, date(2026, 1, 10), None, None, None, 1, OWN, STYLES))
        try:
            first = next(rows)  # the snapshot is taken; the reader, a few cases ahead at most, waits for us
            with store.unit() as unit:
                last = unit.case_by_number("2026-0022")
                assert last is not None
                unit.update_case(last.id, training="Changée pendant l'export")
                unit.add_action(last.id, "corrective", "Ajoutée pendant l'export", START, owner="Alice")
                unit.open_case(
                    number="2026-9999", kind="alea", channel="email", claimant="new@example.fr", claimant_name="",
                    subject="Ouvert pendant l'export", received_at=START, acknowledge_due=date(2026, 1, 1),
                    response_due=date(2026, 1, 1), nature=None, priority=None, rules_hit=(), now=START,
                )  # fmt: skip
            written = [first, *rows]
        finally:
            rows.close()
    finally:
        store.close()
    # Each sheet's rows come as their XML or, for those the writer makes, as values.
    xml = "".join(rows if isinstance(rows, str) else repr(rows) for _sheet, rows, _count in written)
    assert "'Objet 22'" in xml
    for later in ("Changée pendant l'export", "Ajoutée pendant l'export", "Ouvert pendant l'export"):
        assert later not in xml
    assert sum(count for sheet, _xml, count in written if sheet == CASES_SHEET) == 23


def seeded_sqlite(tmp_path: Path, cases: int) -> str:
    """The URL of a new SQLite register of `cases` quiet cases."""
    url = f"sqlite:///{tmp_path / 'inboxbot.db'}"
    store = Store.open(url)
    try:
        with store.unit() as unit:
            seed(unit, cases, busy=False)
    finally:
        store.close()
    return url


def test_xlsx_whose_reading_fails_half_way_raises_and_leaves_no_file(tmp_path: Path) -> None:
    url = seeded_sqlite(tmp_path, 9)
    corrupt(url, "2025-0007")  # in the fourth chunk of two: three batches are sent by then
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(RegisterReadError, match="JSONDecodeError") as raised:
        export_register_xlsx(
            url, out / "registre.xlsx", ZoneInfo("Europe/Paris"), date(2026, 1, 10), chunk=2, own_address=OWN
        )
    assert "In the reading process" in "\n".join(raised.value.__notes__)  # its traceback comes along
    assert "_case" in "\n".join(raised.value.__notes__)
    assert list(out.iterdir()) == []
    assert multiprocessing.active_children() == []

    # From the command line, the same.
    config = export_config(tmp_path, tmp_path / "inboxbot.db")
    with pytest.raises(RegisterReadError, match="JSONDecodeError"):
        invoke(config, "register", "export", "--format", "xlsx", "--output", str(out / "registre.xlsx"))
    assert list(out.iterdir()) == []


def test_xlsx_whose_reading_process_dies_raises(tmp_path: Path) -> None:
    url = seeded_sqlite(tmp_path, 12)
    rows = _pieces_read_elsewhere(
        _Reading(url, ZoneInfo("Europe/Paris"), date(2026, 1, 10), None, None, None, 1, OWN, STYLES)
    )
    next(rows)
    (reader,) = multiprocessing.active_children()
    reader.kill()  # as the kernel's OOM killer would
    with pytest.raises(RegisterReadError, match="stopped before the end"):
        list(rows)
    assert multiprocessing.active_children() == []


def test_xlsx_whose_writing_fails_stops_the_reading_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = seeded_sqlite(tmp_path, 12)

    def full(*args: Any, **kwargs: Any) -> None:
        raise OSError("no space left on device")

    monkeypatch.setattr(Workbook, "close", full)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(OSError, match="no space left"):
        export_register_xlsx(
            url, out / "registre.xlsx", ZoneInfo("Europe/Paris"), date(2026, 1, 10), chunk=1, own_address=OWN
        )
    assert list(out.iterdir()) == []
    assert multiprocessing.active_children() == []


def test_csv_and_xlsx_word_deadlines_alike_a_dismissed_case_included() -> None:
    from tests.test_spreadsheet import OWN as SHEET_OWN
    from tests.test_spreadsheet import PARIS, by_header, seeded, sheet, workbook

    details = seeded()
    header, *rows = list(csv.reader(io.StringIO(to_csv(details, PARIS, SHEET_OWN).lstrip("\ufeff")), delimiter=";"))
    in_csv = {
        row[0]: (row[header.index("Accusé de réception dans les délais")], row[header.index("Réponse dans les délais")])
        for row in rows
    }
    cases = sheet(workbook(details), "Dossiers")
    in_xlsx = {
        by_header(cases, row)["Numéro"]: (
            by_header(cases, row)["Accusé de réception dans les délais"],
            by_header(cases, row)["Réponse dans les délais"],
        )
        for row in range(2, cases.max_row + 1)
    }
    assert in_csv["2026-0004"] == in_xlsx["2026-0004"] == ("sans objet", "sans objet")  # classée sans suite
    assert in_csv["2026-0001"] == in_xlsx["2026-0001"] == ("oui", "oui")
    assert rows[3][header.index("Statut")] == "classée sans suite"
