"""PHQ-9 scores, a course's progress, and the clinician's worklist."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db import models
from ..domain import outcomes
from ..domain.calendar import SiteCalendar
from ..domain.errors import RuleViolation
from ..domain.lifecycle import COURSE_ACTIVE, NOT_COUNTED_BY
from ..domain.progress import AuthorizationFact, FlagCode, Progress, SessionFact, progress, urgency
from . import audit
from .actor import Actor
from .lookups import get_or_404, referenced, site_calendar
from .runtime import Runtime

INSTRUMENTS = ("PHQ-9",)


def add_assessment(rt: Runtime, course_id: int, actor: Actor, *, instrument: str, score: int,
                   taken_on: date) -> models.Assessment:
    now = rt.now()
    if instrument not in INSTRUMENTS:
        raise RuleViolation(f"Unknown instrument {instrument!r}", {"instrument": "PHQ-9"})
    with rt.transaction() as db:
        course = get_or_404(db, models.Course, course_id, "course")
        zone = ZoneInfo(referenced(db, models.Site, course.site_id).timezone)
        first = db.scalar(select(models.TreatmentSession.starts_at).where(
            models.TreatmentSession.course_id == course_id).order_by(models.TreatmentSession.starts_at).limit(1))
        first_day = first.astimezone(zone).date() if first else course.start_date
        outcomes.check_score(score, taken_on, now.astimezone(zone).date(), first_day)
        assessment = models.Assessment(course_id=course_id, instrument=instrument, score=score, taken_on=taken_on,
                                       recorded_by=actor.user_id, recorded_at=now)
        db.add(assessment)
        db.flush()
        audit.note(db, actor, now, audit.CREATE, audit.ASSESSMENT, assessment.id, course.patient_id)
    return assessment


def list_assessments(rt: Runtime, course_id: int, actor: Actor) -> list[models.Assessment]:
    with rt.transaction() as db:
        course = get_or_404(db, models.Course, course_id, "course")
        audit.note(db, actor, rt.now(), audit.READ, audit.ASSESSMENT, f"course {course_id}", course.patient_id)
        return list(db.scalars(select(models.Assessment).where(models.Assessment.course_id == course_id)
                               .order_by(models.Assessment.taken_on, models.Assessment.id)))


@dataclass(frozen=True)
class CourseProgress:
    course: models.Course
    progress: Progress
    outcome: outcomes.Outcome
    authorization: dict | None
    patient_name: str | None = None


# Progress reads only these columns of a session: plain rows, no ORM objects, since a
# site's worklist reads thousands of them.
FACT_COLUMNS = (models.TreatmentSession.course_id, models.TreatmentSession.number, models.TreatmentSession.kind,
                models.TreatmentSession.status, models.TreatmentSession.starts_at,
                models.TreatmentSession.cancelled_by)


def _facts(rows, zone: ZoneInfo) -> dict[int, list[SessionFact]]:
    """Session facts by course. Sessions released by a pause or a cancelled course, or cancelled by
    a closure, were never the patient's to attend and are left out."""
    offsets: dict[int, timedelta] = {}  # UTC offset by hour: one zone lookup per hour, not per session
    facts: dict[int, list[SessionFact]] = {}
    for course_id, number, kind, status, starts_at, cancelled_by in rows:
        if cancelled_by in NOT_COUNTED_BY:
            continue
        hour = int(starts_at.timestamp()) // 3600
        offset = offsets.get(hour)
        if offset is None:
            offset = offsets[hour] = starts_at.astimezone(zone).utcoffset()
        facts.setdefault(course_id, []).append(
            SessionFact(number, kind, status, (starts_at + offset).date(), starts_at, cancelled_by))
    return facts


def _calendar(db: Session, site: models.Site, facts: dict[int, list[SessionFact]], now: datetime) -> SiteCalendar:
    """The site's calendar with its closed dates over every day of these courses' sessions (and today):
    one read of the closures and one of the holiday calendar, whatever the number of courses."""
    today = now.astimezone(ZoneInfo(site.timezone)).date()
    days = [s.day for course_facts in facts.values() for s in course_facts]
    return site_calendar(db, site, min(days, default=today), max(days, default=today))


def _course_progress(course: models.Course, protocol: models.Protocol, facts: list[SessionFact],
                     scores: list[outcomes.Score], calendar: SiteCalendar, now: datetime) -> CourseProgress:
    auth = None
    if course.authorized_sessions is not None or course.authorization_valid_to is not None:
        auth = AuthorizationFact(course.authorized_sessions, course.authorization_valid_to)
    result = progress(facts, protocol.total_sessions, auth, now, calendar)
    authorization = None
    if auth is not None or course.authorization_number:
        authorization = {
            "payer": course.payer, "number": course.authorization_number, "sessions": course.authorized_sessions,
            "used": result.authorization_used, "left": result.authorization_left,
            "valid_from": course.authorization_valid_from, "valid_to": course.authorization_valid_to,
            "warnings": [f.message for f in result.flags if f.code == FlagCode.AUTHORIZATION_EXPIRING],
        }
    return CourseProgress(course, result, outcomes.outcome(scores), authorization)


def course_progress(rt: Runtime, course_id: int, actor: Actor) -> CourseProgress:
    now = rt.now()
    with rt.transaction() as db:
        course = get_or_404(db, models.Course, course_id, "course")
        audit.note(db, actor, now, audit.READ, audit.COURSE, course.id, course.patient_id)
        protocol = referenced(db, models.Protocol, course.protocol_id)
        site = referenced(db, models.Site, course.site_id)
        facts = _facts(db.execute(select(*FACT_COLUMNS).where(models.TreatmentSession.course_id == course_id)),
                       ZoneInfo(site.timezone))
        calendar = _calendar(db, site, facts, now)
        scores = [outcomes.Score(t, s) for t, s in db.execute(
            select(models.Assessment.taken_on, models.Assessment.score)
            .where(models.Assessment.course_id == course_id))]
    return _course_progress(course, protocol, facts.get(course_id, []), scores, calendar, now)


def worklist(rt: Runtime, site_id: str, actor: Actor, *, flag: str | None = None) -> list[CourseProgress]:
    """The site's active courses, most urgent first: a fixed number of queries whatever their number."""
    now = rt.now()
    with rt.transaction() as db:
        site = get_or_404(db, models.Site, site_id, "site")
        zone = ZoneInfo(site.timezone)
        courses = list(db.scalars(select(models.Course).where(models.Course.site_id == site_id,
                                                              models.Course.status == COURSE_ACTIVE)))
        if not courses:
            return []
        protocols = {p.id: p for p in db.scalars(select(models.Protocol))}
        ids = [c.id for c in courses]
        scores: dict[int, list[outcomes.Score]] = {i: [] for i in ids}
        facts = _facts(db.execute(select(*FACT_COLUMNS).where(models.TreatmentSession.course_id.in_(ids))), zone)
        calendar = _calendar(db, site, facts, now)  # once for the site, over all its courses' days
        for course_id, taken_on, score in db.execute(
                select(models.Assessment.course_id, models.Assessment.taken_on, models.Assessment.score)
                .where(models.Assessment.course_id.in_(ids))):
            scores[course_id].append(outcomes.Score(taken_on, score))
        names = {pid: f"{first} {last}" for pid, first, last in db.execute(
            select(models.Patient.id, models.Patient.first_name, models.Patient.last_name)
            .where(models.Patient.id.in_({c.patient_id for c in courses})))}
        entries = [replace(_course_progress(c, protocols[c.protocol_id], facts.get(c.id, []), scores[c.id], calendar,
                                            now), patient_name=names[c.patient_id]) for c in courses]
        if flag:
            entries = [e for e in entries if any(f.code == flag for f in e.progress.flags)]
        audit.note_read(db, actor, now, audit.COURSE, [(e.course.id, e.course.patient_id) for e in entries])
    return sorted(entries, key=lambda e: (*urgency(e.progress.flags), e.course.id))
