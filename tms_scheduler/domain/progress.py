"""How a course is going: counts, attendance, projected end, and the flags clinicians act on."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from operator import attrgetter
from typing import NamedTuple

from .calendar import SiteCalendar
from .lifecycle import (
    BY_PATIENT,
    CANCELLED,
    CHECKED_IN,
    COMPLETED,
    MISSED,
    NO_SHOW,
    NOT_COUNTED_BY,
    SCHEDULED,
    is_patients_miss,
)
from .planning import TAPER

CONSECUTIVE_MISSES = 2
LOW_WEEK_BELOW = 3
MAX_GAP_DAYS = 7
DAILY_PHASE_WEEKS = 6
AUTHORIZATION_SESSIONS_WARNING = 5
AUTHORIZATION_DAYS_WARNING = 10


class FlagCode(StrEnum):
    """What a clinician is warned of about a course; listed most urgent first (the worklist's order)."""

    CONSECUTIVE_MISSES = "consecutive_misses"
    GAP_OVER_7_DAYS = "gap_over_7_days"
    AUTHORIZATION_EXPIRING = "authorization_expiring"
    LOW_WEEK = "low_week"
    DAILY_PHASE_OVER_6_WEEKS = "daily_phase_over_6_weeks"
    MT_RECHECK_DUE = "mt_recheck_due"


FLAG_ORDER: tuple[str, ...] = tuple(FlagCode)


class SessionFact(NamedTuple):
    """What progress needs of a session (a tuple: a site's worklist makes thousands)."""

    number: int
    kind: str
    status: str
    day: date  # local
    starts_at: datetime
    cancelled_by: str | None = None  # one of lifecycle.CANCELLED_BY


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


def missed_by_patient(s: SessionFact) -> bool:
    return is_patients_miss(s.status, s.cancelled_by)


def cancelled_by_other(s: SessionFact) -> bool:
    """Cancelled, but not by the patient (the clinic, a closure, a pause...): not the patient's miss."""
    return s.status == CANCELLED and s.cancelled_by != BY_PATIENT


def consecutive_misses(sessions: list[SessionFact]) -> Flag | None:
    """Two or more of the patient's misses in a row that no treatment given has followed yet.

    A miss counts from the moment it is recorded, whatever the session's date: two sessions
    cancelled ahead of time flag the course now. Cancellations by anyone but the patient
    neither count nor break a run; any other session between two misses does break it.
    The flag names the longest such run (the earliest of equals).
    """
    runs: list[list[SessionFact]] = []  # runs of 2 or more since the last treatment given
    run: list[SessionFact] = []
    for s in _in_time_order(sessions):
        if cancelled_by_other(s):
            continue
        if missed_by_patient(s):
            run.append(s)
            continue
        if s.status == COMPLETED:
            runs, run = [], []  # treated again: every run before this is over
            continue
        if len(run) >= CONSECUTIVE_MISSES:
            runs.append(run)
        run = []
    if len(run) >= CONSECUTIVE_MISSES:
        runs.append(run)
    if not runs:
        return None
    longest = max(runs, key=len)  # max keeps the first of equals
    return Flag(FlagCode.CONSECUTIVE_MISSES, f"{len(longest)} sessions missed in a row from {longest[0].day}")


def low_week(sessions: list[SessionFact], today: date) -> Flag | None:
    """Last week was a treatment week of the daily phase, yet fewer than 3 sessions were given."""
    week_start = today - timedelta(days=today.weekday() + 7)
    week = [s for s in sessions if week_start <= s.day < week_start + timedelta(days=7) and s.kind != TAPER]
    if len(week) < LOW_WEEK_BELOW:  # a week that never held 3 daily sessions (a first half-week) is not low
        return None
    given = sum(s.status == COMPLETED for s in week)
    if given < LOW_WEEK_BELOW:
        noun = "session" if given == 1 else "sessions"
        return Flag(FlagCode.LOW_WEEK, f"only {given} {noun} given in the week of {week_start}")
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
            return Flag(FlagCode.GAP_OVER_7_DAYS, f"{(later - earlier).days} days between treatments after {earlier}")
    return None


def open_days(calendar: SiteCalendar, first: date, last: date) -> int:
    """The site's open days from `first` through `last`, both included."""
    if last < first:
        return 0
    weeks, rest = divmod((last - first).days + 1, 7)
    count = weeks * len(calendar.open_days) + sum(
        (first + timedelta(days=i)).isoweekday() in calendar.open_days for i in range(rest))
    return count - sum(first <= d <= last and d.isoweekday() in calendar.open_days for d in calendar.closed_dates)


def daily_phase_over_6_weeks(sessions: list[SessionFact], calendar: SiteCalendar) -> Flag | None:
    """The daily phase, as given and still planned, runs past 6 weeks from the first session.

    Weeks are counted in the site's open days (6 weeks = 30 at a Monday-to-Friday site, 36 at a
    Monday-to-Saturday one): holidays and closures do not lengthen the daily phase. `calendar`
    must hold the site's closed dates over the course's days.
    """
    daily = [s.day for s in sessions if s.kind != TAPER and s.status != CANCELLED and s.status != NO_SHOW]
    first = min((s.day for s in sessions), default=None)
    if not daily or first is None:
        return None
    last = max(daily)
    used, allowed = open_days(calendar, first, last), DAILY_PHASE_WEEKS * len(calendar.open_days)
    if used > allowed:
        return Flag(FlagCode.DAILY_PHASE_OVER_6_WEEKS,
                    f"the daily phase runs from {first} to {last}, {used} open days: past 6 weeks ({allowed})")
    return None


def authorization_expiring(auth: AuthorizationFact | None, used: int, today: date) -> Flag | None:
    if auth is None:
        return None
    reasons = []
    if auth.sessions is not None and auth.sessions - used <= AUTHORIZATION_SESSIONS_WARNING:
        reasons.append(f"{max(auth.sessions - used, 0)} authorized sessions left")
    if auth.valid_to is not None and (auth.valid_to - today).days <= AUTHORIZATION_DAYS_WARNING:
        reasons.append(f"authorization ends {auth.valid_to}")
    return Flag(FlagCode.AUTHORIZATION_EXPIRING, "; ".join(reasons)) if reasons else None


def mt_recheck_due(sessions: list[SessionFact], today: date) -> Flag | None:
    """The motor threshold is re-checked at the first session of each treatment week."""
    week_start = today - timedelta(days=today.weekday())
    this_week = [s for s in sessions if week_start <= s.day < week_start + timedelta(days=7) and s.status not in MISSED]
    first = min(this_week, key=_TIME_ORDER, default=None)
    if first is not None and first.status != COMPLETED and first.number != 1:
        return Flag(FlagCode.MT_RECHECK_DUE, f"motor threshold re-check due at the session on {first.day}")
    return None


def progress(sessions: list[SessionFact], prescribed: int, auth: AuthorizationFact | None, now: datetime,
             calendar: SiteCalendar) -> Progress:
    """`calendar` is the site's, with its closed dates over the course's days; "today" is the
    site's local date at `now`."""
    today = calendar.local_date(now)
    sessions = [s for s in sessions if s.cancelled_by not in NOT_COUNTED_BY]
    completed = sum(s.status == COMPLETED for s in sessions)
    missed = sum(missed_by_patient(s) for s in sessions)  # the clinic's cancellations are not the patient's
    attended_or_missed = completed + missed
    upcoming = [s.day for s in sessions if s.status in (SCHEDULED, CHECKED_IN)]
    flags = [f for f in (
        consecutive_misses(sessions),
        gap_over_7_days(sessions, today, owes_more=completed < prescribed),
        authorization_expiring(auth, completed, today),
        low_week(sessions, today),
        daily_phase_over_6_weeks(sessions, calendar),
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
