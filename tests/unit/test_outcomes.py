"""PHQ-9 scores and what they say about a course (DOMAIN.md, outcomes)."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from tms_scheduler.domain.errors import RuleViolation
from tms_scheduler.domain.outcomes import Score, check_score, outcome, severity

FIRST_SESSION = date(2027, 3, 1)
TODAY = date(2027, 3, 20)


def scores(*values: int, start: date = date(2027, 2, 25)) -> list[Score]:
    """Weekly scores, the first one (the baseline) on `start`."""
    return [Score(start + timedelta(weeks=i), v) for i, v in enumerate(values)]


# --- check_score ---------------------------------------------------------------------------------

@pytest.mark.parametrize("score", [0, 14, 27])
def test_a_score_from_0_to_27_is_accepted(score):
    check_score(score, TODAY, TODAY, FIRST_SESSION)


@pytest.mark.parametrize("score", [-1, 28])
def test_a_score_outside_0_to_27_is_refused(score):
    with pytest.raises(RuleViolation) as refused:
        check_score(score, TODAY, TODAY, FIRST_SESSION)
    assert "score" in refused.value.errors


def test_a_score_dated_today_is_accepted():
    check_score(10, TODAY, TODAY, FIRST_SESSION)


def test_a_score_dated_in_the_future_is_refused():
    with pytest.raises(RuleViolation) as refused:
        check_score(10, TODAY + timedelta(days=1), TODAY, FIRST_SESSION)
    assert "taken_on" in refused.value.errors


def test_a_baseline_30_days_before_the_first_session_is_accepted():
    check_score(20, FIRST_SESSION - timedelta(days=30), TODAY, FIRST_SESSION)


def test_a_baseline_31_days_before_the_first_session_is_refused():
    with pytest.raises(RuleViolation) as refused:
        check_score(20, FIRST_SESSION - timedelta(days=31), TODAY, FIRST_SESSION)
    assert refused.value.errors == {"taken_on": f"must be on or after {FIRST_SESSION - timedelta(days=30)}"}


def test_a_baseline_before_a_first_session_still_ahead_is_accepted():
    first = TODAY + timedelta(days=7)
    check_score(20, TODAY, TODAY, first)


def test_a_refused_score_is_answered_with_http_422():
    with pytest.raises(RuleViolation) as refused:
        check_score(30, TODAY, TODAY, FIRST_SESSION)
    assert refused.value.http_status == 422


# --- outcome: baseline and change -------------------------------------------------------------------

def test_no_scores_give_an_empty_outcome():
    result = outcome([])
    assert (result.baseline, result.latest, result.change_pct, result.response, result.remission,
            result.extension_threshold_met, result.severity) == (None, None, None, False, False, False, None)


def test_the_baseline_is_the_earliest_score_whatever_the_order_given():
    result = outcome([Score(date(2027, 3, 10), 15), Score(date(2027, 2, 25), 22), Score(date(2027, 3, 3), 18)])
    assert result.baseline == 22


def test_the_latest_is_the_most_recent_score():
    result = outcome([Score(date(2027, 3, 10), 15), Score(date(2027, 3, 17), 12), Score(date(2027, 2, 25), 22)])
    assert result.latest == 12


def test_change_is_the_percent_change_from_baseline_to_latest():
    assert outcome(scores(20, 15)).change_pct == -25.0


def test_change_is_rounded_to_one_decimal():
    assert outcome(scores(27, 14)).change_pct == -48.1


def test_a_worsening_gives_a_positive_change():
    assert outcome(scores(10, 15)).change_pct == 50.0


def test_a_baseline_of_0_gives_no_change_percent():
    assert outcome(scores(0, 3)).change_pct is None


def test_a_single_score_gives_a_change_of_0():
    assert outcome(scores(18)).change_pct == 0.0


# --- response -------------------------------------------------------------------------------------------

def test_a_drop_of_exactly_50_percent_is_a_response():
    assert outcome(scores(20, 10)).response


def test_a_drop_of_more_than_50_percent_is_a_response():
    assert outcome(scores(20, 6)).response


def test_a_drop_just_under_50_percent_is_not_a_response():
    # 49% cannot be reached with whole PHQ-9 scores; 27 to 14 (48.1%) is the nearest drop below 50%.
    assert not outcome(scores(27, 14)).response


def test_the_response_compares_the_latest_score_not_the_best_one():
    assert not outcome(scores(20, 8, 12)).response  # 60% at week 2, 40% now


def test_a_single_score_is_not_a_response():
    assert not outcome(scores(3)).response


# --- remission -----------------------------------------------------------------------------------------

def test_a_latest_score_of_4_is_a_remission():
    assert outcome(scores(20, 4)).remission


def test_a_latest_score_of_5_is_not_a_remission():
    assert not outcome(scores(20, 5)).remission


def test_a_single_low_score_is_not_a_remission():
    assert not outcome(scores(3)).remission


def test_remission_looks_at_the_latest_score_only():
    assert not outcome(scores(20, 3, 9)).remission


# --- extension threshold ---------------------------------------------------------------------------------

def test_a_drop_of_exactly_25_percent_meets_the_extension_threshold():
    assert outcome(scores(20, 15)).extension_threshold_met


def test_a_drop_of_24_percent_does_not_meet_the_extension_threshold():
    assert not outcome(scores(25, 19)).extension_threshold_met


def test_a_single_score_does_not_meet_the_extension_threshold():
    assert not outcome(scores(20)).extension_threshold_met


def test_a_worsening_does_not_meet_the_extension_threshold():
    assert not outcome(scores(12, 18)).extension_threshold_met


# --- severity ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("score", "band"), [
    (0, "minimal"), (4, "minimal"),
    (5, "mild"), (9, "mild"),
    (10, "moderate"), (14, "moderate"),
    (15, "moderately severe"), (19, "moderately severe"),
    (20, "severe"), (27, "severe"),
])
def test_severity_bands_start_at_5_10_15_and_20(score, band):
    assert severity(score) == band


def test_an_outcomes_severity_is_that_of_the_latest_score():
    assert outcome(scores(22, 16, 8)).severity == "mild"


def test_a_single_score_has_its_own_severity():
    assert outcome(scores(21)).severity == "severe"
