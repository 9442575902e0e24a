"""Reading courses, sessions and a site's day."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import contains_eager, joinedload, selectinload

from ..db import models
from ..domain import lifecycle
from . import audit, patients
from .actor import Actor
from .catalog import sessions_on_day
from .lookups import get_or_404, not_found, referenced, why_closed
from .runtime import Runtime


def get_course(rt: Runtime, course_id: int, actor: Actor) -> models.Course:
    """The course with its sessions and its patient."""
    with rt.reading() as db:
        course = db.scalar(select(models.Course).where(models.Course.id == course_id)
                           .options(selectinload(models.Course.sessions), joinedload(models.Course.patient)))
        if course is None:
            raise not_found("course", course_id)
        audit.note(db, actor, rt.now(), audit.READ, audit.COURSE, course.id, course.patient_id)
        return course


def list_courses(rt: Runtime, actor: Actor, *, patient_id: int | None, site_id: str | None,
                 status: str | None, limit: int, offset: int, q: str | None = None) -> list[models.Course]:
    """Courses with their sessions and patients, by id; `q` finds them by the patient's name or phone."""
    query = (select(models.Course).join(models.Course.patient)
             .options(contains_eager(models.Course.patient), selectinload(models.Course.sessions)))
    if q:
        query = query.where(*patients.matching(q))
    if patient_id is not None:
        query = query.where(models.Course.patient_id == patient_id)
    if site_id is not None:
        query = query.where(models.Course.site_id == site_id)
    if status is not None:
        query = query.where(models.Course.status == status)
    with rt.reading() as db:
        found = list(db.scalars(query.order_by(models.Course.id).limit(limit).offset(offset)))
        audit.note_read(db, actor, rt.now(), audit.COURSE, [(c.id, c.patient_id) for c in found])
        return found


def get_session(rt: Runtime, session_id: int, actor: Actor) -> models.TreatmentSession:
    with rt.reading() as db:
        session = get_or_404(db, models.TreatmentSession, session_id, "session")
        audit.note(db, actor, rt.now(), audit.READ, audit.SESSION, session.id,
                   referenced(db, models.Course, session.course_id).patient_id)
        return session


@dataclass(frozen=True)
class BoardEntry:
    session: models.TreatmentSession
    patient_id: int
    patient_name: str


@dataclass(frozen=True)
class DayBoard:
    site_id: str
    date: date
    # Why the site is closed that day (a closure's reason, a holiday, not an open weekday), or None.
    closed_reason: str | None
    chairs: list[tuple[models.Chair, list[BoardEntry]]]

    @property
    def closed(self) -> bool:
        return self.closed_reason is not None


def day_board(rt: Runtime, site_id: str, day: date, actor: Actor) -> DayBoard:
    """Every chair of the site with the day's sessions in it, in time order; cancelled ones left out.

    On a day the site is closed, the sessions still there are the ones the front desk has to move.
    """
    with rt.reading() as db:
        site = get_or_404(db, models.Site, site_id, "site")
        closed_reason = why_closed(db, site, day)
        chairs = list(db.scalars(select(models.Chair).where(models.Chair.site_id == site_id).order_by(models.Chair.id)))
        sessions = [s for s in sessions_on_day(db, site, day) if s.status != lifecycle.CANCELLED]
        course_ids = {s.course_id for s in sessions}
        names = {}
        if course_ids:
            names = {
                course_id: (patient_id, f"{first} {last}")
                for course_id, patient_id, first, last in db.execute(
                    select(models.Course.id, models.Patient.id, models.Patient.first_name, models.Patient.last_name)
                    .join(models.Patient, models.Patient.id == models.Course.patient_id)
                    .where(models.Course.id.in_(course_ids))
                )
            }
        audit.note_read(db, actor, rt.now(), audit.SESSION, [(s.id, names[s.course_id][0]) for s in sessions])
    by_chair: dict[int, list[BoardEntry]] = {c.id: [] for c in chairs}
    for s in sessions:
        patient_id, name = names[s.course_id]
        by_chair.setdefault(s.chair_id, []).append(BoardEntry(s, patient_id, name))
    return DayBoard(site_id, day, closed_reason, [(c, by_chair[c.id]) for c in chairs])
