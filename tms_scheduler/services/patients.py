"""Patient records: intake, search, changes."""
from __future__ import annotations

import unicodedata
from datetime import date, datetime

from sqlalchemy import BigInteger, ColumnElement, cast, func, or_, select
from sqlalchemy.orm import Session

from ..db import models
from ..domain.errors import DuplicatePatient, RuleViolation
from ..domain.phones import InvalidPhone, to_e164
from . import audit
from .actor import Actor
from .lookups import get_or_404
from .runtime import Runtime

LANGUAGES = ("en", "es")
# The first key of the PostgreSQL advisory lock taken while checking for a duplicate ("pt").
_DUPLICATE_LOCK_SPACE = 0x7074


def _normalised(fields: dict, now: datetime, today: date, patient: models.Patient | None = None) -> dict:
    fields = dict(fields)
    if "phone" in fields:
        try:
            fields["phone"] = to_e164(fields["phone"])
        except InvalidPhone as exc:
            raise RuleViolation(f"The phone number is refused: {exc}", {"phone": str(exc)}) from None
    # The clinic's local date: at 17:30 in Los Angeles it is already tomorrow in UTC.
    if "date_of_birth" in fields and fields["date_of_birth"] > today:
        raise RuleViolation("The date of birth is in the future", {"date_of_birth": "must not be in the future"})
    # Consent is recorded with the moment it was given; withdrawing it clears that moment.
    if "sms_consent" in fields and (patient is None or fields["sms_consent"] != patient.sms_consent):
        fields["sms_consent_at"] = now if fields["sms_consent"] else None
    if "sms_opted_out" in fields and (patient is None or fields["sms_opted_out"] != patient.sms_opted_out):
        fields["sms_opted_out_at"] = now if fields["sms_opted_out"] else None
    return fields


def name_key(name: str) -> str:
    """A name as people compare it: case, accents and spacing aside ("José  Núñez" -> "jose nunez")."""
    decomposed = unicodedata.normalize("NFKD", name)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.casefold().split())


def _same_person_as(db: Session, first_name: str, last_name: str, date_of_birth: date,
                    other_than: int | None = None) -> int | None:
    """The id of a patient with the same first and last name (case and accents aside) and birth date.

    Reads only the patients born that day (indexed), and compares their names here: accents
    cannot be ignored the same way in SQLite and PostgreSQL. On PostgreSQL a lock on the birth
    date makes two identical registrations at once check one after the other (SQLite's
    BEGIN IMMEDIATE already does).
    """
    if db.get_bind().dialect.name == "postgresql":
        db.execute(select(func.pg_advisory_xact_lock(
            cast((_DUPLICATE_LOCK_SPACE << 32) + date_of_birth.toordinal(), BigInteger))))
    wanted = (name_key(first_name), name_key(last_name))
    query = select(models.Patient.id, models.Patient.first_name, models.Patient.last_name).where(
        models.Patient.date_of_birth == date_of_birth)
    if other_than is not None:
        query = query.where(models.Patient.id != other_than)
    for patient_id, first, last in db.execute(query.order_by(models.Patient.id)):
        if (name_key(first), name_key(last)) == wanted:
            return patient_id
    return None


def create_patient(rt: Runtime, fields: dict, actor: Actor) -> models.Patient:
    """Registers a patient; one with the name and birth date of another is refused unless `another_person`."""
    now = rt.now()
    fields = {"language": "en", "sms_consent": False, "sms_opted_out": False, **fields}
    another_person = fields.pop("another_person", False)
    fields = _normalised(fields, now, rt.clinic_today())
    with rt.transaction() as db:
        if not another_person:
            existing = _same_person_as(db, fields["first_name"], fields["last_name"], fields["date_of_birth"])
            if existing is not None:
                raise DuplicatePatient(existing)
        patient = models.Patient(**fields, created_at=now, updated_at=now)
        db.add(patient)
        db.flush()
        audit.note(db, actor, now, audit.CREATE, audit.PATIENT, patient.id, patient.id)
    return patient


def update_patient(rt: Runtime, patient_id: int, fields: dict, actor: Actor) -> models.Patient:
    """Changes the fields given; a change that makes the patient another's double is refused unless `another_person`."""
    now = rt.now()
    fields = dict(fields)
    another_person = fields.pop("another_person", False)
    with rt.transaction() as db:
        patient = get_or_404(db, models.Patient, patient_id, "patient")
        changes = _normalised(fields, now, rt.clinic_today(), patient)
        first = changes.get("first_name", patient.first_name)
        last = changes.get("last_name", patient.last_name)
        born = changes.get("date_of_birth", patient.date_of_birth)
        renamed = ((name_key(first), name_key(last), born)
                   != (name_key(patient.first_name), name_key(patient.last_name), patient.date_of_birth))
        if renamed and not another_person:
            existing = _same_person_as(db, first, last, born, other_than=patient.id)
            if existing is not None:
                raise DuplicatePatient(existing)
        if "phone" in changes and changes["phone"] != patient.phone:
            patient.phone_invalid_at = None  # a new number: Twilio's verdict was on the old one
        for name, value in changes.items():
            setattr(patient, name, value)
        patient.updated_at = now
        audit.note(db, actor, now, audit.UPDATE, audit.PATIENT, patient.id, patient.id)
    return patient


def get_patient(rt: Runtime, patient_id: int, actor: Actor) -> models.Patient:
    with rt.reading() as db:
        patient = get_or_404(db, models.Patient, patient_id, "patient")
        audit.note(db, actor, rt.now(), audit.READ, audit.PATIENT, patient.id, patient.id)
        return patient


def matching(q: str | None) -> list[ColumnElement[bool]]:
    """What `q` asks of a patient: the phone as typed, else each word a prefix of the first or last name.

    Patient search and course search both filter with it.
    """
    try:
        return [models.Patient.phone == to_e164(q or "")]
    except InvalidPhone:
        pass
    conditions = []
    for word in (q or "").split():
        pattern = word.lower().replace("%", r"\%").replace("_", r"\_") + "%"
        conditions.append(or_(func.lower(models.Patient.first_name).like(pattern, escape="\\"),
                              func.lower(models.Patient.last_name).like(pattern, escape="\\")))
    return conditions


def search_patients(rt: Runtime, q: str | None, actor: Actor, *, limit: int, offset: int) -> list[models.Patient]:
    """By phone as typed, or by name (each word a prefix of the first or last name), or all; by last name."""
    query = select(models.Patient).where(*matching(q))
    query = query.order_by(models.Patient.last_name, models.Patient.first_name, models.Patient.id)
    with rt.reading() as db:
        found = list(db.scalars(query.limit(limit).offset(offset)))
        audit.note_read(db, actor, rt.now(), audit.PATIENT, [(p.id, p.id) for p in found])
        return found
