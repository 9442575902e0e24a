"""Outcomes beyond the single course: response, remission, attendance and make-ups over the courses
completed in a period, per site and protocol, beside what patients are told to expect.

A course counts in the period when it was completed (its last session given) on a day from `since`
to `until`, both included, in its site's local dates. Response and remission are domain/outcomes.py's
(from the baseline, the earliest PHQ-9, to the final, the latest), over the courses that have both;
a course without them is still counted (attendance, make-ups) and named, never dropped.

A fixed number of queries whatever the number of courses: sites, protocols, the courses with their
patients' names, their sessions' counts, their scores; and one audit row per patient whose course
was counted (their PHQ-9 scores were read).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select

from ..db import models
from ..domain import outcomes
from ..domain.errors import NotFound, RuleViolation
from ..domain.lifecycle import COMPLETED, COURSE_COMPLETED, RELEASED_BY
from ..domain.planning import MAKEUP
from . import audit
from .actor import Actor
from .runtime import Runtime

# The widest a site's UTC offset reaches (UTC-12 to UTC+14): the database window is widened by it and
# each course's completion day is then read in its own site's zone.
_ZONE_SLACK = timedelta(days=1)


@dataclass(frozen=True)
class UnscoredCourse:
    course_id: int
    patient_id: int
    patient_name: str
    scores: int  # PHQ-9 scores it has (0 or 1)


@dataclass(frozen=True)
class Group:
    site_id: str
    site_name: str
    protocol_id: str
    protocol_name: str
    outcome: outcomes.GroupOutcome
    unscored: list[UnscoredCourse]


@dataclass(frozen=True)
class Report:
    since: date
    until: date
    site_id: str | None
    protocol_id: str | None
    groups: list[Group]
    published_response: outcomes.PublishedFigure = outcomes.PUBLISHED_RESPONSE
    published_remission: outcomes.PublishedFigure = outcomes.PUBLISHED_REMISSION


def check_period(since: date, until: date) -> None:
    if since > until:
        raise RuleViolation("The period's first day (from) comes after its last (to)",
                            {"from": f"must be on or before {until}"})


def completed_outcomes(rt: Runtime, actor: Actor, *, since: date, until: date, site_id: str | None = None,
                       protocol_id: str | None = None) -> Report:
    check_period(since, until)
    now = rt.now()
    C, S, A = models.Course, models.TreatmentSession, models.Assessment
    with rt.reading() as db:
        sites = {s.id: s for s in db.scalars(select(models.Site))}
        protocols = {p.id: p for p in db.scalars(select(models.Protocol))}
        if site_id is not None and site_id not in sites:
            raise NotFound(f"No site with id {site_id!r}", {"site_id": "unknown site"})
        if protocol_id is not None and protocol_id not in protocols:
            raise NotFound(f"No protocol with id {protocol_id!r}", {"protocol_id": "unknown protocol"})
        window = [C.status == COURSE_COMPLETED,
                  C.ended_at >= datetime.combine(since, time(0), tzinfo=UTC) - _ZONE_SLACK,
                  C.ended_at < datetime.combine(until + timedelta(days=1), time(0), tzinfo=UTC) + _ZONE_SLACK]
        if site_id is not None:
            window.append(C.site_id == site_id)
        if protocol_id is not None:
            window.append(C.protocol_id == protocol_id)
        in_window = select(C.id).where(*window).scalar_subquery()
        rows = db.execute(select(C.id, C.patient_id, C.site_id, C.protocol_id, C.ended_at, models.Patient.first_name,
                                 models.Patient.last_name).join(models.Patient, models.Patient.id == C.patient_id)
                          .where(*window)).all()
        courses = {}
        for course_id, patient_id, course_site, course_protocol, ended_at, first, last in rows:
            assert ended_at is not None  # a completed course in the window has ended
            ended_on = ended_at.astimezone(ZoneInfo(sites[course_site].timezone)).date()
            if since <= ended_on <= until:
                courses[course_id] = (patient_id, course_site, course_protocol, f"{first} {last}")
        if not courses:
            return Report(since, until, site_id, protocol_id, [])
        counts = {course_id: (delivered, makeups) for course_id, delivered, makeups in db.execute(
            select(S.course_id,
                   func.sum(case((S.status == COMPLETED, 1), else_=0)),
                   func.sum(case((S.kind == MAKEUP, 1), else_=0)))
            .where(S.course_id.in_(in_window), S.cancelled_by.is_(None) | S.cancelled_by.not_in(sorted(RELEASED_BY)))
            .group_by(S.course_id))}
        scores: dict[int, list[outcomes.Score]] = {}
        for course_id, taken_on, score in db.execute(
                select(A.course_id, A.taken_on, A.score).where(A.course_id.in_(in_window), A.instrument == "PHQ-9")):
            scores.setdefault(course_id, []).append(outcomes.Score(taken_on, score))
        facts = []
        for course_id, (patient_id, course_site, course_protocol, _) in courses.items():
            delivered, makeups = counts.get(course_id, (0, 0))
            facts.append(outcomes.CompletedCourse(
                course_id=course_id, patient_id=patient_id, site_id=course_site, protocol_id=course_protocol,
                scores=tuple(scores.get(course_id, ())), prescribed=protocols[course_protocol].total_sessions,
                delivered=int(delivered or 0), makeups=int(makeups or 0)))
        audit.note_read(db, actor, now, audit.COURSE, [(f.course_id, f.patient_id)
                                                       for f in sorted(facts, key=lambda f: f.course_id)])
    groups = [Group(site_id=g.site_id, site_name=sites[g.site_id].name, protocol_id=g.protocol_id,
                    protocol_name=protocols[g.protocol_id].name, outcome=g,
                    unscored=[UnscoredCourse(u.course_id, u.patient_id, courses[u.course_id][3], u.scores)
                              for u in g.unscored])
              for g in outcomes.cohort_outcomes(facts)]
    return Report(since, until, site_id, protocol_id, groups)
