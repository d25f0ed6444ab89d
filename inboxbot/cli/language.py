"""Which language the set-up commands speak to the person installing inboxbot.

In a small organisation the director often installs it herself: `inboxbot init`'s questions and
`inboxbot check`'s verdicts are French by default, and English when the locale asks for it (the
first of LC_ALL, LC_MESSAGES and LANG that is set starts with "en"). Error details that come from a
server or a library (a TLS failure, a refused login) are quoted as they come, in either language.
"""

from __future__ import annotations

import os
from collections.abc import Mapping


def english_wanted(environ: Mapping[str, str] | None = None) -> bool:
    """True when the locale asks for English; a C, POSIX or any other locale keeps French."""
    environ = os.environ if environ is None else environ
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name)
        if value:
            return value.lower().startswith("en")
    return False


class Wording:
    """Picks the French or the English of each sentence, once the language is known."""

    def __init__(self, english: bool | None = None) -> None:
        self.english = english_wanted() if english is None else english

    def __call__(self, french: str, english: str) -> str:
        return english if self.english else french
