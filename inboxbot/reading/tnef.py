"""The files inside a winmail.dat: Outlook's TNEF wrapping of a mail's attachments.

Outlook and Exchange sometimes send a mail's attachments packed in one `winmail.dat`
(application/ms-tnef), which most mail programs outside Outlook cannot open; the claimant's
documents must still be listed and kept under their own names.

Read here rather than with tnefparse (1.4.0, the Python library for it, last released in January
2021): on a hostile file its loops run as many times as a count read from the file says, up to
four billion, and it copies the rest of the file for every attribute it reads. This reader only
takes what is needed (each attachment's name and content) and every loop here advances through
the bytes it was given, so its work is bounded by their size. Format: [MS-OXTNEF].
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

SIGNATURE = 0x223E9F78
MAX_FILES = 1000
"""Files read from one winmail.dat; past this the rest stays in the archived mail."""

_LEVEL_ATTACHMENT = 0x02
_ATT_ATTACH_REND_DATA = 0x00069002  # starts each attachment
_ATT_ATTACH_TITLE = 0x00018010  # its name (often the 8.3 short form)
_ATT_ATTACH_DATA = 0x0006800F  # its content
_ATT_ATTACHMENT = 0x00069005  # its MAPI properties, where the long name is
_ATT_OEM_CODEPAGE = 0x00069007

_PID_ATTACH_LONG_FILENAME = 0x3707
_PID_DISPLAY_NAME = 0x3001
_MULTIPLE = 0x1000
_FIXED_SIZES = {0x0001: 0, 0x0002: 4, 0x000B: 4, 0x0003: 4, 0x0004: 4, 0x000A: 4, 0x0005: 8, 0x0006: 8, 0x0007: 8}
_FIXED_SIZES |= {0x0014: 8, 0x0040: 8, 0x0048: 16}
_STRING8, _UNICODE = 0x001E, 0x001F
_VARIABLE = frozenset({0x0000, _STRING8, _UNICODE, 0x000D, 0x0102})


class TnefError(ValueError):
    """Not a TNEF stream, or one too broken to read any file from."""


@dataclass(frozen=True)
class TnefFile:
    name: str  # as the sender named it, not yet made safe for a file system
    data: bytes


@dataclass
class _Pending:
    title: str = ""
    long_name: str = ""
    data: bytes = b""


def is_tnef(data: bytes) -> bool:
    return len(data) >= 6 and struct.unpack_from("<I", data)[0] == SIGNATURE


def files(data: bytes, limit: int = MAX_FILES) -> list[TnefFile]:
    """The attached files in the TNEF stream `data`, in order, at most `limit` (and `MAX_FILES`);
    a cut stream gives what precedes the cut. Raises `TnefError` when `data` is not TNEF at all.

    Reading stops at the first file past `limit`: a 2.9 MB mail of winmail.dat parts made 50,000
    attachments, and the caller's cap per mail is passed down so that none past it is copied.
    """
    if not is_tnef(data):
        raise TnefError("not a TNEF stream (wrong signature)")
    view = memoryview(data)
    codepage = "cp1252"
    found: list[_Pending] = []
    offset = 6  # signature, legacy key
    limit = max(0, min(limit, MAX_FILES))
    while offset + 9 <= len(data) and len(found) <= limit:
        level, attribute, length = struct.unpack_from("<BII", data, offset)
        start = offset + 9
        end = start + length
        if end + 2 > len(data):
            break  # cut short: keep what was read
        value = view[start:end]
        if attribute == _ATT_OEM_CODEPAGE and length >= 4:
            codepage = _codepage(struct.unpack_from("<I", data, start)[0])
        elif attribute == _ATT_ATTACH_REND_DATA:
            found.append(_Pending())
        elif level == _LEVEL_ATTACHMENT and found:
            current = found[-1]
            if attribute == _ATT_ATTACH_TITLE:
                current.title = _text8(bytes(value), codepage)
            elif attribute == _ATT_ATTACH_DATA:
                current.data = bytes(value)
            elif attribute == _ATT_ATTACHMENT:
                current.long_name = _long_name(value, codepage)
        offset = end + 2  # the checksum is not checked: a bad one costs nothing here
    named = [TnefFile(item.long_name or item.title, item.data) for item in found[:limit]]
    return [item for item in named if item.name or item.data]  # a cut file leaves nothing to show


def _codepage(number: int) -> str:
    name = f"cp{number}"
    try:
        "".encode(name)
    except LookupError:
        return "cp1252"
    return name


def _text8(raw: bytes, codepage: str) -> str:
    return raw.split(b"\0", 1)[0].decode(codepage, "replace").strip()


def _long_name(props: memoryview, codepage: str) -> str:
    """PidTagAttachLongFilename (else PidTagDisplayName) from a MAPI property list."""
    names: dict[int, str] = {}
    try:
        (count,) = struct.unpack_from("<I", props, 0)
        offset = 4
        for _ in range(count):
            if offset + 4 > len(props):
                break
            kind, ident = struct.unpack_from("<HH", props, offset)
            offset += 4
            if ident >= 0x8000:  # a named property: a GUID, then a number or a name
                (named_by,) = struct.unpack_from("<I", props, offset + 16)
                offset += 20
                if named_by == 0:
                    offset += 4
                else:
                    (size,) = struct.unpack_from("<I", props, offset)
                    offset += 4 + size + (-size % 4)
            values = 1
            if kind & _MULTIPLE or kind in _VARIABLE:
                (values,) = struct.unpack_from("<I", props, offset)
                offset += 4
            base = kind & ~_MULTIPLE
            if base in _FIXED_SIZES:
                offset += values * _FIXED_SIZES[base]
            elif base in _VARIABLE:
                for _ in range(values):
                    (size,) = struct.unpack_from("<I", props, offset)  # raises past the end
                    value = bytes(props[offset + 4 : offset + 4 + size])
                    offset += 4 + size + (-size % 4)
                    if ident in (_PID_ATTACH_LONG_FILENAME, _PID_DISPLAY_NAME) and base in (_STRING8, _UNICODE):
                        text = value.decode("utf-16-le", "replace") if base == _UNICODE else _text8(value, codepage)
                        names.setdefault(ident, text.split("\0", 1)[0].strip())
            else:
                break  # an unknown type: its size is unknown, so nothing after it can be read
            if offset > len(props):
                break
    except struct.error:
        pass  # cut short: keep the names read so far
    return names.get(_PID_ATTACH_LONG_FILENAME) or names.get(_PID_DISPLAY_NAME, "")
