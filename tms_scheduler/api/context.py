"""What a view needs from the app: the database, the clock, the caller, and the roles it may act in."""
from __future__ import annotations

import functools
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import current_app, g, request
from flask_smorest import abort
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ..db import models
from ..services.auth import Caller, caller_for
from ..settings import Settings

PUBLIC_ENDPOINTS = {("POST", "/api/v1/auth/tokens")}


def db() -> sessionmaker[Session]:
    return current_app.extensions["tms"]["sessions"]


def settings() -> Settings:
    return current_app.extensions["tms"]["settings"]


def now() -> datetime:
    return current_app.extensions["tms"]["clock"]()


def caller() -> Caller:
    return g.caller


def authenticate_api_request() -> None:
    """Every /api/v1 call but signing in needs a valid bearer token (401 otherwise)."""
    if not request.path.startswith("/api/v1/") or (request.method, request.path) in PUBLIC_ENDPOINTS:
        return
    if request.method == "OPTIONS":
        return
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        abort(401, message="Sign in first: send Authorization: Bearer TOKEN")
    found = caller_for(db(), token.strip(), now=now())
    if found is None:
        abort(401, message="The token is unknown, expired or signed out")
    g.caller = found


def roles(*allowed: str):
    """Lets only callers with one of `allowed` roles through (403 otherwise)."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            if g.caller.role not in allowed:
                abort(403, message=f"A {g.caller.role} may not do this; it needs {' or '.join(allowed)}")
            return view(*args, **kwargs)

        wrapper._roles = allowed  # read by the OpenAPI description and the role table test
        return wrapper

    return decorate


ALL_ROLES = tuple(models.ROLES)


def zone_of(site_id: str) -> ZoneInfo:
    """The site's zone, for answering instants in local time; loaded once a request."""
    zones = g.get("zones")
    if zones is None:
        with db()() as session:
            zones = {sid: ZoneInfo(tz) for sid, tz in session.execute(select(models.Site.id, models.Site.timezone))}
        g.zones = zones
    return zones[site_id]


def utc_now() -> datetime:
    return datetime.now(UTC)
