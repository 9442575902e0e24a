"""Moving sessions: one by the front desk (reschedule), or many as the rules re-plan a course."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from ..db import models
from ..domain import lifecycle
from ..domain.errors import RuleViolation, StateConflict
from ..domain.makeups import Move
from ..domain.planning import in_opening_hours
from ..domain.spacing import spacing_problem
from . import authorization
from .actor import Actor
from .course_context import CourseContext, busy_book, load_course_of_session
from .runtime import Runtime
from .session_changes import Relocation, SessionChanges


def relocations(ctx: CourseContext, moves: Iterable[Move], kind: str | None = None) -> list[Relocation]:
    """The domain's moves as the seam takes them."""
    return [Relocation(ctx.session(m.session_id), m.placement.chair_id, m.placement.starts_at, m.placement.ends_at,
                       kind) for m in moves]


def apply_moves(changes: SessionChanges, ctx: CourseContext, moves: Iterable[Move],
                reason: str) -> list[models.TreatmentSession]:
    """Moves sessions to the places the rules found, all at once; answers the moved sessions."""
    found = relocations(ctx, moves)
    changes.relocate(found, action="move", reason=reason)
    return [r.session for r in found]


def reschedule(rt: Runtime, session_id: int, starts_at: datetime, actor: Actor, *, reason: str | None = None,
               override_reason: str | None = None) -> models.TreatmentSession:
    """Moves one session (same id) to a new start, in its chair if free, else another fitting chair."""
    now = rt.now()
    with rt.transaction() as db:
        ctx, s = load_course_of_session(db, session_id, now=now)
        lifecycle.check_reschedulable(s.status)
        ends_at = starts_at + (s.ends_at - s.starts_at)
        day = ctx.local_day(starts_at)
        local = starts_at.astimezone(ctx.calendar.zone)
        if starts_at <= now:
            raise RuleViolation("A session can only be moved to a time still ahead",
                                {"starts_at": "must be in the future"})
        if not ctx.calendar.is_open_on(day):
            raise RuleViolation(f"The site is closed on {day} ({day:%A})", {"starts_at": "the site is closed that day"})
        outside = authorization.dates_refusal(ctx.course, day)
        authorization.require_override(outside, override_reason, "move it")
        if not in_opening_hours(ctx.calendar, day, starts_at, ends_at):
            raise RuleViolation(
                f"{local:%H:%M} for {s.minutes} minutes falls outside opening hours "
                f"{ctx.calendar.opens:%H:%M}-{ctx.calendar.closes:%H:%M}", {"starts_at": "outside opening hours"})
        others = [o for o in ctx.sessions if o.id != s.id and o.status in lifecycle.CHAIR_HOLDING]
        crowded = spacing_problem(others, starts_at, ends_at, min_gap_minutes=ctx.cadence.min_gap_minutes,
                                  sessions_per_day=ctx.cadence.sessions_per_day, day_of=ctx.calendar.local_date,
                                  zone=ctx.calendar.zone)
        if crowded:
            raise StateConflict(f"Session {s.number} cannot move to {local:%H:%M} on {day}: {crowded}",
                                {"starts_at": crowded})
        book = busy_book(db, ctx, day, days=1)
        book.release(s.chair_id, s.starts_at, s.ends_at)
        chair_id = next((c for c in [s.chair_id, *ctx.chair_ids] if c in book.chair_ids
                         and book.is_free(c, starts_at, ends_at)), None)
        if chair_id is None:
            raise StateConflict(f"No fitting chair is free at {local:%H:%M} on {day}",
                                {"starts_at": "every fitting chair is taken then"})
        changes = SessionChanges(db, actor, now)
        changes.relocate([Relocation(s, chair_id, starts_at, ends_at)], action="reschedule", reason=reason)
        if outside:
            authorization.record_override(db, ctx, actor, now, f"session {s.number} moved to {day}: {override_reason}")
    return s
