"""OAuth2 (XOAUTH2) accounts, as Google and Microsoft 365 want them, against loopback stand-ins.

The provider is tests/oauth_server.py (real HTTP on 127.0.0.1, rotating refresh tokens); Dovecot
checks tokens with its oauth2 passdb at the stand-in's tokeninfo endpoint, and the account has
no password at all; the SMTP sink accepts AUTH XOAUTH2 only, and only with a live token.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import queue
import re
import signal
import stat
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import imapclient
import pytest
from databases import fresh_database_url
from e2e import invoke, register, write_config
from imapclient.exceptions import LoginError
from mails import make_mail
from oauth_server import OAuthStandIn
from servers import DovecotServer, SmtpSink

from inboxbot.adapters.oauth import ReauthRequired, TokenSource, read_token_file
from inboxbot.config import ConfigError, OAuthSettings, load

# The XOAUTH2 sink offers AUTH without TLS on purpose (loopback, test only).
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

LEA = "Léa Martin <lea.martin@example.fr>"
_users = itertools.count(1)


@pytest.fixture(scope="module")
def provider() -> Iterator[OAuthStandIn]:
    stand_in = OAuthStandIn()
    stand_in.start()
    yield stand_in
    stand_in.stop()


@pytest.fixture(scope="module")
def oauth_dovecot(server_dir: Callable[[str], Path], provider: OAuthStandIn) -> Iterator[DovecotServer]:
    server = DovecotServer(server_dir("dovecot-oauth2"), oauth2_tokeninfo_url=provider.url("/tokeninfo?access_token="))
    server.start()
    yield server
    server.stop()


@dataclass
class OAuthAccount:
    """A mailbox that exists only for OAuth2: Dovecot has no password for it."""

    user: str
    server: DovecotServer
    provider: OAuthStandIn

    def client(self) -> imapclient.IMAPClient:
        client = imapclient.IMAPClient(self.server.host, self.server.port, ssl=False, timeout=30)
        client.oauth2_login(self.user, self.provider.issue(self.user)[0])
        return client

    def append(self, raw: bytes) -> None:
        with self.client() as client:
            client.append("INBOX", raw)


@pytest.fixture
def account(oauth_dovecot: DovecotServer, provider: OAuthStandIn) -> OAuthAccount:
    return OAuthAccount(f"director{next(_users)}@cafemetrie.example", oauth_dovecot, provider)


@pytest.fixture
def sink(provider: OAuthStandIn) -> Iterator[SmtpSink]:
    server = SmtpSink(xoauth2=provider.valid)
    server.start()
    yield server
    server.stop()


def oauth_config(
    directory: Path, account: OAuthAccount, sink: SmtpSink, oauth2: str, provider_name: str = "custom"
) -> Path:
    """A config whose IMAP and SMTP sign in with OAuth2 only (no password anywhere)."""
    stand_in = account.provider
    path = write_config(
        directory,
        imap_host=account.server.host,
        imap_port=account.server.port,
        username=account.user,
        password="unused",
        smtp_port=sink.port,
        database_url=fresh_database_url(directory),
        address=account.user,
        mode="dedicated",
        # Mail already there at the first start is read too (by default it would be left alone).
        imap_extra=f'auth = "oauth2"\ningest_since = "{date.today() - timedelta(days=1)}"',
        extra=f"""
[oauth2]
provider = "{provider_name}"
client_id = "{stand_in.client_id}"
client_secret = "{stand_in.client_secret}"
token_url = "{stand_in.url("/token")}"
{oauth2}
""",
    )
    path.write_text(path.read_text(encoding="utf-8").replace('password = "unused"\n', ""), encoding="utf-8")
    return path


def complaint(subject: str) -> bytes:
    return make_mail(LEA, "Direction <direction@cafemetrie.example>", subject, "Bonjour, je souhaite me plaindre.")


def backdate(token_file: Path) -> None:
    """An hour has passed: the saved access token is past its expiry."""
    data = json.loads(token_file.read_text(encoding="utf-8"))
    data["expires_at"] = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    token_file.write_text(json.dumps(data), encoding="utf-8")


# -- config ---------------------------------------------------------------------------------


BASE = """
[organisation]
name = "Cafémétrie"
[imap]
host = "imap.example.com"
username = "direction@cafemetrie.example"
auth = "oauth2"
[smtp]
host = "smtp.example.com"
from_address = "direction@cafemetrie.example"
[director]
addresses = ["direction@cafemetrie.example"]
[database]
[storage]
"""


def load_text(tmp_path: Path, text: str) -> OAuthSettings:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    settings = load(path)
    assert settings.imap.oauth2 is not None and settings.smtp.oauth2 is settings.imap.oauth2
    return settings.imap.oauth2


def test_provider_presets_and_secrets_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_OAUTH_SECRET", "from-env")
    microsoft = load_text(
        tmp_path,
        BASE + '[oauth2]\nprovider = "microsoft"\ntenant = "contoso.onmicrosoft.com"\nclient_id = "abc"\n'
        'client_secret_env = "TEST_OAUTH_SECRET"\n',
    )
    assert microsoft.token_url == "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
    assert microsoft.device_url and microsoft.device_url.endswith("/contoso.onmicrosoft.com/oauth2/v2.0/devicecode")
    assert "offline_access" in microsoft.scopes and microsoft.client_secret == "from-env"
    assert microsoft.token_file == tmp_path / "oauth2-token.json"
    google = load_text(tmp_path, BASE + '[oauth2]\nprovider = "google"\nclient_id = "abc"\n')
    assert google.token_url == "https://oauth2.googleapis.com/token" and google.device_url is None
    assert google.scopes == ("https://mail.google.com/",)
    assert load(tmp_path / "config.toml").smtp.username == "direction@cafemetrie.example"


@pytest.mark.parametrize(
    ("oauth2", "key"),
    [
        (None, "oauth2: missing section"),
        ('provider = "custom"\nclient_id = "a"', "oauth2.token_url: missing"),
        ('provider = "yahoo"\nclient_id = "a"', "oauth2.provider: expected one of google, microsoft, custom"),
        ('provider = "google"', "oauth2.client_id: missing"),
        ('provider = "google"\nclient_id = "a"\ntenant = "x"', "oauth2.tenant: only used with"),
        (
            'provider = "custom"\nclient_id = "a"\ntoken_url = "http://idp.example.com/t"',
            "oauth2.token_url: expected an https",
        ),
        (
            'provider = "google"\nclient_id = "a"\nrefresh_token_env = "NOT_SET_ANYWHERE"',
            "oauth2.refresh_token_env: environment",
        ),
    ],
)
def test_oauth2_config_errors_name_the_key(tmp_path: Path, oauth2: str | None, key: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(BASE + ("" if oauth2 is None else f"[oauth2]\n{oauth2}\n"), encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(key)):
        load(path)


def test_a_password_left_beside_oauth2_is_named(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        BASE.replace('auth = "oauth2"', 'auth = "oauth2"\npassword = "x"')
        + '[oauth2]\nprovider = "google"\nclient_id = "a"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=re.escape('imap.password: not used with imap.auth = "oauth2"')):
        load(path)


def test_auth_names_the_key_when_the_config_does_not_ask_for_oauth2(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(BASE.replace('auth = "oauth2"', 'password = "x"'), encoding="utf-8")
    result = invoke(path, "auth", "google")
    assert result.code == 2 and 'imap.auth: set auth = "oauth2"' in result.err
    path.write_text(BASE + '[oauth2]\nprovider = "microsoft"\nclient_id = "a"\n', encoding="utf-8")
    result = invoke(path, "auth", "google")
    assert result.code == 2 and "oauth2.provider: the config says 'microsoft', not 'google'" in result.err


# -- the token source, with the clock passed in ------------------------------------------------


def test_tokens_are_refreshed_before_expiry_and_the_rotated_refresh_token_is_kept(
    tmp_path: Path, provider: OAuthStandIn
) -> None:
    user = f"clock{next(_users)}@cafemetrie.example"
    _, first_refresh = provider.issue(user)
    refused = len(provider.refused)
    settings = OAuthSettings(
        provider="custom",
        client_id=provider.client_id,
        client_secret=provider.client_secret,
        refresh_token=first_refresh,
        token_url=provider.url("/token"),
        token_file=tmp_path / "tokens" / "oauth2-token.json",
    )
    now = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
    source = TokenSource(settings, clock=lambda: now)

    token = source.access_token()
    assert provider.refreshes(user) == 1 and provider.valid(user, token)
    saved = read_token_file(settings.token_file)
    assert saved is not None and saved.refresh_token != first_refresh
    assert first_refresh not in provider.refresh  # rotated: the config's token is dead now
    assert stat.S_IMODE(settings.token_file.stat().st_mode) == 0o600

    start = now
    now = start + timedelta(minutes=54)  # the stand-in's tokens live an hour
    assert source.access_token() == token and provider.refreshes(user) == 1  # still good: no request
    now = start + timedelta(minutes=58)  # not expired yet, but too close to it to start a login with
    second = source.access_token()
    assert second != token and provider.refreshes(user) == 2

    # A new process (a restart) starts from the file, not from the config's dead refresh token.
    now += timedelta(hours=2)
    assert provider.valid(user, TokenSource(settings, clock=lambda: now).access_token())
    assert provider.refused[refused:] == [] and provider.refreshes(user) == 3

    # Someone pastes a new refresh token into the config: it wins over the file's.
    _, pasted = provider.issue(user)
    replaced = TokenSource(dataclasses.replace(settings, refresh_token=pasted), clock=lambda: now + timedelta(hours=5))
    replaced.access_token()
    assert pasted not in provider.refresh and provider.refused[refused:] == []

    provider.revoke(user)
    with pytest.raises(ReauthRequired, match=re.escape("run `inboxbot auth custom` to sign in again")):
        TokenSource(settings, clock=lambda: now + timedelta(hours=9)).access_token()


def test_a_refresh_token_that_is_not_rotated_is_kept(
    tmp_path: Path, provider: OAuthStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Google answers a refresh without a new refresh token: the one we have stays the one to use."""
    monkeypatch.setattr(provider, "rotate", False)
    user = f"google{next(_users)}@cafemetrie.example"
    refresh = provider.issue(user)[1]
    settings = OAuthSettings(
        provider="google",
        client_id=provider.client_id,
        client_secret=provider.client_secret,
        refresh_token=refresh,
        token_url=provider.url("/token"),
        token_file=tmp_path / "oauth2-token.json",
    )
    now = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
    for hour in range(3):
        assert provider.valid(user, TokenSource(settings, clock=lambda h=hour: now + timedelta(hours=h)).access_token())
    saved = read_token_file(settings.token_file)
    assert saved is not None and saved.refresh_token == refresh and provider.refreshes(user) == 3


def test_two_processes_refreshing_at_once_do_not_lose_the_rotated_refresh_token(
    tmp_path: Path, provider: OAuthStandIn
) -> None:
    """The daemon and `inboxbot check` may both find the token expired at the same moment.

    Without the lock both would send the same refresh token; the stand-in (like a strict provider)
    accepts it once, so the second would be told to sign in again.
    """
    refused = len(provider.refused)
    for round in range(5):
        user = f"race{next(_users)}@cafemetrie.example"
        settings = OAuthSettings(
            provider="custom",
            client_id=provider.client_id,
            client_secret=provider.client_secret,
            refresh_token=provider.issue(user)[1],
            token_url=provider.url("/token"),
            token_file=tmp_path / f"oauth2-token-{round}.json",
        )
        barrier = threading.Barrier(3)
        tokens: list[str] = []

        def refresh(settings: OAuthSettings, barrier: threading.Barrier, tokens: list[str]) -> None:
            source = TokenSource(settings)  # one per thread, as in two processes
            barrier.wait()
            tokens.append(source.access_token())

        threads = [threading.Thread(target=refresh, args=(settings, barrier, tokens)) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert len(tokens) == 3 and len(set(tokens)) == 1 and provider.valid(user, tokens[0])
        assert provider.refreshes(user) == 1
    assert provider.refused[refused:] == []


# -- end to end ------------------------------------------------------------------------------


def test_a_mailbox_that_only_accepts_oauth2_is_read_and_answered(
    tmp_path: Path, account: OAuthAccount, sink: SmtpSink, provider: OAuthStandIn
) -> None:
    _, refresh = provider.issue(account.user)
    refused = len(provider.refused)  # the stand-in serves every test of this module
    config = oauth_config(tmp_path, account, sink, f'refresh_token = "{refresh}"')
    token_file = tmp_path / "oauth2-token.json"
    client = imapclient.IMAPClient(account.server.host, account.server.port, ssl=False)
    try:
        with pytest.raises(LoginError):  # no password works for this account
            client.login(account.user, refresh)
    finally:
        client.shutdown()

    account.append(complaint("Attestation de formation non reçue"))
    result = invoke(config, "run", "--once")
    assert result.code == 0, result.err
    (ack,) = sink.wait_for(1)
    assert "Attestation" in ack.subject and ack.rcpt_tos == ["lea.martin@example.fr"]
    assert [accepted for _, _, accepted in sink.xoauth2_attempts] == [True]
    assert provider.refreshes(account.user) == 1  # one refresh served both IMAP and SMTP
    saved = read_token_file(token_file)
    assert saved is not None and saved.refresh_token in provider.refresh and refresh not in provider.refresh
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600

    # An hour later the access token has expired: refreshed first, with the rotated refresh token.
    provider.expire_access_tokens()
    backdate(token_file)
    account.append(complaint("Salle trop froide"))
    assert invoke(config, "run", "--once").code == 0
    sink.wait_for(2)
    assert provider.refreshes(account.user) == 2 and provider.refused[refused:] == []
    assert all(accepted for _, _, accepted in sink.xoauth2_attempts)

    # Revoked before its expiry (the file still trusts it): IMAP refuses it, one refresh, one retry.
    provider.expire_access_tokens()
    account.append(complaint("Support de cours manquant"))
    result = invoke(config, "run", "--once")
    assert result.code == 0, result.err
    sink.wait_for(3)
    assert provider.refreshes(account.user) == 3

    # The same on SMTP alone: an oral claim is acknowledged without touching IMAP.
    provider.expire_access_tokens()
    result = invoke(config, "cases", "add", "--subject", "Appel téléphonique", "--claimant", "paul@example.fr")
    assert result.code == 0 and "accusé de réception envoyé" in result.out, result.out + result.err
    sink.wait_for(4)
    assert [accepted for _, _, accepted in sink.xoauth2_attempts[-2:]] == [False, True]
    assert provider.refreshes(account.user) == 4 and provider.refused[refused:] == []
    assert len(register(config)) == 4


class Command:
    """`python -m inboxbot …` in its own process, its output read line by line as a person would."""

    def __init__(self, config: Path, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "inboxbot", "--config", str(config), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def wait_for_line(self, pattern: str, timeout: float = 60) -> re.Match[str]:
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                self.process.kill()
                raise AssertionError(f"no line matching {pattern!r}; got:\n{''.join(self.seen)}") from None
            self.seen.append(line)
            match = re.search(pattern, line)
            if match:
                return match

    def finish(self, timeout: float = 60) -> int:
        code = self.process.wait(timeout)
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return code


def test_a_revoked_sign_in_says_what_to_do_and_loses_nothing(
    tmp_path: Path, account: OAuthAccount, sink: SmtpSink, provider: OAuthStandIn
) -> None:
    """Microsoft's way: a tenant, the device-code sign-in, rotating refresh tokens."""
    _, refresh = provider.issue(account.user)
    config = oauth_config(
        tmp_path,
        account,
        sink,
        f'tenant = "cafemetrie.onmicrosoft.com"\ndevice_url = "{provider.url("/devicecode")}"\n'
        f'refresh_token = "{refresh}"',
        provider_name="microsoft",
    )
    account.append(complaint("Formateur absent"))
    provider.revoke(account.user)

    result = invoke(config, "run", "--once")
    assert result.code == 2
    assert "sign-in has expired or was revoked" in result.err and "run `inboxbot auth microsoft`" in result.err
    assert sink.messages == []
    check = invoke(config, "check")
    assert check.code == 1 and "error: oauth2: the microsoft sign-in has expired or was revoked" in check.out

    command = Command(config, "auth", "microsoft")
    found = command.wait_for_line(r"open (\S+) and enter the code (\S+)")
    page, code = found.group(1), found.group(2)
    with urllib.request.urlopen(f"{page}?user_code={code}&login={account.user}", timeout=30) as approved:
        assert approved.status == 200
    assert command.finish() == 0, "".join(command.seen)
    assert any("Signed in" in line for line in command.seen)

    result = invoke(config, "run", "--once")
    assert result.code == 0, result.err
    (ack,) = sink.wait_for(1)
    assert "Formateur absent" in ack.subject  # the mail that waited during the outage
    check = invoke(config, "check")
    assert check.code == 0, check.out
    assert (
        "oauth2: microsoft sign-in works" in check.out and "logged in as " + account.user + " with OAuth2" in check.out
    )


def test_google_sign_in_through_the_browser_on_this_machine(
    tmp_path: Path, account: OAuthAccount, sink: SmtpSink, provider: OAuthStandIn
) -> None:
    config = oauth_config(
        tmp_path, account, sink, f'authorize_url = "{provider.url("/authorize")}"', provider_name="google"
    )
    check = invoke(config, "check")
    assert check.code == 1 and "no refresh token yet: run `inboxbot auth google`" in check.out

    command = Command(config, "auth", "google")
    url = command.wait_for_line(r"^(http://\S+/authorize\?\S+)$").group(1)
    assert "code_challenge_method=S256" in url and "access_type=offline" in url
    # The test is the browser: the provider redirects it to inboxbot's listener on 127.0.0.1.
    with urllib.request.urlopen(url, timeout=30) as page:
        assert "Connexion réussie" in page.read().decode("utf-8")
    assert command.finish() == 0, "".join(command.seen)
    assert ("authorization_code", account.user) in provider.grants

    account.append(complaint("Convocation jamais reçue"))
    assert invoke(config, "run", "--once").code == 0
    (ack,) = sink.wait_for(1)
    assert "Convocation" in ack.subject


def test_the_daemon_waits_out_a_revoked_sign_in_and_picks_up_the_new_one(
    tmp_path: Path, account: OAuthAccount, sink: SmtpSink, provider: OAuthStandIn
) -> None:
    """The daemon keeps running while someone signs in again; the mail that waited is then answered."""
    _, refresh = provider.issue(account.user)
    config = oauth_config(
        tmp_path, account, sink, f'device_url = "{provider.url("/devicecode")}"\nrefresh_token = "{refresh}"'
    )
    config.write_text(config.read_text(encoding="utf-8").replace("[imap]\n", "[imap]\npoll_interval = 1\n"))
    account.append(complaint("Facture erronée"))
    provider.revoke(account.user)
    log = tmp_path / "daemon.log"
    with log.open("wb") as output:
        daemon = subprocess.Popen(
            [sys.executable, "-m", "inboxbot", "--config", str(config), "run"], stdout=output, stderr=subprocess.STDOUT
        )
    try:
        deadline = datetime.now(UTC) + timedelta(seconds=60)
        while "run `inboxbot auth custom`" not in log.read_text(errors="replace"):
            assert datetime.now(UTC) < deadline and daemon.poll() is None, log.read_text(errors="replace")
            threading.Event().wait(0.05)

        command = Command(config, "auth", "custom")
        found = command.wait_for_line(r"open (\S+) and enter the code (\S+)")
        urllib.request.urlopen(f"{found.group(1)}?user_code={found.group(2)}&login={account.user}", timeout=30).close()
        assert command.finish() == 0, "".join(command.seen)

        (ack,) = sink.wait_for(1, timeout=60)
        assert "Facture erronée" in ack.subject
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=30) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()
    text = log.read_text(errors="replace")
    # Logged once when it starts (by the mail cycle, and by the IDLE watcher), not at every retry.
    assert text.count("mail cycle failing: MailboxError: IMAP") == 1, text
    assert "sign-in has expired or was revoked" in text and "mail cycle recovered" in text
    assert "Traceback" not in text
