"""Cadence.problems(): the reasons a protocol's cadence cannot be planned."""
from __future__ import annotations

import pytest

from tms_scheduler.domain.protocols import Cadence, Phase

from .clinic import DEMO_PROTOCOLS, cadence


def daily(**changes) -> Cadence:
    values = {"phases": (Phase(30, 5),), "mapping_minutes": 60, "session_minutes": 15}
    return Cadence(**{**values, **changes})


@pytest.mark.parametrize("protocol_id", sorted(DEMO_PROTOCOLS))
def test_every_demo_cadence_has_no_problems(protocol_id):
    assert cadence(protocol_id).problems() == {}


@pytest.mark.parametrize("protocol_id, total", [
    ("tms-10hz-standard", 36), ("itbs", 30), ("deep-tms-h1", 36), ("accelerated-itbs", 50),
])
def test_demo_cadences_prescribe_the_domain_session_counts(protocol_id, total):
    assert cadence(protocol_id).total_sessions == total


def test_a_cadence_without_phases_is_refused():
    assert "phases" in daily(phases=()).problems()


def test_a_phase_without_sessions_is_refused():
    assert "phases.1.sessions" in daily(phases=(Phase(30, 5), Phase(0, 2))).problems()


def test_a_phase_of_zero_days_a_week_is_refused():
    assert "phases.0.days_per_week" in daily(phases=(Phase(30, 0),)).problems()


def test_a_phase_of_eight_days_a_week_is_refused():
    assert "phases.0.days_per_week" in daily(phases=(Phase(30, 8),)).problems()


def test_a_phase_of_seven_days_a_week_is_allowed():
    assert daily(phases=(Phase(30, 7),)).problems() == {}


def test_zero_sessions_a_day_is_refused():
    assert "sessions_per_day" in daily(sessions_per_day=0).problems()


def test_several_sessions_a_day_with_a_taper_is_refused():
    problems = daily(phases=(Phase(50, 5), Phase(4, 2)), sessions_per_day=10).problems()
    assert "sessions_per_day" in problems


def test_a_zero_minute_mapping_session_is_refused():
    assert "session_minutes" in daily(mapping_minutes=0).problems()


def test_a_zero_minute_session_is_refused():
    assert "session_minutes" in daily(session_minutes=0).problems()


def test_a_negative_gap_between_sessions_is_refused():
    assert "min_gap_minutes" in daily(min_gap_minutes=-1).problems()


def test_every_problem_of_a_cadence_is_reported_at_once():
    problems = Cadence(phases=(Phase(0, 9),), mapping_minutes=0, session_minutes=15, sessions_per_day=0,
                       min_gap_minutes=-5).problems()
    assert set(problems) == {"phases.0.sessions", "phases.0.days_per_week", "sessions_per_day",
                             "session_minutes", "min_gap_minutes"}


def test_the_first_session_lasts_the_mapping_minutes_and_the_rest_the_session_minutes():
    c = cadence("tms-10hz-standard")
    assert [c.minutes_of(n) for n in (1, 2, 36)] == [60, 45, 45]


def test_the_daily_phase_is_the_first_phase():
    assert cadence("deep-tms-h1").daily_phase_sessions == 20
