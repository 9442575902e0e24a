"""Who makes a change: every service is told, so history (and later the audit trail) can say."""
from __future__ import annotations

from dataclasses import dataclass

from ..domain.roles import ROLES


@dataclass(frozen=True)
class Actor:
    """A signed-in user (id and role), or the background scheduler (no user)."""

    user_id: int | None
    role: str
    # For the audit trail: who by name, and the request and address the action came from.
    username: str | None = None
    request_id: str | None = None
    client_ip: str | None = None

    def __post_init__(self) -> None:
        if self.role not in (*ROLES, *_WITHOUT_USER):
            raise ValueError(f"unknown role {self.role!r}")
        if (self.user_id is None) != (self.role in _WITHOUT_USER):
            raise ValueError("only the scheduler and the operator act without a user")


# The background scheduler, an operator at the server's command line (flask commands), a patient
# acting by text (a reply that confirms a session, opts out...), someone not signed in yet, and
# Twilio reporting on a text's delivery.
_WITHOUT_USER = ("scheduler", "operator", "patient", "anonymous", "twilio")
SCHEDULER = Actor(None, "scheduler")
OPERATOR = Actor(None, "operator")
PATIENT_BY_TEXT = Actor(None, "patient")
TWILIO = Actor(None, "twilio")  # its delivery reports
