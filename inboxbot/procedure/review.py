"""The procedure's yearly review: when it was last done.

Apart from the casework that records it (`#revue`) because the follow-up reads it every cycle to
remind the director when it is overdue, and an idle cycle carries out no command.
"""

from __future__ import annotations

from datetime import date

from inboxbot.config import Settings
from inboxbot.store.repository import Unit

PROCEDURE_REVIEW = "procedure_review"


def last_procedure_review(unit: Unit, settings: Settings) -> date | None:
    """The latest review of the procedure: recorded by #revue, or given in the config."""
    recorded = unit.runtime().get(PROCEDURE_REVIEW)
    dates = [d for d in (settings.organisation.procedure_reviewed, recorded and date.fromisoformat(recorded[0])) if d]
    return max(dates) if dates else None
