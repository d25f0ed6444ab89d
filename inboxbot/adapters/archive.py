"""The archive of every mail exactly as it was received.

Raw bytes are stored before anything parses them, so that a parser bug, a crash or a bad
decision can always be replayed from the original: "nothing lost". Files are named by the
SHA-256 of their content, which makes storing idempotent ("nothing doubled") — a mail fetched
twice after a crash lands on the same file — and lets anyone check a file was not altered.

Layout under the root:

    YYYY/MM/<sha256>.eml                 the mail, byte for byte
    YYYY/MM/<sha256>/<NN>-<name>         its attachments, extracted for staff

YYYY/MM is the month of `received_at` in UTC. Pass the server's receipt time (IMAP INTERNALDATE),
not the time of fetching: it is what keeps a re-fetched mail in the same month folder.

Durability: by default every file is synced to disk before `store` returns. The pipeline instead
stores a batch of mails with `durable=False` and calls `sync()` once before the transaction that
refers to them commits: a sync per mail was a large share of a mail storm's time (BENCHMARKS.md §1).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import re
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from inboxbot.adapters.private import replaced_whole, sync_file, sync_folder

_SHA256 = re.compile(r"[0-9a-f]{64}")
_TEMPORARY_PREFIX, _TEMPORARY_SUFFIX = ".incoming-", ".tmp"
LEFTOVER_SECONDS = 3600
"""A temporary file older than this was left by a crash: no write takes an hour."""


@dataclass(frozen=True)
class StoredMail:
    """Where a mail was archived: `path` is relative to the archive root."""

    path: Path
    sha256: str
    size: int


class Archive:
    """Content-addressed, write-once storage of raw mails and their attachments."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._unsynced: list[Path] = []
        self._resolved_root: Path | None = None  # resolved once: every mail stored resolves against it

    def store(self, raw: bytes, received_at: datetime, *, durable: bool = True) -> StoredMail:
        """Archive `raw` unless an identical copy is already there; either way say where it is.

        With `durable=False` the file is complete and in place but may not be on disk yet after a
        power cut: call `sync()` before recording anywhere that it is archived.
        """
        digest = hashlib.sha256(raw).hexdigest()
        relative = _month(received_at) / f"{digest}.eml"
        target = self._inside(relative)
        if not _same_size(target, len(raw)):
            _write_atomically(target, raw, durable=durable)
            if not durable:
                self._unsynced.append(target)
        return StoredMail(path=relative, sha256=digest, size=len(raw))

    def sync(self) -> None:
        """Put every file stored with `durable=False` safely on disk, with the folders naming them."""
        if not self._unsynced:
            return
        pending, self._unsynced = self._unsynced, []
        folders = {path.parent for path in pending}
        if not _syncfs(self.root):
            for path in pending:
                sync_file(path)
            for folder in folders:
                sync_folder(folder)
        for folder in folders:
            # "An hour ago" by the filesystem's clock, read off a file it has just written: a network
            # share's server, or a shifted test clock, need not agree with this process's.
            written = next(path for path in pending if path.parent == folder)
            _remove_leftovers(folder, _filesystem_now(written) - LEFTOVER_SECONDS)

    def read(self, path: Path | str) -> bytes:
        """The bytes archived at `path` (relative to the root, as `store` returned it)."""
        return self._inside(Path(path)).read_bytes()

    def store_attachment(
        self,
        sha256_of_mail: str,
        index: int,
        filename: str,
        payload: bytes,
        received_at: datetime,
        *,
        durable: bool = True,
    ) -> Path:
        """Write attachment number `index` of a stored mail; returns its path under the root.

        `filename` comes from the sender: it is sanitised again here and prefixed with the
        index, so two attachments both called "scan.pdf" are both kept, and nothing it says can
        place the file outside the mail's own folder.
        """
        if not isinstance(sha256_of_mail, str) or not _SHA256.fullmatch(sha256_of_mail):
            raise ValueError(f"not a SHA-256 hex digest: {sha256_of_mail!r}")
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise ValueError(f"attachment index must be a non-negative integer: {index!r}")
        from inboxbot.reading.parse import safe_filename  # the parser (mail-parser): not for commands that only read

        name = f"{index:02d}-{safe_filename(filename, f'piece-jointe-{index}.bin')}"
        folder = _month(received_at) / sha256_of_mail
        relative = folder / name
        target = self._inside(relative)
        if target.parent != self._inside(folder):
            raise ValueError(f"attachment name escapes its folder: {filename!r}")
        if not (_same_size(target, len(payload)) and target.read_bytes() == payload):
            _write_atomically(target, payload, durable=durable)
            if not durable:
                self._unsynced.append(target)
        return relative

    def remove(self, path: Path | str) -> None:
        """Delete the archived file at `path` (relative to the root), for the retention purge.

        Refuses (ValueError, nothing deleted) a path that resolves outside the root: the path comes
        from the database, and neither a stored "../" nor a link planted in the tree may make a purge
        delete something else. A mail's attachment folder goes too once it is empty. Raises
        FileNotFoundError when the file was already gone, OSError when it cannot be removed.
        """
        target = self._inside(Path(path))
        try:
            target.unlink()
        except FileNotFoundError:
            self._prune(target.parent)
            raise
        self._prune(target.parent)

    def _prune(self, folder: Path) -> None:
        """Remove an attachment folder (<sha256>/) once empty, so none is left behind; never a month folder."""
        root = self.root.resolve()
        if folder != root and root in folder.parents and _SHA256.fullmatch(folder.name):
            try:
                folder.rmdir()
            except OSError:
                pass  # not empty: another record's files are still there

    def _inside(self, relative: Path) -> Path:
        """The absolute path of `relative`, refusing anything that resolves outside the root.

        Resolving follows symbolic links, so a link planted in the tree cannot redirect writes.
        """
        if self._resolved_root is None:
            self._resolved_root = self.root.resolve()
        root = self._resolved_root
        target = (root / relative).resolve()
        if target == root or root not in target.parents:
            raise ValueError(f"path escapes the archive: {relative}")
        return target


def _month(received_at: datetime) -> Path:
    if received_at.tzinfo is not None:
        received_at = received_at.astimezone(UTC)
    return Path(f"{received_at.year:04d}", f"{received_at.month:02d}")


def _same_size(path: Path, size: int) -> bool:
    """Whether a complete copy is already there: names are content hashes, and a file is only
    ever put in place whole, so a file of the right size holds the right bytes."""
    try:
        return path.stat().st_size == size
    except FileNotFoundError:
        return False


def _write_atomically(target: Path, data: bytes, durable: bool = True) -> None:
    """Put `data` at `target` whole or not at all (a crash's leftovers are named for `_remove_leftovers`)."""
    with replaced_whole(target, durable=durable, prefix=_TEMPORARY_PREFIX, suffix=_TEMPORARY_SUFFIX) as temporary:
        temporary.write_bytes(data)


def _filesystem_now(written: Path) -> float:
    try:
        return written.stat().st_mtime
    except OSError:
        return time.time()


def _remove_leftovers(folder: Path, before: float) -> None:
    """Delete temporary files a crash left in `folder` mid-write (older than `before`, so never
    one another process is writing now); the mail itself is fetched and stored again."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        if entry.name.startswith(_TEMPORARY_PREFIX) and entry.name.endswith(_TEMPORARY_SUFFIX):
            try:
                if entry.stat().st_mtime < before:
                    os.unlink(entry.path)
            except OSError:
                pass  # gone already, or not ours to remove: harmless either way


def _load_syncfs() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.syncfs
    except (OSError, AttributeError):
        return None


_SYNCFS = _load_syncfs()


def _syncfs(path: Path) -> bool:
    """Flush the whole filesystem holding `path` in one call (Linux's syncfs(2)).

    One call for a batch of hundreds of files costs about what one fsync does; False where the
    call does not exist, and the caller syncs file by file. Since Linux 5.8 it reports write
    errors, which are raised like fsync's.
    """
    if _SYNCFS is None:
        return False
    descriptor = os.open(path, os.O_RDONLY)
    try:
        if _SYNCFS(descriptor) != 0:
            number = ctypes.get_errno()
            raise OSError(number, f"syncfs {path}: {os.strerror(number)}")
    finally:
        os.close(descriptor)
    return True
