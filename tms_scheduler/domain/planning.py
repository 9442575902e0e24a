"""Laying a course out in time: which days, which local times, in the site's zone."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache

from .calendar import NonexistentLocalTime, SiteCalendar
from .errors import RuleViolation
from .protocols import Cadence

# A course that cannot be laid out within this many days is refused rather than
# searched for forever (a site open one day a month, say).
PLANNING_HORIZON_DAYS = 2 * 366

MAPPING, TREATMENT, TAPER, MAKEUP = "mapping", "treatment", "taper", "makeup"
SESSION_KINDS = (MAPPING, TREATMENT, TAPER, MAKEUP)


@dataclass(frozen=True)
class SessionSlot:
    """A session's place in the course before it has a clock time.

    `offset_minutes` counts real (elapsed, UTC) minutes from the day's first start: 0 for
    daily protocols, later for the 2nd..10th session of an accelerated day (each one the
    protocol's gap after the previous one ends). A daylight-saving change during the day
    shifts the later sessions' wall-clock times, never their real spacing.
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


def _too_few_open_days() -> RuleViolation:
    return RuleViolation(
        "The course cannot be laid out: too few open days at the site",
        {"start_date": f"no room for the course within {PLANNING_HORIZON_DAYS} days"},
    )


def next_open_days(calendar: SiteCalendar, first: date, count: int, limit: date | None = None) -> list[date]:
    """The first `count` open days from `first` on (closures skipped), in order; a RuleViolation past `limit`."""
    limit = limit or first + timedelta(days=PLANNING_HORIZON_DAYS)
    days: list[date] = []
    day = first
    while len(days) < count:
        if day > limit:
            raise _too_few_open_days()
        if calendar.is_open_on(day):
            days.append(day)
        day += timedelta(days=1)
    return days


def lay_out(cadence: Cadence, calendar: SiteCalendar, start_date: date, from_phase: int = 0) -> list[SessionSlot]:
    """Every session's day and order by the cadence: phase by phase, week by week.

    A phase of several sessions a day (accelerated) takes the next open days one after
    another from `start_date`, closures and holidays skipped and whatever the week (at a
    site open Monday to Saturday: Tue, Wed, Thu, Fri, Sat from a Tuesday); its
    `days_per_week` plays no part. Any other phase gives its sessions on `days_per_week`
    of each week's open days; a phase after the first begins in the week after the
    previous one ended, so the taper never crowds into the daily phase's last week.
    `from_phase` lays out only the phases from that one on (the taper, when it moves back
    behind make-ups).
    """
    return list(_lay_out(cadence, calendar, start_date, from_phase))


# A layout depends only on these immutable arguments, and the same one is asked for again and
# again (a booking retried, every start time of a day tried); each caller gets its own list.
@lru_cache(maxsize=512)
def _lay_out(cadence: Cadence, calendar: SiteCalendar, start_date: date, from_phase: int) -> tuple[SessionSlot, ...]:
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
        if cadence.sessions_per_day > 1:
            # Accelerated: consecutive open days, whatever the week (closures skipped).
            days = next_open_days(calendar, cursor, days_needed, limit)
        else:
            days = []
            while len(days) < days_needed:
                if cursor > limit:
                    raise _too_few_open_days()
                week_end = monday_of(cursor) + timedelta(days=6)
                open_days = [
                    cursor + timedelta(days=i)
                    for i in range((week_end - cursor).days + 1)
                    if calendar.is_open_on(cursor + timedelta(days=i))
                ]
                wanted = min(phase.days_per_week, days_needed - len(days))
                # A daily phase treats on every open day, so its last sessions take the next
                # open days; a phase of fewer days a week spreads them across the week.
                daily = phase.days_per_week >= len(calendar.open_days)
                days += open_days[:wanted] if daily else spread(open_days, wanted)
                cursor = week_end + timedelta(days=1)
        for day in days:
            offset = 0
            for _ in range(min(cadence.sessions_per_day, left_in_phase)):
                minutes = cadence.minutes_of(number)
                slots.append(SessionSlot(number, MAPPING if number == 1 else kind, day, offset, minutes))
                offset += minutes + cadence.min_gap_minutes
                number += 1
                left_in_phase -= 1
        cursor = monday_of(days[-1]) + timedelta(days=7)
    return tuple(slots)


def minutes_to_time(minutes: int) -> time:
    return time(minutes // 60, minutes % 60)


def time_to_minutes(at: time) -> int:
    return at.hour * 60 + at.minute


def in_opening_hours(calendar: SiteCalendar, day: date, starts_at: datetime, ends_at: datetime) -> bool:
    """[starts_at, ends_at) lies on local `day` inside the site's opening hours, by the local clock.

    The instants are real; their wall-clock times are read in the site's zone, so a
    session over a daylight-saving change ends when the clock on the wall says it does.
    """
    zone = calendar.zone
    begin, end = starts_at.astimezone(zone), ends_at.astimezone(zone)
    return (begin.date() == day == end.date()
            and calendar.opens <= begin.time() and end.time() <= calendar.closes)


def opening_hours_problem(slots: list[SessionSlot], calendar: SiteCalendar, start: time) -> str | None:
    """Why the slots cannot start at local `start` inside opening hours; None when every one fits.

    The day's first session is at `start` on the local clock, each later one its offset in
    real minutes after it (see `at_time`), and each must start and end inside the site's
    hours on its own local day.
    """
    # Session by session, so a start outside the hours is told at once, not after the whole course.
    day_firsts: dict[date, datetime] = {}
    for s in slots:
        first = day_firsts.get(s.day)
        if first is None:
            try:
                first = day_firsts[s.day] = calendar.instant(s.day, start)
            except NonexistentLocalTime as exc:
                return str(exc)
        starts_at = first + timedelta(minutes=s.offset_minutes)
        ends_at = starts_at + timedelta(minutes=s.minutes)
        if not in_opening_hours(calendar, s.day, starts_at, ends_at):
            return _outside_hours(calendar, PlannedSession(s.number, s.kind, s.day, starts_at, ends_at))
    return None


def planned_hours_problem(planned: list[PlannedSession], calendar: SiteCalendar) -> str | None:
    """Why one of the planned sessions is not inside opening hours on its local day; None when all are."""
    for s in planned:
        if not in_opening_hours(calendar, s.day, s.starts_at, s.ends_at):
            return _outside_hours(calendar, s)
    return None


def _outside_hours(calendar: SiteCalendar, s: PlannedSession) -> str:
    begin, end = s.starts_at.astimezone(calendar.zone), s.ends_at.astimezone(calendar.zone)
    return (f"session {s.number} on {s.day} would run from {begin:%H:%M} to {end:%H:%M}"
            f"{'' if end.date() == s.day else f' on {end.date()}'}, outside opening hours "
            f"{calendar.opens:%H:%M}-{calendar.closes:%H:%M}")


def fits_opening_hours(slots: list[SessionSlot], calendar: SiteCalendar, start: time) -> bool:
    """Every slot, started at local `start` as `at_time` places it, is inside opening hours."""
    return opening_hours_problem(slots, calendar, start) is None


def at_time(slots: list[SessionSlot], calendar: SiteCalendar, start: time) -> list[PlannedSession]:
    """Give every slot its instant: the day's first session at local `start`, in the site's zone,
    each later one of the day `offset_minutes` real minutes after it (instant arithmetic, so a
    daylight-saving change never shortens the gap between two sessions).

    A `start` the clock skips on one of the days is a RuleViolation.
    """
    planned = []
    day_firsts: dict[date, datetime] = {}
    for s in slots:
        first = day_firsts.get(s.day)
        if first is None:
            try:
                first = day_firsts[s.day] = calendar.instant(s.day, start)
            except NonexistentLocalTime as exc:
                raise RuleViolation(str(exc), {"preferred_time": str(exc)}) from None
        starts_at = first + timedelta(minutes=s.offset_minutes)
        planned.append(PlannedSession(s.number, s.kind, s.day, starts_at, starts_at + timedelta(minutes=s.minutes)))
    return planned


def candidate_times(calendar: SiteCalendar, step_minutes: int) -> list[time]:
    opens, closes = time_to_minutes(calendar.opens), time_to_minutes(calendar.closes)
    return [minutes_to_time(m) for m in range(opens, closes, step_minutes)]
