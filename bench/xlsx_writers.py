"""Micro-benchmark behind a proposal in BENCHMARKS.md: openpyxl against XlsxWriter for the register.

Writes 100,000 rows of 26 columns shaped like the register's "Dossiers" sheet (7 dated cells with a
date or date-time format, 17 texts, 2 numbers) into memory, with openpyxl in write-only mode (what
inboxbot uses) or XlsxWriter in constant_memory mode, and prints the time and the peak memory.

    python3 bench/xlsx_writers.py openpyxl
    pip install xlsxwriter && python3 bench/xlsx_writers.py xlsxwriter
"""

from __future__ import annotations

import io
import resource
import sys
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta

ROWS = 100_000
BASE = datetime(2024, 1, 1, 9, 30)


def rows() -> Iterator[list[object]]:
    for i in range(ROWS):
        d = BASE + timedelta(minutes=i)
        yield [
            f"2025-{i:05d}", "réclamation", "clôturée", "e-mail", f"claimant{i}@orange.fr", "Élodie Martin",
            "Réclamation concernant la formation Excel avancé", d, d.date(), d, "oui", d.date(), None, "",
            d, "oui", d, "organisationnelle", "normale", "apprenant", "Excel avancé", "", "", 4, "", 3,
        ]  # fmt: skip


def with_openpyxl(out: io.BytesIO) -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import NamedStyle

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Dossiers")
    workbook.add_named_style(NamedStyle("day", number_format="DD/MM/YYYY"))
    workbook.add_named_style(NamedStyle("instant", number_format="DD/MM/YYYY HH:MM"))

    def cell(value: object, style: str) -> WriteOnlyCell:
        made = WriteOnlyCell(sheet)
        made.style = style
        made.value = value
        return made

    for row in rows():
        sheet.append(
            [
                cell(v, "instant") if isinstance(v, datetime) else cell(v, "day") if isinstance(v, date) else v
                for v in row
            ]
        )
    workbook.save(out)


def with_xlsxwriter(out: io.BytesIO) -> None:
    import xlsxwriter

    workbook = xlsxwriter.Workbook(out, {"constant_memory": True})
    sheet = workbook.add_worksheet("Dossiers")
    day = workbook.add_format({"num_format": "dd/mm/yyyy"})
    instant = workbook.add_format({"num_format": "dd/mm/yyyy hh:mm"})
    for r, row in enumerate(rows()):
        for c, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, datetime):
                sheet.write_datetime(r, c, value, instant)
            elif isinstance(value, date):
                sheet.write_datetime(r, c, datetime(value.year, value.month, value.day), day)
            elif isinstance(value, str):
                sheet.write_string(r, c, value)
            else:
                sheet.write_number(r, c, value)
    workbook.close()


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else "openpyxl"
    buffer = io.BytesIO()
    start = time.perf_counter()
    (with_xlsxwriter if which == "xlsxwriter" else with_openpyxl)(buffer)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{which}: {time.perf_counter() - start:.1f} s, {len(buffer.getvalue()) / 1e6:.1f} MB, peak {peak:.0f} MB")
