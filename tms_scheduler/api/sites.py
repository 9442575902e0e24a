from __future__ import annotations

from flask.views import MethodView

from ..services import booking, catalog, courses, disruptions, progress
from . import schemas
from .context import actor, forget_zones, runtime
from .inputs import Blueprint
from .present import move_out, progress_out, session_out

blp = Blueprint("sites", __name__, url_prefix="/api/v1/sites", description="Sites, chairs, closures, the day board")


@blp.route("")
class Sites(MethodView):
    @blp.response(200, schemas.Site(many=True))
    def get(self):
        """Every site"""
        return catalog.list_sites(runtime())

    @blp.arguments(schemas.SiteCreate)
    @blp.response(201, schemas.Site)
    @blp.alt_response(409, schema=schemas.Error, description="the id is taken")
    @blp.alt_response(422, schema=schemas.Error,
                      description="an unknown time zone or holiday calendar, closing not after opening, a phone with "
                                  "letters or an extension")
    def post(self, body):
        """Add a site (admin)"""
        site = catalog.create_site(runtime(), body, actor())
        forget_zones()
        return site


@blp.route("/<string:site_id>")
class SiteById(MethodView):
    @blp.response(200, schemas.Site)
    def get(self, site_id):
        """One site"""
        return catalog.get_site(runtime(), site_id)

    @blp.arguments(schemas.SitePatch)
    @blp.response(200, schemas.Site)
    @blp.alt_response(422, schema=schemas.Error,
                      description="an empty body, an unknown time zone or holiday calendar, closing not after opening,"
                                  " a phone with letters or an extension")
    def patch(self, body, site_id):
        """Change a site (admin)"""
        site = catalog.update_site(runtime(), site_id, body, actor())
        forget_zones()
        return site


@blp.route("/<string:site_id>/chairs")
class Chairs(MethodView):
    @blp.response(200, schemas.Chair(many=True))
    def get(self, site_id):
        """The site's chairs"""
        return catalog.list_chairs(runtime(), site_id)

    @blp.arguments(schemas.ChairCreate)
    @blp.response(201, schemas.Chair)
    @blp.alt_response(409, schema=schemas.Error, description="the site has a chair with that name")
    def post(self, body, site_id):
        """Add a chair (admin)"""
        return catalog.create_chair(runtime(), site_id, body, actor())


@blp.route("/<string:site_id>/chairs/<int:chair_id>")
class ChairById(MethodView):
    @blp.arguments(schemas.ChairPatch)
    @blp.response(200, schemas.Chair)
    @blp.alt_response(409, schema=schemas.Error,
                      description="the name is taken, or the chair still holds sessions ahead")
    @blp.alt_response(422, schema=schemas.Error,
                      description="an empty body, or out_of_service_from set here (use out-of-service)")
    def patch(self, body, site_id, chair_id):
        """Rename a chair, retire an empty one, or put one back in service (admin)"""
        return catalog.update_chair(runtime(), site_id, chair_id, body, actor())


@blp.route("/<string:site_id>/closures")
class Closures(MethodView):
    @blp.arguments(schemas.ClosureQuery, location="query")
    @blp.response(200, schemas.Closure(many=True))
    def get(self, query, site_id):
        """The site's own closure days (holidays come from its holiday calendar)"""
        return catalog.list_closures(runtime(), site_id, since=query.get("since"))

    @blp.arguments(schemas.ClosureCreate)
    @blp.response(201, schemas.ClosureCreated)
    @blp.alt_response(409, schema=schemas.Error, description="already closed that day")
    @blp.alt_response(422, schema=schemas.Error,
                      description="a date in the past; with replan, a session no day can take")
    def post(self, body, site_id):
        """Close the site for a day (admin); answers the sessions booked that day and, with replan, their moves"""
        closure, disruption = disruptions.close_site(runtime(), site_id, body["date"], body["reason"], actor(),
                                                     replan=body["replan"])
        return {"date": closure.date, "reason": closure.reason,
                "affected_sessions": [session_out(s) for s in disruption.affected],
                "moves": [move_out(m, site_id) for m in disruption.moves]}


@blp.route("/<string:site_id>/chairs/<int:chair_id>/out-of-service")
class ChairOutOfService(MethodView):
    @blp.arguments(schemas.OutOfService)
    @blp.response(200, schemas.ChairDisruption)
    @blp.alt_response(422, schema=schemas.Error,
                      description="from_date in the past; with replan, a session no other chair can take")
    def post(self, body, site_id, chair_id):
        """Take a chair out of service from a day (admin); answers the sessions in it and, with replan, their moves"""
        chair, disruption = disruptions.retire_chair(runtime(), site_id, chair_id, body["from_date"], body["reason"],
                                                     actor(), replan=body["replan"])
        return {"chair": chair, "affected_sessions": [session_out(s) for s in disruption.affected],
                "moves": [move_out(m, site_id) for m in disruption.moves]}


@blp.route("/<string:site_id>/worklist")
class Worklist(MethodView):
    @blp.arguments(schemas.WorklistQuery, location="query")
    @blp.response(200, schemas.WorklistEntry(many=True))
    def get(self, query, site_id):
        """The site's active courses with their flags, most urgent first (then by course id), a page at a time"""
        entries = progress.worklist(runtime(), site_id, actor(), flag=query.get("flag"), limit=query["limit"],
                                    offset=query["offset"])
        return [{**progress_out(e, with_phq9=True), "patient_name": e.patient_name} for e in entries]


@blp.route("/<string:site_id>/schedule")
class Schedule(MethodView):
    @blp.arguments(schemas.BoardQuery, location="query")
    @blp.response(200, schemas.Board)
    def get(self, query, site_id):
        """The day's board: every chair and its sessions"""
        board = courses.day_board(runtime(), site_id, query["date"], actor())
        return {
            "site_id": board.site_id, "date": board.date, "closed": board.closed,
            "closed_reason": board.closed_reason,
            "chairs": [
                {"id": chair.id, "name": chair.name, "coil": chair.coil, "active": chair.active,
                 "sessions": [{**session_out(e.session), "patient": {"id": e.patient_id, "name": e.patient_name}}
                              for e in entries]}
                for chair, entries in board.chairs
            ],
        }


@blp.route("/<string:site_id>/availability")
class Availability(MethodView):
    @blp.arguments(schemas.AvailabilityQuery, location="query")
    @blp.response(200, schemas.Availability)
    @blp.alt_response(404, schema=schemas.Error, description="no such site or protocol")
    @blp.alt_response(422, schema=schemas.Error,
                      description="a site without TMS or a chair for the protocol; start_date in the past or a day the"
                                  " site is closed")
    def get(self, query, site_id):
        """Start times at which a whole course of the protocol fits, from start_date"""
        times = booking.availability(runtime(), site_id, query["protocol_id"], query["start_date"])
        return {"times": [{"time": t.time, "chair_ids": t.chair_ids} for t in times]}
