"""pytest fixtures that hand tests real servers (see tests/servers.py).

Costs, measured here: Dovecot starts in about 30 ms but needs about 1 s to stop, so one
Dovecot serves the whole session and every test gets its own fresh user (isolation by
account, not by server). PostgreSQL needs about 1 s to create and start, so it is
session-wide too, with a fresh database per test (about 0.1 s to create, 0.1 s to drop).
The SMTP sink costs about 20 ms and is per test, so its fault injection never leaks.

Nothing is skipped: if a server cannot start, the fixture errors with the reason (missing
package, log tail). Tests that use these fixtures get the ``servers`` marker, so
``pytest -m "not servers"`` runs the rest.
"""

from __future__ import annotations

import itertools
import re
import secrets
import shutil
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import databases
from servers import DovecotServer, PostgresServer, SmtpSink

SERVER_FIXTURES = frozenset({"dovecot_server", "mail_account", "smtp_sink", "postgres_server", "database_url"})

_user_counter = itertools.count(1)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests that need real servers, so they can be selected or deselected."""
    for item in items:
        if SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.servers)


@dataclass
class MailAccount:
    """A fresh IMAP account on the session's Dovecot, as the daemon would be configured."""

    host: str
    port: int
    username: str
    password: str
    address: str
    server: DovecotServer = field(repr=False)

    def append(
        self,
        raw: bytes,
        folder: str = "INBOX",
        internaldate: datetime | None = None,
        flags: Sequence[bytes | str] = (),
    ) -> int:
        """APPEND ``raw`` to ``folder`` and return the new UID."""
        return self.server.append(self.username, self.password, folder, raw, internaldate, flags)

    def client(self) -> Any:
        """A logged-in ``imapclient.IMAPClient``; use it as a context manager to log out."""
        return self.server.client(self.username, self.password)


@pytest.fixture(autouse=True)
def english_setup_wording(monkeypatch: pytest.MonkeyPatch) -> None:
    """`inboxbot init` and `check` speak French unless the locale asks for English (issue 17); the suite's
    assertions on their lines read the English wording, so every test runs under an English locale
    (here and in the programs it starts). tests/test_language.py sets the locale itself."""
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    monkeypatch.setenv("LANG", "en_US.UTF-8")


@pytest.fixture(scope="session")
def server_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], Path]]:
    """Factory of private directories for servers: ``server_dir("dovecot") -> Path``.

    Why not tmp_path_factory directly: Dovecot and PostgreSQL run as their own system users,
    which must traverse every parent directory, and each new pytest session of the same
    user resets /tmp/pytest-of-<user> to mode 0700. Seen here: a second pytest run started
    while the first was running made Dovecot's auth fail ("missing +x perm:
    /tmp/pytest-of-root") in the middle of the first run. So the server files live in their
    own directory under the system temp dir, outside pytest's tree. At the end of the
    session the logs (*.log, *.stderr) are copied into pytest's temp dir, next to a
    symlink that existed during the run, and the directory is removed.
    """
    created: list[tuple[Path, Path]] = []

    def make(name: str) -> Path:
        path = Path(tempfile.mkdtemp(prefix=f"inboxbot-test-{name}-"))
        keep = tmp_path_factory.mktemp(name)
        (keep / "server").symlink_to(path)
        created.append((path, keep))
        return path

    yield make
    for path, keep in created:
        for log in [*path.glob("*.log"), *path.glob("*.stderr")]:
            shutil.copy2(log, keep / log.name)
        (keep / "server").unlink(missing_ok=True)
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def dovecot_server(server_dir: Callable[[str], Path]) -> Iterator[DovecotServer]:
    """One Dovecot for the whole session (stopping one costs about 1 s)."""
    server = DovecotServer(server_dir("dovecot"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mail_account(dovecot_server: DovecotServer, request: pytest.FixtureRequest) -> MailAccount:
    """A new user per test: an empty INBOX plus Sent, Drafts, Trash and Junk.

    The user name starts with the test's name so Dovecot's log is readable.
    """
    stem = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40] or "user"
    username = f"{stem}-{next(_user_counter)}"
    password = secrets.token_urlsafe(12)
    dovecot_server.add_user(username, password)
    return MailAccount(
        host=dovecot_server.host,
        port=dovecot_server.port,
        username=username,
        password=password,
        address=f"{username}@example.org",
        server=dovecot_server,
    )


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    """A fresh SMTP sink per test, accepting everything until told otherwise."""
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture(scope="session")
def postgres_server(server_dir: Callable[[str], Path]) -> Iterator[PostgresServer]:
    """One throw-away PostgreSQL cluster for the session; only started if a test needs it."""
    server = PostgresServer(server_dir("postgres"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session", autouse=databases.ENGINE == "postgresql")
def postgres_for_every_config(postgres_server: PostgresServer) -> None:
    """With INBOXBOT_TEST_DATABASE=postgresql, every config a test writes uses PostgreSQL."""
    databases.use_postgres(postgres_server)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """SQLAlchemy URL of an empty database: a new SQLite file, or a new PostgreSQL database.

    PostgreSQL is requested lazily, so ``-k sqlite`` runs never start it. The database is
    dropped afterwards (WITH (FORCE), so connections left in a pool do not block it).
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'inboxbot.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = f"test_{uuid.uuid4().hex[:16]}"
    url = server.create_database(name)
    yield url
    server.drop_database(name)
