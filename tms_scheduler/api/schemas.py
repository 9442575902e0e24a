"""What the API reads and answers. Unknown fields are refused (marshmallow's default)."""
from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from ..domain import reminders
from ..domain.booking import MAX_SEARCH_WEEKS, MAX_STARTS_WANTED, SEARCH_WEEKS, STARTS_WANTED
from ..domain.lifecycle import CANCELLED_BY, CANCELLERS, COURSE_STATUSES, SESSION_STATUSES
from ..domain.planning import SESSION_KINDS
from ..domain.progress import FLAG_ORDER as FLAG_CODES
from ..domain.protocols import COILS
from ..domain.roles import ROLES

SLUG = validate.Regexp(r"^[a-z0-9]+(-[a-z0-9]+)*$", error="a slug: lower-case letters, digits and single hyphens")
HHMM = "%H:%M"


class LocalTime(fields.Time):
    """A local wall-clock time as HH:MM."""

    def __init__(self, **kwargs):
        super().__init__(format=HHMM, **kwargs)


class ApiError(Schema):
    code = fields.Integer()
    status = fields.String()
    message = fields.String()
    errors = fields.Dict()


class Conflict(Schema):
    date = fields.Date()
    reason = fields.String()


class NextStart(Schema):
    date = fields.Date(metadata={"description": "the start date (the course's first session)"})
    time = LocalTime(metadata={"description": "HH:MM, the site's local time: the time asked when it fits, "
                                              "else the nearest that does (the earlier of two as near)"})
    chair_ids = fields.List(fields.Integer(),
                            metadata={"description": "the chairs the course would use, most used first"})


class BookingConflictError(ApiError):
    conflicts = fields.List(fields.Nested(Conflict))
    alternatives = fields.List(fields.String(),
                               metadata={"description": "start times (HH:MM) at which the whole course fits"})
    next_start = fields.Nested(NextStart, allow_none=True, metadata={
        "description": "when no start time that day fits (`alternatives` empty): the next later start date at which "
                       f"the whole course fits, at or near the preferred time, searched up to {SEARCH_WEEKS} weeks "
                       "after the start date; null when there are alternatives or no date within those weeks fits"})


# --- auth and users

class TokenRequest(Schema):
    username = fields.String(required=True, validate=validate.Length(1, 80))
    password = fields.String(required=True, validate=validate.Length(1, 200), load_only=True)


class Token(Schema):
    token = fields.String()
    expires_at = fields.AwareDateTime()
    role = fields.String()


class UserCreate(Schema):
    username = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_.@-]{2,80}$"))
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    password = fields.String(required=True, load_only=True, validate=validate.Length(8, 200))


class User(Schema):
    id = fields.Integer()
    username = fields.String()
    role = fields.String()


# --- sites, chairs, closures, protocols

class SiteFields(Schema):
    name = fields.String(validate=validate.Length(1, 120))
    timezone = fields.String(validate=validate.Length(1, 64), metadata={"description": "IANA zone"})
    offers_tms = fields.Boolean()
    address = fields.String(validate=validate.Length(0, 300))
    phone = fields.String(validate=validate.Length(0, 30),
                          metadata={"description": "answered in E.164; US numbers as typed; letters and extensions "
                                                   "are refused; empty for none"})
    open_days = fields.List(fields.Integer(validate=validate.Range(1, 7)), validate=validate.Length(1, 7),
                            metadata={"description": "ISO weekdays, 1 = Monday"})
    opens = LocalTime()
    closes = LocalTime()
    holiday_calendar = fields.String(validate=validate.Length(1, 40))


class Site(SiteFields):
    id = fields.String()


class SiteCreate(SiteFields):
    id = fields.String(required=True, validate=[validate.Length(1, 60), SLUG])
    name = fields.String(required=True, validate=validate.Length(1, 120))
    timezone = fields.String(required=True, validate=validate.Length(1, 64))
    opens = LocalTime(required=True)
    closes = LocalTime(required=True)


class Chair(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(required=True, validate=validate.Length(1, 120))
    coil = fields.String(required=True, validate=validate.OneOf(COILS))
    active = fields.Boolean(load_default=True)
    out_of_service_from = fields.Date(dump_only=True, allow_none=True,
                                      metadata={"description": "the chair takes no sessions from this day"})


class ChairPatch(Schema):
    name = fields.String(validate=validate.Length(1, 120))
    active = fields.Boolean()
    out_of_service_from = fields.Date(allow_none=True, metadata={"description": "null puts the chair back in service"})


class Session(Schema):
    id = fields.Integer()
    course_id = fields.Integer()
    number = fields.Integer()
    kind = fields.String(validate=validate.OneOf(SESSION_KINDS))
    status = fields.String(validate=validate.OneOf(SESSION_STATUSES))
    site_id = fields.String()
    chair_id = fields.Integer()
    starts_at = fields.AwareDateTime(metadata={"description": "RFC 3339 in the site's zone"})
    ends_at = fields.AwareDateTime()
    cancelled_by = fields.String(allow_none=True, validate=validate.OneOf(CANCELLED_BY),
                                 metadata={"description": "who cancelled it: the patient, the clinic, a closure "
                                                          "nobody moved, a pause, or the course's cancellation"})
    makeup_for_id = fields.Integer(allow_none=True, metadata={"description": "the session this one replaces"})
    confirmed_at = fields.AwareDateTime(allow_none=True, metadata={"description": "when the patient replied C"})


class SessionMove(Schema):
    session_id = fields.Integer()
    course_id = fields.Integer()
    from_starts_at = fields.AwareDateTime()
    from_chair_id = fields.Integer()
    to_starts_at = fields.AwareDateTime()
    to_chair_id = fields.Integer()


class ClosureCreate(Schema):
    date = fields.Date(required=True)
    reason = fields.String(required=True, validate=validate.Length(1, 300))
    replan = fields.Boolean(load_default=False, load_only=True,
                            metadata={"description": "move the affected sessions to other days"})


class Closure(Schema):
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


class Protocol(Schema):
    id = fields.String(required=True, validate=[validate.Length(1, 60), SLUG])
    name = fields.String(required=True, validate=validate.Length(1, 200))
    coil = fields.String(required=True, validate=validate.OneOf(COILS))
    total_sessions = fields.Integer(dump_only=True)
    phases = fields.List(fields.Nested(Phase), required=True, validate=validate.Length(1, 10),
                         metadata={"description": "the daily phase first, then the taper's phases"})
    mapping_minutes = fields.Integer(required=True, validate=validate.Range(1, 480))
    session_minutes = fields.Integer(required=True, validate=validate.Range(1, 480))
    sessions_per_day = fields.Integer(load_default=1, validate=validate.Range(1, 20))
    min_gap_minutes = fields.Integer(load_default=0, validate=validate.Range(0, 600))


# --- patients

class PatientFields(Schema):
    first_name = fields.String(validate=validate.Length(1, 100))
    last_name = fields.String(validate=validate.Length(1, 100))
    date_of_birth = fields.Date()
    phone = fields.String(validate=validate.Length(1, 30),
                          metadata={"description": "answered in E.164; US numbers as typed; letters and extensions "
                                                   "are refused"})
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
    phone = fields.String(required=True, validate=validate.Length(1, 30))


class Patient(PatientFields):
    id = fields.Integer()
    sms_consent_at = fields.AwareDateTime(allow_none=True)
    phone_invalid_at = fields.AwareDateTime(allow_none=True,
                                            metadata={"description": "when Twilio called the number invalid"})


class DuplicatePatientError(ApiError):
    existing_patient_id = fields.Integer(metadata={"description": "the patient with the same name and date of birth"})


class Paging(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 500))
    offset = fields.Integer(load_default=0, validate=validate.Range(0))


class PatientQuery(Paging):
    q = fields.String(validate=validate.Length(0, 100), metadata={"description": "name prefix or phone"})


# --- courses

class Authorization(Schema):
    payer = fields.String(allow_none=True, validate=validate.Length(0, 120))
    number = fields.String(allow_none=True, validate=validate.Length(0, 60))
    sessions = fields.Integer(allow_none=True, validate=validate.Range(1, 500))
    valid_from = fields.Date(allow_none=True)
    valid_to = fields.Date(allow_none=True)
    override_reason = fields.String(allow_none=True, validate=validate.Length(1, 1000),
                                    metadata={"description": "books beyond the authorization; recorded"})


class CourseCreate(Schema):
    patient_id = fields.Integer(required=True, strict=True)
    site_id = fields.String(required=True, validate=validate.Length(1, 60))
    protocol_id = fields.String(required=True, validate=validate.Length(1, 60))
    start_date = fields.Date(required=True)
    preferred_time = LocalTime(required=True, metadata={"description": "HH:MM, the site's local time"})
    authorization = fields.Nested(Authorization, allow_none=True)


class CoursePatient(Schema):
    id = fields.Integer()
    name = fields.String(metadata={"description": "first and last name"})


class Course(Schema):
    id = fields.Integer()
    patient_id = fields.Integer()
    patient = fields.Nested(CoursePatient)
    site_id = fields.String()
    protocol_id = fields.String()
    status = fields.String()
    start_date = fields.Date()
    preferred_time = LocalTime()
    authorization = fields.Nested(Authorization, allow_none=True)
    paused = fields.Boolean()
    sessions = fields.List(fields.Nested(Session), metadata={"description": "in time order"})


class CourseQuery(Paging):
    patient_id = fields.Integer()
    site_id = fields.String()
    status = fields.String(validate=validate.OneOf(COURSE_STATUSES))
    q = fields.String(validate=validate.Length(0, 100),
                      metadata={"description": "the patient's phone as typed, or name prefixes (each word a prefix "
                                               "of the first or last name)"})


# --- the day board and availability

class BoardPatient(Schema):
    id = fields.Integer()
    name = fields.String()


class BoardSession(Schema):
    id = fields.Integer()
    starts_at = fields.AwareDateTime()
    ends_at = fields.AwareDateTime()
    status = fields.String()
    confirmed_at = fields.AwareDateTime(allow_none=True, metadata={"description": "when the patient replied C"})
    kind = fields.String()
    course_id = fields.Integer()
    patient = fields.Nested(BoardPatient)


class BoardChair(Schema):
    id = fields.Integer()
    name = fields.String()
    coil = fields.String()
    active = fields.Boolean()
    sessions = fields.List(fields.Nested(BoardSession))


class Board(Schema):
    site_id = fields.String()
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


class AvailableTime(Schema):
    time = LocalTime()
    chair_ids = fields.List(fields.Integer())


class Availability(Schema):
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
    site_id = fields.String()


class NextStarts(Schema):
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
    notes = fields.String(validate=validate.Length(0, 5000))


class TreatmentRecord(Complete):
    session_id = fields.Integer()
    technician_id = fields.Integer()
    recorded_at = fields.AwareDateTime()


class Override(Schema):
    override_reason = fields.String(validate=validate.Length(1, 1000),
                                    metadata={"description": "goes beyond the authorization anyway; recorded"})


class CancelSession(Override):
    reason = fields.String(required=True, validate=validate.Length(1, 1000))
    by = fields.String(required=True, validate=validate.OneOf(CANCELLERS))


class Reschedule(Override):
    starts_at = fields.AwareDateTime(required=True, metadata={"description": "RFC 3339 with offset"})
    reason = fields.String(validate=validate.Length(1, 1000))


class MissedSession(Session):
    makeup_session = fields.Nested(Session, allow_none=True)
    makeup_refused = fields.String(allow_none=True, metadata={"description": "why no make-up was booked"})
    moved_sessions = fields.List(fields.Nested(Session), metadata={"description": "taper sessions moved back"})


class SessionEvent(Schema):
    at = fields.AwareDateTime()
    user_id = fields.Integer(allow_none=True, metadata={"description": "null: the scheduler"})
    username = fields.String(allow_none=True, metadata={"description": "the user's name; null: the scheduler"})
    action = fields.String()
    from_status = fields.String(allow_none=True)
    to_status = fields.String()
    from_starts_at = fields.AwareDateTime(allow_none=True)
    to_starts_at = fields.AwareDateTime(allow_none=True)
    from_chair_id = fields.Integer(allow_none=True)
    to_chair_id = fields.Integer(allow_none=True)
    reason = fields.String(allow_none=True)


# --- courses: changes, outcomes, progress

class Reason(Schema):
    reason = fields.String(required=True, validate=validate.Length(1, 1000))


class Resume(Schema):
    from_date = fields.Date(required=True)


class AssessmentCreate(Schema):
    instrument = fields.String(required=True, validate=validate.OneOf(("PHQ-9",)))
    score = fields.Integer(required=True, strict=True, validate=validate.Range(0, 27))
    taken_on = fields.Date(required=True)


class Assessment(AssessmentCreate):
    id = fields.Integer()
    course_id = fields.Integer()
    recorded_by = fields.Integer(allow_none=True)
    recorded_at = fields.AwareDateTime()


class Flag(Schema):
    code = fields.String(validate=validate.OneOf(FLAG_CODES))
    message = fields.String()


class Phq9(Schema):
    baseline = fields.Integer(allow_none=True)
    latest = fields.Integer(allow_none=True)
    change_pct = fields.Float(allow_none=True)
    response = fields.Boolean()
    remission = fields.Boolean()
    extension_threshold_met = fields.Boolean(metadata={"description": "a drop of at least 25%"})
    severity = fields.String(allow_none=True)


class AuthorizationStatus(Schema):
    payer = fields.String(allow_none=True)
    number = fields.String(allow_none=True)
    sessions = fields.Integer(allow_none=True)
    used = fields.Integer()
    left = fields.Integer(allow_none=True)
    valid_from = fields.Date(allow_none=True)
    valid_to = fields.Date(allow_none=True)
    warnings = fields.List(fields.String())


class Progress(Schema):
    course_id = fields.Integer()
    patient_id = fields.Integer()
    status = fields.String()
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


class WorklistEntry(Progress):
    patient_name = fields.String()


# --- disruptions

class OutOfService(Schema):
    from_date = fields.Date(required=True)
    reason = fields.String(required=True, validate=validate.Length(1, 300))
    replan = fields.Boolean(load_default=False, metadata={"description": "move the affected sessions"})


class ChairDisruption(Schema):
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


class Reminder(Schema):
    id = fields.Integer()
    session_id = fields.Integer(allow_none=True, metadata={"description": "null for a weekly digest"})
    course_id = fields.Integer(allow_none=True)
    kind = fields.String(validate=validate.OneOf(reminders.KINDS))
    minutes_before = fields.Integer(allow_none=True)
    due_at = fields.AwareDateTime(metadata={"description": "when the policy wants it sent"})
    send_at = fields.AwareDateTime(metadata={"description": "when it goes: after quiet hours, or its next try"})
    status = fields.String(validate=validate.OneOf(reminders.STATUSES))
    attempts = fields.Integer()
    twilio_sid = fields.String(allow_none=True)
    error_code = fields.Integer(allow_none=True, metadata={"description": "Twilio's error code"})
    sent_at = fields.AwareDateTime(allow_none=True)


class MessageOut(Schema):
    at = fields.AwareDateTime()
    direction = fields.String(validate=validate.OneOf(("out", "in")))
    body = fields.String()
    status = fields.String()
    twilio_sid = fields.String(allow_none=True)
    error_code = fields.Integer(allow_none=True)
    reply = fields.String(allow_none=True, metadata={"description": "what the service answered an inbound text"})


class MessageQuery(Paging):
    pass


class CallbackQuery(Schema):
    include_done = fields.Boolean(load_default=False)


class CallbackEntry(Schema):
    id = fields.Integer()
    reason = fields.String(validate=validate.OneOf(reminders.CALLBACK_REASONS),
                           metadata={"description": "call_back (an R reply), unhandled_text, invalid_phone"})
    patient = fields.Nested(BoardPatient, allow_none=True, metadata={"description": "null: a number no one has"})
    phone = fields.String(allow_none=True)
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
    ErrorCode = fields.Integer(allow_none=True)


class TwilioInbound(TwilioForm):
    MessageSid = fields.String(required=True, validate=validate.Length(1, 64))
    From = fields.String(required=True, validate=validate.Length(1, 40))
    Body = fields.String(load_default="", validate=validate.Length(0, 1600))
