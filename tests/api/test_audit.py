"""The audit trail: every read and change of patient data and every sign-in, who, when, from where,
written with the change; read by administrators; never changed or deleted, the database refusing it."""
from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from tests.factories import book_course, create_patient, local, session_number, signed_in_at

AUDIT = "/api/v1/audit"


def trail(admin, **query) -> list[dict]:
    answer = admin.get(AUDIT, query_string={"limit": 500, **query})
    assert answer.status_code == 200, answer.json
    return answer.json


def rows_about(admin, patient_id: int, action: str | None = None) -> list[tuple[str, str, str, str | None]]:
    """(username, action, entity, entity_id) of the patient's rows, oldest first."""
    found = trail(admin, patient_id=patient_id, **({"action": action} if action else {}))
    return [(r["username"], r["action"], r["entity"], r["entity_id"]) for r in reversed(found)]


def test_registering_and_reading_a_patient_is_in_the_trail_with_who_when_and_from_where(front_desk, admin):
    patient = create_patient(front_desk)
    answer = front_desk.get(f"/api/v1/patients/{patient['id']}", headers={"X-Request-ID": "desk-read-0001"})
    assert answer.status_code == 200

    (created, read) = reversed(trail(admin, patient_id=patient["id"]))

    assert (created["username"], created["role"], created["action"], created["entity"]) == (
        "frontdesk", "front_desk", "create", "patient")
    assert (read["action"], read["entity_id"], read["request_id"]) == ("read", str(patient["id"]), "desk-read-0001")
    assert read["client_ip"] == "127.0.0.1"
    assert read["at"] == "2026-12-01T09:00:00-08:00"  # the app clock, in the clinic's zone


def test_a_search_notes_one_read_per_patient_shown(front_desk, admin):
    shown = [create_patient(front_desk, first_name="Odalys", last_name=name)["id"] for name in ("Ruiz", "Rey")]
    hidden = create_patient(front_desk, first_name="Nadia")["id"]

    assert len(front_desk.get("/api/v1/patients", query_string={"q": "odalys"}).json) == 2

    reads = {r["patient_id"] for r in trail(admin, action="read") if r["entity"] == "patient"}
    assert set(shown) <= reads and hidden not in reads


def test_booking_a_course_is_noted_as_its_creation(front_desk, admin):
    course = book_course(front_desk)

    assert ("frontdesk", "create", "course", str(course["id"])) in rows_about(admin, course["patient_id"])


def test_each_change_of_a_session_is_noted(front_desk, admin):
    course = book_course(front_desk)
    fourth = session_number(course, 4)

    front_desk.post(f"/api/v1/sessions/{fourth['id']}/cancel", json={"reason": "funeral", "by": "patient"})

    rows = rows_about(admin, course["patient_id"])
    assert ("frontdesk", "update", "session", str(fourth["id"])) in rows  # cancelled
    assert any(entity == "session" and action == "create" for _, action, entity, _ in rows)  # its make-up


def test_the_day_board_notes_one_read_per_patient_on_it(front_desk, admin, as_role):
    courses = [book_course(front_desk, preferred_time=at) for at in ("09:00", "11:00")]
    as_role("technician").get("/api/v1/sites/fullerton/schedule", query_string={"date": "2027-03-01"})

    reads = [r for r in trail(admin, user="technician") if r["action"] == "read"]

    assert sorted(r["patient_id"] for r in reads) == sorted(c["patient_id"] for c in courses)


def test_reading_treatment_records_and_scores_is_noted(client, clock, front_desk, admin, as_role):
    course = book_course(front_desk, start_date="2026-12-14")  # a baseline may precede it by 30 days
    first = session_number(course, 1)
    clinician = as_role("clinician")
    clinician.post(f"/api/v1/courses/{course['id']}/assessments",
                   json={"instrument": "PHQ-9", "score": 18, "taken_on": "2026-12-01"})
    clinician.get(f"/api/v1/courses/{course['id']}/assessments")
    clinician.get(f"/api/v1/sessions/{first['id']}/treatment-record")  # 404: not completed, nothing shown

    rows = rows_about(admin, course["patient_id"])

    assert [(action, entity) for user, action, entity, _ in rows if user == "clinician"] == [
        ("create", "assessment"), ("read", "assessment")]


def test_every_sign_in_is_noted_success_or_failure(client, admin):
    client.post("/api/v1/auth/tokens", json={"username": "technician", "password": "wrong-password"})
    client.post("/api/v1/auth/tokens", json={"username": "nobody-here", "password": "wrong-password"})

    failed = [(r["username"], r["role"]) for r in trail(admin, action="sign_in_failed")]
    signed_in = [(r["username"], r["role"]) for r in trail(admin, action="sign_in")]

    assert sorted(failed) == [("nobody-here", "anonymous"), ("technician", "anonymous")]
    assert ("admin", "admin") in signed_in


def test_the_trail_is_filtered_by_user_action_and_days_and_paged(front_desk, admin, client, clock):
    create_patient(front_desk)
    desk_later = signed_in_at(client, clock, local(2026, 12, 3, 10))
    create_patient(desk_later)
    admin_later = signed_in_at(client, clock, local(2026, 12, 3, 10), "admin")

    on_the_3rd = trail(admin_later, **{"from": "2026-12-03", "to": "2026-12-03"}, user="frontdesk",
                       action="create")
    first_page = trail(admin_later, limit=2)

    assert [(r["entity"], r["at"][:10]) for r in on_the_3rd] == [("patient", "2026-12-03")]
    assert len(first_page) == 2 and first_page[0]["at"] >= first_page[1]["at"]


def test_only_an_admin_reads_the_trail(as_role):
    for role in ("front_desk", "technician", "clinician"):
        assert as_role(role).get(AUDIT).status_code == 403


@pytest.mark.parametrize("change", ["UPDATE audit_events SET username = 'someone else'", "DELETE FROM audit_events"])
def test_the_database_itself_refuses_to_change_or_delete_the_trail(front_desk, database_url, change):
    create_patient(front_desk)
    engine = create_engine(database_url)
    try:
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
            connection.execute(text(change))
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT count(*) FROM audit_events")) > 0
    finally:
        engine.dispose()


def test_postgresql_refuses_to_truncate_the_trail(front_desk, database_url, backend):
    if backend != "postgresql":
        pytest.skip("TRUNCATE is PostgreSQL's; SQLite has none")
    create_patient(front_desk)
    engine = create_engine(database_url)
    try:
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
            connection.execute(text("TRUNCATE audit_events"))
    finally:
        engine.dispose()
