"""Reading courses, sessions and a site's day."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..db import models
from ..domain import lifecycle
from .catalog import sessions_on_day
from .lookups import get_or_404
from .runtime import Runtime


def get_course(rt: Runtime, course_id: int) -> models.Course:
    with rt.transaction() as db:
        course = db.scalar(select(models.Course).where(models.Course.id == course_id)
                           .options(selectinload(models.Course.sessions)))
        if course is None:
            get_or_404(db, models.Course, course_id, "course")
        return course


def list_courses(rt: Runtime, *, patient_id: int | None, site_id: str | None,
                 status: str | None, limit: int, offset: int) -> list[models.Course]:
    query = select(models.Course).options(selectinload(models.Course.sessions))
    if patient_id is not None:
        query = query.where(models.Course.patient_id == patient_id)
    if site_id is not None:
        query = query.where(models.Course.site_id == site_id)
    if status is not None:
        query = query.where(models.Course.status == status)
    with rt.transaction() as db:
        return list(db.scalars(query.order_by(models.Course.id).limit(limit).offset(offset)))


def get_session(rt: Runtime, session_id: int) -> models.TreatmentSession:
    with rt.transaction() as db:
        return get_or_404(db, models.TreatmentSession, session_id, "session")


@dataclass(frozen=True)
class BoardEntry:
    session: models.TreatmentSession
    patient_id: int
    patient_name: str


@dataclass(frozen=True)
class DayBoard:
    site_id: str
    date: date
    chairs: list[tuple[models.Chair, list[BoardEntry]]]


def day_board(rt: Runtime, site_id: str, day: date) -> DayBoard:
    """Every chair of the site with the day's sessions in it, in time order; cancelled ones left out."""
    with rt.transaction() as db:
        site = get_or_404(db, models.Site, site_id, "site")
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
    by_chair: dict[int, list[BoardEntry]] = {c.id: [] for c in chairs}
    for s in sessions:
        patient_id, name = names[s.course_id]
        by_chair.setdefault(s.chair_id, []).append(BoardEntry(s, patient_id, name))
    return DayBoard(site_id, day, [(c, by_chair[c.id]) for c in chairs])
