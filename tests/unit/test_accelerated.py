"""accelerated-itbs: 50 sessions, 10 a day on 5 consecutive open days, 50 minutes apart."""
from __future__ import annotations

from collections import defaultdict
from datetime import date, time, timedelta

from tms_scheduler.domain.planning import MAPPING, TREATMENT, fits_opening_hours, lay_out

from .clinic import cadence, local, plan, site, weekdays_from

MON = date(2027, 3, 1)
WED = date(2027, 3, 3)


def by_day(sessions):
    days = defaultdict(list)
    for s in sessions:
        days[s.day].append(s)
    return days


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
