"""Build realistic test e-mails as bytes, ready for IMAP APPEND or SMTP.

Why a helper: IMAP APPEND stores the bytes unchanged, and real mail uses CRLF line
endings, RFC 2047 encoded headers and a declared charset. Hand-written literals in tests
tend to get one of these wrong (bare LF, raw UTF-8 in Subject), which the code under test
would then be tuned to. ``email.message.EmailMessage`` with ``policy.SMTP`` gets them right.
"""

from __future__ import annotations

import base64
import os
import struct
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

__all__ = ["large_attachment_mail", "make_mail", "many_headers", "nested_attached_mails", "tnef_mail"]


def _addresses(value: str | Sequence[str]) -> str:
    return value if isinstance(value, str) else ", ".join(value)


def make_mail(
    from_: str,
    to: str | Sequence[str],
    subject: str,
    body: str,
    message_id: str | None = None,
    in_reply_to: str | None = None,
    references: str | Sequence[str] | None = None,
    date: datetime | str | None = None,
    extra_headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    html: str | None = None,
    attachments: Sequence[tuple[str, bytes, str]] = (),
    transfer_encoding: str | None = None,
) -> bytes:
    """Return a complete message (headers and body) with CRLF line endings.

    - ``from_``/``to``: addresses, e.g. ``'Élodie Martin <elodie@example.org>'`` (non-ASCII
      display names are encoded); ``to`` may be a list.
    - ``message_id``: defaults to a fresh ``<...@example.org>``; pass ``""`` to omit the
      header (some real mails have none).
    - ``references``: a string or a list of Message-IDs.
    - ``date``: a datetime (a naive one is taken as UTC) or a ready header value; defaults to now.
    - ``extra_headers``: a mapping, or (name, value) pairs when a header repeats (Received).
    - ``html``: adds a text/html alternative to the plain-text ``body``.
    - ``attachments``: (filename, content, "maintype/subtype") triples.
    - ``transfer_encoding``: force ``quoted-printable``, ``base64`` or ``8bit`` for the text
      parts; by default ASCII text is 7bit and French text 8bit (what policy.SMTP picks).

    Text parts are UTF-8, so accented French text is safe.
    """
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = from_
    message["To"] = _addresses(to)
    message["Subject"] = subject
    if date is None:
        date = datetime.now(UTC)
    if isinstance(date, datetime):
        if date.tzinfo is None:
            date = date.replace(tzinfo=UTC)
        date = format_datetime(date)
    message["Date"] = date
    if message_id is None:
        message_id = make_msgid(domain="example.org")
    if message_id:
        message["Message-ID"] = message_id
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = references if isinstance(references, str) else " ".join(references)
    if extra_headers:
        pairs = extra_headers.items() if isinstance(extra_headers, Mapping) else extra_headers
        for name, value in pairs:
            message[name] = value

    text_options = {"cte": transfer_encoding} if transfer_encoding else {}
    message.set_content(body, charset="utf-8", **text_options)
    if html is not None:
        message.add_alternative(html, subtype="html", charset="utf-8", **text_options)
    for filename, content, mime_type in attachments:
        maintype, _, subtype = mime_type.partition("/")
        message.add_attachment(content, maintype=maintype, subtype=subtype or "octet-stream", filename=filename)

    return message.as_bytes(policy=policy.SMTP)


# --- hostile and broken mail (issue 6) -------------------------------------------------------
# Made by the tests rather than shipped: each is a few lines, and its hostile part is obvious.

CRLF = b"\r\n"


def _head(from_: str | None, subject: str, message_id: str | None, extra: Sequence[str] = ()) -> bytes:
    lines = [f"From: {from_}"] if from_ else []
    lines += ["To: alice@cafemetrie.example", f"Subject: {subject}", "Date: Mon, 23 Nov 2026 10:00:00 +0100"]
    lines += [f"Message-ID: <{message_id}>"] if message_id else []
    lines += ["MIME-Version: 1.0", *extra]
    return CRLF.join(line.encode("utf-8") for line in lines) + CRLF


def nested_attached_mails(depth: int, author: str = "lea.martin@example.fr") -> bytes:
    """A mail forwarding a mail forwarding a mail… `depth` times, as message/rfc822 parts.

    The innermost mail is `author`'s; each level around it is a relay with a line of its own.
    """
    inner = _head(author, "Réclamation d'origine", "nested-0@example.fr") + CRLF + b"Le fond de l'affaire."
    for level in range(1, depth + 1):
        boundary = f"niveau-{level}".encode()
        inner = (
            _head(
                f"relais{level}@example.fr",
                f"Tr: niveau {level}",
                f"nested-{level}@example.fr",
                [f'Content-Type: multipart/mixed; boundary="{boundary.decode()}"'],
            )
            + CRLF
            + b"--"
            + boundary
            + CRLF
            + b"Content-Type: text/plain; charset=utf-8"
            + CRLF
            + CRLF
            + f"Je transmets (niveau {level}).".encode()
            + CRLF
            + b"--"
            + boundary
            + CRLF
            + b"Content-Type: message/rfc822"
            + CRLF
            + CRLF
            + inner
            + CRLF
            + b"--"
            + boundary
            + b"--"
            + CRLF
        )
    return inner


def tnef_attribute(level: int, attribute: int, data: bytes) -> bytes:
    checksum = sum(data) & 0xFFFF
    return struct.pack("<BII", level, attribute, len(data)) + data + struct.pack("<H", checksum)


def tnef_stream(files: Sequence[tuple[str, bytes]], long_names: bool = True) -> bytes:
    """A winmail.dat holding `files`, as Outlook writes it ([MS-OXTNEF]): for each file its
    8.3 title, its content and, with `long_names`, the MAPI long file name."""
    stream = struct.pack("<IH", 0x223E9F78, 0x0001)
    stream += tnef_attribute(1, 0x00089006, struct.pack("<I", 0x00010000))  # attTnefVersion
    stream += tnef_attribute(1, 0x00069007, struct.pack("<II", 1252, 0))  # attOemCodepage
    for name, content in files:
        stem, _, extension = name.rpartition(".")
        short = f"{stem[:6].upper()}~1.{extension[:3].upper()}".encode("cp1252", "replace") + b"\0"
        stream += tnef_attribute(2, 0x00069002, b"\x01\x00\xff\xff\xff\xff" + bytes(8))  # attAttachRendData
        stream += tnef_attribute(2, 0x00018010, short)  # attAttachTitle
        stream += tnef_attribute(2, 0x0006800F, content)  # attAttachData
        if long_names:
            text = name.encode("utf-16-le") + b"\0\0"
            props = struct.pack("<I", 2)
            props += struct.pack("<HHI", 0x0003, 0x0E20, len(content))  # PidTagAttachSize
            props += struct.pack("<HHII", 0x001F, 0x3707, 1, len(text)) + text + bytes(-len(text) % 4)
            stream += tnef_attribute(2, 0x00069005, props)  # attAttachment
    return stream


def tnef_mail(files: Sequence[tuple[str, bytes]], from_: str = "lea.martin@example.fr") -> bytes:
    """What Outlook sends with "Rich Text" on: a short text and a winmail.dat."""
    return make_mail(
        from_,
        "alice@cafemetrie.example",
        "Réclamation : documents joints",
        "Bonjour, voici mes justificatifs.",
        attachments=[("winmail.dat", tnef_stream(files), "application/ms-tnef")],
    )


def many_headers(count: int, from_: str = "lea.martin@example.fr") -> bytes:
    """An ordinary complaint buried under `count` junk headers."""
    junk = [f"X-Junk-{index}: {'z' * 40}" for index in range(count)]
    return (
        _head(from_, "Réclamation sous les en-têtes", "many-headers@example.fr", [*junk, "Content-Type: text/plain"])
        + CRLF
        + b"Ma formation n'a pas eu lieu."
        + CRLF
    )


def large_attachment_mail(size: int, from_: str = "lea.martin@example.fr") -> bytes:
    """A complaint with a `size`-byte scanned PDF, base64 in 76-character lines as mailers write it.

    Built by hand: `EmailMessage` takes seconds and hundreds of megabytes to encode 30 MB.
    """
    boundary = "grosse-piece-jointe"
    encoded = base64.encodebytes(os.urandom(size)).replace(b"\n", CRLF)
    return (
        _head(from_, "Réclamation : dossier scanné", f"large-{size}@example.fr")
        + f'Content-Type: multipart/mixed; boundary="{boundary}"'.encode()
        + CRLF
        + CRLF
        + f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n".encode()
        + b"Veuillez trouver ci-joint le dossier complet."
        + CRLF
        + f"--{boundary}\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n".encode()
        + b'Content-Disposition: attachment; filename="dossier-complet.pdf"\r\n\r\n'
        + encoded
        + f"--{boundary}--\r\n".encode()
    )
