"""Booking a whole course: the plan, the chairs, and what to say when it does not fit."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from .allocation import Allocation, ChairBook, allocate
from .calendar import SiteCalendar
from .errors import BookingConflict, Conflict, RuleViolation
from .planning import PlannedSession, SessionSlot, at_time, candidate_times, fits_opening_hours, lay_out
from .protocols import Cadence


@dataclass(frozen=True)
class CoursePlan:
    sessions: list[PlannedSession]
    allocation: Allocation


def check_start(calendar: SiteCalendar, start_date: date, preferred: time, slots: list[SessionSlot],
                now: datetime) -> None:
    """The rules a booking request must meet before any chair is looked at."""
    today = now.astimezone(calendar.zone).date()
    if start_date < today:
        raise RuleViolation(f"The start date {start_date} is in the past", {"start_date": "must not be in the past"})
    if not calendar.is_open_on(start_date):
        raise RuleViolation(
            f"The site is closed on {start_date} ({start_date:%A})",
            {"start_date": "must be a day the site is open"},
        )
    if not fits_opening_hours(slots, calendar, preferred):
        raise RuleViolation(
            f"Sessions starting at {preferred:%H:%M} would fall outside opening hours "
            f"{calendar.opens:%H:%M}-{calendar.closes:%H:%M}",
            {"preferred_time": "every session must start and end inside opening hours"},
        )
    first = at_time(slots[:1], calendar, preferred)[0]
    if first.starts_at <= now:
        raise RuleViolation(f"{start_date} {preferred:%H:%M} has already passed", {"preferred_time": "must be in the future"})


def fitting_times(slots: list[SessionSlot], calendar: SiteCalendar, book: ChairBook, now: datetime,
                  step_minutes: int) -> list[tuple[time, Allocation]]:
    """Every start time, on the step, at which the whole course finds chairs."""
    found = []
    for candidate in candidate_times(calendar, step_minutes):
        if not fits_opening_hours(slots, calendar, candidate):
            continue
        sessions = at_time(slots, calendar, candidate)
        if sessions[0].starts_at <= now:
            continue
        allocation = allocate(sessions, book)
        if allocation.complete:
            found.append((candidate, allocation))
    return found


def plan_course(cadence: Cadence, calendar: SiteCalendar, book: ChairBook, start_date: date,
                preferred: time, now: datetime, step_minutes: int) -> CoursePlan:
    """The whole course in chairs, or a BookingConflict naming the clashing days and times that fit."""
    slots = lay_out(cadence, calendar, start_date)
    check_start(calendar, start_date, preferred, slots, now)
    sessions = at_time(slots, calendar, preferred)
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
