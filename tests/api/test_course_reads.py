"""Reading courses and sessions back."""
from __future__ import annotations

from tests.factories import book_course, create_patient

SESSION_FIELDS = {"id", "course_id", "number", "kind", "status", "site_id", "chair_id", "starts_at", "ends_at"}


def test_a_course_is_answered_by_id_with_all_its_sessions(front_desk):
    booked = book_course(front_desk)

    answer = front_desk.get(f"/api/v1/courses/{booked['id']}")

    assert answer.status_code == 200
    assert {"id", "patient_id", "site_id", "protocol_id", "status", "sessions"} <= set(answer.json)
    assert answer.json["sessions"] == booked["sessions"]


def test_each_session_of_a_course_has_the_fields_of_get_session(front_desk):
    booked = book_course(front_desk)

    for session in front_desk.get(f"/api/v1/courses/{booked['id']}").json["sessions"]:
        assert SESSION_FIELDS <= set(session)


def test_an_unknown_course_is_answered_404(front_desk):
    assert front_desk.get("/api/v1/courses/987654").status_code == 404


def test_a_session_is_answered_by_id_as_in_its_course(front_desk):
    booked = book_course(front_desk)
    third = booked["sessions"][2]

    answer = front_desk.get(f"/api/v1/sessions/{third['id']}")

    assert answer.status_code == 200
    assert answer.json == third
    assert SESSION_FIELDS <= set(answer.json)


def test_a_session_is_answered_with_its_site_and_local_times(front_desk):
    booked = book_course(front_desk, start_date="2027-03-01", preferred_time="10:15")

    answer = front_desk.get(f"/api/v1/sessions/{booked['sessions'][0]['id']}").json

    assert answer["site_id"] == "fullerton"
    assert (answer["starts_at"], answer["ends_at"]) == ("2027-03-01T10:15:00-08:00", "2027-03-01T11:15:00-08:00")


def test_an_unknown_session_is_answered_404(front_desk):
    assert front_desk.get("/api/v1/sessions/987654").status_code == 404


def test_every_role_may_read_a_course_and_a_session(front_desk, as_role):
    booked = book_course(front_desk)
    for role in ("technician", "clinician", "admin"):
        assert as_role(role).get(f"/api/v1/courses/{booked['id']}").status_code == 200, role
        assert as_role(role).get(f"/api/v1/sessions/{booked['sessions'][0]['id']}").status_code == 200, role


def two_courses(front_desk) -> tuple[dict, dict]:
    at_fullerton = book_course(front_desk, create_patient(front_desk, last_name="Fuller")["id"])
    at_laguna = book_course(front_desk, create_patient(front_desk, last_name="Laguna")["id"], site_id="laguna-hills",
                            protocol_id="itbs")
    return at_fullerton, at_laguna


def test_the_course_list_filters_by_patient(front_desk):
    at_fullerton, at_laguna = two_courses(front_desk)

    answer = front_desk.get("/api/v1/courses", query_string={"patient_id": at_laguna["patient_id"]})

    assert answer.status_code == 200
    assert [c["id"] for c in answer.json] == [at_laguna["id"]]


def test_the_course_list_filters_by_site(front_desk):
    at_fullerton, at_laguna = two_courses(front_desk)

    answer = front_desk.get("/api/v1/courses", query_string={"site_id": "fullerton"})

    assert [c["id"] for c in answer.json] == [at_fullerton["id"]]


def test_the_course_list_filters_by_status(front_desk):
    two_courses(front_desk)

    active = front_desk.get("/api/v1/courses", query_string={"status": "active"}).json
    cancelled = front_desk.get("/api/v1/courses", query_string={"status": "cancelled"}).json

    assert len(active) == 2
    assert cancelled == []


def test_the_course_list_combines_filters(front_desk):
    at_fullerton, _ = two_courses(front_desk)

    answer = front_desk.get("/api/v1/courses", query_string={"patient_id": at_fullerton["patient_id"],
                                                             "site_id": "laguna-hills"})

    assert answer.json == []


def test_the_course_list_answers_each_course_with_its_sessions(front_desk):
    at_fullerton, at_laguna = two_courses(front_desk)

    answer = front_desk.get("/api/v1/courses").json

    assert [len(c["sessions"]) for c in answer] == [36, 30]
    assert answer[0]["sessions"] == at_fullerton["sessions"]


def test_the_course_list_with_an_unknown_status_is_answered_422(front_desk):
    answer = front_desk.get("/api/v1/courses", query_string={"status": "paused"})

    assert answer.status_code == 422

