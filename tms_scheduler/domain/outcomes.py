"""PHQ-9 scores and what they say about a course, and about the courses a site completed."""
from __future__ import annotations

import math
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


# --- outcomes beyond the single course: a cohort of completed courses

# What patients are told to expect of a course of TMS for depression, as the clinic's leaflets say it.
@dataclass(frozen=True)
class PublishedFigure:
    """A published share, as a range of percentages (low == high for a single figure) and in words."""

    low_pct: float
    high_pct: float
    words: str


PUBLISHED_RESPONSE = PublishedFigure(50.0, 60.0, "about 50-60% respond")
PUBLISHED_REMISSION = PublishedFigure(33.3, 33.3, "about a third remit")

# The normal quantile for a two-sided 95% interval.
Z_95 = 1.959963984540054


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion (fractions, 0 to 1); None when there is nothing to
    estimate (n = 0). Exact at the edges: 0 successes give a low of 0, n successes a high of 1."""
    if n < 0 or not 0 <= successes <= n:
        raise ValueError(f"successes must be 0 to n: {successes} of {n}")
    if n == 0:
        return None
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    margin = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    low = 0.0 if successes == 0 else max(0.0, centre - margin)
    high = 1.0 if successes == n else min(1.0, centre + margin)
    return low, high


@dataclass(frozen=True)
class Share:
    """`count` of `n`, its percentage and its 95% Wilson interval in percent (None when n = 0)."""

    count: int
    n: int
    pct: float | None
    low_pct: float | None
    high_pct: float | None


def share(count: int, n: int) -> Share:
    interval = wilson_interval(count, n)
    if interval is None:
        return Share(count, n, None, None, None)
    low, high = interval
    return Share(count, n, round(count / n * 100, 1), round(low * 100, 1), round(high * 100, 1))


def rate(part: int, whole: int) -> float | None:
    """part / whole as a fraction rounded to 3 places; None when whole is 0."""
    return None if whole == 0 else round(part / whole, 3)


@dataclass(frozen=True)
class CompletedCourse:
    """What the cohort needs of one completed course."""

    course_id: int
    patient_id: int
    site_id: str
    protocol_id: str
    scores: tuple[Score, ...]
    prescribed: int  # the protocol's sessions
    delivered: int  # sessions completed
    makeups: int  # make-up sessions booked


@dataclass(frozen=True)
class Unscored:
    """A course counted but left out of response and remission: it lacks a baseline or a final score."""

    course_id: int
    patient_id: int
    site_id: str
    protocol_id: str
    scores: int  # how many PHQ-9 scores it has (0 or 1)


@dataclass(frozen=True)
class GroupOutcome:
    site_id: str
    protocol_id: str
    courses: int
    scored: int  # with a baseline and a final score
    response: Share  # of the scored
    remission: Share  # of the scored
    prescribed: int
    delivered: int
    makeups: int
    attendance_rate: float | None  # delivered / prescribed
    makeup_rate: float | None  # make-ups booked / prescribed
    unscored: tuple[Unscored, ...]


def has_baseline_and_final(scores: tuple[Score, ...] | list[Score]) -> bool:
    """A baseline and a final score are two scores (the earliest and the latest), as outcome() reads them."""
    return len(scores) >= 2


def group_outcome(site_id: str, protocol_id: str, courses: list[CompletedCourse]) -> GroupOutcome:
    """Response and remission (as outcome() defines them: from the baseline, the earliest score, to the
    final, the latest) over the courses that have both; every course counts for attendance and make-ups."""
    scored = [c for c in courses if has_baseline_and_final(c.scores)]
    results = [outcome(list(c.scores)) for c in scored]
    prescribed = sum(c.prescribed for c in courses)
    delivered = sum(c.delivered for c in courses)
    makeups = sum(c.makeups for c in courses)
    unscored = tuple(Unscored(c.course_id, c.patient_id, c.site_id, c.protocol_id, len(c.scores))
                     for c in sorted(courses, key=lambda c: c.course_id) if not has_baseline_and_final(c.scores))
    return GroupOutcome(
        site_id=site_id, protocol_id=protocol_id, courses=len(courses), scored=len(scored),
        response=share(sum(r.response for r in results), len(scored)),
        remission=share(sum(r.remission for r in results), len(scored)),
        prescribed=prescribed, delivered=delivered, makeups=makeups,
        attendance_rate=rate(delivered, prescribed), makeup_rate=rate(makeups, prescribed), unscored=unscored,
    )


def cohort_outcomes(courses: list[CompletedCourse]) -> list[GroupOutcome]:
    """One group per site and protocol that completed a course, in site and protocol order."""
    groups: dict[tuple[str, str], list[CompletedCourse]] = {}
    for c in courses:
        groups.setdefault((c.site_id, c.protocol_id), []).append(c)
    return [group_outcome(site_id, protocol_id, members) for (site_id, protocol_id), members in sorted(groups.items())]
