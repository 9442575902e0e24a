"""Loading the rows a use case needs, and turning them into domain values."""
from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db import models
from ..domain.calendar import HolidayCalendar, HolidayRule, SiteCalendar
from ..domain.errors import NotFound
from ..domain.protocols import Cadence, Phase, Protocol


def get_or_404(db: Session, model, key, what: str, field: str | None = None):
    row = db.get(model, key)
    if row is None:
        raise NotFound(f"No {what} with id {key!r}", {field: f"unknown {what}"} if field else None)
    return row


def holiday_calendar(db: Session, calendar_id: str) -> HolidayCalendar:
    row = get_or_404(db, models.HolidayCalendarRow, calendar_id, "holiday calendar")
    return HolidayCalendar(
        id=row.id,
        country=row.country,
        rules=tuple(HolidayRule(r["name"], r.get("offset_days", 0)) for r in row.rules),
    )


def site_calendar(db: Session, site: models.Site, first: date, last: date) -> SiteCalendar:
    """The site's hours and every closed date (own closures and holidays) from first to last."""
    closures = db.scalars(
        select(models.Closure.date).where(
            models.Closure.site_id == site.id, models.Closure.date >= first, models.Closure.date <= last
        )
    ).all()
    holidays = holiday_calendar(db, site.holiday_calendar).closed_dates(first, last)
    return SiteCalendar(
        zone=ZoneInfo(site.timezone),
        open_days=frozenset(site.open_days),
        opens=site.opens,
        closes=site.closes,
        closed_dates=frozenset(closures) | holidays,
    )


def cadence_of(row: models.Protocol) -> Cadence:
    return Cadence(
        phases=tuple(Phase(p["sessions"], p["days_per_week"]) for p in row.phases),
        mapping_minutes=row.mapping_minutes,
        session_minutes=row.session_minutes,
        sessions_per_day=row.sessions_per_day,
        min_gap_minutes=row.min_gap_minutes,
    )


def protocol_of(row: models.Protocol) -> Protocol:
    return Protocol(id=row.id, name=row.name, coil=row.coil, cadence=cadence_of(row))
