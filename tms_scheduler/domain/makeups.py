"""Make-ups and moves: a missed or displaced daily session goes to the end of the daily
phase, and the taper (with every later session) moves back behind it, so the taper
begins only once the prescribed daily sessions were delivered."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from .allocation import ChairBook
from .calendar import SiteCalendar
from .errors import RuleViolation
from .lifecycle import CHECKED_IN, COMPLETED, MISSED, SCHEDULED
from .placement import Placement, place_session
from .planning import TAPER, lay_out, monday_of
from .protocols import Cadence, Phase

HOLDING = (SCHEDULED, CHECKED_IN, COMPLETED)


@dataclass(frozen=True)
class CourseSession:
    id: int
    number: int
    kind: str
    status: str
    day: date
    starts_at: datetime
    ends_at: datetime
    chair_id: int

    @property
    def minutes(self) -> int:
        return int((self.ends_at - self.starts_at).total_seconds() // 60)


@dataclass(frozen=True)
class CourseState:
    """A course as the make-up rules see it."""

    cadence: Cadence
    preferred_time: time
    sessions: tuple[CourseSession, ...]

    def holding(self, excluding: frozenset[int] = frozenset()) -> list[CourseSession]:
        return [s for s in self.sessions if s.status in HOLDING and s.id not in excluding]

    def usual_chair(self) -> int | None:
        counts: dict[int, int] = {}
        for s in self.holding():
            counts[s.chair_id] = counts.get(s.chair_id, 0) + 1
        return max(counts, key=lambda c: (counts[c], -c)) if counts else None


@dataclass(frozen=True)
class Move:
    session_id: int
    placement: Placement


@dataclass(frozen=True)
class Extension:
    """Where the appended (or moved) daily session goes, and how the taper moves behind it."""

    placement: Placement
    taper_moves: tuple[Move, ...]


def _no_room(what: str) -> RuleViolation:
    return RuleViolation(f"No free chair for the {what} within the planning horizon",
                         {"session": "no free chair and time found"})


def append_session(course: CourseState, calendar: SiteCalendar, book: ChairBook, *, kind: str, minutes: int,
                   now: datetime, step_minutes: int, moving: frozenset[int] = frozenset()) -> Extension:
    """Places one more session of `kind` at the end of its phase and moves the taper back behind it.

    `moving` names sessions of the course being placed anew (their old times are released).
    A taper session goes after the course's last session; any other after the daily
    phase's last session, then the taper's scheduled sessions are laid out again from the
    week after it, each at the usual time or the nearest free one.
    """
    for s in course.sessions:
        if s.id in moving and s.status in HOLDING:
            book.release(s.chair_id, s.starts_at, s.ends_at)
    holding = course.holding(excluding=moving)
    chair_order = [c for c in [course.usual_chair()] if c is not None]
    taper = [s for s in holding if s.kind == TAPER]
    taper_started = any(s.status != SCHEDULED for s in taper)

    # The new session goes after the phase's last slot, a missed one included: a make-up
    # for the last daily session never lands back on the day that was missed.
    slots = [s for s in course.sessions if s.id not in moving and s.status in (*HOLDING, *MISSED)]
    if kind == TAPER or taper_started:
        anchor = slots
    else:
        anchor = [s for s in slots if s.kind != TAPER]
        for s in taper:  # the taper is laid out again behind the new session
            book.release(s.chair_id, s.starts_at, s.ends_at)
    busy_days = frozenset(s.day for s in anchor if s.status in HOLDING)
    last = max(anchor, key=lambda s: s.ends_at, default=None)

    if course.cadence.sessions_per_day > 1 and last is not None:
        # Accelerated: the same day, the protocol's gap after the last session, if the day has room.
        not_before = max(last.ends_at + timedelta(minutes=course.cadence.min_gap_minutes), now)
        placement = place_session(calendar, book, first_day=last.day, preferred=course.preferred_time,
                                  minutes=minutes, chair_order=chair_order, step_minutes=step_minutes,
                                  not_before=not_before)
    else:
        first_day = (last.day + timedelta(days=1)) if last else now.astimezone(calendar.zone).date()
        placement = place_session(calendar, book, first_day=first_day, preferred=course.preferred_time,
                                  minutes=minutes, chair_order=chair_order, step_minutes=step_minutes,
                                  blocked_days=busy_days, not_before=now)
    if placement is None:
        raise _no_room("make-up")
    book.take(placement.chair_id, placement.starts_at, placement.ends_at)

    moves: list[Move] = []
    if kind != TAPER and not taper_started and taper:
        moves = _lay_out_taper_again(course, calendar, book, sorted(taper, key=lambda s: s.number),
                                     after=placement.day, busy_days=set(busy_days) | {placement.day},
                                     chair_order=chair_order, now=now, step_minutes=step_minutes)
    return Extension(placement, tuple(moves))


def _lay_out_taper_again(course: CourseState, calendar: SiteCalendar, book: ChairBook,
                         taper: list[CourseSession], *, after: date, busy_days: set[date], chair_order: list[int],
                         now: datetime, step_minutes: int) -> list[Move]:
    slots = lay_out(course.cadence, calendar, monday_of(after) + timedelta(days=7), from_phase=1)
    moves = []
    for session, slot in zip(taper, slots[-len(taper):]):
        placement = place_session(calendar, book, first_day=slot.day, preferred=course.preferred_time,
                                  minutes=session.minutes, chair_order=[session.chair_id, *chair_order],
                                  step_minutes=step_minutes, blocked_days=frozenset(busy_days), not_before=now)
        if placement is None:
            raise _no_room(f"taper session {session.number}")
        book.take(placement.chair_id, placement.starts_at, placement.ends_at)
        busy_days.add(placement.day)
        if (placement.starts_at, placement.chair_id) != (session.starts_at, session.chair_id):
            moves.append(Move(session.id, placement))
    return moves


def lay_out_again(course: CourseState, calendar: SiteCalendar, book: ChairBook, released: list[CourseSession], *,
                  from_day: date, now: datetime, step_minutes: int) -> list[tuple[CourseSession, Placement]]:
    """New places for released sessions from `from_day` on (a resumed course): the daily ones on the
    next open days, then what is left of the taper by its cadence, from the week after."""
    daily = sorted((s for s in released if s.kind != TAPER), key=lambda s: s.starts_at)
    taper = sorted((s for s in released if s.kind == TAPER), key=lambda s: s.starts_at)
    cadence = course.cadence
    taper_phases = _last_sessions_of(cadence.phases[1:], len(taper))
    phases = ([Phase(len(daily), cadence.phases[0].days_per_week)] if daily else []) + taper_phases
    if not phases:
        return []
    plan = Cadence(tuple(phases), cadence.mapping_minutes, cadence.session_minutes, cadence.sessions_per_day,
                   cadence.min_gap_minutes)
    slots = lay_out(plan, calendar, from_day)
    busy_days = {s.day for s in course.holding()}
    chair_order = [c for c in [course.usual_chair()] if c is not None]
    if cadence.sessions_per_day > 1:
        return _one_after_another(course, calendar, book, [*daily, *taper], from_day=from_day, now=now,
                                  chair_order=chair_order, step_minutes=step_minutes)
    placed: list[tuple[CourseSession, Placement]] = []
    for session, slot in zip([*daily, *taper], slots):
        placement = place_session(calendar, book, first_day=slot.day, preferred=course.preferred_time,
                                  minutes=session.minutes, chair_order=[session.chair_id, *chair_order],
                                  step_minutes=step_minutes, not_before=now, blocked_days=frozenset(busy_days))
        if placement is None:
            raise _no_room(f"session {session.number}")
        book.take(placement.chair_id, placement.starts_at, placement.ends_at)
        busy_days.add(placement.day)
        placed.append((session, placement))
    return placed


def _one_after_another(course: CourseState, calendar: SiteCalendar, book: ChairBook, sessions: list[CourseSession],
                       *, from_day: date, now: datetime, chair_order: list[int],
                       step_minutes: int) -> list[tuple[CourseSession, Placement]]:
    """Accelerated: each session the protocol's gap after the one before, at most `sessions_per_day` a day."""
    cadence = course.cadence
    per_day: dict[date, int] = {}
    placed: list[tuple[CourseSession, Placement]] = []
    previous: Placement | None = None
    for session in sessions:
        not_before = now if previous is None else max(now, previous.ends_at + timedelta(minutes=cadence.min_gap_minutes))
        full = frozenset(d for d, n in per_day.items() if n >= cadence.sessions_per_day)
        placement = place_session(calendar, book, first_day=previous.day if previous else from_day,
                                  preferred=course.preferred_time, minutes=session.minutes,
                                  chair_order=[session.chair_id, *chair_order], step_minutes=step_minutes,
                                  not_before=not_before, blocked_days=full)
        if placement is None:
            raise _no_room(f"session {session.number}")
        book.take(placement.chair_id, placement.starts_at, placement.ends_at)
        per_day[placement.day] = per_day.get(placement.day, 0) + 1
        placed.append((session, placement))
        previous = placement
    return placed


def _last_sessions_of(phases: tuple[Phase, ...], count: int) -> list[Phase]:
    """The tail of the taper still owed: its phases from the end, `count` sessions in all."""
    kept: list[Phase] = []
    for phase in reversed(phases):
        if count <= 0:
            break
        take = min(phase.sessions, count)
        kept.insert(0, Phase(take, phase.days_per_week))
        count -= take
    return kept
