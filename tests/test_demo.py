"""`inboxbot demo`, the README's first command, on its embedded servers (no Dovecot needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from inboxbot.cli.main import main


def test_demo_keeps_its_register_in_a_folder_named_relative_to_where_it_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--keep", "essai"]) == 0
    out = capsys.readouterr().out
    kept = tmp_path / "essai"
    assert f"Base de données et archive des messages : {kept}" in out
    assert (kept / "inboxbot.db").is_file() and not (kept / "essai").exists()
    assert len(list((kept / "archive").rglob("*.eml"))) >= 4  # the complaint, the incident, the others
