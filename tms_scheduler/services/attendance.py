"""A session's lifecycle at the chair: check-in, treatment, no-show, cancellation."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from .. import metrics
from ..db import models
from ..domain import lifecycle
from ..domain.errors import NotFound
from . import audit
from .actor import Actor
from .course_context import CourseContext, load_course_of_session
from .lookups import get_or_404, referenced
from .makeups import MissOutcome, make_up_if_possible
from .runtime import Runtime
from .session_changes import SessionChanges


@dataclass(frozen=True)
class TreatmentDetails:
    motor_threshold: int
    intensity: int
    frequency: float | None = None
    pulses: int | None = None
    coil_position: str | None = None
    side_effects: tuple[str, ...] = ()
    discomfort: int | None = None
    supervising_physician: str | None = None
    notes: str | None = None


def check_in(rt: Runtime, session_id: int, actor: Actor) -> models.TreatmentSession:
    now = rt.now()
    with rt.transaction() as db:
        ctx, s = load_course_of_session(db, session_id, now=now, placing=False)
        lifecycle.check_transition(s.status, lifecycle.CHECKED_IN)
        lifecycle.check_on_session_day(ctx.local_day(s.starts_at), ctx.local_day(now), "Check-in")
        SessionChanges(db, actor, now).set_status(s, lifecycle.CHECKED_IN, action="check_in")
    return s


def complete(rt: Runtime, session_id: int, details: TreatmentDetails, actor: Actor) -> models.TreatmentSession:
    now = rt.now()
    with rt.transaction() as db:
        ctx, s = load_course_of_session(db, session_id, now=now, placing=False)
        lifecycle.check_transition(s.status, lifecycle.COMPLETED)
        lifecycle.check_on_session_day(ctx.local_day(s.starts_at), ctx.local_day(now), "Completion")
        SessionChanges(db, actor, now).set_status(s, lifecycle.COMPLETED, action="complete")
        db.add(models.TreatmentRecord(
            session_id=s.id, motor_threshold=details.motor_threshold, intensity=details.intensity,
            frequency=details.frequency, pulses=details.pulses, coil_position=details.coil_position,
            side_effects=list(details.side_effects), discomfort=details.discomfort, technician_id=actor.user_id,
            supervising_physician=details.supervising_physician, notes=details.notes, recorded_at=now,
        ))
        audit.note(db, actor, now, audit.CREATE, audit.TREATMENT_RECORD, s.id, ctx.course.patient_id)
        _complete_course_if_done(db, ctx, actor, now)
    return s


def _complete_course_if_done(db, ctx: CourseContext, actor: Actor, now: datetime) -> None:
    """The course is completed when the session just given was the last one ahead of it.

    A course whose last session was missed stays active: its make-up is still owed.
    """
    if any(s.status in lifecycle.AHEAD for s in ctx.sessions):
        return
    ctx.course.status = lifecycle.COURSE_COMPLETED
    ctx.course.ended_at = now
    ctx.record(db, actor, now, "complete")


def record_no_show(rt: Runtime, session_id: int, actor: Actor, *, override_reason: str | None = None) -> MissOutcome:
    now = rt.now()
    with rt.transaction() as db:
        ctx, s = load_course_of_session(db, session_id, now=now)
        lifecycle.check_transition(s.status, lifecycle.NO_SHOW)
        lifecycle.check_no_show_allowed(s.starts_at, now)
        outcome = record_miss(SessionChanges(db, actor, now), ctx, s, lifecycle.NO_SHOW, by=None, reason=None,
                              override_reason=override_reason, step_minutes=rt.booking_step_minutes)
    metrics.no_show_marked("staff")
    return outcome


def cancel_session(rt: Runtime, session_id: int, actor: Actor, *, by: str, reason: str,
                   override_reason: str | None = None) -> MissOutcome:
    now = rt.now()
    with rt.transaction() as db:
        ctx, s = load_course_of_session(db, session_id, now=now)
        lifecycle.check_transition(s.status, lifecycle.CANCELLED)
        return record_miss(SessionChanges(db, actor, now), ctx, s, lifecycle.CANCELLED, by=by, reason=reason,
                           override_reason=override_reason, step_minutes=rt.booking_step_minutes)


def record_miss(changes: SessionChanges, ctx: CourseContext, s: models.TreatmentSession, status: str, *,
                by: str | None, reason: str | None, override_reason: str | None, step_minutes: int) -> MissOutcome:
    """Marks the session missed (a no-show, or cancelled `by` someone) and books its make-up."""
    action = "no_show" if status == lifecycle.NO_SHOW else "cancel"
    changes.set_status(s, status, action=action, reason=reason, cancelled_by=by)
    return make_up_if_possible(changes, ctx, s, override_reason, step_minutes)


def treatment_record(rt: Runtime, session_id: int, actor: Actor) -> models.TreatmentRecord:
    with rt.reading() as db:
        session = get_or_404(db, models.TreatmentSession, session_id, "session")
        record = db.get(models.TreatmentRecord, session_id)
        if record is None:
            raise NotFound(f"Session {session_id} has no treatment record (it is not completed)")
        audit.note(db, actor, rt.now(), audit.READ, audit.TREATMENT_RECORD, session_id,
                   referenced(db, models.Course, session.course_id).patient_id)
        return record


def session_history(rt: Runtime, session_id: int, actor: Actor) -> tuple[
        models.TreatmentSession, list[tuple[models.SessionEvent, str | None]]]:
    """The session and every change of it, oldest first, each with its user's name (None: the scheduler)."""
    with rt.reading() as db:
        session = get_or_404(db, models.TreatmentSession, session_id, "session")
        audit.note(db, actor, rt.now(), audit.READ, audit.SESSION, session_id,
                   referenced(db, models.Course, session.course_id).patient_id)
        return session, [(event, username) for event, username in db.execute(
            select(models.SessionEvent, models.User.username)
            .outerjoin(models.User, models.User.id == models.SessionEvent.user_id)
            .where(models.SessionEvent.session_id == session_id)
            .order_by(models.SessionEvent.at, models.SessionEvent.id))]
