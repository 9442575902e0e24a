"""Laying courses out in time by the demo protocols' cadences (DOMAIN.md, treatment protocols)."""
from __future__ import annotations

from datetime import date, time, timedelta

import pytest

from tms_scheduler.domain.errors import RuleViolation
from tms_scheduler.domain.planning import MAPPING, TAPER, TREATMENT, lay_out, spread

from .clinic import cadence, local, monday, plan, site, weekdays_from

MON = date(2027, 3, 1)  # a Monday; no us-clinic holiday until Memorial Day
WED = date(2027, 3, 3)


def minutes(s) -> int:
    return int((s.ends_at - s.starts_at).total_seconds() // 60)


def days_of(sessions) -> list[date]:
    return [s.day for s in sessions]


# --- tms-10hz-standard -------------------------------------------------------------

def test_standard_course_has_36_sessions_numbered_1_to_36():
    sessions = plan("tms-10hz-standard", MON)
    assert [s.number for s in sessions] == list(range(1, 37))


def test_standard_session_1_is_a_60_minute_mapping_session():
    first = plan("tms-10hz-standard", MON)[0]
    assert (first.number, first.kind, minutes(first)) == (1, MAPPING, 60)


def test_standard_sessions_2_to_30_are_45_minute_treatment_sessions():
    sessions = plan("tms-10hz-standard", MON)[1:30]
    assert [(s.kind, minutes(s)) for s in sessions] == [(TREATMENT, 45)] * 29


def test_standard_sessions_31_to_36_are_45_minute_taper_sessions():
    sessions = plan("tms-10hz-standard", MON)[30:]
    assert [s.number for s in sessions] == [31, 32, 33, 34, 35, 36]
    assert [(s.kind, minutes(s)) for s in sessions] == [(TAPER, 45)] * 6


def test_standard_daily_phase_gives_a_session_on_each_of_the_first_30_open_days():
    sessions = plan("tms-10hz-standard", MON)
    assert days_of(sessions[:30]) == weekdays_from(MON, 30, site())


def test_standard_daily_phase_of_a_monday_start_ends_on_the_friday_of_week_6():
    sessions = plan("tms-10hz-standard", MON)
    assert sessions[29].day == MON + timedelta(weeks=5, days=4)


def test_taper_starts_the_week_after_the_daily_phase_ends():
    sessions = plan("tms-10hz-standard", MON)
    assert monday(sessions[30].day) == monday(sessions[29].day) + timedelta(weeks=1)


def test_taper_gives_three_sessions_on_mon_wed_fri_then_two_on_tue_thu_then_one_on_wed():
    taper = plan("tms-10hz-standard", MON)[30:]
    week7 = MON + timedelta(weeks=6)
    assert days_of(taper) == [
        week7, week7 + timedelta(days=2), week7 + timedelta(days=4),  # Mon, Wed, Fri
        week7 + timedelta(days=8), week7 + timedelta(days=10),  # Tue, Thu
        week7 + timedelta(days=16),  # Wed
    ]


def test_no_two_sessions_of_a_daily_protocol_share_a_day():
    days = days_of(plan("tms-10hz-standard", MON))
    assert len(set(days)) == len(days)


def test_every_session_starts_at_the_preferred_local_time():
    sessions = plan("tms-10hz-standard", MON, time(13, 15))
    assert {local(s.starts_at).time() for s in sessions} == {time(13, 15)}


def test_every_session_starts_on_its_own_day_in_the_site_zone():
    sessions = plan("tms-10hz-standard", MON, time(18))  # 18:00 PST is 02:00 UTC the next day
    assert all(local(s.starts_at).date() == s.day for s in sessions)


# --- a start on a Wednesday ------------------------------------------------------------

def test_a_course_started_on_a_wednesday_begins_with_wed_thu_fri():
    sessions = plan("tms-10hz-standard", WED)
    assert days_of(sessions[:4]) == [WED, date(2027, 3, 4), date(2027, 3, 5), date(2027, 3, 8)]


def test_a_course_started_on_a_wednesday_still_has_36_sessions():
    assert len(plan("tms-10hz-standard", WED)) == 36


def test_a_course_started_on_a_wednesday_gives_its_30_daily_sessions_on_the_first_30_open_days():
    # "30 daily": the daily phase runs on consecutive open days, Wed 3 March to Tue 13 April.
    sessions = plan("tms-10hz-standard", WED)
    assert days_of(sessions[:30]) == weekdays_from(WED, 30, site())


def test_a_course_started_on_a_wednesday_tapers_from_the_week_after_its_daily_phase():
    sessions = plan("tms-10hz-standard", WED)
    assert monday(sessions[30].day) == monday(sessions[29].day) + timedelta(weeks=1)
    assert [d.isoweekday() for d in days_of(sessions[30:])] == [1, 3, 5, 2, 4, 3]


# --- deep-tms-h1 ---------------------------------------------------------------------------

def test_deep_tms_has_36_sessions_60_minutes_for_mapping_then_30():
    sessions = plan("deep-tms-h1", MON)
    assert len(sessions) == 36
    assert [minutes(s) for s in sessions] == [60] + [30] * 35


def test_deep_tms_gives_20_daily_sessions_on_the_first_20_open_days():
    sessions = plan("deep-tms-h1", MON)
    assert days_of(sessions[:20]) == weekdays_from(MON, 20, site())
    assert [s.kind for s in sessions[:20]] == [MAPPING] + [TREATMENT] * 19


def test_deep_tms_gives_its_last_16_sessions_twice_a_week_for_8_weeks_from_the_week_after():
    sessions = plan("deep-tms-h1", MON)
    tail = sessions[20:]
    assert [s.kind for s in tail] == [TAPER] * 16
    week5 = MON + timedelta(weeks=4)
    expected = [week5 + timedelta(weeks=w, days=d) for w in range(8) for d in (1, 3)]  # Tue, Thu
    assert days_of(tail) == expected


# --- itbs ----------------------------------------------------------------------------------

def test_itbs_has_30_daily_sessions_on_the_first_30_open_days():
    sessions = plan("itbs", MON)
    assert days_of(sessions) == weekdays_from(MON, 30, site())


def test_itbs_is_60_minutes_for_mapping_then_15_and_has_no_taper():
    sessions = plan("itbs", MON)
    assert [(s.kind, minutes(s)) for s in sessions] == [(MAPPING, 60)] + [(TREATMENT, 15)] * 29


# --- lay_out limits ----------------------------------------------------------------------

def test_a_site_open_on_no_weekday_cannot_lay_out_a_course():
    with pytest.raises(RuleViolation):
        lay_out(cadence("itbs"), site(open_days=()), MON)


def test_a_site_open_too_rarely_is_refused_rather_than_searched_forever():
    every_day = {date(2027, 1, 1) + timedelta(days=i) for i in range(3 * 366)}
    only_one_day_open = frozenset(every_day - {MON})
    with pytest.raises(RuleViolation):
        lay_out(cadence("itbs"), site(closures=only_one_day_open, holidays=False), MON)


# --- spread -----------------------------------------------------------------------------------

WEEK = [MON + timedelta(days=i) for i in range(5)]  # Mon..Fri


def test_spread_picks_mon_wed_fri_for_three_of_five_days():
    assert spread(WEEK, 3) == [WEEK[0], WEEK[2], WEEK[4]]


def test_spread_picks_tue_thu_for_two_of_five_days():
    assert spread(WEEK, 2) == [WEEK[1], WEEK[3]]


def test_spread_picks_wednesday_for_one_of_five_days():
    assert spread(WEEK, 1) == [WEEK[2]]


def test_spread_keeps_every_day_when_asked_for_as_many_or_more_days_than_there_are():
    assert spread(WEEK, 5) == WEEK
    assert spread(WEEK[:3], 5) == WEEK[:3]


def test_spread_picks_days_in_order_without_repeats():
    for count in range(1, 5):
        picked = spread(WEEK, count)
        assert len(picked) == count
        assert picked == sorted(set(picked))
