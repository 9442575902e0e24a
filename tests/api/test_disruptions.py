"""Disruptions after booking: a closure day and a chair out of service, listed and, with replan, moved.

Courses are standard 10 Hz courses from Monday 2027-03-01 in Fullerton; the app clock is at its
default (2026-12-01), before them all.
"""
from __future__ import annotations

from datetime import date, datetime

import pytest

from tests.factories import (
    book_course,
    chair_ids,
    create_patient,
    error_fields,
    session_number,
    writes_nothing,
)

CLOSURES = "/api/v1/sites/fullerton/closures"
HOLDING = ("scheduled", "checked_in", "completed")


def day_of(session: dict) -> date:
    return datetime.fromisoformat(session["starts_at"]).date()


def sessions_of(client, course: dict) -> list[dict]:
    answer = client.get(f"/api/v1/courses/{course['id']}")
    assert answer.status_code == 200, answer.json
    return answer.json["sessions"]


def board(client, day: str) -> list[dict]:
    answer = client.get("/api/v1/sites/fullerton/schedule", query_string={"date": day})
    assert answer.status_code == 200, answer.json
    return [s for chair in answer.json["chairs"] for s in chair["sessions"]]


@pytest.fixture
def two_courses(front_desk) -> list[dict]:
    """Two patients at 09:00, one in each figure-8 chair."""
    return [book_course(front_desk, create_patient(front_desk, first_name=name)["id"])
            for name in ("Ada", "Bea")]


# --- closures

def test_a_closure_lists_the_sessions_booked_that_day_and_moves_nothing(admin, two_courses):
    on_the_day = sorted(session_number(c, 3)["id"] for c in two_courses)

    answer = admin.post(CLOSURES, json={"date": "2027-03-03", "reason": "power outage"})

    assert answer.status_code == 201, answer.json
    assert (answer.json["date"], answer.json["reason"]) == ("2027-03-03", "power outage")
    assert sorted(s["id"] for s in answer.json["affected_sessions"]) == on_the_day
    assert answer.json["moves"] == []
    for course in two_courses:
        assert sessions_of(admin, course) == course["sessions"]


def test_a_closure_is_listed_with_the_sites_closures(admin):
    admin.post(CLOSURES, json={"date": "2027-03-03", "reason": "power outage"})

    answer = admin.get(CLOSURES)

    assert {"date": "2027-03-03", "reason": "power outage"} in answer.json


def test_a_closure_with_replan_moves_every_affected_session_to_a_later_day(admin, two_courses):
    affected = {session_number(c, 3)["id"]: session_number(c, 3) for c in two_courses}

    answer = admin.post(CLOSURES, json={"date": "2027-03-03", "reason": "power outage", "replan": True})

    assert answer.status_code == 201, answer.json
    assert sorted(s["id"] for s in answer.json["affected_sessions"]) == sorted(affected)
    moves = {m["session_id"]: m for m in answer.json["moves"]}
    assert set(affected) <= set(moves)
    for session_id, session in affected.items():
        move = moves[session_id]
        assert move["from_starts_at"] == session["starts_at"]
        assert move["from_chair_id"] == session["chair_id"]
        assert datetime.fromisoformat(move["to_starts_at"]).date() > date(2027, 3, 3)


def test_after_a_replanned_closure_no_session_remains_on_the_closed_day(admin, two_courses):
    admin.post(CLOSURES, json={"date": "2027-03-03", "reason": "power outage", "replan": True})

    assert [s for s in board(admin, "2027-03-03") if s["status"] in HOLDING] == []
    for course in two_courses:
        sessions = [s for s in sessions_of(admin, course) if s["status"] in HOLDING]
        assert len(sessions) == 36
        assert date(2027, 3, 3) not in {day_of(s) for s in sessions}
        assert len({day_of(s) for s in sessions}) == 36, "one session a day"


def test_a_replanned_closure_reports_every_session_that_moved_and_where_to(admin, two_courses):
    before = {s["id"]: s for c in two_courses for s in c["sessions"]}

    answer = admin.post(CLOSURES, json={"date": "2027-03-03", "reason": "power outage", "replan": True})

    after = {s["id"]: s for c in two_courses for s in sessions_of(admin, c)}
    changed = {i for i in before if (before[i]["starts_at"], before[i]["chair_id"]) !=
               (after[i]["starts_at"], after[i]["chair_id"])}
    moves = answer.json["moves"]
    assert {m["session_id"] for m in moves} == changed
    for m in moves:
        assert datetime.fromisoformat(m["to_starts_at"]) == datetime.fromisoformat(after[m["session_id"]]["starts_at"])
        assert m["to_chair_id"] == after[m["session_id"]]["chair_id"]


def test_a_replanned_closure_keeps_the_taper_behind_the_moved_daily_session(admin, two_courses):
    admin.post(CLOSURES, json={"date": "2027-03-03", "reason": "power outage", "replan": True})

    for course in two_courses:
        sessions = [s for s in sessions_of(admin, course) if s["status"] in HOLDING]
        last_daily = max(datetime.fromisoformat(s["starts_at"]) for s in sessions if s["kind"] != "taper")
        first_taper = min(datetime.fromisoformat(s["starts_at"]) for s in sessions if s["kind"] == "taper")
        assert first_taper > last_daily


def test_closing_a_day_twice_answers_409_and_writes_nothing(admin, db):
    admin.post(CLOSURES, json={"date": "2027-03-03", "reason": "power outage"})

    with writes_nothing(db):
        answer = admin.post(CLOSURES, json={"date": "2027-03-03", "reason": "again"})

    assert answer.status_code == 409


def test_a_closure_in_the_past_answers_422_and_writes_nothing(admin, db):
    with writes_nothing(db):
        answer = admin.post(CLOSURES, json={"date": "2026-11-30", "reason": "too late"})

    assert answer.status_code == 422
    assert "date" in error_fields(answer)


def test_only_an_admin_may_close_a_site_403(front_desk, db):
    with writes_nothing(db):
        answer = front_desk.post(CLOSURES, json={"date": "2027-03-03", "reason": "power outage"})

    assert answer.status_code == 403


# --- a chair out of service

@pytest.fixture
def chairs(admin) -> list[int]:
    return chair_ids(admin)


@pytest.fixture
def in_chair_1(front_desk, chairs) -> dict:
    course = book_course(front_desk, create_patient(front_desk, first_name="Cleo")["id"])
    assert {s["chair_id"] for s in course["sessions"]} == {chairs[0]}, "expected the first figure-8 chair"
    return course


def out_of_service(admin, chair_id: int, body: dict):
    return admin.post(f"/api/v1/sites/fullerton/chairs/{chair_id}/out-of-service", json=body)


def test_a_chair_out_of_service_with_replan_moves_its_sessions_from_that_day_into_the_other_chair_same_time(
        admin, chairs, in_chair_1):
    from_day = date(2027, 3, 8)
    hit = [s for s in in_chair_1["sessions"] if day_of(s) >= from_day]

    answer = out_of_service(admin, chairs[0], {"from_date": "2027-03-08", "reason": "coil cracked", "replan": True})

    assert answer.status_code == 200, answer.json
    assert sorted(s["id"] for s in answer.json["affected_sessions"]) == sorted(s["id"] for s in hit)
    moves = {m["session_id"]: m for m in answer.json["moves"]}
    assert set(moves) == {s["id"] for s in hit}
    for s in hit:
        m = moves[s["id"]]
        assert (m["from_chair_id"], m["to_chair_id"]) == (chairs[0], chairs[1])
        assert m["from_starts_at"] == m["to_starts_at"] == s["starts_at"]
    after = {s["id"]: s for s in sessions_of(admin, in_chair_1)}
    for s in in_chair_1["sessions"]:
        expected_chair = chairs[1] if day_of(s) >= from_day else chairs[0]
        assert (after[s["id"]]["chair_id"], after[s["id"]]["starts_at"]) == (expected_chair, s["starts_at"])


def test_a_chair_out_of_service_without_replan_lists_its_sessions_and_moves_nothing(admin, chairs, in_chair_1):
    answer = out_of_service(admin, chairs[0], {"from_date": "2027-04-12", "reason": "service visit"})

    assert answer.status_code == 200, answer.json
    assert sorted(s["id"] for s in answer.json["affected_sessions"]) == sorted(
        s["id"] for s in in_chair_1["sessions"] if day_of(s) >= date(2027, 4, 12))
    assert answer.json["moves"] == []
    assert sessions_of(admin, in_chair_1) == in_chair_1["sessions"]


def test_where_the_other_chair_is_taken_the_session_moves_to_the_nearest_free_time_that_day(
        admin, front_desk, chairs, in_chair_1):
    # Another patient holds the second chair at 09:00 on every day of the course.
    other = book_course(front_desk, create_patient(front_desk, first_name="Dana")["id"])
    assert {s["chair_id"] for s in other["sessions"]} == {chairs[1]}

    answer = out_of_service(admin, chairs[0], {"from_date": "2027-03-08", "reason": "coil cracked", "replan": True})

    assert answer.status_code == 200, answer.json
    for m in answer.json["moves"]:
        start, end = datetime.fromisoformat(m["from_starts_at"]), datetime.fromisoformat(m["to_starts_at"])
        assert m["to_chair_id"] == chairs[1]
        assert end.date() == start.date(), "moved within its own day"
        assert end != start
    for course in (in_chair_1, other):
        sessions = [s for s in sessions_of(admin, course) if s["status"] in HOLDING]
        assert len(sessions) == 36
        assert not [s for s in sessions if s["chair_id"] == chairs[0] and day_of(s) >= date(2027, 3, 8)]
    # No two sessions overlap in one chair.
    slots = sorted((s["chair_id"], datetime.fromisoformat(s["starts_at"]), datetime.fromisoformat(s["ends_at"]))
                   for c in (in_chair_1, other) for s in sessions_of(admin, c) if s["status"] in HOLDING)
    for (chair_a, _, end_a), (chair_b, start_b, _) in zip(slots, slots[1:]):
        assert chair_a != chair_b or end_a <= start_b


def test_new_bookings_no_longer_use_a_chair_from_the_day_it_is_out_of_service(admin, front_desk, chairs):
    answer = out_of_service(admin, chairs[0], {"from_date": "2027-03-08", "reason": "coil cracked"})
    assert answer.status_code == 200, answer.json

    course = book_course(front_desk, create_patient(front_desk, first_name="Eve")["id"], preferred_time="11:00")

    assert [s["number"] for s in course["sessions"] if s["chair_id"] == chairs[0]
            and day_of(s) >= date(2027, 3, 8)] == []
    assert all(s["chair_id"] in chairs for s in course["sessions"])


def test_a_chair_out_of_service_from_a_past_day_answers_422_and_writes_nothing(admin, chairs, db):
    with writes_nothing(db):
        answer = out_of_service(admin, chairs[0], {"from_date": "2026-11-30", "reason": "late"})

    assert answer.status_code == 422
    assert "from_date" in error_fields(answer)


def test_a_chair_of_another_site_answers_404_and_writes_nothing(admin, db):
    laguna = chair_ids(admin, "laguna-hills")[0]

    with writes_nothing(db):
        answer = out_of_service(admin, laguna, {"from_date": "2027-03-08", "reason": "x"})

    assert answer.status_code == 404


def test_only_an_admin_may_take_a_chair_out_of_service_403(front_desk, chairs, db):
    with writes_nothing(db):
        answer = out_of_service(front_desk, chairs[0], {"from_date": "2027-03-08", "reason": "x"})

    assert answer.status_code == 403


def test_a_chair_out_of_service_goes_back_into_service_by_clearing_the_day(admin, front_desk, chairs):
    assert out_of_service(admin, chairs[0], {"from_date": "2027-03-01", "reason": "repair"}).status_code == 200

    answer = admin.patch(f"/api/v1/sites/fullerton/chairs/{chairs[0]}", json={"out_of_service_from": None})

    assert answer.status_code == 200, answer.json
    assert answer.json["out_of_service_from"] is None
    course = book_course(front_desk, create_patient(front_desk)["id"])
    assert {s["chair_id"] for s in course["sessions"]} == {chairs[0]}


def test_patching_a_chair_out_of_service_is_refused_in_favour_of_the_endpoint_that_moves_its_sessions(
        admin, chairs, db):
    with writes_nothing(db):
        answer = admin.patch(f"/api/v1/sites/fullerton/chairs/{chairs[0]}", json={"out_of_service_from": "2027-03-08"})

    assert answer.status_code == 422, answer.json
    assert "out_of_service_from" in error_fields(answer)


def test_deactivating_a_chair_that_still_holds_sessions_ahead_answers_409_and_writes_nothing(
        admin, chairs, in_chair_1, db):
    with writes_nothing(db):
        answer = admin.patch(f"/api/v1/sites/fullerton/chairs/{chairs[0]}", json={"active": False})

    assert answer.status_code == 409, answer.json
    assert "active" in error_fields(answer)


def test_replanning_leaves_a_checked_in_patient_where_they_are(admin, client, clock, chairs, in_chair_1):
    from tests.factories import local, signed_in_at

    first = session_number(in_chair_1, 1)
    technician = signed_in_at(client, clock, local(2027, 3, 1, 8, 55), "technician")
    assert technician.post(f"/api/v1/sessions/{first['id']}/check-in").status_code == 200
    admin_now = signed_in_at(client, clock, local(2027, 3, 1, 8, 56), "admin")

    answer = out_of_service(admin_now, chairs[0], {"from_date": "2027-03-01", "reason": "coil cracked", "replan": True})

    assert answer.status_code == 200, answer.json
    assert first["id"] not in {m["session_id"] for m in answer.json["moves"]}
    assert technician.get(f"/api/v1/sessions/{first['id']}").json["status"] == "checked_in"
