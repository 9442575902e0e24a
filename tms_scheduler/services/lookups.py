"""Loading the rows a use case needs, and turning them into domain values."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db import models
from ..domain import lifecycle
from ..domain.allocation import ChairBook
from ..domain.calendar import HolidayCalendar, HolidayRule, SiteCalendar, day_start
from ..domain.errors import NotFound
from ..domain.protocols import Cadence, Phase, Protocol

Row = TypeVar("Row", bound=models.Base)


def not_found(what: str, key: Any, field: str | None = None) -> NotFound:
    return NotFound(f"No {what} with id {key!r}", {field: f"unknown {what}"} if field else None)


def get_or_404(db: Session, model: type[Row], key: Any, what: str, field: str | None = None) -> Row:
    row = db.get(model, key)
    if row is None:
        raise not_found(what, key, field)
    return row


def referenced(db: Session, model: type[Row], key: Any) -> Row:
    """A row another row's foreign key names: there by the database's own guarantee."""
    row = db.get(model, key)
    if row is None:
        raise LookupError(f"{model.__tablename__} {key!r} is referenced but missing")
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


def why_closed(db: Session, site: models.Site, day: date) -> str | None:
    """Why the site does not treat on `day`: its own closure's reason, a holiday, or a weekday it is
    not open on; None on an open day."""
    reason = db.scalar(select(models.Closure.reason).where(models.Closure.site_id == site.id,
                                                          models.Closure.date == day))
    if reason is not None:
        return reason
    holiday = holiday_calendar(db, site.holiday_calendar).holiday_on(day)
    if holiday is not None:
        return holiday
    if day.isoweekday() not in site.open_days:
        return f"the site is not open on {day:%A}s"
    return None


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


# A far-off instant, standing for "until further notice" in a chair's busy times.
FOREVER = datetime(9999, 1, 1, tzinfo=UTC)


def fitting_chairs(db: Session, site_id: str, coil: str, *, lock: bool = True) -> dict[int, date | None]:
    """The site's active chairs with the coil, by id, with the day each goes out of service.

    The rows are locked (FOR UPDATE on PostgreSQL) for the rest of the transaction, so two
    changes at one site read and book the same chairs one after the other instead of
    racing to the exclusion constraint. A read-only search passes `lock=False` and locks nothing.
    """
    query = (select(models.Chair.id, models.Chair.out_of_service_from)
             .where(models.Chair.site_id == site_id, models.Chair.coil == coil, models.Chair.active.is_(True))
             .order_by(models.Chair.id))
    return dict(db.execute(query.with_for_update() if lock else query).all())


def chair_book(db: Session, chairs: dict[int, date | None], zone: ZoneInfo, first_day: date,
               last_day: date) -> ChairBook:
    """The chairs' busy times over [first_day, last_day], read with one indexed range query.

    A chair out of service is busy from that day on; what is still booked in it after
    that day is on its way out and does not count.
    """
    start, end = day_start(first_day, zone), day_start(last_day + timedelta(days=1), zone)
    rows: list[tuple[int, datetime, datetime]] = [(r[0], r[1], r[2]) for r in db.execute(
        select(models.TreatmentSession.chair_id, models.TreatmentSession.starts_at, models.TreatmentSession.ends_at)
        .where(models.TreatmentSession.chair_id.in_(list(chairs)),
               models.TreatmentSession.status.in_(lifecycle.CHAIR_HOLDING),
               # Sessions are all shorter than a day, so a start a day before the window bounds the scan.
               models.TreatmentSession.starts_at >= start - timedelta(days=1),
               models.TreatmentSession.starts_at < end)
    )]
    for chair_id, from_day in chairs.items():
        if from_day is None:
            continue
        retired_at = day_start(from_day, zone)
        rows = [r for r in rows if not (r[0] == chair_id and r[1] >= retired_at)]
        rows.append((chair_id, retired_at, FOREVER))
    return ChairBook(list(chairs), rows)
