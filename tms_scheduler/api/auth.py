from __future__ import annotations

from datetime import timedelta

from flask.views import MethodView
from flask_smorest import Blueprint, abort

from ..services import auth as auth_service
from . import schemas
from .context import actor, caller, runtime, settings

blp = Blueprint("auth", __name__, url_prefix="/api/v1", description="Signing in and users")


@blp.route("/auth/tokens")
class Tokens(MethodView):
    @blp.doc(security=[])
    @blp.arguments(schemas.TokenRequest)
    @blp.response(201, schemas.Token)
    @blp.alt_response(401, schema=schemas.ApiError, description="bad credentials")
    @blp.alt_response(429, schema=schemas.ApiError, description="5 failed sign-ins within 15 minutes")
    def post(self, body):
        """Sign in: a bearer token for the other calls"""
        try:
            issued = auth_service.issue_token(runtime(), body["username"], body["password"],
                                              ttl=timedelta(minutes=settings().token_ttl_minutes))
        except auth_service.BadCredentials:
            abort(401, message="Unknown username or wrong password")
        except auth_service.TooManySignIns as exc:
            abort(429, message=f"Too many failed sign-ins for this username; try again in "
                               f"{exc.retry_after_seconds} seconds",
                  headers={"Retry-After": str(exc.retry_after_seconds)})
        return {"token": issued.token, "expires_at": issued.expires_at, "role": issued.role}


@blp.route("/auth/tokens/current")
class CurrentToken(MethodView):
    @blp.response(204)
    def delete(self):
        """Sign out: the token used stops working"""
        auth_service.revoke_token(runtime(), caller().token_id)


@blp.route("/users")
class Users(MethodView):
    @blp.arguments(schemas.UserCreate)
    @blp.response(201, schemas.User)
    @blp.alt_response(409, schema=schemas.ApiError, description="username taken")
    def post(self, body):
        """Add a user (admin)"""
        return auth_service.create_user(runtime(), body["username"], body["role"], body["password"], actor())
