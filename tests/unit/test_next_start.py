"""The search for the next start dates at which a whole course fits (domain/booking.py), planned in memory."""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from tms_scheduler.domain.allocation import ChairBook
from tms_scheduler.domain.booking import (
    FittingStart,
    first_fitting_starts,
    naming_next_start,
    nearest_first,
    nearest_fitting_time,
    plan_course,
    search_days,
    search_reach,
)
from tms_scheduler.domain.errors import BookingConflict, Conflict
from tms_scheduler.domain.planning import lay_out

from .clinic import cadence, la, site

MON = date(2027, 3, 1)
NOW = datetime(2027, 2, 26, 16, 0, tzinfo=UTC)  # Friday 26 February, 08:00 in Los Angeles
STEP = 15
STANDARD = cadence("tms-10hz-standard")


def starts(book: ChairBook, preferred: time = time(9), first: date = MON, weeks: int = 8, limit: int = 3,
           calendar=None, now: datetime = NOW) -> list[FittingStart]:
    calendar = calendar or site()
    return first_fitting_starts(STANDARD, calendar, book, search_days(calendar, first, weeks), preferred, now, STEP,
                                limit)


def whole_days_busy(*days: date, chairs=(1, 2)) -> list[tuple[int, datetime, datetime]]:
    """Every chair busy from opening to closing on each of `days`."""
    return [(c, la(d, 7), la(d, 19)) for d in days for c in chairs]


def busy_at_nine_on_the_first_day(chairs=(1, 2)) -> ChairBook:
    return ChairBook(list(chairs), [(c, la(MON, 9), la(MON, 10)) for c in chairs])


# --- the order of times tried --------------------------------------------------------------------------

def test_the_time_asked_is_tried_first_then_the_nearest_the_earlier_on_a_tie():
    tried = nearest_first(time(9), [time(8, 30), time(8, 45), time(9), time(9, 15), time(9, 30), time(10)])

    assert tried == [time(9), time(8, 45), time(9, 15), time(8, 30), time(9, 30), time(10)]


def test_a_time_asked_off_the_step_is_tried_first_as_asked():
    tried = nearest_first(time(9, 10), [time(9), time(9, 15)])

    assert tried == [time(9, 10), time(9, 15), time(9)]


# --- one day --------------------------------------------------------------------------------------------

def test_the_time_asked_is_answered_when_the_whole_course_fits_at_it():
    calendar = site()
    fit = nearest_fitting_time(lay_out(STANDARD, calendar, MON), calendar, ChairBook([1, 2]), time(10, 30), NOW, STEP)

    assert fit is not None and fit[0] == time(10, 30)


def test_a_taken_time_gives_way_to_the_nearest_fitting_one_the_earlier_on_a_tie():
    # Both chairs busy 09:00-10:00 on the first day: 08:00 (a 60-minute mapping ends at 09:00) and 10:00
    # are both an hour away; the earlier wins.
    calendar = site()
    fit = nearest_fitting_time(lay_out(STANDARD, calendar, MON), calendar, busy_at_nine_on_the_first_day(),
                               time(9), NOW, STEP)

    assert fit is not None and fit[0] == time(8)


def test_no_time_fits_a_day_whose_chairs_are_busy_from_opening_to_closing():
    calendar = site()
    fit = nearest_fitting_time(lay_out(STANDARD, calendar, MON), calendar, ChairBook([1, 2], whole_days_busy(MON)),
                               time(9), NOW, STEP)

    assert fit is None


def test_times_already_past_today_are_not_answered():
    now = la(MON, 9, 5)

    found = starts(ChairBook([1]), preferred=time(8), now=now, limit=1)

    assert (found[0].day, found[0].time) == (MON, time(9, 15))


def test_the_answer_is_what_a_booking_at_that_date_and_time_would_get():
    calendar, book = site(), ChairBook([1, 2], [(1, la(MON, 9), la(MON, 10))])  # chair 2 is free at 09:00

    found = starts(book, limit=1)[0]

    plan = plan_course(STANDARD, calendar, book, found.day, found.time, NOW, STEP)
    assert found.allocation.chairs == plan.allocation.chairs


# --- the days tried --------------------------------------------------------------------------------------

def test_with_every_chair_free_the_first_open_days_are_answered_at_the_time_asked():
    found = starts(ChairBook([1, 2]))

    assert [(s.day, s.time) for s in found] == [(MON, time(9)), (date(2027, 3, 2), time(9)),
                                                (date(2027, 3, 3), time(9))]


def test_a_day_on_which_no_time_fits_is_passed_over_for_the_next_that_does():
    book = ChairBook([1, 2], whole_days_busy(MON, date(2027, 3, 2)))

    found = starts(book, limit=1)

    assert [(s.day, s.time) for s in found] == [(date(2027, 3, 3), time(9))]


def test_weekends_holidays_and_closures_are_never_answered_as_start_dates():
    # Friday 28 May 2027, then Memorial Day (Monday 31 May), and a closure on Tuesday 1 June.
    calendar = site(closures=frozenset({date(2027, 6, 1)}))

    found = starts(ChairBook([1, 2]), first=date(2027, 5, 28), limit=3, calendar=calendar)

    assert [s.day for s in found] == [date(2027, 5, 28), date(2027, 6, 2), date(2027, 6, 3)]


def test_the_search_tries_only_the_open_days_of_its_weeks():
    days = search_days(site(), MON, weeks=2)

    assert days == [MON + timedelta(days=i) for i in (0, 1, 2, 3, 4, 7, 8, 9, 10, 11)]


def test_the_search_stops_at_the_end_of_its_weeks_with_what_it_found():
    # Every weekday of the first two weeks is full; a one-week search finds nothing rather than going on.
    book = ChairBook([1, 2], whole_days_busy(*[MON + timedelta(days=i) for i in (0, 1, 2, 3, 4, 7, 8, 9, 10, 11)]))

    assert starts(book, weeks=1) == []
    assert starts(book, weeks=3, limit=1)[0].day == date(2027, 3, 15)


@pytest.mark.parametrize("protocol_id", ["tms-10hz-standard", "itbs", "deep-tms-h1", "accelerated-itbs"])
def test_the_busy_times_needed_reach_the_last_session_of_any_course_the_search_tries(protocol_id):
    # Memorial Day and a closure in the window, so some weeks have fewer open days.
    calendar = site(closures=frozenset({date(2027, 6, 9)}))
    days = search_days(calendar, date(2027, 5, 20), weeks=8)

    reach = search_reach(cadence(protocol_id), calendar, days)

    assert reach == max(lay_out(cadence(protocol_id), calendar, d)[-1].day for d in days)


def test_a_busy_time_late_in_a_course_keeps_that_start_date_out():
    calendar = site()
    last = lay_out(STANDARD, calendar, MON)[-1].day  # the first day's course ends with this taper session
    book = ChairBook([1], whole_days_busy(last, chairs=(1,)))

    found = starts(book, limit=1, calendar=calendar)

    assert found[0].day > MON


def test_a_chair_taken_on_the_courses_last_day_moves_the_start_to_the_nearest_time_free_then():
    # The course's last session (45 minutes) finds the only chair busy 09:00-10:00: 08:15 is the nearest
    # time whose every session, the last included, is free.
    calendar = site()
    last = lay_out(STANDARD, calendar, MON)[-1].day
    book = ChairBook([1], [(1, la(last, 9), la(last, 10))])

    fit = nearest_fitting_time(lay_out(STANDARD, calendar, MON), calendar, book, time(9), NOW, STEP)

    assert fit is not None and fit[0] == time(8, 15)


# --- what a refused booking says ----------------------------------------------------------------------------

def conflict() -> BookingConflict:
    return BookingConflict([Conflict("2027-03-01", "no free chair from 09:00 to 10:00 (session 1)")], [])


def test_a_refusal_with_no_time_that_day_names_the_next_date_that_fits_in_words():
    found = starts(ChairBook([1, 2], whole_days_busy(MON)), first=date(2027, 3, 2), limit=1)[0]

    refused = naming_next_start(conflict(), MON, found, 8)

    assert refused.message.endswith("no start time on 2027-03-01 fits the whole course; "
                                    "the next date that fits is 2027-03-02 at 09:00")
    assert refused.next_start.as_dict() == {"date": "2027-03-02", "time": "09:00", "chair_ids": [1]}
    assert (refused.conflicts, refused.alternatives) == (conflict().conflicts, [])


def test_a_refusal_with_no_date_that_fits_says_so_and_names_none():
    refused = naming_next_start(conflict(), MON, None, 8)

    assert refused.next_start is None
    assert ("no start time on 2027-03-01 fits the whole course, nor on any day of the 8 weeks after it"
            in refused.message)


def test_a_refusal_names_no_next_start_by_itself():
    assert conflict().next_start is None


@pytest.mark.parametrize("weeks", [1, 8])
def test_a_site_where_nothing_ever_fits_answers_no_start_dates(weeks):
    retired = [(c, la(MON, 0), datetime(9999, 1, 1, tzinfo=UTC)) for c in (1, 2)]

    assert starts(ChairBook([1, 2], retired), weeks=weeks) == []
