"""Python's cyclic garbage collector, paused while the program starts.

Start-up makes a few hundred thousand objects that live as long as the process (modules, classes,
the database models, the settings); the collector's passes over them while they are made free
nothing, and cost about a tenth of a short command's time. The command line pauses collection at
its start; building the program (`bootstrap.build`) resumes it, so that whatever runs afterwards (a
daemon's life, a first ingest, an export) is collected as usual; so does the command's end, for
those that build nothing. Only a pause made here is resumed here: a caller that disabled the
collector itself keeps it disabled.
"""

from __future__ import annotations

import gc

_paused = False


def pause() -> None:
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def resume() -> None:
    global _paused
    if _paused:
        _paused = False
        gc.enable()
