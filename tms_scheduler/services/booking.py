"""Booking a whole course, and finding the start times at which one fits."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from .. import metrics
from ..db import models
from ..domain import lifecycle
from ..domain.allocation import ChairBook
from ..domain.booking import (
    SEARCH_WEEKS,
    STARTS_WANTED,
    FittingStart,
    first_fitting_starts,
    fitting_times,
    naming_next_start,
    plan_course,
    search_days,
    search_reach,
)
from ..domain.calendar import SiteCalendar
from ..domain.errors import BookingConflict, RuleViolation, StateConflict
from ..domain.planning import PLANNING_HORIZON_DAYS, SessionSlot, lay_out
from ..domain.protocols import Cadence
from . import authorization
from .actor import Actor
from .lookups import cadence_of, chair_book, fitting_chairs, get_or_404, site_calendar
from .runtime import Runtime
from .session_changes import ChairTaken, NewSession, SessionChanges

# Bookings at one site take the chairs' row locks first, so they plan one after the
# other; should the database still refuse an overlap (a change that took no lock), the
# booking plans again against what is now booked, a few times at most.
BOOKING_ATTEMPTS = 3


@dataclass(frozen=True)
class BookingRequest:
    patient_id: int
    site_id: str
    protocol_id: str
    start_date: date
    preferred_time: time
    authorization: authorization.Authorization | None = None


def is_second_active_course(exc: IntegrityError) -> bool:
    text = str(exc.orig)
    return "uq_courses_one_active_per_patient" in text or "courses.patient_id" in text


def book_course(rt: Runtime, request: BookingRequest, actor: Actor) -> models.Course:
    """Books every session of the course in one transaction, or none."""
    now = rt.now()
    for _attempt in range(BOOKING_ATTEMPTS):
        try:
            with rt.transaction() as db:
                course = _book(SessionChanges(db, actor, now), request, rt.booking_step_minutes)
            metrics.booked()
            return course
        except ChairTaken:
            continue
        except BookingConflict:
            metrics.booking_conflict()
            raise
        except IntegrityError as exc:
            if is_second_active_course(exc):
                raise _active_course_exists(request.patient_id) from None
            raise
    metrics.booking_conflict()
    raise StateConflict("Other bookings kept taking the chairs this course needs; try again",
                        {"preferred_time": "the chairs were taken meanwhile"})


def _active_course_exists(patient_id: int) -> StateConflict:
    return StateConflict(f"Patient {patient_id} already has an active course",
                         {"patient_id": "the patient already has an active course"})


def _book(changes: SessionChanges, request: BookingRequest, step_minutes: int) -> models.Course:
    db, now = changes.db, changes.now
    patient = get_or_404(db, models.Patient, request.patient_id, "patient", "patient_id")
    site = get_or_404(db, models.Site, request.site_id, "site", "site_id")
    protocol = get_or_404(db, models.Protocol, request.protocol_id, "protocol", "protocol_id")
    if not site.offers_tms:
        raise RuleViolation(f"{site.name} does not offer TMS", {"site_id": "the site offers no TMS"})
    active = db.scalar(select(models.Course.id).where(
        models.Course.patient_id == patient.id, models.Course.status == lifecycle.COURSE_ACTIVE))
    if active is not None:
        raise _active_course_exists(patient.id)
    chairs = chairs_for(db, site, protocol)
    cadence = cadence_of(protocol)
    calendar, slots = course_calendar(db, site, cadence, request.start_date)
    book = course_book(db, chairs, calendar, slots, request.start_date)
    try:
        plan = plan_course(cadence, calendar, book, request.start_date, request.preferred_time, now, step_minutes)
    except BookingConflict as conflict:
        if conflict.alternatives:
            raise
        # No time that day fits: name the next date that does, searched as GET /availability searches.
        found = search_starts(db, site, cadence, chairs, request.start_date + timedelta(days=1),
                              request.preferred_time, now, step_minutes, weeks=SEARCH_WEEKS, limit=1)
        raise naming_next_start(conflict, request.start_date, found[0] if found else None, SEARCH_WEEKS) from None
    authorization.check_booking(request.authorization, plan.sessions[0].day, plan.sessions[-1].day, len(plan.sessions))

    auth = request.authorization
    course = models.Course(
        patient_id=patient.id, site_id=site.id, protocol_id=protocol.id, status=lifecycle.COURSE_ACTIVE,
        start_date=request.start_date, preferred_time=request.preferred_time, created_by=changes.actor.user_id,
        payer=auth and auth.payer, authorization_number=auth and auth.number,
        authorized_sessions=auth and auth.sessions, authorization_valid_from=auth and auth.valid_from,
        authorization_valid_to=auth and auth.valid_to, authorization_override_reason=auth and auth.override_reason,
    )
    db.add(course)
    db.flush()
    sessions = changes.create(course, [
        NewSession(number=s.number, kind=s.kind, chair_id=plan.allocation.chairs[s.number], starts_at=s.starts_at,
                   ends_at=s.ends_at)
        for s in plan.sessions
    ], action="book")
    set_committed_value(course, "sessions", sessions)
    set_committed_value(course, "patient", patient)  # the answer names the patient without another read
    return course


def chairs_for(db: Session, site: models.Site, protocol: models.Protocol, *,
               lock: bool = True) -> dict[int, date | None]:
    """The site's chairs that fit the protocol (see `fitting_chairs`); a RuleViolation when there are none."""
    chairs = fitting_chairs(db, site.id, protocol.coil, lock=lock)
    if not chairs:
        raise RuleViolation(f"{site.name} has no active {protocol.coil} chair for {protocol.name}",
                            {"protocol_id": f"no {protocol.coil} chair at this site"})
    return chairs


def course_calendar(db: Session, site: models.Site, cadence: Cadence,
                    start_date: date) -> tuple[SiteCalendar, list[SessionSlot]]:
    calendar = site_calendar(db, site, start_date, start_date + timedelta(days=PLANNING_HORIZON_DAYS))
    return calendar, lay_out(cadence, calendar, start_date)


def course_book(db: Session, chairs: dict[int, date | None], calendar: SiteCalendar, slots: list[SessionSlot],
                start_date: date) -> ChairBook:
    """The busy times of the chairs over the course's days only, so cost follows the course, not the table."""
    return chair_book(db, chairs, calendar.zone, start_date, slots[-1].day)


@dataclass(frozen=True)
class AvailableTime:
    time: time
    chair_ids: list[int]


def availability(rt: Runtime, site_id: str, protocol_id: str, start_date: date) -> list[AvailableTime]:
    now, step_minutes = rt.now(), rt.booking_step_minutes
    with rt.reading() as db:
        site = get_or_404(db, models.Site, site_id, "site")
        protocol = get_or_404(db, models.Protocol, protocol_id, "protocol", "protocol_id")
        if not site.offers_tms:
            raise RuleViolation(f"{site.name} does not offer TMS", {"site_id": "the site offers no TMS"})
        if start_date < now.astimezone(ZoneInfo(site.timezone)).date():
            raise RuleViolation(f"The start date {start_date} is in the past",
                                {"start_date": "must not be in the past"})
        chairs = chairs_for(db, site, protocol, lock=False)  # a read-only search locks nothing
        cadence = cadence_of(protocol)
        calendar, slots = course_calendar(db, site, cadence, start_date)
        if not calendar.is_open_on(start_date):
            raise RuleViolation(f"The site is closed on {start_date} ({start_date:%A})",
                                {"start_date": "must be a day the site is open"})
        book = course_book(db, chairs, calendar, slots, start_date)
    return [AvailableTime(t, a.chair_ids_by_use()) for t, a in fitting_times(slots, calendar, book, now, step_minutes)]


@dataclass(frozen=True)
class SiteStart:
    site_id: str
    date: date
    time: time
    chair_ids: list[int]


def next_starts(rt: Runtime, protocol_id: str, from_date: date, preferred: time, *, site_id: str | None = None,
                weeks: int = SEARCH_WEEKS, limit: int = STARTS_WANTED) -> list[SiteStart]:
    """Per TMS site (one, or every one with a chair for the protocol), the first `limit` start dates from
    `from_date` on, within `weeks` weeks, at which the whole course fits, each at its time nearest
    `preferred`; sites in id order, dates in order. Nothing is locked or written.
    """
    now, step_minutes = rt.now(), rt.booking_step_minutes
    with rt.reading() as db:
        protocol = get_or_404(db, models.Protocol, protocol_id, "protocol", "protocol_id")
        if site_id is not None:
            site = get_or_404(db, models.Site, site_id, "site", "site_id")
            if not site.offers_tms:
                raise RuleViolation(f"{site.name} does not offer TMS", {"site_id": "the site offers no TMS"})
            sites = [site]
        else:
            sites = list(db.scalars(select(models.Site).where(models.Site.offers_tms.is_(True))
                                    .order_by(models.Site.id)))
        for site in sites:
            if from_date < now.astimezone(ZoneInfo(site.timezone)).date():
                raise RuleViolation(f"The date {from_date} is in the past", {"from_date": "must not be in the past"})
        cadence = cadence_of(protocol)
        found: list[SiteStart] = []
        searched = 0
        for site in sites:
            if site_id is not None:
                chairs = chairs_for(db, site, protocol, lock=False)
            else:
                chairs = fitting_chairs(db, site.id, protocol.coil, lock=False)
                if not chairs:
                    continue
            searched += 1
            found += [SiteStart(site.id, s.day, s.time, s.allocation.chair_ids_by_use())
                      for s in search_starts(db, site, cadence, chairs, from_date, preferred, now, step_minutes,
                                             weeks=weeks, limit=limit)]
        if not searched:
            raise RuleViolation(f"No TMS site has an active {protocol.coil} chair for {protocol.name}",
                                {"protocol_id": f"no {protocol.coil} chair at any TMS site"})
    return found


def search_starts(db: Session, site: models.Site, cadence: Cadence, chairs: dict[int, date | None], first_day: date,
                  preferred: time, now: datetime, step_minutes: int, *, weeks: int, limit: int) -> list[FittingStart]:
    """The one search for start dates (GET /availability, and a 409's next_start): the site's calendar and its
    chairs' busy times over the whole window are read once (one range query), then every open day of the
    window is planned in memory until `limit` fit."""
    calendar = site_calendar(db, site, first_day, first_day + timedelta(weeks=weeks, days=PLANNING_HORIZON_DAYS))
    days = search_days(calendar, first_day, weeks)
    reach = search_reach(cadence, calendar, days)
    if reach is None:
        return []
    book = chair_book(db, chairs, calendar.zone, first_day, reach)
    return first_fitting_starts(cadence, calendar, book, days, preferred, now, step_minutes, limit)
