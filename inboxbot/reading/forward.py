"""Claims transmitted by a third party: finding the original author inside a forwarded mail.

The procedure accepts a claim made to someone other than the organisation (a venue, a partner, a
trainer) and passed on to the director. Whoever forwards it is only the transmitter: the claimant
is the author of the forwarded mail, and the acknowledgement and the answer are owed to them.

Mail clients forward in two ways. "Forward as attachment" keeps the original mail whole, with its
real headers, so it is read first and trusted most. "Forward inline" copies a small header block
into the body, written differently by every client and in every language; that block is
recognised by its shape (an author line next to a subject or date line, after a forward marker or
at the start of a paragraph), never by a lone "From:" that could as well be prose.

Outlook writes the same header block, with or without a line of underscores, above the history of
a plain reply. An unmarked block is therefore refused when the outer subject says the mail is a
reply ("RE:") and nothing says it is a forward ("TR:", "Fwd:"): quoting our own acknowledgement
must not make the organisation its own claimant.

Everything here is pure: the caller passes a `ParsedMail` and gets values back.
"""

from __future__ import annotations

import email.errors
import email.header
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo

from inboxbot.domain.message import Address, Attachment, ParsedMail
from inboxbot.domain.text import fold
from inboxbot.reading.parse import ParseError, parse

MAX_NESTING = 5
"""Forwards of forwards followed at most; a crafted mail could nest attachments without end."""

_MAX_BLANKS_AFTER_MARKER = 3
"""Blank lines allowed between a marker and its header block (Apple Mail leaves one)."""

_MAX_CONTINUATIONS = 3
"""Wrapped lines accepted for one header value: long To lists and names wrap at 76 columns."""


@dataclass(frozen=True)
class ForwardedMail:
    """The mail a third party passed on, as its author wrote it.

    `date` is always timezone-aware, or None: a date written without a zone is only kept when the
    caller said which zone to read it in, because mixing naive and aware datetimes breaks every
    later comparison. `via` is "attachment" (headers read from the attached mail itself, exact)
    or "inline" (read from a copied header block, best effort).
    """

    author: Address
    subject: str
    date: datetime | None
    text: str
    message_id: str | None
    via: str


def extract_forwarded(mail: ParsedMail, local_zone: tzinfo | None = None) -> ForwardedMail | None:
    """The mail `mail` forwards, or None when it forwards nothing with a usable author address.

    An attached mail is preferred to an inline copy because its headers are the original ones.
    A forward that only wraps another forward (nothing written around it) is unwrapped so that the
    author of the innermost mail is found; if that author has no address the result is None rather
    than the intermediary, who is a transmitter and not a claimant.
    `local_zone` is the zone in which dates written without one (Gmail, Outlook) are read.

    Call it on mails known to be transmissions (the director's, a partner's): a claimant who
    forwards a mail as evidence, inline or attached, forwards too, and would be replaced here by
    the author of that evidence.
    """
    found = _attached(mail, local_zone, bare=False) or _inline(mail.text, mail.subject, local_zone, bare=False)
    for _ in range(MAX_NESTING):
        deeper = _nested(found, local_zone) if found is not None else None
        if deeper is None:
            break
        found = deeper
    if found is None or found.author is None:
        return None
    return ForwardedMail(
        author=found.author,
        subject=found.subject,
        date=found.date,
        text=found.text,
        message_id=found.message_id,
        via=found.via,
    )


@dataclass(frozen=True)
class _Found:
    """A forwarded mail before the author check: nesting is resolved before giving up on it."""

    author: Address | None
    subject: str
    date: datetime | None
    text: str
    message_id: str | None
    via: str
    raw_subject: str  # with its prefixes: whether it says "RE:" or "TR:" matters one level down
    inner: ParsedMail | None = None


def _nested(found: _Found, local_zone: tzinfo | None) -> _Found | None:
    """The forward `found` merely wraps, if its author wrote nothing around it."""
    if found.inner is not None:
        return _attached(found.inner, local_zone, bare=True) or _inline(
            found.inner.text, found.inner.subject, local_zone, bare=True
        )
    return _inline(found.text, found.raw_subject, local_zone, bare=True)


# --- forwarded as an attachment --------------------------------------------------------------


def _attached(mail: ParsedMail, local_zone: tzinfo | None, *, bare: bool) -> _Found | None:
    """The first attached mail that names its author.

    With `bare`, only when `mail` itself says nothing (a phone's signature aside): then it is a
    pure wrapper; next to words of its author, an attached mail may as well be evidence. Saved `.eml`
    files dragged into a mail are often labelled application/octet-stream, so they count too.
    """
    if bare and any(line.content and not _is_device_signature(line.content) for line in _lines(mail.text)):
        return None
    for attachment in mail.attachments:
        if not _is_attached_mail(attachment) or not attachment.payload.strip():
            continue
        try:
            inner = parse(attachment.payload)
        except ParseError:
            continue
        author = inner.from_ or (inner.reply_to[0] if inner.reply_to else None)
        if author is None:
            continue
        return _Found(
            author=author,
            subject=strip_forward_prefixes(inner.subject),
            date=inner.date,
            text=inner.text,
            message_id=inner.message_id,
            via="attachment",
            raw_subject=inner.subject,
            inner=inner,
        )
    return None


def _is_attached_mail(attachment: Attachment) -> bool:
    return attachment.content_type == "message/rfc822" or (
        attachment.filename.lower().endswith(".eml") and attachment.content_type == "application/octet-stream"
    )


# --- forwarded inline ------------------------------------------------------------------------

# Markers written by clients only when forwarding: the block after them is a forward, whatever
# the subject says. Matched on folded text (accents removed, case folded).
_STRONG_MARKERS = (
    # Gmail, Thunderbird, Yahoo, Roundcube: "---------- Forwarded message ---------" and kin.
    re.compile(
        r"-{2,}\s*(?:original\s+)?(?:forwarded\s+(?:message|e-?mail|mail)|message\s+transfere"
        r"|(?:e-?)?mail\s+transfere|courriel\s+transfere)\s*-{2,}"
    ),
    # Apple Mail and iOS.
    re.compile(r"(?:begin\s+forwarded\s+message|debut\s+du\s+message\s+(?:reexpedie|transfere))\s*:?"),
)
# Markers written above replies as well as forwards (Outlook, Orange webmail).
_WEAK_MARKERS = (
    re.compile(r"-{2,}\s*(?:original\s+message|message\s+d['\u2019]origine|message\s+(?:original|initial))\s*-{2,}"),
    re.compile(r"_{8,}"),
)
_DEVICE_SIGNATURE = re.compile(
    r"(?:envoye|sent|expedie)\s+(?:de|depuis|from|with|via|a\s+partir\s+de)\s+(?:(?:mon|ma|my|l'application)\s*)?"
    r"(?:iphone|ipad|android|smartphone|telephone|mobile|samsung|galaxy|outlook|yahoo|gmail|mail)\b.{0,40}"
    r"|(?:get|obtenir|telecharger)\s+outlook\s+(?:for|pour)\s+\S+"
)
_ORANGE_MARKER = re.compile(r"message\s+du\s+(\d{1,2}/\d{1,2}/\d{2,4}\s+\d{1,2}:\d{2})")

_QUOTE_PREFIX = re.compile(r"^[ \t]*((?:>[ \t]?)+)")
_ONE_QUOTE = re.compile(r"^[ \t]*>[ \t]?")
# `\s*(?:\*{1,2}\s*)?` rather than `\s*\*{0,2}\s*` (the same lines, but a run of blanks splits
# between them one way only) and a greedy value stripped afterwards rather than a lazy one before
# `\s*$`: the old form made a line "De" + 8,000 spaces take seconds (issue 14).
_HEADER_LINE = re.compile(
    r"\*{0,2}(?P<label>[^\W\d_][^:\uff1a*]{0,29}?)\s*(?:\*{1,2}\s*)?[:\uff1a]\s*\*{0,2}(?P<value>.*)"
)

# Header labels of the copied block, folded, by role. "envoye" is Outlook's date ("Envoyé :"),
# while "envoye par" names a sender; "a" is the folded "À".
_LABELS: dict[str, str] = {
    **dict.fromkeys(("from", "de", "expediteur"), "from"),
    **dict.fromkeys(("envoye par", "sender", "sent by", "expedie par"), "sender"),
    **dict.fromkeys(("reply-to", "reply to", "repondre a", "repondre-a", "reponse a"), "reply"),
    **dict.fromkeys(("date", "sent", "envoye", "envoye le", "date d'envoi", "date d\u2019envoi"), "date"),
    **dict.fromkeys(("subject", "objet", "sujet"), "subject"),
    **dict.fromkeys(
        ("to", "a", "pour", "destinataire", "destinataires", "cc", "copie", "copie a", "cci", "bcc"),
        "to",
    ),
    **dict.fromkeys(("message-id", "message id"), "id"),
    **dict.fromkeys(
        ("importance", "pieces jointes", "piece jointe", "attachments", "organisation", "organization"),
        "other",
    ),
}
_AUTHOR_ROLES = ("from", "sender", "reply")
_WRAPPING_ROLES = frozenset({"from", "sender", "reply", "to", "subject"})

_FORWARD_PREFIXES = re.compile(r"^(?:\s*(?:fwd?|tr|transf?|wg|enc|rv)\s*(?:\[\d+\])?\s*[:\uff1a]\s*)+", re.IGNORECASE)
_FORWARD_ANYWHERE = re.compile(r"(?:^|[\s\]])(?:fwd?|tr|transf?|wg|enc|rv)\s*(?:\[\d+\])?\s*[:\uff1a]", re.IGNORECASE)
_REPLY_START = re.compile(
    r"^\s*(?:\[[^\]]*\]\s*)*(?:re|aw|sv|antw|rif|r[ée]f)\s*(?:\[\d+\])?\s*[:\uff1a]", re.IGNORECASE
)


@dataclass(frozen=True)
class _Line:
    raw: str
    depth: int  # quote level: how many ">" start the line
    content: str  # the line without its quote marks, stripped (no-break spaces included)


@dataclass(frozen=True)
class _Header:
    role: str
    value: str


def strip_forward_prefixes(subject: str) -> str:
    """`subject` without "TR:", "Fwd:"…: they are the transmitter's, not the author's words.

    "RE:" is kept: a claimant answering an earlier mail wrote it, and it is part of their subject.
    """
    return _FORWARD_PREFIXES.sub("", subject).strip()


def says_forwarded(mail: ParsedMail) -> bool:
    """Whether the mail announces itself as a forward ("TR:", "Fwd:" in its subject, or an attached
    mail): a cheap test before `extract_forwarded`, for mails nobody said were transmissions."""
    return bool(_FORWARD_ANYWHERE.search(mail.subject[:_MAX_COMPARED_SUBJECT])) or any(
        _is_attached_mail(attachment) for attachment in mail.attachments
    )


def same_subject(one: str, other: str) -> bool:
    """Whether two subjects are the same once forward prefixes, accents, case and spacing are set aside:
    a forwarded header block copies the original's subject, but not always its exact spelling."""
    return _comparable(one) == _comparable(other)


def _comparable(subject: str) -> str:
    return " ".join(fold(strip_forward_prefixes(_decode_words(subject[:_MAX_COMPARED_SUBJECT]))).split())


_MAX_COMPARED_SUBJECT = 2000
"""Characters of a subject compared: a huge one is compared on its start, in bounded time."""


def _lines(text: str) -> list[_Line]:
    result = []
    for raw in text.splitlines():
        match = _QUOTE_PREFIX.match(raw)
        depth = match.group(1).count(">") if match else 0
        content = raw[match.end() :] if match else raw
        result.append(_Line(raw, depth, content.strip()))
    return result


def _inline(text: str, outer_subject: str, local_zone: tzinfo | None, *, bare: bool) -> _Found | None:
    """The first forwarded header block in `text` and what follows it.

    With `bare`, only a block with nothing above it but blank lines and a phone's signature: a
    wrapped forward. Words above a nested forward make their writer the author: they may be a
    transmitter's note, but as well a claimant's complaint with a forwarded mail as evidence, and
    acknowledging the person that evidence came from (a trainer) is the worse mistake.
    """
    lines = _lines(text)
    for index, line in enumerate(lines):
        if not line.content or (bare and _is_device_signature(line.content)):
            continue
        found = _block_at(lines, index, outer_subject, local_zone)
        if found is not None or bare:
            return found
    return None


def _is_device_signature(content: str) -> bool:
    """A line the mail app adds by itself ("Envoyé de mon iPhone"): nobody wrote it."""
    return bool(_DEVICE_SIGNATURE.fullmatch(fold(content).strip()))


def _marker(content: str) -> tuple[bool, str | None] | None:
    """(strong?, date written in the marker) when `content` is a forward marker line."""
    folded = fold(content).strip()
    if any(pattern.fullmatch(folded) for pattern in _STRONG_MARKERS):
        return True, None
    if any(pattern.fullmatch(folded) for pattern in _WEAK_MARKERS):
        return False, None
    orange = _ORANGE_MARKER.fullmatch(folded)
    if orange:
        return False, orange.group(1)
    return None


def _block_at(lines: list[_Line], index: int, outer_subject: str, local_zone: tzinfo | None) -> _Found | None:
    marker = _marker(lines[index].content)
    if marker is not None:
        strong, marker_date = marker
        start = index + 1
        while start < len(lines) and not lines[start].content and start - index <= _MAX_BLANKS_AFTER_MARKER:
            start += 1
        if start >= len(lines) or lines[start].depth < lines[index].depth:
            return None
    else:
        # Unmarked (Outlook): the block must open a paragraph and start with its author line.
        strong, marker_date, start = False, None, index
        if index > 0 and lines[index - 1].content:
            return None
        first = _header(lines[index].content)
        if first is None or first.role != "from":
            return None
    if not strong and _is_reply(outer_subject):
        return None
    headers, end = _read_headers(lines, start)
    roles = {header.role for header in headers}
    if not roles & set(_AUTHOR_ROLES) or not roles & {"subject", "date"}:
        return None
    return _found(headers, lines, start, end, marker_date, local_zone)


def _is_reply(subject: str) -> bool:
    return bool(_REPLY_START.match(subject)) and not _FORWARD_ANYWHERE.search(subject)


def _header(content: str) -> _Header | None:
    match = _HEADER_LINE.match(content)
    if match is None:
        return None
    label = " ".join(fold(match.group("label")).split())
    role = _LABELS.get(label)
    return _Header(role, match.group("value").strip()) if role else None


def _read_headers(lines: list[_Line], start: int) -> tuple[list[_Header], int]:
    """The header lines from `start` on, and the index of the first line after them.

    The block is one paragraph at one quote level; a line that is not a header continues the one
    above when that one can wrap (addresses, subject), and otherwise ends the block.
    """
    depth = lines[start].depth
    headers: list[_Header] = []
    continuations = 0
    index = start
    while index < len(lines):
        line = lines[index]
        if not line.content or line.depth != depth:
            break
        header = _header(line.content)
        if header is not None:
            headers.append(header)
            continuations = 0
        elif headers and headers[-1].role in _WRAPPING_ROLES and continuations < _MAX_CONTINUATIONS:
            headers[-1] = _Header(headers[-1].role, f"{headers[-1].value} {line.content}")
            continuations += 1
        else:
            break
        index += 1
    return headers, index


def _found(
    headers: list[_Header],
    lines: list[_Line],
    start: int,
    end: int,
    marker_date: str | None,
    local_zone: tzinfo | None,
) -> _Found:
    def first(role: str) -> str | None:
        return next((header.value for header in headers if header.role == role), None)

    date_text = first("date") or marker_date
    subject = _decode_words(first("subject") or "")
    message_id = (first("id") or "").strip().strip("<>").strip()
    return _Found(
        author=_author(headers),
        subject=strip_forward_prefixes(subject),
        date=parse_date(date_text, local_zone) if date_text else None,
        text=_body_after(lines, end, lines[start].depth),
        message_id=message_id or None,
        via="inline",
        raw_subject=subject,
    )


def _author(headers: list[_Header]) -> Address | None:
    """The author from the From line; its address from Reply-To or "Envoyé par" when the From line
    shows only a name (Exchange does that for colleagues); None without any address."""
    name = ""
    for role in _AUTHOR_ROLES:
        for header in headers:
            if header.role != role:
                continue
            address, shown = mailbox(_decode_words(header.value))
            name = name or shown
            if address:
                return Address(address, name)
    return None


def _body_after(lines: list[_Line], end: int, depth: int) -> str:
    """The forwarded text: everything after the block at its quote level, with that level removed."""
    kept: list[str] = []
    for line in lines[end:]:
        if line.content and line.depth < depth:
            break
        raw = line.raw
        for _ in range(depth):
            raw = _ONE_QUOTE.sub("", raw, count=1)
        kept.append(raw.rstrip())
    return "\n".join(kept).strip("\n")


# --- addresses and encoded words -------------------------------------------------------------

# Starts only where a run of local-part characters starts: searched from inside a long run, the
# pattern read the whole run again from every character (quadratic on a 20 KB word).
_EMAIL = re.compile(r"(?<![\w.!#$%&'+/=?^`{|}~-])[\w.!#$%&'+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
# The address is the whole run of non-blanks between the brackets, holding an @ with something
# on each side: said by a lookahead so that no two quantifiers share the run (issue 14).
_BRACKETED = re.compile(
    r"<\s*(?:mailto:\s*)?((?=[^<>\s]*[^<>\s]@[^<>\s])[^<>\s]+)\s*>|\[\s*mailto:\s*([^\]\s]+)\s*\]",
    re.IGNORECASE,
)
_ADDRESS_DECORATION = re.compile(
    r"<[^<>]*>|\[\s*mailto:[^\]]*\]|\((?=[^()]*\))[^()]*@[^()]*\)|mailto:\S*", re.IGNORECASE
)
_MAX_DECORATION_PASSES = 4
"""Brackets inside brackets removed this deep ("Nom <a@b <mailto:a@b>>" needs two passes): each
pass reads the whole value, and a name nested deeper than any mail client writes is the sender's."""


def mailbox(value: str) -> tuple[str | None, str]:
    """(lower-cased address or None, display name) of a header value as mail clients copy it.

    Accepts "Name <a@b>", "Name [mailto:a@b]", "a@b", "<a@b>", "Name <a@b <mailto:a@b>>" (Gmail's
    text of an HTML forward), quoted and starred names.
    """
    bracketed = [next(group for group in match.groups() if group) for match in _BRACKETED.finditer(value)]
    candidates = [token for chunk in bracketed for token in _EMAIL.findall(chunk)] or _EMAIL.findall(value)
    address = candidates[0].strip(".").lower() if candidates else None
    if address is not None and not _deliverable(address):
        address = None
    name = value
    for _ in range(_MAX_DECORATION_PASSES):
        stripped = _ADDRESS_DECORATION.sub(" ", name)
        if stripped == name:
            break
        name = stripped
    name = _EMAIL.sub(" ", name)
    name = " ".join(name.split()).strip(" \"'*,;").strip()
    if address and fold(name) == address:
        name = ""
    return address, name


_MAX_ADDRESS = 254
_MAX_LOCAL_PART = 64


def _deliverable(address: str) -> bool:
    """Within SMTP's limits (RFC 5321 4.5.3.1): a longer "address" is a stranger's padding, which
    no server would take and which must not become anyone's claimant."""
    return len(address) <= _MAX_ADDRESS and len(address.partition("@")[0]) <= _MAX_LOCAL_PART


def _decode_words(value: str) -> str:
    """RFC 2047 words decoded: some clients copy raw header values into the forwarded block."""
    if "=?" not in value:
        return value
    try:
        return str(email.header.make_header(email.header.decode_header(value)))
    except (email.errors.HeaderParseError, LookupError, UnicodeError, ValueError):
        return value


# --- dates -----------------------------------------------------------------------------------

# Month and weekday names in English and French, as Gmail, Outlook, Apple Mail and Thunderbird
# write them in forwarded blocks. A table in code rather than locale-dependent `strptime`: the
# daemon's locale is not the sender's, and French abbreviations ("févr.", "juil.") are fixed by
# the clients, not by any locale we could count on being installed.
_MONTHS: dict[str, int] = {
    **dict.fromkeys(("january", "jan", "janvier", "janv"), 1),
    **dict.fromkeys(("february", "feb", "fevrier", "fev", "fevr"), 2),
    **dict.fromkeys(("march", "mar", "mars"), 3),
    **dict.fromkeys(("april", "apr", "avril", "avr"), 4),
    **dict.fromkeys(("may", "mai"), 5),
    **dict.fromkeys(("june", "jun", "juin"), 6),
    **dict.fromkeys(("july", "jul", "juillet", "juil"), 7),
    **dict.fromkeys(("august", "aug", "aout"), 8),
    **dict.fromkeys(("september", "sep", "sept", "septembre"), 9),
    **dict.fromkeys(("october", "oct", "octobre"), 10),
    **dict.fromkeys(("november", "nov", "novembre"), 11),
    **dict.fromkeys(("december", "dec", "decembre"), 12),
}
_WEEKDAYS = frozenset(
    "monday mon tuesday tue tues wednesday wed thursday thu thur thurs friday fri saturday sat sunday sun"
    " lundi lun mardi mar mercredi mer jeudi jeu vendredi ven samedi sam dimanche dim".split()
)
# Zone names these correspondents' clients print (Apple Mail in English and French, Thunderbird).
_ZONE_NAMES: dict[str, int] = {
    "gmt": 0,
    "utc": 0,
    "ut": 0,
    "wet": 0,
    "west": 60,
    "bst": 60,
    "cet": 60,
    "met": 60,
    "hnec": 60,
    "cest": 120,
    "mest": 120,
    "haec": 120,
}
_OFFSET_AFTER_NAME = re.compile(r"\b(?:gmt|utc)\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?\b")
_NUMERIC_OFFSET = re.compile(r"(?:^|\s|\()([+-])(\d{2}):?(\d{2})\b")
_ZONE_NAME = re.compile(r"\(?\b(" + "|".join(_ZONE_NAMES) + r")\b\)?")
_TIME = re.compile(r"\b(\d{1,2})\s*[:h]\s*(\d{2})(?:\s*:\s*(\d{2}))?(?:\s*([ap])\.?\s?m\b\.?)?")
_NUMERIC_DATE = re.compile(r"\b(\d{1,2})[/.](\d{1,2})[/.](\d{2,4})\b")
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_TOKENS = re.compile(r"[a-z]+|\d+")


def parse_date(value: str, local_zone: tzinfo | None = None) -> datetime | None:
    """A date as forwarded blocks write it, aware, or None.

    Understands RFC 5322 ("Mon, 3 Nov 2026 10:12:00 +0100"), Gmail ("Mon, Nov 3, 2026 at 10:12 AM",
    "lun. 3 nov. 2026 à 10:12"), Outlook ("Monday, November 3, 2026 10:12 AM", "lundi 3 novembre
    2026 10:12"), Apple Mail ("3 November 2026 at 10:12:00 CET", "3 novembre 2026 à 10:12 UTC+1")
    and numeric French dates ("03/11/2026 10:12"). A time is required: a bare day would be
    recorded as midnight, which nobody wrote. Without a zone the date is read in `local_zone`,
    or not at all.
    """
    text = fold(value).strip()
    offset: int | None = None
    for pattern in (_OFFSET_AFTER_NAME, _NUMERIC_OFFSET):
        match = pattern.search(text)
        if match:
            sign = -1 if match.group(1) == "-" else 1
            offset = sign * (int(match.group(2)) * 60 + int(match.group(3) or 0))
            text = text[: match.start()] + " " + text[match.end() :]
            break
    if offset is None:
        named = _ZONE_NAME.search(text)
        if named:
            offset = _ZONE_NAMES[named.group(1)]
            text = text[: named.start()] + " " + text[named.end() :]

    time = _TIME.search(text)
    if time is None:
        return None
    hour, minute, second = int(time.group(1)), int(time.group(2)), int(time.group(3) or 0)
    if time.group(4):
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if time.group(4) == "p" else 0)
    text = text[: time.start()] + " " + text[time.end() :]

    day_month_year = _day_month_year(text)
    if day_month_year is None:
        return None
    day, month, year = day_month_year
    try:
        moment = datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None
    if offset is not None:
        if abs(offset) >= 24 * 60:
            return None
        return moment.replace(tzinfo=timezone(timedelta(minutes=offset)))
    return moment.replace(tzinfo=local_zone) if local_zone is not None else None


def _day_month_year(text: str) -> tuple[int, int, int] | None:
    numeric = _NUMERIC_DATE.search(text)
    if numeric:  # French order: day first
        year = int(numeric.group(3))
        return int(numeric.group(1)), int(numeric.group(2)), year + 2000 if year < 100 else year
    iso = _ISO_DATE.search(text)
    if iso:
        return int(iso.group(3)), int(iso.group(2)), int(iso.group(1))
    months: list[str] = []
    numbers: list[str] = []
    for token in _TOKENS.findall(text):
        if token.isdigit():
            numbers.append(token)
        elif token in _MONTHS:
            months.append(token)
    if len(months) > 1:  # "mar." is Tuesday in French and March in English
        months = [month for month in months if month not in _WEEKDAYS]
    years = [int(n) for n in numbers if len(n) == 4]
    days = [int(n) for n in numbers if len(n) <= 2]
    if len(set(months)) != 1 or len(years) != 1 or len(days) != 1:
        return None
    return days[0], _MONTHS[months[0]], years[0]
