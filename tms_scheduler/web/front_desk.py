"""The front desk's pages: the site's day board (check-in, moves and cancellations from it), patients
(search, intake, details, texts), booking a course, a course's sessions, and the call-back list.

Every page goes through the same services as the API, with the signed-in user as the actor, so the
clinic's rules, reminders and the audit trail hold here as they do there. Times are the site's local
wall-clock time with its zone named. The front desk never sees a treatment record or a PHQ-9 score:
no page here reads them.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from marshmallow import ValidationError

from ..api import schemas
from ..api.errors import flat_errors
from ..api.inputs import EARLIEST_YEAR, LATEST_YEAR, MAX_ID
from ..db import models
from ..domain import lifecycle
from ..domain import reminders as reminder_rules
from ..domain.errors import BookingConflict, DomainError, DuplicatePatient, NotFound
from ..services import attendance, authorization, booking, catalog, course_changes, courses, makeups, moves, reminders
from ..services import patients as patient_records
from .core import actor, back_to, can, menu_item, page, runtime, show_error, tms_sites

bp = Blueprint("front_desk", __name__, url_prefix="/desk")
menu_item("Day board", "front_desk.board", "getDayBoard")
menu_item("Patients", "front_desk.patients", "searchPatients")
menu_item("Book a course", "front_desk.book", "bookCourse")
menu_item("Call-backs", "front_desk.callbacks", "listCallbacks")

PAGE_SIZE = 50
LANGUAGES = {"en": "English", "es": "Spanish"}
STATUS_WORDS = {lifecycle.SCHEDULED: "Scheduled", lifecycle.CHECKED_IN: "Checked in",
                lifecycle.COMPLETED: "Completed", lifecycle.NO_SHOW: "No-show", lifecycle.CANCELLED: "Cancelled"}
CANCELLED_BY_WORDS = {lifecycle.BY_PATIENT: "by the patient", lifecycle.BY_CLINIC: "by the clinic",
                      lifecycle.BY_CLOSURE: "by the clinic (site closed)", lifecycle.BY_PAUSE: "course paused",
                      lifecycle.BY_COURSE_CANCEL: "course cancelled"}
KIND_WORDS = {"mapping": "Mapping (first visit)", "treatment": "Treatment", "taper": "Taper", "makeup": "Make-up"}
COURSE_STATUS_WORDS = {lifecycle.COURSE_ACTIVE: "Active", lifecycle.COURSE_COMPLETED: "Completed",
                       lifecycle.COURSE_CANCELLED: "Cancelled"}
CALLBACK_WORDS = {"call_back": "The patient asked to be called back",
                  "unhandled_text": "A text the service could not act on",
                  "invalid_phone": "Twilio called the phone number invalid"}
MESSAGE_STATUS_WORDS = {"received": "Received", "sent": "Sent", "delivered": "Delivered",
                        "undelivered": "Not delivered", "failed": "Failed", "queued": "Queued"}
REMINDER_KIND_WORDS = {reminder_rules.FIRST: "First session", reminder_rules.EVERY: "Session",
                       reminder_rules.MAKEUP: "Make-up", reminder_rules.MOVED: "Session moved",
                       reminder_rules.TAPER: "Taper session", reminder_rules.DIGEST: "Weekly schedule"}
REMINDER_STATUS_WORDS = {reminder_rules.PENDING: "Waiting to go", reminder_rules.SENT: "Sent",
                         reminder_rules.DELIVERED: "Delivered", reminder_rules.UNDELIVERED: "Not delivered",
                         reminder_rules.FAILED: "Failed", reminder_rules.CANCELLED: "Not needed any more",
                         reminder_rules.EXPIRED: "Too late to send",
                         reminder_rules.SUPPRESSED: "Withheld (the patient may not be texted)"}
# The booking form's authorization fields (form name -> the API's field, its label).
AUTHORIZATION_FIELDS = {"auth_payer": ("payer", "Payer"), "auth_number": ("number", "Authorization number"),
                        "auth_sessions": ("sessions", "Sessions authorized"),
                        "auth_valid_from": ("valid_from", "Authorized from"),
                        "auth_valid_to": ("valid_to", "Authorized to"),
                        "auth_override_reason": ("override_reason", "Reason to book beyond the authorization")}


@bp.app_template_global()
def session_status_words(status: str, cancelled_by: str | None = None) -> str:
    words = STATUS_WORDS.get(status, status.replace("_", " ").capitalize())
    if status == lifecycle.CANCELLED and cancelled_by:
        words += f" ({CANCELLED_BY_WORDS.get(cancelled_by, cancelled_by.replace('_', ' '))})"
    return words


@bp.app_template_global()
def session_kind_words(kind: str) -> str:
    return KIND_WORDS.get(kind, kind.replace("_", " ").capitalize())


def _day(value: str | None, zone: ZoneInfo) -> date:
    """The day asked for, or today where the site is."""
    if not value:
        return runtime().now().astimezone(zone).date()
    day = _url_date(value)
    assert day is not None
    return day


def _url_date(value: str | None) -> date | None:
    """A date given in the URL; a malformed one is 404."""
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        abort(404)
    if not EARLIEST_YEAR <= day.year <= LATEST_YEAR:
        abort(404)
    return day


def _url_time(value: str | None) -> time | None:
    if not value:
        return None
    parsed = _clock_time(value)
    if parsed is None:
        abort(404)
    return parsed


def _clock_time(value: str) -> time | None:
    """HH:MM (a browser's time input), or None."""
    try:
        parsed = time.fromisoformat(value)
    except ValueError:
        return None
    if len(value) != 5 or parsed.second or parsed.tzinfo:
        return None
    return parsed


def _form_date(name: str, label: str, problems: list[str]) -> date | None:
    value = request.form.get(name, "").strip()
    try:
        day = date.fromisoformat(value)
        if EARLIEST_YEAR <= day.year <= LATEST_YEAR:
            return day
    except ValueError:
        pass
    problems.append(f"{label}: give a date (year-month-day)." if not value else f"{label}: {value!r} is not a date.")
    return None


def _site_from(sites: list[models.Site], site_id: str | None) -> models.Site:
    """The site asked for (404 if unknown), or the first one."""
    if not sites:
        abort(404)
    if not site_id:
        return sites[0]
    found = next((s for s in sites if s.id == site_id), None)
    if found is None:
        abort(404)
    return found


# --- the day board

@page(bp, "/board", uses="getDayBoard")
def board():
    sites = tms_sites()
    site = _site_from(sites, request.args.get("site"))
    zone = ZoneInfo(site.timezone)
    day = _day(request.args.get("date"), zone)
    try:
        the_board = courses.day_board(runtime(), site.id, day, actor())
    except DomainError as exc:
        show_error(exc)
        return redirect(url_for("front_desk.board"))
    times = sorted({s.starts_at.astimezone(zone).strftime("%H:%M") for _, entries in the_board.chairs
                    for s in (e.session for e in entries)})
    cells = {(chair.id, e.session.starts_at.astimezone(zone).strftime("%H:%M")): e
             for chair, entries in the_board.chairs for e in entries}
    return render_template("front_desk/board.html", title=f"Day board, {site.name}", sites=sites, site=site,
                           day=day, board=the_board, times=times, cells=cells, zone=site.timezone,
                           back=request.full_path, now=runtime().now(), cancellers=lifecycle.CANCELLERS,
                           canceller_words=CANCELLED_BY_WORDS)


@page(bp, "/sessions/<int:session_id>/check-in", uses="checkIn", methods=("POST",))
def check_in(session_id: int):
    try:
        attendance.check_in(runtime(), session_id, actor())
        flash("Checked in.", "done")
    except NotFound:
        abort(404)
    except DomainError as exc:
        show_error(exc)
    return redirect(back_to(url_for("front_desk.board")))


# --- patients

@page(bp, "/patients", uses="searchPatients")
def patients():
    q = (request.args.get("q") or "").strip()[:100]
    found = patient_records.search_patients(runtime(), q, actor(), limit=PAGE_SIZE, offset=0) if q else []
    return render_template("front_desk/patients.html", title="Patients", q=q, found=found, languages=LANGUAGES,
                           page_size=PAGE_SIZE)


@dataclass
class PatientForm:
    """What the intake and edit forms hold, as typed."""

    first_name: str = ""
    last_name: str = ""
    date_of_birth: str = ""
    phone: str = ""
    language: str = "en"
    sms_consent: bool = False
    sms_opted_out: bool = False
    another_person: bool = False

    @classmethod
    def from_request(cls) -> PatientForm:
        form = request.form
        return cls(first_name=form.get("first_name", "").strip()[:100],
                   last_name=form.get("last_name", "").strip()[:100],
                   date_of_birth=form.get("date_of_birth", "").strip()[:20], phone=form.get("phone", "").strip()[:30],
                   language=form.get("language", "en"), sms_consent=form.get("sms_consent") == "yes",
                   sms_opted_out=form.get("sms_opted_out") == "yes", another_person=form.get("another_person") == "yes")

    @classmethod
    def of(cls, p: models.Patient) -> PatientForm:
        return cls(first_name=p.first_name, last_name=p.last_name, date_of_birth=p.date_of_birth.isoformat(),
                   phone=p.phone, language=p.language, sms_consent=p.sms_consent, sms_opted_out=p.sms_opted_out)

    def fields(self, problems: list[str], *, editing: bool) -> dict[str, Any]:
        """The fields for the service; what is missing or malformed is added to `problems`."""
        if not self.first_name:
            problems.append("First name: required.")
        if not self.last_name:
            problems.append("Last name: required.")
        if not self.phone:
            problems.append("Phone: required.")
        if self.language not in LANGUAGES:
            problems.append("Language: choose English or Spanish.")
        born = None
        try:
            born = date.fromisoformat(self.date_of_birth)
            if born.year < EARLIEST_YEAR:
                problems.append("Date of birth: too long ago.")
        except ValueError:
            problems.append("Date of birth: give a date (year-month-day).")
        out: dict[str, Any] = {"first_name": self.first_name, "last_name": self.last_name, "date_of_birth": born,
                               "phone": self.phone, "language": self.language, "sms_consent": self.sms_consent}
        if editing:
            out["sms_opted_out"] = self.sms_opted_out
        if self.another_person:
            out["another_person"] = True
        return out


def _duplicate_of(exc: DuplicatePatient) -> models.Patient | None:
    try:
        return patient_records.get_patient(runtime(), exc.existing_patient_id, actor())
    except NotFound:
        return None


@page(bp, "/patients/new", uses="registerPatient", methods=("GET", "POST"))
def intake():
    if request.method == "GET":
        return render_template("front_desk/intake.html", title="New patient", form=PatientForm(),
                               languages=LANGUAGES, duplicate=None)
    form = PatientForm.from_request()
    problems: list[str] = []
    fields = form.fields(problems, editing=False)
    duplicate = None
    if not problems:
        try:
            patient = patient_records.create_patient(runtime(), fields, actor())
        except DuplicatePatient as exc:
            duplicate = _duplicate_of(exc)
            problems.append("A patient with this name and date of birth is registered already. Open their record "
                            "below, or, if this is another person, tick \"another person\" and register again.")
        except DomainError as exc:
            show_error(exc)
        else:
            flash(f"{patient.first_name} {patient.last_name} registered.", "done")
            return redirect(url_for("front_desk.patient", patient_id=patient.id))
    for problem in problems:
        flash(problem, "error")
    return render_template("front_desk/intake.html", title="New patient", form=form, languages=LANGUAGES,
                           duplicate=duplicate), 422


@page(bp, "/patients/<int:patient_id>", uses="getPatient")
def patient(patient_id: int):
    return _patient_page(patient_id)


def _patient_page(patient_id: int, form: PatientForm | None = None, duplicate: models.Patient | None = None,
                  status: int = 200):
    try:
        the_patient = patient_records.get_patient(runtime(), patient_id, actor())
    except NotFound:
        abort(404)
    their_courses = (courses.list_courses(runtime(), actor(), patient_id=patient_id, site_id=None, status=None,
                                          limit=PAGE_SIZE, offset=0) if can("listCourses") else [])
    messages = (reminders.patient_messages(runtime(), patient_id, actor(), limit=PAGE_SIZE, offset=0)
                if can("listPatientMessages") else [])
    sites = {s.id: s for s in catalog.list_sites(runtime())}
    protocols = {p.id: p for p in catalog.list_protocols(runtime())}
    zone = runtime().clinic_zone
    return render_template("front_desk/patient.html", title=f"{the_patient.first_name} {the_patient.last_name}",
                           patient=the_patient, form=form or PatientForm.of(the_patient), duplicate=duplicate,
                           languages=LANGUAGES, courses=their_courses, messages=messages, sites=sites,
                           protocols=protocols, zone=zone, course_words=COURSE_STATUS_WORDS,
                           message_words=MESSAGE_STATUS_WORDS, page_size=PAGE_SIZE), status


@page(bp, "/patients/<int:patient_id>/edit", uses="updatePatient", methods=("POST",))
def update_patient(patient_id: int):
    form = PatientForm.from_request()
    problems: list[str] = []
    fields = form.fields(problems, editing=True)
    duplicate = None
    if not problems:
        try:
            patient_records.update_patient(runtime(), patient_id, fields, actor())
        except NotFound:
            abort(404)
        except DuplicatePatient as exc:
            duplicate = _duplicate_of(exc)
            problems.append("Another patient has this name and date of birth. If they are two people, tick "
                            "\"another person\" and save again.")
        except DomainError as exc:
            show_error(exc)
        else:
            flash("Contact details saved.", "done")
            return redirect(url_for("front_desk.patient", patient_id=patient_id))
    for problem in problems:
        flash(problem, "error")
    return _patient_page(patient_id, form, duplicate, 422)


# --- booking a course

@dataclass
class BookingChoice:
    patient_id: int | None
    protocol_id: str
    site_id: str
    start_date: date | None
    preferred_time: time | None
    # The authorization's fields as typed (form name -> text), kept when the form comes back.
    authorization: dict[str, str] = field(default_factory=dict)


def _authorization_from_form(typed: dict[str, str], problems: list[str]) -> authorization.Authorization | None:
    """The insurance authorization typed on the booking form, checked as the API checks it; None when
    every field is blank."""
    given = {api_name: typed[name] for name, (api_name, _) in AUTHORIZATION_FIELDS.items() if typed.get(name)}
    if not given:
        return None
    try:
        loaded = schemas.Authorization().load(given)
    except ValidationError as exc:
        problems += _schema_problems(exc, dict(AUTHORIZATION_FIELDS.values()))
        return None
    if loaded.get("valid_from") and loaded.get("valid_to") and loaded["valid_to"] < loaded["valid_from"]:
        problems.append("Authorized to: the authorization cannot end before it starts.")
        return None
    return authorization.Authorization(
        payer=loaded.get("payer"), number=loaded.get("number"), sessions=loaded.get("sessions"),
        valid_from=loaded.get("valid_from"), valid_to=loaded.get("valid_to"),
        override_reason=loaded.get("override_reason"))


@page(bp, "/book", uses="bookCourse", methods=("GET", "POST"))
def book():
    protocols = catalog.list_protocols(runtime())
    sites = tms_sites()
    if request.method == "GET":
        args = request.args
        patient_arg = args.get("patient", "")
        if patient_arg and not (patient_arg.isdigit() and 0 < int(patient_arg) <= MAX_ID):
            abort(404)
        choice = BookingChoice(int(patient_arg) if patient_arg else None, args.get("protocol", ""),
                               args.get("site", ""), _url_date(args.get("date")), _url_time(args.get("time")))
        if choice.protocol_id and choice.protocol_id not in {p.id for p in protocols}:
            abort(404)
        if choice.site_id and choice.site_id not in {s.id for s in sites}:
            abort(404)
        return _booking_page(choice, protocols, sites)
    form = request.form
    problems: list[str] = []
    patient_text = form.get("patient_id", "").strip()
    patient_id = int(patient_text) if patient_text.isdigit() and 0 < int(patient_text) <= MAX_ID else None
    if patient_id is None:
        problems.append("Patient: choose the patient first.")
    start_date = _form_date("start_date", "Start day", problems)
    preferred = _clock_time(form.get("preferred_time", "").strip())
    if preferred is None:
        problems.append("Start time: give a time (hours:minutes).")
    typed_authorization = {name: form.get(name, "").strip()[:2000] for name in AUTHORIZATION_FIELDS}
    choice = BookingChoice(patient_id, form.get("protocol_id", "")[:60], form.get("site_id", "")[:60], start_date,
                           preferred, typed_authorization)
    if not choice.protocol_id:
        problems.append("Protocol: choose one.")
    if not choice.site_id:
        problems.append("Site: choose one.")
    insurance = _authorization_from_form(typed_authorization, problems)
    conflict = None
    if not problems:
        assert patient_id is not None and start_date is not None and preferred is not None
        try:
            booked = booking.book_course(runtime(), booking.BookingRequest(
                patient_id=patient_id, site_id=choice.site_id, protocol_id=choice.protocol_id,
                start_date=start_date, preferred_time=preferred, authorization=insurance), actor())
        except BookingConflict as exc:
            conflict = exc
            flash(exc.message, "error")
        except DomainError as exc:
            show_error(exc)
        else:
            first = min(booked.sessions, key=lambda s: s.starts_at)
            zone = ZoneInfo(next((s.timezone for s in sites if s.id == booked.site_id), "UTC"))
            flash(f"Course booked: {len(booked.sessions)} sessions from "
                  f"{first.starts_at.astimezone(zone):%A %-d %B %Y at %H:%M %Z}.", "done")
            return redirect(url_for("front_desk.course", course_id=booked.id))
    for problem in problems:
        flash(problem, "error")
    return _booking_page(choice, protocols, sites, conflict=conflict, status=422)


def _booking_page(choice: BookingChoice, protocols: list[models.Protocol], sites: list[models.Site], *,
                  conflict: BookingConflict | None = None, status: int = 200):
    rt = runtime()
    the_patient = None
    found: list[models.Patient] = []
    q = (request.args.get("q") or "").strip()[:100]
    if choice.patient_id is not None:
        try:
            the_patient = patient_records.get_patient(rt, choice.patient_id, actor())
        except NotFound:
            if request.method == "GET":
                abort(404)
            flash("No such patient.", "error")
    elif q:
        found = patient_records.search_patients(rt, q, actor(), limit=PAGE_SIZE, offset=0)
    site = next((s for s in sites if s.id == choice.site_id), None)
    zone = ZoneInfo(site.timezone) if site else rt.clinic_zone
    times: list[booking.AvailableTime] | None = None
    next_dates: list[booking.SiteStart] | None = None
    search_problem = None
    # The start times that fit: searched for the form, and again when a booking was refused for another reason
    # than a clash (a refused authorization, say), so the form comes back with what was typed.
    if (conflict is None and site is not None and choice.protocol_id and choice.start_date is not None):
        try:
            times = booking.availability(rt, site.id, choice.protocol_id, choice.start_date)
            next_dates = booking.next_starts(rt, choice.protocol_id, choice.start_date,
                                             choice.preferred_time or time(9), site_id=site.id)
        except DomainError as exc:
            search_problem = exc.message
    today = rt.now().astimezone(zone).date()
    # The start times offered to book at: those the search found, or those a refused booking named.
    offered = ([t.time.strftime("%H:%M") for t in times] if times is not None
               else conflict.alternatives if conflict is not None else None)
    return render_template("front_desk/book.html", title="Book a course", choice=choice, patient=the_patient,
                           found=found, q=q, protocols=protocols, sites=sites, site=site, zone=zone.key,
                           offered=offered, next_dates=next_dates, search_problem=search_problem, conflict=conflict,
                           today=today, authorization_fields=AUTHORIZATION_FIELDS), status


# --- a course and its sessions

@page(bp, "/courses/<int:course_id>", uses="getCourse")
def course(course_id: int):
    rt = runtime()
    try:
        the_course = courses.get_course(rt, course_id, actor())
    except NotFound:
        abort(404)
    site = catalog.get_site(rt, the_course.site_id)
    zone = ZoneInfo(site.timezone)
    chairs = {c.id: c.name for c in catalog.list_chairs(rt, site.id)}
    protocol = next((p for p in catalog.list_protocols(rt) if p.id == the_course.protocol_id), None)
    now = rt.now()
    rows = sorted(the_course.sessions, key=lambda s: (s.starts_at, s.number))
    made_up = {s.makeup_for_id for s in rows if s.makeup_for_id is not None}
    # Missed sessions that went without a make-up (refused beyond the authorization, say): bookMakeup's.
    without_makeup = {s.id for s in rows if s.status in lifecycle.MISSED
                      and s.cancelled_by not in lifecycle.RELEASED_BY and s.id not in made_up}
    running = the_course.status == lifecycle.COURSE_ACTIVE and the_course.paused_at is None
    texts = reminders.course_reminders(rt, course_id, actor()) if can("listCourseReminders") else None
    return render_template("front_desk/course.html", title=f"Course {the_course.id}", course=the_course, site=site,
                           zone=zone, chairs=chairs, protocol=protocol, sessions=rows, now=now,
                           course_words=COURSE_STATUS_WORDS, cancellers=lifecycle.CANCELLERS,
                           canceller_words=CANCELLED_BY_WORDS, ahead=lifecycle.AHEAD,
                           today=now.astimezone(zone).date(), back=url_for("front_desk.course", course_id=course_id),
                           without_makeup=without_makeup, running=running, reminders=texts,
                           session_numbers={s.id: s.number for s in rows}, reminder_kinds=REMINDER_KIND_WORDS,
                           reminder_statuses=REMINDER_STATUS_WORDS, resendable=reminder_rules.RESENDABLE,
                           patient_name=f"{the_course.patient.first_name} {the_course.patient.last_name}")


def _refused_form(problems: list[str], back: str):
    """A form a browser would not have sent (a field missing or malformed): 422, said in words."""
    return render_template("front_desk/refused_form.html", title="Refused", problems=problems, back=back), 422


def _schema_problems(exc: ValidationError, labels: dict[str, str]) -> list[str]:
    return [f"{labels.get(name, name.replace('_', ' ').capitalize())}: {why}"
            for name, why in flat_errors(exc.messages).items()]


def _course_reason() -> tuple[str | None, list[str]]:
    """The form's reason, checked as the API's Reason schema checks it."""
    reason = request.form.get("reason", "").strip()
    if not reason:
        return None, ["Why: say why."]
    try:
        return schemas.Reason().load({"reason": reason})["reason"], []
    except ValidationError as exc:
        return None, _schema_problems(exc, {"reason": "Why"})


def _course_changed(change: Callable[[], object], done: str, back: str):
    """Runs one change of a whole course (cancel, pause, resume) and says how it went on the page to go back to."""
    try:
        change()
    except NotFound:
        abort(404)
    except DomainError as exc:
        show_error(exc)
    else:
        flash(done, "done")
    return redirect(back)


# Cancelling the rest of a course, pausing and resuming it: the clinicians' course page posts here too, with
# `back` naming their page.

@page(bp, "/courses/<int:course_id>/cancel", uses="cancelCourse", methods=("POST",))
def cancel_course(course_id: int):
    back = back_to(url_for("front_desk.course", course_id=course_id))
    reason, problems = _course_reason()
    if reason is None:
        return _refused_form(problems, back)
    return _course_changed(lambda: course_changes.cancel_course(runtime(), course_id, reason, actor()),
                           f"Course {course_id} cancelled: every session still ahead is released.", back)


@page(bp, "/courses/<int:course_id>/pause", uses="pauseCourse", methods=("POST",))
def pause_course(course_id: int):
    back = back_to(url_for("front_desk.course", course_id=course_id))
    reason, problems = _course_reason()
    if reason is None:
        return _refused_form(problems, back)
    return _course_changed(lambda: course_changes.pause_course(runtime(), course_id, reason, actor()),
                           f"Course {course_id} paused: its future sessions are released until it is resumed.", back)


@page(bp, "/courses/<int:course_id>/resume", uses="resumeCourse", methods=("POST",))
def resume_course(course_id: int):
    back = back_to(url_for("front_desk.course", course_id=course_id))
    problems: list[str] = []
    from_date = _form_date("from_date", "Resume from", problems)
    if from_date is None:
        return _refused_form(problems, back)
    return _course_changed(lambda: course_changes.resume_course(runtime(), course_id, from_date, actor()),
                           f"Course {course_id} resumed: its released sessions are booked again from "
                           f"{from_date:%A %-d %B %Y}.", back)


@page(bp, "/sessions/<int:session_id>/makeup", uses="bookMakeup", methods=("POST",))
def book_makeup(session_id: int):
    rt = runtime()
    back = back_to(url_for("front_desk.board"))
    override = request.form.get("override_reason", "").strip()
    try:
        loaded = schemas.Override().load({"override_reason": override} if override else {})
    except ValidationError as exc:
        return _refused_form(_schema_problems(exc, {"override_reason": "Override reason"}), back)
    try:
        outcome = makeups.book_makeup(rt, session_id, actor(), override_reason=loaded.get("override_reason"))
    except NotFound:
        abort(404)
    except DomainError as exc:
        show_error(exc)
        return redirect(back)
    assert outcome.makeup is not None
    zone = catalog.site_zones(rt)[outcome.makeup.site_id]
    flash(f"The make-up for session {outcome.session.number} is booked on "
          f"{outcome.makeup.starts_at.astimezone(zone):%A %-d %B %Y at %H:%M %Z}.", "done")
    return redirect(back)


@page(bp, "/reminders/<int:reminder_id>/resend", uses="resendReminder", methods=("POST",))
def resend_reminder(reminder_id: int):
    back = back_to(url_for("front_desk.board"))
    try:
        reminders.resend(runtime(), reminder_id, actor())
    except NotFound:
        abort(404)
    except DomainError as exc:
        show_error(exc)
    else:
        flash("The reminder is sent again now.", "done")
    return redirect(back)


@page(bp, "/sessions/<int:session_id>/move", uses="rescheduleSession", methods=("POST",))
def move_session(session_id: int):
    rt = runtime()
    try:
        session = courses.get_session(rt, session_id, actor())
    except NotFound:
        abort(404)
    back = back_to(url_for("front_desk.course", course_id=session.course_id))
    zone = catalog.site_zones(rt)[session.site_id]
    problems: list[str] = []
    day = _form_date("date", "New day", problems)
    at = _clock_time(request.form.get("time", "").strip())
    if at is None:
        problems.append("New time: give a time (hours:minutes).")
    if problems:
        for problem in problems:
            flash(problem, "error")
        return redirect(back)
    assert day is not None and at is not None
    reason = request.form.get("reason", "").strip()[:1000] or None
    starts_at = datetime.combine(day, at, tzinfo=zone)
    try:
        moved = moves.reschedule(rt, session_id, starts_at, actor(), reason=reason)
    except DomainError as exc:
        show_error(exc)
    else:
        flash(f"Session {moved.number} moved to {moved.starts_at.astimezone(zone):%A %-d %B %Y at %H:%M %Z}.",
              "done")
    return redirect(back)


@page(bp, "/sessions/<int:session_id>/cancel", uses="cancelSession", methods=("POST",))
def cancel_session(session_id: int):
    rt = runtime()
    back = back_to(url_for("front_desk.board"))
    by = request.form.get("by", "")
    reason = request.form.get("reason", "").strip()[:1000]
    if by not in lifecycle.CANCELLERS or not reason:
        flash("Say who cancelled (the patient or the clinic) and why.", "error")
        return redirect(back)
    try:
        outcome = attendance.cancel_session(rt, session_id, actor(), by=by, reason=reason)
    except NotFound:
        abort(404)
    except DomainError as exc:
        show_error(exc)
        return redirect(back)
    zone = catalog.site_zones(rt)[outcome.session.site_id]
    words = f"Session {outcome.session.number} cancelled {CANCELLED_BY_WORDS[by]}."
    if outcome.makeup is not None:
        words += (f" Its make-up is booked on "
                  f"{outcome.makeup.starts_at.astimezone(zone):%A %-d %B %Y at %H:%M %Z}.")
    elif outcome.makeup_refused:
        words += f" No make-up was booked: {outcome.makeup_refused}."
    flash(words, "done")
    return redirect(back)


# --- the call-back list

@page(bp, "/callbacks", uses="listCallbacks")
def callbacks():
    sites = tms_sites()
    site = _site_from(sites, request.args.get("site"))
    include_done = request.args.get("done") == "1"
    try:
        entries = reminders.callbacks(runtime(), site.id, actor(), include_done=include_done)
    except NotFound:
        abort(404)
    return render_template("front_desk/callbacks.html", title=f"Call-backs, {site.name}", sites=sites, site=site,
                           entries=entries, include_done=include_done, zone=ZoneInfo(site.timezone),
                           reasons=CALLBACK_WORDS, back=request.full_path)


@page(bp, "/callbacks/<int:callback_id>/done", uses="markCallbackDone", methods=("POST",))
def callback_done(callback_id: int):
    try:
        reminders.callback_done(runtime(), callback_id, actor())
        flash("Call-back marked done.", "done")
    except NotFound:
        abort(404)
    except DomainError as exc:
        show_error(exc)
    return redirect(back_to(url_for("front_desk.callbacks")))
