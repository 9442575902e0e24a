"""Make-ups: a missed session is made up at the end of the daily phase, within the authorization."""
from __future__ import annotations

from dataclasses import dataclass

from ..db import models
from ..domain import lifecycle
from ..domain.allocation import ChairBook
from ..domain.errors import DomainError, StateConflict
from ..domain.makeups import Move, append_session, map_at_visit
from ..domain.planning import MAKEUP, MAPPING, TAPER
from . import authorization
from .actor import Actor
from .course_context import CourseContext, busy_book, load_course_of_session
from .moves import apply_moves
from .runtime import Runtime
from .session_changes import NewSession, Relocation, SessionChanges


@dataclass(frozen=True)
class MissOutcome:
    session: models.TreatmentSession
    makeup: models.TreatmentSession | None
    makeup_refused: str | None
    moved: list[models.TreatmentSession]


def make_up_if_possible(changes: SessionChanges, ctx: CourseContext, missed: models.TreatmentSession,
                        override_reason: str | None, step_minutes: int) -> MissOutcome:
    """Books the make-up of a session just missed; the miss stands whatever becomes of it.

    The make-up is tried in a savepoint: when a rule refuses it (the authorization, no room),
    the answer says why and the front desk can book it later with POST /sessions/{id}/makeup.
    """
    if not ctx.running:
        state = "paused" if ctx.course.paused_at else ctx.course.status
        return MissOutcome(missed, None, f"the course is {state}; book the make-up once it runs again", [])
    savepoint = changes.db.begin_nested()
    sessions_before = list(ctx.sessions)
    try:
        makeup, moved = book_within_authorization(changes, ctx, missed, override_reason, step_minutes)
    except DomainError as exc:
        savepoint.rollback()
        ctx.sessions[:] = sessions_before
        return MissOutcome(missed, None, exc.message, [])
    savepoint.commit()
    return MissOutcome(missed, makeup, None, moved)


def book_makeup(rt: Runtime, session_id: int, actor: Actor, *, override_reason: str | None) -> MissOutcome:
    """Books the make-up a missed session went without (refused earlier as beyond the authorization)."""
    now = rt.now()
    with rt.transaction() as db:
        ctx, s = load_course_of_session(db, session_id, now=now)
        if s.status not in lifecycle.MISSED or s.cancelled_by in lifecycle.RELEASED_BY:
            raise StateConflict(f"Session {s.number} was not missed; it is {s.status}", {"status": s.status})
        if any(o.makeup_for_id == s.id for o in ctx.sessions):
            raise StateConflict(f"Session {s.number} has its make-up already", {"session_id": "made up already"})
        if not ctx.running:
            raise StateConflict("The course is not running; resume it first", {"status": "not running"})
        changes = SessionChanges(db, actor, now)
        makeup, moved = book_within_authorization(changes, ctx, s, override_reason, rt.booking_step_minutes)
        return MissOutcome(s, makeup, None, moved)


def book_within_authorization(changes: SessionChanges, ctx: CourseContext, missed: models.TreatmentSession,
                              override_reason: str | None,
                              step_minutes: int) -> tuple[models.TreatmentSession, list[models.TreatmentSession]]:
    """Books the make-up; beyond the authorization's count or dates only with an override, which is recorded."""
    over_count = authorization.count_refusal(ctx, extra_sessions=1)
    authorization.require_override(over_count, override_reason, "book the make-up")
    makeup, moved = _book(changes, ctx, missed, step_minutes)
    past_end = authorization.end_refusal(ctx)
    authorization.require_override(past_end, override_reason, "book the make-up")
    if over_count or past_end:
        authorization.record_override(changes.db, ctx, changes.actor, changes.now,
                                      f"make-up for session {missed.number}: {override_reason}")
    return makeup, moved


def _book(changes: SessionChanges, ctx: CourseContext, missed: models.TreatmentSession,
          step_minutes: int) -> tuple[models.TreatmentSession, list[models.TreatmentSession]]:
    db, now = changes.db, changes.now
    book = busy_book(db, ctx, ctx.local_day(now))
    minutes = missed.minutes
    moved: list[models.TreatmentSession] = []
    if missed.kind == MAPPING:
        remapped = _map_at_next_visit(changes, ctx, book, step_minutes)
        if remapped:
            moved += remapped
            minutes = ctx.cadence.session_minutes
    extension = append_session(ctx.state(), ctx.calendar, book, kind=TAPER if missed.kind == TAPER else MAKEUP,
                               minutes=minutes, now=now, step_minutes=step_minutes)
    moved += apply_moves(changes, ctx, extension.taper_moves, reason="taper moved behind a make-up")
    p = extension.placement
    (makeup,) = changes.create(ctx.course, [NewSession(
        number=ctx.next_number(), kind=MAKEUP, chair_id=p.chair_id, starts_at=p.starts_at, ends_at=p.ends_at,
        makeup_for_id=missed.id, reason=f"make-up for session {missed.number}")], action="makeup")
    ctx.sessions.append(makeup)
    return makeup, moved


def _map_at_next_visit(changes: SessionChanges, ctx: CourseContext, book: ChairBook,
                       step_minutes: int) -> list[models.TreatmentSession]:
    """A missed mapping is done at the patient's next visit: that session becomes the mapping,
    lengthened, and the patient's later sessions that day move on to keep the protocol's gap
    (those the day cannot hold go to the end of the phase). Answers the moved sessions, the new
    mapping first; none when the visit cannot last the mapping's length that day (the make-up
    then carries it)."""
    now = changes.now
    ahead = [s for s in ctx.sessions if s.status == lifecycle.SCHEDULED and s.starts_at > now]
    if not ahead:
        return []
    visit = min(ahead, key=lambda s: s.starts_at)
    remapping = map_at_visit(ctx.state(), ctx.calendar, book, visit.id, ctx.cadence.mapping_minutes, now=now,
                             step_minutes=step_minutes)
    if remapping is None:
        return []
    found = [Relocation(ctx.session(m.session_id), m.placement.chair_id, m.placement.starts_at, m.placement.ends_at,
                        MAPPING if m.session_id == visit.id else None) for m in remapping.moves]
    changes.relocate(found, action="move", reason="the missed mapping is done at this visit instead")
    moved = [r.session for r in found]
    for displaced in remapping.displaced:
        extension = append_session(ctx.state(), ctx.calendar, book, kind=displaced.kind, minutes=displaced.minutes,
                                   now=now, step_minutes=step_minutes, moving=frozenset({displaced.id}))
        moved += apply_moves(changes, ctx, [Move(displaced.id, extension.placement), *extension.taper_moves],
                             reason="moved to the end of the phase to make room for the mapping")
    return moved
