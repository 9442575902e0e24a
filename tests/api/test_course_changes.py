"""Changing a whole course: cancel releases every session ahead; pause releases the future
sessions and resume lays the same number out again from a given day.

The course is the standard 10 Hz course from Monday 2027-03-01 at 09:00 in Fullerton; in most
tests session 1 is given on 03-01 and the change is made that day at noon.
"""
from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import select

from tests.factories import (
    book_course,
    course_body,
    create_patient,
    error_fields,
    local,
    session_number,
    signed_in_at,
    writes_nothing,
)
from tms_scheduler.db import models

COURSES = "/api/v1/courses"
SESSIONS = "/api/v1/sessions"
NOON_OF_DAY_1 = local(2027, 3, 1, 12, 0)


def day_of(session: dict) -> date:
    return datetime.fromisoformat(session["starts_at"]).date()


@pytest.fixture
def patient(front_desk) -> dict:
    return create_patient(front_desk, first_name="Noor", last_name="Haddad")


@pytest.fixture
def course(front_desk, client, clock, patient) -> dict:
    """Session 1 given on 2027-03-01; the answer is the course as booked."""
    course = book_course(front_desk, patient["id"])
    first = session_number(course, 1)
    desk = signed_in_at(client, clock, local(2027, 3, 1, 8, 50))
    assert desk.post(f"{SESSIONS}/{first['id']}/check-in").status_code == 200
    technician = signed_in_at(client, clock, local(2027, 3, 1, 10, 0), "technician")
    done = technician.post(f"{SESSIONS}/{first['id']}/complete", json={"motor_threshold": 52, "intensity": 120})
    assert done.status_code == 200, done.json
    return course


@pytest.fixture
def desk(client, clock, course):
    return signed_in_at(client, clock, NOON_OF_DAY_1)


def sessions_of(client, course: dict) -> list[dict]:
    answer = client.get(f"{COURSES}/{course['id']}")
    assert answer.status_code == 200, answer.json
    return answer.json["sessions"]


# --- cancel

def test_cancelling_a_course_releases_every_session_ahead_and_ends_the_course(desk, course):
    answer = desk.post(f"{COURSES}/{course['id']}/cancel", json={"reason": "moving out of state"})

    assert answer.status_code == 200, answer.json
    assert answer.json["status"] == "cancelled"
    sessions = answer.json["sessions"]
    assert session_number(answer.json, 1)["status"] == "completed"
    ahead = [s for s in sessions if s["number"] != 1]
    assert len(ahead) == 35
    assert {(s["status"], s["cancelled_by"]) for s in ahead} == {("cancelled", "course_cancel")}
    again = desk.get(f"{COURSES}/{course['id']}").json
    assert again["status"] == "cancelled"
    assert [(s["number"], s["status"]) for s in again["sessions"]] == [(s["number"], s["status"]) for s in sessions]


def test_a_cancelled_course_books_no_make_ups_for_its_released_sessions(desk, course):
    answer = desk.post(f"{COURSES}/{course['id']}/cancel", json={"reason": "moving"})

    assert [s for s in answer.json["sessions"] if s["kind"] == "makeup"] == []
    assert len(answer.json["sessions"]) == 36


def test_cancelling_a_course_frees_its_chair_times_for_other_patients(desk, course, front_desk):
    desk.post(f"{COURSES}/{course['id']}/cancel", json={"reason": "moving"})
    board = desk.get("/api/v1/sites/fullerton/schedule", query_string={"date": "2027-03-02"}).json

    assert [s for chair in board["chairs"] for s in chair["sessions"] if s["status"] == "scheduled"] == []


def test_cancelling_a_course_twice_answers_409_and_writes_nothing(desk, course, db):
    assert desk.post(f"{COURSES}/{course['id']}/cancel", json={"reason": "moving"}).status_code == 200

    with writes_nothing(db):
        answer = desk.post(f"{COURSES}/{course['id']}/cancel", json={"reason": "moving again"})

    assert answer.status_code == 409, answer.json


def test_cancelling_a_course_without_a_reason_answers_422_and_writes_nothing(desk, course, db):
    with writes_nothing(db):
        answer = desk.post(f"{COURSES}/{course['id']}/cancel", json={})

    assert answer.status_code == 422
    assert "reason" in error_fields(answer)


def test_the_cancellation_is_recorded_as_a_course_event_with_its_reason(desk, course, db):
    desk.post(f"{COURSES}/{course['id']}/cancel", json={"reason": "moving out of state"})

    with db() as session:
        events = session.execute(select(models.CourseEvent.action, models.CourseEvent.reason)
                                 .where(models.CourseEvent.course_id == course["id"])).all()
    assert ("cancel", "moving out of state") in [tuple(e) for e in events]


def test_after_cancelling_the_patient_can_book_a_new_course(desk, course, patient):
    desk.post(f"{COURSES}/{course['id']}/cancel", json={"reason": "restart later"})

    answer = desk.post(COURSES, json=course_body(patient["id"], start_date="2027-03-15"))

    assert answer.status_code == 201, answer.json
    assert answer.json["status"] == "active"
    assert answer.json["id"] != course["id"]


def test_while_the_course_is_active_the_patient_cannot_book_another(desk, course, patient, db):
    with writes_nothing(db):
        answer = desk.post(COURSES, json=course_body(patient["id"], start_date="2027-03-15"))

    assert answer.status_code == 409


# --- pause and resume

def test_pausing_releases_the_future_sessions_and_keeps_the_course_active(desk, course):
    answer = desk.post(f"{COURSES}/{course['id']}/pause", json={"reason": "hospital stay"})

    assert answer.status_code == 200, answer.json
    assert (answer.json["status"], answer.json["paused"]) == ("active", True)
    assert session_number(answer.json, 1)["status"] == "completed"
    released = [s for s in answer.json["sessions"] if s["number"] != 1]
    assert len(released) == 35
    assert {(s["status"], s["cancelled_by"]) for s in released} == {("cancelled", "pause")}


def test_a_paused_course_still_blocks_a_second_course(desk, course, patient, db):
    desk.post(f"{COURSES}/{course['id']}/pause", json={"reason": "hospital stay"})

    with writes_nothing(db):
        answer = desk.post(COURSES, json=course_body(patient["id"], start_date="2027-03-15"))

    assert answer.status_code == 409


def test_pausing_twice_answers_409_and_writes_nothing(desk, course, db):
    desk.post(f"{COURSES}/{course['id']}/pause", json={"reason": "hospital stay"})

    with writes_nothing(db):
        answer = desk.post(f"{COURSES}/{course['id']}/pause", json={"reason": "again"})

    assert answer.status_code == 409


def test_resuming_lays_the_released_number_out_again_from_the_given_day(desk, course):
    desk.post(f"{COURSES}/{course['id']}/pause", json={"reason": "hospital stay"})

    answer = desk.post(f"{COURSES}/{course['id']}/resume", json={"from_date": "2027-03-15"})

    assert answer.status_code == 200, answer.json
    assert (answer.json["status"], answer.json["paused"]) == ("active", False)
    scheduled = [s for s in answer.json["sessions"] if s["status"] == "scheduled"]
    assert len(scheduled) == 35
    days = sorted(day_of(s) for s in scheduled)
    assert days[0] == date(2027, 3, 15)
    assert len(set(days)) == 35, "one session a day"
    assert all(d.isoweekday() <= 5 for d in days)
    assert all(s["starts_at"].startswith(f"{day_of(s)}T09:00:00") for s in scheduled)
    # 29 daily sessions were still owed, then the taper of 3, 2 and 1 a week.
    assert sorted(s["kind"] for s in scheduled).count("taper") == 6
    daily_days = sorted(day_of(s) for s in scheduled if s["kind"] != "taper")
    taper_days = sorted(day_of(s) for s in scheduled if s["kind"] == "taper")
    assert len(daily_days) == 29
    assert max(daily_days) < min(taper_days)


def test_resuming_counts_no_released_session_as_missed(desk, course):
    desk.post(f"{COURSES}/{course['id']}/pause", json={"reason": "hospital stay"})
    desk.post(f"{COURSES}/{course['id']}/resume", json={"from_date": "2027-03-15"})

    progress = desk.get(f"{COURSES}/{course['id']}/progress").json

    assert (progress["completed"], progress["missed"], progress["remaining"]) == (1, 0, 35)


@pytest.mark.parametrize("from_date", ["2027-02-26", "2027-03-13", "2027-05-31"],
                         ids=["in the past", "a Saturday", "Memorial Day"])
def test_resuming_from_a_past_or_closed_day_answers_422_and_writes_nothing(desk, course, db, from_date):
    desk.post(f"{COURSES}/{course['id']}/pause", json={"reason": "hospital stay"})

    with writes_nothing(db):
        answer = desk.post(f"{COURSES}/{course['id']}/resume", json={"from_date": from_date})

    assert answer.status_code == 422, answer.json
    assert "from_date" in error_fields(answer)
    assert desk.get(f"{COURSES}/{course['id']}").json["paused"] is True


def test_resuming_a_course_that_is_not_paused_answers_409_and_writes_nothing(desk, course, db):
    with writes_nothing(db):
        answer = desk.post(f"{COURSES}/{course['id']}/resume", json={"from_date": "2027-03-15"})

    assert answer.status_code == 409, answer.json


def test_resuming_a_cancelled_course_answers_409_and_writes_nothing(desk, course, db):
    desk.post(f"{COURSES}/{course['id']}/cancel", json={"reason": "moving"})

    with writes_nothing(db):
        answer = desk.post(f"{COURSES}/{course['id']}/resume", json={"from_date": "2027-03-15"})

    assert answer.status_code == 409


def test_course_changes_of_an_unknown_course_answer_404(desk):
    assert desk.post(f"{COURSES}/999999/cancel", json={"reason": "x"}).status_code == 404
    assert desk.post(f"{COURSES}/999999/pause", json={"reason": "x"}).status_code == 404


def test_a_technician_may_not_cancel_a_course_403(client, clock, course, db):
    technician = signed_in_at(client, clock, NOON_OF_DAY_1, "technician")

    with writes_nothing(db):
        answer = technician.post(f"{COURSES}/{course['id']}/cancel", json={"reason": "x"})

    assert answer.status_code == 403
