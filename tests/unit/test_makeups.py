"""Make-ups and moves (DOMAIN.md, attendance and missed sessions): a missed daily session is
appended at the end of the daily phase and the taper moves back behind it; released sessions
of a paused course are laid out again from the day it resumes."""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

import pytest

from tms_scheduler.domain.allocation import ChairBook
from tms_scheduler.domain.errors import RuleViolation
from tms_scheduler.domain.lifecycle import CANCELLED, COMPLETED, NO_SHOW, SCHEDULED
from tms_scheduler.domain.makeups import (
    CourseSession,
    CourseState,
    Extension,
    append_session,
    lay_out_again,
    lengthen_session,
)
from tms_scheduler.domain.planning import MAKEUP, TAPER, at_time, lay_out

from .clinic import SPRING_FORWARD, around_the_clock, cadence, la, local, monday, real_gaps, site, weekdays_from

STANDARD = "tms-10hz-standard"
ACCELERATED = "accelerated-itbs"
MON = date(2027, 3, 1)  # a Monday; no us-clinic holiday until Memorial Day
NINE = time(9)
CALENDAR = site()
STEP = 15
MIN = timedelta(minutes=1)

# The standard course from MON at 09:00: daily Mon 1 March .. Fri 9 April, taper from Mon 12 April.
LAST_DAILY_DAY = date(2027, 4, 9)
NEXT_OPEN_DAY_AFTER_DAILY = date(2027, 4, 12)
ORIGINAL_TAPER_DAYS = [date(2027, 4, 12), date(2027, 4, 14), date(2027, 4, 16),
                       date(2027, 4, 20), date(2027, 4, 22), date(2027, 4, 28)]


# --- building a course as the make-up rules see it -------------------------------------------------

def course_of(protocol: str = STANDARD, start: date = MON, at: time = NINE, chair_id: int = 1,
              calendar=CALENDAR) -> CourseState:
    """Every session of a course, scheduled, in one chair; ids equal to session numbers."""
    cad = cadence(protocol)
    planned = at_time(lay_out(cad, calendar, start), calendar, at)
    sessions = tuple(CourseSession(p.number, p.number, p.kind, SCHEDULED, p.day, p.starts_at, p.ends_at, chair_id)
                     for p in planned)
    return CourseState(cad, at, sessions)


def session(course: CourseState, number: int) -> CourseSession:
    return next(s for s in course.sessions if s.number == number)


def missed(course: CourseState, number: int, status: str = NO_SHOW) -> CourseState:
    """Session `number` missed; every scheduled session before it was given."""
    gone = session(course, number)
    return replace(course, sessions=tuple(
        replace(s, status=status) if s.number == number
        else replace(s, status=COMPLETED) if s.status == SCHEDULED and s.starts_at < gone.starts_at
        else s
        for s in course.sessions))


def with_status(course: CourseState, numbers, status: str) -> CourseState:
    return replace(course, sessions=tuple(replace(s, status=status) if s.number in numbers else s
                                          for s in course.sessions))


def book_for(course: CourseState, chairs=(1, 2), others=()) -> ChairBook:
    """The chairs' busy times: the course's own sessions that hold a chair, and other patients' bookings."""
    own = [(s.chair_id, s.starts_at, s.ends_at) for s in course.holding()]
    return ChairBook(list(chairs), [*own, *others])


def applied(course: CourseState, extension: Extension) -> CourseState:
    """The course after the make-up is booked and the taper moved, as the service stores it."""
    moved = {m.session_id: m.placement for m in extension.taper_moves}
    sessions = [replace(s, day=moved[s.id].day, starts_at=moved[s.id].starts_at, ends_at=moved[s.id].ends_at,
                        chair_id=moved[s.id].chair_id) if s.id in moved else s for s in course.sessions]
    p = extension.placement
    number = max(s.number for s in sessions) + 1
    sessions.append(CourseSession(number, number, MAKEUP, SCHEDULED, p.day, p.starts_at, p.ends_at, p.chair_id))
    return replace(course, sessions=tuple(sessions))


def make_up(course: CourseState, book: ChairBook, now: datetime, *, kind: str = MAKEUP, minutes: int = 45,
            step_minutes: int = STEP, moving: frozenset[int] = frozenset()) -> Extension:
    return append_session(course, CALENDAR, book, kind=kind, minutes=minutes, now=now, step_minutes=step_minutes,
                          moving=moving)


def after_start(course: CourseState, number: int) -> datetime:
    """An hour after session `number` began: when a technician marks it a no-show."""
    return session(course, number).starts_at + timedelta(hours=1)


def session_5_missed() -> tuple[CourseState, ChairBook, Extension]:
    course = missed(course_of(), 5)
    book = book_for(course)
    return course, book, make_up(course, book, after_start(course, 5))


def sessions_5_and_12_missed() -> tuple[CourseState, Extension]:
    """Session 5 missed and made up; then session 12 missed and made up. Answers the course after both."""
    course, book, first = session_5_missed()
    course = missed(applied(course, first), 12)
    book.release(session(course, 12).chair_id, session(course, 12).starts_at, session(course, 12).ends_at)
    second = make_up(course, book, after_start(course, 12))
    return applied(course, second), second


def taper_days(course: CourseState) -> list[date]:
    return sorted(s.day for s in course.holding() if s.kind == TAPER)


def moved_days(extension: Extension) -> list[date]:
    return sorted(m.placement.day for m in extension.taper_moves)


def busy_all_day(day: date, chairs=(1, 2)) -> list[tuple[int, datetime, datetime]]:
    return [(c, la(day, 7), la(day, 19)) for c in chairs]


# --- a missed daily session --------------------------------------------------------------------------

def test_a_missed_daily_session_is_made_up_on_the_next_open_day_after_the_last_daily_session():
    _, _, extension = session_5_missed()
    assert extension.placement.day == NEXT_OPEN_DAY_AFTER_DAILY


def test_a_daily_make_up_starts_at_the_courses_usual_local_time():
    _, _, extension = session_5_missed()
    assert local(extension.placement.starts_at).time() == NINE


def test_a_daily_make_up_lasts_the_minutes_asked_for():
    _, _, extension = session_5_missed()
    assert extension.placement.ends_at - extension.placement.starts_at == 45 * MIN


def test_a_daily_make_up_goes_in_the_chair_the_course_usually_uses():
    course = missed(course_of(chair_id=1), 5)
    book = book_for(course, chairs=(2, 1))  # chair 2 comes first in the book and is free too
    assert make_up(course, book, after_start(course, 5)).placement.chair_id == 1


def test_a_daily_make_up_takes_its_time_in_the_chair_book():
    _, book, extension = session_5_missed()
    p = extension.placement
    assert not book.is_free(p.chair_id, p.starts_at, p.ends_at)


def test_a_daily_make_up_moves_every_scheduled_taper_session():
    _, _, extension = session_5_missed()
    assert sorted(m.session_id for m in extension.taper_moves) == [31, 32, 33, 34, 35, 36]


def test_the_taper_moves_back_to_start_the_week_after_the_make_up():
    _, _, extension = session_5_missed()
    assert moved_days(extension)[0] == monday(extension.placement.day) + timedelta(weeks=1)


def test_the_moved_taper_keeps_its_cadence_mon_wed_fri_then_tue_thu_then_wed():
    _, _, extension = session_5_missed()
    assert moved_days(extension) == [
        date(2027, 4, 19), date(2027, 4, 21), date(2027, 4, 23),  # Mon, Wed, Fri
        date(2027, 4, 27), date(2027, 4, 29),  # Tue, Thu
        date(2027, 5, 5),  # Wed
    ]


def test_the_moved_taper_keeps_its_session_order():
    _, _, extension = session_5_missed()
    by_number = sorted(extension.taper_moves, key=lambda m: m.session_id)
    assert [m.placement.day for m in by_number] == moved_days(extension)


def test_the_moved_taper_keeps_the_usual_local_time():
    _, _, extension = session_5_missed()
    assert {local(m.placement.starts_at).time() for m in extension.taper_moves} == {NINE}


def test_the_moved_taper_stays_in_the_courses_chair():
    _, _, extension = session_5_missed()
    assert {m.placement.chair_id for m in extension.taper_moves} == {1}


def test_the_taper_frees_its_old_times_in_the_chair_book():
    course, book, _ = session_5_missed()
    old = session(course, 32)  # Wed 14 April, no longer a taper day
    assert book.is_free(old.chair_id, old.starts_at, old.ends_at)


def test_the_taper_takes_its_new_times_in_the_chair_book():
    _, book, extension = session_5_missed()
    assert all(not book.is_free(m.placement.chair_id, m.placement.starts_at, m.placement.ends_at)
               for m in extension.taper_moves)


# --- two daily sessions missed ---------------------------------------------------------------------

def test_a_second_make_up_goes_on_the_open_day_after_the_first():
    course, second = sessions_5_and_12_missed()
    first_makeup = session(course, 37)
    assert (first_makeup.day, second.placement.day) == (date(2027, 4, 12), date(2027, 4, 13))


def test_with_sessions_5_and_12_missed_the_taper_starts_only_after_the_32nd_daily_phase_slot():
    course, _ = sessions_5_and_12_missed()
    daily_phase = sorted(s.day for s in course.sessions if s.kind != TAPER)
    assert len(daily_phase) == 32
    assert taper_days(course)[0] > daily_phase[-1]


def test_with_sessions_5_and_12_missed_the_taper_starts_the_week_after_the_second_make_up():
    course, second = sessions_5_and_12_missed()
    assert taper_days(course)[0] == monday(second.placement.day) + timedelta(weeks=1)


def test_with_sessions_5_and_12_missed_30_daily_sessions_are_delivered_before_the_taper():
    course, _ = sessions_5_and_12_missed()
    first_taper = taper_days(course)[0]
    delivered = [s for s in course.holding() if s.kind != TAPER and s.day < first_taper]
    assert len(delivered) == 30


def test_with_sessions_5_and_12_missed_the_course_still_holds_36_sessions():
    course, _ = sessions_5_and_12_missed()
    assert len(course.holding()) == 36


def test_with_sessions_5_and_12_missed_no_two_held_sessions_share_a_day():
    course, _ = sessions_5_and_12_missed()
    days = [s.day for s in course.holding()]
    assert len(days) == len(set(days))


# --- a taken time, a full day ----------------------------------------------------------------------

def second_makeup_with(others) -> Extension:
    """Session 12 missed after session 5's make-up (Mon 12 April): the next make-up falls on Tue 13 April."""
    course, _, first = session_5_missed()
    course = missed(applied(course, first), 12)
    return make_up(course, book_for(course, others=others), after_start(course, 12))


TUE_13 = date(2027, 4, 13)


def test_a_make_up_with_its_usual_time_free_takes_it():
    extension = second_makeup_with(others=[])
    assert (extension.placement.day, local(extension.placement.starts_at).time()) == (TUE_13, NINE)


def test_a_make_up_whose_usual_time_is_taken_in_every_chair_goes_to_the_nearest_free_time_that_day():
    taken = [(c, la(TUE_13, 9), la(TUE_13, 10)) for c in (1, 2)]
    extension = second_makeup_with(others=taken)
    # 08:15-09:00 is 45 minutes from 09:00; 10:00 would be 60.
    assert (extension.placement.day, local(extension.placement.starts_at).time()) == (TUE_13, time(8, 15))


def test_a_make_up_takes_an_earlier_time_on_a_tie_in_distance():
    taken = [(c, la(TUE_13, 9), la(TUE_13, 9, 45)) for c in (1, 2)]
    extension = second_makeup_with(others=taken)
    # 08:15 and 09:45 are both 45 minutes from 09:00.
    assert local(extension.placement.starts_at).time() == time(8, 15)


def test_a_make_up_whose_usual_time_is_taken_in_one_chair_takes_another_chair_at_that_time():
    extension = second_makeup_with(others=[(1, la(TUE_13, 9), la(TUE_13, 10))])
    p = extension.placement
    assert (p.day, local(p.starts_at).time(), p.chair_id) == (TUE_13, NINE, 2)


def test_a_make_up_whose_day_is_full_goes_to_the_next_open_day_at_the_usual_time():
    extension = second_makeup_with(others=busy_all_day(TUE_13))
    p = extension.placement
    assert (p.day, local(p.starts_at).time()) == (date(2027, 4, 14), NINE)


# --- across a daylight-saving change ------------------------------------------------------------------

def test_a_make_up_after_the_spring_dst_change_keeps_the_local_time():
    course, _, extension = session_5_missed()  # session 5 on Fri 5 March (PST), make-up on 12 April (PDT)
    assert local(session(course, 5).starts_at).time() == local(extension.placement.starts_at).time() == NINE


def test_a_make_up_after_the_spring_dst_change_starts_an_hour_earlier_in_utc():
    course, _, extension = session_5_missed()
    assert session(course, 5).starts_at.astimezone(UTC).time() == time(17)
    assert extension.placement.starts_at.astimezone(UTC).time() == time(16)


def autumn_makeup() -> tuple[CourseState, Extension]:
    # From Mon 27 Sept 2027 the daily phase ends Fri 5 Nov (PDT); clocks go back Sun 7 Nov.
    course = missed(course_of(start=date(2027, 9, 27)), 5)
    return course, make_up(course, book_for(course), after_start(course, 5))


def test_a_make_up_after_the_autumn_dst_change_goes_on_the_next_open_day_after_the_daily_phase():
    _, extension = autumn_makeup()
    assert extension.placement.day == date(2027, 11, 8)


def test_a_make_up_after_the_autumn_dst_change_keeps_the_local_time():
    _, extension = autumn_makeup()
    assert local(extension.placement.starts_at).time() == NINE


def test_a_make_up_after_the_autumn_dst_change_starts_an_hour_later_in_utc():
    course, extension = autumn_makeup()
    assert session(course, 5).starts_at.astimezone(UTC).time() == time(16)
    assert extension.placement.starts_at.astimezone(UTC).time() == time(17)


def test_a_taper_moved_past_thanksgiving_skips_the_closed_days():
    _, extension = autumn_makeup()
    closed = {date(2027, 11, 25), date(2027, 11, 26)}
    assert not closed & set(moved_days(extension))


# --- a missed taper session ------------------------------------------------------------------------

def taper_session_33_missed() -> tuple[CourseState, ChairBook, Extension]:
    course = missed(course_of(), 33)  # Fri 16 April
    book = book_for(course)
    return course, book, make_up(course, book, after_start(course, 33), kind=TAPER)


def test_a_missed_taper_session_is_made_up_on_the_open_day_after_the_courses_last_session():
    course, _, extension = taper_session_33_missed()
    assert session(course, 36).day == date(2027, 4, 28)
    assert extension.placement.day == date(2027, 4, 29)


def test_a_missed_taper_session_moves_no_other_session():
    _, _, extension = taper_session_33_missed()
    assert extension.taper_moves == ()


def test_a_missed_taper_session_leaves_the_rest_of_the_taper_in_the_chair_book():
    course, book, _ = taper_session_33_missed()
    later = session(course, 34)
    assert not book.is_free(later.chair_id, later.starts_at, later.ends_at)


def test_a_taper_make_up_keeps_the_usual_local_time():
    _, _, extension = taper_session_33_missed()
    assert local(extension.placement.starts_at).time() == NINE


def test_a_missed_daily_make_up_once_the_taper_has_started_goes_after_the_courses_last_session():
    # Session 30 missed on its day; the taper has begun (31 completed) before the make-up is booked.
    course = with_status(missed(course_of(), 30), {31}, COMPLETED)
    extension = make_up(course, book_for(course), after_start(course, 31))
    assert (extension.placement.day, extension.taper_moves) == (date(2027, 4, 29), ())


# --- a displaced session placed anew (`moving`) -----------------------------------------------------------

def test_a_displaced_session_releases_its_old_time_in_the_chair_book():
    course = with_status(course_of(), range(1, 10), COMPLETED)
    book = book_for(course)
    old = session(course, 10)  # Fri 12 March
    make_up(course, book, la(date(2027, 3, 11), 12), kind=old.kind, moving=frozenset({old.id}))
    assert book.is_free(old.chair_id, old.starts_at, old.ends_at)


def test_a_displaced_daily_session_goes_to_the_end_of_the_daily_phase():
    course = with_status(course_of(), range(1, 10), COMPLETED)
    extension = make_up(course, book_for(course), la(date(2027, 3, 11), 12), kind=session(course, 10).kind,
                        moving=frozenset({10}))
    assert extension.placement.day == NEXT_OPEN_DAY_AFTER_DAILY


def test_a_displaced_daily_session_moves_the_taper_behind_it():
    course = with_status(course_of(), range(1, 10), COMPLETED)
    extension = make_up(course, book_for(course), la(date(2027, 3, 11), 12), kind=session(course, 10).kind,
                        moving=frozenset({10}))
    assert moved_days(extension)[0] == date(2027, 4, 19)


def test_a_displaced_session_that_is_already_missed_releases_nothing_else():
    # A no-show holds no chair: naming it in `moving` must not free someone else's identical time.
    course = missed(course_of(), 10)
    gone = session(course, 10)
    book = ChairBook([1, 2], [*[(s.chair_id, s.starts_at, s.ends_at) for s in course.holding()],
                              (gone.chair_id, gone.starts_at, gone.ends_at)])  # another patient took the slot
    make_up(course, book, after_start(course, 10), moving=frozenset({10}))
    assert not book.is_free(gone.chair_id, gone.starts_at, gone.ends_at)


# --- accelerated protocols ------------------------------------------------------------------------------

def accelerated_makeup(at: time, number: int = 15, step_minutes: int = 5) -> tuple[CourseState, Extension]:
    """Session `number` of an accelerated course from Mon 1 March at `at` missed and made up."""
    course = missed(course_of(ACCELERATED, at=at), number)  # 15: a Tuesday session of a Mon-Fri course
    extension = make_up(course, book_for(course), after_start(course, number), minutes=15, step_minutes=step_minutes)
    return course, extension


def test_an_accelerated_make_up_never_makes_an_eleventh_session_on_a_full_last_day():
    # From 07:00 Friday's 10 sessions end at 17:00: 17:50 would fit the hours, but not the 10 a day.
    _, extension = accelerated_makeup(time(7))
    assert extension.placement.day != date(2027, 3, 5)


def test_an_accelerated_make_up_after_a_full_last_day_goes_to_the_next_open_day_at_the_usual_time():
    _, extension = accelerated_makeup(time(7))
    p = extension.placement
    assert (p.day, local(p.starts_at).time()) == (date(2027, 3, 8), time(7))


def test_an_accelerated_make_up_for_a_session_of_the_last_day_goes_on_that_day_exactly_the_gap_after_its_last():
    # Friday then holds 9. The 15-minute grid from 07:00 would give 18:00; 17:00 + 50 minutes is 17:50.
    course, extension = accelerated_makeup(time(7), number=45, step_minutes=15)
    last = max(course.holding(), key=lambda s: s.ends_at)
    assert (extension.placement.day, extension.placement.starts_at - last.ends_at) == (last.day, 50 * MIN)


def test_an_accelerated_make_up_goes_to_the_next_open_day_when_the_last_day_has_no_room():
    # From 08:00 the last day's 10th session ends at 18:00; 18:50 + 15 min is past closing.
    _, extension = accelerated_makeup(time(8), number=45)
    p = extension.placement
    assert (p.day, local(p.starts_at).time()) == (date(2027, 3, 8), time(8))


def test_a_second_accelerated_make_up_goes_the_gap_after_the_first_on_its_day():
    course, first = accelerated_makeup(time(7))  # Mon 8 March 07:00-07:15
    course = missed(applied(course, first), 16)
    second = make_up(course, book_for(course), after_start(course, 16), minutes=15)
    assert (second.placement.day, local(second.placement.starts_at).time()) == (date(2027, 3, 8), time(8, 5))


def test_accelerated_make_ups_never_give_a_day_more_than_10_sessions_nor_break_the_gap():
    course = course_of(ACCELERATED, at=time(7))
    for number in range(11, 23):  # all of Tuesday and two of Wednesday missed, one after another
        course = missed(course, number)
        extension = make_up(course, book_for(course), after_start(course, number), minutes=15, step_minutes=15)
        course = applied(course, extension)
    held = sorted(course.holding(), key=lambda s: s.starts_at)
    days = [s.day for s in held]
    assert max(days.count(d) for d in set(days)) == 10
    assert all(b.starts_at - a.ends_at >= 50 * MIN for a, b in zip(held, held[1:]))


def test_an_accelerated_make_up_on_the_spring_forward_day_starts_50_real_minutes_after_the_last_session():
    # A site open every day 00:00-23:30: the course's last day is Sun 14 March, when the clocks go forward.
    calendar = around_the_clock()
    course = missed(course_of(ACCELERATED, start=date(2027, 3, 10), at=time(0), calendar=calendar), 45)
    book = book_for(course)
    extension = append_session(course, calendar, book, kind=MAKEUP, minutes=15, now=after_start(course, 45),
                               step_minutes=STEP)
    last = max(course.holding(), key=lambda s: s.ends_at)
    assert (extension.placement.day, extension.placement.starts_at - last.ends_at) == (SPRING_FORWARD, 50 * MIN)


# --- a cancelled last daily session --------------------------------------------------------------

def test_a_make_up_for_the_cancelled_last_daily_session_is_not_booked_on_the_day_that_was_cancelled():
    # The patient cancels Fri 9 April (session 30) a week ahead; the make-up belongs after the daily phase.
    course = missed(course_of(), 30, status=CANCELLED)
    extension = make_up(course, book_for(course), la(date(2027, 4, 1), 10))
    assert extension.placement.day != LAST_DAILY_DAY


# --- lay_out_again: a paused course resumed -------------------------------------------------------

RESUME = date(2027, 4, 5)  # a Monday


def paused_after(number: int, protocol: str = STANDARD) -> tuple[CourseState, list[CourseSession]]:
    """Sessions up to `number` given; every later one released (cancelled) by a pause."""
    course = with_status(course_of(protocol), range(1, number + 1), COMPLETED)
    later = [s.number for s in course.sessions if s.number > number]
    course = with_status(course, later, CANCELLED)
    return course, [s for s in course.sessions if s.status == CANCELLED]


def resumed(course: CourseState, released: list[CourseSession], from_day: date = RESUME, book: ChairBook | None = None):
    book = book or book_for(course)
    return lay_out_again(course, CALENDAR, book, released, from_day=from_day,
                         now=la(from_day - timedelta(days=4), 10), step_minutes=STEP)


def test_resumed_daily_sessions_go_on_consecutive_open_days_from_the_resume_day():
    course, released = paused_after(10)
    placed = resumed(course, released)
    assert [p.day for s, p in placed if s.kind != TAPER] == weekdays_from(RESUME, 20, CALENDAR)


def test_a_resumed_taper_starts_the_week_after_the_resumed_daily_sessions():
    course, released = paused_after(10)
    placed = resumed(course, released)
    last_daily = max(p.day for s, p in placed if s.kind != TAPER)
    first_taper = min(p.day for s, p in placed if s.kind == TAPER)
    assert first_taper == monday(last_daily) + timedelta(weeks=1)


def test_a_resumed_taper_keeps_its_cadence_mon_wed_fri_then_tue_thu_then_wed():
    course, released = paused_after(10)
    placed = resumed(course, released)
    assert [p.day for s, p in placed if s.kind == TAPER] == [
        date(2027, 5, 3), date(2027, 5, 5), date(2027, 5, 7), date(2027, 5, 11), date(2027, 5, 13), date(2027, 5, 19)]


def test_resuming_places_every_released_session_exactly_once():
    course, released = paused_after(10)
    placed = resumed(course, released)
    assert sorted(s.id for s, _ in placed) == [s.id for s in released]


def test_resuming_keeps_the_counts_of_daily_and_taper_sessions():
    course, released = paused_after(10)
    placed = resumed(course, released)
    kinds = [s.kind == TAPER for s, _ in placed]
    assert (kinds.count(False), kinds.count(True)) == (20, 6)


def test_resuming_a_daily_protocol_puts_no_two_sessions_on_one_day():
    course, released = paused_after(10)
    days = [p.day for _, p in resumed(course, released)]
    assert len(days) == len(set(days))


def test_resumed_sessions_keep_the_usual_local_time():
    course, released = paused_after(10)
    assert {local(p.starts_at).time() for _, p in resumed(course, released)} == {NINE}


def test_resumed_sessions_keep_their_own_length():
    course, released = paused_after(0)  # the 60-minute mapping session is released too
    placed = resumed(course, released)
    assert all(p.ends_at - p.starts_at == s.ends_at - s.starts_at for s, p in placed)


def test_resumed_sessions_are_taken_in_the_chair_book():
    course, released = paused_after(10)
    book = book_for(course)
    placed = resumed(course, released, book=book)
    assert all(not book.is_free(p.chair_id, p.starts_at, p.ends_at) for _, p in placed)


def test_resuming_skips_a_day_the_course_already_holds():
    course, released = paused_after(10)
    # A make-up already booked on Tue 6 April, the second day of the resumed run.
    kept = CourseSession(99, 37, MAKEUP, SCHEDULED, date(2027, 4, 6), la(date(2027, 4, 6), 9),
                         la(date(2027, 4, 6), 9, 45), 1)
    course = replace(course, sessions=(*course.sessions, kept))
    days = [p.day for s, p in resumed(course, released) if s.kind != TAPER]
    assert date(2027, 4, 6) not in days


def test_resuming_from_a_midweek_day_starts_that_day():
    course, released = paused_after(10)
    wednesday = date(2027, 4, 7)
    placed = resumed(course, released, from_day=wednesday)
    assert min(p.day for _, p in placed) == wednesday


def test_a_course_paused_in_its_taper_resumes_with_the_taper_sessions_still_owed():
    course, released = paused_after(33)  # 34, 35, 36 owed: the 2-a-week and the 1-a-week phases
    placed = resumed(course, released, from_day=date(2027, 5, 3))
    assert [p.day for _, p in placed] == [date(2027, 5, 4), date(2027, 5, 6), date(2027, 5, 12)]  # Tue, Thu, Wed


def test_resuming_with_nothing_released_places_nothing():
    course, _ = paused_after(36)
    assert resumed(course, []) == []


def resumed_accelerated(at: time) -> list:
    """An accelerated course booked at `at`, paused after its 3rd day, resumed on Mon 15 March (15-minute step)."""
    course = with_status(course_of(ACCELERATED, at=at), range(1, 31), COMPLETED)
    course = with_status(course, range(31, 51), CANCELLED)
    released = [s for s in course.sessions if s.status == CANCELLED]
    return sorted((p for _, p in resumed(course, released, from_day=date(2027, 3, 15))), key=lambda p: p.starts_at)


def test_resuming_an_accelerated_course_gives_10_sessions_a_day_when_the_days_have_room():
    days = [p.day for p in resumed_accelerated(time(7))]
    assert sorted(days.count(d) for d in set(days)) == [10, 10]


def test_resuming_an_accelerated_course_keeps_the_protocols_gap_between_sessions_of_a_day():
    placed = resumed_accelerated(time(7))
    same_day = [(a, b) for a, b in zip(placed, placed[1:]) if a.day == b.day]
    assert len(same_day) == 18 and all(b.starts_at - a.ends_at >= 50 * MIN for a, b in same_day)


def test_resuming_an_accelerated_course_packs_its_sessions_exactly_the_gap_apart_on_a_coarse_step():
    # Booked at 08:00; resumed on the 15-minute grid each session still starts 50 minutes after
    # the previous one ends (to the minute), as the course was planned, not on the next quarter hour.
    placed = resumed_accelerated(time(8))
    same_day = [(a, b) for a, b in zip(placed, placed[1:]) if a.day == b.day]
    assert {b.starts_at - a.ends_at for a, b in same_day} == {50 * MIN}


def resumed_beside_a_make_up() -> list:
    """Paused after its 3rd day, with a make-up of the course kept on Mon 15 March 07:00-07:15 in chair 1."""
    course = with_status(course_of(ACCELERATED, at=time(7)), range(1, 31), COMPLETED)
    course = with_status(course, range(31, 51), CANCELLED)
    kept = CourseSession(99, 51, MAKEUP, SCHEDULED, date(2027, 3, 15), la(date(2027, 3, 15), 7),
                         la(date(2027, 3, 15), 7, 15), 1)
    course = replace(course, sessions=(*course.sessions, kept))
    released = [s for s in course.sessions if s.status == CANCELLED]
    placed = resumed(course, released, from_day=date(2027, 3, 15))
    return sorted([kept, *(p for _, p in placed)], key=lambda p: p.starts_at)


def test_resuming_an_accelerated_course_never_puts_the_patient_in_two_chairs_at_once():
    held = resumed_beside_a_make_up()
    assert all(a.ends_at <= b.starts_at for a, b in zip(held, held[1:]))


def test_resuming_an_accelerated_course_keeps_the_gap_from_a_session_it_already_holds():
    held = resumed_beside_a_make_up()
    assert all(b.starts_at - a.ends_at >= 50 * MIN for a, b in zip(held, held[1:]) if a.day == b.day)


def test_resuming_an_accelerated_course_counts_the_sessions_a_day_already_holds():
    days = [p.day for p in resumed_beside_a_make_up()]
    assert days.count(date(2027, 3, 15)) == 10


# --- lengthen_session: a missed mapping done at the next visit -------------------------------------------------

MON_1 = date(2027, 3, 1)


def mapping_missed(at: time = time(7), calendar=CALENDAR) -> CourseState:
    """An accelerated course from Mon 1 March whose mapping (session 1) was missed; session 2 is next."""
    return missed(course_of(ACCELERATED, at=at, calendar=calendar), 1)


def lengthen(course: CourseState, book: ChairBook, number: int = 2, minutes: int = 60, calendar=CALENDAR,
             now: datetime | None = None):
    return lengthen_session(course, calendar, book, session(course, number).id, minutes,
                            now=now or after_start(course, 1), step_minutes=STEP)


def moved_to(course: CourseState, moves) -> CourseState:
    """The course with the moves applied (each session keeps its id and number)."""
    at = {m.session_id: m.placement for m in moves}
    return replace(course, sessions=tuple(
        replace(s, day=at[s.id].day, starts_at=at[s.id].starts_at, ends_at=at[s.id].ends_at,
                chair_id=at[s.id].chair_id) if s.id in at else s for s in course.sessions))


def day_held(course: CourseState, day: date) -> list[CourseSession]:
    return sorted((s for s in course.holding() if s.day == day), key=lambda s: s.starts_at)


def test_a_lengthened_session_keeps_its_start_and_chair_when_the_chair_is_free_for_longer():
    course = mapping_missed()
    moves = lengthen(course, book_for(course))
    p = moves[0].placement
    assert (moves[0].session_id, p.starts_at, p.chair_id) == (2, session(course, 2).starts_at, 1)


def test_a_lengthened_session_lasts_the_minutes_asked_for():
    course = mapping_missed()
    p = lengthen(course, book_for(course))[0].placement
    assert p.ends_at - p.starts_at == 60 * MIN


def test_the_sessions_after_a_lengthened_one_keep_the_gap_to_the_minute():
    course = mapping_missed()
    after = moved_to(course, lengthen(course, book_for(course)))
    assert set(real_gaps(day_held(after, MON_1))) == {50 * MIN}


def test_lengthening_a_session_moves_only_the_sessions_of_its_day():
    course = mapping_missed()
    moves = lengthen(course, book_for(course))
    assert sorted(m.session_id for m in moves) == list(range(2, 11))


def test_lengthening_a_session_keeps_the_days_sessions_inside_opening_hours():
    course = mapping_missed()  # from 07:00: the 10th session now ends at 18:30
    after = moved_to(course, lengthen(course, book_for(course)))
    assert local(day_held(after, MON_1)[-1].ends_at).time() == time(18, 30)


def test_a_lengthened_session_whose_chair_is_taken_takes_another_chair_at_the_same_start():
    course = mapping_missed()
    s2 = session(course, 2)
    book = book_for(course, others=[(1, s2.ends_at, s2.ends_at + 30 * MIN)])
    p = lengthen(course, book)[0].placement
    assert (p.starts_at, p.chair_id) == (s2.starts_at, 2)


def test_a_lengthened_session_taken_in_every_chair_goes_to_the_nearest_time_keeping_the_gap_from_the_previous():
    # Session 2 given (08:50-09:05); session 3 (09:55) lengthened while both chairs are busy 10:30-11:00:
    # nothing from 09:55 (09:05 + 50) fits 60 minutes before 10:30, so 11:00 is the nearest.
    until_eleven_pm = site(closes=time(23))  # room for the rest of the day behind it
    course = with_status(mapping_missed(calendar=until_eleven_pm), {2}, COMPLETED)
    book = book_for(course, others=[(c, la(MON_1, 10, 30), la(MON_1, 11)) for c in (1, 2)])
    moves = lengthen(course, book, number=3, now=after_start(course, 2), calendar=until_eleven_pm)
    assert local(moves[0].placement.starts_at).time() == time(11)
    assert set(real_gaps(day_held(moved_to(course, moves), MON_1))) >= {50 * MIN}


def test_a_pushed_session_whose_chair_is_taken_at_its_new_time_takes_another_chair():
    course = mapping_missed()
    book = book_for(course, others=[(1, la(MON_1, 10, 40), la(MON_1, 10, 55))])  # session 3's new time
    moves = {m.session_id: m.placement for m in lengthen(course, book)}
    assert (local(moves[3].starts_at).time(), moves[3].chair_id) == (time(10, 40), 2)


def test_lengthening_takes_the_new_times_and_releases_the_old_ones_in_the_chair_book():
    course = mapping_missed()
    book = book_for(course)
    moves = lengthen(course, book)
    old = session(course, 3)
    assert book.is_free(old.chair_id, old.starts_at, old.ends_at)
    assert all(not book.is_free(m.placement.chair_id, m.placement.starts_at, m.placement.ends_at) for m in moves)


def test_a_day_that_cannot_hold_a_lengthened_session_is_a_rule_violation_with_the_reason():
    course = mapping_missed(time(8))  # the 10th session would end at 19:30
    with pytest.raises(RuleViolation) as refused:
        lengthen(course, book_for(course))
    assert "Session 10 on 2027-03-01 cannot keep its 50-minute gap" in refused.value.message


def test_a_refused_lengthening_leaves_the_chair_book_as_it_was():
    course = mapping_missed(time(8))
    book = book_for(course)
    with pytest.raises(RuleViolation):
        lengthen(course, book)
    assert all(not book.is_free(s.chair_id, s.starts_at, s.ends_at) for s in course.holding())
    s2 = session(course, 2)
    assert book.is_free(1, s2.ends_at, s2.ends_at + 5 * MIN) and book.is_free(2, la(MON_1, 7), la(MON_1, 19))


def test_lengthening_on_the_spring_forward_night_keeps_the_gaps_in_real_minutes():
    calendar = around_the_clock()
    course = missed(course_of(ACCELERATED, start=SPRING_FORWARD, at=time(0), calendar=calendar), 1)
    after = moved_to(course, lengthen(course, book_for(course), calendar=calendar))
    assert set(real_gaps(day_held(after, SPRING_FORWARD))) == {50 * MIN}


def test_lengthening_a_daily_protocols_session_moves_nothing_else():
    course = missed(course_of("itbs"), 1)
    moves = lengthen(course, book_for(course))
    assert [(m.session_id, m.placement.ends_at - m.placement.starts_at) for m in moves] == [(2, 60 * MIN)]
