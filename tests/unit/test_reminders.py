"""The reminder rules: which texts a session is owed, when each may go, and what a reply means."""
from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from tms_scheduler.domain import reminders
from tms_scheduler.domain.reminders import (
    DEFAULT_POLICY,
    Digest,
    Policy,
    Rule,
    SessionToRemind,
    meaning_of,
    moves_forward,
    next_allowed,
    plan,
)

LA = ZoneInfo("America/Los_Angeles")
NOW = datetime(2027, 1, 1, 17, tzinfo=UTC)


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2027, month, day, hour, minute, tzinfo=LA)


def session(kind: str = "treatment", starts_at: datetime | None = None, moved: bool = False) -> SessionToRemind:
    return SessionToRemind(number=5, kind=kind, starts_at=starts_at or at(3, 3, 9), moved=moved)


def test_the_first_visit_is_reminded_48_and_24_hours_before():
    planned = plan(session("mapping"), DEFAULT_POLICY, LA, NOW)

    assert [(r.kind, r.due_at) for r in planned] == [("first", at(3, 1, 9)), ("first", at(3, 2, 9))]


def test_an_ordinary_daily_session_is_owed_no_text_by_the_default_policy():
    assert plan(session("treatment"), DEFAULT_POLICY, LA, NOW) == []


@pytest.mark.parametrize("kind", ["makeup", "taper"])
def test_make_ups_and_taper_sessions_are_reminded_a_day_before(kind):
    assert [(r.kind, r.minutes_before) for r in plan(session(kind), DEFAULT_POLICY, LA, NOW)] == [(kind, 1440)]


def test_a_moved_session_is_reminded_by_the_moved_rule():
    assert [r.kind for r in plan(session(moved=True), DEFAULT_POLICY, LA, NOW)] == ["moved"]


def test_two_rules_at_the_same_time_give_one_text_named_by_the_more_telling_rule():
    policy = Policy((Rule("every", 1440), Rule("makeup", 1440)), None, time(21), time(8))

    assert [(r.kind, r.minutes_before) for r in plan(session("makeup"), policy, LA, NOW)] == [("makeup", 1440)]


def test_a_text_due_in_the_evening_quiet_hours_waits_for_the_morning():
    planned = plan(session("taper", at(3, 3, 7, 30)), DEFAULT_POLICY, LA, NOW)

    assert (planned[0].due_at, planned[0].send_at, planned[0].status) == (at(3, 2, 7, 30), at(3, 2, 8), "pending")


def test_a_text_quiet_hours_hold_past_the_sessions_start_is_expired():
    policy = Policy((Rule("every", 30),), None, time(21), time(8))

    (planned,) = plan(session("treatment", at(3, 3, 7, 30)), policy, LA, NOW)

    assert planned.status == "expired"


def test_quiet_hours_end_at_the_local_morning_across_the_spring_forward_night():
    # 23:00 PST on Saturday 13 March; the clocks jump at 02:00; quiet ends 08:00 PDT = 15:00 UTC.
    assert next_allowed(at(3, 13, 23), LA, DEFAULT_POLICY) == datetime(2027, 3, 14, 15, tzinfo=UTC)


def test_quiet_hours_within_one_day_hold_a_text_until_they_end():
    lunch = Policy((), None, time(12), time(13))

    assert next_allowed(at(3, 1, 12, 30), LA, lunch) == at(3, 1, 13)
    assert next_allowed(at(3, 1, 13, 0), LA, lunch) == at(3, 1, 13)


def test_a_reminder_already_past_is_not_planned():
    assert plan(session("taper", at(1, 2, 8)), DEFAULT_POLICY, LA, NOW) == []  # due an hour ago


def test_a_moved_session_still_hours_away_is_told_of_its_new_time_now():
    soon = NOW + timedelta(hours=3)

    (planned,) = plan(session(moved=True, starts_at=soon), DEFAULT_POLICY, LA, NOW)

    assert (planned.kind, planned.due_at, planned.send_at) == ("moved", NOW, NOW)  # 09:00 in Los Angeles


def test_a_moved_session_less_than_an_hour_away_gets_no_late_notice():
    assert plan(session(moved=True, starts_at=NOW + timedelta(minutes=40)), DEFAULT_POLICY, LA, NOW) == []


@pytest.mark.parametrize(("current", "reported", "forward"), [
    ("sent", "delivered", True), ("pending", "sent", True), ("delivered", "sent", False),
    ("delivered", "failed", False), ("sent", "undelivered", True), ("failed", "delivered", False),
    ("cancelled", "sent", False),
])
def test_a_delivery_status_only_moves_forward(current, reported, forward):
    assert moves_forward(current, reported) is forward


@pytest.mark.parametrize(("text", "meaning"), [
    ("STOP", "opt_out"), (" stop ", "opt_out"), ("Cancel", "opt_out"), ("unsubscribe!", "opt_out"),
    ("START", "opt_in"), ("yes", "opt_in"), ("HELP", "help"), ("C", "confirm"), ("confirm", "confirm"),
    ("c.", "confirm"), ("R", "call_back"), ("please stop texting", "other"), ("Can I come at 10?", "other"),
    ("", "other"),
])
def test_a_reply_means_what_its_one_word_says(text, meaning):
    assert meaning_of(text) == meaning


def test_without_consent_a_second_text_in_a_day_or_a_fourth_in_a_week_is_over_the_limit():
    assert not reminders.over_consent_limit(0, 2)
    assert reminders.over_consent_limit(1, 1)
    assert reminders.over_consent_limit(0, 3)


def test_retries_wait_twice_as_long_each_time_up_to_a_cap():
    delays = [reminders.retry_delay(n, timedelta(seconds=30)) for n in (1, 2, 3, 10)]

    assert delays == [timedelta(seconds=30), timedelta(seconds=60), timedelta(seconds=120), timedelta(minutes=30)]


def test_the_digest_goes_on_the_policys_weekday_and_time_of_the_week_before():
    monday = at(3, 1, 0).date()

    assert reminders.digest_moment(monday, DEFAULT_POLICY, LA) == at(3, 7, 17)
    assert reminders.digest_moment(monday, Policy((), Digest(5, time(12)), time(21), time(8)), LA) == at(3, 5, 12)
    assert reminders.digest_moment(monday, Policy((), None, time(21), time(8)), LA) is None
