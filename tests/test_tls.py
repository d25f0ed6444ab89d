"""TLS is verified by default, a private CA can be trusted with ca_file, and check names the failure."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from databases import fresh_database_url
from e2e import invoke, write_config
from mails import make_mail
from servers import DovecotServer, SmtpSink, free_port

from inboxbot.cli.check import CheckFailed, _check_smtp
from inboxbot.config import Settings, settings_from_mapping
from inboxbot.domain.cases import OutgoingMail
from inboxbot.outgoing.outbox import SendResult
from inboxbot.outgoing.smtp import SmtpSender

LEA_ADDRESS = "lea.martin@example.fr"
LEA = f"Léa Martin <{LEA_ADDRESS}>"


class Keep:
    def __init__(self) -> None:
        self.received: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        self.received.append(envelope.content)
        return "250 OK"


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_sink(ca: trustme.CA) -> Iterator[tuple[Controller, Keep]]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    keep = Keep()
    controller = Controller(keep, hostname="127.0.0.1", port=free_port(), ssl_context=context)
    controller.start()
    yield controller, keep
    controller.stop()


def settings(tmp_path: Path, port: int, ca_file: Path | None) -> Settings:
    smtp: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "security": "tls",
        "from_address": "alice@cafemetrie.example",
    }
    if ca_file is not None:
        smtp["ca_file"] = str(ca_file)
    return settings_from_mapping(
        {
            "organisation": {"name": "Cafémétrie"},
            "imap": {"host": "127.0.0.1", "port": 1, "security": "plain", "username": "a", "password": "b"},
            "smtp": smtp,
            "director": {"addresses": ["alice@cafemetrie.example"]},
            "database": {"url": fresh_database_url(tmp_path)},
            "storage": {"archive_dir": str(tmp_path / "archive")},
        },
        tmp_path,
    )


def send(config: Settings) -> SendResult:
    mail = OutgoingMail(
        1, "inboxbot.1@x", "lea@example.fr", "alice@cafemetrie.example", b"Subject: x\r\n\r\nx\r\n", 0, None, "test"
    )
    results: list[SendResult] = []
    SmtpSender(config.smtp).send([mail], results.append)
    (result,) = results
    return result


def test_an_unknown_certificate_is_refused_and_a_trusted_ca_file_is_accepted(
    tmp_path: Path, ca: trustme.CA, tls_sink: tuple[Controller, Keep]
) -> None:
    controller, keep = tls_sink
    refused = send(settings(tmp_path, controller.port, None))
    assert not refused.accepted and not refused.permanent  # retried later, never sent unverified
    assert "CERTIFICATE_VERIFY_FAILED" in refused.error or "certificate verify failed" in refused.error
    assert keep.received == []

    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    accepted = send(settings(tmp_path, controller.port, ca_file))
    assert accepted.accepted, accepted.error
    assert len(keep.received) == 1


def test_check_names_the_host_and_the_certificate_problem(
    tmp_path: Path, ca: trustme.CA, tls_sink: tuple[Controller, Keep]
) -> None:
    controller, _keep = tls_sink
    with pytest.raises(
        CheckFailed, match=rf"SMTP 127\.0\.0\.1:{controller.port}: TLS failed: .*CERTIFICATE_VERIFY_FAILED"
    ):
        _check_smtp(settings(tmp_path, controller.port, None))
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    assert "connected (tls)" in _check_smtp(settings(tmp_path, controller.port, ca_file))


def test_a_missing_ca_file_is_a_config_error_naming_the_key(tmp_path: Path) -> None:
    from inboxbot.config import ConfigError

    with pytest.raises(ConfigError, match=r"smtp\.ca_file: no such file"):
        settings(tmp_path, 465, tmp_path / "nope.pem")


# -- Dovecot with a certificate made by the tests: implicit TLS and STARTTLS for IMAP ---------------


@pytest.fixture(scope="module")
def tls_dovecot(server_dir: Any) -> Iterator[tuple[DovecotServer, Path]]:
    """A Dovecot offering implicit TLS on `tls_port` and STARTTLS on `port`; the CA file beside it.

    The certificate names 127.0.0.1 only, so connecting as "localhost" is a hostname mismatch.
    """
    base = server_dir("dovecot-tls")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.cert_chain_pems[0].write_to_path(str(base / "cert.pem"))
    cert.private_key_pem.write_to_path(str(base / "key.pem"))
    ca.cert_pem.write_to_path(str(base / "ca.pem"))
    server = DovecotServer(base / "dovecot", tls_cert=base / "cert.pem", tls_key=base / "key.pem")
    server.start()
    server.add_user("alice", "secret")
    yield server, base / "ca.pem"
    server.stop()


def tls_config(
    directory: Path, user: str, port: int, security: str, sink_port: int, ca_file: Path | None, host: str = "127.0.0.1"
) -> Path:
    """A dedicated mailbox reading everything since 2000, so the test's one claim is new mail to it."""
    directory.mkdir(exist_ok=True)
    options = ['ingest_since = "2000-01-01"'] + ([f'ca_file = "{ca_file}"'] if ca_file else [])
    path = write_config(
        directory,
        imap_host=host,
        imap_port=port,
        username=user,
        password="secret",
        smtp_port=sink_port,
        database_url=fresh_database_url(directory),
        mode="dedicated",
        imap_extra="\n".join(options),
    )
    text = path.read_text(encoding="utf-8").replace('security = "plain"', f'security = "{security}"', 1)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("security", "port_attr"), [("tls", "tls_port"), ("starttls", "port")])
def test_imap_tls_is_verified_and_a_ca_file_makes_it_work(
    tmp_path: Path, tls_dovecot: tuple[DovecotServer, Path], smtp_sink: SmtpSink, security: str, port_attr: str
) -> None:
    server, ca_file = tls_dovecot
    port = getattr(server, port_attr)
    user = f"alice-{security}"
    server.add_user(user, "secret")
    server.append(user, "secret", "INBOX", make_mail(LEA, "alice@cafemetrie.example", "Attestation", "Bonjour"))

    # Unknown CA: refused, naming the host and the reason; nothing read, nothing sent.
    untrusted = tls_config(tmp_path / "untrusted", user, port, security, smtp_sink.port, None)
    refused = invoke(untrusted, "run", "--once")
    assert refused.code == 2, refused
    assert f"IMAP 127.0.0.1:{port}: TLS failed: CERTIFICATE_VERIFY_FAILED" in refused.err
    assert "unable to get local issuer certificate" in refused.err
    checked = invoke(untrusted, "check")
    assert checked.code == 1
    assert f"error: IMAP 127.0.0.1:{port}: TLS failed: CERTIFICATE_VERIFY_FAILED" in checked.out

    # A trusted CA but another name than the certificate's: refused too.
    mismatch = tls_config(tmp_path / "mismatch", user, port, security, smtp_sink.port, ca_file, host="localhost")
    refused = invoke(mismatch, "run", "--once")
    assert refused.code == 2, refused
    assert f"IMAP localhost:{port}: TLS failed: CERTIFICATE_VERIFY_FAILED: Hostname mismatch" in refused.err
    assert smtp_sink.messages == []
    assert not list((tmp_path / "untrusted" / "archive").rglob("*.eml"))

    trusted = tls_config(tmp_path / "trusted", user, port, security, smtp_sink.port, ca_file)
    checked = invoke(trusted, "check")
    assert f"IMAP 127.0.0.1:{port}: logged in as {user}" in checked.out, checked
    assert invoke(trusted, "run", "--once").code == 0
    (ack,) = smtp_sink.wait_for(1)
    assert ack.rcpt_tos == [LEA_ADDRESS]


def test_starttls_configured_but_not_offered_is_refused_not_downgraded(
    tmp_path: Path, mail_account: Any, smtp_sink: SmtpSink
) -> None:
    """The session's Dovecot has no TLS at all: with security = "starttls" it must not log in in clear."""
    mail_account.append(make_mail(LEA, "alice@cafemetrie.example", "Attestation", "Bonjour"))
    config = tls_config(tmp_path, mail_account.username, mail_account.port, "starttls", smtp_sink.port, None)
    text = config.read_text(encoding="utf-8").replace('password = "secret"', f'password = "{mail_account.password}"')
    config.write_text(text, encoding="utf-8")
    refused = invoke(config, "run", "--once")
    assert refused.code == 2, refused
    assert f"IMAP 127.0.0.1:{mail_account.port}: the server does not offer STARTTLS" in refused.err
    assert smtp_sink.messages == []
    checked = invoke(config, "check")
    assert "does not offer STARTTLS" in checked.out and checked.code == 1


# -- SMTP STARTTLS with aiosmtpd --------------------------------------------------------------------


@pytest.fixture
def starttls_sink(ca: trustme.CA) -> Iterator[tuple[Controller, Keep]]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    keep = Keep()
    controller = Controller(keep, hostname="127.0.0.1", port=free_port(), tls_context=context, require_starttls=True)
    controller.start()
    yield controller, keep
    controller.stop()


def starttls_settings(tmp_path: Path, port: int, ca_file: Path | None, host: str = "127.0.0.1") -> Settings:
    config = settings(tmp_path, port, ca_file)
    return replace(config, smtp=replace(config.smtp, security="starttls", host=host))


def test_smtp_starttls_is_verified_and_a_ca_file_makes_it_work(
    tmp_path: Path, ca: trustme.CA, starttls_sink: tuple[Controller, Keep]
) -> None:
    controller, keep = starttls_sink
    refused = send(starttls_settings(tmp_path, controller.port, None))
    assert not refused.accepted and not refused.permanent
    assert f"SMTP 127.0.0.1:{controller.port}: TLS failed: CERTIFICATE_VERIFY_FAILED" in refused.error
    with pytest.raises(
        CheckFailed, match=rf"SMTP 127\.0\.0\.1:{controller.port}: TLS failed: CERTIFICATE_VERIFY_FAILED"
    ):
        _check_smtp(starttls_settings(tmp_path, controller.port, None))

    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    mismatch = send(starttls_settings(tmp_path, controller.port, ca_file, host="localhost"))
    assert "Hostname mismatch" in mismatch.error and not mismatch.accepted
    assert keep.received == []

    assert "connected (starttls)" in _check_smtp(starttls_settings(tmp_path, controller.port, ca_file))
    accepted = send(starttls_settings(tmp_path, controller.port, ca_file))
    assert accepted.accepted, accepted.error
    assert len(keep.received) == 1


def test_smtp_starttls_not_offered_is_refused_not_downgraded(tmp_path: Path) -> None:
    keep = Keep()
    controller = Controller(keep, hostname="127.0.0.1", port=free_port())  # no TLS at all
    controller.start()
    try:
        refused = send(starttls_settings(tmp_path, controller.port, None))
        assert not refused.accepted and not refused.permanent
        assert "STARTTLS" in refused.error
        with pytest.raises(CheckFailed, match="does not offer STARTTLS"):
            _check_smtp(starttls_settings(tmp_path, controller.port, None))
        assert keep.received == []
    finally:
        controller.stop()
