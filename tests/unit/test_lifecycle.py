"""A session's status changes and when they are allowed (DOMAIN.md, attendance and missed sessions)."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from tms_scheduler.domain.errors import StateConflict
from tms_scheduler.domain.lifecycle import (
    CANCELLED,
    CHECKED_IN,
    COMPLETED,
    NO_SHOW,
    SCHEDULED,
    check_no_show_allowed,
    check_on_session_day,
    check_reschedulable,
    check_transition,
)

from .clinic import la, site

STATUSES = (SCHEDULED, CHECKED_IN, COMPLETED, NO_SHOW, CANCELLED)
LEGAL = {
    (SCHEDULED, CHECKED_IN),
    (SCHEDULED, NO_SHOW),
    (SCHEDULED, CANCELLED),
    (CHECKED_IN, COMPLETED),
    (CHECKED_IN, CANCELLED),
}
ILLEGAL = sorted((a, b) for a in STATUSES for b in STATUSES if (a, b) not in LEGAL)
FINAL = (COMPLETED, NO_SHOW, CANCELLED)

DAY = date(2027, 3, 3)  # a Wednesday


# --- transitions ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("current", "target"), sorted(LEGAL))
def test_a_legal_status_change_is_allowed(current, target):
    check_transition(current, target)


@pytest.mark.parametrize(("current", "target"), ILLEGAL)
def test_an_illegal_status_change_is_refused_as_a_state_conflict(current, target):
    with pytest.raises(StateConflict):
        check_transition(current, target)


def test_a_scheduled_session_cannot_be_completed_without_a_check_in():
    with pytest.raises(StateConflict):
        check_transition(SCHEDULED, COMPLETED)


def test_a_checked_in_session_cannot_become_a_no_show():
    with pytest.raises(StateConflict):
        check_transition(CHECKED_IN, NO_SHOW)


def test_a_checked_in_session_cannot_go_back_to_scheduled():
    with pytest.raises(StateConflict):
        check_transition(CHECKED_IN, SCHEDULED)


@pytest.mark.parametrize("final", FINAL)
def test_a_final_session_refuses_every_status(final):
    for target in STATUSES:
        with pytest.raises(StateConflict):
            check_transition(final, target)


def test_a_refused_change_from_scheduled_names_the_states_it_can_go_to():
    with pytest.raises(StateConflict) as refused:
        check_transition(SCHEDULED, COMPLETED)
    assert "cancelled, checked_in, no_show" in refused.value.message


def test_a_refused_change_from_checked_in_names_the_states_it_can_go_to():
    with pytest.raises(StateConflict) as refused:
        check_transition(CHECKED_IN, NO_SHOW)
    assert "cancelled, completed" in refused.value.message


@pytest.mark.parametrize("final", FINAL)
def test_a_refused_change_from_a_final_state_says_it_is_final(final):
    with pytest.raises(StateConflict) as refused:
        check_transition(final, CANCELLED)
    assert "final" in refused.value.message


def test_a_refused_change_names_both_states_in_its_field_error():
    with pytest.raises(StateConflict) as refused:
        check_transition(COMPLETED, CANCELLED)
    assert refused.value.errors == {"status": "completed -> cancelled is not allowed"}


def test_a_refused_change_is_answered_with_http_409():
    with pytest.raises(StateConflict) as refused:
        check_transition(NO_SHOW, CHECKED_IN)
    assert refused.value.http_status == 409


# --- check-in and completion on the session's own day -------------------------------------------

def test_check_in_is_allowed_on_the_sessions_day():
    check_on_session_day(DAY, DAY, "Check-in")


def test_check_in_is_refused_the_day_before_the_session():
    with pytest.raises(StateConflict):
        check_on_session_day(DAY, DAY - timedelta(days=1), "Check-in")


def test_completion_is_refused_the_day_after_the_session():
    with pytest.raises(StateConflict):
        check_on_session_day(DAY, DAY + timedelta(days=1), "Completion")


def test_a_refusal_on_the_wrong_day_names_the_action_and_the_sessions_day():
    with pytest.raises(StateConflict) as refused:
        check_on_session_day(DAY, DAY + timedelta(days=1), "Completion")
    assert "Completion" in refused.value.message and str(DAY) in refused.value.message


def test_an_evening_session_can_be_checked_in_on_its_local_day_while_utc_is_already_the_next_day():
    calendar = site()
    starts_at = la(DAY, 18)  # 18:00 PST is 02:00 UTC on the next day
    now = la(DAY, 17, 50)
    check_on_session_day(calendar.local_date(starts_at), calendar.local_date(now), "Check-in")


def test_an_evening_session_cannot_be_completed_after_local_midnight():
    calendar = site()
    starts_at = la(DAY, 18)
    now = la(DAY + timedelta(days=1), 0, 5)
    with pytest.raises(StateConflict):
        check_on_session_day(calendar.local_date(starts_at), calendar.local_date(now), "Completion")


# --- no-shows only once the session has started -----------------------------------------------------

def test_a_no_show_is_refused_before_the_session_starts():
    with pytest.raises(StateConflict):
        check_no_show_allowed(la(DAY, 9), la(DAY, 8, 59))


def test_a_no_show_is_allowed_once_the_session_has_started():
    check_no_show_allowed(la(DAY, 9), la(DAY, 9, 1))


def test_a_no_show_is_allowed_at_the_sessions_start_time():
    check_no_show_allowed(la(DAY, 9), la(DAY, 9))


def test_a_no_show_is_allowed_days_after_the_session():
    check_no_show_allowed(la(DAY, 9), la(DAY + timedelta(days=3), 9))


# --- rescheduling ---------------------------------------------------------------------------------------

def test_a_scheduled_session_can_be_rescheduled():
    check_reschedulable(SCHEDULED)


@pytest.mark.parametrize("status", [CHECKED_IN, COMPLETED, NO_SHOW, CANCELLED])
def test_only_a_scheduled_session_can_be_rescheduled(status):
    with pytest.raises(StateConflict):
        check_reschedulable(status)


def test_a_refused_reschedule_names_the_sessions_status():
    with pytest.raises(StateConflict) as refused:
        check_reschedulable(CHECKED_IN)
    assert "checked_in" in refused.value.message

