"""Treatment protocols: the demo's four and new ones from an admin."""
from __future__ import annotations

from tests.factories import error_fields, writes_nothing

CADENCE_FIELDS = {"phases", "mapping_minutes", "session_minutes", "sessions_per_day", "min_gap_minutes"}


def new_protocol(**overrides) -> dict:
    body = {"id": "itbs-extended", "name": "iTBS, 36 sessions", "coil": "figure-8",
            "phases": [{"sessions": 30, "days_per_week": 5}, {"sessions": 6, "days_per_week": 2}],
            "mapping_minutes": 60, "session_minutes": 15}
    return {**body, **overrides}


def test_the_protocol_list_answers_the_four_demo_protocols(front_desk):
    answer = front_desk.get("/api/v1/protocols")

    assert answer.status_code == 200
    assert sorted(p["id"] for p in answer.json) == ["accelerated-itbs", "deep-tms-h1", "itbs", "tms-10hz-standard"]


def test_every_protocol_answers_its_coil_total_and_cadence(front_desk):
    for protocol in front_desk.get("/api/v1/protocols").json:
        assert {"id", "name", "coil", "total_sessions"} | CADENCE_FIELDS <= set(protocol), protocol["id"]


def test_the_standard_protocol_has_36_sessions_30_daily_then_a_3_2_1_taper(front_desk):
    standard = next(p for p in front_desk.get("/api/v1/protocols").json if p["id"] == "tms-10hz-standard")

    assert standard["total_sessions"] == 36
    assert standard["coil"] == "figure-8"
    assert [(p["sessions"], p["days_per_week"]) for p in standard["phases"]] == [(30, 5), (3, 3), (2, 2), (1, 1)]
    assert (standard["mapping_minutes"], standard["session_minutes"]) == (60, 45)


def test_the_accelerated_protocol_gives_ten_sessions_a_day_50_minutes_apart(front_desk):
    accelerated = next(p for p in front_desk.get("/api/v1/protocols").json if p["id"] == "accelerated-itbs")

    assert accelerated["total_sessions"] == 50
    assert (accelerated["sessions_per_day"], accelerated["min_gap_minutes"]) == (10, 50)


def test_deep_tms_needs_the_h1_coil(front_desk):
    deep = next(p for p in front_desk.get("/api/v1/protocols").json if p["id"] == "deep-tms-h1")

    assert deep["coil"] == "h1"
    assert deep["total_sessions"] == 36


def test_an_admin_adds_a_protocol_and_its_total_is_counted(admin):
    answer = admin.post("/api/v1/protocols", json=new_protocol())

    assert answer.status_code == 201
    assert answer.json["total_sessions"] == 36
    assert answer.json["sessions_per_day"] == 1
    assert "itbs-extended" in {p["id"] for p in admin.get("/api/v1/protocols").json}


def test_a_protocol_with_several_sessions_a_day_and_a_taper_is_answered_422(admin, db):
    with writes_nothing(db):
        answer = admin.post("/api/v1/protocols", json=new_protocol(sessions_per_day=3))

    assert answer.status_code == 422
    assert "sessions_per_day" in error_fields(answer)


def test_a_protocol_with_eight_days_a_week_is_answered_422(admin, db):
    body = new_protocol(phases=[{"sessions": 30, "days_per_week": 8}])

    with writes_nothing(db):
        answer = admin.post("/api/v1/protocols", json=body)

    assert answer.status_code == 422
    assert "phases" in error_fields(answer)


def test_a_protocol_without_phases_is_answered_422(admin, db):
    with writes_nothing(db):
        answer = admin.post("/api/v1/protocols", json=new_protocol(phases=[]))

    assert answer.status_code == 422
    assert "phases" in error_fields(answer)


def test_a_protocol_for_an_unknown_coil_is_answered_422(admin, db):
    with writes_nothing(db):
        answer = admin.post("/api/v1/protocols", json=new_protocol(coil="h7"))

    assert answer.status_code == 422
    assert "coil" in error_fields(answer)


def test_a_protocol_with_a_taken_id_is_answered_409(admin, db):
    with writes_nothing(db):
        answer = admin.post("/api/v1/protocols", json=new_protocol(id="itbs"))

    assert answer.status_code == 409


def test_a_protocol_giving_its_own_total_is_answered_422(admin, db):
    with writes_nothing(db):
        answer = admin.post("/api/v1/protocols", json=new_protocol(total_sessions=99))

    assert answer.status_code == 422
    assert "total_sessions" in error_fields(answer)


def test_only_an_admin_may_add_a_protocol(as_role, db):
    clinician = as_role("clinician")

    with writes_nothing(db):
        answer = clinician.post("/api/v1/protocols", json=new_protocol())

    assert answer.status_code == 403
