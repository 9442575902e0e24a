"""The audit trail: who read or changed whose data, when, from where; and every sign-in.

Use cases note what they read and change as they go; the rows are written by the commit of
the same transaction (db.audit_log). Reading a list notes one row per patient shown, so a
search shows whose records it exposed.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db import audit_log, models
from .actor import Actor
from .runtime import Runtime

# What was done.
READ, CREATE, UPDATE, SIGN_IN, SIGN_IN_FAILED, SIGN_OUT = "read", "create", "update", "sign_in", "sign_in_failed", \
    "sign_out"
# To what.
PATIENT, COURSE, SESSION, TREATMENT_RECORD, ASSESSMENT, MESSAGE, REMINDER, CALLBACK, USER, TOKEN = (
    "patient", "course", "session", "treatment_record", "assessment", "message", "reminder", "callback", "user",
    "token")


def note(db: Session, actor: Actor, now: datetime, action: str, entity: str, entity_id: object = None,
         patient_id: int | None = None) -> None:
    """One read or change, written with the transaction's commit."""
    audit_log.append(db, [_row(actor, now, action, entity, entity_id, patient_id)])


def note_read(db: Session, actor: Actor, now: datetime, entity: str,
              shown: Iterable[tuple[object, int | None]]) -> None:
    """A read of several records: one row per patient whose data was shown (the first record of theirs)."""
    rows, seen = [], set()
    for entity_id, patient_id in shown:
        if patient_id not in seen:
            seen.add(patient_id)
            rows.append(_row(actor, now, READ, entity, entity_id, patient_id))
    if rows:
        audit_log.append(db, rows)


def _row(actor: Actor, now: datetime, action: str, entity: str, entity_id: object,
         patient_id: int | None) -> dict[str, Any]:
    return {"at": now, "user_id": actor.user_id, "username": actor.username, "role": actor.role, "action": action,
            "entity": entity, "entity_id": None if entity_id is None else str(entity_id)[:60],
            "patient_id": patient_id, "request_id": actor.request_id, "client_ip": actor.client_ip}


def events(rt: Runtime, actor: Actor, *, patient_id: int | None = None, username: str | None = None,
           action: str | None = None, since: date | None = None, until: date | None = None, limit: int = 100,
           offset: int = 0) -> list[models.AuditEvent]:
    """The trail, newest first, by patient, user, action and days (the clinic's dates, both ends included)."""
    A = models.AuditEvent
    query = select(A)
    if patient_id is not None:
        query = query.where(A.patient_id == patient_id)
    if username is not None:
        query = query.where(A.username == username)
    if action is not None:
        query = query.where(A.action == action)
    if since is not None:
        query = query.where(A.at >= datetime.combine(since, time(0), tzinfo=rt.clinic_zone))
    if until is not None:
        query = query.where(A.at < datetime.combine(until + timedelta(days=1), time(0), tzinfo=rt.clinic_zone))
    with rt.reading() as db:
        return list(db.scalars(query.order_by(A.at.desc(), A.id.desc()).limit(limit).offset(offset)))
