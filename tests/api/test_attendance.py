"""A session's lifecycle through the API: check-in, completion with its treatment record, no-show,
cancellation, illegal changes, reschedule and the session's history.

The course is the standard 10 Hz course from Monday 2027-03-01 at 09:00 in Fullerton
(America/Los_Angeles, PST until 2027-03-14): session 1 on 03-01, session 3 on Wednesday 03-03.
"""
from __future__ import annotations

from datetime import datetime

import pytest

from tests.factories import (
    book_course,
    chair_ids,
    create_patient,
    error_fields,
    fill_fullerton_figure8_chairs,
    local,
    session_number,
    signed_in_at,
    user_id_of,
    writes_nothing,
)

SESSIONS = "/api/v1/sessions"
TREATMENT = {
    "motor_threshold": 55, "intensity": 120, "frequency": 10.0, "pulses": 3000,
    "coil_position": "L-DLPFC, 5.5 cm anterior", "side_effects": ["headache"], "discomfort": 3,
    "supervising_physician": "Dr. Reyes", "notes": "tolerated well",
}


@pytest.fixture
def course(front_desk) -> dict:
    return book_course(front_desk, create_patient(front_desk, first_name="Iris", last_name="Chen")["id"])


@pytest.fixture
def first(course) -> dict:
    return session_number(course, 1)


def url(session: dict, action: str = "") -> str:
    return f"{SESSIONS}/{session['id']}" + (f"/{action}" if action else "")


def get_session(client, session: dict) -> dict:
    answer = client.get(url(session))
    assert answer.status_code == 200, answer.json
    return answer.json


def checked_in(client, clock, session: dict, when: datetime):
    """Checks the session in at `when`; answers a front-desk client signed in then."""
    desk = signed_in_at(client, clock, when)
    answer = desk.post(url(session, "check-in"))
    assert answer.status_code == 200, answer.json
    return desk


# --- check-in

def test_check_in_on_the_sessions_local_day_answers_200_with_the_session_checked_in(client, clock, first):
    desk = signed_in_at(client, clock, local(2027, 3, 1, 8, 40))

    answer = desk.post(url(first, "check-in"))

    assert answer.status_code == 200, answer.json
    assert (answer.json["id"], answer.json["status"]) == (first["id"], "checked_in")
    assert get_session(desk, first)["status"] == "checked_in"


def test_check_in_late_on_the_local_day_counts_the_local_day_not_the_utc_one(client, clock, first):
    # 17:00 in Fullerton on 03-01 is already 03-02 in UTC.
    desk = signed_in_at(client, clock, local(2027, 3, 1, 17, 0))

    answer = desk.post(url(first, "check-in"))

    assert answer.status_code == 200, answer.json
    assert answer.json["status"] == "checked_in"


@pytest.mark.parametrize("when", [local(2027, 2, 28, 23, 30), local(2027, 3, 2, 8, 0)],
                         ids=["the evening before (same UTC day)", "the next morning"])
def test_check_in_on_another_day_answers_409_and_writes_nothing(client, clock, db, first, when):
    desk = signed_in_at(client, clock, when)

    with writes_nothing(db):
        answer = desk.post(url(first, "check-in"))

    assert answer.status_code == 409, answer.json
    assert get_session(desk, first)["status"] == "scheduled"


def test_checking_in_twice_answers_409_and_writes_nothing(client, clock, db, first):
    desk = checked_in(client, clock, first, local(2027, 3, 1, 8, 50))

    with writes_nothing(db):
        answer = desk.post(url(first, "check-in"))

    assert answer.status_code == 409, answer.json


# --- completion and the treatment record

def test_completing_a_checked_in_session_answers_200_and_saves_the_treatment_record(client, clock, db, first):
    checked_in(client, clock, first, local(2027, 3, 1, 8, 50))
    technician = signed_in_at(client, clock, local(2027, 3, 1, 10, 0), "technician")

    answer = technician.post(url(first, "complete"), json=TREATMENT)

    assert answer.status_code == 200, answer.json
    assert (answer.json["id"], answer.json["status"]) == (first["id"], "completed")
    record = technician.get(url(first, "treatment-record"))
    assert record.status_code == 200, record.json
    assert {k: record.json[k] for k in TREATMENT} == TREATMENT
    assert record.json["session_id"] == first["id"]
    assert record.json["technician_id"] == user_id_of(db, "technician")
    assert datetime.fromisoformat(record.json["recorded_at"]) == local(2027, 3, 1, 10, 0)


def test_completing_with_only_the_required_fields_saves_a_record_without_side_effects(client, clock, first):
    checked_in(client, clock, first, local(2027, 3, 1, 8, 50))
    technician = signed_in_at(client, clock, local(2027, 3, 1, 10, 0), "technician")

    answer = technician.post(url(first, "complete"), json={"motor_threshold": 60, "intensity": 110})

    assert answer.status_code == 200, answer.json
    record = technician.get(url(first, "treatment-record")).json
    assert (record["motor_threshold"], record["intensity"], record["side_effects"]) == (60, 110, [])


def test_a_session_not_completed_has_no_treatment_record_404(client, clock, first):
    technician = signed_in_at(client, clock, local(2027, 3, 1, 8, 0), "technician")

    assert technician.get(url(first, "treatment-record")).status_code == 404


def test_completing_a_scheduled_session_not_checked_in_answers_409_and_writes_nothing(client, clock, db, first):
    technician = signed_in_at(client, clock, local(2027, 3, 1, 10, 0), "technician")

    with writes_nothing(db):
        answer = technician.post(url(first, "complete"), json=TREATMENT)

    assert answer.status_code == 409, answer.json
    assert get_session(technician, first)["status"] == "scheduled"


@pytest.mark.parametrize("change, field", [
    ({"motor_threshold": 0}, "motor_threshold"),
    ({"motor_threshold": 101}, "motor_threshold"),
    ({"intensity": 0}, "intensity"),
    ({"intensity": 201}, "intensity"),
    ({"discomfort": 11}, "discomfort"),
    ({"discomfort": -1}, "discomfort"),
    ({"side_effects": ["nausea"]}, "side_effects"),
    ({"pain_score": 4}, "pain_score"),
], ids=["motor threshold 0", "motor threshold 101", "intensity 0", "intensity 201", "discomfort 11",
        "discomfort -1", "side effect nausea", "unknown field"])
def test_an_invalid_treatment_record_answers_422_naming_the_field_and_writes_nothing(
        client, clock, db, first, change, field):
    checked_in(client, clock, first, local(2027, 3, 1, 8, 50))
    technician = signed_in_at(client, clock, local(2027, 3, 1, 10, 0), "technician")

    with writes_nothing(db):
        answer = technician.post(url(first, "complete"), json={**TREATMENT, **change})

    assert answer.status_code == 422, answer.json
    assert field in error_fields(answer)
    assert get_session(technician, first)["status"] == "checked_in"


def test_completing_without_the_motor_threshold_answers_422_naming_it(client, clock, db, first):
    checked_in(client, clock, first, local(2027, 3, 1, 8, 50))
    technician = signed_in_at(client, clock, local(2027, 3, 1, 10, 0), "technician")
    body = {k: v for k, v in TREATMENT.items() if k != "motor_threshold"}

    with writes_nothing(db):
        answer = technician.post(url(first, "complete"), json=body)

    assert answer.status_code == 422
    assert "motor_threshold" in error_fields(answer)


# --- no-show

def test_a_no_show_before_the_start_answers_409_and_writes_nothing(client, clock, db, first):
    technician = signed_in_at(client, clock, local(2027, 3, 1, 8, 59), "technician")

    with writes_nothing(db):
        answer = technician.post(url(first, "no-show"))

    assert answer.status_code == 409, answer.json
    assert get_session(technician, first)["status"] == "scheduled"


def test_a_no_show_after_the_start_answers_200_with_its_make_up_session(client, clock, first):
    technician = signed_in_at(client, clock, local(2027, 3, 1, 9, 20), "technician")

    answer = technician.post(url(first, "no-show"))

    assert answer.status_code == 200, answer.json
    assert (answer.json["id"], answer.json["status"]) == (first["id"], "no_show")
    makeup = answer.json["makeup_session"]
    assert makeup is not None
    assert (makeup["kind"], makeup["status"], makeup["makeup_for_id"]) == ("makeup", "scheduled", first["id"])
    assert get_session(technician, makeup)["course_id"] == first["course_id"]


def test_a_no_show_post_without_body_or_content_type_is_accepted(client, clock, first):
    technician = signed_in_at(client, clock, local(2027, 3, 1, 9, 20), "technician")

    answer = client.post(url(first, "no-show"), headers=technician.headers)

    assert answer.status_code == 200, answer.json
    assert answer.json["status"] == "no_show"


def test_a_second_no_show_of_one_session_answers_409_and_writes_nothing(client, clock, db, first):
    technician = signed_in_at(client, clock, local(2027, 3, 1, 9, 20), "technician")
    assert technician.post(url(first, "no-show")).status_code == 200

    with writes_nothing(db):
        answer = technician.post(url(first, "no-show"))

    assert answer.status_code == 409


# --- cancellation

@pytest.mark.parametrize("by", ["patient", "clinic"])
def test_cancelling_a_session_answers_200_with_who_cancelled_and_its_make_up(front_desk, course, by):
    session = session_number(course, 3)

    answer = front_desk.post(url(session, "cancel"), json={"reason": "car trouble", "by": by})

    assert answer.status_code == 200, answer.json
    assert (answer.json["status"], answer.json["cancelled_by"]) == ("cancelled", by)
    assert answer.json["makeup_session"]["makeup_for_id"] == session["id"]
    assert get_session(front_desk, session)["status"] == "cancelled"


@pytest.mark.parametrize("body, field", [
    ({"reason": "car trouble", "by": "doctor"}, "by"),
    ({"reason": "car trouble"}, "by"),
    ({"by": "patient"}, "reason"),
], ids=["by doctor", "without by", "without reason"])
def test_a_cancellation_with_an_invalid_body_answers_422_naming_the_field_and_writes_nothing(
        front_desk, db, course, body, field):
    session = session_number(course, 3)

    with writes_nothing(db):
        answer = front_desk.post(url(session, "cancel"), json=body)

    assert answer.status_code == 422, answer.json
    assert field in error_fields(answer)
    assert get_session(front_desk, session)["status"] == "scheduled"


# --- illegal status changes

def test_checking_in_a_cancelled_session_answers_409_and_writes_nothing(client, clock, db, front_desk, course):
    session = session_number(course, 3)
    assert front_desk.post(url(session, "cancel"), json={"reason": "flu", "by": "patient"}).status_code == 200
    desk = signed_in_at(client, clock, local(2027, 3, 3, 8, 50))

    with writes_nothing(db):
        answer = desk.post(url(session, "check-in"))

    assert answer.status_code == 409, answer.json
    assert get_session(desk, session)["status"] == "cancelled"


def test_cancelling_a_completed_session_answers_409_and_writes_nothing(client, clock, db, first):
    checked_in(client, clock, first, local(2027, 3, 1, 8, 50))
    technician = signed_in_at(client, clock, local(2027, 3, 1, 10, 0), "technician")
    assert technician.post(url(first, "complete"), json=TREATMENT).status_code == 200

    desk = signed_in_at(client, clock, local(2027, 3, 1, 10, 5))

    with writes_nothing(db):
        answer = desk.post(url(first, "cancel"), json={"reason": "typo", "by": "clinic"})

    assert answer.status_code == 409, answer.json
    assert get_session(technician, first)["status"] == "completed"


def test_marking_a_checked_in_session_a_no_show_answers_409_and_writes_nothing(client, clock, db, first):
    checked_in(client, clock, first, local(2027, 3, 1, 8, 50))
    technician = signed_in_at(client, clock, local(2027, 3, 1, 9, 30), "technician")

    with writes_nothing(db):
        answer = technician.post(url(first, "no-show"))

    assert answer.status_code == 409


def test_lifecycle_changes_of_an_unknown_session_answer_404(front_desk):
    assert front_desk.post(f"{SESSIONS}/999999/check-in").status_code == 404
    assert front_desk.post(f"{SESSIONS}/999999/cancel", json={"reason": "x", "by": "patient"}).status_code == 404


# --- reschedule

def test_rescheduling_moves_the_same_session_to_the_new_time(front_desk, course):
    session = session_number(course, 3)

    answer = front_desk.post(url(session, "reschedule"), json={"starts_at": "2027-03-03T13:00:00-08:00"})

    assert answer.status_code == 200, answer.json
    assert answer.json["id"] == session["id"]
    assert (answer.json["starts_at"], answer.json["ends_at"]) == ("2027-03-03T13:00:00-08:00",
                                                                 "2027-03-03T13:45:00-08:00")
    assert answer.json["status"] == "scheduled"
    again = get_session(front_desk, session)
    assert again["starts_at"] == "2027-03-03T13:00:00-08:00"
    sessions = front_desk.get(f"/api/v1/courses/{course['id']}").json["sessions"]
    assert len(sessions) == 36


def test_rescheduling_past_the_authorizations_end_answers_422_and_writes_nothing(front_desk, db):
    course = book_course(front_desk, create_patient(front_desk)["id"],
                         authorization={"sessions": 36, "valid_to": "2027-04-30"})
    last = max(course["sessions"], key=lambda s: s["starts_at"])

    with writes_nothing(db):
        answer = front_desk.post(url(last, "reschedule"), json={"starts_at": "2027-05-03T09:00:00-07:00"})

    assert answer.status_code == 422, answer.json
    assert "override_reason" in error_fields(answer)


def test_rescheduling_past_the_authorizations_end_with_an_override_moves_it_and_records_the_override(
        front_desk, db):
    from sqlalchemy import select

    from tms_scheduler.db import models

    course = book_course(front_desk, create_patient(front_desk)["id"],
                         authorization={"sessions": 36, "valid_to": "2027-04-30"})
    last = max(course["sessions"], key=lambda s: s["starts_at"])

    answer = front_desk.post(url(last, "reschedule"), json={"starts_at": "2027-05-03T09:00:00-07:00",
                                                            "override_reason": "extension approved by phone"})

    assert answer.status_code == 200, answer.json
    with db() as session:
        reasons = session.scalars(select(models.CourseEvent.reason).where(
            models.CourseEvent.course_id == course["id"], models.CourseEvent.action == "authorization_override")).all()
    assert len(reasons) == 1 and "extension approved by phone" in reasons[0]


def test_rescheduling_records_the_old_and_the_new_time_in_the_history(front_desk, db, course):
    session = session_number(course, 3)

    front_desk.post(url(session, "reschedule"), json={"starts_at": "2027-03-03T13:00:00-08:00",
                                                      "reason": "patient works mornings"})

    history = front_desk.get(url(session, "history"))
    assert history.status_code == 200, history.json
    move = history.json[-1]
    assert move["action"] == "reschedule"
    assert move["from_starts_at"] == "2027-03-03T09:00:00-08:00"
    assert move["to_starts_at"] == "2027-03-03T13:00:00-08:00"
    assert move["from_chair_id"] == session["chair_id"]
    assert move["reason"] == "patient works mornings"
    assert move["user_id"] == user_id_of(db, "front_desk")


def test_rescheduling_onto_a_day_the_patient_already_has_a_session_answers_409_and_writes_nothing(
        front_desk, db, course):
    session = session_number(course, 3)

    with writes_nothing(db):
        answer = front_desk.post(url(session, "reschedule"), json={"starts_at": "2027-03-04T13:00:00-08:00"})

    assert answer.status_code == 409, answer.json
    assert get_session(front_desk, session)["starts_at"] == session["starts_at"]


@pytest.mark.parametrize("starts_at", ["2027-03-03T18:30:00-08:00", "2027-03-03T06:30:00-08:00",
                                       "2027-03-03T14:00:00Z"],
                         ids=["ending after 19:00", "before 07:00", "06:00 local given in UTC"])
def test_rescheduling_outside_opening_hours_answers_422_and_writes_nothing(front_desk, db, course, starts_at):
    session = session_number(course, 3)

    with writes_nothing(db):
        answer = front_desk.post(url(session, "reschedule"), json={"starts_at": starts_at})

    assert answer.status_code == 422, answer.json
    assert "starts_at" in error_fields(answer)
    assert get_session(front_desk, session)["starts_at"] == session["starts_at"]


@pytest.mark.parametrize("starts_at", ["2027-03-06T10:00:00-08:00", "2027-05-31T10:00:00-07:00"],
                         ids=["a Saturday", "Memorial Day"])
def test_rescheduling_onto_a_closed_day_answers_422_and_writes_nothing(front_desk, db, course, starts_at):
    session = session_number(course, 3)

    with writes_nothing(db):
        answer = front_desk.post(url(session, "reschedule"), json={"starts_at": starts_at})

    assert answer.status_code == 422, answer.json
    assert "starts_at" in error_fields(answer)


def test_rescheduling_into_the_past_answers_422_and_writes_nothing(client, clock, db, course):
    session = session_number(course, 3)
    desk = signed_in_at(client, clock, local(2027, 3, 1, 12, 0))

    with writes_nothing(db):
        answer = desk.post(url(session, "reschedule"), json={"starts_at": "2027-02-26T10:00:00-08:00"})

    assert answer.status_code == 422, answer.json
    assert "starts_at" in error_fields(answer)


def test_rescheduling_without_an_offset_answers_422(front_desk, db, course):
    session = session_number(course, 3)

    with writes_nothing(db):
        answer = front_desk.post(url(session, "reschedule"), json={"starts_at": "2027-03-03T13:00:00"})

    assert answer.status_code == 422
    assert "starts_at" in error_fields(answer)


def test_rescheduling_moves_the_session_to_another_chair_when_its_own_is_taken_then(front_desk, course):
    session = session_number(course, 3)
    other = book_course(front_desk, create_patient(front_desk, first_name="Otto")["id"], preferred_time="13:00")
    taken = session_number(other, 3)["chair_id"]
    assert taken == session["chair_id"], "the other course was expected in the same chair at 13:00"

    answer = front_desk.post(url(session, "reschedule"), json={"starts_at": "2027-03-03T13:00:00-08:00"})

    assert answer.status_code == 200, answer.json
    assert answer.json["id"] == session["id"]
    assert answer.json["chair_id"] in chair_ids(front_desk)
    assert answer.json["chair_id"] != taken
    history = front_desk.get(url(session, "history")).json
    assert (history[-1]["from_chair_id"], history[-1]["to_chair_id"]) == (taken, answer.json["chair_id"])


def test_rescheduling_when_every_fitting_chair_is_taken_answers_409_and_writes_nothing(front_desk, db, course):
    session = session_number(course, 3)
    fill_fullerton_figure8_chairs(front_desk, preferred_time="13:00")

    with writes_nothing(db):
        answer = front_desk.post(url(session, "reschedule"), json={"starts_at": "2027-03-03T13:00:00-08:00"})

    assert answer.status_code == 409, answer.json
    assert get_session(front_desk, session)["starts_at"] == session["starts_at"]


def test_rescheduling_a_cancelled_session_answers_409_and_writes_nothing(front_desk, db, course):
    session = session_number(course, 3)
    front_desk.post(url(session, "cancel"), json={"reason": "flu", "by": "patient"})

    with writes_nothing(db):
        answer = front_desk.post(url(session, "reschedule"), json={"starts_at": "2027-03-03T13:00:00-08:00"})

    assert answer.status_code == 409


# --- history

def test_the_history_lists_who_when_from_to_and_why_for_each_change(client, clock, db, course):
    session = session_number(course, 3)
    desk = signed_in_at(client, clock, local(2027, 3, 2, 15, 0))
    moved = desk.post(url(session, "reschedule"), json={"starts_at": "2027-03-03T11:00:00-08:00",
                                                        "reason": "school run"})
    assert moved.status_code == 200, moved.json
    desk = signed_in_at(client, clock, local(2027, 3, 3, 10, 55))
    assert desk.post(url(session, "check-in")).status_code == 200
    technician = signed_in_at(client, clock, local(2027, 3, 3, 12, 0), "technician")
    assert technician.post(url(session, "complete"), json=TREATMENT).status_code == 200
    clinician = signed_in_at(client, clock, local(2027, 3, 3, 12, 5), "clinician")

    answer = clinician.get(url(session, "history"))

    assert answer.status_code == 200, answer.json
    desk_id, technician_id = user_id_of(db, "front_desk"), user_id_of(db, "technician")
    rows = [(e["action"], e["user_id"], e["at"], e["from_status"], e["to_status"]) for e in answer.json]
    assert rows == [
        ("book", desk_id, "2026-12-01T09:00:00-08:00", None, "scheduled"),
        ("reschedule", desk_id, "2027-03-02T15:00:00-08:00", "scheduled", "scheduled"),
        ("check_in", desk_id, "2027-03-03T10:55:00-08:00", "scheduled", "checked_in"),
        ("complete", technician_id, "2027-03-03T12:00:00-08:00", "checked_in", "completed"),
    ]
    move = answer.json[1]
    assert (move["from_starts_at"], move["to_starts_at"], move["reason"]) == (
        "2027-03-03T09:00:00-08:00", "2027-03-03T11:00:00-08:00", "school run")


def test_the_history_of_a_cancelled_session_says_why(front_desk, course):
    session = session_number(course, 4)
    front_desk.post(url(session, "cancel"), json={"reason": "funeral", "by": "patient"})

    history = front_desk.get(url(session, "history")).json

    assert [(e["action"], e["from_status"], e["to_status"], e["reason"]) for e in history] == [
        ("book", None, "scheduled", None), ("cancel", "scheduled", "cancelled", "funeral")]


def test_the_history_of_an_unknown_session_answers_404(front_desk):
    assert front_desk.get(f"{SESSIONS}/999999/history").status_code == 404
