"""A course living through its weeks: check-in, treatment, no-shows, cancellations, moves, make-ups."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ..db import models
from ..db.engine import transaction
from ..domain import lifecycle
from ..domain.errors import DomainError, NotFound, RuleViolation, StateConflict
from ..domain.makeups import Move, append_session, lay_out_again
from ..domain.placement import Placement, place_session
from ..domain.planning import MAKEUP, MAPPING, TAPER
from .booking import is_overlap_refusal
from .course_context import CourseContext, busy_book, load_course
from .courses import get_course
from .lookups import get_or_404


@dataclass(frozen=True)
class Actor:
    """Who makes a change: a signed-in user, or the scheduler (user_id None)."""

    user_id: int | None


SCHEDULER = Actor(None)


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


@dataclass(frozen=True)
class MissOutcome:
    session: models.TreatmentSession
    makeup: models.TreatmentSession | None
    makeup_refused: str | None
    moved: list[models.TreatmentSession]


def _log(db: Session, s: models.TreatmentSession, actor: Actor, now: datetime, action: str, *,
         from_status: str | None, reason: str | None = None, from_starts_at=None, from_chair_id=None) -> None:
    db.add(models.SessionEvent(
        session_id=s.id, at=now, user_id=actor.user_id, action=action, from_status=from_status, to_status=s.status,
        from_starts_at=from_starts_at, to_starts_at=s.starts_at if from_starts_at else None,
        from_chair_id=from_chair_id, to_chair_id=s.chair_id if from_chair_id else None, reason=reason,
    ))


def _course_of_session(db: Session, session_id: int, now: datetime, *,
                       placing: bool = True) -> tuple[CourseContext, models.TreatmentSession]:
    course_id = db.scalar(select(models.TreatmentSession.course_id).where(models.TreatmentSession.id == session_id))
    if course_id is None:
        get_or_404(db, models.TreatmentSession, session_id, "session")
    ctx = load_course(db, course_id, today=now.date(), placing=placing)
    return ctx, ctx.session(session_id)


def _change_status(db: Session, ctx: CourseContext, s: models.TreatmentSession, target: str, actor: Actor,
                   now: datetime, action: str, reason: str | None = None) -> None:
    lifecycle.check_transition(s.status, target)
    before = s.status
    s.status = target
    s.updated_at = now
    _log(db, s, actor, now, action, from_status=before, reason=reason)


def check_in(factory: sessionmaker[Session], session_id: int, actor: Actor, *, now: datetime) -> models.TreatmentSession:
    with transaction(factory) as db:
        ctx, s = _course_of_session(db, session_id, now, placing=False)
        lifecycle.check_transition(s.status, lifecycle.CHECKED_IN)
        lifecycle.check_on_session_day(ctx.local_day(s.starts_at), ctx.local_day(now), "Check-in")
        _change_status(db, ctx, s, lifecycle.CHECKED_IN, actor, now, "check_in")
    return s


def complete(factory: sessionmaker[Session], session_id: int, details: TreatmentDetails, actor: Actor, *,
             now: datetime) -> models.TreatmentSession:
    with transaction(factory) as db:
        ctx, s = _course_of_session(db, session_id, now, placing=False)
        lifecycle.check_transition(s.status, lifecycle.COMPLETED)
        lifecycle.check_on_session_day(ctx.local_day(s.starts_at), ctx.local_day(now), "Completion")
        _change_status(db, ctx, s, lifecycle.COMPLETED, actor, now, "complete")
        db.add(models.TreatmentRecord(
            session_id=s.id, motor_threshold=details.motor_threshold, intensity=details.intensity,
            frequency=details.frequency, pulses=details.pulses, coil_position=details.coil_position,
            side_effects=list(details.side_effects), discomfort=details.discomfort, technician_id=actor.user_id,
            supervising_physician=details.supervising_physician, notes=details.notes, recorded_at=now,
        ))
        _complete_course_if_done(db, ctx, actor, now)
    return s


def _complete_course_if_done(db: Session, ctx: CourseContext, actor: Actor, now: datetime) -> None:
    """The course is completed when the session just given was the last one ahead of it.

    A course whose last session was missed stays active: its make-up is still owed.
    """
    if any(s.status in (lifecycle.SCHEDULED, lifecycle.CHECKED_IN) for s in ctx.sessions):
        return
    ctx.course.status = "completed"
    ctx.course.ended_at = now
    db.add(models.CourseEvent(course_id=ctx.course.id, at=now, user_id=actor.user_id, action="complete"))


def record_no_show(factory: sessionmaker[Session], session_id: int, actor: Actor, *, now: datetime,
                   override_reason: str | None = None, step_minutes: int = 15) -> MissOutcome:
    with transaction(factory) as db:
        ctx, s = _course_of_session(db, session_id, now)
        lifecycle.check_transition(s.status, lifecycle.NO_SHOW)
        lifecycle.check_no_show_allowed(s.starts_at, now)
        return record_miss(db, ctx, s, lifecycle.NO_SHOW, actor, now, action="no_show", by=None, reason=None,
                     override_reason=override_reason, step_minutes=step_minutes)


def cancel_session(factory: sessionmaker[Session], session_id: int, *, by: str, reason: str, actor: Actor,
                   now: datetime, override_reason: str | None = None, step_minutes: int = 15) -> MissOutcome:
    with transaction(factory) as db:
        ctx, s = _course_of_session(db, session_id, now)
        lifecycle.check_transition(s.status, lifecycle.CANCELLED)
        return record_miss(db, ctx, s, lifecycle.CANCELLED, actor, now, action="cancel", by=by, reason=reason,
                     override_reason=override_reason, step_minutes=step_minutes)


def record_miss(db: Session, ctx: CourseContext, s: models.TreatmentSession, status: str, actor: Actor,
                now: datetime, *, action: str, by: str | None, reason: str | None, override_reason: str | None,
                step_minutes: int) -> MissOutcome:
    """Marks the session missed and books its make-up, inside the caller's transaction."""
    _change_status(db, ctx, s, status, actor, now, action, reason=reason)
    s.cancelled_by = by
    db.flush()
    if ctx.course.status != "active" or ctx.course.paused_at is not None:
        return MissOutcome(s, None, f"the course is {'paused' if ctx.course.paused_at else ctx.course.status}; "
                                    "book the make-up once it runs again", [])
    # The miss stands whatever becomes of its make-up: the make-up is tried in a savepoint.
    savepoint = db.begin_nested()
    sessions_before = list(ctx.sessions)
    try:
        makeup, moved = _makeup_within_authorization(db, ctx, s, actor, now, override_reason, step_minutes)
    except DomainError as exc:
        savepoint.rollback()
        ctx.sessions[:] = sessions_before
        return MissOutcome(s, None, exc.message, [])
    savepoint.commit()
    return MissOutcome(s, makeup, None, moved)


def book_makeup(factory: sessionmaker[Session], session_id: int, actor: Actor, *, now: datetime,
                override_reason: str | None, step_minutes: int = 15) -> MissOutcome:
    """Books the make-up a missed session went without (refused earlier as beyond the authorization)."""
    with transaction(factory) as db:
        ctx, s = _course_of_session(db, session_id, now)
        if s.status not in lifecycle.MISSED or s.cancelled_by in ("pause", "course_cancel"):
            raise StateConflict(f"Session {s.number} was not missed; it is {s.status}", {"status": s.status})
        if any(o.makeup_for_id == s.id for o in ctx.sessions):
            raise StateConflict(f"Session {s.number} has its make-up already", {"session_id": "made up already"})
        if ctx.course.status != "active" or ctx.course.paused_at is not None:
            raise StateConflict("The course is not running; resume it first", {"status": "not running"})
        makeup, moved = _makeup_within_authorization(db, ctx, s, actor, now, override_reason, step_minutes)
        return MissOutcome(s, makeup, None, moved)


def _makeup_within_authorization(db: Session, ctx: CourseContext, missed: models.TreatmentSession, actor: Actor,
                                 now: datetime, override_reason: str | None,
                                 step_minutes: int) -> tuple[models.TreatmentSession, list[models.TreatmentSession]]:
    """Books the make-up; beyond the authorization's count or dates only with an override, which is recorded."""
    refusal = authorization_refusal(ctx, extra_sessions=1, last_day=None)
    if refusal and not override_reason:
        raise RuleViolation(refusal + "; give override_reason to book the make-up anyway",
                            {"override_reason": "needed: the make-up is beyond the authorization"})
    makeup, moved = _book_makeup(db, ctx, missed, actor, now, step_minutes)
    after = authorization_refusal(ctx, extra_sessions=0, last_day=ctx.last_day())
    if after and not override_reason:
        raise RuleViolation(after + "; give override_reason to book the make-up anyway",
                            {"override_reason": "needed: the make-up falls outside the authorization"})
    if refusal or after:
        _record_override(db, ctx, actor, now, f"make-up for session {missed.number}: {override_reason}")
    return makeup, moved


def treatment_record(factory: sessionmaker[Session], session_id: int) -> models.TreatmentRecord:
    with transaction(factory) as db:
        get_or_404(db, models.TreatmentSession, session_id, "session")
        record = db.get(models.TreatmentRecord, session_id)
        if record is None:
            raise NotFound(f"Session {session_id} has no treatment record (it is not completed)")
        return record


def authorization_refusal(ctx: CourseContext, *, extra_sessions: int, last_day: date | None) -> str | None:
    """Why one more session would break the course's authorization, or None."""
    course = ctx.course
    holding = sum(s.status in models.CHAIR_HOLDING_STATUSES for s in ctx.sessions)
    if course.authorized_sessions is not None and holding + extra_sessions > course.authorized_sessions:
        return (f"the course would hold {holding + extra_sessions} sessions but "
                f"{course.authorized_sessions} are authorized")
    if last_day and course.authorization_valid_to and last_day > course.authorization_valid_to:
        return (f"with the make-up the course runs to {last_day}, after the authorization ends "
                f"({course.authorization_valid_to})")
    return None


def authorization_dates_refusal(course: models.Course, day: date) -> str | None:
    if course.authorization_valid_from and day < course.authorization_valid_from:
        return f"{day} is before the authorization starts ({course.authorization_valid_from})"
    if course.authorization_valid_to and day > course.authorization_valid_to:
        return f"{day} is after the authorization ends ({course.authorization_valid_to})"
    return None


def _record_override(db: Session, ctx: CourseContext, actor: Actor, now: datetime, reason: str) -> None:
    db.add(models.CourseEvent(course_id=ctx.course.id, at=now, user_id=actor.user_id, action="authorization_override",
                              reason=reason))


def _book_makeup(db: Session, ctx: CourseContext, missed: models.TreatmentSession, actor: Actor, now: datetime,
                 step_minutes: int) -> tuple[models.TreatmentSession, list[models.TreatmentSession]]:
    book = busy_book(db, ctx, ctx.local_day(now))
    minutes = missed.minutes
    moved = []
    if missed.kind == MAPPING:
        remapped = _map_at_next_visit(db, ctx, book, actor, now, step_minutes)
        if remapped is not None:
            moved.append(remapped)
            minutes = ctx.cadence.session_minutes
    extension = append_session(ctx.state(), ctx.calendar, book, kind=TAPER if missed.kind == TAPER else MAKEUP,
                               minutes=minutes, now=now, step_minutes=step_minutes)
    moved += apply_moves(db, ctx, extension.taper_moves, actor, now, reason="taper moved behind a make-up")
    p = extension.placement
    makeup = models.TreatmentSession(
        course_id=ctx.course.id, number=ctx.next_number(), kind=MAKEUP, status=lifecycle.SCHEDULED,
        site_id=ctx.site.id, chair_id=p.chair_id, starts_at=p.starts_at, ends_at=p.ends_at, makeup_for_id=missed.id,
        created_at=now, updated_at=now,
    )
    db.add(makeup)
    _flush_or_conflict(db)
    ctx.sessions.append(makeup)
    _log(db, makeup, actor, now, "makeup", from_status=None, reason=f"make-up for session {missed.number}")
    return makeup, moved


def _map_at_next_visit(db: Session, ctx: CourseContext, book, actor: Actor, now: datetime,
                       step_minutes: int) -> models.TreatmentSession | None:
    """A missed mapping is done at the patient's next visit: that session becomes the mapping,
    lengthened where its chair (or another) has room that day. None when no visit has room."""
    ahead = [s for s in ctx.sessions if s.status == lifecycle.SCHEDULED and s.starts_at > now]
    if not ahead:
        return None
    visit = min(ahead, key=lambda s: s.starts_at)
    book.release(visit.chair_id, visit.starts_at, visit.ends_at)
    placement = place_session(ctx.calendar, book, first_day=ctx.local_day(visit.starts_at),
                              preferred=visit.starts_at.astimezone(ctx.calendar.zone).time(),
                              minutes=ctx.cadence.mapping_minutes, chair_order=[visit.chair_id, *ctx.chair_ids],
                              step_minutes=step_minutes, not_before=now, days=1)
    if placement is None:
        book.take(visit.chair_id, visit.starts_at, visit.ends_at)
        return None
    book.take(placement.chair_id, placement.starts_at, placement.ends_at)
    apply_moves(db, ctx, [Move(visit.id, placement)], actor, now,
                reason="the missed mapping is done at this visit instead")
    visit.kind = MAPPING
    return visit


def apply_moves(db: Session, ctx: CourseContext, moves, actor: Actor, now: datetime,
                 reason: str) -> list[models.TreatmentSession]:
    """Moves sessions to their new places; all at once, so two swapping days never collide midway."""
    moved = []
    originals = {}
    for move in moves:
        s = ctx.session(move.session_id)
        originals[s.id] = (s.starts_at, s.chair_id)
        # Park the session off the overlap guard while the others move.
        s.status = "cancelled"
    _flush_or_conflict(db)
    for move in moves:
        s = ctx.session(move.session_id)
        p: Placement = move.placement
        s.starts_at, s.ends_at, s.chair_id, s.status, s.updated_at = (p.starts_at, p.ends_at, p.chair_id,
                                                                      lifecycle.SCHEDULED, now)
        from_starts_at, from_chair_id = originals[s.id]
        _log(db, s, actor, now, "move", from_status=lifecycle.SCHEDULED, reason=reason,
             from_starts_at=from_starts_at, from_chair_id=from_chair_id)
        moved.append(s)
    _flush_or_conflict(db)
    return moved


def _flush_or_conflict(db: Session) -> None:
    try:
        db.flush()
    except IntegrityError as exc:
        if is_overlap_refusal(exc):
            raise StateConflict("Another booking took that chair-time just now; try again",
                                {"starts_at": "the chair was taken meanwhile"}) from None
        raise


def reschedule(factory: sessionmaker[Session], session_id: int, starts_at: datetime, actor: Actor, *,
               now: datetime, reason: str | None = None,
               override_reason: str | None = None) -> models.TreatmentSession:
    """Moves one session (same id) to a new start, in its chair if free, else another fitting chair."""
    with transaction(factory) as db:
        ctx, s = _course_of_session(db, session_id, now)
        lifecycle.check_reschedulable(s.status)
        length = s.ends_at - s.starts_at
        ends_at = starts_at + length
        day = ctx.local_day(starts_at)
        local = starts_at.astimezone(ctx.calendar.zone)
        if starts_at <= now:
            raise RuleViolation("A session can only be moved to a time still ahead", {"starts_at": "must be in the future"})
        if not ctx.calendar.is_open_on(day):
            raise RuleViolation(f"The site is closed on {day} ({day:%A})", {"starts_at": "the site is closed that day"})
        outside = authorization_dates_refusal(ctx.course, day)
        if outside and not override_reason:
            raise RuleViolation(outside + "; give override_reason to move it anyway",
                                {"override_reason": "needed: the new day is outside the authorization"})
        if not ctx.calendar.within_hours(local.time(), s.minutes):
            raise RuleViolation(
                f"{local:%H:%M} for {s.minutes} minutes falls outside opening hours "
                f"{ctx.calendar.opens:%H:%M}-{ctx.calendar.closes:%H:%M}", {"starts_at": "outside opening hours"})
        if ctx.cadence.sessions_per_day == 1 and any(
                o.id != s.id and o.status in models.CHAIR_HOLDING_STATUSES and ctx.local_day(o.starts_at) == day
                for o in ctx.sessions):
            raise StateConflict(f"The patient already has a session on {day}; one a day",
                                {"starts_at": "one treatment session per patient per day"})
        book = busy_book(db, ctx, day, days=1)
        book.release(s.chair_id, s.starts_at, s.ends_at)
        chair_id = next((c for c in [s.chair_id, *ctx.chair_ids] if c in book.chair_ids
                         and book.is_free(c, starts_at, ends_at)), None)
        if chair_id is None:
            raise StateConflict(f"No fitting chair is free at {local:%H:%M} on {day}",
                                {"starts_at": "every fitting chair is taken then"})
        before = (s.starts_at, s.chair_id)
        s.starts_at, s.ends_at, s.chair_id, s.updated_at = starts_at, ends_at, chair_id, now
        _flush_or_conflict(db)
        _log(db, s, actor, now, "reschedule", from_status=s.status, reason=reason, from_starts_at=before[0],
             from_chair_id=before[1])
        if outside:
            _record_override(db, ctx, actor, now, f"session {s.number} moved to {day}: {override_reason}")
    return s


def cancel_course(factory: sessionmaker[Session], course_id: int, reason: str, actor: Actor, *,
                  now: datetime) -> models.Course:
    """Cancels every session still ahead (they are released, not counted as missed) and ends the course."""
    with transaction(factory) as db:
        ctx = load_course(db, course_id, today=now.date())
        if ctx.course.status != "active":
            raise StateConflict(f"The course is {ctx.course.status} already", {"status": ctx.course.status})
        _release_ahead(db, ctx, actor, now, by="course_cancel", reason=reason)
        ctx.course.status, ctx.course.ended_at, ctx.course.cancel_reason = "cancelled", now, reason
        db.add(models.CourseEvent(course_id=ctx.course.id, at=now, user_id=actor.user_id, action="cancel", reason=reason))
    return get_course(factory, course_id)


def _release_ahead(db: Session, ctx: CourseContext, actor: Actor, now: datetime, *, by: str,
                   reason: str) -> list[models.TreatmentSession]:
    released = []
    for s in ctx.sessions:
        if s.status == lifecycle.SCHEDULED and s.starts_at > now:
            _change_status(db, ctx, s, lifecycle.CANCELLED, actor, now, by, reason=reason)
            s.cancelled_by = by
            released.append(s)
    return released


def pause_course(factory: sessionmaker[Session], course_id: int, reason: str, actor: Actor, *,
                 now: datetime) -> models.Course:
    """Releases the course's future sessions; resume lays them out again."""
    with transaction(factory) as db:
        ctx = load_course(db, course_id, today=now.date())
        if ctx.course.status != "active" or ctx.course.paused_at is not None:
            raise StateConflict("Only an active, running course can be paused", {"status": "not running"})
        _release_ahead(db, ctx, actor, now, by="pause", reason=reason)
        ctx.course.paused_at = now
        db.add(models.CourseEvent(course_id=ctx.course.id, at=now, user_id=actor.user_id, action="pause", reason=reason))
    return get_course(factory, course_id)


def resume_course(factory: sessionmaker[Session], course_id: int, from_date: date, actor: Actor, *, now: datetime,
                  step_minutes: int = 15) -> models.Course:
    """Lays the released sessions out again from `from_date`: the daily ones, then the taper behind them."""
    with transaction(factory) as db:
        ctx = load_course(db, course_id, today=from_date)
        if ctx.course.paused_at is None:
            raise StateConflict("The course is not paused", {"status": "not paused"})
        if from_date < ctx.local_day(now):
            raise RuleViolation("A course resumes today or later", {"from_date": "must not be in the past"})
        if not ctx.calendar.is_open_on(from_date):
            raise RuleViolation(f"The site is closed on {from_date}", {"from_date": "must be a day the site is open"})
        replaced = {m.makeup_for_id for m in ctx.sessions if m.makeup_for_id}
        released = [s for s in ctx.state().sessions if s.id not in replaced
                    and ctx.session(s.id).cancelled_by == "pause" and s.status == lifecycle.CANCELLED]
        book = busy_book(db, ctx, from_date)
        laid_out = []
        for old, p in lay_out_again(ctx.state(), ctx.calendar, book, released, from_day=from_date, now=now,
                                    step_minutes=step_minutes):
            new = models.TreatmentSession(
                course_id=ctx.course.id, number=ctx.next_number(), kind=old.kind, status=lifecycle.SCHEDULED,
                site_id=ctx.site.id, chair_id=p.chair_id, starts_at=p.starts_at, ends_at=p.ends_at,
                makeup_for_id=old.id, created_at=now, updated_at=now)
            db.add(new)
            ctx.sessions.append(new)
            laid_out.append((old, new))
        _flush_or_conflict(db)
        for old, new in laid_out:
            _log(db, new, actor, now, "resume", from_status=None, reason=f"laid out again for session {old.number}")
        ctx.course.paused_at = None
        db.add(models.CourseEvent(course_id=ctx.course.id, at=now, user_id=actor.user_id, action="resume",
                                  reason=f"from {from_date}"))
    return get_course(factory, course_id)


def session_history(factory: sessionmaker[Session],
                    session_id: int) -> tuple[models.TreatmentSession, list[models.SessionEvent]]:
    """The session and every change of it, oldest first."""
    with transaction(factory) as db:
        session = get_or_404(db, models.TreatmentSession, session_id, "session")
        return session, list(db.scalars(select(models.SessionEvent).where(models.SessionEvent.session_id == session_id)
                               .order_by(models.SessionEvent.at, models.SessionEvent.id)))
