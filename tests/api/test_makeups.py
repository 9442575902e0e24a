"""Make-ups through the API: a missed session is made up after the daily phase, the taper moves
behind the make-ups, and a make-up beyond the authorization needs an override that is recorded.

The course is the standard 10 Hz course from Monday 2027-03-01 at 09:00 in Fullerton: 30 daily
sessions (the 30th on Friday 2027-04-09), then the taper of 3, 2 and 1 sessions a week.
"""
from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import select

from tests.factories import (
    book_course,
    create_patient,
    error_fields,
    local,
    session_number,
    signed_in_at,
    writes_nothing,
)
from tms_scheduler.db import models

SESSIONS = "/api/v1/sessions"


def day_of(session: dict) -> date:
    return datetime.fromisoformat(session["starts_at"]).date()  # the answer is in the site's zone


def course_now(client, course: dict) -> dict:
    answer = client.get(f"/api/v1/courses/{course['id']}")
    assert answer.status_code == 200, answer.json
    return answer.json


@pytest.fixture
def two_misses(front_desk, client, clock):
    """Session 5 a no-show on its day, session 12 cancelled by the patient the same day."""
    course = book_course(front_desk, create_patient(front_desk, first_name="Lena", last_name="Park")["id"])
    technician = signed_in_at(client, clock, local(2027, 3, 5, 9, 10), "technician")
    no_show = technician.post(f"{SESSIONS}/{session_number(course, 5)['id']}/no-show")
    assert no_show.status_code == 200, no_show.json
    desk = signed_in_at(client, clock, local(2027, 3, 5, 9, 15))
    cancel = desk.post(f"{SESSIONS}/{session_number(course, 12)['id']}/cancel",
                       json={"reason": "sick child", "by": "patient"})
    assert cancel.status_code == 200, cancel.json
    return {"course": course, "no_show": no_show.json, "cancel": cancel.json, "after": course_now(desk, course)}


def test_each_miss_answers_the_make_up_booked_for_it(two_misses):
    course = two_misses["course"]
    for answer, number in ((two_misses["no_show"], 5), (two_misses["cancel"], 12)):
        missed = session_number(course, number)
        makeup = answer["makeup_session"]
        assert answer["makeup_refused"] is None
        assert (makeup["kind"], makeup["status"], makeup["makeup_for_id"]) == ("makeup", "scheduled", missed["id"])
        assert makeup["course_id"] == course["id"]
    after = {s["id"]: s for s in two_misses["after"]["sessions"]}
    assert two_misses["no_show"]["makeup_session"]["id"] in after
    assert two_misses["cancel"]["makeup_session"]["id"] in after


def test_both_make_ups_come_after_the_30th_daily_slot_on_their_own_open_days(two_misses):
    sessions = two_misses["after"]["sessions"]
    thirtieth = session_number(two_misses["course"], 30)
    assert day_of(thirtieth) == date(2027, 4, 9)
    makeups = [s for s in sessions if s["kind"] == "makeup"]

    assert len(makeups) == 2
    assert all(s["starts_at"] > thirtieth["starts_at"] and day_of(s) > date(2027, 4, 9) for s in makeups)
    assert [day_of(s) for s in makeups] == [date(2027, 4, 12), date(2027, 4, 13)]
    assert all(s["starts_at"].startswith(f"{day_of(s)}T09:00:00") for s in makeups)


def test_the_taper_starts_only_after_both_make_ups(two_misses):
    sessions = two_misses["after"]["sessions"]
    last_makeup = max(datetime.fromisoformat(s["starts_at"]) for s in sessions if s["kind"] == "makeup")
    taper = [datetime.fromisoformat(s["starts_at"]) for s in sessions if s["kind"] == "taper"]

    assert len(taper) == 6
    assert min(taper) > last_makeup
    # The taper starts the week after the last make-up: Monday 2027-04-19.
    assert min(taper).date() == date(2027, 4, 19)


def test_the_first_miss_answers_the_taper_sessions_it_moved(two_misses):
    moved = two_misses["no_show"]["moved_sessions"]
    makeup = two_misses["no_show"]["makeup_session"]

    assert moved and all(s["kind"] == "taper" for s in moved)
    assert all(s["starts_at"] > makeup["starts_at"] for s in moved)


def test_after_two_misses_the_course_still_holds_36_sessions_one_a_day(two_misses):
    sessions = two_misses["after"]["sessions"]
    holding = [s for s in sessions if s["status"] in ("scheduled", "checked_in", "completed")]

    assert len(sessions) == 38
    assert len(holding) == 36
    assert len({day_of(s) for s in holding}) == 36
    assert sorted(s["status"] for s in sessions if s not in holding) == ["cancelled", "no_show"]


def test_the_course_lists_its_sessions_in_time_order(two_misses):
    starts = [datetime.fromisoformat(s["starts_at"]) for s in two_misses["after"]["sessions"]]

    assert starts == sorted(starts)
    assert len(set(starts)) == len(starts)


# --- the authorization

def test_with_36_sessions_authorized_a_missed_session_is_made_up_within_the_authorization(front_desk, client, clock):
    """A missed session uses none of the authorization (payers pay for sessions given), so
    the make-up keeps a 36-session course authorized for 36 within it."""
    course = book_course(front_desk, create_patient(front_desk)["id"], authorization={"sessions": 36})
    technician = signed_in_at(client, clock, local(2027, 3, 5, 9, 10), "technician")

    answer = technician.post(f"{SESSIONS}/{session_number(course, 5)['id']}/no-show")

    assert answer.status_code == 200, answer.json
    assert answer.json["makeup_session"] is not None
    assert answer.json["makeup_refused"] is None


def test_with_35_sessions_authorized_a_make_up_is_refused_and_says_the_course_would_hold_36(
        front_desk, client, clock):
    course = book_course(front_desk, create_patient(front_desk)["id"],
                         authorization={"sessions": 35, "override_reason": "one more requested"})
    technician = signed_in_at(client, clock, local(2027, 3, 5, 9, 10), "technician")

    answer = technician.post(f"{SESSIONS}/{session_number(course, 5)['id']}/no-show")

    assert answer.status_code == 200, answer.json
    assert answer.json["status"] == "no_show"
    assert answer.json["makeup_session"] is None
    assert "36" in answer.json["makeup_refused"]


@pytest.fixture
def refused(front_desk, client, clock):
    """A course authorized for 30 sessions (booked for 36 with an override); session 5 missed, its make-up refused."""
    course = book_course(front_desk, create_patient(front_desk)["id"],
                         authorization={"payer": "Aetna", "number": "A-1", "sessions": 30,
                                        "override_reason": "extension of 6 requested"})
    technician = signed_in_at(client, clock, local(2027, 3, 5, 9, 10), "technician")
    missed = session_number(course, 5)
    answer = technician.post(f"{SESSIONS}/{missed['id']}/no-show")
    assert answer.status_code == 200, answer.json
    return {"course": course, "missed": missed, "answer": answer.json}


def test_a_miss_beyond_the_authorization_stands_without_a_make_up_and_says_why(refused, db):
    answer = refused["answer"]

    assert answer["status"] == "no_show"
    assert answer["makeup_session"] is None
    assert "30" in answer["makeup_refused"] and "authoriz" in answer["makeup_refused"]
    with db() as session:
        makeups = session.scalars(select(models.TreatmentSession)
                                  .where(models.TreatmentSession.makeup_for_id == refused["missed"]["id"])).all()
    assert makeups == []


def test_booking_the_refused_make_up_without_override_reason_answers_422_and_writes_nothing(refused, client, clock, db):
    desk = signed_in_at(client, clock, local(2027, 3, 5, 10, 0))

    with writes_nothing(db):
        answer = desk.post(f"{SESSIONS}/{refused['missed']['id']}/makeup", json={})

    assert answer.status_code == 422, answer.json
    assert "override_reason" in error_fields(answer)


def test_booking_the_refused_make_up_with_override_reason_books_it_and_records_the_override(refused, client, clock, db):
    desk = signed_in_at(client, clock, local(2027, 3, 5, 10, 0))

    answer = desk.post(f"{SESSIONS}/{refused['missed']['id']}/makeup",
                       json={"override_reason": "payer approved by phone, ref 77"})

    assert answer.status_code == 200, answer.json
    makeup = answer.json["makeup_session"]
    assert (makeup["kind"], makeup["status"], makeup["makeup_for_id"]) == ("makeup", "scheduled",
                                                                           refused["missed"]["id"])
    assert day_of(makeup) > date(2027, 4, 9)
    with db() as session:
        events = session.execute(select(models.CourseEvent.action, models.CourseEvent.reason)
                                 .where(models.CourseEvent.course_id == refused["course"]["id"])).all()
    overrides = [reason for action, reason in events if action == "authorization_override"]
    assert len(overrides) == 1
    assert "payer approved by phone, ref 77" in overrides[0]


def test_a_second_make_up_for_the_same_miss_answers_409_and_writes_nothing(refused, client, clock, db):
    desk = signed_in_at(client, clock, local(2027, 3, 5, 10, 0))
    first = desk.post(f"{SESSIONS}/{refused['missed']['id']}/makeup", json={"override_reason": "approved"})
    assert first.status_code == 200, first.json

    with writes_nothing(db):
        answer = desk.post(f"{SESSIONS}/{refused['missed']['id']}/makeup", json={"override_reason": "again"})

    assert answer.status_code == 409


def test_a_make_up_for_a_session_that_was_not_missed_answers_409_and_writes_nothing(refused, client, clock, db):
    desk = signed_in_at(client, clock, local(2027, 3, 5, 10, 0))

    with writes_nothing(db):
        answer = desk.post(f"{SESSIONS}/{session_number(refused['course'], 6)['id']}/makeup",
                           json={"override_reason": "approved"})

    assert answer.status_code == 409


def test_a_make_up_that_pushes_the_taper_past_the_authorizations_end_is_refused_without_an_override(
        front_desk, client, clock, db):
    # Booked, the course ends 2027-04-28; a make-up after the daily phase (2027-04-12) moves the
    # taper to the weeks of 04-19, 04-26 and 05-03, past the authorization's end on 04-30.
    course = book_course(front_desk, create_patient(front_desk)["id"],
                         authorization={"sessions": 40, "valid_to": "2027-04-30"})
    technician = signed_in_at(client, clock, local(2027, 3, 5, 9, 10), "technician")

    answer = technician.post(f"{SESSIONS}/{session_number(course, 5)['id']}/no-show")

    assert answer.status_code == 200, answer.json
    assert answer.json["status"] == "no_show"
    holding = [s for s in course_now(technician, course)["sessions"]
               if s["status"] in ("scheduled", "checked_in", "completed")]
    past_the_end = [(s["number"], str(day_of(s))) for s in holding if day_of(s) > date(2027, 4, 30)]
    assert past_the_end == [], "sessions booked after the authorization ends without an override"
    assert answer.json["makeup_session"] is None
    assert "2027-04-30" in answer.json["makeup_refused"]


# --- a missed mapping session

@pytest.fixture
def missed_mapping(front_desk, client, clock) -> dict:
    course = book_course(front_desk, create_patient(front_desk)["id"])
    technician = signed_in_at(client, clock, local(2027, 3, 1, 9, 10), "technician")
    answer = technician.post(f"{SESSIONS}/{session_number(course, 1)['id']}/no-show")
    assert answer.status_code == 200, answer.json
    return {"course": course, "answer": answer.json}


def test_a_missed_mapping_is_done_at_the_next_visit_which_becomes_60_minutes(missed_mapping):
    second = session_number(missed_mapping["course"], 2)
    moved = {s["id"]: s for s in missed_mapping["answer"]["moved_sessions"]}

    assert moved[second["id"]]["kind"] == "mapping"
    assert (moved[second["id"]]["starts_at"], moved[second["id"]]["ends_at"]) == (
        "2027-03-02T09:00:00-08:00", "2027-03-02T10:00:00-08:00")


def test_the_make_up_for_a_missed_mapping_is_a_regular_session(missed_mapping):
    makeup = missed_mapping["answer"]["makeup_session"]

    assert makeup["kind"] == "makeup"
    start, end = (datetime.fromisoformat(makeup[k]) for k in ("starts_at", "ends_at"))
    assert (end - start).total_seconds() == 45 * 60
