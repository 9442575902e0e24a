"""The one path by which a session is created, changes status, moves or is released.

Every change of a session goes through `SessionChanges`, inside the caller's transaction:
it applies the change, writes the session's history (`session_events`), plans, voids or
re-times its text reminders (reminder_planning), and notes it in the audit trail, all in the
caller's transaction. The database refuses writes to sessions and their history made
anywhere else (db.write_guard).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..db import models
from ..db.write_guard import guarded_writes
from ..domain import lifecycle
from ..domain.errors import StateConflict
from . import audit
from .actor import Actor
from .lookups import referenced
from .reminder_planning import ReminderPlanner


@dataclass(frozen=True)
class NewSession:
    number: int
    kind: str
    chair_id: int
    starts_at: datetime
    ends_at: datetime
    makeup_for_id: int | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Relocation:
    """A session's new place; `kind` changes what it is too (the next visit becoming the mapping)."""

    session: models.TreatmentSession
    chair_id: int
    starts_at: datetime
    ends_at: datetime
    kind: str | None = None


class ChairTaken(StateConflict):
    """The database refused an overlap: another change took the chair-time since it was read."""

    def __init__(self) -> None:
        super().__init__("Another booking took that chair-time just now; try again",
                         {"starts_at": "the chair was taken meanwhile"})


def is_overlap_refusal(exc: IntegrityError) -> bool:
    return "ex_sessions_chair_overlap" in str(exc.orig)


class SessionChanges:
    """Changes of sessions made by one actor at one moment, in one transaction."""

    def __init__(self, db: Session, actor: Actor, now: datetime):
        self.db = db
        self.actor = actor
        self.now = now
        self.reminders = ReminderPlanner(db, now)

    def create(self, course: models.Course, new: Sequence[NewSession], *, action: str) -> list[models.TreatmentSession]:
        """New sessions of the course (a booking, a make-up, a resumed course), in one statement."""
        if not new:
            return []
        rows = [
            {"course_id": course.id, "number": n.number, "kind": n.kind, "status": lifecycle.SCHEDULED,
             "site_id": course.site_id, "chair_id": n.chair_id, "starts_at": n.starts_at, "ends_at": n.ends_at,
             "makeup_for_id": n.makeup_for_id, "created_at": self.now, "updated_at": self.now}
            for n in new
        ]
        with guarded_writes(self.db):
            try:
                sessions = list(self.db.scalars(
                    insert(models.TreatmentSession).returning(models.TreatmentSession, sort_by_parameter_order=True),
                    rows))
            except IntegrityError as exc:
                _raise_if_overlap(exc)
                raise
            self._record_many([
                self._event(s, action, from_status=None, reason=n.reason) for s, n in zip(sessions, new, strict=True)
            ])
        self.reminders.plan(sessions, moved=False)
        if action == "book":  # a course booked: the audit notes the course, its sessions part of it
            audit.note(self.db, self.actor, self.now, audit.CREATE, audit.COURSE, course.id, course.patient_id)
        else:
            for s in sessions:
                audit.note(self.db, self.actor, self.now, audit.CREATE, audit.SESSION, s.id, course.patient_id)
        return sessions

    def set_status(self, session: models.TreatmentSession, target: str, *, action: str, reason: str | None = None,
                   cancelled_by: str | None = None) -> None:
        """A legal status change (lifecycle.TRANSITIONS), or StateConflict."""
        lifecycle.check_transition(session.status, target)
        before = session.status
        with guarded_writes(self.db):
            session.status = target
            if target == lifecycle.CANCELLED:
                session.cancelled_by = cancelled_by
            session.updated_at = self.now
            self.db.add(self._event(session, action, from_status=before, reason=reason))
            self._flush()
        # Checked in, treated, missed or cancelled: what was still to be sent for it is not.
        self.reminders.void([session.id])
        self._audit([session])

    def confirm(self, session: models.TreatmentSession, *, reason: str) -> None:
        """The patient confirmed the session (a C reply)."""
        with guarded_writes(self.db):
            session.confirmed_at = session.updated_at = self.now
            self.db.add(self._event(session, "confirm", from_status=session.status, reason=reason))
            self._flush()
        self._audit([session])

    def release(self, sessions: Sequence[models.TreatmentSession], *, by: str, reason: str) -> None:
        """Cancels sessions for the clinic's reasons (`by`: pause, course_cancel, closure), not as a miss."""
        with guarded_writes(self.db):
            for session in sessions:
                lifecycle.check_transition(session.status, lifecycle.CANCELLED)
                before = session.status
                session.status, session.cancelled_by, session.updated_at = lifecycle.CANCELLED, by, self.now
                self.db.add(self._event(session, by, from_status=before, reason=reason))
            self._flush()
        self.reminders.void([s.id for s in sessions])
        self._audit(sessions)

    def relocate(self, relocations: Sequence[Relocation], *, action: str, reason: str | None) -> None:
        """Moves sessions (same ids) to their new chairs and times, all at once.

        With several, each is first parked off the overlap guard, so two sessions
        swapping places never collide midway.
        """
        if not relocations:
            return
        with guarded_writes(self.db):
            before = {r.session.id: (r.session.status, r.session.starts_at, r.session.chair_id) for r in relocations}
            if len(relocations) > 1:
                for r in relocations:
                    r.session.status = lifecycle.CANCELLED
                self._flush()
            for r in relocations:
                s = r.session
                status, from_starts_at, from_chair_id = before[s.id]
                s.starts_at, s.ends_at, s.chair_id, s.status, s.updated_at = (r.starts_at, r.ends_at, r.chair_id,
                                                                              status, self.now)
                if r.starts_at != from_starts_at:
                    s.confirmed_at = None  # a confirmation was of the old time
                if r.kind is not None:
                    s.kind = r.kind
                self.db.add(self._event(s, action, from_status=status, reason=reason, from_starts_at=from_starts_at,
                                        from_chair_id=from_chair_id))
            self._flush()
        # The patient is told the new time; what was planned for the old one is never sent.
        retimed = [r.session for r in relocations if r.starts_at != before[r.session.id][1]]
        self.reminders.void([s.id for s in retimed])
        self.reminders.plan(retimed, moved=True)
        self._audit([r.session for r in relocations])

    def _audit(self, sessions: Sequence[models.TreatmentSession]) -> None:
        for s in sessions:
            patient_id = referenced(self.db, models.Course, s.course_id).patient_id
            audit.note(self.db, self.actor, self.now, audit.UPDATE, audit.SESSION, s.id, patient_id)

    def _event(self, s: models.TreatmentSession, action: str, *, from_status: str | None, reason: str | None,
               from_starts_at: datetime | None = None, from_chair_id: int | None = None) -> models.SessionEvent:
        moved = from_starts_at is not None
        return models.SessionEvent(
            session_id=s.id, at=self.now, user_id=self.actor.user_id, action=action, from_status=from_status,
            to_status=s.status, from_starts_at=from_starts_at, to_starts_at=s.starts_at if moved else None,
            from_chair_id=from_chair_id if moved else None, to_chair_id=s.chair_id if moved else None, reason=reason,
        )

    def _record_many(self, events: list[models.SessionEvent]) -> None:
        self.db.add_all(events)
        self._flush()

    def _flush(self) -> None:
        try:
            self.db.flush()
        except IntegrityError as exc:
            _raise_if_overlap(exc)
            raise


def _raise_if_overlap(exc: IntegrityError) -> None:
    if is_overlap_refusal(exc):
        raise ChairTaken() from None
