"""Reading courses and sessions back."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import event

from tests.conftest import DEMO_PASSWORDS
from tests.factories import book_course, create_patient, local, session_number, signed_in, user_id_of
from tms_scheduler.services.no_shows import mark_overdue_no_shows
from tms_scheduler.services.runtime import Runtime

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
        assert set(session) >= SESSION_FIELDS


def test_an_unknown_course_is_answered_404(front_desk):
    assert front_desk.get("/api/v1/courses/987654").status_code == 404


def test_a_session_is_answered_by_id_as_in_its_course(front_desk):
    booked = book_course(front_desk)
    third = booked["sessions"][2]

    answer = front_desk.get(f"/api/v1/sessions/{third['id']}")

    assert answer.status_code == 200
    assert answer.json == third
    assert set(answer.json) >= SESSION_FIELDS


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


@contextmanager
def statements(app):
    """The SQL statements the app sends meanwhile."""
    engine, sent = app.extensions["tms"].engine, []

    def record(_connection, _cursor, statement, *_args):
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


# --- the patient's name on every course answer

def test_a_course_answers_its_patients_id_and_name(front_desk):
    patient = create_patient(front_desk, first_name="Iris", last_name="Chen")
    booked = book_course(front_desk, patient["id"])

    answer = front_desk.get(f"/api/v1/courses/{booked['id']}")

    assert answer.json["patient"] == {"id": patient["id"], "name": "Iris Chen"}


def test_a_booked_course_answers_its_patients_name(front_desk):
    patient = create_patient(front_desk, first_name="Iris", last_name="Chen")

    booked = book_course(front_desk, patient["id"])

    assert booked["patient"] == {"id": patient["id"], "name": "Iris Chen"}


def test_a_cancelled_course_answers_its_patients_name(front_desk):
    patient = create_patient(front_desk, first_name="Iris", last_name="Chen")
    booked = book_course(front_desk, patient["id"])

    answer = front_desk.post(f"/api/v1/courses/{booked['id']}/cancel", json={"reason": "moved away"})

    assert answer.status_code == 200, answer.json
    assert answer.json["patient"] == {"id": patient["id"], "name": "Iris Chen"}


def test_each_listed_course_answers_its_patients_name(front_desk):
    at_fullerton, at_laguna = two_courses(front_desk)

    answer = front_desk.get("/api/v1/courses").json

    assert [c["patient"] for c in answer] == [{"id": at_fullerton["patient_id"], "name": "Ana Fuller"},
                                              {"id": at_laguna["patient_id"], "name": "Ana Laguna"}]


def test_the_course_list_reads_the_patients_names_without_a_query_per_course(app, front_desk):
    book_course(front_desk, create_patient(front_desk, last_name="First")["id"])
    front_desk.get("/api/v1/courses")  # the site zones are read once, then kept
    with statements(app) as one_course:
        front_desk.get("/api/v1/courses")
    for name, time in (("Second", "09:00"), ("Third", "11:00")):
        book_course(front_desk, create_patient(front_desk, last_name=name)["id"], preferred_time=time)

    with statements(app) as three_courses:
        answer = front_desk.get("/api/v1/courses")

    assert [c["patient"]["name"] for c in answer.json] == ["Ana First", "Ana Second", "Ana Third"]
    assert len(three_courses) == len(one_course)


# --- finding courses by the patient's name or phone

def test_the_course_list_finds_courses_by_a_prefix_of_the_patients_name_in_any_case(front_desk):
    _, at_laguna = two_courses(front_desk)

    answer = front_desk.get("/api/v1/courses", query_string={"q": "LAG"})

    assert answer.status_code == 200
    assert [c["id"] for c in answer.json] == [at_laguna["id"]]


def test_the_course_list_finds_courses_by_prefixes_of_first_and_last_name(front_desk):
    wanted = book_course(front_desk, create_patient(front_desk, first_name="Iris", last_name="Chen")["id"])
    book_course(front_desk, create_patient(front_desk, first_name="Ivan", last_name="Chen")["id"],
                site_id="laguna-hills", protocol_id="itbs")

    answer = front_desk.get("/api/v1/courses", query_string={"q": "ch iri"})

    assert [c["id"] for c in answer.json] == [wanted["id"]]


def test_the_course_list_finds_courses_by_the_patients_phone_as_typed(front_desk):
    wanted = book_course(front_desk, create_patient(front_desk, last_name="Fuller", phone="(949) 555-0111")["id"])
    book_course(front_desk, create_patient(front_desk, last_name="Laguna", phone="(949) 555-0112")["id"],
                site_id="laguna-hills", protocol_id="itbs")

    answer = front_desk.get("/api/v1/courses", query_string={"q": "949.555.0111"})

    assert [c["id"] for c in answer.json] == [wanted["id"]]


def test_the_course_list_with_a_name_that_matches_nobody_is_empty(front_desk):
    two_courses(front_desk)

    answer = front_desk.get("/api/v1/courses", query_string={"q": "zzyzx"})

    assert answer.status_code == 200
    assert answer.json == []


def test_the_course_list_combines_q_with_the_other_filters(front_desk):
    at_fullerton, _ = two_courses(front_desk)

    answer = front_desk.get("/api/v1/courses", query_string={"q": "ana", "site_id": "fullerton"})

    assert [c["id"] for c in answer.json] == [at_fullerton["id"]]


# --- who changed a session, by name

def test_the_history_answers_each_users_name_beside_the_id(front_desk, db):
    booked = book_course(front_desk)

    answer = front_desk.get(f"/api/v1/sessions/{session_number(booked, 1)['id']}/history")

    assert [(e["user_id"], e["username"]) for e in answer.json] == [
        (user_id_of(db, "front_desk"), DEMO_PASSWORDS["front_desk"][0])]


def test_the_history_answers_no_name_for_the_scheduler(front_desk, db, client, clock):
    booked = book_course(front_desk)
    mark_overdue_no_shows(Runtime(db, lambda: local(2027, 3, 1, 13, 0)), grace=timedelta(minutes=30))
    clock.now = local(2027, 3, 1, 13, 5)

    answer = signed_in(client, "clinician").get(f"/api/v1/sessions/{session_number(booked, 1)['id']}/history")

    assert [(e["action"], e["user_id"], e["username"]) for e in answer.json] == [
        ("book", user_id_of(db, "front_desk"), DEMO_PASSWORDS["front_desk"][0]), ("no_show", None, None)]


def test_the_history_reads_the_users_names_without_a_query_per_change(app, front_desk, as_role):
    booked = book_course(front_desk)
    once, twice = session_number(booked, 5), session_number(booked, 4)
    cancelled = as_role("admin").post(f"/api/v1/sessions/{twice['id']}/cancel",
                                      json={"reason": "flu", "by": "patient"})
    assert cancelled.status_code == 200, cancelled.json
    front_desk.get(f"/api/v1/sessions/{once['id']}/history")  # the site zones are read once, then kept
    with statements(app) as one_change:
        front_desk.get(f"/api/v1/sessions/{once['id']}/history")

    with statements(app) as two_changes:
        answer = front_desk.get(f"/api/v1/sessions/{twice['id']}/history")

    assert [e["username"] for e in answer.json] == [DEMO_PASSWORDS["front_desk"][0], DEMO_PASSWORDS["admin"][0]]
    assert len(two_changes) == len(one_change)
