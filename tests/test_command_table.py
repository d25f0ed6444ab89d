"""The command table is the one list of the director's commands: each has what obeys it, and #aide names it.

A command added to the table without its handler would be accepted by the parser and then answered
« non prise en charge » on her mail; one missing from #aide is one she cannot find.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from databases import fresh_database_url
from e2e import write_config

from inboxbot.bootstrap import build
from inboxbot.config import load
from inboxbot.domain.mail_commands import COMMAND_HELP, COMMANDS
from inboxbot.outgoing.letters import Letters
from inboxbot.procedure.casework import Casework, check_handlers


@pytest.fixture
def casework(tmp_path: Path) -> Casework:
    config = write_config(
        tmp_path,
        imap_host="127.0.0.1",
        imap_port=1,
        username="alice",
        password="secret",
        smtp_port=1,
        database_url=fresh_database_url(tmp_path),
    )
    app = build(load(config))
    try:
        return Casework(app.settings, Letters(app.settings, app.renderer), app.policy)
    finally:
        app.close()


def test_every_command_of_the_table_has_one_handler_of_its_kind(casework: Casework) -> None:
    general, on_case = casework.handled()
    assert general | on_case == {spec.name for spec in COMMANDS} and not general & on_case
    assert on_case == {spec.name for spec in COMMANDS if spec.needs_case}


def test_a_command_without_its_handler_stops_the_program_at_start() -> None:
    names = {spec.name: object() for spec in COMMANDS}
    general = {name: h for name, h in names.items() if name in {s.name for s in COMMANDS if not s.needs_case}}
    on_case = {name: h for name, h in names.items() if name not in general}
    check_handlers(general, on_case)
    with pytest.raises(ValueError, match="do not match the command table"):
        check_handlers(general, {name: h for name, h in on_case.items() if name != "close"})
    with pytest.raises(ValueError, match="do not match the command table"):
        check_handlers({**general, "close": object()}, on_case)  # one command, two handlers


def test_help_lists_every_command_with_its_example() -> None:
    for spec in COMMANDS:
        assert f"#{spec.words[0]}" in COMMAND_HELP and spec.example in COMMAND_HELP


def test_the_readme_command_table_lists_every_command() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    table = [line for line in readme.splitlines() if line.startswith("| `#")]
    for spec in COMMANDS:
        assert any(line.startswith(f"| `#{spec.words[0]}`") for line in table), spec.words[0]
