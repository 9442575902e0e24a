"""Booking a whole course: the plan, the chairs, and what to say when it does not fit."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from .allocation import Allocation, ChairBook, allocate
from .calendar import SiteCalendar
from .errors import BookingConflict, Conflict, RuleViolation
from .planning import (PlannedSession, SessionSlot, at_time, candidate_times, lay_out, opening_hours_problem,
                       planned_hours_problem)
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
        raise RuleViolation(f"{start_date} {preferred:%H:%M} has already passed", {"preferred_time": "must be in the future"})


def fitting_times(slots: list[SessionSlot], calendar: SiteCalendar, book: ChairBook, now: datetime,
                  step_minutes: int) -> list[tuple[time, Allocation]]:
    """Every start time, on the step, at which the whole course finds chairs."""
    found = []
    for candidate in candidate_times(calendar, step_minutes):
        try:
            sessions = at_time(slots, calendar, candidate)
        except RuleViolation:  # the clock skips this time on one of the days
            continue
        if sessions[0].starts_at <= now or planned_hours_problem(sessions, calendar) is not None:
            continue
        allocation = allocate(sessions, book)
        if allocation.complete:
            found.append((candidate, allocation))
    return found


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
