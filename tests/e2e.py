"""Driving inboxbot as a user does: a config file, the `inboxbot` command, the register it writes.

`invoke` runs the real command-line entry point in this process (fast, same code path as the
console script); `invoke_subprocess` runs `python -m inboxbot` as a separate program, for the
tests that must prove the installed command works on its own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from datetime import date
from io import StringIO
from pathlib import Path
from typing import Any, Protocol

from databases import fresh_database_url

from inboxbot.cli.main import main


class MailAccountLike(Protocol):
    host: str
    port: int
    username: str
    password: str


class SinkLike(Protocol):
    port: int


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


DIGEST_OFF = "[digest]\nenabled = false  # the tests that want it say so"


def write_config(
    directory: Path,
    *,
    imap_host: str,
    imap_port: int,
    username: str,
    password: str,
    smtp_port: int,
    database_url: str,
    address: str = "alice@cafemetrie.example",
    mode: str = "shared",
    extra: str = "",
    imap_extra: str = "",
    digest: bool = False,
) -> Path:
    """A config holding only the keys the contract names (plus `extra`), as a user would write it.

    The daily digest is off unless asked for: on a weekday afternoon it would be due in every test.
    """
    path = directory / "config.toml"
    path.write_text(
        f"""
[organisation]
name = "Cafémétrie"
timezone = "Europe/Paris"
procedure_reviewed = "{date.today().isoformat()}"

[imap]
host = "{imap_host}"
port = {imap_port}
security = "plain"
username = "{username}"
password = "{password}"
inbox_folder = "INBOX"
mode = "{mode}"
{imap_extra}

[smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "plain"
username = ""
from_address = "{address}"
from_name = "Cafémétrie"

[director]
addresses = ["{address}"]
digest_time = "08:00"

[database]
url = "{database_url}"

[storage]
archive_dir = "archive"
retention_years = 3
{"" if digest else DIGEST_OFF}
{extra}
""".replace('username = ""\n', ""),
        encoding="utf-8",
    )
    path.chmod(0o600)
    return path


def account_config(directory: Path, account: MailAccountLike, sink: SinkLike, **options: Any) -> Path:
    """`write_config` for a test's mail account and SMTP sink, with a SQLite file beside it."""
    settings: dict[str, Any] = {
        "imap_host": account.host,
        "imap_port": account.port,
        "username": account.username,
        "password": account.password,
        "smtp_port": sink.port,
        "database_url": fresh_database_url(directory),
    }
    settings.update(options)
    return write_config(directory, **settings)


def offline_config(directory: Path, database_url: str, address: str = "alice@cafemetrie.example") -> Path:
    """A config for commands that only read the database, or a mailbox faked in memory: no mail server
    is ever contacted (nothing listens on port 9)."""
    return write_config(
        directory,
        imap_host="127.0.0.1",
        imap_port=9,
        username="alice",
        password="unused",
        smtp_port=9,
        database_url=database_url,
        address=address,
    )


def invoke(config: Path, *args: str) -> Result:
    out, err = StringIO(), StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(["--config", str(config), *args])
        except SystemExit as exit:  # argparse's way of refusing a command line
            code = exit.code if isinstance(exit.code, int) else 1
    return Result(code, out.getvalue(), err.getvalue())


def invoke_subprocess(config: Path, *args: str, timeout: float = 120) -> Result:
    completed = subprocess.run(
        [sys.executable, "-m", "inboxbot", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Result(completed.returncode, completed.stdout, completed.stderr)


def register(config: Path) -> list[dict[str, Any]]:
    result = invoke(config, "register", "export", "--format", "json")
    assert result.code == 0, result.err
    records: list[dict[str, Any]] = json.loads(result.out)
    return records
