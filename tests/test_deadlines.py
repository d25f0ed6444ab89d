"""Deadlines in French working days, counted in the organisation's time zone."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from inboxbot.domain.deadlines import DuePolicy, WorkingDayCalendar

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture(scope="module")
def policy() -> DuePolicy:
    return DuePolicy(WorkingDayCalendar.for_country("FR"), PARIS)


def test_claim_before_christmas_counts_across_christmas_and_new_year(policy: DuePolicy) -> None:
    # Friday 18 December 2026, 17:00 in Paris. Working days after it: 21-24 Dec (4), not the 25th,
    # 28-31 Dec (8), not 1 January, then 4-8 Jan (13), 11 and 12 Jan (15).
    received = datetime(2026, 12, 18, 17, 0, tzinfo=PARIS)
    assert policy.acknowledge_due(received) == date(2027, 1, 12)
    # 30 days is Sunday 17 January: the date promised is the Friday before, so the 30 days are kept.
    assert policy.response_due(received) == date(2027, 1, 15)


def test_reception_day_is_taken_in_paris_not_utc(policy: DuePolicy) -> None:
    # 23:30 UTC on Sunday 6 December is already Monday 7 December in Paris.
    received = datetime(2026, 12, 6, 23, 30, tzinfo=UTC)
    assert policy.local_day(received) == date(2026, 12, 7)
    # Day 1 is Tuesday 8th: 8-11 (4), 14-18 (9), 21-24 (13), Christmas skipped, 28 (14), 29 (15).
    # Counted from the UTC date (Sunday 6th) it would have been the 28th.
    assert policy.acknowledge_due(received) == date(2026, 12, 29)


def test_may_holidays_are_skipped(policy: DuePolicy) -> None:
    calendar = policy.calendar
    # 1 May, 8 May (Fridays in 2026) and Ascension Thursday 14 May 2026 are public holidays.
    for holiday in (date(2026, 5, 1), date(2026, 5, 8), date(2026, 5, 14), date(2026, 5, 25)):
        assert not calendar.is_working_day(holiday)
    assert calendar.add_working_days(date(2026, 4, 30), 1) == date(2026, 5, 4)
    assert calendar.working_days_between(date(2026, 4, 30), date(2026, 5, 15)) == 8


def test_weekend_reception_starts_counting_on_monday(policy: DuePolicy) -> None:
    saturday = datetime(2026, 10, 3, 10, 0, tzinfo=PARIS)
    assert policy.calendar.add_working_days(policy.local_day(saturday), 1) == date(2026, 10, 5)


def test_numbers_come_from_the_settings() -> None:
    policy = DuePolicy(WorkingDayCalendar.for_country("FR"), PARIS, acknowledge_working_days=2, response_days=10)
    received = datetime(2026, 10, 1, 9, 0, tzinfo=PARIS)  # a Thursday
    assert policy.acknowledge_due(received) == date(2026, 10, 5)
    assert policy.response_due(received) == date(2026, 10, 9)  # the 11th is a Sunday


def test_a_given_holiday_list_is_honoured() -> None:
    calendar = WorkingDayCalendar({date(2026, 10, 5)})
    assert calendar.add_working_days(date(2026, 10, 2), 1) == date(2026, 10, 6)


def test_a_response_date_promised_to_a_claimant_is_never_a_weekend_or_a_public_holiday(policy: DuePolicy) -> None:
    # Received Monday 12 October 2026: 30 days is Wednesday 11 November, Armistice day.
    assert policy.response_due(datetime(2026, 10, 12, 9, 0, tzinfo=PARIS)) == date(2026, 11, 10)
    # Received Thursday 26 November: 30 days is Saturday 26 December, after Christmas Friday.
    assert policy.response_due(datetime(2026, 11, 26, 9, 0, tzinfo=PARIS)) == date(2026, 12, 24)
    assert policy.promised(date(2026, 12, 3)) == date(2026, 12, 3)  # a working day stays


def test_the_organisations_closures_are_not_working_days_but_do_not_move_a_promised_date() -> None:
    summer = (date(2026, 8, 3), date(2026, 8, 14))
    calendar = WorkingDayCalendar.for_country("FR", closures=[summer])
    policy = DuePolicy(calendar, PARIS)
    received = datetime(2026, 7, 31, 10, 0, tzinfo=PARIS)  # Friday before the closure
    # Day 1 is Monday 17 August (15 August is a Saturday holiday): 17-21 (5), 24-28 (10), 31 Aug-4 Sep (15).
    assert policy.acknowledge_due(received) == date(2026, 9, 4)
    assert DuePolicy(WorkingDayCalendar.for_country("FR"), PARIS).acknowledge_due(received) == date(2026, 8, 21)
    assert not calendar.is_working_day(date(2026, 8, 5)) and calendar.is_business_day(date(2026, 8, 5))
    assert policy.response_due(received) == date(2026, 8, 28)  # 30 days: a Sunday 30th, brought to Friday
