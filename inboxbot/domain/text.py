"""Text folding for matching French words the way people type them.

Claimants write "Réclamation", "RECLAMATION" or "reclamation"; rules and subject tags must match
all three, so matching happens on a folded form: accents removed, case folded.
"""

from __future__ import annotations

import unicodedata


def fold(text: str) -> str:
    """`text` without accents, case-folded, with no-break spaces as plain spaces."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return stripped.casefold()


def clamp(text: str, limit: int) -> str:
    """`text` on one line and at most `limit` characters, with "…" where it was cut.

    For what a stranger wrote (a subject, a display name) that our own mail repeats: whatever its
    length, it must neither fill a mail nor let our address carry someone else's long message.
    """
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: max(limit - 1, 0)].rstrip() + "…"
