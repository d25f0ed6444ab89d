"""What inboxbot leaves on the machine and on the terminal (issue 14, item 8).

The files hold everybody's mail, so nobody but their user may read them, whatever the umask; what a
stranger wrote is printed without the escape sequences a terminal would obey; the token file cannot
be redirected by a symlink; the database password can stay out of the config file; a Message-ID
in Unicode is not echoed mangled.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from conftest import MailAccount
from databases import ENGINE
from e2e import account_config, invoke, register
from mails import make_mail
from servers import SmtpSink
from sqlalchemy.engine import make_url

from inboxbot.adapters.oauth import SavedToken, write_token_file
from inboxbot.bootstrap import build
from inboxbot.config import ConfigError, load
from inboxbot.domain.text import for_terminal

DIRECTOR = "alice@cafemetrie.example"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The most permissive umask a user could have: whatever is private is so by inboxbot's doing."""
    previous = os.umask(0)
    yield
    os.umask(previous)


def modes(root: Path) -> dict[str, int]:
    return {str(path.relative_to(root)): stat.S_IMODE(path.stat().st_mode) for path in [root, *root.rglob("*")]}


def test_every_file_inboxbot_writes_is_its_users_alone_whatever_the_umask(
    tmp_path: Path, mail_account: MailAccount, smtp_sink: SmtpSink, open_umask: None
) -> None:
    config = account_config(tmp_path, mail_account, smtp_sink, mode="dedicated")
    assert invoke(config, "run", "--once").code == 0
    attachment = [("facture.pdf", b"%PDF-1.4 x", "application/pdf")]
    mail_account.append(make_mail("lea@example.fr", DIRECTOR, "Réclamation", "Bonjour", attachments=attachment))
    assert invoke(config, "run", "--once").code == 0
    exports = tmp_path / "exports"
    exports.mkdir()
    for fmt in ("csv", "json", "xlsx"):
        assert invoke(config, "register", "export", "--format", fmt, "--output", str(exports / f"r.{fmt}")).code == 0
    assert invoke(config, "report", "--year", "2026", "--output", str(exports / "rapport.txt")).code == 0

    archive = modes(tmp_path / "archive")
    assert any(name.endswith(".eml") for name in archive) and any(name.endswith(".pdf") for name in archive)
    for name, mode in archive.items():
        expected = 0o700 if (tmp_path / "archive" / name).is_dir() else 0o600
        assert mode == expected, f"archive/{name}: {oct(mode)}"
    written = {name: mode for name, mode in modes(exports).items() if name != "."}
    assert written == dict.fromkeys(["r.csv", "r.json", "r.xlsx", "rapport.txt"], 0o600)
    if ENGINE == "sqlite":
        database = {path.name: stat.S_IMODE(path.stat().st_mode) for path in tmp_path.glob("inboxbot.db*")}
        assert "inboxbot.db" in database and set(database.values()) == {0o600}, database

    # Private by the store and the archive themselves, not only by the command line's umask.
    app = build(load(config))
    try:
        stored = app.archive.store(b"From: x@example.fr\r\n\r\nx\r\n", app.clock())
    finally:
        app.close()
    assert stat.S_IMODE((tmp_path / "archive" / stored.path).stat().st_mode) == 0o600


def test_a_new_sqlite_database_is_created_private_whatever_the_umask(tmp_path: Path, open_umask: None) -> None:
    from inboxbot.store.repository import Store

    Store.open(f"sqlite:///{tmp_path / 'neuve.db'}").close()
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.glob("neuve.db*")}["neuve.db"] == 0o600


def test_the_service_runs_with_a_private_umask() -> None:
    unit = (ROOT / "systemd" / "inboxbot.service").read_text()
    service = unit.split("[Service]", 1)[1].split("[Install]", 1)[0]
    assert "UMask=0077" in service.splitlines()


def test_the_token_file_is_never_written_through_a_planted_symlink(tmp_path: Path, open_umask: None) -> None:
    victim = tmp_path / "victim"
    victim.write_text("untouched")
    token_file = tmp_path / "oauth" / "token.json"
    token_file.parent.mkdir()
    (token_file.parent / f".token.json.{os.getpid()}.tmp").symlink_to(victim)
    write_token_file(token_file, SavedToken(refresh_token="secret-refresh", client_id="client", seed=""))
    assert victim.read_text() == "untouched"
    assert not token_file.is_symlink() and "secret-refresh" in token_file.read_text()
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600


# --- the terminal --------------------------------------------------------------------------------

HOSTILE_TEXT = "Bonjour\x1b]0;pwned\x07\x1b[2J\x1b[1;1H tout va bien\x9b31m\r\x1b]52;c;ZWNobyBwd25lZA==\x07 fin"


def test_control_and_escape_sequences_are_stripped_and_bidi_overrides_shown() -> None:
    assert for_terminal(HOSTILE_TEXT) == "Bonjour tout va bien31m fin"
    assert for_terminal("facture\u202eFDP.exe\tok\n") == "facture<U+202E>FDP.exe\tok\n"
    long_run = "\x1b]" + "x" * 200_000  # never terminated: consumed once, not searched again
    assert for_terminal(long_run + "\x1b[0m ok") == " ok"


def test_cases_show_and_the_printed_digest_print_no_escape_sequence_from_a_mail(
    tmp_path: Path, mail_account: MailAccount, smtp_sink: SmtpSink
) -> None:
    config = account_config(tmp_path, mail_account, smtp_sink, mode="dedicated")
    assert invoke(config, "run", "--once").code == 0
    raw = (
        "From: =?utf-8?q?L=C3=A9a=1B[31m?= <lea@example.fr>\r\nTo: " + DIRECTOR + "\r\n"
        "Subject: =?utf-8?q?R=C3=A9clamation_=1B]0;titre=07=1B[2J?=\r\n"
        "Message-ID: <esc@example.fr>\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        "Ma formation=1B[2J=1B]52;c;ZWNobyBwd25lZA=3D=3D=07 a =C3=A9t=C3=A9 annul=C3=A9e.\r\n"
    ).encode()
    mail_account.append(raw)
    assert invoke(config, "run", "--once").code == 0
    (case,) = register(config)

    shown = invoke(config, "cases", "show", case["number"]).out
    assert "Réclamation" in shown and "Ma formation a été annulée." in shown
    assert not any(ch in shown for ch in "\x1b\x07\x9b\r"), repr(shown)
    config.write_text(config.read_text().replace("enabled = false  # the tests that want it say so", ""))
    printed = invoke(config, "digest", "--print").out
    assert case["number"] in printed and "\x1b" not in printed and "\x07" not in printed


# --- the database password -----------------------------------------------------------------------


def test_the_database_password_can_come_from_the_environment(
    tmp_path: Path, mail_account: MailAccount, smtp_sink: SmtpSink, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = account_config(tmp_path, mail_account, smtp_sink, database_url=database_url)
    text = config.read_text()
    with_env = text.replace(
        f'url = "{database_url}"', f'url = "{database_url}"\npassword_env = "INBOXBOT_TEST_DB_PASSWORD"'
    )
    config.write_text(with_env)
    monkeypatch.setenv("INBOXBOT_TEST_DB_PASSWORD", "s3cret pass/word")
    if database_url.startswith("sqlite"):
        with pytest.raises(ConfigError, match="database.password"):
            load(config)
        return
    url, given = make_url(load(config).database.url), make_url(database_url)
    assert url.password == "s3cret pass/word"
    assert (url.username, url.host, url.port, url.database) == (given.username, given.host, given.port, given.database)
    assert invoke(config, "run", "--once").code == 0  # the server (trust) accepts it: the URL is well formed
    monkeypatch.delenv("INBOXBOT_TEST_DB_PASSWORD")
    with pytest.raises(ConfigError, match="INBOXBOT_TEST_DB_PASSWORD"):
        load(config)


# --- Message-IDs in Unicode -------------------------------------------------------------------------


def test_a_message_id_in_unicode_is_not_echoed_mangled_and_the_reply_still_threads(
    tmp_path: Path, mail_account: MailAccount, smtp_sink: SmtpSink
) -> None:
    config = account_config(tmp_path, mail_account, smtp_sink, mode="dedicated")
    assert invoke(config, "run", "--once").code == 0
    mail_account.append(
        (
            "From: lea@example.fr\r\nTo: " + DIRECTOR + "\r\nSubject: Réclamation\r\n"
            "Message-ID: <réclamation.1@exemple.fr>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nBonjour\r\n"
        ).encode()
    )
    assert invoke(config, "run", "--once").code == 0
    (ack,) = smtp_sink.wait_for(1)
    headers = message_from_bytes(ack.data, policy=policy.compat32)
    for name in ("In-Reply-To", "References"):
        assert "=?" not in str(headers.get(name, "")), f"{name}: {headers.get(name)}"
    ours = str(headers["Message-ID"])
    mail_account.append(
        make_mail("lea@example.fr", DIRECTOR, "RE: " + ack.subject, "Merci.", in_reply_to=ours, references=[ours])
    )
    assert invoke(config, "run", "--once").code == 0
    (case,) = register(config)
    assert [m["direction"] for m in case["messages"]] == ["in", "out", "in"]
