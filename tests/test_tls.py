"""TLS is verified by default, a private CA can be trusted with ca_file, and check names the failure."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from servers import free_port

from inboxbot.cases import OutgoingMail
from inboxbot.check import CheckFailed, _check_smtp
from inboxbot.config import Settings, settings_from_mapping
from inboxbot.outbox import SendResult, SmtpSender


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
            "database": {"url": f"sqlite:///{tmp_path / 'db.sqlite'}"},
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
