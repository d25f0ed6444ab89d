"""`inboxbot init` and `inboxbot check` speak French by default, English when the locale asks for it.

The director of a small organisation often installs inboxbot herself: the questions she answers and
the verdicts she reads are in her language unless her system says otherwise.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from inboxbot.cli.language import english_wanted
from inboxbot.cli.main import build_parser
from tests.e2e import invoke, write_config


@pytest.mark.parametrize(
    ("environ", "english"),
    [
        ({}, False),
        ({"LANG": "C.UTF-8"}, False),
        ({"LANG": "fr_FR.UTF-8"}, False),
        ({"LANG": "en_GB.UTF-8"}, True),
        ({"LANG": "fr_FR.UTF-8", "LC_MESSAGES": "en_US.UTF-8"}, True),
        ({"LANG": "en_US.UTF-8", "LC_ALL": "fr_FR.UTF-8"}, False),
    ],
)
def test_french_unless_the_locale_asks_for_english(environ: dict[str, str], english: bool) -> None:
    assert english_wanted(environ) is english


def test_init_asks_in_french_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from inboxbot.cli.init import run_init

    monkeypatch.setenv("LANG", "C.UTF-8")
    monkeypatch.setenv("P", "secret")
    args = build_parser().parse_args(["init", "--no-check", "--provider", "ovh", "--password-env", "P"])
    out = io.StringIO()
    answers = io.StringIO("Cafémétrie\nalice@cafemetrie.fr\n\n\n\n")
    code = run_init(args, tmp_path / "config.toml", lambda _path: 0, answers, out)
    assert code == 0, out.getvalue()
    text = out.getvalue()
    assert "nom de l'organisme : " in text and "adresse de la boîte" in text and "identifiant de connexion" in text
    assert "config.toml écrit" in text and "ensuite : inboxbot --config" in text
    assert "organisation name" not in text


def test_init_speaks_english_when_the_locale_asks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    completed = subprocess.run(
        [sys.executable, "-m", "inboxbot", "--config", str(tmp_path / "c.toml"), "init", "--no-check"],
        input="",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 2
    assert "organisation name" in completed.stdout and "no answer for" in completed.stderr


def test_check_gives_its_verdicts_in_french_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write_config(
        tmp_path,
        imap_host="127.0.0.1",
        imap_port=1,  # nothing listens: check stops at the mailbox
        username="u",
        password="p",
        smtp_port=1,
        database_url=f"sqlite:///{tmp_path / 'inboxbot.db'}",
    )
    monkeypatch.setenv("LANG", "C.UTF-8")
    checked = invoke(config, "check")
    assert checked.code == 1
    assert "configuration : " in checked.out and "règles : " in checked.out
    assert "modèles : tous les modèles de messages et du rapport se compilent" in checked.out
    assert "base de données : " in checked.out and "schéma à jour" in checked.out
    assert "erreur : IMAP 127.0.0.1:1" in checked.out
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    assert "error: IMAP 127.0.0.1:1" in invoke(config, "check").out
