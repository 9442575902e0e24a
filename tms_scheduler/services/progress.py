"""PHQ-9 scores, a course's progress, and the clinician's worklist."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, literal, literal_column, or_, select, union_all
from sqlalchemy.orm import Session

from ..db import models
from ..domain import outcomes
from ..domain.calendar import SiteCalendar, day_start
from ..domain.errors import RuleViolation
from ..domain.lifecycle import (
    BY_PATIENT,
    CANCELLED,
    CHECKED_IN,
    COMPLETED,
    COURSE_ACTIVE,
    MISSED,
    NO_SHOW,
    NOT_COUNTED_BY,
    SCHEDULED,
)
from ..domain.planning import TAPER
from ..domain.progress import (
    CONSECUTIVE_MISSES,
    AuthorizationFact,
    CourseSummary,
    FlagCode,
    Progress,
    SessionFact,
    last_week,
    progress,
    summary_progress,
    this_week,
    urgency,
)
from . import audit
from .actor import Actor
from .lookups import get_or_404, not_found, referenced, site_calendar
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
    with rt.reading() as db:
        course = get_or_404(db, models.Course, course_id, "course")
        audit.note(db, actor, rt.now(), audit.READ, audit.ASSESSMENT, f"course {course_id}", course.patient_id)
        return list(db.scalars(select(models.Assessment).where(models.Assessment.course_id == course_id)
                               .order_by(models.Assessment.taken_on, models.Assessment.id)))


@dataclass(frozen=True)
class CourseProgress:
    course: models.Course | CourseRow
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
    return CourseProgress(course, result, outcomes.outcome(scores), _authorization(course, auth, result))


def _authorization(course: models.Course | CourseRow, auth: AuthorizationFact | None, result: Progress) -> dict | None:
    if auth is None and not course.authorization_number:
        return None
    return {
        "payer": course.payer, "number": course.authorization_number, "sessions": course.authorized_sessions,
        "used": result.authorization_used, "left": result.authorization_left,
        "valid_from": course.authorization_valid_from, "valid_to": course.authorization_valid_to,
        "warnings": [f.message for f in result.flags if f.code == FlagCode.AUTHORIZATION_EXPIRING],
    }


def course_progress(rt: Runtime, course_id: int, actor: Actor) -> CourseProgress:
    now = rt.now()
    with rt.reading() as db:
        found = db.execute(  # the course with its protocol and site: one statement, not three
            select(models.Course, models.Protocol, models.Site)
            .join(models.Protocol, models.Protocol.id == models.Course.protocol_id)
            .join(models.Site, models.Site.id == models.Course.site_id)
            .where(models.Course.id == course_id)).one_or_none()
        if found is None:
            raise not_found("course", course_id)
        course, protocol, site = found
        audit.note(db, actor, now, audit.READ, audit.COURSE, course.id, course.patient_id)
        facts = _facts(db.execute(select(*FACT_COLUMNS).where(models.TreatmentSession.course_id == course_id)),
                       ZoneInfo(site.timezone))
        calendar = _calendar(db, site, facts, now)
        scores = [outcomes.Score(t, s) for t, s in db.execute(  # ties on a day: in the order recorded
            select(models.Assessment.taken_on, models.Assessment.score)
            .where(models.Assessment.course_id == course_id)
            .order_by(models.Assessment.taken_on, models.Assessment.id))]
    return _course_progress(course, protocol, facts.get(course_id, []), scores, calendar, now)


@dataclass(frozen=True, slots=True)
class CourseRow:
    """The course columns the worklist shows (a plain row, not an ORM object)."""

    id: int
    patient_id: int
    site_id: str
    protocol_id: str
    status: str
    paused_at: datetime | None
    payer: str | None
    authorization_number: str | None
    authorized_sessions: int | None
    authorization_valid_from: date | None
    authorization_valid_to: date | None


_S, _C = models.TreatmentSession, models.Course
# Sessions released by a pause or a cancelled course, or cancelled by a closure, are not counted.
_COUNTED = or_(_S.cancelled_by.is_(None), _S.cancelled_by.not_in(sorted(NOT_COUNTED_BY)))
_COMPLETED = _S.status == COMPLETED
_MISS = or_(_S.status == NO_SHOW, and_(_S.status == CANCELLED, _S.cancelled_by == BY_PATIENT))
_UPCOMING = _S.status.in_((SCHEDULED, CHECKED_IN))
_SESSION_COLUMNS = (_S.course_id, _S.number, _S.kind, _S.status, _S.starts_at, _S.cancelled_by)


def _more_than_6_days_apart(later, earlier, dialect: str):
    """later - earlier > 6 days, for two instants: a superset of the local days more than 7 apart."""
    if dialect == "sqlite":  # naive UTC text in one fixed format
        return func.julianday(later) - func.julianday(earlier) > 6
    return later > earlier + literal_column("interval '6 days'")


class _LocalDays:
    """Local dates of UTC instants in one zone: one zone lookup per UTC hour, not per instant."""

    def __init__(self, zone: ZoneInfo):
        self.zone = zone
        self.offsets: dict[int, timedelta] = {}

    def optional(self, instant: datetime | None) -> date | None:
        return None if instant is None else self(instant)

    def __call__(self, instant: datetime) -> date:
        hour = int(instant.timestamp()) // 3600
        offset = self.offsets.get(hour)
        if offset is None:
            offset = self.offsets[hour] = instant.astimezone(self.zone).utcoffset() or timedelta(0)
        return (instant + offset).date()

    def fact(self, row) -> SessionFact:
        _, number, kind, status, starts_at, cancelled_by = row[:6]
        return SessionFact(number, kind, status, self(starts_at), starts_at, cancelled_by)


def worklist(rt: Runtime, site_id: str, actor: Actor, *, flag: str | None = None, limit: int | None = None,
             offset: int = 0) -> list[CourseProgress]:
    """The site's active courses, most urgent first (then by course id); `limit` and `offset` page them.

    Counted in SQL, whatever the number of courses, in a fixed number of statements: one GROUP BY of
    the active courses' sessions (counts and the days the rules need), one select of the few sessions
    the rules look at one by one (this week's first; the sessions of a course whose last 2 misses or
    more came after its last treatment), one of the treatments given more than 6 days after the one
    before (a window over the treatments), one of the first and latest PHQ-9 scores, and the site's
    calendar.
    No ORM objects; the rules are the domain's (`summary_progress`), on those facts.
    """
    now = rt.now()
    with rt.reading() as db:
        site = get_or_404(db, models.Site, site_id, "site")
        zone = ZoneInfo(site.timezone)
        dialect = db.get_bind().dialect.name
        today = now.astimezone(zone).date()
        today_at = day_start(today, zone)
        last_week_from, last_week_to = (day_start(d, zone) for d in last_week(today))
        this_week_from, this_week_to = (day_start(d, zone) for d in this_week(today))
        active = select(_C.id).where(_C.site_id == site_id, _C.status == COURSE_ACTIVE).scalar_subquery()
        counted = and_(_S.course_id.in_(active), _COUNTED)
        last_week_daily = and_(_S.starts_at >= last_week_from, _S.starts_at < last_week_to, _S.kind != TAPER)

        counts = (select(
            _S.course_id,
            func.count().filter(_COMPLETED).label("completed"),
            func.count().filter(_MISS).label("missed"),
            func.min(_S.starts_at).label("first_at"),
            func.max(_S.starts_at).filter(_S.kind != TAPER, _S.status.not_in((CANCELLED, NO_SHOW)))
            .label("last_daily_at"),
            func.max(_S.starts_at).filter(_UPCOMING).label("last_upcoming_at"),
            func.max(_S.starts_at).filter(_COMPLETED).label("last_given_at"),
            func.max(_S.starts_at).filter(_MISS).label("last_miss_at"),
            func.min(_S.starts_at).filter(_UPCOMING, _S.starts_at >= today_at).label("next_ahead_at"),
            func.count().filter(last_week_daily).label("week_held"),
            func.count().filter(last_week_daily, _COMPLETED).label("week_given"),
        ).where(counted).group_by(_S.course_id).subquery("counts"))
        P = models.Patient
        rows = db.execute(
            select(_C.id, _C.patient_id, _C.site_id, _C.protocol_id, _C.status, _C.paused_at, _C.payer,
                   _C.authorization_number, _C.authorized_sessions, _C.authorization_valid_from,
                   _C.authorization_valid_to, P.first_name, P.last_name, models.Protocol.total_sessions,
                   *(c for c in counts.c if c.name != "course_id"))
            .join(P, P.id == _C.patient_id).join(models.Protocol, models.Protocol.id == _C.protocol_id)
            .outerjoin(counts, counts.c.course_id == _C.id)
            .where(_C.site_id == site_id, _C.status == COURSE_ACTIVE)).all()
        if not rows:
            return []

        # The sessions the rules look at one by one: this week's first that was not missed (of this week's
        # sessions only), and every session of the courses whose latest miss is after their last treatment
        # given with 2 misses or more (only those can have 2 in a row since it).
        missing = [r.id for r in rows if (r.missed or 0) >= CONSECUTIVE_MISSES and r.last_miss_at is not None
                   and (r.last_given_at is None or r.last_miss_at > r.last_given_at)]
        order = (_S.starts_at, _S.number)
        week = (select(*_SESSION_COLUMNS, func.row_number().over(partition_by=_S.course_id, order_by=order).label("n"))
                .where(counted, _S.starts_at >= this_week_from, _S.starts_at < this_week_to,
                       _S.status.not_in(MISSED)).subquery("week"))
        picked = union_all(
            select(literal(0).label("part"), *_SESSION_COLUMNS).where(_S.course_id.in_(missing), _COUNTED),
            select(literal(1).label("part"), *(week.c[c.name] for c in _SESSION_COLUMNS)).where(week.c.n == 1),
        ).subquery("picked")
        runs: dict[int, list[SessionFact]] = {}
        first_this_week: dict[int, SessionFact] = {}
        days = _LocalDays(zone)
        for row in db.execute(select(picked).order_by(picked.c.course_id, picked.c.starts_at, picked.c.number)):
            fact = days.fact(row[1:])
            if row.part == 0:
                runs.setdefault(row.course_id, []).append(fact)
            else:
                first_this_week[row.course_id] = fact

        # Consecutive treatments given more than 6 days apart (those 8 or more local days apart among them).
        given = (select(_S.course_id, _S.starts_at,
                        func.lag(_S.starts_at, type_=_S.starts_at.type).over(partition_by=_S.course_id, order_by=order)
                        .label("before"))
                 .where(counted, _COMPLETED).subquery("given"))
        gaps: dict[int, list[tuple[date, date]]] = {}
        for course_id, before, after in db.execute(
                select(given.c.course_id, given.c.before, given.c.starts_at)
                .where(given.c.before.is_not(None), _more_than_6_days_apart(given.c.starts_at, given.c.before, dialect))
                .order_by(given.c.course_id, given.c.starts_at)):
            gaps.setdefault(course_id, []).append((days(before), days(after)))

        # The first and the latest PHQ-9 score of each course, and whether there are more than one.
        A = models.Assessment
        ranked = (select(A.course_id, A.taken_on, A.score,
                         func.row_number().over(partition_by=A.course_id, order_by=(A.taken_on, A.id)).label("first"),
                         func.row_number().over(partition_by=A.course_id,
                                                order_by=(A.taken_on.desc(), A.id.desc())).label("last"))
                  .where(A.course_id.in_(active)).subquery("ranked"))
        scores: dict[int, list[outcomes.Score]] = {}
        for course_id, taken_on, score, _first, _last in db.execute(
                select(ranked).where(or_(ranked.c.first == 1, ranked.c.last == 1))
                .order_by(ranked.c.course_id, ranked.c.first)):
            scores.setdefault(course_id, []).append(outcomes.Score(taken_on, score))

        summaries = {}
        for r in rows:
            summaries[r.id] = CourseSummary(
                completed=r.completed or 0, missed=r.missed or 0, first_day=days.optional(r.first_at),
                last_daily_day=days.optional(r.last_daily_at), last_upcoming_day=days.optional(r.last_upcoming_at),
                last_given_day=days.optional(r.last_given_at), next_ahead_day=days.optional(r.next_ahead_at),
                given_gaps=tuple(gaps.get(r.id, ())), since_last_given=tuple(runs.get(r.id, ())),
                last_week_held=r.week_held or 0, last_week_given=r.week_given or 0,
                first_this_week=first_this_week.get(r.id))
        # Once for the site, over all its courses' days.
        known = [d for s in summaries.values() for d in (s.first_day, s.last_daily_day, s.last_upcoming_day) if d]
        calendar = site_calendar(db, site, min(known, default=today), max(known, default=today))

        entries = []
        for r in rows:
            course = CourseRow(*r[:11])  # type: ignore[arg-type]  # the row's first 11 columns, in order
            auth = None
            if course.authorized_sessions is not None or course.authorization_valid_to is not None:
                auth = AuthorizationFact(course.authorized_sessions, course.authorization_valid_to)
            result = summary_progress(summaries[r.id], r.total_sessions, auth, now, calendar)
            if flag and not any(f.code == flag for f in result.flags):
                continue
            entries.append(CourseProgress(course, result, outcomes.outcome(scores.get(r.id, [])),
                                          _authorization(course, auth, result), f"{r.first_name} {r.last_name}"))
        entries.sort(key=lambda e: (*urgency(e.progress.flags), e.course.id))
        page = entries[offset:] if limit is None else entries[offset:offset + limit]
        audit.note_read(db, actor, now, audit.COURSE, [(e.course.id, e.course.patient_id) for e in page])
    return page
