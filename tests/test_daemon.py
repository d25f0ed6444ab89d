"""`inboxbot run` as the customer runs it: a separate process, for a long time, stopped by a signal."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import MailAccount
from e2e import account_config, invoke_subprocess, register
from mails import make_mail
from servers import DovecotServer, PostgresServer, SmtpSink

DIRECTOR = "alice@cafemetrie.example"


def start_daemon(config: Path, log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "inboxbot", "--config", str(config), "run"], stdout=handle, stderr=subprocess.STDOUT
    )


def wait_for_log(log: Path, text: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in log.read_text(errors="replace"):
            return
        time.sleep(0.05)
    raise AssertionError(f"{text!r} not logged within {timeout} s:\n{log.read_text(errors='replace')}")


@pytest.fixture
def config(tmp_path: Path, mail_account: MailAccount, smtp_sink: SmtpSink) -> Path:
    # A poll interval far longer than the test: only IMAP IDLE can make it react in time.
    return account_config(tmp_path, mail_account, smtp_sink, imap_extra="poll_interval = 3600")


def test_the_daemon_acknowledges_new_mail_within_seconds_and_stops_cleanly(
    config: Path, mail_account: MailAccount, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    log = tmp_path / "daemon.log"
    daemon = start_daemon(config, log)
    try:
        wait_for_log(log, "first met")
        time.sleep(0.5)  # let the IDLE watcher enter IDLE
        mail_account.append(make_mail("Léa <lea@example.fr>", DIRECTOR, "Réclamation : facture", "Bonjour"))
        (ack,) = smtp_sink.wait_for(1, timeout=15)
        assert ack.rcpt_tos == ["lea@example.fr"]

        # A second daemon on the same database refuses to start, and says why.
        second = invoke_subprocess(config, "run")
        assert second.code != 0 and "already" in (second.err + second.out)

        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=15) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()
    output = log.read_text()
    assert "case 2026-0001 opened" in output and "inboxbot stopped" in output
    assert "Traceback" not in output

    # After a restart nothing is done twice, and a mail that came while it was down is taken in.
    mail_account.append(make_mail("Paul <paul@example.fr>", DIRECTOR, "Une plainte", "Bonjour"))
    daemon = start_daemon(config, tmp_path / "daemon2.log")
    try:
        smtp_sink.wait_for(2, timeout=15)
        daemon.send_signal(signal.SIGINT)
        assert daemon.wait(timeout=15) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()
    assert [c["claimant"] for c in register(config)] == ["lea@example.fr", "paul@example.fr"]
    assert len(smtp_sink.messages) == 2


def test_the_daemon_survives_the_imap_server_going_away(
    config: Path, mail_account: MailAccount, smtp_sink: SmtpSink, tmp_path: Path, dovecot_server: DovecotServer
) -> None:
    config.write_text(config.read_text().replace("poll_interval = 3600", "poll_interval = 1"))
    log = tmp_path / "daemon.log"
    daemon = start_daemon(config, log)
    try:
        wait_for_log(log, "first met")
        dovecot_server.stop()
        try:
            wait_for_log(log, "mail cycle failing")
            # A server shutting down can still let a cycle through (a short recovery, logged as
            # such); once it is fully down, the outage must not be logged again however many polls fail.
            time.sleep(1.5)
            logged = log.read_text().count("mail cycle failing")
            time.sleep(3)  # three more polls fail in the meantime
            assert log.read_text().count("mail cycle failing") == logged
            assert "mail cycle still failing" not in log.read_text()  # the repeats are debug-level only
            assert daemon.poll() is None
        finally:
            dovecot_server.start()
        mail_account.append(make_mail("Léa <lea@example.fr>", DIRECTOR, "Réclamation après la panne", "Bonjour"))
        smtp_sink.wait_for(1, timeout=20)
        wait_for_log(log, "mail cycle recovered")
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=15) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()


def test_the_daemon_sends_the_digest_when_it_is_due_even_with_imap_down(
    tmp_path: Path, mail_account: MailAccount, smtp_sink: SmtpSink
) -> None:
    config = account_config(
        tmp_path,
        mail_account,
        smtp_sink,
        imap_port=1,  # nothing listens there: the mail cycle fails, the digest must not
        digest=True,
        extra="[digest]\nskip_non_working_days = false\n",
    )
    config.write_text(config.read_text().replace('digest_time = "08:00"', 'digest_time = "00:00"'))
    log = tmp_path / "daemon.log"
    daemon = start_daemon(config, log)
    try:
        (digest,) = smtp_sink.wait_for(1, timeout=90)
        assert "Suivi des dossiers" in digest.subject and digest.rcpt_tos == [DIRECTOR]
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=15) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()
    assert "mail cycle failing" in log.read_text()
    assert len(smtp_sink.messages) == 1  # once a day, whatever the number of cycles


def test_sigterm_in_the_middle_of_a_long_ingest_then_a_restart_loses_and_doubles_nothing(
    tmp_path: Path, mail_account: MailAccount, smtp_sink: SmtpSink
) -> None:
    from datetime import UTC, datetime, timedelta

    count = 150
    day = datetime.now(UTC) - timedelta(days=1)
    with mail_account.client() as client:
        client.multiappend(
            "INBOX",
            [
                {"msg": make_mail(f"p{i}@example.fr", DIRECTOR, f"Réclamation {i}", "Bonjour"), "date": day}
                for i in range(count)
            ],
        )
    config = account_config(
        tmp_path, mail_account, smtp_sink, imap_extra=f'ingest_since = "{(day - timedelta(days=1)).date().isoformat()}"'
    )
    log = tmp_path / "daemon.log"
    daemon = start_daemon(config, log)
    try:
        wait_for_log(log, "case 2026-0010 opened")
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=15) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()
    stopped_at = len(register(config))
    assert 10 <= stopped_at < count  # it really stopped part-way

    daemon = start_daemon(config, tmp_path / "daemon2.log")
    try:
        smtp_sink.wait_for(count, timeout=60)
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=15) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()
    cases = register(config)
    assert sorted(c["subject"] for c in cases) == sorted(f"Réclamation {i}" for i in range(count))
    assert len({c["number"] for c in cases}) == count
    assert sorted(r for m in smtp_sink.messages for r in m.rcpt_tos) == sorted(f"p{i}@example.fr" for i in range(count))


def test_the_daemon_survives_the_smtp_server_going_away(
    tmp_path: Path, mail_account: MailAccount, smtp_sink: SmtpSink
) -> None:
    config = account_config(
        tmp_path, mail_account, smtp_sink, imap_extra="poll_interval = 1", extra="[outbox]\nfirst_retry_seconds = 1\n"
    )
    log = tmp_path / "daemon.log"
    daemon = start_daemon(config, log)
    try:
        wait_for_log(log, "first met")
        port = smtp_sink.port
        smtp_sink.stop()
        mail_account.append(make_mail("Léa <lea@example.fr>", DIRECTOR, "Réclamation pendant la panne", "Bonjour"))
        wait_for_log(log, "mail(s) wait for the SMTP server")
        assert "case 2026-0001 opened" in log.read_text()  # registered while mail could not go out
        smtp_sink.start(port=port)
        (ack,) = smtp_sink.wait_for(1, timeout=30)
        assert ack.rcpt_tos == ["lea@example.fr"]
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=15) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()
    assert len(smtp_sink.messages) == 1  # retried until accepted, then never again


def test_two_daemons_on_one_postgresql_database_never_share_the_work_and_a_killed_one_frees_it(
    tmp_path: Path, mail_account: MailAccount, smtp_sink: SmtpSink, postgres_server: PostgresServer
) -> None:
    url = postgres_server.create_database(f"two_daemons_{tmp_path.name[-8:].lower().replace('-', '_')}")
    today = time.strftime("%Y-%m-%d")
    config = account_config(
        tmp_path, mail_account, smtp_sink, mode="dedicated", database_url=url, imap_extra=f'ingest_since = "{today}"'
    )
    for index in range(30):
        mail_account.append(make_mail(f"p{index}@example.fr", DIRECTOR, f"Session annulée {index}", "Bonjour"))
    logs = [tmp_path / "first.log", tmp_path / "second.log"]
    daemons = [start_daemon(config, log) for log in logs]  # both at once, racing for the database
    try:
        deadline = time.monotonic() + 60
        while all(d.poll() is None for d in daemons) and time.monotonic() < deadline:
            time.sleep(0.05)
        refused = [i for i, d in enumerate(daemons) if d.poll() is not None]
        assert len(refused) == 1, "one of the two must refuse to run"
        (loser,) = refused
        assert daemons[loser].returncode != 0
        assert "another inboxbot is already using the database" in logs[loser].read_text()
        winner = daemons[1 - loser]
        assert len(smtp_sink.wait_for(30, timeout=60)) == 30
        # Only once every sending is recorded: a kill between the server's acceptance and its record
        # is the one window in which a mail goes out twice (tests/test_crash.py counts those).
        deadline = time.monotonic() + 30
        while any(c["acknowledged_at"] is None for c in register(config)) and time.monotonic() < deadline:
            time.sleep(0.1)

        winner.kill()  # SIGKILL: no clean shutdown, the lock goes with its connection
        winner.wait(timeout=15)
        third = start_daemon(config, tmp_path / "third.log")
        daemons.append(third)
        wait_for_log(tmp_path / "third.log", "inboxbot running")
        mail_account.append(make_mail("late@example.fr", DIRECTOR, "Réclamation tardive", "Bonjour"))
        assert len(smtp_sink.wait_for(31, timeout=60)) == 31
        third.send_signal(signal.SIGTERM)
        assert third.wait(timeout=15) == 0
    finally:
        for daemon in daemons:
            if daemon.poll() is None:
                daemon.kill()
    cases = register(config)
    assert sorted(c["number"] for c in cases) == [f"2026-{n:04d}" for n in range(1, 32)]
    recipients = [m.rcpt_tos[0] for m in smtp_sink.messages]
    assert sorted(recipients) == sorted({*(f"p{i}@example.fr" for i in range(30)), "late@example.fr"})


def test_mail_that_arrived_before_the_watcher_idled_is_read_without_waiting_for_the_poll(
    config: Path, mail_account: MailAccount
) -> None:
    """At start-up the first cycle may look before a mail arrives and IDLE begin after it: nobody
    would announce it, and it would wait for the next poll (an hour here)."""
    import threading

    from inboxbot.bootstrap import build
    from inboxbot.cli.daemon import Daemon
    from inboxbot.config import load

    app = build(load(config))
    daemon = Daemon(app)
    asked = threading.Semaphore(0)
    daemon.request_cycle = asked.release  # type: ignore[method-assign]
    mail_account.append(make_mail("early@example.fr", DIRECTOR, "Réclamation", "Bonjour"))
    watcher = threading.Thread(target=daemon.watch_inbox, daemon=True)
    watcher.start()
    try:
        assert asked.acquire(timeout=20), "the mail already there was never announced"
        assert not asked.acquire(timeout=2), "a cycle asked for with nothing new"
        mail_account.append(make_mail("late@example.fr", DIRECTOR, "Réclamation", "Bonjour"))
        assert asked.acquire(timeout=20), "a mail arriving while idling was never announced"
    finally:
        daemon.stop.set()
        watcher.join(timeout=10)
        app.close()
    assert not watcher.is_alive()
