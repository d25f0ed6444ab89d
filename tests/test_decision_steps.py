"""Every kind of decision `decide` can return has its step in the pipeline.

A new decision added to the domain without its step would fail on its first mail in production,
set aside as an internal error; this says so at once.
"""

from __future__ import annotations

from typing import get_args

from inboxbot.domain.decide import Decision
from inboxbot.procedure.applying import Applier


def test_every_decision_has_its_step() -> None:
    assert set(Applier.HANDLERS) == set(get_args(Decision))
