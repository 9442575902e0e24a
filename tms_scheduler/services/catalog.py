"""Sites, chairs, closures and protocols: what administrators configure."""
from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..db import models
from ..domain import lifecycle
from ..domain.calendar import day_start
from ..domain.errors import NotFound, RuleViolation, StateConflict
from ..domain.phones import InvalidPhone, to_e164
from ..domain.protocols import Cadence, Phase
from .actor import Actor
from .lookups import get_or_404
from .runtime import Runtime


def list_sites(rt: Runtime) -> list[models.Site]:
    with rt.reading() as db:
        return list(db.scalars(select(models.Site).order_by(models.Site.id)))


def site_zones(rt: Runtime) -> dict[str, ZoneInfo]:
    """Every site's time zone, by site id."""
    with rt.sessions() as db:
        return {site_id: ZoneInfo(zone) for site_id, zone in db.execute(select(models.Site.id, models.Site.timezone))}


def get_site(rt: Runtime, site_id: str) -> models.Site:
    with rt.reading() as db:
        return get_or_404(db, models.Site, site_id, "site")


def _check_site(db: Session, fields: dict, site: models.Site | None = None) -> None:
    if "timezone" in fields:
        try:
            ZoneInfo(fields["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            raise RuleViolation(f"Unknown time zone {fields['timezone']!r}",
                                {"timezone": "an IANA zone such as America/Los_Angeles"}) from None
    if "holiday_calendar" in fields and db.get(models.HolidayCalendarRow, fields["holiday_calendar"]) is None:
        known = ", ".join(db.scalars(select(models.HolidayCalendarRow.id).order_by(models.HolidayCalendarRow.id)))
        raise RuleViolation(f"Unknown holiday calendar {fields['holiday_calendar']!r}",
                            {"holiday_calendar": f"one of {known}"})
    opens = fields.get("opens", site.opens if site else None)
    closes = fields.get("closes", site.closes if site else None)
    if opens is not None and closes is not None and closes <= opens:
        raise RuleViolation("The site must close after it opens", {"closes": "must be later than opens"})
    if "open_days" in fields:
        fields["open_days"] = sorted(set(fields["open_days"]))
    # Kept in E.164 like patients' numbers; empty for a site without one.
    if fields.get("phone"):
        try:
            fields["phone"] = to_e164(fields["phone"])
        except InvalidPhone as exc:
            raise RuleViolation(f"The site's phone number is refused: {exc}", {"phone": str(exc)}) from None


def create_site(rt: Runtime, fields: dict, actor: Actor) -> models.Site:
    fields = {"holiday_calendar": "us-clinic", "open_days": [1, 2, 3, 4, 5], "address": "", "phone": "",
              "offers_tms": False, **fields}
    with rt.transaction() as db:
        if db.get(models.Site, fields["id"]) is not None:
            raise StateConflict(f"Site {fields['id']!r} exists already", {"id": "taken"})
        _check_site(db, fields)
        site = models.Site(**fields)
        db.add(site)
    return site


def update_site(rt: Runtime, site_id: str, fields: dict, actor: Actor) -> models.Site:
    with rt.transaction() as db:
        site = get_or_404(db, models.Site, site_id, "site")
        _check_site(db, fields, site)
        for name, value in fields.items():
            setattr(site, name, value)
    return site


def list_chairs(rt: Runtime, site_id: str) -> list[models.Chair]:
    with rt.reading() as db:
        get_or_404(db, models.Site, site_id, "site")
        return list(db.scalars(select(models.Chair).where(models.Chair.site_id == site_id).order_by(models.Chair.id)))


def create_chair(rt: Runtime, site_id: str, fields: dict, actor: Actor) -> models.Chair:
    with rt.transaction() as db:
        get_or_404(db, models.Site, site_id, "site")
        if db.scalar(select(models.Chair.id).where(models.Chair.site_id == site_id,
                                                   models.Chair.name == fields["name"])) is not None:
            raise StateConflict(f"The site has a chair named {fields['name']!r} already", {"name": "taken"})
        chair = models.Chair(site_id=site_id, active=fields.get("active", True), name=fields["name"],
                             coil=fields["coil"])
        db.add(chair)
    return chair


def update_chair(rt: Runtime, site_id: str, chair_id: int, fields: dict, actor: Actor) -> models.Chair:
    now = rt.now()
    with rt.transaction() as db:
        chair = get_or_404(db, models.Chair, chair_id, "chair")
        if chair.site_id != site_id:
            raise NotFound(f"No chair {chair_id} at site {site_id!r}")
        if "name" in fields and fields["name"] != chair.name and db.scalar(select(models.Chair.id).where(
                models.Chair.site_id == site_id, models.Chair.name == fields["name"])) is not None:
            raise StateConflict(f"The site has a chair named {fields['name']!r} already", {"name": "taken"})
        if fields.get("out_of_service_from") is not None:
            raise RuleViolation("Take a chair out of service with POST .../out-of-service, which lists and moves "
                                "its sessions", {"out_of_service_from": "only null (back in service) here"})
        if fields.get("active") is False and chair.active:
            booked = db.scalar(select(func.count()).select_from(models.TreatmentSession).where(
                models.TreatmentSession.chair_id == chair.id,
                models.TreatmentSession.status.in_(lifecycle.AHEAD),
                models.TreatmentSession.starts_at > now))
            if booked:
                raise StateConflict(f"{chair.name} still holds {booked} sessions ahead; take it out of service "
                                    "with POST .../out-of-service to move them first",
                                    {"active": f"{booked} sessions ahead in this chair"})
        for name, value in fields.items():
            setattr(chair, name, value)
    return chair


def list_closures(rt: Runtime, site_id: str, *, since: date | None = None) -> list[models.Closure]:
    with rt.reading() as db:
        get_or_404(db, models.Site, site_id, "site")
        query = select(models.Closure).where(models.Closure.site_id == site_id)
        if since:
            query = query.where(models.Closure.date >= since)
        return list(db.scalars(query.order_by(models.Closure.date)))


def sessions_on_day(db: Session, site: models.Site, day: date, statuses=None) -> list[models.TreatmentSession]:
    zone = ZoneInfo(site.timezone)
    start, end = day_start(day, zone), day_start(day + timedelta(days=1), zone)
    query = select(models.TreatmentSession).where(
        models.TreatmentSession.site_id == site.id,
        models.TreatmentSession.starts_at >= start,
        models.TreatmentSession.starts_at < end,
    )
    if statuses:
        query = query.where(models.TreatmentSession.status.in_(statuses))
    return list(db.scalars(query.order_by(models.TreatmentSession.starts_at, models.TreatmentSession.chair_id)))


def list_protocols(rt: Runtime) -> list[models.Protocol]:
    with rt.reading() as db:
        return list(db.scalars(select(models.Protocol).order_by(models.Protocol.id)))


def create_protocol(rt: Runtime, fields: dict, actor: Actor) -> models.Protocol:
    cadence = Cadence(
        phases=tuple(Phase(p["sessions"], p["days_per_week"]) for p in fields["phases"]),
        mapping_minutes=fields["mapping_minutes"],
        session_minutes=fields["session_minutes"],
        sessions_per_day=fields.get("sessions_per_day", 1),
        min_gap_minutes=fields.get("min_gap_minutes", 0),
    )
    problems = cadence.problems()
    if problems:
        raise RuleViolation("The protocol's cadence cannot be planned", problems)
    with rt.transaction() as db:
        if db.get(models.Protocol, fields["id"]) is not None:
            raise StateConflict(f"Protocol {fields['id']!r} exists already", {"id": "taken"})
        protocol = models.Protocol(
            id=fields["id"], name=fields["name"], coil=fields["coil"],
            phases=[{"sessions": p.sessions, "days_per_week": p.days_per_week} for p in cadence.phases],
            mapping_minutes=cadence.mapping_minutes, session_minutes=cadence.session_minutes,
            sessions_per_day=cadence.sessions_per_day, min_gap_minutes=cadence.min_gap_minutes,
            total_sessions=cadence.total_sessions,
        )
        db.add(protocol)
    return protocol
