"""Laying a course out in time: which days, which local times, in the site's zone."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from .calendar import NonexistentLocalTime, SiteCalendar
from .errors import RuleViolation
from .protocols import Cadence

# A course that cannot be laid out within this many days is refused rather than
# searched for forever (a site open one day a month, say).
PLANNING_HORIZON_DAYS = 2 * 366

MAPPING, TREATMENT, TAPER, MAKEUP = "mapping", "treatment", "taper", "makeup"


@dataclass(frozen=True)
class SessionSlot:
    """A session's place in the course before it has a clock time.

    `offset_minutes` counts from the day's first start: 0 for daily protocols, later
    for the 2nd..10th session of an accelerated day.
    """

    number: int
    kind: str
    day: date
    offset_minutes: int
    minutes: int


@dataclass(frozen=True)
class PlannedSession:
    number: int
    kind: str
    day: date
    starts_at: datetime
    ends_at: datetime


def spread(days: list[date], count: int) -> list[date]:
    """Pick `count` of a week's open days as evenly apart as they go (3 of Mon-Fri: Mon, Wed, Fri)."""
    if count >= len(days):
        return list(days)
    n = len(days)
    return [days[int((i + 0.5) * n / count)] for i in range(count)]


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def lay_out(cadence: Cadence, calendar: SiteCalendar, start_date: date, from_phase: int = 0) -> list[SessionSlot]:
    """Every session's day and order by the cadence: phase by phase, week by week.

    Each phase gives its sessions on `days_per_week` of each week's open days; a
    phase after the first begins in the week after the previous one ended, so the
    taper never crowds into the daily phase's last week. `from_phase` lays out only
    the phases from that one on (the taper, when it moves back behind make-ups).
    """
    if not calendar.open_days:
        raise RuleViolation("The site has no open days", {"site_id": "the site is open on no weekday"})
    slots: list[SessionSlot] = []
    number = 1 + sum(p.sessions for p in cadence.phases[:from_phase])
    cursor = start_date
    limit = start_date + timedelta(days=PLANNING_HORIZON_DAYS)
    for phase_index, phase in enumerate(cadence.phases):
        if phase_index < from_phase:
            continue
        kind = TREATMENT if phase_index == 0 else TAPER
        days_needed = -(-phase.sessions // cadence.sessions_per_day)
        left_in_phase = phase.sessions
        last_day = cursor
        while days_needed:
            if cursor > limit:
                raise RuleViolation(
                    "The course cannot be laid out: too few open days at the site",
                    {"start_date": f"no room for the course within {PLANNING_HORIZON_DAYS} days"},
                )
            week_end = monday_of(cursor) + timedelta(days=6)
            open_days = [
                cursor + timedelta(days=i)
                for i in range((week_end - cursor).days + 1)
                if calendar.is_open_on(cursor + timedelta(days=i))
            ]
            wanted = min(phase.days_per_week, days_needed)
            # A daily phase treats on every open day, so its last sessions take the next
            # open days; a phase of fewer days a week spreads them across the week.
            daily = phase.days_per_week >= len(calendar.open_days)
            for day in (open_days[:wanted] if daily else spread(open_days, wanted)):
                offset = 0
                for _ in range(min(cadence.sessions_per_day, left_in_phase)):
                    minutes = cadence.minutes_of(number)
                    slots.append(SessionSlot(number, MAPPING if number == 1 else kind, day, offset, minutes))
                    offset += minutes + cadence.min_gap_minutes
                    number += 1
                    left_in_phase -= 1
                days_needed -= 1
                last_day = day
            cursor = week_end + timedelta(days=1)
        cursor = monday_of(last_day) + timedelta(days=7)
    return slots


def minutes_to_time(minutes: int) -> time:
    return time(minutes // 60, minutes % 60)


def time_to_minutes(at: time) -> int:
    return at.hour * 60 + at.minute


def fits_opening_hours(slots: list[SessionSlot], calendar: SiteCalendar, start: time) -> bool:
    base = time_to_minutes(start)
    opens, closes = time_to_minutes(calendar.opens), time_to_minutes(calendar.closes)
    return all(
        base + s.offset_minutes >= opens and base + s.offset_minutes + s.minutes <= closes for s in slots
    )


def at_time(slots: list[SessionSlot], calendar: SiteCalendar, start: time) -> list[PlannedSession]:
    """Give every slot its instant: the day's first session at local `start`, in the site's zone."""
    base = time_to_minutes(start)
    planned = []
    for s in slots:
        begin = base + s.offset_minutes
        try:
            starts_at = calendar.instant(s.day, minutes_to_time(begin))
        except NonexistentLocalTime as exc:
            raise RuleViolation(str(exc), {"preferred_time": str(exc)}) from None
        planned.append(PlannedSession(s.number, s.kind, s.day, starts_at, starts_at + timedelta(minutes=s.minutes)))
    return planned


def candidate_times(calendar: SiteCalendar, step_minutes: int) -> list[time]:
    opens, closes = time_to_minutes(calendar.opens), time_to_minutes(calendar.closes)
    return [minutes_to_time(m) for m in range(opens, closes, step_minutes)]
