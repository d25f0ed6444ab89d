"""The parsed form of one mail, as the rest of the program sees it.

Only `parse` knows the parsing library; everything downstream (rules, threading, the decision)
works on these plain, immutable values so it can be tested without any mail bytes at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

LOOP_HEADER = "X-Inboxbot-Loop"
"""Header our own outgoing mail carries; any mail bearing it came back to us and is never acked."""


@dataclass(frozen=True)
class Address:
    """A mailbox: `email` is lower-cased so that comparisons are plain equality."""

    email: str
    name: str = ""

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>" if self.name else self.email


@dataclass(frozen=True)
class Attachment:
    """A part the sender attached; `filename` is already safe to use as a file name."""

    filename: str
    content_type: str
    payload: bytes


@dataclass(frozen=True)
class ParsedMail:
    """What the program knows of a mail once parsed.

    Message-IDs are kept without their angle brackets. `headers` maps lower-cased header names
    to every value the mail carries for them, decoded to text. `text` is the readable body
    (the text/plain part, or the HTML part turned into text when there is no plain part).
    `defects` lists what was wrong with the mail and had to be worked around.
    """

    message_id: str | None
    subject: str
    from_: Address | None
    to: tuple[Address, ...] = ()
    cc: tuple[Address, ...] = ()
    reply_to: tuple[Address, ...] = ()
    in_reply_to: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    date: datetime | None = None
    headers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    text: str = ""
    html: str | None = None
    attachments: tuple[Attachment, ...] = ()
    defects: tuple[str, ...] = ()
    # Attachments not kept because the mail had more than the cap (a winmail.dat cut short counts
    # one): they stay in the archived mail, and the case says so.
    attachments_left_out: int = 0

    def header(self, name: str) -> str | None:
        """The first value of header `name` (any case), or None."""
        values = self.headers.get(name.lower())
        return values[0] if values else None

    @property
    def thread_ids(self) -> tuple[str, ...]:
        """Every Message-ID this mail says it answers, nearest first, without repeats."""
        seen: dict[str, None] = {}
        for mid in (*self.in_reply_to, *reversed(self.references)):
            seen.setdefault(mid, None)
        return tuple(seen)
