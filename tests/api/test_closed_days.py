"""A closure is the clinic's doing: the sweep never marks a no-show on a closed day, the sessions
nobody moved are cancelled by the clinic with a make-up and count in no attendance figure or flag,
and the day board of a closed day says so and lists the sessions still to move.

The course is the standard 10 Hz course from Monday 2027-03-01 at 09:00 in Fullerton.
"""
from __future__ import annotations

from datetime import timedelta

import pytest

from tests.factories import book_course, create_patient, local, session_number, signed_in_at
from tms_scheduler.services.no_shows import mark_overdue_no_shows
from tms_scheduler.services.runtime import Runtime

CLOSED_DAY = "2027-03-03"  # session 3 of each course


def sweep(db, now) -> int:
    return mark_overdue_no_shows(Runtime(db, lambda: now), grace=timedelta(minutes=30))


@pytest.fixture
def closed_course(admin, front_desk):
    """Two courses; Fullerton closed on Wednesday 2027-03-03 afterwards, nobody moved anything."""
    courses = [book_course(front_desk, create_patient(front_desk, first_name=name)["id"], preferred_time=at)
               for name, at in (("Ines", "09:00"), ("Omar", "11:00"))]
    answer = admin.post("/api/v1/sites/fullerton/closures", json={"date": CLOSED_DAY, "reason": "burst water pipe"})
    assert answer.status_code == 201, answer.json
    return courses


def test_the_day_board_of_a_closed_day_says_it_is_closed_and_why(front_desk, closed_course):
    board = front_desk.get(f"/api/v1/sites/fullerton/schedule?date={CLOSED_DAY}").json

    assert (board["closed"], board["closed_reason"]) == (True, "burst water pipe")


def test_the_day_board_of_a_closed_day_lists_the_sessions_still_to_move(front_desk, closed_course):
    board = front_desk.get(f"/api/v1/sites/fullerton/schedule?date={CLOSED_DAY}").json

    listed = {s["id"] for chair in board["chairs"] for s in chair["sessions"]}
    assert listed == {session_number(c, 3)["id"] for c in closed_course}


def test_the_day_board_of_an_open_day_is_not_closed(front_desk, closed_course):
    board = front_desk.get("/api/v1/sites/fullerton/schedule?date=2027-03-04").json

    assert (board["closed"], board["closed_reason"]) == (False, None)


def test_the_day_board_of_a_holiday_names_the_holiday(front_desk):
    board = front_desk.get("/api/v1/sites/fullerton/schedule?date=2027-11-26").json

    assert (board["closed"], board["closed_reason"]) == (True, "the day after Thanksgiving Day")


def test_the_day_board_of_a_weekend_day_says_the_site_is_not_open_then(front_desk):
    board = front_desk.get("/api/v1/sites/fullerton/schedule?date=2027-03-06").json

    assert (board["closed"], board["closed_reason"]) == (True, "the site is not open on Saturdays")


def test_the_sweep_never_marks_a_no_show_on_a_closed_day(db, front_desk, client, clock, closed_course):
    assert sweep(db, local(2027, 3, 4, 8, 0)) == 6  # sessions 1-3 of each course

    course = signed_in_at(client, clock, local(2027, 3, 4, 8, 0)).get(
        f"/api/v1/courses/{closed_course[0]['id']}").json
    on_closed_day = session_number(course, 3)
    assert (on_closed_day["status"], on_closed_day["cancelled_by"]) == ("cancelled", "closure")
    assert [session_number(course, n)["status"] for n in (1, 2)] == ["no_show", "no_show"]


def test_a_session_the_closure_cancelled_gets_its_make_up(db, client, clock, closed_course):
    sweep(db, local(2027, 3, 4, 8, 0))

    course = signed_in_at(client, clock, local(2027, 3, 4, 8, 0)).get(
        f"/api/v1/courses/{closed_course[0]['id']}").json
    on_closed_day = session_number(course, 3)
    makeups = [s for s in course["sessions"] if s["makeup_for_id"] == on_closed_day["id"]]
    assert [(m["kind"], m["status"]) for m in makeups] == [("makeup", "scheduled")]


def test_a_closure_counts_in_no_attendance_figure_or_flag(db, client, clock, closed_course):
    course = closed_course[0]
    for number, day in ((1, 1), (2, 2)):
        technician = signed_in_at(client, clock, local(2027, 3, day, 9, 5), "technician")
        assert technician.post(f"/api/v1/sessions/{session_number(course, number)['id']}/check-in").status_code == 200
        assert technician.post(f"/api/v1/sessions/{session_number(course, number)['id']}/complete",
                               json={"motor_threshold": 55, "intensity": 120}).status_code == 200
    sweep(db, local(2027, 3, 4, 8, 0))

    progress = signed_in_at(client, clock, local(2027, 3, 4, 8, 0), "clinician").get(
        f"/api/v1/courses/{course['id']}/progress").json

    assert (progress["completed"], progress["missed"], progress["attendance_rate"]) == (2, 0, 1.0)
    assert "consecutive_misses" not in {f["code"] for f in progress["flags"]}
