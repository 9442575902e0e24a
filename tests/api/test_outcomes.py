"""Outcomes beyond the single course: GET /api/v1/outcomes over courses completed in a period.

The cohort: courses of two made-up short protocols (`short-3`, three daily sessions; `short-2`, two),
booked from Monday 2027-03-01, every session given through the API (check-in, then completion by the
technician) and PHQ-9 scores recorded through the API by the clinician on 2027-03-20.

| course | site, protocol, time | PHQ-9 (baseline, final) | completed |
|---|---|---|---|
| A | Fullerton short-3 09:00 | 20, 4: response and remission | Wed 03-03 |
| B | Fullerton short-3 09:00 | 20, 10: response (-50% exactly) | Wed 03-03 |
| C | Fullerton short-3 11:00 | 20, 15: neither | Wed 03-03 |
| D | Fullerton short-3 11:00 | 18 only: left out, named | Wed 03-03 |
| E | Fullerton short-3 17:00 | none: left out, named | Wed 03-03 17:30 local (03-04 in UTC) |
| F | Fullerton short-3 13:00 | 10, 3: response and remission | Thu 03-04: session 2 missed, made up |
| G | Fullerton short-2 15:00 | 20, 4: response and remission | Tue 03-02 |
| H | Laguna Hills short-3 09:00 | 20, 9: response | Wed 03-03 |
| I | Fullerton short-3 13:00 | 20 | never: one session given, still active |
| J | Fullerton short-3 09:00 from 03-15 | none | Wed 03-17 |
"""
from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import event, select

from tests.api.test_progress import give
from tests.api.test_progress import miss as no_show
from tests.conftest import DEMO_PASSWORDS
from tests.factories import book_course, create_patient, error_fields, local, signed_in_at, writes_nothing
from tms_scheduler.db.models import AuditEvent

OUTCOMES = "/api/v1/outcomes"
SESSIONS = "/api/v1/sessions"
MARCH = {"from": "2027-03-01", "to": "2027-03-10"}


def make_protocol(admin, protocol_id: str, sessions: int) -> None:
    answer = admin.post("/api/v1/protocols", json={
        "id": protocol_id, "name": f"Short course of {sessions}", "coil": "figure-8",
        "phases": [{"sessions": sessions, "days_per_week": 5}], "mapping_minutes": 60, "session_minutes": 30})
    assert answer.status_code == 201, answer.json


def miss(client, clock, session: dict) -> dict:
    """A no-show (tests/api/test_progress.py's), answering the make-up booked for it."""
    makeup = no_show(client, clock, session)["makeup_session"]
    assert makeup is not None
    return makeup


def in_time_order(sessions: list[dict]) -> list[dict]:
    return sorted(sessions, key=lambda s: datetime.fromisoformat(s["starts_at"]))


@pytest.fixture
def cohort(client, clock, admin, front_desk) -> dict[str, dict]:
    """The courses of the table above, by letter, as booked (with `patient_id`)."""
    make_protocol(admin, "short-3", 3)
    make_protocol(admin, "short-2", 2)
    plan = {  # letter: (site, protocol, start date, time)
        "A": ("fullerton", "short-3", "2027-03-01", "09:00"), "B": ("fullerton", "short-3", "2027-03-01", "09:00"),
        "C": ("fullerton", "short-3", "2027-03-01", "11:00"), "D": ("fullerton", "short-3", "2027-03-01", "11:00"),
        "E": ("fullerton", "short-3", "2027-03-01", "17:00"), "F": ("fullerton", "short-3", "2027-03-01", "13:00"),
        "G": ("fullerton", "short-2", "2027-03-01", "15:00"), "H": ("laguna-hills", "short-3", "2027-03-01", "09:00"),
        "I": ("fullerton", "short-3", "2027-03-01", "13:00"), "J": ("fullerton", "short-3", "2027-03-15", "09:00"),
    }
    courses = {}
    for letter, (site_id, protocol_id, start_date, at) in plan.items():
        patient = create_patient(front_desk, first_name=f"Patient{letter}", last_name="Cohort")
        courses[letter] = book_course(front_desk, patient["id"], site_id=site_id, protocol_id=protocol_id,
                                      start_date=start_date, preferred_time=at)

    f_missed = next(s for s in courses["F"]["sessions"] if s["number"] == 2)
    i_given = next(s for s in courses["I"]["sessions"] if s["number"] == 1)
    first_weeks = [s for letter in "ABCDEFGH" for s in courses[letter]["sessions"] if s["id"] != f_missed["id"]]
    for session in in_time_order(first_weeks + [f_missed, i_given]):
        if session["id"] == f_missed["id"]:
            makeup = miss(client, clock, session)
        else:
            give(client, clock, session)
    give(client, clock, makeup)
    for session in in_time_order(courses["J"]["sessions"]):
        give(client, clock, session)

    clinician = signed_in_at(client, clock, local(2027, 3, 20, 10, 0), "clinician")
    scores = {"A": (20, 4), "B": (20, 10), "C": (20, 15), "D": (18,), "F": (10, 3), "G": (20, 4), "H": (20, 9),
              "I": (20,)}
    for letter, values in scores.items():
        for value, taken_on in zip(values, ("2027-02-26", "2027-03-03")):
            answer = clinician.post(f"/api/v1/courses/{courses[letter]['id']}/assessments",
                                    json={"instrument": "PHQ-9", "score": value, "taken_on": taken_on})
            assert answer.status_code == 201, answer.json
    for letter in "ABCDEFGHJ":
        assert clinician.get(f"/api/v1/courses/{courses[letter]['id']}").json["status"] == "completed", letter
    assert clinician.get(f"/api/v1/courses/{courses['I']['id']}").json["status"] == "active"
    return courses


def outcomes(client, clock, role: str = "clinician", **query):
    caller = signed_in_at(client, clock, local(2027, 3, 20, 12, 0), role)
    return caller.get(OUTCOMES, query_string=query)


def groups_of(answer) -> dict[tuple[str, str], dict]:
    assert answer.status_code == 200, answer.json
    return {(g["site_id"], g["protocol_id"]): g for g in answer.json["groups"]}


def share(body: dict) -> tuple:
    return body["count"], body["n"], body["pct"], body["low_pct"], body["high_pct"]


# --- the numbers

def test_response_remission_attendance_and_makeups_per_site_and_protocol(client, clock, cohort):
    answer = outcomes(client, clock, **MARCH)
    groups = groups_of(answer)

    assert (answer.json["from"], answer.json["to"]) == ("2027-03-01", "2027-03-10")
    assert list(groups) == [("fullerton", "short-2"), ("fullerton", "short-3"), ("laguna-hills", "short-3")]
    fullerton = groups["fullerton", "short-3"]
    assert (fullerton["site_name"], fullerton["protocol_name"]) == ("Oak Health Center Fullerton", "Short course of 3")
    # A, B, C, D, E, F completed; A, B, C, F scored; A, B, F responded; A, F remitted.
    assert (fullerton["courses"], fullerton["scored"]) == (6, 4)
    assert share(fullerton["response"]) == (3, 4, 75.0, 30.1, 95.4)
    assert share(fullerton["remission"]) == (2, 4, 50.0, 15.0, 85.0)
    # 6 courses x 3 sessions, all given; F's missed session made up once.
    assert (fullerton["prescribed"], fullerton["delivered"], fullerton["makeups"]) == (18, 18, 1)
    assert fullerton["attendance_rate"] == 1.0
    assert fullerton["makeup_rate"] == 0.056
    assert share(groups["fullerton", "short-2"]["response"]) == (1, 1, 100.0, 20.7, 100.0)
    assert share(groups["fullerton", "short-2"]["remission"]) == (1, 1, 100.0, 20.7, 100.0)
    laguna = groups["laguna-hills", "short-3"]
    assert (laguna["courses"], share(laguna["response"]), share(laguna["remission"])) == (
        1, (1, 1, 100.0, 20.7, 100.0), (0, 1, 0.0, 0.0, 79.3))


def test_the_published_figures_stand_beside_each_share(client, clock, cohort):
    fullerton = groups_of(outcomes(client, clock, **MARCH))["fullerton", "short-3"]

    assert fullerton["response"]["published"] == {"low_pct": 50.0, "high_pct": 60.0, "words": "about 50-60% respond"}
    assert fullerton["remission"]["published"]["words"] == "about a third remit"


def test_courses_without_a_baseline_and_a_final_score_are_counted_and_named(client, clock, cohort):
    fullerton = groups_of(outcomes(client, clock, **MARCH))["fullerton", "short-3"]

    assert fullerton["unscored"] == [
        {"course_id": cohort[letter]["id"], "patient_id": cohort[letter]["patient_id"],
         "patient_name": f"Patient{letter} Cohort", "scores": scores}
        for letter, scores in (("D", 1), ("E", 0))]
    assert all(not g["unscored"] for key, g in groups_of(outcomes(client, clock, **MARCH)).items()
               if key != ("fullerton", "short-3"))


# --- filters

def test_a_site_filter_answers_that_sites_groups_only(client, clock, cohort):
    assert list(groups_of(outcomes(client, clock, site_id="laguna-hills", **MARCH))) == [
        ("laguna-hills", "short-3")]


def test_a_protocol_filter_answers_that_protocols_groups_only(client, clock, cohort):
    groups = groups_of(outcomes(client, clock, protocol_id="short-3", **MARCH))

    assert list(groups) == [("fullerton", "short-3"), ("laguna-hills", "short-3")]
    assert groups_of(outcomes(client, clock, protocol_id="short-2", site_id="laguna-hills", **MARCH)) == {}


def test_the_period_is_the_sites_local_dates_of_completion(client, clock, cohort):
    # E's last session was completed at 17:30 on Wednesday 03-03 in Fullerton: 01:30 on 03-04 in UTC.
    wednesday = groups_of(outcomes(client, clock, **{"from": "2027-03-03", "to": "2027-03-03"}))
    thursday = groups_of(outcomes(client, clock, **{"from": "2027-03-04", "to": "2027-03-04"}))

    assert wednesday["fullerton", "short-3"]["courses"] == 5  # A, B, C, D, E
    assert cohort["E"]["id"] in {u["course_id"] for u in wednesday["fullerton", "short-3"]["unscored"]}
    assert list(thursday) == [("fullerton", "short-3")]
    assert thursday["fullerton", "short-3"]["courses"] == 1  # F, made up on Thursday
    assert thursday["fullerton", "short-3"]["makeups"] == 1


def test_a_course_completed_after_the_period_or_still_active_is_not_counted(client, clock, cohort):
    march = groups_of(outcomes(client, clock, **{"from": "2027-03-01", "to": "2027-03-31"}))
    later = groups_of(outcomes(client, clock, **{"from": "2027-03-11", "to": "2027-03-31"}))

    assert march["fullerton", "short-3"]["courses"] == 7  # J too; I is still active
    assert later["fullerton", "short-3"]["courses"] == 1
    assert later["fullerton", "short-3"]["unscored"][0]["course_id"] == cohort["J"]["id"]


def test_without_dates_the_year_up_to_today_is_answered(client, clock, cohort):
    answer = outcomes(client, clock)

    assert (answer.json["from"], answer.json["to"]) == ("2026-03-20", "2027-03-20")
    assert groups_of(answer)["fullerton", "short-3"]["courses"] == 7


def test_no_course_completed_answers_no_groups(client, clock):
    answer = outcomes(client, clock, **MARCH)

    assert answer.status_code == 200, answer.json
    assert answer.json == {"from": "2027-03-01", "to": "2027-03-10", "site_id": None, "protocol_id": None,
                           "groups": []}


# --- reading: audit rows, a fixed number of statements

def test_each_patient_whose_course_was_counted_gets_one_audit_row(client, clock, db, cohort):
    assert outcomes(client, clock, **MARCH).status_code == 200

    with db() as session:
        rows = session.execute(select(AuditEvent.patient_id, AuditEvent.entity, AuditEvent.entity_id).where(
            AuditEvent.username == DEMO_PASSWORDS["clinician"][0], AuditEvent.action == "read",
            AuditEvent.at == local(2027, 3, 20, 12, 0))).all()
    expected = {(cohort[letter]["patient_id"], "course", str(cohort[letter]["id"])) for letter in "ABCDEFGH"}
    assert sorted(rows) == sorted(expected)


def test_the_outcomes_read_as_many_statements_for_one_course_as_for_nine(client, clock, db, cohort):
    engine = db.kw["bind"]
    statements: list[str] = []

    def record(connection, cursor, statement, *args):
        statements.append(statement)

    def counted(**query) -> int:
        caller = signed_in_at(client, clock, local(2027, 3, 20, 12, 0), "clinician")
        statements.clear()
        event.listen(engine, "before_cursor_execute", record)
        try:
            assert caller.get(OUTCOMES, query_string=query).status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", record)
        return len(statements)

    assert counted(**{"from": "2027-03-11", "to": "2027-03-31"}) == counted(**{"from": "2027-03-01",
                                                                               "to": "2027-03-31"})


# --- who may, and what is refused

@pytest.mark.parametrize("role", ["clinician", "admin"])
def test_clinicians_and_admins_may_read_outcomes(client, clock, role):
    assert outcomes(client, clock, role, **MARCH).status_code == 200


@pytest.mark.parametrize("role", ["front_desk", "technician"])
def test_the_front_desk_and_technicians_may_not_403(client, clock, db, role):
    caller = signed_in_at(client, clock, local(2027, 3, 20, 12, 0), role)

    with writes_nothing(db):
        answer = caller.get(OUTCOMES, query_string=MARCH)

    assert answer.status_code == 403


def test_without_a_token_401(client):
    assert client.get(OUTCOMES).status_code == 401


@pytest.mark.parametrize("query, field", [
    ({"from": "2027-02-30"}, "from"),
    ({"to": "03/10/2027"}, "to"),
    ({"from": "1899-12-31"}, "from"),
    ({"from": "2027-03-10", "to": "2027-03-01"}, "from"),
    ({"site": "fullerton"}, "site"),
], ids=["no such day", "not ISO", "before 1900", "from after to", "unknown parameter"])
def test_bad_dates_and_parameters_answer_422_naming_the_field(client, clock, db, query, field):
    clinician = signed_in_at(client, clock, local(2027, 3, 20, 12, 0), "clinician")

    with writes_nothing(db):
        answer = clinician.get(OUTCOMES, query_string=query)

    assert answer.status_code == 422, answer.json
    assert field in error_fields(answer)


@pytest.mark.parametrize("query, field", [({"site_id": "nowhere"}, "site_id"), ({"protocol_id": "nothing"},
                                                                                  "protocol_id")])
def test_an_unknown_site_or_protocol_answers_404(client, clock, query, field):
    answer = outcomes(client, clock, **query)

    assert answer.status_code == 404, answer.json
    assert field in error_fields(answer)
