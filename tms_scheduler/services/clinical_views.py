"""Reads for the clinical pages: a session at the chair with what was given last time, and a course's
treatment records over time. Each is one transaction and notes its reads in the audit trail."""
from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select

from ..db import models
from ..domain.lifecycle import COMPLETED, MISSED
from ..domain.progress import SessionFact, mt_recheck_due
from . import audit
from .actor import Actor
from .lookups import get_or_404, referenced
from .runtime import Runtime


@dataclass(frozen=True)
class GivenTreatment:
    """A completed session with its treatment record and the technician's user name."""

    session: models.TreatmentSession
    record: models.TreatmentRecord
    technician: str | None


@dataclass(frozen=True)
class ChairSession:
    """A session as the technician records it."""

    session: models.TreatmentSession
    course: models.Course
    patient_name: str
    site: models.Site
    protocol: models.Protocol
    # The course's last completed session before this one, with its record (None: this is the first).
    previous: GivenTreatment | None
    # The weekly motor-threshold re-check falls on this session (the first one given in its week).
    mt_recheck_due: bool
    # The same re-check, due at another session of this week still to be given (its words), or None.
    mt_recheck_elsewhere: str | None


def _given(db, course_id: int) -> list[GivenTreatment]:
    rows = db.execute(
        select(models.TreatmentSession, models.TreatmentRecord, models.User.username)
        .join(models.TreatmentRecord, models.TreatmentRecord.session_id == models.TreatmentSession.id)
        .outerjoin(models.User, models.User.id == models.TreatmentRecord.technician_id)
        .where(models.TreatmentSession.course_id == course_id, models.TreatmentSession.status == COMPLETED)
        .order_by(models.TreatmentSession.starts_at, models.TreatmentSession.number))
    return [GivenTreatment(s, r, name) for s, r, name in rows]


def chair_session(rt: Runtime, session_id: int, actor: Actor) -> ChairSession:
    """The session, its course and patient, the previous treatment of the course, and whether the
    weekly motor-threshold re-check is due at it (domain.progress.mt_recheck_due, on the session's day)."""
    now = rt.now()
    with rt.reading() as db:
        session = get_or_404(db, models.TreatmentSession, session_id, "session")
        course = referenced(db, models.Course, session.course_id)
        patient = referenced(db, models.Patient, course.patient_id)
        site = referenced(db, models.Site, session.site_id)
        protocol = referenced(db, models.Protocol, course.protocol_id)
        zone = ZoneInfo(site.timezone)
        sessions = list(db.scalars(select(models.TreatmentSession)
                                   .where(models.TreatmentSession.course_id == course.id)))
        previous = next((g for g in reversed(_given(db, course.id))
                         if (g.session.starts_at, g.session.number) < (session.starts_at, session.number)), None)
        audit.note(db, actor, now, audit.READ, audit.SESSION, session.id, course.patient_id)
        if previous is not None:
            audit.note(db, actor, now, audit.READ, audit.TREATMENT_RECORD, previous.session.id, course.patient_id)
    facts = [SessionFact(s.number, s.kind, s.status, s.starts_at.astimezone(zone).date(), s.starts_at, s.cancelled_by)
             for s in sessions]
    day = session.starts_at.astimezone(zone).date()
    flag = mt_recheck_due(facts, day)
    due_here = False
    elsewhere = None
    if flag is not None:
        # The flag names the week's first session not missed: is it this one?
        week = [f for f in facts if f.day.isocalendar()[:2] == day.isocalendar()[:2]
                and f.status not in MISSED]
        first = min(week, key=lambda f: (f.starts_at, f.number))
        due_here = first.number == session.number and first.starts_at == session.starts_at
        if not due_here:
            elsewhere = flag.message
    return ChairSession(session, course, f"{patient.first_name} {patient.last_name}", site, protocol, previous,
                        due_here, elsewhere)


def course_treatments(rt: Runtime, course_id: int, actor: Actor) -> list[GivenTreatment]:
    """Every treatment given in the course, in time order, with its record."""
    with rt.reading() as db:
        course = get_or_404(db, models.Course, course_id, "course")
        given = _given(db, course_id)
        audit.note(db, actor, rt.now(), audit.READ, audit.TREATMENT_RECORD, f"course {course_id}",
                   course.patient_id)
    return given
