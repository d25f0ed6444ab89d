"""`run` compiles the templates and the vocabulary at start once per version of them, and never trusts a
mark that is stale, corrupt or not this user's: a broken file still stops it before any mail."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import jinja2
import pytest

from inboxbot.adapters.checked import CheckedSources
from inboxbot.bootstrap import build, shipped
from inboxbot.config import Settings, load
from inboxbot.reading.recognition import RecognitionError


def settings(tmp_path: Path, mode: str = "dedicated") -> Settings:
    """A config with its own templates and rules folders, copies of the shipped vocabulary in it."""
    (tmp_path / "templates").mkdir(exist_ok=True)
    (tmp_path / "rules" / "recognition").mkdir(parents=True, exist_ok=True)
    vocabulary = tmp_path / "rules" / "recognition" / "vocabulary.toml"
    if not vocabulary.exists():
        shutil.copy(shipped("rules") / "recognition" / "vocabulary.toml", vocabulary)
    config = tmp_path / "config.toml"
    config.write_text(
        '[organisation]\nname = "Cafémétrie"\n[director]\naddresses = ["alice@cafemetrie.example"]\n'
        f'[imap]\nhost = "127.0.0.1"\nsecurity = "plain"\nusername = "alice"\npassword = "x"\nmode = "{mode}"\n'
        '[smtp]\nhost = "127.0.0.1"\nsecurity = "plain"\nfrom_address = "alice@cafemetrie.example"\n'
        f'[database]\nurl = "sqlite:///{tmp_path / "inboxbot.db"}"\n[storage]\narchive_dir = "archive"\n'
        f'[templates]\ndir = "{tmp_path / "templates"}"\n[rules]\ndir = "{tmp_path / "rules"}"\n',
        encoding="utf-8",
    )
    return load(config)


def started(settings: Settings, marks: CheckedSources) -> tuple[bool, bool]:
    """Whether a start compiled (templates, vocabulary) itself, rather than leaving them to first use."""
    app = build(settings, checked=marks)
    try:
        return app._renderer is not None, app._recognizer_loaded and app._recognizer is not None
    finally:
        app.close()


def test_a_second_start_with_the_same_files_compiles_nothing_yet_the_app_still_renders(tmp_path: Path) -> None:
    marks = CheckedSources(tmp_path / "marks")
    config = settings(tmp_path, mode="shared")
    assert started(config, marks) == (True, True)
    app = build(config, checked=marks)
    try:
        assert (app._renderer, app._recognizer_loaded) == (None, False)
        assert app.renderer.env.get_template("acknowledgement.subject.j2") is not None  # built at first use
        assert app.recognizer is not None  # built at first use
    finally:
        app.close()


def test_a_template_broken_after_a_good_start_still_stops_the_next_one(tmp_path: Path) -> None:
    marks = CheckedSources(tmp_path / "marks")
    config = settings(tmp_path)
    assert started(config, marks)[0]
    (tmp_path / "templates" / "acknowledgement.html.j2").write_text("{% if %}", encoding="utf-8")
    with pytest.raises(jinja2.TemplateSyntaxError):
        build(config, checked=marks)
    # Mended back to what was checked, it is known again.
    (tmp_path / "templates" / "acknowledgement.html.j2").unlink()
    assert started(config, marks)[0] is False


def test_a_vocabulary_broken_after_a_good_start_still_stops_the_next_one(tmp_path: Path) -> None:
    marks = CheckedSources(tmp_path / "marks")
    config = settings(tmp_path, mode="shared")
    assert started(config, marks) == (True, True)
    vocabulary = tmp_path / "rules" / "recognition" / "vocabulary.toml"
    vocabulary.write_text(vocabulary.read_text(encoding="utf-8") + "\n[[groupe]]\nnom = 1\n", encoding="utf-8")
    with pytest.raises(RecognitionError):
        build(config, checked=marks)


def test_a_corrupt_or_foreign_mark_is_not_trusted(tmp_path: Path) -> None:
    marks = CheckedSources(tmp_path / "marks")
    config = settings(tmp_path)
    started(config, marks)
    [mark] = list((tmp_path / "marks").iterdir())
    good = mark.read_bytes()
    other_digit = b"1" if good.endswith(b"0") else b"0"
    for corrupt in (b"", good[:-1], good[:-1] + other_digit, good + b"\n", b"x" * len(good)):
        mark.write_bytes(corrupt)
        assert started(config, marks)[0] is True, corrupt  # checked again, and the mark rewritten
        assert mark.read_bytes() == good
    # A mark that is a link, a folder others may enter: not trusted.
    mark.unlink()
    (tmp_path / "elsewhere").write_bytes(good)
    mark.symlink_to(tmp_path / "elsewhere")
    assert not marks.has(mark.name)
    mark.unlink()
    mark.write_bytes(good)
    assert marks.has(mark.name)
    os.chmod(tmp_path / "marks", 0o755)
    assert not marks.has(mark.name)
    assert started(config, marks)[0] is True
    linked = CheckedSources(tmp_path / "linked")
    (tmp_path / "linked").symlink_to(tmp_path / "marks")
    os.chmod(tmp_path / "marks", 0o700)
    assert not linked.has(mark.name)


def test_with_no_folder_of_marks_every_start_compiles(tmp_path: Path) -> None:
    marks = CheckedSources(None)
    config = settings(tmp_path, mode="shared")
    assert started(config, marks) == (True, True)
    assert started(config, marks) == (True, True)
