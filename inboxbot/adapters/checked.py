"""Marks of the sources (mail templates, the recognition vocabulary) already compiled without error.

The commands that read mail compile every template and the vocabulary at start, so that a broken
file stops them there and not at the first mail. Most starts find the very files the previous one
compiled: for those, a mark named by a digest of everything the compiling depended on (the files'
bytes, the code that compiles them, the library's version) stands for it, and the real compiling
waits for the first mail that needs it. A changed file or checker gives another digest, so no mark:
the full check again. A mark that is unreadable, not the digest it is named after, or in a folder
that is not this user's alone is no mark either: nothing here can make a broken file pass unseen
except a file of this user's own writing.

The marks live in a private folder of this user under the temporary directory, as Jinja2's compiled
templates do; writing one is best effort (a full or read-only disk only means checking next time).
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

from inboxbot.adapters.private import FOLDER_MODE, replaced_whole

# Written in each mark: a file that does not hold exactly this and its own name is not one.
_HEADER = b"inboxbot checked sources\n"


def fingerprint(parts: Iterable[bytes | str]) -> str:
    """One digest of `parts` in order; each is length-prefixed, so no two lists share a digest."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8", "surrogateescape") if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


def default_folder() -> Path | None:
    """This user's folder of marks; None where there is no user id to own it (no marks, always checked)."""
    getuid = getattr(os, "getuid", None)
    if getuid is None:
        return None
    return Path(tempfile.gettempdir()) / f"inboxbot-checked-{getuid()}"


class CheckedSources:
    """The marks of one folder. `None` is no folder: nothing is ever taken as checked."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder

    def _trusted(self) -> bool:
        """The folder is a real folder (not a link), this user's, and no one else may enter it."""
        if self.folder is None:
            return False
        try:
            info = os.lstat(self.folder)
        except OSError:
            return False
        return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o077

    def has(self, key: str) -> bool:
        if self.folder is None or not self._trusted():
            return False
        try:
            descriptor = os.open(self.folder / key, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            return False
        try:
            info = os.fstat(descriptor)
            if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid():
                return False
            content = os.read(descriptor, len(_HEADER) + len(key) + 2)
        except OSError:
            return False
        finally:
            os.close(descriptor)
        return content == _HEADER + key.encode("ascii", "replace")

    def add(self, key: str) -> None:
        if self.folder is None:
            return
        try:
            # Made private here, not through private_folder: an existing folder must be checked, not trusted.
            self.folder.mkdir(mode=FOLDER_MODE, exist_ok=True)
            if not self._trusted():
                return
            with replaced_whole(self.folder / key) as temporary:
                temporary.write_bytes(_HEADER + key.encode("ascii"))
        except OSError:
            return


def source_files(directories: Iterable[Path], pattern: str) -> list[bytes | str]:
    """Each directory's files matching `pattern`, in order, as name and bytes: a part of a key.

    An unreadable file is named with a mark of its own, so a key with one never matches a checked set.
    """
    parts: list[bytes | str] = []
    for number, directory in enumerate(directories):
        parts.append(f"directory {number}")
        try:
            files = sorted(p for p in directory.rglob(pattern) if p.is_file())
        except OSError:
            parts.append("unreadable directory")
            continue
        for path in files:
            parts.append(path.relative_to(directory).as_posix())
            try:
                parts.append(path.read_bytes())
            except OSError:
                parts.append(f"unreadable {os.urandom(16).hex()}")
    return parts


def module_source(module: str) -> bytes:
    """The bytes of an installed library's module file, found without importing it; empty if not found."""
    from importlib.util import find_spec

    try:
        spec = find_spec(module)
        origin = spec.origin if spec is not None else None
        return Path(origin).read_bytes() if origin else b""
    except (ImportError, ValueError, OSError):
        return b""


def own_source(relative: str) -> bytes:
    """The bytes of one of inboxbot's own files (`reading/recognition.py`), without importing its package."""
    try:
        return (Path(__file__).resolve().parents[1] / relative).read_bytes()
    except OSError:
        return b""
