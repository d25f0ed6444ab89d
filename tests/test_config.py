"""The config file: the minimal one runs, the example is valid, every error names its key."""

from datetime import date, time
from pathlib import Path

import pytest

from inboxbot.bootstrap import load_recognizer
from inboxbot.config import ConfigError, load

ROOT = Path(__file__).resolve().parent.parent

MINIMAL = """
[organisation]
name = "Cafémétrie"
timezone = "Europe/Paris"

[imap]
host = "127.0.0.1"
port = 1143
security = "plain"
username = "alice"
password = "secret"
inbox_folder = "INBOX"
mode = "dedicated"

[smtp]
host = "127.0.0.1"
port = 1025
security = "plain"
from_address = "Alice@Cafemetrie.com"
from_name = "Cafémétrie"

[director]
addresses = ["alice@cafemetrie.com"]
digest_time = "08:00"

[database]
url = "sqlite:///inboxbot.db"

[storage]
archive_dir = "archive"
retention_years = 3
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_minimal_config_loads_with_defaults(tmp_path: Path) -> None:
    settings = load(write(tmp_path, MINIMAL))
    assert settings.imap.mode == "dedicated" and settings.imap.password == "secret"
    assert settings.imap.sent_folder is None and settings.imap.ingest_since is None
    assert settings.smtp.from_address == "alice@cafemetrie.com"
    assert settings.director.digest_time == time(8, 0)
    assert settings.deadlines.acknowledge_working_days == 15 and settings.deadlines.response_days == 30
    # Relative paths are relative to the config file, not to where the program was started.
    assert settings.database.url == f"sqlite:///{tmp_path / 'inboxbot.db'}"
    assert settings.storage.archive_dir == tmp_path / "archive"


def test_the_example_config_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INBOXBOT_IMAP_PASSWORD", "x")
    monkeypatch.setenv("INBOXBOT_SMTP_PASSWORD", "y")
    settings = load(ROOT / "config.example.toml")
    assert settings.imap.password == "x" and settings.smtp.password == "y"
    assert settings.imap.mode == "shared"


def test_password_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = MINIMAL.replace('password = "secret"', 'password_env = "MY_IMAP_PW"')
    monkeypatch.setenv("MY_IMAP_PW", "from-env")
    assert load(write(tmp_path, text)).imap.password == "from-env"
    monkeypatch.delenv("MY_IMAP_PW")
    with pytest.raises(ConfigError, match=r"imap\.password_env: environment variable MY_IMAP_PW is not set"):
        load(write(tmp_path, text))


def test_the_password_never_shows_in_the_settings_repr(tmp_path: Path) -> None:
    assert "secret" not in repr(load(write(tmp_path, MINIMAL)))


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("port = 1143", 'port = "1143"', r"imap\.port: expected a whole number, got '1143'"),
        ("port = 1143", "port = 70000", r"imap\.port: must be at most 65535"),
        (
            'security = "plain"\nusername',
            'security = "ssl"\nusername',
            r"imap\.security: expected one of tls, starttls, plain",
        ),
        ('mode = "dedicated"', 'mode = "personal"', r"imap\.mode: expected one of dedicated, shared"),
        ('host = "127.0.0.1"\nport = 1143', "port = 1143", r"imap\.host: missing"),
        (
            'timezone = "Europe/Paris"',
            'timezone = "Europe/Pariss"',
            r"organisation\.timezone: expected an IANA time zone",
        ),
        ('digest_time = "08:00"', 'digest_time = "8h"', r"director\.digest_time: expected a time"),
        ('addresses = ["alice@cafemetrie.com"]', "addresses = []", r"director\.addresses: give at least one address"),
        (
            'addresses = ["alice@cafemetrie.com"]',
            'addresses = ["alice"]',
            r"director\.addresses: expected an email address",
        ),
        (
            "retention_years = 3",
            "retention_years = 2",
            r"storage\.retention_years: the procedure keeps records at least 3 years",
        ),
        ('mode = "dedicated"', 'mode = "dedicated"\npoll_intervall = 5', r"imap\.poll_intervall: unknown key"),
        ("[database]", "[databse]", r"databse: unknown key|database: missing section"),
        ('password = "secret"', "", r"imap\.password: missing; give password or password_env"),
        (
            'mode = "dedicated"',
            'mode = "shared"\nopen_on_words = "yes"',
            r"imap\.open_on_words: expected true or false",
        ),
    ],
)
def test_errors_name_the_key(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in MINIMAL
    with pytest.raises(ConfigError, match=message):
        load(write(tmp_path, MINIMAL.replace(old, new, 1)))


def test_open_on_words_reaches_the_recognition_and_defaults_to_the_vocabulary(tmp_path: Path) -> None:
    """Unset, the shipped vocabulary decides (only formal claims open); set, it wins over the vocabulary."""
    shared = MINIMAL.replace('mode = "dedicated"', 'mode = "shared"')
    assert load_recognizer(load(write(tmp_path, shared))).settings.open_on_words is False
    widened = shared.replace('mode = "shared"', 'mode = "shared"\nopen_on_words = true')
    assert load_recognizer(load(write(tmp_path, widened))).settings.open_on_words is True


def test_ingest_since_accepts_a_toml_date_or_a_string(tmp_path: Path) -> None:
    for value in ("2026-09-01", '"2026-09-01"'):
        text = MINIMAL.replace('mode = "dedicated"', f'mode = "dedicated"\ningest_since = {value}')
        assert load(write(tmp_path, text)).imap.ingest_since == date(2026, 9, 1)


def test_syntax_errors_and_missing_files_are_plain(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load(write(tmp_path, "[imap\nhost = 1"))
    with pytest.raises(ConfigError, match="file not found"):
        load(tmp_path / "nope.toml")


def test_the_readme_lists_every_command_of_the_vocabulary() -> None:
    from inboxbot.domain.mail_commands import COMMANDS

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for spec in COMMANDS:
        assert f"`#{spec.words[0]}`" in readme, spec.name


def test_plain_text_only_to_this_machine_unless_allowed(tmp_path: Path) -> None:
    remote = MINIMAL.replace('host = "127.0.0.1"\nport = 1143', 'host = "imap.example.org"\nport = 1143')
    with pytest.raises(
        ConfigError, match=r"imap\.security: \"plain\" sends the password unencrypted to imap\.example\.org"
    ):
        load(write(tmp_path, remote))
    allowed = remote.replace('mode = "dedicated"', 'mode = "dedicated"\nallow_plain = true')
    assert load(write(tmp_path, allowed)).imap.host == "imap.example.org"
    for host in ("localhost", "::1", "127.0.0.2"):
        assert (
            load(
                write(tmp_path, MINIMAL.replace('host = "127.0.0.1"\nport = 1143', f'host = "{host}"\nport = 1143'))
            ).imap.host
            == host
        )


def test_closures_and_the_mediator_are_read_and_a_wrong_closure_names_its_key(tmp_path: Path) -> None:
    extra = (
        '\n[deadlines]\nclosures = [["2026-08-03", "2026-08-14"], 2026-12-24]\n'
        '\n[mediator]\nname = "Médiation Exemple"\ncontact = "https://mediation.example"\n'
    )
    settings = load(write(tmp_path, MINIMAL + extra))
    assert settings.deadlines.closures == (
        (date(2026, 8, 3), date(2026, 8, 14)),
        (date(2026, 12, 24), date(2026, 12, 24)),
    )
    assert (settings.mediator.name, settings.mediator.contact) == ("Médiation Exemple", "https://mediation.example")
    assert load(write(tmp_path, MINIMAL)).mediator.name == ""  # none appointed: none named
    with pytest.raises(ConfigError, match=r"deadlines\.closures: a closure ends before it starts"):
        load(write(tmp_path, MINIMAL + '\n[deadlines]\nclosures = [["2026-08-14", "2026-08-03"]]\n'))
    with pytest.raises(ConfigError, match=r"deadlines\.closures: expected a day"):
        load(write(tmp_path, MINIMAL + '\n[deadlines]\nclosures = ["août"]\n'))
