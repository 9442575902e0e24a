"""Insurance authorization: sessions beyond its count or outside its dates need an override, which is recorded."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from ..db import models
from ..domain import lifecycle
from ..domain.errors import RuleViolation
from .actor import Actor
from .course_context import CourseContext


@dataclass(frozen=True)
class Authorization:
    payer: str | None
    number: str | None
    sessions: int | None
    valid_from: date | None
    valid_to: date | None
    override_reason: str | None = None


def check_booking(auth: Authorization | None, first_day: date, last_day: date, sessions: int) -> None:
    """A new course fits its authorization's count and dates, unless overridden."""
    if auth is None or auth.override_reason:
        return
    if auth.sessions is not None and sessions > auth.sessions:
        raise RuleViolation(
            f"The course has {sessions} sessions but {auth.sessions} are authorized",
            {"authorization.sessions": f"{sessions} sessions needed; give override_reason to book beyond it"},
        )
    if auth.valid_from and first_day < auth.valid_from:
        raise RuleViolation(f"The first session ({first_day}) is before the authorization starts ({auth.valid_from})",
                            {"authorization.valid_from": "the course starts before the authorization"})
    if auth.valid_to and last_day > auth.valid_to:
        raise RuleViolation(f"The last session ({last_day}) is after the authorization ends ({auth.valid_to})",
                            {"authorization.valid_to": "the course ends after the authorization"})


def count_refusal(ctx: CourseContext, *, extra_sessions: int) -> str | None:
    """Why `extra_sessions` more would hold more sessions than are authorized, or None."""
    course = ctx.course
    holding = sum(s.status in lifecycle.CHAIR_HOLDING for s in ctx.sessions)
    if course.authorized_sessions is not None and holding + extra_sessions > course.authorized_sessions:
        return (f"the course would hold {holding + extra_sessions} sessions but "
                f"{course.authorized_sessions} are authorized")
    return None


def end_refusal(ctx: CourseContext) -> str | None:
    """Why the course, as it now stands, runs past the authorization's end, or None."""
    last_day, valid_to = ctx.last_day(), ctx.course.authorization_valid_to
    if last_day and valid_to and last_day > valid_to:
        return f"with the make-up the course runs to {last_day}, after the authorization ends ({valid_to})"
    return None


def dates_refusal(course: models.Course, day: date) -> str | None:
    """Why a session on `day` would fall outside the authorization's dates, or None."""
    if course.authorization_valid_from and day < course.authorization_valid_from:
        return f"{day} is before the authorization starts ({course.authorization_valid_from})"
    if course.authorization_valid_to and day > course.authorization_valid_to:
        return f"{day} is after the authorization ends ({course.authorization_valid_to})"
    return None


def require_override(refusal: str | None, override_reason: str | None, what: str) -> None:
    """A refusal stands unless an override reason is given."""
    if refusal and not override_reason:
        raise RuleViolation(f"{refusal}; give override_reason to {what} anyway",
                            {"override_reason": f"needed: {refusal}"})


def record_override(db: Session, ctx: CourseContext, actor: Actor, now: datetime, reason: str) -> None:
    ctx.record(db, actor, now, "authorization_override", reason)
