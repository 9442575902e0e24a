from __future__ import annotations

from flask.views import MethodView

from ..services import catalog
from . import schemas
from .context import actor, runtime
from .inputs import Blueprint

blp = Blueprint("protocols", __name__, url_prefix="/api/v1/protocols", description="Treatment protocols")


@blp.route("")
class Protocols(MethodView):
    @blp.response(200, schemas.Protocol(many=True))
    def get(self):
        """Every protocol with its cadence"""
        return catalog.list_protocols(runtime())

    @blp.arguments(schemas.ProtocolCreate)
    @blp.response(201, schemas.Protocol)
    @blp.alt_response(409, schema=schemas.Error, description="the id is taken")
    @blp.alt_response(422, schema=schemas.Error, description="a field is refused, or the cadence cannot be planned")
    def post(self, body):
        """Add a protocol (admin)"""
        return catalog.create_protocol(runtime(), body, actor())
