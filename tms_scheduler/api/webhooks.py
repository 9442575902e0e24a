"""Twilio's webhooks: delivery statuses and patients' texts, refused unless Twilio signed them.

The signature is checked against PUBLIC_BASE_URL + the path (the status callback URL the service
gives Twilio is exactly that), with the SDK's own RequestValidator and the account's auth token.
"""
from __future__ import annotations

from flask import Response, request
from flask.views import MethodView
from flask_smorest import abort
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from ..services import inbound
from . import schemas
from .context import runtime, settings
from .inputs import Blueprint

SIGNED = "No sign-in needed: Twilio signs it (X-Twilio-Signature for PUBLIC_BASE_URL + the path), else 403."

blp = Blueprint("webhooks", __name__, url_prefix="/webhooks/twilio", description="Twilio's webhooks")


@blp.before_request
def _signed_by_twilio() -> None:
    token = settings().twilio_auth_token
    signature = request.headers.get("X-Twilio-Signature", "")
    url = settings().public_base_url + request.path
    if not token or not signature or not RequestValidator(token).validate(url, request.form, signature):
        abort(403, message="The request is not signed by Twilio for this address")


def _twiml(reply: str | None) -> Response:
    answer = MessagingResponse()
    if reply:
        answer.message(reply)
    return Response(str(answer), status=200, content_type="text/xml; charset=utf-8")


@blp.route("/status")
class Status(MethodView):
    @blp.doc(security=[], operationId="receiveTwilioStatus", description=SIGNED)
    @blp.arguments(schemas.TwilioStatus, location="form")
    @blp.response(204)
    @blp.alt_response(403, schema=schemas.Error, description="not signed by Twilio")
    def post(self, form):
        """A text's delivery status, as Twilio reports it (sent, delivered, undelivered, failed)"""
        inbound.record_status(runtime(), form["MessageSid"], form["MessageStatus"], form.get("ErrorCode"))


@blp.route("/inbound")
class Inbound(MethodView):
    @blp.doc(security=[], operationId="receiveTwilioText", description=SIGNED)
    @blp.arguments(schemas.TwilioInbound, location="form")
    @blp.response(200, content_type="text/xml")
    @blp.alt_response(403, schema=schemas.Error, description="not signed by Twilio")
    def post(self, form):
        """A patient's text; the answer (TwiML) is the reply, if any"""
        return _twiml(inbound.receive_text(runtime(), sid=form["MessageSid"], phone=form["From"],
                                           body=form.get("Body", "")))
