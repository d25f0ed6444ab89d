"""Evidence for a fix proposed in BENCHMARKS.md, not product code: the register exported in chunks.

`inboxbot register export` loads every case, every mail, every outgoing mail (with its raw bytes)
and every event as ORM objects, then builds the whole file as one string. This prototype reads the
cases with a Core SELECT in partitions of 1,000 and writes each partition before reading the next:
CSV needs only the number of exchanges per case (two GROUP BY queries), JSON reuses the product's
own `Unit.case_details` on one partition at a time and `json.JSONEncoder.encode` per record.

    python3 bench/register_stream_prototype.py CONFIG csv|json OUTPUT

It prints its time and peak memory; the CSV it writes has the same rows as the product's. It uses
private helpers of the product (`_case`, `_action`, `_yes_no`) and may need adjusting as they change.
"""

from __future__ import annotations

import csv
import json
import resource
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from inboxbot.bootstrap import build
from inboxbot.cases import KIND_LABELS, CaseDetail
from inboxbot.config import load
from inboxbot.register import CHANNEL_LABELS, CSV_COLUMNS, STATUS_LABELS, _yes_no, case_record, neutralise_formula
from inboxbot.store.models import ActionRow, CaseRow, MailRow, OutboxRow
from inboxbot.store.repository import _action, _case

CHUNK = 1000


def main(config: Path, fmt: str, output: Path) -> None:
    settings = load(config)
    tz, own = settings.organisation.timezone, settings.smtp.from_address
    app = build(settings)
    start = time.perf_counter()
    with app.store.unit() as unit, open(output, "w", encoding="utf-8", newline="") as out:
        connection = unit.session.connection()
        result = connection.execute(
            select(CaseRow.__table__).order_by(CaseRow.received_at, CaseRow.id).execution_options(yield_per=CHUNK)
        )
        if fmt == "csv":
            out.write("\ufeff")
            writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
            writer.writerow([header for header, _key in CSV_COLUMNS])
        else:
            out.write("[")
            encoder = json.JSONEncoder(ensure_ascii=False, indent=2)
            first = True
        for partition in result.partitions():
            cases = [_case(row) for row in partition]
            ids = [case.id for case in cases]
            if fmt == "json":
                for detail in unit.case_details(cases):
                    out.write(("\n" if first else ",\n") + encoder.encode(case_record(detail, tz, own)))
                    first = False
                continue
            exchanges = dict.fromkeys(ids, 0)
            for table in (MailRow, OutboxRow):
                query = select(table.case_id, func.count()).where(table.case_id.in_(ids)).group_by(table.case_id)
                for case_id, count in connection.execute(query):
                    exchanges[case_id] += count
            actions: dict[int, list] = {case_id: [] for case_id in ids}
            query = select(ActionRow.__table__).where(ActionRow.case_id.in_(ids)).order_by(ActionRow.seq)
            for row in connection.execute(query):
                actions[row.case_id].append(_action(row))
            for case in cases:
                detail = CaseDetail(case=case, messages=(), events=(), actions=tuple(actions[case.id]))
                record = case_record(detail, tz, own)
                record["kind"] = KIND_LABELS.get(record["kind"], record["kind"])
                record["status"] = STATUS_LABELS.get(record["status"], record["status"])
                record["channel"] = CHANNEL_LABELS.get(record["channel"], record["channel"])
                record["acknowledge_met"] = _yes_no(record["acknowledge_met"])
                record["response_met"] = _yes_no(record["response_met"])
                if record["dismissed"]:
                    record["status"] = "classée sans suite"
                record["actions_text"] = " | ".join(
                    f"{a['number']}. {a['kind']} : {a['text']}" + (f" [{a['status']}]" if a["status"] else "")
                    for a in record["actions"]
                )
                record["exchanges"] = exchanges[case.id]
                writer.writerow(
                    [neutralise_formula(str(record[key])) if record[key] is not None else "" for _h, key in CSV_COLUMNS]
                )
        if fmt == "json":
            out.write("\n]\n")
    app.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{fmt}: {time.perf_counter() - start:.1f} s, peak {peak:.0f} MB (of this process)")


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]))
