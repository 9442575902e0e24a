"""Finding a time and chair for one session: a make-up, a moved taper session, a replanned one.

The rule: the patient's usual local time in a free fitting chair; else the nearest free
time that day; else the next open day, the same way.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from .allocation import ChairBook
from .calendar import NonexistentLocalTime, SiteCalendar
from .planning import minutes_to_time, time_to_minutes

# How far ahead a single session is looked for before giving up.
PLACEMENT_HORIZON_DAYS = 120


@dataclass(frozen=True)
class Placement:
    day: date
    starts_at: datetime
    ends_at: datetime
    chair_id: int


def times_nearest(calendar: SiteCalendar, preferred: time, minutes: int, step_minutes: int) -> list[time]:
    """Start times inside opening hours, the preferred one first, then by distance from it (earlier on a tie)."""
    opens, closes = time_to_minutes(calendar.opens), time_to_minutes(calendar.closes)
    wanted = time_to_minutes(preferred)
    starts = set(range(opens, closes - minutes + 1, step_minutes))
    if opens <= wanted <= closes - minutes:
        starts.add(wanted)
    return [minutes_to_time(m) for m in sorted(starts, key=lambda m: (abs(m - wanted), m))]


def place_session(calendar: SiteCalendar, book: ChairBook, *, first_day: date, preferred: time, minutes: int,
                  chair_order: Iterable[int], step_minutes: int, blocked_days: frozenset[date] = frozenset(),
                  not_before: datetime | None = None, days: int = PLACEMENT_HORIZON_DAYS) -> Placement | None:
    """The first open day of `days` from `first_day` (skipping `blocked_days`) with a free chair, nearest to `preferred`."""
    chairs = list(dict.fromkeys([*chair_order, *book.chair_ids]))
    candidates = times_nearest(calendar, preferred, minutes, step_minutes)
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        if not calendar.is_open_on(day) or day in blocked_days:
            continue
        for at in candidates:
            try:
                starts_at = calendar.instant(day, at)
            except NonexistentLocalTime:
                continue
            if not_before is not None and starts_at < not_before:
                continue
            ends_at = starts_at + timedelta(minutes=minutes)
            for chair_id in chairs:
                if book.is_free(chair_id, starts_at, ends_at):
                    return Placement(day, starts_at, ends_at, chair_id)
    return None
