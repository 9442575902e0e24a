"""Who makes a change: every service is told, so history (and later the audit trail) can say."""
from __future__ import annotations

from dataclasses import dataclass

from ..domain.roles import ROLES


@dataclass(frozen=True)
class Actor:
    """A signed-in user (id and role), or the background scheduler (no user)."""

    user_id: int | None
    role: str

    def __post_init__(self) -> None:
        if self.role not in (*ROLES, *_WITHOUT_USER):
            raise ValueError(f"unknown role {self.role!r}")
        if (self.user_id is None) != (self.role in _WITHOUT_USER):
            raise ValueError("only the scheduler and the operator act without a user")


# The background scheduler, and an operator at the server's command line (flask commands).
_WITHOUT_USER = ("scheduler", "operator")
SCHEDULER = Actor(None, "scheduler")
OPERATOR = Actor(None, "operator")
