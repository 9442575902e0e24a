"""The technicians' pages: today's sessions at the site, and the treatment record form."""
from __future__ import annotations

from datetime import datetime
from typing import NoReturn
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from marshmallow import ValidationError

from ..api import schemas
from ..api.errors import flat_errors
from ..db import models
from ..domain import lifecycle
from ..domain.errors import DomainError, NotFound
from ..domain.planning import MAKEUP, MAPPING, TAPER, TREATMENT
from ..services import attendance, catalog, clinical_views, courses
from ..services.attendance import TreatmentDetails
from .core import actor, back_to, can, menu_item, page, runtime, show_error, tms_sites

bp = Blueprint("technician", __name__, url_prefix="/chair")
# getDayBoard is the front desk's too: the menu entry shows to those who give treatments.
menu_item("Today", "technician.today", "completeSession")

KIND_WORDS = {MAPPING: "Mapping (motor threshold and coil position)", TREATMENT: "Daily treatment",
              TAPER: "Taper", MAKEUP: "Make-up"}
SIDE_EFFECT_WORDS = {"headache": "Headache", "scalp_discomfort": "Scalp discomfort", "other": "Other"}
# The treatment record's fields as the form shows them: (name, label, unit or hint).
RECORD_FIELDS = (
    ("motor_threshold", "Motor threshold", "% of machine output"),
    ("intensity", "Intensity", "% of motor threshold"),
    ("frequency", "Frequency", "Hz"),
    ("pulses", "Pulses", "count"),
    ("coil_position", "Coil position", ""),
    ("discomfort", "Discomfort", "0 (none) to 10 (worst)"),
    ("supervising_physician", "Supervising physician", ""),
    ("notes", "Notes", ""),
)


def kind_words(kind: str) -> str:
    return KIND_WORDS.get(kind, kind.replace("_", " ").capitalize())


def status_words(s: models.TreatmentSession, now: datetime | None = None) -> str:
    """What became of a session, in words (never colour alone)."""
    if s.status == lifecycle.COMPLETED:
        return "Given (completed)"
    if s.status == lifecycle.CHECKED_IN:
        return "Checked in, treatment not yet recorded"
    if s.status == lifecycle.NO_SHOW:
        return "Missed: did not come (no-show)"
    if s.status == lifecycle.CANCELLED:
        return {
            lifecycle.BY_PATIENT: "Missed: cancelled by the patient",
            lifecycle.BY_CLINIC: "Cancelled by the clinic (not the patient's miss)",
            lifecycle.BY_CLOSURE: "Cancelled: the site was closed that day (not the patient's miss)",
            lifecycle.BY_PAUSE: "Released: the course was paused",
            lifecycle.BY_COURSE_CANCEL: "Released: the course was cancelled",
        }.get(s.cancelled_by or "", "Cancelled")
    if now is not None and s.starts_at > now:
        return "Ahead (booked)"
    return "Booked, not checked in"


def not_found(message: str) -> NoReturn:
    """A 404 page (the app's HTTP error handler answers JSON, made for the API)."""
    abort(Response(render_template("refused.html", status=404, message=message), 404))


def local_time(instant: datetime, zone: ZoneInfo) -> str:
    """09:00 PST: the site's wall-clock time with the zone's abbreviation."""
    return instant.astimezone(zone).strftime("%H:%M %Z")


def _site_arg(sites: list[models.Site], value: str | None) -> models.Site:
    if not sites:
        not_found("No site offers TMS.")
    chosen = next((s for s in sites if s.id == value), None) if value else sites[0]
    if chosen is None:
        not_found("No TMS site with that id.")
    return chosen


@page(bp, "/today", uses="getDayBoard")
def today():
    sites = tms_sites()
    site = _site_arg(sites, request.args.get("site"))
    zone = ZoneInfo(site.timezone)
    now = runtime().now()
    day = now.astimezone(zone).date()
    try:
        board = courses.day_board(runtime(), site.id, day, actor())
    except DomainError as exc:
        show_error(exc)
        return redirect(url_for("technician.today"))
    rows = sorted(((chair, entry) for chair, entries in board.chairs for entry in entries),
                  key=lambda row: (row[1].session.starts_at, row[0].id))
    items = [{
        "session": e.session, "chair": chair.name, "patient": e.patient_name,
        "time": local_time(e.session.starts_at, zone), "ends": local_time(e.session.ends_at, zone),
        "kind": kind_words(e.session.kind), "status": status_words(e.session, now),
        "no_show_possible": e.session.status == lifecycle.SCHEDULED and e.session.starts_at <= now,
    } for chair, e in rows]
    return render_template("technician/today.html", title=f"Today at {site.name}", sites=sites, site=site, day=day,
                           items=items, closed_reason=board.closed_reason, zone=site.timezone,
                           back=url_for("technician.today", site=site.id))


@page(bp, "/sessions/<int:session_id>/check-in", uses="checkIn", methods=("POST",))
def check_in(session_id: int):
    back = back_to(url_for("technician.today"))
    try:
        s = attendance.check_in(runtime(), session_id, actor())
        flash(f"Session {s.number} checked in.", "done")
    except NotFound:
        not_found(f"No session {session_id}.")
    except DomainError as exc:
        show_error(exc)
    return redirect(back)


@page(bp, "/sessions/<int:session_id>/no-show", uses="recordNoShow", methods=("POST",))
def no_show(session_id: int):
    back = back_to(url_for("technician.today"))
    try:
        outcome = attendance.record_no_show(runtime(), session_id, actor())
    except NotFound:
        not_found(f"No session {session_id}.")
    except DomainError as exc:
        show_error(exc)
        return redirect(back)
    zone = ZoneInfo(catalog.get_site(runtime(), outcome.session.site_id).timezone)
    if outcome.makeup is not None:
        made = outcome.makeup.starts_at.astimezone(zone)
        flash(f"Session {outcome.session.number} marked a no-show; its make-up is booked on "
              f"{made:%A %-d %B} at {local_time(outcome.makeup.starts_at, zone)}.", "done")
    else:
        flash(f"Session {outcome.session.number} marked a no-show.", "done")
        if outcome.makeup_refused:
            flash(f"No make-up was booked: {outcome.makeup_refused}. The front desk can book it.", "error")
    return redirect(back)


def _form_values(form) -> tuple[dict, dict[str, str]]:
    """The form as the API's Complete schema takes it (empty fields left out), and what it refuses."""
    raw: dict = {name: form.get(name, "").strip() for name, _, _ in RECORD_FIELDS}
    body = {name: value for name, value in raw.items() if value != ""}
    side_effects = form.getlist("side_effects")
    if side_effects:
        body["side_effects"] = side_effects
    try:
        return schemas.Complete().load(body), {}
    except ValidationError as exc:
        return body, flat_errors(exc.messages)


@page(bp, "/sessions/<int:session_id>/record", uses="completeSession", methods=("GET", "POST"))
def record(session_id: int):
    try:
        ctx = clinical_views.chair_session(runtime(), session_id, actor())
    except NotFound:
        not_found(f"No session {session_id}.")
    values: dict = {}
    errors: dict[str, str] = {}
    if request.method == "POST":
        loaded, errors = _form_values(request.form)
        if not errors:
            details = TreatmentDetails(**{**loaded, "side_effects": tuple(loaded.get("side_effects", ()))})
            try:
                attendance.complete(runtime(), session_id, details, actor())
            except NotFound:
                not_found(f"No session {session_id}.")
            except DomainError as exc:
                show_error(exc)
                return redirect(url_for("technician.record", session_id=session_id))
            flash(f"Session {ctx.session.number} for {ctx.patient_name} completed; its treatment is recorded.",
                  "done")
            return redirect(url_for("technician.today", site=ctx.site.id))
        values = {name: request.form.get(name, "") for name, _, _ in RECORD_FIELDS}
        values["side_effects"] = request.form.getlist("side_effects")
        flash("The treatment was not recorded: correct the fields marked below.", "error")
    zone = ZoneInfo(ctx.site.timezone)
    previous = ctx.previous
    return render_template(
        "technician/record.html", title=f"Treatment record, session {ctx.session.number}", ctx=ctx,
        s=ctx.session, zone=ctx.site.timezone, when=ctx.session.starts_at.astimezone(zone),
        time=local_time(ctx.session.starts_at, zone), kind=kind_words(ctx.session.kind),
        status=status_words(ctx.session, runtime().now()), fields=RECORD_FIELDS, side_effect_words=SIDE_EFFECT_WORDS,
        previous=previous, previous_when=previous and previous.session.starts_at.astimezone(zone),
        previous_values=_previous_values(previous), values=values, errors=errors,
        may_check_in=ctx.session.status == lifecycle.SCHEDULED and can("checkIn"),
    ), (422 if errors else 200)


def _previous_values(previous: clinical_views.GivenTreatment | None) -> dict[str, str]:
    """The last treatment's values, as words for each field of the form."""
    if previous is None:
        return {}
    r = previous.record
    shown = {
        "motor_threshold": f"{r.motor_threshold}%", "intensity": f"{r.intensity}% of MT",
        "frequency": None if r.frequency is None else f"{r.frequency:g} Hz",
        "pulses": None if r.pulses is None else f"{r.pulses:,}",
        "coil_position": r.coil_position, "discomfort": None if r.discomfort is None else f"{r.discomfort} of 10",
        "supervising_physician": r.supervising_physician, "notes": r.notes,
    }
    words = {name: value or "not recorded" for name, value in shown.items()}
    words["side_effects"] = ", ".join(SIDE_EFFECT_WORDS.get(e, e) for e in r.side_effects) or "none"
    return words
