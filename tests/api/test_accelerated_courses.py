"""Accelerated iTBS through the API: consecutive open days, at most 10 sessions a day, and at least
50 real minutes between one session's end and the next one's start on every path (booking, moves,
make-ups, a missed mapping), a daylight-saving night included.
"""
from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest

from tests.factories import book_course, create_patient, local, session_number, signed_in_at, writes_nothing

SESSIONS = "/api/v1/sessions"
GAP = timedelta(minutes=50)


def instants(session: dict) -> tuple[datetime, datetime]:
    return (datetime.fromisoformat(session["starts_at"]).astimezone(UTC),
            datetime.fromisoformat(session["ends_at"]).astimezone(UTC))


def holding(course: dict) -> list[dict]:
    return sorted((s for s in course["sessions"] if s["status"] in ("scheduled", "checked_in", "completed")),
                  key=lambda s: s["starts_at"])


def local_day(session: dict) -> date:
    return datetime.fromisoformat(session["starts_at"]).date()  # answered in the site's zone


def assert_keeps_the_accelerated_rules(course: dict) -> None:
    sessions = holding(course)
    per_day = Counter(local_day(s) for s in sessions)
    assert max(per_day.values()) <= 10, per_day
    for earlier, later in zip(sessions, sessions[1:], strict=False):
        assert instants(later)[0] - instants(earlier)[1] >= GAP, (earlier, later)


def current(client, course: dict) -> dict:
    answer = client.get(f"/api/v1/courses/{course['id']}")
    assert answer.status_code == 200, answer.json
    return answer.json


def add_site(admin, site_id: str, *, open_days, opens="07:00", closes="19:00", chairs=2) -> None:
    answer = admin.post("/api/v1/sites", json={
        "id": site_id, "name": f"Test {site_id}", "timezone": "America/Los_Angeles", "offers_tms": True,
        "open_days": open_days, "opens": opens, "closes": closes, "holiday_calendar": "none",
        "phone": "+17145550199", "address": "1 Test Way"})
    assert answer.status_code == 201, answer.json
    for i in range(chairs):
        chair = admin.post(f"/api/v1/sites/{site_id}/chairs", json={"name": f"Chair {i + 1}", "coil": "figure-8"})
        assert chair.status_code == 201, chair.json


@pytest.fixture
def accelerated(front_desk):
    """Accelerated iTBS at Fullerton from Monday 2027-03-01 at 08:00: ten sessions a day, Mon-Fri."""
    return book_course(front_desk, protocol_id="accelerated-itbs", start_date="2027-03-01", preferred_time="08:00")


def test_a_course_at_a_site_open_monday_to_saturday_started_on_tuesday_runs_tuesday_to_saturday(admin, front_desk):
    add_site(admin, "six-days", open_days=[1, 2, 3, 4, 5, 6])
    course = book_course(front_desk, site_id="six-days", protocol_id="accelerated-itbs", start_date="2027-03-02",
                         preferred_time="08:00")

    days = sorted({local_day(s) for s in course["sessions"]})

    assert days == [date(2027, 3, 2) + timedelta(days=i) for i in range(5)]  # Tue ... Sat, no day skipped
    assert_keeps_the_accelerated_rules(course)


def test_a_booked_course_keeps_ten_a_day_and_the_gap(accelerated):
    assert Counter(local_day(s) for s in accelerated["sessions"]) == {
        date(2027, 3, d): 10 for d in range(1, 6)}
    assert_keeps_the_accelerated_rules(accelerated)


def test_moving_a_session_into_the_gap_after_the_patients_previous_one_answers_409_and_moves_nothing(
        front_desk, accelerated, db):
    second, third = session_number(accelerated, 2), session_number(accelerated, 3)
    into_gap = instants(second)[1] + timedelta(minutes=20)  # 20 minutes after session 2 ends

    with writes_nothing(db):
        answer = front_desk.post(f"{SESSIONS}/{third['id']}/reschedule",
                                 json={"starts_at": into_gap.isoformat()})

    assert answer.status_code == 409, answer.json
    assert "50 minutes apart" in answer.json["message"]
    assert current(front_desk, accelerated)["sessions"] == accelerated["sessions"]


def test_moving_a_session_onto_the_patients_other_session_in_another_chair_answers_409(front_desk, accelerated, db):
    third, fifth = session_number(accelerated, 3), session_number(accelerated, 5)

    with writes_nothing(db):
        answer = front_desk.post(f"{SESSIONS}/{third['id']}/reschedule", json={"starts_at": fifth["starts_at"]})

    assert answer.status_code == 409, answer.json
    assert "two chairs at once" in answer.json["message"]


def test_a_standard_course_cannot_move_onto_a_day_that_holds_the_patients_other_session(front_desk, db):
    course = book_course(front_desk)
    fourth, fifth = session_number(course, 4), session_number(course, 5)
    later_that_day = instants(fifth)[0] + timedelta(hours=3)

    with writes_nothing(db):
        answer = front_desk.post(f"{SESSIONS}/{fourth['id']}/reschedule",
                                 json={"starts_at": later_that_day.isoformat()})

    assert answer.status_code == 409, answer.json
    assert "one treatment session a day" in answer.json["message"]


def test_a_move_that_keeps_the_gap_is_made(front_desk, accelerated):
    last_of_day_one = session_number(accelerated, 10)
    later = instants(last_of_day_one)[0] + timedelta(minutes=10)  # the day's last session, ten minutes later

    answer = front_desk.post(f"{SESSIONS}/{last_of_day_one['id']}/reschedule", json={"starts_at": later.isoformat()})

    assert answer.status_code == 200, answer.json
    assert_keeps_the_accelerated_rules(current(front_desk, accelerated))


def test_a_make_up_never_lands_on_a_day_already_holding_ten_sessions(client, clock, accelerated):
    technician = signed_in_at(client, clock, local(2027, 3, 1, 10, 10), "technician")
    second = session_number(accelerated, 2)  # 09:50-10:05 on day one

    answer = technician.post(f"{SESSIONS}/{second['id']}/no-show")

    assert answer.status_code == 200, answer.json
    makeup = answer.json["makeup_session"]
    assert makeup is not None
    after = current(technician, accelerated)
    assert local_day(makeup) == date(2027, 3, 8)  # the five days are full: the next open day
    assert_keeps_the_accelerated_rules(after)


def test_a_missed_mapping_makes_the_next_session_the_mapping_and_the_later_ones_keep_their_gap(
        client, clock, accelerated):
    technician = signed_in_at(client, clock, local(2027, 3, 1, 8, 20), "technician")
    mapping = session_number(accelerated, 1)

    answer = technician.post(f"{SESSIONS}/{mapping['id']}/no-show")

    assert answer.status_code == 200, answer.json
    after = current(technician, accelerated)
    new_mapping = next(s for s in after["sessions"] if s["id"] == session_number(accelerated, 2)["id"])
    assert new_mapping["kind"] == "mapping"
    assert instants(new_mapping)[1] - instants(new_mapping)[0] == timedelta(minutes=60)
    moved = answer.json["moved_sessions"]
    assert {s["id"] for s in moved} >= {new_mapping["id"], session_number(accelerated, 3)["id"]}
    # The day cannot hold a 60-minute mapping and all eight others: its last ones go to the end.
    assert any(local_day(s) > date(2027, 3, 5) for s in moved)
    assert_keeps_the_accelerated_rules(after)


def test_across_the_spring_forward_night_every_gap_is_fifty_real_minutes(admin, client, clock):
    add_site(admin, "all-hours", open_days=[1, 2, 3, 4, 5, 6, 7], opens="00:00", closes="23:30")
    desk = signed_in_at(client, clock, datetime(2027, 3, 10, 12, tzinfo=UTC))
    patient = create_patient(desk)

    course = book_course(desk, patient["id"], site_id="all-hours", protocol_id="accelerated-itbs",
                         start_date="2027-03-14", preferred_time="00:30")

    night = [s for s in course["sessions"] if local_day(s) == date(2027, 3, 14)]
    gaps = {instants(b)[0] - instants(a)[1] for a, b in zip(night, night[1:], strict=False)}
    assert gaps == {GAP}  # the clocks jump an hour at 02:00; the patient still rests 50 minutes
    # The mapping ends at 01:30 PST; 50 real minutes later the clocks read 03:20 PDT.
    assert night[1]["starts_at"] == "2027-03-14T03:20:00-07:00"
    assert_keeps_the_accelerated_rules(course)
