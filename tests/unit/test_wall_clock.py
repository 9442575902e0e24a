"""The same local wall-clock time every day, also across daylight-saving changes (America/Los_Angeles)."""
from __future__ import annotations

from datetime import date, time, timedelta

import pytest

from tms_scheduler.domain.calendar import NonexistentLocalTime, local_instant
from tms_scheduler.domain.errors import RuleViolation
from tms_scheduler.domain.planning import at_time, lay_out

from .clinic import LA, cadence, local, plan, site

SPRING_FORWARD = date(2027, 3, 14)  # Sunday: 02:00 PST becomes 03:00 PDT
FALL_BACK = date(2027, 11, 7)  # Sunday: 02:00 PDT becomes 01:00 PST


def offset_hours(instant) -> float:
    return local(instant).utcoffset().total_seconds() / 3600


def around(sessions, day: date):
    before = [s for s in sessions if s.day < day]
    after = [s for s in sessions if s.day > day]
    assert before and after
    return before, after


def test_sessions_keep_their_local_time_across_the_spring_forward_week():
    sessions = plan("tms-10hz-standard", date(2027, 3, 1), time(9, 30))
    before, after = around(sessions, SPRING_FORWARD)
    assert {local(s.starts_at).strftime("%H:%M") for s in before + after} == {"09:30"}


def test_the_utc_offset_goes_from_minus_8_to_minus_7_after_spring_forward():
    sessions = plan("tms-10hz-standard", date(2027, 3, 1), time(9, 30))
    before, after = around(sessions, SPRING_FORWARD)
    assert {offset_hours(s.starts_at) for s in before} == {-8}
    assert {offset_hours(s.starts_at) for s in after} == {-7}
    assert before[-1].starts_at.astimezone(LA).hour == after[0].starts_at.astimezone(LA).hour
    assert (after[0].starts_at - before[-1].starts_at) == timedelta(days=3, hours=-1)  # Fri -> Mon


def test_sessions_keep_their_local_time_across_the_fall_back_week():
    sessions = plan("tms-10hz-standard", date(2027, 10, 25), time(9, 30))
    before, after = around(sessions, FALL_BACK)
    assert {local(s.starts_at).strftime("%H:%M") for s in before + after} == {"09:30"}


def test_the_utc_offset_goes_from_minus_7_to_minus_8_after_fall_back():
    sessions = plan("tms-10hz-standard", date(2027, 10, 25), time(9, 30))
    before, after = around(sessions, FALL_BACK)
    assert {offset_hours(s.starts_at) for s in before} == {-7}
    assert {offset_hours(s.starts_at) for s in after} == {-8}
    assert (after[0].starts_at - before[-1].starts_at) == timedelta(days=3, hours=1)  # Fri -> Mon


def test_session_lengths_stay_the_same_across_a_dst_change():
    sessions = plan("tms-10hz-standard", date(2027, 3, 1), time(9, 30))
    assert {s.ends_at - s.starts_at for s in sessions[1:]} == {timedelta(minutes=45)}


def test_instants_are_in_utc():
    sessions = plan("itbs", date(2027, 3, 1), time(9))
    assert {s.starts_at.utcoffset() for s in sessions} == {timedelta(0)}


# --- a local time the clock skips -------------------------------------------------------------

def test_local_instant_refuses_0230_on_the_spring_forward_day():
    with pytest.raises(NonexistentLocalTime):
        local_instant(SPRING_FORWARD, time(2, 30), LA)


def test_local_instant_accepts_0330_on_the_spring_forward_day():
    assert local_instant(SPRING_FORWARD, time(3, 30), LA).astimezone(LA).time() == time(3, 30)


def test_a_course_at_0230_starting_on_the_spring_forward_day_is_refused():
    always_open = site(open_days=range(1, 8), opens=time(0), closes=time(23, 59), holidays=False)
    slots = lay_out(cadence("itbs"), always_open, SPRING_FORWARD)
    with pytest.raises(RuleViolation) as refused:
        at_time(slots, always_open, time(2, 30))
    assert "preferred_time" in refused.value.errors


def test_a_course_at_0230_whose_later_day_is_the_spring_forward_day_is_refused():
    always_open = site(open_days=range(1, 8), opens=time(0), closes=time(23, 59), holidays=False)
    slots = lay_out(cadence("itbs"), always_open, date(2027, 3, 8))
    assert SPRING_FORWARD in {s.day for s in slots}
    with pytest.raises(RuleViolation):
        at_time(slots, always_open, time(2, 30))
