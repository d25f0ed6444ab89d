"""The new words of a mail, without the history it quotes or the signature it ends with.

A case's exchange log shows what each mail added, not the fifth copy of the same thread; the
whole mail stays in the archive, so cutting too much costs a click while showing too much buries
the exchange. Cutting too much where nothing can be shown is worse, so a mail whose every line
looks like history is shown whole.

The history is found by mail-parser-reply's French and English patterns (the "Le … a écrit :" and
"On … wrote:" attributions and Outlook's "De : … Envoyé : …" blocks), completed here where it
falls short on real French mail:

- it misses "-----Message d'origine-----", Zimbra's "----- Mail original -----" (OVH, Orange),
  forwarded-message separators, Outlook's line of underscores, old Gmail attributions
  ("2016-03-01 10:12 GMT+01:00 Alice <a@b.fr>:"), Gmail's French attribution when wrapped over two
  lines, and Outlook blocks written "De:" (no space) or labelled "Date :";
- it takes any line like "Le formateur m'a écrit :" for an attribution, and a claimant's
  "Objet : …" line followed by "De : …" for an Outlook block, and then drops the rest of the
  complaint; so each match is checked here: an attribution must carry a clock time or an
  address, a header block a sender line and a date line;
- its signature removal cuts from any line starting with "Thanks,", "Cordialement" or "- " (a
  bulleted list) to the end, which eats real content; signatures are cut here only at the "-- "
  delimiter, and the "Envoyé de mon iPhone" kind of line is removed on its own. A closing such
  as "Cordialement,\\nNom" stays: it is short and it is the sender's.

Quoted lines ("> …") are history wherever they are. When nothing precedes the first history
marker (the answer is written below the quote), the answer is looked for after it.
"""

from __future__ import annotations

import re
import unicodedata

from mailparser_reply.parser import EmailMessage  # type: ignore[import-untyped]

from inboxbot.domain.mail_commands import Command, Refusal, parse_commands
from inboxbot.reading.parse import html_to_text

_LANGUAGES = ["fr", "en"]

MAX_EXAMINED = 100_000
"""Characters of a body searched for history; the new text is at the top, and the library's
patterns cost time that grows faster than the text on hostile input."""

MAX_MARKER_LINE = 250
"""Longer lines are not searched for a marker: no mail client writes an attribution or header
line that long, and the library's "On … wrote:" pattern is quadratic in a line's length (a
30 KB line of "On On On …" takes half a minute)."""

# Compiled once: building it costs more than parsing a mail.
_LIBRARY_MARKERS: re.Pattern[str] = EmailMessage(text="", languages=list(_LANGUAGES)).HEADER_REGEX

# Literal text without which no alternative of the library's pattern matches (the pattern is
# case-insensitive: looked for in casefolded text). The pattern costs a fifth of a millisecond on an
# ordinary mail, four times all of ours together, and most mails hold none of these.
_LIBRARY_NEEDLES = (
    "a écrit",
    "wrote:",
    "de :",
    "envoyé :",
    "à :",
    "objet :",
    "  :",
    "cc :",
    "from:",
    "sent:",
    "to:",
    "subject:",
    "date:",
    "cc:",
    "organization:",
    "original message",
)

_SEPARATOR = re.compile(
    r"^(?:>[ \t]?)*-{2,}[ \t]*(?:original message|message d['’]origine|message original|mail original"
    r"|courriel original|forwarded message|message transf[ée]r[ée]|e-?mail transf[ée]r[ée])[ \t]*-{2,}[ \t]*$"
    r"|^(?:>[ \t]?)*(?:d[ée]but du message (?:r[ée]exp[ée]di[ée]|transf[ée]r[ée])|begin forwarded message)"
    r"[ \t]*:[ \t]*$"
    r"|^(?:>[ \t]?)*_{30,}[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)

# Gmail wraps a long attribution ("… <alice@example.fr> a\nécrit :"); the library reads one line.
_FRENCH_ATTRIBUTION = re.compile(
    r"^(?:>[ \t]?)*Le[ \t](?:[^\n]|\n(?![ \t]*\n)){1,300}?[ \t\n]a[ \t\n]+[ée]crit[ \t]*:[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
_OLD_GMAIL_ATTRIBUTION = re.compile(
    r"^(?:>[ \t]?)*\d{4}-\d{2}-\d{2}[ \t]\d{1,2}:\d{2}[ \t]GMT[+-]\d{2}:\d{2}[ \t]"
    r"[^\n]{0,200}<[^<>\n]+@[^<>\n]+>[ \t]*:[ \t]*$",
    re.MULTILINE,
)
_CLOCK_OR_ADDRESS = re.compile(r"\d{1,2}:\d{2}|@")
_SOMEONE_ELSE_WROTE = re.compile(r"\b(?:m|l|t|n|qu)['’][ \t]*a[ \t\n]+[ée]crit", re.IGNORECASE)

_HEADER_LINE = re.compile(
    r"^(?:>[ \t]?)*[*]?(from|de|sent|envoy[ée]|date|to|[àa]|cc|subject|objet)[*]?[ \t]*:",
    re.IGNORECASE,
)
_SENDER_FIELDS = frozenset({"from", "de"})
_DATE_FIELDS = frozenset({"sent", "envoyé", "envoye", "date"})

_QUOTED_LINE = re.compile(r"^>")
_SIGNATURE_DELIMITER = re.compile(r"^--$")
_SENT_FROM_DEVICE = re.compile(
    r"^(?:envoy[ée] (?:de|depuis|à partir de|a partir de|avec|via)|sent (?:from|with|via|using)|get|obtenez|obtenir"
    r"|t[ée]l[ée]charge[rz])[ \t]+(?:(?:mon|ma|my|the|la|le|un|une|an?)[ \t]+|l['’][ \t]*)?"
    r"(?:iphone|ipad|android|appareil|mobile|smartphone|samsung|galaxy|huawei|xiaomi|outlook|mail|yahoo|orange|sfr"
    r"|blackberry|tablette|t[ée]l[ée]phone|device|phone|proton|gmail|application|app\b)[^\n]{0,40}$",
    re.IGNORECASE,
)
_BLANK_RUNS = re.compile(r"\n{3,}")
# No replacement holds another key, so replacing one after the other is `str.translate` with this
# table, at a tenth of its cost (a table lookup per character was a third of reading a mail's text).
_SPACES = {"\xa0": " ", "\u202f": " ", "\u2007": " ", "\u200b": "", "\ufeff": "", "\r": "\n"}


def new_text(text: str, html: str | None = None) -> str:
    """What this mail adds to the exchange: its text without quoted history or signature.

    When `text` is empty the HTML body is read instead. Never empty for a non-empty mail: when
    everything looks like history, the whole text is returned (stripped), since showing a mail
    twice beats showing it as blank.
    """
    source = _source(text, html)
    return strip_history(source) or source.strip()


def strip_history(text: str, html: str | None = None) -> str:
    """Like `new_text`, but empty when the mail adds nothing of its own.

    For readers that must not mistake the quoted history for the sender's words, such as the
    satisfaction reading, where the quoted question itself lists marks.
    """
    normalised = _normalise(_source(text, html))
    if len(normalised) > MAX_EXAMINED:
        normalised = normalised[: normalised.rfind("\n", 0, MAX_EXAMINED) + 1 or MAX_EXAMINED]
    if not normalised:
        return ""
    reply = _clean(normalised[: _first_marker(normalised)[0]])
    if reply or not any(_QUOTED_LINE.match(line) for line in normalised.split("\n")):
        return reply
    # Nothing above the history: the answer may be below the quote (or between quoted lines).
    unquoted = "\n".join(line for line in normalised.split("\n") if not _QUOTED_LINE.match(line))
    start, end = _first_marker(unquoted)
    if start == len(unquoted):
        return _clean(unquoted)
    rest = unquoted[end:]
    return _clean(rest[: _first_marker(rest)[0]])


def commands_in(text: str, html: str | None, subject: str) -> list[Command | Refusal]:
    """The director's commands in a mail: read in her own words only, so that a command quoted from an
    earlier mail under her reply never runs twice (and an HTML-only mail is read from its HTML)."""
    return parse_commands(strip_history(text, html), subject)


def _source(text: str, html: str | None) -> str:
    return html_to_text(html) if not text.strip() and html else text


def _normalise(text: str) -> str:
    """`text` in the one form the patterns expect: NFC, "\\n" line ends, no-break spaces as
    spaces, each line stripped (as mail-parser-reply strips them)."""
    text = text.replace("\r\n", "\n")
    for odd, usual in _SPACES.items():
        if odd in text:
            text = text.replace(odd, usual)
    text = unicodedata.normalize("NFC", text)
    return "\n".join(line.strip() for line in text.split("\n")).strip()


def _clean(part: str) -> str:
    """`part` without quoted lines, signature and device lines, blank runs squeezed."""
    kept: list[str] = []
    for line in part.split("\n"):
        if _SIGNATURE_DELIMITER.match(line):
            break
        if _QUOTED_LINE.match(line) or _SENT_FROM_DEVICE.match(line):
            continue
        kept.append(line)
    return _BLANK_RUNS.sub("\n\n", "\n".join(kept)).strip()


def _first_marker(text: str) -> tuple[int, int]:
    """Start and end of the earliest history marker in `text`, or (len, len) when there is none."""
    text = _mask_long_lines(text)
    spans: list[tuple[int, int]] = []
    for match in _LIBRARY_MARKERS.finditer(text) if may_hold_library_marker(text) else ():
        found = match.group()
        if _plausible(found):
            offset = len(found) - len(found.lstrip("\n"))
            spans.append((match.start() + offset, match.end()))
    spans.extend(match.span() for match in _SEPARATOR.finditer(text))
    spans.extend(match.span() for match in _OLD_GMAIL_ATTRIBUTION.finditer(text))
    spans.extend(
        match.span()
        for match in _FRENCH_ATTRIBUTION.finditer(text)
        if match.group().count("\n") <= 2 and _plausible(match.group())
    )
    block = _header_block(text)
    if block is not None:
        spans.append(block)
    return min(spans, default=(len(text), len(text)))


def may_hold_library_marker(text: str) -> bool:
    """False when the library's pattern certainly finds nothing in `text`.

    Python's case-insensitive matching also takes the Turkish dotted and dotless I for "i", which
    casefolding keeps apart: they are made "i" too.
    """
    folded = text.casefold().replace("ı", "i").replace("i\u0307", "i")
    return any(needle in folded for needle in _LIBRARY_NEEDLES)


def _mask_long_lines(text: str) -> str:
    """`text` with every line too long to be a marker blanked out, offsets unchanged."""
    if not any(len(line) > MAX_MARKER_LINE for line in text.split("\n")):
        return text
    return "\n".join("x" * len(line) if len(line) > MAX_MARKER_LINE else line for line in text.split("\n"))


def _plausible(found: str) -> bool:
    """Whether a candidate marker is history rather than the sender's own words."""
    if re.search(r"(?:wrote|[ée]crit)[ \t]*:?[ \t]*$", found, re.IGNORECASE):
        # Mail clients write when, or who with the address; people write "Le formateur m'a écrit :".
        return bool(_CLOCK_OR_ADDRESS.search(found)) and not _SOMEONE_ELSE_WROTE.search(found)
    if _HEADER_LINE.search(found.lstrip("\n")) or "\n" in found.strip("\n"):
        return _is_header_block([line for line in found.strip("\n").split("\n") if line])
    return True  # the library's "-----Original Message-----"


def _header_block(text: str) -> tuple[int, int] | None:
    """Span of the first run of mail-header lines ("De : …", "Envoyé : …") that names a sender
    and a date, as Outlook, Gmail and Apple Mail write above a quoted or forwarded mail."""
    lines = text.split("\n")
    offsets = []
    position = 0
    for line in lines:
        offsets.append(position)
        position += len(line) + 1
    index = 0
    while index < len(lines):
        if not _HEADER_LINE.match(lines[index]):
            index += 1
            continue
        end = index
        while end < len(lines) and _HEADER_LINE.match(lines[end]):
            end += 1
        if _is_header_block(lines[index:end]):
            return offsets[index], offsets[end - 1] + len(lines[end - 1])
        index = end
    return None


def _is_header_block(lines: list[str]) -> bool:
    fields = set()
    for line in lines:
        match = _HEADER_LINE.match(line)
        if match:
            fields.add(match.group(1).lower())
    return bool(fields & _SENDER_FIELDS) and bool(fields & _DATE_FIELDS)
