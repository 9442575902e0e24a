"""Booking a whole course: the plan, the chairs, and what to say when it does not fit."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from .allocation import Allocation, ChairBook, allocate
from .calendar import SiteCalendar
from .errors import BookingConflict, Conflict, NextStart, RuleViolation
from .planning import (
    PlannedSession,
    SessionSlot,
    at_time,
    candidate_times,
    lay_out,
    opening_hours_problem,
    planned_hours_problem,
    time_to_minutes,
)
from .protocols import Cadence
from .spacing import plan_problem


@dataclass(frozen=True)
class CoursePlan:
    sessions: list[PlannedSession]
    allocation: Allocation


def check_start_day(calendar: SiteCalendar, start_date: date, now: datetime) -> None:
    """The start day is today or later in the site's zone, and the site is open on it."""
    today = now.astimezone(calendar.zone).date()
    if start_date < today:
        raise RuleViolation(f"The start date {start_date} is in the past", {"start_date": "must not be in the past"})
    if not calendar.is_open_on(start_date):
        raise RuleViolation(
            f"The site is closed on {start_date} ({start_date:%A})",
            {"start_date": "must be a day the site is open"},
        )


def check_start(calendar: SiteCalendar, start_date: date, preferred: time, slots: list[SessionSlot],
                now: datetime) -> None:
    """The rules a booking request must meet before any chair is looked at.

    The hours are judged as `at_time` places the sessions (the day's first at local
    `preferred`, the others of an accelerated day in real minutes after it), so a day that
    cannot hold its sessions inside opening hours, a daylight-saving day included, is a
    RuleViolation naming the session that does not fit.
    """
    check_start_day(calendar, start_date, now)
    problem = opening_hours_problem(slots, calendar, preferred)
    if problem is not None:
        raise RuleViolation(f"The course cannot start at {preferred:%H:%M}: {problem}", {"preferred_time": problem})
    first = at_time(slots[:1], calendar, preferred)[0]
    if first.starts_at <= now:
        raise RuleViolation(f"{start_date} {preferred:%H:%M} has already passed",
                            {"preferred_time": "must be in the future"})


class _StartTimes:
    """Tries start times for one laid-out course against the book, cheapest refusals first.

    A refused time mostly fails on a session in the course's first days, or on the same session as the
    time tried before it (a day the chairs are taken, a chair out of service from some day on): those
    sessions are placed and tried on their own before the whole course is. `at_time` places any subset
    of the slots exactly as it places them within the whole course.
    """

    FIRST_SESSIONS = 5

    def __init__(self, slots: list[SessionSlot], calendar: SiteCalendar, book: ChairBook, now: datetime):
        self.slots, self.calendar, self.book, self.now = slots, calendar, book, now
        self.suspect: int | None = None  # the index of the session that last found no chair

    def _blocked(self, sessions: list[PlannedSession]) -> int | None:
        """The index of the first of `sessions` that finds no free chair; None when each finds one."""
        chair_ids = self.book.chair_ids
        for i, s in enumerate(sessions):
            if not any(self.book.is_free(c, s.starts_at, s.ends_at) for c in chair_ids):
                return i
        return None

    def allocation_at(self, start: time) -> Allocation | None:
        """The course's chairs when every session, the day's first at local `start`, is ahead of `now`,
        inside opening hours and finds a free chair; None otherwise."""
        slots, calendar = self.slots, self.calendar
        probe = slots[:self.FIRST_SESSIONS]
        if self.suspect is not None and self.suspect >= self.FIRST_SESSIONS:
            probe = [*probe, slots[self.suspect]]
        try:
            placed = at_time(probe, calendar, start)
            if placed[0].starts_at <= self.now or self._blocked(placed) is not None:
                return None
            sessions = at_time(slots, calendar, start)
        except RuleViolation:  # the clock skips this time on one of the days
            return None
        blocked = self._blocked(sessions)
        if blocked is not None:
            self.suspect = blocked
            return None
        if planned_hours_problem(sessions, calendar) is not None:
            return None
        allocation = allocate(sessions, self.book)
        return allocation if allocation.complete else None


def fitting_times(slots: list[SessionSlot], calendar: SiteCalendar, book: ChairBook, now: datetime,
                  step_minutes: int) -> list[tuple[time, Allocation]]:
    """Every start time, on the step, at which the whole course finds chairs."""
    trial = _StartTimes(slots, calendar, book, now)
    found = []
    for candidate in candidate_times(calendar, step_minutes):
        allocation = trial.allocation_at(candidate)
        if allocation is not None:
            found.append((candidate, allocation))
    return found


def nearest_first(preferred: time, candidates: Iterable[time]) -> list[time]:
    """`preferred` itself, then the other candidates by distance from it, the earlier of two as near."""
    target = time_to_minutes(preferred)
    others = sorted((t for t in candidates if t != preferred), key=lambda t: (abs(time_to_minutes(t) - target), t))
    return [preferred, *others]


def nearest_fitting_time(slots: list[SessionSlot], calendar: SiteCalendar, book: ChairBook, preferred: time,
                         now: datetime, step_minutes: int) -> tuple[time, Allocation] | None:
    """The start time at which the whole course fits that is nearest `preferred`: `preferred` itself when it
    fits (what a booking at it would get), else the nearest time on the step, the earlier on a tie; None
    when no time that day fits."""
    trial = _StartTimes(slots, calendar, book, now)
    for candidate in nearest_first(preferred, candidate_times(calendar, step_minutes)):
        allocation = trial.allocation_at(candidate)
        if allocation is not None:
            return candidate, allocation
    return None


# --- the next start dates that fit ------------------------------------------------------------------

# How far ahead a search for start dates looks (weeks from its first day), and how many dates it answers
# per site: by default and at most. A search never runs on beyond its window.
SEARCH_WEEKS, MAX_SEARCH_WEEKS = 8, 12
STARTS_WANTED, MAX_STARTS_WANTED = 3, 10


@dataclass(frozen=True)
class FittingStart:
    day: date
    time: time
    allocation: Allocation


def search_days(calendar: SiteCalendar, first_day: date, weeks: int) -> list[date]:
    """The start dates a search tries: the site's open days from `first_day` for `weeks` weeks."""
    return [d for d in (first_day + timedelta(days=i) for i in range(7 * weeks)) if calendar.is_open_on(d)]


def _layout(cadence: Cadence, calendar: SiteCalendar, start: date) -> list[SessionSlot] | None:
    try:
        return lay_out(cadence, calendar, start)
    except RuleViolation:  # too few open days ahead for the whole course
        return None


def search_reach(cadence: Cadence, calendar: SiteCalendar, days: list[date]) -> date | None:
    """The last day any course started on one of `days` reaches: the chairs' busy times are needed up to it.
    None when no course can be laid out from any of them.

    A later start never ends earlier (each phase takes the open days, or as many of each week's, from its
    first day on), so the course of the last day that can be laid out reaches furthest.
    """
    for day in reversed(days):
        slots = _layout(cadence, calendar, day)
        if slots:
            return slots[-1].day
    return None


def first_fitting_starts(cadence: Cadence, calendar: SiteCalendar, book: ChairBook, days: list[date],
                         preferred: time, now: datetime, step_minutes: int, limit: int) -> list[FittingStart]:
    """The first `limit` of `days` (in order) on which the whole course fits, each at its time nearest
    `preferred` (see `nearest_fitting_time`); fewer, or none, when the days run out.

    Everything is planned in memory against `book`, which must hold the chairs' busy times from the
    first of `days` to their `search_reach`.
    """
    found: list[FittingStart] = []
    for day in days:
        slots = _layout(cadence, calendar, day)
        fit = nearest_fitting_time(slots, calendar, book, preferred, now, step_minutes) if slots else None
        if fit is not None:
            found.append(FittingStart(day, *fit))
            if len(found) >= limit:
                break
    return found


def naming_next_start(conflict: BookingConflict, start_date: date, found: FittingStart | None,
                      weeks: int) -> BookingConflict:
    """`conflict`, when no start time on `start_date` fits, saying which later date does (or that none
    does within `weeks` weeks)."""
    if found is None:
        words = f"no start time on {start_date} fits the whole course, nor on any day of the {weeks} weeks after it"
        return BookingConflict(conflict.conflicts, conflict.alternatives, None, f"{conflict.message}; {words}")
    at = found.time.strftime("%H:%M")
    words = (f"no start time on {start_date} fits the whole course; "
             f"the next date that fits is {found.day} at {at}")
    return BookingConflict(conflict.conflicts, conflict.alternatives,
                           NextStart(found.day.isoformat(), at, tuple(found.allocation.chair_ids_by_use())),
                           f"{conflict.message}; {words}")


def plan_course(cadence: Cadence, calendar: SiteCalendar, book: ChairBook, start_date: date,
                preferred: time, now: datetime, step_minutes: int) -> CoursePlan:
    """The whole course in chairs, or a BookingConflict naming the clashing days and times that fit.

    Whatever is wrong with the course itself (no open days, outside opening hours, no chair
    at all for the protocol, sessions that would break the protocol's spacing) is a
    RuleViolation (422) with the reason; a BookingConflict (409) only ever means that other
    bookings hold the chairs.
    """
    check_start_day(calendar, start_date, now)
    slots = lay_out(cadence, calendar, start_date)
    check_start(calendar, start_date, preferred, slots, now)
    sessions = at_time(slots, calendar, preferred)
    problem = plan_problem(sessions, min_gap_minutes=cadence.min_gap_minutes,
                           sessions_per_day=cadence.sessions_per_day, day_of=calendar.local_date, zone=calendar.zone)
    if problem is not None:
        raise RuleViolation(f"The course cannot be laid out at {preferred:%H:%M}: {problem}",
                            {"preferred_time": problem})
    if not book.chair_ids:
        raise RuleViolation("No chair at the site fits the protocol", {"protocol_id": "no fitting chair at the site"})
    allocation = allocate(sessions, book)
    if allocation.complete:
        return CoursePlan(sessions, allocation)
    conflicts = [
        Conflict(s.day.isoformat(), f"no free chair from {s.starts_at.astimezone(calendar.zone):%H:%M} "
                                    f"to {s.ends_at.astimezone(calendar.zone):%H:%M} (session {s.number})")
        for s in allocation.unplaced
    ]
    alternatives = [t.strftime("%H:%M") for t, _ in fitting_times(slots, calendar, book, now, step_minutes)]
    raise BookingConflict(conflicts, alternatives)
