"""How a course is going: counts, attendance, projected end, and the flags clinicians act on."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
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


def last_week(today: date) -> tuple[date, date]:
    """The calendar week (Monday to Sunday) before today's: its first day and the day after its last."""
    week_start = today - timedelta(days=today.weekday() + 7)
    return week_start, week_start + timedelta(days=7)


def this_week(today: date) -> tuple[date, date]:
    """Today's calendar week (Monday to Sunday): its first day and the day after its last."""
    week_start = today - timedelta(days=today.weekday())
    return week_start, week_start + timedelta(days=7)


def low_week(sessions: list[SessionFact], today: date) -> Flag | None:
    """Last week was a treatment week of the daily phase, yet fewer than 3 sessions were given."""
    week_start, week_end = last_week(today)
    week = [s for s in sessions if week_start <= s.day < week_end and s.kind != TAPER]
    return low_week_of(week_start, len(week), sum(s.status == COMPLETED for s in week))


def low_week_of(week_start: date, held: int, given: int) -> Flag | None:
    """`low_week` from last week's counts: its daily (not taper) sessions, and those of them given."""
    if held < LOW_WEEK_BELOW:  # a week that never held 3 daily sessions (a first half-week) is not low
        return None
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
    return first_gap(zip(days, days[1:]))


def first_gap(pairs: Iterable[tuple[date, date]]) -> Flag | None:
    """The gap flag of the first (earlier, later) pair of days, in time order, more than 7 days apart."""
    for earlier, later in pairs:
        if (later - earlier).days > MAX_GAP_DAYS:
            return Flag(FlagCode.GAP_OVER_7_DAYS, f"{(later - earlier).days} days between treatments after {earlier}")
    return None


@lru_cache(maxsize=4096)
def open_days(calendar: SiteCalendar, first: date, last: date) -> int:
    """The site's open days from `first` through `last`, both included (remembered: a site's worklist asks
    the same span for every course started the same day)."""
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
    return daily_phase_of(first, max(daily, default=None), calendar)


def daily_phase_of(first: date | None, last: date | None, calendar: SiteCalendar) -> Flag | None:
    """`daily_phase_over_6_weeks` from the course's first day and its last daily session's day (neither
    cancelled nor a no-show)."""
    if first is None or last is None:
        return None
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
    week_start, week_end = this_week(today)
    held = [s for s in sessions if week_start <= s.day < week_end and s.status not in MISSED]
    first = min(held, key=_TIME_ORDER, default=None)
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


@dataclass(frozen=True)
class CourseSummary:
    """What `progress` reads of a course's sessions, already counted (by SQL, for a site's worklist):
    counts, a few days, and only the sessions the rules look at one by one. Sessions released by a
    pause or a cancelled course, or cancelled by a closure, are left out of all of it, as `progress`
    leaves them out. `summary_progress` of it equals `progress` of the sessions."""

    completed: int
    missed: int  # the patient's misses (no-shows and the patient's cancellations)
    first_day: date | None  # the first session's day, whatever its status
    last_daily_day: date | None  # the last daily (not taper) session neither cancelled nor a no-show
    last_upcoming_day: date | None  # the last scheduled or checked-in session's day
    last_given_day: date | None  # the last completed session's day
    next_ahead_day: date | None  # the first scheduled or checked-in session's day from today on
    # Consecutive completed sessions (earlier day, later day), in time order: at least every pair more
    # than 7 days apart (the others may be left out: they raise nothing).
    given_gaps: tuple[tuple[date, date], ...]
    # The course's sessions, or at least those after its last completed one (all, if none was): needed
    # only when 2 or more of those are the patient's misses, and may be left empty otherwise.
    since_last_given: tuple[SessionFact, ...]
    last_week_held: int  # last week's daily (not taper) sessions
    last_week_given: int  # ... of which completed
    first_this_week: SessionFact | None  # this week's first session that is not a no-show or cancelled


def summary_progress(summary: CourseSummary, prescribed: int, auth: AuthorizationFact | None, now: datetime,
                     calendar: SiteCalendar) -> Progress:
    """`progress` from a `CourseSummary`: the same rules on the facts they need."""
    today = calendar.local_date(now)
    completed, missed = summary.completed, summary.missed
    tail: list[tuple[date, date]] = []
    if summary.last_given_day is not None:
        after = summary.next_ahead_day or (today if completed < prescribed else None)
        if after is not None:
            tail = [(summary.last_given_day, after)]
    flags = [f for f in (
        consecutive_misses(list(summary.since_last_given)),
        first_gap([*summary.given_gaps, *tail]),
        authorization_expiring(auth, completed, today),
        low_week_of(last_week(today)[0], summary.last_week_held, summary.last_week_given),
        daily_phase_of(summary.first_day, summary.last_daily_day, calendar),
        mt_recheck_due([summary.first_this_week] if summary.first_this_week else [], today),
    ) if f is not None]
    attended_or_missed = completed + missed
    return Progress(
        prescribed=prescribed,
        completed=completed,
        missed=missed,
        remaining=max(prescribed - completed, 0),
        attendance_rate=round(completed / attended_or_missed, 3) if attended_or_missed else None,
        projected_end_date=summary.last_upcoming_day,
        authorization_used=completed,
        authorization_left=None if auth is None or auth.sessions is None else auth.sessions - completed,
        flags=flags,
    )


def urgency(flags: list[Flag]) -> tuple[int, int]:
    """Sort key for the worklist: the most urgent flag first, then the number of flags."""
    ranks = [FLAG_ORDER.index(f.code) for f in flags]
    return (min(ranks) if ranks else len(FLAG_ORDER), -len(flags))
