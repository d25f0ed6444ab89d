"""The progress of a long first ingest, for a person watching it at a terminal."""

from __future__ import annotations

import time
from typing import TextIO


class TerminalProgress:
    """A progress line for a long first ingest, redrawn in place; only for a person at a terminal."""

    MINIMUM = 50  # below this many mails a cycle is over before a progress line helps

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.started = time.monotonic()

    def __call__(self, folder: str, done: int, total: int) -> None:
        if total < self.MINIMUM:
            return
        if done == 1:
            self.started = time.monotonic()
        rate = done / max(time.monotonic() - self.started, 1e-6)
        end = "\n" if done == total else ""
        self.stream.write(f"\r{folder}: {done}/{total} mails ({rate:.0f}/s){end}")
        self.stream.flush()
