"""Finding a time and chair for one session: a make-up, a moved taper session, a replanned one.

The rule: the patient's usual local time in a free fitting chair; else the nearest free
time that day; else the next open day, the same way.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from .allocation import ChairBook
from .calendar import NonexistentLocalTime, SiteCalendar
from .planning import in_opening_hours, minutes_to_time, time_to_minutes

# How far ahead a single session is looked for before giving up.
PLACEMENT_HORIZON_DAYS = 120

# Whether the patient may have a session at [starts_at, ends_at): see spacing.spacing_problem.
Allowed = Callable[[datetime, datetime], bool]


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


def _free_chair(book: ChairBook, chairs: list[int], starts_at: datetime, ends_at: datetime) -> int | None:
    return next((c for c in chairs if book.is_free(c, starts_at, ends_at)), None)


def place_session(calendar: SiteCalendar, book: ChairBook, *, first_day: date, preferred: time, minutes: int,
                  chair_order: Iterable[int], step_minutes: int, blocked_days: frozenset[date] = frozenset(),
                  not_before: datetime | None = None, days: int = PLACEMENT_HORIZON_DAYS,
                  allowed: Allowed | None = None) -> Placement | None:
    """The first open day of `days` from `first_day` (skipping `blocked_days`) with a free chair, nearest to
    `preferred`.

    A place is inside opening hours by the local clock from start to end (real minutes,
    so also on a daylight-saving day), not before `not_before`, and, when `allowed` is
    given, one it accepts (the patient's own spacing: see spacing.spacing_problem).
    """
    chairs = list(dict.fromkeys([*chair_order, *book.chair_ids]))
    candidates = times_nearest(calendar, preferred, minutes, step_minutes)
    length = timedelta(minutes=minutes)
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
            ends_at = starts_at + length
            if not in_opening_hours(calendar, day, starts_at, ends_at):
                continue
            if allowed is not None and not allowed(starts_at, ends_at):
                continue
            chair_id = _free_chair(book, chairs, starts_at, ends_at)
            if chair_id is not None:
                return Placement(day, starts_at, ends_at, chair_id)
    return None


def place_from(calendar: SiteCalendar, book: ChairBook, *, day: date, not_before: datetime, minutes: int,
               chair_order: Iterable[int], step_minutes: int, allowed: Allowed | None = None) -> Placement | None:
    """The earliest place on local `day` from the instant `not_before` on, or None.

    Tried in time order: `not_before` itself (off the step grid if need be: the protocol's
    gap after a session, to the minute), then the day's start times on the step grid from
    opening that come after it. Each must be inside opening hours by the local clock (real
    minutes), have a free chair (`chair_order` first, then the book's others) and, when
    `allowed` is given, be accepted by it.
    """
    if not calendar.is_open_on(day):
        return None
    not_before = not_before.astimezone(UTC)  # arithmetic in real minutes, whatever zone it came in
    chairs = list(dict.fromkeys([*chair_order, *book.chair_ids]))
    length = timedelta(minutes=minutes)
    starts = [not_before]
    opens, closes = time_to_minutes(calendar.opens), time_to_minutes(calendar.closes)
    for m in range(opens, closes - minutes + 1, step_minutes):
        try:
            at = calendar.instant(day, minutes_to_time(m))
        except NonexistentLocalTime:
            continue
        if at > not_before:
            starts.append(at)
    for starts_at in sorted(set(starts)):
        ends_at = starts_at + length
        if not in_opening_hours(calendar, day, starts_at, ends_at):
            continue
        if allowed is not None and not allowed(starts_at, ends_at):
            continue
        chair_id = _free_chair(book, chairs, starts_at, ends_at)
        if chair_id is not None:
            return Placement(day, starts_at, ends_at, chair_id)
    return None
