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
    }


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
        "id": c.id, "patient_id": c.patient_id, "site_id": c.site_id, "protocol_id": c.protocol_id,
        "status": c.status, "start_date": c.start_date, "preferred_time": c.preferred_time,
        "authorization": authorization, "sessions": [session_out(s) for s in c.sessions],
    }
