"""The tables. Migrations in migrations/ build them; these classes map them."""
from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Time,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from ..domain.lifecycle import COURSE_ACTIVE, SCHEDULED
from .types import UTCDateTime


class Base(DeclarativeBase):
    pass


class HolidayCalendarRow(Base):
    __tablename__ = "holiday_calendars"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    country: Mapped[str | None] = mapped_column(String(2))
    # [{"name": "Thanksgiving Day", "offset_days": 1}, ...] as the holidays package names them
    rules: Mapped[list] = mapped_column(JSON, default=list)


class Site(Base):
    __tablename__ = "sites"

    id: Mapped[str] = mapped_column(String(60), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    timezone: Mapped[str] = mapped_column(String(64))
    offers_tms: Mapped[bool] = mapped_column(Boolean, default=False)
    address: Mapped[str] = mapped_column(String(300), default="")
    phone: Mapped[str] = mapped_column(String(20), default="")
    open_days: Mapped[list] = mapped_column(JSON)  # ISO weekdays, 1 = Monday
    opens: Mapped[time] = mapped_column(Time)
    closes: Mapped[time] = mapped_column(Time)
    holiday_calendar: Mapped[str] = mapped_column(ForeignKey("holiday_calendars.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())

    chairs: Mapped[list[Chair]] = relationship(back_populates="site", order_by="Chair.id")


class Chair(Base):
    __tablename__ = "chairs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    coil: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # From this local day on the chair takes no sessions (a repair, a move).
    out_of_service_from: Mapped[date | None] = mapped_column(Date)

    site: Mapped[Site] = relationship(back_populates="chairs")

    __table_args__ = (UniqueConstraint("site_id", "name"),)


class Closure(Base):
    __tablename__ = "closures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"))
    date: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())

    __table_args__ = (UniqueConstraint("site_id", "date"),)


class Protocol(Base):
    __tablename__ = "protocols"

    id: Mapped[str] = mapped_column(String(60), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    coil: Mapped[str] = mapped_column(String(20))
    phases: Mapped[list] = mapped_column(JSON)  # [{"sessions": 30, "days_per_week": 5}, ...]
    mapping_minutes: Mapped[int] = mapped_column(Integer)
    session_minutes: Mapped[int] = mapped_column(Integer)
    sessions_per_day: Mapped[int] = mapped_column(Integer, default=1)
    min_gap_minutes: Mapped[int] = mapped_column(Integer, default=0)
    total_sessions: Mapped[int] = mapped_column(Integer)


class Patient(Base):
    __tablename__ = "patients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    date_of_birth: Mapped[date] = mapped_column(Date)
    phone: Mapped[str] = mapped_column(String(20))  # E.164
    language: Mapped[str] = mapped_column(String(2), default="en")
    sms_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    sms_consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sms_opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    sms_opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When Twilio called the number invalid (error 21211); cleared when the phone changes.
    phone_invalid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())

    __table_args__ = (
        Index("ix_patients_last_first", "last_name", "first_name"),
        Index("ix_patients_phone", "phone"),
        # Registration looks for a patient of the same name among those born that day.
        Index("ix_patients_date_of_birth", "date_of_birth"),
    )


class Course(Base):
    __tablename__ = "courses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"))
    protocol_id: Mapped[str] = mapped_column(ForeignKey("protocols.id"))
    status: Mapped[str] = mapped_column(String(20), default=COURSE_ACTIVE)
    start_date: Mapped[date] = mapped_column(Date)
    preferred_time: Mapped[time] = mapped_column(Time)
    payer: Mapped[str | None] = mapped_column(String(120))
    authorization_number: Mapped[str | None] = mapped_column(String(60))
    authorized_sessions: Mapped[int | None] = mapped_column(Integer)
    authorization_valid_from: Mapped[date | None] = mapped_column(Date)
    authorization_valid_to: Mapped[date | None] = mapped_column(Date)
    authorization_override_reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    # A paused course stays active (the patient keeps it); its future sessions were released.
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    sessions: Mapped[list[TreatmentSession]] = relationship(
        back_populates="course", order_by="TreatmentSession.number", lazy="raise"
    )
    # Loaded with the course where it is answered (its name); never one query per course.
    patient: Mapped[Patient] = relationship(lazy="raise")

    __table_args__ = (
        # A patient has at most one active course, whatever the concurrency.
        Index("uq_courses_one_active_per_patient", "patient_id", unique=True,
              sqlite_where=text("status = 'active'"), postgresql_where=text("status = 'active'")),
        Index("ix_courses_site_status", "site_id", "status"),
        Index("ix_courses_patient_id", "patient_id"),
        Index("ix_courses_protocol_id", "protocol_id"),
        Index("ix_courses_created_by", "created_by"),
    )


class TreatmentSession(Base):
    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"))
    number: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default=SCHEDULED)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"))
    chair_id: Mapped[int] = mapped_column(ForeignKey("chairs.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    # Who cancelled it: one of domain.lifecycle.CANCELLED_BY.
    cancelled_by: Mapped[str | None] = mapped_column(String(20))
    makeup_for_id: Mapped[int | None] = mapped_column(ForeignKey("sessions.id"))
    # When the patient confirmed it by text (C or CONFIRM).
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    course: Mapped[Course] = relationship(back_populates="sessions")

    @property
    def minutes(self) -> int:
        return int((self.ends_at - self.starts_at).total_seconds() // 60)

    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ck_sessions_positive_length"),
        UniqueConstraint("course_id", "number"),
        Index("ix_sessions_chair_starts", "chair_id", "starts_at"),
        Index("ix_sessions_site_starts", "site_id", "starts_at"),
        Index("ix_sessions_course_id", "course_id"),
        Index("ix_sessions_status_ends", "status", "ends_at"),
        Index("ix_sessions_makeup_for_id", "makeup_for_id"),
    )


class SessionEvent(Base):
    """One change of a session: kept forever, never updated."""

    __tablename__ = "session_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None: the scheduler
    action: Mapped[str] = mapped_column(String(30))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    from_starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    to_starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    from_chair_id: Mapped[int | None] = mapped_column(Integer)
    to_chair_id: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_session_events_session_id", "session_id"),
        Index("ix_session_events_user_id", "user_id"),
    )


class CourseEvent(Base):
    """One change of a course (pause, resume, cancel, an authorization override): kept forever."""

    __tablename__ = "course_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(30))
    reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_course_events_course_id", "course_id"),
        Index("ix_course_events_user_id", "user_id"),
    )


class TreatmentRecord(Base):
    __tablename__ = "treatment_records"

    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id"), primary_key=True)
    motor_threshold: Mapped[int] = mapped_column(Integer)  # % of machine output
    intensity: Mapped[int] = mapped_column(Integer)  # % of motor threshold
    frequency: Mapped[float | None] = mapped_column(Float)  # Hz
    pulses: Mapped[int | None] = mapped_column(Integer)
    coil_position: Mapped[str | None] = mapped_column(String(200))
    side_effects: Mapped[list] = mapped_column(JSON, default=list)
    discomfort: Mapped[int | None] = mapped_column(Integer)  # 0-10
    technician_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    supervising_physician: Mapped[str | None] = mapped_column(String(200))
    notes: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Assessment(Base):
    __tablename__ = "assessments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"))
    instrument: Mapped[str] = mapped_column(String(20))
    score: Mapped[int] = mapped_column(Integer)
    taken_on: Mapped[date] = mapped_column(Date)
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_assessments_course_id", "course_id"),
        Index("ix_assessments_recorded_by", "recorded_by"),
    )


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())


class AuthToken(Base):
    __tablename__ = "auth_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Only the SHA-256 of the bearer token is kept: a leaked table signs nobody in.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(lazy="joined")


class SignInFailure(Base):
    """A failed sign-in, kept 15 minutes to slow down password guessing."""

    __tablename__ = "sign_in_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_sign_in_failures_username_at", "username", "at"),)


class ReminderPolicy(Base):
    """A site's text reminder policy; a site without one follows the default (DOMAIN.md)."""

    __tablename__ = "reminder_policies"

    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), primary_key=True)
    rules: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # [{"applies_to": "first", "minutes_before": 2880}]
    digest_weekday: Mapped[int | None] = mapped_column(Integer)  # ISO weekday of the weekly digest, or none
    digest_time: Mapped[time | None] = mapped_column(Time)
    quiet_start: Mapped[time] = mapped_column(Time)
    quiet_end: Mapped[time] = mapped_column(Time)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())


class Reminder(Base):
    """A text the policy owes a patient (the outbox): planned with the change that causes it, sent once."""

    __tablename__ = "reminders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"))
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id"))
    session_id: Mapped[int | None] = mapped_column(ForeignKey("sessions.id"))  # none for a weekly digest
    kind: Mapped[str] = mapped_column(String(20))  # domain.reminders.KINDS
    minutes_before: Mapped[int | None] = mapped_column(Integer)
    digest_week: Mapped[date | None] = mapped_column(Date)  # the Monday of the week a digest tells of
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)  # when the policy wants it sent
    send_at: Mapped[datetime] = mapped_column(UTCDateTime)  # when it may go: due_at outside quiet hours
    status: Mapped[str] = mapped_column(String(20))  # domain.reminders.STATUSES
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    leased_by: Mapped[str | None] = mapped_column(String(80))
    twilio_sid: Mapped[str | None] = mapped_column(String(64))
    error_code: Mapped[int | None] = mapped_column(Integer)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())

    __table_args__ = (
        # The dispatcher's claim: pending reminders by the moment they may go.
        Index("ix_reminders_pending_send_at", "send_at", sqlite_where=text("status = 'pending'"),
              postgresql_where=text("status = 'pending'")),
        Index("ix_reminders_session_id", "session_id"),
        Index("ix_reminders_course_id", "course_id"),
        Index("ix_reminders_patient_id", "patient_id"),
        Index("ix_reminders_site_id", "site_id"),
        Index("ix_reminders_twilio_sid", "twilio_sid"),
        # One weekly digest per patient and week, whatever the number of schedulers.
        Index("uq_reminders_digest", "patient_id", "digest_week", unique=True,
              sqlite_where=text("kind = 'digest'"), postgresql_where=text("kind = 'digest'")),
    )


class Message(Base):
    """A text to or from a patient, as the front desk sees it; every send attempt of a reminder is one."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))  # none: a number we do not know
    direction: Mapped[str] = mapped_column(String(3))  # "out" or "in"
    phone: Mapped[str] = mapped_column(String(20))  # the patient's side, E.164
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    twilio_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    reminder_id: Mapped[int | None] = mapped_column(ForeignKey("reminders.id"))
    error_code: Mapped[int | None] = mapped_column(Integer)
    reply: Mapped[str | None] = mapped_column(Text)  # what the service answered an inbound text
    at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_messages_patient_at", "patient_id", "at"),
        Index("ix_messages_reminder_id", "reminder_id"),
    )


class Callback(Base):
    """Something for the front desk to call a patient about: an R reply, a text the service could not
    act on, a number Twilio called invalid."""

    __tablename__ = "callbacks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str | None] = mapped_column(ForeignKey("sites.id"))  # none: not known whose site
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    reason: Mapped[str] = mapped_column(String(30))  # domain.reminders.CALLBACK_REASONS
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    __table_args__ = (
        Index("ix_callbacks_site_open", "site_id", "done_at"),
        Index("ix_callbacks_patient_id", "patient_id"),
        Index("ix_callbacks_message_id", "message_id"),
        Index("ix_callbacks_done_by", "done_by"),
    )


class AuditEvent(Base):
    """One read or change of patient data, or one sign-in: append only (the database refuses UPDATE
    and DELETE on it). No foreign keys: the record outlives what it names."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    user_id: Mapped[int | None] = mapped_column(Integer)
    username: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(30))
    entity: Mapped[str] = mapped_column(String(30))
    entity_id: Mapped[str | None] = mapped_column(String(60))
    patient_id: Mapped[int | None] = mapped_column(Integer)
    request_id: Mapped[str | None] = mapped_column(String(128))
    client_ip: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_audit_events_at", "at"),
        Index("ix_audit_events_patient_at", "patient_id", "at"),
        Index("ix_audit_events_user_at", "user_id", "at"),
    )
