"""Hostile and broken mail end to end: through Dovecot and `inboxbot run`, as it arrives in real life.

Every mail must be archived, then registered or set aside with a reason someone can read; the
daemon must keep going after each; and memory must stay bounded whatever the mail's size.
The corpus is made here (see tests/mails.py): each item is a few lines and its hostile part shows.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import MailAccount
from databases import rows
from e2e import account_config, invoke, register
from mails import large_attachment_mail, make_mail, many_headers, nested_attached_mails, tnef_mail
from servers import SmtpSink

from inboxbot.reading.parse import html_to_text
from inboxbot.reading.quotes import new_text

DIRECTOR = "alice@cafemetrie.example"
ATTACHMENT = 30 * 1024 * 1024


def _raw(*lines: str, body: bytes = b"Bonjour.\r\n", charset: str = "utf-8") -> bytes:
    return "\r\n".join(lines).encode(charset, "surrogateescape") + b"\r\n\r\n" + body


def hostile_corpus() -> dict[str, bytes]:
    """Name → mail; names say what is wrong with each."""
    to = f"To: {DIRECTOR}"
    return {
        "attached mails nested 500 deep": nested_attached_mails(500, author="origine@example.fr"),
        "winmail.dat": tnef_mail([("Facture mars.pdf", b"%PDF-1.4 f"), ("Photo été.jpg", b"\xff\xd8 p")]),
        "5000 headers": many_headers(5000, from_="entetes@example.fr"),
        "no From": _raw(to, "Subject: Réclamation sans expéditeur", "Message-ID: <nofrom@example.fr>"),
        "two From": _raw("From: un@example.fr", "From: deux@example.fr", to, "Subject: Deux expéditeurs"),
        "no Message-ID": make_mail(
            "sansid@example.fr", DIRECTOR, "Réclamation sans identifiant", "Bonjour", message_id=""
        ),
        "dated 1970": make_mail(
            "epoch@example.fr", DIRECTOR, "Vieux", "Bonjour", date="Thu, 01 Jan 1970 00:00:00 +0000"
        ),
        "dated 2099": make_mail(
            "futur@example.fr", DIRECTOR, "Futur", "Bonjour", date="Fri, 01 Jan 2099 00:00:00 +0000"
        ),
        "empty body": _raw("From: vide@example.fr", to, "Subject: ", "Message-ID: <empty@example.fr>", body=b""),
        "HTML only with script": _raw(
            "From: html@example.fr",
            to,
            "Subject: HTML",
            "Content-Type: text/html; charset=utf-8",
            body="<script>alert(1)</script><p>Ma formation a été annulée.</p>".encode(),
        ),
        "broken boundary": _raw(
            "From: frontiere@example.fr",
            to,
            "Subject: Frontière",
            'Content-Type: multipart/mixed; boundary="annoncee"',
            body=b"--reelle\r\nContent-Type: text/plain\r\n\r\nLe texte.\r\n--reelle--\r\n",
        ),
        "windows-1252 labelled utf-8": _raw(
            "From: cp1252@example.fr",
            to,
            "Subject: =?utf-8?q?D=C3=A9j=C3=A0?=",
            "Content-Type: text/plain; charset=utf-8",
            body="Déjà payé.".encode("cp1252"),
        ),
        "iso-2022-jp": _raw(
            "From: =?iso-2022-jp?b?GyRCOzNFRBsoQg==?= <jp@example.fr>",
            to,
            "Subject: =?iso-2022-jp?b?GyRCJTMlcyVVJWolLyVIGyhC?=",
            "Content-Type: text/plain; charset=iso-2022-jp",
            body="研修".encode("iso-2022-jp"),
        ),
        "8-bit headers and unknown charset": _raw(
            "From: José Pérez <jose@example.fr>",
            to,
            "Subject: Réclamation très urgente",
            "Content-Type: text/plain; charset=x-inconnu",
            body="Problème.".encode(),
        ),
        "RFC 2047 and 2231 names": _raw(
            "From: =?utf-8?q?L=C3=A9a?= <rfc@example.fr>",
            to,
            "Subject: pj",
            'Content-Type: multipart/mixed; boundary="x"',
            body=b"--x\r\nContent-Type: application/pdf\r\n"
            b"Content-Disposition: attachment; filename*=utf-8''re%C3%A7u%20sign%C3%A9.pdf\r\n\r\n%PDF\r\n"
            b'--x\r\nContent-Type: image/png; name="=?utf-8?b?w6l0w6kucG5n?="\r\n\r\nPNG\r\n--x--\r\n',
        ),
        # Issue 14: values PostgreSQL refused (DataError, the folder stopped for good) and addresses
        # that jammed the outbox or were set aside as internal errors.
        "NUL in the text": _raw(
            "From: nul@example.fr",
            to,
            "Subject: =?utf-8?q?R=C3=A9clamation=00?=",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: quoted-printable",
            body=b"Texte=00 nul.\r\n",
        ),
        "display name of 400 characters": _raw(f"From: {'N' * 400} <longnom@example.fr>", to, "Subject: Nom"),
        "address of 400 characters": _raw(f"From: {'a' * 400}@example.fr", to, "Subject: Adresse"),
        "address in Unicode": _raw("From: Léa <léa@exemple.fr>", to, "Subject: Adresse en Unicode"),
        "quoted local part": _raw('From: "jean dupont"@example.fr', to, "Subject: Partie locale entre guillemets"),
    }


@pytest.fixture
def config(tmp_path: Path, mail_account: MailAccount, smtp_sink: SmtpSink) -> Path:
    path = account_config(tmp_path, mail_account, smtp_sink, mode="dedicated", imap_extra="poll_interval = 3600")
    assert invoke(path, "run", "--once").code == 0  # first meeting
    return path


def recorded(directory: Path) -> list[tuple[Any, ...]]:
    """(outcome, reason, case id, archive path, from) of every mail inboxbot recorded, in order."""
    return rows(directory, "SELECT outcome, reason, case_id, archive_path, from_address FROM mails ORDER BY id")


def wait_until(condition: object, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {what}")


def test_the_daemon_archives_and_records_every_hostile_mail_and_keeps_going(
    config: Path, mail_account: MailAccount, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    corpus = hostile_corpus()
    database = tmp_path
    log = tmp_path / "daemon.log"
    with log.open("wb") as handle:
        daemon = subprocess.Popen(
            [sys.executable, "-m", "inboxbot", "--config", str(config), "run"], stdout=handle, stderr=subprocess.STDOUT
        )
    try:
        for count, (name, raw) in enumerate(corpus.items(), start=1):
            mail_account.append(raw)
            wait_until(lambda count=count: len(recorded(database)) == count, f"{name!r} recorded")  # type: ignore[misc]
            assert daemon.poll() is None, f"the daemon stopped after {name!r}:\n{log.read_text()}"
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=30) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()
    assert "Traceback" not in log.read_text()

    outcomes = dict(zip(corpus, recorded(database), strict=True))
    archive = tmp_path / "archive"
    for name, (outcome, reason, case_id, path, _) in outcomes.items():
        assert (archive / path).read_bytes() == corpus[name], name  # archived byte for byte
        assert case_id is not None or reason, f"{name!r} ({outcome}) set aside without a reason"
    outcome, reason, case_id, _, _ = outcomes["no From"]
    assert (outcome, case_id) == ("set_aside", None) and reason.startswith("no sender address")

    cases = {case["claimant"]: case for case in register(config)}
    registered = {name for name, row in outcomes.items() if row[2] is not None}
    assert registered == set(corpus) - {"no From"}

    # The forward nested 500 deep: a case for its sender, the attached mail kept whole beside it.
    assert "relais500@example.fr" in cases
    (attached,) = archive.rglob("01-Tr_ niveau 499.eml")
    assert attached.read_bytes().startswith(b"From: relais499@example.fr")

    # winmail.dat: the files inside are kept under their names and listed in the exchange log.
    show = invoke(config, "cases", "show", cases["lea.martin@example.fr"]["number"], "--json")
    notes = [entry.get("note", "") for entry in json.loads(show.out)["messages"]]
    assert any("winmail.dat (Outlook TNEF) unpacked: Facture mars.pdf, Photo été.jpg" in n for n in notes), notes
    assert {p.name for p in archive.rglob("0*-*") if p.suffix in (".pdf", ".jpg")} >= {
        "01-Facture mars.pdf",
        "02-Photo été.jpg",
    }

    # Thousands of headers: the case is there, and says how many headers were read.
    assert "only 1000 of 5007 headers kept" in outcomes["5000 headers"][1]

    # What no column could hold is cleaned and clamped, on every database; internationalised and
    # quoted addresses are acknowledged (the sink offers SMTPUTF8) and the outbox went on.
    assert not any("\x00" in subject for (subject,) in rows(database, "SELECT subject FROM mails"))
    assert all(len(name) <= 256 for (name,) in rows(database, "SELECT from_name FROM mails"))
    assert all(len(address or "") <= 320 for (address,) in rows(database, "SELECT from_address FROM mails"))
    acknowledged = {rcpt for message in smtp_sink.messages for rcpt in message.rcpt_tos}
    assert {"léa@exemple.fr", '"jean dupont"@example.fr', "nul@example.fr", "relais500@example.fr"} <= acknowledged


def peak_memory_of(config: Path, *args: str, output: Path) -> int:
    """Peak resident memory (bytes) of `inboxbot ARGS` in its own process.

    Read from /proc/self/status (VmHWM) inside the child as it exits, not from getrusage in this
    process: Linux carries the parent's high-water mark into a child's ru_maxrss across
    fork/vfork and exec, so a child of a large pytest process would report pytest's peak.
    """
    probe = (
        "import atexit, runpy, sys\n"
        "out = sys.argv.pop(1)\n"
        "def peak():\n"
        "    lines = open('/proc/self/status').read().splitlines()\n"
        "    open(out, 'w').write(next(l for l in lines if l.startswith('VmHWM:')).split()[1])\n"
        "atexit.register(peak)\n"
        "sys.argv[0] = 'inboxbot'\n"
        "runpy.run_module('inboxbot', run_name='__main__', alter_sys=True)\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", probe, str(output), "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return int(output.read_text()) * 1024


def test_memory_stays_bounded_with_the_hostile_corpus_and_a_30_mb_attachment(
    config: Path, mail_account: MailAccount, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    """The bound SECURITY.md states: a `run --once` cycle peaks at most 5 times its largest
    attachment above the same cycle on one ordinary mail. Measured here: 4.1 times (13.5 before
    large bodies were kept from the stdlib parser): the raw mail (1.4), the decoded attachment
    (1.0), and imaplib writing the whole fetched literal into a debug message nobody logs."""
    mail_account.append(make_mail("lea@example.fr", DIRECTOR, "Réclamation", "Bonjour"))
    baseline = peak_memory_of(config, "run", "--once", output=tmp_path / "baseline")

    for raw in hostile_corpus().values():
        mail_account.append(raw)
    mail_account.append(large_attachment_mail(ATTACHMENT, from_="gros@example.fr"))
    peak = peak_memory_of(config, "run", "--once", output=tmp_path / "peak")

    cases = {case["claimant"] for case in register(config)}
    assert "gros@example.fr" in cases  # the large mail really went through
    extra = peak - baseline
    assert extra < 5 * ATTACHMENT, f"+{extra / 2**20:.0f} MB = {extra / ATTACHMENT:.1f} times the attachment"


# --- depth in the pure parts -----------------------------------------------------------------


def test_quotes_and_html_nested_thousands_deep_are_read_without_recursing() -> None:
    quoted = "\n".join(["Ma réponse."] + [">" * depth + " plus ancien" for depth in range(1, 3000)])
    assert new_text(quoted) == "Ma réponse."
    html = "<blockquote>" * 5000 + "au fond" + "</blockquote>" * 5000
    assert html_to_text(html) == "au fond"
    assert new_text("", "<p>Ma réponse.</p>" + html) == "Ma réponse.\n\nau fond"
