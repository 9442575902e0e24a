"""What the API reads and answers. Unknown fields are refused (marshmallow's default)."""
from __future__ import annotations

import re

from marshmallow import EXCLUDE, Schema, ValidationError, pre_load, validate

from ..domain import reminders
from ..domain.booking import MAX_SEARCH_WEEKS, MAX_STARTS_WANTED, SEARCH_WEEKS, STARTS_WANTED
from ..domain.lifecycle import CANCELLED_BY, CANCELLERS, COURSE_STATUSES, SESSION_STATUSES
from ..domain.outcomes import SEVERITY_BANDS
from ..domain.planning import SESSION_KINDS
from ..domain.progress import FLAG_ORDER as FLAG_CODES
from ..domain.protocols import COILS
from ..domain.roles import ROLES
from . import fields
from .inputs import MAX_ID, MAX_PAGE, OFFSET_RANGE, SLUG_PATTERN

SLUG = validate.Regexp(SLUG_PATTERN, error="a slug: lower-case letters, digits and single hyphens")
HHMM = "%H:%M"
HHMM_PATTERN = r"^([01]\d|2[0-3]):[0-5]\d$"
HHMM_TEXT = validate.Regexp(HHMM_PATTERN, error="HH:MM, 00:00 to 23:59")
_HHMM = re.compile(HHMM_PATTERN)
# An IANA zone name (America/Los_Angeles, UTC, Etc/GMT+8); the service checks it names a known zone.
ZONE = validate.Regexp(r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$",
                       error="an IANA time zone name, like America/Los_Angeles")
E164 = validate.Regexp(r"^\+[1-9]\d{1,14}$", error="a phone number in E.164, like +17145550100")
E164_OR_EMPTY = validate.Regexp(r"^(\+[1-9]\d{1,14})?$", error="a phone number in E.164, or empty for none")
# A phone as people type it, as the description says it: digits, +, spaces, brackets, dots and hyphens.
# domain/phones.py reads it and says why when it refuses one (letters, an extension, no such number).
TYPED_PHONE = r"^[0-9+(). \-]*$"
SEVERITIES = tuple(label for _, label in SEVERITY_BANDS)
# Each vocabulary of the clinic, from the one place in domain/ it lives, under the name the OpenAPI
# description gives it: every field taking one of these refers to it (api/openapi.py).
ENUMS: dict[str, tuple[str, ...]] = {
    "SessionStatus": SESSION_STATUSES,
    "SessionKind": SESSION_KINDS,
    "CancelledBy": CANCELLED_BY,
    "Canceller": CANCELLERS,
    "CourseStatus": COURSE_STATUSES,
    "Role": ROLES,
    "Coil": COILS,
    "FlagCode": FLAG_CODES,
    "ReminderKind": reminders.KINDS,
    "ReminderRuleKind": reminders.APPLIES_TO,
    "ReminderStatus": reminders.STATUSES,
    "CallbackReason": reminders.CALLBACK_REASONS,
    "Phq9Severity": SEVERITIES,
}


class LocalTime(fields.Time):
    """A local wall-clock time as HH:MM (two digits each, 00:00 to 23:59)."""

    default_error_messages = {"hhmm": "must be HH:MM, 00:00 to 23:59"}

    def __init__(self, **kwargs):
        metadata = {"pattern": HHMM_PATTERN, "example": "09:00", **kwargs.pop("metadata", {})}
        super().__init__(format=HHMM, metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or _HHMM.match(value) is None:
            raise self.make_error("hhmm")
        return super()._deserialize(value, attr, data, **kwargs)


class Answer(Schema):
    """What the API answers. Every field is in every answer (null where it allows null) but those
    named in `sometimes`: the OpenAPI description lists the others as required (api/openapi.py)."""

    sometimes: tuple[str, ...] = ()


class NotEmpty(Schema):
    """A change (PATCH) names at least one field to change: an empty body is refused (422)."""

    @pre_load
    def _something_to_change(self, data, **kwargs):
        if isinstance(data, dict) and not data:
            raise ValidationError("send at least one field to change")
        return data


class Error(Answer):
    """Every refusal, 4xx and 5xx alike."""

    sometimes: tuple[str, ...] = ("errors",)

    code = fields.Integer(metadata={"description": "the HTTP status"})
    status = fields.String(metadata={"description": "the status's name (Conflict, Unprocessable Entity...)"})
    message = fields.String(metadata={"description": "why, in words"})
    errors = fields.Dict(keys=fields.String(), values=fields.String(), metadata={
        "description": "what each refused field was refused for, by its path: {\"phases.0.sessions\": \"...\"} "
                       "(dots between levels, a list item by its index; `_schema`: the body or query string as a "
                       "whole; several reasons for one field joined by a space); left out when no field is to blame"})


ApiError = Error  # the name it had before


class Conflict(Answer):
    date = fields.Date()
    reason = fields.String()


class NextStart(Answer):
    date = fields.Date(metadata={"description": "the start date (the course's first session)"})
    time = LocalTime(metadata={"description": "HH:MM, the site's local time: the time asked when it fits, "
                                              "else the nearest that does (the earlier of two as near)"})
    chair_ids = fields.List(fields.Id(),
                            metadata={"description": "the chairs the course would use, most used first"})


class BookingConflictError(Error):
    """A 409 for a booking: when some session found no free chair, the days and the times that fit;
    an active course the patient has already is a 409 without them."""

    sometimes: tuple[str, ...] = ("errors", "conflicts", "alternatives", "next_start")

    conflicts = fields.List(fields.Nested(Conflict))
    alternatives = fields.List(fields.String(validate=HHMM_TEXT),
                               metadata={"description": "start times (HH:MM) at which the whole course fits"})
    next_start = fields.Nested(NextStart, allow_none=True, metadata={
        "description": "when no start time that day fits (`alternatives` empty): the next later start date at which "
                       f"the whole course fits, at or near the preferred time, searched up to {SEARCH_WEEKS} weeks "
                       "after the start date; null when there are alternatives or no date within those weeks fits"})


# --- health

class Health(Answer):
    status = fields.String(validate=validate.OneOf(("ok",)))


class Ready(Answer):
    status = fields.String(validate=validate.OneOf(("ready",)))
    migration = fields.String(metadata={"description": "the database's migration, the newest this code knows"})


class NotReady(Answer):
    status = fields.String(validate=validate.OneOf(("unavailable",)))
    reason = fields.String(metadata={"description": "the database unreachable, or at another migration"})


# --- auth and users

class TokenRequest(Schema):
    username = fields.String(required=True, validate=validate.Length(1, 80))
    password = fields.String(required=True, validate=validate.Length(1, 200), load_only=True)


class Token(Answer):
    token = fields.String()
    expires_at = fields.AwareDateTime()
    role = fields.String(validate=validate.OneOf(ROLES))


class UserCreate(Schema):
    username = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_.@-]{2,80}$"))
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    password = fields.String(required=True, load_only=True, validate=validate.Length(12, 200))


class User(Answer):
    id = fields.Id()
    username = fields.String()
    role = fields.String(validate=validate.OneOf(ROLES))


# --- sites, chairs, closures, protocols

class SiteFields(Schema):
    name = fields.String(validate=validate.Length(1, 120))
    timezone = fields.String(validate=[validate.Length(1, 64), ZONE], metadata={"description": "IANA zone"})
    offers_tms = fields.Boolean()
    address = fields.String(free_text=True, validate=validate.Length(0, 300))
    phone = fields.String(validate=validate.Length(0, 30),
                          metadata={"description": "answered in E.164; US numbers as typed; letters and extensions "
                                                   "are refused; empty for none", "pattern": TYPED_PHONE})
    open_days = fields.List(fields.Integer(validate=validate.Range(1, 7)), validate=validate.Length(1, 7),
                            metadata={"description": "ISO weekdays, 1 = Monday"})
    opens = LocalTime()
    closes = LocalTime()
    holiday_calendar = fields.String(validate=validate.Length(1, 40))


class SitePatch(SiteFields, NotEmpty):
    pass


class Site(SiteFields, Answer):
    id = fields.String(validate=SLUG)
    phone = fields.String(validate=E164_OR_EMPTY, metadata={"description": "E.164; empty for none"})


class SiteCreate(SiteFields):
    id = fields.String(required=True, validate=[validate.Length(1, 60), SLUG])
    name = fields.String(required=True, validate=validate.Length(1, 120))
    timezone = fields.String(required=True, validate=[validate.Length(1, 64), ZONE])
    opens = LocalTime(required=True)
    closes = LocalTime(required=True)


class ChairCreate(Schema):
    name = fields.String(required=True, validate=validate.Length(1, 120))
    coil = fields.String(required=True, validate=validate.OneOf(COILS))
    active = fields.Boolean(load_default=True)


class Chair(Answer):
    id = fields.Id()
    name = fields.String()
    coil = fields.String(validate=validate.OneOf(COILS))
    active = fields.Boolean()
    out_of_service_from = fields.Date(allow_none=True,
                                      metadata={"description": "the chair takes no sessions from this day"})


class ChairPatch(NotEmpty):
    name = fields.String(validate=validate.Length(1, 120))
    active = fields.Boolean()
    out_of_service_from = fields.Date(allow_none=True, metadata={"description": "null puts the chair back in service"})


class Session(Answer):
    id = fields.Id()
    course_id = fields.Id()
    number = fields.Integer()
    kind = fields.String(validate=validate.OneOf(SESSION_KINDS))
    status = fields.String(validate=validate.OneOf(SESSION_STATUSES))
    site_id = fields.String(validate=SLUG)
    chair_id = fields.Id()
    starts_at = fields.AwareDateTime(metadata={"description": "RFC 3339 in the site's zone"})
    ends_at = fields.AwareDateTime()
    cancelled_by = fields.String(allow_none=True, validate=validate.OneOf(CANCELLED_BY),
                                 metadata={"description": "who cancelled it: the patient, the clinic, a closure "
                                                          "nobody moved, a pause, or the course's cancellation"})
    makeup_for_id = fields.Id(allow_none=True, metadata={"description": "the session this one replaces"})
    confirmed_at = fields.AwareDateTime(allow_none=True, metadata={"description": "when the patient replied C"})


class SessionMove(Answer):
    session_id = fields.Id()
    course_id = fields.Id()
    from_starts_at = fields.AwareDateTime()
    from_chair_id = fields.Id()
    to_starts_at = fields.AwareDateTime()
    to_chair_id = fields.Id()


class ClosureCreate(Schema):
    date = fields.Date(required=True)
    reason = fields.String(required=True, free_text=True, validate=validate.Length(1, 300))
    replan = fields.Boolean(load_default=False, load_only=True,
                            metadata={"description": "move the affected sessions to other days"})


class Closure(Answer):
    date = fields.Date()
    reason = fields.String()


class ClosureCreated(Closure):
    affected_sessions = fields.List(fields.Nested(Session))
    moves = fields.List(fields.Nested(SessionMove))


class ClosureQuery(Schema):
    since = fields.Date(metadata={"description": "only closures on or after this day"})


class Phase(Schema):
    sessions = fields.Integer(required=True, validate=validate.Range(1, 200))
    days_per_week = fields.Integer(required=True, validate=validate.Range(1, 7))


class ProtocolCreate(Schema):
    id = fields.String(required=True, validate=[validate.Length(1, 60), SLUG])
    name = fields.String(required=True, validate=validate.Length(1, 200))
    coil = fields.String(required=True, validate=validate.OneOf(COILS))
    phases = fields.List(fields.Nested(Phase), required=True, validate=validate.Length(1, 10),
                         metadata={"description": "the daily phase first, then the taper's phases"})
    mapping_minutes = fields.Integer(required=True, validate=validate.Range(1, 480))
    session_minutes = fields.Integer(required=True, validate=validate.Range(1, 480))
    sessions_per_day = fields.Integer(load_default=1, validate=validate.Range(1, 20))
    min_gap_minutes = fields.Integer(load_default=0, validate=validate.Range(0, 600))


class Protocol(ProtocolCreate, Answer):
    total_sessions = fields.Integer()


# --- patients

class PatientFields(Schema):
    first_name = fields.String(validate=validate.Length(1, 100))
    last_name = fields.String(validate=validate.Length(1, 100))
    date_of_birth = fields.Date(metadata={"description": "1900-01-01 at the earliest"})
    phone = fields.String(validate=validate.Length(1, 30),
                          metadata={"description": "answered in E.164; US numbers as typed; letters and extensions "
                                                   "are refused", "pattern": TYPED_PHONE})
    language = fields.String(validate=validate.OneOf(("en", "es")))
    sms_consent = fields.Boolean()
    sms_opted_out = fields.Boolean()
    another_person = fields.Boolean(load_default=False, load_only=True, metadata={
        "description": "true: this is another person than the patient with the same name (case and accents aside) "
                       "and date of birth; without it such a patient is refused with 409"})


class PatientCreate(PatientFields):
    first_name = fields.String(required=True, validate=validate.Length(1, 100))
    last_name = fields.String(required=True, validate=validate.Length(1, 100))
    date_of_birth = fields.Date(required=True)
    phone = fields.String(required=True, validate=validate.Length(1, 30), metadata={"pattern": TYPED_PHONE})


class PatientPatch(PatientFields, NotEmpty):
    pass


class Patient(PatientFields, Answer):
    class Meta:
        exclude = ("another_person",)

    id = fields.Id()
    phone = fields.String(validate=E164, metadata={"description": "E.164"})
    sms_consent_at = fields.AwareDateTime(allow_none=True)
    phone_invalid_at = fields.AwareDateTime(allow_none=True,
                                            metadata={"description": "when Twilio called the number invalid"})


class DuplicatePatientError(Error):
    existing_patient_id = fields.Id(metadata={"description": "the patient with the same name and date of birth"})


WORKLIST_PAGE = 100


class Paging(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(1, MAX_PAGE))
    offset = fields.Integer(load_default=0, validate=OFFSET_RANGE)


class PatientQuery(Paging):
    q = fields.String(validate=validate.Length(0, 100), metadata={"description": "name prefix or phone"})


# --- courses

class Authorization(Schema):
    payer = fields.String(allow_none=True, validate=validate.Length(0, 120))
    number = fields.String(allow_none=True, validate=validate.Length(0, 60))
    sessions = fields.Integer(allow_none=True, validate=validate.Range(1, 500))
    valid_from = fields.Date(allow_none=True)
    valid_to = fields.Date(allow_none=True)
    override_reason = fields.String(allow_none=True, free_text=True, validate=validate.Length(1, 1000),
                                    metadata={"description": "books beyond the authorization; recorded"})


class CourseAuthorization(Authorization, Answer):
    """A course's authorization as answered: every field there, null where not given."""


class CourseCreate(Schema):
    patient_id = fields.Id(required=True, strict=True)
    site_id = fields.String(required=True, validate=validate.Length(1, 60))
    protocol_id = fields.String(required=True, validate=validate.Length(1, 60))
    start_date = fields.Date(required=True)
    preferred_time = LocalTime(required=True, metadata={"description": "HH:MM, the site's local time"})
    authorization = fields.Nested(Authorization, allow_none=True)


class CoursePatient(Answer):
    id = fields.Id()
    name = fields.String(metadata={"description": "first and last name"})


class Course(Answer):
    id = fields.Id()
    patient_id = fields.Id()
    patient = fields.Nested(CoursePatient)
    site_id = fields.String(validate=SLUG)
    protocol_id = fields.String(validate=SLUG)
    status = fields.String(validate=validate.OneOf(COURSE_STATUSES))
    start_date = fields.Date()
    preferred_time = LocalTime()
    authorization = fields.Nested(CourseAuthorization, allow_none=True)
    paused = fields.Boolean()
    sessions = fields.List(fields.Nested(Session), metadata={"description": "in time order"})


class CourseQuery(Paging):
    patient_id = fields.Id()
    site_id = fields.String()
    status = fields.String(validate=validate.OneOf(COURSE_STATUSES))
    q = fields.String(validate=validate.Length(0, 100),
                      metadata={"description": "the patient's phone as typed, or name prefixes (each word a prefix "
                                               "of the first or last name)"})


# --- the day board and availability

class BoardPatient(Answer):
    id = fields.Id()
    name = fields.String()


class BoardSession(Answer):
    id = fields.Id()
    starts_at = fields.AwareDateTime()
    ends_at = fields.AwareDateTime()
    status = fields.String(validate=validate.OneOf(SESSION_STATUSES))
    confirmed_at = fields.AwareDateTime(allow_none=True, metadata={"description": "when the patient replied C"})
    kind = fields.String(validate=validate.OneOf(SESSION_KINDS))
    course_id = fields.Id()
    patient = fields.Nested(BoardPatient)


class BoardChair(Answer):
    id = fields.Id()
    name = fields.String()
    coil = fields.String(validate=validate.OneOf(COILS))
    active = fields.Boolean()
    sessions = fields.List(fields.Nested(BoardSession))


class Board(Answer):
    site_id = fields.String(validate=SLUG)
    date = fields.Date()
    closed = fields.Boolean(metadata={"description": "the site treats nobody that day; its sessions are to move"})
    closed_reason = fields.String(allow_none=True,
                                  metadata={"description": "a closure's reason, a holiday, or a weekday it is shut"})
    chairs = fields.List(fields.Nested(BoardChair))


class BoardQuery(Schema):
    date = fields.Date(required=True)


class AvailabilityQuery(Schema):
    protocol_id = fields.String(required=True)
    start_date = fields.Date(required=True)


class AvailableTime(Answer):
    time = LocalTime()
    chair_ids = fields.List(fields.Id())


class Availability(Answer):
    times = fields.List(fields.Nested(AvailableTime))


class NextStartQuery(Schema):
    protocol_id = fields.String(required=True)
    from_date = fields.Date(required=True, metadata={"description": "the first start date tried; not in the past "
                                                                    "(the site's local date)"})
    time = LocalTime(required=True, metadata={"description": "HH:MM, the site's local time the course should start at"})
    site_id = fields.String(metadata={"description": "one TMS site; without it, every TMS site with a chair for the "
                                                     "protocol"})
    limit = fields.Integer(load_default=STARTS_WANTED, validate=validate.Range(1, MAX_STARTS_WANTED), metadata={
        "description": f"start dates answered per site (default {STARTS_WANTED}, at most {MAX_STARTS_WANTED})"})
    weeks = fields.Integer(load_default=SEARCH_WEEKS, validate=validate.Range(1, MAX_SEARCH_WEEKS), metadata={
        "description": f"weeks searched from from_date (default {SEARCH_WEEKS}, at most {MAX_SEARCH_WEEKS}); "
                       "the search stops there"})


class SiteStart(NextStart):
    site_id = fields.String(validate=SLUG)


class NextStarts(Answer):
    starts = fields.List(fields.Nested(SiteStart), metadata={
        "description": "per site (in id order), its earliest start dates in order; a site with no date that fits "
                       "within the weeks searched has none"})


# --- attendance (sessions' lifecycle)

SIDE_EFFECTS = ("headache", "scalp_discomfort", "other")


class Complete(Schema):
    motor_threshold = fields.Integer(required=True, validate=validate.Range(1, 100),
                                     metadata={"description": "% of machine output"})
    intensity = fields.Integer(required=True, validate=validate.Range(1, 200), metadata={"description": "% of MT"})
    frequency = fields.Float(validate=validate.Range(0.1, 100), metadata={"description": "Hz"})
    pulses = fields.Integer(validate=validate.Range(1, 20000))
    coil_position = fields.String(validate=validate.Length(1, 200))
    side_effects = fields.List(fields.String(validate=validate.OneOf(SIDE_EFFECTS)), validate=validate.Length(0, 3))
    discomfort = fields.Integer(validate=validate.Range(0, 10), metadata={"description": "0-10"})
    supervising_physician = fields.String(validate=validate.Length(1, 200))
    notes = fields.String(free_text=True, validate=validate.Length(0, 5000))


class TreatmentRecord(Complete, Answer):
    session_id = fields.Id()
    technician_id = fields.Id()
    recorded_at = fields.AwareDateTime()
    # What the technician left out is null.
    frequency = fields.Float(allow_none=True, metadata={"description": "Hz"})
    pulses = fields.Integer(allow_none=True)
    coil_position = fields.String(allow_none=True)
    discomfort = fields.Integer(allow_none=True, metadata={"description": "0-10"})
    supervising_physician = fields.String(allow_none=True)
    notes = fields.String(allow_none=True)


class Override(Schema):
    override_reason = fields.String(free_text=True, validate=validate.Length(1, 1000),
                                    metadata={"description": "goes beyond the authorization anyway; recorded"})


class CancelSession(Override):
    reason = fields.String(required=True, free_text=True, validate=validate.Length(1, 1000))
    by = fields.String(required=True, validate=validate.OneOf(CANCELLERS))


class Reschedule(Override):
    starts_at = fields.AwareDateTime(required=True, metadata={"description": "RFC 3339 with offset"})
    reason = fields.String(free_text=True, validate=validate.Length(1, 1000))


class MissedSession(Session):
    makeup_session = fields.Nested(Session, allow_none=True)
    makeup_refused = fields.String(allow_none=True, metadata={"description": "why no make-up was booked"})
    moved_sessions = fields.List(fields.Nested(Session), metadata={"description": "taper sessions moved back"})


class SessionEvent(Answer):
    at = fields.AwareDateTime()
    user_id = fields.Id(allow_none=True, metadata={"description": "null: the scheduler"})
    username = fields.String(allow_none=True, metadata={"description": "the user's name; null: the scheduler"})
    action = fields.String()
    from_status = fields.String(allow_none=True, validate=validate.OneOf(SESSION_STATUSES),
                                metadata={"description": "null: the session was booked by this event"})
    to_status = fields.String(validate=validate.OneOf(SESSION_STATUSES))
    from_starts_at = fields.AwareDateTime(allow_none=True)
    to_starts_at = fields.AwareDateTime(allow_none=True)
    from_chair_id = fields.Id(allow_none=True)
    to_chair_id = fields.Id(allow_none=True)
    reason = fields.String(allow_none=True)


# --- courses: changes, outcomes, progress

class Reason(Schema):
    reason = fields.String(required=True, free_text=True, validate=validate.Length(1, 1000))


class Resume(Schema):
    from_date = fields.Date(required=True)


class AssessmentCreate(Schema):
    instrument = fields.String(required=True, validate=validate.OneOf(("PHQ-9",)))
    score = fields.Integer(required=True, strict=True, validate=validate.Range(0, 27))
    taken_on = fields.Date(required=True)


class Assessment(AssessmentCreate, Answer):
    id = fields.Id()
    course_id = fields.Id()
    recorded_by = fields.Id(allow_none=True)
    recorded_at = fields.AwareDateTime()


class Flag(Answer):
    code = fields.String(validate=validate.OneOf(FLAG_CODES))
    message = fields.String()


class Phq9(Answer):
    baseline = fields.Integer(allow_none=True)
    latest = fields.Integer(allow_none=True)
    change_pct = fields.Float(allow_none=True)
    response = fields.Boolean()
    remission = fields.Boolean()
    extension_threshold_met = fields.Boolean(metadata={"description": "a drop of at least 25%"})
    severity = fields.String(allow_none=True, validate=validate.OneOf(SEVERITIES))


class AuthorizationStatus(Answer):
    payer = fields.String(allow_none=True)
    number = fields.String(allow_none=True)
    sessions = fields.Integer(allow_none=True)
    used = fields.Integer()
    left = fields.Integer(allow_none=True)
    valid_from = fields.Date(allow_none=True)
    valid_to = fields.Date(allow_none=True)
    warnings = fields.List(fields.String())


class Progress(Answer):
    sometimes: tuple[str, ...] = ("phq9",)

    course_id = fields.Id()
    patient_id = fields.Id()
    status = fields.String(validate=validate.OneOf(COURSE_STATUSES))
    paused = fields.Boolean()
    prescribed = fields.Integer()
    completed = fields.Integer()
    missed = fields.Integer()
    remaining = fields.Integer()
    attendance_rate = fields.Float(allow_none=True)
    projected_end_date = fields.Date(allow_none=True)
    flags = fields.List(fields.Nested(Flag))
    authorization = fields.Nested(AuthorizationStatus, allow_none=True)
    phq9 = fields.Nested(Phq9, metadata={"description": "left out for the front desk"})


class WorklistQuery(Schema):
    flag = fields.String(validate=validate.OneOf(FLAG_CODES))
    limit = fields.Integer(load_default=WORKLIST_PAGE, validate=validate.Range(1, MAX_PAGE),
                           metadata={"description": "courses in the page, most urgent first (then by course id)"})
    offset = fields.Integer(load_default=0, validate=OFFSET_RANGE,
                            metadata={"description": "courses skipped, in the same order"})


class WorklistEntry(Progress):
    sometimes = ()  # the worklist is the clinicians': PHQ-9 always there

    patient_name = fields.String()


# --- disruptions

class OutOfService(Schema):
    from_date = fields.Date(required=True)
    reason = fields.String(required=True, free_text=True, validate=validate.Length(1, 300))
    replan = fields.Boolean(load_default=False, metadata={"description": "move the affected sessions"})


class ChairDisruption(Answer):
    chair = fields.Nested(Chair)
    affected_sessions = fields.List(fields.Nested(Session))
    moves = fields.List(fields.Nested(SessionMove))


# --- text reminders

class ReminderRule(Schema):
    applies_to = fields.String(required=True, validate=validate.OneOf(reminders.APPLIES_TO),
                               metadata={"description": "first, every (the first included), makeup, moved or taper"})
    minutes_before = fields.Integer(required=True, strict=True, validate=validate.Range(1, 14 * 24 * 60))


class WeeklyDigest(Schema):
    weekday = fields.Integer(required=True, strict=True, validate=validate.Range(1, 7),
                             metadata={"description": "ISO weekday, 1 = Monday; tells of the week after it"})
    time = LocalTime(required=True)


class ReminderPolicy(Schema):
    rules = fields.List(fields.Nested(ReminderRule), required=True, validate=validate.Length(0, 20))
    weekly_digest = fields.Nested(WeeklyDigest, required=True, allow_none=True)
    quiet_start = LocalTime(required=True, metadata={"description": "HH:MM, the site's local time"})
    quiet_end = LocalTime(required=True)


class Reminder(Answer):
    id = fields.Id()
    session_id = fields.Id(allow_none=True, metadata={"description": "null for a weekly digest"})
    course_id = fields.Id(allow_none=True)
    kind = fields.String(validate=validate.OneOf(reminders.KINDS))
    minutes_before = fields.Integer(allow_none=True)
    due_at = fields.AwareDateTime(metadata={"description": "when the policy wants it sent"})
    send_at = fields.AwareDateTime(metadata={"description": "when it goes: after quiet hours, or its next try"})
    status = fields.String(validate=validate.OneOf(reminders.STATUSES))
    attempts = fields.Integer()
    twilio_sid = fields.String(allow_none=True)
    error_code = fields.Integer(allow_none=True, metadata={"description": "Twilio's error code"})
    sent_at = fields.AwareDateTime(allow_none=True)


class MessageOut(Answer):
    at = fields.AwareDateTime()
    direction = fields.String(validate=validate.OneOf(("out", "in")))
    body = fields.String()
    status = fields.String(metadata={"description": "a text sent: its reminder's status (pending, sent, delivered, "
                                                    "undelivered, failed...); a text received: received"})
    twilio_sid = fields.String(allow_none=True)
    error_code = fields.Integer(allow_none=True)
    reply = fields.String(allow_none=True, metadata={"description": "what the service answered an inbound text"})


class MessageQuery(Paging):
    pass


class CallbackQuery(Schema):
    include_done = fields.Boolean(load_default=False)


class CallbackEntry(Answer):
    id = fields.Id()
    reason = fields.String(validate=validate.OneOf(reminders.CALLBACK_REASONS),
                           metadata={"description": "call_back (an R reply), unhandled_text, invalid_phone"})
    patient = fields.Nested(BoardPatient, allow_none=True, metadata={"description": "null: a number no one has"})
    phone = fields.String(allow_none=True, validate=E164, metadata={"description": "E.164"})
    text = fields.String(allow_none=True, metadata={"description": "the patient's text, where one caused it"})
    created_at = fields.AwareDateTime()
    done_at = fields.AwareDateTime(allow_none=True)


class TwilioForm(Schema):
    """Twilio posts many more fields than the service reads; the rest are left aside."""

    class Meta:
        unknown = EXCLUDE


class TwilioStatus(TwilioForm):
    MessageSid = fields.String(required=True, validate=validate.Length(1, 64))
    MessageStatus = fields.String(required=True, validate=validate.Length(1, 30))
    ErrorCode = fields.Integer(allow_none=True, validate=validate.Range(0, MAX_ID))


class TwilioInbound(TwilioForm):
    MessageSid = fields.String(required=True, validate=validate.Length(1, 64))
    From = fields.String(required=True, validate=validate.Length(1, 40))
    Body = fields.String(load_default="", free_text=True, validate=validate.Length(0, 1600))


# --- the audit trail

class AuditQuery(Paging):
    patient_id = fields.Id(metadata={"description": "only rows about this patient"})
    user = fields.String(validate=validate.Length(1, 200), metadata={"description": "only this username's rows"})
    action = fields.String(validate=validate.Length(1, 30), metadata={"description": "read, create, update, "
                                                                                    "sign_in, sign_in_failed..."})
    since = fields.Date(data_key="from", metadata={"description": "from this day (the clinic's dates)"})
    until = fields.Date(data_key="to", metadata={"description": "to this day, included"})


class AuditEvent(Answer):
    at = fields.AwareDateTime()
    username = fields.String(allow_none=True, metadata={"description": "null: the scheduler, a patient's text..."})
    role = fields.String(metadata={"description": "a user's role, or scheduler, patient, twilio, operator, "
                                                  "anonymous"})
    action = fields.String()
    entity = fields.String()
    entity_id = fields.String(allow_none=True)
    patient_id = fields.Id(allow_none=True)
    request_id = fields.String(allow_none=True)
    client_ip = fields.String(allow_none=True)


# --- users (the administrator's account operations)

class UserAccount(Answer):
    id = fields.Id()
    username = fields.String()
    role = fields.String(validate=validate.OneOf(ROLES))
    active = fields.Boolean(metadata={"description": "false: disabled, can neither sign in nor use a token"})
    created_at = fields.AwareDateTime(allow_none=True)


class RevokedTokens(Answer):
    user_id = fields.Id()
    revoked = fields.Integer(metadata={"description": "how many of the user's tokens were still working"})
