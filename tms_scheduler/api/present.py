"""Rows into the shapes the schemas answer, with instants in the site's zone."""
from __future__ import annotations

from ..db import models
from .context import zone_of


def session_out(s: models.TreatmentSession) -> dict:
    zone = zone_of(s.site_id)
    return {
        "id": s.id, "course_id": s.course_id, "number": s.number, "kind": s.kind, "status": s.status,
        "site_id": s.site_id, "chair_id": s.chair_id,
        "starts_at": s.starts_at.astimezone(zone), "ends_at": s.ends_at.astimezone(zone),
        "cancelled_by": s.cancelled_by, "makeup_for_id": s.makeup_for_id,
        "confirmed_at": s.confirmed_at and s.confirmed_at.astimezone(zone),
    }


def move_out(m, site_id: str) -> dict:
    zone = zone_of(site_id)
    return {"session_id": m.session_id, "course_id": m.course_id, "from_starts_at": m.from_starts_at.astimezone(zone),
            "from_chair_id": m.from_chair_id, "to_starts_at": m.to_starts_at.astimezone(zone),
            "to_chair_id": m.to_chair_id}


def miss_out(outcome) -> dict:
    return {**session_out(outcome.session),
            "makeup_session": session_out(outcome.makeup) if outcome.makeup else None,
            "makeup_refused": outcome.makeup_refused,
            "moved_sessions": [session_out(s) for s in outcome.moved]}


def progress_out(p, *, with_phq9: bool) -> dict:
    course, result = p.course, p.progress
    body = {
        "course_id": course.id, "patient_id": course.patient_id, "status": course.status,
        "paused": course.paused_at is not None,
        "prescribed": result.prescribed, "completed": result.completed, "missed": result.missed,
        "remaining": result.remaining, "attendance_rate": result.attendance_rate,
        "projected_end_date": result.projected_end_date,
        "flags": [{"code": f.code, "message": f.message} for f in result.flags],
        "authorization": p.authorization,
    }
    if with_phq9:
        o = p.outcome
        body["phq9"] = {"baseline": o.baseline, "latest": o.latest, "change_pct": o.change_pct, "response": o.response,
                        "remission": o.remission, "extension_threshold_met": o.extension_threshold_met,
                        "severity": o.severity}
    return body


def course_out(c: models.Course) -> dict:
    authorization = None
    if any(v is not None for v in (c.payer, c.authorization_number, c.authorized_sessions,
                                   c.authorization_valid_from, c.authorization_valid_to)):
        authorization = {
            "payer": c.payer, "number": c.authorization_number, "sessions": c.authorized_sessions,
            "valid_from": c.authorization_valid_from, "valid_to": c.authorization_valid_to,
            "override_reason": c.authorization_override_reason,
        }
    return {
        "id": c.id, "patient_id": c.patient_id, "patient": _patient_of(c),
        "site_id": c.site_id, "protocol_id": c.protocol_id,
        "status": c.status, "start_date": c.start_date, "preferred_time": c.preferred_time,
        "authorization": authorization, "paused": c.paused_at is not None,
        "sessions": [session_out(s) for s in sorted(c.sessions, key=lambda s: (s.starts_at, s.number))],
    }


def _patient_of(c: models.Course) -> dict:
    # Every course a service answers comes with its patient loaded (a booking sets it).
    return {"id": c.patient.id, "name": f"{c.patient.first_name} {c.patient.last_name}"}
