"""Outcomes over a cohort of completed courses: the Wilson interval, shares, and the groups per site and
protocol, with the courses lacking a baseline and a final PHQ-9 counted and named, never dropped."""
from __future__ import annotations

from datetime import date

import pytest

from tms_scheduler.domain.outcomes import (
    PUBLISHED_REMISSION,
    PUBLISHED_RESPONSE,
    CompletedCourse,
    Score,
    cohort_outcomes,
    group_outcome,
    rate,
    share,
    wilson_interval,
)

# --- the Wilson score interval


@pytest.mark.parametrize("successes, n, low, high", [
    # Newcombe (1998), "Two-sided confidence intervals for the single proportion", method 3 (no continuity
    # correction), Table I.
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0, 0.1611),
    (1, 29, 0.0061, 0.1718),
    # and the textbook half of ten
    (5, 10, 0.2366, 0.7634),
])
def test_the_wilson_interval_matches_published_values(successes, n, low, high):
    found = wilson_interval(successes, n)

    assert found is not None
    assert found == (pytest.approx(low, abs=5e-5), pytest.approx(high, abs=5e-5))


@pytest.mark.parametrize("n", [1, 2, 10, 1000])
def test_no_successes_give_a_low_end_of_exactly_0(n):
    low, high = wilson_interval(0, n) or (None, None)

    assert low == 0.0
    assert 0.0 < high < 1.0


@pytest.mark.parametrize("n", [1, 2, 10, 1000])
def test_n_successes_give_a_high_end_of_exactly_1(n):
    low, high = wilson_interval(n, n) or (None, None)

    assert high == 1.0
    assert 0.0 < low < 1.0


def test_the_edges_mirror_each_other():
    low, _ = wilson_interval(10, 10) or (0.0, 0.0)
    _, high = wilson_interval(0, 10) or (0.0, 0.0)

    assert low == pytest.approx(1 - high)
    assert high == pytest.approx(0.2775, abs=5e-5)


def test_no_course_gives_no_interval():
    assert wilson_interval(0, 0) is None


@pytest.mark.parametrize("successes, n", [(-1, 5), (6, 5), (1, 0), (0, -1)])
def test_successes_outside_0_to_n_are_refused(successes, n):
    with pytest.raises(ValueError):
        wilson_interval(successes, n)


def test_the_interval_always_holds_the_share():
    for n in range(1, 40):
        for k in range(n + 1):
            low, high = wilson_interval(k, n) or (0.0, 0.0)
            assert 0.0 <= low <= k / n <= high <= 1.0, (k, n)


# --- shares and rates

def test_a_share_is_counted_in_percent_with_its_interval():
    s = share(3, 4)
    assert (s.count, s.n, s.pct, s.low_pct, s.high_pct) == (3, 4, 75.0, 30.1, 95.4)


def test_a_share_of_nothing_says_nothing():
    s = share(0, 0)

    assert (s.count, s.n, s.pct, s.low_pct, s.high_pct) == (0, 0, None, None, None)


def test_a_rate_of_nothing_is_none():
    assert rate(0, 0) is None
    assert rate(35, 36) == 0.972


def test_the_published_figures_are_what_patients_are_told():
    assert (PUBLISHED_RESPONSE.low_pct, PUBLISHED_RESPONSE.high_pct) == (50.0, 60.0)
    assert PUBLISHED_REMISSION.low_pct == PUBLISHED_REMISSION.high_pct == pytest.approx(100 / 3, abs=0.1)


# --- a cohort

def course(course_id: int, *scores: int, site: str = "fullerton", protocol: str = "p", delivered: int = 30,
           makeups: int = 0) -> CompletedCourse:
    return CompletedCourse(course_id=course_id, patient_id=100 + course_id, site_id=site, protocol_id=protocol,
                           scores=tuple(Score(date(2027, 3, 1 + i), s) for i, s in enumerate(scores)),
                           prescribed=30, delivered=delivered, makeups=makeups)


def test_response_and_remission_are_counted_over_the_courses_with_a_baseline_and_a_final_score():
    group = group_outcome("fullerton", "p", [
        course(1, 20, 4),       # -80%: response and remission
        course(2, 20, 10),      # -50% exactly: response, no remission
        course(3, 20, 11),      # -45%: neither
        course(4, 8, 12, 4),    # the final (latest) is 4, baseline 8: -50%, response and remission
        course(5, 18),          # a baseline only: left out, named
        course(6),              # no score: left out, named
    ])

    assert (group.courses, group.scored) == (6, 4)
    assert (group.response.count, group.response.n, group.response.pct) == (3, 4, 75.0)
    assert (group.remission.count, group.remission.n, group.remission.pct) == (2, 4, 50.0)
    assert [(u.course_id, u.patient_id, u.scores) for u in group.unscored] == [(5, 105, 1), (6, 106, 0)]


def test_the_baseline_is_the_earliest_score_whatever_the_order_given():
    later_first = CompletedCourse(1, 101, "fullerton", "p", (Score(date(2027, 4, 9), 5), Score(date(2027, 2, 20), 20)),
                                  30, 30, 0)

    group = group_outcome("fullerton", "p", [later_first])

    assert (group.response.count, group.remission.count) == (1, 0)  # 20 -> 5: -75%; 5 is not below 5


def test_attendance_and_makeups_count_every_course_scored_or_not():
    group = group_outcome("fullerton", "p", [course(1, 20, 4, delivered=30, makeups=2), course(2, delivered=27,
                                                                                                makeups=1)])

    assert (group.prescribed, group.delivered, group.makeups) == (60, 57, 3)
    assert group.attendance_rate == 0.95
    assert group.makeup_rate == 0.05


def test_a_group_without_scored_courses_has_no_shares_but_names_them_all():
    group = group_outcome("fullerton", "p", [course(2), course(1, 12)])

    assert group.scored == 0
    assert group.response.pct is None and group.remission.low_pct is None
    assert [u.course_id for u in group.unscored] == [1, 2]


def test_the_cohort_is_grouped_per_site_and_protocol_in_id_order():
    groups = cohort_outcomes([
        course(1, 20, 4, site="laguna-hills", protocol="itbs"),
        course(2, 20, 4, site="fullerton", protocol="tms"),
        course(3, 20, 15, site="fullerton", protocol="itbs"),
        course(4, site="fullerton", protocol="tms"),
    ])

    assert [(g.site_id, g.protocol_id, g.courses) for g in groups] == [
        ("fullerton", "itbs", 1), ("fullerton", "tms", 2), ("laguna-hills", "itbs", 1)]


def test_no_course_gives_no_group():
    assert cohort_outcomes([]) == []
