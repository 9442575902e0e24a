"""The next start dates at which a whole course fits, across the TMS sites."""
from __future__ import annotations

from flask.views import MethodView

from ..services import booking
from . import schemas
from .context import runtime
from .inputs import Blueprint

blp = Blueprint("availability", __name__, url_prefix="/api/v1/availability",
                description="Searching the next start dates at which a whole course fits")


@blp.route("")
class NextStarts(MethodView):
    @blp.arguments(schemas.NextStartQuery, location="query")
    @blp.response(200, schemas.NextStarts)
    @blp.alt_response(404, schema=schemas.Error, description="unknown protocol or site")
    @blp.alt_response(422, schema=schemas.Error,
                      description="a site without TMS, or without a chair for the protocol; from_date in the past; "
                                  "a time not in HH:MM; limit or weeks out of range")
    def get(self, query):
        """The earliest start dates, per TMS site, at which the whole course fits at or near `time`

        Each site's open days from `from_date` are tried in order, for `weeks` weeks (default 8, at most 12),
        until `limit` (default 3, at most 10) fit; each date comes with the start time a booking would get:
        `time` itself when the whole course fits at it, else the nearest time that does on the booking step
        (the earlier of two as near), never one already past. A site where nothing fits within those weeks
        answers no dates.
        """
        starts = booking.next_starts(runtime(), query["protocol_id"], query["from_date"], query["time"],
                                     site_id=query.get("site_id"), weeks=query["weeks"], limit=query["limit"])
        return {"starts": starts}
