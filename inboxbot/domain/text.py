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
