"""Changes of a whole course: cancelling the rest of it, pausing, resuming."""
from __future__ import annotations

from datetime import date, datetime

from ..db import models
from ..domain import lifecycle
from ..domain.errors import RuleViolation, StateConflict
from ..domain.makeups import lay_out_again
from . import audit
from .actor import Actor
from .course_context import CourseContext, busy_book, load_course
from .courses import get_course
from .runtime import Runtime
from .session_changes import NewSession, SessionChanges


def _ahead(ctx: CourseContext, now: datetime) -> list[models.TreatmentSession]:
    return [s for s in ctx.sessions if s.status == lifecycle.SCHEDULED and s.starts_at > now]


def cancel_course(rt: Runtime, course_id: int, reason: str, actor: Actor) -> models.Course:
    """Cancels every session still ahead (they are released, not counted as missed) and ends the course."""
    now = rt.now()
    with rt.transaction() as db:
        ctx = load_course(db, course_id, now=now, placing=False)
        if ctx.course.status != lifecycle.COURSE_ACTIVE:
            raise StateConflict(f"The course is {ctx.course.status} already", {"status": ctx.course.status})
        SessionChanges(db, actor, now).release(_ahead(ctx, now), by=lifecycle.BY_COURSE_CANCEL, reason=reason)
        ctx.course.status, ctx.course.ended_at, ctx.course.cancel_reason = lifecycle.COURSE_CANCELLED, now, reason
        ctx.record(db, actor, now, "cancel", reason)
        audit.note(db, actor, now, audit.UPDATE, audit.COURSE, ctx.course.id, ctx.course.patient_id)
    return get_course(rt, course_id, actor)


def pause_course(rt: Runtime, course_id: int, reason: str, actor: Actor) -> models.Course:
    """Releases the course's future sessions; resume lays them out again."""
    now = rt.now()
    with rt.transaction() as db:
        ctx = load_course(db, course_id, now=now, placing=False)
        if not ctx.running:
            raise StateConflict("Only an active, running course can be paused", {"status": "not running"})
        SessionChanges(db, actor, now).release(_ahead(ctx, now), by=lifecycle.BY_PAUSE, reason=reason)
        ctx.course.paused_at = now
        ctx.record(db, actor, now, "pause", reason)
        audit.note(db, actor, now, audit.UPDATE, audit.COURSE, ctx.course.id, ctx.course.patient_id)
    return get_course(rt, course_id, actor)


def resume_course(rt: Runtime, course_id: int, from_date: date, actor: Actor) -> models.Course:
    """Lays the released sessions out again from `from_date`: the daily ones, then the taper behind them."""
    now = rt.now()
    with rt.transaction() as db:
        ctx = load_course(db, course_id, now=now)
        if ctx.course.paused_at is None:
            raise StateConflict("The course is not paused", {"status": "not paused"})
        if from_date < ctx.local_day(now):
            raise RuleViolation("A course resumes today or later", {"from_date": "must not be in the past"})
        if not ctx.calendar.is_open_on(from_date):
            raise RuleViolation(f"The site is closed on {from_date}", {"from_date": "must be a day the site is open"})
        replaced = {m.makeup_for_id for m in ctx.sessions if m.makeup_for_id}
        released = [s for s in ctx.state().sessions if s.id not in replaced and s.status == lifecycle.CANCELLED
                    and ctx.session(s.id).cancelled_by == lifecycle.BY_PAUSE]
        book = busy_book(db, ctx, from_date)
        placed = lay_out_again(ctx.state(), ctx.calendar, book, released, from_day=from_date, now=now,
                               step_minutes=rt.booking_step_minutes)
        first_number = ctx.next_number()
        new = [NewSession(number=first_number + i, kind=old.kind, chair_id=p.chair_id, starts_at=p.starts_at,
                          ends_at=p.ends_at, makeup_for_id=old.id, reason=f"laid out again for session {old.number}")
               for i, (old, p) in enumerate(placed)]
        ctx.sessions.extend(SessionChanges(db, actor, now).create(ctx.course, new, action="resume"))
        ctx.course.paused_at = None
        ctx.record(db, actor, now, "resume", f"from {from_date}")
        audit.note(db, actor, now, audit.UPDATE, audit.COURSE, ctx.course.id, ctx.course.patient_id)
    return get_course(rt, course_id, actor)
