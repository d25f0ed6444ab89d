"""Protections that must hold against what real mailboxes meet: loops, floods, leaked secrets."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import MailAccount
from databases import dump
from e2e import account_config, invoke, register
from mails import make_mail
from servers import SmtpSink

DIRECTOR = "alice@cafemetrie.example"


@pytest.fixture
def config(tmp_path: Path, mail_account: MailAccount, smtp_sink: SmtpSink) -> Path:
    path = account_config(tmp_path, mail_account, smtp_sink, mode="dedicated")
    assert invoke(path, "run", "--once").code == 0  # first meeting
    return path


def naive_autoresponder(sink: SmtpSink, account: MailAccount, answered: set[str]) -> int:
    """A responder that answers every mail it gets, ignoring Auto-Submitted, as badly written ones do."""
    replies = 0
    for received in sink.messages:
        message_id = str(received.message["Message-ID"])
        if message_id in answered:
            continue
        answered.add(message_id)
        recipient = received.rcpt_tos[0]
        account.append(
            make_mail(
                recipient,
                DIRECTOR,
                f"Absence : {received.subject}",
                "Je suis absente jusqu'à lundi.",
                in_reply_to=message_id,
            )
        )
        replies += 1
    return replies


def test_an_autoresponder_loop_stops_after_one_message_each_way(
    config: Path, mail_account: MailAccount, smtp_sink: SmtpSink
) -> None:
    mail_account.append(make_mail("lea@example.fr", DIRECTOR, "Réclamation", "Bonjour"))
    answered: set[str] = set()
    rounds: list[tuple[int, int]] = []
    for _ in range(4):
        assert invoke(config, "run", "--once").code == 0
        rounds.append((len(smtp_sink.messages), naive_autoresponder(smtp_sink, mail_account, answered)))
    # Round 1: our acknowledgement, and its automatic answer. Then nothing more from us, ever.
    assert rounds == [(1, 1), (1, 0), (1, 0), (1, 0)]
    (case,) = register(config)
    assert len([m for m in case["messages"] if m["direction"] == "in"]) == 2


def test_an_autoresponder_that_breaks_threading_is_bounded_by_the_daily_cap(
    config: Path, mail_account: MailAccount, smtp_sink: SmtpSink
) -> None:
    mail_account.append(make_mail("robot@example.fr", DIRECTOR, "Question", "Bonjour"))
    for _ in range(6):
        assert invoke(config, "run", "--once").code == 0
        # It answers with neither threading headers nor our tag: each answer looks like a new mail.
        mail_account.append(make_mail("robot@example.fr", DIRECTOR, "Réponse automatique", "Absent."))
    assert len(smtp_sink.messages) == 3  # the default daily cap per sender


def test_secrets_never_reach_logs_output_or_the_database(
    config: Path, mail_account: MailAccount, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    secret = "S3cret-Never-Show-Me"
    text = config.read_text()
    config.write_text(text.replace(f'password = "{mail_account.password}"', f'password = "{secret}"'))
    for args in (("check",), ("-v", "run", "--once"), ("-v", "run", "--once")):
        result = invoke(config, *args)
        captured = capfd.readouterr()
        assert result.code != 0
        for output in (result.out, result.err, captured.out, captured.err):
            assert secret not in output
    # Now with the right password, verbose, a mail processed: nothing of it stored either.
    config.write_text(text)
    mail_account.append(make_mail("lea@example.fr", DIRECTOR, "Réclamation", "Bonjour"))
    assert invoke(config, "-v", "run", "--once").code == 0
    assert mail_account.password not in dump(tmp_path)


def test_check_warns_when_the_config_is_readable_by_others(config: Path) -> None:
    config.chmod(0o644)
    result = invoke(config, "check")
    assert "readable by other users" in result.out
    config.chmod(0o600)
    assert "readable by other users" not in invoke(config, "check").out
