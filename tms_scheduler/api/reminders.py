"""Text reminders for the front desk: each session's and course's reminders, a patient's texts,
resending, the call-back list; and each site's reminder policy."""
from __future__ import annotations

from typing import Any

from flask.views import MethodView

from ..domain import reminders as rules
from ..services import reminders
from . import schemas
from .context import actor, runtime, zone_of
from .inputs import Blueprint

blp = Blueprint("reminders", __name__, url_prefix="/api/v1", description="Text reminders, messages and call-backs")



def _reminder_out(r: Any) -> dict[str, Any]:
    zone = zone_of(r.site_id)
    local = {name: getattr(r, name) and getattr(r, name).astimezone(zone) for name in ("due_at", "send_at", "sent_at")}
    return {**{name: getattr(r, name) for name in ("id", "session_id", "course_id", "kind", "minutes_before",
                                                   "status", "attempts", "twilio_sid", "error_code")}, **local}


def _policy_out(policy: rules.Policy) -> dict[str, Any]:
    return {"rules": [{"applies_to": r.applies_to, "minutes_before": r.minutes_before} for r in policy.rules],
            "weekly_digest": {"weekday": policy.digest.weekday, "time": policy.digest.at} if policy.digest else None,
            "quiet_start": policy.quiet_start, "quiet_end": policy.quiet_end}


@blp.route("/sessions/<int:session_id>/reminders")
class SessionReminders(MethodView):
    @blp.response(200, schemas.Reminder(many=True))
    @blp.alt_response(404, schema=schemas.Error, description="unknown session")
    def get(self, session_id):
        """The session's reminders with their status and Twilio's error code"""
        return [_reminder_out(r) for r in reminders.session_reminders(runtime(), session_id, actor())]


@blp.route("/courses/<int:course_id>/reminders")
class CourseReminders(MethodView):
    @blp.response(200, schemas.Reminder(many=True))
    @blp.alt_response(404, schema=schemas.Error, description="unknown course")
    def get(self, course_id):
        """Every reminder of the course, its weekly digests included"""
        return [_reminder_out(r) for r in reminders.course_reminders(runtime(), course_id, actor())]


@blp.route("/reminders/<int:reminder_id>/resend")
class Resend(MethodView):
    @blp.response(200, schemas.Reminder)
    @blp.alt_response(404, schema=schemas.Error, description="unknown reminder")
    @blp.alt_response(409, schema=schemas.Error,
                      description="not failed or undelivered; its session is no longer ahead; the patient opted out")
    def post(self, reminder_id):
        """Send a failed or undelivered reminder again, at once"""
        return _reminder_out(reminders.resend(runtime(), reminder_id, actor()))


@blp.route("/patients/<int:patient_id>/messages")
class PatientMessages(MethodView):
    @blp.arguments(schemas.MessageQuery, location="query")
    @blp.response(200, schemas.MessageOut(many=True))
    @blp.alt_response(404, schema=schemas.Error, description="unknown patient")
    def get(self, query, patient_id):
        """Every text to and from the patient, newest first (times in the clinic's zone)"""
        zone = runtime().clinic_zone
        return [{"at": m.at.astimezone(zone), "direction": m.direction, "body": m.body, "status": m.status,
                 "twilio_sid": m.twilio_sid, "error_code": m.error_code, "reply": m.reply}
                for m in reminders.patient_messages(runtime(), patient_id, actor(), limit=query["limit"],
                                                    offset=query["offset"])]


@blp.route("/sites/<string:site_id>/callbacks")
class Callbacks(MethodView):
    @blp.arguments(schemas.CallbackQuery, location="query")
    @blp.response(200, schemas.CallbackEntry(many=True))
    @blp.alt_response(404, schema=schemas.Error, description="unknown site")
    def get(self, query, site_id):
        """Who to call back: R replies, texts the service could not act on, numbers Twilio called invalid"""
        entries = reminders.callbacks(runtime(), site_id, actor(), include_done=query["include_done"])  # 404 first
        zone = zone_of(site_id)
        return [{"id": e.callback.id, "reason": e.callback.reason, "phone": e.phone, "text": e.text,
                 "patient": {"id": e.callback.patient_id, "name": e.patient_name} if e.callback.patient_id else None,
                 "created_at": e.callback.created_at.astimezone(zone),
                 "done_at": e.callback.done_at and e.callback.done_at.astimezone(zone)}
                for e in entries]


@blp.route("/callbacks/<int:callback_id>/done")
class CallbackDone(MethodView):
    @blp.response(204)
    @blp.alt_response(404, schema=schemas.Error, description="unknown call-back")
    @blp.alt_response(409, schema=schemas.Error, description="done already")
    def post(self, callback_id):
        """The front desk called the patient back"""
        reminders.callback_done(runtime(), callback_id, actor())


@blp.route("/sites/<string:site_id>/reminder-policy")
class ReminderPolicy(MethodView):
    @blp.response(200, schemas.ReminderPolicy)
    @blp.alt_response(404, schema=schemas.Error, description="unknown site")
    def get(self, site_id):
        """The site's reminder policy (the default one until an administrator sets another)"""
        return _policy_out(reminders.get_policy(runtime(), site_id))

    @blp.arguments(schemas.ReminderPolicy)
    @blp.response(200, schemas.ReminderPolicy)
    @blp.alt_response(404, schema=schemas.Error, description="unknown site")
    @blp.alt_response(422, schema=schemas.Error, description="a rule given twice, a value out of range")
    def put(self, body, site_id):
        """Set the site's reminder policy (admin); it applies to reminders planned from now on"""
        digest = body["weekly_digest"]
        policy = rules.Policy(
            rules=tuple(rules.Rule(r["applies_to"], r["minutes_before"]) for r in body["rules"]),
            digest=rules.Digest(digest["weekday"], digest["time"]) if digest else None,
            quiet_start=body["quiet_start"], quiet_end=body["quiet_end"])
        return _policy_out(reminders.put_policy(runtime(), site_id, policy, actor()))
