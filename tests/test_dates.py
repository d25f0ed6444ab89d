"""Days as the director writes them in a command: read, and never put after the mail that gives them."""

from __future__ import annotations

from datetime import date, time

import pytest

from inboxbot.domain.dates import WrittenDay, leading_day, read_day

# Her mail is written on Tuesday 5 January 2027: "3/12" is last December.
MAIL_DAY = date(2027, 1, 5)


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ("03/12/2026", date(2026, 12, 3)),
        ("3/12", date(2026, 12, 3)),
        ("2026-12-03", date(2026, 12, 3)),
        ("3.12.26", date(2026, 12, 3)),
        ("03-12-2026", date(2026, 12, 3)),
        ("3 décembre", date(2026, 12, 3)),
        ("le 3 déc. 2026", date(2026, 12, 3)),
        ("1er janvier", date(2027, 1, 1)),
        ("5/1", MAIL_DAY),
        ("hier", date(2027, 1, 4)),
        ("aujourd’hui", MAIL_DAY),
    ],
)
def test_a_day_is_read_as_people_write_it_and_a_missing_year_is_the_last_one_that_has_passed(
    written: str, meant: date
) -> None:
    day = read_day(written)
    assert day is not None, written
    assert day.past(MAIL_DAY) == meant


@pytest.mark.parametrize("written", ["06/01/2027", "2027-12-03", "demain", "31/02", "45/12", "2026-0001", "3 truc"])
def test_a_day_after_the_mail_or_that_does_not_exist_is_never_taken(written: str) -> None:
    day = read_day(written)
    assert day is None or day.past(MAIL_DAY) is None, written


def test_29_february_without_a_year_is_the_last_one_there_was() -> None:
    day = read_day("29/02")
    assert day is not None
    assert day.past(date(2029, 3, 1)) == date(2028, 2, 29)
    assert day.past(date(2027, 3, 1)) is None  # 2027 and 2026 have none: refused rather than moved


def test_the_words_after_a_day_and_a_time_of_day_are_kept_apart() -> None:
    assert leading_day("3/12 14h30 reçue au secrétariat") == (
        WrittenDay(3, 12, None, at=time(14, 30)),
        "reçue au secrétariat",
    )
    assert leading_day("2026-12-03, courrier recommandé") == (WrittenDay(3, 12, 2026), "courrier recommandé")
    assert leading_day("courrier 3/12") is None
