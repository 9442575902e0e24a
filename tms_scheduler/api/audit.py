"""The audit trail, for administrators: who read or changed whose data, and every sign-in."""
from __future__ import annotations

from flask.views import MethodView

from ..services import audit
from . import schemas
from .context import actor, runtime
from .inputs import Blueprint

blp = Blueprint("audit", __name__, url_prefix="/api/v1/audit", description="The audit trail")


@blp.route("")
class AuditTrail(MethodView):
    @blp.arguments(schemas.AuditQuery, location="query")
    @blp.response(200, schemas.AuditEvent(many=True))
    def get(self, query):
        """The audit trail, newest first, by patient, user, action and days; paged by limit and offset"""
        zone = runtime().clinic_zone
        events = audit.events(runtime(), actor(), patient_id=query.get("patient_id"), username=query.get("user"),
                              action=query.get("action"), since=query.get("since"), until=query.get("until"),
                              limit=query["limit"], offset=query["offset"])
        return [{**{name: getattr(e, name) for name in ("username", "role", "action", "entity", "entity_id",
                                                         "patient_id", "request_id", "client_ip")},
                 "at": e.at.astimezone(zone)} for e in events]
