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


def after_folded(text: str, folded_length: int) -> str:
    """What follows the shortest prefix of `text` whose folded form is `folded_length` long.

    Keywords are matched on the folded text (accents, case) but values are kept as written, and
    folding may change lengths ("ß" becomes "ss"), so positions are mapped back rather than reused.
    """
    for end in range(len(text) + 1):
        if len(fold(text[:end])) >= folded_length:
            return text[end:]
    return ""
