"""An outage she is told of: the mailbox unreadable or mail unsendable for longer than two hours.

End to end through the real Dovecot and SMTP sink, with the clock moved by the test (never a
two-hour wait): the SMTP sink stopped and started again on its port, the IMAP port pointed at a
port where nothing listens. The decisions themselves (what is told, and when) are pure and tested
at the bottom without servers.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import MailAccount
from e2e import account_config
from mails import make_mail
from servers import SmtpSink, free_port
from test_procedure import DIRECTOR, LEA, Bot

from inboxbot.bootstrap import build
from inboxbot.cli.daemon import Daemon
from inboxbot.config import load
from inboxbot.domain.outages import READING, SENDING, Outage, duration_fr, to_tell

OUTAGE_MAIL = "Panne"


@pytest.fixture
def bot(tmp_path: Path, mail_account: MailAccount, smtp_sink: SmtpSink) -> Bot:
    made = Bot(account_config(tmp_path, mail_account, smtp_sink, address=DIRECTOR), mail_account, smtp_sink)
    made.cycle()  # first meeting with the empty mailbox
    return made


def alerts(bot: Bot) -> list[str]:
    """The subjects and texts of the outage alerts she received."""
    found = []
    for received in bot.sent_to(DIRECTOR):
        if OUTAGE_MAIL in received.subject:
            body = received.message.get_body(preferencelist=("plain",))
            assert body is not None
            found.append(f"{received.subject}\n{body.get_content()}")
    return found


def test_mail_that_could_not_be_sent_for_three_hours_is_told_once_sending_works(bot: Bot) -> None:
    port = bot.sink.port
    bot.sink.stop()
    bot.account.append(make_mail(LEA, DIRECTOR, "Réclamation : attestation non reçue", "Toujours rien."))
    bot.cycle()  # the case is opened; its acknowledgement waits for the SMTP server
    assert bot.case()["acknowledged_at"] is None
    bot.cycle(timedelta(hours=1))
    bot.cycle(timedelta(hours=2))
    bot.sink.start(port)
    bot.cycle(timedelta(minutes=10))
    assert bot.case()["acknowledged_at"] is not None
    (alert,) = alerts(bot)
    assert alert.startswith("[inboxbot] Panne terminée : l'envoi des messages")
    assert "(3 h 10), l'envoi des messages a été impossible" in alert
    assert "cannot connect to SMTP 127.0.0.1" in alert  # what failed, as the server said it
    assert "1 message envoyé au rétablissement" in alert  # and what was done meanwhile
    assert "lecture de la boîte pendant ce temps : 1 message lu" in alert
    digest = bot.digest()
    assert "Pannes (1) :" in digest and "L'envoi des messages a été impossible du " in digest
    bot.cycle(timedelta(minutes=10))
    assert len(alerts(bot)) == 1  # told once


def test_a_short_outage_is_only_retried(bot: Bot) -> None:
    port = bot.sink.port
    bot.sink.stop()
    bot.account.append(make_mail(LEA, DIRECTOR, "Réclamation : attestation non reçue", "Toujours rien."))
    bot.cycle()
    bot.cycle(timedelta(minutes=30))
    bot.sink.start(port)
    bot.cycle(timedelta(minutes=30))
    assert bot.case()["acknowledged_at"] is not None
    assert not alerts(bot) and "Pannes" not in bot.digest()


def test_a_mailbox_unreadable_for_two_hours_is_told_while_it_lasts_then_in_the_digest(bot: Bot) -> None:
    """The daemon's own cycle: sending works, so she hears of it without waiting for its end."""
    config = bot.config.read_text()
    dead = config.replace(f"port = {bot.account.port}\n", f"port = {free_port()}\n", 1)
    assert dead != config
    bot.config.write_text(dead)
    start = bot.now
    clock = {"now": start}
    app = build(load(bot.config), clock=lambda: clock["now"])
    daemon = Daemon(app)
    try:
        for later in (timedelta(0), timedelta(hours=1), timedelta(hours=2, minutes=1), timedelta(hours=3)):
            clock["now"] = start + later
            daemon.cycle()
        (alert,) = alerts(bot)  # at two hours and one minute, and only then
        assert alert.startswith("[inboxbot] Panne en cours : la lecture de votre boîte aux lettres")
        assert "la panne dure encore" in alert and "seront lus dès qu'il répondra" in alert
        assert "Connection refused" in alert or "ConnectionRefusedError" in alert
    finally:
        daemon.connections.close()
        app.close()
    bot.account.append(make_mail(LEA, DIRECTOR, "Réclamation : attestation non reçue", "Toujours rien."))
    bot.config.write_text(config)
    bot.now = start + timedelta(hours=4)
    app = build(load(bot.config), clock=lambda: bot.now)
    daemon = Daemon(app)
    try:
        daemon.cycle()
    finally:
        daemon.connections.close()
        app.close()
    assert len(bot.cases()) == 1  # the claim that waited on the server is read
    assert len(alerts(bot)) == 1
    digest = bot.digest()
    assert "La lecture de votre boîte aux lettres a été impossible du " in digest and "(4 h)" in digest
    assert "1 message lu depuis" in digest


# -- the decisions, without servers ---------------------------------------------------------------

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
TWO_HOURS = timedelta(hours=2)


def test_only_what_lasted_is_told_and_nothing_while_sending_is_down() -> None:
    long_read = Outage(READING, NOW - timedelta(hours=3), "refused")
    short_read = Outage(READING, NOW - timedelta(hours=1), "refused")
    ended_send = Outage(SENDING, NOW - timedelta(hours=5), "down", until=NOW - timedelta(hours=2))
    sending_now = Outage(SENDING, NOW - timedelta(hours=3), "down")
    assert to_tell([long_read, ended_send], NOW, TWO_HOURS) == [ended_send, long_read]
    assert to_tell([short_read], NOW, TWO_HOURS) == []
    assert to_tell([long_read, sending_now], NOW, TWO_HOURS) == []  # the alert could not leave
    assert to_tell([Outage(READING, NOW - timedelta(hours=3), "refused", alerted=True)], NOW, TWO_HOURS) == []


def test_durations_read_as_she_says_them() -> None:
    assert [duration_fr(timedelta(minutes=m)) for m in (45, 120, 150, 60 * 24 + 60 * 4, 60 * 48)] == [
        "45 min",
        "2 h",
        "2 h 30",
        "1 jour et 4 h",
        "2 jours",
    ]
