"""Putting planned sessions into chairs: ChairBook and allocate."""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from tms_scheduler.domain.allocation import ChairBook, allocate

from .clinic import plan

T = datetime(2027, 3, 1, 17, 0, tzinfo=UTC)  # 09:00 in Los Angeles
MIN = timedelta(minutes=1)


def book_with(*busy) -> ChairBook:
    return ChairBook([1, 2], busy)


# --- ChairBook.is_free -------------------------------------------------------------------------

def test_an_empty_chair_is_free():
    assert book_with().is_free(1, T, T + 45 * MIN)


def test_a_slot_ending_exactly_when_a_booking_starts_is_free():
    book = book_with((1, T, T + 60 * MIN))
    assert book.is_free(1, T - 45 * MIN, T)


def test_a_slot_starting_exactly_when_a_booking_ends_is_free():
    book = book_with((1, T, T + 60 * MIN))
    assert book.is_free(1, T + 60 * MIN, T + 105 * MIN)


def test_a_slot_overlapping_the_start_of_a_booking_is_not_free():
    book = book_with((1, T, T + 60 * MIN))
    assert not book.is_free(1, T - 30 * MIN, T + 1 * MIN)


def test_a_slot_overlapping_the_end_of_a_booking_is_not_free():
    book = book_with((1, T, T + 60 * MIN))
    assert not book.is_free(1, T + 59 * MIN, T + 90 * MIN)


def test_a_slot_inside_a_booking_is_not_free():
    book = book_with((1, T, T + 60 * MIN))
    assert not book.is_free(1, T + 10 * MIN, T + 20 * MIN)


def test_a_slot_around_a_booking_is_not_free():
    book = book_with((1, T, T + 60 * MIN))
    assert not book.is_free(1, T - 10 * MIN, T + 70 * MIN)


def test_a_slot_exactly_on_a_booking_is_not_free():
    book = book_with((1, T, T + 60 * MIN))
    assert not book.is_free(1, T, T + 60 * MIN)


def test_a_slot_filling_the_gap_between_two_bookings_exactly_is_free():
    book = book_with((1, T, T + 60 * MIN), (1, T + 120 * MIN, T + 180 * MIN))
    assert book.is_free(1, T + 60 * MIN, T + 120 * MIN)


def test_a_slot_spanning_the_gap_and_touching_into_the_later_booking_is_not_free():
    book = book_with((1, T, T + 60 * MIN), (1, T + 120 * MIN, T + 180 * MIN))
    assert not book.is_free(1, T + 60 * MIN, T + 121 * MIN)


def test_a_slot_overlapping_an_earlier_of_several_bookings_is_not_free():
    book = book_with((1, T, T + 60 * MIN), (1, T + 120 * MIN, T + 180 * MIN), (1, T + 300 * MIN, T + 360 * MIN))
    assert not book.is_free(1, T + 30 * MIN, T + 90 * MIN)


def test_busy_times_given_out_of_order_are_still_found():
    book = ChairBook([1], [(1, T + 120 * MIN, T + 180 * MIN), (1, T, T + 60 * MIN)])
    assert not book.is_free(1, T + 30 * MIN, T + 45 * MIN)
    assert book.is_free(1, T + 60 * MIN, T + 120 * MIN)


def test_a_booking_in_one_chair_leaves_the_other_chair_free():
    book = book_with((1, T, T + 60 * MIN))
    assert book.is_free(2, T, T + 60 * MIN)


def test_busy_times_of_chairs_not_in_the_book_are_ignored():
    book = ChairBook([1], [(7, T, T + 60 * MIN)])
    assert book.chair_ids == [1]
    assert book.is_free(1, T, T + 60 * MIN)


def test_a_taken_slot_is_no_longer_free():
    book = book_with()
    book.take(1, T, T + 45 * MIN)
    assert not book.is_free(1, T + 30 * MIN, T + 60 * MIN)
    assert book.is_free(1, T + 45 * MIN, T + 60 * MIN)


# --- allocate ------------------------------------------------------------------------------------

MON = date(2027, 3, 1)


def itbs_at_nine():
    return plan("itbs", MON, time(9))


def busy_at(session, chair_id):
    return (chair_id, session.starts_at, session.ends_at)


def test_allocate_puts_the_whole_course_in_one_chair_when_all_are_free():
    allocation = allocate(itbs_at_nine(), ChairBook([1, 2, 3]))
    assert allocation.complete
    assert set(allocation.chairs.values()) == {1}
    assert sorted(allocation.chairs) == list(range(1, 31))


def test_allocate_prefers_the_chair_free_for_every_session_over_a_lower_numbered_one():
    sessions = itbs_at_nine()
    allocation = allocate(sessions, ChairBook([1, 2], [busy_at(sessions[2], 1)]))
    assert set(allocation.chairs.values()) == {2}


def test_allocate_falls_back_to_another_chair_only_for_the_clashing_session():
    sessions = itbs_at_nine()
    book = ChairBook([1, 2], [busy_at(sessions[2], 1), busy_at(sessions[4], 2), busy_at(sessions[6], 2)])
    allocation = allocate(sessions, book)
    assert allocation.complete
    assert {n: c for n, c in allocation.chairs.items() if c != 1} == {3: 2}


def test_allocate_ignores_busy_times_that_do_not_overlap_the_course():
    sessions = itbs_at_nine()
    earlier = [(1, s.starts_at - timedelta(minutes=30), s.starts_at) for s in sessions]
    allocation = allocate(sessions, ChairBook([1, 2], earlier))
    assert set(allocation.chairs.values()) == {1}


def test_allocate_leaves_sessions_unplaced_when_every_chair_is_taken():
    sessions = itbs_at_nine()
    book = ChairBook([1, 2], [busy_at(sessions[9], 1), busy_at(sessions[9], 2)])
    allocation = allocate(sessions, book)
    assert not allocation.complete
    assert [s.number for s in allocation.unplaced] == [10]
    assert 10 not in allocation.chairs
    assert len(allocation.chairs) == 29


def test_allocate_with_no_chairs_places_nothing():
    allocation = allocate(itbs_at_nine(), ChairBook([]))
    assert len(allocation.unplaced) == 30
    assert allocation.chairs == {}


def test_allocate_does_not_change_the_book():
    sessions = itbs_at_nine()
    book = ChairBook([1])
    allocate(sessions, book)
    assert book.is_free(1, sessions[0].starts_at, sessions[0].ends_at)


def test_chair_ids_by_use_lists_the_most_used_chair_first():
    sessions = itbs_at_nine()
    book = ChairBook([1, 2], [busy_at(sessions[2], 1), busy_at(sessions[4], 2), busy_at(sessions[6], 2)])
    assert allocate(sessions, book).chair_ids_by_use() == [1, 2]
