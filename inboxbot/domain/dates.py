"""Days as people write them in a mail: `03/12/2026`, `3/12`, `2026-12-03`, `3 décembre`, `hier`.

The director dates what she did otherwise (a letter posted, a call made, a claim received on paper)
in the words she would use with a colleague, often without the year. A date she records is always
one that has passed: a year left out is the one that puts the day on or before the mail she writes
(« 28/12 » written on 5 January is last December), and a day after her mail is refused rather than
read, because a register may not say that something was done before it was.

Pure: the reference day is given by the caller (the day of her mail), never read from a clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, time, timedelta

from inboxbot.domain.text import after_folded, fold

__all__ = ["WrittenDay", "leading_day", "read_day"]

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("janvier", "janv", "january", "jan"),
            ("fevrier", "fevr", "fev", "february", "feb"),
            ("mars", "march", "mar"),
            ("avril", "avr", "april", "apr"),
            ("mai", "may"),
            ("juin", "june", "jun"),
            ("juillet", "juil", "july", "jul"),
            ("aout", "august", "aug"),
            ("septembre", "sept", "september", "sep"),
            ("octobre", "oct", "october"),
            ("novembre", "nov", "november"),
            ("decembre", "dec", "december"),
        ),
        start=1,
    )
    for name in names
}
_LEAD = r"(?:(?:le|du|on)\s+)?"
_ISO = re.compile(_LEAD + r"(\d{4})-(\d{1,2})-(\d{1,2})(?![\d/.-])")
_NUMERIC = re.compile(_LEAD + r"(\d{1,2})[/.](\d{1,2})(?:[/.](\d{4}|\d{2}))?(?![\d/.])")
_DASHED = re.compile(_LEAD + r"(\d{1,2})-(\d{1,2})-(\d{4}|\d{2})(?![\d/.-])")
_WORDY = re.compile(_LEAD + r"(\d{1,2})(?:er)?\s+([a-z]+)\.?(?:\s+(\d{4}))?(?![\d\w])")
_RELATIVE = re.compile(r"(aujourd'hui|aujourdhui|today|avant-hier|hier|yesterday)(?![\w-])")
_TIME = re.compile(r"\s*(?:a\s+|at\s+)?(\d{1,2})\s*[:h]\s*(\d{2})?(?!\d)")
_RELATIVE_DAYS = {"aujourd'hui": 0, "aujourdhui": 0, "today": 0, "hier": 1, "yesterday": 1, "avant-hier": 2}


@dataclass(frozen=True)
class WrittenDay:
    """A day as written: the year may be missing, or the day given relative to the mail (`hier`)."""

    day: int = 0
    month: int = 0
    year: int | None = None
    days_before: int | None = None  # "hier" is 1: counted back from the reference day
    at: time | None = None  # a time of day, when one followed ("3/12 14h30")

    def past(self, reference: date) -> date | None:
        """The day meant, on or before `reference`; None when it is after it or does not exist."""
        if self.days_before is not None:
            return reference - timedelta(days=self.days_before)
        years = (self.year,) if self.year is not None else (reference.year, reference.year - 1)
        for year in years:
            try:
                day = date(year, self.month, self.day)
            except ValueError:  # 29 February of a common year
                continue
            if day <= reference:
                return day
        return None

    def coming(self, reference: date) -> date | None:
        """The day meant, on or after `reference` (a date promised, not one recorded): a year left out
        is the one that puts it on or after `reference`; None when it is before it or does not exist."""
        if self.days_before is not None:
            return reference if self.days_before == 0 else None
        years = (self.year,) if self.year is not None else (reference.year, reference.year + 1)
        for year in years:
            try:
                day = date(year, self.month, self.day)
            except ValueError:
                continue
            if day >= reference:
                return day
        return None


def _valid(day: int, month: int, year: int | None) -> bool:
    try:
        date(year if year is not None else 2000, month, day)  # 2000 is a leap year: 29/02 may exist
    except ValueError:
        return False
    return True


def leading_day(text: str) -> tuple[WrittenDay, str] | None:
    """The day written at the start of `text` and what follows it, or None when it does not start with one.

    Matched on the folded text (accents, case); the rest is returned as written.
    """
    stripped = text.lstrip()
    folded = fold(stripped).replace("’", "'")
    written: WrittenDay | None = None
    end = 0
    if match := _RELATIVE.match(folded):
        written, end = WrittenDay(days_before=_RELATIVE_DAYS[match.group(1)]), match.end()
    elif match := _ISO.match(folded):
        year, month, day = (int(group) for group in match.groups())
        written, end = WrittenDay(day, month, year), match.end()
    elif match := _NUMERIC.match(folded):
        short = int(match.group(3)) if match.group(3) else None
        full = short + 2000 if short is not None and short < 100 else short
        written, end = WrittenDay(int(match.group(1)), int(match.group(2)), full), match.end()
    elif match := _DASHED.match(folded):
        day, month, year = (int(group) for group in match.groups())
        written, end = WrittenDay(day, month, year + 2000 if year < 100 else year), match.end()
    elif (match := _WORDY.match(folded)) and match.group(2) in _MONTHS:
        given = int(match.group(3)) if match.group(3) else None
        written, end = WrittenDay(int(match.group(1)), _MONTHS[match.group(2)], given), match.end()
    if written is None:
        return None
    if written.days_before is None and not _valid(written.day, written.month, written.year):
        return None
    if (clock := _TIME.match(folded, end)) is not None:
        hour, minute = int(clock.group(1)), int(clock.group(2) or 0)
        if hour < 24 and minute < 60:
            written = WrittenDay(written.day, written.month, written.year, written.days_before, time(hour, minute))
            end = clock.end()
    return written, after_folded(stripped, end).lstrip(" \t,;:.–—-")


def read_day(text: str) -> WrittenDay | None:
    """`text` read as one day and nothing else (a trailing period allowed)."""
    found = leading_day(text.strip().rstrip(".").strip())
    return found[0] if found is not None and not found[1] else None
