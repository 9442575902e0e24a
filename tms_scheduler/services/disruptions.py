"""A closure added after booking, or a chair taken out of service: which sessions it hits, and moving them.

Each affected session first looks for another fitting chair on its own day (the nearest
free time to its own); failing that it goes to the end of its phase, the taper moving back
behind it. Every move is reported; nothing is dropped silently: a session that finds no
place at all fails the whole replan, which then changes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db import models
from ..domain import lifecycle
from ..domain.calendar import day_start
from ..domain.errors import NotFound, RuleViolation, StateConflict
from ..domain.makeups import Move, append_session, lengthen_session, spacing_of
from ..domain.placement import place_session
from ..domain.planning import MAPPING
from .actor import Actor
from .catalog import sessions_on_day
from .course_context import busy_book, load_course
from .lookups import get_or_404, referenced
from .moves import apply_moves
from .runtime import Runtime
from .session_changes import SessionChanges


@dataclass(frozen=True)
class SessionMove:
    session_id: int
    course_id: int
    from_starts_at: datetime
    from_chair_id: int
    to_starts_at: datetime
    to_chair_id: int


@dataclass(frozen=True)
class Disruption:
    affected: list[models.TreatmentSession]
    moves: list[SessionMove]


def _booked_in_chair(db: Session, chair_id: int, first: datetime) -> list[models.TreatmentSession]:
    return list(db.scalars(select(models.TreatmentSession).where(
        models.TreatmentSession.chair_id == chair_id,
        models.TreatmentSession.status.in_(lifecycle.AHEAD),
        models.TreatmentSession.starts_at >= first,
    ).order_by(models.TreatmentSession.starts_at, models.TreatmentSession.id)))


def close_site(rt: Runtime, site_id: str, day: date, reason: str, actor: Actor, *,
               replan: bool) -> tuple[models.Closure, Disruption]:
    now = rt.now()
    with rt.transaction() as db:
        site = get_or_404(db, models.Site, site_id, "site")
        zone = ZoneInfo(site.timezone)
        if day < now.astimezone(zone).date():
            raise RuleViolation(f"{day} is in the past", {"date": "must not be in the past"})
        if db.scalar(select(models.Closure.id).where(models.Closure.site_id == site_id,
                                                     models.Closure.date == day)) is not None:
            raise StateConflict(f"{site.name} is already closed on {day}", {"date": "already closed"})
        closure = models.Closure(site_id=site_id, date=day, reason=reason)
        db.add(closure)
        db.flush()
        affected = sessions_on_day(db, site, day, statuses=lifecycle.AHEAD)
        moves = _replan(SessionChanges(db, actor, now), affected, rt.booking_step_minutes, same_day=False,
                        reason=f"site closed on {day}: {reason}") if replan else []
    return closure, Disruption(affected, moves)


def retire_chair(rt: Runtime, site_id: str, chair_id: int, from_day: date, reason: str, actor: Actor, *,
                 replan: bool) -> tuple[models.Chair, Disruption]:
    now = rt.now()
    with rt.transaction() as db:
        chair = get_or_404(db, models.Chair, chair_id, "chair")
        if chair.site_id != site_id:
            raise NotFound(f"No chair {chair_id} at site {site_id!r}")
        zone = ZoneInfo(referenced(db, models.Site, site_id).timezone)
        if from_day < now.astimezone(zone).date():
            raise RuleViolation(f"{from_day} is in the past", {"from_date": "must not be in the past"})
        chair.out_of_service_from = from_day
        db.flush()
        affected = _booked_in_chair(db, chair_id, max(day_start(from_day, zone), now))
        moves = _replan(SessionChanges(db, actor, now), affected, rt.booking_step_minutes, same_day=True,
                        reason=f"chair {chair.name} out of service from {from_day}: {reason}") if replan else []
    return chair, Disruption(affected, moves)


def _mapping_moves(ctx, mapping: models.TreatmentSession, book, now: datetime, step_minutes: int) -> list[Move]:
    """The mapping must stay first: it takes the next session's place, lengthened (the patient's
    later sessions that day moving on to keep the protocol's gap), and that session goes to the
    end of the daily phase like any displaced one."""
    later = [o for o in ctx.sessions if o.status == lifecycle.SCHEDULED and o.starts_at > mapping.starts_at]
    if not later:
        extension = append_session(ctx.state(), ctx.calendar, book, kind=MAPPING,
                                   minutes=mapping.minutes, now=now, step_minutes=step_minutes,
                                   moving=frozenset({mapping.id}))
        return [Move(mapping.id, extension.placement), *extension.taper_moves]
    following = min(later, key=lambda o: o.starts_at)
    try:
        in_its_place, *pushed = lengthen_session(ctx.state(), ctx.calendar, book, following.id, mapping.minutes,
                                                 now=now, step_minutes=step_minutes)
    except RuleViolation as exc:
        raise RuleViolation(f"No chair has room for the {mapping.minutes}-minute mapping session on "
                            f"{ctx.local_day(following.starts_at)}: {exc.message}",
                            {"date": "the mapping session cannot move"}) from None
    extension = append_session(ctx.state(), ctx.calendar, book, kind=following.kind, minutes=following.minutes,
                               now=now, step_minutes=step_minutes, moving=frozenset({mapping.id, following.id}))
    return [Move(mapping.id, in_its_place.placement), *pushed, Move(following.id, extension.placement),
            *extension.taper_moves]


def _replan(changes: SessionChanges, affected: list[models.TreatmentSession], step_minutes: int, *,
            same_day: bool, reason: str) -> list[SessionMove]:
    db, now = changes.db, changes.now
    moves: list[SessionMove] = []
    by_course: dict[int, list[int]] = {}
    for s in affected:
        if s.status == lifecycle.SCHEDULED:  # a patient already checked in is treated where they are
            by_course.setdefault(s.course_id, []).append(s.id)
    for course_id, session_ids in sorted(by_course.items()):
        ctx = load_course(db, course_id, now=now)
        # One book per course: each placement below takes its time in it and releases the old one.
        book = busy_book(db, ctx, ctx.local_day(now))
        for session_id in session_ids:
            s = ctx.session(session_id)
            before = (s.starts_at, s.chair_id)
            book.release(s.chair_id, s.starts_at, s.ends_at)
            minutes = s.minutes
            day = ctx.local_day(s.starts_at)
            placement = None
            if same_day and ctx.calendar.is_open_on(day):
                others = [o for o in ctx.state().holding() if o.id != s.id]
                placement = place_session(ctx.calendar, book, first_day=day,
                                          preferred=s.starts_at.astimezone(ctx.calendar.zone).time(),
                                          minutes=minutes, chair_order=ctx.chair_ids, step_minutes=step_minutes,
                                          not_before=now, days=1,
                                          allowed=spacing_of(ctx.state(), ctx.calendar, others))
            if placement is not None:
                book.take(placement.chair_id, placement.starts_at, placement.ends_at)
                course_moves = [Move(s.id, placement)]
            elif s.kind == MAPPING:
                course_moves = _mapping_moves(ctx, s, book, now, step_minutes)
            else:
                extension = append_session(ctx.state(), ctx.calendar, book, kind=s.kind,
                                           minutes=minutes, now=now, step_minutes=step_minutes,
                                           moving=frozenset({s.id}))
                course_moves = [Move(s.id, extension.placement), *extension.taper_moves]
            originals = {m.session_id: (ctx.session(m.session_id).starts_at, ctx.session(m.session_id).chair_id)
                         for m in course_moves}
            originals[s.id] = before
            for moved in apply_moves(changes, ctx, course_moves, reason=reason):
                from_starts_at, from_chair_id = originals[moved.id]
                moves.append(SessionMove(moved.id, course_id, from_starts_at, from_chair_id, moved.starts_at,
                                         moved.chair_id))
    return moves
