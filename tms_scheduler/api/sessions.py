from __future__ import annotations

from flask.views import MethodView

from ..services import attendance, courses, makeups, moves
from ..services.attendance import TreatmentDetails
from . import schemas
from .context import actor, runtime
from .inputs import Blueprint
from .present import miss_out, session_out, zone_of

blp = Blueprint("sessions", __name__, url_prefix="/api/v1/sessions", description="A session's lifecycle")



@blp.route("/<int:session_id>")
class SessionById(MethodView):
    @blp.response(200, schemas.Session)
    def get(self, session_id):
        """One session"""
        return session_out(courses.get_session(runtime(), session_id, actor()))


@blp.route("/<int:session_id>/check-in")
class CheckIn(MethodView):
    @blp.response(200, schemas.Session)
    @blp.alt_response(409, schema=schemas.Error, description="not scheduled, or not the session's day")
    def post(self, session_id):
        """The patient has arrived (on the session's local day)"""
        return session_out(attendance.check_in(runtime(), session_id, actor()))


@blp.route("/<int:session_id>/complete")
class Complete(MethodView):
    @blp.arguments(schemas.Complete)
    @blp.response(200, schemas.Session)
    @blp.alt_response(409, schema=schemas.Error, description="not checked in, or not the session's day")
    def post(self, body, session_id):
        """The treatment was given; records it (the caller is the technician)"""
        details = TreatmentDetails(**{**body, "side_effects": tuple(body.get("side_effects", ()))})
        return session_out(attendance.complete(runtime(), session_id, details, actor()))


@blp.route("/<int:session_id>/treatment-record")
class Record(MethodView):
    @blp.response(200, schemas.TreatmentRecord)
    @blp.alt_response(404, schema=schemas.Error,
                      description="no such session, or it is not completed (it has no record)")
    def get(self, session_id):
        """What was given at a completed session"""
        return attendance.treatment_record(runtime(), session_id, actor())


@blp.route("/<int:session_id>/no-show")
class NoShow(MethodView):
    @blp.arguments(schemas.Override, required=False)
    @blp.response(200, schemas.MissedSession)
    @blp.alt_response(409, schema=schemas.Error, description="not scheduled, or not started yet")
    def post(self, body, session_id):
        """The patient did not come; books the make-up"""
        outcome = attendance.record_no_show(runtime(), session_id, actor(),
                                            override_reason=(body or {}).get("override_reason"))
        return miss_out(outcome)


@blp.route("/<int:session_id>/cancel")
class Cancel(MethodView):
    @blp.arguments(schemas.CancelSession)
    @blp.response(200, schemas.MissedSession)
    @blp.alt_response(409, schema=schemas.Error, description="the session is completed, a no-show or cancelled already")
    def post(self, body, session_id):
        """Cancelled by the patient or the clinic; books the make-up"""
        outcome = attendance.cancel_session(runtime(), session_id, actor(), by=body["by"], reason=body["reason"],
                                            override_reason=body.get("override_reason"))
        return miss_out(outcome)


@blp.route("/<int:session_id>/makeup")
class MakeUp(MethodView):
    @blp.arguments(schemas.Override)
    @blp.response(200, schemas.MissedSession)
    @blp.alt_response(409, schema=schemas.Error,
                      description="the session was not missed, has its make-up, or the course is not running")
    @blp.alt_response(422, schema=schemas.Error,
                      description="beyond the authorization without override_reason, or no time the patient's spacing "
                                  "allows")
    def post(self, body, session_id):
        """Book the make-up a missed session went without (beyond the authorization: override_reason)"""
        outcome = makeups.book_makeup(runtime(), session_id, actor(), override_reason=body.get("override_reason"))
        return miss_out(outcome)


@blp.route("/<int:session_id>/reschedule")
class Reschedule(MethodView):
    @blp.arguments(schemas.Reschedule)
    @blp.response(200, schemas.Session)
    @blp.alt_response(409, schema=schemas.Error, description="chair taken, or another session that day")
    @blp.alt_response(422, schema=schemas.Error,
                      description="a time past, a day the site is closed, a time breaking the patient's spacing, or "
                                  "beyond the authorization without override_reason")
    def post(self, body, session_id):
        """Move the session (same id) to a new start"""
        return session_out(moves.reschedule(runtime(), session_id, body["starts_at"], actor(),
                                            reason=body.get("reason"), override_reason=body.get("override_reason")))


@blp.route("/<int:session_id>/history")
class History(MethodView):
    @blp.response(200, schemas.SessionEvent(many=True))
    def get(self, session_id):
        """Every change of the session: who (id and name), when, from, to, why"""
        session, events = attendance.session_history(runtime(), session_id, actor())
        zone = zone_of(session.site_id)
        return [{**{c: getattr(e, c) for c in ("user_id", "action", "from_status", "to_status", "from_chair_id",
                                                "to_chair_id", "reason")},
                 "username": username,
                 "at": e.at.astimezone(zone),
                 "from_starts_at": e.from_starts_at and e.from_starts_at.astimezone(zone),
                 "to_starts_at": e.to_starts_at and e.to_starts_at.astimezone(zone)} for e, username in events]
