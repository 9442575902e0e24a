"""POST /api/v1/courses: booking a whole course, or nothing, and every reason it is refused."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest

from tests.factories import (
    book_course,
    course_body,
    create_patient,
    error_fields,
    fill_fullerton_figure8_chairs,
    writes_nothing,
)

COURSES = "/api/v1/courses"


@pytest.fixture
def patient(front_desk) -> dict:
    return create_patient(front_desk, first_name="Maya", last_name="Brooks")


def local(instant: str) -> datetime:
    return datetime.fromisoformat(instant)


# --- a course that fits

def test_booking_answers_201_with_the_course_and_its_sessions(front_desk, patient):
    answer = front_desk.post(COURSES, json=course_body(patient["id"]))

    assert answer.status_code == 201
    course = answer.json
    assert (course["patient_id"], course["site_id"], course["protocol_id"]) == (
        patient["id"], "fullerton", "tms-10hz-standard")
    assert course["status"] == "active"
    assert isinstance(course["id"], int)


def test_a_standard_course_books_36_sessions_numbered_1_to_36(front_desk, patient):
    course = book_course(front_desk, patient["id"])

    assert [s["number"] for s in course["sessions"]] == list(range(1, 37))
    assert all(s["status"] == "scheduled" and s["course_id"] == course["id"] for s in course["sessions"])


def test_every_session_of_a_course_is_in_the_same_fitting_chair(front_desk, patient):
    figure_8 = {c["id"] for c in front_desk.get("/api/v1/sites/fullerton/chairs").json if c["coil"] == "figure-8"}

    course = book_course(front_desk, patient["id"])

    chairs = {s["chair_id"] for s in course["sessions"]}
    assert len(chairs) == 1
    assert chairs <= figure_8


def test_the_first_session_is_a_60_minute_mapping_session(front_desk, patient):
    first = book_course(front_desk, patient["id"])["sessions"][0]

    assert first["kind"] == "mapping"
    assert local(first["ends_at"]) - local(first["starts_at"]) == timedelta(minutes=60)


def test_the_daily_sessions_after_mapping_are_45_minute_treatments(front_desk, patient):
    sessions = book_course(front_desk, patient["id"])["sessions"]

    daily = sessions[1:30]
    assert {s["kind"] for s in daily} == {"treatment"}
    assert {local(s["ends_at"]) - local(s["starts_at"]) for s in daily} == {timedelta(minutes=45)}


def test_the_last_six_sessions_are_the_taper(front_desk, patient):
    sessions = book_course(front_desk, patient["id"])["sessions"]

    assert [s["kind"] for s in sessions[30:]] == ["taper"] * 6


def test_sessions_fall_on_weekdays_one_a_day(front_desk, patient):
    sessions = book_course(front_desk, patient["id"])["sessions"]

    days = [local(s["starts_at"]).date() for s in sessions]
    assert len(set(days)) == 36
    assert all(d.isoweekday() <= 5 for d in days)
    assert days[0] == date(2027, 3, 1)


def test_sessions_are_answered_in_rfc_3339_with_the_sites_winter_offset(front_desk, patient):
    first = book_course(front_desk, patient["id"], start_date="2027-03-01")["sessions"][0]

    assert first["starts_at"] == "2027-03-01T09:00:00-08:00"


def test_sessions_keep_09_00_local_across_the_spring_daylight_saving_change(front_desk, patient):
    sessions = book_course(front_desk, patient["id"], start_date="2027-03-01")["sessions"]

    before = [s["starts_at"] for s in sessions if s["starts_at"] < "2027-03-14"]
    after = [s["starts_at"] for s in sessions if s["starts_at"] > "2027-03-14"]
    assert before and after
    assert all(t.endswith("T09:00:00-08:00") for t in before)
    assert all(t.endswith("T09:00:00-07:00") for t in after)


def test_a_course_skips_the_holidays_of_the_sites_calendar(front_desk, patient):
    # Memorial Day, 31 May 2027, falls in a course that starts on 3 May.
    sessions = book_course(front_desk, patient["id"], start_date="2027-05-03")["sessions"]

    assert not any(s["starts_at"].startswith("2027-05-31") for s in sessions)


def test_a_course_skips_the_sites_own_closure_days(admin, front_desk, patient):
    admin.post("/api/v1/sites/fullerton/closures", json={"date": "2027-03-03", "reason": "Inspection"})

    sessions = book_course(front_desk, patient["id"], start_date="2027-03-01")["sessions"]

    assert not any(s["starts_at"].startswith("2027-03-03") for s in sessions)
    assert len(sessions) == 36


def test_deep_tms_is_booked_in_fullertons_h1_chair(front_desk, patient):
    h1 = next(c["id"] for c in front_desk.get("/api/v1/sites/fullerton/chairs").json if c["coil"] == "h1")

    course = book_course(front_desk, patient["id"], protocol_id="deep-tms-h1")

    assert len(course["sessions"]) == 36
    assert {s["chair_id"] for s in course["sessions"]} == {h1}


def test_an_admin_may_book_a_course(admin, patient):
    assert admin.post(COURSES, json=course_body(patient["id"])).status_code == 201


def test_a_session_may_end_exactly_at_closing_time(front_desk, patient):
    # A 60-minute mapping at 18:00 ends at 19:00, when Fullerton closes.
    answer = front_desk.post(COURSES, json=course_body(patient["id"], preferred_time="18:00"))

    assert answer.status_code == 201


# --- refusals that leave everything as it was

def test_a_second_active_course_for_the_patient_is_answered_409(front_desk, patient, db):
    book_course(front_desk, patient["id"])

    with writes_nothing(db):
        answer = front_desk.post(COURSES, json=course_body(patient["id"], site_id="laguna-hills"))

    assert answer.status_code == 409
    assert "patient_id" in error_fields(answer)


def test_a_third_course_at_a_full_time_is_answered_409_with_conflicts_and_alternatives(front_desk, patient, db):
    fill_fullerton_figure8_chairs(front_desk, "09:00")

    with writes_nothing(db):
        answer = front_desk.post(COURSES, json=course_body(patient["id"], preferred_time="09:00"))

    assert answer.status_code == 409
    assert answer.json["conflicts"]
    assert answer.json["alternatives"]


def test_the_conflicts_name_each_clashing_day_with_a_reason(front_desk, patient):
    filler = fill_fullerton_figure8_chairs(front_desk, "09:00")[0]
    booked_days = {s["starts_at"][:10] for s in filler["sessions"]}

    answer = front_desk.post(COURSES, json=course_body(patient["id"], preferred_time="09:00"))

    conflicts = answer.json["conflicts"]
    assert all({"date", "reason"} <= set(c) and c["reason"] for c in conflicts)
    assert {c["date"] for c in conflicts} == booked_days


def test_the_alternatives_are_hh_mm_times_other_than_the_full_one(front_desk, patient):
    fill_fullerton_figure8_chairs(front_desk, "09:00")

    refused = front_desk.post(COURSES, json=course_body(patient["id"], preferred_time="09:00"))
    alternatives = refused.json["alternatives"]

    assert "09:00" not in alternatives
    assert all(len(t) == 5 and t[2] == ":" and datetime.strptime(t, "%H:%M") for t in alternatives)
    # 08:30 would overlap the others' 09:00 mapping hour in both chairs.
    assert "08:30" not in alternatives


def test_booking_at_an_offered_alternative_succeeds(front_desk, patient):
    fill_fullerton_figure8_chairs(front_desk, "09:00")
    refused = front_desk.post(COURSES, json=course_body(patient["id"], preferred_time="09:00"))
    alternatives = refused.json["alternatives"]

    answer = front_desk.post(COURSES, json=course_body(patient["id"], preferred_time=alternatives[0]))

    assert answer.status_code == 201
    assert len(answer.json["sessions"]) == 36


def test_a_site_without_tms_is_answered_422(front_desk, patient, db):
    with writes_nothing(db):
        answer = front_desk.post(COURSES, json=course_body(patient["id"], site_id="beverly-hills"))

    assert answer.status_code == 422
    assert "site_id" in error_fields(answer)


def test_a_protocol_whose_coil_no_chair_at_the_site_has_is_answered_422(front_desk, patient, db):
    with writes_nothing(db):
        answer = front_desk.post(COURSES, json=course_body(patient["id"], site_id="laguna-hills",
                                                           protocol_id="deep-tms-h1"))

    assert answer.status_code == 422
    assert "protocol_id" in error_fields(answer)


def test_a_protocol_whose_only_chair_is_out_of_service_is_answered_422(admin, front_desk, patient, db):
    h1 = next(c["id"] for c in admin.get("/api/v1/sites/fullerton/chairs").json if c["coil"] == "h1")
    admin.patch(f"/api/v1/sites/fullerton/chairs/{h1}", json={"active": False})

    with writes_nothing(db):
        answer = front_desk.post(COURSES, json=course_body(patient["id"], protocol_id="deep-tms-h1"))

    assert answer.status_code == 422
    assert "protocol_id" in error_fields(answer)


def test_a_start_date_in_the_past_is_answered_422(front_desk, patient, db):
    with writes_nothing(db):
        answer = front_desk.post(COURSES, json=course_body(patient["id"], start_date="2026-11-30"))

    assert answer.status_code == 422
    assert "start_date" in error_fields(answer)


def test_a_start_earlier_today_than_now_is_answered_422(front_desk, patient, db):
    # The clock stands at 09:00 in Fullerton on 1 December 2026.
    with writes_nothing(db):
        answer = front_desk.post(COURSES, json=course_body(patient["id"], start_date="2026-12-01",
                                                           preferred_time="08:00"))

    assert answer.status_code == 422
    assert "preferred_time" in error_fields(answer)


def test_a_start_later_today_is_booked(front_desk, patient):
    answer = front_desk.post(COURSES, json=course_body(patient["id"], start_date="2026-12-01",
                                                       preferred_time="11:00"))

    assert answer.status_code == 201


def test_a_start_on_a_saturday_is_answered_422(front_desk, patient, db):
    with writes_nothing(db):
        answer = front_desk.post(COURSES, json=course_body(patient["id"], start_date="2027-03-06"))

    assert answer.status_code == 422
    assert "start_date" in error_fields(answer)


def test_a_start_on_a_holiday_is_answered_422(front_desk, patient, db):
    # Christmas Day 2026 is a Friday.
    with writes_nothing(db):
        answer = front_desk.post(COURSES, json=course_body(patient["id"], start_date="2026-12-25"))

    assert answer.status_code == 422
    assert "start_date" in error_fields(answer)


def test_a_start_on_a_sites_closure_day_is_answered_422(admin, front_desk, patient, db):
    admin.post("/api/v1/sites/fullerton/closures", json={"date": "2027-03-01", "reason": "Inspection"})

    with writes_nothing(db):
        answer = front_desk.post(COURSES, json=course_body(patient["id"], start_date="2027-03-01"))

    assert answer.status_code == 422
    assert "start_date" in error_fields(answer)


def test_a_mapping_hour_running_past_closing_time_is_answered_422(front_desk, patient, db):
    with writes_nothing(db):
        answer = front_desk.post(COURSES, json=course_body(patient["id"], preferred_time="18:30"))

    assert answer.status_code == 422
    assert "preferred_time" in error_fields(answer)


def test_a_time_before_opening_is_answered_422(front_desk, patient, db):
    with writes_nothing(db):
        answer = front_desk.post(COURSES, json=course_body(patient["id"], preferred_time="06:00"))

    assert answer.status_code == 422
    assert "preferred_time" in error_fields(answer)


def test_an_unknown_patient_is_answered_404_naming_patient_id(front_desk, db):
    with writes_nothing(db):
        answer = front_desk.post(COURSES, json=course_body(987654))

    assert answer.status_code == 404
    assert "patient_id" in error_fields(answer)


def test_an_unknown_site_is_answered_404_naming_site_id(front_desk, patient, db):
    with writes_nothing(db):
        answer = front_desk.post(COURSES, json=course_body(patient["id"], site_id="atlantis"))

    assert answer.status_code == 404
    assert "site_id" in error_fields(answer)


def test_an_unknown_protocol_is_answered_404_naming_protocol_id(front_desk, patient, db):
    with writes_nothing(db):
        answer = front_desk.post(COURSES, json=course_body(patient["id"], protocol_id="magnets-deluxe"))

    assert answer.status_code == 404
    assert "protocol_id" in error_fields(answer)


def test_a_patient_id_given_as_a_string_is_answered_422(front_desk, patient, db):
    with writes_nothing(db):
        answer = front_desk.post(COURSES, json=course_body(str(patient["id"])))

    assert answer.status_code == 422
    assert "patient_id" in error_fields(answer)


def test_a_preferred_time_not_in_hh_mm_is_answered_422(front_desk, patient, db):
    with writes_nothing(db):
        answer = front_desk.post(COURSES, json=course_body(patient["id"], preferred_time="9am"))

    assert answer.status_code == 422
    assert "preferred_time" in error_fields(answer)


def test_a_body_without_the_required_fields_is_answered_422_naming_them(front_desk, db):
    with writes_nothing(db):
        answer = front_desk.post(COURSES, json={})

    assert answer.status_code == 422
    assert {"patient_id", "site_id", "protocol_id", "start_date", "preferred_time"} <= error_fields(answer)


def test_an_unknown_field_in_the_body_is_answered_422(front_desk, patient, db):
    with writes_nothing(db):
        answer = front_desk.post(COURSES, json=course_body(patient["id"], chair_id=1))

    assert answer.status_code == 422
    assert "chair_id" in error_fields(answer)


def test_an_unreadable_json_body_is_answered_400(front_desk, db):
    with writes_nothing(db):
        answer = front_desk.post(COURSES, data='{"patient_id": 1,', content_type="application/json")

    assert answer.status_code == 400


def test_a_body_that_is_not_json_is_answered_415(front_desk, db):
    with writes_nothing(db):
        answer = front_desk.post(COURSES, data="patient_id=1&site_id=fullerton", content_type="text/plain")

    assert answer.status_code == 415
    assert answer.json["code"] == 415 and answer.json["message"]


def test_a_body_over_1_mib_is_answered_413(front_desk, patient, db):
    body = json.dumps({**course_body(patient["id"]), "padding": "x" * (1024 * 1024)})

    with writes_nothing(db):
        answer = front_desk.post(COURSES, data=body, content_type="application/json")

    assert answer.status_code == 413


def test_a_technician_may_not_book_a_course(as_role, front_desk, patient, db):
    technician = as_role("technician")

    with writes_nothing(db):
        answer = technician.post(COURSES, json=course_body(patient["id"]))

    assert answer.status_code == 403


# --- insurance authorization

def authorization(**overrides) -> dict:
    body = {"payer": "Blue Shield", "number": "AUTH-1", "sessions": 36,
            "valid_from": "2027-03-01", "valid_to": "2027-06-30"}
    return {**body, **overrides}


def test_an_authorization_covering_the_course_is_booked_and_kept(front_desk, patient):
    course = book_course(front_desk, patient["id"], authorization=authorization())

    again = front_desk.get(f"{COURSES}/{course['id']}").json
    assert again["authorization"]["payer"] == "Blue Shield"
    assert again["authorization"]["number"] == "AUTH-1"
    assert again["authorization"]["sessions"] == 36
    assert (again["authorization"]["valid_from"], again["authorization"]["valid_to"]) == ("2027-03-01", "2027-06-30")


def test_fewer_authorized_sessions_than_the_course_has_is_answered_422(front_desk, patient, db):
    with writes_nothing(db):
        answer = front_desk.post(COURSES, json=course_body(patient["id"], authorization=authorization(sessions=30)))

    assert answer.status_code == 422
    assert any(name.startswith("authorization") for name in error_fields(answer))


def test_fewer_authorized_sessions_with_an_override_reason_is_booked(front_desk, patient):
    answer = front_desk.post(COURSES, json=course_body(
        patient["id"], authorization=authorization(sessions=30, override_reason="Extension requested 2027-02-20")))

    assert answer.status_code == 201
    assert len(answer.json["sessions"]) == 36


def test_an_override_is_recorded_on_the_course(front_desk, patient):
    course = book_course(front_desk, patient["id"], authorization=authorization(
        sessions=30, override_reason="Extension requested 2027-02-20"))

    recorded = front_desk.get(f"{COURSES}/{course['id']}").json["authorization"]
    assert recorded["override_reason"] == "Extension requested 2027-02-20"
    assert recorded["sessions"] == 30


def test_an_authorization_starting_after_the_first_session_is_answered_422(front_desk, patient, db):
    with writes_nothing(db):
        answer = front_desk.post(COURSES, json=course_body(patient["id"],
                                                           authorization=authorization(valid_from="2027-03-02")))

    assert answer.status_code == 422
    assert any(name.startswith("authorization") for name in error_fields(answer))


def test_an_authorization_ending_before_the_last_session_is_answered_422(front_desk, patient, db):
    with writes_nothing(db):
        answer = front_desk.post(COURSES, json=course_body(patient["id"],
                                                           authorization=authorization(valid_to="2027-04-09")))

    assert answer.status_code == 422
    assert any(name.startswith("authorization") for name in error_fields(answer))


def test_an_authorization_with_an_unknown_field_is_answered_422(front_desk, patient, db):
    with writes_nothing(db):
        answer = front_desk.post(COURSES, json=course_body(patient["id"], authorization=authorization(copay=20)))

    assert answer.status_code == 422
