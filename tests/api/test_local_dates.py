"""Every date rule takes the site's local date. At 17:30 in Los Angeles it is already 01:30 UTC the
next day: "today" is still Tuesday 2026-12-01 at Fullerton, and every rule below says so.
"""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.factories import book_course, chair_ids, create_patient, session_number, signed_in_at

EVENING_IN_LOS_ANGELES = datetime(2026, 12, 2, 1, 30, tzinfo=UTC)  # 2026-12-01 17:30 PST
TODAY, TOMORROW = "2026-12-01", "2026-12-02"


@pytest.fixture
def evening(client, clock):
    """Signs each role in at 17:30 Los Angeles time."""
    return lambda role="front_desk": signed_in_at(client, clock, EVENING_IN_LOS_ANGELES, role)


def test_a_course_can_start_later_today(evening):
    desk = evening()

    course = book_course(desk, start_date=TODAY, preferred_time="18:00", protocol_id="itbs")

    assert course["sessions"][0]["starts_at"] == "2026-12-01T18:00:00-08:00"


def test_a_course_cannot_start_yesterday(evening):
    desk = evening()
    patient = create_patient(desk)

    answer = desk.post("/api/v1/courses", json={"patient_id": patient["id"], "site_id": "fullerton",
                                                "protocol_id": "itbs", "start_date": "2026-11-30",
                                                "preferred_time": "18:00"})

    assert answer.status_code == 422, answer.json


def test_the_start_times_still_ahead_today_are_offered(evening):
    answer = evening().get(f"/api/v1/sites/fullerton/availability?protocol_id=itbs&start_date={TODAY}")

    assert answer.status_code == 200, answer.json
    assert [t["time"] for t in answer.json["times"]] == ["17:45", "18:00"]  # the 60-minute mapping ends by 19:00


def test_the_site_can_be_closed_for_the_rest_of_today(evening):
    answer = evening("admin").post("/api/v1/sites/fullerton/closures",
                                   json={"date": TODAY, "reason": "power cut"})

    assert answer.status_code == 201, answer.json


def test_a_chair_can_go_out_of_service_from_today(evening, client):
    admin = evening("admin")
    chair = chair_ids(admin)[0]

    answer = admin.post(f"/api/v1/sites/fullerton/chairs/{chair}/out-of-service",
                        json={"from_date": TODAY, "reason": "coil fault"})

    assert answer.status_code == 200, answer.json


def test_a_session_later_today_can_be_checked_in_now(evening):
    desk = evening()
    course = book_course(desk, start_date=TODAY, preferred_time="18:00", protocol_id="itbs")

    answer = desk.post(f"/api/v1/sessions/{session_number(course, 1)['id']}/check-in")

    assert answer.status_code == 200, answer.json


def test_a_session_tomorrow_cannot_be_checked_in_tonight(evening):
    desk = evening()
    course = book_course(desk, start_date=TOMORROW, preferred_time="07:00", protocol_id="itbs")

    answer = desk.post(f"/api/v1/sessions/{session_number(course, 1)['id']}/check-in")

    assert answer.status_code == 409, answer.json


def test_a_paused_course_resumes_from_today(front_desk, evening):
    course = book_course(front_desk, start_date="2026-12-07", protocol_id="itbs")
    assert front_desk.post(f"/api/v1/courses/{course['id']}/pause", json={"reason": "flu"}).status_code == 200
    desk = evening()

    answer = desk.post(f"/api/v1/courses/{course['id']}/resume", json={"from_date": TODAY})

    assert answer.status_code == 200, answer.json
