"""Holidays (the us-clinic calendar) and the site's own closures."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from tms_scheduler.domain.calendar import NO_HOLIDAYS, US_CLINIC

from .clinic import plan, site

YEAR_2027 = US_CLINIC.closed_dates(date(2027, 1, 1), date(2027, 12, 31))


@pytest.mark.parametrize("day, holiday", [
    (date(2027, 1, 1), "New Year's Day"),
    (date(2027, 5, 31), "Memorial Day"),
    (date(2027, 7, 5), "Independence Day, observed (4 July is a Sunday)"),
    (date(2027, 9, 6), "Labor Day"),
    (date(2027, 11, 25), "Thanksgiving"),
    (date(2027, 11, 26), "the day after Thanksgiving"),
    (date(2027, 12, 24), "Christmas, observed (25 December is a Saturday)"),
    (date(2027, 12, 31), "New Year's Day 2028, observed (1 January 2028 is a Saturday)"),
])
def test_us_clinic_calendar_closes_on_the_observed_holiday(day, holiday):
    assert day in YEAR_2027, holiday


def test_us_clinic_calendar_closes_on_exactly_seven_weekdays_in_2027_plus_new_year_2028_observed():
    weekday_closures = sorted(d for d in YEAR_2027 if d.isoweekday() <= 5)
    assert weekday_closures == [
        date(2027, 1, 1), date(2027, 5, 31), date(2027, 7, 5), date(2027, 9, 6),
        date(2027, 11, 25), date(2027, 11, 26), date(2027, 12, 24), date(2027, 12, 31),
    ]


@pytest.mark.parametrize("day, holiday", [
    (date(2027, 1, 18), "Martin Luther King Jr. Day"),
    (date(2027, 2, 15), "Washington's Birthday"),
    (date(2027, 6, 18), "Juneteenth, observed"),
    (date(2027, 10, 11), "Columbus Day"),
    (date(2027, 11, 11), "Veterans Day"),
])
def test_us_clinic_calendar_stays_open_on_other_federal_holidays(day, holiday):
    assert day not in YEAR_2027, holiday


def test_closed_dates_keep_only_the_asked_range():
    closed = US_CLINIC.closed_dates(date(2027, 11, 1), date(2027, 11, 30))
    assert closed == {date(2027, 11, 25), date(2027, 11, 26)}


def test_new_year_observed_in_december_belongs_to_the_year_it_falls_in():
    assert date(2027, 12, 31) not in US_CLINIC.closed_dates(date(2028, 1, 1), date(2028, 12, 31))
    assert date(2027, 12, 31) in US_CLINIC.closed_dates(date(2027, 12, 1), date(2028, 1, 31))


def test_the_none_calendar_closes_on_no_holiday():
    assert NO_HOLIDAYS.closed_dates(date(2027, 1, 1), date(2027, 12, 31)) == frozenset()


# --- courses around closures --------------------------------------------------------------------

THANKSGIVING_WEEK_MONDAY = date(2027, 11, 22)


def test_a_course_over_thanksgiving_week_skips_thursday_and_friday():
    days = {s.day for s in plan("tms-10hz-standard", date(2027, 11, 15))}
    assert date(2027, 11, 24) in days
    assert date(2027, 11, 25) not in days
    assert date(2027, 11, 26) not in days
    assert date(2027, 11, 29) in days


def test_a_course_over_thanksgiving_week_keeps_its_36_sessions():
    sessions = plan("tms-10hz-standard", date(2027, 11, 15))
    assert [s.number for s in sessions] == list(range(1, 37))


def test_a_course_over_thanksgiving_gives_its_daily_sessions_on_the_first_30_open_days():
    calendar = site()
    sessions = plan("tms-10hz-standard", date(2027, 11, 15), calendar=calendar)
    open_days = [date(2027, 11, 15) + timedelta(days=i) for i in range(60)]
    open_days = [d for d in open_days if calendar.is_open_on(d)]
    assert [s.day for s in sessions[:30]] == open_days[:30]


def test_a_course_over_christmas_and_new_year_skips_the_observed_fridays():
    days = {s.day for s in plan("itbs", date(2027, 12, 13))}
    assert date(2027, 12, 24) not in days
    assert date(2027, 12, 31) not in days
    assert len(days) == 30


def test_site_closures_are_skipped_and_the_session_count_kept():
    closures = frozenset({date(2027, 3, 10), date(2027, 3, 11)})
    sessions = plan("itbs", date(2027, 3, 8), calendar=site(closures=closures))
    days = [s.day for s in sessions]
    assert closures.isdisjoint(days)
    assert len(sessions) == 30
    assert days[:4] == [date(2027, 3, 8), date(2027, 3, 9), date(2027, 3, 12), date(2027, 3, 15)]


def test_the_site_is_closed_at_weekends_and_open_on_weekdays():
    calendar = site(holidays=False)
    assert [calendar.is_open_on(date(2027, 3, 1) + timedelta(days=i)) for i in range(7)] == [True] * 5 + [False] * 2
