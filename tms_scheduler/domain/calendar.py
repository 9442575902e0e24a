from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays as holiday_tables


@dataclass(frozen=True)
class HolidayRule:
    """A holiday named as the `holidays` package names it, shifted by `offset_days`.

    "Thanksgiving Day" with offset 1 is the day after Thanksgiving. Observed dates
    ("Christmas Day (observed)") close too.
    """

    name: str
    offset_days: int = 0

    def label(self, name_of_the_day: str) -> str:
        """How the closure is named: "Thanksgiving Day", "the day after Thanksgiving Day"."""
        if self.offset_days == 0:
            return name_of_the_day
        after = "the day after" if self.offset_days == 1 else f"{self.offset_days} days after"
        return f"{after} {name_of_the_day}"


@dataclass(frozen=True)
class HolidayCalendar:
    id: str
    country: str | None
    rules: tuple[HolidayRule, ...] = ()

    def closed_dates(self, first: date, last: date) -> frozenset[date]:
        closed: set[date] = set()
        for year in range(first.year, last.year + 1):
            closed |= _closed_in_year(self, year).keys()
        return frozenset(d for d in closed if first <= d <= last)

    def holiday_on(self, day: date) -> str | None:
        """The holiday the calendar closes on `day` ("Christmas Day (observed)"), or None."""
        return _closed_in_year(self, day.year).get(day)


@lru_cache(maxsize=256)
def _closed_in_year(calendar: HolidayCalendar, year: int) -> dict[date, str]:
    if not calendar.country or not calendar.rules:
        return {}
    # A year's holidays can be observed in the year before (New Year's Day on a
    # Saturday is observed on 31 December), so look one year either side.
    table = holiday_tables.country_holidays(calendar.country, years=range(year - 1, year + 2), observed=True)
    closed: dict[date, str] = {}
    for day, names in table.items():
        for name in names.split("; "):
            base = name.removesuffix(" (observed)")
            for rule in calendar.rules:
                if rule.name == base:
                    shifted = day + timedelta(days=rule.offset_days)
                    if shifted.year == year:
                        closed[shifted] = rule.label(name)
    return closed


US_CLINIC = HolidayCalendar(
    id="us-clinic",
    country="US",
    rules=(
        HolidayRule("New Year's Day"),
        HolidayRule("Memorial Day"),
        HolidayRule("Independence Day"),
        HolidayRule("Labor Day"),
        HolidayRule("Thanksgiving Day"),
        HolidayRule("Thanksgiving Day", offset_days=1),
        HolidayRule("Christmas Day"),
    ),
)
NO_HOLIDAYS = HolidayCalendar(id="none", country=None)


class NonexistentLocalTime(ValueError):
    pass


def local_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of a local wall-clock time; refuses a time that a DST change skips."""
    local = datetime.combine(day, at, tzinfo=zone)
    instant = local.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != local.replace(tzinfo=None):
        raise NonexistentLocalTime(f"{at:%H:%M} does not exist on {day} in {zone.key}")
    return instant


@lru_cache(maxsize=4096)
def _offset_over_hours(zone: ZoneInfo, day: date, opens: time, closes: time) -> timedelta | None:
    """The zone's UTC offset on `day` if it is the same from opening to closing, else None."""
    first = datetime.combine(day, opens, tzinfo=zone).utcoffset()
    last = datetime.combine(day, closes, tzinfo=zone).utcoffset()
    return first if first == last else None


def day_start(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant a local day begins (where midnight is skipped, the hour after it)."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


@dataclass(frozen=True)
class SiteCalendar:
    """When a site treats: open weekdays (ISO, 1 = Monday), hours, and closed dates."""

    zone: ZoneInfo
    open_days: frozenset[int]
    opens: time
    closes: time
    closed_dates: frozenset[date] = field(default_factory=frozenset)

    def is_open_on(self, day: date) -> bool:
        return day.isoweekday() in self.open_days and day not in self.closed_dates

    def within_hours(self, start: time, minutes: int) -> bool:
        """A slot of `minutes` starting at local `start` ends by closing time."""
        begin = start.hour * 60 + start.minute
        return begin >= self.opens.hour * 60 + self.opens.minute and (
            begin + minutes <= self.closes.hour * 60 + self.closes.minute
        )

    def instant(self, day: date, at: time) -> datetime:
        # Over opening hours a day almost always has one UTC offset (clocks change at
        # night); then the instant is plain arithmetic, and the full check is kept for
        # days whose offset changes during opening hours.
        offset = _offset_over_hours(self.zone, day, self.opens, self.closes)
        if offset is not None and self.opens <= at <= self.closes:
            return datetime.combine(day, at).replace(tzinfo=UTC) - offset
        return local_instant(day, at, self.zone)

    def local_date(self, instant: datetime) -> date:
        return instant.astimezone(self.zone).date()
