"""The network failing under the daemon: connections cut mid-transfer, Dovecot killed mid-FETCH and mid-IDLE.

`inboxbot run` runs as the customer runs it (a separate process), talking to the real Dovecot and
SMTP sink through a proxy (tests/proxy.py) that cuts connections after a number of bytes, or holds
the bytes at that point while the server is killed and started again. Afterwards: every mail
registered once, acknowledged once, and the daemon still answers a new mail, never restarted.
"""

from __future__ import annotations

import signal
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import MailAccount
from e2e import account_config, register
from mails import make_mail
from proxy import DOWN, UP, Proxy
from servers import DovecotServer, SmtpSink
from test_daemon import start_daemon, wait_for_log

DIRECTOR = "alice@cafemetrie.example"
BIG_BODY = "".join(f"Ligne {n} du relevé de présence joint à ma réclamation.\n" for n in range(800))  # ~45 KB


def claims(account: MailAccount, count: int, tag: str, body: str = "Bonjour") -> list[str]:
    """`count` claims from as many senders, appended at once; their senders."""
    senders = [f"{tag}{index}@example.fr" for index in range(count)]
    with account.client() as client:
        client.multiappend(
            "INBOX", [make_mail(s, DIRECTOR, f"Réclamation {tag} {index}", body) for index, s in enumerate(senders)]
        )
    return senders


def assert_each_once(config: Path, sink: SmtpSink, senders: list[str]) -> None:
    """One case per claimant, one acknowledgement each, no mail received twice."""
    cases = register(config)
    assert sorted(c["claimant"] for c in cases) == sorted(senders)
    assert all(c["acknowledged_at"] for c in cases)
    assert sorted(r for m in sink.messages for r in m.rcpt_tos) == sorted(senders)
    assert max(Counter(m.message["Message-ID"] for m in sink.messages).values()) == 1


@pytest.fixture
def daemon_log(tmp_path: Path) -> Path:
    return tmp_path / "daemon.log"


@pytest.fixture
def stop_daemon() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Whatever daemon a test starts is stopped with SIGTERM, and must stop cleanly."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for daemon in started:
        if daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
            try:
                assert daemon.wait(timeout=20) == 0
            finally:
                if daemon.poll() is None:
                    daemon.kill()


def still_reacts(account: MailAccount, sink: SmtpSink, senders: list[str], daemon: subprocess.Popen[bytes]) -> None:
    """A new mail is still answered; then the daemon stops cleanly, its last cycle recorded."""
    (sender,) = claims(account, 1, "after")
    sink.wait_for(len(senders) + 1, timeout=30)
    senders.append(sender)
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(timeout=20) == 0


def test_an_imap_connection_cut_mid_fetch_loses_and_doubles_nothing(
    tmp_path: Path,
    mail_account: MailAccount,
    smtp_sink: SmtpSink,
    daemon_log: Path,
    stop_daemon: list[subprocess.Popen[bytes]],
) -> None:
    proxy = Proxy(mail_account.port)
    try:
        config = account_config(
            tmp_path, mail_account, smtp_sink, imap_port=proxy.port, imap_extra="poll_interval = 1\nfetch_batch = 10"
        )
        stop_daemon.append(daemon := start_daemon(config, daemon_log))
        wait_for_log(daemon_log, "first met")
        # Ten mails of ~45 KB are a batch: the cut falls in the second batch's FETCH response,
        # after the first ten were registered.
        proxy.cut_after(DOWN, 700_000)
        senders = claims(mail_account, 30, "fetch", BIG_BODY)
        smtp_sink.wait_for(30, timeout=60)
        assert proxy.cuts == 1
        wait_for_log(daemon_log, "mail cycle failing")
        still_reacts(mail_account, smtp_sink, senders, daemon)
    finally:
        proxy.close()
    assert_each_once(config, smtp_sink, senders)


def test_an_smtp_connection_cut_mid_data_is_retried_and_the_mail_arrives_once(
    tmp_path: Path,
    mail_account: MailAccount,
    smtp_sink: SmtpSink,
    daemon_log: Path,
    stop_daemon: list[subprocess.Popen[bytes]],
) -> None:
    proxy = Proxy(smtp_sink.port)
    try:
        config = account_config(
            tmp_path,
            mail_account,
            smtp_sink,
            smtp_port=proxy.port,
            imap_extra="poll_interval = 1",
            extra="[outbox]\nfirst_retry_seconds = 1\n",
        )
        stop_daemon.append(daemon := start_daemon(config, daemon_log))
        wait_for_log(daemon_log, "first met")
        # EHLO, MAIL, RCPT and DATA are some 150 bytes; an acknowledgement is several KB.
        proxy.cut_after(UP, 1500)
        senders = claims(mail_account, 5, "data")
        smtp_sink.wait_for(5, timeout=30)
        (uploaded,) = proxy.cut_uploads
        assert b"\r\nDATA\r\n" in uploaded and not uploaded.endswith(b"\r\n.\r\n")  # cut mid-DATA
        wait_for_log(daemon_log, "connection lost")
        still_reacts(mail_account, smtp_sink, senders, daemon)
    finally:
        proxy.close()
    assert_each_once(config, smtp_sink, senders)  # the half-sent mail was not taken as sent


def test_dovecot_crashing_and_restarting_mid_fetch(
    tmp_path: Path,
    mail_account: MailAccount,
    smtp_sink: SmtpSink,
    dovecot_server: DovecotServer,
    daemon_log: Path,
    stop_daemon: list[subprocess.Popen[bytes]],
) -> None:
    proxy = Proxy(mail_account.port)
    try:
        config = account_config(
            tmp_path, mail_account, smtp_sink, imap_port=proxy.port, imap_extra="poll_interval = 1\nfetch_batch = 10"
        )
        stop_daemon.append(daemon := start_daemon(config, daemon_log))
        wait_for_log(daemon_log, "first met")
        # The rest of the FETCH answer waits in the proxy while Dovecot dies and starts again;
        # then the daemon gets what the proxy held, and the end of the connection.
        held = proxy.hold(DOWN, 700_000)
        senders = claims(mail_account, 30, "restart", BIG_BODY)
        held.wait()
        try:
            dovecot_server.crash_and_restart()
        finally:
            held.release()
        smtp_sink.wait_for(30, timeout=60)
        wait_for_log(daemon_log, "mail cycle failing")
        still_reacts(mail_account, smtp_sink, senders, daemon)
    finally:
        proxy.close()
    assert_each_once(config, smtp_sink, senders)


def test_dovecot_crashing_and_restarting_mid_idle_and_mail_that_came_meanwhile_is_read_at_once(
    tmp_path: Path,
    mail_account: MailAccount,
    smtp_sink: SmtpSink,
    dovecot_server: DovecotServer,
    daemon_log: Path,
    stop_daemon: list[subprocess.Popen[bytes]],
) -> None:
    proxy = Proxy(mail_account.port)
    try:
        # Polling far slower than the test: only the IDLE watcher can make the daemon read in time.
        config = account_config(
            tmp_path, mail_account, smtp_sink, imap_port=proxy.port, imap_extra="poll_interval = 3600"
        )
        stop_daemon.append(daemon := start_daemon(config, daemon_log))
        wait_for_log(daemon_log, "first met")
        proxy.wait_for_text(b" IDLE\r\n")
        dovecot_server.crash_and_restart()
        # Mail that arrives before the watcher is back in IDLE sends it no notification.
        senders = claims(mail_account, 1, "idle")
        smtp_sink.wait_for(1, timeout=30)
        wait_for_log(daemon_log, "IMAP IDLE failing")
        proxy.wait_for_text(b" IDLE\r\n", count=2)
        still_reacts(mail_account, smtp_sink, senders, daemon)
    finally:
        proxy.close()
    assert_each_once(config, smtp_sink, senders)
