"""Python's cyclic garbage collector, paused while the program starts.

Start-up makes a few hundred thousand objects that live as long as the process (modules, classes,
the database models, the settings). The collector's passes over them, while they are made and at
the first collection after, free nothing: about a tenth of a short command's time. The program's
entry pauses collection; opening the register (`Store.open`, the last step of every start that
reads or writes it) ends the pause, moving what start-up made out of the collector's sight
(`gc.freeze`), so that whatever runs afterwards (a daemon's life, a first ingest, an export) is
collected as usual, without going over it again; so does the program's end, for the commands that
open no register (`check`, `init`, `auth`). Only a pause made here is ended here:
code that calls `main` in its own process (the tests) or disabled the collector itself is left alone.
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
        gc.freeze()
        gc.enable()
