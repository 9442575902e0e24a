"""Finding a time and chair for one session: the usual time, else the nearest free one, else the next open day."""
from __future__ import annotations

from datetime import UTC, date, time, timedelta

from tms_scheduler.domain.allocation import ChairBook
from tms_scheduler.domain.placement import place_from, place_session, times_nearest

from .clinic import FALL_BACK, SPRING_FORWARD, around_the_clock, la, local, site

CALENDAR = site()  # Mon-Fri 07:00-19:00, us-clinic holidays
WED = date(2027, 3, 3)
SAT = date(2027, 3, 6)
MON_AFTER = date(2027, 3, 8)
NINE = time(9)


def book_with(*busy, chairs=(1, 2)) -> ChairBook:
    return ChairBook(list(chairs), busy)


def place(book: ChairBook, first_day: date = WED, preferred: time = NINE, minutes: int = 45, chair_order=(1,),
          calendar=CALENDAR, **kw):
    return place_session(calendar, book, first_day=first_day, preferred=preferred, minutes=minutes,
                         chair_order=list(chair_order), step_minutes=15, **kw)


def whole_day(day: date, chairs=(1, 2)):
    return [(c, la(day, 7), la(day, 19)) for c in chairs]


# --- times_nearest -------------------------------------------------------------------------------

def test_the_preferred_time_comes_first():
    assert times_nearest(CALENDAR, NINE, 45, 15)[0] == NINE


def test_times_come_by_distance_from_the_preferred_one_earlier_first_on_a_tie():
    assert times_nearest(CALENDAR, NINE, 45, 15)[:7] == [
        time(9), time(8, 45), time(9, 15), time(8, 30), time(9, 30), time(8, 15), time(9, 45)]


def test_a_preferred_time_off_the_step_grid_still_comes_first():
    assert times_nearest(CALENDAR, time(9, 10), 45, 15)[:4] == [time(9, 10), time(9, 15), time(9), time(9, 30)]


def test_times_are_on_the_step_grid_from_opening():
    assert times_nearest(CALENDAR, time(7), 45, 20)[:4] == [time(7), time(7, 20), time(7, 40), time(8)]


def test_no_time_starts_before_opening():
    assert min(times_nearest(CALENDAR, NINE, 45, 15)) == time(7)


def test_no_time_runs_past_closing():
    assert max(times_nearest(CALENDAR, NINE, 45, 15)) == time(18, 15)


def test_a_preferred_time_before_opening_is_left_out_and_opening_comes_first():
    times = times_nearest(CALENDAR, time(6), 45, 15)
    assert time(6) not in times and times[0] == time(7)


def test_a_preferred_time_that_would_run_past_closing_is_left_out():
    times = times_nearest(CALENDAR, time(18, 30), 45, 15)
    assert time(18, 30) not in times and times[0] == time(18, 15)


def test_every_start_time_of_the_day_is_offered_once():
    times = times_nearest(CALENDAR, NINE, 45, 15)
    assert len(times) == len(set(times)) == 46  # 07:00 to 18:15 every 15 minutes


# --- place_session: the day -----------------------------------------------------------------------

def test_a_session_goes_at_the_preferred_time_when_it_is_free():
    p = place(book_with())
    assert (p.day, local(p.starts_at).time()) == (WED, NINE)


def test_a_placed_session_lasts_the_minutes_asked_for():
    p = place(book_with(), minutes=60)
    assert p.ends_at - p.starts_at == timedelta(minutes=60)


def test_a_placed_session_starts_on_its_local_day():
    p = place(book_with(), preferred=time(18))  # 18:00 PST is 02:00 UTC the next day
    assert local(p.starts_at).date() == p.day == WED


def test_a_session_skips_a_weekend_to_the_next_open_day():
    assert place(book_with(), first_day=SAT).day == MON_AFTER


def test_a_session_skips_a_holiday():
    memorial_day = date(2027, 5, 31)
    assert place(book_with(), first_day=memorial_day).day == date(2027, 6, 1)


def test_a_session_skips_a_site_closure():
    calendar = site(closures=frozenset({WED}))
    assert place(book_with(), calendar=calendar).day == date(2027, 3, 4)


def test_a_session_skips_a_blocked_day():
    assert place(book_with(), blocked_days=frozenset({WED})).day == date(2027, 3, 4)


def test_a_session_skips_several_blocked_days_and_a_weekend():
    blocked = frozenset({WED, date(2027, 3, 4), date(2027, 3, 5)})
    assert place(book_with(), blocked_days=blocked).day == MON_AFTER


def test_a_full_day_sends_the_session_to_the_next_open_day_at_the_preferred_time():
    p = place(book_with(*whole_day(WED)))
    assert (p.day, local(p.starts_at).time()) == (date(2027, 3, 4), NINE)


def test_nothing_is_placed_when_no_day_in_the_window_has_room():
    assert place(book_with(*whole_day(WED)), days=1) is None


def test_nothing_is_placed_when_the_window_holds_only_closed_days():
    assert place(book_with(), first_day=SAT, days=2) is None


def test_the_window_counts_calendar_days_from_the_first_day():
    assert place(book_with(), first_day=SAT, days=3).day == MON_AFTER


# --- place_session: the time and the chair ---------------------------------------------------------

def test_a_session_takes_the_first_chair_of_the_order_when_it_is_free():
    assert place(book_with(), chair_order=(2, 1)).chair_id == 2


def test_a_session_takes_another_chair_at_the_preferred_time_before_another_time():
    p = place(book_with((1, la(WED, 9), la(WED, 9, 45))), chair_order=(1,))
    assert (local(p.starts_at).time(), p.chair_id) == (NINE, 2)


def test_a_session_can_take_a_chair_of_the_book_not_named_in_the_order():
    p = place(book_with((1, la(WED, 9), la(WED, 9, 45)), chairs=(1, 3)), chair_order=(1,))
    assert p.chair_id == 3


def test_a_session_whose_time_is_taken_in_every_chair_goes_to_the_nearest_free_time():
    taken = [(c, la(WED, 9), la(WED, 10)) for c in (1, 2)]
    p = place(book_with(*taken))
    assert (p.day, local(p.starts_at).time()) == (WED, time(8, 15))  # 45 minutes away; 10:00 is 60


def test_a_session_takes_the_earlier_of_two_free_times_equally_near():
    taken = [(c, la(WED, 9), la(WED, 9, 45)) for c in (1, 2)]
    assert local(place(book_with(*taken)).starts_at).time() == time(8, 15)  # not 09:45


def test_a_session_takes_the_later_time_when_it_is_nearer():
    taken = [(c, la(WED, 8), la(WED, 9, 30)) for c in (1, 2)]
    assert local(place(book_with(*taken)).starts_at).time() == time(9, 30)


def test_a_session_never_overlaps_a_busy_time():
    taken = [(c, la(WED, 8, 50), la(WED, 9, 50)) for c in (1, 2)]
    p = place(book_with(*taken))
    assert p.ends_at <= la(WED, 8, 50) or p.starts_at >= la(WED, 9, 50)


# --- place_session: not_before ----------------------------------------------------------------------

def test_a_session_never_starts_before_not_before():
    p = place(book_with(), not_before=la(WED, 9, 40))
    assert (p.day, local(p.starts_at).time()) == (WED, time(9, 45))


def test_a_session_may_start_exactly_at_not_before():
    p = place(book_with(), not_before=la(WED, 9))
    assert local(p.starts_at).time() == NINE


def test_a_not_before_past_the_days_last_start_sends_the_session_to_the_next_open_day():
    p = place(book_with(), not_before=la(WED, 18, 30))
    assert (p.day, local(p.starts_at).time()) == (date(2027, 3, 4), NINE)


def test_not_before_on_a_later_day_is_respected_from_an_earlier_first_day():
    p = place(book_with(), first_day=WED, not_before=la(date(2027, 3, 5), 12))
    assert (p.day, local(p.starts_at).time()) == (date(2027, 3, 5), time(12))


# --- daylight saving ------------------------------------------------------------------------------------

def test_a_local_time_skipped_by_the_spring_dst_change_is_passed_over():
    # A site open every night 00:00-05:00: on Sun 14 March 2027 02:00-02:59 does not exist in Los Angeles.
    night = site(holidays=False, open_days=range(1, 8), opens=time(0), closes=time(5))
    p = place(book_with(), first_day=date(2027, 3, 14), preferred=time(2, 30), minutes=30, calendar=night)
    assert (p.day, local(p.starts_at).time()) == (date(2027, 3, 14), time(3))


def test_the_same_local_time_is_placed_on_either_side_of_the_spring_dst_change():
    before = place(book_with(), first_day=date(2027, 3, 12))
    after = place(book_with(), first_day=date(2027, 3, 15))
    assert local(before.starts_at).time() == local(after.starts_at).time() == NINE
    assert after.starts_at - before.starts_at == timedelta(days=3) - timedelta(hours=1)


def test_a_session_that_would_end_after_closing_by_the_clock_on_the_spring_forward_night_is_not_placed_there():
    # Open 00:00-03:30: 90 minutes from 01:30 PST end at 04:00 PDT; from 01:00 they end at 03:30 PDT.
    night = site(holidays=False, open_days=range(1, 8), opens=time(0), closes=time(3, 30))
    p = place(book_with(), first_day=SPRING_FORWARD, preferred=time(1, 30), minutes=90, calendar=night)
    assert (p.day, local(p.starts_at).time(), local(p.ends_at).time()) == (SPRING_FORWARD, time(1), time(3, 30))


# --- place_session: allowed ---------------------------------------------------------------------------

def test_a_time_the_patients_spacing_refuses_is_passed_over():
    refuse_nine = lambda starts_at, ends_at: local(starts_at).time() != NINE  # noqa: E731
    p = place(book_with(), allowed=refuse_nine)
    assert local(p.starts_at).time() == time(8, 45)


def test_a_day_the_patients_spacing_refuses_entirely_sends_the_session_to_the_next_open_day():
    not_wednesday = lambda starts_at, ends_at: local(starts_at).date() != WED  # noqa: E731
    assert place(book_with(), allowed=not_wednesday).day == date(2027, 3, 4)


# --- place_from: the earliest place from an instant on ---------------------------------------------------

def after(instant, book=None, day: date = WED, minutes: int = 15, calendar=CALENDAR, **kw):
    return place_from(calendar, book or book_with(), day=day, not_before=instant, minutes=minutes,
                      chair_order=[1], step_minutes=15, **kw)


def test_place_from_takes_the_instant_itself_even_off_the_step_grid():
    assert local(after(la(WED, 10, 5)).starts_at).time() == time(10, 5)


def test_place_from_takes_the_next_start_on_the_grid_when_every_chair_is_busy_at_the_instant():
    book = book_with(*[(c, la(WED, 10), la(WED, 10, 20)) for c in (1, 2)])
    assert local(after(la(WED, 10, 5), book).starts_at).time() == time(10, 30)


def test_place_from_takes_another_chair_at_the_instant_before_a_later_time():
    p = after(la(WED, 10, 5), book_with((1, la(WED, 10), la(WED, 10, 20))))
    assert (local(p.starts_at).time(), p.chair_id) == (time(10, 5), 2)


def test_place_from_finds_nothing_when_the_day_has_no_room_before_closing():
    assert after(la(WED, 18, 50)) is None


def test_place_from_finds_nothing_on_a_closed_day():
    assert after(la(SAT, 9), day=SAT) is None


def test_place_from_never_places_on_another_day_than_the_one_asked():
    assert after(la(date(2027, 3, 4), 9)) is None


def test_place_from_passes_over_times_the_patients_spacing_refuses():
    not_before_eleven = lambda starts_at, ends_at: starts_at >= la(WED, 11)  # noqa: E731
    assert local(after(la(WED, 10, 5), allowed=not_before_eleven).starts_at).time() == time(11)


def test_place_from_lasts_real_minutes_from_an_instant_given_in_the_sites_zone():
    # 01:30 PDT on the fall-back night: an hour later is 01:30 PST, though the wall clock adds up to 02:30.
    p = after(la(FALL_BACK, 1, 30), day=FALL_BACK, minutes=60, calendar=around_the_clock())
    assert p.ends_at.astimezone(UTC) - p.starts_at.astimezone(UTC) == timedelta(minutes=60)
