"""The floor: the least any program must do for these mails, run as its own process.

Fetch every mail of INBOX with imapclient (`UID FETCH BODY.PEEK[] INTERNALDATE` in batches, as the
product does), parse it with mail-parser, and send one acknowledgement per mail over ONE reused
SMTP connection (aiosmtplib). No database, rules, templates, archive or threading.

The acknowledgement is a fixed French text+HTML mail of about the size of the product's, built
with the compat32 API (the cheap one, see the notes), addressed to the mail's sender.

Usage: python3 bench/floor.py IMAP_HOST IMAP_PORT USER PASSWORD SMTP_PORT [BATCH]
Prints one JSON line: counts, the time spent fetching, parsing and sending, and when (the
monotonic clock) the first fetch began.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from email.charset import QP, Charset
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import formatdate, make_msgid

import aiosmtplib
import imapclient
import mailparser

FROM = "alice@cafemetrie.example"
_POLICY = compat32.clone(linesep="\r\n")
_UTF8_QP = Charset("utf-8")
_UTF8_QP.body_encoding = QP
TEXT = (
    "Bonjour,\n\nNous avons bien reçu votre message du {date} et l'avons enregistré sous le numéro "
    "de dossier {number}. Conformément à notre procédure de traitement des réclamations, vous recevrez "
    "une réponse au plus tard dans un délai de trente jours.\n\n"
    "Pour toute information complémentaire, répondez simplement à ce message en conservant le numéro "
    "de dossier dans l'objet.\n\nCordialement,\nLa direction de Cafémétrie\n"
) * 3
HTML = "<html><body>" + "".join(f"<p>{p}</p>" for p in TEXT.split("\n\n")) + "</body></html>"


def acknowledgement(recipient: str, subject: str, message_id: str | None, number: int) -> bytes:
    message = MIMEMultipart("alternative")
    text = TEXT.format(date=formatdate(localtime=True), number=f"2026-{number:04d}")
    message.attach(MIMEText(text, "plain", _UTF8_QP))  # type: ignore[arg-type]
    message.attach(MIMEText(HTML, "html", _UTF8_QP))  # type: ignore[arg-type]
    message["From"] = FROM
    message["To"] = recipient
    message["Subject"] = Header(f"Accusé de réception [Dossier 2026-{number:04d}] {subject}"[:200], "utf-8")  # type: ignore[assignment]
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain="cafemetrie.example")
    if message_id:
        message["In-Reply-To"] = message_id
    message["Auto-Submitted"] = "auto-replied"
    return message.as_bytes(policy=_POLICY)


async def main(host: str, port: int, user: str, password: str, smtp_port: int, batch: int) -> dict[str, float]:
    times = {"fetch": 0.0, "parse": 0.0, "send": 0.0}
    smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=smtp_port, timeout=60)
    await smtp.connect()
    client = imapclient.IMAPClient(host, port, ssl=False, timeout=60)
    client.login(user, password)
    client.select_folder("INBOX", readonly=True)
    uids = sorted(client.search(["ALL"]))
    sent = 0
    # CLOCK_MONOTONIC is one clock for every process of the machine: the benchmark times from here.
    first_fetch = time.monotonic()
    for start in range(0, len(uids), batch):
        chunk = uids[start : start + batch]
        t0 = time.perf_counter()
        response = client.fetch(chunk, ["BODY.PEEK[]", "INTERNALDATE"])
        times["fetch"] += time.perf_counter() - t0
        for uid in chunk:
            raw = bytes(response[uid][b"BODY[]"])
            t0 = time.perf_counter()
            mail = mailparser.parse_from_bytes(raw)
            sender = mail.from_[0][1] if mail.from_ else "unknown@example.org"
            subject, message_id = mail.subject, mail.message_id
            t1 = time.perf_counter()
            sent += 1
            await smtp.sendmail(FROM, [sender], acknowledgement(sender, subject, message_id, sent))
            times["parse"] += t1 - t0
            times["send"] += time.perf_counter() - t1
        del response
    client.logout()
    await smtp.quit()
    return {"mails": len(uids), "sent": sent, **times, "first_fetch_monotonic": first_fetch}


if __name__ == "__main__":
    args = sys.argv[1:]
    batch_size = int(args[5]) if len(args) > 5 else 200
    result = asyncio.run(main(args[0], int(args[1]), args[2], args[3], int(args[4]), batch_size))
    print(json.dumps(result))
