"""The audit file's size and time against the size of the register (issue 17: under a minute at
10,000 cases, and proportional to the register).

    python3 bench/audit_site.py [--cases 2500 10000] [--keep DIR]

For each size: a fresh SQLite register seeded as bench/run.py seeds it (per case the claimant's mails,
the acknowledgement sent, history events, an action for one case in ten), every received mail
written to the archive (about 5 KB each) and one case in ten given a 200 KB attachment; then
`inboxbot register export --format html --output DIR --zip FILE`, run as a user runs it, timed
from process start, with its peak memory. Prints one line per size and the ratio between sizes.
"""

from __future__ import annotations

import argparse
import hashlib
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from run import DIRECTOR, PYTHON, seed_register  # noqa: E402

ATTACHMENT_BYTES = 200_000
MAIL_BYTES = 5_200


def _config(directory: Path, url: str) -> Path:
    path = directory / "config.toml"
    path.write_text(
        f"""
[organisation]
name = "Cafémétrie"
timezone = "Europe/Paris"
[imap]
host = "127.0.0.1"
port = 1
security = "plain"
username = "u"
password = "p"
[smtp]
host = "127.0.0.1"
port = 1
security = "plain"
from_address = "{DIRECTOR}"
[director]
addresses = ["{DIRECTOR}"]
[database]
url = "{url}"
[storage]
archive_dir = "archive"
""",
        encoding="utf-8",
    )
    return path


def _fill_archive(url: str, archive: Path) -> tuple[int, int]:
    """Write every received mail the register names, and give one case in ten an attachment."""
    from sqlalchemy import insert, select

    from inboxbot.store.models import AttachmentRow, MailRow
    from inboxbot.store.repository import Store

    store = Store.open(url)
    body = (b"Bonjour, je n'ai pas recu mon attestation. " * 200)[:MAIL_BYTES]
    attachment = hashlib.sha256(b"x").digest() * (ATTACHMENT_BYTES // 32)
    mails = attachments = 0
    rows = []
    with store.engine.begin() as connection:
        for mail_id, case_id, path in connection.execute(select(MailRow.id, MailRow.case_id, MailRow.archive_path)):
            target = archive / path
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists():
                target.write_bytes(b"Subject: test\r\n\r\n" + body)
                mails += 1
            if case_id % 10 == 0:
                relative = f"{path[:-4]}/01-convocation.pdf"
                (archive / relative).parent.mkdir(parents=True, exist_ok=True)
                (archive / relative).write_bytes(attachment)
                rows.append(
                    {
                        "mail_id": mail_id,
                        "filename": "convocation.pdf",
                        "content_type": "application/pdf",
                        "size": len(attachment),
                        "path": relative,
                    }
                )
                attachments += 1
        if rows:
            connection.execute(insert(AttachmentRow.__table__), rows)
    store.close()
    return mails, attachments


def _size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def measure(cases: int, base: Path) -> dict[str, float]:
    directory = base / f"n{cases}"
    directory.mkdir()
    url = f"sqlite:///{directory / 'inboxbot.db'}"
    config = _config(directory, url)
    seed_register(url, cases, cases * 5)
    mails, attachments = _fill_archive(url, directory / "archive")
    site, archive = directory / "site", directory / "site.zip"
    command = [PYTHON, "-m", "inboxbot", "--config", str(config), "register", "export", "--format", "html"]
    command += ["--output", str(site), "--zip", str(archive)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if completed.returncode != 0:
        raise SystemExit(completed.stderr)
    peak = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before) / 1024
    return {
        "cases": cases,
        "mails archived": mails,
        "attachments": attachments,
        "seconds": seconds,
        "site MB": _size(site) / 1e6,
        "zip MB": archive.stat().st_size / 1e6,
        "pages": sum(1 for _ in (site / "dossiers").glob("*.html")),
        "peak MB": peak,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, nargs="+", default=[2500, 10000])
    parser.add_argument("--keep", type=Path, help="keep the registers and sites here")
    args = parser.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="inboxbot-bench-site-"))
    base.mkdir(parents=True, exist_ok=True)
    try:
        results = [measure(n, base) for n in args.cases]
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)
    for row in results:
        print(
            f"{row['cases']:>6} cases ({row['mails archived']:.0f} mails archived, "
            f"{row['attachments']:.0f} attachments):"
            f" {row['seconds']:.1f} s, site {row['site MB']:.0f} MB ({row['pages']:.0f} case pages),"
            f" ZIP {row['zip MB']:.0f} MB, peak memory {row['peak MB']:.0f} MB"
        )
    if len(results) > 1:
        first, last = results[0], results[-1]
        print(
            f"x{last['cases'] / first['cases']:.0f} cases: time x{last['seconds'] / first['seconds']:.2f}, "
            f"site x{last['site MB'] / first['site MB']:.2f}"
        )


if __name__ == "__main__":
    main()
