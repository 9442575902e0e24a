"""Reminders are planned, voided and re-timed with the change that causes them (the outbox).

The default policy: 48 h and 24 h before the first session; 24 h before any make-up, moved or taper
session; quiet hours 21:00-08:00 in the site's zone. The course is the standard 10 Hz course at
Fullerton from Monday 2027-03-01 at 09:00 (its taper on 2027-04-12 ... 2027-04-28).
"""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.factories import book_course, local, session_number, signed_in_at, writes_nothing

SESSIONS, COURSES = "/api/v1/sessions", "/api/v1/courses"


def reminders_of(client, course: dict) -> list[dict]:
    answer = client.get(f"{COURSES}/{course['id']}/reminders")
    assert answer.status_code == 200, answer.json
    return answer.json


def pending(client, course: dict) -> list[dict]:
    return [r for r in reminders_of(client, course) if r["status"] == "pending"]


@pytest.fixture
def course(front_desk):
    return book_course(front_desk)


def test_booking_plans_the_default_policys_reminders(front_desk, course):
    planned = {(r["session_id"], r["kind"], r["minutes_before"]) for r in pending(front_desk, course)}

    first = session_number(course, 1)["id"]
    taper = [s["id"] for s in course["sessions"] if s["kind"] == "taper"]
    assert planned == {(first, "first", 2880), (first, "first", 1440), *((t, "taper", 1440) for t in taper)}


def test_a_reminder_is_due_its_minutes_before_the_session_in_the_sites_zone(front_desk, course):
    first = next(r for r in pending(front_desk, course) if r["minutes_before"] == 2880)

    assert first["due_at"] == "2027-02-27T09:00:00-08:00"
    assert first["send_at"] == first["due_at"]


def test_a_reminder_due_in_quiet_hours_goes_when_they_end(front_desk):
    course = book_course(front_desk, preferred_time="07:30")

    first = next(r for r in pending(front_desk, course) if r["minutes_before"] == 1440)

    assert first["due_at"] == "2027-02-28T07:30:00-08:00"
    assert first["send_at"] == "2027-02-28T08:00:00-08:00"


def test_a_reminder_quiet_hours_would_hold_past_its_sessions_start_is_expired(admin, front_desk):
    policy = {"rules": [{"applies_to": "every", "minutes_before": 30}], "weekly_digest": None,
              "quiet_start": "21:00", "quiet_end": "08:00"}
    assert admin.put("/api/v1/sites/fullerton/reminder-policy", json=policy).status_code == 200
    course = book_course(front_desk, preferred_time="07:30", protocol_id="itbs")

    statuses = {r["status"] for r in reminders_of(front_desk, course)}

    assert statuses == {"expired"}  # due 07:00, quiet until 08:00, the session at 07:30


def test_cancelling_a_session_voids_its_reminders(front_desk, course):
    first = session_number(course, 1)

    front_desk.post(f"{SESSIONS}/{first['id']}/cancel", json={"reason": "flu", "by": "patient"})

    mine = [r for r in reminders_of(front_desk, course) if r["session_id"] == first["id"]]
    assert {r["status"] for r in mine} == {"cancelled"}


def test_a_moved_session_is_reminded_at_its_new_time_and_never_at_the_old_one(front_desk, course):
    first = session_number(course, 1)
    new_start = local(2027, 3, 1, 11, 0)

    answer = front_desk.post(f"{SESSIONS}/{first['id']}/reschedule", json={"starts_at": new_start.isoformat()})

    assert answer.status_code == 200, answer.json
    mine = [r for r in reminders_of(front_desk, course) if r["session_id"] == first["id"]]
    assert {(r["kind"], r["minutes_before"], r["status"], r["due_at"]) for r in mine} == {
        ("first", 2880, "cancelled", "2027-02-27T09:00:00-08:00"),
        ("first", 1440, "cancelled", "2027-02-28T09:00:00-08:00"),
        ("first", 2880, "pending", "2027-02-27T11:00:00-08:00"),
        ("moved", 1440, "pending", "2027-02-28T11:00:00-08:00"),  # the moved rule names the text
    }


def test_a_make_up_is_reminded_a_day_before(client, clock, course):
    technician = signed_in_at(client, clock, local(2027, 3, 2, 9, 30), "technician")
    answer = technician.post(f"{SESSIONS}/{session_number(course, 2)['id']}/no-show")
    makeup = answer.json["makeup_session"]
    desk = signed_in_at(client, clock, local(2027, 3, 2, 9, 31))

    mine = [r for r in reminders_of(desk, course) if r["session_id"] == makeup["id"]]

    starts = datetime.fromisoformat(makeup["starts_at"])
    assert [(r["kind"], r["status"], datetime.fromisoformat(r["due_at"])) for r in mine] == [
        ("makeup", "pending", starts - timedelta(days=1))]


def test_cancelling_the_course_voids_every_reminder_still_to_go(front_desk, course):
    front_desk.post(f"{COURSES}/{course['id']}/cancel", json={"reason": "moved away"})

    assert pending(front_desk, course) == []


def test_pausing_voids_and_resuming_plans_again(front_desk, course):
    front_desk.post(f"{COURSES}/{course['id']}/pause", json={"reason": "surgery"})
    assert pending(front_desk, course) == []

    resumed = front_desk.post(f"{COURSES}/{course['id']}/resume", json={"from_date": "2027-03-15"})

    assert resumed.status_code == 200, resumed.json
    assert {r["kind"] for r in pending(front_desk, course)} == {"first", "taper"}  # the mapping laid out again


def test_a_reminder_already_past_at_booking_is_not_planned(front_desk, clock, client):
    desk = signed_in_at(client, clock, local(2027, 2, 27, 12, 0))  # 45 hours before the first session

    course = book_course(desk)

    assert {r["minutes_before"] for r in pending(desk, course) if r["kind"] == "first"} == {1440}


def test_every_site_answers_the_default_policy_until_one_is_set(front_desk):
    answer = front_desk.get("/api/v1/sites/laguna-hills/reminder-policy")

    assert answer.status_code == 200
    assert answer.json == {
        "rules": [{"applies_to": "first", "minutes_before": 2880}, {"applies_to": "first", "minutes_before": 1440},
                  {"applies_to": "makeup", "minutes_before": 1440}, {"applies_to": "moved", "minutes_before": 1440},
                  {"applies_to": "taper", "minutes_before": 1440}],
        "weekly_digest": {"weekday": 7, "time": "17:00"}, "quiet_start": "21:00", "quiet_end": "08:00"}


def test_a_policy_set_applies_to_courses_booked_after_it(admin, front_desk):
    policy = {"rules": [{"applies_to": "every", "minutes_before": 120}], "weekly_digest": None,
              "quiet_start": "20:00", "quiet_end": "07:00"}
    assert admin.put("/api/v1/sites/fullerton/reminder-policy", json=policy).json == policy

    course = book_course(front_desk, protocol_id="itbs")

    assert len(pending(front_desk, course)) == 30


def test_only_an_admin_sets_a_policy(front_desk, db):
    with writes_nothing(db):
        answer = front_desk.put("/api/v1/sites/fullerton/reminder-policy", json={
            "rules": [], "weekly_digest": None, "quiet_start": "21:00", "quiet_end": "08:00"})

    assert answer.status_code == 403


@pytest.mark.parametrize("broken", [
    {"rules": [{"applies_to": "sometimes", "minutes_before": 60}]},
    {"rules": [{"applies_to": "every", "minutes_before": 0}]},
    {"rules": [{"applies_to": "every", "minutes_before": 60}, {"applies_to": "every", "minutes_before": 60}]},
    {"weekly_digest": {"weekday": 8, "time": "17:00"}},
    {"quiet_start": "25:00"},
])
def test_a_policy_that_breaks_a_rule_answers_422_and_writes_nothing(admin, db, broken):
    policy = {"rules": [], "weekly_digest": None, "quiet_start": "21:00", "quiet_end": "08:00", **broken}

    with writes_nothing(db):
        answer = admin.put("/api/v1/sites/fullerton/reminder-policy", json=policy)

    assert answer.status_code == 422, answer.json
