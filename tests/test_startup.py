"""The short commands import only what they use: a director's `cases show` answers at once.

Timings are measured in bench/startup.py and BENCHMARKS.md; this test holds the cause, the modules
a reading command must not pull in.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HEAVY = ["jinja2", "holidays", "imapclient", "aiosmtplib", "mailparser", "babel", "inboxbot.reading.parse"]

PROBE = """
import json, sys
from inboxbot.cli.main import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(m for m in sys.modules)}))
"""


def test_cases_list_reads_the_register_without_templates_calendar_or_mail_libraries(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[organisation]\nname = "Cafémétrie"\n[director]\naddresses = ["alice@cafemetrie.example"]\n'
        '[imap]\nhost = "127.0.0.1"\nsecurity = "plain"\nusername = "alice"\npassword = "x"\n'
        '[smtp]\nhost = "127.0.0.1"\nsecurity = "plain"\nfrom_address = "alice@cafemetrie.example"\n'
        f'[database]\nurl = "sqlite:///{tmp_path / "inboxbot.db"}"\n[storage]\narchive_dir = "archive"\n',
        encoding="utf-8",
    )
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
