"""Clerks booking at the same moment, over real HTTP: the database decides who wins."""
from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select, text

from tests.factories import book_course, course_body, create_patient
from tms_scheduler.db import models

# `database_url` runs each test on SQLite and on PostgreSQL (the latter marked `postgres`): the races matter
# most on PostgreSQL, where requests truly run side by side; SQLite serialises writers with BEGIN IMMEDIATE.

START = "2027-03-01"  # a Monday, three months after the test clock's today
CLERKS = 20
SAME_PATIENT_TRIES = 10
EXTRA_CHAIRS = 3  # Fullerton has two figure-8 chairs; with five, a loser can be refused more often than it retries

OVERLAPPING_CHAIR_HOLDERS = text("""
    SELECT a.id, b.id FROM sessions a JOIN sessions b
      ON a.chair_id = b.chair_id AND a.id < b.id
     AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at
    WHERE a.status IN ('scheduled', 'checked_in', 'completed')
      AND b.status IN ('scheduled', 'checked_in', 'completed')
""")


def all_at_once(calls):
    """Runs every call in its own thread, released together by a barrier; answers their results in order."""
    barrier = threading.Barrier(len(calls), timeout=30)

    def run(call):
        barrier.wait()
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [pool.submit(run, call) for call in calls]
        return [future.result(timeout=120) for future in futures]


def fullerton_figure8_chairs(live_server, token) -> set[int]:
    answer = live_server.request("GET", "/api/v1/sites/fullerton/chairs", token=token)
    assert answer.status == 200, answer
    return {c["id"] for c in answer.body if c["coil"] == "figure-8" and c["active"]}


def test_twenty_clerks_racing_for_the_last_chair_time_book_it_exactly_once(front_desk, live_server, db):
    first = book_course(front_desk, start_date=START, preferred_time="09:00")
    token = live_server.sign_in("front_desk")
    # Of Fullerton's two figure-8 chairs the first course holds one for all its sessions: one chair-time is left.
    assert len(fullerton_figure8_chairs(live_server, token)) == 2
    assert len({s["chair_id"] for s in first["sessions"]}) == 1
    patients = [create_patient(front_desk, first_name=f"Racer{i}")["id"] for i in range(CLERKS)]

    answers = all_at_once([
        (lambda p=p: live_server.request("POST", "/api/v1/courses", course_body(p, start_date=START,
                                                                                preferred_time="09:00"), token))
        for p in patients
    ])

    statuses = Counter(a.status for a in answers)
    assert statuses == {201: 1, 409: CLERKS - 1}, [(a.status, a.body) for a in answers if a.status not in (201, 409)]
    with db() as session:
        assert session.execute(OVERLAPPING_CHAIR_HOLDERS).all() == []
        # The losers wrote nothing: two courses of 36 sessions each, no half-booked course.
        assert session.scalar(select(func.count()).select_from(models.Course)) == 2
        assert session.scalar(select(func.count()).select_from(models.TreatmentSession)) == 72


def test_the_losers_of_a_chair_race_are_told_which_days_clash(front_desk, live_server):
    book_course(front_desk, start_date=START, preferred_time="09:00")
    token = live_server.sign_in("front_desk")
    patients = [create_patient(front_desk, first_name=f"Racer{i}")["id"] for i in range(4)]

    answers = all_at_once([
        (lambda p=p: live_server.request("POST", "/api/v1/courses", course_body(p, start_date=START,
                                                                                preferred_time="09:00"), token))
        for p in patients
    ])

    refused = [a.body for a in answers if a.status == 409]
    assert len(refused) == 3, [(a.status, a.body) for a in answers]
    for body in refused:
        assert body["conflicts"], body
        assert "09:00" not in body["alternatives"]


def test_ten_concurrent_bookings_of_one_patient_leave_one_active_course(front_desk, live_server, db):
    token = live_server.sign_in("front_desk")
    patient = create_patient(front_desk)["id"]
    # Hourly starts, so no two of the courses compete for a chair: only the one-active-course rule separates them.
    times = [f"{hour:02d}:00" for hour in range(7, 7 + SAME_PATIENT_TRIES)]

    answers = all_at_once([
        (lambda t=t: live_server.request("POST", "/api/v1/courses",
                                         course_body(patient, start_date=START, preferred_time=t), token))
        for t in times
    ])

    statuses = Counter(a.status for a in answers)
    assert statuses == {201: 1, 409: SAME_PATIENT_TRIES - 1}, [(a.status, a.body) for a in answers]
    with db() as session:
        active = session.scalar(select(func.count()).select_from(models.Course)
                                .where(models.Course.patient_id == patient, models.Course.status == "active"))
        assert active == 1
        assert session.scalar(select(func.count()).select_from(models.TreatmentSession)) == 36


def test_twenty_clerks_racing_for_five_free_chairs_book_five_courses_and_refuse_the_rest_with_409(
        front_desk, admin, live_server, db):
    # Each loser may lose the chair it planned for several times in a row (once per chair) before it sees
    # every chair taken; the answer must still be 409, never a 500.
    for n in range(3, 3 + EXTRA_CHAIRS):
        added = admin.post("/api/v1/sites/fullerton/chairs", json={"name": f"Fullerton chair {n}", "coil": "figure-8"})
        assert added.status_code == 201, added.json
    token = live_server.sign_in("front_desk")
    chairs = len(fullerton_figure8_chairs(live_server, token))
    assert chairs == 2 + EXTRA_CHAIRS
    patients = [create_patient(front_desk, first_name=f"Racer{i}")["id"] for i in range(CLERKS)]

    answers = all_at_once([
        (lambda p=p: live_server.request("POST", "/api/v1/courses", course_body(p, start_date=START,
                                                                                preferred_time="09:00"), token))
        for p in patients
    ])

    with db() as session:
        assert session.execute(OVERLAPPING_CHAIR_HOLDERS).all() == []
        assert session.scalar(select(func.count()).select_from(models.TreatmentSession)) == chairs * 36
    statuses = Counter(a.status for a in answers)
    assert dict(statuses) == {201: chairs, 409: CLERKS - chairs}
