"""PHQ-9 scores and what they say about a course."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from .errors import RuleViolation

PHQ9_MAX = 27
BASELINE_MAY_PRECEDE_DAYS = 30
RESPONSE_DROP_PCT = 50.0
EXTENSION_DROP_PCT = 25.0
REMISSION_BELOW = 5
SEVERITY_BANDS = ((20, "severe"), (15, "moderately severe"), (10, "moderate"), (5, "mild"), (0, "minimal"))


@dataclass(frozen=True)
class Score:
    taken_on: date
    score: int


def severity(score: int) -> str:
    return next(label for floor, label in SEVERITY_BANDS if score >= floor)


def check_score(score: int, taken_on: date, today: date, first_session_day: date) -> None:
    """A PHQ-9 is 0-27, never dated in the future, and at most 30 days before the first session."""
    if not 0 <= score <= PHQ9_MAX:
        raise RuleViolation(f"A PHQ-9 score is 0 to {PHQ9_MAX}", {"score": f"must be 0 to {PHQ9_MAX}"})
    if taken_on > today:
        raise RuleViolation("A score cannot be dated in the future", {"taken_on": "must not be in the future"})
    if taken_on < first_session_day - timedelta(days=BASELINE_MAY_PRECEDE_DAYS):
        raise RuleViolation(
            f"A baseline may be dated at most {BASELINE_MAY_PRECEDE_DAYS} days before the first session",
            {"taken_on": f"must be on or after {first_session_day - timedelta(days=BASELINE_MAY_PRECEDE_DAYS)}"},
        )


@dataclass(frozen=True)
class Outcome:
    baseline: int | None
    latest: int | None
    change_pct: float | None
    response: bool
    remission: bool
    extension_threshold_met: bool
    severity: str | None


def outcome(scores: list[Score]) -> Outcome:
    """The baseline is the earliest score; change is from it to the latest."""
    if not scores:
        return Outcome(None, None, None, False, False, False, None)
    ordered = sorted(scores, key=lambda s: s.taken_on)
    baseline, latest = ordered[0].score, ordered[-1].score
    change = None if baseline == 0 else round((latest - baseline) / baseline * 100, 1)
    drop = -change if change is not None else 0.0
    follow_up = len(ordered) > 1
    return Outcome(
        baseline=baseline,
        latest=latest,
        change_pct=change,
        response=follow_up and drop >= RESPONSE_DROP_PCT,
        remission=follow_up and latest < REMISSION_BELOW,
        extension_threshold_met=follow_up and drop >= EXTENSION_DROP_PCT,
        severity=severity(latest),
    )
