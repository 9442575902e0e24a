"""Reminders planned, voided and re-timed with the change of a session that causes them (the outbox).

Only the seam (session_changes) calls this, inside the caller's transaction: a booking plans
its sessions' reminders, a move voids the old ones and plans them at the new time, a
cancellation, no-show, release or check-in voids them. A voided reminder is never sent.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, update
from sqlalchemy.orm import Session

from ..db import models
from ..domain import reminders
from .lookups import referenced


def policy_from(row: models.ReminderPolicy | None) -> reminders.Policy:
    """A site's stored policy, or the default one."""
    if row is None:
        return reminders.DEFAULT_POLICY
    digest = None
    if row.digest_weekday is not None and row.digest_time is not None:
        digest = reminders.Digest(row.digest_weekday, row.digest_time)
    return reminders.Policy(
        rules=tuple(reminders.Rule(r["applies_to"], r["minutes_before"]) for r in row.rules),
        digest=digest, quiet_start=row.quiet_start, quiet_end=row.quiet_end)


class ReminderPlanner:
    def __init__(self, db: Session, now: datetime):
        self.db = db
        self.now = now
        self._sites: dict[str, tuple[reminders.Policy, ZoneInfo]] = {}

    def site(self, site_id: str) -> tuple[reminders.Policy, ZoneInfo]:
        if site_id not in self._sites:
            zone = ZoneInfo(referenced(self.db, models.Site, site_id).timezone)
            self._sites[site_id] = (policy_from(self.db.get(models.ReminderPolicy, site_id)), zone)
        return self._sites[site_id]

    def plan(self, sessions: Sequence[models.TreatmentSession], *, moved: bool) -> None:
        """The reminders the site's policy owes each scheduled session, in one statement."""
        rows: list[dict[str, Any]] = []
        for s in sessions:
            course = referenced(self.db, models.Course, s.course_id)
            policy, zone = self.site(s.site_id)
            owed = reminders.SessionToRemind(s.number, s.kind, s.starts_at, moved=moved)
            rows += [
                {"patient_id": course.patient_id, "site_id": s.site_id, "course_id": s.course_id,
                 "session_id": s.id, "kind": r.kind, "minutes_before": r.minutes_before, "due_at": r.due_at,
                 "send_at": r.send_at, "status": r.status, "attempts": 0, "created_at": self.now,
                 "updated_at": self.now}
                for r in reminders.plan(owed, policy, zone, self.now)
            ]
        if rows:
            self.db.execute(insert(models.Reminder), rows)

    def void(self, session_ids: Sequence[int]) -> None:
        """The sessions' reminders still to go are cancelled: nothing is sent for them any more."""
        if session_ids:
            self.db.execute(update(models.Reminder)
                            .where(models.Reminder.session_id.in_(list(session_ids)),
                                   models.Reminder.status == reminders.PENDING)
                            .values(status=reminders.CANCELLED, updated_at=self.now)
                            .execution_options(synchronize_session=False))
