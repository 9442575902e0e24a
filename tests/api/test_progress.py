"""PHQ-9 scores, a course's progress numbers and flags, and the site's worklist.

Courses are standard 10 Hz courses from Monday 2027-03-01 in Fullerton (36 sessions; the 30th
daily on 2027-04-09, the taper on 04-12, 04-14, 04-16, 04-20, 04-22 and 04-28).
"""
from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import event

from tests.factories import (
    book_course,
    create_patient,
    error_fields,
    local,
    session_number,
    signed_in_at,
    writes_nothing,
)

COURSES = "/api/v1/courses"
SESSIONS = "/api/v1/sessions"
WORKLIST = "/api/v1/sites/fullerton/worklist"


@pytest.fixture
def course(front_desk) -> dict:
    return book_course(front_desk, create_patient(front_desk, first_name="Rosa", last_name="Diaz")["id"])


def give(client, clock, session: dict) -> None:
    """Checks the session in and completes it on its own day, half an hour after its start."""
    start = datetime.fromisoformat(session["starts_at"])
    desk = signed_in_at(client, clock, start)
    assert desk.post(f"{SESSIONS}/{session['id']}/check-in").status_code == 200
    technician = signed_in_at(client, clock, start.replace(minute=30), "technician")
    done = technician.post(f"{SESSIONS}/{session['id']}/complete", json={"motor_threshold": 50, "intensity": 120})
    assert done.status_code == 200, done.json


def miss(client, clock, session: dict) -> dict:
    """Marks the session a no-show ten minutes after its start."""
    start = datetime.fromisoformat(session["starts_at"])
    technician = signed_in_at(client, clock, start.replace(minute=10), "technician")
    answer = technician.post(f"{SESSIONS}/{session['id']}/no-show")
    assert answer.status_code == 200, answer.json
    return answer.json


def progress(client, course: dict) -> dict:
    answer = client.get(f"{COURSES}/{course['id']}/progress")
    assert answer.status_code == 200, answer.json
    return answer.json


def flag_codes(body: dict) -> set[str]:
    return {f["code"] for f in body["flags"]}


def score(client, course: dict, value, taken_on: str):
    return client.post(f"{COURSES}/{course['id']}/assessments",
                       json={"instrument": "PHQ-9", "score": value, "taken_on": taken_on})


# --- PHQ-9 assessments

@pytest.mark.parametrize("value", [0, 27])
def test_a_phq9_score_from_0_to_27_is_recorded_201(client, clock, course, value):
    clinician = signed_in_at(client, clock, local(2027, 2, 20, 10, 0), "clinician")

    answer = score(clinician, course, value, "2027-02-15")

    assert answer.status_code == 201, answer.json
    assert (answer.json["score"], answer.json["taken_on"], answer.json["instrument"]) == (value, "2027-02-15", "PHQ-9")
    listed = clinician.get(f"{COURSES}/{course['id']}/assessments").json
    assert [(a["score"], a["taken_on"]) for a in listed] == [(value, "2027-02-15")]


@pytest.mark.parametrize("value, taken_on, field", [
    (28, "2027-02-15", "score"),
    (-1, "2027-02-15", "score"),
    (12, "2027-02-21", "taken_on"),
    (12, "2027-01-29", "taken_on"),
], ids=["score 28", "score -1", "dated tomorrow", "31 days before the first session"])
def test_an_invalid_phq9_score_answers_422_naming_the_field_and_writes_nothing(
        client, clock, db, course, value, taken_on, field):
    clinician = signed_in_at(client, clock, local(2027, 2, 20, 10, 0), "clinician")

    with writes_nothing(db):
        answer = score(clinician, course, value, taken_on)

    assert answer.status_code == 422, answer.json
    assert field in error_fields(answer)


def test_a_baseline_exactly_30_days_before_the_first_session_is_accepted(client, clock, course):
    clinician = signed_in_at(client, clock, local(2027, 2, 20, 10, 0), "clinician")

    assert score(clinician, course, 18, "2027-01-30").status_code == 201


def test_a_score_dated_today_in_the_sites_zone_is_accepted_though_utc_is_already_tomorrow(client, clock, course):
    # 20:00 in Fullerton on 02-20 is 02-21 in UTC.
    clinician = signed_in_at(client, clock, local(2027, 2, 20, 20, 0), "clinician")

    assert score(clinician, course, 18, "2027-02-20").status_code == 201


def test_an_unknown_instrument_answers_422_and_writes_nothing(client, clock, db, course):
    clinician = signed_in_at(client, clock, local(2027, 2, 20, 10, 0), "clinician")

    with writes_nothing(db):
        answer = clinician.post(f"{COURSES}/{course['id']}/assessments",
                                json={"instrument": "GAD-7", "score": 5, "taken_on": "2027-02-15"})

    assert answer.status_code == 422
    assert "instrument" in error_fields(answer)


def test_the_front_desk_may_not_record_a_score_403(client, clock, db, course):
    desk = signed_in_at(client, clock, local(2027, 2, 20, 10, 0))

    with writes_nothing(db):
        answer = score(desk, course, 12, "2027-02-15")

    assert answer.status_code == 403


# --- progress numbers and PHQ-9 outcome

@pytest.fixture
def three_given_one_missed(client, clock, course) -> dict:
    """Sessions 1-3 given, session 4 a no-show (made up on 2027-04-12, the taper moved behind it)."""
    for number in (1, 2, 3):
        give(client, clock, session_number(course, number))
    miss(client, clock, session_number(course, 4))
    return course


def test_progress_counts_prescribed_completed_missed_and_remaining(client, clock, three_given_one_missed):
    clinician = signed_in_at(client, clock, local(2027, 3, 4, 12, 0), "clinician")

    body = progress(clinician, three_given_one_missed)

    assert (body["prescribed"], body["completed"], body["missed"], body["remaining"]) == (36, 3, 1, 33)
    assert body["attendance_rate"] == pytest.approx(0.75)
    # The make-up on 04-12 moved the taper to 04-19, 04-21, 04-23, 04-27, 04-29 and 05-05.
    assert body["projected_end_date"] == "2027-05-05"
    course = clinician.get(f"{COURSES}/{three_given_one_missed['id']}").json
    assert body["projected_end_date"] == max(s["starts_at"][:10] for s in course["sessions"]
                                             if s["status"] == "scheduled")


def test_progress_before_anything_happened_has_no_attendance_rate_and_ends_with_the_last_taper_session(
        client, clock, course):
    clinician = signed_in_at(client, clock, local(2027, 2, 25, 12, 0), "clinician")

    body = progress(clinician, course)

    assert (body["prescribed"], body["completed"], body["missed"], body["remaining"]) == (36, 0, 0, 36)
    assert body["attendance_rate"] is None
    assert body["projected_end_date"] == "2027-04-28"


def test_progress_shows_phq9_baseline_latest_change_and_response_to_a_clinician(client, clock, course):
    clinician = signed_in_at(client, clock, local(2027, 3, 20, 10, 0), "clinician")
    for value, taken_on in ((9, "2027-03-19"), (20, "2027-02-25"), (14, "2027-03-10")):
        assert score(clinician, course, value, taken_on).status_code == 201

    phq9 = progress(clinician, course)["phq9"]

    assert (phq9["baseline"], phq9["latest"]) == (20, 9)
    assert phq9["change_pct"] == pytest.approx(-55.0)
    assert (phq9["response"], phq9["remission"]) == (True, False)


def test_a_latest_score_below_5_is_remission(client, clock, course):
    clinician = signed_in_at(client, clock, local(2027, 3, 20, 10, 0), "clinician")
    score(clinician, course, 16, "2027-02-25")
    score(clinician, course, 4, "2027-03-19")

    phq9 = progress(clinician, course)["phq9"]

    assert (phq9["baseline"], phq9["latest"], phq9["response"], phq9["remission"]) == (16, 4, True, True)
    assert phq9["change_pct"] == pytest.approx(-75.0)


def test_a_drop_under_50_percent_is_no_response(client, clock, course):
    clinician = signed_in_at(client, clock, local(2027, 3, 20, 10, 0), "clinician")
    score(clinician, course, 20, "2027-02-25")
    score(clinician, course, 11, "2027-03-19")

    phq9 = progress(clinician, course)["phq9"]

    assert phq9["change_pct"] == pytest.approx(-45.0)
    assert (phq9["response"], phq9["remission"]) == (False, False)


def test_progress_leaves_phq9_out_for_the_front_desk(client, clock, course):
    clinician = signed_in_at(client, clock, local(2027, 3, 20, 10, 0), "clinician")
    score(clinician, course, 20, "2027-02-25")
    desk = signed_in_at(client, clock, local(2027, 3, 20, 10, 0))

    body = progress(desk, course)

    assert "phq9" not in body
    assert body["prescribed"] == 36


# --- flags

def test_two_misses_in_a_row_raise_consecutive_misses(client, clock, course):
    miss(client, clock, session_number(course, 1))
    miss(client, clock, session_number(course, 2))
    clinician = signed_in_at(client, clock, local(2027, 3, 2, 12, 0), "clinician")

    assert "consecutive_misses" in flag_codes(progress(clinician, course))


def test_one_miss_after_a_given_session_raises_no_consecutive_misses(client, clock, course):
    give(client, clock, session_number(course, 1))
    miss(client, clock, session_number(course, 2))
    clinician = signed_in_at(client, clock, local(2027, 3, 2, 12, 0), "clinician")

    assert "consecutive_misses" not in flag_codes(progress(clinician, course))


def test_a_gap_of_more_than_7_days_before_the_next_session_raises_gap_over_7_days(client, clock, course):
    give(client, clock, session_number(course, 1))
    desk = signed_in_at(client, clock, local(2027, 3, 1, 12, 0))
    assert desk.post(f"{COURSES}/{course['id']}/pause", json={"reason": "flu"}).status_code == 200
    assert desk.post(f"{COURSES}/{course['id']}/resume", json={"from_date": "2027-03-15"}).status_code == 200
    clinician = signed_in_at(client, clock, local(2027, 3, 1, 12, 0), "clinician")

    assert "gap_over_7_days" in flag_codes(progress(clinician, course))


def test_a_gap_of_7_days_raises_no_gap_flag(client, clock, course):
    give(client, clock, session_number(course, 1))
    desk = signed_in_at(client, clock, local(2027, 3, 1, 12, 0))
    desk.post(f"{COURSES}/{course['id']}/pause", json={"reason": "flu"})
    desk.post(f"{COURSES}/{course['id']}/resume", json={"from_date": "2027-03-08"})
    clinician = signed_in_at(client, clock, local(2027, 3, 1, 12, 0), "clinician")

    assert "gap_over_7_days" not in flag_codes(progress(clinician, course))


def test_an_authorization_ending_within_10_days_raises_authorization_expiring(front_desk, client, clock):
    course = book_course(front_desk, create_patient(front_desk)["id"],
                         authorization={"payer": "Cigna", "number": "C-9", "sessions": 36, "valid_to": "2027-05-05"})
    early = signed_in_at(client, clock, local(2027, 3, 1, 8, 0), "clinician")
    assert "authorization_expiring" not in flag_codes(progress(early, course))
    late = signed_in_at(client, clock, local(2027, 4, 26, 8, 0), "clinician")

    body = progress(late, course)

    assert "authorization_expiring" in flag_codes(body)
    assert any("2027-05-05" in w for w in body["authorization"]["warnings"])
    assert (body["authorization"]["sessions"], body["authorization"]["valid_to"]) == (36, "2027-05-05")


def test_the_motor_threshold_recheck_is_due_at_the_first_session_of_a_later_week(client, clock, course):
    first_week = signed_in_at(client, clock, local(2027, 3, 1, 8, 0), "clinician")
    assert "mt_recheck_due" not in flag_codes(progress(first_week, course))
    second_week = signed_in_at(client, clock, local(2027, 3, 8, 8, 0), "clinician")

    body = progress(second_week, course)

    assert "mt_recheck_due" in flag_codes(body)
    assert any("2027-03-08" in f["message"] for f in body["flags"] if f["code"] == "mt_recheck_due")


# --- the worklist

@pytest.fixture
def three_courses(front_desk, client, clock) -> dict:
    """At 2027-03-02 10:00: `calm` has no flag, `expiring` an authorization ending in 8 days, and
    `missing` two misses in a row (plus the motor-threshold re-check). Booked calm first, missing last."""
    calm = book_course(front_desk, create_patient(front_desk, first_name="Calm")["id"], preferred_time="07:00")
    expiring = book_course(front_desk, create_patient(front_desk, first_name="Expiring")["id"],
                           preferred_time="11:00",
                           authorization={"sessions": 36, "valid_to": "2027-03-10",
                                          "override_reason": "extension requested"})
    missing = book_course(front_desk, create_patient(front_desk, first_name="Missing")["id"], preferred_time="13:00")
    give(client, clock, session_number(calm, 1))
    miss(client, clock, session_number(missing, 1))
    miss(client, clock, session_number(missing, 2))
    give(client, clock, session_number(calm, 2))
    clock.now = local(2027, 3, 2, 15, 0)
    return {"calm": calm, "expiring": expiring, "missing": missing}


def test_the_worklist_orders_the_most_urgent_course_first(client, clock, three_courses):
    clinician = signed_in_at(client, clock, local(2027, 3, 2, 15, 0), "clinician")

    answer = clinician.get(WORKLIST)

    assert answer.status_code == 200, answer.json
    order = [e["course_id"] for e in answer.json]
    assert order == [three_courses[k]["id"] for k in ("missing", "expiring", "calm")]
    entries = {e["course_id"]: e for e in answer.json}
    assert "consecutive_misses" in flag_codes(entries[three_courses["missing"]["id"]])
    assert "authorization_expiring" in flag_codes(entries[three_courses["expiring"]["id"]])
    assert entries[three_courses["calm"]["id"]]["flags"] == []
    assert entries[three_courses["missing"]["id"]]["patient_name"].startswith("Missing")
    assert "phq9" in entries[three_courses["calm"]["id"]]


@pytest.mark.parametrize("flag, expected", [
    ("consecutive_misses", ["missing"]),
    ("authorization_expiring", ["expiring"]),
    ("low_week", []),
])
def test_the_worklist_filtered_by_a_flag_lists_only_the_courses_raising_it(client, clock, three_courses, flag,
                                                                           expected):
    clinician = signed_in_at(client, clock, local(2027, 3, 2, 15, 0), "clinician")

    answer = clinician.get(WORKLIST, query_string={"flag": flag})

    assert answer.status_code == 200, answer.json
    assert [e["course_id"] for e in answer.json] == [three_courses[k]["id"] for k in expected]


def test_the_worklist_leaves_out_cancelled_courses(client, clock, three_courses):
    desk = signed_in_at(client, clock, local(2027, 3, 2, 15, 0))
    desk.post(f"{COURSES}/{three_courses['missing']['id']}/cancel", json={"reason": "stopped"})
    clinician = signed_in_at(client, clock, local(2027, 3, 2, 15, 0), "clinician")

    order = [e["course_id"] for e in clinician.get(WORKLIST).json]

    assert three_courses["missing"]["id"] not in order
    assert len(order) == 2


def test_the_worklist_refuses_an_unknown_flag_422(client, clock):
    clinician = signed_in_at(client, clock, local(2027, 3, 2, 15, 0), "clinician")

    answer = clinician.get(WORKLIST, query_string={"flag": "late_payment"})

    assert answer.status_code == 422
    assert "flag" in error_fields(answer)


def test_the_front_desk_may_not_read_the_worklist_403(front_desk):
    assert front_desk.get(WORKLIST).status_code == 403


# --- the patient's misses count from the moment they are recorded; the clinic's never

def cancel(client, session: dict, by: str) -> dict:
    answer = client.post(f"{SESSIONS}/{session['id']}/cancel", json={"reason": "travelling", "by": by})
    assert answer.status_code == 200, answer.json
    return answer.json


def test_two_sessions_cancelled_ahead_by_the_patient_raise_consecutive_misses_at_once(client, clock, course):
    desk = signed_in_at(client, clock, local(2027, 2, 25, 10, 0))
    cancel(desk, session_number(course, 3), "patient")
    cancel(desk, session_number(course, 4), "patient")
    clinician = signed_in_at(client, clock, local(2027, 2, 25, 10, 5), "clinician")

    body = progress(clinician, course)

    messages = {f["code"]: f["message"] for f in body["flags"]}
    assert messages["consecutive_misses"] == "2 sessions missed in a row from 2027-03-03"
    assert body["missed"] == 2


def test_sessions_cancelled_by_the_clinic_raise_no_consecutive_misses_and_are_not_missed(client, clock, course):
    desk = signed_in_at(client, clock, local(2027, 2, 25, 10, 0))
    cancel(desk, session_number(course, 3), "clinic")
    cancel(desk, session_number(course, 4), "clinic")
    clinician = signed_in_at(client, clock, local(2027, 3, 4, 12, 0), "clinician")  # both days have passed

    body = progress(clinician, course)

    assert "consecutive_misses" not in flag_codes(body)
    assert (body["missed"], body["attendance_rate"]) == (0, None)


# --- the daily phase is counted in the site's open days

@pytest.fixture
def across_the_holidays(front_desk) -> dict:
    """A standard course from Monday 2027-11-29: its 30 daily sessions run to Tuesday 2028-01-11, as
    Fullerton is closed on Christmas and New Year (observed Friday 12-24 and Friday 12-31)."""
    return book_course(front_desk, create_patient(front_desk, first_name="Noel")["id"], start_date="2027-11-29")


def test_a_course_booked_across_the_december_holidays_raises_no_daily_phase_over_6_weeks(
        client, clock, across_the_holidays):
    daily = [s["starts_at"][:10] for s in across_the_holidays["sessions"] if s["kind"] != "taper"]
    assert (len(daily), max(daily)) == (30, "2028-01-11")  # 44 calendar days, 30 open days
    clinician = signed_in_at(client, clock, local(2027, 11, 29, 12, 0), "clinician")

    assert "daily_phase_over_6_weeks" not in flag_codes(progress(clinician, across_the_holidays))


def test_a_make_up_on_the_31st_open_day_across_the_holidays_raises_daily_phase_over_6_weeks(
        client, clock, across_the_holidays):
    missed = miss(client, clock, session_number(across_the_holidays, 2))
    assert missed["makeup_session"]["starts_at"][:10] == "2028-01-12"
    clinician = signed_in_at(client, clock, local(2027, 11, 30, 12, 0), "clinician")

    body = progress(clinician, across_the_holidays)

    assert "daily_phase_over_6_weeks" in flag_codes(body)


def test_the_worklist_judges_each_courses_daily_phase_by_the_sites_open_days(
        front_desk, client, clock, across_the_holidays):
    late = book_course(front_desk, create_patient(front_desk, first_name="Late")["id"], start_date="2027-11-15")
    miss(client, clock, session_number(late, 2))  # its make-up goes to 2027-12-30, the 31st open day
    clinician = signed_in_at(client, clock, local(2027, 11, 30, 12, 0), "clinician")

    answer = clinician.get(WORKLIST, query_string={"flag": "daily_phase_over_6_weeks"})

    assert answer.status_code == 200, answer.json
    assert [e["course_id"] for e in answer.json] == [late["id"]]


def test_the_worklist_reads_as_many_statements_for_three_courses_as_for_one(client, clock, db, course):
    engine = db.kw["bind"]
    statements: list[str] = []

    def record(connection, cursor, statement, *args):
        statements.append(statement)

    def counted_worklist() -> int:
        clinician = signed_in_at(client, clock, local(2027, 3, 2, 12, 0), "clinician")
        statements.clear()
        event.listen(engine, "before_cursor_execute", record)
        try:
            assert clinician.get(WORKLIST).status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", record)
        return len(statements)

    one = counted_worklist()
    desk = signed_in_at(client, clock, local(2027, 2, 25, 10, 0))
    book_course(desk, create_patient(desk, first_name="Second")["id"], preferred_time="11:00")
    book_course(desk, create_patient(desk, first_name="Third")["id"], start_date="2027-11-29")  # into 2028

    assert counted_worklist() == one


# --- "today" is the site's local date

def test_a_score_dated_today_at_17_30_in_the_sites_zone_is_accepted_though_utc_is_already_tomorrow(
        client, clock, course):
    clinician = signed_in_at(client, clock, local(2027, 2, 20, 17, 30), "clinician")  # 01:30 UTC on 02-21

    assert score(clinician, course, 18, "2027-02-20").status_code == 201


def test_a_score_dated_the_next_local_day_at_17_30_is_refused_though_utc_is_already_that_day(
        client, clock, db, course):
    clinician = signed_in_at(client, clock, local(2027, 2, 20, 17, 30), "clinician")  # 01:30 UTC on 02-21

    with writes_nothing(db):
        answer = score(clinician, course, 18, "2027-02-21")

    assert answer.status_code == 422, answer.json
    assert "taken_on" in error_fields(answer)
