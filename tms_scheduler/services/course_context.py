"""Loading one course with everything its changes are checked against, under a lock."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db import models
from ..domain import lifecycle
from ..domain.allocation import ChairBook
from ..domain.calendar import SiteCalendar
from ..domain.makeups import CourseSession, CourseState
from ..domain.placement import PLACEMENT_HORIZON_DAYS
from ..domain.planning import PLANNING_HORIZON_DAYS
from ..domain.protocols import Cadence
from .actor import Actor
from .lookups import cadence_of, chair_book, fitting_chairs, not_found, referenced, site_calendar


@dataclass
class CourseContext:
    course: models.Course
    site: models.Site
    protocol: models.Protocol
    cadence: Cadence
    sessions: list[models.TreatmentSession]
    calendar: SiteCalendar
    chairs: dict[int, date | None]  # fitting chairs, locked; the day each goes out of service

    @property
    def chair_ids(self) -> list[int]:
        return list(self.chairs)

    def local_day(self, instant: datetime) -> date:
        return instant.astimezone(self.calendar.zone).date()

    def state(self) -> CourseState:
        return CourseState(
            cadence=self.cadence,
            preferred_time=self.course.preferred_time,
            sessions=tuple(
                CourseSession(s.id, s.number, s.kind, s.status, self.local_day(s.starts_at), s.starts_at, s.ends_at,
                              s.chair_id)
                for s in self.sessions
            ),
        )

    def session(self, session_id: int) -> models.TreatmentSession:
        return next(s for s in self.sessions if s.id == session_id)

    def last_day(self) -> date | None:
        """The local day of the course's last session that still holds a chair (taper moves included)."""
        held = [s.starts_at for s in self.sessions if s.status in lifecycle.CHAIR_HOLDING]
        return self.local_day(max(held)) if held else None

    def next_number(self) -> int:
        return max((s.number for s in self.sessions), default=0) + 1

    @property
    def running(self) -> bool:
        """Active and not paused: sessions can be added."""
        return self.course.status == lifecycle.COURSE_ACTIVE and self.course.paused_at is None

    def record(self, db: Session, actor: Actor, now: datetime, action: str, reason: str | None = None) -> None:
        """A change of the course itself (pause, resume, cancel, an authorization override), kept forever."""
        db.add(models.CourseEvent(course_id=self.course.id, at=now, user_id=actor.user_id, action=action,
                                  reason=reason))


def load_course(db: Session, course_id: int, *, now: datetime, placing: bool = True) -> CourseContext:
    """The course locked against concurrent changes (FOR UPDATE on PostgreSQL), with its sessions.

    A change that places sessions (`placing`) also gets the site's closed dates and its
    fitting chairs, locked; a status change that moves nothing (check-in, completion)
    needs neither, and leaves the site's other bookings free to proceed.
    """
    course = db.scalar(select(models.Course).where(models.Course.id == course_id).with_for_update())
    if course is None:
        raise not_found("course", course_id)
    site = referenced(db, models.Site, course.site_id)
    protocol = referenced(db, models.Protocol, course.protocol_id)
    sessions = list(db.scalars(select(models.TreatmentSession).where(models.TreatmentSession.course_id == course.id)
                               .order_by(models.TreatmentSession.starts_at, models.TreatmentSession.number)))
    if not placing:
        calendar = SiteCalendar(ZoneInfo(site.timezone), frozenset(site.open_days), site.opens, site.closes)
        return CourseContext(course, site, protocol, cadence_of(protocol), sessions, calendar, {})
    first = min(course.start_date, now.astimezone(ZoneInfo(site.timezone)).date())
    calendar = site_calendar(db, site, first, first + timedelta(days=PLANNING_HORIZON_DAYS))
    chairs = fitting_chairs(db, site.id, protocol.coil)
    return CourseContext(course, site, protocol, cadence_of(protocol), sessions, calendar, chairs)


def busy_book(db: Session, ctx: CourseContext, first_day: date, days: int = PLACEMENT_HORIZON_DAYS + 120) -> ChairBook:
    return chair_book(db, ctx.chairs, ctx.calendar.zone, first_day, first_day + timedelta(days=days))


def load_course_of_session(db: Session, session_id: int, *, now: datetime,
                           placing: bool = True) -> tuple[CourseContext, models.TreatmentSession]:
    """The session's course, loaded and locked as load_course does, and the session in it."""
    course_id = db.scalar(select(models.TreatmentSession.course_id).where(models.TreatmentSession.id == session_id))
    if course_id is None:
        raise not_found("session", session_id)
    ctx = load_course(db, course_id, now=now, placing=placing)
    return ctx, ctx.session(session_id)
