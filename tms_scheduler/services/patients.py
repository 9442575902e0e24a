"""Patient records: intake, search, changes."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select

from ..db import models
from ..domain.errors import RuleViolation
from ..domain.phones import InvalidPhone, to_e164
from .actor import Actor
from .lookups import get_or_404
from .runtime import Runtime

LANGUAGES = ("en", "es")


def _normalised(fields: dict, now: datetime, patient: models.Patient | None = None) -> dict:
    fields = dict(fields)
    if "phone" in fields:
        try:
            fields["phone"] = to_e164(fields["phone"])
        except InvalidPhone as exc:
            raise RuleViolation(str(exc), {"phone": str(exc)}) from None
    if "date_of_birth" in fields and fields["date_of_birth"] > now.date():
        raise RuleViolation("The date of birth is in the future", {"date_of_birth": "must not be in the future"})
    # Consent is recorded with the moment it was given; withdrawing it clears that moment.
    if "sms_consent" in fields and (patient is None or fields["sms_consent"] != patient.sms_consent):
        fields["sms_consent_at"] = now if fields["sms_consent"] else None
    if "sms_opted_out" in fields and (patient is None or fields["sms_opted_out"] != patient.sms_opted_out):
        fields["sms_opted_out_at"] = now if fields["sms_opted_out"] else None
    return fields


def create_patient(rt: Runtime, fields: dict, actor: Actor) -> models.Patient:
    now = rt.now()
    fields = {"language": "en", "sms_consent": False, "sms_opted_out": False, **fields}
    with rt.transaction() as db:
        patient = models.Patient(**_normalised(fields, now), created_at=now, updated_at=now)
        db.add(patient)
    return patient


def update_patient(rt: Runtime, patient_id: int, fields: dict, actor: Actor) -> models.Patient:
    now = rt.now()
    with rt.transaction() as db:
        patient = get_or_404(db, models.Patient, patient_id, "patient")
        for name, value in _normalised(fields, now, patient).items():
            setattr(patient, name, value)
        patient.updated_at = now
    return patient


def get_patient(rt: Runtime, patient_id: int) -> models.Patient:
    with rt.transaction() as db:
        return get_or_404(db, models.Patient, patient_id, "patient")


def search_patients(rt: Runtime, q: str | None, *, limit: int, offset: int) -> list[models.Patient]:
    """By phone as typed, or by name (each word a prefix of the first or last name), or all; by last name."""
    query = select(models.Patient)
    try:
        query = query.where(models.Patient.phone == to_e164(q or ""))
    except InvalidPhone:
        for word in (q or "").split():
            pattern = word.lower().replace("%", r"\%").replace("_", r"\_") + "%"
            query = query.where(or_(func.lower(models.Patient.first_name).like(pattern, escape="\\"),
                                    func.lower(models.Patient.last_name).like(pattern, escape="\\")))
    query = query.order_by(models.Patient.last_name, models.Patient.first_name, models.Patient.id)
    with rt.transaction() as db:
        return list(db.scalars(query.limit(limit).offset(offset)))
