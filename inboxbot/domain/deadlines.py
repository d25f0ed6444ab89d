"""Deadlines of the procedure, in the organisation's calendar.

The acknowledgement is due within 15 *jours ouvrés* (Monday to Friday, minus French public holidays
and the organisation's own closures, such as a summer fortnight), the response within 30 calendar
days, both counted from the reception of the claim. Day 1 is the first working day after the day of
reception, in the organisation's time zone: a claim received on a Friday evening in Paris is received
on Friday, whatever the UTC date says.

A date promised to a claimant never falls on a weekend or a public holiday: « au plus tard le
dimanche 20 décembre » reads as a date nobody meant. It is brought back to the last such working day
before, so that the 30 days are kept rather than stretched.

Public holidays come from the maintained `holidays` package, never from a list kept here.
"""

from __future__ import annotations

from collections.abc import Container, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


class WorkingDayCalendar:
    """Which days are working days: Monday to Friday, minus public holidays and the organisation's closures.

    `closures` are inclusive ranges of days (first, last) the organisation is closed.
    """

    def __init__(self, public_holidays: Container[date], closures: Sequence[tuple[date, date]] = ()) -> None:
        self._holidays = public_holidays
        self._closures = tuple(closures)

    @classmethod
    def for_country(
        cls, country: str = "FR", subdivision: str | None = None, closures: Sequence[tuple[date, date]] = ()
    ) -> WorkingDayCalendar:
        """The calendar of `country` (ISO code), e.g. France's metropolitan public holidays."""
        return cls(_CountryHolidays(country, subdivision), closures)

    def is_business_day(self, day: date) -> bool:
        """A weekday that is not a public holiday: a day a date may be promised for."""
        return day.weekday() < 5 and day not in self._holidays

    def is_closed(self, day: date) -> bool:
        return any(first <= day <= last for first, last in self._closures)

    def is_working_day(self, day: date) -> bool:
        return self.is_business_day(day) and not self.is_closed(day)

    def business_day_on_or_before(self, day: date) -> date:
        """`day` itself if a date may be promised for it, else the last weekday before it that is no holiday."""
        while not self.is_business_day(day):
            day -= timedelta(days=1)
        return day

    def add_working_days(self, start: date, count: int) -> date:
        """The `count`-th working day after `start` (`start` itself never counts)."""
        day = start
        remaining = count
        while remaining > 0:
            day += timedelta(days=1)
            if self.is_working_day(day):
                remaining -= 1
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """How many working days lie after `start` up to and including `end`."""
        count = 0
        day = start
        while day < end:
            day += timedelta(days=1)
            if self.is_working_day(day):
                count += 1
        return count


class _CountryHolidays:
    """One country's public holidays, loaded at the first date looked up.

    Importing `holidays` and building a country's calendar is a tenth of a second; the commands
    that only read the register (`cases show`) never look a date up.
    """

    def __init__(self, country: str, subdivision: str | None) -> None:
        self._country, self._subdivision = country, subdivision
        self._days: Container[date] | None = None

    def __contains__(self, day: object) -> bool:
        if self._days is None:
            import holidays

            self._days = holidays.country_holidays(self._country, subdiv=self._subdivision)
        return day in self._days


@dataclass(frozen=True)
class DuePolicy:
    """The two deadlines of the procedure, computed from a reception instant."""

    calendar: WorkingDayCalendar
    timezone: ZoneInfo
    acknowledge_working_days: int = 15
    response_days: int = 30

    def local_day(self, instant: datetime) -> date:
        return instant.astimezone(self.timezone).date()

    def acknowledge_due(self, received_at: datetime) -> date:
        return self.calendar.add_working_days(self.local_day(received_at), self.acknowledge_working_days)

    def response_due(self, received_at: datetime) -> date:
        return self.promised(self.local_day(received_at) + timedelta(days=self.response_days))

    def promised(self, day: date) -> date:
        """The date to promise a claimant for something due on `day`: never a weekend or a holiday."""
        return self.calendar.business_day_on_or_before(day)


def local_midnight(instant: datetime, timezone: ZoneInfo) -> datetime:
    """The start of the organisation's day `instant` falls in: daily bounds are counted from it."""
    return datetime.combine(instant.astimezone(timezone).date(), time(0), timezone)
