"""How a course is going: counts, attendance, projected end, and the flags clinicians act on."""
from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter
from typing import NamedTuple
from datetime import date, datetime, timedelta

from .lifecycle import CANCELLED, CHECKED_IN, COMPLETED, MISSED, NO_SHOW, SCHEDULED
from .planning import TAPER

CONSECUTIVE_MISSES = 2
LOW_WEEK_BELOW = 3
MAX_GAP_DAYS = 7
DAILY_PHASE_WEEKS = 6
AUTHORIZATION_SESSIONS_WARNING = 5
AUTHORIZATION_DAYS_WARNING = 10

# Most urgent first: the worklist sorts by the first flag's rank.
FLAG_ORDER = ("consecutive_misses", "gap_over_7_days", "authorization_expiring", "low_week",
              "daily_phase_over_6_weeks", "mt_recheck_due")


class SessionFact(NamedTuple):
    """What progress needs of a session (a tuple: a site's worklist makes thousands)."""

    number: int
    kind: str
    status: str
    day: date  # local
    starts_at: datetime


@dataclass(frozen=True)
class AuthorizationFact:
    sessions: int | None
    valid_to: date | None


@dataclass(frozen=True)
class Flag:
    code: str
    message: str


@dataclass(frozen=True)
class Progress:
    prescribed: int
    completed: int
    missed: int
    remaining: int
    attendance_rate: float | None
    projected_end_date: date | None
    authorization_used: int
    authorization_left: int | None
    flags: list[Flag]


_TIME_ORDER = attrgetter("starts_at", "number")


def _in_time_order(sessions: list[SessionFact]) -> list[SessionFact]:
    return sorted(sessions, key=_TIME_ORDER)


def consecutive_misses(sessions: list[SessionFact], now: datetime) -> Flag | None:
    """The latest sessions that have happened were missed, two or more in a row."""
    run = 0
    for s in reversed([s for s in _in_time_order(sessions) if s.starts_at <= now and s.status != SCHEDULED]):
        if s.status not in MISSED:
            break
        run += 1
    if run >= CONSECUTIVE_MISSES:
        return Flag("consecutive_misses", f"{run} sessions missed in a row")
    return None


def low_week(sessions: list[SessionFact], today: date) -> Flag | None:
    """Last week was a treatment week of the daily phase, yet fewer than 3 sessions were given."""
    week_start = today - timedelta(days=today.weekday() + 7)
    week = [s for s in sessions if week_start <= s.day < week_start + timedelta(days=7) and s.kind != TAPER]
    if len(week) < LOW_WEEK_BELOW:  # a week that never held 3 daily sessions (a first half-week) is not low
        return None
    given = sum(s.status == COMPLETED for s in week)
    if given < LOW_WEEK_BELOW:
        return Flag("low_week", f"only {given} session{'s' if given != 1 else ''} given in the week of {week_start}")
    return None


def gap_over_7_days(sessions: list[SessionFact], today: date, owes_more: bool = True) -> Flag | None:
    """More than 7 calendar days between two treatments given, or from the last one to the next
    (to today, while the course still owes sessions and none is booked)."""
    given = sorted(s.day for s in sessions if s.status == COMPLETED)
    ahead = sorted(s.day for s in sessions if s.status in (SCHEDULED, CHECKED_IN) and s.day >= today)
    if not given:
        return None
    days = given + ahead[:1] if ahead else given + ([today] if owes_more else [])
    for earlier, later in zip(days, days[1:]):
        if (later - earlier).days > MAX_GAP_DAYS:
            return Flag("gap_over_7_days", f"{(later - earlier).days} days between treatments after {earlier}")
    return None


def daily_phase_over_6_weeks(sessions: list[SessionFact]) -> Flag | None:
    """The daily phase, as given and still planned, runs past 6 weeks from the first session."""
    daily = [s.day for s in sessions if s.kind != TAPER and s.status != CANCELLED and s.status != NO_SHOW]
    first = min((s.day for s in sessions), default=None)
    if not daily or first is None:
        return None
    last = max(daily)
    if (last - first).days >= DAILY_PHASE_WEEKS * 7:
        return Flag("daily_phase_over_6_weeks", f"the daily phase runs from {first} to {last}, past 6 weeks")
    return None


def authorization_expiring(auth: AuthorizationFact | None, used: int, today: date) -> Flag | None:
    if auth is None:
        return None
    reasons = []
    if auth.sessions is not None and auth.sessions - used <= AUTHORIZATION_SESSIONS_WARNING:
        reasons.append(f"{max(auth.sessions - used, 0)} authorized sessions left")
    if auth.valid_to is not None and (auth.valid_to - today).days <= AUTHORIZATION_DAYS_WARNING:
        reasons.append(f"authorization ends {auth.valid_to}")
    return Flag("authorization_expiring", "; ".join(reasons)) if reasons else None


def mt_recheck_due(sessions: list[SessionFact], today: date) -> Flag | None:
    """The motor threshold is re-checked at the first session of each treatment week."""
    week_start = today - timedelta(days=today.weekday())
    this_week = [s for s in sessions if week_start <= s.day < week_start + timedelta(days=7) and s.status not in MISSED]
    first = min(this_week, key=_TIME_ORDER, default=None)
    if first is not None and first.status != COMPLETED and first.number != 1:
        return Flag("mt_recheck_due", f"motor threshold re-check due at the session on {first.day}")
    return None


def progress(sessions: list[SessionFact], prescribed: int, auth: AuthorizationFact | None, now: datetime,
             today: date) -> Progress:
    completed = sum(s.status == COMPLETED for s in sessions)
    missed = sum(s.status in MISSED for s in sessions)
    attended_or_missed = completed + missed
    upcoming = [s.day for s in sessions if s.status in (SCHEDULED, CHECKED_IN)]
    flags = [f for f in (
        consecutive_misses(sessions, now),
        gap_over_7_days(sessions, today, owes_more=completed < prescribed),
        authorization_expiring(auth, completed, today),
        low_week(sessions, today),
        daily_phase_over_6_weeks(sessions),
        mt_recheck_due(sessions, today),
    ) if f is not None]
    return Progress(
        prescribed=prescribed,
        completed=completed,
        missed=missed,
        remaining=max(prescribed - completed, 0),
        attendance_rate=round(completed / attended_or_missed, 3) if attended_or_missed else None,
        projected_end_date=max(upcoming) if upcoming else None,
        authorization_used=completed,
        authorization_left=None if auth is None or auth.sessions is None else auth.sessions - completed,
        flags=flags,
    )


def urgency(flags: list[Flag]) -> tuple[int, int]:
    """Sort key for the worklist: the most urgent flag first, then the number of flags."""
    ranks = [FLAG_ORDER.index(f.code) for f in flags]
    return (min(ranks) if ranks else len(FLAG_ORDER), -len(flags))
