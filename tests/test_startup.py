"""The short commands import only what they use: a director's `cases show` answers at once.

Timings are measured in bench/startup.py and BENCHMARKS.md; this test holds the cause, the modules
a reading command must not pull in.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

from inboxbot.cli.main import main

HEAVY = [
    "jinja2",
    "holidays",
    "imapclient",
    "aiosmtplib",
    "mailparser",
    "babel",
    "inboxbot.reading.parse",
    # What deciding on a mail and archiving one need: built at first use, never by a reading command.
    "inboxbot.domain.decide",
    "inboxbot.adapters.archive",
]

PROBE = """
import json, sys
from inboxbot.cli.main import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(m for m in sys.modules)}))
"""


def write_config(tmp_path: Path, mode: str = "dedicated", organisation: str = "") -> Path:
    """A config on a throw-away SQLite database; the mail servers are never reached by these tests."""
    config = tmp_path / "config.toml"
    config.write_text(
        f'[organisation]\nname = "Cafémétrie"\n{organisation}'
        '[director]\naddresses = ["alice@cafemetrie.example"]\ndigest_time = "08:00"\n'
        f'[imap]\nhost = "127.0.0.1"\nsecurity = "plain"\nusername = "alice"\npassword = "x"\nmode = "{mode}"\n'
        '[smtp]\nhost = "127.0.0.1"\nsecurity = "plain"\nfrom_address = "alice@cafemetrie.example"\n'
        f'[database]\nurl = "sqlite:///{tmp_path / "inboxbot.db"}"\n[storage]\narchive_dir = "archive"\n',
        encoding="utf-8",
    )
    return config


def imported_by_twice(probe: str, tmp_path: Path) -> list[str]:
    """The modules `probe` prints, from its second start: the first compiles the templates and the
    vocabulary (and marks them, in a temporary folder of the test's own), the second finds them."""
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    environment = {**os.environ, "TMPDIR": str(temporary)}
    runs = [
        subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, env=environment)
        for _ in range(2)
    ]
    assert [done.returncode for done in runs] == [0, 0], runs[0].stderr + runs[1].stderr
    return [json.loads(done.stdout) for done in runs][1]


def test_cases_list_reads_the_register_without_templates_calendar_or_mail_libraries(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, "--config", str(config), "cases", "list"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["code"] == 0
    assert [name for name in HEAVY if name in result["modules"]] == []


def test_the_cycle_imports_the_reading_stack_only_with_a_first_mail() -> None:
    """An idle cycle (most of the daemon's) builds no mail reader: the parsers, the quoted-history
    reader and the recognizer, with their patterns, are imported when a first mail is read."""
    probe = (
        "import json, sys\n"
        "import inboxbot.procedure.pipeline, inboxbot.cli.daemon\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('inboxbot.reading', 'mailparser')))))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def test_a_start_of_run_with_the_templates_and_vocabulary_it_checked_before_compiles_neither(tmp_path: Path) -> None:
    """`run` compiles the templates and the vocabulary at start (a broken one stops it there); a start
    that finds them as they were when last compiled builds Jinja2 and the recognizer at first use only
    (tests/test_checked.py: a changed or corrupt mark is not trusted)."""
    config = write_config(tmp_path, mode="shared")
    probe = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from inboxbot.bootstrap import build\n"
        "from inboxbot.config import load\n"
        "from inboxbot.procedure.pipeline import Pipeline\n"
        f"Pipeline(build(load(Path({str(config)!r}))))\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('jinja2', 'babel', 'inboxbot.reading')))))\n"
    )
    assert imported_by_twice(probe, tmp_path) == []


def test_an_idle_cycle_after_reading_builds_no_casework_decisions_or_templates(tmp_path: Path) -> None:
    """What follows reading in a cycle with no mail (follow-up, the digest not yet due, an empty
    outbox) carries out no command, decides on no mail and writes no letter: it imports neither the
    mail commands, the casework, the decisions nor Jinja2. The clock is pinned before the digest's
    hour and the procedure's review is recent, so that nothing is due."""
    config = write_config(tmp_path, mode="shared", organisation='procedure_reviewed = "2026-11-02"\n')
    probe = (
        "import json, sys\n"
        "from datetime import UTC, datetime\n"
        "from pathlib import Path\n"
        "from inboxbot.bootstrap import build\n"
        "from inboxbot.config import load\n"
        "from inboxbot.procedure.pipeline import CycleReport, Pipeline\n"
        f"app = build(load(Path({str(config)!r})), clock=lambda: datetime(2026, 12, 7, 5, 0, tzinfo=UTC))\n"
        "Pipeline(app).send_what_waits(CycleReport())\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    modules = imported_by_twice(probe, tmp_path)
    unused = [
        "jinja2",
        "aiosmtplib",
        "urllib.request",
        "inboxbot.domain.decide",
        "inboxbot.domain.mail_commands",
        "inboxbot.procedure.casework",
    ]
    assert [name for name in unused if name in modules] == []


def test_collection_is_paused_while_the_program_starts_and_resumes_once_it_is_built(tmp_path: Path) -> None:
    """The program's entry turns the collector off until the register is opened (by `build`, or by
    the exports that open it alone), which sets what start-up made aside (frozen) and turns it back
    on: a daemon, a first ingest and an export are collected as usual. `main` called in a process of
    the caller's (the tests) leaves the collector alone."""
    config = write_config(tmp_path)
    probe = (
        "import gc, json, sys\n"
        "from inboxbot import bootstrap\n"
        "from inboxbot.cli.main import entry\n"
        "seen = []\n"
        "real = bootstrap.build\n"
        "def build(*args, **kwargs):\n"
        "    seen.append(gc.isenabled())\n"
        "    app = real(*args, **kwargs)\n"
        "    seen.append(gc.isenabled())\n"
        "    seen.append(gc.get_freeze_count() > 0)\n"
        "    return app\n"
        "bootstrap.build = build\n"
        f"sys.argv = ['inboxbot', '--config', {str(config)!r}, 'cases', 'list']\n"
        "code = entry()\n"
        "print(json.dumps([code, *seen, gc.isenabled()]))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == [0, False, True, True, True]
    # In this process: main leaves the collector as it found it, on or off.
    frozen = gc.get_freeze_count()
    assert main(["--config", str(config), "cases", "list"]) == 0
    assert gc.isenabled() and gc.get_freeze_count() == frozen
    gc.disable()
    try:
        assert main(["--config", str(config), "cases", "list"]) == 0
        assert not gc.isenabled()
    finally:
        gc.enable()
