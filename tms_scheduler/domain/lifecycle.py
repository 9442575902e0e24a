"""Which status changes a session may make, and when."""
from __future__ import annotations

from datetime import date, datetime

from .errors import StateConflict

SCHEDULED, CHECKED_IN, COMPLETED, NO_SHOW, CANCELLED = "scheduled", "checked_in", "completed", "no_show", "cancelled"

# A session moves forward only: scheduled, then checked in, then completed; or it ends
# as a no-show or cancelled. Completed, no-show and cancelled are final.
TRANSITIONS: dict[str, frozenset[str]] = {
    SCHEDULED: frozenset({CHECKED_IN, NO_SHOW, CANCELLED}),
    CHECKED_IN: frozenset({COMPLETED, CANCELLED}),
    COMPLETED: frozenset(),
    NO_SHOW: frozenset(),
    CANCELLED: frozenset(),
}
MISSED = frozenset({NO_SHOW, CANCELLED})


def check_transition(current: str, target: str) -> None:
    if target not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "nothing (it is final)"
        raise StateConflict(f"A {current} session cannot become {target}; it can become {allowed}",
                            {"status": f"{current} -> {target} is not allowed"})


def check_on_session_day(session_day: date, today: date, action: str) -> None:
    """Check-in and completion happen on the session's own local day."""
    if session_day != today:
        raise StateConflict(f"{action} is only possible on the session's day ({session_day}); today is {today}",
                            {"status": f"{action} only on {session_day}"})


def check_no_show_allowed(starts_at: datetime, now: datetime) -> None:
    """A session becomes a no-show only once its start has passed."""
    if now < starts_at:
        raise StateConflict("A session can be marked a no-show only after it has started",
                            {"status": "the session has not started yet"})


def check_reschedulable(current: str) -> None:
    if current != SCHEDULED:
        raise StateConflict(f"Only a scheduled session can be moved; this one is {current}",
                            {"status": f"{current} sessions cannot be moved"})
