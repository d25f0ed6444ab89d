"""Text folding for matching French words the way people type them.

Claimants write "Réclamation", "RECLAMATION" or "reclamation"; rules and subject tags must match
all three, so matching happens on a folded form: accents removed, case folded.
"""

from __future__ import annotations

import re
import unicodedata


def fold(text: str) -> str:
    """`text` without accents, case-folded, with no-break spaces as plain spaces."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return stripped.casefold()


def after_folded(text: str, folded_length: int) -> str:
    """What follows the shortest prefix of `text` whose folded form is `folded_length` long.

    Keywords are matched on the folded text (accents, case) but values are kept as written, and
    folding may change lengths ("ß" becomes "ss"), so positions are mapped back rather than reused.
    """
    # Folding maps each character on its own (no context), so the folded length of a prefix is the
    # sum of its characters' folded lengths: one pass, where folding every prefix was quadratic.
    total = 0
    for end, char in enumerate(text):
        if total >= folded_length:
            return text[end:]
        total += len(fold(char))
    return ""


# An escape sequence, whole: CSI (colours, cursor moves, screen clearing), OSC (window titles,
# hyperlinks, and on some terminals the clipboard), DCS/SOS/PM/APC strings, or ESC and one character.
# Each branch consumes what it matches and never backtracks across a sequence: linear in the text.
_ESCAPE_SEQUENCE = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*[@-~]?|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[PX^_][^\x1b]*(?:\x1b\\)?|.?)", re.DOTALL
)
# C0 controls but tab and newline, DEL, C1 controls: dropped. Bidirectional overrides and isolates
# (which reorder what is shown, "Trojan Source"): shown as their code point, so they are seen, not obeyed.
_TERMINAL_TABLE: dict[int, str | None] = {
    **{code: None for code in (*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F, *range(0x80, 0xA0))},
    **{code: f"<U+{code:04X}>" for code in (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))},
}


def for_terminal(text: str) -> str:
    """`text` from a mail, safe to print on a terminal: a stranger's mail must not be able to move
    the cursor, rewrite what is shown, set the window title or reach the clipboard of whoever reads
    it with `inboxbot cases show` or `digest --print`."""
    if "\x1b" in text:
        text = _ESCAPE_SEQUENCE.sub("", text)
    return text.translate(_TERMINAL_TABLE)


def clamp(text: str, limit: int) -> str:
    """`text` on one line and at most `limit` characters, with "…" where it was cut.

    For what a stranger wrote (a subject, a display name) that our own mail repeats: whatever its
    length, it must neither fill a mail nor let our address carry someone else's long message.
    """
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: max(limit - 1, 0)].rstrip() + "…"


def first_lines(text: str, lines: int, limit: int) -> str:
    """The first `lines` non-blank lines of `text`, at most `limit` characters, with "…" where it was cut.

    For a register's row, which must say what a mail was about without carrying all of it: a
    stranger's text of any length or shape (one 100,000-character line, thousands of blank lines)
    costs no more than `limit` characters to read.
    """
    head = text[: limit + 1]
    kept: list[str] = []
    # Cut when something other than blanks follows; isspace() stops at the first character that is not.
    cut = len(text) > limit and not text[limit:].isspace()
    for line in head.splitlines():
        line = line.strip()
        if not line:
            continue
        if len(kept) == lines:
            cut = True
            break
        kept.append(line)
    shown = "\n".join(kept)
    if len(shown) > limit:
        shown, cut = shown[:limit], True
    return shown.rstrip() + " …" if cut else shown
