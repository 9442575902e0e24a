"""What Twilio tells the service: delivery statuses of the texts sent, and the patients' own texts.

Both are safe to receive twice: a status only ever moves a message forward, and a text already
received (the same MessageSid) is answered as it was the first time and changes nothing again.
The answer to a patient's text goes back in the webhook's own answer (TwiML), never as a new
message.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..db import models
from ..domain import lifecycle, reminders, texts
from ..domain.phones import InvalidPhone, to_e164
from . import audit
from .actor import PATIENT_BY_TEXT, TWILIO
from .runtime import Runtime
from .session_changes import SessionChanges


def record_status(rt: Runtime, sid: str, twilio_status: str, error_code: int | None) -> bool:
    """Twilio's report on a text sent; answers whether it changed anything (never backwards)."""
    reported = reminders.TWILIO_STATUSES.get(twilio_status)
    if reported is None:
        return False
    now = rt.now()
    changed = False
    error = error_code if reported in (reminders.FAILED, reminders.UNDELIVERED) else None
    with rt.transaction() as db:
        message = db.scalar(select(models.Message).where(models.Message.twilio_sid == sid).with_for_update())
        if message is not None and reminders.moves_forward(message.status, reported):
            message.status, message.error_code = reported, error
            audit.note(db, TWILIO, now, audit.UPDATE, audit.MESSAGE, message.id, message.patient_id)
            changed = True
        reminder = db.scalar(select(models.Reminder).where(models.Reminder.twilio_sid == sid).with_for_update())
        if reminder is not None and reminders.moves_forward(reminder.status, reported):
            reminder.status, reminder.error_code, reminder.updated_at = reported, error, now
            changed = True
    return changed


@dataclass(frozen=True)
class Sender:
    """Who texted: the patient the number belongs to (if any), and the site that is theirs now."""

    patient: models.Patient | None
    site: models.Site | None
    next_session: models.TreatmentSession | None


def receive_text(rt: Runtime, *, sid: str, phone: str, body: str) -> str | None:
    """Acts on a patient's text once; answers the reply to send back, or None for no reply."""
    try:
        with rt.transaction() as db:
            answered = db.scalar(select(models.Message.reply).where(models.Message.twilio_sid == sid,
                                                                     models.Message.direction == "in"))
            if answered is not None or _seen(db, sid):
                return answered
            return _act(rt, db, sid=sid, phone=_e164(phone), body=body)
    except IntegrityError:  # the same text, delivered twice at once: the other delivery acted on it
        with rt.sessions() as db:
            return db.scalar(select(models.Message.reply).where(models.Message.twilio_sid == sid))


def _seen(db: Session, sid: str) -> bool:
    return db.scalar(select(models.Message.id).where(models.Message.twilio_sid == sid)) is not None


def _e164(phone: str) -> str:
    try:
        return to_e164(phone)
    except InvalidPhone:
        return phone[:20]


def _who(db: Session, phone: str, rt: Runtime) -> tuple[list[models.Patient], Sender]:
    """The patients with this number, and the one a reply is about: the one with the soonest visit."""
    now = rt.now()
    patients = list(db.scalars(select(models.Patient).where(models.Patient.phone == phone).order_by(models.Patient.id)))
    if not patients:
        return [], Sender(None, None, None)
    S, C = models.TreatmentSession, models.Course
    upcoming = db.execute(
        select(S, C.patient_id).join(C, C.id == S.course_id)
        .where(C.patient_id.in_([p.id for p in patients]), S.status == lifecycle.SCHEDULED, S.starts_at > now)
        .order_by(S.starts_at).limit(1)).first()
    if upcoming is not None:
        session, patient_id = upcoming
        patient = next(p for p in patients if p.id == patient_id)
        return patients, Sender(patient, db.get(models.Site, session.site_id), session)
    latest = db.execute(select(C.patient_id, C.site_id).where(C.patient_id.in_([p.id for p in patients]))
                        .order_by(C.created_at.desc(), C.id.desc()).limit(1)).first()
    if latest is not None:
        patient = next(p for p in patients if p.id == latest[0])
        return patients, Sender(patient, db.get(models.Site, latest[1]), None)
    return patients, Sender(patients[0], None, None)


def _act(rt: Runtime, db: Session, *, sid: str, phone: str, body: str) -> str | None:
    now = rt.now()
    patients, sender = _who(db, phone, rt)
    patient, site = sender.patient, sender.site
    meaning = reminders.meaning_of(body)
    language = patient.language if patient else "en"

    def answer(what: str, starts_at: datetime | None = None) -> str:
        return texts.reply(language, what, first_name=patient.first_name if patient else None,
                           site_name=site.name if site else None, site_phone=site.phone if site else None,
                           starts_at=starts_at)

    reply: str | None
    callback: str | None = None
    if meaning == reminders.OPT_OUT:
        _set_opted_out(db, patients, True, rt)
        reply = answer("opted_out")
    elif meaning == reminders.OPT_IN:
        _set_opted_out(db, patients, False, rt)
        reply = answer("opted_in")
    elif meaning == reminders.HELP:
        reply = answer("help")
    elif patient is not None and patient.sms_opted_out:
        reply = None  # after an opt-out, no texts: what they wrote is kept for the front desk
        callback = reminders.CALL_BACK if meaning == reminders.CALL_BACK_REQUEST else reminders.UNHANDLED_TEXT
    elif meaning == reminders.CONFIRM and sender.next_session is not None and site is not None:
        SessionChanges(db, PATIENT_BY_TEXT, now).confirm(sender.next_session, reason="the patient replied C")
        reply = answer("confirmed", sender.next_session.starts_at.astimezone(ZoneInfo(site.timezone)))
    elif meaning == reminders.CONFIRM:
        reply = answer("nothing_to_confirm")
    elif meaning == reminders.CALL_BACK_REQUEST:
        callback, reply = reminders.CALL_BACK, answer("callback")
    else:
        callback, reply = reminders.UNHANDLED_TEXT, answer("other")
    message = models.Message(patient_id=patient.id if patient else None, direction="in", phone=phone, body=body,
                             status="received", twilio_sid=sid, reply=reply, at=now)
    db.add(message)
    db.flush()
    audit.note(db, PATIENT_BY_TEXT, now, audit.CREATE, audit.MESSAGE, message.id, patient.id if patient else None)
    if callback is not None:
        db.add(models.Callback(site_id=site.id if site else None, patient_id=patient.id if patient else None,
                               reason=callback, message_id=message.id, created_at=now))
    return reply


def _set_opted_out(db: Session, patients: list[models.Patient], opted_out: bool, rt: Runtime) -> None:
    """An opt-out (or back in) is the number's: every patient with it."""
    now = rt.now()
    ids = [p.id for p in patients if p.sms_opted_out != opted_out]
    for patient_id in ids:
        audit.note(db, PATIENT_BY_TEXT, now, audit.UPDATE, audit.PATIENT, patient_id, patient_id)
    if ids:
        db.execute(update(models.Patient).where(models.Patient.id.in_(ids))
                   .values(sms_opted_out=opted_out, sms_opted_out_at=now if opted_out else None, updated_at=now)
                   .execution_options(synchronize_session="fetch"))
