"""`inboxbot demo`: the whole procedure on an embedded default, with nothing to install or configure.

It starts pymap (a pure-Python IMAP server) and an aiosmtpd sink on loopback ports, points the real
program at them with a SQLite database in a temporary directory, drops a few typical mails into the
mailbox — a learner's complaint, a trainer's incident, a newsletter, a personal mail — runs a cycle,
then the learner's reply to the acknowledgement; then the director answers her from her own mail
client (a copy in the Sent folder, as her client files it) and closes the case with a command mailed to
herself; then it prints the register, the daily digest and writes the audit file. pymap's IDLE is
unreliable with imapclient, so the demo runs cycles itself instead of idling. Its own set-up (a
mailbox with a Sent folder, the digest left to the demo) gives the real program nothing to warn about.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

import imapclient
from aiosmtpd.controller import Controller

from inboxbot.adapters.imap import FetchedMail
from inboxbot.bootstrap import App, build
from inboxbot.config import settings_from_mapping
from inboxbot.domain.vocabulary import MailOutcome
from inboxbot.procedure.pipeline import run_once

DEMO_USER = "alice@cafemetrie.example"
DEMO_PASSWORD = "demo"
SENT = "Sent"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class _Sink:
    """An SMTP server that keeps what it receives, standing in for the real outgoing server."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        message = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.messages.append(message)
        return "250 OK"


@contextmanager
def _pymap(port: int) -> Iterator[None]:
    command = [
        sys.executable,
        "-c",
        "from pymap.main import main; main()",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-tls",
        "dict",
        "--demo-user",
        DEMO_USER,
        "--demo-password",
        DEMO_PASSWORD,
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    error = process.stderr.read().decode(errors="replace") if process.stderr else ""
                    raise RuntimeError(f"the embedded IMAP server (pymap) did not start: {error[-500:]}") from None
                time.sleep(0.05)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()


def _subject(raw: bytes) -> str:
    return str(message_from_bytes(raw, policy=policy.default)["Subject"] or "")


def _mail(sender: str, subject: str, body: str, **headers: str) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = headers.pop("To", f"Cafémétrie <{DEMO_USER}>")
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = headers.pop("message_id", None) or make_msgid(domain=sender.rpartition("@")[2].strip(">"))
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message.as_bytes(policy=policy.SMTP)


def _settings(directory: Path, imap_port: int, smtp_port: int) -> dict[str, Any]:
    return {
        "organisation": {
            "name": "Cafémétrie",
            "timezone": "Europe/Paris",
            "procedure_reviewed": datetime.now(UTC).date().isoformat(),
        },
        "imap": {
            "host": "127.0.0.1",
            "port": imap_port,
            "security": "plain",
            "username": DEMO_USER,
            "password": DEMO_PASSWORD,
            "mode": "shared",
            "idle": False,
        },
        "smtp": {
            "host": "127.0.0.1",
            "port": smtp_port,
            "security": "plain",
            "from_address": DEMO_USER,
            "from_name": "Cafémétrie",
        },
        "director": {"addresses": [DEMO_USER]},
        "database": {"url": f"sqlite:///{directory / 'inboxbot.db'}"},
        "storage": {"archive_dir": str(directory / "archive")},
        "digest": {"enabled": False},  # not sent at its hour while the demo runs: the demo prints it at the end
    }


def _print_cycle(title: str, seen: list[tuple[FetchedMail, MailOutcome]], sink: _Sink, sent_before: int) -> None:
    print(f"\n=== {title} ===")
    print("Reçu :")
    for fetched, outcome in seen:
        message = message_from_bytes(fetched.raw, policy=policy.default)
        print(f"  - de {message['From']} : « {message['Subject']} »")
        print(f"      → {outcome.label}")
    with sink.lock:
        sent = sink.messages[sent_before:]
    print("Envoyé :" if sent else "Envoyé : rien")
    for message in sent:
        print(f"  - à {message['To']} : « {message['Subject']} »")
        body = message.get_body(preferencelist=("plain",))
        text = body.get_content() if body is not None else ""
        for line in textwrap.wrap(" ".join(text.split())[:400], 90):
            print(f"      {line}")


def _print_register(app: App) -> None:
    tz = app.settings.organisation.timezone
    with app.store.unit() as unit:
        details = unit.case_details(unit.cases())
    print("\n=== Tableau de suivi ===")
    for detail in details:
        case = detail.case
        acknowledged = case.acknowledged_at.astimezone(tz).strftime("%d/%m/%Y %H:%M") if case.acknowledged_at else "—"
        print(
            f"  {case.number}  {case.kind_label:<11} de {case.claimant or '—'}\n"
            f"      « {case.subject} »  reçu le {case.received_at.astimezone(tz):%d/%m/%Y %H:%M}\n"
            f"      accusé de réception dû le {case.acknowledge_due:%d/%m/%Y}, envoyé le {acknowledged} ; "
            f"réponse due le {case.response_due:%d/%m/%Y}"
            + (f" ; clos le {case.closed_at.astimezone(tz):%d/%m/%Y}" if case.closed_at else " ; ouvert")
            + "\n"
            f"      {len(detail.messages)} échange(s) : "
            + ", ".join(f"{'←' if m.direction == 'in' else '→'} {m.subject[:40]}" for m in detail.messages)
        )


def _print_digest(app: App) -> None:
    from inboxbot.procedure.digest import build_digest

    digest = build_digest(app, app.clock())
    print("\n=== Le point du jour (envoyé chaque matin à la directrice) ===")
    if digest is None:
        print("  Rien à signaler.")
        return
    print(f"Objet : {digest.subject}\n")
    print(textwrap.indent(digest.text.rstrip(), "  "))


def _write_audit_file(app: App, directory: Path) -> Path:
    from inboxbot.procedure.casework import audit_site

    target, archive = directory / "dossier-audit", directory / "dossier-audit.zip"
    if target.exists():  # a kept directory from an earlier demo
        import shutil

        shutil.rmtree(target)
    with app.store.reading() as unit:
        result = audit_site(unit, app.settings, target, app.clock(), zip_to=archive)
    print("\n=== Le dossier d'audit ===")
    print(f"  {result.cases} dossier(s) : ouvrez {target / 'index.html'} dans un navigateur")
    print(f"  (le même, zippé pour l'auditeur : {archive} ; par e-mail : #registre audit)")
    return target


def run_demo(keep: str | None = None) -> int:
    # Resolved: the settings take paths relative to the config file's folder, which is this one.
    directory = Path(keep).resolve() if keep else Path(tempfile.mkdtemp(prefix="inboxbot-demo-"))
    directory.mkdir(parents=True, exist_ok=True)
    imap_port, sink = _free_port(), _Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        with _pymap(imap_port):
            settings = settings_from_mapping(_settings(directory, imap_port, controller.port), directory)
            app = build(settings)
            try:
                _demo(app, imap_port, sink)
                _print_register(app)
                _print_digest(app)
                _write_audit_file(app, directory)
            finally:
                app.close()
    finally:
        controller.stop()
    print(f"\nBase de données et archive des messages : {directory}")
    print("Pour la vraie boîte : copiez config.example.toml en config.toml, remplissez-le, puis `inboxbot check`.")
    return 0


def _demo(app: App, imap_port: int, sink: _Sink) -> None:
    print("inboxbot — démonstration sur un serveur de messagerie embarqué (aucun compte nécessaire)")
    imap = imapclient.IMAPClient("127.0.0.1", port=imap_port, ssl=False)
    imap.login(DEMO_USER, DEMO_PASSWORD)
    # Her mail client files what she sends here; inboxbot reads her replies and her commands from it.
    imap.create_folder(SENT)
    run_once(app)  # first meeting with the mailbox: what was already there is left alone
    try:
        for raw in (
            _mail(
                "Léa Martin <lea.martin@example.fr>",
                "Réclamation : attestation de formation non reçue",
                "Bonjour,\n\nJ'ai suivi la formation « Barista niveau 2 » du 3 au 5 novembre et je n'ai "
                "toujours pas reçu mon attestation de fin de formation.\n\nCordialement,\nLéa Martin",
            ),
            _mail(
                "Marc Dubois <marc.dubois@example.fr>",
                "[ALÉA] Salle inaccessible ce matin",
                "La salle de formation de Lyon est fermée (dégât des eaux). Session déplacée à 14h.",
            ),
            _mail(
                "La Lettre du Café <news@lettre-cafe.example>",
                "Les nouveautés de décembre",
                "Découvrez nos nouvelles origines...",
                List_Unsubscribe="<mailto:unsubscribe@lettre-cafe.example>",
                Precedence="bulk",
            ),
            _mail(
                "Paul <paul@example.fr>",
                "Déjeuner jeudi ?",
                "On se retrouve jeudi midi ?",
            ),
        ):
            imap.append("INBOX", raw)
        seen: list[tuple[FetchedMail, MailOutcome]] = []
        run_once(app, on_mail=lambda fetched, outcome: seen.append((fetched, outcome)))
        _print_cycle("Premier passage", seen, sink, 0)
        first_seen = list(seen)

        with sink.lock:
            acknowledgement = next(m for m in sink.messages if "lea.martin" in str(m["To"]))
            sent_before = len(sink.messages)
        imap.append(
            "INBOX",
            _mail(
                "Léa Martin <lea.martin@example.fr>",
                f"RE : {acknowledgement['Subject']}",
                "Merci. Je précise que j'en ai besoin pour mon employeur avant la fin du mois.\n\n"
                "> Nous avons bien reçu votre message...",
                In_Reply_To=str(acknowledgement["Message-ID"]),
                References=str(acknowledgement["Message-ID"]),
            ),
        )
        seen = []
        run_once(app, on_mail=lambda fetched, outcome: seen.append((fetched, outcome)))
        _print_cycle("Deuxième passage : la réponse de la réclamante", seen, sink, sent_before)

        # The director answers Léa from her own mail client: the mail goes out through her provider, and
        # her client files a copy in Sent, where inboxbot finds it.
        claim = next(fetched for fetched, _ in first_seen if "attestation" in _subject(fetched.raw))
        claim_id = str(message_from_bytes(claim.raw, policy=policy.default)["Message-ID"])
        imap.append(
            SENT,
            _mail(
                f"Alice Durand <{DEMO_USER}>",
                f"RE : {acknowledgement['Subject']}",
                "Bonjour Léa,\n\nVotre attestation vous a été envoyée ce matin par courrier et en pièce jointe "
                "de ce message. Toutes nos excuses pour ce retard.\n\nAlice Durand, directrice",
                To="Léa Martin <lea.martin@example.fr>",
                In_Reply_To=claim_id,
                References=f"{claim_id} {acknowledgement['Message-ID']}",
            ),
        )
        # Then she closes the case with a command, in a mail to herself (a copy in Sent proves it is hers).
        command = _mail(
            f"Alice Durand <{DEMO_USER}>",
            "[Dossier 2026-0001] clôture",
            "#clore attestation envoyée, la stagiaire est satisfaite\n#cause envoi des attestations oublié "
            "après la session\n#corrective Vérifier l'envoi des attestations le lendemain de chaque session ; "
            "responsable : Alice",
            To=DEMO_USER,
        )
        imap.append(SENT, command)
        imap.append("INBOX", command)
        with sink.lock:
            sent_before = len(sink.messages)
        seen = []
        run_once(app, on_mail=lambda fetched, outcome: seen.append((fetched, outcome)))
        _print_cycle("Troisième passage : la réponse de la directrice et sa commande #clore", seen, sink, sent_before)
    finally:
        imap.logout()
