"""Run the tests with the whole process tree's clock shifted to a chosen Paris time (issue 13).

    python3 bench/shifted_clock.py [--at "2026-12-07 10:00" | --next-monday 10:00] [pytest arguments]

No test may depend on the day or the hour: the suite must pass on a working morning, at a weekend,
at 23:59 and on the eve of a public holiday. This runs pytest with libfaketime preloaded, so that
pytest, the inboxbot commands the tests start and the test Dovecot (which imports the variables)
all read the same shifted wall clock; the clock still runs, so a run started at 23:59 crosses
midnight.

Why these settings and not Debian's `faketime` command: Debian 12's libfaketime (0.9.10) also fakes
the monotonic clock, and Python 3.11 waits with a timeout (`Condition.wait`, a queue's `get`, a
thread's `join`) by handing a monotonic deadline to the C library's `sem_clockwait`, which
libfaketime does not intercept: the kernel compares the shifted deadline with the real clock, so the
wait lasts as long as the shift (days). That hangs the daemon's scheduler and the SMTP sink's
`wait_for`. Leaving the monotonic clock real (FAKETIME_DONT_FAKE_MONOTONIC) fixes the wait, but the
same library's `clock_nanosleep` still shifts an absolute monotonic deadline, so `time.sleep` fails
with EINVAL. So this builds the library from the source the PyPI package `libfaketime` (a test
dependency) ships, without its sleep and thread wrappers (a few seconds with the C compiler): the wall
clock and the files' dates move, sleeps and timed waits run on the real monotonic clock. The shift is
a fixed offset rather than a start time ("@..."), so a process started ten minutes into the run is ten
minutes later too.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")


def source() -> Path:
    """libfaketime's C source, as the PyPI package `libfaketime` ships it (not imported: it needs pytz)."""
    spec = importlib.util.find_spec("libfaketime")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("the PyPI package libfaketime is missing: pip install -c constraints.txt -e '.[test]'")
    path = Path(next(iter(spec.submodule_search_locations))) / "vendor" / "libfaketime" / "src"
    if not (path / "libfaketime.c").is_file():
        raise SystemExit(f"libfaketime's source is missing from its package: {path}")
    return path


def build(folder: Path) -> Path:
    """The preload library, built without its sleep and thread wrappers, where the test servers can load it.

    Dovecot's processes drop to unprivileged users, for whom an installation under a private home
    is out of reach (the loader then skips the preload with a warning and they run on the real
    clock), so the library is built in a folder anyone may read. The thread wrappers only translate
    deadlines between a shifted and a real clock, which the monotonic clock left real makes needless;
    with them headless Chromium (the audit file's tests) never finishes a page. The file-date wrappers
    stay, both ways: Dovecot dates a maildir message by its file's modification time, so a file written
    now must read as the shifted now (stat adds the shift), and a date a test gives (APPEND with an
    internal date, which Dovecot sets with utime) must read back as given (utime takes the shift off).
    Built with FAKE_UTIME, the library leaves the second off unless the variable FAKE_UTIME is set,
    which Dovecot would not pass on; FAKE_FILE_TIMESTAMPS alone has it on. Python is the other way
    round: its stat64 calls are not wrapped, so its files keep the kernel's dates, and FAKE_UTIME=0
    (see environment) keeps its utime unshifted too, or a date it gave would read back two days off.
    """
    folder.chmod(0o755)
    shutil.copytree(source(), folder / "src", ignore=shutil.ignore_patterns("*.so*", "*.o"))
    subprocess.run(
        [
            "make",
            "-s",
            "-C",
            str(folder / "src"),
            "libfaketime.so.1",
            "FAKETIME_COMPILE_CFLAGS=-UFAKE_SLEEP -UFAKE_PTHREAD -UFAKE_UTIME -DFAKE_FILE_TIMESTAMPS",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return folder / "src" / "libfaketime.so.1"


def next_monday(now: datetime, hour: int, minute: int) -> datetime:
    """The next Monday (today if it is one) at that Paris time: a working day whatever day CI runs."""
    today = now.astimezone(PARIS).date()
    monday = today + timedelta(days=(7 - today.weekday()) % 7)
    return datetime(monday.year, monday.month, monday.day, hour, minute, tzinfo=PARIS)


def environment(preload_library: Path, target: datetime, now: datetime) -> dict[str, str]:
    offset = round((target - now).total_seconds())
    env = dict(os.environ)
    preload = [str(preload_library), *filter(None, env.get("LD_PRELOAD", "").split(":"))]
    env.update(LD_PRELOAD=":".join(preload), FAKETIME=f"{offset:+d}", FAKETIME_DONT_FAKE_MONOTONIC="1")
    env["FAKE_UTIME"] = "0"  # for Python's own file dates (see build); Dovecot does not import it
    return env


def check(env: dict[str, str], target: datetime) -> None:
    """Refuse to run the tests on the real clock when the preload did not take."""
    seen = subprocess.run(
        [sys.executable, "-c", "import time; print(time.time())"], env=env, capture_output=True, text=True, check=True
    )
    drift = abs(float(seen.stdout) - target.timestamp())
    if drift > 60:
        raise SystemExit(f"the shifted clock is {drift:.0f} s away from {target}: libfaketime did not take")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--at", help='a Paris time, "YYYY-MM-DD HH:MM"')
    group.add_argument("--next-monday", metavar="HH:MM", help="that Paris time on the next Monday")
    args, pytest_args = parser.parse_known_args(argv)
    now = datetime.now(UTC)
    if args.at:
        target = datetime.strptime(args.at, "%Y-%m-%d %H:%M").replace(tzinfo=PARIS)
    else:
        hour, minute = (int(part) for part in args.next_monday.split(":"))
        target = next_monday(now, hour, minute)
    with tempfile.TemporaryDirectory(prefix="inboxbot-faketime-") as folder:
        env = environment(build(Path(folder)), target, now)
        check(env, target)
        print(f"tests under a shifted clock: {target:%A %Y-%m-%d %H:%M %Z} (FAKETIME={env['FAKETIME']})", flush=True)
        return subprocess.run([sys.executable, "-m", "pytest", *pytest_args], env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
