"""accelerated-itbs: 50 sessions, 10 a day on 5 consecutive open days, 50 minutes apart."""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from tms_scheduler.domain.booking import check_start
from tms_scheduler.domain.errors import RuleViolation
from tms_scheduler.domain.makeups import CourseSession
from tms_scheduler.domain.planning import MAPPING, TREATMENT, at_time, fits_opening_hours, lay_out
from tms_scheduler.domain.protocols import Cadence, Phase
from tms_scheduler.domain.spacing import earliest_start, plan_problem, spacing_problem

from .clinic import (
    FALL_BACK,
    MON_TO_SAT,
    SPRING_FORWARD,
    around_the_clock,
    by_day,
    cadence,
    la,
    local,
    plan,
    real_gaps,
    site,
    weekdays_from,
)

MON = date(2027, 3, 1)
WED = date(2027, 3, 3)


def test_accelerated_itbs_has_50_sessions():
    assert [s.number for s in plan("accelerated-itbs", MON, time(8))] == list(range(1, 51))


def test_accelerated_itbs_gives_10_sessions_a_day_on_5_days():
    days = by_day(plan("accelerated-itbs", MON, time(8)))
    assert [len(v) for v in days.values()] == [10] * 5


def test_accelerated_itbs_started_on_a_monday_runs_monday_to_friday():
    days = sorted(by_day(plan("accelerated-itbs", MON, time(8))))
    assert days == [MON + timedelta(days=i) for i in range(5)]


def test_accelerated_itbs_started_on_a_wednesday_runs_on_the_next_5_consecutive_open_days():
    days = sorted(by_day(plan("accelerated-itbs", WED, time(8))))
    assert days == weekdays_from(WED, 5, site())  # Wed, Thu, Fri, Mon, Tue


def test_accelerated_itbs_over_thanksgiving_runs_on_the_next_5_consecutive_open_days():
    start = date(2027, 11, 22)
    days = sorted(by_day(plan("accelerated-itbs", start, time(8))))
    assert days == weekdays_from(start, 5, site())  # Mon, Tue, Wed, Mon 29, Tue 30


def test_accelerated_itbs_starts_each_session_at_least_50_minutes_after_the_previous_one_ends():
    for sessions in by_day(plan("accelerated-itbs", MON, time(8))).values():
        for previous, following in zip(sessions, sessions[1:]):
            assert following.starts_at - previous.ends_at >= timedelta(minutes=50)


def test_accelerated_itbs_packs_its_sessions_exactly_50_minutes_apart():
    first_day = by_day(plan("accelerated-itbs", MON, time(8)))[MON]
    gaps = {b.starts_at - a.ends_at for a, b in zip(first_day, first_day[1:])}
    assert gaps == {timedelta(minutes=50)}


def test_accelerated_itbs_first_session_of_each_day_starts_at_the_preferred_time():
    days = by_day(plan("accelerated-itbs", MON, time(8, 15)))
    assert {local(v[0].starts_at).time() for v in days.values()} == {time(8, 15)}


def test_accelerated_itbs_session_1_is_a_60_minute_mapping_slot_and_the_rest_15_minutes():
    sessions = plan("accelerated-itbs", MON, time(8))
    assert [(s.kind, (s.ends_at - s.starts_at) // timedelta(minutes=1)) for s in sessions] == (
        [(MAPPING, 60)] + [(TREATMENT, 15)] * 49
    )


def test_accelerated_itbs_only_the_very_first_session_is_a_mapping_slot():
    sessions = plan("accelerated-itbs", MON, time(8))
    assert [s.number for s in sessions if s.kind == MAPPING] == [1]


def test_accelerated_itbs_first_day_at_0815_ends_at_1900():
    first_day = by_day(plan("accelerated-itbs", MON, time(8, 15)))[MON]
    assert local(first_day[-1].ends_at).time() == time(19)


def test_accelerated_itbs_fits_opening_hours_0700_to_1900_when_started_at_0815():
    calendar = site()
    assert fits_opening_hours(lay_out(cadence("accelerated-itbs"), calendar, MON), calendar, time(8, 15))


def test_accelerated_itbs_does_not_fit_opening_hours_0700_to_1900_when_started_at_0830():
    calendar = site()
    assert not fits_opening_hours(lay_out(cadence("accelerated-itbs"), calendar, MON), calendar, time(8, 30))


def test_a_start_before_opening_does_not_fit_opening_hours():
    calendar = site()
    assert not fits_opening_hours(lay_out(cadence("itbs"), calendar, MON), calendar, time(6, 45))


def test_a_mapping_session_ending_exactly_at_closing_fits_opening_hours():
    calendar = site()
    slots = lay_out(cadence("tms-10hz-standard"), calendar, MON)
    assert fits_opening_hours(slots, calendar, time(18))
    assert not fits_opening_hours(slots, calendar, time(18, 15))


# --- consecutive open days, whatever the week ------------------------------------------------------

SIX_DAY_SITE = site(open_days=MON_TO_SAT)


def accelerated_days(start: date, calendar=SIX_DAY_SITE) -> list[date]:
    return sorted(by_day(plan("accelerated-itbs", start, time(8), calendar)))


def test_accelerated_itbs_started_on_a_monday_at_a_site_open_monday_to_saturday_runs_monday_to_friday():
    assert accelerated_days(MON) == [MON + timedelta(days=i) for i in range(5)]


def test_accelerated_itbs_started_on_a_wednesday_at_a_site_open_monday_to_saturday_runs_to_the_next_monday():
    assert accelerated_days(WED) == [WED, date(2027, 3, 4), date(2027, 3, 5), date(2027, 3, 6), date(2027, 3, 8)]


def test_accelerated_itbs_at_a_site_open_monday_to_saturday_skips_a_closure_to_the_next_open_day():
    closed_thursday = site(open_days=MON_TO_SAT, closures=frozenset({date(2027, 3, 4)}))
    tuesday = date(2027, 3, 2)
    assert accelerated_days(tuesday, closed_thursday) == [
        tuesday, WED, date(2027, 3, 5), date(2027, 3, 6), date(2027, 3, 8)]  # Tue Wed Fri Sat Mon


def test_a_phase_of_several_sessions_a_day_takes_consecutive_open_days_whatever_its_days_per_week():
    twice_a_week_on_paper = Cadence((Phase(20, 2),), mapping_minutes=60, session_minutes=15, sessions_per_day=10,
                                    min_gap_minutes=50)
    days = sorted({s.day for s in lay_out(twice_a_week_on_paper, site(), MON)})
    assert days == [MON, MON + timedelta(days=1)]


# --- real minutes across a daylight-saving night ------------------------------------------------------

ALWAYS = around_the_clock()  # every day 00:00-23:30 in Los Angeles


def night_of(day: date, at: time, calendar=ALWAYS):
    """The accelerated course started on `day` at `at`: the sessions of its first day."""
    return by_day(at_time(lay_out(cadence("accelerated-itbs"), calendar, day), calendar, at))[day]


def test_on_the_spring_forward_night_each_session_starts_at_least_50_real_minutes_after_the_previous_one_ends():
    assert min(real_gaps(night_of(SPRING_FORWARD, time(0)))) >= timedelta(minutes=50)


def test_on_the_spring_forward_night_sessions_are_packed_exactly_50_real_minutes_apart():
    assert set(real_gaps(night_of(SPRING_FORWARD, time(0)))) == {timedelta(minutes=50)}


def test_on_the_spring_forward_night_a_later_session_may_fall_on_the_hour_the_clock_skips():
    # From 00:30 the 2nd session is due at 02:20 PST, which the wall clock calls 03:20 PDT.
    second = night_of(SPRING_FORWARD, time(0, 30))[1]
    assert local(second.starts_at).time() == time(3, 20)


def test_on_the_spring_forward_night_the_first_session_starts_at_the_preferred_local_time():
    assert local(night_of(SPRING_FORWARD, time(0, 30))[0].starts_at).time() == time(0, 30)


def test_on_the_spring_forward_night_the_day_ends_an_hour_later_by_the_wall_clock():
    # 10 sessions from 00:00 take 10 h 45 min of real time: 10:45 PST is 11:45 PDT.
    assert local(night_of(SPRING_FORWARD, time(0))[-1].ends_at).time() == time(11, 45)


def test_on_the_fall_back_night_sessions_are_packed_exactly_50_real_minutes_apart():
    assert set(real_gaps(night_of(FALL_BACK, time(0)))) == {timedelta(minutes=50)}


def test_on_the_fall_back_night_the_day_ends_an_hour_earlier_by_the_wall_clock():
    assert local(night_of(FALL_BACK, time(0))[-1].ends_at).time() == time(9, 45)


def test_a_later_day_over_the_spring_forward_night_keeps_the_real_gaps_too():
    days = by_day(at_time(lay_out(cadence("accelerated-itbs"), ALWAYS, date(2027, 3, 12)), ALWAYS, time(0)))
    assert set(real_gaps(days[SPRING_FORWARD])) == {timedelta(minutes=50)}


# --- opening hours by the local clock ----------------------------------------------------------------

def slots_from(day: date, calendar):
    return lay_out(cadence("accelerated-itbs"), calendar, day)


def test_a_day_that_fits_by_arithmetic_but_not_by_the_clock_on_the_spring_forward_night_does_not_fit():
    # 00:00-11:00: on another day the first day ends at 10:45; on this night the clock says 11:45.
    until_eleven = around_the_clock(closes=time(11))
    assert fits_opening_hours(slots_from(date(2027, 3, 13), until_eleven), until_eleven, time(0))
    assert not fits_opening_hours(slots_from(SPRING_FORWARD, until_eleven), until_eleven, time(0))


def test_a_day_that_is_too_long_by_arithmetic_fits_on_the_fall_back_night():
    # 00:00-10:00: the first day needs 10 h 45 min, and the clock gives an hour back that night.
    until_ten = around_the_clock(closes=time(10))
    assert not fits_opening_hours(slots_from(date(2027, 11, 6), until_ten), until_ten, time(0))
    assert fits_opening_hours(slots_from(FALL_BACK, until_ten), until_ten, time(0))


def test_check_start_refuses_a_spring_forward_day_that_cannot_hold_its_sessions_with_the_reason():
    until_eleven = around_the_clock(closes=time(11))
    now = datetime(2027, 3, 1, tzinfo=UTC)
    with pytest.raises(RuleViolation) as refused:
        check_start(until_eleven, SPRING_FORWARD, time(0), slots_from(SPRING_FORWARD, until_eleven), now)
    assert "session 10 on 2027-03-14 would run from 11:30 to 11:45" in refused.value.errors["preferred_time"]


# --- spacing: the rules for one patient's sessions, for moves ----------------------------------------

DAY = date(2027, 3, 2)


def span(hour: int, minute: int = 0, minutes: int = 15) -> tuple[datetime, datetime]:
    start = la(DAY, hour, minute)
    return start, start + timedelta(minutes=minutes)


def problem(others, at: tuple[datetime, datetime], *, gap: int = 50, per_day: int = 10):
    return spacing_problem(others, *at, min_gap_minutes=gap, sessions_per_day=per_day,
                           day_of=lambda i: local(i).date())


def test_spacing_accepts_a_session_the_gap_after_another_ends():
    assert problem([span(9)], span(10, 5)) is None  # 09:15 + 50 minutes


def test_spacing_refuses_a_session_starting_within_the_gap_after_another_ends():
    assert "at least 50 minutes apart" in problem([span(9)], span(10))


def test_spacing_refuses_a_session_ending_within_the_gap_before_another_starts():
    assert "at least 50 minutes apart" in problem([span(11)], span(10))  # ends 10:15, next at 11:00


def test_spacing_accepts_a_session_ending_the_gap_before_another_starts():
    assert problem([span(11, 5)], span(10)) is None


def test_spacing_refuses_two_chairs_at_once_for_any_protocol():
    assert "two chairs at once" in problem([span(9, minutes=45)], span(9, 30), gap=0, per_day=1)


def test_spacing_refuses_a_day_already_holding_the_protocols_sessions_per_day():
    ten = [span(7 + h) for h in range(0, 10)]
    assert "the most the protocol gives in a day" in problem(ten[:2], span(20), per_day=2)


def test_spacing_for_one_session_a_day_refuses_a_second_session_that_day():
    assert "one treatment session a day" in problem([span(7)], span(15), gap=0, per_day=1)


def test_spacing_counts_the_day_in_the_sites_zone():
    # 17:00 in Los Angeles is already the next day in UTC: still the same local day as a 09:00 session.
    assert "one treatment session a day" in problem([span(9)], span(17), gap=0, per_day=1)


def test_spacing_keeps_the_gap_in_real_minutes_across_the_spring_forward_night():
    before = (la(SPRING_FORWARD, 1, 30), la(SPRING_FORWARD, 1, 45))  # PST
    # 03:00 PDT is only 15 real minutes after 01:45 PST.
    at_three = (la(SPRING_FORWARD, 3), la(SPRING_FORWARD, 3, 15))
    assert "at least 50 minutes apart" in spacing_problem(
        [before], *at_three, min_gap_minutes=50, sessions_per_day=10, day_of=lambda i: local(i).date())


def test_spacing_takes_course_sessions_as_well_as_pairs():
    other = CourseSession(1, 1, TREATMENT, "scheduled", DAY, *span(9), chair_id=1)
    assert "at least 50 minutes apart" in problem([other], span(10))


def test_earliest_start_is_the_gap_after_the_sessions_in_the_way():
    assert earliest_start([span(9), span(10, 5)], la(DAY, 9), 15, min_gap_minutes=50) == la(DAY, 11, 10)


def test_plan_problem_finds_two_sessions_closer_than_the_gap():
    found = plan_problem([span(9), span(10)], min_gap_minutes=50, sessions_per_day=10,
                         day_of=lambda i: local(i).date())
    assert "less than 50 minutes apart" in found
