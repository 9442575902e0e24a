"""How one patient's sessions may sit next to one another (DOMAIN.md, treatment protocols).

- A patient is never in two chairs at once: no two of the patient's chair-holding
  sessions overlap, whatever the protocol.
- One session a day, except in accelerated protocols, which give at most
  `sessions_per_day` on any one local day.
- Accelerated protocols: each session starts at least `min_gap_minutes` after the
  previous one of the patient ends, counted in real (elapsed) minutes: the instants are
  compared, so a daylight-saving night never shortens the gap.

Every check here takes instants (aware datetimes in any zone; they are compared in UTC,
as real time) and
`others`: the patient's OTHER chair-holding sessions (scheduled, checked in, completed),
the one being placed left out. An item of `others` is either a plain
`(starts_at, ends_at)` pair or any object with `starts_at` and `ends_at` attributes (a
`CourseSession`, a `PlannedSession`, a `Placement`, a database row). `day_of` maps an
instant to the site's local date (`SiteCalendar.local_date`).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

Span = tuple[datetime, datetime]
DayOf = Callable[[datetime], date]


def span_of(item: Any) -> Span:
    """(starts_at, ends_at) of a pair or of anything with `starts_at` and `ends_at`, in UTC.

    In UTC because Python compares and subtracts two datetimes of the same zone by their
    wall clocks: 03:00 PDT minus 01:45 PST would be 75 minutes, not the real 15.
    """
    start, end = (item[0], item[1]) if isinstance(item, tuple) else (item.starts_at, item.ends_at)
    return start.astimezone(UTC), end.astimezone(UTC)


def overlaps(a: Span, b: Span) -> bool:
    """The half-open spans [start, end) share a moment (one ending as the other starts does not)."""
    return a[0] < b[1] and b[0] < a[1]


def too_close(a: Span, b: Span, min_gap_minutes: int) -> bool:
    """Less than `min_gap_minutes` real minutes lie between two spans that do not overlap."""
    gap = timedelta(minutes=min_gap_minutes)
    return b[0] - a[1] < gap if a[0] <= b[0] else a[0] - b[1] < gap


def sessions_on(others: Iterable[Any], day: date, day_of: DayOf) -> int:
    """How many of `others` start on local `day`."""
    return sum(1 for o in others if day_of(span_of(o)[0]) == day)


def _clock(instant: datetime, zone: tzinfo | None) -> str:
    return f"{instant.astimezone(zone):%H:%M}" if zone is not None else instant.isoformat()


def spacing_problem(others: Iterable[Any], starts_at: datetime, ends_at: datetime, *, min_gap_minutes: int = 0,
                    sessions_per_day: int = 1, day_of: DayOf, zone: tzinfo | None = None) -> str | None:
    """The reason a session of the patient may not be at [starts_at, ends_at); None when it may.

    In this order:
    1. it overlaps another of the patient's sessions: "the patient would be in two
       chairs at once ..." (any protocol);
    2. when `sessions_per_day` > 1 and `min_gap_minutes` > 0: it starts less than the gap
       after another ends, or ends less than the gap before another starts (real minutes,
       on any day);
    3. its local day (`day_of(starts_at)`) already holds `sessions_per_day` of `others`;
       for `sessions_per_day` == 1 that is the one-session-a-day rule.
    `zone` (optional) only writes the clock times in the reason in the site's zone.
    """
    spans = [span_of(o) for o in others]
    mine = span_of((starts_at, ends_at))
    starts_at = mine[0]
    for other in spans:
        if overlaps(mine, other):
            return (f"the patient would be in two chairs at once: another session of theirs runs from "
                    f"{_clock(other[0], zone)} to {_clock(other[1], zone)} on {day_of(other[0])}")
    if sessions_per_day > 1 and min_gap_minutes > 0:
        for other in spans:
            if too_close(mine, other, min_gap_minutes):
                return (f"sessions of the protocol must be at least {min_gap_minutes} minutes apart: another "
                        f"session of the patient runs from {_clock(other[0], zone)} to {_clock(other[1], zone)} "
                        f"on {day_of(other[0])}")
    day = day_of(starts_at)
    near = timedelta(days=2)  # only sessions this close can share a local day; spares the zone look-ups
    held = sum(1 for other in spans if abs(other[0] - starts_at) < near and day_of(other[0]) == day)
    if held >= sessions_per_day:
        if sessions_per_day == 1:
            return f"the patient already has a session on {day}; one treatment session a day"
        return f"the patient already has {held} sessions on {day}, the most the protocol gives in a day"
    return None


def earliest_start(others: Iterable[Any], not_before: datetime, minutes: int, *, min_gap_minutes: int) -> datetime:
    """The earliest instant from `not_before` on at which a session of `minutes` overlaps none of
    `others` and keeps `min_gap_minutes` real minutes from each (the per-day count is not looked at)."""
    spans = sorted(span_of(o) for o in others)
    gap, length = timedelta(minutes=min_gap_minutes), timedelta(minutes=minutes)
    start = not_before.astimezone(UTC)
    moved = True
    while moved:
        moved = False
        for other in spans:
            if overlaps((start - gap, start + length + gap), other):
                start = other[1] + gap
                moved = True
    return start


def plan_problem(sessions: Iterable[Any], *, min_gap_minutes: int, sessions_per_day: int, day_of: DayOf,
                 zone: tzinfo | None = None) -> str | None:
    """The first way a whole set of one patient's sessions breaks the rules above; None when it keeps them.

    Checks neighbours in time order (linear after sorting): no overlap, the gap between
    sessions of an accelerated protocol, at most `sessions_per_day` a local day (an item's
    own `day` attribute, where it has one, is taken for its local day).
    """
    # An item's own `day` (a PlannedSession's, a CourseSession's) spares a zone look-up.
    items = sorted(((*span_of(s), getattr(s, "day", None)) for s in sessions), key=lambda i: i[0])
    per_day: dict[date, int] = {}
    previous: Span | None = None
    for start, end, day in items:
        span = (start, end)
        day = day or day_of(start)
        if previous is not None:
            if overlaps(previous, span):
                return (f"two sessions of the patient would overlap on {day} at "
                        f"{_clock(start, zone)}: the patient would be in two chairs at once")
            if sessions_per_day > 1 and too_close(previous, span, min_gap_minutes):
                return (f"two sessions on {day} would be less than {min_gap_minutes} minutes apart "
                        f"(at {_clock(previous[1], zone)} and {_clock(start, zone)})")
        per_day[day] = per_day.get(day, 0) + 1
        if per_day[day] > sessions_per_day:
            return f"{per_day[day]} sessions on {day}; the protocol gives at most {sessions_per_day} a day"
        previous = span
    return None
