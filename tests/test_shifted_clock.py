"""The shifted clock the suite is swept under (bench/shifted_clock.py, run by .ci/run) really shifts it.

If the preload stopped taking, or a timed wait hung under it again, the sweep would pass on the real
clock or never end: these tests keep it honest."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from shifted_clock import PARIS, next_monday  # noqa: E402

PROBE = """
import os, subprocess, sys, threading, time
from datetime import datetime
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")


def test_every_process_reads_the_shifted_clock_and_timed_waits_still_end():
    start = datetime(2026, 12, 24, 23, 59, tzinfo=PARIS)
    now = datetime.now(PARIS)
    assert start <= now < datetime(2026, 12, 25, 0, 5, tzinfo=PARIS), now
    child = subprocess.run([sys.executable, "-c", "import time; print(time.time())"], capture_output=True, text=True)
    assert abs(float(child.stdout) - time.time()) < 60  # the same clock, not one started afresh
    condition = threading.Condition()
    with condition:
        assert not condition.wait(0.05)  # libfaketime 0.9.10 with a shifted monotonic clock: forever
    time.sleep(0.05)  # and with the monotonic clock left real: EINVAL


def test_a_date_given_to_a_file_reads_back_as_given(tmp_path):
    # Tests backdate files (the archive's leftovers, Dovecot's password files) by the dates they read.
    written = tmp_path / "file"
    written.write_bytes(b"")
    given = written.stat().st_mtime - 7200
    os.utime(written, (given, given))
    assert written.stat().st_mtime == given
"""


@pytest.mark.servers  # builds a C library and runs a second pytest
def test_a_run_on_christmas_eve_at_23_59_sees_that_time_in_every_process(tmp_path: Path) -> None:
    probe = tmp_path / "test_probe.py"
    probe.write_text(PROBE, encoding="utf-8")
    # From the real clock, even when this suite itself runs under a shifted one.
    real = {name: value for name, value in os.environ.items() if name != "LD_PRELOAD" and "FAKETIME" not in name}
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "shifted_clock.py"), "--at", "2026-12-24 23:59"]
        + ["-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path), str(probe)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp_path,
        env=real,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Thursday 2026-12-24 23:59 CET" in done.stdout and "2 passed" in done.stdout


@pytest.mark.parametrize(
    ("now", "monday"),
    [
        (datetime(2026, 12, 5, 18, 0, tzinfo=UTC), "2026-12-07"),  # a Saturday evening
        (datetime(2026, 12, 7, 5, 0, tzinfo=UTC), "2026-12-07"),  # a Monday: that same day
        (datetime(2026, 12, 6, 23, 30, tzinfo=UTC), "2026-12-07"),  # already Monday in Paris
        (datetime(2026, 12, 7, 23, 30, tzinfo=UTC), "2026-12-14"),  # already Tuesday in Paris
    ],
)
def test_ci_sweeps_the_monday_after_its_own_date_in_paris(now: datetime, monday: str) -> None:
    target = next_monday(now, 10, 0)
    assert target.date().isoformat() == monday and target.weekday() == 0
    assert (target.hour, target.minute, target.tzinfo) == (10, 0, PARIS)
