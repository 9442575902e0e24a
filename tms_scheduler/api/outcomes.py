"""Outcomes beyond the single course, for clinicians: response, remission, attendance and make-ups over
the courses completed in a period, per site and protocol, beside what patients are told to expect."""
from __future__ import annotations

from datetime import timedelta

from flask.views import MethodView
from marshmallow import Schema, validate

from ..domain import outcomes as domain_outcomes
from ..services import outcomes
from . import fields, schemas
from .context import actor, runtime
from .inputs import Blueprint

blp = Blueprint("cohort", __name__, url_prefix="/api/v1/outcomes",
                description="Outcomes over the courses completed in a period")

DEFAULT_PERIOD_DAYS = 365


class OutcomesQuery(Schema):
    site_id = fields.String(validate=[validate.Length(1, 60), schemas.SLUG], metadata={"description": "one site"})
    protocol_id = fields.String(validate=[validate.Length(1, 60), schemas.SLUG],
                                metadata={"description": "one protocol"})
    since = fields.Date(data_key="from", metadata={
        "description": f"courses completed from this day (the site's dates); default {DEFAULT_PERIOD_DAYS} days "
                       "before `to`"})
    until = fields.Date(data_key="to", metadata={
        "description": "to this day, included; default today (the clinic's date); not before `from`"})


class PublishedFigure(schemas.Answer):
    low_pct = fields.Float()
    high_pct = fields.Float(metadata={"description": "equal to low_pct for a single figure"})
    words = fields.String(metadata={"description": "as patients are told it"})


class OutcomeShare(schemas.Answer):
    count = fields.Integer()
    n = fields.Integer(metadata={"description": "the courses with a baseline and a final PHQ-9"})
    pct = fields.Float(allow_none=True, metadata={"description": "null when n is 0"})
    low_pct = fields.Float(allow_none=True, metadata={"description": "95% Wilson interval, low end"})
    high_pct = fields.Float(allow_none=True, metadata={"description": "95% Wilson interval, high end"})
    published = fields.Nested(PublishedFigure, metadata={"description": "what patients are told to expect"})


class UnscoredCourse(schemas.Answer):
    course_id = fields.Id()
    patient_id = fields.Id()
    patient_name = fields.String()
    scores = fields.Integer(metadata={"description": "PHQ-9 scores it has: 0 or 1"})


class OutcomeGroup(schemas.Answer):
    site_id = fields.String()
    site_name = fields.String()
    protocol_id = fields.String()
    protocol_name = fields.String()
    courses = fields.Integer(metadata={"description": "courses completed in the period"})
    scored = fields.Integer(metadata={"description": "of them, those with a baseline and a final PHQ-9"})
    response = fields.Nested(OutcomeShare, metadata={"description": "a drop of at least 50% from the baseline"})
    remission = fields.Nested(OutcomeShare, metadata={"description": "a final score below 5"})
    prescribed = fields.Integer(metadata={"description": "sessions prescribed (the protocol's, per course)"})
    delivered = fields.Integer(metadata={"description": "sessions given"})
    makeups = fields.Integer(metadata={"description": "make-up sessions booked"})
    attendance_rate = fields.Float(allow_none=True, metadata={"description": "delivered / prescribed"})
    makeup_rate = fields.Float(allow_none=True, metadata={"description": "make-ups booked / prescribed"})
    unscored = fields.List(fields.Nested(UnscoredCourse), metadata={
        "description": "the courses counted but left out of response and remission for want of a baseline and a "
                       "final PHQ-9"})


class Outcomes(schemas.Answer):
    since = fields.Date(data_key="from")
    until = fields.Date(data_key="to")
    site_id = fields.String(allow_none=True)
    protocol_id = fields.String(allow_none=True)
    groups = fields.List(fields.Nested(OutcomeGroup), metadata={"description": "per site and protocol, in id order"})


def _published(figure: domain_outcomes.PublishedFigure) -> dict:
    return {"low_pct": figure.low_pct, "high_pct": figure.high_pct, "words": figure.words}


def _share(share: domain_outcomes.Share, figure: domain_outcomes.PublishedFigure) -> dict:
    return {"count": share.count, "n": share.n, "pct": share.pct, "low_pct": share.low_pct,
            "high_pct": share.high_pct, "published": _published(figure)}


def report_out(report: outcomes.Report) -> dict:
    return {
        "since": report.since, "until": report.until, "site_id": report.site_id, "protocol_id": report.protocol_id,
        "groups": [{
            "site_id": g.site_id, "site_name": g.site_name, "protocol_id": g.protocol_id,
            "protocol_name": g.protocol_name, "courses": g.outcome.courses, "scored": g.outcome.scored,
            "response": _share(g.outcome.response, report.published_response),
            "remission": _share(g.outcome.remission, report.published_remission),
            "prescribed": g.outcome.prescribed, "delivered": g.outcome.delivered, "makeups": g.outcome.makeups,
            "attendance_rate": g.outcome.attendance_rate, "makeup_rate": g.outcome.makeup_rate,
            "unscored": [{"course_id": u.course_id, "patient_id": u.patient_id, "patient_name": u.patient_name,
                          "scores": u.scores} for u in g.unscored],
        } for g in report.groups],
    }


@blp.route("")
class OutcomesView(MethodView):
    @blp.arguments(OutcomesQuery, location="query")
    @blp.response(200, Outcomes)
    @blp.alt_response(404, schema=schemas.Error, description="unknown site or protocol")
    @blp.alt_response(422, schema=schemas.Error, description="a date not YYYY-MM-DD, or `from` after `to`")
    def get(self, query):
        """Response, remission, attendance and make-ups over the courses completed in a period

        Per site and protocol, the courses completed (their last session given) from `from` to `to`, both
        included, in the site's local dates. Response (a drop of at least 50% from the baseline PHQ-9, the
        earliest) and remission (a final score, the latest, below 5) are counted over the courses with both a
        baseline and a final score, each with its 95% Wilson interval and the published figure patients are
        told; the courses without them still count for attendance and make-ups and are named in `unscored`.
        """
        until = query.get("until") or runtime().clinic_today()
        since = query.get("since") or until - timedelta(days=DEFAULT_PERIOD_DAYS)
        report = outcomes.completed_outcomes(runtime(), actor(), since=since, until=until,
                                             site_id=query.get("site_id"), protocol_id=query.get("protocol_id"))
        return report_out(report)
