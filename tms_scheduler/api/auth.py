from __future__ import annotations

from datetime import timedelta

from flask.views import MethodView
from flask_smorest import abort

from ..services import auth as auth_service
from . import schemas
from .context import actor, anonymous, caller, runtime, settings
from .inputs import Blueprint

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
            issued = auth_service.issue_token(runtime(), body["username"], body["password"], anonymous(),
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
    @blp.arguments(schemas.Paging, location="query")
    @blp.response(200, schemas.UserAccount(many=True))
    def get(self, query):
        """The users, oldest first, with their role and whether they may sign in (admin)"""
        return auth_service.list_users(runtime(), actor(), limit=query["limit"], offset=query["offset"])

    @blp.arguments(schemas.UserCreate)
    @blp.response(201, schemas.User)
    @blp.alt_response(409, schema=schemas.ApiError, description="username taken")
    def post(self, body):
        """Add a user (admin)

        The password needs at least 12 characters, 5 of them different, must not contain the username (case
        aside) and must not be one of the commonest passwords; a weaker one is refused with 422 naming
        `password` and the reason.
        """
        return auth_service.create_user(runtime(), body["username"], body["role"], body["password"], actor())


@blp.route("/users/<int:user_id>/disable")
class DisableUser(MethodView):
    @blp.response(200, schemas.UserAccount)
    @blp.alt_response(404, schema=schemas.ApiError, description="no such user")
    @blp.alt_response(409, schema=schemas.ApiError, description="the caller's own account")
    def post(self, user_id):
        """Disable a user: they can no longer sign in and every token of theirs stops working at once"""
        return auth_service.disable_user(runtime(), user_id, actor())


@blp.route("/users/<int:user_id>/enable")
class EnableUser(MethodView):
    @blp.response(200, schemas.UserAccount)
    @blp.alt_response(404, schema=schemas.ApiError, description="no such user")
    def post(self, user_id):
        """Enable a disabled user: they may sign in again"""
        return auth_service.enable_user(runtime(), user_id, actor())


@blp.route("/users/<int:user_id>/revoke-tokens")
class RevokeUserTokens(MethodView):
    @blp.response(200, schemas.RevokedTokens)
    @blp.alt_response(404, schema=schemas.ApiError, description="no such user")
    def post(self, user_id):
        """Revoke every token of a user (they sign in again); answers how many were still working"""
        return auth_service.revoke_user_tokens(runtime(), user_id, actor())
