"""Which status changes a session may make, and when."""
from __future__ import annotations

from datetime import date, datetime

from .errors import StateConflict

# A session's statuses: the one list the API, the database and the rules all take.
SCHEDULED, CHECKED_IN, COMPLETED, NO_SHOW, CANCELLED = "scheduled", "checked_in", "completed", "no_show", "cancelled"
SESSION_STATUSES = (SCHEDULED, CHECKED_IN, COMPLETED, NO_SHOW, CANCELLED)
# Sessions in these states hold their chair: no two may overlap in one chair.
CHAIR_HOLDING = (SCHEDULED, CHECKED_IN, COMPLETED)
# Booked and not yet over: what a change of plan may still move or release.
AHEAD = (SCHEDULED, CHECKED_IN)

# Who cancelled a session. The patient's cancellations are misses; the clinic's (a
# cancellation by the clinic, a closure nobody moved) are made up but count against no
# attendance figure or flag; a pause or a cancelled course releases sessions, not missed at all.
BY_PATIENT, BY_CLINIC, BY_CLOSURE, BY_PAUSE, BY_COURSE_CANCEL = "patient", "clinic", "closure", "pause", "course_cancel"
CANCELLED_BY = (BY_PATIENT, BY_CLINIC, BY_CLOSURE, BY_PAUSE, BY_COURSE_CANCEL)
CANCELLERS = (BY_PATIENT, BY_CLINIC)  # who may be named when a single session is cancelled
# Released, not missed: no make-up is owed for these.
RELEASED_BY = frozenset({BY_PAUSE, BY_COURSE_CANCEL})
# Never the patient's to attend: progress leaves these out altogether.
NOT_COUNTED_BY = RELEASED_BY | {BY_CLOSURE}

# A course is active from its booking until it is completed or cancelled.
COURSE_ACTIVE, COURSE_COMPLETED, COURSE_CANCELLED = "active", "completed", "cancelled"
COURSE_STATUSES = (COURSE_ACTIVE, COURSE_COMPLETED, COURSE_CANCELLED)

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


def is_patients_miss(status: str, cancelled_by: str | None) -> bool:
    """A no-show, or a cancellation by the patient: the misses attendance and the flags count."""
    return status == NO_SHOW or (status == CANCELLED and cancelled_by == BY_PATIENT)


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
