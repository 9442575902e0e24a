from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from ..services import booking, courses
from . import schemas
from .context import ALL_ROLES, caller, db, now, roles, settings
from .present import course_out, session_out

blp = Blueprint("courses", __name__, url_prefix="/api/v1", description="Courses and their sessions")


@blp.route("/courses")
class Courses(MethodView):
    @roles(*ALL_ROLES)
    @blp.arguments(schemas.CourseQuery, location="query")
    @blp.response(200, schemas.Course(many=True))
    def get(self, query):
        """Courses, by patient, site or status"""
        found = courses.list_courses(db(), patient_id=query.get("patient_id"), site_id=query.get("site_id"),
                                     status=query.get("status"), limit=query["limit"], offset=query["offset"])
        return [course_out(c) for c in found]

    @roles("front_desk", "admin")
    @blp.arguments(schemas.CourseCreate)
    @blp.response(201, schemas.Course)
    @blp.alt_response(409, schema=schemas.BookingConflictError,
                      description="some session finds no free chair, or the patient has an active course")
    @blp.alt_response(422, schema=schemas.ApiError, description="a rule forbids the booking")
    def post(self, body):
        """Book a whole course: every session in a fitting chair, or none"""
        auth = body.get("authorization")
        request = booking.BookingRequest(
            patient_id=body["patient_id"], site_id=body["site_id"], protocol_id=body["protocol_id"],
            start_date=body["start_date"], preferred_time=body["preferred_time"],
            authorization=booking.Authorization(
                payer=auth.get("payer"), number=auth.get("number"), sessions=auth.get("sessions"),
                valid_from=auth.get("valid_from"), valid_to=auth.get("valid_to"),
                override_reason=auth.get("override_reason"),
            ) if auth else None,
        )
        course = booking.book_course(db(), request, user_id=caller().user_id, now=now(),
                                     step_minutes=settings().slot_step_minutes)
        return course_out(course)


@blp.route("/courses/<int:course_id>")
class CourseById(MethodView):
    @roles(*ALL_ROLES)
    @blp.response(200, schemas.Course)
    def get(self, course_id):
        """One course with all its sessions"""
        return course_out(courses.get_course(db(), course_id))


@blp.route("/sessions/<int:session_id>")
class SessionById(MethodView):
    @roles(*ALL_ROLES)
    @blp.response(200, schemas.Session)
    def get(self, session_id):
        """One session"""
        return session_out(courses.get_session(db(), session_id))
