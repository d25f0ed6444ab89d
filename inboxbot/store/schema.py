"""Whether the database's schema is already at the newest migration, found without alembic.

Nearly every start finds the schema up to date, and importing alembic to learn that cost about a
quarter of a second, a third of a short command such as `digest --print`. The newest revision is read
from the migration files themselves (their `revision` and `down_revision` lines), so adding a
migration needs nothing here; anything unexpected answers "not at head" and alembic decides.
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

_REVISION = re.compile(r"""^revision\s*(?::[^=]*)?=\s*["']([^"']+)["']""", re.M)
_DOWN_REVISION = re.compile(r"""^down_revision\s*(?::[^=]*)?=\s*(.+)$""", re.M)
_QUOTED = re.compile(r"""["']([^"']+)["']""")


def head_revision(versions: Path) -> str | None:
    """The single newest revision of the migrations in `versions`; None if there is not exactly one."""
    revisions: set[str] = set()
    replaced: set[str] = set()
    for path in versions.glob("*.py"):
        source = path.read_text(encoding="utf-8")
        revision = _REVISION.search(source)
        down = _DOWN_REVISION.search(source)
        if revision is None or down is None:
            return None
        revisions.add(revision.group(1))
        replaced.update(_QUOTED.findall(down.group(1)))  # None, one revision, or a merge's tuple
    heads = revisions - replaced
    return heads.pop() if len(heads) == 1 else None


def at_head(engine: Engine, versions: Path) -> bool:
    """Whether the database records exactly the newest revision (read-only: one SELECT)."""
    head = head_revision(versions)
    if head is None:
        return False
    try:
        with engine.connect() as connection:
            recorded = [row[0] for row in connection.execute(text("SELECT version_num FROM alembic_version"))]
    except DBAPIError:  # no table yet: a new database
        return False
    return recorded == [head]
