"""Outgoing mail: composed once when queued, sent after the commit (`smtp`), retried with back-off.

The bytes, Message-ID included, are fixed when the outbox row is written, so a retry after a crash
is recognisably the same mail, and a reply to it threads into the case even if the first attempt's
fate is unknown. Mail is built with the compat32 API: several times cheaper than `EmailMessage` under
`policy.default` for the same headers, which matters in a mail storm.
"""

from __future__ import annotations

import binascii
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.base64mime import header_encode as b_encode
from email.charset import Charset
from email.encoders import encode_base64
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.policy import Compat32
from email.utils import format_datetime, formataddr

from inboxbot.config import OutboxSettings
from inboxbot.domain.message import LOOP_HEADER, Address
from inboxbot.outgoing.render import RenderedMail

# A mail storm composes hundreds of mails a minute: the stdlib's folding and quoted-printable are
# pure Python and slow (its RFC 2047 encoder is quadratic in the subject's length).
# Headers are therefore encoded here once, already folded, and bodies with the C `binascii`.
_LINE = 78
_WORD_BYTES = 30  # UTF-8 bytes per encoded word: "=?utf-8?b?" + 40 base64 chars + "?=" stays short


class _PreFolded(Compat32):
    """compat32 that writes an ASCII header already folded by `compose` as it is.

    Anything else (a long line, 8-bit text) still goes through compat32's own folding.
    """

    def _fold(self, name: str, value: object, sanitize: bool) -> str:
        if isinstance(value, str) and value.isascii() and "\r" not in value:
            lines = f"{name}: {value}".split("\n")
            if all(len(line) <= _LINE for line in lines):
                return self.linesep.join(lines) + self.linesep
        if isinstance(value, str) and _UTF8_MARK.search(value) and "\r" not in value and "\n" not in value:
            # An internationalised address (RFC 6532), written as UTF-8: an encoded word would
            # turn it into another, undeliverable address. Only sent over SMTPUTF8.
            return f"{name}: {value}{self.linesep}"
        folded: str = super()._fold(name, value, sanitize)  # type: ignore[misc]
        return folded


# A header value holding UTF-8 bytes as surrogate escapes (see `_raw_utf8`), which compat32's
# binary generator writes back as the bytes they stand for.
_UTF8_MARK = re.compile("[\udc80-\udcff]")
_CRLF_POLICY = _PreFolded(linesep="\r\n")
_UTF8 = Charset("utf-8")


def _encoded_words(text: str) -> str:
    """RFC 2047 words for `text`, one per line, never splitting a character."""
    if text.isascii():
        return text
    words: list[str] = []
    chunk = ""
    for char in text:
        if len((chunk + char).encode("utf-8")) > _WORD_BYTES:
            words.append(b_encode(chunk.encode("utf-8"), "utf-8"))
            chunk = ""
        chunk += char
    if chunk:
        words.append(b_encode(chunk.encode("utf-8"), "utf-8"))
    # Whitespace between two encoded words is dropped by decoders: the folds add nothing.
    return "\n ".join(words)


def _text_part(text: str, subtype: str) -> MIMENonMultipart:
    """A UTF-8 text part in quoted-printable, which keeps French readable in the raw mail."""
    part = MIMENonMultipart("text", subtype, charset="utf-8")
    part["Content-Transfer-Encoding"] = "quoted-printable"
    encoded = binascii.b2a_qp(_whole(text).replace("\r\n", "\n").encode("utf-8"), istext=True)
    part.set_payload(encoded.decode("ascii"))
    return part


def _boundary() -> str:
    """A boundary no part can contain: quoted-printable writes "=" as "=3D", base64 has no "_".

    Given, it spares the stdlib's generator its own search for a safe one, which writes the whole
    multipart once more and compiles a regular expression for it (half of composing a mail).
    """
    return f"=_{uuid.uuid4().hex}"


class UnsafeHeader(ValueError):
    """Claimant-controlled text that would have added a header or a recipient."""


@dataclass(frozen=True)
class MailAttachment:
    filename: str
    content_type: str
    payload: bytes


def new_message_id(from_address: str) -> str:
    """A Message-ID that only inboxbot makes: how it later recognises its own mail."""
    domain = from_address.rpartition("@")[2] or "localhost"
    return f"inboxbot.{uuid.uuid4().hex}@{domain}"


def is_inboxbot_message_id(message_id: str) -> bool:
    return message_id.startswith("inboxbot.")


def _one_line(value: str) -> str:
    return " ".join(_whole(value).replace("\r", " ").replace("\n", " ").split())


# A lone surrogate: what a decoder with `surrogateescape` leaves of a byte it could not read.
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _whole(text: str) -> str:
    """`text` with each lone surrogate shown as U+FFFD: no UTF-8 can hold one, and a byte some stranger's
    mail left undecodable must cost a « � » in the acknowledgement, not the acknowledgement."""
    return _LONE_SURROGATE.sub("\ufffd", text)


# RFC 5321: a path is at most 256 octets with its angle brackets.
MAX_ADDRESS = 254
# A dot-atom local part: RFC 5322's atext (letters, digits, !#$%&'*+/=?^_`{|}~-), and (RFC 6531)
# any non-ASCII character. Written as the ASCII it excludes: a class spanning U+0080-U+10FFFF
# costs the `re` compiler milliseconds, paid by every process that imports this module.
_ATEXT = r'[^\x00-\x20"(),.:;<>@\[\\\]\x7f]+'
_DOT_ATOM = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*")
_QUOTED_LOCAL = re.compile(r'"(?:[^"\\]|\\.)*"')
# A host name: labels of letters (any script), digits, "_" and hyphens; written, as above, as the
# ASCII it excludes.
_LABEL = r"[^\x00-\x2c./:;<=>?@\[\\\]^`{|}~\x7f]+"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def mailbox(email: str) -> str:
    """`email`, checked to be one mailbox that can be written as it is on the SMTP command line
    and in a header; UnsafeHeader otherwise.

    The local part is a dot-atom or a quoted string (`"jean dupont"@example.fr`, as the parser
    keeps it): inside the quotes a comma, a space or an angle bracket is text, not syntax, so it
    can neither add a recipient nor end the address. Non-ASCII is allowed (RFC 6531; sent with
    SMTPUTF8). Control characters and line breaks never are.
    """
    if _CONTROL.search(email) or _LONE_SURROGATE.search(email) or len(email.encode("utf-8")) > MAX_ADDRESS:
        raise UnsafeHeader(f"refusing to send to {email!r}")
    local, at, domain = email.rpartition("@")
    if not at or not local or not _DOMAIN.fullmatch(domain):
        raise UnsafeHeader(f"refusing to send to {email!r}")
    if not (_DOT_ATOM.fullmatch(local) or _QUOTED_LOCAL.fullmatch(local)):
        raise UnsafeHeader(f"refusing to send to {email!r}")
    return email


def needs_smtputf8(*addresses: str) -> bool:
    """Whether an address can only travel over SMTPUTF8 (RFC 6531)."""
    return not all(address.isascii() for address in addresses)


def _raw_utf8(value: str) -> str:
    """`value` with its non-ASCII characters as the surrogate escapes of their UTF-8 bytes, which
    `_PreFolded` writes out as those bytes."""
    return value.encode("utf-8").decode("ascii", "surrogateescape")


def _address_header(address: Address) -> str:
    email = mailbox(address.email)
    name = _one_line(address.name)
    if not name:
        header = email
    else:
        # formataddr quotes the name where needed, but takes only an ASCII address: it is given a
        # stand-in, replaced by the real one.
        stand_in = "x@x.invalid"
        # One encoded word: split in two, a display name decodes with a doubled space in some readers.
        shown = name if name.isascii() else _UTF8.header_encode(name)
        header = formataddr((shown, stand_in)).removesuffix(f"<{stand_in}>") + f"<{email}>"
    return header if email.isascii() else _raw_utf8(header)


# What a msg-id may hold (RFC 5322 dot-atom-text or a domain literal, around one "@"): anything
# else, non-ASCII above all, would be written as an encoded word, which no client matches.
_MSG_ID = re.compile(r"[!-;=?-~]+")


def _threading_ids(ids: Sequence[str]) -> list[str]:
    """The Message-IDs that can be echoed as they are; the others are left out rather than mangled:
    the claimant's reply names our own Message-ID, which threads it all the same."""
    return [mid for mid in (_one_line(m) for m in ids if m) if _MSG_ID.fullmatch(mid)]


def compose(
    *,
    sender: Address,
    recipient: Address,
    rendered: RenderedMail,
    message_id: str,
    date: datetime,
    in_reply_to: str | None = None,
    references: Sequence[str] = (),
    auto_submitted: str = "auto-replied",
    attachments: Sequence[MailAttachment] = (),
) -> bytes:
    """The bytes of a French text+HTML mail, threaded under `in_reply_to` when given."""
    body = MIMEMultipart("alternative", boundary=_boundary())
    body.attach(_text_part(rendered.text, "plain"))
    body.attach(_text_part(rendered.html, "html"))
    if attachments:
        message = MIMEMultipart("mixed", boundary=_boundary())
        message.attach(body)
        for attachment in attachments:
            maintype, _, subtype = attachment.content_type.partition("/")
            part = MIMEBase(maintype, subtype or "octet-stream")
            part.set_payload(attachment.payload)
            encode_base64(part)
            part.add_header("Content-Disposition", "attachment", filename=("utf-8", "", attachment.filename))
            message.attach(part)
    else:
        message = body
    message["From"] = _address_header(sender)
    message["To"] = _address_header(recipient)
    subject = _one_line(rendered.subject)
    message["Subject"] = _encoded_words(subject)
    message["Date"] = format_datetime(date)
    message["Message-ID"] = f"<{message_id}>"
    parent = _threading_ids([in_reply_to] if in_reply_to else [])
    if parent:
        message["In-Reply-To"] = f"<{parent[0]}>"
    refs = _threading_ids(references)
    if refs:
        message["References"] = " ".join(f"<{r}>" for r in refs[-20:])
    # RFC 3834: this mail is automatic, so well-behaved responders must not answer it.
    message["Auto-Submitted"] = auto_submitted
    message["X-Auto-Response-Suppress"] = "All"
    message[LOOP_HEADER] = sender.email
    message["Content-Language"] = "fr"
    return message.as_bytes(policy=_CRLF_POLICY)


# What the director reads in the digest when an internationalised address meets a server without
# SMTPUTF8: nothing inboxbot can do, she writes from her own client.
NO_SMTPUTF8 = (
    "adresse internationalisée (caractères non ASCII) : le serveur d'envoi ne propose pas SMTPUTF8, "
    "l'envoi automatique est impossible"
)


@dataclass(frozen=True)
class SendResult:
    outgoing_id: int
    accepted: bool
    permanent: bool
    error: str
    # No connection or no login: the server's failure, not this mail's, so not one of its attempts.
    unreachable: bool = False


def retry_at(settings: OutboxSettings, attempts: int, now: datetime) -> datetime | None:
    """When to try again after `attempts` failures, doubling each time; None to give up."""
    if attempts >= settings.max_attempts:
        return None
    return backoff(settings, attempts, now)


def backoff(settings: OutboxSettings, failures: int, now: datetime) -> datetime:
    """`now` plus the wait after `failures` failures in a row: doubling, up to the longest wait."""
    delay = min(settings.first_retry_seconds * (2 ** max(failures - 1, 0)), settings.max_retry_seconds)
    return now + timedelta(seconds=delay)
