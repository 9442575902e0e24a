"""Make-ups and moves: a missed or displaced daily session goes to the end of the daily
phase, and the taper (with every later session) moves back behind it, so the taper
begins only once the prescribed daily sessions were delivered."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from .allocation import ChairBook
from .calendar import SiteCalendar
from .errors import RuleViolation
from .lifecycle import CHECKED_IN, COMPLETED, MISSED, SCHEDULED
from .placement import Allowed, Placement, place_from, place_session
from .planning import TAPER, in_opening_hours, lay_out, monday_of
from .protocols import Cadence, Phase
from .spacing import spacing_problem

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


def spacing_of(course: CourseState, calendar: SiteCalendar, others: Iterable[Any]) -> Allowed:
    """Whether a session of the course may be at [starts_at, ends_at) next to `others` (the
    patient's other chair-holding sessions, spans or sessions): never overlapping one, and for
    an accelerated protocol the gap from each and at most sessions-per-day a local day."""
    cadence = course.cadence
    others = list(others)

    def allowed(starts_at: datetime, ends_at: datetime) -> bool:
        return spacing_problem(others, starts_at, ends_at, min_gap_minutes=cadence.min_gap_minutes,
                               sessions_per_day=cadence.sessions_per_day, day_of=calendar.local_date) is None
    return allowed


def _place_accelerated(course: CourseState, calendar: SiteCalendar, book: ChairBook, others: Iterable[Any], *,
                       minutes: int,
                       after: CourseSession | Placement | None, first_day: date, now: datetime,
                       chair_order: list[int], step_minutes: int) -> Placement | None:
    """One session of an accelerated course: on `after`'s day, the protocol's gap (real minutes) after
    it ends, or the earliest time after that with a free chair; failing that (the day is full, or
    has no room inside opening hours) the next open day from `first_day` at the usual time or the
    nearest. Always keeping the gap from and the per-day cap with every one of `others`."""
    allowed = spacing_of(course, calendar, others)
    if after is not None:
        not_before = max(now, after.ends_at.astimezone(UTC) + timedelta(minutes=course.cadence.min_gap_minutes))
        placement = place_from(calendar, book, day=after.day, not_before=not_before, minutes=minutes,
                               chair_order=chair_order, step_minutes=step_minutes, allowed=allowed)
        if placement is not None:
            return placement
    return place_session(calendar, book, first_day=first_day, preferred=course.preferred_time, minutes=minutes,
                         chair_order=chair_order, step_minutes=step_minutes, not_before=now, allowed=allowed)


def append_session(course: CourseState, calendar: SiteCalendar, book: ChairBook, *, kind: str, minutes: int,
                   now: datetime, step_minutes: int, moving: frozenset[int] = frozenset()) -> Extension:
    """Places one more session of `kind` at the end of its phase and moves the taper back behind it.

    `moving` names sessions of the course being placed anew (their old times are released).
    A taper session goes after the course's last session; any other after the daily
    phase's last session, then the taper's scheduled sessions are laid out again from the
    week after it, each at the usual time or the nearest free one.

    Accelerated protocols (sessions_per_day > 1): the new session goes on the day of the
    phase's last session, at least the protocol's gap (real minutes) after it ends, only if
    that day holds fewer than sessions_per_day chair-holding sessions of the patient and the
    session fits before closing; else on the next open day at the usual time (or the
    nearest). Wherever it goes it overlaps none of the patient's chair-holding sessions,
    keeps the gap from every one of them and never makes a day hold more than
    sessions_per_day.
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

    if course.cadence.sessions_per_day > 1:
        # Accelerated: the last day, the protocol's gap after its last session, if the day holds
        # fewer than sessions-per-day and has room; else the next open day at the usual time.
        today = now.astimezone(calendar.zone).date()
        placement = _place_accelerated(course, calendar, book, holding, minutes=minutes, after=last,
                                       first_day=(last.day + timedelta(days=1)) if last else today, now=now,
                                       chair_order=chair_order, step_minutes=step_minutes)
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


def lengthen_session(course: CourseState, calendar: SiteCalendar, book: ChairBook, session_id: int, minutes: int, *,
                     now: datetime, step_minutes: int) -> list[Move]:
    """The moves that make scheduled session `session_id` last `minutes` (a missed mapping done at the
    patient's next visit), keeping the protocol's spacing on its day.

    - The lengthened session keeps its start in its own chair if that chair is free for the
      longer time; else another fitting chair free then at the same start; else the nearest
      time that day (to its start, on the step grid) that keeps the gap (real minutes) from the
      patient's previous session and is not before `now`.
    - Each later scheduled session of the patient that day is pushed later just enough to start
      the protocol's gap after the one before it ends (to the minute, else the next start on the
      step grid with a free chair), in its own chair if free, else another; a session whose gap
      already holds stays (and so do all after it, unless a push reaches them).
    - Every place is inside opening hours by the local clock, overlaps none of the patient's
      other chair-holding sessions, keeps the gap from each and keeps the day at no more than
      sessions-per-day (spacing.spacing_problem).

    Answers a Move for the lengthened session (always: its end changes; the caller also makes it
    the mapping) and one for each later session that moves, in time order. The book is updated:
    the old times of the lengthened and moved sessions are released and the new ones taken.

    Raises RuleViolation with the reason when the day cannot hold them inside opening hours; the
    book is then left exactly as it was and nothing moves. The caller then leaves the visit as
    booked and lets the make-up logic place the longer session on another day (append_session
    with `minutes`, as for a visit with no room today); it does not refuse the no-show.
    """
    cadence = course.cadence
    target = next((s for s in course.sessions if s.id == session_id), None)
    if target is None or target.status != SCHEDULED:
        raise RuleViolation("Only a scheduled session of the course can be lengthened",
                            {"session": "not a scheduled session of the course"})
    if target.starts_at <= now:
        raise RuleViolation("A session that has begun cannot be lengthened", {"session": "already begun"})
    gap = timedelta(minutes=cadence.min_gap_minutes if cadence.sessions_per_day > 1 else 0)
    day = target.day
    later = sorted((s for s in course.holding() if s.id != target.id and s.day == day and s.status == SCHEDULED
                    and s.starts_at > target.starts_at), key=lambda s: s.starts_at)
    moving = [target, *later]
    fixed: list[Any] = [s for s in course.holding() if s.id not in {m.id for m in moving}]
    usual = [c for c in [course.usual_chair()] if c is not None]
    # Only what the book held is taken back if the day does not fit.
    released = [s for s in moving if book.release(s.chair_id, s.starts_at, s.ends_at)]
    taken: list[Placement] = []
    try:
        allowed = spacing_of(course, calendar, fixed)
        length = timedelta(minutes=minutes)
        chairs = list(dict.fromkeys([target.chair_id, *usual, *book.chair_ids]))
        lengthened = None
        starts_at = target.starts_at.astimezone(UTC)  # real minutes, whatever zone it came in
        ends_at = starts_at + length
        if in_opening_hours(calendar, day, starts_at, ends_at) and allowed(starts_at, ends_at):
            chair_id = next((c for c in chairs if book.is_free(c, starts_at, ends_at)), None)
            if chair_id is not None:
                lengthened = Placement(day, starts_at, ends_at, chair_id)
        if lengthened is None:
            before = [s.ends_at.astimezone(UTC) for s in fixed if s.day == day and s.starts_at < target.starts_at]
            not_before = max([now, *(end + gap for end in before)])
            lengthened = place_session(calendar, book, first_day=day, preferred=calendar_time(calendar, target),
                                       minutes=minutes, chair_order=chairs, step_minutes=step_minutes,
                                       not_before=not_before, days=1, allowed=allowed)
        if lengthened is None:
            raise RuleViolation(
                f"Session {target.number} on {day} cannot last {minutes} minutes: no chair and time that day keeps "
                f"the protocol's spacing inside opening hours",
                {"session": f"no room on {day} for a {minutes}-minute session"})
        book.take(lengthened.chair_id, lengthened.starts_at, lengthened.ends_at)
        taken.append(lengthened)
        moves = [Move(target.id, lengthened)]
        previous: Placement | CourseSession = lengthened
        for s in later:
            allowed = spacing_of(course, calendar, [*fixed, *taken])
            earliest = previous.ends_at.astimezone(UTC) + gap
            if (s.starts_at >= earliest and allowed(s.starts_at, s.ends_at)
                    and book.is_free(s.chair_id, s.starts_at, s.ends_at)):
                stays = Placement(s.day, s.starts_at, s.ends_at, s.chair_id)
            else:
                stays = None
            placement = stays or place_from(
                calendar, book, day=day, not_before=max(s.starts_at.astimezone(UTC), earliest), minutes=s.minutes,
                chair_order=[s.chair_id, *usual], step_minutes=step_minutes, allowed=allowed)
            if placement is None:
                raise RuleViolation(
                    f"Session {s.number} on {day} cannot keep its {gap // timedelta(minutes=1)}-minute gap after a "
                    f"{minutes}-minute session {target.number} inside opening hours "
                    f"({calendar.opens:%H:%M}-{calendar.closes:%H:%M})",
                    {"session": f"the sessions of {day} do not fit that day"})
            book.take(placement.chair_id, placement.starts_at, placement.ends_at)
            taken.append(placement)
            if stays is None:
                moves.append(Move(s.id, placement))
            previous = placement
        return moves
    except RuleViolation:
        for p in taken:
            book.release(p.chair_id, p.starts_at, p.ends_at)
        for s in released:
            book.take(s.chair_id, s.starts_at, s.ends_at)
        raise


@dataclass(frozen=True)
class Remapping:
    """A missed mapping done at the next visit: the moves that lengthen it (the visit first) and
    re-space the day, and the day's last sessions that had to leave it to make room."""

    moves: list[Move]
    displaced: list[CourseSession]


def map_at_visit(course: CourseState, calendar: SiteCalendar, book: ChairBook, visit_id: int, minutes: int, *,
                 now: datetime, step_minutes: int) -> Remapping | None:
    """The visit becomes the `minutes`-long mapping, its day's later sessions keeping the gap.

    Where the day cannot hold them all inside opening hours (an accelerated day is packed from
    its first session), its last sessions leave the day, one at a time, until the rest fit;
    their times are released from the book and the caller places each at the end of the
    phase (append_session), as for any displaced session. None when even the visit alone
    cannot last `minutes` that day; the book is then as it was.
    """
    visit = next(s for s in course.sessions if s.id == visit_id)
    later = sorted((s for s in course.holding() if s.day == visit.day and s.status == SCHEDULED
                    and s.starts_at > visit.starts_at), key=lambda s: s.starts_at)
    for leaving in range(len(later) + 1):
        displaced = later[len(later) - leaving:] if leaving else []
        parked = {s.id for s in displaced}
        state = replace(course, sessions=tuple(replace(s, status="cancelled") if s.id in parked else s
                                               for s in course.sessions))
        for s in displaced:
            book.release(s.chair_id, s.starts_at, s.ends_at)
        try:
            moves = lengthen_session(state, calendar, book, visit_id, minutes, now=now, step_minutes=step_minutes)
        except RuleViolation:
            for s in displaced:
                book.take(s.chair_id, s.starts_at, s.ends_at)
            continue
        return Remapping(moves, displaced)
    return None


def calendar_time(calendar: SiteCalendar, session: CourseSession) -> time:
    """The local wall-clock time a session starts at."""
    return session.starts_at.astimezone(calendar.zone).time()


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
    chair_order = [c for c in [course.usual_chair()] if c is not None]
    if cadence.sessions_per_day > 1:
        return _one_after_another(course, calendar, book, [*daily, *taper], from_day=from_day, now=now,
                                  chair_order=chair_order, step_minutes=step_minutes)
    taper_phases = _last_sessions_of(cadence.phases[1:], len(taper))
    phases = ([Phase(len(daily), cadence.phases[0].days_per_week)] if daily else []) + taper_phases
    if not phases:
        return []
    plan = Cadence(tuple(phases), cadence.mapping_minutes, cadence.session_minutes, cadence.sessions_per_day,
                   cadence.min_gap_minutes)
    slots = lay_out(plan, calendar, from_day)
    busy_days = {s.day for s in course.holding()}
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
    """Accelerated: each session the protocol's gap (real minutes) after the one before, on that day
    while it holds fewer than `sessions_per_day` and has room, else from the next open day at the
    usual time; never too close to, overlapping or crowding a day with the course's other
    chair-holding sessions."""
    others: list[Any] = list(course.holding())
    placed: list[tuple[CourseSession, Placement]] = []
    previous: Placement | None = None
    for session in sessions:
        placement = _place_accelerated(course, calendar, book, others, minutes=session.minutes, after=previous,
                                       first_day=(previous.day + timedelta(days=1)) if previous else from_day,
                                       now=now, chair_order=[session.chair_id, *chair_order],
                                       step_minutes=step_minutes)
        if placement is None:
            raise _no_room(f"session {session.number}")
        book.take(placement.chair_id, placement.starts_at, placement.ends_at)
        others.append(placement)
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
