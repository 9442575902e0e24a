"""The scheduler's sweep: sessions still scheduled well after their end become no-shows, with make-ups."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select

from .. import metrics
from ..db import models
from ..domain import lifecycle
from .actor import SCHEDULER
from .attendance import record_miss
from .course_context import load_course
from .lookups import why_closed
from .makeups import MissOutcome
from .runtime import Runtime
from .session_changes import SessionChanges

log = logging.getLogger(__name__)
BATCH = 50


def mark_overdue_no_shows(rt: Runtime, *, grace: timedelta) -> int:
    """Marks each overdue session once, whatever the number of schedulers running.

    A session on a day its site was closed is not the patient's miss: it is cancelled by the
    clinic (`cancelled_by: closure`) with its make-up, and counts in no attendance figure.
    Each session is claimed in its own transaction: its course row is locked first (the
    same order every other change takes), then the session is re-read; a scheduler that
    waited for the lock finds it no longer scheduled and leaves it.
    """
    now = rt.now()
    with rt.transaction() as db:
        due = list(db.execute(
            select(models.TreatmentSession.id, models.TreatmentSession.course_id)
            .join(models.Course, models.Course.id == models.TreatmentSession.course_id)
            .where(models.TreatmentSession.status == lifecycle.SCHEDULED, models.TreatmentSession.ends_at < now - grace,
                   models.Course.status == lifecycle.COURSE_ACTIVE)
            .order_by(models.TreatmentSession.ends_at).limit(BATCH)
        ))
    marked = 0
    for session_id, course_id in due:
        try:
            outcome = _mark_one(rt, session_id, course_id, now, grace)
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


def _mark_one(rt: Runtime, session_id: int, course_id: int, now: datetime, grace: timedelta) -> MissOutcome | None:
    with rt.transaction() as db:
        ctx = load_course(db, course_id, now=now)
        s = ctx.session(session_id)
        if s.status != lifecycle.SCHEDULED or ctx.course.status != lifecycle.COURSE_ACTIVE:
            return None  # another scheduler (or the front desk) got there first
        changes = SessionChanges(db, SCHEDULER, now)
        day = ctx.local_day(s.starts_at)
        if not ctx.calendar.is_open_on(day):
            return record_miss(changes, ctx, s, lifecycle.CANCELLED, by=lifecycle.BY_CLOSURE,
                               reason=f"the site was closed on {day} ({why_closed(db, ctx.site, day)}) and the "
                                      "session was not moved", override_reason=None,
                               step_minutes=rt.booking_step_minutes)
        outcome = record_miss(changes, ctx, s, lifecycle.NO_SHOW, by=None,
                              reason=f"still scheduled {grace} after its end", override_reason=None,
                              step_minutes=rt.booking_step_minutes)
    metrics.no_show_marked("scheduler")
    return outcome
