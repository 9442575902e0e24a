"""The demo clinic's rules as plain domain objects, for the unit tests.

The demo protocols are read from tms_scheduler/services/demo.py with `ast` rather than
imported, so the unit tests stay free of SQLAlchemy and stay in step with the demo data.
"""
from __future__ import annotations

import ast
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import tms_scheduler
from tms_scheduler.domain.calendar import US_CLINIC, SiteCalendar
from tms_scheduler.domain.planning import PlannedSession, at_time, lay_out
from tms_scheduler.domain.protocols import Cadence, Phase

PACKAGE_DIR = Path(tms_scheduler.__file__).resolve().parent
LA = ZoneInfo("America/Los_Angeles")
WEEKDAYS = frozenset({1, 2, 3, 4, 5})
MON_TO_SAT = frozenset({1, 2, 3, 4, 5, 6})
EVERY_DAY = frozenset(range(1, 8))
SPRING_FORWARD = date(2027, 3, 14)  # Sunday: 02:00 PST becomes 03:00 PDT in Los Angeles
FALL_BACK = date(2027, 11, 7)  # Sunday: 02:00 PDT becomes 01:00 PST


def _demo_protocols() -> dict[str, dict]:
    tree = ast.parse((PACKAGE_DIR / "services" / "demo.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        else:
            continue
        if any(getattr(t, "id", None) == "PROTOCOLS" for t in targets) and node.value is not None:
            return {p["id"]: p for p in ast.literal_eval(node.value)}
    raise AssertionError("services/demo.py has no PROTOCOLS list")


DEMO_PROTOCOLS = _demo_protocols()


def cadence(protocol_id: str) -> Cadence:
    row = DEMO_PROTOCOLS[protocol_id]
    return Cadence(
        phases=tuple(Phase(p["sessions"], p["days_per_week"]) for p in row["phases"]),
        mapping_minutes=row["mapping_minutes"],
        session_minutes=row["session_minutes"],
        sessions_per_day=row["sessions_per_day"],
        min_gap_minutes=row["min_gap_minutes"],
    )


def site(closures: frozenset[date] = frozenset(), holidays: bool = True, open_days=WEEKDAYS,
         opens: time = time(7), closes: time = time(19)) -> SiteCalendar:
    """A demo site (Los Angeles, Mon-Fri 07:00-19:00, us-clinic holidays) plus its own closures."""
    closed = frozenset(closures)
    if holidays:
        closed |= US_CLINIC.closed_dates(date(2026, 1, 1), date(2029, 12, 31))
    return SiteCalendar(zone=LA, open_days=frozenset(open_days), opens=opens, closes=closes, closed_dates=closed)


def around_the_clock(opens: time = time(0), closes: time = time(23, 30)) -> SiteCalendar:
    """A site open every day of the week, no holidays, from `opens` to `closes` (Los Angeles):
    its hours span the night the clocks change."""
    return site(holidays=False, open_days=EVERY_DAY, opens=opens, closes=closes)


def plan(protocol_id: str, start: date, at: time = time(9),
         calendar: SiteCalendar | None = None) -> list[PlannedSession]:
    calendar = calendar or site()
    return at_time(lay_out(cadence(protocol_id), calendar, start), calendar, at)


def local(instant: datetime) -> datetime:
    return instant.astimezone(LA)


def la(day: date, hour: int, minute: int = 0) -> datetime:
    """An aware datetime at local time in Los Angeles."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LA)


def weekdays_from(start: date, count: int, calendar: SiteCalendar) -> list[date]:
    """The first `count` open days from `start` on, in order."""
    found, day = [], start
    while len(found) < count:
        if calendar.is_open_on(day):
            found.append(day)
        day += timedelta(days=1)
    return found


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def by_day(sessions) -> dict[date, list]:
    """Sessions grouped by their local day, each day's in time order."""
    days: dict[date, list] = {}
    for s in sorted(sessions, key=lambda s: s.starts_at):
        days.setdefault(s.day, []).append(s)
    return days


def real_gaps(sessions) -> list[timedelta]:
    """Real (elapsed) time from each session's end to the next one's start, in time order."""
    ordered = sorted(sessions, key=lambda s: s.starts_at)
    return [b.starts_at - a.ends_at for a, b in zip(ordered, ordered[1:])]
