"""Files and folders readable by their owner only: every one inboxbot writes holds someone's mail.

The database and the archive hold every mail received and sent, the exports the whole register, the
token file a key to the mailbox. Their modes are set here, explicitly, rather than left to the umask
of whoever started the process (0022 on most systems makes them world-readable); the command line
also sets its own umask (`PRIVATE_UMASK`) for what libraries create on their own (SQLite's WAL files).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PRIVATE_UMASK = 0o077
FILE_MODE = 0o600
FOLDER_MODE = 0o700


def private_file(path: Path | str) -> int:
    """A descriptor on `path`, created or emptied, for writing, mode 0600 whatever the umask.

    Never through a symlink: whoever could plant one would choose where the data goes.
    """
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, FILE_MODE)
    os.fchmod(descriptor, FILE_MODE)  # O_CREAT's mode does not apply to a file that was already there
    return descriptor


def private_folder(path: Path) -> None:
    """`path` and its missing parents, created mode 0700 whatever the umask (existing ones are left as they are)."""
    if path.is_dir():
        return  # the usual case, once per archived mail: one stat
    missing = [p for p in (path, *path.parents) if not p.exists()]
    path.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    for created in missing:
        os.chmod(created, FOLDER_MODE)


def make_private(path: Path | str) -> None:
    """Mode 0600 for a file a library wrote on its own (a workbook, a database file)."""
    os.chmod(path, FILE_MODE)


@contextmanager
def replaced_whole(
    target: Path, *, durable: bool = False, prefix: str | None = None, suffix: str = ".partial"
) -> Iterator[Path]:
    """A new private file beside `target`, to fill; it takes `target`'s name once the block ends.

    Readers see no file, or the old one, or the whole new one: a failure half-way (a full disk, a
    register whose reading fails) leaves nothing that looks whole, and the temporary is removed. The
    temporary is created by this process alone (O_EXCL, a random name: never through a planted
    symlink), mode 0600, in `target`'s folder so that the rename stays on one filesystem. When
    `durable`, the file and its folder are synced before returning: a power cut afterwards loses
    nothing the caller was told is safe.
    """
    folder = target.parent
    private_folder(folder)
    descriptor, name = tempfile.mkstemp(dir=folder, prefix=prefix or f".{target.name}.", suffix=suffix)
    os.close(descriptor)
    temporary = Path(name)
    try:
        yield temporary
        if durable:
            sync_file(temporary)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    if durable:
        sync_folder(folder)


@contextmanager
def replaced_whole_folder(target: Path) -> Iterator[Path]:
    """A new private folder beside `target`, to fill; it takes `target`'s place once the block ends.

    The folder's twin of `replaced_whole`: a folder half filled (the pages written, the index not)
    would pass for a finished one to whoever opens it later. `target` may be missing or an empty
    folder (a rename replaces an empty folder in one step); anything else, or a failure inside the
    block, leaves it as it was, and the temporary folder and the parents made for it are removed.
    """
    made = [folder for folder in target.parents if not folder.exists()]  # the nearest first
    private_folder(target.parent)
    try:
        temporary = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial"))
    except BaseException:
        _remove_empty(made)
        raise
    try:
        yield temporary
        os.replace(temporary, target)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        _remove_empty(made)
        raise


def _remove_empty(folders: list[Path]) -> None:
    for folder in folders:
        with contextlib.suppress(OSError):
            folder.rmdir()


def sync_file(path: Path) -> None:
    """Data written to `path` through any descriptor is on disk (errors raised: the data is not)."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def sync_folder(folder: Path) -> None:
    """The names created in `folder` are on disk; best effort where folders cannot be synced."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:  # platforms where folders cannot be opened (Windows)
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
