"""Booking a whole course: plan_course (all or nothing) and the start rules of check_start."""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from tms_scheduler.domain.allocation import ChairBook
from tms_scheduler.domain.booking import check_start, plan_course
from tms_scheduler.domain.errors import BookingConflict, RuleViolation, StateConflict
from tms_scheduler.domain.planning import lay_out

from .clinic import (
    DEMO_PROTOCOLS,
    MON_TO_SAT,
    around_the_clock,
    by_day,
    cadence,
    la,
    local,
    real_gaps,
    site,
    weekdays_from,
)

MON = date(2027, 3, 1)
DAY_3 = date(2027, 3, 3)
NOW = datetime(2027, 2, 26, 16, 0, tzinfo=UTC)  # Friday 26 February, 08:00 in Los Angeles
STEP = 15


def book_itbs(book: ChairBook, preferred: time = time(9), start: date = MON, now: datetime = NOW):
    return plan_course(cadence("itbs"), site(), book, start, preferred, now, STEP)


def one_chair_busy_on_day_3_from_0900_to_0930() -> ChairBook:
    return ChairBook([1], [(1, la(DAY_3, 9), la(DAY_3, 9, 30))])


# --- plan_course -----------------------------------------------------------------------------------

def test_plan_course_books_every_session_when_the_chairs_are_free():
    plan = book_itbs(ChairBook([1, 2]))
    assert len(plan.sessions) == 30
    assert plan.allocation.complete
    assert set(plan.allocation.chairs.values()) == {1}


def test_plan_course_raises_booking_conflict_when_a_session_finds_no_chair():
    with pytest.raises(BookingConflict) as refused:
        book_itbs(one_chair_busy_on_day_3_from_0900_to_0930())
    assert isinstance(refused.value, StateConflict)
    assert refused.value.http_status == 409


def test_booking_conflict_names_the_clashing_day():
    with pytest.raises(BookingConflict) as refused:
        book_itbs(one_chair_busy_on_day_3_from_0900_to_0930())
    assert [c.date for c in refused.value.conflicts] == ["2027-03-03"]
    assert "2027-03-03" in refused.value.message


def test_booking_conflict_gives_the_local_time_of_the_clashing_session():
    with pytest.raises(BookingConflict) as refused:
        book_itbs(one_chair_busy_on_day_3_from_0900_to_0930())
    assert "09:00" in refused.value.conflicts[0].reason
    assert "09:15" in refused.value.conflicts[0].reason


def test_booking_conflict_names_every_clashing_day():
    busy = [(1, la(d, 9), la(d, 9, 15)) for d in (date(2027, 3, 3), date(2027, 3, 10), date(2027, 3, 17))]
    with pytest.raises(BookingConflict) as refused:
        book_itbs(ChairBook([1], busy))
    assert [c.date for c in refused.value.conflicts] == ["2027-03-03", "2027-03-10", "2027-03-17"]


def test_booking_conflict_offers_every_start_time_at_which_the_whole_course_fits():
    with pytest.raises(BookingConflict) as refused:
        book_itbs(one_chair_busy_on_day_3_from_0900_to_0930())
    every_quarter_hour = [f"{m // 60:02d}:{m % 60:02d}" for m in range(7 * 60, 18 * 60 + 1, 15)]  # 07:00..18:00
    assert refused.value.alternatives == [t for t in every_quarter_hour if t not in ("09:00", "09:15")]


def test_booking_conflict_offers_no_start_that_would_end_after_closing():
    with pytest.raises(BookingConflict) as refused:
        book_itbs(one_chair_busy_on_day_3_from_0900_to_0930())
    assert refused.value.alternatives[-1] == "18:00"  # the 60 minute mapping session ends at 19:00


def test_booking_conflict_offers_no_start_time_that_has_already_passed():
    now = la(MON, 8, 10)  # the course starts today
    with pytest.raises(BookingConflict) as refused:
        book_itbs(one_chair_busy_on_day_3_from_0900_to_0930(), now=now)
    assert refused.value.alternatives[0] == "08:15"


def test_booking_conflict_offers_no_alternatives_when_no_start_time_fits():
    day_3_all_day = [(1, la(DAY_3, 7), la(DAY_3, 19))]
    with pytest.raises(BookingConflict) as refused:
        book_itbs(ChairBook([1], day_3_all_day))
    assert refused.value.alternatives == []


def test_plan_course_at_an_offered_alternative_succeeds():
    book = one_chair_busy_on_day_3_from_0900_to_0930()
    with pytest.raises(BookingConflict) as refused:
        book_itbs(book)
    hh, mm = map(int, refused.value.alternatives[0].split(":"))
    assert book_itbs(book, preferred=time(hh, mm)).allocation.complete


def test_plan_course_checks_the_start_rules_before_the_chairs():
    with pytest.raises(RuleViolation):
        book_itbs(one_chair_busy_on_day_3_from_0900_to_0930(), start=date(2027, 2, 25))


# --- check_start ------------------------------------------------------------------------------------

def check(start: date, preferred: time, now: datetime = NOW, protocol: str = "tms-10hz-standard"):
    calendar = site()
    check_start(calendar, start, preferred, lay_out(cadence(protocol), calendar, start), now)


def test_check_start_accepts_an_open_future_day_inside_opening_hours():
    check(MON, time(9))  # no exception


def test_check_start_refuses_a_start_date_in_the_past():
    with pytest.raises(RuleViolation) as refused:
        check(date(2027, 2, 25), time(9))
    assert "start_date" in refused.value.errors


def test_check_start_refuses_a_saturday_start():
    with pytest.raises(RuleViolation) as refused:
        check(date(2027, 3, 6), time(9))
    assert "start_date" in refused.value.errors


def test_check_start_refuses_a_start_on_a_holiday():
    with pytest.raises(RuleViolation) as refused:
        check(date(2027, 5, 31), time(9))  # Memorial Day
    assert "start_date" in refused.value.errors


def test_check_start_refuses_a_time_before_opening():
    with pytest.raises(RuleViolation) as refused:
        check(MON, time(6, 45))
    assert "preferred_time" in refused.value.errors


def test_check_start_refuses_a_time_whose_mapping_session_would_end_after_closing():
    with pytest.raises(RuleViolation) as refused:
        check(MON, time(18, 15))  # 60 minutes to 19:15
    assert "preferred_time" in refused.value.errors


def test_check_start_accepts_a_mapping_session_ending_exactly_at_closing():
    check(MON, time(18))


def test_check_start_refuses_an_accelerated_day_that_would_run_past_closing():
    with pytest.raises(RuleViolation):
        check(MON, time(8, 30), protocol="accelerated-itbs")


def test_check_start_refuses_a_start_that_has_already_passed_today():
    with pytest.raises(RuleViolation) as refused:
        check(MON, time(9), now=la(MON, 9, 30))
    assert "preferred_time" in refused.value.errors


def test_check_start_refuses_a_start_at_this_very_minute():
    with pytest.raises(RuleViolation):
        check(MON, time(9), now=la(MON, 9))


def test_check_start_accepts_a_start_later_today():
    check(MON, time(10), now=la(MON, 9, 30))


def test_check_start_judges_today_by_the_site_zone_not_by_utc():
    # 17:50 in Los Angeles on 1 March is already 2 March in UTC.
    now = la(MON, 17, 50).astimezone(UTC)
    assert now.astimezone(UTC).date() == date(2027, 3, 2)
    check(MON, time(18), now=now, protocol="itbs")


def test_check_start_refusals_are_rule_violations_reported_as_422():
    with pytest.raises(RuleViolation) as refused:
        check(date(2027, 2, 25), time(9))
    assert refused.value.http_status == 422
    assert refused.value.message


def test_planned_sessions_keep_the_preferred_local_time():
    plan = book_itbs(ChairBook([1]), preferred=time(11, 45))
    assert {local(s.starts_at).time() for s in plan.sessions} == {time(11, 45)}


# --- a course that cannot be laid out is a 422, never a 409 ---------------------------------------------

def test_plan_course_with_no_chair_at_all_is_a_rule_violation_not_a_booking_conflict():
    with pytest.raises(RuleViolation) as refused:
        book_itbs(ChairBook([]))
    assert "protocol_id" in refused.value.errors


def test_plan_course_names_the_session_that_runs_past_closing_on_a_short_day():
    short = site(opens=time(9), closes=time(13))
    with pytest.raises(RuleViolation) as refused:
        plan_course(cadence("accelerated-itbs"), short, ChairBook([1]), MON, time(9), NOW, STEP)
    assert "session 4 on 2027-03-01 would run from 13:00 to 13:15" in refused.value.message


SITES = {
    "mon-fri 07-19": site(),
    "mon-sat 07-19": site(open_days=MON_TO_SAT),
    "mon-fri 09-13": site(opens=time(9), closes=time(13)),  # no accelerated day fits
    "every day 00:00-23:30": around_the_clock(),  # the clocks change during opening hours
}
FIVE_DAYS_FROM = {
    "spring forward": date(2027, 3, 10),  # Wed to Sun 14 March, the night the clocks go forward
    "fall back": date(2027, 11, 3),  # Wed to Sun 7 November, the night they go back
    "thanksgiving": date(2027, 11, 22),  # Mon to Fri, closed Thu 25 and Fri 26
}
START_DAYS = [first + timedelta(days=i) for first in FIVE_DAYS_FROM.values() for i in range(5)]
EVERY_QUARTER_HOUR = [time(m // 60, m % 60) for m in range(0, 24 * 60, 15)]
BEFORE_ALL = datetime(2027, 3, 1, tzinfo=UTC)


def broken_rules(protocol_id: str, calendar, start: date, sessions) -> list[str]:
    """The rules of DOMAIN.md a planned course breaks, checked from the sessions alone."""
    found = []
    ordered = sorted(sessions, key=lambda s: s.starts_at)
    for s in ordered:
        begin, end = local(s.starts_at), local(s.ends_at)
        inside = calendar.opens <= begin.time() and end.time() <= calendar.closes
        if not (begin.date() == s.day == end.date() and inside):
            found.append(f"session {s.number} {begin}-{end} is outside opening hours")
        if not calendar.is_open_on(s.day):
            found.append(f"session {s.number} is on a closed day")
    if any(a.ends_at > b.starts_at for a, b in zip(ordered, ordered[1:])):
        found.append("two sessions overlap")
    cad = cadence(protocol_id)
    if cad.sessions_per_day > 1:
        days = by_day(sessions)
        if sorted(days) != weekdays_from(start, len(days), calendar):
            found.append(f"days {sorted(days)} are not consecutive open days")
        if max(len(v) for v in days.values()) > cad.sessions_per_day:
            found.append("too many sessions on a day")
        if any(gap < timedelta(minutes=cad.min_gap_minutes) for v in days.values() for gap in real_gaps(v)):
            found.append("a gap shorter than the protocol's")
    return found


@pytest.mark.parametrize("site_name", SITES)
@pytest.mark.parametrize("protocol_id", DEMO_PROTOCOLS)
def test_every_demo_protocol_on_an_empty_site_is_planned_or_refused_with_a_reason_never_a_booking_conflict(
        protocol_id, site_name):
    calendar = SITES[site_name]
    planned = refused = 0
    for start in START_DAYS:
        for at in EVERY_QUARTER_HOUR:
            try:
                plan = plan_course(cadence(protocol_id), calendar, ChairBook([1, 2]), start, at, BEFORE_ALL, STEP)
            except BookingConflict as exc:
                pytest.fail(f"{protocol_id} at {site_name} from {start} {at}: a 409 on an empty site: {exc.message}")
            except RuleViolation as exc:
                assert exc.message
                refused += 1
                continue
            planned += 1
            assert plan.allocation.complete
            assert broken_rules(protocol_id, calendar, start, plan.sessions) == [], (start, at)
    assert refused and (planned or site_name == "mon-fri 09-13")
