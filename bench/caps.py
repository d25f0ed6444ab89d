"""What the bounds on a stranger's say-so cost per mail (issue 14, items 1 and 7; BENCHMARKS §7).

    python3 bench/caps.py [--cycles N]

1. A whole cycle on the in-memory mailbox of tests/fakes.py (no servers, SQLite), in the process's
   CPU time per mail: 600 claims from 200 people under three spellings each, every mail carrying a
   trusted Authentication-Results; then 600 forged mails in the director's name.
2. The new steps alone: `mailbox_key`, `dmarc_failure`, and the store's counts (per mailbox, in
   all up to the cap, suspicious alerts today) with n and 4n acknowledgements queued today, on
   SQLite and on a throw-away PostgreSQL.
"""

# ruff: noqa: E501

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from e2e import write_config  # noqa: E402
from mails import make_mail  # noqa: E402
from servers import PostgresServer  # noqa: E402
from test_pipeline import DIRECTOR, Office  # noqa: E402

from inboxbot.domain.mailboxes import mailbox_key  # noqa: E402
from inboxbot.reading.parse import parse  # noqa: E402
from inboxbot.reading.proof import dmarc_failure  # noqa: E402
from inboxbot.store.repository import OutgoingDraft, Store  # noqa: E402

TRUSTED = "mx.cafemetrie.example"
RESULTS = (
    f"{TRUSTED}; dkim=pass header.d=example.fr; spf=pass smtp.mailfrom=example.fr; dmarc=pass header.from=example.fr"
)
FORWARD = "---------- Message transféré ---------\nDe : V <victim@target.example>\nObjet : x\n\ncorps\n"


def cycle_cpu_ms(kind: str) -> float:
    with tempfile.TemporaryDirectory() as d:
        config = write_config(
            Path(d),
            imap_host="127.0.0.1",
            imap_port=9,
            username="alice",
            password="x",
            smtp_port=9,
            database_url=f"sqlite:///{d}/i.db",
            address=DIRECTOR,
        )
        config.write_text(
            config.read_text().replace('digest_time = "08:00"', f'digest_time = "08:00"\nauthserv_ids = ["{TRUSTED}"]')
        )
        office = Office(config)
        office.cycle()
        for i in range(600):
            if kind == "claims":
                who = [f"client{i % 200}@example.fr", f"Client{i % 200}+x@example.fr", f"client{i % 200}+y@example.fr"][
                    i // 200
                ]
                raw = make_mail(
                    f"C <{who}>", DIRECTOR, "Réclamation", f"n {i}", extra_headers={"Authentication-Results": RESULTS}
                )
            else:
                raw = make_mail(
                    f"Alice <{DIRECTOR}>", f"x{i}@elsewhere.example", f"TR: [RECLAMATION] promo {i}", FORWARD
                )
            office.mailbox.deliver(raw)
        started = time.process_time()
        office.cycle(timedelta(seconds=1))
        return (time.process_time() - started) / 600 * 1000


def per_call_us(call: Callable[[int], object], times: int) -> float:
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        for i in range(times):
            call(i)
        runs.append((time.perf_counter() - started) / times * 1e6)
    return statistics.median(runs)


def counts(url: str, n: int, label: str) -> None:
    store = Store.open(url)
    now = datetime.now(UTC)
    with store.unit() as unit:
        for i in range(n):
            draft = OutgoingDraft(
                f"{uuid.uuid4().hex}@x", None, "acknowledgement", f"p{i % (n // 3)}@example.fr", "s", b"r"
            )
            unit.queue(draft, now)
    since = now - timedelta(hours=1)
    with store.unit() as unit:
        one = per_call_us(lambda i: unit.acknowledgements_since(mailbox_key(f"p{i}@example.fr"), since), 2000)
        total = per_call_us(lambda i: unit.acknowledgements_since(None, since, at_most=500), 200)
        alerts = per_call_us(lambda i: unit.queued_since("suspicious_notice", since), 2000)
    store.close()
    print(
        f"{label}, {n} acknowledged today: per mailbox {one:.0f} us, in all up to 500 {total:.0f} us, alerts today {alerts:.0f} us"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=5)
    args = parser.parse_args()
    for kind in ("claims", "forged"):
        print(f"cycle, {kind}: {statistics.median(cycle_cpu_ms(kind) for _ in range(args.cycles)):.2f} CPU ms per mail")
    print(f"mailbox_key: {per_call_us(lambda i: mailbox_key(f'Lea.Martin+{i}@googlemail.com'), 50000):.1f} us")
    raw = f"Authentication-Results: {RESULTS}\r\nFrom: Lea <lea@example.fr>\r\nTo: a@b.example\r\nSubject: x\r\n\r\nbody\r\n".encode()
    mail = parse(raw)
    print(
        f"dmarc_failure: {per_call_us(lambda i: dmarc_failure(mail, [TRUSTED]), 5000):.1f} us (parse of that mail: {per_call_us(lambda i: parse(raw), 2000):.0f} us)"
    )
    with tempfile.TemporaryDirectory() as d:
        for n in (10_000, 40_000):
            counts(f"sqlite:///{d}/c{n}.db", n, "SQLite")
        with PostgresServer(Path(d) / "pg") as pg:
            for n in (10_000, 40_000):
                counts(pg.create_database(f"c{n}"), n, "PostgreSQL")


if __name__ == "__main__":
    main()
