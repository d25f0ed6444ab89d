"""The archive keeps every mail once, whole, and never writes outside its root."""

from __future__ import annotations

import hashlib
import os
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from inboxbot.adapters import archive as archive_module
from inboxbot.adapters.archive import Archive, StoredMail

RECEIVED = datetime(2024, 3, 12, 10, 30, tzinfo=UTC)
RAW = b"From: jean@example.fr\r\nSubject: R\xe9clamation\r\n\r\nbody\r\n"


def files_under(root: Path) -> list[Path]:
    return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())


def test_store_layout_and_content(tmp_path: Path) -> None:
    stored = Archive(tmp_path).store(RAW, RECEIVED)
    digest = hashlib.sha256(RAW).hexdigest()
    assert stored == StoredMail(path=Path("2024", "03", f"{digest}.eml"), sha256=digest, size=len(RAW))
    assert not stored.path.is_absolute()
    assert (tmp_path / stored.path).read_bytes() == RAW
    assert files_under(tmp_path) == [stored.path]  # no temporary file left behind


def test_store_is_idempotent(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    first = archive.store(RAW, RECEIVED)
    mtime = (tmp_path / first.path).stat().st_mtime_ns
    second = archive.store(RAW, RECEIVED + timedelta(minutes=5))
    assert second == first
    assert (tmp_path / first.path).stat().st_mtime_ns == mtime  # not rewritten
    assert files_under(tmp_path) == [first.path]


def test_different_mails_get_different_files(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    one = archive.store(RAW, RECEIVED)
    two = archive.store(RAW + b"x", RECEIVED)
    assert one.path != two.path
    assert archive.read(one.path) == RAW
    assert archive.read(str(two.path)) == RAW + b"x"


def test_month_follows_received_at_in_utc(tmp_path: Path) -> None:
    paris = timezone(timedelta(hours=2))
    stored = Archive(tmp_path).store(RAW, datetime(2024, 4, 1, 0, 30, tzinfo=paris))
    assert stored.path.parts[:2] == ("2024", "03")


def test_truncated_copy_is_replaced(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    stored = archive.store(RAW, RECEIVED)
    (tmp_path / stored.path).write_bytes(RAW[:10])  # e.g. a copy restored badly from backup
    archive.store(RAW, RECEIVED)
    assert archive.read(stored.path) == RAW


def test_failed_write_leaves_neither_partial_file_nor_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_replace(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(archive_module.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        Archive(tmp_path).store(RAW, RECEIVED)
    assert files_under(tmp_path) == []


def test_write_goes_through_a_synced_temporary_in_the_same_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[str, str]] = []
    real_replace = os.replace

    def spying_replace(src: str, dst: str) -> None:
        seen.append((os.fspath(src), os.fspath(dst)))
        assert Path(src).read_bytes() == RAW  # complete before it takes the final name
        assert not Path(dst).exists()
        real_replace(src, dst)

    monkeypatch.setattr(archive_module.os, "replace", spying_replace)
    synced: list[int] = []
    real_fsync = os.fsync

    def spying_fsync(descriptor: int) -> None:
        synced.append(descriptor)
        real_fsync(descriptor)

    monkeypatch.setattr(archive_module.os, "fsync", spying_fsync)
    stored = Archive(tmp_path).store(RAW, RECEIVED)
    ((src, dst),) = seen
    assert Path(src).parent == Path(dst).parent == (tmp_path / stored.path).parent.resolve()
    assert len(synced) >= 1


def test_read_refuses_paths_outside_the_root(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    root.mkdir()
    (tmp_path / "secret").write_bytes(b"secret")
    archive = Archive(root)
    for path in ("../secret", "/etc/passwd", Path("2024/../../secret"), ""):
        with pytest.raises(ValueError):
            archive.read(path)


def test_store_attachment_layout(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    stored = archive.store(RAW, RECEIVED)
    first = archive.store_attachment(stored.sha256, 1, "scan.pdf", b"one", RECEIVED)
    second = archive.store_attachment(stored.sha256, 2, "scan.pdf", b"two", RECEIVED)
    assert first == Path("2024", "03", stored.sha256, "01-scan.pdf")
    assert second == Path("2024", "03", stored.sha256, "02-scan.pdf")
    assert (tmp_path / first).read_bytes() == b"one"
    assert (tmp_path / second).read_bytes() == b"two"
    again = archive.store_attachment(stored.sha256, 1, "scan.pdf", b"one", RECEIVED)
    assert again == first
    assert len(files_under(tmp_path)) == 3


@pytest.mark.parametrize(
    "hostile",
    ["../../../../etc/cron.d/evil", "..\\..\\evil.bat", "/etc/passwd", "..", "", "\u202efdp.exe"],
)
def test_attachment_names_cannot_escape(tmp_path: Path, hostile: str) -> None:
    root = tmp_path / "archive"
    archive = Archive(root)
    digest = "a" * 64
    path = archive.store_attachment(digest, 3, hostile, b"x", RECEIVED)
    assert path.parent == Path("2024", "03", digest)
    assert path.name.startswith("03-")
    assert (root / path).resolve().parent == (root / "2024" / "03" / digest).resolve()
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == [root / path]


@pytest.mark.parametrize("digest", ["../../x", "A" * 64, "a" * 63, "/" + "a" * 63])
def test_attachment_refuses_a_bad_mail_digest(tmp_path: Path, digest: str) -> None:
    with pytest.raises(ValueError):
        Archive(tmp_path).store_attachment(digest, 1, "a.pdf", b"x", RECEIVED)


@pytest.mark.parametrize("index", [-1, True, "1"])
def test_attachment_refuses_a_bad_index(tmp_path: Path, index: object) -> None:
    with pytest.raises(ValueError):
        Archive(tmp_path).store_attachment("a" * 64, index, "a.pdf", b"x", RECEIVED)  # type: ignore[arg-type]


def test_symlink_planted_in_the_tree_cannot_redirect_writes(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "2024" / "03").mkdir(parents=True)
    digest = "b" * 64
    (root / "2024" / "03" / digest).symlink_to(outside, target_is_directory=True)
    with pytest.raises(ValueError):
        Archive(root).store_attachment(digest, 1, "a.pdf", b"x", RECEIVED)
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize("syncfs", [True, False], ids=["syncfs", "file-by-file"])
def test_a_batch_stored_without_syncing_is_synced_once_by_sync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, syncfs: bool
) -> None:
    """The pipeline's group commit relies on this: complete files at once, on disk at `sync()`."""
    synced: list[str] = []
    real_fsync = os.fsync

    def spying_fsync(descriptor: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{descriptor}"))
        real_fsync(descriptor)

    monkeypatch.setattr(archive_module.os, "fsync", spying_fsync)
    filesystems: list[Path] = []
    if syncfs:
        monkeypatch.setattr(archive_module, "_syncfs", lambda path: filesystems.append(path) or True)
    else:
        monkeypatch.setattr(archive_module, "_SYNCFS", None)
    archive = Archive(tmp_path)
    mails = [RAW + bytes([n]) for n in range(3)]
    stored = [archive.store(raw, RECEIVED, durable=False) for raw in mails]
    again = archive.store(mails[0], RECEIVED, durable=False)  # already there: nothing new to sync
    assert again == stored[0] and synced == [] and filesystems == []
    assert [(tmp_path / s.path).read_bytes() for s in stored] == mails  # complete before any sync

    archive.sync()
    if syncfs:
        assert filesystems == [tmp_path] and synced == []
    else:
        files = {str((tmp_path / s.path).resolve()) for s in stored}
        assert files <= set(synced) and str((tmp_path / stored[0].path).parent.resolve()) in synced
    before = (list(synced), list(filesystems))
    archive.sync()  # nothing pending any more
    assert (synced, filesystems) == before


def test_syncfs_really_runs_on_this_machine(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    archive.store(RAW, RECEIVED, durable=False)
    if archive_module._SYNCFS is None:
        pytest.skip("no syncfs(2) here: the file-by-file path is used")
    assert archive_module._syncfs(tmp_path) is True


def test_remove_deletes_inside_the_root_only_and_prunes_an_empty_attachment_folder(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    archive = Archive(root)
    stored = archive.store(RAW, RECEIVED)
    attachment = archive.store_attachment(stored.sha256, 1, "scan.pdf", b"%PDF", RECEIVED)
    precious = tmp_path / "precious.txt"
    precious.write_bytes(b"keep me")
    (root / "2024" / "03" / "link.eml").symlink_to(precious)

    for outside in ("../precious.txt", "2024/03/link.eml"):
        with pytest.raises(ValueError):
            archive.remove(outside)
    assert precious.read_bytes() == b"keep me"

    archive.remove(attachment)
    assert not (root / attachment).parent.exists()  # the mail's attachment folder, now empty
    archive.remove(stored.path)
    assert not (root / stored.path).exists() and (root / "2024" / "03").is_dir()  # month folders stay
    with pytest.raises(FileNotFoundError):
        archive.remove(stored.path)


def test_a_temporary_file_left_by_a_crash_is_removed_when_its_folder_is_next_synced(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    first = archive.store(RAW, RECEIVED)
    folder = (tmp_path / first.path).parent
    stale, fresh = folder / ".incoming-crashed.tmp", folder / ".incoming-being-written.tmp"
    for leftover in (stale, fresh):
        leftover.write_bytes(RAW[:10])
    two_hours_ago = fresh.stat().st_mtime - 7200  # by the filesystem's clock, which dates the files
    os.utime(stale, (two_hours_ago, two_hours_ago))
    archive.store(RAW + b"\r\nanother", RECEIVED, durable=False)
    assert stale.exists()  # nothing is removed until the group is synced
    archive.sync()
    assert not stale.exists() and fresh.exists()  # a write in progress elsewhere is left alone
    assert (tmp_path / first.path).read_bytes() == RAW


def test_a_file_being_written_is_left_alone_when_this_process_s_clock_runs_ahead_of_the_filesystem_s(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Leftovers are aged by the filesystem's clock: on a share whose server is hours behind this
    machine, a file another process is writing right now must not look like a crash's leftover."""
    archive = Archive(tmp_path)
    folder = (tmp_path / archive.store(RAW, RECEIVED).path).parent
    fresh = folder / ".incoming-being-written.tmp"
    fresh.write_bytes(RAW[:10])
    ahead = time.time() + 2 * 86400
    monkeypatch.setattr(archive_module.time, "time", lambda: ahead)
    archive.store(RAW + b"\r\nanother", RECEIVED, durable=False)
    archive.sync()
    assert fresh.exists()
