"""Times the mailbox could not be read or mail could not be sent, and which of them she is told of.

A log line is no use to a director who never reads logs: an outage long enough to matter (two hours
by default, `director.outage_alert_minutes`) is told to her by one mail as soon as mail can be sent,
and the next digest says so too. A short one (a server restarting, a network blip) is retried
quietly and forgotten. Everything here takes `now` as a value: the decisions are tested without
waiting two hours.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from inboxbot.domain.vocabulary import OutagePart

READING = OutagePart.READING  # the mailbox could not be read (IMAP down, login refused, network)
SENDING = OutagePart.SENDING  # mail could not be sent (the SMTP server unreachable or refusing the login)
CAUSE_CHARS = 300  # a server's error as quoted to her: a line, not a traceback


@dataclass(frozen=True)
class Outage:
    """One outage of one part: since when, why (the last error seen), until when once it ended."""

    part: OutagePart
    since: datetime
    cause: str
    until: datetime | None = None
    alerted: bool = False  # her mail about it is queued

    @property
    def label(self) -> str:
        return self.part.label

    @property
    def ongoing(self) -> bool:
        return self.until is None

    def lasted(self, now: datetime) -> timedelta:
        return (self.until or now) - self.since


def worth_telling(outage: Outage, now: datetime, after: timedelta) -> bool:
    """Whether the outage lasted long enough for her to hear of it (the digest lists these)."""
    return outage.lasted(now) >= after


def to_tell(outages: Iterable[Outage], now: datetime, after: timedelta) -> list[Outage]:
    """The outages her alert mail is about now, oldest first; none while mail cannot be sent.

    An ended outage is told once it is over; the mailbox that cannot be read is told while it lasts,
    since mail can still be sent: waiting for its end could mean days of claims unacknowledged
    without her knowing. While sending is down nothing is told: the alert could not leave, and it
    would say less than the one written once sending works again.
    """
    outages = list(outages)
    if any(o.part == SENDING and o.ongoing for o in outages):
        return []
    due = [
        o for o in outages if not o.alerted and worth_telling(o, now, after) and (not o.ongoing or o.part == READING)
    ]
    return sorted(due, key=lambda o: o.since)


def duration_fr(length: timedelta) -> str:
    """A duration as she says it: « 2 h 30 », « 45 min », « 3 jours et 4 h »."""
    minutes = max(int(length.total_seconds() // 60), 0)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} jour{'s' if days > 1 else ''}" + (f" et {hours} h" if hours else "")
    if hours:
        return f"{hours} h {minutes:02d}" if minutes else f"{hours} h"
    return f"{minutes} min"
