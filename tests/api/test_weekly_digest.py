"""The weekly digest: on the policy's weekday and time (Sunday 17:00 by default), each patient with
visits in the coming week gets one text listing them, once, whatever the number of schedulers."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.factories import book_course, local, signed_in_at
from tms_scheduler.db import models
from tms_scheduler.services.dispatch import dispatch_due
from tms_scheduler.services.reminders import plan_weekly_digests

SUNDAY_EVENING = local(2027, 2, 28, 17, 0)  # before the course's first week, 2027-03-01 ... 03-05


@pytest.fixture
def runtime(app):
    return app.extensions["tms"].runtime


@pytest.fixture
def course(front_desk):
    return book_course(front_desk)


def digests(db) -> list[models.Reminder]:
    with db() as session:
        return list(session.scalars(select(models.Reminder).where(models.Reminder.kind == "digest")))


def test_at_the_digest_moment_each_patient_with_visits_next_week_gets_one_digest(runtime, clock, db, course):
    clock.now = SUNDAY_EVENING

    assert plan_weekly_digests(runtime) == 1

    (digest,) = digests(db)
    assert (digest.course_id, str(digest.digest_week), digest.status) == (course["id"], "2027-03-01", "pending")


def test_every_patient_with_visits_next_week_gets_a_digest_in_one_statement(runtime, clock, db, front_desk, course):
    others = [book_course(front_desk, preferred_time=t) for t in ("10:00", "11:00")]
    clock.now = SUNDAY_EVENING

    assert plan_weekly_digests(runtime) == 3
    assert plan_weekly_digests(runtime) == 0

    assert sorted(d.course_id for d in digests(db)) == sorted([course["id"], *(c["id"] for c in others)])


def test_planning_the_digests_again_plans_none_twice(runtime, clock, db, course):
    clock.now = SUNDAY_EVENING
    plan_weekly_digests(runtime)
    clock.now = SUNDAY_EVENING + timedelta(minutes=30)

    assert plan_weekly_digests(runtime) == 0
    assert len(digests(db)) == 1


def test_no_digest_is_planned_before_its_moment(runtime, clock, db, course):
    clock.now = SUNDAY_EVENING - timedelta(minutes=1)

    assert plan_weekly_digests(runtime) == 0


def test_a_digest_missed_for_more_than_a_day_is_not_sent_late(runtime, clock, db, course):
    clock.now = SUNDAY_EVENING + timedelta(days=1, minutes=1)

    assert plan_weekly_digests(runtime) == 0


def test_a_site_without_a_digest_in_its_policy_plans_none(admin, runtime, clock, db, course):
    policy = {"rules": [], "weekly_digest": None, "quiet_start": "21:00", "quiet_end": "08:00"}
    assert admin.put("/api/v1/sites/fullerton/reminder-policy", json=policy).status_code == 200
    clock.now = SUNDAY_EVENING

    assert plan_weekly_digests(runtime) == 0


def test_the_digest_sent_lists_the_weeks_visits(runtime, clock, client, course):
    clock.now = SUNDAY_EVENING
    plan_weekly_digests(runtime)

    dispatch_due(runtime, worker="test")  # the first visit's two reminders are due by now too

    desk = signed_in_at(client, clock, SUNDAY_EVENING)
    digest = next(r for r in desk.get(f"/api/v1/courses/{course['id']}/reminders").json if r["kind"] == "digest")
    assert digest["status"] == "sent"
    texts = {m["twilio_sid"]: m["body"] for m in desk.get(f"/api/v1/patients/{course['patient_id']}/messages").json}
    assert "Mon-Fri 9:00 AM" in texts[digest["twilio_sid"]]
    assert len(texts[digest["twilio_sid"]]) <= 160


def test_a_digest_whose_week_was_emptied_meanwhile_is_cancelled_not_sent(runtime, clock, client, db, course):
    clock.now = SUNDAY_EVENING
    plan_weekly_digests(runtime)
    desk = signed_in_at(client, clock, SUNDAY_EVENING)
    assert desk.post(f"/api/v1/courses/{course['id']}/pause", json={"reason": "in hospital"}).status_code == 200

    assert dispatch_due(runtime, worker="test").counts == {"cancelled": 1}
    assert desk.get(f"/api/v1/patients/{course['patient_id']}/messages").json == []
