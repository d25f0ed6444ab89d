"""Large bodies and attached mails cut out of a mail's bytes before the stdlib parser sees them.

Why: the stdlib feed parser costs about nine times the size of what it parses (it decodes the
bytes to one string, splits it into a line object per line and joins them again), so a 30 MB
attachment cost 400 MB; and it recurses once per attached mail, so a mail nesting attached mails
a thousand deep exhausted Python's recursion limit and lost even the text around them.

So the parser is handed a reduced copy, in which each cut region is replaced by a placeholder
line, and whoever reads a part's content asks `Sliced` to put the original bytes back:

- every run of base64-alphabet lines of `CUT_BYTES` or more (an encoded attachment). Such a run
  holds no boundary line (they start with `-`) and no header line (they hold `:` or start with a
  blank), so cutting it cannot change the MIME structure;
- the body of every attached mail (message/rfc822, message/global): the attachment is then the
  bytes as received, and the parser never descends into it (`parse` is called on them again only
  by whoever wants to read the attached mail, one level at a time);
- a MIME part nested deeper than `MAX_DEPTH` multiparts, whole: no real mail client nests that
  deep, and the raw mail stays archived.

Finding attached mails and nesting needs the MIME structure, which is read here in one pass, with
the feed parser's own rules (a line ends at CRLF, LF or a bare CR; a boundary line is `--boundary`,
optionally `--`, then blanks; any enclosing multipart's boundary also ends a part; a header block
the parser could read otherwise is not cut into). If this reading and the parser's ever differ on
a broken mail, a placeholder is still restored wherever it ends up, so no content is lost;
`tests/test_parse.py` checks on damaged mails that `parse` returns the same with and without.
"""

from __future__ import annotations

import binascii
import email.message
import email.parser
import re
import secrets
from dataclasses import dataclass

CUT_BYTES = 64 * 1024
"""Base64 runs from this size on are cut: below it the parser's overhead does not matter."""

MAX_DEPTH = 64
"""Multipart levels read; a part nested deeper is cut whole and left to the archived mail."""

MAX_HEADER_BYTES = 1024 * 1024
"""Bytes of a part's header block read to learn its type; hostile mails carry megabytes."""

# A run starts with a whole line of at least 16 base64 characters, so that ordinary text costs
# few matches. Written as one character class rather than a repeated line group: the regex engine
# keeps a backtracking record per repetition of a group (90 MB for a 30 MB attachment).
_BASE64_RUN = re.compile(rb"^[A-Za-z0-9+/=]{16,}\r?\n[A-Za-z0-9+/=\r\n]*", re.MULTILINE)
_BLANK_LINE = re.compile(rb"\r?\n\r?\n")
_BARE_CR = re.compile(rb"\r(?!\n)")
_ATTACHED_MAIL = frozenset({"message/rfc822", "message/global"})
_DECODED_ENCODINGS = frozenset({"quoted-printable", "base64", "x-uuencode", "uuencode", "uue", "x-uue"})

BASE64 = "base64"
MESSAGE = "message"
DEEP = "deep"


@dataclass(frozen=True)
class Cut:
    """A region of the raw mail the parser did not see: `raw[start:end]`, of one `kind`."""

    start: int
    end: int
    kind: str


class Sliced:
    """A mail's raw bytes, the reduced copy given to the parser, and the way back."""

    def __init__(self, raw: bytes, cuts: list[Cut]) -> None:
        self.raw = raw
        self.cuts = tuple(cuts)
        # A fresh token per mail: a sender cannot write a placeholder that points elsewhere.
        self.token = "IBXCUT" + secrets.token_hex(8)
        pieces: list[bytes] = []
        position = 0
        for index, cut in enumerate(self.cuts):
            pieces.append(raw[position : cut.start])
            pieces.append(self._marker(index))
            position = cut.end
        pieces.append(raw[position:])
        self.reduced = b"".join(pieces) if self.cuts else raw

    def _marker(self, index: int) -> bytes:
        return f"{self.token}{index:08d}".encode("ascii")

    def holds_cut(self, text: str) -> bool:
        return bool(self.cuts) and self.token in text

    def cut_of(self, text: str) -> Cut | None:
        """The cut `text` stands for when it is nothing but one placeholder."""
        if not self.holds_cut(text):
            return None
        # Compiled only here: most mails have no cut, and a pattern compiled for every mail costs more
        # than the rest of the slicing.
        match = re.fullmatch(re.escape(self.token) + r"(\d{8})", text.strip())
        if match is None:
            return None
        index = int(match.group(1))
        return self.cuts[index] if index < len(self.cuts) else None

    def original(self, cut: Cut) -> bytes:
        return self.raw[cut.start : cut.end]

    def restore(self, text: str) -> bytes:
        """`text` (a part's undecoded content as the parser kept it) as the bytes received."""
        data = text.encode("utf-8", "surrogateescape")  # 8-bit bytes come back as they were
        if not self.holds_cut(text):
            return data
        placeholder = re.compile(re.escape(self.token.encode("ascii")) + rb"(\d{8})")

        def original(match: re.Match[bytes]) -> bytes:
            index = int(match.group(1))
            return self.original(self.cuts[index]) if index < len(self.cuts) else match.group()

        return placeholder.sub(original, data)

    def decoded(self, part: email.message.Message, text: str) -> bytes | None:
        """The content of leaf `part` with its transfer encoding undone, if it holds a cut.

        A part that is one base64 run is decoded straight from the raw bytes, without the copies
        the parser would make; anything else is put back together and decoded by the stdlib.
        """
        if not self.holds_cut(text):
            return None
        encoding = transfer_encoding(part)
        cut = self.cut_of(text)
        # Fast only where the stdlib would agree: `=` nowhere but in the final padding.
        if cut is not None and cut.kind == BASE64 and encoding == "base64" and self._padding_at_end(cut):
            try:
                return binascii.a2b_base64(memoryview(self.raw)[cut.start : cut.end])
            except binascii.Error:
                pass  # bad padding: the stdlib's repair below
        whole = email.message.Message()
        if part.get("content-transfer-encoding") is not None:
            whole["Content-Transfer-Encoding"] = str(part.get("content-transfer-encoding"))
        whole.set_payload(self.restore(text).decode("ascii", "surrogateescape"))
        data = whole.get_payload(decode=True)
        return data if isinstance(data, bytes) else b""

    def _padding_at_end(self, cut: Cut) -> bool:
        first = self.raw.find(b"=", cut.start, cut.end)
        return first < 0 or not self.raw[first : cut.end].strip(b"=\r\n")


def transfer_encoding(part: email.message.Message) -> str:
    """The part's Content-Transfer-Encoding compared as `get_payload(decode=True)` compares it
    (lower-cased, not stripped: "base64 " is not decoded, and neither may it be here)."""
    return str(part.get("content-transfer-encoding", "")).lower()


def transfer_decodes(part: email.message.Message) -> bool:
    """Whether `get_payload(decode=True)` changes the part's bytes."""
    return transfer_encoding(part) in _DECODED_ENCODINGS


def slice_mail(raw: bytes) -> Sliced:
    """`raw` with its large bodies, attached mails and too deep parts cut out (see the module)."""
    return Sliced(raw, [] if nothing_to_cut(raw) else cuts_of(raw))


def cuts_of(raw: bytes) -> list[Cut]:
    """What `slice_mail` cuts out of `raw`, in order, found by reading its whole structure."""
    cuts = _structure_cuts(raw)
    cuts.extend(_base64_cuts(raw, cuts))
    cuts.sort(key=lambda cut: cut.start)
    return cuts


def nothing_to_cut(raw: bytes) -> bool:
    """Whether `raw` certainly has nothing to cut, told without reading its structure.

    Most mails are a few kilobytes of text: reading their structure cost a tenth of parsing them.
    Such a mail is too short for a base64 run worth cutting; without "message/" and "digest" it
    has no attached mail; with no more "multipart/" than `MAX_DEPTH` it cannot nest deeper.
    """
    if len(raw) >= CUT_BYTES:
        return False
    lowered = raw.lower()
    return b"message/" not in lowered and b"digest" not in lowered and lowered.count(b"multipart/") <= MAX_DEPTH


def header_block(data: bytes) -> bytes:
    """The header lines at the start of `data`, for reading an attached mail's subject cheaply."""
    match = _BLANK_LINE.search(data, 0, MAX_HEADER_BYTES)
    return data[: match.start() + 2] if match else data[:MAX_HEADER_BYTES]


def _base64_cuts(raw: bytes, taken: list[Cut]) -> list[Cut]:
    """Long base64 runs outside the regions already cut."""
    found: list[Cut] = []
    regions = sorted((cut.start, cut.end) for cut in taken)
    gaps: list[tuple[int, int]] = []
    position = 0
    for start, end in regions:
        gaps.append((position, start))
        position = max(position, end)
    gaps.append((position, len(raw)))
    for gap_start, gap_end in gaps:
        if gap_end - gap_start < CUT_BYTES:
            continue
        for match in _BASE64_RUN.finditer(raw, gap_start, gap_end):
            if match.end() - match.start() < CUT_BYTES:
                continue
            # Whole lines only, and the line breaks after them stay: the placeholder is a line
            # like those it replaces, and the break before a boundary belongs to the boundary.
            end = raw.rfind(b"\n", match.start(), match.end()) + 1
            while end > match.start() and raw[end - 1] in b"\r\n":
                end -= 1
            if end - match.start() >= CUT_BYTES:
                found.append(Cut(match.start(), end, BASE64))
    return found


@dataclass
class _Multipart:
    boundary: bytes
    digest: bool  # parts of a multipart/digest are attached mails unless they say otherwise


class _DashLines:
    """The lines of a mail that start with `--`, in order. A line ends at CRLF, LF or a bare CR,
    as in the feed parser. Both searches only move forward, so a whole scan costs one pass."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self._after_lf = -2  # index of the next b"\n--" known, -2 for not searched yet
        self._after_cr = -2

    def next(self, position: int) -> int:
        """Where the first `--` line at or after line start `position` begins, or -1."""
        raw = self.raw
        if raw.startswith(b"--", position):
            return position
        if -1 < self._after_lf < position or self._after_lf == -2:
            self._after_lf = raw.find(b"\n--", position)
        if -1 < self._after_cr < position or self._after_cr == -2:
            self._after_cr = raw.find(b"\r--", position)
        found = [index + 1 for index in (self._after_lf, self._after_cr) if index >= 0]
        return min(found) if found else -1

    def line(self, start: int) -> tuple[bytes, int]:
        """The line starting at `start` without its line break, and where the next one starts."""
        raw = self.raw
        newline = raw.find(b"\n", start)
        stop = len(raw) if newline < 0 else newline
        carriage = raw.find(b"\r", start, stop)
        if carriage >= 0:
            return raw[start:carriage], carriage + (2 if carriage + 1 == newline else 1)
        return raw[start:stop], (len(raw) if newline < 0 else newline + 1)


def _structure_cuts(raw: bytes) -> list[Cut]:
    """Bodies of attached mails, and parts nested too deep, found in one pass over the lines
    that start with `--` (the only lines that can end a part)."""
    cuts: list[Cut] = []
    lines = _DashLines(raw)
    open_parts: list[_Multipart] = []
    position = _enter(lines, 0, open_parts, cuts, digest=False)
    while open_parts:
        start = lines.next(position)
        if start < 0:
            break
        content, position = lines.line(start)
        level, closing = _delimiter(content, open_parts)
        if level is None:
            continue
        del open_parts[level + 1 :]
        if closing:
            open_parts.pop()
        else:
            position = _enter(lines, position, open_parts, cuts, digest=open_parts[-1].digest)
    return cuts


def _delimiter(content: bytes, open_parts: list[_Multipart]) -> tuple[int | None, bool]:
    """Which open multipart the line `content` delimits, innermost first as the feed parser
    checks, and whether it closes it."""
    for level in range(len(open_parts) - 1, -1, -1):
        separator = b"--" + open_parts[level].boundary
        if not content.startswith(separator):
            continue
        rest = content[len(separator) :]
        closing = rest.startswith(b"--")
        if not (rest[2:] if closing else rest).strip(b" \t"):
            return level, closing
    return None, False


def _part_end(lines: _DashLines, start: int, open_parts: list[_Multipart]) -> int:
    """End of the part content starting at `start`: before the line break that precedes the
    next delimiter of any open multipart (that line break belongs to the delimiter)."""
    raw = lines.raw
    position = start
    while open_parts:
        line = lines.next(position)
        if line < 0:
            break
        content, position = lines.line(line)
        if _delimiter(content, open_parts)[0] is None:
            continue
        if line <= start:
            return start
        end = line - 1
        if raw[end : end + 1] == b"\n" and end > start and raw[end - 1 : end] == b"\r":
            end -= 1
        return end
    return len(raw)


def _enter(lines: _DashLines, start: int, open_parts: list[_Multipart], cuts: list[Cut], digest: bool) -> int:
    """Read the headers of the part starting at `start`, cut what must be; where to scan on."""
    raw = lines.raw
    if len(open_parts) > MAX_DEPTH:
        end = _part_end(lines, start, open_parts)
        if end > start:
            cuts.append(Cut(start, end, DEEP))
        return end
    read = _headers(raw, start, lines.next(start))
    if read is None:
        return start  # headers the parser may read differently: cut nothing here
    headers, body_start = read
    if digest:
        headers.set_default_type("message/rfc822")
    content_type = headers.get_content_type()
    if content_type in _ATTACHED_MAIL:
        end = _part_end(lines, body_start, open_parts)
        if end > body_start:
            cuts.append(Cut(body_start, end, MESSAGE))
        return end
    if content_type.startswith("multipart/"):
        boundary = headers.get_boundary()
        if boundary:
            encoded = boundary.encode("ascii", "surrogateescape")
            open_parts.append(_Multipart(encoded, content_type == "multipart/digest"))
    return body_start


def _headers(raw: bytes, start: int, next_dash_line: int) -> tuple[email.message.Message, int] | None:
    """The header block of the part at `start` and where its body starts, when the parser
    certainly reads it the same way (a clean block ended by a blank line).

    The blank line is looked for only up to the next line starting with `--` (`next_dash_line`,
    -1 for none): a header block holding such a line is not clean, and would be refused below
    anyway. So each stretch of the mail is searched once, where searching up to `MAX_HEADER_BYTES`
    from every part start made a body of 40,000 `--b` lines take 33 seconds (issue 14).
    """
    if raw.startswith(b"\r\n", start):
        return email.message.Message(), start + 2
    if raw.startswith(b"\n", start):
        return email.message.Message(), start + 1
    limit = start + MAX_HEADER_BYTES
    if 0 <= next_dash_line < limit:
        limit = next_dash_line
    match = _BLANK_LINE.search(raw, start, limit)
    if match is None or _BARE_CR.search(raw, start, match.end()):
        return None  # no end, or lines ended by a bare CR, which the parser reads differently
    try:
        headers = email.parser.BytesHeaderParser().parsebytes(raw[start : match.start()] + b"\n")
    except Exception:  # noqa: BLE001 - the stdlib promises leniency; then cut nothing here
        return None
    if headers.defects or headers.get_payload():
        return None
    return headers, match.end()
