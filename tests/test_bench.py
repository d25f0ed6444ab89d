"""The benchmark keeps working: run at its small size, every measurement is taken and tabled.

A benchmark, not a timed test: nothing here looks at seconds or verdicts, only that each item ran
(its servers started, the product and the floor did their work, the table was written)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from databases import ENGINE

pytestmark = pytest.mark.servers  # the benchmark starts its own Dovecot and SMTP sink

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(ENGINE != "sqlite", reason="the benchmark uses SQLite whatever the suite's database")
def test_the_benchmark_runs_at_its_small_size(tmp_path: Path) -> None:
    raw = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--json", str(raw)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for row in ("| 1 |", "| 2 |", "| 3 |", "| 3b |", "| 4c |", "| 4e |", "| 5 |", "| 6 |", "| 7 |"):
        assert row in done.stdout, row
    results = json.loads(raw.read_text(encoding="utf-8"))
    throughput = results["throughput"]
    # Every acknowledgement reached the sink, and both ratios were measured on every run.
    assert throughput["product_acks"] >= throughput["expected_acks"]
    assert len(throughput["fetch_ratio"]["values"]) == len(throughput["ratio"]["values"]) == 1
    assert all(row.get("error") in (None, "") for row in results["register"]["rows"].values())
    assert "skipped" not in json.dumps(results["register"]["rows"])
