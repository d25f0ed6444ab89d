"""Build realistic test e-mails as bytes, ready for IMAP APPEND or SMTP.

Why a helper: IMAP APPEND stores the bytes unchanged, and real mail uses CRLF line
endings, RFC 2047 encoded headers and a declared charset. Hand-written literals in tests
tend to get one of these wrong (bare LF, raw UTF-8 in Subject), which the code under test
would then be tuned to. ``email.message.EmailMessage`` with ``policy.SMTP`` gets them right.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

__all__ = ["make_mail"]


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
