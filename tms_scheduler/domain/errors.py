from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class DomainError(Exception):
    """A request the clinic's rules refuse; `http_status` is how the API reports it."""

    http_status = 422

    def __init__(self, message: str, errors: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


class RuleViolation(DomainError):
    """The request is well formed but a business rule forbids it."""

    http_status = 422


class NotFound(DomainError):
    http_status = 404


class StateConflict(DomainError):
    """The request clashes with the present state (an active course, an illegal status change)."""

    http_status = 409


@dataclass(frozen=True)
class Conflict:
    date: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"date": self.date, "reason": self.reason}


@dataclass(frozen=True)
class NextStart:
    """The next start date at which a whole course fits: its date, local time (HH:MM) and chairs."""

    date: str
    time: str
    chair_ids: tuple[int, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"date": self.date, "time": self.time, "chair_ids": list(self.chair_ids)}


class BookingConflict(StateConflict):
    """Some sessions found no free chair: names the days and the start times that would fit.

    When no start time that day fits (`alternatives` empty), `next_start` may name the next
    date that does, and `message` then says so in words.
    """

    def __init__(self, conflicts: list[Conflict], alternatives: list[str], next_start: NextStart | None = None,
                 message: str | None = None):
        days = ", ".join(sorted({c.date for c in conflicts}))
        super().__init__(message or f"No free chair for every session; clashing days: {days}")
        self.conflicts = conflicts
        self.alternatives = alternatives
        self.next_start = next_start


class DuplicatePatient(StateConflict):
    """Another patient has the same name (case and accents aside) and date of birth."""

    def __init__(self, existing_patient_id: int):
        super().__init__(
            f"A patient with this name and date of birth is registered already: patient {existing_patient_id}; "
            'if this is another person, send "another_person": true',
            {"another_person": f"patient {existing_patient_id} has the same name and date of birth; "
                               "true registers another person"})
        self.existing_patient_id = existing_patient_id
