from __future__ import annotations

from flask.views import MethodView

from ..services import authorization, booking, course_changes, courses, progress
from . import schemas
from .context import actor, runtime, sees_phq9
from .inputs import Blueprint
from .present import course_out, progress_out

blp = Blueprint("courses", __name__, url_prefix="/api/v1", description="Courses")


@blp.route("/courses")
class Courses(MethodView):
    @blp.arguments(schemas.CourseQuery, location="query")
    @blp.response(200, schemas.Course(many=True))
    def get(self, query):
        """Courses, by patient, site, status, or the patient's name or phone (q)"""
        found = courses.list_courses(runtime(), actor(), patient_id=query.get("patient_id"),
                                     site_id=query.get("site_id"), status=query.get("status"), q=query.get("q"),
                                     limit=query["limit"], offset=query["offset"])
        return [course_out(c) for c in found]

    @blp.arguments(schemas.CourseCreate)
    @blp.response(201, schemas.Course)
    @blp.alt_response(409, schema=schemas.BookingConflictError,
                      description="some session finds no free chair, or the patient has an active course")
    @blp.alt_response(404, schema=schemas.Error, description="no such patient, site or protocol (`errors` names which)")
    @blp.alt_response(422, schema=schemas.Error,
                      description="a field is refused, or a rule forbids the booking (a site without TMS or a fitting "
                                  "chair, a start day it is closed or in the past, the course beyond the "
                                  "authorization)")
    def post(self, body):
        """Book a whole course: every session in a fitting chair, or none"""
        auth = body.get("authorization")
        request = booking.BookingRequest(
            patient_id=body["patient_id"], site_id=body["site_id"], protocol_id=body["protocol_id"],
            start_date=body["start_date"], preferred_time=body["preferred_time"],
            authorization=authorization.Authorization(
                payer=auth.get("payer"), number=auth.get("number"), sessions=auth.get("sessions"),
                valid_from=auth.get("valid_from"), valid_to=auth.get("valid_to"),
                override_reason=auth.get("override_reason"),
            ) if auth else None,
        )
        course = booking.book_course(runtime(), request, actor())
        return course_out(course)


@blp.route("/courses/<int:course_id>")
class CourseById(MethodView):
    @blp.response(200, schemas.Course)
    def get(self, course_id):
        """One course with all its sessions"""
        return course_out(courses.get_course(runtime(), course_id, actor()))


@blp.route("/courses/<int:course_id>/cancel")
class CancelCourse(MethodView):
    @blp.arguments(schemas.Reason)
    @blp.response(200, schemas.Course)
    @blp.alt_response(409, schema=schemas.Error, description="the course is completed or cancelled already")
    def post(self, body, course_id):
        """Cancel the rest of the course: every session still ahead is released"""
        return course_out(course_changes.cancel_course(runtime(), course_id, body["reason"], actor()))


@blp.route("/courses/<int:course_id>/pause")
class PauseCourse(MethodView):
    @blp.arguments(schemas.Reason)
    @blp.response(200, schemas.Course)
    @blp.alt_response(409, schema=schemas.Error,
                      description="the course is not active and running (over, or paused already)")
    def post(self, body, course_id):
        """Pause the course: its future sessions are released"""
        return course_out(course_changes.pause_course(runtime(), course_id, body["reason"], actor()))


@blp.route("/courses/<int:course_id>/resume")
class ResumeCourse(MethodView):
    @blp.arguments(schemas.Resume)
    @blp.response(200, schemas.Course)
    @blp.alt_response(409, schema=schemas.Error,
                      description="the course is not paused, or the released sessions find no free chair")
    @blp.alt_response(422, schema=schemas.Error, description="from_date in the past or a day the site is closed")
    def post(self, body, course_id):
        """Resume a paused course: the released sessions are laid out again from from_date"""
        return course_out(course_changes.resume_course(runtime(), course_id, body["from_date"], actor()))


@blp.route("/courses/<int:course_id>/assessments")
class Assessments(MethodView):
    @blp.arguments(schemas.AssessmentCreate)
    @blp.response(201, schemas.Assessment)
    @blp.alt_response(422, schema=schemas.Error,
                      description="a score out of 0-27, or taken_on in the future or long before the course")
    def post(self, body, course_id):
        """Record a PHQ-9 score (0-27); the earliest is the baseline"""
        return progress.add_assessment(runtime(), course_id, actor(), instrument=body["instrument"],
                                       score=body["score"], taken_on=body["taken_on"])

    @blp.response(200, schemas.Assessment(many=True))
    def get(self, course_id):
        """The course's scores, oldest first"""
        return progress.list_assessments(runtime(), course_id, actor())


@blp.route("/courses/<int:course_id>/progress")
class CourseProgress(MethodView):
    @blp.response(200, schemas.Progress)
    def get(self, course_id):
        """Attendance, make-ups, outcomes and flags (PHQ-9 left out for the front desk)"""
        return progress_out(progress.course_progress(runtime(), course_id, actor()),
                            with_phq9=sees_phq9())
