"""`inboxbot init`: a first config from a few answers (on standard input, or flags), then `check`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import MailAccount
from servers import SmtpSink

from inboxbot.cli.init import render
from inboxbot.cli.providers import PROVIDERS, Endpoint, resolve
from inboxbot.config import load


def init(
    directory: Path, *args: str, answers: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "inboxbot", "--config", str(directory / "config.toml"), "init", *args],
        input=answers,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        cwd=directory,
    )


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_answers_on_stdin_for_another_provider_write_a_config_that_checks(
    tmp_path: Path, mail_account: MailAccount
) -> None:
    smtp_sink = SmtpSink(credentials=(mail_account.username, mail_account.password))
    smtp_sink.start()
    try:
        answer_and_check(tmp_path, mail_account, smtp_sink)
    finally:
        smtp_sink.stop()


def answer_and_check(tmp_path: Path, mail_account: MailAccount, smtp_sink: SmtpSink) -> None:
    answers = "\n".join(
        [
            "Cafémétrie",  # organisation
            "alice@cafemetrie.example",  # mailbox address
            "other",  # provider
            mail_account.host,  # IMAP server
            "plain",  # IMAP security (loopback test server)
            str(mail_account.port),
            "127.0.0.1",  # SMTP server
            "plain",
            str(smtp_sink.port),
            mail_account.username,  # login name
            mail_account.password,  # password
            "alice@cafemetrie.example, marc@cafemetrie.example",  # directors
            "",  # mode: shared
        ]
    )
    done = init(tmp_path, answers=answers + "\n")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "all good" in done.stdout
    assert f"IMAP {mail_account.host}:{mail_account.port}: logged in as {mail_account.username}" in done.stdout
    path = tmp_path / "config.toml"
    assert path.stat().st_mode & 0o777 == 0o600
    settings = load(path)
    assert (settings.imap.port, settings.imap.username, settings.imap.password) == (
        mail_account.port,
        mail_account.username,
        mail_account.password,
    )
    assert settings.director.addresses == ("alice@cafemetrie.example", "marc@cafemetrie.example")
    assert settings.organisation.name == "Cafémétrie" and settings.imap.mode == "shared"
    assert settings.database.url == f"sqlite:///{tmp_path / 'inboxbot.db'}"
    assert "# ingest_since" in path.read_text(encoding="utf-8")  # the example's comments are kept


def test_flags_alone_write_a_gmail_config_pointing_to_oauth2(tmp_path: Path) -> None:
    done = init(
        tmp_path,
        "--organisation",
        "Cafémétrie",
        "--address",
        "Alice@Cafemetrie.fr",
        "--provider",
        "gmail",
        "--password-env",
        "GMAIL_APP_PASSWORD",
        "--director",
        "alice@cafemetrie.fr",
        "--username",
        "alice@cafemetrie.fr",
        "--mode",
        "dedicated",
        "--no-check",
    )
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "config.toml").read_text(encoding="utf-8")
    assert "OAuth2" in text and "README.md" in text
    os.environ["GMAIL_APP_PASSWORD"] = "x"
    try:
        settings = load(tmp_path / "config.toml")
    finally:
        del os.environ["GMAIL_APP_PASSWORD"]
    assert (settings.imap.host, settings.imap.port, settings.imap.security) == ("imap.gmail.com", 993, "tls")
    assert (settings.smtp.host, settings.smtp.port, settings.smtp.security) == ("smtp.gmail.com", 465, "tls")
    assert settings.smtp.from_address == "alice@cafemetrie.fr" and settings.imap.mode == "dedicated"
    assert not settings.imap.save_sent


def test_an_existing_config_is_not_overwritten_without_force(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("# mine\n", encoding="utf-8")
    flags = ["--organisation", "X", "--address", "a@b.fr", "--provider", "ovh", "--password", "p", "--no-check"]
    flags += ["--director", "a@b.fr", "--mode", "shared", "--username", "a@b.fr"]
    refused = init(tmp_path, *flags)
    assert refused.returncode == 2
    assert "already exists" in refused.stderr and "--force" in refused.stderr
    assert path.read_text(encoding="utf-8") == "# mine\n"
    forced = init(tmp_path, *flags, "--force")
    assert forced.returncode == 0, forced.stderr
    assert load(path).imap.host == "ssl0.ovh.net"


def test_a_missing_answer_names_its_flag(tmp_path: Path) -> None:
    done = init(tmp_path, "--organisation", "X", answers="a@b.fr\n")
    assert done.returncode == 2
    assert "give --provider" in done.stderr
    assert not (tmp_path / "config.toml").exists()


@pytest.mark.parametrize("provider", [p for p in PROVIDERS if p.imap is not None], ids=lambda p: p.key)
def test_every_preset_makes_a_config_the_loader_accepts(tmp_path: Path, provider: object) -> None:
    from inboxbot.cli.providers import Provider

    assert isinstance(provider, Provider) and provider.imap and provider.smtp
    address = "alice@cafemetrie.fr"
    path = tmp_path / "config.toml"
    path.write_text(
        render(
            organisation="Cafémétrie",
            address=address,
            provider=provider,
            imap=resolve(provider.imap, address),
            smtp=resolve(provider.smtp, address),
            username=address,
            secret_line='password = "x"',
            directors=[address],
            mode="shared",
        ),
        encoding="utf-8",
    )
    settings = load(path)
    assert settings.imap.host == resolve(provider.imap, address).host and "{" not in settings.imap.host
    assert settings.imap.port == 993 and settings.imap.security == "tls"
    assert (settings.smtp.port, settings.smtp.security) in ((465, "tls"), (587, "starttls"))


def test_presets_name_the_providers_french_organisations_use() -> None:
    keys = {p.key for p in PROVIDERS}
    assert {
        "gmail",
        "microsoft365",
        "ovh",
        "ionos",
        "orange",
        "free",
        "gandi",
        "infomaniak",
        "o2switch",
        "other",
    } <= keys
    assert all(p.note and "OAuth2" in p.note for p in PROVIDERS if p.oauth)
    assert resolve(Endpoint("mail.{domain}", 993, "tls"), "a@cafe.fr").host == "mail.cafe.fr"
