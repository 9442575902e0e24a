"""The clinicians' pages: the worklist of courses at risk, and a course's page with its chart."""
from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, flash, redirect, render_template, request, url_for
from marshmallow import ValidationError

from ..api import schemas
from ..api.errors import flat_errors
from ..db import models
from ..domain import outcomes
from ..domain.errors import DomainError, NotFound
from ..domain.lifecycle import MISSED
from ..domain.planning import TAPER
from ..domain.progress import FlagCode
from ..services import catalog, clinical_views, courses, progress
from .core import actor, can, menu_item, page, runtime, show_error, tms_sites
from .technician import kind_words, local_time, not_found, status_words

bp = Blueprint("clinician", __name__, url_prefix="/clinic")
menu_item("Worklist", "clinician.worklist", "getWorklist")

# Each flag as a clinician reads it; the service's own message follows as the detail.
FLAG_SENTENCES: dict[str, str] = {
    FlagCode.CONSECUTIVE_MISSES: "The patient has missed two or more sessions in a row and has not been treated "
                                 "since.",
    FlagCode.GAP_OVER_7_DAYS: "More than 7 days have passed between two treatments, or since the last one with "
                              "none booked.",
    FlagCode.AUTHORIZATION_EXPIRING: "The insurance authorization is running out (5 sessions or fewer left, or it "
                                     "ends within 10 days).",
    FlagCode.LOW_WEEK: "Fewer than 3 sessions were given last treatment week.",
    FlagCode.DAILY_PHASE_OVER_6_WEEKS: "The daily phase runs past 6 weeks of the site's open days.",
    FlagCode.MT_RECHECK_DUE: "The weekly motor-threshold re-check is due at the first session of this week.",
}
FLAG_NAMES: dict[str, str] = {
    FlagCode.CONSECUTIVE_MISSES: "Missed sessions in a row",
    FlagCode.GAP_OVER_7_DAYS: "Gap over 7 days",
    FlagCode.AUTHORIZATION_EXPIRING: "Authorization running out",
    FlagCode.LOW_WEEK: "Low week",
    FlagCode.DAILY_PHASE_OVER_6_WEEKS: "Daily phase past 6 weeks",
    FlagCode.MT_RECHECK_DUE: "Motor-threshold re-check due",
}


def flag_sentence(code: str) -> str:
    return FLAG_SENTENCES.get(code, code.replace("_", " ").capitalize() + ".")


@page(bp, "/worklist", uses="getWorklist")
def worklist():
    sites = tms_sites()
    if not sites:
        not_found("No site offers TMS.")
    site_id = request.args.get("site") or sites[0].id
    site = next((s for s in sites if s.id == site_id), None)
    if site is None:
        not_found("No TMS site with that id.")
    flag = request.args.get("flag") or None
    if flag is not None and flag not in FLAG_SENTENCES:
        not_found("No such flag.")
    entries = progress.worklist(runtime(), site.id, actor(), flag=flag)
    protocols = {p.id: p.name for p in catalog.list_protocols(runtime())}
    at_risk = [e for e in entries if e.progress.flags]
    steady = [e for e in entries if not e.progress.flags]
    return render_template("clinician/worklist.html", title=f"Worklist, {site.name}", sites=sites, site=site,
                           flag=flag, flag_names=FLAG_NAMES, at_risk=at_risk, steady=steady, protocols=protocols,
                           flag_sentence=flag_sentence)


@dataclass(frozen=True)
class TimelineRow:
    number: int
    day: str
    time: str
    kind: str
    status: str
    status_code: str
    notes: list[str]


def _timeline(course: models.Course, zone: ZoneInfo, now: datetime) -> list[TimelineRow]:
    ordered = sorted(course.sessions, key=lambda s: (s.starts_at, s.number))
    by_id = {s.id: s for s in ordered}
    makeup_of = {s.makeup_for_id: s for s in ordered if s.makeup_for_id is not None}
    rows = []
    for s in ordered:
        notes = []
        if s.makeup_for_id is not None and s.makeup_for_id in by_id:
            missed = by_id[s.makeup_for_id]
            notes.append(f"Makes up session {missed.number} of {missed.starts_at.astimezone(zone):%a %-d %b}")
        if s.id in makeup_of:
            m = makeup_of[s.id]
            notes.append(f"Made up by session {m.number} on {m.starts_at.astimezone(zone):%a %-d %b}")
        elif s.status in MISSED and s.cancelled_by not in ("pause", "course_cancel"):
            notes.append("No make-up booked")
        local = s.starts_at.astimezone(zone)
        rows.append(TimelineRow(s.number, f"{local:%a %-d %b %Y}", local_time(s.starts_at, zone), kind_words(s.kind),
                                status_words(s, now), s.status, notes))
    return rows


def _timeline_counts(course: models.Course, now: datetime) -> dict[str, int]:
    sessions = course.sessions
    return {
        "delivered": sum(s.status == "completed" for s in sessions),
        "missed": sum(s.status == "no_show" or (s.status == "cancelled" and s.cancelled_by == "patient")
                      for s in sessions),
        "made_up": sum(s.makeup_for_id is not None for s in sessions),
        "ahead": sum(s.status in ("scheduled", "checked_in") and s.starts_at > now for s in sessions),
        "taper_ahead": sum(s.kind == TAPER and s.status in ("scheduled", "checked_in") for s in sessions),
    }


@dataclass(frozen=True)
class Chart:
    """The PHQ-9 chart's geometry, in SVG user units."""

    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    points: list[tuple[float, float, date, int]]  # x, y, day, score
    grid: list[tuple[float, int]]  # y, score
    response_y: float | None
    response_at: float | None
    remission_y: float
    first: date
    last: date
    # Where the two lines' labels go (apart, when the lines nearly meet).
    response_label_y: float | None
    remission_label_y: float

    @property
    def polyline(self) -> str:
        return " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in self.points)


def phq9_chart(scores: list[models.Assessment]) -> Chart | None:
    """Where each score, the grid and the response and remission lines go; None without scores."""
    if not scores:
        return None
    width, height, left, right, top, bottom = 780, 300, 48, 520, 20, 250
    ordered = sorted(scores, key=lambda a: (a.taken_on, a.id))
    first, last = ordered[0].taken_on, ordered[-1].taken_on
    span = max((last - first).days, 1)

    def y_of(score: float) -> float:
        return top + (outcomes.PHQ9_MAX - score) / outcomes.PHQ9_MAX * (bottom - top)

    def x_of(day: date) -> float:
        if first == last:
            return (left + right) / 2
        return left + (day - first).days / span * (right - left)

    baseline = ordered[0].score
    response_at = baseline * (100 - outcomes.RESPONSE_DROP_PCT) / 100 if baseline > 0 else None
    response_y = None if response_at is None else y_of(response_at)
    remission_y = y_of(outcomes.REMISSION_BELOW)
    remission_label_y = remission_y + 4
    response_label_y = None if response_y is None else response_y + 4
    if response_label_y is not None and abs(response_label_y - remission_label_y) < 16:
        if response_label_y <= remission_label_y:
            response_label_y, remission_label_y = remission_label_y - 9, remission_label_y + 9
        else:
            response_label_y, remission_label_y = remission_label_y + 9, remission_label_y - 9
    return Chart(width, height, left, right, top, bottom,
                 [(x_of(a.taken_on), y_of(a.score), a.taken_on, a.score) for a in ordered],
                 [(y_of(v), v) for v in (0, 5, 10, 15, 20, 27)],
                 response_y, response_at, remission_y, first, last, response_label_y, remission_label_y)


@page(bp, "/courses/<int:course_id>", uses="getTreatmentRecord")
def course(course_id: int):
    """The course's page. It shows treatment records, so its roles are getTreatmentRecord's (never the
    front desk's); the PHQ-9 parts show only to the roles that may read scores (listAssessments)."""
    try:
        the_course = courses.get_course(runtime(), course_id, actor())
        the_progress = progress.course_progress(runtime(), course_id, actor())
        treatments = clinical_views.course_treatments(runtime(), course_id, actor())
        scores = progress.list_assessments(runtime(), course_id, actor()) if can("listAssessments") else None
    except NotFound:
        not_found(f"No course {course_id}.")
    site = catalog.get_site(runtime(), the_course.site_id)
    zone = ZoneInfo(site.timezone)
    now = runtime().now()
    protocol = next((p for p in catalog.list_protocols(runtime()) if p.id == the_course.protocol_id), None)
    baseline = scores[0].score if scores else None
    score_rows = [{
        "day": a.taken_on, "score": a.score, "severity": outcomes.severity(a.score),
        "change": None if not baseline or i == 0 else round((a.score - baseline) / baseline * 100, 1),
        "baseline": i == 0,
    } for i, a in enumerate(scores or [])]
    treatment_rows = []
    last_mt = None
    for given in treatments:
        local = given.session.starts_at.astimezone(zone)
        r = given.record
        treatment_rows.append({"given": given, "record": r, "day": f"{local:%a %-d %b %Y}",
                               "time": local_time(given.session.starts_at, zone),
                               "mt_change": None if last_mt is None or last_mt == r.motor_threshold else last_mt})
        last_mt = r.motor_threshold
    return render_template(
        "clinician/course.html", title=f"Course {the_course.id}", course=the_course, site=site, zone=site.timezone,
        protocol=protocol, p=the_progress.progress, authorization=the_progress.authorization,
        outcome=the_progress.outcome if scores is not None else None,
        timeline=_timeline(the_course, zone, now), counts=_timeline_counts(the_course, now),
        treatment_rows=treatment_rows, score_rows=score_rows, chart=phq9_chart(scores or []),
        flag_sentence=flag_sentence, flag_names=FLAG_NAMES, remission_below=outcomes.REMISSION_BELOW,
        today=now.astimezone(zone).date(), patient_name=f"{the_course.patient.first_name} "
                                                        f"{the_course.patient.last_name}",
    )


@page(bp, "/courses/<int:course_id>/assessments", uses="recordAssessment", methods=("POST",))
def record_assessment(course_id: int):
    back = url_for("clinician.course", course_id=course_id) + "#phq9"
    raw_score = request.form.get("score", "").strip()
    body: dict = {"instrument": "PHQ-9", "score": raw_score, "taken_on": request.form.get("taken_on", "").strip()}
    with suppress(ValueError):  # else the schema refuses the text, with the reason
        body["score"] = int(raw_score)
    try:
        loaded = schemas.AssessmentCreate().load(body)
    except ValidationError as exc:
        for field, why in flat_errors(exc.messages).items():
            flash(f"{field.replace('_', ' ')}: {why}", "error")
        return redirect(back)
    try:
        progress.add_assessment(runtime(), course_id, actor(), instrument=loaded["instrument"], score=loaded["score"],
                                taken_on=loaded["taken_on"])
    except NotFound:
        not_found(f"No course {course_id}.")
    except DomainError as exc:
        show_error(exc)
        return redirect(back)
    flash(f"PHQ-9 score {loaded['score']} of {loaded['taken_on']:%-d %B %Y} recorded.", "done")
    return redirect(back)
