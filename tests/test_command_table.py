"""The command table is the one list of the director's commands: each has what obeys it, and #aide names it.

A command added to the table without its handler would be accepted by the parser and then answered
« non prise en charge » on her mail; one missing from #aide is one she cannot find.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from databases import fresh_database_url
from e2e import write_config

from inboxbot.bootstrap import build
from inboxbot.config import load
from inboxbot.domain.cases import event_label
from inboxbot.domain.mail_commands import COMMAND_HELP, COMMANDS, Command, Refusal, parse_commands
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


# --- reading the corrections and the merge ----------------------------------------------------------


def one(line: str, subject: str = "[Dossier 2026-0009]") -> Command | Refusal:
    (parsed,) = parse_commands(line, subject)
    return parsed


def test_an_extension_is_cancelled_or_set_to_a_date_in_her_words() -> None:
    cancel = one("#prolongation annuler saisie par erreur")
    assert isinstance(cancel, Command) and (cancel.change, cancel.value) == ("cancel", "saisie par erreur")
    until = one("#prolonger jusqu’au 20/01/2027 motif : retour du financeur")
    assert isinstance(until, Command) and until.change == "until" and until.value == "retour du financeur"
    assert until.on is not None and until.on.coming(date(2026, 12, 5)) == date(2027, 1, 20)
    days = one("#prolonger 15 attente du financeur")
    assert isinstance(days, Command) and (days.change, days.days) == (None, 15)
    assert isinstance(one("#prolonger jusqu'au bientôt"), Refusal)


def test_a_day_promised_without_its_year_is_the_next_one() -> None:
    day = one("#prolonger jusqu'au 3/01")
    assert isinstance(day, Command) and day.on is not None
    assert day.on.coming(date(2026, 12, 5)) == date(2027, 1, 3)
    assert day.on.coming(date(2027, 1, 3)) == date(2027, 1, 3)


def test_an_action_is_changed_in_part_or_cancelled() -> None:
    edit = one("#action 2 modifier ; échéance : 15/02/2027")
    assert isinstance(edit, Command) and (edit.change, edit.value, edit.due) == ("edit", None, date(2027, 2, 15))
    text = one("#action 2 modifier Vérifier chaque envoi ; responsable : Marc")
    assert isinstance(text, Command) and (text.value, text.owner) == ("Vérifier chaque envoi", "Marc")
    cancel = one("#action 3 annuler saisie en double")
    assert isinstance(cancel, Command) and (cancel.action_number, cancel.change) == (3, "cancel")
    assert isinstance(one("#action 2 modifier"), Refusal)
    status = one("#action 1 faite")
    assert isinstance(status, Command) and (status.change, status.status) == (None, "done")


@pytest.mark.parametrize(
    ("line", "kept", "merged"),
    [
        ("#fusionner 2026-0001 2026-0003", "2026-0001", "2026-0003"),
        ("#fusionner 2026-0003 dans 2026-0001", "2026-0001", "2026-0003"),
        ("#merge dossier 2026-0001 et dossier 2026-0004", "2026-0001", "2026-0004"),
    ],
)
def test_a_merge_names_both_cases_the_kept_one_first_unless_she_says_into(line: str, kept: str, merged: str) -> None:
    command = one(line, subject="[Dossier 2026-0777]")  # the subject never chooses for a merge
    assert isinstance(command, Command) and (command.case_number, command.other_case) == (kept, merged)


@pytest.mark.parametrize(
    "line", ["#fusionner 2026-0001", "#fusionner 2026-0001 avec 2026-0002 et 2026-0003", "#fusionner a 2026-1 2026-2"]
)
def test_a_merge_that_is_not_two_numbers_is_refused(line: str) -> None:
    assert isinstance(one(line), Refusal)


@pytest.mark.parametrize(
    "event",
    [
        "extension-changed", "extension-cancelled", "action-edited", "action-cancelled", "merged", "merged-in",
        "urgent-alert", "set:received", "set:channel", "set:transmitter",
    ],
)  # fmt: skip
def test_what_a_correction_writes_in_the_history_reads_in_french(event: str) -> None:
    label = event_label(event)
    assert label != event and not any(word in label for word in ("received", "channel", "transmitter"))
