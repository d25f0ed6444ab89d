"""The inboxbot benchmark (issue 7): one command, its own Dovecot and SMTP sink, a printed table.

    python3 bench/run.py            # full sizes, about 7-9 minutes on the 2-core machine
    python3 bench/run.py --quick    # small sizes, about a minute (for CI)

Options: --runs N (repetitions of each timed measurement), --only throughput,poll,idle,register,
attachment (a subset), --write FILE (put the results table into FILE between the markers
`<!-- bench:results -->` and `<!-- /bench:results -->`), --json FILE (raw numbers), --profile DIR
(after the timed runs, run the product and the exports once more under py-spy and print where the
time goes; needs `pip install py-spy`), --keep (keep the temporary directory).

What is measured, and how, is described in BENCHMARKS.md. Every server and file lives in one
temporary directory under /tmp, removed at the end (unless --keep).
"""

# The result table and the seed rows read best one per line.
# ruff: noqa: E501

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import platform
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(BENCH))

import corpus  # noqa: E402
from servers import DovecotServer, SmtpSink  # noqa: E402  (they take their ports from free_port())

DIRECTOR = corpus.DIRECTOR
PYTHON = sys.executable
GNU_TIME = shutil.which("time", path="/usr/bin:/bin")

SIZES = {
    "full": dict(
        mails=1000, old=50_000, idle=20, cases=100_000, entries=500_000, attachment=30 * 1024 * 1024,
        runs=3, poll_runs=5, inprocess=20,
    ),
    "quick": dict(
        mails=100, old=2_000, idle=5, cases=2_000, entries=10_000, attachment=3 * 1024 * 1024,
        runs=1, poll_runs=2, inprocess=5,
    ),
}  # fmt: skip

TARGETS = {
    "ratio": 0.70,  # product >= 70% of the floor's throughput
    "poll": 1.20,  # incremental poll on 50,000 old mails within 20% of one on none
    "idle_median": 1.0,  # seconds
    "digest": 1.0,  # seconds at 100,000 cases
    "xlsx": 30.0,  # seconds at 100,000 cases
    "export_memory": 500.0,  # MB
    "attachment_factor": 4.0,  # extra peak memory, in multiples of the attachment's size
}


# --------------------------------------------------------------------------------------------
# Small tools
# --------------------------------------------------------------------------------------------


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def loadavg() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


@dataclass
class Stat:
    """Several measurements of one quantity: median and spread."""

    values: list[float] = field(default_factory=list)

    def add(self, value: float) -> None:
        self.values.append(value)

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else float("nan")

    def fmt(self, digits: int = 2, unit: str = "") -> str:
        if not self.values:
            return "-"
        if len(self.values) == 1:
            return f"{self.values[0]:.{digits}f}{unit}"
        return f"{self.median:.{digits}f}{unit} ({min(self.values):.{digits}f}–{max(self.values):.{digits}f})"


@dataclass
class Measured:
    seconds: float
    peak_mb: float
    code: int
    stdout: str
    stderr: str


def run_measured(
    command: Sequence[str],
    *,
    stdout_path: Path | None = None,
    timeout: float = 600,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> Measured:
    """Run a program and return its wall time and its own peak RSS.

    The peak comes from GNU time (`/usr/bin/time -f %M`), which forks the program from its own
    small process. Not from our own wait4(): Linux carries the parent's high-water RSS over fork
    and exec into the child's ru_maxrss, so a program started from this (large) process would
    report at least this process's size. Without /usr/bin/time, /proc/PID/status VmHWM is sampled.
    """
    out_handle = open(stdout_path, "wb") if stdout_path else subprocess.PIPE  # noqa: SIM115
    rss_file = Path(tempfile.mktemp(prefix="ibx-rss-"))
    if GNU_TIME:
        command = [GNU_TIME, "-q", "-f", "%M", "-o", str(rss_file), *command]
    start = time.monotonic()
    process = subprocess.Popen(command, stdout=out_handle, stderr=subprocess.PIPE, cwd=cwd, env=env)
    hwm_kb = 0
    stderr_chunks: list[bytes] = []
    stdout_chunks: list[bytes] = []

    def drain(stream: Any, into: list[bytes]) -> None:
        for chunk in iter(lambda: stream.read(65536), b""):
            into.append(chunk)

    readers = [threading.Thread(target=drain, args=(process.stderr, stderr_chunks), daemon=True)]
    if stdout_path is None:
        readers.append(threading.Thread(target=drain, args=(process.stdout, stdout_chunks), daemon=True))
    for reader in readers:
        reader.start()
    deadline = start + timeout
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            process.kill()
            pid, status, usage = os.wait4(process.pid, 0)
            break
        if not GNU_TIME:
            with contextlib.suppress(OSError, ValueError, StopIteration):
                status_text = Path(f"/proc/{process.pid}/status").read_text()
                hwm_kb = max(hwm_kb, int(next(x for x in status_text.splitlines() if x.startswith("VmHWM")).split()[1]))
        time.sleep(0.002)
    seconds = time.monotonic() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    for reader in readers:
        reader.join(5)
    if stdout_path:
        out_handle.close()  # type: ignore[union-attr]
    if GNU_TIME:
        with contextlib.suppress(OSError, ValueError, IndexError):
            hwm_kb = int(rss_file.read_text().split()[-1])
        rss_file.unlink(missing_ok=True)
    return Measured(
        seconds=seconds,
        peak_mb=hwm_kb / 1024,
        code=process.returncode,
        stdout=b"".join(stdout_chunks).decode("utf-8", "replace"),
        stderr=b"".join(stderr_chunks).decode("utf-8", "replace"),
    )


def inboxbot(config: Path, *args: str) -> list[str]:
    return [PYTHON, "-m", "inboxbot", "--config", str(config), *args]


class TimedSink(SmtpSink):
    """The SMTP sink of tests/servers.py, recording only when each mail was accepted.

    Skips the sink's own parsing of every mail (policy.default), which would otherwise compete
    for the two cores with the program being measured.
    """

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []
        self.sizes: list[int] = []
        self.recipients: list[str] = []

    def _record(self, envelope: Any) -> str:
        now = time.monotonic()
        with self._condition:
            self.times.append(now)
            self.sizes.append(len(envelope.content))
            self.recipients.append(",".join(envelope.rcpt_tos))
            self._condition.notify_all()
        return "250 2.0.0 OK: queued by the benchmark sink"

    def reset(self) -> None:
        with self._condition:
            self.times.clear()
            self.sizes.clear()
            self.recipients.clear()

    def count(self) -> int:
        with self._condition:
            return len(self.times)

    def wait_count(self, count: int, timeout: float) -> bool:
        with self._condition:
            return self._condition.wait_for(lambda: len(self.times) >= count, timeout)

    def last_time(self) -> float | None:
        with self._condition:
            return self.times[-1] if self.times else None


@dataclass
class Account:
    user: str
    password: str


class Bench:
    """The servers and the temporary directory shared by every measurement."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.dovecot = DovecotServer(root / "dovecot")
        self.sink = TimedSink()
        self.accounts: dict[str, Account] = {}

    def start(self) -> None:
        self.dovecot.start()
        self.sink.start()

    def stop(self) -> None:
        self.sink.stop()
        self.dovecot.stop()

    def account(self, name: str) -> Account:
        if name not in self.accounts:
            account = Account(name, f"pw-{name}-{random.randrange(10**9)}")
            self.dovecot.add_user(account.user, account.password)
            self.accounts[name] = account
        return self.accounts[name]

    def client(self, account: Account) -> Any:
        return self.dovecot.client(account.user, account.password, timeout=300)

    def fill(
        self,
        account: Account,
        mails: Iterator[tuple[bytes, datetime]],
        flags: Sequence[bytes] = (),
        chunk_bytes: int = 8 << 20,
    ) -> int:
        """MULTIAPPEND the mails to INBOX in chunks of about `chunk_bytes`; returns how many.

        Then open INBOX read-write once, as the director's mail client does: Dovecot moves the
        mails from maildir new/ to cur/ (a read-only EXAMINE never does, and would rescan new/).
        """
        count = 0
        with self.client(account) as client:
            batch: list[dict[str, Any]] = []
            size = 0
            for raw, when in mails:
                batch.append({"msg": raw, "date": when, "flags": tuple(flags)})
                size += len(raw)
                if size >= chunk_bytes or len(batch) >= 2000:
                    client.multiappend("INBOX", batch)
                    count += len(batch)
                    batch, size = [], 0
            if batch:
                client.multiappend("INBOX", batch)
                count += len(batch)
            client.select_folder("INBOX")
        return count

    def config(
        self,
        name: str,
        account: Account,
        *,
        ingest_since: str | None = None,
        poll_interval: int = 60,
        database: Path | None = None,
    ) -> Path:
        """A config in "dedicated" mode for `account`, with its own database and archive."""
        directory = self.root / "configs" / name
        if directory.exists():
            shutil.rmtree(directory)
        directory.mkdir(parents=True)
        database = database or directory / "inboxbot.db"
        imap_extra = f"poll_interval = {poll_interval}\n"
        if ingest_since:
            imap_extra += f'ingest_since = "{ingest_since}"\n'
        path = directory / "config.toml"
        path.write_text(
            f"""
[organisation]
name = "Cafémétrie"
timezone = "Europe/Paris"

[imap]
host = "{self.dovecot.host}"
port = {self.dovecot.port}
security = "plain"
username = "{account.user}"
password = "{account.password}"
inbox_folder = "INBOX"
mode = "dedicated"
{imap_extra}
[smtp]
host = "127.0.0.1"
port = {self.sink.port}
security = "plain"
from_address = "{DIRECTOR}"
from_name = "Cafémétrie"

[director]
addresses = ["{DIRECTOR}"]
digest_time = "08:00"

[database]
url = "sqlite:///{database}"

[storage]
archive_dir = "archive"
retention_years = 3
""",
            encoding="utf-8",
        )
        path.chmod(0o600)
        return path


# --------------------------------------------------------------------------------------------
# 1-3. Throughput: the floor against the product
# --------------------------------------------------------------------------------------------


def bench_throughput(bench: Bench, size: dict[str, Any], results: dict[str, Any]) -> None:
    count, runs = size["mails"], size["runs"]
    log(f"throughput: generating {count} mails (French mix)")
    mails = corpus.MixGenerator(seed=7).mails(count)
    kinds: dict[str, int] = {}
    for mail in mails:
        kinds[mail.kind] = kinds.get(mail.kind, 0) + 1
    total_bytes = sum(len(m.raw) for m in mails)
    account = bench.account("mix")
    started = time.monotonic()
    bench.fill(account, ((m.raw, m.internaldate) for m in mails))
    log(f"throughput: {count} mails ({total_bytes / 1e6:.1f} MB) appended in {time.monotonic() - started:.1f} s")
    floor_cmd = [
        PYTHON, str(BENCH / "floor.py"), bench.dovecot.host, str(bench.dovecot.port),
        account.user, account.password, str(bench.sink.port), "200",
    ]  # fmt: skip
    # Warm-up (not counted): Dovecot's index and cache files, the page cache, imports.
    bench.sink.reset()
    warm = run_measured(floor_cmd)
    if warm.code != 0:
        raise RuntimeError(f"the floor failed:\n{warm.stderr[-3000:]}")

    floor_rate, product_rate, ratio = Stat(), Stat(), Stat()
    # The issue times the product "from first fetch to the last acknowledgement": start-up apart.
    floor_fetch_rate, product_fetch_rate, fetch_ratio = Stat(), Stat(), Stat()
    floor_time, product_time, floor_mem, product_mem, product_exit = Stat(), Stat(), Stat(), Stat(), Stat()
    acks = to_director = 0
    expected = kinds.get("plain", 0) + kinds.get("attachment", 0)  # a case and an acknowledgement each
    product_runs = Stat()
    summaries: list[str] = []
    floor_detail: dict[str, float] = {}
    product_summary = ""
    for run in range(runs):
        acks = 0
        # The floor
        bench.sink.reset()
        start = time.monotonic()
        measured = run_measured(floor_cmd)
        if measured.code != 0:
            raise RuntimeError(f"the floor failed:\n{measured.stderr[-3000:]}")
        floor_detail = json.loads(measured.stdout.strip().splitlines()[-1])
        last = bench.sink.last_time() or time.monotonic()
        f_seconds = last - start
        f_fetch_seconds = last - floor_detail["first_fetch_monotonic"]
        floor_fetch_rate.add(count / f_fetch_seconds)
        floor_time.add(f_seconds)
        floor_rate.add(count / f_seconds)
        floor_mem.add(measured.peak_mb)
        # The product, on a fresh database and archive
        # `run --once` is repeated while it leaves acknowledgements unsent (as the daemon's next
        # cycles would); the time runs to the last acknowledgement of the last one.
        config = bench.config(f"product-{run}", account, ingest_since="2000-01-01", poll_interval=3600)
        bench.sink.reset()
        start = time.monotonic()
        invocations = 0
        peak = 0.0
        first_fetch: float | None = None
        while True:
            measured = run_measured(inboxbot(config, "run", "--once"), cwd=config.parent)
            invocations += 1
            if first_fetch is None:
                first_fetch = first_fetch_in(measured.stderr)
            if measured.code != 0:
                raise RuntimeError(f"inboxbot run --once failed:\n{measured.stderr[-3000:]}")
            peak = max(peak, measured.peak_mb)
            summaries.append(re.sub(r" \(\d{4}-\d{4}[^)]*\)", "", measured.stdout.strip()))
            sent_now = bench.sink.count()
            if sent_now >= expected or invocations >= 5 or sent_now == acks:
                acks = sent_now
                break
            acks = sent_now
        product_summary = " + ".join(summaries[-invocations:])
        to_director = sum(1 for r in bench.sink.recipients if DIRECTOR in r)
        last = bench.sink.last_time() or time.monotonic()
        p_seconds = last - start
        if first_fetch is None:
            raise RuntimeError(f"no 'first met' line in the product's log:\n{measured.stderr[-3000:]}")
        product_fetch_rate.add(count / (last - first_fetch))
        fetch_ratio.add(f_fetch_seconds / (last - first_fetch))
        product_time.add(p_seconds)
        product_exit.add(measured.seconds)
        product_rate.add(count / p_seconds)
        product_mem.add(peak)
        product_runs.add(invocations)
        ratio.add((count / p_seconds) / (count / f_seconds))
        log(
            f"throughput run {run + 1}/{runs}: floor {count / f_seconds:.0f} mail/s, "
            f"product {count / p_seconds:.1f} mail/s; from the first fetch {floor_fetch_rate.values[-1]:.0f} "
            f"and {product_fetch_rate.values[-1]:.1f} mail/s ({acks} mails sent, {to_director} of them to the director; {product_summary})"
        )
    results["throughput"] = {
        "mails": count,
        "mix": kinds,
        "megabytes": total_bytes / 1e6,
        "floor_rate": floor_rate,
        "product_rate": product_rate,
        "ratio": ratio,
        "floor_fetch_rate": floor_fetch_rate,
        "product_fetch_rate": product_fetch_rate,
        "fetch_ratio": fetch_ratio,
        "floor_seconds": floor_time,
        "product_seconds": product_time,
        "product_exit_seconds": product_exit,
        "floor_peak_mb": floor_mem,
        "product_peak_mb": product_mem,
        "product_acks": acks,
        "expected_acks": expected,
        "to_director": to_director,
        "product_invocations": product_runs,
        "product_summary": product_summary,
        "floor_detail": floor_detail,
        "ack_bytes": statistics.median(bench.sink.sizes) if bench.sink.sizes else 0,
        "account": account,
    }


# --------------------------------------------------------------------------------------------
# 4. Incremental poll: 50,000 old mails against none
# --------------------------------------------------------------------------------------------


_FIRST_MET = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) INFO folder \S+: first met; reading", re.M)


def first_fetch_in(stderr: str) -> float | None:
    """When (monotonic clock) the product began reading its first folder, from its log line.

    The log's time is local wall-clock time to the millisecond; it is brought onto the monotonic
    clock, which the sink and the floor use, by the offset between the two clocks now."""
    found = _FIRST_MET.search(stderr)
    if found is None:
        return None
    wall = datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
    return wall - (time.time() - time.monotonic())


def old_mails(count: int) -> Iterator[tuple[bytes, datetime]]:
    templates = corpus.old_mail_templates(100)
    start = datetime.now(UTC) - timedelta(days=5 * 365)
    step = timedelta(days=5 * 365 - 30) / max(count, 1)
    for index in range(count):
        yield corpus.stamp(templates[index % len(templates)], index), start + step * index


def inprocess_cycles(config: Path, repeat: int) -> dict[str, Stat]:
    """Pipeline.poll alone on the daemon's kept connections (one per folder), and whole cycles as
    the daemon runs them (same connections, follow-up, outbox)."""
    from inboxbot.bootstrap import build
    from inboxbot.cli.daemon import Connections
    from inboxbot.config import load
    from inboxbot.procedure.pipeline import CycleReport, Pipeline

    app = build(load(config))
    poll_only, cycle = Stat(), Stat()
    connections = Connections(app)
    inbox = app.settings.imap.inbox_folder
    try:
        pipeline = Pipeline(app)
        pipeline.poll(connections(inbox), CycleReport(), mailbox_for=connections)  # warm-up
        for _ in range(repeat):
            start = time.perf_counter()
            pipeline.poll(connections(inbox), CycleReport(), mailbox_for=connections)
            poll_only.add((time.perf_counter() - start) * 1000)
        for _ in range(repeat):
            start = time.perf_counter()
            report = CycleReport()
            pipeline.poll(connections(inbox), report, mailbox_for=connections)
            pipeline.follow_up(report)
            pipeline.flush_outbox(report)
            cycle.add((time.perf_counter() - start) * 1000)
    finally:
        connections.close()
        app.close()
    return {"poll_ms": poll_only, "cycle_ms": cycle}


def bench_poll(bench: Bench, size: dict[str, Any], results: dict[str, Any]) -> None:
    count = size["old"]
    old, empty = bench.account("old"), bench.account("empty")
    log(f"poll: filling a mailbox with {count} old mails (MULTIAPPEND)")
    started = time.monotonic()
    filled = bench.fill(old, old_mails(count), flags=[b"\\Seen"])  # old mail has been read
    fill_seconds = time.monotonic() - started
    time.sleep(2)  # let Dovecot's maildir timestamps settle (it rescans a folder changed in the last second)
    log(f"poll: {filled} mails appended in {fill_seconds:.1f} s ({filled / fill_seconds:.0f} mail/s)")
    configs = {"old": bench.config("poll-old", old), "empty": bench.config("poll-empty", empty)}
    first: dict[str, Measured] = {}
    for name, config in configs.items():  # first meeting: records the baseline, reads nothing old
        first[name] = run_measured(inboxbot(config, "run", "--once"), cwd=config.parent)
        if first[name].code != 0:
            raise RuntimeError(f"inboxbot run --once failed:\n{first[name].stderr[-3000:]}")
    stats = {name: Stat() for name in configs}
    peaks = {name: Stat() for name in configs}
    for _ in range(size["poll_runs"]):
        for name, config in configs.items():  # alternate, so a drift in load hits both alike
            measured = run_measured(inboxbot(config, "run", "--once"), cwd=config.parent)
            if measured.code != 0 or not measured.stdout.startswith("0 mail(s) read"):
                raise RuntimeError(f"unexpected incremental poll: {measured.stdout}\n{measured.stderr[-3000:]}")
            stats[name].add(measured.seconds)
            peaks[name].add(measured.peak_mb)
    ratio = Stat([o / e for o, e in zip(stats["old"].values, stats["empty"].values, strict=True)])
    version = run_measured([PYTHON, "-m", "inboxbot", "--version"])
    import_command = [
        PYTHON,
        "-c",
        "import inboxbot.cli.main, inboxbot.bootstrap, inboxbot.procedure.pipeline, inboxbot.cli.daemon",
    ]
    imports = Stat([run_measured(import_command).seconds for _ in range(3)])
    inprocess = {name: inprocess_cycles(config, size["inprocess"]) for name, config in configs.items()}
    results["poll"] = {
        "old": count,
        "fill_rate": filled / fill_seconds,
        "first_old": first["old"].seconds,
        "first_empty": first["empty"].seconds,
        "old_seconds": stats["old"],
        "empty_seconds": stats["empty"],
        "old_peak_mb": peaks["old"],
        "ratio": ratio,
        "version_seconds": version.seconds,
        "import_seconds": imports,
        "inprocess": inprocess,
    }
    log(
        f"poll: run --once {stats['old'].fmt(2, ' s')} on {count} old, {stats['empty'].fmt(2, ' s')} on none; "
        f"Pipeline.poll {inprocess['old']['poll_ms'].fmt(1, ' ms')} / {inprocess['empty']['poll_ms'].fmt(1, ' ms')}"
    )


# --------------------------------------------------------------------------------------------
# 5. Latency of an acknowledgement while the daemon idles
# --------------------------------------------------------------------------------------------


def bench_idle(bench: Bench, size: dict[str, Any], results: dict[str, Any]) -> None:
    account = bench.account("idle")
    config = bench.config("idle", account, poll_interval=3600)  # only IDLE can make it react in time
    daemon_log = config.parent / "daemon.log"
    generator = corpus.MixGenerator(seed=21)
    delays = Stat()
    timeouts = 0
    with open(daemon_log, "wb") as handle:
        daemon = subprocess.Popen(inboxbot(config, "run"), stdout=handle, stderr=subprocess.STDOUT, cwd=config.parent)
    try:
        deadline = time.monotonic() + 60
        while "inboxbot running" not in daemon_log.read_text(errors="replace"):
            if daemon.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the daemon did not start:\n{daemon_log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.05)
        time.sleep(2.0)  # let the first cycle end and the watcher enter IDLE
        rng = random.Random(5)
        with bench.client(account) as client:
            for index in range(size["idle"]):
                raw = generator.one("plain", datetime.now(UTC))
                bench.sink.reset()
                start = time.monotonic()
                client.append("INBOX", raw)
                if bench.sink.wait_count(1, timeout=20):
                    delays.add(bench.sink.times[0] - start)
                else:
                    timeouts += 1
                    log(f"idle: no acknowledgement within 20 s for mail {index + 1}")
                time.sleep(rng.uniform(0.4, 1.0))  # the cycle ends; the next mail finds the daemon idle
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(30)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
    values = sorted(delays.values)
    p95 = values[min(len(values) - 1, max(0, round(0.95 * len(values)) - 1))] if values else float("nan")
    results["idle"] = {"delays": delays, "p95": p95, "timeouts": timeouts, "count": size["idle"]}
    log(f"idle: median {delays.median:.3f} s, p95 {p95:.3f} s over {len(values)} mails, {timeouts} timeouts")


# --------------------------------------------------------------------------------------------
# 6. The register at 100,000 cases
# --------------------------------------------------------------------------------------------

LONG_COMMAND = 60.0  # seconds: a register command slower than this is run once only
ACK_RAW_BYTES = 4400  # about the size of the product's acknowledgement (text + HTML, QP)


def seed_register(url: str, cases: int, entries: int) -> dict[str, int]:
    """Fill a fresh database: `cases` cases and `entries` log entries, with SQLAlchemy core inserts.

    Per case: the claimant's mail, our acknowledgement in the outbox (sent, with its raw bytes),
    and history events; mails, outgoing mails and events together make `entries`
    (2 mails + 1 outgoing + 2 events per case at 100,000 cases / 500,000 entries). One case in
    ten has an action. Received evenly from 2022-01-01 to yesterday; open are the cases received
    in the last 45 days and one older case in 50 (forgotten, overdue); the rest are closed.
    """
    from sqlalchemy import insert

    from inboxbot.store.models import ActionRow, CaseCounterRow, CaseEventRow, CaseRow, MailRow, OutboxRow
    from inboxbot.store.repository import Store

    store = Store.open(url)
    rng = random.Random(1)
    per_case = max(entries // cases, 3)
    mails_per_case = max(1, (per_case - 1) // 2)
    events_per_case = max(1, per_case - 1 - mails_per_case)
    ack_raw = (corpus.TO.encode() + b"\r\n" + b"=C3=A9 Accus=C3=A9 de r=C3=A9ception " * 200)[:ACK_RAW_BYTES]
    now = datetime.now(UTC).replace(microsecond=0)
    first = datetime(2022, 1, 1, 8, tzinfo=UTC)
    step = (now - timedelta(days=1) - first) / cases
    recent = now - timedelta(days=45)
    counters: dict[int, int] = {}
    counts = {"cases": 0, "mails": 0, "outbox": 0, "events": 0, "actions": 0, "open": 0}
    chunk = 5000
    case_id = 0
    while case_id < cases:
        rows_cases, rows_mails, rows_outbox, rows_events, rows_actions = [], [], [], [], []
        for _ in range(min(chunk, cases - case_id)):
            case_id += 1
            received = first + step * (case_id - 1) + timedelta(seconds=rng.randint(0, 59))
            year = received.year
            seq = counters[year] = counters.get(year, 0) + 1
            training = rng.choice(corpus.TRAININGS)
            claimant = f"claimant{case_id}@{rng.choice(corpus.DOMAINS)}"
            subject = rng.choice(corpus.SUBJECTS).format(t=training, d="12/03")
            closed = received < recent and case_id % 50 != 0
            counts["open"] += not closed
            rows_cases.append(
                {
                    "id": case_id, "number": f"{year}-{seq:04d}", "kind": "reclamation",
                    "status": "closed" if closed else "open", "channel": "email", "claimant": claimant,
                    "claimant_name": f"{rng.choice(corpus.FIRST)} {rng.choice(corpus.LAST)}", "subject": subject,
                    "received_at": received, "acknowledge_due": (received + timedelta(days=21)).date(),
                    "response_due": (received + timedelta(days=30)).date(),
                    "acknowledged_at": received + timedelta(minutes=1),
                    "responded_at": received + timedelta(days=10) if closed else None,
                    "closed_at": received + timedelta(days=12) if closed else None,
                    "nature": rng.choice(["organisationnelle", "humaine", "materielle", None]),
                    "priority": rng.choice(["basse", "normale", "haute", None]),
                    "rules_hit": '["mode-dedie"]', "created_at": received + timedelta(seconds=30),
                    "stakeholder": "apprenant", "training": training,
                    "description": " ".join(corpus.SENTENCES[:3]).format(t=training, d="12/03", n=1234)[:500],
                    "transmitter": None, "extended_due": None, "extension_reason": "", "dismissed": False,
                    "feedback_requested_at": None, "satisfaction_mark": rng.choice([None, 3, 4, 5]) if closed else None,
                    "satisfaction_comment": "", "satisfaction_at": None,
                }
            )  # fmt: skip
            for m in range(mails_per_case):
                at = min(received + timedelta(days=m * 3), now)
                rows_mails.append(
                    {
                        "message_key": f"<m{case_id}.{m}@{claimant.split('@')[1]}>",
                        "message_id": f"m{case_id}.{m}@{claimant.split('@')[1]}", "case_id": case_id,
                        "direction": "in", "folder": "INBOX", "uidvalidity": 1, "uid": case_id * 4 + m,
                        "received_at": at, "header_date": at, "from_address": claimant, "from_name": "",
                        "to_addresses": DIRECTOR, "subject": subject if m == 0 else f"RE: {subject}",
                        "summary": " ".join(corpus.SENTENCES[m : m + 4]).format(t=training, d="12/03", n=77)[:500],
                        "archive_path": f"{year}/{received.month:02d}/{case_id:064x}.eml", "sha256": f"{case_id:064x}",
                        "size": 5200, "outcome": "opened" if m == 0 else "attached", "reason": "",
                        "automatic": None, "rules_hit": "[]", "created_at": at + timedelta(seconds=20),
                    }
                )  # fmt: skip
            rows_outbox.append(
                {
                    "message_id": f"inboxbot.{case_id:032x}@cafemetrie.example", "case_id": case_id,
                    "purpose": "acknowledgement", "recipient": claimant,
                    "subject": f"Accusé de réception [Dossier {year}-{seq:04d}]", "raw": ack_raw, "status": "sent",
                    "attempts": 1, "next_attempt_at": received, "last_error": "",
                    "created_at": received + timedelta(seconds=30), "sent_at": received + timedelta(minutes=1),
                }
            )  # fmt: skip
            types = ["opened", "sent:acknowledgement", "mail:in", "closed", "note"]
            for e in range(events_per_case):
                rows_events.append(
                    {
                        "case_id": case_id, "at": received + timedelta(minutes=e), "actor": "inboxbot",
                        "type": types[e % len(types)], "detail": claimant,
                    }
                )  # fmt: skip
            if case_id % 10 == 0:
                rows_actions.append(
                    {
                        "case_id": case_id, "seq": 1, "kind": "corrective",
                        "text": "Vérifier la réservation des salles une semaine avant chaque session.",
                        "owner": DIRECTOR, "due": (received + timedelta(days=20)).date(), "status": "todo",
                        "result": "", "created_at": received, "updated_at": received,
                    }
                )  # fmt: skip
        with store.engine.begin() as connection:
            connection.execute(insert(CaseRow.__table__), rows_cases)
            connection.execute(insert(MailRow.__table__), rows_mails)
            connection.execute(insert(OutboxRow.__table__), rows_outbox)
            connection.execute(insert(CaseEventRow.__table__), rows_events)
            if rows_actions:
                connection.execute(insert(ActionRow.__table__), rows_actions)
        counts["cases"] += len(rows_cases)
        counts["mails"] += len(rows_mails)
        counts["outbox"] += len(rows_outbox)
        counts["events"] += len(rows_events)
        counts["actions"] += len(rows_actions)
    with store.engine.begin() as connection:
        connection.execute(insert(CaseCounterRow.__table__), [{"year": y, "last": n} for y, n in counters.items()])
    store.close()
    return counts


def cli_commands() -> tuple[set[str], str, str]:
    """The subcommands the CLI has right now, and the help of `register export` and `report`."""
    top = run_measured([PYTHON, "-m", "inboxbot", "--help"]).stdout
    match = re.search(r"\{([a-z,_-]+)\}", top)
    commands = set(match.group(1).split(",")) if match else set()
    export_help = run_measured([PYTHON, "-m", "inboxbot", "register", "export", "--help"]).stdout
    report_help = run_measured([PYTHON, "-m", "inboxbot", "report", "--help"]).stdout if "report" in commands else ""
    return commands, export_help, report_help


def bench_register(bench: Bench, size: dict[str, Any], results: dict[str, Any]) -> None:
    directory = bench.root / "register"
    directory.mkdir()
    database = directory / "register.db"
    log(f"register: seeding {size['cases']} cases and {size['entries']} log entries")
    started = time.monotonic()
    counts = seed_register(f"sqlite:///{database}", size["cases"], size["entries"])
    seed_seconds = time.monotonic() - started
    log(f"register: seeded in {seed_seconds:.1f} s ({database.stat().st_size / 1e6:.0f} MB): {counts}")
    config = bench.config("register", bench.account("register"), database=database)
    commands, export_help, report_help = cli_commands()
    busiest_year = datetime.now(UTC).year - 1  # a whole year
    out = directory / "out"
    out.mkdir()
    plan: list[tuple[str, list[str] | None, Path | None, str]] = [
        ("cases list", ["cases", "list"], out / "cases.txt", ""),
        ("register export --format json", ["register", "export", "--format", "json", "--output", str(out / "r.json")], None, ""),
        ("register export --format csv", ["register", "export", "--format", "csv", "--output", str(out / "r.csv")], None, ""),
    ]  # fmt: skip
    if "xlsx" in export_help:
        plan.append(
            ("register export --format xlsx", ["register", "export", "--format", "xlsx", "--output", str(out / "r.xlsx")], None, "")
        )  # fmt: skip
    else:
        plan.append(("register export --format xlsx", None, None, "not in the CLI yet"))
    if "digest" in commands:
        plan.append(("digest --print", ["digest", "--print"], out / "digest.txt", ""))
    else:
        plan.append(("digest --print", None, None, "not in the CLI yet"))
    if "report" in commands:
        extension = next((e for e in ("pdf", "docx", "xlsx", "html", "md") if e in report_help.lower()), "txt")
        report_args = ["report", "--year", str(busiest_year), "--output", str(out / f"report.{extension}")]
        plan.append((f"report --year {busiest_year}", report_args, None, ""))
    else:
        plan.append((f"report --year {busiest_year}", None, None, "not in the CLI yet"))
    rows: dict[str, dict[str, Any]] = {}
    for label, args, stdout_path, why in plan:
        if args is None:
            rows[label] = {"skipped": why}
            log(f"register: {label}: skipped ({why})")
            continue
        seconds, peaks = Stat(), Stat()
        error = ""
        for _ in range(size["runs"]):
            measured = run_measured(inboxbot(config, *args), stdout_path=stdout_path, cwd=config.parent)
            if measured.code != 0:
                error = (measured.stderr.strip().splitlines() or ["?"])[-1]
                break
            seconds.add(measured.seconds)
            peaks.add(measured.peak_mb)
            # Keeps a full run within about ten minutes: long commands are repeated less.
            if measured.seconds > LONG_COMMAND or (len(seconds.values) >= 2 and measured.seconds > LONG_COMMAND / 3):
                break
        output = stdout_path or Path(args[-1])
        rows[label] = {
            "seconds": seconds,
            "peak_mb": peaks,
            "error": error,
            "output_mb": output.stat().st_size / 1e6 if output.exists() else 0.0,
            "args": args,
        }
        log(
            f"register: {label}: {seconds.fmt(2, ' s')}, peak {peaks.fmt(0, ' MB')}{' ERROR ' + error if error else ''}"
        )
    if "digest" in commands:
        rows["digest, in-process `build_digest` (start-up excluded)"] = inprocess_digest(config, size["runs"] + 1)
    results["register"] = {
        "counts": counts,
        "seed_seconds": seed_seconds,
        "db_mb": database.stat().st_size / 1e6,
        "rows": rows,
        "config": config,
    }


def inprocess_digest(config: Path, repeat: int) -> dict[str, Any]:
    """The digest computed in this process, without the program's start-up (imports, migrations)."""
    try:
        from inboxbot.bootstrap import build
        from inboxbot.config import load
        from inboxbot.procedure.digest import build_digest

        app = build(load(config))
        seconds = Stat()
        try:
            build_digest(app, datetime.now(UTC))  # warm-up: SQLite page cache, templates
            for _ in range(repeat):
                start = time.perf_counter()
                build_digest(app, datetime.now(UTC))
                seconds.add(time.perf_counter() - start)
        finally:
            app.close()
    except Exception as exc:  # noqa: BLE001 - a command being written by others right now
        return {"skipped": f"could not call build_digest: {type(exc).__name__}: {exc}"}
    log(f"register: digest in-process: {seconds.fmt(3, ' s')}")
    return {"seconds": seconds, "peak_mb": Stat(), "error": "", "output_mb": 0.0}


# --------------------------------------------------------------------------------------------
# 7. One mail with a 30 MB attachment
# --------------------------------------------------------------------------------------------


def bench_attachment(bench: Bench, size: dict[str, Any], results: dict[str, Any]) -> None:
    attachment = size["attachment"]
    big, small = bench.account("big"), bench.account("small")
    raw = corpus.large_attachment_mail(attachment)
    now = datetime.now(UTC)
    bench.fill(big, iter([(raw, now)]))
    bench.fill(small, iter([(corpus.MixGenerator(seed=9).one("plain", now), now)]))
    peaks = {"big": Stat(), "small": Stat()}
    seconds = {"big": Stat(), "small": Stat()}
    for run in range(size["runs"]):
        for name, account in (("small", small), ("big", big)):
            config = bench.config(f"attach-{name}-{run}", account, ingest_since="2000-01-01")
            bench.sink.reset()
            measured = run_measured(inboxbot(config, "run", "--once"), cwd=config.parent)
            if measured.code != 0 or not bench.sink.wait_count(1, 5):
                raise RuntimeError(f"one mail with an attachment: {measured.stdout}\n{measured.stderr[-3000:]}")
            peaks[name].add(measured.peak_mb)
            seconds[name].add(measured.seconds)
    extra = Stat([b - s for b, s in zip(peaks["big"].values, peaks["small"].values, strict=True)])
    factor = Stat([e * 1024 * 1024 / attachment for e in extra.values])
    results["attachment"] = {
        "attachment_mb": attachment / 1024 / 1024,
        "raw_mb": len(raw) / 1024 / 1024,
        "peak_big": peaks["big"],
        "peak_small": peaks["small"],
        "seconds_big": seconds["big"],
        "extra_mb": extra,
        "factor": factor,
    }
    log(f"attachment: peak {peaks['big'].fmt(0, ' MB')} against {peaks['small'].fmt(0, ' MB')} for a 5 KB mail")


# --------------------------------------------------------------------------------------------
# Profiling (optional)
# --------------------------------------------------------------------------------------------


def top_frames(raw_path: Path, limit: int = 25) -> str:
    """Where the time goes in a py-spy raw (collapsed) profile, by function: own and total."""
    own: dict[str, int] = {}
    total: dict[str, int] = {}
    samples = 0

    def function(frame: str) -> str:
        frame = re.sub(r":\d+\)$", ")", frame)  # one entry per function, not per line
        frame = re.sub(r"/[^ ]*/(site|dist)-packages/", "", frame)
        frame = re.sub(r"/[^ ]*/lib/python3[.0-9]*/", "", frame)
        return frame.replace(f"{ROOT}/", "")

    parsed: list[tuple[list[str], int]] = []
    per_thread: dict[str, int] = {}
    for line in raw_path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = stack.split(";")
        parsed.append((frames, int(count_text)))
        per_thread[frames[0]] = per_thread.get(frames[0], 0) + int(count_text)
    # Recorded with --threads: keep the main thread (the busiest), not the idle helper threads.
    main_thread = max(per_thread, key=lambda t: per_thread[t]) if per_thread else ""
    for frames, count in parsed:
        if frames[0].startswith("thread (") or frames[0].startswith("process "):
            if frames[0] != main_thread:
                continue
            frames = frames[1:]
        if not frames:
            continue
        samples += count
        frames = [function(f) for f in frames]
        own[frames[-1]] = own.get(frames[-1], 0) + count
        for frame in set(frames):
            total[frame] = total.get(frame, 0) + count
    if not samples:
        return "(no samples)"
    lines = [f"{samples} samples of the main thread (wall clock, waiting included); own time by function:"]
    for frame, count in sorted(own.items(), key=lambda kv: -kv[1])[:limit]:
        lines.append(f"  {100 * count / samples:5.1f}%  {frame}")
    lines.append("total time (inboxbot functions):")
    ours = [(f, c) for f, c in total.items() if "inboxbot/" in f and "<module>" not in f]
    for frame, count in sorted(ours, key=lambda kv: -kv[1])[:limit]:
        lines.append(f"  {100 * count / samples:5.1f}%  {frame}")
    return "\n".join(lines)


PRODUCT_CATEGORIES = [  # first match wins, in this order
    ("start-up (imports, build, migrations) and exit", None),
    ("database (SQLAlchemy + SQLite)", "sqlalchemy/"),
    ("IMAP fetch (Mailbox.fetch)", "Mailbox.fetch"),
    ("archive: write + fsync (Archive.store*)", "Archive.store"),
    ("composing mails (outbox.compose)", "compose (inboxbot/outgoing/outbox.py"),
    ("rendering templates (Renderer.mail)", "Renderer.mail"),
    ("parsing (inboxbot.reading.parse)", "parse (inboxbot/reading/parse.py"),
    ("quoted-text stripping (quotes.new_text)", "new_text ("),
    ("rules, threading, decide (MailReader.read)", "MailReader.read"),
    ("SMTP sending (SmtpSender.send)", "SmtpSender"),
]


def product_categories(raw_path: Path) -> str:
    """The product's wall time by kind of work, from a py-spy raw profile recorded with --threads."""
    per: dict[str, int] = {}
    per_thread: dict[str, int] = {}
    stacks = []
    for line in raw_path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if stack and count_text.isdigit():
            stacks.append((stack, int(count_text)))
            thread = stack.split(";")[0]
            per_thread[thread] = per_thread.get(thread, 0) + int(count_text)
    if not per_thread:
        return "(no samples)"
    main_thread = max(per_thread, key=lambda t: per_thread[t])
    total = 0
    for stack, count in stacks:
        if not stack.startswith(main_thread):
            continue
        total += count
        name = "other"
        if "run_once (" not in stack:
            name = PRODUCT_CATEGORIES[0][0]
        else:
            name = next((n for n, key in PRODUCT_CATEGORIES[1:] if key and key in stack), "other")
        per[name] = per.get(name, 0) + count
    lines = ["wall time by kind of work:"]
    for name, count in sorted(per.items(), key=lambda kv: -kv[1]):
        lines.append(f"  {100 * count / total:5.1f}%  {name}")
    return "\n".join(lines)


def profile(bench: Bench, results: dict[str, Any], directory: Path) -> None:
    if shutil.which("py-spy") is None:
        log("profile: py-spy is not installed (pip install py-spy); skipped")
        return
    directory.mkdir(parents=True, exist_ok=True)
    jobs: list[tuple[str, list[str], Path]] = []
    if "throughput" in results:
        account = results["throughput"]["account"]
        config = bench.config("profile-product", account, ingest_since="2000-01-01", poll_interval=3600)
        jobs.append(("product", inboxbot(config, "run", "--once"), config.parent))
    if "register" in results:
        config = results["register"]["config"]
        for label, row in results["register"]["rows"].items():
            if "args" in row and "list" not in label:
                jobs.append((label.replace(" ", "_").replace("--", ""), inboxbot(config, *row["args"]), config.parent))
    for name, command, cwd in jobs:
        raw = directory / f"{name}.txt"
        subprocess.run(
            [
                "py-spy",
                "record",
                "--idle",
                "--threads",
                "--rate",
                "200",
                "--format",
                "raw",
                "--output",
                str(raw),
                "--",
                *command,
            ],
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        text = top_frames(raw) if raw.exists() else "(py-spy failed)"
        if name == "product" and raw.exists():
            text = product_categories(raw) + "\n" + text
        print(f"\n== profile of {name} ({raw}) ==\n{text}")


# --------------------------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------------------------


def verdict(ok: bool | None) -> str:
    return "—" if ok is None else ("**met**" if ok else "**missed**")


def machine() -> dict[str, str]:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
        platform.processor(),
    )  # fmt: skip
    mem_kb = int(
        next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
    )
    dovecot = subprocess.run(
        [shutil.which("dovecot") or "/usr/sbin/dovecot", "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    packages = []
    for name in (
        "IMAPClient",
        "mail-parser",
        "aiosmtplib",
        "aiosmtpd",
        "SQLAlchemy",
        "alembic",
        "Jinja2",
        "APScheduler",
        "XlsxWriter",
    ):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            packages.append(f"{name} {importlib.metadata.version(name)}")
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--short", "--", "inboxbot"], capture_output=True, text=True, check=False
    ).stdout.split("\n")
    dirty_files = [line[3:] for line in dirty if line.strip()]
    return {
        "date": datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "machine": f"{os.cpu_count()} cores ({cpu}), {mem_kb / 1024 / 1024:.1f} GiB RAM, {platform.system()} {platform.release()}",
        "versions": f"Python {platform.python_version()}, Dovecot {dovecot.split()[0] if dovecot else '?'}, " + ", ".join(packages),
        "code": f"inboxbot at {commit}" + (f" with uncommitted changes in {', '.join(dirty_files)}" if dirty_files else ""),
        "env": "inboxbot's bytecode compiled before measuring, as an installation has it (see main)",
    }  # fmt: skip


def table(results: dict[str, Any], mode: str, info: dict[str, str]) -> str:
    lines = [
        f"Run: `python3 bench/run.py{' --quick' if mode == 'quick' else ''}` — {info['date']}; "
        f"1-minute load {results['load_before']:.2f} before, highest seen {results['load_max']:.2f}, "
        f"{results['load_after']:.2f} after; total {results['total_seconds'] / 60:.1f} min.",
        f"Machine: {info['machine']}.",
        f"Versions: {info['versions']}.",
        f"Code: {info['code']}; {info['env']}.",
        "",
        "Medians, with (min–max) over the runs.",
        "",
        "| # | measurement | result | target | verdict |",
        "|---|---|---|---|---|",
    ]
    t = results.get("throughput")
    if t:
        mix = ", ".join(f"{v} {k}" for k, v in sorted(t["mix"].items()))
        runs = len(t["ratio"].values)
        lines += [
            f"| 1 | floor: imapclient + mail-parser + aiosmtplib, {t['mails']} mails ({t['megabytes']:.1f} MB: {mix}), {runs} run{'s' if runs > 1 else ''} | "
            f"{t['floor_rate'].fmt(0, ' mail/s')}; {t['floor_seconds'].fmt(2, ' s')}; peak {t['floor_peak_mb'].fmt(0, ' MB')} | | |",
            f"| 2 | product: `inboxbot run --once`, start to last mail accepted by the sink ({t['product_acks']} sent: {t['expected_acks']} expected acknowledgements"
            f"{', ' + str(t['to_director']) + ' to the director' if t['to_director'] else ''}"
            f"{'; `run --once` needed ' + t['product_invocations'].fmt(0) + ' times' if t['product_invocations'].median > 1 else ''}) | "
            f"{t['product_rate'].fmt(1, ' mail/s')}; {t['product_seconds'].fmt(2, ' s')}; peak {t['product_peak_mb'].fmt(0, ' MB')} | | |",
            f"| 3 | product / floor throughput, each from its first fetch to its last mail accepted (the issue's measure; start-up apart): {t['floor_fetch_rate'].fmt(0, ' mail/s')} and {t['product_fetch_rate'].fmt(1, ' mail/s')} | {t['fetch_ratio'].fmt(3)} | ≥ {TARGETS['ratio']:.2f} | {verdict(t['fetch_ratio'].median >= TARGETS['ratio'])} |",
            f"| 3b | the same, each from its process start (rows 1 and 2) | {t['ratio'].fmt(3)} | | — |",
        ]  # fmt: skip
    p = results.get("poll")
    if p:
        ip = p["inprocess"]
        lines += [
            f"| 4a | incremental `run --once` (nothing new), {p['old']:,} old mails | {p['old_seconds'].fmt(3, ' s')}; peak {p['old_peak_mb'].fmt(0, ' MB')} | | |",
            f"| 4b | incremental `run --once` (nothing new), empty mailbox | {p['empty_seconds'].fmt(3, ' s')} | | |",
            f"| 4c | ratio 4a / 4b | {p['ratio'].fmt(3)} | ≤ {TARGETS['poll']:.2f} | {verdict(p['ratio'].median <= TARGETS['poll'])} |",
            f"| 4d | of which process start-up: `python -m inboxbot --version`; importing cli+pipeline+daemon | {p['version_seconds']:.2f} s; {p['import_seconds'].fmt(2, ' s')} | | |",
            f"| 4e | in-process `Pipeline.poll` (the daemon's kept connections), {p['old']:,} old / empty | {ip['old']['poll_ms'].fmt(1, ' ms')} / {ip['empty']['poll_ms'].fmt(1, ' ms')} | ≤ {TARGETS['poll']:.2f}× | {verdict(ip['old']['poll_ms'].median <= TARGETS['poll'] * ip['empty']['poll_ms'].median)} |",
            f"| 4f | in-process daemon cycle (poll, follow-up, outbox), old / empty | {ip['old']['cycle_ms'].fmt(1, ' ms')} / {ip['empty']['cycle_ms'].fmt(1, ' ms')} | | |",
        ]  # fmt: skip
    i = results.get("idle")
    if i:
        n = len(i["delays"].values)
        lines.append(
            f"| 5 | APPEND → acknowledgement at the sink, daemon idling ({n} mails{', ' + str(i['timeouts']) + ' timeouts' if i['timeouts'] else ''}) | "
            f"median {i['delays'].median:.3f} s, p95 {i['p95']:.3f} s (min {min(i['delays'].values, default=float('nan')):.3f}, max {max(i['delays'].values, default=float('nan')):.3f}) | "
            f"median < {TARGETS['idle_median']:.0f} s | {verdict(i['delays'].median < TARGETS['idle_median'] and not i['timeouts'])} |"
        )  # fmt: skip
    r = results.get("register")
    if r:
        c = r["counts"]
        lines.append(
            f"| 6 | register: {c['cases']:,} cases ({c['open']:,} open), {c['mails'] + c['outbox'] + c['events']:,} log entries ({c['mails']:,} mails, "
            f"{c['outbox']:,} outgoing, {c['events']:,} events; SQLite {r['db_mb']:.0f} MB) | | | |"
        )  # fmt: skip
        for label, row in r["rows"].items():
            if "skipped" in row:
                lines.append(
                    f"| 6 | {label if label.startswith('digest,') else '`' + label + '`'} | skipped: {row['skipped']} | {target_text(label)} | — |"
                )
                continue
            if row["error"]:
                lines.append(f"| 6 | `{label}` | failed: {row['error'][:120]} | {target_text(label)} | **missed** |")
                continue
            if not row["peak_mb"].values:  # measured in this process
                lines.append(
                    f"| 6 | {label} | {row['seconds'].fmt(3, ' s')} | < {TARGETS['digest']:.0f} s | {verdict(row['seconds'].median < TARGETS['digest'])} |"
                )
                continue
            lines.append(
                f"| 6 | `{label}` | {row['seconds'].fmt(2, ' s')}; peak {row['peak_mb'].fmt(0, ' MB')}; output {row['output_mb']:.1f} MB | "
                f"{target_text(label)} | {verdict(target_ok(label, row))} |"
            )  # fmt: skip
    a = results.get("attachment")
    if a:
        lines.append(
            f"| 7 | one mail with a {a['attachment_mb']:.0f} MB attachment ({a['raw_mb']:.0f} MB raw): peak RSS of `run --once` | "
            f"{a['peak_big'].fmt(0, ' MB')} against {a['peak_small'].fmt(0, ' MB')} for a 5 KB mail: "
            f"+{a['extra_mb'].fmt(0, ' MB')} = {a['factor'].fmt(1, '×')} the attachment; {a['seconds_big'].fmt(2, ' s')} | "
            f"≤ {TARGETS['attachment_factor']:.0f}× | {verdict(a['factor'].median <= TARGETS['attachment_factor'])} |"
        )  # fmt: skip
    return "\n".join(lines)


def target_text(label: str) -> str:
    if label.startswith("digest"):
        return f"< {TARGETS['digest']:.0f} s, < {TARGETS['export_memory']:.0f} MB"
    if "xlsx" in label:
        return f"< {TARGETS['xlsx']:.0f} s, < {TARGETS['export_memory']:.0f} MB"
    if "export" in label:
        return f"< {TARGETS['export_memory']:.0f} MB"
    return ""


def target_ok(label: str, row: dict[str, Any]) -> bool | None:
    memory_ok = row["peak_mb"].median < TARGETS["export_memory"]
    if label.startswith("digest"):
        return row["seconds"].median < TARGETS["digest"] and memory_ok
    if "xlsx" in label:
        return row["seconds"].median < TARGETS["xlsx"] and memory_ok
    if "export" in label:
        return memory_ok
    return None


def write_results(path: Path, text: str) -> None:
    begin, end = "<!-- bench:results -->", "<!-- /bench:results -->"
    content = path.read_text(encoding="utf-8") if path.exists() else f"{begin}\n{end}\n"
    if begin not in content or end not in content:
        content += f"\n{begin}\n{end}\n"
    head, _, rest = content.partition(begin)
    _, _, tail = rest.partition(end)
    path.write_text(f"{head}{begin}\n{text}\n{end}{tail}", encoding="utf-8")


def to_json(value: Any) -> Any:
    if isinstance(value, Stat):
        return {"median": value.median, "values": value.values}
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    return str(value)


SECTIONS: dict[str, Callable[[Bench, dict[str, Any], dict[str, Any]], None]] = {
    "throughput": bench_throughput,
    "poll": bench_poll,
    "idle": bench_idle,
    "register": bench_register,
    "attachment": bench_attachment,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes, for CI")
    parser.add_argument("--runs", type=int, help="repetitions of each timed measurement")
    parser.add_argument("--only", help=f"comma-separated subset of: {','.join(SECTIONS)}")
    parser.add_argument("--write", type=Path, help="put the table into this Markdown file, between the markers")
    parser.add_argument("--json", type=Path, help="write the raw numbers here")
    parser.add_argument("--profile", type=Path, metavar="DIR", help="profile the product and exports with py-spy")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    for key in ("mails", "old", "idle", "cases", "entries", "attachment"):
        parser.add_argument(f"--{key}", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    mode = "quick" if args.quick else "full"
    size = dict(SIZES[mode])
    for key in ("mails", "old", "idle", "cases", "entries", "attachment"):
        if getattr(args, key) is not None:
            size[key] = getattr(args, key)
    if args.runs:
        size["runs"] = args.runs
        size["poll_runs"] = max(args.runs, size["poll_runs"])
    sections = args.only.split(",") if args.only else list(SECTIONS)
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")

    results: dict[str, Any] = {"load_before": loadavg(), "size": size}
    load_max = results["load_before"]
    started = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="ibx-bench-"))
    # Installed, inboxbot has its bytecode compiled (pip compiles it at install), as the libraries
    # have theirs. This machine sets PYTHONDONTWRITEBYTECODE=1, under which the editable checkout
    # would be compiled again at every start of every measured command (0.1 s each): its bytecode
    # is compiled first, into its __pycache__ folders (ignored by git), as `pip install` would.
    subprocess.run([PYTHON, "-m", "compileall", "-q", str(ROOT / "inboxbot"), str(BENCH)], check=False)
    bench = Bench(root)
    log(f"{mode} benchmark in {root}; 1-minute load {results['load_before']:.2f}")
    try:
        bench.start()
        for name in sections:
            SECTIONS[name](bench, size, results)
            load_max = max(load_max, loadavg())
        if args.profile:
            profile(bench, results, args.profile)
    finally:
        bench.stop()
        if args.keep:
            log(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    results["load_after"] = loadavg()
    results["load_max"] = max(load_max, results["load_after"])
    results["total_seconds"] = time.monotonic() - started
    text = table(results, mode, machine())
    print(text)
    if args.write:
        write_results(args.write, text)
    if args.json:
        args.json.write_text(json.dumps(to_json(results), indent=2, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
