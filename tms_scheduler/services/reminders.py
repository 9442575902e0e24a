"""Reminders as the front desk and the administrator see them: lists, resending, the call-back list,
the sites' policies, and the weekly digests the scheduler plans."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, or_, select, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ..db import models
from ..domain import lifecycle, reminders
from ..domain.calendar import day_start
from ..domain.errors import RuleViolation, StateConflict
from . import audit
from .actor import Actor
from .lookups import get_or_404, not_found, referenced
from .reminder_planning import ReminderPlanner, policy_from
from .runtime import Runtime


def _ordered(query: Any) -> Any:
    return query.order_by(models.Reminder.send_at, models.Reminder.id)


def session_reminders(rt: Runtime, session_id: int, actor: Actor) -> list[models.Reminder]:
    with rt.reading() as db:
        session = get_or_404(db, models.TreatmentSession, session_id, "session")
        audit.note(db, actor, rt.now(), audit.READ, audit.REMINDER, f"session {session_id}",
                   referenced(db, models.Course, session.course_id).patient_id)
        return list(db.scalars(_ordered(select(models.Reminder).where(models.Reminder.session_id == session_id))))


def course_reminders(rt: Runtime, course_id: int, actor: Actor) -> list[models.Reminder]:
    with rt.reading() as db:
        course = get_or_404(db, models.Course, course_id, "course")
        audit.note(db, actor, rt.now(), audit.READ, audit.REMINDER, f"course {course_id}", course.patient_id)
        return list(db.scalars(_ordered(select(models.Reminder).where(models.Reminder.course_id == course_id))))


def patient_messages(rt: Runtime, patient_id: int, actor: Actor, *, limit: int,
                     offset: int) -> list[models.Message]:
    """Every text to and from the patient, newest first."""
    with rt.reading() as db:
        get_or_404(db, models.Patient, patient_id, "patient")
        audit.note(db, actor, rt.now(), audit.READ, audit.MESSAGE, f"patient {patient_id}", patient_id)
        return list(db.scalars(select(models.Message).where(models.Message.patient_id == patient_id)
                               .order_by(models.Message.at.desc(), models.Message.id.desc())
                               .limit(limit).offset(offset)))


def resend(rt: Runtime, reminder_id: int, actor: Actor) -> models.Reminder:
    """A failed or undelivered reminder goes again at once (if its session is still ahead)."""
    now = rt.now()
    with rt.transaction() as db:
        reminder = db.scalar(select(models.Reminder).where(models.Reminder.id == reminder_id).with_for_update())
        if reminder is None:
            raise not_found("reminder", reminder_id)
        if reminder.status not in reminders.RESENDABLE:
            raise StateConflict(f"Only a failed or undelivered reminder is sent again; this one is {reminder.status}",
                                {"status": f"{reminder.status} reminders are not sent again"})
        if reminder.session_id is not None:
            session = get_or_404(db, models.TreatmentSession, reminder.session_id, "session")
            if session.status != lifecycle.SCHEDULED or session.starts_at <= now:
                raise StateConflict("The session is no longer ahead; there is nothing to remind of",
                                    {"status": f"the session is {session.status}"})
        patient = get_or_404(db, models.Patient, reminder.patient_id, "patient")
        if patient.sms_opted_out:
            raise StateConflict("The patient opted out of texts", {"patient": "opted out"})
        if patient.phone_invalid_at is not None:
            raise StateConflict("Twilio called the patient's phone invalid; correct it first",
                                {"patient": "phone invalid"})
        reminder.status, reminder.attempts, reminder.send_at = reminders.PENDING, 0, now
        reminder.lease_until, reminder.leased_by, reminder.error_code = None, None, None
        # The failed send's sid stays on its message; a late status callback for it (Twilio posts them
        # again) must not find the reminder and move it on before it is sent again.
        reminder.twilio_sid = None
        reminder.updated_at = now
        audit.note(db, actor, now, audit.UPDATE, audit.REMINDER, reminder.id, reminder.patient_id)
    return reminder


# --- the call-back list

@dataclass(frozen=True)
class CallbackEntry:
    callback: models.Callback
    patient_name: str | None
    phone: str | None
    text: str | None


def callbacks(rt: Runtime, site_id: str, actor: Actor, *, include_done: bool = False) -> list[CallbackEntry]:
    """Who the front desk should call: the site's, and texts from numbers no one knows."""
    C, P, M = models.Callback, models.Patient, models.Message
    with rt.reading() as db:
        get_or_404(db, models.Site, site_id, "site")
        query = (select(C, P.first_name, P.last_name, P.phone, M.phone, M.body)
                 .outerjoin(P, P.id == C.patient_id).outerjoin(M, M.id == C.message_id)
                 .where(or_(C.site_id == site_id, C.site_id.is_(None))).order_by(C.created_at, C.id))
        if not include_done:
            query = query.where(C.done_at.is_(None))
        found = [CallbackEntry(c, f"{first} {last}" if first else None, patient_phone or message_phone, body)
                 for c, first, last, patient_phone, message_phone, body in db.execute(query)]
        audit.note_read(db, actor, rt.now(), audit.CALLBACK, [(e.callback.id, e.callback.patient_id) for e in found])
        return found


def callback_done(rt: Runtime, callback_id: int, actor: Actor) -> models.Callback:
    now = rt.now()
    with rt.transaction() as db:
        # Locked: of two desks marking it done at once, the second waits and is told it is done already.
        callback = db.get(models.Callback, callback_id, with_for_update=True)
        if callback is None:
            raise not_found("call-back", callback_id)
        if callback.done_at is not None:
            raise StateConflict("The call-back is done already", {"done_at": "done already"})
        callback.done_at, callback.done_by = now, actor.user_id
        audit.note(db, actor, now, audit.UPDATE, audit.CALLBACK, callback.id, callback.patient_id)
    return callback


# --- the sites' policies

def get_policy(rt: Runtime, site_id: str) -> reminders.Policy:
    with rt.reading() as db:
        get_or_404(db, models.Site, site_id, "site")
        return policy_from(db.get(models.ReminderPolicy, site_id))


def put_policy(rt: Runtime, site_id: str, policy: reminders.Policy, actor: Actor) -> reminders.Policy:
    """The site's new policy, for reminders planned from now on (those planned already stay)."""
    seen = set()
    for rule in policy.rules:
        if (rule.applies_to, rule.minutes_before) in seen:
            raise RuleViolation(f"The rule {rule.applies_to} {rule.minutes_before} minutes before is given twice",
                                {"rules": "each rule once"})
        seen.add((rule.applies_to, rule.minutes_before))
    now = rt.now()
    with rt.transaction() as db:
        get_or_404(db, models.Site, site_id, "site")
        row = db.get(models.ReminderPolicy, site_id) or models.ReminderPolicy(site_id=site_id)
        row.rules = [{"applies_to": r.applies_to, "minutes_before": r.minutes_before} for r in policy.rules]
        row.digest_weekday = policy.digest.weekday if policy.digest else None
        row.digest_time = policy.digest.at if policy.digest else None
        row.quiet_start, row.quiet_end, row.updated_at = policy.quiet_start, policy.quiet_end, now
        db.add(row)
    return policy


# --- the weekly digest

def plan_weekly_digests(rt: Runtime) -> int:
    """Plans this week's digest for every patient with visits next week, at each site whose digest
    moment has come (within a day of it; a digest a scheduler missed for longer is not sent late).

    Idempotent whatever the number of schedulers: one digest per patient and week (a unique index).
    """
    now = rt.now()
    planned = 0
    with rt.transaction() as db:
        for site in db.scalars(select(models.Site).where(models.Site.offers_tms.is_(True))):
            planned += _plan_site_digests(db, site, ReminderPlanner(db, now), now)
    return planned


_IS_DIGEST = text(f"kind = '{reminders.DIGEST}'")


def _plan_site_digests(db: Session, site: models.Site, planner: ReminderPlanner, now: Any) -> int:
    policy, zone = planner.site(site.id)
    this_week = reminders.monday_of(now.astimezone(zone).date())
    moment = reminders.digest_moment(this_week, policy, zone)
    if moment is None or not (moment <= now < moment + timedelta(days=1)):
        return 0
    week = this_week + timedelta(days=7)
    S, C = models.TreatmentSession, models.Course
    patients = db.execute(
        select(C.patient_id, C.id).join(S, S.course_id == C.id)
        .where(S.site_id == site.id, S.status == lifecycle.SCHEDULED,
               and_(S.starts_at >= day_start(week, zone), S.starts_at < day_start(week + timedelta(days=7), zone)))
        .distinct()).all()
    if not patients:
        return 0
    send_at = reminders.next_allowed(now, zone, policy)
    rows = [{"patient_id": patient_id, "site_id": site.id, "course_id": course_id, "kind": reminders.DIGEST,
             "digest_week": week, "due_at": moment, "send_at": send_at, "status": reminders.PENDING, "attempts": 0,
             "created_at": now, "updated_at": now} for patient_id, course_id in patients]
    insert = postgresql_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    # The partial index's predicate as fixed SQL: a bound parameter there cannot go with a many-row insert.
    statement = insert(models.Reminder).on_conflict_do_nothing(
        index_elements=["patient_id", "digest_week"], index_where=_IS_DIGEST)
    return len(db.scalars(statement.returning(models.Reminder.id), rows).all())
