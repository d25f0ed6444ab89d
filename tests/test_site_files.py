"""The audit file's command line, without a browser: filters, a page the organisation rewrote, refusals.

(tests/test_audit_site.py opens the site in Chromium; these check what the command writes and refuses.)
"""

from __future__ import annotations

import errno
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from databases import fresh_database_url

from inboxbot.exports import site
from inboxbot.store.repository import Store
from tests.e2e import invoke, write_config


def _register(url: str) -> None:
    store = Store.open(url)
    start = datetime(2026, 3, 2, 9, tzinfo=UTC)
    try:
        with store.unit() as unit:
            for n, kind in enumerate(("reclamation", "alea", "difficulte", "alea")):
                received = start + timedelta(days=n)
                unit.open_case(
                    number=f"2026-{n + 1:04d}",
                    kind=kind,
                    channel="email",
                    claimant=f"c{n}@exemple.fr",
                    claimant_name="",
                    subject=f"Objet {n}",
                    received_at=received,
                    acknowledge_due=received.date() + timedelta(days=21),
                    response_due=received.date() + timedelta(days=30),
                    nature=None,
                    priority=None,
                    rules_hit=(),
                    now=received,
                )
    finally:
        store.close()


def _config(tmp_path: Path, extra: str = "") -> Path:
    url = fresh_database_url(tmp_path)
    config = write_config(
        tmp_path,
        imap_host="127.0.0.1",
        imap_port=1,
        username="u",
        password="p",
        smtp_port=1,
        database_url=url,
        extra=extra,
    )
    invoke(config, "cases", "list")  # creates the schema
    _register(url)
    return config


def test_filters_and_a_page_the_organisation_rewrote(tmp_path: Path) -> None:
    mine = tmp_path / "mes-modeles" / "site"
    mine.mkdir(parents=True)
    (mine / "case.html.j2").write_text(
        '{% extends "base.html.j2" %}{% block title %}x{% endblock %}'
        "{% block body %}<p>Fiche maison {{ case.number }} : {{ labels.kind }}</p>{% endblock %}",
        encoding="utf-8",
    )
    config = _config(tmp_path, '[templates]\ndir = "mes-modeles"')
    result = invoke(
        config, "register", "export", "--format", "html", "--output", str(tmp_path / "aleas"), "--kind", "alea"
    )
    assert result.code == 0, result.err
    pages = sorted(p.name for p in (tmp_path / "aleas" / "dossiers").glob("*.html"))
    assert pages == ["2026-0002.html", "2026-0004.html"]
    page = (tmp_path / "aleas" / "dossiers" / "2026-0002.html").read_text(encoding="utf-8")
    assert "Fiche maison 2026-0002 : aléa" in page and "aléas seulement" in page
    index = (tmp_path / "aleas" / "index.html").read_text(encoding="utf-8")
    assert "Objet 1" in index and "Objet 0" not in index  # the shipped index, filtered


def test_it_never_writes_into_a_folder_that_holds_something(tmp_path: Path) -> None:
    config = _config(tmp_path)
    target = tmp_path / "audit"
    target.mkdir()
    (target / "notes.txt").write_text("à garder", encoding="utf-8")
    result = invoke(config, "register", "export", "--format", "html", "--output", str(target))
    assert result.code == 2 and "not an empty directory" in result.err
    assert [p.name for p in target.iterdir()] == ["notes.txt"]
    assert invoke(config, "register", "export", "--format", "html").code == 2  # a folder is needed
    assert invoke(config, "register", "export", "--format", "csv", "--zip", "x.zip").code == 2


def test_a_missing_procedure_file_is_named_before_anything_is_written(tmp_path: Path) -> None:
    config = _config(tmp_path)
    text = config.read_text(encoding="utf-8").replace(
        'timezone = "Europe/Paris"\n', 'timezone = "Europe/Paris"\nprocedure_file = "absente.txt"\n', 1
    )
    config.write_text(text, encoding="utf-8")
    result = invoke(
        config,
        "register",
        "export",
        "--format",
        "html",
        "--output",
        str(tmp_path / "a"),
        "--zip",
        str(tmp_path / "a.zip"),
    )
    assert result.code == 2 and "organisation.procedure_file: no file at" in result.err
    assert not (tmp_path / "a.zip").exists() and not list((tmp_path / "a").glob("*"))


@pytest.mark.parametrize("existing", [False, True], ids=["new folder", "empty folder"])
def test_a_write_failing_half_way_leaves_no_audit_file_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, existing: bool
) -> None:
    """A folder with the case pages but no index (or a ZIP without its end) would pass for a finished
    audit file to whoever opens it later: the export is whole or absent, and the command says which."""
    config = _config(tmp_path)
    target, archive = tmp_path / "sortie" / "audit", tmp_path / "audit.zip"
    if existing:
        target.mkdir(parents=True)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    written = site._Output.data

    def disk_full_at_the_index(self: site._Output, relative: str, data: bytes) -> None:
        if relative == "index.html":  # the last file: every case page is already written
            raise OSError(errno.ENOSPC, "No space left on device")
        written(self, relative, data)

    monkeypatch.setattr(site._Output, "data", disk_full_at_the_index)
    args = ("register", "export", "--format", "html", "--output", str(target), "--zip", str(archive))
    result = invoke(config, *args)
    assert result.code == 1
    assert result.err.count("\n") == 1 and result.err.startswith("inboxbot: ")
    assert "No space left on device" in result.err and str(target) in result.err
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before  # nothing new, nothing left over

    monkeypatch.setattr(site._Output, "data", written)
    assert invoke(config, *args).code == 0  # once the disk has room, the same command works
    assert (target / "index.html").is_file() and len(list((target / "dossiers").glob("*.html"))) == 4
    assert sorted(p.name for p in target.parent.iterdir()) == ["audit"] and archive.is_file()
