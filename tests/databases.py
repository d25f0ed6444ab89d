"""Which database the tests' own configs use: SQLite by default, PostgreSQL on request.

`INBOXBOT_TEST_DATABASE=postgresql pytest` runs the whole suite with every config written by a
test pointing at a fresh database on the session's throw-away PostgreSQL (started by conftest);
`.ci/run` runs the suite both ways. Tests that compare the two engines explicitly use the
`database_url` fixture instead.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

from servers import PostgresServer
from sqlalchemy import create_engine, inspect

ENGINE = os.environ.get("INBOXBOT_TEST_DATABASE", "sqlite")
if ENGINE not in ("sqlite", "postgresql"):
    raise RuntimeError(f"INBOXBOT_TEST_DATABASE must be sqlite or postgresql, not {ENGINE!r}")

_server: PostgresServer | None = None
_made: dict[Path, str] = {}


def use_postgres(server: PostgresServer) -> None:
    global _server
    _server = server


def fresh_database_url(directory: Path, name: str = "inboxbot.db") -> str:
    """The database of one test's config: the same for the same `directory` and `name`, like the
    SQLite file it stands for, and new for each test (SQLite: that file in `directory`)."""
    if ENGINE == "sqlite":
        return f"sqlite:///{directory / name}"
    if _server is None:
        raise RuntimeError("INBOXBOT_TEST_DATABASE=postgresql but PostgreSQL was not started")
    key = directory / name
    if key not in _made:
        _made[key] = _server.create_database(f"t_{uuid.uuid4().hex[:20]}")
    return _made[key]


def rows(directory: Path, sql: str, name: str = "inboxbot.db") -> list[tuple[Any, ...]]:
    """Run `sql` on that test's database (whichever engine), committed; the rows it returns."""
    engine = create_engine(fresh_database_url(directory, name))
    try:
        with engine.begin() as connection:
            result = connection.exec_driver_sql(sql)
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()


def dump(directory: Path, name: str = "inboxbot.db") -> str:
    """Every value of every table of that test's database, as text (to look for what must not be there)."""
    engine = create_engine(fresh_database_url(directory, name))
    try:
        with engine.connect() as connection:
            tables = inspect(connection).get_table_names()
            return "\n".join(
                repr(tuple(row)) for table in tables for row in connection.exec_driver_sql(f'SELECT * FROM "{table}"')
            )
    finally:
        engine.dispose()
