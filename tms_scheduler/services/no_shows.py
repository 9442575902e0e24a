"""The scheduler's sweep: sessions still scheduled well after their end become no-shows, with make-ups."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ..db import models
from ..db.engine import transaction
from .attendance import SCHEDULER, MissOutcome, record_miss
from .course_context import load_course

log = logging.getLogger(__name__)
BATCH = 50


def mark_overdue_no_shows(factory: sessionmaker[Session], *, now: datetime, grace: timedelta,
                          step_minutes: int = 15) -> int:
    """Marks each overdue session once, whatever the number of schedulers running.

    Each session is claimed in its own transaction: its course row is locked first (the
    same order every other change takes), then the session is re-read; a scheduler that
    waited for the lock finds it no longer scheduled and leaves it.
    """
    with transaction(factory) as db:
        due = list(db.execute(
            select(models.TreatmentSession.id, models.TreatmentSession.course_id)
            .join(models.Course, models.Course.id == models.TreatmentSession.course_id)
            .where(models.TreatmentSession.status == "scheduled", models.TreatmentSession.ends_at < now - grace,
                   models.Course.status == "active")
            .order_by(models.TreatmentSession.ends_at).limit(BATCH)
        ))
    marked = 0
    for session_id, course_id in due:
        try:
            outcome = _mark_one(factory, session_id, course_id, now, grace, step_minutes)
        except Exception:  # one session that cannot be handled must not hold up the rest
            log.exception("session %s: could not be marked a no-show", session_id)
            continue
        if outcome is None:
            continue
        marked += 1
        if outcome.makeup_refused:
            # The no-show stands; the worklist and the session's answer show the missing make-up.
            log.warning("session %s: no-show recorded, make-up not booked: %s", session_id, outcome.makeup_refused)
    return marked


def _mark_one(factory: sessionmaker[Session], session_id: int, course_id: int, now: datetime, grace: timedelta,
              step_minutes: int) -> MissOutcome | None:
    with transaction(factory) as db:
        ctx = load_course(db, course_id, today=now.date())
        s = ctx.session(session_id)
        if s.status != "scheduled" or ctx.course.status != "active":
            return None  # another scheduler (or the front desk) got there first
        return record_miss(db, ctx, s, "no_show", SCHEDULER, now, action="no_show", by=None,
                     reason=f"still scheduled {grace} after its end", override_reason=None,
                     step_minutes=step_minutes)
