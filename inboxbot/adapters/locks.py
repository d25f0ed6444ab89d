"""An exclusive file lock: how two inboxbot processes on one machine keep out of each other's way.

The lock belongs to the open file, so it goes with the process: a process killed while holding it
releases it, and no stale lock file ever needs cleaning up.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def file_lock(path: Path | str, busy: Exception) -> Iterator[None]:
    """Hold an exclusive lock on `path` for the block; raise `busy` at once if another process has it."""
    with os.fdopen(os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600), "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise busy from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
