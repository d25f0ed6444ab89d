"""Outages recorded where they outlive the process, and told to the director by mail.

The daemon and `inboxbot run --once` (from a timer) both report here whether reading the mailbox and
sending worked; the record is in the database (the runtime table), so an outage that spans restarts,
or a timer's separate runs, is one outage with its true start. See `domain.outages` for what is told.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from inboxbot.bootstrap import App
from inboxbot.domain.outages import CAUSE_CHARS, READING, SENDING, Outage, duration_fr, to_tell, worth_telling
from inboxbot.domain.vocabulary import OutagePart
from inboxbot.outgoing.letters import Letters
from inboxbot.store.overview import Meanwhile, meanwhile
from inboxbot.store.repository import Unit

log = logging.getLogger(__name__)

TEMPLATE = "outage_notice"
# Ended outages are kept this long for the digest (a digest skipped over a long weekend still says
# so), then forgotten: the log keeps them.
KEPT = timedelta(days=14)


@dataclass(frozen=True)
class OutageView:
    """One outage as the alert mail and the digest word it."""

    label: str  # « la lecture de votre boîte aux lettres »
    since: datetime
    until: datetime | None
    duration: str  # « 2 h 30 »
    cause: str
    meanwhile: str  # what was done meanwhile, in a sentence


class OutageBook:
    """Whether reading and sending work, as the database remembers it across runs."""

    def __init__(self, app: App) -> None:
        self.app = app

    @property
    def after(self) -> timedelta:
        return timedelta(minutes=self.app.settings.director.outage_alert_minutes)

    def failed(self, part: OutagePart, cause: str, now: datetime) -> None:
        """`part` failed at `now`: an outage starts, or goes on with this as its latest cause."""
        self._best_effort(lambda unit: self._failed(unit, part, cause[:CAUSE_CHARS], now))

    def worked(self, part: OutagePart, now: datetime) -> None:
        """`part` worked at `now`: its outage, if any, ends; kept for her if it lasted, else forgotten."""
        self._best_effort(lambda unit: self._worked(unit, part, now))

    def tell(self, unit: Unit, letters: Letters, now: datetime) -> bool:
        """Queue her alert about the outages due to be told; whether one was queued."""
        due = to_tell(unit.outages(), now, self.after)
        if not due or not self.app.settings.director.notify:
            return False
        views = [self.view(unit, outage, now) for outage in due]
        letters.to_director(unit, TEMPLATE, now, outages=views, after=duration_fr(self.after))
        for outage in due:
            unit.save_outage(replace(outage, alerted=True))
        log.info("the director is told of %d outage(s) by mail", len(due))
        return True

    def in_digest(self, unit: Unit, since: datetime, now: datetime) -> list[OutageView]:
        """The outages the digest mentions: those going on, and those that ended since the last one,
        that lasted long enough to matter."""
        return [
            self.view(unit, outage, now)
            for outage in unit.outages()
            if worth_telling(outage, now, self.after) and (outage.until is None or outage.until >= since)
        ]

    def view(self, unit: Unit, outage: Outage, now: datetime) -> OutageView:
        done = meanwhile(unit, outage.since, outage.until or now)
        return OutageView(
            label=outage.label,
            since=outage.since,
            until=outage.until,
            duration=duration_fr(outage.lasted(now)),
            cause=outage.cause,
            meanwhile=_meanwhile(outage, done),
        )

    def _failed(self, unit: Unit, part: OutagePart, cause: str, now: datetime) -> None:
        current = _ongoing(unit, part)
        unit.save_outage(replace(current, cause=cause) if current else Outage(part, now.replace(microsecond=0), cause))

    def _worked(self, unit: Unit, part: OutagePart, now: datetime) -> None:
        for outage in unit.outages():
            if outage.until is not None and now - outage.until > KEPT:
                unit.drop_outage(outage)
        current = _ongoing(unit, part)
        if current is None:
            return
        ended = replace(current, until=now)
        if worth_telling(ended, now, self.after):
            unit.save_outage(ended)
            log.warning("%s works again after %s", part, duration_fr(ended.lasted(now)))
        else:
            unit.drop_outage(current)

    def _best_effort(self, job: Callable[[Unit], None]) -> None:
        """The database may itself be what is failing: the outage is then only in the log."""
        try:
            with self.app.store.unit() as unit:
                job(unit)
        except SQLAlchemyError:
            log.debug("could not record the outage in the database", exc_info=True)


def _ongoing(unit: Unit, part: OutagePart) -> Outage | None:
    return next((o for o in unit.outages() if o.part == part and o.until is None), None)


def _meanwhile(outage: Outage, done: Meanwhile) -> str:
    """What was done while it lasted, in her words: nothing was lost, and what it cost."""
    if outage.part == READING:
        if outage.until is None:
            head = "les messages qui arrivent attendent sur votre serveur et seront lus dès qu'il répondra"
        else:
            head = (
                "les messages arrivés entre-temps ont attendu sur votre serveur : "
                f"{_mails(done.read_after, 'lu')} depuis"
            )
        return f"{head[:1].upper()}{head[1:]} ; envois faits pendant ce temps : {_mails(done.sent, 'envoyé')}."
    if outage.part == SENDING:
        return (
            f"Les messages à envoyer ont attendu sans être perdus : {_mails(done.sent_after, 'envoyé')} "
            f"au rétablissement ; lecture de la boîte pendant ce temps : {_mails(done.read, 'lu')}."
        )
    return ""


def _mails(number: int, participle: str) -> str:
    """« aucun message lu », « 1 message envoyé », « 3 messages lus »."""
    if number == 0:
        return f"aucun message {participle}"
    plural = "s" if number > 1 else ""
    return f"{number} message{plural} {participle}{plural}"
