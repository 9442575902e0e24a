from __future__ import annotations

from dataclasses import dataclass


class DomainError(Exception):
    """A request the clinic's rules refuse; `http_status` is how the API reports it."""

    http_status = 422

    def __init__(self, message: str, errors: dict | None = None):
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

    def as_dict(self) -> dict:
        return {"date": self.date, "reason": self.reason}


class BookingConflict(StateConflict):
    """Some sessions found no free chair: names the days and the start times that would fit."""

    def __init__(self, conflicts: list[Conflict], alternatives: list[str]):
        days = ", ".join(sorted({c.date for c in conflicts}))
        super().__init__(f"No free chair for every session; clashing days: {days}")
        self.conflicts = conflicts
        self.alternatives = alternatives
